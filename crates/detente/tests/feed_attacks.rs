//! Attacks on `detente update`, one test each, through the command line, each with its case
//! directory under `tests/feed-attacks/` (what it attacks, the refusal expected): a feed with three
//! witnesses (two of three), a client that installed release 1, then a mirror (a copy of the
//! feed's public tree, the attacker's) altered one way per case. Each refusal is checked by
//! its message, and the client's installed database and state stay byte-identical.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A feed at release 1 with its witnesses, and a client that installed it.
struct Env {
    tmp: tempfile::TempDir,
    _witnesses: Vec<Server>,
    trust: String,
}

impl Env {
    fn p(&self, s: &str) -> String {
        self.tmp.path().join(s).display().to_string()
    }
    fn feed(&self) -> String {
        self.p("feed")
    }
    fn client(&self) -> String {
        self.p("client")
    }

    fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let p = |s: &str| tmp.path().join(s).display().to_string();
        let vkey = ok(&["feed", "init", &p("feed"), "--origin", "example.org/feed"])
            .trim()
            .to_string();
        let (servers, mut policy) =
            witnesses_for(tmp.path(), &["w1", "w2", "w3"], "example.org/feed", &vkey);
        policy += "group two-of-three 2 w1 w2 w3\nquorum two-of-three\n";
        std::fs::write(p("witnesses"), policy).unwrap();
        let env = Env {
            trust: String::new(),
            tmp,
            _witnesses: servers,
        };
        env.publish(&base(), &[]);
        let trust = ok(&[
            "feed",
            "trust",
            &env.feed(),
            "--url",
            &format!("{}/log", env.feed()),
            "--policy",
            &env.p("witnesses"),
        ]);
        let env = Env { trust, ..env };
        env.write_trust("trust", &env.trust);
        ok(&["update", "--trust", &env.p("trust"), "--dir", &env.client()]);
        env
    }

    /// Publishes `text` as main.ndb in `dir` (the feed by default), with the witnesses.
    fn publish_in(&self, dir: &str, text: &str, extra: &[&str], witnessed: bool) {
        let db = self.p("main.ndb");
        std::fs::write(&db, text).unwrap();
        let w = self.p("witnesses");
        let mut args = vec!["feed", "publish", dir, db.as_str()];
        if witnessed {
            args.extend(["--policy", w.as_str()]);
        }
        args.extend(extra);
        ok(&args);
    }

    fn publish(&self, text: &str, extra: &[&str]) {
        self.publish_in(&self.feed(), text, extra, true);
    }

    fn write_trust(&self, name: &str, text: &str) -> String {
        let path = self.p(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A copy of the feed's public tree, to alter.
    fn mirror(&self, name: &str) -> PathBuf {
        let m = self.tmp.path().join(name);
        let st = Command::new("cp")
            .arg("-r")
            .arg(format!("{}/log", self.feed()))
            .arg(&m)
            .status()
            .unwrap();
        assert!(st.success());
        m
    }

    /// Runs `update` against `mirror` (with the trust file's other settings); asserts it is
    /// refused with `want` in its message and that nothing the client holds changed.
    fn refused(&self, mirror: &Path, trust: Option<&str>, want: &str) {
        let text = trust.unwrap_or(&self.trust);
        let t = text.replace(
            &format!("{}/log", self.feed()),
            &mirror.display().to_string(),
        );
        let t = self.write_trust("attack-trust", &t);
        let before = snapshot(Path::new(&self.client()));
        let o = run(&["update", "--trust", &t, "--dir", &self.client()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "not refused:\n{err}");
        assert!(err.contains(want), "expected {want:?} in:\n{err}");
        assert_eq!(
            snapshot(Path::new(&self.client())),
            before,
            "the installed database or state changed"
        );
    }

    fn object_of(&self, mirror: &Path, line: &str) -> PathBuf {
        let m = std::fs::read_to_string(mirror.join("latest")).unwrap();
        let hex = m
            .lines()
            .find_map(|l| l.strip_prefix(line))
            .and_then(|l| l.split(' ').nth(1))
            .unwrap_or_else(|| panic!("no {line:?} in {m}"))
            .to_string();
        mirror.join("objects").join(hex)
    }
}

/// The `expect:` line `k` of case `name` (`tests/feed-attacks/<name>/case`).
fn expect(name: &str, k: usize) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/feed-attacks")
        .join(name)
        .join("case");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|l| l.strip_prefix("expect: "))
        .nth(k)
        .unwrap_or_else(|| panic!("{}: no expect line {k}", path.display()))
        .to_string()
}

/// Every case directory has its test here, and every test its directory.
#[test]
fn every_case_directory_has_its_test() {
    const TESTS: &[&str] = &[
        "checkpoint-signed-by-an-unknown-key",
        "enough-cosignatures-but-from-too-few-groups",
        "expired-release",
        "manifest-from-another-feeds-log-mix-and-match",
        "manifest-not-in-the-log",
        "rollback-to-an-older-checkpoint",
        "split-view-same-size-different-roots",
        "stale-checkpoint-freeze",
        "tampered-file",
        "too-few-witness-cosignatures",
        "truncated-and-endless-downloads",
        "version-far-ahead-fast-forward",
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/feed-attacks");
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, TESTS);
}

/// Release 1: enough signatures that a patch is worth sending for release 2.
fn base() -> String {
    (0..500)
        .map(|i| {
            format!(
                "Test.Base.{i}:0:*:{:016x}\n",
                (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            )
        })
        .collect()
}

/// Release 2: one signature more.
fn two() -> String {
    base() + "Test.Two:0:*:74776f2074776f\n"
}

#[test]
fn tampered_file() {
    let e = Env::new();
    e.publish(&two(), &[]);
    let m = e.mirror("m");
    let obj = e.object_of(&m, "patch main.ndb ");
    let mut b = std::fs::read(&obj).unwrap();
    let last = b.len() - 1;
    b[last] ^= 1;
    std::fs::write(&obj, b).unwrap();
    e.refused(&m, None, &expect("tampered-file", 0));
}

#[test]
fn truncated_and_endless_downloads() {
    let e = Env::new();
    e.publish(&two(), &[]);
    let m = e.mirror("m");
    let obj = e.object_of(&m, "patch main.ndb ");
    let b = std::fs::read(&obj).unwrap();
    std::fs::write(&obj, &b[..b.len() - 5]).unwrap();
    e.refused(&m, None, &expect("truncated-and-endless-downloads", 0));
    let mut long = b.clone();
    long.extend(std::iter::repeat_n(0u8, 1 << 20));
    std::fs::write(&obj, long).unwrap();
    e.refused(&m, None, &expect("truncated-and-endless-downloads", 1));
}

#[test]
fn manifest_not_in_the_log() {
    let e = Env::new();
    // The publisher's key signs a release that is never logged (a targeted update), which a
    // mirror serves as the latest beside the real log's newer checkpoint.
    let side = e.p("side");
    assert!(Command::new("cp")
        .args(["-r", &e.feed(), &side])
        .status()
        .unwrap()
        .success());
    e.publish_in(
        &side,
        &(base() + "Targeted:0:*:7461726765746564\n"),
        &[],
        false,
    );
    e.publish(&two(), &[]);
    let m = e.mirror("m");
    std::fs::copy(format!("{side}/log/latest"), m.join("latest")).unwrap();
    for entry in std::fs::read_dir(format!("{side}/log/objects")).unwrap() {
        let p = entry.unwrap().path();
        let _ = std::fs::copy(&p, m.join("objects").join(p.file_name().unwrap()));
    }
    e.refused(&m, None, &expect("manifest-not-in-the-log", 0));
}

#[test]
fn checkpoint_signed_by_an_unknown_key() {
    let e = Env::new();
    let m = e.mirror("m");
    ok(&[
        "feed",
        "init",
        &e.p("other"),
        "--origin",
        "example.org/feed",
    ]);
    std::fs::copy(e.p("other/log/checkpoint"), m.join("checkpoint")).unwrap();
    e.refused(&m, None, &expect("checkpoint-signed-by-an-unknown-key", 0));
}

#[test]
fn too_few_witness_cosignatures() {
    let e = Env::new();
    // Published without the witnesses: the checkpoint has the log's signature alone.
    e.publish_in(&e.feed(), &two(), &[], false);
    let m = e.mirror("m");
    e.refused(&m, None, &expect("too-few-witness-cosignatures", 0));
}

#[test]
fn enough_cosignatures_but_from_too_few_groups() {
    let e = Env::new();
    e.publish(&two(), &[]);
    let m = e.mirror("m");
    // The client demands w1 and w2 in separate groups, both; w3 counts for nothing. Drop w2's
    // cosignatures from the checkpoint: two lines remain (w1, w3), one group unmet.
    let cp = std::fs::read_to_string(m.join("checkpoint")).unwrap();
    let kept: String = cp
        .split_inclusive('\n')
        .filter(|l| !l.contains("w2.example"))
        .collect();
    std::fs::write(m.join("checkpoint"), kept).unwrap();
    let strict = e.trust.replace(
        "group witnesses 2 w1 w2 w3\nquorum witnesses\n",
        "group a any w1\ngroup b any w2\ngroup both all a b\nquorum both\n",
    );
    assert_ne!(strict, e.trust, "trust template changed: {}", e.trust);
    e.refused(
        &m,
        Some(&strict),
        &expect("enough-cosignatures-but-from-too-few-groups", 0),
    );
}

#[test]
fn rollback_to_an_older_checkpoint() {
    let e = Env::new();
    let old = e.mirror("old");
    e.publish(&two(), &[]);
    ok(&["update", "--trust", &e.p("trust"), "--dir", &e.client()]);
    e.refused(&old, None, &expect("rollback-to-an-older-checkpoint", 0));
}

#[test]
fn split_view_same_size_different_roots() {
    let e = Env::new();
    // The publisher's key and the witnesses' keys stolen: copies of all of them, taken at
    // release 1, cosign another release 2 for some clients.
    let fork = e.p("fork");
    assert!(Command::new("cp")
        .args(["-r", &e.feed(), &fork])
        .status()
        .unwrap()
        .success());
    let mut fork_policy = String::new();
    let mut fork_url = String::new();
    let mut servers = Vec::new();
    for line in std::fs::read_to_string(e.p("witnesses")).unwrap().lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if f[0] != "witness" {
            fork_policy += &format!("{line}\n");
            continue;
        }
        let copy = e.p(&format!("stolen-{}", f[1]));
        assert!(Command::new("cp")
            .args(["-r", &e.p(f[1]), &copy])
            .status()
            .unwrap()
            .success());
        let (server, addr) = serve_witness(&copy);
        servers.push(server);
        fork_policy += &format!("witness {} {} http://{addr}\n", f[1], f[2]);
        fork_url = format!("http://{addr}/witness-url/checkpoint");
    }
    std::fs::write(e.p("fork-witnesses"), fork_policy).unwrap();
    // The real release 2, which the client installs.
    e.publish(&two(), &[]);
    ok(&["update", "--trust", &e.p("trust"), "--dir", &e.client()]);
    // The fork's release 2: same size, another root, cosigned under the same keys.
    std::fs::write(e.p("fork.ndb"), "Other.Two:0:*:6f74686572\n").unwrap();
    ok(&[
        "feed",
        "publish",
        &fork,
        &e.p("fork.ndb"),
        "--policy",
        &e.p("fork-witnesses"),
    ]);
    e.refused(
        &PathBuf::from(format!("{fork}/log")),
        None,
        &expect("split-view-same-size-different-roots", 0),
    );
    // The honest witnesses, asked to cosign the fork, refuse and keep both checkpoints as
    // evidence of the publisher's split view.
    let o = run(&["log", "cosign", &fork, "--policy", &e.p("witnesses")]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let evidence = ok(&["witness", "evidence", &e.p("w1")]);
    assert!(
        evidence.contains("example.org/feed"),
        "no evidence kept: {evidence:?}"
    );
    // Caught from the witnesses too: what a compromised witness now cosigns (its monitoring
    // endpoint, GET /<sha256 of the origin>/checkpoint) is not in the real log.
    let hash = Command::new("sh")
        .args(["-c", "printf %s example.org/feed | sha256sum"])
        .output()
        .unwrap();
    let hash = String::from_utf8_lossy(&hash.stdout)
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    let url = fork_url.replace("witness-url", &hash);
    let o = run(&[
        "audit",
        &format!("{}/log", e.feed()),
        "--trust",
        &e.p("trust"),
        "--checkpoint",
        &url,
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("SPLIT VIEW"), "{out}");
}

#[test]
fn stale_checkpoint_freeze() {
    let e = Env::new();
    let m = e.mirror("m");
    std::thread::sleep(Duration::from_secs(2));
    let t = e
        .trust
        .lines()
        .map(|l| {
            if l.starts_with("max-age ") {
                "max-age 1"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    e.refused(&m, Some(&t), &expect("stale-checkpoint-freeze", 0));
}

#[test]
fn version_far_ahead_fast_forward() {
    let e = Env::new();
    e.publish(&two(), &[]);
    e.publish("Test.Three:0:*:7468726565\n", &[]);
    let m = e.mirror("m");
    let t = e
        .trust
        .lines()
        .map(|l| {
            if l.starts_with("max-ahead ") {
                "max-ahead 1"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    e.refused(&m, Some(&t), &expect("version-far-ahead-fast-forward", 0));
}

#[test]
fn manifest_from_another_feeds_log_mix_and_match() {
    let e = Env::new();
    e.publish(&two(), &[]);
    let m = e.mirror("m");
    let other = e.p("otherfeed");
    ok(&["feed", "init", &other, "--origin", "example.org/other"]);
    e.publish_in(&other, &two(), &[], false);
    std::fs::copy(format!("{other}/log/latest"), m.join("latest")).unwrap();
    e.refused(
        &m,
        None,
        &expect("manifest-from-another-feeds-log-mix-and-match", 0),
    );
}

#[test]
fn expired_release() {
    let e = Env::new();
    e.publish(&two(), &["--ttl", "1"]);
    std::thread::sleep(Duration::from_secs(2));
    let m = e.mirror("m");
    e.refused(&m, None, &expect("expired-release", 0));
}

/// Not an attack: an installed file damaged locally. The patch cannot apply to it, so the
/// whole file, listed in the manifest too, is fetched and verified instead; old releases are
/// pruned to the current one and the one before.
#[test]
fn damaged_installed_file_falls_back_to_the_whole_file() {
    let e = Env::new();
    e.publish(&two(), &[]);
    std::fs::write(format!("{}/db/main.ndb", e.client()), "damaged\n").unwrap();
    let out = ok(&["update", "--trust", &e.p("trust"), "--dir", &e.client()]);
    assert!(out.contains("version 1 -> 2"), "{out}");
    assert_eq!(
        std::fs::read_to_string(format!("{}/db/main.ndb", e.client())).unwrap(),
        two()
    );
    e.publish(&(two() + "Test.Three:0:*:7468726565\n"), &[]);
    ok(&["update", "--trust", &e.p("trust"), "--dir", &e.client()]);
    let mut kept: Vec<String> = std::fs::read_dir(format!("{}/releases", e.client()))
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept, ["2", "3"]);
}
