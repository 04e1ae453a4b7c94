//! The HTML normaliser on arbitrary bytes: never a panic, and output bounded by the input (at
//! most eight bytes out per byte read, a chunk read at most 17 times, plus a header per
//! `data:` document).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let n = detente_scan::html::normalize(data);
    let docs: usize = n.data_uris.iter().map(Vec::len).sum();
    let out = n.nocomment.len() + n.notags.len() + docs;
    assert!(
        out <= 17 * 8 * data.len() + 128 * n.data_uris.len() + 64,
        "{out} bytes out of {}",
        data.len()
    );
});
