//! Sans-IO verification and patching of ClamAV database containers, matching ClamAV 1.5.
//!
//! - [`verify_cvd`]: a `.cvd`/`.cld` — header MD5 and legacy RSA signature (`cli_versig`),
//!   bounded unpacking, the `.info` DSIG (`cli_versig2`), header cross-checks and every
//!   member's size and SHA-256.
//! - [`verify_sign`]: a ClamAV 1.5 `#clamsign-1.0` detached PKCS#7 signature, chained to
//!   caller-supplied trust anchors ([`CLAMAV_ROOT_CA_DER`] in production) at a given time.
//! - [`verify_cdiff`] and [`apply`]: incremental `.cdiff` updates, applied atomically to an
//!   in-memory map of members; [`build_cld`] writes the result as freshclam's `.cld`.
//!
//! Nothing here reads files, the clock or the network: callers pass bytes and `now`. Every
//! failure is an [`Error`] naming the file and what is wrong; work is bounded (unpacked size,
//! member count, signature length). The behaviour follows ClamAV 1.5 (`libclamav/dsig.c`,
//! `cvd.c`, `readdb.c`, `libclamav_rust/src/{cvd,cdiff,codesign}.rs`) except where noted as
//! stricter (harmless for every official file).
//!
//! Implementation choices:
//! - RSA for the legacy signatures is raw modular exponentiation (`num-bigint`), because
//!   ClamAV's encodings are not standard PKCS#1: the header signature is unpadded, and the
//!   `.info`/`.cdiff` "PSS" clears only the top bit for 2047-bit keys, which standard PSS
//!   verifiers reject.
//! - PKCS#7 is walked with `der` (via `x509-cert`'s re-export) rather than the `cms` crate:
//!   `cms` decodes SET OF by re-sorting, so re-encoded signedAttrs or certificates might not be
//!   the bytes that were signed; walking the DER keeps the exact slices. Certificate fields are
//!   read with `x509-cert`; chain building, validity and RSA PKCS#1 v1.5 checks use
//!   `rustls-webpki` with `ring` (already in the tree via rustls) and an injectable time.
//! - The container tar dialect is parsed and written here (about 80 lines) instead of with the
//!   `tar` crate: ClamAV's loader accepts only plain v7 regular-file members, and `.cld` files
//!   need freshclam's exact `tar_addfile` framing.

#![warn(missing_docs)]

mod cdiff;
mod cvd;
mod dsig;
mod error;
mod header;
mod info;
mod sign;
mod unpack;

pub use cdiff::{apply, verify_cdiff, Script};
pub use cvd::{
    build_cld, verify_cvd, ContainerKind, CvdOptions, VerifiedCvd, DEFAULT_MAX_MEMBERS,
    DEFAULT_MAX_UNPACKED,
};
pub use error::{Error, ErrorKind, ScriptError};
pub use header::{CvdHeader, HEADER_LEN};
pub use info::InfoEntry;
pub use sign::{pem_certificates, verify_sign, Signer, CLAMAV_ROOT_CA_DER};
