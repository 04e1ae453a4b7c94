//! The log's side of [c2sp.org/tlog-witness](https://c2sp.org/tlog-witness), sans-IO.
//!
//! A [`Session`] asks one witness to cosign one checkpoint. The caller sends what
//! [`Session::request`] gives (the body of `POST <witness>/add-checkpoint`, built with the
//! consistency proof it computes for [`Request::old`]) and hands the reply to
//! [`Session::handle`], which answers with the next step: send again (a `409 Conflict` named
//! the size the witness really holds, once), or done. Every cosignature line a witness returns
//! is verified against the keys the caller trusts for that witness over this exact checkpoint
//! before it is accepted: a line that does not parse, is signed by another key, or does not
//! verify is reported in [`Cosignatures::rejected`] and never published.

use detente_note::{CosignatureVerifier, Note, Signature, Verifier as _};
use detente_tlog::Hash;

use crate::request::encode_request;

/// Largest reply body read from a witness (a few cosignature lines; far less in practice).
pub const MAX_RESPONSE_SIZE: usize = 64 * 1024;

/// How many requests a session sends at most (the first, and one retry after a 409).
pub const MAX_REQUESTS: usize = 2;

/// What to send next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The size the request claims the witness last cosigned; the proof must go from it.
    pub old: u64,
}

/// A line a witness returned that was not accepted, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// The line as received (lossy UTF-8).
    pub line: String,
    /// Why it was dropped.
    pub reason: String,
}

/// The verified outcome of a successful exchange.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cosignatures {
    /// Cosignatures that verify under one of the witness's keys, ready to publish.
    pub accepted: Vec<Signature>,
    /// Lines dropped, with the reason.
    pub rejected: Vec<Rejected>,
}

/// Why a session ended without a cosignature.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The witness refused with this status and message.
    #[error("HTTP {status}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The reply body (trimmed, lossy UTF-8, at most 200 characters).
        message: String,
    },
    /// A 409 whose body is not a size, or names a size the log cannot prove from.
    #[error("HTTP 409 with an unusable size: {0:?}")]
    BadConflict(String),
    /// Still conflicting after [`MAX_REQUESTS`] requests.
    #[error("the witness still disagrees about its size after {MAX_REQUESTS} requests")]
    TooManyConflicts,
    /// A reply longer than [`MAX_RESPONSE_SIZE`].
    #[error("reply larger than {MAX_RESPONSE_SIZE} bytes")]
    TooLarge,
    /// A 200 reply with no line that verifies under the witness's keys.
    #[error("no valid cosignature in the reply ({} line(s) rejected)", .0.len())]
    NoValidCosignature(Vec<Rejected>),
}

/// The next step of a [`Session`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this request (with a proof from `old` to the checkpoint's size).
    Send(Request),
    /// Done: the verified cosignatures.
    Done(Cosignatures),
}

/// One witness asked to cosign one checkpoint.
#[derive(Debug)]
pub struct Session<'a> {
    note: &'a Note,
    size: u64,
    keys: &'a [CosignatureVerifier],
    old: u64,
    sent: usize,
}

impl<'a> Session<'a> {
    /// A session for `checkpoint` (a signed note of tree size `size`), with the witness's
    /// trusted keys and the size it is believed to have cosigned last (0 if unknown; a hint
    /// larger than `size` is ignored).
    pub fn new(
        checkpoint: &'a Note,
        size: u64,
        keys: &'a [CosignatureVerifier],
        old_hint: u64,
    ) -> Session<'a> {
        Session {
            note: checkpoint,
            size,
            keys,
            old: if old_hint <= size { old_hint } else { 0 },
            sent: 0,
        }
    }

    /// The first request.
    pub fn request(&self) -> Request {
        Request { old: self.old }
    }

    /// The body of the request for `old`, with `proof` a consistency proof from `old` to the
    /// checkpoint's size (empty when `old` is 0 or the size itself).
    pub fn body(&mut self, req: &Request, proof: &[Hash]) -> Vec<u8> {
        self.sent += 1;
        encode_request(req.old, proof, &self.note.to_bytes())
    }

    /// Handles a reply: its HTTP status and body.
    pub fn handle(&mut self, status: u16, body: &[u8]) -> Result<Step, ClientError> {
        if body.len() > MAX_RESPONSE_SIZE {
            return Err(ClientError::TooLarge);
        }
        let text = String::from_utf8_lossy(body);
        match status {
            200 => {
                let c = verify_lines(self.note, self.keys, &text);
                if c.accepted.is_empty() {
                    Err(ClientError::NoValidCosignature(c.rejected))
                } else {
                    Ok(Step::Done(c))
                }
            }
            409 => {
                let n: u64 = text
                    .trim()
                    .parse()
                    .map_err(|_| ClientError::BadConflict(short(&text)))?;
                if n > self.size || n == self.old {
                    return Err(ClientError::BadConflict(short(&text)));
                }
                if self.sent >= MAX_REQUESTS {
                    return Err(ClientError::TooManyConflicts);
                }
                self.old = n;
                Ok(Step::Send(Request { old: n }))
            }
            _ => Err(ClientError::Refused {
                status,
                message: short(&text),
            }),
        }
    }
}

fn short(s: &str) -> String {
    s.trim().chars().take(200).collect()
}

/// Verifies each non-empty line of a witness's reply as a cosignature of `note` under one of
/// `keys`.
pub fn verify_lines(note: &Note, keys: &[CosignatureVerifier], reply: &str) -> Cosignatures {
    let mut out = Cosignatures::default();
    for line in reply.lines().filter(|l| !l.is_empty()) {
        let reject = |reason: String| Rejected {
            line: line.chars().take(200).collect(),
            reason,
        };
        let sig = match Signature::parse_line(line) {
            Ok(s) => s,
            Err(e) => {
                out.rejected
                    .push(reject(format!("not a signature line: {e}")));
                continue;
            }
        };
        let Some(key) = keys
            .iter()
            .find(|k| k.name() == sig.name() && k.key_id() == sig.id())
        else {
            out.rejected.push(reject(format!(
                "signed by {} ({:08x}), not a key trusted for this witness",
                sig.name(),
                sig.id()
            )));
            continue;
        };
        if !key.verify(note.text().as_bytes(), sig.bytes()) {
            out.rejected.push(reject(
                "does not verify over this checkpoint under the witness's key".into(),
            ));
            continue;
        }
        if out.accepted.iter().any(|a| a.key() == sig.key()) {
            out.rejected
                .push(reject("a second cosignature by the same key".into()));
            continue;
        }
        out.accepted.push(sig);
    }
    out
}
