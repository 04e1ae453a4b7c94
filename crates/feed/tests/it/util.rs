//! Test support: a real feed (a detente-tlog Merkle tree of signed manifest
//! notes, a log key, a publisher key, six witnesses in three jurisdictions),
//! a mirror serving it (honestly or not) and a client that runs the whole
//! sans-IO update flow against a mirror.

#![allow(dead_code)]

use std::collections::BTreeMap;

use detente_feed::*;
use detente_note::{Checkpoint, Cosigner, Ed25519Signer, SignedCheckpoint};
use detente_tlog::{
    leaf_hash, prove_consistency, prove_inclusion, stored_hashes_for_leaf, tree_hash, Hash,
};

/// A fixed "now" around which the tests run (2027-01-15).
pub const T0: u64 = 1_800_000_000;
pub const DAY: u64 = 86_400;
/// The trust files' max-age and max-ahead.
pub const MAX_AGE: u64 = 6 * 3600;
pub const MAX_AHEAD: u64 = 10;
/// Release lifetime.
pub const TTL: u64 = 7 * DAY;

/// Witness policy names; `as1` is ML-DSA-44, the others Ed25519.
pub const WITNESSES: [&str; 6] = ["eu1", "eu2", "us1", "us2", "as1", "as2"];
/// One witness per jurisdiction: a quorum.
pub const QUORUM: [&str; 3] = ["eu1", "us1", "as1"];

/// A log: entries and their stored hashes.
#[derive(Clone, Default)]
pub struct Tree {
    pub entries: Vec<Vec<u8>>,
    pub stored: Vec<Hash>,
}

impl Tree {
    pub fn append(&mut self, entry: &[u8]) -> u64 {
        let i = self.entries.len() as u64;
        let hs = stored_hashes_for_leaf(i, leaf_hash(entry), &self.stored).unwrap();
        self.stored.extend(hs);
        self.entries.push(entry.to_vec());
        i
    }
    pub fn size(&self) -> u64 {
        self.entries.len() as u64
    }
    pub fn root(&self, size: u64) -> Hash {
        if size == 0 {
            return Hash::EMPTY;
        }
        tree_hash(size, &self.stored).unwrap()
    }
    pub fn consistency(&self, old: u64, new: u64) -> Vec<Hash> {
        if old == 0 || old == new {
            return Vec::new();
        }
        prove_consistency(old, new, &self.stored).unwrap()
    }
    pub fn inclusion(&self, index: u64, size: u64) -> Inclusion {
        Inclusion {
            index,
            proof: prove_inclusion(size, index, &self.stored).unwrap(),
        }
    }
}

/// One published release.
#[derive(Clone)]
pub struct Published {
    pub manifest: Manifest,
    pub note: Vec<u8>,
    pub index: u64,
    pub files: Vec<(String, Vec<u8>)>,
    pub objects: BTreeMap<String, Vec<u8>>,
}

/// A feed: its log, keys and witnesses.
pub struct Feed {
    pub origin: String,
    pub log_key: Ed25519Signer,
    pub publisher: Ed25519Signer,
    pub witnesses: Vec<(String, Cosigner)>,
    pub tree: Tree,
    pub releases: Vec<Published>,
    pub objects: BTreeMap<String, Vec<u8>>,
}

impl Feed {
    /// A feed named `origin`; `seed` picks the log key, the publisher key is
    /// shared by every feed (one publisher running several feeds).
    pub fn new(origin: &str, seed: u8) -> Feed {
        let witnesses = WITNESSES
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let key_name = format!("{name}.witness.example");
                let seed = [100 + i as u8; 32];
                let c = if *name == "as1" {
                    Cosigner::mldsa44_from_seed(&key_name, seed).unwrap()
                } else {
                    Cosigner::ed25519_from_seed(&key_name, seed).unwrap()
                };
                (name.to_string(), c)
            })
            .collect();
        Feed {
            origin: origin.to_owned(),
            log_key: Ed25519Signer::from_seed(origin, [seed; 32]).unwrap(),
            publisher: Ed25519Signer::from_seed("publisher.example", [7; 32]).unwrap(),
            witnesses,
            tree: Tree::default(),
            releases: Vec::new(),
            objects: BTreeMap::new(),
        }
    }

    /// The trust file: three jurisdictions, two of which must cosign.
    pub fn trust_text(&self) -> String {
        let mut t = format!(
            "# test feed\nfeed-url https://feed.example/\nfeed-url /media/usb/feed\n\
             publisher {}\nmax-age {MAX_AGE}\nmax-ahead {MAX_AHEAD}\n\nlog {}\n",
            self.publisher.verifier(),
            self.log_key.verifier()
        );
        for (name, c) in &self.witnesses {
            t += &format!("witness {name} {}\n", c.verifier());
        }
        t += "group eu any eu1 eu2\ngroup us any us1 us2\ngroup asia any as1 as2\n\
              group world 2 eu us asia\nquorum world\n";
        t
    }

    pub fn trust(&self) -> Trust {
        Trust::parse(self.trust_text().as_bytes()).unwrap()
    }

    pub fn witness(&self, name: &str) -> &Cosigner {
        &self.witnesses.iter().find(|w| w.0 == name).unwrap().1
    }

    /// Makes, signs and logs the next release; incremental from the last
    /// release when `incremental`.
    pub fn publish(
        &mut self,
        files: &[(&str, &[u8])],
        created: u64,
        incremental: bool,
    ) -> Published {
        let prev = self.releases.last();
        let base: Option<Vec<(&str, &[u8])>> = prev.filter(|_| incremental).map(|p| {
            p.files
                .iter()
                .map(|(n, b)| (n.as_str(), b.as_slice()))
                .collect()
        });
        let rel = next_manifest(
            &self.origin,
            prev.map(|p| &p.manifest),
            files,
            base.as_deref(),
            created,
            TTL,
        )
        .unwrap();
        let note = rel.manifest.sign(&self.publisher).unwrap();
        self.log_signed(rel.manifest, note, files, &rel.objects)
    }

    /// Logs a manifest the caller built, with its files.
    pub fn publish_manifest(&mut self, m: Manifest, files: &[(&str, &[u8])]) -> Published {
        let note = m.sign(&self.publisher).unwrap();
        let objects: Vec<Object> = files
            .iter()
            .map(|(_, b)| Object {
                sha256: *Entry::for_bytes("x", b).unwrap().sha256(),
                bytes: b.to_vec(),
            })
            .collect();
        self.log_signed(m, note, files, &objects)
    }

    fn log_signed(
        &mut self,
        manifest: Manifest,
        note: Vec<u8>,
        files: &[(&str, &[u8])],
        objects: &[Object],
    ) -> Published {
        let index = self.tree.append(&note);
        let objects: BTreeMap<String, Vec<u8>> = objects
            .iter()
            .map(|o| (o.name(), o.bytes.clone()))
            .collect();
        self.objects.extend(objects.clone());
        let p = Published {
            manifest,
            note,
            index,
            files: files
                .iter()
                .map(|(n, b)| (n.to_string(), b.to_vec()))
                .collect(),
            objects,
        };
        self.releases.push(p.clone());
        p
    }

    /// The checkpoint of size `size`, signed by the log and cosigned by the
    /// named witnesses at the given times.
    pub fn checkpoint(&self, size: u64, cosigners: &[(&str, u64)]) -> Vec<u8> {
        sign_checkpoint(
            &self.origin,
            &self.log_key,
            size,
            self.tree.root(size),
            |sc| {
                for (name, t) in cosigners {
                    sc.note.sign(&self.witness(name).at(*t)).unwrap();
                }
            },
        )
    }

    /// The latest checkpoint, cosigned by a quorum at `t`.
    pub fn head(&self, t: u64) -> Vec<u8> {
        let c: Vec<(&str, u64)> = QUORUM.iter().map(|n| (*n, t)).collect();
        self.checkpoint(self.tree.size(), &c)
    }

    /// An honest mirror of the latest release, checkpoint cosigned at `t`.
    pub fn mirror(&self, t: u64) -> Mirror {
        let last = self.releases.last().unwrap();
        let size = self.tree.size();
        Mirror {
            checkpoint: self.head(t),
            tree: self.tree.clone(),
            consistency: None,
            manifest: last.note.clone(),
            inclusion: self.tree.inclusion(last.index, size),
            objects: self.objects.clone(),
            extra_files: Vec::new(),
        }
    }
}

/// A checkpoint for any origin, key and root; `cosign` adds cosignatures.
pub fn sign_checkpoint(
    origin: &str,
    key: &Ed25519Signer,
    size: u64,
    root: Hash,
    cosign: impl FnOnce(&mut SignedCheckpoint),
) -> Vec<u8> {
    let mut sc = SignedCheckpoint::unsigned(Checkpoint::new(origin, size, root).unwrap()).unwrap();
    sc.note.sign(key).unwrap();
    cosign(&mut sc);
    sc.to_bytes()
}

/// What a mirror (or an attacker posing as one) serves.
#[derive(Clone)]
pub struct Mirror {
    pub checkpoint: Vec<u8>,
    /// The tree behind the checkpoint, for consistency proofs (a tile server).
    pub tree: Tree,
    /// A consistency proof to serve instead of the tree's.
    pub consistency: Option<Vec<Hash>>,
    pub manifest: Vec<u8>,
    pub inclusion: Inclusion,
    /// Content-addressed objects by hex SHA-256.
    pub objects: BTreeMap<String, Vec<u8>>,
    /// Files the mirror's release directory holds beyond the manifest's.
    pub extra_files: Vec<(String, Vec<u8>)>,
}

/// Download chunk size of the test client.
pub const CHUNK: usize = 64 * 1024;

/// An endpoint: its trust file, state and installed database.
#[derive(Clone)]
pub struct Client {
    pub trust: Trust,
    pub state: Option<ClientState>,
    pub installed: BTreeMap<String, Vec<u8>>,
    /// Object bytes read by successful updates.
    pub downloaded: u64,
    /// Object bytes read by the last update attempt.
    pub last_read: u64,
}

impl Client {
    pub fn new(trust: Trust) -> Client {
        Client {
            trust,
            state: None,
            installed: BTreeMap::new(),
            downloaded: 0,
            last_read: 0,
        }
    }

    /// The whole update: verify, fetch (streaming, bounded), assemble, and
    /// only then install and store the state. The state goes through its
    /// text form, as it would through a file.
    pub fn update(&mut self, m: &Mirror, now: u64) -> Result<Accepted, Refusal> {
        self.last_read = 0;
        let new_size = SignedCheckpoint::parse(&m.checkpoint)
            .map(|c| c.checkpoint.size())
            .unwrap_or(0);
        let proof = m.consistency.clone().unwrap_or_else(|| match &self.state {
            Some(s) if s.size() > 0 && s.size() < new_size && new_size <= m.tree.size() => {
                m.tree.consistency(s.size(), new_size)
            }
            _ => Vec::new(),
        });
        let acc = verify_update(
            &self.trust,
            self.state.as_ref(),
            &m.checkpoint,
            &proof,
            &m.manifest,
            &m.inclusion,
            now,
        )?;
        for (name, bytes) in &m.extra_files {
            acc.check_file(name, bytes)?;
        }
        let mut new = BTreeMap::new();
        let mut read = 0u64;
        for f in &acc.fetch {
            let want = f.download();
            let obj = m
                .objects
                .get(&want.sha256_hex())
                .ok_or_else(|| Refusal::Malformed(format!("mirror lacks {}", want.name())))?;
            // Stream it, as from a socket: stop at the first chunk past the size.
            let mut check = FileCheck::new(want);
            let mut body = Vec::new();
            for chunk in obj.chunks(CHUNK) {
                read += chunk.len() as u64;
                self.last_read = read;
                check.update(chunk)?;
                body.extend_from_slice(chunk);
            }
            check.finish()?;
            let old = self.installed.get(f.file().name()).map(Vec::as_slice);
            new.insert(f.file().name().to_owned(), f.assemble(old, &body)?);
        }
        // Install: the new directory replaces the old one as a whole.
        self.installed = new;
        self.state = Some(ClientState::parse(&acc.state.to_bytes()).unwrap());
        self.downloaded += read;
        Ok(acc)
    }

    /// A snapshot of everything a refusal must leave untouched.
    pub fn snapshot(&self) -> (Option<Vec<u8>>, BTreeMap<String, Vec<u8>>) {
        (
            self.state.as_ref().map(ClientState::to_bytes),
            self.installed.clone(),
        )
    }

    /// Runs an update that must be refused; checks nothing changed and
    /// prints the refusal's message.
    pub fn refuse(&mut self, m: &Mirror, now: u64) -> Refusal {
        let before = self.snapshot();
        let r = match self.update(m, now) {
            Ok(a) => panic!("update accepted: version {}", a.manifest.version()),
            Err(r) => r,
        };
        assert_eq!(before, self.snapshot(), "a refusal changed the client");
        println!("refused: {r}");
        assert!(!r.to_string().is_empty());
        r
    }
}

/// Deterministic PRNG (xorshift64*).
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
    /// A random mutation of `data`: flip, insert, delete, duplicate a span,
    /// or splice in a byte that parsers care about.
    pub fn mutate(&mut self, data: &[u8]) -> Vec<u8> {
        let mut d = data.to_vec();
        for _ in 0..=self.below(3) {
            let len = d.len() as u64;
            let at = if len == 0 {
                0
            } else {
                self.below(len) as usize
            };
            match self.below(6) {
                0 if !d.is_empty() => d[at] ^= 1 << self.below(8),
                1 => {
                    let special = b" \n\r\t0+-.:9a\xff\x00";
                    d.insert(at, special[self.below(special.len() as u64) as usize]);
                }
                2 if !d.is_empty() => {
                    d.remove(at);
                }
                3 if !d.is_empty() => {
                    let end = (at + 1 + self.below(40) as usize).min(d.len());
                    let span = d[at..end].to_vec();
                    d.splice(at..at, span);
                }
                4 if !d.is_empty() => {
                    let end = (at + 1 + self.below(40) as usize).min(d.len());
                    d.drain(at..end);
                }
                _ => d.truncate(at),
            }
        }
        d
    }
}

/// A ClamAV-like hash database line: `md5:size:name`.
pub fn sig_line(tag: &str, i: u64) -> String {
    let mut h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut hex = String::with_capacity(32);
    for _ in 0..2 {
        h ^= h >> 31;
        h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h ^= h >> 29;
        hex += &format!("{h:016x}");
    }
    format!("{hex}:{}:Win.Trojan.{tag}-{i}-0\n", 1000 + i % 900_000)
}

/// A database of `n` signature lines.
pub fn db(tag: &str, range: std::ops::Range<u64>) -> Vec<u8> {
    range.flat_map(|i| sig_line(tag, i).into_bytes()).collect()
}

/// The standard scenario: v1 (full) at T0 and v2 (daily increment) at
/// T0 + DAY; a client that installed v1 at T0.
pub struct Scenario {
    pub feed: Feed,
    pub client: Client,
    /// When the client updates to v2.
    pub now: u64,
}

pub fn v1_files() -> Vec<(String, Vec<u8>)> {
    vec![
        ("daily.hdb".into(), db("Daily", 0..3000)),
        ("main.hdb".into(), db("Main", 0..5000)),
        (
            "safe.fp".into(),
            b"0123456789abcdef0123456789abcdef:12:ok.exe\n".to_vec(),
        ),
    ]
}

pub fn v2_files() -> Vec<(String, Vec<u8>)> {
    let mut daily = db("Daily", 0..3000);
    daily.extend(db("Daily", 3000..3040));
    let main = db("Main", 0..5000);
    // A signature removed, as a false-positive fix.
    let mut safe = b"0123456789abcdef0123456789abcdef:12:ok.exe\n".to_vec();
    safe.extend_from_slice(b"fedcba9876543210fedcba9876543210:34:ok2.exe\n");
    let main: Vec<u8> = String::from_utf8(main)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("Main-17-"))
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect();
    vec![
        ("daily.hdb".into(), daily),
        ("main.hdb".into(), main),
        ("safe.fp".into(), safe),
    ]
}

pub fn refs(files: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect()
}

impl Scenario {
    pub fn new() -> Scenario {
        let mut feed = Feed::new("example.com/feed", 1);
        feed.publish(&refs(&v1_files()), T0, false);
        let mut client = Client::new(feed.trust());
        client.update(&feed.mirror(T0 + 60), T0 + 120).unwrap();
        feed.publish(&refs(&v2_files()), T0 + DAY, true);
        Scenario {
            feed,
            client,
            now: T0 + DAY + 600,
        }
    }

    /// An honest mirror of the latest release, cosigned a minute ago.
    pub fn mirror(&self) -> Mirror {
        self.feed.mirror(self.now - 60)
    }
}
