//! Throughput and latency of add-checkpoint over HTTP on loopback, 8 logs
//! advanced in parallel (one keep-alive client per log). Ignored: run with
//! `cargo test -p detente-witness --test it -- --ignored --nocapture bench`.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::util::{witness, Client, Server, TestLog};

#[test]
#[ignore]
fn bench_add_checkpoint_8_logs() {
    const LOGS: usize = 8;
    const REQS: u64 = 250;
    let dir = tempfile::tempdir().unwrap();
    let logs: Vec<TestLog> = (0..LOGS)
        .map(|i| TestLog::new(&format!("bench.example/log{i}"), i as u8 + 1, REQS + 1))
        .collect();
    let refs: Vec<&TestLog> = logs.iter().collect();
    let (w, _) = witness(dir.path(), "bench.example/w", &refs);
    let srv = Server::start(&w);
    // Bodies prepared up front: each request advances its log by one leaf.
    let bodies: Vec<Vec<Vec<u8>>> = logs
        .iter()
        .map(|l| {
            (0..=REQS)
                .map(|s| l.request(s.saturating_sub(1), s))
                .collect()
        })
        .collect();
    let barrier = Arc::new(Barrier::new(LOGS + 1));
    let handles: Vec<_> = bodies
        .into_iter()
        .map(|bodies| {
            let (b, addr) = (barrier.clone(), srv.addr);
            std::thread::spawn(move || {
                let mut c = Client::connect(addr).unwrap();
                // Warm-up: the first checkpoint (old 0).
                assert_eq!(
                    c.request("POST", "/add-checkpoint", &bodies[0])
                        .unwrap()
                        .status,
                    200
                );
                b.wait();
                let mut lat = Vec::with_capacity(bodies.len());
                for body in &bodies[1..] {
                    let t = Instant::now();
                    let r = c.request("POST", "/add-checkpoint", body).unwrap();
                    lat.push(t.elapsed());
                    assert_eq!(r.status, 200, "{}", r.text());
                }
                lat
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut lat: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let wall = start.elapsed();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    eprintln!(
        "add-checkpoint, {LOGS} logs in parallel, {} requests (Ed25519 + ML-DSA-44 cosignatures, \
         WAL synchronous=FULL): {:.0} req/s, p50 {:?}, p99 {:?}, max {:?}",
        lat.len(),
        lat.len() as f64 / wall.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        lat[lat.len() - 1],
    );
    for l in w.logs().unwrap() {
        assert_eq!(l.state.size, REQS);
    }
}

/// Writes valid request bodies for seeding the fuzzer:
/// `WITNESS_SEED_DIR=/tmp/seeds cargo test ... -- --ignored write_fuzz_seeds`.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let Some(dir) = std::env::var_os("WITNESS_SEED_DIR") else {
        return;
    };
    std::fs::create_dir_all(&dir).unwrap();
    let log = TestLog::new("example.com/log", 7, 70);
    for (i, (old, new)) in [(0, 0), (0, 3), (3, 3), (3, 5), (5, 13), (13, 64), (1, 70)]
        .into_iter()
        .enumerate()
    {
        std::fs::write(
            std::path::Path::new(&dir).join(format!("seed{i}")),
            log.request(old, new),
        )
        .unwrap();
    }
}

/// Where the time of one add-checkpoint goes: each cosignature type, and
/// the whole in-process path (parse, verify, sign, SQLite commit).
#[test]
#[ignore]
fn bench_parts() {
    use detente_note::Cosigner;
    let log = TestLog::new("o", 1, 300);
    let ed = Cosigner::ed25519_from_seed("w", [1; 32]).unwrap();
    let ml = Cosigner::mldsa44_from_seed("w", [2; 32]).unwrap();
    let text = String::from_utf8(log.checkpoint(10)).unwrap();
    let text = &text[..text.find("\n\n").unwrap() + 1];
    for (name, c) in [("ed25519", &ed), ("mldsa44", &ml)] {
        let t = Instant::now();
        for i in 0..50 {
            c.cosign(text, 1 + i).unwrap();
        }
        eprintln!("{name} cosign: {:?}", t.elapsed() / 50);
    }
    let dir = tempfile::tempdir().unwrap();
    let (w, _) = witness(dir.path(), "w", &[&log]);
    let bodies: Vec<_> = (1..=200).map(|s| log.request(s - 1, s)).collect();
    w.add_checkpoint(&log.request(0, 0), 1).unwrap();
    let t = Instant::now();
    for b in &bodies {
        w.add_checkpoint(b, 5).unwrap();
    }
    eprintln!(
        "add_checkpoint (in process, sequential): {:?}",
        t.elapsed() / 200
    );
}
