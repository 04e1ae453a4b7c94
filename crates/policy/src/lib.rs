//! Trust policy and offline proofs for transparency logs.
//!
//! * [`Policy`] implements <https://c2sp.org/tlog-policy>,
//!   the text format that lists trusted logs and witnesses and the quorum
//!   rule (nested groups with `all`, `any` or `k`-of-`n` thresholds). Parsed
//!   strictly; [`Policy::verify_checkpoint`] decides whether a cosigned
//!   checkpoint is acceptable.
//! * [`TlogProof`] implements <https://c2sp.org/tlog-proof>,
//!   a self-contained `.tlog-proof` (index, inclusion proof, cosigned
//!   checkpoint, optional extra data) that can be checked offline under a
//!   policy with [`TlogProof::verify`].
//!
//! Deviation: the spec treats names as opaque octets; this crate reads
//! policies as UTF-8 text and refuses anything else.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod policy;
mod proof;

pub use policy::{
    Group, Log, Member, Policy, PolicyError, PolicyErrorKind, Quorum, Witness, MAX_ENTRIES,
};
pub use proof::{TlogProof, VerifiedProof, PROOF_HEADER};

/// Why a checkpoint or proof was not accepted under a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The note or checkpoint is malformed, or a known key's signature is bad.
    #[error(transparent)]
    Note(#[from] detente_note::Error),
    /// The inclusion proof does not verify.
    #[error("inclusion proof: {0}")]
    Inclusion(String),
    /// No log in the policy has the checkpoint's origin as key name.
    #[error("no log in the policy for origin {0:?}")]
    UnknownLog(String),
    /// The log's signature is missing (only other keys signed).
    #[error("checkpoint is not signed by the log")]
    NotSignedByLog,
    /// Not enough witnesses cosigned.
    #[error("witness quorum not met")]
    QuorumNotMet,
    /// A malformed `.tlog-proof`; the string says which part.
    #[error("malformed tlog-proof: {0}")]
    BadProof(&'static str),
}

impl From<detente_tlog::Error> for Error {
    fn from(e: detente_tlog::Error) -> Self {
        Error::Inclusion(e.to_string())
    }
}
