//! The evidence table on the web: server-rendered HTML pages under `/web/`, served by the
//! same server as TAXII and built only on [`Hub`]'s public operations, so a page shows
//! exactly what a TAXII read by the same member would return.
//!
//! # Pages
//!
//! - `/web/`: the collections the visitor may see;
//! - `/web/login`: sign-in (a member pastes its API token) and `/web/logout`: sign-out;
//! - `/web/c/{collection}`: the collection's objects, [`PAGE`] per page through the hub's
//!   `next` cursor: type, name, TLP, submitter, `date_added`, signature status, log index;
//! - `/web/c/{collection}/o/{id}`: one object (`?version=` picks a version): its
//!   pretty-printed JSON, its provenance and its other versions;
//! - `/web/c/{collection}/o/{id}/verify`: the inclusion proof (the receipt
//!   [`Hub::receipt`] gives: a C2SP tlog-proof against the latest checkpoint), the
//!   checkpoint with its signature lines told apart (log signature, cosignatures), and how
//!   to check it all offline; `.../receipt` and `.../json` download the receipt and the
//!   object for that;
//! - `/web/search`: by type (`match[type]`), label and free text (case-insensitive, over
//!   the canonical JSON), over the objects the visitor may see, scanning at most
//!   [`SEARCH_SCAN`] of them per results page (the page says so and links on);
//! - `/web/status`: hub title, log origin, tree size, the latest checkpoint, how many
//!   collections the visitor sees.
//!
//! # Security
//!
//! - Every value taken from an object, a collection or a member is HTML-escaped
//!   ([`escape`]); objects are hostile input. There is no JavaScript at all, and the
//!   Content-Security-Policy allows none: only the one inline style sheet, by its hash.
//! - A session is 32 random bytes from the OS, sent as the cookie [`COOKIE`] (`HttpOnly`,
//!   `SameSite=Strict`, `Path=/web`); the server keeps only its SHA-256 (so looking one up
//!   compares no secret), the member's token and an expiry ([`SESSION_TTL`]), in memory.
//!   The token is checked again with [`Hub::authenticate`] on every request, so a member
//!   removed or given a new token loses its sessions at once.
//! - Sign-in and sign-out forms are refused when the browser says they come from another
//!   site (`Sec-Fetch-Site`, `Origin`); the sign-in body is capped at [`MAX_FORM`].
//! - Anything hidden answers the same "not found" page as anything missing.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use crate::access::{Member, Tlp};
use crate::entry::sha256;
use crate::store::{Collection, MemberRecord, Version};
use crate::time::format_micros;
use crate::{Credentials, Hub, HubError, ReadKind};

/// Name of the session cookie.
pub const COOKIE: &str = "detente_session";
/// How long a session lasts after sign-in.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// Most sessions kept at once; beyond it the one closest to expiry is dropped.
pub const MAX_SESSIONS: usize = 10_000;
/// Largest sign-in form body accepted, in bytes.
pub const MAX_FORM: usize = 4096;
/// Objects per page of a collection or of search results.
pub const PAGE: usize = 50;
/// Most visible objects one page of search results scans.
pub const SEARCH_SCAN: usize = 5000;
/// Most bytes of canonical JSON one page of search results scans (a few huge objects
/// bound it before [`SEARCH_SCAN`] does).
pub const SEARCH_BYTES: usize = 64 << 20;
/// Objects read from the hub per step of a search.
const SEARCH_BATCH: usize = 500;
/// Longest search term kept (characters).
const MAX_TERM: usize = 256;
/// Longest query string accepted on a page.
const MAX_QUERY: usize = 16 * 1024;
/// Longest token the sign-in form accepts (the hub's are far shorter).
const MAX_TOKEN: usize = 1024;
/// Longest name shown in a table cell (characters).
const MAX_NAME: usize = 200;

const CSS: &str = "\
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#111;background:#f6f7f9}\
header{background:#1d2733;color:#fff;padding:.5em 1em;display:flex;gap:1.2em;align-items:center;flex-wrap:wrap}\
header a{color:#fff}header form{margin:0 0 0 auto}header .who{margin-left:auto}\
main{padding:1em 1.5em;max-width:90em}\
table{border-collapse:collapse;width:100%;background:#fff;margin:.5em 0 1em}\
th,td{border:1px solid #cfd4dc;padding:.3em .5em;text-align:left;vertical-align:top}\
th{background:#e9edf3}td.n{text-align:right;font-variant-numeric:tabular-nums}\
pre{background:#fff;border:1px solid #cfd4dc;padding:.6em;overflow:auto;white-space:pre-wrap;word-break:break-all}\
code,pre,.mono{font-family:ui-monospace,monospace;font-size:13px}\
.tlp{font:bold 12px ui-monospace,monospace;background:#000;padding:.1em .45em;border-radius:3px;white-space:nowrap}\
.tlp-clear{color:#fff}.tlp-green{color:#33ff00}.tlp-amber,.tlp-amber-strict{color:#ffc000}.tlp-red{color:#ff2b2b}\
.signed{color:#0a6a1f;font-weight:bold}.unsigned{color:#777}\
.note{background:#fff8dc;border:1px solid #e4cf7a;padding:.5em .8em}\
.error{background:#fdecee;border:1px solid #d88;padding:.5em .8em}\
.muted{color:#666}.label{background:#e4e9f2;border-radius:3px;padding:0 .35em;margin-right:.3em}\
form.search input,form.search select{margin-right:.6em}\
";

/// Characters kept as they are in a URL path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// HTML-escapes text for element content and quoted attribute values: `&`, `<`, `>`, `"`
/// and `'` become character references.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A URL path segment, percent-encoded.
fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// A query string from pairs (empty values left out), with its `?`, or nothing.
fn qs(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in pairs {
        if !v.is_empty() {
            s.append_pair(k, v);
            any = true;
        }
    }
    if any {
        format!("?{}", s.finish())
    } else {
        String::new()
    }
}

/// One TAXII query parameter, encoded, with a leading `&`.
fn tq(k: &str, v: &str) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    s.append_pair(k, v);
    format!("&{}", s.finish())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn clip(s: &str, n: usize) -> String {
    let mut it = s.chars();
    let head: String = it.by_ref().take(n).collect();
    if it.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

fn tlp_badge(t: Tlp) -> String {
    let class = t.name().replace('+', "-");
    format!(
        "<span class=\"tlp tlp-{class}\" data-tlp=\"{}\">TLP:{}</span>",
        t.name(),
        t.name().to_ascii_uppercase()
    )
}

fn sig_badge(v: &Version) -> &'static str {
    if v.signature.is_some() {
        "<span class=\"signed\">signed</span>"
    } else {
        "<span class=\"unsigned\">unsigned</span>"
    }
}

/// The object of a version, parsed (`Null` if its stored bytes somehow aren't JSON).
fn object_of(v: &Version) -> Value {
    serde_json::from_slice(&v.body).unwrap_or(Value::Null)
}

/// What a row calls an object: its `name`, else its `value` (observables), else its id.
fn display_name(v: &Version, obj: &Value) -> String {
    ["name", "value"]
        .iter()
        .find_map(|k| obj.get(*k).and_then(Value::as_str))
        .filter(|s| !s.trim().is_empty())
        .map_or_else(|| v.id.clone(), str::to_string)
}

fn object_url(v: &Version, tail: &str) -> String {
    format!(
        "/web/c/{}/o/{}{tail}{}",
        seg(&v.collection),
        seg(&v.id),
        qs(&[("version", &v.version)])
    )
}

/// Query parameters of a page: the first value of each name.
fn params(raw: &str) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        m.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    m
}

fn http_error(status: u16, title: &str, description: &str) -> HubError {
    HubError {
        status,
        title: title.into(),
        description: description.into(),
    }
}

struct Session {
    token: String,
    expires: Instant,
}

/// Why a sign-in form could not be read.
enum FormError {
    TooLarge,
    NotAForm,
}

struct Web {
    hub: Arc<Hub>,
    /// Sessions by the SHA-256 of their id.
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    csp: HeaderValue,
}

/// The web view's routes: `/web` and everything below it. The router carries its own
/// state (the hub and the sessions), so it merges into a router of any state type.
pub fn router<S: Clone + Send + Sync + 'static>(hub: Arc<Hub>) -> Router<S> {
    let style_hash = STANDARD.encode(sha256(CSS.as_bytes()));
    let csp = format!(
        "default-src 'none'; style-src 'sha256-{style_hash}'; img-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    if hub.info().api_root == "web" {
        // Its routes would be TAXII's: the API root wins, the web view is left out.
        eprintln!("detente hub: the API root is named \"web\": the web view is not served");
        return Router::new();
    }
    let web = Arc::new(Web {
        hub,
        sessions: Mutex::new(HashMap::new()),
        csp: HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static("default-src 'none'")),
    });
    Router::new()
        .route("/web", any(handle))
        .route("/web/", any(handle))
        .route("/web/{*rest}", any(handle))
        .with_state(web)
}

async fn handle(State(web): State<Arc<Web>>, req: Request) -> Response {
    let mut r = route(web.clone(), req).await;
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, web.csp.clone());
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    r
}

async fn route(web: Arc<Web>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    if path == "/web" {
        return redirect("/web/");
    }
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .skip(1)
        .map(|s| {
            percent_encoding::percent_decode(s.as_bytes())
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let query = parts.uri.query().unwrap_or("").to_string();
    let method = parts.method;
    let headers = parts.headers;
    let form = if method == Method::POST && segs.len() == 1 && segs[0] == "login" {
        Some(read_form(&headers, body).await)
    } else {
        None
    };
    let w = web.clone();
    tokio::task::spawn_blocking(move || w.dispatch(&method, &segs, &query, &headers, form))
        .await
        .unwrap_or_else(|e| {
            eprintln!("detente hub: web task failed: {e}");
            let mut r = Response::new(Body::from("internal error"));
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
}

async fn read_form(headers: &HeaderMap, body: Body) -> Result<Vec<(String, String)>, FormError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(FormError::NotAForm);
    }
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_FORM as u64)
    {
        return Err(FormError::TooLarge);
    }
    let bytes = to_bytes(body, MAX_FORM)
        .await
        .map_err(|_| FormError::TooLarge)?;
    Ok(form_urlencoded::parse(&bytes).into_owned().collect())
}

fn redirect(to: &'static str) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::SEE_OTHER;
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    r
}

fn html(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn download(content_type: &'static str, name: &str, data: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(data));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// Whether a form post comes from this site, as far as the browser tells. `Sec-Fetch-Site`
/// (set by the browser only) decides when present: `same-origin`, or `none` (typed by the
/// user). Without it, an `Origin` must name the `Host` (`null` is refused). A request with
/// neither is not from a browser that could be made to post across sites.
fn same_origin(h: &HeaderMap) -> bool {
    if let Some(s) = h.get("sec-fetch-site") {
        let s = s.to_str().unwrap_or("");
        return s == "same-origin" || s == "none";
    }
    if let Some(o) = h.get(header::ORIGIN) {
        let o = o.to_str().unwrap_or("");
        let host = h
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let rest = o
            .strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"));
        return rest.is_some_and(|r| !host.is_empty() && r.eq_ignore_ascii_case(host));
    }
    true
}

/// The session key (the SHA-256 of the id) the request's cookie names, if any.
fn session_key(h: &HeaderMap) -> Option<[u8; 32]> {
    for v in h.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for part in v.split(';') {
            if let Some((k, val)) = part.trim().split_once('=') {
                if k == COOKIE {
                    return unhex32(val.trim()).map(|id| sha256(&id));
                }
            }
        }
    }
    None
}

fn secure_suffix(h: &HeaderMap) -> &'static str {
    let https = h
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    if https {
        "; Secure"
    } else {
        ""
    }
}

/// Who is asking: the signed-in member (if any) and its session key.
struct Visitor {
    who: Option<MemberRecord>,
    key: Option<[u8; 32]>,
}

impl Visitor {
    fn member(&self) -> Option<&Member> {
        self.who.as_ref().map(|w| &w.member)
    }
}

impl Web {
    fn sessions(&self) -> MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new session for `token`; returns the cookie value (the id in hex).
    fn new_session(&self, token: String) -> Option<String> {
        let mut id = [0u8; 32];
        getrandom::fill(&mut id).ok()?;
        let now = Instant::now();
        let mut m = self.sessions();
        m.retain(|_, s| s.expires > now);
        while m.len() >= MAX_SESSIONS {
            let oldest = m.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| *k)?;
            m.remove(&oldest);
        }
        m.insert(
            sha256(&id),
            Session {
                token,
                expires: now + SESSION_TTL,
            },
        );
        Some(hex(&id))
    }

    fn end_session(&self, key: &[u8; 32]) {
        self.sessions().remove(key);
    }

    fn visitor(&self, h: &HeaderMap) -> Result<Visitor, HubError> {
        let none = Visitor {
            who: None,
            key: None,
        };
        let Some(key) = session_key(h) else {
            return Ok(none);
        };
        let token = {
            let mut m = self.sessions();
            match m.get(&key) {
                Some(s) if s.expires > Instant::now() => s.token.clone(),
                Some(_) => {
                    m.remove(&key);
                    return Ok(none);
                }
                None => return Ok(none),
            }
        };
        match self.hub.authenticate(&Credentials { user: None, token }) {
            Ok(m) => Ok(Visitor {
                who: Some(m),
                key: Some(key),
            }),
            Err(e) if e.status == 401 => {
                // The member was removed or given a new token: the session ends.
                self.end_session(&key);
                Ok(none)
            }
            Err(e) => Err(e),
        }
    }

    fn dispatch(
        &self,
        method: &Method,
        segs: &[String],
        query: &str,
        headers: &HeaderMap,
        form: Option<Result<Vec<(String, String)>, FormError>>,
    ) -> Response {
        let v = match self.visitor(headers) {
            Ok(v) => v,
            Err(e) => {
                let anon = Visitor {
                    who: None,
                    key: None,
                };
                return self.error_page(&anon, &e);
            }
        };
        if query.len() > MAX_QUERY {
            let e = http_error(400, "Bad Request", "the query string is too long");
            return self.error_page(&v, &e);
        }
        let p = params(query);
        let get = *method == Method::GET || *method == Method::HEAD;
        let post = *method == Method::POST;
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        let res = match s.as_slice() {
            [] if get => self.home(&v),
            ["login"] if get => Ok(self.login_page(&v, None, StatusCode::OK)),
            ["login"] if post => Ok(self.login(&v, headers, form)),
            ["logout"] if post => Ok(self.logout(&v, headers)),
            ["status"] if get => self.status(&v),
            ["search"] if get => self.search(&v, &p),
            ["c", cid] if get => self.collection_page(&v, cid, &p),
            ["c", cid, "o", oid] if get => self.object_page(&v, cid, oid, &p),
            ["c", cid, "o", oid, "verify"] if get => self.verify_page(&v, cid, oid, &p),
            ["c", cid, "o", oid, "receipt"] if get => self.receipt_file(&v, cid, oid, &p),
            ["c", cid, "o", oid, "json"] if get => self.json_file(&v, cid, oid, &p),
            []
            | ["login" | "logout" | "status" | "search"]
            | ["c", _]
            | ["c", _, "o", _]
            | ["c", _, "o", _, "verify" | "receipt" | "json"] => Err(http_error(
                405,
                "Method Not Allowed",
                "this page does not take that method",
            )),
            _ => Err(HubError::not_found()),
        };
        res.unwrap_or_else(|e| self.error_page(&v, &e))
    }

    /// A whole page around `body`.
    fn layout(&self, v: &Visitor, title: &str, body: &str) -> String {
        let hub_title = escape(&self.hub.info().title);
        let who = match &v.who {
            Some(w) => format!(
                "<span class=\"who\" id=\"who\" data-member=\"{n}\">Signed in as <b>{n}</b> \
                 <span class=\"muted\">({o})</span></span>\
                 <form method=\"post\" action=\"/web/logout\"><button type=\"submit\" \
                 id=\"signout\">Sign out</button></form>",
                n = escape(&w.member.name),
                o = escape(&w.member.org)
            ),
            None => "<span class=\"who\" id=\"who\" data-member=\"\">Not signed in \
                     (anonymous) · <a href=\"/web/login\" id=\"signin\">Sign in</a></span>"
                .to_string(),
        };
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta name=\"referrer\" content=\"same-origin\">\
             <title>{t} · {hub_title}</title><style>{CSS}</style></head><body>\
             <header><strong><a href=\"/web/\">{hub_title}</a></strong>\
             <a href=\"/web/\">Collections</a><a href=\"/web/search\">Search</a>\
             <a href=\"/web/status\">Status</a>{who}</header>\n<main>\n{body}\n</main></body></html>\n",
            t = escape(title),
        )
    }

    fn page(&self, v: &Visitor, status: StatusCode, title: &str, body: &str) -> Response {
        html(status, self.layout(v, title, body))
    }

    fn error_page(&self, v: &Visitor, e: &HubError) -> Response {
        match e.status {
            // Missing, hidden, or not readable without signing in: one page for all.
            401 | 404 => {
                let mut body = String::from(
                    "<h1>Not found</h1><p id=\"notfound\">There is no such page or object, \
                     or it is not visible to you.</p>",
                );
                if v.who.is_none() {
                    body.push_str(
                        "<p>Signed-out visitors see only collections anyone may read and \
                         TLP:CLEAR objects. <a href=\"/web/login\">Sign in</a> to see more.</p>",
                    );
                }
                self.page(v, StatusCode::NOT_FOUND, "Not found", &body)
            }
            s => {
                let status = StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let status = if status.is_client_error() || status.is_server_error() {
                    status
                } else {
                    StatusCode::INTERNAL_SERVER_ERROR
                };
                let body = format!(
                    "<h1>{}</h1><p class=\"error\">{}</p><p><a href=\"/web/\">Back to the \
                     collections</a></p>",
                    escape(&e.title),
                    escape(&e.description)
                );
                self.page(v, status, &e.title, &body)
            }
        }
    }

    // ----- sign-in -----

    fn login_page(&self, v: &Visitor, error: Option<&str>, status: StatusCode) -> Response {
        let mut body = String::from("<h1>Sign in</h1>");
        if let Some(w) = &v.who {
            let _ = write!(
                body,
                "<p>You are signed in as <b>{}</b> ({}). Signing in again replaces this \
                 session.</p>",
                escape(&w.member.name),
                escape(&w.member.org)
            );
        }
        if let Some(e) = error {
            let _ = write!(
                body,
                "<p class=\"error\" id=\"loginerror\">{}</p>",
                escape(e)
            );
        }
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/web/login\" id=\"login\">\
             <p><label for=\"token\">API token</label><br>\
             <input type=\"password\" name=\"token\" id=\"token\" size=\"60\" \
             autocomplete=\"off\" spellcheck=\"false\" required maxlength=\"1024\"></p>\
             <p><button type=\"submit\" id=\"submit\">Sign in</button></p></form>\
             <p class=\"muted\">Paste the token <code>detente intel member-add</code> printed \
             for you. It is checked by the hub and kept only in this server's memory, for \
             {} hours at most; the browser gets a random session cookie.</p>",
            SESSION_TTL.as_secs() / 3600
        );
        self.page(v, status, "Sign in", &body)
    }

    fn login(
        &self,
        v: &Visitor,
        headers: &HeaderMap,
        form: Option<Result<Vec<(String, String)>, FormError>>,
    ) -> Response {
        if !same_origin(headers) {
            return self.error_page(
                v,
                &http_error(
                    403,
                    "Forbidden",
                    "sign-in forms posted from another site are refused",
                ),
            );
        }
        let fields = match form {
            Some(Ok(f)) => f,
            Some(Err(FormError::TooLarge)) => {
                return self.login_page(
                    v,
                    Some("the form is too large"),
                    StatusCode::PAYLOAD_TOO_LARGE,
                )
            }
            Some(Err(FormError::NotAForm)) | None => {
                return self.login_page(v, Some("post the sign-in form"), StatusCode::BAD_REQUEST)
            }
        };
        let token = fields
            .iter()
            .find(|(k, _)| k == "token")
            .map(|(_, t)| t.trim().to_string())
            .unwrap_or_default();
        if token.is_empty() {
            return self.login_page(v, Some("paste your API token"), StatusCode::BAD_REQUEST);
        }
        if token.len() > MAX_TOKEN {
            return self.login_page(
                v,
                Some("that token is not valid on this hub"),
                StatusCode::UNAUTHORIZED,
            );
        }
        match self.hub.authenticate(&Credentials {
            user: None,
            token: token.clone(),
        }) {
            Ok(_) => {}
            Err(e) if e.status == 401 => {
                return self.login_page(
                    v,
                    Some("that token is not valid on this hub"),
                    StatusCode::UNAUTHORIZED,
                )
            }
            Err(e) => return self.error_page(v, &e),
        }
        if let Some(k) = &v.key {
            self.end_session(k);
        }
        let Some(id) = self.new_session(token) else {
            return self.error_page(
                v,
                &http_error(500, "Internal Error", "no randomness for a session id"),
            );
        };
        let mut r = redirect("/web/");
        let cookie = format!(
            "{COOKIE}={id}; Path=/web; HttpOnly; SameSite=Strict; Max-Age={}{}",
            SESSION_TTL.as_secs(),
            secure_suffix(headers)
        );
        if let Ok(c) = HeaderValue::from_str(&cookie) {
            r.headers_mut().insert(header::SET_COOKIE, c);
        }
        r
    }

    fn logout(&self, v: &Visitor, headers: &HeaderMap) -> Response {
        if !same_origin(headers) {
            return self.error_page(
                v,
                &http_error(
                    403,
                    "Forbidden",
                    "sign-out forms posted from another site are refused",
                ),
            );
        }
        if let Some(k) = &v.key {
            self.end_session(k);
        }
        let mut r = redirect("/web/");
        let cookie = format!(
            "{COOKIE}=; Path=/web; HttpOnly; SameSite=Strict; Max-Age=0{}",
            secure_suffix(headers)
        );
        if let Ok(c) = HeaderValue::from_str(&cookie) {
            r.headers_mut().insert(header::SET_COOKIE, c);
        }
        r
    }

    // ----- pages -----

    fn anon_note(v: &Visitor) -> &'static str {
        if v.who.is_none() {
            "<p class=\"note\" id=\"anon\">You are not signed in: you see only collections \
             anyone may read, and in them only TLP:CLEAR objects. \
             <a href=\"/web/login\">Sign in</a> with your member token to see what your \
             membership allows.</p>"
        } else {
            ""
        }
    }

    fn home(&self, v: &Visitor) -> Result<Response, HubError> {
        let list = self.hub.collections(v.member())?;
        let mut body = String::from("<h1>Collections</h1>");
        body.push_str(Self::anon_note(v));
        if list.is_empty() {
            body.push_str("<p id=\"nocollections\">No collection is visible to you.</p>");
        } else {
            body.push_str(
                "<table id=\"collections\"><thead><tr><th>Title</th><th>Description</th>\
                 <th>Id</th><th>Alias</th><th>Untagged objects</th><th>You may</th></tr>\
                 </thead><tbody>",
            );
            for (c, r, w) in &list {
                let title = if *r {
                    format!(
                        "<a href=\"/web/c/{}\">{}</a>",
                        escape(&seg(&c.id)),
                        escape(&c.title)
                    )
                } else {
                    escape(&c.title)
                };
                let may = match (r, w) {
                    (true, true) => "read, write",
                    (true, false) => "read",
                    (false, true) => "write",
                    (false, false) => "",
                };
                let _ = write!(
                    body,
                    "<tr class=\"collection\" data-id=\"{}\"><td>{title}</td><td>{}</td>\
                     <td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{may}</td></tr>",
                    escape(&c.id),
                    escape(&clip(&c.description, 500)),
                    escape(&c.id),
                    escape(c.alias.as_deref().unwrap_or("")),
                    tlp_badge(c.default_tlp),
                );
            }
            body.push_str("</tbody></table>");
        }
        Ok(self.page(v, StatusCode::OK, "Collections", &body))
    }

    /// A collection `v` may read; 403 when it may only write to it.
    fn readable(&self, v: &Visitor, cid: &str) -> Result<Collection, HubError> {
        let (c, r, _) = self.hub.collection(v.member(), cid)?;
        if !r {
            return Err(http_error(
                403,
                "Forbidden",
                "you may write to this collection but not read it",
            ));
        }
        Ok(c)
    }

    fn search_form(&self, v: &Visitor, p: &HashMap<String, String>, only: Option<&str>) -> String {
        let get = |k: &str| p.get(k).map(|s| clip(s, MAX_TERM)).unwrap_or_default();
        let mut options = String::from("<option value=\"\">all collections</option>");
        if let Ok(list) = self.hub.collections(v.member()) {
            let chosen = only.map(str::to_string).unwrap_or_else(|| get("c"));
            for (c, _, _) in list.iter().filter(|(_, r, _)| *r) {
                let sel = if c.id == chosen { " selected" } else { "" };
                let _ = write!(
                    options,
                    "<option value=\"{}\"{sel}>{}</option>",
                    escape(&c.id),
                    escape(&clip(&c.title, 80))
                );
            }
        }
        format!(
            "<form method=\"get\" action=\"/web/search\" class=\"search\" id=\"searchform\">\
             <label>Type <input name=\"type\" value=\"{}\" size=\"16\" \
             placeholder=\"indicator\"></label>\
             <label>Label <input name=\"label\" value=\"{}\" size=\"16\"></label>\
             <label>Text <input name=\"q\" value=\"{}\" size=\"24\"></label>\
             <label>In <select name=\"c\">{options}</select></label>\
             <button type=\"submit\">Search</button></form>",
            escape(&get("type")),
            escape(&get("label")),
            escape(&get("q")),
        )
    }

    fn collection_page(
        &self,
        v: &Visitor,
        cid: &str,
        p: &HashMap<String, String>,
    ) -> Result<Response, HubError> {
        let c = self.readable(v, cid)?;
        let mut q = format!("limit={PAGE}");
        let next = p.get("next").filter(|n| !n.is_empty());
        if let Some(n) = next {
            q.push_str(&tq("next", n));
        }
        let page = self.hub.read(v.member(), &c.id, &ReadKind::Objects, &q)?;
        let mut body = format!("<h1>{}</h1>", escape(&c.title));
        body.push_str(Self::anon_note(v));
        if !c.description.is_empty() {
            let _ = write!(body, "<p>{}</p>", escape(&c.description));
        }
        let _ = write!(
            body,
            "<p class=\"muted\">Collection <code>{}</code>{} · objects without a TLP marking \
             are {} · the latest version of each object you may see, {PAGE} per page.</p>",
            escape(&c.id),
            c.alias
                .as_ref()
                .map(|a| format!(" (alias <code>{}</code>)", escape(a)))
                .unwrap_or_default(),
            tlp_badge(c.default_tlp),
        );
        body.push_str(&self.search_form(v, p, Some(&c.id)));
        let rows: Vec<(&Collection, &Version)> = page.versions.iter().map(|x| (&c, x)).collect();
        object_table(&mut body, &rows, false);
        body.push_str("<p class=\"pager\">");
        if next.is_some() {
            let _ = write!(
                body,
                "<a href=\"/web/c/{}\" id=\"first\">First page</a> ",
                escape(&seg(&c.id))
            );
        }
        if let (true, Some(n)) = (page.more, &page.next) {
            let _ = write!(
                body,
                "<a href=\"/web/c/{}{}\" id=\"next\">Next {PAGE} →</a>",
                escape(&seg(&c.id)),
                escape(&qs(&[("next", n)]))
            );
        }
        body.push_str("</p>");
        Ok(self.page(v, StatusCode::OK, &c.title, &body))
    }

    /// The versions of object `oid` that `v` may see, and the one `?version=` picks (the
    /// latest by default). 404 when there is none.
    fn pick(
        &self,
        v: &Visitor,
        cid: &str,
        oid: &str,
        p: &HashMap<String, String>,
    ) -> Result<(Collection, Vec<Version>, bool, Version), HubError> {
        let c = self.readable(v, cid)?;
        let page = self.hub.read(
            v.member(),
            &c.id,
            &ReadKind::Versions(oid.to_string()),
            "match[version]=all&limit=1000",
        )?;
        let chosen = match p.get("version").filter(|s| !s.is_empty()) {
            Some(want) => page.versions.iter().find(|x| x.version == *want),
            None => page
                .versions
                .iter()
                .max_by(|a, b| a.version_key.cmp(&b.version_key).then(a.seq.cmp(&b.seq))),
        }
        .cloned()
        .ok_or_else(HubError::not_found)?;
        Ok((c, page.versions, page.more, chosen))
    }

    fn object_page(
        &self,
        v: &Visitor,
        cid: &str,
        oid: &str,
        p: &HashMap<String, String>,
    ) -> Result<Response, HubError> {
        let (c, versions, more, ver) = self.pick(v, cid, oid, p)?;
        let which = tq("match[version]", &ver.version);
        let prov = self
            .hub
            .provenance(v.member(), &c.id, oid, which.trim_start_matches('&'))?;
        let obj = object_of(&ver);
        let name = display_name(&ver, &obj);
        let mut body = format!(
            "<h1 id=\"objname\">{}</h1><p class=\"muted\">in <a href=\"/web/c/{}\">{}</a></p>",
            escape(&clip(&name, 500)),
            escape(&seg(&c.id)),
            escape(&c.title)
        );
        let _ = write!(
            body,
            "<table id=\"summary\"><tbody>\
             <tr><th>Id</th><td class=\"mono\" id=\"objid\">{}</td></tr>\
             <tr><th>Type</th><td>{}</td></tr>\
             <tr><th>Version</th><td class=\"mono\">{}</td></tr>\
             <tr><th>TLP</th><td>{}</td></tr>",
            escape(&ver.id),
            escape(&ver.typ),
            escape(&ver.version),
            tlp_badge(ver.level),
        );
        if let Some(d) = obj.get("description").and_then(Value::as_str) {
            let _ = write!(
                body,
                "<tr><th>Description</th><td id=\"description\">{}</td></tr>",
                escape(&clip(d, 4000))
            );
        }
        if let Some(ls) = obj.get("labels").and_then(Value::as_array) {
            body.push_str("<tr><th>Labels</th><td id=\"labels\">");
            for l in ls.iter().filter_map(Value::as_str).take(100) {
                let _ = write!(
                    body,
                    "<span class=\"label\">{}</span>",
                    escape(&clip(l, 200))
                );
            }
            body.push_str("</td></tr>");
        }
        body.push_str("</tbody></table>");

        body.push_str("<h2>Provenance</h2>");
        let item = prov
            .get("provenance")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .cloned()
            .unwrap_or(Value::Null);
        body.push_str("<table id=\"provenance\"><tbody>");
        let s = |k: &str| -> String {
            match item.get(k) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(x) => x.to_string(),
            }
        };
        let _ = write!(
            body,
            "<tr><th>Submitted by</th><td>{} <span class=\"muted\">({})</span></td></tr>\
             <tr><th>date_added</th><td class=\"mono\">{}</td></tr>\
             <tr><th>Canonical SHA-256</th><td class=\"mono\">{}</td></tr>\
             <tr><th>Log index</th><td class=\"mono\" id=\"logindex\">{}</td></tr>\
             <tr><th>Signature</th><td>{}</td></tr>",
            escape(&s("member")),
            escape(&s("org")),
            escape(&s("date_added")),
            escape(&s("sha256")),
            escape(&s("log_index")),
            sig_badge(&ver),
        );
        if item.get("key").is_some() {
            let _ = write!(
                body,
                "<tr><th>Submitter key</th><td class=\"mono\">{}</td></tr>",
                escape(&s("key"))
            );
        }
        if item.get("signature").is_some() {
            let _ = write!(
                body,
                "<tr><th>Ed25519 signature</th><td class=\"mono\">{}</td></tr>",
                escape(&s("signature"))
            );
        }
        if let Some(o) = item.get("origin") {
            let _ = write!(
                body,
                "<tr><th>Synced from</th><td>log <code>{}</code>, index {}</td></tr>",
                escape(o.get("log").and_then(Value::as_str).unwrap_or("")),
                escape(&o.get("index").map(Value::to_string).unwrap_or_default()),
            );
        }
        let _ = write!(
            body,
            "<tr><th>Receipt</th><td><a href=\"{}\" id=\"verifylink\">inclusion proof and \
             checkpoint</a> · <a href=\"{}\">download receipt</a></td></tr></tbody></table>",
            escape(&object_url(&ver, "/verify")),
            escape(&object_url(&ver, "/receipt")),
        );

        if versions.len() > 1 || more {
            body.push_str(
                "<h2>Versions you may see</h2><table id=\"versions\"><thead><tr><th>Version</th>\
                 <th>TLP</th><th>Submitted by</th><th>date_added</th><th>Signature</th>\
                 <th>Log index</th></tr></thead><tbody>",
            );
            for x in &versions {
                let mark = if x.seq == ver.seq { " (shown)" } else { "" };
                let _ = write!(
                    body,
                    "<tr><td><a href=\"{}\">{}</a>{mark}</td><td>{}</td><td>{} ({})</td>\
                     <td class=\"mono\">{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
                    escape(&object_url(x, "")),
                    escape(&x.version),
                    tlp_badge(x.level),
                    escape(&x.member),
                    escape(&x.org),
                    format_micros(x.seq),
                    sig_badge(x),
                    x.log_index
                );
            }
            body.push_str("</tbody></table>");
            if more {
                body.push_str("<p class=\"note\">Only the first 1,000 versions are listed.</p>");
            }
        }

        let pretty = serde_json::to_string_pretty(&obj)
            .unwrap_or_else(|_| String::from_utf8_lossy(&ver.body).into_owned());
        let _ = write!(
            body,
            "<h2>Object</h2><p><a href=\"{}\">download JSON</a> (canonical form)</p>\
             <pre id=\"json\">{}</pre>",
            escape(&object_url(&ver, "/json")),
            escape(&pretty)
        );
        Ok(self.page(v, StatusCode::OK, &clip(&name, 100), &body))
    }

    fn verify_page(
        &self,
        v: &Visitor,
        cid: &str,
        oid: &str,
        p: &HashMap<String, String>,
    ) -> Result<Response, HubError> {
        let (c, _, _, ver) = self.pick(v, cid, oid, p)?;
        let receipt = self.hub.receipt(&ver)?;
        let proof = detente_policy::TlogProof::parse(receipt.as_bytes()).map_err(|e| {
            eprintln!("detente hub: web: a receipt does not parse: {e}");
            http_error(
                500,
                "Internal Error",
                "the hub could not complete the request",
            )
        })?;
        let obj = object_of(&ver);
        let name = display_name(&ver, &obj);
        let cp = &proof.checkpoint;
        let mut body = format!(
            "<h1>Inclusion proof</h1><p>For <a href=\"{}\">{}</a> (<code>{}</code>, version \
             <code>{}</code>) in <a href=\"/web/c/{}\">{}</a>: entry <b id=\"proofindex\">{}</b> \
             of the log <code>{}</code>, proven against the tree of size <b>{}</b> with {} \
             hashes.</p>",
            escape(&object_url(&ver, "")),
            escape(&clip(&name, 200)),
            escape(&ver.id),
            escape(&ver.version),
            escape(&seg(&c.id)),
            escape(&c.title),
            proof.index,
            escape(cp.checkpoint.origin()),
            cp.checkpoint.size(),
            proof.proof.len(),
        );
        if let Some(extra) = &proof.extra {
            let _ = write!(
                body,
                "<h2>The log entry</h2><p class=\"muted\">What the log holds for this \
                 object: its canonical SHA-256, who submitted it, their key and signature, and \
                 when. No id and no content: the log is public.</p><pre id=\"entry\">{}</pre>",
                escape(&String::from_utf8_lossy(extra))
            );
        }
        let _ = write!(
            body,
            "<h2>Receipt</h2><p class=\"muted\">A <a href=\"https://c2sp.org/tlog-proof\">C2SP \
             tlog-proof</a> carrying the entry: the entry's index, the Merkle inclusion proof \
             and the checkpoint it leads to. <a href=\"{}\" id=\"receiptlink\">Download</a>.</p>\
             <pre id=\"receipt\">{}</pre>",
            escape(&object_url(&ver, "/receipt")),
            escape(&receipt)
        );
        body.push_str(
            "<h2>The checkpoint</h2><p class=\"muted\">The latest checkpoint, which the receipt \
             proves inclusion in: the log's signed statement of its size and root hash, with \
             the cosignatures of the witnesses that checked it is consistent with everything \
             they saw before.</p>\
             <table id=\"checkpoint\"><thead><tr><th>Line</th><th>What it is</th></tr></thead>\
             <tbody>",
        );
        let text = cp.note.text();
        for (i, line) in text.lines().enumerate() {
            let what = match i {
                0 => "origin: the log's name",
                1 => "tree size",
                2 => "root hash",
                _ => "extension line",
            };
            let _ = write!(
                body,
                "<tr class=\"body\"><td class=\"mono\">{}</td><td>{what}</td></tr>",
                escape(line)
            );
        }
        let mut cosigs = 0;
        for sig in cp.note.signatures() {
            let len = sig.bytes().len();
            let (class, what) = if len == 64 && sig.name() == cp.checkpoint.origin() {
                ("logsig", "the log's signature (Ed25519)".to_string())
            } else if len == 72 || len == 8 + detente_note::MLDSA44_SIGNATURE_SIZE {
                cosigs += 1;
                let alg = if len == 72 {
                    "cosignature/v1, Ed25519"
                } else {
                    "subtree/v1, ML-DSA-44"
                };
                let when = detente_note::cosignature_timestamp(sig)
                    .and_then(|t| i64::try_from(t).ok())
                    .and_then(|t| t.checked_mul(1_000_000))
                    .map(|us| format!(", at {}", format_micros(us)))
                    .unwrap_or_default();
                (
                    "cosig",
                    format!(
                        "cosignature by witness <b>{}</b> ({alg}{when})",
                        escape(sig.name())
                    ),
                )
            } else {
                ("othersig", "a signature by another key".to_string())
            };
            let line = sig.to_line();
            let _ = write!(
                body,
                "<tr class=\"{class}\"><td class=\"mono\">{}</td><td>{what}</td></tr>",
                escape(&clip(&line, 400))
            );
        }
        body.push_str("</tbody></table>");
        if cosigs == 0 {
            body.push_str(
                "<p class=\"note\" id=\"nocosig\">This checkpoint carries no witness \
                 cosignature yet; a policy that demands witnesses will not accept the receipt \
                 until the operator has the checkpoint cosigned (<code>detente log \
                 cosign</code>) and you fetch the receipt again.</p>",
            );
        }
        let _ = write!(
            body,
            "<pre id=\"checkpointtext\">{}</pre>",
            escape(&String::from_utf8_lossy(&cp.to_bytes()))
        );
        let _ = write!(
            body,
            "<h2>Check it offline</h2><div class=\"note\" id=\"offline\"><p>Nothing on this \
             page needs to be trusted. Save the <a href=\"{r}\">receipt</a> as \
             <code>RECEIPT</code> and the <a href=\"{j}\">object</a> as <code>OBJ.json</code>, \
             take the hub's tlog-policy <code>P</code> from its operator out of band (its \
             <code>log</code> line with the log's verifier key, the witnesses' keys and the \
             quorum you require), and run</p>\
             <pre>detente intel verify RECEIPT --policy P --object OBJ.json</pre>\
             <p>It checks the inclusion proof up to the checkpoint, the log's signature and \
             the cosignatures the policy demands, that the object's RFC 8785 SHA-256 is the \
             one in the entry, and that the submitter's signature verifies over it.</p></div>",
            r = escape(&object_url(&ver, "/receipt")),
            j = escape(&object_url(&ver, "/json")),
        );
        Ok(self.page(v, StatusCode::OK, "Inclusion proof", &body))
    }

    fn receipt_file(
        &self,
        v: &Visitor,
        cid: &str,
        oid: &str,
        p: &HashMap<String, String>,
    ) -> Result<Response, HubError> {
        let (_, _, _, ver) = self.pick(v, cid, oid, p)?;
        let receipt = self.hub.receipt(&ver)?;
        Ok(download(
            "text/plain; charset=utf-8",
            &format!("{}@{}.tlog-proof", ver.id, ver.version),
            receipt.into_bytes(),
        ))
    }

    fn json_file(
        &self,
        v: &Visitor,
        cid: &str,
        oid: &str,
        p: &HashMap<String, String>,
    ) -> Result<Response, HubError> {
        let (_, _, _, ver) = self.pick(v, cid, oid, p)?;
        Ok(download(
            "application/json",
            &format!("{}@{}.json", ver.id, ver.version),
            ver.body,
        ))
    }

    fn search(&self, v: &Visitor, p: &HashMap<String, String>) -> Result<Response, HubError> {
        let term = |k: &str| {
            p.get(k)
                .map(|s| clip(s.trim(), MAX_TERM).trim_end_matches('…').to_string())
                .unwrap_or_default()
        };
        let (types, label, text, only) = (term("type"), term("label"), term("q"), term("c"));
        let mut body = String::from("<h1>Search</h1>");
        body.push_str(Self::anon_note(v));
        body.push_str(&self.search_form(v, p, None));
        let filtered = !(types.is_empty() && label.is_empty() && text.is_empty());
        if !filtered {
            body.push_str(
                "<p class=\"muted\">Search the objects you may see by STIX type (e.g. \
                 <code>indicator</code>; several separated by commas), by label (exact, any \
                 case) and by text (any case, anywhere in the object's JSON).</p>",
            );
            return Ok(self.page(v, StatusCode::OK, "Search", &body));
        }
        let all = self.hub.collections(v.member())?;
        let colls: Vec<Collection> = if only.is_empty() {
            all.into_iter()
                .filter(|(_, r, _)| *r)
                .map(|(c, _, _)| c)
                .collect()
        } else {
            vec![self.readable(v, &only)?]
        };
        let titles: HashMap<&str, &Collection> = colls.iter().map(|c| (c.id.as_str(), c)).collect();
        let label_lc = label.to_lowercase();
        let text_lc = text.to_lowercase();
        let matches = |x: &Version| -> bool {
            if !text_lc.is_empty()
                && !String::from_utf8_lossy(&x.body)
                    .to_lowercase()
                    .contains(&text_lc)
            {
                return false;
            }
            if !label_lc.is_empty() {
                let obj = object_of(x);
                let has = obj
                    .get("labels")
                    .and_then(Value::as_array)
                    .is_some_and(|ls| {
                        ls.iter()
                            .filter_map(Value::as_str)
                            .any(|l| l.to_lowercase() == label_lc)
                    });
                if !has {
                    return false;
                }
            }
            true
        };

        // Where this results page starts: collection index, hub cursor, skip within it.
        let mut ci: usize = p.get("ci").and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut cursor: Option<String> = p.get("next").filter(|s| !s.is_empty()).cloned();
        let mut skip: usize = p
            .get("skip")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
            .min(SEARCH_BATCH);
        let resumed = ci > 0 || cursor.is_some() || skip > 0;
        let mut scanned = 0usize;
        let mut bytes = 0usize;
        let mut found: Vec<Version> = Vec::new();
        let mut cont: Option<(usize, Option<String>, usize)> = None;
        'colls: while ci < colls.len() {
            let mut q = format!("limit={SEARCH_BATCH}");
            if !types.is_empty() {
                q.push_str(&tq("match[type]", &types));
            }
            if let Some(n) = &cursor {
                q.push_str(&tq("next", n));
            }
            let page = self
                .hub
                .read(v.member(), &colls[ci].id, &ReadKind::Objects, &q)?;
            let n = page.versions.len();
            for (i, x) in page.versions.iter().enumerate().skip(skip) {
                scanned += 1;
                bytes = bytes.saturating_add(x.body.len());
                if matches(x) {
                    found.push(x.clone());
                }
                if found.len() >= PAGE || scanned >= SEARCH_SCAN || bytes >= SEARCH_BYTES {
                    cont = if i + 1 < n {
                        Some((ci, cursor.clone(), i + 1))
                    } else if page.more {
                        Some((ci, page.next.clone(), 0))
                    } else if ci + 1 < colls.len() {
                        Some((ci + 1, None, 0))
                    } else {
                        None
                    };
                    break 'colls;
                }
            }
            skip = 0;
            match (page.more, page.next) {
                (true, Some(next)) => cursor = Some(next),
                _ => {
                    ci += 1;
                    cursor = None;
                }
            }
        }
        let _ = write!(
            body,
            "<p id=\"scanned\" data-scanned=\"{scanned}\" data-found=\"{}\">{} found among \
             {scanned} objects scanned{}.</p>",
            found.len(),
            found.len(),
            if resumed {
                " on this page (continued)"
            } else {
                ""
            },
        );
        let rows: Vec<(&Collection, &Version)> = found
            .iter()
            .filter_map(|x| titles.get(x.collection.as_str()).map(|c| (*c, x)))
            .collect();
        object_table(&mut body, &rows, true);
        if let Some((nci, ncur, nskip)) = cont {
            let ci_s = nci.to_string();
            let skip_s = nskip.to_string();
            let href = qs(&[
                ("type", &types),
                ("label", &label),
                ("q", &text),
                ("c", &only),
                ("ci", &ci_s),
                ("next", ncur.as_deref().unwrap_or("")),
                ("skip", &skip_s),
            ]);
            if found.len() >= PAGE {
                let _ = write!(
                    body,
                    "<p class=\"pager\"><a href=\"/web/search{}\" id=\"more\">More results →</a></p>",
                    escape(&href)
                );
            } else {
                let _ = write!(
                    body,
                    "<p class=\"note\" id=\"bound\">This search stopped after scanning \
                     {scanned} objects ({} KiB of JSON; at most {SEARCH_SCAN} objects or {} MiB \
                     per page), to bound the work one page costs; there are more to scan. \
                     <a href=\"/web/search{}\" id=\"continue\">Continue the search</a></p>",
                    bytes / 1024,
                    SEARCH_BYTES >> 20,
                    escape(&href)
                );
            }
        }
        Ok(self.page(v, StatusCode::OK, "Search", &body))
    }

    fn status(&self, v: &Visitor) -> Result<Response, HubError> {
        let info = self.hub.info();
        let cp = self.hub.checkpoint()?;
        let visible = self.hub.collections(v.member())?;
        let readable = visible.iter().filter(|(_, r, _)| *r).count();
        let mut body = String::from("<h1>Status</h1><table id=\"status\"><tbody>");
        let _ = write!(
            body,
            "<tr><th>Hub</th><td id=\"title\">{}</td></tr>\
             <tr><th>Description</th><td>{}</td></tr>\
             <tr><th>TAXII</th><td><a href=\"/taxii2/\">/taxii2/</a>, API root \
             <code>/{}/</code></td></tr>",
            escape(&info.title),
            escape(&info.description),
            escape(&seg(&info.api_root)),
        );
        match detente_note::SignedCheckpoint::parse(&cp) {
            Ok(sc) => {
                let cosigs = sc
                    .note
                    .signatures()
                    .iter()
                    .filter(|s| s.name() != sc.checkpoint.origin())
                    .count();
                let _ = write!(
                    body,
                    "<tr><th>Log origin</th><td class=\"mono\" id=\"origin\">{}</td></tr>\
                     <tr><th>Tree size</th><td id=\"treesize\">{}</td></tr>\
                     <tr><th>Root hash</th><td class=\"mono\">{}</td></tr>\
                     <tr><th>Other signatures</th><td>{cosigs} (witness cosignatures and \
                     others)</td></tr>",
                    escape(sc.checkpoint.origin()),
                    sc.checkpoint.size(),
                    escape(&sc.checkpoint.root().to_string()),
                );
            }
            Err(e) => {
                let _ = write!(
                    body,
                    "<tr><th>Checkpoint</th><td class=\"error\">does not parse: {}</td></tr>",
                    escape(&e.to_string())
                );
            }
        }
        let _ = write!(
            body,
            "<tr><th>Collections visible to you</th><td id=\"ncollections\">{}</td></tr>\
             <tr><th>… of which you may read</th><td>{readable}</td></tr>\
             </tbody></table><h2>Latest checkpoint</h2><pre id=\"checkpointtext\">{}</pre>\
             <p class=\"muted\">The log's public tree is served read-only under \
             <a href=\"/{}/log/checkpoint\"><code>/{}/log/</code></a>.</p>",
            visible.len(),
            escape(&String::from_utf8_lossy(&cp)),
            escape(&seg(&info.api_root)),
            escape(&seg(&info.api_root)),
        );
        Ok(self.page(v, StatusCode::OK, "Status", &body))
    }
}

/// The evidence table: one row per object version.
fn object_table(out: &mut String, rows: &[(&Collection, &Version)], with_collection: bool) {
    if rows.is_empty() {
        out.push_str("<p id=\"noobjects\">No objects to show.</p>");
        return;
    }
    out.push_str("<table id=\"objects\"><thead><tr><th>Type</th><th>Name</th><th>TLP</th>");
    if with_collection {
        out.push_str("<th>Collection</th>");
    }
    out.push_str(
        "<th>Submitted by</th><th>date_added</th><th>Signature</th><th>Log index</th></tr>\
         </thead><tbody>",
    );
    for (c, x) in rows {
        let obj = object_of(x);
        let name = display_name(x, &obj);
        let _ = write!(
            out,
            "<tr class=\"obj\" data-id=\"{}\" data-tlp=\"{}\"><td>{}</td>\
             <td><a href=\"{}\">{}</a></td><td>{}</td>",
            escape(&x.id),
            x.level.name(),
            escape(&clip(&x.typ, 100)),
            escape(&object_url(x, "")),
            escape(&clip(&name, MAX_NAME)),
            tlp_badge(x.level),
        );
        if with_collection {
            let _ = write!(
                out,
                "<td><a href=\"/web/c/{}\">{}</a></td>",
                escape(&seg(&c.id)),
                escape(&clip(&c.title, 80))
            );
        }
        let _ = write!(
            out,
            "<td>{} <span class=\"muted\">({})</span></td><td class=\"mono\">{}</td><td>{}</td>\
             <td class=\"n\"><a href=\"{}\" title=\"inclusion proof\">{}</a></td></tr>",
            escape(&x.member),
            escape(&x.org),
            format_micros(x.seq),
            sig_badge(x),
            escape(&object_url(x, "/verify")),
            x.log_index,
        );
    }
    out.push_str("</tbody></table>");
}
