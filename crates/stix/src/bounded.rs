//! Bounded JSON parsing.

use crate::Error;
use serde_json::Value;

/// Default maximum size of one STIX object: 1 MiB of JSON.
pub const DEFAULT_MAX_LEN: usize = 1 << 20;
/// Default maximum nesting depth of arrays and objects (the top-level value is depth 1).
pub const DEFAULT_MAX_DEPTH: usize = 32;

/// Parses `bytes` as JSON, refusing input longer than `max_len` bytes or with arrays and
/// objects nested deeper than `max_depth` (a top-level object is depth 1).
///
/// Both limits are checked on the raw bytes before `serde_json` sees them, so a hostile
/// input never costs more than one linear scan.
pub fn parse_bounded(bytes: &[u8], max_len: usize, max_depth: usize) -> Result<Value, Error> {
    if bytes.len() > max_len {
        return Err(Error::TooLarge {
            len: bytes.len(),
            max: max_len,
        });
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(Error::TooDeep { max: max_depth });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    serde_json::from_slice(bytes).map_err(|e| Error::Json(e.to_string()))
}

/// Nesting depth of a parsed value (scalars are 0, `{}` and `[]` are 1), computed without
/// recursion.
pub(crate) fn depth_of(value: &Value) -> usize {
    let mut max = 0;
    let mut stack: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((v, d)) = stack.pop() {
        match v {
            Value::Array(a) => {
                max = max.max(d + 1);
                stack.extend(a.iter().map(|x| (x, d + 1)));
            }
            Value::Object(o) => {
                max = max.max(d + 1);
                stack.extend(o.values().map(|x| (x, d + 1)));
            }
            _ => {}
        }
    }
    max
}
