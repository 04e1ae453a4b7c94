//! ClamAV's legacy RSA signatures: `cli_versig` (header, raw RSA over an MD5) and `cli_versig2`
//! (`.info` and `.cdiff`, a PSS-like encoding over SHA-256 with ClamAV's 2047-bit quirk).
//!
//! The public keys are constants copied from ClamAV's sources (decimal, as written there).

use num_bigint::BigUint;
use sha2::{Digest, Sha256};

/// `CLI_NSTR` / `CLI_ESTR` in `libclamav/dsig.c`: the 1024-bit `.cvd` header key.
pub(crate) const CVD_KEY: Key = Key {
    n: "118640995551645342603070001658453189751527774412027743746599405743243142607464144767361060640655844749760788890022283424922762488917565551002467771109669598189410434699034532232228621591089508178591428456220796841621637175567590476666928698770143328137383952820383197532047771780196576957695822641224262693037",
    e: "100001027",
};

/// `INFO_NSTR` / `INFO_ESTR` in `libclamav/readdb.c`: the 2047-bit `.info` key.
pub(crate) const INFO_KEY: Key = Key {
    n: "11088894983048545473659556106627194923928941791795047620591658697413581043322715912172496806525381055880964520618400224333320534660299233983755341740679502866829909679955734391392668378361221524205396631090105151641270857277080310734320951653700508941717419168723942507890702904702707587451621691050754307850383399865346487203798464178537392211402786481359824461197231102895415093770394216666324484593935762408468516826633192140826667923494822045805347809932848454845886971706424360558667862775876072059437703365380209101697738577515476935085469455279994113145977994084618328482151013142393373316337519977244732747977",
    e: "100002049",
};

/// `PUBLIC_KEY_MODULUS` / `PUBLIC_KEY_EXPONENT` in `libclamav_rust/src/cdiff.rs`: the 2047-bit
/// `.cdiff` key.
pub(crate) const CDIFF_KEY: Key = Key {
    n: "14783905874077467090262228516557917570254599638376203532031989214105552847269687489771975792123442185817287694951949800908791527542017115600501303394778618535864845235700041590056318230102449612217458549016089313306591388590790796515819654102320725712300822356348724011232654837503241736177907784198700834440681124727060540035754699658105895050096576226753008596881698828185652424901921668758326578462003247906470982092298106789657211905488986281078346361469524484829559560886227198091995498440676639639830463593211386055065360288422394053998134458623712540683294034953818412458362198117811990006021989844180721010947",
    e: "100002053",
};

/// Signatures longer than this are refused before any arithmetic (real ones are 171 or
/// 341-342 characters).
const MAX_SIG_CHARS: usize = 2048;

/// An RSA public key as decimal strings.
#[derive(Clone, Copy)]
pub(crate) struct Key {
    n: &'static str,
    e: &'static str,
}

impl Key {
    fn parts(&self) -> (BigUint, BigUint) {
        let parse = |s: &str| BigUint::parse_bytes(s.as_bytes(), 10).expect("constant key");
        (parse(self.n), parse(self.e))
    }
}

/// ClamAV's signature alphabet (`cli_ndecode`): lowercase first, then uppercase, digits, `+/`.
const ALPHABET: &[u8; 64] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";

fn digit(c: u8) -> Option<u8> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u8)
}

/// `cli_decodesig`: the signature is a little-endian base-64 integer `c`; returns `c^e mod n`
/// as big-endian bytes left-padded to `plen`, or `None` if it does not decode or does not fit.
pub(crate) fn decodesig(sig: &[u8], plen: usize, key: Key) -> Option<Vec<u8>> {
    if sig.is_empty() || sig.len() > MAX_SIG_CHARS {
        return None;
    }
    let digits = sig.iter().map(|&c| digit(c)).collect::<Option<Vec<u8>>>()?;
    let c = BigUint::from_radix_le(&digits, 64)?;
    let (n, e) = key.parts();
    let m = c.modpow(&e, &n);
    let bytes = m.to_bytes_be();
    // BigUint zero encodes as [0]; treat it as empty so it pads like any other value.
    let bytes: &[u8] = if m.bits() == 0 { &[] } else { &bytes };
    if bytes.len() > plen {
        return None;
    }
    let mut out = vec![0u8; plen - bytes.len()];
    out.extend_from_slice(bytes);
    Some(out)
}

/// `cli_versig`: the header dsig decodes (raw RSA, no padding) to exactly the 16-byte MD5 whose
/// lowercase hex is `md5_hex`.
pub(crate) fn versig(md5_hex: &str, dsig: &[u8]) -> bool {
    if md5_hex.len() != 32 || !md5_hex.as_bytes()[0].is_ascii_alphanumeric() {
        return false;
    }
    match decodesig(dsig, 16, CVD_KEY) {
        Some(p) => hex(&p) == md5_hex,
        None => false,
    }
}

/// `cli_versig2`: ClamAV's PSS-like check over a SHA-256 digest (salt 32, laid out for a
/// 2048-bit modulus, only the top bit of DB cleared; bytes before the 0x01 are not checked).
pub(crate) fn versig2(sha256: &[u8; 32], dsig: &[u8], key: Key) -> bool {
    const PAD_LEN: usize = 256;
    const HLEN: usize = 32;
    const BLK_LEN: usize = PAD_LEN - HLEN - 1;
    const SALT_LEN: usize = 32;
    let Some(em) = decodesig(dsig, PAD_LEN, key) else {
        return false;
    };
    if em[PAD_LEN - 1] != 0xbc {
        return false;
    }
    let (masked, h) = (&em[..BLK_LEN], &em[BLK_LEN..BLK_LEN + HLEN]);
    let mut mask = Vec::with_capacity(BLK_LEN + HLEN);
    let mut counter: u32 = 0;
    while mask.len() < BLK_LEN {
        let mut d = Sha256::new();
        d.update(h);
        d.update(counter.to_be_bytes());
        mask.extend_from_slice(&d.finalize());
        counter += 1;
    }
    let mut db: Vec<u8> = masked.iter().zip(&mask).map(|(a, b)| a ^ b).collect();
    db[0] &= 0x7f;
    let Some(p) = db.iter().position(|&b| b == 0x01) else {
        return false;
    };
    let salt = &db[p + 1..];
    if salt.len() != SALT_LEN {
        return false;
    }
    let mut d = Sha256::new();
    d.update([0u8; 8]);
    d.update(sha256);
    d.update(salt);
    d.finalize().as_slice() == h
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_the_notes_hex() {
        let hexes = [
            (CVD_KEY, "a8f34c7b2bae902e1e608cfcec44c024375370c09cd460e1917a98546ddfc53a90c608bb48ba8cb7eed1ff342085ecdd1491428ca8a895972403a3db2a452dd80173bb07e1e23acbc84fab2e2586930f62909d56d2e25256c989d399fa722ab25ab628df79bcfce43b86a0e049263171352b75048f2d4778b69a5e574a6130ad", 0x5f5e503u32, 1024),
            (INFO_KEY, "57d749b7e7d61160421a14aeadb263bbaec4422cabda76e94db3fa98cd63bfe32a54c72b3026f2356dfa9543f9020219cbdcbdae9e642c4441c23a2523cf4fa6d444722ec227b89e04dad097c38eeef93b588baabecc6fc20199fea6ea47a66c736d4fec15b5a8d4411e1ae838e2a0a55b7398f4d48b346a7d747134c62bfdf95a4bce381fa151a2118b6788ccb3289512a6c8b3a84d640e0fca01d0f4611d7dd1a47452027ddecfc1572d08370e63c51d9bd4773153ce7ad95c4ffb2f4a1147e35304f827f34a4d5ef388bab077f7cae0b2fbbbfea09936b656b4c0c7c4e9907c6c6d392e01b047746d2b8694bede7a5e0861f8d95ef844a29b71e7f8b8f0c9", 0x5f5e901, 2047),
            (CDIFF_KEY, "751c709765074b2f79f1390581433f72b8e29dc8de678481ed1b56a39215e9d0298619228d8326d2b3b5db9dfcb832dc1fab5ec269986dad56b1c2fe661c18823918e61f8f4d6efbe6be587f0a0fe4db6af5c1c5c0592127e48c012698233a67c1073fa0b52198edbe5ae2c1449a3b8acab7f791b282986fa0861ec925511f713a087c299d39da10173c25aaf328971b4feef396f72f1d7d533bda6505514f1bff8c5fad963334ed4ae2a8d35fdb941cb9f8dbf92002781fdfcf3b11bbbc3bec64174f75560f6450a0835e3c9acc8be4f6c9af3f85c17d9b49b27792d7602b9821c015f87679b65b25ad5c2e041da84e6ee076ac5274e693a0f874bc7fd10903", 0x5f5e905, 2047),
        ];
        for (key, n_hex, e, bits) in hexes {
            let (n, ee) = key.parts();
            assert_eq!(n, BigUint::parse_bytes(n_hex.as_bytes(), 16).unwrap());
            assert_eq!(ee, BigUint::from(e));
            assert_eq!(n.bits(), bits);
        }
    }

    #[test]
    fn decodesig_rejects_bad_input() {
        assert!(decodesig(b"", 16, CVD_KEY).is_none());
        assert!(decodesig(b"ab=c", 16, CVD_KEY).is_none());
        assert!(decodesig(b"abc\n", 16, CVD_KEY).is_none());
        assert!(decodesig(&[b'a'; MAX_SIG_CHARS + 1], 16, CVD_KEY).is_none());
        // "a" is the digit 0: 0^e mod n = 0, left-padded.
        assert_eq!(decodesig(b"aaaa", 16, CVD_KEY).unwrap(), vec![0u8; 16]);
        // "b" is 1: 1^e = 1.
        let one = decodesig(b"b", 4, CVD_KEY).unwrap();
        assert_eq!(one, vec![0, 0, 0, 1]);
        assert!(!versig("", b"b"));
        assert!(!versig2(&[0; 32], b"b", INFO_KEY));
    }
}
