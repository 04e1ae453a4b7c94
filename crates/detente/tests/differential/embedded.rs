//! Files embedded in other files against clamscan: from `tests/data/mkembedded.py`, a
//! PNG-like host with two zips appended (deflated and stored, two entries each), the same
//! with two cabinets (stored and MSZIP), a cabinet inside text, and ClamAV's clam.exe with two
//! copies of itself appended. Payload hashes and markers, with and without `--allmatch`,
//! and under the limits (the embedded archives' layers are checked but not counted).

use super::*;

#[test]
fn clamav_embedded_files() {
    require_tools();
    let exe = Path::new(TESTFILES).join("clam.exe");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("corpus");
    fs::create_dir_all(&root).unwrap();
    let hdb = run_generator("mkembedded.py", &root, &[&exe]);
    let mut ndb = String::new();
    for m in ["EMB-1-1", "EMB-2-2", "EMB-TEXT"] {
        writeln!(ndb, "T.{m}:0:*:{}", hex(m.as_bytes())).unwrap();
    }
    writeln!(ndb, "T.zipped:0:*:{}", hex(b"embedded payload EMB-2-1")).unwrap();
    // The embedded executables' layers: their host as container, and a chain of them.
    let head = hex(&fs::read(&exe).unwrap()[..32]);
    let ldb = format!(
        "C.exe;Engine:81-255,Target:0,Container:CL_TYPE_MSEXE;0;{head}\n\
         I.exe;Engine:81-255,Target:0,Intermediates:CL_TYPE_MSEXE>CL_TYPE_MSEXE;0;{head}\n\
         Z.png;Engine:81-255,Target:0,Container:CL_TYPE_ZIP;0;{}\n",
        hex(b"embedded payload EMB-1-1")
    );
    let db = tmp.path().join("db");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("t.ndb"), &ndb).unwrap();
    fs::write(db.join("t.hdb"), &hdb).unwrap();
    fs::write(db.join("t.ldb"), &ldb).unwrap();
    let oracle = compare_with_clamscan(
        "embedded files",
        &db,
        &root,
        &["--allmatch"],
        &["--allmatch"],
    );
    expect_oracle(
        &oracle,
        true,
        &[
            ("zips.png", "H.1-2"),
            ("zips.png", "H.2-2"),
            ("cabs.png", "H.2-1"),
            ("cab-in-text.txt", "T.EMB-TEXT"),
            ("exes.exe", "H.exe"),
            ("exes.exe", "H.exe-tail"),
            ("exes.exe", "C.exe"),
            ("exes.exe", "I.exe"),
            ("zips.png", "Z.png"),
        ],
    );
    for args in [
        &[][..],
        &["--allmatch", "--max-files=2"],
        &["--allmatch", "--max-files=3"],
        &["--allmatch", "--max-scansize=12000"],
        &["--allmatch", "--max-scansize=17000"],
    ] {
        compare_with_clamscan(&format!("embedded files {args:?}"), &db, &root, args, args);
    }
}
