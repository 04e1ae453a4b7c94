//! `.cvd` / `.cld` containers load exactly the signatures of the files they hold.

use std::collections::BTreeMap;
use std::io::Read;

use detente_engine::{Engine, EngineBuilder, FileMeta, LoadError, LoadOptions};

const NDB: &str = "Body.Hello:0:*:68656c6c6f*776f726c64\nBody.Skip:8:*:3c736372697074\n";
const HDB: &str = "5d41402abc4b2a76b9719d911017c592:5:Hash.Hello\n";
const LDB: &str = "Lsig.Two;Engine:51-255,Target:0;0>1;414243\n";

const HEAD: &str = "ClamAV-VDB:24 Nov 2026 07-00 +0000:4:3:90:X:X:builder:1795000000";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The members of a user's own (unsigned) build: COPYING, the databases and a `.info`
/// listing each with its size and SHA-256, as sigtool writes it (without a DSIG).
fn members(files: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    use sha2::Digest;
    let mut m = BTreeMap::new();
    m.insert("COPYING".to_string(), b"licence\n".to_vec());
    let mut info = format!("{HEAD}\n");
    for (name, text) in files {
        m.insert(name.to_string(), text.as_bytes().to_vec());
        let sha = sha2::Sha256::digest(text.as_bytes());
        info += &format!("{name}:{}:{}\n", text.len(), hex(&sha));
    }
    m.insert("main.info".to_string(), info.into_bytes());
    m
}

/// A `.cld` (raw tar body) of `files`.
fn cld(files: &[(&str, &str)]) -> Vec<u8> {
    let mut c = detente_cvd::build_cld(&members(files)).unwrap();
    // build_cld gzips; a .cld may hold a raw tar too.
    let body = gunzip(&c[detente_cvd::HEADER_LEN..]);
    c.truncate(detente_cvd::HEADER_LEN);
    c.extend_from_slice(&body);
    c
}

/// A `.cvd` of `files`: gzip body, the header's MD5 right, no valid signature.
fn cvd(files: &[(&str, &str)]) -> Vec<u8> {
    use md5::Digest;
    let c = detente_cvd::build_cld(&members(files)).unwrap();
    let body = &c[detente_cvd::HEADER_LEN..];
    let md5 = hex(&md5::Md5::digest(body));
    let mut h = HEAD
        .replace(":X:X:", &format!(":{md5}:unsigned:"))
        .into_bytes();
    h.resize(detente_cvd::HEADER_LEN, b' ');
    h.extend_from_slice(body);
    h
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn unsigned() -> LoadOptions {
    LoadOptions {
        allow_unsigned: true,
        ..LoadOptions::default()
    }
}

fn detections(e: &Engine, data: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = e
        .scanner()
        .scan(data, &FileMeta::default(), true)
        .into_iter()
        .map(|d| d.name)
        .collect();
    v.sort();
    v
}

fn plain() -> Engine {
    let mut b = EngineBuilder::new(LoadOptions::default());
    b.add_database("main.ndb", NDB.as_bytes()).unwrap();
    b.add_database("main.hdb", HDB.as_bytes()).unwrap();
    b.add_database("main.ldb", LDB.as_bytes()).unwrap();
    b.build()
}

#[test]
fn cvd_and_cld_equal_their_contents() {
    let files = [("main.ndb", NDB), ("main.hdb", HDB), ("main.ldb", LDB)];
    let reference = plain();
    for (name, bytes) in [("main.cvd", cvd(&files)), ("main.cld", cld(&files))] {
        // Unsigned: refused by default, with the way out named.
        let mut b = EngineBuilder::new(LoadOptions::default());
        let err = b.add_database(name, &bytes).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{name}: ")), "{err}");
        assert!(err.contains("allow_unsigned"), "{err}");
        let mut b = EngineBuilder::new(unsigned());
        b.add_database(name, &bytes).unwrap();
        let e = b.build();
        assert_eq!(
            e.report().signatures(),
            reference.report().signatures(),
            "{name}"
        );
        assert_eq!(
            e.report().skipped.target,
            1,
            "{name}: the signature of target 8 (unused) is counted"
        );
        for data in [
            &b"hello"[..],
            b"\0\0\0\x01 hello big world ABC ABC",
            b"nothing",
        ] {
            assert_eq!(detections(&e, data), detections(&reference, data), "{name}");
        }
    }
}

#[test]
fn damaged_containers_are_named_errors() {
    let mut bytes = cvd(&[("main.ndb", NDB)]);
    let n = bytes.len();
    bytes[n - 20] ^= 0x55;
    let mut b = EngineBuilder::new(unsigned());
    let err = b.add_database("daily.cvd", &bytes).unwrap_err();
    assert!(
        matches!(&err, LoadError::File { database, message } if database == "daily.cvd" && message.contains("MD5")),
        "{err}"
    );
    let err = b.add_database("short.cld", b"ClamAV-VDB:x").unwrap_err();
    assert!(err.to_string().starts_with("short.cld: "), "{err}");
    // A member that does not match its .info entry: refused even when unsigned is allowed.
    let mut m = members(&[("main.ndb", NDB)]);
    m.insert("main.ndb".into(), b"Other:0:*:41424344\n".to_vec());
    let tampered = detente_cvd::build_cld(&m).unwrap();
    let err = b.add_database("tampered.cld", &tampered).unwrap_err();
    assert!(err.to_string().starts_with("tampered.cld: "), "{err}");
    let bad_line = cld(&[("main.ndb", "Broken:0:*:zz\n")]);
    let err = b.add_database("bad.cld", &bad_line).unwrap_err();
    assert_eq!(
        err.to_string().split(':').next(),
        Some("bad.cld/main.ndb"),
        "{err}"
    );
}

/// ClamAV's own Talos-signed test databases load with no flag; one flipped byte is refused.
/// Left out (with a line saying so) when `../shared` is not beside the checkout.
#[test]
fn talos_signed_databases_load_and_tampered_ones_do_not() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/clamav-freshclam");
    if !dir.is_dir() {
        println!("left out: {} is not present", dir.display());
        return;
    }
    for v in 1..=6 {
        let name = format!("test-{v}.cvd");
        let bytes = std::fs::read(dir.join(&name)).unwrap();
        let mut b = EngineBuilder::new(LoadOptions::default());
        b.add_database(&name, &bytes).unwrap();
        let r = b.build().report().clone();
        assert!(
            r.signatures() as u64 + r.skipped.total() > 0,
            "{name}: nothing loaded"
        );
        let mut bad = bytes.clone();
        let at = bad.len() / 2;
        bad[at] ^= 1;
        let mut b = EngineBuilder::new(unsigned());
        let err = b.add_database(&name, &bad).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{name}: ")), "{err}");
    }
}
