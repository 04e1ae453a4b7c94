//! PDF documents: each object's stream, decoded through its filters, scanned as ClamAV's
//! `cli_pdf` scans it.
//!
//! Objects are found as ClamAV's `pdf_findobj` finds them, without the cross-reference table:
//! each `obj` keyword preceded by white space and by two numbers, up to the next `endobj` (or
//! the end of the file), at most 65,536 objects. A stream is the data after the first
//! `stream` keyword of an object (and one end of line) up to `endstream`; its length is the
//! dictionary's `/Length` (a number, or a reference to an object holding one) when that
//! agrees with where `endstream` is, else the distance to `endstream`.
//!
//! The dictionary's names set the object's flags as ClamAV's `handle_pdfname` does: after
//! `/Filter`, each filter name is added to the filter list (ASCIIHex, ASCII85, Flate, LZW,
//! RunLength decoded here; DCT, JPX, CCITT fax, JBIG2 and Crypt stop the decoding there). A
//! stream is scanned when it has no filter, or when one of its names asks ClamAV to dump it
//! (a Flate, DCT, ASCIIHex or ASCII85 filter, an embedded file, JavaScript, an open or
//! launch action, page contents); an image is scanned only when it is DCT-encoded. The
//! decoded bytes, or the raw stream when no filter could be applied, are scanned as a file.
//!
//! Not done yet: object streams (`/ObjStm`), encrypted documents (their streams are scanned
//! as stored), JavaScript outside streams, and the normalised text of page contents.
//!
//! Cost: each filter's output is bounded by what is left of the budgets (plus one byte), and
//! counted as inflated.

use std::collections::HashMap;
use std::io::Read;

use crate::archive::{Flow, Host, Member};

/// Most objects read, as ClamAV's `MAX_PDF_OBJECTS`.
const MAX_OBJECTS: usize = 64 * 1024;

fn is_ws(b: u8) -> bool {
    matches!(b, 0 | 9 | 0x0a | 0x0c | 0x0d | 0x20)
}

fn is_delim(b: u8) -> bool {
    is_ws(b)
        || matches!(
            b,
            b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
        )
}

/// An object as found: its id and the bytes between `obj` and `endobj`.
struct Obj {
    id: (u64, u64),
    start: usize,
    end: usize,
}

/// Parses the decimal digits ending just before `end` (after white space), as ClamAV walks
/// back from `obj`: returns the number and where its digits start.
fn number_before(data: &[u8], end: usize) -> Option<(u64, usize)> {
    let mut i = end;
    while i > 0 && is_ws(data[i - 1]) {
        i -= 1;
    }
    let stop = i;
    while i > 0 && data[i - 1].is_ascii_digit() {
        i -= 1;
    }
    // `strtol` from the byte before the digits: white space, or the start of the file.
    if i == stop || stop - i > 18 || (i > 0 && !is_ws(data[i - 1])) {
        return None;
    }
    let n = std::str::from_utf8(&data[i..stop]).ok()?.parse().ok()?;
    Some((n, i))
}

/// Every object, in file order.
fn find_objects(data: &[u8]) -> Vec<Obj> {
    let mut out = Vec::new();
    let mut from = 1usize;
    let finder = memchr::memmem::Finder::new(b"obj");
    let endobj = memchr::memmem::Finder::new(b"endobj");
    while out.len() < MAX_OBJECTS && from < data.len() {
        let Some(at) = finder.find(&data[from..]).map(|i| i + from) else {
            break;
        };
        // The keyword must follow white space.
        if !is_ws(data[at - 1]) {
            from = at + 3;
            continue;
        }
        let obj_end = at + 3;
        let Some((gen, gstart)) = number_before(data, at - 1) else {
            from = obj_end + 1;
            continue;
        };
        let Some((num, _)) = number_before(data, gstart) else {
            from = obj_end + 1;
            continue;
        };
        match endobj.find(&data[obj_end..]) {
            Some(e) => {
                out.push(Obj {
                    id: (num, gen),
                    start: obj_end,
                    end: obj_end + e,
                });
                from = obj_end + e + 6;
            }
            None => {
                out.push(Obj {
                    id: (num, gen),
                    start: obj_end,
                    end: data.len(),
                });
                break;
            }
        }
        // The next search starts one byte past where this object ended (ClamAV's `idx =
        // start + 1`).
        from += 1;
    }
    out
}

/// The stream of an object's bytes (ClamAV's `find_stream_bounds`): after `stream`, CR LF
/// (and one more LF) or LF is skipped; the data runs to `endstream`, or to the end of the
/// object.
fn stream_bounds(obj: &[u8]) -> Option<(usize, usize)> {
    let s = memchr::memmem::find(obj, b"stream")?;
    let mut i = s + 6;
    if i >= obj.len() {
        return None;
    }
    if obj.len() - i >= 2 && obj[i] == b'\r' && obj[i + 1] == b'\n' {
        i += 2;
        if obj.len() - i > 2 && obj[i] == b'\n' {
            i += 1;
        }
    } else if obj.get(i) == Some(&b'\n') {
        i += 1;
    }
    let end = memchr::memmem::find(&obj[i..], b"endstream").map_or(obj.len(), |e| i + e);
    Some((i, end - i))
}

/// What the dictionary's names say (ClamAV's object flags, as far as they are used here).
#[derive(Default)]
struct Flags {
    filters: Vec<Filter>,
    has_filters: bool,
    dump: bool,
    image: bool,
    dct: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Filter {
    AsciiHex,
    Ascii85,
    Flate,
    Lzw,
    RunLength,
    /// Recognised, not decoded here (DCT, JPX, CCITT fax, JBIG2, Crypt): decoding stops.
    Opaque,
}

/// Reads the names of `dict` (its `/Name` tokens, `#xx` escapes decoded) through ClamAV's
/// state machine: `/Filter` opens the filter list, `/Length` and `/S` close it.
fn flags(dict: &[u8]) -> Flags {
    let mut f = Flags::default();
    let mut in_filter = false;
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'/', &dict[i..]) {
        let mut j = i + p + 1;
        let mut name = Vec::new();
        while j < dict.len() && !is_delim(dict[j]) {
            if dict[j] == b'#' && j + 2 < dict.len() {
                if let Ok(v) = u8::from_str_radix(&String::from_utf8_lossy(&dict[j + 1..j + 3]), 16)
                {
                    name.push(v);
                    j += 3;
                    continue;
                }
            }
            name.push(dict[j]);
            j += 1;
        }
        i = j;
        if name.len() >= 64 {
            continue;
        }
        let filter = match name.as_slice() {
            b"ASCIIHexDecode" | b"AHx" => Some((Filter::AsciiHex, true)),
            b"ASCII85Decode" | b"A85" => Some((Filter::Ascii85, true)),
            b"FlateDecode" | b"Fl" => Some((Filter::Flate, true)),
            b"LZWDecode" | b"LZW" => Some((Filter::Lzw, false)),
            b"RunLengthDecode" | b"RL" => Some((Filter::RunLength, false)),
            b"DCTDecode" | b"DCT" | b"JBIG2Decode" => {
                f.dct = true;
                Some((Filter::Opaque, true))
            }
            b"JPXDecode" | b"CCITTFaxDecode" | b"CCF" | b"Crypt" => Some((Filter::Opaque, false)),
            _ => None,
        };
        if let Some((kind, dumps)) = filter {
            if in_filter {
                if f.filters.len() < 64 {
                    f.filters.push(kind);
                }
                f.dump |= dumps;
            }
            continue;
        }
        match name.as_slice() {
            b"Filter" => {
                f.has_filters = true;
                in_filter = true;
            }
            b"Length" | b"S" => in_filter = false,
            b"JavaScript" => in_filter = false,
            b"EmbeddedFile" | b"OpenAction" | b"Launch" | b"Contents" => f.dump = true,
            b"Image" => f.image = true,
            _ => {}
        }
        if name == b"JavaScript" {
            f.dump = true;
        }
    }
    f
}

/// The integer at the start of `s`, after white space (ClamAV's `pdf_nextobject` + `strtol`).
fn leading_int(s: &[u8]) -> Option<(u64, usize)> {
    let mut i = 0;
    while i < s.len() && is_ws(s[i]) {
        i += 1;
    }
    let st = i;
    while i < s.len() && s[i].is_ascii_digit() {
        i += 1;
    }
    if i == st || i - st > 18 {
        return None;
    }
    Some((std::str::from_utf8(&s[st..i]).ok()?.parse().ok()?, i))
}

/// Where the next token starts (ClamAV's `pdf_nextobject`): the rest of the current token is
/// skipped, then white space, `[` and `<`; a comment or line end skips to the next line; a
/// name or a string starts a token at once.
fn next_token(s: &[u8], mut i: usize) -> Option<usize> {
    let mut inside = true;
    while i < s.len() {
        match s[i] {
            b'\n' | b'\r' | b'%' => {
                while i < s.len() && s[i] != b'\n' && s[i] != b'\r' {
                    i += 1;
                }
                while i < s.len() && (s[i] == b'\n' || s[i] == b'\r') {
                    i += 1;
                }
                if i >= s.len() {
                    return None;
                }
                inside = false;
            }
            b' ' | b'\t' | b'[' | 0x0b | 0x0c | b'<' => {
                inside = false;
                i += 1;
            }
            b'/' | b'(' => return Some(i),
            _ if !inside => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// `strtol` on decimal digits at `i` (after white space): the value and the end of its digits.
fn int_at(s: &[u8], i: usize) -> Option<(u64, usize)> {
    let (v, used) = leading_int(s.get(i..)?)?;
    Some((v, i + used))
}

/// The `/Length` of a stream's dictionary (ClamAV's `find_length`): the token after the
/// first `/Length` (so a `/Length1` before it is read in its place, as ClamAV reads it), a
/// number or `N G R`, a reference to an object whose first token is the number; 0 when
/// absent or unreadable; cut to 5 bytes short of the end of the file.
fn find_length(
    data: &[u8],
    objs: &[Obj],
    ids: &HashMap<(u64, u64), usize>,
    dict: &[u8],
    dict_at: usize,
) -> u64 {
    let Some(k) = memchr::memmem::find(dict, b"/Length") else {
        return 0;
    };
    let Some(tok) = next_token(dict, k + 1) else {
        return 0;
    };
    let Some((n, mut i)) = int_at(dict, tok) else {
        return 0;
    };
    let mut length = n;
    if dict.get(i) == Some(&b' ') {
        i += 1;
        let Some((gen, j)) = int_at(dict, i) else {
            return 0;
        };
        if dict.len() < j + 2 {
            return 0;
        }
        if &dict[j..j + 2] == b" R" {
            // The first object of that id (an index: a lookup per stream, not a search).
            let Some(o) = ids.get(&(n, gen)).map(|&i| &objs[i]) else {
                return 0;
            };
            let body = &data[o.start..];
            let Some(t) = next_token(body, 0) else {
                return 0;
            };
            match int_at(body, t) {
                Some((v, _)) => length = v,
                None => return 0,
            }
        }
    }
    let from = (dict_at + tok) as u64;
    if from + length + 5 > data.len() as u64 {
        length = (data.len() as u64).saturating_sub(from + 5);
    }
    length
}

/// Walks a PDF document.
pub fn unpack(data: &[u8], host: &mut dyn Host) {
    let objs = find_objects(data);
    let mut ids = HashMap::with_capacity(objs.len());
    for (i, o) in objs.iter().enumerate() {
        ids.entry(o.id).or_insert(i);
    }
    if memchr::memmem::find(data, b"/Encrypt").is_some() {
        host.note(
            crate::Why::Encrypted,
            "pdf: encrypted document, its streams scanned as stored".into(),
        );
    }
    for o in &objs {
        let body = &data[o.start..o.end];
        let Some((s_off, s_len)) = stream_bounds(body) else {
            continue;
        };
        let dict = &body[..s_off];
        if memchr::memmem::find(dict, b"/ObjStm").is_some() {
            host.note(
                crate::Why::Unsupported,
                format!(
                    "pdf: object stream {} {} not parsed, the objects in it not scanned",
                    o.id.0, o.id.1
                ),
            );
        }
        let f = flags(dict);
        // ClamAV's rule: a filtered stream only when a name asks for it; an image only
        // when DCT-encoded.
        let dump = (f.dump || !f.has_filters) && (f.dct || !f.image);
        if !dump {
            continue;
        }
        // The stream's length, as `pdf_extract_obj` settles it.
        let found = s_len as u64;
        let mut length = find_length(data, &objs, &ids, dict, o.start).min(found);
        let flate = f.filters.contains(&Filter::Flate);
        if !flate && length == 0 {
            // No length: the data up to `endstream`, less one end of line.
            let st = &body[s_off..s_off + s_len];
            length = found;
            if st.last() == Some(&b'\n') {
                length -= 1;
                if length > 0 && st.get(st.len() - 2) == Some(&b'\r') {
                    length -= 1;
                }
            } else if st.last() == Some(&b'\r') {
                length -= 1;
            }
        } else if found > length + 2 {
            length = found;
        }
        if length == 0 {
            length = found;
            if length == 0 {
                continue;
            }
        }
        let stream = &body[s_off..s_off + length as usize];
        let name = format!("obj {} {}", o.id.0, o.id.1);
        let flow = match decode(stream, &f.filters, host) {
            Decoded::Data(d) => host.member(&name, Member::Whole(&d)),
            Decoded::Raw => host.member(&name, Member::Whole(stream)),
            Decoded::Over(l) => host.member(&name, Member::Refused(l)),
        };
        if let Flow::Stop = flow {
            return;
        }
    }
}

enum Decoded {
    /// At least one filter applied: its output.
    Data(Vec<u8>),
    /// No filter could be applied: the stream as stored.
    Raw,
    /// Decoding went past a limit.
    Over(crate::archive::Limit),
}

/// Applies the filters in order until one fails or is not decoded here (ClamAV's
/// `pdf_decodestream`); a filter that fails part-way keeps what it decoded.
fn decode(stream: &[u8], filters: &[Filter], host: &mut dyn Host) -> Decoded {
    let mut cur: Option<Vec<u8>> = None;
    for &flt in filters {
        let input: &[u8] = cur.as_deref().unwrap_or(stream);
        if input.is_empty() {
            break;
        }
        let (bound, by) = host.budget().bound();
        let cap = bound.saturating_add(1);
        let out = match flt {
            Filter::AsciiHex => Some(ascii_hex(input, cap)),
            Filter::Ascii85 => ascii85(input, cap),
            Filter::Flate => inflate(input, cap),
            Filter::Lzw => lzw(input, cap),
            Filter::RunLength => run_length(input, cap),
            Filter::Opaque => None,
        };
        let Some(out) = out else { break };
        let b = host.budget();
        b.inflated = b.inflated.saturating_add(out.len() as u64);
        if out.len() as u64 > bound {
            b.record(by);
            return Decoded::Over(by);
        }
        cur = Some(out);
    }
    match cur {
        Some(d) => Decoded::Data(d),
        None => Decoded::Raw,
    }
}

fn inflate(input: &[u8], cap: u64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut d = flate2::read::ZlibDecoder::new(input).take(cap);
    match d.read_to_end(&mut out) {
        Ok(_) => Some(out),
        Err(_) if !out.is_empty() => Some(out),
        Err(_) => None,
    }
}

fn ascii_hex(input: &[u8], cap: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut hi: Option<u8> = None;
    for &c in input {
        if c == b'>' || out.len() as u64 >= cap {
            break;
        }
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => continue,
        };
        match hi.take() {
            Some(h) => out.push(h << 4 | v),
            None => hi = Some(v),
        }
    }
    if let Some(h) = hi {
        out.push(h << 4);
    }
    out
}

fn ascii85(input: &[u8], cap: u64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut group = [0u32; 5];
    let mut n = 0;
    let mut i = 0;
    if input.starts_with(b"<~") {
        i = 2;
    }
    while i < input.len() && (out.len() as u64) < cap {
        let c = input[i];
        i += 1;
        match c {
            b'~' => break,
            b'z' if n == 0 => out.extend_from_slice(&[0; 4]),
            b'!'..=b'u' => {
                group[n] = u32::from(c - b'!');
                n += 1;
                if n == 5 {
                    let v = group
                        .iter()
                        .try_fold(0u32, |a, &d| a.checked_mul(85)?.checked_add(d))?;
                    out.extend_from_slice(&v.to_be_bytes());
                    n = 0;
                }
            }
            c if is_ws(c) => {}
            _ => return if out.is_empty() { None } else { Some(out) },
        }
    }
    if n > 1 {
        for g in group.iter_mut().skip(n) {
            *g = 84;
        }
        let v = group
            .iter()
            .try_fold(0u32, |a, &d| a.checked_mul(85)?.checked_add(d))?;
        out.extend_from_slice(&v.to_be_bytes()[..n - 1]);
    }
    Some(out)
}

fn run_length(input: &[u8], cap: u64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < input.len() && (out.len() as u64) < cap {
        let n = input[i];
        i += 1;
        match n {
            128 => break,
            0..=127 => {
                let end = (i + n as usize + 1).min(input.len());
                out.extend_from_slice(&input[i..end]);
                i = end;
            }
            _ => {
                let Some(&b) = input.get(i) else { break };
                i += 1;
                out.extend(std::iter::repeat_n(b, 257 - n as usize));
            }
        }
    }
    Some(out)
}

/// LZW as PDF and TIFF use it: codes of 9 to 12 bits, most significant bit first, 256 clears
/// the table, 257 ends the data, the code width growing one code early.
fn lzw(input: &[u8], cap: u64) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    let mut table: Vec<(u16, u8, u32)> = Vec::new(); // (prefix, last byte, length)
    let reset = |t: &mut Vec<(u16, u8, u32)>| {
        t.clear();
        for b in 0..=255u16 {
            t.push((u16::MAX, b as u8, 1));
        }
        t.push((u16::MAX, 0, 0));
        t.push((u16::MAX, 0, 0));
    };
    reset(&mut table);
    let (mut acc, mut bits, mut width) = (0u32, 0u32, 9u32);
    let mut prev: Option<u16> = None;
    let mut buf = Vec::new();
    let expand = |t: &[(u16, u8, u32)], mut c: u16, buf: &mut Vec<u8>| {
        buf.clear();
        while c != u16::MAX {
            let (p, b, _) = t[c as usize];
            buf.push(b);
            c = p;
        }
        buf.reverse();
    };
    for &byte in input {
        acc = (acc << 8) | u32::from(byte);
        bits += 8;
        while bits >= width {
            let code = ((acc >> (bits - width)) & ((1 << width) - 1)) as u16;
            bits -= width;
            if code == 256 {
                reset(&mut table);
                width = 9;
                prev = None;
                continue;
            }
            if code == 257 {
                return Some(out);
            }
            let next = table.len() as u16;
            match prev {
                None => {
                    if code > 255 {
                        return if out.is_empty() { None } else { Some(out) };
                    }
                    out.push(code as u8);
                }
                Some(p) => {
                    if code < next {
                        expand(&table, code, &mut buf);
                    } else if code == next {
                        expand(&table, p, &mut buf);
                        let first = buf[0];
                        buf.push(first);
                    } else {
                        return if out.is_empty() { None } else { Some(out) };
                    }
                    out.extend_from_slice(&buf);
                    if table.len() < 4096 {
                        let len = table[p as usize].2 + 1;
                        table.push((p, buf[0], len));
                    }
                }
            }
            prev = Some(code);
            if table.len() + 1 >= (1 << width) && width < 12 {
                width += 1;
            }
            if out.len() as u64 >= cap {
                return Some(out);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_and_streams_are_found_as_clamav_finds_them() {
        let pdf = b"%PDF-1.4\n1 0 obj\n<< /Length 5 >>\nstream\r\nhello\nendstream\nendobj\n\
                    x2 0 obj\n3 1 obj <<>> endobj\n";
        let objs = find_objects(pdf);
        let ids: Vec<_> = objs.iter().map(|o| o.id).collect();
        assert_eq!(ids, vec![(1, 0), (3, 1)]);
        let body = &pdf[objs[0].start..objs[0].end];
        let (s, n) = stream_bounds(body).unwrap();
        assert_eq!(&body[s..s + n], b"hello\n");
    }

    #[test]
    fn filters_decode() {
        assert_eq!(ascii_hex(b"48 65 6c6C6f7>", 100), b"Hellop");
        assert_eq!(ascii85(b"<~87cURDZ~>", 100).unwrap(), b"Hello");
        assert_eq!(
            run_length(&[2, b'a', b'b', b'c', 254, b'x', 128], 100).unwrap(),
            b"abcxxx"
        );
        // "ABABABA" in LZW, 9-bit codes: 256 (clear), 65, 66, 258, 260, 257 (end).
        let codes = [256u16, 65, 66, 258, 260, 257];
        let (mut acc, mut bits, mut bytes) = (0u64, 0, Vec::new());
        for c in codes {
            acc = (acc << 9) | u64::from(c);
            bits += 9;
            while bits >= 8 {
                bytes.push((acc >> (bits - 8)) as u8);
                bits -= 8;
            }
        }
        if bits > 0 {
            bytes.push((acc << (8 - bits)) as u8);
        }
        assert_eq!(lzw(&bytes, 100).unwrap(), b"ABABABA");
    }
}
