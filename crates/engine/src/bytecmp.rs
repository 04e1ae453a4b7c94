//! Byte-compare subsignatures (`N(>>offset#options#comparisons)`), evaluated as ClamAV's
//! `cli_bcomp_compare_check` does: once, at the start of the last match of subsignature N
//! moved by the offset; the position must be past the first byte of the buffer and the
//! field inside it; binary integers in the given byte order, decimal or hexadecimal text
//! (leading white space skipped, the longest valid prefix read unless `e` asks for the whole
//! field), and every comparison must hold. As in ClamAV, a base without a byte order never
//! matches. ClamAV evaluates them per 128 KiB scan window, which in larger files misreads
//! offsets past the first window; here the whole buffer is one window.

use detente_sigs::{ByteCmp, CmpBase, CmpOp};

/// The longest prefix of `t` that reads as a number in `radix` (a sign, and for 16 an
/// optional `0x`): its value (0 when there are no digits) and whether it is all of `t`.
fn prefix_number(t: &[u8], radix: u32) -> Option<(i64, bool)> {
    let mut i = 0;
    let neg = match t.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    if radix == 16 && t.get(i) == Some(&b'0') && matches!(t.get(i + 1), Some(b'x' | b'X')) {
        i += 2;
    }
    let start = i;
    let mut v: i64 = 0;
    while let Some(d) = t.get(i).and_then(|b| (*b as char).to_digit(radix)) {
        v = v.checked_mul(i64::from(radix))?.checked_add(i64::from(d))?;
        i += 1;
    }
    if i == start {
        return Some((0, false));
    }
    Some((if neg { -v } else { v }, i == t.len()))
}

/// The number `b` reads at `pos` of `data`, if it can be read.
fn read(b: &ByteCmp, data: &[u8], pos: usize) -> Option<i64> {
    let len = usize::try_from(b.len).ok()?;
    let field = data.get(pos..pos.checked_add(len)?)?;
    let little = b.little?;
    if b.base == CmpBase::Int {
        let mut v: u64 = 0;
        if little {
            for (k, x) in field.iter().enumerate() {
                v |= u64::from(*x) << (8 * k);
            }
        } else {
            for x in field {
                v = (v << 8) | u64::from(*x);
            }
        }
        return Some(v as i64);
    }
    let pad = field.iter().take_while(|c| c.is_ascii_whitespace()).count();
    if b.exact && pad > 0 {
        return None;
    }
    let text = &field[pad..];
    let (radix, text): (u32, Vec<u8>) = match b.base {
        CmpBase::Dec => (10, text.to_vec()),
        CmpBase::Hex if !little => (16, text.to_vec()),
        CmpBase::Hex => {
            // Little-endian hex text: pad to whole bytes, then the byte pairs reversed.
            if !text.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let mut t = text.to_vec();
            if t.len() % 2 == 1 {
                t.insert(0, b'0');
            }
            (16, t.chunks(2).rev().flatten().copied().collect())
        }
        CmpBase::Auto => {
            if text.len() < 3 {
                return None;
            }
            if text.starts_with(b"0x") || text.starts_with(b"0X") {
                (16, text.to_vec())
            } else if little {
                // ClamAV turns little-endian decimal text into a case it never matches.
                return None;
            } else {
                (10, text.to_vec())
            }
        }
        CmpBase::Int | CmpBase::None => return None,
    };
    let (v, whole) = prefix_number(&text, radix)?;
    if b.exact && !whole {
        return None;
    }
    Some(v)
}

/// Whether `b` holds with subsignature N's last match starting at `at`.
pub(crate) fn holds(b: &ByteCmp, data: &[u8], at: usize) -> bool {
    let Some(pos) = (at as i64).checked_add(b.offset) else {
        return false;
    };
    if pos <= 0 {
        return false;
    }
    let Some(v) = read(b, data, pos as usize) else {
        return false;
    };
    b.cmps.iter().all(|(op, x)| match op {
        CmpOp::Lt => v < *x,
        CmpOp::Gt => v > *x,
        CmpOp::Eq => v == *x,
    })
}
