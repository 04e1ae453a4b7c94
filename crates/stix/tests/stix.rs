//! STIX 2.1 validation against the real data and targeted invalid cases, and
//! canonicalisation properties on the real data.

use detente_stix::{canonical, parse_bounded, validate, Reason, Violation};
use serde_json::{json, Map, Value};
use std::path::PathBuf;

fn testdata() -> Option<Vec<(String, Value)>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/stix");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("left out: {} not present", dir.display());
        return None;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).expect("read test data");
        let v: Value = serde_json::from_slice(&bytes).expect("test data is JSON");
        out.push((
            f.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            v,
        ));
    }
    Some(out)
}

fn objects(bundle: &Value) -> &[Value] {
    bundle["objects"].as_array().map_or(&[], Vec::as_slice)
}

#[test]
fn every_real_object_validates() {
    let Some(data) = testdata() else { return };
    let mut count = 0;
    for (name, bundle) in &data {
        assert_eq!(bundle["type"], "bundle", "{name}");
        for obj in objects(bundle) {
            if let Err(v) = validate(obj) {
                panic!("{name}: {} invalid: {v:?}", obj["id"]);
            }
            count += 1;
        }
    }
    assert!(count > 2000, "only {count} objects");
}

#[test]
fn real_objects_parse_bounded() {
    let Some(data) = testdata() else { return };
    for (_, bundle) in &data {
        for obj in objects(bundle) {
            let text = serde_json::to_vec(obj).unwrap();
            let back = parse_bounded(
                &text,
                detente_stix::DEFAULT_MAX_LEN,
                detente_stix::DEFAULT_MAX_DEPTH,
            )
            .unwrap();
            assert_eq!(&back, obj);
        }
    }
}

/// Rebuilds a value with every object's members inserted in reverse order.
fn reversed(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m.iter().rev() {
                out.insert(k.clone(), reversed(x));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(reversed).collect()),
        x => x.clone(),
    }
}

#[test]
fn canonical_is_idempotent_and_order_independent() {
    let Some(data) = testdata() else { return };
    for (name, bundle) in &data {
        let c = canonical(bundle).unwrap();
        let again: Value = serde_json::from_slice(&c).unwrap();
        assert_eq!(
            &again, bundle,
            "{name}: canonical form parses back to the same value"
        );
        assert_eq!(canonical(&again).unwrap(), c, "{name}: idempotent");
        assert_eq!(
            canonical(&reversed(bundle)).unwrap(),
            c,
            "{name}: key order"
        );
        // Pretty-printing the input changes nothing.
        let pretty = serde_json::to_vec_pretty(bundle).unwrap();
        let reparsed: Value = serde_json::from_slice(&pretty).unwrap();
        assert_eq!(canonical(&reparsed).unwrap(), c, "{name}: whitespace");
        for obj in objects(bundle) {
            let c = canonical(obj).unwrap();
            assert_eq!(canonical(&serde_json::from_slice(&c).unwrap()).unwrap(), c);
        }
    }
}

fn indicator() -> Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created_by_ref": "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff",
        "created": "2016-04-06T20:03:48.000Z",
        "modified": "2016-04-06T20:03:48.000Z",
        "indicator_types": ["malicious-activity"],
        "name": "Poison Ivy Malware",
        "pattern": "[file:hashes.'SHA-256' = 'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c']",
        "pattern_type": "stix",
        "valid_from": "2016-01-01T00:00:00Z",
        "object_marking_refs": ["marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"],
        "x_custom_Thing": 1,
        "custom_prop": {"anything": "Goes"}
    })
}

fn with(mut v: Value, key: &str, val: Value) -> Value {
    v[key] = val;
    v
}

fn without(mut v: Value, key: &str) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.remove(key);
    }
    v
}

fn one(v: &Value) -> (String, Reason) {
    match validate(v) {
        Ok(()) => panic!("accepted: {v}"),
        Err(mut list) => {
            assert_eq!(list.len(), 1, "{list:?}");
            let Violation { path, reason } = list.remove(0);
            (path, reason)
        }
    }
}

fn p(s: &str, r: Reason) -> (String, Reason) {
    (s.to_owned(), r)
}

#[test]
fn base_indicator_is_valid() {
    assert_eq!(validate(&indicator()), Ok(()));
}

#[test]
fn bad_ids() {
    let i = indicator();
    assert_eq!(
        one(&with(i.clone(), "id", json!("indicator--not-a-uuid"))),
        p("id", Reason::BadId)
    );
    assert_eq!(
        one(&with(
            i.clone(),
            "id",
            json!("indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
        )),
        p("id", Reason::BadId)
    );
    assert_eq!(
        one(&with(
            i.clone(),
            "id",
            json!("indicator--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F")
        )),
        p("id", Reason::BadId)
    );
    assert_eq!(
        one(&with(i.clone(), "id", json!(7))),
        p("id", Reason::WrongType("string"))
    );
    assert_eq!(one(&without(i.clone(), "id")), p("id", Reason::Missing));
    assert_eq!(
        one(&with(
            i,
            "id",
            json!("malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
        )),
        p("id", Reason::IdTypeMismatch)
    );
}

#[test]
fn bad_types() {
    let i = indicator();
    // A bad type also makes the id unverifiable against it, but only the type is reported.
    assert_eq!(
        one(&with(i.clone(), "type", json!("In"))),
        p("type", Reason::BadType)
    );
    assert!(validate(&without(i, "type"))
        .unwrap_err()
        .contains(&Violation {
            path: "type".into(),
            reason: Reason::Missing
        }));
    assert_eq!(one(&json!([1])), p("", Reason::NotAnObject));
}

#[test]
fn spec_version() {
    let i = indicator();
    assert_eq!(
        one(&without(i.clone(), "spec_version")),
        p("spec_version", Reason::Missing)
    );
    assert_eq!(
        one(&with(i, "spec_version", json!("2.0"))),
        p("spec_version", Reason::BadSpecVersion)
    );
    // Optional on SCOs.
    let file = json!({"type": "file", "id": "file--364fe3e5-b1f4-5ba3-b951-ee5983b3538d", "name": "a.pdf"});
    assert_eq!(validate(&file), Ok(()));
    assert_eq!(
        one(&with(file, "spec_version", json!("2.0"))),
        p("spec_version", Reason::BadSpecVersion)
    );
}

#[test]
fn missing_required() {
    let i = indicator();
    for key in [
        "pattern",
        "pattern_type",
        "valid_from",
        "created",
        "modified",
    ] {
        assert_eq!(
            one(&without(i.clone(), key)),
            p(key, Reason::Missing),
            "{key}"
        );
    }
    let rel = json!({
        "type": "relationship", "spec_version": "2.1",
        "id": "relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad",
        "created": "2016-04-06T20:06:37.000Z", "modified": "2016-04-06T20:06:37.000Z",
        "relationship_type": "indicates",
        "source_ref": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "target_ref": "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"
    });
    assert_eq!(validate(&rel), Ok(()));
    for key in ["relationship_type", "source_ref", "target_ref"] {
        assert_eq!(
            one(&without(rel.clone(), key)),
            p(key, Reason::Missing),
            "{key}"
        );
    }
    let malware = json!({
        "type": "malware", "spec_version": "2.1",
        "id": "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
        "created": "2016-04-06T20:07:09.000Z", "modified": "2016-04-06T20:07:09.000Z",
        "name": "Poison Ivy", "is_family": true
    });
    assert_eq!(validate(&malware), Ok(()));
    assert_eq!(
        one(&without(malware.clone(), "is_family")),
        p("is_family", Reason::Missing)
    );
    assert_eq!(
        one(&without(malware.clone(), "name")),
        p("name", Reason::Missing)
    );
    assert_eq!(
        validate(&without(
            with(malware.clone(), "is_family", json!(false)),
            "name"
        )),
        Ok(())
    );
    assert_eq!(
        one(&with(malware, "is_family", json!("yes"))),
        p("is_family", Reason::WrongType("boolean"))
    );
    let sighting = json!({
        "type": "sighting", "spec_version": "2.1",
        "id": "sighting--ee20065d-2555-424f-ad9e-0f8428623c75",
        "created": "2016-04-06T20:08:31.000Z", "modified": "2016-04-06T20:08:31.000Z"
    });
    assert_eq!(one(&sighting), p("sighting_of_ref", Reason::Missing));
    let location = json!({
        "type": "location", "spec_version": "2.1",
        "id": "location--a6e9345f-5a15-4c29-8bb3-7dcc5d168d64",
        "created": "2016-04-06T20:03:00.000Z", "modified": "2016-04-06T20:03:00.000Z",
        "latitude": 48.8566
    });
    let Violation { path, reason } = validate(&location).unwrap_err().remove(0);
    assert_eq!(path, "");
    assert!(matches!(reason, Reason::Rule(_)));
    assert_eq!(
        validate(&with(location, "longitude", json!(2.3522))),
        Ok(())
    );
}

#[test]
fn timestamps() {
    let i = indicator();
    assert_eq!(
        one(&with(
            i.clone(),
            "modified",
            json!("2016-04-06T20:03:47.999Z")
        )),
        p("modified", Reason::ModifiedBeforeCreated)
    );
    assert_eq!(
        validate(&with(i.clone(), "modified", json!("2016-04-06T20:03:48Z"))),
        Ok(())
    );
    assert_eq!(
        one(&with(
            i.clone(),
            "created",
            json!("2016-04-06T20:03:48+00:00")
        )),
        p("created", Reason::BadTimestamp)
    );
    assert_eq!(
        one(&with(i.clone(), "created", json!("2016-04-06"))),
        p("created", Reason::BadTimestamp)
    );
    assert_eq!(
        one(&with(
            i.clone(),
            "valid_from",
            json!("2016-02-30T00:00:00Z")
        )),
        p("valid_from", Reason::BadTimestamp)
    );
    assert_eq!(
        one(&with(i.clone(), "created", json!(1459972428))),
        p("created", Reason::WrongType("timestamp string"))
    );
    assert_eq!(
        one(&with(i, "valid_until", json!("2015-01-01T00:00:00Z"))).0,
        "valid_until"
    );
}

#[test]
fn bad_refs() {
    let i = indicator();
    assert_eq!(
        one(&with(i.clone(), "created_by_ref", json!("bob"))),
        p("created_by_ref", Reason::BadId)
    );
    assert_eq!(
        one(&with(
            i.clone(),
            "created_by_ref",
            json!("malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b")
        )),
        p("created_by_ref", Reason::WrongRefType("malware".into()))
    );
    assert_eq!(
        one(&with(
            i.clone(),
            "object_marking_refs",
            json!([
                "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
                "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff"
            ])
        )),
        p(
            "object_marking_refs/1",
            Reason::WrongRefType("identity".into())
        )
    );
    assert_eq!(
        one(&with(
            i.clone(),
            "object_marking_refs",
            json!("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9")
        ))
        .0,
        "object_marking_refs"
    );
    assert_eq!(
        one(&with(i.clone(), "object_marking_refs", json!([]))),
        p("object_marking_refs", Reason::EmptyList)
    );
    assert_eq!(
        one(&with(
            i.clone(),
            "granular_markings",
            json!([{"marking_ref": "nope", "selectors": ["name"]}])
        )),
        p("granular_markings/0/marking_ref", Reason::BadId)
    );
    assert_eq!(
        one(&with(i.clone(), "x_thing_ref", json!(3))),
        p("x_thing_ref", Reason::WrongType("identifier"))
    );
    assert_eq!(
        one(&with(i.clone(), "x_thing_ref", json!("nope"))),
        p("x_thing_ref", Reason::BadId)
    );
    // An empty custom reference is tolerated (ATT&CK), an empty spec-defined one is not.
    assert_eq!(validate(&with(i.clone(), "x_thing_ref", json!(""))), Ok(()));
    assert_eq!(
        one(&with(i, "created_by_ref", json!(""))),
        p("created_by_ref", Reason::BadId)
    );
}

#[test]
fn custom_properties_and_types() {
    let i = indicator();
    assert_eq!(
        one(&with(i.clone(), "Bad-Name", json!(1))),
        p("Bad-Name", Reason::BadPropertyName)
    );
    assert_eq!(
        one(&with(i.clone(), "ab", json!(1))),
        p("ab", Reason::BadPropertyName)
    );
    assert_eq!(validate(&with(i, "x_anything-goes", json!(1))), Ok(()));
    let custom = json!({
        "type": "x-mitre-tactic", "spec_version": "2.1",
        "id": "x-mitre-tactic--69da72d2-f550-41c5-ab9e-e8255707f28a",
        "created": "2020-05-20T00:00:00Z", "modified": "2020-05-20T00:00:00Z",
        "x_mitre_shortname": "evasion"
    });
    assert_eq!(validate(&custom), Ok(()));
    assert_eq!(
        one(&with(
            custom.clone(),
            "modified",
            json!("2019-01-01T00:00:00Z")
        )),
        p("modified", Reason::ModifiedBeforeCreated)
    );
    assert_eq!(
        one(&with(
            custom,
            "id",
            json!("x-mitre-technique--69da72d2-f550-41c5-ab9e-e8255707f28a")
        )),
        p("id", Reason::IdTypeMismatch)
    );
}

#[test]
fn too_deep_is_refused() {
    let mut v = json!(1);
    for _ in 0..40 {
        v = json!([v]);
    }
    let obj = with(indicator(), "x_deep", v);
    assert_eq!(one(&obj), p("", Reason::TooDeep(32)));
}

#[test]
fn violations_display() {
    let v = validate(&with(indicator(), "id", json!("x"))).unwrap_err();
    assert_eq!(v[0].to_string(), "id: not a STIX identifier");
}
