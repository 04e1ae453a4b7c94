//! Target types and executable-relative offsets against clamscan, on real executables: PE
//! (ClamAV's own `clam.exe`, and Go's PE32 and PE32+ test files), ELF (system binaries and Go's ELF test
//! files: 32 and 64 bit, both byte orders, objects without program headers) and Mach-O (Go's
//! test files: 32 and 64 bit, and a universal binary).
//!
//! A universal Mach-O binary has no layout of its own (ClamAV reads none: no relative offset
//! matches in it, `EOF-n` included); its architecture slices are scanned as files of their
//! own. Left out, because clamscan looks inside them and detente does not yet: packed PEs
//! (UPX, FSG, MEW, Petite), whose unpacked images clamscan scans too.
//!
//! Signatures are generated from each host's layout as detente computes it (`EP+n`, `EP-n`,
//! `Sx+n`, `SEx`, `SL+n`, each with and without `,m`, plus `EntryPoint` and
//! `NumberOfSections` conditions), with decoys one byte off; clamscan decides. A layout
//! computed wrongly shows as signatures detente finds and clamscan doesn't.

use super::*;

/// Hosts: (file name in the corpus, bytes).
fn hosts() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let p = Path::new(TESTFILES).join("clam.exe");
    let d = fs::read(&p).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: install the Debian package clamav-testfiles",
            p.display()
        )
    });
    out.push(("pe_clam.exe".to_string(), d));
    for p in ["/usr/bin/true", "/usr/bin/env"] {
        let d = fs::read(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        out.push((format!("elf_{}", p.rsplit('/').next().unwrap_or("x")), d));
    }
    let go = ["/usr/share/go", "/usr/lib/go"]
        .iter()
        .map(PathBuf::from)
        .chain(
            fs::read_dir("/usr/share")
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().contains("/go-")),
        )
        .find(|p| p.join("src/debug/elf/testdata").is_dir())
        .unwrap_or_else(|| {
            panic!("Go's sources (src/debug/elf/testdata) not found: install the Debian package golang-go")
        });
    for n in [
        "gcc-386-freebsd-exec",
        "gcc-amd64-linux-exec",
        "go-relocation-test-gcc5-ppc.obj",
        "go-relocation-test-gcc531-s390x.obj",
        "go-relocation-test-gcc492-mipsle.obj",
    ] {
        let p = go.join("src/debug/elf/testdata").join(n);
        let d = fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        out.push((format!("elf_{n}"), d));
    }
    for n in [
        "gcc-386-mingw-exec",
        "gcc-amd64-mingw-exec",
        "llvm-mingw-20211002-msvcrt-x86_64-crt2",
    ] {
        let p = go.join("src/debug/pe/testdata").join(n);
        let d = fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        out.push((format!("pe_{n}"), d));
    }
    use base64::Engine as _;
    for n in [
        "gcc-386-darwin-exec",
        "gcc-amd64-darwin-exec",
        "clang-amd64-darwin-exec-with-rpath",
        "fat-gcc-386-amd64-darwin-exec",
    ] {
        let p = go
            .join("src/debug/macho/testdata")
            .join(format!("{n}.base64"));
        let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let clean: String = text.split_whitespace().collect();
        let d = base64::engine::general_purpose::STANDARD
            .decode(clean)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        out.push((format!("macho_{n}"), d));
    }
    out
}

fn target_of(name: &str) -> u32 {
    if name.starts_with("pe_") {
        1
    } else if name.starts_with("elf_") {
        6
    } else {
        9
    }
}

#[test]
fn clamav_executable_offsets_and_targets() {
    let oracle = run_group("executable offsets and targets", hosts(), 10);
    // Harness: clamscan finds each kind somewhere, and no decoy kind anywhere... except
    // where the bytes repeat, which the comparison judges as well.
    let found = |suffix: &str| {
        oracle
            .iter()
            .filter(|(_, v)| v.split(' ').next().is_some_and(|n| n.ends_with(suffix)))
            .count()
    };
    for kind in [
        ".own", ".ep0", ".ep16", ".eprange", ".sl", ".lep", ".lnos", ".se1", ".s1",
    ] {
        assert!(
            found(kind) > 0,
            "harness: clamscan finds no {kind} signature"
        );
    }
    // The same bytes under another target match far less (only where they recur in files
    // of that target, such as runs of zeros).
    assert!(
        found(".other") * 2 < found(".own"),
        "harness: targets make no difference ({} .other, {} .own)",
        found(".other"),
        found(".own")
    );
    for (good, bad) in [
        (".lnos", ".lnosbad"),
        (".lep", ".lepbad"),
        (".ep0", ".epbad"),
    ] {
        assert!(
            found(bad) < found(good),
            "harness: the decoys {bad} match as often as {good}"
        );
    }
}

/// Writes `hosts` and signatures generated from their layouts, compares detente with
/// clamscan over them, and returns clamscan's verdicts.
fn run_group(what: &str, hosts: Vec<(String, Vec<u8>)>, min_layouts: usize) -> Verdicts {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("corpus");
    fs::create_dir_all(&root).unwrap();
    let mut ndb = String::new();
    let mut ldb = String::new();
    let mut layouts = 0;
    for (h, (name, data)) in hosts.into_iter().enumerate() {
        fs::write(root.join(&name), &data).unwrap();
        let t = target_of(&name);
        let other = if t == 1 { 6 } else { 1 };
        let at = |o: u64, n: usize| -> Option<String> {
            let o = usize::try_from(o).ok()?;
            data.get(o..o.checked_add(n)?).map(hex)
        };
        // A plain signature of the host's own bytes, for every host: the target decides.
        // Distinctive bytes from the middle on (not padding another file may hold too).
        let mid = (data.len() / 2..data.len().saturating_sub(12)).find(|&o| {
            let w = &data[o..o + 12];
            w.iter().collect::<BTreeSet<_>>().len() >= 9
        });
        if let Some(o) = mid {
            let b = hex(&data[o..o + 12]);
            writeln!(ndb, "T{h}.own:{t}:*:{b}").unwrap();
            writeln!(ndb, "T{h}.other:{other}:*:{b}").unwrap();
            // ClamAV reads no layout from a universal Mach-O (nor from a header it can't
            // read), and then lets no EOF-n offset match either.
            let back = (data.len() - o) as u64;
            writeln!(ndb, "T{h}.eof:0:EOF-{back}:{b}").unwrap();
        }
        let Some(l) = detente_engine::executable_layout(&data) else {
            continue;
        };
        layouts += 1;
        let e = l.entry;
        for (tag, off, pos) in [
            ("ep0", "EP+0".to_string(), Some(e)),
            ("ep16", "EP+16".to_string(), e.checked_add(16)),
            ("epm", "EP-4".to_string(), e.checked_sub(4)),
            ("eprange", "EP+0,40".to_string(), e.checked_add(24)),
            ("epbad", "EP+1".to_string(), Some(e)),
        ] {
            if let Some(b) = pos.and_then(|p| at(p, 10)) {
                writeln!(ndb, "T{h}.{tag}:{t}:{off}:{b}").unwrap();
            }
        }
        let n = l.sections.len();
        for (i, &(raw, rsz)) in l.sections.iter().enumerate().take(12) {
            if rsz < 48 {
                continue;
            }
            if let Some(b) = at(raw + 8, 10) {
                writeln!(ndb, "T{h}.s{i}:{t}:S{i}+8:{b}").unwrap();
                writeln!(ndb, "T{h}.s{i}bad:{t}:S{i}+9:{b}").unwrap();
                writeln!(ndb, "T{h}.s{i}range:{t}:S{i}+0,8:{b}").unwrap();
            }
            if let Some(b) = at(raw + rsz / 2, 10) {
                writeln!(ndb, "T{h}.se{i}:{t}:SE{i}:{b}").unwrap();
            }
            if let Some(b) = at(raw + rsz - 4, 10) {
                // Past the section's end unless the shift reaches there.
                writeln!(ndb, "T{h}.se{i}end:{t}:SE{i}:{b}").unwrap();
                writeln!(ndb, "T{h}.se{i}shift:{t}:SE{i},8:{b}").unwrap();
            }
        }
        if let Some(&(raw, _)) = l.sections.last() {
            if let Some(b) = at(raw, 8) {
                writeln!(ndb, "T{h}.sl:{t}:SL+0:{b}").unwrap();
                writeln!(ndb, "T{h}.slbad:{t}:SL+2:{b}").unwrap();
            }
        }
        if let Some(b) = at(data.len() as u64 / 3, 12) {
            for (tag, cond) in [
                ("lep", format!("EntryPoint:{e}-{e}")),
                ("lepbad", format!("EntryPoint:{}-{}", e + 1, e + 9)),
                ("lnos", format!("NumberOfSections:{n}-{n}")),
                (
                    "lnosbad",
                    format!("NumberOfSections:0-{}", n.saturating_sub(1)),
                ),
            ] {
                writeln!(ldb, "T{h}.{tag};Engine:51-255,Target:{t},{cond};0;{b}").unwrap();
            }
        }
    }
    assert!(
        layouts >= min_layouts,
        "harness: only {layouts} hosts have a layout"
    );
    let db = tmp.path().join("db");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("exe.ndb"), &ndb).unwrap();
    fs::write(db.join("exe.ldb"), &ldb).unwrap();
    compare_with_clamscan(what, &db, &root, &["--allmatch"], &["--allmatch"])
}

/// `VI` offsets: a signature must start exactly at one of a PE's version-information strings
/// (its UTF-16 key). Hosts: ClamAV's test PEs that carry version information.
#[test]
fn clamav_version_info_offsets() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("corpus");
    fs::create_dir_all(&root).unwrap();
    let mut ndb = String::new();
    let mut strings = 0;
    for (h, n) in [
        "clam.ea05.exe",
        "clam.ea06.exe",
        "clam_IScab_ext.exe",
        "clam_ISmsi_ext.exe",
    ]
    .iter()
    .enumerate()
    {
        let p = Path::new(TESTFILES).join(n);
        let data = fs::read(&p).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: install the Debian package clamav-testfiles",
                p.display()
            )
        });
        fs::write(root.join(n), &data).unwrap();
        let Some(l) = detente_engine::executable_layout(&data) else {
            continue;
        };
        for (i, &o) in l.version_info.iter().enumerate() {
            let o = o as usize;
            let (Some(at), Some(off2)) = (data.get(o..o + 16), data.get(o + 2..o + 18)) else {
                continue;
            };
            strings += 1;
            writeln!(ndb, "V{h}.vi{i}:1:VI:{}", hex(at)).unwrap();
            writeln!(ndb, "V{h}.vi{i}bad:1:VI:{}", hex(off2)).unwrap();
            // The same bytes anywhere, and under target 0 with no offset.
            writeln!(ndb, "V{h}.any{i}:1:*:{}", hex(at)).unwrap();
        }
    }
    assert!(
        strings >= 8,
        "harness: only {strings} version strings found"
    );
    let db = tmp.path().join("db");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("vi.ndb"), &ndb).unwrap();
    let oracle = compare_with_clamscan("VI offsets", &db, &root, &["--allmatch"], &["--allmatch"]);
    let found = |suffix: &str| {
        oracle
            .iter()
            .filter(|(_, v)| v.split(' ').next().is_some_and(|n| n.contains(suffix)))
            .count()
    };
    assert!(
        found(".vi") > found("bad"),
        "harness: VI decoys match as often"
    );
}
