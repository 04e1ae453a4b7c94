//! `detente feed` (publishing) and `detente update` (installing), on `detente-feed`'s sans-IO
//! core.
//!
//! A feed directory is a log directory (`log/`, `log.vkey`, `private/key` mode 0600) whose
//! public tree `log/` also holds `objects/<sha256>` (whole database files and patches,
//! content-addressed, immutable), `releases/<version>` (each signed manifest) and `latest` (the
//! newest signed manifest, written last: a reader never sees a release the log cannot back).
//! The manifest is signed with the log's key, so the log key is the publisher key.
//!
//! `detente update` reads a feed from a directory (a mirror, removable media) or a URL, verifies
//! everything (`verify_update`), and installs into its directory: `releases/<version>/` (the
//! files, the signed manifest and a C2SP tlog-proof of the release), `db` (a symbolic link to
//! the current release, switched by rename, the previous release kept) and `state` (the last
//! accepted checkpoint, written atomically after the switch).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use detente_feed::{next_manifest, verify_update, ClientState, Inclusion, Manifest, Source, Trust};
use detente_log::{DirStorage, LogWriter, Storage, StoredTiles, CHECKPOINT_KEY};
use detente_note::{SignedCheckpoint, Verifier as _};
use detente_tlog::{prove_consistency, prove_inclusion, TileHashReader, TILE_HEIGHT};

/// Largest object `update` downloads (the manifest bounds each file; this bounds the request).
const MAX_OBJECT: u64 = 1 << 30;

/// `detente feed` subcommands.
#[derive(Subcommand, Debug)]
pub enum FeedCommand {
    /// Create a feed: a transparency log whose public tree also carries the releases.
    /// Prints the feed's key (log and publisher).
    Init {
        /// Feed directory (created).
        dir: PathBuf,
        /// The feed's origin (its log's origin), e.g. example.org/feed.
        #[arg(long)]
        origin: String,
    },
    /// Publish FILES as the next release: objects first, then the signed manifest into the
    /// log, the witnesses' cosignatures (with --policy), and the manifest last.
    Publish {
        /// Feed directory.
        dir: PathBuf,
        /// The release's database files (their file names are the names installed).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Seconds the release stays valid.
        #[arg(long, default_value_t = 7 * 86_400)]
        ttl: u64,
        /// A tlog-policy naming the witnesses to cosign the new checkpoint.
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// Publish Talos-signed ClamAV files (.cvd, .cdiff and their .sign) unchanged as the next
    /// release, after verifying each as ClamAV does; the public tree is then also a freshclam
    /// mirror (`<db>.cvd` for the newest container, the patches and signatures by name).
    ImportClamav {
        /// Feed directory.
        dir: PathBuf,
        /// The ClamAV files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Seconds the release stays valid.
        #[arg(long, default_value_t = 7 * 86_400)]
        ttl: u64,
        /// A tlog-policy naming the witnesses to cosign the new checkpoint.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Also trust the certificates in DIR for .sign files.
        #[arg(long = "cvdcertsdir", value_name = "DIR")]
        cvdcertsdir: Option<PathBuf>,
    },
    /// Print a trust file for this feed (its keys, the witnesses of --policy), to edit.
    Trust {
        /// Feed directory.
        dir: PathBuf,
        /// Where endpoints fetch the feed: an https:// URL or a mirror directory.
        #[arg(long)]
        url: String,
        /// The witnesses' tlog-policy (`witness NAME VKEY [URL]` lines).
        #[arg(long)]
        policy: Option<PathBuf>,
    },
}

/// `detente update` flags.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// The feed's trust file (`detente feed trust` writes one).
    #[arg(long)]
    pub trust: PathBuf,
    /// Where releases are installed and the state kept.
    #[arg(long, default_value = "/var/lib/detente")]
    pub dir: PathBuf,
    /// One JSON object on standard output instead of the line of text.
    #[arg(long)]
    pub json: bool,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn public(dir: &Path) -> PathBuf {
    dir.join("log")
}

/// The release in the log's last entry, if the log has any.
fn last_logged(
    storage: &DirStorage,
    dir: &Path,
    key: &detente_note::Ed25519Verifier,
) -> Result<Option<Manifest>> {
    let Some(cp) = storage.get(CHECKPOINT_KEY)? else {
        return Ok(None);
    };
    let size = SignedCheckpoint::parse(&cp)
        .context("the feed's checkpoint")?
        .checkpoint
        .size();
    if size == 0 {
        return Ok(None);
    }
    let Some(b) = detente_tlog::new_bundles(size - 1, size).pop() else {
        return Ok(None);
    };
    let data = get(storage, &b.path())?;
    let entries = detente_tlog::decode_bundle_for(&b, &data)
        .with_context(|| format!("{}: {}: bad entry bundle", dir.display(), b.path()))?;
    let last = entries
        .last()
        .with_context(|| format!("{}: empty entry bundle", dir.display()))?;
    Manifest::verify(last, key)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("{}: the log's last entry: {e}", dir.display()))
}

/// Reads FILES as (file name, bytes).
fn read_inputs(files: &[PathBuf]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut inputs = Vec::new();
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .with_context(|| format!("{}: no file name", f.display()))?;
        let data = fs::read(f).with_context(|| format!("{}: can't read", f.display()))?;
        inputs.push((name, data));
    }
    Ok(inputs)
}

fn publish(dir: &Path, files: &[PathBuf], ttl: u64, policy: Option<&Path>) -> Result<u8> {
    publish_release(dir, read_inputs(files)?, ttl, policy, Vec::new())
}

/// Publishes `inputs` as the next release; `mirror` files (a ClamAV mirror's `<db>.cvd`,
/// `.cdiff` and `.sign` names) are written into the public tree after the release is logged
/// and cosigned, before the manifest.
fn publish_release(
    dir: &Path,
    inputs: Vec<(String, Vec<u8>)>,
    ttl: u64,
    policy: Option<&Path>,
    mirror: Vec<(String, Vec<u8>)>,
) -> Result<u8> {
    let storage = DirStorage::new(public(dir))?;
    let signer = crate::log::read_signer(dir)?;
    let origin = signer.verifier().name().to_string();
    {
        let _lock = crate::log::lock(dir)?;
        // The previous release is the log's last entry (not `latest`, which a publish that
        // stopped before its cosignatures never wrote): versions only ever grow in the log.
        let prev = last_logged(&storage, dir, &signer.verifier())?;
        let mut base = Vec::new();
        if let Some(p) = &prev {
            for e in p.files() {
                let key = format!("objects/{}", e.sha256_hex());
                let data = storage
                    .get(&key)?
                    .with_context(|| format!("{}: {key} missing", dir.display()))?;
                base.push((e.name().to_string(), data));
            }
        }
        let files: Vec<(&str, &[u8])> = inputs
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        let base: Vec<(&str, &[u8])> = base
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        let release = next_manifest(
            &origin,
            prev.as_ref(),
            &files,
            prev.as_ref().map(|_| base.as_slice()),
            now(),
            ttl,
        )
        .map_err(|e| anyhow::anyhow!("can't make the release: {e}"))?;
        let objects: Vec<(String, Vec<u8>)> = release
            .objects
            .iter()
            .map(|o| (format!("objects/{}", o.name()), o.bytes.clone()))
            .collect();
        storage
            .put_batch(&objects)
            .context("can't write the objects")?;
        let note = release
            .manifest
            .sign(&signer)
            .map_err(|e| anyhow::anyhow!("can't sign the manifest: {e}"))?;
        let mut w = LogWriter::open(DirStorage::new(public(dir))?, signer)
            .with_context(|| format!("{}: can't open the log", dir.display()))?;
        w.append(&[&note]).context("can't log the manifest")?;
        let index = w.size() - 1;
        drop(w);
        drop(_lock);
        if let Some(p) = policy {
            if crate::log::cosign(dir, p, &[])? != 0 {
                bail!("not every witness cosigned: the release is logged but not yet published");
            }
        }
        let version = release.manifest.version();
        storage
            .put_batch(&mirror)
            .context("can't write the mirror files")?;
        storage.put(&format!("releases/{version}"), &note)?;
        storage.put("latest", &note)?;
        let bytes: usize = release.objects.iter().map(|o| o.bytes.len()).sum();
        println!(
            "{origin}: version {version} published (log entry {index}, {} file(s), {} new object byte(s))",
            release.manifest.files().len(),
            bytes
        );
    }
    Ok(0)
}

fn import_clamav(
    dir: &Path,
    files: &[PathBuf],
    ttl: u64,
    policy: Option<&Path>,
    certs: Option<&Path>,
) -> Result<u8> {
    let inputs = read_inputs(files)?;
    let mut mirror = Vec::new();
    // The newest container of each database becomes `<db>.cvd`.
    let mut newest: std::collections::BTreeMap<String, (u32, Vec<u8>)> = Default::default();
    for ((name, data), path) in inputs.iter().zip(files) {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".sign") {
            mirror.push((name.clone(), data.clone()));
            continue;
        }
        crate::containers::check_sign(path, data, certs)?;
        if lower.ends_with(".cvd") {
            let v = detente_cvd::verify_cvd(name, data, &detente_cvd::CvdOptions::default())
                .map_err(anyhow::Error::from)?;
            let db = name.split(['-', '.']).next().unwrap_or(name).to_string();
            let version = v.header.version;
            if newest.get(&db).is_none_or(|(n, _)| *n < version) {
                newest.insert(db, (version, data.clone()));
            }
        } else if lower.ends_with(".cdiff") {
            detente_cvd::verify_cdiff(name, data).map_err(anyhow::Error::from)?;
            mirror.push((name.clone(), data.clone()));
        } else {
            bail!("{name}: not a .cvd, .cdiff or .sign file");
        }
    }
    for (db, (_, data)) in newest {
        mirror.push((format!("{db}.cvd"), data));
    }
    publish_release(dir, inputs, ttl, policy, mirror)
}

fn trust(dir: &Path, url: &str, policy: Option<&Path>) -> Result<u8> {
    let vkey = fs::read_to_string(dir.join("log.vkey"))
        .with_context(|| format!("{}: can't read log.vkey", dir.display()))?;
    let vkey = vkey.trim();
    let mut witnesses = Vec::new();
    if let Some(p) = policy {
        let text = fs::read_to_string(p).with_context(|| format!("{}: can't read", p.display()))?;
        for l in text.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.first() == Some(&"witness") && f.len() >= 3 {
                witnesses.push((f[1].to_string(), f[2].to_string()));
            }
        }
    }
    let w: Vec<(&str, &str)> = witnesses
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let t = Trust::template(url, vkey, vkey, &w).map_err(|e| anyhow::anyhow!("{e}"))?;
    print!("{t}");
    Ok(0)
}

/// The most a key of a feed's public tree may hold: a hostile mirror's oversized file is
/// refused while it is read, never loaded whole. Objects are bounded by their manifest entry
/// ([`FeedSource::object`]).
fn limit_for(key: &str) -> u64 {
    if key.starts_with("tile/entries/") {
        // 256 entries of at most 65,535 bytes, each with its 2-byte length.
        256 * 65_537
    } else if key.starts_with("tile/") {
        // 256 hashes of 32 bytes.
        8192
    } else if key.starts_with("objects/") {
        MAX_OBJECT
    } else {
        1 << 20
    }
}

/// A feed source (a directory or a URL) read with every response bounded, counting the
/// requests and bytes it answered for the update's report.
pub(crate) struct FeedSource {
    source: Source,
    http: reqwest::blocking::Client,
    requests: std::sync::atomic::AtomicU64,
    bytes: std::sync::atomic::AtomicU64,
}

impl FeedSource {
    pub(crate) fn new(source: &Source) -> Result<FeedSource> {
        // No overall deadline (a large object on a slow link may take long); every response
        // is bounded in size, and connecting is bounded in time.
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(30))
            .timeout(None)
            .build()
            .context("can't build the HTTP client")?;
        Ok(FeedSource {
            source: source.clone(),
            http,
            requests: Default::default(),
            bytes: Default::default(),
        })
    }

    fn report(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.requests.load(Relaxed), self.bytes.load(Relaxed))
    }

    /// `key`, at most `max` bytes (one more is refused while reading); None if absent.
    /// `pb` advances as bytes arrive.
    fn fetch(
        &self,
        key: &str,
        max: u64,
        pb: Option<&indicatif::ProgressBar>,
    ) -> std::io::Result<Option<Vec<u8>>> {
        use std::io::Read as _;
        use std::sync::atomic::Ordering::Relaxed;
        let too_big = || {
            std::io::Error::other(format!(
                "refused: {key}: more than the {max} bytes expected"
            ))
        };
        let mut reader: Box<dyn std::io::Read> = match &self.source {
            Source::Dir(d) => {
                let path = Path::new(d).join(key);
                match fs::metadata(&path) {
                    Ok(md) if !md.is_file() => return Ok(None),
                    Ok(md) if md.len() > max => return Err(too_big()),
                    Ok(_) => Box::new(fs::File::open(&path)?),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(e),
                }
            }
            Source::Url(u) => {
                let url = format!("{}/{key}", u.trim_end_matches('/'));
                let resp = self.http.get(&url).send().map_err(std::io::Error::other)?;
                match resp.status().as_u16() {
                    404 => return Ok(None),
                    200 => Box::new(resp),
                    s => return Err(std::io::Error::other(format!("{url}: HTTP {s}"))),
                }
            }
        };
        self.requests.fetch_add(1, Relaxed);
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(Some(out));
            }
            if (out.len() + n) as u64 > max {
                return Err(too_big());
            }
            out.extend_from_slice(&buf[..n]);
            self.bytes.fetch_add(n as u64, Relaxed);
            if let Some(pb) = pb {
                pb.inc(n as u64);
            }
        }
    }
}

impl Storage for FeedSource {
    fn get(&self, key: &str) -> std::io::Result<Option<Vec<u8>>> {
        self.fetch(key, limit_for(key), None)
    }
    fn put(&self, _: &str, _: &[u8]) -> std::io::Result<()> {
        Err(std::io::Error::other("a feed source is read-only"))
    }
    fn list(&self, _: &str) -> std::io::Result<Vec<String>> {
        Err(std::io::Error::other("a feed source is not listed"))
    }
    fn delete(&self, _: &str) -> std::io::Result<()> {
        Err(std::io::Error::other("a feed source is read-only"))
    }
}

fn get(src: &dyn Storage, key: &str) -> Result<Vec<u8>> {
    src.get(key)
        .with_context(|| format!("can't fetch {key}"))?
        .with_context(|| format!("the feed has no {key}"))
}

pub fn update(args: &UpdateArgs) -> Result<u8> {
    let text = fs::read(&args.trust)
        .with_context(|| format!("{}: can't read the trust file", args.trust.display()))?;
    let trust =
        Trust::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", args.trust.display()))?;
    fs::create_dir_all(args.dir.join("releases"))
        .with_context(|| format!("{}: can't create", args.dir.display()))?;
    // One update at a time per directory.
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(args.dir.join("lock"))
        .with_context(|| format!("{}: can't open the lock", args.dir.display()))?;
    lock.lock()
        .with_context(|| format!("{}: can't lock", args.dir.display()))?;
    let state_path = args.dir.join("state");
    let state = match fs::read(&state_path) {
        Ok(b) => Some(
            ClientState::parse(&b).map_err(|e| anyhow::anyhow!("{}: {e}", state_path.display()))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).context(format!("{}: can't read", state_path.display())),
    };
    let mut last_err = None;
    for s in trust.sources() {
        match update_from(&trust, state.as_ref(), s, &args.dir, args.json) {
            Ok(code) => return Ok(code),
            Err(e) => {
                eprintln!("detente: {}: {e:#}", s.as_str());
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "origin": trust.origin(), "source": s.as_str(),
                            "status": "refused", "reason": format!("{e:#}"),
                        })
                    );
                }
                last_err = Some(e);
            }
        }
    }
    Err(last_err.unwrap_or_else(|| anyhow::anyhow!("the trust file names no feed-url")))
}

fn update_from(
    trust: &Trust,
    state: Option<&ClientState>,
    s: &Source,
    dir: &Path,
    json: bool,
) -> Result<u8> {
    let src = FeedSource::new(s)?;
    let src: &FeedSource = &src;
    let checkpoint = get(src, CHECKPOINT_KEY)?;
    let sc = SignedCheckpoint::parse(&checkpoint).context("the feed's checkpoint")?;
    let size = sc.checkpoint.size();
    let tiles = StoredTiles(src);
    let reader = TileHashReader::new(TILE_HEIGHT, size, &tiles)?;
    // Proofs come from the mirror's tiles; verify_update checks them against the checkpoint.
    let consistency = match state {
        Some(st) if st.size() > 0 && st.size() < size => {
            prove_consistency(st.size(), size, &reader)?
        }
        _ => Vec::new(),
    };
    // Nothing new: the checkpoint must still verify and be fresh (a frozen feed is refused).
    let checked = detente_feed::check_checkpoint(trust, state, &checkpoint, &consistency, now())
        .map_err(|r| anyhow::anyhow!("refused: {r}"))?;
    if size == 0 {
        bail!("the feed's log is empty");
    }
    if checked.unchanged {
        // Nothing newer: the installed release must still be valid.
        if let Ok(note) = fs::read(dir.join("db").join("release.manifest")) {
            if let Ok(m) = Manifest::verify(&note, trust.publisher()) {
                if now() >= m.expires() {
                    bail!(
                        "refused: the installed release {} expired at {} and the feed offers no newer one",
                        m.version(),
                        m.expires()
                    );
                }
            }
        }
        let (requests, bytes) = src.report();
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "origin": trust.origin(), "source": s.as_str(), "status": "up-to-date",
                    "version": state.map_or(0, |s| s.version()), "witnesses": checked.witnesses,
                    "fetched": bytes, "requests": requests,
                })
            );
            return Ok(0);
        }
        println!(
            "{}: up to date (version {}), checkpoint cosigned by {}; fetched {bytes} byte(s) in {requests} request(s)",
            trust.origin(),
            state.map_or(0, |s| s.version()),
            checked.witnesses.join(", ")
        );
        return Ok(0);
    }
    let note = get(src, "latest")?;
    let index = size - 1;
    let proof = prove_inclusion(size, index, &reader)?;
    let accepted = verify_update(
        trust,
        state,
        &checkpoint,
        &consistency,
        &note,
        &Inclusion { index, proof },
        now(),
    )
    .map_err(|r| anyhow::anyhow!("refused: {r}"))?;
    let version = accepted.manifest.version();
    let releases = dir.join("releases");
    let target = releases.join(version.to_string());
    // Assemble every file in memory, verified, before anything is written.
    // The installed release is what `db` points at.
    let installed = state.map(|_| dir.join("db"));
    let mut out = Vec::new();
    let mut downloaded = 0u64;
    // A progress bar for downloads of a MiB or more, on a terminal.
    let total = accepted.download_size();
    let bar = (total >= 1 << 20 && !json && std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .then(|| {
            let pb = indicatif::ProgressBar::new(total);
            pb.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            pb
        });
    for f in &accepted.fetch {
        let obj = f.download();
        let key = format!("objects/{}", obj.sha256_hex());
        if let Some(pb) = &bar {
            pb.set_message(f.file().name().to_string());
        }
        let data = src
            .fetch(&key, obj.size().min(MAX_OBJECT), bar.as_ref())
            .with_context(|| format!("can't fetch {key}"))?
            .with_context(|| format!("the feed has no {key}"))?;
        downloaded += data.len() as u64;
        let old = match (f, &installed) {
            (detente_feed::Fetch::Patch { .. }, Some(d)) => Some(
                fs::read(d.join(f.file().name()))
                    .with_context(|| format!("installed {}", f.file().name()))?,
            ),
            _ => None,
        };
        // What the mirror sent must be what the manifest says; a lie is refused outright.
        detente_feed::verify_file(obj, &data).map_err(|e| anyhow::anyhow!("refused: {e}"))?;
        let bytes = match f.assemble(old.as_deref(), &data) {
            Ok(b) => b,
            // A genuine patch that does not apply (a damaged installed file, a patch over its
            // bound): the manifest lists the whole file too, verified the same way.
            Err(e) if matches!(f, detente_feed::Fetch::Patch { .. }) => {
                eprintln!(
                    "detente: {}: patch not applied ({e}); fetching the whole file",
                    f.file().name()
                );
                let whole = detente_feed::Fetch::Full {
                    file: f.file().clone(),
                };
                let key = format!("objects/{}", f.file().sha256_hex());
                let data = src
                    .fetch(&key, f.file().size().min(MAX_OBJECT), bar.as_ref())
                    .with_context(|| format!("can't fetch {key}"))?
                    .with_context(|| format!("the feed has no {key}"))?;
                downloaded += data.len() as u64;
                whole
                    .assemble(None, &data)
                    .map_err(|e| anyhow::anyhow!("refused: {e}"))?
            }
            Err(e) => bail!("refused: {e}"),
        };
        out.push((f.file().name().to_string(), bytes));
    }
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }
    // Install: a new directory, synced, then the `db` link switched by rename, then the state.
    let tmp = tempfile::Builder::new()
        .prefix(".new-")
        .tempdir_in(&releases)
        .context("can't create the release directory")?;
    for (name, bytes) in &out {
        let p = tmp.path().join(name);
        let mut f = fs::File::create(&p)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::write(tmp.path().join("release.manifest"), &accepted.manifest_note)?;
    fs::write(
        tmp.path().join("release.tlog-proof"),
        accepted.proof.to_bytes(),
    )?;
    fs::File::open(tmp.path())?.sync_all()?;
    let staged = tmp.keep();
    // A directory `db` may still point at is never replaced: a re-install gets a new name.
    let mut target = target;
    let mut n = 1;
    while target.exists() {
        target = releases.join(format!("{version}.{n}"));
        n += 1;
    }
    fs::rename(&staged, &target)?;
    fs::File::open(&releases)?.sync_all()?;
    let previous = fs::read_link(dir.join("db")).ok();
    let name = target.file_name().map(PathBuf::from).unwrap_or_default();
    let link_tmp = dir.join(format!(".db.new-{}", std::process::id()));
    let _ = fs::remove_file(&link_tmp);
    std::os::unix::fs::symlink(Path::new("releases").join(&name), &link_tmp)?;
    fs::rename(&link_tmp, dir.join("db"))?;
    crate::containers::write_atomic(&dir.join("state"), &accepted.state.to_bytes())?;
    // Keep the new release and the one before it; older ones and crashed runs' leftovers go.
    let keep: Vec<PathBuf> = [Some(Path::new("releases").join(&name)), previous]
        .into_iter()
        .flatten()
        .collect();
    if let Ok(entries) = fs::read_dir(&releases) {
        for e in entries.flatten() {
            let rel = Path::new("releases").join(e.file_name());
            if !keep.contains(&rel) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    let change = match accepted.previous {
        Some(p) => format!("version {p} -> {version}"),
        None => format!("version {version} (fresh install)"),
    };
    let (requests, fetched) = src.report();
    if json {
        let files: Vec<serde_json::Value> = accepted
            .fetch
            .iter()
            .map(|f| {
                serde_json::json!({
                    "name": f.file().name(), "size": f.file().size(),
                    "sha256": f.file().sha256_hex(),
                    "via": if matches!(f, detente_feed::Fetch::Patch { .. }) { "patch" } else { "full" },
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "origin": trust.origin(), "source": s.as_str(), "status": "updated",
                "from": accepted.previous, "version": version, "files": files,
                "downloaded": downloaded, "fetched": fetched, "requests": requests,
                "witnesses": accepted.checkpoint.witnesses,
            })
        );
        return Ok(0);
    }
    println!(
        "{}: updated to {change}: {} file(s), {downloaded} byte(s) downloaded, cosigned by {}; \
         fetched {fetched} byte(s) in {requests} request(s), {} of them for the checkpoint, manifest and proofs",
        trust.origin(),
        out.len(),
        accepted.checkpoint.witnesses.join(", "),
        fetched.saturating_sub(downloaded)
    );
    Ok(0)
}

pub fn run(cmd: FeedCommand) -> Result<u8> {
    match cmd {
        FeedCommand::Init { dir, origin } => crate::log::init(&dir, &origin),
        FeedCommand::Publish {
            dir,
            files,
            ttl,
            policy,
        } => publish(&dir, &files, ttl, policy.as_deref()),
        FeedCommand::Trust { dir, url, policy } => trust(&dir, &url, policy.as_deref()),
        FeedCommand::ImportClamav {
            dir,
            files,
            ttl,
            policy,
            cvdcertsdir,
        } => import_clamav(&dir, &files, ttl, policy.as_deref(), cvdcertsdir.as_deref()),
    }
}

/// `detente audit` flags.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct AuditArgs {
    /// The feed's public tree: a directory or an http(s):// URL.
    #[arg(required = true)]
    pub source: Option<String>,
    /// The feed's trust file (its log and publisher keys).
    #[arg(long, required = true)]
    pub trust: Option<PathBuf>,
    /// Signed checkpoints gathered elsewhere (witnesses, mirrors, other endpoints): each must
    /// be consistent with the audited log, else both are printed as evidence of a split view.
    #[arg(long = "checkpoint", value_name = "FILE|URL")]
    pub checkpoints: Vec<String>,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
    /// Keep watching: audit again every --interval seconds, report each new release, and
    /// check that the log only grew (the old tree inside the new one).
    #[arg(long)]
    pub follow: bool,
    /// Seconds between two audits with --follow.
    #[arg(long, default_value_t = 60)]
    pub interval: u64,
    /// With --follow, stop after this many audits (0: never).
    #[arg(long, default_value_t = 0)]
    pub polls: u64,
    #[command(subcommand)]
    pub diff: Option<AuditCommand>,
}

/// `detente audit` subcommands.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Which signatures release V2 added, removed or changed since V1, per database file:
    /// `detente audit diff FEED V1 V2 --trust TRUST`.
    Diff {
        /// The feed's public tree: a directory or an http(s):// URL.
        source: String,
        /// The older release.
        v1: u64,
        /// The newer release.
        v2: u64,
        /// The feed's trust file.
        #[arg(long)]
        trust: PathBuf,
    },
}

/// Every release in the log, in log order: (entry index, signed note, manifest).
fn releases(src: &dyn Storage, size: u64, trust: &Trust) -> Result<Vec<(u64, Manifest)>> {
    let mut out = Vec::new();
    for b in detente_tlog::new_bundles(0, size) {
        let data = get(src, &b.path())?;
        let entries = detente_tlog::decode_bundle_for(&b, &data)
            .with_context(|| format!("{}: bad entry bundle", b.path()))?;
        for (i, e) in entries.iter().enumerate() {
            let index = b.first_entry() + i as u64;
            let m = Manifest::verify(e, trust.publisher())
                .map_err(|err| anyhow::anyhow!("log entry {index}: not a valid release: {err}"))?;
            out.push((index, m));
        }
    }
    Ok(out)
}

/// The signature lines of a database file, by signature name (the text before the first `:`
/// or `;`).
fn signatures(text: &[u8]) -> std::collections::BTreeMap<String, String> {
    String::from_utf8_lossy(text)
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let name = l.split([':', ';']).next().unwrap_or(l);
            (name.to_string(), l.to_string())
        })
        .collect()
}

/// A signed checkpoint from a file or an http(s) URL (at most 1 MiB).
fn read_checkpoint(f: &str) -> Result<Vec<u8>> {
    if f.starts_with("http://") || f.starts_with("https://") {
        use std::io::Read as _;
        let resp = reqwest::blocking::get(f).with_context(|| format!("{f}: request failed"))?;
        if !resp.status().is_success() {
            bail!("{f}: HTTP {}", resp.status());
        }
        let mut body = Vec::new();
        resp.take((1 << 20) + 1).read_to_end(&mut body)?;
        if body.len() > 1 << 20 {
            bail!("{f}: larger than 1 MiB");
        }
        Ok(body)
    } else {
        fs::read(f).with_context(|| format!("{f}: can't read"))
    }
}

pub fn audit(args: &AuditArgs) -> Result<u8> {
    let mut from = 0u64;
    let mut prev: Option<SignedCheckpoint> = None;
    let mut polls = 0u64;
    loop {
        let (code, cp) = audit_once(args, from, prev.as_ref())?;
        polls += 1;
        if !args.follow || code != 0 || (args.polls > 0 && polls >= args.polls) {
            return Ok(code);
        }
        from = cp.checkpoint.size();
        prev = Some(cp);
        std::thread::sleep(std::time::Duration::from_secs(args.interval));
    }
}

/// One audit: the whole log verified, the releases from log entry `from` on listed, and, when
/// following, the previous checkpoint checked to be inside the new tree.
fn audit_once(
    args: &AuditArgs,
    from: u64,
    prev: Option<&SignedCheckpoint>,
) -> Result<(u8, SignedCheckpoint)> {
    // `audit diff FEED V1 V2 --trust T`, or `audit FEED --trust T`.
    let (source_arg, trust_path, diff) = match &args.diff {
        Some(AuditCommand::Diff {
            source,
            v1,
            v2,
            trust,
        }) => (source.clone(), trust.clone(), Some((*v1, *v2))),
        None => (
            args.source.clone().unwrap_or_default(),
            args.trust.clone().unwrap_or_default(),
            None,
        ),
    };
    let text = fs::read(&trust_path)
        .with_context(|| format!("{}: can't read the trust file", trust_path.display()))?;
    let trust =
        Trust::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", trust_path.display()))?;
    let src = FeedSource::new(&Source::parse(&source_arg).with_context(|| {
        format!("{source_arg}: neither an absolute directory nor an http(s) URL")
    })?)?;
    let known = detente_note::Verifiers::new()
        .with(trust.log().clone())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // The whole log: checkpoint signature, every bundle and tile, the root.
    let report = detente_log::verify_log(&src, &known)
        .map_err(|e| anyhow::anyhow!("{source_arg}: the log does not verify: {e}"))?;
    let size = report.checkpoint.checkpoint.size();
    let all = releases(&src, size, &trust)?;
    let mut failures = 0;
    if let Some(p) = prev {
        let n = p.checkpoint.size();
        let tiles = StoredTiles(&src);
        let reader = TileHashReader::new(TILE_HEIGHT, size, &tiles)?;
        if n > size || detente_tlog::tree_hash(n, &reader)? != *p.checkpoint.root() {
            println!(
                "SPLIT VIEW: the log no longer contains the tree of size {n} it showed before.\n\
                 --- earlier checkpoint ---\n{}--- current checkpoint ---\n{}",
                String::from_utf8_lossy(&p.to_bytes()),
                String::from_utf8_lossy(&report.checkpoint.to_bytes())
            );
            return Ok((1, report.checkpoint));
        }
    }
    if let Some((v1, v2)) = diff {
        let find = |v: u64| {
            all.iter()
                .find(|(_, m)| m.version() == v)
                .map(|(_, m)| m)
                .with_context(|| format!("no release {v} in the log"))
        };
        let (a, b) = (find(v1)?, find(v2)?);
        let load = |m: &Manifest, name: &str| -> Result<Vec<u8>> {
            match m.file(name) {
                Some(e) => {
                    let key = format!("objects/{}", e.sha256_hex());
                    let data = src
                        .fetch(&key, e.size(), None)
                        .with_context(|| format!("can't fetch {key}"))?
                        .with_context(|| format!("the feed has no {key}"))?;
                    detente_feed::verify_file(e, &data)
                        .map_err(|r| anyhow::anyhow!("{name}: {r}"))?;
                    Ok(data)
                }
                None => Ok(Vec::new()),
            }
        };
        let mut names: Vec<&str> = a
            .files()
            .iter()
            .chain(b.files())
            .map(|e| e.name())
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            let (old, new) = (signatures(&load(a, name)?), signatures(&load(b, name)?));
            for (sig, line) in &new {
                match old.get(sig) {
                    None => println!("{name}: added {line}"),
                    Some(o) if o != line => println!("{name}: changed {o} -> {line}"),
                    _ => {}
                }
            }
            for (sig, line) in &old {
                if !new.contains_key(sig) {
                    println!("{name}: removed {line}");
                }
            }
        }
        return Ok((0, report.checkpoint));
    }
    for (index, m) in all.iter().filter(|(i, _)| *i >= from) {
        let mut missing = Vec::new();
        for e in m.files().iter().chain(m.patches()) {
            let key = format!("objects/{}", e.sha256_hex());
            match src.fetch(&key, e.size(), None) {
                Ok(Some(d)) if detente_feed::verify_file(e, &d).is_ok() => {}
                Ok(Some(_)) => missing.push(format!("{} (object {key} altered)", e.name())),
                Err(err) => missing.push(format!("{} (object {key} unreadable: {err})", e.name())),
                Ok(None) => missing.push(format!("{} (object {key} missing)", e.name())),
            }
        }
        failures += usize::from(!missing.is_empty());
        if args.json {
            let files: Vec<serde_json::Value> = m
                .files()
                .iter()
                .map(|e| serde_json::json!({"name": e.name(), "size": e.size(), "sha256": e.sha256_hex()}))
                .collect();
            println!(
                "{}",
                serde_json::json!({
                    "index": index, "version": m.version(), "created": m.created(),
                    "expires": m.expires(), "base": m.base(), "files": files, "problems": missing,
                })
            );
        } else {
            let files: Vec<String> = m
                .files()
                .iter()
                .map(|e| {
                    format!(
                        "{} ({} bytes, sha256 {})",
                        e.name(),
                        e.size(),
                        &e.sha256_hex()[..16]
                    )
                })
                .collect();
            println!(
                "release {} (log entry {index}), created {}, expires {}{}: {}",
                m.version(),
                m.created(),
                m.expires(),
                m.base()
                    .map_or(String::new(), |b| format!(", patches from {b}")),
                files.join(", ")
            );
            for p in &missing {
                println!("  PROBLEM: {p}");
            }
        }
    }
    // Checkpoints seen elsewhere: each must be consistent with this log.
    let tiles = StoredTiles(&src);
    let reader = TileHashReader::new(TILE_HEIGHT, size, &tiles)?;
    for f in &args.checkpoints {
        let bytes = read_checkpoint(f)?;
        let other = SignedCheckpoint::parse(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: not a signed checkpoint: {e}", f))?;
        if other
            .note
            .verify(&known)
            .map(|v| v.is_verified(trust.origin(), trust.log().key_id()))
            .ok()
            != Some(true)
        {
            println!("{}: not signed by the feed's log key: ignored", f);
            continue;
        }
        let n = other.checkpoint.size();
        let consistent = if n <= size {
            detente_tlog::tree_hash(n, &reader)? == *other.checkpoint.root()
        } else {
            false
        };
        if consistent {
            println!("{}: consistent (size {n})", f);
        } else {
            failures += 1;
            let ours = String::from_utf8_lossy(&report.checkpoint.to_bytes()).into_owned();
            let theirs = String::from_utf8_lossy(&bytes).into_owned();
            if n > size {
                println!(
                    "{}: size {n} is beyond the audited log's {size}: fetch the newer tree and audit again",
                    f
                );
            } else {
                println!(
                    "SPLIT VIEW: {} (size {n}) is not in the audited log; both are signed by the log key.\n\
                     --- audited checkpoint ---\n{ours}--- conflicting checkpoint ---\n{theirs}",
                    f
                );
            }
        }
    }
    if !args.json {
        println!(
            "{}: log of {size} entries verified ({} bundles, {} tiles), {} release(s), {failures} problem(s)",
            trust.origin(),
            report.bundles,
            report.tiles,
            all.len()
        );
    }
    Ok((if failures == 0 { 0 } else { 1 }, report.checkpoint))
}
