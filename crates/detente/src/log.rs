//! `detente log`: create, append to, prove from and verify a tiled transparency log.
//!
//! A log directory holds `log/` (the public tree: `checkpoint`, `tile/...`, static files any
//! HTTP server or CDN can serve), `log.vkey` (the verifier key) and `private/key` (the signer
//! key, mode 0600, in a 0700 directory) with `private/lock`, which keeps appenders one at a time.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use detente_log::{verify_log, DirStorage, LogWriter, Storage, StoredTiles, CHECKPOINT_KEY};
use detente_note::{Ed25519Signer, Ed25519Verifier, SignedCheckpoint, Verifiers};
use detente_policy::{Policy, TlogProof};
use detente_tlog::{leaf_hash, TileHashReader, TILE_HEIGHT};

/// Largest batch sequenced at once.
const BATCH: usize = 256;
/// Largest entry a bundle can hold.
const MAX_ENTRY: usize = 65_535;

/// `detente log` subcommands.
#[derive(Subcommand, Debug)]
pub enum LogCommand {
    /// Create a log: a new signing key (private/key, mode 0600) and an empty signed checkpoint.
    /// Prints the log's verifier key.
    Init {
        /// Log directory (created).
        dir: PathBuf,
        /// The log's origin: a unique name, schema-less URL recommended (e.g. example.org/feed).
        #[arg(long)]
        origin: String,
    },
    /// Append entries: each FILE's bytes become one entry, or with no FILE each line of
    /// standard input. Prints each entry's index once it is durable and published.
    Append {
        /// Log directory.
        dir: PathBuf,
        /// Files, one entry each.
        files: Vec<PathBuf>,
    },
    /// Have witnesses cosign the latest checkpoint (C2SP tlog-witness `add-checkpoint`), and
    /// publish it with their cosignatures added. Each returned cosignature is verified against
    /// the witness keys of the policy first; a bad or foreign line is reported and dropped.
    Cosign {
        /// Log directory.
        dir: PathBuf,
        /// A C2SP tlog-policy naming the witnesses and their keys; every witness line with a
        /// URL (`witness NAME VKEY URL`) is asked to cosign.
        #[arg(long)]
        policy: PathBuf,
        /// Also ask this witness base URL (repeatable), e.g. http://127.0.0.1:7380; its
        /// replies must verify under a witness key of the policy.
        #[arg(long = "witness")]
        witnesses: Vec<String>,
    },
    /// Print the latest signed checkpoint.
    Checkpoint {
        /// Log directory.
        dir: PathBuf,
    },
    /// Print a C2SP tlog-proof (`.tlog-proof`) that entry INDEX is in the log.
    Prove {
        /// Log directory.
        dir: PathBuf,
        /// Entry index.
        index: u64,
    },
    /// Verify a whole log: the checkpoint signature, every entry bundle and tile, the root.
    Verify {
        /// Log directory, or the URL its public tree is served at.
        source: String,
        /// The log's verifier key (`name+hash+base64`), or a file holding it.
        #[arg(long)]
        key: String,
    },
    /// Verify a `.tlog-proof` offline under a tlog-policy (trusted logs, witnesses, quorum).
    VerifyProof {
        /// The proof file.
        file: PathBuf,
        /// The policy file.
        #[arg(long)]
        policy: PathBuf,
        /// The entry's bytes (default: standard input).
        #[arg(long)]
        entry: Option<PathBuf>,
    },
}

fn public_dir(dir: &Path) -> PathBuf {
    dir.join("log")
}

pub(crate) fn read_signer(dir: &Path) -> Result<Ed25519Signer> {
    let p = dir.join("private").join("key");
    let text = fs::read_to_string(&p)
        .with_context(|| format!("{}: can't read the log's signing key", p.display()))?;
    Ed25519Signer::parse(text.trim_end())
        .map_err(|e| anyhow::anyhow!("{}: bad signing key: {e}", p.display()))
}

/// Writes a new file with mode 0600 (on Unix), refusing to overwrite.
pub(crate) fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o
        .open(path)
        .with_context(|| format!("{}: can't create key file", path.display()))?;
    f.write_all(data)?;
    f.sync_all()?;
    Ok(())
}

/// A fresh 32-byte seed from the operating system.
pub fn random_seed() -> Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    Ok(seed)
}

fn parse_vkey(key: &str) -> Result<Ed25519Verifier> {
    let text = if Path::new(key).is_file() {
        fs::read_to_string(key).with_context(|| format!("{key}: can't read verifier key"))?
    } else {
        key.to_string()
    };
    Ed25519Verifier::parse(text.trim())
        .map_err(|e| anyhow::anyhow!("bad verifier key {key:?}: {e}"))
}

pub(crate) fn init(dir: &Path, origin: &str) -> Result<u8> {
    if public_dir(dir).join(CHECKPOINT_KEY).exists() {
        bail!("{}: a log already exists there", dir.display());
    }
    let signer = Ed25519Signer::from_seed(origin, random_seed()?)
        .map_err(|e| anyhow::anyhow!("bad origin {origin:?}: {e}"))?;
    let private = dir.join("private");
    fs::create_dir_all(&private).with_context(|| format!("{}: can't create", private.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&private, fs::Permissions::from_mode(0o700))?;
    }
    write_private(&private.join("key"), signer.to_private_text().as_bytes())?;
    let vkey = signer.verifier().to_string();
    fs::write(dir.join("log.vkey"), format!("{vkey}\n"))?;
    let storage = DirStorage::new(public_dir(dir))?;
    LogWriter::create(storage, signer).context("can't write the first checkpoint")?;
    println!("{vkey}");
    Ok(0)
}

/// Holds the log's append lock for the life of the value.
pub(crate) struct AppendLock(#[allow(dead_code)] File);

pub(crate) fn lock(dir: &Path) -> Result<AppendLock> {
    let p = dir.join("private").join("lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .with_context(|| format!("{}: can't open lock file", p.display()))?;
    f.lock()
        .with_context(|| format!("{}: can't lock", p.display()))?;
    Ok(AppendLock(f))
}

fn commit(
    w: &mut LogWriter<DirStorage>,
    batch: &mut Vec<(Vec<u8>, String)>,
    out: &mut impl Write,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let first = w.size();
    let refs: Vec<&[u8]> = batch.iter().map(|(e, _)| e.as_slice()).collect();
    w.append(&refs).context("can't append")?;
    for (i, (_, label)) in batch.iter().enumerate() {
        if label.is_empty() {
            writeln!(out, "{}", first + i as u64)?;
        } else {
            writeln!(out, "{}\t{label}", first + i as u64)?;
        }
    }
    out.flush()?;
    batch.clear();
    Ok(())
}

fn append(dir: &Path, files: &[PathBuf]) -> Result<u8> {
    let _lock = lock(dir)?;
    let signer = read_signer(dir)?;
    let mut w = LogWriter::open(DirStorage::new(public_dir(dir))?, signer)
        .with_context(|| format!("{}: can't open the log", dir.display()))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut batch: Vec<(Vec<u8>, String)> = Vec::with_capacity(BATCH);
    if files.is_empty() {
        let stdin = std::io::stdin();
        for (n, line) in stdin.lock().split(b'\n').enumerate() {
            let line = line.context("can't read standard input")?;
            if line.len() > MAX_ENTRY {
                bail!(
                    "standard input line {}: {} bytes, entries are at most {MAX_ENTRY}",
                    n + 1,
                    line.len()
                );
            }
            batch.push((line, String::new()));
            if batch.len() == BATCH {
                commit(&mut w, &mut batch, &mut out)?;
            }
        }
    } else {
        // Read and check every file before appending any.
        let mut entries = Vec::with_capacity(files.len());
        for f in files {
            let data = fs::read(f).with_context(|| format!("{}: can't read", f.display()))?;
            if data.len() > MAX_ENTRY {
                bail!(
                    "{}: {} bytes, entries are at most {MAX_ENTRY}",
                    f.display(),
                    data.len()
                );
            }
            entries.push((data, f.display().to_string()));
        }
        for e in entries {
            batch.push(e);
            if batch.len() == BATCH {
                commit(&mut w, &mut batch, &mut out)?;
            }
        }
    }
    commit(&mut w, &mut batch, &mut out)?;
    Ok(0)
}

fn prove(dir: &Path, index: u64) -> Result<u8> {
    let storage = DirStorage::new(public_dir(dir))?;
    let msg = storage
        .get(CHECKPOINT_KEY)?
        .with_context(|| format!("{}: no checkpoint", dir.display()))?;
    let sc = SignedCheckpoint::parse(&msg).context("bad checkpoint")?;
    let size = sc.checkpoint.size();
    if index >= size {
        bail!("entry {index} is not in the log (size {size})");
    }
    let tiles = StoredTiles(&storage);
    let r = TileHashReader::new(TILE_HEIGHT, size, &tiles)?;
    let proof = TlogProof::produce(index, sc, &r, None).context("can't build the proof")?;
    std::io::stdout().write_all(&proof.to_bytes())?;
    Ok(0)
}

fn verify(source: &str, key: &str) -> Result<u8> {
    let known = Verifiers::new()
        .with(parse_vkey(key)?)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let report = if source.starts_with("http://") || source.starts_with("https://") {
        let store = detente_log_object::ObjectStorage::http(source)
            .with_context(|| format!("{source}: bad URL"))?;
        verify_log(&store, &known)
    } else {
        let dir = Path::new(source);
        let root = if public_dir(dir).join(CHECKPOINT_KEY).exists() {
            public_dir(dir)
        } else {
            dir.to_path_buf()
        };
        verify_log(&DirStorage::new(root)?, &known)
    };
    match report {
        Ok(r) => {
            println!(
                "OK: {} size {}: checkpoint signature, {} entry bundles, {} tiles and the root verified",
                r.checkpoint.checkpoint.origin(),
                r.entries,
                r.bundles,
                r.tiles
            );
            Ok(0)
        }
        Err(e) => {
            eprintln!("{source}: verification FAILED: {e}");
            Ok(1)
        }
    }
}

fn verify_proof(file: &Path, policy: &Path, entry: Option<&Path>) -> Result<u8> {
    let proof_bytes =
        fs::read(file).with_context(|| format!("{}: can't read proof", file.display()))?;
    let policy_bytes =
        fs::read(policy).with_context(|| format!("{}: can't read policy", policy.display()))?;
    // A tlog-policy, or a feed's trust file (a tlog-policy with feed lines).
    let policy = match Policy::parse(&policy_bytes) {
        Ok(p) => p,
        Err(e) => match detente_feed::Trust::parse(&policy_bytes) {
            Ok(t) => t.policy().clone(),
            Err(_) => bail!("{}: {e}", policy_display(policy)),
        },
    };
    let entry = match entry {
        Some(p) => fs::read(p).with_context(|| format!("{}: can't read entry", p.display()))?,
        None => {
            let mut v = Vec::new();
            std::io::stdin().read_to_end(&mut v)?;
            v
        }
    };
    let proof = match TlogProof::parse(&proof_bytes) {
        Ok(p) => p,
        Err(e) => bail!("{}: malformed proof: {e}", file.display()),
    };
    match proof.verify(&policy, &leaf_hash(&entry)) {
        Ok(v) => {
            println!(
                "OK: entry {} of {} (tree size {}), cosigned by: {}",
                v.index,
                v.origin,
                v.tree_size,
                if v.witnesses.is_empty() {
                    "no witness".to_string()
                } else {
                    v.witnesses.join(", ")
                }
            );
            Ok(0)
        }
        Err(e) => {
            eprintln!("{}: verification FAILED: {e}", file.display());
            Ok(1)
        }
    }
}

fn policy_display(p: &Path) -> String {
    p.display().to_string()
}

/// The size each witness last cosigned, as this log last learned it (a hint: a witness
/// answers 409 with its real size when the hint is stale).
fn witness_size_path(dir: &Path, url: &str) -> PathBuf {
    let tag: String = url
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    dir.join("private").join(format!("witness-{tag}.size"))
}

pub(crate) fn cosign(dir: &Path, policy_file: &Path, extra: &[String]) -> Result<u8> {
    use detente_witness::client::{Session, Step, MAX_RESPONSE_SIZE};
    let policy_text = fs::read_to_string(policy_file)
        .with_context(|| format!("{}: can't read the policy", policy_file.display()))?;
    let policy = Policy::parse(policy_text.as_bytes())
        .map_err(|e| anyhow::anyhow!("{}: {e}", policy_file.display()))?;
    // The witnesses to ask, by URL, each with the keys its replies must verify under.
    let mut targets: Vec<(String, Vec<detente_note::CosignatureVerifier>)> = Vec::new();
    for w in policy.witnesses() {
        let Some(url) = &w.url else { continue };
        match targets.iter_mut().find(|(u, _)| u == url) {
            Some((_, keys)) => keys.push(w.key.clone()),
            None => targets.push((url.clone(), vec![w.key.clone()])),
        }
    }
    for url in extra {
        if !targets.iter().any(|(u, _)| u == url) {
            let all = policy.witnesses().iter().map(|w| w.key.clone()).collect();
            targets.push((url.clone(), all));
        }
    }
    if targets.is_empty() {
        bail!(
            "{}: no witness to ask (give witness lines with a URL, or --witness)",
            policy_file.display()
        );
    }

    let _lock = lock(dir)?;
    let storage = DirStorage::new(public_dir(dir))?;
    let msg = storage
        .get(CHECKPOINT_KEY)?
        .with_context(|| format!("{}: no checkpoint", dir.display()))?;
    let mut note = detente_note::Note::parse(&msg).context("bad checkpoint")?;
    let sc = SignedCheckpoint::parse(&msg).context("bad checkpoint")?;
    // Cosignatures cover the checkpoint text; the log's own signature is what they are sent.
    let signed = detente_note::Note::parse(&msg).context("bad checkpoint")?;
    let size = sc.checkpoint.size();
    let tiles = StoredTiles(&storage);
    let reader = TileHashReader::new(TILE_HEIGHT, size, &tiles)?;
    let client = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .context("can't build the HTTP client")?;
    let mut failures = 0;
    for (url, keys) in &targets {
        let endpoint = format!("{}/add-checkpoint", url.trim_end_matches('/'));
        let size_file = witness_size_path(dir, url);
        let hint: u64 = fs::read_to_string(&size_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let mut session = Session::new(&signed, size, keys, hint);
        let mut req = session.request();
        let result = loop {
            let proof = if req.old == 0 || req.old == size {
                Vec::new()
            } else {
                detente_tlog::prove_consistency(req.old, size, &reader)?
            };
            let body = session.body(&req, &proof);
            let resp = match client.post(&endpoint).body(body).send() {
                Ok(r) => r,
                Err(e) => break Err(anyhow::anyhow!("{endpoint}: request failed: {e}")),
            };
            let status = resp.status().as_u16();
            let mut reply = Vec::new();
            if let Err(e) = resp
                .take(MAX_RESPONSE_SIZE as u64 + 1)
                .read_to_end(&mut reply)
            {
                break Err(anyhow::anyhow!("{endpoint}: reading the reply: {e}"));
            }
            match session.handle(status, &reply) {
                Ok(Step::Send(next)) => req = next,
                Ok(Step::Done(c)) => break Ok(c),
                Err(e) => break Err(anyhow::anyhow!("{endpoint}: {e}")),
            }
        };
        match result {
            Ok(c) => {
                for r in &c.rejected {
                    eprintln!("{url}: dropped a reply line ({}): {}", r.reason, r.line);
                }
                for sig in c.accepted {
                    note.add_signature(sig)
                        .map_err(|e| anyhow::anyhow!("{endpoint}: {e}"))?;
                }
                fs::write(&size_file, format!("{size}\n"))?;
                eprintln!("{url}: cosigned size {size}");
            }
            Err(e) => {
                eprintln!("{e:#}");
                failures += 1;
            }
        }
    }
    // Publish the checkpoint with every verified cosignature (the log's own signature first).
    storage
        .put(CHECKPOINT_KEY, &note.to_bytes())
        .context("can't publish the cosigned checkpoint")?;
    Ok(if failures == 0 { 0 } else { 1 })
}

pub fn run(cmd: LogCommand) -> Result<u8> {
    match cmd {
        LogCommand::Cosign {
            dir,
            policy,
            witnesses,
        } => cosign(&dir, &policy, &witnesses),
        LogCommand::Init { dir, origin } => init(&dir, &origin),
        LogCommand::Append { dir, files } => append(&dir, &files),
        LogCommand::Checkpoint { dir } => {
            let p = public_dir(&dir).join(CHECKPOINT_KEY);
            let data = fs::read(&p).with_context(|| format!("{}: can't read", p.display()))?;
            std::io::stdout().write_all(&data)?;
            Ok(0)
        }
        LogCommand::Prove { dir, index } => prove(&dir, index),
        LogCommand::Verify { source, key } => verify(&source, &key),
        LogCommand::VerifyProof {
            file,
            policy,
            entry,
        } => verify_proof(&file, &policy, entry.as_deref()),
    }
}
