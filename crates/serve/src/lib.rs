//! A static HTTP server for the public trees detente publishes — a transparency log's
//! `log/` directory (checkpoint, tiles, entry bundles), a signature feed's public tree, and
//! later the hub's and aggregators' — several mounted side by side under URL prefixes.
//!
//! The logic is sans-IO and tested on its own:
//! - [`path`]: a raw request path → decoded plain segments (no `..`, `.`, empty or hidden
//!   segments, no encoded `/`, `\`, NUL), and the longest mount prefix that covers it;
//! - [`decide`](mod@decide): RFC 9110 conditional and range requests over (method,
//!   headers, size, modification time, entity tag, now) → status, headers and byte range;
//! - [`classify`]: `Cache-Control` (full tiles, full entry bundles and content-addressed
//!   `objects/` are immutable; everything else must revalidate) and `Content-Type`.
//!
//! The I/O edge resolves a path inside a mount's canonical root (symbolic links are
//! followed only while they stay inside it, to a regular file), and axum on tokio streams the
//! file in 64 KiB chunks. GET and HEAD only; no directory listings and no implicit
//! `index.html`; request header size and count are hyper's defaults (about 400 KiB, 100
//! headers).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use detente_serve::{Mount, Site};
//! let site = Site::new(vec![
//!     Mount::parse("/log=mylog/log")?,
//!     Mount::parse("/feed=feeds/main/public")?,
//! ])?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! site.serve(listener).await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod classify;
pub mod decide;
mod fs;
pub mod path;
mod server;

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use classify::{cache_control, content_type, is_immutable};
pub use decide::{decide, Conditions, Content, Decision, FileMeta, Method};
pub use path::{parse_request_path, PathError, Prefix};

/// Why a site could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A mount is not written `PREFIX=DIR`.
    #[error("{0:?}: a mount is PREFIX=DIR, e.g. /log=mylog/log")]
    BadSpec(String),
    /// A prefix that is not `/` or `/plain/segments`.
    #[error("prefix {prefix:?}: {reason}")]
    BadPrefix {
        /// The prefix as given.
        prefix: String,
        /// What is wrong with it.
        reason: PathError,
    },
    /// A mount's directory cannot be resolved.
    #[error("{}: {source}", path.display())]
    Dir {
        /// The directory as given.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A mount's path is not a directory.
    #[error("{}: not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// No mount at all.
    #[error("nothing to serve: give at least one mount")]
    NoMounts,
    /// Two mounts with one prefix.
    #[error("prefix {0} is mounted twice")]
    DuplicatePrefix(String),
}

/// A directory served under a URL prefix.
#[derive(Debug, Clone)]
pub struct Mount {
    prefix: Prefix,
    /// Canonical: every request is resolved and checked against it.
    root: PathBuf,
}

impl Mount {
    /// Serves `dir` (resolved now to its canonical path, which must be a directory) under
    /// `prefix` (`/` or `/a/b`; see [`Prefix::parse`]).
    pub fn new(prefix: &str, dir: impl AsRef<Path>) -> Result<Mount, Error> {
        let prefix = Prefix::parse(prefix).map_err(|reason| Error::BadPrefix {
            prefix: prefix.to_owned(),
            reason,
        })?;
        let dir = dir.as_ref();
        let root = std::fs::canonicalize(dir).map_err(|source| Error::Dir {
            path: dir.to_owned(),
            source,
        })?;
        if !root.is_dir() {
            return Err(Error::NotADirectory(dir.to_owned()));
        }
        Ok(Mount { prefix, root })
    }

    /// Parses `PREFIX=DIR` (split at the first `=`), as given to `detente serve --mount`.
    pub fn parse(spec: &str) -> Result<Mount, Error> {
        match spec.split_once('=') {
            Some((prefix, dir)) if !prefix.is_empty() && !dir.is_empty() => Mount::new(prefix, dir),
            _ => Err(Error::BadSpec(spec.to_owned())),
        }
    }

    /// The URL prefix.
    pub fn prefix(&self) -> &Prefix {
        &self.prefix
    }

    /// The directory served, canonical.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Every mount of one server. A request goes to the mount with the longest prefix that
/// covers its path, segment by segment (`/feed` and `/` side by side: `/feed/x` is the
/// first's, `/feedx` the second's); a path no prefix covers is 404.
#[derive(Debug, Clone)]
pub struct Site {
    mounts: Arc<[Mount]>,
}

impl Site {
    /// A site of at least one mount, no two with one prefix.
    pub fn new(mounts: Vec<Mount>) -> Result<Site, Error> {
        if mounts.is_empty() {
            return Err(Error::NoMounts);
        }
        for (i, m) in mounts.iter().enumerate() {
            if mounts[..i].iter().any(|o| o.prefix == m.prefix) {
                return Err(Error::DuplicatePrefix(m.prefix.to_string()));
            }
        }
        Ok(Site {
            mounts: mounts.into(),
        })
    }

    /// The mounts, in the order given.
    pub fn mounts(&self) -> &[Mount] {
        &self.mounts
    }

    /// The axum router serving every mount (for embedding in a larger server).
    pub fn router(&self) -> axum::Router {
        server::router(self.clone())
    }

    /// Serves HTTP/1.1 on `listener` until the listener fails.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> io::Result<()> {
        axum::serve(listener, self.router()).await
    }

    /// Serves HTTP/1.1 on `listener` until `shutdown` completes, then finishes the
    /// requests in flight.
    pub async fn serve_with_shutdown<F>(
        self,
        listener: tokio::net::TcpListener,
        shutdown: F,
    ) -> io::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_and_sites() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().display().to_string();
        std::fs::write(tmp.path().join("f"), b"").unwrap();
        let m = Mount::parse(&format!("/log={dir}")).unwrap();
        assert_eq!(m.prefix().to_string(), "/log");
        assert_eq!(m.root(), std::fs::canonicalize(tmp.path()).unwrap());
        assert!(Mount::parse(&format!("/={dir}")).is_ok());
        assert!(matches!(Mount::parse("/log"), Err(Error::BadSpec(_))));
        assert!(matches!(Mount::parse("=x"), Err(Error::BadSpec(_))));
        assert!(matches!(Mount::parse("/log="), Err(Error::BadSpec(_))));
        assert!(matches!(
            Mount::parse(&format!("log={dir}")),
            Err(Error::BadPrefix { .. })
        ));
        assert!(matches!(
            Mount::parse(&format!("/a/../b={dir}")),
            Err(Error::BadPrefix { .. })
        ));
        assert!(matches!(
            Mount::parse(&format!("/x={dir}/missing")),
            Err(Error::Dir { .. })
        ));
        assert!(matches!(
            Mount::parse(&format!("/x={dir}/f")),
            Err(Error::NotADirectory(_))
        ));
        assert!(matches!(Site::new(vec![]), Err(Error::NoMounts)));
        let a = Mount::new("/log", tmp.path()).unwrap();
        let b = Mount::new("/log/", tmp.path()).unwrap();
        assert!(matches!(
            Site::new(vec![a.clone(), b]),
            Err(Error::DuplicatePrefix(p)) if p == "/log"
        ));
        let c = Mount::new("/", tmp.path()).unwrap();
        assert_eq!(Site::new(vec![a, c]).unwrap().mounts().len(), 2);
    }
}
