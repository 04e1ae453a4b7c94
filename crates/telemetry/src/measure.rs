//! What an endpoint may measure, and the measurement a policy allows.
//!
//! The policy is the owner's: a JSON file naming the task, the ordered list of signature
//! families the feed publishes (their position is their index in the report's vector), the
//! most families one daily report may set, and which rules are on. A family an endpoint
//! detected but the policy does not list is never reported: it is withheld, and the outbox
//! says so.
//!
//! ```json
//! {"version": 1, "task": "dap task id (base64url)",
//!  "families": ["Win.Trojan.Agent", "Doc.Dropper.Agent"],
//!  "max_weight": 16,
//!  "rules": {"families-detected": true, "scan-counts": true}}
//! ```

use serde_json::Value;

/// Longest family list a policy may give (the report's vector length).
pub const MAX_FAMILIES: usize = 4096;
/// Longest family name.
pub const MAX_NAME: usize = 128;

/// The rule that lets an endpoint report which families it detected today.
pub const RULE_FAMILIES: &str = "families-detected";
/// The rule that lets an endpoint report how many files it scanned and how many it flagged.
pub const RULE_COUNTS: &str = "scan-counts";

/// A parsed telemetry policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The DAP task the reports go to.
    pub task: String,
    /// Families, by index.
    pub families: Vec<String>,
    /// Most families set in one report.
    pub max_weight: usize,
    /// Whether detected families may be reported.
    pub families_detected: bool,
    /// Whether scan and detection counts may be reported.
    pub scan_counts: bool,
}

/// Why a policy file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("telemetry policy: {0}")]
pub struct PolicyError(pub String);

fn bad(s: impl Into<String>) -> PolicyError {
    PolicyError(s.into())
}

impl Policy {
    /// Parses a policy file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Policy, PolicyError> {
        if bytes.len() > 1 << 20 {
            return Err(bad("larger than 1 MiB"));
        }
        let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        let o = v.as_object().ok_or_else(|| bad("not a JSON object"))?;
        for k in o.keys() {
            if !["version", "task", "families", "max_weight", "rules"].contains(&k.as_str()) {
                return Err(bad(format!("unknown key {k:?}")));
            }
        }
        if o.get("version").and_then(Value::as_u64) != Some(1) {
            return Err(bad("version must be 1"));
        }
        let task = o
            .get("task")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty() && t.len() <= 64)
            .ok_or_else(|| bad("task must be a task id"))?
            .to_string();
        let list = o
            .get("families")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("families must be a list"))?;
        if list.is_empty() || list.len() > MAX_FAMILIES {
            return Err(bad(format!("families must list 1 to {MAX_FAMILIES} names")));
        }
        let mut families = Vec::with_capacity(list.len());
        for (i, f) in list.iter().enumerate() {
            let name = f
                .as_str()
                .filter(|n| !n.is_empty() && n.len() <= MAX_NAME && n.is_ascii())
                .ok_or_else(|| bad(format!("families[{i}] is not a family name")))?;
            if families.iter().any(|x: &String| x == name) {
                return Err(bad(format!("families[{i}] {name:?} is listed twice")));
            }
            families.push(name.to_string());
        }
        let max_weight = o
            .get("max_weight")
            .and_then(Value::as_u64)
            .filter(|w| *w >= 1 && (*w as usize) <= families.len())
            .ok_or_else(|| bad("max_weight must be 1 to the number of families"))?
            as usize;
        let rules = o
            .get("rules")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("rules must be an object"))?;
        for (k, v) in rules {
            if k != RULE_FAMILIES && k != RULE_COUNTS {
                return Err(bad(format!("unknown rule {k:?}")));
            }
            if !v.is_boolean() {
                return Err(bad(format!("rule {k:?} must be true or false")));
            }
        }
        let on = |k: &str| rules.get(k).and_then(Value::as_bool).unwrap_or(false);
        Ok(Policy {
            task,
            families,
            max_weight,
            families_detected: on(RULE_FAMILIES),
            scan_counts: on(RULE_COUNTS),
        })
    }

    /// Whether anything at all may be sent.
    pub fn sends_anything(&self) -> bool {
        self.families_detected || self.scan_counts
    }
}

/// What an endpoint observed over one day, before the policy is applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Names of the signatures that matched (e.g. `Win.Trojan.Agent-123`).
    pub detections: Vec<String>,
    /// Files scanned.
    pub scanned: u64,
}

/// The family a ClamAV-style signature name belongs to: the name without a trailing
/// `-<digits>` variant and without ClamAV's `.UNOFFICIAL` suffix.
pub fn family_of(signature: &str) -> &str {
    let s = signature.strip_suffix(".UNOFFICIAL").unwrap_or(signature);
    match s.rsplit_once('-') {
        Some((head, tail)) if !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => s,
    }
}

/// One measured item and the policy rule that allowed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What it is (a family name, `scans` or `detections`).
    pub what: String,
    /// Its value (1 for a family set in the vector, a count otherwise).
    pub value: u64,
    /// The rule that allowed it.
    pub rule: &'static str,
}

/// The measurement a policy allows from an observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measurement {
    /// The multi-hot vector over the policy's families (empty when the rule is off).
    pub families: Vec<bool>,
    /// Scans and detections, when the rule is on.
    pub counts: Option<[u64; 2]>,
    /// Every item measured, with its rule.
    pub items: Vec<Item>,
    /// Families detected but not reported: not listed by the policy, over `max_weight`,
    /// or the rule is off.
    pub withheld: Vec<String>,
}

/// Applies a policy to an observation.
pub fn measure(policy: &Policy, seen: &Observed) -> Measurement {
    let mut fams: Vec<&str> = seen.detections.iter().map(|d| family_of(d)).collect();
    fams.sort();
    fams.dedup();
    let mut bits = vec![
        false;
        if policy.families_detected {
            policy.families.len()
        } else {
            0
        }
    ];
    let mut items = Vec::new();
    let mut withheld = Vec::new();
    let mut indices: Vec<(usize, &str)> = Vec::new();
    for f in fams {
        match policy.families.iter().position(|x| x == f) {
            Some(i) if policy.families_detected => indices.push((i, f)),
            _ => withheld.push(f.to_string()),
        }
    }
    indices.sort();
    for (n, (i, f)) in indices.into_iter().enumerate() {
        if n < policy.max_weight {
            bits[i] = true;
            items.push(Item {
                what: f.to_string(),
                value: 1,
                rule: RULE_FAMILIES,
            });
        } else {
            withheld.push(f.to_string());
        }
    }
    let counts = policy.scan_counts.then(|| {
        let c = [seen.scanned, seen.detections.len() as u64];
        items.push(Item {
            what: "scans".into(),
            value: c[0],
            rule: RULE_COUNTS,
        });
        items.push(Item {
            what: "detections".into(),
            value: c[1],
            rule: RULE_COUNTS,
        });
        c
    });
    withheld.sort();
    Measurement {
        families: bits,
        counts,
        items,
        withheld,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rules: &str) -> Policy {
        Policy::parse(
            format!(
                r#"{{"version":1,"task":"t1","families":["A.B.C","D.E.F","G.H.I"],"max_weight":1,"rules":{rules}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn only_what_the_policy_lists_is_measured() {
        let p = policy(r#"{"families-detected":true,"scan-counts":true}"#);
        let seen = Observed {
            detections: vec![
                "D.E.F-12".into(),
                "X.Y.Z-1".into(),
                "G.H.I-3".into(),
                "D.E.F-13".into(),
            ],
            scanned: 1000,
        };
        let m = measure(&p, &seen);
        assert_eq!(
            m.families,
            [false, true, false],
            "max_weight 1 keeps the first by index"
        );
        assert_eq!(m.counts, Some([1000, 4]));
        assert_eq!(m.withheld, ["G.H.I", "X.Y.Z"]);
        assert!(m.items.iter().all(|i| !i.rule.is_empty()));
        let off = measure(&policy(r#"{"scan-counts":false}"#), &seen);
        assert!(off.families.is_empty() && off.counts.is_none() && off.items.is_empty());
        assert_eq!(off.withheld.len(), 3);
    }

    #[test]
    fn bad_policies_are_refused_with_the_reason() {
        for (bad, why) in [
            (r#"{"version":2}"#, "version"),
            (
                r#"{"version":1,"task":"t","families":[],"max_weight":1,"rules":{}}"#,
                "families",
            ),
            (
                r#"{"version":1,"task":"t","families":["a","a"],"max_weight":1,"rules":{}}"#,
                "twice",
            ),
            (
                r#"{"version":1,"task":"t","families":["a"],"max_weight":2,"rules":{}}"#,
                "max_weight",
            ),
            (
                r#"{"version":1,"task":"t","families":["a"],"max_weight":1,"rules":{"all":true}}"#,
                "unknown rule",
            ),
            (
                r#"{"version":1,"task":"t","families":["a"],"max_weight":1,"rules":{},"x":1}"#,
                "unknown key",
            ),
        ] {
            let e = Policy::parse(bad.as_bytes()).unwrap_err();
            assert!(e.0.contains(why), "{bad}: {e}");
        }
        assert_eq!(family_of("Win.Trojan.Agent-9876"), "Win.Trojan.Agent");
        assert_eq!(family_of("Eicar-Signature"), "Eicar-Signature");
        assert_eq!(family_of("Smoke.UNOFFICIAL"), "Smoke");
    }
}
