//! Shared test helpers: a hub over a fresh store (SQLite in a temporary directory, or a
//! fresh database on the PostgreSQL server named by DETENTE_TEST_POSTGRES), members,
//! collections and a small deterministic RNG.

#![allow(dead_code)]

use std::path::Path;

use detente_hub::store::{Collection, MemberRecord, PgStore, SqliteStore, Store};
use detente_hub::{token_hash, Hub, HubInfo, Member, Tlp};
use detente_log::{DirStorage, LogWriter};
use detente_note::Ed25519Signer;
use serde_json::{json, Value};

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backends to run: SQLite always; PostgreSQL when DETENTE_TEST_POSTGRES names a
/// server. Without it the test fails: scripts/test starts one.
pub fn backends() -> Vec<Backend> {
    assert!(
        std::env::var_os("DETENTE_TEST_POSTGRES").is_some(),
        "DETENTE_TEST_POSTGRES is not set: run scripts/test, which starts a PostgreSQL server"
    );
    vec![Backend::Sqlite, Backend::Postgres]
}

/// A fresh, empty database on the test PostgreSQL server.
pub fn fresh_pg() -> String {
    let admin = std::env::var("DETENTE_TEST_POSTGRES").expect("DETENTE_TEST_POSTGRES");
    detente_db::fresh_postgres_database(&admin).expect("a fresh PostgreSQL database")
}

pub fn rand_bytes() -> [u8; 8] {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("randomness");
    b
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn store(b: Backend, dir: &Path) -> Box<dyn Store> {
    match b {
        Backend::Sqlite => Box::new(SqliteStore::open(&dir.join("hub.sqlite")).expect("sqlite")),
        Backend::Postgres => Box::new(PgStore::connect(&fresh_pg()).expect("postgres")),
    }
}

/// A hub over a fresh store, its log in `dir/log`.
pub fn hub(b: Backend, dir: &Path) -> Hub {
    hub_named(b, dir, "hub.test/log", 3)
}

/// The verifier key of a test hub's log.
pub fn hub_vkey(origin: &str, seed: u8) -> String {
    Ed25519Signer::from_seed(origin, [seed; 32])
        .expect("signer")
        .verifier()
        .to_string()
}

/// A hub with its own log origin and key.
pub fn hub_named(b: Backend, dir: &Path, origin: &str, seed: u8) -> Hub {
    let signer = || Ed25519Signer::from_seed(origin, [seed; 32]).expect("signer");
    let log = dir.join("log");
    std::fs::create_dir_all(log.join("private")).expect("mkdir");
    if !log.join("log").join("checkpoint").exists() {
        LogWriter::create(DirStorage::new(log.join("log")).expect("dir"), signer()).expect("log");
    }
    Hub::open(
        store(b, dir),
        &log,
        signer(),
        [9; 32],
        HubInfo {
            title: "test hub".into(),
            description: String::new(),
            api_root: "api".into(),
        },
    )
    .expect("hub")
}

/// Reopens a hub over an existing store.
pub fn reopen(st: Box<dyn Store>, dir: &Path) -> Hub {
    let signer = Ed25519Signer::from_seed("hub.test/log", [3; 32]).expect("signer");
    Hub::open(
        st,
        &dir.join("log"),
        signer,
        [9; 32],
        HubInfo {
            title: "test hub".into(),
            description: String::new(),
            api_root: "api".into(),
        },
    )
    .expect("hub")
}

/// Adds a member with token `tok-NAME`.
pub fn member(
    h: &Hub,
    name: &str,
    org: &str,
    groups: &[&str],
    key: Option<[u8; 32]>,
) -> MemberRecord {
    let m = MemberRecord {
        member: Member {
            name: name.into(),
            org: org.into(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
        },
        token_hash: token_hash(&format!("tok-{name}")),
        key,
    };
    h.store().put_member(&m).expect("member");
    h.reload_members().expect("reload");
    m
}

pub fn collection(h: &Hub, id: &str, default: Tlp, read: &[&str], write: &[&str]) {
    h.store()
        .put_collection(&Collection {
            id: id.into(),
            title: id.into(),
            description: String::new(),
            alias: None,
            default_tlp: default,
            read: read.iter().map(|s| s.to_string()).collect(),
            write: write.iter().map(|s| s.to_string()).collect(),
        })
        .expect("collection");
}

/// A valid indicator with a given UUID number, modified time and markings/recipients.
pub fn indicator(n: u64, modified: &str, tlp: Option<Tlp>, recipients: &[&str]) -> Value {
    let mut o = json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": format!("indicator--{:08x}-0000-4000-8000-{:012x}", n >> 16, n & 0xffff_ffff_ffff),
        "created": "2020-01-01T00:00:00.000Z",
        "modified": modified,
        "name": format!("indicator {n}"),
        "pattern": "[file:hashes.'SHA-256' = 'aa']",
        "pattern_type": "stix",
        "valid_from": "2020-01-01T00:00:00Z",
    });
    if let Some(t) = tlp {
        o["object_marking_refs"] = json!([t.marking_id()]);
    }
    if !recipients.is_empty() {
        o["x_detente_recipients"] = json!(recipients);
    }
    o
}

pub fn envelope(objects: &[Value]) -> Vec<u8> {
    json!({"objects": objects}).to_string().into_bytes()
}

/// xorshift64*: deterministic test randomness.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
