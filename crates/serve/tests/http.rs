//! `detente-serve` over real sockets: a server on 127.0.0.1 (ephemeral port) with several
//! mounts, driven by a raw HTTP/1.1 client so that request targets reach it exactly as
//! written (`/../`, `%2e%2e`, `%2f` included; an HTTP library would normalise them).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use detente_serve::{Mount, Site};

/// 2020-01-01T00:00:00Z, the modification time of the fixture files.
const MTIME: u64 = 1_577_836_800;
const MTIME_STR: &str = "Wed, 01 Jan 2020 00:00:00 GMT";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn has(&self, name: &str, value: &str) -> bool {
        self.header(name) == Some(value)
    }
}

/// Sends `head` (request line and headers, without the blank line) with
/// `Connection: close` and reads the whole response.
fn raw(addr: SocketAddr, head: &str) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let req = format!("{head}\r\nHost: test\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    parse(&buf)
}

fn parse(buf: &[u8]) -> Resp {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = std::str::from_utf8(&buf[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status = status_line[9..12].parse().unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_string(), v.trim().to_string())
        })
        .collect();
    Resp {
        status,
        headers,
        body: buf[end + 4..].to_vec(),
    }
}

fn req(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> Resp {
    let mut head = format!("{method} {target} HTTP/1.1");
    for (n, v) in headers {
        head.push_str(&format!("\r\n{n}: {v}"));
    }
    raw(addr, &head)
}

fn get(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> Resp {
    req(addr, "GET", target, headers)
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(MTIME))
        .unwrap();
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

struct Fixture {
    _tmp: tempfile::TempDir,
    addr: SocketAddr,
    data: Vec<u8>,
    cvd: Vec<u8>,
}

/// Three mounts: `/` (a site), `/log` (a log's public tree), `/feed/main` (a feed), and a
/// secret beside them that no request may reach.
fn start() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let data = pattern(1024);
    let cvd = pattern(4096);
    write(&t.join("secret"), b"TOP SECRET");
    write(&t.join("site/data.bin"), &data);
    write(&t.join("site/main.cvd"), &cvd);
    write(&t.join("site/.hidden"), b"hidden");
    write(&t.join("site/sub/index.html"), b"<p>hi</p>");
    write(&t.join("site/objects/ab/cdef"), b"object");
    write(&t.join("site/empty"), b"");
    write(&t.join("log/checkpoint"), b"example.org/log\n1\nAAAA\n");
    write(&t.join("log/tile/0/000"), &[7u8; 8192]);
    write(&t.join("log/tile/0/001.p/5"), &[8u8; 160]);
    write(&t.join("log/tile/entries/000"), b"bundle");
    write(&t.join("log/tile/entries/001.p/5"), b"partial bundle");
    write(&t.join("feed/x"), b"feed x");
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink(t.join("secret"), t.join("site/abs-link")).unwrap();
        symlink("../secret", t.join("site/rel-link")).unwrap();
        symlink("..", t.join("site/up")).unwrap();
        symlink("data.bin", t.join("site/in-link")).unwrap();
        symlink("../log", t.join("site/log-link")).unwrap();
    }
    // A 64 MiB sparse file: quick to make, served through the same stream as any other.
    let big = std::fs::File::create(t.join("site/big")).unwrap();
    big.set_len(64 << 20).unwrap();
    drop(big);

    let site = Site::new(vec![
        Mount::new("/", t.join("site")).unwrap(),
        Mount::new("/log", t.join("log")).unwrap(),
        Mount::new("/feed/main/", t.join("feed")).unwrap(),
    ])
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            site.serve(l).await.unwrap();
        });
    });
    Fixture {
        _tmp: tmp,
        addr,
        data,
        cvd,
    }
}

#[test]
fn get_200_with_headers() {
    let f = start();
    let r = get(f.addr, "/data.bin", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, f.data);
    assert!(r.has("content-length", "1024"));
    assert!(r.has("content-type", "application/octet-stream"));
    assert!(r.has("accept-ranges", "bytes"));
    assert!(r.has("last-modified", MTIME_STR));
    assert!(r.has("cache-control", "no-cache"));
    assert!(r.has("x-content-type-options", "nosniff"));
    assert!(r.header("date").is_some());
    let etag = r.header("etag").unwrap();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "{etag}"
    );
    // The same file, the same tag; another file, another tag.
    assert_eq!(get(f.addr, "/data.bin", &[]).header("etag"), Some(etag));
    assert_ne!(get(f.addr, "/main.cvd", &[]).header("etag"), Some(etag));
    // The query string is not part of the path.
    assert_eq!(get(f.addr, "/data.bin?x=1", &[]).body, f.data);
    // Percent-encoded plain characters name the same file.
    assert_eq!(get(f.addr, "/d%61ta.bin", &[]).body, f.data);
    // Empty file.
    let r = get(f.addr, "/empty", &[]);
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert!(r.has("content-length", "0"));
}

#[test]
fn head_has_the_headers_of_get_and_no_body() {
    let f = start();
    let g = get(f.addr, "/data.bin", &[]);
    let h = req(f.addr, "HEAD", "/data.bin", &[]);
    assert_eq!(h.status, 200);
    assert!(h.body.is_empty());
    for name in [
        "content-length",
        "content-type",
        "etag",
        "last-modified",
        "cache-control",
        "accept-ranges",
    ] {
        assert_eq!(h.header(name), g.header(name), "{name}");
    }
    // Range is for GET only: HEAD describes the whole file.
    let h = req(f.addr, "HEAD", "/data.bin", &[("Range", "bytes=0-9")]);
    assert_eq!(h.status, 200);
    assert!(h.has("content-length", "1024"));
    assert_eq!(req(f.addr, "HEAD", "/missing", &[]).status, 404);
}

#[test]
fn not_modified_by_if_none_match_and_if_modified_since() {
    let f = start();
    let etag = get(f.addr, "/data.bin", &[])
        .header("etag")
        .unwrap()
        .to_string();
    let r = get(f.addr, "/data.bin", &[("If-None-Match", &etag)]);
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert!(r.has("etag", &etag));
    assert!(r.has("cache-control", "no-cache"));
    let weak = format!("W/{etag}");
    assert_eq!(
        get(f.addr, "/data.bin", &[("If-None-Match", &weak)]).status,
        304
    );
    let list = format!("\"nope\", {etag}");
    assert_eq!(
        get(f.addr, "/data.bin", &[("If-None-Match", &list)]).status,
        304
    );
    assert_eq!(
        get(f.addr, "/data.bin", &[("If-None-Match", "*")]).status,
        304
    );
    assert_eq!(
        get(f.addr, "/data.bin", &[("If-None-Match", "\"nope\"")]).status,
        200
    );
    // Two header lines are one list.
    assert_eq!(
        get(
            f.addr,
            "/data.bin",
            &[("If-None-Match", "\"nope\""), ("If-None-Match", &etag)]
        )
        .status,
        304
    );
    assert_eq!(
        req(f.addr, "HEAD", "/data.bin", &[("If-None-Match", &etag)]).status,
        304
    );

    let r = get(f.addr, "/data.bin", &[("If-Modified-Since", MTIME_STR)]);
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    let later = "Thu, 02 Jan 2020 00:00:00 GMT";
    let earlier = "Tue, 31 Dec 2019 23:59:59 GMT";
    assert_eq!(
        get(f.addr, "/data.bin", &[("If-Modified-Since", later)]).status,
        304
    );
    let r = get(f.addr, "/data.bin", &[("If-Modified-Since", earlier)]);
    assert_eq!((r.status, r.body.len()), (200, 1024));
    assert_eq!(
        get(f.addr, "/data.bin", &[("If-Modified-Since", "yesterday")]).status,
        200
    );
    // If-None-Match present: If-Modified-Since is not looked at.
    assert_eq!(
        get(
            f.addr,
            "/data.bin",
            &[("If-None-Match", "\"nope\""), ("If-Modified-Since", later)]
        )
        .status,
        200
    );
}

#[test]
fn preconditions_fail_with_412() {
    let f = start();
    let etag = get(f.addr, "/data.bin", &[])
        .header("etag")
        .unwrap()
        .to_string();
    assert_eq!(get(f.addr, "/data.bin", &[("If-Match", &etag)]).status, 200);
    assert_eq!(get(f.addr, "/data.bin", &[("If-Match", "*")]).status, 200);
    let r = get(f.addr, "/data.bin", &[("If-Match", "\"nope\"")]);
    assert_eq!(r.status, 412);
    assert!(r.body.is_empty());
    let weak = format!("W/{etag}");
    assert_eq!(get(f.addr, "/data.bin", &[("If-Match", &weak)]).status, 412);
    assert_eq!(
        get(
            f.addr,
            "/data.bin",
            &[("If-Unmodified-Since", "Tue, 31 Dec 2019 23:59:59 GMT")]
        )
        .status,
        412
    );
    assert_eq!(
        get(f.addr, "/data.bin", &[("If-Unmodified-Since", MTIME_STR)]).status,
        200
    );
}

#[test]
fn ranges_of_each_form() {
    let f = start();
    let d = &f.data;
    for (range, lo, hi) in [
        ("bytes=0-9", 0, 9),
        ("bytes=1000-", 1000, 1023),
        ("bytes=-24", 1000, 1023),
        ("bytes=100-100", 100, 100),
        ("bytes=1020-99999", 1020, 1023),
        ("bytes=-5000", 0, 1023),
        ("bytes=0-", 0, 1023),
    ] {
        let r = get(f.addr, "/data.bin", &[("Range", range)]);
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(r.body, d[lo..=hi], "{range}");
        assert!(
            r.has("content-range", &format!("bytes {lo}-{hi}/1024")),
            "{range}"
        );
        assert!(r.has("content-length", &(hi - lo + 1).to_string()));
        assert!(r.has("content-type", "application/octet-stream"));
        assert!(r.header("etag").is_some());
    }
    // Several ranges: the whole file, 200.
    let r = get(f.addr, "/data.bin", &[("Range", "bytes=0-1,10-20")]);
    assert_eq!(r.status, 200);
    assert_eq!(&r.body, d);
    // Malformed or another unit: ignored.
    for range in ["bytes=9-1", "lines=1-2", "bytes=x"] {
        let r = get(f.addr, "/data.bin", &[("Range", range)]);
        assert_eq!((r.status, r.body.len()), (200, 1024), "{range}");
    }
}

#[test]
fn unsatisfiable_range_is_416() {
    let f = start();
    for range in ["bytes=1024-", "bytes=5000-6000", "bytes=-0"] {
        let r = get(f.addr, "/data.bin", &[("Range", range)]);
        assert_eq!(r.status, 416, "{range}");
        assert!(r.has("content-range", "bytes */1024"), "{range}");
        assert!(r.body.is_empty());
    }
    let r = get(f.addr, "/empty", &[("Range", "bytes=0-")]);
    assert_eq!(r.status, 416);
    assert!(r.has("content-range", "bytes */0"));
}

#[test]
fn if_range() {
    let f = start();
    let etag = get(f.addr, "/data.bin", &[])
        .header("etag")
        .unwrap()
        .to_string();
    let r = get(
        f.addr,
        "/data.bin",
        &[("Range", "bytes=0-9"), ("If-Range", &etag)],
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body, f.data[..10]);
    // A tag of another version: the whole current file.
    let r = get(
        f.addr,
        "/data.bin",
        &[("Range", "bytes=0-9"), ("If-Range", "\"old\"")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, f.data);
    // By date: exactly the Last-Modified, which is long past (a strong validator).
    let r = get(
        f.addr,
        "/data.bin",
        &[("Range", "bytes=0-9"), ("If-Range", MTIME_STR)],
    );
    assert_eq!(r.status, 206);
    let r = get(
        f.addr,
        "/data.bin",
        &[
            ("Range", "bytes=0-9"),
            ("If-Range", "Tue, 31 Dec 2019 23:59:59 GMT"),
        ],
    );
    assert_eq!((r.status, r.body.len()), (200, 1024));
}

#[test]
fn freshclam_mirror_cvd() {
    let f = start();
    let r = get(f.addr, "/main.cvd", &[("Range", "bytes=0-511")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, f.cvd[..512]);
    assert!(r.has("content-range", "bytes 0-511/4096"));
    assert!(r.has("content-type", "application/octet-stream"));
    let r = get(f.addr, "/main.cvd", &[("If-Modified-Since", MTIME_STR)]);
    assert_eq!(r.status, 304);
    let r = get(
        f.addr,
        "/main.cvd",
        &[("If-Modified-Since", "Mon, 01 Jan 2018 00:00:00 GMT")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, f.cvd);
}

#[test]
fn only_get_and_head() {
    let f = start();
    for m in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH", "PROPFIND"] {
        let r = req(f.addr, m, "/data.bin", &[("Content-Length", "0")]);
        assert_eq!(r.status, 405, "{m}");
        assert!(r.has("allow", "GET, HEAD"), "{m}");
    }
}

#[test]
fn traversal_is_refused() {
    let f = start();
    for target in [
        "/../secret",
        "/log/../../secret",
        "/%2e%2e/secret",
        "/%2E%2E/secret",
        "/.%2e/secret",
        "/log/%2e%2e/%2e%2e/secret",
        "/%2e%2e%2fsecret",
        "/log%2f..%2f..%2fsecret",
        "/log/..%2f..%2fsecret",
        "/..%5csecret",
        "/%5c..%5csecret",
        "/./data.bin",
        "//secret",
        "/log//checkpoint",
        "/%00",
        "/data.bin%00",
        "/up/secret",
        "/abs-link",
        "/rel-link",
    ] {
        let r = get(f.addr, target, &[]);
        assert!(matches!(r.status, 400 | 404), "{target}: {}", r.status);
        assert!(!r.body.windows(6).any(|w| w == b"SECRET"), "{target}");
        assert!(r.has("cache-control", "no-cache"), "{target}");
    }
    // Request targets that HTTP parsing itself refuses never reach a file either.
    for target in ["/..\\secret", "../secret", "*"] {
        let r = get(f.addr, target, &[]);
        assert!(matches!(r.status, 400 | 404), "{target}: {}", r.status);
    }
}

#[cfg(unix)]
#[test]
fn symlinks_only_inside_the_mount() {
    let f = start();
    assert_eq!(get(f.addr, "/abs-link", &[]).status, 404);
    assert_eq!(get(f.addr, "/rel-link", &[]).status, 404);
    assert_eq!(get(f.addr, "/up/secret", &[]).status, 404);
    // `site/log-link` leads to the /log mount's directory: outside `site`, so not served
    // through `/`, even though another mount serves it.
    assert_eq!(get(f.addr, "/log-link/checkpoint", &[]).status, 404);
    let r = get(f.addr, "/in-link", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, f.data);
}

#[test]
fn no_listings_hidden_files_or_index() {
    let f = start();
    for target in [
        "/",
        "/sub",
        "/sub/",
        "/log",
        "/log/",
        "/log/tile",
        "/feed/main",
    ] {
        assert_eq!(get(f.addr, target, &[]).status, 404, "{target}");
    }
    assert_eq!(get(f.addr, "/.hidden", &[]).status, 404);
    assert_eq!(get(f.addr, "/%2ehidden", &[]).status, 404);
    assert_eq!(get(f.addr, "/missing", &[]).status, 404);
    assert_eq!(get(f.addr, "/data.bin/x", &[]).status, 404);
    // Named explicitly, an HTML file is served like any other.
    let r = get(f.addr, "/sub/index.html", &[]);
    assert_eq!(r.status, 200);
    assert!(r.has("content-type", "text/html; charset=utf-8"));
}

#[test]
fn mounts_side_by_side() {
    let f = start();
    assert_eq!(get(f.addr, "/feed/main/x", &[]).body, b"feed x");
    assert_eq!(get(f.addr, "/feed/x", &[]).status, 404);
    assert_eq!(
        get(f.addr, "/log/checkpoint", &[]).body,
        b"example.org/log\n1\nAAAA\n"
    );
    // `/log` is its own mount: the site's directory has no `log`.
    assert_eq!(get(f.addr, "/logx", &[]).status, 404);
}

#[test]
fn cache_control_immutable_or_revalidate() {
    let f = start();
    let cc = |target: &str| {
        let r = get(f.addr, target, &[]);
        assert_eq!(r.status, 200, "{target}");
        r.header("cache-control").unwrap().to_string()
    };
    assert_eq!(cc("/log/tile/0/000"), IMMUTABLE);
    assert_eq!(cc("/log/tile/entries/000"), IMMUTABLE);
    assert_eq!(cc("/objects/ab/cdef"), IMMUTABLE);
    assert_eq!(cc("/log/checkpoint"), "no-cache");
    assert_eq!(cc("/log/tile/0/001.p/5"), "no-cache");
    assert_eq!(cc("/log/tile/entries/001.p/5"), "no-cache");
    assert_eq!(cc("/data.bin"), "no-cache");
    let r = get(f.addr, "/log/checkpoint", &[]);
    assert!(r.has("content-type", "text/plain; charset=utf-8"));
    // A 304 keeps the Cache-Control of the 200; an error revalidates.
    let etag = get(f.addr, "/log/tile/0/000", &[])
        .header("etag")
        .unwrap()
        .to_string();
    let r = get(f.addr, "/log/tile/0/000", &[("If-None-Match", &etag)]);
    assert_eq!(r.status, 304);
    assert!(r.has("cache-control", IMMUTABLE));
    let r = get(f.addr, "/log/tile/0/002", &[]);
    assert_eq!(r.status, 404);
    assert!(r.has("cache-control", "no-cache"));
}

#[test]
fn large_headers_are_refused() {
    let f = start();
    let huge = "a".repeat(1 << 20);
    let mut s = TcpStream::connect(f.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let req = format!("GET /data.bin HTTP/1.1\r\nHost: t\r\nX-Big: {huge}\r\n\r\n");
    // The server may close before it has read everything.
    let _ = s.write_all(req.as_bytes());
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    if !buf.is_empty() {
        assert_eq!(parse(&buf).status, 431);
    }
}

#[test]
fn big_file_streams() {
    let f = start();
    let size: u64 = 64 << 20;
    let mut s = TcpStream::connect(f.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    s.write_all(b"GET /big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Read the head, then count the body without keeping it.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let r = parse(&head);
    assert_eq!(r.status, 200);
    assert!(r.has("content-length", &size.to_string()));
    let mut total = 0u64;
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = s.read(&mut chunk).unwrap();
        if n == 0 {
            break;
        }
        assert!(chunk[..n].iter().all(|&b| b == 0));
        total += n as u64;
    }
    assert_eq!(total, size);

    // A range deep inside it.
    let r = get(f.addr, "/big", &[("Range", "bytes=50000000-50000099")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body.len(), 100);
    assert!(r.has("content-range", &format!("bytes 50000000-50000099/{size}")));
}

#[test]
fn last_modified_is_never_in_the_future() {
    let f = start();
    let path = f._tmp.path().join("site/future");
    write(&path, b"x");
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(86400 * 365))
        .unwrap();
    let r = get(f.addr, "/future", &[]);
    assert_eq!(r.status, 200);
    let lm = r.header("last-modified").unwrap();
    let date = r.header("date").unwrap();
    let secs = |s: &str| detente_serve::decide::parse_http_date(s).unwrap_or_else(|| panic!("{s}"));
    assert!(secs(lm) <= secs(date) + 1, "{lm} vs {date}");
}
