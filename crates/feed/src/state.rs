//! The client's durable state: the last accepted checkpoint and the
//! installed version.

use detente_note::{SignedCheckpoint, MAX_NOTE_SIZE};
use detente_tlog::Hash;

use crate::text::parse_u64;

/// First line of the state file.
pub const STATE_HEADER: &str = "detente-feed-state/v1";

/// Why a state file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Larger than a checkpoint note plus the header lines can be.
    #[error("state file too large")]
    TooLarge,
    /// Not UTF-8 or not in the exact canonical layout.
    #[error("state file: malformed {0}")]
    Malformed(&'static str),
    /// `version 0`: a state exists only once a release is installed.
    #[error("state file: version must be at least 1")]
    VersionZero,
    /// The checkpoint note does not parse.
    #[error("state file checkpoint: {0}")]
    Checkpoint(detente_note::Error),
    /// The `size` or `root` line disagrees with the checkpoint note.
    #[error("state file: size or root line disagrees with the checkpoint")]
    Mismatch,
}

/// What a client keeps between updates: the signed checkpoint it last
/// accepted (for rollback, fork and split-view detection, and as evidence)
/// and the version it has installed.
///
/// Text form ([`ClientState::to_bytes`]; `size` and `root` repeat the
/// checkpoint for people reading the file and must agree with it):
///
/// ```text
/// detente-feed-state/v1
/// version 7
/// size 8
/// root <base64 root hash>
///
/// <the signed checkpoint note, cosignatures included>
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientState {
    version: u64,
    checkpoint: SignedCheckpoint,
}

impl ClientState {
    /// A state for installed `version` (at least 1) under `checkpoint`.
    pub fn new(version: u64, checkpoint: SignedCheckpoint) -> Result<ClientState, StateError> {
        if version == 0 {
            return Err(StateError::VersionZero);
        }
        Ok(ClientState {
            version,
            checkpoint,
        })
    }

    /// A state from parts already known valid (`version` at least 1).
    pub(crate) fn from_parts(version: u64, checkpoint: SignedCheckpoint) -> ClientState {
        ClientState {
            version: version.max(1),
            checkpoint,
        }
    }

    /// The installed version.
    pub fn version(&self) -> u64 {
        self.version
    }
    /// The last accepted signed checkpoint.
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }
    /// Its tree size.
    pub fn size(&self) -> u64 {
        self.checkpoint.checkpoint.size()
    }
    /// Its root hash.
    pub fn root(&self) -> &Hash {
        self.checkpoint.checkpoint.root()
    }

    /// The canonical text form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "{STATE_HEADER}\nversion {}\nsize {}\nroot {}\n\n",
            self.version,
            self.size(),
            self.root()
        )
        .into_bytes();
        out.extend(self.checkpoint.to_bytes());
        out
    }

    /// Parses the canonical text form; anything else is refused.
    pub fn parse(data: &[u8]) -> Result<ClientState, StateError> {
        use StateError::Malformed;
        if data.len() > MAX_NOTE_SIZE + 256 {
            return Err(StateError::TooLarge);
        }
        let text = std::str::from_utf8(data).map_err(|_| Malformed("encoding (not UTF-8)"))?;
        let (head, note) = text
            .split_once("\n\n")
            .ok_or(Malformed("layout (no blank line before the checkpoint)"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(STATE_HEADER) {
            return Err(Malformed("header"));
        }
        let mut field = |key: &'static str| -> Result<&str, StateError> {
            lines
                .next()
                .and_then(|l| l.strip_prefix(key))
                .and_then(|l| l.strip_prefix(' '))
                .ok_or(Malformed(key))
        };
        let version = parse_u64(field("version")?).ok_or(Malformed("version"))?;
        let size = parse_u64(field("size")?).ok_or(Malformed("size"))?;
        let root = Hash::from_base64(field("root")?).map_err(|_| Malformed("root"))?;
        if lines.next().is_some() {
            return Err(Malformed("header (extra line)"));
        }
        let checkpoint =
            SignedCheckpoint::parse(note.as_bytes()).map_err(StateError::Checkpoint)?;
        if checkpoint.checkpoint.size() != size || *checkpoint.checkpoint.root() != root {
            return Err(StateError::Mismatch);
        }
        let state = ClientState::new(version, checkpoint)?;
        if state.to_bytes() != data {
            return Err(Malformed("layout (not canonical)"));
        }
        Ok(state)
    }
}
