//! The hub's operations, on both stores (SQLite and a real PostgreSQL server): submissions
//! and their status, duplicates, `date_added`, filters and paging, cursors, signatures,
//! receipts, deletion, and the TLP access property over random members and objects.

mod common;

use common::*;
use detente_hub::entry::{hash_hex, sha256, verify_receipt};
use detente_hub::{Hub, Member, ReadKind, Tlp};
use detente_policy::Policy;
use ed25519_dalek::Signer as _;
use serde_json::{json, Value};

const C: &str = "91a7b528-80eb-42ed-a74d-c6fbd5a26116";

fn setup(b: Backend) -> (tempfile::TempDir, Hub) {
    let d = tempfile::tempdir().unwrap();
    let h = hub(b, d.path());
    collection(&h, C, Tlp::Green, &["*"], &["*"]);
    (d, h)
}

fn ids(h: &Hub, who: Option<&Member>, kind: &ReadKind, q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let q2 = match &next {
            Some(n) => format!("{q}&next={n}"),
            None => q.to_string(),
        };
        match h.read(who, C, kind, &q2) {
            Ok(p) => {
                out.extend(p.versions.iter().map(|v| format!("{}@{}", v.id, v.version)));
                assert_eq!(p.more, p.next.is_some(), "more always comes with next");
                match p.next {
                    Some(n) => next = Some(n),
                    None => break,
                }
            }
            Err(e) if e.status == 404 => break,
            Err(e) => panic!("{e:?}"),
        }
    }
    out
}

#[test]
fn envelope_keeps_valid_objects_and_reports_each_invalid_one() {
    for b in backends() {
        let (_d, h) = setup(b);
        let a = member(&h, "alice", "acme", &[], None);
        let good = indicator(1, "2021-01-01T00:00:00.000Z", None, &[]);
        let mut no_pattern = indicator(2, "2021-01-01T00:00:00.000Z", None, &[]);
        no_pattern.as_object_mut().unwrap().remove("pattern");
        let bad_id = json!({"type": "malware", "spec_version": "2.1", "id": "malware--nope",
            "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z", "name": "x",
            "is_family": false});
        let st = h
            .submit(
                &a,
                C,
                &envelope(&[good.clone(), no_pattern, bad_id]),
                1_000,
                "s1".into(),
            )
            .unwrap();
        assert_eq!(st["status"], "complete");
        assert_eq!(
            (st["success_count"].as_u64(), st["failure_count"].as_u64()),
            (Some(1), Some(2)),
            "{st}"
        );
        let msgs: Vec<&str> = st["failures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["message"].as_str().unwrap())
            .collect();
        assert!(msgs.iter().any(|m| m.contains("pattern")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("identifier")), "{msgs:?}");
        assert_eq!(h.store().count(C).unwrap(), 1);
        // The status belongs to its poster.
        assert_eq!(h.status(&a.member, "s1").unwrap()["id"], "s1");
        let bob = member(&h, "bob", "beta", &[], None);
        assert_eq!(h.status(&bob.member, "s1").unwrap_err().status, 404);

        // Exact duplicate: success, no new version, no new log entry.
        let size = log_size(&h);
        let st = h
            .submit(
                &a,
                C,
                &envelope(std::slice::from_ref(&good)),
                2_000,
                "s2".into(),
            )
            .unwrap();
        assert_eq!(st["success_count"], 1);
        assert_eq!(st["successes"][0]["message"], "already present");
        assert_eq!(log_size(&h), size);
        // Same id and version, different content: refused.
        let mut other = good.clone();
        other["name"] = json!("changed");
        let st = h
            .submit(&a, C, &envelope(&[other]), 3_000, "s3".into())
            .unwrap();
        assert_eq!(st["failure_count"], 1);
        assert_eq!(h.store().count(C).unwrap(), 1);
        // The object comes back exactly (canonical JSON, same value).
        let p = h.read(Some(&a.member), C, &ReadKind::Objects, "").unwrap();
        let back: Value = serde_json::from_slice(&p.versions[0].body).unwrap();
        assert_eq!(back, good);
    }
}

fn log_size(h: &Hub) -> u64 {
    let cp = h.checkpoint().unwrap();
    detente_note::SignedCheckpoint::parse(&cp)
        .unwrap()
        .checkpoint
        .size()
}

#[test]
fn date_added_strictly_increases_even_with_a_clock_that_stands_still_or_goes_back() {
    for b in backends() {
        let (_d, h) = setup(b);
        let a = member(&h, "alice", "acme", &[], None);
        let objs: Vec<Value> = (0..50)
            .map(|i| indicator(i, "2021-01-01T00:00:00Z", None, &[]))
            .collect();
        h.submit(&a, C, &envelope(&objs[..25]), 5_000_000, "a".into())
            .unwrap();
        h.submit(&a, C, &envelope(&objs[25..]), 1_000, "b".into())
            .unwrap();
        let p = h
            .read(Some(&a.member), C, &ReadKind::Objects, "limit=1000")
            .unwrap();
        let seqs: Vec<i64> = p.versions.iter().map(|v| v.seq).collect();
        assert_eq!(seqs.len(), 50);
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        // Log indices follow too.
        let idx: Vec<u64> = p.versions.iter().map(|v| v.log_index).collect();
        assert_eq!(idx, (0..50).collect::<Vec<_>>());
    }
}

#[test]
fn filters_versions_and_paging() {
    for b in backends() {
        let (_d, h) = setup(b);
        let a = member(&h, "alice", "acme", &[], None);
        let mut objs = Vec::new();
        for i in 0..30u64 {
            for m in [
                "2021-01-01T00:00:00Z",
                "2021-06-01T00:00:00.5Z",
                "2022-01-01T00:00:00Z",
            ] {
                objs.push(indicator(i, m, None, &[]));
            }
        }
        let malware = json!({"type": "malware", "spec_version": "2.1",
            "id": "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b", "created": "2020-01-01T00:00:00Z",
            "modified": "2020-01-01T00:00:00Z", "name": "m", "is_family": false});
        objs.push(malware);
        h.submit(&a, C, &envelope(&objs), 10_000_000, "s".into())
            .unwrap();
        let who = Some(&a.member);
        // Default: last version of each object.
        let last = ids(&h, who, &ReadKind::Objects, "limit=7");
        assert_eq!(last.len(), 31);
        assert!(last
            .iter()
            .filter(|s| s.starts_with("indicator"))
            .all(|s| s.ends_with("2022-01-01T00:00:00Z")));
        let all = ids(&h, who, &ReadKind::Objects, "limit=10&match[version]=all");
        assert_eq!(all.len(), 91);
        let first = ids(
            &h,
            who,
            &ReadKind::Objects,
            "match[version]=first&match[type]=indicator",
        );
        assert_eq!(first.len(), 30);
        assert!(first.iter().all(|s| s.ends_with("2021-01-01T00:00:00Z")));
        let at = ids(
            &h,
            who,
            &ReadKind::Objects,
            "match[version]=2021-06-01T00:00:00.500Z",
        );
        assert_eq!(
            at.len(),
            30,
            "a timestamp matches by instant, whatever its precision"
        );
        let both = ids(
            &h,
            who,
            &ReadKind::Objects,
            "match[version]=first,last&match[type]=indicator",
        );
        assert_eq!(both.len(), 60);
        assert_eq!(
            ids(&h, who, &ReadKind::Objects, "match[type]=malware").len(),
            1
        );
        assert_eq!(
            ids(&h, who, &ReadKind::Objects, "match[spec_version]=2.0").len(),
            0
        );
        let one = "indicator--00000000-0000-4000-8000-000000000005";
        assert_eq!(ids(&h, who, &ReadKind::Object(one.into()), "").len(), 1);
        assert_eq!(ids(&h, who, &ReadKind::Versions(one.into()), "").len(), 3);
        assert_eq!(
            ids(
                &h,
                who,
                &ReadKind::Objects,
                &format!("match[id]={one}&match[version]=all")
            )
            .len(),
            3
        );

        // added_after is exclusive.
        let p = h
            .read(who, C, &ReadKind::Objects, "match[version]=all&limit=10")
            .unwrap();
        let tenth = detente_hub::time::format_micros(p.versions[9].seq);
        let rest = ids(
            &h,
            who,
            &ReadKind::Objects,
            &format!("match[version]=all&added_after={tenth}"),
        );
        assert_eq!(rest.len(), 81);

        // Cursors: bound to the member, the filters and the position.
        let p = h.read(who, C, &ReadKind::Objects, "limit=5").unwrap();
        let n = p.next.clone().unwrap();
        let bob = member(&h, "bob", "beta", &[], None);
        let e = h
            .read(
                Some(&bob.member),
                C,
                &ReadKind::Objects,
                &format!("limit=5&next={n}"),
            )
            .unwrap_err();
        assert_eq!(e.status, 400);
        let e = h
            .read(
                who,
                C,
                &ReadKind::Objects,
                &format!("limit=5&match[type]=malware&next={n}"),
            )
            .unwrap_err();
        assert_eq!(e.status, 400);
        let mut t = n.into_bytes();
        t[3] = if t[3] == b'A' { b'B' } else { b'A' };
        let e = h
            .read(
                who,
                C,
                &ReadKind::Objects,
                &format!("limit=5&next={}", String::from_utf8(t).unwrap()),
            )
            .unwrap_err();
        assert_eq!(e.status, 400);
        // Bad parameters.
        for q in ["limit=0", "added_after=yesterday", "match[version]=newest"] {
            assert_eq!(
                h.read(who, C, &ReadKind::Objects, q).unwrap_err().status,
                400,
                "{q}"
            );
        }
    }
}

#[test]
fn signatures_are_verified_and_receipts_prove_them_offline() {
    for b in backends() {
        let (_d, h) = setup(b);
        let sk = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let a = member(
            &h,
            "alice",
            "acme",
            &[],
            Some(sk.verifying_key().to_bytes()),
        );
        let nokey = member(&h, "nokey", "acme", &[], None);
        let o = indicator(1, "2021-01-01T00:00:00Z", None, &[]);
        let canon = detente_stix::canonical(&o).unwrap();
        let h_hex = hash_hex(&sha256(&canon));
        let sig = base64_encode(&sk.sign(&canon).to_bytes());
        // Forged: a signature over something else.
        let forged = base64_encode(&sk.sign(b"something else").to_bytes());
        let env = |s: &str| {
            json!({"objects": [o.clone()], "x_detente_signatures": {h_hex.clone(): s}})
                .to_string()
                .into_bytes()
        };
        let st = h.submit(&a, C, &env(&forged), 1, "f".into()).unwrap();
        assert_eq!(st["failure_count"], 1, "{st}");
        assert!(st["failures"][0]["message"]
            .as_str()
            .unwrap()
            .contains("signature"));
        let st = h.submit(&nokey, C, &env(&sig), 2, "n".into()).unwrap();
        assert_eq!(st["failure_count"], 1, "{st}");
        assert_eq!(h.store().count(C).unwrap(), 0);
        let st = h.submit(&a, C, &env(&sig), 3, "ok".into()).unwrap();
        assert_eq!(st["success_count"], 1, "{st}");

        let p = h.read(Some(&a.member), C, &ReadKind::Objects, "").unwrap();
        let v = &p.versions[0];
        assert!(v.signature.is_some());
        let receipt = h.receipt(v).unwrap();
        let vkey = detente_note::Ed25519Signer::from_seed("hub.test/log", [3; 32])
            .unwrap()
            .verifier()
            .to_string();
        let policy = Policy::parse(format!("log {vkey}\nquorum none\n").as_bytes()).unwrap();
        let r = verify_receipt(receipt.as_bytes(), &policy, Some(&canon)).unwrap();
        assert_eq!(r.entry.member, "alice");
        assert_eq!(r.entry.date_added, detente_hub::time::format_micros(v.seq));
        let chk = r.object.unwrap();
        assert!(chk.hash_matches && chk.signature_verifies);
        // Another object is not the one the receipt is for.
        let other =
            detente_stix::canonical(&indicator(2, "2021-01-01T00:00:00Z", None, &[])).unwrap();
        let r = verify_receipt(receipt.as_bytes(), &policy, Some(&other)).unwrap();
        assert!(!r.object.unwrap().hash_matches);
        // A receipt under another log key does not verify.
        let k2 = detente_note::Ed25519Signer::from_seed("hub.test/log", [4; 32])
            .unwrap()
            .verifier()
            .to_string();
        let p2 = Policy::parse(format!("log {k2}\nquorum none\n").as_bytes()).unwrap();
        assert!(verify_receipt(receipt.as_bytes(), &p2, None).is_err());
    }
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn hostile_envelopes_are_refused_and_nothing_is_stored() {
    for b in backends() {
        let (_d, h) = setup(b);
        let a = member(&h, "alice", "acme", &[], None);
        let size = log_size(&h);
        let deep = format!("{{\"objects\":[{}{}]}}", "[".repeat(100), "]".repeat(100));
        let huge = vec![b' '; detente_hub::MAX_CONTENT_LENGTH + 1];
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("deep", deep.into_bytes()),
            ("huge", huge),
            ("not json", b"{\"objects\": [".to_vec()),
            ("not an envelope", b"[1,2]".to_vec()),
            ("objects not a list", b"{\"objects\": {}}".to_vec()),
            (
                "signatures not an object",
                b"{\"objects\": [], \"x_detente_signatures\": 1}".to_vec(),
            ),
        ];
        for (name, body) in cases {
            let e = h.submit(&a, C, &body, 1, format!("s-{name}")).unwrap_err();
            assert_eq!(e.status, 400, "{name}: {e:?}");
        }
        // Malformed STIX inside a good envelope: each refused, nothing stored.
        let bad = vec![
            json!(1),
            json!({"type": "indicator"}),
            json!({"type": "x", "id": "x--1"}),
            indicator(1, "not a time", None, &[]),
            indicator(2, "2021-01-01T00:00:00Z", None, &["nobody"]),
        ];
        let st = h.submit(&a, C, &envelope(&bad), 2, "m".into()).unwrap();
        assert_eq!(st["failure_count"], 5, "{st}");
        assert_eq!(h.store().count(C).unwrap(), 0);
        assert_eq!(log_size(&h), size, "nothing refused reaches the log");
        // No write right: 403; unknown collection: 404.
        collection(&h, "ro", Tlp::Green, &["*"], &["org:other"]);
        assert_eq!(
            h.submit(&a, "ro", &envelope(&[]), 3, "x".into())
                .unwrap_err()
                .status,
            403
        );
        assert_eq!(
            h.submit(&a, "nope", &envelope(&[]), 3, "y".into())
                .unwrap_err()
                .status,
            404
        );
        // Bad tokens.
        for (user, tok) in [
            (None, "tok-mallory"),
            (Some("bob"), "tok-alice"),
            (None, ""),
        ] {
            let c = detente_hub::Credentials {
                user: user.map(str::to_string),
                token: tok.into(),
            };
            assert_eq!(h.authenticate(&c).unwrap_err().status, 401);
        }
        let c = detente_hub::Credentials {
            user: Some("alice".into()),
            token: "tok-alice".into(),
        };
        assert_eq!(h.authenticate(&c).unwrap().member.name, "alice");
    }
}

#[test]
fn deletion_is_the_submitters_and_is_logged() {
    for b in backends() {
        let (_d, h) = setup(b);
        let a = member(&h, "alice", "acme", &[], None);
        let a2 = member(&h, "alice2", "acme", &[], None);
        let bob = member(&h, "bob", "beta", &[], None);
        let o1 = indicator(1, "2021-01-01T00:00:00Z", None, &[]);
        let o2 = indicator(1, "2022-01-01T00:00:00Z", None, &[]);
        h.submit(&a, C, &envelope(&[o1, o2]), 1, "s".into())
            .unwrap();
        let id = "indicator--00000000-0000-4000-8000-000000000001";
        assert_eq!(h.delete(&bob, C, id, "", 2).unwrap_err().status, 403);
        let size = log_size(&h);
        assert_eq!(h.delete(&a2, C, id, "match[version]=first", 3).unwrap(), 1);
        assert_eq!(log_size(&h), size + 1);
        assert_eq!(
            ids(&h, Some(&a.member), &ReadKind::Versions(id.into()), "").len(),
            1
        );
        assert_eq!(h.delete(&a, C, id, "", 4).unwrap(), 1);
        assert_eq!(h.delete(&a, C, id, "", 5).unwrap_err().status, 404);
    }
}

/// (id, version, level, sender index, recipients) of a submitted version.
type Modelled = (String, String, Option<Tlp>, usize, Vec<String>);

/// The access property: over random members (organisations, groups), random objects
/// (levels, recipients, several versions), every read path returns to each reader exactly
/// the versions the model allows, and nothing else.
#[test]
fn no_read_path_returns_an_object_its_marking_does_not_allow() {
    for b in backends() {
        let (_d, h) = setup(b);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ b as u64);
        let orgs = ["acme", "beta", "gamma"];
        let groups = ["eu", "nato", "g7"];
        let mut members = Vec::new();
        for i in 0..9 {
            let org = orgs[i % 3];
            let g: Vec<&str> = groups
                .iter()
                .copied()
                .filter(|_| rng.below(2) == 0)
                .collect();
            members.push(member(&h, &format!("m{i}"), org, &g, None));
        }
        let levels = [
            None,
            Some(Tlp::Clear),
            Some(Tlp::Green),
            Some(Tlp::Amber),
            Some(Tlp::AmberStrict),
            Some(Tlp::Red),
        ];
        // (id, version, level, sender, recipients)
        let mut model: Vec<Modelled> = Vec::new();
        for n in 0..120u64 {
            let sender = rng.below(9) as usize;
            let versions = 1 + rng.below(3);
            let mut objs = Vec::new();
            for v in 0..versions {
                let lvl = levels[rng.below(6) as usize];
                let mut rec: Vec<String> = Vec::new();
                for _ in 0..rng.below(3) {
                    rec.push(match rng.below(3) {
                        0 => format!("org:{}", orgs[rng.below(3) as usize]),
                        1 => format!("group:{}", groups[rng.below(3) as usize]),
                        _ => format!("member:m{}", rng.below(9)),
                    });
                }
                let modified = format!("2021-01-0{}T00:00:00Z", v + 1);
                let refs: Vec<&str> = rec.iter().map(String::as_str).collect();
                objs.push(indicator(n, &modified, lvl, &refs));
                model.push((
                    indicator(n, &modified, None, &[])["id"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                    modified,
                    lvl,
                    sender,
                    rec,
                ));
            }
            let st = h
                .submit(
                    &members[sender],
                    C,
                    &envelope(&objs),
                    n as i64,
                    format!("s{n}"),
                )
                .unwrap();
            assert_eq!(st["failure_count"], 0, "{st}");
        }
        let sees = |m: &Member, lvl: Option<Tlp>, sender: usize, rec: &[String]| -> bool {
            let s = &members[sender].member;
            let p = m.principals();
            match lvl.unwrap_or(Tlp::Green) {
                Tlp::Clear | Tlp::Green => true,
                Tlp::Amber => {
                    m.org == s.org || m.name == s.name || rec.iter().any(|r| p.contains(r))
                }
                Tlp::AmberStrict => m.org == s.org,
                Tlp::Red => {
                    m.name == s.name
                        || rec
                            .iter()
                            .any(|r| r.starts_with("member:") && p.contains(r))
                }
            }
        };
        let readers: Vec<Option<&Member>> = std::iter::once(None)
            .chain(members.iter().map(|m| Some(&m.member)))
            .collect();
        for who in readers {
            let allowed = |lvl: Option<Tlp>, sender: usize, rec: &[String]| match who {
                None => false, // the collection is readable by members only
                Some(m) => sees(m, lvl, sender, rec),
            };
            let mut want_all: Vec<String> = model
                .iter()
                .filter(|(_, _, l, s, r)| allowed(*l, *s, r))
                .map(|(id, v, ..)| format!("{id}@{v}"))
                .collect();
            want_all.sort();
            if who.is_none() {
                assert_eq!(
                    h.read(None, C, &ReadKind::Objects, "").unwrap_err().status,
                    401
                );
                continue;
            }
            let mut got = ids(&h, who, &ReadKind::Objects, "match[version]=all&limit=13");
            got.sort();
            assert_eq!(got, want_all, "objects, all versions, for {who:?}");
            let mut got = ids(&h, who, &ReadKind::Manifest, "match[version]=all&limit=50");
            got.sort();
            assert_eq!(got, want_all, "manifest for {who:?}");
            // Latest visible version per id, by objects and manifest.
            let mut last: std::collections::BTreeMap<String, String> = Default::default();
            for s in &want_all {
                let (id, v) = s.split_once('@').unwrap();
                let e = last.entry(id.to_string()).or_default();
                if v > e.as_str() {
                    *e = v.to_string();
                }
            }
            let want_last: Vec<String> = last.iter().map(|(i, v)| format!("{i}@{v}")).collect();
            let mut got = ids(&h, who, &ReadKind::Objects, "limit=17");
            got.sort();
            assert_eq!(got, want_last, "objects, last version, for {who:?}");
            // Per object: object fetch, versions and provenance.
            for n in (0..120u64).step_by(7) {
                let id = indicator(n, "2021-01-01T00:00:00Z", None, &[])["id"]
                    .as_str()
                    .unwrap()
                    .to_string();
                let mut want: Vec<String> = want_all
                    .iter()
                    .filter(|s| s.starts_with(&format!("{id}@")))
                    .cloned()
                    .collect();
                want.sort();
                let mut got = ids(&h, who, &ReadKind::Versions(id.clone()), "");
                got.sort();
                assert_eq!(got, want, "versions of {id} for {who:?}");
                let mut got = ids(&h, who, &ReadKind::Object(id.clone()), "match[version]=all");
                got.sort();
                assert_eq!(got, want, "object {id} for {who:?}");
                match h.provenance(who, C, &id, "") {
                    Ok(p) => assert_eq!(p["provenance"].as_array().unwrap().len(), want.len()),
                    Err(e) => {
                        assert_eq!(e.status, 404);
                        assert!(want.is_empty());
                        // Hidden and missing look the same.
                        let missing = h
                            .provenance(
                                who,
                                C,
                                "indicator--ffffffff-0000-4000-8000-000000000000",
                                "",
                            )
                            .unwrap_err();
                        assert_eq!(e, missing);
                    }
                }
            }
        }
    }
}

#[test]
fn everything_acknowledged_survives_a_reopen_and_the_log_matches() {
    for b in backends() {
        let d = tempfile::tempdir().unwrap();
        let url;
        {
            let h = hub(b, d.path());
            collection(&h, C, Tlp::Green, &["*"], &["*"]);
            let a = member(&h, "alice", "acme", &[], None);
            let objs: Vec<Value> = (0..40)
                .map(|i| indicator(i, "2021-01-01T00:00:00Z", None, &[]))
                .collect();
            h.submit(&a, C, &envelope(&objs), 1, "s".into()).unwrap();
            url = match b {
                Backend::Postgres => None,
                Backend::Sqlite => Some(()),
            };
        }
        if url.is_none() {
            // PostgreSQL: a fresh database per test; reopening over it is covered by the
            // kill -9 test of the binary. Nothing more to do here.
            continue;
        }
        let st = store(b, d.path());
        let h = reopen(st, d.path());
        let a = h
            .authenticate(&detente_hub::Credentials {
                user: None,
                token: "tok-alice".into(),
            })
            .unwrap();
        let p = h
            .read(Some(&a.member), C, &ReadKind::Objects, "limit=1000")
            .unwrap();
        assert_eq!(p.versions.len(), 40);
        // New submissions continue after the old ones, in the log and in date_added.
        h.submit(
            &a,
            C,
            &envelope(&[indicator(99, "2021-01-01T00:00:00Z", None, &[])]),
            0,
            "t".into(),
        )
        .unwrap();
        let p = h
            .read(Some(&a.member), C, &ReadKind::Objects, "limit=1000")
            .unwrap();
        assert_eq!(p.versions.last().unwrap().log_index, 40);
        assert!(p.versions.windows(2).all(|w| w[0].seq < w[1].seq));
    }
}

#[test]
fn evidence_files_are_content_addressed_bounded_and_follow_the_objects_markings() {
    for b in backends() {
        let (d, h) = setup(b);
        let h = h.with_evidence(d.path().join("evidence"), 1024);
        let a = member(&h, "alice", "acme", &[], None);
        let bob = member(&h, "bob", "beta", &[], None);
        let carol = member(&h, "carol", "gamma", &[], None);
        let sample = b"MZ\x90\x00 not really a sample".to_vec();
        let sha = hash_hex(&sha256(&sample));
        let put = h.put_evidence(&a.member, &sample).unwrap();
        assert_eq!(put["sha256"], sha.as_str());
        assert_eq!(
            h.put_evidence(&a.member, &vec![0; 1025])
                .unwrap_err()
                .status,
            413
        );
        // Not referenced yet: nobody reads it.
        assert_eq!(
            h.get_evidence(Some(&a.member), &sha).unwrap_err().status,
            404
        );
        let artifact = json!({"type": "artifact", "spec_version": "2.1",
            "id": "artifact--6f437177-6e48-4f14-9bd6-9e1fe8b43a4b",
            "mime_type": "application/octet-stream",
            "url": format!("https://hub.example/api/evidence/{sha}"),
            "hashes": {"SHA-256": sha.to_uppercase()},
            "object_marking_refs": [Tlp::Red.marking_id()],
            "x_detente_recipients": ["member:bob"]});
        let st = h
            .submit(&a, C, &envelope(&[artifact]), 1, "s".into())
            .unwrap();
        assert_eq!(st["success_count"], 1, "{st}");
        assert_eq!(h.get_evidence(Some(&bob.member), &sha).unwrap(), sample);
        assert_eq!(h.get_evidence(Some(&a.member), &sha).unwrap(), sample);
        let hidden = h.get_evidence(Some(&carol.member), &sha).unwrap_err();
        let missing = h
            .get_evidence(Some(&carol.member), &"0".repeat(64))
            .unwrap_err();
        assert_eq!(hidden, missing);
        assert_eq!(h.get_evidence(None, &sha).unwrap_err().status, 404);
        assert_eq!(
            h.get_evidence(Some(&bob.member), "../../etc/passwd")
                .unwrap_err()
                .status,
            404
        );
        // A file changed on disk is never served as the hash it is stored under.
        std::fs::write(d.path().join("evidence").join(&sha), b"tampered").unwrap();
        assert_eq!(
            h.get_evidence(Some(&bob.member), &sha).unwrap_err().status,
            500
        );
    }
}

#[test]
fn sightings_and_the_oasis_examples_are_accepted() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/stix");
    if !dir.is_dir() {
        eprintln!(
            "{}: not here, the OASIS examples suite is left out",
            dir.display()
        );
        return;
    }
    for b in backends() {
        let (_d, h) = setup(b);
        let a = member(&h, "alice", "acme", &[], None);
        for f in std::fs::read_dir(&dir).unwrap() {
            let p = f.unwrap().path();
            if p.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            let objs = v["objects"].as_array().cloned().unwrap_or_default();
            let st = h
                .submit(&a, C, &envelope(&objs), 1, format!("{}", p.display()))
                .unwrap();
            assert_eq!(st["failure_count"], 0, "{}: {st}", p.display());
            assert_eq!(
                st["success_count"].as_u64(),
                Some(objs.len() as u64),
                "{}",
                p.display()
            );
        }
        let sightings = ids(
            &h,
            Some(&a.member),
            &ReadKind::Objects,
            "match[type]=sighting",
        );
        assert!(!sightings.is_empty());
    }
}

#[test]
fn an_observable_sent_twice_is_one_version() {
    for b in backends() {
        let (_d, h) = setup(b);
        let a = member(&h, "alice", "acme", &[], None);
        let ip = json!({"type": "ipv4-addr", "spec_version": "2.1",
            "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "198.51.100.3"});
        h.submit(&a, C, &envelope(&[ip.clone(), ip.clone()]), 1, "a".into())
            .unwrap();
        let st = h
            .submit(&a, C, &envelope(std::slice::from_ref(&ip)), 2, "b".into())
            .unwrap();
        assert_eq!(st["successes"][0]["message"], "already present", "{st}");
        let v = ids(
            &h,
            Some(&a.member),
            &ReadKind::Versions("ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd".into()),
            "",
        );
        assert_eq!(v.len(), 1, "{v:?}");
        // Its version is its date_added.
        assert!(v[0].ends_with('Z'));
    }
}

#[test]
fn a_new_version_keeps_created_and_created_by_ref() {
    for b in backends() {
        let (_d, h) = setup(b);
        let a = member(&h, "alice", "acme", &[], None);
        let v1 = indicator(1, "2021-01-01T00:00:00Z", None, &[]);
        h.submit(&a, C, &envelope(&[v1]), 1, "a".into()).unwrap();
        let mut moved = indicator(1, "2022-01-01T00:00:00Z", None, &[]);
        moved["created"] = json!("2020-06-01T00:00:00Z");
        let mut other_creator = indicator(1, "2023-01-01T00:00:00Z", None, &[]);
        other_creator["created_by_ref"] = json!("identity--d2916708-57b9-5636-8689-62f049e9f727");
        let fine = indicator(1, "2024-01-01T00:00:00.000Z", None, &[]);
        let st = h
            .submit(
                &a,
                C,
                &envelope(&[moved, other_creator, fine]),
                2,
                "b".into(),
            )
            .unwrap();
        assert_eq!(
            (st["success_count"].as_u64(), st["failure_count"].as_u64()),
            (Some(1), Some(2)),
            "{st}"
        );
        assert!(st["failures"][0]["message"]
            .as_str()
            .unwrap()
            .contains("created"));
    }
}

#[test]
fn concurrent_submissions_commit_in_groups_without_losing_or_doubling_anything() {
    for b in backends() {
        let (_d, h) = setup(b);
        let h = std::sync::Arc::new(h);
        let a = member(&h, "alice", "acme", &[], None);
        let shared = indicator(777_777, "2021-01-01T00:00:00Z", None, &[]);
        let mut threads = Vec::new();
        for t in 0..8u64 {
            let (h, a, shared) = (h.clone(), a.clone(), shared.clone());
            threads.push(std::thread::spawn(move || {
                let mut acked = 0;
                for r in 0..10u64 {
                    let mut objs: Vec<Value> = (0..20)
                        .map(|i| {
                            indicator(
                                t * 1_000_000 + r * 100 + i,
                                "2021-01-01T00:00:00Z",
                                None,
                                &[],
                            )
                        })
                        .collect();
                    // Every envelope also carries the same new object.
                    objs.push(shared.clone());
                    let st = h
                        .submit(&a, C, &envelope(&objs), 5, format!("s-{t}-{r}"))
                        .unwrap();
                    assert_eq!(st["failure_count"], 0, "{st}");
                    assert_eq!(st["success_count"], 21, "{st}");
                    acked += 20;
                }
                acked
            }));
        }
        let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(
            h.store().count(C).unwrap(),
            total + 1,
            "the shared object is stored once"
        );
        let p = h
            .read(Some(&a.member), C, &ReadKind::Objects, "limit=1000")
            .unwrap();
        let mut all = p.versions;
        let mut next = p.next;
        while let Some(n) = next {
            let p = h
                .read(
                    Some(&a.member),
                    C,
                    &ReadKind::Objects,
                    &format!("limit=1000&next={n}"),
                )
                .unwrap();
            all.extend(p.versions);
            next = p.next;
        }
        assert_eq!(all.len() as u64, total + 1);
        assert!(
            all.windows(2).all(|w| w[0].seq < w[1].seq),
            "date_added unique and increasing"
        );
        let mut idx: Vec<u64> = all.iter().map(|v| v.log_index).collect();
        idx.sort();
        idx.dedup();
        assert_eq!(idx.len(), all.len(), "one log entry per stored version");
        assert_eq!(log_size(&h), total + 1, "nothing logged twice");
    }
}

/// A crash after the log append and before the store's commit leaves an entry the store
/// never got; after a restart, positions continue after it.
#[test]
fn positions_continue_after_entries_the_store_never_got() {
    let d = tempfile::tempdir().unwrap();
    {
        let h = hub(Backend::Sqlite, d.path());
        collection(&h, C, Tlp::Green, &["*"], &["*"]);
        member(&h, "alice", "acme", &[], None);
    }
    let later = "2100-01-01T00:00:00.000000Z";
    {
        let signer = detente_note::Ed25519Signer::from_seed("hub.test/log", [3; 32]).unwrap();
        let storage = detente_log::DirStorage::new(d.path().join("log").join("log")).unwrap();
        let mut w = detente_log::LogWriter::open(storage, signer).unwrap();
        let e = detente_hub::entry::Entry {
            kind: detente_hub::entry::Kind::Submit,
            collection: C.into(),
            object: [1; 32],
            member: "alice".into(),
            org: "acme".into(),
            key: None,
            signature: None,
            date_added: later.into(),
            origin: None,
        };
        w.append(&[&e.to_bytes()]).unwrap();
    }
    let h = reopen(store(Backend::Sqlite, d.path()), d.path());
    let a = h
        .authenticate(&detente_hub::Credentials {
            user: None,
            token: "tok-alice".into(),
        })
        .unwrap();
    h.submit(
        &a,
        C,
        &envelope(&[indicator(1, "2021-01-01T00:00:00Z", None, &[])]),
        1,
        "s".into(),
    )
    .unwrap();
    let p = h.read(Some(&a.member), C, &ReadKind::Objects, "").unwrap();
    assert!(p.versions[0].seq > detente_hub::time::parse_micros(later).unwrap());
    assert_eq!(p.versions[0].log_index, 1);
}
