//! File typing and executable layouts (PE, ELF, Mach-O headers) on arbitrary bytes: never a
//! panic, and a layout's entry point and section count stay within what ClamAV reads.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = detente_engine::filetype::file_type(data);
    if let Some(l) = detente_engine::executable_layout(data) {
        assert!(l.sections.len() <= 1024 * 255);
    }
});
