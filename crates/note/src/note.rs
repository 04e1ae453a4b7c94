//! The signed-note format: parse, serialize, sign, verify.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::collections::HashSet;
use std::fmt;

use crate::keys::{is_valid_name, Signer, Verifiers};
use crate::Error;

/// Largest note accepted, in bytes (1 MiB, Go's order of magnitude).
pub const MAX_NOTE_SIZE: usize = 1 << 20;

/// Most signature lines accepted on one note (Go's limit; C2SP requires at least 16).
pub const MAX_SIGNATURES: usize = 100;

const SIG_PREFIX: &str = "\u{2014} ";

/// One signature line: key name, key ID and the signature bytes that follow
/// the key ID.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Signature {
    name: String,
    id: u32,
    sig: Vec<u8>,
}

impl Signature {
    /// A signature by key `name`/`id`. The name must be valid and `sig`
    /// non-empty.
    pub fn new(name: &str, id: u32, sig: Vec<u8>) -> Result<Signature, Error> {
        if !is_valid_name(name) {
            return Err(Error::BadKeyName);
        }
        if sig.is_empty() {
            return Err(Error::SignatureTooShort);
        }
        Ok(Signature {
            name: name.to_owned(),
            id,
            sig,
        })
    }
    /// Key name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Key ID.
    pub fn id(&self) -> u32 {
        self.id
    }
    /// Signature bytes after the key ID.
    pub fn bytes(&self) -> &[u8] {
        &self.sig
    }
    /// Which key made this signature.
    pub fn key(&self) -> KeyRef {
        KeyRef {
            name: self.name.clone(),
            id: self.id,
        }
    }
    /// The line `— <name> <base64(id || sig)>\n`.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.sig.len());
        raw.extend_from_slice(&self.id.to_be_bytes());
        raw.extend_from_slice(&self.sig);
        format!("{SIG_PREFIX}{} {}\n", self.name, STANDARD.encode(raw))
    }
    /// Parses one signature line, without its trailing newline.
    pub fn parse_line(line: &str) -> Result<Signature, Error> {
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or(Error::BadSignatureLine)?;
        let (name, b64) = rest.split_once(' ').ok_or(Error::BadSignatureLine)?;
        if !is_valid_name(name) {
            return Err(Error::BadKeyName);
        }
        let raw = STANDARD.decode(b64).map_err(|_| Error::BadBase64)?;
        let [a, b, c, d, sig @ ..] = raw.as_slice() else {
            return Err(Error::SignatureTooShort);
        };
        if sig.is_empty() {
            return Err(Error::SignatureTooShort);
        }
        Ok(Signature {
            name: name.to_owned(),
            id: u32::from_be_bytes([*a, *b, *c, *d]),
            sig: sig.to_vec(),
        })
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Signature({} {:08x}, {} bytes)",
            self.name,
            self.id,
            self.sig.len()
        )
    }
}

/// Identity of a key as seen in a note: name and key ID.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyRef {
    /// Key name.
    pub name: String,
    /// Key ID.
    pub id: u32,
}

/// Outcome of [`Note::verify`]: which known keys signed, and which
/// signatures came from keys the verifier does not know (and were ignored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// Known keys whose signatures verified, in note order.
    pub verified: Vec<KeyRef>,
    /// Signatures by unknown keys, in note order.
    pub unknown: Vec<KeyRef>,
}

impl Verification {
    /// Whether `name`/`id` is among the verified keys.
    pub fn is_verified(&self, name: &str, id: u32) -> bool {
        self.verified.iter().any(|k| k.name == name && k.id == id)
    }
}

/// A signed note: text plus signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    sigs: Vec<Signature>,
}

/// Checks the character rules shared by whole notes and note texts.
fn check_chars(s: &str) -> Result<(), Error> {
    if s.chars().any(|c| c < ' ' && c != '\n') {
        return Err(Error::ControlChar);
    }
    Ok(())
}

impl Note {
    /// An unsigned note. The text must end in a newline and hold no control
    /// characters but newlines.
    pub fn new(text: impl Into<String>) -> Result<Note, Error> {
        let text = text.into();
        if text.len() > MAX_NOTE_SIZE {
            return Err(Error::TooLarge);
        }
        check_chars(&text)?;
        if !text.ends_with('\n') {
            return Err(Error::BadText);
        }
        Ok(Note {
            text,
            sigs: Vec::new(),
        })
    }

    /// Parses a signed note strictly, without verifying any signature.
    pub fn parse(msg: &[u8]) -> Result<Note, Error> {
        if msg.len() > MAX_NOTE_SIZE {
            return Err(Error::TooLarge);
        }
        let msg = std::str::from_utf8(msg).map_err(|_| Error::NotUtf8)?;
        check_chars(msg)?;
        let split = msg.rfind("\n\n").ok_or(Error::NoSignatures)?;
        let (text, sigs) = (&msg[..split + 1], &msg[split + 2..]);
        if sigs.is_empty() {
            return Err(Error::NoSignatures);
        }
        let body = sigs.strip_suffix('\n').ok_or(Error::BadSignatureLine)?;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for line in body.split('\n') {
            if out.len() == MAX_SIGNATURES {
                return Err(Error::TooManySignatures);
            }
            let s = Signature::parse_line(line)?;
            if !seen.insert((s.name.clone(), s.id)) {
                return Err(Error::DuplicateSignature {
                    name: s.name,
                    id: s.id,
                });
            }
            out.push(s);
        }
        Ok(Note {
            text: text.to_owned(),
            sigs: out,
        })
    }

    /// The note text, including its final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signatures, in order.
    pub fn signatures(&self) -> &[Signature] {
        &self.sigs
    }

    /// Adds a signature, replacing any earlier one by the same key.
    pub fn add_signature(&mut self, sig: Signature) -> Result<(), Error> {
        self.sigs
            .retain(|s| !(s.name == sig.name && s.id == sig.id));
        if self.sigs.len() >= MAX_SIGNATURES {
            return Err(Error::TooManySignatures);
        }
        self.sigs.push(sig);
        Ok(())
    }

    /// Signs the text with `signer` and adds the signature.
    pub fn sign(&mut self, signer: &dyn Signer) -> Result<(), Error> {
        let sig = signer.sign(self.text.as_bytes())?;
        let sig = Signature::new(signer.name(), signer.key_id(), sig)?;
        self.add_signature(sig)
    }

    /// The serialized note: text, blank line, signature lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// Checks signatures by known keys, as C2SP requires: signatures by
    /// unknown keys are ignored (and listed), any failing signature by a known
    /// key rejects the note, and at least one known key must have signed.
    pub fn verify(&self, known: &Verifiers) -> Result<Verification, Error> {
        let mut v = Verification {
            verified: Vec::new(),
            unknown: Vec::new(),
        };
        for s in &self.sigs {
            match known.find(&s.name, s.id) {
                None => v.unknown.push(s.key()),
                Some(k) => {
                    if !k.verify(self.text.as_bytes(), &s.sig) {
                        return Err(Error::InvalidSignature {
                            name: s.name.clone(),
                            id: s.id,
                        });
                    }
                    v.verified.push(s.key());
                }
            }
        }
        if v.verified.is_empty() {
            return Err(Error::Unverified);
        }
        Ok(v)
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for s in &self.sigs {
            f.write_str(&s.to_line())?;
        }
        Ok(())
    }
}
