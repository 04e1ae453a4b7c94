//! detente's private telemetry, sans-IO: the endpoint's side and the aggregators' VDAF work.
//!
//! - [`measure`]: the policy file that lists exactly what an endpoint may measure (the
//!   signature families of the feed it may count, and whether it counts scans and
//!   detections), and the measurement it allows, as a multi-hot vector.
//! - [`shard`]: a report's cryptographic content made deterministically from one recorded
//!   32-byte seed: the report id, the Prio3 sharding randomness and the HPKE ephemeral keys
//!   all come from a ChaCha20 stream keyed by it, so the same inputs give the same bytes.
//! - [`aggregate`]: the aggregators' side of the families VDAF (Prio3MultihotCountVec):
//!   decode, joint verification, accumulation, and the collector's unsharding.
//! - [`outbox`]: the local, hash-chained record of every upload: the bytes sent, what they
//!   mean, the policy rule that allowed each measured item, and what is needed to
//!   recompute the bytes — so the owner can check, byte for byte, that nothing else left.
//! - [`task`]: the task file every party shares, and the DAP configuration it gives.
//! - [`tokens`]: unlinkable upload tokens (RFC 9474 blind signatures) with a per-endpoint
//!   daily quota, the Sybil defence.
//!
//! Time and randomness are arguments; nothing here reads a clock, a file or the network.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod aggregate;
pub mod flow;
pub mod measure;
pub mod outbox;
pub mod record;
pub mod report;
#[cfg(feature = "server")]
pub mod server;
pub mod shard;
#[cfg(feature = "server")]
pub mod store;
pub mod task;
pub mod tokens;
