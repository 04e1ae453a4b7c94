//! `detente telemetry setup`, `send` and `collect`, and the aggregator for `detente serve
//! --telemetry DIR`: task files, role keys, uploads through the outbox, collections.
//!
//! Files:
//! - `task.json` (public, every party): task id, Leader and Helper URLs, the families (their
//!   order is the vector's), the VDAF parameters, time precision, minimum batch size and the
//!   Collector's HPKE public key;
//! - `aggregator.json` (mode 0600, one per aggregator): its role, the VDAF verification key
//!   it shares with the other aggregator, its HPKE key pair, the Leader–Helper token (the
//!   Helper keeps its hash), the hash of the Collector's token (Leader), epsilon, and where
//!   its state is (`database`: a `postgres://` URL, or absent for `aggregator.sqlite` in
//!   its directory);
//! - `collector.json` (mode 0600): the Collector's HPKE secret and its token.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use anyhow::{bail, Context, Result};
use detente_dap::{
    CollectionJobReq, CollectionJobResp, Decode as _, Duration, Encode as _, HpkeConfigList,
    Interval, Opaque32, Query, Role, Time, UploadErrors,
};
use detente_telemetry::aggregate::Families;
use detente_telemetry::flow::{open_aggregate_share, HpkeKey, Task};
use detente_telemetry::measure::{measure, Policy};
use detente_telemetry::outbox::{check_chain, record, GENESIS};
use detente_telemetry::record::{make, Upload};
use detente_telemetry::report::Recipient;
use detente_telemetry::server::{token_hash, Aggregator, Which};
use detente_telemetry::store::AggStore;
use detente_telemetry::task::{unhex32, TaskFile};
use serde_json::{json, Map, Value};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn random32() -> Result<[u8; 32]> {
    crate::log::random_seed()
}

fn x25519_pair() -> Result<([u8; 32], [u8; 32])> {
    use hpke::{Kem as _, Serializable as _};
    let (sk, pk) = hpke::kem::X25519HkdfSha256::derive_keypair(&random32()?);
    Ok((sk.to_bytes().into(), pk.to_bytes().into()))
}

/// Reads a task file.
pub fn read_task(p: &Path) -> Result<TaskFile> {
    let bytes = fs::read(p).with_context(|| format!("{}: can't read", p.display()))?;
    TaskFile::parse(&bytes).with_context(|| format!("{}: not a task file", p.display()))
}

/// `detente telemetry setup`.
#[allow(clippy::too_many_arguments)]
pub fn setup(
    out: &Path,
    leader: &str,
    helper: &str,
    policy: &Path,
    min_batch: u64,
    epsilon: Option<(u32, u32)>,
    tokens_per_day: u32,
    databases: [Option<String>; 2],
) -> Result<u8> {
    for (role, d) in ["leader", "helper"].iter().zip(&databases) {
        detente_db::Location::from_setting(d.as_deref(), Path::new("aggregator.sqlite"))
            .with_context(|| format!("--{role}-database"))?;
    }
    let p = Policy::parse(
        &fs::read(policy).with_context(|| format!("{}: can't read", policy.display()))?,
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", policy.display()))?;
    if out.exists() {
        bail!("{}: exists already", out.display());
    }
    for d in ["leader", "helper", "collector"] {
        fs::create_dir_all(out.join(d))?;
    }
    let task_id = random32()?;
    let (csk, cpk) = x25519_pair()?;
    let chunk = ((p.families.len() as f64).sqrt().ceil() as usize).max(1);
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut rng = <chacha20::ChaCha20Rng as rand_core::SeedableRng>::from_seed(random32()?);
    let kp = blind_rsa_signatures::KeyPairSha384PSSRandomized::generate(&mut rng, 2048)
        .map_err(|e| anyhow::anyhow!("can't make the token issuer's key: {e}"))?;
    let issuer_public = b64.encode(kp.pk.to_der().map_err(|e| anyhow::anyhow!("{e}"))?);
    let issuer_secret = b64.encode(kp.sk.to_der().map_err(|e| anyhow::anyhow!("{e}"))?);
    let task = json!({
        "issuer_public": issuer_public,
        "task_id": hex(&task_id), "leader": leader, "helper": helper,
        "families": p.families, "max_weight": p.max_weight, "chunk_length": chunk,
        "time_precision": 86_400, "min_batch_size": min_batch,
        "collector": {"config_id": 9, "public_key": hex(&cpk)},
    });
    fs::write(out.join("task.json"), format!("{task:#}\n"))?;
    let verify_key = random32()?;
    let peer = format!("dtt_{}", hex(&random32()?));
    let ctoken = format!("dtc_{}", hex(&random32()?));
    for ((role, id), database) in [("leader", 1u8), ("helper", 2u8)]
        .into_iter()
        .zip(databases)
    {
        let (sk, pk) = x25519_pair()?;
        let mut a = json!({
            "role": role, "verify_key": hex(&verify_key),
            "hpke": {"config_id": id, "secret": hex(&sk), "public": hex(&pk)},
            "epsilon": epsilon.map(|(n, d)| json!([n, d])),
        });
        if let Some(db) = database {
            a["database"] = json!(db);
        }
        if role == "leader" {
            a["issuer_secret"] = json!(issuer_secret);
            a["tokens_per_day"] = json!(tokens_per_day);
            a["peer_token"] = json!(peer);
            a["collector_token_hash"] = json!(hex(&token_hash(&ctoken)));
        } else {
            a["peer_token_hash"] = json!(hex(&token_hash(&peer)));
        }
        fs::copy(out.join("task.json"), out.join(role).join("task.json"))?;
        crate::log::write_private(
            &out.join(role).join("aggregator.json"),
            format!("{a:#}\n").as_bytes(),
        )?;
    }
    crate::log::write_private(
        &out.join("collector").join("collector.json"),
        format!("{:#}\n", json!({"secret": hex(&csk), "token": ctoken})).as_bytes(),
    )?;
    fs::copy(
        out.join("task.json"),
        out.join("collector").join("task.json"),
    )?;
    println!("{}", out.join("task.json").display());
    Ok(0)
}

/// An aggregator's store: where the `database` setting of its aggregator.json says, or
/// `aggregator.sqlite` in its directory.
fn open_store(dir: &Path, a: &Value) -> Result<AggStore> {
    let loc = detente_db::Location::from_setting(
        a.get("database").and_then(Value::as_str),
        &dir.join("aggregator.sqlite"),
    )
    .with_context(|| format!("{}: aggregator.json", dir.display()))?;
    AggStore::open(&loc)
        .with_context(|| format!("{}: can't open the aggregator's store", dir.display()))
}

/// The aggregator of `detente serve --telemetry DIR`.
pub fn aggregator(dir: &Path) -> Result<axum::Router> {
    let t = read_task(&dir.join("task.json"))?;
    let p = dir.join("aggregator.json");
    let a: Value = serde_json::from_slice(
        &fs::read(&p).with_context(|| format!("{}: can't read", p.display()))?,
    )
    .with_context(|| format!("{}: not JSON", p.display()))?;
    let bad = |w: &str| anyhow::anyhow!("{}: {w}", p.display());
    let which = match a.get("role").and_then(Value::as_str) {
        Some("leader") => Which::Leader,
        Some("helper") => Which::Helper,
        _ => return Err(bad("role must be leader or helper")),
    };
    let h = a.get("hpke").ok_or_else(|| bad("hpke missing"))?;
    let hx = |v: Option<&Value>, w: &str| {
        v.and_then(Value::as_str)
            .and_then(unhex32)
            .ok_or_else(|| bad(w))
    };
    let epsilon = a.get("epsilon").and_then(Value::as_array).and_then(|e| {
        Some((
            u32::try_from(e.first()?.as_u64()?).ok()?,
            u32::try_from(e.get(1)?.as_u64()?).ok()?,
        ))
    });
    let agg = Aggregator {
        which,
        task_id: t.id,
        task: t.config,
        vdaf: t.vdaf,
        verify_key: hx(a.get("verify_key"), "verify_key")?,
        hpke: HpkeKey {
            config_id: h
                .get("config_id")
                .and_then(Value::as_u64)
                .and_then(|x| u8::try_from(x).ok())
                .ok_or_else(|| bad("hpke.config_id"))?,
            secret: hx(h.get("secret"), "hpke.secret")?,
        },
        hpke_public: hx(h.get("public"), "hpke.public")?,
        collector: t.collector,
        helper_url: t.helper,
        peer_token_hash: match which {
            Which::Helper => hx(a.get("peer_token_hash"), "peer_token_hash")?,
            Which::Leader => [0; 32],
        },
        peer_token: a
            .get("peer_token")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        collector_token_hash: match which {
            Which::Leader => hx(a.get("collector_token_hash"), "collector_token_hash")?,
            Which::Helper => [0; 32],
        },
        epsilon,
        issuer: match (
            which,
            a.get("issuer_secret").and_then(Value::as_str),
            t.issuer.as_deref(),
        ) {
            (Which::Leader, Some(sk), Some(pk)) => {
                use base64::Engine as _;
                let der = base64::engine::general_purpose::STANDARD
                    .decode(sk)
                    .map_err(|_| bad("issuer_secret"))?;
                let per_day = a
                    .get("tokens_per_day")
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| bad("tokens_per_day"))?;
                Some((
                    detente_telemetry::tokens::IssuerSecret::from_der(&der)
                        .map_err(|e| bad(&format!("issuer_secret: {e}")))?,
                    detente_telemetry::tokens::IssuerKey::from_der(pk)
                        .map_err(|e| bad(&format!("issuer_public: {e}")))?,
                    per_day,
                ))
            }
            _ => None,
        },
        store: open_store(dir, &a)?,
    };
    detente_telemetry::server::router(agg).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))
}

fn http() -> Result<reqwest::blocking::Client> {
    reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .context("can't build the HTTP client")
}

fn fetch_hpke(c: &reqwest::blocking::Client, base: &str) -> Result<Recipient> {
    let url = detente_dap::Resource::HpkeConfig.url(base);
    let b = c
        .get(&url)
        .send()
        .with_context(|| format!("{url}: request failed"))?;
    if !b.status().is_success() {
        bail!("{url}: HTTP {}", b.status());
    }
    let bytes = b.bytes().with_context(|| format!("{url}: reading"))?;
    let list = HpkeConfigList::decode(&bytes).map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
    let cfg = list
        .configs
        .as_slice()
        .iter()
        .find(|c| c.kem_id == detente_dap::HpkeKemId::X25519_HKDF_SHA256)
        .with_context(|| format!("{url}: no X25519 configuration"))?;
    Ok(Recipient {
        config_id: cfg.id.0,
        public_key: cfg
            .public_key
            .as_ref()
            .try_into()
            .with_context(|| format!("{url}: bad public key"))?,
    })
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `detente telemetry send`.
pub fn send(
    task: &Path,
    policy: &Path,
    observed: &Path,
    dir: &Path,
    dry_run: bool,
    day: Option<u64>,
    credential: Option<&str>,
) -> Result<u8> {
    let t = read_task(task)?;
    let p = Policy::parse(
        &fs::read(policy).with_context(|| format!("{}: can't read", policy.display()))?,
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", policy.display()))?;
    if p.families != t.families || p.max_weight != t.vdaf.1 {
        bail!(
            "{}: its families and max_weight must be the task's ({})",
            policy.display(),
            task.display()
        );
    }
    let seen = crate::telemetry::read_observed(observed)?;
    let m = measure(&p, &seen);
    let c = http()?;
    let (leader, helper) = (fetch_hpke(&c, &t.leader)?, fetch_hpke(&c, &t.helper)?);
    let time = Time(day.unwrap_or(now_secs() / 86_400));
    let url = detente_dap::Resource::Reports { task_id: t.id }.url(&t.leader);
    let up = Upload {
        url: &url,
        task_id: t.id,
        task: &t.config,
        time,
        vdaf: t.vdaf,
        measurement: &m,
        seed: random32()?,
        leader,
        helper,
    };
    let (body, fields) = make(&up).map_err(|e| anyhow::anyhow!("can't build the report: {e}"))?;
    for i in &m.items {
        println!(
            "send     {:<40} {:>8}   allowed by rule {}",
            i.what, i.value, i.rule
        );
    }
    for w in &m.withheld {
        println!("withhold {w}");
    }
    if dry_run {
        println!(
            "dry run: {} bytes would go to {url}; nothing sent, nothing recorded",
            body.len()
        );
        return Ok(0);
    }
    // An unlinkable upload token, when the task asks for one (RFC 9474 blind signature: the
    // Leader's issuer signs it knowing this endpoint, but can't tell it again at upload):
    // one fetched ahead by `detente telemetry tokens`, or one fetched now.
    let token = match &t.issuer {
        None => None,
        Some(_) => {
            let d = u32::try_from(time.0).context("day out of range")?;
            match take_stored_token(dir, d)? {
                Some(tok) => Some(tok),
                None => {
                    let cred = credential.context(
                        "this task needs upload tokens: give --credential (from detente telemetry enroll), \
                         or fetch them ahead with detente telemetry tokens",
                    )?;
                    fetch_tokens(&c, &t, cred, d, 1)?.pop()
                }
            }
        }
    };
    // Recorded before it leaves: the outbox never misses a byte that was sent (the token
    // header included).
    let mut fields = fields;
    if let Some(tok) = &token {
        fields.insert("token".into(), json!(tok));
    }
    append_outbox(dir, fields)?;
    let mut post = c.post(&url);
    if let Some(tok) = &token {
        post = post.header(detente_telemetry::server::TOKEN_HEADER, tok);
    }
    let r = post
        .header("content-type", "application/ppm-dap;message=upload-req")
        .body(body.clone())
        .send()
        .with_context(|| format!("{url}: request failed"))?;
    let status = r.status();
    let bytes = r.bytes().with_context(|| format!("{url}: reading"))?;
    if !status.is_success() {
        bail!("{url}: HTTP {status}: {}", String::from_utf8_lossy(&bytes));
    }
    let errs = UploadErrors::decode(&bytes).map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
    if let Some(e) = errs.status.first() {
        bail!("{url}: the report was refused: {:?}", e.error);
    }
    println!(
        "sent {} bytes to {url}; recorded in {}",
        body.len(),
        dir.join("outbox.jsonl").display()
    );
    Ok(0)
}

/// Upload tokens from the Leader's issuer for `day`: `n` blinded requests (at most 64 per
/// call), signed within this endpoint's quota, finalized and encoded.
fn fetch_tokens(
    c: &reqwest::blocking::Client,
    t: &TaskFile,
    cred: &str,
    day: u32,
    n: usize,
) -> Result<Vec<String>> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let der = t
        .issuer
        .as_deref()
        .context("this task has no token issuer")?;
    let pk = detente_telemetry::tokens::IssuerKey::from_der(der)
        .map_err(|e| anyhow::anyhow!("issuer_public: {e}"))?;
    let mut rng = <chacha20::ChaCha20Rng as rand_core::SeedableRng>::from_seed(random32()?);
    // detente's own resource beside DAP's (DAP leaves client authentication open).
    let turl = format!("{}/tasks/{}/tokens", t.leader.trim_end_matches('/'), t.id);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let k = (n - out.len()).min(64);
        let pending = (0..k)
            .map(|_| detente_telemetry::tokens::request(&pk, &t.id.0, day, &mut rng))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let blinded: Vec<String> = pending.iter().map(|p| b64.encode(p.blinded())).collect();
        let r = c
            .post(&turl)
            .bearer_auth(cred)
            .header("content-type", "application/json")
            .body(json!({"day": day, "blinded": blinded}).to_string())
            .send()
            .with_context(|| format!("{turl}: request failed"))?;
        let status = r.status();
        let body = r.bytes().with_context(|| format!("{turl}: reading"))?;
        if !status.is_success() {
            bail!("{turl}: HTTP {status}: {}", String::from_utf8_lossy(&body));
        }
        let v: Value =
            serde_json::from_slice(&body).with_context(|| format!("{turl}: not JSON"))?;
        let sigs = v["signatures"]
            .as_array()
            .filter(|a| a.len() == k)
            .with_context(|| format!("{turl}: not {k} signatures"))?;
        for (p, sig) in pending.iter().zip(sigs) {
            let sig = sig
                .as_str()
                .and_then(|s| b64.decode(s).ok())
                .with_context(|| format!("{turl}: a signature is not base64"))?;
            let tok = detente_telemetry::tokens::finalize(&pk, &t.id.0, p, &sig)
                .map_err(|e| anyhow::anyhow!("{turl}: {e}"))?;
            out.push(detente_telemetry::tokens::encode_token(&tok));
        }
    }
    Ok(out)
}

/// The endpoint's stored tokens (`tokens` in its directory, mode 0600): one
/// `day<TAB>token` per line.
fn read_tokens(dir: &Path) -> Result<Vec<(u32, String)>> {
    let p = dir.join("tokens");
    let text = match fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("{}: can't read", p.display())),
    };
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            l.split_once('\t')
                .and_then(|(d, t)| Some((d.parse().ok()?, t.to_string())))
                .with_context(|| format!("{}:{}: not day<TAB>token", p.display(), i + 1))
        })
        .collect()
}

/// Replaces the endpoint's stored tokens, atomically (temporary file, fsync, rename).
fn write_tokens(dir: &Path, tokens: &[(u32, String)]) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("{}: can't create", dir.display()))?;
    let (p, tmp) = (dir.join("tokens"), dir.join("tokens.tmp"));
    let _ = fs::remove_file(&tmp);
    let text: String = tokens.iter().map(|(d, t)| format!("{d}\t{t}\n")).collect();
    crate::log::write_private(&tmp, text.as_bytes())?;
    fs::rename(&tmp, &p).with_context(|| format!("{}: can't replace", p.display()))?;
    fs::File::open(dir).and_then(|d| d.sync_all())?;
    Ok(())
}

/// Takes one stored token for `day`, if there is one (it is removed before it is used, so a
/// token is never shown twice); tokens of past days are dropped.
fn take_stored_token(dir: &Path, day: u32) -> Result<Option<String>> {
    let mut all = read_tokens(dir)?;
    if all.is_empty() {
        return Ok(None);
    }
    let before = all.len();
    all.retain(|(d, _)| *d >= day);
    let found = all
        .iter()
        .position(|(d, _)| *d == day)
        .map(|i| all.remove(i).1);
    if found.is_some() || all.len() != before {
        write_tokens(dir, &all)?;
    }
    Ok(found)
}

/// `detente telemetry tokens`: fetches `count` upload tokens for `day` ahead of the uploads
/// that will use them, so that when a token is issued says nothing about when a report is
/// sent.
pub fn tokens(
    task: &Path,
    dir: &Path,
    credential: &str,
    day: Option<u64>,
    count: usize,
) -> Result<u8> {
    let t = read_task(task)?;
    let d = u32::try_from(day.unwrap_or(now_secs() / 86_400)).context("day out of range")?;
    let c = http()?;
    let new = fetch_tokens(&c, &t, credential, d, count)?;
    let mut all = read_tokens(dir)?;
    all.extend(new.into_iter().map(|t| (d, t)));
    write_tokens(dir, &all)?;
    println!(
        "{count} tokens for day {d}; {} stored in {}",
        all.iter().filter(|(x, _)| *x == d).count(),
        dir.join("tokens").display()
    );
    Ok(0)
}

/// Appends one record to the outbox, chained after the last one, durably (fsync).
fn append_outbox(dir: &Path, fields: Map<String, Value>) -> Result<()> {
    let p = dir.join("outbox.jsonl");
    let text = match fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("{}: can't read", p.display())),
    };
    let (records, last) =
        check_chain(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    let prev = if records.is_empty() {
        GENESIS.to_string()
    } else {
        last
    };
    let line = record(records.len() as u64, &prev, fields);
    fs::create_dir_all(dir).with_context(|| format!("{}: can't create", dir.display()))?;
    let mut o = fs::OpenOptions::new();
    o.append(true).create(true);
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o
        .open(&p)
        .with_context(|| format!("{}: can't open", p.display()))?;
    f.write_all(format!("{line}\n").as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// `detente telemetry collect`.
pub fn collect(task: &Path, collector: &Path, day: u64, days: u64) -> Result<u8> {
    let t = read_task(task)?;
    let p = collector.join("collector.json");
    let cj: Value = serde_json::from_slice(
        &fs::read(&p).with_context(|| format!("{}: can't read", p.display()))?,
    )
    .with_context(|| format!("{}: not JSON", p.display()))?;
    let secret = cj
        .get("secret")
        .and_then(Value::as_str)
        .and_then(unhex32)
        .with_context(|| format!("{}: secret", p.display()))?;
    let token = cj
        .get("token")
        .and_then(Value::as_str)
        .with_context(|| format!("{}: token", p.display()))?;
    let req = CollectionJobReq {
        query: Query::time_interval(Interval::new(Time(day), Duration(days))),
        agg_param: Opaque32::default(),
        extensions: Default::default(),
    };
    let url = detente_dap::Resource::CollectionJobs { task_id: t.id }.url(&t.leader);
    let r = http()?
        .post(&url)
        .bearer_auth(token)
        .header(
            "content-type",
            "application/ppm-dap;message=collection-job-req",
        )
        .body(req.get_encoded())
        .send()
        .with_context(|| format!("{url}: request failed"))?;
    let status = r.status();
    let bytes = r.bytes().with_context(|| format!("{url}: reading"))?;
    if !status.is_success() {
        bail!("{url}: HTTP {status}: {}", String::from_utf8_lossy(&bytes));
    }
    let resp = CollectionJobResp::decode(&bytes).map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
    let vdaf = prio::vdaf::prio3::Prio3::new_multihot_count_vec(2, t.vdaf.0, t.vdaf.1, t.vdaf.2)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let task_ref = Task {
        id: t.id,
        config: &t.config,
        vdaf: &vdaf,
        verify_key: &[0; 32],
    };
    let l = open_aggregate_share(
        &task_ref,
        Role::Leader,
        &secret,
        &req,
        &resp.leader_encrypted_agg_share,
    )
    .map_err(|e| anyhow::anyhow!("the Leader's share: {e}"))?;
    let h = open_aggregate_share(
        &task_ref,
        Role::Helper,
        &secret,
        &req,
        &resp.helper_encrypted_agg_share,
    )
    .map_err(|e| anyhow::anyhow!("the Helper's share: {e}"))?;
    let fam = Families::new(t.vdaf.0, t.vdaf.1, t.vdaf.2).map_err(|e| anyhow::anyhow!("{e}"))?;
    let counts = fam
        .unshard([l, h], resp.report_count as usize)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let p128 = <prio::field::Field128 as prio::field::FieldElementWithInteger>::modulus();
    println!("reports {}", resp.report_count);
    for (name, c) in t.families.iter().zip(&counts) {
        // Noise can take a count below zero; it is shown signed.
        let signed: i128 = if *c > p128 / 2 {
            -((p128 - c) as i128)
        } else {
            *c as i128
        };
        println!("{signed}\t{name}");
    }
    Ok(0)
}

/// `detente telemetry enroll`: enrolls endpoints with the Leader's issuer; prints one
/// credential per endpoint (`name<TAB>credential`), kept only as a hash.
pub fn enroll(leader_dir: &Path, name: &str, count: u32) -> Result<u8> {
    let p = leader_dir.join("aggregator.json");
    let a: Value = serde_json::from_slice(
        &fs::read(&p).with_context(|| format!("{}: can't read", p.display()))?,
    )
    .with_context(|| format!("{}: bad JSON", p.display()))?;
    let store = open_store(leader_dir, &a)?;
    for i in 0..count {
        let n = if count == 1 {
            name.to_string()
        } else {
            format!("{name}-{i}")
        };
        let cred = format!("dte_{}", hex(&random32()?));
        store.enroll(&n, &token_hash(&cred))?;
        println!("{n}\t{cred}");
    }
    Ok(0)
}
