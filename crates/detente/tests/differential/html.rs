//! HTML normalisation against clamscan. Random pages are assembled from fragments that reach
//! every state of ClamAV's normaliser: tags and attributes in every quoting, comments,
//! character references (named, decimal, hexadecimal, unknown, overflowing, unfinished),
//! multi-byte characters, scripts and styles, `data:` URIs (base64 and percent-encoded),
//! Script Encoder blocks, NUL bytes, and words and pages long enough to cross the
//! normaliser's 8 KiB chunks. For each page the MD5 of detente's normalised markup and text
//! is a hash signature: clamscan reports it only if its own normalised documents are the
//! same bytes. Besides: target-3 and target-7 body signatures, a hash of the raw page (which
//! clamscan does not scan raw), text files with HTML after their first KiB (normalised,
//! and their text then not normalised for target 7), UTF-16 pages, a GIF with a script, and a payload in a `data:` URI.
//!
//! Every script is closed in the fragment that opens it, and no signature matches script
//! text: clamscan also scans the output of its JavaScript normaliser, which detente does not
//! have (a known gap; see the `html` module).

use md5::{Digest as _, Md5};

use super::*;

fn md5hex(b: &[u8]) -> String {
    Md5::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

fn b64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// A Script Encoder block of `n` (< 256) random encoded characters.
fn screnc_block(rng: &mut Rng, n: usize) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::from("#@~^");
    s.push(B64[n >> 2] as char);
    s.push(B64[(n & 3) << 4] as char);
    s.push_str("AAAA==");
    for _ in 0..n {
        // Printable ASCII, `@` (the escape) included.
        s.push((0x21 + rng.below(0x5e) as u8) as char);
    }
    s.push_str("AAAAAA==^#~@");
    s
}

fn fragment(rng: &mut Rng, payload_b64: &str, encoded_scripts: bool) -> Vec<u8> {
    const FIXED: &[&str] = &[
        "<html>",
        "<HTML>",
        "<Head>",
        "<body bgcolor=Red>",
        "</body>",
        "<p>",
        "</P>",
        "Hello",
        "World",
        "MiXeD CaSe",
        "  ",
        "\n",
        "\r\n",
        "\t",
        " x ",
        "&amp;",
        "&lt;",
        "&gt;",
        "&nbsp;",
        "&eacute;",
        "&Kcy;",
        "&rsaquo;",
        "&nosuch;",
        "&amp",
        "& ",
        "&&",
        "&#65;",
        "&#x41;",
        "&#X4a;",
        "&#1234;",
        "&#x3002;",
        "&#0;",
        "&#99999999999999999999999;",
        "&#;",
        "&#x;",
        "&#xFFFF;",
        "&#65",
        "<!-- comment -->",
        "<!-- a > b -->",
        "<!DOCTYPE html>",
        "<a href=\"http://Example.COM/x\">",
        "<a href='Y'>",
        "<A HREF=z title=\"T T\">",
        "</a>",
        "<img src=\"I.png\" alt='x y'>",
        "<img src=>",
        "<script>var A='x';</script>",
        "<SCRIPT language=\"JavaScript\">if (a<b) {c='D'}</SCRIPT>",
        "</script>",
        "<script><!-- in script? --></script>",
        "<style>p {color:red}</style>",
        "<style>",
        "</style>",
        "<div class=\"a b\" id=c data-x='y'>",
        "<input value=\"a\\\"b\">",
        "<x a=1 b = 2 c= '3' d>",
        "<  p  >",
        "< /p>",
        "<>",
        "<",
        ">",
        "=",
        "'",
        "\"",
        "\\",
        "<a href=\"&amp;x&#65;\">",
        "<a href=data:,Hello%20World%41%4G%>",
        "<a href=\"data:text/html,<b>x</b> y\">",
        "<img src='data:image/gif;base64,R0lGOD'>",
        "<a href=\"DATA:x\">",
        "<a href=\"data:a b,c\">",
        "<a href=data:>",
        "<a b=\"data:\">",
        "<%@ LANGUAGE = VBScript.Encode %>",
        "<%@ language=\"jscript.encode\" %>",
        "\u{e9}",
        "\u{65e5}\u{672c}",
        "\u{3002}",
        "\u{20ac}",
        "\u{ff0e}",
        "\u{1f600}",
    ];
    const RAW: &[&[u8]] = &[
        b"\0",
        b"\x01",
        b"\xa1C",
        b"\xa1",
        b"\xff\xfe",
        b"\x80x",
        b"\x7f",
    ];
    match rng.below(100) {
        0..=79 => FIXED[rng.below(FIXED.len())].as_bytes().to_vec(),
        80..=87 => RAW[rng.below(RAW.len())].to_vec(),
        88..=91 => {
            let n = rng.below(40);
            let block = screnc_block(rng, n);
            match if encoded_scripts { rng.below(3) } else { 0 } {
                0 => block.into_bytes(),
                1 => format!("<script language=\"JScript.Encode\">{block}</script>").into_bytes(),
                _ => format!("<script language=vbscript.encode>{block}</script>").into_bytes(),
            }
        }
        92 => {
            format!("<img src=\"data:application/octet-stream;base64,{payload_b64}\">").into_bytes()
        }
        93..=95 => {
            let n = rng.range(1, 30);
            rng.alnum(n).into_bytes()
        }
        96 => {
            let n = rng.range(100, 9000);
            vec![b'w'; n]
        }
        _ => {
            // A long run of words, to cross a chunk boundary.
            let mut v = Vec::new();
            for _ in 0..rng.range(100, 1500) {
                let n = rng.range(1, 9);
                v.extend_from_slice(rng.alnum(n).as_bytes());
                v.push(b' ');
            }
            v
        }
    }
}

#[test]
fn clamav_html_normalisation() {
    require_tools();
    let tmp_dir = tempfile::tempdir().unwrap();
    let tmp = tmp_dir.path();
    let root = tmp.join("corpus");
    fs::create_dir_all(&root).unwrap();
    let mut rng = Rng::new(0x4854_4d4c);
    let payload = format!("HTML-DATA-URI-PAYLOAD {}", rng.alnum(200)).repeat(5);
    let payload_b64 = b64(payload.as_bytes());
    let mut hdb = String::new();
    let mut pages: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..160 {
        let n = match i % 8 {
            0 => rng.range(200, 1200),
            _ => rng.range(1, 60),
        };
        // Encoded scripts only on pages of their own: after one, ClamAV's JavaScript
        // normaliser may take in the markup that follows.
        let encoded = i % 10 == 9;
        let mut page = b"<html>".to_vec();
        for _ in 0..n {
            page.extend(fragment(&mut rng, &payload_b64, encoded));
        }
        // Encoded-script pages go to a directory of their own, matched by hashes only.
        let dir = if encoded { "encoded" } else { "plain" };
        pages.push((format!("{dir}/p{i:03}.html"), page));
    }
    // Text with HTML only after its first KiB (typed as text: scanned raw, then normalised,
    // and its text not normalised for target 7), and a GIF with a script in it.
    for i in 0..4 {
        // No script: ClamAV's JavaScript normaliser would write out text around it.
        let mut t = b"Plain text that mentions TARGET SEVEN words. ".repeat(40 + i);
        t.extend_from_slice(b"<table><tr><td>Hello World</td></tr></table> &amp; &#65; <a href=X>");
        t.extend_from_slice(
            format!("<img src=\"data:text/plain;base64,{payload_b64}\">").as_bytes(),
        );
        pages.push((format!("plain/late{i}.txt"), t));
    }
    pages.push((
        "plain/plain.txt".into(),
        b"Plain text that mentions TARGET SEVEN words, and <b>no</b> page markers.".to_vec(),
    ));
    // UTF-16LE pages, with and without a byte-order mark (CL_TYPE_HTML_UTF16: read as bytes,
    // then normalised).
    for i in 0..6 {
        let mut page = b"<html><body>".to_vec();
        for _ in 0..rng.range(5, 80) {
            page.extend(fragment(&mut rng, &payload_b64, false));
        }
        let mut wide: Vec<u8> = if i % 2 == 0 {
            vec![0xff, 0xfe]
        } else {
            Vec::new()
        };
        wide.extend(page.iter().flat_map(|&b| [b, 0]));
        pages.push((format!("plain/wide{i}.html"), wide));
    }
    let mut gif = b"GIF89a\x01\x00\x01\x00".to_vec();
    gif.extend_from_slice(b"\0\0\0<script>alert('GIF-SCRIPT')</script>");
    pages.push(("plain/script.gif".into(), gif));
    fs::create_dir_all(root.join("plain")).unwrap();
    fs::create_dir_all(root.join("encoded")).unwrap();
    // One signature per distinct hash (of duplicates, ClamAV reports only one name).
    let mut seen = std::collections::HashSet::new();
    let mut sig = |hdb: &mut String, data: &[u8], name: String| {
        if seen.insert(md5hex(data)) {
            writeln!(hdb, "{}:{}:{name}", md5hex(data), data.len()).unwrap();
        }
    };
    sig(&mut hdb, payload.as_bytes(), "H.payload".into());
    for (name, page) in &pages {
        fs::write(root.join(name), page).unwrap();
        let n = if name.contains("/wide") {
            detente_scan::html::normalize(&detente_engine::filetype::utf16_to_ascii(page))
        } else {
            detente_scan::html::normalize(page)
        };
        let stem = name.rsplit('/').next().unwrap_or(name).replace('.', "_");
        if !n.nocomment.is_empty() {
            sig(&mut hdb, &n.nocomment, format!("NC.{stem}"));
        }
        if !n.notags.is_empty() {
            sig(&mut hdb, &n.notags, format!("NT.{stem}"));
        }
        for (k, d) in n.data_uris.iter().enumerate().take(3) {
            // The data documents themselves are scanned as files (typed as mail by their
            // first line), so their hashes match too.
            sig(&mut hdb, d, format!("DU{k}.{stem}"));
        }
        if name.starts_with("plain/p00") {
            sig(&mut hdb, page, format!("RAW.{stem}"));
        }
    }
    let ndb = [
        format!("T3.hello:3:*:{}", hex(b"hello world")),
        format!("T3.tag:3:*:{}", hex(b"<body bgcolor=red>")),
        format!("T0.mixed:0:*:{}", hex(b"mixed case")),
        format!("T0.gif:0:*:{}", hex(b"gif-script")),
        format!("T7.seven:7:*:{}", hex(b"target seven words")),
    ]
    .join("\n");
    let db = tmp.join("db");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("t.hdb"), &hdb).unwrap();
    let hashes_only = tmp.join("t.hdb");
    fs::write(&hashes_only, &hdb).unwrap();
    fs::write(db.join("t.ndb"), ndb + "\n").unwrap();
    let encoded = compare_with_clamscan(
        "HTML with encoded scripts",
        &hashes_only,
        &root.join("encoded"),
        &["--allmatch"],
        &["--allmatch"],
    );
    let plain = root.join("plain");
    let mut oracle = compare_with_clamscan("HTML", &db, &plain, &["--allmatch"], &["--allmatch"]);
    oracle.extend(encoded);
    // The harness: normalised documents were matched (so the comparison compared bytes),
    // a data URI's payload was found, raw pages were not matched.
    let nc = oracle.iter().filter(|(_, v)| v.starts_with("NC.")).count();
    let nt = oracle.iter().filter(|(_, v)| v.starts_with("NT.")).count();
    assert!(
        nc >= 150 && nt >= 150,
        "harness: clamscan matched {nc} NC and {nt} NT hashes"
    );
    expect_oracle(
        &oracle,
        true,
        &[("plain.txt", "T7.seven"), ("script.gif", "T0.gif")],
    );
    expect_oracle(
        &oracle,
        false,
        &[("late0.txt", "T7.seven"), ("p000.html", "RAW.p000_html")],
    );
    assert!(
        oracle.iter().any(|(_, v)| v == "H.payload FOUND"),
        "harness: no data URI payload found by clamscan"
    );
    compare_with_clamscan("HTML", &db, &plain, &[], &[]);
}
