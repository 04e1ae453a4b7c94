//! The publisher's side, sans-IO: the next release's manifest and objects.

use std::collections::BTreeMap;

use crate::manifest::{Entry, Manifest, ManifestError};
use crate::patch::make_patch;
use crate::text::{hex32, sha256};

/// A content-addressed object of the public tree (`objects/<hex>`).
#[derive(Clone, PartialEq, Eq)]
pub struct Object {
    /// SHA-256 of `bytes`.
    pub sha256: [u8; 32],
    /// The content: a whole database file or a patch.
    pub bytes: Vec<u8>,
}

impl Object {
    /// The object's name: its SHA-256 in lowercase hex.
    pub fn name(&self) -> String {
        hex32(&self.sha256)
    }
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Object({}, {} bytes)", self.name(), self.bytes.len())
    }
}

/// A release ready to sign, log and publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The manifest (sign it with [`Manifest::sign`], then log the note).
    pub manifest: Manifest,
    /// Every object the manifest names (whole files and patches), each
    /// once, sorted by hash.
    pub objects: Vec<Object>,
}

/// Why a release could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The manifest would be invalid (bad or duplicate file name, no file,
    /// too many files, bad origin).
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// `origin` is not the previous release's.
    #[error("origin {origin:?} differs from the previous release's {prev:?}")]
    Origin {
        /// The previous release's origin.
        prev: String,
        /// The origin given.
        origin: String,
    },
    /// The previous version is `u64::MAX`.
    #[error("version overflow")]
    VersionOverflow,
    /// `created` is before the previous release's (a clock went backwards).
    #[error("created {created} is before the previous release's {prev}")]
    CreatedBeforePrevious {
        /// The previous release's `created`.
        prev: u64,
        /// The time given.
        created: u64,
    },
    /// A `ttl` of 0 or one that overflows `created + ttl`.
    #[error("ttl must be at least 1 and created + ttl must fit in 64 bits")]
    Ttl,
    /// Base files given without a previous release.
    #[error("base files given without a previous release")]
    BaseWithoutPrevious,
    /// A base file that is not the previous release's file of that name.
    #[error("base file {0:?} is not the previous release's file")]
    BaseMismatch(String),
}

/// Makes the next release: version `prev + 1` (1 without `prev`), created at
/// `created`, expiring `ttl` seconds later, with each of `files` (name,
/// content) hashed.
///
/// With `base_files` (the previous release's files, checked against its
/// manifest), the release is incremental: `base` is the previous version and
/// each file present in both gets a patch ([`make_patch`]) when the patch is
/// smaller than the file. Every file is still listed in full, so a client not
/// at `base` installs the same bytes from whole files.
pub fn next_manifest(
    origin: &str,
    prev: Option<&Manifest>,
    files: &[(&str, &[u8])],
    base_files: Option<&[(&str, &[u8])]>,
    created: u64,
    ttl: u64,
) -> Result<Release, PublishError> {
    let version = match prev {
        None => 1,
        Some(p) => {
            if p.origin() != origin {
                return Err(PublishError::Origin {
                    prev: p.origin().to_owned(),
                    origin: origin.to_owned(),
                });
            }
            if created < p.created() {
                return Err(PublishError::CreatedBeforePrevious {
                    prev: p.created(),
                    created,
                });
            }
            p.version()
                .checked_add(1)
                .ok_or(PublishError::VersionOverflow)?
        }
    };
    let expires = created
        .checked_add(ttl)
        .filter(|_| ttl > 0)
        .ok_or(PublishError::Ttl)?;
    let mut base: BTreeMap<&str, &[u8]> = BTreeMap::new();
    if let Some(bf) = base_files {
        let p = prev.ok_or(PublishError::BaseWithoutPrevious)?;
        for &(name, bytes) in bf {
            let e = Entry::for_bytes(name, bytes)?;
            if p.file(name) != Some(&e) || base.insert(name, bytes).is_some() {
                return Err(PublishError::BaseMismatch(name.to_owned()));
            }
        }
    }
    let mut objects: BTreeMap<[u8; 32], Vec<u8>> = BTreeMap::new();
    let mut entries = Vec::with_capacity(files.len());
    let mut patches = Vec::new();
    for &(name, bytes) in files {
        let e = Entry::for_bytes(name, bytes)?;
        objects.entry(*e.sha256()).or_insert_with(|| bytes.to_vec());
        entries.push(e);
        if let Some(old) = base.get(name) {
            let raw = make_patch(old, bytes);
            let patch = crate::patch::compress(&raw);
            if patch.len() < bytes.len()
                && raw.len() as u64 <= crate::patch::patch_bound(bytes.len() as u64)
            {
                let h = sha256(&patch);
                patches.push(Entry::new(name, patch.len() as u64, h)?);
                objects.entry(h).or_insert(patch);
            }
        }
    }
    let base_version = prev.filter(|_| base_files.is_some()).map(Manifest::version);
    let manifest = Manifest::new(
        origin,
        version,
        created,
        expires,
        base_version,
        entries,
        patches,
    )?;
    Ok(Release {
        manifest,
        objects: objects
            .into_iter()
            .map(|(sha256, bytes)| Object { sha256, bytes })
            .collect(),
    })
}
