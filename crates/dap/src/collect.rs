//! The collection interaction: draft-ietf-ppm-dap-18 §4.6 "Collecting Results" (§4.6.1
//! collection jobs, §4.6.4 aggregate shares, §4.6.7 aggregate share encryption).
//!
//! In -18 the collection job response carries no partial batch selector (removed in -18,
//! #778), and both `AggregateShareReq` and `AggregateShareAad` embed the Collector's whole
//! `CollectionJobReq`.

use crate::codec::{Decode, DecodeError, Encode, Opaque16, Opaque32, Reader, Within as _};
use crate::extensions::CollectionJobExtensions;
use crate::task::{BatchMode, TaskConfiguration};
use crate::types::{Checksum, HpkeCiphertext, Interval, TaskId};

/// `Query` (§4.6.1): the Collector's query; `config` is laid out as the batch mode says
/// (§5.1.1, §5.2.1; typed views in [`crate::batch_mode`]).
///
/// ```text
/// struct {
///   BatchMode batch_mode;
///   opaque config<0..2^16-1>;
/// } Query;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Query {
    /// `batch_mode`.
    pub batch_mode: BatchMode,
    /// `config`.
    pub config: Opaque16,
}

impl Encode for Query {
    fn encode(&self, out: &mut Vec<u8>) {
        self.batch_mode.encode(out);
        self.config.encode(out);
    }
    fn encoded_len(&self) -> usize {
        1 + self.config.encoded_len()
    }
}

impl Decode for Query {
    const NAME: &'static str = "Query";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Query {
            batch_mode: BatchMode::decode_from(r).within("Query.batch_mode")?,
            config: Opaque16::read(r, "Query.config")?,
        })
    }
}

/// `CollectionJobReq` (§4.6.1), media type `collection-job-req`.
///
/// ```text
/// struct {
///   Query query;
///   opaque agg_param<0..2^32-1>;
///   CollectionJobExtension extensions<0..2^16-1>;
/// } CollectionJobReq;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CollectionJobReq {
    /// `query`.
    pub query: Query,
    /// `agg_param`: the VDAF aggregation parameter.
    pub agg_param: Opaque32,
    /// `extensions`.
    pub extensions: CollectionJobExtensions,
}

impl Encode for CollectionJobReq {
    fn encode(&self, out: &mut Vec<u8>) {
        self.query.encode(out);
        self.agg_param.encode(out);
        self.extensions.encode(out);
    }
    fn encoded_len(&self) -> usize {
        self.query.encoded_len() + self.agg_param.encoded_len() + self.extensions.encoded_len()
    }
}

impl Decode for CollectionJobReq {
    const NAME: &'static str = "CollectionJobReq";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(CollectionJobReq {
            query: Query::decode_from(r).within("CollectionJobReq.query")?,
            agg_param: Opaque32::read(r, "CollectionJobReq.agg_param")?,
            extensions: CollectionJobExtensions::read(r, "CollectionJobReq.extensions")?,
        })
    }
}

/// `CollectionJobResp` (§4.6.1), media type `collection-job-resp`: the finished collection
/// (called `Collection` in earlier drafts).
///
/// ```text
/// struct {
///   uint64 report_count;
///   Interval interval;
///   HpkeCiphertext leader_encrypted_agg_share;
///   HpkeCiphertext helper_encrypted_agg_share;
/// } CollectionJobResp;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[doc(alias = "Collection")]
pub struct CollectionJobResp {
    /// `report_count`.
    pub report_count: u64,
    /// `interval`: the smallest interval holding every report's timestamp.
    pub interval: Interval,
    /// `leader_encrypted_agg_share`.
    pub leader_encrypted_agg_share: HpkeCiphertext,
    /// `helper_encrypted_agg_share`.
    pub helper_encrypted_agg_share: HpkeCiphertext,
}

impl Encode for CollectionJobResp {
    fn encode(&self, out: &mut Vec<u8>) {
        self.report_count.encode(out);
        self.interval.encode(out);
        self.leader_encrypted_agg_share.encode(out);
        self.helper_encrypted_agg_share.encode(out);
    }
    fn encoded_len(&self) -> usize {
        8 + 16
            + self.leader_encrypted_agg_share.encoded_len()
            + self.helper_encrypted_agg_share.encoded_len()
    }
}

impl Decode for CollectionJobResp {
    const NAME: &'static str = "CollectionJobResp";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(CollectionJobResp {
            report_count: r.u64("CollectionJobResp.report_count")?,
            interval: Interval::decode_from(r).within("CollectionJobResp.interval")?,
            leader_encrypted_agg_share: HpkeCiphertext::decode_from(r)
                .within("CollectionJobResp.leader_encrypted_agg_share")?,
            helper_encrypted_agg_share: HpkeCiphertext::decode_from(r)
                .within("CollectionJobResp.helper_encrypted_agg_share")?,
        })
    }
}

/// `BatchSelector` (§4.6.4): the batch the Leader asks the Helper to aggregate; `config` is
/// laid out as the batch mode says (§5.1.2, §5.2.3; typed views in [`crate::batch_mode`]).
///
/// ```text
/// struct {
///   BatchMode batch_mode;
///   opaque config<0..2^16-1>;
/// } BatchSelector;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BatchSelector {
    /// `batch_mode`.
    pub batch_mode: BatchMode,
    /// `config`.
    pub config: Opaque16,
}

impl Encode for BatchSelector {
    fn encode(&self, out: &mut Vec<u8>) {
        self.batch_mode.encode(out);
        self.config.encode(out);
    }
    fn encoded_len(&self) -> usize {
        1 + self.config.encoded_len()
    }
}

impl Decode for BatchSelector {
    const NAME: &'static str = "BatchSelector";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(BatchSelector {
            batch_mode: BatchMode::decode_from(r).within("BatchSelector.batch_mode")?,
            config: Opaque16::read(r, "BatchSelector.config")?,
        })
    }
}

/// `AggregateShareReq` (§4.6.4), media type `aggregate-share-req`.
///
/// ```text
/// struct {
///   CollectionJobReq collection_job_req;
///   BatchSelector batch_selector;
///   uint64 report_count;
///   opaque checksum[32];
/// } AggregateShareReq;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AggregateShareReq {
    /// `collection_job_req`: the Collector's request, as received.
    pub collection_job_req: CollectionJobReq,
    /// `batch_selector`.
    pub batch_selector: BatchSelector,
    /// `report_count`.
    pub report_count: u64,
    /// `checksum`.
    pub checksum: Checksum,
}

impl Encode for AggregateShareReq {
    fn encode(&self, out: &mut Vec<u8>) {
        self.collection_job_req.encode(out);
        self.batch_selector.encode(out);
        self.report_count.encode(out);
        self.checksum.encode(out);
    }
    fn encoded_len(&self) -> usize {
        self.collection_job_req.encoded_len() + self.batch_selector.encoded_len() + 8 + 32
    }
}

impl Decode for AggregateShareReq {
    const NAME: &'static str = "AggregateShareReq";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(AggregateShareReq {
            collection_job_req: CollectionJobReq::decode_from(r)
                .within("AggregateShareReq.collection_job_req")?,
            batch_selector: BatchSelector::decode_from(r)
                .within("AggregateShareReq.batch_selector")?,
            report_count: r.u64("AggregateShareReq.report_count")?,
            checksum: Checksum::decode_from(r).within("AggregateShareReq.checksum")?,
        })
    }
}

/// `AggregateShare` (§4.6.4), media type `aggregate-share`: the Helper's encrypted share.
///
/// ```text
/// struct {
///   HpkeCiphertext encrypted_aggregate_share;
/// } AggregateShare;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AggregateShare {
    /// `encrypted_aggregate_share`.
    pub encrypted_aggregate_share: HpkeCiphertext,
}

impl Encode for AggregateShare {
    fn encode(&self, out: &mut Vec<u8>) {
        self.encrypted_aggregate_share.encode(out);
    }
    fn encoded_len(&self) -> usize {
        self.encrypted_aggregate_share.encoded_len()
    }
}

impl Decode for AggregateShare {
    const NAME: &'static str = "AggregateShare";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(AggregateShare {
            encrypted_aggregate_share: HpkeCiphertext::decode_from(r)
                .within("AggregateShare.encrypted_aggregate_share")?,
        })
    }
}

/// `AggregateShareAad` (§4.6.7): the HPKE associated data of an encrypted aggregate share.
///
/// ```text
/// struct {
///   TaskID task_id;
///   TaskConfiguration task_configuration;
///   CollectionJobReq collection_job_req;
/// } AggregateShareAad;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AggregateShareAad {
    /// `task_id`.
    pub task_id: TaskId,
    /// `task_configuration`.
    pub task_configuration: TaskConfiguration,
    /// `collection_job_req`.
    pub collection_job_req: CollectionJobReq,
}

impl Encode for AggregateShareAad {
    fn encode(&self, out: &mut Vec<u8>) {
        self.task_id.encode(out);
        self.task_configuration.encode(out);
        self.collection_job_req.encode(out);
    }
    fn encoded_len(&self) -> usize {
        32 + self.task_configuration.encoded_len() + self.collection_job_req.encoded_len()
    }
}

impl Decode for AggregateShareAad {
    const NAME: &'static str = "AggregateShareAad";
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(AggregateShareAad {
            task_id: TaskId::decode_from(r).within("AggregateShareAad.task_id")?,
            task_configuration: TaskConfiguration::decode_from(r)
                .within("AggregateShareAad.task_configuration")?,
            collection_job_req: CollectionJobReq::decode_from(r)
                .within("AggregateShareAad.collection_job_req")?,
        })
    }
}
