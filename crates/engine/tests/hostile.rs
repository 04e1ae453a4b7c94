//! Hostile signature/data pairs: the matcher's work must grow linearly with the data, and its
//! verdict must be clamscan's (or yara's, for YARA rules).
//!
//! Each case is a directory under `tests/hostile/`: a database (`db.ndb`, `db.ldb` or
//! `db.yar`) and a `case` file with `unit:` (text repeated to fill the data), optional `tail:`
//! (text appended), and `expect:` (`clean`, or the signature name reported). Work is measured
//! with [`Scanner::work`], a count of matcher steps, never with a clock.

use std::path::{Path, PathBuf};
use std::process::Command;

use detente_engine::{EngineBuilder, FileMeta, LoadOptions};

struct Case {
    name: String,
    db: PathBuf,
    unit: Vec<u8>,
    tail: Vec<u8>,
    expect: Option<String>,
}

fn cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&root).expect("tests/hostile") {
        let dir = entry.expect("entry").path();
        let text = std::fs::read_to_string(dir.join("case")).expect("case file");
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
        };
        let db = ["db.ndb", "db.ldb", "db.yar"]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.exists())
            .expect("a database");
        out.push(Case {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            db,
            unit: field("unit:").expect("unit").into_bytes(),
            tail: field("tail:").unwrap_or_default().into_bytes(),
            expect: field("expect:").filter(|e| e != "clean"),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(out.len() >= 10, "hostile cases missing");
    out
}

fn data(c: &Case, len: usize) -> Vec<u8> {
    let mut d: Vec<u8> = c.unit.iter().copied().cycle().take(len).collect();
    d.extend_from_slice(&c.tail);
    d
}

/// (names found, matcher work, incomplete).
fn scan(c: &Case, data: &[u8]) -> (Vec<String>, u64, bool) {
    let mut b = EngineBuilder::new(LoadOptions::default());
    let name = c.db.file_name().unwrap().to_string_lossy().into_owned();
    b.add_database(&name, &std::fs::read(&c.db).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", c.name));
    let e = b.build();
    let mut s = e.scanner();
    let found = s.scan(data, &FileMeta::default(), true);
    let mut names: Vec<String> = found.into_iter().map(|d| d.name).collect();
    names.sort();
    (names, s.work(), s.incomplete())
}

/// What the peer reports for `data`: clamscan for ClamAV databases, yara for rules.
fn peer(c: &Case, data: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("data");
    std::fs::write(&f, data).unwrap();
    let yara = c.db.extension().is_some_and(|e| e == "yar");
    let out = if yara {
        Command::new("yara").arg(&c.db).arg(&f).output()
    } else {
        Command::new("clamscan")
            .args(["--no-summary", "-d"])
            .arg(&c.db)
            .arg(&f)
            .output()
    }
    .expect("the peer (clamscan / yara) must be installed: scripts/test installs it");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if yara {
        assert!(out.status.success(), "yara failed: {out:?}");
        text.split_whitespace().next().map(|r| format!("YARA.{r}"))
    } else {
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "clamscan failed on {}: {out:?}",
            c.name
        );
        text.lines().find_map(|l| {
            l.strip_suffix(" FOUND")
                .and_then(|l| l.rsplit(": ").next())
                .map(|n| n.trim_end_matches(".UNOFFICIAL").to_string())
        })
    }
}

#[test]
fn hostile_cases_cost_linear_work_and_agree_with_the_peer() {
    const SMALL: usize = 64 << 10;
    for c in cases() {
        let t = std::time::Instant::now();
        let small = data(&c, SMALL);
        let (found, w1, inc1) = scan(&c, &small);
        let (found4, w4, inc4) = scan(&c, &data(&c, 4 * SMALL));
        let (found16, w16, inc16) = scan(&c, &data(&c, 16 * SMALL));
        assert!(
            !inc1 && !inc4 && !inc16,
            "{}: the step budget ran out",
            c.name
        );
        let want: Vec<String> = c.expect.iter().cloned().collect();
        assert_eq!(found, want, "{}", c.name);
        assert_eq!(found4, want, "{}", c.name);
        assert_eq!(found16, want, "{}", c.name);
        // Linear: four and sixteen times the data cost at most about four and sixteen times
        // the work (plus a constant for the signature set).
        let slack = 4096;
        assert!(
            w4 <= 4 * w1 + w1 / 4 + slack && w16 <= 4 * w4 + w4 / 4 + slack,
            "{}: work {w1} -> {w4} -> {w16} is not linear",
            c.name
        );
        assert_eq!(peer(&c, &small), c.expect, "{}: the peer disagrees", c.name);
        eprintln!("{}: work {w1} {w4} {w16} in {:?}", c.name, t.elapsed());
    }
}

/// A PCRE subsignature built to backtrack exponentially: PCRE2 stops it at ClamAV's match
/// limit, nothing is reported, and the scan says its verdict is not complete.
#[test]
fn catastrophic_pcre_is_bounded_and_not_called_clean() {
    let mut b = EngineBuilder::new(LoadOptions::default());
    b.add_database(
        "evil.ldb",
        b"Evil.Pcre;Engine:81-255,Target:0;0&1;41414141;0/(a+)+$/\n",
    )
    .unwrap();
    let e = b.build();
    let mut s = e.scanner();
    let mut data = b"\0AAAA".to_vec();
    data.extend(std::iter::repeat_n(b'a', 4096));
    data.push(b'!');
    let found = s.scan(&data, &Default::default(), true);
    assert!(found.is_empty());
    assert!(
        s.incomplete(),
        "a search stopped at its limit is no verdict"
    );
    // The same signature on a buffer where it does match.
    let mut ok = b"\0AAAA".to_vec();
    ok.extend(std::iter::repeat_n(b'a', 10));
    let found = s.scan(&ok, &Default::default(), true);
    assert_eq!(found.len(), 1);
    assert!(!s.incomplete());
}
