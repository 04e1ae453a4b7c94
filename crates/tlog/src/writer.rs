//! Appending a batch of leaves: the new stored hashes, the new root and the
//! tiles a log writer must (re)write.

use crate::tile::{new_tiles, read_tile_data, Tile};
use crate::tree::{
    check_tree_size, read_exact, stored_hash_count, stored_hashes_for_leaf, tree_hash, HashReader,
};
use crate::{Error, Hash};

/// Result of [`append`]: everything a log writer persists for one batch.
#[derive(Debug, Clone)]
pub struct Appended {
    /// Tree size before the batch.
    pub old_size: u64,
    /// Tree size after the batch.
    pub new_size: u64,
    /// The stored hashes the batch adds, at stored-hash indexes
    /// `stored_hash_count(old_size)..stored_hash_count(new_size)`.
    pub stored: Vec<Hash>,
    /// Root hash of the tree after the batch.
    pub root: Hash,
    /// New and grown tiles with their data, lower levels first.
    pub tiles: Vec<(Tile, Vec<u8>)>,
}

/// Existing hashes from a reader plus the batch's hashes held in memory.
struct Overlay<'a, R: HashReader + ?Sized> {
    base: u64,
    new: &'a [Hash],
    old: &'a R,
}

impl<R: HashReader + ?Sized> HashReader for Overlay<'_, R> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        let old: Vec<u64> = indexes.iter().copied().filter(|&i| i < self.base).collect();
        let mut from_old = if old.is_empty() {
            Vec::new().into_iter()
        } else {
            read_exact(self.old, &old)?.into_iter()
        };
        indexes
            .iter()
            .map(|&i| {
                if i < self.base {
                    from_old.next().ok_or(Error::HashNotFound(i))
                } else {
                    usize::try_from(i - self.base)
                        .ok()
                        .and_then(|j| self.new.get(j))
                        .copied()
                        .ok_or(Error::HashNotFound(i))
                }
            })
            .collect()
    }
}

/// Appends `leaves` (leaf hashes) to the tree of `old_size` leaves whose
/// stored hashes `r` serves, and returns the new stored hashes, the new root
/// and the tiles of height `height` that changed.
///
/// Nothing is written: the caller persists tiles (and entry bundles) before
/// publishing a checkpoint for the new size.
pub fn append<R: HashReader + ?Sized>(
    height: u8,
    old_size: u64,
    leaves: &[Hash],
    r: &R,
) -> Result<Appended, Error> {
    let new_size = old_size
        .checked_add(leaves.len() as u64)
        .ok_or(Error::TreeTooLarge(u64::MAX))?;
    check_tree_size(new_size)?;
    let base = stored_hash_count(old_size);
    let mut stored = Vec::with_capacity(2 * leaves.len() + 1);
    for (i, leaf) in leaves.iter().enumerate() {
        let ov = Overlay {
            base,
            new: &stored,
            old: r,
        };
        let hs = stored_hashes_for_leaf(old_size + i as u64, *leaf, &ov)?;
        stored.extend(hs);
    }
    let ov = Overlay {
        base,
        new: &stored,
        old: r,
    };
    let root = tree_hash(new_size, &ov)?;
    let tiles = new_tiles(height, old_size, new_size)?
        .into_iter()
        .map(|t| read_tile_data(&t, &ov).map(|d| (t, d)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Appended {
        old_size,
        new_size,
        stored,
        root,
        tiles,
    })
}
