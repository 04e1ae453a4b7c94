//! UPX-packed Windows executables, unpacked as ClamAV 1.4's `upx.c` unpacks them: the UPX1
//! section is decompressed (NRV2B, NRV2D, NRV2E or LZMA) into a buffer the size of both UPX
//! sections, and a PE file is rebuilt around the result (`pefromupx`): from the original
//! headers UPX keeps after the imports, else from a PE header found in the data, else from a
//! header ClamAV forges. The rebuilt file is what gets scanned, so its bytes must be
//! ClamAV's, down to the quirks (a failed attempt's output left in the buffer, headers
//! patched in place when the rebuild gives up half-way).
//!
//! Every read is bounds-checked as ClamAV's `CLI_ISCONTAINED` checks it; the output is bounded
//! by the declared section sizes, which the caller checks against the scan limits first.

/// The DOS header and stub of every rebuilt file (`MZ`, `e_lfanew` 0xd0).
const HEADERS: &[u8; 0xd0] = b"\
\x4D\x5A\x90\x00\x02\x00\x00\x00\x04\x00\x0F\x00\xFF\xFF\x00\x00\
\xB0\x00\x00\x00\x00\x00\x00\x00\x40\x00\x1A\x00\x00\x00\x00\x00\
\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xD0\x00\x00\x00\
\x0E\x1F\xB4\x09\xBA\x0D\x00\xCD\x21\xB4\x4C\xCD\x21\x54\x68\x69\
\x73\x20\x66\x69\x6C\x65\x20\x77\x61\x73\x20\x63\x72\x65\x61\x74\
\x65\x64\x20\x62\x79\x20\x43\x6C\x61\x6D\x41\x56\x20\x66\x6F\x72\
\x20\x69\x6E\x74\x65\x72\x6E\x61\x6C\x20\x75\x73\x65\x20\x61\x6E\
\x64\x20\x73\x68\x6F\x75\x6C\x64\x20\x6E\x6F\x74\x20\x62\x65\x20\
\x72\x75\x6E\x2E\x0D\x0A\x43\x6C\x61\x6D\x41\x56\x20\x2D\x20\x41\
\x20\x47\x50\x4C\x20\x76\x69\x72\x75\x73\x20\x73\x63\x61\x6E\x6E\
\x65\x72\x20\x2D\x20\x68\x74\x74\x70\x3A\x2F\x2F\x77\x77\x77\x2E\
\x63\x6C\x61\x6D\x61\x76\x2E\x6E\x65\x74\x0D\x0A\x24\x00\x00\x00";

/// The PE header forged when no header is found: one section, `.clam01`.
const FAKEPE: &[u8; 0x120] = b"\
\x50\x45\x00\x00\x4C\x01\x01\x00\x43\x4C\x41\x4D\x00\x00\x00\x00\
\x00\x00\x00\x00\xE0\x00\x83\x8F\x0B\x01\x00\x00\x00\x10\x00\x00\
\x00\x10\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x10\x00\x00\
\x00\x10\x00\x00\x00\x00\x40\x00\x00\x10\x00\x00\x00\x02\x00\x00\
\x01\x00\x00\x00\x00\x00\x00\x00\x03\x00\x0A\x00\x00\x00\x00\x00\
\xFF\xFF\xFF\xFF\x00\x02\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\
\x00\x00\x10\x00\x00\x10\x00\x00\x00\x00\x10\x00\x00\x10\x00\x00\
\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
\x00\x00\x00\x00\x00\x00\x00\x00\x2e\x63\x6c\x61\x6d\x30\x31\x00\
\xFF\xFF\xFF\xFF\x00\x10\x00\x00\xFF\xFF\xFF\xFF\x00\x02\x00\x00\
\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff";

/// Which decompressor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Nrv2b,
    Nrv2d,
    Nrv2e,
}

impl Method {
    /// The offsets from the entry point, in the UPX1 data, where ClamAV looks for the
    /// `lea edi, [esi + imports]` that gives the imports' offset.
    fn magic(self) -> &'static [u32] {
        match self {
            Method::Nrv2b => &[0x108, 0x110, 0xd5],
            Method::Nrv2d => &[0x11c, 0x124],
            Method::Nrv2e => &[0x128, 0x130],
        }
    }
}

/// ClamAV's `CLI_ISCONTAINED` with the big buffer at 0: `[at, at + len)` lies inside
/// `[0, size)`, and neither is empty.
fn contained(size: i64, at: i64, len: i64) -> bool {
    size > 0 && len > 0 && len <= size && at >= 0 && at + len <= size && at < size
}

fn rd32(d: &[u8], at: i64) -> u32 {
    usize::try_from(at)
        .ok()
        .and_then(|a| d.get(a..a.checked_add(4)?))
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn wr32(d: &mut [u8], at: usize, v: u32) {
    if let Some(b) = at.checked_add(4).and_then(|e| d.get_mut(at..e)) {
        b.copy_from_slice(&v.to_le_bytes());
    }
}

fn byte(d: &[u8], at: i64) -> u8 {
    usize::try_from(at)
        .ok()
        .and_then(|a| d.get(a).copied())
        .unwrap_or(0)
}

/// `PEALIGN`: rounded down to `a` (unchanged when `a` is 0), in 32 bits as ClamAV computes it.
pub(crate) fn pealign(o: u32, a: u32) -> u32 {
    o.checked_div(a).map_or(o, |q| q.wrapping_mul(a))
}

/// `PESALIGN`: rounded up to `a`, wrapping in 32 bits as ClamAV's does.
pub(crate) fn pesalign(o: u32, a: u32) -> u32 {
    o.checked_div(a)
        .map_or(o, |q| (q + u32::from(!o.is_multiple_of(a))).wrapping_mul(a))
}

/// The bit reader of the NRV decoders (`doubleebx`): 32-bit little-endian words read
/// most significant bit first, interleaved with the byte stream.
struct Bits<'a> {
    src: &'a [u8],
    ebx: u32,
    cur: u32,
}

impl Bits<'_> {
    fn bit(&mut self) -> Option<u32> {
        let old = self.ebx;
        self.ebx = self.ebx.wrapping_mul(2);
        if old & 0x7fff_ffff == 0 {
            if !contained(self.src.len() as i64, i64::from(self.cur), 4) {
                return None;
            }
            let w = rd32(self.src, i64::from(self.cur));
            self.ebx = w.wrapping_mul(2).wrapping_add(1);
            self.cur += 4;
            return Some(w >> 31);
        }
        Some(old >> 31)
    }

    fn byte(&mut self) -> Option<u8> {
        let b = *self.src.get(self.cur as usize)?;
        self.cur += 1;
        Some(b)
    }
}

/// The offset and length codes after the literals, which differ between the three methods.
impl Bits<'_> {
    /// A gamma code: `v = v * 2 + bit` until a stop bit. NRV2D and NRV2E take one off before
    /// each further digit.
    fn offset(&mut self, minus: bool) -> Option<i32> {
        let mut v: i32 = 1;
        loop {
            let oob = self.bit()?;
            if i64::from(v) + i64::from(oob) > i64::from(i32::MAX / 2) {
                return None;
            }
            v = v * 2 + oob as i32;
            if self.bit()? != 0 {
                return Some(v);
            }
            if minus {
                v -= 1;
                let oob = self.bit()?;
                if i64::from(v) + i64::from(oob) > i64::from(i32::MAX / 2) {
                    return None;
                }
                v = v * 2 + oob as i32;
            }
        }
    }

    /// The long length code: from 1, `v = v * 2 + bit` until a stop bit, plus 2.
    fn long_len(&mut self) -> Option<u32> {
        let mut v: u32 = 1;
        loop {
            let oob = self.bit()?;
            if v + oob > u32::MAX / 2 {
                return None;
            }
            v = v * 2 + oob;
            if self.bit()? != 0 {
                return v.checked_add(2);
            }
        }
    }
}

/// `upx_inflate2b`, `2d` and `2e`: decompresses `src` into `dst` (of which the first `dsize`
/// bytes may be written; the buffer itself is `dsize + 8192` long, as ClamAV allocates it),
/// then rebuilds the PE file in `dst`. `None` where ClamAV's returns -1 (a failure); else the
/// size of the result.
#[allow(clippy::too_many_arguments)]
pub(crate) fn inflate(
    method: Method,
    src: &[u8],
    dst: &mut [u8],
    dsize: u32,
    upx0: u32,
    upx1: u32,
    ep: u32,
) -> Option<u32> {
    let mut b = Bits {
        src,
        ebx: 0,
        cur: 0,
    };
    let mut unp_offset: i32 = -1;
    let mut dcur: u32 = 0;
    let cap = i64::from(dsize);
    loop {
        while b.bit()? == 1 {
            if b.cur as usize >= src.len() || dcur >= dsize {
                return None;
            }
            dst[dcur as usize] = src[b.cur as usize];
            b.cur += 1;
            dcur += 1;
        }
        let mut backbytes = b.offset(method != Method::Nrv2b)? - 3;
        // NRV2D and NRV2E carry the offset's low bit (or, for a repeated offset, one more bit)
        // into the length, as UPX's loader does with the carry flag.
        let mut carry = None;
        if backbytes >= 0 {
            if b.cur as usize >= src.len() || backbytes as u32 & 0xff00_0000 != 0 {
                return None;
            }
            backbytes = backbytes.wrapping_shl(8).wrapping_add(i32::from(b.byte()?)) ^ -1;
            if backbytes == 0 {
                break;
            }
            if method == Method::Nrv2b {
                unp_offset = backbytes;
            } else {
                carry = Some((backbytes & 1) as u32);
                unp_offset = backbytes >> 1;
            }
        }
        let mut backsize: u32 = match method {
            Method::Nrv2b | Method::Nrv2d => {
                let first = match carry {
                    Some(c) => c,
                    None => b.bit()?,
                };
                let oob = b.bit()?;
                let v = first * 2 + oob;
                if v == 0 {
                    b.long_len()?
                } else {
                    v
                }
            }
            Method::Nrv2e => {
                let first = match carry {
                    Some(c) => c,
                    None => b.bit()?,
                };
                if first != 0 {
                    b.bit()?
                } else if b.bit()? != 0 {
                    2 + b.bit()?
                } else {
                    b.long_len()?
                }
            }
        };
        let threshold = if method == Method::Nrv2b {
            0xffff_f300
        } else {
            0xffff_fb00
        };
        if (unp_offset as u32) < threshold {
            backsize += 1;
        }
        backsize = backsize.checked_add(if method == Method::Nrv2e { 2 } else { 1 })?;
        let from = i64::from(dcur) + i64::from(unp_offset);
        if !contained(cap, from, i64::from(backsize))
            || !contained(cap, i64::from(dcur), i64::from(backsize))
            || unp_offset >= 0
        {
            return None;
        }
        let (from, to) = (from as usize, dcur as usize);
        for i in 0..backsize as usize {
            dst[to + i] = dst[from + i];
        }
        dcur += backsize;
    }
    Some(pefromupx(
        src,
        dst,
        dsize,
        ep,
        upx0,
        upx1,
        method.magic(),
        dcur,
    ))
}

/// `checkpe`: a PE header at `pehdr` in the first `dsize` bytes of `dst`, with its section
/// table: the section alignment, the section count and the table's offset.
fn checkpe(dst: &[u8], dsize: u32, pehdr: i64) -> Option<(u32, u32, i64)> {
    let cap = i64::from(dsize);
    if !contained(cap, pehdr, 0xf8) || rd32(dst, pehdr) != 0x4550 {
        return None;
    }
    let valign = rd32(dst, pehdr + 0x38);
    if valign == 0 {
        return None;
    }
    let sectcnt = u32::from(byte(dst, pehdr + 6)) + u32::from(byte(dst, pehdr + 7)) * 256;
    if sectcnt == 0 {
        return None;
    }
    let sections = pehdr + 0xf8;
    if !contained(cap, sections, i64::from(sectcnt) * 0x28) {
        return None;
    }
    Some((valign, sectcnt, sections))
}

/// `pefromupx`: rebuilds a PE file from the `dend` bytes decompressed into `dst`, and returns
/// the size of the result in `dst`. Where ClamAV gives the rebuild up (a section out of
/// bounds, a raw size that does not fit) its caller still takes the decompression as a
/// success, and scans the buffer as it is: `dsize` bytes, headers possibly patched.
#[allow(clippy::too_many_arguments)]
fn pefromupx(
    src: &[u8],
    dst: &mut [u8],
    dsize: u32,
    ep: u32,
    upx0: u32,
    upx1: u32,
    magic: &[u32],
    dend: u32,
) -> u32 {
    let ssize = src.len() as i64;
    let cap = i64::from(dsize);
    let base = i64::from(ep) - i64::from(upx1);
    // The imports' offset, from the loader's `lea edi, [esi + imports]`.
    let mut valign = magic
        .iter()
        .copied()
        .find(|&m| {
            let at = base + i64::from(m) - 2;
            contained(ssize - 5, at, 2) && byte(src, at) == 0x8d && byte(src, at + 1) == 0xbe
        })
        .unwrap_or(0);
    if valign == 0 && contained(ssize - 8, base + 0x80, 8) {
        // "bad magic - scanning for imports": a `lea edi, [esi+imports]` followed by
        // `mov eax, [edi]`.
        let mut pt = base + 0x80;
        while let Some(rel) = usize::try_from(ssize - pt - 8)
            .ok()
            .and_then(|hs| src.get(pt as usize..(pt as usize).checked_add(hs)?))
            .and_then(|h| memchr::memmem::find(h, b"\x8d\xbe"))
        {
            pt += rel as i64;
            if byte(src, pt + 6) == 0x8b && byte(src, pt + 7) == 0x07 {
                valign = (pt + 2 - base) as u32;
                break;
            }
            pt += 1;
        }
    }
    let mut pehdr: Option<i64> = None;
    let mut table: Option<(u32, u32, i64)> = None;
    let mut realstuffsz: u32 = 0;
    if valign != 0 && contained(ssize, base + i64::from(valign), 4) {
        let imports = rd32(src, base + i64::from(valign));
        realstuffsz = imports;
        if realstuffsz < dsize {
            // Past the import descriptors and their names: the original PE header.
            let mut p = i64::from(imports);
            while contained(cap, p, 8) && rd32(dst, p) != 0 {
                p += 8;
                while contained(cap, p, 2) && byte(dst, p) != 0 {
                    p += 1;
                    while contained(cap, p, 2) && byte(dst, p) != 0 {
                        p += 1;
                    }
                    p += 1;
                }
                p += 1;
            }
            p += 4;
            table = checkpe(dst, dsize, p);
            pehdr = table.map(|_| p);
        }
    }
    if pehdr.is_none() && dend > 0xf8 + 0x28 {
        // "no luck - scanning for PE", backwards from the end.
        let mut p = i64::from(dend) - 0xf8 - 0x28;
        while p > 0 {
            table = checkpe(dst, dsize, p);
            if table.is_some() {
                break;
            }
            p -= 1;
        }
        realstuffsz = p as u32;
        pehdr = (p != 0).then_some(p);
    }
    let Some(pehdr) = pehdr else {
        // "brutally crafting a reasonable PE".
        let rebsz = pesalign(dend, 0x1000);
        let dend = dend as usize;
        // (An LZMA size the loader gives may exceed the buffer ClamAV allocated, whose
        // copy would then write past it: given up here instead.)
        if dend + 0x200 > dst.len() || rebsz as usize + 0x200 > dst.len() {
            return dsize;
        }
        dst.copy_within(0..dend, 0x200);
        dst[..0xd0].copy_from_slice(HEADERS);
        dst[0xd0..0x1f0].copy_from_slice(FAKEPE);
        dst[0x1f0..0x200].fill(0);
        wr32(dst, 0xd0 + 0x50, rebsz.wrapping_add(0x1000));
        wr32(dst, 0xd0 + 0x100, rebsz);
        wr32(dst, 0xd0 + 0x108, rebsz);
        return rebsz.wrapping_add(0x200);
    };
    let (valign, sectcnt, sections) = table.unwrap_or((0, 0, 0));
    let mut foffset = pesalign(0xd0 + 0xf8 + 0x28 * sectcnt, valign);
    for upd in 0..sectcnt {
        let s = (sections + 0x28 * i64::from(upd)) as usize;
        let vsize = pesalign(rd32(dst, s as i64 + 8), valign);
        let urva = pealign(rd32(dst, s as i64 + 12), valign);
        if !contained_u(upx0, realstuffsz, urva, vsize) {
            return dsize;
        }
        wr32(dst, s + 8, vsize);
        wr32(dst, s + 12, urva);
        wr32(dst, s + 16, vsize);
        wr32(dst, s + 20, foffset);
        let Some(next) = foffset.checked_add(vsize) else {
            return dsize;
        };
        foffset = next;
    }
    let pehdr = pehdr as usize;
    wr32(dst, pehdr + 8, 0x4d41_4c43);
    wr32(dst, pehdr + 0x3c, valign);
    // ClamAV builds the file in a new buffer, and copies it back only if it fits in the
    // decompression buffer (8 KiB are spare).
    if u64::from(foffset) > u64::from(dsize) + 8192
        || foffset > 1 << 30
        || foffset as usize > dst.len()
    {
        return dsize;
    }
    let mut out = vec![0u8; foffset as usize];
    out[..0xd0].copy_from_slice(HEADERS);
    let hdr_len = 0xf8 + 0x28 * sectcnt as usize;
    out[0xd0..0xd0 + hdr_len].copy_from_slice(&dst[pehdr..pehdr + hdr_len]);
    for upd in 0..sectcnt as usize {
        let s = pehdr + 0xf8 + 0x28 * upd;
        let offset1 = rd32(dst, s as i64 + 20);
        let offset2 = rd32(dst, s as i64 + 16);
        if offset1 > foffset
            || offset2 > foffset
            || u64::from(offset1) + u64::from(offset2) > u64::from(foffset)
        {
            return dsize;
        }
        let offset3 = rd32(dst, s as i64 + 12);
        let from = offset3.wrapping_sub(upx0);
        if from > dsize {
            return dsize;
        }
        let (o1, o2, from) = (offset1 as usize, offset2 as usize, from as usize);
        out[o1..o1 + o2].copy_from_slice(&dst[from..from + o2]);
    }
    dst[..foffset as usize].copy_from_slice(&out);
    foffset
}

/// `CLI_ISCONTAINED` on 32-bit values (ClamAV's section bounds check).
fn contained_u(bb: u32, bb_size: u32, sb: u32, sb_size: u32) -> bool {
    let (bb, bbs, sb, sbs) = (
        u64::from(bb),
        u64::from(bb_size),
        u64::from(sb),
        u64::from(sb_size),
    );
    bbs > 0
        && sbs > 0
        && sbs <= bbs
        && sb >= bb
        && sb + sbs <= bb + bbs
        && sb + sbs > bb
        && sb < bb + bbs
}

/// `upx_inflatelzma`: LZMA with the properties the loader gives (`lc`, `lp`, `pb` in the low
/// three bytes), the stream two bytes into `src`. Output stops where the input ends (not a
/// failure, as in ClamAV); damaged data is. `None` on failure, else the rebuilt size.
#[allow(clippy::too_many_arguments)]
pub(crate) fn inflate_lzma(
    src: &[u8],
    dst: &mut [u8],
    dsize: u32,
    upx0: u32,
    upx1: u32,
    ep: u32,
    properties: u32,
) -> Option<u32> {
    let lc = properties & 0xff;
    let lp = (properties >> 8) & 0xff;
    let pb = (properties >> 16) & 0xff;
    if lc >= 9 || lp >= 5 || pb >= 5 {
        return None;
    }
    let props = (lc + 9 * (5 * pb + lp)) as u8;
    let input = src.get(2..).unwrap_or_default();
    let mut r = lzma_rust2::LzmaReader::new_with_props(
        input,
        u64::from(dsize),
        props,
        dsize.max(4096),
        None,
    )
    .ok()?;
    let out = &mut dst[..dsize as usize];
    let mut at = 0;
    while at < out.len() {
        match std::io::Read::read(&mut r, &mut out[at..]) {
            Ok(0) => break,
            Ok(n) => at += n,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(_) => return None,
        }
    }
    Some(pefromupx(
        src,
        dst,
        dsize,
        ep,
        upx0,
        upx1,
        &[0xb16, 0xb1e],
        dsize,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random and hostile streams: every method fails or stops inside its buffer, and the
    /// rebuild never reads or writes outside it.
    #[test]
    fn hostile_streams_stay_in_bounds() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..3000 {
            let len = 26 + (next() % 600) as usize;
            let mut src: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 3 == 0 {
                // Mostly literals, then a run of ones: long copies and huge gamma codes.
                for b in src.iter_mut().take(len / 2) {
                    *b = 0xff;
                }
            }
            let dsize = 1 + (next() % 5000) as u32;
            for m in [Method::Nrv2b, Method::Nrv2d, Method::Nrv2e] {
                let mut dst = vec![0u8; dsize as usize + 8192];
                if let Some(n) = inflate(
                    m,
                    &src,
                    &mut dst,
                    dsize,
                    0x1000,
                    0x2000,
                    0x2000 + (next() % 700) as u32,
                ) {
                    assert!(n as usize <= dst.len());
                }
            }
            let mut dst = vec![0u8; dsize as usize + 8192];
            let strict = dsize + (next() % 8192) as u32;
            let _ = inflate_lzma(
                &src,
                &mut dst,
                strict.min(dsize + 8000),
                0x1000,
                0x2000,
                0x2000,
                0x20003,
            );
        }
    }

    /// A forged header over a buffer full of PE signatures: the scan for a header is linear
    /// and stays inside the data.
    #[test]
    fn header_scan_over_many_signatures() {
        let mut dst = b"PE\0\0".repeat(20_000);
        let dsize = dst.len() as u32;
        dst.resize(dst.len() + 8192, 0);
        let n = pefromupx(
            &[0; 64],
            &mut dst,
            dsize,
            0,
            0x1000,
            0x2000,
            &[0x108],
            dsize,
        );
        assert!(n as usize <= dst.len());
    }
}
