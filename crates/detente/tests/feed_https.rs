//! `detente update` over HTTPS (rustls): from a feed served by a TLS server whose certificate
//! chains to a test CA, accepted when that CA is trusted (`SSL_CERT_FILE`) and refused when it
//! is not (the system's roots only). Needs openssl and python3, which scripts/test installs:
//! missing tools fail the test.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn sh(cmd: &str, dir: &std::path::Path) {
    let st = Command::new("sh")
        .args(["-c", cmd])
        .current_dir(dir)
        .stderr(Stdio::null())
        .status()
        .expect("sh");
    assert!(st.success(), "{cmd}");
}

#[test]
fn update_over_https_trusts_only_the_configured_roots() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let p = |s: &str| d.join(s).display().to_string();
    // A test CA and a server certificate for 127.0.0.1.
    sh(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
         -subj '/CN=detente test CA' -addext basicConstraints=critical,CA:TRUE \
         -addext keyUsage=critical,keyCertSign \
         && openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 \
         && printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > ext \
         && openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem \
            -days 2 -extfile ext",
        d,
    );
    // A feed with one witness.
    let vkey = ok(&["feed", "init", &p("feed"), "--origin", "example.org/tls"])
        .trim()
        .to_string();
    let wkey = ok(&["witness", "init", &p("w"), "--name", "w.example"])
        .lines()
        .next()
        .unwrap()
        .to_string();
    ok(&[
        "witness",
        "add-log",
        &p("w"),
        "--origin",
        "example.org/tls",
        "--key",
        &vkey,
    ]);
    let (_w, addr) = serve_witness(&p("w"));
    std::fs::write(
        p("witnesses"),
        format!("log {vkey}\nwitness w {wkey} http://{addr}\nquorum w\n"),
    )
    .unwrap();
    std::fs::write(p("main.ndb"), "Tls.Sig:0:*:746c7320736967\n").unwrap();
    ok(&[
        "feed",
        "publish",
        &p("feed"),
        &p("main.ndb"),
        "--policy",
        &p("witnesses"),
    ]);

    // The HTTPS server (python's, with the test certificate), on a free port it prints.
    let server = format!(
        "import http.server, ssl, functools\n\
         h = functools.partial(http.server.SimpleHTTPRequestHandler, directory={:?})\n\
         s = http.server.HTTPServer(('127.0.0.1', 0), h)\n\
         c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
         c.load_cert_chain({:?}, {:?})\n\
         s.socket = c.wrap_socket(s.socket, server_side=True)\n\
         print(s.server_address[1], flush=True)\n\
         s.serve_forever()\n",
        p("feed/log"),
        p("srv.pem"),
        p("srv.key")
    );
    let mut child = Command::new("python3")
        .args(["-c", &server])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 must be installed");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _https = Server(child);
    let url = format!("https://127.0.0.1:{}/", line.trim());
    let trust = ok(&[
        "feed",
        "trust",
        &p("feed"),
        "--url",
        &url,
        "--policy",
        &p("witnesses"),
    ]);
    std::fs::write(p("trust"), trust).unwrap();

    // Not trusted: refused, nothing installed.
    let o = detente()
        .args(["update", "--trust", &p("trust"), "--dir", &p("untrusting")])
        .env_remove("SSL_CERT_FILE")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(!d.join("untrusting/db").exists());
    // Trusted: installed.
    let o = detente()
        .args(["update", "--trust", &p("trust"), "--dir", &p("client")])
        .env("SSL_CERT_FILE", p("ca.pem"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("fresh install"), "{out}");
    assert_eq!(
        std::fs::read(d.join("client/db/main.ndb")).unwrap(),
        b"Tls.Sig:0:*:746c7320736967\n"
    );
}
