//! Differential test against Go's golang.org/x/mod/sumdb/{note,tlog}.
//!
//! Builds `tests/go/interop.go` with the system `go` (GOPATH mode, the
//! Debian golang-golang-x-mod-dev tree) and checks both directions:
//! Go verifies detente's signed checkpoint, tiles, entry bundles and proofs;
//! detente verifies Go's signed checkpoint, keys, tiles and proofs.
//! A missing `go` fails the test: it is never skipped silently.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use detente_note::{
    Checkpoint, Cosigner, Ed25519Signer, SignedCheckpoint, Verifier, VerifierKey, Verifiers,
};
use detente_tlog::{
    append, encode_bundle, leaf_hash, new_bundles, new_tiles, prove_consistency, prove_inclusion,
    read_tile_data, stored_hashes_for_leaf, tree_hash, verify_consistency, verify_inclusion, Hash,
    Tile, TileHashReader, TileReader,
};

const GOPATH: &str = "/usr/share/gocode";

/// Builds the Go program once per test process (the tests run in parallel).
fn go_binary() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(build_go).clone()
}

fn build_go() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-interop");
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("interop");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go/interop.go");
    let out = Command::new("go")
        .arg("build")
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .env("GO111MODULE", "off")
        .env("GOPATH", GOPATH)
        .env("GOCACHE", dir.join("gocache"))
        .env("GOFLAGS", "")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "the Go interop test needs the `go` tool on PATH (and golang.org/x/mod \
                 under {GOPATH}, Debian package golang-golang-x-mod-dev): {e}"
            )
        });
    assert!(
        out.status.success(),
        "go build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

fn b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

fn hashes(p: &[Hash]) -> String {
    if p.is_empty() {
        "-".into()
    } else {
        p.iter()
            .map(|h| h.to_base64())
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn parse_hashes(s: &str) -> Vec<Hash> {
    if s == "-" {
        return vec![];
    }
    s.split(',')
        .map(|h| Hash::from_base64(h).unwrap())
        .collect()
}

struct Tiles(HashMap<Tile, Vec<u8>>);

impl TileReader for Tiles {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, detente_tlog::Error> {
        tiles
            .iter()
            .map(|t| {
                self.0
                    .get(t)
                    .cloned()
                    .ok_or(detente_tlog::Error::HashNotFound(0))
            })
            .collect()
    }
}

fn flip(p: &[Hash]) -> Vec<Hash> {
    let mut p = p.to_vec();
    p[0].0[31] ^= 0x80;
    p
}

#[test]
fn go_verifies_detente() {
    let bin = go_binary();
    const N: u64 = 700;
    let entries: Vec<Vec<u8>> = (0..N)
        .map(|i| format!("detente entry {i}").into_bytes())
        .collect();

    // Sequence in uneven batches, with tiles as the only storage.
    let mut tiles = Tiles(HashMap::new());
    let mut roots = HashMap::from([(0u64, Hash::EMPTY)]);
    let mut size = 0u64;
    for batch in [1u64, 2, 13, 240, 1, 255, 100, 88] {
        let leaves: Vec<Hash> = entries[size as usize..(size + batch) as usize]
            .iter()
            .map(|e| leaf_hash(e))
            .collect();
        let r = TileHashReader::new(8, size, &tiles).unwrap();
        let out = append(8, size, &leaves, &r).unwrap();
        tiles.0.extend(out.tiles);
        size += batch;
        roots.insert(size, out.root);
    }
    assert_eq!(size, N);
    let root = roots[&N];

    let log = Ed25519Signer::from_seed("detente.example/interop", [7; 32]).unwrap();
    let w1 = Cosigner::ed25519_from_seed("witness.example/ed", [8; 32]).unwrap();
    let w2 = Cosigner::mldsa44_from_seed("witness.example/pq", [9; 32]).unwrap();
    let mut sc =
        SignedCheckpoint::unsigned(Checkpoint::new("detente.example/interop", N, root).unwrap())
            .unwrap();
    sc.note.sign(&log).unwrap();
    sc.note.sign(&w1.at(1_750_000_000)).unwrap();
    sc.note.sign(&w2.at(1_750_000_000)).unwrap();

    let mut input = String::new();
    input += &format!("vkey {}\n", log.verifier());
    input += &format!("checkpoint {}\n", b64(&sc.to_bytes()));
    for e in &entries {
        input += &format!("entry {}\n", b64(e));
    }
    let final_tiles = new_tiles(8, 0, N).unwrap();
    for t in &final_tiles {
        input += &format!(
            "tile {} {} {} {}\n",
            t.level(),
            t.index(),
            t.width(),
            b64(&tiles.0[t])
        );
    }
    for b in new_bundles(0, N) {
        let first = b.first_entry() as usize;
        let data = encode_bundle(
            entries[first..first + b.width() as usize]
                .iter()
                .map(|e| e.as_slice()),
        )
        .unwrap();
        input += &format!("bundle {} {} {}\n", b.index(), b.width(), b64(&data));
    }
    let mut proofs = 0;
    let mut sizes: Vec<u64> = roots.keys().copied().filter(|&s| s > 0).collect();
    sizes.sort();
    for &t in &sizes {
        let r = TileHashReader::new(8, t, &tiles).unwrap();
        for i in (0..t).step_by(1 + t as usize / 7) {
            let p = prove_inclusion(t, i, &r).unwrap();
            input += &format!("inclusion {t} {i} {}\n", hashes(&p));
            if !p.is_empty() {
                input += &format!("bad-inclusion {t} {i} {}\n", hashes(&flip(&p)));
            }
            proofs += 1;
        }
        for &o in sizes.iter().filter(|&&o| o <= t) {
            let p = prove_consistency(o, t, &r).unwrap();
            input += &format!("consistency {o} {t} {}\n", hashes(&p));
            if !p.is_empty() {
                input += &format!("bad-consistency {o} {t} {}\n", hashes(&flip(&p)));
            }
            proofs += 1;
        }
    }

    let mut child = Command::new(&bin)
        .arg("check")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "Go rejected detente's log: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let checked: usize = stdout.trim().strip_prefix("ok ").unwrap().parse().unwrap();
    assert!(
        checked > proofs + final_tiles.len(),
        "Go checked only {checked} items"
    );
}

#[test]
fn detente_verifies_go() {
    let bin = go_binary();
    let out = Command::new(&bin)
        .args(["produce", "600"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();

    let mut vkey = None;
    let mut skey = None;
    let mut note = None;
    let mut entries = Vec::new();
    let mut tiles = Tiles(HashMap::new());
    let mut proofs = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        match f[0] {
            "vkey" => vkey = Some(f[1].to_owned()),
            "skey" => skey = Some(f[1].to_owned()),
            "checkpoint" => note = Some(STANDARD.decode(f[1]).unwrap()),
            "entry" => entries.push(STANDARD.decode(f[1]).unwrap()),
            "tile" => {
                let t = Tile::new(
                    8,
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                    f[3].parse().unwrap(),
                )
                .unwrap();
                tiles.0.insert(t, STANDARD.decode(f[4]).unwrap());
            }
            "inclusion" | "consistency" => {
                proofs.push(f.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            }
            other => panic!("unexpected record {other}"),
        }
    }
    let (vkey, skey, note) = (vkey.unwrap(), skey.unwrap(), note.unwrap());

    // Keys: Go's private key text parses to the same verifier.
    let v = VerifierKey::parse(&vkey).unwrap();
    assert_eq!(
        Ed25519Signer::parse(&skey).unwrap().verifier().to_string(),
        vkey
    );
    assert_eq!(v.to_string(), vkey);

    // The checkpoint verifies and matches our own tree.
    let known = Verifiers::new().with(v.clone()).unwrap();
    let (sc, ver) = SignedCheckpoint::open(&note, &known).unwrap();
    assert!(ver.is_verified(v.name(), v.key_id()));
    let n = entries.len() as u64;
    assert_eq!(sc.checkpoint.size(), n);
    let mut stored = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let hs = stored_hashes_for_leaf(i as u64, leaf_hash(e), &stored).unwrap();
        stored.extend(hs);
    }
    assert_eq!(tree_hash(n, &stored).unwrap(), *sc.checkpoint.root());

    // Go's tiles are byte-identical to ours and serve proofs on their own.
    assert_eq!(tiles.0.len(), new_tiles(8, 0, n).unwrap().len());
    for (t, d) in &tiles.0 {
        assert_eq!(*d, read_tile_data(t, &stored).unwrap(), "tile {}", t.path());
    }
    let tr = TileHashReader::new(8, n, &tiles).unwrap();
    assert_eq!(tree_hash(n, &tr).unwrap(), *sc.checkpoint.root());

    // Go's proofs verify; flipped ones do not.
    let root = |s: u64| tree_hash(s, &stored).unwrap();
    assert!(proofs.len() > 100);
    for f in &proofs {
        let (a, b): (u64, u64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
        let p = parse_hashes(&f[3]);
        if f[0] == "inclusion" {
            let leaf = leaf_hash(&entries[b as usize]);
            verify_inclusion(b, a, &leaf, &p, &root(a)).unwrap();
            assert_eq!(
                p,
                prove_inclusion(a, b, &tr)
                    .unwrap_or_else(|_| prove_inclusion(a, b, &stored).unwrap())
            );
            if !p.is_empty() {
                assert!(verify_inclusion(b, a, &leaf, &flip(&p), &root(a)).is_err());
            }
        } else {
            verify_consistency(a, b, &root(a), &root(b), &p).unwrap();
            assert_eq!(p, prove_consistency(a, b, &stored).unwrap());
            if !p.is_empty() {
                assert!(verify_consistency(a, b, &root(a), &root(b), &flip(&p)).is_err());
            }
        }
    }
}
