//! Independent check with Go's golang.org/x/mod/sumdb/note: the log
//! signature and the witness's Ed25519 cosignature/v1 on a 200 response open
//! with note.Open. A missing Go or Debian package golang-golang-x-mod-dev fails
//! the test (scripts/test installs both): an oracle is never skipped silently.

use std::path::Path;
use std::process::Command;

use crate::util::{post, witness, Server, TestLog};

const GOPATH: &str = "/usr/share/gocode";

#[test]
fn go_note_open_accepts_cosignature() {
    let have_go = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        have_go
            && Path::new(GOPATH)
                .join("src/golang.org/x/mod/sumdb/note")
                .exists(),
        "this test needs `go` on PATH and {GOPATH}/src/golang.org/x/mod/sumdb/note \
         (Debian packages golang-go and golang-golang-x-mod-dev; scripts/test installs them)"
    );
    let dir = tempfile::tempdir().unwrap();
    let log = TestLog::new("example.com/go", 3, 12);
    let (w, vkeys) = witness(&dir.path().join("w"), "witness.example/go", &[&log]);
    let srv = Server::start(&w);
    let r = post(srv.addr, &log.request(0, 12));
    assert_eq!(r.status, 200);
    // Keep the log signature and the Ed25519 cosignature line only: Go's
    // note package has no ML-DSA-44.
    let mut cosigned = log.checkpoint(12);
    let ed_line = r.text().lines().next().unwrap();
    cosigned.extend_from_slice(format!("{ed_line}\n").as_bytes());
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("log.vkey"), log.vkey()).unwrap();
    std::fs::write(p("witness.vkey"), &vkeys[0]).unwrap();
    std::fs::write(p("note"), &cosigned).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cosigcheck.go");
    // Go's verdict on the note now in `note`.
    let go_check = || {
        Command::new("go")
            .arg("run")
            .arg(&src)
            .arg(p("log.vkey"))
            .arg(p("witness.vkey"))
            .arg(p("note"))
            .env("GOPATH", GOPATH)
            .env("GO111MODULE", "off")
            .env("GOCACHE", p("gocache"))
            .output()
            .unwrap()
    };
    let out = go_check();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("ok "),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And a tampered cosignature is refused by Go too.
    let mut bad = cosigned.clone();
    let at = bad.len() - 10;
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(p("note"), &bad).unwrap();
    assert!(!go_check().status.success());
}
