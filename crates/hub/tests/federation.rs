//! The access property across federation: random objects laid on hub A, synced by B's
//! member at A into hub B with A's receipts; on B, every read path returns to each of B's
//! members exactly what the rule allows (CLEAR and GREEN to all, AMBER and AMBER+STRICT to
//! the organisation that received them, RED never), with A's signature and origin kept.

mod common;

use common::*;
use detente_hub::{Hub, Member, ReadKind, Tlp};
use detente_policy::Policy;
use serde_json::{json, Value};

const C: &str = "evidence";

fn all_versions(h: &Hub, who: &Member, coll: &str) -> Vec<detente_hub::store::Version> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let q = match &next {
            Some(n) => format!("match[version]=all&limit=37&next={n}"),
            None => "match[version]=all&limit=37".to_string(),
        };
        let p = h.read(Some(who), coll, &ReadKind::Objects, &q).unwrap();
        out.extend(p.versions);
        match p.next {
            Some(n) => next = Some(n),
            None => return out,
        }
    }
}

#[test]
fn federation_never_widens_a_marking() {
    for b in backends() {
        let da = tempfile::tempdir().unwrap();
        let db = tempfile::tempdir().unwrap();
        let a = hub_named(b, da.path(), "hub.a.test/log", 11);
        let policy_a = Policy::parse(
            format!("log {}\nquorum none\n", hub_vkey("hub.a.test/log", 11)).as_bytes(),
        )
        .unwrap();
        let hb = hub_named(b, db.path(), "hub.b.test/log", 12).with_peers(vec![policy_a]);
        collection(&a, C, Tlp::Green, &["*"], &["*"]);
        collection(&hb, C, Tlp::Green, &["*"], &["member:syncer"]);
        let sk = ed25519_dalek::SigningKey::from_bytes(&[21; 32]);
        let mut senders = Vec::new();
        for (i, org) in ["cert-a", "cert-a", "cert-c"].iter().enumerate() {
            senders.push(member(
                &a,
                &format!("s{i}"),
                org,
                &["eu"],
                Some(sk.verifying_key().to_bytes()),
            ));
        }
        let b_at_a = member(&a, "cert-b", "cert-b", &["eu"], None);
        let syncer = member(&hb, "syncer", "cert-b", &[], None);
        let b_members: Vec<_> = [
            ("b1", "cert-b"),
            ("b2", "cert-b"),
            ("c1", "cert-c"),
            ("e1", "eu"),
        ]
        .iter()
        .map(|(n, o)| member(&hb, n, o, &["eu"], None))
        .collect();

        let mut rng = Rng(0x5eed ^ b as u64);
        let levels = [
            None,
            Some(Tlp::Clear),
            Some(Tlp::Green),
            Some(Tlp::Amber),
            Some(Tlp::AmberStrict),
            Some(Tlp::Red),
        ];
        for n in 0..90u64 {
            let s = rng.below(3) as usize;
            let lvl = levels[rng.below(6) as usize];
            let rec: Vec<String> = match rng.below(4) {
                0 => vec!["org:cert-b".into()],
                1 => vec!["member:cert-b".into()],
                2 => vec!["group:eu".into(), "org:cert-c".into()],
                _ => vec![],
            };
            let refs: Vec<&str> = rec.iter().map(String::as_str).collect();
            let o = indicator(n, "2021-01-01T00:00:00Z", lvl, &refs);
            let canon = detente_stix::canonical(&o).unwrap();
            use ed25519_dalek::Signer as _;
            let sig = {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(sk.sign(&canon).to_bytes())
            };
            let h = detente_hub::entry::hash_hex(&detente_hub::entry::sha256(&canon));
            let env = json!({"objects": [o], "x_detente_signatures": {h: sig}}).to_string();
            let st = a
                .submit(&senders[s], C, env.as_bytes(), n as i64, format!("a{n}"))
                .unwrap();
            assert_eq!(st["failure_count"], 0, "{st}");
        }

        // B's member at A pulls what A lets it see, with receipts, and posts it to B.
        let pulled = all_versions(&a, &b_at_a.member, C);
        let mut origins = serde_json::Map::new();
        let mut objects = Vec::new();
        for v in &pulled {
            origins.insert(
                detente_hub::entry::hash_hex(&v.hash),
                json!(a.receipt(v).unwrap()),
            );
            objects.push(serde_json::from_slice::<Value>(&v.body).unwrap());
        }
        let env = json!({"objects": objects, "x_detente_origins": origins}).to_string();
        let st = hb
            .submit(&syncer, C, env.as_bytes(), 1_000, "sync".into())
            .unwrap();
        let red_pulled = pulled.iter().filter(|v| v.level == Tlp::Red).count();
        assert_eq!(
            st["failure_count"].as_u64(),
            Some(red_pulled as u64),
            "{st}"
        );

        for m in &b_members {
            let got = all_versions(&hb, &m.member, C);
            let mut got_ids: Vec<&str> = got.iter().map(|v| v.id.as_str()).collect();
            got_ids.sort();
            let mut want: Vec<&str> = pulled
                .iter()
                .filter(|v| match v.level {
                    Tlp::Clear | Tlp::Green => true,
                    Tlp::Amber | Tlp::AmberStrict => m.member.org == "cert-b",
                    Tlp::Red => false,
                })
                .map(|v| v.id.as_str())
                .collect();
            want.sort();
            assert_eq!(got_ids, want, "B member {}", m.member.name);
            for v in &got {
                let o = v.origin.as_ref().expect("origin kept");
                assert_eq!(o.log, "hub.a.test/log");
                assert!(v.signature.is_some(), "signature kept");
                assert!(
                    v.member.starts_with('s'),
                    "original submitter kept: {}",
                    v.member
                );
                // Per object, on every path.
                assert_eq!(
                    hb.read(Some(&m.member), C, &ReadKind::Object(v.id.clone()), "")
                        .unwrap()
                        .versions
                        .len(),
                    1
                );
            }
            for v in pulled.iter().filter(|v| !got.iter().any(|g| g.id == v.id)) {
                assert_eq!(
                    hb.read(Some(&m.member), C, &ReadKind::Object(v.id.clone()), "")
                        .unwrap_err()
                        .status,
                    404
                );
                assert_eq!(
                    hb.read(Some(&m.member), C, &ReadKind::Versions(v.id.clone()), "")
                        .unwrap_err()
                        .status,
                    404
                );
                assert_eq!(
                    hb.provenance(Some(&m.member), C, &v.id, "")
                        .unwrap_err()
                        .status,
                    404
                );
            }
        }
        // What A never showed cert-b never reaches B.
        assert!(pulled
            .iter()
            .all(|v| v.level != Tlp::AmberStrict || v.org == "cert-b"));
    }
}
