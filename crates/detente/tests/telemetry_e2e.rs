//! Private telemetry end to end on loopback, each role a separate `detente` process: a Leader
//! and a Helper (`detente serve --telemetry`), 1,000 simulated endpoints (`detente telemetry
//! send`, each with its own outbox) and the Collector (`detente telemetry collect`). The
//! collected vector equals the sum of what the endpoints measured (noise off); a dry run
//! sends and records nothing; a batch is collected once; each outbox verifies.

mod common;

use std::net::TcpListener;
use std::process::Stdio;

use common::*;

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
        // This network's Leader keeps its state in PostgreSQL (the other run: SQLite).
        args.extend([
            "--epsilon".to_string(),
            e.to_string(),
            "--leader-database".into(),
            common::fresh_pg_url(),
        ]);
    }
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let serve = |addr: &str, dir: &str| serve_role(addr, &out.join(dir));
    let _leader = serve(&la, "leader");
    let _helper = serve(&ha, "helper");
    let task = out.join("task.json").display().to_string();
    let p = policy.display().to_string();
    // Every endpoint is enrolled with the Leader's token issuer and gets a credential.
    let creds: Vec<String> = ok(&[
        "telemetry",
        "enroll",
        &out.join("leader").display().to_string(),
        "--name",
        "ep",
        "--count",
        &endpoints.to_string(),
    ])
    .lines()
    .map(|l| l.split_once('\t').unwrap().1.to_string())
    .collect();
    assert_eq!(creds.len(), endpoints);

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
    for (e, cred) in creds.iter().enumerate() {
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
                    "--credential",
                    cred,
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
    // The Leader kept its state where its configuration says; the Helper in its directory.
    assert_eq!(
        out.join("leader").join("aggregator.sqlite").exists(),
        epsilon.is_none()
    );
    assert!(out.join("helper").join("aggregator.sqlite").exists());
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

/// What went on the wire is what the outbox recorded: the endpoint talks to the Leader
/// through a recording TCP relay, and the body of its upload is byte for byte the outbox
/// record's `sent`, decoded and checked field by field against the DAP-18 report layout.
#[test]
fn the_outbox_holds_exactly_the_bytes_that_went_on_the_wire() {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let policy = root.join("policy.json");
    std::fs::write(&policy, r#"{"version":1,"task":"f","families":["A.B","C.D","E.F","G.H"],"max_weight":2,"rules":{"families-detected":true}}"#).unwrap();
    // The relay listens where the task says the Leader is; the Leader listens behind it.
    let relay = TcpListener::bind("127.0.0.1:0").unwrap();
    let relay_addr = relay.local_addr().unwrap().to_string();
    let (la, ha) = (free_addr(), free_addr());
    let out = root.join("task");
    ok(&[
        "telemetry",
        "setup",
        &out.display().to_string(),
        "--leader",
        &format!("http://{relay_addr}/"),
        "--helper",
        &format!("http://{ha}/"),
        "--policy",
        &policy.display().to_string(),
        "--min-batch",
        "1",
    ]);
    let captured = Arc::new(Mutex::new(Vec::<u8>::new()));
    {
        let (captured, la) = (captured.clone(), la.clone());
        std::thread::spawn(move || {
            for conn in relay.incoming() {
                let Ok(mut client) = conn else { return };
                let Ok(mut server) = std::net::TcpStream::connect(&la) else {
                    return;
                };
                let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let cap = captured.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 65536];
                    while let Ok(n) = client.read(&mut buf) {
                        if n == 0 || server.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        cap.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s2, &mut c2);
                });
            }
        });
    }
    let serve = |addr: &str, dir: &str| serve_role(addr, &out.join(dir));
    let _leader = serve(&la, "leader");
    let _helper = serve(&ha, "helper");
    let obs = root.join("obs.json");
    std::fs::write(&obs, r#"{"detections":["C.D-1","G.H-7"],"scanned":9}"#).unwrap();
    let dir = root.join("ep");
    let cred = ok(&[
        "telemetry",
        "enroll",
        &out.join("leader").display().to_string(),
        "--name",
        "one",
    ])
    .split_once('\t')
    .unwrap()
    .1
    .trim()
    .to_string();
    ok(&[
        "telemetry",
        "send",
        "--task",
        &out.join("task.json").display().to_string(),
        "--policy",
        &policy.display().to_string(),
        "--observed",
        &obs.display().to_string(),
        "--dir",
        &dir.display().to_string(),
        "--day",
        "20000",
        "--credential",
        &cred,
    ]);
    // The upload's body, as the relay saw it.
    let wire = captured.lock().unwrap().clone();
    let text = String::from_utf8_lossy(&wire).to_string();
    let start = text
        .match_indices("POST /tasks/")
        .map(|(i, _)| i)
        .find(|i| {
            text[*i..]
                .split("\r\n")
                .next()
                .unwrap_or("")
                .contains("/reports ")
        })
        .expect("an upload went through the relay");
    let head_end = start + text[start..].find("\r\n\r\n").unwrap() + 4;
    let head = text[start..head_end].to_ascii_lowercase();
    assert!(
        head.contains("content-type: application/ppm-dap;message=upload-req"),
        "{head}"
    );
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let body = &wire[head_end..head_end + len];
    // The outbox's record of it.
    let outbox = std::fs::read_to_string(dir.join("outbox.jsonl")).unwrap();
    let rec: serde_json::Value = serde_json::from_str(outbox.lines().next().unwrap()).unwrap();
    use base64::Engine as _;
    let sent = base64::engine::general_purpose::STANDARD
        .decode(rec["sent"].as_str().unwrap())
        .unwrap();
    assert_eq!(body, &sent[..], "the outbox holds exactly the bytes sent");
    // The headers: only HTTP's own and the upload token, which the outbox recorded too.
    let token = rec["token"].as_str().expect("the outbox records the token");
    let mut names: Vec<&str> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "accept",
            "content-length",
            "content-type",
            "host",
            "x-detente-token"
        ],
        "{head}"
    );
    assert!(
        head.contains(&format!("x-detente-token: {}", token.to_ascii_lowercase())),
        "{head}"
    );
    // Sent again, straight to the Leader, the same upload and token are refused: the token
    // was spent with the report it counted.
    let again = reqwest::blocking::Client::new()
        .post(format!(
            "http://{la}{}",
            text[start..].split(' ').nth(1).unwrap()
        ))
        .header("content-type", "application/ppm-dap;message=upload-req")
        .header("x-detente-token", token)
        .body(sent.clone())
        .send()
        .unwrap();
    assert_eq!(again.status().as_u16(), 403);
    // And those bytes are a DAP-18 upload of one report: report_id, time, no public
    // extensions, public share, then two HPKE ciphertexts, nothing after.
    let mut p = 16;
    assert_eq!(
        u64::from_be_bytes(body[p..p + 8].try_into().unwrap()),
        20000,
        "time"
    );
    p += 8;
    assert_eq!(&body[p..p + 2], &[0, 0], "public_extensions");
    p += 2;
    let ps = u32::from_be_bytes(body[p..p + 4].try_into().unwrap()) as usize;
    p += 4 + ps;
    for cid in [1u8, 2] {
        assert_eq!(body[p], cid, "config_id");
        let enc = u16::from_be_bytes([body[p + 1], body[p + 2]]) as usize;
        assert_eq!(enc, 32);
        p += 3 + enc;
        let pl = u32::from_be_bytes(body[p..p + 4].try_into().unwrap()) as usize;
        p += 4 + pl;
    }
    assert_eq!(p, body.len());
    assert_eq!(rec["families_set"], serde_json::json!([1, 3]));
    ok(&["telemetry", "verify", &dir.display().to_string()]);
}

/// The Sybil defence: without a credential there is no token and no upload; an enrolled
/// endpoint gets at most its daily quota of tokens, so at most that many reports a day.
#[test]
fn uploads_need_a_token_and_tokens_are_rate_limited() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let policy = root.join("policy.json");
    std::fs::write(&policy, r#"{"version":1,"task":"f","families":["A.B","C.D"],"max_weight":1,"rules":{"families-detected":true}}"#).unwrap();
    let (la, ha) = (free_addr(), free_addr());
    let out = root.join("task");
    ok(&[
        "telemetry",
        "setup",
        &out.display().to_string(),
        "--leader",
        &format!("http://{la}/"),
        "--helper",
        &format!("http://{ha}/"),
        "--policy",
        &policy.display().to_string(),
        "--min-batch",
        "1",
        "--tokens-per-day",
        "2",
    ]);
    let serve = |addr: &str, dir: &str| serve_role(addr, &out.join(dir));
    let _leader = serve(&la, "leader");
    let _helper = serve(&ha, "helper");
    let obs = root.join("obs.json");
    std::fs::write(&obs, r#"{"detections":["A.B-1"],"scanned":1}"#).unwrap();
    let task = out.join("task.json").display().to_string();
    let send = |cred: Option<&str>, n: usize| {
        let dir = root.join(format!("ep-{n}")).display().to_string();
        let mut a = vec![
            "telemetry",
            "send",
            "--task",
            &task,
            "--policy",
            policy.to_str().unwrap(),
            "--observed",
            obs.to_str().unwrap(),
            "--dir",
            &dir,
            "--day",
            "20000",
        ];
        if let Some(c) = cred {
            a.extend(["--credential", c]);
        }
        run(&a)
    };
    let o = send(None, 0);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--credential"));
    let o = send(Some("dte_not-enrolled"), 1);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("403"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let cred = ok(&[
        "telemetry",
        "enroll",
        &out.join("leader").display().to_string(),
        "--name",
        "e",
    ])
    .split_once('\t')
    .unwrap()
    .1
    .trim()
    .to_string();
    assert!(send(Some(&cred), 2).status.success());
    assert!(send(Some(&cred), 3).status.success());
    let o = send(Some(&cred), 4);
    assert!(
        !o.status.success(),
        "a third report the same day is over the quota"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("429"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Tokens fetched ahead: the next day's two, kept in the endpoint's directory (0600) and
    // used by sends that give no credential; a third is over the quota, and with none left a
    // send without a credential is refused before anything is recorded.
    let ep = root.join("ep-ahead");
    let tokens = |count: &str| {
        run(&[
            "telemetry",
            "tokens",
            "--task",
            &task,
            "--dir",
            ep.to_str().unwrap(),
            "--credential",
            &cred,
            "--day",
            "20001",
            "--count",
            count,
        ])
    };
    // A malformed request (a "blinded message" of the wrong size) is refused and costs the
    // endpoint nothing of its quota.
    {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("task.json")).unwrap()).unwrap();
        let hexid = v["task_id"].as_str().unwrap();
        let id: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hexid[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        use base64::Engine as _;
        let tid = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id);
        let r = reqwest::blocking::Client::new()
            .post(format!("http://{la}/tasks/{tid}/tokens"))
            .bearer_auth(&cred)
            .body(r#"{"day": 20001, "blinded": ["AAAA"]}"#)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
    }
    assert!(tokens("2").status.success());
    assert!(String::from_utf8_lossy(&tokens("1").stderr).contains("429"));
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(ep.join("tokens"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let send_ahead = || {
        run(&[
            "telemetry",
            "send",
            "--task",
            &task,
            "--policy",
            policy.to_str().unwrap(),
            "--observed",
            obs.to_str().unwrap(),
            "--dir",
            ep.to_str().unwrap(),
            "--day",
            "20001",
        ])
    };
    for _ in 0..2 {
        let o = send_ahead();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(std::fs::read_to_string(ep.join("tokens")).unwrap(), "");
    let o = send_ahead();
    assert!(String::from_utf8_lossy(&o.stderr).contains("--credential"));
    let outbox = std::fs::read_to_string(ep.join("outbox.jsonl")).unwrap();
    assert_eq!(outbox.lines().count(), 2);
    // An upload with no token, straight to the Leader's real task: refused as unauthorized
    // (an unknown task would be a 404, so this is the token check answering).
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("task.json")).unwrap()).unwrap();
    let hexid = v["task_id"].as_str().unwrap();
    let id: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&hexid[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    use base64::Engine as _;
    let tid = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id);
    let r = reqwest::blocking::Client::new()
        .post(format!("http://{la}/tasks/{tid}/reports"))
        .body(Vec::new())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = reqwest::blocking::Client::new()
        .post(format!("http://{la}/tasks/{tid}/reports"))
        .header("x-detente-token", "AAAA")
        .body(Vec::new())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "a malformed token is no token");
}

/// Starts `detente serve --telemetry DIR` on `addr` and waits until it listens.
fn serve_role(addr: &str, dir: &std::path::Path) -> Server {
    let s = Server(
        detente()
            .args([
                "serve",
                "--listen",
                addr,
                "--telemetry",
                &dir.display().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(addr);
    s
}
