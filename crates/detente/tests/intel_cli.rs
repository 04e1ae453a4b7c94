//! The intel hub through the command line and HTTP: federation between two rival hubs whose
//! logs are cosigned by witnesses, receipts checked offline, TAXII content negotiation and
//! errors, the client's consistency check between visits, and kill -9 in the middle of
//! submissions.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const TAXII: &str = "application/taxii+json;version=2.1";
const GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
const AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
const STRICT: &str = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
const RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

/// Starts `detente serve --hub DIR` (and optional extra flags) on a free port; returns the
/// server and its API root URL.
fn serve_hub(dir: &Path, extra: &[&str]) -> (Server, String) {
    let addr = free_addr();
    let mut args = vec![
        "serve".to_string(),
        "--listen".into(),
        addr.clone(),
        "--hub".into(),
        dir.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let server = Server(
        detente()
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(&addr);
    (server, format!("http://{addr}/api/"))
}

struct HubDir {
    dir: String,
    vkey: String,
}

fn init_hub(root: &Path, name: &str, origin: &str) -> HubDir {
    let dir = root.join(name).display().to_string();
    let vkey = ok(&["intel", "init", &dir, "--origin", origin])
        .trim()
        .to_string();
    HubDir { dir, vkey }
}

fn add_member(h: &HubDir, name: &str, org: &str, key: Option<&str>) -> String {
    let mut args = vec!["intel", "member-add", &h.dir, "--name", name, "--org", org];
    if let Some(k) = key {
        args.extend(["--key", k]);
    }
    ok(&args).trim().to_string()
}

fn obj(n: u32, name: &str, marking: Option<&str>, recipients: &[&str]) -> Value {
    let mut o = json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--{n:08x}-1111-4111-8111-111111111111"),
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": name, "pattern": "[ipv4-addr:value = '203.0.113.7']",
        "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
    });
    if let Some(m) = marking {
        o["object_marking_refs"] = json!([m]);
    }
    if !recipients.is_empty() {
        o["x_detente_recipients"] = json!(recipients);
    }
    o
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn get_json(url: &str, token: &str) -> (u16, Value) {
    let r = http()
        .get(url)
        .header("Accept", TAXII)
        .bearer_auth(token)
        .send()
        .unwrap();
    let s = r.status().as_u16();
    (
        s,
        serde_json::from_slice(&r.bytes().unwrap()).unwrap_or(Value::Null),
    )
}

fn names(url: &str, token: &str, coll: &str) -> Vec<String> {
    let (s, v) = get_json(&format!("{url}collections/{coll}/objects/"), token);
    assert_eq!(s, 200, "{v}");
    let mut n: Vec<String> = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["name"].as_str().map(str::to_string))
        .collect();
    n.sort();
    n
}

#[test]
fn rival_hubs_federate_keeping_signatures_receipts_and_markings() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let a = init_hub(root, "hub-a", "hub.cert-a.example/log");
    let b = init_hub(root, "hub-b", "hub.cert-b.example/log");
    // Hub A's log is cosigned by two witnesses; its policy needs both.
    let (_w, lines) = witnesses_for(root, &["w1", "w2"], "hub.cert-a.example/log", &a.vkey);
    let policy_a = root.join("a.policy");
    std::fs::write(
        &policy_a,
        format!("{lines}group both 2 w1 w2\nquorum both\n"),
    )
    .unwrap();
    let pa = policy_a.display().to_string();

    let key = root.join("alice.key").display().to_string();
    let alice_pub = ok(&["intel", "keygen", &key]).trim().to_string();
    let alice = add_member(&a, "alice", "cert-a", Some(&alice_pub));
    let b_at_a = add_member(&a, "cert-b", "cert-b", None);
    let coll_a = ok(&["intel", "collection-add", &a.dir, "--title", "Evidence"])
        .trim()
        .to_string();
    let (_sa, url_a) = serve_hub(Path::new(&a.dir), &["--hub-witnesses", &pa]);

    let bob = add_member(&b, "bob", "cert-b", None);
    let carol = add_member(&b, "carol", "cert-c", None);
    let syncer = add_member(&b, "syncer", "cert-b", None);
    let coll_b = ok(&["intel", "collection-add", &b.dir, "--title", "From A"])
        .trim()
        .to_string();
    ok(&[
        "intel", "peer-add", &b.dir, "--name", "cert-a", "--policy", &pa,
    ]);
    let (_sb, url_b) = serve_hub(Path::new(&b.dir), &[]);

    let objects = vec![
        obj(1, "clear", Some(CLEAR), &[]),
        obj(2, "green", Some(GREEN), &[]),
        obj(3, "amber-for-b", Some(AMBER), &["org:cert-b"]),
        obj(4, "amber-own", Some(AMBER), &[]),
        obj(5, "strict", Some(STRICT), &["org:cert-b"]),
        obj(6, "red-for-b", Some(RED), &["member:cert-b"]),
    ];
    let input = root.join("evidence.json");
    std::fs::write(&input, json!({"type": "bundle", "id": "bundle--0e3b7e53-7b1c-4a54-8c7e-7d2d7a1b8c99", "objects": objects}).to_string()).unwrap();
    let receipts = root.join("receipts");
    ok(&[
        "intel",
        "push",
        "--url",
        &url_a,
        "--token",
        &alice,
        "--collection",
        &coll_a,
        "--sign-key",
        &key,
        "--receipts",
        &receipts.display().to_string(),
        &input.display().to_string(),
    ]);
    assert_eq!(std::fs::read_dir(&receipts).unwrap().count(), 6);

    // What cert-b may see on A.
    assert_eq!(
        names(&url_a, &b_at_a, &coll_a),
        ["amber-for-b", "clear", "green", "red-for-b"]
    );

    // The witnesses cosign in the background; a fresh receipt then meets quorum 2.
    let o3 = serde_json::to_string(&objects[2]).unwrap();
    let o3_file = root.join("o3.json");
    std::fs::write(&o3_file, &o3).unwrap();
    let id3 = objects[2]["id"].as_str().unwrap();
    let t0 = Instant::now();
    let receipt3 = root.join("o3.tlog-proof");
    loop {
        let (s, p) = get_json(
            &format!("{url_a}collections/{coll_a}/objects/{id3}/provenance/"),
            &alice,
        );
        assert_eq!(s, 200, "{p}");
        std::fs::write(&receipt3, p["provenance"][0]["receipt"].as_str().unwrap()).unwrap();
        let o = run(&[
            "intel",
            "verify",
            &receipt3.display().to_string(),
            "--policy",
            &pa,
            "--object",
            &o3_file.display().to_string(),
        ]);
        if o.status.success() {
            let out = String::from_utf8_lossy(&o.stdout);
            assert!(out.contains("member    alice (cert-a)"), "{out}");
            assert!(out.contains("verifies over the object"), "{out}");
            assert!(out.contains("w1") && out.contains("w2"), "{out}");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no cosigned receipt: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The receipt does not vouch for another object.
    let other = root.join("other.json");
    std::fs::write(&other, serde_json::to_string(&objects[1]).unwrap()).unwrap();
    let o = run(&[
        "intel",
        "verify",
        &receipt3.display().to_string(),
        "--policy",
        &pa,
        "--object",
        &other.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(1));

    // B syncs with the credentials A gave it: RED is not re-shared, the rest keeps its origin.
    let o = run(&[
        "intel",
        "sync",
        "--from",
        &url_a,
        "--from-token",
        &b_at_a,
        "--from-collection",
        &coll_a,
        "--into",
        &url_b,
        "--token",
        &syncer,
        "--collection",
        &coll_b,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("TLP:RED objects are not re-shared"), "{err}");
    assert!(err.contains("3 synced, 1 not synced"), "{err}");
    // B re-serves only what the original markings allow its members.
    assert_eq!(
        names(&url_b, &bob, &coll_b),
        ["amber-for-b", "clear", "green"]
    );
    assert_eq!(names(&url_b, &carol, &coll_b), ["clear", "green"]);
    // Provenance on B: A's submitter, signature and receipt.
    let (s, p) = get_json(
        &format!("{url_b}collections/{coll_b}/objects/{id3}/provenance/"),
        &bob,
    );
    assert_eq!(s, 200);
    let pv = &p["provenance"][0];
    assert_eq!(pv["member"], "alice");
    assert_eq!(pv["org"], "cert-a");
    assert!(pv["signature"].is_string());
    assert_eq!(pv["origin"]["log"], "hub.cert-a.example/log");
    let origin_receipt = root.join("origin.tlog-proof");
    std::fs::write(&origin_receipt, pv["origin"]["receipt"].as_str().unwrap()).unwrap();
    ok(&[
        "intel",
        "verify",
        &origin_receipt.display().to_string(),
        "--policy",
        &pa,
        "--object",
        &o3_file.display().to_string(),
    ]);
    // Carol may not see it: 404, the same as a missing object.
    let (s1, e1) = get_json(
        &format!("{url_b}collections/{coll_b}/objects/{id3}/"),
        &carol,
    );
    let (s2, e2) = get_json(
        &format!(
            "{url_b}collections/{coll_b}/objects/indicator--00000000-1111-4111-8111-999999999999/"
        ),
        &carol,
    );
    assert_eq!((s1, s2), (404, 404));
    assert_eq!(e1, e2);

    // A forged origin: a changed object with the real receipt is refused.
    let mut forged = objects[1].clone();
    forged["name"] = json!("green, rewritten");
    forged["modified"] = json!("2026-02-01T00:00:00.000Z");
    let canon = detente_stix::canonical(&forged).unwrap();
    let h = sha_hex(&canon);
    let env = json!({"objects": [forged], "x_detente_origins": {h: std::fs::read_to_string(&origin_receipt).unwrap()}});
    let r = http()
        .post(format!("{url_b}collections/{coll_b}/objects/"))
        .header("Accept", TAXII)
        .header("Content-Type", TAXII)
        .bearer_auth(&bob)
        .body(env.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let st: Value = serde_json::from_slice(&r.bytes().unwrap()).unwrap();
    assert_eq!(st["failure_count"], 1, "{st}");
    assert!(
        st["failures"][0]["message"]
            .as_str()
            .unwrap()
            .contains("another object"),
        "{st}"
    );
}

fn sha_hex(b: &[u8]) -> String {
    detente_hub::entry::hash_hex(&detente_hub::entry::sha256(b))
}

#[test]
fn taxii_negotiation_errors_and_paging_over_http() {
    let t = tempfile::tempdir().unwrap();
    let h = init_hub(t.path(), "hub", "hub.example/log");
    let tok = add_member(&h, "alice", "acme", None);
    let coll = ok(&["intel", "collection-add", &h.dir, "--title", "E"])
        .trim()
        .to_string();
    let (_s, url) = serve_hub(Path::new(&h.dir), &[]);
    let c = http();
    let base = url.trim_end_matches("/api/");
    let objs: Vec<Value> = (0..25)
        .map(|i| obj(i, &format!("o{i}"), None, &[]))
        .collect();
    let post = |ct: &str, body: String| {
        c.post(format!("{url}collections/{coll}/objects/"))
            .header("Content-Type", ct)
            .basic_auth("alice", Some(&tok))
            .body(body)
            .send()
            .unwrap()
    };
    let r = post(TAXII, json!({"objects": objs}).to_string());
    assert_eq!(r.status().as_u16(), 202);
    assert_eq!(r.headers()["content-type"], TAXII);
    let st: Value = serde_json::from_slice(&r.bytes().unwrap()).unwrap();
    let sid = st["id"].as_str().unwrap().to_string();
    // Status, with and without the trailing slash.
    for u in [format!("{url}status/{sid}/"), format!("{url}status/{sid}")] {
        let (s, v) = get_json(&u, &tok);
        assert_eq!((s, v["success_count"].as_u64()), (200, Some(25)));
    }
    let r = c
        .delete(format!("{url}status/{sid}/"))
        .bearer_auth(&tok)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 405, "status resources are read-only");
    assert_eq!(post("application/json", "{}".into()).status().as_u16(), 415);
    // Over max_content_length: refused from the headers, before the body is read (a raw
    // client, since the server answers without reading what it refuses).
    {
        use std::io::{Read as _, Write as _};
        let host = url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let mut sock = std::net::TcpStream::connect(&host).unwrap();
        write!(
            sock,
            "POST /api/collections/{coll}/objects/ HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {tok}\r\nContent-Type: {TAXII}\r\nContent-Length: {}\r\n\r\n",
            11 << 20
        )
        .unwrap();
        let mut head = [0u8; 12];
        sock.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"HTTP/1.1 413");
    }
    // And a chunked body that grows past it while it is read.
    let big = format!("{{\"objects\": [], \"pad\": \"{}\"}}", "x".repeat(11 << 20));
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(1 << 20)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let r = c
        .post(format!("{url}collections/{coll}/objects/"))
        .header("Content-Type", TAXII)
        .bearer_auth(&tok)
        .body(reqwest::blocking::Body::new(ChunkReader::new(chunks)))
        .send();
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 413);
    }
    // The server closes a connection whose body it refused: later requests take a new one.
    let c = http();

    // Accept lists, q= parameters.
    let accept = |a: &str| {
        c.get(format!("{base}/taxii2/"))
            .header("Accept", a)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(accept("application/taxii+json;version=2.1"), 200);
    assert_eq!(
        accept("text/html, application/taxii+json; version=2.1; q=0.9"),
        200
    );
    assert_eq!(accept("*/*"), 200);
    assert_eq!(accept("application/taxii+json;version=2.0"), 406);
    assert_eq!(accept("application/taxii+json;q=0"), 406);
    assert_eq!(accept("text/html"), 406);
    // Authentication.
    let r = c.get(format!("{url}collections/")).send().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let (s, _) = get_json(&format!("{url}collections/"), "dtk_wrong");
    assert_eq!(s, 401);
    let (s, v) = get_json(&format!("{url}collections/{coll}"), &tok);
    assert_eq!((s, v["can_read"].as_bool()), (200, Some(true)));

    // Paging: more always with next, headers, a tampered cursor refused.
    let mut seen = 0;
    let mut next: Option<String> = None;
    let mut last_added = String::new();
    loop {
        let mut u = format!("{url}collections/{coll}/objects/?limit=10");
        if let Some(n) = &next {
            u.push_str(&format!("&next={n}"));
        }
        let r = c.get(&u).bearer_auth(&tok).send().unwrap();
        let first = r.headers()["x-taxii-date-added-first"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(first > last_added, "date_added increases across pages");
        last_added = r.headers()["x-taxii-date-added-last"]
            .to_str()
            .unwrap()
            .to_string();
        let v: Value = serde_json::from_slice(&r.bytes().unwrap()).unwrap();
        seen += v["objects"].as_array().unwrap().len();
        if v["more"] == json!(true) {
            next = Some(
                v["next"]
                    .as_str()
                    .expect("more comes with next")
                    .to_string(),
            );
        } else {
            assert!(v.get("next").is_none());
            break;
        }
    }
    assert_eq!(seen, 25);
    let (s, e) = get_json(
        &format!("{url}collections/{coll}/objects/?limit=10&next=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        &tok,
    );
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["http_status"], "400");
    // Manifest and versions.
    let (s, m) = get_json(&format!("{url}collections/{coll}/manifest/?limit=3"), &tok);
    assert_eq!(s, 200);
    assert_eq!(
        m["objects"][0]["media_type"],
        "application/stix+json;version=2.1"
    );
    let id = objs[0]["id"].as_str().unwrap();
    let (s, v) = get_json(
        &format!("{url}collections/{coll}/objects/{id}/versions"),
        &tok,
    );
    assert_eq!((s, v["versions"].as_array().map(Vec::len)), (200, Some(1)));
    // DELETE, then the object is gone.
    let r = c
        .delete(format!("{url}collections/{coll}/objects/{id}/"))
        .bearer_auth(&tok)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (s, _) = get_json(&format!("{url}collections/{coll}/objects/{id}/"), &tok);
    assert_eq!(s, 404);
}

#[test]
fn client_refuses_a_hub_log_that_forked_since_its_last_visit() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let h = init_hub(root, "hub", "hub.example/log");
    let tok = add_member(&h, "alice", "acme", None);
    let coll = ok(&["intel", "collection-add", &h.dir, "--title", "E"])
        .trim()
        .to_string();
    let push = |url: &str, objs: &[Value], state: &Path| {
        let f = root.join(format!("in-{}.json", objs[0]["name"].as_str().unwrap()));
        std::fs::write(&f, json!({"objects": objs}).to_string()).unwrap();
        run(&[
            "intel",
            "push",
            "--url",
            url,
            "--token",
            &tok,
            "--collection",
            &coll,
            "--hub-key",
            &h.vkey,
            "--state",
            &state.display().to_string(),
            &f.display().to_string(),
        ])
    };
    let state = root.join("state");
    let fork_dir = root.join("fork");
    {
        let (_s, url) = serve_hub(Path::new(&h.dir), &[]);
        let o = push(
            &url,
            &[obj(1, "a", None, &[]), obj(2, "b", None, &[])],
            &state,
        );
        assert!(o.status.success());
        // The operator copies the hub (same key) to show someone else another history.
        copy_dir(Path::new(&h.dir), &fork_dir);
        let o = push(&url, &[obj(3, "c", None, &[])], &state);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let o = push(&url, &[obj(4, "d", None, &[])], &state);
        assert!(String::from_utf8_lossy(&o.stderr).contains("consistent with the last visit"));
    }
    // The fork grows differently; the client that saw the real history refuses it.
    let (_s, url) = serve_hub(&fork_dir, &[]);
    let other = root.join("other-state");
    let o = push(
        &url,
        &[
            obj(5, "x", None, &[]),
            obj(6, "y", None, &[]),
            obj(7, "z", None, &[]),
        ],
        &other,
    );
    assert!(o.status.success());
    let o = push(&url, &[obj(8, "w", None, &[])], &state);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("NOT consistent"), "{err}");
    let evidence = std::fs::read_dir(&state)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("conflict")
        })
        .count();
    assert_eq!(evidence, 1);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        let q = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&p, &q);
        } else {
            std::fs::copy(&p, &q).unwrap();
        }
    }
}

/// kill -9 while members post: every object acknowledged (its status resource received)
/// is there after a restart, and the log still verifies. SQLite.
#[test]
fn nothing_acknowledged_is_lost_when_the_hub_is_killed() {
    killed_hub_keeps_what_it_acknowledged(None);
}

/// The same on PostgreSQL.
#[test]
fn nothing_acknowledged_is_lost_when_a_postgres_hub_is_killed() {
    killed_hub_keeps_what_it_acknowledged(Some(common::fresh_pg_url()));
}

fn killed_hub_keeps_what_it_acknowledged(database: Option<String>) {
    let t = tempfile::tempdir().unwrap();
    let h = match &database {
        None => init_hub(t.path(), "hub", "hub.example/log"),
        Some(url) => {
            let dir = t.path().join("hub").display().to_string();
            let vkey = ok(&[
                "intel",
                "init",
                &dir,
                "--origin",
                "hub.example/log",
                "--database",
                url,
            ])
            .trim()
            .to_string();
            HubDir { dir, vkey }
        }
    };
    let tok = add_member(&h, "alice", "acme", None);
    let coll = ok(&["intel", "collection-add", &h.dir, "--title", "E"])
        .trim()
        .to_string();
    let addr = free_addr();
    let mut server = Server(
        detente()
            .args(["serve", "--listen", &addr, "--hub", &h.dir])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(&addr);
    let url = format!("http://{addr}/api/");
    // Four members' clients post continuously; the hub is killed while they do.
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut posters = Vec::new();
    for w in 0..4u32 {
        let (acked, stop, url, tok, coll) = (
            acked.clone(),
            stop.clone(),
            url.clone(),
            tok.clone(),
            coll.clone(),
        );
        posters.push(std::thread::spawn(move || {
            let c = http();
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let objs: Vec<Value> = (0..10)
                    .map(|i| obj(w * 10_000_000 + n * 100 + i, "k", None, &[]))
                    .collect();
                n += 1;
                let r = c
                    .post(format!("{url}collections/{coll}/objects/"))
                    .header("Content-Type", TAXII)
                    .bearer_auth(&tok)
                    .body(json!({"objects": objs}).to_string())
                    .send();
                match r {
                    Ok(r) if r.status().as_u16() == 202 => {
                        let st: Value = serde_json::from_slice(&r.bytes().unwrap_or_default())
                            .unwrap_or(Value::Null);
                        if st["success_count"] == json!(10) {
                            acked
                                .lock()
                                .unwrap()
                                .extend(objs.iter().map(|o| o["id"].as_str().unwrap().to_string()));
                        }
                    }
                    _ => break,
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let pid = server.0.id().to_string();
    std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    let _ = server.0.wait();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for p in posters {
        p.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 40,
        "the posters made progress before the kill"
    );
    // Restart on the same directory.
    let (_s, url) = serve_hub(Path::new(&h.dir), &[]);
    let pulled = t.path().join("pulled.json");
    ok(&[
        "intel",
        "pull",
        "--url",
        &url,
        "--token",
        &tok,
        "--collection",
        &coll,
        "--out",
        &pulled.display().to_string(),
    ]);
    let b: Value = serde_json::from_slice(&std::fs::read(&pulled).unwrap()).unwrap();
    let have: std::collections::HashSet<&str> = b["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    for id in &acked {
        assert!(have.contains(id.as_str()), "acknowledged {id} was lost");
    }
    ok(&["log", "verify", &format!("{}/log", h.dir), "--key", &h.vkey]);
    // And the hub takes new submissions after the crash.
    let o = obj(123_456, "after", None, &[]);
    let f = t.path().join("after.json");
    std::fs::write(&f, o.to_string()).unwrap();
    ok(&[
        "intel",
        "push",
        "--url",
        &url,
        "--token",
        &tok,
        "--collection",
        &coll,
        &f.display().to_string(),
    ]);
}

/// A body of unknown length (sent chunked).
struct ChunkReader {
    chunks: std::collections::VecDeque<Vec<u8>>,
    cur: std::io::Cursor<Vec<u8>>,
}

impl ChunkReader {
    fn new(chunks: Vec<Result<Vec<u8>, std::io::Error>>) -> ChunkReader {
        ChunkReader {
            chunks: chunks.into_iter().filter_map(Result::ok).collect(),
            cur: std::io::Cursor::new(Vec::new()),
        }
    }
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.cur.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            match self.chunks.pop_front() {
                Some(c) => self.cur = std::io::Cursor::new(c),
                None => return Ok(0),
            }
        }
    }
}
