//! Body-signature matching: one pass over the bytes finds literal atoms of every pattern,
//! then each candidate is verified against its whole pattern.
//!
//! Every pattern gets one *atom*: up to four consecutive fixed-width bytes, chosen to be as
//! rare as possible, expanded into at most [`MAX_EXPANSION`] literal variants (nibbles,
//! single-byte alternatives, case folding). Four-byte atoms are found in two steps: a
//! bitmap of the 3-byte grams every atom holds at its offsets 0 and 1 is tested at every
//! second position of the data (a 4-byte window starting at `p` holds the gram at the even
//! position `p` or `p + 1`), and only where a gram is present are the two windows it may
//! belong to looked up, through a two-probe bitmap filter and a table of exact atoms.
//! Shorter atoms go through a direct 64 KiB-bit table of 2-byte prefixes. A hit is verified
//! by matching the tokens left of the atom backwards and the tokens right of it forwards,
//! with memoised backtracking over jumps.

use std::collections::{HashMap, HashSet};

use detente_sigs::{Boundary, ByteClass, HexPattern, Offset, Token};

/// Most literal variants an atom may expand into.
pub const MAX_EXPANSION: usize = 16;

/// A compiled element of a pattern.
#[derive(Clone, Debug)]
pub(crate) enum Tok {
    /// Exact bytes: `len` bytes at `at` in the pattern's [`Compiled::lits`].
    Lit { at: u32, len: u32 },
    /// One byte per class.
    Seq(Box<[ByteClass]>),
    /// Alternatives.
    Alt {
        alts: Box<[Box<[ByteClass]>]>,
        negated: bool,
    },
    /// Jump.
    Gap { min: usize, max: Option<usize> },
    /// Zero-width check of the byte before the match (a marker at the signature's start).
    AssertLeft(Boundary),
    /// Zero-width check of the byte after the match (a marker at the signature's end).
    AssertRight(Boundary),
    /// A marker inside the signature: consumes the byte(s) it matches.
    Special(Boundary),
}

/// A pattern ready for matching.
#[derive(Clone, Debug)]
pub(crate) struct Compiled {
    pub toks: Box<[Tok]>,
    /// The bytes of every [`Tok::Lit`], one after the other (one allocation per pattern).
    pub lits: Box<[u8]>,
    /// Index of the token that starts with the atom.
    pub atom_tok: usize,
    /// Where a match may start.
    pub offset: Offset,
    /// Match must not touch alphanumeric bytes on either side.
    pub fullword: bool,
    /// Whether it can match normalised text (see [`Compiled::can_match_text`]), worked out
    /// once at compile time, on the worker that compiles it.
    pub matches_text: bool,
}

/// Relative frequency class of a byte in typical files; lower is rarer.
fn byte_cost(b: u8) -> u32 {
    BYTE_COST[b as usize] as u32
}

/// [`byte_cost`] as a table: the data bytes of signatures are unpredictable, and a lookup
/// costs no branch.
const BYTE_COST: [u8; 256] = {
    let mut t = [1u8; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b as u8 {
            0x00 => 40,
            0xff => 20,
            b' ' | b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' => 12,
            b'\n' | b'\r' | b'\t' => 10,
            0x20..=0x7e => 6,
            0x01..=0x08 => 4,
            _ => 1,
        };
        b += 1;
    }
    t
};

fn class_cost(c: &ByteClass) -> u32 {
    match c.single() {
        Some(b) => byte_cost(b),
        None if c.len() > MAX_EXPANSION as u32 => 40,
        None => c.values().map(byte_cost).max().unwrap_or(0),
    }
}

/// The literal variants of a pattern's atom: `len` (2 to 4) bytes each, the rest zero.
/// Held inline (most atoms have one variant): compiling a pattern allocates no atom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Atom {
    pub len: u8,
    count: u8,
    variants: [[u8; 4]; MAX_EXPANSION],
}

impl Atom {
    /// The variants, each `len` bytes long and zero-padded to four.
    pub fn variants(&self) -> &[[u8; 4]] {
        &self.variants[..self.count as usize]
    }
}

/// What the compiler needs of a parsed token: for a single-byte class, the number of values
/// it holds, its cost and (when it holds one value) that value; `n == 0` for other tokens.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ClassInfo {
    n: u32,
    cost: u32,
    byte: u8,
}

/// Chooses the atom window over a run of single-byte classes: the rarest window of four
/// bytes whose expansion stays within [`MAX_EXPANSION`], else of three, else of two. Returns
/// (start in `run`, length, cost).
fn choose_atom(run: &[ClassInfo]) -> Option<(usize, usize, u64)> {
    for len in (2..=4usize).rev() {
        let mut best: Option<(u64, usize)> = None;
        for (s, w) in run.windows(len).enumerate() {
            let exp: usize = w.iter().map(|c| c.n as usize).product();
            if exp == 0 || exp > MAX_EXPANSION {
                continue;
            }
            let cost = w.iter().map(|c| c.cost as u64).sum::<u64>() + exp as u64 * 3;
            if best.is_none_or(|(bc, _)| cost < bc) {
                best = Some((cost, s));
            }
        }
        if let Some((cost, s)) = best {
            return Some((s, len, cost + (4 - len as u64) * 200));
        }
    }
    None
}

/// Compiles a parsed pattern. Returns None when it has no usable atom.
pub(crate) fn compile(
    pat: &HexPattern,
    offset: Offset,
    fullword: bool,
) -> Option<(Compiled, Atom)> {
    compile_with(&pat.tokens, offset, fullword, &mut Vec::new())
}

/// [`compile`] with a scratch buffer kept by the caller across patterns.
pub(crate) fn compile_with(
    tokens: &[Token],
    offset: Offset,
    fullword: bool,
    info: &mut Vec<ClassInfo>,
) -> Option<(Compiled, Atom)> {
    info.clear();
    info.extend(tokens.iter().map(|t| match t {
        Token::Class(c) => match c.single() {
            Some(b) => ClassInfo {
                n: 1,
                cost: byte_cost(b),
                byte: b,
            },
            None => ClassInfo {
                n: c.len(),
                cost: class_cost(c),
                byte: 0,
            },
        },
        _ => ClassInfo::default(),
    }));
    let info = &info[..];
    // The best atom over every run of consecutive classes: (first token, len, cost).
    let mut best: Option<(usize, usize, u64)> = None;
    let mut s = 0;
    while s < info.len() {
        if info[s].n == 0 {
            s += 1;
            continue;
        }
        let e = info[s..]
            .iter()
            .position(|c| c.n == 0)
            .map_or(info.len(), |p| s + p);
        if let Some((ws, l, cost)) = choose_atom(&info[s..e]) {
            if best.is_none_or(|(_, _, bc)| cost < bc) {
                best = Some((s + ws, l, cost));
            }
        }
        s = e;
    }
    let (atom_start, atom_len, _) = best?;

    // Expand atom variants, in place.
    let mut atom = Atom {
        len: atom_len as u8,
        count: 1,
        variants: [[0; 4]; MAX_EXPANSION],
    };
    for (k, t) in tokens[atom_start..atom_start + atom_len].iter().enumerate() {
        let Token::Class(c) = t else { return None };
        let n = atom.count as usize;
        for (m, b) in c.values().enumerate() {
            if m == 0 {
                for v in &mut atom.variants[..n] {
                    v[k] = b;
                }
            } else {
                for j in 0..n {
                    let mut v = atom.variants[j];
                    v[k] = b;
                    let slot = atom.variants.get_mut(atom.count as usize)?;
                    *slot = v;
                    atom.count += 1;
                }
            }
        }
    }

    // Build tokens, splitting class runs at the atom start: at most one run before and one
    // after each other token, and one more where the atom splits a run.
    let others = info.iter().filter(|c| c.n == 0).count();
    let mut toks: Vec<Tok> = Vec::with_capacity(2 * others + 2);
    let mut lits: Vec<u8> = Vec::with_capacity(tokens.len() - others);
    let mut atom_tok = 0;
    // The pending run of classes: tokens[run..i].
    let mut run = 0;
    let flush = |from: usize, to: usize, toks: &mut Vec<Tok>, lits: &mut Vec<u8>| {
        if from >= to {
            return;
        }
        if info[from..to].iter().all(|c| c.n == 1) {
            let at = lits.len() as u32;
            lits.extend(info[from..to].iter().map(|c| c.byte));
            toks.push(Tok::Lit {
                at,
                len: (to - from) as u32,
            });
        } else {
            let classes = tokens[from..to].iter().filter_map(|t| match t {
                Token::Class(c) => Some(*c),
                _ => None,
            });
            toks.push(Tok::Seq(classes.collect()));
        }
    };
    for (i, t) in tokens.iter().enumerate() {
        if i == atom_start {
            flush(run, i, &mut toks, &mut lits);
            run = i;
            atom_tok = toks.len();
        }
        let piece = match t {
            Token::Class(_) => continue,
            Token::Alt { alts, negated } => Tok::Alt {
                alts: alts.iter().map(|a| a.clone().into_boxed_slice()).collect(),
                negated: *negated,
            },
            Token::Gap { min, max } => Tok::Gap {
                min: *min as usize,
                max: max.map(|m| m as usize),
            },
            Token::Boundary(b) => {
                if i == 0 {
                    Tok::AssertLeft(*b)
                } else if i + 1 == tokens.len() {
                    Tok::AssertRight(*b)
                } else {
                    Tok::Special(*b)
                }
            }
        };
        flush(run, i, &mut toks, &mut lits);
        toks.push(piece);
        run = i + 1;
    }
    flush(run, tokens.len(), &mut toks, &mut lits);
    let mut compiled = Compiled {
        toks: toks.into(),
        lits: lits.into(),
        atom_tok,
        offset,
        fullword,
        matches_text: false,
    };
    compiled.matches_text = compiled.can_match_text();
    Some((compiled, atom))
}

/// `len` bytes at `at` of `lits` (empty if out of range, which compiling never produces).
fn lit(lits: &[u8], at: u32, len: u32) -> &[u8] {
    lits.get(at as usize..at as usize + len as usize)
        .unwrap_or_default()
}

/// Whether a byte can appear in normalised text (see [`crate::text`]).
fn in_text(b: u8) -> bool {
    b == b' ' || (0x21..=0x7f).contains(&b) && !b.is_ascii_uppercase()
}

fn class_in_text(c: &ByteClass) -> bool {
    c.values().any(in_text)
}

impl Compiled {
    /// Whether the pattern can match anywhere in normalised text: false when some byte it
    /// must match can never appear there (upper case, control and 8-bit bytes, line breaks).
    pub fn can_match_text(&self) -> bool {
        self.toks.iter().all(|t| match t {
            Tok::Lit { at, len } => lit(&self.lits, *at, *len).iter().all(|b| in_text(*b)),
            Tok::Seq(s) => s.iter().all(class_in_text),
            Tok::Alt { alts, negated } => {
                *negated || alts.iter().any(|a| a.iter().all(class_in_text))
            }
            Tok::Gap { .. } | Tok::AssertLeft(_) | Tok::AssertRight(_) => true,
            Tok::Special(Boundary::Line) => false,
            Tok::Special(_) => true,
        })
    }
}

/// Who a pattern belongs to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Owner {
    /// A body signature.
    Body(u32),
    /// Subsignature `sub` of logical signature `lsig`.
    Sub { lsig: u32, sub: u8 },
}

/// A pattern and its owner.
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    pub compiled: Compiled,
    pub owner: Owner,
    /// Target type 7: matched only against normalised text.
    pub text_only: bool,
}

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
    entries4: Vec<u32>,
    short_bits: Vec<u64>,
    keys2: Vec<u16>,
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

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// ClamAV's boundary classes: 1 may precede a word, 2 may follow one, 3 both, 0 neither.
fn boundary_class(b: u8) -> u8 {
    match b {
        b' ' | b'-' | b'/' | b'_' => 3,
        b'.' | b'<' | b'@' => 1,
        b'\n' | b'\r' | b'"' | b'\'' | b'=' | b'>' => 2,
        _ => 0,
    }
}

/// Scratch state for verifying one pattern over one buffer.
pub(crate) struct Verifier<'a> {
    data: &'a [u8],
    toks: &'a [Tok],
    lits: &'a [u8],
    dead_fwd: HashSet<(u32, usize)>,
    dead_bwd: HashSet<(u32, usize)>,
    steps: u64,
}

/// Upper bound on backtracking steps for one verification, so a hostile pattern/file pair
/// cannot stall a scan. Reaching it counts as no match.
const MAX_STEPS: u64 = 50_000_000;

impl<'a> Verifier<'a> {
    pub fn new(data: &'a [u8], c: &'a Compiled) -> Self {
        Verifier {
            data,
            toks: &c.toks,
            lits: &c.lits,
            dead_fwd: HashSet::new(),
            dead_bwd: HashSet::new(),
            steps: 0,
        }
    }

    fn class_seq_at(&self, seq: &[ByteClass], pos: usize) -> bool {
        match self.data.get(pos..pos + seq.len()) {
            Some(d) => seq.iter().zip(d).all(|(c, b)| c.contains(*b)),
            None => false,
        }
    }

    /// Zero-width check before a match starting at `pos`.
    fn left_ok(&self, b: Boundary, pos: usize) -> bool {
        let Some(prev) = pos.checked_sub(1).map(|i| self.data[i]) else {
            return true;
        };
        match b {
            Boundary::Word => matches!(boundary_class(prev), 1 | 3),
            Boundary::Line => prev == b'\n',
            Boundary::NonAlnum => !prev.is_ascii_alphanumeric(),
        }
    }

    /// Zero-width check after a match ending at `pos`.
    fn right_ok(&self, b: Boundary, pos: usize) -> bool {
        let Some(&next) = self.data.get(pos) else {
            return true;
        };
        match b {
            Boundary::Word => boundary_class(next) >= 2,
            Boundary::Line => {
                next == b'\n' || (next == b'\r' && self.data.get(pos + 1) == Some(&b'\n'))
            }
            Boundary::NonAlnum => !next.is_ascii_alphanumeric(),
        }
    }

    /// Length of the bytes a marker inside a signature matches at `pos`, if it matches.
    fn special_at(&self, b: Boundary, pos: usize) -> Option<usize> {
        let c = *self.data.get(pos)?;
        match b {
            Boundary::Word => (boundary_class(c) != 0).then_some(1),
            Boundary::Line => {
                if c == b'\n' {
                    Some(1)
                } else if c == b'\r' && self.data.get(pos + 1) == Some(&b'\n') {
                    Some(2)
                } else {
                    None
                }
            }
            Boundary::NonAlnum => (!c.is_ascii_alphanumeric()).then_some(1),
        }
    }

    /// Length of the bytes a marker inside a signature matches ending at `end`, if it matches.
    fn special_before(&self, b: Boundary, end: usize) -> Vec<usize> {
        let mut v = Vec::new();
        for len in [1usize, 2] {
            if let Some(s) = end.checked_sub(len) {
                if self.special_at(b, s) == Some(len) {
                    v.push(len);
                }
            }
        }
        v
    }

    /// Whether tokens `t..` match starting at `pos`, ending where `end_ok` allows.
    pub fn fwd(&mut self, t: usize, pos: usize, end_ok: &dyn Fn(usize) -> bool) -> bool {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return false;
        }
        let Some(tok) = self.toks.get(t) else {
            return end_ok(pos);
        };
        match tok {
            &Tok::Lit { at, len } => {
                let l = lit(self.lits, at, len);
                self.data.get(pos..pos + l.len()) == Some(l)
                    && self.fwd(t + 1, pos + l.len(), end_ok)
            }
            Tok::Seq(s) => self.class_seq_at(s, pos) && self.fwd(t + 1, pos + s.len(), end_ok),
            Tok::AssertLeft(_) => self.fwd(t + 1, pos, end_ok),
            Tok::AssertRight(b) => self.right_ok(*b, pos) && self.fwd(t + 1, pos, end_ok),
            Tok::Special(b) => match self.special_at(*b, pos) {
                Some(l) => self.fwd(t + 1, pos + l, end_ok),
                None => false,
            },
            Tok::Alt { alts, negated } => {
                if *negated {
                    let l = alts[0].len();
                    pos + l <= self.data.len()
                        && !alts.iter().any(|a| self.class_seq_at(a, pos))
                        && self.fwd(t + 1, pos + l, end_ok)
                } else {
                    for a in alts.iter() {
                        if self.class_seq_at(a, pos) && self.fwd(t + 1, pos + a.len(), end_ok) {
                            return true;
                        }
                    }
                    false
                }
            }
            Tok::Gap { min, max } => {
                let n = self.data.len();
                let lo = pos + min;
                if lo > n {
                    return false;
                }
                let hi = match max {
                    Some(m) => (pos + m).min(n),
                    None => n,
                };
                let next = t as u32 + 1;
                // Jump straight to occurrences of a following literal.
                if let Some(&Tok::Lit { at, len }) = self.toks.get(t + 1) {
                    let l = lit(self.lits, at, len);
                    let hay_end = (hi + l.len()).min(n);
                    if lo >= hay_end {
                        return false;
                    }
                    let finder = memchr::memmem::Finder::new(l);
                    let mut from = lo;
                    while from < hay_end {
                        let Some(off) = finder.find(&self.data[from..hay_end]) else {
                            return false;
                        };
                        let q = from + off;
                        if q > hi {
                            return false;
                        }
                        if !self.dead_fwd.contains(&(next, q)) {
                            if self.fwd(t + 1, q, end_ok) {
                                return true;
                            }
                            self.dead_fwd.insert((next, q));
                        }
                        from = q + 1;
                    }
                    return false;
                }
                for q in lo..=hi {
                    if self.dead_fwd.contains(&(next, q)) {
                        continue;
                    }
                    if self.fwd(t + 1, q, end_ok) {
                        return true;
                    }
                    self.dead_fwd.insert((next, q));
                }
                false
            }
        }
    }

    /// A start position such that tokens `..t` match ending at `end` and `start_ok` holds.
    pub fn bwd(&mut self, t: usize, end: usize, start_ok: &dyn Fn(usize) -> bool) -> Option<usize> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return None;
        }
        if t == 0 {
            return start_ok(end).then_some(end);
        }
        match &self.toks[t - 1] {
            &Tok::Lit { at, len } => {
                let l = lit(self.lits, at, len);
                let s = end.checked_sub(l.len())?;
                if self.data[s..end] == *l {
                    self.bwd(t - 1, s, start_ok)
                } else {
                    None
                }
            }
            Tok::Seq(seq) => {
                let s = end.checked_sub(seq.len())?;
                if self.class_seq_at(seq, s) {
                    self.bwd(t - 1, s, start_ok)
                } else {
                    None
                }
            }
            Tok::AssertLeft(b) => {
                if self.left_ok(*b, end) {
                    self.bwd(t - 1, end, start_ok)
                } else {
                    None
                }
            }
            Tok::AssertRight(_) => self.bwd(t - 1, end, start_ok),
            Tok::Special(b) => {
                for l in self.special_before(*b, end) {
                    if let Some(r) = self.bwd(t - 1, end - l, start_ok) {
                        return Some(r);
                    }
                }
                None
            }
            Tok::Alt { alts, negated } => {
                if *negated {
                    let s = end.checked_sub(alts[0].len())?;
                    if alts.iter().any(|a| self.class_seq_at(a, s)) {
                        None
                    } else {
                        self.bwd(t - 1, s, start_ok)
                    }
                } else {
                    for a in alts.iter() {
                        if let Some(s) = end.checked_sub(a.len()) {
                            if self.class_seq_at(a, s) {
                                if let Some(r) = self.bwd(t - 1, s, start_ok) {
                                    return Some(r);
                                }
                            }
                        }
                    }
                    None
                }
            }
            Tok::Gap { min, max } => {
                let hi = end.checked_sub(*min)?;
                let lo = match max {
                    Some(m) => end.saturating_sub(*m),
                    None => 0,
                };
                let prev = t as u32 - 1;
                let mut q = hi;
                loop {
                    if !self.dead_bwd.contains(&(prev, q)) {
                        if let Some(r) = self.bwd(t - 1, q, start_ok) {
                            return Some(r);
                        }
                        self.dead_bwd.insert((prev, q));
                    }
                    if q == lo {
                        return None;
                    }
                    q -= 1;
                }
            }
        }
    }
}

/// Verifies pattern `c` with its atom at `pos`; returns the match start.
///
/// `eof_size` is the size `EOF-n` offsets count from (None: such offsets never match).
pub(crate) fn verify(
    c: &Compiled,
    data: &[u8],
    pos: usize,
    eof_size: Option<u64>,
) -> Option<usize> {
    let n = match (c.offset, eof_size) {
        (Offset::Eof { .. }, None) => return None,
        (_, Some(n)) => n,
        (_, None) => data.len() as u64,
    };
    let fullword = c.fullword;
    let mut v = Verifier::new(data, c);
    let end_ok = |e: usize| !fullword || data.get(e).is_none_or(|b| !is_word(*b));
    if !v.fwd(c.atom_tok, pos, &end_ok) {
        return None;
    }
    let offset = c.offset;
    let start_ok = |s: usize| {
        offset.allows(s as u64, n)
            && (!fullword || s == 0 || data.get(s - 1).is_none_or(|b| !is_word(*b)))
    };
    v.bwd(c.atom_tok, pos, &start_ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use detente_sigs::parse_hex;

    /// Naive reference: does the pattern match starting exactly at `s`?
    fn naive_at(toks: &[Token], data: &[u8], s: usize) -> bool {
        fn go(toks: &[Token], data: &[u8], p: usize) -> bool {
            let Some(t) = toks.first() else { return true };
            let rest = &toks[1..];
            match t {
                Token::Class(c) => {
                    data.get(p).is_some_and(|b| c.contains(*b)) && go(rest, data, p + 1)
                }
                Token::Alt {
                    alts,
                    negated: false,
                } => alts.iter().any(|a| {
                    data.get(p..p + a.len())
                        .is_some_and(|d| a.iter().zip(d).all(|(c, b)| c.contains(*b)))
                        && go(rest, data, p + a.len())
                }),
                Token::Alt {
                    alts,
                    negated: true,
                } => {
                    let l = alts[0].len();
                    p + l <= data.len()
                        && !alts
                            .iter()
                            .any(|a| a.iter().zip(&data[p..p + l]).all(|(c, b)| c.contains(*b)))
                        && go(rest, data, p + l)
                }
                Token::Gap { min, max } => {
                    let hi = max
                        .map(|m| p + m as usize)
                        .unwrap_or(data.len())
                        .min(data.len());
                    (p + *min as usize..=hi).any(|q| go(rest, data, q))
                }
                Token::Boundary(_) => go(rest, data, p),
            }
        }
        go(toks, data, s)
    }

    /// The index holds an atom's variants and nothing else: a short atom's unused variant
    /// slots (zero bytes) must not become keys, or every pair of NUL bytes would be a hit.
    #[test]
    fn index_keys_are_the_atom_variants() {
        let (_, short) = compile(&parse_hex("4142").unwrap(), Offset::Any, false).unwrap();
        let (_, nibble) = compile(&parse_hex("4?4243").unwrap(), Offset::Any, false).unwrap();
        let (_, long) = compile(&parse_hex("41424344").unwrap(), Offset::Any, false).unwrap();
        assert_eq!((short.len, short.variants().len()), (2, 1));
        assert_eq!((nibble.len, nibble.variants().len()), (3, 16));
        let idx = AtomIndex::build([(0, &short), (1, &nibble), (2, &long)]);
        let mut keys2: Vec<u16> = (0x40..=0x4f)
            .map(|h| u16::from_le_bytes([h, 0x42]))
            .collect();
        keys2.sort_unstable();
        assert_eq!(idx.keys2, keys2);
        assert_eq!(idx.entries4, [2]);
        let mut hits = Vec::new();
        idx.find(&[0u8; 64], |pid, pos| hits.push((pid, pos)));
        assert!(hits.is_empty(), "{hits:?}");
    }

    fn engine_matches(sig: &str, data: &[u8]) -> bool {
        let p = parse_hex(sig).unwrap();
        let (c, atom) = compile(&p, Offset::Any, false).unwrap();
        let idx = AtomIndex::build([(0, &atom)]);
        let mut found = false;
        idx.find(data, |_, pos| {
            if !found && verify(&c, data, pos, Some(data.len() as u64)).is_some() {
                found = true;
            }
        });
        found
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
            z ^ (z >> 31)
        }
    }

    #[test]
    fn agrees_with_naive_matcher() {
        let sigs = [
            "41424344",
            "4142??44",
            "41424?44",
            "4142?344",
            "4142*4344",
            "414243{2}4445",
            "414243{-2}4445",
            "414243{1-}4445",
            "414243{1-3}4445",
            "4142(43|44)4546",
            "4142(4344|45)4647",
            "4142!(43|44)4546",
            "4142!(4344|4546)4748",
            "4142{0-2}43*44{1}4546",
            "(41|42)434445",
        ];
        let mut rng = Rng(7);
        for sig in sigs {
            let toks = parse_hex(sig).unwrap().tokens;
            for _ in 0..400 {
                let len = (rng.next() % 24) as usize;
                let data: Vec<u8> = (0..len).map(|_| 0x41 + (rng.next() % 8) as u8).collect();
                let want = (0..=data.len()).any(|s| naive_at(&toks, &data, s));
                assert_eq!(
                    engine_matches(sig, &data),
                    want,
                    "{sig} on {:?}",
                    String::from_utf8_lossy(&data)
                );
            }
        }
    }
}
