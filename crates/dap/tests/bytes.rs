//! Byte-exact encodings built by hand from the draft's layouts, field by field, compared with
//! `encode` and decoded back. Values come from the draft's examples where it gives them
//! (§4.1.1.1, §4.4.1.1, §4.4.2.3, §4.6.1.1, §4.6.4.1).

mod common;

use common::*;
use detente_dap::*;

/// A hand-written encoding.
#[derive(Default)]
struct B(Vec<u8>);

impl B {
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn raw(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(v);
        self
    }
    /// `opaque<..2^8-1>`
    fn v8(self, v: &[u8]) -> Self {
        self.u8(v.len() as u8).raw(v)
    }
    /// `opaque<..2^16-1>`
    fn v16(self, v: &[u8]) -> Self {
        self.u16(v.len() as u16).raw(v)
    }
    /// `opaque<..2^32-1>`
    fn v32(self, v: &[u8]) -> Self {
        self.u32(v.len() as u32).raw(v)
    }
    fn done(self) -> Vec<u8> {
        self.0
    }
}

fn check<T: Encode + Decode + PartialEq + std::fmt::Debug>(v: &T, expected: &[u8]) {
    assert_eq!(v.get_encoded(), expected, "{}", T::NAME);
    assert_eq!(&T::decode(expected).unwrap(), v, "{}", T::NAME);
}

/// `HpkeCiphertext`: config_id, enc<1..2^16-1>, payload<1..2^32-1>.
fn ct(b: B, id: u8, enc: &[u8], payload: &[u8]) -> B {
    b.u8(id).v16(enc).v32(payload)
}

const RID: [u8; 16] = [
    0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19,
];

#[test]
fn report_by_hand() {
    // §4.4.2.3's example values, with the elided bytes filled in.
    let report = Report {
        report_metadata: ReportMetadata {
            report_id: ReportId(RID),
            time: Time(17_419_860),
            public_extensions: extensions(&[(0x0001, &[0xaa, 0xbb]), (0x0102, &[])]),
        },
        public_share: o32(&[0x0a, 0x0b]),
        leader_encrypted_input_share: ciphertext(1, &[0x0f, 0x0e, 0x0d, 0x0c], &[0x0b, 0x0a]),
        helper_encrypted_input_share: ciphertext(2, &[0x0c, 0x0d, 0x0e], &[0x08, 0x00, 0x0a]),
    };
    let exts = B::default()
        .u16(0x0001)
        .v16(&[0xaa, 0xbb])
        .u16(0x0102)
        .v16(&[])
        .done();
    let mut expected = B::default()
        .raw(&RID) // report_id
        .u64(17_419_860) // time
        .v16(&exts) // public_extensions
        .v32(&[0x0a, 0x0b]); // public_share
    expected = ct(expected, 1, &[0x0f, 0x0e, 0x0d, 0x0c], &[0x0b, 0x0a]);
    expected = ct(expected, 2, &[0x0c, 0x0d, 0x0e], &[0x08, 0x00, 0x0a]);
    let expected = expected.done();
    assert_eq!(
        expected.len(),
        16 + 8 + 2 + 10 + 4 + 2 + (1 + 2 + 4 + 4 + 2) + (1 + 2 + 3 + 4 + 3)
    );
    check(&report, &expected);
    // Literal bytes of the start, in case the helper above is wrong in the same way.
    assert_eq!(
        &expected[16..40],
        &[
            0, 0, 0, 0, 0x01, 0x09, 0xce, 0x54, // time 17419860
            0x00, 0x0a, // public_extensions: 10 bytes
            0x00, 0x01, 0x00, 0x02, 0xaa, 0xbb, // type 1, 2 bytes
            0x01, 0x02, 0x00, 0x00, // type 0x0102, empty
            0x00, 0x00, 0x00, 0x02, // public_share: 2 bytes
        ]
    );
    // An UploadRequest is reports back to back, no prefix.
    let mut two = expected.clone();
    two.extend_from_slice(&expected);
    check(
        &UploadRequest {
            reports: vec![report.clone(), report],
        },
        &two,
    );
}

#[test]
fn hpke_config_list_example() {
    // §4.4.1.1, with the public keys cut to the bytes shown.
    let list = HpkeConfigList {
        configs: List::new(vec![
            HpkeConfig {
                id: HpkeConfigId(194),
                kem_id: HpkeKemId(0x0010),
                kdf_id: HpkeKdfId(0x0001),
                aead_id: HpkeAeadId(0x0001),
                public_key: ne16(&[0x01, 0x02, 0x03, 0x04]),
            },
            HpkeConfig {
                id: HpkeConfigId(17),
                kem_id: HpkeKemId(0x0020),
                kdf_id: HpkeKdfId(0x0001),
                aead_id: HpkeAeadId(0x0003),
                public_key: ne16(&[0x04, 0x03, 0x02, 0x01]),
            },
        ])
        .unwrap(),
    };
    let expected = [
        0x00, 0x1a, // 26 bytes: two configs of 13
        194, 0x00, 0x10, 0x00, 0x01, 0x00, 0x01, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04, //
        17, 0x00, 0x20, 0x00, 0x01, 0x00, 0x03, 0x00, 0x04, 0x04, 0x03, 0x02, 0x01,
    ];
    check(&list, &expected);
    assert!(list.has_distinct_ids());
    assert_eq!(
        list.get(HpkeConfigId(17)).unwrap().kem_id,
        HpkeKemId::X25519_HKDF_SHA256
    );
    assert_eq!(list.configs[0].kem_id, HpkeKemId::P256_HKDF_SHA256);
    assert_eq!(list.configs[1].aead_id, HpkeAeadId::CHACHA20_POLY1305);
}

#[test]
fn smallest_hpke_config_list_is_ten_bytes() {
    let one = HpkeConfigList {
        configs: List::new(vec![hpke_config(0, &[0x42])]).unwrap(),
    };
    let expected = [
        0x00, 0x0a, 0, 0x00, 0x20, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x42,
    ];
    check(&one, &expected);
    assert!(HpkeConfigList::decode(&[0x00, 0x00]).is_err());
    assert!(List::<HpkeConfig, 10, 0xffff>::new(vec![]).is_err());
}

#[test]
fn upload_errors_by_hand() {
    let errs = UploadErrors {
        status: vec![
            ReportUploadStatus {
                id: ReportId(RID),
                error: ReportError::REPORT_REPLAYED,
            },
            ReportUploadStatus {
                id: ReportId([0xff; 16]),
                error: ReportError::OUTDATED_CONFIG,
            },
        ],
    };
    let expected = B::default().raw(&RID).u8(2).raw(&[0xff; 16]).u8(11).done();
    check(&errs, &expected);
}

#[test]
fn plaintext_input_share_by_hand() {
    let p = PlaintextInputShare {
        private_extensions: extensions(&[(0x0007, b"tok")]),
        payload: ne32(b"share"),
    };
    let exts = B::default().u16(7).v16(b"tok").done();
    check(&p, &B::default().v16(&exts).v32(b"share").done());
}

fn task_config_bytes() -> Vec<u8> {
    let task_ext = B::default()
        .u16(1) // task_interval
        .v16(&B::default().u64(480_000).u64(24 * 365).done())
        .done();
    B::default()
        .v8(b"detente test task") // task_info<1..2^8-1>
        .v16(b"https://leader.example/dap")
        .v16(b"https://helper.example/dap/")
        .u64(3600) // time_precision
        .u64(100) // min_batch_size
        .u8(1) // batch_mode = time_interval
        .v16(&[]) // batch_config
        .u32(2) // vdaf_type = Prio3Sum
        .v16(&255u64.to_be_bytes()) // Prio3SumConfig
        .v16(&task_ext)
        .done()
}

#[test]
fn task_configuration_by_hand() {
    let t = task_config();
    check(&t, &task_config_bytes());
    assert_eq!(
        t.task_interval().unwrap(),
        Some(Interval::new(Time(480_000), Duration(24 * 365)))
    );
}

#[test]
fn input_share_aad_by_hand() {
    let aad = InputShareAad {
        task_id: task_id(),
        task_configuration: task_config(),
        report_metadata: ReportMetadata {
            report_id: ReportId(RID),
            time: Time(5),
            public_extensions: Extensions::default(),
        },
        public_share: o32(b"ps"),
    };
    let expected = B::default()
        .raw(&[0x5a; 32])
        .raw(&task_config_bytes())
        .raw(&RID)
        .u64(5)
        .v16(&[])
        .v32(b"ps")
        .done();
    check(&aad, &expected);
}

#[test]
fn aggregation_job_init_req_by_hand() {
    let req = AggregationJobInitReq {
        verification_key_id: 3,
        agg_param: o32(&[0x00, 0x01, 0x02, 0x04]),
        extensions: AggregationJobExtensions::new(vec![
            AggregationJobExtension::leader_selected_batch_id(BatchId([0x1f; 32])),
        ])
        .unwrap(),
        verify_inits: vec![VerifyInit {
            report_share: ReportShare {
                report_metadata: ReportMetadata {
                    report_id: ReportId(RID),
                    time: Time(17_419_860),
                    public_extensions: Extensions::default(),
                },
                public_share: o32(&[]),
                encrypted_input_share: ciphertext(2, &[0xee], &[0xdd, 0xcc]),
            },
            payload: ne32(b"msg"),
        }],
    };
    let ext = B::default().u16(1).v16(&[0x1f; 32]).done();
    let mut b = B::default()
        .u8(3) // verification_key_id
        .v32(&[0x00, 0x01, 0x02, 0x04]) // agg_param
        .v16(&ext) // extensions
        .raw(&RID)
        .u64(17_419_860)
        .v16(&[])
        .v32(&[]);
    b = ct(b, 2, &[0xee], &[0xdd, 0xcc]);
    let expected = b.v32(b"msg").done();
    check(&req, &expected);
    assert_eq!(req.leader_selected_batch_id().unwrap(), BatchId([0x1f; 32]));
}

#[test]
fn aggregation_job_resp_by_hand() {
    let expected = B::default()
        .raw(&[1; 16])
        .u8(0) // continue
        .v32(b"pong")
        .raw(&[2; 16])
        .u8(1) // finish: Empty
        .raw(&[3; 16])
        .u8(2) // reject
        .u8(2) // report_replayed
        .done();
    check(&agg_resp(), &expected);
}

#[test]
fn aggregation_job_continue_req_by_hand() {
    let expected = B::default()
        .u16(1)
        .raw(&[1; 16])
        .v32(b"again")
        .raw(&[4; 16])
        .v32(&[0])
        .done();
    check(&agg_continue_req(), &expected);
}

fn collection_job_req_bytes() -> Vec<u8> {
    let exts = B::default().u16(7).v16(b"x").u16(9).v16(b"").done();
    B::default()
        .u8(1) // query.batch_mode = time_interval
        .v16(&B::default().u64(1_659_540).u64(100).done()) // TimeIntervalQueryConfig
        .v32(&[0x00, 0x01]) // agg_param
        .v16(&exts)
        .done()
}

#[test]
fn collection_job_req_by_hand() {
    // §4.6.4.1's query (start 1659540, duration 100).
    check(&collection_job_req(), &collection_job_req_bytes());
    // §4.6.1.1's leader-selected request: empty config, empty extensions.
    let ls = CollectionJobReq {
        query: Query::leader_selected(),
        agg_param: o32(&[0x00, 0x01]),
        extensions: CollectionJobExtensions::default(),
    };
    check(&ls, &[0x02, 0x00, 0x00, 0, 0, 0, 2, 0x00, 0x01, 0x00, 0x00]);
}

#[test]
fn collection_job_resp_by_hand() {
    // §4.6.1.1: report_count 1000, interval {16595440, 1}.
    let mut b = B::default().u64(1000).u64(16_595_440).u64(1);
    b = ct(b, 7, &[1; 32], &[2; 64]);
    b = ct(b, 7, &[3; 32], &[4; 64]);
    check(&collection_job_resp(), &b.done());
}

#[test]
fn aggregate_share_req_by_hand() {
    // §4.6.4.1: selector {1659544, 10}, report_count 1000.
    let expected = B::default()
        .raw(&collection_job_req_bytes())
        .u8(1)
        .v16(&B::default().u64(1_659_544).u64(10).done())
        .u64(1000)
        .raw(&[0x0a; 32])
        .done();
    let req = agg_share_req();
    check(&req, &expected);
    let TypedBatchSelector::TimeInterval(sel) = req.batch_selector.typed().unwrap() else {
        panic!("time interval")
    };
    let TypedQuery::TimeInterval(q) = req.collection_job_req.query.typed().unwrap() else {
        panic!("time interval")
    };
    assert!(sel.is_consistent_with(&q));
}

#[test]
fn leader_selected_batch_selector_by_hand() {
    let s = BatchSelector::leader_selected(BatchId([0x33; 32]));
    let expected = B::default().u8(2).v16(&[0x33; 32]).done();
    check(&s, &expected);
}

#[test]
fn aggregate_share_and_aad_by_hand() {
    let share = AggregateShare {
        encrypted_aggregate_share: ciphertext(9, &[1, 2], &[3]),
    };
    check(&share, &ct(B::default(), 9, &[1, 2], &[3]).done());
    let aad = AggregateShareAad {
        task_id: task_id(),
        task_configuration: task_config(),
        collection_job_req: collection_job_req(),
    };
    let expected = B::default()
        .raw(&[0x5a; 32])
        .raw(&task_config_bytes())
        .raw(&collection_job_req_bytes())
        .done();
    check(&aad, &expected);
}

#[test]
fn vdaf_configuration_bytes() {
    use detente_dap::vdaf::*;
    let cases: [(VdafConfig, u32, Vec<u8>); 6] = [
        (VdafConfig::Prio3Count, 1, vec![]),
        (
            VdafConfig::Prio3Sum(Prio3SumConfig {
                max_measurement: 0x0102,
            }),
            2,
            B::default().u64(0x0102).done(),
        ),
        (
            VdafConfig::Prio3SumVec(Prio3SumVecConfig {
                length: 10,
                max_measurement: 255,
                chunk_length: 4,
            }),
            3,
            B::default().u32(10).u64(255).u32(4).done(),
        ),
        (
            VdafConfig::Prio3Histogram(Prio3HistogramConfig {
                length: 8,
                chunk_length: 3,
            }),
            4,
            B::default().u32(8).u32(3).done(),
        ),
        (
            VdafConfig::Prio3MultihotCountVec(Prio3MultihotCountVecConfig {
                length: 8,
                chunk_length: 3,
                max_weight: 2,
            }),
            5,
            B::default().u32(8).u32(3).u64(2).done(),
        ),
        (
            VdafConfig::Poplar1(Poplar1Config { bits: 64 }),
            6,
            B::default().u16(64).done(),
        ),
    ];
    for (c, code, bytes) in cases {
        assert_eq!(c.vdaf_type(), VdafType(code));
        assert_eq!(c.vdaf_configuration().as_slice(), bytes.as_slice());
        assert_eq!(VdafConfig::parse(VdafType(code), &bytes).unwrap(), c);
    }
}

#[test]
fn domain_separation_strings() {
    assert_eq!(
        labels::input_share_info(Role::Leader),
        b"dap-18 input share\x01\x02".to_vec()
    );
    assert_eq!(
        labels::input_share_info(Role::Helper),
        b"dap-18 input share\x01\x03".to_vec()
    );
    assert_eq!(
        labels::aggregate_share_info(Role::Helper),
        b"dap-18 aggregate share\x03\x00".to_vec()
    );
    assert_eq!(
        labels::aggregate_share_info(Role::Leader),
        b"dap-18 aggregate share\x02\x00".to_vec()
    );
    let mut ctx = b"dap-18".to_vec();
    ctx.extend_from_slice(&[0x5a; 32]);
    assert_eq!(labels::vdaf_application_context(&task_id()), ctx);
}

#[test]
fn time_examples() {
    // §4.1.1.1: precision 10 s; Time 123456789 is POSIX 1234567890; Duration 11 is 110 s; the
    // interval {123456789, 11} runs to POSIX 1234568000.
    let p = TimePrecision(10);
    assert_eq!(Time(123_456_789).to_posix_seconds(p), Some(1_234_567_890));
    assert_eq!(
        Time::from_posix_seconds(1_234_567_890, p),
        Some(Time(123_456_789))
    );
    assert_eq!(
        Time::from_posix_seconds(1_234_567_899, p),
        Some(Time(123_456_789))
    );
    assert_eq!(Duration(11).to_seconds(p), Some(110));
    let i = Interval::new(Time(123_456_789), Duration(11));
    assert_eq!(i.end().unwrap().to_posix_seconds(p), Some(1_234_568_000));
    assert!(i.contains(Time(123_456_789)));
    assert!(i.contains(Time(123_456_799)));
    assert!(!i.contains(Time(123_456_800)));
    assert!(!i.contains(Time(123_456_788)));
    assert_eq!(Time::from_posix_seconds(5, TimePrecision(0)), None);
    // §5.1.3: precision 1000 s, report at 1729629081 → bucket {1729629, 1}.
    assert_eq!(
        Time::from_posix_seconds(1_729_629_081, TimePrecision(1000)),
        Some(Time(1_729_629))
    );
    assert_eq!(
        Interval::new(Time(10), Duration(5)).get_encoded(),
        [0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 5]
    );
}
