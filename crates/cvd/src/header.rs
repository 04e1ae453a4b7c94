//! The 512-byte container header (ClamAV 1.5 `CVD::from_file` rules) and the `.info` header
//! line (C `cl_cvdparse` rules).

use crate::ErrorKind;

/// Size of the container header in bytes.
pub const HEADER_LEN: usize = 512;

/// A parsed `.cvd`/`.cld` header:
/// `ClamAV-VDB:<time>:<version>:<sigs>:<flevel>:<md5>:<dsig>:<builder>:<stime>` + space padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CvdHeader {
    /// Build time as written (`strftime("%d %b %Y %H-%M %z")`, no colons).
    pub build_time: String,
    /// Database version.
    pub version: u32,
    /// Number of signatures.
    pub sigs: u32,
    /// Minimum functionality level.
    pub flevel: u32,
    /// MD5 of the body as written; `None` unless exactly 32 characters (e.g. `X` in a `.cld`).
    pub md5: Option<String>,
    /// Legacy RSA signature; `None` if at most one character (e.g. `X` in a `.cld`).
    pub dsig: Option<String>,
    /// Builder name.
    pub builder: String,
    /// Creation time in Unix seconds.
    pub stime: u64,
}

impl CvdHeader {
    /// Parses the first 512 bytes of `data` as ClamAV 1.5 does: split on `:`, strict `u32`
    /// numbers, and a required 9th field (the rest of the block, trailing whitespace trimmed).
    pub fn parse(data: &[u8]) -> Result<CvdHeader, ErrorKind> {
        let block = data.get(..HEADER_LEN).ok_or(ErrorKind::HeaderTooShort)?;
        let text = std::str::from_utf8(block).map_err(|_| ErrorKind::HeaderField {
            field: "text (not UTF-8)",
        })?;
        let mut f = text.splitn(9, ':');
        if f.next() != Some("ClamAV-VDB") {
            return Err(ErrorKind::HeaderMagic);
        }
        let mut next = |field: &'static str| f.next().ok_or(ErrorKind::HeaderField { field });
        let build_time = next("build time")?.to_string();
        let num = |s: &str, field: &'static str| {
            s.parse::<u32>()
                .map_err(|_| ErrorKind::HeaderField { field })
        };
        let version = num(next("version")?, "version")?;
        let sigs = num(next("sigs")?, "sigs")?;
        let flevel = num(next("flevel")?, "flevel")?;
        let md5 = next("md5")?;
        let dsig = next("dsig")?;
        let builder = next("builder")?.to_string();
        let stime = next("stime")?
            .trim_end()
            .parse::<u64>()
            .map_err(|_| ErrorKind::HeaderField { field: "stime" })?;
        Ok(CvdHeader {
            build_time,
            version,
            sigs,
            flevel,
            md5: (md5.len() == 32).then(|| md5.to_string()),
            dsig: (dsig.len() > 1).then(|| dsig.to_string()),
            builder,
            stime,
        })
    }
}

/// The `.info` header line as `cl_cvdparse` reads it (empty fields collapsed, `atoi` numbers,
/// stime optional).
pub(crate) struct InfoHeader {
    pub build_time: String,
    pub version: i128,
    pub sigs: i128,
    pub flevel: i128,
    pub builder: String,
    pub stime: i128,
}

impl InfoHeader {
    /// Parses one line (without its newline) that starts with `ClamAV-VDB:`.
    pub(crate) fn parse(line: &[u8]) -> Result<InfoHeader, &'static str> {
        let fields: Vec<&[u8]> = line
            .split(|&b| b == b':')
            .filter(|f| !f.is_empty())
            .collect();
        let get = |i: usize, what: &'static str| fields.get(i).copied().ok_or(what);
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Ok(InfoHeader {
            build_time: text(get(1, "header line has no build time")?),
            version: atoi(get(2, "header line has no version")?),
            sigs: atoi(get(3, "header line has no signature count")?),
            flevel: atoi(get(4, "header line has no functionality level")?),
            // Fields 5 and 6 (md5, dsig) are required by cl_cvdparse but not used.
            builder: {
                get(5, "header line has no md5 field")?;
                get(6, "header line has no dsig field")?;
                text(get(7, "header line has no builder")?)
            },
            stime: fields.get(8).map_or(0, |f| atoi(f)),
        })
    }
}

/// C `atoi`: optional leading whitespace and sign, then decimal digits; anything else ends the
/// number (no digits gives 0). Saturates instead of overflowing.
fn atoi(s: &[u8]) -> i128 {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut v: i128 = 0;
    while let Some(d) = s.get(i).filter(|c| c.is_ascii_digit()) {
        v = v.saturating_mul(10).saturating_add(i128::from(d - b'0'));
        i += 1;
    }
    if neg {
        -v
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(s: &str) -> Vec<u8> {
        let mut h = s.as_bytes().to_vec();
        h.resize(HEADER_LEN, b' ');
        h
    }

    #[test]
    fn parses_cvd_and_cld_headers() {
        let h = CvdHeader::parse(&block(
            "ClamAV-VDB:22 Jun 2021 14-58 -0400:1:0:81:a4ab60ae1c1c4e8f787459102dcfd90b:ttQeKz:micasnyd:1624388302",
        ))
        .unwrap();
        assert_eq!(h.build_time, "22 Jun 2021 14-58 -0400");
        assert_eq!(
            (h.version, h.sigs, h.flevel, h.stime),
            (1, 0, 81, 1624388302)
        );
        assert_eq!(h.md5.as_deref(), Some("a4ab60ae1c1c4e8f787459102dcfd90b"));
        assert_eq!(h.dsig.as_deref(), Some("ttQeKz"));
        let c = CvdHeader::parse(&block("ClamAV-VDB:t:6:14:81:X:X:b:1624412045")).unwrap();
        assert_eq!((c.md5, c.dsig), (None, None));
    }

    #[test]
    fn rejects_malformed_headers() {
        assert_eq!(
            CvdHeader::parse(b"ClamAV-VDB:"),
            Err(ErrorKind::HeaderTooShort)
        );
        assert_eq!(
            CvdHeader::parse(&block("ClamAV-VDX:t:1:0:81:X:X:b:1")),
            Err(ErrorKind::HeaderMagic)
        );
        // stime is required in ClamAV 1.5.
        assert_eq!(
            CvdHeader::parse(&block("ClamAV-VDB:t:1:0:81:X:X:b")),
            Err(ErrorKind::HeaderField { field: "stime" })
        );
        assert_eq!(
            CvdHeader::parse(&block("ClamAV-VDB:t: 1:0:81:X:X:b:1")),
            Err(ErrorKind::HeaderField { field: "version" })
        );
        assert_eq!(
            CvdHeader::parse(&block("ClamAV-VDB:t:1:0:81:X:X:b:1 x")),
            Err(ErrorKind::HeaderField { field: "stime" })
        );
        // NUL padding is not whitespace for Rust's trim_end, so ClamAV 1.5 refuses it too.
        let mut nul = b"ClamAV-VDB:t:1:0:81:X:X:b:1".to_vec();
        nul.resize(HEADER_LEN, 0);
        assert!(CvdHeader::parse(&nul).is_err());
        assert!(CvdHeader::parse(&[0xff; HEADER_LEN]).is_err());
    }

    #[test]
    fn info_header_uses_c_rules() {
        let h =
            InfoHeader::parse(b"ClamAV-VDB:22 Jun 2021 14-58 -0400:1:0:81:X:X:micasnyd:1624388302")
                .unwrap();
        assert_eq!(
            (h.version, h.sigs, h.flevel, h.stime),
            (1, 0, 81, 1624388302)
        );
        assert_eq!(h.builder, "micasnyd");
        // Empty fields collapse; stime optional; atoi stops at junk.
        let h = InfoHeader::parse(b"ClamAV-VDB::t::7x:-2:81:X:X:b").unwrap();
        assert_eq!((h.version, h.sigs, h.stime), (7, -2, 0));
        assert!(InfoHeader::parse(b"ClamAV-VDB:t:1:0:81:X:X").is_err());
    }
}
