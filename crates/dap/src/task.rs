//! Task configuration: draft-ietf-ppm-dap-18 §4.2 "Task Configuration" and §5 "Batch Modes"
//! (`BatchMode`).

use crate::codec::{Decode, DecodeError, Encode, NonEmpty8, Opaque16, Reader, Within as _};
use crate::extensions::TaskExtensions;
use crate::types::{Interval, TimePrecision, Url};

codepoint!(
    /// `BatchMode` (§5, registry §9.2.1): how a task groups reports into batches.
    ///
    /// Future documents may register more modes (§10), so unknown codes decode as themselves;
    /// a mode that does not match the task's is an `invalidMessage` (§4.6.1, §4.6.4).
    BatchMode(u8, u8) {
        /// `reserved(0)`.
        RESERVED = 0 => "reserved",
        /// `time_interval(1)` (§5.1).
        TIME_INTERVAL = 1 => "time_interval",
        /// `leader_selected(2)` (§5.2).
        LEADER_SELECTED = 2 => "leader_selected",
    }
);

codepoint!(
    /// `uint32 VdafType;` (§4.2): a codepoint of the VDAF Identifiers registry of
    /// draft-irtf-cfrg-vdaf-19, Section 10 (the constants below are copied from there).
    VdafType(u32, u32) {
        /// Reserved, `0x00000000`.
        RESERVED = 0x0000_0000 => "Reserved",
        /// Prio3Count, `0x00000001`.
        PRIO3_COUNT = 0x0000_0001 => "Prio3Count",
        /// Prio3Sum, `0x00000002`.
        PRIO3_SUM = 0x0000_0002 => "Prio3Sum",
        /// Prio3SumVec, `0x00000003`.
        PRIO3_SUM_VEC = 0x0000_0003 => "Prio3SumVec",
        /// Prio3Histogram, `0x00000004`.
        PRIO3_HISTOGRAM = 0x0000_0004 => "Prio3Histogram",
        /// Prio3MultihotCountVec, `0x00000005`.
        PRIO3_MULTIHOT_COUNT_VEC = 0x0000_0005 => "Prio3MultihotCountVec",
        /// Poplar1, `0x00000006`.
        POPLAR1 = 0x0000_0006 => "Poplar1",
    }
);

/// `TaskConfiguration` (§4.2): the parameters every participant agrees on, bound into the
/// HPKE authenticated data (`InputShareAad`, `AggregateShareAad`).
///
/// ```text
/// struct {
///     opaque task_info<1..2^8-1>;
///     Url leader_aggregator_endpoint;
///     Url helper_aggregator_endpoint;
///     TimePrecision time_precision;
///     uint64 min_batch_size;
///     BatchMode batch_mode;
///     opaque batch_config<0..2^16-1>;
///     VdafType vdaf_type;
///     opaque vdaf_configuration<0..2^16-1>;
///     TaskExtension extensions<0..2^16-1>;
/// } TaskConfiguration;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TaskConfiguration {
    /// `task_info`: opaque bytes telling otherwise identical tasks apart.
    pub task_info: NonEmpty8,
    /// `leader_aggregator_endpoint`: the Leader's base API URL.
    pub leader_aggregator_endpoint: Url,
    /// `helper_aggregator_endpoint`: the Helper's base API URL.
    pub helper_aggregator_endpoint: Url,
    /// `time_precision`.
    pub time_precision: TimePrecision,
    /// `min_batch_size`: the fewest reports a batch may hold.
    pub min_batch_size: u64,
    /// `batch_mode`.
    pub batch_mode: BatchMode,
    /// `batch_config`: empty for `time_interval` and `leader_selected`.
    pub batch_config: Opaque16,
    /// `vdaf_type`.
    pub vdaf_type: VdafType,
    /// `vdaf_configuration`: the VDAF's configuration encoding (see [`crate::vdaf`]).
    pub vdaf_configuration: Opaque16,
    /// `extensions`.
    pub extensions: TaskExtensions,
}

impl TaskConfiguration {
    /// The interval of the `task_interval` extension, if the task has one (§4.2.3).
    pub fn task_interval(&self) -> Result<Option<Interval>, DecodeError> {
        self.extensions.task_interval()
    }
}

impl Encode for TaskConfiguration {
    fn encode(&self, out: &mut Vec<u8>) {
        self.task_info.encode(out);
        self.leader_aggregator_endpoint.encode(out);
        self.helper_aggregator_endpoint.encode(out);
        self.time_precision.encode(out);
        self.min_batch_size.encode(out);
        self.batch_mode.encode(out);
        self.batch_config.encode(out);
        self.vdaf_type.encode(out);
        self.vdaf_configuration.encode(out);
        self.extensions.encode(out);
    }
    fn encoded_len(&self) -> usize {
        self.task_info.encoded_len()
            + self.leader_aggregator_endpoint.encoded_len()
            + self.helper_aggregator_endpoint.encoded_len()
            + 8
            + 8
            + 1
            + self.batch_config.encoded_len()
            + 4
            + self.vdaf_configuration.encoded_len()
            + self.extensions.encoded_len()
    }
}

impl Decode for TaskConfiguration {
    const NAME: &'static str = "TaskConfiguration";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(TaskConfiguration {
            task_info: NonEmpty8::read(r, "TaskConfiguration.task_info")?,
            leader_aggregator_endpoint: Url::read(
                r,
                "TaskConfiguration.leader_aggregator_endpoint",
            )?,
            helper_aggregator_endpoint: Url::read(
                r,
                "TaskConfiguration.helper_aggregator_endpoint",
            )?,
            time_precision: TimePrecision::decode_from(r)
                .within("TaskConfiguration.time_precision")?,
            min_batch_size: r.u64("TaskConfiguration.min_batch_size")?,
            batch_mode: BatchMode::decode_from(r).within("TaskConfiguration.batch_mode")?,
            batch_config: Opaque16::read(r, "TaskConfiguration.batch_config")?,
            vdaf_type: VdafType::decode_from(r).within("TaskConfiguration.vdaf_type")?,
            vdaf_configuration: Opaque16::read(r, "TaskConfiguration.vdaf_configuration")?,
            extensions: TaskExtensions::read(r, "TaskConfiguration.extensions")?,
        })
    }
}
