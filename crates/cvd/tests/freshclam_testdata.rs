//! Tests against ClamAV's own freshclam test databases (real Talos signatures), read from
//! `../shared/testdata/clamav-freshclam` relative to the workspace; skipped if absent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use detente_cvd::{
    apply, build_cld, pem_certificates, verify_cdiff, verify_cvd, verify_sign, ContainerKind,
    CvdOptions, ErrorKind, CLAMAV_ROOT_CA_DER,
};

/// 2026-06-01T00:00:00Z: inside the TEST root's validity (it expires 2027-03-26).
const JUNE_2026: u64 = 1_780_272_000;
/// 2027-03-27T00:00:00Z: the day after the TEST root expires.
const AFTER_TEST_ROOT_EXPIRY: u64 = 1_806_105_600;
const FLEVEL: u32 = 240;

fn data_dir() -> Option<PathBuf> {
    let d =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/clamav-freshclam");
    if d.is_dir() {
        Some(d)
    } else {
        println!("skipping: ../shared/testdata/clamav-freshclam not present");
        None
    }
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap()
}

fn members(dir: &Path, n: u32) -> BTreeMap<String, Vec<u8>> {
    let name = format!("test-{n}.cvd");
    verify_cvd(&name, &read(dir, &name), &CvdOptions::default())
        .unwrap()
        .members
}

fn test_root() -> Vec<u8> {
    let pem = include_bytes!("data/clamav-test-root-ca.crt");
    let mut certs = pem_certificates(pem);
    assert_eq!(certs.len(), 1);
    certs.remove(0)
}

fn kind_of(name: &str, bytes: &[u8], opts: &CvdOptions) -> ErrorKind {
    verify_cvd(name, bytes, opts).unwrap_err().kind
}

#[test]
fn all_cvds_verify() {
    let Some(dir) = data_dir() else { return };
    for n in 1..=6u32 {
        let name = format!("test-{n}.cvd");
        let v = verify_cvd(&name, &read(&dir, &name), &CvdOptions::default()).unwrap();
        assert_eq!(v.kind, ContainerKind::Cvd);
        assert!(v.signed && v.compressed);
        assert_eq!(v.header.version, n);
        assert_eq!(v.header.flevel, 81);
        assert_eq!(v.info_name, "test.info");
        assert!(v.members.contains_key("COPYING"));
        // Every member but COPYING and the .info is listed.
        assert_eq!(v.entries.len(), v.members.len() - 2);
    }
    assert_eq!(members(&dir, 1).len(), 4);
    assert_eq!(members(&dir, 6).len(), 20);
}

#[test]
fn cvd_tampering_is_refused() {
    let Some(dir) = data_dir() else { return };
    let opts = CvdOptions::default();
    let orig = read(&dir, "test-1.cvd");

    let mut body = orig.clone();
    body[4000] ^= 1;
    assert!(matches!(
        kind_of("test-1.cvd", &body, &opts),
        ErrorKind::HeaderMd5 { .. }
    ));

    let dsig_at = orig.windows(6).position(|w| w == b"ttQeKz").unwrap();
    let mut dsig = orig.clone();
    dsig[dsig_at] = b'u';
    let e = verify_cvd("test-1.cvd", &dsig, &opts).unwrap_err();
    assert_eq!(e.kind, ErrorKind::HeaderSignature);
    assert!(
        e.to_string()
            .starts_with("test-1.cvd: header signature does not verify"),
        "{e}"
    );
    assert!(e.to_string().contains("allow_unsigned"));
    // ClamAV compares the header MD5 case-sensitively with lowercase hex.
    let md5_at = orig
        .windows(32)
        .position(|w| w == b"a4ab60ae1c1c4e8f787459102dcfd90b")
        .unwrap();
    let mut upper = orig.clone();
    upper[md5_at..md5_at + 32].make_ascii_uppercase();
    assert!(matches!(
        kind_of("test-1.cvd", &upper, &opts),
        ErrorKind::HeaderMd5 { .. }
    ));

    // Every single-bit flip of the header (bits 0 and 5) and of the body (bit 0) is refused.
    for i in 0..orig.len() {
        for bit in [0u8, 5] {
            if bit == 5 && i >= 512 {
                continue;
            }
            let mut t = orig.clone();
            t[i] ^= 1 << bit;
            assert!(
                verify_cvd("test-1.cvd", &t, &opts).is_err(),
                "flip of bit {bit} at {i} accepted"
            );
        }
    }
    assert_eq!(
        kind_of("test-1.cvd", &orig[..511], &opts),
        ErrorKind::HeaderTooShort
    );
    assert!(verify_cvd("test-1.cvd", &orig[..orig.len() - 1], &opts).is_err());
    assert_eq!(
        kind_of("test-1.txt", &orig, &opts),
        ErrorKind::UnknownContainer
    );
}

#[test]
fn info_and_member_tampering_is_refused() {
    let Some(dir) = data_dir() else { return };
    let opts = CvdOptions::default();
    let good = members(&dir, 1);
    let v = verify_cvd("test.cld", &build_cld(&good).unwrap(), &opts).unwrap();
    assert_eq!(v.members, good);

    // A flipped byte in .info (inside an entry's hash) breaks its DSIG.
    let mut m = good.clone();
    let info = m.get_mut("test.info").unwrap();
    let at = info.windows(9).position(|w| w == b"test.ndb:").unwrap() + 20;
    info[at] ^= 1;
    let cld = build_cld(&m).unwrap();
    assert_eq!(kind_of("test.cld", &cld, &opts), ErrorKind::InfoSignature);

    // A flipped byte in a member breaks its SHA-256.
    let mut m = good.clone();
    m.get_mut("test.ldb").unwrap()[10] ^= 1;
    let cld = build_cld(&m).unwrap();
    assert_eq!(
        kind_of("test.cld", &cld, &opts),
        ErrorKind::MemberHash("test.ldb".into())
    );
    // ...also with allow_unsigned, which only relaxes signatures, never integrity.
    let unsigned = CvdOptions {
        allow_unsigned: true,
        ..CvdOptions::default()
    };
    assert_eq!(
        kind_of("test.cvd", &cld, &unsigned),
        ErrorKind::MemberHash("test.ldb".into())
    );

    let mut m = good.clone();
    m.get_mut("test.ndb").unwrap().pop();
    let cld = build_cld(&m).unwrap();
    assert!(matches!(
        kind_of("test.cld", &cld, &opts),
        ErrorKind::MemberSize { .. }
    ));

    let mut m = good.clone();
    m.insert("extra.hdb".into(), b"x\n".to_vec());
    m.insert(
        "notes.txt".into(),
        b"unlisted but not a database\n".to_vec(),
    );
    let cld = build_cld(&m).unwrap();
    assert_eq!(
        kind_of("test.cld", &cld, &opts),
        ErrorKind::MemberNotListed("extra.hdb".into())
    );

    let mut m = good.clone();
    m.remove("test.ldb");
    let cld = build_cld(&m).unwrap();
    assert_eq!(
        kind_of("test.cld", &cld, &opts),
        ErrorKind::MemberMissing("test.ldb".into())
    );

    // The unsigned .cld header must agree with the signed .info header line.
    let mut cld = build_cld(&good).unwrap();
    let at = cld.windows(8).position(|w| w == b":1:0:81:").unwrap();
    cld[at + 1] = b'2';
    assert!(matches!(
        kind_of("test.cld", &cld, &opts),
        ErrorKind::InfoHeaderMismatch {
            field: "version",
            ..
        }
    ));

    // A .cld is not a .cvd: it has no header signature.
    let cld = build_cld(&good).unwrap();
    let e = verify_cvd("test.cvd", &cld, &opts).unwrap_err();
    assert_eq!(e.kind, ErrorKind::HeaderSignatureMissing);
    assert!(e.to_string().contains("allow_unsigned"));
    let v = verify_cvd("test.cvd", &cld, &unsigned).unwrap();
    assert!(!v.signed);
}

#[test]
fn cdiff_chain_reproduces_test_6() {
    let Some(dir) = data_dir() else { return };
    let mut m = members(&dir, 1);
    for n in 2..=6u32 {
        let name = format!("test-{n}.cdiff");
        let script = verify_cdiff(&name, &read(&dir, &name)).unwrap();
        assert_eq!(script.version(), Some(n));
        apply(&script, &mut m).unwrap();
        assert_eq!(m, members(&dir, n), "after {name}");
    }
    // The patched database, written as freshclam's .cld, verifies and loads back identically.
    let cld = build_cld(&m).unwrap();
    let v = verify_cvd("test.cld", &cld, &CvdOptions::default()).unwrap();
    assert_eq!(v.kind, ContainerKind::Cld);
    assert!(v.signed && v.compressed);
    assert_eq!(
        (v.header.version, v.header.sigs, v.header.stime),
        (6, 14, 1624412045)
    );
    assert_eq!(
        (v.header.md5.as_deref(), v.header.dsig.as_deref()),
        (None, None)
    );
    assert_eq!(v.members, members(&dir, 6));
    assert!(cld.starts_with(b"ClamAV-VDB:22 Jun 2021 21-34 -0400:6:14:81:X:X:micasnyd:1624412045 "));
}

#[test]
fn cdiff_out_of_order_fails_atomically() {
    let Some(dir) = data_dir() else { return };
    let mut m = members(&dir, 1);
    let before = m.clone();
    let script = verify_cdiff("test-4.cdiff", &read(&dir, "test-4.cdiff")).unwrap();
    let e = apply(&script, &mut m).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Script { .. }), "{e}");
    assert!(e.to_string().starts_with("test-4.cdiff: line "), "{e}");
    assert_eq!(m, before);
}

#[test]
fn cdiff_tampering_is_refused() {
    let Some(dir) = data_dir() else { return };
    for n in 2..=6u32 {
        let name = format!("test-{n}.cdiff");
        let orig = read(&dir, &name);
        for i in 0..orig.len() {
            let mut t = orig.clone();
            t[i] ^= 1;
            let e = verify_cdiff(&name, &t).unwrap_err();
            assert!(
                matches!(
                    e.kind,
                    ErrorKind::CdiffSignature | ErrorKind::CdiffNoSignature
                ),
                "{name} flip at {i}: {e}"
            );
        }
        assert!(verify_cdiff(&name, &orig[..orig.len() - 1]).is_err());
        let mut longer = orig.clone();
        longer.push(b'b');
        assert!(verify_cdiff(&name, &longer).is_err());
        // Quirk kept from ClamAV: the signature is a little-endian base-64 number, so a
        // trailing 'a' (digit 0) does not change it. The signed bytes are unchanged.
        let mut zero = orig.clone();
        zero.push(b'a');
        assert!(verify_cdiff(&name, &zero).is_ok());
    }
}

fn signed_files() -> Vec<String> {
    let mut v: Vec<String> = (1..=6).map(|n| format!("test-{n}.cvd")).collect();
    v.extend((2..=6).map(|n| format!("test-{n}.cdiff")));
    v
}

#[test]
fn sign_files_verify_against_the_test_root() {
    let Some(dir) = data_dir() else { return };
    let root = test_root();
    let files = signed_files();
    assert_eq!(files.len(), 11);
    for f in &files {
        let data = read(&dir, f);
        let sign = read(&dir, &format!("{f}.sign"));
        let s = verify_sign(f, &data, &sign, &[&root], JUNE_2026, FLEVEL).unwrap();
        assert_eq!(s.common_names, ["ClamAV TEST CVD Signing Cert"], "{f}");
        assert_eq!(s.line, 2);
        // Several anchors: the right one is found.
        verify_sign(
            f,
            &data,
            &sign,
            &[CLAMAV_ROOT_CA_DER, &root],
            JUNE_2026,
            FLEVEL,
        )
        .unwrap();
    }
}

#[test]
fn sign_files_are_refused_otherwise() {
    let Some(dir) = data_dir() else { return };
    let root = test_root();
    for f in &signed_files() {
        let data = read(&dir, f);
        let sign = read(&dir, &format!("{f}.sign"));
        let hard = |anchors: &[&[u8]], data: &[u8], sign: &[u8], now: u64| {
            let e = verify_sign(f, data, sign, anchors, now, FLEVEL).unwrap_err();
            assert!(
                matches!(e.kind, ErrorKind::SignInvalid { line: 2, .. }),
                "{f}: {e}"
            );
            assert!(!e.allows_legacy_fallback());
            e
        };
        // The production root did not issue the TEST chain.
        let e = hard(&[CLAMAV_ROOT_CA_DER], &data, &sign, JUNE_2026);
        assert!(e.to_string().contains("certificate chain"), "{e}");
        // After the TEST root expires.
        let e = hard(&[&root], &data, &sign, AFTER_TEST_ROOT_EXPIRY);
        assert!(e.to_string().contains("not valid at"), "{e}");
        // Before the signing certificates were issued (2020-01-01).
        hard(&[&root], &data, &sign, 1_577_836_800);
        // A tampered file.
        let mut t = data.clone();
        let mid = t.len() / 2;
        t[mid] ^= 1;
        let e = hard(&[&root], &t, &sign, JUNE_2026);
        assert!(e.to_string().contains("messageDigest"), "{e}");
        // A tampered signature value (near the end of the base64, inside the RSA signature).
        let mut s = sign.clone();
        let at = s.len() - 20;
        s[at] = if s[at] == b'A' { b'B' } else { b'A' };
        let e = hard(&[&root], &data, &s, JUNE_2026);
        assert!(e.to_string().contains("RSA signature"), "{e}");
        // No line for this functionality level: the caller may fall back to the legacy dsig.
        let e = verify_sign(f, &data, &sign, &[&root], JUNE_2026, 229).unwrap_err();
        assert_eq!(e.kind, ErrorKind::SignNoApplicableLine { flevel: 229 });
        assert!(e.allows_legacy_fallback());
    }
}

#[test]
fn first_applicable_sign_line_wins() {
    let Some(dir) = data_dir() else { return };
    let root = test_root();
    let data = read(&dir, "test-1.cvd");
    let sign = String::from_utf8(read(&dir, "test-1.cvd.sign")).unwrap();
    let line = sign.lines().nth(1).unwrap();
    let other = String::from_utf8(read(&dir, "test-2.cvd.sign")).unwrap();
    let wrong = other.lines().nth(1).unwrap();
    // A line for other flevels is skipped; comments and blank lines too.
    let skip = format!(
        "#clamsign-1.0\n# c\n\n{}\n{line}\n",
        wrong.replacen("230::", "100:200:", 1)
    );
    assert_eq!(
        verify_sign("t", &data, skip.as_bytes(), &[&root], JUNE_2026, FLEVEL)
            .unwrap()
            .line,
        5
    );
    // An applicable line that does not verify stops: the good line after it is not tried.
    let bad_first = format!("#clamsign-1.0\n{wrong}\n{line}\n");
    let e = verify_sign(
        "t",
        &data,
        bad_first.as_bytes(),
        &[&root],
        JUNE_2026,
        FLEVEL,
    )
    .unwrap_err();
    assert!(matches!(e.kind, ErrorKind::SignInvalid { line: 2, .. }));
}
