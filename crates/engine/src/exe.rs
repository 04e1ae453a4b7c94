//! The executable layout that `EP`, `Sx`, `SEx` and `SL` offsets and the `EntryPoint` and
//! `NumberOfSections` conditions count from, computed as ClamAV computes it
//! (`cli_peheader`, `cli_elfheader`, `cli_machoheader`) from headers read by the `object`
//! crate, which bounds-checks every read.
//!
//! - PE: the entry point is the file offset of `AddressOfEntryPoint` (itself when it lies in
//!   the headers; else through the last section whose raw data holds it); each section
//!   starts at `PointerToRawData` rounded down to `FileAlignment` and is `SizeOfRawData`
//!   rounded up to it, cut at the end of the file (a section outside the file keeps its
//!   place with size 0).
//! - ELF: the entry point is `e_entry` mapped through the first program header whose memory
//!   range holds it (0 without an entry or program headers); the sections are the section
//!   header table, the null section included.
//! - Mach-O: the sections of every segment, in command order, each `size` rounded up to its
//!   alignment; ClamAV takes an entry point only from PowerPC thread states, so it is 0 here
//!   for the Intel and ARM files that exist today.
//!
//! `None` means the headers could not be read: ClamAV then lets no relative offset match.

use detente_sigs::ExeLayout;
use object::read::elf::{ProgramHeader as _, SectionHeader as _};
use object::read::macho::{Section as _, Segment as _};
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader as _};
use object::{Endianness, LittleEndian as LE};

use crate::filetype::FileType;

/// Most sections ClamAV reads from an ELF file.
const ELF_MAX_SECTIONS: usize = 256;
/// Most program headers ClamAV reads from an ELF file.
const ELF_MAX_SEGMENTS: usize = 128;
/// Most load commands ClamAV reads from a Mach-O file.
const MACHO_MAX_COMMANDS: u32 = 1024;
/// Most sections of one Mach-O segment ClamAV reads.
const MACHO_MAX_SEGMENT_SECTIONS: u32 = 255;
/// Most PE sections read (the format allows 96; the table is read as ClamAV reads it).
const PE_MAX_SECTIONS: usize = 96;

/// The layout of `data`, an executable of type `t`.
pub fn layout(t: FileType, data: &[u8]) -> Option<ExeLayout> {
    match t {
        FileType::Pe => pe(data),
        FileType::Elf => elf(data),
        FileType::MachO => macho(data),
        _ => None,
    }
}

fn align_down(v: u64, a: u64) -> u64 {
    v.checked_div(a).map_or(v, |q| q * a)
}

fn align_up(v: u64, a: u64) -> Option<u64> {
    if a == 0 {
        Some(v)
    } else {
        v.div_ceil(a).checked_mul(a)
    }
}

fn pe(data: &[u8]) -> Option<ExeLayout> {
    let magic = object::read::pe::optional_header_magic(data).ok()?;
    if magic == object::pe::IMAGE_NT_OPTIONAL_HDR64_MAGIC {
        pe_with::<object::pe::ImageNtHeaders64>(data)
    } else {
        pe_with::<object::pe::ImageNtHeaders32>(data)
    }
}

fn pe_with<H: ImageNtHeaders>(data: &[u8]) -> Option<ExeLayout> {
    let dos = object::pe::ImageDosHeader::parse(data).ok()?;
    let mut off = u64::from(dos.nt_headers_offset());
    let (nt, dirs) = H::parse(data, &mut off).ok()?;
    let opt = nt.optional_header();
    let table = nt.sections(data, off).ok()?;
    let fsize = data.len() as u64;
    let salign = u64::from(opt.section_alignment());
    let mut falign = u64::from(opt.file_alignment());
    let heads: Vec<_> = table.iter().take(PE_MAX_SECTIONS).collect();
    if heads.is_empty() {
        return None;
    }
    // ClamAV falls back to 0x200 when the declared alignment doesn't fit the sections.
    if falign != 0x200
        && heads.iter().any(|s| {
            let ptr = u64::from(s.pointer_to_raw_data.get(LE));
            s.size_of_raw_data.get(LE) != 0 && falign != 0 && ptr % falign != 0 && ptr % 0x200 == 0
        })
    {
        falign = 0x200;
    }
    let mut sections = Vec::with_capacity(heads.len());
    let mut virt = Vec::with_capacity(heads.len());
    for s in &heads {
        let uraw = u64::from(s.pointer_to_raw_data.get(LE));
        let ursz = u64::from(s.size_of_raw_data.get(LE));
        let raw = align_down(uraw, falign);
        let mut rsz = align_up(ursz, falign)?;
        if rsz != 0 && (raw >= fsize || uraw >= fsize) {
            rsz = 0;
        } else if raw + rsz > fsize {
            // (An empty section starting past the end stays empty; ClamAV's unsigned
            // arithmetic would make it wrap around.)
            rsz = fsize.saturating_sub(raw);
        }
        sections.push((raw, rsz));
        virt.push(align_down(u64::from(s.virtual_address.get(LE)), salign));
    }
    let vep = u64::from(opt.address_of_entry_point());
    let hdr_size = align_up(u64::from(opt.size_of_headers()), salign)?;
    // ClamAV's `cli_rawaddr`: an RVA in the headers is its own offset; else the last
    // section whose raw data holds it.
    let rawaddr = |rva: u64| -> Option<u64> {
        if rva < hdr_size {
            return (rva < fsize).then_some(rva);
        }
        let i = (0..sections.len()).rev().find(|&i| {
            let (_, rsz) = sections[i];
            rsz != 0 && virt[i] <= rva && rva - virt[i] < rsz
        })?;
        Some(rva - virt[i] + sections[i].0)
    };
    let entry = rawaddr(vep)?;
    let version_info = match dirs.get(2) {
        Some(d) if dirs.len() >= 3 && d.size.get(LE) != 0 => {
            version_strings(data, u64::from(d.virtual_address.get(LE)), &rawaddr)
        }
        _ => Vec::new(),
    };
    Some(ExeLayout {
        entry,
        sections,
        version_info,
    })
}

/// Most version-information resources ClamAV reads.
const MAX_VERSION_RESOURCES: usize = 16;
/// Most resource-directory entries read while looking for them: a crafted directory can
/// list 131,070 names that all lead to one language directory of as many entries.
const MAX_RESOURCE_ENTRIES: u64 = 4096;

fn u16_at(d: &[u8], o: u64) -> Option<u64> {
    let o = usize::try_from(o).ok()?;
    Some(u64::from(u16::from_le_bytes(
        d.get(o..o.checked_add(2)?)?.try_into().ok()?,
    )))
}

fn u32_at(d: &[u8], o: u64) -> Option<u64> {
    let o = usize::try_from(o).ok()?;
    Some(u64::from(u32::from_le_bytes(
        d.get(o..o.checked_add(4)?)?.try_into().ok()?,
    )))
}

/// The data-entry RVAs of the RT_VERSION resources (ClamAV's `findres(0x10, any name)`): the
/// first type entry with id 16, every name under it, every language under those.
fn version_resources(d: &[u8], res: u64, rawaddr: &dyn Fn(u64) -> Option<u64>) -> Vec<u64> {
    let mut out = Vec::new();
    let dir = |rva: u64| -> Option<u64> {
        let o = rawaddr(rva)?;
        (o + 16 <= d.len() as u64).then_some(o)
    };
    let Some(root) = dir(res) else {
        return out;
    };
    let (Some(named), Some(ids)) = (u16_at(d, root + 12), u16_at(d, root + 14)) else {
        return out;
    };
    let first = root + 16 + named * 8;
    let mut visited = 0u64;
    for t in 0..ids.min(MAX_RESOURCE_ENTRIES) {
        let e = first + t * 8;
        let (Some(ty), Some(off)) = (u32_at(d, e), u32_at(d, e + 4)) else {
            return out;
        };
        if ty != 0x10 || off >> 31 == 0 {
            continue;
        }
        let Some(names) = dir(res + (off & 0x7fff_ffff)) else {
            return out;
        };
        let n = u16_at(d, names + 12).unwrap_or(0) + u16_at(d, names + 14).unwrap_or(0);
        for k in 0..n.min(MAX_RESOURCE_ENTRIES) {
            let e = names + 16 + k * 8;
            let Some(noff) = u32_at(d, e + 4) else {
                return out;
            };
            if noff >> 31 == 0 {
                continue;
            }
            let Some(langs) = dir(res + (noff & 0x7fff_ffff)) else {
                return out;
            };
            let m = u16_at(d, langs + 12).unwrap_or(0) + u16_at(d, langs + 14).unwrap_or(0);
            for j in 0..m {
                visited += 1;
                if visited > MAX_RESOURCE_ENTRIES {
                    return out;
                }
                let Some(loff) = u32_at(d, langs + 16 + j * 8 + 4) else {
                    return out;
                };
                if loff >> 31 == 0 {
                    out.push(res + loff);
                    if out.len() == MAX_VERSION_RESOURCES {
                        return out;
                    }
                }
            }
        }
        return out;
    }
    out
}

/// The file offsets of a PE's version-information strings (where `VI` subsignatures must
/// start: each string's UTF-16 key), walked as ClamAV's `cli_peheader` walks them.
fn version_strings(d: &[u8], res: u64, rawaddr: &dyn Fn(u64) -> Option<u64>) -> Vec<u64> {
    const VS_VERSION_INFO: &[u8] = b"V\0S\0_\0V\0E\0R\0S\0I\0O\0N\0_\0I\0N\0F\0O\0\0\0";
    const VAR_FILE_INFO: &[u8] = b"V\0a\0r\0F\0i\0l\0e\0I\0n\0f\0o\0\0\0";
    const STRING_FILE_INFO: &[u8] = b"S\0t\0r\0i\0n\0g\0F\0i\0l\0e\0I\0n\0f\0o\0\0\0";
    let at = |o: u64, s: &[u8]| -> bool {
        usize::try_from(o)
            .ok()
            .and_then(|o| d.get(o..o.checked_add(s.len())?))
            == Some(s)
    };
    let mut out = Vec::new();
    for rva in version_resources(d, res, rawaddr) {
        let Some(entry) = rawaddr(rva) else { continue };
        let (Some(data_rva), Some(res_sz)) = (u32_at(d, entry), u32_at(d, entry + 4)) else {
            continue;
        };
        let Some(mut p) = rawaddr(data_rva) else {
            continue;
        };
        if p.checked_add(res_sz).is_none_or(|end| end > d.len() as u64) {
            continue;
        }
        // VS_VERSIONINFO: exactly one is looked at.
        let Some(word) = u32_at(d, p) else { continue };
        let (mut vsz, vval) = (word & 0xffff, word >> 16);
        if vsz > res_sz
            || vsz <= 6 + 0x20 + 2 + 0x34
            || vval != 0x34
            || !at(p + 6, VS_VERSION_INFO)
            || u32_at(d, p + 0x28) != Some(0xfeef_04bd)
        {
            continue;
        }
        p += 6 + 0x20 + 2 + 0x34;
        vsz -= 6 + 0x20 + 2 + 0x34;
        let mut got_var = false;
        'sfi: while vsz > 6 {
            let Some(sfi) = u32_at(d, p).map(|w| w & 0xffff) else {
                break;
            };
            if sfi > vsz {
                break;
            }
            if !got_var && sfi > 6 + 0x18 && at(p + 6, VAR_FILE_INFO) {
                p += sfi;
                vsz -= sfi;
                got_var = true;
                continue;
            }
            if sfi <= 6 + 0x1e || !at(p + 6, STRING_FILE_INFO) {
                break;
            }
            p += 6 + 0x1e;
            let mut sfi_left = sfi - (6 + 0x1e);
            while sfi_left > 6 {
                let Some(st) = u32_at(d, p).map(|w| w & 0xffff) else {
                    break 'sfi;
                };
                if st > sfi_left || st <= 24 {
                    break 'sfi;
                }
                let next = p + st;
                let next_left = sfi_left - st;
                let mut q = p + 24;
                let mut st_left = st - 24;
                while st_left > 6 {
                    let Some(w) = u32_at(d, q) else { break 'sfi };
                    let s_sz = ((w & 0xffff) + 3) & !3;
                    if s_sz > st_left || s_sz <= 6 + 2 + 8 {
                        break 'sfi;
                    }
                    // The key: a NUL-terminated UTF-16 string after the 6-byte header.
                    let mut k = 6;
                    while k + 1 < s_sz {
                        if u16_at(d, q + k) == Some(0) {
                            k += 2;
                            break;
                        }
                        k += 2;
                    }
                    let k = (k + 3) & !3;
                    if k < s_sz && s_sz - k > 2 {
                        out.push(q + 6);
                    }
                    q += s_sz;
                    st_left -= s_sz;
                }
                p = next;
                sfi_left = next_left;
            }
            break;
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn elf(data: &[u8]) -> Option<ExeLayout> {
    match data.get(4) {
        Some(1) => elf_with::<object::elf::FileHeader32<Endianness>>(data),
        Some(2) => elf_with::<object::elf::FileHeader64<Endianness>>(data),
        _ => None,
    }
}

fn elf_with<H: object::read::elf::FileHeader<Endian = Endianness>>(
    data: &[u8],
) -> Option<ExeLayout> {
    let h = H::parse(data).ok()?;
    let e = h.endian().ok()?;
    let entry_va: u64 = h.e_entry(e).into();
    let phnum = usize::from(h.e_phnum(e));
    if phnum > ELF_MAX_SEGMENTS {
        return None;
    }
    let entry = if phnum == 0 || entry_va == 0 {
        0
    } else {
        let phs = h.program_headers(e, data).ok()?;
        let p = phs.iter().find(|p| {
            let va: u64 = p.p_vaddr(e).into();
            let mem: u64 = p.p_memsz(e).into();
            va <= entry_va && entry_va - va < mem
        })?;
        let va: u64 = p.p_vaddr(e).into();
        let off: u64 = p.p_offset(e).into();
        // ClamAV keeps the entry point in 32 bits.
        (entry_va - va).wrapping_add(off) & 0xffff_ffff
    };
    let shnum = usize::from(h.e_shnum(e));
    if shnum > ELF_MAX_SECTIONS {
        return None;
    }
    let sections = if shnum == 0 {
        Vec::new()
    } else {
        h.section_headers(e, data)
            .ok()?
            .iter()
            .take(shnum)
            .map(|s| {
                let off: u64 = s.sh_offset(e).into();
                let size: u64 = s.sh_size(e).into();
                (off & 0xffff_ffff, size & 0xffff_ffff)
            })
            .collect()
    };
    Some(ExeLayout {
        entry,
        sections,
        version_info: Vec::new(),
    })
}

fn macho(data: &[u8]) -> Option<ExeLayout> {
    let magic = u32::from_le_bytes(data.get(..4)?.try_into().ok()?);
    match magic {
        0xfeed_face | 0xcefa_edfe => macho_with::<object::macho::MachHeader32<Endianness>>(data),
        0xfeed_facf | 0xcffa_edfe => macho_with::<object::macho::MachHeader64<Endianness>>(data),
        _ => None,
    }
}

fn macho_with<H: object::read::macho::MachHeader<Endian = Endianness>>(
    data: &[u8],
) -> Option<ExeLayout> {
    let h = H::parse(data, 0).ok()?;
    let e = h.endian().ok()?;
    let ncmds = h.ncmds(e);
    if ncmds == 0 || ncmds > MACHO_MAX_COMMANDS {
        return None;
    }
    let mut cmds = h.load_commands(e, data, 0).ok()?;
    let mut sections = Vec::new();
    while let Some(c) = cmds.next().ok()? {
        let mut push = |addr_size_off_align: (u64, u64, u64, u32)| -> Option<()> {
            let (_, size, off, align) = addr_size_off_align;
            let a = 1u64.checked_shl(align)?;
            sections.push((off, align_up(size, a)?));
            Some(())
        };
        if let Some((seg, rest)) = c.segment_32().ok()? {
            if seg.nsects(e) > MACHO_MAX_SEGMENT_SECTIONS {
                return None;
            }
            for s in seg.sections(e, rest).ok()? {
                if s.align(e) >= 32 {
                    return None;
                }
                push((
                    s.addr(e).into(),
                    s.size(e).into(),
                    s.offset(e).into(),
                    s.align(e),
                ))?;
            }
        } else if let Some((seg, rest)) = c.segment_64().ok()? {
            if seg.nsects(e) > MACHO_MAX_SEGMENT_SECTIONS {
                return None;
            }
            for s in seg.sections(e, rest).ok()? {
                push((s.addr(e), s.size(e), s.offset(e).into(), s.align(e)))?;
            }
        }
    }
    Some(ExeLayout {
        entry: 0,
        sections,
        version_info: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal PE32: DOS header, PE header, optional header, two sections.
    pub(crate) fn tiny_pe() -> Vec<u8> {
        let mut d = vec![0u8; 0x600];
        d[0..2].copy_from_slice(b"MZ");
        d[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        let pe = 0x80;
        d[pe..pe + 4].copy_from_slice(b"PE\0\0");
        d[pe + 4..pe + 6].copy_from_slice(&0x14cu16.to_le_bytes()); // i386
        d[pe + 6..pe + 8].copy_from_slice(&2u16.to_le_bytes()); // sections
        d[pe + 20..pe + 22].copy_from_slice(&0xe0u16.to_le_bytes()); // optional header size
        let o = pe + 24;
        d[o..o + 2].copy_from_slice(&0x10bu16.to_le_bytes());
        d[o + 16..o + 20].copy_from_slice(&0x1010u32.to_le_bytes()); // entry RVA
        d[o + 32..o + 36].copy_from_slice(&0x1000u32.to_le_bytes()); // section alignment
        d[o + 36..o + 40].copy_from_slice(&0x200u32.to_le_bytes()); // file alignment
        d[o + 56..o + 60].copy_from_slice(&0x3000u32.to_le_bytes()); // size of image
        d[o + 60..o + 64].copy_from_slice(&0x200u32.to_le_bytes()); // size of headers
        d[o + 92..o + 96].copy_from_slice(&16u32.to_le_bytes()); // data directories
        let t = o + 0xe0;
        for (i, (va, raw, size)) in [(0x1000u32, 0x200u32, 0x200u32), (0x2000, 0x400, 0x300)]
            .into_iter()
            .enumerate()
        {
            let h = t + 40 * i;
            d[h..h + 5].copy_from_slice(b".sect");
            d[h + 8..h + 12].copy_from_slice(&size.to_le_bytes());
            d[h + 12..h + 16].copy_from_slice(&va.to_le_bytes());
            d[h + 16..h + 20].copy_from_slice(&size.to_le_bytes());
            d[h + 20..h + 24].copy_from_slice(&raw.to_le_bytes());
        }
        d
    }

    #[test]
    fn pe_layout_as_clamav_computes_it() {
        let d = tiny_pe();
        let l = pe(&d).unwrap();
        assert_eq!(l.entry, 0x210);
        // The second section's 0x300 bytes round up to 0x400, cut at the end of the file.
        assert_eq!(l.sections, vec![(0x200, 0x200), (0x400, 0x200)]);
        // An entry point in no section's raw data: the headers can't be read as ClamAV does.
        let mut bad = d.clone();
        let o = 0x80 + 24;
        bad[o + 16..o + 20].copy_from_slice(&0x9000u32.to_le_bytes());
        assert_eq!(pe(&bad), None);
        // Truncated headers.
        assert_eq!(pe(&d[..0x100]), None);
    }

    /// A resource directory built to make the walk quadratic: one RT_VERSION type, 60,000
    /// names all leading to one language directory of 60,000 subdirectory entries. The walk
    /// stops after a bounded number of entries (each `rawaddr` is the identity here).
    #[test]
    fn crafted_resource_directories_are_walked_within_a_bound() {
        let n: u64 = 60_000;
        let mut d = vec![0u8; 64 + 8 * n as usize * 2 + 64];
        let put16 = |d: &mut Vec<u8>, o: u64, v: u16| {
            d[o as usize..o as usize + 2].copy_from_slice(&v.to_le_bytes())
        };
        let put32 = |d: &mut Vec<u8>, o: u64, v: u32| {
            d[o as usize..o as usize + 4].copy_from_slice(&v.to_le_bytes())
        };
        // Root at 0: one id entry, type 16, subdirectory at 32.
        put16(&mut d, 14, 1);
        put32(&mut d, 16, 0x10);
        put32(&mut d, 20, 0x8000_0000 | 32);
        // Names at 32: n entries, all pointing at the language directory.
        let langs = 48 + 8 * n;
        put16(&mut d, 32 + 14, n as u16);
        for k in 0..n {
            put32(&mut d, 48 + 8 * k + 4, 0x8000_0000 | langs as u32);
        }
        // Languages: n entries, all subdirectories (never collected).
        put16(&mut d, langs + 14, n as u16);
        for j in 0..n {
            put32(&mut d, langs + 16 + 8 * j + 4, 0x8000_0000);
        }
        let rawaddr = |rva: u64| Some(rva);
        assert!(version_resources(&d, 0, &rawaddr).is_empty());
    }

    #[test]
    fn elf_layout_of_a_real_binary() {
        // This test program is an ELF executable.
        let d = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let l = elf(&d).unwrap();
        assert!(l.entry > 0 && (l.entry as usize) < d.len());
        assert_eq!(l.sections[0], (0, 0), "the null section comes first");
    }
}
