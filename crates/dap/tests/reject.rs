//! Rejections: truncation, trailing bytes, length prefixes past the end or outside the
//! declared range, items overrunning their vector, unknown codes where the layout depends on
//! them, and the semantic checks the draft leaves to the receiver.

mod common;

use common::*;
use detente_dap::*;

fn kind_of<T: Decode + std::fmt::Debug>(bytes: &[u8]) -> (DecodeErrorKind, &'static str, String) {
    let e = T::decode(bytes).unwrap_err();
    (e.kind().clone(), e.field(), e.path())
}

#[test]
fn truncated_report_names_the_field() {
    let bytes = report(1).get_encoded();
    let (kind, field, path) = kind_of::<Report>(&bytes[..10]);
    assert_eq!(
        kind,
        DecodeErrorKind::Truncated {
            needed: 16,
            available: 10
        }
    );
    assert_eq!(field, "ReportID");
    assert_eq!(
        path,
        "Report.report_metadata/ReportMetadata.report_id/ReportID"
    );

    // Cut inside the helper's payload.
    let (kind, field, path) = kind_of::<Report>(&bytes[..bytes.len() - 1]);
    assert_eq!(
        kind,
        DecodeErrorKind::LengthPastEnd {
            len: 4,
            available: 3
        }
    );
    assert_eq!(field, "HpkeCiphertext.payload");
    assert_eq!(
        path,
        "Report.helper_encrypted_input_share/HpkeCiphertext.payload"
    );
    let msg = Report::decode(&bytes[..bytes.len() - 1])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("helper_encrypted_input_share"), "{msg}");
}

#[test]
fn trailing_byte() {
    let mut bytes = collection_job_resp().get_encoded();
    bytes.push(0xff);
    let (kind, field, _) = kind_of::<CollectionJobResp>(&bytes);
    assert_eq!(kind, DecodeErrorKind::TrailingBytes { count: 1 });
    assert_eq!(field, "CollectionJobResp");
    // An UploadRequest's reports fill the message: a stray byte is a truncated Report.
    let mut up = report(1).get_encoded();
    up.push(0);
    let (kind, _, path) = kind_of::<UploadRequest>(&up);
    assert!(
        matches!(kind, DecodeErrorKind::Truncated { .. }),
        "{kind:?}"
    );
    assert!(path.starts_with("UploadRequest.reports/"), "{path}");
}

#[test]
fn length_prefix_past_the_end() {
    // enc claims 65535 bytes, 3 follow.
    let bytes = [1, 0xff, 0xff, 1, 2, 3];
    let (kind, field, _) = kind_of::<HpkeCiphertext>(&bytes);
    assert_eq!(
        kind,
        DecodeErrorKind::LengthPastEnd {
            len: 0xffff,
            available: 3
        }
    );
    assert_eq!(field, "HpkeCiphertext.enc");
    // payload claims 2^32-1 bytes.
    let bytes = [1, 0, 1, 0xee, 0xff, 0xff, 0xff, 0xff, 0];
    let (kind, field, _) = kind_of::<HpkeCiphertext>(&bytes);
    assert_eq!(
        kind,
        DecodeErrorKind::LengthPastEnd {
            len: 0xffff_ffff,
            available: 1
        }
    );
    assert_eq!(field, "HpkeCiphertext.payload");
    // public_share of a Report, 2^32-1.
    let mut r = metadata(1).get_encoded();
    r.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    let (kind, field, _) = kind_of::<Report>(&r);
    assert!(matches!(kind, DecodeErrorKind::LengthPastEnd { .. }));
    assert_eq!(field, "Report.public_share");
    // agg_param of an AggregationJobInitReq.
    let (kind, field, _) = kind_of::<AggregationJobInitReq>(&[0, 0x80, 0, 0, 0]);
    assert!(matches!(
        kind,
        DecodeErrorKind::LengthPastEnd {
            len: 0x8000_0000,
            ..
        }
    ));
    assert_eq!(field, "AggregationJobInitReq.agg_param");
}

#[test]
fn item_overruns_its_vector() {
    // public_extensions is 5 bytes, but its one extension needs 2 + 2 + 3.
    let mut b = vec![0x11; 16];
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&[0, 5, 0, 1, 0, 3, b'a', b'b', b'c']);
    let e = ReportMetadata::decode(&b).unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::LengthPastEnd {
            len: 3,
            available: 1
        }
    ));
    assert_eq!(e.field(), "Extension.extension_data");
    assert_eq!(
        e.path(),
        "ReportMetadata.public_extensions/Extension.extension_data"
    );
    // An extension list of one byte: the type itself is cut.
    let mut b = vec![0x11; 16];
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&[0, 1, 0]);
    let e = ReportMetadata::decode(&b).unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::Truncated {
            needed: 2,
            available: 1
        }
    ));
}

#[test]
fn length_below_the_declared_floor() {
    let floor = |len, min, max| DecodeErrorKind::LengthOutOfRange { len, min, max };
    // enc<1..2^16-1> empty.
    assert_eq!(
        kind_of::<HpkeCiphertext>(&[1, 0, 0, 0, 0, 0, 1, 9]).0,
        floor(0, 1, 0xffff)
    );
    // payload<1..2^32-1> empty.
    let (kind, field, _) = kind_of::<HpkeCiphertext>(&[1, 0, 1, 9, 0, 0, 0, 0]);
    assert_eq!(kind, floor(0, 1, 0xffff_ffff));
    assert_eq!(field, "HpkeCiphertext.payload");
    // HpkeConfigList<10..2^16-1> of 9 bytes (and of none).
    assert_eq!(
        kind_of::<HpkeConfigList>(&[0, 9, 0, 0, 0x20, 0, 1, 0, 1, 0, 1]).0,
        floor(9, 10, 0xffff)
    );
    assert_eq!(kind_of::<HpkeConfigList>(&[0, 0]).0, floor(0, 10, 0xffff));
    // HpkePublicKey<1..2^16-1> empty.
    let (kind, field, _) = kind_of::<HpkeConfig>(&[0, 0, 0x20, 0, 1, 0, 1, 0, 0]);
    assert_eq!(kind, floor(0, 1, 0xffff));
    assert_eq!(field, "HpkeConfig.public_key");
    // task_info<1..2^8-1> empty.
    let mut t = task_config().get_encoded();
    let n = t[0] as usize;
    t.drain(1..=n);
    t[0] = 0;
    let (kind, field, _) = kind_of::<TaskConfiguration>(&t);
    assert_eq!(kind, floor(0, 1, 0xff));
    assert_eq!(field, "TaskConfiguration.task_info");
    // Url<1..2^16-1> empty.
    let (kind, field, _) = kind_of::<TaskConfiguration>(&[1, b'x', 0, 0]);
    assert_eq!(kind, floor(0, 1, 0xffff));
    assert_eq!(field, "TaskConfiguration.leader_aggregator_endpoint");
    // VerifyResp continue payload<1..2^32-1> empty.
    let mut v = vec![7; 16];
    v.extend_from_slice(&[0, 0, 0, 0, 0]);
    let (kind, field, path) = kind_of::<AggregationJobResp>(&v);
    assert_eq!(kind, floor(0, 1, 0xffff_ffff));
    assert_eq!(field, "VerifyResp.payload");
    assert_eq!(path, "AggregationJobResp.verify_resps/VerifyResp.payload");
    // PlaintextInputShare payload empty.
    assert_eq!(
        kind_of::<PlaintextInputShare>(&[0, 0, 0, 0, 0, 0]).0,
        floor(0, 1, 0xffff_ffff)
    );
}

#[test]
fn unknown_verify_resp_type() {
    for code in [3u8, 0x80, 0xff] {
        let mut v = vec![7; 16];
        v.push(code);
        let (kind, field, path) = kind_of::<AggregationJobResp>(&v);
        assert_eq!(kind, DecodeErrorKind::UnknownCode { value: code.into() });
        assert_eq!(field, "VerifyResp.verify_resp_type");
        assert_eq!(
            path,
            "AggregationJobResp.verify_resps/VerifyResp.verify_resp_type"
        );
    }
}

#[test]
fn unknown_role() {
    for code in 4..=255u8 {
        assert_eq!(
            Role::decode(&[code]).unwrap_err().kind(),
            &DecodeErrorKind::UnknownCode { value: code.into() }
        );
    }
}

#[test]
fn registry_codes_outside_the_draft_are_kept() {
    // ReportError 200 in an UploadErrors, BatchMode 9 in a Query, extension type 0xffff.
    let mut b = vec![1; 16];
    b.push(200);
    let e = UploadErrors::decode(&b).unwrap();
    assert_eq!(e.status[0].error, ReportError(200));
    assert_eq!(e.status[0].error.name(), None);
    assert_eq!(
        ReportError::TASK_NOT_STARTED.name(),
        Some("task_not_started")
    );
    let q = Query::decode(&[9, 0, 1, 0xab]).unwrap();
    assert_eq!(q.batch_mode, BatchMode(9));
    assert_eq!(q.get_encoded(), [9, 0, 1, 0xab]);
    // ...but a typed view refuses what it cannot lay out.
    let e = q.typed().unwrap_err();
    assert_eq!(e.kind(), &DecodeErrorKind::UnknownCode { value: 9 });
    assert_eq!(e.field(), "Query.batch_mode");
    let e = Query::decode(&[0, 0, 0]).unwrap().typed().unwrap_err();
    assert_eq!(e.kind(), &DecodeErrorKind::UnknownCode { value: 0 });
    let e = BatchSelector::decode(&[3, 0, 0])
        .unwrap()
        .typed()
        .unwrap_err();
    assert_eq!(e.field(), "BatchSelector.batch_mode");
    let e = VdafConfig::parse(VdafType(0xffff_0000), &[]).unwrap_err();
    assert_eq!(e.field(), "TaskConfiguration.vdaf_type");
    assert_eq!(
        format!("{:?}", ReportError(4)),
        "ReportError::hpke_unknown_config_id(4)"
    );
    assert_eq!(format!("{:?}", BatchMode(77)), "BatchMode(77)");
}

#[test]
fn batch_mode_configs_must_be_exact() {
    // Leader-selected query config must be Empty.
    let e = Query::decode(&[2, 0, 1, 0]).unwrap().typed().unwrap_err();
    assert_eq!(e.kind(), &DecodeErrorKind::TrailingBytes { count: 1 });
    assert_eq!(e.path(), "Query.config/Empty");
    // Time-interval query config of 15 bytes.
    let mut b = vec![1, 0, 15];
    b.extend_from_slice(&[0; 15]);
    let e = Query::decode(&b).unwrap().typed().unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::Truncated {
            needed: 8,
            available: 7
        }
    ));
    assert!(e.path().starts_with("Query.config/"), "{}", e.path());
    // Leader-selected batch selector with a 33-byte config.
    let mut b = vec![2, 0, 33];
    b.extend_from_slice(&[0; 33]);
    let e = BatchSelector::decode(&b).unwrap().typed().unwrap_err();
    assert_eq!(e.kind(), &DecodeErrorKind::TrailingBytes { count: 1 });
    // VDAF configuration with a byte too many / too few.
    assert!(VdafConfig::parse(VdafType::PRIO3_COUNT, &[0]).is_err());
    assert!(VdafConfig::parse(VdafType::POPLAR1, &[0]).is_err());
    assert!(VdafConfig::parse(VdafType::PRIO3_SUM, &[0; 9]).is_err());
}

#[test]
fn leader_selected_batch_id_extension() {
    let mut req = agg_init_req();
    assert_eq!(req.leader_selected_batch_id().unwrap(), BatchId([0x1f; 32]));
    req.extensions = AggregationJobExtensions::default();
    assert_eq!(
        req.leader_selected_batch_id().unwrap_err().kind(),
        &DecodeErrorKind::Missing
    );
    req.extensions = AggregationJobExtensions::new(vec![AggregationJobExtension::new(
        AggregationJobExtensionType::LEADER_SELECTED_BATCH_ID,
        o16(&[1; 31]),
    )])
    .unwrap();
    assert!(matches!(
        req.leader_selected_batch_id().unwrap_err().kind(),
        DecodeErrorKind::Truncated { .. }
    ));
}

#[test]
fn task_interval_extension() {
    let mut t = task_config();
    t.extensions = TaskExtensions::default();
    assert_eq!(t.task_interval().unwrap(), None);
    t.extensions = TaskExtensions::new(vec![TaskExtension::new(
        TaskExtensionType::TASK_INTERVAL,
        o16(&[0; 17]),
    )])
    .unwrap();
    assert_eq!(
        t.task_interval().unwrap_err().kind(),
        &DecodeErrorKind::TrailingBytes { count: 1 }
    );
}

#[test]
fn extension_order_and_duplicates() {
    let ok = extensions(&[(1, b""), (2, b""), (0x100, b"")]);
    assert_eq!(ok.check_strictly_increasing(), Ok(()));
    let dup = extensions(&[(1, b""), (1, b"")]);
    assert_eq!(
        dup.check_strictly_increasing(),
        Err(ExtensionError::NotIncreasing { prev: 1, next: 1 })
    );
    let down = extensions(&[(5, b""), (3, b"")]);
    assert_eq!(
        down.check_strictly_increasing(),
        Err(ExtensionError::NotIncreasing { prev: 5, next: 3 })
    );
    // Decoding keeps them as sent, so the receiver can answer per the draft.
    let bytes = down.get_encoded();
    assert_eq!(Extensions::decode(&bytes).unwrap(), down);

    let public = extensions(&[(1, b""), (4, b""), (9, b"")]);
    let private = extensions(&[(2, b""), (9, b"")]);
    assert_eq!(
        check_report_extensions(&public, &private),
        Err(ExtensionError::PublicAndPrivate { code: 9 })
    );
    let private = extensions(&[(2, b""), (10, b"")]);
    assert_eq!(check_report_extensions(&public, &private), Ok(()));
    assert_eq!(
        check_report_extensions(&public, &down),
        Err(ExtensionError::NotIncreasing { prev: 5, next: 3 })
    );
    assert_eq!(public.unsupported(|c| c == 4), vec![1, 9]);
    assert_eq!(public.find(4).unwrap().extension_type, ExtensionType(4));

    let c = collection_job_req();
    assert_eq!(c.extensions.check_strictly_increasing(), Ok(()));
}

#[test]
fn constructors_refuse_out_of_range_lengths() {
    assert_eq!(
        NonEmpty16::new(vec![]),
        Err(LengthError {
            len: 0,
            min: 1,
            max: 0xffff
        })
    );
    assert!(NonEmpty16::new(vec![0; 0x10000]).is_err());
    assert!(Opaque16::new(vec![0; 0xffff]).is_ok());
    assert!(NonEmpty8::new(vec![0; 256]).is_err());
    assert!(NonEmpty32::new(vec![]).is_err());
    // 0x10000 bytes of extensions do not fit a <0..2^16-1> list.
    let big = Extension::new(ExtensionType(1), o16(&[0; 0xfffb]));
    assert_eq!(big.encoded_len(), 0xffff);
    assert!(Extensions::new(vec![big.clone()]).is_ok());
    let one = Extension::new(ExtensionType(2), o16(&[]));
    assert_eq!(
        Extensions::new(vec![big, one]),
        Err(LengthError {
            len: 0x10003,
            min: 0,
            max: 0xffff
        })
    );
    assert_eq!(ResourceId::new(vec![]), Err(PathError::EmptyId));
}

#[test]
fn decode_errors_display_the_path() {
    let e = HpkeCiphertext::decode(&[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "HpkeCiphertext.config_id/HpkeConfigId: truncated: needs 1 bytes, 0 left"
    );
    let e = AggregateShare::decode(&[1, 0, 1]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "AggregateShare.encrypted_aggregate_share/HpkeCiphertext.enc: \
         length prefix 1 runs past the end (0 bytes left)"
    );
}

#[test]
fn zero_length_items_do_not_loop() {
    // No draft vector holds zero-length items, but the generic List must not spin on one.
    let e = List::<Empty, 0, 0xff>::decode(&[1, 0]).unwrap_err();
    assert_eq!(e.kind(), &DecodeErrorKind::TrailingBytes { count: 1 });
    assert_eq!(List::<Empty, 0, 0xff>::decode(&[0]).unwrap().len(), 0);
}
