//! The invariant "format and protocol crates read no clock, no disk and no network" checked
//! two ways: their dependency trees (as cargo resolves them) hold no runtime, HTTP, database
//! or OS-randomness crate, and their sources name no file, socket, clock, environment or
//! process API. The engine's matcher is held to the same source rule.

use std::path::Path;
use std::process::Command;

/// Sans-IO crates, with the features they are checked under.
const SANS_IO: &[(&str, &[&str])] = &[
    ("detente-sigs", &[]),
    ("detente-tlog", &[]),
    ("detente-note", &[]),
    ("detente-policy", &[]),
    ("detente-cvd", &[]),
    ("detente-feed", &[]),
    ("detente-stix", &[]),
    ("detente-witness", &["--no-default-features"]),
    ("detente-hub", &["--no-default-features"]),
    ("detente-dap", &[]),
];

/// Crates that would give a sans-IO crate I/O, a clock source or randomness.
const FORBIDDEN_DEPS: &[&str] = &[
    "tokio",
    "mio",
    "socket2",
    "reqwest",
    "hyper",
    "axum",
    "rusqlite",
    "libsqlite3-sys",
    "getrandom",
    "rand",
    "object_store",
    "ignore",
    "walkdir",
    "tempfile",
];

/// Source text that means I/O, a clock, the environment or another process.
const FORBIDDEN_SOURCE: &[&str] = &[
    "std::fs",
    "std::net",
    "std::env",
    "std::process",
    "SystemTime",
    "Instant::now",
    "File::open",
    "File::create",
    "getrandom",
    "UNIX_EPOCH",
];

fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn sans_io_crates_depend_on_no_io_runtime() {
    for (krate, flags) in SANS_IO {
        let out = cargo_tree(krate, flags, &["--prefix", "none"]);
        assert!(
            out.status.success(),
            "cargo tree -p {krate}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8_lossy(&out.stdout);
        let deps: Vec<&str> = tree
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert!(deps.len() > 1, "{krate}: empty tree?\n{tree}");
        for bad in FORBIDDEN_DEPS {
            if !deps.contains(bad) {
                continue;
            }
            // ring (RSA verification of certificate chains) links getrandom for its own RNG,
            // which verification never calls: allowed when ring is the only way in.
            let via = inverse(krate, flags, bad);
            assert!(
                *bad == "getrandom" && via == ["ring"],
                "{krate} {flags:?} depends on {bad} (through {via:?}):\n{tree}"
            );
        }
    }
}

/// `cargo tree` of `krate`'s normal dependencies.
fn cargo_tree(krate: &str, flags: &[&str], extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO"))
        .current_dir(workspace())
        .args(["tree", "--offline", "-e", "normal", "-p", krate])
        .args(flags)
        .args(extra)
        .output()
        .expect("cargo tree")
}

/// The crates that depend directly on `dep` in `krate`'s tree.
fn inverse(krate: &str, flags: &[&str], dep: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO"))
        .current_dir(workspace())
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "depth",
            "-p",
            krate,
        ])
        .args(flags)
        .args(["-i", dep])
        .output()
        .expect("cargo tree -i");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix('1'))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    v.sort();
    v.dedup();
    v
}

fn check_sources(dir: &Path, allow: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if allow.contains(&name.as_str()) {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            // Unit tests may use the disk and the clock.
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for bad in FORBIDDEN_SOURCE {
                if code.contains(bad) {
                    found.push(format!("{}: {bad}", p.display()));
                }
            }
        }
    }
    found
}

#[test]
fn sans_io_sources_name_no_file_socket_or_clock() {
    let mut found = Vec::new();
    for (krate, _) in SANS_IO {
        let dir = workspace()
            .join("crates")
            .join(krate.trim_start_matches("detente-"))
            .join("src");
        // The witness node (feature `server`) is the crate's I/O edge.
        let allow: &[&str] = if *krate == "detente-witness" {
            &[
                "node.rs",
                "keys.rs",
                "server.rs",
                "store.rs",
                "detente-witness-testd.rs",
            ]
        } else if *krate == "detente-hub" {
            // The hub's I/O edge (feature `server`): the operations over store and log,
            // the stores, HTTP and the web view.
            &["hub.rs", "http.rs", "web.rs", "sqlite.rs", "postgres.rs"]
        } else {
            &[]
        };
        found.extend(check_sources(&dir, allow));
    }
    // The engine scans bytes and reads databases from `Read`ers its caller opened.
    found.extend(check_sources(&workspace().join("crates/engine/src"), &[]));
    assert!(
        found.is_empty(),
        "I/O in sans-IO code:\n{}",
        found.join("\n")
    );
}
