//! The `add-checkpoint` request body, parsed strictly.
//!
//! ```text
//! old <size>\n
//! <base64 hash>\n        (0 to 63 consistency proof lines)
//! \n
//! <signed checkpoint note>
//! ```

use detente_note::SignedCheckpoint;
use detente_tlog::Hash;

/// Largest request body accepted, in bytes (1 MiB). The HTTP layer refuses
/// larger bodies before reading them (413).
pub const MAX_REQUEST_SIZE: usize = 1 << 20;

/// Most consistency proof lines a request may carry (tlog-witness: "MUST NOT
/// send more than 63").
pub const MAX_PROOF_LINES: usize = 63;

/// Why a request body is malformed. Every variant is the client's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body is larger than [`MAX_REQUEST_SIZE`].
    #[error("request exceeds {MAX_REQUEST_SIZE} bytes")]
    TooLarge,
    /// The body ends before the blank line that ends the proof.
    #[error("request is truncated: no blank line before the checkpoint")]
    Truncated,
    /// The first line is not `old <size>`.
    #[error("first line must be \"old <size>\"")]
    BadOldLine,
    /// The old size is not a canonical decimal (no sign, no leading zeros, fits in u64).
    #[error("old size is not a canonical decimal")]
    BadOldSize,
    /// Proof line `index` (0-based) is not canonical base64 of 32 bytes.
    #[error("consistency proof line {index} is not a base64 hash")]
    BadProofHash {
        /// 0-based index of the proof line.
        index: usize,
    },
    /// More than [`MAX_PROOF_LINES`] proof lines.
    #[error("more than {MAX_PROOF_LINES} consistency proof lines")]
    TooManyProofLines,
    /// The checkpoint note after the blank line is malformed.
    #[error("malformed checkpoint: {0}")]
    BadCheckpoint(#[source] detente_note::Error),
}

/// A parsed `add-checkpoint` request. Signatures are not checked yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the client believes the witness last cosigned.
    pub old: u64,
    /// Consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The submitted checkpoint with all its signatures.
    pub checkpoint: SignedCheckpoint,
    /// The checkpoint note exactly as received (kept as evidence).
    pub note_bytes: Vec<u8>,
}

/// Parses a tree size: ASCII decimal, no sign, no leading zeros.
pub(crate) fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if s.len() > 1 && s[0] == b'0' {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Splits off one `\n`-terminated line; `None` if there is no newline.
fn split_line(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = b.iter().position(|&c| c == b'\n')?;
    Some((&b[..i], &b[i + 1..]))
}

impl AddCheckpoint {
    /// Parses a request body strictly: every header line ends in `\n` (no
    /// `\r`), the old size is canonical decimal, each proof line canonical
    /// padded base64 of a 32-byte hash, at most [`MAX_PROOF_LINES`] of them,
    /// then a blank line and a signed checkpoint (see
    /// [`SignedCheckpoint::parse`]).
    pub fn parse(body: &[u8]) -> Result<AddCheckpoint, ParseError> {
        if body.len() > MAX_REQUEST_SIZE {
            return Err(ParseError::TooLarge);
        }
        let (line, mut rest) = split_line(body).ok_or(ParseError::Truncated)?;
        let size = line.strip_prefix(b"old ").ok_or(ParseError::BadOldLine)?;
        let old = parse_decimal(size).ok_or(ParseError::BadOldSize)?;
        let mut proof = Vec::new();
        loop {
            let (line, next) = split_line(rest).ok_or(ParseError::Truncated)?;
            rest = next;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(ParseError::TooManyProofLines);
            }
            let index = proof.len();
            let s = std::str::from_utf8(line).map_err(|_| ParseError::BadProofHash { index })?;
            proof.push(Hash::from_base64(s).map_err(|_| ParseError::BadProofHash { index })?);
        }
        let checkpoint = SignedCheckpoint::parse(rest).map_err(ParseError::BadCheckpoint)?;
        Ok(AddCheckpoint {
            old,
            proof,
            checkpoint,
            note_bytes: rest.to_vec(),
        })
    }

    /// The request body: old line, proof lines, blank line, note.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_request(self.old, &self.proof, &self.note_bytes)
    }
}

/// Builds an `add-checkpoint` body from its parts (as a client would).
pub fn encode_request(old: u64, proof: &[Hash], note: &[u8]) -> Vec<u8> {
    let mut b = format!("old {old}\n").into_bytes();
    for h in proof {
        b.extend_from_slice(h.to_base64().as_bytes());
        b.push(b'\n');
    }
    b.push(b'\n');
    b.extend_from_slice(note);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b""[..],
            b"00",
            b"01",
            b"+1",
            b"-1",
            b" 1",
            b"1 ",
            b"1\r",
            b"18446744073709551616",
            b"0x10",
            b"\xd9\xa1",
        ] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn header_errors() {
        let h = Hash::EMPTY.to_base64();
        assert_eq!(AddCheckpoint::parse(b""), Err(ParseError::Truncated));
        assert_eq!(AddCheckpoint::parse(b"old 1"), Err(ParseError::Truncated));
        assert_eq!(AddCheckpoint::parse(b"old 1\n"), Err(ParseError::Truncated));
        assert_eq!(
            AddCheckpoint::parse(b"new 1\n\n"),
            Err(ParseError::BadOldLine)
        );
        assert_eq!(
            AddCheckpoint::parse(b"old  1\n\n"),
            Err(ParseError::BadOldSize)
        );
        assert_eq!(
            AddCheckpoint::parse(b"old 01\n\n"),
            Err(ParseError::BadOldSize)
        );
        assert_eq!(
            AddCheckpoint::parse(b"old 1\r\n\n"),
            Err(ParseError::BadOldSize)
        );
        let body = format!("old 1\n{h}\r\n\n");
        assert_eq!(
            AddCheckpoint::parse(body.as_bytes()),
            Err(ParseError::BadProofHash { index: 0 })
        );
        let body = format!("old 1\n{h}\n{}\n\n", &h[..43]);
        assert_eq!(
            AddCheckpoint::parse(body.as_bytes()),
            Err(ParseError::BadProofHash { index: 1 })
        );
        let body = format!("old 1\n{}\n", format!("{h}\n").repeat(64));
        assert_eq!(
            AddCheckpoint::parse(body.as_bytes()),
            Err(ParseError::TooManyProofLines)
        );
        assert!(matches!(
            AddCheckpoint::parse(b"old 1\n\nnot a note"),
            Err(ParseError::BadCheckpoint(_))
        ));
        let big = vec![b'a'; MAX_REQUEST_SIZE + 1];
        assert_eq!(AddCheckpoint::parse(&big), Err(ParseError::TooLarge));
    }
}
