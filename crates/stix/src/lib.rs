//! Sans-IO building blocks for the detente intel hub.
//!
//! - [`canonical`]: RFC 8785 JSON Canonicalization Scheme (JCS) of a parsed JSON value, the
//!   bytes a per-object Ed25519 signature is computed over.
//! - [`validate`]: the MUST rules of STIX 2.1 for one object, reported as typed
//!   [`Violation`]s (property path and [`Reason`]).
//! - [`parse_bounded`]: JSON parsing that refuses input over a size or nesting-depth limit
//!   before handing it to `serde_json`.
//!
//! No I/O, no panics on input.
//!
//! This crate turns on `serde_json`'s `float_roundtrip` feature: without it `serde_json`
//! may parse a decimal number one ULP off the correctly rounded double (RFC 8785's own
//! `333333333.33333329` is such a case), and two canonicalisers would then disagree.

mod bounded;
mod jcs;
mod validate;

pub use bounded::{parse_bounded, DEFAULT_MAX_DEPTH, DEFAULT_MAX_LEN};
pub use jcs::{canonical, format_number};
pub use validate::{timestamp_key, validate, Reason, Violation};

/// Errors from canonicalisation and bounded parsing.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A number is NaN or infinite, which JSON (and RFC 8785) cannot represent.
    #[error("number is not finite")]
    NonFinite,
    /// A number could not be read as an IEEE 754 double.
    #[error("number is not representable as a double")]
    BadNumber,
    /// The input is longer than the allowed maximum.
    #[error("input is {len} bytes, over the limit of {max}")]
    TooLarge {
        /// Length of the input in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Arrays and objects are nested deeper than allowed.
    #[error("nesting deeper than {max}")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// The input is not well-formed JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
}
