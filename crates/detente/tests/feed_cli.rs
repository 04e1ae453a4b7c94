//! The transparent feed end to end on loopback, every role a separate `detente` process: a
//! publisher, three witnesses and two clients. From an empty feed to a verified install and a scan
//! that finds the new signature's sample; a daily increment that downloads a patch, not the
//! database; and a mirror serving a forged manifest, refused with the installed database and
//! the state left byte-identical.

mod common;

use common::*;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn publish_witness_update_scan_increment_and_refuse_a_forged_mirror() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |s: &str| tmp.path().join(s).display().to_string();
    let feed = p("feed");
    let vkey = ok(&["feed", "init", &feed, "--origin", "example.org/feed"])
        .trim()
        .to_string();

    // Two witnesses in separate processes, following the feed's log.
    let (_witnesses, mut policy) =
        witnesses_for(tmp.path(), &["w1", "w2", "w3"], "example.org/feed", &vkey);
    policy += "group two-of-three 2 w1 w2 w3\nquorum two-of-three\n";
    std::fs::write(p("witnesses"), &policy).unwrap();

    // Release 1: a database with the sample's signature.
    let db = tmp.path().join("main.ndb");
    let mut text = String::new();
    for i in 0..2000 {
        text += &format!(
            "Filler.Sig.{i}:0:*:{:08x}{:08x}deadbeef\n",
            i * 7919,
            i * 104_729
        );
    }
    text += "Test.Feed.One:0:*:6665656420736967206f6e65\n"; // "feed sig one"
    std::fs::write(&db, &text).unwrap();
    let out = ok(&[
        "feed",
        "publish",
        &feed,
        &db.display().to_string(),
        "--policy",
        &p("witnesses"),
    ]);
    assert!(out.contains("version 1 published"), "{out}");

    // The client trusts the feed's key and both witnesses; it reads a mirror directory.
    let public = format!("{feed}/log");
    let trust = ok(&[
        "feed",
        "trust",
        &feed,
        "--url",
        &public,
        "--policy",
        &p("witnesses"),
    ]);
    std::fs::write(p("trust"), &trust).unwrap();
    let client = p("client");
    let out = ok(&["update", "--trust", &p("trust"), "--dir", &client]);
    assert!(out.contains("fresh install"), "{out}");
    assert!(out.contains("cosigned by w1, w2, w3"), "{out}");
    std::fs::write(p("sample.bin"), b"xx feed sig one xx").unwrap();
    let scan = detente()
        .args(["scan", "--no-summary", &p("sample.bin")])
        .env("DETENTE_DATABASE", format!("{client}/db"))
        .output()
        .unwrap();
    assert_eq!(scan.status.code(), Some(1), "{scan:?}");
    assert!(String::from_utf8_lossy(&scan.stdout).contains("Test.Feed.One FOUND"));
    // Up to date: nothing to do (and the same as JSON, for machines).
    assert!(ok(&["update", "--trust", &p("trust"), "--dir", &client]).contains("up to date"));
    let json = ok(&["update", "--trust", &p("trust"), "--dir", &client, "--json"]);
    assert!(
        json.contains("\"status\":\"up-to-date\"") && json.contains("\"version\":1"),
        "{json}"
    );

    // Release 2: one signature more. The client downloads a patch, not the database.
    text += "Test.Feed.Two:0:*:6665656420736967207477 6f\n"
        .replace(' ', "")
        .as_str();
    std::fs::write(&db, &text).unwrap();
    ok(&[
        "feed",
        "publish",
        &feed,
        &db.display().to_string(),
        "--policy",
        &p("witnesses"),
    ]);
    let out = ok(&["update", "--trust", &p("trust"), "--dir", &client]);
    assert!(out.contains("version 1 -> 2"), "{out}");
    let downloaded: u64 = out
        .split(" byte(s) downloaded")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        downloaded < text.len() as u64 / 10,
        "{downloaded} bytes for a {} byte database",
        text.len()
    );
    assert_eq!(
        std::fs::read(format!("{client}/db/main.ndb")).unwrap(),
        text.as_bytes(),
        "the patched database equals the published one"
    );
    // What was installed can be shown to anyone, offline: its tlog-proof verifies under the
    // trust file, for the manifest kept beside it.
    let shown = ok(&[
        "log",
        "verify-proof",
        &format!("{client}/db/release.tlog-proof"),
        "--policy",
        &p("trust"),
        "--entry",
        &format!("{client}/db/release.manifest"),
    ]);
    assert!(
        shown.starts_with("OK: entry 1 of example.org/feed"),
        "{shown}"
    );
    // A second client, new: the full release, byte-identical to the first client's patched one.
    let second = p("client2");
    let out = ok(&["update", "--trust", &p("trust"), "--dir", &second]);
    assert!(out.contains("version 2 (fresh install)"), "{out}");
    assert_eq!(
        std::fs::read(format!("{second}/db/main.ndb")).unwrap(),
        std::fs::read(format!("{client}/db/main.ndb")).unwrap()
    );

    // Release 3, and an attacker's mirror of the feed that serves it with its patch altered.
    text += "Test.Feed.Three:0:*:666565642073696720746872656565\n";
    std::fs::write(&db, &text).unwrap();
    ok(&[
        "feed",
        "publish",
        &feed,
        &db.display().to_string(),
        "--policy",
        &p("witnesses"),
    ]);
    let mirror = p("mirror");
    assert!(Command::new("cp")
        .args(["-r", &public, &mirror])
        .status()
        .unwrap()
        .success());
    let manifest = std::fs::read_to_string(format!("{mirror}/latest")).unwrap();
    let patch = manifest
        .lines()
        .find_map(|l| l.strip_prefix("patch main.ndb "))
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or_else(|| panic!("no patch in {manifest}"))
        .to_string();
    let obj = format!("{mirror}/objects/{patch}");
    let mut bytes = std::fs::read(&obj).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 0x20;
    std::fs::write(&obj, bytes).unwrap();
    let evil = trust.replace(&public, &mirror);
    std::fs::write(p("evil-trust"), evil).unwrap();
    let before = snapshot(Path::new(&client));
    let o = run(&["update", "--trust", &p("evil-trust"), "--dir", &client]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("refused") && err.contains("SHA-256"), "{err}");
    assert_eq!(
        snapshot(Path::new(&client)),
        before,
        "state and database unchanged"
    );
    // The genuine feed still moves the client forward.
    let out = ok(&["update", "--trust", &p("trust"), "--dir", &client]);
    assert!(out.contains("version 2 -> 3"), "{out}");

    // Anyone can audit the feed: the whole log replays, every release and object checks out.
    let out = ok(&["audit", &public, "--trust", &p("trust")]);
    assert!(out.contains("3 release(s), 0 problem(s)"), "{out}");
    assert!(out.contains("release 2 (log entry 1)"), "{out}");
    let json = ok(&["audit", &public, "--trust", &p("trust"), "--json"]);
    assert_eq!(json.lines().count(), 3, "{json}");
    let diff = ok(&["audit", "diff", &public, "1", "3", "--trust", &p("trust")]);
    assert_eq!(
        diff.lines().collect::<Vec<_>>(),
        [
            "main.ndb: added Test.Feed.Three:0:*:666565642073696720746872656565",
            "main.ndb: added Test.Feed.Two:0:*:66656564207369672074776f",
        ],
        "{diff}"
    );
    // The forged mirror's altered object is caught.
    let o = run(&["audit", &mirror, "--trust", &p("trust")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("altered"));
    // A checkpoint the client was shown is consistent; one from a fork is evidence.
    let seen = p("seen.checkpoint");
    std::fs::copy(format!("{client}/state"), p("state.copy")).unwrap();
    let state = std::fs::read_to_string(p("state.copy")).unwrap();
    let note = state.split_once("\n\n").map(|(_, n)| n).unwrap();
    std::fs::write(&seen, note).unwrap();
    let out = ok(&[
        "audit",
        &public,
        "--trust",
        &p("trust"),
        "--checkpoint",
        &seen,
    ]);
    assert!(out.contains("consistent"), "{out}");
    // A fork: the publisher's key used on a copy of the feed, to show some clients another
    // release 4 than the one the real feed publishes. Same size, different roots: evidence.
    let fork = p("fork");
    assert!(Command::new("cp")
        .args(["-r", &feed, &fork])
        .status()
        .unwrap()
        .success());
    ok(&["feed", "publish", &feed, &db.display().to_string()]);
    std::fs::write(p("other.ndb"), "Other.Sig:0:*:6f7468657273\n").unwrap();
    ok(&["feed", "publish", &fork, &p("other.ndb")]);
    let forked = p("forked.checkpoint");
    std::fs::copy(format!("{fork}/log/checkpoint"), &forked).unwrap();
    let o = run(&[
        "audit",
        &public,
        "--trust",
        &p("trust"),
        "--checkpoint",
        &forked,
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("SPLIT VIEW"), "{out}");
    assert!(out.contains("--- conflicting checkpoint ---"), "{out}");

    // --follow: a release published while the auditor watches is reported on its next pass.
    let watcher = detente()
        .args([
            "audit",
            &public,
            "--trust",
            &p("trust"),
            "--follow",
            "--interval",
            "2",
            "--polls",
            "3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    text += "Test.Feed.Five:0:*:666565642073696720666976650a\n";
    std::fs::write(&db, &text).unwrap();
    ok(&[
        "feed",
        "publish",
        &feed,
        &db.display().to_string(),
        "--policy",
        &p("witnesses"),
    ]);
    let out = watcher.wait_with_output().unwrap();
    let text_out = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text_out}");
    assert_eq!(
        text_out.matches("release 5 (log entry 4)").count(),
        1,
        "{text_out}"
    );
    assert!(
        text_out.contains("5 release(s), 0 problem(s)"),
        "{text_out}"
    );
}

/// A publish whose witnesses cannot be reached logs the release but publishes nothing; the
/// next publish takes the next version after the logged one, so versions only ever grow in
/// the log.
#[test]
fn publish_stopped_before_its_cosignatures_publishes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |s: &str| tmp.path().join(s).display().to_string();
    let feed = p("feed");
    let vkey = ok(&["feed", "init", &feed, "--origin", "example.org/stop"])
        .trim()
        .to_string();
    let wkey = ok(&["witness", "init", &p("w"), "--name", "w.example"])
        .lines()
        .next()
        .unwrap()
        .to_string();
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    std::fs::write(
        p("witnesses"),
        format!("log {vkey}\nwitness w {wkey} http://{dead}\nquorum w\n"),
    )
    .unwrap();
    std::fs::write(p("main.ndb"), "Stop.One:0:*:73746f70206f6e65\n").unwrap();
    let o = run(&[
        "feed",
        "publish",
        &feed,
        &p("main.ndb"),
        "--policy",
        &p("witnesses"),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        !Path::new(&feed).join("log/latest").exists(),
        "nothing published"
    );
    let out = ok(&["feed", "publish", &feed, &p("main.ndb")]);
    assert!(out.contains("version 2 published (log entry 1"), "{out}");
}
