//! The sans-IO core, called directly: exact timestamps, ordering of checks,
//! evidence in outcomes.

use detente_note::{Checkpoint, Cosigner, SignedCheckpoint, Verifiers};
use detente_witness::{decide, AddCheckpoint, AddError, EvidenceKind, KnownLog, LogState, Outcome};

use crate::util::{check_cosignatures, TestLog};

fn keys() -> Vec<Cosigner> {
    vec![
        Cosigner::ed25519_from_seed("w.example", [1; 32]).unwrap(),
        Cosigner::mldsa44_from_seed("w.example", [2; 32]).unwrap(),
    ]
}

fn vkeys(k: &[Cosigner]) -> Vec<String> {
    k.iter().map(|c| c.verifier().to_string()).collect()
}

fn run(log: &TestLog, state: &LogState, body: &[u8], now: u64) -> Outcome {
    let v = Verifiers::new().with(log.signer.verifier()).unwrap();
    let req = AddCheckpoint::parse(body).unwrap();
    decide(
        &req,
        Some(KnownLog {
            verifiers: &v,
            state,
        }),
        &keys(),
        now,
    )
}

fn cosigned_state(log: &TestLog, size: u64) -> LogState {
    match run(log, &LogState::new_log(), &log.request(0, size), 5) {
        Outcome::Cosign(c) => c.state,
        o => panic!("{o:?}"),
    }
}

#[test]
fn cosigns_with_the_given_time() {
    let log = TestLog::new("o", 1, 9);
    let k = keys();
    let Outcome::Cosign(c) = run(&log, &LogState::new_log(), &log.request(0, 9), 1_234_567) else {
        panic!()
    };
    assert_eq!(c.state.size, 9);
    assert_eq!(c.state.root, log.root(9));
    let times = check_cosignatures(&log.checkpoint(9), c.response_body().as_bytes(), &vkeys(&k));
    assert_eq!(times, vec![1_234_567, 1_234_567]);
    // The stored note carries the log signature and both cosignatures.
    let stored = detente_note::Note::parse(c.state.checkpoint.as_ref().unwrap()).unwrap();
    assert_eq!(stored.signatures().len(), 3);
}

#[test]
fn refuses_time_zero() {
    let log = TestLog::new("o", 1, 3);
    let o = run(&log, &LogState::new_log(), &log.request(0, 3), 0);
    assert!(
        matches!(
            o,
            Outcome::Refuse {
                error: AddError::Internal,
                ..
            }
        ),
        "{o:?}"
    );
}

#[test]
fn extension_lines_get_ed25519_only() {
    let log = TestLog::new("o", 1, 3);
    let cp = Checkpoint::with_extensions("o", 3, log.root(3), vec!["x".into()]).unwrap();
    let mut sc = SignedCheckpoint::unsigned(cp).unwrap();
    sc.note.sign(&log.signer).unwrap();
    let body = detente_witness::encode_request(0, &[], &sc.to_bytes());
    let Outcome::Cosign(c) = run(&log, &LogState::new_log(), &body, 9) else {
        panic!()
    };
    assert_eq!(c.signatures.len(), 1);
    check_cosignatures(
        &sc.to_bytes(),
        c.response_body().as_bytes(),
        &vkeys(&keys())[..1],
    );
}

#[test]
fn order_of_checks() {
    let log = TestLog::new("o", 1, 20);
    let req = AddCheckpoint::parse(&detente_witness::encode_request(
        30,
        &[],
        &log.checkpoint(20),
    ))
    .unwrap();
    // Unknown origin first, then signature, then old > new.
    let o = decide(&req, None, &keys(), 1);
    assert!(matches!(
        o,
        Outcome::Refuse {
            error: AddError::UnknownOrigin,
            ..
        }
    ));
    let empty = Verifiers::new()
        .with(TestLog::new("o", 2, 1).signer.verifier())
        .unwrap();
    let st = LogState::new_log();
    let o = decide(
        &req,
        Some(KnownLog {
            verifiers: &empty,
            state: &st,
        }),
        &keys(),
        1,
    );
    assert!(
        matches!(
            o,
            Outcome::Refuse {
                error: AddError::Forbidden(_),
                ..
            }
        ),
        "{o:?}"
    );
    let o = run(&log, &st, &req.to_bytes(), 1);
    assert!(matches!(
        o,
        Outcome::Refuse {
            error: AddError::OldSizeTooLarge { old: 30, new: 20 },
            ..
        }
    ));
    assert_eq!(AddError::OldSizeTooLarge { old: 30, new: 20 }.status(), 400);
}

#[test]
fn conflict_with_same_size_other_root_is_evidence() {
    let log = TestLog::new("o", 1, 20);
    let fork = log.fork(5, 3, 20);
    let st = cosigned_state(&log, 12);
    // 409 (old mismatch) but same size as cosigned, other root: evidence.
    let o = run(&log, &st, &fork.request(0, 12), 1);
    let Outcome::Refuse {
        error,
        evidence: Some(ev),
    } = o
    else {
        panic!("{o:?}")
    };
    assert_eq!(error, AddError::Conflict { size: 12 });
    assert_eq!(ev.kind, EvidenceKind::SplitView);
    assert_eq!(ev.cosigned, st.checkpoint.clone().unwrap());
    assert_eq!(ev.submitted, fork.checkpoint(12));
    // 409 with a different size: nothing to compare, no evidence.
    let o = run(&log, &st, &fork.request(0, 13), 1);
    assert!(matches!(
        o,
        Outcome::Refuse {
            error: AddError::Conflict { size: 12 },
            evidence: None
        }
    ));
    // A wrong proof for a good checkpoint is still recorded (bad-proof).
    let mut p = log.proof(12, 15);
    p.reverse();
    let body = detente_witness::encode_request(12, &p, &log.checkpoint(15));
    let o = run(&log, &st, &body, 1);
    let Outcome::Refuse {
        error,
        evidence: Some(ev),
    } = o
    else {
        panic!("{o:?}")
    };
    assert_eq!(error, AddError::BadProof);
    assert_eq!(ev.kind, EvidenceKind::BadProof);
    assert_eq!(ev.proof, p);
}
