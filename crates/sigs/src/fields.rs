//! Splitting a line into fields without allocating, decimal numbers and hex digits.

/// The fields of a line, split on `sep` without allocating (at most 8 kept; `len` counts all).
pub(crate) struct Fields<'a> {
    pub(crate) v: [&'a str; 8],
    pub(crate) n: usize,
}

impl<'a> Fields<'a> {
    /// `sep` is ASCII, so every split point is a character boundary.
    #[inline]
    pub(crate) fn split(line: &'a str, sep: u8) -> Fields<'a> {
        let mut f = Fields { v: [""; 8], n: 0 };
        let mut start = 0;
        let mut field = |i: usize, f: &mut Fields<'a>| {
            if let Some(slot) = f.v.get_mut(f.n) {
                *slot = line.get(start..i).unwrap_or("");
            }
            f.n += 1;
            start = i + 1;
        };
        // Eight bytes at a time (lines are short: a search call per field costs more than
        // the search): the bytes equal to `sep` have the top bit of their lane set in `m`.
        let bytes = line.as_bytes();
        let lanes = u64::from_ne_bytes([sep; 8]);
        let (low7, high) = (0x7f7f_7f7f_7f7f_7f7f_u64, 0x8080_8080_8080_8080_u64);
        let mut words = bytes.chunks_exact(8);
        let mut at = 0;
        for w in words.by_ref() {
            let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]) ^ lanes;
            let mut m = !(((x & low7) + low7) | x) & high;
            while m != 0 {
                field(at + (m.trailing_zeros() / 8) as usize, &mut f);
                m &= m - 1;
            }
            at += 8;
        }
        for (k, &b) in words.remainder().iter().enumerate() {
            if b == sep {
                field(at + k, &mut f);
            }
        }
        field(line.len(), &mut f);
        f
    }

    pub(crate) fn len(&self) -> usize {
        self.n
    }

    pub(crate) fn get(&self, i: usize) -> Option<&&'a str> {
        if i < self.n {
            self.v.get(i)
        } else {
            None
        }
    }
}

impl<'a> std::ops::Index<usize> for Fields<'a> {
    type Output = &'a str;
    fn index(&self, i: usize) -> &&'a str {
        &self.v[i]
    }
}

/// A decimal field as ClamAV reads numeric fields: ASCII digits only (leading zeros
/// allowed), no sign, at most 19 digits (so the value fits in a u64 without overflow checks).
pub(crate) fn number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut v = 0u64;
    for b in s.bytes() {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + d as u64;
    }
    Some(v)
}

/// Hex digit values; 0x80 marks a byte that is not a hex digit.
pub(crate) const HEX: [u8; 256] = {
    let mut t = [0x80u8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

#[inline]
pub(crate) fn hex_val(c: u8) -> Option<u8> {
    let v = HEX[c as usize];
    (v & 0x80 == 0).then_some(v)
}

/// Decodes an even-length hex string.
pub fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| Some(hex_val(p[0])? << 4 | hex_val(p[1])?))
        .collect()
}
