//! Line patches between two versions of a database file.
//!
//! Format (`detente-patch/v1`), a header line then operations over the old
//! file's lines (a line ends after `\n`; a last line without `\n` is a line):
//!
//! ```text
//! detente-patch/v1
//! c <n>          copy the next n old lines
//! d <n>          drop the next n old lines
//! a <len>        insert the len bytes that follow this line
//! <len bytes>
//! ```
//!
//! Counts are canonical decimal and at least 1; two consecutive operations
//! never have the same kind and a drop never directly follows an insert
//! (the canonical order of a change is drop, then insert); every old line is
//! consumed. [`make_patch`] writes exactly that form; [`apply_patch`]
//! accepts only that form and only an output of the size and SHA-256 the
//! manifest gives.

use std::collections::HashMap;

use crate::manifest::Entry;
use crate::text::{parse_u64, sha256};

/// First line of every patch.
pub const PATCH_HEADER: &str = "detente-patch/v1";

/// Longest operation line: `a ` and 20 digits and a newline.
const MAX_OP_LINE: usize = 23;

/// Largest gap between two unique common lines that is diffed exactly (by a
/// quadratic LCS) rather than replaced whole: `old lines * new lines` cells.
const MAX_LCS_CELLS: usize = 1 << 16;

/// Diff work allowed per input line (see `matches`).
const WORK_PER_LINE: usize = 16;

/// Why a patch was refused. Offsets are byte offsets into the patch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatchError {
    /// The patch does not start with the [`PATCH_HEADER`] line.
    #[error("patch does not start with {PATCH_HEADER:?}")]
    Header,
    /// An operation line that is not `c <n>`, `d <n>` or `a <len>` with a
    /// canonical count of at least 1.
    #[error("malformed patch operation at byte {offset}")]
    BadOp {
        /// Offset of the operation line.
        offset: usize,
    },
    /// Two operations of one kind in a row, or a drop right after an insert.
    #[error("non-canonical operation order at byte {offset}")]
    NotCanonical {
        /// Offset of the operation line.
        offset: usize,
    },
    /// A copy or drop past the end of the old file.
    #[error("operation at byte {offset} runs past the end of the old file")]
    PastEnd {
        /// Offset of the operation line.
        offset: usize,
    },
    /// An insert whose bytes run past the end of the patch.
    #[error("insert at byte {offset} runs past the end of the patch")]
    Truncated {
        /// Offset of the operation line.
        offset: usize,
    },
    /// The patch ended before consuming every old line: it was made for
    /// another old file.
    #[error("patch leaves old lines unconsumed (made for another base file)")]
    Leftover,
    /// The output would exceed the size the manifest gives.
    #[error("patch output exceeds the expected {max} bytes")]
    TooLarge {
        /// The expected size.
        max: u64,
    },
    /// The output is shorter than the manifest says.
    #[error("patch output is {got} bytes, the manifest says {want}")]
    SizeMismatch {
        /// Output size.
        got: u64,
        /// Expected size.
        want: u64,
    },
    /// The output has another SHA-256 than the manifest says.
    #[error("patch output does not have the SHA-256 the manifest says")]
    HashMismatch,
}

/// A buffer split into lines: `starts[i]..starts[i + 1]` is line `i`.
struct Lines<'a> {
    buf: &'a [u8],
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(buf: &'a [u8]) -> Lines<'a> {
        let mut starts = Vec::with_capacity(buf.len() / 32 + 2);
        starts.push(0);
        starts.extend(memchr::memchr_iter(b'\n', buf).map(|p| p + 1));
        if starts.last() != Some(&buf.len()) {
            starts.push(buf.len());
        }
        Lines { buf, starts }
    }
    fn len(&self) -> usize {
        self.starts.len() - 1
    }
    fn line(&self, i: usize) -> &'a [u8] {
        &self.buf[self.starts[i]..self.starts[i + 1]]
    }
    /// The bytes of lines `i..j`.
    fn span(&self, i: usize, j: usize) -> &'a [u8] {
        &self.buf[self.starts[i]..self.starts[j]]
    }
}

/// Writes operations in canonical form, merging runs.
struct Ops {
    out: Vec<u8>,
    pending: Option<(u8, usize)>,
}

impl Ops {
    fn flush(&mut self) {
        if let Some((k, n)) = self.pending.take() {
            self.out.push(k);
            self.out.extend_from_slice(format!(" {n}\n").as_bytes());
        }
    }
    fn run(&mut self, kind: u8, n: usize) {
        if n == 0 {
            return;
        }
        match &mut self.pending {
            Some((k, m)) if *k == kind => *m += n,
            _ => {
                self.flush();
                self.pending = Some((kind, n));
            }
        }
    }
    fn add(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.flush();
        self.out
            .extend_from_slice(format!("a {}\n", data.len()).as_bytes());
        self.out.extend_from_slice(data);
    }
}

/// Makes the patch that turns `old` into `new`.
///
/// A patience diff over lines: common prefix and suffix are trimmed, lines
/// that occur exactly once in both sides are matched by a longest increasing
/// subsequence, and the gaps between those anchors are diffed the same way
/// (small gaps with no unique line by an exact LCS, large ones replaced
/// whole). Signature databases are sets of distinct lines, so almost every
/// line is an anchor: the patch costs the changed lines plus a few bytes per
/// change, in `O(n log n)` time. Work is bounded linearly whatever the input
/// (a wholesale reordering only yields a larger patch). The output is
/// deterministic.
pub fn make_patch(old: &[u8], new: &[u8]) -> Vec<u8> {
    let a = Lines::new(old);
    let b = Lines::new(new);
    let mut ops = Ops {
        out: format!("{PATCH_HEADER}\n").into_bytes(),
        pending: None,
    };
    let (mut i, mut j) = (0, 0);
    for (x, y) in matches(&a, &b) {
        ops.run(b'd', x - i);
        ops.add(b.span(j, y));
        ops.run(b'c', 1);
        (i, j) = (x + 1, y + 1);
    }
    ops.run(b'd', a.len() - i);
    ops.add(b.span(j, b.len()));
    ops.flush();
    ops.out
}

/// Matched line pairs `(old index, new index)`, ascending in both.
///
/// Work is bounded: anchor searches and exact LCS cells are charged to a
/// budget linear in the input ([`WORK_PER_LINE`] per line); once it is
/// spent, remaining gaps only get their common prefix and suffix matched, so
/// a pathological input (a file reordered wholesale, where each level of
/// recursion finds one anchor) costs a larger patch, never quadratic time.
fn matches(a: &Lines, b: &Lines) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut budget = (a.len() + b.len())
        .saturating_mul(WORK_PER_LINE)
        .saturating_add(MAX_LCS_CELLS);
    let mut stack = vec![(0, a.len(), 0, b.len())];
    while let Some((mut a0, mut a1, mut b0, mut b1)) = stack.pop() {
        while a0 < a1 && b0 < b1 && a.line(a0) == b.line(b0) {
            out.push((a0, b0));
            a0 += 1;
            b0 += 1;
        }
        while a0 < a1 && b0 < b1 && a.line(a1 - 1) == b.line(b1 - 1) {
            a1 -= 1;
            b1 -= 1;
            out.push((a1, b1));
        }
        if a0 == a1 || b0 == b1 {
            continue;
        }
        let cost = (a1 - a0) + (b1 - b0);
        if cost > budget {
            continue;
        }
        budget -= cost;
        let anchors = unique_anchors(a, a0, a1, b, b0, b1);
        if anchors.is_empty() {
            let cells = (a1 - a0).saturating_mul(b1 - b0);
            if cells <= MAX_LCS_CELLS && cells <= budget {
                budget -= cells;
                small_lcs(a, a0, a1, b, b0, b1, &mut out);
            }
            continue;
        }
        let (mut pa, mut pb) = (a0, b0);
        for (x, y) in anchors {
            out.push((x, y));
            stack.push((pa, x, pb, y));
            (pa, pb) = (x + 1, y + 1);
        }
        stack.push((pa, a1, pb, b1));
    }
    out.sort_unstable();
    out
}

#[derive(Clone, Copy)]
struct Slot {
    a_count: u8,
    a_pos: usize,
    b_count: u8,
    b_pos: usize,
}

/// Lines unique in both ranges, matched, then the longest chain of them in
/// the same order on both sides.
fn unique_anchors(
    a: &Lines,
    a0: usize,
    a1: usize,
    b: &Lines,
    b0: usize,
    b1: usize,
) -> Vec<(usize, usize)> {
    let mut slots: HashMap<&[u8], Slot> = HashMap::with_capacity(a1 - a0);
    for i in a0..a1 {
        let s = slots.entry(a.line(i)).or_insert(Slot {
            a_count: 0,
            a_pos: i,
            b_count: 0,
            b_pos: 0,
        });
        s.a_count = s.a_count.saturating_add(1);
    }
    for j in b0..b1 {
        if let Some(s) = slots.get_mut(b.line(j)) {
            s.b_count = s.b_count.saturating_add(1);
            s.b_pos = j;
        }
    }
    let mut pairs: Vec<(usize, usize)> = slots
        .values()
        .filter(|s| s.a_count == 1 && s.b_count == 1)
        .map(|s| (s.a_pos, s.b_pos))
        .collect();
    drop(slots);
    pairs.sort_unstable_by_key(|p| p.1);
    // Longest increasing subsequence of the old positions (patience sorting).
    let mut tails: Vec<usize> = Vec::new();
    let mut prev = vec![usize::MAX; pairs.len()];
    for (k, &(x, _)) in pairs.iter().enumerate() {
        let pos = tails.partition_point(|&t| pairs[t].0 < x);
        if pos > 0 {
            prev[k] = tails[pos - 1];
        }
        if pos == tails.len() {
            tails.push(k);
        } else {
            tails[pos] = k;
        }
    }
    let mut chain = Vec::with_capacity(tails.len());
    let mut k = tails.last().copied().unwrap_or(usize::MAX);
    while k != usize::MAX {
        chain.push(pairs[k]);
        k = prev[k];
    }
    chain.reverse();
    chain
}

/// Exact LCS of a small gap (at most [`MAX_LCS_CELLS`] cells, checked by
/// the caller); a larger gap with no unique common line is left unmatched
/// (replaced whole).
fn small_lcs(
    a: &Lines,
    a0: usize,
    a1: usize,
    b: &Lines,
    b0: usize,
    b1: usize,
    out: &mut Vec<(usize, usize)>,
) {
    let (n, m) = (a1 - a0, b1 - b0);
    // t[i][j]: LCS length of a[a0+i..a1] and b[b0+j..b1].
    let w = m + 1;
    let mut t = vec![0u32; (n + 1) * w];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            t[i * w + j] = if a.line(a0 + i) == b.line(b0 + j) {
                t[(i + 1) * w + j + 1] + 1
            } else {
                t[(i + 1) * w + j].max(t[i * w + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if a.line(a0 + i) == b.line(b0 + j) {
            out.push((a0 + i, b0 + j));
            i += 1;
            j += 1;
        } else if t[(i + 1) * w + j] >= t[i * w + j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
}

/// The offset just past `n` more lines of `buf` from `pos`, or `None` if
/// there are fewer.
fn skip_lines(buf: &[u8], mut pos: usize, n: u64) -> Option<usize> {
    for _ in 0..n {
        if pos == buf.len() {
            return None;
        }
        pos = match memchr::memchr(b'\n', &buf[pos..]) {
            Some(i) => pos + i + 1,
            None => buf.len(),
        };
    }
    Some(pos)
}

/// Applies `patch` to `old` and returns the new file, which must be exactly
/// `target` (its size and SHA-256, from the manifest).
///
/// Bounded: the output never grows past `target.size()` (the patch is
/// refused as soon as it would), and memory is at most that plus the inputs.
/// Anything not in canonical form, or leaving old lines unconsumed, is
/// refused.
pub fn apply_patch(old: &[u8], patch: &[u8], target: &Entry) -> Result<Vec<u8>, PatchError> {
    let max = target.size();
    let head = PATCH_HEADER.len();
    if patch.get(..head) != Some(PATCH_HEADER.as_bytes()) || patch.get(head) != Some(&b'\n') {
        return Err(PatchError::Header);
    }
    let cap = max.min((old.len() as u64).saturating_add(patch.len() as u64));
    let mut out = Vec::with_capacity(usize::try_from(cap).unwrap_or(0));
    let fits = |out: &Vec<u8>, more: usize| (out.len() as u64).saturating_add(more as u64) <= max;
    let mut at_old = 0usize;
    let mut last: Option<u8> = None;
    let mut p = head + 1;
    while p < patch.len() {
        let offset = p;
        let bad = PatchError::BadOp { offset };
        let window = &patch[p..patch.len().min(p + MAX_OP_LINE)];
        let nl = memchr::memchr(b'\n', window).ok_or(bad.clone())?;
        let (kind, count) = match &window[..nl] {
            [k @ (b'c' | b'd' | b'a'), b' ', count @ ..] => (*k, count),
            _ => return Err(bad),
        };
        let n = std::str::from_utf8(count)
            .ok()
            .and_then(parse_u64)
            .filter(|&n| n > 0)
            .ok_or(bad)?;
        if last == Some(kind) || (last == Some(b'a') && kind == b'd') {
            return Err(PatchError::NotCanonical { offset });
        }
        last = Some(kind);
        p += nl + 1;
        match kind {
            b'a' => {
                let end = usize::try_from(n)
                    .ok()
                    .and_then(|n| p.checked_add(n))
                    .filter(|&e| e <= patch.len())
                    .ok_or(PatchError::Truncated { offset })?;
                if !fits(&out, end - p) {
                    return Err(PatchError::TooLarge { max });
                }
                out.extend_from_slice(&patch[p..end]);
                p = end;
            }
            _ => {
                let end = skip_lines(old, at_old, n).ok_or(PatchError::PastEnd { offset })?;
                if kind == b'c' {
                    if !fits(&out, end - at_old) {
                        return Err(PatchError::TooLarge { max });
                    }
                    out.extend_from_slice(&old[at_old..end]);
                }
                at_old = end;
            }
        }
    }
    if at_old != old.len() {
        return Err(PatchError::Leftover);
    }
    if out.len() as u64 != max {
        return Err(PatchError::SizeMismatch {
            got: out.len() as u64,
            want: max,
        });
    }
    if sha256(&out) != *target.sha256() {
        return Err(PatchError::HashMismatch);
    }
    Ok(out)
}

/// The most a patch of a file of `size` bytes may decompress to: the new file's bytes and one
/// short line per operation. The publisher sends no larger patch ([`crate::next_manifest`])
/// and the client refuses one.
pub fn patch_bound(size: u64) -> u64 {
    size.saturating_mul(2).saturating_add(1 << 20)
}

/// A patch as stored and sent: gzip-compressed (the `a` blocks are signature text, which
/// gzip roughly halves). Compression is deterministic for given input.
pub fn compress(patch: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = e.write_all(patch);
    e.finish().unwrap_or_default()
}

/// Decompresses a stored patch, refusing more than `max` bytes of output (a patch larger than
/// its bound is no patch of this file): streamed, so a small hostile object cannot inflate
/// past the bound.
pub fn decompress(data: &[u8], max: u64) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let mut out = Vec::new();
    let mut d = flate2::read::GzDecoder::new(data).take(max.saturating_add(1));
    d.read_to_end(&mut out).ok()?;
    (out.len() as u64 <= max).then_some(out)
}
