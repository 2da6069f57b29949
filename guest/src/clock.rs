//! Time, as the sync needs it: RFC 3339 UTC text, and the clock the host lends the guest
//! (WASI's wall clock; no other capability comes with it).

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, as RFC 3339 UTC with seconds.
pub fn now_rfc3339() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    format_seconds(seconds)
}

fn format_seconds(seconds: i64) -> String {
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// `2026-11-23T10:00:00Z` minus `minutes`, in the same form. Input that isn't such a
/// timestamp comes back as it was (the overlap is a safety margin, not a correctness need).
pub fn minus_minutes(timestamp: &str, minutes: i64) -> String {
    let parse = || -> Option<(i64, i64, i64, i64, i64, i64)> {
        let t = timestamp.get(..19)?;
        let n = |range: std::ops::Range<usize>| t.get(range)?.parse::<i64>().ok();
        Some((
            n(0..4)?,
            n(5..7)?,
            n(8..10)?,
            n(11..13)?,
            n(14..16)?,
            n(17..19)?,
        ))
    };
    let Some((y, mo, d, h, mi, s)) = parse() else {
        return timestamp.to_string();
    };
    let seconds = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - minutes * 60;
    format_seconds(seconds)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    // R21: the overlap window crosses day, month and year boundaries correctly.
    #[test]
    fn subtracts_minutes_across_boundaries() {
        assert_eq!(
            minus_minutes("2026-11-23T10:20:00Z", 15),
            "2026-11-23T10:05:00Z"
        );
        assert_eq!(
            minus_minutes("2026-01-01T00:05:00Z", 15),
            "2025-12-31T23:50:00Z"
        );
        assert_eq!(
            minus_minutes("2024-03-01T00:00:00Z", 1),
            "2024-02-29T23:59:00Z"
        );
        assert_eq!(minus_minutes("not a time", 15), "not a time");
    }
}
