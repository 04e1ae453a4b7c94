//! The Leader and the Helper over HTTP on loopback, each with its own keys and store: 250
//! clients upload, the Collector collects and gets exactly the sum; a replayed upload is
//! counted once; a batch below the minimum yields nothing; a batch is collected once; a
//! wrong token is refused.

use std::net::SocketAddr;

use detente_dap::{
    vdaf::Prio3MultihotCountVecConfig, BatchMode, CollectionJobReq, CollectionJobResp, Decode as _,
    Duration, Encode as _, Interval, NonEmpty16, NonEmpty8, Opaque16, Opaque32, Query, ReportError,
    Role, TaskConfiguration, TaskId, Time, TimePrecision, UploadErrors, UploadRequest, VdafConfig,
};
use detente_db::Location;
use detente_telemetry::aggregate::Families;
use detente_telemetry::flow::{open_aggregate_share, HpkeKey, Task};
use detente_telemetry::report::{build, Recipient};
use detente_telemetry::server::{router, token_hash, Aggregator, Which};
use detente_telemetry::shard::{Value, Vdaf};
use detente_telemetry::store::AggStore;
use hpke::{Kem as _, Serializable as _};

type Kem = hpke::kem::X25519HkdfSha256;
const LEN: usize = 32;
const W: usize = 3;
const CH: usize = 6;
const TAXI: &str = "application/ppm-dap;message=";

fn keys(seed: u8) -> ([u8; 32], [u8; 32]) {
    let (sk, pk) = Kem::derive_keypair(&[seed; 32]);
    (sk.to_bytes().into(), pk.to_bytes().into())
}

fn config(leader: &str, helper: &str) -> TaskConfiguration {
    let v = VdafConfig::Prio3MultihotCountVec(Prio3MultihotCountVecConfig {
        length: LEN as u32,
        chunk_length: CH as u32,
        max_weight: W as u64,
    });
    TaskConfiguration {
        task_info: NonEmpty8::new(b"http".to_vec()).unwrap(),
        leader_aggregator_endpoint: NonEmpty16::new(leader.as_bytes().to_vec()).unwrap(),
        helper_aggregator_endpoint: NonEmpty16::new(helper.as_bytes().to_vec()).unwrap(),
        time_precision: TimePrecision(86_400),
        min_batch_size: 50,
        batch_mode: BatchMode::TIME_INTERVAL,
        batch_config: Opaque16::default(),
        vdaf_type: v.vdaf_type(),
        vdaf_configuration: v.vdaf_configuration(),
        extensions: Default::default(),
    }
}

#[test]
fn leader_helper_and_collector_over_http() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ll = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let hl = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let (la, ha): (SocketAddr, SocketAddr) = (ll.local_addr().unwrap(), hl.local_addr().unwrap());
    let (lurl, hurl) = (format!("http://{la}/"), format!("http://{ha}/"));
    let cfg = config(&lurl, &hurl);
    let id = TaskId([3; 32]);
    let (lsk, lpk) = keys(1);
    let (hsk, hpk) = keys(2);
    let (csk, cpk) = keys(3);
    let d = tempfile::tempdir().unwrap();
    let mk = |which, sk: [u8; 32], pk: [u8; 32], cid: u8, db: Location| Aggregator {
        which,
        task_id: id,
        task: cfg.clone(),
        vdaf: (LEN, W, CH),
        verify_key: [42; 32],
        hpke: HpkeKey {
            config_id: cid,
            secret: sk,
        },
        hpke_public: pk,
        collector: (9, cpk),
        helper_url: hurl.clone(),
        peer_token_hash: token_hash("leader-to-helper"),
        peer_token: "leader-to-helper".into(),
        collector_token_hash: token_hash("collector"),
        epsilon: None,
        issuer: None,
        store: AggStore::open(&db).unwrap(),
    };
    // Each party picks its own storage: the Leader PostgreSQL, the Helper a SQLite file.
    let admin = std::env::var("DETENTE_TEST_POSTGRES").expect(
        "DETENTE_TEST_POSTGRES is not set: run scripts/test, which starts a PostgreSQL server",
    );
    let pg = Location::Postgres(detente_db::fresh_postgres_database(&admin).unwrap());
    let leader = router(mk(Which::Leader, lsk, lpk, 1, pg)).unwrap();
    let helper = router(mk(
        Which::Helper,
        hsk,
        hpk,
        2,
        Location::Sqlite(d.path().join("helper.sqlite")),
    ))
    .unwrap();
    rt.spawn(async move { axum::serve(ll, leader).await });
    rt.spawn(async move { axum::serve(hl, helper).await });
    let c = reqwest::blocking::Client::new();

    // The HPKE configs clients fetch.
    let b = c
        .get(format!("{lurl}hpke_config"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let list = detente_dap::HpkeConfigList::decode(&b).unwrap();
    assert_eq!(list.configs.as_slice()[0].public_key.as_ref(), &lpk[..]);

    let mut want = vec![0u128; LEN];
    let mut all = Vec::new();
    for n in 0..250u32 {
        let mut bits = vec![false; LEN];
        for k in 0..(n % (W as u32 + 1)) {
            bits[((n * 5 + k * 11) % LEN as u32) as usize] = true;
        }
        let mut seed = [0u8; 32];
        seed[..4].copy_from_slice(&n.to_be_bytes());
        let day = if n < 240 { 20_000 } else { 20_001 };
        let r = build(
            id,
            &cfg,
            Time(day),
            Vdaf::MultihotCountVec {
                length: LEN,
                max_weight: W,
                chunk_length: CH,
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
        if day == 20_000 {
            for (w, b) in want.iter_mut().zip(&bits) {
                *w += u128::from(*b);
            }
        }
        all.push(r);
    }
    let upload = |reports: Vec<detente_dap::Report>| -> UploadErrors {
        let r = c
            .post(format!("{lurl}tasks/{id}/reports"))
            .header("content-type", format!("{TAXI}upload-req"))
            .body(UploadRequest { reports }.get_encoded())
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        UploadErrors::decode(&r.bytes().unwrap()).unwrap()
    };
    for chunk in all.chunks(50) {
        let e = upload(chunk.to_vec());
        assert!(e.status.is_empty(), "{e:?}");
    }
    // The same report uploaded again: refused as a replay, not counted.
    let e = upload(vec![all[7].clone()]);
    assert_eq!(e.status.len(), 1);
    assert_eq!(e.status[0].error, ReportError::REPORT_REPLAYED);

    let collect = |start: u64, token: &str| {
        let req = CollectionJobReq {
            query: Query::time_interval(Interval::new(Time(start), Duration(1))),
            agg_param: Opaque32::default(),
            extensions: Default::default(),
        };
        let r = c
            .post(format!("{lurl}tasks/{id}/collection_jobs"))
            .bearer_auth(token)
            .header("content-type", format!("{TAXI}collection-job-req"))
            .body(req.get_encoded())
            .send()
            .unwrap();
        (r.status().as_u16(), r.bytes().unwrap().to_vec(), req)
    };
    assert_eq!(collect(20_000, "not the collector").0, 403);
    // Day 20,001 holds 10 reports, below the minimum of 50: nothing.
    let (s, body, _) = collect(20_001, "collector");
    assert_eq!(s, 400);
    assert!(String::from_utf8_lossy(&body).contains("invalidBatchSize"));
    let (s, body, req) = collect(20_000, "collector");
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&body));
    let resp = CollectionJobResp::decode(&body).unwrap();
    assert_eq!(resp.report_count, 240);
    let vdaf = prio::vdaf::prio3::Prio3::new_multihot_count_vec(2, LEN, W, CH).unwrap();
    let task = Task {
        id,
        config: &cfg,
        vdaf: &vdaf,
        verify_key: &[0; 32],
    };
    let l = open_aggregate_share(
        &task,
        Role::Leader,
        &csk,
        &req,
        &resp.leader_encrypted_agg_share,
    )
    .unwrap();
    let h = open_aggregate_share(
        &task,
        Role::Helper,
        &csk,
        &req,
        &resp.helper_encrypted_agg_share,
    )
    .unwrap();
    let fam = Families::new(LEN, W, CH).unwrap();
    assert_eq!(fam.unshard([l, h], 240).unwrap(), want);
    // Collected once.
    let (s, body, _) = collect(20_000, "collector");
    assert_eq!(s, 400);
    assert!(String::from_utf8_lossy(&body).contains("batchOverlap"));
    // A report for the collected day is refused.
    let late = build(
        id,
        &cfg,
        Time(20_000),
        Vdaf::MultihotCountVec {
            length: LEN,
            max_weight: W,
            chunk_length: CH,
        },
        &Value::Bits(vec![false; LEN]),
        [99; 32],
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
    let e = upload(vec![late]);
    assert_eq!(e.status[0].error, ReportError::BATCH_COLLECTED);
    // The Helper refuses anyone without the Leader's token.
    let r = c
        .post(format!("{hurl}tasks/{id}/aggregation_jobs"))
        .body(vec![0u8; 8])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
}
