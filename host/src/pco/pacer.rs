//! Keeps an account under Planning Center's rate limit by itself, rather than collecting 429s.
//!
//! PCO allows a number of requests per period per user (100 per 20 seconds today) and says so
//! in headers on every response; it also says never to hard-code the numbers. The pacer keeps
//! the send times of the last period and waits before a request that would exceed the limit,
//! learning the limit and period from the headers as they come.
//!
//! The limit is per user, across every token and app of that user (PCO docs
//! /overview/rate-limiting, "per authenticated user"): another integration of the same
//! person, or this host's other accounts with tokens of that person, spend the same budget.
//! So the count PCO reports (`X-PCO-API-Request-Rate-Count`) is believed over our own.
//! Headers are bounded: a limit or period outside [`LIMIT_RANGE`] / [`PERIOD_RANGE`] is
//! clamped, so a broken or hostile answer can neither stall the run nor unleash it.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Sent times are taken before the request leaves, received times by PCO are later; this much
/// slack keeps the two windows from disagreeing at the edge.
const EDGE_SLACK: Duration = Duration::from_millis(300);
/// The limits believed from a header (requests per period).
const LIMIT_RANGE: (u64, u64) = (1, 10_000);
/// The periods believed from a header, in seconds.
const PERIOD_RANGE: (u64, u64) = (1, 300);

#[derive(Debug)]
pub struct Pacer {
    limit: usize,
    period: Duration,
    sent: VecDeque<Instant>,
}

impl Default for Pacer {
    /// PCO's documented default until the first response says otherwise.
    fn default() -> Self {
        Pacer {
            limit: 100,
            period: Duration::from_secs(20),
            sent: VecDeque::new(),
        }
    }
}

impl Pacer {
    /// How long to wait before the next request may go; records it as sent at that time.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        let window = self.period + EDGE_SLACK;
        self.forget_before(now);
        let wait = if self.sent.len() >= self.limit {
            let oldest = self.sent[self.sent.len() - self.limit];
            (oldest + window).saturating_duration_since(now)
        } else {
            Duration::ZERO
        };
        self.sent.push_back(now + wait);
        wait
    }

    /// Learns the limit and period from a response's `X-PCO-API-Request-Rate-*` headers, and
    /// counts as spent what PCO counted in this period beyond our own requests.
    pub fn observe(&mut self, now: Instant, headers: RateHeaders<'_>) {
        if let Some(limit) = headers.limit.and_then(leading_number).filter(|l| *l > 0) {
            let limit = limit.clamp(LIMIT_RANGE.0, LIMIT_RANGE.1) as usize;
            // One request of headroom for a clock that ticks differently from ours.
            self.limit = limit.saturating_sub(1).max(1);
        }
        if let Some(period) = headers.period.and_then(leading_number).filter(|p| *p > 0) {
            self.period = Duration::from_secs(period.clamp(PERIOD_RANGE.0, PERIOD_RANGE.1));
        }
        if let Some(count) = headers.count.and_then(leading_number) {
            self.forget_before(now);
            let spent = (count.min(LIMIT_RANGE.1) as usize).min(self.limit);
            // Requests of others: they expire a period from now, later than PCO's window
            // closes, which errs on the side of waiting.
            for _ in self.sent.len()..spent {
                let at = self.sent.partition_point(|t| *t <= now);
                self.sent.insert(at, now);
            }
        }
    }

    fn forget_before(&mut self, now: Instant) {
        let window = self.period + EDGE_SLACK;
        while self
            .sent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            self.sent.pop_front();
        }
    }

    /// PCO said 429 anyway (another client on the same credentials, or a stricter limit):
    /// hold everything until `retry_after` has passed.
    pub fn back_off(&mut self, now: Instant, retry_after: Duration) {
        let until = now + retry_after;
        let limit = self.limit;
        self.sent.extend(std::iter::repeat_n(
            until.checked_sub(self.period).unwrap_or(now),
            limit,
        ));
    }
}

/// A response's `X-PCO-API-Request-Rate-Limit`, `-Period` and `-Count`, as sent.
#[derive(Clone, Copy, Debug, Default)]
pub struct RateHeaders<'a> {
    pub limit: Option<&'a str>,
    pub period: Option<&'a str>,
    pub count: Option<&'a str>,
}

/// PCO writes the period as `20` on some responses and `20 seconds` on others.
pub fn leading_number(value: &str) -> Option<u64> {
    let digits: String = value
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(limit: &'a str, period: &'a str, count: Option<&'a str>) -> RateHeaders<'a> {
        RateHeaders {
            limit: Some(limit),
            period: Some(period),
            count,
        }
    }

    // Issue 14.10: another client of the same PCO user spent most of the period's budget;
    // the count PCO reports makes this one wait for the period instead of meeting 429s.
    #[test]
    fn requests_counted_by_pco_for_others_are_waited_for() {
        let mut pacer = Pacer::default();
        let start = Instant::now();
        pacer.observe(start, headers("100", "20", Some("97")));
        let mut now = start;
        let mut waited = Duration::ZERO;
        for _ in 0..5 {
            let wait = pacer.reserve(now);
            waited += wait;
            now += wait;
        }
        assert!(
            waited >= Duration::from_secs(20),
            "five more requests after 97 of 100 waited only {waited:?}"
        );
        let mut own = Pacer::default();
        own.observe(start, headers("100", "20", Some("1")));
        assert_eq!(own.reserve(start), Duration::ZERO);
    }

    // Issue 16.10: a period of a billion seconds or a limit past u64 cannot stall the run;
    // a limit of one billion does not lift pacing.
    #[test]
    fn hostile_rate_headers_are_bounded() {
        let mut pacer = Pacer::default();
        let start = Instant::now();
        pacer.observe(
            start,
            headers(
                "1000000000",
                "1000000000 seconds",
                Some("99999999999999999999999"),
            ),
        );
        assert_eq!(pacer.period, Duration::from_secs(PERIOD_RANGE.1));
        assert_eq!(pacer.limit, LIMIT_RANGE.1 as usize - 1);
        let mut stalled = Pacer::default();
        stalled.observe(start, headers("1", "1000000000", Some("1")));
        let wait = stalled.reserve(start);
        assert!(wait <= Duration::from_secs(PERIOD_RANGE.1 + 1), "{wait:?}");
    }

    #[test]
    fn reads_the_leading_integer_of_a_header() {
        assert_eq!(leading_number("20"), Some(20));
        assert_eq!(leading_number("20 seconds"), Some(20));
        assert_eq!(leading_number(" 100"), Some(100));
        assert_eq!(leading_number("soon"), None);
    }

    #[test]
    fn never_lets_more_than_the_limit_through_in_one_period() {
        let mut pacer = Pacer::default();
        let start = Instant::now();
        pacer.observe(start, headers("10", "2 seconds", None));
        let mut now = start;
        let mut times = Vec::new();
        for _ in 0..40 {
            now += pacer.reserve(now);
            times.push(now);
        }
        let window = Duration::from_secs(2);
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .filter(|u| u.duration_since(*t) < window)
                .count();
            assert!(
                in_window <= 9,
                "{in_window} requests within one period from #{i}"
            );
        }
        // ...and does not dawdle: 40 requests at 9 per ~2.3 s take about 4 windows.
        assert!(now.duration_since(start) < Duration::from_secs(11));
    }
}
