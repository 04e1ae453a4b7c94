//! Scanning files, directories and archives with a detente [`Engine`].
//!
//! [`scan_paths`] walks paths in parallel (one engine [`Scanner`] per thread), reads each
//! regular file, and reports one [`Event`] per file, directory or error to a sink. Archives and
//! compressed files are unpacked in memory within [`Limits`], each member scanned like a file,
//! recursively. Files are opened read-only; nothing here writes to a scanned file.

pub mod archive;
pub mod report;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use detente_engine::{Engine, FileMeta, Scanner};

use archive::{Container, Stop, UnpackLimits};

/// Bounds on the work one scanned file may cause.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Deepest archive nesting looked into (the file itself is depth 0).
    pub max_depth: u32,
    /// Most members taken from one archive.
    pub max_files: u64,
    /// Largest file, or archive member, scanned.
    pub max_filesize: u64,
    /// Most bytes scanned for one top-level file, members included.
    pub max_scansize: u64,
    /// Largest ratio of unpacked to packed size for a member over 1 MiB.
    pub max_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 17,
            max_files: 10_000,
            max_filesize: 100 << 20,
            max_scansize: 400 << 20,
            max_ratio: 1000,
        }
    }
}

/// How to scan.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Report every matching signature, not only the first.
    pub all_match: bool,
    /// Look into archives and compressed files.
    pub scan_archives: bool,
    /// Resource limits.
    pub limits: Limits,
    /// Follow symbolic links while walking.
    pub follow_symlinks: bool,
    /// Glob patterns of paths not to scan.
    pub excludes: Vec<String>,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Report an exceeded limit as a detection (`Heuristics.Limits.Exceeded.*`).
    pub alert_exceeds_max: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            all_match: false,
            scan_archives: true,
            limits: Limits::default(),
            follow_symlinks: false,
            excludes: Vec::new(),
            threads: 0,
            alert_exceeds_max: false,
        }
    }
}

/// One detection in a scanned file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Found {
    /// Signature name.
    pub signature: String,
    /// Database it came from.
    pub database: String,
    /// Path of the archive member it was found in (`a.tar!b.zip!c.exe`), if any.
    pub member: Option<String>,
    /// Byte offset of the match within the (member) data, where known.
    pub offset: Option<u64>,
}

/// What happened to one scanned file.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct FileReport {
    /// The path as given or walked.
    pub path: String,
    /// Detections.
    pub found: Vec<Found>,
    /// Bytes read from the file.
    pub bytes_read: u64,
    /// Bytes scanned, archive members included.
    pub bytes_scanned: u64,
    /// Problems that did not stop the scan: corrupt or encrypted archives, limits reached.
    pub notices: Vec<String>,
    /// The file is empty.
    pub empty: bool,
}

/// An event reported by [`scan_paths`].
#[derive(Debug)]
pub enum Event {
    /// A file was scanned.
    File(FileReport),
    /// A directory was entered.
    Directory(PathBuf),
    /// A symbolic link met while walking, not followed.
    Symlink(PathBuf),
    /// A path matched an `--exclude` glob and was not scanned.
    Excluded(PathBuf),
    /// A path could not be scanned.
    Error {
        /// The path.
        path: String,
        /// What went wrong.
        message: String,
    },
}

struct Ctx<'a, 'e> {
    scanner: &'a mut Scanner<'e>,
    engine: &'e Engine,
    opts: &'a ScanOptions,
    report: FileReport,
    top_name: String,
    owner: &'a str,
    stop: bool,
}

fn strip_compression_suffix(name: &str) -> String {
    let base = name.rsplit(['/', '!']).next().unwrap_or(name);
    for (suf, rep) in [
        (".tgz", ".tar"),
        (".tbz2", ".tar"),
        (".txz", ".tar"),
        (".gz", ""),
        (".bz2", ""),
        (".xz", ""),
        (".zst", ""),
    ] {
        if let Some(b) = base.strip_suffix(suf) {
            return format!("{b}{rep}");
        }
    }
    base.to_string()
}

fn extension_of(name: &str) -> String {
    let base = name.rsplit(['/', '!']).next().unwrap_or(name);
    match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => String::new(),
    }
}

impl Ctx<'_, '_> {
    fn scan_buf(&mut self, data: &[u8], depth: u32, member: Option<&str>) {
        if self.stop {
            return;
        }
        // As clamscan does, a buffer larger than what is left of the scan budget is skipped
        // whole rather than scanned in part.
        let budget = self
            .opts
            .limits
            .max_scansize
            .saturating_sub(self.report.bytes_scanned);
        if data.len() as u64 > budget {
            self.limit(
                member,
                "max-scansize",
                "larger than the scan budget left, not scanned",
            );
            return;
        }
        self.report.bytes_scanned += data.len() as u64;
        let name = member.unwrap_or(&self.top_name).to_string();
        let filename = name.rsplit(['/', '!']).next().unwrap_or(&name).to_string();
        let extension = extension_of(&name);
        let filepath = match member {
            Some(m) => format!("{}!{m}", self.report.path),
            None => self.report.path.clone(),
        };
        let meta = FileMeta {
            filename: &filename,
            filepath: &filepath,
            extension: &extension,
            owner: self.owner,
        };
        let all = self.opts.all_match;
        for d in self.scanner.scan(data, &meta, all) {
            self.report.found.push(Found {
                signature: d.name,
                database: self.engine.source_name(d.source).to_string(),
                member: member.map(str::to_string),
                offset: d.offset,
            });
        }
        if !all && !self.report.found.is_empty() {
            self.stop = true;
            return;
        }
        if !self.opts.scan_archives {
            return;
        }
        let Some(kind) = Container::detect(data) else {
            return;
        };
        let lim = self.opts.limits;
        if depth >= lim.max_depth {
            self.limit(
                member,
                "max-recursion",
                "archive nesting deeper than the limit",
            );
            return;
        }
        let remaining = lim.max_scansize.saturating_sub(self.report.bytes_scanned);
        let limits = UnpackLimits {
            max_member: lim.max_filesize.min(remaining),
            max_files: lim.max_files,
            max_ratio: lim.max_ratio,
        };
        let parent = name.clone();
        let stop = archive::unpack(kind, data, limits, &mut |mname, bytes| {
            let mname = if mname.is_empty() {
                strip_compression_suffix(&parent)
            } else {
                mname.to_string()
            };
            let path = match member {
                Some(m) => format!("{m}!{mname}"),
                None => mname,
            };
            self.scan_buf(bytes, depth + 1, Some(&path));
            !self.stop
        });
        let where_ = member.map(|m| format!(" (member {m})")).unwrap_or_default();
        match stop {
            None => {}
            Some(Stop::Corrupt(e)) => self
                .report
                .notices
                .push(format!("corrupt {} archive{where_}: {e}", kind.name())),
            Some(Stop::Encrypted(m)) => self.report.notices.push(format!(
                "encrypted {} member {m}{where_} not scanned",
                kind.name()
            )),
            Some(Stop::MaxFiles) => self.limit(
                member,
                "max-files",
                "archive has more members than the limit",
            ),
            Some(Stop::MaxSize) => {
                if remaining < lim.max_filesize {
                    self.limit(
                        member,
                        "max-scansize",
                        "total unpacked size exceeds the limit",
                    )
                } else {
                    self.limit(member, "max-filesize", "member larger than the limit")
                }
            }
            Some(Stop::Ratio) => self.limit(
                member,
                "max-ratio",
                "compression ratio exceeds the limit (possible archive bomb)",
            ),
        }
    }

    fn limit(&mut self, member: Option<&str>, what: &str, msg: &str) {
        let where_ = member.map(|m| format!(" (member {m})")).unwrap_or_default();
        self.report.notices.push(format!("{what}: {msg}{where_}"));
        if self.opts.alert_exceeds_max {
            let sig = match what {
                "max-recursion" => "Heuristics.Limits.Exceeded.MaxRecursion",
                "max-files" => "Heuristics.Limits.Exceeded.MaxFiles",
                "max-scansize" => "Heuristics.Limits.Exceeded.MaxScanSize",
                "max-ratio" => "Heuristics.Limits.Exceeded.MaxRatio",
                _ => "Heuristics.Limits.Exceeded.MaxFileSize",
            };
            self.report.found.push(Found {
                signature: sig.to_string(),
                database: "limits".to_string(),
                member: member.map(str::to_string),
                offset: None,
            });
        }
    }
}

/// Scans one in-memory buffer (a file's bytes, or standard input) as a top-level file.
pub fn scan_data<'e>(
    engine: &'e Engine,
    scanner: &mut Scanner<'e>,
    data: &[u8],
    path: &str,
    owner: &str,
    opts: &ScanOptions,
) -> FileReport {
    let mut ctx = Ctx {
        scanner,
        engine,
        opts,
        report: FileReport {
            path: path.to_string(),
            bytes_read: data.len() as u64,
            empty: data.is_empty(),
            ..FileReport::default()
        },
        top_name: path.to_string(),
        owner,
        stop: false,
    };
    ctx.scan_buf(data, 0, None);
    ctx.report
}

/// User names by uid, read once from /etc/passwd, for the `owner` YARA external.
fn owner_name(uid: u32) -> &'static str {
    static USERS: OnceLock<HashMap<u32, String>> = OnceLock::new();
    let users = USERS.get_or_init(|| {
        std::fs::read_to_string("/etc/passwd")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                Some((f.get(2)?.parse().ok()?, f.first()?.to_string()))
            })
            .collect()
    });
    users.get(&uid).map_or("", |s| s.as_str())
}

#[cfg(unix)]
fn owner_of(md: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::MetadataExt;
    owner_name(md.uid())
}

#[cfg(not(unix))]
fn owner_of(_md: &std::fs::Metadata) -> &'static str {
    ""
}

/// Reads and scans one regular file.
fn scan_file<'e>(
    engine: &'e Engine,
    scanner: &mut Scanner<'e>,
    path: &Path,
    md: &std::fs::Metadata,
    opts: &ScanOptions,
    buf: &mut Vec<u8>,
) -> Event {
    let shown = path.display().to_string();
    if md.len() > opts.limits.max_filesize {
        let mut r = FileReport {
            path: shown,
            ..FileReport::default()
        };
        r.notices
            .push("max-filesize: file larger than the limit, not scanned".to_string());
        if opts.alert_exceeds_max {
            r.found.push(Found {
                signature: "Heuristics.Limits.Exceeded.MaxFileSize".to_string(),
                database: "limits".to_string(),
                member: None,
                offset: None,
            });
        }
        return Event::File(r);
    }
    match read_file(path, opts.limits.max_filesize, buf) {
        Ok(()) => Event::File(scan_data(engine, scanner, buf, &shown, owner_of(md), opts)),
        Err(e) => Event::Error {
            path: shown,
            message: format!("Can't read file: {e}"),
        },
    }
}

/// Reads a file read-only, at most `limit` bytes, into `buf` (reused across files so large
/// reads do not fault in fresh pages every time).
fn read_file(path: &Path, limit: u64, buf: &mut Vec<u8>) -> std::io::Result<()> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    buf.clear();
    f.take(limit).read_to_end(buf)?;
    Ok(())
}

/// Worker threads for a walk: as asked (0: one per core), but no more than the paths given
/// when none of them is a directory, as each worker would have nothing else to do.
fn walk_threads(paths: &[PathBuf], asked: usize) -> usize {
    let n = if asked == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        asked
    };
    if paths.iter().any(|p| p.is_dir()) {
        n
    } else {
        n.min(paths.len()).max(1)
    }
}

/// Walks `paths` (files or directories, recursively) in parallel, scanning every regular file
/// and reporting each to `sink`. Symbolic links are not followed unless asked.
pub fn scan_paths(
    engine: &Engine,
    paths: &[PathBuf],
    opts: &ScanOptions,
    sink: &(dyn Fn(Event) + Sync),
) -> Result<(), String> {
    let Some((first, rest)) = paths.split_first() else {
        return Ok(());
    };
    let mut wb = ignore::WalkBuilder::new(first);
    for p in rest {
        wb.add(p);
    }
    wb.standard_filters(false)
        .hidden(false)
        .parents(false)
        .ignore(false)
        .git_ignore(false)
        .git_global(false)
        .git_exclude(false)
        .follow_links(opts.follow_symlinks)
        .threads(walk_threads(paths, opts.threads));
    let excludes = if opts.excludes.is_empty() {
        None
    } else {
        let mut ob = ignore::overrides::OverrideBuilder::new("/");
        for g in &opts.excludes {
            ob.add(&format!("!{g}"))
                .map_err(|e| format!("bad --exclude glob {g:?}: {e}"))?;
        }
        Some(ob.build().map_err(|e| format!("bad --exclude: {e}"))?)
    };
    let excludes = &excludes;
    wb.build_parallel().run(|| {
        let mut scanner = engine.scanner();
        let mut buf = Vec::new();
        Box::new(move |res| {
            match res {
                Err(e) => {
                    let (path, message) = walk_error(&e);
                    sink(Event::Error { path, message });
                }
                Ok(entry) => {
                    let Some(ft) = entry.file_type() else {
                        return ignore::WalkState::Continue;
                    };
                    if ft.is_symlink() {
                        sink(Event::Symlink(entry.path().to_path_buf()));
                        return ignore::WalkState::Continue;
                    }
                    if let Some(ov) = excludes {
                        if ov.matched(entry.path(), ft.is_dir()).is_ignore() {
                            sink(Event::Excluded(entry.path().to_path_buf()));
                            return ignore::WalkState::Skip;
                        }
                    }
                    if ft.is_dir() {
                        sink(Event::Directory(entry.path().to_path_buf()));
                    } else if ft.is_file() {
                        match entry.metadata() {
                            Ok(md) => sink(scan_file(
                                engine,
                                &mut scanner,
                                entry.path(),
                                &md,
                                opts,
                                &mut buf,
                            )),
                            Err(e) => sink(Event::Error {
                                path: entry.path().display().to_string(),
                                message: format!("Can't stat file: {e}"),
                            }),
                        }
                    }
                }
            }
            ignore::WalkState::Continue
        })
    });
    Ok(())
}

fn walk_error(e: &ignore::Error) -> (String, String) {
    match e {
        ignore::Error::WithPath { path, err } => (path.display().to_string(), err.to_string()),
        ignore::Error::WithDepth { err, .. } => walk_error(err),
        ignore::Error::WithLineNumber { err, .. } => walk_error(err),
        other => (String::new(), other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use detente_engine::{EngineBuilder, LoadOptions};
    use std::io::Write;

    fn engine() -> Engine {
        let mut b = EngineBuilder::new(LoadOptions::default());
        b.add_database("t.ndb", b"Planted:0:*:706c616e7465642d73616d706c65\n")
            .unwrap();
        b.build()
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn nested_gzip_found_with_member_path() {
        let e = engine();
        let mut s = e.scanner();
        let mut data = b"xx planted-sample yy".to_vec();
        for _ in 0..5 {
            data = gz(&data);
        }
        let opts = ScanOptions {
            all_match: true,
            ..ScanOptions::default()
        };
        let r = scan_data(&e, &mut s, &data, "a.gz", "", &opts);
        assert_eq!(r.found.len(), 1);
        assert_eq!(r.found[0].member.as_deref(), Some("a!a!a!a!a"));
        assert_eq!(r.found[0].offset, Some(3));
        let shallow = ScanOptions {
            limits: Limits {
                max_depth: 3,
                ..Limits::default()
            },
            ..opts.clone()
        };
        let r = scan_data(&e, &mut s, &data, "a.gz", "", &shallow);
        assert!(r.found.is_empty());
        assert!(r.notices[0].starts_with("max-recursion"));
    }

    #[test]
    fn bomb_is_reported_not_followed() {
        let e = engine();
        let mut s = e.scanner();
        let data = gz(&vec![0u8; 64 << 20]);
        let r = scan_data(&e, &mut s, &data, "bomb.gz", "", &ScanOptions::default());
        assert!(
            r.notices.iter().any(|n| n.starts_with("max-ratio")),
            "{:?}",
            r.notices
        );
        assert!(r.bytes_scanned < 8 << 20);
    }

    #[test]
    fn corrupt_archive_is_a_notice() {
        let e = engine();
        let mut s = e.scanner();
        let mut data = gz(b"planted-sample and more text to compress");
        let n = data.len();
        data[n - 6] ^= 0xff; // damage the trailer's length field
        let all = ScanOptions {
            all_match: true,
            ..ScanOptions::default()
        };
        let r = scan_data(&e, &mut s, &data, "c.gz", "", &all);
        assert!(
            r.notices.iter().any(|n| n.starts_with("corrupt gzip")),
            "{:?}",
            r
        );
        let r = scan_data(
            &e,
            &mut s,
            b"PK\x03\x04garbage",
            "c.zip",
            "",
            &ScanOptions::default(),
        );
        assert!(
            r.notices.iter().any(|n| n.starts_with("corrupt zip")),
            "{:?}",
            r.notices
        );
    }
}
