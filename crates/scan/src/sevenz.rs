//! 7z archives, read with the `sevenz-rust2` crate and walked as ClamAV's `cli_7unz` walks
//! them: each file in turn; the walk stops once `--max-files` layers were scanned; a file whose
//! declared size is over what the limits allow is skipped (the heuristic raised) and the walk
//! goes on; directories and empty files are not scanned.
//!
//! Every byte the decoders produce, the bytes of skipped files in a solid block included, is
//! read here and counted against the inflation budget, so a block of any declared size costs
//! at most that budget. Header buffers and decoder dictionaries are bounded by
//! [`MEMORY_LIMIT_KB`], decoding runs on the scanning thread.

use std::io::{self, Cursor, Read};

use sevenz_rust2::{ArchiveReader, EntryDecision, Error, Password};

use crate::archive::{inflate, Flow, Host, Limit, Member};
use crate::Why;

/// Most memory the 7z headers and one block's decoder may take (dictionaries included).
pub const MEMORY_LIMIT_KB: usize = 512 << 10;

/// Walks a 7z archive.
pub fn unpack(data: &[u8], host: &mut dyn Host) {
    let mut reader = match ArchiveReader::new_with_memory_limit(
        Cursor::new(data),
        Password::empty(),
        MEMORY_LIMIT_KB,
    ) {
        Ok(r) => r,
        Err(e @ (Error::PasswordRequired | Error::MaybeBadPassword(_))) => {
            return host.note(Why::Encrypted, format!("7z: {e}"));
        }
        Err(e) => return host.note(Why::Corrupt, format!("7z: {e}")),
    };
    reader.set_thread_count(1);
    let archive = reader.archive();
    // A set: an archive may list many files, every one encrypted.
    let encrypted: std::collections::HashSet<String> = (0..archive.files.len())
        .filter(|&i| archive.is_file_encrypted(i))
        .map(|i| archive.files[i].name.clone())
        .collect();
    let mut halted: Option<Halt> = None;
    let res = reader.for_each_entries_with_decision(|entry, r| {
        let name = entry.name();
        if entry.is_directory() {
            return Ok(EntryDecision::Continue);
        }
        if let Err(l) = host.budget().check(0) {
            halted = Some(Halt::Limit(l));
            return Ok(EntryDecision::Stop);
        }
        if encrypted.contains(name) {
            host.member(
                name,
                Member::Unreadable(Why::Encrypted, "encrypted, not scanned".into()),
            );
            return Ok(EntryDecision::SkipBlock);
        }
        if let Err(l) = host.budget().check(entry.size()) {
            host.member(name, Member::Refused(l));
            return Ok(match drain(r, entry.size(), host) {
                Ok(()) => EntryDecision::Continue,
                Err(()) => {
                    halted = Some(Halt::Limit(Limit::MaxScanSize));
                    EntryDecision::Stop
                }
            });
        }
        if entry.size() == 0 {
            return Ok(EntryDecision::Continue);
        }
        let (bound, by) = host.budget().bound();
        let mut buf = host.buffer();
        let (over, err) = inflate(r, bound, entry.size(), &mut buf, host.budget());
        let flow = if over {
            host.budget().record(by);
            host.member(name, Member::Refused(by))
        } else if let Some(e) = err {
            let flow = host.member(name, Member::Damaged(&buf, format!("7z: {e}")));
            host.recycle(buf);
            halted = Some(Halt::Damaged);
            return Ok(if flow == Flow::Stop {
                EntryDecision::Stop
            } else {
                EntryDecision::SkipBlock
            });
        } else {
            host.member(name, Member::Whole(&buf))
        };
        host.recycle(buf);
        Ok(match flow {
            Flow::Stop => {
                halted = Some(Halt::Found);
                EntryDecision::Stop
            }
            Flow::Refused(_) if over => {
                halted = Some(Halt::Limit(by));
                EntryDecision::Stop
            }
            _ => EntryDecision::Continue,
        })
    });
    match (res, halted) {
        (_, Some(Halt::Found | Halt::Damaged)) => {}
        (Ok(()), Some(Halt::Limit(l))) => {
            host.note(Why::Limit(l), "7z: later files not scanned".into());
        }
        (Ok(()), None) => {}
        (Err(e), _) => host.note(Why::Corrupt, format!("7z: {e}")),
    }
}

/// Why the walk ended early.
#[derive(Clone, Copy)]
enum Halt {
    Limit(Limit),
    Found,
    Damaged,
}

/// Reads and throws away a skipped file's bytes (the decoder must produce them to reach the
/// next file of a solid block), counting them as inflated; `Err` once the inflation budget
/// is spent.
fn drain(r: &mut dyn Read, size: u64, host: &mut dyn Host) -> Result<(), ()> {
    let budget = host.budget();
    let left = budget.inflate_left();
    if size > left {
        budget.inflated = budget.inflated.saturating_add(left);
        return Err(());
    }
    let n = io::copy(&mut r.take(size), &mut io::sink()).unwrap_or(size);
    budget.inflated = budget.inflated.saturating_add(n);
    Ok(())
}
