//! Malformed input never panics: random mutations of valid manifests,
//! signed manifest notes, trust files, states, patches and update inputs.
//! Whatever still parses must be canonical (it prints back byte for byte).

use detente_feed::*;
use detente_tlog::Hash;

use crate::util::*;

const ROUNDS: usize = 3000;

#[test]
fn mutated_manifests() {
    let s = Scenario::new();
    let note = s.feed.releases[1].note.clone();
    let text = s.feed.releases[1].manifest.to_text().into_bytes();
    let publisher = s.feed.trust().publisher().clone();
    let mut rng = Rng::new(11);
    let mut parsed = 0;
    for _ in 0..ROUNDS {
        let t = rng.mutate(&text);
        if let Ok(m) = Manifest::parse(&t) {
            assert_eq!(
                m.to_text().as_bytes(),
                t.as_slice(),
                "non-canonical text accepted"
            );
            parsed += 1;
        }
        let n = rng.mutate(&note);
        if let Ok(m) = Manifest::verify(&n, &publisher) {
            // Only the signed text can verify: the signature covers it.
            assert_eq!(m, s.feed.releases[1].manifest);
        }
    }
    println!("{parsed} of {ROUNDS} mutated manifests still parsed (all canonical)");
}

#[test]
fn mutated_trust_files() {
    let feed = Feed::new("example.com/feed", 1);
    let text = feed.trust_text().into_bytes();
    let mut rng = Rng::new(12);
    for _ in 0..ROUNDS {
        let _ = Trust::parse(&rng.mutate(&text));
    }
}

#[test]
fn mutated_states() {
    let s = Scenario::new();
    let bytes = s.client.state.as_ref().unwrap().to_bytes();
    let mut rng = Rng::new(13);
    for _ in 0..ROUNDS {
        let b = rng.mutate(&bytes);
        if let Ok(st) = ClientState::parse(&b) {
            assert_eq!(st.to_bytes(), b, "non-canonical state accepted");
        }
    }
}

#[test]
fn mutated_patches() {
    let old = db("Base", 0..200);
    let mut new = db("Base", 0..150);
    new.extend(db("New", 0..20));
    new.extend(db("Base", 160..200));
    let p = make_patch(&old, &new);
    let e = Entry::for_bytes("f", &new).unwrap();
    let mut rng = Rng::new(14);
    for _ in 0..ROUNDS {
        let m = rng.mutate(&p);
        if let Ok(out) = apply_patch(&old, &m, &e) {
            // Only a patch producing exactly the manifest's file is accepted.
            assert_eq!(out, new);
        }
        // Against another old file too.
        let _ = apply_patch(&new, &m, &e);
    }
}

#[test]
fn mutated_update_inputs() {
    let s = Scenario::new();
    let m = s.mirror();
    let trust = s.feed.trust();
    let state = s.client.state.clone().unwrap();
    let proof = m.tree.consistency(1, 2);
    let mut rng = Rng::new(15);
    for _ in 0..500 {
        let cp = rng.mutate(&m.checkpoint);
        let note = rng.mutate(&m.manifest);
        let mut inc = m.inclusion.clone();
        if rng.below(4) == 0 {
            inc.index = rng.next();
        }
        if rng.below(4) == 0 {
            inc.proof.push(Hash([rng.below(256) as u8; 32]));
        }
        let r = verify_update(&trust, Some(&state), &cp, &proof, &note, &inc, s.now);
        if let Ok(a) = r {
            assert_eq!(a.manifest.version(), 2);
        }
        let _ = verify_update(&trust, None, &cp, &[], &note, &inc, rng.next());
    }
}
