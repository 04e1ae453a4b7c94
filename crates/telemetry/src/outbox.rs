//! The outbox: one JSON line per upload, hash-chained, kept on the endpoint for its owner.
//!
//! A record holds the bytes sent (base64) and where, what they mean (each measured item
//! with the policy rule that allowed it, and what was withheld), the seed and the
//! aggregator keys they were made from, and two hashes: `prev`, the previous record's
//! `hash` (64 zeros for the first), and `hash`, the SHA-256 of `prev` and the record's
//! canonical JSON without `hash`. Removing, reordering or editing a record breaks the
//! chain at that record. [`check_chain`] checks the chain; recomputing the bytes from the
//! record and comparing them is the caller's (it needs the DAP framing).

use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Longest outbox line read back.
pub const MAX_LINE: usize = 1 << 20;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Canonical bytes of a JSON object: keys sorted (serde_json's map is ordered), no spaces.
fn canonical(v: &Map<String, Value>) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn chain_hash(prev: &str, body: &Map<String, Value>) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(canonical(body));
    hex(&h.finalize())
}

/// Makes the next record from its fields (`fields` must not hold `prev`, `hash` or `seq`),
/// chained after `prev_hash` at position `seq`. Returns the JSON line (without newline).
pub fn record(seq: u64, prev_hash: &str, fields: Map<String, Value>) -> String {
    let mut body = fields;
    body.insert("seq".into(), json!(seq));
    body.insert("prev".into(), json!(prev_hash));
    let h = chain_hash(prev_hash, &body);
    body.insert("hash".into(), json!(h));
    String::from_utf8(canonical(&body)).unwrap_or_default()
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("outbox line {line}: {what}")]
pub struct ChainError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

/// Checks every line of an outbox: JSON, in sequence, each `prev` the previous `hash`, each
/// `hash` right. Returns the records and the last hash (to chain the next one after).
pub fn check_chain(text: &str) -> Result<(Vec<Map<String, Value>>, String), ChainError> {
    let mut prev = GENESIS.to_string();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let err = |what: &str| ChainError {
            line: i + 1,
            what: what.to_string(),
        };
        if line.len() > MAX_LINE {
            return Err(err("line too long"));
        }
        let v: Value = serde_json::from_str(line).map_err(|_| err("not JSON"))?;
        let Value::Object(mut o) = v else {
            return Err(err("not a JSON object"));
        };
        if o.get("seq").and_then(Value::as_u64) != Some(i as u64) {
            return Err(err("out of sequence (a record was removed or moved)"));
        }
        if o.get("prev").and_then(Value::as_str) != Some(prev.as_str()) {
            return Err(err("prev is not the previous record's hash"));
        }
        let Some(Value::String(h)) = o.remove("hash") else {
            return Err(err("no hash"));
        };
        if chain_hash(&prev, &o) != h {
            return Err(err("hash does not match the record (it was edited)"));
        }
        o.insert("hash".into(), json!(h));
        prev = h;
        out.push(o);
    }
    Ok((out, prev))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(n: u64) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("sent".into(), json!(format!("bytes {n}")));
        m.insert(
            "items".into(),
            json!([{"what": "scans", "value": n, "rule": "scan-counts"}]),
        );
        m
    }

    fn outbox(n: u64) -> String {
        let mut text = String::new();
        let mut prev = GENESIS.to_string();
        for i in 0..n {
            let line = record(i, &prev, fields(i));
            let v: Value = serde_json::from_str(&line).unwrap();
            prev = v["hash"].as_str().unwrap().to_string();
            text.push_str(&line);
            text.push('\n');
        }
        text
    }

    #[test]
    fn a_chain_checks_and_every_change_breaks_it_where_it_was_made() {
        let text = outbox(4);
        let (recs, last) = check_chain(&text).unwrap();
        assert_eq!(recs.len(), 4);
        assert_eq!(recs[3]["hash"], json!(last));
        let lines: Vec<&str> = text.lines().collect();
        // Removed.
        let removed = [lines[0], lines[2], lines[3]].join("\n");
        assert_eq!(check_chain(&removed).unwrap_err().line, 2);
        // Reordered.
        let moved = [lines[1], lines[0], lines[2]].join("\n");
        assert_eq!(check_chain(&moved).unwrap_err().line, 1);
        // Edited (the value measured).
        let edited = text.replacen("\"value\":2", "\"value\":20", 1);
        let e = check_chain(&edited).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.what.contains("edited"));
        // Appended after a valid chain: continues from the last hash.
        let mut more = text.clone();
        more.push_str(&record(4, &last, fields(4)));
        assert_eq!(check_chain(&more).unwrap().0.len(), 5);
        assert!(check_chain("not json").is_err());
    }
}
