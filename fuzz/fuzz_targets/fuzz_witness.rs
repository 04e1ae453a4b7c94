//! tlog-witness add-checkpoint requests: the parser never panics, accepted
//! bodies are canonical (re-encoding gives the input back), and the
//! decision function never panics on any parsed request.
#![no_main]

use std::sync::OnceLock;

use detente_note::{Cosigner, Ed25519Signer, Verifiers};
use detente_witness::{decide, AddCheckpoint, KnownLog, LogState, Outcome};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    verifiers: Verifiers,
    cosigners: Vec<Cosigner>,
    state: LogState,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let log = Ed25519Signer::from_seed("example.com/log", [7; 32]).unwrap();
        Fixture {
            verifiers: Verifiers::new().with(log.verifier()).unwrap(),
            cosigners: vec![
                Cosigner::ed25519_from_seed("w", [1; 32]).unwrap(),
                Cosigner::mldsa44_from_seed("w", [2; 32]).unwrap(),
            ],
            state: LogState {
                size: 3,
                root: detente_tlog::Hash([9; 32]),
                checkpoint: Some(b"example.com/log\n3\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n".to_vec()),
            },
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(req) = AddCheckpoint::parse(data) else {
        return;
    };
    assert_eq!(req.to_bytes(), data);
    assert!(req.proof.len() <= detente_witness::MAX_PROOF_LINES);
    let f = fixture();
    let log = KnownLog {
        verifiers: &f.verifiers,
        state: &f.state,
    };
    match decide(&req, Some(log), &f.cosigners, 1_700_000_000) {
        Outcome::Cosign(c) => assert!(c.state.size >= f.state.size),
        Outcome::Refuse { error, .. } => assert!(error.status() >= 400),
    }
    let _ = decide(&req, None, &f.cosigners, 1);
});
