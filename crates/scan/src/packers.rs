//! Packed Windows executables, recognised and unpacked as ClamAV 1.4's `cli_scanpe` does
//! after the raw scan of a PE file: the PE header read as `cli_peheader` reads it, then the
//! packers tried in ClamAV's order. What an unpacker rebuilds is scanned as a file of its own.
//!
//! Unpacked: UPX (NRV2B, NRV2D, NRV2E, LZMA; [`crate::upx`]). Recognised but not unpacked
//! (the file is then reported as partly scanned): MEW, Upack and FSG, whose entry code ClamAV
//! checks before UPX's. Petite, PESpin, yC, WWPack, ASPack and NsPack, which ClamAV tries
//! after UPX, are not recognised yet.

use crate::upx::{self, pealign, pesalign, Method};

/// A section as ClamAV's `cli_exe_section` holds it: aligned (`rva`, `vsz`, `raw`, `rsz`)
/// and as declared (`u*`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Section {
    pub rva: u32,
    pub vsz: u32,
    pub raw: u32,
    pub rsz: u32,
    pub urva: u32,
    pub uvsz: u32,
    pub uraw: u32,
    pub ursz: u32,
}

/// What `cli_peheader` gives `cli_scanpe` of a 32-bit PE file.
#[derive(Debug)]
pub(crate) struct PeInfo {
    pub sections: Vec<Section>,
    /// The entry point's RVA.
    pub vep: u32,
    /// The entry point's file offset.
    pub ep: u32,
    pub image_base: u32,
    /// The lowest section RVA.
    pub min: u32,
    pub opt_hdr_size: u16,
}

fn u16_at(d: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        d.get(o..o.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(d: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        d.get(o..o.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// `cli_peheader` with `cli_scanpe`'s options (sections wholly outside the file removed, not
/// strict on alignment). `None` for a file ClamAV does not unpack: not PE, broken, or PE32+.
pub(crate) fn peinfo(d: &[u8]) -> Option<PeInfo> {
    let magic = u16_at(d, 0)?;
    if magic != 0x5a4d && magic != 0x4d5a {
        return None;
    }
    let lfanew = u32_at(d, 0x3c)? as usize;
    if lfanew == 0 || u32_at(d, lfanew)? != 0x4550 {
        return None;
    }
    let nsections = u16_at(d, lfanew + 6)?;
    let opt_hdr_size = u16_at(d, lfanew + 20)?;
    if nsections == 0 || opt_hdr_size < 96 {
        return None;
    }
    let opt = lfanew + 24;
    // PE32+ files are not unpacked.
    if u16_at(d, opt)? == 0x20b {
        return None;
    }
    let _ = d.get(opt..opt + 96)?;
    let vep = u32_at(d, opt + 16)?;
    let image_base = u32_at(d, opt + 28)?;
    let salign = u32_at(d, opt + 32)?;
    let mut falign = u32_at(d, opt + 36)?;
    let hdr_size = u32_at(d, opt + 60)?;
    let ndatadirs = u32_at(d, opt + 92)?.min(16);
    if u32::from(opt_hdr_size) < 96 + 8 * ndatadirs {
        return None;
    }
    let _ = d.get(opt + 96..opt + 96 + 8 * ndatadirs as usize)?;
    let hdr_size = pesalign(hdr_size, salign);
    let table = opt + usize::from(opt_hdr_size);
    let heads = d.get(table..table + 40 * usize::from(nsections))?;
    let head = |i: usize, f: usize| u32_at(heads, 40 * i + f).unwrap_or(0);
    if falign != 0x200
        && (0..usize::from(nsections)).any(|i| {
            falign != 0 && head(i, 16) != 0 && head(i, 20) % falign != 0 && head(i, 20) % 0x200 == 0
        })
    {
        falign = 0x200;
    }
    let fsize = d.len() as u64;
    let mut sections: Vec<Section> = Vec::with_capacity(usize::from(nsections));
    let mut min = 0u32;
    for i in 0..usize::from(nsections) {
        let mut s = Section {
            rva: pealign(head(i, 12), salign),
            vsz: pesalign(head(i, 8), salign),
            raw: pealign(head(i, 20), falign),
            rsz: pesalign(head(i, 16), falign),
            urva: head(i, 12),
            uvsz: head(i, 8),
            uraw: head(i, 20),
            ursz: head(i, 16),
        };
        if s.rsz != 0 {
            if u64::from(s.raw) >= fsize || u64::from(s.uraw) >= fsize {
                // Removed, as `CLI_PEHEADER_OPT_REMOVE_MISSING_SECTIONS` asks.
                if nsections == 1 {
                    return None;
                }
                continue;
            }
            if u64::from(s.raw) + u64::from(s.rsz) > fsize {
                s.rsz = (fsize - u64::from(s.raw)) as u32;
            }
            if u64::from(s.uraw) + u64::from(s.ursz) > fsize {
                s.ursz = (fsize - u64::from(s.uraw)) as u32;
            }
        }
        if s.vsz == 0 && s.rsz != 0 {
            s.vsz = pesalign(s.ursz, salign);
        }
        if s.urva >> 31 != 0
            || s.uvsz >> 31 != 0
            || (s.rsz != 0 && s.uraw >> 31 != 0)
            || s.ursz >> 31 != 0
        {
            return None;
        }
        min = if sections.is_empty() {
            s.rva
        } else {
            min.min(s.rva)
        };
        sections.push(s);
    }
    // `cli_rawaddr`.
    let ep = if vep < hdr_size {
        if u64::from(vep) >= fsize {
            return None;
        }
        vep
    } else {
        let s = sections
            .iter()
            .rev()
            .find(|s| s.rsz != 0 && s.rva <= vep && s.rsz > vep - s.rva)?;
        vep - s.rva + s.raw
    };
    Some(PeInfo {
        sections,
        vep,
        ep,
        image_base,
        min,
        opt_hdr_size,
    })
}

/// What became of a PE file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unpacked {
    /// Not packed with anything recognised (or not a PE file ClamAV unpacks).
    None,
    /// Unpacked: the packer's name and the rebuilt file.
    Rebuilt(&'static str, Vec<u8>),
    /// Packed, but not unpacked: the packer, and why.
    Packed(&'static str, String),
    /// Over the scan limits (`CLI_UNPSIZELIMITS`): the size it would take, and the limit.
    Limit(&'static str, u64, crate::archive::Limit),
}

const UPX_NRV2B: &[u8] = b"\x11\xdb\x11\xc9\x01\xdb\x75\x07\x8b\x1e\x83\xee\xfc\x11\xdb\x11\xc9\x11\xc9\x75\x20\x41\x01\xdb";
const UPX_NRV2D: &[u8] = b"\x83\xf0\xff\x74\x78\xd1\xf8\x89\xc5\xeb\x0b\x01\xdb\x75\x07\x8b\x1e\x83\xee\xfc\x11\xdb\x11\xc9";
const UPX_NRV2E: &[u8] = b"\xeb\x52\x31\xc9\x83\xe8\x03\x72\x11\xc1\xe0\x08\x8a\x06\x46\x83\xf0\xff\x74\x75\xd1\xf8\x89\xc5";
const UPX_LZMA1_FIRST: &[u8] = b"\x56\x83\xc3\x04\x53\x50\xc7\x03";
const UPX_LZMA1_SECOND: &[u8] = b"\x90\x90\x90\x55\x57\x56\x53\x83";
const UPX_LZMA2: &[u8] =
    b"\x56\x83\xc3\x04\x53\x50\xc7\x03\x03\x00\x02\x00\x90\x90\x90\x90\x90\x55\x57\x56";

/// ClamAV's `cli_memstr(pattern, len, epbuff + at, n)`: the `n` bytes of the entry-point
/// buffer at `at` occur somewhere in `pattern` (the loader's code, found at a small skew).
fn ep_in(pattern: &[u8], ep: &[u8], at: usize, n: usize) -> bool {
    ep.get(at..at + n)
        .is_some_and(|w| memchr::memmem::find(pattern, w).is_some())
}

fn rd32(d: &[u8], o: usize) -> u32 {
    u32_at(d, o).unwrap_or(0)
}

/// ClamAV's most allocation (`CLI_MAX_ALLOCATION`).
const MAX_ALLOCATION: u32 = 1 << 30;

/// Unpacks `d` as `cli_scanpe` would. `fits(size)` is `CLI_UNPSIZELIMITS`: whether an
/// unpacker may work with `size` bytes under the scan limits, or the limit it is over.
pub(crate) fn unpack(
    d: &[u8],
    fits: &mut dyn FnMut(u64) -> Result<(), crate::archive::Limit>,
) -> Unpacked {
    let Some(pe) = peinfo(d) else {
        return Unpacked::None;
    };
    let n = pe.sections.len();
    let s = &pe.sections;
    let upack = pe.opt_hdr_size == 0x148;
    // The entry point's first 4 KiB (ClamAV's `epbuff`; bytes past the end read as zero).
    let mut epbuff = [0u8; 4096];
    let epsize = d.len().saturating_sub(pe.ep as usize).min(4096);
    if epsize > 0 {
        epbuff[..epsize].copy_from_slice(&d[pe.ep as usize..pe.ep as usize + epsize]);
    }
    let ep = &epbuff[..];
    // The first empty section followed by a non-empty one: UPX, FSG and MEW leave one.
    let found = (0..n.saturating_sub(1))
        .find(|&i| s[i].rsz == 0 && s[i].vsz != 0 && s[i + 1].rsz != 0 && s[i + 1].vsz != 0);
    let base = pe.image_base;
    let esi = || rd32(ep, 1).wrapping_sub(base);
    if found.is_some() && epsize >= 16 && ep[0] == 0xe9 {
        let off = pe.vep.wrapping_add(rd32(ep, 1)).wrapping_add(5);
        if off == 0x154 || off == 0x158 {
            return Unpacked::Packed("MEW", "packed with MEW, which is not unpacked yet".into());
        }
    }
    if epsize < 168 {
        return Unpacked::None;
    }
    if found.is_some() || upack {
        let upack3 = upack
            && n == 3
            && ep[0] == 0xbe
            && esi() > pe.min
            && ((ep[5] == 0xad && ep[6] == 0x50) || (ep[5] == 0xff && ep[6] == 0x36));
        let upack2 = !upack
            && n == 2
            && ((ep[0] == 0x60 && ep[1] == 0xe8 && rd32(ep, 2) == 9)
                || (ep[0] == 0xbe
                    && esi() < pe.min
                    && (rd32(ep, 1) as i32) > base as i32
                    && ep[5] == 0xad
                    && ep[6] == 0x8b
                    && ep[7] == 0xf8));
        if upack3 || upack2 {
            return Unpacked::Packed(
                "Upack",
                "packed with Upack, which is not unpacked yet".into(),
            );
        }
    }
    let Some(i) = found else {
        return Unpacked::None;
    };
    // FSG 2.0, 1.33 and 1.31, which ClamAV tries before UPX.
    let fsg = (ep[0] == 0x87 && ep[1] == 0x25)
        || (ep[0] == 0xbe && esi() < pe.min)
        || (ep[0] == 0xbb
            && esi() < pe.min
            && ep[5] == 0xbf
            && ep[10] == 0xbe
            && pe.vep >= s[i + 1].rva
            && pe.vep - s[i + 1].rva > s[i + 1].rva.wrapping_sub(0xe0));
    if fsg {
        return Unpacked::Packed("FSG", "packed with FSG, which is not unpacked yet".into());
    }
    upx_unpack(d, &pe, i, ep, fits)
}

/// The UPX part of `cli_scanpe`, for the empty section `i` (UPX0) and the next (UPX1).
fn upx_unpack(
    d: &[u8],
    pe: &PeInfo,
    i: usize,
    ep: &[u8],
    fits: &mut dyn FnMut(u64) -> Result<(), crate::archive::Limit>,
) -> Unpacked {
    let s = &pe.sections;
    let ssize = s[i + 1].rsz;
    let dsize = s[i].vsz.wrapping_add(s[i + 1].vsz);
    let need = u64::from(dsize.max(ssize));
    if let Err(l) = fits(need) {
        return Unpacked::Limit("UPX", need, l);
    }
    if ssize <= 0x19 || dsize <= ssize || dsize > MAX_ALLOCATION {
        return Unpacked::None;
    }
    let raw = s[i + 1].raw as usize;
    let Some(src) = d.get(raw..raw + ssize as usize) else {
        return Unpacked::Packed("UPX", "the packed section can't be read".into());
    };
    let mut dest = vec![0u8; dsize as usize + 8192];
    let (upx0, upx1, vep) = (s[i].rva, s[i + 1].rva, pe.vep);
    let looks = |pat: &[u8]| ep_in(pat, ep, 0x69, 13) || ep_in(pat, ep, 0x69 + 8, 13);
    let preferred = if looks(UPX_NRV2B) {
        Some(Method::Nrv2b)
    } else if looks(UPX_NRV2D) {
        Some(Method::Nrv2d)
    } else if looks(UPX_NRV2E) {
        Some(Method::Nrv2e)
    } else {
        None
    };
    let mut result: Option<u32> = None;
    if let Some(m) = preferred {
        let mut skew = rd32(ep, 2).wrapping_sub(pe.image_base).wrapping_sub(upx1) as i32;
        if ep[1] != 0xbe || skew <= 0 || skew > 0xfff || skew as u32 > ssize {
            skew = 0;
        }
        let k = skew as usize;
        result = upx::inflate(
            m,
            &src[k..],
            &mut dest,
            dsize,
            upx0,
            upx1,
            vep.wrapping_sub(k as u32),
        );
        if result.is_none() && skew != 0 {
            result = upx::inflate(m, src, &mut dest, dsize, upx0, upx1, vep);
        }
    }
    for m in [Method::Nrv2b, Method::Nrv2d, Method::Nrv2e] {
        if result.is_some() || preferred == Some(m) {
            continue;
        }
        result = upx::inflate(m, src, &mut dest, dsize, upx0, upx1, vep).or_else(|| {
            upx::inflate(
                m,
                &src[0x15..],
                &mut dest,
                dsize,
                upx0,
                upx1,
                vep.wrapping_sub(0x15),
            )
        });
    }
    // LZMA, whose attempt (when the loader looks like it) decides over the others'.
    let lzma = if ep_in(UPX_LZMA2, ep, 0x2f, 20) {
        Some((rd32(ep, 0x21), 0x20003))
    } else if ep_in(UPX_LZMA1_FIRST, ep, 0x39, 8) && ep_in(UPX_LZMA1_SECOND, ep, 0x45, 8) {
        Some((rd32(ep, 0x2b), rd32(ep, 0x41)))
    } else {
        None
    };
    let mut out_len = result;
    // A successful NRV rebuild left its size in ClamAV's `dsize`.
    let dsize = result.unwrap_or(dsize);
    if let Some((strict, props)) = lzma {
        let mut skew = 0u32;
        if ssize > 0x15 && ep[0] == 0x60 && ep[1] == 0xbe {
            skew = rd32(ep, 2).wrapping_sub(upx1).wrapping_sub(pe.image_base);
            if skew != 0x15 {
                skew = 0;
            }
        }
        if strict <= dsize {
            // ClamAV writes out `dsize` bytes whatever the LZMA rebuild's size.
            out_len = upx::inflate_lzma(
                &src[skew as usize..],
                &mut dest,
                strict,
                upx0,
                upx1,
                vep,
                props,
            )
            .map(|_| dsize);
        }
    }
    match out_len {
        Some(len) => {
            dest.truncate(len as usize);
            Unpacked::Rebuilt("UPX", dest)
        }
        // Reported only where the loader named UPX: an empty section alone (a `.bss`) is
        // common in executables that are not packed at all.
        None if preferred.is_some() || lzma.is_some() => Unpacked::Packed(
            "UPX",
            "the loader is UPX's, but every decompressor failed (damaged data)".into(),
        ),
        None => Unpacked::None,
    }
}
