//! Looking into archives and compressed files, in memory, within one budget per top-level file.
//!
//! [`Container::detect`] recognises zip (split and spanned zips included), tar, gzip, bzip2, xz
//! and zstd by their magic bytes; [`unpack`] hands each member to a [`Host`] (the walker), which
//! scans it and may recurse. All limits are those of clamscan and are counted across the whole
//! walk of one top-level file, in one [`Budget`], as ClamAV counts them in its per-file context:
//! bytes scanned at every level (`--max-scansize`), layers scanned (`--max-files`, the top-level
//! file and every container included) and nesting (`--max-recursion`, checked by the host).
//!
//! Decompression is bounded by the budget: a member is never decompressed beyond what is left of
//! the scan budget (or `--max-filesize`, or the inflation budget, whichever is smallest) plus one
//! byte, the byte that tells it is over. The bytes every decompressor produces, scanned or
//! thrown away, are counted in [`Budget::inflated`] against an inflation budget of
//! `--max-scansize`, so a bomb, nested or flat, costs at most about that much work whatever its
//! structure.
//!
//! A member over a limit is handled as clamscan 1.4.3 handles it, per format:
//! - zip: a member decompressing to more than `--max-filesize` is cut to that size (to a whole
//!   number of 8 KiB blocks for compressed members, as ClamAV's `unz()` writes them) and the
//!   prefix scanned, with no limit alert; a member that does not fit in what is left of the
//!   scan budget, or the first one met once `--max-files` layers were scanned, is not scanned,
//!   and the zip's loop stops there (later members are not visited). A zip with at least
//!   `--max-files` entries raises `MaxFiles` and only that many entries are considered.
//! - tar: a member over the limits has its prefix scanned, in whole 512-byte blocks, up to what
//!   the limits allow, and the limit is raised; once `--max-files` layers were scanned the walk
//!   stops.
//! - gzip, bzip2, xz, zstd: a stream decompressing to more than the limits allow is not scanned
//!   at all, and the limit is raised.

use std::io::{self, Cursor, Read};

use crate::{Limits, Why};

/// Kinds of containers detente looks into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// PKZIP archive.
    Zip,
    /// POSIX/GNU tar archive.
    Tar,
    /// gzip stream.
    Gzip,
    /// bzip2 stream.
    Bzip2,
    /// xz stream.
    Xz,
    /// Zstandard frame.
    Zstd,
    /// Mach-O universal binary: each architecture's slice is scanned as a file of its own,
    /// as ClamAV does (`cli_scanmacho_unibin`).
    MachOFat,
    /// cpio archive: old binary (either byte order), portable ASCII (`070707`), or new ASCII
    /// (`070701`, `070702` with checksums).
    Cpio(CpioKind),
    /// Microsoft's `compress.exe` format (SZDD): one LZSS-compressed file.
    Szdd,
    /// 7z archive.
    SevenZ,
    /// Microsoft cabinet.
    Cab,
    /// OLE2 compound file (Office 97–2003 documents, MSI, `.msg`).
    Ole2,
    /// One zip entry found embedded in another file: its local header at the start.
    ZipEntry,
    /// PDF document: each object's stream, decoded.
    Pdf,
    /// RTF document: its embedded objects.
    Rtf,
    /// RAR archive (versions 1.5–4 and 5): recognised, not unpacked (no freely licensed
    /// decoder), so its members are reported as not scanned.
    Rar,
    /// BinHex 4.0 text: a Macintosh file's data and resource forks.
    BinHex,
    /// A mail message: its MIME parts, decoded.
    Mail,
    /// TNEF (`winmail.dat`): Outlook's attachments.
    Tnef,
    /// A uuencoded file (`begin ` at its start).
    Uuencoded,
    /// ARJ archive.
    Arj,
    /// LHA/LZH archive.
    Lha,
    /// ALZ archive (ALZip).
    Alz,
}

/// The cpio header formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpioKind {
    /// Old binary headers, in this byte order (`true`: little-endian).
    Old(bool),
    /// Portable ASCII (octal) headers.
    Odc,
    /// New ASCII (hexadecimal) headers; `true` for the checksummed variant.
    Newc(bool),
}

/// Most architectures of a universal binary ClamAV reads (more: a broken file).
const FAT_MAX_ARCHS: u32 = 32;

/// `cafebabe` followed by an architecture count ClamAV's type table reads as a universal
/// binary (a Java class has its major version there, 0x20 and up).
fn is_macho_fat(data: &[u8]) -> bool {
    data.len() >= 8
        && data.starts_with(b"\xca\xfe\xba\xbe")
        && data[4..7] == [0, 0, 0]
        && data[7] < 0x20
}

/// The markers that may precede the first local header of a split or spanned zip (`PK\x07\x08`,
/// ClamAV's "First segment split/spanned"; `PK00`; `PK\x03\x03`, "Single-segment
/// split/spanned"). Offsets in such a file count from its first byte, marker included.
const SPLIT_ZIP_MARKERS: [&[u8; 4]; 3] = [b"PK\x07\x08", b"PK00", b"PK\x03\x03"];

fn is_split_zip(data: &[u8]) -> bool {
    data.get(4..8) == Some(b"PK\x03\x04") && SPLIT_ZIP_MARKERS.iter().any(|m| data.starts_with(*m))
}

impl Container {
    /// Recognises a container by its first bytes.
    pub fn detect(data: &[u8]) -> Option<Container> {
        if data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06") || is_split_zip(data)
        {
            Some(Container::Zip)
        } else if data.starts_with(&[0x1f, 0x8b]) {
            Some(Container::Gzip)
        } else if data.len() >= 10 && data.starts_with(b"BZh") && (b'1'..=b'9').contains(&data[3]) {
            Some(Container::Bzip2)
        } else if data.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Container::Xz)
        } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Container::Zstd)
        } else if data.starts_with(b"7z\xbc\xaf\x27\x1c") {
            Some(Container::SevenZ)
        } else if data.starts_with(b"MSCF") {
            Some(Container::Cab)
        } else if data.starts_with(b"{\\rtf") {
            Some(Container::Rtf)
        } else if data.starts_with(crate::ole2::MAGIC) {
            Some(Container::Ole2)
        } else if data.starts_with(b"Rar!\x1a\x07\x00") || data.starts_with(b"Rar!\x1a\x07\x01\x00")
        {
            Some(Container::Rar)
        } else if data.len() >= 6 && data.starts_with(crate::tnef::MAGIC) {
            Some(Container::Tnef)
        } else if data.starts_with(crate::binhex::MAGIC) {
            Some(Container::BinHex)
        } else if is_macho_fat(data) {
            Some(Container::MachOFat)
        } else if data.len() >= 14 && data.starts_with(b"SZDD\x88\xf0\x27\x33\x41\x00") {
            Some(Container::Szdd)
        } else if data.starts_with(crate::arj::MAGIC) {
            Some(Container::Arj)
        } else if crate::lha::is_lha(data) {
            Some(Container::Lha)
        } else if data.starts_with(crate::alz::MAGIC) {
            Some(Container::Alz)
        } else if data.starts_with(b"070707") {
            Some(Container::Cpio(CpioKind::Odc))
        } else if data.starts_with(b"070701") || data.starts_with(b"070702") {
            Some(Container::Cpio(CpioKind::Newc(data[5] == b'2')))
        } else if data.len() >= 26 && data.starts_with(&[0xc7, 0x71]) {
            Some(Container::Cpio(CpioKind::Old(true)))
        } else if data.len() >= 26 && data.starts_with(&[0x71, 0xc7]) {
            Some(Container::Cpio(CpioKind::Old(false)))
        } else if is_tar(data) {
            Some(Container::Tar)
        } else if data.starts_with(b"begin ") {
            Some(Container::Uuencoded)
        } else {
            match detente_engine::filetype::file_type(data) {
                detente_engine::filetype::FileType::Mail => Some(Container::Mail),
                detente_engine::filetype::FileType::Pdf => Some(Container::Pdf),
                _ => None,
            }
        }
    }

    /// ClamAV's type name for this container holding `data` (what `Container` and
    /// `Intermediates` conditions of its members' signatures compare with). A zip whose first
    /// entries are an Office Open XML document's is typed as that document, as ClamAV's
    /// `cli_determine_fmap_type` does from the names of its local headers.
    pub fn clamav_type(self, data: &[u8]) -> &'static str {
        match self {
            Container::Zip => ooxml_type(data).unwrap_or("CL_TYPE_ZIP"),
            Container::Tar => {
                if data.get(257..262) == Some(b"ustar") {
                    "CL_TYPE_POSIX_TAR"
                } else {
                    "CL_TYPE_OLD_TAR"
                }
            }
            Container::Gzip => "CL_TYPE_GZ",
            Container::Bzip2 => "CL_TYPE_BZ",
            Container::Xz => "CL_TYPE_XZ",
            Container::Zstd => "CL_TYPE_ZSTD",
            Container::MachOFat => "CL_TYPE_MACHO_UNIBIN",
            Container::Cpio(CpioKind::Old(_)) => "CL_TYPE_CPIO_OLD",
            Container::Cpio(CpioKind::Odc) => "CL_TYPE_CPIO_ODC",
            Container::Cpio(CpioKind::Newc(false)) => "CL_TYPE_CPIO_NEWC",
            Container::Cpio(CpioKind::Newc(true)) => "CL_TYPE_CPIO_CRC",
            Container::Szdd => "CL_TYPE_MSSZDD",
            Container::SevenZ => "CL_TYPE_7Z",
            Container::Cab => "CL_TYPE_MSCAB",
            Container::Ole2 => "CL_TYPE_MSOLE2",
            Container::ZipEntry => "CL_TYPE_ZIP",
            Container::Rar => "CL_TYPE_RAR",
            Container::Pdf => "CL_TYPE_PDF",
            Container::Rtf => "CL_TYPE_RTF",
            Container::BinHex => "CL_TYPE_BINHEX",
            Container::Mail => "CL_TYPE_MAIL",
            Container::Tnef => "CL_TYPE_TNEF",
            Container::Uuencoded => "CL_TYPE_UUENCODED",
            Container::Arj => "CL_TYPE_ARJ",
            Container::Lha => "CL_TYPE_LHA_LZH",
            Container::Alz => "CL_TYPE_ALZ",
        }
    }

    /// Whether ClamAV runs this parser after the raw scan of the file (`cli_magic_scan`'s
    /// second switch: PDF), rather than before it (every other container).
    pub fn after_raw_scan(self) -> bool {
        matches!(self, Container::Pdf)
    }

    /// Short lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Container::Zip => "zip",
            Container::Tar => "tar",
            Container::Gzip => "gzip",
            Container::Bzip2 => "bzip2",
            Container::Xz => "xz",
            Container::Zstd => "zstd",
            Container::MachOFat => "macho-fat",
            Container::Cpio(_) => "cpio",
            Container::Szdd => "szdd",
            Container::SevenZ => "7z",
            Container::Cab => "cab",
            Container::Ole2 => "ole2",
            Container::ZipEntry => "zip",
            Container::Rar => "rar",
            Container::Pdf => "pdf",
            Container::Rtf => "rtf",
            Container::BinHex => "binhex",
            Container::Mail => "mail",
            Container::Tnef => "tnef",
            Container::Uuencoded => "uuencoded",
            Container::Arj => "arj",
            Container::Lha => "lha",
            Container::Alz => "alz",
        }
    }
}

/// The Office Open XML type of a zip, from its local headers' names: one of the first three
/// names under `xl/`, `ppt/` or `word/` decides; when those look like an OOXML package's
/// (`[Content_Types].xml`, `docProps/`, `_rels/.rels`, ...), the first 256 names are looked at.
fn ooxml_type(data: &[u8]) -> Option<&'static str> {
    const KINDS: [(&[u8], &str); 3] = [
        (b"xl/", "CL_TYPE_OOXML_XL"),
        (b"ppt/", "CL_TYPE_OOXML_PPT"),
        (b"word/", "CL_TYPE_OOXML_WORD"),
    ];
    const LIKELY: [&[u8]; 6] = [
        b"[Content_Types].xml",
        b"[ContentTypes].xml",
        b"docProps/",
        b"customXml/",
        b"_rels/.rels",
        b"_.rels/.rels",
    ];
    let names = || {
        memchr::memmem::find_iter(data, b"PK\x03\x04").filter_map(|at| {
            let n = u16::from_le_bytes(data.get(at + 26..at + 28)?.try_into().ok()?) as usize;
            data.get(at + 30..at + 30 + n)
        })
    };
    let kind = |name: &[u8]| KINDS.iter().find(|(p, _)| name.starts_with(p)).map(|k| k.1);
    let mut likely = false;
    for name in names().take(3) {
        if let Some(k) = kind(name) {
            return Some(k);
        }
        likely |= LIKELY.iter().any(|p| name.starts_with(p));
    }
    if likely {
        return names().take(256).find_map(kind);
    }
    None
}

/// A tar header: "ustar" magic, or a v7 header whose checksum is right.
fn is_tar(data: &[u8]) -> bool {
    let Some(h) = data.get(..512) else {
        return false;
    };
    if &h[257..262] == b"ustar" {
        return true;
    }
    if h[0] == 0 {
        return false;
    }
    let field = &h[148..156];
    let digits: String = field
        .iter()
        .take_while(|b| **b != 0 && **b != b' ')
        .map(|b| *b as char)
        .collect();
    let Ok(want) = u32::from_str_radix(digits.trim(), 8) else {
        return false;
    };
    let sum: u32 = h
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                *b as u32
            }
        })
        .sum();
    sum == want && !digits.is_empty()
}

/// One of clamscan's scan limits, named as its `Heuristics.Limits.Exceeded.*` alerts name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// `--max-filesize`: a file or member too large.
    MaxFileSize,
    /// `--max-scansize`: the bytes scanned for one top-level file, all levels together.
    MaxScanSize,
    /// `--max-files`: the layers scanned for one top-level file, all levels together.
    MaxFiles,
    /// `--max-recursion`: nesting too deep.
    MaxRecursion,
}

impl Limit {
    /// The name clamscan reports under `--alert-exceeds-max`.
    pub fn heuristic(self) -> &'static str {
        match self {
            Limit::MaxFileSize => "Heuristics.Limits.Exceeded.MaxFileSize",
            Limit::MaxScanSize => "Heuristics.Limits.Exceeded.MaxScanSize",
            Limit::MaxFiles => "Heuristics.Limits.Exceeded.MaxFiles",
            Limit::MaxRecursion => "Heuristics.Limits.Exceeded.MaxRecursion",
        }
    }

    /// The option's name without dashes: `max-filesize`, `max-scansize`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::MaxFileSize => "max-filesize",
            Limit::MaxScanSize => "max-scansize",
            Limit::MaxFiles => "max-files",
            Limit::MaxRecursion => "max-recursion",
        }
    }
}

/// What is left to spend on one top-level file, across all nesting levels: ClamAV's per-file
/// `scansize`, `scannedfiles` and `limit_exceeded`, plus the count of decompressed bytes.
#[derive(Clone, Debug)]
pub struct Budget {
    max_filesize: u64,
    max_scansize: u64,
    max_files: u64,
    max_recursion: u32,
    /// Bytes charged so far: the sizes of every layer scanned (top-level file, containers,
    /// members), clamped to `--max-scansize` as ClamAV clamps it.
    pub scanned: u64,
    /// Layers charged so far (ClamAV's `scannedfiles`; layers of 5 bytes or less are not).
    pub files: u64,
    /// Bytes produced by decompressors so far, whether scanned or thrown away.
    pub inflated: u64,
    /// The first limit hit, the one `--alert-exceeds-max` reports.
    pub first_limit: Option<Limit>,
}

/// 0 means "no limit", as in clamscan.
fn or_unlimited(v: u64) -> u64 {
    if v == 0 {
        u64::MAX
    } else {
        v
    }
}

impl Budget {
    /// A fresh budget for one top-level file.
    pub fn new(limits: &Limits) -> Budget {
        Budget {
            max_filesize: or_unlimited(limits.max_filesize),
            max_scansize: or_unlimited(limits.max_scansize),
            max_files: or_unlimited(limits.max_files),
            max_recursion: match limits.max_recursion {
                0 => crate::DEFAULT_MAX_RECURSION,
                n => n,
            },
            scanned: 0,
            files: 0,
            inflated: 0,
            first_limit: None,
        }
    }

    /// `--max-filesize` (`u64::MAX` when unlimited).
    pub fn max_filesize(&self) -> u64 {
        self.max_filesize
    }

    /// `--max-recursion` (the default when 0 was asked for).
    pub fn max_recursion(&self) -> u32 {
        self.max_recursion
    }

    /// `--max-files` (`u64::MAX` when unlimited).
    pub fn max_files(&self) -> u64 {
        self.max_files
    }

    /// What is left of the scan budget.
    pub fn remaining(&self) -> u64 {
        self.max_scansize.saturating_sub(self.scanned)
    }

    /// What is left of the inflation budget (`--max-scansize` bytes of decompressor output).
    pub fn inflate_left(&self) -> u64 {
        self.max_scansize.saturating_sub(self.inflated)
    }

    /// Notes that `limit` was hit; only the first one is kept.
    pub fn record(&mut self, limit: Limit) {
        self.first_limit.get_or_insert(limit);
    }

    /// ClamAV's `cli_checklimits`: can a layer of `need` bytes be scanned? In ClamAV's order:
    /// the scan budget, then the file size, then the count of layers (sizes are not checked when
    /// `need` is 0). A failed check is recorded.
    pub fn check(&mut self, need: u64) -> Result<(), Limit> {
        let hit = if need > 0 && need > self.remaining() {
            Some(Limit::MaxScanSize)
        } else if need > 0 && need > self.max_filesize {
            Some(Limit::MaxFileSize)
        } else if self.files >= self.max_files {
            Some(Limit::MaxFiles)
        } else {
            None
        };
        match hit {
            Some(l) => {
                self.record(l);
                Err(l)
            }
            None => Ok(()),
        }
    }

    /// ClamAV's `cli_updatelimits` after a passed check: one more layer of `len` bytes.
    pub fn charge(&mut self, len: u64) {
        self.files += 1;
        self.scanned = self.scanned.saturating_add(len).min(self.max_scansize);
    }

    /// The most bytes the next member may decompress to, and the limit that sets it (the scan
    /// budget when it ties with the file size, as ClamAV checks it first).
    pub(crate) fn bound(&self) -> (u64, Limit) {
        let scan = self.remaining().min(self.inflate_left());
        if self.max_filesize < scan {
            (self.max_filesize, Limit::MaxFileSize)
        } else {
            (scan, Limit::MaxScanSize)
        }
    }
}

/// A member as its container gave it.
#[derive(Debug)]
pub enum Member<'a> {
    /// All of it.
    Whole(&'a [u8]),
    /// Only a prefix (possibly empty): the rest is over this limit.
    Truncated(&'a [u8], Limit),
    /// What could be recovered before the data turned out to be damaged.
    Damaged(&'a [u8], String),
    /// Not extracted: it is over this limit (already recorded in the budget).
    Refused(Limit),
    /// Not readable: encrypted, an unsupported method, or damaged beyond use.
    Unreadable(Why, String),
}

/// What became of a member, as the host tells its container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Scanned, or could not be: go on with the next member.
    Next,
    /// Refused by this limit (the container decides whether to go on).
    Refused(Limit),
    /// The scan is over (a detection without `--allmatch`).
    Stop,
}

/// The walker's side of unpacking: the budget, buffers, and what to do with each member.
pub trait Host {
    /// The budget of the top-level file being scanned.
    fn budget(&mut self) -> &mut Budget;
    /// Scans a member (named `name` in its container; empty when the container stores no name).
    /// Checks the budget and the nesting depth first, as ClamAV's `cli_recursion_stack_push`.
    fn member(&mut self, name: &str, member: Member<'_>) -> Flow;
    /// Something about the container itself: damaged, or an entry that could not be listed.
    fn note(&mut self, why: Why, detail: String);
    /// Scans a document made from the container (normalised HTML, a VBA listing) as `ft`,
    /// without typing or unpacking it, as ClamAV's `cli_scan_desc` scans what it writes out.
    fn typed(&mut self, name: &str, data: &[u8], ft: detente_engine::filetype::FileType) -> Flow;
    /// A buffer for decompressed data (reused across members to spare page faults).
    fn buffer(&mut self) -> Vec<u8>;
    /// Gives a buffer back.
    fn recycle(&mut self, buf: Vec<u8>);
}

/// Unpacks `data` as `kind`, handing each member to `host`.
pub fn unpack(kind: Container, data: &[u8], host: &mut dyn Host) {
    match kind {
        Container::Zip => unpack_zip(data, host),
        Container::Tar => unpack_tar(data, host),
        Container::Gzip => {
            let name = gzip_name(data).unwrap_or_default();
            // ISIZE, the size modulo 2^32 of the last member: a hint for the buffer only.
            let hint = data.len().checked_sub(4).map_or(0, |i| {
                u32::from_le_bytes(data[i..].try_into().unwrap_or([0; 4]))
            });
            stream(
                &mut flate2::read::MultiGzDecoder::new(data),
                &name,
                u64::from(hint),
                host,
            )
        }
        Container::Bzip2 => stream(&mut bzip2::read::MultiBzDecoder::new(data), "", 0, host),
        Container::Xz => stream(&mut xz_reader(data, true), "", 0, host),
        Container::Zstd => match zstd::stream::read::Decoder::with_buffer(data) {
            Ok(mut d) => stream(&mut d, "", 0, host),
            Err(e) => host.note(Why::Corrupt, format!("zstd: {e}")),
        },
        Container::MachOFat => unpack_macho_fat(data, host),
        Container::Cpio(kind) => unpack_cpio(kind, data, host),
        Container::Szdd => unpack_szdd(data, host),
        Container::SevenZ => crate::sevenz::unpack(data, host),
        Container::Cab => crate::cab::unpack(data, host),
        Container::Ole2 => crate::ole2::unpack(data, host),
        Container::ZipEntry => local_headers(data, 0, host, true),
        Container::Pdf => crate::pdf::unpack(data, host),
        Container::Rtf => crate::rtf::unpack(data, host),
        Container::Rar => host.note(
            Why::Unsupported,
            "rar: not unpacked, its members were not scanned".into(),
        ),
        Container::BinHex => crate::binhex::unpack(data, host),
        Container::Mail => crate::mail::unpack_mail(data, host),
        Container::Tnef => crate::tnef::unpack(data, host),
        Container::Uuencoded => crate::mail::unpack_uuencoded(data, host),
        Container::Arj => crate::arj::unpack(data, host),
        Container::Lha => crate::lha::unpack(data, host),
        Container::Alz => crate::alz::unpack(data, host),
    }
}

/// An SZDD file's content, expanded as ClamAV's `cli_msexpand` expands it: LZSS over a
/// 4,096-byte window of zeros starting at 4,080; each control byte's bits, low first, say
/// literal (1) or a 12-bit position and a length of 3 to 18 (0). The output is flushed in
/// 2,048-byte blocks and ends after the block that reaches the size in the header (or when
/// the input ends). A declared size over the limits is not expanded.
fn unpack_szdd(data: &[u8], host: &mut dyn Host) {
    const BLOCK: usize = 2048;
    let Some(size) = data
        .get(10..14)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
    else {
        return;
    };
    if let Err(l) = host.budget().check(u64::from(size)) {
        host.member("", Member::Refused(l));
        return;
    }
    let size = size as usize;
    let mut window = [0u8; 4096];
    let mut j = 4096 - 16;
    let mut out = host.buffer();
    out.clear();
    let mut input = data[14..].iter().copied();
    // Appends one byte; false once the output is complete.
    let put = |out: &mut Vec<u8>, window: &mut [u8; 4096], b: u8, j: &mut usize| -> bool {
        out.push(b);
        window[*j] = b;
        *j = (*j + 1) % 4096;
        !(out.len().is_multiple_of(BLOCK) && out.len() >= size)
    };
    'run: while let Some(bits) = input.next() {
        for i in 0..8 {
            if bits & (1 << i) != 0 {
                let Some(b) = input.next() else { break 'run };
                if !put(&mut out, &mut window, b, &mut j) {
                    break 'run;
                }
            } else {
                let (Some(k), Some(l)) = (input.next(), input.next()) else {
                    break 'run;
                };
                let mut k = usize::from(k) | (usize::from(l & 0xf0) << 4);
                for _ in 0..usize::from(l & 0x0f) + 3 {
                    let b = window[k];
                    k = (k + 1) % 4096;
                    if !put(&mut out, &mut window, b, &mut j) {
                        break 'run;
                    }
                }
            }
        }
    }
    host.member("", Member::Whole(&out));
    host.recycle(out);
}

/// A cpio archive's members, walked as ClamAV's `cli_scancpio_old/odc/newc` walk them:
/// header, name (up to `TRAILER!!!`), data; old binary headers pad the name and the data to
/// even lengths (and only regular files are scanned), new ASCII headers pad both to 4 bytes,
/// portable ASCII headers don't pad. A member whose data runs past the end is scanned as
/// far as it goes, as damage; a header that doesn't parse ends the walk.
fn unpack_cpio(kind: CpioKind, data: &[u8], host: &mut dyn Host) {
    let field = |at: usize, len: usize, radix: u32| -> Option<u64> {
        let s = std::str::from_utf8(data.get(at..at.checked_add(len)?)?).ok()?;
        u64::from_str_radix(s.trim_matches(|c: char| c == '\0' || c == ' '), radix).ok()
    };
    let mut pos = 0usize;
    let mut trailer = false;
    loop {
        let (head, name_len, size, regular, name_pad, data_pad) = match kind {
            CpioKind::Old(le) => {
                let Some(h) = data.get(pos..pos + 26) else {
                    return;
                };
                let w = |i: usize| -> u64 {
                    let b = [h[i], h[i + 1]];
                    u64::from(if le {
                        u16::from_le_bytes(b)
                    } else {
                        u16::from_be_bytes(b)
                    })
                };
                if w(0) == 0 && trailer {
                    return;
                }
                if w(0) != 0o070707 {
                    return host.note(Why::Corrupt, format!("cpio: bad header at {pos}"));
                }
                let mode = w(6);
                (
                    26,
                    w(20),
                    (w(22) << 16) | w(24),
                    mode & 0o170000 == 0o100000,
                    2,
                    2,
                )
            }
            CpioKind::Odc => {
                if data.get(pos) == Some(&0) && trailer {
                    return;
                }
                let (Some(n), Some(s)) = (field(pos + 59, 6, 8), field(pos + 65, 11, 8)) else {
                    return if data.len() > pos && !trailer {
                        host.note(Why::Corrupt, format!("cpio: bad header at {pos}"))
                    };
                };
                if data.get(pos..pos + 6) != Some(b"070707") {
                    return host.note(Why::Corrupt, format!("cpio: bad header at {pos}"));
                }
                (76, n, s, true, 1, 1)
            }
            CpioKind::Newc(_) => {
                if data.get(pos) == Some(&0) && trailer {
                    return;
                }
                let magic = data.get(pos..pos + 6);
                let (Some(n), Some(s)) = (field(pos + 94, 8, 16), field(pos + 54, 8, 16)) else {
                    return if data.len() > pos && !trailer {
                        host.note(Why::Corrupt, format!("cpio: bad header at {pos}"))
                    };
                };
                if magic != Some(b"070701") && magic != Some(b"070702") {
                    return host.note(Why::Corrupt, format!("cpio: bad header at {pos}"));
                }
                (110, n, s, true, 4, 4)
            }
        };
        let name_at = pos + head;
        let name_len = usize::try_from(name_len).unwrap_or(usize::MAX);
        let raw_name = data
            .get(name_at..name_at.saturating_add(name_len))
            .unwrap_or_default();
        let name = String::from_utf8_lossy(raw_name.split(|b| *b == 0).next().unwrap_or_default())
            .into_owned();
        if name == "TRAILER!!!" {
            trailer = true;
        }
        // The name, padded: old headers to an even end, new ones so that header and name
        // fill whole 4-byte units (`pad` counts from the header's start).
        let after_name = if name_pad == 4 {
            let unpadded = head + name_len;
            pos + unpadded + (4 - unpadded % 4) % 4
        } else if name_pad == 2 {
            name_at + name_len + name_len % 2
        } else {
            name_at + name_len
        };
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let end = after_name.saturating_add(size);
        if size > 0 && regular {
            let flow = match data.get(after_name..end) {
                Some(body) => host.member(&name, Member::Whole(body)),
                None => {
                    let body = data.get(after_name..).unwrap_or_default();
                    host.member(
                        &name,
                        Member::Damaged(body, "cpio archive cut short".into()),
                    )
                }
            };
            if flow == Flow::Stop {
                return;
            }
        }
        let padded = match data_pad {
            2 => end.saturating_add(size % 2),
            4 => end.saturating_add((4 - size % 4) % 4),
            _ => end,
        };
        if padded <= pos || padded > data.len() {
            return;
        }
        pos = padded;
    }
}

/// The architecture slices of a universal binary: a big-endian count, then per architecture
/// (cputype, cpusubtype, offset, size, align); a slice out of the file is noted as damage.
fn unpack_macho_fat(data: &[u8], host: &mut dyn Host) {
    let be = |o: usize| -> Option<u32> {
        Some(u32::from_be_bytes(
            data.get(o..o.checked_add(4)?)?.try_into().ok()?,
        ))
    };
    let Some(n) = be(4) else {
        return;
    };
    if n > FAT_MAX_ARCHS {
        host.note(
            Why::Corrupt,
            format!("macho-fat: {n} architectures, at most {FAT_MAX_ARCHS}"),
        );
        return;
    }
    for i in 0..n as usize {
        let h = 8 + 20 * i;
        let (Some(off), Some(size)) = (be(h + 8), be(h + 12)) else {
            host.note(
                Why::Corrupt,
                format!("macho-fat: architecture {i}: header cut short"),
            );
            return;
        };
        let (off, size) = (off as usize, size as usize);
        let Some(slice) = off.checked_add(size).and_then(|end| data.get(off..end)) else {
            host.note(
                Why::Corrupt,
                format!("macho-fat: architecture {i}: {size} bytes at {off} lie outside the file"),
            );
            continue;
        };
        if host.member("", Member::Whole(slice)) == Flow::Stop {
            return;
        }
    }
}

/// xz with the dictionary memory capped (a header may ask for up to 4 GiB).
fn xz_reader(data: &[u8], multi: bool) -> lzma_rust2::XzReader<&[u8]> {
    lzma_rust2::XzReader::new_mem_limit(data, multi, 256 * 1024)
}

/// The original file name stored in a gzip header (FNAME), if any.
fn gzip_name(data: &[u8]) -> Option<String> {
    let flags = *data.get(3)?;
    let mut p = 10usize;
    if flags & 0x04 != 0 {
        let xlen = u16::from_le_bytes([*data.get(10)?, *data.get(11)?]) as usize;
        p += 2 + xlen;
    }
    if flags & 0x08 == 0 {
        return None;
    }
    let rest = data.get(p..)?;
    // Only the first KiB of the name is looked at (the reported path is capped anyway).
    let rest = &rest[..rest.len().min(64 << 10)];
    let end = rest.iter().position(|b| *b == 0)?;
    let name = String::from_utf8_lossy(&rest[..end.min(1024)]).into_owned();
    (!name.is_empty()).then_some(name)
}

/// Most bytes reserved up front for a member from its declared size.
const RESERVE_MAX: u64 = 256 << 20;

/// Decompresses at most `bound + 1` bytes from `r` into `buf`, counting them as inflated.
/// Returns whether there was more than `bound`, and the read error if the data is damaged (what
/// was decompressed before it stays in `buf`).
pub(crate) fn inflate(
    r: &mut dyn Read,
    bound: u64,
    hint: u64,
    buf: &mut Vec<u8>,
    budget: &mut Budget,
) -> (bool, Option<io::Error>) {
    buf.clear();
    let want = bound.saturating_add(1);
    // The hint comes from the data: it is capped (a lie costs address space, not memory),
    // and a failed reservation only means the buffer grows as it is filled.
    let hint = hint.min(want).min(RESERVE_MAX);
    let _ = buf.try_reserve(usize::try_from(hint).unwrap_or(0));
    let res = r.take(want).read_to_end(buf);
    budget.inflated = budget.inflated.saturating_add(buf.len() as u64);
    (buf.len() as u64 > bound, res.err())
}

/// A single compressed stream (gzip, bzip2, xz, zstd): scanned only if all of it fits, as
/// clamscan decompresses to a temporary file, checks the limits as it writes, and refuses the
/// result once it is over.
fn stream(r: &mut dyn Read, name: &str, hint: u64, host: &mut dyn Host) {
    let budget = host.budget();
    if let Err(l) = budget.check(0) {
        host.member(name, Member::Refused(l));
        return;
    }
    let (bound, by) = budget.bound();
    if bound == 0 {
        budget.record(by);
        host.member(name, Member::Refused(by));
        return;
    }
    let mut buf = host.buffer();
    let (over, err) = inflate(r, bound, hint, &mut buf, host.budget());
    if over {
        host.budget().record(by);
        host.member(name, Member::Refused(by));
    } else if let Some(e) = err {
        host.member(name, Member::Damaged(&buf, e.to_string()));
    } else {
        host.member(name, Member::Whole(&buf));
    }
    host.recycle(buf);
}

/// How a zip member's data is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Stored,
    Deflated,
    Bzip2,
    Zstd,
    Xz,
    /// Read through the zip crate's own decoder (9, Deflate64; 14, LZMA).
    ViaCrate(u16),
    Other(u16),
}

impl Method {
    fn from_id(id: u16) -> Method {
        match id {
            0 => Method::Stored,
            8 => Method::Deflated,
            9 | 14 => Method::ViaCrate(id),
            12 => Method::Bzip2,
            93 => Method::Zstd,
            95 => Method::Xz,
            other => Method::Other(other),
        }
    }

    fn of(m: zip::CompressionMethod) -> Method {
        use zip::CompressionMethod as C;
        match m {
            C::Stored => Method::Stored,
            C::Deflated => Method::Deflated,
            C::Deflate64 => Method::ViaCrate(9),
            C::Bzip2 => Method::Bzip2,
            C::Lzma => Method::ViaCrate(14),
            C::Zstd => Method::Zstd,
            C::Xz => Method::Xz,
            #[allow(deprecated)]
            C::Unsupported(id) => Method::Other(id),
            #[allow(unreachable_patterns)]
            _ => Method::Other(u16::MAX),
        }
    }
}

/// One entry of a zip's catalogue.
struct Record {
    index: usize,
    name: String,
    method: Method,
    encrypted: bool,
    header: u64,
    start: u64,
    csize: u64,
    usize: u64,
}

/// ClamAV's `unz()` writes in `BUFSIZ` (8 KiB) blocks and stops before the block that would
/// take the output over `--max-filesize`: the size a long compressed member is cut to.
fn zip_trim(max_filesize: u64, method: Method) -> u64 {
    if method == Method::Stored {
        max_filesize
    } else {
        max_filesize / 8192 * 8192
    }
}

fn unpack_zip(data: &[u8], host: &mut dyn Host) {
    let mut zip = match zip::ZipArchive::new(Cursor::new(data)) {
        Ok(z) => z,
        Err(e) => {
            if is_split_zip(data) {
                // No usable central directory: walk the local headers after the marker.
                local_headers(data, 4, host, false);
            } else {
                host.note(Why::Corrupt, format!("zip: {e}"));
            }
            return;
        }
    };
    // The catalogue, as ClamAV's `index_the_central_directory` builds it: entries with data,
    // at most --max-files of them (reaching that many raises MaxFiles), in file order, each
    // local header once.
    let max_files = host.budget().max_files();
    let mut records = Vec::new();
    let entries = zip.len();
    for index in 0..entries {
        let f = match zip.by_index_raw(index) {
            Ok(f) => f,
            Err(e) => {
                host.note(Why::Corrupt, format!("zip entry {index}: {e}"));
                continue;
            }
        };
        if f.compressed_size() == 0 {
            continue;
        }
        let name = f
            .name()
            .map(|c| c.into_owned())
            .unwrap_or_else(|_| format!("entry {index}"));
        let Some(start) = f.data_start() else {
            host.note(Why::Corrupt, format!("zip entry {name}: no data offset"));
            continue;
        };
        records.push(Record {
            index,
            name,
            method: Method::of(f.compression()),
            encrypted: f.encrypted(),
            header: f.header_start(),
            start,
            csize: f.compressed_size(),
            usize: f.size(),
        });
        if records.len() as u64 >= max_files {
            host.budget().record(Limit::MaxFiles);
            drop(f);
            if index + 1 < entries {
                host.note(
                    Why::Limit(Limit::MaxFiles),
                    format!("{entries} entries, only the first {max_files} considered"),
                );
            }
            break;
        }
    }
    records.sort_by_key(|r| r.header);
    records.dedup_by(|b, a| a.header == b.header && a.csize == b.csize);

    let mut unzipped = 0u64;
    for (i, r) in records.iter().enumerate() {
        let left = records.len() - i - 1;
        if let Err(l) = host.budget().check(0) {
            host.member(&r.name, Member::Refused(l));
            not_visited(host, l, left);
            break;
        }
        let Some(flow) = zip_extract(&mut zip, r, data, host) else {
            // Not extracted (encrypted, unsupported, damaged): ClamAV goes on with the next.
            continue;
        };
        unzipped += 1;
        if unzipped >= max_files {
            host.budget().record(Limit::MaxFiles);
            not_visited(host, Limit::MaxFiles, left);
            break;
        }
        match flow {
            Flow::Next => {}
            // clamscan 1.4.3's `cli_unzip` stops at the first member that could not be scanned.
            Flow::Refused(l) => {
                not_visited(host, l, left);
                break;
            }
            Flow::Stop => return,
        }
    }
}

/// Notes the members a container's walk leaves out after a limit stopped it.
fn not_visited(host: &mut dyn Host, l: Limit, left: usize) {
    if left > 0 {
        host.note(
            Why::Limit(l),
            format!("{left} later members not scanned: stopped at a limit"),
        );
    }
}

/// Extracts and hands over one catalogued member; `None` if it could not be extracted.
fn zip_extract(
    zip: &mut zip::ZipArchive<Cursor<&[u8]>>,
    r: &Record,
    data: &[u8],
    host: &mut dyn Host,
) -> Option<Flow> {
    let raw = usize::try_from(r.start)
        .ok()
        .zip(usize::try_from(r.csize).ok())
        .and_then(|(s, n)| data.get(s..s.checked_add(n)?));
    let unreadable = |host: &mut dyn Host, why: Why, detail: String| {
        host.member(&r.name, Member::Unreadable(why, detail));
        None
    };
    let Some(raw) = raw else {
        return unreadable(
            host,
            Why::Corrupt,
            "data runs past the end of the file".into(),
        );
    };
    if r.encrypted {
        return unreadable(host, Why::Encrypted, "encrypted, not scanned".into());
    }
    if r.method == Method::Other(6) {
        // Imploded: decoded here (the zip crate does not), with ClamAV's rules.
        let flags = usize::try_from(r.header)
            .ok()
            .and_then(|h| data.get(h + 6..h + 8))
            .map_or(0, |f| u16::from_le_bytes([f[0], f[1]]));
        let (bound, _) = host.budget().bound();
        let cap = usize::try_from(bound)
            .unwrap_or(usize::MAX)
            .saturating_add(8193);
        let (out, damaged) = crate::explode::explode(raw, flags, cap);
        let mut reader = std::io::Read::chain(
            Cursor::new(out),
            Failing(damaged.then_some("implode: damaged data")),
        );
        return Some(zip_member(&r.name, r.method, &mut reader, r.usize, host));
    }
    if let Method::ViaCrate(_) = r.method {
        let opts = zip::read::ZipReadOptions::new().ignore_crc32(true);
        return match zip.by_index_with_options(r.index, opts) {
            Ok(mut f) => Some(zip_member(&r.name, r.method, &mut f, r.usize, host)),
            Err(e) => unreadable(host, Why::Corrupt, e.to_string()),
        };
    }
    raw_member(&r.name, r.method, raw, r.usize, host)
}

/// A reader that ends, or fails with a message (what a decoder said after its output).
struct Failing(Option<&'static str>);

impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        match self.0 {
            Some(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            None => Ok(0),
        }
    }
}

/// A member from its raw data; `None` if it could not be extracted.
fn raw_member(
    name: &str,
    method: Method,
    raw: &[u8],
    hint: u64,
    host: &mut dyn Host,
) -> Option<Flow> {
    let unreadable = |host: &mut dyn Host, why: Why, detail: String| {
        host.member(name, Member::Unreadable(why, detail));
        None
    };
    match zip_decoder(method, raw) {
        Ok(Some(mut d)) => Some(zip_member(name, method, &mut *d, hint, host)),
        Ok(None) if method == Method::Stored => Some(stored_member(name, raw, host)),
        Ok(None) => {
            let id = match method {
                Method::ViaCrate(id) | Method::Other(id) => id,
                _ => 0,
            };
            unreadable(host, Why::Unsupported, format!("compression method {id}"))
        }
        Err(e) => unreadable(host, Why::Corrupt, e.to_string()),
    }
}

/// A decoder over a member's raw data; `None` for stored data and methods we do not read.
fn zip_decoder<'a>(method: Method, raw: &'a [u8]) -> io::Result<Option<Box<dyn Read + 'a>>> {
    Ok(match method {
        Method::Deflated => Some(Box::new(flate2::read::DeflateDecoder::new(raw))),
        Method::Bzip2 => Some(Box::new(bzip2::read::BzDecoder::new(raw))),
        Method::Zstd => Some(Box::new(zstd::stream::read::Decoder::with_buffer(raw)?)),
        Method::Xz => Some(Box::new(xz_reader(raw, false))),
        Method::Stored | Method::ViaCrate(_) | Method::Other(_) => None,
    })
}

/// A stored member: no decompression, cut to `--max-filesize` without an alert.
fn stored_member(name: &str, raw: &[u8], host: &mut dyn Host) -> Flow {
    let max = host.budget().max_filesize();
    if raw.len() as u64 > max {
        let cut = usize::try_from(zip_trim(max, Method::Stored)).unwrap_or(usize::MAX);
        host.member(name, Member::Truncated(&raw[..cut], Limit::MaxFileSize))
    } else {
        host.member(name, Member::Whole(raw))
    }
}

/// A compressed zip member: decompressed to at most what the budget allows plus one byte.
fn zip_member(
    name: &str,
    method: Method,
    r: &mut dyn Read,
    hint: u64,
    host: &mut dyn Host,
) -> Flow {
    let (bound, by) = host.budget().bound();
    if bound == 0 {
        host.budget().record(by);
        return host.member(name, Member::Refused(by));
    }
    let mut buf = host.buffer();
    let (over, err) = inflate(r, bound, hint, &mut buf, host.budget());
    let flow = if over && by == Limit::MaxFileSize {
        // Longer than --max-filesize: ClamAV scans the first blocks and says nothing.
        let cut = zip_trim(bound, method) as usize;
        host.member(name, Member::Truncated(&buf[..cut], Limit::MaxFileSize))
    } else if over {
        host.budget().record(by);
        host.member(name, Member::Refused(by))
    } else if let Some(e) = err {
        // ClamAV scans nothing of a member whose data is damaged.
        host.member(name, Member::Unreadable(Why::Corrupt, e.to_string()))
    } else {
        host.member(name, Member::Whole(&buf))
    };
    host.recycle(buf);
    flow
}

/// Walks local file headers from `at`, for a split zip whose central directory is unusable
/// (what clamscan 1.4.3 does through its `ZIP-SFX` type, one local header at a time).
fn local_headers(data: &[u8], mut at: usize, host: &mut dyn Host, single: bool) {
    let le16 = |p: usize| -> Option<u64> {
        Some(u64::from(u16::from_le_bytes(
            data.get(p..p + 2)?.try_into().ok()?,
        )))
    };
    let le32 = |p: usize| -> Option<u64> {
        Some(u64::from(u32::from_le_bytes(
            data.get(p..p + 4)?.try_into().ok()?,
        )))
    };
    let mut unzipped = 0u64;
    let mut first = true;
    while data.get(at..at + 4) == Some(b"PK\x03\x04") {
        // `single`: only the first entry (ClamAV's `cli_unzip_single`).
        if single && !first {
            return;
        }
        first = false;
        let (Some(flags), Some(method), Some(csize), Some(flen), Some(elen)) = (
            le16(at + 6),
            le16(at + 8),
            le32(at + 18),
            le16(at + 26),
            le16(at + 28),
        ) else {
            // A stray magic found by the embedded-file search is not a damaged zip: nothing
            // is said, as in ClamAV.
            if !single {
                host.note(Why::Corrupt, "zip: local header cut short".into());
            }
            return;
        };
        let name_at = at + 30;
        let start = name_at + (flen + elen) as usize;
        let name = data
            .get(name_at..name_at + flen as usize)
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        let Some(raw) = data.get(start..start + csize as usize) else {
            if !single {
                host.note(Why::Corrupt, format!("zip: {name}: data runs past the end"));
            }
            return;
        };
        if flags & 0x08 != 0 && csize == 0 {
            // Sizes in a data descriptor after the data: not walkable without the directory.
            if single {
                return;
            }
            host.note(
                Why::Corrupt,
                format!("zip: {name}: size unknown without the directory"),
            );
            return;
        }
        at = start + csize as usize + if flags & 0x08 != 0 { 12 } else { 0 };
        if data.get(at..at + 4) == Some(b"PK\x07\x08") {
            at += 4;
        }
        if csize == 0 {
            continue;
        }
        if let Err(l) = host.budget().check(0) {
            host.member(&name, Member::Refused(l));
            return;
        }
        let flow = if flags & 0x01 != 0 {
            host.member(
                &name,
                Member::Unreadable(Why::Encrypted, "encrypted, not scanned".into()),
            );
            continue;
        } else {
            match raw_member(&name, Method::from_id(method as u16), raw, 0, host) {
                Some(flow) => flow,
                None => continue,
            }
        };
        unzipped += 1;
        if unzipped >= host.budget().max_files() {
            host.budget().record(Limit::MaxFiles);
            if data.get(at..at + 4) == Some(b"PK\x03\x04") {
                host.note(
                    Why::Limit(Limit::MaxFiles),
                    "later members not scanned: --max-files reached".into(),
                );
            }
            return;
        }
        if flow != Flow::Next {
            return;
        }
    }
}

fn unpack_tar(data: &[u8], host: &mut dyn Host) {
    let mut ar = tar::Archive::new(data);
    let entries = match ar.entries() {
        Ok(e) => e,
        Err(e) => return host.note(Why::Corrupt, format!("tar: {e}")),
    };
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => return host.note(Why::Corrupt, format!("tar: {e}")),
        };
        let t = entry.header().entry_type();
        if t == tar::EntryType::GNUSparse {
            // Its data is packed chunks, not the member's bytes: not scanned, and said so.
            let name = entry
                .path()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            host.note(
                Why::Unsupported,
                format!("{name}: GNU sparse member not scanned"),
            );
            continue;
        }
        if !(t.is_file() || t == tar::EntryType::Continuous) {
            continue;
        }
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        // ClamAV checks the count of layers before every header, and stops there.
        if let Err(l) = host.budget().check(0) {
            host.member(&name, Member::Refused(l));
            return;
        }
        let size = entry.size();
        let pos = usize::try_from(entry.raw_file_position()).unwrap_or(usize::MAX);
        let body = data.get(pos..).unwrap_or_default();
        let body = &body[..body.len().min(usize::try_from(size).unwrap_or(usize::MAX))];
        let member = match host.budget().check(size) {
            Ok(()) if (body.len() as u64) < size => {
                Member::Damaged(body, "tar archive cut short".to_string())
            }
            Ok(()) => Member::Whole(body),
            // Over a size limit: ClamAV writes the 512-byte blocks that still fit.
            Err(l) => {
                let b = host.budget();
                let room = b.remaining().min(b.max_filesize()) / 512 * 512;
                let cut = body.len().min(usize::try_from(room).unwrap_or(usize::MAX));
                Member::Truncated(&body[..cut], l)
            }
        };
        if host.member(&name, member) != Flow::Next {
            return;
        }
    }
}
