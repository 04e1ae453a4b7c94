//! `detente scan`: clamscan-compatible scanning of files, directories and standard input.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use detente_scan::report::{
    json_error, json_lines, json_not_scanned, reason_lines, text_lines, Summary,
};
use detente_scan::{scan_data, scan_paths, Event, Limits, Outcome, ScanOptions, Why};

use crate::db::{self, DbArgs};

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum YesNo {
    Yes,
    No,
}

/// Flags of `detente scan`, named as clamscan names them.
#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Files or directories to scan; `-` reads standard input. Default: the current directory.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    db: DbArgs,
    /// Accepted for clamscan compatibility: directories are always scanned recursively.
    #[arg(short = 'r', long)]
    recursive: bool,
    /// Print only infected files.
    #[arg(short = 'i', long)]
    infected: bool,
    /// Do not print the summary block.
    #[arg(long)]
    no_summary: bool,
    /// Report every matching signature, not only the first one per file.
    #[arg(short = 'z', long)]
    allmatch: bool,
    /// Write JSON Lines (path, result, outcome, reasons, signature, database, member, offset)
    /// instead of text.
    #[arg(long)]
    json: bool,
    /// Look into archives and compressed files.
    #[arg(long, value_enum, default_value = "yes", value_name = "yes|no")]
    scan_archive: YesNo,
    /// Skip paths matching this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Files larger than this are not scanned; zip members are scanned up to it, other
    /// members over it are not (K, M, G suffixes; 0: no limit).
    #[arg(long, value_name = "SIZE", default_value = "100M", value_parser = parse_size)]
    max_filesize: u64,
    /// Most bytes scanned (and decompressed) per file, all archive levels together (0: no
    /// limit).
    #[arg(long, value_name = "SIZE", default_value = "400M", value_parser = parse_size)]
    max_scansize: u64,
    /// Archive nesting: the file is level 0, members are scanned down to level N-1.
    #[arg(long, value_name = "N", default_value_t = 17)]
    max_recursion: u32,
    /// Most layers scanned per file (the file, containers and members, all levels together;
    /// 0: no limit).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_files: u64,
    /// Report the first limit a file hits as a detection (Heuristics.Limits.Exceeded.*).
    #[arg(
        long,
        value_enum,
        value_name = "yes|no",
        num_args = 0..=1,
        require_equals = true,
        default_value = "no",
        default_missing_value = "yes"
    )]
    alert_exceeds_max: YesNo,
    /// Follow symbolic links (default: not followed).
    #[arg(long)]
    follow_symlinks: bool,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
    /// Never show a progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Accepted for clamscan compatibility: results always go to standard output.
    #[arg(long)]
    stdout: bool,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&s[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    let n: u64 = num.parse().map_err(|_| {
        format!("bad size {s:?}: expected a number with an optional K, M or G suffix")
    })?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

#[derive(Default)]
struct Totals {
    dirs: u64,
    files: u64,
    infected: u64,
    clean: u64,
    partial: u64,
    skipped: u64,
    errors: u64,
    scanned: u64,
    read: u64,
}

pub fn run(args: ScanArgs) -> Result<u8> {
    let start = SystemTime::now();
    let engine = db::load(&args.db)?;
    let max_recursion = if args.max_recursion == 0 {
        eprintln!(
            "detente: warning: --max-recursion 0 is not allowed, using the default, {}",
            detente_scan::DEFAULT_MAX_RECURSION
        );
        detente_scan::DEFAULT_MAX_RECURSION
    } else if args.max_recursion > detente_scan::MAX_RECURSION {
        eprintln!(
            "detente: warning: --max-recursion {} is over the most detente allows, using {}",
            args.max_recursion,
            detente_scan::MAX_RECURSION
        );
        detente_scan::MAX_RECURSION
    } else {
        args.max_recursion
    };
    let opts = ScanOptions {
        all_match: args.allmatch,
        scan_archives: args.scan_archive == YesNo::Yes,
        limits: Limits {
            max_recursion,
            max_files: args.max_files,
            max_filesize: args.max_filesize,
            max_scansize: args.max_scansize,
        },
        follow_symlinks: args.follow_symlinks,
        excludes: args.exclude.clone(),
        threads: args.threads,
        alert_exceeds_max: args.alert_exceeds_max == YesNo::Yes,
    };
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let out = Mutex::new(std::io::BufWriter::new(std::io::stdout()));
    let totals = Mutex::new(Totals::default());
    let progress =
        (!args.no_progress && !args.json && std::io::stderr().is_terminal()).then(|| {
            let pb = indicatif::ProgressBar::new_spinner();
            pb.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {pos} files, {msg} [{elapsed}]")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            pb.enable_steady_tick(std::time::Duration::from_millis(120));
            pb
        });
    let write_err = Mutex::new(None::<std::io::Error>);

    let emit = |ev: Event| {
        let lines = match &ev {
            Event::File(r) => {
                let mut t = totals.lock().unwrap_or_else(|e| e.into_inner());
                if !r.empty {
                    t.files += 1;
                }
                match r.outcome {
                    Outcome::Found(_) => t.infected += 1,
                    Outcome::Clean => t.clean += 1,
                    Outcome::Partial(_) => t.partial += 1,
                    Outcome::Skipped(_) => t.skipped += 1,
                    Outcome::Error(_) => t.errors += 1,
                }
                t.scanned += r.bytes_scanned;
                t.read += r.bytes_read;
                if let Some(pb) = &progress {
                    pb.inc(1);
                    pb.set_message(format!("{:.1} MiB", t.read as f64 / 1048576.0));
                }
                if args.json {
                    json_lines(r, args.infected)
                } else {
                    for l in reason_lines(r) {
                        eprintln!("{l}");
                    }
                    text_lines(r, args.infected)
                }
            }
            Event::Directory(_) => {
                totals.lock().unwrap_or_else(|e| e.into_inner()).dirs += 1;
                Vec::new()
            }
            Event::Symlink(p) | Event::Excluded(p) => {
                totals.lock().unwrap_or_else(|e| e.into_inner()).skipped += 1;
                let (text, why) = if matches!(ev, Event::Symlink(_)) {
                    ("Symbolic link", Why::Symlink)
                } else {
                    ("Excluded", Why::Excluded)
                };
                if args.infected {
                    Vec::new()
                } else if args.json {
                    vec![json_not_scanned(&p.display().to_string(), why)]
                } else {
                    vec![format!("{}: {text}", p.display())]
                }
            }
            Event::Error { path, message } => {
                totals.lock().unwrap_or_else(|e| e.into_inner()).errors += 1;
                if args.json {
                    vec![json_error(path, message)]
                } else {
                    eprintln!("{path}: {message} ERROR");
                    Vec::new()
                }
            }
        };
        if lines.is_empty() {
            return;
        }
        let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
        for l in lines {
            if let Err(e) = writeln!(o, "{l}") {
                write_err
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(e);
                return;
            }
        }
        if progress.is_none() {
            // Keep output line-buffered for pipes read as the scan goes.
            let _ = o.flush();
        }
    };

    let (stdin_paths, fs_paths): (Vec<PathBuf>, Vec<PathBuf>) =
        paths.into_iter().partition(|p| p.as_os_str() == "-");
    if stdin_paths.len() > 1 {
        bail!("'-' (standard input) may be given only once");
    }
    if !stdin_paths.is_empty() {
        let mut data = Vec::new();
        // One byte over --max-filesize is enough to tell the input is over it.
        let max = match opts.limits.max_filesize {
            0 => u64::MAX,
            n => n.saturating_add(1),
        };
        std::io::stdin()
            .take(max)
            .read_to_end(&mut data)
            .context("can't read standard input")?;
        let mut scanner = engine.scanner();
        emit(Event::File(scan_data(
            &engine,
            &mut scanner,
            &data,
            "stdin",
            "",
            &opts,
        )));
    }
    scan_paths(&engine, &fs_paths, &opts, &emit).map_err(anyhow::Error::msg)?;
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    if let Some(e) = write_err.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e).context("can't write results");
    }
    let mut o = out.into_inner().unwrap_or_else(|e| e.into_inner());
    let t = totals.into_inner().unwrap_or_else(|e| e.into_inner());
    if !args.no_summary && !args.json {
        let s = Summary {
            known: engine.report().signatures(),
            engine_version: format!("detente {}", env!("CARGO_PKG_VERSION")),
            directories: t.dirs,
            files: t.files,
            infected: t.infected,
            clean: t.clean,
            partial: t.partial,
            skipped: t.skipped,
            errors: t.errors,
            data_scanned: t.scanned,
            data_read: t.read,
            start: Some(start),
            end: Some(SystemTime::now()),
        };
        write!(o, "{}", s.render()).context("can't write results")?;
    }
    o.flush().context("can't write results")?;
    // The process is about to exit: let the OS reclaim the engine's memory at once rather
    // than freeing hundreds of thousands of signature allocations one by one.
    std::mem::forget(engine);
    Ok(if t.infected > 0 {
        1
    } else if t.errors > 0 {
        2
    } else {
        0
    })
}
