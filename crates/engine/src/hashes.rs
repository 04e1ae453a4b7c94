//! File-hash signatures: an index by size, so that a digest is computed only when some
//! signature of that size (or of any size) could match, and each digest at most once.

use detente_sigs::{HashKind, HashRef};
use md5::Digest as _;

use crate::Detection;

fn bit(k: HashKind) -> u8 {
    match k {
        HashKind::Md5 => 1,
        HashKind::Sha1 => 2,
        HashKind::Sha256 => 4,
    }
}

/// Size value of a signature that matches files of any size (decimal sizes in databases
/// have at most 19 digits, so no real size reaches it).
const ANY_SIZE: u64 = u64::MAX;

/// One hash signature, stored flat: no allocation per signature.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HashEntry {
    /// The digest, zero-padded after `kind.digest_len()` bytes.
    digest: [u8; 32],
    /// The size it applies to, or [`ANY_SIZE`].
    size: u64,
    /// Where its name starts in the store's name text (a store holds one run of database
    /// lines, so its names take far less than 4 GiB; four bytes keep the entry at 48).
    name_at: u32,
    name_len: u16,
    kind: HashKind,
}

impl HashEntry {
    /// Its name, in the name text of the store holding it.
    fn name_in<'a>(&self, names: &'a str) -> &'a str {
        let at = self.name_at as usize;
        names.get(at..at + self.name_len as usize).unwrap_or("")
    }
}

/// Hash signatures as loaded: flat entries and one string holding every name.
#[derive(Default, Debug)]
pub(crate) struct HashStore {
    entries: Vec<HashEntry>,
    names: String,
    /// Index of the database the signatures came from.
    pub src: u32,
}

impl HashStore {
    /// Adds a parsed signature (its database index is set when the store is merged).
    pub fn push(&mut self, r: &HashRef<'_>) {
        // Past 4 GiB of names (never reached by a run of lines) a name reads as empty.
        let name_at = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push_str(r.name);
        self.entries.push(HashEntry {
            digest: r.digest,
            size: r.size.unwrap_or(ANY_SIZE),
            name_at,
            // Names are at most 512 bytes (checked by the parser); clamp all the same.
            name_len: r.name.len().min(u16::MAX as usize) as u16,
            kind: r.kind,
        });
    }

    /// Room for `n` more signatures whose names take about `name_bytes` bytes.
    pub fn reserve(&mut self, n: usize, name_bytes: usize) {
        self.entries.reserve(n);
        self.names.reserve(name_bytes);
    }

    /// The name of an entry.
    pub fn name(&self, e: &HashEntry) -> &str {
        e.name_in(&self.names)
    }

    /// Keeps the entries whose name `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let names = &self.names;
        self.entries.retain(|e| keep(e.name_in(names)));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Slot hash of a key (the first eight digest bytes, or a size).
#[inline]
fn slot_of(k: u64, mask: usize) -> usize {
    ((k ^ (k >> 31)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & mask
}

fn prefix(d: &[u8; 32]) -> u64 {
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// Hash signatures indexed by size and digest.
#[derive(Default)]
pub(crate) struct HashIndex {
    /// The signatures, as loaded (one store per run of database lines: never copied into one).
    stores: Vec<HashStore>,
    /// Index of the first entry of each store, counting across stores.
    starts: Vec<u32>,
    /// Open addressing on the digest's first eight bytes: entry index + 1, 0 for empty.
    table: Vec<u32>,
    table_mask: usize,
    /// Open addressing on sizes below [`PACKED_SIZES`]: `(size + 1) << 3 | digests needed`,
    /// 0 for empty (one word per size keeps the table small).
    sizes: Vec<u32>,
    sizes_mask: usize,
    /// Larger sizes and the digests they need, sorted by size (rare: files of 512 MiB+).
    big_sizes: Vec<(u64, u8)>,
    /// Digests needed for every file (signatures with `*` size).
    any_size: u8,
    /// Entries a lookup never reports (a bit per entry; empty when there are none): of
    /// signatures with the same digest kind, digest and size, ClamAV reports one, the one its
    /// binary search lands on after its sort (see [`clamav_winners`]).
    shadowed: Vec<u64>,
}

/// Largest group of same-kind, same-size hashes whose duplicates are resolved by emulating
/// ClamAV's sort (quadratic at worst on a hostile database); above it, the last loaded of
/// equal signatures is the one reported.
const MAX_EMULATED_BUCKET: usize = 4096;

/// One size bucket of ClamAV's hash table: `(digest, entry index)` in load order.
type Bucket<'a> = Vec<(&'a [u8], u32)>;

/// ClamAV's key order (`hm_cmp` on a little-endian machine): the first four bytes as a
/// little-endian word, larger first (its comparison is reversed there), then the rest in
/// byte order.
fn clamav_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let word = |k: &[u8]| u32::from_le_bytes([k[0], k[1], k[2], k[3]]);
    match word(a).cmp(&word(b)) {
        std::cmp::Ordering::Equal => a[4..].cmp(&b[4..]),
        o => o.reverse(),
    }
}

/// ClamAV's in-place quicksort of a size bucket (`hm_sort`): the first key is the pivot,
/// larger keys are swapped to the end. Equal keys end up in an order only this scheme
/// gives, and which of them a lookup finds depends on it. Iterative: a sorted bucket would
/// nest as deep as it is long.
fn clamav_sort(keys: &mut [(&[u8], u32)]) {
    let mut todo = vec![(0usize, keys.len())];
    while let Some((l, r)) = todo.pop() {
        if l + 1 >= r {
            continue;
        }
        let piv = keys[l].0;
        let (mut l1, mut r1) = (l + 1, r);
        while l1 < r1 {
            if clamav_cmp(keys[l1].0, piv) == std::cmp::Ordering::Greater {
                r1 -= 1;
                if l1 == r1 {
                    break;
                }
                keys.swap(l1, r1);
            } else {
                l1 += 1;
            }
        }
        l1 -= 1;
        if l1 != l {
            keys.swap(l1, l);
        }
        todo.push((r1, r));
        todo.push((l, l1));
    }
}

/// Where ClamAV's lookup (`hm_scan`, a binary search) lands for `key` in a sorted bucket.
fn clamav_search(keys: &[(&[u8], u32)], key: &[u8]) -> Option<usize> {
    let (mut l, mut r) = (0usize, keys.len().checked_sub(1)?);
    while l <= r {
        let c = (l + r) / 2;
        match clamav_cmp(key, keys[c].0) {
            std::cmp::Ordering::Less => {
                if c == 0 {
                    break;
                }
                r = c - 1;
            }
            std::cmp::Ordering::Greater => l = c + 1,
            std::cmp::Ordering::Equal => return Some(c),
        }
    }
    None
}

/// For one bucket (entries of one digest kind and size, in load order: `(digest, index)`),
/// the indices that lose to an equal signature.
fn clamav_losers(mut keys: Bucket<'_>, out: &mut Vec<u32>) {
    let mut by_key: std::collections::HashMap<&[u8], Vec<u32>> = std::collections::HashMap::new();
    for (k, i) in &keys {
        by_key.entry(k).or_default().push(*i);
    }
    let dups: Vec<(&[u8], Vec<u32>)> = by_key.into_iter().filter(|(_, v)| v.len() > 1).collect();
    if dups.is_empty() {
        return;
    }
    if keys.len() > MAX_EMULATED_BUCKET {
        for (_, v) in dups {
            out.extend_from_slice(&v[..v.len() - 1]);
        }
        return;
    }
    clamav_sort(&mut keys);
    for (k, v) in dups {
        let winner = clamav_search(&keys, k).map(|c| keys[c].1);
        out.extend(v.into_iter().filter(|&i| Some(i) != winner));
    }
}

/// Sizes below this are packed with their digest bits into one `u32`.
const PACKED_SIZES: u64 = (1 << 29) - 1;

impl HashIndex {
    /// Indexes the signatures of the stores. Building is linear in their number: loading a
    /// database with hundreds of thousands of hashes costs no sort and no copy.
    pub fn build(stores: Vec<HashStore>) -> HashIndex {
        let n: usize = stores.iter().map(|s| s.entries.len()).sum();
        let mut starts = Vec::with_capacity(stores.len());
        let mut acc = 0u32;
        for s in &stores {
            starts.push(acc);
            acc = acc.saturating_add(s.entries.len() as u32);
        }
        let nslots = (n * 2).next_power_of_two().max(16);
        let table_mask = nslots - 1;
        let sizes_mask = table_mask;
        let entries = || stores.iter().flat_map(|s| s.entries.iter());
        let digest_table = || {
            let mut table = crate::written(nslots, 0u32);
            for (i, e) in entries().enumerate() {
                let mut slot = slot_of(prefix(&e.digest), table_mask);
                while table[slot] != 0 {
                    slot = (slot + 1) & table_mask;
                }
                table[slot] = (i as u32).saturating_add(1);
            }
            table
        };
        let size_table = || {
            let mut sizes = crate::written(nslots, 0u32);
            let mut big: Vec<(u64, u8)> = Vec::new();
            let mut any_size = 0;
            for e in entries() {
                if e.size == ANY_SIZE {
                    any_size |= bit(e.kind);
                } else if e.size >= PACKED_SIZES {
                    big.push((e.size, bit(e.kind)));
                } else {
                    let key = (e.size as u32 + 1) << 3;
                    let mut slot = slot_of(e.size, sizes_mask);
                    loop {
                        if sizes[slot] == 0 {
                            sizes[slot] = key;
                        }
                        if sizes[slot] & !7 == key {
                            sizes[slot] |= bit(e.kind) as u32;
                            break;
                        }
                        slot = (slot + 1) & sizes_mask;
                    }
                }
            }
            big.sort_unstable();
            big.dedup_by(|b, a| {
                if a.0 == b.0 {
                    a.1 |= b.1;
                    true
                } else {
                    false
                }
            });
            (sizes, big, any_size)
        };
        // One thread: the two tables built side by side only contend for page faults.
        let table = digest_table();
        let (sizes, big_sizes, any_size) = size_table();
        // Equal signatures (kind, digest and size) sit in one probe run of the digest table.
        let mut dup_buckets = std::collections::HashSet::new();
        let all: Vec<&HashEntry> = entries().collect();
        for (i, e) in all.iter().enumerate() {
            let mut slot = slot_of(prefix(&e.digest), table_mask);
            while let Some(j) = table[slot].checked_sub(1) {
                let o = all[j as usize];
                if j as usize != i && o.digest == e.digest && o.kind == e.kind && o.size == e.size {
                    dup_buckets.insert((bit(e.kind), e.size));
                    break;
                }
                slot = (slot + 1) & table_mask;
            }
        }
        let mut shadowed = Vec::new();
        if !dup_buckets.is_empty() {
            let mut buckets: std::collections::HashMap<(u8, u64), Bucket<'_>> =
                std::collections::HashMap::new();
            for (i, e) in all.iter().enumerate() {
                let key = (bit(e.kind), e.size);
                if dup_buckets.contains(&key) {
                    buckets
                        .entry(key)
                        .or_default()
                        .push((&e.digest[..e.kind.digest_len()], i as u32));
                }
            }
            let mut losers = Vec::new();
            for (_, keys) in buckets {
                clamav_losers(keys, &mut losers);
            }
            shadowed = vec![0u64; n.div_ceil(64)];
            for i in losers {
                shadowed[i as usize / 64] |= 1 << (i % 64);
            }
        }
        drop(all);
        HashIndex {
            stores,
            starts,
            table,
            table_mask,
            sizes,
            sizes_mask,
            big_sizes,
            any_size,
            shadowed,
        }
    }

    /// Which digests a file of `size` bytes needs (bit 1 MD5, 2 SHA-1, 4 SHA-256).
    pub fn needed(&self, size: u64) -> u8 {
        let mut need = self.any_size;
        if size >= PACKED_SIZES {
            if let Ok(i) = self.big_sizes.binary_search_by_key(&size, |b| b.0) {
                need |= self.big_sizes[i].1;
            }
        } else if !self.sizes.is_empty() {
            let key = (size as u32 + 1) << 3;
            let mut slot = slot_of(size, self.sizes_mask);
            loop {
                let k = self.sizes[slot];
                if k == 0 {
                    break;
                }
                if k & !7 == key {
                    need |= (k & 7) as u8;
                    break;
                }
                slot = (slot + 1) & self.sizes_mask;
            }
        }
        need
    }

    /// Entry `i` (counting across stores) and the store holding it.
    fn entry(&self, i: u32) -> Option<(&HashStore, &HashEntry)> {
        let s = self.starts.partition_point(|&st| st <= i).checked_sub(1)?;
        let store = self.stores.get(s)?;
        Some((store, store.entries.get((i - self.starts[s]) as usize)?))
    }

    /// Calls `f` with every signature (its name and database) matching the computed digests
    /// of a file of `size` bytes.
    pub fn lookup(&self, digests: &Digests, size: u64, mut f: impl FnMut(&str, u32)) {
        if self.table.is_empty() {
            return;
        }
        for d in digests.iter() {
            let mut key = [0u8; 32];
            key[..d.len()].copy_from_slice(d);
            let mut slot = slot_of(prefix(&key), self.table_mask);
            loop {
                let i = self.table[slot];
                let Some((store, e)) = i.checked_sub(1).and_then(|i| self.entry(i)) else {
                    break;
                };
                let shadowed = self
                    .shadowed
                    .get((i - 1) as usize / 64)
                    .is_some_and(|w| w & (1 << ((i - 1) % 64)) != 0);
                if e.kind.digest_len() == d.len()
                    && e.digest == key
                    && (e.size == ANY_SIZE || e.size == size)
                    && !shadowed
                {
                    f(store.name(e), store.src);
                }
                slot = (slot + 1) & self.table_mask;
            }
        }
    }

    /// Computes the digests `data` needs (reusing those already in `digests`) and reports
    /// every signature they match.
    pub fn detect(&self, data: &[u8], digests: &mut Digests, out: &mut Vec<Detection>) {
        let size = data.len() as u64;
        digests.compute(data, self.needed(size));
        self.lookup(digests, size, |name, src| {
            out.push(Detection {
                name: name.to_string(),
                source: src,
                offset: None,
            })
        });
    }

    pub fn is_empty(&self) -> bool {
        self.stores.iter().all(HashStore::is_empty)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(kind: HashKind, fill: u8, size: Option<u64>, name: &str) -> HashRef<'_> {
        let mut digest = [0u8; 32];
        digest[..kind.digest_len()].fill(fill);
        HashRef {
            kind,
            digest,
            size,
            name,
        }
    }

    /// Sizes small and large (beyond what packs into the size table), `*` sizes, and
    /// digests of one kind never needed for sizes listed only with another.
    #[test]
    fn needed_digests_by_size() {
        let big = 3 << 30;
        let mut a = HashStore::default();
        a.push(&sig(HashKind::Md5, 1, Some(68), "small.md5"));
        a.push(&sig(HashKind::Sha256, 2, Some(68), "small.sha256"));
        a.push(&sig(HashKind::Md5, 3, Some(big), "big.md5"));
        let mut b = HashStore::default();
        b.push(&sig(HashKind::Sha1, 4, Some(big), "big.sha1"));
        b.push(&sig(HashKind::Sha1, 5, Some(PACKED_SIZES - 1), "edge.sha1"));
        b.src = 1;
        let idx = HashIndex::build(vec![a, b]);
        assert_eq!(idx.needed(68), 1 | 4);
        assert_eq!(idx.needed(big), 1 | 2);
        assert_eq!(idx.needed(PACKED_SIZES - 1), 2);
        assert_eq!(idx.needed(PACKED_SIZES), 0);
        assert_eq!(idx.needed(69), 0);
        assert_eq!(idx.needed(u64::MAX), 0);

        let mut c = HashStore::default();
        c.push(&sig(HashKind::Sha256, 6, None, "any.sha256"));
        let idx = HashIndex::build(vec![c]);
        assert_eq!(idx.needed(12345), 4);

        // Lookup finds by digest and size, reporting name and database.
        let mut a = HashStore::default();
        a.push(&sig(HashKind::Md5, 7, Some(10), "ten"));
        a.push(&sig(HashKind::Md5, 7, Some(11), "eleven"));
        a.src = 3;
        let idx = HashIndex::build(vec![a]);
        let digests = Digests {
            md5: Some([7; 16]),
            ..Default::default()
        };
        let mut found = Vec::new();
        idx.lookup(&digests, 11, |n, s| found.push((n.to_string(), s)));
        assert_eq!(found, [("eleven".to_string(), 3)]);
    }

    /// Of equal signatures, one is reported, as ClamAV reports one: the one its sort and
    /// search land on (clamscan reports `Second` for two lines of the same hash, and here too
    /// with a third, larger hash in the bucket). Other sizes are other buckets.
    #[test]
    fn equal_signatures_report_one() {
        let mut a = HashStore::default();
        a.push(&sig(HashKind::Md5, 7, Some(10), "First"));
        a.push(&sig(HashKind::Md5, 7, Some(10), "Second"));
        a.push(&sig(HashKind::Md5, 7, Some(11), "Other size"));
        a.push(&sig(HashKind::Md5, 0xff, Some(10), "Other digest"));
        let idx = HashIndex::build(vec![a]);
        let digests = Digests {
            md5: Some([7; 16]),
            ..Default::default()
        };
        let mut found = Vec::new();
        idx.lookup(&digests, 10, |n, _| found.push(n.to_string()));
        assert_eq!(found, ["Second"]);
        let mut found = Vec::new();
        idx.lookup(&digests, 11, |n, _| found.push(n.to_string()));
        assert_eq!(found, ["Other size"]);
    }

    /// The emulated sort sorts, whatever the input, and the search finds every key.
    #[test]
    fn clamav_sort_and_search() {
        let mut x = 0x1234_5678u64;
        for n in [0usize, 1, 2, 3, 10, 100, 1000] {
            let keys: Vec<[u8; 6]> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    [
                        (x % 7) as u8,
                        0,
                        (x >> 8) as u8 % 3,
                        0,
                        (x >> 16) as u8 % 5,
                        1,
                    ]
                })
                .collect();
            let mut v: Vec<(&[u8], u32)> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| (&k[..], i as u32))
                .collect();
            clamav_sort(&mut v);
            assert!(
                v.windows(2).all(|w| clamav_cmp(w[0].0, w[1].0).is_le()),
                "n={n}"
            );
            for k in &keys {
                let c = clamav_search(&v, k).unwrap();
                assert_eq!(v[c].0, &k[..]);
            }
        }
        // Already sorted: no deep recursion.
        let sorted: Vec<[u8; 4]> = (0u32..3_000).map(|i| i.to_le_bytes()).collect();
        let mut v: Vec<(&[u8], u32)> = sorted.iter().map(|k| (&k[..], 0)).collect();
        clamav_sort(&mut v);
        assert!(v.windows(2).all(|w| clamav_cmp(w[0].0, w[1].0).is_le()));
    }
}
