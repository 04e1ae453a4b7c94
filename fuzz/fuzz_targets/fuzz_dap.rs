//! DAP-18 wire types (detente-dap) on arbitrary bytes: every message and sub-structure is
//! decoded from the input; whatever decodes re-encodes to exactly the input, with
//! `encoded_len` equal to its length. Typed views, extension checks, resource paths, step
//! queries and media types never panic, and a path that parses prints back the same.
#![no_main]
use detente_dap::vdaf::VdafConfig;
use detente_dap::*;
use libfuzzer_sys::fuzz_target;

/// Decodes `data` as `T`; on success checks the round trip and returns the value.
fn rt<T: Encode + Decode>(data: &[u8]) -> Option<T> {
    let v = T::decode(data).ok()?;
    assert_eq!(v.encoded_len(), data.len(), "{}: encoded_len", T::NAME);
    assert_eq!(v.get_encoded(), data, "{}: re-encoding", T::NAME);
    Some(v)
}

fuzz_target!(|data: &[u8]| {
    // Top-level messages (the ten media types).
    let _ = rt::<HpkeConfigList>(data).map(|l| l.has_distinct_ids());
    if let Some(u) = rt::<UploadRequest>(data) {
        for r in &u.reports {
            let _ = r
                .report_metadata
                .public_extensions
                .check_strictly_increasing();
        }
    }
    let _ = rt::<UploadErrors>(data);
    if let Some(req) = rt::<AggregationJobInitReq>(data) {
        let _ = req.leader_selected_batch_id();
        let _ = req.extensions.check_strictly_increasing();
    }
    let _ = rt::<AggregationJobResp>(data);
    let _ = rt::<AggregationJobContinueReq>(data);
    if let Some(req) = rt::<AggregateShareReq>(data) {
        let q = req.collection_job_req.query.typed();
        let s = req.batch_selector.typed();
        if let (Ok(TypedQuery::TimeInterval(q)), Ok(TypedBatchSelector::TimeInterval(s))) = (q, s) {
            let _ = s.is_consistent_with(&q);
        }
    }
    let _ = rt::<AggregateShare>(data);
    if let Some(c) = rt::<CollectionJobReq>(data) {
        if let Ok(t) = c.query.typed() {
            assert_eq!(Query::from(t), c.query);
        }
    }
    let _ = rt::<CollectionJobResp>(data);

    // Structures inside messages, AADs and plaintexts.
    if let Some(t) = rt::<TaskConfiguration>(data) {
        let _ = t.task_interval();
        if let Ok(v) = t.vdaf() {
            assert_eq!(v.vdaf_type(), t.vdaf_type);
            assert_eq!(v.vdaf_configuration(), t.vdaf_configuration);
        }
    }
    let _ = rt::<InputShareAad>(data);
    let _ = rt::<AggregateShareAad>(data);
    if let Some(p) = rt::<PlaintextInputShare>(data) {
        let _ = check_report_extensions(&p.private_extensions, &p.private_extensions);
    }
    let _ = rt::<Report>(data);
    let _ = rt::<ReportMetadata>(data);
    let _ = rt::<ReportShare>(data);
    let _ = rt::<VerifyInit>(data);
    let _ = rt::<VerifyResp>(data);
    let _ = rt::<VerifyContinue>(data);
    let _ = rt::<HpkeConfig>(data);
    let _ = rt::<HpkeCiphertext>(data);
    if let Some(b) = rt::<BatchSelector>(data) {
        if let Ok(t) = b.typed() {
            assert_eq!(BatchSelector::from(t), b);
        }
    }
    let _ = rt::<Query>(data);
    let _ = rt::<Extensions>(data);
    let _ = rt::<TaskExtensions>(data);
    let _ = rt::<AggregationJobExtensions>(data);
    let _ = rt::<CollectionJobExtensions>(data);
    let _ = rt::<Interval>(data);
    let _ = rt::<Role>(data);
    let _ = rt::<TimeIntervalQueryConfig>(data);
    let _ = rt::<LeaderSelectedBatchSelectorConfig>(data);
    if let Some((code, rest)) = data.split_first() {
        if let Ok(v) = VdafConfig::parse(VdafType(u32::from(*code % 8)), rest) {
            assert_eq!(v.vdaf_configuration().as_slice(), rest);
        }
    }

    // HTTP names.
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(r) = Resource::parse(s) {
            assert_eq!(r.path(), s);
        }
        let _ = parse_step_query(s);
        if let Some(m) = MediaType::from_content_type(s) {
            assert_eq!(MediaType::from_message(m.message()), Some(m));
        }
        let _ = ProblemType::from_urn(s);
    }
});
