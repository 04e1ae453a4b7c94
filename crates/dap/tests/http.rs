//! Resource URLs (§3, Appendix A), media types (§9.1) and problem types (§3.6).

use detente_dap::*;

const TASK: [u8; 32] = [
    0xf0, 0x16, 0x34, 0x47, 0x36, 0x4c, 0xcf, 0x1b, 0xc0, 0xe3, 0xaf, 0xfc, 0xca, 0x68, 0x73, 0xc9,
    0xc3, 0x81, 0xf6, 0x4a, 0xcd, 0xf9, 0x02, 0x06, 0x62, 0xf8, 0x3f, 0x46, 0xc0, 0x72, 0x19, 0xe7,
];
const JOB: [u8; 16] = [
    0x95, 0xce, 0xda, 0x51, 0xe1, 0xa9, 0x75, 0x23, 0x68, 0xb0, 0xd9, 0x61, 0xf9, 0x46, 0x61, 0x28,
];

#[test]
fn draft_url_example() {
    // §3: the expansion of {helper}/tasks/{task-id}/aggregation_jobs/{aggregation-job-id}.
    let r = Resource::AggregationJob {
        task_id: TaskId(TASK),
        aggregation_job_id: ResourceId::new(JOB).unwrap(),
    };
    let want = "https://example.com/api/dap/tasks/8BY0RzZMzxvA46_8ymhzycOB9krN-QIGYvg_RsByGec/\
                aggregation_jobs/lc7aUeGpdSNosNlh-UZhKA";
    assert_eq!(r.url("https://example.com/api/dap"), want);
    assert_eq!(r.url("https://example.com/api/dap/"), want);
    assert_eq!(
        Resource::parse(want.strip_prefix("https://example.com/api/dap").unwrap()).unwrap(),
        r
    );
    assert_eq!(
        TaskId(TASK).to_string(),
        "8BY0RzZMzxvA46_8ymhzycOB9krN-QIGYvg_RsByGec"
    );
    assert_eq!(
        "8BY0RzZMzxvA46_8ymhzycOB9krN-QIGYvg_RsByGec"
            .parse::<TaskId>()
            .unwrap(),
        TaskId(TASK)
    );
    // §4.5.3.2's polling location.
    assert_eq!(
        aggregation_job_step_path(&TaskId(TASK), &ResourceId::new(JOB).unwrap(), 0),
        "/tasks/8BY0RzZMzxvA46_8ymhzycOB9krN-QIGYvg_RsByGec/aggregation_jobs/\
         lc7aUeGpdSNosNlh-UZhKA?step=0"
    );
}

#[test]
fn every_resource_path_round_trips() {
    let task_id = TaskId([7; 32]);
    let id = ResourceId::new(vec![1, 2, 3, 4, 5]).unwrap();
    let all = [
        (Resource::HpkeConfig, "/hpke_config".to_string()),
        (
            Resource::Reports { task_id },
            format!("/tasks/{task_id}/reports"),
        ),
        (
            Resource::AggregationJobs { task_id },
            format!("/tasks/{task_id}/aggregation_jobs"),
        ),
        (
            Resource::AggregationJob {
                task_id,
                aggregation_job_id: id.clone(),
            },
            format!("/tasks/{task_id}/aggregation_jobs/AQIDBAU"),
        ),
        (
            Resource::CollectionJobs { task_id },
            format!("/tasks/{task_id}/collection_jobs"),
        ),
        (
            Resource::CollectionJob {
                task_id,
                collection_job_id: id.clone(),
            },
            format!("/tasks/{task_id}/collection_jobs/AQIDBAU"),
        ),
        (
            Resource::AggregateShares { task_id },
            format!("/tasks/{task_id}/aggregate_shares"),
        ),
        (
            Resource::AggregateShare {
                task_id,
                aggregate_share_id: id,
            },
            format!("/tasks/{task_id}/aggregate_shares/AQIDBAU"),
        ),
    ];
    for (r, p) in all {
        assert_eq!(r.path(), p);
        assert_eq!(Resource::parse(&p).unwrap(), r);
    }
}

#[test]
fn bad_paths() {
    let t = TaskId([7; 32]).to_string();
    for p in [
        "",
        "hpke_config",
        "/hpke_config/",
        "/tasks",
        &format!("/tasks/{t}"),
        &format!("/tasks/{t}/unknown"),
        &format!("/tasks/{t}/reports/AQID"),
        &format!("/tasks/{t}/aggregation_jobs/AQID/x"),
        &format!("/tasks/{t}/aggregation_jobs/"),
        &format!("/tasks/{t}/aggregation_jobs/AQID?step=1"),
    ] {
        assert!(Resource::parse(p).is_err(), "{p:?}");
    }
    // Padding, the standard alphabet and non-zero trailing bits are refused.
    assert_eq!(
        Resource::parse(&format!("/tasks/{t}/collection_jobs/AQI=")),
        Err(PathError::Base64)
    );
    assert_eq!(
        Resource::parse(&format!("/tasks/{t}/collection_jobs/+/8")),
        Err(PathError::UnknownPath)
    );
    assert_eq!("AQJ".parse::<ResourceId>(), Err(PathError::Base64));
    assert_eq!("+w8".parse::<ResourceId>(), Err(PathError::Base64));
    assert_eq!(
        "_w8".parse::<ResourceId>().unwrap().as_bytes(),
        &[0xff, 0x0f]
    );
    assert_eq!("AQI".parse::<ResourceId>().unwrap().as_bytes(), &[1, 2]);
    assert_eq!(
        "AQI".parse::<TaskId>(),
        Err(PathError::IdLength {
            expected: 32,
            got: 2
        })
    );
    assert_eq!(
        ReportId::from_base64url("AAAAAAAAAAAAAAAAAAAAAA").unwrap(),
        ReportId([0; 16])
    );
}

#[test]
fn step_query() {
    assert_eq!(parse_step_query("step=0"), Ok(Some(0)));
    assert_eq!(parse_step_query("a=b&step=65535"), Ok(Some(65535)));
    assert_eq!(parse_step_query("a=b"), Ok(None));
    assert_eq!(parse_step_query(""), Ok(None));
    for bad in [
        "step=",
        "step",
        "step=65536",
        "step=-1",
        "step=01",
        "step=1&step=1",
        "step=+1",
    ] {
        assert_eq!(parse_step_query(bad), Err(PathError::Step), "{bad}");
    }
}

#[test]
fn media_types() {
    let expected = [
        "hpke-config-list",
        "upload-req",
        "upload-errors",
        "aggregation-job-init-req",
        "aggregation-job-resp",
        "aggregation-job-continue-req",
        "aggregate-share-req",
        "aggregate-share",
        "collection-job-req",
        "collection-job-resp",
    ];
    for (m, s) in MediaType::ALL.into_iter().zip(expected) {
        assert_eq!(m.message(), s);
        assert_eq!(m.content_type(), format!("application/ppm-dap;message={s}"));
        assert_eq!(MediaType::from_content_type(m.content_type()), Some(m));
        assert_eq!(MediaType::from_message(s), Some(m));
    }
    let ok = [
        (
            "Application/PPM-DAP; message=upload-req",
            MediaType::UploadRequest,
        ),
        (
            "application/ppm-dap;message=upload-req;version=18",
            MediaType::UploadRequest,
        ),
        (
            "application/ppm-dap ; version=09 ; MESSAGE=\"aggregate-share\"",
            MediaType::AggregateShare,
        ),
        (
            "application/ppm-dap;message=\"collection-job-resp\"",
            MediaType::CollectionJobResp,
        ),
    ];
    for (s, m) in ok {
        assert_eq!(MediaType::from_content_type(s), Some(m), "{s}");
    }
    for s in [
        "application/ppm-dap",
        "application/ppm-dap;",
        "application/octet-stream;message=upload-req",
        "application/ppm-dap;message=upload-req;message=upload-req",
        "application/ppm-dap;message=unknown",
        "application/ppm-dap;message",
        "application/ppm-dap;message =upload-req",
        "application/ppm-dap;message=\"upload-req",
        "application/ppm-dap;message=upload-req x",
    ] {
        assert_eq!(MediaType::from_content_type(s), None, "{s}");
    }
}

#[test]
fn problem_types() {
    assert_eq!(
        ProblemType::InvalidMessage.urn(),
        "urn:ietf:params:ppm:dap:error:invalidMessage"
    );
    for p in ProblemType::ALL {
        assert_eq!(ProblemType::from_urn(&p.urn()), Some(p));
    }
    assert_eq!(ProblemType::ALL.len(), 11);
    assert_eq!(
        ProblemType::from_urn("urn:ietf:params:ppm:dap:error:invalidExtension"),
        Some(ProblemType::InvalidExtension)
    );
    assert_eq!(
        ProblemType::from_urn("urn:ietf:params:ppm:dap:error:nope"),
        None
    );
    assert_eq!(ProblemType::from_urn("invalidMessage"), None);
}
