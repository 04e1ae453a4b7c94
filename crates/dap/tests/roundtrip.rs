//! Every type: encode → decode gives the value back, `encoded_len` is exact, re-encoding
//! gives the same bytes, every strict prefix fails (or, for messages that end in a vector
//! sized by the HTTP message, decodes to something that re-encodes to exactly that prefix),
//! and a trailing byte is refused.

mod common;

use std::fmt::Debug;

use common::*;
use detente_dap::*;

/// Prefix lengths to try: all of them for small encodings, a sample (including the last 64)
/// for large ones.
fn prefixes(len: usize) -> impl Iterator<Item = usize> {
    (0..len).filter(move |n| len <= 4096 || n % 997 == 0 || *n + 64 >= len)
}

/// For types with a definite end.
fn rt<T: Encode + Decode + PartialEq + Debug>(v: &T) -> Vec<u8> {
    let bytes = v.get_encoded();
    assert_eq!(bytes.len(), v.encoded_len(), "{}: encoded_len", T::NAME);
    let back = T::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", T::NAME));
    assert_eq!(&back, v, "{}", T::NAME);
    assert_eq!(back.get_encoded(), bytes);
    for n in prefixes(bytes.len()) {
        assert!(
            T::decode(&bytes[..n]).is_err(),
            "{}: prefix of {n}/{} bytes decoded",
            T::NAME,
            bytes.len()
        );
    }
    let mut long = bytes.clone();
    long.push(0);
    let err = T::decode(&long).unwrap_err();
    assert_eq!(
        err.kind(),
        &DecodeErrorKind::TrailingBytes { count: 1 },
        "{}: {err}",
        T::NAME
    );
    bytes
}

/// For messages whose last field is `T items[message_length]`.
fn rt_open<T: Encode + Decode + PartialEq + Debug>(v: &T) -> Vec<u8> {
    let bytes = v.get_encoded();
    assert_eq!(bytes.len(), v.encoded_len(), "{}: encoded_len", T::NAME);
    let back = T::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", T::NAME));
    assert_eq!(&back, v, "{}", T::NAME);
    for n in prefixes(bytes.len()) {
        if let Ok(p) = T::decode(&bytes[..n]) {
            assert_eq!(p.get_encoded(), &bytes[..n], "{}: prefix {n}", T::NAME);
        }
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(T::decode(&long).is_err(), "{}: trailing byte", T::NAME);
    bytes
}

#[test]
fn basic_types() {
    rt(&ReportId([3; 16]));
    rt(&TaskId([4; 32]));
    rt(&BatchId([5; 32]));
    rt(&Checksum([6; 32]));
    for role in [Role::Collector, Role::Client, Role::Leader, Role::Helper] {
        rt(&role);
    }
    rt(&HpkeConfigId(9));
    rt(&ciphertext(1, &[1], &[2]));
    rt(&ciphertext(255, &[1; 300], &[2; 70_000]));
    for code in 0..=255u8 {
        rt(&ReportError(code));
    }
    rt(&TimePrecision(3600));
    rt(&Time(u64::MAX));
    rt(&Duration(0));
    rt(&Interval::new(Time(123_456_789), Duration(11)));
    // Empty has no bytes: only the trailing check applies.
    assert_eq!(Empty.get_encoded(), Vec::<u8>::new());
    assert_eq!(Empty::decode(&[]).unwrap(), Empty);
    assert!(Empty::decode(&[0]).is_err());
}

#[test]
fn task_types() {
    rt(&task_config());
    let mut t = task_config();
    t.batch_mode = BatchMode(200);
    t.vdaf_type = VdafType(0xffff_0001);
    t.batch_config = o16(b"future");
    t.extensions = TaskExtensions::default();
    rt(&t);
    rt(&TaskExtension::task_interval(Interval::new(
        Time(1),
        Duration(2),
    )));
    rt(&TaskIntervalTaskExtension {
        task_interval: Interval::new(Time(1), Duration(2)),
    });
    rt(&BatchMode::LEADER_SELECTED);
    rt(&VdafType::POPLAR1);
}

#[test]
fn upload_types() {
    rt(&hpke_config(1, &[0xaa]));
    rt(&hpke_config_list());
    rt(&metadata(1));
    rt(&ReportMetadata {
        public_extensions: Extensions::default(),
        ..metadata(2)
    });
    rt(&report(1));
    rt(&Extension::new(ExtensionType(0), o16(b"")));
    rt(&PlaintextInputShare {
        private_extensions: extensions(&[(5, b"secret")]),
        payload: ne32(b"input share"),
    });
    rt(&InputShareAad {
        task_id: task_id(),
        task_configuration: task_config(),
        report_metadata: metadata(3),
        public_share: o32(b"ps"),
    });
    rt(&ReportUploadStatus {
        id: ReportId([1; 16]),
        error: ReportError::OUTDATED_CONFIG,
    });
    rt_open(&UploadRequest {
        reports: vec![report(1), report(2), report(3)],
    });
    rt_open(&UploadRequest::default());
    rt_open(&UploadErrors {
        status: vec![
            ReportUploadStatus {
                id: ReportId([1; 16]),
                error: ReportError::REPORT_REPLAYED,
            },
            ReportUploadStatus {
                id: ReportId([2; 16]),
                error: ReportError(200),
            },
        ],
    });
}

#[test]
fn aggregation_types() {
    rt(&report_share(1));
    rt(&VerifyInit {
        report_share: report_share(1),
        payload: ne32(b"p"),
    });
    for r in agg_resp().verify_resps {
        rt(&r);
    }
    rt(&VerifyContinue {
        report_id: ReportId([1; 16]),
        payload: ne32(b"c"),
    });
    rt(&AggregationJobExtension::leader_selected_batch_id(BatchId(
        [1; 32],
    )));
    rt_open(&agg_init_req());
    rt_open(&AggregationJobInitReq {
        verification_key_id: 0,
        agg_param: Opaque32::default(),
        extensions: AggregationJobExtensions::default(),
        verify_inits: vec![],
    });
    rt_open(&agg_resp());
    rt_open(&AggregationJobResp::default());
    rt_open(&agg_continue_req());
    rt_open(&AggregationJobContinueReq {
        step: 0,
        verify_continues: vec![],
    });
}

#[test]
fn collection_types() {
    rt(&Query::leader_selected());
    rt(&Query::time_interval(Interval::new(Time(1), Duration(1))));
    rt(&Query {
        batch_mode: BatchMode(99),
        config: o16(b"unknown mode"),
    });
    rt(&collection_job_req());
    rt(&CollectionJobExtension::new(
        CollectionJobExtensionType(0),
        o16(b"z"),
    ));
    rt(&collection_job_resp());
    rt(&BatchSelector::leader_selected(BatchId([2; 32])));
    rt(&BatchSelector::time_interval(Interval::new(
        Time(5),
        Duration(6),
    )));
    rt(&agg_share_req());
    rt(&AggregateShare {
        encrypted_aggregate_share: ciphertext(3, &[1], &[2, 3]),
    });
    rt(&AggregateShareAad {
        task_id: task_id(),
        task_configuration: task_config(),
        collection_job_req: collection_job_req(),
    });
}

#[test]
fn batch_mode_configs() {
    let i = Interval::new(Time(10), Duration(20));
    rt(&TimeIntervalQueryConfig { batch_interval: i });
    rt(&TimeIntervalBatchSelectorConfig { batch_interval: i });
    rt(&LeaderSelectedBatchSelectorConfig {
        batch_id: BatchId([8; 32]),
    });
    assert_eq!(
        Query::time_interval(i).typed().unwrap(),
        TypedQuery::TimeInterval(TimeIntervalQueryConfig { batch_interval: i })
    );
    assert_eq!(
        Query::leader_selected().typed().unwrap(),
        TypedQuery::LeaderSelected
    );
    assert_eq!(
        BatchSelector::leader_selected(BatchId([8; 32]))
            .typed()
            .unwrap(),
        TypedBatchSelector::LeaderSelected(LeaderSelectedBatchSelectorConfig {
            batch_id: BatchId([8; 32])
        })
    );
    assert_eq!(
        BatchSelector::time_interval(i).typed().unwrap(),
        TypedBatchSelector::TimeInterval(TimeIntervalBatchSelectorConfig { batch_interval: i })
    );
}

#[test]
fn vdaf_configs() {
    use detente_dap::vdaf::*;
    rt(&Prio3SumConfig { max_measurement: 7 });
    rt(&Prio3SumVecConfig {
        length: 1,
        max_measurement: 2,
        chunk_length: 3,
    });
    rt(&Prio3HistogramConfig {
        length: 4,
        chunk_length: 5,
    });
    rt(&Prio3MultihotCountVecConfig {
        length: 6,
        chunk_length: 7,
        max_weight: 8,
    });
    rt(&Poplar1Config { bits: 256 });
    for c in [
        VdafConfig::Prio3Count,
        VdafConfig::Prio3Sum(Prio3SumConfig { max_measurement: 1 }),
        VdafConfig::Prio3SumVec(Prio3SumVecConfig {
            length: 1,
            max_measurement: 2,
            chunk_length: 3,
        }),
        VdafConfig::Prio3Histogram(Prio3HistogramConfig {
            length: 4,
            chunk_length: 5,
        }),
        VdafConfig::Prio3MultihotCountVec(Prio3MultihotCountVecConfig {
            length: 6,
            chunk_length: 7,
            max_weight: 8,
        }),
        VdafConfig::Poplar1(Poplar1Config { bits: 9 }),
    ] {
        let bytes = c.vdaf_configuration();
        assert_eq!(
            VdafConfig::parse(c.vdaf_type(), bytes.as_slice()).unwrap(),
            c
        );
    }
    assert_eq!(
        task_config().vdaf().unwrap().vdaf_type(),
        VdafType::PRIO3_SUM
    );
}

#[test]
fn every_message_has_its_media_type() {
    fn mt<M: Message>() -> MediaType {
        M::MEDIA_TYPE
    }
    let all = [
        mt::<HpkeConfigList>(),
        mt::<UploadRequest>(),
        mt::<UploadErrors>(),
        mt::<AggregationJobInitReq>(),
        mt::<AggregationJobResp>(),
        mt::<AggregationJobContinueReq>(),
        mt::<AggregateShareReq>(),
        mt::<AggregateShare>(),
        mt::<CollectionJobReq>(),
        mt::<CollectionJobResp>(),
    ];
    assert_eq!(all, MediaType::ALL);
}
