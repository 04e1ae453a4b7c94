//! The release manifest: a line-based text, signed as a C2SP note by the
//! publisher's Ed25519 key.

use std::fmt;

use detente_note::{is_valid_name, Ed25519Verifier, Note, Signer, Verifiers};
use detente_tlog::MAX_ENTRY_SIZE;

use crate::text::{hex32, parse_hex32, parse_u64, sha256};

/// First line of every manifest.
pub const MANIFEST_HEADER: &str = "detente-feed-manifest/v1";
/// Largest manifest text accepted by [`Manifest::parse`] (1 MiB).
pub const MAX_MANIFEST_SIZE: usize = 1 << 20;
/// Most `file` lines a manifest may have.
pub const MAX_FILES: usize = 4096;
/// Longest file name.
pub const MAX_NAME_LEN: usize = 128;

/// Whether `name` may name a database file or patch: 1 to 128 of
/// `[A-Za-z0-9._-]`, not starting with a dot (so never `.`, `..` or a
/// hidden file, and never a path), and not one of the names an installed release keeps
/// beside its files (`release.manifest`, `release.tlog-proof`).
pub fn is_valid_file_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && !matches!(name, "release.manifest" | "release.tlog-proof")
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A manifest parse error: the 1-based line (0 for the whole text) and what
/// was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("manifest line {line}: {kind}")]
pub struct ManifestError {
    /// 1-based line number, 0 when the problem is not on one line.
    pub line: usize,
    /// What was wrong.
    pub kind: ManifestErrorKind,
}

/// The kinds of manifest errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestErrorKind {
    /// The text exceeds [`MAX_MANIFEST_SIZE`].
    #[error("manifest exceeds {MAX_MANIFEST_SIZE} bytes")]
    TooLarge,
    /// Not UTF-8.
    #[error("manifest is not UTF-8")]
    NotUtf8,
    /// A control character (including `\r` and tab) or DEL.
    #[error("forbidden control character")]
    ControlChar,
    /// The text is empty or its last line has no newline.
    #[error("missing final newline")]
    MissingNewline,
    /// An empty line.
    #[error("empty line")]
    EmptyLine,
    /// A leading, trailing or doubled space.
    #[error("fields must be separated by exactly one space, with none at either end")]
    Spacing,
    /// The first line is not [`MANIFEST_HEADER`].
    #[error("first line must be {MANIFEST_HEADER:?}")]
    Header,
    /// A line whose key this version does not define.
    #[error("unknown key {0:?}")]
    UnknownKey(String),
    /// A single-valued key given twice.
    #[error("duplicate {0:?} line")]
    Duplicate(&'static str),
    /// A key after one that must follow it.
    #[error("{0:?} line out of order")]
    OutOfOrder(&'static str),
    /// A required key is absent.
    #[error("missing {0:?} line")]
    Missing(&'static str),
    /// The wrong number of fields for the key.
    #[error("wrong number of fields on {0:?} line")]
    Fields(&'static str),
    /// A number that is not canonical decimal (digits, no leading zero, fits in 64 bits).
    #[error("{0:?}: not a canonical decimal number")]
    Number(&'static str),
    /// The origin is not a valid key name (non-empty, no space, no `+`).
    #[error("invalid origin")]
    Origin,
    /// `version 0`: versions start at 1.
    #[error("version must be at least 1")]
    VersionZero,
    /// `expires` is not after `created`.
    #[error("expires must be after created")]
    ExpiresNotAfterCreated,
    /// `base` is not a version between 1 and `version - 1`.
    #[error("base must be between 1 and version - 1")]
    Base,
    /// A file name outside `[A-Za-z0-9._-]{1,128}` or with a leading dot.
    #[error("invalid file name {0:?}")]
    BadName(String),
    /// A SHA-256 that is not 64 lowercase hex digits.
    #[error("SHA-256 must be 64 lowercase hex digits")]
    BadHash,
    /// The same name twice in `file` (or `patch`) lines.
    #[error("duplicate name {0:?}")]
    DuplicateName(String),
    /// Names not in ascending byte order.
    #[error("{0:?} is not in ascending order")]
    NotSorted(String),
    /// A `patch` line in a manifest without `base`.
    #[error("patch line without a base line")]
    PatchWithoutBase,
    /// A `patch` line naming no `file` of this manifest.
    #[error("patch for {0:?}, which is not a file of this release")]
    PatchForUnknownFile(String),
    /// More than [`MAX_FILES`] `file` lines.
    #[error("more than {MAX_FILES} files")]
    TooManyFiles,
    /// No `file` line.
    #[error("a release must have at least one file")]
    NoFiles,
}

fn err(line: usize, kind: ManifestErrorKind) -> ManifestError {
    ManifestError { line, kind }
}

/// Truncates a name for an error message (the line itself may be long).
fn shown(name: &str) -> String {
    name.chars().take(MAX_NAME_LEN + 1).collect()
}

/// A named blob with its size and SHA-256: an installed database file or a
/// patch object.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    name: String,
    size: u64,
    sha256: [u8; 32],
}

impl Entry {
    /// An entry; the name must satisfy [`is_valid_file_name`].
    pub fn new(name: &str, size: u64, sha256: [u8; 32]) -> Result<Entry, ManifestError> {
        if !is_valid_file_name(name) {
            return Err(err(0, ManifestErrorKind::BadName(shown(name))));
        }
        Ok(Entry {
            name: name.to_owned(),
            size,
            sha256,
        })
    }

    /// The entry describing `bytes` under `name`.
    pub fn for_bytes(name: &str, bytes: &[u8]) -> Result<Entry, ManifestError> {
        Entry::new(name, bytes.len() as u64, sha256(bytes))
    }

    /// File name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
    /// SHA-256 of the content.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }
    /// SHA-256 as 64 lowercase hex digits: also the content-addressed object
    /// name (`objects/<hex>` in a feed's public tree).
    pub fn sha256_hex(&self) -> String {
        hex32(&self.sha256)
    }

    fn line(&self, key: &str) -> String {
        format!("{key} {} {} {}\n", self.name, self.size, self.sha256_hex())
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Entry({} {} {})",
            self.name,
            self.size,
            self.sha256_hex()
        )
    }
}

/// A release manifest (see the crate documentation for the text format).
///
/// Every `Manifest` value is valid: [`Manifest::new`] and [`Manifest::parse`]
/// are the only ways to make one, and `parse(to_text(m)) == m`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    origin: String,
    version: u64,
    created: u64,
    expires: u64,
    base: Option<u64>,
    files: Vec<Entry>,
    patches: Vec<Entry>,
}

/// Why a manifest could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The note layer refused (text too large, signer failure).
    #[error("signing the manifest note: {0}")]
    Note(#[from] detente_note::Error),
    /// The signed note is larger than a log entry can be (C2SP tlog-tiles
    /// entry bundles carry 16-bit lengths).
    #[error("signed manifest is {size} bytes, more than the {max} a log entry can hold")]
    TooLargeForLog {
        /// Size of the signed note.
        size: usize,
        /// [`MAX_ENTRY_SIZE`].
        max: usize,
    },
}

/// Why a signed manifest note was not accepted by [`Manifest::verify`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The note itself is malformed.
    #[error("malformed manifest note: {0}")]
    Note(detente_note::Error),
    /// No valid signature by the publisher key (missing or invalid).
    #[error("manifest is not validly signed by the publisher key {0}")]
    Signature(String),
    /// The signed text is not a valid manifest.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Origin = 1,
    Version,
    Created,
    Expires,
    Base,
    File,
    Patch,
}

impl Key {
    fn parse(s: &str) -> Option<Key> {
        Some(match s {
            "origin" => Key::Origin,
            "version" => Key::Version,
            "created" => Key::Created,
            "expires" => Key::Expires,
            "base" => Key::Base,
            "file" => Key::File,
            "patch" => Key::Patch,
            _ => return None,
        })
    }
    fn name(self) -> &'static str {
        match self {
            Key::Origin => "origin",
            Key::Version => "version",
            Key::Created => "created",
            Key::Expires => "expires",
            Key::Base => "base",
            Key::File => "file",
            Key::Patch => "patch",
        }
    }
}

/// Parses `<name> <size> <sha256>` (the fields after `file` or `patch`).
fn parse_entry(line: usize, key: &'static str, f: &[&str]) -> Result<Entry, ManifestError> {
    let e = |k| err(line, k);
    let [name, size, hash] = f else {
        return Err(e(ManifestErrorKind::Fields(key)));
    };
    if !is_valid_file_name(name) {
        return Err(e(ManifestErrorKind::BadName(shown(name))));
    }
    let size = parse_u64(size).ok_or(e(ManifestErrorKind::Number(key)))?;
    let sha256 = parse_hex32(hash).ok_or(e(ManifestErrorKind::BadHash))?;
    Ok(Entry {
        name: (*name).to_owned(),
        size,
        sha256,
    })
}

/// Appends `entry` to `list`, which must stay strictly ascending by name.
fn push_sorted(line: usize, list: &mut Vec<Entry>, entry: Entry) -> Result<(), ManifestError> {
    if let Some(last) = list.last() {
        if last.name == entry.name {
            return Err(err(line, ManifestErrorKind::DuplicateName(entry.name)));
        }
        if last.name > entry.name {
            return Err(err(line, ManifestErrorKind::NotSorted(entry.name)));
        }
    }
    list.push(entry);
    Ok(())
}

impl Manifest {
    /// Builds a manifest from its parts, sorting `files` and `patches` by
    /// name, and checks it with the same rules as [`Manifest::parse`].
    pub fn new(
        origin: &str,
        version: u64,
        created: u64,
        expires: u64,
        base: Option<u64>,
        mut files: Vec<Entry>,
        mut patches: Vec<Entry>,
    ) -> Result<Manifest, ManifestError> {
        files.sort_by(|a, b| a.name.cmp(&b.name));
        patches.sort_by(|a, b| a.name.cmp(&b.name));
        let m = Manifest {
            origin: origin.to_owned(),
            version,
            created,
            expires,
            base,
            files,
            patches,
        };
        // One set of rules: whatever `new` accepts, `parse` reads back equal.
        let back = Manifest::parse(m.to_text().as_bytes())?;
        if back != m {
            return Err(err(0, ManifestErrorKind::Origin));
        }
        Ok(m)
    }

    /// Parses a manifest text strictly: the header first, then `origin`,
    /// `version`, `created`, `expires`, an optional `base`, the `file` lines
    /// and the `patch` lines, in that order; single spaces, canonical
    /// numbers, names sorted, no unknown key, no `\r`, no empty line.
    pub fn parse(text: &[u8]) -> Result<Manifest, ManifestError> {
        use ManifestErrorKind as K;
        if text.len() > MAX_MANIFEST_SIZE {
            return Err(err(0, K::TooLarge));
        }
        if let Some(pos) = text
            .iter()
            .position(|&b| (b < 0x20 && b != b'\n') || b == 0x7f)
        {
            let line = 1 + text[..pos].iter().filter(|&&b| b == b'\n').count();
            return Err(err(line, K::ControlChar));
        }
        let text = std::str::from_utf8(text).map_err(|_| err(0, K::NotUtf8))?;
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| err(text.split('\n').count(), K::MissingNewline))?;
        let mut lines = body.split('\n');
        if lines.next() != Some(MANIFEST_HEADER) {
            return Err(err(1, K::Header));
        }
        let (mut origin, mut version, mut created, mut expires, mut base) =
            (None, None, None, None, None);
        let mut files: Vec<Entry> = Vec::new();
        let mut patches: Vec<Entry> = Vec::new();
        let mut last: Option<Key> = None;
        for (i, raw) in lines.enumerate() {
            let line = i + 2;
            let e = |k| err(line, k);
            if raw.is_empty() {
                return Err(e(K::EmptyLine));
            }
            let fields: Vec<&str> = raw.split(' ').collect();
            if fields.iter().any(|f| f.is_empty()) {
                return Err(e(K::Spacing));
            }
            let key = Key::parse(fields[0]).ok_or_else(|| e(K::UnknownKey(shown(fields[0]))))?;
            let repeatable = matches!(key, Key::File | Key::Patch);
            match last {
                Some(l) if l > key => return Err(e(K::OutOfOrder(key.name()))),
                Some(l) if l == key && !repeatable => return Err(e(K::Duplicate(key.name()))),
                _ => {}
            }
            last = Some(key);
            let args = &fields[1..];
            let number = |k: Key| -> Result<u64, ManifestError> {
                let [n] = args else {
                    return Err(e(K::Fields(k.name())));
                };
                parse_u64(n).ok_or(e(K::Number(k.name())))
            };
            match key {
                Key::Origin => {
                    let [o] = args else {
                        return Err(e(K::Fields("origin")));
                    };
                    if !is_valid_name(o) {
                        return Err(e(K::Origin));
                    }
                    origin = Some((*o).to_owned());
                }
                Key::Version => {
                    let v = number(key)?;
                    if v == 0 {
                        return Err(e(K::VersionZero));
                    }
                    version = Some(v);
                }
                Key::Created => created = Some(number(key)?),
                Key::Expires => {
                    let x = number(key)?;
                    if created.is_some_and(|c| x <= c) {
                        return Err(e(K::ExpiresNotAfterCreated));
                    }
                    expires = Some(x);
                }
                Key::Base => {
                    let b = number(key)?;
                    if b == 0 || version.is_some_and(|v| b >= v) {
                        return Err(e(K::Base));
                    }
                    base = Some(b);
                }
                Key::File => {
                    if files.len() == MAX_FILES {
                        return Err(e(K::TooManyFiles));
                    }
                    let entry = parse_entry(line, "file", args)?;
                    push_sorted(line, &mut files, entry)?;
                }
                Key::Patch => {
                    if base.is_none() {
                        return Err(e(K::PatchWithoutBase));
                    }
                    let entry = parse_entry(line, "patch", args)?;
                    if files
                        .binary_search_by(|f| f.name.as_str().cmp(&entry.name))
                        .is_err()
                    {
                        return Err(e(K::PatchForUnknownFile(entry.name)));
                    }
                    push_sorted(line, &mut patches, entry)?;
                }
            }
        }
        let missing = |k: &'static str| err(0, K::Missing(k));
        let origin = origin.ok_or(missing("origin"))?;
        let version = version.ok_or(missing("version"))?;
        let created = created.ok_or(missing("created"))?;
        let expires = expires.ok_or(missing("expires"))?;
        if files.is_empty() {
            return Err(err(0, K::NoFiles));
        }
        Ok(Manifest {
            origin,
            version,
            created,
            expires,
            base,
            files,
            patches,
        })
    }

    /// The canonical text (the note text that is signed).
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{MANIFEST_HEADER}\norigin {}\nversion {}\ncreated {}\nexpires {}\n",
            self.origin, self.version, self.created, self.expires
        );
        if let Some(b) = self.base {
            s += &format!("base {b}\n");
        }
        for f in &self.files {
            s += &f.line("file");
        }
        for p in &self.patches {
            s += &p.line("patch");
        }
        s
    }

    /// Signs the manifest as a note with `signer` (the publisher key) and
    /// returns the note bytes: the log entry and what clients download.
    ///
    /// Refuses a note too large to be a log entry (64 KiB), which in practice
    /// bounds a loggable release to several hundred files.
    pub fn sign(&self, signer: &dyn Signer) -> Result<Vec<u8>, SignError> {
        let mut note = Note::new(self.to_text())?;
        note.sign(signer)?;
        let bytes = note.to_bytes();
        if bytes.len() > MAX_ENTRY_SIZE {
            return Err(SignError::TooLargeForLog {
                size: bytes.len(),
                max: MAX_ENTRY_SIZE,
            });
        }
        Ok(bytes)
    }

    /// Parses a signed manifest note, checks the publisher's signature, and
    /// only then parses the signed text. Signatures by other keys are ignored.
    pub fn verify(note: &[u8], publisher: &Ed25519Verifier) -> Result<Manifest, VerifyError> {
        let note = Note::parse(note).map_err(VerifyError::Note)?;
        let signature = || VerifyError::Signature(publisher.to_string());
        let known = Verifiers::new()
            .with(publisher.clone())
            .map_err(|_| signature())?;
        note.verify(&known).map_err(|_| signature())?;
        Ok(Manifest::parse(note.text().as_bytes())?)
    }

    /// The feed origin (equal to the log origin).
    pub fn origin(&self) -> &str {
        &self.origin
    }
    /// The release version, at least 1.
    pub fn version(&self) -> u64 {
        self.version
    }
    /// Creation time, Unix seconds.
    pub fn created(&self) -> u64 {
        self.created
    }
    /// Expiry time, Unix seconds: the release is refused at or after it.
    pub fn expires(&self) -> u64 {
        self.expires
    }
    /// For an incremental release, the version its patches apply to.
    pub fn base(&self) -> Option<u64> {
        self.base
    }
    /// The installed database files, sorted by name.
    pub fn files(&self) -> &[Entry] {
        &self.files
    }
    /// The patches from `base`'s files, sorted by name.
    pub fn patches(&self) -> &[Entry] {
        &self.patches
    }
    /// The file named `name`, if this release has one.
    pub fn file(&self, name: &str) -> Option<&Entry> {
        find(&self.files, name)
    }
    /// The patch producing file `name` from `base`, if there is one.
    pub fn patch(&self, name: &str) -> Option<&Entry> {
        find(&self.patches, name)
    }
}

fn find<'a>(list: &'a [Entry], name: &str) -> Option<&'a Entry> {
    list.binary_search_by(|e| e.name.as_str().cmp(name))
        .ok()
        .map(|i| &list[i])
}
