//! The ClamAV hex-signature language, parsed into a flat list of [`Token`]s.
//!
//! Grammar (ClamAV "Creating signatures", body-based signature content):
//! hex byte pairs; `??` any byte; `a?` / `?a` nibble wildcards; `*` any number of bytes;
//! `{n}`, `{-n}`, `{n-}`, `{n-m}` bounded jumps; `(aa|bb)` alternatives, also multi-byte
//! and of different lengths; `!(aa|bb)` negated alternatives (same length); `[n-m]` short
//! jumps next to a single anchor byte; `(B)` word boundary and `(L)` line boundary.

use crate::{hex_val as nibble, number, ParseErrorKind, HEX};

/// A set of byte values, one bit per value.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ByteClass([u64; 4]);

impl std::fmt::Debug for ByteClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(b) = self.single() {
            write!(f, "{b:02x}")
        } else {
            write!(f, "[{} values]", self.len())
        }
    }
}

impl ByteClass {
    /// The empty set.
    pub const EMPTY: ByteClass = ByteClass([0; 4]);
    /// Every byte value.
    pub const ANY: ByteClass = ByteClass([u64::MAX; 4]);

    /// The set holding only `b`.
    #[inline]
    pub fn byte(b: u8) -> Self {
        // A table (8 KiB): computing the set costs a branch on the word the bit falls in,
        // mispredicted at every other byte of random data, or a stalled store forward when the
        // word is written through an index and the whole set read back.
        SINGLE_BYTE[b as usize]
    }

    /// Every byte `x` with `x & mask == value & mask`.
    pub fn masked(value: u8, mask: u8) -> Self {
        let mut c = Self::EMPTY;
        for x in 0..=255u8 {
            if x & mask == value & mask {
                c.insert(x);
            }
        }
        c
    }

    /// Adds `b` to the set.
    pub fn insert(&mut self, b: u8) {
        self.0[(b >> 6) as usize] |= 1 << (b & 63);
    }

    /// Whether `b` is in the set.
    #[inline]
    pub fn contains(&self, b: u8) -> bool {
        self.0[(b >> 6) as usize] & (1 << (b & 63)) != 0
    }

    /// Number of values in the set.
    pub fn len(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0 == [0; 4]
    }

    /// The value, if the set holds exactly one.
    pub fn single(&self) -> Option<u8> {
        // Branch-free (the words of random bytes are unpredictable): exactly one word is
        // non-zero and it has one bit set.
        let [a, b, c, d] = self.0;
        let nonzero = (a != 0) as u32 + (b != 0) as u32 + (c != 0) as u32 + (d != 0) as u32;
        let multi = (a & a.wrapping_sub(1))
            | (b & b.wrapping_sub(1))
            | (c & c.wrapping_sub(1))
            | (d & d.wrapping_sub(1));
        if nonzero != 1 || multi != 0 {
            return None;
        }
        let base = (b != 0) as u32 * 64 + (c != 0) as u32 * 128 + (d != 0) as u32 * 192;
        Some((base + (a | b | c | d).trailing_zeros()) as u8)
    }

    /// Union of two sets.
    pub fn union(&self, other: &ByteClass) -> ByteClass {
        let mut c = *self;
        for i in 0..4 {
            c.0[i] |= other.0[i];
        }
        c
    }

    /// Every value not in the set.
    pub fn complement(&self) -> ByteClass {
        let mut c = *self;
        for w in c.0.iter_mut() {
            *w = !*w;
        }
        c
    }

    /// Adds the other ASCII case of every letter in the set.
    pub fn fold_case(&self) -> ByteClass {
        let mut c = *self;
        for b in 0..=255u8 {
            if self.contains(b) && b.is_ascii_alphabetic() {
                c.insert(b.to_ascii_lowercase());
                c.insert(b.to_ascii_uppercase());
            }
        }
        c
    }

    /// The values in the set, in ascending order.
    pub fn values(&self) -> impl Iterator<Item = u8> + '_ {
        self.0.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros();
                w &= w - 1;
                Some((i as u32 * 64 + b) as u8)
            })
        })
    }
}

/// [`ByteClass::byte`] for every byte value.
static SINGLE_BYTE: [ByteClass; 256] = {
    let mut t = [ByteClass::EMPTY; 256];
    let mut b = 0;
    while b < 256 {
        t[b].0[b >> 6] = 1 << (b & 63);
        b += 1;
    }
    t
};

/// A character-class marker. At the start or end of a signature it is a zero-width check of
/// the neighbouring byte; in the middle it matches one (for `(L)`, one or two) bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Boundary {
    /// `(B)`: a word boundary (space, punctuation such as `-./_<>=@"'`, line breaks, or the
    /// start/end of data).
    Word,
    /// `(L)`: a line boundary (LF, CRLF, or the start/end of data).
    Line,
    /// `(W)`: a non-alphanumeric byte.
    NonAlnum,
}

/// One element of a parsed hex signature.
// An eight-byte tag keeps the payload aligned: with a one-byte tag, a token built and then
// moved into a vector was copied from bytes 1..40 of a stack temporary, a misaligned load
// over earlier stores that cannot be forwarded (a stall on every byte of a pattern).
#[derive(Clone, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Token {
    /// One byte from a set (exact bytes, `??`, nibbles, single-byte alternatives).
    Class(ByteClass),
    /// Alternative byte sequences; `negated` means none of them may match (all of equal length).
    Alt {
        /// The alternatives.
        alts: Vec<Vec<ByteClass>>,
        /// `!(..)`: the bytes here must match none of the alternatives.
        negated: bool,
    },
    /// A jump over `min..=max` arbitrary bytes (`max` None: unbounded, `*`).
    Gap {
        /// Fewest bytes skipped.
        min: u32,
        /// Most bytes skipped, None for no limit.
        max: Option<u32>,
    },
    /// A zero-width assertion.
    Boundary(Boundary),
}

/// A parsed hex signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HexPattern {
    /// The elements, in order.
    pub tokens: Vec<Token>,
}

/// Largest jump accepted in `{n}` forms, to keep matching bounded.
pub const MAX_JUMP: u32 = 1 << 24;

/// Parses one hex pair or wildcard pair at `s[i..i+2]`.
fn byte_class(s: &[u8], i: usize) -> Result<ByteClass, ParseErrorKind> {
    let (a, b) = match (s.get(i), s.get(i + 1)) {
        (Some(&a), Some(&b)) => (a, b),
        _ => {
            return Err(ParseErrorKind::Hex(format!(
                "odd number of hex digits at position {i}"
            )))
        }
    };
    match (a, b) {
        (b'?', b'?') => Ok(ByteClass::ANY),
        (b'?', _) => {
            let lo = nibble(b).ok_or_else(|| bad_char(b, i + 1))?;
            Ok(ByteClass::masked(lo, 0x0f))
        }
        (_, b'?') => {
            let hi = nibble(a).ok_or_else(|| bad_char(a, i))?;
            Ok(ByteClass::masked(hi << 4, 0xf0))
        }
        _ => {
            let hi = nibble(a).ok_or_else(|| bad_char(a, i))?;
            let lo = nibble(b).ok_or_else(|| bad_char(b, i + 1))?;
            Ok(ByteClass::byte(hi << 4 | lo))
        }
    }
}

fn bad_char(c: u8, i: usize) -> ParseErrorKind {
    ParseErrorKind::Hex(format!(
        "unexpected character {:?} at position {i}",
        char::from(c)
    ))
}

fn parse_num(s: &str, what: &str) -> Result<u32, ParseErrorKind> {
    let n = number(s).ok_or_else(|| ParseErrorKind::Hex(format!("bad number {s:?} in {what}")))?;
    if n > MAX_JUMP as u64 {
        return Err(ParseErrorKind::Hex(format!(
            "jump {n} in {what} is larger than {MAX_JUMP}"
        )));
    }
    Ok(n as u32)
}

/// Parses `n`, `-n`, `n-`, `n-m` (the inside of `{..}` or `[..]`).
fn parse_range(inner: &str) -> Result<(u32, Option<u32>), ParseErrorKind> {
    let what = "jump";
    match inner.split_once('-') {
        None => {
            let n = parse_num(inner, what)?;
            Ok((n, Some(n)))
        }
        Some(("", m)) => Ok((0, Some(parse_num(m, what)?))),
        Some((n, "")) => Ok((parse_num(n, what)?, None)),
        Some((n, m)) => {
            let (n, m) = (parse_num(n, what)?, parse_num(m, what)?);
            if n > m {
                return Err(ParseErrorKind::Hex(format!(
                    "jump {{{n}-{m}}} has min > max"
                )));
            }
            Ok((n, Some(m)))
        }
    }
}

/// Parses the alternatives inside `( .. )`.
fn parse_alts(inner: &str) -> Result<Vec<Vec<ByteClass>>, ParseErrorKind> {
    let mut alts = Vec::new();
    for part in inner.split('|') {
        let b = part.as_bytes();
        if b.is_empty() {
            return Err(ParseErrorKind::Hex("empty alternative".into()));
        }
        let mut seq = Vec::with_capacity(b.len() / 2);
        let mut i = 0;
        while i < b.len() {
            seq.push(byte_class(b, i)?);
            i += 2;
        }
        alts.push(seq);
    }
    if alts.len() < 2 && inner.contains('|') {
        return Err(ParseErrorKind::Hex("alternation needs alternatives".into()));
    }
    Ok(alts)
}

/// Parses a hex signature.
pub fn parse_hex(sig: &str) -> Result<HexPattern, ParseErrorKind> {
    let mut tokens = Vec::new();
    parse_hex_into(sig, &mut tokens)?;
    Ok(HexPattern { tokens })
}

/// Parses a hex signature into `tokens` (cleared first), so that a caller parsing many
/// signatures reuses one buffer.
pub fn parse_hex_into(sig: &str, tokens: &mut Vec<Token>) -> Result<(), ParseErrorKind> {
    tokens.clear();
    let s = sig.as_bytes();
    if s.is_empty() {
        return Err(ParseErrorKind::Hex("empty signature".into()));
    }
    // Most tokens are two characters long.
    tokens.reserve(s.len() / 2 + 1);
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'*' => {
                tokens.push(Token::Gap { min: 0, max: None });
                i += 1;
            }
            b'{' | b'[' => {
                let close = if s[i] == b'{' { '}' } else { ']' };
                let end = sig[i..]
                    .find(close)
                    .ok_or_else(|| ParseErrorKind::Hex(format!("unclosed jump at position {i}")))?;
                let (min, max) = parse_range(&sig[i + 1..i + end])?;
                if s[i] == b'[' && max.is_none() {
                    return Err(ParseErrorKind::Hex("[n-] jump needs a maximum".into()));
                }
                tokens.push(Token::Gap { min, max });
                i += end + 1;
            }
            b'!' | b'(' => {
                let negated = s[i] == b'!';
                let open = if negated { i + 1 } else { i };
                if s.get(open) != Some(&b'(') {
                    return Err(ParseErrorKind::Hex(format!(
                        "'!' not followed by '(' at {i}"
                    )));
                }
                let end = sig[open..].find(')').ok_or_else(|| {
                    ParseErrorKind::Hex(format!("unclosed '(' at position {open}"))
                })?;
                let inner = &sig[open + 1..open + end];
                i = open + end + 1;
                match inner {
                    "B" if !negated => {
                        tokens.push(Token::Boundary(Boundary::Word));
                        continue;
                    }
                    "L" if !negated => {
                        tokens.push(Token::Boundary(Boundary::Line));
                        continue;
                    }
                    "W" if !negated => {
                        tokens.push(Token::Boundary(Boundary::NonAlnum));
                        continue;
                    }
                    _ => {}
                }
                let alts = parse_alts(inner)?;
                let all_single = alts.iter().all(|a| a.len() == 1);
                if all_single {
                    let mut c = alts
                        .iter()
                        .fold(ByteClass::EMPTY, |acc, a| acc.union(&a[0]));
                    if negated {
                        c = c.complement();
                    }
                    if c.is_empty() {
                        return Err(ParseErrorKind::Hex("alternation matches no byte".into()));
                    }
                    tokens.push(Token::Class(c));
                } else {
                    if negated && alts.iter().any(|a| a.len() != alts[0].len()) {
                        return Err(ParseErrorKind::Hex(
                            "negated alternatives must have equal lengths".into(),
                        ));
                    }
                    tokens.push(Token::Alt { alts, negated });
                }
            }
            _ => {
                // The common case, a run of hex-digit pairs, is decoded in one pass straight
                // into the buffer (a token built and then pushed goes through the stack).
                let digits = s[i..]
                    .iter()
                    .position(|&c| HEX[c as usize] & 0x80 != 0)
                    .unwrap_or(s.len() - i);
                let pairs = &s[i..i + (digits & !1)];
                if pairs.is_empty() {
                    tokens.push(Token::Class(byte_class(s, i)?));
                    i += 2;
                } else {
                    tokens.extend(pairs.chunks_exact(2).map(|p| {
                        let (hi, lo) = (HEX[p[0] as usize], HEX[p[1] as usize]);
                        Token::Class(ByteClass::byte(hi << 4 | lo))
                    }));
                    i += pairs.len();
                }
            }
        }
    }
    // Normalise: merge adjacent gaps, reject a leading or trailing jump (ClamAV refuses them).
    if tokens
        .windows(2)
        .any(|w| matches!(w, [Token::Gap { .. }, Token::Gap { .. }]))
    {
        tokens.dedup_by(|t, prev| {
            if let (Token::Gap { min, max }, Token::Gap { min: pm, max: px }) = (t, prev) {
                *pm = pm.saturating_add(*min);
                *px = match (*px, *max) {
                    (Some(a), Some(b)) => Some(a.saturating_add(b)),
                    _ => None,
                };
                true
            } else {
                false
            }
        });
    }
    match (tokens.first(), tokens.last()) {
        (Some(Token::Gap { .. }), _) | (_, Some(Token::Gap { .. })) => {
            return Err(ParseErrorKind::Hex(
                "signature may not start or end with a jump".into(),
            ))
        }
        _ => {}
    }
    if longest_static_run(tokens) < 2 {
        return Err(ParseErrorKind::Hex(
            "signature needs at least two consecutive fixed bytes".into(),
        ));
    }
    Ok(())
}

/// Length of the longest run of consecutive single-valued bytes in `tokens`.
fn longest_static_run(tokens: &[Token]) -> usize {
    let mut best = 0;
    let mut cur = 0;
    for t in tokens {
        match t {
            Token::Class(c) if c.single().is_some() => {
                cur += 1;
                best = best.max(cur);
            }
            _ => cur = 0,
        }
    }
    best
}

impl HexPattern {
    /// Length of the longest run of consecutive single-valued bytes.
    pub fn longest_static_run(&self) -> usize {
        longest_static_run(&self.tokens)
    }

    /// The pattern with every byte followed by a 0x00 byte (UTF-16LE "wide" form).
    pub fn widened(&self) -> HexPattern {
        let zero = ByteClass::byte(0);
        let widen =
            |seq: &[ByteClass]| -> Vec<ByteClass> { seq.iter().flat_map(|c| [*c, zero]).collect() };
        let tokens = self
            .tokens
            .iter()
            .flat_map(|t| match t {
                Token::Class(c) => vec![Token::Class(*c), Token::Class(zero)],
                Token::Alt { alts, negated } => vec![Token::Alt {
                    alts: alts.iter().map(|a| widen(a)).collect(),
                    negated: *negated,
                }],
                Token::Gap { min, max } => vec![Token::Gap {
                    min: min.saturating_mul(2),
                    max: max.map(|m| m.saturating_mul(2)),
                }],
                Token::Boundary(b) => vec![Token::Boundary(*b)],
            })
            .collect();
        HexPattern { tokens }
    }

    /// The pattern matching ASCII letters in either case.
    pub fn case_folded(&self) -> HexPattern {
        let tokens = self
            .tokens
            .iter()
            .map(|t| match t {
                Token::Class(c) => Token::Class(c.fold_case()),
                Token::Alt { alts, negated } => Token::Alt {
                    alts: alts
                        .iter()
                        .map(|a| a.iter().map(|c| c.fold_case()).collect())
                        .collect(),
                    negated: *negated,
                },
                other => other.clone(),
            })
            .collect();
        HexPattern { tokens }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_construct() {
        let p = parse_hex("4142??4?{2}?5*(61|62)(6364|65)!(66|67){-3}{4-}{2-5}4344(B)(L)").unwrap();
        assert_eq!(p.tokens.len(), 15);
        assert_eq!(p.tokens[0], Token::Class(ByteClass::byte(0x41)));
        assert_eq!(p.tokens[2], Token::Class(ByteClass::ANY));
        assert_eq!(
            p.tokens[3].clone(),
            Token::Class(ByteClass::masked(0x40, 0xf0))
        );
        assert_eq!(
            p.tokens[4],
            Token::Gap {
                min: 2,
                max: Some(2)
            }
        );
        assert_eq!(p.tokens[6], Token::Gap { min: 0, max: None });
        match &p.tokens[9] {
            Token::Class(c) => assert!(!c.contains(0x66) && c.contains(0x68) && c.len() == 254),
            t => panic!("{t:?}"),
        }
        // {-3}{4-}{2-5} merge into one unbounded jump of at least 6
        assert_eq!(p.tokens[10], Token::Gap { min: 6, max: None });
    }

    #[test]
    fn runs_of_digits_end_at_wildcards() {
        // A run of hex digits of odd length leaves its last digit to the nibble that follows.
        let p = parse_hex("4142a?43?b4445").unwrap();
        let want = [
            ByteClass::byte(0x41),
            ByteClass::byte(0x42),
            ByteClass::masked(0xa0, 0xf0),
            ByteClass::byte(0x43),
            ByteClass::masked(0x0b, 0x0f),
            ByteClass::byte(0x44),
            ByteClass::byte(0x45),
        ];
        assert_eq!(p.tokens, want.map(Token::Class));
        let mut reused = vec![Token::Gap { min: 1, max: None }];
        parse_hex_into("4142", &mut reused).unwrap();
        assert_eq!(
            reused,
            [0x41, 0x42].map(|b| Token::Class(ByteClass::byte(b)))
        );
        for b in 0..=255u8 {
            assert_eq!(ByteClass::byte(b).single(), Some(b));
            assert_eq!(ByteClass::byte(b), ByteClass::masked(b, 0xff));
        }
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "4",
            "41zz",
            "4142{",
            "4142{5-2}",
            "*4142",
            "4142*",
            "41(42",
            "41??",
            "!(4142|43)4142",
            "4142{99999999999}43",
            "4142{+5}4344",
            "41424",
            "4142x3",
        ] {
            assert!(parse_hex(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn wide_and_nocase() {
        let p = parse_hex("4142").unwrap();
        assert_eq!(p.widened().tokens.len(), 4);
        match &p.case_folded().tokens[0] {
            Token::Class(c) => assert!(c.contains(b'a') && c.contains(b'A')),
            t => panic!("{t:?}"),
        }
    }
}
