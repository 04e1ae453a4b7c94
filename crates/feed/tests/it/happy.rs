//! The accepted paths: a first full install, a daily increment through
//! patches (byte-identical to the full path), a client two versions behind,
//! an up-to-date check, and the publisher side.

use std::collections::BTreeMap;

use detente_feed::*;
use detente_policy::TlogProof;
use detente_tlog::leaf_hash;

use crate::util::*;

fn as_map(files: &[(String, Vec<u8>)]) -> BTreeMap<String, Vec<u8>> {
    files.iter().cloned().collect()
}

#[test]
fn full_install_from_nothing() {
    let s = Scenario::new();
    let mut fresh = Client::new(s.feed.trust());
    let acc = fresh.update(&s.mirror(), s.now).unwrap();
    assert_eq!(acc.previous, None);
    assert_eq!(acc.manifest.version(), 2);
    assert!(acc.fetch.iter().all(|f| matches!(f, Fetch::Full { .. })));
    assert_eq!(fresh.installed, as_map(&v2_files()));
    assert_eq!(acc.download_size(), fresh.downloaded);
    assert_eq!(acc.index, 1);
    assert_eq!(
        acc.checkpoint.witnesses,
        vec!["eu1".to_string(), "us1".into(), "as1".into()]
    );
    assert_eq!(acc.checkpoint.age, 60);

    // The state round-trips and is the one given.
    let st = fresh.state.as_ref().unwrap();
    assert_eq!(st, &acc.state);
    assert_eq!(st.version(), 2);
    assert_eq!(st.size(), 2);

    // The kept tlog-proof verifies offline, from its own text, and carries
    // the manifest note as its extra data.
    let text = acc.proof.to_bytes();
    let p = TlogProof::parse(&text).unwrap();
    let note = p.extra.clone().unwrap();
    assert_eq!(note, acc.manifest_note);
    let v = p.verify(fresh.trust.policy(), &leaf_hash(&note)).unwrap();
    assert_eq!((v.index, v.tree_size), (1, 2));
    assert_eq!(
        Manifest::verify(&note, fresh.trust.publisher()).unwrap(),
        acc.manifest
    );
}

#[test]
fn daily_increment_patch_path_equals_full_path() {
    let mut s = Scenario::new();
    let before = s.client.downloaded;
    let acc = s.client.update(&s.mirror(), s.now).unwrap();
    assert_eq!(acc.previous, Some(1));
    assert_eq!(acc.manifest.base(), Some(1));
    assert!(acc.fetch.iter().all(|f| matches!(f, Fetch::Patch { .. })));
    let patch_bytes = s.client.downloaded - before;

    let mut fresh = Client::new(s.feed.trust());
    fresh.update(&s.mirror(), s.now).unwrap();
    // Byte-identical installed databases, and equal to what was published.
    assert_eq!(s.client.installed, fresh.installed);
    assert_eq!(s.client.installed, as_map(&v2_files()));
    assert_eq!(s.client.state, fresh.state);
    println!(
        "daily increment: {patch_bytes} bytes of patches, {} bytes full",
        fresh.downloaded
    );
    assert!(
        patch_bytes * 20 < fresh.downloaded,
        "{patch_bytes} vs {}",
        fresh.downloaded
    );
}

#[test]
fn two_versions_behind_takes_the_full_path() {
    let mut s = Scenario::new();
    let mut v3 = v2_files();
    v3[0].1.extend(db("Daily", 5000..5010));
    s.feed.publish(&refs(&v3), T0 + DAY + 100, true);
    let acc = s.client.update(&s.mirror(), s.now).unwrap();
    assert_eq!(acc.manifest.version(), 3);
    assert_eq!(acc.manifest.base(), Some(2));
    assert!(acc.fetch.iter().all(|f| matches!(f, Fetch::Full { .. })));
    assert_eq!(s.client.installed, as_map(&v3));
}

#[test]
fn up_to_date_check() {
    let mut s = Scenario::new();
    s.client.update(&s.mirror(), s.now).unwrap();
    let st = s.client.state.clone().unwrap();
    // Later, the same tree with fresher cosignatures.
    let later = s.now + 3 * 3600;
    let cp = s.feed.head(later - 5);
    let v = check_checkpoint(&s.client.trust, Some(&st), &cp, &[], later).unwrap();
    assert!(v.unchanged);
    assert_eq!(v.age, 5);
    let st2 = v.advance(&st);
    assert_eq!(st2.version(), 2);
    assert_eq!(st2.checkpoint().to_bytes(), cp);
    // A non-empty "proof" for equal sizes is refused.
    let junk = vec![leaf_hash(b"junk")];
    assert_eq!(
        check_checkpoint(&s.client.trust, Some(&st), &cp, &junk, later),
        Err(Refusal::Inconsistent { old: 2, new: 2 })
    );
}

#[test]
fn next_manifest_publisher_side() {
    let files = v1_files();
    let r1 = next_manifest("example.com/feed", None, &refs(&files), None, T0, TTL).unwrap();
    let m1 = &r1.manifest;
    assert_eq!((m1.version(), m1.base(), m1.expires()), (1, None, T0 + TTL));
    assert!(m1.patches().is_empty());
    assert_eq!(r1.objects.len(), 3);
    for (name, bytes) in &files {
        let e = m1.file(name).unwrap();
        assert_eq!(e, &Entry::for_bytes(name, bytes).unwrap());
        assert!(r1
            .objects
            .iter()
            .any(|o| o.name() == e.sha256_hex() && &o.bytes == bytes));
    }

    let files2 = v2_files();
    let r2 = next_manifest(
        "example.com/feed",
        Some(m1),
        &refs(&files2),
        Some(&refs(&files)),
        T0 + DAY,
        TTL,
    )
    .unwrap();
    let m2 = &r2.manifest;
    assert_eq!((m2.version(), m2.base()), (2, Some(1)));
    assert_eq!(m2.patches().len(), 3);
    for p in m2.patches() {
        let o = r2
            .objects
            .iter()
            .find(|o| o.name() == p.sha256_hex())
            .unwrap();
        let old = &files.iter().find(|f| f.0 == p.name()).unwrap().1;
        let patch = detente_feed::decompress(&o.bytes, 1 << 24).unwrap();
        let new = apply_patch(old, &patch, m2.file(p.name()).unwrap()).unwrap();
        assert_eq!(&new, &files2.iter().find(|f| f.0 == p.name()).unwrap().1);
    }

    // Refusals.
    let wrong_base = vec![("daily.hdb", b"not the previous file\n".as_slice())];
    assert_eq!(
        next_manifest(
            "example.com/feed",
            Some(m1),
            &refs(&files2),
            Some(&wrong_base),
            T0 + DAY,
            TTL
        ),
        Err(PublishError::BaseMismatch("daily.hdb".into()))
    );
    assert!(matches!(
        next_manifest(
            "example.com/other",
            Some(m1),
            &refs(&files2),
            None,
            T0 + DAY,
            TTL
        ),
        Err(PublishError::Origin { .. })
    ));
    assert!(matches!(
        next_manifest(
            "example.com/feed",
            Some(m1),
            &refs(&files2),
            None,
            T0 - 1,
            TTL
        ),
        Err(PublishError::CreatedBeforePrevious { .. })
    ));
    assert_eq!(
        next_manifest("example.com/feed", None, &refs(&files2), None, T0, 0),
        Err(PublishError::Ttl)
    );
    assert_eq!(
        next_manifest(
            "example.com/feed",
            None,
            &refs(&files2),
            Some(&refs(&files)),
            T0,
            TTL
        ),
        Err(PublishError::BaseWithoutPrevious)
    );
    let dup = vec![("a.hdb", b"x\n".as_slice()), ("a.hdb", b"y\n".as_slice())];
    assert!(matches!(
        next_manifest("example.com/feed", None, &dup, None, T0, TTL),
        Err(PublishError::Manifest(ManifestError {
            kind: ManifestErrorKind::DuplicateName(_),
            ..
        }))
    ));
    let bad = vec![("../etc/passwd", b"x\n".as_slice())];
    assert!(matches!(
        next_manifest("example.com/feed", None, &bad, None, T0, TTL),
        Err(PublishError::Manifest(ManifestError {
            kind: ManifestErrorKind::BadName(_),
            ..
        }))
    ));
    assert!(matches!(
        next_manifest("example.com/feed", None, &[], None, T0, TTL),
        Err(PublishError::Manifest(ManifestError {
            kind: ManifestErrorKind::NoFiles,
            ..
        }))
    ));
}

#[test]
fn manifest_too_large_for_a_log_entry() {
    // 1,000 files with long names: a valid manifest, but its note exceeds
    // what a tlog-tiles entry can hold.
    let files: Vec<Entry> = (0..1000)
        .map(|i| Entry::new(&format!("{i:0>100}.ndb"), 1, [0; 32]).unwrap())
        .collect();
    let m = Manifest::new("example.com/feed", 1, T0, T0 + 1, None, files, vec![]).unwrap();
    let key = detente_note::Ed25519Signer::from_seed("p", [1; 32]).unwrap();
    assert!(matches!(
        m.sign(&key),
        Err(SignError::TooLargeForLog { max: 65535, .. })
    ));
}
