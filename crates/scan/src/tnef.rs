//! TNEF (`winmail.dat`): Outlook's attachment wrapper, read as ClamAV's `cli_tnef` reads it.
//!
//! After the signature and key, a sequence of attributes: a level byte (1, message; 2,
//! attachment), a 32-bit id (type and tag), a 32-bit length, the data and a 2-byte checksum.
//! Attachment data (`attAttachData`) is gathered into the current file; a message-level
//! attribute starts a new one (so consecutive attachments go into one file, as in ClamAV).
//! A level byte of 0, or the end of the data, ends the walk; a header cut short ends it and
//! what was gathered is scanned. An attribute whose data runs past the end of the file, or
//! an unknown level, makes the whole file malformed, and then ClamAV scans none of it: nor
//! does this.

use crate::archive::{Flow, Host, Member};
use crate::Why;

/// The TNEF signature, little-endian.
pub const MAGIC: &[u8] = b"\x78\x9f\x3e\x22";

const LVL_MESSAGE: u8 = 1;
const LVL_ATTACHMENT: u8 = 2;
const ATT_ATTACH_DATA: u16 = 0x800f;

/// Walks a TNEF file.
pub fn unpack(data: &[u8], host: &mut dyn Host) {
    // The current file: the data ranges gathered into it.
    let mut current: Option<Vec<(usize, usize)>> = None;
    let mut pos = 6usize;
    if data.len() < pos {
        return;
    }
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
    };
    let mut gathered: Vec<Vec<(usize, usize)>> = Vec::new();
    while let Some(&level) = data.get(pos) {
        pos += 1;
        if level == 0 {
            break;
        }
        let (Some(id), Some(length)) = (word(pos), word(pos + 4)) else {
            // Truncated: what was gathered is scanned.
            break;
        };
        pos += 8;
        let Ok(length) = i32::try_from(length) else {
            return host.note(Why::Corrupt, "tnef: negative attribute length".into());
        };
        if length == 0 {
            continue;
        }
        let length = length as usize;
        let tag = (id & 0xffff) as u16;
        match level {
            LVL_MESSAGE => {
                if let Some(f) = current.take() {
                    gathered.push(f);
                }
                current = Some(Vec::new());
            }
            LVL_ATTACHMENT => {
                if tag == ATT_ATTACH_DATA {
                    let end = (pos + length).min(data.len());
                    current.get_or_insert_with(Vec::new).push((pos, end));
                } else if current.is_none() {
                    current = Some(Vec::new());
                }
            }
            _ => {
                return host.note(
                    Why::Corrupt,
                    format!("tnef: unknown level {level}: not scanned"),
                );
            }
        }
        if pos.checked_add(length).is_none_or(|end| end > data.len()) {
            return host.note(
                Why::Corrupt,
                "tnef: an attribute runs past the end: not scanned".into(),
            );
        }
        pos += length + 2;
    }
    if let Some(f) = current.take() {
        gathered.push(f);
    }
    for ranges in gathered {
        let size: usize = ranges.iter().map(|(a, b)| b - a).sum();
        if size == 0 {
            continue;
        }
        if let Err(l) = host.budget().check(size as u64) {
            if host.member("", Member::Refused(l)) == Flow::Stop {
                return;
            }
            continue;
        }
        let mut buf = host.buffer();
        buf.clear();
        for (a, b) in ranges {
            buf.extend_from_slice(&data[a..b]);
        }
        let flow = host.member("", Member::Whole(&buf));
        host.recycle(buf);
        if flow == Flow::Stop {
            return;
        }
    }
}
