//! `detente telemetry`: the endpoint owner's view of private telemetry.
//!
//! - `measure`: what the policy lets this endpoint report from what it observed, item by
//!   item with the rule that allows it, and what is withheld;
//! - `outbox`: every upload recorded in the outbox, decoded into what it means;
//! - `verify`: the outbox's hash chain, and each record's bytes rebuilt from its recorded
//!   measurement and seed and compared with what it says was sent.
//!
//! The outbox is `DIR/outbox.jsonl` (mode 0600: it holds the measurements and the seeds).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use detente_telemetry::measure::{measure, Observed, Policy};
use detente_telemetry::outbox::check_chain;
use serde_json::Value;

/// `detente telemetry` subcommands.
#[derive(Subcommand, Debug)]
pub enum TelemetryCommand {
    /// Show what the policy lets this endpoint report from an observation (JSON:
    /// {"detections": [signature names], "scanned": N}), and what it withholds.
    Measure {
        /// The telemetry policy.
        #[arg(long)]
        policy: PathBuf,
        /// The observation.
        #[arg(long)]
        observed: PathBuf,
    },
    /// Make a task: task.json (public) and the keys of the Leader, the Helper and the
    /// Collector in OUT/leader, OUT/helper, OUT/collector (each party keeps its own).
    Setup {
        /// Output directory (created).
        out: PathBuf,
        /// The Leader's base URL.
        #[arg(long)]
        leader: String,
        /// The Helper's base URL.
        #[arg(long)]
        helper: String,
        /// The telemetry policy whose families the task counts.
        #[arg(long)]
        policy: PathBuf,
        /// The fewest reports a batch may be released with.
        #[arg(long, default_value_t = 100)]
        min_batch: u64,
        /// Differential privacy: each aggregator adds discrete-Laplace noise for this epsilon
        /// (e.g. 1 or 1/2); none by default.
        #[arg(long)]
        epsilon: Option<String>,
        /// Upload tokens each enrolled endpoint may get per day (its rate limit).
        #[arg(long, default_value_t = 4)]
        tokens_per_day: u32,
        /// Keep the Leader's state in this PostgreSQL database (postgres://...) instead of
        /// OUT/leader/aggregator.sqlite (the `database` setting of its aggregator.json).
        #[arg(long)]
        leader_database: Option<String>,
        /// The same for the Helper.
        #[arg(long)]
        helper_database: Option<String>,
    },
    /// Enroll endpoints with the Leader's token issuer (in the Leader's directory); prints
    /// each endpoint's credential once.
    Enroll {
        /// The Leader's directory.
        leader: PathBuf,
        /// The endpoint's name (with --count, names NAME-0, NAME-1, ...).
        #[arg(long)]
        name: String,
        /// How many endpoints.
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
    /// Measure what the policy allows, record it in the outbox, and upload it to the Leader.
    Send {
        /// The task file.
        #[arg(long)]
        task: PathBuf,
        /// The telemetry policy.
        #[arg(long)]
        policy: PathBuf,
        /// The observation.
        #[arg(long)]
        observed: PathBuf,
        /// The telemetry directory (its outbox).
        #[arg(long)]
        dir: PathBuf,
        /// Show what would be sent; send and record nothing.
        #[arg(long)]
        dry_run: bool,
        /// The day (days since 1970) the report is for (default: today).
        #[arg(long)]
        day: Option<u64>,
        /// This endpoint's enrollment credential, to get an upload token.
        #[arg(long)]
        credential: Option<String>,
    },
    /// Fetch upload tokens ahead (kept in DIR/tokens, mode 0600; `send` uses them first), so
    /// that when a token was issued says nothing about when a report is sent.
    Tokens {
        /// The task file.
        #[arg(long)]
        task: PathBuf,
        /// The telemetry directory.
        #[arg(long)]
        dir: PathBuf,
        /// This endpoint's enrollment credential.
        #[arg(long)]
        credential: String,
        /// The day (days since 1970) the tokens are for (default: today).
        #[arg(long)]
        day: Option<u64>,
        /// How many (within the endpoint's daily quota).
        #[arg(long, default_value_t = 1)]
        count: usize,
    },
    /// Collect a batch: the count per family over DAYS days from DAY.
    Collect {
        /// The task file.
        #[arg(long)]
        task: PathBuf,
        /// The Collector's directory (collector.json).
        #[arg(long)]
        collector: PathBuf,
        /// First day (days since 1970).
        #[arg(long)]
        day: u64,
        /// Days.
        #[arg(long, default_value_t = 1)]
        days: u64,
    },
    /// Show every upload in the outbox, decoded: when, where, each item with its rule, what
    /// was withheld, how many bytes.
    Outbox {
        /// The telemetry directory.
        dir: PathBuf,
    },
    /// Check the outbox: its hash chain, and that each record's bytes are exactly what its
    /// recorded measurement and seed give.
    Verify {
        /// The telemetry directory.
        dir: PathBuf,
    },
}

fn outbox_path(dir: &Path) -> PathBuf {
    dir.join("outbox.jsonl")
}

/// Longest outbox read.
const MAX_OUTBOX: u64 = 1 << 30;

fn read_outbox(dir: &Path) -> Result<String> {
    let p = outbox_path(dir);
    match fs::metadata(&p) {
        Ok(m) if m.len() > MAX_OUTBOX => bail!("{}: larger than 1 GiB", p.display()),
        Ok(_) => fs::read_to_string(&p).with_context(|| format!("{}: can't read", p.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e).with_context(|| format!("{}: can't read", p.display())),
    }
}

/// Reads an observation file: `{"detections": [signature names], "scanned": N}`.
pub fn read_observed(observed: &Path) -> Result<Observed> {
    let v: Value = serde_json::from_slice(
        &fs::read(observed).with_context(|| format!("{}: can't read", observed.display()))?,
    )
    .with_context(|| format!("{}: not JSON", observed.display()))?;
    let detections = v
        .get("detections")
        .and_then(Value::as_array)
        .with_context(|| format!("{}: detections must be a list", observed.display()))?
        .iter()
        .map(|d| d.as_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()
        .with_context(|| format!("{}: detections must be names", observed.display()))?;
    let scanned = v.get("scanned").and_then(Value::as_u64).unwrap_or(0);
    Ok(Observed {
        detections,
        scanned,
    })
}

fn show_measure(policy: &Path, observed: &Path) -> Result<u8> {
    let p = Policy::parse(
        &fs::read(policy).with_context(|| format!("{}: can't read", policy.display()))?,
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", policy.display()))?;
    let seen = read_observed(observed)?;
    let m = measure(&p, &seen);
    println!("task {}", p.task);
    if m.items.is_empty() {
        println!("nothing would be sent");
    }
    for i in &m.items {
        println!(
            "send     {:<40} {:>8}   allowed by rule {}",
            i.what, i.value, i.rule
        );
    }
    for w in &m.withheld {
        println!("withhold {w}");
    }
    Ok(0)
}

fn show_outbox(dir: &Path) -> Result<u8> {
    let text = read_outbox(dir)?;
    let (records, _) =
        check_chain(&text).map_err(|e| anyhow::anyhow!("{}: {e}", outbox_path(dir).display()))?;
    for r in &records {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let bytes = s("sent").len() / 4 * 3;
        println!(
            "#{} day {} to {} ({} bytes, sha256 {})",
            r.get("seq").and_then(Value::as_u64).unwrap_or(0),
            r.get("time").and_then(Value::as_u64).unwrap_or(0),
            s("url"),
            bytes,
            s("sent_sha256")
        );
        for i in r
            .get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            println!(
                "    sent     {:<40} {:>8}   allowed by rule {}",
                i["what"].as_str().unwrap_or(""),
                i["value"].as_u64().unwrap_or(0),
                i["rule"].as_str().unwrap_or("")
            );
        }
        for w in r
            .get("withheld")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            println!("    withheld {}", w.as_str().unwrap_or(""));
        }
        if let Some(t) = r.get("token").and_then(Value::as_str) {
            println!(
                "    with header {}: {t}\n             (an upload token: an issuer signature on a random nonce, unlinkable to this endpoint)",
                detente_telemetry::server::TOKEN_HEADER
            );
        }
    }
    if records.is_empty() {
        println!("the outbox is empty: nothing was sent");
    }
    Ok(0)
}

fn verify(dir: &Path) -> Result<u8> {
    let text = read_outbox(dir)?;
    let checked = match detente_telemetry::record::verify(&text) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "{}: the outbox chain is BROKEN: {e}",
                outbox_path(dir).display()
            );
            return Ok(1);
        }
    };
    let mut bad = 0;
    for c in &checked {
        if c.matches {
            println!(
                "#{} ok: the bytes sent are exactly what its measurement and seed give",
                c.seq
            );
        } else {
            bad += 1;
            println!(
                "#{} MISMATCH: {}",
                c.seq,
                c.error
                    .as_deref()
                    .unwrap_or("the bytes sent are not what its record gives")
            );
        }
    }
    println!(
        "{} records, {} verified, {} not",
        checked.len(),
        checked.len() - bad,
        bad
    );
    Ok(if bad == 0 { 0 } else { 1 })
}

pub fn run(cmd: TelemetryCommand) -> Result<u8> {
    match cmd {
        TelemetryCommand::Measure { policy, observed } => show_measure(&policy, &observed),
        TelemetryCommand::Outbox { dir } => show_outbox(&dir),
        TelemetryCommand::Setup {
            out,
            leader,
            helper,
            policy,
            min_batch,
            epsilon,
            tokens_per_day,
            leader_database,
            helper_database,
        } => {
            let eps = match epsilon.as_deref() {
                None => None,
                Some(e) => {
                    let (n, d) = e.split_once('/').unwrap_or((e, "1"));
                    Some((
                        n.parse().with_context(|| format!("--epsilon {e:?}"))?,
                        d.parse().with_context(|| format!("--epsilon {e:?}"))?,
                    ))
                }
            };
            crate::telemetry_net::setup(
                &out,
                &leader,
                &helper,
                &policy,
                min_batch,
                eps,
                tokens_per_day,
                [leader_database, helper_database],
            )
        }
        TelemetryCommand::Tokens {
            task,
            dir,
            credential,
            day,
            count,
        } => crate::telemetry_net::tokens(&task, &dir, &credential, day, count),
        TelemetryCommand::Send {
            task,
            policy,
            observed,
            dir,
            dry_run,
            day,
            credential,
        } => crate::telemetry_net::send(
            &task,
            &policy,
            &observed,
            &dir,
            dry_run,
            day,
            credential.as_deref(),
        ),
        TelemetryCommand::Enroll {
            leader,
            name,
            count,
        } => crate::telemetry_net::enroll(&leader, &name, count),
        TelemetryCommand::Collect {
            task,
            collector,
            day,
            days,
        } => crate::telemetry_net::collect(&task, &collector, day, days),
        TelemetryCommand::Verify { dir } => verify(&dir),
    }
}
