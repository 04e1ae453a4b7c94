//! tlog-policy parsing and quorum evaluation: never panic.
//!
//! To reach past key parsing, the tokens `L!` and `W0!`..`W3!` in the input
//! are replaced by valid log and witness vkeys.
#![no_main]

use std::sync::OnceLock;

use detente_note::{Cosigner, Ed25519Signer};
use detente_policy::Policy;
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static Vec<(String, String)> {
    static K: OnceLock<Vec<(String, String)>> = OnceLock::new();
    K.get_or_init(|| {
        let mut k = vec![(
            "L!".to_string(),
            Ed25519Signer::from_seed("example.com/log", [1; 32]).unwrap().verifier().to_string(),
        )];
        for i in 0..4u8 {
            let c = if i == 3 {
                Cosigner::mldsa44_from_seed("w3", [9; 32])
            } else {
                Cosigner::ed25519_from_seed(&format!("w{i}"), [2 + i; 32])
            };
            k.push((format!("W{i}!"), c.unwrap().verifier().to_string()));
        }
        k
    })
}

fuzz_target!(|data: &[u8]| {
    let mut text = String::from_utf8_lossy(data).into_owned();
    if text.len() > 4096 {
        return;
    }
    for (token, key) in keys() {
        text = text.replace(token.as_str(), key);
    }
    for input in [data, text.as_bytes()] {
        if let Ok(p) = Policy::parse(input) {
            let n = p.witnesses().len();
            let all: Vec<usize> = (0..n).collect();
            let some: Vec<usize> = data.iter().map(|&b| b as usize % (n + 1)).collect();
            // Monotonic: if some subset meets the quorum, so does everyone.
            if p.quorum_met(&some) {
                assert!(p.quorum_met(&all));
            }
        }
    }
});
