//! `detente intel`: run an intel hub (init, members, collections, peers) and use one as a
//! member (keygen, push, pull, sync, verify a receipt).
//!
//! A hub directory holds `config.json`, `hub.sqlite` (the default store), `log/` (the hub's
//! transparency log, laid out as `detente log init` makes it), `private/cursor.key` (mode
//! 0600) and `peers/*.policy` (the tlog-policies of peer hubs whose receipts it accepts).

use std::fs;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use clap::Subcommand;
use detente_hub::access::valid_name;
use detente_hub::entry::{hash_hex, sha256, verify_receipt};
use detente_hub::store::{Collection, MemberRecord, PgStore, SqliteStore, Store};
use detente_hub::{token_hash, Hub, HubInfo, Member, Tlp, TAXII};
use detente_policy::Policy;
use serde_json::{json, Value};

/// `detente intel` subcommands.
#[derive(Subcommand, Debug)]
pub enum IntelCommand {
    /// Create a hub: its transparency log (prints the log's verifier key), cursor key and
    /// database.
    Init {
        /// Hub directory (created).
        dir: PathBuf,
        /// The hub log's origin, e.g. hub.cert-a.example/log.
        #[arg(long)]
        origin: String,
        /// Discovery title.
        #[arg(long, default_value = "detente intel hub")]
        title: String,
        /// The API root's path segment.
        #[arg(long, default_value = "api")]
        api_root: String,
        /// Store objects in this PostgreSQL database (postgres://...) instead of
        /// `hub.sqlite`.
        #[arg(long)]
        database: Option<String>,
    },
    /// Add a member (or replace one of that name): prints its API token, once.
    MemberAdd {
        /// Hub directory.
        dir: PathBuf,
        /// Member name (1-64 of A-Za-z0-9._-).
        #[arg(long)]
        name: String,
        /// Its organisation.
        #[arg(long)]
        org: String,
        /// A group it belongs to (repeatable).
        #[arg(long = "group")]
        groups: Vec<String>,
        /// Its Ed25519 public key (base64, as `detente intel keygen` prints), for signed
        /// submissions.
        #[arg(long)]
        key: Option<String>,
    },
    /// Add a collection (or replace one with that id): prints its id.
    CollectionAdd {
        /// Hub directory.
        dir: PathBuf,
        /// Title.
        #[arg(long)]
        title: String,
        /// Id (default: a new UUID).
        #[arg(long)]
        id: Option<String>,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
        /// Alias.
        #[arg(long)]
        alias: Option<String>,
        /// TLP level of objects without a TLP marking: clear, green, amber, amber+strict, red.
        #[arg(long, default_value = "green")]
        default_tlp: String,
        /// Who may read: `anyone`, `*` (all members), org:NAME, group:NAME, member:NAME
        /// (repeatable; default `*`).
        #[arg(long = "read")]
        read: Vec<String>,
        /// Who may write (repeatable; default `*`).
        #[arg(long = "write")]
        write: Vec<String>,
    },
    /// Accept receipts from a peer hub for synced objects: POLICY is a tlog-policy naming the
    /// peer's log key and the witnesses and quorum its checkpoints need.
    PeerAdd {
        /// Hub directory.
        dir: PathBuf,
        /// A name for the peer.
        #[arg(long)]
        name: String,
        /// The policy file.
        #[arg(long)]
        policy: PathBuf,
    },
    /// Make an Ed25519 key pair for signing submissions: writes the private key (mode 0600)
    /// and prints the public key.
    Keygen {
        /// Private key file (created).
        out: PathBuf,
    },
    /// Post STIX objects (files holding a bundle, an envelope, a list or one object), each
    /// signed with --sign-key when given; prints the status and saves receipts.
    Push {
        /// The hub's API root URL, e.g. http://127.0.0.1:8080/api/.
        #[arg(long)]
        url: String,
        /// API token.
        #[arg(long)]
        token: String,
        /// Collection id.
        #[arg(long)]
        collection: String,
        /// Private key file to sign each object with.
        #[arg(long)]
        sign_key: Option<PathBuf>,
        /// Directory to save each accepted object's receipt in (`<id>@<version>.tlog-proof`).
        #[arg(long)]
        receipts: Option<PathBuf>,
        /// The hub log's verifier key (or a file holding it): check that the hub's log is
        /// consistent with the last visit before pushing.
        #[arg(long)]
        hub_key: Option<String>,
        /// Where checkpoints are kept between visits (default
        /// $XDG_STATE_HOME/detente/intel).
        #[arg(long)]
        state: Option<PathBuf>,
        /// Input files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Upload evidence files (content-addressed; readable by those who may read an
    /// `artifact` or `file` object whose hashes name them): prints each SHA-256.
    Upload {
        /// The hub's API root URL.
        #[arg(long)]
        url: String,
        /// API token.
        #[arg(long)]
        token: String,
        /// Files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Fetch every object of a collection the token may read, as a STIX bundle.
    Pull {
        /// The hub's API root URL.
        #[arg(long)]
        url: String,
        /// API token (none: anonymous).
        #[arg(long)]
        token: Option<String>,
        /// Collection id.
        #[arg(long)]
        collection: String,
        /// Only objects added after this timestamp.
        #[arg(long)]
        added_after: Option<String>,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The hub log's verifier key (or a file holding it): check that the hub's log is
        /// consistent with the last visit.
        #[arg(long)]
        hub_key: Option<String>,
        /// Where checkpoints are kept between visits (default
        /// $XDG_STATE_HOME/detente/intel).
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// Copy a collection from another hub into one's own over TAXII, keeping each object's
    /// original signature, submitter and the origin hub's receipt.
    Sync {
        /// The origin hub's API root URL.
        #[arg(long)]
        from: String,
        /// The token the origin hub gave.
        #[arg(long)]
        from_token: String,
        /// The origin collection.
        #[arg(long)]
        from_collection: String,
        /// One's own hub's API root URL.
        #[arg(long)]
        into: String,
        /// The token for one's own hub.
        #[arg(long)]
        token: String,
        /// The collection there.
        #[arg(long)]
        collection: String,
    },
    /// Verify a receipt offline under a tlog-policy (the hub's log key, witnesses, quorum);
    /// with --object, also that it is that object and its signature verifies.
    Verify {
        /// The receipt (a tlog-proof).
        receipt: PathBuf,
        /// The policy.
        #[arg(long)]
        policy: PathBuf,
        /// The STIX object (JSON) the receipt should be for.
        #[arg(long)]
        object: Option<PathBuf>,
    },
}

fn config_path(dir: &Path) -> PathBuf {
    dir.join("config.json")
}

fn read_config(dir: &Path) -> Result<Value> {
    let p = config_path(dir);
    let data = fs::read(&p)
        .with_context(|| format!("{}: not a hub directory (no config.json)", dir.display()))?;
    serde_json::from_slice(&data).with_context(|| format!("{}: bad JSON", p.display()))
}

/// Opens a hub directory's store: `hub.sqlite`, or the PostgreSQL database its
/// configuration names.
pub fn open_store(dir: &Path) -> Result<Box<dyn Store>> {
    let cfg = read_config(dir)?;
    let p = dir.join("hub.sqlite");
    match detente_db::Location::from_setting(cfg.get("database").and_then(Value::as_str), &p)
        .with_context(|| format!("{}: config.json", dir.display()))?
    {
        detente_db::Location::Postgres(url) => {
            Ok(Box::new(PgStore::connect(&url).with_context(|| {
                format!("{}: can't open the PostgreSQL store", dir.display())
            })?))
        }
        detente_db::Location::Sqlite(p) => Ok(Box::new(
            SqliteStore::open(&p).with_context(|| format!("{}: can't open", p.display()))?,
        )),
    }
}

/// Opens a hub directory for serving.
pub fn open_hub(dir: &Path) -> Result<Hub> {
    let cfg = read_config(dir)?;
    let s = |k: &str| cfg.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let info = HubInfo {
        title: s("title"),
        description: s("description"),
        api_root: s("api_root"),
    };
    if !valid_name(&info.api_root) {
        bail!("{}: bad api_root {:?}", dir.display(), info.api_root);
    }
    let key_path = dir.join("private").join("cursor.key");
    let key = fs::read(&key_path).with_context(|| format!("{}: can't read", key_path.display()))?;
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| anyhow::anyhow!("{}: not a 32-byte key", key_path.display()))?;
    let log_dir = dir.join("log");
    let signer = crate::log::read_signer(&log_dir)?;
    let mut peers = Vec::new();
    if let Ok(rd) = fs::read_dir(dir.join("peers")) {
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "policy") {
                let text = fs::read(&p).with_context(|| format!("{}: can't read", p.display()))?;
                peers.push(
                    Policy::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
                );
            }
        }
    }
    let hub = Hub::open(open_store(dir)?, &log_dir, signer, key, info)
        .with_context(|| format!("{}: can't open the hub", dir.display()))?;
    Ok(hub
        .with_peers(peers)
        .with_evidence(dir.join("evidence"), MAX_EVIDENCE))
}

fn init(
    dir: &Path,
    origin: &str,
    title: &str,
    api_root: &str,
    database: Option<&str>,
) -> Result<u8> {
    if config_path(dir).exists() {
        bail!("{}: a hub already exists there", dir.display());
    }
    if !valid_name(api_root) {
        bail!("--api-root {api_root:?}: use 1-64 of A-Za-z0-9._-");
    }
    fs::create_dir_all(dir.join("private"))
        .with_context(|| format!("{}: can't create", dir.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir.join("private"), fs::Permissions::from_mode(0o700))?;
    }
    crate::log::init(&dir.join("log"), origin)?;
    crate::log::write_private(
        &dir.join("private").join("cursor.key"),
        &crate::log::random_seed()?,
    )?;
    let mut cfg =
        json!({"title": title, "description": "", "api_root": api_root, "origin": origin});
    if let Some(db) = database {
        cfg["database"] = json!(db);
    }
    crate::containers::write_atomic(&config_path(dir), format!("{cfg:#}\n").as_bytes())?;
    // Creates the schema (and checks the database can be reached).
    open_store(dir)?;
    Ok(0)
}

fn parse_key(s: &str) -> Result<[u8; 32]> {
    let text = if Path::new(s).is_file() {
        fs::read_to_string(s).with_context(|| format!("{s}: can't read"))?
    } else {
        s.to_string()
    };
    STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .with_context(|| format!("{s:?}: not a base64 Ed25519 public key"))
}

fn check_principal(p: &str) -> Result<()> {
    let ok = p == "*"
        || p == "anyone"
        || ["org:", "group:", "member:"]
            .iter()
            .any(|x| p.strip_prefix(x).is_some_and(valid_name));
    if !ok {
        bail!("{p:?}: not anyone, *, org:NAME, group:NAME or member:NAME");
    }
    Ok(())
}

fn read_signing_key(p: &Path) -> Result<ed25519_dalek::SigningKey> {
    let text = fs::read_to_string(p).with_context(|| format!("{}: can't read", p.display()))?;
    let seed: [u8; 32] = STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|v| v.try_into().ok())
        .with_context(|| format!("{}: not a detente intel private key", p.display()))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

fn client() -> Result<reqwest::blocking::Client> {
    reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .context("can't build the HTTP client")
}

/// Largest evidence file a hub keeps.
pub const MAX_EVIDENCE: usize = 32 << 20;

/// Longest reply read from a hub.
const MAX_REPLY: u64 = 64 * 1024 * 1024;

fn reply_json(url: &str, resp: reqwest::blocking::Response) -> Result<Value> {
    let status = resp.status();
    let mut body = Vec::new();
    resp.take(MAX_REPLY)
        .read_to_end(&mut body)
        .with_context(|| format!("{url}: reading the reply"))?;
    let v: Value = serde_json::from_slice(&body)
        .with_context(|| format!("{url}: HTTP {status}: the reply is not JSON"))?;
    if !status.is_success() {
        bail!(
            "{url}: HTTP {status}: {}",
            v.get("description").and_then(Value::as_str).unwrap_or("")
        );
    }
    Ok(v)
}

fn get(c: &reqwest::blocking::Client, url: &str, token: Option<&str>) -> Result<Value> {
    let mut r = c.get(url).header("Accept", TAXII);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let resp = r.send().with_context(|| format!("{url}: request failed"))?;
    reply_json(url, resp)
}

fn post(c: &reqwest::blocking::Client, url: &str, token: &str, body: &Value) -> Result<Value> {
    let resp = c
        .post(url)
        .header("Accept", TAXII)
        .header("Content-Type", TAXII)
        .bearer_auth(token)
        .body(body.to_string())
        .send()
        .with_context(|| format!("{url}: request failed"))?;
    reply_json(url, resp)
}

fn root_url(u: &str) -> String {
    format!("{}/", u.trim_end_matches('/'))
}

/// The objects in a file holding a bundle, an envelope, a list or one object.
fn objects_of(p: &Path) -> Result<Vec<Value>> {
    let data = fs::read(p).with_context(|| format!("{}: can't read", p.display()))?;
    let v = detente_stix::parse_bounded(&data, 512 << 20, 64)
        .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    Ok(match v {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove("objects") {
            Some(Value::Array(a)) => a,
            Some(_) => bail!("{}: objects is not a list", p.display()),
            None => vec![Value::Object(o)],
        },
        _ => bail!("{}: not STIX JSON", p.display()),
    })
}

/// Objects per POST.
const CHUNK: usize = 500;

fn safe_file_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn push(
    url: &str,
    token: &str,
    coll: &str,
    sign_key: Option<&Path>,
    receipts: Option<&Path>,
    files: &[PathBuf],
) -> Result<u8> {
    let key = sign_key.map(read_signing_key).transpose()?;
    let mut objects = Vec::new();
    for f in files {
        objects.extend(objects_of(f)?);
    }
    let c = client()?;
    let base = root_url(url);
    let endpoint = format!("{base}collections/{coll}/objects/");
    let (mut ok, mut failed) = (0usize, 0usize);
    if let Some(d) = receipts {
        fs::create_dir_all(d).with_context(|| format!("{}: can't create", d.display()))?;
    }
    for chunk in objects.chunks(CHUNK) {
        let mut env = json!({"objects": chunk});
        if let Some(k) = &key {
            use ed25519_dalek::Signer as _;
            let mut sigs = serde_json::Map::new();
            for o in chunk {
                let canon = detente_stix::canonical(o)
                    .map_err(|e| anyhow::anyhow!("can't canonicalise an object: {e}"))?;
                sigs.insert(
                    hash_hex(&sha256(&canon)),
                    json!(STANDARD.encode(k.sign(&canon).to_bytes())),
                );
            }
            env["x_detente_signatures"] = Value::Object(sigs);
        }
        let st = post(&c, &endpoint, token, &env)?;
        for f in st["failures"].as_array().into_iter().flatten() {
            failed += 1;
            eprintln!(
                "refused: {} {}: {}",
                f["id"].as_str().unwrap_or("?"),
                f["version"].as_str().unwrap_or(""),
                f["message"].as_str().unwrap_or("")
            );
        }
        for s in st["successes"].as_array().into_iter().flatten() {
            ok += 1;
            let (id, version) = (
                s["id"].as_str().unwrap_or(""),
                s["version"].as_str().unwrap_or(""),
            );
            println!("{id}\t{version}\t{}", s["message"].as_str().unwrap_or(""));
            if let Some(d) = receipts {
                let purl = format!(
                    "{base}collections/{coll}/objects/{id}/provenance/?match[version]={version}"
                );
                let p = get(&c, &purl, Some(token))?;
                for item in p["provenance"].as_array().into_iter().flatten() {
                    if let Some(r) = item["receipt"].as_str() {
                        let name = safe_file_name(&format!("{id}@{version}.tlog-proof"));
                        crate::containers::write_atomic(&d.join(name), r.as_bytes())?;
                    }
                }
            }
        }
    }
    eprintln!("{ok} accepted, {failed} refused");
    Ok(if failed == 0 { 0 } else { 1 })
}

/// Every page of a collection's objects (with provenance when asked).
fn pull_all(
    c: &reqwest::blocking::Client,
    url: &str,
    token: Option<&str>,
    coll: &str,
    added_after: Option<&str>,
) -> Result<Vec<Value>> {
    let base = root_url(url);
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut q = String::from("limit=1000");
        if let Some(a) = added_after {
            q.push_str(&format!("&added_after={a}"));
        }
        if let Some(n) = &next {
            q.push_str(&format!("&next={n}"));
        }
        let env = get(c, &format!("{base}collections/{coll}/objects/?{q}"), token)?;
        out.extend(env["objects"].as_array().cloned().unwrap_or_default());
        match (env["more"].as_bool(), env["next"].as_str()) {
            (Some(true), Some(n)) => next = Some(n.to_string()),
            (Some(true), None) => bail!("{base}: more without next"),
            _ => break,
        }
    }
    Ok(out)
}

fn pull(
    url: &str,
    token: Option<&str>,
    coll: &str,
    added_after: Option<&str>,
    out: Option<&Path>,
) -> Result<u8> {
    let c = client()?;
    let objects = pull_all(&c, url, token, coll, added_after)?;
    let bundle = json!({
        "type": "bundle",
        "id": format!("bundle--{}", detente_hub::http::new_uuid()),
        "objects": objects,
    });
    let text = format!("{bundle:#}\n");
    match out {
        Some(p) => crate::containers::write_atomic(p, text.as_bytes())?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    eprintln!("{} objects", objects.len());
    Ok(0)
}

fn sync(
    from: &str,
    from_token: &str,
    from_coll: &str,
    into: &str,
    token: &str,
    coll: &str,
) -> Result<u8> {
    let c = client()?;
    let objects = pull_all(&c, from, Some(from_token), from_coll, None)?;
    let base = root_url(from);
    let mut origins = serde_json::Map::new();
    for o in &objects {
        let (Some(id), Some(v)) = (
            o["id"].as_str(),
            o.get("modified")
                .or_else(|| o.get("created"))
                .and_then(Value::as_str),
        ) else {
            continue;
        };
        let p = get(
            &c,
            &format!("{base}collections/{from_coll}/objects/{id}/provenance/?match[version]={v}"),
            Some(from_token),
        )?;
        for item in p["provenance"].as_array().into_iter().flatten() {
            // A receipt from the origin itself, or the one it kept from further upstream.
            let r = item["origin"]["receipt"]
                .as_str()
                .or_else(|| item["receipt"].as_str());
            if let (Some(h), Some(r)) = (item["sha256"].as_str(), r) {
                origins.insert(h.to_string(), json!(r));
            }
        }
    }
    let endpoint = format!("{}collections/{coll}/objects/", root_url(into));
    let (mut ok, mut failed) = (0, 0);
    for chunk in objects.chunks(CHUNK) {
        let env = json!({"objects": chunk, "x_detente_origins": origins});
        let st = post(&c, &endpoint, token, &env)?;
        ok += st["success_count"].as_u64().unwrap_or(0);
        for f in st["failures"].as_array().into_iter().flatten() {
            failed += 1;
            eprintln!(
                "not synced: {} {}: {}",
                f["id"].as_str().unwrap_or("?"),
                f["version"].as_str().unwrap_or(""),
                f["message"].as_str().unwrap_or("")
            );
        }
    }
    eprintln!("{ok} synced, {failed} not synced");
    Ok(if failed == 0 { 0 } else { 1 })
}

fn verify(receipt: &Path, policy: &Path, object: Option<&Path>) -> Result<u8> {
    let r = fs::read(receipt).with_context(|| format!("{}: can't read", receipt.display()))?;
    let ptext = fs::read(policy).with_context(|| format!("{}: can't read", policy.display()))?;
    let pol = Policy::parse(&ptext).map_err(|e| anyhow::anyhow!("{}: {e}", policy.display()))?;
    let canon = match object {
        None => None,
        Some(p) => {
            let data = fs::read(p).with_context(|| format!("{}: can't read", p.display()))?;
            let v = detente_stix::parse_bounded(&data, 64 << 20, 64)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
            Some(detente_stix::canonical(&v).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?)
        }
    };
    let v = match verify_receipt(&r, &pol, canon.as_deref()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{}: verification FAILED: {e}", receipt.display());
            return Ok(1);
        }
    };
    let e = &v.entry;
    println!(
        "log       {} (index {} of {})",
        v.proof.origin, v.proof.index, v.proof.tree_size
    );
    println!("witnesses {}", v.proof.witnesses.join(", "));
    println!("member    {} ({})", e.member, e.org);
    println!("added     {}", e.date_added);
    println!("object    sha256:{}", hash_hex(&e.object));
    if let Some((o, i)) = &e.origin {
        println!("origin    {o} index {i}");
    }
    println!(
        "signature {}",
        match (&e.signature, &v.object) {
            (None, _) => "none",
            (Some(_), None) => "present (give --object to check it)",
            (Some(_), Some(c)) if c.signature_verifies => "verifies over the object",
            (Some(_), Some(_)) => "does NOT verify",
        }
    );
    if let Some(c) = &v.object {
        if !c.hash_matches {
            eprintln!("the object given is not the one this receipt is for");
            return Ok(1);
        }
        if e.signature.is_some() && !c.signature_verifies {
            return Ok(1);
        }
    }
    Ok(0)
}

/// Checks that a hub's log only grew since this client last looked: the checkpoint
/// verifies under `hub_key`, and a consistency proof from the tiles links it to the one kept
/// in `state` (which it then replaces). A log that shrank or forked is refused, and both
/// checkpoints are kept in `state` as evidence.
fn check_log(root: &str, hub_key: &str, state: &Path) -> Result<()> {
    use detente_log::{Storage as _, StoredTiles};
    use detente_note::{Ed25519Verifier, SignedCheckpoint, Verifiers};
    use detente_tlog::{prove_consistency, verify_consistency, TileHashReader, TILE_HEIGHT};
    let key_text = if Path::new(hub_key).is_file() {
        fs::read_to_string(hub_key).with_context(|| format!("{hub_key}: can't read"))?
    } else {
        hub_key.to_string()
    };
    let vk =
        Ed25519Verifier::parse(key_text.trim()).map_err(|e| anyhow::anyhow!("--hub-key: {e}"))?;
    let known = Verifiers::new()
        .with(vk)
        .map_err(|e| anyhow::anyhow!("--hub-key: {e}"))?;
    let log_url = format!("{root}log");
    let source = detente_feed::Source::parse(&log_url)
        .with_context(|| format!("{log_url}: use https://, or http:// to a loopback host"))?;
    let src = crate::feed::FeedSource::new(&source)?;
    let msg = src
        .get(detente_log::CHECKPOINT_KEY)?
        .with_context(|| format!("{log_url}: no checkpoint"))?;
    let (new, _) = SignedCheckpoint::open(&msg, &known)
        .map_err(|e| anyhow::anyhow!("{log_url}/checkpoint: {e}"))?;
    fs::create_dir_all(state).with_context(|| format!("{}: can't create", state.display()))?;
    let file = state.join(format!(
        "{}.checkpoint",
        safe_file_name(new.checkpoint.origin())
    ));
    if let Ok(old_msg) = fs::read(&file) {
        let (old, _) = SignedCheckpoint::open(&old_msg, &known)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let (o, n) = (old.checkpoint.size(), new.checkpoint.size());
        let consistent = if o > n {
            false
        } else if o == 0 {
            true
        } else {
            let tiles = StoredTiles(&src);
            let reader = TileHashReader::new(TILE_HEIGHT, n, &tiles)?;
            let proof = if o == n {
                Vec::new()
            } else {
                prove_consistency(o, n, &reader)?
            };
            verify_consistency(o, n, old.checkpoint.root(), new.checkpoint.root(), &proof).is_ok()
        };
        if !consistent {
            let ev = state.join(format!(
                "{}.conflict-{}",
                safe_file_name(new.checkpoint.origin()),
                detente_hub::time::format_micros(now_micros())
            ));
            let mut both = old_msg.clone();
            both.extend_from_slice(b"\n");
            both.extend_from_slice(&msg);
            crate::containers::write_atomic(&ev, &both)?;
            bail!(
                "{log_url}: the hub's log is NOT consistent with what it showed before (size {o} then {n}): both checkpoints kept in {}",
                ev.display()
            );
        }
        eprintln!("{log_url}: consistent with the last visit (size {o} -> {n})");
    }
    crate::containers::write_atomic(&file, &msg)?;
    Ok(())
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Where the client keeps hub checkpoints between visits.
fn state_dir(given: Option<&Path>) -> PathBuf {
    given.map(Path::to_path_buf).unwrap_or_else(|| {
        std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
            .unwrap_or_else(|| PathBuf::from("."))
            .join("detente")
            .join("intel")
    })
}

/// A new random API token.
fn new_token() -> Result<String> {
    Ok(format!(
        "dtk_{}",
        URL_SAFE_NO_PAD.encode(crate::log::random_seed()?)
    ))
}

pub fn run(cmd: IntelCommand) -> Result<u8> {
    match cmd {
        IntelCommand::Init {
            dir,
            origin,
            title,
            api_root,
            database,
        } => init(&dir, &origin, &title, &api_root, database.as_deref()),
        IntelCommand::MemberAdd {
            dir,
            name,
            org,
            groups,
            key,
        } => {
            for n in std::iter::once(&name).chain([&org]).chain(&groups) {
                if !valid_name(n) {
                    bail!("{n:?}: names are 1-64 of A-Za-z0-9._-");
                }
            }
            let store = open_store(&dir)?;
            let token = new_token()?;
            store.put_member(&MemberRecord {
                member: Member { name, org, groups },
                token_hash: token_hash(&token),
                key: key.as_deref().map(parse_key).transpose()?,
            })?;
            println!("{token}");
            Ok(0)
        }
        IntelCommand::CollectionAdd {
            dir,
            title,
            id,
            description,
            alias,
            default_tlp,
            read,
            write,
        } => {
            let tlp = Tlp::parse(&default_tlp)
                .with_context(|| format!("--default-tlp {default_tlp:?}: unknown level"))?;
            let read = if read.is_empty() {
                vec!["*".into()]
            } else {
                read
            };
            let write = if write.is_empty() {
                vec!["*".into()]
            } else {
                write
            };
            for p in read.iter().chain(&write) {
                check_principal(p)?;
            }
            let id = id.unwrap_or_else(detente_hub::http::new_uuid);
            if id.is_empty() || id.len() > 128 || id.contains('/') {
                bail!("--id {id:?}: not a usable collection id");
            }
            open_store(&dir)?.put_collection(&Collection {
                id: id.clone(),
                title,
                description,
                alias,
                default_tlp: tlp,
                read,
                write,
            })?;
            println!("{id}");
            Ok(0)
        }
        IntelCommand::PeerAdd { dir, name, policy } => {
            if !valid_name(&name) {
                bail!("{name:?}: names are 1-64 of A-Za-z0-9._-");
            }
            let text =
                fs::read(&policy).with_context(|| format!("{}: can't read", policy.display()))?;
            Policy::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", policy.display()))?;
            let peers = dir.join("peers");
            fs::create_dir_all(&peers)?;
            crate::containers::write_atomic(&peers.join(format!("{name}.policy")), &text)?;
            Ok(0)
        }
        IntelCommand::Keygen { out } => {
            let seed = crate::log::random_seed()?;
            crate::log::write_private(&out, format!("{}\n", STANDARD.encode(seed)).as_bytes())?;
            let k = ed25519_dalek::SigningKey::from_bytes(&seed);
            println!("{}", STANDARD.encode(k.verifying_key().to_bytes()));
            Ok(0)
        }
        IntelCommand::Push {
            url,
            token,
            collection,
            sign_key,
            receipts,
            files,
            hub_key,
            state,
        } => {
            if let Some(k) = &hub_key {
                check_log(&root_url(&url), k, &state_dir(state.as_deref()))?;
            }
            push(
                &url,
                &token,
                &collection,
                sign_key.as_deref(),
                receipts.as_deref(),
                &files,
            )
        }
        IntelCommand::Upload { url, token, files } => {
            let c = client()?;
            let endpoint = format!("{}evidence/", root_url(&url));
            for f in &files {
                let data = fs::read(f).with_context(|| format!("{}: can't read", f.display()))?;
                let resp = c
                    .post(&endpoint)
                    .header("Accept", TAXII)
                    .header("Content-Type", "application/octet-stream")
                    .bearer_auth(&token)
                    .body(data)
                    .send()
                    .with_context(|| format!("{endpoint}: request failed"))?;
                let v = reply_json(&endpoint, resp)?;
                println!("{}\t{}", v["sha256"].as_str().unwrap_or(""), f.display());
            }
            Ok(0)
        }
        IntelCommand::Pull {
            url,
            token,
            collection,
            added_after,
            out,
            hub_key,
            state,
        } => {
            if let Some(k) = &hub_key {
                check_log(&root_url(&url), k, &state_dir(state.as_deref()))?;
            }
            pull(
                &url,
                token.as_deref(),
                &collection,
                added_after.as_deref(),
                out.as_deref(),
            )
        }
        IntelCommand::Sync {
            from,
            from_token,
            from_collection,
            into,
            token,
            collection,
        } => sync(
            &from,
            &from_token,
            &from_collection,
            &into,
            &token,
            &collection,
        ),
        IntelCommand::Verify {
            receipt,
            policy,
            object,
        } => verify(&receipt, &policy, object.as_deref()),
    }
}

/// The hub's router for `detente serve --hub`. With `witnesses` (a tlog-policy whose
/// witness lines carry URLs), every append is followed by a cosigning round in the
/// background: appends wake one worker, which cosigns the latest checkpoint (several
/// appends during a round are covered by the next one).
pub fn router(dir: &Path, witnesses: Option<&Path>) -> Result<(axum::Router, String)> {
    let mut hub = open_hub(dir)?;
    if let Some(policy) = witnesses {
        let policy = policy.to_path_buf();
        let log_dir = dir.join("log");
        // Starts pending: what is already logged is cosigned first.
        let wake = Arc::new((std::sync::Mutex::new(true), std::sync::Condvar::new()));
        let w2 = wake.clone();
        std::thread::Builder::new()
            .name("hub-cosign".into())
            .spawn(move || loop {
                {
                    let (m, cv) = &*w2;
                    let Ok(mut pending) = m.lock() else { return };
                    while !*pending {
                        pending = match cv.wait(pending) {
                            Ok(p) => p,
                            Err(_) => return,
                        };
                    }
                    *pending = false;
                }
                if let Err(e) = crate::log::cosign(&log_dir, &policy, &[]) {
                    eprintln!("detente serve: hub cosigning: {e:#}");
                }
            })
            .context("can't start the cosigning worker")?;
        hub = hub.on_append(move || {
            let (m, cv) = &*wake;
            if let Ok(mut p) = m.lock() {
                *p = true;
                cv.notify_one();
            }
        });
    }
    let root = hub.info().api_root.clone();
    Ok((detente_hub::http::router(Arc::new(hub)), root))
}
