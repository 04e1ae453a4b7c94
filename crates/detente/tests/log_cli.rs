//! The `detente log` and `detente witness` commands end to end: a log is created and grown,
//! a witness started on 127.0.0.1 cosigns it, and an offline proof verifies under a policy
//! that demands that witness, and fails when anything is off.

mod common;

use common::*;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Stdio;

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
    let wkey_mldsa = wkeys.lines().nth(1).unwrap().to_string();
    ok(&[
        "witness",
        "add-log",
        &wdir,
        "--origin",
        "example.org/feed",
        "--key",
        &vkey,
    ]);
    let (_server, addr) = serve_witness(&wdir);
    let url = format!("http://{addr}");
    // The log's view of its witness: both of its keys, and where to reach it.
    std::fs::write(
        p("witnesses"),
        format!("log {vkey}\nwitness w {wkey} {url}\nwitness wq {wkey_mldsa} {url}\nquorum w\n"),
    )
    .unwrap();
    let policy_arg = p("witnesses");
    ok(&["log", "cosign", &log, "--policy", &policy_arg]);
    // Grow and cosign again: the witness checks consistency with what it cosigned.
    std::fs::write(p("entry2.bin"), b"signature database v3").unwrap();
    ok(&["log", "append", &log, &p("entry2.bin")]);
    ok(&["log", "cosign", &log, "--policy", &policy_arg]);
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

/// A witness that answers 200 with lines that are not its cosignatures (another key's, and
/// garbage): `log cosign` reports and drops them, publishes nothing it could not verify, and
/// exits 1.
#[test]
fn cosign_drops_lines_a_witness_cannot_back() {
    use std::io::{BufRead, BufReader, Read};
    let dir = tempfile::tempdir().unwrap();
    let p = |s: &str| dir.path().join(s).to_string_lossy().into_owned();
    let log = p("feed");
    let vkey = ok(&["log", "init", &log, "--origin", "example.org/lying"])
        .trim()
        .to_string();
    std::fs::write(p("e"), b"entry").unwrap();
    ok(&["log", "append", &log, &p("e")]);
    // The witness the policy trusts, and another whose cosignature the liar forwards.
    let trusted = ok(&["witness", "init", &p("w"), "--name", "w.example"]);
    let other_dir = p("other");
    ok(&["witness", "init", &other_dir, "--name", "other.example"]);
    ok(&[
        "witness",
        "add-log",
        &other_dir,
        "--origin",
        "example.org/lying",
        "--key",
        &vkey,
    ]);
    let checkpoint = std::fs::read(Path::new(&log).join("log/checkpoint")).unwrap();
    // The other witness's genuine cosignature lines, through its server.
    let other_lines = {
        let (_srv, addr) = serve_witness(&other_dir);
        let mut body = b"old 0\n\n".to_vec();
        body.extend_from_slice(&checkpoint);
        let mut s = TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        s.write_all(&body).unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        resp.split("\r\n\r\n").nth(1).unwrap().to_string()
    };
    // The liar: any request gets the other witness's lines and a garbage line.
    let liar = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", liar.local_addr().unwrap());
    let reply = format!("{other_lines}— w.example AAAAnotasignature\n");
    std::thread::spawn(move || {
        for conn in liar.incoming().take(4) {
            let Ok(mut c) = conn else { continue };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut len = 0;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    let wkey = trusted.lines().next().unwrap();
    std::fs::write(
        p("policy"),
        format!("log {vkey}\nwitness w {wkey} {url}\nquorum w\n"),
    )
    .unwrap();
    let o = run(&["log", "cosign", &log, "--policy", &p("policy")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no valid cosignature in the reply (3 line(s) rejected)"),
        "{err}"
    );
    let published = std::fs::read(Path::new(&log).join("log/checkpoint")).unwrap();
    assert_eq!(published, checkpoint, "nothing unverified may be published");
}
