//! The tlog-policy text format and quorum evaluation.

use std::collections::HashMap;

use detente_note::{
    CosignatureVerifier, Ed25519Verifier, SignedCheckpoint, Verifier, VerifierKey, Verifiers,
};

use crate::Error;

/// Most logs, witnesses or groups a policy may define (the spec asks for at least 32).
pub const MAX_ENTRIES: usize = 1024;

/// A policy parse error: the 1-based line and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy line {line}: {kind}")]
pub struct PolicyError {
    /// 1-based line number (0 for whole-file problems).
    pub line: usize,
    /// What was wrong.
    pub kind: PolicyErrorKind,
}

/// The kinds of policy parse errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyErrorKind {
    /// A byte outside tab, newline, 0x20-0x7E and 0x80-0xFF.
    #[error("forbidden control character")]
    ControlChar,
    /// The last line is not terminated by a newline.
    #[error("missing final newline")]
    MissingNewline,
    /// The policy is not UTF-8 (a documented restriction of this crate).
    #[error("policy is not UTF-8")]
    NotUtf8,
    /// A line whose first word is not `log`, `witness`, `group` or `quorum`.
    #[error("unknown keyword {0:?}")]
    UnknownKeyword(String),
    /// Wrong number of fields for the keyword.
    #[error("wrong number of fields")]
    Fields,
    /// A vkey that does not parse.
    #[error("bad key: {0}")]
    BadKey(detente_note::Error),
    /// A log key that is not Ed25519 (0x01), or a witness key that is not a
    /// cosignature key (0x04 or 0x06).
    #[error("key type 0x{0:02x} not allowed here")]
    WrongKeyType(u8),
    /// The same public key defined twice.
    #[error("duplicate key")]
    DuplicateKey,
    /// A witness or group name defined twice, or named `none`.
    #[error("name {0:?} already defined or reserved")]
    DuplicateName(String),
    /// A reference to a name not defined on an earlier line.
    #[error("undefined name {0:?}")]
    UndefinedName(String),
    /// A name listed as a group member more than once in the policy.
    #[error("{0:?} is already a group member")]
    AlreadyMember(String),
    /// A threshold that is not `all`, `any` or a canonical decimal in 1..=n.
    #[error("bad threshold")]
    Threshold,
    /// A second `quorum` line.
    #[error("more than one quorum line")]
    DuplicateQuorum,
    /// No `quorum` line.
    #[error("no quorum line")]
    NoQuorum,
    /// More than [`MAX_ENTRIES`] logs, witnesses or groups.
    #[error("too many entries")]
    TooMany,
}

fn err(line: usize, kind: PolicyErrorKind) -> PolicyError {
    PolicyError { line, kind }
}

/// A trusted log: its Ed25519 checkpoint key (named after its origin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// The log's key; its name is the log origin.
    pub key: Ed25519Verifier,
    /// Optional URL, application specific.
    pub url: Option<String>,
}

/// A named witness and its cosignature key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    /// Name used in groups and the quorum (not the key name).
    pub name: String,
    /// The witness's cosignature key (type 0x04 or 0x06).
    pub key: CosignatureVerifier,
    /// Optional URL (the witness submission prefix).
    pub url: Option<String>,
}

/// A group member: a witness or an earlier group, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Member {
    /// Index into [`Policy::witnesses`].
    Witness(usize),
    /// Index into [`Policy::groups`].
    Group(usize),
}

/// A group: satisfied when at least `threshold` members are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Group name.
    pub name: String,
    /// Members needed (1..=members.len()).
    pub threshold: usize,
    /// Members, each defined before the group.
    pub members: Vec<Member>,
}

/// The quorum rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quorum {
    /// `quorum none`: no cosignatures needed.
    None,
    /// A witness or group that must be satisfied.
    Member(Member),
}

/// A parsed tlog-policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    logs: Vec<Log>,
    witnesses: Vec<Witness>,
    groups: Vec<Group>,
    quorum: Quorum,
}

fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn parse_threshold(s: &str, n: usize) -> Option<usize> {
    let k = match s {
        "all" => n,
        "any" => 1,
        _ => {
            if s.is_empty()
                || s.len() > 10
                || !s.bytes().all(|b| b.is_ascii_digit())
                || (s.len() > 1 && s.starts_with('0'))
            {
                return None;
            }
            s.parse().ok()?
        }
    };
    (1..=n).contains(&k).then_some(k)
}

impl Policy {
    /// Parses a policy strictly (see the crate docs for the one deviation).
    pub fn parse(text: &[u8]) -> Result<Policy, PolicyError> {
        if let Some(pos) = text
            .iter()
            .position(|&b| (b < 0x20 && b != b'\t' && b != b'\n') || b == 0x7f)
        {
            let line = 1 + text[..pos].iter().filter(|&&b| b == b'\n').count();
            return Err(err(line, PolicyErrorKind::ControlChar));
        }
        let text = std::str::from_utf8(text).map_err(|_| err(0, PolicyErrorKind::NotUtf8))?;
        if !text.is_empty() && !text.ends_with('\n') {
            return Err(err(
                text.split('\n').count(),
                PolicyErrorKind::MissingNewline,
            ));
        }
        let mut logs: Vec<Log> = Vec::new();
        let mut witnesses: Vec<Witness> = Vec::new();
        let mut groups: Vec<Group> = Vec::new();
        let mut names: HashMap<String, Member> = HashMap::new();
        let mut used_as_member: HashMap<Member, ()> = HashMap::new();
        let mut quorum = None;

        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let e = |k| err(line, k);
            let fields: Vec<&str> = raw.split(is_ws).filter(|f| !f.is_empty()).collect();
            let Some(&keyword) = fields.first() else {
                continue;
            };
            if keyword.starts_with('#') {
                continue;
            }
            match keyword {
                "log" => {
                    if !(2..=3).contains(&fields.len()) {
                        return Err(e(PolicyErrorKind::Fields));
                    }
                    let key = match VerifierKey::parse(fields[1])
                        .map_err(|x| e(PolicyErrorKind::BadKey(x)))?
                    {
                        VerifierKey::Ed25519(k) => k,
                        other => return Err(e(PolicyErrorKind::WrongKeyType(other.alg()))),
                    };
                    if logs.iter().any(|l| l.key.public_key() == key.public_key()) {
                        return Err(e(PolicyErrorKind::DuplicateKey));
                    }
                    if logs.len() == MAX_ENTRIES {
                        return Err(e(PolicyErrorKind::TooMany));
                    }
                    logs.push(Log {
                        key,
                        url: fields.get(2).map(|s| s.to_string()),
                    });
                }
                "witness" => {
                    if !(3..=4).contains(&fields.len()) {
                        return Err(e(PolicyErrorKind::Fields));
                    }
                    let name = fields[1];
                    let key = match VerifierKey::parse(fields[2])
                        .map_err(|x| e(PolicyErrorKind::BadKey(x)))?
                    {
                        VerifierKey::Cosignature(k) => k,
                        other => return Err(e(PolicyErrorKind::WrongKeyType(other.alg()))),
                    };
                    if witnesses
                        .iter()
                        .any(|w| w.key.public_key() == key.public_key())
                    {
                        return Err(e(PolicyErrorKind::DuplicateKey));
                    }
                    if name == "none" || names.contains_key(name) {
                        return Err(e(PolicyErrorKind::DuplicateName(name.into())));
                    }
                    if witnesses.len() == MAX_ENTRIES {
                        return Err(e(PolicyErrorKind::TooMany));
                    }
                    names.insert(name.into(), Member::Witness(witnesses.len()));
                    witnesses.push(Witness {
                        name: name.into(),
                        key,
                        url: fields.get(3).map(|s| s.to_string()),
                    });
                }
                "group" => {
                    if fields.len() < 4 {
                        return Err(e(PolicyErrorKind::Fields));
                    }
                    let name = fields[1];
                    if name == "none" || names.contains_key(name) {
                        return Err(e(PolicyErrorKind::DuplicateName(name.into())));
                    }
                    let mut members = Vec::new();
                    for m in &fields[3..] {
                        let &member = names
                            .get(*m)
                            .ok_or_else(|| e(PolicyErrorKind::UndefinedName(m.to_string())))?;
                        if used_as_member.insert(member, ()).is_some() {
                            return Err(e(PolicyErrorKind::AlreadyMember(m.to_string())));
                        }
                        members.push(member);
                    }
                    let threshold = parse_threshold(fields[2], members.len())
                        .ok_or(e(PolicyErrorKind::Threshold))?;
                    if groups.len() == MAX_ENTRIES {
                        return Err(e(PolicyErrorKind::TooMany));
                    }
                    names.insert(name.into(), Member::Group(groups.len()));
                    groups.push(Group {
                        name: name.into(),
                        threshold,
                        members,
                    });
                }
                "quorum" => {
                    if fields.len() != 2 {
                        return Err(e(PolicyErrorKind::Fields));
                    }
                    if quorum.is_some() {
                        return Err(e(PolicyErrorKind::DuplicateQuorum));
                    }
                    quorum =
                        Some(if fields[1] == "none" {
                            Quorum::None
                        } else {
                            Quorum::Member(*names.get(fields[1]).ok_or_else(|| {
                                e(PolicyErrorKind::UndefinedName(fields[1].into()))
                            })?)
                        });
                }
                other => return Err(e(PolicyErrorKind::UnknownKeyword(other.into()))),
            }
        }
        let quorum = quorum.ok_or(err(0, PolicyErrorKind::NoQuorum))?;
        Ok(Policy {
            logs,
            witnesses,
            groups,
            quorum,
        })
    }

    /// Trusted logs.
    pub fn logs(&self) -> &[Log] {
        &self.logs
    }
    /// Known witnesses.
    pub fn witnesses(&self) -> &[Witness] {
        &self.witnesses
    }
    /// Groups, in definition order.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }
    /// The quorum rule.
    pub fn quorum(&self) -> Quorum {
        self.quorum
    }

    /// Whether the quorum is met when exactly the witnesses at the indexes
    /// `cosigned` (into [`Policy::witnesses`]) have cosigned.
    pub fn quorum_met(&self, cosigned: &[usize]) -> bool {
        let witness_ok = |i: usize| cosigned.contains(&i);
        // Groups only reference earlier groups: evaluate in order.
        let mut group_ok = Vec::with_capacity(self.groups.len());
        for g in &self.groups {
            let n = g
                .members
                .iter()
                .filter(|m| match **m {
                    Member::Witness(i) => witness_ok(i),
                    Member::Group(j) => group_ok.get(j).copied().unwrap_or(false),
                })
                .count();
            group_ok.push(n >= g.threshold);
        }
        match self.quorum {
            Quorum::None => true,
            Quorum::Member(Member::Witness(i)) => witness_ok(i),
            Quorum::Member(Member::Group(j)) => group_ok.get(j).copied().unwrap_or(false),
        }
    }

    /// Verifies a signed, cosigned checkpoint under the policy: it must be
    /// signed by a listed log whose key name is the checkpoint origin, every
    /// signature by a key the policy knows must verify, and the witnesses
    /// whose cosignatures verified must meet the quorum.
    ///
    /// Returns the checkpoint and the indexes of the witnesses that cosigned.
    pub fn verify_checkpoint(&self, msg: &[u8]) -> Result<(SignedCheckpoint, Vec<usize>), Error> {
        let sc = SignedCheckpoint::parse(msg)?;
        let origin = sc.checkpoint.origin();
        let mut known = Verifiers::new();
        for l in self.logs.iter().filter(|l| l.key.name() == origin) {
            known.add(l.key.clone())?;
        }
        if known.is_empty() {
            return Err(Error::UnknownLog(origin.to_owned()));
        }
        for w in &self.witnesses {
            // Same name and key ID twice is refused as ambiguous by `add`.
            known.add(w.key.clone())?;
        }
        let v = sc.note.verify(&known).map_err(|e| match e {
            detente_note::Error::Unverified => Error::NotSignedByLog,
            e => Error::Note(e),
        })?;
        if !self
            .logs
            .iter()
            .any(|l| l.key.name() == origin && v.is_verified(l.key.name(), l.key.key_id()))
        {
            return Err(Error::NotSignedByLog);
        }
        let cosigned: Vec<usize> = self
            .witnesses
            .iter()
            .enumerate()
            .filter(|(_, w)| v.is_verified(w.key.name(), w.key.key_id()))
            .map(|(i, _)| i)
            .collect();
        if !self.quorum_met(&cosigned) {
            return Err(Error::QuorumNotMet);
        }
        Ok((sc, cosigned))
    }
}
