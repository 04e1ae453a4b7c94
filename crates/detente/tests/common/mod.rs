//! Helpers the command-line test binaries share: running `detente`, servers that stop when
//! dropped, a witness on a free port, and snapshots of a directory for before/after checks.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `detente` binary under test.
pub fn detente() -> Command {
    Command::new(env!("CARGO_BIN_EXE_detente"))
}

/// Runs `detente ARGS`.
pub fn run(args: &[&str]) -> Output {
    detente().args(args).output().expect("run detente")
}

/// Runs `detente ARGS`, which must succeed; returns its standard output.
pub fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "detente {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A child process, killed when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free 127.0.0.1 address (`127.0.0.1:PORT`) for a server to listen on.
pub fn free_addr() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// Waits until something listens on `addr` (at most 20 s).
pub fn wait_for(addr: &str) {
    let t = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "nothing listens on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `detente witness serve DIR` on a free 127.0.0.1 port; returns it and its address.
pub fn serve_witness(dir: &str) -> (Server, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let server = Server(
        detente()
            .args(["witness", "serve", dir, "--listen", &addr])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(&addr);
    (server, addr)
}

/// Every file below `dir` with its bytes (a symbolic link with its target), sorted.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            let name = p.display().to_string();
            if md.is_dir() {
                stack.push(p);
            } else if md.file_type().is_symlink() {
                let target = std::fs::read_link(&p).unwrap();
                out.push((name, target.display().to_string().into_bytes()));
            } else {
                out.push((name, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Creates and starts one witness per name (in `root/<name>`, named `<name>.example`), each
/// following the log `origin` with key `vkey`; returns the servers and the tlog-policy lines
/// (`log`, then `witness NAME VKEY URL` each), without groups or quorum.
pub fn witnesses_for(
    root: &Path,
    names: &[&str],
    origin: &str,
    vkey: &str,
) -> (Vec<Server>, String) {
    let mut servers = Vec::new();
    let mut policy = format!("log {vkey}\n");
    for name in names {
        let dir = root.join(name).display().to_string();
        let keys = ok(&[
            "witness",
            "init",
            &dir,
            "--name",
            &format!("{name}.example"),
        ]);
        let key = keys.lines().next().unwrap_or_default().to_string();
        ok(&[
            "witness", "add-log", &dir, "--origin", origin, "--key", vkey,
        ]);
        let (server, addr) = serve_witness(&dir);
        servers.push(server);
        policy += &format!("witness {name} {key} http://{addr}\n");
    }
    (servers, policy)
}

/// A fresh database on the test PostgreSQL server (scripts/test starts one).
pub fn fresh_pg_url() -> String {
    let admin = std::env::var("DETENTE_TEST_POSTGRES")
        .expect("DETENTE_TEST_POSTGRES is not set: run scripts/test, which starts PostgreSQL");
    detente_db::fresh_postgres_database(&admin).expect("a fresh PostgreSQL database")
}
