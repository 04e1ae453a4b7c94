//! `detente serve` end to end: a log made with `detente log init` and `log append` is
//! served beside another tree; its full tiles and bundles are immutable, its checkpoint and
//! partial tiles revalidate, `detente log verify URL` verifies it through the server, and
//! nothing outside the mounts (the log's private key included) can be reached.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

fn detente() -> Command {
    Command::new(env!("CARGO_BIN_EXE_detente"))
}

fn ok(args: &[&str]) -> String {
    let o = detente().args(args).output().expect("run detente");
    assert!(
        o.status.success(),
        "detente {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(args: &[&str]) -> Output {
    let o = detente().args(args).output().expect("run detente");
    assert_eq!(o.status.code(), Some(2), "detente {args:?} should fail");
    o
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `detente serve --listen 127.0.0.1:0 ARGS` and reads the address it prints.
fn serve(args: &[&str]) -> (Server, String) {
    let mut child = detente()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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
    (server, addr)
}

struct Resp {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// One raw HTTP/1.1 request (targets are sent exactly as written).
fn get(addr: &str, target: &str, headers: &[(&str, &str)]) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(buf[..end].to_vec()).unwrap();
    Resp {
        status: head[9..12].parse().unwrap(),
        head,
        body: buf[end + 4..].to_vec(),
    }
}

#[test]
fn serves_a_log_with_cache_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |s: &str| tmp.path().join(s).display().to_string();
    let log = p("feed");
    let vkey = ok(&["log", "init", &log, "--origin", "example.org/feed"]);
    let mut child = detente()
        .args(["log", "append", &log])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let lines: String = (0..300).map(|i| format!("update {i}\n")).collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    std::fs::create_dir_all(p("public")).unwrap();
    std::fs::write(p("public/main.cvd"), vec![0x5a; 2048]).unwrap();

    let (_server, addr) = serve(&[
        "--mount",
        &format!("/log={}", p("feed/log")),
        "--mount",
        &format!("/feed={}", p("public")),
    ]);

    // 300 entries: one full level-0 tile and bundle, partial ones after them.
    let checkpoint = std::fs::read(p("feed/log/checkpoint")).unwrap();
    let r = get(&addr, "/log/checkpoint", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, checkpoint);
    assert!(r.body.starts_with(b"example.org/feed\n300\n"));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    let etag = r.header("etag").unwrap().to_string();
    assert_eq!(
        get(&addr, "/log/checkpoint", &[("If-None-Match", &etag)]).status,
        304
    );

    for (target, file, cache) in [
        ("/log/tile/0/000", "feed/log/tile/0/000", IMMUTABLE),
        (
            "/log/tile/entries/000",
            "feed/log/tile/entries/000",
            IMMUTABLE,
        ),
        (
            "/log/tile/0/001.p/44",
            "feed/log/tile/0/001.p/44",
            "no-cache",
        ),
        (
            "/log/tile/entries/001.p/44",
            "feed/log/tile/entries/001.p/44",
            "no-cache",
        ),
        ("/log/tile/1/000.p/1", "feed/log/tile/1/000.p/1", "no-cache"),
        ("/feed/main.cvd", "public/main.cvd", "no-cache"),
    ] {
        let r = get(&addr, target, &[]);
        assert_eq!(r.status, 200, "{target}");
        assert_eq!(r.header("cache-control"), Some(cache), "{target}");
        assert_eq!(
            r.header("content-type"),
            Some("application/octet-stream"),
            "{target}"
        );
        assert_eq!(r.body, std::fs::read(p(file)).unwrap(), "{target}");
    }
    let r = get(&addr, "/log/tile/0/000", &[]);
    assert_eq!(r.body.len(), 256 * 32);
    assert_eq!(r.header("content-length"), Some("8192"));

    // freshclam's header read.
    let r = get(&addr, "/feed/main.cvd", &[("Range", "bytes=0-511")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 0-511/2048"));
    assert_eq!(r.body.len(), 512);

    // The log verifies through the server.
    let out = ok(&[
        "log",
        "verify",
        &format!("http://{addr}/log"),
        "--key",
        vkey.trim(),
    ]);
    assert!(out.starts_with("OK: example.org/feed size 300"), "{out}");

    // Outside the mounts: the key beside `log/` is never reachable.
    for target in [
        "/log/../private/key",
        "/log/%2e%2e/private/key",
        "/log/..%2fprivate%2fkey",
        "/log%2f..%2fprivate%2fkey",
        "/private/key",
        "/log.vkey",
        "/log/",
        "/",
    ] {
        let r = get(&addr, target, &[]);
        assert!(matches!(r.status, 400 | 404), "{target}: {}", r.status);
        assert!(!r.body.windows(11).any(|w| w == b"PRIVATE+KEY"), "{target}");
    }
}

#[test]
fn bad_invocations() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().display().to_string();
    // At least one mount.
    let o = detente()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--mount"));
    let o = fails(&["serve", "--listen", "127.0.0.1:0", "--mount", &dir]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("PREFIX=DIR"));
    let o = fails(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--mount",
        &format!("/x={dir}/missing"),
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing"));
    fails(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--mount",
        &format!("/a/../b={dir}"),
    ]);
    fails(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--mount",
        &format!("/a={dir}"),
        "--mount",
        &format!("/a/={dir}"),
    ]);
    fails(&[
        "serve",
        "--listen",
        "not-an-address",
        "--mount",
        &format!("/={dir}"),
    ]);
}

#[test]
fn root_mount() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("hello.txt"), b"hi\n").unwrap();
    let (_server, addr) = serve(&["--mount", &format!("/={}", tmp.path().display())]);
    let r = get(&addr, "/hello.txt", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hi\n");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(
        b"POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    assert!(buf.starts_with("HTTP/1.1 405"), "{buf}");
    assert!(
        buf.to_ascii_lowercase().contains("allow: get, head"),
        "{buf}"
    );
}
