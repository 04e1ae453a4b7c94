//! Signed-note parsing and verification: never panic, and whatever parses
//! serializes back to the same bytes.
#![no_main]

use std::sync::OnceLock;

use detente_note::{Cosigner, Ed25519Signer, Note, Verifiers};
use libfuzzer_sys::fuzz_target;

fn known() -> &'static Verifiers {
    static K: OnceLock<Verifiers> = OnceLock::new();
    K.get_or_init(|| {
        let mut v = Verifiers::new();
        let log = Ed25519Signer::from_seed("example.com/log", [1; 32]).unwrap();
        v.add(log.verifier()).unwrap();
        v.add(Cosigner::ed25519_from_seed("w1", [2; 32]).unwrap().verifier()).unwrap();
        v.add(Cosigner::mldsa44_from_seed("w2", [3; 32]).unwrap().verifier()).unwrap();
        v
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(note) = Note::parse(data) {
        assert_eq!(note.to_bytes(), data);
        let _ = note.verify(known());
    }
});
