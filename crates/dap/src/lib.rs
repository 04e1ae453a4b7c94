//! Wire types of the Distributed Aggregation Protocol of the IETF PPM working group, exactly
//! as in **draft-ietf-ppm-dap-18**, without any cryptography: the role `janus_messages`
//! plays for Janus. With the messages, media types, resource paths and domain separation
//! strings fixed here, talking to another DAP-18 deployment is a matter of configuration.
//!
//! The text followed is `draft-ietf-ppm-dap.md` at the tag `draft-ietf-ppm-dap-18` of
//! <https://github.com/ietf-wg-ppm/draft-ietf-ppm-dap> (commit
//! `04a9f95fc4e2217bb4edf2c270fc7699f6ce7ede`, "prepare to release
//! draft-ietf-ppm-dap-18"). VDAF codepoints come from draft-irtf-cfrg-vdaf-19, Section 10,
//! and HPKE codepoints from RFC 9180, Section 7.
//!
//! Sans-IO: no I/O, no clock, no randomness. Every message [`Encode`]s into a `Vec<u8>` and
//! [`Decode`]s from a byte slice ([`Decode::decode`] refuses trailing bytes). Decoding checks
//! each length prefix against the bytes actually left before copying anything, and the
//! `<floor..ceiling>` range the draft declares; errors ([`DecodeError`]) name the field.
//!
//! # Where each type comes from
//!
//! Section numbers are those of draft-ietf-ppm-dap-18.
//!
//! | Type | Section |
//! |---|---|
//! | [`ReportId`], [`Role`], [`HpkeConfigId`], [`HpkeCiphertext`], [`Empty`], [`ReportError`], [`Url`] | §4.1 Basic Type Definitions |
//! | [`TimePrecision`], [`Time`], [`Duration`], [`Interval`] | §4.1.1 Times, Durations and Intervals |
//! | [`TaskId`], [`TaskConfiguration`], [`VdafType`] | §4.2 Task Configuration |
//! | [`TaskExtension`], [`TaskExtensionType`] | §4.2.2 Task Extensions |
//! | [`TaskIntervalTaskExtension`] | §4.2.3 Task Interval Task Extension |
//! | [`HpkeConfig`], [`HpkeConfigList`], [`HpkeKemId`], [`HpkeKdfId`], [`HpkeAeadId`], [`HpkePublicKey`] | §4.4.1 HPKE Configuration Request |
//! | [`ReportMetadata`], [`Report`], [`UploadRequest`] | §4.4.2 Upload Request |
//! | [`PlaintextInputShare`], [`InputShareAad`] | §4.4.2.1 Client Behavior |
//! | [`ReportUploadStatus`], [`UploadErrors`] | §4.4.2.2 Leader Behavior |
//! | [`Extension`], [`ExtensionType`] | §4.4.3 Report Extensions |
//! | [`AggregationJobExtension`], [`AggregationJobExtensionType`] | §4.5.1 Aggregation Job Extensions |
//! | [`ReportShare`], [`VerifyInit`], [`AggregationJobInitReq`] | §4.5.3.1 Leader Initialization |
//! | [`VerifyRespType`], [`VerifyResp`], [`AggregationJobResp`] | §4.5.3.2 Helper Initialization |
//! | [`VerifyContinue`], [`AggregationJobContinueReq`] | §4.5.4.1 Leader Continuation |
//! | [`Checksum`] (the `checksum` field) | §4.5.4.3 Batch Buckets, §4.6.4 |
//! | [`Query`], [`CollectionJobReq`], [`CollectionJobResp`] | §4.6.1 Collection Job Initialization |
//! | [`CollectionJobExtension`], [`CollectionJobExtensionType`] | §4.6.2 Collection Job Extensions |
//! | [`BatchSelector`], [`AggregateShareReq`], [`AggregateShare`] | §4.6.4 Obtaining Aggregate Shares |
//! | [`AggregateShareAad`], [`labels`] | §4.6.7 Aggregate Share Encryption |
//! | [`BatchMode`] | §5 Batch Modes |
//! | [`TimeIntervalQueryConfig`], [`TimeIntervalBatchSelectorConfig`] | §5.1.1, §5.1.2 |
//! | [`BatchId`], [`LeaderSelectedBatchSelectorConfig`], `leader_selected_batch_id` | §5.2, §5.2.2, §5.2.3 |
//! | [`MediaType`] | §9.1 Protocol Message Media Type |
//! | [`Resource`], [`ResourceId`], [`ProblemType`] | §3, §3.2, §3.6, Appendix A |
//! | [`vdaf`] configurations | Appendix B VDAF Configuration Encodings |
//!
//! # What changed by -18 (and is followed here)
//!
//! * The VDAF step is "verification": `VerifyInit`, `VerifyResp`, `VerifyContinue` (the
//!   `Prepare*` messages of older drafts).
//! * No `PartialBatchSelector`: `AggregationJobInitReq` carries a `verification_key_id` and
//!   aggregation job extensions; the leader-selected batch ID travels in the
//!   `leader_selected_batch_id` extension (§5.2.2). `CollectionJobResp` carries no batch
//!   selector either.
//! * `InputShareAad` and `AggregateShareAad` embed the whole [`TaskConfiguration`];
//!   `AggregateShareReq` and `AggregateShareAad` embed the Collector's [`CollectionJobReq`].
//! * Aggregation job, collection job and aggregate share IDs are server-selected with no
//!   fixed size ([`ResourceId`]); resources are created with POST.
//! * `AggregationJobResp` has no status variant: "not ready" is an empty HTTP body (§3.1).
//!
//! # Codes the draft lets grow
//!
//! Registry codepoints ([`BatchMode`], [`ReportError`], the four extension types,
//! [`VdafType`], HPKE ids) are newtypes that keep unknown values, since §10 lets later
//! documents register more and the draft prescribes context-specific answers to unknown
//! ones. Codes that decide the layout of what follows ([`VerifyRespType`]) and the closed
//! [`Role`] fail to decode when unknown. Extension order and duplication rules are checked
//! by separate methods (see [`extensions`]) because the draft answers them differently in
//! each place.
//!
//! ```
//! use detente_dap::*;
//!
//! let report = Report {
//!     report_metadata: ReportMetadata {
//!         report_id: ReportId([7; 16]),
//!         time: Time(17419860),
//!         public_extensions: Extensions::default(),
//!     },
//!     public_share: Opaque32::default(),
//!     leader_encrypted_input_share: HpkeCiphertext {
//!         config_id: HpkeConfigId(1),
//!         enc: NonEmpty16::new(vec![0x0f; 32]).unwrap(),
//!         payload: NonEmpty32::new(vec![0x0b; 48]).unwrap(),
//!     },
//!     helper_encrypted_input_share: HpkeCiphertext {
//!         config_id: HpkeConfigId(2),
//!         enc: NonEmpty16::new(vec![0x0c; 32]).unwrap(),
//!         payload: NonEmpty32::new(vec![0x08; 48]).unwrap(),
//!     },
//! };
//! let body = UploadRequest { reports: vec![report] }.get_encoded();
//! assert_eq!(UploadRequest::decode(&body).unwrap().reports.len(), 1);
//! assert_eq!(
//!     UploadRequest::MEDIA_TYPE.content_type(),
//!     "application/ppm-dap;message=upload-req"
//! );
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

#[macro_use]
mod macros;

pub mod aggregate;
pub mod batch_mode;
pub mod codec;
pub mod collect;
pub mod extensions;
pub mod http;
pub mod labels;
pub mod task;
pub mod types;
pub mod upload;
pub mod vdaf;

pub use aggregate::{
    AggregationJobContinueReq, AggregationJobInitReq, AggregationJobResp, ReportShare,
    VerifyContinue, VerifyInit, VerifyResp, VerifyRespType, VerifyResult,
};
pub use batch_mode::{
    LeaderSelectedBatchSelectorConfig, TimeIntervalBatchSelectorConfig, TimeIntervalQueryConfig,
    TypedBatchSelector, TypedQuery,
};
pub use codec::{
    Decode, DecodeError, DecodeErrorKind, Encode, LengthError, List, NonEmpty16, NonEmpty32,
    NonEmpty8, Opaque, Opaque16, Opaque32, Reader,
};
pub use collect::{
    AggregateShare, AggregateShareAad, AggregateShareReq, BatchSelector, CollectionJobReq,
    CollectionJobResp, Query,
};
pub use extensions::{
    check_report_extensions, AggregationJobExtension, AggregationJobExtensionType,
    AggregationJobExtensions, CollectionJobExtension, CollectionJobExtensionType,
    CollectionJobExtensions, Extension, ExtensionError, ExtensionType, Extensions, TaskExtension,
    TaskExtensionType, TaskExtensions, TaskIntervalTaskExtension, TypedExtension,
};
pub use http::{
    aggregation_job_step_path, parse_step_query, MediaType, Message, PathError, ProblemType,
    Resource, ResourceId,
};
pub use task::{BatchMode, TaskConfiguration, VdafType};
pub use types::{
    BatchId, Checksum, Duration, Empty, HpkeCiphertext, HpkeConfigId, Interval, ReportError,
    ReportId, Role, TaskId, Time, TimePrecision, Url,
};
pub use upload::{
    HpkeAeadId, HpkeConfig, HpkeConfigList, HpkeKdfId, HpkeKemId, HpkePublicKey, InputShareAad,
    PlaintextInputShare, Report, ReportMetadata, ReportUploadStatus, UploadErrors, UploadRequest,
};
pub use vdaf::VdafConfig;
