//! Scanning files, directories and archives with a detente [`Engine`].
//!
//! [`scan_paths`] walks paths in parallel (one engine [`Scanner`] per thread), reads each
//! regular file, and reports one [`Event`] per file, directory or error to a sink. Archives and
//! compressed files are unpacked in memory, each member scanned like a file, recursively,
//! within clamscan's [`Limits`] counted across the whole walk of each top-level file (see
//! [`archive`]). Every file and member ends with one [`Outcome`]: a file reads [`Outcome::Clean`]
//! only if every byte of it was scanned. Files are opened read-only; nothing here writes to a
//! scanned file.

mod alz;
pub mod archive;
mod arj;
mod binhex;
mod cab;
mod embedded;
mod explode;
pub mod html;
mod html_tables;
mod lha;
mod mail;
mod ole2;
mod packers;
mod pdf;
pub mod report;
mod rtf;
mod sevenz;
mod tnef;
mod upx;
pub mod vba;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use detente_engine::filetype::FileType;
use detente_engine::{Engine, FileMeta, Scanner};

pub use archive::Limit;
use archive::{Budget, Container, Flow, Host, Member};

/// Bounds on the work one top-level file may cause, named and counted as clamscan's. Each is
/// counted across the whole walk of the file, every nesting level together. 0 means "no limit",
/// except for `max_recursion`, where it means the default.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `--max-recursion`: the file itself is level 0, and members are scanned down to level
    /// `max_recursion - 1` (at most [`MAX_RECURSION`]).
    pub max_recursion: u32,
    /// `--max-files`: most layers scanned (the file itself, containers and members).
    pub max_files: u64,
    /// `--max-filesize`: largest file, or archive member, scanned.
    pub max_filesize: u64,
    /// `--max-scansize`: most bytes scanned, all layers together; also the most bytes
    /// decompressors may produce for one file.
    pub max_scansize: u64,
}

/// clamscan's default `--max-recursion`.
pub const DEFAULT_MAX_RECURSION: u32 = 17;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_recursion: DEFAULT_MAX_RECURSION,
            max_files: 10_000,
            max_filesize: 100 << 20,
            max_scansize: 400 << 20,
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
    /// Report the first limit hit in a file as a detection (`Heuristics.Limits.Exceeded.*`),
    /// unless a signature matched too (then only with `all_match`).
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
    /// Database it came from (`limits` for `Heuristics.Limits.Exceeded.*`).
    pub database: String,
    /// Path of the archive member it was found in (`a.tar!b.zip!c.exe`), if any.
    pub member: Option<String>,
    /// Byte offset of the match within the (member) data, where known.
    pub offset: Option<u64>,
}

/// Why a file or member was not scanned, or not all of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Why {
    /// A limit: the data over it was not scanned.
    Limit(Limit),
    /// Damaged data: what could not be decoded was not scanned.
    Corrupt,
    /// Encrypted data, not scanned.
    Encrypted,
    /// A compression method detente does not read.
    Unsupported,
    /// The pattern matcher's step budget ran out: some signatures were not fully checked.
    MatcherBudget,
    /// An empty file: nothing to scan.
    Empty,
    /// A path matching `--exclude`.
    Excluded,
    /// A symbolic link, not followed.
    Symlink,
}

impl Why {
    /// Short name: `max-filesize`, `max-scansize`, `max-files`, `max-recursion`, `corrupt`,
    /// `encrypted`, `unsupported`, `matcher-budget`, `empty`, `excluded`, `symlink`.
    pub fn as_str(self) -> &'static str {
        match self {
            Why::Limit(l) => l.as_str(),
            Why::Corrupt => "corrupt",
            Why::Encrypted => "encrypted",
            Why::Unsupported => "unsupported",
            Why::MatcherBudget => "matcher-budget",
            Why::Empty => "empty",
            Why::Excluded => "excluded",
            Why::Symlink => "symlink",
        }
    }
}

impl serde::Serialize for Why {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What was not scanned, where, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Reason {
    /// Why.
    #[serde(rename = "reason")]
    pub why: Why,
    /// The archive member concerned (`a.zip!b.gz`), or `None` for the file itself.
    pub member: Option<String>,
    /// Details for a person.
    pub detail: String,
}

/// How the scan of a file or member ended: exactly one of these.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Outcome {
    /// Every byte scanned (members included), nothing found.
    #[default]
    Clean,
    /// Signatures found (names, in the order found, each once).
    Found(Vec<String>),
    /// Nothing found, but some of it was not scanned, for these reasons.
    Partial(Vec<Reason>),
    /// Not scanned at all.
    Skipped(Reason),
    /// Could not be read.
    Error(String),
}

impl Outcome {
    /// `clean`, `found`, `partial`, `skipped` or `error`.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Clean => "clean",
            Outcome::Found(_) => "found",
            Outcome::Partial(_) => "partial",
            Outcome::Skipped(_) => "skipped",
            Outcome::Error(_) => "error",
        }
    }
}

/// The outcome of one archive member (containers' outcomes include their members').
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberReport {
    /// Member path (`a.zip!b.gz!b`).
    pub path: String,
    /// How its scan ended.
    pub outcome: Outcome,
    /// Its size, as scanned (0 if not scanned).
    pub bytes: u64,
}

/// Most reasons kept per file (all are counted).
pub const MAX_REASONS: usize = 256;
/// Most member outcomes kept per file (all are counted).
pub const MAX_MEMBERS: usize = 10_000;

/// What happened to one scanned file.
#[derive(Clone, Debug, Default)]
pub struct FileReport {
    /// The path as given or walked.
    pub path: String,
    /// Detections, `Heuristics.Limits.Exceeded.*` included (always last).
    pub found: Vec<Found>,
    /// Bytes of the file (read or not).
    pub bytes_read: u64,
    /// Bytes scanned, archive members included.
    pub bytes_scanned: u64,
    /// Bytes decompressors produced, scanned or not: at most `--max-scansize` plus one.
    pub bytes_inflated: u64,
    /// Layers charged to `--max-files` (the file, containers and members).
    pub layers: u64,
    /// Why some of the file was not scanned (at most [`MAX_REASONS`] kept).
    pub reasons: Vec<Reason>,
    /// Reasons counted but not kept.
    pub reasons_omitted: u64,
    /// Outcome of every archive member, in the order finished (at most [`MAX_MEMBERS`]).
    pub members: Vec<MemberReport>,
    /// Member outcomes counted but not kept.
    pub members_omitted: u64,
    /// The first limit hit (the one `--alert-exceeds-max` reports).
    pub first_limit: Option<Limit>,
    /// How the scan ended.
    pub outcome: Outcome,
    /// The file is empty.
    pub empty: bool,
}

/// An event reported by [`scan_paths`].
#[derive(Debug)]
pub enum Event {
    /// A file was scanned (or skipped: see its outcome).
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
    budget: Budget,
    max_recursion: u32,
    top_name: String,
    owner: &'a str,
    stop: bool,
    /// The type the next member is scanned as, when it was found embedded in its parent
    /// (its type is then not looked for again, nor files embedded in it).
    forced: Option<embedded::Embedded>,
    /// The level of an embedded archive being unpacked: its entries that cannot be read are
    /// passed over silently, since its magic may have been stray bytes (as in ClamAV).
    quiet: Option<u32>,
    /// Set when the file itself was not scanned.
    skipped: Option<Reason>,
    /// Reasons recorded so far, kept or not.
    reason_count: u64,
    /// The container being unpacked: its member path (`None`: the file itself) and level.
    container: Option<String>,
    level: u32,
    /// ClamAV type names of the containers being unpacked, the outermost first.
    types: Vec<&'static str>,
    pool: Vec<Vec<u8>>,
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

/// Names found in `found`, each once, in order.
fn names(found: &[Found]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    found
        .iter()
        .filter(|f| seen.insert(f.signature.as_str()))
        .map(|f| f.signature.clone())
        .collect()
}

fn limit_detail(l: Limit, len: u64) -> String {
    match l {
        Limit::MaxFileSize => format!("{len} bytes, over --max-filesize"),
        Limit::MaxScanSize => format!("{len} bytes, over what is left of --max-scansize"),
        Limit::MaxFiles => "--max-files layers already scanned".to_string(),
        Limit::MaxRecursion => "nested deeper than --max-recursion".to_string(),
    }
}

impl<'a, 'e> Ctx<'a, 'e> {
    fn new(
        engine: &'e Engine,
        scanner: &'a mut Scanner<'e>,
        path: &str,
        owner: &'a str,
        opts: &'a ScanOptions,
    ) -> Self {
        let max_recursion = match opts.limits.max_recursion {
            0 => DEFAULT_MAX_RECURSION,
            n => n.min(MAX_RECURSION),
        };
        Ctx {
            scanner,
            engine,
            opts,
            report: FileReport {
                path: path.to_string(),
                ..FileReport::default()
            },
            budget: Budget::new(&opts.limits),
            max_recursion,
            top_name: path.to_string(),
            owner,
            stop: false,
            forced: None,
            quiet: None,
            skipped: None,
            reason_count: 0,
            container: None,
            level: 0,
            types: Vec::new(),
            pool: Vec::new(),
        }
    }

    fn reason(&mut self, why: Why, member: Option<String>, detail: String) {
        self.reason_count += 1;
        if self.report.reasons.len() < MAX_REASONS {
            self.report.reasons.push(Reason {
                why,
                member,
                detail,
            });
        } else {
            self.report.reasons_omitted += 1;
        }
    }

    fn push_member(&mut self, path: String, outcome: Outcome, bytes: u64) {
        if self.report.members.len() < MAX_MEMBERS {
            self.report.members.push(MemberReport {
                path,
                outcome,
                bytes,
            });
        } else {
            self.report.members_omitted += 1;
        }
    }

    fn skip_member(&mut self, path: String, why: Why, detail: String) {
        let r = Reason {
            why,
            member: Some(path.clone()),
            detail: detail.clone(),
        };
        self.reason(why, Some(path.clone()), detail);
        self.push_member(path, Outcome::Skipped(r), 0);
    }

    /// The file itself is not scanned.
    fn skip_file(&mut self, why: Why, detail: String) {
        if let Why::Limit(l) = why {
            self.budget.record(l);
        }
        self.reason(why, None, detail.clone());
        self.skipped = Some(Reason {
            why,
            member: None,
            detail,
        });
    }

    /// The top-level file, as ClamAV's `cl_scandesc_callback` and `cli_magic_scan` take it.
    fn top(&mut self, data: &[u8]) {
        let len = data.len() as u64;
        self.report.bytes_read = len;
        if data.is_empty() {
            // clamscan reports `Empty file` and scans nothing; YARA rules still run on it
            // (`filesize == 0` is a condition like any other).
            self.report.empty = true;
            self.skip_file(Why::Empty, "empty file".into());
            self.scan_layer(data, 0, None);
            return;
        }
        if len > self.budget.max_filesize() {
            self.skip_file(
                Why::Limit(Limit::MaxFileSize),
                limit_detail(Limit::MaxFileSize, len),
            );
            return;
        }
        if let Err(l) = self.budget.check(len) {
            self.skip_file(Why::Limit(l), limit_detail(l, len));
            return;
        }
        self.scan_layer(data, 0, None);
    }

    /// Scans one layer (the file, or a member that passed the checks) and unpacks it.
    fn scan_layer(&mut self, data: &[u8], level: u32, member: Option<&str>) {
        if self.stop {
            return;
        }
        // An archive found embedded in its parent is a layer ClamAV 1.4 only unpacks: checked
        // against the limits but not counted, and not scanned raw.
        if let Some(
            e @ (embedded::Embedded::ZipEntry(_)
            | embedded::Embedded::Cab(_)
            | embedded::Embedded::Arj(_)),
        ) = &self.forced
        {
            let zip = matches!(e, embedded::Embedded::ZipEntry(_));
            let arj = matches!(e, embedded::Embedded::Arj(_));
            self.forced = None;
            let quiet = self.quiet.replace(level);
            if zip {
                self.unpack(Container::ZipEntry, data, level, member);
            } else {
                // As `unpack`, with an archive whose header does not read passed over.
                let saved = (self.container.take(), self.level);
                self.container = member.map(str::to_string);
                self.level = level;
                if arj {
                    self.types.push("CL_TYPE_ARJ");
                    arj::unpack_as(data, self, true);
                } else {
                    self.types.push("CL_TYPE_MSCAB");
                    cab::unpack_as(data, self, true);
                }
                self.types.pop();
                (self.container, self.level) = saved;
            }
            self.quiet = quiet;
            return;
        }
        let len = data.len() as u64;
        // As in ClamAV, layers of 5 bytes or less do not count.
        if len > 5 {
            self.budget.charge(len);
        }
        self.report.bytes_scanned += len;
        let name = member.unwrap_or(&self.top_name).to_string();
        let filename = name.rsplit(['/', '!']).next().unwrap_or(&name).to_string();
        let extension = extension_of(&name);
        let filepath = match member {
            Some(m) => format!("{}!{m}", self.report.path),
            None => self.report.path.clone(),
        };
        let all = self.opts.all_match;
        // An executable found embedded is scanned as a file of its own (ClamAV writes it
        // out), so files embedded in it are looked for too.
        let forced = self.forced.take();
        // As ClamAV's `cli_magic_scan`: a container's parser runs before the raw scan of the
        // container itself (so, without `--allmatch`, a member's detection is the one
        // reported), and the raw scan is skipped once a detection ended the scan.
        let kind = match &forced {
            Some(_) => None,
            None if self.opts.scan_archives => Container::detect(data),
            None => None,
        };
        if let Some(kind) = kind.filter(|k| !k.after_raw_scan()) {
            self.unpack(kind, data, level, member);
            if self.stop {
                return;
            }
        }
        // HTML goes to the normaliser: a file typed HTML (ClamAV does not scan it raw), or,
        // after its raw scan, a text file or GIF with an HTML pattern anywhere in it.
        let ft = detente_engine::filetype::file_type(data);
        let html = forced.is_none()
            && kind.is_none()
            && self.opts.scan_archives
            && (ft == FileType::Html
                || ((ft == FileType::Text || data.starts_with(b"GIF"))
                    && detente_engine::filetype::html_marker(data)));
        let meta = FileMeta {
            filename: &filename,
            filepath: &filepath,
            extension: &extension,
            owner: self.owner,
            ancestors: &self.types,
            typed: None,
            html_normalized: html,
        };
        for d in self.scanner.scan(data, &meta, all) {
            self.report.found.push(Found {
                signature: d.name,
                database: self.engine.source_name(d.source).to_string(),
                member: member.map(str::to_string),
                offset: d.offset,
            });
        }
        if self.scanner.incomplete() {
            self.reason(
                Why::MatcherBudget,
                member.map(str::to_string),
                "the pattern matcher's step budget ran out: some signatures were not fully checked"
                    .into(),
            );
        }
        if !all && !self.report.found.is_empty() {
            self.stop = true;
            return;
        }
        if self.opts.scan_archives && ft != FileType::Html {
            self.scan_embedded(data, kind, level, member);
            if self.stop {
                return;
            }
        }
        // A packed executable: unpacked after the raw scan, as ClamAV's `cli_scanpe`.
        if self.opts.scan_archives && ft == FileType::Pe && kind.is_none() {
            self.scan_packed(data, level, member);
            if self.stop {
                return;
            }
        }
        if html {
            self.scan_html(data, level, member);
            return;
        }
        // UTF-16 HTML: read as bytes (ClamAV's `cli_scanhtml_utf16`), a layer of its own typed
        // HTML, then normalised.
        if ft == FileType::HtmlUtf16 && kind.is_none() && self.opts.scan_archives {
            let decoded = detente_engine::filetype::utf16_to_ascii(data);
            self.types.push("CL_TYPE_HTML_UTF16");
            self.scan_html(&decoded, level + 1, member);
            self.types.pop();
            return;
        }
        if let Some(kind) = kind.filter(|k| k.after_raw_scan()) {
            self.unpack(kind, data, level, member);
        }
    }

    /// HTML, as ClamAV's `cli_scanhtml`: the normalised markup and text are scanned as HTML
    /// (target 3), and each `data:` URI's document as a file of its own.
    fn scan_html(&mut self, data: &[u8], level: u32, member: Option<&str>) {
        if data.len() > html::MAX_HTML_NORMALIZE {
            self.reason(
                Why::Unsupported,
                member.map(str::to_string),
                format!(
                    "html: {} bytes, over the {} normalised (clamscan's --max-htmlnormalize); target-3 signatures not checked",
                    data.len(),
                    html::MAX_HTML_NORMALIZE
                ),
            );
            return;
        }
        let out = html::normalize(data);
        let saved = (self.container.take(), self.level);
        self.container = member.map(str::to_string);
        self.level = level;
        if let Some(cut) = out.cut {
            self.note(Why::Unsupported, cut);
        }
        self.types.push("CL_TYPE_HTML");
        let mut flow = self.typed_member("nocomment.html", &out.nocomment, FileType::Html);
        if data.len() > html::MAX_HTML_NOTAGS {
            self.note(
                Why::Unsupported,
                format!(
                    "html: {} bytes, over the {} whose text without tags is scanned (clamscan's --max-htmlnotags)",
                    data.len(),
                    html::MAX_HTML_NOTAGS
                ),
            );
        } else if !matches!(flow, Flow::Stop) {
            flow = self.typed_member("notags.html", &out.notags, FileType::Html);
        }
        for (i, doc) in out.data_uris.iter().enumerate() {
            if matches!(flow, Flow::Stop) {
                break;
            }
            flow = self.member(&format!("rfc2397-{i}"), Member::Whole(doc));
        }
        self.types.pop();
        (self.container, self.level) = saved;
    }

    /// A document made from its container (normalised HTML) and scanned as `ft` without being
    /// typed or unpacked, as ClamAV's `cli_scan_desc`. Empty documents are not scanned.
    fn typed_member(&mut self, name: &str, data: &[u8], ft: FileType) -> Flow {
        if self.stop {
            return Flow::Stop;
        }
        if data.is_empty() {
            return Flow::Next;
        }
        let path = match &self.container {
            Some(c) => format!("{c}!{name}"),
            None => name.to_string(),
        };
        let len = data.len() as u64;
        if let Err(l) = self.budget.check(len) {
            self.skip_member(path, Why::Limit(l), limit_detail(l, len));
            return Flow::Refused(l);
        }
        if len > 5 {
            self.budget.charge(len);
        }
        self.report.bytes_scanned += len;
        let f0 = self.report.found.len();
        let filepath = format!("{}!{path}", self.report.path);
        let meta = FileMeta {
            filename: name,
            filepath: &filepath,
            extension: "html",
            owner: self.owner,
            ancestors: &self.types,
            typed: Some(ft),
            html_normalized: false,
        };
        for d in self.scanner.scan(data, &meta, self.opts.all_match) {
            self.report.found.push(Found {
                signature: d.name,
                database: self.engine.source_name(d.source).to_string(),
                member: Some(path.clone()),
                offset: d.offset,
            });
        }
        if self.scanner.incomplete() {
            self.reason(
                Why::MatcherBudget,
                Some(path.clone()),
                "the pattern matcher's step budget ran out: some signatures were not fully checked"
                    .into(),
            );
        }
        let outcome = if self.report.found.len() > f0 {
            Outcome::Found(names(&self.report.found[f0..]))
        } else {
            Outcome::Clean
        };
        self.push_member(path, outcome, len);
        if !self.opts.all_match && !self.report.found.is_empty() {
            self.stop = true;
            return Flow::Stop;
        }
        Flow::Next
    }

    /// A packed executable (see [`packers`]): what its unpacker rebuilds is scanned as a
    /// file of its own, one level down, inside a `CL_TYPE_MSEXE` container.
    fn scan_packed(&mut self, data: &[u8], level: u32, member: Option<&str>) {
        let budget = &mut self.budget;
        let result = packers::unpack(data, &mut |need| budget.check(need));
        let here = member.map(str::to_string);
        match result {
            packers::Unpacked::None => {}
            packers::Unpacked::Packed(packer, why) => {
                self.reason(Why::Unsupported, here, format!("{packer}: {why}"));
            }
            packers::Unpacked::Limit(packer, need, l) => {
                self.reason(
                    Why::Limit(l),
                    here,
                    format!(
                        "{packer}: unpacking needs {need} bytes, over the limits; not unpacked"
                    ),
                );
            }
            packers::Unpacked::Rebuilt(packer, rebuilt) => {
                let saved = (self.container.take(), self.level);
                self.container = member.map(str::to_string);
                self.level = level;
                self.types.push("CL_TYPE_MSEXE");
                self.member(
                    &format!("{}-unpacked", packer.to_ascii_lowercase()),
                    Member::Whole(&rebuilt),
                );
                self.types.pop();
                (self.container, self.level) = saved;
            }
        }
    }

    /// Files embedded in a layer (see [`embedded`]), scanned as its members.
    fn scan_embedded(
        &mut self,
        data: &[u8],
        kind: Option<Container>,
        level: u32,
        member: Option<&str>,
    ) {
        use embedded::Embedded;
        if matches!(
            kind,
            Some(
                Container::Gzip
                    | Container::Zip
                    | Container::ZipEntry
                    | Container::Tar
                    | Container::Cpio(archive::CpioKind::Old(_))
                    | Container::Tnef
            )
        ) {
            return;
        }
        let exe_host = kind == Some(Container::Ole2)
            || (kind.is_none()
                && detente_engine::filetype::file_type(data)
                    == detente_engine::filetype::FileType::Pe);
        let (found, cut) = embedded::find(
            data,
            exe_host,
            kind == Some(Container::Rar),
            kind == Some(Container::Arj),
        );
        if cut {
            self.reason(
                Why::Unsupported,
                member.map(str::to_string),
                format!(
                    "embedded files: more than {} candidate offsets, the rest not looked at",
                    embedded::MAX_CANDIDATES
                ),
            );
        }
        if found.is_empty() {
            return;
        }
        let saved = (self.container.take(), self.level);
        self.container = member.map(str::to_string);
        self.level = level;
        for e in found {
            let (at, slice) = match e {
                Embedded::ZipEntry(at)
                | Embedded::Cab(at)
                | Embedded::Arj(at)
                | Embedded::Exe(at) => (at, &data[at..]),
                Embedded::Rar(at) => {
                    self.reason(
                        Why::Unsupported,
                        member.map(str::to_string),
                        format!("rar: an archive embedded at offset {at} was not unpacked"),
                    );
                    continue;
                }
            };
            // An executable's layer has, as in ClamAV, two layers above it: its host, and the
            // host's bytes from the offset on, typed as an executable (ClamAV writes those
            // out and scans the copy). The archives' layers name themselves.
            let host_type = match e {
                Embedded::Exe(_) if kind == Some(Container::Ole2) => Some("CL_TYPE_MSOLE2"),
                Embedded::Exe(_) => Some("CL_TYPE_MSEXE"),
                _ => None,
            };
            if let Some(t) = host_type {
                self.types.push(t);
                self.types.push("CL_TYPE_MSEXE");
            }
            self.forced = Some(e);
            let flow = self.member(&format!("@{at}"), Member::Whole(slice));
            self.forced = None;
            if host_type.is_some() {
                self.types.truncate(self.types.len() - 2);
            }
            if let Flow::Stop = flow {
                break;
            }
        }
        (self.container, self.level) = saved;
    }

    /// Unpacks a container layer, its members scanned one level down.
    fn unpack(&mut self, kind: Container, data: &[u8], level: u32, member: Option<&str>) {
        let saved = (self.container.take(), self.level);
        self.container = member.map(str::to_string);
        self.level = level;
        self.types.push(kind.clamav_type(data));
        archive::unpack(kind, data, self);
        self.types.pop();
        (self.container, self.level) = saved;
    }

    /// Ends the report: the alert, if any, and the outcome.
    fn finish(mut self) -> FileReport {
        let r = &mut self.report;
        r.first_limit = self.budget.first_limit;
        r.bytes_inflated = self.budget.inflated;
        r.layers = self.budget.files;
        if let Some(l) = r.first_limit {
            if self.opts.alert_exceeds_max && (r.found.is_empty() || self.opts.all_match) {
                r.found.push(Found {
                    signature: l.heuristic().to_string(),
                    database: "limits".to_string(),
                    member: None,
                    offset: None,
                });
            }
        }
        r.outcome = if !r.found.is_empty() {
            Outcome::Found(names(&r.found))
        } else if let Some(s) = self.skipped.take() {
            Outcome::Skipped(s)
        } else if self.reason_count > 0 {
            Outcome::Partial(r.reasons.clone())
        } else {
            Outcome::Clean
        };
        self.report
    }
}

impl Host for Ctx<'_, '_> {
    fn budget(&mut self) -> &mut Budget {
        &mut self.budget
    }

    fn typed(&mut self, name: &str, data: &[u8], ft: FileType) -> Flow {
        self.typed_member(name, data, ft)
    }

    fn buffer(&mut self) -> Vec<u8> {
        self.pool.pop().unwrap_or_default()
    }

    fn recycle(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        self.pool.push(buf);
    }

    fn note(&mut self, why: Why, detail: String) {
        let m = self.container.clone();
        self.reason(why, m, detail);
    }

    fn member(&mut self, name: &str, member: Member<'_>) -> Flow {
        if self.stop {
            return Flow::Stop;
        }
        if self.quiet == Some(self.level) && matches!(member, Member::Unreadable(..)) {
            return Flow::Next;
        }
        let name = if name.is_empty() {
            strip_compression_suffix(self.container.as_deref().unwrap_or(&self.top_name))
        } else {
            capped_name(name)
        };
        let path = match &self.container {
            Some(c) => format!("{c}!{name}"),
            None => name,
        };
        let (data, partial) = match member {
            Member::Refused(l) => {
                let detail = match l {
                    Limit::MaxFileSize => "larger than --max-filesize, not scanned".into(),
                    Limit::MaxScanSize => "over what is left of --max-scansize, not scanned".into(),
                    l => limit_detail(l, 0),
                };
                self.skip_member(path, Why::Limit(l), detail);
                return Flow::Refused(l);
            }
            Member::Unreadable(why, detail) => {
                self.skip_member(path, why, detail);
                return Flow::Next;
            }
            Member::Whole(d) => (d, None),
            Member::Truncated(d, l) => (
                d,
                Some((
                    Why::Limit(l),
                    format!("only the first {} bytes scanned", d.len()),
                )),
            ),
            Member::Damaged(d, e) => (d, Some((Why::Corrupt, e))),
        };
        if data.is_empty() {
            if let Some((why, detail)) = partial {
                self.skip_member(path, why, detail);
                return Flow::Next;
            }
        }
        // ClamAV's `cli_recursion_stack_push`: the limits, then the depth. (An embedded
        // archive's layer is checked so, but then not counted: see `scan_layer`.)
        let len = data.len() as u64;
        if let Err(l) = self.budget.check(len) {
            self.skip_member(path, Why::Limit(l), limit_detail(l, len));
            return Flow::Refused(l);
        }
        if self.level + 1 >= self.max_recursion {
            self.budget.record(Limit::MaxRecursion);
            self.skip_member(
                path,
                Why::Limit(Limit::MaxRecursion),
                limit_detail(Limit::MaxRecursion, len),
            );
            return Flow::Refused(Limit::MaxRecursion);
        }
        let f0 = self.report.found.len();
        let r0 = self.reason_count;
        let kept0 = self.report.reasons.len();
        if let Some((why, detail)) = partial {
            self.reason(why, Some(path.clone()), detail);
        }
        self.scan_layer(data, self.level + 1, Some(&path));
        let outcome = if self.report.found.len() > f0 {
            Outcome::Found(names(&self.report.found[f0..]))
        } else if self.reason_count > r0 {
            Outcome::Partial(self.report.reasons[kept0..].to_vec())
        } else {
            Outcome::Clean
        };
        self.push_member(path, outcome, len);
        if self.stop {
            Flow::Stop
        } else {
            Flow::Next
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
    let run = |scanner: &mut Scanner<'e>, opts: &ScanOptions| {
        let mut ctx = Ctx::new(engine, scanner, path, owner, opts);
        ctx.top(data);
        ctx.finish()
    };
    // Each nesting level takes some stack (about 10 KiB); walker threads have 2 MiB. Deeper
    // limits than the default get a thread whose stack fits them.
    let levels = opts.limits.max_recursion.min(MAX_RECURSION) as usize;
    if levels <= INLINE_RECURSION as usize {
        return run(scanner, opts);
    }
    let deep = std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("detente-deep-scan".into())
            .stack_size((1 << 20) + levels * STACK_PER_LEVEL)
            .spawn_scoped(s, || run(&mut *scanner, opts))
            .ok()
            .map(|h| h.join())
    });
    match deep {
        Some(Ok(r)) => r,
        Some(Err(panic)) => std::panic::resume_unwind(panic),
        // No thread with that much stack: scan no deeper than the caller's stack allows.
        None => {
            let mut shallow = opts.clone();
            shallow.limits.max_recursion = INLINE_RECURSION;
            run(scanner, &shallow)
        }
    }
}

/// Nesting limits up to this are scanned on the caller's stack.
const INLINE_RECURSION: u32 = 64;
/// Stack reserved per nesting level beyond that (address space; pages are touched as used).
const STACK_PER_LEVEL: usize = 64 << 10;
/// `--max-recursion` values above this are taken as this (clamscan has no ceiling; this one
/// keeps the stack, and member paths, which grow with the depth, bounded).
pub const MAX_RECURSION: u32 = 1000;

/// The report of a file over `--max-filesize`, not read: skipped (clamscan prints `OK`), or
/// `Heuristics.Limits.Exceeded.MaxFileSize` with `--alert-exceeds-max`.
pub fn oversized(path: &str, size: u64, opts: &ScanOptions) -> FileReport {
    let reason = Reason {
        why: Why::Limit(Limit::MaxFileSize),
        member: None,
        detail: limit_detail(Limit::MaxFileSize, size),
    };
    let mut r = FileReport {
        path: path.to_string(),
        bytes_read: size,
        reasons: vec![reason.clone()],
        first_limit: Some(Limit::MaxFileSize),
        outcome: Outcome::Skipped(reason),
        ..FileReport::default()
    };
    if opts.alert_exceeds_max {
        let sig = Limit::MaxFileSize.heuristic().to_string();
        r.found.push(Found {
            signature: sig.clone(),
            database: "limits".to_string(),
            member: None,
            offset: None,
        });
        r.outcome = Outcome::Found(vec![sig]);
    }
    r
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
    let max = archive::Budget::new(&opts.limits).max_filesize();
    if md.len() > max {
        return Event::File(oversized(&shown, md.len(), opts));
    }
    // One byte more than the limit, should the file have grown since it was measured.
    match read_file(path, max.saturating_add(1), buf) {
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

/// Longest member name kept in a reported path: archive formats allow names of megabytes
/// (a gzip FNAME, a tar long name), and every nested member repeats its container's path.
const MAX_NAME: usize = 1024;

/// `name`, cut to [`MAX_NAME`] bytes on a character boundary and marked when cut.
fn capped_name(name: &str) -> String {
    if name.len() <= MAX_NAME {
        return name.to_string();
    }
    let mut end = MAX_NAME;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &name[..end])
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
        assert_eq!(r.outcome, Outcome::Found(vec!["Planted".into()]));
        // Level 5 is scanned with --max-recursion 6, not with 5.
        for (max, found) in [(6, true), (5, false)] {
            let o = ScanOptions {
                limits: Limits {
                    max_recursion: max,
                    ..Limits::default()
                },
                ..opts.clone()
            };
            let r = scan_data(&e, &mut s, &data, "a.gz", "", &o);
            assert_eq!(!r.found.is_empty(), found, "{max}: {r:?}");
            if !found {
                assert_eq!(r.first_limit, Some(Limit::MaxRecursion));
                assert_eq!(r.outcome.kind(), "partial");
                assert_eq!(r.reasons[0].member.as_deref(), Some("a!a!a!a!a"));
            }
        }
    }

    #[test]
    fn gzip_over_the_budget_is_not_decompressed_further() {
        let e = engine();
        let mut s = e.scanner();
        let data = gz(&vec![0u8; 64 << 20]);
        let opts = ScanOptions {
            limits: Limits {
                max_scansize: 8 << 20,
                ..Limits::default()
            },
            ..ScanOptions::default()
        };
        let r = scan_data(&e, &mut s, &data, "bomb.gz", "", &opts);
        assert_eq!(r.first_limit, Some(Limit::MaxScanSize));
        assert!(r.bytes_inflated <= (8 << 20) + 1, "{}", r.bytes_inflated);
        assert!(
            matches!(&r.outcome, Outcome::Partial(v) if v[0].why == Why::Limit(Limit::MaxScanSize))
        );
        assert_eq!(r.members[0].outcome.kind(), "skipped");
    }

    #[test]
    fn corrupt_archive_is_a_reason() {
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
        assert!(r.reasons.iter().any(|n| n.why == Why::Corrupt), "{r:?}");
        assert!(
            r.found.iter().any(|f| f.member.as_deref() == Some("c")),
            "what was recovered is scanned: {r:?}"
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
            matches!(&r.outcome, Outcome::Partial(v) if v[0].why == Why::Corrupt),
            "{r:?}"
        );
    }
}
