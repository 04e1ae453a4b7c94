//! The hub's parsers on arbitrary bytes: query strings, cursors, log entries and whole
//! envelopes (validation, canonical form, signatures, audiences). Never a panic; an entry
//! that parses re-encodes to the same bytes; a prepared object's hash is its canonical
//! form's.
#![no_main]
use detente_hub::access::{Member, Tlp};
use detente_hub::cursor::Cursors;
use detente_hub::entry::{sha256, Entry};
use detente_hub::{query, submit};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = query::parse(&text, false);
    let _ = Cursors::new([1; 32]).check(&text, "m", b"f");
    if let Ok(e) = Entry::parse(data) {
        assert_eq!(e.to_bytes(), data);
    }
    let Ok(v) = detente_stix::parse_bounded(data, 1 << 20, 48) else {
        return;
    };
    let sender = Member {
        name: "fuzz".into(),
        org: "fuzz".into(),
        groups: vec!["g".into()],
    };
    if let Ok((ok, _failed)) = submit::prepare(v, &sender, Some(&[7; 32]), Tlp::Green) {
        for p in ok {
            assert_eq!(p.hash, sha256(&p.canonical));
        }
    }
});
