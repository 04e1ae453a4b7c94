//! One upload as an outbox record, and its replay: everything needed to rebuild the bytes
//! that were sent (task, time, VDAF, the measured vector, the seed, the aggregators' keys)
//! sits beside those bytes and what they mean, so [`verify`] can rebuild each report and
//! compare it with what went on the wire, byte for byte.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use detente_dap::{Decode as _, Encode as _, TaskConfiguration, TaskId, Time, UploadRequest};
use serde_json::{json, Map, Value as Json};
use sha2::{Digest as _, Sha256};

use crate::measure::Measurement;
use crate::outbox::{check_chain, ChainError};
use crate::report::{build, Recipient};
use crate::shard::{Value, Vdaf};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// One families report to send.
pub struct Upload<'a> {
    /// Where it is sent (the Leader's upload URL).
    pub url: &'a str,
    /// Task id.
    pub task_id: TaskId,
    /// Task configuration.
    pub task: &'a TaskConfiguration,
    /// Report time (truncated to the task's precision).
    pub time: Time,
    /// The families VDAF's (length, max_weight, chunk_length).
    pub vdaf: (usize, usize, usize),
    /// The measurement, with its items and rules.
    pub measurement: &'a Measurement,
    /// The seed everything random comes from.
    pub seed: [u8; 32],
    /// The Leader's HPKE configuration.
    pub leader: Recipient,
    /// The Helper's HPKE configuration.
    pub helper: Recipient,
}

/// Why a record can't be made or replayed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Building the report failed.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// A field of the record is missing or malformed.
    #[error("record field {0}")]
    Field(&'static str),
}

fn vdaf_of(v: (usize, usize, usize)) -> Vdaf {
    Vdaf::MultihotCountVec {
        length: v.0,
        max_weight: v.1,
        chunk_length: v.2,
    }
}

/// The upload body (a DAP `UploadRequest` of one report) and the outbox record fields
/// describing it.
pub fn make(u: &Upload<'_>) -> Result<(Vec<u8>, Map<String, Json>), RecordError> {
    let report = build(
        u.task_id,
        u.task,
        u.time,
        vdaf_of(u.vdaf),
        &Value::Bits(u.measurement.families.clone()),
        u.seed,
        u.leader,
        u.helper,
    )?;
    let body = UploadRequest {
        reports: vec![report],
    }
    .get_encoded();
    let set: Vec<usize> = u
        .measurement
        .families
        .iter()
        .enumerate()
        .filter_map(|(i, b)| b.then_some(i))
        .collect();
    let items: Vec<Json> = u
        .measurement
        .items
        .iter()
        .map(|i| json!({"what": i.what, "value": i.value, "rule": i.rule}))
        .collect();
    let mut m = Map::new();
    m.insert("url".into(), json!(u.url));
    m.insert("task_id".into(), json!(hex(&u.task_id.0)));
    m.insert("task".into(), json!(STANDARD.encode(u.task.get_encoded())));
    m.insert("time".into(), json!(u.time.0));
    m.insert("vdaf".into(), json!({"type": "Prio3MultihotCountVec", "length": u.vdaf.0, "max_weight": u.vdaf.1, "chunk_length": u.vdaf.2}));
    m.insert("families_set".into(), json!(set));
    m.insert("items".into(), Json::Array(items));
    m.insert("withheld".into(), json!(u.measurement.withheld));
    m.insert("seed".into(), json!(hex(&u.seed)));
    for (k, r) in [("leader", u.leader), ("helper", u.helper)] {
        m.insert(
            k.into(),
            json!({"config_id": r.config_id, "public_key": hex(&r.public_key)}),
        );
    }
    m.insert("sent_sha256".into(), json!(hex(&Sha256::digest(&body))));
    m.insert("sent".into(), json!(STANDARD.encode(&body)));
    Ok((body, m))
}

/// Rebuilds the bytes a record says were sent, from its fields alone.
pub fn recompute(r: &Map<String, Json>) -> Result<Vec<u8>, RecordError> {
    let s = |k: &'static str| r.get(k).and_then(Json::as_str).ok_or(RecordError::Field(k));
    let task_id = TaskId(unhex::<32>(s("task_id")?).ok_or(RecordError::Field("task_id"))?);
    let task_bytes = STANDARD
        .decode(s("task")?)
        .map_err(|_| RecordError::Field("task"))?;
    let task = TaskConfiguration::decode(&task_bytes).map_err(|_| RecordError::Field("task"))?;
    let time = Time(
        r.get("time")
            .and_then(Json::as_u64)
            .ok_or(RecordError::Field("time"))?,
    );
    let v = r.get("vdaf").ok_or(RecordError::Field("vdaf"))?;
    let num = |k: &'static str| -> Result<usize, RecordError> {
        v.get(k)
            .and_then(Json::as_u64)
            .map(|n| n as usize)
            .ok_or(RecordError::Field("vdaf"))
    };
    let vdaf = (num("length")?, num("max_weight")?, num("chunk_length")?);
    if vdaf.0 > crate::measure::MAX_FAMILIES {
        return Err(RecordError::Field("vdaf"));
    }
    let mut bits = vec![false; vdaf.0];
    for i in r
        .get("families_set")
        .and_then(Json::as_array)
        .ok_or(RecordError::Field("families_set"))?
    {
        let i = i.as_u64().ok_or(RecordError::Field("families_set"))? as usize;
        *bits.get_mut(i).ok_or(RecordError::Field("families_set"))? = true;
    }
    let seed = unhex::<32>(s("seed")?).ok_or(RecordError::Field("seed"))?;
    let recip = |k: &'static str| -> Result<Recipient, RecordError> {
        let o = r.get(k).ok_or(RecordError::Field(k))?;
        Ok(Recipient {
            config_id: o
                .get("config_id")
                .and_then(Json::as_u64)
                .and_then(|n| u8::try_from(n).ok())
                .ok_or(RecordError::Field(k))?,
            public_key: o
                .get("public_key")
                .and_then(Json::as_str)
                .and_then(unhex::<32>)
                .ok_or(RecordError::Field(k))?,
        })
    };
    let report = build(
        task_id,
        &task,
        time,
        vdaf_of(vdaf),
        &Value::Bits(bits),
        seed,
        recip("leader")?,
        recip("helper")?,
    )?;
    Ok(UploadRequest {
        reports: vec![report],
    }
    .get_encoded())
}

/// What [`verify`] found for one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Position in the outbox.
    pub seq: u64,
    /// Whether the bytes rebuilt from the record equal the bytes it says were sent, and
    /// their hash matches.
    pub matches: bool,
    /// Why it could not be rebuilt, if it could not.
    pub error: Option<String>,
}

/// Checks the outbox's chain, then rebuilds every record's bytes and compares them with what
/// it says was sent.
pub fn verify(outbox: &str) -> Result<Vec<Checked>, ChainError> {
    let (records, _) = check_chain(outbox)?;
    Ok(records
        .iter()
        .map(|r| {
            let seq = r.get("seq").and_then(Json::as_u64).unwrap_or(0);
            let sent = r
                .get("sent")
                .and_then(Json::as_str)
                .and_then(|s| STANDARD.decode(s).ok());
            let sha = r.get("sent_sha256").and_then(Json::as_str);
            match (recompute(r), sent) {
                (Ok(again), Some(sent)) => Checked {
                    seq,
                    matches: again == sent && sha == Some(hex(&Sha256::digest(&sent)).as_str()),
                    error: None,
                },
                (Err(e), _) => Checked {
                    seq,
                    matches: false,
                    error: Some(e.to_string()),
                },
                (_, None) => Checked {
                    seq,
                    matches: false,
                    error: Some("no sent bytes".into()),
                },
            }
        })
        .collect())
}
