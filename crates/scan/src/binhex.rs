//! BinHex 4.0 (`.hqx`): a Macintosh file's data and resource forks in 6-bit text with run
//! length coding, decoded as ClamAV's `cli_binhex` decodes it.
//!
//! The text after the first line break is read; the first character there must be `:`. Each
//! character outside `:` and line breaks maps to 6 bits (a character outside the alphabet ends
//! the decoding); `0x90 n` repeats the previous byte `n - 1` more times (`0x90 0` is a literal
//! `0x90`). The decoded stream is a header (name, type, creator, flags, the two fork lengths,
//! CRC), the data fork and its CRC, then the resource fork. Decoded bytes are handed on in
//! batches of [`FLUSH`] bytes, as ClamAV flushes them: a fork is scanned once complete, or at
//! the end of the input as far as it got; bytes still waiting when a bad character stops the
//! decoding are not scanned, as in ClamAV.

use crate::archive::{Flow, Host, Member};
use crate::Why;

/// The magic line a BinHex 4.0 file starts with.
pub const MAGIC: &[u8] = b"(This file must be converted with BinHex 4.0)";

/// Decoded bytes gathered before they are handed on (ClamAV: `BUFSIZ - 256`).
const FLUSH: usize = 8192 - 256;

/// The 6-bit value of each character of the BinHex alphabet.
fn sextet(c: u8) -> Option<u8> {
    const ALPHABET: &[u8; 64] =
        b"!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u8)
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Banner,
    Header,
    Data,
    Limbo1,
    Limbo2,
    Res,
    Done,
}

struct Forks {
    phase: Phase,
    pending: Vec<u8>,
    data_len: u64,
    res_len: u64,
    data: Vec<u8>,
    res: Vec<u8>,
}

impl Forks {
    /// Moves what is pending into the forks; scans a fork once complete. `end`: the input is
    /// over (a fork still incomplete is scanned as far as it got).
    fn flush(&mut self, end: bool, host: &mut dyn Host) {
        if self.phase == Phase::Header {
            if self.pending.is_empty() {
                self.phase = Phase::Done;
                return;
            }
            let name_len = usize::from(self.pending[0]);
            let at = 1 + name_len + 1 + 4 + 4 + 2;
            let word = |i: usize| -> Option<u64> {
                let b: [u8; 4] = self.pending.get(i..i + 4)?.try_into().ok()?;
                Some(u64::from(u32::from_be_bytes(b)))
            };
            let (Some(data_len), Some(res_len)) = (word(at), word(at + 4)) else {
                host.note(Why::Corrupt, "binhex: header cut short".into());
                self.phase = Phase::Done;
                return;
            };
            let header = at + 4 + 4 + 2;
            if self.pending.len() <= header {
                host.note(Why::Corrupt, "binhex: header cut short".into());
                self.phase = Phase::Done;
                return;
            }
            if let Err(l) = host.budget().check(data_len) {
                host.member("", Member::Refused(l));
                self.phase = Phase::Done;
                return;
            }
            self.res_len = if host.budget().check(res_len).is_ok() {
                res_len
            } else {
                0
            };
            self.data_len = data_len;
            self.pending.drain(..header);
            self.phase = Phase::Data;
        }
        if !self.pending.is_empty() && self.phase == Phase::Data {
            let take = self.pending.len().min(self.data_len as usize);
            self.data.extend_from_slice(&self.pending[..take]);
            self.pending.drain(..take);
            self.data_len -= take as u64;
            if self.data_len == 0 {
                self.phase = Phase::Limbo1;
                host.member("", Member::Whole(&self.data));
            }
        }
        if !self.pending.is_empty() && self.phase == Phase::Limbo1 {
            if self.pending.len() > 1 {
                if self.res_len < 5 {
                    self.phase = Phase::Done;
                    return;
                }
                self.pending.drain(..2);
                self.phase = Phase::Res;
            } else {
                self.pending.clear();
                self.phase = Phase::Limbo2;
            }
        }
        if !self.pending.is_empty() && self.phase == Phase::Limbo2 {
            if self.res_len < 5 {
                self.phase = Phase::Done;
                return;
            }
            self.pending.drain(..1);
            self.phase = Phase::Res;
        }
        if !self.pending.is_empty() && self.phase == Phase::Res {
            let take = self.pending.len().min(self.res_len as usize);
            self.res.extend_from_slice(&self.pending[..take]);
            self.pending.drain(..take);
            self.res_len -= take as u64;
            if self.res_len == 0 {
                self.phase = Phase::Done;
                host.member("", Member::Whole(&self.res));
                return;
            }
        }
        if end {
            match self.phase {
                Phase::Data => host.member("", Member::Damaged(&self.data, cut())),
                Phase::Res => host.member("", Member::Damaged(&self.res, cut())),
                _ => Flow::Next,
            };
            self.phase = Phase::Done;
        }
    }
}

fn cut() -> String {
    "binhex: fork cut short".into()
}

/// Decodes a BinHex file and scans its forks.
pub fn unpack(data: &[u8], host: &mut dyn Host) {
    let mut f = Forks {
        phase: Phase::Banner,
        pending: Vec::with_capacity(FLUSH + 256),
        data_len: 0,
        res_len: 0,
        data: Vec::new(),
        res: Vec::new(),
    };
    let (mut in_data, mut in_run) = (false, false);
    let (mut spare, mut last, mut count) = (0u8, 0u8, 0usize);
    let mut input = data.iter();
    loop {
        if f.phase == Phase::Done {
            return;
        }
        if f.pending.len() >= FLUSH {
            f.flush(false, host);
            continue;
        }
        let Some(&c) = input.next() else {
            f.flush(true, host);
            return;
        };
        if c == b'\r' || c == b'\n' {
            in_data = true;
            continue;
        }
        if !in_data {
            continue;
        }
        if f.phase == Phase::Banner {
            if c != b':' {
                host.note(Why::Corrupt, "binhex: no ':' to start the stream".into());
                return;
            }
            f.phase = Phase::Header;
        }
        if c == b':' {
            continue;
        }
        let Some(b) = sextet(c) else {
            host.note(Why::Corrupt, format!("binhex: bad character 0x{c:02x}"));
            return;
        };
        let byte = match count & 3 {
            0 => {
                spare = b << 2;
                count += 1;
                continue;
            }
            1 => {
                let v = spare | (b >> 4);
                spare = b << 4;
                v
            }
            2 => {
                let v = spare | (b >> 2);
                spare = b << 6;
                v
            }
            _ => spare | b,
        };
        count += 1;
        if in_run {
            in_run = false;
            if byte != 0 {
                for _ in 1..byte {
                    f.pending.push(last);
                }
                continue;
            }
            // `0x90 0`: a literal 0x90.
            f.pending.push(0x90);
            last = 0x90;
            continue;
        }
        if byte == 0x90 {
            in_run = true;
            continue;
        }
        f.pending.push(byte);
        last = byte;
    }
}
