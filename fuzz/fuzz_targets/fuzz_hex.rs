//! The hex-pattern compiler and matcher: the first line is a body signature's hex pattern
//! (also tried as a logical subsignature with modifiers), the rest is scanned.
#![no_main]
use detente_engine::{EngineBuilder, FileMeta, LoadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (pat, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(pat) = std::str::from_utf8(pat) else {
        return;
    };
    let mut b = EngineBuilder::new(LoadOptions { lenient: true, ..LoadOptions::default() });
    let ndb = format!("F:0:*:{pat}\nG:7:0,4:{pat}\n");
    let ldb = format!("L;Engine:51-255,Target:0;0&1>1;{pat}::iwf;{pat}::wa\n");
    let _ = b.add_database("f.ndb", ndb.as_bytes());
    let _ = b.add_database("f.ldb", ldb.as_bytes());
    let engine = b.build();
    let mut s = engine.scanner();
    let _ = s.scan(body, &FileMeta::default(), true);
});
