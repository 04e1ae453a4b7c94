//! The `.tlog-proof` format: produce, parse, verify offline.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use detente_note::{SignedCheckpoint, MAX_NOTE_SIZE};
use detente_tlog::{prove_inclusion, verify_inclusion, Hash, HashReader};

use crate::policy::Policy;
use crate::Error;

/// First line of every tlog-proof.
pub const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Longest inclusion proof possible for a `u64` tree.
const MAX_PROOF_HASHES: usize = 64;

/// A parsed tlog-proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Unauthenticated, application-specific extra data.
    pub extra: Option<Vec<u8>>,
    /// Index of the entry in the log.
    pub index: u64,
    /// Inclusion proof, from the leaf's sibling up.
    pub proof: Vec<Hash>,
    /// The (cosigned) checkpoint the proof leads to.
    pub checkpoint: SignedCheckpoint,
}

/// What a verified proof established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// Origin of the log.
    pub origin: String,
    /// Index of the entry.
    pub index: u64,
    /// Size of the checkpointed tree.
    pub tree_size: u64,
    /// Names of the witnesses whose cosignatures verified.
    pub witnesses: Vec<String>,
}

fn parse_index(s: &str) -> Option<u64> {
    if s.is_empty()
        || s.len() > 20
        || !s.bytes().all(|b| b.is_ascii_digit())
        || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl TlogProof {
    /// Builds a proof for entry `index` of the tree that `checkpoint` signs,
    /// reading the hashes it needs from `r`.
    pub fn produce<R: HashReader + ?Sized>(
        index: u64,
        checkpoint: SignedCheckpoint,
        r: &R,
        extra: Option<Vec<u8>>,
    ) -> Result<TlogProof, Error> {
        if extra.as_ref().is_some_and(|e| e.is_empty()) {
            return Err(Error::BadProof("empty extra data"));
        }
        let proof = prove_inclusion(checkpoint.checkpoint.size(), index, r)?;
        Ok(TlogProof {
            extra,
            index,
            proof,
            checkpoint,
        })
    }

    /// Parses a `.tlog-proof` strictly.
    pub fn parse(data: &[u8]) -> Result<TlogProof, Error> {
        if data.len() > MAX_NOTE_SIZE + 8192 {
            return Err(Error::BadProof("too large"));
        }
        let text = std::str::from_utf8(data).map_err(|_| Error::BadProof("not UTF-8"))?;
        let (head, note) = text
            .split_once("\n\n")
            .ok_or(Error::BadProof("missing blank line before checkpoint"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(PROOF_HEADER) {
            return Err(Error::BadProof("header"));
        }
        let mut line = lines.next().ok_or(Error::BadProof("missing index"))?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            let e = STANDARD
                .decode(b64)
                .map_err(|_| Error::BadProof("extra data base64"))?;
            if e.is_empty() {
                return Err(Error::BadProof("empty extra data"));
            }
            extra = Some(e);
            line = lines.next().ok_or(Error::BadProof("missing index"))?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_index)
            .ok_or(Error::BadProof("index"))?;
        let mut proof = Vec::new();
        for l in lines {
            if proof.len() == MAX_PROOF_HASHES {
                return Err(Error::BadProof("too many proof hashes"));
            }
            proof.push(Hash::from_base64(l).map_err(|_| Error::BadProof("proof hash"))?);
        }
        let checkpoint = SignedCheckpoint::parse(note.as_bytes())?;
        Ok(TlogProof {
            extra,
            index,
            proof,
            checkpoint,
        })
    }

    /// Serializes the proof.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = format!("{PROOF_HEADER}\n");
        if let Some(e) = &self.extra {
            s += &format!("extra {}\n", STANDARD.encode(e));
        }
        s += &format!("index {}\n", self.index);
        for h in &self.proof {
            s += &format!("{h}\n");
        }
        s.push('\n');
        let mut out = s.into_bytes();
        out.extend(self.checkpoint.to_bytes());
        out
    }

    /// Verifies the proof offline for an entry whose leaf hash the caller
    /// computed (step 1 of the spec is application specific): the checkpoint
    /// must satisfy `policy` (log signature and witness quorum) and the
    /// inclusion proof must bind `leaf` at `index` to its root.
    pub fn verify(&self, policy: &Policy, leaf: &Hash) -> Result<VerifiedProof, Error> {
        let (sc, cosigned) = policy.verify_checkpoint(&self.checkpoint.to_bytes())?;
        let cp = &sc.checkpoint;
        verify_inclusion(self.index, cp.size(), leaf, &self.proof, cp.root())?;
        Ok(VerifiedProof {
            origin: cp.origin().to_owned(),
            index: self.index,
            tree_size: cp.size(),
            witnesses: cosigned
                .iter()
                .map(|&i| policy.witnesses()[i].name.clone())
                .collect(),
        })
    }
}
