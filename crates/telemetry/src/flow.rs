//! The aggregators' DAP-18 steps for one report, sans-IO, over prio's ping-pong topology
//! (the VDAF's two-party verification as DAP carries it):
//!
//! 1. the Leader opens its input share and starts: [`leader_init`] gives the `VerifyInit` it
//!    sends the Helper in an `AggregationJobInitReq`;
//! 2. the Helper opens its share, verifies jointly and finishes: [`helper_init`] gives its
//!    `VerifyResp` and, when the report verified, its output share;
//! 3. the Leader finishes with the Helper's message: [`leader_finish`].
//!
//! A report that can't be opened, decoded or verified ends with the DAP `ReportError` the
//! draft names (`hpke_decrypt_error`, `invalid_message`, `vdaf_verify_error`) and is never
//! counted. Aggregate shares travel to the Collector sealed with [`seal_aggregate_share`].

use detente_dap::{
    labels, CollectionJobReq, Decode as _, Encode as _, HpkeCiphertext, HpkeConfigId,
    InputShareAad, NonEmpty16, NonEmpty32, PlaintextInputShare, Report, ReportError, ReportId,
    ReportShare, Role, TaskConfiguration, TaskId, VerifyInit, VerifyResp, VerifyResult,
};
use hpke::{Deserializable as _, Serializable as _};
use prio::codec::{Decode as _, Encode as _, ParameterizedDecode as _};
use prio::topology::ping_pong::{PingPongMessage, PingPongState, PingPongTopology as _};
use prio::vdaf::prio3::{Prio3InputShare, Prio3MultihotCountVec, Prio3PublicShare};

use crate::aggregate::{AggregateShare, OutputShare, VerifyState};

type Kem = hpke::kem::X25519HkdfSha256;
type Kdf = hpke::kdf::HkdfSha256;
type Aead = hpke::aead::AesGcm128;

/// An aggregator's HPKE private key (X25519, 32 bytes) and its config id.
#[derive(Clone)]
pub struct HpkeKey {
    /// The `HpkeConfig` id it answers to.
    pub config_id: u8,
    /// The private key.
    pub secret: [u8; 32],
}

impl std::fmt::Debug for HpkeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HpkeKey({}, ..)", self.config_id)
    }
}

/// What both aggregators of a task share.
pub struct Task<'a> {
    /// Task id.
    pub id: TaskId,
    /// Task configuration.
    pub config: &'a TaskConfiguration,
    /// The VDAF.
    pub vdaf: &'a Prio3MultihotCountVec,
    /// The VDAF verification key both aggregators hold (never the clients).
    pub verify_key: &'a [u8; 32],
}

fn open(
    key: &HpkeKey,
    role: Role,
    task: &Task<'_>,
    share: &ReportShare,
) -> Result<Vec<u8>, ReportError> {
    if share.encrypted_input_share.config_id != HpkeConfigId(key.config_id) {
        return Err(ReportError::HPKE_UNKNOWN_CONFIG_ID);
    }
    let aad = InputShareAad {
        task_id: task.id,
        task_configuration: task.config.clone(),
        report_metadata: share.report_metadata.clone(),
        public_share: share.public_share.clone(),
    }
    .get_encoded();
    let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(&key.secret)
        .map_err(|_| ReportError::HPKE_DECRYPT_ERROR)?;
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(share.encrypted_input_share.enc.as_ref())
        .map_err(|_| ReportError::HPKE_DECRYPT_ERROR)?;
    let pt = hpke::single_shot_open::<Aead, Kdf, Kem>(
        &hpke::OpModeR::Base,
        &sk,
        &enc,
        &labels::input_share_info(role),
        share.encrypted_input_share.payload.as_ref(),
        &aad,
    )
    .map_err(|_| ReportError::HPKE_DECRYPT_ERROR)?;
    let p = PlaintextInputShare::decode(&pt).map_err(|_| ReportError::INVALID_MESSAGE)?;
    Ok(p.payload.as_ref().to_vec())
}

type Decoded = (
    Prio3PublicShare<32>,
    Prio3InputShare<prio::field::Field128, 32>,
);

fn decode_shares(
    task: &Task<'_>,
    agg_id: usize,
    public_share: &[u8],
    input_share: &[u8],
) -> Result<Decoded, ReportError> {
    let ps = Prio3PublicShare::get_decoded_with_param(task.vdaf, public_share)
        .map_err(|_| ReportError::INVALID_MESSAGE)?;
    let is = Prio3InputShare::get_decoded_with_param(&(task.vdaf, agg_id), input_share)
        .map_err(|_| ReportError::INVALID_MESSAGE)?;
    Ok((ps, is))
}

/// The Leader's state for one report between [`leader_init`] and [`leader_finish`].
#[derive(Debug, Clone)]
pub struct LeaderPending {
    /// The report.
    pub report_id: ReportId,
    state: VerifyState,
}

/// The Leader starts on a report: opens its share and makes the `VerifyInit` for the Helper.
pub fn leader_init(
    task: &Task<'_>,
    key: &HpkeKey,
    report: &Report,
) -> Result<(LeaderPending, VerifyInit), ReportError> {
    let mine = ReportShare {
        report_metadata: report.report_metadata.clone(),
        public_share: report.public_share.clone(),
        encrypted_input_share: report.leader_encrypted_input_share.clone(),
    };
    let input = open(key, Role::Leader, task, &mine)?;
    let (ps, is) = decode_shares(task, 0, report.public_share.as_ref(), &input)?;
    let ctx = labels::vdaf_application_context(&task.id);
    let rid = report.report_metadata.report_id.0;
    let continued = task
        .vdaf
        .leader_initialized(task.verify_key, &ctx, &(), &rid, &ps, &is)
        .map_err(|_| ReportError::VDAF_VERIFY_ERROR)?;
    let payload = continued
        .message
        .get_encoded()
        .map_err(|_| ReportError::INVALID_MESSAGE)?;
    let vi = VerifyInit {
        report_share: ReportShare {
            report_metadata: report.report_metadata.clone(),
            public_share: report.public_share.clone(),
            encrypted_input_share: report.helper_encrypted_input_share.clone(),
        },
        payload: NonEmpty32::new(payload).map_err(|_| ReportError::INVALID_MESSAGE)?,
    };
    Ok((
        LeaderPending {
            report_id: report.report_metadata.report_id,
            state: continued.verifier_state,
        },
        vi,
    ))
}

fn reject(report_id: ReportId, e: ReportError) -> (VerifyResp, Option<OutputShare>) {
    (
        VerifyResp {
            report_id,
            result: VerifyResult::Reject { report_error: e },
        },
        None,
    )
}

/// The Helper's answer to one `VerifyInit`: its `VerifyResp`, and its output share when the
/// report verified.
pub fn helper_init(
    task: &Task<'_>,
    key: &HpkeKey,
    vi: &VerifyInit,
) -> (VerifyResp, Option<OutputShare>) {
    let rid = vi.report_share.report_metadata.report_id;
    let input = match open(key, Role::Helper, task, &vi.report_share) {
        Ok(i) => i,
        Err(e) => return reject(rid, e),
    };
    let (ps, is) = match decode_shares(task, 1, vi.report_share.public_share.as_ref(), &input) {
        Ok(x) => x,
        Err(e) => return reject(rid, e),
    };
    let Ok(leader_msg) = PingPongMessage::get_decoded(vi.payload.as_ref()) else {
        return reject(rid, ReportError::INVALID_MESSAGE);
    };
    let ctx = labels::vdaf_application_context(&task.id);
    let outcome = task
        .vdaf
        .helper_initialized(task.verify_key, &ctx, &(), &rid.0, &ps, &is, &leader_msg)
        .and_then(|c| c.evaluate(&ctx, task.vdaf));
    match outcome {
        Ok(PingPongState::FinishedWithOutbound {
            output_share,
            message,
        }) => match message
            .get_encoded()
            .ok()
            .and_then(|m| NonEmpty32::new(m).ok())
        {
            Some(payload) => (
                VerifyResp {
                    report_id: rid,
                    result: VerifyResult::Continue { payload },
                },
                Some(output_share),
            ),
            None => reject(rid, ReportError::INVALID_MESSAGE),
        },
        _ => reject(rid, ReportError::VDAF_VERIFY_ERROR),
    }
}

/// The Leader finishes a report with the Helper's `VerifyResp`: its output share, or the
/// error the report ends with.
pub fn leader_finish(
    task: &Task<'_>,
    pending: LeaderPending,
    resp: &VerifyResp,
) -> Result<OutputShare, ReportError> {
    if resp.report_id != pending.report_id {
        return Err(ReportError::INVALID_MESSAGE);
    }
    let payload = match &resp.result {
        VerifyResult::Continue { payload } => payload,
        VerifyResult::Reject { report_error } => return Err(*report_error),
        VerifyResult::Finish => return Err(ReportError::INVALID_MESSAGE),
    };
    let msg =
        PingPongMessage::get_decoded(payload.as_ref()).map_err(|_| ReportError::INVALID_MESSAGE)?;
    let ctx = labels::vdaf_application_context(&task.id);
    match task
        .vdaf
        .leader_continued(&ctx, &(), pending.state, &msg)
        .and_then(|c| c.evaluate(&ctx, task.vdaf))
    {
        Ok(PingPongState::Finished { output_share }) => Ok(output_share),
        _ => Err(ReportError::VDAF_VERIFY_ERROR),
    }
}

/// Why an aggregate share can't be sealed or opened.
#[derive(Debug, thiserror::Error)]
#[error("aggregate share: {0}")]
pub struct ShareError(pub String);

fn aggregate_aad(task: &Task<'_>, req: &CollectionJobReq) -> Vec<u8> {
    detente_dap::AggregateShareAad {
        task_id: task.id,
        task_configuration: task.config.clone(),
        collection_job_req: req.clone(),
    }
    .get_encoded()
}

/// An aggregator seals its aggregate share for the Collector (§4.6.7).
pub fn seal_aggregate_share(
    task: &Task<'_>,
    role: Role,
    collector: (u8, &[u8; 32]),
    req: &CollectionJobReq,
    share: &AggregateShare,
    rng: &mut impl rand_core::CryptoRng,
) -> Result<HpkeCiphertext, ShareError> {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(collector.1)
        .map_err(|e| ShareError(e.to_string()))?;
    let pt = share.get_encoded().map_err(|e| ShareError(e.to_string()))?;
    let (enc, payload) = hpke::single_shot_seal_with_rng::<Aead, Kdf, Kem>(
        &hpke::OpModeS::Base,
        &pk,
        &labels::aggregate_share_info(role),
        &pt,
        &aggregate_aad(task, req),
        rng,
    )
    .map_err(|e| ShareError(e.to_string()))?;
    Ok(HpkeCiphertext {
        config_id: HpkeConfigId(collector.0),
        enc: NonEmpty16::new(enc.to_bytes().to_vec()).map_err(|e| ShareError(e.to_string()))?,
        payload: NonEmpty32::new(payload).map_err(|e| ShareError(e.to_string()))?,
    })
}

/// The Collector opens an aggregator's sealed aggregate share.
pub fn open_aggregate_share(
    task: &Task<'_>,
    role: Role,
    collector_secret: &[u8; 32],
    req: &CollectionJobReq,
    ct: &HpkeCiphertext,
) -> Result<AggregateShare, ShareError> {
    let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(collector_secret)
        .map_err(|e| ShareError(e.to_string()))?;
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(ct.enc.as_ref())
        .map_err(|e| ShareError(e.to_string()))?;
    let pt = hpke::single_shot_open::<Aead, Kdf, Kem>(
        &hpke::OpModeR::Base,
        &sk,
        &enc,
        &labels::aggregate_share_info(role),
        ct.payload.as_ref(),
        &aggregate_aad(task, req),
    )
    .map_err(|e| ShareError(e.to_string()))?;
    AggregateShare::get_decoded_with_param(&(task.vdaf, &()), &pt)
        .map_err(|e| ShareError(e.to_string()))
}
