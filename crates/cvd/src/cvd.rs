//! `.cvd` / `.cld` containers: verification (`cli_cvdload` + `CVD::verify`) and building a
//! `.cld` the way freshclam's `buildcld` does.

use std::collections::BTreeMap;
use std::io::Write;

use flate2::{write::GzEncoder, Compression};
use md5::{Digest as _, Md5};
use sha2::Sha256;

use crate::dsig;
use crate::header::{CvdHeader, HEADER_LEN};
use crate::info::{parse_info, InfoEntry};
use crate::unpack::{gunzip_all, read_tar, write_tar_member, GunzipError};
use crate::{Error, ErrorKind};

/// Default cap on the unpacked size of a container or cdiff script: 1 GiB.
pub const DEFAULT_MAX_UNPACKED: u64 = 1 << 30;

/// Default cap on the number of tar members in a container.
pub const DEFAULT_MAX_MEMBERS: usize = 4096;

/// `CLI_DBEXT`: members with these extensions must be listed in `.info` and match it.
const DB_EXTENSIONS: &[&str] = &[
    ".db", ".hdb", ".hdu", ".fp", ".mdb", ".mdu", ".hsb", ".hsu", ".sfp", ".msb", ".msu", ".ndb",
    ".ndu", ".ldb", ".ldu", ".sdb", ".zmd", ".rmd", ".pdb", ".gdb", ".wdb", ".cbc", ".ftm", ".cfg",
    ".cvd", ".cld", ".cud", ".cdb", ".cat", ".crb", ".idb", ".ioc", ".yar", ".yara", ".pwdb",
    ".ign", ".ign2", ".imp",
];

/// Options for [`verify_cvd`].
#[derive(Clone, Debug)]
pub struct CvdOptions {
    /// Accept containers whose header signature or `.info` DSIG is missing or invalid (user
    /// builds from sigtool). Header MD5, `.info` sizes and hashes are still checked.
    pub allow_unsigned: bool,
    /// Refuse bodies that unpack to more than this many bytes.
    pub max_unpacked: u64,
    /// Refuse tar archives with more members than this.
    pub max_members: usize,
}

impl Default for CvdOptions {
    fn default() -> Self {
        CvdOptions {
            allow_unsigned: false,
            max_unpacked: DEFAULT_MAX_UNPACKED,
            max_members: DEFAULT_MAX_MEMBERS,
        }
    }
}

/// Container type, from the file name's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerKind {
    /// `.cvd`: signed header (legacy RSA over the body MD5) and signed `.info`.
    Cvd,
    /// `.cld` (built locally by freshclam): header md5/dsig are `X`; only `.info` is signed.
    Cld,
}

/// A verified container.
#[derive(Clone, Debug)]
pub struct VerifiedCvd {
    /// The parsed header.
    pub header: CvdHeader,
    /// From the name's extension.
    pub kind: ContainerKind,
    /// Whether the body was gzip-compressed (otherwise a raw tar).
    pub compressed: bool,
    /// False only with [`CvdOptions::allow_unsigned`] when a signature was missing or invalid.
    pub signed: bool,
    /// Name of the `.info` member.
    pub info_name: String,
    /// The `.info` entries, each checked against its member.
    pub entries: Vec<InfoEntry>,
    /// Every tar member by name (including `COPYING` and the `.info`).
    pub members: BTreeMap<String, Vec<u8>>,
}

fn ends_with_ci(name: &str, ext: &str) -> bool {
    name.len() >= ext.len()
        && name.is_char_boundary(name.len() - ext.len())
        && name[name.len() - ext.len()..].eq_ignore_ascii_case(ext)
}

fn has_db_extension(name: &str) -> bool {
    DB_EXTENSIONS.iter().any(|e| ends_with_ci(name, e))
}

/// Verifies a `.cvd` or `.cld` (chosen by `name`'s extension) as ClamAV 1.5 loads it, and
/// returns its members.
///
/// `.cvd`: header MD5 (exact lowercase match) and legacy header signature. Both: bounded
/// unpack, `.info` DSIG, header fields equal to the `.info` header line (build time and
/// builder too, which ClamAV does not compare), and every member with a database extension
/// listed in `.info` with matching size and SHA-256. Stricter than ClamAV: every listed member
/// must be present, listed non-database members are checked too, and duplicate member names,
/// a second `.info` and trailing data after the gzip stream are refused. A detached `.sign`
/// is checked separately with [`crate::verify_sign`].
pub fn verify_cvd(name: &str, bytes: &[u8], opts: &CvdOptions) -> Result<VerifiedCvd, Error> {
    let fail = |kind| Error::new(name, kind);
    let kind = if ends_with_ci(name, ".cvd") {
        ContainerKind::Cvd
    } else if ends_with_ci(name, ".cld") {
        ContainerKind::Cld
    } else {
        return Err(fail(ErrorKind::UnknownContainer));
    };
    let header = CvdHeader::parse(bytes).map_err(fail)?;
    let body = &bytes[HEADER_LEN..];
    let mut signed = true;

    let computed = dsig::hex(&Md5::digest(body));
    if let Some(md5) = &header.md5 {
        if *md5 != computed {
            return Err(fail(ErrorKind::HeaderMd5 {
                header: md5.clone(),
                computed,
            }));
        }
    }
    if kind == ContainerKind::Cvd {
        let problem = match &header.dsig {
            None => Some(ErrorKind::HeaderSignatureMissing),
            Some(d) if !dsig::versig(&computed, d.as_bytes()) => Some(ErrorKind::HeaderSignature),
            Some(_) => None,
        };
        if let Some(p) = problem {
            if !opts.allow_unsigned {
                return Err(fail(p));
            }
            signed = false;
        }
    }

    let compressed = !body.starts_with(b"COPYING");
    let unpacked;
    let tar: &[u8] = if compressed {
        unpacked = gunzip_all(body, opts.max_unpacked).map_err(|e| {
            fail(match e {
                GunzipError::TooLarge => ErrorKind::TooLarge {
                    limit: opts.max_unpacked,
                },
                GunzipError::Invalid(m) => ErrorKind::Gzip(m),
            })
        })?;
        &unpacked
    } else {
        body
    };
    let mut members = BTreeMap::new();
    let mut info_name: Option<String> = None;
    for m in read_tar(tar, opts.max_members).map_err(fail)? {
        let mname = String::from_utf8(m.name.to_vec()).map_err(|_| {
            fail(ErrorKind::Tar {
                offset: 0,
                reason: "member name is not UTF-8",
            })
        })?;
        if ends_with_ci(&mname, ".info") {
            if info_name.is_some() {
                return Err(fail(ErrorKind::InfoDuplicate(mname)));
            }
            info_name = Some(mname.clone());
        }
        if members.insert(mname.clone(), m.data.to_vec()).is_some() {
            return Err(fail(ErrorKind::DuplicateMember(mname)));
        }
    }
    let info_name = info_name.ok_or(fail(ErrorKind::InfoMissing))?;
    let info = parse_info(&members[&info_name]).map_err(fail)?;
    match info.signature {
        Some(true) => {}
        problem if !opts.allow_unsigned => {
            return Err(fail(if problem.is_none() {
                ErrorKind::InfoSignatureMissing
            } else {
                ErrorKind::InfoSignature
            }))
        }
        _ => signed = false,
    }

    let ih = &info.header;
    let mismatch = |field, h: String, i: String| {
        if h == i {
            Ok(())
        } else {
            Err(fail(ErrorKind::InfoHeaderMismatch {
                field,
                header: h,
                info: i,
            }))
        }
    };
    mismatch(
        "version",
        header.version.to_string(),
        ih.version.to_string(),
    )?;
    mismatch("sigs", header.sigs.to_string(), ih.sigs.to_string())?;
    mismatch("flevel", header.flevel.to_string(), ih.flevel.to_string())?;
    mismatch("stime", header.stime.to_string(), ih.stime.to_string())?;
    mismatch(
        "build time",
        header.build_time.clone(),
        ih.build_time.clone(),
    )?;
    mismatch("builder", header.builder.clone(), ih.builder.clone())?;

    for e in &info.entries {
        let data = members
            .get(&e.name)
            .ok_or_else(|| fail(ErrorKind::MemberMissing(e.name.clone())))?;
        if data.len() as u64 != e.size {
            return Err(fail(ErrorKind::MemberSize {
                member: e.name.clone(),
                listed: e.size,
                actual: data.len() as u64,
            }));
        }
        if Sha256::digest(data).as_slice() != e.sha256 {
            return Err(fail(ErrorKind::MemberHash(e.name.clone())));
        }
    }
    for m in members.keys() {
        if has_db_extension(m) && !info.entries.iter().any(|e| e.name == *m) {
            return Err(fail(ErrorKind::MemberNotListed(m.clone())));
        }
    }
    Ok(VerifiedCvd {
        header,
        kind,
        compressed,
        signed,
        info_name,
        entries: info.entries,
        members,
    })
}

/// Builds a `.cld` from database members as freshclam's `buildcld` does: the header is the
/// `.info`'s first line padded with spaces to 512 bytes, then a gzip'd tar (`tar_addfile`
/// framing, no end-of-archive blocks) of `COPYING`, the `.info`, `<db>.cfg` if present and the
/// remaining members in name order. Needs `COPYING` and exactly one `.info` member.
pub fn build_cld(members: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, Error> {
    let fail = |kind| Error::new("build_cld", kind);
    let copying = members
        .get("COPYING")
        .ok_or(fail(ErrorKind::BuildMissing("COPYING")))?;
    let mut infos = members.keys().filter(|n| ends_with_ci(n, ".info"));
    let info_name = infos
        .next()
        .ok_or(fail(ErrorKind::BuildMissing("a .info member")))?;
    if let Some(second) = infos.next() {
        return Err(fail(ErrorKind::InfoDuplicate(second.clone())));
    }
    let info = &members[info_name];
    for n in members.keys() {
        if n.is_empty() || n.len() > 99 || n.bytes().any(|b| b == 0 || b == b'/') {
            return Err(fail(ErrorKind::BuildName(n.clone())));
        }
    }
    let first_line = info.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let mut out = first_line[..first_line.len().min(HEADER_LEN)].to_vec();
    out.resize(HEADER_LEN, b' ');

    let cfg_name = format!("{}.cfg", &info_name[..info_name.len() - ".info".len()]);
    let mut tar = Vec::new();
    write_tar_member(&mut tar, b"COPYING", copying);
    write_tar_member(&mut tar, info_name.as_bytes(), info);
    if let Some(cfg) = members.get(&cfg_name) {
        write_tar_member(&mut tar, cfg_name.as_bytes(), cfg);
    }
    for (n, data) in members {
        if n != "COPYING" && n != info_name && *n != cfg_name {
            write_tar_member(&mut tar, n.as_bytes(), data);
        }
    }
    let mut gz = GzEncoder::new(out, Compression::best());
    gz.write_all(&tar)
        .and_then(|()| gz.finish())
        .map_err(|e| fail(ErrorKind::Gzip(e.to_string())))
}
