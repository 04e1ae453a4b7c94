//! The aggregators' privacy rules on their durable state: a replayed report is counted once,
//! a batch below the minimum yields nothing (and stays collectable later), a batch can't be
//! collected twice, a report for a collected batch is refused, and an aggregator's database
//! alone holds only shares, from which no single measurement can be read.

use detente_dap::{
    vdaf::Prio3MultihotCountVecConfig, BatchMode, NonEmpty16, NonEmpty8, Opaque16,
    TaskConfiguration, TaskId, Time, TimePrecision, VdafConfig,
};
use detente_db::Location;
use detente_telemetry::aggregate::{AggregateShare, Families};
use detente_telemetry::flow::{helper_init, leader_finish, leader_init, HpkeKey, Task};
use detente_telemetry::report::{build, Recipient};
use detente_telemetry::shard::{Value, Vdaf};
use detente_telemetry::store::{Admit, AggStore, CollectError, Item};
use hpke::{Kem as _, Serializable as _};
use prio::codec::{Encode as _, ParameterizedDecode as _};

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

/// A Leader's and a Helper's store: SQLite files, or fresh PostgreSQL databases.
fn stores(dir: &std::path::Path, postgres: bool) -> (AggStore, AggStore) {
    let open = |name: &str| {
        let loc = if postgres {
            let admin = std::env::var("DETENTE_TEST_POSTGRES").expect(
                "DETENTE_TEST_POSTGRES is not set: run scripts/test, which starts a PostgreSQL server",
            );
            Location::Postgres(detente_db::fresh_postgres_database(&admin).unwrap())
        } else {
            Location::Sqlite(dir.join(format!("{name}.sqlite")))
        };
        AggStore::open(&loc).unwrap()
    };
    (open("leader"), open("helper"))
}

#[test]
fn store_rules_on_sqlite() {
    replays_small_batches_double_collection_and_what_the_database_holds(false);
}

#[test]
fn store_rules_on_postgres() {
    replays_small_batches_double_collection_and_what_the_database_holds(true);
}

fn replays_small_batches_double_collection_and_what_the_database_holds(postgres: bool) {
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
    let (leader, helper) = stores(d.path(), postgres);
    let merge = |s: &[&[u8]]| fam.sum_encoded(s).map_err(|e| e.to_string());
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

/// Two handles on one database (two processes of one aggregator) admitting reports into the
/// same bucket at once: no update is lost, and a report id sent in both is counted once.
fn concurrent_writers(postgres: bool) {
    let vdaf = prio::vdaf::prio3::Prio3::new_multihot_count_vec(2, LEN, 2, 4).unwrap();
    let fam = Families::new(LEN, 2, 4).unwrap();
    let d = tempfile::tempdir().unwrap();
    let loc = if postgres {
        let admin = std::env::var("DETENTE_TEST_POSTGRES").expect(
            "DETENTE_TEST_POSTGRES is not set: run scripts/test, which starts a PostgreSQL server",
        );
        Location::Postgres(detente_db::fresh_postgres_database(&admin).unwrap())
    } else {
        Location::Sqlite(d.path().join("agg.sqlite"))
    };
    let a = AggStore::open(&loc).unwrap();
    let b = AggStore::open(&loc).unwrap();
    let task = [7u8; 32];
    // An aggregate share of all zeros is a valid share to count.
    let zero = fam.empty().get_encoded().unwrap();
    let merge = |s: &[&[u8]]| fam.sum_encoded(s).map_err(|e| e.to_string());
    let items = |from: u16| -> Vec<Item> {
        (from..from + 40)
            .map(|i| {
                let mut rid = [0u8; 16];
                rid[..2].copy_from_slice(&i.to_be_bytes());
                item(rid, 5, &zero, None)
            })
            .collect()
    };
    std::thread::scope(|s| {
        for (store, from) in [(&a, 0u16), (&b, 30u16)] {
            let (items, merge) = (items(from), &merge);
            s.spawn(move || {
                for chunk in items.chunks(4) {
                    store.admit_many(&task, chunk, merge).unwrap();
                }
            });
        }
    });
    // Ids 0..70, ten of them (30..40) sent by both.
    let held = a.buckets(&task).unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].2, 70);
    let _ = vdaf;
}

#[test]
fn concurrent_writers_on_sqlite() {
    concurrent_writers(false);
}

#[test]
fn concurrent_writers_on_postgres() {
    concurrent_writers(true);
}

#[test]
fn one_batch_with_repeats_and_many_buckets() {
    let fam = Families::new(LEN, 2, 4).unwrap();
    let d = tempfile::tempdir().unwrap();
    let s = AggStore::open(&Location::Sqlite(d.path().join("a.sqlite"))).unwrap();
    let zero = fam.empty().get_encoded().unwrap();
    let merge = |s: &[&[u8]]| fam.sum_encoded(s).map_err(|e| e.to_string());
    let task = [1u8; 32];
    // 1,200 reports over 3 buckets, more than one statement's chunk, each id twice.
    let mut items = Vec::new();
    for i in 0..1200u16 {
        let mut rid = [0u8; 16];
        rid[..2].copy_from_slice(&i.to_be_bytes());
        items.push(item(rid, u64::from(i % 3), &zero, None));
        items.push(item(rid, u64::from(i % 3), &zero, None));
    }
    let out = s.admit_many(&task, &items, &merge).unwrap();
    assert_eq!(out.iter().filter(|o| **o == Admit::Counted).count(), 1200);
    assert!(out
        .chunks(2)
        .all(|p| p == [Admit::Counted, Admit::Replayed]));
    let held = s.buckets(&task).unwrap();
    assert_eq!(
        held.iter().map(|b| (b.0, b.2)).collect::<Vec<_>>(),
        vec![(0, 400), (1, 400), (2, 400)]
    );
    // The checksums of two collections over disjoint ranges combine to the whole.
    let c01 = s.collect(&task, 0, 2, 1, None, &merge).unwrap().unwrap();
    assert_eq!(c01.reports, 800);
    // Collected buckets refuse later reports; the other bucket still counts new ones.
    let mut late = items[0].clone();
    late.report_id[15] = 1;
    let mut other = items[4].clone();
    other.report_id[15] = 1;
    assert_eq!(other.bucket, 2);
    assert_eq!(
        s.admit_many(&task, &[late, other], &merge).unwrap(),
        vec![Admit::BatchCollected, Admit::Counted]
    );
}

fn item(report_id: [u8; 16], bucket: u64, share: &[u8], token: Option<(u32, [u8; 32])>) -> Item {
    Item {
        report_id,
        bucket,
        share: share.to_vec(),
        token,
    }
}

/// A report's token is spent in the transaction that counts it: a token used before, or
/// twice in one batch, counts nothing, and a report that isn't counted for another reason
/// (a collected bucket) leaves its token unspent.
#[test]
fn tokens_are_spent_with_the_report_they_count() {
    let fam = Families::new(LEN, 2, 4).unwrap();
    let d = tempfile::tempdir().unwrap();
    let s = AggStore::open(&Location::Sqlite(d.path().join("a.sqlite"))).unwrap();
    let zero = fam.empty().get_encoded().unwrap();
    let merge = |s: &[&[u8]]| fam.sum_encoded(s).map_err(|e| e.to_string());
    let task = [1u8; 32];
    let tok = |n: u8| Some((20_000u32, [n; 32]));
    let rid = |n: u8| [n; 16];
    assert_eq!(
        s.admit_many(
            &task,
            &[
                item(rid(1), 1, &zero, tok(1)),
                item(rid(2), 1, &zero, tok(1)),
                item(rid(3), 1, &zero, tok(3)),
            ],
            &merge
        )
        .unwrap(),
        vec![Admit::Counted, Admit::TokenSpent, Admit::Counted]
    );
    assert!(s.is_spent(20_000, &[1; 32]).unwrap());
    assert!(!s.is_spent(20_000, &[2; 32]).unwrap());
    assert_eq!(
        s.admit(&task, &rid(4), 1, &zero, &merge).unwrap(),
        Admit::Counted
    );
    assert_eq!(
        s.admit_many(&task, &[item(rid(5), 1, &zero, tok(3))], &merge)
            .unwrap(),
        vec![Admit::TokenSpent]
    );
    s.collect(&task, 1, 2, 1, None, &merge).unwrap().unwrap();
    assert_eq!(
        s.admit_many(&task, &[item(rid(6), 1, &zero, tok(6))], &merge)
            .unwrap(),
        vec![Admit::BatchCollected]
    );
    assert!(!s.is_spent(20_000, &[6; 32]).unwrap());
    assert_eq!(s.buckets(&task).unwrap()[0].2, 3);
}
