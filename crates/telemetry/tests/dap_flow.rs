//! The DAP-18 aggregation flow in one process, each role with only its own keys: clients
//! upload reports; the Leader opens its shares and starts; the Helper opens its own,
//! verifies jointly and answers; the Leader finishes; both aggregate; the Collector opens
//! the two sealed aggregate shares and unshards. Tampered, swapped and mis-addressed
//! reports are rejected by the joint verification and not counted; with noise on, the
//! result stays within the stated bound.

use detente_dap::{
    vdaf::Prio3MultihotCountVecConfig, BatchMode, CollectionJobReq, Duration, Interval, NonEmpty16,
    NonEmpty32, NonEmpty8, Opaque16, Opaque32, Query, ReportError, Role, TaskConfiguration, TaskId,
    Time, TimePrecision, VdafConfig,
};
use detente_telemetry::aggregate::Families;
use detente_telemetry::flow::{
    helper_init, leader_finish, leader_init, open_aggregate_share, seal_aggregate_share, HpkeKey,
    Task,
};
use detente_telemetry::report::{build, Recipient};
use detente_telemetry::shard::{Value, Vdaf};
use hpke::{Kem as _, Serializable as _};
use rand_core::SeedableRng as _;

type Kem = hpke::kem::X25519HkdfSha256;

const LEN: usize = 64;
const WEIGHT: usize = 4;
const CHUNK: usize = 8;

fn keypair(seed: u8) -> ([u8; 32], [u8; 32]) {
    let (sk, pk) = Kem::derive_keypair(&[seed; 32]);
    (sk.to_bytes().into(), pk.to_bytes().into())
}

fn config() -> TaskConfiguration {
    let v = VdafConfig::Prio3MultihotCountVec(Prio3MultihotCountVecConfig {
        length: LEN as u32,
        chunk_length: CHUNK as u32,
        max_weight: WEIGHT as u64,
    });
    TaskConfiguration {
        task_info: NonEmpty8::new(b"flow".to_vec()).unwrap(),
        leader_aggregator_endpoint: NonEmpty16::new(b"https://l.example/".to_vec()).unwrap(),
        helper_aggregator_endpoint: NonEmpty16::new(b"https://h.example/".to_vec()).unwrap(),
        time_precision: TimePrecision(86_400),
        min_batch_size: 100,
        batch_mode: BatchMode::TIME_INTERVAL,
        batch_config: Opaque16::default(),
        vdaf_type: v.vdaf_type(),
        vdaf_configuration: v.vdaf_configuration(),
        extensions: Default::default(),
    }
}

fn run(noise: Option<(u32, u32)>) -> (Vec<u128>, Vec<u128>, usize, Vec<ReportError>) {
    let cfg = config();
    let id = TaskId([9; 32]);
    let vdaf = prio::vdaf::prio3::Prio3::new_multihot_count_vec(2, LEN, WEIGHT, CHUNK).unwrap();
    let verify_key = [77u8; 32];
    let task = Task {
        id,
        config: &cfg,
        vdaf: &vdaf,
        verify_key: &verify_key,
    };
    let (lsk, lpk) = keypair(1);
    let (hsk, hpk) = keypair(2);
    let (csk, cpk) = keypair(3);
    let lkey = HpkeKey {
        config_id: 1,
        secret: lsk,
    };
    let hkey = HpkeKey {
        config_id: 2,
        secret: hsk,
    };
    let fam = Families::new(LEN, WEIGHT, CHUNK).unwrap();
    let (mut lagg, mut hagg) = (fam.empty(), fam.empty());
    let mut want = vec![0u128; LEN];
    let mut counted = 0usize;
    let mut errors = Vec::new();
    let mut reports = Vec::new();
    for n in 0..300u32 {
        let mut bits = vec![false; LEN];
        for k in 0..(n % (WEIGHT as u32 + 1)) {
            bits[((n * 13 + k * 7) % LEN as u32) as usize] = true;
        }
        let mut seed = [0u8; 32];
        seed[..4].copy_from_slice(&n.to_be_bytes());
        let r = build(
            id,
            &cfg,
            Time(20_000),
            Vdaf::MultihotCountVec {
                length: LEN,
                max_weight: WEIGHT,
                chunk_length: CHUNK,
            },
            &Value::Bits(bits.clone()),
            seed,
            Recipient {
                config_id: 1,
                public_key: lpk,
            },
            Recipient {
                config_id: 2,
                public_key: hpk,
            },
        )
        .unwrap();
        reports.push((r, bits));
    }
    // A malicious client: well encrypted, but its Helper input share altered before sealing
    // (what an out-of-range or forged measurement looks like to the aggregators).
    reports[60].0 = {
        struct Evil<'a>(
            detente_telemetry::report::DapFraming<'a>,
            std::cell::Cell<u8>,
        );
        impl detente_telemetry::shard::Framing for Evil<'_> {
            fn info(&self, agg: u8) -> Vec<u8> {
                self.0.info(agg)
            }
            fn aad(&self, id: &[u8; 16], ps: &[u8]) -> Vec<u8> {
                self.0.aad(id, ps)
            }
            fn plaintext(&self, share: &[u8]) -> Vec<u8> {
                let n = self.1.get();
                self.1.set(n + 1);
                let mut s = share.to_vec();
                if n == 1 {
                    let last = s.len() - 1;
                    s[last] ^= 1;
                }
                self.0.plaintext(&s)
            }
        }
        let evil = Evil(
            detente_telemetry::report::DapFraming {
                task_id: id,
                task: &cfg,
                time: Time(20_000),
            },
            std::cell::Cell::new(0),
        );
        let ctx = detente_dap::labels::vdaf_application_context(&id);
        let s = detente_telemetry::shard::shard(
            Vdaf::MultihotCountVec {
                length: LEN,
                max_weight: WEIGHT,
                chunk_length: CHUNK,
            },
            &ctx,
            &Value::Bits(vec![false; LEN]),
            [60; 32],
            [&lpk, &hpk],
            &evil,
        )
        .unwrap();
        let ct = |i: usize, cid: u8| detente_dap::HpkeCiphertext {
            config_id: detente_dap::HpkeConfigId(cid),
            enc: NonEmpty16::new(s.shares[i].enc.clone()).unwrap(),
            payload: NonEmpty32::new(s.shares[i].payload.clone()).unwrap(),
        };
        detente_dap::Report {
            report_metadata: detente_dap::ReportMetadata {
                report_id: detente_dap::ReportId(s.report_id),
                time: Time(20_000),
                public_extensions: Default::default(),
            },
            public_share: Opaque32::new(s.public_share.clone()).unwrap(),
            leader_encrypted_input_share: ct(0, 1),
            helper_encrypted_input_share: ct(1, 2),
        }
    };
    // Attacks: a flipped ciphertext byte for each aggregator, a helper share swapped in from
    // another report, a public share from another report, an unknown HPKE config id.
    let swapped_helper = reports[1].0.helper_encrypted_input_share.clone();
    let other_public = reports[2].0.public_share.clone();
    let bad: Vec<usize> = vec![10, 20, 30, 40, 50, 60];
    {
        let mut p = reports[10]
            .0
            .leader_encrypted_input_share
            .payload
            .as_ref()
            .to_vec();
        p[5] ^= 1;
        reports[10].0.leader_encrypted_input_share.payload = NonEmpty32::new(p).unwrap();
        let mut p = reports[20]
            .0
            .helper_encrypted_input_share
            .payload
            .as_ref()
            .to_vec();
        p[5] ^= 1;
        reports[20].0.helper_encrypted_input_share.payload = NonEmpty32::new(p).unwrap();
        reports[30].0.helper_encrypted_input_share = swapped_helper;
        reports[40].0.public_share = other_public;
        reports[50].0.leader_encrypted_input_share.config_id = detente_dap::HpkeConfigId(99);
    }
    for (i, (r, bits)) in reports.iter().enumerate() {
        let outcome = leader_init(&task, &lkey, r).and_then(|(pending, vi)| {
            let (resp, helper_out) = helper_init(&task, &hkey, &vi);
            let leader_out = leader_finish(&task, pending, &resp)?;
            Ok((
                leader_out,
                helper_out.ok_or(ReportError::VDAF_VERIFY_ERROR)?,
            ))
        });
        match outcome {
            Ok((lo, ho)) => {
                assert!(!bad.contains(&i), "attack {i} was counted");
                fam.accumulate(&mut lagg, &lo).unwrap();
                fam.accumulate(&mut hagg, &ho).unwrap();
                counted += 1;
                for (w, b) in want.iter_mut().zip(bits) {
                    *w += u128::from(*b);
                }
            }
            Err(e) => {
                assert!(bad.contains(&i), "honest report {i} rejected: {e:?}");
                errors.push(e);
            }
        }
    }
    if let Some(eps) = noise {
        fam.add_noise(&mut lagg, eps, [5; 32]).unwrap();
        fam.add_noise(&mut hagg, eps, [6; 32]).unwrap();
    }
    // Collection: each aggregator seals its share for the Collector, bound to the request.
    let req = CollectionJobReq {
        query: Query::time_interval(Interval::new(Time(20_000), Duration(1))),
        agg_param: Opaque32::default(),
        extensions: Default::default(),
    };
    let mut rng = chacha20::ChaCha20Rng::from_seed([8; 32]);
    let lct = seal_aggregate_share(&task, Role::Leader, (3, &cpk), &req, &lagg, &mut rng).unwrap();
    let hct = seal_aggregate_share(&task, Role::Helper, (3, &cpk), &req, &hagg, &mut rng).unwrap();
    // Opened under another request, or as the other role: refused.
    let other = CollectionJobReq {
        query: Query::time_interval(Interval::new(Time(19_999), Duration(2))),
        ..req.clone()
    };
    assert!(open_aggregate_share(&task, Role::Leader, &csk, &other, &lct).is_err());
    assert!(open_aggregate_share(&task, Role::Helper, &csk, &req, &lct).is_err());
    let l = open_aggregate_share(&task, Role::Leader, &csk, &req, &lct).unwrap();
    let h = open_aggregate_share(&task, Role::Helper, &csk, &req, &hct).unwrap();
    // One aggregator's share alone is noise-like: it is not the result.
    let alone = fam.unshard([l.clone(), fam.empty()], counted).unwrap();
    assert_ne!(alone, want);
    (fam.unshard([l, h], counted).unwrap(), want, counted, errors)
}

#[test]
fn the_collector_gets_exactly_the_sum_of_what_verified() {
    let (got, want, counted, errors) = run(None);
    assert_eq!(counted, 294);
    assert_eq!(got, want);
    assert!(errors.contains(&ReportError::HPKE_DECRYPT_ERROR));
    assert!(errors.contains(&ReportError::HPKE_UNKNOWN_CONFIG_ID));
    // Swapped shares and public shares fail decryption: the AAD binds them to the report.
    assert_eq!(
        errors
            .iter()
            .filter(|e| **e == ReportError::HPKE_DECRYPT_ERROR)
            .count(),
        4
    );
    // The malicious client's share decrypts but fails the joint verification.
    assert!(
        errors.contains(&ReportError::VDAF_VERIFY_ERROR),
        "{errors:?}"
    );
}

#[test]
fn with_noise_the_result_stays_within_the_bound() {
    let (got, want, _, _) = run(Some((1, 1)));
    let p = <prio::field::Field128 as prio::field::FieldElementWithInteger>::modulus();
    let diff: Vec<i128> = got
        .iter()
        .zip(&want)
        .map(|(g, w)| {
            let d = if g >= w { g - w } else { p - (w - g) };
            if d > p / 2 {
                -((p - d) as i128)
            } else {
                d as i128
            }
        })
        .collect();
    // Each aggregator's discrete Laplace has scale 2*max_weight/epsilon = 8: the sum of two
    // exceeds 200 in magnitude with probability below 1e-9 per entry.
    assert!(diff.iter().all(|d| d.abs() <= 200), "{diff:?}");
    assert!(diff.iter().any(|d| *d != 0));
}
