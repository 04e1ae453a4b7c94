//! Sample values of every message type, shared by the test files.
#![allow(dead_code)]

use detente_dap::*;

pub fn ne16(b: &[u8]) -> NonEmpty16 {
    NonEmpty16::new(b).unwrap()
}
pub fn ne32(b: &[u8]) -> NonEmpty32 {
    NonEmpty32::new(b).unwrap()
}
pub fn o16(b: &[u8]) -> Opaque16 {
    Opaque16::new(b).unwrap()
}
pub fn o32(b: &[u8]) -> Opaque32 {
    Opaque32::new(b).unwrap()
}

pub fn ciphertext(id: u8, enc: &[u8], payload: &[u8]) -> HpkeCiphertext {
    HpkeCiphertext {
        config_id: HpkeConfigId(id),
        enc: ne16(enc),
        payload: ne32(payload),
    }
}

pub fn extensions(list: &[(u16, &[u8])]) -> Extensions {
    Extensions::new(
        list.iter()
            .map(|(t, d)| Extension::new(ExtensionType(*t), o16(d)))
            .collect(),
    )
    .unwrap()
}

pub fn metadata(id: u8) -> ReportMetadata {
    ReportMetadata {
        report_id: ReportId([id; 16]),
        time: Time(1_741_986_000 + u64::from(id)),
        public_extensions: extensions(&[(1, b"pub"), (0xfffe, b"")]),
    }
}

pub fn report(id: u8) -> Report {
    Report {
        report_metadata: metadata(id),
        public_share: o32(&[0x0a, 0x0b, id]),
        leader_encrypted_input_share: ciphertext(1, &[0x0f, 0x0e], &[0x0b, 0x0a, 0x09]),
        helper_encrypted_input_share: ciphertext(2, &[0x0c, 0x0d], &[0x08, 0x00, 0x0a, 0x0b]),
    }
}

pub fn hpke_config(id: u8, key: &[u8]) -> HpkeConfig {
    HpkeConfig {
        id: HpkeConfigId(id),
        kem_id: HpkeKemId::X25519_HKDF_SHA256,
        kdf_id: HpkeKdfId::HKDF_SHA256,
        aead_id: HpkeAeadId::AES_128_GCM,
        public_key: ne16(key),
    }
}

pub fn hpke_config_list() -> HpkeConfigList {
    HpkeConfigList {
        configs: List::new(vec![
            hpke_config(194, &[1, 2, 3, 4]),
            hpke_config(17, &[4, 3]),
        ])
        .unwrap(),
    }
}

pub fn task_config() -> TaskConfiguration {
    TaskConfiguration {
        task_info: NonEmpty8::new(b"detente test task").unwrap(),
        leader_aggregator_endpoint: ne16(b"https://leader.example/dap"),
        helper_aggregator_endpoint: ne16(b"https://helper.example/dap/"),
        time_precision: TimePrecision(3600),
        min_batch_size: 100,
        batch_mode: BatchMode::TIME_INTERVAL,
        batch_config: Opaque16::default(),
        vdaf_type: VdafType::PRIO3_SUM,
        vdaf_configuration: VdafConfig::Prio3Sum(vdaf::Prio3SumConfig {
            max_measurement: 255,
        })
        .vdaf_configuration(),
        extensions: TaskExtensions::new(vec![TaskExtension::task_interval(Interval::new(
            Time(480_000),
            Duration(24 * 365),
        ))])
        .unwrap(),
    }
}

pub fn task_id() -> TaskId {
    TaskId([0x5a; 32])
}

pub fn report_share(id: u8) -> ReportShare {
    ReportShare {
        report_metadata: metadata(id),
        public_share: o32(&[]),
        encrypted_input_share: ciphertext(2, &[9; 32], &[8; 40]),
    }
}

pub fn agg_init_req() -> AggregationJobInitReq {
    AggregationJobInitReq {
        verification_key_id: 3,
        agg_param: o32(&[0x00, 0x01, 0x02, 0x04]),
        extensions: AggregationJobExtensions::new(vec![
            AggregationJobExtension::leader_selected_batch_id(BatchId([0x1f; 32])),
        ])
        .unwrap(),
        verify_inits: vec![
            VerifyInit {
                report_share: report_share(1),
                payload: ne32(b"ping"),
            },
            VerifyInit {
                report_share: report_share(2),
                payload: ne32(b"ping2"),
            },
        ],
    }
}

pub fn agg_resp() -> AggregationJobResp {
    AggregationJobResp {
        verify_resps: vec![
            VerifyResp {
                report_id: ReportId([1; 16]),
                result: VerifyResult::Continue {
                    payload: ne32(b"pong"),
                },
            },
            VerifyResp {
                report_id: ReportId([2; 16]),
                result: VerifyResult::Finish,
            },
            VerifyResp {
                report_id: ReportId([3; 16]),
                result: VerifyResult::Reject {
                    report_error: ReportError::REPORT_REPLAYED,
                },
            },
        ],
    }
}

pub fn agg_continue_req() -> AggregationJobContinueReq {
    AggregationJobContinueReq {
        step: 1,
        verify_continues: vec![
            VerifyContinue {
                report_id: ReportId([1; 16]),
                payload: ne32(b"again"),
            },
            VerifyContinue {
                report_id: ReportId([4; 16]),
                payload: ne32(&[0]),
            },
        ],
    }
}

pub fn collection_job_req() -> CollectionJobReq {
    CollectionJobReq {
        query: Query::time_interval(Interval::new(Time(1_659_540), Duration(100))),
        agg_param: o32(&[0x00, 0x01]),
        extensions: CollectionJobExtensions::new(vec![
            CollectionJobExtension::new(CollectionJobExtensionType(7), o16(b"x")),
            CollectionJobExtension::new(CollectionJobExtensionType(9), o16(b"")),
        ])
        .unwrap(),
    }
}

pub fn collection_job_resp() -> CollectionJobResp {
    CollectionJobResp {
        report_count: 1000,
        interval: Interval::new(Time(16_595_440), Duration(1)),
        leader_encrypted_agg_share: ciphertext(7, &[1; 32], &[2; 64]),
        helper_encrypted_agg_share: ciphertext(7, &[3; 32], &[4; 64]),
    }
}

pub fn agg_share_req() -> AggregateShareReq {
    AggregateShareReq {
        collection_job_req: collection_job_req(),
        batch_selector: BatchSelector::time_interval(Interval::new(Time(1_659_544), Duration(10))),
        report_count: 1000,
        checksum: Checksum([0x0a; 32]),
    }
}
