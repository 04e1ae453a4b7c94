//! ALZ archives against clamscan, written here record by record (no ALZ writer is packaged):
//! stored, bzip2 and deflate members, sizes of every width (1, 2, 4 and 8 bytes), a directory,
//! an encrypted member and one with a data descriptor (after which clamscan reads no further),
//! a stored member whose two sizes differ, an archive with an unknown record after its member
//! (the member is scanned), deflate data ending at the end of the file, and an archive cut
//! short; members found by their hashes and
//! markers, with and without `--allmatch`, and under the limits.

use std::io::Write as _;

use super::*;

struct Entry<'a> {
    name: &'a str,
    data: &'a [u8],
    method: u8,
    width: u8,
    flags: u8,
    attribute: u8,
    /// Declared stored size, when it should differ from the data's.
    orig: Option<u64>,
}

fn entry<'a>(name: &'a str, data: &'a [u8], method: u8, width: u8) -> Entry<'a> {
    Entry {
        name,
        data,
        method,
        width,
        flags: 0,
        attribute: 0x20,
        orig: None,
    }
}

fn pack(e: &Entry<'_>) -> Vec<u8> {
    match e.method {
        1 => {
            let mut w = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
            w.write_all(e.data).unwrap();
            w.finish().unwrap()
        }
        2 => {
            let mut w = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
            w.write_all(e.data).unwrap();
            w.finish().unwrap()
        }
        _ => e.data.to_vec(),
    }
}

fn sized(out: &mut Vec<u8>, width: u8, v: u64) {
    match width {
        1 => out.push(v as u8),
        2 => out.extend_from_slice(&(v as u16).to_le_bytes()),
        4 => out.extend_from_slice(&(v as u32).to_le_bytes()),
        _ => out.extend_from_slice(&v.to_le_bytes()),
    }
}

fn alz(entries: &[Entry<'_>], tail: &[u8]) -> Vec<u8> {
    let mut out = b"ALZ\x01\x0a\0\0\0".to_vec();
    for e in entries {
        let packed = pack(e);
        out.extend_from_slice(b"BLZ\x01");
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.push(e.attribute);
        out.extend_from_slice(&0x5a21_0000u32.to_le_bytes());
        out.push((e.width << 4) | e.flags);
        out.push(0);
        out.push(e.method);
        out.push(0);
        out.extend_from_slice(&0u32.to_le_bytes());
        sized(&mut out, e.width, packed.len() as u64);
        sized(&mut out, e.width, e.orig.unwrap_or(e.data.len() as u64));
        out.extend_from_slice(e.name.as_bytes());
        if e.flags & 1 != 0 {
            out.extend_from_slice(&[7; 12]);
        }
        out.extend_from_slice(&packed);
    }
    out.extend_from_slice(tail);
    out
}

#[test]
fn clamav_alz_archives() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("corpus");
    fs::create_dir_all(&root).unwrap();
    let mut rng = Rng::new(0x414c5a);
    let mut text = Vec::new();
    for _ in 0..8_000 {
        text.extend_from_slice(
            [&b"alpha "[..], b"beta ", b"ALZ-MARKER-TEXT-Q ", b"gamma "][rng.below(4)],
        );
    }
    let bin = rng.bytes(30_000);
    let small = b"a small ALZ member, ALZ-SMALL-Q".to_vec();
    let tiny = b"ALZ-TINY-Q".to_vec();
    let end = b"CLZ\x01\0\0\0\0\0\0\0\0CLZ\x02\0\0\0\0";
    let mut hdb = String::new();
    for (name, d) in [
        ("text", &text),
        ("bin", &bin),
        ("small", &small),
        ("tiny", &tiny),
    ] {
        let p = tmp.path().join(name);
        fs::write(&p, d).unwrap();
        writeln!(hdb, "{}:{}:H.{name}", digest("md5sum", &p), d.len()).unwrap();
    }
    let files: Vec<(&str, Vec<u8>)> = vec![
        (
            "stored.alz",
            alz(
                &[entry("t.txt", &text, 0, 4), entry("b.bin", &bin, 0, 4)],
                end,
            ),
        ),
        (
            "deflate.alz",
            alz(
                &[entry("t.txt", &text, 2, 4), entry("b.bin", &bin, 2, 8)],
                end,
            ),
        ),
        (
            "bzip2.alz",
            alz(
                &[entry("t.txt", &text, 1, 4), entry("s.txt", &small, 1, 2)],
                end,
            ),
        ),
        (
            "widths.alz",
            alz(
                &[
                    entry("x.txt", &tiny, 0, 1),
                    entry("s.txt", &small, 2, 2),
                    entry("t.txt", &text, 2, 8),
                ],
                end,
            ),
        ),
        (
            "mixed.alz",
            alz(
                &[
                    Entry {
                        attribute: 0x10,
                        ..entry("dir/", b"", 0, 0)
                    },
                    Entry {
                        flags: 1,
                        ..entry("enc.txt", &small, 0, 4)
                    },
                    Entry {
                        flags: 8,
                        ..entry("dd.txt", &tiny, 0, 4)
                    },
                    entry("dir/t.txt", &text, 2, 4),
                    Entry {
                        orig: Some(10),
                        ..entry("short.txt", &small, 0, 4)
                    },
                    entry("b.bin", &bin, 1, 4),
                ],
                end,
            ),
        ),
        (
            "badsig.alz",
            alz(&[entry("t.txt", &text, 2, 4)], b"XYZ\x01\0\0\0\0"),
        ),
        (
            "deflate-at-end.alz",
            alz(
                &[entry("s.txt", &small, 0, 4), entry("t.txt", &text, 2, 4)],
                b"",
            ),
        ),
    ];
    for (name, data) in &files {
        fs::write(root.join(name), data).unwrap();
    }
    let cut = &files[1].1;
    fs::write(root.join("cut.alz"), &cut[..cut.len() / 2]).unwrap();
    let db = tmp.path().join("db");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("t.hdb"), &hdb).unwrap();
    let ndb = ["ALZ-MARKER-TEXT-Q", "ALZ-SMALL-Q", "ALZ-TINY-Q"]
        .iter()
        .map(|m| format!("T.{m}:0:*:{}\n", hex(m.as_bytes())))
        .collect::<String>();
    fs::write(db.join("t.ndb"), ndb).unwrap();
    let oracle = compare_with_clamscan("ALZ", &db, &root, &["--allmatch"], &["--allmatch"]);
    expect_oracle(
        &oracle,
        true,
        &[
            ("stored.alz", "H.text"),
            ("stored.alz", "H.bin"),
            ("deflate.alz", "H.text"),
            ("deflate.alz", "H.bin"),
            ("bzip2.alz", "H.text"),
            ("bzip2.alz", "H.small"),
            ("widths.alz", "H.tiny"),
            ("widths.alz", "H.small"),
            ("widths.alz", "H.text"),
            ("badsig.alz", "H.text"),
            ("deflate-at-end.alz", "H.text"),
            ("cut.alz", "H.text"),
        ],
    );
    expect_oracle(
        &oracle,
        false,
        &[
            ("mixed.alz", "H.small"),
            ("mixed.alz", "H.tiny"),
            ("mixed.alz", "H.text"),
        ],
    );
    for args in [
        &[][..],
        &["--allmatch", "--max-filesize=20000"],
        &["--allmatch", "--max-scansize=40000"],
        &["--allmatch", "--max-files=3"],
    ] {
        compare_with_clamscan(&format!("ALZ {args:?}"), &db, &root, args, args);
    }
}
