//! The detente intel hub: a TAXII 2.1 server for STIX 2.1 where every reader sees only what
//! the objects' TLP markings allow it, submissions may be signed per object, and every
//! accepted object version is logged in the hub's own transparency log, so what was laid
//! on the table can't later be denied or quietly changed.
//!
//! The sans-IO core (no clock, no files, no network):
//! - [`access`]: TLP levels from markings, an object version's [`Audience`], the check;
//! - [`cursor`]: the MAC'd `next` cursor;
//! - [`query`]: TAXII filters and paging parameters;
//! - [`entry`]: the log entry of an accepted version and offline receipt verification;
//! - [`submit`]: an envelope taken apart into validated, canonical, verified versions.
//!
//! With the `server` feature: [`store`] (SQLite; the same interface for PostgreSQL),
//! [`Hub`] (the operations, over a store and the log writer) and [`http`] (axum routes).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod access;
pub mod cursor;
pub mod entry;
pub mod query;
pub mod submit;
pub mod time;

#[cfg(feature = "server")]
pub mod http;
#[cfg(feature = "server")]
mod hub;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod web;

pub use access::{Audience, Member, Tlp};
#[cfg(feature = "server")]
pub use hub::{
    provenance_json, token_hash, Credentials, Hub, HubError, HubInfo, OpenError, Page, ReadKind,
    MAX_CONTENT_LENGTH, MAX_DEPTH,
};

/// The TAXII 2.1 media type.
pub const TAXII: &str = "application/taxii+json;version=2.1";
/// The STIX 2.1 media type (manifest entries).
pub const STIX: &str = "application/stix+json;version=2.1";
