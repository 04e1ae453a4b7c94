//! RFC 8785 JSON Canonicalization Scheme.

use crate::Error;
use serde_json::{Number, Value};

/// Deepest nesting [`canonical`] will walk; `serde_json` itself parses at most 128 levels.
const MAX_CANONICAL_DEPTH: usize = 128;

/// Serialises `value` per RFC 8785: object members sorted by the UTF-16 code units of their
/// names, no whitespace, strings escaped as the RFC prescribes and numbers in ECMAScript
/// `Number.prototype.toString` form.
///
/// Integers are treated as IEEE 754 doubles, as ECMAScript does (so integers beyond 2^53
/// lose precision exactly as they would in a JavaScript implementation).
///
/// # Errors
/// [`Error::NonFinite`] for NaN or infinities, [`Error::BadNumber`] for a number that is not
/// a double, [`Error::TooDeep`] past 128 levels of nesting.
pub fn canonical(value: &Value) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    write_value(&mut out, value, 0)?;
    Ok(out)
}

fn write_value(out: &mut Vec<u8>, value: &Value, depth: usize) -> Result<(), Error> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n)?,
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            if depth >= MAX_CANONICAL_DEPTH {
                return Err(Error::TooDeep {
                    max: MAX_CANONICAL_DEPTH,
                });
            }
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item, depth + 1)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            if depth >= MAX_CANONICAL_DEPTH {
                return Err(Error::TooDeep {
                    max: MAX_CANONICAL_DEPTH,
                });
            }
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push(b'{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, k);
                out.push(b':');
                write_value(out, v, depth + 1)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_number(out: &mut Vec<u8>, n: &Number) -> Result<(), Error> {
    let f = if let Some(i) = n.as_i64() {
        i as f64
    } else if let Some(u) = n.as_u64() {
        u as f64
    } else {
        n.as_f64().ok_or(Error::BadNumber)?
    };
    out.extend_from_slice(format_number(f)?.as_bytes());
    Ok(())
}

/// Formats a double as ECMAScript's `Number.prototype.toString` does (RFC 8785 section
/// 3.2.2.3): the shortest digits that round-trip, plain notation for decimal exponents in
/// -6..21, otherwise `d.ddde±n`; `-0` prints as `0`.
///
/// # Errors
/// [`Error::NonFinite`] for NaN and infinities.
pub fn format_number(f: f64) -> Result<String, Error> {
    if !f.is_finite() {
        return Err(Error::NonFinite);
    }
    if f == 0.0 {
        return Ok("0".to_owned());
    }
    let mut s = String::new();
    if f < 0.0 {
        s.push('-');
    }
    // Rust's `{:e}` prints the shortest round-tripping digits ("d.ddde[-]x"), but breaks
    // a tie between two shortest candidates upwards; ECMAScript wants the one closest to the
    // exact value (the even one on a tie). Exact formatting at that precision gives exactly
    // that, so use it whenever it still round-trips.
    let shortest = format!("{:e}", f.abs());
    let k = shortest
        .split_once('e')
        .map_or(1, |(m, _)| m.bytes().filter(u8::is_ascii_digit).count());
    let closest = format!("{:.*e}", k.saturating_sub(1), f.abs());
    let sci = if closest.parse::<f64>() == Ok(f.abs()) {
        closest
    } else {
        shortest
    };
    let (mantissa, exp) = sci.split_once('e').ok_or(Error::BadNumber)?;
    let exp: i32 = exp.parse().map_err(|_| Error::BadNumber)?;
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp + 1;
    if k <= n && n <= 21 {
        s.push_str(&digits);
        s.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        s.push_str(int);
        s.push('.');
        s.push_str(frac);
    } else if -6 < n && n <= 0 {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', (-n) as usize));
        s.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1);
        s.push_str(first);
        if !rest.is_empty() {
            s.push('.');
            s.push_str(rest);
        }
        s.push('e');
        s.push(if n - 1 < 0 { '-' } else { '+' });
        s.push_str(&(n - 1).abs().to_string());
    }
    Ok(s)
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let mut buf = [0u8; 4];
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\r' => out.extend_from_slice(b"\\r"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes()),
        }
    }
    out.push(b'"');
}
