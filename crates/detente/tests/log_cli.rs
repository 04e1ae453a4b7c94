//! The `detente log` and `detente witness` commands end to end: a log is created and grown,
//! a witness started on 127.0.0.1 cosigns it, and an offline proof verifies under a policy
//! that demands that witness, and fails when anything is off.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn detente() -> Command {
    Command::new(env!("CARGO_BIN_EXE_detente"))
}

fn run(args: &[&str]) -> Output {
    detente().args(args).output().expect("run detente")
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "detente {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn log_witness_and_offline_proof() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |s: &str| tmp.path().join(s).display().to_string();
    let log = p("log");

    // A log, grown from standard input and from files.
    let vkey = ok(&["log", "init", &log, "--origin", "example.org/feed"]);
    let vkey = vkey.trim().to_string();
    assert!(vkey.starts_with("example.org/feed+"), "{vkey}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tmp.path().join("log/private/key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let mut child = detente()
        .args(["log", "append", &log])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines: String = (0..300).map(|i| format!("update {i}\n")).collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let printed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(printed, (0..300).map(|i| i.to_string()).collect::<Vec<_>>());
    std::fs::write(p("entry.bin"), b"signature database v2").unwrap();
    assert_eq!(
        ok(&["log", "append", &log, &p("entry.bin")]).trim(),
        format!("300\t{}", p("entry.bin"))
    );
    assert!(
        ok(&["log", "verify", &log, "--key", &vkey]).starts_with("OK: example.org/feed size 301")
    );

    // A witness that follows the log.
    let wdir = p("witness");
    let wkeys = ok(&["witness", "init", &wdir, "--name", "witness.example.net"]);
    let wkey = wkeys.lines().next().unwrap().to_string();
    ok(&[
        "witness",
        "add-log",
        &wdir,
        "--origin",
        "example.org/feed",
        "--key",
        &vkey,
    ]);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let _server = Server(
        detente()
            .args(["witness", "serve", &wdir, "--listen", &addr])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t = Instant::now();
    while TcpStream::connect(&addr).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "witness did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("http://{addr}");
    ok(&["log", "cosign", &log, "--witness", &url]);
    // Grow and cosign again: the witness checks consistency with what it cosigned.
    std::fs::write(p("entry2.bin"), b"signature database v3").unwrap();
    ok(&["log", "append", &log, &p("entry2.bin")]);
    ok(&["log", "cosign", &log, "--witness", &url]);
    assert!(ok(&["log", "verify", &log, "--key", &vkey]).contains("size 302"));

    // An offline proof of entry 300 under a policy that demands the witness.
    let proof = ok(&["log", "prove", &log, "300"]);
    std::fs::write(p("300.tlog-proof"), &proof).unwrap();
    std::fs::write(
        p("policy"),
        format!("log {vkey}\nwitness w {wkey}\nquorum w\n"),
    )
    .unwrap();
    let verified = ok(&[
        "log",
        "verify-proof",
        &p("300.tlog-proof"),
        "--policy",
        &p("policy"),
        "--entry",
        &p("entry.bin"),
    ]);
    assert!(
        verified.contains("entry 300 of example.org/feed (tree size 302), cosigned by: w"),
        "{verified}"
    );

    // Another entry's bytes, or a policy demanding a witness that did not cosign: refused.
    let o = run(&[
        "log",
        "verify-proof",
        &p("300.tlog-proof"),
        "--policy",
        &p("policy"),
        "--entry",
        &p("entry2.bin"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let other = ok(&["witness", "init", &p("other"), "--name", "other.example"]);
    std::fs::write(
        p("policy2"),
        format!(
            "log {vkey}\nwitness w {}\nquorum w\n",
            other.lines().next().unwrap()
        ),
    )
    .unwrap();
    let o = run(&[
        "log",
        "verify-proof",
        &p("300.tlog-proof"),
        "--policy",
        &p("policy2"),
        "--entry",
        &p("entry.bin"),
    ]);
    assert_eq!(o.status.code(), Some(1));

    // The witness saw no split view.
    assert_eq!(ok(&["witness", "evidence", &wdir]).trim(), "");

    // A tampered tile makes the whole-log check fail.
    let tile = Path::new(&log).join("log/tile/0/000");
    let mut data = std::fs::read(&tile).unwrap();
    data[5] ^= 1;
    std::fs::write(&tile, data).unwrap();
    let o = run(&["log", "verify", &log, "--key", &vkey]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
