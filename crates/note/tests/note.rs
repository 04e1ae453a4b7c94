//! Signed notes, checkpoints and cosignatures: Go's and C2SP's published
//! vectors, strictness, and round trips.

use detente_note::*;
use detente_tlog::{leaf_hash, Hash};

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

fn peter() -> Verifiers {
    Verifiers::new()
        .with(Ed25519Verifier::parse(PETER_VKEY).unwrap())
        .unwrap()
}

#[test]
fn go_vectors_open() {
    let msg = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    let n = Note::parse(msg.as_bytes()).unwrap();
    assert_eq!(n.text(), TEXT);
    assert_eq!(n.to_string(), msg);
    let v = n.verify(&peter()).unwrap();
    assert_eq!(
        v.verified,
        vec![KeyRef {
            name: "PeterNeumann".into(),
            id: 0xc74f20a3
        }]
    );
    assert_eq!(
        v.unknown,
        vec![KeyRef {
            name: "EnochRoot".into(),
            id: 0xaf0cfe78
        }]
    );

    let both = peter()
        .with(Ed25519Verifier::parse(ENOCH_VKEY).unwrap())
        .unwrap();
    assert_eq!(n.verify(&both).unwrap().verified.len(), 2);
    assert_eq!(n.verify(&Verifiers::new()), Err(Error::Unverified));

    // Ambiguous keys are refused when the set is built.
    let e = Ed25519Verifier::parse(ENOCH_VKEY).unwrap();
    assert!(matches!(both.with(e), Err(Error::AmbiguousKey { .. })));

    // Too many signatures (distinct keys so the duplicate rule does not fire first).
    let mut many = format!("{TEXT}\n");
    for i in 0..=MAX_SIGNATURES {
        many.push_str(&PETER_SIG.replace("PeterNeumann", &format!("k{i}")));
    }
    assert_eq!(Note::parse(many.as_bytes()), Err(Error::TooManySignatures));

    // A known key's bad signature rejects the note.
    let bad = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    let n = Note::parse(bad.as_bytes()).unwrap();
    assert!(matches!(
        n.verify(&peter()),
        Err(Error::InvalidSignature { .. })
    ));

    // Duplicates are malformed here (Go drops them silently).
    let dup = format!("{TEXT}\n{PETER_SIG}{PETER_SIG}");
    assert!(matches!(
        Note::parse(dup.as_bytes()),
        Err(Error::DuplicateSignature { .. })
    ));

    // Go's malformed messages.
    let bad_msgs = [
        TEXT.to_string(),
        format!("{TEXT}\n"),
        format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{TEXT}\n{PETER_SIG}"),
        format!("{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"),
        format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
        format!("{TEXT}\r\n{PETER_SIG}"),
        format!("{TEXT}\n{}", PETER_SIG.replace("M=\n", "M\n")),
        format!("{TEXT}\n{}", PETER_SIG.replace("x08go", "x08g")),
        format!("{TEXT}\n— PeterNeumann AAAAAA==\n"),
        format!("{TEXT}\n— PeterNeumann  x08go\n"),
        format!("{TEXT}\n—PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"),
        format!("{TEXT}\n— Peter+Neumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"),
    ];
    for m in &bad_msgs {
        assert!(Note::parse(m.as_bytes()).is_err(), "{m:?}");
    }
    let mut not_utf8 = format!("{TEXT}\n{PETER_SIG}").into_bytes();
    not_utf8[0] = 0xff;
    assert_eq!(Note::parse(&not_utf8), Err(Error::NotUtf8));
    assert_eq!(
        Note::parse(&vec![b'a'; MAX_NOTE_SIZE + 1]),
        Err(Error::TooLarge)
    );
}

#[test]
fn go_vectors_sign_and_keys() {
    let s = Ed25519Signer::parse(PETER_SKEY).unwrap();
    assert_eq!(s.verifier().to_string(), PETER_VKEY);
    assert_eq!(s.to_private_text(), PETER_SKEY);
    let dbg = format!("{s:?}");
    assert!(!dbg.contains("AYEKFALV") && dbg.contains("elided"));
    let mut n = Note::new(TEXT).unwrap();
    n.sign(&s).unwrap();
    // Ed25519 is deterministic: the same signature as Go's.
    assert_eq!(n.to_string(), format!("{TEXT}\n{PETER_SIG}"));
    // Re-signing replaces the old signature.
    n.sign(&s).unwrap();
    assert_eq!(n.signatures().len(), 1);

    for bad in [
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+AhpjMQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "",
    ] {
        assert!(Ed25519Verifier::parse(bad).is_err(), "{bad}");
        assert!(VerifierKey::parse(bad).is_err(), "{bad}");
    }
    assert!(Ed25519Signer::parse(&PETER_SKEY.replace("PRIVATE+KEY", "PRIVATE+KEX")).is_err());
    assert!(Ed25519Signer::parse(&PETER_SKEY.replace("c74f20a3", "c74f20a4")).is_err());
}

#[test]
fn c2sp_signed_note_example() {
    let vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    let msg = "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    let known = Verifiers::new()
        .with(VerifierKey::parse(vkey).unwrap())
        .unwrap();
    let v = Note::parse(msg.as_bytes()).unwrap().verify(&known).unwrap();
    assert!(v.is_verified("example.com/foo", 0x530d903a));
}

fn sample_checkpoint(ext: bool) -> Checkpoint {
    let root = leaf_hash(b"root");
    if ext {
        Checkpoint::with_extensions("example.com/log", 20852163, root, vec!["ext line".into()])
            .unwrap()
    } else {
        Checkpoint::new("example.com/log", 20852163, root).unwrap()
    }
}

#[test]
fn checkpoints() {
    let text =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let c = Checkpoint::parse(text).unwrap();
    assert_eq!(
        (c.origin(), c.size()),
        ("example.com/behind-the-sofa", 20852163)
    );
    assert_eq!(c.to_text(), text);
    let c =
        Checkpoint::parse("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nx\ny z\n").unwrap();
    assert_eq!(*c.root(), Hash::EMPTY);
    assert_eq!(c.extensions(), ["x", "y z"]);
    for bad in [
        "o\n+5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "o\n05\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "o\n-1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "o\n18446744073709551616\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "o\n 5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n",
        "o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\n",
        "o\n5\nZG9uJ3QgY2FyZSAy\n",
        "o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n",
        "\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "o\n5\n",
        "o\n",
        "",
    ] {
        assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn ed25519_cosignatures() {
    let log = Ed25519Signer::from_seed("example.com/log", [1; 32]).unwrap();
    let w = Cosigner::ed25519_from_seed("witness.example/w1", [2; 32]).unwrap();
    assert_eq!(w.alg(), ALG_COSIGNATURE_V1);
    let wv = w.verifier();
    assert_eq!(CosignatureVerifier::parse(&wv.to_string()).unwrap(), wv);
    assert_eq!(Cosigner::parse(&w.to_private_text()).unwrap(), w);

    for ext in [false, true] {
        let mut sc = SignedCheckpoint::unsigned(sample_checkpoint(ext)).unwrap();
        sc.note.sign(&log).unwrap();
        sc.note.sign(&w.at(1679315147)).unwrap();
        let bytes = sc.to_bytes();
        let known = Verifiers::new()
            .with(log.verifier())
            .unwrap()
            .with(wv.clone())
            .unwrap();
        let (back, v) = SignedCheckpoint::open(&bytes, &known).unwrap();
        assert_eq!(back, sc);
        assert!(v.is_verified("witness.example/w1", wv.key_id()));
        let cosig = &back.note.signatures()[1];
        assert_eq!(cosignature_timestamp(cosig), Some(1679315147));
        assert_eq!(cosig.bytes().len(), 72);
        // Changing the timestamp breaks the signature.
        let mut forged = cosig.bytes().to_vec();
        forged[7] ^= 1;
        let mut n = back.note.clone();
        n.add_signature(Signature::new(cosig.name(), cosig.id(), forged).unwrap())
            .unwrap();
        assert!(matches!(
            n.verify(&known),
            Err(Error::InvalidSignature { .. })
        ));
    }
    // Cosigning something that is not a checkpoint, or a bad time, fails.
    assert!(w.cosign("not a checkpoint\n", 1).is_err());
    assert_eq!(
        w.cosign(&sample_checkpoint(false).to_text(), 1 << 63),
        Err(Error::BadTimestamp)
    );
}

#[test]
fn mldsa44_cosignatures() {
    let log = Ed25519Signer::from_seed("example.com/log", [1; 32]).unwrap();
    let w = Cosigner::mldsa44_from_seed("witness.example/pq", [3; 32]).unwrap();
    let wv = w.verifier();
    assert_eq!(wv.alg(), ALG_MLDSA44);
    assert_eq!(wv.public_key().len(), MLDSA44_PUBLIC_KEY_SIZE);
    assert_eq!(
        wv.key_id(),
        key_id("witness.example/pq", 0x06, wv.public_key())
    );
    let parsed = VerifierKey::parse(&wv.to_string()).unwrap();
    assert_eq!(parsed, VerifierKey::Cosignature(wv.clone()));
    assert_eq!(Cosigner::parse(&w.to_private_text()).unwrap(), w);
    assert!(!format!("{w:?}").contains(&w.to_private_text()[30..60]));

    let cp = sample_checkpoint(false);
    let mut sc = SignedCheckpoint::unsigned(cp.clone()).unwrap();
    sc.note.sign(&log).unwrap();
    sc.note.sign(&w.at(1_700_000_000)).unwrap();
    let cosig = sc.note.signatures()[1].clone();
    assert_eq!(cosig.bytes().len(), 8 + MLDSA44_SIGNATURE_SIZE);
    let known = Verifiers::new()
        .with(log.verifier())
        .unwrap()
        .with(wv.clone())
        .unwrap();
    let (_, v) = SignedCheckpoint::open(&sc.to_bytes(), &known).unwrap();
    assert_eq!(v.verified.len(), 2);
    // The checkpoint cosignature also verifies as a subtree [0, size) cosignature.
    assert!(wv.verify_subtree(cp.origin(), 0, cp.size(), cp.root(), &cosig));

    // The subtree/v1 message layout.
    let m = subtree_message("w", 7, "o", 0, 5, &Hash::EMPTY).unwrap();
    let mut want = b"subtree/v1\n\0".to_vec();
    want.extend([1, b'w', 0, 0, 0, 0, 0, 0, 0, 7, 1, b'o']);
    want.extend(0u64.to_be_bytes());
    want.extend(5u64.to_be_bytes());
    want.extend(Hash::EMPTY.0);
    assert_eq!(m, want);
    assert!(subtree_message("w", 7, "o", 4, 5, &Hash::EMPTY).is_err());
    assert!(subtree_message("", 0, "o", 0, 5, &Hash::EMPTY).is_err());
    assert!(subtree_message("w", 0, &"o".repeat(256), 0, 5, &Hash::EMPTY).is_err());

    // Subtree signatures.
    let h = leaf_hash(b"subtree");
    let s = w.sign_subtree("example.com/log", 8, 16, &h).unwrap();
    assert!(wv.verify_subtree("example.com/log", 8, 16, &h, &s));
    assert!(!wv.verify_subtree("example.com/log", 8, 15, &h, &s));
    assert!(!wv.verify_subtree("example.com/other", 8, 16, &h, &s));
    assert!(w.sign_subtree("example.com/log", 4, 12, &h).is_err());

    // Extension lines are refused for ML-DSA-44 (not covered by the signature).
    let ext = sample_checkpoint(true);
    assert!(w.cosign(&ext.to_text(), 1).is_err());
    // A cosignature moved onto another checkpoint fails.
    let other = Checkpoint::new("example.com/log", 20852164, *cp.root()).unwrap();
    let mut sc2 = SignedCheckpoint::unsigned(other).unwrap();
    sc2.note.sign(&log).unwrap();
    sc2.note.add_signature(cosig).unwrap();
    assert!(matches!(
        sc2.note.verify(&known),
        Err(Error::InvalidSignature { .. })
    ));
    // Truncated ML-DSA key text.
    let vk = wv.to_string();
    assert!(VerifierKey::parse(&vk[..vk.len() - 4]).is_err());
}
