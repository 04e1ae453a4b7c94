//! Who may read an object: TLP levels from STIX markings, the audience an accepted object
//! version is given, and the check of a member against it.
//!
//! # The rule
//!
//! An object's TLP level is the most restrictive TLP marking among its
//! `object_marking_refs` and the `marking_ref`s of its `granular_markings` (STIX defines
//! no combination rule; taking the strictest means no marking is ever weakened, and a
//! granular marking restricts the whole object because the hub never redacts properties).
//! An object without a TLP marking gets its collection's default level. Markings that are
//! not TLP (statements, custom definitions) do not change access.
//!
//! The order, least to most restrictive: CLEAR (and TLP 1.0 WHITE) < GREEN < AMBER <
//! AMBER+STRICT < RED (TLP 1.0 RED).
//!
//! The audience a level gives, with the sender's recipients taken from the object's
//! `x_detente_recipients` (a list of `org:NAME`, `group:NAME` or `member:NAME`; it is part of
//! the signed object, so who it was shared with can't be denied either):
//! - CLEAR: anyone the collection lets read, signed in or not;
//! - GREEN: every member of the hub the collection lets read;
//! - AMBER: the sender's organisation and the organisations, groups and members named;
//! - AMBER+STRICT: the sender's organisation only (recipients are ignored);
//! - RED: the sender and the members named (organisations and groups are ignored).
//!
//! Collection read rights always apply first: an audience never widens them.

use serde_json::Value;

/// TLP marking-definition ids of STIX 2.1 (TLP 1.0, section 7.2.1.4) and of the TLP 2.0
/// extension, with the level each stands for.
pub const TLP_MARKINGS: [(&str, Tlp); 9] = [
    (
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        Tlp::Clear,
    ),
    (
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        Tlp::Green,
    ),
    (
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        Tlp::Amber,
    ),
    (
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
        Tlp::Red,
    ),
    (
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp::Clear,
    ),
    (
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp::Green,
    ),
    (
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp::Amber,
    ),
    (
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::AmberStrict,
    ),
    (
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        Tlp::Red,
    ),
];

/// Property of an object naming whom an AMBER or RED object is shared with.
pub const RECIPIENTS: &str = "x_detente_recipients";

/// Most recipients one object may name.
pub const MAX_RECIPIENTS: usize = 256;

/// A Traffic Light Protocol level, ordered from least to most restrictive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tlp {
    /// TLP:CLEAR (TLP 1.0 WHITE): no limit on disclosure.
    Clear,
    /// TLP:GREEN: within the community.
    Green,
    /// TLP:AMBER: the recipient's organisation and those it names.
    Amber,
    /// TLP:AMBER+STRICT: the recipient's organisation only.
    AmberStrict,
    /// TLP:RED: named recipients only.
    Red,
}

impl Tlp {
    /// The level a marking-definition id stands for, if it is a TLP marking.
    pub fn of_marking(id: &str) -> Option<Tlp> {
        TLP_MARKINGS.iter().find(|(m, _)| *m == id).map(|(_, t)| *t)
    }

    /// The name used in configuration and display: `clear`, `green`, `amber`,
    /// `amber+strict`, `red`.
    pub fn name(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }

    /// Parses [`Tlp::name`] (case-insensitive; `white` is CLEAR).
    pub fn parse(s: &str) -> Option<Tlp> {
        match s.to_ascii_lowercase().as_str() {
            "clear" | "white" => Some(Tlp::Clear),
            "green" => Some(Tlp::Green),
            "amber" => Some(Tlp::Amber),
            "amber+strict" | "amber-strict" => Some(Tlp::AmberStrict),
            "red" => Some(Tlp::Red),
            _ => None,
        }
    }

    /// The TLP 2.0 marking-definition id of this level.
    pub fn marking_id(self) -> &'static str {
        match self {
            Tlp::Clear => TLP_MARKINGS[4].0,
            Tlp::Green => TLP_MARKINGS[5].0,
            Tlp::Amber => TLP_MARKINGS[6].0,
            Tlp::AmberStrict => TLP_MARKINGS[7].0,
            Tlp::Red => TLP_MARKINGS[8].0,
        }
    }
}

/// The most restrictive TLP marking an object carries, object-level or granular; `None`
/// when it carries none.
pub fn object_tlp(obj: &Value) -> Option<Tlp> {
    let mut level: Option<Tlp> = None;
    let mut see = |id: &Value| {
        if let Some(t) = id.as_str().and_then(Tlp::of_marking) {
            level = Some(level.map_or(t, |l| l.max(t)));
        }
    };
    if let Some(refs) = obj.get("object_marking_refs").and_then(Value::as_array) {
        refs.iter().for_each(&mut see);
    }
    if let Some(gm) = obj.get("granular_markings").and_then(Value::as_array) {
        for g in gm {
            if let Some(r) = g.get("marking_ref") {
                see(r);
            }
        }
    }
    level
}

/// A principal an audience can name, in its stored form: `org:NAME`, `group:NAME` or
/// `member:NAME`.
pub type Principal = String;

/// Who may read one accepted object version (inside the collection's read rights).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Anyone the collection lets read, anonymous readers included.
    Anyone,
    /// Every signed-in member the collection lets read.
    Members,
    /// Exactly the members matching one of these principals.
    Only(Vec<Principal>),
}

/// A signed-in member as access control sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Unique member name.
    pub name: String,
    /// The organisation it belongs to.
    pub org: String,
    /// Groups it belongs to.
    pub groups: Vec<String>,
}

impl Member {
    /// The principals this member matches: `member:NAME`, `org:ORG`, `group:G`...
    pub fn principals(&self) -> Vec<Principal> {
        let mut p = vec![format!("member:{}", self.name), format!("org:{}", self.org)];
        p.extend(self.groups.iter().map(|g| format!("group:{g}")));
        p
    }
}

/// Why an object's recipients can't be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecipientError {
    /// `x_detente_recipients` is not a list of strings.
    #[error("x_detente_recipients must be a list of strings")]
    NotAList,
    /// An entry is not `org:NAME`, `group:NAME` or `member:NAME`.
    #[error("x_detente_recipients: {0:?} is not org:NAME, group:NAME or member:NAME")]
    BadEntry(String),
    /// Too many entries.
    #[error("x_detente_recipients names more than {MAX_RECIPIENTS} recipients")]
    TooMany,
}

/// A principal's name part: 1 to 64 of `A-Za-z0-9._-`.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn recipients(obj: &Value) -> Result<Vec<Principal>, RecipientError> {
    let Some(v) = obj.get(RECIPIENTS) else {
        return Ok(Vec::new());
    };
    let list = v.as_array().ok_or(RecipientError::NotAList)?;
    if list.len() > MAX_RECIPIENTS {
        return Err(RecipientError::TooMany);
    }
    let mut out = Vec::with_capacity(list.len());
    for e in list {
        let s = e.as_str().ok_or(RecipientError::NotAList)?;
        let ok = ["org:", "group:", "member:"]
            .iter()
            .any(|p| s.strip_prefix(p).is_some_and(valid_name));
        if !ok {
            return Err(RecipientError::BadEntry(s.chars().take(80).collect()));
        }
        out.push(s.to_string());
    }
    Ok(out)
}

/// The audience of an object submitted by `sender` into a collection whose default level
/// is `default`, by the rule in this module's documentation; also returns the level used.
pub fn audience(
    obj: &Value,
    sender: &Member,
    default: Tlp,
) -> Result<(Tlp, Audience), RecipientError> {
    // Recipients are checked whatever the level, so a malformed list is never kept silently.
    let named = recipients(obj)?;
    // TLP marking definitions themselves are public knowledge.
    if obj.get("type").and_then(Value::as_str) == Some("marking-definition")
        && obj
            .get("id")
            .and_then(Value::as_str)
            .and_then(Tlp::of_marking)
            .is_some()
    {
        return Ok((Tlp::Clear, Audience::Anyone));
    }
    let level = object_tlp(obj).unwrap_or(default);
    let own_org = format!("org:{}", sender.org);
    let own = format!("member:{}", sender.name);
    let aud = match level {
        Tlp::Clear => Audience::Anyone,
        Tlp::Green => Audience::Members,
        Tlp::Amber => {
            let mut p = vec![own_org, own];
            p.extend(named);
            Audience::Only(dedup(p))
        }
        Tlp::AmberStrict => Audience::Only(vec![own_org, own]),
        Tlp::Red => {
            let mut p = vec![own];
            p.extend(named.into_iter().filter(|n| n.starts_with("member:")));
            Audience::Only(dedup(p))
        }
    };
    Ok((level, aud))
}

fn dedup(mut v: Vec<Principal>) -> Vec<Principal> {
    v.sort();
    v.dedup();
    v
}

/// Whether `reader` (`None`: not signed in) is in `audience`. Collection rights are
/// checked separately, before.
pub fn allows(audience: &Audience, reader: Option<&Member>) -> bool {
    match (audience, reader) {
        (Audience::Anyone, _) => true,
        (Audience::Members, r) => r.is_some(),
        (Audience::Only(_), None) => false,
        (Audience::Only(p), Some(m)) => m.principals().iter().any(|x| p.contains(x)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(name: &str, org: &str, groups: &[&str]) -> Member {
        Member {
            name: name.into(),
            org: org.into(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn strictest_marking_wins() {
        let o = json!({"object_marking_refs": [Tlp::Green.marking_id(), Tlp::Red.marking_id()]});
        assert_eq!(object_tlp(&o), Some(Tlp::Red));
        let o = json!({"object_marking_refs": [TLP_MARKINGS[0].0],
            "granular_markings": [{"marking_ref": TLP_MARKINGS[2].0, "selectors": ["name"]}]});
        assert_eq!(object_tlp(&o), Some(Tlp::Amber));
        let o = json!({"object_marking_refs": ["marking-definition--00000000-0000-4000-8000-000000000000"]});
        assert_eq!(object_tlp(&o), None);
    }

    #[test]
    fn audiences() {
        let a = m("a1", "A", &["eu"]);
        let a2 = m("a2", "A", &[]);
        let b = m("b1", "B", &["eu"]);
        let c = m("c1", "C", &[]);
        let amber = json!({"object_marking_refs": [Tlp::Amber.marking_id()],
            RECIPIENTS: ["group:eu"]});
        let (_, aud) = audience(&amber, &a, Tlp::Green).unwrap();
        assert!(allows(&aud, Some(&a2)) && allows(&aud, Some(&b)));
        assert!(!allows(&aud, Some(&c)) && !allows(&aud, None));

        let strict = json!({"object_marking_refs": [Tlp::AmberStrict.marking_id()],
            RECIPIENTS: ["org:B"]});
        let (_, aud) = audience(&strict, &a, Tlp::Green).unwrap();
        assert!(allows(&aud, Some(&a2)) && !allows(&aud, Some(&b)));

        let red = json!({"object_marking_refs": [Tlp::Red.marking_id()],
            RECIPIENTS: ["member:b1", "org:C"]});
        let (_, aud) = audience(&red, &a, Tlp::Green).unwrap();
        assert!(allows(&aud, Some(&a)) && allows(&aud, Some(&b)));
        assert!(!allows(&aud, Some(&a2)) && !allows(&aud, Some(&c)));

        let (lvl, aud) = audience(&json!({}), &a, Tlp::Green).unwrap();
        assert_eq!((lvl, &aud), (Tlp::Green, &Audience::Members));
        assert!(allows(&aud, Some(&c)) && !allows(&aud, None));
    }

    #[test]
    fn bad_recipients_are_refused() {
        let a = m("a1", "A", &[]);
        for bad in [json!("org:B"), json!(["B"]), json!(["org:"]), json!([1])] {
            assert!(audience(&json!({RECIPIENTS: bad}), &a, Tlp::Green).is_err());
        }
    }
}
