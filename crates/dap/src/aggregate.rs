//! The aggregation interaction: draft-ietf-ppm-dap-18 §4.5 "Verifying and Aggregating
//! Reports" (§4.5.3.1 Leader initialization, §4.5.3.2 Helper initialization, §4.5.4.1 Leader
//! continuation).
//!
//! Draft 17 and later call the VDAF step "verification": `PrepareInit`, `PrepareResp` and
//! `PrepareContinue` of earlier drafts are [`VerifyInit`], [`VerifyResp`] and
//! [`VerifyContinue`] here, and the partial batch selector of `AggregationJobInitReq` is
//! gone: in -18 a batch mode conveys what it needs in aggregation job extensions (§5.2.2).

use crate::codec::{
    items_len, read_to_end, Decode, DecodeError, DecodeErrorKind, Encode, NonEmpty32, Opaque32,
    Reader, Within as _,
};
use crate::extensions::AggregationJobExtensions;
use crate::types::{BatchId, HpkeCiphertext, ReportError, ReportId};
use crate::upload::ReportMetadata;

/// `ReportShare` (§4.5.3.1): a report with only the Helper's input share.
///
/// ```text
/// struct {
///   ReportMetadata report_metadata;
///   opaque public_share<0..2^32-1>;
///   HpkeCiphertext encrypted_input_share;
/// } ReportShare;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReportShare {
    /// `report_metadata`.
    pub report_metadata: ReportMetadata,
    /// `public_share`.
    pub public_share: Opaque32,
    /// `encrypted_input_share`: the Helper's.
    pub encrypted_input_share: HpkeCiphertext,
}

impl Encode for ReportShare {
    fn encode(&self, out: &mut Vec<u8>) {
        self.report_metadata.encode(out);
        self.public_share.encode(out);
        self.encrypted_input_share.encode(out);
    }
    fn encoded_len(&self) -> usize {
        self.report_metadata.encoded_len()
            + self.public_share.encoded_len()
            + self.encrypted_input_share.encoded_len()
    }
}

impl Decode for ReportShare {
    const NAME: &'static str = "ReportShare";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ReportShare {
            report_metadata: ReportMetadata::decode_from(r)
                .within("ReportShare.report_metadata")?,
            public_share: Opaque32::read(r, "ReportShare.public_share")?,
            encrypted_input_share: HpkeCiphertext::decode_from(r)
                .within("ReportShare.encrypted_input_share")?,
        })
    }
}

/// `VerifyInit` (§4.5.3.1): a report share and the Leader's first verification message.
///
/// ```text
/// struct {
///   ReportShare report_share;
///   opaque payload<1..2^32-1>;
/// } VerifyInit;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[doc(alias = "PrepareInit")]
pub struct VerifyInit {
    /// `report_share`.
    pub report_share: ReportShare,
    /// `payload`: the Leader's outbound ping-pong message.
    pub payload: NonEmpty32,
}

impl Encode for VerifyInit {
    fn encode(&self, out: &mut Vec<u8>) {
        self.report_share.encode(out);
        self.payload.encode(out);
    }
    fn encoded_len(&self) -> usize {
        self.report_share.encoded_len() + self.payload.encoded_len()
    }
}

impl Decode for VerifyInit {
    const NAME: &'static str = "VerifyInit";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(VerifyInit {
            report_share: ReportShare::decode_from(r).within("VerifyInit.report_share")?,
            payload: NonEmpty32::read(r, "VerifyInit.payload")?,
        })
    }
}

/// `AggregationJobInitReq` (§4.5.3.1), media type `aggregation-job-init-req`.
///
/// ```text
/// struct {
///   uint8 verification_key_id;
///   opaque agg_param<0..2^32-1>;
///   AggregationJobExtension extensions<0..2^16-1>;
///   VerifyInit verify_inits[verify_inits_length];
/// } AggregationJobInitReq;
/// ```
///
/// `verify_inits` has no length prefix: it is the rest of the HTTP message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AggregationJobInitReq {
    /// `verification_key_id`: which prearranged VDAF verification key to use.
    pub verification_key_id: u8,
    /// `agg_param`: the VDAF aggregation parameter.
    pub agg_param: Opaque32,
    /// `extensions`.
    pub extensions: AggregationJobExtensions,
    /// `verify_inits`.
    pub verify_inits: Vec<VerifyInit>,
}

impl AggregationJobInitReq {
    /// The batch ID of the `leader_selected_batch_id` extension (§5.2.2); see
    /// [`AggregationJobExtensions::leader_selected_batch_id`].
    pub fn leader_selected_batch_id(&self) -> Result<BatchId, DecodeError> {
        self.extensions.leader_selected_batch_id()
    }
}

impl Encode for AggregationJobInitReq {
    fn encode(&self, out: &mut Vec<u8>) {
        self.verification_key_id.encode(out);
        self.agg_param.encode(out);
        self.extensions.encode(out);
        for v in &self.verify_inits {
            v.encode(out);
        }
    }
    fn encoded_len(&self) -> usize {
        1 + self.agg_param.encoded_len()
            + self.extensions.encoded_len()
            + items_len(&self.verify_inits)
    }
}

impl Decode for AggregationJobInitReq {
    const NAME: &'static str = "AggregationJobInitReq";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(AggregationJobInitReq {
            verification_key_id: r.u8("AggregationJobInitReq.verification_key_id")?,
            agg_param: Opaque32::read(r, "AggregationJobInitReq.agg_param")?,
            extensions: AggregationJobExtensions::read(r, "AggregationJobInitReq.extensions")?,
            verify_inits: read_to_end(r, "AggregationJobInitReq.verify_inits")?,
        })
    }
}

/// `VerifyRespType` (§4.5.3.2): `enum { continue(0), finish(1), reject(2), (255) }`.
///
/// The type decides what follows in a `VerifyResp`, so an unknown code cannot be skipped
/// and is a decoding error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum VerifyRespType {
    /// `continue(0)`.
    Continue = 0,
    /// `finish(1)`.
    Finish = 1,
    /// `reject(2)`.
    Reject = 2,
}

/// The body of a [`VerifyResp`], by `verify_resp_type`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum VerifyResult {
    /// `case continue: opaque payload<1..2^32-1>;` the Helper's outbound message.
    Continue {
        /// `payload`.
        payload: NonEmpty32,
    },
    /// `case finish: Empty;`
    Finish,
    /// `case reject: ReportError report_error;`
    Reject {
        /// `report_error`.
        report_error: ReportError,
    },
}

impl VerifyResult {
    /// The `verify_resp_type` this body goes with.
    pub fn verify_resp_type(&self) -> VerifyRespType {
        match self {
            VerifyResult::Continue { .. } => VerifyRespType::Continue,
            VerifyResult::Finish => VerifyRespType::Finish,
            VerifyResult::Reject { .. } => VerifyRespType::Reject,
        }
    }
}

/// `VerifyResp` (§4.5.3.2): the Helper's answer for one report.
///
/// ```text
/// struct {
///   ReportID report_id;
///   VerifyRespType verify_resp_type;
///   select (VerifyResp.verify_resp_type) {
///     case continue: opaque payload<1..2^32-1>;
///     case finish:   Empty;
///     case reject:   ReportError report_error;
///   };
/// } VerifyResp;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[doc(alias = "PrepareResp")]
pub struct VerifyResp {
    /// `report_id`.
    pub report_id: ReportId,
    /// `verify_resp_type` and the body it selects.
    pub result: VerifyResult,
}

impl Encode for VerifyResp {
    fn encode(&self, out: &mut Vec<u8>) {
        self.report_id.encode(out);
        out.push(self.result.verify_resp_type() as u8);
        match &self.result {
            VerifyResult::Continue { payload } => payload.encode(out),
            VerifyResult::Finish => {}
            VerifyResult::Reject { report_error } => report_error.encode(out),
        }
    }
    fn encoded_len(&self) -> usize {
        16 + 1
            + match &self.result {
                VerifyResult::Continue { payload } => payload.encoded_len(),
                VerifyResult::Finish => 0,
                VerifyResult::Reject { .. } => 1,
            }
    }
}

impl Decode for VerifyResp {
    const NAME: &'static str = "VerifyResp";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let report_id = ReportId::decode_from(r).within("VerifyResp.report_id")?;
        let result = match r.u8("VerifyResp.verify_resp_type")? {
            0 => VerifyResult::Continue {
                payload: NonEmpty32::read(r, "VerifyResp.payload")?,
            },
            1 => VerifyResult::Finish,
            2 => VerifyResult::Reject {
                report_error: ReportError::decode_from(r).within("VerifyResp.report_error")?,
            },
            value => {
                return Err(DecodeError::new(
                    "VerifyResp.verify_resp_type",
                    DecodeErrorKind::UnknownCode {
                        value: value.into(),
                    },
                ))
            }
        };
        Ok(VerifyResp { report_id, result })
    }
}

/// `AggregationJobResp` (§4.5.3.2), media type `aggregation-job-resp`: one `VerifyResp` per
/// report, in request order, filling the whole HTTP message.
///
/// ```text
/// struct {
///   VerifyResp verify_resps[message_length];
/// } AggregationJobResp;
/// ```
///
/// Draft 18 has no status or "processing" variant: a Helper that is not ready answers with
/// an empty body and `Retry-After` (§3.1), which is not an `AggregationJobResp`. An empty
/// body still decodes (as no responses), so the caller tells the two apart by the HTTP
/// response (a `Content-Type` of `aggregation-job-resp`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct AggregationJobResp {
    /// `verify_resps`.
    pub verify_resps: Vec<VerifyResp>,
}

impl Encode for AggregationJobResp {
    fn encode(&self, out: &mut Vec<u8>) {
        for v in &self.verify_resps {
            v.encode(out);
        }
    }
    fn encoded_len(&self) -> usize {
        items_len(&self.verify_resps)
    }
}

impl Decode for AggregationJobResp {
    const NAME: &'static str = "AggregationJobResp";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(AggregationJobResp {
            verify_resps: read_to_end(r, "AggregationJobResp.verify_resps")?,
        })
    }
}

/// `VerifyContinue` (§4.5.4.1): the Leader's next verification message for one report.
///
/// ```text
/// struct {
///   ReportID report_id;
///   opaque payload<1..2^32-1>;
/// } VerifyContinue;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[doc(alias = "PrepareContinue")]
pub struct VerifyContinue {
    /// `report_id`.
    pub report_id: ReportId,
    /// `payload`.
    pub payload: NonEmpty32,
}

impl Encode for VerifyContinue {
    fn encode(&self, out: &mut Vec<u8>) {
        self.report_id.encode(out);
        self.payload.encode(out);
    }
    fn encoded_len(&self) -> usize {
        16 + self.payload.encoded_len()
    }
}

impl Decode for VerifyContinue {
    const NAME: &'static str = "VerifyContinue";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(VerifyContinue {
            report_id: ReportId::decode_from(r).within("VerifyContinue.report_id")?,
            payload: NonEmpty32::read(r, "VerifyContinue.payload")?,
        })
    }
}

/// `AggregationJobContinueReq` (§4.5.4.1), media type `aggregation-job-continue-req`.
///
/// ```text
/// struct {
///   uint16 step;
///   VerifyContinue verify_continues[verify_continues_length];
/// } AggregationJobContinueReq;
/// ```
///
/// `verify_continues` is the rest of the HTTP message. A `step` of 0 decodes (it is a
/// well-formed message); the Helper refuses it with `invalidMessage` (§4.5.4.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AggregationJobContinueReq {
    /// `step`: the step the Leader has reached.
    pub step: u16,
    /// `verify_continues`.
    pub verify_continues: Vec<VerifyContinue>,
}

impl Encode for AggregationJobContinueReq {
    fn encode(&self, out: &mut Vec<u8>) {
        self.step.encode(out);
        for v in &self.verify_continues {
            v.encode(out);
        }
    }
    fn encoded_len(&self) -> usize {
        2 + items_len(&self.verify_continues)
    }
}

impl Decode for AggregationJobContinueReq {
    const NAME: &'static str = "AggregationJobContinueReq";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(AggregationJobContinueReq {
            step: r.u16("AggregationJobContinueReq.step")?,
            verify_continues: read_to_end(r, "AggregationJobContinueReq.verify_continues")?,
        })
    }
}
