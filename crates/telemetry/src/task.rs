//! The task file (`task.json`), every party's public description of a families task: the
//! task id, the Leader's and the Helper's URLs, the families (their order is the vector's),
//! the VDAF parameters, the time precision, the minimum batch size, the Collector's HPKE
//! public key and the upload-token issuer's public key. [`TaskFile::parse`] turns it into
//! the DAP [`TaskConfiguration`] every report is bound to (it is part of each report's
//! HPKE associated data), so each party derives the same configuration from the same file.

use detente_dap::{
    vdaf::Prio3MultihotCountVecConfig, BatchMode, NonEmpty16, NonEmpty8, Opaque16,
    TaskConfiguration, TaskId, TimePrecision, VdafConfig,
};
use serde_json::Value;

/// Why a task file is refused: the field, and what is wrong with it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct TaskFileError(pub String);

fn bad(what: impl Into<String>) -> TaskFileError {
    TaskFileError(what.into())
}

/// A task file, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFile {
    /// Task id.
    pub id: TaskId,
    /// Its DAP configuration.
    pub config: TaskConfiguration,
    /// Families, by index.
    pub families: Vec<String>,
    /// (length, max_weight, chunk_length).
    pub vdaf: (usize, usize, usize),
    /// Leader base URL.
    pub leader: String,
    /// Helper base URL.
    pub helper: String,
    /// Collector HPKE (id, public key).
    pub collector: (u8, [u8; 32]),
    /// The upload-token issuer's public key (RSA, DER), when uploads need tokens.
    pub issuer: Option<Vec<u8>>,
}

/// 64 hex digits as 32 bytes.
pub fn unhex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut o = [0u8; 32];
    for (i, x) in o.iter_mut().enumerate() {
        *x = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(o)
}

/// The DAP configuration of a families task.
pub fn task_config(
    leader: &str,
    helper: &str,
    vdaf: (usize, usize, usize),
    precision: u64,
    min_batch: u64,
) -> Result<TaskConfiguration, TaskFileError> {
    let length = u32::try_from(vdaf.0).map_err(|_| bad("too many families"))?;
    let chunk_length = u32::try_from(vdaf.2).map_err(|_| bad("chunk_length is too large"))?;
    let v = VdafConfig::Prio3MultihotCountVec(Prio3MultihotCountVecConfig {
        length,
        chunk_length,
        max_weight: vdaf.1 as u64,
    });
    let url = |u: &str| {
        NonEmpty16::new(u.as_bytes().to_vec()).map_err(|e| bad(format!("URL {u:?}: {e}")))
    };
    Ok(TaskConfiguration {
        task_info: NonEmpty8::new(b"detente families".to_vec()).map_err(|e| bad(e.to_string()))?,
        leader_aggregator_endpoint: url(leader)?,
        helper_aggregator_endpoint: url(helper)?,
        time_precision: TimePrecision(precision),
        min_batch_size: min_batch,
        batch_mode: BatchMode::TIME_INTERVAL,
        batch_config: Opaque16::default(),
        vdaf_type: v.vdaf_type(),
        vdaf_configuration: v.vdaf_configuration(),
        extensions: Default::default(),
    })
}

impl TaskFile {
    /// Parses a task file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<TaskFile, TaskFileError> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("{k} missing")))
        };
        let n = |k: &str| {
            v.get(k)
                .and_then(Value::as_u64)
                .ok_or_else(|| bad(format!("{k} missing")))
        };
        let id = TaskId(unhex32(s("task_id")?).ok_or_else(|| bad("task_id is not 64 hex digits"))?);
        let families: Vec<String> = v
            .get("families")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("families missing"))?
            .iter()
            .map(|f| f.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("families must be names"))?;
        let usize_of = |k: &str| -> Result<usize, TaskFileError> {
            usize::try_from(n(k)?).map_err(|_| bad(format!("{k} is too large")))
        };
        let vdaf = (
            families.len(),
            usize_of("max_weight")?,
            usize_of("chunk_length")?,
        );
        let (leader, helper) = (s("leader")?.to_string(), s("helper")?.to_string());
        let config = task_config(
            &leader,
            &helper,
            vdaf,
            n("time_precision")?,
            n("min_batch_size")?,
        )?;
        let c = v.get("collector").ok_or_else(|| bad("collector missing"))?;
        let collector = (
            c.get("config_id")
                .and_then(Value::as_u64)
                .and_then(|x| u8::try_from(x).ok())
                .ok_or_else(|| bad("collector.config_id"))?,
            c.get("public_key")
                .and_then(Value::as_str)
                .and_then(unhex32)
                .ok_or_else(|| bad("collector.public_key"))?,
        );
        let issuer = match v.get("issuer_public").and_then(Value::as_str) {
            None => None,
            Some(b) => {
                use base64::Engine as _;
                Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(b)
                        .map_err(|_| bad("issuer_public is not base64"))?,
                )
            }
        };
        Ok(TaskFile {
            id,
            config,
            families,
            vdaf,
            leader,
            helper,
            collector,
            issuer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_file_and_its_faults() {
        let good = serde_json::json!({
            "task_id": "ab".repeat(32), "leader": "http://l/", "helper": "http://h/",
            "families": ["A", "B"], "max_weight": 1, "chunk_length": 2,
            "time_precision": 86400, "min_batch_size": 10,
            "collector": {"config_id": 9, "public_key": "01".repeat(32)},
        });
        let t = TaskFile::parse(good.to_string().as_bytes()).unwrap();
        assert_eq!(
            (t.vdaf, t.config.min_batch_size, t.issuer),
            ((2, 1, 2), 10, None)
        );
        for (k, v, want) in [
            (
                "task_id",
                serde_json::json!("ab"),
                "task_id is not 64 hex digits",
            ),
            ("families", serde_json::json!([1]), "families must be names"),
            ("leader", serde_json::json!(""), "URL \"\""),
            ("max_weight", serde_json::json!(-1), "max_weight missing"),
        ] {
            let mut b = good.clone();
            b[k] = v;
            let e = TaskFile::parse(b.to_string().as_bytes()).unwrap_err();
            assert!(e.0.contains(want), "{k}: {e}");
        }
        assert!(TaskFile::parse(b"{").unwrap_err().0.starts_with("not JSON"));
    }
}
