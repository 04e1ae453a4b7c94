//! The atom index: finds every occurrence of every pattern's atom in one pass.

use std::collections::HashMap;

use crate::body::Atom;

/// Index of atoms: a two-probe bitmap filter and an open-addressing table for 4-byte atoms,
/// and a direct 64 Kbit table of 2-byte prefixes for shorter atoms.
#[derive(Default)]
pub(crate) struct AtomIndex {
    /// Filter bits; each atom sets two bits chosen by one 64-bit multiplicative hash.
    bloom: Vec<u64>,
    /// Bitmap of the 3-byte grams at offsets 0 and 1 of every 4-byte atom, by gram hash.
    grams: Vec<u64>,
    /// log2 of the number of gram bits.
    gram_bits: u32,
    /// log2 of the number of filter bits.
    bloom_bits: u32,
    /// Open-addressing table: slot -> (key, first entry, entry count); count 0 is empty.
    slots: Vec<(u32, u32, u32)>,
    slot_mask: usize,
    pub(crate) entries4: Vec<u32>,
    short_bits: Vec<u64>,
    pub(crate) keys2: Vec<u16>,
    starts2: Vec<u32>,
    entries2: Vec<u32>,
    /// Atoms of the patterns in the short table (2 or 3 bytes), by pattern.
    short_atoms: HashMap<u32, Atom>,
}

const HASH_K: u64 = 0x9E37_79B9_7F4A_7C15;

/// Bit index of a 3-byte gram (in the low 24 bits of `g`) in a filter of `2^bits` bits.
#[inline(always)]
fn gram_hash(g: u32, bits: u32) -> usize {
    (g.wrapping_mul(0x9E37_79B1) >> (32 - bits)) as usize
}

#[inline(always)]
fn mix(w: u32) -> u64 {
    (w as u64 | (w as u64) << 32).wrapping_mul(HASH_K)
}

impl AtomIndex {
    /// Indexes the atoms of patterns (pattern id, atom).
    pub fn build<'a>(atoms: impl IntoIterator<Item = (u32, &'a Atom)>) -> AtomIndex {
        let mut long: Vec<(u32, u32)> = Vec::new();
        let mut short: Vec<(u16, u32)> = Vec::new();
        let mut short_atoms = HashMap::new();
        for (pid, atom) in atoms {
            if atom.len >= 4 {
                long.extend(
                    atom.variants()
                        .iter()
                        .map(|v| (u32::from_le_bytes(*v), pid)),
                );
            } else {
                short.extend(
                    atom.variants()
                        .iter()
                        .map(|v| (u16::from_le_bytes([v[0], v[1]]), pid)),
                );
                short_atoms.insert(pid, atom.clone());
            }
        }
        long.sort_unstable();
        long.dedup();
        short.sort_unstable();
        short.dedup();

        // Filter: about 64 bits per key, between 64 Kbit and 4 Mbit.
        let bits = (long.len().max(1) * 64)
            .next_power_of_two()
            .clamp(1 << 16, 1 << 22);
        let bloom_bits = bits.trailing_zeros();
        let mut bloom = crate::written(bits / 64, 0u64);
        // Grams: about 32 bits per gram (a few per cent false hits), between 32 Kbit (4 KiB)
        // and 1 Mbit (128 KiB), so that the filter tested at every second byte stays in a
        // near cache.
        let gram_count = long.len() * 2;
        let gbits = (gram_count.max(1) * 32)
            .next_power_of_two()
            .clamp(1 << 15, 1 << 20);
        let gram_bits = gbits.trailing_zeros();
        let mut grams = crate::written(gbits / 64, 0u64);
        for (w, _) in &long {
            for g in [w & 0x00ff_ffff, w >> 8] {
                let h = gram_hash(g, gram_bits);
                grams[h >> 6] |= 1 << (h & 63);
            }
        }
        // Table: power of two at least twice the number of distinct keys.
        let distinct = long.windows(2).filter(|w| w[0].0 != w[1].0).count() + 1;
        let nslots = (distinct * 2).next_power_of_two().max(16);
        let mut slots = crate::written(nslots, (0u32, 0u32, 0u32));
        let mut entries4 = Vec::with_capacity(long.len());
        let mut i = 0;
        while i < long.len() {
            let k = long[i].0;
            let first = entries4.len() as u32;
            while i < long.len() && long[i].0 == k {
                entries4.push(long[i].1);
                i += 1;
            }
            let count = entries4.len() as u32 - first;
            let x = mix(k);
            for b in [(x >> (64 - bloom_bits)) as usize, (x as usize) & (bits - 1)] {
                bloom[b >> 6] |= 1 << (b & 63);
            }
            let mut slot = (x >> 32) as usize & (nslots - 1);
            while slots[slot].2 != 0 {
                slot = (slot + 1) & (nslots - 1);
            }
            slots[slot] = (k, first, count);
        }
        let mut short_bits = vec![0u64; 1024];
        let (mut keys2, mut starts2, mut entries2) = (Vec::new(), Vec::new(), Vec::new());
        for (k, pid) in &short {
            short_bits[(*k as usize) >> 6] |= 1 << (k & 63);
            if keys2.last() != Some(k) {
                keys2.push(*k);
                starts2.push(entries2.len() as u32);
            }
            entries2.push(*pid);
        }
        starts2.push(entries2.len() as u32);
        AtomIndex {
            bloom,
            bloom_bits,
            grams,
            gram_bits,
            slots,
            slot_mask: nslots - 1,
            entries4,
            short_bits,
            keys2,
            starts2,
            entries2,
            short_atoms,
        }
    }

    /// Calls `hit(pattern id, position)` for every atom occurrence in `data`.
    #[inline]
    pub fn find(&self, data: &[u8], mut hit: impl FnMut(u32, usize)) {
        let hit = &mut hit;
        if !self.entries4.is_empty() && data.len() >= 4 {
            let bloom = &self.bloom[..];
            let bits = self.bloom_bits;
            let low_mask = (1usize << bits) - 1;
            // The filter test is inlined in the loop; the rare hit takes the slow path.
            let mut at = |w: u32, i: usize| {
                let x = mix(w);
                let (a, b) = ((x >> (64 - bits)) as usize, (x as usize) & low_mask);
                if (bloom[a >> 6] >> (a & 63)) & (bloom[b >> 6] >> (b & 63)) & 1 != 0 {
                    self.lookup(w, x, i, &mut *hit);
                }
            };
            let grams = &self.grams[..];
            let gbits = self.gram_bits;
            let gram_at = |g: u32| {
                let h = gram_hash(g & 0x00ff_ffff, gbits);
                (grams[h >> 6] >> (h & 63)) & 1
            };
            let window = |p: usize| {
                data.get(p..p + 4)
                    .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            };
            // A gram found at the even position q: the windows at q - 1 and q (in order).
            let mut check = |q: usize| {
                if let Some(w) = q.checked_sub(1).and_then(window) {
                    at(w, q - 1);
                }
                if let Some(w) = window(q) {
                    at(w, q);
                }
            };
            // One 8-byte load covers the grams at the even positions q, q+2 and q+4.
            let mut q = 0;
            while let Some(eight) = data.get(q..q + 8) {
                let x = u64::from_le_bytes(eight.try_into().unwrap_or([0; 8]));
                let (g0, g1, g2) = (x as u32, (x >> 16) as u32, (x >> 32) as u32);
                if gram_at(g0) | gram_at(g1) | gram_at(g2) != 0 {
                    for (k, g) in [g0, g1, g2].into_iter().enumerate() {
                        if gram_at(g) != 0 {
                            check(q + 2 * k);
                        }
                    }
                }
                q += 6;
            }
            while q + 3 <= data.len() {
                let g = u32::from_le_bytes([data[q], data[q + 1], data[q + 2], 0]);
                if gram_at(g) != 0 {
                    check(q);
                }
                q += 2;
            }
        }
        if !self.keys2.is_empty() && data.len() >= 2 {
            for i in 0..data.len() - 1 {
                let k = u16::from_le_bytes([data[i], data[i + 1]]);
                if self.short_bits[(k as usize) >> 6] & (1 << (k & 63)) != 0 {
                    if let Ok(x) = self.keys2.binary_search(&k) {
                        let (s, e) = (self.starts2[x] as usize, self.starts2[x + 1] as usize);
                        for &pid in &self.entries2[s..e] {
                            let ok = self.short_atoms.get(&pid).is_some_and(|a| {
                                let n = a.len as usize;
                                a.variants()
                                    .iter()
                                    .any(|v| data.get(i..i + n) == v.get(..n))
                            });
                            if ok {
                                hit(pid, i);
                            }
                        }
                    }
                }
            }
        }
    }

    /// The patterns whose 4-byte atom is `w` (hashed to `x`), after the filter passed.
    #[inline(never)]
    fn lookup(&self, w: u32, x: u64, i: usize, hit: &mut impl FnMut(u32, usize)) {
        let mut slot = (x >> 32) as usize & self.slot_mask;
        loop {
            let (k, first, count) = self.slots[slot];
            if count == 0 {
                return;
            }
            if k == w {
                for &pid in &self.entries4[first as usize..(first + count) as usize] {
                    hit(pid, i);
                }
                return;
            }
            slot = (slot + 1) & self.slot_mask;
        }
    }

    /// Whether the index holds no atom.
    pub fn is_empty(&self) -> bool {
        self.entries4.is_empty() && self.entries2.is_empty()
    }
}
