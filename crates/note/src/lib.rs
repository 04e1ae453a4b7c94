//! C2SP signed notes, checkpoints and cosignatures for detente.
//!
//! * [`Note`]: [c2sp.org/signed-note](https://c2sp.org/signed-note), parsed
//!   strictly (size and signature-count limits, UTF-8 without control
//!   characters, canonical base64, no duplicate signatures) and verified
//!   against a set of known keys ([`Verifiers`]): signatures by unknown keys
//!   are reported and ignored, a bad signature by a known key rejects the note.
//! * [`Checkpoint`]: <https://c2sp.org/tlog-checkpoint>.
//! * Keys: Ed25519 note keys (signature type 0x01, [`Ed25519Signer`] /
//!   [`Ed25519Verifier`], in Go's `PRIVATE+KEY+...` and vkey text forms) and
//!   [c2sp.org/tlog-cosignature](https://c2sp.org/tlog-cosignature) witness
//!   keys: Ed25519 `cosignature/v1` (type 0x04) and ML-DSA-44 `subtree/v1`
//!   (type 0x06), see [`Cosigner`] and [`CosignatureVerifier`].
//!
//! [`Signer`] and [`Verifier`] are the plug points for other key stores.
//! Nothing here reads a clock or the OS random source: cosigning takes the
//! timestamp as an argument and keys are made from caller-supplied seeds.
//! Private keys never appear in `Debug` output.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod checkpoint;
mod cosignature;
mod keys;
mod note;

pub use checkpoint::{Checkpoint, SignedCheckpoint};
pub use cosignature::{
    cosignature_timestamp, subtree_message, CosignatureVerifier, Cosigner, TimedCosigner,
    MLDSA44_PUBLIC_KEY_SIZE, MLDSA44_SIGNATURE_SIZE,
};
pub use keys::{
    is_valid_name, key_id, Ed25519Signer, Ed25519Verifier, Signer, Verifier, VerifierKey,
    Verifiers, ALG_COSIGNATURE_V1, ALG_ED25519, ALG_MLDSA44,
};
pub use note::{KeyRef, Note, Signature, Verification, MAX_NOTE_SIZE, MAX_SIGNATURES};

/// Everything that can go wrong in this crate.
///
/// Parse errors say what was malformed; verification errors name the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The note is larger than [`MAX_NOTE_SIZE`].
    #[error("note exceeds {MAX_NOTE_SIZE} bytes")]
    TooLarge,
    /// The note is not valid UTF-8.
    #[error("note is not valid UTF-8")]
    NotUtf8,
    /// The note contains a control character other than newline (e.g. `\r`).
    #[error("note contains a control character")]
    ControlChar,
    /// The note text is empty or does not end in a newline.
    #[error("note text must be non-empty and end with a newline")]
    BadText,
    /// No blank line separating text from at least one signature line.
    #[error("note has no signature block")]
    NoSignatures,
    /// A signature line is not `— <name> <base64>`.
    #[error("malformed signature line")]
    BadSignatureLine,
    /// A key name is empty or contains whitespace or `+`.
    #[error("invalid key name")]
    BadKeyName,
    /// Signature base64 is not canonical standard base64.
    #[error("signature is not valid base64")]
    BadBase64,
    /// A signature shorter than a key ID plus one byte.
    #[error("signature is too short")]
    SignatureTooShort,
    /// More than [`MAX_SIGNATURES`] signature lines.
    #[error("note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    /// Two signature lines by the same key (name and key ID).
    #[error("duplicate signature by {name} ({id:08x})")]
    DuplicateSignature {
        /// Key name.
        name: String,
        /// Key ID.
        id: u32,
    },
    /// A known key's signature failed to verify: the whole note is rejected.
    #[error("invalid signature by {name} ({id:08x})")]
    InvalidSignature {
        /// Key name.
        name: String,
        /// Key ID.
        id: u32,
    },
    /// No signature by a known key.
    #[error("note has no signature by a known key")]
    Unverified,
    /// Two known keys share a name and key ID.
    #[error("ambiguous known keys {name} ({id:08x})")]
    AmbiguousKey {
        /// Key name.
        name: String,
        /// Key ID.
        id: u32,
    },
    /// A key text (vkey or private key) is malformed.
    #[error("malformed key: {0}")]
    BadKey(&'static str),
    /// A key's stated ID does not match its name and public key.
    #[error("key ID does not match the key")]
    KeyIdMismatch,
    /// A signature type this crate does not implement.
    #[error("unsupported signature type 0x{0:02x}")]
    UnsupportedKeyType(u8),
    /// A checkpoint is malformed; the string says which part.
    #[error("malformed checkpoint: {0}")]
    BadCheckpoint(&'static str),
    /// A cosignature timestamp above 2^63-1.
    #[error("timestamp out of range")]
    BadTimestamp,
    /// A `subtree/v1` message that cannot be built (names or origins of 0 or
    /// over 255 bytes, a timestamp on a non-root subtree, an empty subtree
    /// with a non-empty hash).
    #[error("invalid subtree message: {0}")]
    BadSubtree(&'static str),
    /// The signature primitive failed.
    #[error("signing failed")]
    SigningFailed,
}
