//! RFC 8785 test vectors, transcribed from the RFC text.

use detente_stix::{canonical, format_number, parse_bounded, Error};
use serde_json::{json, Value};

/// Appendix B: IEEE 754 bit patterns and their ECMAScript serialisations.
const APPENDIX_B: &[(u64, &str)] = &[
    (0x0000000000000000, "0"),
    (0x8000000000000000, "0"),
    (0x0000000000000001, "5e-324"),
    (0x8000000000000001, "-5e-324"),
    (0x7fefffffffffffff, "1.7976931348623157e+308"),
    (0xffefffffffffffff, "-1.7976931348623157e+308"),
    (0x4340000000000000, "9007199254740992"),
    (0xc340000000000000, "-9007199254740992"),
    (0x4430000000000000, "295147905179352830000"),
    (0x44b52d02c7e14af5, "9.999999999999997e+22"),
    (0x44b52d02c7e14af6, "1e+23"),
    (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
    (0x444b1ae4d6e2ef4e, "999999999999999700000"),
    (0x444b1ae4d6e2ef4f, "999999999999999900000"),
    (0x444b1ae4d6e2ef50, "1e+21"),
    (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
    (0x3eb0c6f7a0b5ed8d, "0.000001"),
    (0x41b3de4355555553, "333333333.3333332"),
    (0x41b3de4355555554, "333333333.33333325"),
    (0x41b3de4355555555, "333333333.3333333"),
    (0x41b3de4355555556, "333333333.3333334"),
    (0x41b3de4355555557, "333333333.33333343"),
    (0xbecbf647612f3696, "-0.0000033333333333333333"),
    (0x43143ff3c1cb0959, "1424953923781206.2"),
];

#[test]
fn appendix_b_numbers() {
    for &(bits, want) in APPENDIX_B {
        let f = f64::from_bits(bits);
        assert_eq!(format_number(f).as_deref(), Ok(want), "bits {bits:016x}");
        // Through a Value too, where the double can be represented.
        let v = Value::from(f);
        assert_eq!(canonical(&v).unwrap(), want.as_bytes(), "bits {bits:016x}");
    }
}

#[test]
fn appendix_b_non_finite_rejected() {
    assert_eq!(
        format_number(f64::from_bits(0x7fffffffffffffff)),
        Err(Error::NonFinite)
    );
    assert_eq!(
        format_number(f64::from_bits(0x7ff0000000000000)),
        Err(Error::NonFinite)
    );
    assert_eq!(format_number(f64::NEG_INFINITY), Err(Error::NonFinite));
}

#[test]
fn more_numbers() {
    for (f, want) in [
        (1.0, "1"),
        (-1.5, "-1.5"),
        (0.1, "0.1"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (123e-20, "1.23e-18"),
        (4.5, "4.5"),
    ] {
        assert_eq!(format_number(f).as_deref(), Ok(want));
    }
    assert_eq!(canonical(&json!(42)).unwrap(), b"42");
    assert_eq!(canonical(&json!(-7)).unwrap(), b"-7");
    assert_eq!(
        canonical(&json!(u64::MAX)).unwrap(),
        b"18446744073709552000"
    );
}

/// Section 3.2.3 (sorting example) and 3.2.2 (the combined example).
#[test]
fn section_3_2_2_example() {
    let input = r#"{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"#;
    let v: Value = serde_json::from_str(input).unwrap();
    let want = "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
    assert_eq!(String::from_utf8(canonical(&v).unwrap()).unwrap(), want);
}

#[test]
fn section_3_2_3_sorting() {
    let input = r#"{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}"#;
    let v: Value = serde_json::from_str(input).unwrap();
    let out = String::from_utf8(canonical(&v).unwrap()).unwrap();
    let want = concat!(
        "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",",
        "\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",",
        "\"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
    );
    assert_eq!(out, want);
}

#[test]
fn string_escapes() {
    let v = json!("\u{8}\t\n\u{c}\r\u{1}\u{1f}\u{7f}\u{2028}\"\\/");
    assert_eq!(
        String::from_utf8(canonical(&v).unwrap()).unwrap(),
        "\"\\b\\t\\n\\f\\r\\u0001\\u001f\u{7f}\u{2028}\\\"\\\\/\""
    );
}

#[test]
fn empty_and_nested() {
    assert_eq!(canonical(&json!({})).unwrap(), b"{}");
    assert_eq!(canonical(&json!([])).unwrap(), b"[]");
    assert_eq!(
        canonical(&json!({"b": [1, {"d": 1, "c": 2}], "a": null})).unwrap(),
        br#"{"a":null,"b":[1,{"c":2,"d":1}]}"#
    );
}

#[test]
fn bounded_parsing() {
    assert!(parse_bounded(b"{\"a\":1}", 7, 1).is_ok());
    assert_eq!(
        parse_bounded(b"{\"a\":1}", 6, 1),
        Err(Error::TooLarge { len: 7, max: 6 })
    );
    assert_eq!(
        parse_bounded(b"[[1]]", 100, 1),
        Err(Error::TooDeep { max: 1 })
    );
    // Brackets inside strings (with escaped quotes) do not count.
    assert!(parse_bounded(br#"["[[[[\"[[[["]"#, 100, 1).is_ok());
    // Far past serde_json's own recursion limit: refused by the scan, not by a stack overflow.
    let deep = "[".repeat(100_000);
    assert_eq!(
        parse_bounded(deep.as_bytes(), usize::MAX, 32),
        Err(Error::TooDeep { max: 32 })
    );
    assert!(matches!(parse_bounded(b"{", 100, 32), Err(Error::Json(_))));
    let ok = format!("{}{}", "[".repeat(32), "]".repeat(32));
    assert!(parse_bounded(ok.as_bytes(), 1000, 32).is_ok());
    let bad = format!("{}{}", "[".repeat(33), "]".repeat(33));
    assert!(parse_bounded(bad.as_bytes(), 1000, 32).is_err());
}
