//! The witness node: its key file, SQLite state and compare-and-swap loop (feature `server`).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use detente_note::{Cosigner, Ed25519Verifier, Verifier as _, Verifiers};

use crate::keys;
use crate::protocol::{decide, AddError, Cosigned, KnownLog, Outcome};
use crate::request::AddCheckpoint;
use crate::server;
use crate::store::Store;
use crate::store::{Evidence, LogInfo};

/// Name of the key file in a witness directory.
pub const KEY_FILE: &str = "witness.key";
/// Name of the SQLite database in a witness directory.
pub const DB_FILE: &str = "witness.db";
/// Longest origin accepted by [`Witness::add_log`] (ML-DSA-44 messages
/// encode it in one length byte).
pub const MAX_ORIGIN_LEN: usize = 255;
/// How many times [`Witness::add_checkpoint`] re-decides after losing a
/// compare-and-swap race before answering 503.
const MAX_ATTEMPTS: usize = 8;

/// Errors of the witness's own operations (setup, storage, keys).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// `init` on a directory that already has a key file.
    #[error("{} already holds a witness", .0.display())]
    AlreadyInitialized(PathBuf),
    /// `open` on a directory without a key file or database.
    #[error("{} is not a witness directory (run init)", .0.display())]
    NotInitialized(PathBuf),
    /// The witness name is not a valid key name of at most 255 bytes.
    #[error("invalid witness name (no spaces or '+', at most 255 bytes)")]
    BadName,
    /// A log origin that cannot be used.
    #[error("invalid origin: {0}")]
    BadOrigin(&'static str),
    /// A log key that cannot be used.
    #[error("invalid log key: {0}")]
    BadLogKey(#[source] detente_note::Error),
    /// A witness key could not be made or parsed.
    #[error("witness key: {0}")]
    Key(#[source] detente_note::Error),
    /// The key file does not hold the expected keys.
    #[error("key file: {0}")]
    KeyFile(&'static str),
    /// The key file is readable by group or others.
    #[error("{} must not be accessible by group or others (chmod 600)", .0.display())]
    KeyFilePermissions(PathBuf),
    /// The OS random source failed.
    #[error("OS random source: {0}")]
    Random(String),
    /// The database holds something this code never writes.
    #[error("corrupt database: {0}")]
    Corrupt(&'static str),
}

impl Error {
    pub(crate) fn io(path: &Path, source: io::Error) -> Error {
        Error::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// A witness: its keys and its database. Cheap to clone (shared).
#[derive(Clone)]
pub struct Witness {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    cosigners: Vec<Cosigner>,
    store: Mutex<Store>,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("keys", &self.verifier_keys())
            .finish_non_exhaustive()
    }
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Checks an origin line: non-empty, at most [`MAX_ORIGIN_LEN`] bytes, no
/// control characters.
fn check_origin(origin: &str) -> Result<(), Error> {
    if origin.is_empty() {
        return Err(Error::BadOrigin("empty"));
    }
    if origin.len() > MAX_ORIGIN_LEN {
        return Err(Error::BadOrigin("longer than 255 bytes"));
    }
    if origin.chars().any(char::is_control) {
        return Err(Error::BadOrigin("control character"));
    }
    Ok(())
}

impl Witness {
    /// Creates a witness in `dir` (created if missing): fresh Ed25519 and
    /// ML-DSA-44 keys named `name` from OS randomness, written to
    /// [`KEY_FILE`] (mode 0600), and an empty database. Returns the two
    /// verifier keys (vkey text) to publish. Refuses a directory that
    /// already has a key file. The key file is written last: it marks a
    /// complete witness.
    pub fn init(dir: &Path, name: &str) -> Result<Vec<String>, Error> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let key_path = dir.join(KEY_FILE);
        if key_path.exists() {
            return Err(Error::AlreadyInitialized(dir.to_owned()));
        }
        let keys = keys::generate(name)?;
        let store = Store::open(&dir.join(DB_FILE), true)?;
        if !store.logs()?.is_empty() {
            // A database with state but no keys: never reuse it silently.
            return Err(Error::AlreadyInitialized(dir.to_owned()));
        }
        drop(store);
        keys::write(&key_path, &keys)?;
        sync_dir(dir)?;
        Ok(keys.iter().map(|k| k.verifier().to_string()).collect())
    }

    /// Opens the witness in `dir` (made by [`Witness::init`]).
    pub fn open(dir: &Path) -> Result<Witness, Error> {
        let key_path = dir.join(KEY_FILE);
        let db_path = dir.join(DB_FILE);
        if !key_path.exists() || !db_path.exists() {
            return Err(Error::NotInitialized(dir.to_owned()));
        }
        let cosigners = keys::read(&key_path)?;
        let store = Store::open(&db_path, false)?;
        let name = cosigners
            .first()
            .map(|c| c.verifier().name().to_owned())
            .unwrap_or_default();
        Ok(Witness {
            inner: Arc::new(Inner {
                name,
                cosigners,
                store: Mutex::new(store),
            }),
        })
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the store half-updated
        // (every write is one SQLite statement or transaction).
        self.inner
            .store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The witness name (its cosignature key name).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The verifier keys (vkey text), Ed25519 (0x04) then ML-DSA-44 (0x06).
    pub fn verifier_keys(&self) -> Vec<String> {
        self.inner
            .cosigners
            .iter()
            .map(|c| c.verifier().to_string())
            .collect()
    }

    /// Trusts `vkey` (an Ed25519 note verifier key, type 0x01) for log
    /// `origin`, adding the log at size 0 if it is new. Adding a key a log
    /// already has is a no-op; a different key with the same name and key
    /// ID is refused.
    pub fn add_log(&self, origin: &str, vkey: &str) -> Result<(), Error> {
        check_origin(origin)?;
        let key = Ed25519Verifier::parse(vkey.trim()).map_err(Error::BadLogKey)?;
        let canonical = key.to_string();
        let mut store = self.store();
        let existing = store.keys(origin)?;
        if !existing.contains(&canonical) {
            let mut v = verifiers(&existing)?;
            v.add(key).map_err(Error::BadLogKey)?;
        }
        store.add_log(origin, &canonical)
    }

    /// The known logs, their keys and states.
    pub fn logs(&self) -> Result<Vec<LogInfo>, Error> {
        self.store().logs()
    }

    /// Every conflicting pair of signed checkpoints seen, oldest first.
    pub fn evidence(&self) -> Result<Vec<Evidence>, Error> {
        self.store().evidence()
    }

    /// The latest cosigned checkpoint (log signatures and this witness's
    /// cosignatures) of the log whose origin has the lowercase hex SHA-256
    /// `origin_hash`, if it has one.
    pub fn checkpoint(&self, origin_hash: &str) -> Result<Option<String>, Error> {
        self.store().checkpoint_by_hash(origin_hash)
    }

    /// Handles one `add-checkpoint` request body at time `now` (POSIX
    /// seconds), blocking on the database: parse, [`decide`], and on a
    /// cosignature store the new state by compare-and-swap before
    /// returning it. A lost race re-decides on the fresh state. Evidence is
    /// recorded before a refusal is returned.
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Result<Cosigned, AddError> {
        let req = AddCheckpoint::parse(body)?;
        let origin = req.checkpoint.checkpoint.origin();
        let internal = |e: Error| {
            eprintln!("detente-witness: add-checkpoint for {origin:?}: {e}");
            AddError::Internal
        };
        for _ in 0..MAX_ATTEMPTS {
            let loaded = self.store().load(origin).map_err(internal)?;
            let outcome = match &loaded {
                None => decide(&req, None, &self.inner.cosigners, now),
                Some((keys, state)) => {
                    let v = verifiers(keys).map_err(internal)?;
                    let log = KnownLog {
                        verifiers: &v,
                        state,
                    };
                    decide(&req, Some(log), &self.inner.cosigners, now)
                }
            };
            match (outcome, loaded) {
                (Outcome::Cosign(c), Some((_, old))) => {
                    if self
                        .store()
                        .compare_and_swap(origin, &old, &c.state)
                        .map_err(internal)?
                    {
                        return Ok(c);
                    }
                }
                (Outcome::Cosign(_), None) => return Err(AddError::Internal),
                (Outcome::Refuse { error, evidence }, _) => {
                    if let Some(ev) = evidence {
                        self.store().record_evidence(&ev, now).map_err(internal)?;
                    }
                    return Err(error);
                }
            }
        }
        Err(AddError::Busy)
    }

    /// The HTTP routes: `POST /add-checkpoint` (bodies over
    /// [`MAX_REQUEST_SIZE`] get 413) and `GET /{origin_hash}/checkpoint`.
    pub fn router(&self) -> axum::Router {
        server::router(self.clone())
    }

    /// Serves HTTP on `listener` until the listener fails.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> io::Result<()> {
        axum::serve(listener, self.router()).await
    }

    /// Serves HTTP on `listener` until `shutdown` completes, then finishes
    /// the requests in flight.
    pub async fn serve_with_shutdown(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// Builds the verifier set of a log from its stored vkeys.
fn verifiers(keys: &[String]) -> Result<Verifiers, Error> {
    let mut v = Verifiers::new();
    for k in keys {
        let key = Ed25519Verifier::parse(k).map_err(|_| Error::Corrupt("log key"))?;
        v.add(key)
            .map_err(|_| Error::Corrupt("ambiguous log keys"))?;
    }
    Ok(v)
}
