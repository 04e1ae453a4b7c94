//! An envelope posted to a collection, taken apart: each object validated, canonicalised,
//! its signature checked and its audience computed. Valid objects go on; each invalid one
//! gets its own failure with the reason, for the status resource.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::access::{audience, Audience, Member, Tlp};
use crate::entry::{hash_hex, sha256, verify_signature};

/// Envelope property mapping an object's canonical SHA-256 (lowercase hex) to the
/// submitter's base64 Ed25519 signature over that canonical JSON.
pub const SIGNATURES: &str = "x_detente_signatures";

/// Most objects one envelope may carry.
pub const MAX_OBJECTS: usize = 10_000;

/// One object version ready to be logged and stored.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// STIX id.
    pub id: String,
    /// STIX type.
    pub typ: String,
    /// The version as served (`modified`, else `created`; `None`: the `date_added` it gets).
    pub version: Option<String>,
    /// RFC 8785 canonical JSON.
    pub canonical: Vec<u8>,
    /// SHA-256 of `canonical`.
    pub hash: [u8; 32],
    /// The TLP level applied.
    pub level: Tlp,
    /// Who may read it.
    pub audience: Audience,
    /// The verified signature, if one was sent.
    pub signature: Option<[u8; 64]>,
    /// Evidence files referenced ([`evidence_refs`]).
    pub refs: Vec<String>,
}

/// The evidence files an object references: the SHA-256 in `hashes` of an `artifact` or
/// `file` object, as lowercase hex.
pub fn evidence_refs(obj: &Value) -> Vec<String> {
    let ty = obj.get("type").and_then(Value::as_str);
    if !matches!(ty, Some("artifact" | "file")) {
        return Vec::new();
    }
    obj.get("hashes")
        .and_then(Value::as_object)
        .and_then(|h| h.get("SHA-256").or_else(|| h.get("sha256")))
        .and_then(Value::as_str)
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|h| vec![h.to_ascii_lowercase()])
        .unwrap_or_default()
}

/// One refused object, for the status resource's `failures`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The object's id, when it has a readable one.
    pub id: String,
    /// Its version, when it has one.
    pub version: Option<String>,
    /// Why it was refused.
    pub message: String,
}

/// Why a whole envelope is refused (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Not a JSON object with an `objects` list.
    #[error("the body is not a TAXII envelope: {0}")]
    NotEnvelope(&'static str),
    /// Too many objects.
    #[error("the envelope carries more than {MAX_OBJECTS} objects")]
    TooMany,
}

/// The version of an object as TAXII serves it.
pub fn version_of(obj: &Map<String, Value>) -> Option<String> {
    obj.get("modified")
        .or_else(|| obj.get("created"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

/// Takes an envelope apart for `sender` (with its Ed25519 key, if it has one) posting into
/// a collection whose default level is `default`.
pub fn prepare(
    envelope: Value,
    sender: &Member,
    key: Option<&[u8; 32]>,
    default: Tlp,
) -> Result<(Vec<Prepared>, Vec<Failure>), EnvelopeError> {
    let Value::Object(mut env) = envelope else {
        return Err(EnvelopeError::NotEnvelope("not a JSON object"));
    };
    let objects = match env.remove("objects") {
        Some(Value::Array(a)) => a,
        Some(_) => return Err(EnvelopeError::NotEnvelope("objects is not a list")),
        None => return Err(EnvelopeError::NotEnvelope("no objects")),
    };
    if objects.len() > MAX_OBJECTS {
        return Err(EnvelopeError::TooMany);
    }
    let sigs = match env.remove(SIGNATURES) {
        None => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(EnvelopeError::NotEnvelope(
                "x_detente_signatures is not an object",
            ))
        }
    };
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for obj in objects {
        let id = obj
            .get("id")
            .and_then(Value::as_str)
            .map(short)
            .unwrap_or_default();
        let version = obj.as_object().and_then(version_of).map(|v| short(&v));
        let fail = |message: String| Failure {
            id: id.clone(),
            version: version.clone(),
            message,
        };
        if let Err(v) = detente_stix::validate(&obj) {
            let msg = v
                .iter()
                .take(5)
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("; ");
            failed.push(fail(format!("invalid STIX 2.1: {msg}")));
            continue;
        }
        let canonical = match detente_stix::canonical(&obj) {
            Ok(c) => c,
            Err(e) => {
                failed.push(fail(format!("can't canonicalise: {e}")));
                continue;
            }
        };
        let hash = sha256(&canonical);
        let signature = match sigs.get(&hash_hex(&hash)) {
            None => None,
            Some(s) => {
                let Some(k) = key else {
                    failed.push(fail(
                        "signed, but the member has no key registered".to_string(),
                    ));
                    continue;
                };
                let sig = s
                    .as_str()
                    .and_then(|s| STANDARD.decode(s).ok())
                    .and_then(|v| <[u8; 64]>::try_from(v).ok());
                match sig {
                    Some(sig) if verify_signature(k, &canonical, &sig) => Some(sig),
                    _ => {
                        failed.push(fail(
                            "signature does not verify under the member's key".to_string(),
                        ));
                        continue;
                    }
                }
            }
        };
        let (level, aud) = match audience(&obj, sender, default) {
            Ok(a) => a,
            Err(e) => {
                failed.push(fail(e.to_string()));
                continue;
            }
        };
        let typ = obj
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let refs = evidence_refs(&obj);
        ok.push(Prepared {
            refs,
            id: obj
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            typ,
            version: obj.as_object().and_then(version_of),
            canonical,
            hash,
            level,
            audience: aud,
            signature,
        });
    }
    Ok((ok, failed))
}
