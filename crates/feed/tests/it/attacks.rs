//! One case per attack of issue 15's Proof section that the sans-IO core
//! decides, each on a real log: the exact refusal, its message, and a client
//! whose state and installed files are untouched (`Client::refuse`).

use detente_feed::*;
use detente_note::{Ed25519Signer, SignedCheckpoint};
use detente_tlog::leaf_hash;

use crate::util::*;

/// The honest path these attacks deviate from: accepted, through patches.
#[test]
fn baseline_daily_update_is_accepted() {
    let mut s = Scenario::new();
    let m = s.mirror();
    let acc = s.client.update(&m, s.now).unwrap();
    assert_eq!(acc.manifest.version(), 2);
    assert!(acc.fetch.iter().all(|f| matches!(f, Fetch::Patch { .. })));
}

#[test]
fn tampered_file() {
    let s = Scenario::new();
    let mut fresh = Client::new(s.feed.trust());
    let mut m = s.mirror();
    let main = m.manifest.clone();
    let entry = Manifest::verify(&main, s.feed.trust().publisher())
        .unwrap()
        .file("main.hdb")
        .unwrap()
        .clone();
    let obj = m.objects.get_mut(&entry.sha256_hex()).unwrap();
    let at = obj.len() / 2;
    obj[at] ^= 0x20; // same size, one signature changed
    assert_eq!(
        fresh.refuse(&m, s.now),
        Refusal::File(FileRefusal::HashMismatch {
            name: "main.hdb".into()
        })
    );
}

#[test]
fn tampered_patch() {
    let mut s = Scenario::new();
    let mut m = s.mirror();
    let acc_manifest = Manifest::verify(&m.manifest, s.feed.trust().publisher()).unwrap();
    let p = acc_manifest.patch("daily.hdb").unwrap();
    let obj = m.objects.get_mut(&p.sha256_hex()).unwrap();
    let n = obj.len();
    obj[n - 5] ^= 1;
    assert_eq!(
        s.client.refuse(&m, s.now),
        Refusal::File(FileRefusal::HashMismatch {
            name: "daily.hdb".into()
        })
    );
}

#[test]
fn file_not_in_manifest() {
    let mut s = Scenario::new();
    let mut m = s.mirror();
    m.extra_files
        .push(("evil.ndb".into(), b"Evil.Sig:0:*:4d5a\n".to_vec()));
    assert_eq!(
        s.client.refuse(&m, s.now),
        Refusal::File(FileRefusal::NotInManifest {
            name: "evil.ndb".into()
        })
    );
}

#[test]
fn manifest_not_in_log() {
    let mut s = Scenario::new();
    let mut m = s.mirror();
    // Validly signed by the publisher (a stolen key), never logged.
    let prev = s.feed.releases.last().unwrap().manifest.clone();
    let files = v2_files();
    let mut evil = files.clone();
    evil[0]
        .1
        .extend_from_slice(b"00000000000000000000000000000000:1:Backdoor.Allow-0\n");
    let rel = next_manifest(
        &s.feed.origin,
        Some(&prev),
        &refs(&evil),
        None,
        s.now - 100,
        TTL,
    )
    .unwrap();
    m.manifest = rel.manifest.sign(&s.feed.publisher).unwrap();
    for o in rel.objects {
        m.objects.insert(o.name(), o.bytes);
    }
    // Its claimed place: the newest leaf, with that leaf's real proof.
    let size = s.feed.tree.size();
    m.inclusion = s.feed.tree.inclusion(size - 1, size);
    assert_eq!(
        s.client.refuse(&m, s.now),
        Refusal::NotIncluded {
            index: size - 1,
            size
        }
    );
}

#[test]
fn checkpoint_signed_by_unknown_key() {
    let mut s = Scenario::new();
    let mut m = s.mirror();
    let attacker = Ed25519Signer::from_seed(&s.feed.origin, [66; 32]).unwrap();
    let size = s.feed.tree.size();
    m.checkpoint = sign_checkpoint(
        &s.feed.origin,
        &attacker,
        size,
        s.feed.tree.root(size),
        |_| {},
    );
    assert_eq!(
        s.client.refuse(&m, s.now),
        Refusal::UnknownLogKey {
            origin: s.feed.origin.clone()
        }
    );
}

#[test]
fn checkpoint_of_another_log() {
    let mut s = Scenario::new();
    let mut m = s.mirror();
    let other = Feed::new("example.com/other", 2);
    m.checkpoint = sign_checkpoint(&other.origin, &other.log_key, 1, leaf_hash(b"x"), |_| {});
    assert_eq!(
        s.client.refuse(&m, s.now),
        Refusal::UnknownLogKey {
            origin: "example.com/other".into()
        }
    );
}

#[test]
fn tampered_cosignature() {
    let mut s = Scenario::new();
    let mut m = s.mirror();
    let mut sc = SignedCheckpoint::parse(&m.checkpoint).unwrap();
    let sig = sc.note.signatures()[1].clone();
    let mut b = sig.bytes().to_vec();
    b[20] ^= 1;
    sc.note
        .add_signature(detente_note::Signature::new(sig.name(), sig.id(), b).unwrap())
        .unwrap();
    m.checkpoint = sc.to_bytes();
    let r = s.client.refuse(&m, s.now);
    assert!(
        matches!(&r, Refusal::BadCheckpointSignature { key } if key.starts_with("eu1.witness.example+")),
        "{r:?}"
    );
}

#[test]
fn too_few_witness_cosignatures() {
    let mut s = Scenario::new();
    let mut m = s.mirror();
    m.checkpoint = s
        .feed
        .checkpoint(s.feed.tree.size(), &[("eu1", s.now - 60)]);
    assert_eq!(
        s.client.refuse(&m, s.now),
        Refusal::QuorumNotMet {
            have: vec!["eu1".into()],
            unmet: vec!["world".into(), "us".into(), "asia".into()],
        }
    );
}

#[test]
fn enough_cosignatures_from_too_few_groups() {
    let mut s = Scenario::new();
    let mut m = s.mirror();
    let t = s.now - 60;
    // Two cosignatures (the top threshold is 2), both from one jurisdiction;
    // a stranger's cosignature does not count either.
    let stranger = detente_note::Cosigner::ed25519_from_seed("stranger.example", [9; 32]).unwrap();
    let size = s.feed.tree.size();
    m.checkpoint = sign_checkpoint(
        &s.feed.origin,
        &s.feed.log_key,
        size,
        s.feed.tree.root(size),
        |sc| {
            sc.note.sign(&s.feed.witness("eu1").at(t)).unwrap();
            sc.note.sign(&s.feed.witness("eu2").at(t)).unwrap();
            sc.note.sign(&stranger.at(t)).unwrap();
        },
    );
    let r = s.client.refuse(&m, s.now);
    assert_eq!(
        r,
        Refusal::QuorumNotMet {
            have: vec!["eu1".into(), "eu2".into()],
            unmet: vec!["world".into(), "us".into(), "asia".into()],
        }
    );
    assert_eq!(
        r.to_string(),
        "witness quorum not met: cosigned by 2 known witness(es) [\"eu1\", \"eu2\"], \
         unsatisfied: [\"world\", \"us\", \"asia\"]"
    );
}

#[test]
fn rollback_to_an_older_checkpoint() {
    let mut s = Scenario::new();
    let m = s.mirror();
    s.client.update(&m, s.now).unwrap();
    // The genuine size-1 checkpoint, even freshly cosigned, and v1 again.
    let mut old = m.clone();
    old.checkpoint = s.feed.checkpoint(1, &[("eu1", s.now), ("us1", s.now)]);
    old.manifest = s.feed.releases[0].note.clone();
    old.inclusion = s.feed.tree.inclusion(0, 1);
    assert_eq!(
        s.client.refuse(&old, s.now + 60),
        Refusal::Rollback { have: 2, got: 1 }
    );
}

#[test]
fn split_view_same_size_different_roots() {
    let mut s = Scenario::new();
    let m = s.mirror();
    s.client.update(&m, s.now).unwrap();
    let ours = s.client.state.as_ref().unwrap().checkpoint().to_bytes();
    // The log (its key, and a quorum that cosigns anything) shows another
    // client another size-2 tree: same v1, a different second release.
    let mut fork = s.feed.tree.clone();
    fork.entries.truncate(1);
    let mut t2 = Tree::default();
    t2.append(&fork.entries[0]);
    let prev = s.feed.releases[0].manifest.clone();
    let mut evil = v2_files();
    evil[1].1.clear();
    evil[1].1.extend_from_slice(b"nothing to see\n");
    let rel = next_manifest(&s.feed.origin, Some(&prev), &refs(&evil), None, s.now, TTL).unwrap();
    let note = rel.manifest.sign(&s.feed.publisher).unwrap();
    t2.append(&note);
    let t = s.now + 60;
    let theirs = sign_checkpoint(&s.feed.origin, &s.feed.log_key, 2, t2.root(2), |sc| {
        for w in QUORUM {
            sc.note.sign(&s.feed.witness(w).at(t)).unwrap();
        }
    });
    let mut bad = m.clone();
    bad.checkpoint = theirs.clone();
    bad.manifest = note;
    bad.inclusion = t2.inclusion(1, 2);
    bad.tree = t2;
    let r = s.client.refuse(&bad, t + 1);
    assert_eq!(
        r,
        Refusal::SplitView {
            size: 2,
            ours: ours.clone(),
            theirs: theirs.clone()
        }
    );
    // The evidence: two checkpoints of one size, both valid under the policy.
    let policy = s.client.trust.policy();
    let (a, _) = policy.verify_checkpoint(&ours).unwrap();
    let (b, _) = policy.verify_checkpoint(&theirs).unwrap();
    assert_eq!(a.checkpoint.size(), b.checkpoint.size());
    assert_ne!(a.checkpoint.root(), b.checkpoint.root());
}

#[test]
fn fork_with_a_bad_consistency_proof() {
    let mut s = Scenario::new();
    // A larger tree that does not extend ours: v1 replaced.
    let mut t2 = Tree::default();
    t2.append(b"not v1");
    t2.append(&s.feed.releases[1].note);
    let t = s.now - 60;
    let mut m = s.mirror();
    m.checkpoint = sign_checkpoint(&s.feed.origin, &s.feed.log_key, 2, t2.root(2), |sc| {
        for w in QUORUM {
            sc.note.sign(&s.feed.witness(w).at(t)).unwrap();
        }
    });
    m.inclusion = t2.inclusion(1, 2);
    m.tree = t2;
    assert_eq!(
        s.client.refuse(&m, s.now),
        Refusal::Inconsistent { old: 1, new: 2 }
    );
}

#[test]
fn stale_checkpoint_freeze() {
    let mut s = Scenario::new();
    // Every cosignature is from the moment v2 was logged; the log is frozen
    // since (the attacker replays that checkpoint).
    let published = T0 + DAY;
    let m = s.feed.mirror(published);
    let now = published + MAX_AGE + 1;
    assert_eq!(
        s.client.refuse(&m, now),
        Refusal::Stale {
            age: MAX_AGE + 1,
            max: MAX_AGE
        }
    );
    // At exactly max-age it is still fresh.
    s.client.update(&m, published + MAX_AGE).unwrap();
}

#[test]
fn stale_unless_a_quorum_is_fresh() {
    let mut s = Scenario::new();
    let old = s.now - MAX_AGE - 100;
    let mut m = s.mirror();
    // One fresh cosignature (eu1) cannot vouch alone for a frozen log: the
    // quorum (2 jurisdictions) was last reached at `old`.
    m.checkpoint = s.feed.checkpoint(
        s.feed.tree.size(),
        &[("eu1", s.now), ("us1", old), ("as1", old)],
    );
    assert_eq!(
        s.client.refuse(&m, s.now),
        Refusal::Stale {
            age: MAX_AGE + 100,
            max: MAX_AGE
        }
    );
    // Two fresh jurisdictions are a fresh quorum, whatever the third says.
    m.checkpoint = s.feed.checkpoint(
        s.feed.tree.size(),
        &[("eu1", s.now), ("us2", s.now - 10), ("as1", old)],
    );
    let acc = s.client.update(&m, s.now).unwrap();
    assert_eq!(acc.checkpoint.time, s.now - 10);
}

#[test]
fn fast_forward_far_ahead() {
    let mut s = Scenario::new();
    // A logged, validly signed release 1 + MAX_AHEAD + 1 (a compromised
    // publisher key trying to lock clients out of later releases).
    let files = v2_files();
    let entries: Vec<Entry> = files
        .iter()
        .map(|(n, b)| Entry::for_bytes(n, b).unwrap())
        .collect();
    let far = 1 + MAX_AHEAD + 1;
    let mf = Manifest::new(
        &s.feed.origin,
        far,
        s.now - 100,
        s.now + TTL,
        None,
        entries.clone(),
        vec![],
    )
    .unwrap();
    s.feed.publish_manifest(mf, &refs(&files));
    let m = s.mirror();
    assert_eq!(
        s.client.refuse(&m, s.now),
        Refusal::TooFarAhead {
            installed: 1,
            got: far,
            max: MAX_AHEAD
        }
    );
    // Exactly max-ahead is allowed.
    let mf = Manifest::new(
        &s.feed.origin,
        1 + MAX_AHEAD,
        s.now - 50,
        s.now + TTL,
        None,
        entries,
        vec![],
    )
    .unwrap();
    s.feed.publish_manifest(mf, &refs(&files));
    let m = s.mirror();
    assert_eq!(
        s.client.update(&m, s.now).unwrap().manifest.version(),
        1 + MAX_AHEAD
    );
}

#[test]
fn mix_and_match_manifest_from_another_feed() {
    let mut s = Scenario::new();
    // The same publisher key runs a second feed with its own log; its
    // release 2 is genuine there.
    let mut beta = Feed::new("example.com/beta", 3);
    beta.publish(&refs(&v1_files()), T0, false);
    let b2 = beta.publish(&refs(&v2_files()), T0 + DAY, true);
    let mut m = s.mirror();
    m.manifest = b2.note.clone();
    m.inclusion = beta.tree.inclusion(b2.index, beta.tree.size());
    m.objects.extend(beta.objects.clone());
    assert_eq!(
        s.client.refuse(&m, s.now),
        Refusal::OriginMismatch {
            log: "example.com/feed".into(),
            manifest: "example.com/beta".into()
        }
    );
}

#[test]
fn manifest_signed_by_another_key() {
    let mut s = Scenario::new();
    let mut m = s.mirror();
    let mf = s.feed.releases[1].manifest.clone();
    let other = Ed25519Signer::from_seed("publisher.example", [8; 32]).unwrap();
    m.manifest = mf.sign(&other).unwrap();
    assert_eq!(s.client.refuse(&m, s.now), Refusal::BadManifestSignature);
}

#[test]
fn oversized_download_endless_data() {
    let s = Scenario::new();
    let mut fresh = Client::new(s.feed.trust());
    let mut m = s.mirror();
    let e = s.feed.releases[1]
        .manifest
        .file("daily.hdb")
        .unwrap()
        .clone();
    // The right bytes, then 10 MiB more: endless data.
    let obj = m.objects.get_mut(&e.sha256_hex()).unwrap();
    obj.extend(std::iter::repeat_n(b'A', 10 << 20));
    assert_eq!(
        fresh.refuse(&m, s.now),
        Refusal::File(FileRefusal::Oversized {
            name: "daily.hdb".into(),
            size: e.size()
        })
    );
    // Stopped within one chunk past the size, not after 10 MiB.
    assert!(
        fresh.last_read <= e.size() + CHUNK as u64,
        "{}",
        fresh.last_read
    );
}

#[test]
fn truncated_download() {
    let s = Scenario::new();
    let mut fresh = Client::new(s.feed.trust());
    let mut m = s.mirror();
    let e = s.feed.releases[1]
        .manifest
        .file("main.hdb")
        .unwrap()
        .clone();
    let obj = m.objects.get_mut(&e.sha256_hex()).unwrap();
    obj.truncate(1000);
    assert_eq!(
        fresh.refuse(&m, s.now),
        Refusal::File(FileRefusal::Truncated {
            name: "main.hdb".into(),
            got: 1000,
            want: e.size()
        })
    );
}

#[test]
fn expired_release() {
    let mut s = Scenario::new();
    // Witnesses still cosign (the log is live), but the publisher stopped
    // releasing: v2 expires TTL after its creation.
    let expires = T0 + DAY + TTL;
    let m = s.feed.mirror(expires - 10);
    assert_eq!(
        s.client.refuse(&m, expires),
        Refusal::Expired {
            expires,
            now: expires
        }
    );
}

#[test]
fn replayed_release_is_not_newer() {
    let mut s = Scenario::new();
    let m = s.mirror();
    s.client.update(&m, s.now).unwrap();
    // The same release again, with the same (or a fresher) checkpoint.
    let again = s.feed.mirror(s.now + 60);
    assert_eq!(
        s.client.refuse(&again, s.now + 120),
        Refusal::NotNewer {
            installed: 2,
            got: 2
        }
    );
    // The older release, with a valid proof into the current checkpoint.
    let mut older = again.clone();
    older.manifest = s.feed.releases[0].note.clone();
    older.inclusion = s.feed.tree.inclusion(0, 2);
    assert_eq!(
        s.client.refuse(&older, s.now + 120),
        Refusal::NotNewer {
            installed: 2,
            got: 1
        }
    );
}

#[test]
fn newer_release_withheld() {
    let mut s = Scenario::new();
    s.feed.publish(&refs(&v2_files()), T0 + DAY + 300, true);
    // The checkpoint has v3; the mirror serves v2, validly included.
    let mut m = s.mirror();
    m.manifest = s.feed.releases[1].note.clone();
    m.inclusion = s.feed.tree.inclusion(1, 3);
    assert_eq!(
        s.client.refuse(&m, s.now),
        Refusal::NotLatest { index: 1, size: 3 }
    );
}

#[test]
fn state_of_another_log() {
    let s = Scenario::new();
    let mut beta = Feed::new("example.com/beta", 3);
    beta.publish(&refs(&v1_files()), T0, false);
    let mut client = Client::new(beta.trust());
    client.update(&beta.mirror(T0 + 60), T0 + 120).unwrap();
    // Its state, used with the other feed's trust file.
    client.trust = s.feed.trust();
    let r = client.refuse(&s.mirror(), s.now);
    assert!(
        matches!(&r, Refusal::Malformed(w) if w.contains("state is for log")),
        "{r:?}"
    );
}
