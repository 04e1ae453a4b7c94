//! Storage behind the hub: one interface, SQLite by default ([`SqliteStore`]) and
//! PostgreSQL for scale, run by the same tests. Both sit on [`detente_db`], the storage
//! layer the telemetry aggregators share (locations, durable opening, values, the pool).
//!
//! # Contract
//!
//! - [`Store::insert`] stores a batch of object versions and their status resources in one
//!   transaction, durable when it returns: it all survives a crash, or none of it does.
//! - A version is identified by (collection, id, version key); inserting one that exists is
//!   refused by the store (the hub checks first, the constraint is the last word).
//! - [`Store::query`] applies the reader's audience inside the query, before `limit`, so a
//!   page is never short because of hidden objects and its cost does not depend on how
//!   many hidden objects lie between visible ones beyond what the indexes bound.

mod postgres;
mod sqlite;

pub use postgres::PgStore;

pub use sqlite::SqliteStore;

use crate::access::{Audience, Member, Principal, Tlp};
use crate::query::Filters;
use detente_db::Value;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[error("storage: {0}")]
pub struct StoreError(pub String);

/// A member as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    /// Name, organisation and groups.
    pub member: Member,
    /// SHA-256 of its API token (the token itself is never stored).
    pub token_hash: [u8; 32],
    /// Its Ed25519 public key, for signed submissions.
    pub key: Option<[u8; 32]>,
}

/// A collection as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    /// TAXII collection id (a UUID).
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Alias, if any.
    pub alias: Option<String>,
    /// Level of objects that carry no TLP marking.
    pub default_tlp: Tlp,
    /// Who may read: principals, `*` (every member) or `anyone` (also unauthenticated).
    pub read: Vec<Principal>,
    /// Who may write: principals or `*`.
    pub write: Vec<Principal>,
}

/// Provenance of an object synced from another hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The origin hub's log name.
    pub log: String,
    /// The entry's index in that log.
    pub index: u64,
    /// The origin hub's receipt (a tlog-proof carrying the entry).
    pub receipt: String,
}

/// One stored object version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// `date_added` in microseconds: unique and strictly increasing, also the position.
    pub seq: i64,
    /// Collection id.
    pub collection: String,
    /// STIX id.
    pub id: String,
    /// STIX type.
    pub typ: String,
    /// Version as served.
    pub version: String,
    /// Version as a sortable key ([`detente_stix::timestamp_key`]).
    pub version_key: String,
    /// Canonical JSON.
    pub body: Vec<u8>,
    /// SHA-256 of `body`.
    pub hash: [u8; 32],
    /// TLP level applied.
    pub level: Tlp,
    /// Audience.
    pub audience: Audience,
    /// Submitting member.
    pub member: String,
    /// Its organisation.
    pub org: String,
    /// Its key at submission.
    pub key: Option<[u8; 32]>,
    /// Its verified signature.
    pub signature: Option<[u8; 64]>,
    /// Index of the entry in the hub's log.
    pub log_index: u64,
    /// For synced objects: where they came from.
    pub origin: Option<Origin>,
    /// Evidence files the object references: the lowercase hex SHA-256 values in the
    /// `hashes` of an `artifact` or `file` object.
    pub refs: Vec<String>,
}

/// A status resource as stored: only its requester may read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRecord {
    /// Status id (a UUID).
    pub id: String,
    /// Member that posted.
    pub member: String,
    /// The status resource's JSON.
    pub body: String,
}

/// Who is reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    /// Not signed in: only [`Audience::Anyone`].
    Anonymous,
    /// A member, with its principals.
    Member(Vec<Principal>),
}

/// One query over a collection's versions.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    /// Collection id.
    pub collection: &'a str,
    /// Reader.
    pub reader: &'a Reader,
    /// Filters.
    pub filters: &'a Filters,
    /// Only versions after this position (the cursor's).
    pub after: Option<i64>,
    /// Return at most this many (the store returns up to `limit + 1` so the hub knows
    /// whether there is more).
    pub limit: usize,
}

/// The hub's storage.
pub trait Store: Send + Sync {
    /// The highest `date_added` stored (0 when empty).
    fn last_seq(&self) -> Result<i64, StoreError>;
    /// The hash of the version stored under (collection, id, version key), if any.
    fn existing(&self, coll: &str, id: &str, vkey: &str) -> Result<Option<[u8; 32]>, StoreError>;
    /// Which of these (id, version key) pairs are taken, with their hashes.
    fn existing_many(
        &self,
        coll: &str,
        keys: &[(String, String)],
    ) -> Result<Vec<(String, String, [u8; 32])>, StoreError> {
        let mut out = Vec::new();
        for (id, vkey) in keys {
            if let Some(h) = self.existing(coll, id, vkey)? {
                out.push((id.clone(), vkey.clone(), h));
            }
        }
        Ok(out)
    }
    /// Stores versions and status resources atomically and durably.
    fn insert(&self, rows: &[Version], statuses: &[StatusRecord]) -> Result<(), StoreError>;
    /// A status resource.
    fn status(&self, id: &str) -> Result<Option<StatusRecord>, StoreError>;
    /// Versions matching a query, in `date_added` order, up to `limit + 1`.
    fn query(&self, q: &Query<'_>) -> Result<Vec<Version>, StoreError>;
    /// Deletes versions by position; returns how many were deleted.
    fn delete(&self, coll: &str, seqs: &[i64]) -> Result<usize, StoreError>;
    /// All members.
    fn members(&self) -> Result<Vec<MemberRecord>, StoreError>;
    /// Adds or replaces a member.
    fn put_member(&self, m: &MemberRecord) -> Result<(), StoreError>;
    /// All collections.
    fn collections(&self) -> Result<Vec<Collection>, StoreError>;
    /// Adds or replaces a collection.
    fn put_collection(&self, c: &Collection) -> Result<(), StoreError>;
    /// Number of versions stored in a collection.
    fn count(&self, coll: &str) -> Result<u64, StoreError>;
    /// Whether some version in one of `colls` that `reader` may see references the evidence
    /// file with this SHA-256 (lowercase hex).
    fn evidence_visible(
        &self,
        sha256: &str,
        reader: &Reader,
        colls: &[String],
    ) -> Result<bool, StoreError>;
}

/// The query of [`Store::evidence_visible`], for either dialect.
pub(crate) fn evidence_sql(
    sha256: &str,
    reader: &Reader,
    colls: &[String],
    mark: impl Fn(usize) -> String,
) -> Option<(String, Vec<Value>)> {
    if colls.is_empty() {
        return None;
    }
    let mut p = vec![Value::Text(sha256.to_string())];
    let h = mark(1);
    let mut cs = Vec::new();
    for c in colls {
        p.push(Value::Text(c.clone()));
        cs.push(mark(p.len()));
    }
    let vis = match reader {
        Reader::Anonymous => "o.aud = 0".to_string(),
        Reader::Member(pr) => {
            let mut l = Vec::new();
            for x in pr {
                p.push(Value::Text(x.clone()));
                l.push(mark(p.len()));
            }
            format!(
                "(o.aud <= 1 OR EXISTS (SELECT 1 FROM audience a WHERE a.seq = o.seq AND a.principal IN ({})))",
                l.join(",")
            )
        }
    };
    Some((
        format!(
            "SELECT 1 FROM evidence_ref r JOIN object o ON o.seq = r.seq WHERE r.sha256 = {h} \
             AND o.coll IN ({}) AND {vis} LIMIT 1",
            cs.join(",")
        ),
        p,
    ))
}

pub(crate) fn level_code(t: Tlp) -> i64 {
    match t {
        Tlp::Clear => 0,
        Tlp::Green => 1,
        Tlp::Amber => 2,
        Tlp::AmberStrict => 3,
        Tlp::Red => 4,
    }
}

pub(crate) fn level_of(c: i64) -> Tlp {
    match c {
        0 => Tlp::Clear,
        1 => Tlp::Green,
        2 => Tlp::Amber,
        3 => Tlp::AmberStrict,
        // Unknown codes are read as the strictest level.
        _ => Tlp::Red,
    }
}

/// Builds the SELECT of [`Store::query`] over table `object` aliased `o` (with `audience`
/// for listed principals), shared by both stores. `mark(n)` renders the n-th placeholder
/// (1-based). `None` when the query can match nothing.
pub(crate) fn select_sql(
    q: &Query<'_>,
    columns: &str,
    mark: impl Fn(usize) -> String,
) -> Option<(String, Vec<Value>)> {
    let f = q.filters;
    if !f.spec_ok {
        return None;
    }
    let mut p: Vec<Value> = Vec::new();
    let mut push = |p: &mut Vec<Value>, v: Value| -> String {
        p.push(v);
        mark(p.len())
    };
    let list = |p: &mut Vec<Value>,
                push: &mut dyn FnMut(&mut Vec<Value>, Value) -> String,
                vs: &[String]|
     -> String {
        vs.iter()
            .map(|x| push(p, Value::Text(x.clone())))
            .collect::<Vec<_>>()
            .join(",")
    };
    let c = push(&mut p, Value::Text(q.collection.to_string()));
    let mut sql = format!("SELECT {columns} FROM object o WHERE o.coll = {c}");
    let after = match (q.after, f.added_after) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    if let Some(a) = after {
        let m = push(&mut p, Value::Int(a));
        sql.push_str(&format!(" AND o.seq > {m}"));
    }
    if !f.ids.is_empty() {
        let l = list(&mut p, &mut push, &f.ids);
        sql.push_str(&format!(" AND o.id IN ({l})"));
    }
    if !f.types.is_empty() {
        let l = list(&mut p, &mut push, &f.types);
        sql.push_str(&format!(" AND o.type IN ({l})"));
    }
    let visible = |t: &str,
                   p: &mut Vec<Value>,
                   push: &mut dyn FnMut(&mut Vec<Value>, Value) -> String|
     -> String {
        match q.reader {
            Reader::Anonymous => format!("{t}.aud = 0"),
            Reader::Member(pr) => {
                let l = list(p, push, pr);
                format!(
                    "({t}.aud <= 1 OR EXISTS (SELECT 1 FROM audience a WHERE a.seq = {t}.seq AND a.principal IN ({l})))"
                )
            }
        }
    };
    let vis = visible("o", &mut p, &mut push);
    sql.push_str(&format!(" AND {vis}"));
    let v = &f.versions;
    if !v.all {
        let mut alts = Vec::new();
        if !v.at.is_empty() {
            let l = list(&mut p, &mut push, &v.at);
            alts.push(format!("o.vkey IN ({l})"));
        }
        for (on, cmp) in [(v.last, ">"), (v.first, "<")] {
            if on {
                let vis = visible("o2", &mut p, &mut push);
                alts.push(format!(
                    "NOT EXISTS (SELECT 1 FROM object o2 WHERE o2.coll = o.coll AND o2.id = o.id \
                     AND o2.vkey {cmp} o.vkey AND {vis})"
                ));
            }
        }
        if alts.is_empty() {
            return None;
        }
        sql.push_str(&format!(" AND ({})", alts.join(" OR ")));
    }
    let l = push(&mut p, Value::Int(q.limit as i64 + 1));
    // With ids given, the (coll, id, vkey) index must drive the search: ordering by the bare
    // column would let the planner walk the whole collection in seq order instead.
    let order = if f.ids.is_empty() {
        "o.seq"
    } else {
        "(o.seq + 0)"
    };
    sql.push_str(&format!(" ORDER BY {order} LIMIT {l}"));
    Some((sql, p))
}

/// The query of [`Store::existing_many`] (one statement: the keys as a VALUES list joined to
/// the (coll, id, vkey) index, so each key is one index probe), for either dialect.
pub(crate) fn existing_sql(
    coll: &str,
    keys: &[(String, String)],
    mark: impl Fn(usize) -> String,
) -> (String, Vec<Value>) {
    let mut p = Vec::with_capacity(2 * keys.len() + 1);
    let mut rows = Vec::with_capacity(keys.len());
    for (id, vkey) in keys {
        p.push(Value::Text(id.clone()));
        let a = mark(p.len());
        p.push(Value::Text(vkey.clone()));
        let b = mark(p.len());
        rows.push(format!("({a}, {b})"));
    }
    p.push(Value::Text(coll.to_string()));
    let c = mark(p.len());
    (
        format!(
            "SELECT o.id, o.vkey, o.hash FROM (VALUES {}) AS k JOIN object o \
             ON o.coll = {c} AND o.id = k.column1 AND o.vkey = k.column2",
            rows.join(", ")
        ),
        p,
    )
}
