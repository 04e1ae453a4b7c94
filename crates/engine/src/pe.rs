//! Just enough PE parsing for section-hash signatures: the file ranges of the sections.

use std::ops::Range;

fn u16_at(d: &[u8], o: usize) -> Option<usize> {
    Some(u16::from_le_bytes(d.get(o..o + 2)?.try_into().ok()?) as usize)
}

fn u32_at(d: &[u8], o: usize) -> Option<usize> {
    Some(u32::from_le_bytes(d.get(o..o + 4)?.try_into().ok()?) as usize)
}

/// Most sections read from one header (the PE format allows 96).
const MAX_SECTIONS: usize = 96;

/// The raw-data ranges of a PE file's sections, as ClamAV hashes them: from
/// `PointerToRawData` rounded down to `FileAlignment`, `SizeOfRawData` bytes long, cut at the
/// end of the file. Empty for data that is not a PE file.
pub fn sections(d: &[u8]) -> Vec<Range<usize>> {
    parse(d).unwrap_or_default()
}

fn parse(d: &[u8]) -> Option<Vec<Range<usize>>> {
    if !d.starts_with(b"MZ") {
        return None;
    }
    let pe = u32_at(d, 0x3c)?;
    if d.get(pe..pe.checked_add(4)?)? != b"PE\0\0" {
        return None;
    }
    let nsec = u16_at(d, pe + 6)?.min(MAX_SECTIONS);
    let opt = pe + 24;
    let falign = u32_at(d, opt + 36)?.max(1);
    let table = opt + u16_at(d, pe + 20)?;
    let mut out = Vec::with_capacity(nsec);
    for i in 0..nsec {
        let h = table + 40 * i;
        let raw_size = u32_at(d, h + 16)?;
        let raw_ptr = u32_at(d, h + 20)? / falign * falign;
        if raw_size == 0 || raw_ptr >= d.len() {
            continue;
        }
        let end = raw_ptr.saturating_add(raw_size).min(d.len());
        out.push(raw_ptr..end);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_pe_or_truncated() {
        assert!(sections(b"").is_empty());
        assert!(sections(b"MZ").is_empty());
        let mut d = vec![0u8; 0x100];
        d[0] = b'M';
        d[1] = b'Z';
        d[0x3c] = 0x80;
        d[0x80..0x84].copy_from_slice(b"PE\0\0");
        d[0x86] = 200; // more sections than the header holds
        assert!(sections(&d).is_empty());
    }
}
