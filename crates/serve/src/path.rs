//! Request paths and mount prefixes, sans-IO: a raw request path becomes a list of decoded,
//! plain segments (or is refused), and the longest mount prefix that covers it is chosen.
//!
//! A plain segment is non-empty, is not `.` or `..`, does not start with `.` (hidden files
//! are never served), and holds no `/` (so `%2F` is refused), `\`, NUL or other control
//! character once percent-decoded. A path is never normalised: `/a/../b` and `/a//b` are
//! refused rather than rewritten, so one file has one URL.

use std::fmt;

/// Why a request path (or a mount prefix) names no file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path does not start with `/`.
    #[error("path does not start with '/'")]
    NotAbsolute,
    /// A `%` not followed by two hexadecimal digits.
    #[error("malformed percent-encoding")]
    BadEscape,
    /// A segment is not UTF-8 once decoded.
    #[error("path is not UTF-8")]
    NotUtf8,
    /// A decoded `/` (`%2F`), `\`, NUL or other control character.
    #[error("forbidden character in path")]
    ForbiddenChar,
    /// A `.` or `..` segment, plain or encoded.
    #[error("dot segment in path")]
    DotSegment,
    /// An empty segment: `//`, or a trailing `/` (a directory).
    #[error("empty path segment")]
    EmptySegment,
    /// A segment starting with `.`: hidden files are not served.
    #[error("hidden file")]
    Hidden,
}

impl PathError {
    /// The HTTP status to answer: 400 for a path no well-behaved client sends (bad escapes,
    /// forbidden characters, dot segments), 404 for one that merely names nothing served
    /// (directories, hidden files).
    pub fn status(self) -> u16 {
        match self {
            PathError::EmptySegment | PathError::Hidden => 404,
            _ => 400,
        }
    }
}

/// Splits a raw (percent-encoded) request path into decoded plain segments.
///
/// `/` gives no segments. The query string is not part of the path: pass
/// `Uri::path()`, not the whole request target.
pub fn parse_request_path(raw: &str) -> Result<Vec<String>, PathError> {
    let rest = raw.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    rest.split('/').map(decode_segment).collect()
}

fn decode_segment(seg: &str) -> Result<String, PathError> {
    if seg.is_empty() {
        return Err(PathError::EmptySegment);
    }
    let raw = seg.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = if raw[i] == b'%' {
            let hi = raw.get(i + 1).and_then(|&c| hex(c));
            let lo = raw.get(i + 2).and_then(|&c| hex(c));
            match (hi, lo) {
                (Some(h), Some(l)) => {
                    i += 3;
                    h << 4 | l
                }
                _ => return Err(PathError::BadEscape),
            }
        } else {
            i += 1;
            raw[i - 1]
        };
        if b == b'/' || b == b'\\' || b < 0x20 || b == 0x7f {
            return Err(PathError::ForbiddenChar);
        }
        out.push(b);
    }
    let s = String::from_utf8(out).map_err(|_| PathError::NotUtf8)?;
    if s == "." || s == ".." {
        return Err(PathError::DotSegment);
    }
    if s.starts_with('.') {
        return Err(PathError::Hidden);
    }
    Ok(s)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// A mount's URL prefix: `/` or `/a/b` (plain segments, no percent-encoding).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Prefix(Vec<String>);

impl Prefix {
    /// Parses a prefix. One trailing `/` is allowed (`/log/` is `/log`); `%` is refused so a
    /// prefix is written as it is matched.
    pub fn parse(s: &str) -> Result<Prefix, PathError> {
        if s.contains('%') {
            return Err(PathError::ForbiddenChar);
        }
        let s = match s.strip_suffix('/') {
            Some(t) if !t.is_empty() && !t.ends_with('/') => t,
            _ => s,
        };
        parse_request_path(s).map(Prefix)
    }

    /// The prefix's segments (none for `/`).
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// The rest of `path` if this prefix covers it, segment by segment (`/log` covers
    /// `/log/x` but not `/logs/x`).
    pub fn strip<'a>(&self, path: &'a [String]) -> Option<&'a [String]> {
        if path.len() >= self.0.len() && path[..self.0.len()] == self.0[..] {
            Some(&path[self.0.len()..])
        } else {
            None
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("/");
        }
        for s in &self.0 {
            write!(f, "/{s}")?;
        }
        Ok(())
    }
}

/// The mount whose prefix covers `path` with the most segments, and the path below it.
pub fn longest_match<'a, 'p>(
    prefixes: impl IntoIterator<Item = &'p Prefix>,
    path: &'a [String],
) -> Option<(usize, &'a [String])> {
    let mut best: Option<(usize, &'a [String])> = None;
    for (i, p) in prefixes.into_iter().enumerate() {
        if let Some(rest) = p.strip(path) {
            if best.is_none_or(|(_, r)| rest.len() < r.len()) {
                best = Some((i, rest));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> Vec<String> {
        parse_request_path(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }
    fn err(raw: &str) -> PathError {
        parse_request_path(raw).expect_err(raw)
    }

    #[test]
    fn plain_paths() {
        assert_eq!(ok("/"), Vec::<String>::new());
        assert_eq!(ok("/checkpoint"), ["checkpoint"]);
        assert_eq!(
            ok("/log/tile/0/x001/234.p/5"),
            ["log", "tile", "0", "x001", "234.p", "5"]
        );
        assert_eq!(ok("/a%20b/%41"), ["a b", "A"]);
        assert_eq!(ok("/caf%C3%A9"), ["café"]);
        assert_eq!(ok("/a.b/c..d/e."), ["a.b", "c..d", "e."]);
    }

    #[test]
    fn refused_paths() {
        use PathError::*;
        for (raw, want) in [
            ("", NotAbsolute),
            ("log/checkpoint", NotAbsolute),
            ("/..", DotSegment),
            ("/../etc/passwd", DotSegment),
            ("/log/../../etc/passwd", DotSegment),
            ("/log/./checkpoint", DotSegment),
            ("/%2e%2e/etc/passwd", DotSegment),
            ("/%2E%2e", DotSegment),
            ("/.%2e/x", DotSegment),
            ("/%2e", DotSegment),
            ("/log%2f..%2fsecret", ForbiddenChar),
            ("/log%2F..", ForbiddenChar),
            ("/a%5cb", ForbiddenChar),
            ("/a\\b", ForbiddenChar),
            ("/a%00b", ForbiddenChar),
            ("/a%0ab", ForbiddenChar),
            ("/a%7f", ForbiddenChar),
            ("/a%", BadEscape),
            ("/a%2", BadEscape),
            ("/a%zz", BadEscape),
            ("/a%%41", BadEscape),
            ("/%ff", NotUtf8),
            ("/%c3", NotUtf8),
            ("/log/", EmptySegment),
            ("//etc/passwd", EmptySegment),
            ("/a//b", EmptySegment),
            ("/.git/config", Hidden),
            ("/log/.lock", Hidden),
            ("/%2egit", Hidden),
            ("/.../x", Hidden),
        ] {
            assert_eq!(err(raw), want, "{raw}");
        }
        assert_eq!(err("/a/../b").status(), 400);
        assert_eq!(err("/a/").status(), 404);
        assert_eq!(err("/.env").status(), 404);
        assert_eq!(err("/a%2fb").status(), 400);
    }

    #[test]
    fn first_bad_segment_decides() {
        assert_eq!(err("/../"), PathError::DotSegment);
        assert_eq!(err("//.."), PathError::EmptySegment);
    }

    #[test]
    fn prefixes() {
        let p = |s: &str| Prefix::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(p("/").segments(), &[] as &[String]);
        assert_eq!(p("/log").segments(), ["log"]);
        assert_eq!(p("/log/"), p("/log"));
        assert_eq!(p("/a/b").to_string(), "/a/b");
        assert_eq!(p("/").to_string(), "/");
        for bad in [
            "", "log", "//", "/a//", "/a/..", "/.hidden", "/a%20b", "/a\\b",
        ] {
            assert!(Prefix::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn strip_is_segment_wise() {
        let log = Prefix::parse("/log").unwrap();
        let path = ok("/log/checkpoint");
        assert_eq!(log.strip(&path), Some(&path[1..]));
        assert_eq!(log.strip(&ok("/logs/checkpoint")), None);
        assert_eq!(log.strip(&ok("/log")), Some(&[] as &[String]));
        assert_eq!(log.strip(&ok("/")), None);
    }

    #[test]
    fn longest_prefix_wins() {
        let ps: Vec<Prefix> = ["/", "/feed", "/feed/main", "/log"]
            .iter()
            .map(|s| Prefix::parse(s).unwrap())
            .collect();
        let pick = |raw: &str| {
            let path = ok(raw);
            longest_match(&ps, &path).map(|(i, rest)| (i, rest.join("/")))
        };
        assert_eq!(pick("/x"), Some((0, "x".into())));
        assert_eq!(pick("/feed/x"), Some((1, "x".into())));
        assert_eq!(pick("/feed/main/x/y"), Some((2, "x/y".into())));
        assert_eq!(pick("/feedx"), Some((0, "feedx".into())));
        assert_eq!(pick("/log/checkpoint"), Some((3, "checkpoint".into())));
        assert_eq!(pick("/"), Some((0, String::new())));
        let only_log = [Prefix::parse("/log").unwrap()];
        assert_eq!(longest_match(&only_log, &ok("/feed/x")), None);
    }
}
