//! PCRE subsignatures of logical signatures, run as ClamAV runs them (`cli_pcre_scanbuf`):
//! after every other subsignature of the buffer was counted, and only when the trigger holds
//! on those counts; over the slice of the buffer that starts at the offset (anchored there
//! when the offset is fixed, has no `,m` shift and `r` is not given); counting one match,
//! or with `g` every non-overlapping match, each search starting where the last match ended.
//!
//! PCRE2 itself (the `pcre2` crate, built from its bundled sources) matches, on raw bytes
//! without UTF mode, with ClamAV's default limits: 100,000 match steps and a depth of 2,000
//! per search (a search over a limit counts as no match, as in ClamAV), and buffers over
//! 100 MiB skip every PCRE subsignature (they count 0).

use detente_sigs::{Expr, Frame, Offset, Pcre, PcreFlags};
use pcre2::bytes::{Regex, RegexBuilder};

/// ClamAV's default `--pcre-match-limit`.
pub const MATCH_LIMIT: u32 = 100_000;
/// ClamAV's default `--pcre-recmatch-limit` (the depth limit).
pub const DEPTH_LIMIT: u32 = 2_000;
/// ClamAV's default `--pcre-max-filesize`: larger buffers run no PCRE subsignature.
pub const MAX_BUFFER: usize = 100 << 20;
/// Most matches one subsignature counts in a buffer (a count beyond any condition a
/// database writes, and with the match limit a bound on the work of a `g` search).
const MAX_COUNT: u32 = 4096;

/// A compiled PCRE subsignature.
#[derive(Debug)]
pub(crate) struct PcreSub {
    /// Its index among its signature's subsignatures.
    pub slot: u32,
    pub trigger: Expr,
    pub offset: Offset,
    pub flags: PcreFlags,
    /// The search (anchored at each start when the `A` flag says so).
    pub search: Regex,
    /// The same, anchored at each start: for a fixed offset without shift and without `r`.
    pub anchored: Regex,
}

/// Why a PCRE subsignature is not compiled.
#[derive(Debug)]
pub(crate) enum Refused {
    /// A flag PCRE2's safe interface can't set (`E`, DOLLAR_ENDONLY).
    Unsupported,
    /// PCRE2 refuses the pattern.
    Invalid(String),
}

/// The pattern's leading `(*VERB)` items (they must stay at the very start) and the rest.
fn split_verbs(p: &str) -> (&str, &str) {
    let mut i = 0;
    while p[i..].starts_with("(*") {
        match p[i..].find(')') {
            Some(j) => i += j + 1,
            None => break,
        }
    }
    (&p[..i], &p[i..])
}

fn build(p: &Pcre, anchored: bool) -> Result<Regex, Refused> {
    let (verbs, body) = split_verbs(&p.pattern);
    let f = p.flags;
    // In extended mode a trailing comment would swallow the closing parenthesis.
    let close = if f.extended { "\n)" } else { ")" };
    let pattern = format!(
        "(*LIMIT_MATCH={MATCH_LIMIT})(*LIMIT_DEPTH={DEPTH_LIMIT}){verbs}{}(?:{body}{close}",
        if anchored { "\\G" } else { "" },
    );
    let pattern = if f.ungreedy {
        // PCRE2_UNGREEDY as its inline form, after the start-of-pattern items.
        let (v, rest) = split_verbs(&pattern);
        format!("{v}(?U){rest}")
    } else {
        pattern
    };
    RegexBuilder::new()
        .caseless(f.caseless)
        .dotall(f.dotall)
        .multi_line(f.multiline)
        .extended(f.extended)
        .build(&pattern)
        .map_err(|e| Refused::Invalid(e.to_string()))
}

/// Compiles subsignature `slot` of a logical signature.
pub(crate) fn compile(slot: u32, offset: Offset, p: &Pcre) -> Result<PcreSub, Refused> {
    if p.flags.dollar_endonly {
        return Err(Refused::Unsupported);
    }
    Ok(PcreSub {
        slot,
        trigger: p.trigger.clone(),
        offset,
        flags: p.flags,
        search: build(p, p.flags.anchored)?,
        anchored: build(p, true)?,
    })
}

impl PcreSub {
    /// How many times it matches `data`, whose offsets count from `frame`, and whether the
    /// count is incomplete: a search stopped at PCRE2's limits (ClamAV counts that as no
    /// match; the scan is then not a verdict over the whole buffer), the buffer was over
    /// [`MAX_BUFFER`], or `g` reached the most matches counted.
    pub(crate) fn count(&self, data: &[u8], frame: Frame<'_>) -> (u32, bool) {
        if data.len() > MAX_BUFFER {
            return (0, true);
        }
        let (start, shift) = match self.offset {
            Offset::Any => (0usize, None),
            o => match o.window(frame) {
                Some((lo, hi)) => match usize::try_from(lo) {
                    Ok(l) => (l, Some(hi - lo)),
                    Err(_) => return (0, false),
                },
                None => return (0, false),
            },
        };
        if start >= data.len() {
            return (0, false);
        }
        let mut subject = &data[start..];
        // A `,m` shift limits where a match may start; without one the search is anchored,
        // or (`r`) runs to the end.
        let mut start_limit = shift.filter(|m| *m > 0);
        if let Some(m) = shift {
            if self.flags.encompass && m > 0 {
                let n = usize::try_from(m).unwrap_or(usize::MAX).min(subject.len());
                subject = &subject[..n];
                start_limit = None;
            }
        }
        let anchor = !self.flags.rolling && shift == Some(0);
        let re = if anchor { &self.anchored } else { &self.search };
        let mut count = 0u32;
        let mut at = 0usize;
        let mut last: Option<usize> = None;
        let mut incomplete = false;
        while at <= subject.len() {
            if count >= MAX_COUNT {
                incomplete = true;
                break;
            }
            // A search over PCRE2's limits, or any other error, counts as no match.
            let m = match re.find_at(subject, at) {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(_) => {
                    incomplete = true;
                    break;
                }
            };
            if start_limit.is_some_and(|lim| m.start() as u64 > lim) {
                break;
            }
            if last.is_none_or(|l| m.start() > l) {
                count += 1;
                last = Some(m.start());
            }
            if !self.flags.global || m.end() == at && m.start() == m.end() {
                // One match without `g`; a zero-length match would repeat forever.
                break;
            }
            at = m.end();
        }
        (count, incomplete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use detente_sigs::parse_expr;

    impl PcreSub {
        fn count_of(&self, data: &[u8], frame: Frame<'_>) -> u32 {
            self.count(data, frame).0
        }
    }

    fn sub(pattern: &str, offset: Offset, flags: PcreFlags) -> PcreSub {
        let p = Pcre {
            trigger: parse_expr("0").unwrap(),
            pattern: pattern.to_string(),
            flags,
        };
        compile(1, offset, &p).unwrap()
    }

    #[test]
    fn counts_as_clamav_does() {
        let f = Frame::Plain(5);
        let g = PcreFlags {
            global: true,
            ..Default::default()
        };
        // Non-overlapping matches, each search from the last match's end.
        assert_eq!(sub("BB", Offset::Any, g).count_of(b"BBBBB", f), 2);
        assert_eq!(
            sub("BB", Offset::Any, PcreFlags::default()).count_of(b"BBBBB", f),
            1
        );
        // A zero-length match with `g` counts once (ClamAV loops until its time limit).
        assert_eq!(sub("x*", Offset::Any, g).count_of(b"BBBBB", f), 1);
        // A fixed offset anchors there; `r` doesn't; a shift lets the start move.
        let at = |start, extra| Offset::Abs { start, extra };
        let plain = PcreFlags::default();
        let r = PcreFlags {
            rolling: true,
            ..Default::default()
        };
        assert_eq!(sub("B", at(2, 0), plain).count_of(b"aaBaB", f), 1);
        assert_eq!(sub("B", at(1, 0), plain).count_of(b"aaBaB", f), 0);
        assert_eq!(
            sub("B", at(1, 0), r).count_of(b"aaBaB", f),
            1,
            "r: from there to the end"
        );
        assert_eq!(
            sub("B", at(0, 1), r).count_of(b"aaBaB", f),
            0,
            "r: a shift still limits"
        );
        assert_eq!(sub("B", at(0, 2), plain).count_of(b"aaBaB", f), 1);
        // The subject starts at the offset: `^` is there.
        assert_eq!(sub("^B", at(2, 0), plain).count_of(b"aaBaB", f), 1);
        // `e`: the whole match must fit in the window.
        let e = PcreFlags {
            encompass: true,
            ..Default::default()
        };
        assert_eq!(sub("BaB", at(1, 3), e).count_of(b"aaBaB", f), 0);
        assert_eq!(sub("BaB", at(1, 4), e).count_of(b"aaBaB", f), 1);
        // No dot-all unless asked, raw bytes.
        assert_eq!(sub("a.b", Offset::Any, plain).count_of(b"a\nb", f), 0);
        assert_eq!(
            sub("\\xff\\x00", Offset::Any, plain).count_of(b"\x01\xff\x00", f),
            1
        );
    }

    #[test]
    fn catastrophic_patterns_stop_at_the_limit() {
        let s = sub("(a+)+$", Offset::Any, PcreFlags::default());
        let mut data = vec![b'a'; 40];
        data.push(b'!');
        // Exponential backtracking: PCRE2 gives up at the match limit: no match, and the
        // count says it is not a verdict.
        assert_eq!(s.count(&data, Frame::Plain(data.len() as u64)), (0, true));
    }
}
