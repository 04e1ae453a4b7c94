//! Every add-checkpoint status over real HTTP on 127.0.0.1.

use detente_note::{Checkpoint, Ed25519Signer, Note, Signature, SignedCheckpoint, Verifiers};
use detente_tlog::{leaf_hash, Hash};
use detente_witness::{encode_request, origin_hash, EvidenceKind, MAX_REQUEST_SIZE};

use crate::util::{check_cosignatures, post, witness, Client, Server, TestLog};

fn sign(
    origin: &str,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
    key: &Ed25519Signer,
) -> Vec<u8> {
    let cp = Checkpoint::with_extensions(origin, size, root, extensions).unwrap();
    let mut sc = SignedCheckpoint::unsigned(cp).unwrap();
    sc.note.sign(key).unwrap();
    sc.to_bytes()
}

#[test]
fn every_status() {
    let dir = tempfile::tempdir().unwrap();
    let log = TestLog::new("example.com/log", 1, 40);
    let fresh = TestLog::new("example.com/fresh", 2, 10);
    let (w, vkeys) = witness(dir.path(), "witness.example/w1", &[&log, &fresh]);
    assert_eq!(vkeys.len(), 2);
    let srv = Server::start(&w);
    let a = srv.addr;

    // 200: first checkpoint (old 0, no proof), both cosignatures valid.
    let r = post(a, &log.request(0, 10));
    assert_eq!(r.status, 200, "{}", r.text());
    let times = check_cosignatures(&log.checkpoint(10), &r.body, &vkeys);
    assert!(times.iter().all(|&t| t > 1_600_000_000));

    // 200: advance with a real consistency proof.
    let r = post(a, &log.request(10, 17));
    assert_eq!(r.status, 200, "{}", r.text());
    check_cosignatures(&log.checkpoint(17), &r.body, &vkeys);

    // 200: same size, same root (re-cosign), empty proof.
    let r = post(a, &log.request(17, 17));
    assert_eq!(r.status, 200, "{}", r.text());

    // 409: old size not the cosigned size; body is that size.
    for old in [0, 10, 16] {
        let r = post(a, &log.request(old, 20));
        assert_eq!(r.status, 409);
        assert_eq!(r.text(), "17\n");
        assert_eq!(r.content_type.as_deref(), Some("text/x.tlog.size"));
    }

    // 400: old > new.
    let r = post(a, &encode_request(20, &[], &log.checkpoint(18)));
    assert_eq!(r.status, 400, "{}", r.text());

    // 422: a proof that does not verify (wrong hashes; truncated; extended).
    let mut p = log.proof(17, 25);
    p[0] = leaf_hash(b"x");
    let r = post(a, &encode_request(17, &p, &log.checkpoint(25)));
    assert_eq!(r.status, 422, "{}", r.text());
    let p = log.proof(17, 25);
    let r = post(a, &encode_request(17, &p[1..], &log.checkpoint(25)));
    assert_eq!(r.status, 422);
    let mut p2 = p.clone();
    p2.push(Hash::EMPTY);
    let r = post(a, &encode_request(17, &p2, &log.checkpoint(25)));
    assert_eq!(r.status, 422);
    // A non-empty proof for equal sizes.
    let r = post(a, &encode_request(17, &[Hash::EMPTY], &log.checkpoint(17)));
    assert_eq!(r.status, 422);

    // 422: same size, different root (split view), validly signed.
    let fork = log.fork(12, 9, 40);
    let r = post(a, &fork.request(17, 17));
    assert_eq!(r.status, 422, "{}", r.text());
    // The wrong proofs for 25 count once (bad-proof), the fork once.
    let kinds: Vec<_> = w.evidence().unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EvidenceKind::BadProof, EvidenceKind::SplitView]);

    // 422: non-empty proof from size 0 (log new to the witness).
    let r = post(a, &encode_request(0, &[Hash::EMPTY], &fresh.checkpoint(5)));
    assert_eq!(r.status, 422, "{}", r.text());
    // 422: size-0 checkpoint with a non-empty root.
    let bad0 = sign(&fresh.origin, 0, leaf_hash(b"x"), vec![], &fresh.signer);
    let r = post(a, &encode_request(0, &[], &bad0));
    assert_eq!(r.status, 422, "{}", r.text());
    // 200: size-0 checkpoint with the empty root.
    let r = post(a, &fresh.request(0, 0));
    assert_eq!(r.status, 200, "{}", r.text());

    // 403: signed by an unknown key only.
    let stranger = Ed25519Signer::from_seed(&log.origin, [77; 32]).unwrap();
    let cp = sign(&log.origin, 25, log.root(25), vec![], &stranger);
    let r = post(a, &encode_request(17, &log.proof(17, 25), &cp));
    assert_eq!(r.status, 403, "{}", r.text());
    // 403: a known key's name and ID with a bad signature (even next to a good one).
    let good = log.checkpoint(25);
    let mut n = Note::parse(&good).unwrap();
    let s = n.signatures()[0].clone();
    let mut bytes = s.bytes().to_vec();
    bytes[0] ^= 1;
    let mut bad = Note::new(n.text()).unwrap();
    bad.add_signature(Signature::new(s.name(), s.id(), bytes).unwrap())
        .unwrap();
    let r = post(a, &encode_request(17, &log.proof(17, 25), &bad.to_bytes()));
    assert_eq!(r.status, 403, "{}", r.text());
    n.sign(&stranger).unwrap(); // unknown extra signature: ignored
    let r = post(a, &encode_request(17, &log.proof(17, 25), &n.to_bytes()));
    assert_eq!(r.status, 200, "{}", r.text());
    check_cosignatures(n.to_string().as_bytes(), &r.body, &vkeys);

    // 404: unknown origin.
    let other = TestLog::new("example.com/unknown", 3, 5);
    let r = post(a, &other.request(0, 5));
    assert_eq!(r.status, 404, "{}", r.text());

    // 400: malformed bodies.
    let note = log.checkpoint(30);
    let proof = log.proof(25, 30);
    let good = encode_request(25, &proof, &note);
    let proof_text: String = proof.iter().map(|h| format!("{h}\n")).collect();
    let note_text = String::from_utf8(note.clone()).unwrap();
    let bad_bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"garbage".to_vec(),
        b"\x00\xff\xfe garbage\n\n\n".to_vec(),
        format!("old 025\n{proof_text}\n{note_text}").into_bytes(),
        format!("old +25\n{proof_text}\n{note_text}").into_bytes(),
        format!("old 25\r\n{proof_text}\n{note_text}").into_bytes(),
        format!("old 25\n{}\r\n\n{note_text}", proof_text.trim_end()).into_bytes(),
        format!("old 25\n{proof_text}\r\n{note_text}").into_bytes(),
        format!("old 25\n{proof_text}\n{}", note_text.replace('\n', "\r\n")).into_bytes(),
        format!("old 25\n!!notbase64!!\n\n{note_text}").into_bytes(),
        format!("old 25\n{}\n\n{note_text}", &proof_text[..20]).into_bytes(),
        format!("old 25\n{proof_text}{note_text}").into_bytes(),
        format!("old 25\n{}\n{note_text}", proof_text.repeat(64)).into_bytes(),
        format!(
            "old 25\n{proof_text}\n{}",
            &note_text[..note_text.len() - 5]
        )
        .into_bytes(),
        format!("old 99999999999999999999\n\n{note_text}").into_bytes(),
    ];
    for (i, b) in bad_bodies.iter().enumerate() {
        let r = post(a, b);
        assert_eq!(r.status, 400, "case {i}: {}", r.text());
    }
    // 413: oversized body.
    let mut huge = good.clone();
    huge.resize(MAX_REQUEST_SIZE + 1, b'A');
    let r = post(a, &huge);
    assert_eq!(r.status, 413, "{}", r.text());
    // The good body still works after all that.
    let r = post(a, &good);
    assert_eq!(r.status, 200, "{}", r.text());

    // 405: wrong method.
    let r = Client::connect(a)
        .unwrap()
        .request("GET", "/add-checkpoint", b"")
        .unwrap();
    assert_eq!(r.status, 405);

    // Checkpoint with extension lines: only the Ed25519 cosignature.
    let ext = sign(
        &log.origin,
        30,
        log.root(30),
        vec!["ext line".into()],
        &log.signer,
    );
    let r = post(a, &encode_request(30, &[], &ext));
    assert_eq!(r.status, 200, "{}", r.text());
    check_cosignatures(&ext, &r.body, &vkeys[..1]);

    // Monitoring: GET /<sha256(origin)>/checkpoint.
    let mut c = Client::connect(a).unwrap();
    let r = c
        .request(
            "GET",
            &format!("/{}/checkpoint", origin_hash(&log.origin)),
            b"",
        )
        .unwrap();
    assert_eq!(r.status, 200);
    let n = Note::parse(&r.body).unwrap();
    assert!(n.text().starts_with("example.com/log\n30\n"));
    let logv = Verifiers::new().with(log.signer.verifier()).unwrap();
    n.verify(&logv).unwrap();
    let cov = crate::util::cosig_verifiers(&vkeys[..1]);
    n.verify(&cov).unwrap();
    let unknown = origin_hash("example.com/unknown");
    let r = c
        .request("GET", &format!("/{unknown}/checkpoint"), b"")
        .unwrap();
    assert_eq!(r.status, 404);
    let r = c.request("GET", "/zz/checkpoint", b"").unwrap();
    assert_eq!(r.status, 404);
}

#[test]
fn monitoring_before_first_cosignature() {
    let dir = tempfile::tempdir().unwrap();
    let log = TestLog::new("example.com/log", 1, 4);
    let (w, _) = witness(dir.path(), "w", &[&log]);
    let srv = Server::start(&w);
    let mut c = Client::connect(srv.addr).unwrap();
    let path = format!("/{}/checkpoint", origin_hash(&log.origin));
    assert_eq!(c.request("GET", &path, b"").unwrap().status, 404);
    assert_eq!(
        c.request("POST", "/add-checkpoint", &log.request(0, 4))
            .unwrap()
            .status,
        200
    );
    assert_eq!(c.request("GET", &path, b"").unwrap().status, 200);
}
