//! Logs grown through `append` with nothing but tiles as storage: every tree
//! size up to 300 with C2SP's height 8, and all proof pairs with tiny tiles.

use std::cell::RefCell;
use std::collections::HashMap;

use detente_tlog::{
    append, leaf_hash, new_tiles, prove_consistency, prove_inclusion, read_tile_data,
    stored_hashes_for_leaf, tree_hash, verify_consistency, verify_inclusion, Error, Hash, Tile,
    TileHashReader, TileReader,
};

/// Tile storage keyed by the full tile (so every partial width served at a
/// checkpointed size stays readable), counting reads.
#[derive(Default)]
struct Store {
    tiles: HashMap<Tile, Vec<u8>>,
    reads: RefCell<usize>,
}

impl TileReader for Store {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, Error> {
        *self.reads.borrow_mut() += 1;
        tiles
            .iter()
            .map(|t| self.tiles.get(t).cloned().ok_or(Error::HashNotFound(0)))
            .collect()
    }
}

fn entry(i: u64) -> Vec<u8> {
    format!("entry {i}").into_bytes()
}

/// Grows a log to `max` leaves in batches of `batch(i)` leaves, using tiles
/// alone as storage, and returns the store, the roots at each checkpointed
/// size and the reference stored hashes.
fn grow(
    height: u8,
    max: u64,
    batch: impl Fn(u64) -> u64,
) -> (Store, HashMap<u64, Hash>, Vec<Hash>) {
    let mut store = Store::default();
    let mut roots = HashMap::from([(0u64, Hash::EMPTY)]);
    let mut size = 0u64;
    while size < max {
        let n = batch(size).clamp(1, max - size);
        let leaves: Vec<Hash> = (size..size + n).map(|i| leaf_hash(&entry(i))).collect();
        let reader = TileHashReader::new(height, size, &store).unwrap();
        let out = append(height, size, &leaves, &reader).unwrap();
        assert_eq!(
            out.tiles.iter().map(|t| t.0).collect::<Vec<_>>(),
            new_tiles(height, size, size + n).unwrap()
        );
        for (t, d) in out.tiles {
            assert_eq!(d.len(), t.data_len());
            store.tiles.insert(t, d);
        }
        size += n;
        roots.insert(size, out.root);
    }
    let mut stored = Vec::new();
    for i in 0..max {
        let hs = stored_hashes_for_leaf(i, leaf_hash(&entry(i)), &stored).unwrap();
        stored.extend(hs);
    }
    (store, roots, stored)
}

#[test]
fn every_size_to_300_height_8() {
    let (store, roots, stored) = grow(8, 300, |_| 1);
    for size in 1..=300u64 {
        let root = roots[&size];
        assert_eq!(tree_hash(size, &stored).unwrap(), root);
        let tr = TileHashReader::new(8, size, &store).unwrap();
        assert_eq!(
            tree_hash(size, &tr).unwrap(),
            root,
            "root from tiles at {size}"
        );
        // The tiles of this size match tiles rebuilt from stored hashes.
        for t in new_tiles(8, 0, size).unwrap() {
            assert_eq!(store.tiles[&t], read_tile_data(&t, &stored).unwrap());
        }
        let mut idx: Vec<u64> = vec![
            0,
            size / 2,
            size - 1,
            size.saturating_sub(2),
            255.min(size - 1),
        ];
        idx.extend((0..size).step_by(37));
        for i in idx {
            let p = prove_inclusion(size, i, &tr).unwrap();
            assert_eq!(p, prove_inclusion(size, i, &stored).unwrap());
            verify_inclusion(i, size, &leaf_hash(&entry(i)), &p, &root).unwrap();
        }
        let mut olds: Vec<u64> = vec![1, size / 2, size - 1, size, 256.min(size)];
        olds.extend((1..size).step_by(41));
        for old in olds.into_iter().filter(|&o| o >= 1) {
            let p = prove_consistency(old, size, &tr).unwrap();
            assert_eq!(p, prove_consistency(old, size, &stored).unwrap());
            verify_consistency(old, size, &roots[&old], &root, &p).unwrap();
        }
    }
}

#[test]
fn all_pairs_small_tiles() {
    for height in [1u8, 2, 3] {
        let (store, roots, _) = grow(height, 80, |s| (s * 7 + 3) % 11);
        let mut sizes: Vec<u64> = roots.keys().copied().filter(|&s| s > 0).collect();
        sizes.sort();
        for &size in &sizes {
            let tr = TileHashReader::new(height, size, &store).unwrap();
            let root = roots[&size];
            assert_eq!(tree_hash(size, &tr).unwrap(), root);
            for i in 0..size {
                let p = prove_inclusion(size, i, &tr).unwrap();
                verify_inclusion(i, size, &leaf_hash(&entry(i)), &p, &root).unwrap();
            }
            for &old in sizes.iter().filter(|&&o| o <= size) {
                let p = prove_consistency(old, size, &tr).unwrap();
                verify_consistency(old, size, &roots[&old], &root, &p).unwrap();
            }
        }
    }
}

#[test]
fn bad_tiles_are_errors_not_panics() {
    let (mut store, roots, _) = grow(8, 300, |_| 100);
    let tr_root = roots[&300];
    // A truncated tile is a typed error.
    let t = Tile::new(8, 0, 0, 256).unwrap();
    store.tiles.get_mut(&t).unwrap().pop();
    let tr = TileHashReader::new(8, 300, &store).unwrap();
    assert!(matches!(
        prove_inclusion(300, 3, &tr),
        Err(Error::TileSize { .. })
    ));
    // A tampered tile yields a proof that fails to verify.
    let d = store.tiles.get_mut(&t).unwrap();
    d.push(0);
    d[5] ^= 1;
    let tr = TileHashReader::new(8, 300, &store).unwrap();
    let p = prove_inclusion(300, 3, &tr).unwrap();
    assert!(verify_inclusion(3, 300, &leaf_hash(&entry(3)), &p, &tr_root).is_err());
    // A tile the tree does not have yet is not found.
    assert!(TileHashReader::new(8, 300, &store).is_ok());
    let tr = TileHashReader::new(8, 1000, &store).unwrap();
    assert!(tree_hash(1000, &tr).is_err());
}
