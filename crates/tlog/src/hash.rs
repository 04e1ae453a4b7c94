//! The SHA-256 hash type and the RFC 6962 hashing rules.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::fmt;

use crate::Error;

/// Length in bytes of every hash in the tree.
pub const HASH_SIZE: usize = 32;

/// A SHA-256 tree hash: a leaf hash, an interior node or a tree head root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; HASH_SIZE]);

impl Hash {
    /// The root of the empty tree, SHA-256 of the empty string (RFC 6962 section 2.1).
    pub const EMPTY: Hash = Hash([
        0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9,
        0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52,
        0xb8, 0x55,
    ]);

    /// Copies a hash out of a slice, which must be exactly 32 bytes long.
    pub fn from_slice(b: &[u8]) -> Result<Hash, Error> {
        let arr: [u8; HASH_SIZE] = b.try_into().map_err(|_| Error::HashLength(b.len()))?;
        Ok(Hash(arr))
    }

    /// Parses the standard, padded base64 form used in checkpoints and proofs.
    ///
    /// Anything that does not decode canonically to exactly 32 bytes is refused.
    pub fn from_base64(s: &str) -> Result<Hash, Error> {
        // 32 bytes are always 44 characters of padded base64; checking first bounds the work.
        if s.len() != 44 {
            return Err(Error::HashBase64);
        }
        let v = STANDARD.decode(s).map_err(|_| Error::HashBase64)?;
        Hash::from_slice(&v)
    }

    /// Standard padded base64, the form used in checkpoints and proofs.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// The bytes of the hash.
    pub fn as_bytes(&self) -> &[u8; HASH_SIZE] {
        &self.0
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_base64())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Hash of a log entry: SHA-256(0x00 || entry).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    Hash(h.finalize().into())
}

/// Hash of an interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_sha256_of_nothing() {
        let d: [u8; 32] = Sha256::digest(b"").into();
        assert_eq!(Hash(d), Hash::EMPTY);
    }

    #[test]
    fn base64_strict() {
        let h = leaf_hash(b"x");
        assert_eq!(Hash::from_base64(&h.to_base64()).unwrap(), h);
        assert!(Hash::from_base64("").is_err());
        assert!(Hash::from_base64("ZG9uJ3QgY2FyZSAy").is_err());
        // Non-zero trailing bits in the last character are not canonical.
        let s = h.to_base64();
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let pos = alphabet.find(&s[42..43]).unwrap();
        let bad = &alphabet[(pos | 1)..(pos | 1) + 1];
        let mut t = s.clone();
        t.replace_range(42..43, bad);
        assert!(matches!(Hash::from_base64(&t), Err(Error::HashBase64)));
    }
}
