//! Hash signatures with the same digest and size under different names: clamscan reports one
//! name per digest kind and size (the one its sort of the size's bucket and its binary search
//! land on), and so must detente. Random buckets of MD5 and SHA-256 signatures, with one to
//! four names per file among unrelated digests of the same size, in shuffled order.

use super::*;

#[test]
fn clamav_equal_hash_signatures() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("corpus");
    fs::create_dir_all(&root).unwrap();
    let mut rng = Rng::new(0x4844_5550);
    let mut lines = Vec::new();
    for i in 0..60 {
        let path = root.join(format!("f{i:02}.bin"));
        fs::write(&path, rng.bytes(64)).unwrap();
        let (tool, kind) = if i % 3 == 0 {
            ("sha256sum", "s")
        } else {
            ("md5sum", "m")
        };
        let d = digest(tool, &path);
        for k in 0..rng.range(1, 4) {
            lines.push(format!("{d}:64:D.{kind}{i:02}.{k}"));
        }
    }
    for j in 0..300 {
        let len = if j % 3 == 0 { 32 } else { 16 };
        lines.push(format!("{}:64:Filler.{j}", hex(&rng.bytes(len))));
    }
    rng.shuffle(&mut lines);
    let db = tmp.path().join("t.hdb");
    fs::write(&db, lines.join("\n") + "\n").unwrap();
    let oracle =
        compare_with_clamscan("equal hashes", &db, &root, &["--allmatch"], &["--allmatch"]);
    assert!(
        oracle.len() >= 60,
        "harness: clamscan reported {}",
        oracle.len()
    );
    compare_with_clamscan("equal hashes", &db, &root, &[], &[]);
}
