//! Keeps an account under Planning Center's rate limit by itself, rather than collecting 429s.
//!
//! PCO allows a number of requests per period per user (100 per 20 seconds today) and says so
//! in headers on every response; it also says never to hard-code the numbers. The pacer keeps
//! the send times of the last period and waits before a request that would exceed the limit,
//! learning the limit and period from the headers as they come.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Sent times are taken before the request leaves, received times by PCO are later; this much
/// slack keeps the two windows from disagreeing at the edge.
const EDGE_SLACK: Duration = Duration::from_millis(300);

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
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.sent.pop_front();
        }
        let wait = if self.sent.len() >= self.limit {
            let oldest = self.sent[self.sent.len() - self.limit];
            (oldest + window).saturating_duration_since(now)
        } else {
            Duration::ZERO
        };
        self.sent.push_back(now + wait);
        wait
    }

    /// Learns the limit and period from a response's `X-PCO-API-Request-Rate-*` headers.
    pub fn observe(&mut self, limit: Option<&str>, period: Option<&str>) {
        if let Some(limit) = limit.and_then(leading_number).filter(|l| *l > 0) {
            // One request of headroom for a clock that ticks differently from ours.
            self.limit = (limit as usize).saturating_sub(1).max(1);
        }
        if let Some(period) = period.and_then(leading_number).filter(|p| *p > 0) {
            self.period = Duration::from_secs(period);
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
        pacer.observe(Some("10"), Some("2 seconds"));
        let start = Instant::now();
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
