//! tlog-policy parsing and evaluation, and tlog-proof round trips.

use detente_note::{Checkpoint, Cosigner, Ed25519Signer, SignedCheckpoint};
use detente_policy::*;
use detente_tlog::{leaf_hash, stored_hashes_for_leaf, tree_hash, Hash};
use proptest::prelude::*;

struct Keys {
    log: Ed25519Signer,
    x: Vec<Cosigner>,
    y: Vec<Cosigner>,
}

fn keys() -> Keys {
    Keys {
        log: Ed25519Signer::from_seed("example.com/log", [1; 32]).unwrap(),
        x: (0..3)
            .map(|i| Cosigner::ed25519_from_seed(&format!("x{i}.example"), [10 + i; 32]).unwrap())
            .collect(),
        y: (0..3)
            .map(|i| {
                if i == 0 {
                    Cosigner::mldsa44_from_seed(&format!("y{i}.example"), [20 + i; 32]).unwrap()
                } else {
                    Cosigner::ed25519_from_seed(&format!("y{i}.example"), [20 + i; 32]).unwrap()
                }
            })
            .collect(),
    }
}

fn example_policy(k: &Keys) -> String {
    let mut p = format!(
        "# example from the spec\nlog {} https://log.example/\n\n",
        k.log.verifier()
    );
    for (i, w) in k.x.iter().enumerate() {
        p += &format!("witness X{} {}\n", i + 1, w.verifier());
    }
    p += "group X-witnesses 2 X1 X2 X3\n";
    for (i, w) in k.y.iter().enumerate() {
        p += &format!(
            "  witness\tY{} {} https://w.example/\n",
            i + 1,
            w.verifier()
        );
    }
    p += "group Y-witnesses any Y1 Y2 Y3\n\ngroup X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n";
    p
}

#[test]
fn spec_example_quorum() {
    let k = keys();
    let p = Policy::parse(example_policy(&k).as_bytes()).unwrap();
    assert_eq!(p.logs().len(), 1);
    assert_eq!(p.witnesses().len(), 6);
    assert_eq!(p.groups().len(), 3);
    assert!(p.quorum_met(&[0, 1, 3]));
    assert!(p.quorum_met(&[0, 2, 5]));
    assert!(!p.quorum_met(&[0, 3, 4]));
    assert!(!p.quorum_met(&[0, 1, 2]));
    assert!(!p.quorum_met(&[]));
}

fn checkpoint(k: &Keys, size: u64, root: Hash, witnesses: &[&Cosigner]) -> SignedCheckpoint {
    let mut sc =
        SignedCheckpoint::unsigned(Checkpoint::new("example.com/log", size, root).unwrap())
            .unwrap();
    sc.note.sign(&k.log).unwrap();
    for w in witnesses {
        sc.note.sign(&w.at(1_800_000_000)).unwrap();
    }
    sc
}

#[test]
fn verify_checkpoints_under_policy() {
    let k = keys();
    let p = Policy::parse(example_policy(&k).as_bytes()).unwrap();
    let root = leaf_hash(b"r");
    let ok = checkpoint(&k, 5, root, &[&k.x[0], &k.x[2], &k.y[0]]);
    let (_, cosigned) = p.verify_checkpoint(&ok.to_bytes()).unwrap();
    assert_eq!(cosigned, vec![0, 2, 3]);

    let short = checkpoint(&k, 5, root, &[&k.x[0], &k.y[0], &k.y[1]]);
    assert_eq!(
        p.verify_checkpoint(&short.to_bytes()),
        Err(Error::QuorumNotMet)
    );

    // Unknown cosigners are ignored; a bad cosignature by a known one rejects.
    let stranger = Cosigner::ed25519_from_seed("stranger.example", [99; 32]).unwrap();
    let with_stranger = checkpoint(&k, 5, root, &[&k.x[0], &k.x[1], &k.y[2], &stranger]);
    assert!(p.verify_checkpoint(&with_stranger.to_bytes()).is_ok());
    let mut bad = ok.clone();
    let s = bad.note.signatures()[1].clone();
    let mut b = s.bytes().to_vec();
    b[20] ^= 1;
    bad.note
        .add_signature(detente_note::Signature::new(s.name(), s.id(), b).unwrap())
        .unwrap();
    assert!(matches!(
        p.verify_checkpoint(&bad.to_bytes()),
        Err(Error::Note(_))
    ));

    // Only witnesses signed: not acceptable.
    let mut no_log = SignedCheckpoint::unsigned(ok.checkpoint.clone()).unwrap();
    for w in [&k.x[0], &k.x[1], &k.y[1]] {
        no_log.note.sign(&w.at(1)).unwrap();
    }
    assert_eq!(
        p.verify_checkpoint(&no_log.to_bytes()),
        Err(Error::NotSignedByLog)
    );

    // Another origin.
    let other = Ed25519Signer::from_seed("example.com/other", [1; 32]).unwrap();
    let mut sc =
        SignedCheckpoint::unsigned(Checkpoint::new("example.com/other", 5, root).unwrap()).unwrap();
    sc.note.sign(&other).unwrap();
    assert!(matches!(
        p.verify_checkpoint(&sc.to_bytes()),
        Err(Error::UnknownLog(_))
    ));

    // quorum none: the log signature alone is enough.
    let none =
        Policy::parse(format!("log {}\nquorum none\n", k.log.verifier()).as_bytes()).unwrap();
    assert!(none
        .verify_checkpoint(&checkpoint(&k, 5, root, &[]).to_bytes())
        .is_ok());
}

#[test]
fn strict_policy_errors() {
    let k = keys();
    let lk = k.log.verifier().to_string();
    let x1 = k.x[0].verifier().to_string();
    let x2 = k.x[1].verifier().to_string();
    use PolicyErrorKind as K;
    let cases: Vec<(String, PolicyErrorKind)> = vec![
        (format!("log {lk}\n"), K::NoQuorum),
        (format!("log {lk}\nquorum none"), K::MissingNewline),
        (format!("log {lk}\r\nquorum none\n"), K::ControlChar),
        (
            format!("log {lk}\nquorum none\nquorum none\n"),
            K::DuplicateQuorum,
        ),
        (
            format!("log {lk}\nlog {lk}\nquorum none\n"),
            K::DuplicateKey,
        ),
        (format!("log {x1}\nquorum none\n"), K::WrongKeyType(4)),
        (format!("witness W {lk}\nquorum none\n"), K::WrongKeyType(1)),
        (
            format!("witness W {x1}\nwitness V {x1}\nquorum W\n"),
            K::DuplicateKey,
        ),
        (
            format!("witness W {x1}\nwitness W {x2}\nquorum W\n"),
            K::DuplicateName("W".into()),
        ),
        (
            format!("witness none {x1}\nquorum none\n"),
            K::DuplicateName("none".into()),
        ),
        (
            format!("quorum W\nwitness W {x1}\n"),
            K::UndefinedName("W".into()),
        ),
        (
            format!("group G any W\nwitness W {x1}\nquorum G\n"),
            K::UndefinedName("W".into()),
        ),
        (
            format!("witness W {x1}\ngroup G 2 W\nquorum G\n"),
            K::Threshold,
        ),
        (
            format!("witness W {x1}\ngroup G 0 W\nquorum G\n"),
            K::Threshold,
        ),
        (
            format!("witness W {x1}\ngroup G 01 W\nquorum G\n"),
            K::Threshold,
        ),
        (
            format!("witness W {x1}\ngroup G +1 W\nquorum G\n"),
            K::Threshold,
        ),
        (
            format!("witness W {x1}\ngroup G any\nquorum G\n"),
            K::Fields,
        ),
        (
            format!("witness W {x1}\ngroup G any W W\nquorum G\n"),
            K::AlreadyMember("W".into()),
        ),
        (
            format!("witness W {x1}\ngroup G any W\ngroup H any W\nquorum G\n"),
            K::AlreadyMember("W".into()),
        ),
        (
            format!("witness W {x1}\ngroup W any W\nquorum W\n"),
            K::DuplicateName("W".into()),
        ),
        (format!("log {lk} url extra\nquorum none\n"), K::Fields),
        (
            "logs x\nquorum none\n".to_string(),
            K::UnknownKeyword("logs".into()),
        ),
        ("quorum none extra\n".to_string(), K::Fields),
        ("quorum none\n\x7f\n".to_string(), K::ControlChar),
    ];
    for (text, kind) in cases {
        let e = Policy::parse(text.as_bytes()).unwrap_err();
        assert_eq!(e.kind, kind, "{text:?}");
    }
    assert!(matches!(
        Policy::parse(format!("log {}\nquorum none\n", &lk[..lk.len() - 2]).as_bytes())
            .unwrap_err()
            .kind,
        K::BadKey(_)
    ));
    assert_eq!(
        Policy::parse(b"quorum none\n\xff\n").unwrap_err().kind,
        K::NotUtf8
    );
    // Comments, blank lines, tabs, a group of groups, a single witness quorum.
    let p = Policy::parse(
        format!(
            "\t# c\n   \nwitness W {x1}\n witness V {x2} # not a comment? no: a URL\nquorum W\n"
        )
        .as_bytes(),
    );
    assert_eq!(p.unwrap_err().kind, K::Fields);
    let p = Policy::parse(format!("witness W {x1}\n#x\nquorum W\n").as_bytes()).unwrap();
    assert!(p.quorum_met(&[0]) && !p.quorum_met(&[]));
}

#[test]
fn tlog_proof_roundtrip_and_verify() {
    let k = keys();
    let p = Policy::parse(example_policy(&k).as_bytes()).unwrap();
    let entries: Vec<Vec<u8>> = (0..73894u64 % 1000 + 20)
        .map(|i| format!("artifact {i}").into_bytes())
        .collect();
    let mut stored = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let hs = stored_hashes_for_leaf(i as u64, leaf_hash(e), &stored).unwrap();
        stored.extend(hs);
    }
    let n = entries.len() as u64;
    let root = tree_hash(n, &stored).unwrap();
    let sc = checkpoint(&k, n, root, &[&k.x[0], &k.x[1], &k.y[0]]);
    for (idx, extra) in [
        (17u64, Some(b"age-v1.2.1-darwin-arm64.tar.gz".to_vec())),
        (0, None),
        (n - 1, None),
    ] {
        let proof = TlogProof::produce(idx, sc.clone(), &stored, extra.clone()).unwrap();
        let bytes = proof.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\n"));
        assert_eq!(text.contains("\nextra "), extra.is_some());
        let back = TlogProof::parse(&bytes).unwrap();
        assert_eq!(back, proof);
        let v = back.verify(&p, &leaf_hash(&entries[idx as usize])).unwrap();
        assert_eq!((v.index, v.tree_size), (idx, n));
        assert_eq!(v.witnesses, vec!["X1", "X2", "Y1"]);
        // The wrong entry, or a shifted index, fails.
        assert!(back.verify(&p, &leaf_hash(b"other")).is_err());
        let mut shifted = back.clone();
        shifted.index = (idx + 1) % n;
        assert!(shifted
            .verify(&p, &leaf_hash(&entries[idx as usize]))
            .is_err());
    }

    let good = String::from_utf8(
        TlogProof::produce(5, sc.clone(), &stored, None)
            .unwrap()
            .to_bytes(),
    )
    .unwrap();
    let bad = [
        good.replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2", 1),
        good.replacen("index 5", "index 05", 1),
        good.replacen("index 5", "index +5", 1),
        good.replacen("index 5", "index  5", 1),
        good.replacen("index 5\n", "index 5\nextra AAAA\n", 1),
        good.replacen("index 5\n", "extra \nindex 5\n", 1),
        good.replacen("index 5\n", "extra @@@@\nindex 5\n", 1),
        good.replacen("index 5\n", "index 5\nnot-base64\n", 1),
        good.replacen("index 5\n", "index 5\nAAAA\n", 1),
        good.replacen("\n\n", "\n", 1),
        good.replacen("index 5", "index 5\r", 1),
        good[..good.len() - 1].to_string(),
        good.replace("example.com/log\n", "example.com/log\r\n"),
    ];
    for b in &bad {
        assert!(TlogProof::parse(b.as_bytes()).is_err(), "{b}");
    }
}

proptest! {
    #[test]
    fn policy_parser_never_panics(s in "((log|witness|group|quorum|#|any|all|none|[A-Z]|[0-9]| |\t|\n|\\+|x)){0,60}") {
        let _ = Policy::parse(s.as_bytes());
    }

    #[test]
    fn proof_parser_never_panics(b in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut data = b"c2sp.org/tlog-proof@v1\nindex 1\n".to_vec();
        data.extend(b);
        let _ = TlogProof::parse(&data);
    }

    /// More cosigners never break a met quorum (monotonicity).
    #[test]
    fn quorum_is_monotonic(a in prop::collection::vec(0usize..6, 0..6), extra in 0usize..6) {
        let k = keys();
        let p = Policy::parse(example_policy(&k).as_bytes()).unwrap();
        if p.quorum_met(&a) {
            let mut b = a.clone();
            b.push(extra);
            prop_assert!(p.quorum_met(&b));
        }
    }
}
