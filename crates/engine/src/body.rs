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
//! Shorter atoms go through a direct 64 KiB-bit table of 2-byte prefixes ([`crate::index`]).
//! A hit is verified by matching the tokens left of the atom backwards and the tokens right
//! of it forwards ([`crate::verify`]).

use detente_sigs::{Boundary, ByteClass, HexPattern, Offset, Token};

/// Most compiled tokens a pattern may have (each costs the verifier a stack frame).
pub const MAX_TOKENS: usize = 1024;

/// Most literal variants an atom may expand into.
pub const MAX_EXPANSION: usize = 16;

/// A compiled element of a pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Tok {
    /// Exact bytes: `len` bytes at `at` in the pattern's [`Compiled::lits`].
    Lit { at: u32, len: u32 },
    /// One byte per class.
    Seq(Box<[ByteClass]>),
    /// Alternatives. `first` and `last` are the unions of the alternatives' first and last
    /// byte classes: one test rejects a position none of them can start (or end) at, so a
    /// wide alternation costs one lookup per hit that cannot match, not one per alternative.
    Alt {
        alts: Box<[Box<[ByteClass]>]>,
        negated: bool,
        first: ByteClass,
        last: ByteClass,
        /// When every alternative is a literal string of one length: that length and the
        /// strings, sorted and concatenated, so a position is tested by one binary search.
        fixed: Option<(usize, Box<[u8]>)>,
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
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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
    /// The fewest and most bytes (None: unbounded) a match holds before its atom, so an atom
    /// hit where no match could start within the offset's window is dropped unverified.
    pub before_atom: (u64, Option<u64>),
    /// A target-1 body signature of static bytes with an `SEx` offset: ClamAV matches such a
    /// signature with its Boyer-Moore matcher, which in files of [`BM_OFFMODE_SIZE`] bytes or
    /// more accepts it only at the section's start.
    pub exact_in_big_pe: bool,
}

/// ClamAV's `CLI_DEFAULT_BM_OFFMODE_FSIZE`.
pub(crate) const BM_OFFMODE_SIZE: u64 = 262_144;

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
            Token::Alt { alts, negated } => {
                // An empty alternative matches anywhere: then no byte can be ruled out.
                let union = |pick: fn(&Vec<ByteClass>) -> Option<&ByteClass>| {
                    alts.iter().fold(ByteClass::EMPTY, |u, a| match pick(a) {
                        Some(c) => u.union(c),
                        None => ByteClass::ANY,
                    })
                };
                let len = alts.first().map_or(0, Vec::len);
                let fixed = (len > 0 && alts.iter().all(|a| a.len() == len))
                    .then(|| {
                        let mut strs: Vec<Vec<u8>> = alts
                            .iter()
                            .map(|a| a.iter().map(ByteClass::single).collect::<Option<_>>())
                            .collect::<Option<_>>()?;
                        strs.sort_unstable();
                        strs.dedup();
                        Some((len, strs.concat().into_boxed_slice()))
                    })
                    .flatten();
                Tok::Alt {
                    alts: alts.iter().map(|a| a.clone().into_boxed_slice()).collect(),
                    negated: *negated,
                    first: union(|a| a.first()),
                    last: union(|a| a.last()),
                    fixed,
                }
            }
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
    // The verifier recurses once per token: a pattern of more tokens than this is not
    // compiled (counted as having no usable atom) rather than risk the stack.
    if toks.len() > MAX_TOKENS {
        return None;
    }
    let before_atom = span(&toks[..atom_tok.min(toks.len())]);
    let mut compiled = Compiled {
        toks: toks.into(),
        lits: lits.into(),
        atom_tok,
        offset,
        fullword,
        matches_text: false,
        before_atom,
        exact_in_big_pe: false,
    };
    compiled.matches_text = compiled.can_match_text();
    Some((compiled, atom))
}

/// The fewest and most bytes (None: unbounded) a run of tokens matches.
fn span(toks: &[Tok]) -> (u64, Option<u64>) {
    let (mut lo, mut hi) = (0u64, Some(0u64));
    for t in toks {
        let (a, b) = match t {
            Tok::Lit { len, .. } => (u64::from(*len), Some(u64::from(*len))),
            Tok::Seq(c) => (c.len() as u64, Some(c.len() as u64)),
            Tok::Alt { alts, .. } => (
                alts.iter().map(|a| a.len() as u64).min().unwrap_or(0),
                Some(alts.iter().map(|a| a.len() as u64).max().unwrap_or(0)),
            ),
            Tok::Gap { min, max } => (*min as u64, max.map(|m| m as u64)),
            Tok::AssertLeft(_) | Tok::AssertRight(_) => (0, Some(0)),
            // A marker inside consumes a line end (one or two bytes) or a boundary byte.
            Tok::Special(_) => (0, Some(2)),
        };
        lo = lo.saturating_add(a);
        hi = match (hi, b) {
            (Some(h), Some(b)) => h.checked_add(b),
            _ => None,
        };
    }
    (lo, hi)
}

/// `len` bytes at `at` of `lits` (empty if out of range, which compiling never produces).
pub(crate) fn lit(lits: &[u8], at: u32, len: u32) -> &[u8] {
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
            Tok::Alt { alts, negated, .. } => {
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
    /// A subsignature of logical signature `lsig` (its slot lists the pattern).
    Sub { lsig: u32 },
}

/// A pattern and the signatures it belongs to: identical patterns (same tokens, offset and
/// modifiers) of several signatures are compiled, indexed and verified once, and their
/// subsignature match counts kept once, so a subsignature shared by thousands of logical
/// signatures costs one verification per hit.
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    pub compiled: Compiled,
    pub owners: Vec<Owner>,
    /// Target type: 0 applies to every file; 7 only to normalised text; the others only to
    /// files of that type.
    pub target: u8,
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::AtomIndex;
    use crate::verify::{verify, Memo};
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
        let mut memo = Memo::default();
        memo.start(c.toks.len(), data.len());
        idx.find(data, |_, pos| {
            if !found
                && verify(
                    &c,
                    data,
                    pos,
                    detente_sigs::Frame::Plain(data.len() as u64),
                    &mut memo,
                )
                .is_some()
            {
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
