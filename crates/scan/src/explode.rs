//! PKZIP "implode" (zip method 6) decoding, as ClamAV's `explode.c` decodes it.
//!
//! The member starts with two or three Shannon-Fano trees (literals when flag bit 2 is set,
//! then lengths and distances), each stored as a count byte and runs of (bit length, count)
//! nibbles. Then, bit by bit (least significant first): 1 and a literal (tree-coded, or 8 raw
//! bits), or 0 and a match: the distance's low 6 bits (7 with an 8 KiB window, flag bit 1),
//! its high bits from the distance tree, and a length from the length tree (63 reads 8 more
//! bits) plus 2 (3 with a literal tree). Decoding runs until the input's bits run out, as in
//! ClamAV (not until the declared size); output is flushed in 8 KiB blocks and a damaged
//! stream makes the member unreadable, as ClamAV then scans none of it.

use std::collections::HashMap;

/// ClamAV's output block (`BUFSIZ`).
const BLOCK: usize = 8192;

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    n: u32,
}

impl Bits<'_> {
    fn bit(&mut self) -> Option<u32> {
        self.bits(1)
    }

    fn bits(&mut self, k: u32) -> Option<u32> {
        while self.n < k {
            let b = *self.data.get(self.pos)?;
            self.pos += 1;
            self.acc |= u64::from(b) << self.n;
            self.n += 8;
        }
        let v = (self.acc & ((1u64 << k) - 1)) as u32;
        self.acc >>= k;
        self.n -= k;
        Some(v)
    }

    fn left(&self) -> bool {
        self.n > 0 || self.pos < self.data.len()
    }
}

/// A Shannon-Fano tree: (length, left-aligned code) to symbol, the lowest symbol winning.
struct Tree(HashMap<(u8, u16), u16>);

/// Reads a tree of `expected` symbols from the input's bytes (`unpack_tree`).
fn tree(input: &[u8], pos: &mut usize, expected: usize) -> Result<Tree, ()> {
    let count = usize::from(*input.get(*pos).ok_or(())?);
    if count > expected - 1 {
        return Err(());
    }
    let bytes = input.get(*pos + 1..*pos + 2 + count).ok_or(())?;
    *pos += 2 + count;
    let mut lens = Vec::with_capacity(expected);
    for &b in bytes {
        let len = (b & 15) + 1;
        let n = usize::from(b >> 4) + 1;
        if lens.len() + n > expected {
            return Err(());
        }
        lens.extend(std::iter::repeat_n(len, n));
    }
    if lens.len() != expected {
        return Err(());
    }
    // Symbols by length, ties by symbol (ClamAV's sort is stable), codes given from the
    // longest down.
    let mut order: Vec<usize> = (0..expected).collect();
    order.sort_by_key(|&i| lens[i]);
    let (mut code, mut inc, mut last) = (0u16, 0u16, 0u8);
    let mut codes = vec![(0u8, 0u16); expected];
    for &i in order.iter().rev() {
        code = code.wrapping_add(inc);
        if lens[i] != last {
            last = lens[i];
            inc = if last >= 16 { 1 } else { 1 << (16 - last) };
        }
        codes[i] = (last, code);
    }
    let mut map = HashMap::with_capacity(expected);
    for (sym, &c) in codes.iter().enumerate().rev() {
        map.insert(c, sym as u16);
    }
    Ok(Tree(map))
}

/// Reads one tree-coded symbol: up to 16 bits, most significant first into the code.
fn symbol(t: &Tree, b: &mut Bits<'_>) -> Result<Option<u16>, ()> {
    let mut code = 0u16;
    for got in 0..16u8 {
        let Some(bit) = b.bit() else {
            return Ok(None);
        };
        code |= (bit as u16) << (15 - got);
        if let Some(&s) = t.0.get(&(got + 1, code)) {
            return Ok(Some(s));
        }
    }
    Err(())
}

/// Decodes an imploded member with general-purpose `flags`, producing at most about `cap`
/// bytes. Returns the output and whether the stream was damaged (then ClamAV scans nothing).
pub(crate) fn explode(input: &[u8], flags: u16, cap: usize) -> (Vec<u8>, bool) {
    let large = flags & 2 != 0;
    let literals = flags & 4 != 0;
    let min_len = if literals { 3 } else { 2 };
    let mut pos = 0;
    let mut out = Vec::new();
    let lit = if literals {
        match tree(input, &mut pos, 256) {
            Ok(t) => Some(t),
            Err(()) => return (out, pos < input.len()),
        }
    } else {
        None
    };
    let (Ok(lens), Ok(dists)) = (tree(input, &mut pos, 64), tree(input, &mut pos, 64)) else {
        return (out, true);
    };
    let mut b = Bits {
        data: &input[pos.min(input.len())..],
        pos: 0,
        acc: 0,
        n: 0,
    };
    let damaged = |mut out: Vec<u8>| {
        // What was not yet flushed in a whole block is lost, as in ClamAV.
        out.truncate(out.len() / BLOCK * BLOCK);
        (out, true)
    };
    while b.left() && out.len() < cap {
        let Some(flag) = b.bit() else { break };
        if flag == 1 {
            let byte = match &lit {
                Some(t) => match symbol(t, &mut b) {
                    Ok(Some(s)) => s as u8,
                    Ok(None) => break,
                    Err(()) => return damaged(out),
                },
                None => match b.bits(8) {
                    Some(v) => v as u8,
                    None => break,
                },
            };
            out.push(byte);
        } else {
            let Some(low) = b.bits(if large { 7 } else { 6 }) else {
                break;
            };
            let high = match symbol(&dists, &mut b) {
                Ok(Some(s)) => u32::from(s),
                Ok(None) => break,
                Err(()) => return damaged(out),
            };
            let dist = ((high << if large { 7 } else { 6 }) | low) as usize + 1;
            let mut len = match symbol(&lens, &mut b) {
                Ok(Some(s)) => usize::from(s),
                Ok(None) => break,
                Err(()) => return damaged(out),
            };
            if len == 63 {
                let Some(extra) = b.bits(8) else { break };
                len += extra as usize;
            }
            for _ in 0..len + min_len {
                // Before the start of the output, the window holds zeros. (A distance is at
                // most the window's size, so the output itself stands for the window.)
                let cur = out.len();
                out.push(if cur >= dist { out[cur - dist] } else { 0 });
            }
        }
    }
    (out, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_tree_is_damage() {
        // Length tree declaring 65 symbols.
        let (out, bad) = explode(&[0, 0x0f, 0, 0x3f], 0, 1 << 20);
        assert!(out.is_empty());
        assert!(bad);
    }
}
