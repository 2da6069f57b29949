//! The sandbox clock: wall time (or a fixed start) plus an offset tests can advance.
//!
//! PCO timestamps have one-second resolution. If two writes landed in the same second, a client
//! paging with `where[updated_at][gte]` could not tell which came last, so every write asks
//! [`Clock::tick`] for a stamp strictly after the previous one. Under a burst of writes the stamps
//! run a little ahead of the wall clock; that only ever makes an incremental pull re-read, never
//! miss.

use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Where the clock starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClockMode {
    /// Real time (plus whatever tests advance it by).
    #[default]
    Wall,
    /// Frozen at this Unix timestamp until advanced: fully repeatable timestamps.
    Fixed(i64),
}

/// One advance moves the clock at most a thousand years: far enough for any test, and keeps
/// every stamp a valid date.
pub const MAX_ADVANCE_SECS: i64 = 1_000 * 366 * 86_400;

#[derive(Debug)]
pub struct Clock {
    mode: ClockMode,
    inner: Mutex<ClockState>,
}

#[derive(Debug)]
struct ClockState {
    offset: i64,
    last_tick: i64,
}

impl Clock {
    pub fn new(mode: ClockMode) -> Clock {
        Clock {
            mode,
            inner: Mutex::new(ClockState {
                offset: 0,
                last_tick: i64::MIN,
            }),
        }
    }

    fn base(&self) -> i64 {
        match self.mode {
            ClockMode::Wall => OffsetDateTime::now_utc().unix_timestamp(),
            ClockMode::Fixed(start) => start,
        }
    }

    /// The current time, in whole seconds.
    pub fn now(&self) -> i64 {
        let state = lock(&self.inner);
        (self.base() + state.offset).max(state.last_tick)
    }

    /// A stamp for a write: now, but strictly after every earlier stamp.
    pub fn tick(&self) -> i64 {
        let mut state = lock(&self.inner);
        let now = self.base() + state.offset;
        let stamp = if state.last_tick == i64::MIN {
            now
        } else {
            now.max(state.last_tick + 1)
        };
        state.last_tick = stamp;
        stamp
    }

    /// Moves `now` forward by exactly `by`, even while write stamps run ahead of the wall clock.
    pub fn advance(&self, by: Duration) {
        let mut state = lock(&self.inner);
        let by = i64::try_from(by.as_secs())
            .unwrap_or(MAX_ADVANCE_SECS)
            .min(MAX_ADVANCE_SECS);
        state.offset = state.offset.saturating_add(by);
        if state.last_tick != i64::MIN {
            state.last_tick = state.last_tick.saturating_add(by);
        }
    }
}

/// `2024-05-01T12:00:00Z`, as PCO writes timestamps.
pub fn format_time(unix: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// Parses a timestamp or bare date as PCO accepts in `where[...]`. A bare date means midnight
/// UTC; `day` tells the caller it was a date, so `where[x]=2024-05-01` can mean the whole day.
pub fn parse_time(text: &str) -> Option<(i64, bool)> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some((t.unix_timestamp(), false));
    }
    let date = crate::model::parse_date(text)?;
    Some((date.midnight().assume_utc().unix_timestamp(), true))
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
    fn ticks_are_strictly_increasing_and_advance_moves_now() {
        let clock = Clock::new(ClockMode::Fixed(1_700_000_000));
        let a = clock.tick();
        let b = clock.tick();
        assert!(b > a);
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now() >= a + 3600);
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_time("2024-05-01"), Some((1_714_521_600, true)));
        assert_eq!(
            parse_time("2024-05-01T00:00:00Z"),
            Some((1_714_521_600, false))
        );
    }
}
