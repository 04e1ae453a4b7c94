//! Parsers for ClamAV signature databases.
//!
//! This crate turns the text of one database file into typed signatures; it performs no I/O
//! and never panics on bad input. Every malformed line is a [`ParseError`] naming the line and
//! what is wrong; lines that are well-formed but use features the engine does not implement
//! (PE section offsets, PCRE subsignatures, bytecode, target types other than 0, ...) are
//! counted in [`Skipped`] rather than silently dropped.
//!
//! Supported files: `.hdb`/`.hsb`/`.hdu`/`.hsu` (file hashes), `.mdb`/`.msb` (PE section
//! hashes), `.ndb`/`.ndu` (body signatures), `.ldb`/`.ldu` (logical
//! signatures), `.fp`/`.sfp` (allow lists) and `.ign`/`.ign2` (disabled signature names).
//! Containers (`.cvd`/`.cld`, `.cdiff`) are `detente-cvd`'s.

mod fields;
mod hdb;
pub mod hex;
mod ign;
mod ldb;
pub mod logical;
mod ndb;

use std::fmt;

pub use fields::decode_hex;
pub use hdb::{parse_hash_line, parse_section_hash_line};
pub use hex::{parse_hex, parse_hex_into, Boundary, ByteClass, HexPattern, Token};
pub use ign::parse_ignore_line;
pub use ldb::parse_logical_line;
pub use logical::{parse_expr, Count, CountOp, Expr};
pub use ndb::{parse_body_line, parse_offset};

pub(crate) use fields::{hex_val, number, Fields, HEX};
use hdb::hash_fields;
use ign::ignore_name;
use ndb::{body_fields, parse_offset_for};

/// Target types the engine matches: 0 (any file), 1 (PE), 2 (OLE2 compound files and what
/// they hold), 4 (mail), 5 (graphics), 6 (ELF), 7 (normalised ASCII text), 9 (Mach-O), 10
/// (PDF), 11 (Flash), 12 (Java class). The others (3, normalised HTML; 8, 13, 14) are counted
/// as skipped.
pub const SUPPORTED_TARGETS: [u64; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12];

/// The file type names ClamAV knows (`ftmap` in its `filetypes.c`), for `Container` and
/// `Intermediates` conditions.
pub const CLAMAV_TYPES: &[&str] = &[
    "CL_TYPE_TEXT_ASCII",
    "CL_TYPE_TEXT_UTF8",
    "CL_TYPE_TEXT_UTF16LE",
    "CL_TYPE_TEXT_UTF16BE",
    "CL_TYPE_BINARY_DATA",
    "CL_TYPE_IGNORED",
    "CL_TYPE_ANY",
    "CL_TYPE_MSEXE",
    "CL_TYPE_ELF",
    "CL_TYPE_MACHO",
    "CL_TYPE_MACHO_UNIBIN",
    "CL_TYPE_POSIX_TAR",
    "CL_TYPE_OLD_TAR",
    "CL_TYPE_CPIO_OLD",
    "CL_TYPE_CPIO_ODC",
    "CL_TYPE_CPIO_NEWC",
    "CL_TYPE_CPIO_CRC",
    "CL_TYPE_GZ",
    "CL_TYPE_ZIP",
    "CL_TYPE_BZ",
    "CL_TYPE_RAR",
    "CL_TYPE_ARJ",
    "CL_TYPE_MSSZDD",
    "CL_TYPE_MSOLE2",
    "CL_TYPE_MSCAB",
    "CL_TYPE_MSCHM",
    "CL_TYPE_SIS",
    "CL_TYPE_SCRENC",
    "CL_TYPE_GRAPHICS",
    "CL_TYPE_GIF",
    "CL_TYPE_PNG",
    "CL_TYPE_JPEG",
    "CL_TYPE_TIFF",
    "CL_TYPE_RIFF",
    "CL_TYPE_BINHEX",
    "CL_TYPE_TNEF",
    "CL_TYPE_CRYPTFF",
    "CL_TYPE_PDF",
    "CL_TYPE_UUENCODED",
    "CL_TYPE_HTML_UTF16",
    "CL_TYPE_SCRIPT",
    "CL_TYPE_RTF",
    "CL_TYPE_HTML",
    "CL_TYPE_MAIL",
    "CL_TYPE_SFX",
    "CL_TYPE_ZIPSFX",
    "CL_TYPE_RARSFX",
    "CL_TYPE_CABSFX",
    "CL_TYPE_ARJSFX",
    "CL_TYPE_NULSFT",
    "CL_TYPE_AUTOIT",
    "CL_TYPE_ISHIELD_MSI",
    "CL_TYPE_7Z",
    "CL_TYPE_7ZSFX",
    "CL_TYPE_SWF",
    "CL_TYPE_ISO9660",
    "CL_TYPE_JAVA",
    "CL_TYPE_DMG",
    "CL_TYPE_MBR",
    "CL_TYPE_GPT",
    "CL_TYPE_APM",
    "CL_TYPE_XAR",
    "CL_TYPE_PART_ANY",
    "CL_TYPE_PART_HFSPLUS",
    "CL_TYPE_XZ",
    "CL_TYPE_OOXML_WORD",
    "CL_TYPE_OOXML_PPT",
    "CL_TYPE_OOXML_XL",
    "CL_TYPE_INTERNAL",
    "CL_TYPE_XDP",
    "CL_TYPE_XML_WORD",
    "CL_TYPE_XML_XL",
    "CL_TYPE_HWP3",
    "CL_TYPE_XML_HWP",
    "CL_TYPE_HWPOLE2",
    "CL_TYPE_OOXML_HWP",
    "CL_TYPE_PS",
    "CL_TYPE_MHTML",
    "CL_TYPE_LNK",
    "CL_TYPE_EGG",
    "CL_TYPE_EGGSFX",
    "CL_TYPE_UDF",
    "CL_TYPE_ALZ",
    "CL_TYPE_ONENOTE",
    "CL_TYPE_PYTHON_COMPILED",
    "CL_TYPE_LHA_LZH",
    "CL_TYPE_AI_MODEL",
    "CL_TYPE_ZSTD",
];

/// The functionality level this engine implements (the same as ClamAV 1.4).
pub const FUNCTIONALITY_LEVEL: u32 = 216;

/// What is wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// Wrong number of fields.
    #[error("expected {expected} fields separated by '{sep}', found {found}")]
    FieldCount {
        /// What the format needs.
        expected: &'static str,
        /// The separator.
        sep: char,
        /// What the line has.
        found: usize,
    },
    /// A hash that is not 32, 40 or 64 hex digits.
    #[error("bad hash {0:?}: expected 32, 40 or 64 hex digits")]
    Hash(String),
    /// A size field that is not a decimal number or `*`.
    #[error("bad file size {0:?}")]
    Size(String),
    /// `*` size without a functionality level of at least 73.
    #[error("a '*' file size needs a minimum functionality level of at least 73")]
    WildcardSize,
    /// An empty or oversized signature name.
    #[error("bad signature name {0:?}")]
    Name(String),
    /// A bad functionality-level field.
    #[error("bad functionality level {0:?}")]
    Level(String),
    /// A bad target type.
    #[error("bad target type {0:?}")]
    Target(String),
    /// A bad offset.
    #[error("bad offset {0:?}")]
    Offset(String),
    /// An executable-relative offset on a signature whose target is not an executable.
    #[error("offset {offset:?} counts from an executable's structure, so it needs target 1 (PE), 6 (ELF) or 9 (Mach-O), not {target}")]
    OffsetTarget {
        /// The offset.
        offset: String,
        /// The signature's target.
        target: u64,
    },
    /// A bad hex signature.
    #[error("bad hex signature: {0}")]
    Hex(String),
    /// A bad logical signature.
    #[error("bad logical signature: {0}")]
    Logical(String),
    /// A bad CVD header.
    #[error("bad CVD header: {0}")]
    Cvd(String),
}

/// A malformed line: its 1-based number and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

/// Digest algorithm of a hash signature, chosen by the hash's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashKind {
    /// 32 hex digits.
    Md5,
    /// 40 hex digits.
    Sha1,
    /// 64 hex digits.
    Sha256,
}

impl HashKind {
    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            HashKind::Md5 => 16,
            HashKind::Sha1 => 20,
            HashKind::Sha256 => 32,
        }
    }
}

/// A file-hash signature (`.hdb`, `.hsb`) or allow-list entry (`.fp`, `.sfp`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashSig {
    /// The algorithm.
    pub kind: HashKind,
    /// The digest bytes (`kind.digest_len()` of them).
    pub digest: Vec<u8>,
    /// The file size, or None for any size.
    pub size: Option<u64>,
    /// Signature name.
    pub name: String,
}

/// Where a body signature may match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Offset {
    /// Anywhere (`*`).
    Any,
    /// Starting at `start ..= start + extra` from the beginning (`n`, `n,m`).
    Abs {
        /// First allowed start.
        start: u64,
        /// Additional allowed shift.
        extra: u64,
    },
    /// Starting at `size - back ..= size - back + extra` (`EOF-n`, `EOF-n,m`).
    Eof {
        /// Distance from the end.
        back: u64,
        /// Additional allowed shift.
        extra: u64,
    },
    /// From the entry point: `EP+n` or (`back`) `EP-n`, with `,m`.
    Ep {
        /// `EP-n` rather than `EP+n`.
        back: bool,
        /// n.
        delta: u64,
        /// Additional allowed shift.
        extra: u64,
    },
    /// From the start of section `index` (0-based): `Sx+n`, with `,m`.
    Section {
        /// x.
        index: u32,
        /// n.
        delta: u64,
        /// Additional allowed shift.
        extra: u64,
    },
    /// From the start of the last section in the table: `SL+n`, with `,m`.
    LastSection {
        /// n.
        delta: u64,
        /// Additional allowed shift.
        extra: u64,
    },
    /// At the start of one of a PE's version-information strings (`VI`): the match must
    /// begin at a string's UTF-16 key.
    VersionInfo,
    /// Anywhere from the start of section `index` to its end plus `extra` (`SEx`, `SEx,m`).
    InSection {
        /// x.
        index: u32,
        /// Additional allowed shift past the section's end.
        extra: u64,
    },
}

/// A file's executable structure as offsets see it (ClamAV's "exe info"): the entry
/// point as a file offset, and each section's range in the file, in table order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExeLayout {
    /// File offset of the entry point.
    pub entry: u64,
    /// Sections: (file offset, size in the file).
    pub sections: Vec<(u64, u64)>,
    /// PE: where each version-information string's key starts (sorted), for `VI` offsets.
    pub version_info: Vec<u64>,
}

/// What a buffer's offsets are computed against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// Only absolute offsets apply (`EOF-n` and executable offsets never match): a
    /// normalised buffer scanned for signatures of the raw file.
    Bare,
    /// A file of this size that is not an executable: `EOF-n` applies, executable offsets
    /// never match.
    Plain(u64),
    /// An executable whose headers could not be read: no relative offset matches, not even
    /// `EOF-n` (as ClamAV).
    Broken,
    /// An executable of this size, with this layout.
    Exe(u64, &'a ExeLayout),
}

impl Offset {
    /// The inclusive range where a match may start, or None when the offset can't match in
    /// this frame (a section that doesn't exist, a position before the start of the file).
    pub fn window(&self, frame: Frame<'_>) -> Option<(u64, u64)> {
        let shifted = |base: u64, extra: u64| Some((base, base.checked_add(extra)?));
        let size = match frame {
            Frame::Plain(n) | Frame::Exe(n, _) => Some(n),
            Frame::Bare | Frame::Broken => None,
        };
        let exe = match frame {
            Frame::Exe(_, e) => Some(e),
            _ => None,
        };
        match *self {
            Offset::Any => Some((0, u64::MAX)),
            Offset::Abs { start, extra } => shifted(start, extra),
            Offset::Eof { back, extra } => shifted(size?.checked_sub(back)?, extra),
            Offset::Ep { back, delta, extra } => {
                let e = exe?.entry;
                let base = if back {
                    e.checked_sub(delta)?
                } else {
                    e.checked_add(delta)?
                };
                shifted(base, extra)
            }
            Offset::Section {
                index,
                delta,
                extra,
            } => {
                let (raw, _) = *exe?.sections.get(index as usize)?;
                shifted(raw.checked_add(delta)?, extra)
            }
            Offset::LastSection { delta, extra } => {
                let (raw, _) = *exe?.sections.last()?;
                shifted(raw.checked_add(delta)?, extra)
            }
            Offset::InSection { index, extra } => {
                let (raw, rsz) = *exe?.sections.get(index as usize)?;
                Some((raw, raw.checked_add(rsz)?.checked_add(extra)?))
            }
            // The range of the strings' starts; a match must also begin at one of them.
            Offset::VersionInfo => {
                let v = &exe?.version_info;
                Some((*v.first()?, *v.last()?))
            }
        }
    }

    /// Whether a match may start at `pos` in this frame.
    pub fn allows(&self, pos: u64, frame: Frame<'_>) -> bool {
        if *self == Offset::VersionInfo {
            return matches!(frame, Frame::Exe(_, e) if e.version_info.binary_search(&pos).is_ok());
        }
        self.window(frame)
            .is_some_and(|(a, b)| a <= pos && pos <= b)
    }

    /// Whether the offset counts from an executable's structure (`EP`, `Sx`, `SEx`, `SL`),
    /// which only targets 1 (PE), 6 (ELF) and 9 (Mach-O) may use.
    pub fn is_executable(&self) -> bool {
        matches!(
            self,
            Offset::Ep { .. }
                | Offset::Section { .. }
                | Offset::LastSection { .. }
                | Offset::InSection { .. }
                | Offset::VersionInfo
        )
    }
}

/// A body signature (`.ndb`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodySig {
    /// Signature name.
    pub name: String,
    /// Target type (see [`SUPPORTED_TARGETS`]).
    pub target: u32,
    /// Where it may match.
    pub offset: Offset,
    /// The pattern.
    pub pattern: HexPattern,
}

/// A body signature as parsed, borrowing its name from the database text and its pattern
/// from a buffer the parser reuses for every line: a consumer that compiles patterns as they
/// come costs no allocation for the parsed form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyRef<'a> {
    /// Signature name.
    pub name: &'a str,
    /// Target type (see [`SUPPORTED_TARGETS`]).
    pub target: u32,
    /// Where it may match.
    pub offset: Offset,
    /// The pattern's tokens.
    pub pattern: &'a [Token],
}

impl BodyRef<'_> {
    /// An owned copy.
    pub fn to_sig(&self) -> BodySig {
        BodySig {
            name: self.name.to_string(),
            target: self.target,
            offset: self.offset,
            pattern: HexPattern {
                tokens: self.pattern.to_vec(),
            },
        }
    }
}

/// Subsignature modifiers (`::i`, `::w`, `::f`, `::a`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Modifiers {
    /// `i`: ASCII letters match in either case.
    pub nocase: bool,
    /// `w`: the pattern is matched in UTF-16LE form.
    pub wide: bool,
    /// `f`: the match must not be part of a longer word.
    pub fullword: bool,
    /// `a`: with `w`, also match the plain form.
    pub ascii: bool,
}

/// A subsignature of a logical signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubSig {
    /// Where it may match (for a PCRE subsignature: where its search starts).
    pub offset: Offset,
    /// The hex pattern (empty for a PCRE subsignature).
    pub pattern: HexPattern,
    /// Its modifiers.
    pub modifiers: Modifiers,
    /// A PCRE subsignature's trigger, pattern and flags.
    pub pcre: Option<Pcre>,
    /// A byte-compare subsignature.
    pub byte_cmp: Option<ByteCmp>,
}

/// A byte-compare subsignature (`N(>>offset#options#comparisons)`): a number read at an
/// offset from the last match of subsignature N, compared with one or two values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ByteCmp {
    /// N.
    pub subsig: u32,
    /// Signed distance from the start of N's last match.
    pub offset: i64,
    /// How the bytes are read.
    pub base: CmpBase,
    /// `l` (true) or `b` (false); None when neither is given (`d` implies `b`).
    pub little: Option<bool>,
    /// `e`: the whole field must parse.
    pub exact: bool,
    /// Bytes read.
    pub len: u64,
    /// Every comparison must hold.
    pub cmps: Vec<(CmpOp, i64)>,
}

/// How a byte-compare subsignature reads its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpBase {
    /// `h`: hexadecimal text.
    Hex,
    /// `d`: decimal text.
    Dec,
    /// `a`: hexadecimal text after `0x`, else decimal.
    Auto,
    /// `i`: a binary integer.
    Int,
    /// No base letter (ClamAV loads it; it never matches).
    None,
}

/// A byte-compare comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `<`.
    Lt,
    /// `>`.
    Gt,
    /// `=`.
    Eq,
}

/// A PCRE subsignature (`[Offset:]Trigger/Pattern/[Flags]`): its regular expression runs
/// only when its trigger (a logical expression over earlier subsignatures) holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pcre {
    /// When to run it.
    pub trigger: Expr,
    /// The PCRE2 pattern, as written.
    pub pattern: String,
    /// Its flags.
    pub flags: PcreFlags,
}

/// The flags of a PCRE subsignature.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PcreFlags {
    /// `i`: PCRE2_CASELESS.
    pub caseless: bool,
    /// `s`: PCRE2_DOTALL.
    pub dotall: bool,
    /// `m`: PCRE2_MULTILINE.
    pub multiline: bool,
    /// `x`: PCRE2_EXTENDED.
    pub extended: bool,
    /// `A`: PCRE2_ANCHORED (at the start of the search, and of each repeat with `g`).
    pub anchored: bool,
    /// `E`: PCRE2_DOLLAR_ENDONLY.
    pub dollar_endonly: bool,
    /// `U`: PCRE2_UNGREEDY.
    pub ungreedy: bool,
    /// `g`: count every non-overlapping match, not just the first.
    pub global: bool,
    /// `r`: don't anchor a search that starts at a fixed offset.
    pub rolling: bool,
    /// `e`: the whole match must lie within the offset's `,m` window.
    pub encompass: bool,
}

/// Bounds from a logical signature's target description block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Range {
    /// Inclusive minimum.
    pub min: u64,
    /// Inclusive maximum.
    pub max: u64,
}

/// A logical signature (`.ldb`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogicalSig {
    /// Signature name.
    pub name: String,
    /// Target type (see [`SUPPORTED_TARGETS`]).
    pub target: u32,
    /// `FileSize:min-max`, if given.
    pub file_size: Option<Range>,
    /// `EntryPoint:min-max` (the entry point's file offset), if given.
    pub entry_point: Option<Range>,
    /// `NumberOfSections:min-max`, if given.
    pub sections: Option<Range>,
    /// `Container:CL_TYPE_X`: the type of the layer this one was extracted from
    /// (`CL_TYPE_ANY` for a file scanned as itself), if given.
    pub container: Option<String>,
    /// `Intermediates:A>B>C`: the types of the layers above, the immediate parent last
    /// (`CL_TYPE_ANY` entries are ignored), if given.
    pub intermediates: Option<Vec<String>>,
    /// The logical expression over subsignature indexes.
    pub expr: Expr,
    /// The subsignatures, by index.
    pub subsigs: Vec<SubSig>,
}

/// Counts of well-formed lines the engine does not use, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Functionality level outside what this engine implements.
    pub level: u64,
    /// Target types the engine does not match (see [`SUPPORTED_TARGETS`]).
    pub target: u64,
    /// Offsets the engine does not evaluate: `VI` (PE version information) and `$n$` (macros).
    pub offset: u64,
    /// PCRE subsignatures.
    pub pcre: u64,
    /// Logical signatures with a target attribute the engine does not evaluate
    /// (`IconGroup1/2`, `HandlerType`, a `Container` or `Intermediates` type ClamAV does
    /// not know).
    pub attribute: u64,
    /// Byte-compare subsignatures (`N(>>26#ib2#=0)`).
    pub byte_compare: u64,
    /// Macro subsignatures (`${min-max}N$`).
    pub macro_sig: u64,
    /// Fuzzy-hash subsignatures (`fuzzy_img#…`).
    pub fuzzy: u64,
    /// Lines rejected as malformed but skipped because of lenient loading.
    pub malformed: u64,
}

impl Skipped {
    /// Total skipped lines.
    pub fn total(&self) -> u64 {
        self.level
            + self.target
            + self.offset
            + self.pcre
            + self.attribute
            + self.byte_compare
            + self.macro_sig
            + self.fuzzy
            + self.malformed
    }

    /// Adds another set of counts to this one.
    pub fn add(&mut self, o: &Skipped) {
        self.level += o.level;
        self.target += o.target;
        self.offset += o.offset;
        self.pcre += o.pcre;
        self.attribute += o.attribute;
        self.byte_compare += o.byte_compare;
        self.macro_sig += o.macro_sig;
        self.fuzzy += o.fuzzy;
        self.malformed += o.malformed;
    }
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [
            (self.level, "functionality level"),
            (self.target, "target type"),
            (self.offset, "executable-relative offset"),
            (self.pcre, "PCRE subsignature"),
            (
                self.attribute,
                "unsupported target attribute (IconGroup, HandlerType, ...)",
            ),
            (self.byte_compare, "byte-compare subsignature"),
            (self.macro_sig, "macro subsignature"),
            (self.fuzzy, "fuzzy-hash subsignature"),
            (self.malformed, "malformed (lenient)"),
        ];
        let mut first = true;
        for (n, what) in parts {
            if n > 0 {
                if !first {
                    write!(f, ", ")?;
                }
                write!(f, "{n} {what}")?;
                first = false;
            }
        }
        if first {
            write!(f, "none")?;
        }
        Ok(())
    }
}

/// The kind of a database file, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbKind {
    /// `.hdb`, `.hsb`, `.hdu`, `.hsu`
    Hash,
    /// `.mdb`, `.msb`, `.mdu`, `.msu`
    SectionHash,
    /// `.ndb`, `.ndu`
    Body,
    /// `.ldb`, `.ldu`
    Logical,
    /// `.fp`, `.sfp`
    AllowHash,
    /// `.ign`, `.ign2`
    Ignore,
    /// `.cvd`, `.cld`, `.cud`
    Container,
    /// `.yar`, `.yara`
    Yara,
}

impl DbKind {
    /// The kind for a file name, or None when the extension is not a database.
    pub fn from_file_name(name: &str) -> Option<DbKind> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        Some(match ext.as_str() {
            "hdb" | "hsb" | "hdu" | "hsu" => DbKind::Hash,
            "mdb" | "msb" | "mdu" | "msu" => DbKind::SectionHash,
            "ndb" | "ndu" => DbKind::Body,
            "ldb" | "ldu" => DbKind::Logical,
            "fp" | "sfp" => DbKind::AllowHash,
            "ign" | "ign2" => DbKind::Ignore,
            "cvd" | "cld" | "cud" => DbKind::Container,
            "yar" | "yara" => DbKind::Yara,
            _ => return None,
        })
    }

    /// Whether the extension marks a potentially-unwanted-application database (`.hdu`, ...),
    /// which is loaded only on request, as in ClamAV.
    pub fn is_pua(name: &str) -> bool {
        name.rsplit_once('.').is_some_and(|(_, e)| {
            matches!(
                e.to_ascii_lowercase().as_str(),
                "hdu" | "hsu" | "mdu" | "msu" | "ndu" | "ldu"
            )
        })
    }
}

/// Signatures parsed from database files.
#[derive(Clone, Debug, Default)]
pub struct Database {
    /// File-hash signatures.
    pub hashes: Vec<HashSig>,
    /// Body signatures.
    pub bodies: Vec<BodySig>,
    /// Logical signatures.
    pub logicals: Vec<LogicalSig>,
    /// Allow-listed file hashes.
    pub allow: Vec<HashSig>,
    /// PE section hashes (`.mdb`, `.msb`): `size` is the section's size.
    pub section_hashes: Vec<HashSig>,
    /// Signature names switched off.
    pub ignored: Vec<String>,
    /// Lines not used, by reason.
    pub skipped: Skipped,
}

impl Database {
    /// Number of signatures that can report a detection.
    pub fn signature_count(&self) -> usize {
        self.hashes.len() + self.section_hashes.len() + self.bodies.len() + self.logicals.len()
    }
}

/// Options for parsing.
#[derive(Clone, Copy, Debug, Default)]
pub struct ParseOptions {
    /// Skip malformed lines (counting them) instead of failing.
    pub lenient: bool,
}

/// Which list a hash signature belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashList {
    /// File hashes (`.hdb`, `.hsb`).
    File,
    /// PE section hashes (`.mdb`, `.msb`): the size is the section's size.
    Section,
    /// Allow-listed file hashes (`.fp`, `.sfp`).
    Allow,
}

/// A hash signature as parsed, borrowing its name from the database text, so a consumer
/// can store it compactly without an allocation per signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashRef<'a> {
    /// The algorithm.
    pub kind: HashKind,
    /// The digest, zero-padded after `kind.digest_len()` bytes.
    pub digest: [u8; 32],
    /// The file (or section) size, or None for any size.
    pub size: Option<u64>,
    /// Signature name.
    pub name: &'a str,
}

impl HashRef<'_> {
    /// The digest bytes proper.
    pub fn digest_bytes(&self) -> &[u8] {
        &self.digest[..self.kind.digest_len()]
    }

    /// An owned copy.
    pub fn to_sig(&self) -> HashSig {
        HashSig {
            kind: self.kind,
            digest: self.digest_bytes().to_vec(),
            size: self.size,
            name: self.name.to_string(),
        }
    }
}

/// Receives what a parser finds, one signature at a time: a caller that compiles or indexes
/// signatures as they come never holds the parsed form of a whole database.
pub trait Sink {
    /// A hash signature for `list`.
    fn hash(&mut self, list: HashList, sig: HashRef<'_>);
    /// A body signature.
    fn body(&mut self, sig: BodyRef<'_>);
    /// A logical signature.
    fn logical(&mut self, sig: LogicalSig);
    /// A signature name switched off (`.ign`, `.ign2`).
    fn ignore(&mut self, name: &str);
    /// The counts of lines not used.
    fn skipped(&mut self) -> &mut Skipped;
}

impl Sink for Database {
    fn hash(&mut self, list: HashList, sig: HashRef<'_>) {
        let v = match list {
            HashList::File => &mut self.hashes,
            HashList::Section => &mut self.section_hashes,
            HashList::Allow => &mut self.allow,
        };
        v.push(sig.to_sig());
    }
    fn body(&mut self, sig: BodyRef<'_>) {
        self.bodies.push(sig.to_sig());
    }
    fn logical(&mut self, sig: LogicalSig) {
        self.logicals.push(sig);
    }
    fn ignore(&mut self, name: &str) {
        self.ignored.push(name.to_string());
    }
    fn skipped(&mut self) -> &mut Skipped {
        &mut self.skipped
    }
}

/// Parses the text of one database file of the given kind, adding its signatures to `db`.
///
/// `Container` and `Yara` are not line formats: passing them is an error at line 1.
pub fn parse_into(
    db: &mut Database,
    kind: DbKind,
    text: &[u8],
    opts: ParseOptions,
) -> Result<(), ParseError> {
    parse_with(db, kind, text, opts)
}

/// Parses the text of one database file of the given kind, handing each signature to `sink`
/// as soon as it is parsed. Lines are independent: any run of whole lines may be parsed on
/// its own (and line numbers in errors then count from the start of that run).
pub fn parse_with<S: Sink + ?Sized>(
    sink: &mut S,
    kind: DbKind,
    text: &[u8],
    opts: ParseOptions,
) -> Result<(), ParseError> {
    if matches!(kind, DbKind::Container | DbKind::Yara) {
        return Err(ParseError {
            line: 1,
            kind: ParseErrorKind::Cvd("not a line-based database format".into()),
        });
    }
    // The tokens of body patterns, parsed into one buffer line after line.
    let mut tokens = Vec::new();
    let mut each = |idx: usize, line: &str| -> Result<(), ParseError> {
        match parse_line(sink, kind, line, &mut tokens) {
            Ok(()) => Ok(()),
            Err(_) if opts.lenient => {
                sink.skipped().malformed += 1;
                Ok(())
            }
            Err(kind) => Err(ParseError {
                line: idx + 1,
                kind,
            }),
        }
    };
    match std::str::from_utf8(text) {
        // The usual case: valid text, validated once.
        Ok(text) => {
            for (idx, line) in text.split('\n').enumerate() {
                each(idx, line)?;
            }
        }
        Err(_) => {
            for (idx, raw) in text.split(|&b| b == b'\n').enumerate() {
                each(idx, &String::from_utf8_lossy(raw))?;
            }
        }
    }
    Ok(())
}

/// Parses one line (without its `\n`) into `sink`.
fn parse_line<S: Sink + ?Sized>(
    sink: &mut S,
    kind: DbKind,
    line: &str,
    tokens: &mut Vec<Token>,
) -> Result<(), ParseErrorKind> {
    let line = line.trim_end();
    if line.is_empty() || line.starts_with('#') {
        return Ok(());
    }
    let list = match kind {
        DbKind::Hash => HashList::File,
        DbKind::AllowHash => HashList::Allow,
        DbKind::SectionHash => HashList::Section,
        DbKind::Body => {
            match body_fields(line, tokens)? {
                Parsed::Sig(s) => sink.body(s),
                Parsed::Skip(r) => r.count(sink.skipped()),
            }
            return Ok(());
        }
        DbKind::Logical => {
            match parse_logical_line(line)? {
                Parsed::Sig(s) => sink.logical(s),
                Parsed::Skip(r) => r.count(sink.skipped()),
            }
            return Ok(());
        }
        DbKind::Ignore => {
            sink.ignore(ignore_name(line));
            return Ok(());
        }
        DbKind::Container | DbKind::Yara => return Ok(()),
    };
    let (digest_at, size_at) = if list == HashList::Section {
        (1, 0)
    } else {
        (0, 1)
    };
    match hash_fields(line, digest_at, size_at)? {
        Some(sig) => sink.hash(list, sig),
        None => sink.skipped().level += 1,
    }
    Ok(())
}

/// Why a well-formed line is not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// Functionality level excludes this engine.
    Level,
    /// Target type not supported.
    Target,
    /// Offset type not supported.
    Offset,
    /// PCRE subsignature.
    Pcre,
    /// A target attribute the engine does not evaluate.
    Attribute,
    /// A byte-compare subsignature.
    ByteCompare,
    /// A macro subsignature.
    Macro,
    /// A fuzzy-hash subsignature.
    Fuzzy,
}

impl SkipReason {
    fn count(self, s: &mut Skipped) {
        match self {
            SkipReason::Level => s.level += 1,
            SkipReason::Target => s.target += 1,
            SkipReason::Offset => s.offset += 1,
            SkipReason::Pcre => s.pcre += 1,
            SkipReason::Attribute => s.attribute += 1,
            SkipReason::ByteCompare => s.byte_compare += 1,
            SkipReason::Macro => s.macro_sig += 1,
            SkipReason::Fuzzy => s.fuzzy += 1,
        }
    }
}

/// A parsed line: a usable signature or the reason it is skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A signature the engine uses.
    Sig(T),
    /// A well-formed line the engine does not use.
    Skip(SkipReason),
}

fn check_name(name: &str) -> Result<String, ParseErrorKind> {
    check_name_ref(name).map(str::to_string)
}

fn check_name_ref(name: &str) -> Result<&str, ParseErrorKind> {
    // One pass over the bytes: ASCII control bytes, and whether any byte is not ASCII (then
    // Unicode control characters are looked for too).
    let (mut ctrl, mut high) = (false, false);
    for b in name.bytes() {
        ctrl |= b < 0x20 || b == 0x7f;
        high |= b >= 0x80;
    }
    let control = ctrl || (high && name.chars().any(|c| c.is_control()));
    if name.is_empty() || name.len() > 512 || control {
        return Err(ParseErrorKind::Name(name.to_string()));
    }
    Ok(name)
}

/// Whether optional `MinFL[:MaxFL]` fields admit this engine.
fn level_ok(min: Option<&str>, max: Option<&str>) -> Result<bool, ParseErrorKind> {
    let parse = |s: &str| number(s).ok_or_else(|| ParseErrorKind::Level(s.to_string()));
    let min = match min {
        Some(s) if !s.is_empty() => Some(parse(s)?),
        _ => None,
    };
    let max = match max {
        Some(s) if !s.is_empty() => Some(parse(s)?),
        _ => None,
    };
    let fl = FUNCTIONALITY_LEVEL as u64;
    Ok(min.is_none_or(|m| fl >= m) && max.is_none_or(|m| fl <= m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_like_str_split() {
        // Separators at every position of the eight-byte words and in the tail, next to
        // bytes one apart from the separator (';' is ':' ^ 1), and non-ASCII text.
        let mut lines = vec![
            String::new(),
            ":".into(),
            "::::::::::".into(),
            ";:;:;:;:;:;:;:;:;".into(),
            "é:ü:::€".into(),
        ];
        for len in 0..20 {
            for at in 0..len {
                let mut l: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                l[at] = b':';
                if at + 1 < len {
                    l[at + 1] = b';';
                }
                lines.push(String::from_utf8(l).unwrap());
            }
        }
        for line in &lines {
            let want: Vec<&str> = line.split(':').collect();
            let f = Fields::split(line, b':');
            assert_eq!(f.len(), want.len(), "{line:?}");
            for (i, w) in want.iter().enumerate().take(8) {
                assert_eq!(f.get(i), Some(w), "{line:?} field {i}");
            }
        }
    }

    #[test]
    fn hash_lines() {
        let s = parse_hash_line("44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature")
            .unwrap()
            .unwrap();
        assert_eq!(s.kind, HashKind::Md5);
        assert_eq!(s.size, Some(68));
        assert!(parse_hash_line("3395856ce81f2b7382dee72602f798b642f14140:*:Name").is_err());
        let w = parse_hash_line("3395856ce81f2b7382dee72602f798b642f14140:*:Name:73")
            .unwrap()
            .unwrap();
        assert_eq!(w.size, None);
        assert!(
            parse_hash_line("3395856ce81f2b7382dee72602f798b642f14140:*:Name:999")
                .unwrap()
                .is_none()
        );
        for bad in [
            "zz:1:a",
            "44d88612fea8a8f36de82e1278abb02f:x:a",
            "44d88612fea8a8f36de82e1278abb02f:1:",
            "a",
        ] {
            assert!(parse_hash_line(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn body_lines() {
        let Parsed::Sig(b) = parse_body_line("Test:0:EOF-10,2:41424344").unwrap() else {
            panic!()
        };
        assert_eq!(b.offset, Offset::Eof { back: 10, extra: 2 });
        assert!(b.offset.allows(90, Frame::Plain(100)));
        assert!(b.offset.allows(92, Frame::Plain(100)));
        assert!(!b.offset.allows(93, Frame::Plain(100)));
        assert!(
            matches!(parse_body_line("T:7:*:41424344").unwrap(), Parsed::Sig(b) if b.target == 7)
        );
        assert_eq!(
            parse_body_line("T:8:*:41424344").unwrap(),
            Parsed::Skip(SkipReason::Target)
        );
        // Executable offsets, as ClamAV reads them (an empty number is 0).
        for (off, want) in [
            (
                "EP+0",
                Offset::Ep {
                    back: false,
                    delta: 0,
                    extra: 0,
                },
            ),
            (
                "EP-16,4",
                Offset::Ep {
                    back: true,
                    delta: 16,
                    extra: 4,
                },
            ),
            (
                "S2+100",
                Offset::Section {
                    index: 2,
                    delta: 100,
                    extra: 0,
                },
            ),
            ("SL+8,2", Offset::LastSection { delta: 8, extra: 2 }),
            ("SE1", Offset::InSection { index: 1, extra: 0 }),
            ("SE", Offset::InSection { index: 0, extra: 0 }),
            (
                "EP+",
                Offset::Ep {
                    back: false,
                    delta: 0,
                    extra: 0,
                },
            ),
        ] {
            let line = format!("T:1:{off}:41424344");
            let Parsed::Sig(b) = parse_body_line(&line).unwrap() else {
                panic!("{line}")
            };
            assert_eq!(b.offset, want, "{off}");
        }
        for bad in ["S2", "S1-4", "*,5", "EP+x", "1,2,3"] {
            assert!(
                parse_body_line(&format!("T:1:{bad}:41424344")).is_err(),
                "{bad}"
            );
        }
        // Only executable targets may use them.
        assert!(matches!(
            parse_body_line("T:0:EP+0:41424344"),
            Err(ParseErrorKind::OffsetTarget { target: 0, .. })
        ));
        let Parsed::Sig(b) = parse_body_line("T:1:VI:41424344").unwrap() else {
            panic!()
        };
        assert_eq!(b.offset, Offset::VersionInfo);
        assert!(parse_body_line("T:0:VI:41424344").is_err());
        // Windows in an executable's layout.
        let exe = ExeLayout {
            entry: 0x400,
            sections: vec![(0x400, 0x200), (0x600, 0x100)],
            version_info: vec![0x500, 0x520],
        };
        let f = Frame::Exe(0x800, &exe);
        assert_eq!(
            Offset::Ep {
                back: true,
                delta: 16,
                extra: 4
            }
            .window(f),
            Some((0x3f0, 0x3f4))
        );
        assert_eq!(
            Offset::Section {
                index: 1,
                delta: 2,
                extra: 0
            }
            .window(f),
            Some((0x602, 0x602))
        );
        assert_eq!(
            Offset::Section {
                index: 2,
                delta: 0,
                extra: 0
            }
            .window(f),
            None
        );
        assert_eq!(
            Offset::LastSection { delta: 0, extra: 1 }.window(f),
            Some((0x600, 0x601))
        );
        assert_eq!(
            Offset::InSection { index: 0, extra: 3 }.window(f),
            Some((0x400, 0x603))
        );
        assert_eq!(
            Offset::Ep {
                back: true,
                delta: 0x401,
                extra: 0
            }
            .window(f),
            None
        );
        // Not an executable, or a broken one: no executable offset matches; EOF-n only in
        // a plain file.
        assert_eq!(
            Offset::Ep {
                back: false,
                delta: 0,
                extra: 0
            }
            .window(Frame::Plain(10)),
            None
        );
        assert_eq!(
            Offset::Eof { back: 1, extra: 0 }.window(Frame::Broken),
            None
        );
        assert_eq!(
            Offset::Abs { start: 1, extra: 0 }.window(Frame::Broken),
            Some((1, 1))
        );
        assert_eq!(
            parse_body_line("T:0:*:41424344:999").unwrap(),
            Parsed::Skip(SkipReason::Level)
        );
        assert!(parse_body_line("T:0:x:4142").is_err());
    }

    #[test]
    fn logical_lines() {
        let Parsed::Sig(l) =
            parse_logical_line("L;Engine:51-255,Target:0;0&1;41424344;10:45464748::iw").unwrap()
        else {
            panic!()
        };
        assert_eq!(l.subsigs.len(), 2);
        assert!(l.subsigs[1].modifiers.nocase && l.subsigs[1].modifiers.wide);
        assert_eq!(
            l.subsigs[1].offset,
            Offset::Abs {
                start: 10,
                extra: 0
            }
        );
        // PCRE subsignatures: trigger, pattern (with a ';' and a '/' inside), flags.
        let Parsed::Sig(l) = parse_logical_line("L;Target:0;0&1;41424344;5,2:0/a;b/c/gir").unwrap()
        else {
            panic!()
        };
        let p = l.subsigs[1].pcre.as_ref().unwrap();
        assert_eq!(p.pattern, "a;b/c");
        assert!(p.flags.global && p.flags.caseless && p.flags.rolling && !p.flags.encompass);
        assert_eq!(l.subsigs[1].offset, Offset::Abs { start: 5, extra: 2 });
        for bad in [
            "L;Target:0;0&1;41424344;1/abc/",  // refers to itself
            "L;Target:0;0&1;41424344;/abc/",   // no trigger
            "L;Target:0;0&1;41424344;0//",     // empty pattern
            "L;Target:0;0&1;41424344;0/abc/z", // unknown flag
            "L;Target:0;0&1;41424344;0/abc",   // one delimiter
            "L;Target:0;0;0/abc/",             // subsignature 0 can't be one
        ] {
            assert!(parse_logical_line(bad).is_err(), "{bad}");
        }
        // Byte-compare subsignatures, as ClamAV reads them; malformed ones are errors.
        let Parsed::Sig(l) =
            parse_logical_line("L;Target:0;0&1;41424344;0(>>0x1a#il2#>1,<0x20)").unwrap()
        else {
            panic!()
        };
        let b = l.subsigs[1].byte_cmp.as_ref().unwrap();
        assert_eq!(
            (b.subsig, b.offset, b.len, b.little),
            (0, 26, 2, Some(true))
        );
        assert_eq!(b.cmps, vec![(CmpOp::Gt, 1), (CmpOp::Lt, 32)]);
        for bad in [
            "L;Target:0;0&1;41424344;0(>>5#il3#=0)",
            "L;Target:0;0&1;41424344;0(>>5#dl4#=0)",
            "L;Target:0;0&1;41424344;0(>5#ib1#=0)",
            "L;Target:0;0&1;41424344;0(>>5#ib1#=1,=2,=3)",
            "L;Target:0;0&1;41424344;0(>>5#ibx1#=0)",
        ] {
            assert!(parse_logical_line(bad).is_err(), "{bad}");
        }
        // Subsignatures the expression doesn't use are refused, as ClamAV does.
        assert!(parse_logical_line("L;Target:0;0;41424344;45464748").is_err());
        assert!(parse_logical_line("L;Target:0;0&2;41424344;45464748").is_err());
        assert!(parse_logical_line("L;Foo:1;0;41424344").is_err());
        assert!(parse_logical_line("L;Target:0,FileSize:1-2;0;41424344").is_err());
        assert!(parse_logical_line("L;Target:0;0;41424344::i,f").is_err());
    }

    /// Each skipped logical signature is counted under its real reason.
    #[test]
    fn logical_skip_reasons() {
        let cases = [
            (
                "L;Engine:81-255,Container:CL_TYPE_NOSUCH,Target:0;0;41424344",
                SkipReason::Attribute,
            ),
            (
                "L;Engine:51-255,Target:0;0&1;41424344;${6-7}0$",
                SkipReason::Macro,
            ),
            (
                "L;Engine:51-255,Target:0;0&1;41424344;fuzzy_img#af2ad01ed42993c7#0",
                SkipReason::Fuzzy,
            ),
            (
                "L;Engine:51-255,Target:0;0&1;41424344;0/abc/E",
                SkipReason::Pcre,
            ),
        ];
        for (line, want) in cases {
            assert_eq!(
                parse_logical_line(line).unwrap(),
                Parsed::Skip(want),
                "{line}"
            );
        }
        let mut s = Skipped::default();
        SkipReason::Attribute.count(&mut s);
        assert_eq!(
            s.to_string(),
            "1 unsupported target attribute (IconGroup, HandlerType, ...)"
        );
    }

    #[test]
    fn lenient_counts_bad_lines() {
        let mut db = Database::default();
        let text = b"# comment\nA:0:*:41424344\nbroken\nB:0:*:45464748\r\n";
        let e = parse_into(&mut db, DbKind::Body, text, ParseOptions::default()).unwrap_err();
        assert_eq!(e.line, 3);
        let mut db = Database::default();
        parse_into(&mut db, DbKind::Body, text, ParseOptions { lenient: true }).unwrap();
        assert_eq!(db.bodies.len(), 2);
        assert_eq!(db.skipped.malformed, 1);
    }
}
