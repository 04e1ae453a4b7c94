//! STIX input on arbitrary bytes: bounded parsing, validation and RFC 8785 canonical form.
//! Never a panic; the canonical form of a value parses back to that value and is a fixed point.
#![no_main]
use detente_stix::{canonical, parse_bounded, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = parse_bounded(data, 1 << 20, 32) else {
        return;
    };
    let _ = validate(&v);
    if let Ok(c) = canonical(&v) {
        let back: serde_json::Value = serde_json::from_slice(&c).expect("canonical JSON parses");
        assert_eq!(canonical(&back).ok(), Some(c));
    }
});
