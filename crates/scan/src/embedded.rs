//! Files embedded in other files, found as clamscan 1.4's raw scan finds them by their magic
//! (`scanraw` with file-type recognition) and scanned as layers of their own.
//!
//! After the raw scan of a layer that is not a gzip, zip (or Office Open XML), tar, old
//! binary cpio or TNEF file, and not itself an archive found this way, these are looked for at
//! every offset after the first byte, in file order:
//! - a zip local header (`PK\3\4`): its one entry is unpacked (the rest of the file is handed
//!   over, as ClamAV does, but only the first entry is read);
//! - a cabinet (`MSCF` and four zeros): unpacked from there to the end of the file;
//! - an ARJ archive (its header mark, and its main header's type byte 2 ten bytes on, after a
//!   security-version byte of 0 to 2): unpacked from there to the end of the file (not in an
//!   ARJ layer);
//! - a RAR marker: reported, as RAR is not unpacked;
//! - in a PE or OLE2 layer only, `MZ` followed 60 to 300 bytes later by `PE\0\0`, when a PE
//!   header can be read there and at most 40 MiB follow: the rest of the layer is scanned as
//!   an executable, and the search stops (the executables after it are found inside it).
//!
//! The archive layers are, as in ClamAV 1.4, only unpacked: not scanned raw nor counted
//! against the limits; their entries are. NSIS, AutoIt and InstallShield payloads, which
//! ClamAV also finds this way, are not looked for yet.

/// ClamAV's default `MaxEmbeddedPE`.
const MAX_EMBEDDED_PE: usize = 40 << 20;

/// Most candidate offsets looked at in one layer, so that a file made of magic bytes costs a
/// bounded amount of work (ClamAV has no such bound). Past it the layer is reported partly
/// scanned.
pub(crate) const MAX_CANDIDATES: usize = 10_000;

/// What was found, and where.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Embedded {
    /// A zip local header.
    ZipEntry(usize),
    /// A cabinet.
    Cab(usize),
    /// An ARJ archive.
    Arj(usize),
    /// A RAR archive's marker.
    Rar(usize),
    /// An executable, from its offset to the end.
    Exe(usize),
}

fn is_exe(d: &[u8], at: usize) -> bool {
    let Some(rest) = d.get(at..) else {
        return false;
    };
    rest.len() <= MAX_EMBEDDED_PE
        && rest
            .get(62..rest.len().min(306))
            .is_some_and(|w| memchr::memmem::find(w, b"PE\0\0").is_some_and(|i| i <= 240))
        && detente_engine::is_valid_pe(rest)
}

/// The embedded files of a layer (`exe_host`: the layer is a PE or an OLE2 file), and whether
/// the search stopped at [`MAX_CANDIDATES`].
pub(crate) fn find(
    d: &[u8],
    exe_host: bool,
    rar_host: bool,
    arj_host: bool,
) -> (Vec<Embedded>, bool) {
    let mut hits: Vec<(usize, u8)> = Vec::new();
    // ClamAV's ARJ-SFX patterns: `60ea{7}0002`, `60ea{7}0102`, `60ea{7}0202`.
    let arj = |i: usize| matches!(d.get(i + 9), Some(0..=2)) && d.get(i + 10) == Some(&2);
    for (pat, kind) in [
        (&b"PK\x03\x04"[..], 0u8),
        (b"MSCF\0\0\0\0", 1),
        (b"Rar!\x1a\x07\x00", 2),
        (b"MZ", 3),
        (b"\x60\xea", 4),
    ] {
        if kind == 3 && !exe_host || kind == 2 && rar_host || kind == 4 && arj_host {
            continue;
        }
        hits.extend(
            memchr::memmem::find_iter(d, pat)
                .filter(|&i| i > 0 && (kind != 4 || arj(i)))
                .take(MAX_CANDIDATES + 1)
                .map(|i| (i, kind)),
        );
    }
    hits.sort_unstable();
    let cut = hits.len() > MAX_CANDIDATES;
    hits.truncate(MAX_CANDIDATES);
    let mut out = Vec::new();
    for (at, kind) in hits {
        match kind {
            0 => out.push(Embedded::ZipEntry(at)),
            1 => out.push(Embedded::Cab(at)),
            2 => out.push(Embedded::Rar(at)),
            4 => out.push(Embedded::Arj(at)),
            _ => {
                if is_exe(d, at) {
                    out.push(Embedded::Exe(at));
                    return (out, false);
                }
            }
        }
    }
    (out, cut)
}
