//! STIX 2.1 MUST rules for one object.

use crate::bounded::{depth_of, DEFAULT_MAX_DEPTH};
use serde_json::{Map, Value};
use std::fmt;

/// One broken rule: where (a JSON-pointer-like property path, `""` for the object itself)
/// and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Property path, e.g. `"id"`, `"object_marking_refs/1"`, `"granular_markings/0/marking_ref"`.
    pub path: String,
    /// The rule broken.
    pub reason: Reason,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{}: {}", self.path, self.reason)
        }
    }
}

/// Why an object breaks a STIX 2.1 MUST rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    /// The value is not a JSON object.
    #[error("not a JSON object")]
    NotAnObject,
    /// The object nests deeper than the validator accepts.
    #[error("nested deeper than {0}")]
    TooDeep(usize),
    /// A required property is absent.
    #[error("required property missing")]
    Missing,
    /// A property has the wrong JSON type.
    #[error("expected {0}")]
    WrongType(&'static str),
    /// `type` is not 3-250 characters of `a-z`, `0-9` and single hyphens.
    #[error("invalid type name")]
    BadType,
    /// Not an identifier `<type>--<UUID>` with an RFC 4122 UUID.
    #[error("not a STIX identifier")]
    BadId,
    /// The identifier's type prefix differs from the object's `type`.
    #[error("identifier prefix does not match type")]
    IdTypeMismatch,
    /// `spec_version` is not `"2.1"`.
    #[error("spec_version must be \"2.1\"")]
    BadSpecVersion,
    /// Not an RFC 3339 UTC timestamp ending in `Z`.
    #[error("not an RFC 3339 UTC timestamp")]
    BadTimestamp,
    /// `modified` is earlier than `created`.
    #[error("modified is earlier than created")]
    ModifiedBeforeCreated,
    /// A reference points at an object of a type the property does not allow.
    #[error("reference to a {0} is not allowed here")]
    WrongRefType(String),
    /// A list that must not be empty is empty.
    #[error("list must not be empty")]
    EmptyList,
    /// A property name is not `^[a-z0-9_]{3,250}$` (or `x_`-prefixed).
    #[error("invalid property name")]
    BadPropertyName,
    /// A conditional rule of the object's type is broken (the text says which).
    #[error("{0}")]
    Rule(&'static str),
}

/// Object categories, as far as the common rules differ.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// SDOs and SROs: spec_version, created, modified required.
    Domain,
    /// SCOs: spec_version optional, no created/modified.
    Observable,
    /// marking-definition: created required, no modified.
    Marking,
    /// language-content and extension-definition: like SDOs.
    Meta,
    /// Any other type (custom objects): the common SDO rules, or the SCO ones when an
    /// extension declares it a `new-sco`.
    Custom,
}

/// Required type-specific properties (beyond the common ones) of each known type.
fn known(ty: &str) -> Option<(Kind, &'static [&'static str])> {
    use Kind::*;
    Some(match ty {
        "attack-pattern" | "campaign" | "course-of-action" | "incident" | "infrastructure"
        | "intrusion-set" | "threat-actor" | "tool" | "vulnerability" | "identity" => {
            (Domain, &["name"])
        }
        "grouping" => (Domain, &["context", "object_refs"]),
        "indicator" => (Domain, &["pattern", "pattern_type", "valid_from"]),
        "location" => (Domain, &[]),
        "malware" => (Domain, &["is_family"]),
        "malware-analysis" => (Domain, &["product"]),
        "note" => (Domain, &["content", "object_refs"]),
        "observed-data" => (
            Domain,
            &["first_observed", "last_observed", "number_observed"],
        ),
        "opinion" => (Domain, &["opinion", "object_refs"]),
        "report" => (Domain, &["name", "published", "object_refs"]),
        "relationship" => (Domain, &["relationship_type", "source_ref", "target_ref"]),
        "sighting" => (Domain, &["sighting_of_ref"]),
        "marking-definition" => (Marking, &[]),
        "language-content" => (Meta, &["object_ref", "contents"]),
        "extension-definition" => (
            Meta,
            &[
                "created_by_ref",
                "name",
                "schema",
                "version",
                "extension_types",
            ],
        ),
        "artifact"
        | "email-message"
        | "file"
        | "process"
        | "user-account"
        | "windows-registry-key"
        | "x509-certificate" => (Observable, &[]),
        "autonomous-system" => (Observable, &["number"]),
        "directory" => (Observable, &["path"]),
        "domain-name" | "email-addr" | "ipv4-addr" | "ipv6-addr" | "mac-addr" | "url" => {
            (Observable, &["value"])
        }
        "mutex" | "software" => (Observable, &["name"]),
        "network-traffic" => (Observable, &["protocols"]),
        _ => return None,
    })
}

/// Timestamp-valued properties of the specification, checked wherever they appear at the
/// top level of an object.
const TIMESTAMPS: &[&str] = &[
    "created",
    "modified",
    "valid_from",
    "valid_until",
    "first_seen",
    "last_seen",
    "first_observed",
    "last_observed",
    "published",
    "start_time",
    "stop_time",
    "submitted",
    "analysis_started",
    "analysis_ended",
];

/// Property names the specification defines that are shorter than the custom-name minimum.
const SHORT_SPEC_NAMES: &[&str] = &["id"];

/// Checks one STIX 2.1 object against the specification's MUST rules.
///
/// Covered:
/// - `type`: 3-250 characters of `a-z0-9-`, starting with a letter, no empty `-` parts.
/// - `id`: `<type>--<UUID>` (RFC 4122 layout in lowercase hex, version 1-8, variant `10`),
///   its prefix equal to `type`.
/// - `spec_version`: `"2.1"`; required on SDOs, SROs, marking definitions, language content,
///   extension definitions and custom objects, checked when present on SCOs.
/// - Timestamps: RFC 3339 UTC with `Z` (calendar-checked) for the specification's timestamp
///   properties; `created` (and `modified`, except on marking definitions) required where
///   the specification requires them; `modified >= created`; indicator `valid_until` after
///   `valid_from`.
/// - Required properties of the known SDOs, SROs, SCOs and meta objects, and the conditional
///   rules of location, malware (`name` when `is_family`), malware-analysis and
///   observed-data.
/// - References: every `*_ref` / `*_refs` member at any depth is an identifier (a `_refs`
///   list is non-empty); `created_by_ref` names an identity, `object_marking_refs` and
///   `marking_ref` marking definitions. A custom `x_` reference may be the empty string, as
///   ATT&CK's `x_mitre_data_source_ref` is.
/// - Top-level property names: `^[a-z0-9_]{3,250}$`, or `x_`-prefixed.
/// - Custom object types (unknown here, such as ATT&CK's `x-mitre-*`): only the common SDO
///   rules above, or the SCO ones when an extension declares them `new-sco`.
/// - Values nested deeper than [`DEFAULT_MAX_DEPTH`](crate::DEFAULT_MAX_DEPTH) are refused
///   outright with [`Reason::TooDeep`].
///
/// # Errors
/// Every violation found, in a stable order.
pub fn validate(obj: &Value) -> Result<(), Vec<Violation>> {
    let mut v = Vec::new();
    check(obj, &mut v);
    if v.is_empty() {
        Ok(())
    } else {
        Err(v)
    }
}

fn push(v: &mut Vec<Violation>, path: impl Into<String>, reason: Reason) {
    v.push(Violation {
        path: path.into(),
        reason,
    });
}

fn check(obj: &Value, v: &mut Vec<Violation>) {
    let depth = depth_of(obj);
    if depth > DEFAULT_MAX_DEPTH {
        push(v, "", Reason::TooDeep(DEFAULT_MAX_DEPTH));
        return;
    }
    let Some(o) = obj.as_object() else {
        push(v, "", Reason::NotAnObject);
        return;
    };

    // type
    let ty = match o.get("type") {
        None => {
            push(v, "type", Reason::Missing);
            None
        }
        Some(Value::String(t)) if valid_type(t) => Some(t.as_str()),
        Some(Value::String(_)) => {
            push(v, "type", Reason::BadType);
            None
        }
        Some(_) => {
            push(v, "type", Reason::WrongType("string"));
            None
        }
    };
    let (mut kind, required) = ty.and_then(known).unwrap_or((Kind::Custom, &[]));
    if kind == Kind::Custom {
        // A custom object is an SDO unless an extension declares it a new SCO (STIX 2.1
        // section 7.3); custom SROs and SDOs both carry created and modified.
        let new_sco = o
            .get("extensions")
            .and_then(Value::as_object)
            .is_some_and(|e| {
                e.values()
                    .any(|x| x.get("extension_type").and_then(Value::as_str) == Some("new-sco"))
            });
        kind = if new_sco {
            Kind::Observable
        } else {
            Kind::Domain
        };
    }

    // id
    match o.get("id") {
        None => push(v, "id", Reason::Missing),
        Some(Value::String(id)) => match split_id(id) {
            None => push(v, "id", Reason::BadId),
            Some(prefix) => {
                if let Some(t) = ty {
                    if prefix != t {
                        push(v, "id", Reason::IdTypeMismatch);
                    }
                }
            }
        },
        Some(_) => push(v, "id", Reason::WrongType("string")),
    }

    // spec_version
    match o.get("spec_version") {
        None => {
            if matches!(kind, Kind::Domain | Kind::Marking | Kind::Meta) {
                push(v, "spec_version", Reason::Missing);
            }
        }
        Some(Value::String(s)) if s == "2.1" => {}
        Some(Value::String(_)) => push(v, "spec_version", Reason::BadSpecVersion),
        Some(_) => push(v, "spec_version", Reason::WrongType("string")),
    }

    // created / modified presence
    if matches!(kind, Kind::Domain | Kind::Marking | Kind::Meta) && !o.contains_key("created") {
        push(v, "created", Reason::Missing);
    }
    if matches!(kind, Kind::Domain | Kind::Meta) && !o.contains_key("modified") {
        push(v, "modified", Reason::Missing);
    }

    // timestamps
    for name in TIMESTAMPS {
        if let Some(val) = o.get(*name) {
            match val.as_str() {
                Some(s) if parse_timestamp(s).is_some() => {}
                Some(_) => push(v, *name, Reason::BadTimestamp),
                None => push(v, *name, Reason::WrongType("timestamp string")),
            }
        }
    }
    let ts = |name: &str| {
        o.get(name)
            .and_then(Value::as_str)
            .and_then(parse_timestamp)
    };
    if let (Some(c), Some(m)) = (ts("created"), ts("modified")) {
        if m < c {
            push(v, "modified", Reason::ModifiedBeforeCreated);
        }
    }

    // required type-specific properties
    for name in required {
        if !o.contains_key(*name) {
            push(v, *name, Reason::Missing);
        }
    }
    if let Some(t) = ty {
        type_rules(t, o, v);
    }

    // property names
    for name in o.keys() {
        if !valid_property_name(name) {
            push(v, name.clone(), Reason::BadPropertyName);
        }
    }

    // references, at any depth
    check_refs(obj, &mut String::new(), v);
}

fn type_rules(ty: &str, o: &Map<String, Value>, v: &mut Vec<Violation>) {
    match ty {
        "malware" => {
            if let Some(f) = o.get("is_family") {
                match f.as_bool() {
                    None => push(v, "is_family", Reason::WrongType("boolean")),
                    Some(true) if !o.contains_key("name") => push(v, "name", Reason::Missing),
                    Some(_) => {}
                }
            }
        }
        "location" => {
            let has = |k| o.contains_key(k);
            if !(has("region") || has("country") || (has("latitude") && has("longitude"))) {
                push(
                    v,
                    "",
                    Reason::Rule("location needs region, country, or latitude and longitude"),
                );
            }
            if has("latitude") != has("longitude") {
                push(
                    v,
                    "",
                    Reason::Rule("latitude and longitude must come together"),
                );
            }
        }
        "malware-analysis" if !o.contains_key("result") && !o.contains_key("analysis_sco_refs") => {
            push(
                v,
                "",
                Reason::Rule("malware-analysis needs result or analysis_sco_refs"),
            );
        }
        "observed-data" if !o.contains_key("object_refs") && !o.contains_key("objects") => {
            push(v, "object_refs", Reason::Missing);
        }
        "indicator" => {
            if let (Some(a), Some(b)) = (
                o.get("valid_from")
                    .and_then(Value::as_str)
                    .and_then(parse_timestamp),
                o.get("valid_until")
                    .and_then(Value::as_str)
                    .and_then(parse_timestamp),
            ) {
                if b <= a {
                    push(
                        v,
                        "valid_until",
                        Reason::Rule("valid_until must be later than valid_from"),
                    );
                }
            }
        }
        _ => {}
    }
}

/// Walks every `*_ref` / `*_refs` member at any depth.
fn check_refs(val: &Value, path: &mut String, v: &mut Vec<Violation>) {
    match val {
        Value::Object(map) => {
            for (k, child) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('/');
                }
                path.push_str(k);
                if k.ends_with("_ref") {
                    check_one_ref(k, child, path, v);
                } else if k.ends_with("_refs") {
                    match child {
                        Value::Array(items) => {
                            if items.is_empty() {
                                push(v, path.clone(), Reason::EmptyList);
                            }
                            for (i, item) in items.iter().enumerate() {
                                let p = format!("{path}/{i}");
                                check_one_ref(k, item, &p, v);
                            }
                        }
                        _ => push(v, path.clone(), Reason::WrongType("list of identifiers")),
                    }
                } else {
                    check_refs(child, path, v);
                }
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('/');
                }
                path.push_str(&i.to_string());
                check_refs(item, path, v);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

fn check_one_ref(name: &str, val: &Value, path: &str, v: &mut Vec<Violation>) {
    let Some(s) = val.as_str() else {
        push(v, path, Reason::WrongType("identifier"));
        return;
    };
    // A custom (`x_`) reference left empty means "no reference": ATT&CK ships
    // `"x_mitre_data_source_ref": ""`. The specification's own references get no such leeway.
    if s.is_empty() && name.starts_with("x_") {
        return;
    }
    let Some(prefix) = split_id(s) else {
        push(v, path, Reason::BadId);
        return;
    };
    let want = match name {
        "created_by_ref" => Some("identity"),
        "object_marking_refs" | "marking_ref" => Some("marking-definition"),
        _ => None,
    };
    if let Some(want) = want {
        if prefix != want {
            push(v, path, Reason::WrongRefType(prefix.to_owned()));
        }
    }
}

/// `type`: 3-250 characters, `a-z0-9-`, starting with a letter, no empty hyphen-separated
/// part except a single trailing hyphen (the specification's `^([a-z][a-z0-9]*)+(-[a-z0-9]+)*\-?$`).
fn valid_type(t: &str) -> bool {
    let b = t.as_bytes();
    if b.len() < 3 || b.len() > 250 || !b[0].is_ascii_lowercase() {
        return false;
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
    {
        return false;
    }
    let body = t.strip_suffix('-').unwrap_or(t);
    !body.split('-').any(str::is_empty)
}

/// Splits an identifier `<type>--<UUID>`, returning the type prefix when the whole is valid.
fn split_id(id: &str) -> Option<&str> {
    let (prefix, uuid) = id.split_once("--")?;
    if !valid_type(prefix) || !valid_uuid(uuid) {
        return None;
    }
    Some(prefix)
}

/// RFC 4122 layout `8-4-4-4-12` lowercase hex, version 1-8 and variant `10xx`.
fn valid_uuid(u: &str) -> bool {
    let b = u.as_bytes();
    if b.len() != 36 {
        return false;
    }
    for (i, c) in b.iter().enumerate() {
        let ok = match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        };
        if !ok {
            return false;
        }
    }
    matches!(b[14], b'1'..=b'8') && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

/// Property names: `^[a-z0-9_]{3,250}$`, or `x_`-prefixed (up to 250 characters), or one of
/// the specification's own shorter names.
fn valid_property_name(name: &str) -> bool {
    if SHORT_SPEC_NAMES.contains(&name) {
        return true;
    }
    let len_ok = (3..=250).contains(&name.len());
    if name.starts_with("x_") {
        return name.len() <= 250;
    }
    len_ok
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// A STIX timestamp rewritten so that comparing strings compares instants:
/// `YYYY-MM-DDTHH:MM:SS.fffffffff` followed by any further fraction digits, without the `Z`
/// and without trailing zeros past the ninth digit. `None` when `s` is not a valid STIX
/// timestamp. Stores index this form; it is never shown.
pub fn timestamp_key(s: &str) -> Option<String> {
    let (y, mo, d, h, mi, sec, frac) = parse_timestamp(s)?;
    let mut out = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{sec:02}.{frac}");
    for _ in frac.len()..9 {
        out.push('0');
    }
    Some(out)
}

/// An ordered timestamp key: (year, month, day, hour, minute, second, fraction digits
/// without trailing zeros). Comparing keys compares instants.
type Stamp<'a> = (u32, u32, u32, u32, u32, u32, &'a str);

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z` with calendar-valid fields.
fn parse_timestamp(s: &str) -> Option<Stamp<'_>> {
    let b = s.as_bytes();
    if b.len() < 20 || *b.last()? != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        part.iter()
            .try_fold(0u32, |acc, d| Some(acc * 10 + u32::from(d - b'0')))
    };
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d, h, mi, sec) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if d == 0 || d > days || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let rest = &s[19..s.len() - 1];
    let frac = if rest.is_empty() {
        ""
    } else {
        let digits = rest.strip_prefix('.')?;
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        digits.trim_end_matches('0')
    };
    Some((y, mo, d, h, mi, sec, frac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert!(parse_timestamp("2016-04-06T20:03:48.000Z").is_some());
        assert!(parse_timestamp("2016-04-06T20:03:48Z").is_some());
        assert!(parse_timestamp("2016-02-29T00:00:00Z").is_some());
        assert!(parse_timestamp("2015-02-29T00:00:00Z").is_none());
        assert!(parse_timestamp("2016-04-06T20:03:48+00:00").is_none());
        assert!(parse_timestamp("2016-04-06 20:03:48Z").is_none());
        assert!(parse_timestamp("2016-04-06T20:03:48.Z").is_none());
        assert!(parse_timestamp("2016-13-06T20:03:48Z").is_none());
        assert!(parse_timestamp("2016-04-06T24:03:48Z").is_none());
        assert!(
            parse_timestamp("2016-04-06T20:03:48.5Z") > parse_timestamp("2016-04-06T20:03:48.45Z")
        );
        assert!(
            parse_timestamp("2016-04-06T20:03:48.500Z")
                == parse_timestamp("2016-04-06T20:03:48.5Z")
        );
        assert!(
            parse_timestamp("2016-04-06T20:03:48Z") < parse_timestamp("2016-04-06T20:03:48.001Z")
        );
        assert!(parse_timestamp("é016-04-06T20:03:48Z").is_none());
    }

    #[test]
    fn timestamp_keys_order_as_instants() {
        let k = |s| timestamp_key(s).unwrap();
        assert_eq!(k("2016-04-06T20:03:48Z"), "2016-04-06T20:03:48.000000000");
        assert_eq!(k("2016-04-06T20:03:48.5Z"), k("2016-04-06T20:03:48.500Z"));
        assert!(k("2016-04-06T20:03:48.45Z") < k("2016-04-06T20:03:48.5Z"));
        assert!(k("2016-04-06T20:03:48.123456789Z") < k("2016-04-06T20:03:48.1234567891Z"));
        assert!(k("2016-04-06T20:03:48.1234567891Z") < k("2016-04-06T20:03:48.123456790Z"));
        assert!(timestamp_key("2016-04-06T20:03:48").is_none());
    }

    #[test]
    fn types_and_ids() {
        assert!(valid_type("attack-pattern"));
        assert!(valid_type("x-mitre-tactic"));
        assert!(!valid_type("ab"));
        assert!(!valid_type("Attack"));
        assert!(!valid_type("a--b"));
        assert!(!valid_type("-abc"));
        assert!(split_id("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f") == Some("indicator"));
        assert!(split_id("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3").is_none());
        assert!(split_id("indicator--8E2E2D2B-17d4-4cbf-938f-98ee46b3cd3f").is_none());
        assert!(split_id("indicator--8e2e2d2b-17d4-4cbf-738f-98ee46b3cd3f").is_none());
        assert!(split_id("indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").is_none());
    }

    #[test]
    fn property_names() {
        assert!(valid_property_name("id"));
        assert!(valid_property_name("x_mitre_version"));
        assert!(valid_property_name("x_CamelCase"));
        assert!(valid_property_name("abc"));
        assert!(!valid_property_name("ab"));
        assert!(!valid_property_name("Name"));
        assert!(!valid_property_name("has-hyphen"));
    }
}
