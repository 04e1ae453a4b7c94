//! tlog-checkpoint: the note text a log signs for each tree head.

use detente_tlog::Hash;
use std::fmt;

use crate::keys::Verifiers;
use crate::note::{Note, Verification};
use crate::Error;

/// A checkpoint body: origin, tree size, root hash and optional extension lines.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

/// Parses a tree size: ASCII decimal, no sign, no leading zeros.
pub(crate) fn parse_size(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

impl Checkpoint {
    /// A checkpoint without extension lines. The origin must be a non-empty
    /// single line without control characters.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Checkpoint, Error> {
        Checkpoint::with_extensions(origin, size, root, Vec::new())
    }

    /// A checkpoint with extension lines (each non-empty, single-line).
    pub fn with_extensions(
        origin: &str,
        size: u64,
        root: Hash,
        extensions: Vec<String>,
    ) -> Result<Checkpoint, Error> {
        let ok_line = |s: &str| !s.is_empty() && !s.chars().any(|c| c < ' ');
        if !ok_line(origin) {
            return Err(Error::BadCheckpoint("origin"));
        }
        if !extensions.iter().all(|e| ok_line(e)) {
            return Err(Error::BadCheckpoint("extension line"));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Parses a checkpoint from a note text, strictly: every line ends in a
    /// newline, the size is canonical decimal, the root canonical base64 of
    /// 32 bytes, extension lines non-empty.
    pub fn parse(text: &str) -> Result<Checkpoint, Error> {
        let body = text
            .strip_suffix('\n')
            .ok_or(Error::BadCheckpoint("text must end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or("");
        let size = lines.next().ok_or(Error::BadCheckpoint("missing size"))?;
        let root = lines
            .next()
            .ok_or(Error::BadCheckpoint("missing root hash"))?;
        let size = parse_size(size).ok_or(Error::BadCheckpoint("size"))?;
        let root = Hash::from_base64(root).map_err(|_| Error::BadCheckpoint("root hash"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        Checkpoint::with_extensions(origin, size, root, extensions)
    }

    /// The origin line: the log's identity.
    pub fn origin(&self) -> &str {
        &self.origin
    }
    /// Tree size.
    pub fn size(&self) -> u64 {
        self.size
    }
    /// Root hash.
    pub fn root(&self) -> &Hash {
        &self.root
    }
    /// Extension lines, without newlines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The note text: `origin\nsize\nroot\n[extensions\n]`.
    pub fn to_text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n{}\n{}\n", self.origin, self.size, self.root)?;
        for e in &self.extensions {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

/// A checkpoint together with the signed note that carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The parsed body.
    pub checkpoint: Checkpoint,
    /// The note, with all its signatures (log and cosignatures).
    pub note: Note,
}

impl SignedCheckpoint {
    /// Parses a signed checkpoint note (signatures are not yet checked).
    pub fn parse(msg: &[u8]) -> Result<SignedCheckpoint, Error> {
        let note = Note::parse(msg)?;
        let checkpoint = Checkpoint::parse(note.text())?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// Parses and verifies against known keys (see [`Note::verify`]).
    pub fn open(msg: &[u8], known: &Verifiers) -> Result<(SignedCheckpoint, Verification), Error> {
        let c = SignedCheckpoint::parse(msg)?;
        let v = c.note.verify(known)?;
        Ok((c, v))
    }

    /// An unsigned note for `checkpoint`, ready for [`Note::sign`].
    pub fn unsigned(checkpoint: Checkpoint) -> Result<SignedCheckpoint, Error> {
        let note = Note::new(checkpoint.to_text())?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// The serialized note.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.note.to_bytes()
    }
}
