//! Stored-hash indexing, tree heads, and inclusion and consistency proofs.
//!
//! A log stores, for every leaf appended, the leaf hash followed by the hash of
//! each complete subtree that the leaf completes. This numbers every complete
//! subtree of an append-only tree with a stable *stored-hash index*, the
//! model of Go's `golang.org/x/mod/sumdb/tlog`. Proofs only ever need complete
//! subtree hashes, which they read in one batch through [`HashReader`], so the
//! same code runs over a database, a set of tiles or a slice in memory.
//!
//! Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2 and needs no
//! reader at all.

use crate::{node_hash, Error, Hash};

/// Largest tree size the proving code accepts (2^62 leaves), so that
/// stored-hash arithmetic can never overflow a `u64`.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// Source of stored hashes, addressed by stored-hash index.
///
/// Implementations must return exactly one hash per requested index, in the
/// order requested; a short or long answer is reported as
/// [`Error::ReaderCount`]. Callers batch their requests, so a remote or
/// tile-backed reader can fetch everything it needs at once.
pub trait HashReader {
    /// Returns the hashes stored at `indexes`, in the same order.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error>;
}

/// A complete in-memory list of stored hashes (index `i` at position `i`).
impl HashReader for [Hash] {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.get(i))
                    .copied()
                    .ok_or(Error::HashNotFound(i))
            })
            .collect()
    }
}

impl HashReader for Vec<Hash> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        self.as_slice().read_hashes(indexes)
    }
}

impl<R: HashReader + ?Sized> HashReader for &R {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        (**self).read_hashes(indexes)
    }
}

/// Reads `indexes` and checks that the reader kept its side of the contract.
pub(crate) fn read_exact<R: HashReader + ?Sized>(
    r: &R,
    indexes: &[u64],
) -> Result<Vec<Hash>, Error> {
    let got = r.read_hashes(indexes)?;
    if got.len() != indexes.len() {
        return Err(Error::ReaderCount {
            want: indexes.len(),
            got: got.len(),
        });
    }
    Ok(got)
}

/// Stored-hash index of the complete subtree at `level` whose leaves are
/// `n << level .. (n + 1) << level`.
///
/// That hash is stored right after the leaf hash of its last leaf `m`, and
/// leaf `m`'s hash is stored at `2m - popcount(m)`.
///
/// Arguments beyond [`MAX_TREE_SIZE`] give `u64::MAX` rather than panic.
pub fn stored_hash_index(level: u8, n: u64) -> u64 {
    let level = level.min(63);
    let m = ((u128::from(n) + 1) << level) - 1;
    let i = 2 * m - u128::from(m.count_ones()) + u128::from(level);
    u64::try_from(i).unwrap_or(u64::MAX)
}

/// Inverse of [`stored_hash_index`]: the (level, n) of a stored-hash index.
pub fn split_stored_hash_index(index: u64) -> (u8, u64) {
    // Find the last leaf m whose leaf hash is stored at or before `index`;
    // leaf_pos is increasing in m, and m <= index.
    let leaf_pos = |m: u64| -> u128 { 2 * u128::from(m) - u128::from(m.count_ones()) };
    let (mut lo, mut hi) = (0u64, index);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if leaf_pos(mid) <= u128::from(index) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    // The gap is at most 63 (the number of subtrees one leaf completes).
    let level = (u128::from(index) - leaf_pos(lo)) as u8;
    (level, lo >> level)
}

/// Number of hashes stored for a tree of `size` leaves.
pub fn stored_hash_count(size: u64) -> u64 {
    let c = 2 * u128::from(size) - u128::from(size.count_ones());
    u64::try_from(c).unwrap_or(u64::MAX)
}

pub(crate) fn check_tree_size(size: u64) -> Result<(), Error> {
    if size > MAX_TREE_SIZE {
        return Err(Error::TreeTooLarge(size));
    }
    Ok(())
}

/// The hashes to store when leaf number `n` (0-based) with hash `leaf` is
/// appended to a tree of size `n`: the leaf hash, then one hash per complete
/// subtree the leaf finishes. They belong at
/// `stored_hash_count(n)..stored_hash_count(n + 1)`.
pub fn stored_hashes_for_leaf<R: HashReader + ?Sized>(
    n: u64,
    leaf: Hash,
    r: &R,
) -> Result<Vec<Hash>, Error> {
    check_tree_size(n.saturating_add(1))?;
    let finished = n.trailing_ones() as u8;
    let siblings: Vec<u64> = (0..finished)
        .map(|l| stored_hash_index(l, (n >> l) - 1))
        .collect();
    let left = read_exact(r, &siblings)?;
    let mut out = Vec::with_capacity(1 + left.len());
    let mut h = leaf;
    out.push(h);
    for sib in &left {
        h = node_hash(sib, &h);
        out.push(h);
    }
    Ok(out)
}

/// Largest power of two strictly below `n` (n >= 2): RFC 6962's split point.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// A range of leaves whose Merkle tree hash a computation needs, described by
/// the complete subtrees that make it up, biggest first.
struct RangePlan {
    first: usize,
    count: usize,
}

/// Collects the hash requests for ranges of leaves and resolves them with one
/// batched read.
#[derive(Default)]
struct Planner {
    indexes: Vec<u64>,
    ranges: Vec<RangePlan>,
}

impl Planner {
    /// Adds the range `lo..hi`, whose start is aligned to the largest power
    /// of two not above its length (true for every range RFC 6962 recursion
    /// produces), so that its hash is a right fold of complete subtrees.
    fn push(&mut self, mut lo: u64, hi: u64) {
        let first = self.indexes.len();
        while lo < hi {
            let max_by_len = 63 - (hi - lo).leading_zeros();
            let max_by_align = if lo == 0 { 63 } else { lo.trailing_zeros() };
            let level = max_by_len.min(max_by_align) as u8;
            self.indexes.push(stored_hash_index(level, lo >> level));
            lo += 1 << level;
        }
        self.ranges.push(RangePlan {
            first,
            count: self.indexes.len() - first,
        });
    }

    fn resolve<R: HashReader + ?Sized>(self, r: &R) -> Result<Vec<Hash>, Error> {
        let hashes = read_exact(r, &self.indexes)?;
        Ok(self
            .ranges
            .iter()
            .map(|p| fold_right(&hashes[p.first..p.first + p.count]))
            .collect())
    }
}

/// Hash of consecutive complete subtrees of decreasing size.
fn fold_right(hashes: &[Hash]) -> Hash {
    let mut it = hashes.iter().rev();
    let Some(last) = it.next() else {
        return Hash::EMPTY;
    };
    it.fold(*last, |acc, h| node_hash(h, &acc))
}

/// Root hash of the tree of the first `size` leaves.
pub fn tree_hash<R: HashReader + ?Sized>(size: u64, r: &R) -> Result<Hash, Error> {
    check_tree_size(size)?;
    if size == 0 {
        return Ok(Hash::EMPTY);
    }
    let mut p = Planner::default();
    p.push(0, size);
    Ok(p.resolve(r)?.pop().unwrap_or(Hash::EMPTY))
}

/// Inclusion proof (RFC 6962 audit path) of leaf `index` in the tree of
/// `size` leaves, from the leaf's sibling up to a child of the root.
pub fn prove_inclusion<R: HashReader + ?Sized>(
    size: u64,
    index: u64,
    r: &R,
) -> Result<Vec<Hash>, Error> {
    check_tree_size(size)?;
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    // Walk down from the root, remembering the sibling at each step; the
    // proof lists them bottom-up.
    let mut steps = Vec::new();
    let (mut lo, mut hi) = (0, size);
    while hi - lo > 1 {
        let k = split(hi - lo);
        if index < lo + k {
            steps.push((lo + k, hi));
            hi = lo + k;
        } else {
            steps.push((lo, lo + k));
            lo += k;
        }
    }
    let mut p = Planner::default();
    for &(a, b) in steps.iter().rev() {
        p.push(a, b);
    }
    p.resolve(r)
}

/// Consistency proof (RFC 6962 section 2.1.2) between the tree of `old`
/// leaves and the tree of `new` leaves. `old` must be at least 1: every tree
/// extends the empty one, so there is nothing to prove (see
/// [`verify_consistency`]).
pub fn prove_consistency<R: HashReader + ?Sized>(
    old: u64,
    new: u64,
    r: &R,
) -> Result<Vec<Hash>, Error> {
    check_tree_size(new)?;
    if old == 0 || old > new {
        return Err(Error::BadSizes { old, new });
    }
    // SUBPROOF(m, D[lo:hi], b), unrolled: the ranges are produced top-down
    // and the proof lists them bottom-up.
    let mut steps = Vec::new();
    let (mut m, mut lo, mut hi, mut whole) = (old, 0u64, new, true);
    loop {
        let n = hi - lo;
        if m == n {
            if !whole {
                steps.push((lo, hi));
            }
            break;
        }
        let k = split(n);
        if m <= k {
            steps.push((lo + k, hi));
            hi = lo + k;
        } else {
            steps.push((lo, lo + k));
            m -= k;
            lo += k;
            whole = false;
        }
    }
    let mut p = Planner::default();
    for &(a, b) in steps.iter().rev() {
        p.push(a, b);
    }
    p.resolve(r)
}

/// Root hash implied by an inclusion proof for `leaf` at `index` in a tree of
/// `size` leaves (RFC 9162 section 2.1.3.2, without the final comparison).
pub fn root_from_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, Error> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(Error::ProofLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(Error::ProofLength);
    }
    Ok(r)
}

/// Checks that `proof` shows `leaf` at `index` in the tree of `size` leaves
/// with root `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), Error> {
    if root_from_inclusion(index, size, leaf, proof)? != *root {
        return Err(Error::ProofMismatch);
    }
    Ok(())
}

/// Checks that `proof` shows the tree of `old` leaves with root `old_root`
/// is a prefix of the tree of `new` leaves with root `new_root`
/// (RFC 9162 section 2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots (and the empty-tree root
/// at size 0). A proof from size 0 is refused as [`Error::BadSizes`]: every
/// tree extends the empty tree, so such a "proof" proves nothing, and callers
/// such as witnesses treat an old size of 0 as a special case of their own.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), Error> {
    if old > new {
        return Err(Error::BadSizes { old, new });
    }
    if old == new {
        if !proof.is_empty() {
            return Err(Error::ProofLength);
        }
        if old_root != new_root || (old == 0 && *old_root != Hash::EMPTY) {
            return Err(Error::ProofMismatch);
        }
        return Ok(());
    }
    if old == 0 {
        return Err(Error::BadSizes { old, new });
    }
    let (first, rest) = if old.is_power_of_two() {
        (old_root, proof)
    } else {
        match proof.split_first() {
            Some(x) => x,
            None => return Err(Error::ProofLength),
        }
    };
    let (mut fnode, mut snode) = (old - 1, new - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if snode == 0 {
            return Err(Error::ProofLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(Error::ProofLength);
    }
    if fr != *old_root || sr != *new_root {
        return Err(Error::ProofMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leaf_hash;

    /// Builds the stored hashes of a tree of `n` leaves `leaf_hash(i as bytes)`.
    pub(crate) fn build(n: u64) -> Vec<Hash> {
        let mut stored = Vec::new();
        for i in 0..n {
            let h = stored_hashes_for_leaf(i, leaf_hash(&i.to_be_bytes()), &stored).unwrap();
            stored.extend(h);
        }
        stored
    }

    /// Naive RFC 6962 MTH over explicit leaf hashes.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => Hash::EMPTY,
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn index_roundtrip() {
        for level in 0..10u8 {
            for n in 0..300u64 {
                let i = stored_hash_index(level, n);
                assert_eq!(split_stored_hash_index(i), (level, n));
            }
        }
        assert!(split_stored_hash_index(u64::MAX).0 < 64);
        let order: Vec<_> = (0..7).map(split_stored_hash_index).collect();
        assert_eq!(
            order,
            [(0, 0), (0, 1), (1, 0), (0, 2), (0, 3), (1, 1), (2, 0)]
        );
    }

    #[test]
    fn roots_and_proofs_match_naive() {
        let stored = build(70);
        assert_eq!(stored.len() as u64, stored_hash_count(70));
        let leaves: Vec<Hash> = (0..70u64).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for size in 0..=70u64 {
            let root = tree_hash(size, &stored).unwrap();
            assert_eq!(root, mth(&leaves[..size as usize]));
            for i in 0..size {
                let p = prove_inclusion(size, i, &stored).unwrap();
                verify_inclusion(i, size, &leaves[i as usize], &p, &root).unwrap();
                assert!(verify_inclusion(i, size, &leaves[i as usize], &p, &Hash::EMPTY).is_err());
            }
            for old in 1..=size {
                let p = prove_consistency(old, size, &stored).unwrap();
                let old_root = tree_hash(old, &stored).unwrap();
                verify_consistency(old, size, &old_root, &root, &p).unwrap();
            }
        }
    }

    #[test]
    fn short_reader_is_an_error() {
        struct Short;
        impl HashReader for Short {
            fn read_hashes(&self, _: &[u64]) -> Result<Vec<Hash>, Error> {
                Ok(vec![])
            }
        }
        assert!(matches!(
            tree_hash(5, &Short),
            Err(Error::ReaderCount { .. })
        ));
        assert!(matches!(
            prove_inclusion(5, 1, &Short),
            Err(Error::ReaderCount { .. })
        ));
        assert!(matches!(
            prove_inclusion(5, 5, &Short),
            Err(Error::IndexOutOfRange { .. })
        ));
        assert!(matches!(
            tree_hash(u64::MAX, &Short),
            Err(Error::TreeTooLarge(_))
        ));
    }
}

#[cfg(test)]
mod edge_tests {
    use super::*;

    #[test]
    fn index_math_never_panics() {
        for level in [0u8, 1, 62, 63, 64, 255] {
            for n in [0u64, 1, u64::MAX / 2, u64::MAX] {
                let _ = stored_hash_index(level, n);
            }
        }
        assert_eq!(stored_hash_count(u64::MAX), u64::MAX);
        assert_eq!(stored_hash_count(3), 4);
    }
}
