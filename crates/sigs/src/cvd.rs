//! The 512-byte header of ClamAV `.cvd` / `.cld` containers.
//!
//! `ClamAV-VDB:<build time>:<version>:<signatures>:<functionality level>:<MD5>:<dsig>:<builder>:<time>`,
//! padded with spaces to 512 bytes, followed by a tar archive (gzip-compressed in `.cvd`).
//! The body MD5 is checked by [`CvdHeader::check_body`]; the RSA digital signature is ClamAV's
//! own scheme and is not verified here (detente's own feed is verified through its transparency log).

use crate::ParseErrorKind;

/// Size of the header in bytes.
pub const HEADER_LEN: usize = 512;

/// A parsed CVD header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CvdHeader {
    /// Build time as written.
    pub build_time: String,
    /// Database version.
    pub version: u64,
    /// Number of signatures claimed.
    pub signatures: u64,
    /// Functionality level required.
    pub functionality_level: u64,
    /// MD5 of the body, as 32 lowercase hex digits (empty in some `.cld` files).
    pub md5: String,
    /// Builder name.
    pub builder: String,
}

impl CvdHeader {
    /// Parses the first 512 bytes of a container.
    pub fn parse(data: &[u8]) -> Result<CvdHeader, ParseErrorKind> {
        let err = |m: &str| ParseErrorKind::Cvd(m.to_string());
        let head = data
            .get(..HEADER_LEN)
            .ok_or_else(|| err("file shorter than the 512-byte header"))?;
        let text = std::str::from_utf8(head).map_err(|_| err("header is not ASCII"))?;
        let text = text.trim_end_matches([' ', '\0', '\n']);
        let f: Vec<&str> = text.split(':').collect();
        if f.len() < 8 || f[0] != "ClamAV-VDB" {
            return Err(err("missing 'ClamAV-VDB:' header fields"));
        }
        let num = |s: &str, what: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| ParseErrorKind::Cvd(format!("bad {what} {s:?}")))
        };
        // The build time itself contains ':'-free text like "12 Nov 2026 07-31 -0500".
        Ok(CvdHeader {
            build_time: f[1].to_string(),
            version: num(f[2], "version")?,
            signatures: num(f[3], "signature count")?,
            functionality_level: num(f[4], "functionality level")?,
            md5: f[5].to_ascii_lowercase(),
            builder: f[7].to_string(),
        })
    }

    /// Checks the body against the header's MD5, given the body's MD5 as lowercase hex.
    pub fn check_body(&self, body_md5_hex: &str) -> Result<(), ParseErrorKind> {
        if self.md5.is_empty() || self.md5 == body_md5_hex {
            Ok(())
        } else {
            Err(ParseErrorKind::Cvd(format!(
                "body MD5 {body_md5_hex} does not match header MD5 {}",
                self.md5
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header() {
        let mut h = b"ClamAV-VDB:12 Nov 2026 07-31 -0500:27000:2000000:90:0123456789abcdef0123456789abcdef:sig:builder:1700000000".to_vec();
        h.resize(512, b' ');
        let c = CvdHeader::parse(&h).unwrap();
        assert_eq!(c.version, 27000);
        assert_eq!(c.functionality_level, 90);
        assert!(c.check_body("0123456789abcdef0123456789abcdef").is_ok());
        assert!(c.check_body("ffff").is_err());
        assert!(CvdHeader::parse(b"short").is_err());
        let mut bad = b"ClamAV-VDB:x:y:1:1:m:s:b:1".to_vec();
        bad.resize(512, b' ');
        assert!(CvdHeader::parse(&bad).is_err());
    }
}
