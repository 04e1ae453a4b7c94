//! `detente`: command-line entry point. Flags and glue only; the work lives in the library crates.

mod containers;
mod db;
mod feed;
mod intel;
mod log;
mod scan;
mod serve;
mod telemetry;
mod telemetry_net;
mod witness;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// detente: an open malware scanner and threat-intelligence network that parties who
/// distrust each other can use together.
#[derive(Parser, Debug)]
#[command(name = "detente", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Scan files, directories or standard input (`-`) for malware, clamscan-style.
    ///
    /// Exit status: 0 nothing found, 1 something found, 2 an error occurred.
    Scan(scan::ScanArgs),
    /// Inspect signature databases.
    #[command(subcommand)]
    Db(db::DbCommand),
    /// Run a tiled transparency log (C2SP tlog-tiles): init, append, checkpoint, prove, verify.
    #[command(subcommand)]
    Log(log::LogCommand),
    /// Run a C2SP tlog-witness: cosign logs' checkpoints, never two that conflict.
    #[command(subcommand)]
    Witness(witness::WitnessCommand),
    /// Publish a transparent signature feed: init, publish, trust.
    #[command(subcommand)]
    Feed(feed::FeedCommand),
    /// Install the newest release of a feed, verified: signatures, witness quorum, consistency
    /// with what was accepted before, inclusion, every file's hash.
    Update(feed::UpdateArgs),
    /// Audit a feed: replay and verify its whole log, list every release, check every object,
    /// detect split views from checkpoints gathered elsewhere; `audit diff` shows what changed.
    Audit(feed::AuditArgs),
    /// Run an intel hub (init, members, collections, peers) or use one as a member (keygen,
    /// push, pull, sync, verify a receipt).
    #[command(subcommand)]
    Intel(intel::IntelCommand),
    /// Private telemetry, the endpoint owner's view: what the policy lets this endpoint
    /// report, the outbox of everything sent, and its verification.
    #[command(subcommand)]
    Telemetry(telemetry::TelemetryCommand),
    /// Serve public trees (logs, feeds) as static files over HTTP: GET and HEAD only.
    Serve(serve::ServeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Db(cmd) => db::run(cmd),
        Command::Log(cmd) => log::run(cmd),
        Command::Witness(cmd) => witness::run(cmd),
        Command::Serve(args) => serve::run(args),
        Command::Intel(cmd) => intel::run(cmd),
        Command::Telemetry(cmd) => telemetry::run(cmd),
        Command::Feed(cmd) => feed::run(cmd),
        Command::Update(args) => feed::update(&args),
        Command::Audit(args) => feed::audit(&args),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "detente",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
    };
    match res {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("detente: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
