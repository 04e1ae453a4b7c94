//! Sybil defence: upload tokens that prove an enrolled endpoint sent a report without
//! saying which one (RSA blind signatures, RFC 9474, RSABSSA-SHA384-PSS-Randomized, the
//! construction behind Privacy Pass's publicly verifiable tokens).
//!
//! - Enrollment: an endpoint signed in to the Leader's issuer (by whatever enrolls it)
//!   asks for tokens for one day, sending blinded messages. The issuer signs at most
//!   `per_day` of them per endpoint and day ([`Quota`]): that is the per-endpoint rate limit.
//! - Upload: the endpoint unblinds one token per report and sends it with the report. The
//!   Leader checks the signature, that the token is for this task and day, and that it was
//!   never spent ([`Spent`]); the issuer can't link the token to the enrollment that made it,
//!   so the report stays unlinked to the endpoint.
//!
//! What remains possible: an enrolled endpoint, or whoever controls many enrolled ones,
//! can send up to `per_day` reports a day each, with any measurement the VDAF accepts
//! (bounded by its proof: a 0/1 vector of at most `max_weight` ones). The differential
//! privacy noise each aggregator adds keeps even a flood of such reports from revealing
//! one honest endpoint's measurement with certainty; a coalition controlling enrollment
//! could mint as many tokens as it likes.

use blind_rsa_signatures::{
    BlindMessage, BlindSignature, BlindingResult, PublicKeySha384PSSRandomized,
    SecretKeySha384PSSRandomized,
};
use rand_core::CryptoRng;

/// The issuer's public key (RSA-2048 or larger).
pub type IssuerKey = PublicKeySha384PSSRandomized;
/// The issuer's secret key.
pub type IssuerSecret = SecretKeySha384PSSRandomized;

/// The message a token signs: a domain tag, the task, the day and a random nonce.
pub fn token_message(task: &[u8], day: u32, nonce: &[u8; 32]) -> Vec<u8> {
    let mut m = b"detente-telemetry token v1\n".to_vec();
    m.extend_from_slice(&(task.len() as u32).to_be_bytes());
    m.extend_from_slice(task);
    m.extend_from_slice(&day.to_be_bytes());
    m.extend_from_slice(nonce);
    m
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The endpoint asked for more tokens than its daily quota allows.
    #[error("over the quota: at most {0} tokens per endpoint and day")]
    Quota(u32),
    /// The signature does not verify under the issuer's key.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// Issued for another task or day.
    #[error("the token is for another task or day")]
    WrongScope,
    /// Spent already.
    #[error("the token was spent already")]
    Spent,
    /// A cryptographic operation failed.
    #[error("token: {0}")]
    Crypto(String),
}

/// A token as sent with a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The day it is for.
    pub day: u32,
    /// Its nonce.
    pub nonce: [u8; 32],
    /// RFC 9474 message randomizer.
    pub randomizer: [u8; 32],
    /// The unblinded signature.
    pub signature: Vec<u8>,
}

/// An endpoint's pending token: what it keeps between asking and unblinding.
pub struct Pending {
    day: u32,
    nonce: [u8; 32],
    blinding: BlindingResult,
}

impl Pending {
    /// The blinded message to send to the issuer.
    pub fn blinded(&self) -> &[u8] {
        &self.blinding.blind_message.0
    }
}

/// Endpoint: prepares a token request for `task` and `day`.
pub fn request(
    key: &IssuerKey,
    task: &[u8],
    day: u32,
    rng: &mut (impl CryptoRng + ?Sized),
) -> Result<Pending, TokenError> {
    let mut nonce = [0u8; 32];
    rng.fill_bytes(&mut nonce);
    let blinding = key
        .blind(rng, token_message(task, day, &nonce))
        .map_err(|e| TokenError::Crypto(e.to_string()))?;
    Ok(Pending {
        day,
        nonce,
        blinding,
    })
}

/// Endpoint: unblinds the issuer's answer into a token (checking it verifies).
pub fn finalize(
    key: &IssuerKey,
    task: &[u8],
    pending: &Pending,
    blind_signature: &[u8],
) -> Result<Token, TokenError> {
    let sig = key
        .finalize(
            &BlindSignature(blind_signature.to_vec()),
            &pending.blinding,
            token_message(task, pending.day, &pending.nonce),
        )
        .map_err(|_| TokenError::BadSignature)?;
    let randomizer = pending
        .blinding
        .msg_randomizer
        .map(|r| r.0)
        .ok_or_else(|| TokenError::Crypto("no message randomizer".into()))?;
    Ok(Token {
        day: pending.day,
        nonce: pending.nonce,
        randomizer,
        signature: sig.0,
    })
}

/// The issuer's per-endpoint daily counts (kept by the issuer's storage).
pub trait Quota {
    /// Tokens issued to `endpoint` on `day` so far.
    fn issued(&self, endpoint: &str, day: u32) -> u32;
    /// Records `n` more.
    fn add(&mut self, endpoint: &str, day: u32, n: u32);
}

/// Issuer: signs an enrolled endpoint's blinded messages, within its daily quota.
pub fn issue(
    secret: &IssuerSecret,
    quota: &mut dyn Quota,
    per_day: u32,
    endpoint: &str,
    day: u32,
    blinded: &[Vec<u8>],
) -> Result<Vec<Vec<u8>>, TokenError> {
    let n = u32::try_from(blinded.len()).map_err(|_| TokenError::Quota(per_day))?;
    if quota.issued(endpoint, day).saturating_add(n) > per_day {
        return Err(TokenError::Quota(per_day));
    }
    let mut out = Vec::with_capacity(blinded.len());
    for b in blinded {
        let s = secret
            .blind_sign(&BlindMessage(b.clone()).0)
            .map_err(|e| TokenError::Crypto(e.to_string()))?;
        out.push(s.0);
    }
    quota.add(endpoint, day, n);
    Ok(out)
}

/// Issuer: signs blinded messages (the caller has checked the quota).
pub fn sign_blinded(
    secret: &IssuerSecret,
    blinded: &[Vec<u8>],
) -> Result<Vec<Vec<u8>>, TokenError> {
    blinded
        .iter()
        .map(|b| {
            secret
                .blind_sign(b)
                .map(|s| s.0)
                .map_err(|e| TokenError::Crypto(e.to_string()))
        })
        .collect()
}

/// A token as carried in the `x-detente-token` header: base64 of day (4 bytes), nonce
/// (32), randomizer (32) and signature.
pub fn encode_token(t: &Token) -> String {
    use base64::Engine as _;
    let mut b = t.day.to_be_bytes().to_vec();
    b.extend_from_slice(&t.nonce);
    b.extend_from_slice(&t.randomizer);
    b.extend_from_slice(&t.signature);
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Decodes [`encode_token`]'s form.
pub fn decode_token(s: &str) -> Option<Token> {
    use base64::Engine as _;
    if s.len() > 4096 {
        return None;
    }
    let b = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()?;
    if b.len() < 4 + 32 + 32 + 1 {
        return None;
    }
    Some(Token {
        day: u32::from_be_bytes(b.get(..4)?.try_into().ok()?),
        nonce: b.get(4..36)?.try_into().ok()?,
        randomizer: b.get(36..68)?.try_into().ok()?,
        signature: b.get(68..)?.to_vec(),
    })
}

/// The Leader's set of spent tokens (kept by its storage).
pub trait Spent {
    /// Marks a token's nonce spent; `false` if it already was.
    fn spend(&mut self, day: u32, nonce: &[u8; 32]) -> bool;
}

/// The Leader's check of tokens: the issuer's public key prepared once. The final token is
/// a standard RSASSA-PSS signature (SHA-384, MGF1-SHA-384, 48-byte salt) over the
/// randomizer followed by the message (RFC 9474 §4.2 and §5.3), which ring verifies several
/// times faster than the big-integer code the blinding needs.
pub struct Verifier {
    key: ring::signature::RsaPublicKeyComponents<Vec<u8>>,
    size: usize,
}

impl Verifier {
    /// Prepares the issuer's public key.
    pub fn new(key: &IssuerKey) -> Verifier {
        // ring takes both without leading zeros; the big integers may carry some.
        let minimal = |v: Vec<u8>| -> Vec<u8> { v.into_iter().skip_while(|b| *b == 0).collect() };
        let c = key.components();
        let n = minimal(c.n());
        Verifier {
            size: n.len(),
            key: ring::signature::RsaPublicKeyComponents {
                n,
                e: minimal(c.e()),
            },
        }
    }

    /// Whether `token` carries the issuer's signature for `task`.
    fn signed(&self, task: &[u8], token: &Token) -> bool {
        if token.signature.len() != self.size {
            return false;
        }
        let mut m = token.randomizer.to_vec();
        m.extend_from_slice(&token_message(task, token.day, &token.nonce));
        self.key
            .verify(
                &ring::signature::RSA_PSS_2048_8192_SHA384,
                &m,
                &token.signature,
            )
            .is_ok()
    }
}

/// Leader: whether a token is good for a report of `task` on `day` (its scope and the
/// issuer's signature; whether it was spent is the store's to say).
pub fn check(v: &Verifier, task: &[u8], day: u32, token: &Token) -> Result<(), TokenError> {
    if token.day != day {
        return Err(TokenError::WrongScope);
    }
    if !v.signed(task, token) {
        return Err(TokenError::BadSignature);
    }
    Ok(())
}

/// Leader: accepts a token for `task` on `day`, once ([`check`], then [`Spent::spend`]).
pub fn redeem(
    v: &Verifier,
    spent: &mut dyn Spent,
    task: &[u8],
    day: u32,
    token: &Token,
) -> Result<(), TokenError> {
    check(v, task, day, token)?;
    if !spent.spend(token.day, &token.nonce) {
        return Err(TokenError::Spent);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use blind_rsa_signatures::{MessageRandomizer, Signature};
    use rand_core::SeedableRng as _;
    use std::collections::{HashMap, HashSet};

    #[derive(Default)]
    struct Mem(HashMap<(String, u32), u32>, HashSet<(u32, [u8; 32])>);
    impl Quota for Mem {
        fn issued(&self, e: &str, d: u32) -> u32 {
            self.0.get(&(e.to_string(), d)).copied().unwrap_or(0)
        }
        fn add(&mut self, e: &str, d: u32, n: u32) {
            *self.0.entry((e.to_string(), d)).or_default() += n;
        }
    }
    impl Spent for Mem {
        fn spend(&mut self, d: u32, n: &[u8; 32]) -> bool {
            self.1.insert((d, *n))
        }
    }

    #[test]
    fn tokens_are_rate_limited_unlinkable_to_the_request_and_spent_once() {
        let mut rng = chacha20::ChaCha20Rng::from_seed([5; 32]);
        let kp =
            blind_rsa_signatures::KeyPairSha384PSSRandomized::generate(&mut rng, 2048).unwrap();
        let (pk, sk) = (kp.pk, kp.sk);
        let mut issuer = Mem::default();
        let mut leader = Mem::default();
        let v = Verifier::new(&pk);
        let day = 20_000;
        let pending: Vec<Pending> = (0..3)
            .map(|_| request(&pk, b"task", day, &mut rng).unwrap())
            .collect();
        let blinded: Vec<Vec<u8>> = pending.iter().map(|p| p.blinded().to_vec()).collect();
        let sigs = issue(&sk, &mut issuer, 3, "endpoint-1", day, &blinded).unwrap();
        // The quota is spent: one more is refused.
        let more = request(&pk, b"task", day, &mut rng).unwrap();
        assert_eq!(
            issue(
                &sk,
                &mut issuer,
                3,
                "endpoint-1",
                day,
                &[more.blinded().to_vec()]
            ),
            Err(TokenError::Quota(3))
        );
        let tokens: Vec<Token> = pending
            .iter()
            .zip(&sigs)
            .map(|(p, s)| finalize(&pk, b"task", p, s).unwrap())
            .collect();
        for t in &tokens {
            // What the issuer saw (the blinded message) is not the token's message.
            assert!(!blinded.iter().any(|b| b.windows(32).any(|w| w == t.nonce)));
            redeem(&v, &mut leader, b"task", day, t).unwrap();
        }
        assert_eq!(
            redeem(&v, &mut leader, b"task", day, &tokens[0]),
            Err(TokenError::Spent)
        );
        assert_eq!(
            redeem(&v, &mut leader, b"task", day + 1, &tokens[1]),
            Err(TokenError::WrongScope)
        );
        let mut fresh = Mem::default();
        assert_eq!(
            redeem(&v, &mut fresh, b"other", day, &tokens[1]),
            Err(TokenError::BadSignature)
        );
        let mut forged = tokens[2].clone();
        forged.nonce[0] ^= 1;
        assert_eq!(
            redeem(&v, &mut fresh, b"task", day, &forged),
            Err(TokenError::BadSignature)
        );
        // ring's verdict is the RFC 9474 implementation's, for good tokens and for each
        // field tampered with.
        let mut cases = vec![tokens[0].clone(), forged];
        for k in 0..3 {
            let mut t = tokens[1].clone();
            match k {
                0 => t.randomizer[7] ^= 0x40,
                1 => t.signature[100] ^= 1,
                _ => t.signature.truncate(255),
            }
            cases.push(t);
        }
        for (i, t) in cases.iter().enumerate() {
            let reference = pk
                .verify(
                    &Signature(t.signature.clone()),
                    Some(MessageRandomizer(t.randomizer)),
                    token_message(b"task", t.day, &t.nonce),
                )
                .is_ok();
            assert_eq!(v.signed(b"task", t), reference, "case {i}");
            assert_eq!(reference, i == 0, "case {i}");
        }
    }
}
