//! The four extension structures of draft-ietf-ppm-dap-18 and the ordering rules they share:
//! task extensions (§4.2.2, §4.2.3), report extensions (§4.4.3), aggregation job extensions
//! (§4.5.1, §5.2.2) and collection job extensions (§4.6.2).
//!
//! Decoding keeps extensions exactly as sent. The draft answers a badly ordered, duplicated
//! or unknown extension differently depending on where it is (a report is marked
//! `invalid_message`, an aggregation job fails with `invalidMessage` or
//! `unsupportedExtension`, a collection job with `invalidExtension`, a task is refused), so
//! those checks are separate methods ([`List::check_strictly_increasing`],
//! [`List::unsupported`], [`check_report_extensions`]) whose errors the caller maps.

use crate::codec::U16_MAX;
use crate::codec::{Decode, DecodeError, DecodeErrorKind, Encode, List, Opaque16, Within as _};
use crate::types::{BatchId, Interval};

/// An extension structure: gives its type code to the shared checks.
pub trait TypedExtension {
    /// The `extension_type` as a number.
    fn type_code(&self) -> u16;
}

/// An ordering or duplication rule broken by an extension list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionError {
    /// An `extension_type` is not greater than the one before it.
    #[error("extension type {next} follows {prev}: types must strictly increase")]
    NotIncreasing {
        /// The type before.
        prev: u16,
        /// The offending type.
        next: u16,
    },
    /// The same type is among a report's public extensions and an input share's private
    /// extensions (§4.5.3.4, check 6).
    #[error("extension type {code} is both public and private")]
    PublicAndPrivate {
        /// The repeated type.
        code: u16,
    },
}

impl<T: TypedExtension, const MIN: usize, const MAX: usize> List<T, MIN, MAX> {
    /// Checks that each `extension_type` is greater than the one before it, as §4.2.2,
    /// §4.5.1, §4.5.3.4 (check 7) and §4.6.2 require.
    pub fn check_strictly_increasing(&self) -> Result<(), ExtensionError> {
        for w in self.as_slice().windows(2) {
            if let [a, b] = w {
                if b.type_code() <= a.type_code() {
                    return Err(ExtensionError::NotIncreasing {
                        prev: a.type_code(),
                        next: b.type_code(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The first extension of type `code`.
    pub fn find(&self, code: u16) -> Option<&T> {
        self.as_slice().iter().find(|e| e.type_code() == code)
    }

    /// The type codes `supported` does not accept, in order: what an `unsupportedExtension`
    /// problem document lists in its `unsupported_extensions` member (§4.4.2.2).
    pub fn unsupported(&self, supported: impl Fn(u16) -> bool) -> Vec<u16> {
        self.as_slice()
            .iter()
            .map(TypedExtension::type_code)
            .filter(|c| !supported(*c))
            .collect()
    }
}

/// Checks a report's public extensions and one input share's private extensions: each list
/// strictly increasing and no type in both (§4.5.3.4, checks 6 and 7). A failure marks the
/// input share `invalid_message`.
pub fn check_report_extensions(
    public: &Extensions,
    private: &Extensions,
) -> Result<(), ExtensionError> {
    public.check_strictly_increasing()?;
    private.check_strictly_increasing()?;
    // Both are strictly increasing now: merge-walk them.
    let (mut a, mut b) = (public.iter().peekable(), private.iter().peekable());
    while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
        let (x, y) = (x.type_code(), y.type_code());
        match x.cmp(&y) {
            std::cmp::Ordering::Equal => return Err(ExtensionError::PublicAndPrivate { code: x }),
            std::cmp::Ordering::Less => {
                a.next();
            }
            std::cmp::Ordering::Greater => {
                b.next();
            }
        }
    }
    Ok(())
}

codepoint!(
    /// `ExtensionType` (§4.4.3, registry §9.2.4): the type of a report extension.
    ExtensionType(u16, u16) {
        /// `reserved(0)`.
        RESERVED = 0 => "reserved",
    }
);

extension!(
    /// `Extension` (§4.4.3): a report extension, public (in `ReportMetadata`) or private (in
    /// `PlaintextInputShare`).
    ///
    /// ```text
    /// struct {
    ///   ExtensionType extension_type;
    ///   opaque extension_data<0..2^16-1>;
    /// } Extension;
    /// ```
    Extension,
    "Extension",
    ExtensionType
);

/// `Extension extensions<0..2^16-1>` (§4.4.2, §4.4.2.1).
pub type Extensions = List<Extension, 0, U16_MAX>;

codepoint!(
    /// `TaskExtensionType` (§4.2.2, registry §9.2.2).
    TaskExtensionType(u16, u16) {
        /// `reserved(0)`.
        RESERVED = 0 => "reserved",
        /// `task_interval(1)` (§4.2.3).
        TASK_INTERVAL = 1 => "task_interval",
    }
);

extension!(
    /// `TaskExtension` (§4.2.2): binds more information to a `TaskConfiguration`.
    ///
    /// ```text
    /// struct {
    ///   TaskExtensionType extension_type;
    ///   opaque extension_data<0..2^16-1>;
    /// } TaskExtension;
    /// ```
    TaskExtension,
    "TaskExtension",
    TaskExtensionType
);

/// `TaskExtension extensions<0..2^16-1>` (§4.2).
pub type TaskExtensions = List<TaskExtension, 0, U16_MAX>;

impl TaskExtension {
    /// The `task_interval` task extension (§4.2.3): `extension_data` is one `Interval`.
    pub fn task_interval(task_interval: Interval) -> Self {
        let data = Opaque16::new(task_interval.get_encoded()).unwrap_or_default();
        TaskExtension::new(TaskExtensionType::TASK_INTERVAL, data)
    }
}

/// `TaskIntervalTaskExtension` (§4.2.3): the payload of the `task_interval` task extension.
///
/// ```text
/// struct {
///   Interval task_interval;
/// } TaskIntervalTaskExtension;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskIntervalTaskExtension {
    /// `task_interval`: reports with timestamps outside it are rejected.
    pub task_interval: Interval,
}

impl Encode for TaskIntervalTaskExtension {
    fn encode(&self, out: &mut Vec<u8>) {
        self.task_interval.encode(out);
    }
    fn encoded_len(&self) -> usize {
        16
    }
}

impl Decode for TaskIntervalTaskExtension {
    const NAME: &'static str = "TaskIntervalTaskExtension";
    fn decode_from(r: &mut crate::codec::Reader<'_>) -> Result<Self, DecodeError> {
        Ok(TaskIntervalTaskExtension {
            task_interval: Interval::decode_from(r)
                .within("TaskIntervalTaskExtension.task_interval")?,
        })
    }
}

codepoint!(
    /// `AggregationJobExtensionType` (§4.5.1, registry §9.2.3).
    AggregationJobExtensionType(u16, u16) {
        /// `reserved(0)`.
        RESERVED = 0 => "reserved",
        /// `leader_selected_batch_id(1)` (§5.2.2): the payload is a `BatchID`.
        LEADER_SELECTED_BATCH_ID = 1 => "leader_selected_batch_id",
    }
);

extension!(
    /// `AggregationJobExtension` (§4.5.1): parameters the Leader conveys to the Helper in an
    /// `AggregationJobInitReq`.
    ///
    /// ```text
    /// struct {
    ///   AggregationJobExtensionType extension_type;
    ///   opaque extension_data<0..2^16-1>;
    /// } AggregationJobExtension;
    /// ```
    AggregationJobExtension,
    "AggregationJobExtension",
    AggregationJobExtensionType
);

/// `AggregationJobExtension extensions<0..2^16-1>` (§4.5.3.1).
pub type AggregationJobExtensions = List<AggregationJobExtension, 0, U16_MAX>;

impl AggregationJobExtension {
    /// The `leader_selected_batch_id` extension (§5.2.2) carrying `batch_id`.
    pub fn leader_selected_batch_id(batch_id: BatchId) -> Self {
        let data = Opaque16::new(batch_id.0.to_vec()).unwrap_or_default();
        AggregationJobExtension::new(AggregationJobExtensionType::LEADER_SELECTED_BATCH_ID, data)
    }
}

impl AggregationJobExtensions {
    /// The batch ID of the `leader_selected_batch_id` extension (§5.2.2).
    ///
    /// Fails with [`DecodeErrorKind::Missing`] if the extension is absent and with a decoding
    /// error if its payload is not exactly a `BatchID`: both mean the Helper aborts with
    /// `invalidMessage` in a leader-selected task.
    pub fn leader_selected_batch_id(&self) -> Result<BatchId, DecodeError> {
        const FIELD: &str = "AggregationJobInitReq.extensions";
        let ext = self
            .find(AggregationJobExtensionType::LEADER_SELECTED_BATCH_ID.0)
            .ok_or_else(|| DecodeError::new(FIELD, DecodeErrorKind::Missing))?;
        BatchId::decode(ext.extension_data.as_slice())
            .within("AggregationJobExtension(leader_selected_batch_id).extension_data")
    }
}

impl TaskExtensions {
    /// The interval of the `task_interval` task extension (§4.2.3), `None` if the task has
    /// none; a decoding error if its payload is not exactly one `Interval`.
    pub fn task_interval(&self) -> Result<Option<Interval>, DecodeError> {
        match self.find(TaskExtensionType::TASK_INTERVAL.0) {
            None => Ok(None),
            Some(ext) => TaskIntervalTaskExtension::decode(ext.extension_data.as_slice())
                .within("TaskExtension(task_interval).extension_data")
                .map(|t| Some(t.task_interval)),
        }
    }
}

codepoint!(
    /// `CollectionJobExtensionType` (§4.6.2, registry §9.2.5).
    CollectionJobExtensionType(u16, u16) {
        /// `reserved(0)`.
        RESERVED = 0 => "reserved",
    }
);

extension!(
    /// `CollectionJobExtension` (§4.6.2): how Aggregators should handle a collection job.
    ///
    /// ```text
    /// struct {
    ///   CollectionJobExtensionType extension_type;
    ///   opaque extension_data<0..2^16-1>;
    /// } CollectionJobExtension;
    /// ```
    CollectionJobExtension,
    "CollectionJobExtension",
    CollectionJobExtensionType
);

/// `CollectionJobExtension extensions<0..2^16-1>` (§4.6.1).
pub type CollectionJobExtensions = List<CollectionJobExtension, 0, U16_MAX>;
