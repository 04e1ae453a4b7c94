//! Entry bundles: the log entries of one level-0 tile, each prefixed by its
//! length as a big-endian `uint16` (C2SP tlog-tiles, "Log entries").

use crate::tile::Bundle;
use crate::{leaf_hash, Error, Hash};

/// Largest entry an entry bundle can carry.
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

/// Encodes entries as a bundle. An entry over 65,535 bytes is an error.
pub fn encode_bundle<'a, I>(entries: I) -> Result<Vec<u8>, Error>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut out = Vec::new();
    for e in entries {
        let len = u16::try_from(e.len()).map_err(|_| Error::EntryTooLarge(e.len()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Splits bundle data into its entries. A truncated length prefix or entry
/// is an error; an empty input is an empty bundle.
pub fn decode_bundle(data: &[u8]) -> Result<Vec<&[u8]>, Error> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let [a, b, tail @ ..] = rest else {
            return Err(Error::BundleTruncated);
        };
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        if tail.len() < len {
            return Err(Error::BundleTruncated);
        }
        let (e, t) = tail.split_at(len);
        out.push(e);
        rest = t;
    }
    Ok(out)
}

/// Decodes the data of `bundle`, which must hold exactly its width of entries.
pub fn decode_bundle_for<'d>(bundle: &Bundle, data: &'d [u8]) -> Result<Vec<&'d [u8]>, Error> {
    let entries = decode_bundle(data)?;
    if entries.len() != bundle.width() as usize {
        return Err(Error::BundleCount {
            want: bundle.width() as usize,
            got: entries.len(),
        });
    }
    Ok(entries)
}

/// Leaf hashes of a bundle's entries, which must equal its level-0 tile.
pub fn bundle_leaf_hashes(entries: &[&[u8]]) -> Vec<Hash> {
    entries.iter().map(|e| leaf_hash(e)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_errors() {
        let entries: Vec<&[u8]> = vec![b"", b"a", &[7u8; 300]];
        let data = encode_bundle(entries.iter().copied()).unwrap();
        assert_eq!(&data[..3], &[0, 0, 0]);
        assert_eq!(decode_bundle(&data).unwrap(), entries);
        assert!(matches!(
            decode_bundle(&data[..data.len() - 1]),
            Err(Error::BundleTruncated)
        ));
        assert!(matches!(decode_bundle(&[0]), Err(Error::BundleTruncated)));
        assert!(matches!(
            encode_bundle([vec![0u8; 65536].as_slice()]),
            Err(Error::EntryTooLarge(65536))
        ));
        let b = Bundle::new(0, 2).unwrap();
        assert!(matches!(
            decode_bundle_for(&b, &data),
            Err(Error::BundleCount { want: 2, got: 3 })
        ));
    }
}
