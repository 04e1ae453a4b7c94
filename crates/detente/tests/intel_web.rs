//! The hub's web view (`/web/`) in a real browser: headless Chromium, driven over the
//! DevTools protocol (`--remote-debugging-pipe`), signs in through the form as different
//! members of a hub started with `detente serve --hub`, clicks, searches and signs out;
//! the test asserts from the live DOM what each member sees, and saves screenshots under
//! `target/web-screenshots/`.
//!
//! Objects at TLP:CLEAR, GREEN, AMBER and RED (shared with bob only) are pushed with
//! `detente intel push`; the hub's log is cosigned by a witness. carol may not see the RED
//! object: not in the list, not in search, and its URL answers the very page a missing
//! object answers; bob, its named recipient, sees it, and the receipt and object the
//! browser shows verify offline with `detente intel verify`. A hostile object name renders
//! as text, never as markup.

mod common;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::*;
use detente_hub::Tlp;
use serde_json::{json, Value};

const C: &str = "2d7f4a10-9b3c-4e5d-8f60-7a1b2c3d4e5f";
const ORIGIN: &str = "hub.web.example/log";
const HOSTILE: &str =
    "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>";
const TIMEOUT: Duration = Duration::from_secs(60);

fn oid(n: u32) -> String {
    format!("indicator--{n:08x}-2222-4222-8222-222222222222")
}

fn obj(n: u32, name: &str, tlp: Tlp, recipients: &[&str]) -> Value {
    let mut o = json!({
        "type": "indicator", "spec_version": "2.1", "id": oid(n),
        "created": "2026-02-01T00:00:00.000Z", "modified": "2026-02-01T00:00:00.000Z",
        "name": name, "description": format!("{name}: seen at the border"),
        "labels": ["malicious-activity"],
        "pattern": "[ipv4-addr:value = '198.51.100.7']",
        "pattern_type": "stix", "valid_from": "2026-02-01T00:00:00Z",
        "object_marking_refs": [tlp.marking_id()],
    });
    if !recipients.is_empty() {
        o["x_detente_recipients"] = json!(recipients);
    }
    o
}

/// The Chromium binary: `DETENTE_CHROMIUM`, else `chromium` (Debian) or a usual name on the
/// PATH. Without one the test fails, saying how to get it.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("DETENTE_CHROMIUM") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "chromium is not installed: run scripts/test, which installs the Debian package \
         chromium (or set DETENTE_CHROMIUM to a Chromium binary)"
    );
}

fn screenshot_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is target/tmp.
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("web-screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// One headless Chromium with its own profile, driven over the DevTools pipe (fd 3 reads
/// commands, fd 4 writes replies; NUL-terminated JSON).
struct Browser {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Value>,
    next: u64,
    session: String,
    events: Vec<Value>,
    name: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn start(name: &str) -> Browser {
        let bin = chromium();
        let profile = tempfile::tempdir().unwrap();
        // The shell hands our pipes to Chromium as fds 3 and 4.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null"#)
            .arg(&bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--remote-debugging-pipe",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-sync",
                "--disable-component-update",
                "--window-size=1280,900",
                &format!("--user-data-dir={}", profile.path().display()),
                "about:blank",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("can't start {}: {e}", bin.display()));
        let stdin = child.stdin.take().unwrap();
        let mut out = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut buf: Vec<u8> = Vec::new();
            let mut chunk = vec![0u8; 1 << 16];
            while let Ok(n) = out.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Some(pos) = buf.iter().position(|b| *b == 0) {
                    let msg: Vec<u8> = buf.drain(..=pos).collect();
                    if let Ok(v) = serde_json::from_slice::<Value>(&msg[..msg.len() - 1]) {
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let mut b = Browser {
            child,
            stdin,
            rx,
            next: 1,
            session: String::new(),
            events: Vec::new(),
            name: name.to_string(),
            _profile: profile,
        };
        let t = Instant::now();
        let target = loop {
            let r = b.call("Target.getTargets", json!({}));
            let page = r["targetInfos"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|t| t["type"] == "page")
                .and_then(|t| t["targetId"].as_str().map(str::to_string));
            if let Some(p) = page {
                break p;
            }
            assert!(t.elapsed() < TIMEOUT, "chromium opened no page");
            std::thread::sleep(Duration::from_millis(100));
        };
        let r = b.call(
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        );
        b.session = r["sessionId"].as_str().unwrap().to_string();
        b.call("Page.enable", json!({}));
        b.call("Network.enable", json!({}));
        b
    }

    fn recv(&mut self) -> Value {
        self.rx
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|_| panic!("chromium ({}) stopped answering", self.name))
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let mut m = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() && !method.starts_with("Target.") {
            m["sessionId"] = json!(self.session);
        }
        let mut bytes = m.to_string().into_bytes();
        bytes.push(0);
        self.stdin.write_all(&bytes).unwrap();
        self.stdin.flush().unwrap();
        loop {
            let v = self.recv();
            if v["id"].as_u64() == Some(id) {
                if let Some(e) = v.get("error") {
                    panic!("{method}: {e}");
                }
                return v["result"].clone();
            }
            if v.get("method").is_some() {
                self.events.push(v);
            }
        }
    }

    fn wait_event(&mut self, method: &str) {
        loop {
            if let Some(i) = self.events.iter().position(|e| e["method"] == method) {
                self.events.drain(..=i);
                return;
            }
            let v = self.recv();
            if v.get("method").is_some() {
                self.events.push(v);
            }
        }
    }

    fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    fn text(&mut self, expr: &str) -> String {
        self.eval(expr).as_str().unwrap_or_default().to_string()
    }

    fn dom(&mut self) -> String {
        self.text("document.documentElement.outerHTML")
    }

    /// Opens `url` and waits for it to load; returns the DOM.
    fn goto(&mut self, url: &str) -> String {
        self.events.clear();
        let r = self.call("Page.navigate", json!({"url": url}));
        assert!(r.get("errorText").is_none(), "{url}: {r}");
        self.wait_event("Page.loadEventFired");
        self.dom()
    }

    /// Clicks the middle of the element `selector` with the mouse, as a user would.
    fn click(&mut self, selector: &str) {
        let r = self.eval(&format!(
            "(() => {{ const e = document.querySelector({s}); if (!e) return null; \
             e.scrollIntoView(); const r = e.getBoundingClientRect(); \
             return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
            s = json!(selector)
        ));
        let (x, y) = (
            r[0].as_f64()
                .unwrap_or_else(|| panic!("no {selector} on the page")),
            r[1].as_f64().unwrap(),
        );
        for ty in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": ty, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }

    /// Clicks a form's button and waits for the page it leads to.
    fn submit_with(&mut self, selector: &str) -> String {
        self.events.clear();
        self.click(selector);
        self.wait_event("Page.loadEventFired");
        self.dom()
    }

    /// Types `text` into the field `selector` (focused, emptied first).
    fn type_into(&mut self, selector: &str, text: &str) {
        self.eval(&format!(
            "(() => {{ const e = document.querySelector({s}); e.value = ''; e.focus(); }})()",
            s = json!(selector)
        ));
        self.call("Input.insertText", json!({"text": text}));
    }

    /// Signs in through the form with `token`; returns the DOM of the page it lands on.
    fn sign_in(&mut self, base: &str, token: &str) -> String {
        self.goto(&format!("{base}/web/login"));
        self.type_into("#token", token);
        self.submit_with("#submit")
    }

    fn screenshot(&mut self, name: &str) {
        let m = self.call("Page.getLayoutMetrics", json!({}));
        let w = m["cssContentSize"]["width"].as_f64().unwrap_or(1280.0);
        let h = m["cssContentSize"]["height"]
            .as_f64()
            .unwrap_or(900.0)
            .min(6000.0);
        let r = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true,
                   "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}}),
        );
        let png = STANDARD.decode(r["data"].as_str().unwrap()).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
    }

    /// The ids of the object rows on the page.
    fn rows(&mut self) -> Vec<String> {
        let v = self.eval("Array.from(document.querySelectorAll('tr.obj')).map(r => r.dataset.id)");
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    }

    fn member(&mut self) -> String {
        self.text("document.getElementById('who').dataset.member")
    }
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[test]
fn members_see_the_evidence_table_their_tlp_allows() {
    chromium();
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let p = |s: &str| root.join(s).display().to_string();
    let hub = p("hub");
    let vkey = ok(&[
        "intel",
        "init",
        &hub,
        "--origin",
        ORIGIN,
        "--title",
        "CERT <b>web</b> hub",
    ])
    .lines()
    .next()
    .unwrap()
    .trim()
    .to_string();
    // One witness cosigns the hub's log after every append.
    let (_witness, lines) = witnesses_for(root, &["w1"], ORIGIN, &vkey);
    let policy = p("hub.policy");
    std::fs::write(&policy, format!("{lines}quorum w1\n")).unwrap();

    let alice_pub = ok(&["intel", "keygen", &p("alice.key")]).trim().to_string();
    let member = |name: &str, org: &str, key: Option<&str>| {
        let mut a = vec!["intel", "member-add", &hub, "--name", name, "--org", org];
        if let Some(k) = key {
            a.extend(["--key", k]);
        }
        ok(&a).trim().to_string()
    };
    let alice = member("alice", "acme", Some(&alice_pub));
    let bob = member("bob", "beta", None);
    let carol = member("carol", "gamma", None);
    ok(&[
        "intel",
        "collection-add",
        &hub,
        "--title",
        "Shared <i>evidence</i>",
        "--id",
        C,
        "--read",
        "anyone",
        "--write",
        "*",
    ]);

    let addr = free_addr();
    let _server = Server(
        detente()
            .args([
                "serve",
                "--listen",
                &addr,
                "--hub",
                &hub,
                "--hub-witnesses",
                &policy,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(&addr);
    let base = format!("http://{addr}");
    let api = format!("{base}/api/");

    // alice signs what she pushes; bob does not.
    let objects = vec![
        obj(1, HOSTILE, Tlp::Clear, &[]),
        obj(2, "emerald-green-report", Tlp::Green, &[]),
        obj(3, "amber-report-for-beta", Tlp::Amber, &["org:beta"]),
        obj(
            4,
            "crimson-red-report",
            Tlp::Red,
            &["member:bob", "org:gamma"],
        ),
    ];
    std::fs::write(p("alice.json"), Value::Array(objects).to_string()).unwrap();
    ok(&[
        "intel",
        "push",
        "--url",
        &api,
        "--token",
        &alice,
        "--collection",
        C,
        "--sign-key",
        &p("alice.key"),
        &p("alice.json"),
    ]);
    std::fs::write(
        p("bob.json"),
        obj(5, "clear-note-from-bob", Tlp::Clear, &[]).to_string(),
    )
    .unwrap();
    ok(&[
        "intel",
        "push",
        "--url",
        &api,
        "--token",
        &bob,
        "--collection",
        C,
        &p("bob.json"),
    ]);
    // Wait for the witness's cosignature on the checkpoint of all five entries.
    let t0 = Instant::now();
    loop {
        let cp = http()
            .get(format!("{api}log/checkpoint"))
            .send()
            .and_then(|r| r.text())
            .unwrap_or_default();
        let sigs = cp.lines().filter(|l| l.starts_with('\u{2014}')).count();
        if cp.lines().nth(1) == Some("5") && sigs >= 2 {
            break;
        }
        assert!(
            t0.elapsed() < TIMEOUT,
            "the checkpoint was not cosigned: {cp}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let coll = format!("{base}/web/c/{C}");
    let obj_url = |n: u32| format!("{coll}/o/{}", oid(n));
    let missing = format!("{coll}/o/{}", oid(0xdead));

    // ----- Anonymous: collections anyone reads, TLP:CLEAR objects only. -----
    let mut anon = Browser::start("anonymous");
    let home = anon.goto(&format!("{base}/web/"));
    assert!(home.contains("id=\"anon\""), "{home}");
    assert_eq!(anon.member(), "");
    anon.screenshot("anonymous-collections");
    anon.goto(&coll);
    let mut rows = anon.rows();
    rows.sort();
    assert_eq!(
        rows,
        [oid(1), oid(5)],
        "anonymous sees the CLEAR objects only"
    );
    // The hostile name is text: no element came of it, and it reads back verbatim.
    assert_eq!(
        anon.eval("document.querySelectorAll('main img, main script, main svg').length"),
        json!(0)
    );
    let cell = anon.text(&format!(
        "document.querySelector('tr.obj[data-id=\"{}\"] td:nth-child(2)').textContent",
        oid(1)
    ));
    assert_eq!(cell, HOSTILE);
    assert_ne!(anon.text("document.title"), "pwned");
    anon.screenshot("anonymous-collection");
    anon.goto(&obj_url(1));
    assert_eq!(
        anon.text("document.getElementById('objname').textContent"),
        HOSTILE
    );
    assert_eq!(
        anon.eval("document.querySelectorAll('main img, main script').length"),
        json!(0)
    );
    // The page title holds the name as text (so "pwned" is in it), not what a script set.
    assert_ne!(anon.text("document.title"), "pwned");
    assert!(anon.text("document.title").starts_with(HOSTILE));
    anon.screenshot("anonymous-hostile-object");
    anon.goto(&obj_url(2));
    assert!(
        anon.dom().contains("id=\"notfound\""),
        "GREEN is not for anonymous"
    );

    // ----- carol (gamma): not a recipient of the AMBER or the RED object. -----
    let mut cb = Browser::start("carol");
    let landed = cb.sign_in(&base, &carol);
    assert!(landed.contains("data-member=\"carol\""), "{landed}");
    assert_eq!(cb.member(), "carol");
    // The session cookie as the browser keeps it.
    let cookies = cb.call(
        "Network.getCookies",
        json!({"urls": [format!("{base}/web/")]}),
    );
    let c = cookies["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "detente_session")
        .expect("a detente_session cookie")
        .clone();
    assert_eq!(
        (&c["httpOnly"], &c["sameSite"], &c["path"]),
        (&json!(true), &json!("Strict"), &json!("/web"))
    );
    assert_eq!(c["value"].as_str().unwrap().len(), 64);
    assert_eq!(
        cb.eval("document.cookie"),
        json!(""),
        "HttpOnly: no script reads it"
    );
    cb.goto(&coll);
    let mut rows = cb.rows();
    rows.sort();
    assert_eq!(rows, [oid(1), oid(2), oid(5)], "carol: CLEAR and GREEN");
    let dom = cb.dom();
    assert!(!dom.contains("crimson") && !dom.contains(&oid(4)));
    cb.screenshot("carol-collection");
    // Search through the form: free text, then by type.
    cb.type_into("#searchform input[name=q]", "CRIMSON");
    let dom = cb.submit_with("#searchform button");
    assert!(dom.contains("data-found=\"0\""), "{dom}");
    assert!(!dom.contains(&oid(4)) && cb.rows().is_empty());
    cb.screenshot("carol-search-crimson");
    cb.goto(&format!(
        "{base}/web/search?type=indicator&label=malicious-activity"
    ));
    let mut rows = cb.rows();
    rows.sort();
    assert_eq!(rows, [oid(1), oid(2), oid(5)]);
    // The RED object's URL answers exactly what a missing object's does.
    let hidden = cb.goto(&obj_url(4));
    cb.screenshot("carol-red-object");
    let nothing = cb.goto(&missing);
    assert!(hidden.contains("id=\"notfound\""), "{hidden}");
    assert_eq!(hidden, nothing, "a hidden object looks like a missing one");
    for tail in ["/verify", "/json", "/receipt"] {
        let d = cb.goto(&format!("{}{tail}", obj_url(4)));
        assert!(
            d.contains("id=\"notfound\"") && !d.contains("crimson"),
            "{tail}"
        );
    }
    assert_eq!(
        http().get(obj_url(4)).send().unwrap().status().as_u16(),
        404
    );

    // ----- bob (beta): the RED object's named recipient, and AMBER's organisation. -----
    let mut bb = Browser::start("bob");
    bb.sign_in(&base, &bob);
    assert_eq!(bb.member(), "bob");
    bb.goto(&coll);
    let mut rows = bb.rows();
    rows.sort();
    assert_eq!(
        rows,
        (1..=5).map(oid).collect::<Vec<_>>(),
        "bob sees all five"
    );
    let red_row = bb.text(&format!(
        "document.querySelector('tr.obj[data-id=\"{}\"]').textContent",
        oid(4)
    ));
    for want in [
        "indicator",
        "crimson-red-report",
        "TLP:RED",
        "alice",
        "acme",
        "signed",
    ] {
        assert!(red_row.contains(want), "{want} in {red_row}");
    }
    assert!(!red_row.contains("unsigned"), "alice signed it: {red_row}");
    let bob_row = bb.text(&format!(
        "document.querySelector('tr.obj[data-id=\"{}\"]').textContent",
        oid(5)
    ));
    assert!(
        bob_row.contains("unsigned") && bob_row.contains("bob"),
        "{bob_row}"
    );
    bb.screenshot("bob-collection");
    bb.type_into("#searchform input[name=q]", "crimson");
    let dom = bb.submit_with("#searchform button");
    assert!(dom.contains("data-found=\"1\""), "{dom}");
    assert_eq!(bb.rows(), [oid(4)]);
    bb.screenshot("bob-search-crimson");
    bb.goto(&obj_url(4));
    assert_eq!(
        bb.text("document.getElementById('objname').textContent"),
        "crimson-red-report"
    );
    assert!(bb.dom().contains("id=\"provenance\""));
    let json_text = bb.text("document.getElementById('json').textContent");
    bb.screenshot("bob-red-object");
    let dom = bb.submit_with("#verifylink");
    assert!(dom.contains("id=\"offline\""), "{dom}");
    assert_eq!(
        bb.eval("document.querySelectorAll('tr.logsig').length"),
        json!(1)
    );
    assert_eq!(
        bb.eval("document.querySelectorAll('tr.cosig').length"),
        json!(1)
    );
    assert!(bb
        .text("document.querySelector('tr.cosig').textContent")
        .contains("w1"));
    let receipt = bb.text("document.getElementById('receipt').textContent");
    bb.screenshot("bob-verify");
    // What the browser showed verifies offline, under a policy that demands the witness.
    std::fs::write(p("red.tlog-proof"), &receipt).unwrap();
    std::fs::write(p("red.json"), &json_text).unwrap();
    let out = ok(&[
        "intel",
        "verify",
        &p("red.tlog-proof"),
        "--policy",
        &policy,
        "--object",
        &p("red.json"),
    ]);
    assert!(out.contains("verifies over the object"), "{out}");
    assert!(out.contains("member    alice (acme)"), "{out}");
    // The downloads the page links to verify too (the CLEAR one, fetched anonymously).
    let get = |u: String| http().get(u).send().unwrap().bytes().unwrap().to_vec();
    std::fs::write(
        p("clear.tlog-proof"),
        get(format!("{}/receipt", obj_url(1))),
    )
    .unwrap();
    std::fs::write(p("clear.json"), get(format!("{}/json", obj_url(1)))).unwrap();
    let out = ok(&[
        "intel",
        "verify",
        &p("clear.tlog-proof"),
        "--policy",
        &policy,
        "--object",
        &p("clear.json"),
    ]);
    assert!(out.contains("verifies over the object"), "{out}");

    // ----- alice: the sender sees everything she sent. -----
    let mut ab = Browser::start("alice");
    ab.sign_in(&base, &alice);
    ab.goto(&coll);
    assert_eq!(ab.rows().len(), 5);
    ab.goto(&format!("{base}/web/status"));
    assert_eq!(
        ab.text("document.getElementById('origin').textContent"),
        ORIGIN
    );
    assert_eq!(
        ab.text("document.getElementById('treesize').textContent"),
        "5"
    );
    assert_eq!(
        ab.text("document.getElementById('ncollections').textContent"),
        "1"
    );
    assert_eq!(
        ab.text("document.getElementById('title').textContent"),
        "CERT <b>web</b> hub"
    );
    ab.screenshot("alice-status");

    // ----- A bad token is refused; sign-out ends the session. -----
    let mut xb = Browser::start("stranger");
    let dom = xb.sign_in(&base, "dtk_not-a-token");
    assert!(dom.contains("id=\"loginerror\""), "{dom}");
    assert_eq!(xb.member(), "");
    xb.screenshot("bad-token");
    cb.goto(&coll);
    let dom = cb.submit_with("#signout");
    assert!(dom.contains("data-member=\"\""), "{dom}");
    cb.goto(&coll);
    let mut rows = cb.rows();
    rows.sort();
    assert_eq!(rows, [oid(1), oid(5)], "signed out: anonymous again");
    cb.screenshot("carol-signed-out");
}
