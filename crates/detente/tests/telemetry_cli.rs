//! `detente telemetry`: what the policy lets an endpoint report, and the owner's outbox
//! checked from the command line (its chain, and every record's bytes rebuilt from its
//! measurement and seed).

mod common;

use common::*;
use detente_dap::{
    vdaf::Prio3MultihotCountVecConfig, BatchMode, NonEmpty16, NonEmpty8, Opaque16,
    TaskConfiguration, TaskId, Time, TimePrecision, VdafConfig,
};
use detente_telemetry::measure::{measure, Observed, Policy};
use detente_telemetry::outbox::{record, GENESIS};
use detente_telemetry::record::{make, Upload};
use detente_telemetry::report::Recipient;

const POLICY: &str = r#"{"version":1,"task":"families","families":["Win.Trojan.Agent","Doc.Dropper.Agent","Eicar-Signature","Unix.Miner.X"],"max_weight":2,"rules":{"families-detected":true,"scan-counts":true}}"#;

#[test]
fn measure_shows_each_item_with_its_rule_and_what_is_withheld() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("policy.json");
    std::fs::write(&p, POLICY).unwrap();
    let o = t.path().join("observed.json");
    std::fs::write(
        &o,
        r#"{"detections":["Doc.Dropper.Agent-77","Secret.Internal.Tool-1","Eicar-Signature","Unix.Miner.X-3"],"scanned":5000}"#,
    )
    .unwrap();
    let out = ok(&[
        "telemetry",
        "measure",
        "--policy",
        &p.display().to_string(),
        "--observed",
        &o.display().to_string(),
    ]);
    assert!(out.contains("send     Doc.Dropper.Agent"), "{out}");
    assert!(out.contains("allowed by rule families-detected"), "{out}");
    assert!(
        out.contains("scans")
            && out.contains("5000")
            && out.contains("allowed by rule scan-counts"),
        "{out}"
    );
    // Not listed by the policy, and over max_weight 2: withheld, never sent.
    assert!(out.contains("withhold Secret.Internal.Tool"), "{out}");
    assert!(out.contains("withhold Unix.Miner.X"), "{out}");
    assert!(!out.contains("send     Secret"), "{out}");
    std::fs::write(
        &p,
        r#"{"version":1,"task":"t","families":[],"max_weight":1,"rules":{}}"#,
    )
    .unwrap();
    let e = run(&[
        "telemetry",
        "measure",
        "--policy",
        &p.display().to_string(),
        "--observed",
        &o.display().to_string(),
    ]);
    assert_eq!(e.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&e.stderr).contains("policy.json"));
}

fn outbox_lines(n: usize) -> Vec<String> {
    let policy = Policy::parse(POLICY.as_bytes()).unwrap();
    let v = VdafConfig::Prio3MultihotCountVec(Prio3MultihotCountVecConfig {
        length: 4,
        chunk_length: 2,
        max_weight: 2,
    });
    let task = TaskConfiguration {
        task_info: NonEmpty8::new(b"families".to_vec()).unwrap(),
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
    // The X25519 base point is a valid public key.
    let mut pk = [0u8; 32];
    pk[0] = 9;
    let mut prev = GENESIS.to_string();
    let mut lines = Vec::new();
    for day in 0..n {
        let m = measure(
            &policy,
            &Observed {
                detections: vec!["Eicar-Signature".into()],
                scanned: day as u64,
            },
        );
        let up = Upload {
            url: "https://l.example/tasks/x/reports",
            task_id: TaskId([2; 32]),
            task: &task,
            time: Time(20_000 + day as u64),
            vdaf: (4, 2, 2),
            measurement: &m,
            seed: [day as u8; 32],
            leader: Recipient {
                config_id: 1,
                public_key: pk,
            },
            helper: Recipient {
                config_id: 2,
                public_key: pk,
            },
        };
        let (_, fields) = make(&up).unwrap();
        let line = record(day as u64, &prev, fields);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        prev = v["hash"].as_str().unwrap().to_string();
        lines.push(line);
    }
    lines
}

#[test]
fn the_owner_reads_and_verifies_the_outbox() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().display().to_string();
    let out = ok(&["telemetry", "outbox", &dir]);
    assert!(out.contains("the outbox is empty"), "{out}");
    let lines = outbox_lines(3);
    std::fs::write(t.path().join("outbox.jsonl"), lines.join("\n") + "\n").unwrap();
    let out = ok(&["telemetry", "outbox", &dir]);
    assert_eq!(
        out.matches("allowed by rule families-detected").count(),
        3,
        "{out}"
    );
    assert!(out.contains("#2 day 20002"), "{out}");
    let out = ok(&["telemetry", "verify", &dir]);
    assert!(out.contains("3 records, 3 verified, 0 not"), "{out}");
    // A record edited in place: the chain breaks there.
    let edited = lines.join("\n").replacen("\"value\":1", "\"value\":0", 1) + "\n";
    std::fs::write(t.path().join("outbox.jsonl"), edited).unwrap();
    let o = run(&["telemetry", "verify", &dir]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("BROKEN"));
    // A record removed: the chain breaks too.
    std::fs::write(
        t.path().join("outbox.jsonl"),
        [lines[0].clone(), lines[2].clone()].join("\n") + "\n",
    )
    .unwrap();
    assert_eq!(run(&["telemetry", "verify", &dir]).status.code(), Some(1));
}

/// A database setting that is not a PostgreSQL URL is refused before anything is written,
/// and so is one that can't be reached when the aggregator starts.
#[test]
fn a_bad_database_setting_is_refused_by_name() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("policy.json");
    std::fs::write(&p, POLICY).unwrap();
    let out = t.path().join("task");
    let setup = |extra: &[&str]| {
        let mut a = vec![
            "telemetry",
            "setup",
            out.to_str().unwrap(),
            "--leader",
            "http://127.0.0.1:1/",
            "--helper",
            "http://127.0.0.1:2/",
            "--policy",
            p.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        run(&a)
    };
    let r = setup(&["--helper-database", "mysql://db.example/agg"]);
    assert!(!r.status.success());
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(
        e.contains("--helper-database") && e.contains("mysql://db.example/agg"),
        "{e}"
    );
    assert!(!out.exists());
    // A PostgreSQL server nobody listens for.
    let dead = format!("postgres://u@{}/x", free_addr());
    assert!(setup(&["--leader-database", &dead]).status.success());
    let addr = free_addr();
    let r = run(&[
        "serve",
        "--listen",
        &addr,
        "--telemetry",
        out.join("leader").to_str().unwrap(),
    ]);
    assert!(!r.status.success());
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(
        e.contains("can't open the aggregator's store") && e.contains("PostgreSQL"),
        "{e}"
    );
}
