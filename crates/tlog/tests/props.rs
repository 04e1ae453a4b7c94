//! Property tests: every produced proof verifies, every mutated one fails.

use detente_tlog::{
    leaf_hash, parse_path, prove_consistency, prove_inclusion, stored_hashes_for_leaf, tree_hash,
    verify_consistency, verify_inclusion, Hash, Tile, TilePath,
};
use proptest::prelude::*;

fn build(entries: &[Vec<u8>]) -> Vec<Hash> {
    let mut stored = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let hs = stored_hashes_for_leaf(i as u64, leaf_hash(e), &stored).unwrap();
        stored.extend(hs);
    }
    stored
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(usize, usize),
    Drop(usize),
    Insert(usize),
    Duplicate(usize),
    Truncate,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0usize..256).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        any::<usize>().prop_map(Mutation::Drop),
        any::<usize>().prop_map(Mutation::Insert),
        any::<usize>().prop_map(Mutation::Duplicate),
        Just(Mutation::Truncate),
    ]
}

/// Applies a mutation; returns None when it cannot change this proof.
fn mutate(p: &[Hash], m: &Mutation) -> Option<Vec<Hash>> {
    let mut p = p.to_vec();
    match *m {
        Mutation::FlipBit(i, b) => {
            let n = p.len();
            let h = p.get_mut(i.checked_rem(n)?)?;
            h.0[b / 8] ^= 1 << (b % 8);
        }
        Mutation::Drop(i) => {
            let n = p.len();
            p.remove(i.checked_rem(n)?);
        }
        Mutation::Insert(i) => p.insert(i % (p.len() + 1), leaf_hash(b"extra")),
        Mutation::Duplicate(i) => {
            let n = p.len();
            let h = *p.get(i.checked_rem(n)?)?;
            p.insert(i % n, h);
        }
        Mutation::Truncate => {
            p.pop()?;
        }
    }
    Some(p)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn inclusion_proofs(entries in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8), 1..200),
                        pick in any::<prop::sample::Index>(), m in mutation()) {
        // Distinct entries, so that no two leaves share a hash.
        let entries: Vec<Vec<u8>> = entries.iter().enumerate().map(|(i, e)| [&(i as u64).to_be_bytes()[..], e].concat()).collect();
        let size = entries.len() as u64;
        let stored = build(&entries);
        let root = tree_hash(size, &stored).unwrap();
        let i = pick.index(entries.len()) as u64;
        let leaf = leaf_hash(&entries[i as usize]);
        let p = prove_inclusion(size, i, &stored).unwrap();
        prop_assert!(verify_inclusion(i, size, &leaf, &p, &root).is_ok());
        if let Some(bad) = mutate(&p, &m) {
            prop_assert!(verify_inclusion(i, size, &leaf, &bad, &root).is_err());
        }
        // Wrong index, leaf or root. (The size alone is not bound by a proof
        // whose length and shape fit both sizes: the root binds it.)
        if i + 1 < size {
            prop_assert!(verify_inclusion(i + 1, size, &leaf, &p, &root).is_err());
        }
        prop_assert!(verify_inclusion(i, size, &leaf_hash(b"other leaf"), &p, &root).is_err());
        prop_assert!(verify_inclusion(i, size, &leaf, &p, &leaf).is_err() || size == 1);
    }

    #[test]
    fn consistency_proofs(n in 1u64..300, a in any::<prop::sample::Index>(), m in mutation()) {
        let entries: Vec<Vec<u8>> = (0..n).map(|i| i.to_le_bytes().to_vec()).collect();
        let stored = build(&entries);
        let old = a.index(n as usize) as u64 + 1;
        let (r1, r2) = (tree_hash(old, &stored).unwrap(), tree_hash(n, &stored).unwrap());
        let p = prove_consistency(old, n, &stored).unwrap();
        prop_assert!(verify_consistency(old, n, &r1, &r2, &p).is_ok());
        if let Some(bad) = mutate(&p, &m) {
            prop_assert!(verify_consistency(old, n, &r1, &r2, &bad).is_err());
        }
        if old < n {
            prop_assert!(verify_consistency(old, n, &r2, &r1, &p).is_err());
            prop_assert!(verify_consistency(n, old, &r1, &r2, &p).is_err());
            prop_assert!(verify_consistency(old, n, &r1, &leaf_hash(b"x"), &p).is_err());
        }
    }

    #[test]
    fn tile_paths_roundtrip(level in 0u8..8, index in any::<u64>(), width in 1u32..=256) {
        if let Ok(t) = Tile::new(8, level, index, width) {
            prop_assert_eq!(parse_path(&t.path()).unwrap(), TilePath::Hashes(t));
        }
    }

    #[test]
    fn tile_path_parser_never_panics(s in "(tile/)?(entries/|[0-9]{1,3}/)?(x?[0-9]{1,4}/){0,8}[0-9]{0,4}(\\.p/[0-9]{0,4})?") {
        if let Ok(TilePath::Hashes(t)) = parse_path(&s) {
            prop_assert_eq!(t.path(), s);
        }
    }
}
