//! Loading databases: line formats parsed in runs of lines on every core, merged in file
//! order (see [`EngineBuilder::add_database_readers`]).

use super::*;

/// A compiled pattern and its atom variants (None: no usable atom).
pub(crate) type CompiledBody = Option<(body::Compiled, body::Atom)>;

/// A body signature as loaded: name, target 7, compiled pattern and atom variants.
pub(crate) type PreBody = (String, u8, CompiledBody);

/// Signatures parsed from one database file (or a run of its lines), ready to merge: hash
/// signatures stored flat, body signatures already compiled.
#[derive(Default)]
pub(crate) struct Part {
    pub(crate) hashes: HashStore,
    pub(crate) sections: HashStore,
    pub(crate) allow: HashStore,
    pub(crate) bodies: Vec<PreBody>,
    pub(crate) logicals: Vec<LogicalSig>,
    pub(crate) ignored: Vec<String>,
    pub(crate) skipped: Skipped,
    /// Scratch space for compiling patterns.
    pub(crate) scratch: Vec<body::ClassInfo>,
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
        self.bodies.push((b.name.to_string(), b.target as u8, c));
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
pub(crate) const PARSE_CHUNK: usize = 128 * 1024;

/// Bytes per run of lines of a database of `kind`: a quarter of [`PARSE_CHUNK`] for body
/// and logical signatures, which cost several times more per byte to compile than hash
/// lines to parse, so that the last runs of a load end at about the same time on every worker.
pub(crate) fn run_len(kind: DbKind) -> usize {
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

/// Collects databases, then builds an [`Engine`].
pub struct EngineBuilder {
    pub(crate) opts: LoadOptions,
    pub(crate) sources: Vec<String>,
    /// Hash signatures, as parsed runs of lines: joined once, at build time.
    pub(crate) hashes: Vec<HashStore>,
    pub(crate) sections: Vec<HashStore>,
    pub(crate) allow: Vec<HashStore>,
    /// Body signatures, compiled as they are loaded (parsed patterns are large; compiled ones
    /// are compact), as loaded per run of lines with their database: gathered once, at build.
    pub(crate) bodies: Vec<(u32, Vec<PreBody>)>,
    pub(crate) logicals: Vec<LogicalSig>,
    pub(crate) lsig_src: Vec<u32>,
    pub(crate) ignored: Vec<String>,
    pub(crate) yara: Option<yara::YaraBuilder>,
    pub(crate) report: LoadReport,
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
    /// line-based formats are read in runs of whole lines of up to 128 KiB,
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
}
