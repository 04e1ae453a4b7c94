//! RFC 9110 conditional and range requests, sans-IO: the method, the request's condition
//! headers and the file's metadata (size, modification time, entity tag) decide the status,
//! the validator and range headers, and which bytes are sent. The clock is an argument.
//!
//! Choices the RFC leaves open:
//! - **Entity tags** are strong, made of the inode, size and modification time to the
//!   nanosecond ([`etag`]), so no file is read to answer a conditional request. Writers of
//!   public trees replace files by rename (a new inode), and a tile's or bundle's content
//!   never changes for one path once written.
//! - **Several ranges** in one `Range` (`bytes=0-1,5-9`) are answered with the whole file
//!   (200), as RFC 9110 §14.2 allows, rather than `multipart/byteranges`: nothing detente
//!   serves is read that way, and a full answer can't be amplified into many small parts.
//! - **A malformed `Range`** (bad syntax, another unit, `last < first`) is ignored (200),
//!   as §14.2 allows; only a well-formed range that starts past the end is 416.
//! - **`Range` on HEAD** is ignored (§14.2: range handling is defined for GET only), so HEAD
//!   always describes the whole file.
//! - **A malformed `If-Match`** matches nothing (412): a condition that cannot be evaluated
//!   never lets a request through.

/// The methods served. Any other is answered 405 with `Allow:` [`ALLOW`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET: the file, whole or one range.
    Get,
    /// HEAD: the headers of the whole file, no body.
    Head,
}

impl Method {
    /// `GET` or `HEAD` (methods are case-sensitive); `None` for any other.
    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "GET" => Some(Method::Get),
            "HEAD" => Some(Method::Head),
            _ => None,
        }
    }
}

/// The `Allow` header of a 405.
pub const ALLOW: &str = "GET, HEAD";

/// The condition and range headers of a request. A header sent on several lines is passed
/// as its lines joined with `", "` (RFC 9110 §5.3), so a date or a `Range` sent twice is
/// malformed and ignored.
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditions<'a> {
    /// `If-Match`.
    pub if_match: Option<&'a str>,
    /// `If-None-Match`.
    pub if_none_match: Option<&'a str>,
    /// `If-Modified-Since`.
    pub if_modified_since: Option<&'a str>,
    /// `If-Unmodified-Since`.
    pub if_unmodified_since: Option<&'a str>,
    /// `Range`.
    pub range: Option<&'a str>,
    /// `If-Range`.
    pub if_range: Option<&'a str>,
}

/// What the decision needs to know about the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// Length in bytes.
    pub size: u64,
    /// Modification time, in whole seconds since the Unix epoch.
    pub modified: u64,
    /// The strong entity tag, quotes included (see [`etag`]).
    pub etag: String,
}

/// The strong entity tag of a file: `"<inode>-<size>-<seconds>.<nanoseconds>"` in hex.
/// Any change of content that goes through a rename (a new inode), a change of length or a
/// write (a new modification time) changes it.
pub fn etag(inode: u64, size: u64, mtime_secs: i64, mtime_nanos: u32) -> String {
    format!("\"{inode:x}-{size:x}-{mtime_secs:x}.{mtime_nanos:x}\"")
}

/// Which bytes of the file the response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// No body (304, 412, 416, and every HEAD).
    Empty,
    /// The whole file.
    Full,
    /// `len` bytes from offset `start` (206).
    Range {
        /// First byte.
        start: u64,
        /// Number of bytes, at least 1.
        len: u64,
    },
}

/// A response decided: status, headers (lower-case names) and content. The caller adds
/// `Content-Type`, `Cache-Control` and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// HTTP status.
    pub status: u16,
    /// Header names and values, in order.
    pub headers: Vec<(&'static str, String)>,
    /// What the body is; for HEAD always [`Content::Empty`] with the `Content-Length` of
    /// the whole file.
    pub content: Content,
}

impl Decision {
    /// The value of a header, if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Decides the response to `method` on a file, given the request's `cond`itions and the
/// current time `now` (Unix seconds), in the order of RFC 9110 §13.2.2: `If-Match` (else
/// `If-Unmodified-Since`) → 412; `If-None-Match` (else `If-Modified-Since`) → 304; then
/// `Range`, if `If-Range` holds, → 206 or 416; else 200.
pub fn decide(method: Method, cond: &Conditions<'_>, file: &FileMeta, now: u64) -> Decision {
    // §8.8.2.1: never a Last-Modified later than the response's Date. §8.8.2.2: it is a
    // strong validator only if at least one second older than the Date.
    let last_modified = file.modified.min(now);
    let lm_strong = last_modified < now;
    let validators = vec![
        ("etag", file.etag.clone()),
        ("last-modified", http_date(last_modified)),
    ];
    let empty = |status: u16, extra: Vec<(&'static str, String)>| Decision {
        status,
        headers: extra,
        content: Content::Empty,
    };

    // 1 and 2: the preconditions a client uses to avoid lost updates or mixed versions.
    if let Some(v) = cond.if_match {
        if !tags_match(v, &file.etag, Compare::Strong) {
            return empty(412, vec![("content-length", "0".into())]);
        }
    } else if let Some(d) = cond.if_unmodified_since.and_then(parse_http_date) {
        if last_modified > d {
            return empty(412, vec![("content-length", "0".into())]);
        }
    }

    // 3 and 4: cache revalidation. If-Modified-Since counts only without If-None-Match.
    let not_modified = match cond.if_none_match {
        Some(v) => tags_match(v, &file.etag, Compare::Weak),
        None => cond
            .if_modified_since
            .and_then(parse_http_date)
            .is_some_and(|d| last_modified <= d),
    };
    if not_modified {
        return empty(304, validators);
    }

    let mut headers = validators;
    headers.push(("accept-ranges", "bytes".into()));

    // 5: ranges, for GET only, and only while If-Range (when sent) holds.
    if method == Method::Get {
        if let Some(range) = cond.range {
            let current = cond
                .if_range
                .is_none_or(|v| if_range_holds(v, &file.etag, last_modified, lm_strong));
            if current {
                match parse_range(range, file.size) {
                    RangeSpec::Ignore => {}
                    RangeSpec::Unsatisfiable => {
                        headers.push(("content-range", format!("bytes */{}", file.size)));
                        headers.push(("content-length", "0".into()));
                        return empty(416, headers);
                    }
                    RangeSpec::Bytes { first, last } => {
                        let len = last - first + 1;
                        headers.push((
                            "content-range",
                            format!("bytes {first}-{last}/{}", file.size),
                        ));
                        headers.push(("content-length", len.to_string()));
                        return Decision {
                            status: 206,
                            headers,
                            content: Content::Range { start: first, len },
                        };
                    }
                }
            }
        }
    }

    headers.push(("content-length", file.size.to_string()));
    Decision {
        status: 200,
        headers,
        content: match method {
            Method::Get => Content::Full,
            Method::Head => Content::Empty,
        },
    }
}

/// A `Range` header evaluated against a file of some size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// Malformed, another unit, or several ranges: serve the whole file.
    Ignore,
    /// Well-formed, but no byte of the file is in it: 416.
    Unsatisfiable,
    /// Bytes `first..=last`, within the file.
    Bytes {
        /// First byte.
        first: u64,
        /// Last byte (inclusive).
        last: u64,
    },
}

/// Evaluates `Range: bytes=a-b`, `bytes=a-` or `bytes=-n` (RFC 9110 §14.1.1) for a file of
/// `size` bytes. The unit is case-insensitive; empty list elements are skipped; `b` past the
/// end is cut to the end, `-n` longer than the file is the whole file; `a` at or past the
/// end, `-0`, and any range of an empty file are unsatisfiable.
pub fn parse_range(value: &str, size: u64) -> RangeSpec {
    let Some((unit, set)) = value.split_once('=') else {
        return RangeSpec::Ignore;
    };
    if !unit.eq_ignore_ascii_case("bytes") {
        return RangeSpec::Ignore;
    }
    let mut specs = set.split(',').map(ows_trim).filter(|s| !s.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        return RangeSpec::Ignore;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return RangeSpec::Ignore;
    };
    if first.is_empty() {
        let Some(n) = digits(last) else {
            return RangeSpec::Ignore;
        };
        if n == 0 || size == 0 {
            return RangeSpec::Unsatisfiable;
        }
        return RangeSpec::Bytes {
            first: size.saturating_sub(n),
            last: size - 1,
        };
    }
    let Some(first) = digits(first) else {
        return RangeSpec::Ignore;
    };
    let last = if last.is_empty() {
        u64::MAX
    } else {
        match digits(last) {
            Some(l) if l >= first => l,
            _ => return RangeSpec::Ignore,
        }
    };
    if first >= size {
        return RangeSpec::Unsatisfiable;
    }
    RangeSpec::Bytes {
        first,
        last: last.min(size - 1),
    }
}

/// `1*DIGIT`, saturating at `u64::MAX` (a position past any file).
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

fn ows_trim(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Compare {
    /// §8.8.3.2: both strong and equal.
    Strong,
    /// Equal, weak or not.
    Weak,
}

/// Whether an `If-Match` / `If-None-Match` value (`*` or a list of entity tags) matches
/// `etag` (ours, strong). A malformed list matches nothing.
fn tags_match(value: &str, etag: &str, cmp: Compare) -> bool {
    if ows_trim(value) == "*" {
        return true;
    }
    match parse_tag_list(value) {
        Some(tags) => tags
            .iter()
            .any(|&(weak, opaque)| opaque == etag && (cmp == Compare::Weak || !weak)),
        None => false,
    }
}

/// `#entity-tag` (§5.6.1 list, §8.8.3 `[W/] DQUOTE *etagc DQUOTE`): `(weak, "opaque")`
/// pairs, quotes kept; `None` if malformed.
fn parse_tag_list(value: &str) -> Option<Vec<(bool, &str)>> {
    let b = value.as_bytes();
    let mut tags = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b',') {
            i += 1;
        }
        if i == b.len() {
            break;
        }
        let (tag, next) = parse_tag(value, i)?;
        tags.push(tag);
        i = next;
        while i < b.len() && matches!(b[i], b' ' | b'\t') {
            i += 1;
        }
        if i < b.len() && b[i] != b',' {
            return None;
        }
    }
    (!tags.is_empty()).then_some(tags)
}

/// One entity tag starting at byte `i`: the tag and the index after it.
fn parse_tag(value: &str, mut i: usize) -> Option<((bool, &str), usize)> {
    let b = value.as_bytes();
    let weak = b[i..].starts_with(b"W/");
    if weak {
        i += 2;
    }
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let start = i;
    i += 1;
    // etagc = %x21 / %x23-7E / obs-text
    while i < b.len() && (b[i] == 0x21 || (0x23..=0x7e).contains(&b[i]) || b[i] >= 0x80) {
        i += 1;
    }
    if b.get(i) != Some(&b'"') {
        return None;
    }
    i += 1;
    Some(((weak, &value[start..i]), i))
}

/// §13.1.5: an entity tag holds if it equals ours strongly; a date holds if it is exactly
/// our Last-Modified and that is a strong validator. Anything else does not hold.
fn if_range_holds(value: &str, etag: &str, last_modified: u64, lm_strong: bool) -> bool {
    let v = ows_trim(value);
    if v.starts_with('"') || v.starts_with("W/") {
        return match parse_tag(v, 0) {
            Some(((weak, opaque), end)) => end == v.len() && !weak && opaque == etag,
            None => false,
        };
    }
    lm_strong && parse_http_date(v) == Some(last_modified)
}

/// An HTTP-date (IMF-fixdate, RFC 850 or asctime, §5.6.7) as Unix seconds; `None` if
/// malformed or before 1970.
pub fn parse_http_date(s: &str) -> Option<u64> {
    let t = httpdate::parse_http_date(ows_trim(s)).ok()?;
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// Unix seconds as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(secs: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &str = "\"1f-400-5f5e1000.0\"";
    /// Sun, 06 Nov 1994 08:49:37 GMT.
    const MTIME: u64 = 784111777;
    const MTIME_STR: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const LATER_STR: &str = "Sun, 06 Nov 1994 08:49:38 GMT";
    const EARLIER_STR: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
    const NOW: u64 = MTIME + 3600;

    fn file(size: u64) -> FileMeta {
        FileMeta {
            size,
            modified: MTIME,
            etag: ETAG.into(),
        }
    }
    fn get(cond: Conditions<'_>) -> Decision {
        decide(Method::Get, &cond, &file(1024), NOW)
    }
    fn range(r: &str) -> Decision {
        get(Conditions {
            range: Some(r),
            ..Default::default()
        })
    }

    #[test]
    fn methods() {
        assert_eq!(Method::parse("GET"), Some(Method::Get));
        assert_eq!(Method::parse("HEAD"), Some(Method::Head));
        for m in [
            "get", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH", "",
        ] {
            assert_eq!(Method::parse(m), None, "{m}");
        }
    }

    #[test]
    fn plain_get_and_head() {
        let d = get(Conditions::default());
        assert_eq!(d.status, 200);
        assert_eq!(d.content, Content::Full);
        assert_eq!(d.header("etag"), Some(ETAG));
        assert_eq!(d.header("last-modified"), Some(MTIME_STR));
        assert_eq!(d.header("accept-ranges"), Some("bytes"));
        assert_eq!(d.header("content-length"), Some("1024"));
        assert_eq!(d.header("content-range"), None);

        let h = decide(Method::Head, &Conditions::default(), &file(1024), NOW);
        assert_eq!(h.status, 200);
        assert_eq!(h.content, Content::Empty);
        assert_eq!(h.headers, d.headers);
    }

    #[test]
    fn empty_file() {
        let d = decide(Method::Get, &Conditions::default(), &file(0), NOW);
        assert_eq!((d.status, d.header("content-length")), (200, Some("0")));
        for r in ["bytes=0-", "bytes=0-0", "bytes=-1", "bytes=5-"] {
            let d = decide(
                Method::Get,
                &Conditions {
                    range: Some(r),
                    ..Default::default()
                },
                &file(0),
                NOW,
            );
            assert_eq!(d.status, 416, "{r}");
            assert_eq!(d.header("content-range"), Some("bytes */0"));
        }
    }

    #[test]
    fn last_modified_never_after_now() {
        let f = FileMeta {
            modified: NOW + 100,
            ..file(10)
        };
        let d = decide(Method::Get, &Conditions::default(), &f, NOW);
        assert_eq!(d.header("last-modified"), Some(http_date(NOW).as_str()));
    }

    #[test]
    fn if_none_match() {
        let inm = |v: &'static str| {
            get(Conditions {
                if_none_match: Some(v),
                ..Default::default()
            })
            .status
        };
        assert_eq!(inm(ETAG), 304);
        assert_eq!(inm("*"), 304);
        assert_eq!(inm(" * "), 304);
        // Weak comparison: W/ matches too.
        assert_eq!(inm("W/\"1f-400-5f5e1000.0\""), 304);
        assert_eq!(inm("\"other\", \"1f-400-5f5e1000.0\""), 304);
        assert_eq!(inm(", ,\"a\",W/\"1f-400-5f5e1000.0\" ,"), 304);
        assert_eq!(inm("\"other\""), 200);
        assert_eq!(inm("\"1f-400-5f5e1000.0"), 200);
        assert_eq!(inm("1f-400-5f5e1000.0"), 200);
        assert_eq!(inm("\"a\" \"1f-400-5f5e1000.0\""), 200);
        assert_eq!(inm(""), 200);
        assert_eq!(inm("*, \"a\""), 200);
        // A comma inside a tag is part of the tag.
        assert_eq!(inm("\"a,\"1f-400-5f5e1000.0\"\""), 200);

        let d = get(Conditions {
            if_none_match: Some(ETAG),
            ..Default::default()
        });
        assert_eq!(d.content, Content::Empty);
        assert_eq!(d.header("etag"), Some(ETAG));
        assert_eq!(d.header("last-modified"), Some(MTIME_STR));
        assert_eq!(d.header("content-length"), None);
        let h = decide(
            Method::Head,
            &Conditions {
                if_none_match: Some(ETAG),
                ..Default::default()
            },
            &file(1024),
            NOW,
        );
        assert_eq!(h.status, 304);
    }

    #[test]
    fn if_modified_since() {
        let ims = |v: &'static str| {
            get(Conditions {
                if_modified_since: Some(v),
                ..Default::default()
            })
            .status
        };
        assert_eq!(ims(MTIME_STR), 304);
        assert_eq!(ims(LATER_STR), 304);
        assert_eq!(ims(EARLIER_STR), 200);
        // The obsolete formats are accepted too.
        assert_eq!(ims("Sunday, 06-Nov-94 08:49:37 GMT"), 304);
        assert_eq!(ims("Sun Nov  6 08:49:37 1994"), 304);
        assert_eq!(ims("garbage"), 200);
        assert_eq!(ims(""), 200);
        // Sent twice: not one date.
        assert_eq!(
            ims("Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT"),
            200
        );
    }

    #[test]
    fn if_modified_since_ignored_with_if_none_match() {
        let d = get(Conditions {
            if_none_match: Some("\"other\""),
            if_modified_since: Some(LATER_STR),
            ..Default::default()
        });
        assert_eq!(d.status, 200);
        let d = get(Conditions {
            if_none_match: Some(ETAG),
            if_modified_since: Some(EARLIER_STR),
            ..Default::default()
        });
        assert_eq!(d.status, 304);
    }

    #[test]
    fn if_match() {
        let im = |v: &'static str| {
            get(Conditions {
                if_match: Some(v),
                ..Default::default()
            })
        };
        assert_eq!(im(ETAG).status, 200);
        assert_eq!(im("*").status, 200);
        assert_eq!(im("\"a\", \"1f-400-5f5e1000.0\"").status, 200);
        // Strong comparison: a weak tag never matches.
        assert_eq!(im("W/\"1f-400-5f5e1000.0\"").status, 412);
        assert_eq!(im("\"other\"").status, 412);
        assert_eq!(im("malformed").status, 412);
        assert_eq!(im("").status, 412);
        let d = im("\"other\"");
        assert_eq!(d.content, Content::Empty);
        assert_eq!(d.header("content-length"), Some("0"));
    }

    #[test]
    fn if_unmodified_since() {
        let ius = |v: &'static str| {
            get(Conditions {
                if_unmodified_since: Some(v),
                ..Default::default()
            })
            .status
        };
        assert_eq!(ius(MTIME_STR), 200);
        assert_eq!(ius(LATER_STR), 200);
        assert_eq!(ius(EARLIER_STR), 412);
        assert_eq!(ius("garbage"), 200);
        // Ignored when If-Match is present.
        let d = get(Conditions {
            if_match: Some(ETAG),
            if_unmodified_since: Some(EARLIER_STR),
            ..Default::default()
        });
        assert_eq!(d.status, 200);
    }

    #[test]
    fn preconditions_before_revalidation() {
        // If-Match fails first, even when If-None-Match would give 304.
        let d = get(Conditions {
            if_match: Some("\"other\""),
            if_none_match: Some(ETAG),
            ..Default::default()
        });
        assert_eq!(d.status, 412);
        // 304 before ranges.
        let d = get(Conditions {
            if_none_match: Some(ETAG),
            range: Some("bytes=0-1"),
            ..Default::default()
        });
        assert_eq!(d.status, 304);
        // 412 before a 416.
        let d = get(Conditions {
            if_unmodified_since: Some(EARLIER_STR),
            range: Some("bytes=5000-"),
            ..Default::default()
        });
        assert_eq!(d.status, 412);
    }

    #[test]
    fn single_ranges() {
        let r = |v: &str| {
            let d = range(v);
            (
                d.status,
                d.header("content-range").map(String::from),
                d.header("content-length").map(String::from),
                d.content,
            )
        };
        let part = |a: u64, b: u64| {
            (
                206,
                Some(format!("bytes {a}-{b}/1024")),
                Some((b - a + 1).to_string()),
                Content::Range {
                    start: a,
                    len: b - a + 1,
                },
            )
        };
        assert_eq!(r("bytes=0-511"), part(0, 511));
        assert_eq!(r("bytes=0-0"), part(0, 0));
        assert_eq!(r("bytes=1023-1023"), part(1023, 1023));
        assert_eq!(r("bytes=1000-5000"), part(1000, 1023));
        assert_eq!(r("bytes=100-"), part(100, 1023));
        assert_eq!(r("bytes=0-"), part(0, 1023));
        assert_eq!(r("bytes=-100"), part(924, 1023));
        assert_eq!(r("bytes=-1024"), part(0, 1023));
        assert_eq!(r("bytes=-99999"), part(0, 1023));
        assert_eq!(r("BYTES=0-9"), part(0, 9));
        assert_eq!(r("bytes= 0-9 "), part(0, 9));
        assert_eq!(r("bytes=0-9,"), part(0, 9));
        assert_eq!(r("bytes=0-99999999999999999999999"), part(0, 1023));
        let d = range("bytes=0-511");
        assert_eq!(d.header("etag"), Some(ETAG));
        assert_eq!(d.header("accept-ranges"), Some("bytes"));
    }

    #[test]
    fn unsatisfiable_ranges() {
        for v in [
            "bytes=1024-",
            "bytes=1024-2000",
            "bytes=5000-6000",
            "bytes=-0",
            "bytes=99999999999999999999999-",
        ] {
            let d = range(v);
            assert_eq!(d.status, 416, "{v}");
            assert_eq!(d.header("content-range"), Some("bytes */1024"), "{v}");
            assert_eq!(d.header("content-length"), Some("0"));
            assert_eq!(d.content, Content::Empty);
        }
    }

    #[test]
    fn ignored_ranges() {
        for v in [
            "bytes=0-1,5-9",
            "bytes=0-1, -5",
            "bytes=0-1,5000-",
            "bytes=5-1",
            "bytes=",
            "bytes=,",
            "bytes=-",
            "bytes=a-b",
            "bytes=0-1x",
            "bytes=+1-2",
            "bytes=--1",
            "bytes=0--1",
            "bytes 0-1",
            "items=0-1",
            "bytes =0-1",
            "0-1",
            "",
            "bytes=0-1, bytes=2-3",
        ] {
            let d = range(v);
            assert_eq!(d.status, 200, "{v}");
            assert_eq!(d.content, Content::Full, "{v}");
            assert_eq!(d.header("content-length"), Some("1024"));
            assert_eq!(d.header("content-range"), None);
        }
    }

    #[test]
    fn range_ignored_on_head() {
        let d = decide(
            Method::Head,
            &Conditions {
                range: Some("bytes=0-1"),
                ..Default::default()
            },
            &file(1024),
            NOW,
        );
        assert_eq!(d.status, 200);
        assert_eq!(d.header("content-length"), Some("1024"));
        assert_eq!(d.content, Content::Empty);
    }

    #[test]
    fn if_range() {
        let ir = |v: &'static str, now: u64| {
            decide(
                Method::Get,
                &Conditions {
                    range: Some("bytes=0-9"),
                    if_range: Some(v),
                    ..Default::default()
                },
                &file(1024),
                now,
            )
            .status
        };
        assert_eq!(ir(ETAG, NOW), 206);
        assert_eq!(ir("\"other\"", NOW), 200);
        // Strong comparison only.
        assert_eq!(ir("W/\"1f-400-5f5e1000.0\"", NOW), 200);
        // Exactly one tag.
        assert_eq!(ir("\"1f-400-5f5e1000.0\", \"x\"", NOW), 200);
        assert_eq!(ir(MTIME_STR, NOW), 206);
        assert_eq!(ir(LATER_STR, NOW), 200);
        assert_eq!(ir(EARLIER_STR, NOW), 200);
        assert_eq!(ir("garbage", NOW), 200);
        // A date is a weak validator within the second of the modification.
        assert_eq!(ir(MTIME_STR, MTIME), 200);
        assert_eq!(ir(ETAG, MTIME), 206);
        // If-Range without Range changes nothing.
        let d = get(Conditions {
            if_range: Some("\"other\""),
            ..Default::default()
        });
        assert_eq!(d.status, 200);
        // A failed If-Range means the full file, not a 416.
        let d = get(Conditions {
            range: Some("bytes=5000-"),
            if_range: Some("\"other\""),
            ..Default::default()
        });
        assert_eq!(d.status, 200);
    }

    /// freshclam reads a `.cvd` header with `Range: bytes=0-511` and checks for updates with
    /// `If-Modified-Since`.
    #[test]
    fn freshclam_mirror() {
        let cvd = FileMeta {
            size: 300_000_000,
            modified: MTIME,
            etag: ETAG.into(),
        };
        let d = decide(
            Method::Get,
            &Conditions {
                range: Some("bytes=0-511"),
                ..Default::default()
            },
            &cvd,
            NOW,
        );
        assert_eq!(d.status, 206);
        assert_eq!(d.header("content-range"), Some("bytes 0-511/300000000"));
        assert_eq!(d.content, Content::Range { start: 0, len: 512 });
        let d = decide(
            Method::Get,
            &Conditions {
                if_modified_since: Some(MTIME_STR),
                ..Default::default()
            },
            &cvd,
            NOW,
        );
        assert_eq!(d.status, 304);
        let d = decide(
            Method::Get,
            &Conditions {
                if_modified_since: Some(EARLIER_STR),
                range: Some("bytes=0-511"),
                ..Default::default()
            },
            &cvd,
            NOW,
        );
        assert_eq!(d.status, 206);
    }

    #[test]
    fn etags() {
        assert_eq!(etag(0x1f, 1024, 0x5f5e1000, 0), ETAG);
        assert_ne!(etag(1, 2, 3, 4), etag(1, 2, 3, 5));
        assert_ne!(etag(1, 2, 3, 4), etag(2, 2, 3, 4));
        assert_ne!(etag(1, 2, 3, 4), etag(1, 3, 3, 4));
        let t = etag(u64::MAX, u64::MAX, -1, 999_999_999);
        assert!(t.starts_with('"') && t.ends_with('"'));
        assert_eq!(parse_tag_list(&t), Some(vec![(false, t.as_str())]));
    }

    #[test]
    fn dates() {
        assert_eq!(http_date(MTIME), MTIME_STR);
        assert_eq!(parse_http_date(MTIME_STR), Some(MTIME));
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"), None);
    }
}
