//! The storage layer detente's servers share (the intel hub, the telemetry aggregators).
//!
//! - [`Location`]: which database a configuration names: a SQLite file by default, a
//!   `postgres://` URL for scale. Both servers read the same setting the same way.
//! - [`open_sqlite`]: a SQLite connection opened durably (WAL, `synchronous=FULL`: a
//!   committed transaction has been fsynced) with stable query plans.
//! - [`PgPool`]: a few PostgreSQL connections, each with its prepared statements.
//! - [`Db`] and [`Tx`]: one transaction interface over both, for stores whose logic is
//!   written once. SQL is written with `$1`-style placeholders and in the dialect both
//!   engines share (`INSERT … ON CONFLICT … DO NOTHING/UPDATE`, `RETURNING`); only the
//!   schema differs per engine ([`Schema`]). Writers are serialized: one SQLite connection
//!   writes, and on PostgreSQL each write transaction first takes a transaction-scoped
//!   advisory lock, so several processes sharing one database can't interleave a
//!   read-modify-write.
//!
//! Values are [`Value`]s (integer, text, blob, null), which is all the stores need and maps
//! one to one onto both engines.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};
use rusqlite::Connection;

/// A storage failure, with what failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DbError(pub String);

fn err(e: impl std::fmt::Display) -> DbError {
    DbError(e.to_string())
}

/// Where a server keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by URL (`postgres://user:password@host:port/db`).
    Postgres(String),
}

impl Location {
    /// The location a configuration's `database` setting names: a `postgres://` (or
    /// `postgresql://`) URL, or nothing (or an empty string) for the SQLite file
    /// `default_file`. Anything else is refused, so a typo never silently falls back to an
    /// empty local database.
    pub fn from_setting(setting: Option<&str>, default_file: &Path) -> Result<Location, DbError> {
        match setting {
            None | Some("") => Ok(Location::Sqlite(default_file.to_path_buf())),
            Some(url) if is_postgres_url(url) => Ok(Location::Postgres(url.to_string())),
            Some(other) => Err(DbError(format!(
                "database {other:?} is not a postgres:// URL (leave it out for the SQLite file {})",
                default_file.display()
            ))),
        }
    }
}

/// Whether `s` names a PostgreSQL database.
pub fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// Opens (creating) a SQLite database for writing: WAL, `synchronous=FULL`, a busy
/// timeout, and plans kept per prepared statement (with STAT4 a statement is otherwise
/// re-planned whenever a bound value changes, which costs more than running it).
pub fn open_sqlite(path: &Path) -> Result<Connection, DbError> {
    let c = Connection::open(path).map_err(|e| DbError(format!("{}: {e}", path.display())))?;
    c.busy_timeout(Duration::from_secs(10)).map_err(err)?;
    c.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
    c.pragma_update(None, "synchronous", "FULL").map_err(err)?;
    stable_plans(&c)?;
    Ok(c)
}

/// Opens a read-only connection to a SQLite database that [`open_sqlite`] created (WAL lets
/// it read committed snapshots beside the writer).
pub fn open_sqlite_reader(path: &Path) -> Result<Connection, DbError> {
    let c = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| DbError(format!("{}: {e}", path.display())))?;
    c.busy_timeout(Duration::from_secs(10)).map_err(err)?;
    stable_plans(&c)?;
    Ok(c)
}

fn stable_plans(c: &Connection) -> Result<(), DbError> {
    c.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(err)?;
    c.set_prepared_statement_cache_capacity(256);
    Ok(())
}

/// One pooled PostgreSQL connection and its prepared statements. Derefs to the
/// [`Client`], for stores that use it directly.
pub struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl Deref for PgConn {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl DerefMut for PgConn {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// A few PostgreSQL connections.
pub struct PgPool {
    conns: Vec<Mutex<PgConn>>,
}

impl PgPool {
    /// Opens `size` (at least one) connections to `url`, running `schema` (idempotent DDL)
    /// on the first.
    pub fn connect(url: &str, size: usize, schema: &str) -> Result<PgPool, DbError> {
        let mut conns = Vec::with_capacity(size.max(1));
        for i in 0..size.max(1) {
            let mut client = Client::connect(url, NoTls)
                .map_err(|e| DbError(format!("connecting to PostgreSQL: {e}")))?;
            if i == 0 {
                client
                    .batch_execute(schema)
                    .map_err(|e| DbError(format!("creating the schema: {e}")))?;
            }
            conns.push(Mutex::new(PgConn {
                client,
                statements: HashMap::new(),
            }));
        }
        Ok(PgPool { conns })
    }

    /// A free connection, or the first one when all are busy.
    pub fn get(&self) -> Result<MutexGuard<'_, PgConn>, DbError> {
        for c in &self.conns {
            if let Ok(g) = c.try_lock() {
                return Ok(g);
            }
        }
        self.conns[0]
            .lock()
            .map_err(|_| err("connection lock poisoned"))
    }
}

impl Drop for PgPool {
    /// Closes the connections on a thread of their own: the synchronous client blocks on
    /// its own runtime while closing, which must not happen on a thread that drives an
    /// asynchronous runtime (a server's worker dropping its state).
    fn drop(&mut self) {
        let conns = std::mem::take(&mut self.conns);
        if !conns.is_empty() {
            let _ = std::thread::Builder::new()
                .name("pg-close".into())
                .spawn(move || drop(conns));
        }
    }
}

/// A value bound to or read from SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// NULL.
    Null,
    /// A 64-bit integer (`INTEGER` / `BIGINT`).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (`BLOB` / `BYTEA`).
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Value {
        Value::Blob(v.to_vec())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Blob(v)
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Value::Text(t) => t.to_sql(ty, out),
            Value::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT8
                | Type::INT4
                | Type::INT2
                | Type::BOOL
                | Type::TEXT
                | Type::VARCHAR
                | Type::NAME
                | Type::BYTEA
        )
    }

    to_sql_checked!();
}

/// One result row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> Result<&Value, DbError> {
        self.0
            .get(i)
            .ok_or_else(|| DbError(format!("result column {i} is missing")))
    }

    /// Column `i` as an integer.
    pub fn int(&self, i: usize) -> Result<i64, DbError> {
        match self.at(i)? {
            Value::Int(v) => Ok(*v),
            v => Err(DbError(format!(
                "result column {i} is {v:?}, not an integer"
            ))),
        }
    }

    /// Column `i` as bytes.
    pub fn blob(&self, i: usize) -> Result<&[u8], DbError> {
        match self.at(i)? {
            Value::Blob(v) => Ok(v),
            v => Err(DbError(format!("result column {i} is {v:?}, not bytes"))),
        }
    }

    /// Column `i` as text.
    pub fn text(&self, i: usize) -> Result<&str, DbError> {
        match self.at(i)? {
            Value::Text(v) => Ok(v),
            v => Err(DbError(format!("result column {i} is {v:?}, not text"))),
        }
    }

    /// Column `i` as a fixed-size byte array.
    pub fn array<const N: usize>(&self, i: usize) -> Result<[u8; N], DbError> {
        <[u8; N]>::try_from(self.blob(i)?)
            .map_err(|_| DbError(format!("result column {i} is not {N} bytes long")))
    }
}

/// A transaction: statements with `$1`-style placeholders.
pub trait Tx {
    /// Runs a statement; returns the rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError>;
    /// Runs a query (or a statement with `RETURNING`); returns its rows.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError>;
}

/// `$n` placeholders as SQLite's `?n` (the SQL never holds `$` elsewhere).
fn sqlite_marks(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut it = sql.chars().peekable();
    while let Some(c) = it.next() {
        if c == '$' && it.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

struct SqliteTx<'a>(rusqlite::Transaction<'a>);

fn sqlite_value(v: rusqlite::types::Value) -> Value {
    use rusqlite::types::Value as V;
    match v {
        V::Null => Value::Null,
        V::Integer(i) => Value::Int(i),
        // The stores keep no floating-point columns; one read back is kept exact as text.
        V::Real(f) => Value::Text(f.to_string()),
        V::Text(t) => Value::Text(t),
        V::Blob(b) => Value::Blob(b),
    }
}

impl Tx for SqliteTx<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let mut st = self.0.prepare_cached(&sqlite_marks(sql)).map_err(err)?;
        let n = st
            .execute(rusqlite::params_from_iter(params.iter()))
            .map_err(err)?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let mut st = self.0.prepare_cached(&sqlite_marks(sql)).map_err(err)?;
        let n = st.column_count();
        let mut rows = st
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(err)? {
            let mut row = Vec::with_capacity(n);
            for i in 0..n {
                row.push(sqlite_value(r.get(i).map_err(err)?));
            }
            out.push(Row(row));
        }
        Ok(out)
    }
}

struct PgTx<'a> {
    tx: postgres::Transaction<'a>,
    statements: &'a mut HashMap<String, Statement>,
}

impl PgTx<'_> {
    fn statement(&mut self, sql: &str) -> Result<Statement, DbError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql).map_err(err)?;
        // Bounded: the stores' statements are a fixed set, but a caller building SQL from
        // input (IN lists of varying length) must not grow the cache without end.
        if self.statements.len() >= 256 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

fn pg_value(r: &postgres::Row, i: usize) -> Result<Value, DbError> {
    let ty = r.columns()[i].type_().clone();
    Ok(match ty {
        Type::INT8 => r.try_get::<_, Option<i64>>(i).map_err(err)?.map(Value::Int),
        Type::INT4 => r
            .try_get::<_, Option<i32>>(i)
            .map_err(err)?
            .map(|v| Value::Int(v.into())),
        Type::INT2 => r
            .try_get::<_, Option<i16>>(i)
            .map_err(err)?
            .map(|v| Value::Int(v.into())),
        Type::BOOL => r
            .try_get::<_, Option<bool>>(i)
            .map_err(err)?
            .map(|v| Value::Int(v.into())),
        Type::BYTEA => r
            .try_get::<_, Option<Vec<u8>>>(i)
            .map_err(err)?
            .map(Value::Blob),
        Type::TEXT | Type::VARCHAR | Type::NAME => r
            .try_get::<_, Option<String>>(i)
            .map_err(err)?
            .map(Value::Text),
        other => {
            return Err(DbError(format!(
                "result column {i} has type {other}, which no store uses"
            )))
        }
    }
    .unwrap_or(Value::Null))
}

impl Tx for PgTx<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let st = self.statement(sql)?;
        let p: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        self.tx.execute(&st, &p).map_err(err)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let st = self.statement(sql)?;
        let p: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        let rows = self.tx.query(&st, &p).map_err(err)?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| pg_value(r, i))
                    .collect::<Result<_, _>>()
                    .map(Row)
            })
            .collect()
    }
}

/// A store's schema, per engine (idempotent DDL: `CREATE … IF NOT EXISTS`).
#[derive(Debug, Clone, Copy)]
pub struct Schema<'a> {
    /// For SQLite.
    pub sqlite: &'a str,
    /// For PostgreSQL.
    pub postgres: &'a str,
    /// The PostgreSQL advisory lock every write transaction of this store takes (one
    /// number per kind of store, so stores sharing a database don't block each other).
    pub lock: i64,
}

enum Backend {
    Sqlite(Mutex<Connection>),
    Postgres { pool: PgPool, lock: i64 },
}

/// A database behind one transaction interface (see the crate documentation).
pub struct Db {
    backend: Backend,
    location: Location,
}

/// PostgreSQL connections a [`Db`] keeps.
const PG_POOL: usize = 4;

impl Db {
    /// Opens (creating) the database at `location` with `schema`.
    pub fn open(location: &Location, schema: Schema<'_>) -> Result<Db, DbError> {
        let backend = match location {
            Location::Sqlite(path) => {
                let c = open_sqlite(path)?;
                c.execute_batch(schema.sqlite).map_err(|e| {
                    DbError(format!("{}: creating the schema: {e}", path.display()))
                })?;
                Backend::Sqlite(Mutex::new(c))
            }
            Location::Postgres(url) => Backend::Postgres {
                pool: PgPool::connect(url, PG_POOL, schema.postgres)?,
                lock: schema.lock,
            },
        };
        Ok(Db {
            backend,
            location: location.clone(),
        })
    }

    /// Where the database is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Runs `f` in a write transaction, serialized with every other writer of this store:
    /// committed (durably) when `f` returns `Ok`, rolled back when it returns `Err`.
    pub fn write<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        self.run(true, f)
    }

    /// Runs `f` in a transaction that reads a consistent snapshot (`f` should not write).
    pub fn read<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        self.run(false, f)
    }

    fn run<T, E: From<DbError>>(
        &self,
        write: bool,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        match &self.backend {
            Backend::Sqlite(c) => {
                let mut c = c.lock().map_err(|_| err("connection lock poisoned"))?;
                let behavior = if write {
                    rusqlite::TransactionBehavior::Immediate
                } else {
                    rusqlite::TransactionBehavior::Deferred
                };
                let tx = c.transaction_with_behavior(behavior).map_err(err)?;
                let mut t = SqliteTx(tx);
                let v = f(&mut t)?;
                t.0.commit().map_err(err)?;
                Ok(v)
            }
            Backend::Postgres { pool, lock } => {
                let mut g = pool.get()?;
                let PgConn { client, statements } = &mut *g;
                let mut tx = client.transaction().map_err(err)?;
                if write {
                    tx.execute("SELECT pg_advisory_xact_lock($1)", &[lock])
                        .map_err(err)?;
                }
                let mut t = PgTx { tx, statements };
                let v = f(&mut t)?;
                t.tx.commit().map_err(err)?;
                Ok(v)
            }
        }
    }
}

/// For tests of stores: a fresh, empty database on the PostgreSQL server that `admin_url`
/// names (a URL ending in `/database`), returned as its URL.
pub fn fresh_postgres_database(admin_url: &str) -> Result<String, DbError> {
    let (base, _) = admin_url
        .rsplit_once('/')
        .ok_or_else(|| DbError(format!("{admin_url}: no database part")))?;
    let mut c = Client::connect(admin_url, NoTls)
        .map_err(|e| DbError(format!("connecting to PostgreSQL: {e}")))?;
    let mut r = [0u8; 8];
    getrandom::fill(&mut r).map_err(err)?;
    let name: String = std::iter::once("t_".to_string())
        .chain(r.iter().map(|b| format!("{b:02x}")))
        .collect();
    c.batch_execute(&format!("CREATE DATABASE {name}"))
        .map_err(|e| DbError(format!("creating database {name}: {e}")))?;
    Ok(format!("{base}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_become_sqlite_placeholders() {
        assert_eq!(
            sqlite_marks("SELECT a FROM db_selftest WHERE b = $1 AND c IN ($2, $10) AND d = '$'"),
            "SELECT a FROM db_selftest WHERE b = ?1 AND c IN (?2, ?10) AND d = '$'"
        );
    }

    #[test]
    fn settings_name_a_location_or_are_refused() {
        let f = Path::new("/x/agg.sqlite");
        assert_eq!(
            Location::from_setting(None, f).ok(),
            Some(Location::Sqlite(f.into()))
        );
        assert_eq!(
            Location::from_setting(Some("postgresql://u@h/db"), f).ok(),
            Some(Location::Postgres("postgresql://u@h/db".into()))
        );
        let e = Location::from_setting(Some("postgress://u@h/db"), f).unwrap_err();
        assert!(e.0.contains("postgress://u@h/db"), "{e}");
    }

    const SCHEMA: Schema<'static> = Schema {
        sqlite: "CREATE TABLE IF NOT EXISTS db_selftest (k BLOB PRIMARY KEY, n INTEGER NOT NULL) STRICT;",
        postgres: "CREATE TABLE IF NOT EXISTS db_selftest (k BYTEA PRIMARY KEY, n BIGINT NOT NULL);",
        lock: 1,
    };

    fn exercise(db: &Db) {
        let k: Value = b"key".as_slice().into();
        db.write(|t| -> Result<(), DbError> {
            t.execute("DELETE FROM db_selftest", &[])?;
            t.execute(
                "INSERT INTO db_selftest (k, n) VALUES ($1, $2)",
                &[k.clone(), 1.into()],
            )?;
            Ok(())
        })
        .unwrap();
        // An error inside rolls everything back.
        let r: Result<(), DbError> = db.write(|t| {
            t.execute("UPDATE db_selftest SET n = n + 1", &[])?;
            Err(DbError("stop".into()))
        });
        assert!(r.is_err());
        let rows = db
            .read(|t| {
                t.query(
                    "SELECT k, n FROM db_selftest WHERE k = $1",
                    std::slice::from_ref(&k),
                )
            })
            .unwrap();
        assert_eq!(rows, vec![Row(vec![k.clone(), Value::Int(1)])]);
        // Upserts and RETURNING in the shared dialect.
        let fresh = db
            .write(|t| {
                t.query(
                    "INSERT INTO db_selftest (k, n) VALUES ($1, 5), ($2, 6) ON CONFLICT (k) DO NOTHING RETURNING k",
                    &[k.clone(), b"other".as_slice().into()],
                )
            })
            .unwrap();
        assert_eq!(fresh, vec![Row(vec![b"other".as_slice().into()])]);
        db.write(|t| {
            t.execute(
                "INSERT INTO db_selftest (k, n) VALUES ($1, 2) ON CONFLICT (k) DO UPDATE SET n = db_selftest.n + excluded.n",
                std::slice::from_ref(&k),
            )
        })
        .unwrap();
        let n = db
            .read(|t| {
                t.query(
                    "SELECT n FROM db_selftest WHERE k = $1",
                    std::slice::from_ref(&k),
                )
            })
            .unwrap()[0]
            .int(0)
            .unwrap();
        assert_eq!(n, 3);
    }

    #[test]
    fn sqlite_transactions() {
        let d = tempfile::tempdir().unwrap();
        let db = Db::open(&Location::Sqlite(d.path().join("t.sqlite")), SCHEMA).unwrap();
        exercise(&db);
    }

    #[test]
    fn postgres_transactions() {
        let admin = std::env::var("DETENTE_TEST_POSTGRES").expect(
            "DETENTE_TEST_POSTGRES is not set: run scripts/test, which starts a PostgreSQL server",
        );
        let url = fresh_postgres_database(&admin).unwrap();
        let db = Db::open(&Location::Postgres(url), SCHEMA).unwrap();
        exercise(&db);
    }
}
