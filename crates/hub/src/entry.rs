//! The hub's log entries and receipts.
//!
//! Every accepted object version (and every deletion) becomes one entry of the hub's
//! transparency log. The entry binds the SHA-256 of the object's RFC 8785 canonical JSON,
//! the collection, the submitting member, its organisation and key, its signature and the
//! `date_added` the hub gave it. It holds no object id and no content: the log is public,
//! and a hash of a JSON object carrying a random UUID reveals nothing about it, while anyone
//! holding the object can recompute the hash.
//!
//! ```text
//! detente-intel/v1
//! kind submit
//! collection 91a7b528-80eb-42ed-a74d-c6fbd5a26116
//! object 6f1ed002ab5595859014ebf0951522d9...
//! member alice
//! org acme
//! key <base64 Ed25519 public key, or ->
//! signature <base64 Ed25519 signature, or ->
//! date_added 2026-12-01T16:20:00.123456Z
//! origin <origin hub's log name> <index there>      (only for objects synced from a peer)
//! ```
//!
//! A receipt is a C2SP tlog-proof whose `extra` data is the entry: with the policy that
//! names the hub's log key and witnesses, it proves offline that the entry is in the log the
//! witnesses saw.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use detente_policy::{Policy, TlogProof, VerifiedProof};
use sha2::{Digest as _, Sha256};

use crate::access::valid_name;

/// First line of every entry.
pub const HEADER: &str = "detente-intel/v1";

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An object version was accepted.
    Submit,
    /// An object version was deleted from the collection (the log keeps its entry).
    Delete,
}

/// One log entry, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Submit or delete.
    pub kind: Kind,
    /// Collection id.
    pub collection: String,
    /// SHA-256 of the object's canonical JSON.
    pub object: [u8; 32],
    /// Member that submitted (or deleted) it.
    pub member: String,
    /// That member's organisation.
    pub org: String,
    /// The member's Ed25519 public key, if it has one.
    pub key: Option<[u8; 32]>,
    /// The member's Ed25519 signature over the canonical object, if it signed.
    pub signature: Option<[u8; 64]>,
    /// `date_added` as the hub serves it.
    pub date_added: String,
    /// For an object synced from another hub: that hub's log origin and the entry's index.
    pub origin: Option<(String, u64)>,
}

/// Why entry bytes don't decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a detente-intel/v1 entry: {0}")]
pub struct EntryError(pub &'static str);

/// SHA-256 of bytes.
pub fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    // Lowercase only, so an entry has one encoding.
    (hex(&out) == s).then_some(out)
}

/// Lowercase hex of a SHA-256.
pub fn hash_hex(h: &[u8; 32]) -> String {
    hex(h)
}

/// Parses lowercase hex SHA-256.
pub fn parse_hash(s: &str) -> Option<[u8; 32]> {
    unhex32(s)
}

impl Entry {
    /// The entry's bytes, as logged.
    pub fn to_bytes(&self) -> Vec<u8> {
        let opt = |b: Option<&[u8]>| b.map_or_else(|| "-".to_string(), |b| STANDARD.encode(b));
        let mut s = format!(
            "{HEADER}\nkind {}\ncollection {}\nobject {}\nmember {}\norg {}\nkey {}\nsignature {}\ndate_added {}\n",
            match self.kind {
                Kind::Submit => "submit",
                Kind::Delete => "delete",
            },
            self.collection,
            hex(&self.object),
            self.member,
            self.org,
            opt(self.key.as_ref().map(|k| &k[..])),
            opt(self.signature.as_ref().map(|k| &k[..])),
            self.date_added,
        );
        if let Some((o, i)) = &self.origin {
            s.push_str(&format!("origin {o} {i}\n"));
        }
        s.into_bytes()
    }

    /// Decodes entry bytes, accepting only the one encoding [`Entry::to_bytes`] makes.
    pub fn parse(b: &[u8]) -> Result<Entry, EntryError> {
        let text = std::str::from_utf8(b).map_err(|_| EntryError("not UTF-8"))?;
        let body = text
            .strip_suffix('\n')
            .ok_or(EntryError("no final newline"))?;
        let mut lines = body.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(EntryError("wrong header"));
        }
        let mut field = |name: &'static str| -> Result<&str, EntryError> {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|l| l.strip_prefix(' '))
                .ok_or(EntryError(name))
        };
        let kind = match field("kind")? {
            "submit" => Kind::Submit,
            "delete" => Kind::Delete,
            _ => return Err(EntryError("kind")),
        };
        let collection = field("collection")?.to_string();
        let object = unhex32(field("object")?).ok_or(EntryError("object"))?;
        let member = field("member")?.to_string();
        let org = field("org")?.to_string();
        if !valid_name(&member) || !valid_name(&org) {
            return Err(EntryError("member or org name"));
        }
        let key = match field("key")? {
            "-" => None,
            k => Some(
                STANDARD
                    .decode(k)
                    .ok()
                    .and_then(|v| <[u8; 32]>::try_from(v).ok())
                    .ok_or(EntryError("key"))?,
            ),
        };
        let signature = match field("signature")? {
            "-" => None,
            k => Some(
                STANDARD
                    .decode(k)
                    .ok()
                    .and_then(|v| <[u8; 64]>::try_from(v).ok())
                    .ok_or(EntryError("signature"))?,
            ),
        };
        let date_added = field("date_added")?.to_string();
        let origin = match lines.next() {
            None => None,
            Some(l) => {
                let rest = l.strip_prefix("origin ").ok_or(EntryError("origin"))?;
                let (o, i) = rest.rsplit_once(' ').ok_or(EntryError("origin"))?;
                let i: u64 = i.parse().map_err(|_| EntryError("origin index"))?;
                Some((o.to_string(), i))
            }
        };
        if lines.next().is_some() {
            return Err(EntryError("trailing lines"));
        }
        let e = Entry {
            kind,
            collection,
            object,
            member,
            org,
            key,
            signature,
            date_added,
            origin,
        };
        if e.to_bytes() != b {
            return Err(EntryError("not in canonical form"));
        }
        Ok(e)
    }
}

/// Verifies an Ed25519 signature over the canonical bytes of an object.
pub fn verify_signature(key: &[u8; 32], canonical: &[u8], sig: &[u8; 64]) -> bool {
    let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(key) else {
        return false;
    };
    vk.verify_strict(canonical, &ed25519_dalek::Signature::from_bytes(sig))
        .is_ok()
}

/// What a verified receipt proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The entry the receipt is for.
    pub entry: Entry,
    /// The log, index, tree size and the witnesses that cosigned.
    pub proof: VerifiedProof,
    /// Whether the object given matched the entry's hash and its signature verified
    /// (`None` when no object was given).
    pub object: Option<ObjectCheck>,
}

/// How an object compares with a receipt's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCheck {
    /// The object's canonical hash is the entry's.
    pub hash_matches: bool,
    /// The entry carries a signature and it verifies over the object under the entry's key.
    pub signature_verifies: bool,
}

/// Why a receipt does not verify.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// Not a tlog-proof, or the proof or checkpoint does not verify under the policy.
    #[error("{0}")]
    Proof(#[from] detente_policy::Error),
    /// The proof carries no entry.
    #[error("the receipt carries no entry (no extra data)")]
    NoEntry,
    /// The entry is malformed.
    #[error(transparent)]
    Entry(#[from] EntryError),
}

/// Verifies a receipt offline: the tlog-proof under `policy` for the entry it carries, and,
/// when `canonical` (an object's RFC 8785 bytes) is given, that it is the object the entry
/// names and that the entry's signature verifies over it.
pub fn verify_receipt(
    receipt: &[u8],
    policy: &Policy,
    canonical: Option<&[u8]>,
) -> Result<Receipt, ReceiptError> {
    let p = TlogProof::parse(receipt)?;
    let extra = p.extra.clone().ok_or(ReceiptError::NoEntry)?;
    let entry = Entry::parse(&extra)?;
    let leaf = detente_tlog::leaf_hash(&extra);
    let proof = p.verify(policy, &leaf)?;
    let object = canonical.map(|c| ObjectCheck {
        hash_matches: sha256(c) == entry.object,
        signature_verifies: match (&entry.key, &entry.signature) {
            (Some(k), Some(s)) => sha256(c) == entry.object && verify_signature(k, c, s),
            _ => false,
        },
    });
    Ok(Receipt {
        entry,
        proof,
        object,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_in_one_encoding() {
        let e = Entry {
            kind: Kind::Submit,
            collection: "91a7b528-80eb-42ed-a74d-c6fbd5a26116".into(),
            object: [9; 32],
            member: "alice".into(),
            org: "acme".into(),
            key: Some([1; 32]),
            signature: None,
            date_added: "2026-12-01T16:20:00.123456Z".into(),
            origin: Some(("hub.b.example/log".into(), 7)),
        };
        let b = e.to_bytes();
        assert_eq!(Entry::parse(&b).unwrap(), e);
        let mut bad = b.clone();
        bad.extend_from_slice(b"x\n");
        assert!(Entry::parse(&bad).is_err());
        let upper = String::from_utf8(b).unwrap().replace("0909", "0A0A");
        assert!(Entry::parse(upper.as_bytes()).is_err());
        assert!(Entry::parse(b"").is_err());
    }
}
