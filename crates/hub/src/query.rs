//! TAXII 2.1 query parameters: `limit`, `next`, `added_after`, `match[id]`, `match[type]`,
//! `match[version]` and `match[spec_version]`, parsed and normalised.
//!
//! Filters a server does not support are ignored, as TAXII 2.1 allows. The normalised
//! filters have one byte encoding ([`Filters::digest_input`]) that the `next` cursor is
//! bound to.

/// Largest page the hub returns, whatever `limit` asks.
pub const MAX_LIMIT: usize = 1000;
/// Page size when no `limit` is given.
pub const DEFAULT_LIMIT: usize = 100;
/// Most values one request may list across all filters.
pub const MAX_VALUES: usize = 256;
/// Longest query string accepted.
pub const MAX_QUERY: usize = 16 * 1024;

/// Which versions of each object a request selects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Versions {
    /// Every version.
    pub all: bool,
    /// The earliest version (of those the reader may see).
    pub first: bool,
    /// The latest version (of those the reader may see).
    pub last: bool,
    /// Versions with these timestamps (as [`detente_stix::timestamp_key`]s, sorted).
    pub at: Vec<String>,
}

/// Normalised filters of one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filters {
    /// `added_after`, exclusive, in microseconds (rounded down).
    pub added_after: Option<i64>,
    /// `match[id]`, sorted and deduplicated.
    pub ids: Vec<String>,
    /// `match[type]`, sorted and deduplicated.
    pub types: Vec<String>,
    /// `match[version]`.
    pub versions: Versions,
    /// `false` when `match[spec_version]` was given and names no version the hub holds
    /// (it holds 2.1 only).
    pub spec_ok: bool,
}

/// A parsed request: filters, page size and cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The filters.
    pub filters: Filters,
    /// Page size, 1 to [`MAX_LIMIT`].
    pub limit: usize,
    /// The `next` cursor as sent (checked later against the member and filters).
    pub next: Option<String>,
}

/// Why a query string is refused (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Longer than [`MAX_QUERY`] or listing more than [`MAX_VALUES`] values.
    #[error("query too long")]
    TooLong,
    /// A parameter's value is malformed.
    #[error("{param}: {what}")]
    Bad {
        /// The parameter.
        param: &'static str,
        /// What is wrong.
        what: &'static str,
    },
}

/// Parses a raw query string (without `?`). `default_version` is what applies when
/// `match[version]` is absent: `last` for objects and manifests, `all` for versions.
pub fn parse(query: &str, default_all: bool) -> Result<Request, QueryError> {
    if query.len() > MAX_QUERY {
        return Err(QueryError::TooLong);
    }
    let mut f = Filters {
        spec_ok: true,
        ..Filters::default()
    };
    let mut limit = DEFAULT_LIMIT;
    let mut next = None;
    let mut versions: Option<Versions> = None;
    let mut count = 0usize;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let mut values = || -> Result<Vec<String>, QueryError> {
            let vs: Vec<String> = v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            count += vs.len();
            if count > MAX_VALUES {
                return Err(QueryError::TooLong);
            }
            Ok(vs)
        };
        match k.as_ref() {
            "limit" => {
                let n: usize = v.parse().map_err(|_| QueryError::Bad {
                    param: "limit",
                    what: "not a positive integer",
                })?;
                if n == 0 {
                    return Err(QueryError::Bad {
                        param: "limit",
                        what: "must be at least 1",
                    });
                }
                limit = n.min(MAX_LIMIT);
            }
            "next" => next = Some(v.to_string()),
            "added_after" => {
                f.added_after = Some(crate::time::parse_micros(&v).ok_or(QueryError::Bad {
                    param: "added_after",
                    what: "not an RFC 3339 UTC timestamp",
                })?);
            }
            "match[id]" => f.ids.extend(values()?),
            "match[type]" => f.types.extend(values()?),
            "match[spec_version]" => {
                let vs = values()?;
                f.spec_ok = vs.iter().any(|s| s == "2.1");
            }
            "match[version]" => {
                let sel = versions.get_or_insert_with(Versions::default);
                for s in values()? {
                    match s.as_str() {
                        "all" => sel.all = true,
                        "first" => sel.first = true,
                        "last" => sel.last = true,
                        t => {
                            sel.at
                                .push(detente_stix::timestamp_key(t).ok_or(QueryError::Bad {
                                    param: "match[version]",
                                    what: "not first, last, all or a timestamp",
                                })?)
                        }
                    }
                }
            }
            _ => {}
        }
    }
    f.ids.sort();
    f.ids.dedup();
    f.types.sort();
    f.types.dedup();
    let mut versions = versions.unwrap_or(Versions {
        all: default_all,
        last: !default_all,
        ..Versions::default()
    });
    versions.at.sort();
    versions.at.dedup();
    if versions.all {
        versions = Versions {
            all: true,
            ..Versions::default()
        };
    }
    f.versions = versions;
    Ok(Request {
        filters: f,
        limit,
        next,
    })
}

impl Filters {
    /// One unambiguous byte encoding of the filters, which cursors are bound to.
    pub fn digest_input(&self, scope: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let mut put = |s: &str| {
            out.extend_from_slice(&(s.len() as u64).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        };
        put(scope);
        put(&self.added_after.map_or("-".into(), |a| a.to_string()));
        put(&self.ids.len().to_string());
        self.ids.iter().for_each(|s| put(s));
        put(&self.types.len().to_string());
        self.types.iter().for_each(|s| put(s));
        let v = &self.versions;
        put(&format!("{} {} {}", v.all, v.first, v.last));
        put(&v.at.len().to_string());
        v.at.iter().for_each(|s| put(s));
        put(if self.spec_ok { "1" } else { "0" });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_taxii_filters() {
        let r = parse(
            "limit=5000&match%5Btype%5D=indicator,malware&match[id]=x--1&match[version]=first,2016-01-01T00:00:00.5Z&added_after=2016-01-01T00:00:00Z&match[x]=y",
            false,
        )
        .unwrap();
        assert_eq!(r.limit, MAX_LIMIT);
        assert_eq!(r.filters.types, ["indicator", "malware"]);
        assert!(r.filters.versions.first && !r.filters.versions.last);
        assert_eq!(r.filters.versions.at, ["2016-01-01T00:00:00.500000000"]);
        assert_eq!(r.filters.added_after, Some(1_451_606_400_000_000));
        let d = parse("", false).unwrap();
        assert!(d.filters.versions.last && d.filters.spec_ok);
        assert!(parse("", true).unwrap().filters.versions.all);
        assert!(
            !parse("match[spec_version]=2.0", false)
                .unwrap()
                .filters
                .spec_ok
        );
        for bad in [
            "limit=0",
            "limit=-1",
            "added_after=yesterday",
            "match[version]=newest",
        ] {
            assert!(parse(bad, false).is_err(), "{bad}");
        }
        let many = format!("match[id]={}", vec!["a"; 300].join(","));
        assert_eq!(parse(&many, false), Err(QueryError::TooLong));
    }

    #[test]
    fn digest_separates_filters() {
        let a = parse("match[type]=a,b", false).unwrap().filters;
        let b = parse("match[type]=a&match[id]=b", false).unwrap().filters;
        assert_ne!(a.digest_input("objects"), b.digest_input("objects"));
        assert_ne!(a.digest_input("objects"), a.digest_input("manifest"));
    }
}
