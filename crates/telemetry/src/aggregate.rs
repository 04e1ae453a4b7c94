//! The aggregators' VDAF work on the families vector (Prio3MultihotCountVec), sans-IO:
//! decode a report's shares, run the joint verification, accumulate what verified, and the
//! collector's unsharding. Bytes in, bytes out, so each step can travel between the Leader
//! and the Helper (the DAP layer carries them).
//!
//! Why MultihotCountVec rather than a 0/1 SumVec: its proof bounds how many families one
//! report sets (`max_weight`), so one endpoint, honest or not, moves the result by at most
//! `max_weight` in L1 norm; with a 0/1 SumVec of 1,024 entries a single report could set
//! all of them, and differential-privacy noise would have to cover 1,024 rather than
//! `max_weight`.

use prio::codec::{Encode as _, ParameterizedDecode as _};
use prio::vdaf::prio3::{Prio3InputShare, Prio3MultihotCountVec, Prio3PublicShare};
use prio::vdaf::{Aggregatable as _, Aggregator as _, Collector as _, VerifyTransition};

type V = Prio3MultihotCountVec;
/// An aggregator's verification state for one report.
pub type VerifyState = <V as prio::vdaf::Aggregator<32, 16>>::VerifyState;
/// An output share (one verified report's share).
pub type OutputShare = <V as prio::vdaf::Vdaf>::OutputShare;
/// An aggregate share (the sum of output shares).
pub type AggregateShare = <V as prio::vdaf::Vdaf>::AggregateShare;

/// Why a report is not counted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Reject {
    /// A share or message does not decode (wrong length, out-of-field value).
    #[error("does not decode: {0}")]
    Decode(String),
    /// The joint verification failed: the measurement is out of range or a share was
    /// tampered with.
    #[error("verification failed: {0}")]
    Invalid(String),
}

/// The families VDAF with its parameters.
#[derive(Debug, Clone)]
pub struct Families {
    vdaf: V,
    length: usize,
    max_weight: usize,
}

impl Families {
    /// The VDAF for `length` families, at most `max_weight` set per report.
    pub fn new(length: usize, max_weight: usize, chunk_length: usize) -> Result<Families, Reject> {
        let vdaf =
            Prio3MultihotCountVec::new_multihot_count_vec(2, length, max_weight, chunk_length)
                .map_err(|e| Reject::Invalid(e.to_string()))?;
        Ok(Families {
            vdaf,
            length,
            max_weight,
        })
    }

    /// Aggregator `agg_id` (0 Leader, 1 Helper) starts verifying a report: decodes its
    /// public share and input share, and returns its state and its encoded verifier share.
    pub fn verify_init(
        &self,
        verify_key: &[u8; 32],
        ctx: &[u8],
        agg_id: usize,
        report_id: &[u8; 16],
        public_share: &[u8],
        input_share: &[u8],
    ) -> Result<(VerifyState, Vec<u8>), Reject> {
        let d = |e: prio::codec::CodecError| Reject::Decode(e.to_string());
        let ps = Prio3PublicShare::get_decoded_with_param(&self.vdaf, public_share).map_err(d)?;
        let is = Prio3InputShare::get_decoded_with_param(&(&self.vdaf, agg_id), input_share)
            .map_err(d)?;
        let (state, share) = self
            .vdaf
            .verify_init(verify_key, ctx, agg_id, &(), report_id, &ps, &is)
            .map_err(|e| Reject::Invalid(e.to_string()))?;
        let bytes = share.get_encoded().map_err(d)?;
        Ok((state, bytes))
    }

    /// Combines both aggregators' verifier shares into the verifier message (decoded
    /// against this aggregator's state).
    pub fn message(
        &self,
        ctx: &[u8],
        state: &VerifyState,
        shares: [&[u8]; 2],
    ) -> Result<Vec<u8>, Reject> {
        let d = |e: prio::codec::CodecError| Reject::Decode(e.to_string());
        let mut decoded = Vec::with_capacity(2);
        for s in shares {
            decoded.push(
                <V as prio::vdaf::Aggregator<32, 16>>::VerifierShare::get_decoded_with_param(
                    state, s,
                )
                .map_err(d)?,
            );
        }
        let m = self
            .vdaf
            .verifier_shares_to_message(ctx, &(), decoded)
            .map_err(|e| Reject::Invalid(e.to_string()))?;
        m.get_encoded().map_err(d)
    }

    /// Finishes verification with the verifier message: the output share, or why the
    /// report is rejected.
    pub fn finish(
        &self,
        ctx: &[u8],
        state: VerifyState,
        message: &[u8],
    ) -> Result<OutputShare, Reject> {
        let msg = <V as prio::vdaf::Aggregator<32, 16>>::VerifierMessage::get_decoded_with_param(
            &state, message,
        )
        .map_err(|e| Reject::Decode(e.to_string()))?;
        match self
            .vdaf
            .verify_next(ctx, state, msg)
            .map_err(|e| Reject::Invalid(e.to_string()))?
        {
            VerifyTransition::Finish(out) => Ok(out),
            VerifyTransition::Continue(..) => Err(Reject::Invalid("needs another round".into())),
        }
    }

    /// An empty aggregate share.
    pub fn empty(&self) -> AggregateShare {
        self.vdaf.aggregate_init(&())
    }

    /// The sum of encoded aggregate shares (how the aggregators' stores merge what they
    /// hold with new reports): each decoded once, the sum encoded once.
    pub fn sum_encoded(&self, shares: &[&[u8]]) -> Result<Vec<u8>, Reject> {
        let bad = |e: prio::codec::CodecError| Reject::Invalid(e.to_string());
        let mut sum = self.empty();
        for s in shares {
            let x = AggregateShare::get_decoded_with_param(&(&self.vdaf, &()), s).map_err(bad)?;
            sum.merge(&x).map_err(|e| Reject::Invalid(e.to_string()))?;
        }
        sum.get_encoded().map_err(bad)
    }

    /// Adds a verified report's output share.
    pub fn accumulate(&self, agg: &mut AggregateShare, out: &OutputShare) -> Result<(), Reject> {
        agg.accumulate(out)
            .map_err(|e| Reject::Invalid(e.to_string()))
    }

    /// Adds discrete-Laplace noise to an aggregate share, calibrated so that the released
    /// result is `epsilon`-differentially private per report (`epsilon` = `num / den`),
    /// whatever the other aggregator does: the L1 sensitivity of the families vector is
    /// `2 * max_weight` (one report replaced by another). `seed` keys the noise stream and
    /// must be fresh secret randomness, never shown to anyone.
    pub fn add_noise(
        &self,
        agg: &mut AggregateShare,
        epsilon: (u32, u32),
        seed: [u8; 32],
    ) -> Result<(), Reject> {
        use prio::dp::{DifferentialPrivacyStrategy as _, PureDpBudget, Rational};
        use prio::field::{Field128, FieldElementWithInteger as _};
        use rand::distr::Distribution as _;
        use rand_core::SeedableRng as _;
        let bad = |e: prio::dp::DpError| Reject::Invalid(format!("noise: {e}"));
        let eps = Rational::from_unsigned(epsilon.0, epsilon.1).map_err(bad)?;
        let strategy = prio::dp::distributions::PureDpDiscreteLaplace::from_budget(
            PureDpBudget::new(eps).map_err(bad)?,
        );
        let sensitivity = Rational::from_unsigned(2 * self.max_weight as u128, 1).map_err(bad)?;
        let dist = strategy.create_distribution(sensitivity).map_err(bad)?;
        let mut rng = chacha20::ChaCha20Rng::from_seed(seed);
        let p = Field128::modulus();
        let mut v: Vec<Field128> = agg.as_ref().to_vec();
        for x in v.iter_mut() {
            let noise = dist.sample(&mut rng);
            let bytes = noise.to_signed_bytes_le();
            if bytes.len() > 16 {
                return Err(Reject::Invalid("noise out of range".into()));
            }
            let fill = if bytes.last().is_some_and(|b| b & 0x80 != 0) {
                0xff
            } else {
                0
            };
            let mut buf = [fill; 16];
            buf[..bytes.len()].copy_from_slice(&bytes);
            let n = i128::from_le_bytes(buf);
            // n mod p, as a field element.
            let r = if n >= 0 {
                (n as u128) % p
            } else {
                p - ((n.unsigned_abs()) % p)
            };
            *x += Field128::from(r % p);
        }
        *agg = AggregateShare::from(v);
        Ok(())
    }

    /// The collector's result from both aggregate shares: the count per family.
    pub fn unshard(
        &self,
        shares: [AggregateShare; 2],
        reports: usize,
    ) -> Result<Vec<u128>, Reject> {
        let r = self
            .vdaf
            .unshard(&(), shares, reports)
            .map_err(|e| Reject::Invalid(e.to_string()))?;
        if r.len() != self.length {
            return Err(Reject::Invalid("result of the wrong length".into()));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::{shard, Framing, Value, Vdaf};
    use hpke::{Deserializable as _, Kem as _, Serializable as _};

    type Kem = hpke::kem::X25519HkdfSha256;
    type Kdf = hpke::kdf::HkdfSha256;
    type Aead = hpke::aead::AesGcm128;

    struct Plain;
    impl Framing for Plain {
        fn info(&self, agg: u8) -> Vec<u8> {
            vec![b'i', agg]
        }
        fn aad(&self, id: &[u8; 16], ps: &[u8]) -> Vec<u8> {
            [&id[..], ps].concat()
        }
        fn plaintext(&self, s: &[u8]) -> Vec<u8> {
            s.to_vec()
        }
    }

    const LEN: usize = 32;

    /// Many clients report; both aggregators verify each report jointly; the collector's
    /// result is the exact sum of what verified. A tampered share, an over-weight vector and
    /// a truncated share are rejected and not counted.
    #[test]
    fn end_to_end_in_process_counts_exactly_what_verified() {
        let fam = Families::new(LEN, 3, 6).unwrap();
        let keys: Vec<_> = (0..2u8)
            .map(|i| Kem::derive_keypair(&[i + 1; 32]))
            .collect();
        let pks: Vec<[u8; 32]> = keys.iter().map(|(_, pk)| pk.to_bytes().into()).collect();
        let verify_key = [42u8; 32];
        let vdaf = Vdaf::MultihotCountVec {
            length: LEN,
            max_weight: 3,
            chunk_length: 6,
        };
        let mut want = vec![0u128; LEN];
        let mut aggs = [fam.empty(), fam.empty()];
        let mut counted = 0usize;
        let mut rejected = 0usize;
        for n in 0..200u32 {
            let mut bits = vec![false; LEN];
            for k in 0..(n % 4) {
                bits[((n * 7 + k * 5) % LEN as u32) as usize] = true;
            }
            let weight = bits.iter().filter(|b| **b).count();
            let honest = weight <= 3;
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&n.to_be_bytes());
            let s = match shard(
                vdaf,
                b"ctx",
                &Value::Bits(bits.clone()),
                seed,
                [&pks[0], &pks[1]],
                &Plain,
            ) {
                Ok(s) => s,
                Err(_) => {
                    // The client's own library refuses an over-weight vector; nothing sent.
                    assert!(!honest);
                    continue;
                }
            };
            // Each aggregator opens its own share.
            let mut inputs = Vec::new();
            for (i, sealed) in s.shares.iter().enumerate() {
                let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(&keys[i].0.to_bytes()).unwrap();
                let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&sealed.enc).unwrap();
                let aad = Plain.aad(&s.report_id, &s.public_share);
                let mut pt = hpke::single_shot_open::<Aead, Kdf, Kem>(
                    &hpke::OpModeR::Base,
                    &sk,
                    &enc,
                    &Plain.info(i as u8),
                    &sealed.payload,
                    &aad,
                )
                .unwrap();
                if n % 50 == 7 && i == 0 {
                    // Tampered in transit (after decryption, as a malicious client could).
                    let last = pt.len() - 1;
                    pt[last] ^= 1;
                }
                if n % 50 == 9 && i == 1 {
                    pt.truncate(pt.len() / 2);
                }
                inputs.push(pt);
            }
            let init: Vec<_> = (0..2)
                .map(|i| {
                    fam.verify_init(
                        &verify_key,
                        b"ctx",
                        i,
                        &s.report_id,
                        &s.public_share,
                        &inputs[i],
                    )
                })
                .collect();
            let (Ok((st0, vs0)), Ok((st1, vs1))) = (&init[0], &init[1]) else {
                rejected += 1;
                continue;
            };
            let msg = match fam.message(b"ctx", st0, [vs0, vs1]) {
                Ok(m) => m,
                Err(_) => {
                    rejected += 1;
                    continue;
                }
            };
            match (
                fam.finish(b"ctx", st0.clone(), &msg),
                fam.finish(b"ctx", st1.clone(), &msg),
            ) {
                (Ok(o0), Ok(o1)) => {
                    fam.accumulate(&mut aggs[0], &o0).unwrap();
                    fam.accumulate(&mut aggs[1], &o1).unwrap();
                    counted += 1;
                    for (w, b) in want.iter_mut().zip(&bits) {
                        *w += u128::from(*b);
                    }
                }
                _ => rejected += 1,
            }
        }
        assert_eq!(rejected, 8, "4 tampered and 4 truncated reports rejected");
        assert_eq!(counted, 200 - 8);
        let [a0, a1] = aggs;
        assert_eq!(fam.unshard([a0, a1], counted).unwrap(), want);
    }
}

#[cfg(test)]
mod noise_tests {
    use super::*;

    /// With noise on, each aggregator's share is noised independently; the result stays
    /// within a bound that holds with overwhelming probability (here deterministic seeds),
    /// and the noise is not zero.
    #[test]
    fn noised_results_stay_within_the_stated_bound() {
        let fam = Families::new(16, 2, 4).unwrap();
        let mut a = fam.empty();
        let mut b = fam.empty();
        fam.add_noise(&mut a, (1, 1), [1; 32]).unwrap();
        fam.add_noise(&mut b, (1, 1), [2; 32]).unwrap();
        let r = fam.unshard([a, b], 1).unwrap();
        // Scale 2*max_weight/epsilon = 4 per aggregator; values are noise only (true sum 0),
        // read back modulo p: small positives, or p minus small for negatives.
        let p = <prio::field::Field128 as prio::field::FieldElementWithInteger>::modulus();
        let signed: Vec<i128> = r
            .iter()
            .map(|&x| {
                if x > p / 2 {
                    -((p - x) as i128)
                } else {
                    x as i128
                }
            })
            .collect();
        assert!(signed.iter().all(|n| n.abs() < 200), "{signed:?}");
        assert!(signed.iter().any(|n| *n != 0), "noise was added");
        assert!(fam.add_noise(&mut fam.empty(), (0, 1), [1; 32]).is_err());
    }
}
