//! Byte-compare subsignatures against clamscan, on small files (ClamAV evaluates them per
//! 128 KiB window, which misreads offsets past the first one; these files fit in one):
//! binary integers in both byte orders and every size, decimal, hexadecimal (both orders)
//! and automatic text, exact fields, white space, offsets both ways, the last match of the
//! referenced subsignature, two comparisons, negative values, and reads out of the file.

use super::*;

#[test]
fn clamav_byte_compare_subsignatures() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("corpus");
    fs::create_dir_all(&root).unwrap();
    let files: &[(&str, &[u8])] = &[
        (
            "bin.bin",
            b"\0\0abcXMARK\x04\x03\x02\x01\xff\xff\xff\xff\xff\xff\xff\xfftail",
        ),
        ("two.bin", b"\0\0XMARK\x10 and XMARK\x20 end of file here"),
        ("hex.bin", b"\0\0XMARK1a2b  0x1F zz"),
        ("dec.bin", b"\0\0XMARK 1234 -17 end"),
        ("junk.bin", b"\0\0XMARKzz12 0x"),
        ("short.bin", b"\0XMARK\x05"),
    ];
    for (n, d) in files {
        fs::write(root.join(n), d).unwrap();
    }
    let cases = [
        ("il4", "0(>>5#il4#=0x01020304)"),
        ("ib4", "0(>>5#ib4#=0x04030201)"),
        ("i4noend", "0(>>5#i4#=0x01020304)"),
        ("ib1", "0(>>5#ib1#=4)"),
        ("ib2", "0(>>5#ib2#=0x0403)"),
        ("il8neg", "0(>>9#il8#<0)"),
        ("il8eq", "0(>>9#il8#=-1)"),
        ("two_last", "0(>>5#ib1#=0x20)"),
        ("two_first", "0(>>5#ib1#=0x10)"),
        ("range", "0(>>5#ib1#>3,<5)"),
        ("range_no", "0(>>5#ib1#>4,<9)"),
        ("back", "0(<<2#ib1#=0x63)"),
        ("back_zero", "0(<<4#ib1#=0)"),
        ("hb4", "0(>>5#hb4#=0x1a2b)"),
        ("hl4", "0(>>5#hl4#=0x2b1a)"),
        ("h4noend", "0(>>5#h4#=0x1a2b)"),
        ("hb6prefix", "0(>>5#hb6#=0x1a2b)"),
        ("hbe6", "0(>>5#hbe6#=0x1a2b)"),
        ("db5", "0(>>5#db5#=1234)"),
        ("de5", "0(>>5#de5#=1234)"),
        ("dneg", "0(>>10#db4#=-17)"),
        ("dzero", "0(>>5#db2#=0)"),
        ("ab4", "0(>>11#ab4#=31)"),
        ("out", "0(>>5#ib8#>0)"),
        ("past", "0(>>100#ib1#>0)"),
    ];
    let mut ldb = String::new();
    for (n, sub) in &cases {
        writeln!(ldb, "B.{n};Engine:81-255,Target:0;0&1;584d41524b;{sub}").unwrap();
    }
    let db = tmp.path().join("db");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("bc.ldb"), &ldb).unwrap();
    let oracle = compare_with_clamscan(
        "byte-compare subsignatures",
        &db,
        &root,
        &["--allmatch"],
        &["--allmatch"],
    );
    let has = |file: &str, sig: &str| {
        oracle
            .iter()
            .any(|(f, v)| f == file && *v == format!("B.{sig} FOUND"))
    };
    for (f, s) in [
        ("bin.bin", "il4"),
        ("bin.bin", "il8neg"),
        ("two.bin", "two_last"),
        ("hex.bin", "hb4"),
        ("hex.bin", "hl4"),
        ("dec.bin", "db5"),
    ] {
        assert!(has(f, s), "harness: clamscan does not find B.{s} in {f}");
    }
    for (f, s) in [
        ("bin.bin", "i4noend"),
        ("two.bin", "two_first"),
        ("hex.bin", "h4noend"),
    ] {
        assert!(!has(f, s), "harness: clamscan finds B.{s} in {f}");
    }
}
