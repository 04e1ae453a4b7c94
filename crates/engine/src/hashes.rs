//! File-hash signatures: an index by size, so that a digest is computed only when some
//! signature of that size (or of any size) could match, and each digest at most once.

use std::collections::HashMap;

use detente_sigs::{HashKind, HashSig};
use md5::Digest as _;

fn bit(k: HashKind) -> u8 {
    match k {
        HashKind::Md5 => 1,
        HashKind::Sha1 => 2,
        HashKind::Sha256 => 4,
    }
}

/// Hash signatures indexed by size and digest.
#[derive(Default)]
pub(crate) struct HashIndex {
    /// Which digests are needed for a file of a given size.
    sizes: HashMap<u64, u8>,
    /// Digests needed for every file (signatures with `*` size).
    any_size: u8,
    /// Digest -> signature indexes.
    by_digest: HashMap<Box<[u8]>, Vec<u32>>,
    /// Size of each signature (None for any).
    sig_sizes: Vec<Option<u64>>,
}

impl HashIndex {
    pub fn build(sigs: &[HashSig]) -> HashIndex {
        let mut idx = HashIndex::default();
        for (i, s) in sigs.iter().enumerate() {
            match s.size {
                Some(sz) => *idx.sizes.entry(sz).or_default() |= bit(s.kind),
                None => idx.any_size |= bit(s.kind),
            }
            idx.by_digest
                .entry(s.digest.clone().into_boxed_slice())
                .or_default()
                .push(i as u32);
            idx.sig_sizes.push(s.size);
        }
        idx
    }

    /// Which digests a file of `size` bytes needs.
    pub fn needed(&self, size: u64) -> u8 {
        self.any_size | self.sizes.get(&size).copied().unwrap_or(0)
    }

    /// Signatures matching the computed digests of a file of `size` bytes.
    pub fn lookup(&self, digests: &Digests, size: u64, mut f: impl FnMut(u32)) {
        for d in digests.iter() {
            if let Some(ids) = self.by_digest.get(d) {
                for &i in ids {
                    if self.sig_sizes[i as usize].is_none_or(|s| s == size) {
                        f(i);
                    }
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sig_sizes.is_empty()
    }
}

/// Digests computed for one buffer.
#[derive(Default, Clone, Debug)]
pub struct Digests {
    /// MD5, if computed.
    pub md5: Option<[u8; 16]>,
    /// SHA-1, if computed.
    pub sha1: Option<[u8; 20]>,
    /// SHA-256, if computed.
    pub sha256: Option<[u8; 32]>,
}

impl Digests {
    /// Computes the digests selected by `mask` (bit 1 MD5, 2 SHA-1, 4 SHA-256) that are not yet known.
    pub fn compute(&mut self, data: &[u8], mask: u8) {
        if mask & 1 != 0 && self.md5.is_none() {
            self.md5 = Some(md5::Md5::digest(data).into());
        }
        if mask & 2 != 0 && self.sha1.is_none() {
            self.sha1 = Some(sha1::Sha1::digest(data).into());
        }
        if mask & 4 != 0 && self.sha256.is_none() {
            self.sha256 = Some(sha2::Sha256::digest(data).into());
        }
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.md5
            .as_ref()
            .map(|d| &d[..])
            .into_iter()
            .chain(self.sha1.as_ref().map(|d| &d[..]))
            .chain(self.sha256.as_ref().map(|d| &d[..]))
    }
}
