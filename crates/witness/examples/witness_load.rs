//! Load client for `bench/witness/run`: the same add-checkpoint load against detente's witness
//! and against the Go peer (`bench/witness/go`), over loopback HTTP/1.1 keep-alive.
//!
//! ```text
//! witness_load setup DIR        # DIR/logs.txt ("origin vkey" lines, for the Go peer) and
//!                               # DIR/detente (a detente witness dir trusting the same logs)
//! witness_load run ADDR [DIR]   # 8 logs in parallel, 250 sequential requests each, after one
//!                               # warm-up request each; prints one JSON line of results
//! ```
//!
//! The logs are deterministic (seeded keys, leaves `tag || index`), so `setup` and `run` agree
//! without sharing anything but the log keys, which are derived from the same seeds.
//! Environment: WITNESS_LOAD_LOGS (default 8), WITNESS_LOAD_REQS (default 250),
//! WITNESS_LOAD_VKEYS (a file of the witness's cosignature verifier keys, one a line: the
//! warm-up and last response of every log must carry a valid cosignature by each).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use detente_note::{
    Checkpoint, CosignatureVerifier, Ed25519Signer, Note, SignedCheckpoint, Verifier as _,
    Verifiers,
};
use detente_tlog::{leaf_hash, prove_consistency, stored_hashes_for_leaf, tree_hash, Hash};
use detente_witness::{encode_request, Witness};

/// A log: an Ed25519 key and a Merkle tree whose leaves are `tag || index`.
struct TestLog {
    origin: String,
    signer: Ed25519Signer,
    stored: Vec<Hash>,
    size: u64,
}

impl TestLog {
    fn new(origin: &str, seed: u8, n: u64) -> TestLog {
        let signer = Ed25519Signer::from_seed(origin, [seed; 32]).unwrap();
        let mut l = TestLog {
            origin: origin.to_owned(),
            signer,
            stored: Vec::new(),
            size: 0,
        };
        for _ in 0..n {
            let mut entry = vec![0u8];
            entry.extend_from_slice(&l.size.to_be_bytes());
            let hs = stored_hashes_for_leaf(l.size, leaf_hash(&entry), &l.stored).unwrap();
            l.stored.extend(hs);
            l.size += 1;
        }
        l
    }

    fn vkey(&self) -> String {
        self.signer.verifier().to_string()
    }

    fn root(&self, size: u64) -> Hash {
        if size == 0 {
            return Hash::EMPTY;
        }
        tree_hash(size, &self.stored).unwrap()
    }

    fn checkpoint(&self, size: u64) -> Vec<u8> {
        let cp = Checkpoint::new(&self.origin, size, self.root(size)).unwrap();
        let mut sc = SignedCheckpoint::unsigned(cp).unwrap();
        sc.note.sign(&self.signer).unwrap();
        sc.to_bytes()
    }

    fn request(&self, old: u64, new: u64) -> Vec<u8> {
        let proof = if old == 0 || old == new {
            Vec::new()
        } else {
            prove_consistency(old, new, &self.stored).unwrap()
        };
        encode_request(old, &proof, &self.checkpoint(new))
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn logs(n: usize, reqs: u64) -> Vec<TestLog> {
    (0..n)
        .map(|i| TestLog::new(&format!("bench.example/log{i}"), i as u8 + 1, reqs + 1))
        .collect()
}

/// A keep-alive HTTP/1.1 connection (content-length or chunked responses).
struct Client {
    r: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr) -> std::io::Result<Client> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        Ok(Client {
            r: BufReader::new(s),
        })
    }

    fn post(&mut self, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        let mut msg = format!(
            "POST {path} HTTP/1.1\r\nHost: witness.test\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        msg.extend_from_slice(body);
        self.r.get_mut().write_all(&msg)?;
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
        let mut line = String::new();
        if self.r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("status line"))?;
        let (mut len, mut chunked) = (None, false);
        loop {
            line.clear();
            self.r.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').ok_or_else(|| bad("header"))?;
            match k.to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse::<usize>().ok(),
                "transfer-encoding" => chunked = v.trim().eq_ignore_ascii_case("chunked"),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.r.read_line(&mut line)?;
                let n = usize::from_str_radix(line.trim(), 16).map_err(|_| bad("chunk"))?;
                let mut chunk = vec![0; n + 2];
                self.r.read_exact(&mut chunk)?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else {
            body.resize(len.unwrap_or(0), 0);
            self.r.read_exact(&mut body)?;
        }
        Ok((status, body))
    }
}

fn setup(dir: &Path, n: usize, reqs: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let logs = logs(n, reqs);
    let mut cfg = String::new();
    for l in &logs {
        cfg.push_str(&format!("{} {}\n", l.origin, l.vkey()));
    }
    std::fs::write(dir.join("logs.txt"), cfg).unwrap();
    let wdir = dir.join("detente");
    let vkeys = Witness::init(&wdir, "bench.example/detente-witness").unwrap();
    std::fs::write(dir.join("detente.vkeys"), vkeys.join("\n") + "\n").unwrap();
    let w = Witness::open(&wdir).unwrap();
    for l in &logs {
        w.add_log(&l.origin, &l.vkey()).unwrap();
    }
    eprintln!(
        "{}: {} logs, witness dir {}",
        dir.display(),
        n,
        wdir.display()
    );
}

/// Checks that `resp` holds a valid cosignature on `note` by every key in `vkeys`.
fn check_cosignatures(note: &[u8], resp: &[u8], vkeys: &[String]) {
    let mut full = note.to_vec();
    full.extend_from_slice(resp);
    let n = Note::parse(&full).expect("note with cosignatures");
    let mut v = Verifiers::new();
    for k in vkeys {
        v.add(CosignatureVerifier::parse(k).expect("cosignature vkey"))
            .unwrap();
    }
    let ver = n.verify(&v).expect("cosignature verification");
    for k in vkeys {
        let cv = CosignatureVerifier::parse(k).unwrap();
        assert!(
            ver.is_verified(cv.name(), cv.key_id()),
            "no valid cosignature by {k}"
        );
    }
}

fn run(addr: SocketAddr, n: usize, reqs: u64) {
    let logs = logs(n, reqs);
    let vkeys: Arc<Vec<String>> = Arc::new(match std::env::var_os("WITNESS_LOAD_VKEYS") {
        Some(p) => std::fs::read_to_string(p)
            .expect("WITNESS_LOAD_VKEYS")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_owned())
            .collect(),
        None => Vec::new(),
    });
    let checkpoints: Vec<(Vec<u8>, Vec<u8>)> = logs
        .iter()
        .map(|l| (l.checkpoint(0), l.checkpoint(reqs)))
        .collect();
    // Bodies prepared up front: body 0 is the warm-up (old 0, size 0); body s advances to s.
    let bodies: Vec<Vec<Vec<u8>>> = logs
        .iter()
        .map(|l| {
            (0..=reqs)
                .map(|s| l.request(s.saturating_sub(1), s))
                .collect()
        })
        .collect();
    let barrier = Arc::new(Barrier::new(n + 1));
    let handles: Vec<_> = bodies
        .into_iter()
        .zip(checkpoints)
        .map(|(bodies, (first, last))| {
            let (b, vkeys) = (barrier.clone(), vkeys.clone());
            std::thread::spawn(move || {
                let mut c = Client::connect(addr).expect("connect");
                let (st, body) = c.post("/add-checkpoint", &bodies[0]).expect("warm-up");
                assert_eq!(st, 200, "warm-up: {}", String::from_utf8_lossy(&body));
                check_cosignatures(&first, &body, &vkeys);
                b.wait();
                let mut lat = Vec::with_capacity(bodies.len());
                let mut cosig_lines = 0;
                let mut resp_last = Vec::new();
                for body in &bodies[1..] {
                    let t = Instant::now();
                    let (st, resp) = c.post("/add-checkpoint", body).expect("request");
                    lat.push(t.elapsed());
                    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&resp));
                    let text = std::str::from_utf8(&resp).expect("utf-8 response");
                    assert!(text.starts_with("— ") && text.ends_with('\n'), "{text}");
                    cosig_lines = text.lines().count();
                    resp_last = resp;
                }
                (lat, cosig_lines, last, resp_last)
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut lat: Vec<Duration> = Vec::new();
    let mut cosigs = 0;
    let verified = vkeys.len();
    let mut last = Vec::new();
    for h in handles {
        let (l, c, note, resp) = h.join().unwrap();
        lat.extend(l);
        cosigs = c;
        last.push((note, resp));
    }
    let wall = start.elapsed();
    // Checked after the clock stops: the last response of every log.
    for (note, resp) in &last {
        check_cosignatures(note, resp, &vkeys);
    }
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let pct = |p: f64| ms(lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)]);
    println!(
        "{{\"logs\": {n}, \"requests\": {}, \"wall_s\": {:.4}, \"req_per_s\": {:.1}, \
         \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \"max_ms\": {:.3}, \"mean_ms\": {:.3}, \
         \"cosignature_lines\": {cosigs}, \"verified_keys\": {verified}}}",
        lat.len(),
        wall.as_secs_f64(),
        lat.len() as f64 / wall.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        ms(lat[lat.len() - 1]),
        lat.iter().map(|d| ms(*d)).sum::<f64>() / lat.len() as f64,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = env("WITNESS_LOAD_LOGS", 8) as usize;
    let reqs = env("WITNESS_LOAD_REQS", 250);
    match args.get(1).map(String::as_str) {
        Some("setup") if args.len() == 3 => setup(Path::new(&args[2]), n, reqs),
        Some("run") if args.len() >= 3 => {
            let addr = args[2]
                .to_socket_addrs()
                .expect("address")
                .next()
                .expect("address");
            run(addr, n, reqs)
        }
        _ => {
            eprintln!("usage: witness_load setup DIR | witness_load run ADDR [DIR]");
            std::process::exit(2);
        }
    }
}
