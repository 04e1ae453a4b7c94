//! `.cvd` / `.cld` containers load exactly the signatures of the files they hold.

use std::io::Write;

use detente_engine::{Engine, EngineBuilder, FileMeta, LoadError, LoadOptions};

const NDB: &str = "Body.Hello:0:*:68656c6c6f*776f726c64\nBody.Skip:1:*:4d5a9000\n";
const HDB: &str = "5d41402abc4b2a76b9719d911017c592:5:Hash.Hello\n";
const LDB: &str = "Lsig.Two;Engine:51-255,Target:0;0>1;414243\n";

fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, text.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

fn container(body: Vec<u8>) -> Vec<u8> {
    use md5::Digest;
    let md5: String = md5::Md5::digest(&body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut h =
        format!("ClamAV-VDB:24 Nov 2026 07-00 +0000:27000:4:90:{md5}:sig:builder:1795000000")
            .into_bytes();
    h.resize(512, b' ');
    h.extend_from_slice(&body);
    h
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
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
    let files = [
        ("main.ndb", NDB),
        ("main.hdb", HDB),
        ("main.ldb", LDB),
        ("main.info", "x"),
    ];
    let tar = tar_of(&files);
    let reference = plain();
    for (name, bytes) in [
        ("main.cvd", container(gzip(&tar))),
        ("main.cld", container(tar.clone())),
    ] {
        let mut b = EngineBuilder::new(LoadOptions::default());
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
            "{name}: the PE-only signature is counted"
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
    let tar = tar_of(&[("main.ndb", NDB)]);
    let mut bytes = container(gzip(&tar));
    let n = bytes.len();
    bytes[n - 20] ^= 0x55;
    let mut b = EngineBuilder::new(LoadOptions::default());
    let err = b.add_database("daily.cvd", &bytes).unwrap_err();
    assert!(
        matches!(&err, LoadError::File { database, message } if database == "daily.cvd" && message.contains("MD5")),
        "{err}"
    );
    let err = b.add_database("short.cld", b"ClamAV-VDB:x").unwrap_err();
    assert!(err.to_string().starts_with("short.cld: "), "{err}");
    let bad_line = container(tar_of(&[("main.ndb", "Broken:0:*:zz\n")]));
    let err = b.add_database("bad.cld", &bad_line).unwrap_err();
    assert_eq!(
        err.to_string().split(':').next(),
        Some("bad.cld/main.ndb"),
        "{err}"
    );
}
