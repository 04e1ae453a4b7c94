//! The endpoint's parsers on arbitrary bytes: the telemetry policy, the task file, the
//! outbox chain and a record's replay. Never a panic; a record that replays rebuilds a
//! report that decodes; a task file that parses gives a configuration that round-trips.
#![no_main]
use detente_telemetry::{measure::Policy, outbox::check_chain, record::recompute};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Policy::parse(data);
    if let Ok(t) = detente_telemetry::task::TaskFile::parse(data) {
        use detente_dap::{Decode as _, Encode as _};
        let bytes = t.config.get_encoded();
        assert_eq!(detente_dap::TaskConfiguration::decode(&bytes).ok(), Some(t.config));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok((records, _)) = check_chain(text) {
            for r in records.iter().take(4) {
                if let Ok(bytes) = recompute(r) {
                    use detente_dap::Decode as _;
                    assert!(detente_dap::UploadRequest::decode(&bytes).is_ok());
                }
            }
        }
    }
});
