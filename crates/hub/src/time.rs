//! `date_added` values: microseconds since the Unix epoch, shown as RFC 3339 UTC with six
//! fraction digits. The hub assigns them strictly increasing, so one is also a position.

/// Days from 1970-01-01 to a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn format_micros(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let frac = us.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// Parses a STIX/TAXII timestamp into microseconds since the epoch, rounding down below a
/// microsecond. `None` when it is not a valid timestamp or is out of range.
pub fn parse_micros(s: &str) -> Option<i64> {
    let key = detente_stix::timestamp_key(s)?;
    let b = key.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> { key.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b.len() < 26 {
        return None;
    }
    let micros = num(20..26)?;
    let days = days_from_civil(y, mo, d);
    // A leap second (:60) counts as the next second's start.
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec;
    secs.checked_mul(1_000_000)?.checked_add(micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for us in [
            0,
            1,
            1_764_605_000_123_456,
            951_782_400_000_000,
            4_102_444_799_999_999,
        ] {
            assert_eq!(parse_micros(&format_micros(us)), Some(us), "{us}");
        }
        assert_eq!(format_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            parse_micros("2000-02-29T00:00:00Z"),
            Some(951_782_400_000_000)
        );
        assert_eq!(
            parse_micros("2000-02-29T00:00:00.0000019Z"),
            Some(951_782_400_000_001)
        );
        assert_eq!(parse_micros("2000-02-30T00:00:00Z"), None);
    }
}
