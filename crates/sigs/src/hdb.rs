//! Hash signature lines: `.hdb`/`.hsb` (file hashes) and `.mdb`/`.msb` (PE section hashes).

use super::*;

pub(crate) fn parse_digest(s: &str) -> Result<(HashKind, [u8; 32]), ParseErrorKind> {
    let kind = match s.len() {
        32 => HashKind::Md5,
        40 => HashKind::Sha1,
        64 => HashKind::Sha256,
        _ => return Err(ParseErrorKind::Hash(s.to_string())),
    };
    let mut d = [0u8; 32];
    // Branch-free: table lookups, one check for the whole digest.
    let mut bad = 0u8;
    for (o, p) in d.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        let (h, l) = (HEX[p[0] as usize], HEX[p[1] as usize]);
        bad |= (h | l) & 0x80;
        *o = h << 4 | (l & 0x0f);
    }
    if bad != 0 {
        return Err(ParseErrorKind::Hash(s.to_string()));
    }
    Ok((kind, d))
}

/// Parses `Hash:Size:Name[:MinFL[:MaxFL]]`. Returns None when the level excludes this engine.
pub fn parse_hash_line(line: &str) -> Result<Option<HashSig>, ParseErrorKind> {
    Ok(hash_fields(line, 0, 1)?.map(|r| r.to_sig()))
}

/// Parses `SectionSize:SectionHash:Name[:MinFL[:MaxFL]]` (`.mdb`, `.msb`). Returns None when
/// the level excludes this engine.
pub fn parse_section_hash_line(line: &str) -> Result<Option<HashSig>, ParseErrorKind> {
    Ok(hash_fields(line, 1, 0)?.map(|r| r.to_sig()))
}

/// The hash-signature layouts: digest and size in fields `digest_at` and `size_at` (0 or 1),
/// then the name and optional functionality levels.
pub(crate) fn hash_fields(
    line: &str,
    digest_at: usize,
    size_at: usize,
) -> Result<Option<HashRef<'_>>, ParseErrorKind> {
    let f = Fields::split(line, b':');
    if !(3..=5).contains(&f.len()) {
        return Err(ParseErrorKind::FieldCount {
            expected: "3 to 5",
            sep: ':',
            found: f.len(),
        });
    }
    let (kind, digest) = parse_digest(f[digest_at])?;
    let size = if f[size_at] == "*" {
        let min = f.get(3).and_then(|s| number(s));
        if min.is_none_or(|m| m < 73) {
            return Err(ParseErrorKind::WildcardSize);
        }
        None
    } else {
        Some(number(f[size_at]).ok_or_else(|| ParseErrorKind::Size(f[size_at].to_string()))?)
    };
    let name = check_name_ref(f[2])?;
    if !level_ok(f.get(3).copied(), f.get(4).copied())? {
        return Ok(None);
    }
    Ok(Some(HashRef {
        kind,
        digest,
        size,
        name,
    }))
}
