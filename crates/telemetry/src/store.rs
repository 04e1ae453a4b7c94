//! An aggregator's state (feature `server`): the report ids it has seen (replays are
//! refused), its batch buckets (one aggregate share and report count per time bucket), and
//! which buckets were collected (a bucket is collected once, and only when the batch holds
//! at least `min_batch_size` reports; a report for a collected bucket is refused).
//!
//! SQLite, WAL with `synchronous=FULL`; each operation is one transaction. The store keeps
//! aggregate shares as the VDAF encodes them and merges them with a function the caller
//! passes, so it holds shares only: nothing in it reveals one endpoint's measurement.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension as _};
use sha2::{Digest as _, Sha256};

/// `checksum` XOR `SHA-256(report_id)`.
fn xor_in(checksum: &[u8], report_id: &[u8; 16]) -> Vec<u8> {
    let h = Sha256::digest(report_id);
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = checksum.get(i).copied().unwrap_or(0) ^ h[i];
    }
    out.to_vec()
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS report (
    task      BLOB NOT NULL,
    report_id BLOB NOT NULL,
    bucket    INTEGER NOT NULL,
    PRIMARY KEY (task, report_id)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS enrolled (
    cred_hash BLOB PRIMARY KEY,         -- SHA-256 of an endpoint's enrollment credential
    name      TEXT NOT NULL UNIQUE
) STRICT;
CREATE TABLE IF NOT EXISTS quota (
    name TEXT NOT NULL,
    day  INTEGER NOT NULL,
    n    INTEGER NOT NULL,
    PRIMARY KEY (name, day)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS spent (
    day   INTEGER NOT NULL,
    nonce BLOB NOT NULL,
    PRIMARY KEY (day, nonce)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bucket (
    task      BLOB NOT NULL,
    bucket    INTEGER NOT NULL,
    share     BLOB NOT NULL,
    reports   INTEGER NOT NULL,
    checksum  BLOB NOT NULL,            -- XOR of SHA-256(report_id) (DAP §4.5.4.3)
    collected INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (task, bucket)
) STRICT, WITHOUT ROWID;
";

/// Adds two encoded aggregate shares (the VDAF's merge, passed in by the caller).
pub type Merge<'a> = &'a dyn Fn(&[u8], &[u8]) -> Result<Vec<u8>, String>;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[error("aggregator store: {0}")]
pub struct StoreError(pub String);

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// What became of a report offered to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Counted.
    Counted,
    /// Its id was seen before: not counted again.
    Replayed,
    /// Its bucket was collected already: not counted.
    BatchCollected,
}

/// Why a collection is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CollectError {
    /// Fewer reports than the minimum: nothing is released.
    #[error("the batch holds {have} reports, fewer than the minimum of {min}")]
    TooSmall {
        /// Reports in the batch.
        have: u64,
        /// The task's minimum.
        min: u64,
    },
    /// Some bucket of the batch was collected before.
    #[error("part of this batch was collected already")]
    AlreadyCollected,
    /// The other aggregator counted other reports for this batch (count or checksum).
    #[error("the two aggregators' batches differ")]
    Mismatch,
    /// Storage.
    #[error("{0}")]
    Store(String),
}

/// A collected batch: its merged aggregate share, report count and checksum (the XOR of
/// SHA-256 of its report ids, which the two aggregators compare, DAP §4.6.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collected {
    /// The merged, encoded aggregate share.
    pub share: Vec<u8>,
    /// Reports in the batch.
    pub reports: u64,
    /// XOR of SHA-256 of the batch's report ids.
    pub checksum: [u8; 32],
}

/// The SQLite aggregator store.
pub struct AggStore {
    conn: Mutex<Connection>,
}

impl AggStore {
    /// Opens (creating) the store.
    pub fn open(path: &Path) -> Result<AggStore, StoreError> {
        let c = Connection::open(path).map_err(|e| err(format!("{}: {e}", path.display())))?;
        c.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        c.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        c.execute_batch(SCHEMA).map_err(err)?;
        Ok(AggStore {
            conn: Mutex::new(c),
        })
    }

    /// Counts a verified report's output share into its bucket, once per report id and
    /// never into a collected bucket. `merge(old, new)` adds two encoded aggregate shares;
    /// `share` is the report's output share encoded as an aggregate share.
    pub fn admit(
        &self,
        task: &[u8; 32],
        report_id: &[u8; 16],
        bucket: u64,
        share: &[u8],
        merge: Merge<'_>,
    ) -> Result<Admit, StoreError> {
        let mut v = self.admit_many(task, &[(*report_id, bucket, share.to_vec())], merge)?;
        v.pop().ok_or_else(|| err("no result"))
    }

    /// [`AggStore::admit`] for many reports in one transaction (one fsync), each with its
    /// own outcome, in order.
    pub fn admit_many(
        &self,
        task: &[u8; 32],
        items: &[([u8; 16], u64, Vec<u8>)],
        merge: Merge<'_>,
    ) -> Result<Vec<Admit>, StoreError> {
        let mut c = self.conn.lock().map_err(|_| err("lock poisoned"))?;
        let tx = c.transaction().map_err(err)?;
        let mut out = Vec::with_capacity(items.len());
        for (report_id, bucket, share) in items {
            let b = *bucket as i64;
            let row: Option<(Vec<u8>, i64, i64, Vec<u8>)> = tx
                .query_row(
                    "SELECT share, reports, collected, checksum FROM bucket WHERE task = ?1 AND bucket = ?2",
                    params![&task[..], b],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()
                .map_err(err)?;
            if row.as_ref().is_some_and(|r| r.2 != 0) {
                out.push(Admit::BatchCollected);
                continue;
            }
            let fresh = tx
                .execute(
                    "INSERT OR IGNORE INTO report (task, report_id, bucket) VALUES (?1, ?2, ?3)",
                    params![&task[..], &report_id[..], b],
                )
                .map_err(err)?;
            if fresh == 0 {
                out.push(Admit::Replayed);
                continue;
            }
            match row {
                None => {
                    tx.execute(
                        "INSERT INTO bucket (task, bucket, share, reports, checksum) VALUES (?1, ?2, ?3, 1, ?4)",
                        params![&task[..], b, share, xor_in(&[], report_id)],
                    )
                    .map_err(err)?;
                }
                Some((old, n, _, sum)) => {
                    let merged = merge(&old, share).map_err(err)?;
                    tx.execute(
                        "UPDATE bucket SET share = ?3, reports = ?4, checksum = ?5 WHERE task = ?1 AND bucket = ?2",
                        params![&task[..], b, merged, n + 1, xor_in(&sum, report_id)],
                    )
                    .map_err(err)?;
                }
            }
            out.push(Admit::Counted);
        }
        tx.commit().map_err(err)?;
        Ok(out)
    }

    /// Collects the buckets `from..to` once: their merged share, report count and checksum,
    /// if they hold at least `min` reports, none was collected before, and (when `expect`
    /// is given) the count and checksum are those the other aggregator found. A refused
    /// collection changes nothing.
    pub fn collect(
        &self,
        task: &[u8; 32],
        from: u64,
        to: u64,
        min: u64,
        expect: Option<(u64, [u8; 32])>,
        merge: Merge<'_>,
    ) -> Result<Option<Collected>, CollectError> {
        let s = |e: rusqlite::Error| CollectError::Store(e.to_string());
        let mut c = self
            .conn
            .lock()
            .map_err(|_| CollectError::Store("lock poisoned".into()))?;
        let tx = c.transaction().map_err(s)?;
        let rows: Vec<(Vec<u8>, i64, i64, Vec<u8>)> = {
            let mut st = tx
                .prepare(
                    "SELECT share, reports, collected, checksum FROM bucket \
                     WHERE task = ?1 AND bucket >= ?2 AND bucket < ?3",
                )
                .map_err(s)?;
            let it = st
                .query_map(params![&task[..], from as i64, to as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(s)?;
            it.collect::<Result<_, _>>().map_err(s)?
        };
        if rows.iter().any(|r| r.2 != 0) {
            return Err(CollectError::AlreadyCollected);
        }
        let have: u64 = rows.iter().map(|r| r.1 as u64).sum();
        if have < min {
            return Err(CollectError::TooSmall { have, min });
        }
        let mut share: Option<Vec<u8>> = None;
        let mut checksum = [0u8; 32];
        for (b, _, _, sum) in &rows {
            share = Some(match share {
                None => b.clone(),
                Some(acc) => merge(&acc, b).map_err(CollectError::Store)?,
            });
            for (c, x) in checksum.iter_mut().zip(sum) {
                *c ^= x;
            }
        }
        if expect.is_some_and(|e| e != (have, checksum)) {
            return Err(CollectError::Mismatch);
        }
        tx.execute(
            "UPDATE bucket SET collected = 1 WHERE task = ?1 AND bucket >= ?2 AND bucket < ?3",
            params![&task[..], from as i64, to as i64],
        )
        .map_err(s)?;
        tx.commit().map_err(s)?;
        Ok(share.map(|share| Collected {
            share,
            reports: have,
            checksum,
        }))
    }

    /// Enrolls an endpoint: its name and the SHA-256 of its credential.
    pub fn enroll(&self, name: &str, cred_hash: &[u8; 32]) -> Result<(), StoreError> {
        self.conn
            .lock()
            .map_err(|_| err("lock poisoned"))?
            .execute(
                "INSERT INTO enrolled (cred_hash, name) VALUES (?1, ?2)",
                params![&cred_hash[..], name],
            )
            .map_err(err)?;
        Ok(())
    }

    /// The endpoint a credential hash belongs to.
    pub fn endpoint_of(&self, cred_hash: &[u8; 32]) -> Result<Option<String>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| err("lock poisoned"))?
            .query_row(
                "SELECT name FROM enrolled WHERE cred_hash = ?1",
                params![&cred_hash[..]],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)
    }

    /// Takes `n` tokens of `name`'s quota for `day`, atomically; `false` (nothing taken)
    /// when that would pass `per_day`.
    pub fn quota_take(
        &self,
        name: &str,
        day: u32,
        n: u32,
        per_day: u32,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.lock().map_err(|_| err("lock poisoned"))?;
        let tx = c.transaction().map_err(err)?;
        let used: i64 = tx
            .query_row(
                "SELECT n FROM quota WHERE name = ?1 AND day = ?2",
                params![name, day],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?
            .unwrap_or(0);
        if used + i64::from(n) > i64::from(per_day) {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO quota (name, day, n) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name, day) DO UPDATE SET n = n + ?3",
            params![name, day, n],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(true)
    }

    /// Marks a token nonce spent; `false` if it already was.
    pub fn spend(&self, day: u32, nonce: &[u8; 32]) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .lock()
            .map_err(|_| err("lock poisoned"))?
            .execute(
                "INSERT OR IGNORE INTO spent (day, nonce) VALUES (?1, ?2)",
                params![day, &nonce[..]],
            )
            .map_err(err)?
            == 1)
    }

    /// Everything the store holds for a task's buckets (for audits and tests): bucket,
    /// encoded share, reports.
    pub fn buckets(&self, task: &[u8; 32]) -> Result<Vec<(u64, Vec<u8>, u64)>, StoreError> {
        let c = self.conn.lock().map_err(|_| err("lock poisoned"))?;
        let mut st = c
            .prepare("SELECT bucket, share, reports FROM bucket WHERE task = ?1 ORDER BY bucket")
            .map_err(err)?;
        let it = st
            .query_map(params![&task[..]], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get(1)?,
                    r.get::<_, i64>(2)? as u64,
                ))
            })
            .map_err(err)?;
        it.collect::<Result<_, _>>().map_err(err)
    }
}
