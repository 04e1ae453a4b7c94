//! The log's client, sans-IO, against a real witness: the 409 retry, and every returned
//! cosignature verified before it may be published (foreign, forged and garbage lines are
//! dropped and reported).

use detente_note::{CosignatureVerifier, Cosigner, Note};
use detente_witness::client::{ClientError, Session, Step, MAX_REQUESTS, MAX_RESPONSE_SIZE};

use crate::util::{witness, TestLog};

const NOW: u64 = 1_790_000_000;

fn keys(vkeys: &[String]) -> Vec<CosignatureVerifier> {
    vkeys
        .iter()
        .map(|k| CosignatureVerifier::parse(k).unwrap())
        .collect()
}

/// Runs a session against the witness in process; returns the outcome and requests sent.
fn exchange(
    w: &detente_witness::Witness,
    log: &TestLog,
    size: u64,
    keys: &[CosignatureVerifier],
    hint: u64,
) -> (Result<Step, ClientError>, usize) {
    let note = Note::parse(&log.checkpoint(size)).unwrap();
    let mut s = Session::new(&note, size, keys, hint);
    let mut req = s.request();
    let mut sent = 0;
    loop {
        let body = s.body(&req, &log.proof(req.old, size));
        sent += 1;
        let (status, reply) = match w.add_checkpoint(&body, NOW) {
            Ok(c) => (200, c.response_body().into_bytes()),
            Err(e) => (e.status(), e.to_string().into_bytes()),
        };
        let reply = if status == 409 {
            // The witness's real size, as its HTTP server answers.
            let known = w.logs().unwrap();
            let info = known.iter().find(|l| l.origin == log.origin).unwrap();
            info.state.size.to_string().into_bytes()
        } else {
            reply
        };
        match s.handle(status, &reply) {
            Ok(Step::Send(r)) => req = r,
            other => return (other, sent),
        }
    }
}

#[test]
fn stale_hint_is_retried_once_and_both_cosignatures_verify() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new("example.com/client", 1, 10);
    let (w, vkeys) = witness(&dir.path().join("w"), "witness.example/c", &[&log]);
    let k = keys(&vkeys);
    let (r, sent) = exchange(&w, &log, 10, &k, 0);
    let Ok(Step::Done(c)) = r else {
        panic!("{r:?}")
    };
    assert_eq!((c.accepted.len(), c.rejected.len(), sent), (2, 0, 1));
    log.grow(5);
    // The hint says 3, the witness holds 10: one 409, then a proof from 10.
    let (r, sent) = exchange(&w, &log, 15, &k, 3);
    let Ok(Step::Done(c)) = r else {
        panic!("{r:?}")
    };
    assert_eq!((c.accepted.len(), sent), (2, 2));
}

#[test]
fn foreign_forged_and_garbage_lines_are_dropped() {
    let log = TestLog::new("example.com/lines", 2, 4);
    let note = Note::parse(&log.checkpoint(4)).unwrap();
    let mine = Cosigner::ed25519_from_seed("witness.example/me", [7; 32]).unwrap();
    let other = Cosigner::ed25519_from_seed("witness.example/other", [8; 32]).unwrap();
    let impostor = Cosigner::ed25519_from_seed("witness.example/me", [9; 32]).unwrap();
    let k = vec![mine.verifier()];
    let good = mine.cosign(note.text(), NOW).unwrap().to_line();
    let foreign = other.cosign(note.text(), NOW).unwrap().to_line();
    // Same name, another key: its key ID differs, or its signature fails.
    let forged = impostor.cosign(note.text(), NOW).unwrap().to_line();
    // A valid cosignature, but of another checkpoint.
    let elsewhere = mine
        .cosign(&note.text().replace('4', "5"), NOW)
        .unwrap()
        .to_line();
    let reply = format!("{foreign}{forged}not a line at all\n{elsewhere}{good}{good}");
    let mut s = Session::new(&note, 4, &k, 0);
    let Ok(Step::Done(c)) = s.handle(200, reply.as_bytes()) else {
        panic!()
    };
    assert_eq!(c.accepted.len(), 1);
    assert_eq!(c.accepted[0].to_line(), good);
    assert_eq!(c.rejected.len(), 5, "{:?}", c.rejected);
    assert!(c.rejected[0].reason.contains("not a key trusted"));

    // Nothing valid at all: an error naming how many lines were dropped.
    let mut s = Session::new(&note, 4, &k, 0);
    let e = s.handle(200, foreign.as_bytes()).unwrap_err();
    assert!(
        matches!(e, ClientError::NoValidCosignature(ref r) if r.len() == 1),
        "{e}"
    );
}

#[test]
fn conflicts_and_refusals_end_the_session() {
    let log = TestLog::new("example.com/conflict", 3, 8);
    let note = Note::parse(&log.checkpoint(8)).unwrap();
    let k = vec![Cosigner::ed25519_from_seed("w.example", [1; 32])
        .unwrap()
        .verifier()];
    // A size beyond the checkpoint, the same size again, or no number: unusable.
    for body in ["9", "0", "many"] {
        let mut s = Session::new(&note, 8, &k, 0);
        s.body(&s.request(), &[]);
        let e = s.handle(409, body.as_bytes()).unwrap_err();
        assert!(matches!(e, ClientError::BadConflict(_)), "{body}: {e}");
    }
    let mut s = Session::new(&note, 8, &k, 0);
    for i in 0..MAX_REQUESTS {
        let req = s.request();
        s.body(&req, &[]);
        let r = s.handle(409, format!("{}", i + 2).as_bytes());
        if i + 1 < MAX_REQUESTS {
            assert!(matches!(r, Ok(Step::Send(ref q)) if q.old == 2), "{r:?}");
        } else {
            assert_eq!(r.unwrap_err(), ClientError::TooManyConflicts);
        }
    }
    let mut s = Session::new(&note, 8, &k, 0);
    let e = s.handle(403, b"unknown log key\n").unwrap_err();
    assert_eq!(e.to_string(), "HTTP 403: unknown log key");
    let big = vec![b'x'; MAX_RESPONSE_SIZE + 1];
    assert_eq!(s.handle(200, &big).unwrap_err(), ClientError::TooLarge);
    // A hint beyond the checkpoint is ignored.
    assert_eq!(Session::new(&note, 8, &k, 99).request().old, 0);
}
