//! Forks signed by a trusted log key: refused, kept as evidence, forever.

use detente_note::{Note, Verifiers};
use detente_witness::{encode_request, AddError, EvidenceKind, Witness};

use crate::util::{post, witness, Server, TestLog};

#[test]
fn forks_are_refused_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let main = TestLog::new("example.com/forky", 4, 60);
    let fork = main.fork(10, 0xab, 60);
    let (w, _) = witness(dir.path(), "w", &[&main]);
    let srv = Server::start(&w);
    let a = srv.addr;
    assert_eq!(post(a, &main.request(0, 20)).status, 200);

    // Same size, other root: split view (422).
    assert_eq!(post(a, &fork.request(20, 20)).status, 422);
    // Larger fork checkpoint with a proof from the fork's own size-20 tree:
    // the proof cannot verify against the cosigned root (422, bad-proof).
    assert_eq!(post(a, &fork.request(20, 30)).status, 422);
    // Stale old size but the same size as cosigned, other root: 409, and
    // still a split view worth keeping.
    let r = post(a, &fork.request(10, 20));
    assert_eq!((r.status, r.text()), (409, "20\n"));
    // A checkpoint below the cosigned size from the fork: 409 only.
    assert_eq!(post(a, &fork.request(10, 15)).status, 409);
    // Repeats are not stored twice.
    assert_eq!(post(a, &fork.request(20, 20)).status, 422);
    assert_eq!(post(a, &fork.request(20, 30)).status, 422);

    let ev = w.evidence().unwrap();
    let kinds: Vec<_> = ev.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EvidenceKind::SplitView, EvidenceKind::BadProof]);
    let logv = Verifiers::new().with(main.signer.verifier()).unwrap();
    for e in &ev {
        // Both halves are checkpoints signed by the log key.
        let a = Note::parse(e.cosigned.as_bytes()).unwrap();
        let b = Note::parse(e.submitted.as_bytes()).unwrap();
        a.verify(&logv).unwrap();
        b.verify(&logv).unwrap();
        assert_ne!(a.text(), b.text());
        let printed = e.to_string();
        assert!(
            printed.contains(a.text()) && printed.contains(b.text()),
            "{printed}"
        );
        assert!(printed.starts_with(&format!("evidence {} {}", e.id, e.kind.as_str())));
    }
    assert!(ev[0].submitted.starts_with("example.com/forky\n20\n"));
    assert!(ev[1].submitted.starts_with("example.com/forky\n30\n"));
    assert_eq!(ev[1].old, 20);
    assert_eq!(ev[1].proof, fork.proof(20, 30));

    // The main lineage goes on; the fork is never cosigned, even after a restart.
    assert_eq!(post(a, &main.request(20, 40)).status, 200);
    drop(srv);
    drop(w);
    let w = Witness::open(dir.path()).unwrap();
    assert_eq!(w.evidence().unwrap().len(), 2);
    for old in [0, 10, 20, 40] {
        for new in [40, 41, 59] {
            if old > new {
                continue;
            }
            let r = w.add_checkpoint(&fork.request(old, new), 7);
            assert!(r.is_err(), "fork {old}->{new} cosigned");
        }
    }
    let e = w.add_checkpoint(&fork.request(40, 40), 7).unwrap_err();
    assert_eq!(e, AddError::SplitView);
    // A proof from the main tree cannot carry a fork checkpoint either.
    let body = encode_request(40, &main.proof(40, 50), &fork.checkpoint(50));
    assert_eq!(w.add_checkpoint(&body, 7).unwrap_err(), AddError::BadProof);
    assert!(w.add_checkpoint(&main.request(40, 60), 7).is_ok());
}
