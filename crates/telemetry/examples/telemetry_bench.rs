//! Measures, for a 1,024-family report (max weight 16): the client's CPU per report (shard
//! and seal), the report's size, and the aggregators' CPU per report for the DAP steps
//! (both HPKE opens, decoding, ping-pong verification, accumulation) beside the bare prio
//! VDAF cost (verify_init, combine, verify_next on already-decoded shares) in the same run.
//! Run by `bench/telemetry/run`; prints one JSON line.

use std::time::Instant;

use detente_dap::{
    vdaf::Prio3MultihotCountVecConfig, BatchMode, Encode as _, NonEmpty16, NonEmpty8, Opaque16,
    TaskConfiguration, TaskId, Time, TimePrecision, UploadRequest, VdafConfig,
};
use detente_telemetry::aggregate::Families;
use detente_telemetry::flow::{helper_init, leader_finish, leader_init, HpkeKey, Task};
use detente_telemetry::report::{build, Recipient};
use detente_telemetry::shard::{Value, Vdaf};
use hpke::{Kem as _, Serializable as _};
use prio::vdaf::{Aggregator as _, Client as _};

type Kem = hpke::kem::X25519HkdfSha256;
const LEN: usize = 1024;
const WEIGHT: usize = 16;
const CHUNK: usize = 32;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    let v = VdafConfig::Prio3MultihotCountVec(Prio3MultihotCountVecConfig {
        length: LEN as u32,
        chunk_length: CHUNK as u32,
        max_weight: WEIGHT as u64,
    });
    let cfg = TaskConfiguration {
        task_info: NonEmpty8::new(b"bench".to_vec()).unwrap(),
        leader_aggregator_endpoint: NonEmpty16::new(b"https://l.example/".to_vec()).unwrap(),
        helper_aggregator_endpoint: NonEmpty16::new(b"https://h.example/".to_vec()).unwrap(),
        time_precision: TimePrecision(86_400),
        min_batch_size: 100,
        batch_mode: BatchMode::TIME_INTERVAL,
        batch_config: Opaque16::default(),
        vdaf_type: v.vdaf_type(),
        vdaf_configuration: v.vdaf_configuration(),
        extensions: Default::default(),
    };
    let id = TaskId([1; 32]);
    let (lsk, lpk) = Kem::derive_keypair(&[1; 32]);
    let (hsk, hpk) = Kem::derive_keypair(&[2; 32]);
    let vdaf = prio::vdaf::prio3::Prio3::new_multihot_count_vec(2, LEN, WEIGHT, CHUNK).unwrap();
    let vk = [3u8; 32];
    let bits = |i: usize| -> Vec<bool> {
        let mut b = vec![false; LEN];
        for k in 0..(i % WEIGHT) {
            b[(i * 31 + k * 17) % LEN] = true;
        }
        b
    };
    // Client: shard and seal.
    let t = Instant::now();
    let mut reports = Vec::with_capacity(n);
    for i in 0..n {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
        reports.push(
            build(
                id,
                &cfg,
                Time(20_000),
                Vdaf::MultihotCountVec {
                    length: LEN,
                    max_weight: WEIGHT,
                    chunk_length: CHUNK,
                },
                &Value::Bits(bits(i)),
                seed,
                Recipient {
                    config_id: 1,
                    public_key: lpk.to_bytes().into(),
                },
                Recipient {
                    config_id: 2,
                    public_key: hpk.to_bytes().into(),
                },
            )
            .unwrap(),
        );
    }
    let client = t.elapsed().as_secs_f64() / n as f64;
    let bytes = UploadRequest {
        reports: vec![reports[0].clone()],
    }
    .get_encoded()
    .len();

    // Aggregators: the DAP steps, both roles, in one thread.
    let task = Task {
        id,
        config: &cfg,
        vdaf: &vdaf,
        verify_key: &vk,
    };
    let lkey = HpkeKey {
        config_id: 1,
        secret: lsk.to_bytes().into(),
    };
    let hkey = HpkeKey {
        config_id: 2,
        secret: hsk.to_bytes().into(),
    };
    let fam = Families::new(LEN, WEIGHT, CHUNK).unwrap();
    let (mut la, mut ha) = (fam.empty(), fam.empty());
    let t = Instant::now();
    for r in &reports {
        let (p, vi) = leader_init(&task, &lkey, r).unwrap();
        let (resp, ho) = helper_init(&task, &hkey, &vi);
        let lo = leader_finish(&task, p, &resp).unwrap();
        fam.accumulate(&mut la, &lo).unwrap();
        fam.accumulate(&mut ha, &ho.unwrap()).unwrap();
    }
    let dap = t.elapsed().as_secs_f64() / n as f64;

    // Bare prio: the same verification on shares already decoded, no HPKE, no DAP.
    let ctx = b"bench";
    let shards: Vec<_> = (0..n)
        .map(|i| {
            let nonce = [i as u8; 16];
            let (ps, is) = vdaf.shard(ctx, &bits(i), &nonce).unwrap();
            (nonce, ps, is)
        })
        .collect();
    let t = Instant::now();
    for (nonce, ps, is) in &shards {
        let (s0, v0) = vdaf
            .verify_init(&vk, ctx, 0, &(), nonce, ps, &is[0])
            .unwrap();
        let (s1, v1) = vdaf
            .verify_init(&vk, ctx, 1, &(), nonce, ps, &is[1])
            .unwrap();
        let m = vdaf.verifier_shares_to_message(ctx, &(), [v0, v1]).unwrap();
        let _ = vdaf.verify_next(ctx, s0, m.clone()).unwrap();
        let _ = vdaf.verify_next(ctx, s1, m).unwrap();
    }
    let bare = t.elapsed().as_secs_f64() / n as f64;
    println!(
        "{{\"reports\": {n}, \"report_bytes\": {bytes}, \"client_ms_per_report\": {:.3}, \"dap_both_aggregators_ms_per_report\": {:.3}, \"bare_prio_both_aggregators_ms_per_report\": {:.3}}}",
        client * 1e3,
        dap * 1e3,
        bare * 1e3
    );
}
