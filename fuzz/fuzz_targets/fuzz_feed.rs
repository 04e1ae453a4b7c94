//! The feed's formats on arbitrary bytes: manifests (also as signed notes), trust files,
//! client states and line patches. Never a panic; whatever parses prints back canonically; a
//! patch's output never exceeds the size its target entry allows.
#![no_main]
use detente_feed::{apply_patch, ClientState, Entry, Manifest, Trust};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::parse(data) {
        assert_eq!(Manifest::parse(m.to_text().as_bytes()).ok(), Some(m));
    }
    let _ = Trust::parse(data);
    if let Ok(s) = ClientState::parse(data) {
        assert_eq!(s.to_bytes(), data);
    }
    // The first line is the old file, the rest the patch.
    let (old, patch) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i + 1], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    if let Ok(target) = Entry::new("f.ndb", 64, [0; 32]) {
        if let Ok(out) = apply_patch(old, patch, &target) {
            assert!(out.len() <= 64);
        }
    }
});
