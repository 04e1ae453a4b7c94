//! The log writer on a real S3 server: `s3s-fs` (an S3 implementation over a directory,
//! installed by `scripts/test`), started on 127.0.0.1 for the test.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use detente_log::{verify_log, LogWriter, Storage};
use detente_log_object::{ObjectStorage, S3Config};
use detente_note::{Ed25519Signer, Verifiers};

const ACCESS: &str = "detente-test-access";
const SECRET: &str = "detente-test-secret-key-0123456789";

fn s3s_fs() -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin")));
    for dir in candidates {
        let p = dir.join("s3s-fs");
        if p.is_file() {
            return p;
        }
    }
    panic!("s3s-fs not found: install it with `cargo install --locked s3s-fs --features binary` (scripts/test does)");
}

struct Server {
    child: Child,
    addr: SocketAddr,
    root: PathBuf,
}

impl Server {
    fn start(root: &Path, addr: Option<SocketAddr>) -> Server {
        let addr = addr.unwrap_or_else(|| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        });
        let child = Command::new(s3s_fs())
            .args(["--host", "127.0.0.1", "--port", &addr.port().to_string()])
            .args(["--access-key", ACCESS, "--secret-key", SECRET])
            .arg(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        let t = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "s3s-fs did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            child,
            addr,
            root: root.to_path_buf(),
        }
    }

    fn storage(&self) -> ObjectStorage {
        ObjectStorage::s3(&S3Config {
            endpoint: format!("http://{}", self.addr),
            bucket: "logs".into(),
            region: "us-east-1".into(),
            access_key_id: ACCESS.into(),
            secret_access_key: SECRET.into(),
            prefix: "detente/test".into(),
        })
        .unwrap()
    }

    fn kill(mut self) -> (PathBuf, SocketAddr) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        (self.root.clone(), self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed("detente.example/s3-log", [7; 32]).unwrap()
}

fn append(w: &mut LogWriter<ObjectStorage>, n: u64) {
    let start = w.size();
    let entries: Vec<Vec<u8>> = (start..start + n)
        .map(|i| format!("entry {i}").into_bytes())
        .collect();
    let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    w.append(&refs).unwrap();
}

#[test]
fn log_on_s3_survives_server_restart() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("logs")).unwrap(); // the bucket
    let server = Server::start(tmp.path(), None);
    let known = Verifiers::new().with(signer().verifier()).unwrap();

    let storage = server.storage();
    assert_eq!(storage.get("checkpoint").unwrap(), None);
    let mut w = LogWriter::create(storage, signer()).unwrap();
    for n in [1u64, 255, 300, 700] {
        append(&mut w, n);
    }
    let r = verify_log(w.storage(), &known).unwrap();
    assert_eq!(r.entries, 1256);
    // Full tiles superseded their partial versions, which are gone; only the partial tile
    // of the current size (1256 = 4 * 256 + 232) is left.
    let level0 = w.storage().list("tile/0/").unwrap();
    let partials: Vec<&String> = level0.iter().filter(|k| k.contains(".p/")).collect();
    assert_eq!(partials, ["tile/0/004.p/232"], "{level0:?}");
    drop(w);

    // kill -9 the server; the log is intact once it is back.
    let (root, addr) = server.kill();
    let server = Server::start(&root, Some(addr));
    let mut w = LogWriter::open(server.storage(), signer()).unwrap();
    assert_eq!(w.size(), 1256);
    append(&mut w, 44);
    let r = verify_log(w.storage(), &known).unwrap();
    assert_eq!(r.entries, 1300);
}
