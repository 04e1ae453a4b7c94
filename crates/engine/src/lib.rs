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
mod build;
mod bytecmp;
mod containers;
mod exe;
pub mod filetype;

/// The executable layout (entry point, sections) that `EP`, `Sx`, `SEx` and `SL` offsets of
/// `data` count from, as ClamAV computes it; None when `data` is not typed as an executable
/// or its headers can't be read (then no relative offset matches in it).
pub fn executable_layout(data: &[u8]) -> Option<detente_sigs::ExeLayout> {
    let t = filetype::file_type(data);
    exe::layout(t, data)
}
mod hashes;
mod index;
mod load;
mod pcre;
mod pe;
mod scanner;
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

pub use build::Engine;

/// Whether `data` starts with a PE header the engine can lay out (ClamAV's `cli_peheader`
/// check, used to tell an embedded executable from stray `MZ` bytes).
pub fn is_valid_pe(data: &[u8]) -> bool {
    exe::layout(filetype::FileType::Pe, data).is_some()
}
pub use hashes::Digests;
pub use load::EngineBuilder;
pub use scanner::{Scanner, YARA_SOURCE};
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
    /// Logical signatures dropped because PCRE2 refuses one of their regular expressions
    /// (ClamAV refuses the whole engine then): `name: reason`.
    pub pcre_invalid: Vec<String>,
}

impl LoadReport {
    /// Signatures that can report a detection.
    pub fn signatures(&self) -> usize {
        self.hash + self.body + self.logical + self.yara_rules
    }
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
    /// ClamAV's type names of the layers this buffer was extracted from, the outermost
    /// first (empty for a file scanned as itself), for `Container` and `Intermediates`.
    pub ancestors: &'a [&'a str],
    /// Scan as this type without typing the data: one raw pass with the type's target (and
    /// target 0), as ClamAV scans a document it wrote itself (normalised HTML); no text
    /// normalisation, no executable layout, no YARA.
    pub typed: Option<filetype::FileType>,
    /// The layer also goes to the HTML normaliser, so, as in ClamAV, its text is not
    /// normalised for target 7.
    pub html_normalized: bool,
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
    use crate::load::{run_len, PARSE_CHUNK};

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
