//! A transparency-log witness: [c2sp.org/tlog-witness](https://c2sp.org/tlog-witness)
//! with [c2sp.org/tlog-cosignature](https://c2sp.org/tlog-cosignature)
//! cosignatures.
//!
//! Logs send `POST /add-checkpoint` with a new signed checkpoint and a
//! consistency proof from the checkpoint the witness last cosigned; the
//! witness checks the log's signature and the proof, durably records the new
//! checkpoint, and returns two cosignature lines under its name: an Ed25519
//! `cosignature/v1` (type 0x04) and an ML-DSA-44 (type 0x06) one.
//!
//! Layers, innermost first:
//!
//! * [`AddCheckpoint::parse`]: strict request parsing (sans-IO);
//! * [`decide`]: the protocol decision, given the log's keys and
//!   [`LogState`], the witness keys and the time (sans-IO: no disk, network
//!   or clock); it returns the new state to store or the refusal, with any
//!   conflicting pair of signed checkpoints to keep as evidence;
//! * [`Witness`]: a directory holding the key file (`witness.key`, mode
//!   0600, keys from OS randomness) and the SQLite database (`witness.db`,
//!   WAL, `synchronous=FULL`). [`Witness::add_checkpoint`] runs [`decide`]
//!   and stores its outcome by compare-and-swap, retrying the decision on a
//!   lost race, before anything is returned;
//! * [`Witness::serve`]: the axum HTTP server (SQLite work runs on tokio's
//!   blocking pool);
//! * [`client`]: the log's side of the protocol, sans-IO: the request body,
//!   the `409 Conflict` retry, and the response, whose cosignature lines are
//!   each verified against the witness's keys before anything is published.
//!
//! The sans-IO core (request, protocol, client) needs no database or runtime:
//! [`Witness`] and its server are behind the default `server` feature, so a
//! verifier or a log that only talks to witnesses builds without SQLite, axum
//! or tokio (`default-features = false`).
//!
//! # Invariant
//!
//! The witness never returns a cosignature on a checkpoint inconsistent with
//! one it returned before: the stored state only moves by a compare-and-swap
//! from the state a consistency proof was checked against, and a cosignature
//! leaves the process only after that swap is durable. This holds under
//! concurrent requests, several processes on one directory, and `kill -9`.
//!
//! # Scope
//!
//! Implemented: `add-checkpoint` (all statuses of the current specification,
//! including 422 for size-0 checkpoints with a non-empty root and for
//! non-empty proofs from size 0) and the monitoring endpoint
//! `GET /<hex SHA-256 of origin>/checkpoint`. Not implemented: the optional
//! `sign-subtree` call. Log keys are Ed25519 note keys (type 0x01).
//! Checkpoints with extension lines get only the Ed25519 cosignature, since
//! ML-DSA-44 cosignatures do not cover extension lines.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
mod protocol;
mod request;

#[cfg(feature = "server")]
mod keys;
#[cfg(feature = "server")]
mod node;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
mod store;

pub use protocol::{
    decide, origin_hash, AddError, Conflict, Cosigned, EvidenceKind, KnownLog, LogState, Outcome,
};
pub use request::{encode_request, AddCheckpoint, ParseError, MAX_PROOF_LINES, MAX_REQUEST_SIZE};

#[cfg(feature = "server")]
pub use keys::MAX_NAME_LEN;
#[cfg(feature = "server")]
pub use node::{Error, Witness, DB_FILE, KEY_FILE, MAX_ORIGIN_LEN};
#[cfg(feature = "server")]
pub use store::{Evidence, LogInfo};
