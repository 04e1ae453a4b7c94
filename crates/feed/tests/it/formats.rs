//! Canonical text formats: exact examples, round trips, strict refusals.

use detente_feed::*;
use detente_note::{Cosigner, Ed25519Signer};

use crate::util::*;

const H1: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const H2: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";
const H3: &str = "fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13";

fn example() -> String {
    format!(
        "detente-feed-manifest/v1\norigin example.com/feed\nversion 42\ncreated 1767225600\n\
         expires 1767830400\nbase 41\nfile daily.ndb 1048576 {H1}\nfile main.hdb 52428800 {H2}\n\
         patch daily.ndb 4096 {H3}\n"
    )
}

#[test]
fn manifest_example_round_trip() {
    let text = example();
    let m = Manifest::parse(text.as_bytes()).unwrap();
    assert_eq!(m.origin(), "example.com/feed");
    assert_eq!(
        (m.version(), m.created(), m.expires(), m.base()),
        (42, 1767225600, 1767830400, Some(41))
    );
    assert_eq!(m.files().len(), 2);
    assert_eq!(m.file("main.hdb").unwrap().size(), 52428800);
    assert_eq!(m.patch("daily.ndb").unwrap().sha256_hex(), H3);
    assert_eq!(m.patch("main.hdb"), None);
    assert_eq!(m.to_text(), text);
    // `new` sorts and yields the same value.
    let mut files = m.files().to_vec();
    files.reverse();
    let n = Manifest::new(
        "example.com/feed",
        42,
        1767225600,
        1767830400,
        Some(41),
        files,
        m.patches().to_vec(),
    )
    .unwrap();
    assert_eq!(n, m);

    // Signed and verified.
    let key = Ed25519Signer::from_seed("publisher.example", [7; 32]).unwrap();
    let note = m.sign(&key).unwrap();
    assert!(note.starts_with(text.as_bytes()));
    assert_eq!(Manifest::verify(&note, &key.verifier()).unwrap(), m);
    let other = Ed25519Signer::from_seed("publisher.example", [8; 32]).unwrap();
    assert!(matches!(
        Manifest::verify(&note, &other.verifier()),
        Err(VerifyError::Signature(_))
    ));
    // A signed note whose text is not a manifest: refused after the signature.
    let mut n = detente_note::Note::new("hello\n").unwrap();
    n.sign(&key).unwrap();
    assert!(matches!(
        Manifest::verify(&n.to_bytes(), &key.verifier()),
        Err(VerifyError::Manifest(ManifestError {
            line: 1,
            kind: ManifestErrorKind::Header
        }))
    ));
    assert!(matches!(
        Manifest::verify(b"garbage", &key.verifier()),
        Err(VerifyError::Note(_))
    ));
}

#[test]
fn manifest_strict_refusals() {
    use ManifestErrorKind as K;
    let ok = example();
    let cases: Vec<(String, usize, K)> = vec![
        (ok.replace('\n', "\r\n"), 1, K::ControlChar),
        (ok.replace("version 42", "version\t42"), 3, K::ControlChar),
        (ok.trim_end().to_owned(), 9, K::MissingNewline),
        (String::new(), 1, K::MissingNewline),
        (ok.replace("v1\n", "v2\n"), 1, K::Header),
        (ok.replace("version 42\n", "version 42 \n"), 3, K::Spacing),
        (ok.replace("version 42\n", "version  42\n"), 3, K::Spacing),
        (ok.replace("version 42\n", " version 42\n"), 3, K::Spacing),
        (
            ok.replace("version 42\n", "version 42\n\n"),
            4,
            K::EmptyLine,
        ),
        (
            ok.replace("version 42\n", "version 042\n"),
            3,
            K::Number("version"),
        ),
        (
            ok.replace("version 42\n", "version +42\n"),
            3,
            K::Number("version"),
        ),
        (
            ok.replace("version 42\n", "version 18446744073709551616\n"),
            3,
            K::Number("version"),
        ),
        (ok.replace("version 42\n", "version 0\n"), 3, K::VersionZero),
        (
            ok.replace("version 42\n", "version 42\nversion 43\n"),
            4,
            K::Duplicate("version"),
        ),
        (
            ok.replace(
                "version 42\ncreated 1767225600\n",
                "created 1767225600\nversion 42\n",
            ),
            4,
            K::OutOfOrder("version"),
        ),
        (
            ok.replace("version 42\n", "version 42\ncomment hi\n"),
            4,
            K::UnknownKey("comment".into()),
        ),
        (ok.replace("version 42\n", ""), 0, K::Missing("version")),
        (
            ok.replace("expires 1767830400", "expires 1767225600"),
            5,
            K::ExpiresNotAfterCreated,
        ),
        (ok.replace("base 41", "base 42"), 6, K::Base),
        (ok.replace("base 41", "base 0"), 6, K::Base),
        (ok.replace("base 41\n", ""), 8, K::PatchWithoutBase),
        (
            ok.replace("origin example.com/feed", "origin a+b"),
            2,
            K::Origin,
        ),
        (
            ok.replace("origin example.com/feed", "origin a b"),
            2,
            K::Fields("origin"),
        ),
        (
            ok.replace("file daily.ndb", "file .daily.ndb"),
            7,
            K::BadName(".daily.ndb".into()),
        ),
        (
            ok.replace("file daily.ndb", "file da/ily.ndb"),
            7,
            K::BadName("da/ily.ndb".into()),
        ),
        (
            ok.replace("file main.hdb", "file daily.ndb"),
            8,
            K::DuplicateName("daily.ndb".into()),
        ),
        (
            ok.replace("file main.hdb", "file a.hdb"),
            8,
            K::NotSorted("a.hdb".into()),
        ),
        (ok.replace(H1, &H1.to_uppercase()), 7, K::BadHash),
        (ok.replace(H1, &H1[1..]), 7, K::BadHash),
        (ok.replace("1048576 ", ""), 7, K::Fields("file")),
        (
            ok.replace("patch daily.ndb", "patch other.ndb"),
            9,
            K::PatchForUnknownFile("other.ndb".into()),
        ),
    ];
    for (i, (text, line, kind)) in cases.into_iter().enumerate() {
        let got = Manifest::parse(text.as_bytes());
        assert_eq!(got, Err(ManifestError { line, kind }), "case {i}: {text:?}");
    }
    // A file line after a patch line.
    let text = ok.clone() + &format!("file zz.ndb 1 {H1}\n");
    assert_eq!(
        Manifest::parse(text.as_bytes()).unwrap_err().kind,
        K::OutOfOrder("file")
    );
    // No file at all.
    let text = "detente-feed-manifest/v1\norigin o\nversion 1\ncreated 0\nexpires 1\n";
    assert_eq!(
        Manifest::parse(text.as_bytes()).unwrap_err().kind,
        K::NoFiles
    );
    // Size and count bounds.
    let big = vec![b'a'; MAX_MANIFEST_SIZE + 1];
    assert_eq!(Manifest::parse(&big).unwrap_err().kind, K::TooLarge);
    let mut many =
        "detente-feed-manifest/v1\norigin o\nversion 1\ncreated 0\nexpires 1\n".to_string();
    for i in 0..=MAX_FILES {
        many += &format!("file f{i:05} 1 {H1}\n");
    }
    assert_eq!(
        Manifest::parse(many.as_bytes()),
        Err(ManifestError {
            line: MAX_FILES + 6,
            kind: K::TooManyFiles
        })
    );
    assert!(matches!(
        Manifest::parse(&[0xff, b'\n']).unwrap_err().kind,
        K::NotUtf8
    ));
}

#[test]
fn file_names() {
    for ok in ["a", "main.cvd", "daily-1.cdiff", "x_y.Z9", &"n".repeat(128)] {
        assert!(is_valid_file_name(ok), "{ok}");
    }
    for bad in [
        "",
        ".",
        "..",
        ".hidden",
        "a/b",
        "a\\b",
        "a b",
        "é",
        &"n".repeat(129),
        "a:b",
    ] {
        assert!(!is_valid_file_name(bad), "{bad}");
        assert!(Entry::new(bad, 1, [0; 32]).is_err());
    }
}

fn keys() -> (Ed25519Signer, Ed25519Signer, Vec<Cosigner>) {
    (
        Ed25519Signer::from_seed("example.com/feed", [1; 32]).unwrap(),
        Ed25519Signer::from_seed("publisher.example", [2; 32]).unwrap(),
        (0..3)
            .map(|i| Cosigner::ed25519_from_seed(&format!("w{i}.example"), [10 + i; 32]).unwrap())
            .collect(),
    )
}

#[test]
fn trust_template_parses_and_reads_back() {
    let (log, publ, ws) = keys();
    let wv: Vec<String> = ws.iter().map(|w| w.verifier().to_string()).collect();
    let named: Vec<(&str, &str)> = vec![("w0", &wv[0]), ("w1", &wv[1]), ("w2", &wv[2])];
    let text = Trust::template(
        "https://feed.example/",
        &log.verifier().to_string(),
        &publ.verifier().to_string(),
        &named,
    )
    .unwrap();
    println!("{text}");
    assert!(text.contains("group witnesses 2 w0 w1 w2\nquorum witnesses\n"));
    let t = Trust::parse(text.as_bytes()).unwrap();
    assert_eq!(t.origin(), "example.com/feed");
    assert_eq!(t.publisher(), &publ.verifier());
    assert_eq!(t.sources(), &[Source::Url("https://feed.example/".into())]);
    assert_eq!(
        (t.max_age(), t.max_ahead()),
        (DEFAULT_MAX_AGE, DEFAULT_MAX_AHEAD)
    );
    assert_eq!(t.policy().witnesses().len(), 3);
    assert!(t.policy().quorum_met(&[0, 2]));
    assert!(!t.policy().quorum_met(&[1]));

    // One witness: it is the quorum. None: refused.
    let one = Trust::template(
        "/srv/mirror",
        &log.verifier().to_string(),
        &publ.verifier().to_string(),
        &named[..1],
    )
    .unwrap();
    assert!(one.ends_with("quorum w0\n"));
    assert_eq!(
        Trust::template(
            "/srv/mirror",
            &log.verifier().to_string(),
            &publ.verifier().to_string(),
            &[]
        ),
        Err(TrustError {
            line: 0,
            kind: TrustErrorKind::QuorumNone
        })
    );
    // The publisher key may be the log key.
    Trust::template(
        "/srv/mirror",
        &log.verifier().to_string(),
        &log.verifier().to_string(),
        &named,
    )
    .unwrap();
}

#[test]
fn trust_strict_refusals() {
    use TrustErrorKind as K;
    let feed = Feed::new("example.com/feed", 1);
    let ok = feed.trust_text();
    Trust::parse(ok.as_bytes()).unwrap();
    // Tabs and extra spaces are tlog-policy syntax: accepted.
    Trust::parse(ok.replace("max-age ", "  max-age\t").as_bytes()).unwrap();
    let publisher_line = format!("publisher {}\n", feed.publisher.verifier());
    let log_line = format!("log {}\n", feed.log_key.verifier());
    let cases: Vec<(String, usize, K)> = vec![
        (ok.replace("max-age", "#max-age"), 0, K::Missing("max-age")),
        (
            ok.replace("max-ahead 10\n", "max-ahead 10\nmax-ahead 11\n"),
            7,
            K::Duplicate("max-ahead"),
        ),
        (
            ok.replace("max-age 21600", "max-age 021600"),
            5,
            K::Number("max-age"),
        ),
        (
            ok.replace("max-age 21600", "max-age 0"),
            5,
            K::Zero("max-age"),
        ),
        (
            ok.replace("max-age 21600", "max-age 1 2"),
            5,
            K::Fields("max-age"),
        ),
        (
            ok.replace(
                "feed-url https://feed.example/",
                "feed-url http://feed.example/",
            ),
            2,
            K::Source("http://feed.example/".into()),
        ),
        (
            ok.replace("feed-url /media/usb/feed", "feed-url media/usb"),
            3,
            K::Source("media/usb".into()),
        ),
        (
            ok.replace("feed-url /media/usb/feed", "feed-url https://feed.example/"),
            3,
            K::Source("https://feed.example/".into()),
        ),
        (
            ok.replace(
                "feed-url https://feed.example/",
                "feed-url https://u:p@feed.example/",
            ),
            2,
            K::Source("https://u:p@feed.example/".into()),
        ),
        (ok.replace(&publisher_line, ""), 0, K::Missing("publisher")),
        (
            ok.replace(&publisher_line, &publisher_line.repeat(2)),
            5,
            K::Duplicate("publisher"),
        ),
        (ok.replace("quorum world", "quorum none"), 0, K::QuorumNone),
        (
            ok.replace("quorum world", "quorom world"),
            19,
            K::Policy(detente_policy::PolicyErrorKind::UnknownKeyword(
                "quorom".into(),
            )),
        ),
        (
            ok.replace(
                &log_line,
                &format!(
                    "{log_line}log {}\n",
                    Ed25519Signer::from_seed("other", [5; 32])
                        .unwrap()
                        .verifier()
                ),
            ),
            0,
            K::LogCount(2),
        ),
        (ok.replace(&log_line, ""), 0, K::LogCount(0)),
        (ok.replace('\n', "\r\n"), 1, K::ControlChar),
        (ok.trim_end().to_owned(), 19, K::MissingNewline),
    ];
    for (i, (text, line, kind)) in cases.into_iter().enumerate() {
        assert_eq!(
            Trust::parse(text.as_bytes()),
            Err(TrustError { line, kind }),
            "case {i}:\n{text}"
        );
    }
    // A witness key as the publisher.
    let w = feed.witness("eu1").verifier().to_string();
    let bad = ok.replace(&publisher_line, &format!("publisher {w}\n"));
    assert!(matches!(
        Trust::parse(bad.as_bytes()),
        Err(TrustError {
            line: 4,
            kind: K::BadKey(_)
        })
    ));
    // Loopback http is fine (tests, local proxies).
    for u in [
        "http://127.0.0.1:8080/feed",
        "http://localhost/",
        "http://[::1]:9/",
    ] {
        let t = ok.replace("https://feed.example/", u);
        assert_eq!(
            Trust::parse(t.as_bytes()).unwrap().sources()[0],
            Source::Url(u.into()),
            "{u}"
        );
    }
}

#[test]
fn state_round_trip_and_refusals() {
    let s = Scenario::new();
    let st = s.client.state.clone().unwrap();
    let bytes = st.to_bytes();
    let text = String::from_utf8(bytes.clone()).unwrap();
    println!("{text}");
    assert!(text.starts_with(&format!(
        "detente-feed-state/v1\nversion 1\nsize 1\nroot {}\n\n",
        s.feed.tree.root(1)
    )));
    assert_eq!(ClientState::parse(&bytes).unwrap(), st);
    let bad = |t: String| ClientState::parse(t.as_bytes()).unwrap_err();
    assert_eq!(
        bad(text.replace("version 1", "version 0")),
        StateError::VersionZero
    );
    assert_eq!(
        bad(text.replace("version 1", "version 01")),
        StateError::Malformed("version")
    );
    assert_eq!(bad(text.replace("size 1", "size 2")), StateError::Mismatch);
    assert_eq!(
        bad(text.replace("size 1\n", "")),
        StateError::Malformed("size")
    );
    assert_eq!(
        bad(text.replace("v1\n", "v2\n")),
        StateError::Malformed("header")
    );
    assert!(matches!(
        bad(text.replace("\n\n", "\nx\n\n")),
        StateError::Malformed(_)
    ));
    assert!(matches!(
        bad(text.clone() + "\n"),
        StateError::Checkpoint(_)
    ));
    assert!(matches!(
        bad(text.replace("\n", "\r\n")),
        StateError::Malformed(_)
    ));
    assert_eq!(
        ClientState::parse(&vec![b'a'; 2 << 20]),
        Err(StateError::TooLarge)
    );
}

#[test]
fn refusal_messages() {
    let cases: Vec<(Refusal, &str)> = vec![
        (Refusal::UnknownLogKey { origin: "o".into() }, "checkpoint for origin \"o\" is not signed by the trusted log key"),
        (Refusal::BadCheckpointSignature { key: "w+01020304".into() }, "checkpoint signature by w+01020304 does not verify"),
        (Refusal::Stale { age: 90000, max: 86400 }, "checkpoint is stale: a witness quorum last cosigned it 90000 s ago, the maximum is 86400 s"),
        (Refusal::Rollback { have: 9, got: 7 }, "rollback: the log was at size 9, this checkpoint is size 7"),
        (Refusal::SplitView { size: 9, ours: vec![], theirs: vec![] }, "split view: the log signed two different trees of size 9; both checkpoints are attached as evidence"),
        (Refusal::Inconsistent { old: 7, new: 9 }, "consistency proof from size 7 to size 9 does not verify (fork or bad proof)"),
        (Refusal::BadManifestSignature, "manifest is not validly signed by the publisher key"),
        (Refusal::OriginMismatch { log: "a".into(), manifest: "b".into() }, "manifest is for feed \"b\", the trusted log is \"a\""),
        (Refusal::NotNewer { installed: 5, got: 4 }, "release 4 is not newer than the installed release 5"),
        (Refusal::TooFarAhead { installed: 5, got: 5000, max: 1000 }, "release 5000 is more than 1000 versions ahead of the installed release 5"),
        (Refusal::Expired { expires: 10, now: 11 }, "release expired at 10, it is now 11"),
        (Refusal::NotIncluded { index: 8, size: 9 }, "manifest is not in the log at index 8 of the checkpoint of size 9"),
        (Refusal::NotLatest { index: 7, size: 9 }, "manifest is entry 7 but the log has 9 entries: a newer release is withheld"),
        (FileRefusal::NotInManifest { name: "evil.ndb".into() }.into(), "\"evil.ndb\" is not a file of this release"),
        (FileRefusal::Oversized { name: "a".into(), size: 5 }.into(), "\"a\" is larger than the 5 bytes the manifest says"),
        (FileRefusal::Truncated { name: "a".into(), got: 3, want: 5 }.into(), "\"a\" is truncated: 3 of 5 bytes"),
        (FileRefusal::HashMismatch { name: "a".into() }.into(), "\"a\" does not have the SHA-256 the manifest says (tampered)"),
    ];
    for (r, msg) in cases {
        assert_eq!(r.to_string(), msg);
    }
}
