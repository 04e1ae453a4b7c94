//! The PostgreSQL store, for hubs that outgrow one SQLite file: the same schema and the same
//! queries ([`super::select_sql`]), a small pool of connections. A committed transaction is
//! durable as the server's `synchronous_commit` makes it (on by default).

use std::sync::MutexGuard;

use detente_db::{PgConn, PgPool};

use postgres::types::ToSql;
use postgres::{Client, Row};

use super::{
    level_code, level_of, select_sql, Collection, MemberRecord, Origin, Query, StatusRecord, Store,
    StoreError, Version,
};
use crate::access::{Audience, Member, Tlp};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS object (
    seq        BIGINT PRIMARY KEY,
    coll       TEXT NOT NULL,
    id         TEXT NOT NULL,
    type       TEXT NOT NULL,
    version    TEXT NOT NULL,
    vkey       TEXT COLLATE \"C\" NOT NULL,
    body       BYTEA NOT NULL,
    hash       BYTEA NOT NULL,
    level      BIGINT NOT NULL,
    aud        BIGINT NOT NULL,
    member     TEXT NOT NULL,
    org        TEXT NOT NULL,
    mkey       BYTEA,
    sig        BYTEA,
    log_index  BIGINT NOT NULL,
    origin_log TEXT,
    origin_index BIGINT,
    origin_receipt TEXT,
    UNIQUE (coll, id, vkey)
);
CREATE INDEX IF NOT EXISTS object_coll_seq ON object (coll, seq);
CREATE INDEX IF NOT EXISTS object_coll_type_seq ON object (coll, type, seq);
CREATE TABLE IF NOT EXISTS audience (
    seq       BIGINT NOT NULL,
    principal TEXT NOT NULL,
    PRIMARY KEY (seq, principal)
);
CREATE TABLE IF NOT EXISTS evidence_ref (
    sha256 TEXT NOT NULL,
    seq    BIGINT NOT NULL,
    PRIMARY KEY (sha256, seq)
);
CREATE TABLE IF NOT EXISTS status (
    id     TEXT PRIMARY KEY,
    member TEXT NOT NULL,
    body   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS member (
    name       TEXT PRIMARY KEY,
    org        TEXT NOT NULL,
    groups     TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    key        BYTEA
);
CREATE TABLE IF NOT EXISTS collection (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    description TEXT NOT NULL,
    alias       TEXT,
    default_tlp TEXT NOT NULL,
    can_read    TEXT NOT NULL,
    can_write   TEXT NOT NULL
);
";

/// Connections kept open.
const POOL: usize = 4;

/// The PostgreSQL store (see the module documentation).
pub struct PgStore {
    pool: PgPool,
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

fn arr<const N: usize>(v: Option<Vec<u8>>) -> Result<Option<[u8; N]>, StoreError> {
    v.map(|b| <[u8; N]>::try_from(b).map_err(|_| err("stored key or signature has a wrong length")))
        .transpose()
}

fn split(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

const COLUMNS: &str = "o.seq, o.coll, o.id, o.type, o.version, o.vkey, o.body, o.hash, o.level, \
    o.aud, o.member, o.org, o.mkey, o.sig, o.log_index, o.origin_log, o.origin_index, o.origin_receipt";

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/db`; plain TCP or a Unix
    /// socket directory as `host=`), creating the schema if needed.
    pub fn connect(url: &str) -> Result<PgStore, StoreError> {
        Ok(PgStore {
            pool: PgPool::connect(url, POOL, SCHEMA).map_err(err)?,
        })
    }

    /// A free connection, or the first one when all are busy.
    fn conn(&self) -> Result<MutexGuard<'_, PgConn>, StoreError> {
        self.pool.get().map_err(err)
    }

    fn version(&self, c: &mut Client, r: &Row) -> Result<Version, StoreError> {
        let seq: i64 = r.get(0);
        let aud: i64 = r.get(9);
        let audience = match aud {
            0 => Audience::Anyone,
            1 => Audience::Members,
            _ => Audience::Only(
                c.query(
                    "SELECT principal FROM audience WHERE seq = $1 ORDER BY principal",
                    &[&seq],
                )
                .map_err(err)?
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect(),
            ),
        };
        let origin = match (
            r.get::<_, Option<String>>(15),
            r.get::<_, Option<i64>>(16),
            r.get::<_, Option<String>>(17),
        ) {
            (Some(log), Some(index), Some(receipt)) => Some(Origin {
                log,
                index: index as u64,
                receipt,
            }),
            _ => None,
        };
        Ok(Version {
            seq,
            collection: r.get(1),
            id: r.get(2),
            typ: r.get(3),
            version: r.get(4),
            version_key: r.get(5),
            body: r.get(6),
            hash: arr(Some(r.get(7)))?.unwrap_or([0; 32]),
            level: level_of(r.get(8)),
            audience,
            member: r.get(10),
            org: r.get(11),
            key: arr(r.get(12))?,
            signature: arr(r.get(13))?,
            log_index: r.get::<_, i64>(14) as u64,
            origin,
            refs: Vec::new(),
        })
    }
}

impl Store for PgStore {
    fn last_seq(&self) -> Result<i64, StoreError> {
        let r = self
            .conn()?
            .query_one("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM object", &[])
            .map_err(err)?;
        Ok(r.get(0))
    }

    fn existing(&self, coll: &str, id: &str, vkey: &str) -> Result<Option<[u8; 32]>, StoreError> {
        let r = self
            .conn()?
            .query_opt(
                "SELECT hash FROM object WHERE coll = $1 AND id = $2 AND vkey = $3",
                &[&coll, &id, &vkey],
            )
            .map_err(err)?;
        arr(r.map(|r| r.get(0)))
    }

    fn existing_many(
        &self,
        coll: &str,
        keys: &[(String, String)],
    ) -> Result<Vec<(String, String, [u8; 32])>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let (sql, args) = super::existing_sql(coll, keys, |n| format!("${n}"));
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|b| b as _).collect();
        let rows = self.conn()?.query(sql.as_str(), &refs).map_err(err)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.get::<_, String>(0),
                    r.get::<_, String>(1),
                    arr(Some(r.get(2)))?.unwrap_or([0; 32]),
                ))
            })
            .collect()
    }

    fn insert(&self, rows: &[Version], statuses: &[StatusRecord]) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(err)?;
        let ins = tx
            .prepare(
                "INSERT INTO object (seq, coll, id, type, version, vkey, body, hash, level, aud, \
                 member, org, mkey, sig, log_index, origin_log, origin_index, origin_receipt) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
            )
            .map_err(err)?;
        for v in rows {
            let (code, list): (i64, &[String]) = match &v.audience {
                Audience::Anyone => (0, &[]),
                Audience::Members => (1, &[]),
                Audience::Only(p) => (2, p),
            };
            let hash = v.hash.to_vec();
            let key = v.key.map(|k| k.to_vec());
            let sig = v.signature.map(|k| k.to_vec());
            let li = v.log_index as i64;
            let ol = v.origin.as_ref().map(|o| o.log.clone());
            let oi = v.origin.as_ref().map(|o| o.index as i64);
            let or = v.origin.as_ref().map(|o| o.receipt.clone());
            let lvl = level_code(v.level);
            let args: [&(dyn ToSql + Sync); 18] = [
                &v.seq,
                &v.collection,
                &v.id,
                &v.typ,
                &v.version,
                &v.version_key,
                &v.body,
                &hash,
                &lvl,
                &code,
                &v.member,
                &v.org,
                &key,
                &sig,
                &li,
                &ol,
                &oi,
                &or,
            ];
            tx.execute(&ins, &args).map_err(err)?;
            for p in list {
                tx.execute(
                    "INSERT INTO audience (seq, principal) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&v.seq, p],
                )
                .map_err(err)?;
            }
            for r in &v.refs {
                tx.execute(
                    "INSERT INTO evidence_ref (sha256, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[r, &v.seq],
                )
                .map_err(err)?;
            }
        }
        for status in statuses {
            tx.execute(
                "INSERT INTO status (id, member, body) VALUES ($1, $2, $3)",
                &[&status.id, &status.member, &status.body],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    fn status(&self, id: &str) -> Result<Option<StatusRecord>, StoreError> {
        let r = self
            .conn()?
            .query_opt("SELECT id, member, body FROM status WHERE id = $1", &[&id])
            .map_err(err)?;
        Ok(r.map(|r| StatusRecord {
            id: r.get(0),
            member: r.get(1),
            body: r.get(2),
        }))
    }

    fn query(&self, q: &Query<'_>) -> Result<Vec<Version>, StoreError> {
        let Some((sql, args)) = select_sql(q, COLUMNS, |n| format!("${n}")) else {
            return Ok(Vec::new());
        };
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|b| b as _).collect();
        let mut c = self.conn()?;
        let rows = c.query(sql.as_str(), &refs).map_err(err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.version(&mut c, r)?);
        }
        Ok(out)
    }

    fn delete(&self, coll: &str, seqs: &[i64]) -> Result<usize, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(err)?;
        let mut n = 0;
        for s in seqs {
            n += tx
                .execute(
                    "DELETE FROM object WHERE coll = $1 AND seq = $2",
                    &[&coll, s],
                )
                .map_err(err)? as usize;
            tx.execute("DELETE FROM audience WHERE seq = $1", &[s])
                .map_err(err)?;
            tx.execute("DELETE FROM evidence_ref WHERE seq = $1", &[s])
                .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(n)
    }

    fn members(&self) -> Result<Vec<MemberRecord>, StoreError> {
        let rows = self
            .conn()?
            .query(
                "SELECT name, org, groups, token_hash, key FROM member ORDER BY name",
                &[],
            )
            .map_err(err)?;
        rows.iter()
            .map(|r| {
                Ok(MemberRecord {
                    member: Member {
                        name: r.get(0),
                        org: r.get(1),
                        groups: split(r.get(2)),
                    },
                    token_hash: arr(Some(r.get(3)))?.unwrap_or([0; 32]),
                    key: arr(r.get(4))?,
                })
            })
            .collect()
    }

    fn put_member(&self, m: &MemberRecord) -> Result<(), StoreError> {
        let th = m.token_hash.to_vec();
        let key = m.key.map(|k| k.to_vec());
        let groups = m.member.groups.join(",");
        self.conn()?
            .execute(
                "INSERT INTO member (name, org, groups, token_hash, key) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (name) DO UPDATE SET org = EXCLUDED.org, groups = EXCLUDED.groups, \
                 token_hash = EXCLUDED.token_hash, key = EXCLUDED.key",
                &[&m.member.name, &m.member.org, &groups, &th, &key],
            )
            .map_err(err)?;
        Ok(())
    }

    fn collections(&self) -> Result<Vec<Collection>, StoreError> {
        let rows = self
            .conn()?
            .query(
                "SELECT id, title, description, alias, default_tlp, can_read, can_write \
                 FROM collection ORDER BY title, id",
                &[],
            )
            .map_err(err)?;
        Ok(rows
            .iter()
            .map(|r| Collection {
                id: r.get(0),
                title: r.get(1),
                description: r.get(2),
                alias: r.get(3),
                default_tlp: Tlp::parse(r.get(4)).unwrap_or(Tlp::Red),
                read: split(r.get(5)),
                write: split(r.get(6)),
            })
            .collect())
    }

    fn put_collection(&self, col: &Collection) -> Result<(), StoreError> {
        let (read, write) = (col.read.join(","), col.write.join(","));
        self.conn()?
            .execute(
                "INSERT INTO collection (id, title, description, alias, default_tlp, can_read, can_write) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET \
                 title = EXCLUDED.title, description = EXCLUDED.description, alias = EXCLUDED.alias, \
                 default_tlp = EXCLUDED.default_tlp, can_read = EXCLUDED.can_read, can_write = EXCLUDED.can_write",
                &[
                    &col.id,
                    &col.title,
                    &col.description,
                    &col.alias,
                    &col.default_tlp.name(),
                    &read,
                    &write,
                ],
            )
            .map_err(err)?;
        Ok(())
    }

    fn count(&self, coll: &str) -> Result<u64, StoreError> {
        let r = self
            .conn()?
            .query_one(
                "SELECT COUNT(*)::BIGINT FROM object WHERE coll = $1",
                &[&coll],
            )
            .map_err(err)?;
        Ok(r.get::<_, i64>(0) as u64)
    }

    fn evidence_visible(
        &self,
        sha256: &str,
        reader: &super::Reader,
        colls: &[String],
    ) -> Result<bool, StoreError> {
        let Some((sql, args)) = super::evidence_sql(sha256, reader, colls, |n| format!("${n}"))
        else {
            return Ok(false);
        };
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|b| b as _).collect();
        Ok(self
            .conn()?
            .query_opt(sql.as_str(), &refs)
            .map_err(err)?
            .is_some())
    }
}
