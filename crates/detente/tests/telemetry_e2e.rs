//! Private telemetry end to end on loopback, each role a separate `detente` process: a Leader
//! and a Helper (`detente serve --telemetry`), 1,000 simulated endpoints (`detente telemetry
//! send`, each with its own outbox) and the Collector (`detente telemetry collect`). The
//! collected vector equals the sum of what the endpoints measured (noise off); a dry run
//! sends and records nothing; a batch is collected once; each outbox verifies.

mod common;

use std::net::TcpListener;
use std::process::Stdio;

use common::*;

fn free_addr() -> String {
    let p = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{p}")
}

const FAMILIES: usize = 32;
const ENDPOINTS: usize = 1000;

#[test]
fn a_thousand_endpoints_report_and_the_collector_gets_the_exact_sum() {
    network(ENDPOINTS, 500, None);
}

/// With noise on (epsilon 1 at each aggregator), the result lies within the bound: each
/// aggregator's discrete Laplace has scale 2 * max_weight / epsilon = 6, and the sum of the
/// two exceeds 150 in magnitude with probability below 1e-10 per family.
#[test]
fn with_noise_each_count_lies_within_the_stated_bound() {
    network(200, 100, Some("1"));
}

fn network(endpoints: usize, min_batch: usize, epsilon: Option<&str>) {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let names: Vec<String> = (0..FAMILIES).map(|i| format!("\"Fam.F{i}\"")).collect();
    let policy = root.join("policy.json");
    std::fs::write(
        &policy,
        format!(r#"{{"version":1,"task":"families","families":[{}],"max_weight":3,"rules":{{"families-detected":true}}}}"#, names.join(",")),
    )
    .unwrap();
    let (la, ha) = (free_addr(), free_addr());
    let out = root.join("task");
    let mut args = vec![
        "telemetry".to_string(),
        "setup".into(),
        out.display().to_string(),
        "--leader".into(),
        format!("http://{la}/"),
        "--helper".into(),
        format!("http://{ha}/"),
        "--policy".into(),
        policy.display().to_string(),
        "--min-batch".into(),
        min_batch.to_string(),
    ];
    if let Some(e) = epsilon {
        args.extend(["--epsilon".to_string(), e.to_string()]);
    }
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let serve = |addr: &str, dir: &str| {
        let s = Server(
            detente()
                .args([
                    "serve",
                    "--listen",
                    addr,
                    "--telemetry",
                    &out.join(dir).display().to_string(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_for(addr);
        s
    };
    let _leader = serve(&la, "leader");
    let _helper = serve(&ha, "helper");
    let task = out.join("task.json").display().to_string();
    let p = policy.display().to_string();

    // A dry run shows, sends and records nothing.
    let obs0 = root.join("obs-dry.json");
    std::fs::write(&obs0, r#"{"detections":["Fam.F1-2"],"scanned":3}"#).unwrap();
    let dry = root.join("dry");
    let o = ok(&[
        "telemetry",
        "send",
        "--task",
        &task,
        "--policy",
        &p,
        "--observed",
        &obs0.display().to_string(),
        "--dir",
        &dry.display().to_string(),
        "--dry-run",
        "--day",
        "20000",
    ]);
    assert!(
        o.contains("dry run") && o.contains("allowed by rule families-detected"),
        "{o}"
    );
    assert!(!dry.join("outbox.jsonl").exists());

    let mut want = vec![0i128; FAMILIES];
    let mut children = Vec::new();
    for e in 0..endpoints {
        let mut det = Vec::new();
        for k in 0..(e % 4) {
            let f = (e * 7 + k * 13) % FAMILIES;
            det.push(format!("\"Fam.F{f}-{k}\""));
        }
        // Families are counted once per endpoint, at most max_weight (3) by index order.
        let mut fams: Vec<usize> = (0..(e % 4)).map(|k| (e * 7 + k * 13) % FAMILIES).collect();
        fams.sort();
        fams.dedup();
        for f in fams.iter().take(3) {
            want[*f] += 1;
        }
        let obs = root.join(format!("obs-{e}.json"));
        std::fs::write(
            &obs,
            format!(r#"{{"detections":[{}],"scanned":10}}"#, det.join(",")),
        )
        .unwrap();
        let dir = root.join(format!("ep-{e}"));
        children.push(
            detente()
                .args([
                    "telemetry",
                    "send",
                    "--task",
                    &task,
                    "--policy",
                    &p,
                    "--observed",
                    &obs.display().to_string(),
                    "--dir",
                    &dir.display().to_string(),
                    "--day",
                    "20000",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        if children.len() == 8 {
            for c in children.drain(..) {
                let o = c.wait_with_output().unwrap();
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            }
        }
    }
    for c in children.drain(..) {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    let collector = out.join("collector").display().to_string();
    let o = ok(&[
        "telemetry",
        "collect",
        "--task",
        &task,
        "--collector",
        &collector,
        "--day",
        "20000",
    ]);
    assert!(o.starts_with(&format!("reports {endpoints}\n")), "{o}");
    let mut noisy = 0;
    for (i, line) in o.lines().skip(1).enumerate() {
        let (n, name) = line.split_once('\t').unwrap();
        assert_eq!(name, format!("Fam.F{i}"));
        let got = n.parse::<i128>().unwrap();
        match epsilon {
            None => assert_eq!(got, want[i], "{name}"),
            Some(_) => {
                assert!((got - want[i]).abs() <= 150, "{name}: {got} vs {}", want[i]);
                noisy += usize::from(got != want[i]);
            }
        }
    }
    if epsilon.is_some() {
        assert!(noisy > 0, "noise was added");
    }
    // Collected once.
    let again = run(&[
        "telemetry",
        "collect",
        "--task",
        &task,
        "--collector",
        &collector,
        "--day",
        "20000",
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("batchOverlap"));
    // Each endpoint's outbox verifies: what it sent is what its measurement and seed give.
    for e in (0..endpoints).step_by(97) {
        let o = ok(&[
            "telemetry",
            "verify",
            &root.join(format!("ep-{e}")).display().to_string(),
        ]);
        assert!(o.contains("1 records, 1 verified, 0 not"), "{o}");
    }
}
