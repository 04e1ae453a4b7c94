//! Whole-log verification: the checkpoint signature, every entry bundle and hash tile the
//! checkpoint covers, and the root. What a monitor or a distrustful client runs.

use std::collections::HashMap;
use std::sync::Mutex;

use detente_note::{SignedCheckpoint, Verifiers};
use detente_tlog::{
    decode_bundle_for, leaf_hash, node_hash, tree_hash, Bundle, Hash, Tile, TileHashReader,
    TileReader, HASH_SIZE, TILE_HEIGHT, TILE_WIDTH,
};

use crate::{Error, Storage, CHECKPOINT_KEY};

/// What [`verify_log`] checked.
#[derive(Debug, Clone)]
pub struct LogReport {
    /// The verified checkpoint.
    pub checkpoint: SignedCheckpoint,
    /// Entry bundles read and checked.
    pub bundles: u64,
    /// Hash tiles read and checked.
    pub tiles: u64,
    /// Entries checked.
    pub entries: u64,
}

/// Tiles fetched from storage, each read once.
struct Cached<'a, S: Storage + ?Sized> {
    storage: &'a S,
    cache: Mutex<HashMap<String, Vec<u8>>>,
}

impl<S: Storage + ?Sized> Cached<'_, S> {
    fn tile(&self, t: &Tile) -> Result<Vec<u8>, Error> {
        let path = t.path();
        if let Some(d) = self.cache.lock().ok().and_then(|c| c.get(&path).cloned()) {
            return Ok(d);
        }
        let data = self
            .storage
            .get(&path)?
            .ok_or_else(|| Error::Missing(path.clone()))?;
        t.check_data(&data)?;
        if let Ok(mut c) = self.cache.lock() {
            c.insert(path, data.clone());
        }
        Ok(data)
    }
}

impl<S: Storage + ?Sized> TileReader for Cached<'_, S> {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, detente_tlog::Error> {
        tiles
            .iter()
            .map(|t| {
                self.tile(t)
                    .map_err(|e| detente_tlog::Error::Storage(e.to_string().into()))
            })
            .collect()
    }
}

fn hashes(data: &[u8]) -> Vec<Hash> {
    data.chunks_exact(HASH_SIZE)
        .map(|c| {
            let mut h = [0u8; HASH_SIZE];
            h.copy_from_slice(c);
            Hash(h)
        })
        .collect()
}

/// Root of a complete subtree over a power-of-two number of hashes.
fn subtree_root(mut level: Vec<Hash>) -> Hash {
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|p| node_hash(&p[0], &p[1]))
            .collect();
    }
    level.first().copied().unwrap_or(Hash::EMPTY)
}

/// Verifies a whole log in `storage`: the checkpoint must be signed by a key in `known`;
/// every entry bundle must hash to its level-0 tile; every upper-level tile hash must be the
/// root of the 256 hashes below it; the tiles must give the checkpoint's root.
pub fn verify_log<S: Storage + ?Sized>(storage: &S, known: &Verifiers) -> Result<LogReport, Error> {
    let msg = storage
        .get(CHECKPOINT_KEY)?
        .ok_or_else(|| Error::Missing(CHECKPOINT_KEY.into()))?;
    let (checkpoint, _) = SignedCheckpoint::open(&msg, known)?;
    let n = checkpoint.checkpoint.size();
    let tiles = Cached {
        storage,
        cache: Mutex::new(HashMap::new()),
    };
    let width = u64::from(TILE_WIDTH);
    let (mut n_bundles, mut n_tiles) = (0u64, 0u64);
    // Level 0: every bundle against its tile. Tiles stay cached for the upper levels, which
    // costs 32 bytes per entry of memory.
    let mut index = 0u64;
    while index * width < n {
        let w = (n - index * width).min(width) as u32;
        let b = Bundle::new(index, w)?;
        let data = storage
            .get(&b.path())?
            .ok_or_else(|| Error::Missing(b.path()))?;
        let entries = decode_bundle_for(&b, &data)?;
        let leaf: Vec<u8> = entries.iter().flat_map(|e| leaf_hash(e).0).collect();
        let t = b.tile();
        if tiles.tile(&t)? != leaf {
            return Err(Error::Corrupt("an entry bundle does not match its tile"));
        }
        n_bundles += 1;
        n_tiles += 1;
        index += 1;
    }
    // Upper levels: each hash is the root of a full tile one level down.
    let mut level = 1u8;
    while (n >> (u32::from(TILE_HEIGHT) * u32::from(level))) > 0 {
        let count = n >> (u32::from(TILE_HEIGHT) * u32::from(level));
        let mut index = 0u64;
        while index * width < count {
            let w = (count - index * width).min(width) as u32;
            let t = Tile::new(TILE_HEIGHT, level, index, w)?;
            let got = hashes(&tiles.tile(&t)?);
            for (i, h) in got.iter().enumerate() {
                let child =
                    Tile::new(TILE_HEIGHT, level - 1, index * width + i as u64, TILE_WIDTH)?;
                if subtree_root(hashes(&tiles.tile(&child)?)) != *h {
                    return Err(Error::Corrupt(
                        "a tile hash is not the root of the tile below",
                    ));
                }
            }
            n_tiles += 1;
            index += 1;
        }
        level += 1;
    }
    let r = TileHashReader::new(TILE_HEIGHT, n, &tiles)?;
    if tree_hash(n, &r)? != *checkpoint.checkpoint.root() {
        return Err(Error::Corrupt("tiles do not give the checkpoint root"));
    }
    Ok(LogReport {
        checkpoint,
        bundles: n_bundles,
        tiles: n_tiles,
        entries: n,
    })
}
