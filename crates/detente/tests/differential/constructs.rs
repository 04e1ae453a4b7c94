//! One generator of hex-pattern constructs, rendered in both ClamAV's and YARA's syntax, so
//! the two differential suites exercise the same constructs with the same semantics.
//!
//! [`generate`] cuts a window of a sample into a pattern that uses one construct once, near
//! the middle, and a decoy of the same shape that must not match the window. A [`Pat`] is a
//! list of [`Piece`]s; [`Pat::clamav`] and [`Pat::yara`] render it (YARA 4.2 has no negated
//! alternatives, so those constructs render for ClamAV only).

use std::fmt::Write as _;

use crate::rng::{hex, yhex, Rng};

/// One element of a generated pattern.
#[derive(Clone, Debug)]
pub enum Piece {
    /// Exact bytes.
    Bytes(Vec<u8>),
    /// Any one byte.
    Any,
    /// A byte whose high nibble is this value.
    NibHi(u8),
    /// A byte whose low nibble is this value.
    NibLo(u8),
    /// A jump of `min..=max` bytes (`max` None: unbounded).
    Jump { min: usize, max: Option<usize> },
    /// One of these byte strings.
    Alt(Vec<Vec<u8>>),
    /// A string of the alternatives' length that is none of them.
    Neg(Vec<Vec<u8>>),
}

/// A generated pattern.
#[derive(Clone, Debug)]
pub struct Pat(pub Vec<Piece>);

impl Pat {
    /// ClamAV hex-signature syntax (`.ndb` body, `.ldb` subsignature).
    pub fn clamav(&self) -> String {
        let mut s = String::new();
        for p in &self.0 {
            match p {
                Piece::Bytes(b) => s.push_str(&hex(b)),
                Piece::Any => s.push_str("??"),
                Piece::NibHi(n) => write!(s, "{n:x}?").unwrap(),
                Piece::NibLo(n) => write!(s, "?{n:x}").unwrap(),
                Piece::Jump { min: 0, max: None } => s.push('*'),
                Piece::Jump { min, max: None } => write!(s, "{{{min}-}}").unwrap(),
                Piece::Jump {
                    min: 0,
                    max: Some(m),
                } => write!(s, "{{-{m}}}").unwrap(),
                Piece::Jump { min, max: Some(m) } if min == m => write!(s, "{{{m}}}").unwrap(),
                Piece::Jump { min, max: Some(m) } => write!(s, "{{{min}-{m}}}").unwrap(),
                Piece::Alt(a) => write!(s, "({})", alts(a)).unwrap(),
                Piece::Neg(a) => write!(s, "!({})", alts(a)).unwrap(),
            }
        }
        s
    }

    /// YARA hex-string syntax (inside `{ }`); None for constructs YARA 4.2 lacks.
    pub fn yara(&self) -> Option<String> {
        let mut v: Vec<String> = Vec::new();
        for p in &self.0 {
            v.push(match p {
                Piece::Bytes(b) => yhex(b),
                Piece::Any => "??".into(),
                Piece::NibHi(n) => format!("{n:X}?"),
                Piece::NibLo(n) => format!("?{n:X}"),
                Piece::Jump { min: 0, max: None } => "[-]".into(),
                Piece::Jump { min, max: None } => format!("[{min}-]"),
                Piece::Jump { min, max: Some(m) } if min == m => format!("[{m}]"),
                Piece::Jump { min, max: Some(m) } => format!("[{min}-{m}]"),
                Piece::Alt(a) => format!(
                    "( {} )",
                    a.iter().map(|x| yhex(x)).collect::<Vec<_>>().join(" | ")
                ),
                Piece::Neg(_) => return None,
            });
        }
        Some(v.join(" "))
    }
}

fn alts(v: &[Vec<u8>]) -> String {
    v.iter().map(|x| hex(x)).collect::<Vec<_>>().join("|")
}

/// A construct of the hex-pattern language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Construct {
    Lit,
    AnyByte,
    NibHi,
    NibLo,
    Star,
    JumpExact,
    JumpAtMost,
    JumpAtLeast,
    JumpRange,
    Alt,
    AltMulti,
    AltVarLen,
    Neg,
    NegMulti,
}

/// Every construct: the ClamAV suites use them all.
pub const CONSTRUCTS: [Construct; 14] = [
    Construct::Lit,
    Construct::AnyByte,
    Construct::NibHi,
    Construct::NibLo,
    Construct::Star,
    Construct::JumpExact,
    Construct::JumpAtMost,
    Construct::JumpAtLeast,
    Construct::JumpRange,
    Construct::Alt,
    Construct::AltMulti,
    Construct::AltVarLen,
    Construct::Neg,
    Construct::NegMulti,
];

/// The constructs YARA 4.2 can express: all but the negated alternatives, which come last in
/// [`CONSTRUCTS`].
pub const YARA_CONSTRUCTS: &[Construct] = CONSTRUCTS.split_at(12).0;

impl Construct {
    /// Lower-case name, for signature and rule names.
    pub fn name(self) -> String {
        format!("{self:?}").to_lowercase()
    }
}

/// A pattern for window `w` (at least 30 bytes) using construct `c` once, after a literal
/// prefix of 8 to 14 bytes: (positive, which matches exactly `w`; decoy, of the same shape,
/// which must not match `w`).
pub fn generate(rng: &mut Rng, c: Construct, w: &[u8]) -> (Pat, Pat) {
    assert!(w.len() >= 30, "window of {} bytes", w.len());
    let p = rng.range(8, 14);
    let pre = || Piece::Bytes(w[..p].to_vec());
    let flip = |b: &[u8], i: usize| {
        let mut v = b.to_vec();
        v[i] ^= 0x5a;
        Piece::Bytes(v)
    };
    let bytes = |b: &[u8]| Piece::Bytes(b.to_vec());
    let jump = |min, max| Piece::Jump { min, max };
    let (pos, dec) = match c {
        Construct::Lit => (vec![bytes(w)], vec![flip(w, p)]),
        Construct::AnyByte => {
            let post = &w[p + 2..];
            (
                vec![pre(), Piece::Any, Piece::Any, bytes(post)],
                vec![pre(), Piece::Any, Piece::Any, flip(post, 3)],
            )
        }
        Construct::NibHi => {
            let n = w[p] >> 4;
            let post = bytes(&w[p + 1..]);
            (
                vec![pre(), Piece::NibHi(n), post.clone()],
                vec![pre(), Piece::NibHi(n ^ 8), post],
            )
        }
        Construct::NibLo => {
            let n = w[p] & 0xf;
            let post = bytes(&w[p + 1..]);
            (
                vec![pre(), Piece::NibLo(n), post.clone()],
                vec![pre(), Piece::NibLo(n ^ 8), post],
            )
        }
        Construct::Star => {
            let k = rng.range(0, 8);
            let post = &w[p + k..];
            // The decoy's tail is the window's with one byte changed: an unbounded jump could
            // otherwise reach a later copy of the window's own bytes.
            (
                vec![pre(), jump(0, None), bytes(post)],
                vec![pre(), jump(0, None), flip(post, post.len() / 2)],
            )
        }
        Construct::JumpExact => {
            let k = rng.range(1, 8);
            let post = bytes(&w[p + k..]);
            (
                vec![pre(), jump(k, Some(k)), post.clone()],
                vec![pre(), jump(k + 1, Some(k + 1)), post],
            )
        }
        Construct::JumpAtMost => {
            let k = rng.range(2, 8);
            let m = k + rng.range(0, 3);
            let post = bytes(&w[p + k..]);
            (
                vec![pre(), jump(0, Some(m)), post.clone()],
                vec![pre(), jump(0, Some(k - 1)), post],
            )
        }
        Construct::JumpAtLeast => {
            let k = rng.range(2, 8);
            let j = rng.range(1, k);
            let post = &w[p + k..];
            (
                vec![pre(), jump(j, None), bytes(post)],
                vec![pre(), jump(j, None), flip(post, post.len() / 2)],
            )
        }
        Construct::JumpRange => {
            let k = rng.range(2, 8);
            let j = rng.range(1, k);
            let m = k + rng.range(0, 4);
            let post = bytes(&w[p + k..]);
            let decoy = if rng.below(2) == 0 {
                jump(rng.range(1, k - 1), Some(k - 1))
            } else {
                let lo = k + 1;
                jump(lo, Some(lo + rng.range(0, 4)))
            };
            (
                vec![pre(), jump(j, Some(m)), post.clone()],
                vec![pre(), decoy, post],
            )
        }
        Construct::Alt => {
            let b = w[p];
            let o1 = rng.byte_not_in(&[b]);
            let o2 = rng.byte_not_in(&[b, o1]);
            let mut a = vec![vec![b], vec![o1], vec![o2]];
            rng.shuffle(&mut a);
            let o3 = rng.byte_not_in(&[b, o1, o2]);
            let post = bytes(&w[p + 1..]);
            (
                vec![pre(), Piece::Alt(a), post.clone()],
                vec![pre(), Piece::Alt(vec![vec![o1], vec![o3], vec![o2]]), post],
            )
        }
        Construct::AltMulti => {
            let t = [w[p], w[p + 1]];
            let o1 = rng.pair_not_in(&[t]);
            let o2 = rng.pair_not_in(&[t, o1]);
            let mut a = vec![t.to_vec(), o1.to_vec()];
            rng.shuffle(&mut a);
            let post = bytes(&w[p + 2..]);
            (
                vec![pre(), Piece::Alt(a), post.clone()],
                vec![pre(), Piece::Alt(vec![o2.to_vec(), o1.to_vec()]), post],
            )
        }
        Construct::AltVarLen => {
            let t = [w[p], w[p + 1]];
            let o = rng.byte_not_in(&[t[0]]);
            let o2 = rng.pair_not_in(&[t]);
            let post = bytes(&w[p + 2..]);
            (
                vec![pre(), Piece::Alt(vec![vec![o], t.to_vec()]), post.clone()],
                vec![pre(), Piece::Alt(vec![vec![o], o2.to_vec()]), post],
            )
        }
        Construct::Neg => {
            let b = w[p];
            let o1 = rng.byte_not_in(&[b]);
            let o2 = rng.byte_not_in(&[b, o1]);
            let post = bytes(&w[p + 1..]);
            let mut d = vec![vec![b], vec![o2]];
            rng.shuffle(&mut d);
            (
                vec![pre(), Piece::Neg(vec![vec![o1], vec![o2]]), post.clone()],
                vec![pre(), Piece::Neg(d), post],
            )
        }
        Construct::NegMulti => {
            let t = [w[p], w[p + 1]];
            let o1 = rng.pair_not_in(&[t]);
            let o2 = rng.pair_not_in(&[t, o1]);
            let post = bytes(&w[p + 2..]);
            let mut d = vec![t.to_vec(), o2.to_vec()];
            rng.shuffle(&mut d);
            (
                vec![
                    pre(),
                    Piece::Neg(vec![o1.to_vec(), o2.to_vec()]),
                    post.clone(),
                ],
                vec![pre(), Piece::Neg(d), post],
            )
        }
    };
    (Pat(pos), Pat(dec))
}
