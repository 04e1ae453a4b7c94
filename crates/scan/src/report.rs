//! clamscan-compatible text output, JSON Lines, and the scan summary.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::FileReport;

/// Output lines for one file, as clamscan prints them.
///
/// `PATH: NAME FOUND` per detection; `PATH: OK` when clean (unless `infected_only`);
/// `PATH: Empty file` for an empty file (unless `infected_only`).
pub fn text_lines(r: &FileReport, infected_only: bool) -> Vec<String> {
    if !r.found.is_empty() {
        // One line per signature, even when it matched at several archive levels.
        let mut seen = std::collections::HashSet::new();
        return r
            .found
            .iter()
            .filter(|f| seen.insert(f.signature.as_str()))
            .map(|f| format!("{}: {} FOUND", r.path, f.signature))
            .collect();
    }
    if infected_only {
        return Vec::new();
    }
    if r.empty {
        vec![format!("{}: Empty file", r.path)]
    } else {
        vec![format!("{}: OK", r.path)]
    }
}

/// JSON Lines for one file: one object per detection (clean files only unless `infected_only`).
pub fn json_lines(r: &FileReport, infected_only: bool) -> Vec<String> {
    if r.found.is_empty() {
        if infected_only {
            return Vec::new();
        }
        return vec![serde_json::json!({
            "path": r.path,
            "result": if r.empty { "empty" } else { "clean" },
            "bytes_scanned": r.bytes_scanned,
        })
        .to_string()];
    }
    r.found
        .iter()
        .map(|f| {
            serde_json::json!({
                "path": r.path,
                "result": "found",
                "signature": f.signature,
                "database": f.database,
                "member": f.member,
                "offset": f.offset,
            })
            .to_string()
        })
        .collect()
}

/// Totals for the summary block.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Signatures loaded.
    pub known: usize,
    /// Engine version string.
    pub engine_version: String,
    /// Directories entered.
    pub directories: u64,
    /// Files scanned.
    pub files: u64,
    /// Files with at least one detection.
    pub infected: u64,
    /// Errors.
    pub errors: u64,
    /// Bytes scanned (archive members included).
    pub data_scanned: u64,
    /// Bytes read from files.
    pub data_read: u64,
    /// When the scan started.
    pub start: Option<SystemTime>,
    /// When it ended.
    pub end: Option<SystemTime>,
}

fn mb(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

/// `YYYY:MM:DD HH:MM:SS` in UTC.
pub fn format_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}:{m:02}:{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Summary {
    /// The summary block, as clamscan prints it.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "\n----------- SCAN SUMMARY -----------");
        let _ = writeln!(s, "Known viruses: {}", self.known);
        let _ = writeln!(s, "Engine version: {}", self.engine_version);
        let _ = writeln!(s, "Scanned directories: {}", self.directories);
        let _ = writeln!(s, "Scanned files: {}", self.files);
        let _ = writeln!(s, "Infected files: {}", self.infected);
        if self.errors > 0 {
            let _ = writeln!(s, "Total errors: {}", self.errors);
        }
        let _ = writeln!(s, "Data scanned: {:.2} MB", mb(self.data_scanned));
        let ratio = if self.data_read > 0 {
            self.data_scanned as f64 / self.data_read as f64
        } else {
            0.0
        };
        let _ = writeln!(
            s,
            "Data read: {:.2} MB (ratio {:.2}:1)",
            mb(self.data_read),
            ratio
        );
        if let (Some(a), Some(b)) = (self.start, self.end) {
            let d = b.duration_since(a).unwrap_or(Duration::ZERO);
            let secs = d.as_secs();
            let _ = writeln!(
                s,
                "Time: {:.3} sec ({} m {} s)",
                d.as_secs_f64(),
                secs / 60,
                secs % 60
            );
            let _ = writeln!(s, "Start Date: {}", format_date(a));
            let _ = writeln!(s, "End Date:   {}", format_date(b));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Found;

    #[test]
    fn dates() {
        assert_eq!(format_date(UNIX_EPOCH), "1970:01:01 00:00:00");
        assert_eq!(
            format_date(UNIX_EPOCH + Duration::from_secs(1_795_000_000)),
            "2026:11:18 11:06:40"
        );
    }

    #[test]
    fn lines() {
        let mut r = FileReport {
            path: "a".into(),
            ..FileReport::default()
        };
        assert_eq!(text_lines(&r, false), ["a: OK"]);
        assert!(text_lines(&r, true).is_empty());
        r.found.push(Found {
            signature: "X".into(),
            database: "d".into(),
            member: Some("m".into()),
            offset: Some(3),
        });
        assert_eq!(text_lines(&r, true), ["a: X FOUND"]);
        let j: serde_json::Value = serde_json::from_str(&json_lines(&r, false)[0]).unwrap();
        assert_eq!(j["member"], "m");
        assert_eq!(j["offset"], 3);
    }
}
