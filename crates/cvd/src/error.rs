//! The error type: the file concerned plus what is wrong with it.

/// A verification, parsing or patching failure, naming the file it concerns.
///
/// Displays as `<file>: <what is wrong>`, e.g. `test-1.cvd: header signature does not verify`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {kind}")]
pub struct Error {
    /// The file (container, cdiff or `.sign`) the error is about, as the caller named it.
    pub file: String,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl Error {
    pub(crate) fn new(file: &str, kind: ErrorKind) -> Error {
        Error {
            file: file.to_string(),
            kind,
        }
    }

    /// True if a `.sign` check failed in a way that lets ClamAV 1.5 fall back to the legacy
    /// embedded signature (the `.sign` is unparseable or has no line for this flevel). A `.sign`
    /// line that parses but does not verify is a hard failure and returns false.
    pub fn allows_legacy_fallback(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::SignFormat(_)
                | ErrorKind::SignUnparseable { .. }
                | ErrorKind::SignNoApplicableLine { .. }
        )
    }
}

/// What is wrong; see [`Error`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    // --- container header ---
    /// The name ends neither in `.cvd` nor in `.cld`.
    #[error("unknown container type (the name must end in .cvd or .cld)")]
    UnknownContainer,
    /// Fewer than 512 bytes.
    #[error("file is shorter than the 512-byte header")]
    HeaderTooShort,
    /// The header is not `ClamAV-VDB:...`.
    #[error("header does not start with \"ClamAV-VDB:\"")]
    HeaderMagic,
    /// A header field is missing or does not parse.
    #[error("header field {field} is missing or invalid")]
    HeaderField {
        /// Field name (version, sigs, flevel, stime, ...).
        field: &'static str,
    },
    /// The header MD5 is not the MD5 of the body (compared exactly, lowercase hex).
    #[error("header MD5 {header} does not match the body MD5 {computed}")]
    HeaderMd5 {
        /// As written in the header.
        header: String,
        /// MD5 of bytes 512.. as lowercase hex.
        computed: String,
    },
    /// A `.cvd` header without a legacy signature.
    #[error("header has no signature (set allow_unsigned to accept unsigned user builds)")]
    HeaderSignatureMissing,
    /// The legacy RSA header signature does not verify.
    #[error(
        "header signature does not verify (set allow_unsigned to accept unsigned user builds)"
    )]
    HeaderSignature,

    // --- body ---
    /// The body is not a valid gzip stream.
    #[error("body is not a valid gzip stream: {0}")]
    Gzip(String),
    /// Unpacking would exceed the configured limit.
    #[error("unpacked data exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The tar archive is malformed.
    #[error("tar archive is malformed at offset {offset}: {reason}")]
    Tar {
        /// Offset of the offending header in the unpacked tar.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// More tar members than the configured limit.
    #[error("tar archive has more than {limit} members")]
    TooManyMembers {
        /// The limit.
        limit: usize,
    },
    /// Two tar members have the same name.
    #[error("tar member {0} occurs more than once")]
    DuplicateMember(String),

    // --- .info ---
    /// No member whose name ends in `.info`.
    #[error("no .info member")]
    InfoMissing,
    /// More than one `.info` member.
    #[error("more than one .info member ({0} is the second)")]
    InfoDuplicate(String),
    /// A malformed `.info` line.
    #[error(".info line {line}: {reason}")]
    Info {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The `.info` has no `DSIG:` line.
    #[error(".info has no DSIG line (set allow_unsigned to accept unsigned user builds)")]
    InfoSignatureMissing,
    /// The `.info` DSIG does not verify.
    #[error(".info signature does not verify (set allow_unsigned to accept unsigned user builds)")]
    InfoSignature,
    /// A container header field differs from the `.info` header line.
    #[error("corrupted header: {field} is {header:?} in the header but {info:?} in .info")]
    InfoHeaderMismatch {
        /// The field.
        field: &'static str,
        /// Value in the container header.
        header: String,
        /// Value in the `.info` header line.
        info: String,
    },
    /// A member with a database extension that `.info` does not list.
    #[error("member {0} is not listed in .info")]
    MemberNotListed(String),
    /// A member listed in `.info` is absent.
    #[error("{0} is listed in .info but is not in the archive")]
    MemberMissing(String),
    /// A member's size differs from `.info`.
    #[error("member {member} is {actual} bytes but .info says {listed}")]
    MemberSize {
        /// Member name.
        member: String,
        /// Size in `.info`.
        listed: u64,
        /// Actual size.
        actual: u64,
    },
    /// A member's SHA-256 differs from `.info`.
    #[error("member {0}: SHA-256 does not match .info")]
    MemberHash(String),

    // --- building a .cld ---
    /// A member `build_cld` needs is absent.
    #[error("cannot build a .cld without {0}")]
    BuildMissing(&'static str),
    /// A member name that the tar framing cannot hold (empty, >99 bytes, or with NUL/'/').
    #[error("member name {0:?} cannot be stored in a .cld")]
    BuildName(String),

    // --- .cdiff ---
    /// Shorter than the 350-byte minimum ClamAV requires.
    #[error("cdiff is too small to hold a signature")]
    CdiffTooSmall,
    /// No `:` before a signature in the last 350 bytes.
    #[error("cdiff has no signature separator in its last 350 bytes")]
    CdiffNoSignature,
    /// The cdiff RSA signature does not verify.
    #[error("cdiff signature does not verify")]
    CdiffSignature,
    /// The `ClamAV-Diff:<version>:<length>:` header is malformed.
    #[error("cdiff header is malformed: {0}")]
    CdiffHeader(&'static str),
    /// The script is not a valid gzip stream.
    #[error("cdiff script is not a valid gzip stream: {0}")]
    CdiffGzip(String),
    /// The unpacked script length differs from the header.
    #[error("cdiff script is {actual} bytes but the header declares {declared}")]
    CdiffLength {
        /// Length in the header.
        declared: u64,
        /// Unpacked length (reading stops one byte past `declared`).
        actual: u64,
    },
    /// Bytes between the end of the gzip stream and the signature.
    #[error("cdiff has data between the gzip stream and the signature")]
    CdiffTrailing,
    /// A script line is invalid or cannot be applied.
    #[error("line {line}: {error}")]
    Script {
        /// 1-based script line number.
        line: usize,
        /// What is wrong.
        error: ScriptError,
    },

    // --- .sign ---
    /// Not a `#clamsign-1.0` file (ClamAV falls back to the legacy signature).
    #[error("not a #clamsign-1.0 signature file: {0}")]
    SignFormat(&'static str),
    /// A `.sign` line that does not parse (ClamAV stops and falls back to the legacy signature).
    #[error(".sign line {line} does not parse: {reason}")]
    SignUnparseable {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// No `.sign` line covers this functionality level (ClamAV falls back to legacy).
    #[error(".sign has no signature for functionality level {flevel}")]
    SignNoApplicableLine {
        /// The engine's functionality level.
        flevel: u32,
    },
    /// A `.sign` line's PKCS#7 signature does not verify: a hard failure, no fallback.
    #[error(".sign line {line}: signature does not verify: {reason}")]
    SignInvalid {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A caller-supplied trust anchor does not parse.
    #[error("trust anchor #{index} is not a usable X.509 certificate")]
    TrustAnchor {
        /// Index into the trust anchor list.
        index: usize,
    },
}

/// What is wrong with a cdiff script line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScriptError {
    /// Not one of OPEN, ADD, DEL, XCHG, MOVE, CLOSE, UNLINK (an empty line included).
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
    /// The command lacks an argument.
    #[error("{0} is missing an argument")]
    MissingArgument(&'static str),
    /// A line number that is not a decimal number.
    #[error("invalid line number {0:?}")]
    BadLineNumber(String),
    /// A file name that is not a bare name of letters, digits, '.' and '_' (or is '.'/'..').
    #[error("invalid file name {0:?}")]
    BadName(String),
    /// OPEN while another database is open.
    #[error("OPEN while {0} is still open")]
    AlreadyOpen(String),
    /// ADD/DEL/XCHG/CLOSE with no open database.
    #[error("{0} without an open database")]
    NotOpen(&'static str),
    /// MOVE/UNLINK while a database is open.
    #[error("{command} while {open} is open")]
    StillOpen {
        /// The command.
        command: &'static str,
        /// The open database.
        open: String,
    },
    /// The script ends with a database still open (ClamAV silently drops its edits).
    #[error("script ends while {0} is still open")]
    OpenAtEnd(String),
    /// A file the command needs does not exist.
    #[error("{0} does not exist")]
    NoSuchFile(String),
    /// An edited file has a line without a trailing newline.
    #[error("{file} line {line} has no trailing newline")]
    MissingNewline {
        /// The file.
        file: String,
        /// 1-based line number in that file.
        line: usize,
    },
    /// A DEL/XCHG/MOVE pattern does not match the start of the line.
    #[error("{file} line {line} does not start with the expected pattern")]
    PatternMismatch {
        /// The file.
        file: String,
        /// 1-based line number in that file.
        line: usize,
    },
    /// An edit refers to a line past the end of the file.
    #[error("edit of {file} line {line} is past the end of the file")]
    EditPastEnd {
        /// The file.
        file: String,
        /// 1-based line number of the first unprocessed edit.
        line: usize,
    },
    /// MOVE's end line was never reached.
    #[error("MOVE from {file} did not reach its end line {line}")]
    MoveIncomplete {
        /// The source file.
        file: String,
        /// The end line.
        line: usize,
    },
    /// MOVE with the same source and destination.
    #[error("MOVE from {0} to itself")]
    MoveToSelf(String),
}
