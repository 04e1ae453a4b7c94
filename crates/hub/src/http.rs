//! The HTTP edge of the hub: TAXII 2.1 routes (with and without trailing slashes), content
//! negotiation, HTTP Basic and Bearer sign-in, and the hub's log served read-only under
//! `/{api-root}/log/`. Store and log work runs on tokio's blocking pool; the clock is read
//! here and passed down.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::hub::{Credentials, Hub, HubError, Page, ReadKind, MAX_CONTENT_LENGTH};
use crate::store::MemberRecord;
use crate::time::format_micros;
use crate::{STIX, TAXII};

/// The hub's routes: `/taxii2/` and `/{api-root}/...`. Merge with other routers freely;
/// it has no fallback.
pub fn router(hub: Arc<Hub>) -> Router {
    let root = hub.info().api_root.clone();
    Router::new()
        .route("/taxii2", any(handle))
        .route("/taxii2/", any(handle))
        .route(&format!("/{root}"), any(handle))
        .route(&format!("/{root}/"), any(handle))
        .route(&format!("/{root}/{{*rest}}"), any(handle))
        .merge(crate::web::router(hub.clone()))
        .with_state(hub)
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

fn json_reply(status: StatusCode, v: &Value) -> Response {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII));
    r
}

fn error(e: &HubError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = json_reply(status, &e.resource());
    if e.status == 401 {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"detente hub\", Bearer"),
        );
    }
    r
}

fn herr(status: u16, title: &str, description: &str) -> HubError {
    HubError {
        status,
        title: title.into(),
        description: description.into(),
    }
}

/// Whether a media type (with parameters) is the TAXII 2.1 type; `wild` also admits
/// `*/*` and `application/*` (for Accept).
fn is_taxii(item: &str, wild: bool) -> bool {
    let mut parts = item.split(';').map(str::trim);
    let ty = parts.next().unwrap_or("").to_ascii_lowercase();
    let mut version_ok = true;
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim().trim_matches('"');
        if k == "version" && v != "2.1" {
            version_ok = false;
        }
        if k == "q" && v.parse::<f32>().map_or(true, |q| q <= 0.0) {
            return false;
        }
    }
    match ty.as_str() {
        "application/taxii+json" => version_ok,
        "*/*" | "application/*" => wild,
        _ => false,
    }
}

fn accept_ok(h: &HeaderMap) -> bool {
    let vals: Vec<&str> = h
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    vals.is_empty()
        || vals
            .iter()
            .flat_map(|v| v.split(','))
            .any(|i| is_taxii(i, true))
}

fn credentials(h: &HeaderMap) -> Result<Option<Credentials>, HubError> {
    let Some(v) = h.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || herr(401, "Unauthorized", "the Authorization header is malformed");
    let v = v.to_str().map_err(|_| bad())?.trim();
    let (scheme, rest) = v.split_once(' ').ok_or_else(bad)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Some(Credentials {
            user: None,
            token: rest.to_string(),
        }));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = STANDARD.decode(rest).map_err(|_| bad())?;
        let s = String::from_utf8(raw).map_err(|_| bad())?;
        let (user, pass) = s.split_once(':').ok_or_else(bad)?;
        return Ok(Some(Credentials {
            user: (!user.is_empty()).then(|| user.to_string()),
            token: pass.to_string(),
        }));
    }
    Err(bad())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, HubError> + Send + 'static,
) -> Result<T, HubError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        eprintln!("detente hub: task failed: {e}");
        Err(herr(
            500,
            "Internal Error",
            "the hub could not complete the request",
        ))
    })
}

async fn handle(State(hub): State<Arc<Hub>>, req: Request) -> Response {
    match dispatch(hub, req).await {
        Ok(r) => r,
        Err(e) => error(&e),
    }
}

fn page_reply(page: &Page, body: Value) -> Response {
    let mut r = json_reply(StatusCode::OK, &body);
    if let (Some(a), Some(b)) = (page.versions.first(), page.versions.last()) {
        for (name, v) in [
            ("x-taxii-date-added-first", a.seq),
            ("x-taxii-date-added-last", b.seq),
        ] {
            if let Ok(hv) = HeaderValue::from_str(&format_micros(v)) {
                r.headers_mut().insert(name, hv);
            }
        }
    }
    r
}

fn envelope(page: &Page) -> Value {
    let objects: Vec<Value> = page
        .versions
        .iter()
        .filter_map(|v| serde_json::from_slice(&v.body).ok())
        .collect();
    let mut e = json!({"more": page.more, "objects": objects});
    if let Some(n) = &page.next {
        e["next"] = json!(n);
    }
    e
}

async fn dispatch(hub: Arc<Hub>, req: Request) -> Result<Response, HubError> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let headers = req.headers().clone();
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode(s.as_bytes())
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let root = hub.info().api_root.clone();

    // The log's public tree: static, unauthenticated (it holds hashes only).
    if segs.len() >= 2 && segs[0] == root && segs[1] == "log" && method == Method::GET {
        let key = segs[2..].join("/");
        return serve_log(hub, key).await;
    }
    if !accept_ok(&headers) {
        return Err(herr(
            406,
            "Not Acceptable",
            "this server answers application/taxii+json;version=2.1",
        ));
    }
    let who: Option<MemberRecord> = match credentials(&headers)? {
        None => None,
        Some(c) => {
            let h = hub.clone();
            Some(blocking(move || h.authenticate(&c)).await?)
        }
    };
    let member = who.as_ref().map(|w| w.member.clone());
    let is = |m: &Method| method == *m;

    if segs.first().map(String::as_str) == Some("taxii2") && segs.len() == 1 {
        if !is(&Method::GET) {
            return Err(method_not_allowed());
        }
        let info = hub.info();
        return Ok(json_reply(
            StatusCode::OK,
            &json!({
                "title": info.title,
                "description": info.description,
                "default": format!("/{root}/"),
                "api_roots": [format!("/{root}/")],
            }),
        ));
    }
    if segs.first() != Some(&root) {
        return Err(HubError::not_found());
    }
    let rest: Vec<&str> = segs[1..].iter().map(String::as_str).collect();
    match rest.as_slice() {
        [] => {
            if !is(&Method::GET) {
                return Err(method_not_allowed());
            }
            let info = hub.info();
            Ok(json_reply(
                StatusCode::OK,
                &json!({
                    "title": info.title,
                    "description": info.description,
                    "versions": [TAXII],
                    "max_content_length": MAX_CONTENT_LENGTH,
                }),
            ))
        }
        ["status", id] => {
            if !is(&Method::GET) {
                return Err(method_not_allowed());
            }
            let m = member.ok_or_else(HubError::unauthorized)?;
            let id = id.to_string();
            let h = hub.clone();
            let v = blocking(move || h.status(&m, &id)).await?;
            Ok(json_reply(StatusCode::OK, &v))
        }
        ["collections"] => {
            if !is(&Method::GET) {
                return Err(method_not_allowed());
            }
            let h = hub.clone();
            let list = blocking(move || h.collections(member.as_ref())).await?;
            let cs: Vec<Value> = list
                .iter()
                .map(|(c, r, w)| collection_json(c, *r, *w))
                .collect();
            if cs.is_empty() && who.is_none() {
                return Err(HubError::unauthorized());
            }
            Ok(json_reply(StatusCode::OK, &json!({"collections": cs})))
        }
        ["collections", cid] => {
            if !is(&Method::GET) {
                return Err(method_not_allowed());
            }
            let (h, cid) = (hub.clone(), cid.to_string());
            let (c, r, w) = blocking(move || h.collection(member.as_ref(), &cid)).await?;
            Ok(json_reply(StatusCode::OK, &collection_json(&c, r, w)))
        }
        ["collections", cid, "objects"] if is(&Method::POST) => {
            let w = who.ok_or_else(HubError::unauthorized)?;
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !is_taxii(ct, false) {
                return Err(herr(
                    415,
                    "Unsupported Media Type",
                    "post application/taxii+json;version=2.1",
                ));
            }
            if headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|n| n > MAX_CONTENT_LENGTH as u64)
            {
                return Err(too_large());
            }
            let body = to_bytes(req.into_body(), MAX_CONTENT_LENGTH)
                .await
                .map_err(|_| too_large())?;
            let (h, cid) = (hub.clone(), cid.to_string());
            let now = now_us();
            let status_id = new_uuid();
            let v = blocking(move || h.submit(&w, &cid, &body, now, status_id)).await?;
            Ok(json_reply(StatusCode::ACCEPTED, &v))
        }
        ["collections", cid, "objects"] | ["collections", cid, "manifest"] => {
            if !is(&Method::GET) {
                return Err(method_not_allowed());
            }
            let manifest = rest[2] == "manifest";
            let (h, cid) = (hub.clone(), cid.to_string());
            let kind = if manifest {
                ReadKind::Manifest
            } else {
                ReadKind::Objects
            };
            let page = blocking(move || h.read(member.as_ref(), &cid, &kind, &raw_query)).await?;
            if manifest {
                let objects: Vec<Value> = page
                    .versions
                    .iter()
                    .map(|v| {
                        json!({
                            "id": v.id,
                            "date_added": format_micros(v.seq),
                            "version": v.version,
                            "media_type": STIX,
                        })
                    })
                    .collect();
                let mut body = json!({"more": page.more, "objects": objects});
                if let Some(n) = &page.next {
                    body["next"] = json!(n);
                }
                Ok(page_reply(&page, body))
            } else {
                let body = envelope(&page);
                Ok(page_reply(&page, body))
            }
        }
        ["collections", cid, "objects", oid] => {
            let (h, cid, oid) = (hub.clone(), cid.to_string(), oid.to_string());
            if is(&Method::DELETE) {
                let w = who.ok_or_else(HubError::unauthorized)?;
                let now = now_us();
                blocking(move || h.delete(&w, &cid, &oid, &raw_query, now)).await?;
                let mut r = Response::new(Body::empty());
                *r.status_mut() = StatusCode::OK;
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII));
                return Ok(r);
            }
            if !is(&Method::GET) {
                return Err(method_not_allowed());
            }
            let page =
                blocking(move || h.read(member.as_ref(), &cid, &ReadKind::Object(oid), &raw_query))
                    .await?;
            let body = envelope(&page);
            Ok(page_reply(&page, body))
        }
        ["collections", cid, "objects", oid, "versions"] => {
            if !is(&Method::GET) {
                return Err(method_not_allowed());
            }
            let (h, cid, oid) = (hub.clone(), cid.to_string(), oid.to_string());
            let page = blocking(move || {
                h.read(member.as_ref(), &cid, &ReadKind::Versions(oid), &raw_query)
            })
            .await?;
            let versions: Vec<&str> = page.versions.iter().map(|v| v.version.as_str()).collect();
            let mut body = json!({"more": page.more, "versions": versions});
            if let Some(n) = &page.next {
                body["next"] = json!(n);
            }
            Ok(page_reply(&page, body))
        }
        ["collections", cid, "objects", oid, "provenance"] => {
            if !is(&Method::GET) {
                return Err(method_not_allowed());
            }
            let (h, cid, oid) = (hub.clone(), cid.to_string(), oid.to_string());
            let v = blocking(move || h.provenance(member.as_ref(), &cid, &oid, &raw_query)).await?;
            Ok(json_reply(StatusCode::OK, &v))
        }
        ["evidence"] if is(&Method::POST) => {
            let w = who.ok_or_else(HubError::unauthorized)?;
            let max = hub.evidence_limit();
            let body = to_bytes(req.into_body(), max)
                .await
                .map_err(|_| too_large())?;
            let h = hub.clone();
            let v = blocking(move || h.put_evidence(&w.member, &body)).await?;
            Ok(json_reply(StatusCode::CREATED, &v))
        }
        ["evidence", sha] if is(&Method::GET) => {
            let (h, sha) = (hub.clone(), sha.to_string());
            let data = blocking(move || h.get_evidence(member.as_ref(), &sha)).await?;
            let mut r = Response::new(Body::from(data));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            r.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment"),
            );
            r.headers_mut().insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            Ok(r)
        }
        _ => Err(HubError::not_found()),
    }
}

fn method_not_allowed() -> HubError {
    herr(
        405,
        "Method Not Allowed",
        "this resource does not take that method",
    )
}

fn too_large() -> HubError {
    herr(
        413,
        "Payload Too Large",
        "the request body is over max_content_length",
    )
}

fn collection_json(c: &crate::store::Collection, r: bool, w: bool) -> Value {
    let mut o = json!({
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "can_read": r,
        "can_write": w,
        "media_types": [STIX],
    });
    if let Some(a) = &c.alias {
        o["alias"] = json!(a);
    }
    o
}

/// A random RFC 4122 version-4 UUID.
pub fn new_uuid() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness: fall back to the clock, still unique per process and request.
        b[..8].copy_from_slice(&now_us().to_be_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

async fn serve_log(hub: Arc<Hub>, key: String) -> Result<Response, HubError> {
    let ok = !key.is_empty()
        && key.len() <= 256
        && key.split('/').all(|s| {
            !s.is_empty()
                && !s.starts_with('.')
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
        });
    if !ok {
        return Err(HubError::not_found());
    }
    let data = blocking(move || {
        if key == detente_log::CHECKPOINT_KEY {
            return hub.checkpoint().map(Some);
        }
        hub.log_object(&key)
    })
    .await?
    .ok_or_else(HubError::not_found)?;
    let mut r = Response::new(Body::from(data));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    Ok(r)
}
