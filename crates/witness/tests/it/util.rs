//! Test support: real logs (detente-tlog trees signed with detente-note
//! keys), a witness server on 127.0.0.1, and a minimal HTTP/1.1 client.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use detente_note::{
    Checkpoint, CosignatureVerifier, Ed25519Signer, Note, SignedCheckpoint, Verifier as _,
    Verifiers,
};
use detente_tlog::{leaf_hash, prove_consistency, stored_hashes_for_leaf, tree_hash, Hash};
use detente_witness::{encode_request, Witness};

/// A log: an Ed25519 key and a Merkle tree whose leaves are `tag || index`.
pub struct TestLog {
    pub origin: String,
    pub signer: Ed25519Signer,
    stored: Vec<Hash>,
    size: u64,
    tag: u8,
}

impl TestLog {
    /// A log named `origin` with `n` leaves; `seed` picks its key.
    pub fn new(origin: &str, seed: u8, n: u64) -> TestLog {
        let signer = Ed25519Signer::from_seed(origin, [seed; 32]).unwrap();
        let mut l = TestLog {
            origin: origin.to_owned(),
            signer,
            stored: Vec::new(),
            size: 0,
            tag: 0,
        };
        l.grow(n);
        l
    }

    /// The same log key and the first `at` leaves, then different leaves:
    /// a fork, signed by the same key.
    pub fn fork(&self, at: u64, tag: u8, n: u64) -> TestLog {
        assert!(at <= self.size && at <= n);
        let mut f = TestLog {
            origin: self.origin.clone(),
            signer: Ed25519Signer::parse(&self.signer.to_private_text()).unwrap(),
            stored: Vec::new(),
            size: 0,
            tag: self.tag,
        };
        f.grow(at);
        f.tag = tag;
        f.grow(n - at);
        f
    }

    /// Appends `n` leaves.
    pub fn grow(&mut self, n: u64) {
        for _ in 0..n {
            let mut entry = vec![self.tag];
            entry.extend_from_slice(&self.size.to_be_bytes());
            let hs = stored_hashes_for_leaf(self.size, leaf_hash(&entry), &self.stored).unwrap();
            self.stored.extend(hs);
            self.size += 1;
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn vkey(&self) -> String {
        self.signer.verifier().to_string()
    }

    pub fn root(&self, size: u64) -> Hash {
        if size == 0 {
            return Hash::EMPTY;
        }
        tree_hash(size, &self.stored).unwrap()
    }

    /// The checkpoint note of size `size`, signed by the log key.
    pub fn checkpoint(&self, size: u64) -> Vec<u8> {
        let cp = Checkpoint::new(&self.origin, size, self.root(size)).unwrap();
        let mut sc = SignedCheckpoint::unsigned(cp).unwrap();
        sc.note.sign(&self.signer).unwrap();
        sc.to_bytes()
    }

    /// Consistency proof from `old` to `new` (empty from 0 or for equal sizes).
    pub fn proof(&self, old: u64, new: u64) -> Vec<Hash> {
        if old == 0 || old == new {
            return Vec::new();
        }
        prove_consistency(old, new, &self.stored).unwrap()
    }

    /// A complete, valid add-checkpoint body from `old` to `new`.
    pub fn request(&self, old: u64, new: u64) -> Vec<u8> {
        encode_request(old, &self.proof(old, new), &self.checkpoint(new))
    }
}

/// A fresh witness named `name` in `dir`, trusting `logs`.
pub fn witness(dir: &Path, name: &str, logs: &[&TestLog]) -> (Witness, Vec<String>) {
    let vkeys = Witness::init(dir, name).unwrap();
    let w = Witness::open(dir).unwrap();
    for l in logs {
        w.add_log(&l.origin, &l.vkey()).unwrap();
    }
    (w, vkeys)
}

/// The witness's cosignature verifiers, from its vkeys.
pub fn cosig_verifiers(vkeys: &[String]) -> Verifiers {
    let mut v = Verifiers::new();
    for k in vkeys {
        v.add(CosignatureVerifier::parse(k).unwrap()).unwrap();
    }
    v
}

/// Checks that a 200 body holds exactly one valid cosignature per witness
/// key on `note`, and returns their timestamps.
pub fn check_cosignatures(note: &[u8], body: &[u8], vkeys: &[String]) -> Vec<u64> {
    let body = std::str::from_utf8(body).unwrap();
    assert!(body.ends_with('\n'));
    assert_eq!(body.lines().count(), vkeys.len(), "{body}");
    let mut full = note.to_vec();
    full.extend_from_slice(body.as_bytes());
    let n = Note::parse(&full).unwrap();
    let v = cosig_verifiers(vkeys);
    let ver = n.verify(&v).unwrap();
    let mut times = Vec::new();
    for k in vkeys {
        let cv = CosignatureVerifier::parse(k).unwrap();
        assert!(ver.is_verified(cv.name(), cv.key_id()), "{k}");
        let sig = n
            .signatures()
            .iter()
            .find(|s| s.name() == cv.name() && s.id() == cv.key_id())
            .unwrap();
        times.push(detente_note::cosignature_timestamp(sig).unwrap());
    }
    times
}

/// A witness served over HTTP on 127.0.0.1 from a background runtime.
pub struct Server {
    pub addr: SocketAddr,
    _rt: tokio::runtime::Runtime,
}

impl Server {
    pub fn start(w: &Witness) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(w.clone().serve(listener));
        Server { addr, _rt: rt }
    }
}

/// An HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// A keep-alive HTTP/1.1 connection.
pub struct Client {
    r: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> std::io::Result<Client> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        Ok(Client {
            r: BufReader::new(s),
        })
    }

    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> std::io::Result<Resp> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: witness.test\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut msg = head.into_bytes();
        msg.extend_from_slice(body);
        // The server may answer (413) and stop reading early: still read the answer.
        let write = self.r.get_mut().write_all(&msg);
        match self.read_response() {
            Ok(r) => Ok(r),
            Err(e) => write.and(Err(e)),
        }
    }

    fn read_response(&mut self) -> std::io::Result<Resp> {
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
        let (mut len, mut chunked, mut content_type) = (None, false, None);
        loop {
            line.clear();
            self.r.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').ok_or_else(|| bad("header"))?;
            let (k, v) = (k.to_ascii_lowercase(), v.trim());
            match k.as_str() {
                "content-length" => len = v.parse::<usize>().ok(),
                "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                "content-type" => content_type = Some(v.to_owned()),
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
        Ok(Resp {
            status,
            content_type,
            body,
        })
    }
}

/// One request on a fresh connection.
pub fn post(addr: SocketAddr, body: &[u8]) -> Resp {
    Client::connect(addr)
        .unwrap()
        .request("POST", "/add-checkpoint", body)
        .unwrap()
}

/// Small deterministic PRNG (xorshift64*), for reproducible request mixes.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
