//! LHA/LZH archives against clamscan: archives made by Debian's `jlha` (jlha-utils) with
//! methods -lh0-, -lh5-, -lh6- and -lh7- and header levels 0, 1 and 2, archives cut short and
//! with flipped bytes; members found by their hashes and a marker, with and without
//! `--allmatch`, and under the limits.

use super::*;

#[test]
fn clamav_lha_archives() {
    require_tools();
    require_tool("jlha", "jlha-utils");
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let root = tmp.path().join("corpus");
    fs::create_dir_all(&src).unwrap();
    fs::create_dir_all(&root).unwrap();
    let mut rng = Rng::new(0x4c4841);
    let (names, hdb) = archive_members(&mut rng, &src, "LHA", 40000, 40000);
    let mut made = Vec::new();
    for (cmd, out) in [
        ("az", "lh0.lzh"),
        ("ao5", "lh5.lzh"),
        ("ao6", "lh6.lzh"),
        ("ao7", "lh7.lzh"),
        ("ao50", "level0.lzh"),
        ("ao51", "level1.lzh"),
        ("ao52", "level2.lzh"),
    ] {
        let r = run(Command::new("jlha")
            .current_dir(&src)
            .arg(cmd)
            .arg(root.join(out))
            .args(&names));
        assert_eq!(r.code, 0, "jlha {cmd}: {}{}", r.stdout, r.stderr);
        made.push(out);
    }
    for (from, to, cut) in [("lh5.lzh", "cut5.lzh", 0.5), ("lh7.lzh", "cut7.lzh", 0.2)] {
        let d = fs::read(root.join(from)).unwrap();
        fs::write(root.join(to), &d[..(d.len() as f64 * cut) as usize]).unwrap();
    }
    for (from, to, at) in [("lh5.lzh", "flip5.lzh", 0.3), ("lh6.lzh", "flip6.lzh", 0.7)] {
        let mut d = fs::read(root.join(from)).unwrap();
        let i = (d.len() as f64 * at) as usize;
        for b in &mut d[i..i + 8] {
            *b ^= 0x5a;
        }
        fs::write(root.join(to), &d).unwrap();
    }
    let db = tmp.path().join("db");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("t.hdb"), &hdb).unwrap();
    let ndb = ["LHA-MARKER-TEXT-Q", "LHA-SMALL-Q"]
        .iter()
        .map(|m| format!("T.{m}:0:*:{}\n", hex(m.as_bytes())))
        .collect::<String>();
    fs::write(db.join("t.ndb"), ndb).unwrap();
    let oracle = compare_with_clamscan("LHA", &db, &root, &["--allmatch"], &["--allmatch"]);
    let want: Vec<(String, String)> = made
        .iter()
        .flat_map(|a| names.iter().map(move |n| (a.to_string(), format!("H.{n}"))))
        .collect();
    let want: Vec<(&str, &str)> = want.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    expect_oracle(&oracle, true, &want);
    for args in [
        &[][..],
        &["--allmatch", "--max-filesize=30000"],
        &["--allmatch", "--max-scansize=100000"],
        &["--allmatch", "--max-files=3"],
    ] {
        compare_with_clamscan(&format!("LHA {args:?}"), &db, &root, args, args);
    }
}
