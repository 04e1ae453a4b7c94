//! The upload interaction: draft-ietf-ppm-dap-18 §4.4 "Uploading Reports" (§4.4.1 HPKE
//! configurations, §4.4.2 upload request and errors, §4.4.2.1 the client's plaintext and
//! AAD).

use crate::codec::{
    items_len, read_to_end, Decode, DecodeError, Encode, List, NonEmpty16, NonEmpty32, Opaque32,
    Reader, Within as _, U16_MAX,
};
use crate::extensions::Extensions;
use crate::task::TaskConfiguration;
use crate::types::{HpkeCiphertext, HpkeConfigId, ReportError, ReportId, TaskId, Time};

codepoint!(
    /// `uint16 HpkeKemId;` (§4.4.1): a KEM identifier of RFC 9180, Section 7.1.
    HpkeKemId(u16, u16) {
        /// Reserved.
        RESERVED = 0x0000 => "Reserved",
        /// DHKEM(P-256, HKDF-SHA256).
        P256_HKDF_SHA256 = 0x0010 => "DHKEM(P-256, HKDF-SHA256)",
        /// DHKEM(P-384, HKDF-SHA384).
        P384_HKDF_SHA384 = 0x0011 => "DHKEM(P-384, HKDF-SHA384)",
        /// DHKEM(P-521, HKDF-SHA512).
        P521_HKDF_SHA512 = 0x0012 => "DHKEM(P-521, HKDF-SHA512)",
        /// DHKEM(X25519, HKDF-SHA256).
        X25519_HKDF_SHA256 = 0x0020 => "DHKEM(X25519, HKDF-SHA256)",
        /// DHKEM(X448, HKDF-SHA512).
        X448_HKDF_SHA512 = 0x0021 => "DHKEM(X448, HKDF-SHA512)",
    }
);

codepoint!(
    /// `uint16 HpkeKdfId;` (§4.4.1): a KDF identifier of RFC 9180, Section 7.2.
    HpkeKdfId(u16, u16) {
        /// Reserved.
        RESERVED = 0x0000 => "Reserved",
        /// HKDF-SHA256.
        HKDF_SHA256 = 0x0001 => "HKDF-SHA256",
        /// HKDF-SHA384.
        HKDF_SHA384 = 0x0002 => "HKDF-SHA384",
        /// HKDF-SHA512.
        HKDF_SHA512 = 0x0003 => "HKDF-SHA512",
    }
);

codepoint!(
    /// `uint16 HpkeAeadId;` (§4.4.1): an AEAD identifier of RFC 9180, Section 7.3.
    HpkeAeadId(u16, u16) {
        /// Reserved.
        RESERVED = 0x0000 => "Reserved",
        /// AES-128-GCM.
        AES_128_GCM = 0x0001 => "AES-128-GCM",
        /// AES-256-GCM.
        AES_256_GCM = 0x0002 => "AES-256-GCM",
        /// ChaCha20Poly1305.
        CHACHA20_POLY1305 = 0x0003 => "ChaCha20Poly1305",
        /// Export-only.
        EXPORT_ONLY = 0xffff => "Export-only",
    }
);

/// `opaque HpkePublicKey<1..2^16-1>;` (§4.4.1).
pub type HpkePublicKey = NonEmpty16;

/// `HpkeConfig` (§4.4.1): one HPKE configuration of an Aggregator (or of the Collector).
///
/// ```text
/// struct {
///   HpkeConfigId id;
///   HpkeKemId kem_id;
///   HpkeKdfId kdf_id;
///   HpkeAeadId aead_id;
///   HpkePublicKey public_key;
/// } HpkeConfig;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HpkeConfig {
    /// `id`.
    pub id: HpkeConfigId,
    /// `kem_id`.
    pub kem_id: HpkeKemId,
    /// `kdf_id`.
    pub kdf_id: HpkeKdfId,
    /// `aead_id`.
    pub aead_id: HpkeAeadId,
    /// `public_key`.
    pub public_key: HpkePublicKey,
}

impl Encode for HpkeConfig {
    fn encode(&self, out: &mut Vec<u8>) {
        self.id.encode(out);
        self.kem_id.encode(out);
        self.kdf_id.encode(out);
        self.aead_id.encode(out);
        self.public_key.encode(out);
    }
    fn encoded_len(&self) -> usize {
        7 + self.public_key.encoded_len()
    }
}

impl Decode for HpkeConfig {
    const NAME: &'static str = "HpkeConfig";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(HpkeConfig {
            id: HpkeConfigId::decode_from(r).within("HpkeConfig.id")?,
            kem_id: HpkeKemId::decode_from(r).within("HpkeConfig.kem_id")?,
            kdf_id: HpkeKdfId::decode_from(r).within("HpkeConfig.kdf_id")?,
            aead_id: HpkeAeadId::decode_from(r).within("HpkeConfig.aead_id")?,
            public_key: HpkePublicKey::read(r, "HpkeConfig.public_key")?,
        })
    }
}

/// `HpkeConfig HpkeConfigList<10..2^16-1>;` (§4.4.1), media type `hpke-config-list`:
/// an Aggregator's configurations, most preferred first.
///
/// The 10-byte floor is the size of the smallest `HpkeConfig`, so an empty list (which the
/// Client must refuse) does not decode.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HpkeConfigList {
    /// The configurations.
    pub configs: List<HpkeConfig, 10, U16_MAX>,
}

impl HpkeConfigList {
    /// Whether every configuration has its own `id`, as §4.4.1 requires of Aggregators.
    pub fn has_distinct_ids(&self) -> bool {
        let mut seen = [false; 256];
        for c in self.configs.iter() {
            match seen.get_mut(usize::from(c.id.0)) {
                Some(slot) if !*slot => *slot = true,
                _ => return false,
            }
        }
        true
    }

    /// The configuration with `id`.
    pub fn get(&self, id: HpkeConfigId) -> Option<&HpkeConfig> {
        self.configs.iter().find(|c| c.id == id)
    }
}

impl Encode for HpkeConfigList {
    fn encode(&self, out: &mut Vec<u8>) {
        self.configs.encode(out);
    }
    fn encoded_len(&self) -> usize {
        self.configs.encoded_len()
    }
}

impl Decode for HpkeConfigList {
    const NAME: &'static str = "HpkeConfigList";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(HpkeConfigList {
            configs: List::read(r, "HpkeConfigList")?,
        })
    }
}

/// `ReportMetadata` (§4.4.2): the public part of a report.
///
/// ```text
/// struct {
///   ReportID report_id;
///   Time time;
///   Extension public_extensions<0..2^16-1>;
/// } ReportMetadata;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReportMetadata {
    /// `report_id`.
    pub report_id: ReportId,
    /// `time`: when the report was generated.
    pub time: Time,
    /// `public_extensions`: report extensions both Aggregators see.
    pub public_extensions: Extensions,
}

impl Encode for ReportMetadata {
    fn encode(&self, out: &mut Vec<u8>) {
        self.report_id.encode(out);
        self.time.encode(out);
        self.public_extensions.encode(out);
    }
    fn encoded_len(&self) -> usize {
        16 + 8 + self.public_extensions.encoded_len()
    }
}

impl Decode for ReportMetadata {
    const NAME: &'static str = "ReportMetadata";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ReportMetadata {
            report_id: ReportId::decode_from(r).within("ReportMetadata.report_id")?,
            time: Time::decode_from(r).within("ReportMetadata.time")?,
            public_extensions: Extensions::read(r, "ReportMetadata.public_extensions")?,
        })
    }
}

/// `Report` (§4.4.2): one Client measurement, as uploaded.
///
/// ```text
/// struct {
///   ReportMetadata report_metadata;
///   opaque public_share<0..2^32-1>;
///   HpkeCiphertext leader_encrypted_input_share;
///   HpkeCiphertext helper_encrypted_input_share;
/// } Report;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Report {
    /// `report_metadata`.
    pub report_metadata: ReportMetadata,
    /// `public_share`: the VDAF public share (may be empty).
    pub public_share: Opaque32,
    /// `leader_encrypted_input_share`.
    pub leader_encrypted_input_share: HpkeCiphertext,
    /// `helper_encrypted_input_share`.
    pub helper_encrypted_input_share: HpkeCiphertext,
}

impl Encode for Report {
    fn encode(&self, out: &mut Vec<u8>) {
        self.report_metadata.encode(out);
        self.public_share.encode(out);
        self.leader_encrypted_input_share.encode(out);
        self.helper_encrypted_input_share.encode(out);
    }
    fn encoded_len(&self) -> usize {
        self.report_metadata.encoded_len()
            + self.public_share.encoded_len()
            + self.leader_encrypted_input_share.encoded_len()
            + self.helper_encrypted_input_share.encoded_len()
    }
}

impl Decode for Report {
    const NAME: &'static str = "Report";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Report {
            report_metadata: ReportMetadata::decode_from(r).within("Report.report_metadata")?,
            public_share: Opaque32::read(r, "Report.public_share")?,
            leader_encrypted_input_share: HpkeCiphertext::decode_from(r)
                .within("Report.leader_encrypted_input_share")?,
            helper_encrypted_input_share: HpkeCiphertext::decode_from(r)
                .within("Report.helper_encrypted_input_share")?,
        })
    }
}

/// `UploadRequest` (§4.4.2), media type `upload-req`: reports filling the whole HTTP
/// message, with no length prefix.
///
/// ```text
/// struct {
///   Report reports[message_length];
/// } UploadRequest;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct UploadRequest {
    /// `reports`.
    pub reports: Vec<Report>,
}

impl Encode for UploadRequest {
    fn encode(&self, out: &mut Vec<u8>) {
        for r in &self.reports {
            r.encode(out);
        }
    }
    fn encoded_len(&self) -> usize {
        items_len(&self.reports)
    }
}

impl Decode for UploadRequest {
    const NAME: &'static str = "UploadRequest";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(UploadRequest {
            reports: read_to_end(r, "UploadRequest.reports")?,
        })
    }
}

/// `ReportUploadStatus` (§4.4.2.2): one report the Leader did not accept.
///
/// ```text
/// struct {
///   ReportID id;
///   ReportError error;
/// } ReportUploadStatus;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReportUploadStatus {
    /// `id`.
    pub id: ReportId,
    /// `error`.
    pub error: ReportError,
}

impl Encode for ReportUploadStatus {
    fn encode(&self, out: &mut Vec<u8>) {
        self.id.encode(out);
        self.error.encode(out);
    }
    fn encoded_len(&self) -> usize {
        17
    }
}

impl Decode for ReportUploadStatus {
    const NAME: &'static str = "ReportUploadStatus";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ReportUploadStatus {
            id: ReportId::decode_from(r).within("ReportUploadStatus.id")?,
            error: ReportError::decode_from(r).within("ReportUploadStatus.error")?,
        })
    }
}

/// `UploadErrors` (§4.4.2.2), media type `upload-errors`: the reports that failed, in request
/// order, filling the whole HTTP message.
///
/// ```text
/// struct {
///   ReportUploadStatus status[message_length];
/// } UploadErrors;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct UploadErrors {
    /// `status`.
    pub status: Vec<ReportUploadStatus>,
}

impl Encode for UploadErrors {
    fn encode(&self, out: &mut Vec<u8>) {
        for s in &self.status {
            s.encode(out);
        }
    }
    fn encoded_len(&self) -> usize {
        17 * self.status.len()
    }
}

impl Decode for UploadErrors {
    const NAME: &'static str = "UploadErrors";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(UploadErrors {
            status: read_to_end(r, "UploadErrors.status")?,
        })
    }
}

/// `PlaintextInputShare` (§4.4.2.1): what the Client seals to each Aggregator.
///
/// ```text
/// struct {
///   Extension private_extensions<0..2^16-1>;
///   opaque payload<1..2^32-1>;
/// } PlaintextInputShare;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PlaintextInputShare {
    /// `private_extensions`: report extensions only this Aggregator sees.
    pub private_extensions: Extensions,
    /// `payload`: the VDAF input share.
    pub payload: NonEmpty32,
}

impl Encode for PlaintextInputShare {
    fn encode(&self, out: &mut Vec<u8>) {
        self.private_extensions.encode(out);
        self.payload.encode(out);
    }
    fn encoded_len(&self) -> usize {
        self.private_extensions.encoded_len() + self.payload.encoded_len()
    }
}

impl Decode for PlaintextInputShare {
    const NAME: &'static str = "PlaintextInputShare";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(PlaintextInputShare {
            private_extensions: Extensions::read(r, "PlaintextInputShare.private_extensions")?,
            payload: NonEmpty32::read(r, "PlaintextInputShare.payload")?,
        })
    }
}

/// `InputShareAad` (§4.4.2.1): the HPKE associated data of an encrypted input share.
///
/// ```text
/// struct {
///   TaskID task_id;
///   TaskConfiguration task_configuration;
///   ReportMetadata report_metadata;
///   opaque public_share<0..2^32-1>;
/// } InputShareAad;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InputShareAad {
    /// `task_id`.
    pub task_id: TaskId,
    /// `task_configuration`.
    pub task_configuration: TaskConfiguration,
    /// `report_metadata`.
    pub report_metadata: ReportMetadata,
    /// `public_share`.
    pub public_share: Opaque32,
}

impl Encode for InputShareAad {
    fn encode(&self, out: &mut Vec<u8>) {
        self.task_id.encode(out);
        self.task_configuration.encode(out);
        self.report_metadata.encode(out);
        self.public_share.encode(out);
    }
    fn encoded_len(&self) -> usize {
        32 + self.task_configuration.encoded_len()
            + self.report_metadata.encoded_len()
            + self.public_share.encoded_len()
    }
}

impl Decode for InputShareAad {
    const NAME: &'static str = "InputShareAad";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(InputShareAad {
            task_id: TaskId::decode_from(r).within("InputShareAad.task_id")?,
            task_configuration: TaskConfiguration::decode_from(r)
                .within("InputShareAad.task_configuration")?,
            report_metadata: ReportMetadata::decode_from(r)
                .within("InputShareAad.report_metadata")?,
            public_share: Opaque32::read(r, "InputShareAad.public_share")?,
        })
    }
}
