//! clamscan-compatible text output, JSON Lines, and the scan summary.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{FileReport, Why};

/// Output lines for one file, as clamscan prints them.
///
/// `PATH: NAME FOUND` per detection; otherwise (unless `infected_only`) `PATH: Empty file` for
/// an empty file and `PATH: OK` for the rest, as clamscan prints `OK` for a file scanned whole,
/// in part, or not at all because of a limit.
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

/// JSON Lines for one file: one object per detection, or one object for a file with none
/// (unless `infected_only`). Every object has `path`, `result` (`found`, `clean`, `partial`,
/// `skipped` or `empty`), `outcome` (`found`, `clean`, `partial` or `skipped`), `reasons` (what
/// was not scanned, where and why: `{"reason", "member", "detail"}`) and `bytes_scanned`;
/// detections add `signature`, `database`, `member` and `offset`.
pub fn json_lines(r: &FileReport, infected_only: bool) -> Vec<String> {
    let reasons = serde_json::to_value(&r.reasons).unwrap_or_default();
    let with_totals = |mut v: serde_json::Value| {
        v["outcome"] = r.outcome.kind().into();
        v["reasons"] = reasons.clone();
        if r.reasons_omitted > 0 {
            v["reasons_omitted"] = r.reasons_omitted.into();
        }
        v["bytes_scanned"] = r.bytes_scanned.into();
        v.to_string()
    };
    if r.found.is_empty() {
        if infected_only {
            return Vec::new();
        }
        let result = if r.empty { "empty" } else { r.outcome.kind() };
        return vec![with_totals(serde_json::json!({
            "path": r.path,
            "result": result,
        }))];
    }
    r.found
        .iter()
        .map(|f| {
            with_totals(serde_json::json!({
                "path": r.path,
                "result": "found",
                "signature": f.signature,
                "database": f.database,
                "member": f.member,
                "offset": f.offset,
            }))
        })
        .collect()
}

/// The JSON line of a path that was not scanned (a symbolic link not followed, an excluded
/// path): `result` is `why` (`symlink`, `excluded`), `outcome` is `skipped`.
pub fn json_not_scanned(path: &str, why: Why) -> String {
    serde_json::json!({
        "path": path,
        "result": why.as_str(),
        "outcome": "skipped",
        "reasons": [{"reason": why.as_str(), "member": null, "detail": ""}],
    })
    .to_string()
}

/// The JSON line of a path that could not be read.
pub fn json_error(path: &str, message: &str) -> String {
    serde_json::json!({
        "path": path,
        "result": "error",
        "outcome": "error",
        "error": message,
    })
    .to_string()
}

/// Reasons [`reason_lines`] prints per file.
const REASON_LINES: usize = 8;

/// Lines for standard error saying what was not scanned in a file (none for an empty file):
/// the first few reasons, then how many more there are.
pub fn reason_lines(r: &FileReport) -> Vec<String> {
    if r.empty {
        return Vec::new();
    }
    let mut v: Vec<String> = r
        .reasons
        .iter()
        .take(REASON_LINES)
        .map(|n| match &n.member {
            Some(m) => format!("{}: {} in {m}: {}", r.path, n.why.as_str(), n.detail),
            None => format!("{}: {}: {}", r.path, n.why.as_str(), n.detail),
        })
        .collect();
    let more = r.reasons.len().saturating_sub(REASON_LINES) as u64 + r.reasons_omitted;
    if more > 0 {
        v.push(format!("{}: ... and {more} more not scanned", r.path));
    }
    v
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
    /// Files scanned whole with nothing found.
    pub clean: u64,
    /// Files with nothing found, part of which was not scanned.
    pub partial: u64,
    /// Paths not scanned at all: over a limit, empty, excluded, symbolic links.
    pub skipped: u64,
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
    /// The summary block, as clamscan prints it, then how many files were clean, partly
    /// scanned and skipped.
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
        // detente's own lines, after all of clamscan's.
        let _ = writeln!(s, "Clean files: {}", self.clean);
        let _ = writeln!(s, "Partly scanned files: {}", self.partial);
        let _ = writeln!(s, "Skipped files: {}", self.skipped);
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

    #[test]
    fn skipped_file_and_summary_counts() {
        let r = crate::oversized("big.bin", 2 << 20, &crate::ScanOptions::default());
        assert_eq!(text_lines(&r, false), ["big.bin: OK"]);
        let j: serde_json::Value = serde_json::from_str(&json_lines(&r, false)[0]).unwrap();
        assert_eq!(j["result"], "skipped");
        assert_eq!(j["outcome"], "skipped");
        assert_eq!(j["reasons"][0]["reason"], "max-filesize");
        assert_eq!(j["bytes_scanned"], 0);
        let s = Summary {
            files: 6,
            clean: 1,
            partial: 2,
            skipped: 3,
            ..Summary::default()
        }
        .render();
        assert!(s.contains("\nScanned files: 6\nInfected files: 0\nData scanned: 0.00 MB\n"));
        assert!(
            s.ends_with("\nClean files: 1\nPartly scanned files: 2\nSkipped files: 3\n"),
            "{s}"
        );
    }
}
