//! Tile paths, entry bundles and proofs from untrusted tiles: never panic.
#![no_main]

use detente_tlog::{
    decode_bundle, encode_bundle, parse_path, prove_consistency, prove_inclusion, tree_hash,
    Error, Tile, TileHashReader, TilePath, TileReader,
};
use libfuzzer_sys::fuzz_target;

/// Serves every requested tile from the fuzz input, whatever its size.
struct Junk<'a>(&'a [u8]);

impl TileReader for Junk<'_> {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, Error> {
        Ok(tiles
            .iter()
            .map(|t| self.0.iter().copied().cycle().take(t.data_len() + (self.0.len() % 3) / 2).collect())
            .collect())
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 3 {
        0 => {
            if let Ok(s) = std::str::from_utf8(rest) {
                match parse_path(s) {
                    Ok(TilePath::Hashes(t)) => assert_eq!(t.path(), s),
                    Ok(TilePath::Entries(b)) => assert_eq!(b.path(), s),
                    Err(_) => {}
                }
            }
        }
        1 => {
            if let Ok(entries) = decode_bundle(rest) {
                assert_eq!(encode_bundle(entries.iter().copied()).unwrap(), rest);
            }
        }
        _ => {
            let Some((size, tiles)) = rest.split_first_chunk::<8>() else { return };
            let size = u64::from_le_bytes(*size) >> (tiles.first().copied().unwrap_or(0) % 64);
            let height = 1 + (size % 8) as u8;
            let junk = Junk(tiles);
            let Ok(r) = TileHashReader::new(height, size, &junk) else { return };
            let _ = tree_hash(size, &r);
            if size > 0 {
                let _ = prove_inclusion(size, size / 3, &r);
                let _ = prove_consistency(size / 2 + 1, size, &r);
            }
        }
    }
});
