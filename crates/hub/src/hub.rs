//! The hub: storage, the log writer and the cursor key put together. Every TAXII operation
//! is one method taking the authenticated member and the clock's value; the HTTP edge only
//! maps requests and replies.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use detente_log::{DirStorage, LogWriter, Storage as _, StoredTiles, CHECKPOINT_KEY};
use detente_note::{Ed25519Signer, SignedCheckpoint};
use detente_policy::TlogProof;
use detente_tlog::{TileHashReader, TILE_HEIGHT};
use serde_json::{json, Map, Value};
use subtle::ConstantTimeEq as _;

use crate::access::{allows, Audience, Member};
use crate::cursor::Cursors;
use crate::entry::{hash_hex, verify_receipt};
use crate::entry::{sha256, Entry, Kind};
use crate::query::{self, Filters};
use crate::store::{
    Collection, MemberRecord, Origin, Query, Reader, StatusRecord, Store, StoreError, Version,
};
use crate::submit::{prepare, Failure, Prepared};

/// Envelope property mapping an object's canonical SHA-256 to its origin hub's receipt.
pub const ORIGINS: &str = "x_detente_origins";
use crate::time::format_micros;

/// Largest request body accepted (TAXII `max_content_length`).
pub const MAX_CONTENT_LENGTH: usize = 10 * 1024 * 1024;
/// Deepest JSON accepted in an envelope (the envelope itself is depth 1).
pub const MAX_DEPTH: usize = 48;

/// A TAXII error: HTTP status and the error resource's title and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubError {
    /// HTTP status code.
    pub status: u16,
    /// Short title.
    pub title: String,
    /// What went wrong, for the client (never whether a hidden object exists).
    pub description: String,
}

impl HubError {
    fn new(status: u16, title: &str, description: impl Into<String>) -> HubError {
        HubError {
            status,
            title: title.to_string(),
            description: description.into(),
        }
    }
    /// 404 with the one text used for anything missing or hidden.
    pub fn not_found() -> HubError {
        HubError::new(404, "Not Found", "no such resource, or not visible to you")
    }
    /// 401.
    pub fn unauthorized() -> HubError {
        HubError::new(401, "Unauthorized", "sign in with a member token")
    }
    /// The TAXII error resource.
    pub fn resource(&self) -> Value {
        json!({
            "title": self.title,
            "description": self.description,
            "http_status": self.status.to_string(),
        })
    }
}

impl From<StoreError> for HubError {
    fn from(e: StoreError) -> HubError {
        // The detail goes to the operator's log, not to the client.
        eprintln!("detente hub: {e}");
        HubError::new(
            500,
            "Internal Error",
            "the hub could not complete the request",
        )
    }
}

fn bad(description: impl Into<String>) -> HubError {
    HubError::new(400, "Bad Request", description)
}

/// Static facts about the hub, from its configuration.
#[derive(Debug, Clone)]
pub struct HubInfo {
    /// Discovery title.
    pub title: String,
    /// Discovery description.
    pub description: String,
    /// The one API root's name (its URL path segment).
    pub api_root: String,
}

/// Which read path a request takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadKind {
    /// `objects/`.
    Objects,
    /// `manifest/`.
    Manifest,
    /// `objects/{id}/`.
    Object(String),
    /// `objects/{id}/versions/`.
    Versions(String),
}

/// One page of a read.
#[derive(Debug, Clone)]
pub struct Page {
    /// The versions on the page.
    pub versions: Vec<Version>,
    /// Whether there is more.
    pub more: bool,
    /// The cursor for the next page (always set when `more` is).
    pub next: Option<String>,
}

/// Signing in: an API token and, with HTTP Basic, the user name given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name sent with HTTP Basic (must then be the member's name), if any.
    pub user: Option<String>,
    /// The token.
    pub token: String,
}

struct Writer {
    log: LogWriter<DirStorage>,
    last: i64,
}

struct MemberCache {
    loaded: Instant,
    members: Vec<MemberRecord>,
}

/// How long the member list is cached before it is read again (members are added by
/// `detente intel member` while the hub runs).
const MEMBER_TTL: Duration = Duration::from_secs(2);

/// The intel hub.
pub struct Hub {
    store: Box<dyn Store>,
    writer: Mutex<Writer>,
    queue: Mutex<Vec<(Job, Reply)>>,
    lock_path: PathBuf,
    public: DirStorage,
    cursors: Cursors,
    info: HubInfo,
    members: RwLock<MemberCache>,
    on_append: Option<Box<dyn Fn() + Send + Sync>>,
    peers: Vec<detente_policy::Policy>,
    evidence: Option<(PathBuf, usize)>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("info", &self.info).finish()
    }
}

/// Why a hub can't be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Storage.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The log.
    #[error("log: {0}")]
    Log(#[from] detente_log::Error),
    /// Files.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A member's token hashed for storage and comparison.
pub fn token_hash(token: &str) -> [u8; 32] {
    sha256(token.as_bytes())
}

impl Hub {
    /// Opens a hub over `store` whose log lives in `log_dir` (the layout `detente log init`
    /// makes: `log/` public tree, `private/key`, `private/lock`).
    pub fn open(
        store: Box<dyn Store>,
        log_dir: &Path,
        signer: Ed25519Signer,
        cursor_key: [u8; 32],
        info: HubInfo,
    ) -> Result<Hub, OpenError> {
        let public = log_dir.join("log");
        let log = LogWriter::open(DirStorage::new(&public)?, signer)?;
        // A crash between the log append and the store's commit leaves entries the store
        // never got: new positions continue after those too, so no two entries share a
        // date_added.
        let last = store
            .last_seq()?
            .max(last_logged(log.storage(), log.size()));
        let members = store.members()?;
        Ok(Hub {
            store,
            writer: Mutex::new(Writer { log, last }),
            queue: Mutex::new(Vec::new()),
            lock_path: log_dir.join("private").join("lock"),
            public: DirStorage::new(&public)?,
            cursors: Cursors::new(cursor_key),
            info,
            members: RwLock::new(MemberCache {
                loaded: Instant::now(),
                members,
            }),
            on_append: None,
            peers: Vec::new(),
            evidence: None,
        })
    }

    /// Calls `f` (on the submitting thread, after the reply is decided) whenever entries
    /// were appended; the binary uses it to have witnesses cosign the new checkpoint.
    pub fn on_append(mut self, f: impl Fn() + Send + Sync + 'static) -> Hub {
        self.on_append = Some(Box::new(f));
        self
    }

    /// Peer hubs whose receipts this hub accepts for synced objects: each a tlog-policy
    /// naming the peer's log key and the witnesses and quorum required.
    pub fn with_peers(mut self, peers: Vec<detente_policy::Policy>) -> Hub {
        self.peers = peers;
        self
    }

    /// Keeps evidence files (content-addressed by SHA-256) in `dir`, each at most `max`
    /// bytes.
    pub fn with_evidence(mut self, dir: PathBuf, max: usize) -> Hub {
        self.evidence = Some((dir, max));
        self
    }

    /// The most bytes one evidence file may hold (0 when evidence files are off).
    pub fn evidence_limit(&self) -> usize {
        self.evidence.as_ref().map_or(0, |(_, m)| *m)
    }

    /// Stores an evidence file uploaded by `who` (who must be able to write to some
    /// collection). Answers its SHA-256 and size. Stored once; an upload of a file already
    /// there changes nothing. Readable only through objects that reference it.
    pub fn put_evidence(&self, who: &Member, data: &[u8]) -> Result<Value, HubError> {
        let Some((dir, max)) = &self.evidence else {
            return Err(HubError::not_found());
        };
        if data.len() > *max {
            return Err(HubError::new(
                413,
                "Payload Too Large",
                format!("evidence files are limited to {max} bytes"),
            ));
        }
        if !self.collections(Some(who))?.iter().any(|(_, _, w)| *w) {
            return Err(HubError::new(
                403,
                "Forbidden",
                "you may not write to any collection",
            ));
        }
        let h = hash_hex(&sha256(data));
        let path = dir.join(&h);
        if !path.exists() {
            write_durably(dir, &path, data).map_err(|e| StoreError(format!("evidence: {e}")))?;
        }
        Ok(json!({"sha256": h, "size": data.len()}))
    }

    /// An evidence file, if some object `who` may read references it (404 otherwise, the
    /// same as for a file that is not there).
    pub fn get_evidence(&self, who: Option<&Member>, sha: &str) -> Result<Vec<u8>, HubError> {
        let Some((dir, max)) = &self.evidence else {
            return Err(HubError::not_found());
        };
        if crate::entry::parse_hash(sha).is_none() {
            return Err(HubError::not_found());
        }
        let colls: Vec<String> = self
            .collections(who)?
            .into_iter()
            .filter(|(_, r, _)| *r)
            .map(|(c, _, _)| c.id)
            .collect();
        let reader = match who {
            None => Reader::Anonymous,
            Some(m) => Reader::Member(m.principals()),
        };
        if !self.store.evidence_visible(sha, &reader, &colls)? {
            return Err(HubError::not_found());
        }
        let path = dir.join(sha);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(HubError::not_found()),
            Err(e) => return Err(StoreError(format!("{}: {e}", path.display())).into()),
        };
        // What is served is what the hash names, never a file changed on disk.
        if data.len() > *max || hash_hex(&sha256(&data)) != sha {
            return Err(StoreError(format!("{}: does not match its hash", path.display())).into());
        }
        Ok(data)
    }

    /// Static hub facts.
    pub fn info(&self) -> &HubInfo {
        &self.info
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// The latest published checkpoint (with whatever cosignatures it carries).
    pub fn checkpoint(&self) -> Result<Vec<u8>, HubError> {
        self.public
            .get(CHECKPOINT_KEY)
            .map_err(|e| StoreError(e.to_string()))?
            .ok_or_else(|| StoreError("no checkpoint".into()).into())
    }

    /// An object of the log's public tree (tiles, entry bundles), by key.
    pub fn log_object(&self, key: &str) -> Result<Option<Vec<u8>>, HubError> {
        Ok(self
            .public
            .get(key)
            .map_err(|e| StoreError(e.to_string()))?)
    }

    /// Reads the member list again now (it is otherwise re-read every two seconds).
    pub fn reload_members(&self) -> Result<(), HubError> {
        let fresh = self.store.members()?;
        if let Ok(mut m) = self.members.write() {
            *m = MemberCache {
                loaded: Instant::now(),
                members: fresh,
            };
        }
        Ok(())
    }

    /// The member a token belongs to. Every stored hash is compared, in constant time.
    pub fn authenticate(&self, c: &Credentials) -> Result<MemberRecord, HubError> {
        let stale = self
            .members
            .read()
            .map(|m| m.loaded.elapsed() > MEMBER_TTL)
            .unwrap_or(true);
        if stale {
            self.reload_members()?;
        }
        let h = token_hash(&c.token);
        let cache = self
            .members
            .read()
            .map_err(|_| StoreError("member cache poisoned".into()))?;
        let mut found: Option<&MemberRecord> = None;
        for m in &cache.members {
            if bool::from(m.token_hash.ct_eq(&h)) {
                found = Some(m);
            }
        }
        match found {
            Some(m) if c.user.as_ref().is_none_or(|u| *u == m.member.name) => Ok(m.clone()),
            _ => Err(HubError::new(
                401,
                "Unauthorized",
                "the credentials are not valid",
            )),
        }
    }

    fn may(list: &[String], who: Option<&Member>) -> bool {
        list.iter().any(|p| match (p.as_str(), who) {
            ("anyone", _) => true,
            ("*", Some(_)) => true,
            (p, Some(m)) => m.principals().iter().any(|x| x == p),
            _ => false,
        })
    }

    /// Collections `who` may read or write, each with (can_read, can_write).
    pub fn collections(
        &self,
        who: Option<&Member>,
    ) -> Result<Vec<(Collection, bool, bool)>, HubError> {
        Ok(self
            .store
            .collections()?
            .into_iter()
            .filter_map(|c| {
                let r = Self::may(&c.read, who);
                let w = who.is_some() && Self::may(&c.write, who);
                (r || w).then_some((c, r, w))
            })
            .collect())
    }

    /// One collection `who` may see, with (can_read, can_write); 404 otherwise.
    pub fn collection(
        &self,
        who: Option<&Member>,
        id: &str,
    ) -> Result<(Collection, bool, bool), HubError> {
        self.collections(who)?
            .into_iter()
            .find(|(c, _, _)| c.id == id || c.alias.as_deref() == Some(id))
            .ok_or_else(|| {
                if who.is_none() {
                    HubError::unauthorized()
                } else {
                    HubError::not_found()
                }
            })
    }

    fn readable(&self, who: Option<&Member>, coll: &str) -> Result<Collection, HubError> {
        let (c, r, _) = self.collection(who, coll)?;
        if !r {
            return Err(HubError::new(
                403,
                "Forbidden",
                "you may not read this collection",
            ));
        }
        Ok(c)
    }

    /// Reads a page of `kind` from a collection, as `who` may see it.
    pub fn read(
        &self,
        who: Option<&Member>,
        coll: &str,
        kind: &ReadKind,
        raw_query: &str,
    ) -> Result<Page, HubError> {
        let c = self.readable(who, coll)?;
        let default_all = matches!(kind, ReadKind::Versions(_));
        let req = query::parse(raw_query, default_all).map_err(|e| bad(e.to_string()))?;
        let mut filters: Filters = req.filters;
        let scope = match kind {
            ReadKind::Objects => format!("objects {}", c.id),
            ReadKind::Manifest => format!("manifest {}", c.id),
            ReadKind::Object(id) | ReadKind::Versions(id) => {
                filters.ids = vec![id.clone()];
                format!("object {} {}", c.id, id)
            }
        };
        let digest = filters.digest_input(&scope);
        let name = who.map_or("", |m| m.name.as_str());
        let after = match &req.next {
            None => None,
            Some(n) => Some(
                self.cursors
                    .check(n, name, &digest)
                    .ok_or_else(|| bad("next is not a cursor this hub gave for this request"))?
                    as i64,
            ),
        };
        let reader = match who {
            None => Reader::Anonymous,
            Some(m) => Reader::Member(m.principals()),
        };
        let mut versions = self.store.query(&Query {
            collection: &c.id,
            reader: &reader,
            filters: &filters,
            after,
            limit: req.limit,
        })?;
        // Defence in depth: the store filtered by audience; check every row again.
        versions.retain(|v| allows(&v.audience, who));
        let more = versions.len() > req.limit;
        versions.truncate(req.limit);
        if versions.is_empty()
            && matches!(kind, ReadKind::Object(_) | ReadKind::Versions(_))
            && after.is_none()
        {
            return Err(HubError::not_found());
        }
        let next = match (more, versions.last()) {
            (true, Some(v)) => Some(self.cursors.make(name, &digest, v.seq as u64)),
            _ => None,
        };
        Ok(Page {
            versions,
            more: more && next.is_some(),
            next,
        })
    }

    /// A status resource, to the member that posted it only.
    pub fn status(&self, who: &Member, id: &str) -> Result<Value, HubError> {
        match self.store.status(id)? {
            Some(s) if s.member == who.name => {
                serde_json::from_str(&s.body).map_err(|e| StoreError(e.to_string()).into())
            }
            _ => Err(HubError::not_found()),
        }
    }

    fn lock_log(&self) -> Result<File, HubError> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(|e| StoreError(format!("{}: {e}", self.lock_path.display())))?;
        f.lock()
            .map_err(|e| StoreError(format!("{}: {e}", self.lock_path.display())))?;
        Ok(f)
    }

    /// Commits one submission's entries and versions (and its status resource) as part of
    /// a group: whoever holds the writer lock takes every job queued so far, re-checks their
    /// versions against each other and the store, appends all their entries to the log in
    /// one batch (durable), then stores all versions and statuses in one transaction. Each
    /// submitter waits for its own job's result.
    fn commit(&self, job: Job) -> Result<Option<StatusRecord>, HubError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let poisoned = || HubError::from(StoreError("writer lock poisoned".into()));
        self.queue.lock().map_err(|_| poisoned())?.push((job, tx));
        {
            let mut w = self.writer.lock().map_err(|_| poisoned())?;
            let jobs = std::mem::take(&mut *self.queue.lock().map_err(|_| poisoned())?);
            if !jobs.is_empty() {
                let (jobs, senders): (Vec<Job>, Vec<_>) = jobs.into_iter().unzip();
                let results = match self.run_group(&mut w, jobs) {
                    Ok(r) => r.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e); senders.len()],
                };
                for (s, r) in senders.into_iter().zip(results) {
                    // Capacity 1, one message per job: never blocks.
                    let _ = s.send(r);
                }
            }
        }
        rx.recv()
            .map_err(|_| HubError::from(StoreError("group commit lost a job".into())))?
    }

    fn run_group(
        &self,
        w: &mut Writer,
        mut jobs: Vec<Job>,
    ) -> Result<Vec<Option<StatusRecord>>, HubError> {
        let _file_lock = self.lock_log()?;
        // Versions taken meanwhile, by an earlier group or by another job of this one.
        let mut by_coll: std::collections::HashMap<String, Vec<(String, String)>> =
            Default::default();
        for j in &jobs {
            for (_, v) in &j.items {
                if let Some(v) = v.as_ref().filter(|v| !v.version_key.is_empty()) {
                    by_coll
                        .entry(v.collection.clone())
                        .or_default()
                        .push((v.id.clone(), v.version_key.clone()));
                }
            }
        }
        let mut taken: std::collections::HashMap<(String, String, String), [u8; 32]> =
            Default::default();
        for (coll, keys) in &by_coll {
            for chunk in keys.chunks(LOOKUP_CHUNK) {
                for (id, vkey, h) in self.store.existing_many(coll, chunk)? {
                    taken.insert((coll.clone(), id, vkey), h);
                }
            }
        }
        for j in jobs.iter_mut() {
            let items = std::mem::take(&mut j.items);
            for (e, v) in items {
                if let Some(ver) = v.as_ref().filter(|v| !v.version_key.is_empty()) {
                    let key = (
                        ver.collection.clone(),
                        ver.id.clone(),
                        ver.version_key.clone(),
                    );
                    match taken.get(&key) {
                        Some(h) if *h == ver.hash => {
                            j.successes.push((
                                ver.id.clone(),
                                ver.version.clone(),
                                "already present".into(),
                            ));
                            continue;
                        }
                        Some(_) => {
                            j.failures.push(Failure {
                                id: ver.id.clone(),
                                version: Some(ver.version.clone()),
                                message: "refused: this id and version are taken by another object"
                                    .into(),
                            });
                            continue;
                        }
                        None => {
                            taken.insert(key, ver.hash);
                        }
                    }
                }
                j.items.push((e, v));
            }
        }
        // Positions: date_added strictly increasing across the group.
        for j in jobs.iter_mut() {
            for (e, v) in j.items.iter_mut() {
                let seq = j.now_us.max(w.last + 1);
                w.last = seq;
                e.date_added = format_micros(seq);
                if let Some(v) = v {
                    v.seq = seq;
                    if v.version.is_empty() {
                        v.version = e.date_added.clone();
                        v.version_key = detente_stix::timestamp_key(&v.version).unwrap_or_default();
                    }
                }
            }
        }
        let first = w.log.size();
        let bytes: Vec<Vec<u8>> = jobs
            .iter()
            .flat_map(|j| j.items.iter().map(|(e, _)| e.to_bytes()))
            .collect();
        if !bytes.is_empty() {
            let refs: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
            w.log
                .append(&refs)
                .map_err(|e| StoreError(format!("log append: {e}")))?;
        }
        let mut index = first;
        let mut rows = Vec::new();
        let mut statuses = Vec::new();
        let mut out = Vec::with_capacity(jobs.len());
        for j in jobs.iter_mut() {
            for (_, v) in j.items.iter_mut() {
                if let Some(v) = v {
                    v.log_index = index;
                    rows.push(v.clone());
                }
                index += 1;
            }
            let st = j.status.as_ref().map(|meta| status_record(meta, j));
            if let Some(st) = &st {
                statuses.push(st.clone());
            }
            out.push(st);
        }
        self.store.insert(&rows, &statuses)?;
        Ok(out)
    }

    fn after_append(&self) {
        if let Some(f) = &self.on_append {
            f();
        }
    }

    /// Posts an envelope to a collection as `who`. Answers the status resource.
    ///
    /// An envelope may carry `x_detente_origins`, mapping an object's canonical SHA-256 to
    /// the receipt another hub gave for it: when the receipt verifies under one of this
    /// hub's peer policies and its entry is that object (with a signature that verifies),
    /// the object keeps its original submitter, signature and origin (federation).
    pub fn submit(
        &self,
        who: &MemberRecord,
        coll: &str,
        body: &[u8],
        now_us: i64,
        status_id: String,
    ) -> Result<Value, HubError> {
        let m = &who.member;
        let (c, _, w) = self.collection(Some(m), coll)?;
        if !w {
            return Err(HubError::new(
                403,
                "Forbidden",
                "you may not write to this collection",
            ));
        }
        let mut env = detente_stix::parse_bounded(body, MAX_CONTENT_LENGTH, MAX_DEPTH)
            .map_err(|e| bad(format!("request body: {e}")))?;
        let origins = match env.as_object_mut().and_then(|o| o.remove(ORIGINS)) {
            None => Map::new(),
            Some(Value::Object(o)) => o,
            Some(_) => return Err(bad("x_detente_origins is not an object")),
        };
        let (ready, mut failures) =
            prepare(env, m, who.key.as_ref(), c.default_tlp).map_err(|e| bad(e.to_string()))?;
        let total = ready.len() + failures.len();
        let mut successes: Vec<(String, String, String)> = Vec::new();
        let mut items: Vec<(Entry, Option<Version>)> = Vec::new();
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let known = self.known_versions(&c.id, m, &ready)?;
        for p in ready {
            let vkey = p
                .version
                .as_deref()
                .and_then(detente_stix::timestamp_key)
                .unwrap_or_default();
            let shown = p.version.clone().unwrap_or_default();
            if !vkey.is_empty() {
                if !seen.insert((p.id.clone(), vkey.clone())) {
                    successes.push((p.id, shown, "duplicate in this envelope".into()));
                    continue;
                }
                // Taken versions are checked when the group commits (`run_group`).
                // STIX 2.1 (3.6): a new version keeps `created` and `created_by_ref`.
                if let Some(msg) = known
                    .last
                    .get(&p.id)
                    .and_then(|prev| version_conflict(prev, &p))
                {
                    failures.push(Failure {
                        id: p.id,
                        version: p.version,
                        message: msg,
                    });
                    continue;
                }
            } else {
                // No version (an SCO): the same object again is a duplicate, not a new
                // version; only versions the submitter may see are compared.
                if !seen.insert((p.id.clone(), hash_hex(&p.hash))) {
                    successes.push((p.id, shown, "duplicate in this envelope".into()));
                    continue;
                }
                if let Some(v) = known.observables.get(&(p.id.clone(), p.hash)) {
                    successes.push((p.id, v.clone(), "already present".into()));
                    continue;
                }
            }
            let from_peer = match origins.get(&hash_hex(&p.hash)) {
                None => None,
                Some(r) => match self.check_origin(r, &p) {
                    Ok(x) => Some(x),
                    Err(msg) => {
                        failures.push(Failure {
                            id: p.id,
                            version: p.version,
                            message: msg,
                        });
                        continue;
                    }
                },
            };
            let (origin, entry_origin, member, org, key, signature) = match from_peer {
                Some((o, e)) => (
                    Some(o.clone()),
                    Some((o.log.clone(), o.index)),
                    e.member,
                    e.org,
                    e.key,
                    e.signature,
                ),
                None => (
                    None,
                    None,
                    m.name.clone(),
                    m.org.clone(),
                    who.key,
                    p.signature,
                ),
            };
            let entry = Entry {
                kind: Kind::Submit,
                collection: c.id.clone(),
                object: p.hash,
                member: member.clone(),
                org: org.clone(),
                key: if signature.is_some() { key } else { None },
                signature,
                date_added: String::new(),
                origin: entry_origin,
            };
            // A synced object's recipients name principals of the origin hub, which mean
            // nothing here: AMBER and AMBER+STRICT go to the organisation that received it
            // (the syncing member's), and nobody else.
            let audience = match (&origin, p.level) {
                (Some(_), crate::access::Tlp::Amber | crate::access::Tlp::AmberStrict) => {
                    Audience::Only(vec![format!("org:{}", m.org)])
                }
                _ => p.audience,
            };
            let v = Version {
                seq: 0,
                collection: c.id.clone(),
                id: p.id,
                typ: p.typ,
                version: shown,
                version_key: vkey,
                body: p.canonical,
                hash: p.hash,
                level: p.level,
                audience,
                member,
                org,
                key: entry.key,
                signature: entry.signature,
                log_index: 0,
                origin,
                refs: p.refs,
            };
            items.push((entry, Some(v)));
        }
        let appended = !items.is_empty();
        let st = self
            .commit(Job {
                items,
                successes,
                failures,
                status: Some(StatusMeta {
                    id: status_id,
                    member: m.name.clone(),
                    request_timestamp: format_micros(now_us),
                    total,
                }),
                now_us,
            })?
            .ok_or_else(|| HubError::from(StoreError("no status made".into())))?;
        if appended {
            self.after_append();
        }
        serde_json::from_str(&st.body).map_err(|e| StoreError(e.to_string()).into())
    }

    /// What the store already holds for the objects of an envelope, looked up in a few
    /// statements per envelope (not per object): the latest version `who` may see of each
    /// id, and the observables (no version) `who` may see.
    fn known_versions(
        &self,
        coll: &str,
        who: &Member,
        ready: &[Prepared],
    ) -> Result<Known, HubError> {
        let mut known = Known::default();
        let mut ids: Vec<String> = Vec::new();
        let mut observables: Vec<String> = Vec::new();
        for p in ready {
            match p.version.as_deref().and_then(detente_stix::timestamp_key) {
                Some(_) => ids.push(p.id.clone()),
                None => observables.push(p.id.clone()),
            }
        }
        let reader = Reader::Member(who.principals());
        for (list, last) in [(&mut ids, true), (&mut observables, false)] {
            list.sort();
            list.dedup();
            for chunk in list.chunks(LOOKUP_CHUNK) {
                let f = Filters {
                    ids: chunk.to_vec(),
                    versions: query::Versions {
                        last,
                        all: !last,
                        ..Default::default()
                    },
                    spec_ok: true,
                    ..Default::default()
                };
                let limit = if last { chunk.len() } else { query::MAX_LIMIT };
                let rows = self.store.query(&Query {
                    collection: coll,
                    reader: &reader,
                    filters: &f,
                    after: None,
                    limit,
                })?;
                for v in rows {
                    if last {
                        known.last.insert(v.id.clone(), v);
                    } else {
                        known.observables.insert((v.id.clone(), v.hash), v.version);
                    }
                }
            }
        }
        Ok(known)
    }

    /// Verifies an origin receipt for a prepared object against the peer policies.
    fn check_origin(&self, receipt: &Value, p: &Prepared) -> Result<(Origin, Entry), String> {
        let text = receipt
            .as_str()
            .ok_or_else(|| "origin receipt is not a string".to_string())?;
        if p.level == crate::access::Tlp::Red {
            return Err("TLP:RED objects are not re-shared from another hub".into());
        }
        let mut last = String::from("no peer hub is configured");
        for policy in &self.peers {
            match verify_receipt(text.as_bytes(), policy, Some(&p.canonical)) {
                Ok(r) => {
                    let check = r.object.unwrap_or(crate::entry::ObjectCheck {
                        hash_matches: false,
                        signature_verifies: false,
                    });
                    if !check.hash_matches {
                        return Err("origin receipt is for another object".into());
                    }
                    if r.entry.signature.is_some() && !check.signature_verifies {
                        return Err("origin signature does not verify".into());
                    }
                    return Ok((
                        Origin {
                            log: r.proof.origin.clone(),
                            index: r.proof.index,
                            receipt: text.to_string(),
                        },
                        r.entry,
                    ));
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(format!("origin receipt does not verify: {last}"))
    }

    /// Deletes the versions of object `id` that `raw_query`'s `match[version]` selects
    /// (all by default) and `who` may see. Only versions its organisation submitted may be
    /// deleted; each deletion is logged. Returns how many were deleted.
    pub fn delete(
        &self,
        who: &MemberRecord,
        coll: &str,
        id: &str,
        raw_query: &str,
        now_us: i64,
    ) -> Result<usize, HubError> {
        let m = &who.member;
        let (c, _, w) = self.collection(Some(m), coll)?;
        let mut req = query::parse(raw_query, true).map_err(|e| bad(e.to_string()))?;
        req.filters.ids = vec![id.to_string()];
        let reader = Reader::Member(m.principals());
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.query(&Query {
                collection: &c.id,
                reader: &reader,
                filters: &req.filters,
                after,
                limit: query::MAX_LIMIT,
            })?;
            let more = page.len() > query::MAX_LIMIT;
            after = page.last().map(|v| v.seq);
            all.extend(page.into_iter().take(query::MAX_LIMIT));
            if !more {
                break;
            }
        }
        all.retain(|v| allows(&v.audience, Some(m)));
        if all.is_empty() {
            return Err(HubError::not_found());
        }
        if !w || all.iter().any(|v| v.org != m.org) {
            return Err(HubError::new(
                403,
                "Forbidden",
                "only the organisation that submitted an object may delete it",
            ));
        }
        let items: Vec<(Entry, Option<Version>)> = all
            .iter()
            .map(|v| {
                (
                    Entry {
                        kind: Kind::Delete,
                        collection: c.id.clone(),
                        object: v.hash,
                        member: m.name.clone(),
                        org: m.org.clone(),
                        key: None,
                        signature: None,
                        date_added: String::new(),
                        origin: None,
                    },
                    None,
                )
            })
            .collect();
        let seqs: Vec<i64> = all.iter().map(|v| v.seq).collect();
        self.commit(Job {
            items,
            successes: Vec::new(),
            failures: Vec::new(),
            status: None,
            now_us,
        })?;
        let n = self.store.delete(&c.id, &seqs)?;
        self.after_append();
        Ok(n)
    }

    /// A receipt (tlog-proof carrying the entry) for the version at log index `index`,
    /// against the latest published checkpoint.
    pub fn receipt(&self, v: &Version) -> Result<String, HubError> {
        let entry = Entry {
            kind: Kind::Submit,
            collection: v.collection.clone(),
            object: v.hash,
            member: v.member.clone(),
            org: v.org.clone(),
            key: v.key,
            signature: v.signature,
            date_added: format_micros(v.seq),
            origin: v.origin.as_ref().map(|o| (o.log.clone(), o.index)),
        };
        let cp = self.checkpoint()?;
        let sc = SignedCheckpoint::parse(&cp).map_err(|e| StoreError(e.to_string()))?;
        let tiles = StoredTiles(&self.public);
        let reader = TileHashReader::new(TILE_HEIGHT, sc.checkpoint.size(), &tiles)
            .map_err(|e| StoreError(e.to_string()))?;
        let p = TlogProof::produce(v.log_index, sc, &reader, Some(entry.to_bytes()))
            .map_err(|e| StoreError(format!("receipt for index {}: {e}", v.log_index)))?;
        String::from_utf8(p.to_bytes()).map_err(|e| StoreError(e.to_string()).into())
    }

    /// Provenance of the versions of object `id` selected by `raw_query` (all by default)
    /// that `who` may see: submitter, signature, log index, receipt, origin.
    pub fn provenance(
        &self,
        who: Option<&Member>,
        coll: &str,
        id: &str,
        raw_query: &str,
    ) -> Result<Value, HubError> {
        let page = self.read(who, coll, &ReadKind::Versions(id.to_string()), raw_query)?;
        let mut out = Vec::new();
        for v in &page.versions {
            out.push(provenance_json(v, &self.receipt(v)?));
        }
        Ok(json!({"more": page.more, "next": page.next, "provenance": out}))
    }
}

/// The provenance resource of one version.
pub fn provenance_json(v: &Version, receipt: &str) -> Value {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    let mut o = json!({
        "id": v.id,
        "version": v.version,
        "date_added": format_micros(v.seq),
        "sha256": crate::entry::hash_hex(&v.hash),
        "member": v.member,
        "org": v.org,
        "tlp": v.level.name(),
        "log_index": v.log_index,
        "receipt": receipt,
    });
    if let Some(k) = v.key {
        o["key"] = json!(STANDARD.encode(k));
    }
    if let Some(s) = v.signature {
        o["signature"] = json!(STANDARD.encode(s));
    }
    if let Some(orig) = &v.origin {
        o["origin"] = json!({"log": orig.log, "index": orig.index, "receipt": orig.receipt});
    }
    o
}

/// Writes `data` to `path` in `dir` atomically and durably: a temporary file, fsync,
/// rename, fsync of the directory.
fn write_durably(dir: &Path, path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        path.file_name().and_then(|n| n.to_str()).unwrap_or("x")
    ));
    let mut f = File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

/// Ids per lookup statement.
const LOOKUP_CHUNK: usize = 400;

/// What the store holds for an envelope's objects ([`Hub::known_versions`]).
#[derive(Default)]
struct Known {
    /// id → latest version the submitter may see.
    last: std::collections::HashMap<String, Version>,
    /// (id, hash) → version, for observables the submitter may see.
    observables: std::collections::HashMap<(String, [u8; 32]), String>,
}

/// Whether `p` contradicts `prev`, the latest version of its object the submitter may see:
/// a new version must keep `created` and `created_by_ref` (STIX 2.1 section 3.6).
fn version_conflict(prev: &Version, p: &Prepared) -> Option<String> {
    let (Ok(old), Ok(new)) = (
        serde_json::from_slice::<Value>(&prev.body),
        serde_json::from_slice::<Value>(&p.canonical),
    ) else {
        return None;
    };
    for k in ["created", "created_by_ref"] {
        let (a, b) = (old.get(k), new.get(k));
        let same = match (a.and_then(Value::as_str), b.and_then(Value::as_str)) {
            (Some(x), Some(y)) if k == "created" => {
                detente_stix::timestamp_key(x) == detente_stix::timestamp_key(y)
            }
            _ => a == b,
        };
        if !same {
            return Some(format!(
                "a new version must keep {k} (STIX 2.1 section 3.6)"
            ));
        }
    }
    None
}

/// Where a job's result is sent.
type Reply = std::sync::mpsc::SyncSender<Result<Option<StatusRecord>, HubError>>;

/// One submission (or deletion) waiting to be committed in a group.
struct Job {
    items: Vec<(Entry, Option<Version>)>,
    successes: Vec<(String, String, String)>,
    failures: Vec<Failure>,
    /// The status resource to store (none for deletions).
    status: Option<StatusMeta>,
    now_us: i64,
}

/// What a status resource is made of besides the job's results.
struct StatusMeta {
    id: String,
    member: String,
    request_timestamp: String,
    total: usize,
}

/// The TAXII status resource of a committed job.
fn status_record(meta: &StatusMeta, j: &Job) -> StatusRecord {
    let mut succ: Vec<Value> = j
        .successes
        .iter()
        .map(|(id, v, msg)| json!({"id": id, "version": v, "message": msg}))
        .collect();
    for v in j.items.iter().filter_map(|(_, v)| v.as_ref()) {
        succ.push(json!({
            "id": v.id,
            "version": v.version,
            "message": format!("logged at index {}", v.log_index),
        }));
    }
    let fails: Vec<Value> = j
        .failures
        .iter()
        .map(|f| {
            let mut o = Map::new();
            o.insert("id".into(), json!(f.id));
            if let Some(v) = &f.version {
                o.insert("version".into(), json!(v));
            }
            o.insert("message".into(), json!(f.message));
            Value::Object(o)
        })
        .collect();
    let body = json!({
        "id": meta.id,
        "status": "complete",
        "request_timestamp": meta.request_timestamp,
        "total_count": meta.total,
        "success_count": succ.len(),
        "successes": succ,
        "failure_count": fails.len(),
        "failures": fails,
        "pending_count": 0,
        "pendings": [],
    });
    StatusRecord {
        id: meta.id.clone(),
        member: meta.member.clone(),
        body: body.to_string(),
    }
}

/// The `date_added` of the log's last entry, in microseconds (0 when there is none or it
/// is not a hub entry).
fn last_logged(storage: &DirStorage, size: u64) -> i64 {
    let Some(idx) = size.checked_sub(1) else {
        return 0;
    };
    let width = (idx % u64::from(detente_tlog::TILE_WIDTH)) as u32 + 1;
    let Ok(b) = detente_tlog::Bundle::new(idx >> TILE_HEIGHT, width) else {
        return 0;
    };
    let Ok(Some(data)) = storage.get(&b.path()) else {
        return 0;
    };
    detente_tlog::decode_bundle_for(&b, &data)
        .ok()
        .and_then(|e| e.last().and_then(|l| Entry::parse(l).ok()))
        .and_then(|e| crate::time::parse_micros(&e.date_added))
        .unwrap_or(0)
}
