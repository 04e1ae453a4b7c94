//! HTTP-facing names: draft-ietf-ppm-dap-18 §3 "HTTP Usage" (resource URLs, §3.6 problem
//! types), §9.1 (media types) and Appendix A "HTTP Resources Reference".
//!
//! Only strings are built and parsed here; sending requests is the caller's business.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::aggregate::{AggregationJobContinueReq, AggregationJobInitReq, AggregationJobResp};
use crate::codec::{Decode, Encode};
use crate::collect::{AggregateShare, AggregateShareReq, CollectionJobReq, CollectionJobResp};
use crate::types::TaskId;
use crate::upload::{HpkeConfigList, UploadErrors, UploadRequest};

/// A resource path or identifier that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// Not URL-safe unpadded base 64 (RFC 4648, Sections 5 and 3.2).
    #[error("not URL-safe unpadded base 64")]
    Base64,
    /// An identifier of the wrong length.
    #[error("identifier of {got} bytes, expected {expected}")]
    IdLength {
        /// Expected length.
        expected: usize,
        /// Decoded length.
        got: usize,
    },
    /// An empty resource identifier.
    #[error("empty resource identifier")]
    EmptyId,
    /// A path that names no DAP resource.
    #[error("not a DAP resource path")]
    UnknownPath,
    /// A query string whose `step` is missing a value, repeated, or not a `uint16`.
    #[error("bad step query parameter")]
    Step,
}

/// URL-safe base 64 without padding.
pub fn base64url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes URL-safe base 64 without padding; padding and non-zero trailing bits are refused,
/// so each byte string has exactly one accepted spelling.
pub fn base64url_decode(s: &str) -> Result<Vec<u8>, PathError> {
    URL_SAFE_NO_PAD.decode(s).map_err(|_| PathError::Base64)
}

/// A server-selected resource identifier: an aggregation job, collection job or aggregate
/// share ID (§3.2).
///
/// Draft 18 gives these no fixed size (earlier drafts used 16 bytes): the server chooses
/// them, and they travel only in URLs, base 64 encoded. Any non-empty byte string is
/// accepted.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(Vec<u8>);

impl ResourceId {
    /// An identifier of `bytes`, which must not be empty.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, PathError> {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return Err(PathError::EmptyId);
        }
        Ok(ResourceId(bytes))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// URL-safe unpadded base 64, as it appears in URLs.
    pub fn to_base64url(&self) -> String {
        base64url_encode(&self.0)
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64url())
    }
}

impl fmt::Debug for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResourceId({})", self.to_base64url())
    }
}

impl FromStr for ResourceId {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, PathError> {
        ResourceId::new(base64url_decode(s)?)
    }
}

/// A DAP HTTP resource (Appendix A), named by its path relative to an Aggregator's base
/// API URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    /// `{aggregator}/hpke_config` (§4.4.1): GET → `hpke-config-list`.
    HpkeConfig,
    /// `{leader}/tasks/{task-id}/reports` (§4.4.2): POST `upload-req` → `upload-errors`.
    Reports {
        /// The task.
        task_id: TaskId,
    },
    /// `{helper}/tasks/{task-id}/aggregation_jobs` (§4.5): POST `aggregation-job-init-req`
    /// creates a job.
    AggregationJobs {
        /// The task.
        task_id: TaskId,
    },
    /// `{helper}/tasks/{task-id}/aggregation_jobs/{aggregation-job-id}` (§4.5): POST
    /// `aggregation-job-continue-req`, GET (with `?step=`), DELETE.
    AggregationJob {
        /// The task.
        task_id: TaskId,
        /// The job.
        aggregation_job_id: ResourceId,
    },
    /// `{leader}/tasks/{task-id}/collection_jobs` (§4.6): POST `collection-job-req` creates
    /// a job.
    CollectionJobs {
        /// The task.
        task_id: TaskId,
    },
    /// `{leader}/tasks/{task-id}/collection_jobs/{collection-job-id}` (§4.6): GET, DELETE.
    CollectionJob {
        /// The task.
        task_id: TaskId,
        /// The job.
        collection_job_id: ResourceId,
    },
    /// `{helper}/tasks/{task-id}/aggregate_shares` (§4.6.4): POST `aggregate-share-req`
    /// creates a share.
    AggregateShares {
        /// The task.
        task_id: TaskId,
    },
    /// `{helper}/tasks/{task-id}/aggregate_shares/{aggregate-share-id}` (§4.6.4): GET,
    /// DELETE.
    AggregateShare {
        /// The task.
        task_id: TaskId,
        /// The share.
        aggregate_share_id: ResourceId,
    },
}

impl Resource {
    /// The path relative to the base API URL, starting with `/`.
    pub fn path(&self) -> String {
        match self {
            Resource::HpkeConfig => "/hpke_config".to_string(),
            Resource::Reports { task_id } => format!("/tasks/{task_id}/reports"),
            Resource::AggregationJobs { task_id } => format!("/tasks/{task_id}/aggregation_jobs"),
            Resource::AggregationJob {
                task_id,
                aggregation_job_id,
            } => format!("/tasks/{task_id}/aggregation_jobs/{aggregation_job_id}"),
            Resource::CollectionJobs { task_id } => format!("/tasks/{task_id}/collection_jobs"),
            Resource::CollectionJob {
                task_id,
                collection_job_id,
            } => format!("/tasks/{task_id}/collection_jobs/{collection_job_id}"),
            Resource::AggregateShares { task_id } => format!("/tasks/{task_id}/aggregate_shares"),
            Resource::AggregateShare {
                task_id,
                aggregate_share_id,
            } => format!("/tasks/{task_id}/aggregate_shares/{aggregate_share_id}"),
        }
    }

    /// The full URL under `base` (the `{leader}`, `{helper}` or `{aggregator}` of §3): the
    /// base with one trailing `/` dropped, then [`Resource::path`].
    pub fn url(&self, base: &str) -> String {
        let base = base.strip_suffix('/').unwrap_or(base);
        format!("{base}{}", self.path())
    }

    /// Parses a path relative to the base API URL (starting with `/`, without a query
    /// string), the inverse of [`Resource::path`].
    pub fn parse(path: &str) -> Result<Resource, PathError> {
        let rest = path.strip_prefix('/').ok_or(PathError::UnknownPath)?;
        if rest == "hpke_config" {
            return Ok(Resource::HpkeConfig);
        }
        let rest = rest.strip_prefix("tasks/").ok_or(PathError::UnknownPath)?;
        let mut parts = rest.split('/');
        let (Some(task), Some(kind)) = (parts.next(), parts.next()) else {
            return Err(PathError::UnknownPath);
        };
        let id = parts.next();
        if parts.next().is_some() {
            return Err(PathError::UnknownPath);
        }
        let task_id = TaskId::from_base64url(task)?;
        let id = id.map(ResourceId::from_str).transpose()?;
        Ok(match (kind, id) {
            ("reports", None) => Resource::Reports { task_id },
            ("aggregation_jobs", None) => Resource::AggregationJobs { task_id },
            ("aggregation_jobs", Some(aggregation_job_id)) => Resource::AggregationJob {
                task_id,
                aggregation_job_id,
            },
            ("collection_jobs", None) => Resource::CollectionJobs { task_id },
            ("collection_jobs", Some(collection_job_id)) => Resource::CollectionJob {
                task_id,
                collection_job_id,
            },
            ("aggregate_shares", None) => Resource::AggregateShares { task_id },
            ("aggregate_shares", Some(aggregate_share_id)) => Resource::AggregateShare {
                task_id,
                aggregate_share_id,
            },
            _ => return Err(PathError::UnknownPath),
        })
    }
}

/// The path and query of an aggregation job at `step`:
/// `/tasks/{task-id}/aggregation_jobs/{aggregation-job-id}?step={step}`, the form the
/// Helper's `Location` header and the Leader's polling GETs use (§4.5.3.2, §4.5.4.2).
pub fn aggregation_job_step_path(
    task_id: &TaskId,
    aggregation_job_id: &ResourceId,
    step: u16,
) -> String {
    format!("/tasks/{task_id}/aggregation_jobs/{aggregation_job_id}?step={step}")
}

/// The `step` parameter of a query string (the part after `?`, `&`-separated), `None` if
/// absent. A repeated `step` or one that is not a decimal `uint16` is an error.
pub fn parse_step_query(query: &str) -> Result<Option<u16>, PathError> {
    let mut step = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "step" {
            continue;
        }
        let canonical = value.bytes().all(|b| b.is_ascii_digit())
            && !value.is_empty()
            && (value == "0" || !value.starts_with('0'));
        let v = value
            .parse::<u16>()
            .ok()
            .filter(|_| canonical)
            .ok_or(PathError::Step)?;
        if step.replace(v).is_some() {
            return Err(PathError::Step);
        }
    }
    Ok(step)
}

/// The media type of every DAP message: `application/ppm-dap` (§9.1).
pub const MEDIA_TYPE: &str = "application/ppm-dap";

/// A DAP protocol message type: the `message` parameter of `application/ppm-dap` (§9.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// `hpke-config-list`: [`HpkeConfigList`].
    HpkeConfigList,
    /// `upload-req`: [`UploadRequest`].
    UploadRequest,
    /// `upload-errors`: [`UploadErrors`].
    UploadErrors,
    /// `aggregation-job-init-req`: [`AggregationJobInitReq`].
    AggregationJobInitReq,
    /// `aggregation-job-resp`: [`AggregationJobResp`].
    AggregationJobResp,
    /// `aggregation-job-continue-req`: [`AggregationJobContinueReq`].
    AggregationJobContinueReq,
    /// `aggregate-share-req`: [`AggregateShareReq`].
    AggregateShareReq,
    /// `aggregate-share`: [`AggregateShare`].
    AggregateShare,
    /// `collection-job-req`: [`CollectionJobReq`].
    CollectionJobReq,
    /// `collection-job-resp`: [`CollectionJobResp`].
    CollectionJobResp,
}

impl MediaType {
    /// Every message type, in the order of §9.1.
    pub const ALL: [MediaType; 10] = [
        MediaType::HpkeConfigList,
        MediaType::UploadRequest,
        MediaType::UploadErrors,
        MediaType::AggregationJobInitReq,
        MediaType::AggregationJobResp,
        MediaType::AggregationJobContinueReq,
        MediaType::AggregateShareReq,
        MediaType::AggregateShare,
        MediaType::CollectionJobReq,
        MediaType::CollectionJobResp,
    ];

    /// The `message` parameter's value.
    pub fn message(self) -> &'static str {
        match self {
            MediaType::HpkeConfigList => "hpke-config-list",
            MediaType::UploadRequest => "upload-req",
            MediaType::UploadErrors => "upload-errors",
            MediaType::AggregationJobInitReq => "aggregation-job-init-req",
            MediaType::AggregationJobResp => "aggregation-job-resp",
            MediaType::AggregationJobContinueReq => "aggregation-job-continue-req",
            MediaType::AggregateShareReq => "aggregate-share-req",
            MediaType::AggregateShare => "aggregate-share",
            MediaType::CollectionJobReq => "collection-job-req",
            MediaType::CollectionJobResp => "collection-job-resp",
        }
    }

    /// The `Content-Type` value, e.g. `application/ppm-dap;message=upload-req`.
    pub fn content_type(self) -> &'static str {
        match self {
            MediaType::HpkeConfigList => "application/ppm-dap;message=hpke-config-list",
            MediaType::UploadRequest => "application/ppm-dap;message=upload-req",
            MediaType::UploadErrors => "application/ppm-dap;message=upload-errors",
            MediaType::AggregationJobInitReq => {
                "application/ppm-dap;message=aggregation-job-init-req"
            }
            MediaType::AggregationJobResp => "application/ppm-dap;message=aggregation-job-resp",
            MediaType::AggregationJobContinueReq => {
                "application/ppm-dap;message=aggregation-job-continue-req"
            }
            MediaType::AggregateShareReq => "application/ppm-dap;message=aggregate-share-req",
            MediaType::AggregateShare => "application/ppm-dap;message=aggregate-share",
            MediaType::CollectionJobReq => "application/ppm-dap;message=collection-job-req",
            MediaType::CollectionJobResp => "application/ppm-dap;message=collection-job-resp",
        }
    }

    /// The message type of a `message` parameter value.
    pub fn from_message(message: &str) -> Option<MediaType> {
        MediaType::ALL.into_iter().find(|m| m.message() == message)
    }

    /// The message type of a `Content-Type` header value (RFC 9110, Section 8.3.1): type and
    /// subtype `application/ppm-dap` in any case, whitespace around `;`, parameter names in
    /// any case, values as tokens or quoted strings. Exactly one `message` parameter is
    /// required; others (such as the draft-only `version`) are ignored.
    pub fn from_content_type(value: &str) -> Option<MediaType> {
        let (essence, mut rest) = value.split_once(';').unwrap_or((value, ""));
        if !essence.trim().eq_ignore_ascii_case(MEDIA_TYPE) {
            return None;
        }
        let mut message: Option<String> = None;
        loop {
            rest = rest.trim_start_matches([' ', '\t']);
            if rest.is_empty() {
                break;
            }
            let (name, after) = rest.split_once('=')?;
            if name.is_empty() || name.contains([' ', '\t', ';', '"']) {
                return None;
            }
            let (val, after) = parameter_value(after)?;
            if name.eq_ignore_ascii_case("message") && message.replace(val).is_some() {
                return None;
            }
            let after = after.trim_start_matches([' ', '\t']);
            rest = match after.strip_prefix(';') {
                Some(r) => r,
                None if after.is_empty() => after,
                None => return None,
            };
        }
        MediaType::from_message(message.as_deref()?)
    }
}

/// Splits a parameter value (a token or a quoted string) from what follows it.
fn parameter_value(s: &str) -> Option<(String, &str)> {
    if let Some(q) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = q.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Some((out, q.get(i + 1..).unwrap_or(""))),
                '\\' => out.push(chars.next()?.1),
                c => out.push(c),
            }
        }
        None
    } else {
        let end = s.find([';', ' ', '\t']).unwrap_or(s.len());
        let (tok, rest) = s.split_at(end);
        if tok.is_empty() || tok.contains('"') {
            return None;
        }
        Some((tok.to_string(), rest))
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.content_type())
    }
}

/// A top-level DAP message: one that is an HTTP message body, with its media type.
pub trait Message: Encode + Decode {
    /// The media type the body is sent with.
    const MEDIA_TYPE: MediaType;
}

macro_rules! message {
    ($($t:ident),*) => {$(
        impl Message for $t {
            const MEDIA_TYPE: MediaType = MediaType::$t;
        }
    )*};
}
message!(
    HpkeConfigList,
    UploadRequest,
    UploadErrors,
    AggregationJobInitReq,
    AggregationJobResp,
    AggregationJobContinueReq,
    AggregateShareReq,
    AggregateShare,
    CollectionJobReq,
    CollectionJobResp
);

/// A DAP problem type (§3.6): the `type` of a problem details document is
/// `urn:ietf:params:ppm:dap:error:` followed by the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProblemType {
    /// `invalidMessage`.
    InvalidMessage,
    /// `unrecognizedTask`.
    UnrecognizedTask,
    /// `unrecognizedAggregationJob`.
    UnrecognizedAggregationJob,
    /// `batchInvalid`.
    BatchInvalid,
    /// `invalidBatchSize`.
    InvalidBatchSize,
    /// `invalidAggregationParameter`.
    InvalidAggregationParameter,
    /// `batchMismatch`.
    BatchMismatch,
    /// `stepMismatch`.
    StepMismatch,
    /// `batchOverlap`.
    BatchOverlap,
    /// `unsupportedExtension`.
    UnsupportedExtension,
    /// `invalidExtension`.
    InvalidExtension,
}

/// The URN prefix of DAP problem types (§3.6, §9.3).
pub const PROBLEM_URN_PREFIX: &str = "urn:ietf:params:ppm:dap:error:";

impl ProblemType {
    /// Every problem type, in the order of §3.6.
    pub const ALL: [ProblemType; 11] = [
        ProblemType::InvalidMessage,
        ProblemType::UnrecognizedTask,
        ProblemType::UnrecognizedAggregationJob,
        ProblemType::BatchInvalid,
        ProblemType::InvalidBatchSize,
        ProblemType::InvalidAggregationParameter,
        ProblemType::BatchMismatch,
        ProblemType::StepMismatch,
        ProblemType::BatchOverlap,
        ProblemType::UnsupportedExtension,
        ProblemType::InvalidExtension,
    ];

    /// The token, e.g. `invalidMessage`.
    pub fn token(self) -> &'static str {
        match self {
            ProblemType::InvalidMessage => "invalidMessage",
            ProblemType::UnrecognizedTask => "unrecognizedTask",
            ProblemType::UnrecognizedAggregationJob => "unrecognizedAggregationJob",
            ProblemType::BatchInvalid => "batchInvalid",
            ProblemType::InvalidBatchSize => "invalidBatchSize",
            ProblemType::InvalidAggregationParameter => "invalidAggregationParameter",
            ProblemType::BatchMismatch => "batchMismatch",
            ProblemType::StepMismatch => "stepMismatch",
            ProblemType::BatchOverlap => "batchOverlap",
            ProblemType::UnsupportedExtension => "unsupportedExtension",
            ProblemType::InvalidExtension => "invalidExtension",
        }
    }

    /// The full `type` URN.
    pub fn urn(self) -> String {
        format!("{PROBLEM_URN_PREFIX}{}", self.token())
    }

    /// The problem type of a `type` URN.
    pub fn from_urn(urn: &str) -> Option<ProblemType> {
        let token = urn.strip_prefix(PROBLEM_URN_PREFIX)?;
        ProblemType::ALL.into_iter().find(|p| p.token() == token)
    }
}
