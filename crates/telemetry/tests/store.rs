//! The aggregators' privacy rules on their durable state: a replayed report is counted once,
//! a batch below the minimum yields nothing (and stays collectable later), a batch can't be
//! collected twice, a report for a collected batch is refused, and an aggregator's database
//! alone holds only shares, from which no single measurement can be read.

use detente_dap::{
    vdaf::Prio3MultihotCountVecConfig, BatchMode, NonEmpty16, NonEmpty8, Opaque16,
    TaskConfiguration, TaskId, Time, TimePrecision, VdafConfig,
};
use detente_telemetry::aggregate::{AggregateShare, Families};
use detente_telemetry::flow::{helper_init, leader_finish, leader_init, HpkeKey, Task};
use detente_telemetry::report::{build, Recipient};
use detente_telemetry::shard::{Value, Vdaf};
use detente_telemetry::store::{Admit, AggStore, CollectError};
use hpke::{Kem as _, Serializable as _};
use prio::codec::{Encode as _, ParameterizedDecode as _};
use prio::vdaf::Aggregatable as _;

type Kem = hpke::kem::X25519HkdfSha256;
const LEN: usize = 16;

fn config() -> TaskConfiguration {
    let v = VdafConfig::Prio3MultihotCountVec(Prio3MultihotCountVecConfig {
        length: LEN as u32,
        chunk_length: 4,
        max_weight: 2,
    });
    TaskConfiguration {
        task_info: NonEmpty8::new(b"store".to_vec()).unwrap(),
        leader_aggregator_endpoint: NonEmpty16::new(b"https://l.example/".to_vec()).unwrap(),
        helper_aggregator_endpoint: NonEmpty16::new(b"https://h.example/".to_vec()).unwrap(),
        time_precision: TimePrecision(86_400),
        min_batch_size: 3,
        batch_mode: BatchMode::TIME_INTERVAL,
        batch_config: Opaque16::default(),
        vdaf_type: v.vdaf_type(),
        vdaf_configuration: v.vdaf_configuration(),
        extensions: Default::default(),
    }
}

#[test]
fn replays_small_batches_double_collection_and_what_the_database_holds() {
    let cfg = config();
    let id = TaskId([4; 32]);
    let vdaf = prio::vdaf::prio3::Prio3::new_multihot_count_vec(2, LEN, 2, 4).unwrap();
    let vk = [1u8; 32];
    let task = Task {
        id,
        config: &cfg,
        vdaf: &vdaf,
        verify_key: &vk,
    };
    let (lsk, lpk) = Kem::derive_keypair(&[1; 32]);
    let (hsk, hpk) = Kem::derive_keypair(&[2; 32]);
    let lkey = HpkeKey {
        config_id: 1,
        secret: lsk.to_bytes().into(),
    };
    let hkey = HpkeKey {
        config_id: 2,
        secret: hsk.to_bytes().into(),
    };
    let fam = Families::new(LEN, 2, 4).unwrap();
    let d = tempfile::tempdir().unwrap();
    let leader = AggStore::open(&d.path().join("leader.sqlite")).unwrap();
    let helper = AggStore::open(&d.path().join("helper.sqlite")).unwrap();
    let merge = |a: &[u8], b: &[u8]| -> Result<Vec<u8>, String> {
        let mut x =
            AggregateShare::get_decoded_with_param(&(&vdaf, &()), a).map_err(|e| e.to_string())?;
        let y =
            AggregateShare::get_decoded_with_param(&(&vdaf, &()), b).map_err(|e| e.to_string())?;
        x.merge(&y).map_err(|e| e.to_string())?;
        x.get_encoded().map_err(|e| e.to_string())
    };
    let submit = |n: u8, bits: Vec<bool>, bucket: u64| -> (Admit, Admit) {
        let r = build(
            id,
            &cfg,
            Time(bucket),
            Vdaf::MultihotCountVec {
                length: LEN,
                max_weight: 2,
                chunk_length: 4,
            },
            &Value::Bits(bits),
            [n; 32],
            Recipient {
                config_id: 1,
                public_key: lpk.to_bytes().into(),
            },
            Recipient {
                config_id: 2,
                public_key: hpk.to_bytes().into(),
            },
        )
        .unwrap();
        let (p, vi) = leader_init(&task, &lkey, &r).unwrap();
        let (resp, hout) = helper_init(&task, &hkey, &vi);
        let lout = leader_finish(&task, p, &resp).unwrap();
        let enc = |o| AggregateShare::from(o).get_encoded().unwrap();
        let rid = r.report_metadata.report_id.0;
        (
            leader
                .admit(&id.0, &rid, bucket, &enc(lout), &merge)
                .unwrap(),
            helper
                .admit(&id.0, &rid, bucket, &enc(hout.unwrap()), &merge)
                .unwrap(),
        )
    };
    let one = |i: usize| {
        let mut b = vec![false; LEN];
        b[i] = true;
        b
    };
    assert_eq!(submit(1, one(3), 10), (Admit::Counted, Admit::Counted));
    // The same report again (the same seed makes the same report id): counted once.
    assert_eq!(submit(1, one(3), 10), (Admit::Replayed, Admit::Replayed));
    // One report in the bucket: each database holds a share that is not the measurement.
    for s in [&leader, &helper] {
        let b = s.buckets(&id.0).unwrap();
        assert_eq!((b.len(), b[0].2), (1, 1));
        let share = AggregateShare::get_decoded_with_param(&(&vdaf, &()), &b[0].1).unwrap();
        let as_counts = fam.unshard([share, fam.empty()], 1).unwrap();
        assert_ne!(
            as_counts,
            one(3).iter().map(|b| u128::from(*b)).collect::<Vec<_>>()
        );
        assert!(
            as_counts.iter().any(|x| *x > 1),
            "a share looks random, not like 0/1 counts"
        );
    }
    // Below the minimum of 3: nothing, and nothing spent.
    assert_eq!(
        leader.collect(&id.0, 10, 11, 3, None, &merge),
        Err(CollectError::TooSmall { have: 1, min: 3 })
    );
    submit(2, one(5), 10);
    submit(3, one(5), 10);
    let lc = leader
        .collect(&id.0, 10, 11, 3, None, &merge)
        .unwrap()
        .unwrap();
    let hc = helper
        .collect(&id.0, 10, 11, 3, None, &merge)
        .unwrap()
        .unwrap();
    // Both saw the same reports: the same count and checksum.
    assert_eq!((lc.reports, lc.checksum), (hc.reports, hc.checksum));
    assert_ne!(lc.checksum, [0; 32]);
    let (ls, n, hs) = (lc.share, lc.reports, hc.share);
    let dec = |b: &[u8]| AggregateShare::get_decoded_with_param(&(&vdaf, &()), b).unwrap();
    let got = fam.unshard([dec(&ls), dec(&hs)], n as usize).unwrap();
    let mut want = vec![0u128; LEN];
    want[3] = 1;
    want[5] = 2;
    assert_eq!((got, n), (want, 3));
    // Collected once only; and a late report for that batch is refused.
    assert_eq!(
        leader.collect(&id.0, 10, 11, 3, None, &merge),
        Err(CollectError::AlreadyCollected)
    );
    assert_eq!(
        leader.collect(&id.0, 9, 12, 1, None, &merge),
        Err(CollectError::AlreadyCollected)
    );
    assert_eq!(
        submit(4, one(1), 10),
        (Admit::BatchCollected, Admit::BatchCollected)
    );
}
