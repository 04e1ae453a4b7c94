//! Verification of a body pattern around one of its atom hits, in time linear in the buffer.
//!
//! A hit is verified by matching the tokens right of the atom forwards and the tokens left of
//! it backwards. The only tokens that branch over positions are jumps (`*`, `{n-m}`, `{n-}`,
//! `[n-m]`). Whether the rest of a pattern matches from a position depends only on the
//! pattern, the buffer and that position, never on the hit that asked: so each jump keeps,
//! for the whole buffer, the interval of target positions already classified and the ones
//! that matched ([`Memo`]). A later hit whose jump lands in that interval asks a binary search,
//! not a new scan. Hits come in ascending order, so the intervals move forward with them, and
//! a position is classified again only after a reset (a jump's window leaving its interval
//! entirely) or a cap (more than [`MAX_KEPT`] matches kept); the step budget bounds the rest. A repeated atom whose partner
//! across `*` is missing thus costs one scan of the buffer, not one per hit.
//!
//! Work is counted in steps. A pattern has a budget per buffer proportional to the buffer's
//! length; reaching it ends that pattern's verification in that buffer and marks the memo
//! exhausted, so the scan reports it was incomplete rather than "no match".

use std::collections::VecDeque;

use detente_sigs::{Boundary, ByteClass, Frame};

use crate::body::{lit, Compiled, Tok};

/// Matched positions a jump keeps (the lowest are dropped first, since hits move forwards).
const MAX_KEPT: usize = 4096;

/// Steps a pattern may take per buffer: a fixed allowance plus this many per byte.
const STEPS_PER_BYTE: u64 = 256;
const STEPS_BASE: u64 = 1 << 22;

/// What one jump has learnt about the buffer.
#[derive(Clone, Debug, Default)]
struct GapCache {
    /// Target positions `lo..hi` are classified.
    lo: usize,
    hi: usize,
    /// The classified positions from which the rest matched, ascending, with the match start
    /// found from there (backward jumps; 0 for forward ones).
    good: VecDeque<(usize, usize)>,
}

impl GapCache {
    fn reset(&mut self, at: usize) {
        self.lo = at;
        self.hi = at;
        self.good.clear();
    }

    /// Drops the lowest matched positions beyond [`MAX_KEPT`], shrinking the interval.
    fn cap(&mut self) {
        if self.good.len() > MAX_KEPT {
            let mut last = 0;
            while self.good.len() > MAX_KEPT / 2 {
                if let Some((p, _)) = self.good.pop_front() {
                    last = p;
                }
            }
            self.lo = last + 1;
        }
    }
}

/// Verification state of one pattern over one buffer, kept across the pattern's hits there.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    gaps: Vec<GapCache>,
    steps: u64,
    budget: u64,
    exhausted: bool,
    live: bool,
}

impl Memo {
    /// Whether the memo has been started for the current buffer.
    pub fn live(&self) -> bool {
        self.live
    }

    /// Starts the memo for a buffer of `len` bytes and a pattern of `ntoks` tokens.
    pub fn start(&mut self, ntoks: usize, len: usize) {
        if self.gaps.len() != ntoks {
            self.gaps = vec![GapCache::default(); ntoks];
        }
        self.steps = 0;
        self.budget = STEPS_BASE + STEPS_PER_BYTE.saturating_mul(len as u64);
        self.exhausted = false;
        self.live = true;
    }

    /// Forgets the buffer (keeping small allocations for the next one).
    pub fn clear(&mut self) {
        for g in &mut self.gaps {
            g.reset(0);
            if g.good.capacity() > 256 {
                g.good = VecDeque::new();
            }
        }
        self.live = false;
        self.exhausted = false;
        self.steps = 0;
    }

    /// Steps taken in this buffer.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Whether the step budget ran out in this buffer.
    pub fn exhausted(&self) -> bool {
        self.exhausted
    }

    /// Sets a budget (tests).
    #[cfg(test)]
    pub fn set_budget(&mut self, b: u64) {
        self.budget = b;
    }
}

pub(crate) fn is_word(b: u8) -> bool {
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

/// Whether `s` is one of the sorted, concatenated strings of length `len` in `set`.
fn in_sorted(set: &[u8], len: usize, s: &[u8]) -> bool {
    let n = set.len() / len.max(1);
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        match set[mid * len..mid * len + len].cmp(s) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// Matches one pattern's tokens over one buffer.
struct Verifier<'a, 'm> {
    data: &'a [u8],
    toks: &'a [Tok],
    lits: &'a [u8],
    memo: &'m mut Memo,
    end_ok: &'a dyn Fn(usize) -> bool,
    start_ok: &'a dyn Fn(usize) -> bool,
}

impl Verifier<'_, '_> {
    /// Counts a step; false once the budget is spent.
    #[inline]
    fn tick(&mut self) -> bool {
        self.memo.steps += 1;
        if self.memo.steps > self.memo.budget {
            self.memo.exhausted = true;
            return false;
        }
        true
    }

    fn class_seq_at(&self, seq: &[ByteClass], pos: usize) -> bool {
        match self.data.get(pos..pos + seq.len()) {
            Some(d) => seq.iter().zip(d).all(|(c, b)| c.contains(*b)),
            None => false,
        }
    }

    /// Zero-width check before a match starting at `pos`.
    fn left_ok(&self, b: Boundary, pos: usize) -> bool {
        let Some(prev) = pos.checked_sub(1).and_then(|i| self.data.get(i).copied()) else {
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

    /// The literal a jump's target position must hold: for a forward jump at `g`, the literal
    /// right after it (starting at the target); for a backward one, the literal right before
    /// it (ending at the target).
    fn neighbour_lit(&self, g: usize, forward: bool) -> Option<&'_ [u8]> {
        let n = if forward { g + 1 } else { g.checked_sub(1)? };
        match self.toks.get(n) {
            Some(&Tok::Lit { at, len }) => Some(lit(self.lits, at, len)),
            _ => None,
        }
    }

    /// The first (`ascending`) or last candidate target in `from..to` for jump `g`: a position
    /// where its neighbouring literal occurs, or any position when it has none.
    fn candidate(
        &self,
        g: usize,
        forward: bool,
        from: usize,
        to: usize,
        ascending: bool,
    ) -> Option<usize> {
        if from >= to {
            return None;
        }
        let Some(l) = self.neighbour_lit(g, forward) else {
            return Some(if ascending { from } else { to - 1 });
        };
        let n = self.data.len();
        let len = l.len();
        if forward {
            // The literal starts at the target q, from <= q < to.
            let hay_end = (to - 1 + len).min(n);
            let hay = self.data.get(from..hay_end)?;
            let off = if ascending {
                memchr::memmem::find(hay, l)
            } else {
                memchr::memmem::rfind(hay, l)
            }?;
            Some(from + off)
        } else {
            // The literal ends at the target q, from <= q < to.
            let s_lo = from.saturating_sub(len);
            let hay_end = (to - 1).min(n);
            let hay = self.data.get(s_lo..hay_end)?;
            let off = if ascending {
                memchr::memmem::find(hay, l)
            } else {
                memchr::memmem::rfind(hay, l)
            }?;
            let q = s_lo + off + len;
            (q >= from && q < to).then_some(q)
        }
    }

    /// Whether tokens `t..` match starting at `pos`, ending where `end_ok` allows.
    fn fwd(&mut self, t: usize, pos: usize) -> bool {
        if !self.tick() {
            return false;
        }
        let Some(tok) = self.toks.get(t) else {
            return (self.end_ok)(pos);
        };
        match tok {
            &Tok::Lit { at, len } => {
                let l = lit(self.lits, at, len);
                self.data.get(pos..pos + l.len()) == Some(l) && self.fwd(t + 1, pos + l.len())
            }
            Tok::Seq(s) => self.class_seq_at(s, pos) && self.fwd(t + 1, pos + s.len()),
            Tok::AssertLeft(_) => self.fwd(t + 1, pos),
            Tok::AssertRight(b) => self.right_ok(*b, pos) && self.fwd(t + 1, pos),
            Tok::Special(b) => match self.special_at(*b, pos) {
                Some(l) => self.fwd(t + 1, pos + l),
                None => false,
            },
            Tok::Alt {
                alts,
                negated,
                first,
                fixed,
                ..
            } => {
                if let Some((len, set)) = fixed {
                    let Some(s) = self.data.get(pos..pos + len) else {
                        return false;
                    };
                    return in_sorted(set, *len, s) != *negated && self.fwd(t + 1, pos + len);
                }
                if *negated {
                    let l = alts.first().map_or(0, |a| a.len());
                    pos + l <= self.data.len()
                        && !alts.iter().any(|a| self.class_seq_at(a, pos))
                        && self.fwd(t + 1, pos + l)
                } else {
                    if !self.data.get(pos).is_some_and(|b| first.contains(*b)) {
                        return false;
                    }
                    for a in alts.iter() {
                        if self.class_seq_at(a, pos) && self.fwd(t + 1, pos + a.len()) {
                            return true;
                        }
                    }
                    false
                }
            }
            &Tok::Gap { min, max } => {
                let n = self.data.len();
                let lo = pos.saturating_add(min);
                if lo > n {
                    return false;
                }
                let hi = max.map_or(n, |m| pos.saturating_add(m).min(n));
                self.gap_fwd(t, lo, hi)
            }
        }
    }

    /// Whether tokens after jump `g` match from some target in `lo..=hi`.
    fn gap_fwd(&mut self, g: usize, lo: usize, hi: usize) -> bool {
        {
            let c = &mut self.memo.gaps[g];
            if c.lo == c.hi || lo > c.hi || hi + 1 < c.lo {
                c.reset(lo);
            }
        }
        // Below the interval: classify every target down to `lo`.
        let mut below = Vec::new();
        let mut top = self.memo.gaps[g].lo;
        while top > lo {
            let Some(q) = self.candidate(g, true, lo, top, false) else {
                break;
            };
            if self.fwd(g + 1, q) {
                below.push((q, 0));
            }
            if self.memo.exhausted {
                return false;
            }
            top = q;
        }
        {
            let c = &mut self.memo.gaps[g];
            if c.lo > lo {
                c.lo = lo;
                // Every target classified here lies in the window: decide before capping,
                // which may drop the lowest entries.
                let hit = !below.is_empty();
                for e in below {
                    c.good.push_front(e);
                }
                c.cap();
                if hit {
                    return true;
                }
            }
            let i = c.good.partition_point(|&(p, _)| p < lo);
            if let Some(&(p, _)) = c.good.get(i) {
                if p <= hi && p >= c.lo {
                    return true;
                }
            }
        }
        // Above the interval: classify upwards until one matches.
        loop {
            let from = self.memo.gaps[g].hi;
            if from > hi {
                return false;
            }
            let Some(q) = self.candidate(g, true, from, hi + 1, true) else {
                self.memo.gaps[g].hi = hi + 1;
                return false;
            };
            let ok = self.fwd(g + 1, q);
            if self.memo.exhausted {
                return false;
            }
            let c = &mut self.memo.gaps[g];
            c.hi = q + 1;
            if ok {
                c.good.push_back((q, 0));
                c.cap();
                return true;
            }
        }
    }

    /// A start such that tokens `..t` match ending at `end` and `start_ok` holds.
    fn bwd(&mut self, t: usize, end: usize) -> Option<usize> {
        if !self.tick() {
            return None;
        }
        if t == 0 {
            return (self.start_ok)(end).then_some(end);
        }
        match self.toks.get(t - 1)? {
            &Tok::Lit { at, len } => {
                let l = lit(self.lits, at, len);
                let s = end.checked_sub(l.len())?;
                if self.data.get(s..end)? == l {
                    self.bwd(t - 1, s)
                } else {
                    None
                }
            }
            Tok::Seq(seq) => {
                let s = end.checked_sub(seq.len())?;
                if self.class_seq_at(seq, s) {
                    self.bwd(t - 1, s)
                } else {
                    None
                }
            }
            Tok::AssertLeft(b) => {
                if self.left_ok(*b, end) {
                    self.bwd(t - 1, end)
                } else {
                    None
                }
            }
            Tok::AssertRight(_) => self.bwd(t - 1, end),
            Tok::Special(b) => {
                for l in [1usize, 2] {
                    if let Some(s) = end.checked_sub(l) {
                        if self.special_at(*b, s) == Some(l) {
                            if let Some(r) = self.bwd(t - 1, s) {
                                return Some(r);
                            }
                        }
                    }
                }
                None
            }
            Tok::Alt {
                alts,
                negated,
                last,
                fixed,
                ..
            } => {
                if let Some((len, set)) = fixed {
                    let s = end.checked_sub(*len)?;
                    return if in_sorted(set, *len, self.data.get(s..end)?) != *negated {
                        self.bwd(t - 1, s)
                    } else {
                        None
                    };
                }
                if *negated {
                    let s = end.checked_sub(alts.first().map_or(0, |a| a.len()))?;
                    if alts.iter().any(|a| self.class_seq_at(a, s)) {
                        None
                    } else {
                        self.bwd(t - 1, s)
                    }
                } else {
                    let prev = end.checked_sub(1).and_then(|i| self.data.get(i));
                    if !prev.is_some_and(|b| last.contains(*b)) {
                        return None;
                    }
                    for a in alts.iter() {
                        if let Some(s) = end.checked_sub(a.len()) {
                            if self.class_seq_at(a, s) {
                                if let Some(r) = self.bwd(t - 1, s) {
                                    return Some(r);
                                }
                            }
                        }
                    }
                    None
                }
            }
            &Tok::Gap { min, max } => {
                let hi = end.checked_sub(min)?;
                let lo = max.map_or(0, |m| end.saturating_sub(m));
                self.gap_bwd(t - 1, lo, hi)
            }
        }
    }

    /// The match start from the highest target in `lo..=hi` from which the tokens before
    /// jump `g` match backwards.
    fn gap_bwd(&mut self, g: usize, lo: usize, hi: usize) -> Option<usize> {
        {
            let c = &mut self.memo.gaps[g];
            if c.lo == c.hi || lo > c.hi || hi + 1 < c.lo {
                c.reset(hi + 1);
            }
        }
        // Above the interval: classify every target up to `hi`.
        let mut from = self.memo.gaps[g].hi;
        let mut above = Vec::new();
        while from <= hi {
            let Some(q) = self.candidate(g, false, from, hi + 1, true) else {
                break;
            };
            if let Some(s) = self.bwd(g, q) {
                above.push((q, s));
            }
            if self.memo.exhausted {
                return None;
            }
            from = q + 1;
        }
        {
            let c = &mut self.memo.gaps[g];
            if c.hi <= hi {
                c.hi = hi + 1;
                c.good.extend(above);
                c.cap();
            }
            let i = c.good.partition_point(|&(p, _)| p <= hi);
            if let Some(&(p, s)) = i.checked_sub(1).and_then(|i| c.good.get(i)) {
                if p >= lo {
                    return Some(s);
                }
            }
        }
        // Below the interval: classify downwards until one matches.
        loop {
            let to = self.memo.gaps[g].lo;
            if to <= lo {
                return None;
            }
            let Some(q) = self.candidate(g, false, lo, to, false) else {
                self.memo.gaps[g].lo = lo;
                return None;
            };
            let r = self.bwd(g, q);
            if self.memo.exhausted {
                return None;
            }
            let c = &mut self.memo.gaps[g];
            c.lo = q;
            if let Some(s) = r {
                c.good.push_front((q, s));
                c.cap();
                return Some(s);
            }
        }
    }
}

/// Verifies pattern `c` with its atom at `pos`; returns the match start.
///
/// `frame` is what the pattern's offset counts from (the file's size, its executable
/// layout).
/// `memo` must have been started for this pattern and buffer ([`Memo::start`]); when its
/// budget runs out the answer is None and [`Memo::exhausted`] says so.
pub(crate) fn verify(
    c: &Compiled,
    data: &[u8],
    pos: usize,
    frame: Frame<'_>,
    memo: &mut Memo,
) -> Option<usize> {
    if memo.exhausted {
        return None;
    }
    let (lo, mut hi) = c.offset.window(frame)?;
    if c.exact_in_big_pe && matches!(frame, Frame::Exe(n, _) if n >= crate::body::BM_OFFMODE_SIZE) {
        hi = lo;
    }
    // A match starting at the atom hit less the bytes before the atom: drop a hit whose
    // every possible start lies outside the window, before any verification.
    let p = pos as u64;
    let (pre_min, pre_max) = c.before_atom;
    if p.checked_sub(pre_min).is_none_or(|latest| latest < lo)
        || pre_max.is_some_and(|m| p.saturating_sub(m) > hi)
    {
        return None;
    }
    let fullword = c.fullword;
    let end_ok = |e: usize| !fullword || data.get(e).is_none_or(|b| !is_word(*b));
    let vinfo = match (c.offset, frame) {
        (detente_sigs::Offset::VersionInfo, Frame::Exe(_, e)) => Some(&e.version_info),
        _ => None,
    };
    let start_ok = |s: usize| {
        (lo..=hi).contains(&(s as u64))
            && vinfo.is_none_or(|v| v.binary_search(&(s as u64)).is_ok())
            && (!fullword || s == 0 || data.get(s - 1).is_none_or(|b| !is_word(*b)))
    };
    let mut v = Verifier {
        data,
        toks: &c.toks,
        lits: &c.lits,
        memo,
        end_ok: &end_ok,
        start_ok: &start_ok,
    };
    if !v.fwd(c.atom_tok, pos) {
        return None;
    }
    v.bwd(c.atom_tok, pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::compile;
    use crate::index::AtomIndex;
    use detente_sigs::parse_hex;

    /// (match found, steps, exhausted) for every hit of `sig` over `data`, with `budget`.
    fn run(sig: &str, data: &[u8], budget: Option<u64>) -> (bool, u64, bool) {
        let (c, atom) =
            compile(&parse_hex(sig).unwrap(), detente_sigs::Offset::Any, false).unwrap();
        let idx = AtomIndex::build([(0, &atom)]);
        let mut memo = Memo::default();
        memo.start(c.toks.len(), data.len());
        if let Some(b) = budget {
            memo.set_budget(b);
        }
        let mut found = false;
        idx.find(data, |_, pos| {
            found |= verify(
                &c,
                data,
                pos,
                detente_sigs::Frame::Plain(data.len() as u64),
                &mut memo,
            )
            .is_some();
        });
        (found, memo.steps(), memo.exhausted())
    }

    #[test]
    fn budget_reached_is_reported_not_taken_for_no_match() {
        let data = b"ABCD".repeat(10_000);
        let (found, _, exhausted) = run("41424344*45464748", &data, Some(1_000));
        assert!(!found && exhausted);
        let (found, steps, exhausted) = run("41424344*45464748", &data, None);
        assert!(!found && !exhausted, "{steps}");
    }

    #[test]
    fn repeated_hits_share_the_scan_past_a_jump() {
        // One scan of the buffer for the missing partner, not one per hit: a few steps a hit.
        let sigs = [
            "41424344*45464748",
            "20202020*41424344",
            "41424344{0-60000}45464748",
            "20202020{0-60000}41424344",
        ];
        for sig in sigs {
            let data = b"ABCD".repeat(100_000);
            let (found, steps, _) = run(sig, &data, None);
            assert!(!found);
            assert!(steps < 8 * 100_000, "{sig}: {steps} steps for 100000 hits");
        }
    }

    #[test]
    fn partner_after_many_hits_is_found() {
        let mut data = b"ABCD".repeat(50_000);
        data.extend_from_slice(b"EFGH");
        assert!(run("41424344*45464748", &data, None).0);
        assert!(run("41424344{0-8}45464748", &data, None).0);
        assert!(run("41424344{9-20}45464748", &data, None).0);
        assert!(!run("41424344{1-3}45464748", &data, None).0);
        assert!(!run("41424344{5-7}45464748", &data, None).0);
        let mut back = b"    ".to_vec();
        back.extend_from_slice(&b"ABCD".repeat(50_000));
        assert!(run("20202020*41424344", &back, None).0);
        assert!(run("20202020{0-0}41424344", &back, None).0);
        assert!(!run("20202020{1-3}41424344", &back, None).0);
        assert!(run("20202020{1-3}42434441", &back, None).0);
    }

    /// A pattern of more tokens than the verifier's recursion allows is not compiled.
    #[test]
    fn patterns_of_too_many_tokens_are_not_compiled() {
        let many = "4142".to_string() + &"(0000|0101)".repeat(crate::body::MAX_TOKENS + 1);
        assert!(compile(&parse_hex(&many).unwrap(), detente_sigs::Offset::Any, false).is_none());
        let some = "41424344".to_string() + &"(0000|0101)".repeat(100);
        assert!(compile(&parse_hex(&some).unwrap(), detente_sigs::Offset::Any, false).is_some());
    }
}
