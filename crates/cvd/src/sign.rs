//! `.sign` detached signatures (ClamAV 1.5 `codesign.rs`): `#clamsign-1.0`, then lines
//! `min_flevel:max_flevel:pkcs7-pem:<base64 DER>` holding a detached PKCS#7 SignedData over the
//! whole signed file, checked like OpenSSL's `PKCS7_verify` with the S/MIME signing purpose.

use std::time::Duration;

use base64::Engine as _;
use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, UnixTime};
use sha2::{Digest, Sha256, Sha384, Sha512};
use webpki::{EndEntityCert, KeyUsage};
use x509_cert::der::asn1::{AnyRef, ObjectIdentifier};
use x509_cert::der::{Decode, Encode, Reader, SliceReader, Tag, TagNumber, Tagged};
use x509_cert::ext::pkix::{KeyUsage as KeyUsageExt, SubjectKeyIdentifier};
use x509_cert::name::Name;
use x509_cert::Certificate;

use crate::{Error, ErrorKind};

/// DER of ClamAV's production trust anchor, `certs/clamav.crt` in the ClamAV repository
/// ("Cisco Software Identity Root CA RSA 4096 SHA512 2099", SHA-256 fingerprint
/// `6b3d4e1b…4f8a64a7`), converted from PEM.
pub const CLAMAV_ROOT_CA_DER: &[u8] = include_bytes!("../certs/clamav.der");

const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const OID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const OID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const OID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const OID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_SHA256_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_SHA384_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const OID_SHA512_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_SUBJECT_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const OID_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
/// id-kp-emailProtection (1.3.6.1.5.5.7.3.4), DER contents: OpenSSL's S/MIME purpose.
const EKU_EMAIL_PROTECTION: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x04];

/// Who signed a file, from a verified `.sign` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signer {
    /// The signing certificate's subject common name(s), e.g. `ClamAV TEST CVD Signing Cert`.
    pub common_names: Vec<String>,
    /// The signing certificate's full subject (RFC 4514).
    pub subject: String,
    /// The `.sign` line (1-based) that verified.
    pub line: usize,
}

/// Verifies the detached `.sign` (`sign_text`) for `file` as ClamAV 1.5 does: the first line
/// whose flevel range contains `flevel` decides. Its PKCS#7 must chain to one of
/// `trust_anchors_der` (e.g. [`CLAMAV_ROOT_CA_DER`]) at time `now_unix` (the anchor's own
/// validity included), the leaf must allow S/MIME signing (EKU emailProtection and keyUsage
/// digitalSignature/nonRepudiation if present), and the signed messageDigest must equal the
/// file's digest. A line that does not verify is a hard failure ([`ErrorKind::SignInvalid`]);
/// an unparseable file or line, or no applicable line, is an error for which
/// [`Error::allows_legacy_fallback`] is true. `name` is only used in errors.
pub fn verify_sign(
    name: &str,
    file: &[u8],
    sign_text: &[u8],
    trust_anchors_der: &[&[u8]],
    now_unix: u64,
    flevel: u32,
) -> Result<Signer, Error> {
    let fail = |kind| Error::new(name, kind);
    let text = std::str::from_utf8(sign_text)
        .map_err(|_| fail(ErrorKind::SignFormat("not UTF-8 text")))?;
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    if !first.starts_with("#clamsign") {
        return Err(fail(ErrorKind::SignFormat(
            "first line is not #clamsign-<version>",
        )));
    }
    if first.split_once('-').map(|(_, v)| v) != Some("1.0") {
        return Err(fail(ErrorKind::SignFormat("unsupported #clamsign version")));
    }
    for (i, raw) in lines.enumerate() {
        let line_no = i + 2;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let unparseable = |reason: &str| {
            fail(ErrorKind::SignUnparseable {
                line: line_no,
                reason: reason.to_string(),
            })
        };
        let mut fields = line.split(':');
        let min = fields
            .next()
            .and_then(parse_dec)
            .ok_or_else(|| unparseable("invalid min_flevel"))?;
        let max = match fields.next() {
            None => return Err(unparseable("missing max_flevel")),
            Some("") => None,
            Some(m) => Some(parse_dec(m).ok_or_else(|| unparseable("invalid max_flevel"))?),
        };
        match fields.next() {
            Some("pkcs7-pem") => {}
            Some(_) => return Err(unparseable("unsupported signature format")),
            None => return Err(unparseable("missing signature format")),
        }
        let data = fields
            .next()
            .ok_or_else(|| unparseable("missing signature data"))?;
        let der = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| unparseable("signature data is not base64"))?;
        let p7 = parse_pkcs7(&der).map_err(|m| unparseable(&format!("PKCS#7: {m}")))?;
        if flevel < min || max.is_some_and(|m| flevel > m) {
            continue;
        }
        return verify_pkcs7(&p7, file, trust_anchors_der, now_unix)
            .map(|mut s| {
                s.line = line_no;
                s
            })
            .map_err(|kind| {
                fail(match kind {
                    VerifyError::Anchor(index) => ErrorKind::TrustAnchor { index },
                    VerifyError::Invalid(reason) => ErrorKind::SignInvalid {
                        line: line_no,
                        reason,
                    },
                })
            });
    }
    Err(fail(ErrorKind::SignNoApplicableLine { flevel }))
}

/// Decimal digits only (clam-sigutil `parse_number_dec`).
fn parse_dec(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The parts of a SignedData that verification needs; byte slices point into the DER.
struct Pkcs7<'a> {
    econtent_type: ObjectIdentifier,
    econtent_present: bool,
    /// (DER, parsed) for each certificate in the SignedData.
    certs: Vec<(Vec<u8>, Certificate)>,
    signers: Vec<SignerInfo<'a>>,
}

enum SignerId {
    IssuerSerial(Name, Vec<u8>),
    KeyId(Vec<u8>),
}

struct SignerInfo<'a> {
    sid: SignerId,
    digest_alg: ObjectIdentifier,
    /// The contents of `[0] signedAttrs`, if present.
    signed_attrs: Option<&'a [u8]>,
    signature_alg: ObjectIdentifier,
    signature: &'a [u8],
}

type DerResult<T> = Result<T, String>;

/// The TLVs inside a constructed value, in order.
fn items(value: &[u8]) -> DerResult<Vec<AnyRef<'_>>> {
    let mut r = SliceReader::new(value).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while !r.is_finished() {
        out.push(r.decode::<AnyRef<'_>>().map_err(|e| e.to_string())?);
    }
    Ok(out)
}

fn expect<'a>(item: Option<&AnyRef<'a>>, tag: Tag, what: &str) -> DerResult<AnyRef<'a>> {
    match item {
        Some(a) if a.tag() == tag => Ok(*a),
        _ => Err(format!("expected {what}")),
    }
}

fn ctx(number: TagNumber, constructed: bool) -> Tag {
    Tag::ContextSpecific {
        constructed,
        number,
    }
}

fn oid(a: AnyRef<'_>) -> DerResult<ObjectIdentifier> {
    a.decode_as::<ObjectIdentifier>().map_err(|e| e.to_string())
}

/// AlgorithmIdentifier: its OID (parameters are ignored).
fn alg_oid(a: AnyRef<'_>) -> DerResult<ObjectIdentifier> {
    oid(expect(
        items(a.value())?.first(),
        Tag::ObjectIdentifier,
        "algorithm OID",
    )?)
}

/// Parses ContentInfo → SignedData (RFC 5652 §5) without re-encoding anything that is signed.
/// (The `cms` crate re-sorts SET OF on decode, so re-encoded signedAttrs might not be the
/// signed bytes; walking the DER keeps the exact slices.)
fn parse_pkcs7(der: &[u8]) -> DerResult<Pkcs7<'_>> {
    let top = AnyRef::from_der(der).map_err(|e| e.to_string())?;
    let ci = items(expect(Some(&top), Tag::Sequence, "ContentInfo")?.value())?;
    if oid(expect(ci.first(), Tag::ObjectIdentifier, "content type")?)? != OID_SIGNED_DATA {
        return Err("not SignedData".into());
    }
    let explicit = items(expect(ci.get(1), ctx(TagNumber::N0, true), "[0] content")?.value())?;
    let sd = expect(explicit.first(), Tag::Sequence, "SignedData")?;
    let f = items(sd.value())?;
    let mut k = 0;
    expect(f.get(k), Tag::Integer, "version")?;
    k += 1;
    expect(f.get(k), Tag::Set, "digestAlgorithms")?;
    k += 1;
    let encap = items(expect(f.get(k), Tag::Sequence, "encapContentInfo")?.value())?;
    k += 1;
    let econtent_type = oid(expect(
        encap.first(),
        Tag::ObjectIdentifier,
        "eContentType",
    )?)?;
    let mut certs = Vec::new();
    if f.get(k).map(|a| a.tag()) == Some(ctx(TagNumber::N0, true)) {
        for c in items(f[k].value())? {
            // Other CertificateChoices (attribute certificates etc.) are not used.
            if c.tag() == Tag::Sequence {
                let raw = c.to_der().map_err(|e| e.to_string())?;
                let cert = Certificate::from_der(&raw).map_err(|e| format!("certificate: {e}"))?;
                certs.push((raw, cert));
            }
        }
        k += 1;
    }
    if f.get(k).map(|a| a.tag()) == Some(ctx(TagNumber::N1, true)) {
        k += 1;
    }
    let mut signers = Vec::new();
    for si in items(expect(f.get(k), Tag::Set, "signerInfos")?.value())? {
        let s = items(expect(Some(&si), Tag::Sequence, "SignerInfo")?.value())?;
        expect(s.first(), Tag::Integer, "SignerInfo version")?;
        let sid = match s.get(1) {
            Some(a) if a.tag() == Tag::Sequence => {
                let ias = items(a.value())?;
                let issuer = expect(ias.first(), Tag::Sequence, "issuer")?;
                let issuer = Name::from_der(&issuer.to_der().map_err(|e| e.to_string())?)
                    .map_err(|e| format!("issuer: {e}"))?;
                let serial = expect(ias.get(1), Tag::Integer, "serial number")?;
                SignerId::IssuerSerial(issuer, serial.value().to_vec())
            }
            Some(a) if a.tag() == ctx(TagNumber::N0, false) => SignerId::KeyId(a.value().to_vec()),
            _ => return Err("expected signer identifier".into()),
        };
        let digest_alg = alg_oid(expect(s.get(2), Tag::Sequence, "digestAlgorithm")?)?;
        let mut j = 3;
        let signed_attrs = match s.get(j) {
            Some(a) if a.tag() == ctx(TagNumber::N0, true) => {
                j += 1;
                Some(a.value())
            }
            _ => None,
        };
        let signature_alg = alg_oid(expect(s.get(j), Tag::Sequence, "signatureAlgorithm")?)?;
        let signature = expect(s.get(j + 1), Tag::OctetString, "signature")?.value();
        signers.push(SignerInfo {
            sid,
            digest_alg,
            signed_attrs,
            signature_alg,
            signature,
        });
    }
    Ok(Pkcs7 {
        econtent_type,
        econtent_present: encap.len() > 1,
        certs,
        signers,
    })
}

enum VerifyError {
    Anchor(usize),
    Invalid(String),
}

fn invalid<T>(m: impl Into<String>) -> Result<T, VerifyError> {
    Err(VerifyError::Invalid(m.into()))
}

fn extension(cert: &Certificate, id: ObjectIdentifier) -> Option<&[u8]> {
    cert.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == id)
        .map(|e| e.extn_value.as_bytes())
}

fn valid_at(cert: &Certificate, now: u64) -> bool {
    let v = &cert.tbs_certificate.validity;
    v.not_before.to_unix_duration().as_secs() <= now
        && now <= v.not_after.to_unix_duration().as_secs()
}

fn common_names(name: &Name) -> Vec<String> {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == OID_COMMON_NAME)
        .map(|atv| String::from_utf8_lossy(atv.value.value()).into_owned())
        .collect()
}

fn verify_pkcs7(
    p7: &Pkcs7<'_>,
    file: &[u8],
    anchors_der: &[&[u8]],
    now: u64,
) -> Result<Signer, VerifyError> {
    if p7.econtent_present {
        return invalid("the signature is not detached (it embeds content)");
    }
    let [si] = &p7.signers[..] else {
        return invalid(format!("expected one signer, found {}", p7.signers.len()));
    };
    let Some((leaf_der, leaf)) = p7.certs.iter().find(|(_, c)| match &si.sid {
        SignerId::IssuerSerial(issuer, serial) => {
            c.tbs_certificate.issuer == *issuer
                && c.tbs_certificate.serial_number.as_bytes() == serial
        }
        SignerId::KeyId(id) => extension(c, OID_SUBJECT_KEY_ID)
            .and_then(|v| SubjectKeyIdentifier::from_der(v).ok())
            .is_some_and(|ski| ski.0.as_bytes() == id),
    }) else {
        return invalid("the signer's certificate is not in the PKCS#7");
    };

    // Digest and signature algorithm.
    let digest: Vec<u8> = match si.digest_alg {
        d if d == OID_SHA256 => Sha256::digest(file).to_vec(),
        d if d == OID_SHA384 => Sha384::digest(file).to_vec(),
        d if d == OID_SHA512 => Sha512::digest(file).to_vec(),
        d => return invalid(format!("unsupported digest algorithm {d}")),
    };
    let alg: &dyn SignatureVerificationAlgorithm = match (si.digest_alg, si.signature_alg) {
        (d, s) if d == OID_SHA256 && (s == OID_RSA || s == OID_SHA256_RSA) => {
            webpki::ring::RSA_PKCS1_2048_8192_SHA256
        }
        (d, s) if d == OID_SHA384 && (s == OID_RSA || s == OID_SHA384_RSA) => {
            webpki::ring::RSA_PKCS1_2048_8192_SHA384
        }
        (d, s) if d == OID_SHA512 && (s == OID_RSA || s == OID_SHA512_RSA) => {
            webpki::ring::RSA_PKCS1_2048_8192_SHA512
        }
        (_, s) => return invalid(format!("unsupported signature algorithm {s}")),
    };

    // The signed message: the DER of signedAttrs re-tagged as SET OF, or the file itself.
    let message: Vec<u8> = match si.signed_attrs {
        Some(attrs) => {
            let mut content_type = None;
            let mut message_digest = None;
            let parsed =
                items(attrs).map_err(|e| VerifyError::Invalid(format!("signedAttrs: {e}")))?;
            for a in parsed {
                let parts = items(a.value()).map_err(VerifyError::Invalid)?;
                let (Some(id), Some(values)) = (parts.first(), parts.get(1)) else {
                    return invalid("malformed signed attribute");
                };
                let id = oid(*id).map_err(VerifyError::Invalid)?;
                let slot = match id {
                    i if i == OID_CONTENT_TYPE => &mut content_type,
                    i if i == OID_MESSAGE_DIGEST => &mut message_digest,
                    _ => continue,
                };
                let vals = items(values.value()).map_err(VerifyError::Invalid)?;
                if slot.is_some() || vals.len() != 1 {
                    return invalid(format!("signed attribute {id} must have exactly one value"));
                }
                *slot = vals.first().copied();
            }
            match content_type.map(oid) {
                Some(Ok(ct)) if ct == p7.econtent_type => {}
                _ => return invalid("signed contentType is missing or differs from eContentType"),
            }
            match message_digest {
                Some(md) if md.tag() == Tag::OctetString && md.value() == digest.as_slice() => {}
                Some(_) => return invalid("messageDigest does not match the file"),
                None => return invalid("signed attributes lack messageDigest"),
            }
            AnyRef::new(Tag::Set, attrs)
                .and_then(|a| a.to_der())
                .map_err(|e| VerifyError::Invalid(e.to_string()))?
        }
        None => {
            if p7.econtent_type != OID_DATA {
                return invalid("eContentType is not id-data and there are no signed attributes");
            }
            file.to_vec()
        }
    };

    // Trust anchors: all must parse; only those valid now are used.
    let mut parsed_anchors = Vec::new();
    for (index, der) in anchors_der.iter().enumerate() {
        let cert = Certificate::from_der(der).map_err(|_| VerifyError::Anchor(index))?;
        parsed_anchors.push((CertificateDer::from(*der), cert));
    }
    let to_anchors = |current: bool| -> Result<Vec<_>, VerifyError> {
        parsed_anchors
            .iter()
            .enumerate()
            .filter(|(_, (_, c))| valid_at(c, now) == current)
            .map(|(i, (d, _))| {
                webpki::anchor_from_trusted_cert(d).map_err(|_| VerifyError::Anchor(i))
            })
            .collect()
    };
    let current = to_anchors(true)?;
    let expired = to_anchors(false)?;

    let leaf_cd = CertificateDer::from(leaf_der.as_slice());
    let ee = EndEntityCert::try_from(&leaf_cd)
        .map_err(|e| VerifyError::Invalid(format!("signer certificate: {e:?}")))?;
    let intermediates: Vec<CertificateDer<'_>> = p7
        .certs
        .iter()
        .filter(|(d, _)| d != leaf_der)
        .map(|(d, _)| CertificateDer::from(d.as_slice()))
        .collect();
    let time = UnixTime::since_unix_epoch(Duration::from_secs(now));
    let build = |anchors: &[rustls_pki_types::TrustAnchor<'_>]| {
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            anchors,
            &intermediates,
            time,
            KeyUsage::required_if_present(EKU_EMAIL_PROTECTION),
            None,
            None,
        )
        .map(|_| ())
    };
    if let Err(e) = build(&current) {
        if !expired.is_empty() && build(&expired).is_ok() {
            return invalid(format!(
                "the certificate chain ends at a trust anchor that is not valid at {now}"
            ));
        }
        return invalid(format!("certificate chain does not verify: {e:?}"));
    }
    if let Some(ku) = extension(leaf, OID_KEY_USAGE) {
        let ku = KeyUsageExt::from_der(ku).map_err(|e| VerifyError::Invalid(e.to_string()))?;
        if !ku.digital_signature() && !ku.non_repudiation() {
            return invalid("signer keyUsage allows neither digitalSignature nor nonRepudiation");
        }
    }
    ee.verify_signature(alg, &message, si.signature)
        .map_err(|e| VerifyError::Invalid(format!("RSA signature: {e:?}")))?;
    Ok(Signer {
        common_names: common_names(&leaf.tbs_certificate.subject),
        subject: leaf.tbs_certificate.subject.to_string(),
        line: 0,
    })
}

/// Extracts the DER of every `-----BEGIN CERTIFICATE-----` block in PEM text (for loading
/// trust anchors such as `clamav.crt`).
pub fn pem_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(pem);
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines().map(str::trim) {
        match (&mut body, line) {
            (None, "-----BEGIN CERTIFICATE-----") => body = Some(String::new()),
            (Some(b), "-----END CERTIFICATE-----") => {
                if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b.as_bytes()) {
                    out.push(der);
                }
                body = None;
            }
            (Some(b), l) => b.push_str(l),
            (None, _) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_root_parses() {
        let c = Certificate::from_der(CLAMAV_ROOT_CA_DER).unwrap();
        assert_eq!(
            common_names(&c.tbs_certificate.subject),
            ["Cisco Software Identity Root CA RSA 4096 SHA512 2099"]
        );
        assert!(
            webpki::anchor_from_trusted_cert(&CertificateDer::from(CLAMAV_ROOT_CA_DER)).is_ok()
        );
        assert_eq!(
            crate::dsig::hex(&Sha256::digest(CLAMAV_ROOT_CA_DER)),
            "6b3d4e1b5e26318c0bb6a22fb1206d287fa3fb0c5fe34eebbf8613954f8a64a7"
        );
    }

    #[test]
    fn malformed_sign_files_allow_fallback() {
        let anchors = [CLAMAV_ROOT_CA_DER];
        let check = |text: &str| verify_sign("x.sign", b"data", text.as_bytes(), &anchors, 0, 240);
        for bad in [
            "",
            "clamsign-1.0\n",
            "#clamsign\n",
            "#clamsign-2.0\n",
            "#clamsign-1.0\nx::pkcs7-pem:AAAA\n",
            "#clamsign-1.0\n230\n",
            "#clamsign-1.0\n230::\n",
            "#clamsign-1.0\n230::rsa:AAAA\n",
            "#clamsign-1.0\n230::pkcs7-pem\n",
            "#clamsign-1.0\n230::pkcs7-pem:!!!!\n",
            "#clamsign-1.0\n230::pkcs7-pem:MAA=\n",
            "#clamsign-1.0\n230::pkcs7-pem:MIIB\n",
            "#clamsign-1.0\n\n# comment\n",
        ] {
            let e = check(bad).unwrap_err();
            assert!(e.allows_legacy_fallback(), "{bad:?}: {e}");
        }
        assert!(verify_sign("x", b"", &[0xff], &anchors, 0, 240)
            .unwrap_err()
            .allows_legacy_fallback());
    }

    #[test]
    fn pem_extraction() {
        let pem = "junk\n-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_certificates(pem.as_bytes()), vec![vec![0, 1, 2, 3]]);
        assert!(pem_certificates(b"-----BEGIN CERTIFICATE-----\n").is_empty());
    }
}
