//! C2SP tlog-tiles: tile coordinates, paths, tile data and reading hashes
//! back from tiles.
//!
//! A tile of height `h` at tile level `L` and index `N` holds the hashes of
//! Merkle level `L*h`, nodes `N*2^h ..`, concatenated; a partial tile holds
//! fewer than `2^h`. The C2SP spec fixes `h = 8` ([`TILE_HEIGHT`]); smaller
//! heights are accepted so tests can exercise many tiles with small trees.

use std::collections::BTreeMap;

use crate::tree::{read_exact, split_stored_hash_index, stored_hash_index, HashReader};
use crate::{node_hash, Error, Hash, HASH_SIZE};

/// Tile height fixed by C2SP tlog-tiles: 256 hashes per full tile.
pub const TILE_HEIGHT: u8 = 8;

/// Hashes (or entries) in a full tile of height [`TILE_HEIGHT`].
pub const TILE_WIDTH: u32 = 1 << TILE_HEIGHT;

/// Why a tile or entry-bundle path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path does not start with `tile/`.
    #[error("tile path does not start with tile/")]
    Prefix,
    /// The level is not a decimal in 0..=63 without leading zeros.
    #[error("bad tile level")]
    Level,
    /// The index is not `x`-prefixed groups of three digits ending in a bare group.
    #[error("bad tile index")]
    Index,
    /// The partial width is not a decimal in 1..=255 without leading zeros.
    #[error("bad partial tile width")]
    Width,
    /// The path parses but is not the canonical encoding (for example a
    /// leading `x000/` group).
    #[error("tile path is not canonical")]
    NotCanonical,
    /// The tile would start beyond the largest possible tree.
    #[error("tile lies outside any possible tree")]
    OutOfRange,
}

/// A hash tile: `width` consecutive hashes of Merkle level `level * height`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    height: u8,
    level: u8,
    index: u64,
    width: u32,
}

fn check_height(height: u8) -> Result<(), Error> {
    if height == 0 || height > TILE_HEIGHT {
        return Err(Error::TileHeight(height));
    }
    Ok(())
}

impl Tile {
    /// A tile of the given height (1..=8), tile level, index and width
    /// (1..=2^height). Tiles that could not exist in a tree of at most 2^64
    /// leaves are refused.
    pub fn new(height: u8, level: u8, index: u64, width: u32) -> Result<Tile, Error> {
        check_height(height)?;
        if width == 0 || width > 1 << height {
            return Err(Error::TileWidth(width));
        }
        // End leaf of the full tile must fit in 2^64.
        let shift = u32::from(height) * (u32::from(level) + 1);
        if shift > 64 || (u128::from(index) + 1) << shift > 1u128 << 64 {
            return Err(Error::Path(PathError::OutOfRange));
        }
        Ok(Tile {
            height,
            level,
            index,
            width,
        })
    }

    /// The tile at `level`/`index` as it exists in a tree of `tree_size`
    /// leaves (full, or partial with the width the tree gives it), or `None`
    /// if the tree has no such tile yet.
    pub fn in_tree(height: u8, level: u8, index: u64, tree_size: u64) -> Option<Tile> {
        let shift = u32::from(height) * u32::from(level);
        if check_height(height).is_err() || shift >= 64 {
            return None;
        }
        let nodes = tree_size >> shift;
        let start = index.checked_mul(1 << height)?;
        if nodes <= start {
            return None;
        }
        let width = (nodes - start).min(1 << height) as u32;
        Tile::new(height, level, index, width).ok()
    }

    /// Tile height (8 for C2SP tiles).
    pub fn height(&self) -> u8 {
        self.height
    }
    /// Tile level `L`: the tile holds Merkle level `L * height`.
    pub fn level(&self) -> u8 {
        self.level
    }
    /// Tile index `N` within its level.
    pub fn index(&self) -> u64 {
        self.index
    }
    /// Number of hashes in the tile.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Whether the tile holds all `2^height` hashes.
    pub fn is_full(&self) -> bool {
        self.width == 1 << self.height
    }
    /// Size in bytes of the tile's data.
    pub fn data_len(&self) -> usize {
        self.width as usize * HASH_SIZE
    }
    /// Merkle level of the hashes in the tile.
    pub fn merkle_level(&self) -> u8 {
        self.level * self.height
    }
    /// Merkle-level node index of the tile's first hash.
    fn first_node(&self) -> u64 {
        self.index << self.height
    }

    /// The C2SP path `tile/<L>/<N>[.p/<W>]`. (Paths carry no height; only
    /// height-8 tiles have a meaning outside this process.)
    pub fn path(&self) -> String {
        format!(
            "tile/{}/{}",
            self.level,
            index_path(self.index, self.width, self.height)
        )
    }

    /// Hash `i` (0-based) of the tile, from its data.
    pub fn hash_at(&self, data: &[u8], i: u32) -> Result<Hash, Error> {
        self.check_data(data)?;
        let start = i as usize * HASH_SIZE;
        match data.get(start..start + HASH_SIZE) {
            Some(b) if i < self.width => Hash::from_slice(b),
            _ => Err(Error::HashNotFound(u64::from(i))),
        }
    }

    /// Checks that `data` is exactly `width` hashes long.
    pub fn check_data(&self, data: &[u8]) -> Result<(), Error> {
        if data.len() != self.data_len() {
            return Err(Error::TileSize {
                want: self.data_len(),
                got: data.len(),
            });
        }
        Ok(())
    }
}

/// An entry bundle `tile/entries/<N>[.p/<W>]`: entries `256N .. 256N+W`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bundle {
    index: u64,
    width: u32,
}

impl Bundle {
    /// An entry bundle with index `index` holding `width` (1..=256) entries.
    pub fn new(index: u64, width: u32) -> Result<Bundle, Error> {
        let t = Tile::new(TILE_HEIGHT, 0, index, width)?;
        Ok(Bundle {
            index: t.index,
            width: t.width,
        })
    }
    /// Bundle index `N`.
    pub fn index(&self) -> u64 {
        self.index
    }
    /// Number of entries in the bundle.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Index in the log of the bundle's first entry.
    pub fn first_entry(&self) -> u64 {
        self.index << TILE_HEIGHT
    }
    /// Whether the bundle holds all 256 entries.
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }
    /// The level-0 hash tile whose hashes are this bundle's leaf hashes.
    pub fn tile(&self) -> Tile {
        Tile {
            height: TILE_HEIGHT,
            level: 0,
            index: self.index,
            width: self.width,
        }
    }
    /// The C2SP path `tile/entries/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        format!(
            "tile/entries/{}",
            index_path(self.index, self.width, TILE_HEIGHT)
        )
    }
}

/// A parsed tile-space path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TilePath {
    /// `tile/<L>/<N>[.p/<W>]`, always of height 8.
    Hashes(Tile),
    /// `tile/entries/<N>[.p/<W>]`.
    Entries(Bundle),
}

fn index_path(index: u64, width: u32, height: u8) -> String {
    let mut groups = Vec::new();
    let mut n = index;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut s = String::new();
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            s.push_str(&format!("x{g:03}/"));
        } else {
            s.push_str(&format!("{g:03}"));
        }
    }
    if width < 1 << height {
        s.push_str(&format!(".p/{width}"));
    }
    s
}

/// Parses a canonical decimal without sign or leading zeros.
fn parse_decimal(s: &str, max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse::<u64>().ok().filter(|&v| v <= max)
}

fn three_digits(s: &str) -> Option<u64> {
    if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Parses a C2SP tile or entry-bundle path (relative to the log prefix), strictly:
/// only the canonical encoding that [`Tile::path`] / [`Bundle::path`] would
/// produce is accepted.
pub fn parse_path(path: &str) -> Result<TilePath, Error> {
    let rest = path.strip_prefix("tile/").ok_or(PathError::Prefix)?;
    let (level, rest) = rest.split_once('/').ok_or(PathError::Level)?;
    let level = if level == "entries" {
        None
    } else {
        Some(parse_decimal(level, 63).ok_or(PathError::Level)? as u8)
    };
    let mut parts: Vec<&str> = rest.split('/').collect();
    let mut width = TILE_WIDTH;
    if parts.len() >= 2 {
        let n = parts.len();
        if let Some(last_group) = parts[n - 2].strip_suffix(".p") {
            width = parse_decimal(parts[n - 1], u64::from(TILE_WIDTH) - 1)
                .filter(|&w| w >= 1)
                .ok_or(PathError::Width)? as u32;
            parts.truncate(n - 1);
            parts[n - 2] = last_group;
        }
    }
    // A u64 has at most 20 digits: 7 groups.
    if parts.is_empty() || parts.len() > 7 {
        return Err(PathError::Index.into());
    }
    let mut index: u128 = 0;
    for (i, p) in parts.iter().enumerate() {
        let digits = if i + 1 < parts.len() {
            p.strip_prefix('x').ok_or(PathError::Index)?
        } else {
            p
        };
        index = index * 1000 + u128::from(three_digits(digits).ok_or(PathError::Index)?);
    }
    let index = u64::try_from(index).map_err(|_| PathError::OutOfRange)?;
    let parsed = match level {
        Some(l) => TilePath::Hashes(Tile::new(TILE_HEIGHT, l, index, width)?),
        None => TilePath::Entries(Bundle::new(index, width)?),
    };
    let canonical = match &parsed {
        TilePath::Hashes(t) => t.path(),
        TilePath::Entries(b) => b.path(),
    };
    if canonical != path {
        return Err(PathError::NotCanonical.into());
    }
    Ok(parsed)
}

/// The hash tiles whose contents change when a tree grows from `old` to
/// `new` leaves: new tiles and grown partial tiles, at every level, each
/// with its width in the tree of `new` leaves. Lower levels come first.
pub fn new_tiles(height: u8, old: u64, new: u64) -> Result<Vec<Tile>, Error> {
    check_height(height)?;
    let mut out = Vec::new();
    if new <= old {
        return Ok(out);
    }
    let mut level = 0u8;
    loop {
        let shift = u32::from(height) * u32::from(level);
        if shift >= 64 {
            break;
        }
        let (old_nodes, new_nodes) = (old >> shift, new >> shift);
        if new_nodes == 0 {
            break;
        }
        if new_nodes > old_nodes {
            for n in (old_nodes >> height)..=((new_nodes - 1) >> height) {
                if let Some(t) = Tile::in_tree(height, level, n, new) {
                    out.push(t);
                }
            }
        }
        level += 1;
    }
    Ok(out)
}

/// The entry bundles that change when a log grows from `old` to `new` entries.
pub fn new_bundles(old: u64, new: u64) -> Vec<Bundle> {
    new_tiles(TILE_HEIGHT, old, new)
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.level == 0)
        .map(|t| Bundle {
            index: t.index,
            width: t.width,
        })
        .collect()
}

/// Builds a tile's data from stored hashes.
pub fn read_tile_data<R: HashReader + ?Sized>(tile: &Tile, r: &R) -> Result<Vec<u8>, Error> {
    let level = tile.merkle_level();
    let first = tile.first_node();
    let indexes: Vec<u64> = (0..u64::from(tile.width))
        .map(|i| stored_hash_index(level, first + i))
        .collect();
    let hashes = read_exact(r, &indexes)?;
    let mut data = Vec::with_capacity(tile.data_len());
    for h in &hashes {
        data.extend_from_slice(&h.0);
    }
    Ok(data)
}

/// Hash of a complete, aligned run of a power-of-two number of tile hashes.
fn complete_hash(data: &[u8]) -> Result<Hash, Error> {
    let mut level: Vec<Hash> = data
        .chunks(HASH_SIZE)
        .map(Hash::from_slice)
        .collect::<Result<_, _>>()?;
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|p| match p {
                [a, b] => node_hash(a, b),
                [a] => *a,
                _ => Hash::EMPTY,
            })
            .collect();
    }
    level.pop().ok_or(Error::TileSize {
        want: HASH_SIZE,
        got: 0,
    })
}

/// Source of tile data, for [`TileHashReader`].
///
/// Returns the data of each requested tile, in order; the reader checks the
/// count and each tile's size. Data from an untrusted server is fine: a proof
/// built from tampered tiles simply fails verification.
pub trait TileReader {
    /// Returns the data of `tiles`, in the same order.
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, Error>;
}

/// A [`HashReader`] that serves stored hashes out of the tiles of a tree of
/// a given size, so proofs can be computed from tiles alone.
///
/// It does not authenticate the tiles: verify whatever you compute from them
/// (a proof, a root) against a signed tree head.
pub struct TileHashReader<'a, T: TileReader + ?Sized> {
    height: u8,
    tree_size: u64,
    tiles: &'a T,
}

impl<'a, T: TileReader + ?Sized> TileHashReader<'a, T> {
    /// Reads hashes of the tree of `tree_size` leaves from tiles of `height`.
    pub fn new(height: u8, tree_size: u64, tiles: &'a T) -> Result<Self, Error> {
        check_height(height)?;
        Ok(TileHashReader {
            height,
            tree_size,
            tiles,
        })
    }

    /// The tile holding stored hash `index` and the byte range of the tile
    /// hashes that make it up.
    fn locate(&self, index: u64) -> Result<(Tile, std::ops::Range<usize>), Error> {
        let (level, n) = split_stored_hash_index(index);
        let h = self.height;
        let tile_level = level / h;
        let rel = level % h;
        let shift = h - rel;
        let tile_index = n >> shift;
        let tile = Tile::in_tree(h, tile_level, tile_index, self.tree_size)
            .ok_or(Error::HashNotFound(index))?;
        let lo = ((n << rel) - (tile_index << h)) as usize;
        let hi = lo + (1usize << rel);
        if hi > tile.width as usize {
            return Err(Error::HashNotFound(index));
        }
        Ok((tile, lo * HASH_SIZE..hi * HASH_SIZE))
    }
}

impl<T: TileReader + ?Sized> HashReader for TileHashReader<'_, T> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        let located: Vec<_> = indexes
            .iter()
            .map(|&i| self.locate(i))
            .collect::<Result<_, _>>()?;
        let mut wanted: BTreeMap<Tile, usize> = BTreeMap::new();
        for (t, _) in &located {
            let next = wanted.len();
            wanted.entry(*t).or_insert(next);
        }
        let mut order: Vec<(Tile, usize)> = wanted.iter().map(|(t, i)| (*t, *i)).collect();
        order.sort_by_key(|&(_, i)| i);
        let tiles: Vec<Tile> = order.iter().map(|&(t, _)| t).collect();
        let data = self.tiles.read_tiles(&tiles)?;
        if data.len() != tiles.len() {
            return Err(Error::ReaderCount {
                want: tiles.len(),
                got: data.len(),
            });
        }
        for (t, d) in tiles.iter().zip(&data) {
            t.check_data(d)?;
        }
        located
            .iter()
            .map(|(t, range)| {
                let pos = wanted.get(t).copied().unwrap_or(0);
                let d = data.get(pos).and_then(|d| d.get(range.clone()));
                complete_hash(d.ok_or(Error::HashNotFound(0))?)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(l: u8, n: u64, w: u32) -> Tile {
        Tile::new(8, l, n, w).unwrap()
    }

    #[test]
    fn paths() {
        assert_eq!(tile(0, 1234067, 256).path(), "tile/0/x001/x234/067");
        assert_eq!(tile(0, 5, 256).path(), "tile/0/005");
        assert_eq!(tile(2, 5, 17).path(), "tile/2/005.p/17");
        assert_eq!(
            Bundle::new(1000, 1).unwrap().path(),
            "tile/entries/x001/000.p/1"
        );
        for p in [
            "tile/0/x001/x234/067",
            "tile/0/005",
            "tile/7/000.p/255",
            "tile/entries/x001/000.p/1",
            "tile/entries/x072/x057/x594/x037/x927/935",
        ] {
            let t = parse_path(p);
            assert!(t.is_ok(), "{p}: {t:?}");
        }
        for p in [
            "tile/0/5",
            "tile/00/005",
            "tile/+1/005",
            "tile/0/x000/005",
            "tile/0/005.p/0",
            "tile/0/005.p/256",
            "tile/0/005.p/017",
            "tile/0/005.p/",
            "tile/0/x005",
            "tile/0/005/",
            "tile/64/000",
            "tile/63/000",
            "tile/entries/x072/x057/x594/x037/x927/936",
            "tile/8/001",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/0/x999/x999/x999/x999/x999/x999/x999/999",
            "tile/entries/005.p/1/",
            "tiles/0/005",
            "tile/0/００5",
            "",
        ] {
            assert!(parse_path(p).is_err(), "{p}");
        }
        assert_eq!(
            parse_path("tile/1/x001/234.p/9").unwrap(),
            TilePath::Hashes(tile(1, 1234, 9))
        );
    }

    #[test]
    fn new_tiles_spec_example() {
        // 70,000 leaves: 273 full level-0 tiles, a partial of width 112, one
        // full level-1 tile, a partial of width 17 and a level-2 tile of width 1.
        let t = new_tiles(8, 0, 70_000).unwrap();
        assert_eq!(
            t.iter().filter(|t| t.level == 0 && t.is_full()).count(),
            273
        );
        assert!(t.contains(&tile(0, 273, 112)));
        assert!(t.contains(&tile(1, 0, 256)));
        assert!(t.contains(&tile(1, 1, 17)));
        assert!(t.contains(&tile(2, 0, 1)));
        assert_eq!(t.len(), 273 + 4);
        assert_eq!(
            new_tiles(8, 0, 256).unwrap(),
            vec![tile(0, 0, 256), tile(1, 0, 1)]
        );
        assert_eq!(new_tiles(8, 256, 257).unwrap(), vec![tile(0, 1, 1)]);
        assert!(new_tiles(8, 5, 5).unwrap().is_empty());
    }
}
