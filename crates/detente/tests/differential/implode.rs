//! Imploded zip members (method 6) against clamscan: zips from `tests/data/mkimplode.py`
//! with 4 and 8 KiB windows, with and without a literal tree, a damaged stream and a large
//! second member; markers and the members' hashes, with and without `--allmatch`, and under
//! the limits.

use super::*;

#[test]
fn clamav_imploded_zip_members() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("corpus");
    fs::create_dir_all(&root).unwrap();
    let hdb = run_generator("mkimplode.py", &root, &[]);
    let mut ndb = String::new();
    for m in [
        "IMPLODE-W4K-RAW-Q",
        "IMPLODE-W4K-LIT-Q",
        "IMPLODE-W8K-RAW-Q",
        "IMPLODE-W8K-LIT-Q",
        "IMPLODE-DAMAGED-Q",
        "IMPLODE-BIG-Q",
    ] {
        writeln!(ndb, "T.{m}:0:*:{}", hex(m.as_bytes())).unwrap();
    }
    let db = tmp.path().join("db");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("t.ndb"), &ndb).unwrap();
    fs::write(db.join("t.hdb"), &hdb).unwrap();
    let oracle = compare_with_clamscan(
        "imploded members",
        &db,
        &root,
        &["--allmatch"],
        &["--allmatch"],
    );
    expect_oracle(
        &oracle,
        true,
        &[
            ("w4k-raw.zip", "H.w4k-raw"),
            ("w4k-lit.zip", "H.w4k-lit"),
            ("w8k-raw.zip", "H.w8k-raw"),
            ("w8k-lit.zip", "H.w8k-lit"),
            ("two.zip", "H.big"),
        ],
    );
    for args in [
        &[][..],
        &["--allmatch", "--max-filesize=30000"],
        &["--allmatch", "--max-scansize=40000"],
    ] {
        compare_with_clamscan(
            &format!("imploded members {args:?}"),
            &db,
            &root,
            args,
            args,
        );
    }
}
