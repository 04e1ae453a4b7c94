//! Text detection and normalisation, as ClamAV applies them before matching text-targeted
//! signatures.
//!
//! A buffer is text when its first 1 KiB holds no byte that never appears in text (plain
//! ASCII and 8-bit extended text), or is valid UTF-8 or UTF-16 text. Text up to 20 MB is also
//! scanned in a normalised form: ASCII upper case lowered, runs of white space turned into one
//! space, other control bytes and bytes above 0x7f dropped.

/// How much of the start of a buffer decides whether it is text.
pub const TYPE_WINDOW: usize = 1024;
/// Largest text normalised.
pub const MAX_NORMALIZE: usize = 20 * 1024 * 1024;

/// Bytes that never appear in text: NUL..ACK, VT, SO..SUB, FS..US, DEL.
fn never_text(b: u8) -> bool {
    matches!(b, 0x00..=0x06 | 0x0b | 0x0e..=0x1a | 0x1c..=0x1f | 0x7f)
}

/// Plain ASCII text bytes (no 8-bit bytes): BEL, BS, HT, LF, FF, CR, ESC and printable.
fn plain_text(b: u8) -> bool {
    matches!(b, 0x07..=0x0a | 0x0c | 0x0d | 0x1b | 0x20..=0x7e)
}

fn is_ascii_ext(buf: &[u8]) -> bool {
    !buf.iter().any(|&b| never_text(b))
}

fn is_utf8(buf: &[u8]) -> bool {
    let mut i = 0;
    let mut got = false;
    while i < buf.len() {
        let b = buf[i];
        if b & 0x80 == 0 {
            if !plain_text(b) {
                return false;
            }
        } else if b & 0x40 == 0 {
            return false;
        } else {
            let following = match b {
                _ if b & 0x20 == 0 => 1,
                _ if b & 0x10 == 0 => 2,
                _ if b & 0x08 == 0 => 3,
                _ if b & 0x04 == 0 => 4,
                _ if b & 0x02 == 0 => 5,
                _ => return false,
            };
            for _ in 0..following {
                i += 1;
                if i >= buf.len() {
                    return got;
                }
                if buf[i] & 0x80 == 0 || buf[i] & 0x40 != 0 {
                    return false;
                }
            }
            got = true;
        }
        i += 1;
    }
    got
}

fn is_utf16(buf: &[u8]) -> bool {
    if buf.len() < 2 {
        return false;
    }
    let (be, nobom) = match (buf[0], buf[1]) {
        (0xff, 0xfe) => (false, false),
        (0xfe, 0xff) => (true, false),
        _ => (true, true),
    };
    let mut bad = 0usize;
    let mut i = 2;
    while i + 1 < buf.len() {
        let c = if be {
            (buf[i] as u32) << 8 | buf[i + 1] as u32
        } else {
            buf[i] as u32 | (buf[i + 1] as u32) << 8
        };
        if c == 0xfffe {
            return false;
        }
        if c < 128 && !plain_text(c as u8) {
            if nobom {
                return false;
            }
            bad += 1;
        }
        i += 2;
    }
    nobom || bad < buf.len() / 2
}

/// Whether ClamAV would treat the buffer as text.
pub fn is_text(data: &[u8]) -> bool {
    let head = &data[..data.len().min(TYPE_WINDOW)];
    !head.is_empty() && (is_ascii_ext(head) || is_utf8(head) || is_utf16(head))
}

/// What normalisation does with each byte: 0 drop, 1 white space, else the output byte.
const NORM: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match c as u8 {
            b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' => 1,
            b'A'..=b'Z' => c as u8 + 32,
            0x21..=0x7f => c as u8,
            _ => 0,
        };
        c += 1;
    }
    t
};

/// The normalised form of text.
pub fn normalize(data: &[u8]) -> Vec<u8> {
    // Branch-free: every byte is written at `n`, and `n` advances only for bytes kept.
    // A dropped byte leaves the white-space state as it was, as in ClamAV.
    let mut out = vec![0u8; data.len()];
    let mut n = 0usize;
    let mut space = false;
    for &c in data {
        let t = NORM[c as usize];
        let ws = t == 1;
        let keep = t > 1 || (ws && !space);
        if let Some(o) = out.get_mut(n) {
            *o = if ws { b' ' } else { t };
        }
        n += keep as usize;
        space = if t == 0 { space } else { ws };
    }
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_and_normalises() {
        assert!(is_text(b"Hello   World\nSecond\tLine"));
        assert!(is_text("héllo wörld".as_bytes()));
        assert!(!is_text(b"MZ\x00\x01"));
        assert!(!is_text(b""));
        assert_eq!(
            normalize(b"Hello   World\nSecond\tLine\x01\xff!"),
            b"hello world second line!"
        );
    }
}
