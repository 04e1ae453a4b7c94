//! `detente witness`: run a C2SP tlog-witness that cosigns checkpoints of the logs it follows,
//! never two that conflict, and keeps every conflicting pair it sees as evidence.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use detente_witness::Witness;

/// `detente witness` subcommands.
#[derive(Subcommand, Debug)]
pub enum WitnessCommand {
    /// Create a witness: Ed25519 and ML-DSA-44 keys (witness.key, mode 0600) and an empty
    /// state database. Prints the witness's two verifier keys.
    Init {
        /// Witness directory (created).
        dir: PathBuf,
        /// The witness's name (its key name), e.g. witness.example.org.
        #[arg(long)]
        name: String,
    },
    /// Follow a log: accept checkpoints of ORIGIN signed by VKEY.
    AddLog {
        /// Witness directory.
        dir: PathBuf,
        /// The log's origin line.
        #[arg(long)]
        origin: String,
        /// The log's verifier key (`name+hash+base64`), or a file holding it.
        #[arg(long)]
        key: String,
    },
    /// Serve the tlog-witness HTTP API (`POST /add-checkpoint`) on ADDR.
    Serve {
        /// Witness directory.
        dir: PathBuf,
        /// Address to listen on, e.g. 127.0.0.1:7380.
        #[arg(long)]
        listen: String,
    },
    /// List the split-view evidence: every pair of conflicting signed checkpoints seen.
    Evidence {
        /// Witness directory.
        dir: PathBuf,
    },
}

pub fn run(cmd: WitnessCommand) -> Result<u8> {
    match cmd {
        WitnessCommand::Init { dir, name } => {
            let keys = Witness::init(&dir, &name)
                .with_context(|| format!("{}: can't create witness", dir.display()))?;
            for k in keys {
                println!("{k}");
            }
            Ok(0)
        }
        WitnessCommand::AddLog { dir, origin, key } => {
            let w = open(&dir)?;
            let vkey = if std::path::Path::new(&key).is_file() {
                std::fs::read_to_string(&key).with_context(|| format!("{key}: can't read"))?
            } else {
                key
            };
            w.add_log(&origin, &vkey)
                .with_context(|| format!("can't add log {origin:?}"))?;
            Ok(0)
        }
        WitnessCommand::Serve { dir, listen } => {
            let w = open(&dir)?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("can't start the runtime")?;
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind(&listen)
                    .await
                    .with_context(|| format!("can't listen on {listen}"))?;
                eprintln!(
                    "detente witness {}: listening on {}",
                    w.name(),
                    l.local_addr()?
                );
                w.serve(l).await.context("server failed")
            })?;
            Ok(0)
        }
        WitnessCommand::Evidence { dir } => {
            let w = open(&dir)?;
            let ev = w.evidence().context("can't read evidence")?;
            for e in &ev {
                println!("{e}");
            }
            eprintln!("{} evidence record(s)", ev.len());
            Ok(0)
        }
    }
}

fn open(dir: &std::path::Path) -> Result<Witness> {
    Witness::open(dir).with_context(|| format!("{}: can't open witness", dir.display()))
}
