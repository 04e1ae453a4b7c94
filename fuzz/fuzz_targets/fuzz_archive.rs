//! The archive walker on arbitrary bytes, with small limits: never a panic, always bounded.
#![no_main]
use detente_engine::{EngineBuilder, LoadOptions};
use detente_scan::{scan_data, Limits, ScanOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut b = EngineBuilder::new(LoadOptions::default());
    let _ = b.add_database("f.ndb", b"F:0:*:4142434445\n");
    let engine = b.build();
    let mut s = engine.scanner();
    let opts = ScanOptions {
        all_match: true,
        limits: Limits {
            max_recursion: 8,
            max_files: 64,
            max_filesize: 4 << 20,
            max_scansize: 16 << 20,
        },
        ..ScanOptions::default()
    };
    let r = scan_data(&engine, &mut s, data, "fuzz", "", &opts);
    // The budget holds whatever the input: decompressors stop one byte past it.
    assert!(r.bytes_inflated <= (16 << 20) + 1, "{}", r.bytes_inflated);
    assert!(r.layers <= 64);
});
