//! Bounded gunzip and the minimal tar dialect of ClamAV containers (`cli_tgzload` for reading,
//! `tar_addfile` for writing).

use std::io::Read;

use flate2::bufread::GzDecoder;

use crate::ErrorKind;

const BLOCK: usize = 512;

/// Why a bounded gunzip failed.
#[derive(Debug)]
pub(crate) enum GunzipError {
    /// More than the limit would be produced.
    TooLarge,
    /// Not a valid gzip stream (bad header, data, CRC, truncation), with the decoder's message.
    Invalid(String),
}

/// Decompresses one gzip member from the start of `data`, producing at most `limit` bytes.
/// Returns the output and the input bytes after the member.
pub(crate) fn gunzip_member(data: &[u8], limit: u64) -> Result<(Vec<u8>, &[u8]), GunzipError> {
    let mut out = Vec::new();
    let mut dec = GzDecoder::new(data);
    // Read one byte past the limit so that "exactly the limit" is told apart from "more".
    let n = (&mut dec)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| GunzipError::Invalid(e.to_string()))?;
    if n as u64 > limit {
        return Err(GunzipError::TooLarge);
    }
    Ok((out, dec.into_inner()))
}

/// Decompresses a stream of one or more concatenated gzip members (as zlib's `gzread` does),
/// producing at most `limit` bytes in total. Anything after the last member is an error.
pub(crate) fn gunzip_all(data: &[u8], limit: u64) -> Result<Vec<u8>, GunzipError> {
    let (mut out, mut rest) = gunzip_member(data, limit)?;
    while !rest.is_empty() {
        let (more, r) = gunzip_member(rest, limit - out.len() as u64)?;
        out.extend_from_slice(&more);
        rest = r;
    }
    Ok(out)
}

/// One tar member: name and the range of its data in the tar.
pub(crate) struct TarMember<'a> {
    pub name: &'a [u8],
    pub data: &'a [u8],
}

/// Walks a container tar as `cli_tgzload` does: 512-byte headers, a block starting with NUL (or
/// the end of the data) ends the archive, names without `/`, regular files only (type `'0'`
/// or NUL), size read as octal. At most `max_members` members.
pub(crate) fn read_tar(tar: &[u8], max_members: usize) -> Result<Vec<TarMember<'_>>, ErrorKind> {
    let mut members = Vec::new();
    let mut pos = 0;
    while pos < tar.len() {
        let err = |reason| ErrorKind::Tar {
            offset: pos,
            reason,
        };
        let hdr = tar
            .get(pos..pos + BLOCK)
            .ok_or(err("truncated header block"))?;
        if hdr[0] == 0 {
            break;
        }
        if members.len() == max_members {
            return Err(ErrorKind::TooManyMembers { limit: max_members });
        }
        let name_field = &hdr[..100];
        let name = &name_field[..name_field.iter().position(|&b| b == 0).unwrap_or(100)];
        if name.contains(&b'/') {
            return Err(err("member names may not contain '/'"));
        }
        match hdr[156] {
            b'0' | 0 => {}
            b'5' => return Err(err("directories are not supported")),
            _ => return Err(err("unsupported member type")),
        }
        let size = parse_octal(&hdr[124..136]).ok_or(err("invalid member size"))?;
        let start = pos + BLOCK;
        let data = usize::try_from(size)
            .ok()
            .and_then(|s| tar.get(start..start.checked_add(s)?))
            .ok_or(err("member data is truncated"))?;
        members.push(TarMember { name, data });
        // The zero padding to the next block may be missing at the very end.
        pos = start + data.len().div_ceil(BLOCK) * BLOCK;
    }
    Ok(members)
}

/// `sscanf("%o")` on the size field: optional leading whitespace, then octal digits.
fn parse_octal(field: &[u8]) -> Option<u64> {
    let s = field.iter().skip_while(|b| b.is_ascii_whitespace());
    let mut v: u64 = 0;
    let mut any = false;
    for &b in s {
        if !(b'0'..=b'7').contains(&b) {
            break;
        }
        v = v.checked_mul(8)?.checked_add(u64::from(b - b'0'))?;
        any = true;
    }
    any.then_some(v)
}

/// Appends one member with `tar_addfile`'s framing: a v7 header with only name, size (`%o`)
/// and checksum (`%06o` + NUL) set, then the data zero-padded to 512. The name must be 1-99
/// bytes without NUL or `/` (checked by the caller).
pub(crate) fn write_tar_member(out: &mut Vec<u8>, name: &[u8], data: &[u8]) {
    let mut hdr = [0u8; BLOCK];
    hdr[..name.len()].copy_from_slice(name);
    let size = format!("{:o}", data.len());
    hdr[124..124 + size.len()].copy_from_slice(size.as_bytes());
    // The checksum field counts as 8 spaces (8 * 32 = 256) while it is being summed.
    let sum: u32 = hdr.iter().map(|&b| u32::from(b)).sum::<u32>() + 256;
    let sum = format!("{sum:06o}");
    hdr[148..148 + sum.len()].copy_from_slice(sum.as_bytes());
    out.extend_from_slice(&hdr);
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gunzip_is_bounded() {
        let bomb = gz(&vec![0u8; 4 << 20]);
        assert!(bomb.len() < 64 << 10);
        assert!(matches!(
            gunzip_all(&bomb, 1 << 20),
            Err(GunzipError::TooLarge)
        ));
        assert_eq!(gunzip_all(&bomb, 4 << 20).unwrap().len(), 4 << 20);
        // Limit across concatenated members.
        let mut two = gz(&[1u8; 600]);
        two.extend(gz(&[2u8; 600]));
        assert_eq!(gunzip_all(&two, 1200).unwrap().len(), 1200);
        assert!(matches!(gunzip_all(&two, 1199), Err(GunzipError::TooLarge)));
        // Trailing garbage, truncation and bad CRC are errors.
        let mut junk = gz(b"hello");
        junk.push(b'x');
        assert!(matches!(
            gunzip_all(&junk, 100),
            Err(GunzipError::Invalid(_))
        ));
        let g = gz(b"hello world");
        assert!(matches!(
            gunzip_all(&g[..g.len() - 3], 100),
            Err(GunzipError::Invalid(_))
        ));
        let mut crc = g.clone();
        let n = crc.len();
        crc[n - 8] ^= 1;
        assert!(matches!(
            gunzip_all(&crc, 100),
            Err(GunzipError::Invalid(_))
        ));
        assert!(matches!(gunzip_all(b"", 100), Err(GunzipError::Invalid(_))));
    }

    #[test]
    fn tar_round_trip_and_rules() {
        let mut t = Vec::new();
        write_tar_member(&mut t, b"COPYING", b"x");
        write_tar_member(&mut t, b"a.info", &[7u8; 1024]);
        write_tar_member(&mut t, b"empty.ndb", b"");
        assert_eq!(t.len(), 512 * 2 + 512 + 1024 + 512);
        // The checksum is a valid v7 checksum.
        let hdr = &t[..512];
        let mut sum: u32 = hdr.iter().map(|&b| u32::from(b)).sum();
        sum -= hdr[148..156].iter().map(|&b| u32::from(b)).sum::<u32>();
        sum += 256;
        assert_eq!(&hdr[148..156], format!("{sum:06o}\0\0").as_bytes());
        let m = read_tar(&t, 10).unwrap();
        let names: Vec<&[u8]> = m.iter().map(|m| m.name).collect();
        assert_eq!(names, [&b"COPYING"[..], b"a.info", b"empty.ndb"]);
        assert_eq!(m[1].data, &[7u8; 1024][..]);
        assert!(matches!(
            read_tar(&t, 2),
            Err(ErrorKind::TooManyMembers { limit: 2 })
        ));
        // A zero block ends the archive; trailing padding may be missing.
        let mut z = t.clone();
        z.extend([0u8; 1024]);
        z.extend([1u8; 10]);
        assert_eq!(read_tar(&z, 10).unwrap().len(), 3);
        let mut short = Vec::new();
        write_tar_member(&mut short, b"x.ndb", b"abc");
        short.truncate(515);
        assert_eq!(read_tar(&short, 10).unwrap()[0].data, b"abc");
        short.truncate(514);
        assert!(read_tar(&short, 10).is_err());
        // Slashes, directories, other types, bad sizes.
        for (off, val) in [(1usize, b'/'), (156, b'5'), (156, b'L'), (124, b'9')] {
            let mut b = Vec::new();
            write_tar_member(&mut b, b"x.ndb", b"abc");
            b[off] = val;
            assert!(
                matches!(read_tar(&b, 10), Err(ErrorKind::Tar { offset: 0, .. })),
                "{off}"
            );
        }
        let mut huge = Vec::new();
        write_tar_member(&mut huge, b"x.ndb", b"abc");
        huge[124..136].copy_from_slice(b"77777777777\0");
        assert!(read_tar(&huge, 10).is_err());
        assert!(read_tar(&[1u8; 100], 10).is_err());
        assert_eq!(parse_octal(b"  17 \0"), Some(15));
        assert_eq!(parse_octal(b"\0"), None);
        assert_eq!(parse_octal(b"7777777777777777777777777"), None);
    }
}
