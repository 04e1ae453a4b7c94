//! A report's cryptographic content, made deterministically from one 32-byte seed.
//!
//! From the seed, a ChaCha20 stream gives, in this order: the 16-byte report id, the Prio3
//! sharding randomness (the VDAF's `rand` input), then the HPKE ephemeral key for the
//! Leader's input share and the one for the Helper's. The VDAF and HPKE are deterministic
//! given those, so the same measurement, seed, keys and framing give the same bytes: the
//! outbox keeps the seed so that its owner can recompute every byte that was sent.
//!
//! HPKE is DAP's suite: X25519-HKDF-SHA256, HKDF-SHA256, AES-128-GCM. How input shares are
//! framed (HPKE `info`, the AAD, the plaintext around the share) is the DAP layer's
//! business, passed in as a [`Framing`].

use chacha20::ChaCha20Rng;
use hpke::{Deserializable as _, Serializable as _};
use prio::codec::Encode as _;
use prio::vdaf::prio3::Prio3;
use prio::vdaf::test_utils::TestVectorClient as _;
use rand_core::{Rng as _, SeedableRng as _};

type Kem = hpke::kem::X25519HkdfSha256;
type Kdf = hpke::kdf::HkdfSha256;
type Aead = hpke::aead::AesGcm128;

/// The VDAF's sharding randomness for a Prio3 type with joint randomness and two
/// aggregators: a (share, proof) seed per helper, a proving seed, and a joint-randomness
/// blind per aggregator, each 32 bytes.
const PRIO3_JOINT_RAND_SIZE: usize = 2 * 2 * 32;

/// The measurement types a report can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vdaf {
    /// Prio3MultihotCountVec: a 0/1 vector of `length` entries with at most `max_weight`
    /// ones — the proof enforces the bound, so one report never counts more than
    /// `max_weight` families.
    MultihotCountVec {
        /// Vector length.
        length: usize,
        /// Most ones.
        max_weight: usize,
        /// Proof chunk length.
        chunk_length: usize,
    },
    /// Prio3SumVec: a vector of `length` integers from 0 to `max` each (scan and
    /// detection counts).
    SumVec {
        /// Vector length.
        length: usize,
        /// Largest value of an entry.
        max: u128,
        /// Proof chunk length.
        chunk_length: usize,
    },
}

/// A measurement for a [`Vdaf`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// For MultihotCountVec.
    Bits(Vec<bool>),
    /// For SumVec.
    Counts(Vec<u128>),
}

/// How a DAP report frames its encrypted input shares.
pub trait Framing {
    /// HPKE `info` for the input share of aggregator `agg` (0 Leader, 1 Helper).
    fn info(&self, agg: u8) -> Vec<u8>;
    /// HPKE AAD, which binds the report's metadata and public share.
    fn aad(&self, report_id: &[u8; 16], public_share: &[u8]) -> Vec<u8>;
    /// The plaintext sealed for an aggregator, around its encoded input share.
    fn plaintext(&self, input_share: &[u8]) -> Vec<u8>;
}

/// An aggregator's HPKE public key (X25519, 32 bytes).
pub type PublicKey = [u8; 32];

/// One input share sealed for one aggregator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// HPKE encapsulated key.
    pub enc: Vec<u8>,
    /// Ciphertext with its tag.
    pub payload: Vec<u8>,
}

/// A report's content before the DAP layer frames it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sharded {
    /// Report id.
    pub report_id: [u8; 16],
    /// Encoded public share.
    pub public_share: Vec<u8>,
    /// The Leader's and the Helper's sealed input shares.
    pub shares: [Sealed; 2],
}

/// Why a report can't be made.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    /// The VDAF refused the parameters or the measurement (wrong length, over the weight
    /// bound, a count too large for its bits).
    #[error("VDAF: {0}")]
    Vdaf(String),
    /// An aggregator's key is not an X25519 public key, or sealing failed.
    #[error("HPKE: {0}")]
    Hpke(String),
    /// The measurement does not fit the VDAF.
    #[error("the measurement is not of this VDAF's kind")]
    Kind,
}

fn seal(
    rng: &mut ChaCha20Rng,
    key: &PublicKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Sealed, ShardError> {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(key)
        .map_err(|e| ShardError::Hpke(e.to_string()))?;
    let (enc, payload) = hpke::single_shot_seal_with_rng::<Aead, Kdf, Kem>(
        &hpke::OpModeS::Base,
        &pk,
        info,
        plaintext,
        aad,
        rng,
    )
    .map_err(|e| ShardError::Hpke(e.to_string()))?;
    Ok(Sealed {
        enc: enc.to_bytes().to_vec(),
        payload,
    })
}

/// Shards `value` and seals the input shares for the two aggregators, all from `seed`.
pub fn shard(
    vdaf: Vdaf,
    ctx: &[u8],
    value: &Value,
    seed: [u8; 32],
    keys: [&PublicKey; 2],
    framing: &dyn Framing,
) -> Result<Sharded, ShardError> {
    let mut rng = ChaCha20Rng::from_seed(seed);
    let mut report_id = [0u8; 16];
    rng.fill_bytes(&mut report_id);
    let mut random = vec![0u8; PRIO3_JOINT_RAND_SIZE];
    rng.fill_bytes(&mut random);
    let v = |e: prio::vdaf::VdafError| ShardError::Vdaf(e.to_string());
    let c = |e: prio::codec::CodecError| ShardError::Vdaf(e.to_string());
    let (public_share, inputs): (Vec<u8>, Vec<Vec<u8>>) = match (vdaf, value) {
        (
            Vdaf::MultihotCountVec {
                length,
                max_weight,
                chunk_length,
            },
            Value::Bits(bits),
        ) => {
            let p =
                Prio3::new_multihot_count_vec(2, length, max_weight, chunk_length).map_err(v)?;
            let (ps, is) = p
                .shard_with_random(ctx, bits, &report_id, &random)
                .map_err(v)?;
            (
                ps.get_encoded().map_err(c)?,
                is.iter()
                    .map(|s| s.get_encoded())
                    .collect::<Result<_, _>>()
                    .map_err(c)?,
            )
        }
        (
            Vdaf::SumVec {
                length,
                max,
                chunk_length,
            },
            Value::Counts(counts),
        ) => {
            let p = Prio3::new_sum_vec(2, max, length, chunk_length).map_err(v)?;
            let (ps, is) = p
                .shard_with_random(ctx, counts, &report_id, &random)
                .map_err(v)?;
            (
                ps.get_encoded().map_err(c)?,
                is.iter()
                    .map(|s| s.get_encoded())
                    .collect::<Result<_, _>>()
                    .map_err(c)?,
            )
        }
        _ => return Err(ShardError::Kind),
    };
    let [leader, helper] = <[Vec<u8>; 2]>::try_from(inputs)
        .map_err(|_| ShardError::Vdaf("not two input shares".into()))?;
    let aad = framing.aad(&report_id, &public_share);
    let l = seal(
        &mut rng,
        keys[0],
        &framing.info(0),
        &aad,
        &framing.plaintext(&leader),
    )?;
    let h = seal(
        &mut rng,
        keys[1],
        &framing.info(1),
        &aad,
        &framing.plaintext(&helper),
    )?;
    Ok(Sharded {
        report_id,
        public_share,
        shares: [l, h],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hpke::Kem as _;

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

    fn keys() -> ([u8; 32], [u8; 32], Vec<Vec<u8>>) {
        let (sk0, pk0) = Kem::derive_keypair(&[1; 32]);
        let (sk1, pk1) = Kem::derive_keypair(&[2; 32]);
        let a: [u8; 32] = pk0.to_bytes().into();
        let b: [u8; 32] = pk1.to_bytes().into();
        (a, b, vec![sk0.to_bytes().to_vec(), sk1.to_bytes().to_vec()])
    }

    const MH: Vdaf = Vdaf::MultihotCountVec {
        length: 64,
        max_weight: 4,
        chunk_length: 8,
    };

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_other_bytes() {
        let (a, b, _) = keys();
        let mut bits = vec![false; 64];
        bits[3] = true;
        bits[60] = true;
        let v = Value::Bits(bits);
        let one = shard(MH, b"ctx", &v, [7; 32], [&a, &b], &Plain).unwrap();
        let two = shard(MH, b"ctx", &v, [7; 32], [&a, &b], &Plain).unwrap();
        assert_eq!(one, two);
        let three = shard(MH, b"ctx", &v, [8; 32], [&a, &b], &Plain).unwrap();
        assert_ne!(one.report_id, three.report_id);
        assert_ne!(one.shares[0].payload, three.shares[0].payload);
    }

    #[test]
    fn the_aggregators_can_open_their_shares() {
        let (a, b, sks) = keys();
        let v = Value::Bits(vec![false; 64]);
        let s = shard(MH, b"ctx", &v, [9; 32], [&a, &b], &Plain).unwrap();
        for (i, sealed) in s.shares.iter().enumerate() {
            let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(&sks[i]).unwrap();
            let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&sealed.enc).unwrap();
            let aad = Plain.aad(&s.report_id, &s.public_share);
            let pt = hpke::single_shot_open::<Aead, Kdf, Kem>(
                &hpke::OpModeR::Base,
                &sk,
                &enc,
                &Plain.info(i as u8),
                &sealed.payload,
                &aad,
            )
            .unwrap();
            assert!(!pt.is_empty());
            // Sealed for one aggregator, not openable by the other.
            let other = <Kem as hpke::Kem>::PrivateKey::from_bytes(&sks[1 - i]).unwrap();
            assert!(hpke::single_shot_open::<Aead, Kdf, Kem>(
                &hpke::OpModeR::Base,
                &other,
                &enc,
                &Plain.info(i as u8),
                &sealed.payload,
                &aad
            )
            .is_err());
        }
    }

    #[test]
    fn measurements_the_vdaf_refuses_are_errors() {
        let (a, b, _) = keys();
        // Over the weight bound.
        let heavy = Value::Bits(vec![true; 64]);
        assert!(matches!(
            shard(MH, b"c", &heavy, [1; 32], [&a, &b], &Plain),
            Err(ShardError::Vdaf(_))
        ));
        // Wrong length.
        let short = Value::Bits(vec![false; 3]);
        assert!(shard(MH, b"c", &short, [1; 32], [&a, &b], &Plain).is_err());
        // Wrong kind, bad key.
        assert!(matches!(
            shard(MH, b"c", &Value::Counts(vec![1]), [1; 32], [&a, &b], &Plain),
            Err(ShardError::Kind)
        ));
        let sv = Vdaf::SumVec {
            length: 2,
            max: 255,
            chunk_length: 2,
        };
        assert!(shard(
            sv,
            b"c",
            &Value::Counts(vec![300, 1]),
            [1; 32],
            [&a, &b],
            &Plain
        )
        .is_err());
        assert!(shard(
            sv,
            b"c",
            &Value::Counts(vec![255, 1]),
            [1; 32],
            [&a, &b],
            &Plain
        )
        .is_ok());
    }
}
