//! The budget of one top-level file holds across every nesting level: bombs, nested or flat,
//! cost at most `--max-scansize` of decompression (asserted with the scan crate's own
//! counters, not with wall time), `--max-files` and `--max-recursion` count as clamscan counts
//! them, and every file and member ends with an outcome that says what was checked. The
//! comparisons with clamscan itself are in `crates/detente/tests/limits.rs`.

use std::io::{Cursor, Write};

use detente_engine::{Engine, EngineBuilder, LoadOptions};
use detente_scan::{
    scan_data, scan_paths, Event, FileReport, Limit, Limits, Outcome, ScanOptions, Why,
};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

const MIB: u64 = 1 << 20;

/// `DETENTEMEMBER00_XYZ` .. `DETENTEMEMBER19_XYZ`, each at offset 100 of its member.
fn marker(i: usize) -> Vec<u8> {
    format!("DETENTEMEMBER{i:02}_XYZ").into_bytes()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn engine() -> Engine {
    let mut db = String::new();
    for i in 0..20 {
        db.push_str(&format!("Test.M{i}:0:100:{}\n", hex(&marker(i))));
    }
    let mut b = EngineBuilder::new(LoadOptions::default());
    b.add_database("m.ndb", db.as_bytes()).unwrap();
    b.build()
}

/// `size` zero bytes with member marker `i` at offset 100.
fn member(i: usize, size: usize) -> Vec<u8> {
    let mut b = vec![0u8; size];
    let m = marker(i);
    b[100..100 + m.len()].copy_from_slice(&m);
    b
}

fn deflated() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(CompressionMethod::Deflated)
}

fn zip_of(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in members {
        w.start_file(name, deflated()).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A zip of `copies` members, each `size` zero bytes (compressed once, copied raw).
fn zeros_zip(prefix: &str, copies: usize, size: u64) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file(format!("{prefix}-0.bin"), deflated()).unwrap();
    let block = vec![0u8; MIB as usize];
    let mut left = size;
    while left > 0 {
        let n = left.min(MIB);
        w.write_all(&block[..n as usize]).unwrap();
        left -= n;
    }
    for i in 1..copies {
        w.deep_copy_file(&format!("{prefix}-0.bin"), &format!("{prefix}-{i}.bin"))
            .unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// `levels` levels of zips of `copies` copies each, `leaf` zero bytes at the bottom
/// (`limits_scripts/mkbomb2.py`'s structure).
fn nested_bomb(levels: usize, copies: usize, leaf: u64) -> Vec<u8> {
    let mut d = zeros_zip("1", copies, leaf);
    for lvl in 2..=levels {
        let members: Vec<(String, Vec<u8>)> = (0..copies)
            .map(|i| (format!("{lvl}-{i}.zip"), d.clone()))
            .collect();
        d = zip_of(&members);
    }
    d
}

fn opts(limits: Limits) -> ScanOptions {
    ScanOptions {
        all_match: true,
        limits,
        ..ScanOptions::default()
    }
}

fn alerting(limits: Limits) -> ScanOptions {
    ScanOptions {
        alert_exceeds_max: true,
        ..opts(limits)
    }
}

fn scan(e: &Engine, data: &[u8], name: &str, o: &ScanOptions) -> FileReport {
    let mut s = e.scanner();
    scan_data(e, &mut s, data, name, "", o)
}

fn signatures(r: &FileReport) -> Vec<&str> {
    r.found.iter().map(|f| f.signature.as_str()).collect()
}

fn member_outcome<'a>(r: &'a FileReport, path: &str) -> &'a Outcome {
    &r.members
        .iter()
        .find(|m| m.path == path)
        .unwrap_or_else(|| panic!("no member {path}: {:?}", r.members))
        .outcome
}

fn has_reason(r: &FileReport, why: Why) -> bool {
    r.reasons.iter().any(|n| n.why == why)
}

/// 8 levels of 10 copies, 10^8 leaves of 8 MiB: three leaves fit in a 32 MiB budget, the
/// fourth does not, and nothing else is decompressed.
#[test]
fn nested_bomb_costs_at_most_the_scan_budget() {
    let e = engine();
    let bomb = nested_bomb(8, 10, 8 * MIB);
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    let limits = Limits {
        max_filesize: 8 * MIB,
        max_scansize: 32 * MIB,
        ..Limits::default()
    };
    let r = scan(&e, &bomb, "bomb.zip", &opts(limits));
    assert!(r.bytes_inflated <= 32 * MIB + 1, "{}", r.bytes_inflated);
    assert!(r.bytes_scanned <= 32 * MIB, "{}", r.bytes_scanned);
    assert_eq!(r.first_limit, Some(Limit::MaxScanSize));
    assert!(r.found.is_empty(), "{:?}", r.found);
    assert!(
        matches!(&r.outcome, Outcome::Partial(v) if v[0].why == Why::Limit(Limit::MaxScanSize)),
        "{:?}",
        r.outcome
    );
    let leaves = |kind: &str| {
        r.members
            .iter()
            .filter(|m| m.path.ends_with(".bin") && m.outcome.kind() == kind)
            .count()
    };
    assert_eq!(leaves("clean"), 3, "{:?}", r.members);
    assert_eq!(leaves("skipped"), 1, "{:?}", r.members);
    // clamscan: `bomb.zip: Heuristics.Limits.Exceeded.MaxScanSize FOUND`.
    let r = scan(&e, &bomb, "bomb.zip", &alerting(limits));
    assert_eq!(signatures(&r), ["Heuristics.Limits.Exceeded.MaxScanSize"]);
    assert_eq!(r.found[0].member, None, "reported for the top-level file");
    assert_eq!(r.outcome.kind(), "found");
}

/// One zip of 40 members of 8 MiB (= --max-filesize): three are scanned, the fourth does not
/// fit and the zip's walk stops, as clamscan 1.4.3's does.
#[test]
fn flat_bomb_costs_at_most_the_scan_budget() {
    let e = engine();
    let z = zeros_zip("m", 40, 8 * MIB);
    let limits = Limits {
        max_filesize: 8 * MIB,
        max_scansize: 32 * MIB,
        ..Limits::default()
    };
    let r = scan(&e, &z, "flat.zip", &alerting(limits));
    assert!(r.bytes_inflated <= 32 * MIB + 1, "{}", r.bytes_inflated);
    assert_eq!(signatures(&r), ["Heuristics.Limits.Exceeded.MaxScanSize"]);
    assert_eq!(r.members.len(), 4, "{:?}", r.members);
    assert!(matches!(
        member_outcome(&r, "m-3.bin"),
        Outcome::Skipped(n) if n.why == Why::Limit(Limit::MaxScanSize)
    ));
    assert!(
        r.reasons
            .iter()
            .any(|n| n.detail.starts_with("36 later members not scanned")),
        "{:?}",
        r.reasons
    );
}

/// One zip of 40 members of 64 MiB, over a 4 MiB --max-filesize: each is cut to 4 MiB
/// without an alert (as clamscan cuts zip members), until the scan budget runs out.
#[test]
fn flat_bomb_of_oversized_members() {
    let e = engine();
    let z = zeros_zip("m", 40, 64 * MIB);
    let limits = Limits {
        max_filesize: 4 * MIB,
        max_scansize: 32 * MIB,
        ..Limits::default()
    };
    let r = scan(&e, &z, "flat.zip", &opts(limits));
    assert!(r.bytes_inflated <= 32 * MIB + 1, "{}", r.bytes_inflated);
    assert_eq!(r.first_limit, Some(Limit::MaxScanSize));
    let cut: Vec<_> = r
        .members
        .iter()
        .filter(|m| matches!(&m.outcome, Outcome::Partial(v) if v[0].why == Why::Limit(Limit::MaxFileSize)))
        .collect();
    assert_eq!(cut.len(), 7, "{:?}", r.members);
    assert!(cut.iter().all(|m| m.bytes == 4 * MIB));
    assert!(matches!(
        member_outcome(&r, "m-7.bin"),
        Outcome::Skipped(n) if n.why == Why::Limit(Limit::MaxScanSize)
    ));
}

/// Streams that are refused whole (gzip over --max-filesize) waste what they decompress: that
/// waste is bounded too, by the inflation budget, though the scan budget is hardly touched.
#[test]
fn refused_streams_cost_at_most_the_budget() {
    let e = engine();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let block = vec![0u8; MIB as usize];
    for _ in 0..32 {
        enc.write_all(&block).unwrap();
    }
    let gz = enc.finish().unwrap();
    let members: Vec<(String, Vec<u8>)> =
        (0..20).map(|i| (format!("g{i}.gz"), gz.clone())).collect();
    let z = zip_of(&members);
    let limits = Limits {
        max_filesize: 16 * MIB,
        max_scansize: 40 * MIB,
        ..Limits::default()
    };
    let r = scan(&e, &z, "gz.zip", &alerting(limits));
    assert!(r.bytes_inflated <= 40 * MIB + 1, "{}", r.bytes_inflated);
    assert!(r.bytes_scanned < 2 * MIB, "{}", r.bytes_scanned);
    assert_eq!(signatures(&r), ["Heuristics.Limits.Exceeded.MaxFileSize"]);
    assert!(matches!(
        member_outcome(&r, "g0.gz!g0"),
        Outcome::Skipped(n) if n.why == Why::Limit(Limit::MaxFileSize)
    ));
    assert!(
        has_reason(&r, Why::Limit(Limit::MaxScanSize)),
        "{:?}",
        r.reasons
    );
}

/// `n.zip{A.zip{m0,m1,m2}, B.zip{m3,m4,m5}, m6}`: every layer counts, the file included.
#[test]
fn max_files_counts_every_layer_across_nesting() {
    let e = engine();
    let m = |i| (format!("m{i}.bin"), member(i, 1024));
    let a = zip_of(&[m(0), m(1), m(2)]);
    let b = zip_of(&[m(3), m(4), m(5)]);
    let n = zip_of(&[("A.zip".into(), a), ("B.zip".into(), b), m(6)]);
    // What clamscan 1.4.3 finds (limits.md): 3 → M0; 5 → M0 M1 M2; 9 → all.
    for (max, want) in [
        (3, vec!["Test.M0"]),
        (5, vec!["Test.M0", "Test.M1", "Test.M2"]),
        (
            10,
            vec![
                "Test.M0", "Test.M1", "Test.M2", "Test.M3", "Test.M4", "Test.M5", "Test.M6",
            ],
        ),
    ] {
        let limits = Limits {
            max_files: max,
            ..Limits::default()
        };
        let r = scan(&e, &n, "n.zip", &opts(limits));
        assert_eq!(signatures(&r), want, "--max-files {max}");
        assert!(r.layers <= max, "{max}: {}", r.layers);
        let exceeded = max < 10;
        assert_eq!(r.first_limit.is_some(), exceeded, "{max}: {:?}", r.reasons);
        if exceeded {
            assert_eq!(r.first_limit, Some(Limit::MaxFiles));
            let r = scan(&e, &n, "n.zip", &alerting(limits));
            assert_eq!(
                r.found.last().unwrap().signature,
                "Heuristics.Limits.Exceeded.MaxFiles"
            );
        }
    }
}

/// The file is level 0; with --max-recursion N the deepest member scanned is at level N-1.
#[test]
fn recursion_depth_as_clamscan_counts_it() {
    let e = engine();
    let nest = |k: usize| {
        let mut d = member(0, 1024);
        let mut name = "m0.bin".to_string();
        for i in 0..k {
            d = zip_of(&[(name, d)]);
            name = format!("l{}.zip", k - i);
        }
        d
    };
    for (max, deepest) in [(17u32, 16usize), (3, 2)] {
        let limits = Limits {
            max_recursion: max,
            ..Limits::default()
        };
        for k in [deepest - 1, deepest, deepest + 1, deepest + 2] {
            let r = scan(&e, &nest(k), "z.zip", &opts(limits));
            assert_eq!(!r.found.is_empty(), k <= deepest, "max {max}, level {k}");
            if k > deepest {
                assert_eq!(
                    r.first_limit,
                    Some(Limit::MaxRecursion),
                    "max {max}, level {k}"
                );
                assert!(has_reason(&r, Why::Limit(Limit::MaxRecursion)));
            } else {
                assert!(r.reasons.is_empty(), "{:?}", r.reasons);
            }
        }
    }
}

/// ClamAV's own split-zip test file: a `PK\x07\x08` marker before the first local header,
/// offsets counted from the start of the file. clam.exe inside is found.
#[test]
fn split_zip_is_walked() {
    let split = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/clam.split.oneseg.zip"
    ))
    .unwrap();
    assert!(split.starts_with(b"PK\x07\x08PK\x03\x04"));
    let mut b = EngineBuilder::new(LoadOptions::default());
    // md5:size:name of clam.exe (Debian clamav-testfiles).
    b.add_database(
        "clam.hdb",
        b"aa15bcf478d165efd2065190eb473bcb:544:ClamAV.Test.File\n",
    )
    .unwrap();
    let e = b.build();
    let o = ScanOptions::default();
    let r = scan(&e, &split, "clam.split.oneseg.zip", &o);
    assert_eq!(signatures(&r), ["ClamAV.Test.File"], "{r:?}");
    assert_eq!(
        r.found[0].member.as_deref(),
        Some("unit_tests/input/clamav_hdb_scanfiles/clam.exe")
    );
    // The PK00 marker too.
    let mut pk00 = split.clone();
    pk00[..4].copy_from_slice(b"PK00");
    assert_eq!(
        signatures(&scan(&e, &pk00, "pk00.zip", &o)),
        ["ClamAV.Test.File"]
    );
    // Without a usable central directory, the local headers after the marker are walked.
    let eocd = split.len() - 22;
    let mut broken = split.clone();
    broken[eocd + 16..eocd + 20].copy_from_slice(&[0xff; 4]);
    let r = scan(&e, &broken, "broken.zip", &o);
    assert_eq!(signatures(&r), ["ClamAV.Test.File"], "{r:?}");
    // Cut right after the markers: a damaged zip, said so.
    let r = scan(&e, &split[..8], "cut.zip", &o);
    assert!(
        matches!(&r.outcome, Outcome::Partial(v) if v[0].why == Why::Corrupt),
        "{r:?}"
    );
}

fn tar_of(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

/// Members [900K, 900K, 900K, 900K, 1K, 900K, 1K] (limits.md, "When the scan budget runs out
/// mid-archive"): a tar's member over the budget is scanned in the 512-byte blocks left; a zip
/// stops at the member that does not fit.
#[test]
fn budget_running_out_mid_archive() {
    let e = engine();
    let sizes = [900, 900, 900, 900, 1, 900, 1];
    let members: Vec<(String, Vec<u8>)> = sizes
        .iter()
        .enumerate()
        .map(|(i, k)| (format!("m{i}.bin"), member(i, k * 1024)))
        .collect();
    let mut t = tar_of(&members);
    // Padded to whole 10 KiB records, as Python's tarfile (and GNU tar) write it.
    t.resize(4_618_240, 0);
    let limits = Limits {
        max_filesize: 5 * MIB,
        max_scansize: 7_864_320,
        ..Limits::default()
    };
    let r = scan(&e, &t, "b.tar", &alerting(limits));
    assert_eq!(
        signatures(&r),
        [
            "Test.M0",
            "Test.M1",
            "Test.M2",
            "Test.M3",
            "Heuristics.Limits.Exceeded.MaxScanSize"
        ]
    );
    let m3 = r.members.iter().find(|m| m.path == "m3.bin").unwrap();
    assert_eq!(m3.bytes, 481_280);
    assert_eq!(r.bytes_scanned, 7_864_320);
    for i in [4, 5, 6] {
        assert_eq!(
            member_outcome(&r, &format!("m{i}.bin")).kind(),
            "skipped",
            "{i}"
        );
    }

    let z = zip_of(&members);
    let limits = Limits {
        max_filesize: MIB,
        max_scansize: 3 * MIB,
        ..Limits::default()
    };
    let r = scan(&e, &z, "b.zip", &alerting(limits));
    assert_eq!(
        signatures(&r),
        [
            "Test.M0",
            "Test.M1",
            "Test.M2",
            "Heuristics.Limits.Exceeded.MaxScanSize"
        ]
    );
    assert!(matches!(
        member_outcome(&r, "m3.bin"),
        Outcome::Skipped(n) if n.why == Why::Limit(Limit::MaxScanSize)
    ));
    assert_eq!(
        r.members.len(),
        4,
        "m4..m6 are not visited: {:?}",
        r.members
    );
}

/// A limit alert is dropped when a signature matches, unless --allmatch (then it comes last).
#[test]
fn limit_alert_gives_way_to_a_real_detection() {
    let e = engine();
    let z = zip_of(&[
        ("a_big.gz".into(), {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&vec![0u8; 2 * MIB as usize]).unwrap();
            enc.finish().unwrap()
        }),
        ("b_small.bin".into(), member(5, 1024)),
    ]);
    let limits = Limits {
        max_filesize: MIB,
        ..Limits::default()
    };
    let first = ScanOptions {
        all_match: false,
        ..alerting(limits)
    };
    let r = scan(&e, &z, "p.zip", &first);
    assert_eq!(signatures(&r), ["Test.M5"]);
    assert_eq!(r.first_limit, Some(Limit::MaxFileSize));
    assert!(has_reason(&r, Why::Limit(Limit::MaxFileSize)));
    let r = scan(&e, &z, "p.zip", &alerting(limits));
    assert_eq!(
        signatures(&r),
        ["Test.M5", "Heuristics.Limits.Exceeded.MaxFileSize"]
    );
    // Without the option, the limit is silent but the outcome says it.
    let r = scan(&e, &b"x".repeat(2 * MIB as usize), "big.bin", &opts(limits));
    assert!(r.found.is_empty());
    assert!(matches!(&r.outcome, Outcome::Skipped(n) if n.why == Why::Limit(Limit::MaxFileSize)));
    assert_eq!(r.bytes_scanned, 0);
}

/// Each top-level file gets a fresh budget: two copies of a zip that uses it all are both
/// scanned in full.
#[test]
fn budget_is_per_top_level_file() {
    let e = engine();
    let dir = tempfile::tempdir().unwrap();
    let z = zip_of(&[
        ("m0.bin".into(), member(0, 600 * 1024)),
        ("m1.bin".into(), member(1, 600 * 1024)),
    ]);
    std::fs::write(dir.path().join("a.zip"), &z).unwrap();
    std::fs::write(dir.path().join("b.zip"), &z).unwrap();
    let o = opts(Limits {
        max_scansize: 1300 * 1024,
        ..Limits::default()
    });
    let reports = std::sync::Mutex::new(Vec::new());
    scan_paths(&e, &[dir.path().to_path_buf()], &o, &|ev| {
        if let Event::File(r) = ev {
            reports.lock().unwrap().push(r);
        }
    })
    .unwrap();
    let reports = reports.into_inner().unwrap();
    assert_eq!(reports.len(), 2);
    for r in reports {
        assert_eq!(signatures(&r), ["Test.M0", "Test.M1"], "{}", r.path);
        assert_eq!(r.outcome.kind(), "found");
        assert!(r.reasons.is_empty());
    }
}

/// Formats clamscan 1.4.3 does not read, with the rule of their family: a zstd stream over
/// --max-filesize is refused whole and alerted (as gzip, and as ClamAV's unreleased zstd
/// support does); zip members compressed with zstd or xz are cut like deflate ones.
#[test]
fn oversized_members_of_formats_clamscan_does_not_read() {
    let e = engine();
    let big = member(7, 2 * MIB as usize);
    let limits = Limits {
        max_filesize: MIB,
        ..Limits::default()
    };
    let zst = zstd::encode_all(big.as_slice(), 3).unwrap();
    let r = scan(&e, &zst, "m.zst", &alerting(limits));
    assert_eq!(signatures(&r), ["Heuristics.Limits.Exceeded.MaxFileSize"]);
    assert!(matches!(
        member_outcome(&r, "m"),
        Outcome::Skipped(n) if n.why == Why::Limit(Limit::MaxFileSize)
    ));
    for m in [
        CompressionMethod::Zstd,
        CompressionMethod::Xz,
        CompressionMethod::Bzip2,
    ] {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        w.start_file("m.bin", SimpleFileOptions::default().compression_method(m))
            .unwrap();
        w.write_all(&big).unwrap();
        let z = w.finish().unwrap().into_inner();
        let r = scan(&e, &z, "m.zip", &alerting(limits));
        assert_eq!(signatures(&r), ["Test.M7"], "{m:?}");
        let cut = r.members.iter().find(|x| x.path == "m.bin").unwrap();
        assert_eq!(cut.bytes, MIB, "{m:?}");
        assert_eq!(
            r.first_limit, None,
            "{m:?}: a cut zip member raises no limit"
        );
        assert!(has_reason(&r, Why::Limit(Limit::MaxFileSize)), "{m:?}");
    }
}

/// A deep --max-recursion is honoured without running out of stack: 900 gzip layers and 300
/// zip layers, the marker at the bottom.
#[test]
fn deep_nesting_within_a_deep_limit() {
    let e = engine();
    let mut gz = member(1, 200);
    for _ in 0..900 {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&gz).unwrap();
        gz = enc.finish().unwrap();
    }
    let mut z = member(2, 200);
    for i in 0..300 {
        z = zip_of(&[(format!("l{i}"), z)]);
    }
    for (data, levels, sig) in [(&gz, 900, "Test.M1"), (&z, 300, "Test.M2")] {
        let deep = opts(Limits {
            max_recursion: 1000,
            ..Limits::default()
        });
        let r = scan(&e, data, "deep", &deep);
        assert_eq!(signatures(&r), [sig], "{levels}");
        let just = opts(Limits {
            max_recursion: levels,
            ..Limits::default()
        });
        let r = scan(&e, data, "deep", &just);
        assert!(
            r.found.is_empty(),
            "{levels}: level {levels} is one too deep"
        );
        assert_eq!(r.first_limit, Some(Limit::MaxRecursion));
    }
}
