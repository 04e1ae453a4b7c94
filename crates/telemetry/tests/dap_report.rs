//! A DAP-18 report for the families vector: its bytes read back field by field against the
//! draft's layout (§4.4.2), its size for a 1,024-entry vector, and both aggregators opening
//! their shares with the draft's HPKE framing and verifying it jointly.

use detente_dap::{
    labels, vdaf::Prio3MultihotCountVecConfig, BatchMode, Decode as _, Encode as _, InputShareAad,
    NonEmpty16, NonEmpty8, Opaque16, PlaintextInputShare, Role, TaskConfiguration, TaskId, Time,
    TimePrecision, UploadRequest, VdafConfig,
};
use detente_telemetry::aggregate::Families;
use detente_telemetry::report::{build, Recipient};
use detente_telemetry::shard::{Value, Vdaf};
use hpke::{Deserializable as _, Kem as _, Serializable as _};

type Kem = hpke::kem::X25519HkdfSha256;
type Kdf = hpke::kdf::HkdfSha256;
type Aead = hpke::aead::AesGcm128;

const LEN: usize = 1024;
const WEIGHT: usize = 16;
const CHUNK: usize = 32;

fn task() -> TaskConfiguration {
    let vdaf = VdafConfig::Prio3MultihotCountVec(Prio3MultihotCountVecConfig {
        length: LEN as u32,
        chunk_length: CHUNK as u32,
        max_weight: WEIGHT as u64,
    });
    TaskConfiguration {
        task_info: NonEmpty8::new(b"detente families".to_vec()).unwrap(),
        leader_aggregator_endpoint: NonEmpty16::new(b"https://leader.example/".to_vec()).unwrap(),
        helper_aggregator_endpoint: NonEmpty16::new(b"https://helper.example/".to_vec()).unwrap(),
        time_precision: TimePrecision(86_400),
        min_batch_size: 100,
        batch_mode: BatchMode::TIME_INTERVAL,
        batch_config: Opaque16::default(),
        vdaf_type: vdaf.vdaf_type(),
        vdaf_configuration: vdaf.vdaf_configuration(),
        extensions: Default::default(),
    }
}

struct Field<'a>(&'a [u8]);
impl<'a> Field<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
    fn uint(&mut self, n: usize) -> usize {
        self.take(n).iter().fold(0, |a, b| a << 8 | *b as usize)
    }
}

#[test]
fn a_report_matches_the_draft_layout_is_small_and_verifies() {
    let task = task();
    let task_id = TaskId([0x5a; 32]);
    let (sk_l, pk_l) = Kem::derive_keypair(&[1; 32]);
    let (sk_h, pk_h) = Kem::derive_keypair(&[2; 32]);
    let leader = Recipient {
        config_id: 7,
        public_key: pk_l.to_bytes().into(),
    };
    let helper = Recipient {
        config_id: 9,
        public_key: pk_h.to_bytes().into(),
    };
    let mut bits = vec![false; LEN];
    for i in [3, 77, 500, 1023] {
        bits[i] = true;
    }
    let vdaf = Vdaf::MultihotCountVec {
        length: LEN,
        max_weight: WEIGHT,
        chunk_length: CHUNK,
    };
    let time = Time(1_764_547_200 / 86_400);
    let report = build(
        task_id,
        &task,
        time,
        vdaf,
        &Value::Bits(bits.clone()),
        [4; 32],
        leader,
        helper,
    )
    .unwrap();
    let body = UploadRequest {
        reports: vec![report.clone()],
    }
    .get_encoded();
    eprintln!("one report, 1,024 families: {} bytes", body.len());
    assert!(body.len() < 20 * 1024, "a report is {} bytes", body.len());

    // §4.4.2, field by field.
    let mut f = Field(&body);
    assert_eq!(f.take(16), report.report_metadata.report_id.0, "report_id");
    assert_eq!(f.uint(8) as u64, time.0, "time");
    assert_eq!(f.uint(2), 0, "public_extensions: empty");
    let ps_len = f.uint(4);
    let public_share = f.take(ps_len).to_vec();
    let mut cts = Vec::new();
    for (who, id) in [("leader", 7), ("helper", 9)] {
        assert_eq!(f.uint(1), id, "{who} config_id");
        let enc_len = f.uint(2);
        assert_eq!(enc_len, 32, "{who} enc is an X25519 key");
        let enc = f.take(enc_len).to_vec();
        let p_len = f.uint(4);
        cts.push((enc, f.take(p_len).to_vec()));
    }
    assert!(f.0.is_empty(), "nothing after the report");

    // Each aggregator opens its share with the draft's info and AAD, and decodes it.
    let aad = InputShareAad {
        task_id,
        task_configuration: task.clone(),
        report_metadata: report.report_metadata.clone(),
        public_share: report.public_share.clone(),
    }
    .get_encoded();
    let mut inputs = Vec::new();
    for (i, (sk, role)) in [(&sk_l, Role::Leader), (&sk_h, Role::Helper)]
        .into_iter()
        .enumerate()
    {
        let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&cts[i].0).unwrap();
        let pt = hpke::single_shot_open::<Aead, Kdf, Kem>(
            &hpke::OpModeR::Base,
            sk,
            &enc,
            &labels::input_share_info(role),
            &cts[i].1,
            &aad,
        )
        .unwrap();
        let share = PlaintextInputShare::decode(&pt).unwrap();
        inputs.push(share.payload.as_ref().to_vec());
    }
    // Joint verification, then the collector's result is the measurement.
    let fam = Families::new(LEN, WEIGHT, CHUNK).unwrap();
    let ctx = labels::vdaf_application_context(&task_id);
    let rid = report.report_metadata.report_id.0;
    let (s0, v0) = fam
        .verify_init(&[8; 32], &ctx, 0, &rid, &public_share, &inputs[0])
        .unwrap();
    let (s1, v1) = fam
        .verify_init(&[8; 32], &ctx, 1, &rid, &public_share, &inputs[1])
        .unwrap();
    let msg = fam.message(&ctx, &s0, [&v0, &v1]).unwrap();
    let (mut a0, mut a1) = (fam.empty(), fam.empty());
    fam.accumulate(&mut a0, &fam.finish(&ctx, s0, &msg).unwrap())
        .unwrap();
    fam.accumulate(&mut a1, &fam.finish(&ctx, s1, &msg).unwrap())
        .unwrap();
    let got = fam.unshard([a0, a1], 1).unwrap();
    let want: Vec<u128> = bits.iter().map(|b| u128::from(*b)).collect();
    assert_eq!(got, want);
}

/// The outbox keeps what is needed to rebuild every byte sent: a record verifies, and a
/// record whose sent bytes or measurement were swapped (even re-chained) does not.
#[test]
fn the_outbox_rebuilds_exactly_the_bytes_sent() {
    use detente_telemetry::measure::{measure, Observed, Policy};
    use detente_telemetry::outbox::{record, GENESIS};
    use detente_telemetry::record::{make, verify, Upload};
    let names: Vec<String> = (0..LEN).map(|i| format!("\"Fam.{i}\"")).collect();
    let policy = Policy::parse(
        format!(
            r#"{{"version":1,"task":"t","families":[{}],"max_weight":{WEIGHT},"rules":{{"families-detected":true}}}}"#,
            names.join(",")
        )
        .as_bytes(),
    )
    .unwrap();
    let seen = Observed {
        detections: vec!["Fam.3-1".into(), "Fam.900-2".into(), "Other.X-1".into()],
        scanned: 10,
    };
    let m = measure(&policy, &seen);
    let (_, pk_l) = Kem::derive_keypair(&[1; 32]);
    let (_, pk_h) = Kem::derive_keypair(&[2; 32]);
    let task = task();
    let up = Upload {
        url: "https://leader.example/tasks/x/reports",
        task_id: TaskId([1; 32]),
        task: &task,
        time: Time(20_000),
        vdaf: (LEN, WEIGHT, CHUNK),
        measurement: &m,
        seed: [3; 32],
        leader: Recipient {
            config_id: 1,
            public_key: pk_l.to_bytes().into(),
        },
        helper: Recipient {
            config_id: 2,
            public_key: pk_h.to_bytes().into(),
        },
    };
    let (body, fields) = make(&up).unwrap();
    let line = record(0, GENESIS, fields.clone());
    let checked = verify(&format!("{line}\n")).unwrap();
    assert!(checked[0].matches, "{checked:?}");
    assert_eq!(fields["withheld"], serde_json::json!(["Other.X"]));
    assert_eq!(fields["families_set"], serde_json::json!([3, 900]));
    // Different bytes claimed as sent (a record rewritten and re-chained): caught.
    let mut other = fields.clone();
    let mut changed = body.clone();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    use base64::Engine as _;
    other.insert(
        "sent".into(),
        serde_json::json!(base64::engine::general_purpose::STANDARD.encode(&changed)),
    );
    assert!(!verify(&format!("{}\n", record(0, GENESIS, other))).unwrap()[0].matches);
    // A measurement that is not what was sent: caught.
    let mut lie = fields;
    lie.insert("families_set".into(), serde_json::json!([3]));
    assert!(!verify(&format!("{}\n", record(0, GENESIS, lie))).unwrap()[0].matches);
}
