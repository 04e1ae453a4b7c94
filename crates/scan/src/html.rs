//! HTML normalisation as ClamAV's `htmlnorm` does it, so that target-3 (HTML) signatures
//! match what they match in clamscan.
//!
//! The normaliser is a character state machine over the file, read in chunks of at most
//! 8,191 bytes (NUL bytes dropped, a chunk cut back to its last whitespace). It writes:
//! - *nocomment*: the markup with comments removed, tags and text lower-cased, whitespace
//!   collapsed, character references decoded, tag attributes re-quoted with `"`, and scripts
//!   encoded with the Microsoft Script Encoder (`JScript.Encode`, `VBScript.Encode`) decoded;
//! - *notags*: the text outside tags (and the targets of `<a href>` and `<img src>`);
//! - one document per RFC 2397 `data:` URI in a tag attribute, as a small mail message
//!   (`Content-type` and, for `;base64`, a transfer encoding) whose body is the URI's data, so
//!   that the mail decoder unpacks it.
//!
//! Not done (ClamAV also does it): the JavaScript normaliser's output (ClamAV's `javascript`
//! file) and images inside `<style>` blocks. Quirks of the original are kept on purpose where
//! they change the output (a byte that is lost after a three-byte character in *notags*, a
//! comment that ends at the first `>`), since signatures are written against that output.
//!
//! Sans-IO: bytes in, documents out. Cost is linear in the input: a character reference of at
//! least 3 bytes expands to at most 8, and a chunk is read at most `1 + MAX_SCRENC_RESTARTS`
//! times.

use crate::html_tables::{ENTITIES, SCRENC_ORDER, SCRENC_TABLES};

/// ClamAV's `MaxHTMLNormalize` default: larger files are not normalised.
pub const MAX_HTML_NORMALIZE: usize = 40 << 20;
/// ClamAV's `MaxHTMLNoTags` default: for larger files the *notags* text is not scanned.
pub const MAX_HTML_NOTAGS: usize = 8 << 20;

/// A chunk holds at most this many bytes (ClamAV reads 8,192 with room for a NUL).
const CHUNK: usize = 8192;
/// Tag names, attribute names and values, and entity names keep at most this many bytes.
const STR_LEN: usize = 1024;

/// The documents normalisation makes of one HTML file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Normalized {
    /// The markup without comments (ClamAV's `nocomment.html`).
    pub nocomment: Vec<u8>,
    /// The text outside tags (ClamAV's `notags.html`).
    pub notags: Vec<u8>,
    /// One mail-like document per `data:` URI (ClamAV's `rfc2397` directory), in order.
    pub data_uris: Vec<Vec<u8>>,
    /// Set when normalisation stopped early at a limit of ours, with what was left out.
    pub cut: Option<String>,
}

/// Encoded-script restarts allowed in one chunk. Each restart re-reads the rest of the chunk
/// (as ClamAV does), so a file made of markers would cost the square of a chunk per chunk; a
/// real page has one script marker per chunk at most.
const MAX_SCRENC_RESTARTS: u32 = 16;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Bad,
    Norm,
    EightBit,
    Comment,
    CharRef,
    EntityRefDecode,
    SkipWs,
    TrimWs,
    Tag,
    TagArg,
    TagArgVal,
    TagArgEqual,
    ProcessTag,
    CharRefDecode,
    LookForScrenc,
    JsDecode,
    JsDecodeLength,
    JsDecodeDecrypt,
    Rfc2397Type,
    Rfc2397Init,
    Rfc2397Data,
    Rfc2397Finish,
    Rfc2397Esc,
    EscapeChar,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum InTag {
    DontExtract,
    Script,
    Style,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Quoted {
    Single,
    Double,
    Not,
}

/// C's `isspace` in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The value of a base64 digit, -1 for anything else.
fn b64(c: u8) -> i64 {
    match c {
        b'A'..=b'Z' => (c - b'A') as i64,
        b'a'..=b'z' => (c - b'a') as i64 + 26,
        b'0'..=b'9' => (c - b'0') as i64 + 52,
        b'+' => 62,
        b'/' => 63,
        _ => -1,
    }
}

/// The 32-bit number the Script Encoder writes as six base64 digits (a length, a checksum),
/// computed as ClamAV does, invalid digits included.
fn screnc_number(p: &[u8]) -> u32 {
    let d = |i: usize| b64(p.get(i).copied().unwrap_or(0));
    let nz = |v: i64| if v < 0 { 0 } else { v };
    let v = (nz(d(0)) << 2)
        .wrapping_add(d(1) >> 4)
        .wrapping_add((d(1) & 0x0f) << 12)
        .wrapping_add(nz(d(2) >> 2) << 8)
        .wrapping_add((d(2) & 0x03) << 22)
        .wrapping_add(nz(d(3)) << 16)
        .wrapping_add((nz(d(4)) << 2) << 24)
        .wrapping_add(nz(d(5) >> 4) << 24);
    v as u32
}

/// Appends the normalised form of a UTF-16 code unit (ClamAV's `u16_normalize`): nothing for
/// 0, the byte itself below 0xff, `.` for the ideographic and full-width full stops, else
/// `&#xhhhh;`.
fn u16_normalize(u: u16, out: &mut Vec<u8>) {
    if u == 0 {
        return;
    }
    if u < 0xff {
        out.push(u as u8);
    } else if u == 0x3002 || u == 0xff0e || u == 0xfe52 {
        out.push(b'.');
    } else {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.extend_from_slice(b"&#x");
        for shift in [12, 8, 4, 0] {
            out.push(HEX[((u >> shift) & 0xf) as usize]);
        }
        out.push(b';');
    }
}

/// The normalised form of a named character reference, if the name is known.
fn entity(name: &[u8]) -> Option<Vec<u8>> {
    let i = ENTITIES.binary_search_by(|(n, _)| n.cmp(&name)).ok()?;
    let mut out = Vec::new();
    u16_normalize(ENTITIES[i].1, &mut out);
    Some(out)
}

/// The next chunk of `data` from `*off` (ClamAV's `cli_readchunk`), NUL-terminated, or
/// `None` at the end.
fn read_chunk(data: &[u8], off: &mut usize) -> Option<Vec<u8>> {
    let avail = data.len().saturating_sub(*off);
    let want = avail.min(CHUNK - 1);
    if want == 0 {
        return None;
    }
    let start = *off;
    let mut chunk = Vec::with_capacity(want + 1);
    let window = &data[start..start + want];
    // The index in `data` of the first byte not read.
    let next = match memchr::memchr(0, window) {
        None => {
            chunk.extend_from_slice(window);
            *off += want;
            start + want
        }
        Some(z) => {
            chunk.extend_from_slice(&window[..z]);
            let mut p = start + z;
            while p < data.len() && chunk.len() < CHUNK - 1 {
                let c = data[p];
                p += 1;
                if c != 0 {
                    chunk.push(c);
                }
            }
            *off += p - start;
            p
        }
    };
    if next < data.len() && !is_space(data[next]) {
        // Cut back to the last whitespace, unless there is none.
        let n = chunk.len();
        let mut len = n;
        while len > 1 && !is_space(chunk[len - 1]) {
            len -= 1;
        }
        let count = if len == 1 { n } else { len };
        if count < n {
            chunk.truncate(count);
            *off -= n - count;
        }
    }
    chunk.push(0);
    Some(chunk)
}

/// The position of `needle` in the NUL-terminated string at `buf[from..]`.
fn c_strstr(buf: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let end = from + c_strlen(buf, from);
    memchr::memmem::find(&buf[from..end], needle).map(|i| from + i)
}

fn c_strlen(buf: &[u8], from: usize) -> usize {
    memchr::memchr(0, &buf[from.min(buf.len())..]).unwrap_or(0)
}

/// The Script Encoder decoder's state across chunks.
#[derive(Default)]
struct Screnc {
    length: u32,
    sum: u32,
    table_pos: u8,
}

/// Decodes Script Encoder text in place from `buf[p..]` (a NUL-terminated chunk), as
/// ClamAV's `screnc_decode`.
fn screnc_decode(buf: &mut [u8], p: usize, s: &mut Screnc) {
    let mut ptr = p;
    let mut dst = p;
    let at = |buf: &[u8], i: usize| buf.get(i).copied().unwrap_or(0);
    while s.length > 0 && at(buf, ptr) != 0 {
        let c = at(buf, ptr);
        if c == b'\n' || c == b'\r' {
            ptr += 1;
            continue;
        }
        if c < 0x80 {
            let mut value = SCRENC_TABLES[SCRENC_ORDER[s.table_pos as usize] as usize][c as usize];
            if value == 0xff {
                ptr += 1;
                s.length = s.length.wrapping_sub(1);
                match at(buf, ptr) {
                    0 => ptr -= 1,
                    0x21 => value = 0x3c,
                    0x23 => value = 0x0d,
                    0x24 => value = 0x40,
                    0x26 => value = 0x0a,
                    0x2a => value = 0x3e,
                    _ => {}
                }
            }
            s.sum = s.sum.wrapping_add(value as u32);
            buf[dst] = value;
            dst += 1;
            s.table_pos = (s.table_pos + 1) % 64;
        } else {
            buf[dst] = c;
            dst += 1;
            ptr += 1;
            let c2 = at(buf, ptr);
            buf[dst] = c2;
            dst += 1;
            if c2 == 0 {
                break;
            }
        }
        ptr += 1;
        s.length = s.length.wrapping_sub(1);
    }
    if s.length == 0 {
        if c_strlen(buf, ptr) >= 12 {
            // A checksum and a terminator follow (ClamAV only logs whether they agree).
            ptr += 12;
        }
        let rest = c_strlen(buf, ptr) + 1;
        buf.copy_within(ptr..ptr + rest, dst);
    } else if dst < buf.len() {
        buf[dst] = 0;
    }
}

/// One tag's attributes: (name, value without its quotes).
type TagArgs = Vec<(Vec<u8>, Option<Vec<u8>>)>;

fn tag_arg_add(args: &mut TagArgs, name: &[u8], value: Option<&[u8]>) {
    // Stored as C strings: up to a NUL (a `&#0;` in a value ends it).
    let value = value.map(|v| v.split(|&b| b == 0).next().unwrap_or(&[]));
    let value = value.map(|v| match v.strip_prefix(b"\"") {
        // The first byte and the last are dropped, whatever the last one is.
        Some(inner) => inner[..inner.len().saturating_sub(1)].to_vec(),
        None => v.to_vec(),
    });
    args.push((name.to_vec(), value));
}

fn tag_arg_value<'a>(args: &'a TagArgs, name: &[u8]) -> Option<&'a [u8]> {
    args.iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| v.as_deref())
}

fn tag_arg_set(args: &mut TagArgs, name: &[u8], value: &[u8]) {
    if let Some((_, v)) = args.iter_mut().find(|(n, _)| n == name) {
        *v = Some(value.to_vec());
    }
}

fn output_tag(out: &mut Vec<u8>, tag: &[u8], args: &TagArgs) {
    out.push(b'<');
    out.extend_from_slice(tag);
    for (n, v) in args {
        out.push(b' ');
        out.extend_from_slice(n);
        if let Some(v) = v {
            out.extend_from_slice(b"=\"");
            out.extend(v.iter().map(|c| c.to_ascii_lowercase()));
            out.push(b'"');
        }
    }
    out.push(b'>');
}

fn push_capped(v: &mut Vec<u8>, c: u8) {
    if v.len() < STR_LEN {
        v.push(c);
    }
}

/// Normalises an HTML file (see the module documentation).
pub fn normalize(data: &[u8]) -> Normalized {
    let mut n = Normalizer::default();
    n.run(data);
    let Normalizer {
        o2,
        text,
        data_uris,
        cut,
        ..
    } = n;
    Normalized {
        nocomment: o2,
        notags: text,
        data_uris,
        cut,
    }
}

#[derive(Default)]
struct Normalizer {
    o2: Vec<u8>,
    text: Vec<u8>,
    data_uris: Vec<Vec<u8>>,
    /// The `data:` document being written, if any (an index in `data_uris`).
    uri: Option<usize>,
    cut: Option<String>,
}

impl Normalizer {
    fn uri_out(&mut self, c: u8) {
        if let Some(i) = self.uri {
            self.data_uris[i].push(c);
        }
    }

    fn uri_close(&mut self) {
        self.uri = None;
    }

    #[allow(clippy::cognitive_complexity)]
    fn run(&mut self, data: &[u8]) {
        let mut off = 0usize;
        let mut state = State::Norm;
        let mut next_state = State::Bad;
        let mut saved_next_state = State::Bad;
        let mut in_tag = InTag::DontExtract;
        let mut tag: Vec<u8> = Vec::new();
        let mut tag_arg: Vec<u8> = Vec::new();
        let mut tag_val: Vec<u8> = Vec::new();
        let mut entity_val: Vec<u8> = Vec::new();
        let mut args: TagArgs = Vec::new();
        let mut quoted = Quoted::Not;
        let mut escape = false;
        let mut hex = false;
        let mut value: i64 = 0;
        let mut length: u64 = 0;
        let mut binary = false;
        let mut text_space_written = false;
        let mut look_for_screnc = false;
        let mut in_screnc = false;
        let mut ptr_screnc: Option<usize> = None;
        let mut screnc = Screnc::default();
        let mut mbchar: u32 = 0;
        let mut mbchar2: u32 = 0;
        // Where the current `<style>` block's text begins in this chunk (ClamAV uses it to
        // extract images; here only its failure cases matter, which end normalisation).
        let mut style_begin: isize = 0;
        let mut restarts = 0u32;

        let Some(mut line) = read_chunk(data, &mut off) else {
            return;
        };
        let mut ptr = 0usize;
        'chunks: loop {
            while line[ptr] != 0 && is_space(line[ptr]) {
                ptr += 1;
            }
            while line[ptr] != 0 {
                let c = line[ptr];
                if !binary && c == b'\n' {
                    line[ptr] = b' ';
                    continue;
                }
                if !binary && c == b'\r' {
                    ptr += 1;
                    continue;
                }
                match state {
                    State::Bad => break 'chunks,
                    State::SkipWs => {
                        if is_space(c) {
                            ptr += 1;
                        } else {
                            state = next_state;
                            next_state = State::Bad;
                        }
                    }
                    State::TrimWs => {
                        if is_space(c) {
                            ptr += 1;
                        } else {
                            if in_tag == InTag::DontExtract {
                                self.o2.push(b' ');
                            }
                            state = next_state;
                            next_state = State::Bad;
                        }
                    }
                    State::EightBit => {
                        if c < 0x80 || mbchar >= 0x10000 {
                            if mbchar == 0xE38082
                                || mbchar == 0xEFBC8E
                                || mbchar == 0xEFB992
                                || (mbchar == 0xA1 && (c == 0x43 || c == 0x44 || c == 0x4F))
                            {
                                self.o2.push(b'.');
                                self.text.push(b'.');
                                if mbchar == 0xA1 {
                                    ptr += 1;
                                    mbchar = 0;
                                    continue;
                                }
                            } else {
                                let c0 = (mbchar >> 16) as u8;
                                let c1 = (mbchar >> 8) as u8;
                                let c2 = mbchar as u8;
                                if c0 != 0 {
                                    self.o2.push(c0);
                                    self.text.push(c0);
                                }
                                if c0 != 0 || c1 != 0 {
                                    self.o2.push(c1);
                                    self.text.push(c1);
                                }
                                self.o2.push(c2);
                                // ClamAV writes the middle byte again here, not the last.
                                self.text.push(c1);
                            }
                            mbchar = 0;
                            state = next_state;
                            next_state = State::Norm;
                        } else {
                            mbchar = (mbchar << 8) | c as u32;
                            ptr += 1;
                        }
                    }
                    State::Norm => {
                        if c == b'<' {
                            self.o2.push(b'<');
                            if in_tag == InTag::DontExtract && !text_space_written {
                                self.text.push(b' ');
                                text_space_written = true;
                            }
                            ptr += 1;
                            state = State::SkipWs;
                            tag.clear();
                            next_state = State::Tag;
                        } else if is_space(c) {
                            if !text_space_written && in_tag == InTag::DontExtract {
                                self.text.push(b' ');
                                text_space_written = true;
                            }
                            state = State::TrimWs;
                            next_state = State::Norm;
                        } else if c == b'&' {
                            if !text_space_written && in_tag == InTag::DontExtract {
                                self.text.push(b' ');
                                text_space_written = true;
                            }
                            state = State::CharRef;
                            next_state = State::Norm;
                            ptr += 1;
                        } else if c >= 0x80 {
                            state = State::EightBit;
                            next_state = State::Norm;
                            mbchar = c as u32;
                            ptr += 1;
                        } else {
                            let mut l = c.to_ascii_lowercase();
                            if in_tag != InTag::DontExtract && l == b'\'' {
                                l = b'"';
                            }
                            self.o2.push(l);
                            if in_tag == InTag::DontExtract {
                                if c < 0x20 {
                                    if !text_space_written {
                                        self.text.push(b' ');
                                        text_space_written = true;
                                    }
                                } else {
                                    self.text.push(l);
                                    text_space_written = false;
                                }
                            }
                            ptr += 1;
                        }
                    }
                    State::Tag => {
                        if tag.is_empty() && c == b'!' {
                            if in_tag != InTag::DontExtract {
                                self.o2.push(b'!');
                            } else {
                                self.o2.pop();
                            }
                            state = State::Comment;
                            next_state = State::Bad;
                            ptr += 1;
                        } else if c == b'>' {
                            self.o2.push(b'>');
                            ptr += 1;
                            state = State::SkipWs;
                            next_state = State::ProcessTag;
                        } else if !is_space(c) {
                            let l = c.to_ascii_lowercase();
                            self.o2.push(l);
                            if in_tag != InTag::DontExtract && tag.is_empty() && c != b'/' {
                                state = State::Norm;
                            }
                            push_capped(&mut tag, l);
                            ptr += 1;
                        } else {
                            state = State::SkipWs;
                            tag_arg.clear();
                            next_state = if in_tag == InTag::DontExtract {
                                State::TagArg
                            } else {
                                State::ProcessTag
                            };
                        }
                    }
                    State::TagArg => {
                        if c == b'=' {
                            self.o2.push(b'=');
                            ptr += 1;
                            state = State::SkipWs;
                            escape = false;
                            quoted = Quoted::Not;
                            tag_val.clear();
                            next_state = State::TagArgVal;
                        } else if is_space(c) {
                            ptr += 1;
                            state = State::SkipWs;
                            next_state = State::TagArgEqual;
                        } else if c == b'>' {
                            self.o2.push(b'>');
                            if !tag_arg.is_empty() {
                                tag_arg_add(&mut args, &tag_arg, None);
                            }
                            ptr += 1;
                            state = State::ProcessTag;
                            next_state = State::Bad;
                        } else {
                            if tag_arg.is_empty() {
                                self.o2.push(b' ');
                            }
                            let l = c.to_ascii_lowercase();
                            self.o2.push(l);
                            push_capped(&mut tag_arg, l);
                            ptr += 1;
                        }
                    }
                    State::TagArgEqual => {
                        if c == b'=' {
                            self.o2.push(b'=');
                            ptr += 1;
                            state = State::SkipWs;
                            escape = false;
                            quoted = Quoted::Not;
                            tag_val.clear();
                            next_state = State::TagArgVal;
                        } else {
                            if !tag_arg.is_empty() {
                                tag_arg_add(&mut args, &tag_arg, None);
                            }
                            tag_arg.clear();
                            state = State::TagArg;
                            next_state = State::Bad;
                        }
                    }
                    State::TagArgVal => {
                        if tag_val.as_slice() == b"data:" || tag_val.as_slice() == b"\"data:" {
                            // An RFC 2397 URI: its data goes to a document of its own.
                            self.o2.pop();
                            if quoted != Quoted::Not {
                                self.o2.push(b'"');
                            }
                            tag_val.clear();
                            state = State::Rfc2397Type;
                            next_state = State::TagArg;
                        } else if c == b'&' {
                            state = State::CharRef;
                            next_state = State::TagArgVal;
                            ptr += 1;
                        } else if c == b'\'' || c == b'"' {
                            let q = if c == b'\'' {
                                Quoted::Single
                            } else {
                                Quoted::Double
                            };
                            if tag_val.is_empty() {
                                quoted = q;
                                self.o2.push(b'"');
                                push_capped(&mut tag_val, b'"');
                                ptr += 1;
                            } else if !escape && quoted == q {
                                self.o2.push(b'"');
                                push_capped(&mut tag_val, b'"');
                                tag_arg_add(&mut args, &tag_arg, Some(&tag_val));
                                ptr += 1;
                                state = State::SkipWs;
                                tag_arg.clear();
                                next_state = State::TagArg;
                            } else {
                                self.o2.push(b'"');
                                push_capped(&mut tag_val, b'"');
                                ptr += 1;
                            }
                        } else if is_space(c) || c == b'>' {
                            if quoted == Quoted::Not {
                                tag_arg_add(&mut args, &tag_arg, Some(&tag_val));
                                state = State::SkipWs;
                                tag_arg.clear();
                                next_state = State::TagArg;
                            } else {
                                self.o2.push(c);
                                push_capped(&mut tag_val, if is_space(c) { b' ' } else { b'>' });
                                state = State::SkipWs;
                                quoted = Quoted::Not;
                                next_state = State::TagArgVal;
                                ptr += 1;
                            }
                        } else {
                            if mbchar2 != 0 && (c < 0x80 || mbchar2 >= 0x10000) {
                                if mbchar2 == 0xE38082
                                    || mbchar2 == 0xEFBC8E
                                    || mbchar2 == 0xEFB992
                                    || (mbchar2 == 0xA1 && (c == 0x43 || c == 0x44 || c == 0x4F))
                                {
                                    self.o2.push(b'.');
                                    push_capped(&mut tag_val, b'.');
                                    if mbchar2 == 0xA1 {
                                        ptr += 1;
                                        mbchar2 = 0;
                                        continue;
                                    }
                                } else {
                                    let c0 = (mbchar2 >> 16) as u8;
                                    let c1 = (mbchar2 >> 8) as u8;
                                    let c2 = mbchar2 as u8;
                                    if c0 != 0 {
                                        self.o2.push(c0);
                                    }
                                    if c0 != 0 || c1 != 0 {
                                        self.o2.push(c1);
                                    }
                                    self.o2.push(c2);
                                    if c0 != 0 {
                                        push_capped(&mut tag_val, c0);
                                    }
                                    if c0 != 0 || c1 != 0 {
                                        push_capped(&mut tag_val, c1);
                                    }
                                    push_capped(&mut tag_val, c2);
                                }
                                mbchar2 = 0;
                            }
                            if c >= 0x80 {
                                mbchar2 = (mbchar2 << 8) | c as u32;
                            } else {
                                self.o2.push(c.to_ascii_lowercase());
                                push_capped(&mut tag_val, c);
                            }
                            ptr += 1;
                        }
                        escape = line[ptr] == b'\\';
                    }
                    State::Comment => {
                        if in_tag != InTag::DontExtract && !is_space(c) {
                            let mut l = c.to_ascii_lowercase();
                            if l == b'\'' {
                                l = b'"';
                            }
                            self.o2.push(l);
                        }
                        if c == b'>' {
                            state = State::SkipWs;
                            next_state = State::Norm;
                        }
                        ptr += 1;
                    }
                    State::ProcessTag => {
                        state = State::SkipWs;
                        next_state = State::Norm;
                        if tag.first() == Some(&b'/') {
                            if tag.as_slice() == b"/script" {
                                in_tag = InTag::DontExtract;
                            } else if tag.as_slice() == b"/style" && in_tag == InTag::Style {
                                if (ptr as isize) - 8 < style_begin {
                                    // ClamAV gives up on the file here.
                                    break 'chunks;
                                }
                                in_tag = InTag::DontExtract;
                            }
                        } else if tag.as_slice() == b"script" {
                            let lang =
                                tag_arg_value(&args, b"language").map(|v| v.to_ascii_lowercase());
                            if lang.as_deref() == Some(b"jscript.encode") {
                                tag_arg_set(&mut args, b"language", b"javascript");
                                state = State::SkipWs;
                                next_state = State::JsDecode;
                                output_tag(&mut self.o2, &tag, &args);
                            } else if lang.as_deref() == Some(b"vbscript.encode") {
                                tag_arg_set(&mut args, b"language", b"vbscript");
                                state = State::SkipWs;
                                next_state = State::JsDecode;
                                output_tag(&mut self.o2, &tag, &args);
                            }
                            in_tag = InTag::Script;
                        } else if tag.as_slice() == b"style" {
                            in_tag = InTag::Style;
                            style_begin = ptr as isize;
                        } else if tag.as_slice() == b"%@" {
                            let lang =
                                tag_arg_value(&args, b"language").map(|v| v.to_ascii_lowercase());
                            if matches!(
                                lang.as_deref(),
                                Some(b"jscript.encode") | Some(b"vbscript.encode")
                            ) {
                                saved_next_state = next_state;
                                next_state = state;
                                look_for_screnc = false;
                                state = State::LookForScrenc;
                            }
                        } else if tag.as_slice() == b"a" || tag.as_slice() == b"img" {
                            let key: &[u8] = if tag.as_slice() == b"a" {
                                b"href"
                            } else {
                                b"src"
                            };
                            if let Some(v) = tag_arg_value(&args, key).filter(|v| !v.is_empty()) {
                                // Up to a NUL, as C's string functions read it.
                                let v = v.split(|&b| b == 0).next().unwrap_or(&[]);
                                if !v.is_empty() {
                                    self.text.extend_from_slice(v);
                                    self.text.push(b' ');
                                    text_space_written = true;
                                }
                            }
                        }
                        args.clear();
                    }
                    State::CharRef => {
                        if c == b'#' {
                            value = 0;
                            hex = false;
                            state = State::CharRefDecode;
                            ptr += 1;
                        } else {
                            state = State::EntityRefDecode;
                        }
                    }
                    State::EntityRefDecode => {
                        let into_val = next_state == State::TagArgVal;
                        if c == b';' {
                            // Up to a NUL, as the C string lookup reads it.
                            let name = entity_val.split(|&b| b == 0).next().unwrap_or(&[]);
                            match entity(name) {
                                Some(norm) => {
                                    for &b in &norm {
                                        self.o2.push(b);
                                        if into_val {
                                            push_capped(&mut tag_val, b);
                                        }
                                    }
                                }
                                None => {
                                    self.o2.push(b'&');
                                    if into_val {
                                        push_capped(&mut tag_val, b'&');
                                    }
                                    for &b in &entity_val {
                                        let l = b.to_ascii_lowercase();
                                        self.o2.push(l);
                                        if into_val {
                                            push_capped(&mut tag_val, l);
                                        }
                                    }
                                    if into_val {
                                        push_capped(&mut tag_val, b';');
                                    }
                                    self.o2.push(b';');
                                }
                            }
                            entity_val.clear();
                            state = next_state;
                            next_state = State::Bad;
                            ptr += 1;
                        } else if (c.is_ascii_alphanumeric() || c == b'_' || c == b':' || c == b'-')
                            && entity_val.len() < STR_LEN
                        {
                            entity_val.push(c);
                            ptr += 1;
                        } else {
                            if into_val {
                                push_capped(&mut tag_val, b'&');
                            }
                            self.o2.push(b'&');
                            for &b in &entity_val {
                                let l = b.to_ascii_lowercase();
                                self.o2.push(l);
                                if into_val {
                                    push_capped(&mut tag_val, l);
                                }
                            }
                            state = next_state;
                            next_state = State::Bad;
                            entity_val.clear();
                        }
                    }
                    State::CharRefDecode => {
                        if value == 0 && (c == b'x' || c == b'X') {
                            hex = true;
                            ptr += 1;
                        } else if c == b';' {
                            if next_state == State::TagArgVal {
                                push_capped(&mut tag_val, value as u8);
                            }
                            if value < 0x80 {
                                self.o2.push((value as u8).to_ascii_lowercase());
                            } else {
                                u16_normalize(value as u16, &mut self.o2);
                            }
                            state = next_state;
                            next_state = State::Bad;
                            ptr += 1;
                        } else if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
                            if hex && value < i64::MAX / 16 {
                                value *= 16;
                            } else if value < i64::MAX / 10 {
                                value *= 10;
                            } else {
                                self.o2.push(value as u8);
                                state = next_state;
                                next_state = State::Bad;
                                ptr += 1;
                                continue;
                            }
                            let inc = if c.is_ascii_digit() {
                                (c - b'0') as i64
                            } else {
                                (c.to_ascii_lowercase() - b'a') as i64 + 10
                            };
                            if value > i64::MAX - inc {
                                self.o2.push(value as u8);
                                state = next_state;
                                next_state = State::Bad;
                                ptr += 1;
                                continue;
                            }
                            value += inc;
                            ptr += 1;
                        } else {
                            self.o2.push(value as u8);
                            state = next_state;
                            next_state = State::Bad;
                        }
                    }
                    State::LookForScrenc => {
                        look_for_screnc = true;
                        ptr_screnc = c_strstr(&line, ptr, b"#@~^").map(|i| {
                            line[i] = b'/';
                            line[i + 1] = b'/';
                            i + 4
                        });
                        state = next_state;
                        next_state = saved_next_state;
                    }
                    State::JsDecode => {
                        if line[ptr..].starts_with(b"#@~^") {
                            line[ptr] = b'/';
                            line[ptr + 1] = b'/';
                            ptr += 4;
                            state = State::JsDecodeLength;
                            next_state = State::Bad;
                        } else {
                            self.o2.push(c.to_ascii_lowercase());
                            ptr += 1;
                        }
                    }
                    State::JsDecodeLength => {
                        if c_strlen(&line, ptr) < 8 {
                            state = State::Norm;
                            next_state = State::Bad;
                        } else {
                            screnc = Screnc {
                                length: screnc_number(&line[ptr..ptr + 6]),
                                ..Screnc::default()
                            };
                            state = State::JsDecodeDecrypt;
                            in_screnc = true;
                            next_state = State::Bad;
                            line[ptr + 7] = b'\n';
                            ptr += 8;
                        }
                    }
                    State::JsDecodeDecrypt => {
                        screnc_decode(&mut line, ptr, &mut screnc);
                        if screnc.length == 0 {
                            in_screnc = false;
                        }
                        state = State::Norm;
                        next_state = State::Bad;
                    }
                    State::Rfc2397Type => {
                        if c == b'\'' || c == b'"' {
                            let q = if c == b'\'' {
                                Quoted::Single
                            } else {
                                Quoted::Double
                            };
                            if !escape && quoted == q {
                                // The value ended before its data began.
                                ptr += 1;
                                state = State::SkipWs;
                                tag_arg.clear();
                                next_state = State::TagArg;
                            } else {
                                push_capped(&mut tag_val, b'"');
                                ptr += 1;
                            }
                        } else if is_space(c) || c == b'>' {
                            if quoted == Quoted::Not {
                                state = State::SkipWs;
                                tag_arg.clear();
                                next_state = State::TagArg;
                            } else {
                                push_capped(&mut tag_val, if is_space(c) { b' ' } else { b'>' });
                                state = State::SkipWs;
                                quoted = Quoted::Not;
                                next_state = State::Rfc2397Type;
                                ptr += 1;
                            }
                        } else if c == b',' {
                            state = State::Rfc2397Init;
                            next_state = State::Bad;
                            ptr += 1;
                        } else {
                            push_capped(&mut tag_val, c.to_ascii_lowercase());
                            ptr += 1;
                        }
                        escape = line[ptr] == b'\\';
                    }
                    State::Rfc2397Init => {
                        let mut doc = Vec::with_capacity(64 + tag_val.len());
                        doc.extend_from_slice(b"From html-normalise\nContent-type: ");
                        // The type, up to a NUL as C reads it.
                        let ty = tag_val.split(|&b| b == 0).next().unwrap_or(&[]);
                        doc.extend_from_slice(&tag_val);
                        doc.push(b'\n');
                        if memchr::memmem::find(ty, b";base64").is_some() {
                            doc.extend_from_slice(b"Content-transfer-encoding: base64\n");
                        }
                        doc.push(b'\n');
                        self.data_uris.push(doc);
                        self.uri = Some(self.data_uris.len() - 1);
                        state = State::Rfc2397Data;
                        binary = true;
                    }
                    State::Rfc2397Data => {
                        if c == b'&' {
                            state = State::CharRef;
                            next_state = State::Rfc2397Data;
                            ptr += 1;
                        } else if c == b'%' {
                            length = 0;
                            value = 0;
                            state = State::EscapeChar;
                            next_state = State::Rfc2397Esc;
                            ptr += 1;
                        } else if c == b'\'' || c == b'"' {
                            let q = if c == b'\'' {
                                Quoted::Single
                            } else {
                                Quoted::Double
                            };
                            if !escape && quoted == q {
                                state = State::Rfc2397Finish;
                            } else {
                                self.uri_out(c);
                            }
                            ptr += 1;
                        } else if is_space(c) || c == b'>' {
                            if quoted == Quoted::Not {
                                state = State::Rfc2397Finish;
                            } else {
                                self.uri_out(c);
                            }
                            ptr += 1;
                        } else {
                            self.uri_out(c);
                            ptr += 1;
                        }
                        escape = line[ptr] == b'\\';
                    }
                    State::Rfc2397Finish => {
                        self.uri_close();
                        state = State::SkipWs;
                        escape = false;
                        quoted = Quoted::Not;
                        next_state = State::TagArg;
                        binary = false;
                    }
                    State::Rfc2397Esc => {
                        if length == 2 {
                            self.uri_out(value as u8);
                        } else if length == 1 {
                            self.uri_out(b'%');
                            self.uri_out((value as u8).wrapping_add(b'0'));
                        } else {
                            self.uri_out(b'%');
                        }
                        state = State::Rfc2397Data;
                    }
                    State::EscapeChar => {
                        if value < i64::MAX / 16 {
                            value *= 16;
                        } else {
                            state = next_state;
                            next_state = State::Bad;
                            ptr += 1;
                            continue;
                        }
                        length += 1;
                        if c.is_ascii_hexdigit() {
                            value += if c.is_ascii_digit() {
                                (c - b'0') as i64
                            } else {
                                (c.to_ascii_lowercase() - b'a') as i64 + 10
                            };
                        } else {
                            state = next_state;
                        }
                        if length == 2 {
                            state = next_state;
                        }
                        ptr += 1;
                    }
                }
            }
            // The end of a chunk.
            if in_tag == InTag::Style && (ptr as isize) < style_begin {
                break 'chunks;
            }
            if look_for_screnc {
                if let Some(p) = ptr_screnc.take() {
                    restarts += 1;
                    if restarts > MAX_SCRENC_RESTARTS {
                        self.cut = Some(format!(
                            "html: more than {MAX_SCRENC_RESTARTS} encoded-script markers in one chunk at offset {off}; the rest of the file was not normalised"
                        ));
                        break 'chunks;
                    }
                    // The encoded script starts here: decode from it (the text after it was
                    // already read once, as ClamAV does).
                    ptr = p;
                    state = State::JsDecodeLength;
                    next_state = State::Bad;
                    continue 'chunks;
                }
            }
            match read_chunk(data, &mut off) {
                Some(l) => line = l,
                None => {
                    // The end of the file: an entity left open is written out.
                    if !entity_val.is_empty() {
                        match entity(&entity_val) {
                            Some(norm) => self.o2.extend_from_slice(&norm),
                            None => {
                                self.o2.push(b'&');
                                self.o2
                                    .extend(entity_val.iter().map(|b| b.to_ascii_lowercase()));
                            }
                        }
                    }
                    break 'chunks;
                }
            }
            ptr = 0;
            restarts = 0;
            if in_tag == InTag::Style {
                style_begin = 0;
            }
            if in_screnc {
                state = State::JsDecodeDecrypt;
                next_state = State::Bad;
            } else if look_for_screnc && ptr_screnc.is_none() && state != State::LookForScrenc {
                saved_next_state = next_state;
                next_state = state;
                state = State::LookForScrenc;
            }
            if next_state == state {
                next_state = State::Bad;
            }
        }
        self.uri_close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> (String, String) {
        let r = normalize(s.as_bytes());
        (
            String::from_utf8_lossy(&r.nocomment).into_owned(),
            String::from_utf8_lossy(&r.notags).into_owned(),
        )
    }

    #[test]
    fn tags_text_comments_and_references() {
        let (nc, nt) = n("<HTML><Body>Hello   World &amp; <b>Bold</b><!-- c --></body></html>\n");
        assert_eq!(nc, "<html><body>hello world & <b>bold</b></body></html>");
        assert_eq!(nt, " hello world bold ");
        let (nc, nt) = n("<a HREF='X.html' title=t>&#65;&#x42;&lt;&nosuch;</a>");
        assert_eq!(nc, "<a href=\"x.html\" title=t>ab<&nosuch;</a>");
        assert_eq!(nt, " X.html ");
    }

    #[test]
    fn data_uris_become_mail_documents() {
        let r = normalize(b"<img src=\"data:image/png;base64,QUJD\">after");
        assert_eq!(r.data_uris.len(), 1);
        assert_eq!(
            r.data_uris[0],
            b"From html-normalise\nContent-type: image/png;base64\nContent-transfer-encoding: base64\n\nQUJD"
        );
        // `%4>` is read as an escape of two digits, the `>` taken as one (as ClamAV does).
        let r = normalize(b"<a href=data:,A%41%4>x");
        assert_eq!(
            r.data_uris[0],
            b"From html-normalise\nContent-type: \n\nAA@x"
        );
        assert_eq!(r.nocomment, b"<a href=data");
    }

    #[test]
    fn chunks_cut_at_whitespace_and_drop_nul() {
        let mut data = vec![b'a'; 9000];
        data[100] = b' ';
        data[200] = 0;
        let mut off = 0;
        let c1 = read_chunk(&data, &mut off).unwrap();
        assert!(!c1[..c1.len() - 1].contains(&0));
        // No whitespace after the first 101 bytes: the chunk is cut back to it.
        assert_eq!(c1.len() - 1, 101);
        // The offset is moved back by the bytes cut, counted without the NUL dropped (as
        // ClamAV counts): one byte after the space.
        assert_eq!(off, 102);
    }

    #[test]
    fn hostile_inputs_stay_bounded() {
        // Long runs of every construct: output stays within a small multiple of the input.
        for unit in [
            "&#x1234;",
            "&",
            "<a b='",
            "<!--",
            "data:",
            "<img src=\"data:,",
            "\u{e9}",
            "<script language=jscript.encode>#@~^",
            "<%@ language=vbscript.encode %>#@~^AAAAAA==",
        ] {
            let s = unit.repeat(20_000);
            let r = normalize(s.as_bytes());
            let out = r.nocomment.len()
                + r.notags.len()
                + r.data_uris.iter().map(Vec::len).sum::<usize>();
            // Each byte gives at most 8; a chunk is read at most 1 + MAX_SCRENC_RESTARTS times.
            let bound = (1 + MAX_SCRENC_RESTARTS as usize) * 8 * s.len() + 128 * r.data_uris.len();
            assert!(out <= bound, "{unit}: {out}");
            assert!(
                r.nocomment.len() <= 8 * s.len() || unit.contains("%@"),
                "{unit}"
            );
        }
    }
}
