//! The trust file: a C2SP tlog-policy plus four feed lines.

use detente_note::{Ed25519Verifier, Verifier as _, VerifierKey};
use detente_policy::{Policy, PolicyErrorKind, Quorum};

use crate::text::parse_u64;

/// Largest trust file accepted (1 MiB).
pub const MAX_TRUST_SIZE: usize = 1 << 20;
/// Most `feed-url` lines (mirrors, tried in order).
pub const MAX_SOURCES: usize = 16;
/// `max-age` written by [`Trust::template`]: one day.
pub const DEFAULT_MAX_AGE: u64 = 86_400;
/// `max-ahead` written by [`Trust::template`].
pub const DEFAULT_MAX_AHEAD: u64 = 1000;

/// Keywords this crate adds to tlog-policy.
const FEED_KEYWORDS: [&str; 4] = ["feed-url", "publisher", "max-age", "max-ahead"];

/// A trust-file error: the 1-based line (0 for the whole file) and what was
/// wrong. Line numbers of tlog-policy errors are those of the trust file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trust file line {line}: {kind}")]
pub struct TrustError {
    /// 1-based line number, 0 when the problem is not on one line.
    pub line: usize,
    /// What was wrong.
    pub kind: TrustErrorKind,
}

/// The kinds of trust-file errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustErrorKind {
    /// Larger than [`MAX_TRUST_SIZE`].
    #[error("trust file exceeds {MAX_TRUST_SIZE} bytes")]
    TooLarge,
    /// Not UTF-8.
    #[error("trust file is not UTF-8")]
    NotUtf8,
    /// A control character other than tab and newline.
    #[error("forbidden control character")]
    ControlChar,
    /// The last line has no newline.
    #[error("missing final newline")]
    MissingNewline,
    /// Wrong number of fields on a feed line.
    #[error("wrong number of fields on {0:?} line")]
    Fields(&'static str),
    /// A single-valued feed line given twice.
    #[error("duplicate {0:?} line")]
    Duplicate(&'static str),
    /// A required feed line is absent.
    #[error("missing {0:?} line")]
    Missing(&'static str),
    /// Not a canonical decimal number.
    #[error("{0:?}: not a canonical decimal number")]
    Number(&'static str),
    /// A number that must be at least 1.
    #[error("{0:?} must be at least 1")]
    Zero(&'static str),
    /// A `feed-url` that is not `https://host/...`, `http://` to a loopback
    /// host, or an absolute directory path; or the same source twice.
    #[error(
        "feed-url {0:?}: want https://HOST/..., http://127.0.0.1/... or /absolute/dir, once each"
    )]
    Source(String),
    /// More than [`MAX_SOURCES`] `feed-url` lines.
    #[error("more than {MAX_SOURCES} feed-url lines")]
    TooManySources,
    /// The `publisher` key does not parse or is not an Ed25519 note key.
    #[error("publisher key: {0}")]
    BadKey(String),
    /// The embedded tlog-policy is invalid.
    #[error("{0}")]
    Policy(PolicyErrorKind),
    /// A feed trusts exactly one log: the feed's own.
    #[error("want exactly one log line, found {0}")]
    LogCount(usize),
    /// `quorum none`: a feed requires witnesses (their cosignatures are also
    /// the only clock a client has for freshness).
    #[error("quorum none is not allowed: a feed update needs witness cosignatures")]
    QuorumNone,
}

fn err(line: usize, kind: TrustErrorKind) -> TrustError {
    TrustError { line, kind }
}

/// Where a client fetches the feed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An `https://` URL, or an `http://` URL to a loopback host (tests, a
    /// local proxy): everything fetched is verified, so the transport only
    /// adds privacy.
    Url(String),
    /// An absolute path to a mirror directory (removable media, a share).
    Dir(String),
}

impl Source {
    /// Parses one `feed-url` value.
    pub fn parse(s: &str) -> Option<Source> {
        if s.starts_with('/') {
            return Some(Source::Dir(s.to_owned()));
        }
        if !s.is_ascii() || s.chars().any(|c| c.is_ascii_whitespace()) {
            return None;
        }
        let (rest, loopback_only) = if let Some(r) = s.strip_prefix("https://") {
            (r, false)
        } else if let Some(r) = s.strip_prefix("http://") {
            (r, true)
        } else {
            return None;
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let host = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']')?;
            if !(after.is_empty() || after.starts_with(':')) {
                return None;
            }
            h
        } else {
            authority.split(':').next().unwrap_or("")
        };
        if host.is_empty() || (loopback_only && !matches!(host, "127.0.0.1" | "localhost" | "::1"))
        {
            return None;
        }
        Some(Source::Url(s.to_owned()))
    }

    /// The text form, as in the trust file.
    pub fn as_str(&self) -> &str {
        match self {
            Source::Url(s) | Source::Dir(s) => s,
        }
    }
}

/// A parsed trust file: which log and witnesses to trust (the tlog-policy),
/// the publisher key, where to fetch, and the freshness and fast-forward
/// bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trust {
    policy: Policy,
    log: Ed25519Verifier,
    publisher: Ed25519Verifier,
    sources: Vec<Source>,
    max_age: u64,
    max_ahead: u64,
}

impl Trust {
    /// Parses a trust file: tlog-policy syntax (tokens separated by spaces
    /// or tabs, `#` comments, blank lines) where lines whose first word is
    /// `feed-url`, `publisher`, `max-age` or `max-ahead` are feed lines; the
    /// other lines, with the feed lines blanked so line numbers stay right,
    /// go to [`Policy::parse`], which refuses any keyword it does not know.
    pub fn parse(text: &[u8]) -> Result<Trust, TrustError> {
        use TrustErrorKind as K;
        if text.len() > MAX_TRUST_SIZE {
            return Err(err(0, K::TooLarge));
        }
        if let Some(pos) = text
            .iter()
            .position(|&b| (b < 0x20 && b != b'\t' && b != b'\n') || b == 0x7f)
        {
            let line = 1 + text[..pos].iter().filter(|&&b| b == b'\n').count();
            return Err(err(line, K::ControlChar));
        }
        let text = std::str::from_utf8(text).map_err(|_| err(0, K::NotUtf8))?;
        if !text.is_empty() && !text.ends_with('\n') {
            return Err(err(text.split('\n').count(), K::MissingNewline));
        }
        let mut policy_text = String::with_capacity(text.len());
        let (mut publisher, mut max_age, mut max_ahead) = (None, None, None);
        let mut sources: Vec<Source> = Vec::new();
        for (i, raw) in text.split_inclusive('\n').enumerate() {
            let line = i + 1;
            let e = |k| err(line, k);
            let fields: Vec<&str> = raw
                .trim_end_matches('\n')
                .split([' ', '\t'])
                .filter(|f| !f.is_empty())
                .collect();
            let Some(&keyword) = fields.first().filter(|k| FEED_KEYWORDS.contains(k)) else {
                policy_text.push_str(raw);
                continue;
            };
            policy_text.push('\n');
            let [_, value] = fields[..] else {
                let k = FEED_KEYWORDS
                    .into_iter()
                    .find(|k| *k == keyword)
                    .unwrap_or("feed line");
                return Err(e(K::Fields(k)));
            };
            match keyword {
                "feed-url" => {
                    let s = Source::parse(value)
                        .filter(|s| !sources.contains(s))
                        .ok_or_else(|| e(K::Source(value.chars().take(256).collect())))?;
                    if sources.len() == MAX_SOURCES {
                        return Err(e(K::TooManySources));
                    }
                    sources.push(s);
                }
                "publisher" => {
                    if publisher.is_some() {
                        return Err(e(K::Duplicate("publisher")));
                    }
                    let key = match VerifierKey::parse(value) {
                        Ok(VerifierKey::Ed25519(k)) => k,
                        Ok(other) => {
                            return Err(e(K::BadKey(format!(
                                "key type 0x{:02x}, want an Ed25519 note key (0x01)",
                                other.alg()
                            ))))
                        }
                        Err(x) => return Err(e(K::BadKey(x.to_string()))),
                    };
                    publisher = Some(key);
                }
                _ => {
                    let (slot, name) = if keyword == "max-age" {
                        (&mut max_age, "max-age")
                    } else {
                        (&mut max_ahead, "max-ahead")
                    };
                    if slot.is_some() {
                        return Err(e(K::Duplicate(name)));
                    }
                    let n = parse_u64(value).ok_or(e(K::Number(name)))?;
                    if n == 0 {
                        return Err(e(K::Zero(name)));
                    }
                    *slot = Some(n);
                }
            }
        }
        let policy =
            Policy::parse(policy_text.as_bytes()).map_err(|p| err(p.line, K::Policy(p.kind)))?;
        let [log] = policy.logs() else {
            return Err(err(0, K::LogCount(policy.logs().len())));
        };
        let log = log.key.clone();
        if policy.quorum() == Quorum::None {
            return Err(err(0, K::QuorumNone));
        }
        if sources.is_empty() {
            return Err(err(0, K::Missing("feed-url")));
        }
        Ok(Trust {
            policy,
            log,
            publisher: publisher.ok_or(err(0, K::Missing("publisher")))?,
            sources,
            max_age: max_age.ok_or(err(0, K::Missing("max-age")))?,
            max_ahead: max_ahead.ok_or(err(0, K::Missing("max-ahead")))?,
        })
    }

    /// A starting trust file for `detente feed trust`, for the user to edit:
    /// the feed lines with [`DEFAULT_MAX_AGE`] and [`DEFAULT_MAX_AHEAD`], the
    /// log, the witnesses (name, vkey) and a quorum of a majority of them.
    /// The result is checked with [`Trust::parse`].
    pub fn template(
        source: &str,
        log_vkey: &str,
        publisher_vkey: &str,
        witnesses: &[(&str, &str)],
    ) -> Result<String, TrustError> {
        let mut t = String::from(
            "# detente feed trust file: C2SP tlog-policy lines (log, witness, group, quorum)\n\
             # plus the feed lines feed-url (one or more, tried in order), publisher (the\n\
             # manifest key), max-age (oldest accepted checkpoint, seconds) and max-ahead\n\
             # (most versions one update may move forward).\n",
        );
        t += &format!(
            "feed-url {source}\npublisher {publisher_vkey}\nmax-age {DEFAULT_MAX_AGE}\nmax-ahead {DEFAULT_MAX_AHEAD}\n\n"
        );
        t += "# Edit the groups and the quorum to the witnesses you trust, for example two\n\
              # jurisdictions of three: group eu any w1 w2 / group us any w3 w4 /\n\
              # group asia any w5 w6 / group world 2 eu us asia / quorum world\n";
        t += &format!("log {log_vkey}\n");
        for (name, vkey) in witnesses {
            t += &format!("witness {name} {vkey}\n");
        }
        match witnesses {
            [] => t += "quorum none\n",
            [(name, _)] => t += &format!("quorum {name}\n"),
            _ => {
                let names: Vec<&str> = witnesses.iter().map(|w| w.0).collect();
                t += &format!(
                    "group witnesses {} {}\nquorum witnesses\n",
                    names.len() / 2 + 1,
                    names.join(" ")
                );
            }
        }
        Trust::parse(t.as_bytes())?;
        Ok(t)
    }

    /// The tlog-policy: the log key, witnesses, groups and quorum.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
    /// The feed's log key (the policy's only log).
    pub fn log(&self) -> &Ed25519Verifier {
        &self.log
    }
    /// The log origin, which is also the feed origin of every manifest.
    pub fn origin(&self) -> &str {
        self.log().name()
    }
    /// The publisher's manifest key.
    pub fn publisher(&self) -> &Ed25519Verifier {
        &self.publisher
    }
    /// Where to fetch, in order.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }
    /// Oldest checkpoint accepted, in seconds (see the crate docs for how a
    /// checkpoint's time is taken from its cosignatures).
    pub fn max_age(&self) -> u64 {
        self.max_age
    }
    /// Most versions one update may move forward.
    pub fn max_ahead(&self) -> u64 {
        self.max_ahead
    }
}
