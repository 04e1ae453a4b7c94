//! The `.info` member (`cli_loadinfo`): a `ClamAV-VDB:` header line, one `name:size:sha256`
//! line per member, and a `DSIG:` line signing the SHA-256 of everything before it.

use sha2::{Digest, Sha256};

use crate::dsig::{self, INFO_KEY};
use crate::header::InfoHeader;
use crate::ErrorKind;

/// One `.info` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InfoEntry {
    /// Member name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the member.
    pub sha256: [u8; 32],
}

/// A parsed `.info`.
pub(crate) struct Info {
    pub header: InfoHeader,
    pub entries: Vec<InfoEntry>,
    /// `Some(valid)` if a DSIG line was present.
    pub signature: Option<bool>,
}

/// Parses `.info` text and checks its DSIG. Processing stops at the first `DSIG:` line.
pub(crate) fn parse_info(data: &[u8]) -> Result<Info, ErrorKind> {
    let mut header = None;
    let mut entries: Vec<InfoEntry> = Vec::new();
    let mut signature = None;
    let mut pos = 0;
    let mut line_no = 0;
    while pos < data.len() {
        line_no += 1;
        let end = data[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |p| pos + p + 1);
        let raw = &data[pos..end];
        if let Some(sig) = raw.strip_prefix(b"DSIG:") {
            // Signed: every byte before this line. The value keeps any '\r' (which then fails
            // to decode, as in ClamAV).
            let sig = sig.strip_suffix(b"\n").unwrap_or(sig);
            let digest: [u8; 32] = Sha256::digest(&data[..pos]).into();
            signature = Some(dsig::versig2(&digest, sig, INFO_KEY));
            break;
        }
        pos = end;
        let err = |reason| ErrorKind::Info {
            line: line_no,
            reason,
        };
        // cli_chomp: strip all trailing CR/LF.
        let mut line = raw;
        while let Some((&last, rest)) = line.split_last() {
            if last != b'\n' && last != b'\r' {
                break;
            }
            line = rest;
        }
        if line.starts_with(b"ClamAV-VDB:") {
            if header.is_some() {
                return Err(err("second ClamAV-VDB header line"));
            }
            header = Some(InfoHeader::parse(line).map_err(err)?);
            continue;
        }
        if header.is_none() {
            return Err(err("entry before the ClamAV-VDB header line"));
        }
        let fields: Vec<&[u8]> = line.splitn(4, |&b| b == b':').collect();
        let [name, size, sha] = fields[..] else {
            return Err(err("entry is not name:size:sha256"));
        };
        let name = std::str::from_utf8(name).map_err(|_| err("member name is not UTF-8"))?;
        if name.is_empty() {
            return Err(err("empty member name"));
        }
        if size.is_empty() || !size.iter().all(u8::is_ascii_digit) {
            return Err(err("size is not a decimal number"));
        }
        let size = std::str::from_utf8(size)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(err("size is too large"))?;
        let sha256 = parse_sha256(sha).ok_or(err("SHA-256 is not 64 hex digits"))?;
        if entries.iter().any(|e| e.name == name) {
            return Err(err("member listed twice"));
        }
        entries.push(InfoEntry {
            name: name.to_string(),
            size,
            sha256,
        });
    }
    let header = header.ok_or(ErrorKind::Info {
        line: 1,
        reason: "no ClamAV-VDB header line",
    })?;
    if entries.is_empty() {
        return Err(ErrorKind::Info {
            line: line_no.max(1),
            reason: "no entries",
        });
    }
    Ok(Info {
        header,
        entries,
        signature,
    })
}

fn parse_sha256(hex: &[u8]) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let d = |c: u8| (c as char).to_digit(16);
        *o = (d(pair[0])? * 16 + d(pair[1])?) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "ClamAV-VDB:t:1:0:81:X:X:b:5\n";
    const SHA: &str = "244a20e9da37de181ede6db64f85c97916381d91f65e1b39e4f9300cb0726be9";

    #[test]
    fn parses_entries_and_stops_at_dsig() {
        let text = format!(
            "{H}a.ndb:240:{SHA}\nb.ldb:0:{}\nDSIG:abc\ngarbage",
            SHA.to_uppercase()
        );
        let info = parse_info(text.as_bytes()).unwrap();
        assert_eq!(info.entries.len(), 2);
        assert_eq!(info.entries[0].size, 240);
        assert_eq!(info.entries[0].sha256, info.entries[1].sha256);
        assert_eq!(info.signature, Some(false));
        assert_eq!(info.header.stime, 5);
        let unsigned = parse_info(format!("{H}a.ndb:240:{SHA}\n").as_bytes()).unwrap();
        assert_eq!(unsigned.signature, None);
    }

    #[test]
    fn rejects_malformed_info() {
        let bad = [
            format!("a.ndb:1:{SHA}\n{H}"),
            format!("{H}{H}a.ndb:1:{SHA}\n"),
            format!("{H}a.ndb:1:{SHA}:x\n"),
            format!("{H}a.ndb:1\n"),
            format!("{H}a.ndb:-1:{SHA}\n"),
            format!("{H}a.ndb:99999999999999999999999:{SHA}\n"),
            format!("{H}a.ndb:1:{}\n", &SHA[1..]),
            format!("{H}a.ndb:1:{}g\n", &SHA[1..]),
            format!("{H}:1:{SHA}\n"),
            format!("{H}a.ndb:1:{SHA}\na.ndb:1:{SHA}\n"),
            format!("{H}\n"),
            H.to_string(),
            String::new(),
            "ClamAV-VDB:t\nDSIG:x".to_string(),
        ];
        for b in bad {
            assert!(
                matches!(parse_info(b.as_bytes()), Err(ErrorKind::Info { .. })),
                "{b:?}"
            );
        }
        assert!(parse_info(&[0xff, b'\n', 0x80]).is_err());
    }
}
