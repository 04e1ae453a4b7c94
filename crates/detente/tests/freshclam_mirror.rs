//! Unmodified freshclam updates from `detente serve`: ClamAV's own test database moves from
//! version 1 to 6 through the Talos-signed `.cdiff` patches, as in ClamAV's
//! `unit_tests/freshclam_test.py` with its mock mirror. The result is freshclam's `.cld`, which
//! detente then loads (verifying its signed `.info` and every member) with the same content as
//! `detente db patch` gives. Needs freshclam (Debian clamav-freshclam, which scripts/test
//! installs with clamav): a missing freshclam fails the test. Left out, with a line saying so,
//! without `../shared`.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

fn info(db: &Path) -> String {
    let o = detente()
        .args(["db", "info", "-d"])
        .arg(db)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Serves `www` with `detente serve` and runs freshclam against it, updating `db`'s `test`
/// database; returns freshclam's output (it must succeed).
fn freshclam_from(www: &Path, db: &Path, tmp: &Path) -> String {
    let mut child = detente()
        .args(["serve", "--listen", "127.0.0.1:0", "--mount"])
        .arg(format!("/={}", www.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _server = Server(child);
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();

    let conf = tmp.join("freshclam.conf");
    std::fs::write(
        &conf,
        format!(
            "DatabaseMirror {addr}\nDNSDatabaseInfo no\nLogVerbose yes\nDatabaseDirectory {}\n\
             DatabaseOwner {}\nPidFile {}\n",
            db.display(),
            std::env::var("USER").unwrap_or_else(|_| "root".into()),
            tmp.join("freshclam.pid").display()
        ),
    )
    .unwrap();
    let o = Command::new("freshclam")
        .arg(format!("--config-file={}", conf.display()))
        .arg("--update-db=test")
        .output()
        .expect("freshclam must be installed (Debian clamav-freshclam; scripts/test installs it)");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "freshclam failed:\n{out}");
    assert!(out.contains("test.cld updated (version: 6"), "{out}");
    for v in 2..=6 {
        assert!(
            out.contains(&format!("/test-{v}.cdiff")),
            "patch {v} not fetched:\n{out}"
        );
    }
    out
}

#[test]
fn freshclam_updates_through_cdiffs_from_detente_serve() {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/clamav-freshclam");
    if !src.is_dir() {
        println!("left out: {} is not present", src.display());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (www, db) = (tmp.path().join("www"), tmp.path().join("db"));
    std::fs::create_dir_all(&www).unwrap();
    std::fs::create_dir_all(&db).unwrap();
    // The mirror: the current database under its plain name, and the patches to it.
    std::fs::copy(src.join("test-6.cvd"), www.join("test.cvd")).unwrap();
    for v in 2..=6 {
        let n = format!("test-{v}.cdiff");
        std::fs::copy(src.join(&n), www.join(&n)).unwrap();
    }
    // The endpoint: version 1.
    std::fs::copy(src.join("test-1.cvd"), db.join("test.cvd")).unwrap();

    freshclam_from(&www, &db, tmp.path());
    // freshclam's .cld verifies in detente and holds what detente's own patching gives (from
    // copies without the .sign files, whose test root detente does not trust by default).
    let base = tmp.path().join("test-1.cvd");
    std::fs::copy(src.join("test-1.cvd"), &base).unwrap();
    let ours = tmp.path().join("ours.cld");
    let mut args = vec!["db".to_string(), "patch".into(), base.display().to_string()];
    for v in 2..=6 {
        args.push(www.join(format!("test-{v}.cdiff")).display().to_string());
    }
    args.extend(["-o".into(), ours.display().to_string()]);
    let p = detente().args(&args).output().unwrap();
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    assert_eq!(info(&db.join("test.cld")), info(&ours));
}

/// The transparency overlay for ClamAV's own updates: Talos-signed files imported into a feed
/// (verified, logged, published unchanged) make its public tree a freshclam mirror, and the
/// log records which files were shipped; a tampered patch is refused and nothing is published.
#[test]
fn freshclam_updates_from_a_feed_of_imported_talos_files() {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/clamav-freshclam");
    if !src.is_dir() {
        println!("left out: {} is not present", src.display());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let stage = tmp.path().join("talos");
    let db = tmp.path().join("db");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::create_dir_all(&db).unwrap();
    let mut files = vec![stage.join("test-6.cvd")];
    std::fs::copy(src.join("test-6.cvd"), &files[0]).unwrap();
    for v in 2..=6 {
        let f = stage.join(format!("test-{v}.cdiff"));
        std::fs::copy(src.join(format!("test-{v}.cdiff")), &f).unwrap();
        files.push(f);
    }
    std::fs::copy(src.join("test-1.cvd"), db.join("test.cvd")).unwrap();
    let feed = tmp.path().join("feed");
    let o = detente()
        .args(["feed", "init"])
        .arg(&feed)
        .args(["--origin", "example.org/clamav-overlay"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // A tampered patch: refused, nothing published.
    let bad = tmp.path().join("test-2.cdiff");
    let mut bytes = std::fs::read(&files[1]).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(&bad, bytes).unwrap();
    let o = detente()
        .args(["feed", "import-clamav"])
        .arg(&feed)
        .arg(&files[0])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!feed.join("log/latest").exists());

    let o = detente()
        .args(["feed", "import-clamav"])
        .arg(&feed)
        .args(&files)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("version 1 published"));
    let out = freshclam_from(&feed.join("log"), &db, tmp.path());
    assert!(out.contains("test.cld updated (version: 6"), "{out}");
    // The release logged holds exactly the imported Talos files, byte for byte.
    let entries = std::fs::read_dir(feed.join("log/objects")).unwrap().count();
    assert_eq!(entries, files.len(), "one object per imported file");
}
