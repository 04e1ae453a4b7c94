//! Loading signature databases: `-d` paths, the installed database, or the embedded default.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use detente_engine::{Engine, EngineBuilder, LoadOptions};
use detente_sigs::DbKind;

/// The embedded default database: the EICAR test file and a few test signatures of each kind,
/// so a fresh installation can prove it works.
const EMBEDDED: &[(&str, &str)] = &[
    (
        "embedded/detente.hdb",
        include_str!("../defaults/detente.hdb"),
    ),
    (
        "embedded/detente.hsb",
        include_str!("../defaults/detente.hsb"),
    ),
    (
        "embedded/detente.ndb",
        include_str!("../defaults/detente.ndb"),
    ),
    (
        "embedded/detente.ldb",
        include_str!("../defaults/detente.ldb"),
    ),
    (
        "embedded/detente.yar",
        include_str!("../defaults/detente.yar"),
    ),
];

/// ClamAV database kinds the engine does not read (phishing, icons, file-type magic,
/// container metadata, configuration, bytecode ...).
const CLAMAV_OTHER_KINDS: &[&str] = &[
    "cdb", "cat", "cbc", "cfg", "crb", "ftm", "gdb", "hwp", "idb", "imp", "pdb", "pwdb", "sign",
    "wdb",
];

/// Where an installed database is looked for when no `-d` is given.
pub fn installed_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DETENTE_DATABASE") {
        return Some(PathBuf::from(d));
    }
    let d = PathBuf::from("/var/lib/detente/db");
    let has_db = std::fs::read_dir(&d)
        .ok()?
        .flatten()
        .any(|e| DbKind::from_file_name(&e.file_name().to_string_lossy()).is_some());
    has_db.then_some(d)
}

/// Database selection flags shared by subcommands.
#[derive(Args, Debug, Clone, Default)]
pub struct DbArgs {
    /// Load signatures from FILE or every database file in DIR (repeatable). Replaces the
    /// installed and embedded databases.
    #[arg(short = 'd', long = "database", value_name = "FILE|DIR")]
    pub database: Vec<PathBuf>,
    /// Skip malformed signature lines (counting them) instead of failing.
    #[arg(long)]
    pub lenient: bool,
    /// Also load potentially-unwanted-application databases (.hdu, .hsu, .ndu, .ldu).
    #[arg(long = "detect-pua")]
    pub pua: bool,
    /// Load .cvd/.cld containers without a valid signature (your own sigtool builds); their
    /// MD5, member sizes and hashes are still checked. Tampered Talos files stay refused.
    #[arg(long = "allow-unsigned")]
    pub allow_unsigned: bool,
    /// Also trust the certificates (*.crt, *.pem) in DIR for detached .sign signatures, beside
    /// the built-in Cisco root.
    #[arg(long = "cvdcertsdir", value_name = "DIR")]
    pub cvdcertsdir: Option<PathBuf>,
}

/// Whether to read `path` as a database: Some(true) to read it, Some(false) to list it as
/// a kind not loaded, None to pass over it.
fn wanted(path: &Path, from_dir: bool) -> Result<Option<bool>> {
    let fname = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    if DbKind::from_file_name(&fname).is_some() {
        return Ok(Some(true));
    }
    if from_dir {
        // Other ClamAV database kinds are reported as not loaded; unrelated files
        // (freshclam state, READMEs) are passed over.
        let ext = fname.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        return Ok(ext
            .is_some_and(|e| CLAMAV_OTHER_KINDS.contains(&e.as_str()))
            .then_some(false));
    }
    bail!(
        "{}: not a known database format (expected .hdb .hsb .ndb .ldb .fp .sfp .ign2 .cvd .cld .yar ...)",
        path.display()
    );
}

/// Loads the databases the flags select and builds the engine.
pub fn load(args: &DbArgs) -> Result<Engine> {
    let mut b = EngineBuilder::new(LoadOptions {
        lenient: args.lenient,
        pua: args.pua,
        allow_unsigned: args.allow_unsigned,
    });
    let dirs: Vec<PathBuf> = if !args.database.is_empty() {
        args.database.clone()
    } else if let Some(d) = installed_dir() {
        vec![d]
    } else {
        for (name, text) in EMBEDDED {
            b.add_database(name, text.as_bytes())
                .with_context(|| format!("{name}: embedded database"))?;
        }
        Vec::new()
    };
    let mut paths = Vec::new();
    for p in dirs {
        let md = std::fs::metadata(&p)
            .with_context(|| format!("{}: can't open database", p.display()))?;
        if md.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&p)
                .with_context(|| format!("{}: can't list database directory", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            entries.sort();
            for e in entries {
                if let Some(read) = wanted(&e, true)? {
                    paths.push((e, read));
                }
            }
        } else if let Some(read) = wanted(&p, false)? {
            paths.push((p, read));
        }
    }
    // Files are read as they are parsed, in runs of lines, rather than held whole.
    let mut readers: Vec<(String, Box<dyn std::io::Read>)> = Vec::new();
    for (path, read) in paths {
        let name = path.display().to_string();
        let container = matches!(DbKind::from_file_name(&name), Some(DbKind::Container));
        let reader: Box<dyn std::io::Read> = if read && container {
            // Containers are verified whole: the detached .sign beside one (if any) first.
            let bytes =
                std::fs::read(&path).with_context(|| format!("{name}: can't read database"))?;
            crate::containers::check_sign(&path, &bytes, args.cvdcertsdir.as_deref())?;
            Box::new(std::io::Cursor::new(bytes))
        } else if read {
            Box::new(
                std::fs::File::open(&path)
                    .with_context(|| format!("{name}: can't read database"))?,
            )
        } else {
            // A ClamAV database kind the engine does not read: listed as not loaded.
            Box::new(std::io::empty())
        };
        readers.push((name, reader));
    }
    b.add_database_readers(
        readers
            .iter_mut()
            .map(|(n, r)| (n.clone(), r.as_mut() as &mut dyn std::io::Read))
            .collect(),
    )?;
    let engine = b.build();
    let r = engine.report();
    for (file, e) in &r.yara_errors {
        match &e.rule {
            Some(rule) => eprintln!(
                "detente: {file}: YARA rule {rule} not loaded: {}",
                e.message
            ),
            None => eprintln!("detente: {file}: YARA rules not loaded: {}", e.message),
        }
    }
    if r.skipped.total() > 0 {
        eprintln!(
            "detente: skipped {} unsupported signature(s): {}",
            r.skipped.total(),
            r.skipped
        );
    }
    if r.no_atom > 0 {
        eprintln!(
            "detente: skipped {} body/logical signature(s) without two consecutive fixed bytes",
            r.no_atom
        );
    }
    for p in &r.pcre_invalid {
        eprintln!("detente: logical signature not loaded: its PCRE subsignature is refused: {p}");
    }
    if !r.unsupported_files.is_empty() {
        eprintln!(
            "detente: database files of unsupported kinds not loaded: {}",
            r.unsupported_files.join(", ")
        );
    }
    Ok(engine)
}

/// `detente db` subcommands.
#[derive(Subcommand, Debug)]
pub enum DbCommand {
    /// Load databases and print what they hold: signature counts by kind, skipped lines by reason.
    Info(DbArgs),
    /// Move a ClamAV database forward through .cdiff patches, as freshclam does: BASE (.cvd or
    /// .cld) and every patch are verified (with any .sign beside them), the patches applied in
    /// order, and the result, written as a .cld, must verify before it replaces OUT.
    Patch {
        /// The database to start from (e.g. daily.cvd).
        base: PathBuf,
        /// The patches, in order (e.g. daily-27001.cdiff daily-27002.cdiff).
        #[arg(required = true)]
        cdiffs: Vec<PathBuf>,
        /// Where to write the patched database (a .cld).
        #[arg(short = 'o', long = "output")]
        out: PathBuf,
        /// Accept an unsigned BASE (your own sigtool build); patches must still verify.
        #[arg(long = "allow-unsigned")]
        allow_unsigned: bool,
        /// Also trust the certificates in DIR for .sign files.
        #[arg(long = "cvdcertsdir", value_name = "DIR")]
        cvdcertsdir: Option<PathBuf>,
    },
}

pub fn run(cmd: DbCommand) -> Result<u8> {
    match cmd {
        DbCommand::Info(args) => {
            let engine = load(&args)?;
            let r = engine.report();
            println!("Hash signatures:     {}", r.hash);
            println!("Body signatures:     {}", r.body);
            println!("Logical signatures:  {}", r.logical);
            println!("YARA rules:          {}", r.yara_rules);
            println!("YARA rules rejected: {}", r.yara_errors.len());
            println!("Allow-list entries:  {}", r.allow);
            println!("Ignored by .ign2:    {}", r.ignored);
            println!("Skipped lines:       {} ({})", r.skipped.total(), r.skipped);
            println!("Total signatures:    {}", r.signatures());
            Ok(0)
        }
        DbCommand::Patch {
            base,
            cdiffs,
            out,
            allow_unsigned,
            cvdcertsdir,
        } => crate::containers::patch(&base, &cdiffs, &out, allow_unsigned, cvdcertsdir.as_deref()),
    }
}
