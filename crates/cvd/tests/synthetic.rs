//! Tests with synthetic data (no signatures available, so mostly `allow_unsigned`): unsigned
//! user builds, bounded unpacking, and robustness against malformed input.

use std::collections::BTreeMap;
use std::io::Write;

use detente_cvd::{
    apply, build_cld, verify_cdiff, verify_cvd, verify_sign, CvdHeader, CvdOptions, ErrorKind,
    Script, CLAMAV_ROOT_CA_DER, HEADER_LEN,
};
use flate2::{write::GzEncoder, Compression};
use md5::{Digest, Md5};
use sha2::Sha256;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const HEAD: &str = "ClamAV-VDB:01 Jan 2026 00-00 +0000:3:2:90:X:X:tester:1767225600";

/// Members of an unsigned user build: COPYING, a .info listing two databases, no DSIG.
fn user_build() -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    m.insert("COPYING".to_string(), b"licence\n".to_vec());
    m.insert("user.ndb".to_string(), b"Sig.A:0:*:41424344\n".to_vec());
    m.insert(
        "user.hdb".to_string(),
        b"44d88612fea8a8f36de82e1278abb02f:68:Eicar\n".to_vec(),
    );
    let mut info = format!("{HEAD}\n");
    for n in ["user.ndb", "user.hdb"] {
        let d = &m[n];
        info += &format!("{n}:{}:{}\n", d.len(), hex(&Sha256::digest(d)));
    }
    m.insert("user.info".to_string(), info.into_bytes());
    m
}

/// A `.cvd` with a correct header MD5 and a given dsig around `body`.
fn cvd_with_body(body: &[u8], dsig: &str) -> Vec<u8> {
    let md5 = hex(&Md5::digest(body));
    let mut h = format!("ClamAV-VDB:01 Jan 2026 00-00 +0000:3:2:90:{md5}:{dsig}:tester:1767225600")
        .into_bytes();
    h.resize(HEADER_LEN, b' ');
    h.extend_from_slice(body);
    h
}

fn unsigned() -> CvdOptions {
    CvdOptions {
        allow_unsigned: true,
        ..CvdOptions::default()
    }
}

#[test]
fn unsigned_user_builds_need_allow_unsigned() {
    let m = user_build();
    let cld = build_cld(&m).unwrap();
    let e = verify_cvd("user.cld", &cld, &CvdOptions::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InfoSignatureMissing);
    assert!(e.to_string().contains("allow_unsigned"), "{e}");
    let v = verify_cvd("user.cld", &cld, &unsigned()).unwrap();
    assert!(!v.signed);
    assert_eq!(v.members, m);
    assert_eq!(v.header.version, 3);

    // As a .cvd with a correct MD5 and a bogus signature.
    let body = &cld[HEADER_LEN..];
    let cvd = cvd_with_body(body, "bogusSignature");
    let e = verify_cvd("user.cvd", &cvd, &CvdOptions::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::HeaderSignature);
    assert_eq!(
        e.to_string(),
        "user.cvd: header signature does not verify (set allow_unsigned to accept unsigned user builds)"
    );
    let v = verify_cvd("user.cvd", &cvd, &unsigned()).unwrap();
    assert!(!v.signed);
    assert_eq!(v.header.md5.as_deref().map(str::len), Some(32));
    // A bogus DSIG line is refused too, unless allow_unsigned.
    let mut m2 = m.clone();
    m2.get_mut("user.info")
        .unwrap()
        .extend_from_slice(b"DSIG:abcdef\n");
    let cld2 = build_cld(&m2).unwrap();
    assert_eq!(
        verify_cvd("user.cld", &cld2, &CvdOptions::default())
            .unwrap_err()
            .kind,
        ErrorKind::InfoSignature
    );
    assert!(verify_cvd("user.cld", &cld2, &unsigned()).is_ok());
}

#[test]
fn raw_tar_bodies_are_accepted() {
    // A body starting with "COPYING" is an uncompressed tar.
    let cld = build_cld(&user_build()).unwrap();
    let mut d = flate2::read::GzDecoder::new(&cld[HEADER_LEN..]);
    let mut tar = Vec::new();
    std::io::Read::read_to_end(&mut d, &mut tar).unwrap();
    assert!(tar.starts_with(b"COPYING\0"));
    let mut raw = cld[..HEADER_LEN].to_vec();
    raw.extend_from_slice(&tar);
    let v = verify_cvd("user.cld", &raw, &unsigned()).unwrap();
    assert!(!v.compressed);
    assert_eq!(v.members, user_build());
}

#[test]
fn gzip_bomb_is_refused_beyond_the_cap() {
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(&vec![0u8; 8 << 20]).unwrap();
    let bomb = e.finish().unwrap();
    assert!(bomb.len() < 64 << 10);
    let cvd = cvd_with_body(&bomb, "x");
    let opts = CvdOptions {
        allow_unsigned: true,
        max_unpacked: 1 << 20,
        ..CvdOptions::default()
    };
    assert_eq!(
        verify_cvd("bomb.cvd", &cvd, &opts).unwrap_err().kind,
        ErrorKind::TooLarge { limit: 1 << 20 }
    );
    // Under a larger cap it unpacks (to an empty archive: zero blocks) and fails later.
    let opts = CvdOptions {
        max_unpacked: 16 << 20,
        ..opts
    };
    assert_eq!(
        verify_cvd("bomb.cvd", &cvd, &opts).unwrap_err().kind,
        ErrorKind::InfoMissing
    );
}

#[test]
fn member_count_is_bounded() {
    let mut m = user_build();
    for i in 0..20 {
        m.insert(format!("f{i}.txt"), vec![]);
    }
    let cld = build_cld(&m).unwrap();
    let opts = CvdOptions {
        allow_unsigned: true,
        max_members: 10,
        ..CvdOptions::default()
    };
    assert_eq!(
        verify_cvd("user.cld", &cld, &opts).unwrap_err().kind,
        ErrorKind::TooManyMembers { limit: 10 }
    );
}

#[test]
fn build_cld_needs_copying_and_one_info() {
    let mut m = user_build();
    m.remove("COPYING");
    assert_eq!(
        build_cld(&m).unwrap_err().kind,
        ErrorKind::BuildMissing("COPYING")
    );
    let mut m = user_build();
    m.remove("user.info");
    assert!(matches!(
        build_cld(&m).unwrap_err().kind,
        ErrorKind::BuildMissing(_)
    ));
    let mut m = user_build();
    m.insert("other.info".into(), vec![]);
    assert!(matches!(
        build_cld(&m).unwrap_err().kind,
        ErrorKind::InfoDuplicate(_)
    ));
    let mut m = user_build();
    m.insert("x".repeat(100), vec![]);
    assert!(matches!(
        build_cld(&m).unwrap_err().kind,
        ErrorKind::BuildName(_)
    ));
}

#[test]
fn cdiff_apply_then_rebuild() {
    let mut m = user_build();
    let ndb = b"Sig.B:0:*:45464748\n";
    let new_info = format!(
        "{}\nuser.ndb:{}:{}\nuser.hdb:{}:{}\n",
        HEAD.replace(":3:2:", ":4:2:"),
        m["user.ndb"].len() + ndb.len(),
        hex(&Sha256::digest([&m["user.ndb"][..], ndb].concat())),
        m["user.hdb"].len(),
        hex(&Sha256::digest(&m["user.hdb"])),
    );
    let mut script = String::from("OPEN user.ndb\nADD Sig.B:0:*:45464748\nCLOSE\nOPEN user.info\n");
    let old_info = String::from_utf8(m["user.info"].clone()).unwrap();
    for (i, (old, l)) in old_info.lines().zip(new_info.lines()).enumerate() {
        script += &format!("XCHG {} {} {l}\n", i + 1, &old[..12]);
    }
    script += "CLOSE\n";
    let s = Script::parse("user-4.cdiff", script.as_bytes()).unwrap();
    apply(&s, &mut m).unwrap();
    let v = verify_cvd("user.cld", &build_cld(&m).unwrap(), &unsigned()).unwrap();
    assert_eq!(v.header.version, 4);
    assert_eq!(v.members, m);
}

/// A small deterministic generator for robustness tests.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn malformed_input_never_panics() {
    let mut r = Lcg(42);
    let cld = build_cld(&user_build()).unwrap();
    let opts = unsigned();
    let header_like = b"ClamAV-VDB:a:1:2:3:X:X:b:4";
    for round in 0..3000 {
        // Random bytes, random headers, and mutations of a valid container.
        let len = (r.next() % 2048) as usize;
        let mut data = match round % 3 {
            0 => r.bytes(len),
            1 => {
                let mut d = header_like.to_vec();
                d.extend(r.bytes(len));
                d
            }
            _ => {
                let mut d = cld.clone();
                for _ in 0..1 + r.next() % 4 {
                    let i = (r.next() as usize) % d.len();
                    d[i] = r.next() as u8;
                }
                if r.next().is_multiple_of(4) {
                    let cut = (r.next() as usize) % d.len();
                    d.truncate(cut);
                }
                d
            }
        };
        let _ = CvdHeader::parse(&data);
        let _ = verify_cvd("f.cvd", &data, &opts);
        let _ = verify_cvd("f.cld", &data, &opts);
        let _ = verify_cdiff("f.cdiff", &data);
        if let Ok(s) = Script::parse("f.cdiff", &data) {
            let _ = apply(&s, &mut user_build());
        }
        data.splice(0..0, b"#clamsign-1.0\n230::pkcs7-pem:".iter().copied());
        let _ = verify_sign("f", b"x", &data, &[CLAMAV_ROOT_CA_DER], 0, 240);
    }
    // Random scripts made of valid commands.
    let words: [&[u8]; 12] = [
        b"OPEN user.ndb\n",
        b"OPEN user.info\n",
        b"CLOSE\n",
        b"ADD x\n",
        b"DEL 1 S\n",
        b"XCHG 2 4 y\n",
        b"MOVE user.ndb user.hdb 1 S 1 S\n",
        b"MOVE user.hdb user.ndb 1 4 2 x\n",
        b"UNLINK user.ndb\n",
        b"UNLINK COPYING\n",
        b"DEL 0 \n",
        b"OPEN new.ndb\n",
    ];
    for _ in 0..3000 {
        let n = 1 + r.next() % 10;
        let text: Vec<u8> = (0..n)
            .flat_map(|_| words[(r.next() % 12) as usize].to_vec())
            .collect();
        if let Ok(s) = Script::parse("f.cdiff", &text) {
            let mut m = user_build();
            let before = m.clone();
            if apply(&s, &mut m).is_err() {
                assert_eq!(m, before);
            }
        }
    }
}
