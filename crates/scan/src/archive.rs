//! Looking into archives and compressed files, in memory, within limits.
//!
//! [`Container::detect`] recognises zip, tar, gzip, bzip2, xz and zstd by their magic bytes;
//! [`unpack`] yields each member's bytes to a callback. Every read is bounded: a member is
//! read to at most the remaining byte budget plus one byte, so an oversized or bomb-like member
//! is detected without being decompressed whole.

use std::io::{Cursor, Read};

/// Kinds of containers detente looks into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// PKZIP archive.
    Zip,
    /// POSIX/GNU tar archive.
    Tar,
    /// gzip stream.
    Gzip,
    /// bzip2 stream.
    Bzip2,
    /// xz stream.
    Xz,
    /// Zstandard frame.
    Zstd,
}

impl Container {
    /// Recognises a container by its first bytes.
    pub fn detect(data: &[u8]) -> Option<Container> {
        if data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06") {
            Some(Container::Zip)
        } else if data.starts_with(&[0x1f, 0x8b]) {
            Some(Container::Gzip)
        } else if data.len() >= 10 && data.starts_with(b"BZh") && (b'1'..=b'9').contains(&data[3]) {
            Some(Container::Bzip2)
        } else if data.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Container::Xz)
        } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Container::Zstd)
        } else if is_tar(data) {
            Some(Container::Tar)
        } else {
            None
        }
    }

    /// Short lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Container::Zip => "zip",
            Container::Tar => "tar",
            Container::Gzip => "gzip",
            Container::Bzip2 => "bzip2",
            Container::Xz => "xz",
            Container::Zstd => "zstd",
        }
    }
}

/// A tar header: "ustar" magic, or a v7 header whose checksum is right.
fn is_tar(data: &[u8]) -> bool {
    let Some(h) = data.get(..512) else {
        return false;
    };
    if &h[257..262] == b"ustar" {
        return true;
    }
    if h[0] == 0 {
        return false;
    }
    let field = &h[148..156];
    let digits: String = field
        .iter()
        .take_while(|b| **b != 0 && **b != b' ')
        .map(|b| *b as char)
        .collect();
    let Ok(want) = u32::from_str_radix(digits.trim(), 8) else {
        return false;
    };
    let sum: u32 = h
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                *b as u32
            }
        })
        .sum();
    sum == want && !digits.is_empty()
}

/// Why unpacking stopped early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The container is malformed.
    Corrupt(String),
    /// More members than allowed.
    MaxFiles,
    /// A member, or the total, would exceed the byte budget.
    MaxSize,
    /// A member decompresses to more than `max_ratio` times its compressed size.
    Ratio,
    /// An encrypted member that cannot be read.
    Encrypted(String),
}

/// Limits for one unpack call.
#[derive(Clone, Copy, Debug)]
pub struct UnpackLimits {
    /// Largest member, in bytes.
    pub max_member: u64,
    /// Most members.
    pub max_files: u64,
    /// Largest ratio of unpacked to packed size (checked once a member exceeds 1 MiB).
    pub max_ratio: u64,
}

const RATIO_FLOOR: u64 = 1 << 20;

/// Reads at most `limit` bytes; Err(MaxSize) if more were available.
fn read_bounded(r: &mut dyn Read, limit: u64) -> Result<Vec<u8>, ReadErr> {
    let mut buf = Vec::new();
    let mut take = r.take(limit.saturating_add(1));
    take.read_to_end(&mut buf).map_err(ReadErr::Io)?;
    if buf.len() as u64 > limit {
        return Err(ReadErr::TooBig);
    }
    Ok(buf)
}

enum ReadErr {
    Io(std::io::Error),
    TooBig,
}

fn ratio_ok(unpacked: u64, packed: u64, max_ratio: u64) -> bool {
    unpacked <= RATIO_FLOOR || unpacked <= packed.saturating_mul(max_ratio)
}

/// Unpacks `data` as `kind`, calling `member(name, bytes)` for every regular file member.
/// `member` returns false to stop early. Returns why unpacking stopped, if it did.
pub fn unpack(
    kind: Container,
    data: &[u8],
    limits: UnpackLimits,
    member: &mut dyn FnMut(&str, &[u8]) -> bool,
) -> Option<Stop> {
    match kind {
        Container::Zip => unpack_zip(data, limits, member),
        Container::Tar => unpack_tar(data, limits, member),
        Container::Gzip => {
            let name = gzip_name(data).unwrap_or_default();
            stream(
                &mut flate2::read::MultiGzDecoder::new(data),
                &name,
                data.len(),
                limits,
                member,
            )
        }
        Container::Bzip2 => stream(
            &mut bzip2::read::MultiBzDecoder::new(data),
            "",
            data.len(),
            limits,
            member,
        ),
        Container::Xz => stream(
            &mut lzma_rust2::XzReader::new(data, true),
            "",
            data.len(),
            limits,
            member,
        ),
        Container::Zstd => match zstd::stream::read::Decoder::with_buffer(data) {
            Ok(mut d) => stream(&mut d, "", data.len(), limits, member),
            Err(e) => Some(Stop::Corrupt(e.to_string())),
        },
    }
}

/// The original file name stored in a gzip header (FNAME), if any.
fn gzip_name(data: &[u8]) -> Option<String> {
    let flags = *data.get(3)?;
    let mut p = 10usize;
    if flags & 0x04 != 0 {
        let xlen = u16::from_le_bytes([*data.get(10)?, *data.get(11)?]) as usize;
        p += 2 + xlen;
    }
    if flags & 0x08 == 0 {
        return None;
    }
    let rest = data.get(p..)?;
    let end = rest.iter().position(|b| *b == 0)?;
    let name = String::from_utf8_lossy(&rest[..end]).into_owned();
    (!name.is_empty()).then_some(name)
}

fn stream(
    r: &mut dyn Read,
    name: &str,
    packed: usize,
    limits: UnpackLimits,
    member: &mut dyn FnMut(&str, &[u8]) -> bool,
) -> Option<Stop> {
    // Decompress in bounded steps so a bomb is cut short by the ratio check.
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                // Scan what was recovered, then report the damage.
                if !out.is_empty() {
                    member(name, &out);
                }
                return Some(Stop::Corrupt(e.to_string()));
            }
        };
        out.extend_from_slice(&chunk[..n]);
        if out.len() as u64 > limits.max_member {
            out.truncate(limits.max_member as usize);
            member(name, &out);
            return Some(Stop::MaxSize);
        }
        if !ratio_ok(out.len() as u64, packed as u64, limits.max_ratio) {
            return Some(Stop::Ratio);
        }
    }
    member(name, &out);
    None
}

fn unpack_zip(
    data: &[u8],
    limits: UnpackLimits,
    member: &mut dyn FnMut(&str, &[u8]) -> bool,
) -> Option<Stop> {
    let mut zip = match zip::ZipArchive::new(Cursor::new(data)) {
        Ok(z) => z,
        Err(e) => return Some(Stop::Corrupt(e.to_string())),
    };
    let mut stop = None;
    for i in 0..zip.len() {
        if i as u64 >= limits.max_files {
            stop = Some(Stop::MaxFiles);
            break;
        }
        let mut f = match zip.by_index(i) {
            Ok(f) => f,
            Err(zip::result::ZipError::UnsupportedArchive(m))
                if m.contains("ncrypt") || m.contains("assword") =>
            {
                stop.get_or_insert(Stop::Encrypted(format!("member {i}")));
                continue;
            }
            Err(e) => {
                stop.get_or_insert(Stop::Corrupt(format!("member {i}: {e}")));
                continue;
            }
        };
        if !f.is_file() {
            continue;
        }
        let name = f
            .name()
            .map(|c| c.into_owned())
            .unwrap_or_else(|_| format!("member {i}"));
        if f.encrypted() {
            stop.get_or_insert(Stop::Encrypted(name));
            continue;
        }
        let packed = f.compressed_size();
        match read_bounded(&mut f, limits.max_member) {
            Ok(buf) => {
                if !ratio_ok(buf.len() as u64, packed, limits.max_ratio) {
                    stop.get_or_insert(Stop::Ratio);
                    continue;
                }
                if !member(&name, &buf) {
                    return stop;
                }
            }
            Err(ReadErr::TooBig) => {
                stop.get_or_insert(Stop::MaxSize);
            }
            Err(ReadErr::Io(e)) => {
                stop.get_or_insert(Stop::Corrupt(format!("{name}: {e}")));
            }
        }
    }
    stop
}

fn unpack_tar(
    data: &[u8],
    limits: UnpackLimits,
    member: &mut dyn FnMut(&str, &[u8]) -> bool,
) -> Option<Stop> {
    let mut ar = tar::Archive::new(data);
    let entries = match ar.entries() {
        Ok(e) => e,
        Err(e) => return Some(Stop::Corrupt(e.to_string())),
    };
    let mut count = 0u64;
    let mut stop = None;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => return stop.or(Some(Stop::Corrupt(e.to_string()))),
        };
        let t = entry.header().entry_type();
        if !(t.is_file() || t == tar::EntryType::Continuous || t == tar::EntryType::GNUSparse) {
            continue;
        }
        count += 1;
        if count > limits.max_files {
            return stop.or(Some(Stop::MaxFiles));
        }
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        match read_bounded(&mut entry, limits.max_member) {
            Ok(buf) => {
                if !member(&name, &buf) {
                    return stop;
                }
            }
            // Skip the oversized member; the reader moves to the next header.
            Err(ReadErr::TooBig) => {
                stop.get_or_insert(Stop::MaxSize);
            }
            Err(ReadErr::Io(e)) => return Some(Stop::Corrupt(format!("{name}: {e}"))),
        }
    }
    stop
}
