//! Key traits, key IDs, Ed25519 note keys and the vkey text form.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

use crate::cosignature::CosignatureVerifier;
use crate::Error;

/// Signature type of Ed25519 note signatures (signed-note).
pub const ALG_ED25519: u8 = 0x01;
/// Signature type of Ed25519 `cosignature/v1` cosignatures (tlog-cosignature).
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// Signature type of ML-DSA-44 `subtree/v1` cosignatures (tlog-cosignature).
pub const ALG_MLDSA44: u8 = 0x06;

/// Something that signs note texts under a key name and key ID.
pub trait Signer {
    /// Key name.
    fn name(&self) -> &str;
    /// Key ID.
    fn key_id(&self) -> u32;
    /// Signature bytes (without the key ID) over the note text.
    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, Error>;
}

/// Something that verifies note signatures by one key.
pub trait Verifier {
    /// Key name.
    fn name(&self) -> &str;
    /// Key ID.
    fn key_id(&self) -> u32;
    /// Whether `sig` (without the key ID) is a valid signature over `text`.
    fn verify(&self, text: &[u8], sig: &[u8]) -> bool;
}

/// Whether `name` is a valid key name: non-empty, no Unicode whitespace, no `+`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// The C2SP key ID: the first four bytes of
/// SHA-256(name || 0x0A || signature type || public key), big-endian.
pub fn key_id(name: &str, alg: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Parts of a key text: name, stated key ID, type byte, key material.
pub(crate) struct KeyText {
    pub name: String,
    pub id: u32,
    pub alg: u8,
    pub key: Vec<u8>,
}

fn parse_hex_id(s: &str) -> Result<u32, Error> {
    if s.len() != 8 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(Error::BadKey("key ID must be 8 lowercase hex digits"));
    }
    u32::from_str_radix(s, 16).map_err(|_| Error::BadKey("key ID"))
}

/// Parses `<name>+<hex id>+<base64(type || key)>`.
pub(crate) fn parse_key_text(s: &str) -> Result<KeyText, Error> {
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Error::BadKey("want name+id+key"));
    };
    if !is_valid_name(name) {
        return Err(Error::BadKeyName);
    }
    let id = parse_hex_id(id)?;
    let raw = STANDARD.decode(b64).map_err(|_| Error::BadBase64)?;
    let Some((&alg, key)) = raw.split_first() else {
        return Err(Error::BadKey("empty key"));
    };
    Ok(KeyText {
        name: name.to_owned(),
        id,
        alg,
        key: key.to_vec(),
    })
}

/// Parses Go's private key form `PRIVATE+KEY+<name>+<hex id>+<base64(type || seed)>`.
pub(crate) fn parse_private_text(s: &str) -> Result<KeyText, Error> {
    let rest = s
        .strip_prefix("PRIVATE+KEY+")
        .ok_or(Error::BadKey("private key must start with PRIVATE+KEY+"))?;
    parse_key_text(rest)
}

pub(crate) fn format_key_text(name: &str, id: u32, alg: u8, key: &[u8]) -> String {
    let mut raw = Vec::with_capacity(1 + key.len());
    raw.push(alg);
    raw.extend_from_slice(key);
    format!("{name}+{id:08x}+{}", STANDARD.encode(raw))
}

pub(crate) fn seed32(key: &[u8]) -> Result<[u8; 32], Error> {
    key.try_into()
        .map_err(|_| Error::BadKey("seed must be 32 bytes"))
}

/// An Ed25519 note-signing key (signature type 0x01), e.g. a log's key.
pub struct Ed25519Signer {
    name: String,
    id: u32,
    key: SigningKey,
}

impl Ed25519Signer {
    /// A key named `name` from a 32-byte seed (RFC 8032 private key). The
    /// caller supplies the randomness.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Ed25519Signer, Error> {
        if !is_valid_name(name) {
            return Err(Error::BadKeyName);
        }
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, ALG_ED25519, key.verifying_key().as_bytes());
        Ok(Ed25519Signer {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Parses Go's `PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>` form,
    /// checking the key ID.
    pub fn parse(skey: &str) -> Result<Ed25519Signer, Error> {
        let t = parse_private_text(skey)?;
        if t.alg != ALG_ED25519 {
            return Err(Error::UnsupportedKeyType(t.alg));
        }
        let s = Ed25519Signer::from_seed(&t.name, seed32(&t.key)?)?;
        if s.id != t.id {
            return Err(Error::KeyIdMismatch);
        }
        Ok(s)
    }

    /// The private key text (a secret: handle with care).
    pub fn to_private_text(&self) -> String {
        format!(
            "PRIVATE+KEY+{}",
            format_key_text(&self.name, self.id, ALG_ED25519, self.key.as_bytes())
        )
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Ed25519Verifier {
        Ed25519Verifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }
}

impl PartialEq for Ed25519Signer {
    /// Constant-time in the secret seed.
    fn eq(&self, other: &Self) -> bool {
        let same_seed: bool = self.key.as_bytes().ct_eq(other.key.as_bytes()).into();
        same_seed && self.name == other.name
    }
}

impl fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Ed25519Signer({}+{:08x}, private key elided)",
            self.name, self.id
        )
    }
}

impl Signer for Ed25519Signer {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(self.key.sign(text).to_bytes().to_vec())
    }
}

/// An Ed25519 note verifier (signature type 0x01).
#[derive(Clone, PartialEq, Eq)]
pub struct Ed25519Verifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl Ed25519Verifier {
    /// Parses a vkey `<name>+<id>+<base64(0x01 || key)>`, checking the key ID.
    pub fn parse(vkey: &str) -> Result<Ed25519Verifier, Error> {
        let t = parse_key_text(vkey)?;
        if t.alg != ALG_ED25519 {
            return Err(Error::UnsupportedKeyType(t.alg));
        }
        Ed25519Verifier::from_parts(&t)
    }

    pub(crate) fn from_parts(t: &KeyText) -> Result<Ed25519Verifier, Error> {
        let bytes: [u8; 32] = t
            .key
            .as_slice()
            .try_into()
            .map_err(|_| Error::BadKey("Ed25519 public key must be 32 bytes"))?;
        let key =
            VerifyingKey::from_bytes(&bytes).map_err(|_| Error::BadKey("invalid Ed25519 point"))?;
        if key_id(&t.name, ALG_ED25519, &bytes) != t.id {
            return Err(Error::KeyIdMismatch);
        }
        Ok(Ed25519Verifier {
            name: t.name.clone(),
            id: t.id,
            key,
        })
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }
}

impl fmt::Display for Ed25519Verifier {
    /// The vkey text form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_key_text(
            &self.name,
            self.id,
            ALG_ED25519,
            self.key.as_bytes(),
        ))
    }
}

impl fmt::Debug for Ed25519Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519Verifier({self})")
    }
}

impl Verifier for Ed25519Verifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, text: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            return false;
        };
        self.key.verify_strict(text, &sig).is_ok()
    }
}

/// Any verifier key this crate can parse from a vkey, by signature type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifierKey {
    /// Type 0x01: Ed25519 note signatures (logs).
    Ed25519(Ed25519Verifier),
    /// Type 0x04 or 0x06: witness cosignatures.
    Cosignature(CosignatureVerifier),
}

impl VerifierKey {
    /// Parses a vkey of type 0x01, 0x04 or 0x06, checking its key ID.
    pub fn parse(vkey: &str) -> Result<VerifierKey, Error> {
        let t = parse_key_text(vkey)?;
        match t.alg {
            ALG_ED25519 => Ok(VerifierKey::Ed25519(Ed25519Verifier::from_parts(&t)?)),
            ALG_COSIGNATURE_V1 | ALG_MLDSA44 => Ok(VerifierKey::Cosignature(
                CosignatureVerifier::from_parts(&t)?,
            )),
            other => Err(Error::UnsupportedKeyType(other)),
        }
    }

    /// Signature type byte.
    pub fn alg(&self) -> u8 {
        match self {
            VerifierKey::Ed25519(_) => ALG_ED25519,
            VerifierKey::Cosignature(c) => c.alg(),
        }
    }

    /// The raw public key, without type byte (used to spot duplicate keys).
    pub fn public_key(&self) -> &[u8] {
        match self {
            VerifierKey::Ed25519(v) => v.public_key(),
            VerifierKey::Cosignature(c) => c.public_key(),
        }
    }

    fn as_verifier(&self) -> &dyn Verifier {
        match self {
            VerifierKey::Ed25519(v) => v,
            VerifierKey::Cosignature(c) => c,
        }
    }
}

impl fmt::Display for VerifierKey {
    /// The vkey text form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifierKey::Ed25519(v) => v.fmt(f),
            VerifierKey::Cosignature(c) => c.fmt(f),
        }
    }
}

impl Verifier for VerifierKey {
    fn name(&self) -> &str {
        self.as_verifier().name()
    }
    fn key_id(&self) -> u32 {
        self.as_verifier().key_id()
    }
    fn verify(&self, text: &[u8], sig: &[u8]) -> bool {
        self.as_verifier().verify(text, sig)
    }
}

/// The set of keys a verifier trusts, looked up by name and key ID.
#[derive(Default)]
pub struct Verifiers {
    list: Vec<Box<dyn Verifier + Send + Sync>>,
}

impl Verifiers {
    /// An empty set.
    pub fn new() -> Verifiers {
        Verifiers::default()
    }

    /// Adds a key; two keys with the same name and key ID are ambiguous.
    pub fn add(&mut self, v: impl Verifier + Send + Sync + 'static) -> Result<(), Error> {
        if self.find(v.name(), v.key_id()).is_some() {
            return Err(Error::AmbiguousKey {
                name: v.name().to_owned(),
                id: v.key_id(),
            });
        }
        self.list.push(Box::new(v));
        Ok(())
    }

    /// Builder form of [`Verifiers::add`].
    pub fn with(mut self, v: impl Verifier + Send + Sync + 'static) -> Result<Verifiers, Error> {
        self.add(v)?;
        Ok(self)
    }

    /// The key with this name and ID, if known.
    pub fn find(&self, name: &str, id: u32) -> Option<&(dyn Verifier + Send + Sync)> {
        self.list
            .iter()
            .find(|v| v.key_id() == id && v.name() == name)
            .map(|b| b.as_ref())
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

impl fmt::Debug for Verifiers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.list
                    .iter()
                    .map(|v| format!("{}+{:08x}", v.name(), v.key_id())),
            )
            .finish()
    }
}
