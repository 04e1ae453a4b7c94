//! File-hash signatures: an index by size, so that a digest is computed only when some
//! signature of that size (or of any size) could match, and each digest at most once.

use std::collections::HashMap;

use detente_sigs::{HashKind, HashSig};
use md5::Digest as _;

fn prefix(d: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    for (o, i) in b.iter_mut().zip(d) {
        *o = *i;
    }
    u64::from_be_bytes(b)
}

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
    /// (first 8 digest bytes, signature index), sorted: a lookup is a binary search
    /// followed by a comparison of the whole digest.
    by_prefix: Vec<(u64, u32)>,
    /// The signatures' digests, by signature index (zero-padded to 32 bytes; the length
    /// follows from the kind).
    digests: Vec<[u8; 32]>,
    digest_lens: Vec<u8>,
    /// Size of each signature (None for any).
    sig_sizes: Vec<Option<u64>>,
}

impl HashIndex {
    /// Indexes the signatures, returning the index and their names (in index order).
    pub fn build(sigs: Vec<HashSig>) -> (HashIndex, Vec<String>) {
        let mut idx = HashIndex::default();
        let mut names = Vec::with_capacity(sigs.len());
        idx.by_prefix.reserve_exact(sigs.len());
        idx.digests.reserve_exact(sigs.len());
        idx.digest_lens.reserve_exact(sigs.len());
        idx.sig_sizes.reserve_exact(sigs.len());
        for (i, s) in sigs.into_iter().enumerate() {
            match s.size {
                Some(sz) => *idx.sizes.entry(sz).or_default() |= bit(s.kind),
                None => idx.any_size |= bit(s.kind),
            }
            idx.by_prefix.push((prefix(&s.digest), i as u32));
            let mut d = [0u8; 32];
            let n = s.digest.len().min(32);
            d[..n].copy_from_slice(&s.digest[..n]);
            idx.digests.push(d);
            idx.digest_lens.push(n as u8);
            idx.sig_sizes.push(s.size);
            names.push(s.name);
        }
        idx.by_prefix.sort_unstable();
        (idx, names)
    }

    /// Which digests a file of `size` bytes needs.
    pub fn needed(&self, size: u64) -> u8 {
        self.any_size | self.sizes.get(&size).copied().unwrap_or(0)
    }

    /// Signatures matching the computed digests of a file of `size` bytes.
    pub fn lookup(&self, digests: &Digests, size: u64, mut f: impl FnMut(u32)) {
        for d in digests.iter() {
            let p = prefix(d);
            let start = self.by_prefix.partition_point(|(k, _)| *k < p);
            for &(k, i) in &self.by_prefix[start..] {
                if k != p {
                    break;
                }
                let (full, n) = (&self.digests[i as usize], self.digest_lens[i as usize]);
                if &full[..n as usize] == d && self.sig_sizes[i as usize].is_none_or(|s| s == size)
                {
                    f(i);
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sig_sizes.is_empty()
    }
}

/// Bytes hashed at a time by every digest in turn (fits in the L2 cache).
const CHUNK: usize = 64 * 1024;

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
        let mut md5 = (mask & 1 != 0 && self.md5.is_none()).then(md5::Md5::new);
        let mut sha1 = (mask & 2 != 0 && self.sha1.is_none()).then(sha1::Sha1::new);
        let mut sha256 = (mask & 4 != 0 && self.sha256.is_none()).then(sha2::Sha256::new);
        // Feed every digest the same chunk while it is in cache, rather than reading the
        // whole buffer from memory once per digest.
        for chunk in data.chunks(CHUNK) {
            if let Some(h) = md5.as_mut() {
                h.update(chunk);
            }
            if let Some(h) = sha1.as_mut() {
                h.update(chunk);
            }
            if let Some(h) = sha256.as_mut() {
                h.update(chunk);
            }
        }
        if let Some(h) = md5 {
            self.md5 = Some(h.finalize().into());
        }
        if let Some(h) = sha1 {
            self.sha1 = Some(h.finalize().into());
        }
        if let Some(h) = sha256 {
            self.sha256 = Some(h.finalize().into());
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
