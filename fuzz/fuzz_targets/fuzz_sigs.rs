//! Every ClamAV line format parser, strict and lenient, on arbitrary bytes: never a panic.
#![no_main]
use detente_cvd::CvdHeader;
use detente_sigs::{parse_into, Database, DbKind, ParseOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for kind in [
        DbKind::Hash,
        DbKind::SectionHash,
        DbKind::Body,
        DbKind::Logical,
        DbKind::AllowHash,
        DbKind::Ignore,
    ] {
        for lenient in [false, true] {
            let mut db = Database::default();
            let _ = parse_into(&mut db, kind, data, ParseOptions { lenient });
        }
    }
    let _ = CvdHeader::parse(data);
});
