//! Microsoft cabinets (`MSCF`), read with the `cab` crate (stored, MSZIP and LZX folders) and
//! walked as ClamAV's `cli_scanmscab` walks them: each file in turn, extracted up to
//! `--max-filesize` (or what is left of `--max-scansize`, whichever is smaller) and that
//! prefix scanned, with no limit alert; the walk stops once the scan budget is spent. A file
//! that can't be extracted (a Quantum folder, a bad checksum) is scanned as far as it was
//! extracted, as ClamAV scans what libmspack wrote before failing.
//!
//! The crate decodes a folder from its start for each file, so a file costs its offset in the
//! folder plus its length in decoding: that is what is charged to the inflation budget, and
//! the walk ends when it is spent.

use std::io::{Cursor, Read};

use crate::archive::{Flow, Host, Limit, Member};
use crate::Why;

/// Walks a cabinet.
pub fn unpack(data: &[u8], host: &mut dyn Host) {
    unpack_as(data, host, false)
}

/// Walks a cabinet; `embedded`: found by its magic inside another file, where a header that
/// does not read is a stray magic, not a damaged cabinet (nothing is said, as in ClamAV).
pub(crate) fn unpack_as(data: &[u8], host: &mut dyn Host, embedded: bool) {
    let mut cab = match cab::Cabinet::new(Cursor::new(data)) {
        Ok(c) => c,
        Err(_) if embedded => return,
        Err(e) => return host.note(Why::Corrupt, format!("cab: {e}")),
    };
    // The crate reads a file by name, from the first entry of that name in the file table:
    // that entry's offset in its folder is what reading costs, and it must lie within the
    // folder's data, or the crate would index past its block list. Names come from the crate
    // (folder by folder), offsets from the table (in table order).
    let names: Vec<Vec<String>> = cab
        .folder_entries()
        .map(|folder| {
            folder
                .file_entries()
                .map(|f| f.name().to_string())
                .collect()
        })
        .collect();
    let (totals, inconsistent) = folder_totals(data);
    let inconsistent: std::collections::HashSet<usize> = inconsistent.into_iter().collect();
    let mut seen = vec![0usize; names.len()];
    let mut first: std::collections::HashMap<&str, (u64, u64)> = std::collections::HashMap::new();
    for (folder, offset) in file_table(data) {
        let f = usize::from(folder);
        let Some(name) = names.get(f).and_then(|list| list.get(seen[f])) else {
            continue;
        };
        seen[f] += 1;
        let total = totals.get(f).copied().unwrap_or(0);
        let offset = if inconsistent.contains(&f) {
            u64::MAX
        } else {
            u64::from(offset)
        };
        first.entry(name).or_insert((offset, total));
    }
    let mut files: Vec<(String, u64, u64)> = Vec::new();
    for folder in cab.folder_entries() {
        for f in folder.file_entries() {
            match first.get(f.name()) {
                Some(&(offset, total)) if offset <= total => files.push((
                    f.name().to_string(),
                    u64::from(f.uncompressed_size()),
                    offset,
                )),
                _ => {
                    host.member(
                        f.name(),
                        Member::Unreadable(
                            Why::Corrupt,
                            "cab: file starts past its folder's data".into(),
                        ),
                    );
                }
            }
        }
    }
    for (name, size, offset) in &files {
        let budget = host.budget();
        if budget.remaining() == 0 {
            budget.record(Limit::MaxScanSize);
            return host.note(
                Why::Limit(Limit::MaxScanSize),
                "cab: later files not scanned".into(),
            );
        }
        let max = budget.max_filesize().min(budget.remaining());
        let want = (*size).min(max);
        let cost = offset.saturating_add(want);
        if cost > budget.inflate_left() {
            budget.record(Limit::MaxScanSize);
            return host.note(
                Why::Limit(Limit::MaxScanSize),
                "cab: decoding budget spent, later files not scanned".into(),
            );
        }
        budget.inflated = budget.inflated.saturating_add(*offset);
        let mut buf = host.buffer();
        buf.clear();
        // The crate trusts its block table when it seeks and reads (fuzzing found cabinets
        // that make it index or subtract out of range): a panic there is caught and the
        // cabinet reported damaged from that file on.
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cab.read_file(name)
                .and_then(|r| r.take(want).read_to_end(&mut buf))
        }));
        let Ok(res) = read else {
            host.recycle(buf);
            return host.note(
                Why::Corrupt,
                format!("cab: {name}: block table inconsistent, this and later files not scanned"),
            );
        };
        let budget = host.budget();
        budget.inflated = budget.inflated.saturating_add(buf.len() as u64);
        let flow = match res {
            Ok(_) => host.member(name, Member::Whole(&buf)),
            Err(e) if buf.is_empty() => {
                let why = if e.kind() == std::io::ErrorKind::InvalidInput {
                    Why::Unsupported
                } else {
                    Why::Corrupt
                };
                host.member(name, Member::Unreadable(why, format!("cab: {e}")))
            }
            Err(e) => host.member(name, Member::Damaged(&buf, format!("cab: {e}"))),
        };
        host.recycle(buf);
        if flow == Flow::Stop {
            return;
        }
    }
}

/// Each folder's uncompressed length, the sum of its data blocks' lengths (`u64::MAX` when its
/// blocks can't all be listed: the crate then fails on the missing block with an error), and
/// the folders whose stored blocks are inconsistent (none of their files is read).
fn folder_totals(data: &[u8]) -> (Vec<u64>, Vec<usize>) {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
    };
    let u16_at = |at: usize| -> Option<u16> {
        Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
    };
    let mut totals = Vec::new();
    let mut inconsistent = Vec::new();
    let (Some(folders), Some(flags)) = (u16_at(26), u16_at(30)) else {
        return (totals, inconsistent);
    };
    let mut at = 36usize;
    let (mut folder_reserve, mut data_reserve) = (0usize, 0usize);
    if flags & 0x0004 != 0 {
        let (Some(h), Some(f), Some(d)) = (u16_at(36), data.get(38), data.get(39)) else {
            return (totals, inconsistent);
        };
        folder_reserve = usize::from(*f);
        data_reserve = usize::from(*d);
        at = 40 + usize::from(h);
    }
    // The previous and next cabinets' names and disks.
    for _ in 0..(usize::from(flags & 1 != 0) + usize::from(flags & 2 != 0)) * 2 {
        let Some(end) = data.get(at..).and_then(|r| memchr::memchr(0, r)) else {
            return (totals, inconsistent);
        };
        at += end + 1;
    }
    for k in 0..usize::from(folders) {
        let entry = at + k * (8 + folder_reserve);
        let (Some(first), Some(blocks), Some(kind)) =
            (u32_at(entry), u16_at(entry + 4), u16_at(entry + 6))
        else {
            break;
        };
        let stored = kind & 0x000f == 0;
        let mut total = 0u64;
        let mut block = first as usize;
        for _ in 0..blocks {
            let (Some(packed), Some(unpacked)) = (u16_at(block + 4), u16_at(block + 6)) else {
                total = u64::MAX;
                break;
            };
            if stored && packed != unpacked {
                // A stored block whose two lengths disagree: the crate would believe the
                // declared length and read past the data it has. The folder is unreadable.
                total = 0;
                inconsistent.push(k);
                break;
            }
            total += u64::from(unpacked);
            block += 8 + data_reserve + usize::from(packed);
        }
        totals.push(total);
    }
    (totals, inconsistent)
}

/// The cabinet's file table: each file's folder and offset in that folder's uncompressed
/// data, in table order (the crate keeps the offsets private). Cut short where it is damaged.
fn file_table(data: &[u8]) -> Vec<(u16, u32)> {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
    };
    let u16_at = |at: usize| -> Option<u16> {
        Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
    };
    let mut table = Vec::new();
    let (Some(first), Some(count)) = (u32_at(16), u16_at(28)) else {
        return table;
    };
    let mut at = first as usize;
    for _ in 0..count {
        let (Some(offset), Some(folder)) = (u32_at(at + 4), u16_at(at + 8)) else {
            break;
        };
        let Some(end) = data.get(at + 16..).and_then(|r| memchr::memchr(0, r)) else {
            break;
        };
        table.push((folder, offset));
        at += 16 + end + 1;
    }
    table
}
