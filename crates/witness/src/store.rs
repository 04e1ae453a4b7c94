//! SQLite state: known logs and their keys, the latest cosigned checkpoint
//! per log, and evidence.
//!
//! # Durability contract
//!
//! The database runs in WAL mode with `synchronous=FULL`: a statement that
//! returned has been fsynced. The only write to a log's state is
//! [`Store::compare_and_swap`], one `UPDATE ... WHERE origin=? AND size=?
//! AND root=?`: it succeeds only if the state is still the one the decision
//! was made on, so two requests can never both advance from the same state
//! (and no decision made on a stale state is stored), whether they race in
//! one process, in several processes, or across a crash.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use detente_note::Note;
use detente_tlog::Hash;
use rusqlite::{params, Connection, OptionalExtension as _};
use sha2::{Digest as _, Sha256};

use crate::protocol::{origin_hash, Conflict, EvidenceKind, LogState};
use crate::Error;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log (
    origin      TEXT PRIMARY KEY NOT NULL,
    origin_hash TEXT NOT NULL UNIQUE,           -- lowercase hex SHA-256(origin)
    size        INTEGER NOT NULL CHECK (size >= 0),
    root        BLOB NOT NULL CHECK (length(root) = 32),
    checkpoint  TEXT                            -- latest cosigned note, NULL before the first
) STRICT;
CREATE TABLE IF NOT EXISTS log_key (
    origin TEXT NOT NULL REFERENCES log(origin),
    vkey   TEXT NOT NULL,                       -- Ed25519 note verifier key
    PRIMARY KEY (origin, vkey)
) STRICT;
CREATE TABLE IF NOT EXISTS evidence (
    id          INTEGER PRIMARY KEY,
    fingerprint BLOB NOT NULL UNIQUE,           -- dedupes repeats of one pair
    kind        TEXT NOT NULL,
    origin      TEXT NOT NULL,
    observed_at INTEGER NOT NULL,
    cosigned    TEXT NOT NULL,
    submitted   TEXT NOT NULL,
    old_size    INTEGER NOT NULL,
    proof       TEXT NOT NULL                   -- base64 hashes, one per line
) STRICT;
";

/// A log the witness knows, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogInfo {
    /// The log origin.
    pub origin: String,
    /// Its verifier keys (vkey text).
    pub keys: Vec<String>,
    /// The latest cosigned checkpoint.
    pub state: LogState,
}

/// A conflicting pair of signed checkpoints the witness has seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// Row number, increasing.
    pub id: i64,
    /// What the pair shows.
    pub kind: EvidenceKind,
    /// The log.
    pub origin: String,
    /// When the witness saw it (POSIX seconds).
    pub observed_at: u64,
    /// The checkpoint the witness had cosigned, with signatures.
    pub cosigned: String,
    /// The conflicting checkpoint, as submitted, with signatures.
    pub submitted: String,
    /// The old size of the request.
    pub old: u64,
    /// The consistency proof of the request.
    pub proof: Vec<Hash>,
}

impl fmt::Display for Evidence {
    /// A printable, self-contained record: both notes verbatim.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "evidence {} {} {} observed-at {}",
            self.id,
            self.kind.as_str(),
            self.origin,
            self.observed_at
        )?;
        writeln!(f, "-- cosigned checkpoint")?;
        f.write_str(&self.cosigned)?;
        writeln!(f, "-- submitted checkpoint")?;
        f.write_str(&self.submitted)?;
        writeln!(f, "-- request proof: old {}", self.old)?;
        for h in &self.proof {
            writeln!(f, "{h}")?;
        }
        writeln!(f, "-- end")
    }
}

fn to_i64(n: u64) -> Result<i64, Error> {
    i64::try_from(n).map_err(|_| Error::Corrupt("size out of range"))
}

fn to_u64(n: i64) -> Result<u64, Error> {
    u64::try_from(n).map_err(|_| Error::Corrupt("negative size"))
}

/// The note text (before the signatures), for fingerprints.
fn note_text(b: &[u8]) -> Vec<u8> {
    Note::parse(b)
        .map(|n| n.text().as_bytes().to_vec())
        .unwrap_or_else(|_| b.to_vec())
}

/// One SQLite connection to the witness database.
pub(crate) struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if `create`) the database and applies the schema.
    pub(crate) fn open(path: &Path, create: bool) -> Result<Store, Error> {
        use rusqlite::OpenFlags;
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store { conn })
    }

    /// Adds a log (at size 0) if new, and the key if new.
    pub(crate) fn add_log(&mut self, origin: &str, vkey: &str) -> Result<(), Error> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR IGNORE INTO log (origin, origin_hash, size, root, checkpoint)
             VALUES (?1, ?2, 0, ?3, NULL)",
            params![origin, origin_hash(origin), &Hash::EMPTY.0[..]],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO log_key (origin, vkey) VALUES (?1, ?2)",
            params![origin, vkey],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The keys of a log (empty if unknown).
    pub(crate) fn keys(&self, origin: &str) -> Result<Vec<String>, Error> {
        let mut st = self
            .conn
            .prepare_cached("SELECT vkey FROM log_key WHERE origin = ?1 ORDER BY rowid")?;
        let rows = st.query_map([origin], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A log's keys and state, or `None` if the origin is unknown.
    pub(crate) fn load(&self, origin: &str) -> Result<Option<(Vec<String>, LogState)>, Error> {
        let row = self
            .conn
            .prepare_cached("SELECT size, root, checkpoint FROM log WHERE origin = ?1")?
            .query_row([origin], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })
            .optional()?;
        let Some((size, root, checkpoint)) = row else {
            return Ok(None);
        };
        let state = LogState {
            size: to_u64(size)?,
            root: Hash::from_slice(&root).map_err(|_| Error::Corrupt("root hash"))?,
            checkpoint: checkpoint.map(String::into_bytes),
        };
        Ok(Some((self.keys(origin)?, state)))
    }

    /// Replaces `old` by `new` for `origin` if the stored state is still
    /// `old`; returns whether it did. Durable when it returns `true`.
    pub(crate) fn compare_and_swap(
        &self,
        origin: &str,
        old: &LogState,
        new: &LogState,
    ) -> Result<bool, Error> {
        let checkpoint = match &new.checkpoint {
            Some(c) => Some(
                std::str::from_utf8(c)
                    .map_err(|_| Error::Corrupt("checkpoint is not UTF-8"))?
                    .to_owned(),
            ),
            None => None,
        };
        let n = self
            .conn
            .prepare_cached(
                "UPDATE log SET size = ?1, root = ?2, checkpoint = ?3
             WHERE origin = ?4 AND size = ?5 AND root = ?6",
            )?
            .execute(params![
                to_i64(new.size)?,
                &new.root.0[..],
                checkpoint,
                origin,
                to_i64(old.size)?,
                &old.root.0[..],
            ])?;
        Ok(n == 1)
    }

    /// Keeps a conflicting pair (once per pair of checkpoint texts).
    pub(crate) fn record_evidence(&self, c: &Conflict, now: u64) -> Result<(), Error> {
        let mut h = Sha256::new();
        h.update(c.kind.as_str());
        h.update([0]);
        h.update(&c.origin);
        h.update([0]);
        h.update(note_text(&c.cosigned));
        h.update([0]);
        h.update(note_text(&c.submitted));
        let fingerprint = h.finalize().to_vec();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let proof: String = c.proof.iter().map(|h| format!("{h}\n")).collect();
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO evidence
             (fingerprint, kind, origin, observed_at, cosigned, submitted, old_size, proof)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                fingerprint,
                c.kind.as_str(),
                c.origin,
                to_i64(now)?,
                text(&c.cosigned),
                text(&c.submitted),
                to_i64(c.old)?,
                proof,
            ])?;
        Ok(())
    }

    /// All evidence, oldest first.
    pub(crate) fn evidence(&self) -> Result<Vec<Evidence>, Error> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, kind, origin, observed_at, cosigned, submitted, old_size, proof
             FROM evidence ORDER BY id",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, String>(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, kind, origin, at, cosigned, submitted, old, proof) = row?;
            let proof = proof
                .lines()
                .map(|l| {
                    STANDARD
                        .decode(l)
                        .ok()
                        .and_then(|b| Hash::from_slice(&b).ok())
                        .ok_or(Error::Corrupt("evidence proof"))
                })
                .collect::<Result<_, _>>()?;
            out.push(Evidence {
                id,
                kind: EvidenceKind::parse(&kind).ok_or(Error::Corrupt("evidence kind"))?,
                origin,
                observed_at: to_u64(at)?,
                cosigned,
                submitted,
                old: to_u64(old)?,
                proof,
            });
        }
        Ok(out)
    }

    /// All known logs, by origin.
    pub(crate) fn logs(&self) -> Result<Vec<LogInfo>, Error> {
        let origins: Vec<String> = {
            let mut st = self
                .conn
                .prepare_cached("SELECT origin FROM log ORDER BY origin")?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut out = Vec::new();
        for origin in origins {
            if let Some((keys, state)) = self.load(&origin)? {
                out.push(LogInfo {
                    origin,
                    keys,
                    state,
                });
            }
        }
        Ok(out)
    }

    /// The latest cosigned checkpoint of the log whose origin hashes to `hash`.
    pub(crate) fn checkpoint_by_hash(&self, hash: &str) -> Result<Option<String>, Error> {
        Ok(self
            .conn
            .prepare_cached("SELECT checkpoint FROM log WHERE origin_hash = ?1")?
            .query_row([hash], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten())
    }
}
