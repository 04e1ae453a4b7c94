//! ALZ archives (ALZip), read as ClamAV 1.4's `cli_scanalz` reads them: the `ALZ\x01` header,
//! then records: local file headers (`BLZ\x01`: attributes, a descriptor whose high nibble
//! gives the width of the sizes, method, CRC, sizes, name, data), central directory records
//! (`CLZ\x01`, eight bytes skipped) and the end (`CLZ\x02`). Stored, bzip2 and deflate members
//! are extracted; encrypted members and members with a data descriptor are passed over.
//!
//! ClamAV 1.4.5's outcomes are kept: members are extracted first and scanned after the walk; a
//! header that does not parse, data running past the end of the file, or a record with an
//! unknown signature ends the walk (the members extracted before it are scanned); damaged
//! deflate or bzip2 data gives what decoded before the damage; a stored member is its stored
//! bytes; a member over the limits is cut to them; directories, encrypted members, members
//! with a data descriptor or an unknown method are passed over; empty members are not
//! scanned.

use crate::archive::{Host, Member};
use crate::Why;

/// `ALZ\x01`.
pub(crate) const MAGIC: &[u8] = b"ALZ\x01";
const LOCAL: u32 = 0x015a_4c42;
const CENTRAL: u32 = 0x015a_4c43;
const END: u32 = 0x025a_4c43;

/// A member as the walk leaves it: extracted (`Some(limit)`: cut at that limit), or passed
/// over.
enum Extracted {
    Data(String, Vec<u8>, Option<crate::archive::Limit>),
    Refused(String, crate::archive::Limit),
    Skipped(String, Why, String),
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let b = self.data.get(self.pos..self.pos.checked_add(N)?)?;
        self.pos += N;
        b.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take::<2>().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take::<4>().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take::<8>().map(u64::from_le_bytes)
    }
}

/// Decodes `r` into at most `cap` bytes: the output, whether it was cut, and whether the data
/// was damaged (what was decoded before the damage is kept, as ClamAV keeps it).
fn decode(mut r: impl std::io::Read, cap: u64) -> (Vec<u8>, bool, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return (out, false, false),
            Ok(n) => {
                let room = cap.saturating_sub(out.len() as u64);
                if n as u64 > room {
                    out.extend_from_slice(&buf[..room as usize]);
                    return (out, true, false);
                }
                out.extend_from_slice(&buf[..n]);
            }
            Err(_) => return (out, false, true),
        }
    }
}

/// Parses one local file header at the cursor (past its signature) and extracts its member.
/// `Err` when the header does not parse or its data runs past the end of the file.
fn local(
    c: &mut Cursor<'_>,
    host: &mut dyn Host,
    out: &mut Vec<Extracted>,
    extracted: &mut Extraction,
) -> Result<(), &'static str> {
    let cut = "header cut short";
    let name_len = usize::from(c.u16().ok_or(cut)?);
    let attribute = c.u8().ok_or(cut)?;
    let _time = c.u32().ok_or(cut)?;
    let descriptor = c.u8().ok_or(cut)?;
    let _unknown = c.u8().ok_or(cut)?;
    if name_len == 0 {
        return Err("a file name of length 0");
    }
    let (mut method, mut comp) = (0u8, 0u64);
    let width = descriptor / 0x10;
    if width > 0 {
        method = c.u8().ok_or(cut)?;
        let _unknown = c.u8().ok_or(cut)?;
        let _crc = c.u32().ok_or(cut)?;
        (comp, _) = match width {
            1 => (u64::from(c.u8().ok_or(cut)?), u64::from(c.u8().ok_or(cut)?)),
            2 => (
                u64::from(c.u16().ok_or(cut)?),
                u64::from(c.u16().ok_or(cut)?),
            ),
            4 => (
                u64::from(c.u32().ok_or(cut)?),
                u64::from(c.u32().ok_or(cut)?),
            ),
            8 => (c.u64().ok_or(cut)?, c.u64().ok_or(cut)?),
            _ => return Err("an unknown size width"),
        };
    }
    let name_end = c.pos.checked_add(name_len).ok_or(cut)?;
    let name = String::from_utf8_lossy(
        c.data
            .get(c.pos..name_end)
            .ok_or("file name past the end")?,
    )
    .into_owned();
    c.pos = name_end;
    let encrypted = descriptor & 1 != 0;
    if encrypted {
        c.take::<12>().ok_or(cut)?;
    }
    let start = c.pos;
    let end = usize::try_from(comp)
        .ok()
        .and_then(|n| start.checked_add(n));
    let Some(end) = end.filter(|&e| e <= c.data.len()) else {
        c.pos = c.data.len();
        return Err("data past the end of the file");
    };
    c.pos = end;
    if attribute & 0x10 != 0 {
        return Ok(());
    }
    if encrypted {
        out.push(Extracted::Skipped(
            name,
            Why::Encrypted,
            "alz: encrypted".into(),
        ));
        return Ok(());
    }
    if descriptor & 8 != 0 {
        out.push(Extracted::Skipped(
            name,
            Why::Unsupported,
            "alz: a member with a data descriptor (ClamAV does not read them)".into(),
        ));
        return Ok(());
    }
    let packed = &c.data[start..end];
    // ClamAV's own budget for the walk: the file-size limit, and what is left of the scan size
    // once the members extracted so far (those over 5 bytes) are counted; a stored member of
    // at most 5 bytes is always taken whole.
    let left = extracted.total.saturating_sub(extracted.used);
    let (mut cap, mut by) = if extracted.max_file <= left {
        (extracted.max_file, crate::archive::Limit::MaxFileSize)
    } else {
        (left, crate::archive::Limit::MaxScanSize)
    };
    if comp == 0 || method == 0 && comp <= 5 {
        (cap, by) = (comp, by);
    } else if cap <= 5 {
        out.push(Extracted::Refused(name, by));
        return Ok(());
    }
    let (data, over, damaged) = match method {
        0 => {
            let n = packed.len().min(usize::try_from(cap).unwrap_or(usize::MAX));
            (packed[..n].to_vec(), n < packed.len(), false)
        }
        1 => decode(bzip2::read::BzDecoder::new(packed), cap),
        2 => decode(flate2::read::DeflateDecoder::new(packed), cap),
        m => {
            out.push(Extracted::Skipped(
                name,
                Why::Unsupported,
                format!("alz: compression method {m}"),
            ));
            return Ok(());
        }
    };
    if damaged {
        host.note(
            Why::Corrupt,
            format!("alz: {name}: damaged data, scanned as far as it decoded"),
        );
    }
    if data.len() > 5 {
        extracted.used = extracted.used.saturating_add(data.len() as u64);
    }
    if !data.is_empty() {
        out.push(Extracted::Data(name, data, over.then_some(by)));
    }
    Ok(())
}

/// The walk's own extraction budget (see [`local`]).
struct Extraction {
    max_file: u64,
    total: u64,
    used: u64,
}

/// Unpacks an ALZ archive (see the module documentation).
pub(crate) fn unpack(data: &[u8], host: &mut dyn Host) {
    let mut c = Cursor { data, pos: 0 };
    if c.take::<4>().as_ref().map(|m| &m[..]) != Some(MAGIC) || c.u32().is_none() {
        return host.note(Why::Corrupt, "alz: the archive header is cut short".into());
    }
    let mut members = Vec::new();
    let mut extracted = Extraction {
        max_file: host.budget().max_filesize(),
        total: host.budget().remaining(),
        used: 0,
    };
    while let Some(sig) = c.u32() {
        let at = c.pos - 4;
        let failed = match sig {
            LOCAL => local(&mut c, host, &mut members, &mut extracted).err(),
            CENTRAL => {
                let _ = c.u64();
                None
            }
            END => break,
            _ => Some("an unknown record"),
        };
        if let Some(e) = failed {
            // As ClamAV: the members extracted before it are scanned, nothing after it.
            host.note(
                Why::Corrupt,
                format!("alz: {e} at offset {at}; the rest not scanned"),
            );
            break;
        }
    }
    for m in members {
        let flow = match m {
            Extracted::Data(name, d, None) => host.member(&name, Member::Whole(&d)),
            Extracted::Data(name, d, Some(l)) => host.member(&name, Member::Truncated(&d, l)),
            Extracted::Refused(name, l) => {
                host.budget().record(l);
                host.member(&name, Member::Refused(l))
            }
            Extracted::Skipped(name, why, detail) => {
                host.member(&name, Member::Unreadable(why, detail))
            }
        };
        if matches!(flow, crate::archive::Flow::Stop) {
            return;
        }
    }
}
