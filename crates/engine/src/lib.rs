//! The detente scan engine.
//!
//! An [`EngineBuilder`] loads signature databases (ClamAV formats through `detente-sigs`,
//! YARA rules through boreal) from bytes or readers the caller has opened, and builds an
//! immutable [`Engine`]. Each thread then takes its own [`Scanner`], which scans one buffer at
//! a time and reports [`Detection`]s. The engine never touches the file system: callers pass
//! bytes (or, for databases, a `Read`er) in, so nothing here can write to a scanned file.
//!
//! ```
//! use detente_engine::{EngineBuilder, FileMeta, LoadOptions};
//! let mut b = EngineBuilder::new(LoadOptions::default());
//! b.add_database("test.ndb", b"Test.Body:0:*:68656c6c6f20776f726c64").unwrap();
//! let engine = b.build();
//! let mut scanner = engine.scanner();
//! let found = scanner.scan(b"say hello world", &FileMeta::default(), true);
//! assert_eq!(found[0].name, "Test.Body");
//! ```

mod body;
mod hashes;
mod index;
mod pe;
pub mod text;
mod verify;
mod yara;

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::Read;

use detente_sigs::{
    parse_with, BodyRef, DbKind, Expr, HashList, HashRef, LogicalSig, ParseError, ParseOptions,
    Range, Sink, Skipped,
};

pub use hashes::Digests;
pub use yara::{RuleError, EXTERNALS};

use body::{Compiled, Owner, Pattern};
use hashes::{HashIndex, HashStore};
use index::AtomIndex;
use verify::Memo;

/// A database that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A malformed line.
    #[error("{database}: line {line}: {message}")]
    Line {
        /// Database name.
        database: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A malformed file (container, encoding).
    #[error("{database}: {message}")]
    File {
        /// Database name.
        database: String,
        /// What is wrong.
        message: String,
    },
}

/// Options for loading databases.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadOptions {
    /// Skip malformed lines, counting them, instead of failing.
    pub lenient: bool,
    /// Also load potentially-unwanted-application databases (`.hdu`, `.ndu`, ...).
    pub pua: bool,
    /// Accept `.cvd`/`.cld` containers without a valid signature (the user's own `sigtool`
    /// builds); their MD5, member sizes and hashes are still checked.
    pub allow_unsigned: bool,
}

/// What was loaded.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// Hash signatures.
    pub hash: usize,
    /// Body signatures.
    pub body: usize,
    /// Logical signatures.
    pub logical: usize,
    /// YARA rules compiled.
    pub yara_rules: usize,
    /// Allow-list entries.
    pub allow: usize,
    /// Signatures switched off by `.ign2` files.
    pub ignored: usize,
    /// Lines skipped, by reason.
    pub skipped: Skipped,
    /// YARA rules that could not be compiled: (file, error).
    pub yara_errors: Vec<(String, RuleError)>,
    /// Database files (or container members) of kinds this engine does not read.
    pub unsupported_files: Vec<String>,
    /// Body or logical signatures whose pattern has no usable literal atom.
    pub no_atom: usize,
}

impl LoadReport {
    /// Signatures that can report a detection.
    pub fn signatures(&self) -> usize {
        self.hash + self.body + self.logical + self.yara_rules
    }
}

/// A compiled pattern and its atom variants (None: no usable atom).
type CompiledBody = Option<(body::Compiled, body::Atom)>;

/// A body signature as loaded: name, target 7, compiled pattern and atom variants.
type PreBody = (String, bool, CompiledBody);

/// Signatures parsed from one database file (or a run of its lines), ready to merge: hash
/// signatures stored flat, body signatures already compiled.
#[derive(Default)]
struct Part {
    hashes: HashStore,
    sections: HashStore,
    allow: HashStore,
    bodies: Vec<PreBody>,
    logicals: Vec<LogicalSig>,
    ignored: Vec<String>,
    skipped: Skipped,
    /// Scratch space for compiling patterns.
    scratch: Vec<body::ClassInfo>,
}

impl Sink for Part {
    fn hash(&mut self, list: HashList, sig: HashRef<'_>) {
        match list {
            HashList::File => self.hashes.push(&sig),
            HashList::Section => self.sections.push(&sig),
            HashList::Allow => self.allow.push(&sig),
        }
    }
    fn body(&mut self, b: BodyRef<'_>) {
        // Compiled patterns are compact; the parsed form stays in the parser's buffer.
        let c = body::compile_with(b.pattern, b.offset, false, &mut self.scratch);
        self.bodies.push((b.name.to_string(), b.target == 7, c));
    }
    fn logical(&mut self, sig: LogicalSig) {
        self.logicals.push(sig);
    }
    fn ignore(&mut self, name: &str) {
        self.ignored.push(name.to_string());
    }
    fn skipped(&mut self) -> &mut Skipped {
        &mut self.skipped
    }
}

/// Parses one line-based database, or a run of whole lines of one (pure: safe to run on any
/// thread). Error line numbers count from the start of `bytes`.
fn parse_part(kind: DbKind, bytes: &[u8], opts: LoadOptions) -> Result<Part, ParseError> {
    let mut part = Part::default();
    // One signature per line: reserve once rather than grow (and copy) as lines come. A
    // hash line takes at least 37 bytes (32 digits, two colons, a size, a name, a newline).
    let store = match kind {
        DbKind::Hash => Some(&mut part.hashes),
        DbKind::SectionHash => Some(&mut part.sections),
        DbKind::AllowHash => Some(&mut part.allow),
        _ => None,
    };
    if let Some(store) = store {
        store.reserve(bytes.len() / 37 + 1, bytes.len() / 2);
    }
    if kind == DbKind::Body {
        // A body signature line rarely takes fewer than 24 bytes.
        part.bodies.reserve(bytes.len() / 24 + 1);
    }
    parse_with(
        &mut part,
        kind,
        bytes,
        ParseOptions {
            lenient: opts.lenient,
        },
    )?;
    Ok(part)
}

/// Bytes of database text parsed as one unit of parallel work.
const PARSE_CHUNK: usize = 128 * 1024;

/// Bytes per run of lines of a database of `kind`: a quarter of [`PARSE_CHUNK`] for body
/// and logical signatures, which cost several times more per byte to compile than hash
/// lines to parse, so that the last runs of a load end at about the same time on every worker.
fn run_len(kind: DbKind) -> usize {
    match kind {
        DbKind::Body | DbKind::Logical => PARSE_CHUNK / 4,
        _ => PARSE_CHUNK,
    }
}

/// Reads the next run of whole lines of about `run_len` bytes into `buf` (empty on
/// entry), starting with the partial line `carry` left by the previous run, and leaves in
/// `carry` what follows the run's last newline. Returns whether the reader is exhausted
/// (then the run holds everything left, whole lines or not). The buffer grows only when
/// full, and each byte is searched for a newline once.
fn next_run(
    reader: &mut dyn Read,
    buf: &mut Vec<u8>,
    carry: &mut Vec<u8>,
    run_len: usize,
) -> std::io::Result<bool> {
    buf.append(carry);
    let (mut filled, mut searched) = (buf.len(), 0);
    let cut = loop {
        if filled == buf.len() || buf.len() < run_len {
            buf.resize((filled + run_len / 4).max(run_len), 0);
        }
        let n = match reader.read(&mut buf[filled..]) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => r?,
        };
        if n == 0 {
            buf.truncate(filled);
            return Ok(true);
        }
        filled += n;
        if filled >= run_len {
            if let Some(i) = memchr::memrchr(b'\n', &buf[searched..filled]) {
                break searched + i + 1;
            }
            searched = filled;
        }
    };
    carry.extend_from_slice(&buf[cut..filled]);
    buf.truncate(cut);
    Ok(false)
}

fn line_error(database: &str, e: ParseError) -> LoadError {
    LoadError::Line {
        database: database.to_string(),
        line: e.line,
        message: e.kind.to_string(),
    }
}

struct LogicalMeta {
    name: String,
    text_only: bool,
    source: u32,
    expr: Expr,
    file_size: Option<Range>,
    base: u32,
    nsubs: u32,
}

/// Collects databases, then builds an [`Engine`].
pub struct EngineBuilder {
    opts: LoadOptions,
    sources: Vec<String>,
    /// Hash signatures, as parsed runs of lines: joined once, at build time.
    hashes: Vec<HashStore>,
    sections: Vec<HashStore>,
    allow: Vec<HashStore>,
    /// Body signatures, compiled as they are loaded (parsed patterns are large; compiled ones
    /// are compact), as loaded per run of lines with their database: gathered once, at build.
    bodies: Vec<(u32, Vec<PreBody>)>,
    logicals: Vec<LogicalSig>,
    lsig_src: Vec<u32>,
    ignored: Vec<String>,
    yara: Option<yara::YaraBuilder>,
    report: LoadReport,
}

impl EngineBuilder {
    /// An empty builder.
    pub fn new(opts: LoadOptions) -> Self {
        EngineBuilder {
            opts,
            sources: Vec::new(),
            hashes: Vec::new(),
            sections: Vec::new(),
            allow: Vec::new(),
            bodies: Vec::new(),
            logicals: Vec::new(),
            lsig_src: Vec::new(),
            ignored: Vec::new(),
            yara: None,
            report: LoadReport::default(),
        }
    }

    /// What has been loaded so far.
    pub fn report(&self) -> &LoadReport {
        &self.report
    }

    /// Loads one database file given its name (the extension selects the format) and bytes.
    /// A name with an unknown extension is recorded in [`LoadReport::unsupported_files`].
    pub fn add_database(&mut self, name: &str, bytes: &[u8]) -> Result<(), LoadError> {
        let Some(kind) = DbKind::from_file_name(name) else {
            self.report.unsupported_files.push(name.to_string());
            return Ok(());
        };
        if DbKind::is_pua(name) && !self.opts.pua {
            return Ok(());
        }
        match kind {
            DbKind::Container => self.add_container(name, bytes),
            DbKind::Yara => {
                let text = std::str::from_utf8(bytes).map_err(|e| LoadError::File {
                    database: name.to_string(),
                    message: format!("not UTF-8 text: {e}"),
                })?;
                self.yara
                    .get_or_insert_with(yara::YaraBuilder::new)
                    .add(name, text);
                Ok(())
            }
            _ => self.add_database_reader(name, &mut &bytes[..]),
        }
    }

    fn add_source(&mut self, name: &str) -> u32 {
        self.sources.push(name.to_string());
        self.sources.len() as u32 - 1
    }

    /// Merges the outcome of one run of lines of database `name`: its signatures, or its
    /// error with the line numbered from the start of the file (`lines_before` counts the
    /// lines before the run), or the failure of the worker that never returned it.
    fn merge_run(
        &mut self,
        name: &str,
        src: u32,
        run: Option<Result<Part, ParseError>>,
        lines_before: usize,
    ) -> Result<(), LoadError> {
        match run {
            Some(Ok(part)) => {
                self.merge(src, part);
                Ok(())
            }
            Some(Err(mut e)) => {
                e.line += lines_before;
                Err(line_error(name, e))
            }
            None => Err(LoadError::File {
                database: name.to_string(),
                message: "a parsing worker failed".into(),
            }),
        }
    }

    /// Adds signatures parsed from database `src`.
    fn merge(&mut self, src: u32, part: Part) {
        for (mut store, to) in [
            (part.hashes, &mut self.hashes),
            (part.sections, &mut self.sections),
            (part.allow, &mut self.allow),
        ] {
            if !store.is_empty() {
                store.src = src;
                to.push(store);
            }
        }
        if !part.bodies.is_empty() {
            self.bodies.push((src, part.bodies));
        }
        self.lsig_src
            .extend(std::iter::repeat_n(src, part.logicals.len()));
        self.logicals.extend(part.logicals);
        self.ignored.extend(part.ignored);
        self.report.skipped.add(&part.skipped);
    }

    /// Loads one database from a reader (a file, a pipe) without holding all of its text:
    /// see [`EngineBuilder::add_database_readers`].
    pub fn add_database_reader(
        &mut self,
        name: &str,
        reader: &mut dyn Read,
    ) -> Result<(), LoadError> {
        self.add_database_readers(vec![(name.to_string(), reader)])
    }

    /// Loads databases from readers (files, pipes), in order, without holding their text:
    /// line-based formats are read in runs of whole lines of up to [`PARSE_CHUNK`] bytes,
    /// parsed on one worker per core while the next runs are read, in a few buffers used over
    /// and over. The result is the one of [`EngineBuilder::add_database`] on each whole text,
    /// one after the other. Other formats (containers, YARA) are read whole.
    pub fn add_database_readers(
        &mut self,
        files: Vec<(String, &mut dyn Read)>,
    ) -> Result<(), LoadError> {
        let opts = self.opts;
        let line_kind = |name: &str| {
            DbKind::from_file_name(name).filter(|k| {
                !matches!(k, DbKind::Container | DbKind::Yara)
                    && (opts.pua || !DbKind::is_pua(name))
            })
        };
        let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
        let read_err = |name: &str, e: std::io::Error| LoadError::File {
            database: name.to_string(),
            message: format!("can't read: {e}"),
        };
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Runs in flight at most; their buffers come back to be filled again.
        let max_in_flight = 2 * workers;
        // A run's outcome: None when parsing it panicked (reported, not propagated).
        type Done = (usize, Option<Result<Part, ParseError>>, Vec<u8>);
        let (work_tx, work_rx) = std::sync::mpsc::channel::<(usize, DbKind, Vec<u8>)>();
        let work_rx = std::sync::Mutex::new(work_rx);
        let (done_tx, done_rx) = std::sync::mpsc::channel::<Done>();
        // Per run: its file and the lines before it in that file (to number errors).
        let mut runs: Vec<(usize, usize)> = Vec::new();
        let mut results: Vec<Option<Result<Part, ParseError>>> = Vec::new();
        // Whole texts of the files that are not line-based.
        let mut whole: Vec<Option<Vec<u8>>> = (0..files.len()).map(|_| None).collect();
        let last_file = files.len().saturating_sub(1);
        std::thread::scope(|s| -> Result<(), LoadError> {
            // Workers start as runs come (none for a database of one run).
            let mut spawned = 0usize;
            let spawn = || {
                let done_tx = done_tx.clone();
                let work_rx = &work_rx;
                s.spawn(move || loop {
                    let next = work_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((seq, kind, buf))) = next else {
                        return;
                    };
                    // Caught, so that a worker always answers and the reader never waits
                    // for a run that will not come.
                    let parse = std::panic::AssertUnwindSafe(|| parse_part(kind, &buf, opts));
                    let r = std::panic::catch_unwind(parse).ok();
                    if done_tx.send((seq, r, buf)).is_err() {
                        return;
                    }
                });
            };
            let store = |results: &mut Vec<Option<Result<Part, ParseError>>>, d: Done| {
                let (seq, r, mut buf) = d;
                if results.len() <= seq {
                    results.resize_with(seq + 1, || None);
                }
                results[seq] = r;
                buf.clear();
                buf
            };
            let mut spare: Vec<Vec<u8>> = Vec::new();
            let mut in_flight = 0usize;
            for (fi, (name, reader)) in files.into_iter().enumerate() {
                let Some(kind) = line_kind(&name) else {
                    let mut bytes = Vec::new();
                    reader
                        .read_to_end(&mut bytes)
                        .map_err(|e| read_err(&name, e))?;
                    whole[fi] = Some(bytes);
                    continue;
                };
                let mut carry: Vec<u8> = Vec::new();
                let (mut lines, mut eof) = (0usize, false);
                while !eof {
                    let mut buf = match spare.pop() {
                        Some(b) => b,
                        None if in_flight < max_in_flight => {
                            Vec::with_capacity(PARSE_CHUNK + PARSE_CHUNK / 4)
                        }
                        None => match done_rx.recv() {
                            Ok(d) => {
                                in_flight -= 1;
                                store(&mut results, d)
                            }
                            Err(_) => return Ok(()),
                        },
                    };
                    eof = next_run(reader, &mut buf, &mut carry, run_len(kind))
                        .map_err(|e| read_err(&name, e))?;
                    if buf.is_empty() {
                        spare.push(buf);
                        continue;
                    }
                    runs.push((fi, lines));
                    lines += memchr::memchr_iter(b'\n', &buf).count();
                    let seq = runs.len() - 1;
                    if eof && fi == last_file && in_flight == 0 {
                        // The last run, with nothing else to wait for: parsed here.
                        let r = parse_part(kind, &buf, opts);
                        spare.push(store(&mut results, (seq, Some(r), buf)));
                        continue;
                    }
                    if spawned < workers && in_flight >= spawned {
                        spawn();
                        spawned += 1;
                    }
                    if work_tx.send((seq, kind, buf)).is_err() {
                        return Ok(());
                    }
                    in_flight += 1;
                }
            }
            drop(work_tx);
            drop(done_tx);
            for d in done_rx.iter() {
                store(&mut results, d);
            }
            Ok(())
        })?;
        // A run whose result never came back stays None (and is reported below).
        results.resize_with(runs.len(), || None);
        let mut results = results.into_iter().zip(runs).peekable();
        for (fi, name) in names.iter().enumerate() {
            if let Some(bytes) = whole[fi].take() {
                self.add_database(name, &bytes)?;
                continue;
            }
            let src = self.add_source(name);
            while let Some((r, (_, before))) = results.next_if(|(_, (f, _))| *f == fi) {
                self.merge_run(name, src, r, before)?;
            }
        }
        Ok(())
    }

    /// Loads several databases given as bytes, as [`EngineBuilder::add_database_readers`]
    /// does from readers.
    pub fn add_databases(&mut self, files: &[(String, Vec<u8>)]) -> Result<(), LoadError> {
        let mut texts: Vec<(String, &[u8])> =
            files.iter().map(|(n, b)| (n.clone(), &b[..])).collect();
        self.add_database_readers(
            texts
                .iter_mut()
                .map(|(n, t)| (n.clone(), t as &mut dyn Read))
                .collect(),
        )
    }

    /// Loads a `.cvd`/`.cld` after verifying it as ClamAV does (`detente-cvd`): the header
    /// signature over the body's MD5, the `.info` member list under its own signature, and
    /// every member's size and SHA-256, unpacked within bounds. A tampered or unsigned
    /// container is refused unless [`LoadOptions::allow_unsigned`] is set (user builds).
    fn add_container(&mut self, name: &str, bytes: &[u8]) -> Result<(), LoadError> {
        let opts = detente_cvd::CvdOptions {
            allow_unsigned: self.opts.allow_unsigned,
            ..detente_cvd::CvdOptions::default()
        };
        let verified =
            detente_cvd::verify_cvd(name, bytes, &opts).map_err(|e| LoadError::File {
                database: name.to_string(),
                message: e.kind.to_string(),
            })?;
        for (member, data) in &verified.members {
            if *member == verified.info_name || member == "COPYING" {
                continue;
            }
            if matches!(DbKind::from_file_name(member), Some(DbKind::Container)) {
                return Err(LoadError::File {
                    database: name.to_string(),
                    message: format!("{member}: nested container"),
                });
            }
            self.add_database(&format!("{name}/{member}"), data)?;
        }
        Ok(())
    }

    /// Compiles everything loaded into an engine.
    pub fn build(mut self) -> Engine {
        let ignored: HashSet<String> = std::mem::take(&mut self.ignored).into_iter().collect();
        let mut report = std::mem::take(&mut self.report);
        let keep = |n: &str, report: &mut LoadReport| {
            if !ignored.is_empty() && ignored.contains(n) {
                report.ignored += 1;
                false
            } else {
                true
            }
        };

        let mut hash_stores = std::mem::take(&mut self.hashes);
        let mut section_stores = std::mem::take(&mut self.sections);
        if !ignored.is_empty() {
            for s in hash_stores.iter_mut().chain(section_stores.iter_mut()) {
                s.retain(|n| keep(n, &mut report));
            }
        }

        let body_parts = std::mem::take(&mut self.bodies);
        let nbodies: usize = body_parts.iter().map(|(_, b)| b.len()).sum();
        let mut patterns: Vec<Pattern> = Vec::with_capacity(nbodies);
        let mut atoms: Vec<(u32, body::Atom)> = Vec::with_capacity(nbodies);
        let mut bodies: Vec<(String, u32)> = Vec::with_capacity(nbodies);
        let all_bodies = body_parts
            .into_iter()
            .flat_map(|(src, b)| b.into_iter().map(move |(n, t7, c)| (n, src, t7, c)));
        for (name, src, text_only, compiled) in all_bodies {
            if !keep(&name, &mut report) {
                continue;
            }
            match compiled {
                Some((compiled, variants)) => {
                    atoms.push((patterns.len() as u32, variants));
                    patterns.push(Pattern {
                        compiled,
                        owners: vec![Owner::Body(bodies.len() as u32)],
                        text_only,
                    });
                    bodies.push((name, src));
                }
                None => report.no_atom += 1,
            }
        }

        let mut lsigs: Vec<LogicalMeta> = Vec::new();
        let mut always = Vec::new();
        let mut base = 0u32;
        // Subsignature patterns by hash, to share identical ones between logical signatures.
        let mut shared: HashMap<u64, Vec<u32>> = HashMap::new();
        // Per subsignature slot, its patterns (one, or two for `::wa`): slot_pats[slot_start..].
        let mut slot_pats: Vec<u32> = Vec::new();
        let mut slot_start: Vec<u32> = vec![0];
        'lsig: for (l, src) in std::mem::take(&mut self.logicals)
            .into_iter()
            .zip(std::mem::take(&mut self.lsig_src))
        {
            if !keep(&l.name, &mut report) {
                continue;
            }
            let id = lsigs.len() as u32;
            let mut pats: Vec<(usize, Compiled, body::Atom)> = Vec::new();
            for (si, sub) in l.subsigs.iter().enumerate() {
                let m = sub.modifiers;
                let base_pat = if m.nocase {
                    sub.pattern.case_folded()
                } else {
                    sub.pattern.clone()
                };
                let mut forms = Vec::new();
                if !m.wide || m.ascii {
                    forms.push(base_pat.clone());
                }
                if m.wide {
                    forms.push(base_pat.widened());
                }
                for f in forms {
                    let Some((compiled, variants)) = body::compile(&f, sub.offset, m.fullword)
                    else {
                        report.no_atom += 1;
                        continue 'lsig;
                    };
                    pats.push((si, compiled, variants));
                }
            }
            let nsubs = l.subsigs.len() as u32;
            let text_only = l.target == 7;
            for si in 0..l.subsigs.len() {
                let forms = pats.iter().take_while(|p| p.0 == si).count();
                for (_, compiled, atom) in pats.drain(..forms).collect::<Vec<_>>() {
                    let owner = Owner::Sub { lsig: id };
                    let key = {
                        let mut h = std::hash::DefaultHasher::new();
                        (&compiled, text_only).hash(&mut h);
                        h.finish()
                    };
                    let bucket = shared.entry(key).or_default();
                    let same = bucket.iter().copied().find(|&p| {
                        let q = &patterns[p as usize];
                        q.compiled == compiled && q.text_only == text_only
                    });
                    let pid = match same {
                        // The same subsignature pattern twice in one slot (`::wa` forms of
                        // a pattern that widening leaves unchanged) counts once.
                        Some(p)
                            if slot_pats[*slot_start.last().unwrap_or(&0) as usize..]
                                .contains(&p) =>
                        {
                            continue
                        }
                        Some(p) => {
                            patterns[p as usize].owners.push(owner);
                            p
                        }
                        None => {
                            let p = patterns.len() as u32;
                            bucket.push(p);
                            atoms.push((p, atom));
                            patterns.push(Pattern {
                                compiled,
                                owners: vec![owner],
                                text_only,
                            });
                            p
                        }
                    };
                    slot_pats.push(pid);
                }
                slot_start.push(slot_pats.len() as u32);
            }
            if l.expr.eval(&vec![0; nsubs as usize]) {
                always.push(id);
            }
            lsigs.push(LogicalMeta {
                name: l.name,
                text_only: l.target == 7,
                source: src,
                expr: l.expr,
                file_size: l.file_size,
                base,
                nsubs,
            });
            base += nsubs;
        }

        let report_hash = hash_stores
            .iter()
            .chain(&section_stores)
            .map(HashStore::len)
            .sum();
        let sections = HashIndex::build(section_stores);
        let yara = self.yara.map(|y| {
            let (scanner, errors) = y.finish();
            report.yara_errors.extend(errors);
            scanner
        });
        report.hash = report_hash;
        report.body = bodies.len();
        report.logical = lsigs.len();
        let allow = std::mem::take(&mut self.allow);
        report.allow = allow.iter().map(HashStore::len).sum();
        report.yara_rules = yara
            .as_ref()
            .map_or(0, |s| s.rules().filter(|r| !r.is_private).count());
        let text_atoms = |patterns: &[Pattern]| {
            AtomIndex::build(
                atoms
                    .iter()
                    .filter(|(pid, _)| patterns[*pid as usize].compiled.matches_text)
                    .map(|(pid, a)| (*pid, a)),
            )
        };
        // The hash index and the two atom indexes are independent: build them side by side.
        let (hashes, all_atoms, text_atoms) = std::thread::scope(|s| {
            let hashes = s.spawn(|| HashIndex::build(hash_stores));
            let text = s.spawn(|| text_atoms(&patterns));
            let all = AtomIndex::build(atoms.iter().map(|(pid, a)| (*pid, a)));
            let resume = std::panic::resume_unwind;
            let text = text.join().unwrap_or_else(|p| resume(p));
            (hashes.join().unwrap_or_else(|p| resume(p)), all, text)
        });
        Engine {
            sources: self.sources,
            hashes,
            allow_idx: HashIndex::build(allow),
            sections,
            text_atoms,
            atoms: all_atoms,
            patterns,
            bodies,
            lsigs,
            always_lsigs: always,
            slot_pats,
            slot_start,
            yara,
            ignored,
            report,
        }
    }
}

/// Compiled signatures, shared by all scanning threads.
pub struct Engine {
    sources: Vec<String>,
    hashes: HashIndex,
    allow_idx: HashIndex,
    sections: HashIndex,
    atoms: AtomIndex,
    /// The atoms of the patterns that can match normalised text.
    text_atoms: AtomIndex,
    patterns: Vec<Pattern>,
    bodies: Vec<(String, u32)>,
    lsigs: Vec<LogicalMeta>,
    always_lsigs: Vec<u32>,
    /// The patterns of each subsignature slot (`base + sub` of a logical signature):
    /// `slot_pats[slot_start[slot]..slot_start[slot + 1]]`.
    slot_pats: Vec<u32>,
    slot_start: Vec<u32>,
    yara: Option<boreal::Scanner>,
    ignored: HashSet<String>,
    report: LoadReport,
}

/// One signature that matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detection {
    /// Signature name (`YARA.<rule>` for YARA rules).
    pub name: String,
    /// Index of the database it came from (see [`Engine::source_name`]).
    pub source: u32,
    /// Byte offset of the match, where known.
    pub offset: Option<u64>,
}

/// Facts about the scanned file, exposed to YARA rules as external variables.
#[derive(Clone, Debug, Default)]
pub struct FileMeta<'a> {
    /// Base name.
    pub filename: &'a str,
    /// Full path.
    pub filepath: &'a str,
    /// Extension without the dot, lower case.
    pub extension: &'a str,
    /// Owner's user name.
    pub owner: &'a str,
}

/// A coarse file type from magic bytes, for the `filetype` YARA external.
pub fn file_type(data: &[u8]) -> &'static str {
    match data {
        [b'M', b'Z', ..] => "EXE",
        [0x7f, b'E', b'L', b'F', ..] => "ELF",
        [b'P', b'K', 3, 4, ..] => "ZIP",
        [b'%', b'P', b'D', b'F', ..] => "PDF",
        [0xd0, 0xcf, 0x11, 0xe0, ..] => "OLE",
        [0x1f, 0x8b, ..] => "GZIP",
        [0xca, 0xfe, 0xba, 0xbe, ..] | [0xcf, 0xfa, 0xed, 0xfe, ..] => "MACHO",
        _ => "",
    }
}

impl Engine {
    /// A scanner for one thread.
    pub fn scanner(&self) -> Scanner<'_> {
        Scanner {
            engine: self,
            yara: self.yara.clone(),
            body_done: vec![false; self.bodies.len()],
            lsig_done: vec![false; self.lsigs.len()],
            lsig_touched: vec![false; self.lsigs.len()],
            memos: (0..self.patterns.len()).map(|_| Memo::default()).collect(),
            live_memos: Vec::new(),
            work: 0,
            incomplete: false,
            reported: Vec::new(),
            pcount: vec![0; self.patterns.len()],
            plast: vec![usize::MAX; self.patterns.len()],
            counted: Vec::new(),
            slot_counts: Vec::new(),
            touched: Vec::new(),
            touched_bodies: Vec::new(),
        }
    }

    /// The load report.
    pub fn report(&self) -> &LoadReport {
        &self.report
    }

    /// Name of database `i` (a file name, or `container/member`); "YARA" for YARA rules.
    pub fn source_name(&self, i: u32) -> &str {
        self.sources.get(i as usize).map_or("YARA", |s| s.as_str())
    }

    /// Whether any signatures are loaded.
    pub fn is_empty(&self) -> bool {
        self.report.signatures() == 0
    }
}

/// Per-thread scanning state.
pub struct Scanner<'e> {
    engine: &'e Engine,
    yara: Option<boreal::Scanner>,
    body_done: Vec<bool>,
    lsig_done: Vec<bool>,
    /// Logical signatures in `touched` (a flag each, so marking one costs no search).
    lsig_touched: Vec<bool>,
    /// Verification state per pattern, for the buffer being matched.
    memos: Vec<Memo>,
    /// Patterns whose memo is live in the buffer being matched.
    live_memos: Vec<u32>,
    /// Matcher steps taken in the last [`Scanner::scan`].
    work: u64,
    /// Whether the last [`Scanner::scan`] ran out of a matcher budget.
    incomplete: bool,
    reported: Vec<u32>,
    /// Per pattern, matches counted in this buffer (for logical signatures) and the start of
    /// the last one counted.
    pcount: Vec<u32>,
    plast: Vec<usize>,
    /// Patterns with a count in this buffer.
    counted: Vec<u32>,
    /// Scratch: the counts of one logical signature's subsignatures.
    slot_counts: Vec<u32>,
    touched: Vec<u32>,
    touched_bodies: Vec<u32>,
}

/// Source index used for YARA detections.
pub const YARA_SOURCE: u32 = u32::MAX;

impl Scanner<'_> {
    /// Scans one buffer. With `all`, reports every matching signature, else stops at the first.
    pub fn scan(&mut self, data: &[u8], meta: &FileMeta<'_>, all: bool) -> Vec<Detection> {
        let e = self.engine;
        self.work = 0;
        self.incomplete = false;
        let size = data.len() as u64;
        let mut out = Vec::new();
        if data.is_empty() {
            // As in ClamAV, empty files are neither hashed nor matched; YARA rules still run
            // (`filesize == 0` is a condition like any other).
            self.scan_yara(data, meta, all, &mut out);
            return out;
        }

        let mut digests = Digests::default();
        if !e.allow_idx.is_empty() {
            digests.compute(data, e.allow_idx.needed(size));
            let mut allowed = false;
            e.allow_idx.lookup(&digests, size, |_, _| allowed = true);
            if allowed {
                return out;
            }
        }

        if !e.hashes.is_empty() {
            e.hashes.detect(data, &mut digests, &mut out);
            if !all && !out.is_empty() {
                out.truncate(1);
                return out;
            }
        }

        if !e.sections.is_empty() {
            for r in pe::sections(data) {
                e.sections
                    .detect(&data[r], &mut Digests::default(), &mut out);
            }
            if !all && !out.is_empty() {
                out.truncate(1);
                return out;
            }
        }

        self.scan_bodies(data, size, false, all, &mut out);
        if (all || out.is_empty())
            && !e.patterns.is_empty()
            && data.len() <= text::MAX_NORMALIZE
            && text::is_text(data)
        {
            if e.text_atoms.is_empty() {
                // No pattern can match normalised text: its pass only evaluates the logical
                // signatures that hold with no match at all.
                self.scan_bodies(&[], size, true, all, &mut out);
            } else {
                let norm = text::normalize(data);
                self.scan_bodies(&norm, size, true, all, &mut out);
            }
        }
        for b in self.touched_bodies.drain(..) {
            self.body_done[b as usize] = false;
        }
        for l in self.reported.drain(..) {
            self.lsig_done[l as usize] = false;
        }
        if !all && !out.is_empty() {
            out.truncate(1);
            return out;
        }

        self.scan_yara(data, meta, all, &mut out);
        out
    }

    /// Matcher steps the last [`Scanner::scan`] took (verifications of atom hits): a measure of
    /// work that does not depend on the machine, for tests of the matcher's cost.
    pub fn work(&self) -> u64 {
        self.work
    }

    /// Whether the last [`Scanner::scan`] stopped some pattern's verification at its budget, so
    /// "no match" for that pattern is not a verdict over the whole buffer.
    pub fn incomplete(&self) -> bool {
        self.incomplete
    }

    /// Runs the YARA rules, with the external variables set for this buffer.
    fn scan_yara(&mut self, data: &[u8], meta: &FileMeta<'_>, all: bool, out: &mut Vec<Detection>) {
        let e = self.engine;
        if let Some(y) = self.yara.as_mut() {
            let ft = file_type(data);
            for (k, v) in [
                ("filename", meta.filename),
                ("filepath", meta.filepath),
                ("extension", meta.extension),
                ("filetype", ft),
                ("owner", meta.owner),
            ] {
                let _ = y.define_symbol(k, v);
            }
            let res = match y.scan_mem(data) {
                Ok(r) => r,
                Err((_, r)) => r,
            };
            for r in res.rules {
                if e.ignored.contains(r.name) {
                    continue;
                }
                out.push(Detection {
                    name: format!("YARA.{}", r.name),
                    source: YARA_SOURCE,
                    offset: None,
                });
                if !all {
                    break;
                }
            }
        }
    }

    /// Matches body and logical signatures over `data`: the raw bytes, or (`normalized`) their
    /// normalised text, where target-7 signatures apply too and `EOF-n` offsets of target-0
    /// signatures do not (ClamAV computes them for the raw file only). Offsets from the end and
    /// `FileSize` conditions use `raw_size`.
    fn scan_bodies(
        &mut self,
        data: &[u8],
        raw_size: u64,
        normalized: bool,
        all: bool,
        out: &mut Vec<Detection>,
    ) {
        let e = self.engine;
        if e.patterns.is_empty() {
            return;
        }
        let size = raw_size;
        let mut stop = false;
        {
            let memos = &mut self.memos;
            let live_memos = &mut self.live_memos;
            let lsig_touched = &mut self.lsig_touched;
            let body_done = &mut self.body_done;
            let pcount = &mut self.pcount;
            let plast = &mut self.plast;
            let counted = &mut self.counted;
            let touched = &mut self.touched;
            let touched_bodies = &mut self.touched_bodies;
            let atoms = if normalized { &e.text_atoms } else { &e.atoms };
            atoms.find(data, |pid, pos| {
                if stop {
                    return;
                }
                let Some(p) = e.patterns.get(pid as usize) else {
                    return;
                };
                if p.text_only && !normalized {
                    return;
                }
                // Nothing to learn when every owner is a body signature already found.
                let wanted = p.owners.iter().any(|o| match o {
                    Owner::Body(b) => !body_done[*b as usize],
                    Owner::Sub { .. } => true,
                });
                if !wanted {
                    return;
                }
                let eof_size = if !normalized || p.text_only {
                    Some(size)
                } else {
                    None
                };
                let Some(memo) = memos.get_mut(pid as usize) else {
                    return;
                };
                if !memo.live() {
                    memo.start(p.compiled.toks.len(), data.len());
                    live_memos.push(pid);
                }
                let Some(start) = verify::verify(&p.compiled, data, pos, eof_size, memo) else {
                    return;
                };
                let mut first_count = false;
                for o in &p.owners {
                    match *o {
                        Owner::Body(b) => {
                            if body_done[b as usize] || stop {
                                continue;
                            }
                            body_done[b as usize] = true;
                            touched_bodies.push(b);
                            let (name, src) = &e.bodies[b as usize];
                            out.push(Detection {
                                name: name.clone(),
                                source: *src,
                                offset: Some(start as u64),
                            });
                            if !all {
                                stop = true;
                            }
                        }
                        Owner::Sub { lsig, .. } => {
                            let i = pid as usize;
                            if !first_count {
                                if plast[i] != usize::MAX && start <= plast[i] {
                                    // Not a new match for counting: no owner counts it.
                                    break;
                                }
                                if pcount[i] == 0 {
                                    counted.push(pid);
                                }
                                pcount[i] = pcount[i].saturating_add(1);
                                plast[i] = start;
                                first_count = true;
                            }
                            if pcount[i] == 1 && !lsig_touched[lsig as usize] {
                                lsig_touched[lsig as usize] = true;
                                touched.push(lsig);
                            }
                        }
                    }
                }
            });
        }
        // Evaluate logical signatures that saw a match, and those true with no match at all.
        let mut cands: Vec<u32> = self.touched.clone();
        for &a in &e.always_lsigs {
            if !self.lsig_touched[a as usize] {
                cands.push(a);
            }
        }
        cands.sort_unstable();
        if !stop || all {
            for id in cands {
                let l = &e.lsigs[id as usize];
                if self.lsig_done[id as usize] || (l.text_only && !normalized) {
                    continue;
                }
                if l.file_size.is_some_and(|r| size < r.min || size > r.max) {
                    continue;
                }
                self.slot_counts.clear();
                for slot in l.base..l.base + l.nsubs {
                    let s = slot as usize;
                    let (a, b) = (e.slot_start[s] as usize, e.slot_start[s + 1] as usize);
                    let n = e.slot_pats[a..b]
                        .iter()
                        .map(|&p| self.pcount[p as usize])
                        .fold(0u32, u32::saturating_add);
                    self.slot_counts.push(n);
                }
                if l.expr.eval(&self.slot_counts) {
                    self.lsig_done[id as usize] = true;
                    self.reported.push(id);
                    out.push(Detection {
                        name: l.name.clone(),
                        source: l.source,
                        offset: None,
                    });
                    if !all {
                        break;
                    }
                }
            }
        }
        // Reset per-buffer state.
        for pid in self.live_memos.drain(..) {
            if let Some(m) = self.memos.get_mut(pid as usize) {
                self.work += m.steps();
                self.incomplete |= m.exhausted();
                m.clear();
            }
        }
        for pid in self.counted.drain(..) {
            self.pcount[pid as usize] = 0;
            self.plast[pid as usize] = usize::MAX;
        }
        for id in self.touched.drain(..) {
            self.lsig_touched[id as usize] = false;
        }
    }
}

/// `n` copies of `v`, written now. A table that is filled by reading a slot and then writing
/// it would otherwise be mapped first from the kernel's zero page, and fault a second time (with
/// a TLB flush on every core) when written: about twice the cost of a load's largest tables.
pub(crate) fn written<T: Copy>(n: usize, v: T) -> Vec<T> {
    let mut out = Vec::with_capacity(n);
    // Opaque to the optimiser, so that the fill is not folded into a zeroed allocation.
    out.resize(n, std::hint::black_box(v));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(dbs: &[(&str, &str)]) -> Engine {
        let mut b = EngineBuilder::new(LoadOptions::default());
        for (n, t) in dbs {
            b.add_database(n, t.as_bytes()).unwrap();
        }
        b.build()
    }

    fn names(e: &Engine, data: &[u8]) -> Vec<String> {
        let mut s = e.scanner();
        let mut v: Vec<String> = s
            .scan(data, &FileMeta::default(), true)
            .into_iter()
            .map(|d| d.name)
            .collect();
        v.sort();
        v
    }

    #[test]
    fn hash_body_logical() {
        let eicar = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
        let e = engine(&[
            ("a.hdb", "44d88612fea8a8f36de82e1278abb02f:68:Eicar.MD5\n"),
            (
                "a.ndb",
                "Body.Hello:0:*:68656c6c6f*776f726c64\nBody.Off:0:0:58354f21\n",
            ),
            (
                "a.ldb",
                "Lsig.Two;Target:0;0>1;414243\nLsig.Zero;Target:0;0=0;7a7a7a7a\n",
            ),
        ]);
        assert_eq!(names(&e, eicar), ["Body.Off", "Eicar.MD5", "Lsig.Zero"]);
        assert_eq!(
            names(&e, b"hello big world ABC ABC"),
            ["Body.Hello", "Lsig.Two", "Lsig.Zero"]
        );
        assert_eq!(names(&e, b"ABC zzzz"), Vec::<String>::new());
    }

    #[test]
    fn allow_and_ignore() {
        let eicar = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
        let e = engine(&[
            ("a.hdb", "44d88612fea8a8f36de82e1278abb02f:68:Eicar.MD5\n"),
            ("a.ndb", "Body.Off:0:0:58354f21\n"),
            ("a.ign2", "Body.Off\n"),
        ]);
        assert_eq!(names(&e, eicar), ["Eicar.MD5"]);
        let e = engine(&[
            ("a.hdb", "44d88612fea8a8f36de82e1278abb02f:68:Eicar.MD5\n"),
            ("a.fp", "44d88612fea8a8f36de82e1278abb02f:68:Allowed\n"),
        ]);
        assert!(names(&e, eicar).is_empty());
    }

    /// Databases larger than one unit of parallel work load as if parsed line by line:
    /// every signature of every run of lines is found under its own name and database, the
    /// `.ign2` list applies to all of them, and an error names its line in the whole file.
    #[test]
    fn parallel_loading_matches_sequential() {
        use md5::Digest as _;
        let n = 3 * PARSE_CHUNK / 40;
        let files: Vec<Vec<u8>> = (0..n)
            .map(|i| format!("file number {i}").into_bytes())
            .collect();
        let mut hdb = String::from("# many hashes\n");
        let mut hsb = String::new();
        for (i, f) in files.iter().enumerate() {
            let md5 = hex(&md5::Md5::digest(f));
            let sha = hex(&sha2::Sha256::digest(f));
            hdb.push_str(&format!("{md5}:{}:Md5.{i}\n", f.len()));
            hsb.push_str(&format!("{sha}:*:Sha.{i}:73\r\n"));
        }
        assert!(hdb.len() > 2 * PARSE_CHUNK && hsb.len() > 2 * PARSE_CHUNK);
        let ndb: String = (0..2000)
            .map(|i| {
                format!(
                    "Body.{i}:0:*:{}\n",
                    hex(format!("needle-{i:05}").as_bytes())
                )
            })
            .collect();
        assert!(ndb.len() > 2 * run_len(DbKind::Body));
        let dbs = vec![
            ("a.hdb".to_string(), hdb.clone().into_bytes()),
            ("b.hsb".to_string(), hsb.into_bytes()),
            ("c.ndb".to_string(), ndb.into_bytes()),
            ("d.ign2".to_string(), b"Md5.7\nSha.7\n".to_vec()),
        ];
        let mut b = EngineBuilder::new(LoadOptions::default());
        b.add_databases(&dbs).unwrap();
        let e = b.build();
        check_big_engine(&e, &files, n);
        // Read from readers, in runs of lines cut wherever the reads end: the same engine.
        for step in [usize::MAX, 777, 7] {
            let mut readers: Vec<(String, Trickle)> = dbs
                .iter()
                .map(|(n, b)| (n.clone(), Trickle(b, step)))
                .collect();
            let mut b = EngineBuilder::new(LoadOptions::default());
            b.add_database_readers(
                readers
                    .iter_mut()
                    .map(|(n, r)| (n.clone(), r as &mut dyn Read))
                    .collect(),
            )
            .unwrap();
            check_big_engine(&b.build(), &files, n);
        }

        // A bad line deep in the file: its number counts from the start of the file.
        let mut bad = hdb;
        bad.push_str("nothex:1:Bad\n");
        let line = bad.lines().count();
        let is_line = |err: &LoadError| matches!(err, LoadError::Line { database, line: l, .. } if database == "bad.hdb" && *l == line);
        let mut b = EngineBuilder::new(LoadOptions::default());
        let err = b
            .add_databases(&[("bad.hdb".to_string(), bad.clone().into_bytes())])
            .unwrap_err();
        assert!(is_line(&err), "{err}");
        let mut b = EngineBuilder::new(LoadOptions::default());
        let err = b
            .add_database_reader("bad.hdb", &mut Trickle(bad.as_bytes(), 1000))
            .unwrap_err();
        assert!(is_line(&err), "{err}");
        // Lenient loading skips and counts it.
        let mut b = EngineBuilder::new(LoadOptions {
            lenient: true,
            ..Default::default()
        });
        b.add_databases(&[("bad.hdb".to_string(), bad.into_bytes())])
            .unwrap();
        let e = b.build();
        assert_eq!(e.report().hash, n);
        assert_eq!(e.report().skipped.malformed, 1);
    }

    /// An empty database still counts as a database, and a last line without its newline
    /// is read like any other.
    #[test]
    fn empty_files_and_unterminated_lines() {
        let dbs = vec![
            ("e.hdb".to_string(), Vec::new()),
            ("a.ndb".to_string(), b"Body.Hello:0:*:68656c6c6f".to_vec()),
        ];
        let mut b = EngineBuilder::new(LoadOptions::default());
        b.add_databases(&dbs).unwrap();
        let e = b.build();
        assert_eq!(e.source_name(0), "e.hdb");
        let found = e.scanner().scan(b"say hello", &FileMeta::default(), true);
        assert_eq!(found[0].name, "Body.Hello");
        assert_eq!(e.source_name(found[0].source), "a.ndb");
    }

    /// A reader handing out at most `.1` bytes per read.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.1).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn check_big_engine(e: &Engine, files: &[Vec<u8>], n: usize) {
        assert_eq!(e.report().hash, 2 * n - 2);
        assert_eq!(e.report().body, 2000);
        assert_eq!(e.report().ignored, 2);
        let mut s = e.scanner();
        for i in [0, 1, n / 2, n - 1] {
            let mut found: Vec<(String, String)> = s
                .scan(&files[i], &FileMeta::default(), true)
                .into_iter()
                .map(|d| (d.name, e.source_name(d.source).to_string()))
                .collect();
            found.sort();
            assert_eq!(
                found,
                [
                    (format!("Md5.{i}"), "a.hdb".to_string()),
                    (format!("Sha.{i}"), "b.hsb".to_string())
                ]
            );
        }
        assert!(s.scan(&files[7], &FileMeta::default(), true).is_empty());
        let found = s.scan(b"xx needle-01999 yy", &FileMeta::default(), true);
        assert_eq!(found[0].name, "Body.1999");
        assert_eq!(e.source_name(found[0].source), "c.ndb");
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn modifiers() {
        let e = engine(&[(
            "m.ldb",
            "Nocase;Target:0;0;68656c6c6f::i\nWide;Target:0;0;68656c6c6f::w\nFull;Target:0;0;68656c6c6f::f\n",
        )]);
        // A prefix that makes the buffer binary, so no normalised-text pass runs.
        let bin = |s: &[u8]| [&b"\0\0\0\x01"[..], s].concat();
        assert_eq!(names(&e, &bin(b" HeLLo")), ["Nocase"]);
        assert_eq!(names(&e, &bin(b" hello")), ["Full", "Nocase"]);
        assert_eq!(names(&e, &bin(b"h\0e\0l\0l\0o\0")), ["Wide"]);
        assert_eq!(names(&e, &bin(b"xhellox")), ["Nocase"]);
        // Text is also matched in normalised form (lower case, single spaces).
        assert_eq!(names(&e, b"Say HELLO"), ["Full", "Nocase"]);
    }

    #[test]
    fn target_seven_only_in_text() {
        let e = engine(&[("t.ndb", "Text.Only:7:*:68656c6c6f20776f726c64\n")]);
        assert_eq!(names(&e, b"HELLO\t\tWORLD"), ["Text.Only"]);
        assert!(names(&e, b"\0\0\0\x01hello world").is_empty());
    }

    #[test]
    fn yara_rules_and_errors() {
        let mut b = EngineBuilder::new(LoadOptions::default());
        b.add_database(
            "r.yar",
            br#"
rule good { strings: $a = "needle" condition: $a }
rule bad { condition: nosuchthing }
private rule helper { strings: $b = "hay" condition: $b }
rule uses_helper { condition: helper and filename == "x.txt" }
"#,
        )
        .unwrap();
        let e = b.build();
        assert_eq!(e.report().yara_errors.len(), 1);
        assert_eq!(e.report().yara_errors[0].1.rule.as_deref(), Some("bad"));
        assert_eq!(e.report().yara_rules, 2);
        let mut s = e.scanner();
        let meta = FileMeta {
            filename: "x.txt",
            ..FileMeta::default()
        };
        let mut got: Vec<String> = s
            .scan(b"needle in a haystack", &meta, true)
            .into_iter()
            .map(|d| d.name)
            .collect();
        got.sort();
        assert_eq!(got, ["YARA.good", "YARA.uses_helper"]);
    }

    /// Includes resolve among the YARA databases of the same load, in any order, and never
    /// reach the host: a host path is refused with an error naming the file and line.
    #[test]
    fn yara_includes_stay_inside_the_load() {
        let mut b = EngineBuilder::new(LoadOptions::default());
        b.add_database(
            "main.yar",
            b"include \"rules/common.yar\"\nrule uses { condition: common }\n",
        )
        .unwrap();
        b.add_database(
            "common.yar",
            b"rule common { strings: $a = \"shared\" condition: $a }\n",
        )
        .unwrap();
        let e = b.build();
        assert!(
            e.report().yara_errors.is_empty(),
            "{:?}",
            e.report().yara_errors
        );
        let mut s = e.scanner();
        let found = s.scan(b"a shared string", &FileMeta::default(), true);
        assert!(found.iter().any(|d| d.name == "YARA.uses"), "{found:?}");

        for host in ["/etc/hostname", "/dev/zero", "../../../../etc/passwd"] {
            let mut b = EngineBuilder::new(LoadOptions::default());
            let text = format!("rule a {{ condition: true }}\ninclude \"{host}\"\n");
            b.add_database("evil.yar", text.as_bytes()).unwrap();
            let e = b.build();
            let errs = &e.report().yara_errors;
            assert_eq!(errs.len(), 1, "{host}: {errs:?}");
            assert_eq!(errs[0].0, "evil.yar");
            assert!(errs[0].1.message.contains("line 2"), "{:?}", errs[0].1);
            assert!(
                errs[0]
                    .1
                    .message
                    .contains("not a YARA database of this load"),
                "{:?}",
                errs[0].1
            );
        }

        let mut b = EngineBuilder::new(LoadOptions::default());
        b.add_database("a.yar", b"include \"b.yar\"\n").unwrap();
        b.add_database("b.yar", b"include \"a.yar\"\n").unwrap();
        let e = b.build();
        assert!(
            e.report()
                .yara_errors
                .iter()
                .all(|(_, r)| r.message.contains("includes")),
            "{:?}",
            e.report().yara_errors
        );
        assert_eq!(e.report().yara_errors.len(), 2);
    }
}
