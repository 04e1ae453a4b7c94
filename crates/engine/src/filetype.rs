//! File types as ClamAV's signature targets see them: recognised from the first KiB by the
//! magic numbers and patterns of ClamAV's built-in type table (`filetypes_int.h`), so that a
//! target-typed signature applies to the files clamscan applies it to.

/// How much of a file typing reads (ClamAV: the first 1,024 bytes).
pub const TYPING_WINDOW: usize = 1024;

/// A file type that decides which targets apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileType {
    /// `MZ`: a DOS/PE executable (CL_TYPE_MSEXE).
    Pe,
    /// `\x7fELF`.
    Elf,
    /// A thin Mach-O file (32 or 64 bit, either byte order).
    MachO,
    /// A Mach-O universal ("fat") binary.
    MachOFat,
    /// A Java class file.
    Java,
    /// An OLE2 compound file.
    Ole2,
    /// A PDF document.
    Pdf,
    /// A Flash file (`FWS`, `CWS`, `ZWS`).
    Swf,
    /// RTF.
    Rtf,
    /// GIF, PNG, JPEG, TIFF, BMP, JPEG 2000.
    Graphics,
    /// A mail message (by its first header).
    Mail,
    /// HTML (by one of ClamAV's HTML patterns in the first KiB: see [`html_marker`]).
    Html,
    /// HTML in UTF-16 (an HTML pattern in the first KiB once its 16-bit units are read as
    /// bytes, ClamAV's CL_TYPE_HTML_UTF16).
    HtmlUtf16,
    /// Text.
    Text,
    /// Anything else.
    Binary,
}

impl FileType {
    /// The signature target (ClamAV's `cli_mtargets`) this type is scanned with besides
    /// target 0; 0 when none.
    pub fn target(self) -> u8 {
        match self {
            FileType::Pe => 1,
            FileType::Ole2 => 2,
            FileType::Html => 3,
            FileType::Mail => 4,
            FileType::Graphics => 5,
            FileType::Elf => 6,
            FileType::MachO | FileType::MachOFat => 9,
            FileType::Pdf => 10,
            FileType::Swf => 11,
            FileType::Java => 12,
            FileType::Rtf | FileType::Text | FileType::Binary | FileType::HtmlUtf16 => 0,
        }
    }

    /// Whether ClamAV reads an executable layout for this type (and, when it can't, lets no
    /// relative offset match).
    pub fn is_executable(self) -> bool {
        matches!(
            self,
            FileType::Pe | FileType::Elf | FileType::MachO | FileType::MachOFat
        )
    }
}

/// Static magic at offset 0, in the order tried (ClamAV tries its table from the last entry
/// loaded; none of these prefixes is a prefix of another one that maps differently).
const MAGIC: &[(&[u8], FileType)] = &[
    (b"MZ", FileType::Pe),
    (b"\x7fELF", FileType::Elf),
    (b"\xfe\xed\xfa\xce", FileType::MachO),
    (b"\xfe\xed\xfa\xcf", FileType::MachO),
    (b"\xce\xfa\xed\xfe", FileType::MachO),
    (b"\xcf\xfa\xed\xfe", FileType::MachO),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", FileType::Ole2),
    (b"%PDF-", FileType::Pdf),
    (b"FWS", FileType::Swf),
    (b"CWS", FileType::Swf),
    (b"ZWS", FileType::Swf),
    (b"{\\rt", FileType::Rtf),
    (b"GIF", FileType::Graphics),
    (b"\x89PNG", FileType::Graphics),
    (b"\xff\xd8\xff", FileType::Graphics),
    (b"II*\0", FileType::Graphics),
    (b"MM", FileType::Graphics),
    (b"BM", FileType::Graphics),
    (b"\0\0\0\x0cjP  \r\n\x87\n", FileType::Graphics),
    (b"From ", FileType::Mail),
    (b"From: ", FileType::Mail),
    (b">From ", FileType::Mail),
    (b"Received: ", FileType::Mail),
    (b"Return-Path: ", FileType::Mail),
    (b"Subject: ", FileType::Mail),
    (b"To: ", FileType::Mail),
    (b"Date: ", FileType::Mail),
    (b"Message-Id: ", FileType::Mail),
    (b"Message-ID: ", FileType::Mail),
    (b"Delivered-To: ", FileType::Mail),
];

/// What follows `<` in the HTML patterns of ClamAV's type table (`HTML data`), matched
/// anywhere: in the first KiB they type a file as HTML; anywhere in a text file they send it
/// to the HTML normaliser after its raw scan.
const HTML_TAGS: &[&[u8]] = &[
    b"HEAD>", b"HTML>", b"Head>", b"Html>", b"IFRAME", b"IMG", b"Img", b"OBJECT", b"Object",
    b"SCRIPT", b"Script", b"TABLE", b"head>", b"html>", b"iframe", b"img", b"object", b"script",
    b"table",
];

/// Whether `data` holds one of ClamAV's HTML type patterns: a tag of [`HTML_TAGS`], `<a ` (or
/// `<A `) followed anywhere later by `href` in the cases the table lists (`[hH][rR]EF`,
/// `[hH][rR]ef`), or `<%@ LANGUAGE =` at the start.
pub fn html_marker(data: &[u8]) -> bool {
    if data.starts_with(b"<%@ LANGUAGE =") {
        return true;
    }
    let mut anchor_end = None;
    for i in memchr::memchr_iter(b'<', data) {
        let rest = &data[i + 1..];
        if HTML_TAGS.iter().any(|t| rest.starts_with(t)) {
            return true;
        }
        if anchor_end.is_none() && (rest.starts_with(b"a ") || rest.starts_with(b"A ")) {
            anchor_end = Some(i + 3);
        }
    }
    anchor_end.is_some_and(|from| {
        let tail = &data[from..];
        memchr::memchr2_iter(b'h', b'H', tail).any(|j| {
            matches!(tail.get(j + 1), Some(b'r' | b'R'))
                && matches!(tail.get(j + 2..j + 4), Some(b"EF" | b"ef"))
        })
    })
}

/// ClamAV's text test (`cli_texttype`): no byte 0x00-0x06, 0x0e-0x1a, 0x1c-0x1f or 0x7f.
fn is_ascii_text(head: &[u8]) -> bool {
    head.iter().all(|&b| {
        !(b <= 6 || (0x0e..=0x1a).contains(&b) || (0x1c..=0x1f).contains(&b) || b == 0x7f)
    })
}

/// `MZ`, then 60 to 300 bytes, then `PE\0\0`, somewhere in `head` (ClamAV's pattern for
/// executables that don't start at offset 0, which types a text or binary file as PE).
fn has_embedded_pe_header(head: &[u8]) -> bool {
    memchr::memmem::find_iter(head, b"MZ").any(|i| {
        let from = i + 2 + 60;
        let to = (i + 2 + 300 + 4).min(head.len());
        from < to && memchr::memmem::find(&head[from..to], b"PE\0\0").is_some()
    })
}

/// ClamAV's `cli_utf16toascii`: each pair of bytes becomes one, `(high << 4) + low` (the low
/// byte for ASCII text in UTF-16LE); an odd last byte is dropped.
pub fn utf16_to_ascii(data: &[u8]) -> Vec<u8> {
    data.chunks_exact(2)
        .map(|p| (p[1] << 4).wrapping_add(p[0]))
        .collect()
}

/// The type of a file, from its first [`TYPING_WINDOW`] bytes.
pub fn file_type(data: &[u8]) -> FileType {
    let head = &data[..data.len().min(TYPING_WINDOW)];
    if head.starts_with(b"\xca\xfe\xba\xbe") && head.len() >= 8 {
        // The next word tells a universal binary (its architecture count) from a Java class
        // (minor 0, major 0x20-0x3f); anything else is left as data.
        if head[4..7] == [0, 0, 0] {
            match head[7] >> 4 {
                0 | 1 => return FileType::MachOFat,
                2 | 3 => return FileType::Java,
                _ => {}
            }
        }
    }
    for (magic, t) in MAGIC {
        if head.starts_with(magic) {
            return *t;
        }
    }
    let base = if is_ascii_text(head) {
        FileType::Text
    } else {
        FileType::Binary
    };
    // The pattern types of ClamAV's table, tried on text and binary files only.
    if has_embedded_pe_header(head) {
        return FileType::Pe;
    }
    // HTML outranks PDF in ClamAV's type order, wherever each pattern is.
    if html_marker(head) {
        return FileType::Html;
    }
    if memchr::memmem::find(head, b"%PDF-").is_some_and(|i| head.get(i + 6) == Some(&b'.'))
        || memchr::memmem::find(head, b"%pdf-").is_some_and(|i| head.get(i + 6) == Some(&b'.'))
    {
        return FileType::Pdf;
    }
    // No pattern: the first KiB read as UTF-16 (ClamAV's `cli_utf16toascii`).
    if head.len() >= 2 && html_marker(&utf16_to_ascii(head)) {
        return FileType::HtmlUtf16;
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_and_patterns() {
        assert_eq!(file_type(b"MZ\x90\0"), FileType::Pe);
        assert_eq!(file_type(b"\x7fELF\x02\x01\x01"), FileType::Elf);
        assert_eq!(file_type(b"\xcf\xfa\xed\xfe\x07\0\0\x01"), FileType::MachO);
        assert_eq!(
            file_type(b"\xca\xfe\xba\xbe\0\0\0\x02rest"),
            FileType::MachOFat
        );
        assert_eq!(file_type(b"\xca\xfe\xba\xbe\0\0\0\x34rest"), FileType::Java);
        // Java 20 and later (major 0x40 and up) stay data, as in ClamAV's table.
        assert_eq!(
            file_type(b"\xca\xfe\xba\xbe\0\0\0\x44rest"),
            FileType::Binary
        );
        assert_eq!(file_type(b"%PDF-1.7\n"), FileType::Pdf);
        assert_eq!(file_type(b"junk\n%PDF-1.4\n"), FileType::Pdf);
        assert_eq!(file_type(b"\x89PNG\r\n\x1a\n"), FileType::Graphics);
        assert_eq!(file_type(b"From: a@b\n"), FileType::Mail);
        assert_eq!(file_type(b"hello <html> there"), FileType::Html);
        assert_eq!(file_type(b"<a href=x>"), FileType::Html);
        assert_eq!(file_type(b"<A title=t HREF=x>"), FileType::Html);
        // `HrEf` is not among the table's spellings (`Href` is), nor is `<a` without a space.
        assert_eq!(file_type(b"<a Href=x>"), FileType::Html);
        assert_eq!(file_type(b"<a HrEf=x>"), FileType::Text);
        assert_eq!(file_type(b"<a\thref=x>"), FileType::Text);
        assert_eq!(file_type(b"junk %PDF-1.4 <iframe"), FileType::Html);
        assert_eq!(
            file_type(b"\xff\xfe<\0h\0t\0m\0l\0>\0"),
            FileType::HtmlUtf16
        );
        assert_eq!(file_type(b"<\0p\0>\0"), FileType::Binary);
        // Magic at the start wins over patterns.
        assert_eq!(file_type(b"%PDF-1.4 <iframe"), FileType::Pdf);
        assert_eq!(file_type(b"plain text\n"), FileType::Text);
        assert_eq!(file_type(b"\x01\x02\x03"), FileType::Binary);
        let mut emb = b"text text MZ".to_vec();
        emb.extend(std::iter::repeat_n(b'x', 80));
        emb.extend_from_slice(b"PE\0\0");
        assert_eq!(file_type(&emb), FileType::Pe);
        // Beyond the first KiB, nothing counts.
        let mut late = vec![b'a'; 2000];
        late.extend_from_slice(b"<html>");
        assert_eq!(file_type(&late), FileType::Text);
    }
}
