//! PCRE subsignatures against clamscan: triggers (true, false, referring to an earlier PCRE),
//! every flag but `E`, offsets (`*`, `n`, `n,m`, `EOF-n`, with `r` and `e`), counts with and
//! without `g` in conditions, and `/`, `:` and `;` inside patterns. The corpus holds binary
//! files (no normalised pass) and text files (raw and normalised passes).
//!
//! Left out: zero-length matches with `g` (clamscan repeats them until its scan-time limit),
//! and the `E` flag (not available through PCRE2's safe interface; counted as skipped).

use super::*;

#[test]
fn clamav_pcre_subsignatures() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("corpus");
    fs::create_dir_all(&root).unwrap();
    // Every file holds the trigger bytes AAAA; binary ones a NUL too.
    let files: &[(&str, &[u8])] = &[
        (
            "b_basic.bin",
            b"\0AAAA xxBBBBByy Hello hello HELLO\nline2 X\nY end",
        ),
        ("b_offsets.bin", b"\0AAAAaaBaBcccBBcc/path/to:x;y\xff\x00Bz"),
        (
            "b_multi.bin",
            b"\0AAAA key=1 key=22 key=333 key=4444 KEY=5\nkey=6",
        ),
        ("b_anchor.bin", b"\0AAAAB..B...B\nBstart of line\nend B"),
        ("b_none.bin", b"\0AAAA nothing to see here"),
        ("b_notrig.bin", b"\0BBBB no trigger here key=1"),
        (
            "t_text.txt",
            b"AAAA Some Text With Words\nkey=1 key=2\nHELLO there",
        ),
        (
            "t_late.txt",
            b"lorem ipsum dolor sit amet, consectetur adipiscing AAAA hello world",
        ),
    ];
    for (n, d) in files {
        fs::write(root.join(n), d).unwrap();
    }
    let a = "41414141";
    let sigs = [
        ("basic", format!("0&1;{a};0/B+/")),
        ("trigfalse", format!("0&1=0&2;{a};43444546;0&1/B+/")),
        ("trigfalse0", format!("0&1=0&2=0;{a};43444546;0&1/B+/")),
        ("ci", format!("0&1;{a};0/hello/i")),
        ("case", format!("0&1;{a};0/HELLO/")),
        ("dot", format!("0&1;{a};0/X.Y/")),
        ("dotall", format!("0&1;{a};0/X.Y/s")),
        ("caret", format!("0&1;{a};0/^line2/")),
        ("caretm", format!("0&1;{a};0/^line2/m")),
        ("ext", format!("0&1;{a};0/h e l l o # comment/x")),
        ("ungreedy", format!("0&1;{a};0/key=\\d+ /U")),
        ("anch", format!("0&1;{a};0/B/A")),
        ("g2", format!("0&1>2;{a};0/key=\\d+/g")),
        ("g5", format!("0&1=5;{a};0/key=\\d+/gi")),
        ("g6", format!("0&1=6;{a};0/key=\\d+/gi")),
        ("nong", format!("0&1>1;{a};0/key=\\d+/i")),
        ("bb", format!("0&1=2;{a};0/BB/g")),
        ("abs", format!("0&1;{a};7:0/B/")),
        ("absmiss", format!("0&1;{a};6:0/B/")),
        ("absr", format!("0&1;{a};6:0/B/r")),
        ("shift", format!("0&1;{a};5,2:0/B/")),
        ("shiftmiss", format!("0&1;{a};5,1:0/BaB/e")),
        ("shifte", format!("0&1;{a};5,4:0/aBaB/e")),
        ("eof", format!("0&1;{a};EOF-3:0/Bz/")),
        ("slash", format!("0&1;{a};0/\\/path\\/to/")),
        ("slashraw", format!("0&1;{a};0/path/to/")),
        ("semi", format!("0&1;{a};0/x;y/")),
        ("bytes", format!("0&1;{a};0/\\xff\\x00B/")),
        ("chain", format!("0&1&2;{a};0/key/;1/key=22/")),
        ("chainfalse", format!("0&2;{a};0/nomatch/;1/key/")),
        ("alt", format!("0&1;{a};0/(cat|dog|Words)/")),
        ("class", format!("0&1;{a};0/[A-Z][a-z]+ [A-Z]/")),
        ("look", format!("0&1;{a};0/(?<=Some )Text/")),
        ("backref", format!("0&1;{a};0/(l)\\1o/")),
        ("dollar", format!("0&1;{a};0/end$/")),
    ];
    let mut ldb = String::new();
    for (n, rest) in &sigs {
        writeln!(ldb, "Pcre.{n};Engine:81-255,Target:0;{rest}").unwrap();
    }
    // Target 7: only the normalised text (lower case) is searched.
    writeln!(ldb, "Pcre.t7lower;Engine:81-255,Target:7;0&1;{a};0/hello/").unwrap();
    writeln!(ldb, "Pcre.t7upper;Engine:81-255,Target:7;0&1;{a};0/HELLO/").unwrap();
    let db = tmp.path().join("db");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("pcre.ldb"), &ldb).unwrap();
    let oracle = compare_with_clamscan(
        "PCRE subsignatures",
        &db,
        &root,
        &["--allmatch"],
        &["--allmatch"],
    );
    // Harness: clamscan finds these in the expected files, and not the decoys.
    let has = |file: &str, sig: &str| {
        oracle
            .iter()
            .any(|(f, v)| f == file && *v == format!("Pcre.{sig} FOUND"))
    };
    for (file, sig) in [
        ("b_basic.bin", "basic"),
        ("b_basic.bin", "ci"),
        ("b_basic.bin", "dotall"),
        ("b_multi.bin", "g6"),
        ("b_offsets.bin", "abs"),
        ("b_offsets.bin", "slash"),
        ("b_offsets.bin", "semi"),
        ("b_multi.bin", "chain"),
        ("b_basic.bin", "trigfalse0"),
    ] {
        assert!(
            has(file, sig),
            "harness: clamscan does not find Pcre.{sig} in {file}"
        );
    }
    for (file, sig) in [
        ("b_basic.bin", "dot"),
        ("b_basic.bin", "trigfalse"),
        ("b_multi.bin", "g5"),
        ("b_offsets.bin", "absmiss"),
        ("b_notrig.bin", "basic"),
    ] {
        assert!(
            !has(file, sig),
            "harness: clamscan finds Pcre.{sig} in {file}"
        );
    }
}
