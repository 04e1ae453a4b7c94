//! tlog-cosignature: witness cosignatures on checkpoints.
//!
//! Two types, both a `timestamped_signature` (big-endian u64 POSIX time, then
//! the signature) after the key ID:
//!
//! * 0x04, Ed25519 `cosignature/v1`: signs `"cosignature/v1\ntime <t>\n"`
//!   followed by the checkpoint text (extension lines included);
//! * 0x06, ML-DSA-44 (FIPS 204, pure, empty context): signs the binary
//!   `subtree/v1` message ([`subtree_message`]), which commits to the
//!   cosigner name, origin, `[start, end)` and root hash but not to
//!   extension lines. Like Go's torchwood, checkpoints with extension lines
//!   are refused for this type, since nothing would vouch for them.
//!
//! ML-DSA-44 signing uses FIPS 204's deterministic variant, so the pure code
//! needs no randomness.

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use ml_dsa::{EncodedVerifyingKey, MlDsa44};
use std::fmt;
use subtle::ConstantTimeEq;

use detente_tlog::Hash;

use crate::checkpoint::Checkpoint;
use crate::keys::{
    format_key_text, is_valid_name, key_id, parse_key_text, parse_private_text, seed32, KeyText,
    Signer, Verifier, ALG_COSIGNATURE_V1, ALG_MLDSA44,
};
use crate::note::Signature;
use crate::Error;

/// Size of an ML-DSA-44 public key.
pub const MLDSA44_PUBLIC_KEY_SIZE: usize = 1312;
/// Size of an ML-DSA-44 signature.
pub const MLDSA44_SIGNATURE_SIZE: usize = 2420;
const ED25519_SIGNATURE_SIZE: usize = 64;
const SUBTREE_LABEL: &[u8; 12] = b"subtree/v1\n\0";

/// Builds the ML-DSA-44 `subtree/v1` cosigned message.
///
/// Refuses names and origins outside 1..=255 bytes, timestamps over 2^63-1,
/// a non-zero timestamp with a non-zero `start`, `start > end`, and an empty
/// subtree whose hash is not the empty-tree hash.
pub fn subtree_message(
    cosigner: &str,
    timestamp: u64,
    origin: &str,
    start: u64,
    end: u64,
    hash: &Hash,
) -> Result<Vec<u8>, Error> {
    let name_len =
        u8::try_from(cosigner.len()).map_err(|_| Error::BadSubtree("cosigner name too long"))?;
    let origin_len =
        u8::try_from(origin.len()).map_err(|_| Error::BadSubtree("origin too long"))?;
    if name_len == 0 || origin_len == 0 {
        return Err(Error::BadSubtree("empty cosigner name or origin"));
    }
    if timestamp > i64::MAX as u64 {
        return Err(Error::BadTimestamp);
    }
    if start != 0 && timestamp != 0 {
        return Err(Error::BadSubtree(
            "timestamp must be zero when start is not",
        ));
    }
    if start > end || (start == end && *hash != Hash::EMPTY) {
        return Err(Error::BadSubtree("bad range"));
    }
    let mut m = Vec::with_capacity(12 + 2 + cosigner.len() + origin.len() + 24 + 32);
    m.extend_from_slice(SUBTREE_LABEL);
    m.push(name_len);
    m.extend_from_slice(cosigner.as_bytes());
    m.extend_from_slice(&timestamp.to_be_bytes());
    m.push(origin_len);
    m.extend_from_slice(origin.as_bytes());
    m.extend_from_slice(&start.to_be_bytes());
    m.extend_from_slice(&end.to_be_bytes());
    m.extend_from_slice(&hash.0);
    Ok(m)
}

/// Whether `[start, end)` is a subtree in the sense of the Merkle Tree
/// Certificates draft: non-empty and aligned to the next power of two of its
/// size.
fn valid_subtree(start: u64, end: u64) -> bool {
    start < end
        && (end - start)
            .checked_next_power_of_two()
            .is_some_and(|p| start.is_multiple_of(p))
}

/// Parses the note text as a checkpoint and insists it is canonical.
fn canonical_checkpoint(text: &[u8]) -> Option<Checkpoint> {
    let text = std::str::from_utf8(text).ok()?;
    let c = Checkpoint::parse(text).ok()?;
    (c.to_text() == text).then_some(c)
}

fn cosignature_v1_message(timestamp: u64, text: &[u8]) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    m.extend_from_slice(text);
    m
}

/// The message a cosigner of type `alg` named `name` signs over `text`.
fn cosigned_message(alg: u8, name: &str, timestamp: u64, text: &[u8]) -> Result<Vec<u8>, Error> {
    if timestamp > i64::MAX as u64 {
        return Err(Error::BadTimestamp);
    }
    let c = canonical_checkpoint(text).ok_or(Error::BadCheckpoint(
        "cosigned text is not a canonical checkpoint",
    ))?;
    if alg == ALG_COSIGNATURE_V1 {
        return Ok(cosignature_v1_message(timestamp, text));
    }
    if !c.extensions().is_empty() {
        return Err(Error::BadCheckpoint(
            "ML-DSA-44 cosignatures do not cover extension lines",
        ));
    }
    subtree_message(name, timestamp, c.origin(), 0, c.size(), c.root())
}

/// The timestamp of a cosignature (either type), if it has one.
pub fn cosignature_timestamp(sig: &Signature) -> Option<u64> {
    let b: [u8; 8] = sig.bytes().get(..8)?.try_into().ok()?;
    let t = u64::from_be_bytes(b);
    (t <= i64::MAX as u64).then_some(t)
}

enum SecretKey {
    Ed25519(Box<SigningKey>),
    MlDsa44(Box<ml_dsa::SigningKey<MlDsa44>>),
}

/// A witness's cosigning key: Ed25519 `cosignature/v1` or ML-DSA-44.
pub struct Cosigner {
    name: String,
    id: u32,
    key: SecretKey,
}

impl Cosigner {
    /// An Ed25519 `cosignature/v1` (type 0x04) key from a caller-supplied seed.
    pub fn ed25519_from_seed(name: &str, seed: [u8; 32]) -> Result<Cosigner, Error> {
        Cosigner::from_seed(name, ALG_COSIGNATURE_V1, seed)
    }

    /// An ML-DSA-44 (type 0x06) key from a caller-supplied FIPS 204 seed.
    pub fn mldsa44_from_seed(name: &str, seed: [u8; 32]) -> Result<Cosigner, Error> {
        Cosigner::from_seed(name, ALG_MLDSA44, seed)
    }

    fn from_seed(name: &str, alg: u8, seed: [u8; 32]) -> Result<Cosigner, Error> {
        if !is_valid_name(name) {
            return Err(Error::BadKeyName);
        }
        let key = match alg {
            ALG_COSIGNATURE_V1 => SecretKey::Ed25519(Box::new(SigningKey::from_bytes(&seed))),
            ALG_MLDSA44 => {
                SecretKey::MlDsa44(Box::new(ml_dsa::SigningKey::from_seed(&seed.into())))
            }
            other => return Err(Error::UnsupportedKeyType(other)),
        };
        let mut c = Cosigner {
            name: name.to_owned(),
            id: 0,
            key,
        };
        c.id = key_id(name, alg, c.verifier_key().public_key());
        Ok(c)
    }

    /// Parses `PRIVATE+KEY+<name>+<id>+<base64(type || 32-byte seed)>` for
    /// type 0x04 or 0x06, checking the key ID.
    pub fn parse(skey: &str) -> Result<Cosigner, Error> {
        let t = parse_private_text(skey)?;
        let c = Cosigner::from_seed(&t.name, t.alg, seed32(&t.key)?)?;
        if c.id != t.id {
            return Err(Error::KeyIdMismatch);
        }
        Ok(c)
    }

    fn seed(&self) -> [u8; 32] {
        match &self.key {
            SecretKey::Ed25519(k) => k.to_bytes(),
            SecretKey::MlDsa44(k) => k.to_seed().into(),
        }
    }

    /// The private key text (a secret: handle with care).
    pub fn to_private_text(&self) -> String {
        format!(
            "PRIVATE+KEY+{}",
            format_key_text(&self.name, self.id, self.alg(), &self.seed())
        )
    }

    /// Signature type: 0x04 or 0x06.
    pub fn alg(&self) -> u8 {
        match self.key {
            SecretKey::Ed25519(_) => ALG_COSIGNATURE_V1,
            SecretKey::MlDsa44(_) => ALG_MLDSA44,
        }
    }

    fn verifier_key(&self) -> PublicKey {
        match &self.key {
            SecretKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
            SecretKey::MlDsa44(k) => {
                let vk = k.expanded_key().verifying_key();
                let raw = vk.encode().as_slice().to_vec();
                PublicKey::MlDsa44(Box::new(vk), raw)
            }
        }
    }

    /// The matching verifier.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.verifier_key(),
        }
    }

    fn raw_sign(&self, msg: &[u8]) -> Result<Vec<u8>, Error> {
        match &self.key {
            SecretKey::Ed25519(k) => Ok(k.sign(msg).to_bytes().to_vec()),
            SecretKey::MlDsa44(k) => {
                let s: ml_dsa::Signature<MlDsa44> =
                    ml_dsa::Signer::try_sign(k.as_ref(), msg).map_err(|_| Error::SigningFailed)?;
                Ok(s.encode().as_slice().to_vec())
            }
        }
    }

    /// Cosigns a checkpoint note text at `timestamp` (POSIX seconds, supplied
    /// by the caller) and returns the note signature to append.
    pub fn cosign(&self, checkpoint_text: &str, timestamp: u64) -> Result<Signature, Error> {
        let msg = cosigned_message(
            self.alg(),
            &self.name,
            timestamp,
            checkpoint_text.as_bytes(),
        )?;
        let mut sig = timestamp.to_be_bytes().to_vec();
        sig.extend(self.raw_sign(&msg)?);
        Signature::new(&self.name, self.id, sig)
    }

    /// Signs the subtree `[start, end)` with root `hash` of log `origin`
    /// (ML-DSA-44 only; timestamp zero), for use outside checkpoints.
    pub fn sign_subtree(
        &self,
        origin: &str,
        start: u64,
        end: u64,
        hash: &Hash,
    ) -> Result<Signature, Error> {
        if self.alg() != ALG_MLDSA44 {
            return Err(Error::UnsupportedKeyType(self.alg()));
        }
        if !valid_subtree(start, end) {
            return Err(Error::BadSubtree("not a subtree"));
        }
        let msg = subtree_message(&self.name, 0, origin, start, end, hash)?;
        let mut sig = 0u64.to_be_bytes().to_vec();
        sig.extend(self.raw_sign(&msg)?);
        Signature::new(&self.name, self.id, sig)
    }

    /// A [`Signer`] that cosigns at a fixed `timestamp`, for [`crate::Note::sign`].
    pub fn at(&self, timestamp: u64) -> TimedCosigner<'_> {
        TimedCosigner {
            cosigner: self,
            timestamp,
        }
    }
}

impl PartialEq for Cosigner {
    /// Constant-time in the secret seed.
    fn eq(&self, other: &Self) -> bool {
        let same: bool = self.seed().ct_eq(&other.seed()).into();
        same && self.alg() == other.alg() && self.name == other.name
    }
}

impl fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Cosigner({}+{:08x}, type 0x{:02x}, private key elided)",
            self.name,
            self.id,
            self.alg()
        )
    }
}

/// A [`Cosigner`] bound to a timestamp, usable as a note [`Signer`].
#[derive(Debug)]
pub struct TimedCosigner<'a> {
    cosigner: &'a Cosigner,
    timestamp: u64,
}

impl Signer for TimedCosigner<'_> {
    fn name(&self) -> &str {
        &self.cosigner.name
    }
    fn key_id(&self) -> u32 {
        self.cosigner.id
    }
    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, Error> {
        let text = std::str::from_utf8(text).map_err(|_| Error::NotUtf8)?;
        Ok(self.cosigner.cosign(text, self.timestamp)?.bytes().to_vec())
    }
}

#[derive(Clone)]
enum PublicKey {
    Ed25519(VerifyingKey),
    MlDsa44(Box<ml_dsa::VerifyingKey<MlDsa44>>, Vec<u8>),
}

impl PublicKey {
    fn public_key(&self) -> &[u8] {
        match self {
            PublicKey::Ed25519(k) => k.as_bytes(),
            PublicKey::MlDsa44(_, raw) => raw,
        }
    }
}

/// Verifies witness cosignatures of type 0x04 or 0x06.
#[derive(Clone)]
pub struct CosignatureVerifier {
    name: String,
    id: u32,
    key: PublicKey,
}

impl CosignatureVerifier {
    /// Parses a vkey `<name>+<id>+<base64(0x04 or 0x06 || key)>`, checking the key ID.
    pub fn parse(vkey: &str) -> Result<CosignatureVerifier, Error> {
        CosignatureVerifier::from_parts(&parse_key_text(vkey)?)
    }

    pub(crate) fn from_parts(t: &KeyText) -> Result<CosignatureVerifier, Error> {
        let key = match t.alg {
            ALG_COSIGNATURE_V1 => {
                let b: [u8; 32] = t
                    .key
                    .as_slice()
                    .try_into()
                    .map_err(|_| Error::BadKey("Ed25519 public key must be 32 bytes"))?;
                PublicKey::Ed25519(
                    VerifyingKey::from_bytes(&b)
                        .map_err(|_| Error::BadKey("invalid Ed25519 point"))?,
                )
            }
            ALG_MLDSA44 => {
                let enc = EncodedVerifyingKey::<MlDsa44>::try_from(t.key.as_slice())
                    .map_err(|_| Error::BadKey("ML-DSA-44 public key must be 1312 bytes"))?;
                let vk = ml_dsa::VerifyingKey::<MlDsa44>::decode(&enc);
                PublicKey::MlDsa44(Box::new(vk), t.key.clone())
            }
            other => return Err(Error::UnsupportedKeyType(other)),
        };
        if key_id(&t.name, t.alg, key.public_key()) != t.id {
            return Err(Error::KeyIdMismatch);
        }
        Ok(CosignatureVerifier {
            name: t.name.clone(),
            id: t.id,
            key,
        })
    }

    /// Signature type: 0x04 or 0x06.
    pub fn alg(&self) -> u8 {
        match self.key {
            PublicKey::Ed25519(_) => ALG_COSIGNATURE_V1,
            PublicKey::MlDsa44(..) => ALG_MLDSA44,
        }
    }

    /// The raw public key (32 or 1312 bytes).
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key()
    }

    fn raw_verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match &self.key {
            PublicKey::Ed25519(k) => ed25519_dalek::Signature::from_slice(sig)
                .is_ok_and(|s| k.verify_strict(msg, &s).is_ok()),
            PublicKey::MlDsa44(k, _) => ml_dsa::Signature::<MlDsa44>::try_from(sig)
                .is_ok_and(|s| k.verify_with_context(msg, b"", &s)),
        }
    }

    fn split_sig<'s>(&self, sig: &'s [u8]) -> Option<(u64, &'s [u8])> {
        let want = 8 + match self.key {
            PublicKey::Ed25519(_) => ED25519_SIGNATURE_SIZE,
            PublicKey::MlDsa44(..) => MLDSA44_SIGNATURE_SIZE,
        };
        if sig.len() != want {
            return None;
        }
        let (t, s) = sig.split_at(8);
        let t = u64::from_be_bytes(t.try_into().ok()?);
        (t <= i64::MAX as u64).then_some((t, s))
    }

    /// Verifies an ML-DSA-44 subtree cosignature (see [`Cosigner::sign_subtree`]).
    /// A checkpoint cosignature is also a valid cosignature of `[0, size)`.
    pub fn verify_subtree(
        &self,
        origin: &str,
        start: u64,
        end: u64,
        hash: &Hash,
        sig: &Signature,
    ) -> bool {
        if self.alg() != ALG_MLDSA44
            || sig.name() != self.name
            || sig.id() != self.id
            || !valid_subtree(start, end)
        {
            return false;
        }
        let Some((t, s)) = self.split_sig(sig.bytes()) else {
            return false;
        };
        subtree_message(&self.name, t, origin, start, end, hash)
            .is_ok_and(|m| self.raw_verify(&m, s))
    }
}

impl Verifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, text: &[u8], sig: &[u8]) -> bool {
        let Some((t, s)) = self.split_sig(sig) else {
            return false;
        };
        cosigned_message(self.alg(), &self.name, t, text).is_ok_and(|m| self.raw_verify(&m, s))
    }
}

impl PartialEq for CosignatureVerifier {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.id == other.id
            && self.alg() == other.alg()
            && self.public_key() == other.public_key()
    }
}

impl Eq for CosignatureVerifier {}

impl fmt::Display for CosignatureVerifier {
    /// The vkey text form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_key_text(
            &self.name,
            self.id,
            self.alg(),
            self.public_key(),
        ))
    }
}

impl fmt::Debug for CosignatureVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CosignatureVerifier({}+{:08x}, type 0x{:02x})",
            self.name,
            self.id,
            self.alg()
        )
    }
}
