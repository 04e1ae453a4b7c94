//! VBA macro projects in OLE2 documents, extracted as ClamAV's `cli_vba_readdir_new` extracts
//! them: the compressed `dir` stream of a VBA storage is decompressed, its records walked
//! (MS-OVBA 2.3.4.2), and a listing written out: `REM` lines for the project and each
//! module's records, then each module's source, decompressed from its stream at the module's
//! offset, converted from the project's code page to UTF-8 and normalised as ClamAV
//! normalises it (lower case outside strings, runs of blanks collapsed, line continuations
//! joined). The listing is what signatures see (ClamAV scans it as a script: target 0).
//!
//! ClamAV's outcomes are kept: a record that does not parse means no listing at all; a module
//! whose stream is not in the `dir` stream's storage is left out of it. Code pages: UTF-8, US-ASCII, UTF-16LE and Windows-1252 are converted as
//! glibc's iconv converts them (and ISO-8859-1, the default) (bytes Windows-1252 leaves undefined fail the conversion); for
//! other code pages, text in ASCII is taken as it is and other text is reported as not
//! converted. ClamAV's older reader of `_VBA_PROJECT` performance caches (which it also runs,
//! scanning its output with OLE2 signatures) is not ported.

/// The window of MS-OVBA's compression (a chunk's decompressed size).
const WINDOW: usize = 4096;

/// Decompresses MS-OVBA data from `offset` as ClamAV's `cli_vba_inflate` does: the signature
/// byte and the first chunk header are skipped, and tokens are read as one stream, a chunk
/// header skipped (and the window flushed) when a literal falls at a window boundary. `None`
/// when a copy token or a chunk header is cut short. Decompression stops once more than `cap`
/// bytes are out (a window at a time: at most `cap` + 4,096 bytes are returned).
pub fn inflate(data: &[u8], offset: usize, cap: usize) -> Option<Vec<u8>> {
    let mut input = data
        .get(offset.checked_add(3)?..)
        .unwrap_or(&[])
        .iter()
        .copied();
    let mut buffer = [0u8; WINDOW];
    let mut out = Vec::new();
    let mut pos: usize = 0;
    let mut clean = true;
    while let Some(flag) = input.next() {
        let mut mask = 1u32;
        while mask < 0x100 {
            let winpos = pos % WINDOW;
            if u32::from(flag) & mask != 0 {
                let lo = input.next()?;
                let hi = input.next()?;
                let token = u16::from_le_bytes([lo, hi]);
                let shift = 12
                    - [0x10, 0x20, 0x40, 0x80, 0x100, 0x200, 0x400, 0x800]
                        .iter()
                        .filter(|&&t| winpos > t)
                        .count() as u32;
                let len = (u32::from(token) & ((1 << shift) - 1)) + 3;
                let distance = usize::from(token >> shift);
                for _ in 0..len {
                    let src = pos.wrapping_sub(distance).wrapping_sub(1) % WINDOW;
                    buffer[pos % WINDOW] = buffer[src];
                    pos = pos.wrapping_add(1);
                }
            } else {
                if pos != 0 && winpos == 0 && clean {
                    input.next()?;
                    input.next()?;
                    out.extend_from_slice(&buffer);
                    if out.len() > cap {
                        return Some(out);
                    }
                    clean = false;
                    break;
                }
                if let Some(b) = input.next() {
                    buffer[winpos] = b;
                    pos += 1;
                }
            }
            clean = true;
            mask <<= 1;
        }
    }
    out.extend_from_slice(&buffer[..pos % WINDOW]);
    Some(out)
}

/// Code-page conversion to UTF-8 (ClamAV's `cli_codepage_to_utf8`).
enum Converted {
    Text(Vec<u8>),
    /// The conversion fails (ClamAV writes an error marker instead).
    Failed,
    /// A code page this reader does not convert, with non-ASCII text.
    Unsupported,
}

const CP1252_HIGH: [u16; 32] = [
    0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039,
    0x0152, 0, 0x017d, 0, 0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc,
    0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
];

fn convert(bytes: &[u8], codepage: u16) -> Converted {
    if bytes.is_empty() {
        return Converted::Failed;
    }
    match codepage {
        20127 => Converted::Text(bytes.to_vec()),
        28591 => Converted::Text(
            bytes
                .iter()
                .map(|&b| char::from(b))
                .collect::<String>()
                .into_bytes(),
        ),
        65001 => {
            let mut v = bytes.to_vec();
            // A last character cut short is blanked out with NULs (its bytes kept).
            if v[v.len() - 1] & 0x80 != 0 {
                let mut start = v.len() - 1;
                let mut count = 1;
                while start > 0 && v[start] & 0xc0 == 0x80 {
                    start -= 1;
                    count += 1;
                }
                let ones = v[start].leading_ones() as usize;
                if ones != count {
                    for b in &mut v[start..] {
                        *b = 0;
                    }
                }
            }
            Converted::Text(v)
        }
        1200 => {
            if !bytes.len().is_multiple_of(2) {
                return Converted::Failed;
            }
            let units = bytes.chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
            match String::from_utf16(&units.collect::<Vec<_>>()) {
                Ok(s) => Converted::Text(s.into_bytes()),
                Err(_) => Converted::Failed,
            }
        }
        1252 => {
            let mut s = String::with_capacity(bytes.len());
            for &b in bytes {
                let c = match b {
                    0x80..=0x9f => match CP1252_HIGH[usize::from(b - 0x80)] {
                        0 => return Converted::Failed,
                        u => char::from_u32(u32::from(u)).unwrap_or('\u{fffd}'),
                    },
                    _ => char::from(b),
                };
                s.push(c);
            }
            Converted::Text(s.into_bytes())
        }
        _ if bytes.is_ascii() => Converted::Text(bytes.to_vec()),
        _ => Converted::Unsupported,
    }
}

/// ClamAV's `vba_normalize`: outside strings, upper case to lower case and runs of blanks to
/// one space; a line continuation (`_` after a blank, at the end of a line) is joined.
fn normalize(buf: &mut Vec<u8>) {
    #[derive(PartialEq, Clone, Copy)]
    enum S {
        Normal,
        InString,
        Underscore,
        UnderscoreCr,
        Space,
    }
    let mut state = S::Normal;
    let mut o = 0usize;
    for i in 0..buf.len() {
        let c = buf[i];
        match c {
            b'"' => {
                if state == S::InString {
                    state = S::Normal;
                } else if matches!(state, S::Normal | S::Underscore | S::Space) {
                    state = S::InString;
                }
                buf[o] = b'"';
                o += 1;
            }
            b'_' => {
                if state == S::Space {
                    state = S::Underscore;
                }
                buf[o] = b'_';
                o += 1;
            }
            b'\r' => {
                if state == S::Underscore {
                    state = S::UnderscoreCr;
                }
                buf[o] = b'\r';
                o += 1;
            }
            b'\n' => {
                if state == S::Underscore {
                    o = o.saturating_sub(1);
                    state = S::Space;
                } else if state == S::UnderscoreCr {
                    o = o.saturating_sub(2);
                    state = S::Space;
                } else {
                    buf[o] = b'\n';
                    o += 1;
                }
            }
            b'\t' | b' ' => {
                if state != S::Space {
                    buf[o] = b' ';
                    o += 1;
                }
                if matches!(state, S::Normal | S::Underscore) {
                    state = S::Space;
                }
            }
            _ => {
                if matches!(state, S::Normal | S::Underscore | S::Space) {
                    buf[o] = c.to_ascii_lowercase();
                    state = S::Normal;
                } else {
                    buf[o] = c;
                }
                o += 1;
            }
        }
    }
    buf.truncate(o);
}

/// Where a module's stream is, as ClamAV looks it up by its normalised name.
pub enum ModuleStream {
    /// The name is not one ClamAV can form (empty, or over 128 bytes): the project is not
    /// listed.
    Nowhere,
    /// The streams of that name in the `dir` stream's own storage, in walk order (none: the
    /// module is left out).
    Here(Vec<Vec<u8>>),
}

/// Why a project gave no listing.
#[derive(Debug, PartialEq, Eq)]
pub enum NoListing {
    /// The `dir` stream does not decompress.
    Compressed,
    /// A record that does not parse, or a module stream name ClamAV can't form (it lists
    /// nothing).
    Records,
}

struct Listing<'a> {
    out: Vec<u8>,
    codepage: u16,
    unsupported: &'a mut bool,
    /// The most bytes the listing may hold; past them it is cut.
    max: usize,
    over: bool,
}

impl Listing<'_> {
    fn w(&mut self, s: &[u8]) {
        let room = self.max.saturating_sub(self.out.len());
        if s.len() > room {
            self.over = true;
        }
        self.out.extend_from_slice(&s[..s.len().min(room)]);
    }

    /// A string in the project's code page (or UTF-16LE), or the error marker; the converted
    /// text is returned for comparisons.
    fn string(&mut self, bytes: &[u8], codepage: u16) -> Option<Vec<u8>> {
        if bytes.is_empty() {
            return None;
        }
        match convert(bytes, codepage) {
            Converted::Text(t) => {
                self.w(&t);
                Some(t)
            }
            Converted::Failed => {
                self.w(b"<error decoding string>");
                None
            }
            Converted::Unsupported => {
                *self.unsupported = true;
                self.w(bytes);
                Some(bytes.to_vec())
            }
        }
    }
}

fn rd16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        d.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn rd32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        d.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// A project's listing, and whether it was cut at the size asked for.
pub struct Listed {
    pub text: Vec<u8>,
    pub cut: bool,
}

/// Lists a VBA project from its compressed `dir` stream (see the module documentation), in
/// at most `max` bytes (a `dir` stream can name one module stream many times over, so a
/// listing is bounded by its reader, not by its input). `module` finds a module's streams by
/// its stream name (UTF-16LE). `unsupported` is set when some text was in a code page this
/// reader does not convert.
pub fn listing(
    dir_stream: &[u8],
    mut module: impl FnMut(&[u8]) -> ModuleStream,
    unsupported: &mut bool,
    max: usize,
) -> Result<Listed, NoListing> {
    let data = inflate(dir_stream, 0, max).ok_or(NoListing::Compressed)?;
    if data.is_empty() {
        return Err(NoListing::Compressed);
    }
    let mut l = Listing {
        out: Vec::new(),
        codepage: 28591,
        unsupported,
        max,
        over: false,
    };
    l.w(b"REM VBA project extracted from Microsoft Office document\n\n");
    let bad = || NoListing::Records;
    let mut off = 0usize;
    // Reads a record header (id, size) at `off`, checking the size against the data.
    macro_rules! header {
        () => {{
            let id = rd16(&data, off).ok_or_else(bad)?;
            off += 2;
            let size = rd32(&data, off).ok_or_else(bad)? as usize;
            off += 4;
            if size > data.len() - off {
                return Err(bad());
            }
            (id, size)
        }};
    }
    // A sub-record of a module: its id must be `want`.
    macro_rules! sub {
        ($want:expr) => {{
            if data.len() - off < 6 {
                return Err(bad());
            }
            let (id, size) = header!();
            if !$want.contains(&id) {
                return Err(bad());
            }
            (id, size)
        }};
    }
    while off < data.len() {
        if l.over {
            return Ok(Listed {
                text: l.out,
                cut: true,
            });
        }
        let (id, size) = header!();
        let body = &data[off..off + size];
        match id {
            0x0001 => {
                let kind = rd32(body, 0).filter(|_| size == 4).ok_or_else(bad)?;
                off += 4;
                l.w(b"REM PROJECTSYSKIND: ");
                match kind {
                    0 => l.w(b"Windows 16 bit"),
                    1 => l.w(b"Windows 32 bit"),
                    2 => l.w(b"Macintosh"),
                    3 => l.w(b"Windows 64 bit"),
                    k => l.w(format!("Unknown (0x{k:x})").as_bytes()),
                }
                l.w(b"\n");
            }
            0x0002 | 0x0014 | 0x0007 | 0x0008 => {
                let v = rd32(body, 0).filter(|_| size == 4).ok_or_else(bad)?;
                off += 4;
                let line = match id {
                    0x0002 => format!("REM PROJECTLCID: 0x{v:08x}\n"),
                    0x0014 => format!("REM PROJECTLCIDINVOKE: 0x{v:08x}\n"),
                    0x0007 => format!("REM PROJECTHELPCONTEXT: 0x{v:04x}\n"),
                    _ => format!("REM PROJECTLIBFLAGS: 0x{v:04x}\n"),
                };
                l.w(line.as_bytes());
            }
            0x0003 => {
                let cp = rd16(body, 0).filter(|_| size == 2).ok_or_else(bad)?;
                off += 2;
                l.codepage = cp;
                l.w(format!("REM PROJECTCODEPAGE: 0x{cp:04x}\n").as_bytes());
            }
            0x0004 => {
                if !(1..=128).contains(&size) {
                    return Err(bad());
                }
                l.w(b"REM PROJECTNAME: ");
                l.string(body, l.codepage);
                off += size;
                l.w(b"\n");
            }
            0x0005 => {
                if size > 2000 {
                    return Err(bad());
                }
                l.w(b"REM PROJECTDOCSTRING: ");
                l.string(body, l.codepage);
                off += size;
                l.w(b"\n");
            }
            0x0040 => {
                if !size.is_multiple_of(2) {
                    return Err(bad());
                }
                l.w(b"REM PROJECTDOCSTRINGUNICODE: ");
                l.string(body, 1200);
                off += size;
                l.w(b"\n");
            }
            0x0006 => {
                if size > 260 {
                    return Err(bad());
                }
                let first = off;
                l.w(b"REM PROJECTHELPFILEPATH: ");
                l.string(body, l.codepage);
                off += size;
                l.w(b"\n");
                let next = rd16(&data, off).ok_or_else(bad)?;
                if next != 0x003d {
                    l.w(b"REM WARNING: PROJECTHELPFILEPATH is not followed by PROJECTHELPFILEPATH2\n");
                    continue;
                }
                off += 2;
                let size2 = rd32(&data, off).ok_or_else(bad)? as usize;
                off += 4;
                if size2 > data.len() - off || size2 > 260 {
                    return Err(bad());
                }
                if size != size2 {
                    l.w(b"REM WARNING: PROJECTHELPFILEPATH and PROJECTHELPFILEPATH2 record sizes differ\n");
                } else if data[first..first + size] != data[off..off + size2] {
                    l.w(b"REM WARNING: PROJECTHELPFILEPATH and PROJECTHELPFILEPATH2 contents differ\n");
                }
                l.w(b"REM PROJECTHELPFILEPATH2: ");
                l.string(&data[off..off + size2], 1200);
                off += size2;
                l.w(b"\n");
            }
            0x0009 => {
                let major = rd32(body, 0).filter(|_| size == 4).ok_or_else(bad)?;
                off += 4;
                let minor = rd16(&data, off).ok_or_else(bad)?;
                off += 2;
                l.w(format!("REM PROJECTVERSION: {major}.{minor}\n").as_bytes());
            }
            0x000f => {
                let n = rd16(body, 0).filter(|_| size == 2).ok_or_else(bad)?;
                off += 2;
                l.w(format!("REM PROJECTMODULES: {n}\n").as_bytes());
            }
            0x0013 => {
                let c = rd16(body, 0).filter(|_| size == 2).ok_or_else(bad)?;
                off += 2;
                l.w(format!("REM PROJECTCOOKIE: 0x{c:04x}\n").as_bytes());
            }
            0x0019 => {
                l.w(b"\n\nREM MODULENAME: ");
                let mbcs = l.string(body, l.codepage);
                off += size;
                // MODULENAMEUNICODE, MODULESTREAMNAME (+ UNICODE), MODULEDOCSTRING (+ UNICODE).
                let (_, size) = sub!([0x0047]);
                l.w(b"\nREM MODULENAMEUNICODE: ");
                let utf16 = l.string(&data[off..off + size], 1200);
                off += size;
                if let (Some(a), Some(b)) = (&mbcs, &utf16) {
                    if a != b {
                        l.w(b"\nREM WARNING: MODULENAME and MODULENAMEUNICODE differ");
                    }
                }
                let (_, size) = sub!([0x001a]);
                l.w(b"\nREM MODULESTREAMNAME: ");
                let mbcs = l.string(&data[off..off + size], l.codepage);
                off += size;
                let (_, size) = sub!([0x0032]);
                l.w(b"\nREM MODULESTREAMNAMEUNICODE: ");
                let stream_name = &data[off..off + size];
                let utf16 = l.string(stream_name, 1200);
                off += size;
                if let (Some(a), Some(b)) = (&mbcs, &utf16) {
                    if a != b {
                        l.w(b"\nREM WARNING: MODULESTREAMNAME and MODULESTREAMNAMEUNICODE differ");
                    }
                }
                let (_, size) = sub!([0x001c]);
                l.w(b"\nREM MODULEDOCSTRING: ");
                let mbcs = l.string(&data[off..off + size], l.codepage);
                off += size;
                let (_, size) = sub!([0x0048]);
                l.w(b"\nREM MODULEDOCSTRINGUNICODE: ");
                let utf16 = l.string(&data[off..off + size], 1200);
                off += size;
                if let (Some(a), Some(b)) = (&mbcs, &utf16) {
                    if a != b {
                        l.w(b"\nREM WARNING: MODULEDOCSTRING and MODULEDOCSTRINGUNICODE differ");
                    }
                }
                let (_, size) = sub!([0x0031]);
                let module_offset = rd32(&data, off).filter(|_| size == 4).ok_or_else(bad)?;
                off += 4;
                l.w(format!("\nREM MODULEOFFSET: 0x{module_offset:08x}").as_bytes());
                let (_, size) = sub!([0x001e]);
                let help = rd32(&data, off).filter(|_| size == 4).ok_or_else(bad)?;
                off += 4;
                l.w(format!("\nREM MODULEHELPCONTEXT: 0x{help:08x}").as_bytes());
                let (_, size) = sub!([0x002c]);
                let cookie = rd16(&data, off).filter(|_| size == 2).ok_or_else(bad)?;
                off += 2;
                l.w(format!("\nREM MODULECOOKIE: 0x{cookie:04x}").as_bytes());
                let (kind, size) = sub!([0x0021, 0x0022]);
                if size != 0 {
                    return Err(bad());
                }
                l.w(if kind == 0x21 {
                    b"\nREM MODULETYPE: Procedural".as_slice()
                } else {
                    b"\nREM MODULETYPE: Class".as_slice()
                });
                // Optional MODULEREADONLY and MODULEPRIVATE, then the terminator.
                let mut id = rd16(&data, off).ok_or_else(bad)?;
                off += 2;
                for (opt, text) in [
                    (0x0025u16, b"\nREM MODULEREADONLY".as_slice()),
                    (0x0028, b"\nREM MODULEPRIVATE".as_slice()),
                ] {
                    if id == opt {
                        let size = rd32(&data, off).ok_or_else(bad)?;
                        off += 4;
                        if size != 0 {
                            return Err(bad());
                        }
                        l.w(text);
                        id = rd16(&data, off).ok_or_else(bad)?;
                        off += 2;
                    }
                }
                if id != 0x002b {
                    return Err(bad());
                }
                let size = rd32(&data, off).ok_or_else(bad)?;
                off += 4;
                if size != 0 {
                    return Err(bad());
                }
                l.w(b"\nREM ##################################################\n");
                match module(stream_name) {
                    ModuleStream::Nowhere => return Err(bad()),
                    ModuleStream::Here(streams) => {
                        for s in &streams {
                            let room = l.max.saturating_sub(l.out.len());
                            let Some(source) = inflate(s, module_offset as usize, room) else {
                                continue;
                            };
                            match convert(&source, l.codepage) {
                                Converted::Text(mut t) => {
                                    normalize(&mut t);
                                    l.w(&t);
                                }
                                Converted::Failed => l.w(b"\n<Error decoding module data>\n"),
                                Converted::Unsupported => {
                                    *l.unsupported = true;
                                    let mut t = source;
                                    normalize(&mut t);
                                    l.w(&t);
                                }
                            }
                            break;
                        }
                    }
                }
            }
            0x0010 => break,
            _ => off += size,
        }
    }
    Ok(Listed {
        cut: l.over,
        text: l.out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MS-OVBA's own example (section 3.2.1): "#aaabcdefaaaaghijaaaaaklaaamnopqaaaaaaaaaaaarstuvwxyzaaa".
    #[test]
    fn inflates_the_specification_example() {
        let compressed: &[u8] = &[
            0x01, 0x2f, 0xb0, 0x00, 0x23, 0x61, 0x61, 0x61, 0x62, 0x63, 0x64, 0x65, 0x82, 0x66,
            0x00, 0x70, 0x61, 0x67, 0x68, 0x69, 0x6a, 0x01, 0x38, 0x08, 0x61, 0x6b, 0x6c, 0x00,
            0x30, 0x6d, 0x6e, 0x6f, 0x70, 0x06, 0x71, 0x02, 0x70, 0x04, 0x10, 0x72, 0x73, 0x74,
            0x75, 0x76, 0x10, 0x77, 0x78, 0x79, 0x7a, 0x00, 0x3c,
        ];
        assert_eq!(
            inflate(compressed, 0, usize::MAX).unwrap(),
            b"#aaabcdefaaaaghijaaaaaklaaamnopqaaaaaaaaaaaarstuvwxyzaaa"
        );
        // Cut inside a copy token: nothing.
        assert_eq!(
            inflate(&compressed[..compressed.len() - 1], 0, usize::MAX),
            None
        );
    }

    /// Literal-only compression in the form ClamAV's reader takes: at each window boundary, a
    /// flag byte whose first bit is clear, then the next chunk's two header bytes.
    fn literal_only(data: &[u8]) -> Vec<u8> {
        let mut out = vec![1, 0, 0];
        for (k, window) in data.chunks(WINDOW).enumerate() {
            if k > 0 {
                out.extend_from_slice(&[0, 0, 0]);
            }
            for group in window.chunks(8) {
                out.push(0);
                out.extend_from_slice(group);
            }
        }
        out
    }

    fn rec(out: &mut Vec<u8>, id: u16, body: &[u8]) {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
    }

    /// A `dir` stream naming one module stream thousands of times: the listing is cut at the
    /// size asked for, not as large as the records times the module.
    #[test]
    fn listing_is_bounded_by_its_reader() {
        let mut d = Vec::new();
        rec(&mut d, 0x0003, &1252u16.to_le_bytes());
        for _ in 0..2000 {
            rec(&mut d, 0x0019, b"M");
            rec(&mut d, 0x0047, b"M\0");
            rec(&mut d, 0x001a, b"M");
            rec(&mut d, 0x0032, b"M\0");
            rec(&mut d, 0x001c, b"");
            rec(&mut d, 0x0048, b"");
            rec(&mut d, 0x0031, &0u32.to_le_bytes());
            rec(&mut d, 0x001e, &0u32.to_le_bytes());
            rec(&mut d, 0x002c, &0u16.to_le_bytes());
            rec(&mut d, 0x0021, b"");
            rec(&mut d, 0x002b, b"");
        }
        let dir = literal_only(&d);
        let source = literal_only(&b"Sub X()\r\n  MsgBox 1\r\nEnd Sub\r\n".repeat(60));
        let mut calls = 0;
        let mut unsupported = false;
        let l = listing(
            &dir,
            |name| {
                assert_eq!(name, b"M\0");
                calls += 1;
                ModuleStream::Here(vec![source.clone()])
            },
            &mut unsupported,
            100_000,
        )
        .unwrap();
        assert!(l.cut);
        assert_eq!(l.text.len(), 100_000);
        assert!(calls < 100, "{calls} modules read");
        // Without a bound to reach, every module is listed, each with its source.
        let l = listing(
            &dir,
            |_| ModuleStream::Here(vec![source.clone()]),
            &mut unsupported,
            usize::MAX,
        )
        .unwrap();
        assert!(!l.cut);
        assert_eq!(
            memchr::memmem::find_iter(&l.text, b"end sub").count(),
            2000 * 60
        );
    }

    #[test]
    fn normalises_as_clamav() {
        let mut v =
            b"Sub AutoOpen()\r\n  Shell  \"CMD /C Echo\", _\r\n   vbHide\r\nEnd Sub".to_vec();
        normalize(&mut v);
        assert_eq!(
            v,
            b"sub autoopen()\r\n shell \"CMD /C Echo\", vbhide\r\nend sub"
        );
    }

    #[test]
    fn code_pages() {
        assert!(
            matches!(convert(b"caf\xe9 \x80", 1252), Converted::Text(t) if t == "café €".as_bytes())
        );
        assert!(matches!(convert(b"\x81", 1252), Converted::Failed));
        assert!(matches!(convert(b"ab\xc3", 65001), Converted::Text(t) if t == b"ab\0"));
        assert!(matches!(convert(b"a\0b\0", 1200), Converted::Text(t) if t == b"ab"));
        assert!(matches!(convert(b"plain", 932), Converted::Text(t) if t == b"plain"));
        assert!(matches!(convert(b"\x82\xa0", 932), Converted::Unsupported));
    }
}
