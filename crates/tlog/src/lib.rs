//! Sans-IO transparency-log primitives for detente: RFC 6962 / RFC 9162
//! Merkle hashing, tree heads, inclusion and consistency proofs, and C2SP
//! [tlog-tiles](https://c2sp.org/tlog-tiles) (tile paths, tile data, entry
//! bundles).
//!
//! Nothing here does I/O or reads a clock. Storage is reached through two
//! small traits, [`HashReader`] (stored hashes by index) and [`TileReader`]
//! (tile data), so the same proof code serves:
//!
//! * a log writer: [`append`] turns a batch of leaf hashes into the stored
//!   hashes, root and tiles to persist;
//! * clients: [`verify_inclusion`] and [`verify_consistency`] need no storage;
//! * anyone holding tiles: [`TileHashReader`] lets [`prove_inclusion`],
//!   [`prove_consistency`] and [`tree_hash`] run on tiles alone.
//!
//! ```
//! use detente_tlog::{leaf_hash, stored_hashes_for_leaf, tree_hash, prove_inclusion, verify_inclusion};
//! let mut stored = Vec::new();
//! for i in 0..5u8 {
//!     let hs = stored_hashes_for_leaf(i.into(), leaf_hash(&[i]), &stored).unwrap();
//!     stored.extend(hs);
//! }
//! let root = tree_hash(5, &stored).unwrap();
//! let proof = prove_inclusion(5, 3, &stored).unwrap();
//! verify_inclusion(3, 5, &leaf_hash(&[3]), &proof, &root).unwrap();
//! ```
//!
//! Unsupported: tile heights other than 1..=8 and trees over 2^62 leaves
//! (proof verification itself takes any `u64` sizes).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bundle;
mod hash;
mod tile;
mod tree;
mod writer;

pub use bundle::{
    bundle_leaf_hashes, decode_bundle, decode_bundle_for, encode_bundle, MAX_ENTRY_SIZE,
};
pub use hash::{leaf_hash, node_hash, Hash, HASH_SIZE};
pub use tile::{
    new_bundles, new_tiles, parse_path, read_tile_data, Bundle, PathError, Tile, TileHashReader,
    TilePath, TileReader, TILE_HEIGHT, TILE_WIDTH,
};
pub use tree::{
    prove_consistency, prove_inclusion, root_from_inclusion, split_stored_hash_index,
    stored_hash_count, stored_hash_index, stored_hashes_for_leaf, tree_hash, verify_consistency,
    verify_inclusion, HashReader, MAX_TREE_SIZE,
};
pub use writer::{append, Appended};

/// Everything that can go wrong in this crate.
///
/// Variants name the party at fault: malformed input (`Hash*`, `Path`,
/// `Tile*`, `Bundle*`, `Entry*`), a proof that does not check out
/// (`Proof*`, `BadSizes`, `IndexOutOfRange`), or a storage backend that broke
/// its contract (`ReaderCount`, `HashNotFound`, `Storage`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A hash was not exactly 32 bytes.
    #[error("hash is {0} bytes, want 32")]
    HashLength(usize),
    /// A hash was not canonical standard padded base64 of 32 bytes.
    #[error("hash is not valid base64 of 32 bytes")]
    HashBase64,
    /// A leaf index at or beyond the tree size.
    #[error("index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// Tree sizes that admit no consistency proof (old > new, or old = 0).
    #[error("no consistency proof from size {old} to size {new}")]
    BadSizes {
        /// The older (smaller) tree size.
        old: u64,
        /// The newer tree size.
        new: u64,
    },
    /// A proof with the wrong number of hashes for its sizes.
    #[error("proof has the wrong length")]
    ProofLength,
    /// A proof whose hashes do not lead to the expected root(s).
    #[error("proof does not match the root hash")]
    ProofMismatch,
    /// A tree bigger than [`MAX_TREE_SIZE`].
    #[error("tree size {0} is too large")]
    TreeTooLarge(u64),
    /// A hash reader returned the wrong number of hashes.
    #[error("reader returned {got} items, want {want}")]
    ReaderCount {
        /// Number requested.
        want: usize,
        /// Number returned.
        got: usize,
    },
    /// A stored hash (by stored-hash index) that the source does not have.
    #[error("stored hash {0} not available")]
    HashNotFound(u64),
    /// A storage backend failed.
    #[error("storage: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A malformed tile or bundle path.
    #[error("bad tile path: {0}")]
    Path(#[from] PathError),
    /// A tile height outside 1..=8.
    #[error("tile height {0} unsupported")]
    TileHeight(u8),
    /// A tile width outside 1..=2^height.
    #[error("tile width {0} out of range")]
    TileWidth(u32),
    /// Tile data of the wrong length.
    #[error("tile data is {got} bytes, want {want}")]
    TileSize {
        /// Expected length.
        want: usize,
        /// Actual length.
        got: usize,
    },
    /// An entry bundle that ends in the middle of a length prefix or entry.
    #[error("entry bundle is truncated")]
    BundleTruncated,
    /// An entry bundle with the wrong number of entries.
    #[error("entry bundle has {got} entries, want {want}")]
    BundleCount {
        /// Expected count.
        want: usize,
        /// Actual count.
        got: usize,
    },
    /// An entry too large for a bundle's 16-bit length prefix.
    #[error("entry of {0} bytes exceeds 65535")]
    EntryTooLarge(usize),
}
