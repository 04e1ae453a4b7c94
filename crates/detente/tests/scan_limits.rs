//! `detente scan` against clamscan itself on scan limits: a member over `--max-filesize` in
//! each container format, the scan budget running out in the middle of an archive,
//! `--max-files` across nesting, `--max-recursion`, bombs, split zips, and what a file that is
//! not (fully) scanned reads like in text, JSON and the summary, as clamscan 1.4.3 behaves.
//!
//! Every case runs clamscan and `detente scan` with the same flags on files generated here
//! (python3's zipfile/tarfile/gzip/bz2/lzma) and compares the
//! verdict lines and exit codes. An oracle test whose tool is missing fails: clamscan and
//! python3 must be on PATH (`scripts/test` installs them).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

const DETENTE: &str = env!("CARGO_BIN_EXE_detente");

/// Builds the test files: `python3 - SET` in the working directory given.
const GENERATOR: &str = r#"
import bz2, gzip, io, lzma, os, sys, tarfile, zipfile

MARK = b"DETENTEMARKER0123456789"
N = 2 * 1024 * 1024

def body(pos):
    b = bytearray(N)
    o = 100 if pos == "head" else N - 100
    b[o:o + len(MARK)] = MARK
    return bytes(b)

def member(i, size):
    m = b"DETENTEMEMBER%02d_XYZ" % i
    b = bytearray(size)
    b[100:100 + len(m)] = m
    return bytes(b)

def zip_bytes(items, method=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for n, d in items:
            z.writestr(n, d)
    return buf.getvalue()

def tar_bytes(items, mode="w"):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, format=tarfile.USTAR_FORMAT) as t:
        for n, d in items:
            ti = tarfile.TarInfo(n)
            ti.size = len(d)
            t.addfile(ti, io.BytesIO(d))
    return buf.getvalue()

def put(name, data):
    os.makedirs(os.path.dirname(name) or ".", exist_ok=True)
    with open(name, "wb") as f:
        f.write(data)

def sigs():
    lines = ["Test.Head:0:100:" + MARK.hex(), "Test.Tail:0:%d:%s" % (N - 100, MARK.hex())]
    lines += ["Test.M%d:0:100:%s" % (i, (b"DETENTEMEMBER%02d_XYZ" % i).hex()) for i in range(20)]
    put("db/t.ndb", ("\n".join(lines) + "\n").encode())

sigs()
what = sys.argv[1]
if what.startswith("oversized-"):
    fmt = what[len("oversized-"):]
    for pos in ("head", "tail"):
        d = body(pos)
        if fmt == "zip-deflate":
            put("t/%s.zip" % pos, zip_bytes([("m.bin", d)]))
        elif fmt == "zip-bzip2":
            put("t/%s.zip" % pos, zip_bytes([("m.bin", d)], zipfile.ZIP_BZIP2))
        elif fmt == "zip-tar":
            put("t/%s.zip" % pos, zip_bytes([("m.tar", tar_bytes([("m.bin", d)]))]))
        elif fmt == "gzip":
            put("t/%s.gz" % pos, gzip.compress(d))
        elif fmt == "bzip2":
            put("t/%s.bz2" % pos, bz2.compress(d))
        elif fmt == "xz":
            put("t/%s.xz" % pos, lzma.compress(d))
        elif fmt == "tar-gz":
            put("t/%s.tar.gz" % pos, tar_bytes([("m.bin", d)], "w:gz"))
        else:
            raise SystemExit("unknown format " + fmt)
elif what == "budget":
    K = 1024
    mem = [("m%d.bin" % i, member(i, s * K)) for i, s in enumerate([900, 900, 900, 900, 1, 900, 1])]
    put("zip/b.zip", zip_bytes(mem))
    put("tar/b.tar", tar_bytes(mem))
    put("tgz/b.tar.gz", tar_bytes(mem, "w:gz"))
elif what == "files":
    mem = [("m%d.bin" % i, member(i, 1024)) for i in range(7)]
    put("t/f.zip", zip_bytes(mem))
    put("t/f.tar", tar_bytes(mem))
    put("t/n.zip", zip_bytes([("A.zip", zip_bytes(mem[0:3])), ("B.zip", zip_bytes(mem[3:6])), mem[6]]))
elif what == "recursion":
    m = member(0, 1024)
    for k in range(1, 20):
        d, name = m, "m0.bin"
        for i in range(k):
            d = zip_bytes([(name, d)])
            name = "l%d.zip" % (k - i)
        put("t/z%02d.zip" % k, d)
        d = m
        for i in range(k):
            d = gzip.compress(d)
        put("t/g%02d.gz" % k, d)
elif what == "bomb":
    # limits_scripts/mkbomb2.py: L1 = 10 x 100 MiB of zeros, L2..L8 = 10 copies of the level below.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for i in range(10):
            with z.open("1-%d.bin" % i, "w") as f:
                for _ in range(100):
                    f.write(bytes(1 << 20))
    d = buf.getvalue()
    for lvl in range(2, 9):
        d = zip_bytes([("%d-%d.zip" % (lvl, i), d) for i in range(10)])
    put("t/bomb.zip", d)
elif what == "flat":
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(30):
            with z.open("m%02d.bin" % i, "w") as f:
                for _ in range(8):
                    f.write(bytes(1 << 20))
    put("t/flat.zip", buf.getvalue())
elif what == "outcomes":
    put("t/clean.bin", bytes(4096))
    put("t/found.bin", member(3, 4096))
    put("t/big.bin", body("head"))
    put("t/cut.zip", zip_bytes([("m.bin", body("tail"))]))
    put("t/empty.bin", b"")
else:
    raise SystemExit("unknown set " + what)
"#;

fn require(tool: &str, package: &str) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "`{tool}` is not on PATH: this oracle test needs it (Debian package `{package}`; \
         `scripts/test` installs it)"
    );
}

/// A temporary directory with the files of `set` and the database in `db/`.
fn corpus(set: &str) -> tempfile::TempDir {
    require("clamscan", "clamav");
    require("python3", "python3");
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new("python3")
        .args(["-", set])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(GENERATOR.as_bytes())
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "generator failed for {set}"
    );
    dir
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Run {
    let o = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn clamscan(dir: &Path, args: &[&str], target: &str) -> Run {
    run(Command::new("clamscan")
        .current_dir(dir)
        .args(["-d", "db/t.ndb"])
        .args(args)
        .arg(target))
}

fn detente(dir: &Path, args: &[&str], target: &str) -> Run {
    run(Command::new(DETENTE)
        .current_dir(dir)
        .args(["scan", "-d", "db/t.ndb"])
        .args(args)
        .arg(target))
}

/// The verdict lines of a run, paths relative to `dir`, `.UNOFFICIAL` dropped; as a set, since
/// clamscan prints some lines twice with --allmatch.
fn verdicts(r: &Run, dir: &Path) -> BTreeSet<String> {
    let abs = format!("{}/", dir.display());
    r.stdout
        .lines()
        .take_while(|l| !l.is_empty())
        .map(|l| l.replace(&abs, "").replace(".UNOFFICIAL", ""))
        .collect()
}

/// Runs both scanners with `args` over `target` (relative to `dir`): the same lines and exit
/// code, which are returned.
fn same(dir: &Path, args: &[&str], target: &str) -> BTreeSet<String> {
    let mut args = args.to_vec();
    args.push("--no-summary");
    let o = clamscan(dir, &args, target);
    assert!(o.code == 0 || o.code == 1, "clamscan failed: {}", o.stderr);
    let r = detente(dir, &args, target);
    assert!(r.code == 0 || r.code == 1, "detente failed: {}", r.stderr);
    let (want, got) = (verdicts(&o, dir), verdicts(&r, dir));
    assert_eq!(
        want, got,
        "{args:?} {target}: clamscan (left) and detente (right) differ\ndetente stderr:\n{}",
        r.stderr
    );
    assert_eq!(o.code, r.code, "{args:?} {target}: exit codes differ");
    want
}

fn set(lines: &[&str]) -> BTreeSet<String> {
    lines.iter().map(|s| s.to_string()).collect()
}

/// A 2 MiB member with the marker 100 bytes from its start ("head") or its end ("tail"),
/// with `--max-filesize=1M`, with and without `--alert-exceeds-max`, with and without
/// `--allmatch`; and `expect` = what clamscan 1.4.3 prints (head, tail, head
/// with alert, tail with alert), checked too so that the case is not vacuous.
fn oversized(fmt: &str, ext: &str, expect: [&str; 4]) {
    let dir = corpus(&format!("oversized-{fmt}"));
    let d = dir.path();
    let (head, tail) = (format!("t/head.{ext}"), format!("t/tail.{ext}"));
    // Within the limits both markers are found.
    assert_eq!(
        same(d, &[], &head),
        set(&[&format!("{head}: Test.Head FOUND")])
    );
    assert_eq!(
        same(d, &[], &tail),
        set(&[&format!("{tail}: Test.Tail FOUND")])
    );
    let runs = [
        (&head, &["--max-filesize=1M"][..], expect[0]),
        (&tail, &["--max-filesize=1M"][..], expect[1]),
        (
            &head,
            &["--max-filesize=1M", "--alert-exceeds-max=yes"][..],
            expect[2],
        ),
        (
            &tail,
            &["--max-filesize=1M", "--alert-exceeds-max=yes"][..],
            expect[3],
        ),
    ];
    for (target, args, want) in runs {
        let got = same(d, args, target);
        assert_eq!(got, set(&[&format!("{target}: {want}")]), "{fmt} {args:?}");
        let mut all = args.to_vec();
        all.push("--allmatch");
        same(d, &all, target);
    }
}

const OK: &str = "OK";
const HEAD: &str = "Test.Head FOUND";
const MAX_FILESIZE: &str = "Heuristics.Limits.Exceeded.MaxFileSize FOUND";

/// Zip (deflate): the member is cut to --max-filesize and its prefix scanned, no alert.
#[test]
fn oversized_zip_deflate_member() {
    oversized("zip-deflate", "zip", [HEAD, OK, HEAD, OK]);
}

/// Zip (bzip2): as deflate.
#[test]
fn oversized_zip_bzip2_member() {
    oversized("zip-bzip2", "zip", [HEAD, OK, HEAD, OK]);
}

/// Tar (inside a zip, as a top-level tar over the limit is skipped whole): the blocks that fit
/// are scanned and the limit is raised (hidden behind the match in the head case).
#[test]
fn oversized_tar_member() {
    oversized("zip-tar", "zip", [HEAD, OK, HEAD, MAX_FILESIZE]);
}

/// gzip: the stream is over the limit, so not scanned at all; the limit is raised.
#[test]
fn oversized_gzip_stream() {
    oversized("gzip", "gz", [OK, OK, MAX_FILESIZE, MAX_FILESIZE]);
}

/// bzip2: as gzip.
#[test]
fn oversized_bzip2_stream() {
    oversized("bzip2", "bz2", [OK, OK, MAX_FILESIZE, MAX_FILESIZE]);
}

/// xz: as gzip.
#[test]
fn oversized_xz_stream() {
    oversized("xz", "xz", [OK, OK, MAX_FILESIZE, MAX_FILESIZE]);
}

/// A tar.gz whose tar is over the limit: the gzip layer is refused, so the whole tar is.
#[test]
fn oversized_tar_gz() {
    oversized("tar-gz", "tar.gz", [OK, OK, MAX_FILESIZE, MAX_FILESIZE]);
}

/// Members [900K, 900K, 900K, 900K, 1K, 900K, 1K]: the budget runs out at m3. A zip stops
/// there; a tar scans the 512-byte blocks of m3 that fit and nothing after.
#[test]
fn budget_running_out_mid_archive() {
    let dir = corpus("budget");
    let d = dir.path();
    let m = |n: usize| {
        (0..n)
            .map(|i| format!("Test.M{i} FOUND"))
            .collect::<Vec<_>>()
    };
    let zip_args = ["--allmatch", "--max-filesize=1M", "--max-scansize=3M"];
    let lines = same(d, &zip_args, "zip/b.zip");
    let want: BTreeSet<String> = m(3).iter().map(|l| format!("zip/b.zip: {l}")).collect();
    assert_eq!(lines, want);
    let mut alert = zip_args.to_vec();
    alert.push("--alert-exceeds-max=yes");
    assert!(same(d, &alert, "zip/b.zip")
        .contains("zip/b.zip: Heuristics.Limits.Exceeded.MaxScanSize FOUND"));

    let tar_args = ["--allmatch", "--max-filesize=5M", "--max-scansize=7864320"];
    let lines = same(d, &tar_args, "tar/b.tar");
    let want: BTreeSet<String> = m(4).iter().map(|l| format!("tar/b.tar: {l}")).collect();
    assert_eq!(lines, want);
    let mut alert = tar_args.to_vec();
    alert.push("--alert-exceeds-max=yes");
    same(d, &alert, "tar/b.tar");

    for args in [
        &["--max-filesize=1M"][..],
        &["--max-filesize=1M", "--alert-exceeds-max=yes"][..],
    ] {
        same(d, args, "tgz/b.tar.gz");
    }
}

/// --max-files counts every layer scanned for a file, all levels together, the file itself
/// included; a zip with that many entries raises the limit.
#[test]
fn max_files_across_nesting() {
    let dir = corpus("files");
    let d = dir.path();
    for n in ["2", "3", "4", "5", "6", "8", "9", "10"] {
        let max = format!("--max-files={n}");
        for target in ["t/f.zip", "t/f.tar", "t/n.zip"] {
            same(d, &["--allmatch", &max], target);
            same(d, &["--allmatch", "--alert-exceeds-max=yes", &max], target);
            same(d, &["--alert-exceeds-max=yes", &max], target);
        }
    }
    // limits.md: n.zip with 3 → M0 only, with 5 → M0 M1 M2.
    let got = same(d, &["--allmatch", "--max-files=3"], "t/n.zip");
    assert_eq!(got, set(&["t/n.zip: Test.M0 FOUND"]));
}

/// Nesting k deep (zips and gzip layers), k = 1..19: clamscan finds the marker down to level
/// --max-recursion - 1.
#[test]
fn recursion_depth() {
    let dir = corpus("recursion");
    let d = dir.path();
    for args in [
        &[][..],
        &["--alert-exceeds-max=yes"][..],
        &["--max-recursion=3"][..],
        &["--max-recursion=3", "--alert-exceeds-max=yes"][..],
        &[
            "--max-recursion=3",
            "--max-files=2",
            "--alert-exceeds-max=yes",
        ][..],
    ] {
        let lines = same(d, args, "t");
        let found = lines
            .iter()
            .filter(|l| l.ends_with("Test.M0 FOUND"))
            .count();
        let deepest = if args.contains(&"--max-recursion=3") {
            2
        } else {
            16
        };
        if !args.contains(&"--max-files=2") {
            assert_eq!(found, 2 * deepest, "{args:?}: {lines:?}");
        }
    }
}

/// The 8-level bomb of 10 copies (100 MiB of zeros at the bottom): clamscan takes over 30 s
/// with the default limits (a 10 MiB budget takes it about 3 s); both report the scan budget.
#[test]
fn nested_bomb() {
    let dir = corpus("bomb");
    let d = dir.path();
    let got = same(
        d,
        &["--alert-exceeds-max=yes", "--max-scansize=10M"],
        "t/bomb.zip",
    );
    assert_eq!(
        got,
        set(&["t/bomb.zip: Heuristics.Limits.Exceeded.MaxScanSize FOUND"])
    );
    assert_eq!(
        same(d, &["--max-scansize=10M"], "t/bomb.zip"),
        set(&["t/bomb.zip: OK"])
    );
    // detente alone with the default limits: what the budget allows, and it says so.
    let r = detente(d, &["--json"], "t/bomb.zip");
    let j: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(j["outcome"], "partial", "{j}");
    assert_eq!(j["reasons"][0]["reason"], "max-scansize");
    assert!(j["bytes_scanned"].as_u64().unwrap() <= 400 << 20);
}

/// One zip of 30 members of 8 MiB of zeros, with --max-filesize=8M --max-scansize=32M.
#[test]
fn flat_bomb() {
    let dir = corpus("flat");
    let d = dir.path();
    let limits = ["--max-filesize=8M", "--max-scansize=32M"];
    assert_eq!(same(d, &limits, "t/flat.zip"), set(&["t/flat.zip: OK"]));
    let mut alert = limits.to_vec();
    alert.push("--alert-exceeds-max=yes");
    assert_eq!(
        same(d, &alert, "t/flat.zip"),
        set(&["t/flat.zip: Heuristics.Limits.Exceeded.MaxScanSize FOUND"])
    );
}

/// ClamAV's unit-test split zip (`PK\x07\x08` before the first local header): clam.exe
/// inside is found by both.
#[test]
fn split_zip_found() {
    require("clamscan", "clamav");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("db")).unwrap();
    // md5:size:name of clam.exe (Debian clamav-testfiles).
    std::fs::write(
        d.join("db/clam.hdb"),
        "aa15bcf478d165efd2065190eb473bcb:544:ClamAV.Test.File\n",
    )
    .unwrap();
    let split = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scan/tests/data/clam.split.oneseg.zip"
    );
    std::fs::copy(split, d.join("split.zip")).unwrap();
    let o = run(Command::new("clamscan").current_dir(d).args([
        "--no-summary",
        "-d",
        "db/clam.hdb",
        "split.zip",
    ]));
    let r = run(Command::new(DETENTE).current_dir(d).args([
        "scan",
        "--no-summary",
        "-d",
        "db/clam.hdb",
        "split.zip",
    ]));
    assert_eq!(verdicts(&o, d), set(&["split.zip: ClamAV.Test.File FOUND"]));
    assert_eq!(verdicts(&r, d), verdicts(&o, d), "{}", r.stderr);
    assert_eq!((o.code, r.code), (1, 1));
}

/// A file over --max-filesize reads `OK` in text, as in clamscan, but `skipped` (never
/// `clean`) in JSON, with the reason.
#[test]
fn skipped_file_is_not_clean_in_json() {
    let dir = corpus("outcomes");
    let d = dir.path();
    assert_eq!(
        same(d, &["--max-filesize=1M"], "t/big.bin"),
        set(&["t/big.bin: OK"])
    );
    let r = detente(d, &["--json", "--max-filesize", "1M"], "t/big.bin");
    let j: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(j["result"], "skipped", "{j}");
    assert_eq!(j["outcome"], "skipped");
    assert_eq!(j["reasons"][0]["reason"], "max-filesize");
    assert_eq!(j["bytes_scanned"], 0);
    // A zip member cut to --max-filesize: `OK` in text, `partial` in JSON.
    let r = detente(d, &["--json", "--max-filesize", "1M"], "t/cut.zip");
    let j: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(j["outcome"], "partial", "{j}");
    assert_eq!(j["reasons"][0]["member"], "m.bin");
    // With the alert, the skipped file is a detection, as in clamscan.
    let r = detente(
        d,
        &["--json", "--max-filesize", "1M", "--alert-exceeds-max"],
        "t/big.bin",
    );
    let j: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(j["signature"], "Heuristics.Limits.Exceeded.MaxFileSize");
    assert_eq!(r.code, 1);
}

fn summary_line<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key:?} in\n{out}"))
}

/// The summary: clamscan's lines with clamscan's counts, then how many files were clean,
/// partly scanned and skipped.
#[test]
fn summary_counts_each_outcome() {
    let dir = corpus("outcomes");
    let d = dir.path();
    let args = ["--max-filesize=1M"];
    let o = clamscan(d, &args, "t");
    let r = detente(d, &args, "t");
    assert_eq!(verdicts(&o, d), verdicts(&r, d));
    // (Not "Data scanned" and the ratio: clamscan counts 4 KiB blocks per layer, and the
    // whole declared size of a cut zip member.)
    let mb = |l: &str| l.split(" (").next().unwrap_or(l).to_string();
    for key in [
        "Scanned directories: ",
        "Scanned files: ",
        "Infected files: ",
        "Data read: ",
    ] {
        assert_eq!(
            mb(summary_line(&o.stdout, key)),
            mb(summary_line(&r.stdout, key)),
            "{key}\n{}\n{}",
            o.stdout,
            r.stdout
        );
    }
    // clean.bin; cut.zip (member cut); big.bin (over the limit) and empty.bin.
    assert_eq!(summary_line(&r.stdout, "Clean files: "), "1");
    assert_eq!(summary_line(&r.stdout, "Partly scanned files: "), "1");
    assert_eq!(summary_line(&r.stdout, "Skipped files: "), "2");
    assert_eq!(summary_line(&r.stdout, "Infected files: "), "1");
    // clamscan's own lines come first, in clamscan's order.
    let tail: Vec<&str> = r.stdout.lines().rev().take(4).collect();
    assert!(tail[3].starts_with("End Date:"), "{}", r.stdout);
}
