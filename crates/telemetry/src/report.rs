//! A DAP-18 report (§4.4.2) from a measurement and one seed: the report id, the VDAF
//! sharding and the HPKE sealing come from [`shard`](crate::shard::shard), framed as the
//! draft asks: HPKE `info` `"dap-18 input share" || 0x01 || role`, AAD the
//! [`InputShareAad`] (task id, task configuration, report metadata, public share), the
//! plaintext a [`PlaintextInputShare`], and the VDAF context `"dap-18" || task_id`.

use detente_dap::{
    labels, Encode as _, Extensions, HpkeCiphertext, HpkeConfigId, InputShareAad, NonEmpty16,
    NonEmpty32, Opaque32, PlaintextInputShare, Report, ReportId, ReportMetadata, Role,
    TaskConfiguration, TaskId, Time,
};

use crate::shard::{shard, Framing, PublicKey, ShardError, Value, Vdaf};

/// One aggregator's HPKE configuration as a client uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipient {
    /// The `HpkeConfig` id.
    pub config_id: u8,
    /// Its X25519 public key.
    pub public_key: PublicKey,
}

/// The DAP-18 framing of one report's input shares.
pub struct DapFraming<'a> {
    /// The task id.
    pub task_id: TaskId,
    /// The task's configuration.
    pub task: &'a TaskConfiguration,
    /// The report's time (already truncated to the task's time precision).
    pub time: Time,
}

impl DapFraming<'_> {
    fn metadata(&self, report_id: &[u8; 16]) -> ReportMetadata {
        ReportMetadata {
            report_id: ReportId(*report_id),
            time: self.time,
            public_extensions: Extensions::default(),
        }
    }
}

impl Framing for DapFraming<'_> {
    fn info(&self, agg: u8) -> Vec<u8> {
        labels::input_share_info(if agg == 0 { Role::Leader } else { Role::Helper })
    }
    fn aad(&self, report_id: &[u8; 16], public_share: &[u8]) -> Vec<u8> {
        InputShareAad {
            task_id: self.task_id,
            task_configuration: self.task.clone(),
            report_metadata: self.metadata(report_id),
            // A public share is far below 2^32 bytes; an impossible one gives an empty AAD
            // part, which no aggregator would accept.
            public_share: Opaque32::new(public_share.to_vec()).unwrap_or_default(),
        }
        .get_encoded()
    }
    fn plaintext(&self, input_share: &[u8]) -> Vec<u8> {
        match NonEmpty32::new(input_share.to_vec()) {
            Ok(payload) => PlaintextInputShare {
                private_extensions: Extensions::default(),
                payload,
            }
            .get_encoded(),
            Err(_) => Vec::new(),
        }
    }
}

/// Why a report can't be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Sharding or sealing failed.
    #[error(transparent)]
    Shard(#[from] ShardError),
    /// A field is out of the draft's length range.
    #[error("DAP encoding: {0}")]
    Length(String),
}

/// Builds the report for `value` from `seed`.
#[allow(clippy::too_many_arguments)]
pub fn build(
    task_id: TaskId,
    task: &TaskConfiguration,
    time: Time,
    vdaf: Vdaf,
    value: &Value,
    seed: [u8; 32],
    leader: Recipient,
    helper: Recipient,
) -> Result<Report, ReportError> {
    let framing = DapFraming {
        task_id,
        task,
        time,
    };
    let ctx = labels::vdaf_application_context(&task_id);
    let s = shard(
        vdaf,
        &ctx,
        value,
        seed,
        [&leader.public_key, &helper.public_key],
        &framing,
    )?;
    let len = |e: detente_dap::codec::LengthError| ReportError::Length(e.to_string());
    let ct = |r: Recipient, i: usize| -> Result<HpkeCiphertext, ReportError> {
        Ok(HpkeCiphertext {
            config_id: HpkeConfigId(r.config_id),
            enc: NonEmpty16::new(s.shares[i].enc.clone()).map_err(len)?,
            payload: NonEmpty32::new(s.shares[i].payload.clone()).map_err(len)?,
        })
    };
    Ok(Report {
        report_metadata: framing.metadata(&s.report_id),
        public_share: Opaque32::new(s.public_share.clone()).map_err(len)?,
        leader_encrypted_input_share: ct(leader, 0)?,
        helper_encrypted_input_share: ct(helper, 1)?,
    })
}
