//! The web view (`/web/`) in process, over a real socket: hostile object values come out
//! escaped, sessions and their cookie, sign-in limits and cross-site refusals, TLP
//! visibility (a hidden object's page is the missing object's page, byte for byte), paging
//! through the hub's cursor, and the bound on the work one search page does.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use detente_hub::store::{Collection, MemberRecord, SqliteStore, Store};
use detente_hub::{token_hash, Hub, HubInfo, Member, Tlp};
use detente_log::{DirStorage, LogWriter};
use detente_note::Ed25519Signer;
use serde_json::{json, Value};

const C: &str = "8c3e1d0a-6a4b-4f7e-9a51-0c2d4e6f8a10";
const PRIVATE: &str = "0f5a7c9e-1b3d-4f60-8a2c-4e6a8c0e2b4d";

fn rec(name: &str, org: &str) -> MemberRecord {
    MemberRecord {
        member: Member {
            name: name.into(),
            org: org.into(),
            groups: Vec::new(),
        },
        token_hash: token_hash(&format!("tok-{name}")),
        key: None,
    }
}

/// A hub with members alice (acme), bob (beta) and carol (gamma), a collection anyone may
/// read with a hostile title, and one only acme may read.
fn hub(dir: &Path) -> Hub {
    let store = SqliteStore::open(&dir.join("hub.sqlite")).expect("sqlite");
    for (n, o) in [("alice", "acme"), ("bob", "beta"), ("carol", "gamma")] {
        store.put_member(&rec(n, o)).expect("member");
    }
    store
        .put_collection(&Collection {
            id: C.into(),
            title: "Shared <b>evidence</b> & \"more\"".into(),
            description: "<script>alert('collection')</script>".into(),
            alias: Some("shared".into()),
            default_tlp: Tlp::Green,
            read: vec!["anyone".into()],
            write: vec!["*".into()],
        })
        .expect("collection");
    store
        .put_collection(&Collection {
            id: PRIVATE.into(),
            title: "acme only".into(),
            description: String::new(),
            alias: None,
            default_tlp: Tlp::Green,
            read: vec!["org:acme".into()],
            write: vec!["org:acme".into()],
        })
        .expect("collection");
    let log = dir.join("log");
    std::fs::create_dir_all(log.join("private")).expect("mkdir");
    let signer = || Ed25519Signer::from_seed("web.test/log", [5; 32]).expect("signer");
    LogWriter::create(DirStorage::new(log.join("log")).expect("dir"), signer()).expect("log");
    Hub::open(
        Box::new(store),
        &log,
        signer(),
        [7; 32],
        HubInfo {
            title: "Web <i>test</i> hub".into(),
            description: String::new(),
            api_root: "api".into(),
        },
    )
    .expect("hub")
}

fn obj(n: u64, name: &str, tlp: Option<Tlp>, recipients: &[&str]) -> Value {
    let mut o = json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": id(n),
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "name": name,
        "pattern": "[file:hashes.'SHA-256' = 'aa']",
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
    });
    if let Some(t) = tlp {
        o["object_marking_refs"] = json!([t.marking_id()]);
    }
    if !recipients.is_empty() {
        o["x_detente_recipients"] = json!(recipients);
    }
    o
}

fn id(n: u64) -> String {
    format!(
        "indicator--{:08x}-0000-4000-8000-{:012x}",
        n >> 16,
        n & 0xffff_ffff_ffff
    )
}

fn submit(h: &Hub, who: &str, org: &str, coll: &str, objects: &[Value], at: i64) {
    let body = json!({ "objects": objects }).to_string();
    let st = h
        .submit(
            &rec(who, org),
            coll,
            body.as_bytes(),
            at,
            format!("st-{at}"),
        )
        .expect("submit");
    assert_eq!(
        st["failure_count"].as_u64(),
        Some(0),
        "submission refused: {st}"
    );
}

/// Serves the hub's whole router (TAXII and web) on a free port; returns the address.
fn serve(h: Hub) -> String {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let l = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    let app = detente_hub::http::router(Arc::new(h));
    std::thread::spawn(move || {
        rt.block_on(async move { axum::serve(l, app).await.expect("serve") });
    });
    addr
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request with `Connection: close`.
fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read reply");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("chunk size");
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..nl]).unwrap().trim(), 16)
                .expect("chunk size");
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + size]);
            rest = &rest[nl + 4 + size..];
        }
        body = out;
    }
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn get(addr: &str, path: &str, cookie: Option<&str>) -> Reply {
    match cookie {
        Some(c) => request(addr, "GET", path, &[("Cookie", c)], b""),
        None => request(addr, "GET", path, &[], b""),
    }
}

fn login_form(addr: &str, token: &str, extra: &[(&str, &str)]) -> Reply {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .finish();
    let mut h = vec![("Content-Type", "application/x-www-form-urlencoded")];
    h.extend_from_slice(extra);
    request(addr, "POST", "/web/login", &h, body.as_bytes())
}

/// Signs in; returns the `Cookie` header value to send.
fn sign_in(addr: &str, name: &str) -> String {
    let origin = format!("http://{addr}");
    let r = login_form(
        addr,
        &format!("tok-{name}"),
        &[("Origin", &origin), ("Sec-Fetch-Site", "same-origin")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let c = r.header("set-cookie").expect("a cookie").to_string();
    c.split(';').next().unwrap().to_string()
}

fn main_of(html: &str) -> &str {
    let a = html.find("<main>").expect("<main>");
    let b = html.find("</main>").expect("</main>");
    &html[a..b]
}

#[test]
fn escape_covers_markup_characters() {
    use detente_hub::web::escape;
    assert_eq!(
        escape("<a href=\"x\" onclick='y'>&amp;</a>"),
        "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"
    );
    assert_eq!(escape("plain — ü"), "plain — ü");
}

#[test]
fn hostile_object_values_are_escaped_everywhere() {
    let d = tempfile::tempdir().unwrap();
    let h = hub(d.path());
    let evil_name = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    let mut o = obj(1, evil_name, Some(Tlp::Clear), &[]);
    o["description"] = json!("\"><svg onload=alert(3)> ' & </pre></td>");
    o["labels"] = json!(["<b>bold</b>", "x\" autofocus onfocus=\"alert(4)"]);
    let mut sco = json!({"type": "domain-name", "spec_version": "2.1",
        "id": "domain-name--6b4e1f2a-3c5d-4e7f-8a9b-0c1d2e3f4a5b",
        "value": "<iframe src=javascript:alert(5)>.example"});
    sco["object_marking_refs"] = json!([Tlp::Clear.marking_id()]);
    submit(&h, "alice", "acme", C, &[o, sco], 1_000_000);
    let addr = serve(h);
    let alice = sign_in(&addr, "alice");

    let oid = id(1);
    let pages = [
        "/web/".to_string(),
        format!("/web/c/{C}"),
        format!("/web/c/{C}/o/{oid}"),
        format!("/web/c/{C}/o/{oid}/verify"),
        "/web/search?q=script".to_string(),
        "/web/search?label=%3Cb%3Ebold%3C%2Fb%3E&q=%3Cscript%3E".to_string(),
        "/web/status".to_string(),
    ];
    for cookie in [None, Some(alice.as_str())] {
        for p in &pages {
            let r = get(&addr, p, cookie);
            assert_eq!(r.status, 200, "{p}: {}", r.body);
            let b = &r.body;
            for raw in [
                "<script",
                "<img",
                "<svg",
                "<iframe",
                "<b>bold",
                "<b>evidence",
                "<i>test",
                "\" autofocus",
            ] {
                assert!(
                    !b.contains(raw),
                    "{p} ({cookie:?}) lets {raw:?} through:\n{b}"
                );
            }
            let csp = r.header("content-security-policy").expect("CSP");
            assert!(
                csp.contains("default-src 'none'") && !csp.contains("unsafe"),
                "{csp}"
            );
            assert!(!csp.contains("script-src"), "{csp}");
            assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
            assert_eq!(
                r.header("content-type"),
                Some("text/html; charset=utf-8"),
                "{p}"
            );
        }
    }
    let page = get(&addr, &format!("/web/c/{C}"), Some(&alice)).body;
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;")
    );
    assert!(page.contains("&lt;iframe src=javascript:alert(5)&gt;.example"));
    assert!(page.contains("Shared &lt;b&gt;evidence&lt;/b&gt; &amp; &quot;more&quot;"));
    let page = get(&addr, &format!("/web/c/{C}/o/{oid}"), None).body;
    assert!(
        page.contains("&quot;&gt;&lt;svg onload=alert(3)&gt; &#39; &amp; &lt;/pre&gt;&lt;/td&gt;")
    );
    assert!(page.contains("<span class=\"label\">&lt;b&gt;bold&lt;/b&gt;</span>"));
    // The search that matched by the hostile label found the object, still escaped.
    let r = get(
        &addr,
        "/web/search?label=%3Cb%3Ebold%3C%2Fb%3E&q=%3Cscript%3E",
        None,
    );
    assert!(r.body.contains("data-found=\"1\""), "{}", r.body);
    // Downloads are served as attachments, never as HTML.
    let r = get(&addr, &format!("/web/c/{C}/o/{oid}/json"), None);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment"));
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["name"], evil_name);
}

#[test]
fn sessions_cookies_and_sign_in_limits() {
    let d = tempfile::tempdir().unwrap();
    let h = hub(d.path());
    let addr = serve(h);
    let origin = format!("http://{addr}");

    // The cookie: 32 random bytes in hex, HttpOnly, SameSite=Strict, Path=/web.
    let r = login_form(&addr, "tok-alice", &[("Origin", &origin)]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/web/"));
    let set = r.header("set-cookie").unwrap().to_string();
    let (pair, attrs) = set.split_once(';').unwrap();
    let value = pair.strip_prefix("detente_session=").expect("cookie name");
    assert_eq!(value.len(), 64);
    assert!(value.bytes().all(|b| b.is_ascii_hexdigit()));
    for a in ["HttpOnly", "SameSite=Strict", "Path=/web", "Max-Age=28800"] {
        assert!(attrs.split(';').any(|x| x.trim() == a), "{set}");
    }
    assert!(!attrs.contains("Secure"), "plain HTTP: {set}");
    let alice = pair.to_string();
    let again = sign_in(&addr, "alice");
    assert_ne!(again, alice, "every sign-in makes a new session id");

    let home = get(&addr, "/web/", Some(&alice)).body;
    assert!(home.contains("data-member=\"alice\""), "{home}");
    assert!(
        home.contains("acme only"),
        "alice (acme) sees acme's collection"
    );
    let anon = get(&addr, "/web/", None).body;
    assert!(anon.contains("data-member=\"\"") && !anon.contains("acme only"));
    // A made-up or malformed session is just anonymous.
    for c in [
        format!("detente_session={}", "0".repeat(64)),
        "detente_session=zz".to_string(),
        format!("other=1; detente_session={}x", &value[..63]),
    ] {
        let b = get(&addr, "/web/", Some(&c)).body;
        assert!(b.contains("data-member=\"\""), "{c}");
    }

    // Refused: a wrong token, a cross-site post, an oversized body, a non-form body.
    let r = login_form(&addr, "tok-mallory", &[]);
    assert_eq!(r.status, 401);
    assert!(r.body.contains("id=\"loginerror\"") && r.header("set-cookie").is_none());
    let r = login_form(&addr, "tok-alice", &[("Origin", "http://evil.example")]);
    assert_eq!(r.status, 403);
    assert!(r.header("set-cookie").is_none());
    let r = login_form(&addr, "tok-alice", &[("Sec-Fetch-Site", "cross-site")]);
    assert_eq!(r.status, 403);
    let r = login_form(&addr, "tok-alice", &[("Origin", "null")]);
    assert_eq!(r.status, 403);
    let r = login_form(
        &addr,
        "tok-alice",
        &[("Origin", &origin), ("Sec-Fetch-Site", "same-site")],
    );
    assert_eq!(r.status, 403, "a sibling subdomain is another site's page");
    // The browser's own word wins: same-origin with an opaque Origin is this site's form.
    let r = login_form(
        &addr,
        "tok-alice",
        &[("Origin", "null"), ("Sec-Fetch-Site", "same-origin")],
    );
    assert_eq!(r.status, 303);
    let big = format!("token=tok-alice&pad={}", "a".repeat(5000));
    let r = request(
        &addr,
        "POST",
        "/web/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        big.as_bytes(),
    );
    assert_eq!(r.status, 413);
    assert!(r.header("set-cookie").is_none());
    let r = request(
        &addr,
        "POST",
        "/web/login",
        &[("Content-Type", "application/json")],
        b"{\"token\":\"tok-alice\"}",
    );
    assert_eq!(r.status, 400);
    let r = request(&addr, "POST", "/web/c/x", &[], b"");
    assert_eq!(r.status, 405);
    // Behind a TLS proxy the cookie is Secure.
    let r = login_form(&addr, "tok-bob", &[("X-Forwarded-Proto", "https")]);
    assert!(r.header("set-cookie").unwrap().contains("; Secure"));

    // Sign-out ends the session on the server, not only in the browser.
    let r = request(
        &addr,
        "POST",
        "/web/logout",
        &[("Cookie", &alice), ("Origin", &origin)],
        b"",
    );
    assert_eq!(r.status, 303);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    let b = get(&addr, "/web/", Some(&alice)).body;
    assert!(b.contains("data-member=\"\""), "the old cookie is dead");
    let b = get(&addr, "/web/", Some(&again)).body;
    assert!(
        b.contains("data-member=\"alice\""),
        "the other session lives"
    );
    // A cross-site sign-out is refused.
    let r = request(
        &addr,
        "POST",
        "/web/logout",
        &[("Cookie", &again), ("Sec-Fetch-Site", "cross-site")],
        b"",
    );
    assert_eq!(r.status, 403);
    assert!(get(&addr, "/web/", Some(&again))
        .body
        .contains("data-member=\"alice\""));
    // /web redirects to /web/.
    let r = get(&addr, "/web", None);
    assert_eq!((r.status, r.header("location")), (303, Some("/web/")));
}

#[test]
fn tlp_decides_what_each_visitor_sees() {
    let d = tempfile::tempdir().unwrap();
    let h = hub(d.path());
    submit(
        &h,
        "alice",
        "acme",
        C,
        &[
            obj(1, "clear-object", Some(Tlp::Clear), &[]),
            obj(2, "green-object", Some(Tlp::Green), &[]),
            obj(3, "amber-object", Some(Tlp::Amber), &["org:beta"]),
            obj(
                4,
                "crimson-red-object",
                Some(Tlp::Red),
                &["member:bob", "org:gamma"],
            ),
        ],
        1_000_000,
    );
    submit(
        &h,
        "alice",
        "acme",
        PRIVATE,
        &[obj(9, "acme-internal", None, &[])],
        2_000_000,
    );
    let addr = serve(h);
    let (alice, bob, carol) = (
        sign_in(&addr, "alice"),
        sign_in(&addr, "bob"),
        sign_in(&addr, "carol"),
    );
    let names = [
        "clear-object",
        "green-object",
        "amber-object",
        "crimson-red-object",
    ];
    let cases: [(Option<&str>, [bool; 4]); 4] = [
        (None, [true, false, false, false]),
        (Some(&alice), [true, true, true, true]),
        (Some(&bob), [true, true, true, true]),
        // carol's org is named, but RED goes to named members only.
        (Some(&carol), [true, true, false, false]),
    ];
    for (cookie, sees) in cases {
        let list = get(&addr, &format!("/web/c/{C}"), cookie).body;
        let found = get(&addr, "/web/search?q=object", cookie).body;
        let by_type = get(&addr, "/web/search?type=indicator", cookie).body;
        for (i, n) in names.iter().enumerate() {
            assert_eq!(list.contains(n), sees[i], "{cookie:?} list {n}");
            assert_eq!(found.contains(n), sees[i], "{cookie:?} search {n}");
            assert_eq!(by_type.contains(n), sees[i], "{cookie:?} type search {n}");
            let r = get(&addr, &format!("/web/c/{C}/o/{}", id(i as u64 + 1)), cookie);
            assert_eq!(r.status == 200, sees[i], "{cookie:?} object {n}");
            for tail in ["/verify", "/receipt", "/json"] {
                let r = get(
                    &addr,
                    &format!("/web/c/{C}/o/{}{tail}", id(i as u64 + 1)),
                    cookie,
                );
                assert_eq!(r.status == 200, sees[i], "{cookie:?} {tail} {n}");
            }
        }
        // A hidden object's page is the page of an object that does not exist.
        let missing = get(&addr, &format!("/web/c/{C}/o/{}", id(999)), cookie);
        assert_eq!(missing.status, 404);
        let red = get(&addr, &format!("/web/c/{C}/o/{}", id(4)), cookie);
        if !sees[3] {
            assert_eq!(red.status, 404);
            assert_eq!(
                red.body, missing.body,
                "hidden and missing must look the same"
            );
            assert!(!red.body.contains("crimson") && !red.body.contains(&id(4)));
        }
        // Collections: acme's only for alice; a hidden collection is a missing one.
        let private = get(&addr, &format!("/web/c/{PRIVATE}"), cookie);
        let nowhere = get(&addr, "/web/c/00000000-0000-4000-8000-000000000000", cookie);
        assert_eq!(private.status == 200, cookie == Some(alice.as_str()));
        assert_eq!(nowhere.status, 404);
        if private.status != 200 {
            assert_eq!(private.body, nowhere.body);
        }
        let all = get(&addr, "/web/search?q=acme-internal", cookie).body;
        assert_eq!(
            all.contains("data-found=\"1\""),
            cookie == Some(alice.as_str())
        );
    }
    // The row of a visible object: type, TLP badge, submitter and org, signature, log index.
    let list = get(&addr, &format!("/web/c/{C}"), Some(&bob)).body;
    let row_start = list.find(&format!("data-id=\"{}\"", id(4))).unwrap();
    let row = &list[row_start..row_start + list[row_start..].find("</tr>").unwrap()];
    for want in [
        "indicator",
        "tlp-red",
        "TLP:RED",
        "alice",
        "(acme)",
        "unsigned",
        ">3</a>",
    ] {
        assert!(row.contains(want), "{want} in {row}");
    }
    // The object page: provenance and the JSON; the verify page: proof and checkpoint.
    let page = get(&addr, &format!("/web/c/{C}/o/{}", id(4)), Some(&bob)).body;
    assert!(page.contains("id=\"provenance\"") && page.contains("&quot;crimson-red-object&quot;"));
    let v = get(&addr, &format!("/web/c/{C}/o/{}/verify", id(4)), Some(&bob)).body;
    assert!(v.contains("c2sp.org/tlog-proof@v1"), "{v}");
    assert!(v.contains("<tr class=\"logsig\">") && v.contains("id=\"nocosig\""));
    assert!(v.contains("detente intel verify RECEIPT --policy P --object OBJ.json"));
    assert!(main_of(&v).contains("web.test/log"));
    // Status.
    let s = get(&addr, "/web/status", Some(&carol)).body;
    assert!(
        s.contains("<td class=\"mono\" id=\"origin\">web.test/log</td>"),
        "{s}"
    );
    assert!(s.contains("<td id=\"treesize\">5</td>"), "{s}");
    assert!(s.contains("<td id=\"ncollections\">1</td>"), "{s}");
    let s = get(&addr, "/web/status", Some(&alice)).body;
    assert!(s.contains("<td id=\"ncollections\">2</td>"), "{s}");
}

#[test]
fn collection_pages_follow_the_cursor() {
    let d = tempfile::tempdir().unwrap();
    let h = hub(d.path());
    let objects: Vec<Value> = (1..=120)
        .map(|n| obj(n, &format!("item-{n:03}"), Some(Tlp::Clear), &[]))
        .collect();
    submit(&h, "alice", "acme", C, &objects, 1_000_000);
    let addr = serve(h);
    let mut path = format!("/web/c/{C}");
    let mut seen = Vec::new();
    for expect in [50, 50, 20] {
        let b = get(&addr, &path, None).body;
        let rows = b.matches("<tr class=\"obj\"").count();
        assert_eq!(rows, expect, "{path}");
        for n in 1..=120 {
            if b.contains(&format!(">item-{n:03}<")) {
                seen.push(n);
            }
        }
        match b.find("id=\"next\"") {
            Some(_) => {
                let href_end = b.find("\" id=\"next\"").unwrap();
                let href_start = b[..href_end].rfind("href=\"").unwrap() + 6;
                path = b[href_start..href_end].replace("&amp;", "&");
            }
            None => assert_eq!(expect, 20, "only the last page has no next link"),
        }
    }
    seen.sort();
    assert_eq!(seen, (1..=120).collect::<Vec<_>>());
    // A cursor is the hub's: tampered, it is refused with a page saying so.
    let r = get(&addr, &format!("{path}x"), None);
    assert_eq!(r.status, 400, "{}", r.body);
}

#[test]
fn search_work_is_bounded_and_continues() {
    let d = tempfile::tempdir().unwrap();
    let h = hub(d.path());
    // 5,300 visible objects; "needle" only in the last 60.
    let objects: Vec<Value> = (1..=5300)
        .map(|n| {
            let word = if n > 5240 { "needle" } else { "hay" };
            obj(n, &format!("{word}-{n}"), Some(Tlp::Clear), &[])
        })
        .collect();
    submit(&h, "alice", "acme", C, &objects, 1_000_000);
    let addr = serve(h);
    let b = get(&addr, "/web/search?q=NEEDLE", None).body;
    assert!(
        b.contains("data-scanned=\"5000\" data-found=\"0\""),
        "{}",
        main_of(&b)
    );
    assert!(
        b.contains("id=\"bound\""),
        "the page says the bound was hit"
    );
    let href = |b: &str, id: &str| {
        let end = b.find(&format!("\" id=\"{id}\"")).unwrap();
        let start = b[..end].rfind("href=\"").unwrap() + 6;
        b[start..end].replace("&amp;", "&")
    };
    let b = get(&addr, &href(&b, "continue"), None).body;
    // The second page scans on from 5,001: 50 needles fill it, then "more".
    assert!(b.contains("data-found=\"50\""), "{}", main_of(&b));
    assert!(b.contains("id=\"more\"") && !b.contains("id=\"bound\""));
    assert!(b.contains(">needle-5241<") && b.contains(">needle-5290<"));
    let b = get(&addr, &href(&b, "more"), None).body;
    assert!(b.contains("data-found=\"10\""), "{}", main_of(&b));
    assert!(b.contains(">needle-5291<") && b.contains(">needle-5300<"));
    assert!(!b.contains("id=\"more\"") && !b.contains("id=\"bound\""));
    // A search that finds enough early stops early.
    let b = get(&addr, "/web/search?q=hay", None).body;
    assert!(
        b.contains("data-scanned=\"50\" data-found=\"50\""),
        "{}",
        main_of(&b)
    );
}
