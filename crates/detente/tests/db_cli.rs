//! `detente db patch` and signed containers on the command line, with ClamAV's own
//! Talos-signed test databases (`../shared/testdata/clamav-freshclam`; left out, with a line
//! saying so, when that directory is not beside the checkout).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn detente(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_detente"))
        .args(args)
        .output()
        .expect("run detente")
}

fn shared() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/clamav-freshclam");
    if d.is_dir() {
        Some(d)
    } else {
        println!("left out: {} is not present", d.display());
        None
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Copies the files named into a fresh directory (without their `.sign` unless asked).
fn stage(src: &Path, dst: &Path, names: &[&str]) {
    for n in names {
        std::fs::copy(src.join(n), dst.join(n)).unwrap();
    }
}

#[test]
fn patch_moves_test_1_to_version_6_like_freshclam() {
    let Some(src) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stage(&src, d, &["test-1.cvd"]);
    let mut args: Vec<String> = vec![
        "db".into(),
        "patch".into(),
        d.join("test-1.cvd").display().to_string(),
    ];
    for v in 2..=6 {
        let n = format!("test-{v}.cdiff");
        stage(&src, d, &[&n]);
        args.push(d.join(&n).display().to_string());
    }
    let out = d.join("test.cld");
    args.extend(["-o".into(), out.display().to_string()]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = detente(&a);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("version 6"), "{}", text(&o));
    // The patched database loads, and holds what test-6.cvd holds.
    let info = |db: &Path| {
        let o = detente(&["db", "info", "-d", &db.display().to_string()]);
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    stage(&src, d, &["test-6.cvd"]);
    assert_eq!(info(&out), info(&d.join("test-6.cvd")));

    // Out of order, or a tampered patch: refused, and the output is left as it was.
    let before = std::fs::read(&out).unwrap();
    let o = detente(&[
        "db",
        "patch",
        &d.join("test-1.cvd").display().to_string(),
        &d.join("test-3.cdiff").display().to_string(),
        "-o",
        &out.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let mut bad = std::fs::read(d.join("test-2.cdiff")).unwrap();
    let at = bad.len() / 2;
    bad[at] ^= 1;
    std::fs::write(d.join("bad-2.cdiff"), &bad).unwrap();
    let o = detente(&[
        "db",
        "patch",
        &d.join("test-1.cvd").display().to_string(),
        &d.join("bad-2.cdiff").display().to_string(),
        "-o",
        &out.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("bad-2.cdiff"), "{}", text(&o));
    assert_eq!(std::fs::read(&out).unwrap(), before);
}

#[test]
fn signed_and_tampered_containers_on_the_command_line() {
    let Some(src) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stage(&src, d, &["test-6.cvd"]);
    let db = d.join("test-6.cvd").display().to_string();
    let o = detente(&["db", "info", "-d", &db]);
    assert!(o.status.success(), "{}", text(&o));

    // A flipped byte: refused with the file named, even with --allow-unsigned.
    let mut bad = std::fs::read(d.join("test-6.cvd")).unwrap();
    let at = bad.len() - 100;
    bad[at] ^= 1;
    std::fs::write(d.join("test-6.cvd"), &bad).unwrap();
    for extra in [None, Some("--allow-unsigned")] {
        let mut a = vec!["db", "info", "-d", &db];
        a.extend(extra);
        let o = detente(&a);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains("test-6.cvd"), "{}", text(&o));
    }

    // The detached .sign chains to ClamAV's test root, not to Cisco's production root: beside
    // a genuine file it refuses it (as ClamAV 1.5 does) unless that root is trusted.
    std::fs::copy(src.join("test-6.cvd"), d.join("test-6.cvd")).unwrap();
    stage(&src, d, &["test-6.cvd.sign"]);
    let o = detente(&["db", "info", "-d", &db]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("test-6.cvd"), "{}", text(&o));
    let certs = d.join("certs");
    std::fs::create_dir(&certs).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../cvd/tests/data/clamav-test-root-ca.crt"),
        certs.join("clamav-test.crt"),
    )
    .unwrap();
    let o = detente(&[
        "db",
        "info",
        "-d",
        &db,
        "--cvdcertsdir",
        &certs.display().to_string(),
    ]);
    // The test root expires on 2027-03-26; after that the chain no longer verifies.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now < 1_805_960_000 {
        assert!(o.status.success(), "{}", text(&o));
    } else {
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    }
}
