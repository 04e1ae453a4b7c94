//! The `next` pagination cursor: an opaque token bound to the member, the request's filters
//! and a position, authenticated with HMAC-SHA256 under a key only the hub holds.
//!
//! A cursor is `base64url(position as 8 big-endian bytes || first 16 bytes of the MAC)`,
//! with the MAC over a domain tag, the member name, the digest of the normalised filters
//! and the position. A cursor replayed by another member, with other filters or with a
//! changed position fails the check and is refused, so a client can never steer the
//! server's scan with a forged position.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

const TAG: &[u8] = b"detente-hub cursor v1\n";
const MAC_LEN: usize = 16;

/// Makes and checks cursors under one secret key.
#[derive(Clone)]
pub struct Cursors {
    key: [u8; 32],
}

impl std::fmt::Debug for Cursors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cursors(..)")
    }
}

impl Cursors {
    /// Cursors under `key` (32 secret random bytes, kept by the hub).
    pub fn new(key: [u8; 32]) -> Cursors {
        Cursors { key }
    }

    fn mac(&self, member: &str, filters: &[u8], position: u64) -> [u8; 32] {
        // A 32-byte key is always a valid HMAC key; `new_from_slice` cannot fail here.
        let mut m = <HmacSha256 as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        m.update(TAG);
        m.update(&(member.len() as u64).to_be_bytes());
        m.update(member.as_bytes());
        m.update(&(filters.len() as u64).to_be_bytes());
        m.update(filters);
        m.update(&position.to_be_bytes());
        m.finalize().into_bytes().into()
    }

    /// The cursor resuming after `position` for `member` (empty for anonymous) and the
    /// normalised `filters`.
    pub fn make(&self, member: &str, filters: &[u8], position: u64) -> String {
        let mut raw = position.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.mac(member, filters, position)[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The position in `cursor`, if it was made by this hub for this member and filters.
    pub fn check(&self, cursor: &str, member: &str, filters: &[u8]) -> Option<u64> {
        if cursor.len() > 64 {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        if raw.len() != 8 + MAC_LEN {
            return None;
        }
        let position = u64::from_be_bytes(raw[..8].try_into().ok()?);
        let want = self.mac(member, filters, position);
        if bool::from(want[..MAC_LEN].ct_eq(&raw[8..])) {
            Some(position)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_is_bound_to_member_filters_and_position() {
        let c = Cursors::new([7; 32]);
        let t = c.make("alice", b"type=indicator", 42);
        assert_eq!(c.check(&t, "alice", b"type=indicator"), Some(42));
        assert_eq!(c.check(&t, "bob", b"type=indicator"), None);
        assert_eq!(c.check(&t, "alice", b"type=malware"), None);
        assert_eq!(
            Cursors::new([8; 32]).check(&t, "alice", b"type=indicator"),
            None
        );
        // Change the position bytes: refused.
        let mut raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
        raw[7] ^= 1;
        let forged = URL_SAFE_NO_PAD.encode(raw);
        assert_eq!(c.check(&forged, "alice", b"type=indicator"), None);
        for junk in ["", "!!!", "AAAA", &"A".repeat(100)] {
            assert_eq!(c.check(junk, "alice", b""), None);
        }
    }
}
