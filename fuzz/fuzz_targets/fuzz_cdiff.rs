//! cdiff parsing on arbitrary bytes: the signed container, and the script language applied to
//! a small database (never a panic; a failed apply leaves the members unchanged).
#![no_main]
use std::collections::BTreeMap;

use detente_cvd::{apply, verify_cdiff, Script};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = verify_cdiff("fuzz.cdiff", data);
    if let Ok(script) = Script::parse("fuzz.cdiff", data) {
        let mut members: BTreeMap<String, Vec<u8>> = [
            ("COPYING", &b"licence\n"[..]),
            ("db.info", b"ClamAV-VDB:t:1:1:90:X:X:b:1\ndb.ndb:12:00\n"),
            ("db.ndb", b"A:0:*:4142\nB:0:*:4344\n"),
            ("db.ldb", b"no final newline"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect();
        let before = members.clone();
        if apply(&script, &mut members).is_err() {
            assert_eq!(members, before);
        }
    }
});
