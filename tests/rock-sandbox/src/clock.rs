//! The organisation's clock.
//!
//! Rock stamps `CreatedDateTime`/`ModifiedDateTime` with `RockDateTime.Now`: the organisation's
//! *local* time, serialised without an offset. `RockDateTime` (Rock.Common/RockDateTime.cs,
//! formerly Rock/RockDateTime.cs) converts UTC to `OrgTimeZoneInfo`, the `TimeZoneInfo` named
//! by web.config's `OrgTimeZone` (e.g. "Central Standard Time"), daylight saving rules and
//! all; the sandbox keeps the IANA
//! equivalent (America/Chicago by default) so stamps jump an hour at the DST changes as a real
//! Rock's do. The clock either follows the wall clock or starts frozen at a given instant;
//! tests can move it forward to make `modifiedSince` windows observable.

use std::sync::Mutex;
use std::time::Duration;

use jiff::tz::TimeZone;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// Where the clock starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClockMode {
    /// Real time (plus whatever tests advance it by).
    #[default]
    Wall,
    /// Frozen at this Unix timestamp until advanced: fully repeatable stamps.
    Fixed(i64),
}

#[derive(Debug)]
pub struct Clock {
    mode: ClockMode,
    zone: TimeZone,
    advanced_ms: Mutex<i64>,
}

impl Clock {
    pub fn new(mode: ClockMode, zone: TimeZone) -> Clock {
        Clock {
            mode,
            zone,
            advanced_ms: Mutex::new(0),
        }
    }

    /// Now, in the organisation's local time, to the millisecond (Rock's `RockDateTime.Now`).
    pub fn now(&self) -> PrimitiveDateTime {
        let base = match self.mode {
            ClockMode::Wall => OffsetDateTime::now_utc(),
            ClockMode::Fixed(unix) => {
                OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
            }
        };
        let advanced = time::Duration::milliseconds(*lock(&self.advanced_ms));
        // An absurd advance (from the admin route) pins the clock instead of overflowing.
        let moved = base.checked_add(advanced).unwrap_or(base);
        let millis = i64::try_from(moved.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let offset = jiff::Timestamp::from_millisecond(millis)
            .map(|t| self.zone.to_offset(t).seconds())
            .unwrap_or(0);
        let offset = time::UtcOffset::from_whole_seconds(offset).unwrap_or(time::UtcOffset::UTC);
        let local = moved.checked_to_offset(offset).unwrap_or(moved);
        let local = local
            .replace_nanosecond(u32::from(local.millisecond()) * 1_000_000)
            .unwrap_or(local);
        PrimitiveDateTime::new(local.date(), local.time())
    }

    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let mut advanced = lock(&self.advanced_ms);
        *advanced = advanced.saturating_add(by);
    }

    /// Moves the clock forward to the instant `utc` (RFC 3339, e.g. another system's `now`),
    /// if it is ahead; never back.
    pub fn catch_up_with(&self, utc: &str) {
        let Ok(target) = utc.parse::<jiff::Timestamp>() else {
            return;
        };
        let base = match self.mode {
            ClockMode::Wall => OffsetDateTime::now_utc(),
            ClockMode::Fixed(unix) => {
                OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
            }
        };
        let base_ms = i64::try_from(base.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let mut advanced = lock(&self.advanced_ms);
        let ahead = target.as_millisecond() - base_ms - *advanced;
        if ahead > 0 {
            *advanced = advanced.saturating_add(ahead);
        }
    }

    pub fn today(&self) -> Date {
        self.now().date()
    }
}

/// Rock's (Newtonsoft's) way of writing a `DateTime` of kind Unspecified:
/// `2024-05-01T09:30:00` or `2024-05-01T09:30:00.123`, trailing fraction zeros dropped.
pub fn format_datetime(t: PrimitiveDateTime) -> String {
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let nanos = t.nanosecond();
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out
}

/// A date column (`[Column(TypeName="Date")]`) serialises as midnight of that day.
pub fn format_date(d: Date) -> String {
    format_datetime(PrimitiveDateTime::new(d, Time::MIDNIGHT))
}

/// Parses what clients send for a `DateTime`: `yyyy-MM-dd`, `yyyy-MM-ddTHH:mm[:ss[.fff…]]`,
/// with an optional `Z` or `±hh:mm` that is dropped, as Rock ignores zones on input.
pub fn parse_datetime(text: &str) -> Option<PrimitiveDateTime> {
    let text = text.trim();
    let (date_part, time_part) = match text.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let date = parse_date(date_part)?;
    let Some(time_part) = time_part else {
        return Some(PrimitiveDateTime::new(date, Time::MIDNIGHT));
    };
    let time_part = strip_zone(time_part);
    let (hms, fraction) = match time_part.split_once('.') {
        Some((hms, f)) => (hms, Some(f)),
        None => (time_part, None),
    };
    let mut parts = hms.split(':');
    let hour: u8 = parts.next()?.parse().ok()?;
    let minute: u8 = parts.next()?.parse().ok()?;
    let second: u8 = match parts.next() {
        Some(s) => s.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    let nanos = match fraction {
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{f:0<9}").parse().ok()?
        }
        Some(_) => return None,
        None => 0,
    };
    let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    Some(PrimitiveDateTime::new(date, time))
}

fn strip_zone(t: &str) -> &str {
    if let Some(stripped) = t.strip_suffix(['Z', 'z']) {
        return stripped;
    }
    // An offset starts with + or - after the seconds.
    match t.rfind(['+', '-']) {
        Some(i) if i >= 5 => &t[..i],
        _ => t,
    }
}

/// `yyyy-MM-dd`.
pub fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.split('-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it (a sandbox should keep
/// answering so the test that caused it reports its own failure).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_rock_datetimes() {
        let t = parse_datetime("2024-05-01T09:30:00.120").unwrap();
        assert_eq!(format_datetime(t), "2024-05-01T09:30:00.12");
        let t = parse_datetime("2024-05-01T09:30:00Z").unwrap();
        assert_eq!(format_datetime(t), "2024-05-01T09:30:00");
        let t = parse_datetime("2024-05-01T09:30:00-05:00").unwrap();
        assert_eq!(format_datetime(t), "2024-05-01T09:30:00");
        assert_eq!(
            format_datetime(parse_datetime("2024-05-01").unwrap()),
            "2024-05-01T00:00:00"
        );
        assert!(parse_datetime("yesterday").is_none());
        assert!(parse_datetime("2024-02-30").is_none());
    }

    #[test]
    fn fixed_clock_is_local_and_advances() {
        let chicago = TimeZone::get("America/Chicago").unwrap();
        // 2024-05-01T00:00:00Z: daylight saving time, UTC-5.
        let clock = Clock::new(ClockMode::Fixed(1_714_521_600), chicago.clone());
        assert_eq!(format_datetime(clock.now()), "2024-04-30T19:00:00");
        clock.advance(Duration::from_secs(90));
        assert_eq!(format_datetime(clock.now()), "2024-04-30T19:01:30");
        clock.advance(Duration::from_secs(u64::MAX));
        clock.advance(Duration::from_secs(u64::MAX));
        let _ = clock.now();
        // 2024-01-15T12:00:00Z: standard time, UTC-6.
        let winter = Clock::new(ClockMode::Fixed(1_705_320_000), chicago);
        assert_eq!(format_datetime(winter.now()), "2024-01-15T06:00:00");
    }

    #[test]
    fn local_time_jumps_at_the_daylight_saving_change() {
        // 2024-03-10T07:59:59Z is 01:59:59 CST; a second later it is 03:00:00 CDT.
        let chicago = TimeZone::get("America/Chicago").unwrap();
        let clock = Clock::new(ClockMode::Fixed(1_710_057_599), chicago);
        assert_eq!(format_datetime(clock.now()), "2024-03-10T01:59:59");
        clock.advance(Duration::from_secs(1));
        assert_eq!(format_datetime(clock.now()), "2024-03-10T03:00:00");
    }
}
