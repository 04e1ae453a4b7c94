//! Log writer: round trips through storage, recovery after kill -9, and a
//! throughput figure (ignored by default).

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use detente_log::{DirStorage, LogWriter, Storage, CHECKPOINT_KEY};
use detente_note::{Ed25519Signer, SignedCheckpoint, Verifiers};
use detente_tlog::{
    decode_bundle_for, leaf_hash, new_bundles, prove_consistency, prove_inclusion, tree_hash,
    verify_consistency, verify_inclusion, Error as TlogError, Tile, TileHashReader, TileReader,
};

fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed("detente.example/test-log", [42; 32]).unwrap()
}

fn entry(i: u64) -> Vec<u8> {
    format!("entry {i} {}", "x".repeat((i % 17) as usize)).into_bytes()
}

/// In-memory storage (the contract trivially holds).
#[derive(Default)]
struct Mem(Mutex<HashMap<String, Vec<u8>>>);

impl Storage for Mem {
    fn get(&self, key: &str) -> std::io::Result<Option<Vec<u8>>> {
        Ok(self.0.lock().unwrap().get(key).cloned())
    }
    fn put(&self, key: &str, data: &[u8]) -> std::io::Result<()> {
        self.0.lock().unwrap().insert(key.to_owned(), data.to_vec());
        Ok(())
    }
    fn list(&self, prefix: &str) -> std::io::Result<Vec<String>> {
        let m = self.0.lock().unwrap();
        Ok(m.keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
    fn delete(&self, key: &str) -> std::io::Result<()> {
        self.0.lock().unwrap().remove(key);
        Ok(())
    }
}

struct Tiles<'a, S: Storage>(&'a S);
impl<S: Storage> TileReader for Tiles<'_, S> {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TlogError> {
        tiles
            .iter()
            .map(|t| {
                self.0
                    .get(&t.path())
                    .unwrap()
                    .ok_or(TlogError::HashNotFound(0))
            })
            .collect()
    }
}

/// Checks everything a client could: the checkpoint signature, every entry
/// in the bundles, the root from tiles, and some inclusion proofs.
fn audit<S: Storage>(s: &S) -> SignedCheckpoint {
    let known = Verifiers::new().with(signer().verifier()).unwrap();
    let (sc, _) = SignedCheckpoint::open(&s.get(CHECKPOINT_KEY).unwrap().unwrap(), &known).unwrap();
    let n = sc.checkpoint.size();
    for b in new_bundles(0, n) {
        let data = s
            .get(&b.path())
            .unwrap()
            .unwrap_or_else(|| panic!("missing {}", b.path()));
        for (j, e) in decode_bundle_for(&b, &data).unwrap().iter().enumerate() {
            assert_eq!(*e, entry(b.first_entry() + j as u64).as_slice());
        }
    }
    let tiles = Tiles(s);
    let r = TileHashReader::new(8, n, &tiles).unwrap();
    assert_eq!(tree_hash(n, &r).unwrap(), *sc.checkpoint.root());
    for i in [0, n / 2, n.saturating_sub(1)] {
        if i < n {
            let p = prove_inclusion(n, i, &r).unwrap();
            verify_inclusion(i, n, &leaf_hash(&entry(i)), &p, sc.checkpoint.root()).unwrap();
        }
    }
    sc
}

fn append_range<S: Storage>(w: &mut LogWriter<S>, n: u64) {
    let start = w.size();
    let entries: Vec<Vec<u8>> = (start..start + n).map(entry).collect();
    let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    w.append(&refs).unwrap();
}

#[test]
fn batches_and_reopen() {
    let mut w = LogWriter::create(Mem::default(), signer()).unwrap();
    assert!(matches!(
        LogWriter::create(Mem::default(), signer()).map(|_| ()),
        Ok(())
    ));
    let mut prev = audit(w.storage());
    for (k, n) in [1u64, 255, 1, 300, 0, 7, 256, 512, 3]
        .into_iter()
        .enumerate()
    {
        append_range(&mut w, n);
        if k % 2 == 0 {
            // Reopen from storage, as after a restart.
            let storage = std::mem::take(&mut *w.storage().0.lock().unwrap());
            w = LogWriter::open(Mem(Mutex::new(storage)), signer()).unwrap();
        }
        let sc = audit(w.storage());
        let (a, b) = (prev.checkpoint.size(), sc.checkpoint.size());
        if a > 0 {
            let tiles = Tiles(w.storage());
            let r = TileHashReader::new(8, b, &tiles).unwrap();
            let p = prove_consistency(a, b, &r).unwrap();
            verify_consistency(a, b, prev.checkpoint.root(), sc.checkpoint.root(), &p).unwrap();
        }
        prev = sc;
    }
    assert_eq!(w.size(), 1 + 255 + 1 + 300 + 7 + 256 + 512 + 3);
    // An entry too big for a bundle is an error, and nothing is committed.
    let before = w.size();
    assert!(w.append(&[&vec![0u8; 70_000]]).is_err());
    assert_eq!(w.size(), before);
    // A foreign key cannot open the log.
    let other = Ed25519Signer::from_seed("detente.example/test-log", [43; 32]).unwrap();
    let storage = std::mem::take(&mut *w.storage().0.lock().unwrap());
    assert!(LogWriter::open(Mem(Mutex::new(storage)), other).is_err());
}

#[test]
fn corrupt_storage_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = LogWriter::create(DirStorage::new(dir.path()).unwrap(), signer()).unwrap();
    append_range(&mut w, 300);
    drop(w);
    let s = DirStorage::new(dir.path()).unwrap();
    // Flip a byte of the partial level-0 tile.
    let key = "tile/0/001.p/44";
    let mut d = s.get(key).unwrap().unwrap();
    d[3] ^= 1;
    s.put(key, &d).unwrap();
    assert!(LogWriter::open(DirStorage::new(dir.path()).unwrap(), signer()).is_err());
    assert!(s.put("../escape", b"x").is_err());
    assert!(s.put("/abs", b"x").is_err());
}

const CHILD_ENV: &str = "DETENTE_LOG_CRASH_CHILD_DIR";

/// Not a test on its own: the child process of `kill_9_recovery`, which
/// appends batches until it is killed. Without the variable it does nothing.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let s = DirStorage::new(&dir).unwrap();
    let mut w = match s.get(CHECKPOINT_KEY).unwrap() {
        Some(_) => LogWriter::open(s, signer()).unwrap(),
        None => LogWriter::create(s, signer()).unwrap(),
    };
    loop {
        let n = 1 + (w.size() * 7919 + 13) % 300;
        append_range(&mut w, n);
    }
}

#[test]
fn kill_9_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut last: Option<SignedCheckpoint> = None;
    for round in 0..8u64 {
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150 + 97 * (round % 5)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let s = DirStorage::new(dir.path()).unwrap();
        let sc = audit(&s);
        // The writer resumes from what survived.
        let w = LogWriter::open(DirStorage::new(dir.path()).unwrap(), signer()).unwrap();
        assert_eq!(w.size(), sc.checkpoint.size());
        if let Some(prev) = &last {
            let (a, b) = (prev.checkpoint.size(), sc.checkpoint.size());
            assert!(b >= a, "log went backwards: {a} -> {b}");
            if a > 0 {
                let tiles = Tiles(&s);
                let r = TileHashReader::new(8, b, &tiles).unwrap();
                let p = prove_consistency(a, b, &r).unwrap();
                verify_consistency(a, b, prev.checkpoint.root(), sc.checkpoint.root(), &p).unwrap();
            }
        }
        eprintln!("round {round}: size {}", sc.checkpoint.size());
        last = Some(sc);
    }
    assert!(
        last.unwrap().checkpoint.size() > 0,
        "the child never committed a batch"
    );
}

fn dir_bytes(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                dir_bytes(&e.path())
            } else {
                m.len()
            }
        })
        .sum()
}

/// Once tiles and bundles are full, their partial versions are removed, and the log costs
/// at most the entries plus 36 bytes per entry (32 for the level-0 hash, 2 for the bundle
/// length prefix, the rest for upper tile levels) plus the checkpoint.
#[test]
fn superseded_partials_are_removed() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut w = LogWriter::create(DirStorage::new(dir.path()).unwrap(), signer()).unwrap();
    // Small, uneven batches leave many partial versions behind as the log grows.
    for n in [
        1u64,
        7,
        100,
        3,
        200,
        45,
        300,
        1,
        255,
        1000,
        137,
        65_536 - 2049,
    ] {
        append_range(&mut w, n);
    }
    let n = w.size();
    assert_eq!(n, 65_536);
    audit(w.storage());
    let partials = w.storage().list("tile/0/").unwrap();
    assert!(partials.iter().all(|k| !k.contains(".p")), "{partials:?}");
    let entries: u64 = (0..n).map(|i| entry(i).len() as u64).sum();
    let checkpoint = w.storage().get(CHECKPOINT_KEY).unwrap().unwrap().len() as u64;
    let on_disk = dir_bytes(dir.path());
    assert!(
        on_disk <= entries + 36 * n + checkpoint,
        "{on_disk} bytes for {n} entries of {entries} bytes"
    );
    // The removal left a log that reopens and verifies.
    drop(w);
    let w = LogWriter::open(DirStorage::new(dir.path()).unwrap(), signer()).unwrap();
    audit(w.storage());
}

/// `verify_log` accepts an honest log and names what is wrong with a tampered one.
#[test]
fn whole_log_verification() {
    use detente_log::verify_log;
    let mut w = LogWriter::create(Mem::default(), signer()).unwrap();
    for n in [3u64, 700, 65_536, 1000] {
        append_range(&mut w, n);
    }
    let known = Verifiers::new().with(signer().verifier()).unwrap();
    let r = verify_log(w.storage(), &known).unwrap();
    assert_eq!(r.entries, w.size());
    assert_eq!(r.bundles, w.size().div_ceil(256));

    let snapshot = w.storage().0.lock().unwrap().clone();
    type Objects = HashMap<String, Vec<u8>>;
    let tampered = |f: &dyn Fn(&mut Objects)| {
        let mut m = snapshot.clone();
        f(&mut m);
        verify_log(&Mem(Mutex::new(m)), &known)
            .unwrap_err()
            .to_string()
    };
    // One flipped byte in an entry.
    let e = tampered(&|m| m.get_mut("tile/entries/001").unwrap()[10] ^= 1);
    assert!(e.contains("bundle does not match"), "{e}");
    // A level-1 hash replaced.
    let e = tampered(&|m| m.get_mut("tile/1/000").unwrap()[40] ^= 1);
    assert!(e.contains("not the root of the tile below"), "{e}");
    // A missing tile.
    let e = tampered(&|m| {
        m.remove("tile/0/003");
    });
    assert!(e.contains("tile/0/003"), "{e}");
    // A checkpoint signed by another key.
    let other = Verifiers::new()
        .with(
            Ed25519Signer::from_seed("detente.example/test-log", [9; 32])
                .unwrap()
                .verifier(),
        )
        .unwrap();
    assert!(verify_log(w.storage(), &other).is_err());
}
