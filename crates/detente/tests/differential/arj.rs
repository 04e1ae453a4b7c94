//! ARJ archives against clamscan: archives made by Debian's `arj` with every method (0 stored,
//! 1–3 LZ77 with Huffman blocks, 4 fastest), a garbled (password) one, archives cut short and
//! with flipped bytes in their compressed data, one appended to another file (after a stray
//! header mark), and ClamAV's own `clam.arj`; members found by
//! their hashes and a marker, with and without `--allmatch`, and under the limits.

use super::*;

#[test]
fn clamav_arj_archives() {
    require_tools();
    require_tool("arj", "arj");
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let root = tmp.path().join("corpus");
    fs::create_dir_all(&src).unwrap();
    fs::create_dir_all(&root).unwrap();
    let mut rng = Rng::new(0x41524a);
    let (names, hdb) = archive_members(&mut rng, &src, "ARJ", 60000, 60000);
    let arj = |args: &[&str], out: &str| {
        let r = run(Command::new("arj")
            .current_dir(&src)
            .arg("a")
            .args(args)
            .arg("-y")
            .arg(root.join(out))
            .args(&names));
        assert_eq!(r.code, 0, "arj {args:?}: {}{}", r.stdout, r.stderr);
    };
    for m in 0..=4 {
        arj(&[&format!("-m{m}")], &format!("m{m}.arj"));
    }
    arj(&["-gSECRET"], "garbled.arj");
    // Damage: cut short inside the second member, and bytes flipped in compressed data.
    for (from, to, cut) in [("m1.arj", "cut1.arj", 0.5), ("m4.arj", "cut4.arj", 0.3)] {
        let d = fs::read(root.join(from)).unwrap();
        fs::write(root.join(to), &d[..(d.len() as f64 * cut) as usize]).unwrap();
    }
    for (from, to, at) in [
        ("m2.arj", "flip2.arj", 0.2),
        ("m3.arj", "flip3.arj", 0.6),
        ("m4.arj", "flip4.arj", 0.1),
    ] {
        let mut d = fs::read(root.join(from)).unwrap();
        let i = (d.len() as f64 * at) as usize;
        for b in &mut d[i..i + 8] {
            *b ^= 0x5a;
        }
        fs::write(root.join(to), &d).unwrap();
    }
    fs::copy(Path::new(TESTFILES).join("clam.arj"), root.join("clam.arj")).unwrap();
    // An archive appended to another file (ClamAV's ARJ-SFX pattern), and stray marks that
    // are not archives.
    let mut host = b"\x89PNG\r\n\x1a\n".to_vec();
    host.extend(rng.bytes(3000));
    host.extend_from_slice(b"\x60\xea\x10\x00\x1e\x0b\x01\x02\x00\x00\x02 not an archive");
    host.extend(fs::read(root.join("m2.arj")).unwrap());
    fs::write(root.join("embedded.png"), &host).unwrap();
    let db = tmp.path().join("db");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("t.hdb"), &hdb).unwrap();
    let ndb = ["ARJ-MARKER-TEXT-Q", "ARJ-SMALL-Q"]
        .iter()
        .map(|m| format!("T.{m}:0:*:{}\n", hex(m.as_bytes())))
        .collect::<String>();
    fs::write(db.join("t.ndb"), ndb).unwrap();
    let oracle = compare_with_clamscan("ARJ", &db, &root, &["--allmatch"], &["--allmatch"]);
    let mut want = Vec::new();
    for m in 0..=4 {
        for name in &names {
            want.push((format!("m{m}.arj"), format!("H.{name}")));
        }
    }
    want.push(("clam.arj".into(), "H.clam.exe".into()));
    want.push(("embedded.png".into(), "H.text.txt".into()));
    let want: Vec<(&str, &str)> = want.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    expect_oracle(&oracle, true, &want);
    expect_oracle(&oracle, false, &[("garbled.arj", "H.text.txt")]);
    for args in [
        &[][..],
        &["--allmatch", "--max-filesize=100000"],
        &["--allmatch", "--max-scansize=200000"],
        &["--allmatch", "--max-files=3"],
    ] {
        compare_with_clamscan(&format!("ARJ {args:?}"), &db, &root, args, args);
    }
}
