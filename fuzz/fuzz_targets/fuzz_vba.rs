//! VBA projects on arbitrary bytes: the MS-OVBA decompressor and the `dir` record walk never
//! panic, and what they return stays within the size asked for (plus one window for the
//! decompressor).
#![no_main]
use detente_scan::vba::{inflate, listing, ModuleStream};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte splits the input into a `dir` stream and one module stream.
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let at = (cut as usize * rest.len()) / 256;
    let (dir, module) = rest.split_at(at);
    const MAX: usize = 1 << 20;
    if let Some(out) = inflate(dir, 0, MAX) {
        assert!(out.len() <= MAX + 4096);
    }
    let mut unsupported = false;
    let modules = |_: &[u8]| ModuleStream::Here(vec![module.to_vec()]);
    if let Ok(l) = listing(dir, modules, &mut unsupported, MAX) {
        assert!(l.text.len() <= MAX);
    }
});
