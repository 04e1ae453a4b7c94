//! An aggregator's state (feature `server`): the report ids it has seen (replays are
//! refused), its batch buckets (one aggregate share and report count per time bucket), and
//! which buckets were collected (a bucket is collected once, and only when the batch holds
//! at least `min_batch_size` reports; a report for a collected bucket is refused).
//!
//! It lives where the aggregator's configuration says, through the storage layer the hub
//! uses too ([`detente_db`]): a SQLite file by default (WAL, `synchronous=FULL`), or a
//! PostgreSQL database, with the same statements on both. Each operation is one
//! transaction, and writers are serialized (also across processes sharing one PostgreSQL
//! database). The store keeps aggregate shares as the VDAF encodes them and sums them with a
//! function the caller passes, so it holds shares only: nothing in it reveals one
//! endpoint's measurement.

use detente_db::{Db, DbError, Location, Row, Schema, Tx, Value};
use sha2::{Digest as _, Sha256};

/// `checksum` XOR `SHA-256(report_id)`.
fn xor_in(checksum: &mut [u8; 32], report_id: &[u8; 16]) {
    let h = Sha256::digest(report_id);
    for (c, x) in checksum.iter_mut().zip(h) {
        *c ^= x;
    }
}

const SQLITE_SCHEMA: &str = "
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

const POSTGRES_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS report (
    task      BYTEA NOT NULL,
    report_id BYTEA NOT NULL,
    bucket    BIGINT NOT NULL,
    PRIMARY KEY (task, report_id)
);
CREATE TABLE IF NOT EXISTS enrolled (
    cred_hash BYTEA PRIMARY KEY,
    name      TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS quota (
    name TEXT NOT NULL,
    day  BIGINT NOT NULL,
    n    BIGINT NOT NULL,
    PRIMARY KEY (name, day)
);
CREATE TABLE IF NOT EXISTS spent (
    day   BIGINT NOT NULL,
    nonce BYTEA NOT NULL,
    PRIMARY KEY (day, nonce)
);
CREATE TABLE IF NOT EXISTS bucket (
    task      BYTEA NOT NULL,
    bucket    BIGINT NOT NULL,
    share     BYTEA NOT NULL,
    reports   BIGINT NOT NULL,
    checksum  BYTEA NOT NULL,
    collected BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (task, bucket)
);
";

const SCHEMA: Schema<'static> = Schema {
    sqlite: SQLITE_SCHEMA,
    postgres: POSTGRES_SCHEMA,
    // "DTEL" (telemetry): the advisory lock of this store's writers on PostgreSQL.
    lock: 0x4454_454c,
};

/// Reports whose ids one statement checks (three parameters each, well within both
/// engines' limits).
const CHUNK: usize = 500;

/// Sums encoded aggregate shares (the VDAF's merge, passed in by the caller); given at
/// least one.
pub type Merge<'a> = &'a dyn Fn(&[&[u8]]) -> Result<Vec<u8>, String>;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[error("aggregator store: {0}")]
pub struct StoreError(pub String);

impl From<DbError> for StoreError {
    fn from(e: DbError) -> StoreError {
        StoreError(e.0)
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

fn int(v: u64) -> Value {
    Value::Int(v as i64)
}

fn blob(v: &[u8]) -> Value {
    Value::Blob(v.to_vec())
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
    /// Its upload token was spent already: not counted.
    TokenSpent,
}

/// A verified report offered to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Its report id.
    pub report_id: [u8; 16],
    /// Its time bucket.
    pub bucket: u64,
    /// Its output share, encoded as an aggregate share.
    pub share: Vec<u8>,
    /// The upload token it came with (day, nonce), spent in the transaction that counts it.
    pub token: Option<(u32, [u8; 32])>,
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

impl From<DbError> for CollectError {
    fn from(e: DbError) -> CollectError {
        CollectError::Store(e.0)
    }
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

/// A bucket as stored.
struct Bucket {
    share: Vec<u8>,
    reports: u64,
    collected: bool,
    checksum: [u8; 32],
}

fn bucket_of(r: &Row) -> Result<(u64, Bucket), DbError> {
    Ok((
        r.int(0)? as u64,
        Bucket {
            share: r.blob(1)?.to_vec(),
            reports: r.int(2)? as u64,
            collected: r.int(3)? != 0,
            checksum: r.array(4)?,
        },
    ))
}

/// `$from, $from+1, …` as a list of `n` placeholders.
fn marks(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An aggregator's store (see the module documentation).
pub struct AggStore {
    db: Db,
}

impl AggStore {
    /// Opens (creating) the store at `location`.
    pub fn open(location: &Location) -> Result<AggStore, StoreError> {
        Ok(AggStore {
            db: Db::open(location, SCHEMA)?,
        })
    }

    /// Where the store is.
    pub fn location(&self) -> &Location {
        self.db.location()
    }

    /// Counts a verified report's output share into its bucket, once per report id and
    /// never into a collected bucket. `merge` sums encoded aggregate shares; `share` is the
    /// report's output share encoded as an aggregate share.
    pub fn admit(
        &self,
        task: &[u8; 32],
        report_id: &[u8; 16],
        bucket: u64,
        share: &[u8],
        merge: Merge<'_>,
    ) -> Result<Admit, StoreError> {
        let item = Item {
            report_id: *report_id,
            bucket,
            share: share.to_vec(),
            token: None,
        };
        let mut v = self.admit_many(task, &[item], merge)?;
        v.pop().ok_or_else(|| err("no result"))
    }

    /// [`AggStore::admit`] for many reports in one transaction (one fsync), each with its
    /// own outcome, in order. A report id given twice counts once; a report's token is
    /// spent in the same transaction, and a report whose token was spent (before, or by an
    /// earlier item) is not counted. Each bucket touched is read and written once, its
    /// shares summed in one pass.
    pub fn admit_many(
        &self,
        task: &[u8; 32],
        items: &[Item],
        merge: Merge<'_>,
    ) -> Result<Vec<Admit>, StoreError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        self.db.write(|tx| admit_in(tx, task, items, merge))
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
        self.db.write(|tx| {
            let range = [blob(task), int(from), int(to)];
            let rows = tx.query(
                "SELECT bucket, share, reports, collected, checksum FROM bucket \
                 WHERE task = $1 AND bucket >= $2 AND bucket < $3",
                &range,
            )?;
            let buckets = rows.iter().map(bucket_of).collect::<Result<Vec<_>, _>>()?;
            if buckets.iter().any(|(_, b)| b.collected) {
                return Err(CollectError::AlreadyCollected);
            }
            let have: u64 = buckets.iter().map(|(_, b)| b.reports).sum();
            if have < min {
                return Err(CollectError::TooSmall { have, min });
            }
            let mut checksum = [0u8; 32];
            for (_, b) in &buckets {
                for (c, x) in checksum.iter_mut().zip(b.checksum) {
                    *c ^= x;
                }
            }
            if expect.is_some_and(|e| e != (have, checksum)) {
                return Err(CollectError::Mismatch);
            }
            let shares: Vec<&[u8]> = buckets.iter().map(|(_, b)| b.share.as_slice()).collect();
            let share = if shares.is_empty() {
                None
            } else {
                Some(merge(&shares).map_err(CollectError::Store)?)
            };
            tx.execute(
                "UPDATE bucket SET collected = 1 WHERE task = $1 AND bucket >= $2 AND bucket < $3",
                &range,
            )?;
            Ok(share.map(|share| Collected {
                share,
                reports: have,
                checksum,
            }))
        })
    }

    /// Enrolls an endpoint: its name and the SHA-256 of its credential.
    pub fn enroll(&self, name: &str, cred_hash: &[u8; 32]) -> Result<(), StoreError> {
        self.db.write(|tx| -> Result<(), StoreError> {
            tx.execute(
                "INSERT INTO enrolled (cred_hash, name) VALUES ($1, $2)",
                &[blob(cred_hash), name.into()],
            )?;
            Ok(())
        })
    }

    /// The endpoint a credential hash belongs to.
    pub fn endpoint_of(&self, cred_hash: &[u8; 32]) -> Result<Option<String>, StoreError> {
        self.db.read(|tx| -> Result<_, StoreError> {
            let rows = tx.query(
                "SELECT name FROM enrolled WHERE cred_hash = $1",
                &[blob(cred_hash)],
            )?;
            Ok(match rows.first() {
                Some(r) => Some(r.text(0)?.to_string()),
                None => None,
            })
        })
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
        self.db.write(|tx| -> Result<bool, StoreError> {
            let key = [Value::from(name), int(day.into())];
            let used = match tx
                .query("SELECT n FROM quota WHERE name = $1 AND day = $2", &key)?
                .first()
            {
                Some(r) => r.int(0)?,
                None => 0,
            };
            if used + i64::from(n) > i64::from(per_day) {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO quota (name, day, n) VALUES ($1, $2, $3) \
                 ON CONFLICT (name, day) DO UPDATE SET n = quota.n + excluded.n",
                &[name.into(), int(day.into()), int(n.into())],
            )?;
            Ok(true)
        })
    }

    /// Gives back `n` tokens of `name`'s quota for `day` that were taken but not issued
    /// (their request could not be signed).
    pub fn quota_refund(&self, name: &str, day: u32, n: u32) -> Result<(), StoreError> {
        self.db.write(|tx| -> Result<(), StoreError> {
            tx.execute(
                "UPDATE quota SET n = n - $3 WHERE name = $1 AND day = $2 AND n >= $3",
                &[name.into(), int(day.into()), int(n.into())],
            )?;
            Ok(())
        })
    }

    /// Whether a token nonce was spent.
    pub fn is_spent(&self, day: u32, nonce: &[u8; 32]) -> Result<bool, StoreError> {
        self.db.read(|tx| -> Result<bool, StoreError> {
            Ok(!tx
                .query(
                    "SELECT 1 FROM spent WHERE day = $1 AND nonce = $2",
                    &[int(day.into()), blob(nonce)],
                )?
                .is_empty())
        })
    }

    /// Marks a token nonce spent; `false` if it already was.
    pub fn spend(&self, day: u32, nonce: &[u8; 32]) -> Result<bool, StoreError> {
        self.db.write(|tx| -> Result<bool, StoreError> {
            Ok(tx.execute(
                "INSERT INTO spent (day, nonce) VALUES ($1, $2) ON CONFLICT (day, nonce) DO NOTHING",
                &[int(day.into()), blob(nonce)],
            )? == 1)
        })
    }

    /// Everything the store holds for a task's buckets (for audits and tests): bucket,
    /// encoded share, reports.
    pub fn buckets(&self, task: &[u8; 32]) -> Result<Vec<(u64, Vec<u8>, u64)>, StoreError> {
        self.db.read(|tx| -> Result<_, StoreError> {
            let rows = tx.query(
                "SELECT bucket, share, reports, collected, checksum FROM bucket \
                 WHERE task = $1 ORDER BY bucket",
                &[blob(task)],
            )?;
            rows.iter()
                .map(|r| {
                    let (n, b) = bucket_of(r)?;
                    Ok((n, b.share, b.reports))
                })
                .collect()
        })
    }
}

/// The body of [`AggStore::admit_many`], inside its transaction.
fn admit_in(
    tx: &mut dyn Tx,
    task: &[u8; 32],
    items: &[Item],
    merge: Merge<'_>,
) -> Result<Vec<Admit>, StoreError> {
    use std::collections::{BTreeMap, HashSet};
    let mut out = vec![Admit::Counted; items.len()];
    // The buckets touched, as stored.
    let mut wanted: Vec<u64> = items.iter().map(|i| i.bucket).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut stored: BTreeMap<u64, Bucket> = BTreeMap::new();
    for part in wanted.chunks(CHUNK) {
        let mut p = vec![blob(task)];
        p.extend(part.iter().map(|b| int(*b)));
        let rows = tx.query(
            &format!(
                "SELECT bucket, share, reports, collected, checksum FROM bucket \
                 WHERE task = $1 AND bucket IN ({})",
                marks(2, part.len())
            ),
            &p,
        )?;
        for r in &rows {
            let (n, b) = bucket_of(r)?;
            stored.insert(n, b);
        }
    }
    // Reports for collected buckets are refused; an id or a token given twice counts once.
    let (mut seen, mut seen_tokens) = (HashSet::new(), HashSet::new());
    let mut candidates = Vec::new();
    for (i, it) in items.iter().enumerate() {
        if stored.get(&it.bucket).is_some_and(|b| b.collected) {
            out[i] = Admit::BatchCollected;
        } else if it.token.is_some_and(|t| !seen_tokens.insert(t)) {
            out[i] = Admit::TokenSpent;
        } else if !seen.insert(it.report_id) {
            out[i] = Admit::Replayed;
        } else {
            candidates.push(i);
        }
    }
    // Spend the tokens; a report whose token was spent before is not counted.
    let with_token: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&i| items[i].token.is_some())
        .collect();
    let mut fresh_tokens = HashSet::new();
    for part in with_token.chunks(CHUNK) {
        let mut p = Vec::with_capacity(2 * part.len());
        let mut rows = Vec::with_capacity(part.len());
        for &i in part {
            if let Some((day, nonce)) = items[i].token {
                p.push(int(day.into()));
                p.push(blob(&nonce));
                rows.push(format!("(${}, ${})", p.len() - 1, p.len()));
            }
        }
        for r in tx.query(
            &format!(
                "INSERT INTO spent (day, nonce) VALUES {} \
                 ON CONFLICT (day, nonce) DO NOTHING RETURNING day, nonce",
                rows.join(", ")
            ),
            &p,
        )? {
            fresh_tokens.insert((r.int(0)?, r.array::<32>(1)?));
        }
    }
    candidates.retain(|&i| match items[i].token {
        Some((day, nonce)) if !fresh_tokens.contains(&(i64::from(day), nonce)) => {
            out[i] = Admit::TokenSpent;
            false
        }
        _ => true,
    });
    // Record the ids; those already there are replays.
    let mut fresh = HashSet::new();
    for part in candidates.chunks(CHUNK) {
        let mut p = vec![blob(task)];
        let mut rows = Vec::with_capacity(part.len());
        for &i in part {
            p.push(blob(&items[i].report_id));
            p.push(int(items[i].bucket));
            rows.push(format!("($1, ${}, ${})", p.len() - 1, p.len()));
        }
        for r in tx.query(
            &format!(
                "INSERT INTO report (task, report_id, bucket) VALUES {} \
                 ON CONFLICT (task, report_id) DO NOTHING RETURNING report_id",
                rows.join(", ")
            ),
            &p,
        )? {
            fresh.insert(r.array::<16>(0)?);
        }
    }
    // Sum each bucket's new shares with what it holds, and write it once.
    let mut added: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for &i in &candidates {
        if fresh.contains(&items[i].report_id) {
            added.entry(items[i].bucket).or_default().push(i);
        } else {
            out[i] = Admit::Replayed;
        }
    }
    for (bucket, idx) in added {
        let old = stored.get(&bucket);
        let mut shares: Vec<&[u8]> = Vec::with_capacity(idx.len() + 1);
        let mut checksum = old.map_or([0u8; 32], |b| b.checksum);
        if let Some(b) = old {
            shares.push(&b.share);
        }
        for &i in &idx {
            shares.push(&items[i].share);
            xor_in(&mut checksum, &items[i].report_id);
        }
        let share = merge(&shares).map_err(err)?;
        let reports = old.map_or(0, |b| b.reports) + idx.len() as u64;
        let p = [
            blob(task),
            int(bucket),
            Value::Blob(share),
            int(reports),
            blob(&checksum),
        ];
        if old.is_some() {
            tx.execute(
                "UPDATE bucket SET share = $3, reports = $4, checksum = $5 \
                 WHERE task = $1 AND bucket = $2",
                &p,
            )?;
        } else {
            tx.execute(
                "INSERT INTO bucket (task, bucket, share, reports, checksum) VALUES ($1, $2, $3, $4, $5)",
                &p,
            )?;
        }
    }
    Ok(out)
}
