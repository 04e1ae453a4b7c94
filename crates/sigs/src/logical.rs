//! Logical expressions of `.ldb` signatures, with ClamAV's exact evaluation rules.
//!
//! ClamAV splits an expression at its first top-level `&` or `|` and evaluates the right-hand
//! side as one expression, so `0&1|2` means `0&(1|2)`; but a parenthesised block that spans
//! the whole (sub)expression splits at its *last* operator inside, so `(0&1|2)` means
//! `(0&1)|2` and `((0&1)&2|3)` means `((0&1)&2)|3`. Each side is then parsed afresh by the same
//! two rules. There is no precedence of `&` over `|`. A count modifier (`=`, `>`, `<`,
//! optionally `,Y` distinct subsignatures) may follow a subsignature index or a parenthesised
//! block. Match counts add up through the operators of a block.

use crate::ParseErrorKind;

/// Comparison of a match count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountOp {
    /// `=N`
    Eq,
    /// `>N`
    Gt,
    /// `<N`
    Lt,
}

impl CountOp {
    fn holds(self, val: u32, n: u32) -> bool {
        match self {
            CountOp::Eq => val == n,
            CountOp::Gt => val > n,
            CountOp::Lt => val < n,
        }
    }
}

/// A count condition: `op n`, and for blocks optionally at least `distinct` different subsignatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count {
    /// The comparison.
    pub op: CountOp,
    /// The number compared against.
    pub n: u32,
    /// Least number of distinct subsignatures that must have matched (0: no condition).
    pub distinct: u32,
}

/// A parsed logical expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// A subsignature index, with an optional count condition.
    Sub {
        /// Subsignature index.
        id: u32,
        /// Count condition.
        count: Option<Count>,
    },
    /// `left op right`, with an optional count condition over the whole block.
    Bin {
        /// True for `&`, false for `|`.
        and: bool,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
        /// Block count condition.
        count: Option<Count>,
    },
}

/// Largest number of subsignatures in one logical signature (ClamAV's limit).
pub const MAX_SUBSIGS: u32 = 64;

fn err(msg: impl Into<String>) -> ParseErrorKind {
    ParseErrorKind::Logical(msg.into())
}

/// Reads a decimal number at the start of `s`, returning it and the rest.
fn leading_num(s: &[u8]) -> Option<(u32, &[u8])> {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 || n > 9 {
        return None;
    }
    let v = std::str::from_utf8(&s[..n]).ok()?.parse().ok()?;
    Some((v, &s[n..]))
}

fn parse_count(op: u8, s: &[u8]) -> Result<Count, ParseErrorKind> {
    let op = match op {
        b'=' => CountOp::Eq,
        b'>' => CountOp::Gt,
        _ => CountOp::Lt,
    };
    let (n, rest) = leading_num(s).ok_or_else(|| err("missing number after count operator"))?;
    let distinct = match rest {
        [] => 0,
        [b',', tail @ ..] => {
            let (d, rest) = leading_num(tail).ok_or_else(|| err("missing number after ','"))?;
            if !rest.is_empty() {
                return Err(err("unexpected text after count"));
            }
            d
        }
        _ => return Err(err("unexpected text after count")),
    };
    Ok(Count { op, n, distinct })
}

/// Parses a logical expression.
pub fn parse_expr(s: &str) -> Result<Expr, ParseErrorKind> {
    if s.len() > 8192 {
        return Err(err("expression too long"));
    }
    parse_bytes(s.as_bytes(), 0)
}

fn parse_bytes(e: &[u8], depth: u32) -> Result<Expr, ParseErrorKind> {
    if depth > 64 {
        return Err(err("expression nested too deeply"));
    }
    if e.is_empty() {
        return Err(err("empty operand"));
    }
    if let Some(bad) = e
        .iter()
        .find(|b| !(b.is_ascii_digit() || b"()&|=<>,".contains(b)))
    {
        return Err(err(format!("unexpected character {:?}", char::from(*bad))));
    }
    let mut pth = 0u32;
    let mut top_op: Option<usize> = None;
    let mut inner_op: Option<usize> = None;
    let mut block: Option<(usize, Option<Count>)> = None; // (index of closing paren, modifier)
    let mut i = 0;
    while i < e.len() {
        match e[i] {
            b'(' => pth += 1,
            b')' => {
                if pth == 0 {
                    return Err(err("missing opening parenthesis"));
                }
                pth -= 1;
            }
            b'&' | b'|' => {
                if pth == 0 {
                    top_op = Some(i);
                    break;
                } else if pth == 1 {
                    inner_op = Some(i);
                }
            }
            _ => {}
        }
        if e[i] == b')' && pth == 0 && inner_op.is_some() && e[0] == b'(' {
            // A block closed at top level: is it the whole expression, maybe with a modifier?
            let close = i;
            let rest = &e[close + 1..];
            match rest.first() {
                None => {
                    block = Some((close, None));
                    break;
                }
                Some(&m @ (b'=' | b'<' | b'>')) => {
                    let len = 1 + rest[1..]
                        .iter()
                        .take_while(|b| b.is_ascii_digit() || **b == b',')
                        .count();
                    if len == rest.len() {
                        block = Some((close, Some(parse_count(m, &rest[1..])?)));
                        break;
                    }
                    i = close + len;
                }
                _ => {}
            }
        }
        i += 1;
    }
    if pth != 0 && top_op.is_none() && block.is_none() {
        return Err(err("missing closing parenthesis"));
    }
    if let Some(op) = top_op {
        if op == 0 {
            return Err(err("missing left operand"));
        }
        if op + 1 == e.len() {
            return Err(err("missing right operand"));
        }
        return Ok(Expr::Bin {
            and: e[op] == b'&',
            left: Box::new(parse_bytes(&e[..op], depth + 1)?),
            right: Box::new(parse_bytes(&e[op + 1..], depth + 1)?),
            count: None,
        });
    }
    if let (Some((close, count)), Some(op)) = (block, inner_op) {
        // A block spanning the whole expression splits at its *last* operator at depth 1
        // (ClamAV's `cli_ac_chklsig`), each side parsed afresh: `(0&1|2)` is `(0&1)|2`,
        // unlike the top level, where `0&1|2` is `0&(1|2)`.
        return Ok(Expr::Bin {
            and: e[op] == b'&',
            left: Box::new(parse_bytes(&e[1..op], depth + 1)?),
            right: Box::new(parse_bytes(&e[op + 1..close], depth + 1)?),
            count,
        });
    }
    // A single operand: "(X)" or "N" or "N<op>M".
    if e[0] == b'(' {
        if e[e.len() - 1] != b')' {
            return Err(err("text after closing parenthesis"));
        }
        return parse_bytes(&e[1..e.len() - 1], depth + 1);
    }
    let (id, rest) = leading_num(e).ok_or_else(|| err("expected a subsignature index"))?;
    if id >= MAX_SUBSIGS {
        return Err(err(format!("subsignature index {id} out of range")));
    }
    let count = match rest {
        [] => None,
        [m @ (b'=' | b'<' | b'>'), tail @ ..] => Some(parse_count(*m, tail)?),
        _ => return Err(err("unexpected text after subsignature index")),
    };
    Ok(Expr::Sub { id, count })
}

impl Expr {
    /// Largest subsignature index used.
    pub fn max_id(&self) -> u32 {
        match self {
            Expr::Sub { id, .. } => *id,
            Expr::Bin { left, right, .. } => left.max_id().max(right.max_id()),
        }
    }

    /// Evaluates the expression over per-subsignature match counts.
    pub fn eval(&self, counts: &[u32]) -> bool {
        let (mut c, mut ids) = (0, 0);
        self.eval_inner(counts, &mut c, &mut ids)
    }

    fn eval_inner(&self, counts: &[u32], cnt: &mut u32, ids: &mut u64) -> bool {
        match self {
            Expr::Sub { id, count } => {
                let val = counts.get(*id as usize).copied().unwrap_or(0);
                let ok = match count {
                    Some(c) => c.op.holds(val, c.n),
                    None => val > 0,
                };
                if ok {
                    *cnt = cnt.saturating_add(val);
                    *ids |= 1u64 << id;
                }
                ok
            }
            Expr::Bin {
                and,
                left,
                right,
                count,
            } => {
                let (mut lc, mut li, mut rc, mut ri) = (0, 0, 0, 0);
                let l = left.eval_inner(counts, &mut lc, &mut li);
                let r = right.eval_inner(counts, &mut rc, &mut ri);
                let ok = if *and { l && r } else { l || r };
                let (tc, ti) = if ok {
                    (lc.saturating_add(rc), li | ri)
                } else {
                    (0, 0)
                };
                match count {
                    None => {
                        if ok {
                            *cnt = cnt.saturating_add(tc);
                            *ids |= ti;
                        }
                        ok
                    }
                    Some(c) => {
                        if !c.op.holds(tc, c.n) {
                            return false;
                        }
                        if c.distinct > 0 && ti.count_ones() < c.distinct {
                            return false;
                        }
                        *cnt = cnt.saturating_add(tc);
                        true
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(e: &str, c: &[u32]) -> bool {
        parse_expr(e).unwrap().eval(c)
    }

    #[test]
    fn clamav_associativity() {
        // 0&1|2 is 0&(1|2)
        assert!(!ev("0&1|2", &[0, 0, 1]));
        assert!(ev("0&1|2", &[1, 0, 1]));
        assert!(ev("(0&1)|2", &[0, 0, 1]));
    }

    /// A parenthesised block spanning its (sub)expression splits at its last inner operator,
    /// the top level at its first: vectors worked out from ClamAV's `cli_ac_chklsig` (the first
    /// three were checked against clamscan).
    #[test]
    fn clamav_grouping_inside_parentheses() {
        let cases: &[(&str, &[u32], bool)] = &[
            ("((0&1)&2|3)", &[1, 0, 0, 1], true),
            ("(0&1)&2|3", &[1, 0, 0, 1], false),
            (
                "((0&1&2)&(3|4|5)|(6&7&8&9))",
                &[0, 0, 0, 0, 0, 0, 1, 1, 1, 1],
                true,
            ),
            (
                "((0&1&2)&(3|4|5)|(6&7&8&9))",
                &[1, 1, 1, 0, 0, 1, 0, 0, 0, 0],
                true,
            ),
            (
                "((0&1&2)&(3|4|5)|(6&7&8&9))",
                &[1, 1, 1, 0, 0, 0, 1, 1, 1, 0],
                false,
            ),
            ("0&1|2", &[0, 0, 1], false),
            ("(0&1|2)", &[0, 0, 1], true),
            ("(0|1&2)", &[1, 0, 0], false),
            ("(0|1&2|3)", &[0, 0, 0, 1], true),
            ("(0|1&2|3)", &[1, 0, 0, 0], true),
            ("(0&1|2&3)", &[1, 1, 0, 0], false),
            ("(0&1|2&3)", &[0, 0, 1, 1], false),
            ("0&(1|2&3)", &[1, 1, 0, 0], false),
            ("(((0|1)&2|3)&4)", &[0, 0, 0, 1, 1], true),
            ("(0&1|2)>1", &[1, 0, 1], false),
            ("(0&1|2)>1", &[0, 0, 2], true),
            ("(0&1)=0", &[1, 0], true),
            ("(0&1)=0", &[1, 1], false),
            ("(0|1)=3", &[1, 2], true),
            ("(0|1)>1,2", &[3, 0], false),
            ("(0|1)>1,2", &[1, 1], true),
        ];
        for (e, c, want) in cases {
            assert_eq!(ev(e, c), *want, "{e} over {c:?}");
        }
    }

    #[test]
    fn counts() {
        assert!(ev("0=2", &[2]));
        assert!(!ev("0=2", &[3]));
        assert!(ev("0>1", &[2]));
        assert!(ev("0<2", &[0]));
        assert!(ev("0=0", &[0]));
        assert!(ev("(0|1)=3,2", &[1, 2]));
        assert!(!ev("(0|1)=3,2", &[3, 0]));
        assert!(ev("(0|1)>2&2", &[2, 1, 1]));
        assert!(!ev("(0|1)>2&2", &[2, 1, 0]));
        assert!(ev("((0|1)&2)", &[0, 1, 1]));
    }

    #[test]
    fn errors() {
        for bad in [
            "", "0&", "&1", "(0", "0)", "0&a", "65", "0=", "0=1,", "(0|1)=x", "0>1>2",
        ] {
            assert!(parse_expr(bad).is_err(), "{bad:?}");
        }
    }
}
