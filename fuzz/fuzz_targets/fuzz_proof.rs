//! tlog-proof parsing and verification: never panic; accepted proofs
//! serialize back to the same bytes.
//!
//! An input starting with 0x00 is wrapped as header + input + blank line +
//! a validly signed checkpoint, so the fuzzer explores the proof body.
#![no_main]

use std::sync::OnceLock;

use detente_note::{Checkpoint, Ed25519Signer, SignedCheckpoint};
use detente_policy::{Policy, TlogProof, PROOF_HEADER};
use detente_tlog::leaf_hash;
use libfuzzer_sys::fuzz_target;

fn fixture() -> &'static (Policy, Vec<u8>) {
    static P: OnceLock<(Policy, Vec<u8>)> = OnceLock::new();
    P.get_or_init(|| {
        let log = Ed25519Signer::from_seed("example.com/log", [1; 32]).unwrap();
        let policy = Policy::parse(format!("log {}\nquorum none\n", log.verifier()).as_bytes()).unwrap();
        let cp = Checkpoint::new("example.com/log", 5, leaf_hash(b"root")).unwrap();
        let mut sc = SignedCheckpoint::unsigned(cp).unwrap();
        sc.note.sign(&log).unwrap();
        (policy, sc.to_bytes())
    })
}

fn check(data: &[u8]) {
    if let Ok(p) = TlogProof::parse(data) {
        assert_eq!(p.to_bytes(), data);
        let _ = p.verify(&fixture().0, &leaf_hash(b"entry"));
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((0, body)) => {
            let mut v = format!("{PROOF_HEADER}\n").into_bytes();
            v.extend_from_slice(body);
            v.extend_from_slice(b"\n\n");
            v.extend_from_slice(&fixture().1);
            check(&v);
        }
        _ => check(data),
    }
});
