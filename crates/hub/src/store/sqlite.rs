//! The SQLite store: one file in the hub's directory, WAL with `synchronous=FULL` (a
//! committed transaction has been fsynced).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, params_from_iter, Connection, OptionalExtension as _};

use super::{
    level_code, level_of, select_sql, Collection, MemberRecord, Origin, Query, StatusRecord, Store,
    StoreError, Version,
};
use crate::access::{Audience, Member, Tlp};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS object (
    seq        INTEGER PRIMARY KEY,     -- date_added, microseconds since the epoch
    coll       TEXT NOT NULL,
    id         TEXT NOT NULL,
    type       TEXT NOT NULL,
    version    TEXT NOT NULL,
    vkey       TEXT NOT NULL,
    body       BLOB NOT NULL,           -- RFC 8785 canonical JSON
    hash       BLOB NOT NULL,
    level      INTEGER NOT NULL,
    aud        INTEGER NOT NULL,        -- 0 anyone, 1 members, 2 listed principals
    member     TEXT NOT NULL,
    org        TEXT NOT NULL,
    mkey       BLOB,
    sig        BLOB,
    log_index  INTEGER NOT NULL,
    origin_log TEXT,
    origin_index INTEGER,
    origin_receipt TEXT,
    UNIQUE (coll, id, vkey)
) STRICT;
CREATE INDEX IF NOT EXISTS object_coll_seq ON object (coll, seq);
CREATE INDEX IF NOT EXISTS object_coll_type_seq ON object (coll, type, seq);
CREATE TABLE IF NOT EXISTS audience (
    seq       INTEGER NOT NULL,
    principal TEXT NOT NULL,
    PRIMARY KEY (seq, principal)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS evidence_ref (
    sha256 TEXT NOT NULL,                -- lowercase hex SHA-256 of an evidence file
    seq    INTEGER NOT NULL,
    PRIMARY KEY (sha256, seq)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS status (
    id     TEXT PRIMARY KEY,
    member TEXT NOT NULL,
    body   TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS member (
    name       TEXT PRIMARY KEY,
    org        TEXT NOT NULL,
    groups     TEXT NOT NULL,           -- comma-separated
    token_hash BLOB NOT NULL UNIQUE,
    key        BLOB
) STRICT;
CREATE TABLE IF NOT EXISTS collection (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    description TEXT NOT NULL,
    alias       TEXT,
    default_tlp TEXT NOT NULL,
    can_read    TEXT NOT NULL,          -- comma-separated principals
    can_write   TEXT NOT NULL
) STRICT;
";

/// The SQLite store (see the module documentation): one connection writes, a few more
/// read (WAL lets readers run beside the writer, each statement on a committed snapshot).
pub struct SqliteStore {
    conn: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
}

/// Read connections kept open.
const READERS: usize = 4;

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

fn split(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

fn arr<const N: usize>(v: Option<Vec<u8>>) -> Result<Option<[u8; N]>, StoreError> {
    v.map(|b| <[u8; N]>::try_from(b).map_err(|_| err("stored key or signature has a wrong length")))
        .transpose()
}

impl SqliteStore {
    /// Opens (creating) the database file.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = detente_db::open_sqlite(path).map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers.push(Mutex::new(
                detente_db::open_sqlite_reader(path).map_err(err)?,
            ));
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            readers,
        })
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| err("database lock poisoned"))
    }

    /// A free read connection, or the first one when all are busy.
    fn read(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        for r in &self.readers {
            if let Ok(g) = r.try_lock() {
                return Ok(g);
            }
        }
        self.readers[0]
            .lock()
            .map_err(|_| err("database lock poisoned"))
    }
}

const COLUMNS: &str = "o.seq, o.coll, o.id, o.type, o.version, o.vkey, o.body, o.hash, o.level, \
    o.aud, o.member, o.org, o.mkey, o.sig, o.log_index, o.origin_log, o.origin_index, o.origin_receipt";

impl Store for SqliteStore {
    fn last_seq(&self) -> Result<i64, StoreError> {
        self.read()?
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM object", [], |r| r.get(0))
            .map_err(err)
    }

    fn existing(&self, coll: &str, id: &str, vkey: &str) -> Result<Option<[u8; 32]>, StoreError> {
        let c = self.read()?;
        let mut stmt = c
            .prepare_cached("SELECT hash FROM object WHERE coll = ?1 AND id = ?2 AND vkey = ?3")
            .map_err(err)?;
        let h: Option<Vec<u8>> = stmt
            .query_row(params![coll, id, vkey], |r| r.get(0))
            .optional()
            .map_err(err)?;
        arr(h)
    }

    fn existing_many(
        &self,
        coll: &str,
        keys: &[(String, String)],
    ) -> Result<Vec<(String, String, [u8; 32])>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let (sql, args) = super::existing_sql(coll, keys, |_| "?".into());
        let p = args;
        let c = self.read()?;
        let mut stmt = c.prepare_cached(&sql).map_err(err)?;
        let rows = stmt
            .query_map(params_from_iter(p), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })
            .map_err(err)?;
        let mut out = Vec::new();
        for r in rows {
            let (id, vkey, h) = r.map_err(err)?;
            out.push((id, vkey, arr(Some(h))?.unwrap_or([0; 32])));
        }
        Ok(out)
    }

    fn insert(&self, rows: &[Version], statuses: &[StatusRecord]) -> Result<(), StoreError> {
        let mut c = self.lock()?;
        let tx = c.transaction().map_err(err)?;
        {
            let mut ins = tx
                .prepare_cached(
                    "INSERT INTO object (seq, coll, id, type, version, vkey, body, hash, level, aud, \
                     member, org, mkey, sig, log_index, origin_log, origin_index, origin_receipt) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
                )
                .map_err(err)?;
            let mut aud = tx
                .prepare_cached("INSERT OR IGNORE INTO audience (seq, principal) VALUES (?1, ?2)")
                .map_err(err)?;
            for v in rows {
                let (code, list) = match &v.audience {
                    Audience::Anyone => (0, &[][..]),
                    Audience::Members => (1, &[][..]),
                    Audience::Only(p) => (2, &p[..]),
                };
                ins.execute(params![
                    v.seq,
                    v.collection,
                    v.id,
                    v.typ,
                    v.version,
                    v.version_key,
                    v.body,
                    &v.hash[..],
                    level_code(v.level),
                    code,
                    v.member,
                    v.org,
                    v.key.as_ref().map(|k| &k[..]),
                    v.signature.as_ref().map(|k| &k[..]),
                    v.log_index as i64,
                    v.origin.as_ref().map(|o| &o.log),
                    v.origin.as_ref().map(|o| o.index as i64),
                    v.origin.as_ref().map(|o| &o.receipt),
                ])
                .map_err(err)?;
                for p in list {
                    aud.execute(params![v.seq, p]).map_err(err)?;
                }
                for r in &v.refs {
                    tx.execute(
                        "INSERT OR IGNORE INTO evidence_ref (sha256, seq) VALUES (?1, ?2)",
                        params![r, v.seq],
                    )
                    .map_err(err)?;
                }
            }
            for status in statuses {
                tx.execute(
                    "INSERT INTO status (id, member, body) VALUES (?1, ?2, ?3)",
                    params![status.id, status.member, status.body],
                )
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    fn status(&self, id: &str) -> Result<Option<StatusRecord>, StoreError> {
        self.read()?
            .query_row(
                "SELECT id, member, body FROM status WHERE id = ?1",
                [id],
                |r| {
                    Ok(StatusRecord {
                        id: r.get(0)?,
                        member: r.get(1)?,
                        body: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(err)
    }

    fn query(&self, q: &Query<'_>) -> Result<Vec<Version>, StoreError> {
        let Some((sql, args)) = select_sql(q, COLUMNS, |_| "?".to_string()) else {
            return Ok(Vec::new());
        };
        let p = args;
        let c = self.read()?;
        let mut stmt = c.prepare_cached(&sql).map_err(err)?;
        let rows = stmt
            .query_map(params_from_iter(p), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Vec<u8>>(6)?,
                    r.get::<_, Vec<u8>>(7)?,
                    r.get::<_, i64>(8)?,
                    r.get::<_, i64>(9)?,
                    r.get::<_, String>(10)?,
                    r.get::<_, String>(11)?,
                    r.get::<_, Option<Vec<u8>>>(12)?,
                    r.get::<_, Option<Vec<u8>>>(13)?,
                    r.get::<_, i64>(14)?,
                    (
                        r.get::<_, Option<String>>(15)?,
                        r.get::<_, Option<i64>>(16)?,
                        r.get::<_, Option<String>>(17)?,
                    ),
                ))
            })
            .map_err(err)?;
        let mut out = Vec::new();
        let mut aud_stmt = c
            .prepare_cached("SELECT principal FROM audience WHERE seq = ?1 ORDER BY principal")
            .map_err(err)?;
        for row in rows {
            let (
                seq,
                coll,
                id,
                typ,
                version,
                vkey,
                body,
                hash,
                level,
                aud,
                member,
                org,
                mkey,
                sig,
                li,
                o,
            ) = row.map_err(err)?;
            let audience = match aud {
                0 => Audience::Anyone,
                1 => Audience::Members,
                _ => Audience::Only(
                    aud_stmt
                        .query_map([seq], |r| r.get::<_, String>(0))
                        .map_err(err)?
                        .collect::<Result<_, _>>()
                        .map_err(err)?,
                ),
            };
            let origin = match o {
                (Some(log), Some(index), Some(receipt)) => Some(Origin {
                    log,
                    index: index as u64,
                    receipt,
                }),
                _ => None,
            };
            out.push(Version {
                seq,
                collection: coll,
                id,
                typ,
                version,
                version_key: vkey,
                body,
                hash: arr(Some(hash))?.unwrap_or([0; 32]),
                level: level_of(level),
                audience,
                member,
                org,
                key: arr(mkey)?,
                signature: arr(sig)?,
                log_index: li as u64,
                origin,
                refs: Vec::new(),
            });
        }
        Ok(out)
    }

    fn delete(&self, coll: &str, seqs: &[i64]) -> Result<usize, StoreError> {
        let mut c = self.lock()?;
        let tx = c.transaction().map_err(err)?;
        let mut n = 0;
        for s in seqs {
            n += tx
                .execute(
                    "DELETE FROM object WHERE coll = ?1 AND seq = ?2",
                    params![coll, s],
                )
                .map_err(err)?;
            tx.execute("DELETE FROM audience WHERE seq = ?1", [s])
                .map_err(err)?;
            tx.execute("DELETE FROM evidence_ref WHERE seq = ?1", [s])
                .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(n)
    }

    fn members(&self) -> Result<Vec<MemberRecord>, StoreError> {
        let c = self.read()?;
        let mut s = c
            .prepare_cached("SELECT name, org, groups, token_hash, key FROM member ORDER BY name")
            .map_err(err)?;
        let rows = s
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, Option<Vec<u8>>>(4)?,
                ))
            })
            .map_err(err)?;
        let mut out = Vec::new();
        for r in rows {
            let (name, org, groups, th, key) = r.map_err(err)?;
            out.push(MemberRecord {
                member: Member {
                    name,
                    org,
                    groups: split(&groups),
                },
                token_hash: arr(Some(th))?.unwrap_or([0; 32]),
                key: arr(key)?,
            });
        }
        Ok(out)
    }

    fn put_member(&self, m: &MemberRecord) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "INSERT OR REPLACE INTO member (name, org, groups, token_hash, key) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    m.member.name,
                    m.member.org,
                    m.member.groups.join(","),
                    &m.token_hash[..],
                    m.key.as_ref().map(|k| &k[..])
                ],
            )
            .map_err(err)?;
        Ok(())
    }

    fn collections(&self) -> Result<Vec<Collection>, StoreError> {
        let c = self.read()?;
        let mut s = c
            .prepare_cached(
                "SELECT id, title, description, alias, default_tlp, can_read, can_write FROM collection ORDER BY title, id",
            )
            .map_err(err)?;
        let rows = s
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .map_err(err)?;
        let mut out = Vec::new();
        for r in rows {
            let (id, title, description, alias, tlp, read, write) = r.map_err(err)?;
            out.push(Collection {
                id,
                title,
                description,
                alias,
                default_tlp: Tlp::parse(&tlp).unwrap_or(Tlp::Red),
                read: split(&read),
                write: split(&write),
            });
        }
        Ok(out)
    }

    fn put_collection(&self, col: &Collection) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "INSERT OR REPLACE INTO collection (id, title, description, alias, default_tlp, can_read, can_write) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    col.id,
                    col.title,
                    col.description,
                    col.alias,
                    col.default_tlp.name(),
                    col.read.join(","),
                    col.write.join(",")
                ],
            )
            .map_err(err)?;
        Ok(())
    }

    fn count(&self, coll: &str) -> Result<u64, StoreError> {
        self.read()?
            .query_row("SELECT COUNT(*) FROM object WHERE coll = ?1", [coll], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(err)
    }

    fn evidence_visible(
        &self,
        sha256: &str,
        reader: &super::Reader,
        colls: &[String],
    ) -> Result<bool, StoreError> {
        let Some((sql, args)) = super::evidence_sql(sha256, reader, colls, |_| "?".into()) else {
            return Ok(false);
        };
        let p = args;
        self.read()?
            .query_row(&sql, params_from_iter(p), |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
            .map_err(err)
    }
}
