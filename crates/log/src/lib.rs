//! A crash-safe writer for a tiled transparency log (C2SP tlog-tiles).
//!
//! [`LogWriter::append`] sequences one batch of entries: it writes the entry
//! bundles and hash tiles the batch creates or grows, and only then the new
//! signed checkpoint. The checkpoint is the commit point: after a crash the
//! log is whatever the last checkpoint says, and [`LogWriter::open`] resumes
//! from it, reading the tiles and the partial bundle it needs back from
//! storage (the normal path and the recovery path are the same code).
//!
//! Objects written past the last checkpoint by a batch that crashed are
//! garbage: they are overwritten by the next batch. No checkpoint ever
//! referred to them, and clients must not fetch tiles beyond a checkpoint.
//!
//! The writer reads no clock and holds no lock; run one writer per log.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod dir;
mod verify;

pub use dir::DirStorage;
pub use verify::{verify_log, LogReport};

use std::io;

use detente_note::{Checkpoint, Ed25519Signer, SignedCheckpoint, Signer, Verifiers};
use detente_tlog::{
    append, decode_bundle_for, encode_bundle, leaf_hash, new_bundles, tree_hash, Bundle, Hash,
    Tile, TileHashReader, TileReader, TILE_HEIGHT,
};

/// Key of the checkpoint object.
pub const CHECKPOINT_KEY: &str = "checkpoint";

/// Object storage for a log.
///
/// # Durability contract
///
/// * `put` returns `Ok` only once the object is durable: it survives a
///   process crash and a power loss.
/// * `put` is atomic: a concurrent or later `get` sees the old content or the
///   new content, never a mix or a truncated object, even across a crash.
/// * Puts are ordered: if `put(a)` returned before `put(b)` started, no crash
///   can leave `b` durable and `a` not (follows from the first rule).
/// * `get` returns the last durably put content, or `None` if never put.
///
/// Keys are `/`-separated relative paths such as `tile/0/x001/234.p/5`.
///
/// `put_batch` makes every object in the batch durable before it returns, each one atomically,
/// in no particular order among themselves. `delete` and `list` need not be durable: they only
/// serve the removal of superseded partial tiles, which no checkpoint refers to any more.
pub trait Storage {
    /// Reads an object.
    fn get(&self, key: &str) -> io::Result<Option<Vec<u8>>>;
    /// Durably and atomically writes an object.
    fn put(&self, key: &str, data: &[u8]) -> io::Result<()>;
    /// Durably and atomically writes several objects (each atomic; unordered among them).
    fn put_batch(&self, objects: &[(String, Vec<u8>)]) -> io::Result<()> {
        for (k, d) in objects {
            self.put(k, d)?;
        }
        Ok(())
    }
    /// Keys that start with `prefix` (a `/`-terminated directory-like prefix).
    fn list(&self, prefix: &str) -> io::Result<Vec<String>>;
    /// Removes an object; removing a missing object is not an error.
    fn delete(&self, key: &str) -> io::Result<()>;
}

/// Log writer errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Storage failed.
    #[error("storage: {0}")]
    Io(#[from] io::Error),
    /// Tree or tile error (including an entry over 65,535 bytes).
    #[error(transparent)]
    Tlog(#[from] detente_tlog::Error),
    /// Note or checkpoint error.
    #[error(transparent)]
    Note(#[from] detente_note::Error),
    /// Storage content contradicts the checkpoint (corruption or a foreign log).
    #[error("log storage is inconsistent: {0}")]
    Corrupt(&'static str),
    /// `create` found an existing checkpoint, or `open` found none.
    #[error("{0}")]
    State(&'static str),
    /// An object the checkpoint needs is not in storage.
    #[error("missing object {0}")]
    Missing(String),
}

/// Tiles read from storage, for [`TileHashReader`] (and so for proofs from storage).
pub struct StoredTiles<'a, S: Storage + ?Sized>(pub &'a S);

impl<S: Storage + ?Sized> TileReader for StoredTiles<'_, S> {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, detente_tlog::Error> {
        tiles
            .iter()
            .map(|t| match self.0.get(&t.path()) {
                Ok(Some(d)) => Ok(d),
                Ok(None) => Err(detente_tlog::Error::Storage(
                    format!("missing {}", t.path()).into(),
                )),
                Err(e) => Err(detente_tlog::Error::Storage(Box::new(e))),
            })
            .collect()
    }
}

/// Writes a tiled log: entry bundles, hash tiles and signed checkpoints.
pub struct LogWriter<S: Storage> {
    storage: S,
    signer: Ed25519Signer,
    checkpoint: SignedCheckpoint,
    /// Entries of the current partial bundle (those past the last full one).
    tail: Vec<Vec<u8>>,
}

impl<S: Storage> LogWriter<S> {
    /// Starts a new, empty log named after the signer's key name (the
    /// origin), writing its size-0 checkpoint. Refuses if one exists.
    pub fn create(storage: S, signer: Ed25519Signer) -> Result<Self, Error> {
        if storage.get(CHECKPOINT_KEY)?.is_some() {
            return Err(Error::State("a checkpoint already exists"));
        }
        let cp = Checkpoint::new(signer.name(), 0, Hash::EMPTY)?;
        let mut sc = SignedCheckpoint::unsigned(cp)?;
        sc.note.sign(&signer)?;
        storage.put(CHECKPOINT_KEY, &sc.to_bytes())?;
        Ok(LogWriter {
            storage,
            signer,
            checkpoint: sc,
            tail: Vec::new(),
        })
    }

    /// Resumes a log from its last checkpoint, which must verify with the
    /// signer's key and match the tiles and partial bundle in storage.
    pub fn open(storage: S, signer: Ed25519Signer) -> Result<Self, Error> {
        let msg = storage
            .get(CHECKPOINT_KEY)?
            .ok_or(Error::State("no checkpoint"))?;
        let known = Verifiers::new().with(signer.verifier())?;
        let (sc, _) = SignedCheckpoint::open(&msg, &known)?;
        if sc.checkpoint.origin() != signer.name() {
            return Err(Error::Corrupt("checkpoint origin is not the signer's name"));
        }
        let size = sc.checkpoint.size();
        let tiles = StoredTiles(&storage);
        let r = TileHashReader::new(TILE_HEIGHT, size, &tiles)?;
        if tree_hash(size, &r)? != *sc.checkpoint.root() {
            return Err(Error::Corrupt("tiles do not match the checkpoint root"));
        }
        let mut tail = Vec::new();
        let in_tail = size % u64::from(detente_tlog::TILE_WIDTH);
        if in_tail > 0 {
            let b = Bundle::new(size >> TILE_HEIGHT, in_tail as u32)?;
            let data = storage
                .get(&b.path())?
                .ok_or(Error::Corrupt("missing partial entry bundle"))?;
            tail = decode_bundle_for(&b, &data)?
                .into_iter()
                .map(<[u8]>::to_vec)
                .collect();
            // The bundle must hash to the level-0 tile the root already vouches for.
            let tile = b.tile();
            let tile_data = StoredTiles(&storage).read_tiles(&[tile])?;
            let hashes: Vec<u8> = tail.iter().flat_map(|e| leaf_hash(e).0).collect();
            if tile_data.first() != Some(&hashes) {
                return Err(Error::Corrupt("partial bundle does not match its tile"));
            }
        }
        Ok(LogWriter {
            storage,
            signer,
            checkpoint: sc,
            tail,
        })
    }

    /// The last committed checkpoint.
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }

    /// Current tree size.
    pub fn size(&self) -> u64 {
        self.checkpoint.checkpoint.size()
    }

    /// The storage.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Sequences a batch: writes bundles and tiles, then the signed
    /// checkpoint (the commit point), and returns it. On error nothing is
    /// committed and the writer stays at the previous checkpoint; reopen it
    /// after storage errors, as the in-memory tail may be stale.
    pub fn append(&mut self, entries: &[&[u8]]) -> Result<&SignedCheckpoint, Error> {
        if entries.is_empty() {
            return Ok(&self.checkpoint);
        }
        let old = self.size();
        let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
        let out = {
            let tiles = StoredTiles(&self.storage);
            let r = TileHashReader::new(TILE_HEIGHT, old, &tiles)?;
            append(TILE_HEIGHT, old, &leaves, &r)?
        };
        // Entry bundles first: the tail plus the new entries, cut per bundle.
        let first_tail = old - self.tail.len() as u64;
        let mut all: Vec<&[u8]> = self.tail.iter().map(Vec::as_slice).collect();
        all.extend_from_slice(entries);
        let mut objects = Vec::new();
        let mut full = Vec::new();
        for b in new_bundles(old, out.new_size) {
            let lo = (b.first_entry() - first_tail) as usize;
            let hi = lo + b.width() as usize;
            let chunk = all.get(lo..hi).ok_or(Error::Corrupt("bundle arithmetic"))?;
            if b.is_full() {
                full.push(b.path());
            }
            objects.push((b.path(), encode_bundle(chunk.iter().copied())?));
        }
        for (t, data) in &out.tiles {
            if t.is_full() {
                full.push(t.path());
            }
            objects.push((t.path(), data.clone()));
        }
        self.storage.put_batch(&objects)?;
        let cp = Checkpoint::new(self.signer.name(), out.new_size, out.root)?;
        let mut sc = SignedCheckpoint::unsigned(cp)?;
        sc.note.sign(&self.signer)?;
        self.storage.put(CHECKPOINT_KEY, &sc.to_bytes())?;
        // Committed. Partial versions of tiles and bundles that are now full are superseded
        // by the full ones and no longer needed by any client that can verify against the
        // new checkpoint; remove them. Failing to remove them wastes space, nothing else.
        for path in &full {
            let prefix = format!("{path}.p/");
            if let Ok(keys) = self.storage.list(&prefix) {
                for k in keys {
                    let _ = self.storage.delete(&k);
                }
            }
        }

        let keep = (out.new_size % u64::from(detente_tlog::TILE_WIDTH)) as usize;
        let start = all.len() - keep;
        self.tail = all[start..].iter().map(|e| e.to_vec()).collect();
        self.checkpoint = sc;
        Ok(&self.checkpoint)
    }
}
