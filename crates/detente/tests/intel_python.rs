//! The intel hub (`detente serve --hub`) driven by real TAXII 2.1 and STIX 2.1 clients:
//! taxii2-client 2.3.0, stix2 3.0.2 and stix2-validator 3.3.1, from the virtualenv that
//! `scripts/test` makes (`DETENTE_PYTHON` names its interpreter). The Python side is
//! `intel-python/interop.py`; each test here makes a hub with the members and collections
//! its scenario needs, runs the scenario against it and checks the summary it prints.
//!
//! - `taxii2_client_every_endpoint`: discovery, API root, collections, collection, add
//!   objects and status, objects paged with `as_pages` and every filter (`added_after`,
//!   `match[type]`, `match[id]`, `match[version]`, `match[spec_version]`), object,
//!   manifest, versions and delete, then the HTTP errors a client sees.
//! - `stix2_objects_round_trip`: objects made with the stix2 library, pushed and read back
//!   through stix2's TAXII data store, TLP audiences member by member.
//! - `attack_ics_round_trip`: all of MITRE ATT&CK for ICS and the OASIS examples (from
//!   `../shared/testdata/stix`; left out with a message when it is not there) pushed and
//!   pulled back unchanged, also with `detente intel pull`.
//!
//! Everything the hub returns is validated by stix2-validator.

mod common;

use std::io::{BufRead, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{detente, ok, Server};
use serde_json::{json, Value};

/// The virtualenv's interpreter; the suite fails without it, like every oracle test.
fn python() -> String {
    match std::env::var("DETENTE_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ => panic!(
            "DETENTE_PYTHON is not set: these tests drive the hub with taxii2-client, stix2 and \
             stix2-validator from the virtualenv that `scripts/test` makes (target/pyenv); run \
             them through scripts/test, or set DETENTE_PYTHON=target/pyenv/bin/python after \
             scripts/test has made it"
        ),
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/intel-python/interop.py")
}

fn stix_dir() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/stix");
    if d.join("ics-attack-18.1.json").is_file() {
        Some(d)
    } else {
        eprintln!(
            "{} is not there (../shared beside the checkout): the ATT&CK for ICS round trip is left out",
            d.display()
        );
        None
    }
}

/// A member of the test hub: name, organisation, groups, whether it has a signing key.
const MEMBERS: [(&str, &str, &[&str], bool); 4] = [
    ("alice", "acme", &["eu"], true),
    ("alan", "acme", &[], false),
    ("bob", "beta", &["eu"], false),
    ("carol", "gamma", &[], false),
];

/// A collection: key in the config, title, default TLP, readers, writers.
struct Coll {
    key: &'static str,
    title: &'static str,
    tlp: &'static str,
    read: &'static [&'static str],
    write: &'static [&'static str],
}

const EVIDENCE: Coll = Coll {
    key: "evidence",
    title: "Evidence",
    tlp: "green",
    read: &["*"],
    write: &["*"],
};
const PUBLIC: Coll = Coll {
    key: "public",
    title: "Public",
    tlp: "clear",
    read: &["anyone"],
    write: &["org:acme"],
};
const ACME: Coll = Coll {
    key: "acme",
    title: "ACME only",
    tlp: "green",
    read: &["org:acme"],
    write: &["org:acme"],
};
const ICS: Coll = Coll {
    key: "ics",
    title: "ATT&CK for ICS",
    tlp: "green",
    read: &["*"],
    write: &["*"],
};
const EXAMPLES: Coll = Coll {
    key: "examples",
    title: "OASIS examples",
    tlp: "green",
    read: &["*"],
    write: &["*"],
};

/// A hub being served, with the config the Python side reads.
struct Hub {
    _dir: tempfile::TempDir,
    _server: Server,
    url: String,
    config: Value,
    config_path: PathBuf,
}

impl Hub {
    fn token(&self, who: &str) -> String {
        self.config["members"][who].as_str().unwrap().to_string()
    }
    fn collection(&self, key: &str) -> String {
        self.config["collections"][key]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// Makes a hub with every member of [`MEMBERS`] and the collections given, and serves it
/// on a free 127.0.0.1 port.
fn hub(colls: &[&Coll]) -> Hub {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("hub").display().to_string();
    ok(&["intel", "init", &h, "--origin", "hub.a.example/log"]);
    let mut members = serde_json::Map::new();
    for (name, org, groups, signs) in MEMBERS {
        let mut args = vec![
            "intel".to_string(),
            "member-add".into(),
            h.clone(),
            "--name".into(),
            name.into(),
            "--org".into(),
            org.into(),
        ];
        for g in groups {
            args.extend(["--group".into(), g.to_string()]);
        }
        if signs {
            let key = dir.path().join(format!("{name}.key")).display().to_string();
            let public = ok(&["intel", "keygen", &key]);
            args.extend(["--key".into(), public.trim().to_string()]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        members.insert(name.into(), json!(ok(&refs).trim()));
    }
    let mut collections = serde_json::Map::new();
    for c in colls {
        let mut args = vec![
            "intel",
            "collection-add",
            &h,
            "--title",
            c.title,
            "--default-tlp",
            c.tlp,
        ];
        for r in c.read {
            args.extend(["--read", r]);
        }
        for w in c.write {
            args.extend(["--write", w]);
        }
        collections.insert(c.key.into(), json!(ok(&args).trim()));
    }
    let mut child = detente()
        .args(["serve", "--listen", "127.0.0.1:0", "--hub", &h])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let url = format!("http://{addr}/");
    let config = json!({
        "url": url,
        "members": members,
        "collections": collections,
        "stix_dir": stix_dir().map(|d| d.display().to_string()),
    });
    let config_path = dir.path().join("config.json");
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    Hub {
        _dir: dir,
        _server: server,
        url,
        config,
        config_path,
    }
}

/// Runs `interop.py SCENARIO` against `hub` (at most 5 minutes); returns its summary, the
/// JSON object on the last line of its output.
fn scenario(hub: &Hub, name: &str) -> Value {
    let t = Instant::now();
    let mut child = Command::new(python())
        .arg(script())
        .arg(name)
        .arg(&hub.config_path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("can't run DETENTE_PYTHON={}: {e}", python()));
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            r.read_to_string(&mut s).unwrap();
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "scenario {name} ran over 5 minutes:\n{}",
                out.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    eprintln!("{stdout}");
    assert!(
        status.success(),
        "scenario {name} failed ({status}):\n{stdout}\n{stderr}"
    );
    let last = stdout.lines().last().unwrap_or_default();
    eprintln!("scenario {name}: {:.1} s", t.elapsed().as_secs_f64());
    serde_json::from_str(last).unwrap_or_else(|e| panic!("summary {last:?}: {e}"))
}

#[test]
fn taxii2_client_every_endpoint() {
    let hub = hub(&[&EVIDENCE, &PUBLIC, &ACME]);
    let s = scenario(&hub, "endpoints");
    // 250 indicators, 5 malware, 1 identity; 4 more versions; indicator 0 deleted (3 versions).
    assert_eq!(s["objects"], 255, "{s}");
    assert_eq!(s["versions_all"], 257, "{s}");
    assert_eq!(s["pages"], json!([100, 100, 56]), "{s}");
    assert_eq!(s["validated"], 257, "{s}");

    // What the Python client pushed, `detente intel pull` pulls too.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle.json");
    ok(&[
        "intel",
        "pull",
        "--url",
        &format!("{}api/", hub.url),
        "--token",
        &hub.token("bob"),
        "--collection",
        &hub.collection("evidence"),
        "--out",
        out.to_str().unwrap(),
    ]);
    let bundle: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(bundle["type"], "bundle");
    assert_eq!(bundle["objects"].as_array().unwrap().len(), 255);
}

#[test]
fn stix2_objects_round_trip() {
    let hub = hub(&[&EVIDENCE]);
    let s = scenario(&hub, "stix2");
    // 3 TLP markings, 17 shared objects (one indicator in two versions), 4 restricted.
    assert_eq!(s["objects"], 24, "{s}");
    assert_eq!(s["validated"], 24, "{s}");
}

#[test]
fn attack_ics_round_trip() {
    python();
    let Some(dir) = stix_dir() else { return };
    let hub = hub(&[&ICS, &EXAMPLES]);
    let s = scenario(&hub, "corpus");
    assert_eq!(s["ics"], 1826, "{s}");
    assert_eq!(s["ics_validated"], 1826, "{s}");
    assert!(s["examples"].as_u64().unwrap() > 50, "{s}");
    assert_eq!(s["examples"], s["examples_validated"], "{s}");

    // `detente intel pull` gives back the same objects as well.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ics.json");
    ok(&[
        "intel",
        "pull",
        "--url",
        &format!("{}api/", hub.url),
        "--token",
        &hub.token("carol"),
        "--collection",
        &hub.collection("ics"),
        "--out",
        out.to_str().unwrap(),
    ]);
    let pulled: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let orig: Value =
        serde_json::from_slice(&std::fs::read(dir.join("ics-attack-18.1.json")).unwrap()).unwrap();
    let by_id = |v: &Value| {
        let mut m: Vec<(String, Value)> = v["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o["id"].as_str().unwrap().to_string(), o.clone()))
            .collect();
        m.sort_by(|a, b| a.0.cmp(&b.0));
        m
    };
    let (a, b) = (by_id(&orig), by_id(&pulled));
    assert_eq!(a.len(), 1826);
    assert_eq!(a.len(), b.len());
    for ((ia, oa), (ib, ob)) in a.iter().zip(&b) {
        assert_eq!(ia, ib);
        assert_eq!(oa, ob, "{ia} changed on the way");
    }
}
