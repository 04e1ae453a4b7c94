//! The HTTP edge: one axum fallback handler. It checks the method, parses the path, picks
//! the mount, opens the file on the blocking pool, asks [`decide`] and streams the bytes
//! decided in 64 KiB chunks (never the whole file in memory).

use std::io::{Seek, SeekFrom};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use crate::classify::{cache_control, content_type, REVALIDATE, TEXT};
use crate::decide::{decide, Conditions, Content, Method, ALLOW};
use crate::fs::open_in;
use crate::path::{longest_match, parse_request_path};
use crate::Site;

/// Bytes read from a file per chunk of the body.
const CHUNK: usize = 64 * 1024;

pub(crate) fn router(site: Site) -> Router {
    Router::new().fallback(handle).with_state(Arc::new(site))
}

async fn handle(State(site): State<Arc<Site>>, req: Request) -> Response {
    let Some(method) = Method::parse(req.method().as_str()) else {
        let mut r = error(StatusCode::METHOD_NOT_ALLOWED);
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(ALLOW));
        return r;
    };
    let segments = match parse_request_path(req.uri().path()) {
        Ok(s) => s,
        Err(e) => return error(status(e.status())),
    };
    let Some((mount, rel)) = longest_match(site.mounts.iter().map(|m| &m.prefix), &segments) else {
        return error(StatusCode::NOT_FOUND);
    };
    let root = site.mounts[mount].root.clone();
    let rel = rel.to_vec();
    let opened = match tokio::task::spawn_blocking(move || open_in(&root, &rel)).await {
        Ok(Ok(Some(o))) => o,
        Ok(Ok(None)) => return error(StatusCode::NOT_FOUND),
        Ok(Err(e)) => {
            eprintln!("detente serve: {}: {e}", req.uri().path());
            return error(StatusCode::INTERNAL_SERVER_ERROR);
        }
        Err(e) => {
            eprintln!("detente serve: {}: task failed: {e}", req.uri().path());
            return error(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };

    let h = req.headers();
    let if_match = joined(h, header::IF_MATCH);
    let if_none_match = joined(h, header::IF_NONE_MATCH);
    let if_modified_since = joined(h, header::IF_MODIFIED_SINCE);
    let if_unmodified_since = joined(h, header::IF_UNMODIFIED_SINCE);
    let range = joined(h, header::RANGE);
    let if_range = joined(h, header::IF_RANGE);
    let cond = Conditions {
        if_match: if_match.as_deref(),
        if_none_match: if_none_match.as_deref(),
        if_modified_since: if_modified_since.as_deref(),
        if_unmodified_since: if_unmodified_since.as_deref(),
        range: range.as_deref(),
        if_range: if_range.as_deref(),
    };
    let d = decide(method, &cond, &opened.meta, unix_now());

    let body = match d.content {
        Content::Empty => Ok(Body::empty()),
        Content::Full => stream(opened.file, 0, opened.meta.size),
        Content::Range { start, len } => stream(opened.file, start, len),
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            eprintln!("detente serve: {}: {e}", req.uri().path());
            return error(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status(d.status);
    let headers = resp.headers_mut();
    for (name, value) in d.headers {
        if let Ok(v) = HeaderValue::try_from(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    if matches!(d.status, 200 | 206) {
        let name = segments.last().map_or("", String::as_str);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(name)),
        );
    }
    let cache = if matches!(d.status, 200 | 206 | 304) {
        cache_control(&segments)
    } else {
        REVALIDATE
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// `len` bytes of `file` from `start`, read chunk by chunk as the connection takes them. A
/// file that shrinks meanwhile ends the body early (the client sees a short body); one that
/// grows is cut at `len`. Seeking is one `lseek`, which does not block.
fn stream(mut file: std::fs::File, start: u64, len: u64) -> std::io::Result<Body> {
    if start > 0 {
        file.seek(SeekFrom::Start(start))?;
    }
    let file = tokio::fs::File::from_std(file);
    Ok(Body::from_stream(ReaderStream::with_capacity(
        file.take(len),
        CHUNK,
    )))
}

/// Every line of a header, joined with `", "` (RFC 9110 §5.3); bytes outside ASCII kept as
/// replacement characters, which never match a tag or parse as a date.
fn joined(h: &HeaderMap, name: HeaderName) -> Option<String> {
    let mut out: Option<String> = None;
    for v in h.get_all(name) {
        let v = String::from_utf8_lossy(v.as_bytes());
        match &mut out {
            None => out = Some(v.into_owned()),
            Some(s) => {
                s.push_str(", ");
                s.push_str(&v);
            }
        }
    }
    out
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn error(status: StatusCode) -> Response {
    let text = format!(
        "{} {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
