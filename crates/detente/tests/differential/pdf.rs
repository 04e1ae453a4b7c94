//! PDF streams against clamscan: documents from `tests/data/mkpdfs.py` with streams stored,
//! Flate, ASCIIHex over Flate, ASCII85, LZW (alone, and in an embedded file), RunLength,
//! DCT, an image, an unknown filter, lengths too short, indirect and shadowed by `/Length1`,
//! CR LF after `stream`, two streams, and a document cut short. Every marker is looked for
//! with a generic signature, a PDF-target one and a `Container:CL_TYPE_PDF` one, and the
//! decoded streams by their hashes; with and without `--allmatch`, and under the limits.

use super::*;

#[test]
fn clamav_pdf_streams() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("corpus");
    fs::create_dir_all(&root).unwrap();
    let hdb = run_generator("mkpdfs.py", &root, &[]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mkpdfs.py");
    let source = fs::read_to_string(&script).unwrap();
    let mut markers: Vec<String> = source
        .split('"')
        .filter(|w| w.starts_with("PDF-") && w.contains("-M"))
        .map(str::to_string)
        .collect();
    markers.sort();
    markers.dedup();
    assert!(markers.len() >= 16, "{markers:?}");
    let mut ndb = String::new();
    let mut ldb = String::new();
    for (i, m) in markers.iter().enumerate() {
        let h = hex(m.as_bytes());
        writeln!(ndb, "T.t0.m{i}:0:*:{h}").unwrap();
        writeln!(ndb, "T.t10.m{i}:10:*:{h}").unwrap();
        writeln!(
            ldb,
            "L.pdf.m{i};Engine:81-255,Target:0,Container:CL_TYPE_PDF;0;{h}"
        )
        .unwrap();
    }
    let db = tmp.path().join("db");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("t.ndb"), &ndb).unwrap();
    fs::write(db.join("t.ldb"), &ldb).unwrap();
    fs::write(db.join("t.hdb"), &hdb).unwrap();
    let oracle = compare_with_clamscan("PDF streams", &db, &root, &["--allmatch"], &["--allmatch"]);
    // Harness: decoded streams are reached, and some streams are not dumped by clamscan.
    let sig = |m: &str| markers.iter().position(|x| x == m).unwrap();
    let has = |file: &str, s: &str| {
        oracle
            .iter()
            .any(|(f, v)| f == file && *v == format!("{s} FOUND"))
    };
    for (file, s) in [
        ("flate.pdf", format!("L.pdf.m{}", sig("PDF-FLATE-M2"))),
        ("flate.pdf", "H.flate".to_string()),
        ("ahx-flate.pdf", format!("T.t0.m{}", sig("PDF-AHX-M3"))),
        ("lzw-embedded.pdf", "H.lzw".to_string()),
        (
            "two-streams.pdf",
            format!("T.t0.m{}", sig("PDF-SECOND-M17")),
        ),
    ] {
        assert!(
            has(file, &s),
            "harness: clamscan does not find {s} in {file}"
        );
    }
    for (file, s) in [
        ("lzw.pdf", format!("T.t0.m{}", sig("PDF-LZW-M5"))),
        ("image.pdf", format!("L.pdf.m{}", sig("PDF-IMAGE-M10"))),
    ] {
        assert!(!has(file, &s), "harness: clamscan finds {s} in {file}");
    }
    for args in [
        &[][..],
        &["--max-filesize=20000"],
        &["--max-scansize=40000"],
        &["--allmatch", "--max-scansize=45000"],
        &["--allmatch", "--max-files=2"],
    ] {
        compare_with_clamscan(&format!("PDF streams {args:?}"), &db, &root, args, args);
    }
}
