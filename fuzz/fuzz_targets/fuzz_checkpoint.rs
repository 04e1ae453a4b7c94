//! Checkpoint parsing: never panic; accepted checkpoints are canonical.
#![no_main]

use detente_note::{Checkpoint, SignedCheckpoint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(c) = Checkpoint::parse(text) {
            assert_eq!(c.to_text(), text);
        }
    }
    if let Ok(sc) = SignedCheckpoint::parse(data) {
        assert_eq!(sc.to_bytes(), data);
    }
});
