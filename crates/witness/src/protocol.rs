//! The sans-IO decision: given what the witness knows about a log and a
//! parsed request, cosign or refuse (and say what to keep as evidence).
//!
//! No disk, network or clock: the caller loads the log's keys and state,
//! passes the time, and performs the compare-and-swap the outcome asks for.

use sha2::{Digest as _, Sha256};

use detente_note::{Cosigner, Note, Signature, Verifiers, ALG_MLDSA44};
use detente_tlog::{verify_consistency, Hash, MAX_TREE_SIZE};

use crate::request::{AddCheckpoint, ParseError};

/// What the witness remembers about one log: the latest checkpoint it
/// cosigned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogState {
    /// Tree size of the latest cosigned checkpoint (0 if none).
    pub size: u64,
    /// Its root hash ([`Hash::EMPTY`] if none).
    pub root: Hash,
    /// The cosigned checkpoint note: text, the log signatures the witness
    /// verified and the witness's own cosignatures. `None` until the first
    /// cosignature.
    pub checkpoint: Option<Vec<u8>>,
}

impl LogState {
    /// The state of a log the witness has never cosigned.
    pub fn new_log() -> LogState {
        LogState {
            size: 0,
            root: Hash::EMPTY,
            checkpoint: None,
        }
    }
}

/// A log the witness knows: its verifier keys and its state.
#[derive(Debug, Clone, Copy)]
pub struct KnownLog<'a> {
    /// The log's keys (Ed25519 note keys).
    pub verifiers: &'a Verifiers,
    /// The latest cosigned checkpoint.
    pub state: &'a LogState,
}

/// Why `add-checkpoint` was refused. [`AddError::status`] gives the HTTP
/// status the specification requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddError {
    /// Malformed request body (400, or 413 when too large).
    #[error("malformed request: {0}")]
    Malformed(#[from] ParseError),
    /// Old size above the checkpoint size, or a size beyond 2^62 (400).
    #[error("old size {old} is larger than checkpoint size {new}")]
    OldSizeTooLarge {
        /// Old size from the request.
        old: u64,
        /// Checkpoint size.
        new: u64,
    },
    /// A tree size this witness will not store (above 2^62) (400).
    #[error("tree size {0} is too large")]
    SizeTooLarge(u64),
    /// The checkpoint's origin is not a log this witness knows (404).
    #[error("unknown log origin")]
    UnknownOrigin,
    /// No valid signature by a known log key, or a known key's signature
    /// fails (403).
    #[error("checkpoint signature: {0}")]
    Forbidden(#[source] detente_note::Error),
    /// The old size is not the size the witness last cosigned (409). The
    /// response body is that size.
    #[error("old size does not match the latest cosigned size {size}")]
    Conflict {
        /// The size of the latest cosigned checkpoint.
        size: u64,
    },
    /// A checkpoint of size 0 whose root is not the empty-tree hash (422).
    #[error("size-0 checkpoint with a non-empty root")]
    BadEmptyRoot,
    /// A non-empty consistency proof from size 0 (422).
    #[error("consistency proof from size 0 must be empty")]
    ProofFromZero,
    /// The consistency proof does not verify against the cosigned checkpoint (422).
    #[error("consistency proof does not verify")]
    BadProof,
    /// Same size as the cosigned checkpoint but a different root: a split view (422).
    #[error("same size as the cosigned checkpoint with a different root")]
    SplitView,
    /// Too many concurrent updates of this log; try again (503).
    #[error("log is being updated concurrently; retry")]
    Busy,
    /// A failure on the witness side (500). Details are logged, not sent.
    #[error("internal error")]
    Internal,
}

impl AddError {
    /// The HTTP status code for this refusal.
    pub fn status(&self) -> u16 {
        match self {
            AddError::Malformed(ParseError::TooLarge) => 413,
            AddError::Malformed(_)
            | AddError::OldSizeTooLarge { .. }
            | AddError::SizeTooLarge(_) => 400,
            AddError::Forbidden(_) => 403,
            AddError::UnknownOrigin => 404,
            AddError::Conflict { .. } => 409,
            AddError::BadEmptyRoot
            | AddError::ProofFromZero
            | AddError::BadProof
            | AddError::SplitView => 422,
            AddError::Internal => 500,
            AddError::Busy => 503,
        }
    }
}

/// What kind of misbehaviour a piece of evidence shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvidenceKind {
    /// Two checkpoints signed by the log, same size, different roots: proof
    /// of a split view.
    SplitView,
    /// A checkpoint signed by the log whose consistency proof from the
    /// cosigned checkpoint fails. Proof of misbehaviour only if no valid
    /// proof exists (check against the log), since a client may send a wrong
    /// proof for a good checkpoint.
    BadProof,
}

impl EvidenceKind {
    /// The stable name used in storage and printouts.
    pub fn as_str(&self) -> &'static str {
        match self {
            EvidenceKind::SplitView => "split-view",
            EvidenceKind::BadProof => "bad-proof",
        }
    }

    /// Parses [`EvidenceKind::as_str`].
    pub fn parse(s: &str) -> Option<EvidenceKind> {
        match s {
            "split-view" => Some(EvidenceKind::SplitView),
            "bad-proof" => Some(EvidenceKind::BadProof),
            _ => None,
        }
    }
}

/// A conflicting pair of signed checkpoints seen in one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// What the pair shows.
    pub kind: EvidenceKind,
    /// The log.
    pub origin: String,
    /// The checkpoint the witness had cosigned (with its signatures).
    pub cosigned: Vec<u8>,
    /// The submitted checkpoint note, as received (its log signature verified).
    pub submitted: Vec<u8>,
    /// The old size of the request.
    pub old: u64,
    /// The consistency proof of the request.
    pub proof: Vec<Hash>,
}

/// A successful `add-checkpoint`: the new state to store (by
/// compare-and-swap from the state the decision was made on) and the
/// cosignatures to return once it is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// The state to store.
    pub state: LogState,
    /// The witness's cosignatures, one per key.
    pub signatures: Vec<Signature>,
}

impl Cosigned {
    /// The 200 response body: one note signature line per cosignature.
    pub fn response_body(&self) -> String {
        self.signatures.iter().map(Signature::to_line).collect()
    }
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Cosign: store `state` atomically, then reply 200.
    Cosign(Cosigned),
    /// Refuse with `error`; keep `evidence` if any.
    Refuse {
        /// Why.
        error: AddError,
        /// A conflicting signed pair to record.
        evidence: Option<Conflict>,
    },
}

fn refuse(error: AddError) -> Outcome {
    Outcome::Refuse {
        error,
        evidence: None,
    }
}

/// Decides an `add-checkpoint` request, in the order of the specification:
///
/// 1. unknown origin: 404 ([`AddError::UnknownOrigin`]);
/// 2. no valid signature by a log key, or a log key's signature fails: 403;
/// 3. old size above the checkpoint size: 400;
/// 4. old size not the cosigned size: 409 with that size;
/// 5. size-0 checkpoint with a non-empty root, a non-empty proof from size
///    0, a proof that fails, or the same size with a different root: 422;
/// 6. otherwise cosign with every key in `cosigners` at `now` (POSIX
///    seconds, must be non-zero). ML-DSA-44 keys are skipped for checkpoints
///    with extension lines, which their signatures would not cover; Ed25519
///    `cosignature/v1` keys sign those.
///
/// Whenever the checkpoint is validly signed by the log but conflicts with
/// the cosigned one (same size, other root, even in a 409; or a failing
/// proof), the outcome carries the pair as evidence.
pub fn decide(
    req: &AddCheckpoint,
    log: Option<KnownLog<'_>>,
    cosigners: &[Cosigner],
    now: u64,
) -> Outcome {
    let Some(log) = log else {
        return refuse(AddError::UnknownOrigin);
    };
    let cp = &req.checkpoint.checkpoint;
    let verification = match req.checkpoint.note.verify(log.verifiers) {
        Ok(v) => v,
        Err(e) => return refuse(AddError::Forbidden(e)),
    };
    let (old, new) = (req.old, cp.size());
    if old > new {
        return refuse(AddError::OldSizeTooLarge { old, new });
    }
    if new > MAX_TREE_SIZE {
        return refuse(AddError::SizeTooLarge(new));
    }
    let stored = log.state;
    let evidence = |kind| {
        stored.checkpoint.as_ref().map(|c| Conflict {
            kind,
            origin: cp.origin().to_owned(),
            cosigned: c.clone(),
            submitted: req.note_bytes.clone(),
            old,
            proof: req.proof.clone(),
        })
    };
    let split = new == stored.size && *cp.root() != stored.root;
    if old != stored.size {
        return Outcome::Refuse {
            error: AddError::Conflict { size: stored.size },
            evidence: if split {
                evidence(EvidenceKind::SplitView)
            } else {
                None
            },
        };
    }
    if new == 0 && *cp.root() != Hash::EMPTY {
        return refuse(AddError::BadEmptyRoot);
    }
    if old == 0 {
        if !req.proof.is_empty() {
            return refuse(AddError::ProofFromZero);
        }
    } else if split {
        return Outcome::Refuse {
            error: AddError::SplitView,
            evidence: evidence(EvidenceKind::SplitView),
        };
    } else if verify_consistency(old, new, &stored.root, cp.root(), &req.proof).is_err() {
        // The same checkpoint with a stray proof conflicts with nothing.
        return Outcome::Refuse {
            error: AddError::BadProof,
            evidence: if new != old {
                evidence(EvidenceKind::BadProof)
            } else {
                None
            },
        };
    }
    if now == 0 {
        // tlog-witness: the cosignature MUST NOT omit the timestamp.
        return refuse(AddError::Internal);
    }

    // The stored note keeps the log signatures that verified and ours.
    let text = req.checkpoint.note.text();
    let Ok(mut note) = Note::new(text) else {
        return refuse(AddError::Internal);
    };
    for s in req.checkpoint.note.signatures() {
        if verification.is_verified(s.name(), s.id()) && note.add_signature(s.clone()).is_err() {
            return refuse(AddError::Internal);
        }
    }
    let mut signatures = Vec::with_capacity(cosigners.len());
    for c in cosigners {
        if c.alg() == ALG_MLDSA44 && !cp.extensions().is_empty() {
            continue;
        }
        let Ok(sig) = c.cosign(text, now) else {
            return refuse(AddError::Internal);
        };
        if note.add_signature(sig.clone()).is_err() {
            return refuse(AddError::Internal);
        }
        signatures.push(sig);
    }
    if signatures.is_empty() {
        return refuse(AddError::Internal);
    }
    Outcome::Cosign(Cosigned {
        state: LogState {
            size: new,
            root: *cp.root(),
            checkpoint: Some(note.to_bytes()),
        },
        signatures,
    })
}

/// Lowercase hex SHA-256 of an origin: the tlog-witness monitoring path key.
pub fn origin_hash(origin: &str) -> String {
    Sha256::digest(origin.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
