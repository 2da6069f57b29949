//! PCO's rate limit: a number of requests per period per user (research §4), across every
//! token and app of that user (docs /overview/rate-limiting: "100 requests per 20 seconds per
//! authenticated user"; planningcenter/developers#691, #835: no per-application limits), and
//! every response carries the user's `X-PCO-API-Request-Rate-Count`. Each credential is its
//! own user unless a test says that several belong to one ([`RateLimiter::same_user`]).
//!
//! A fixed window opens at a credential's first request and closes `period` later; every
//! request counts, refused ones too (PCO's sample 429 reports "118 of 100"), so a client that
//! keeps hammering stays refused until the window ends.
//!
//! PCO documents a stricter limit for list requests with an offset above 30,000 (75 per 20 s;
//! research §4). The sandbox counts those in a window of their own; whether PCO also counts
//! them against the normal window is unconfirmed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// JSON form: `{"enabled": true, "limit": 100, "period_secs": 20, "high_offset_from": 30000,
/// "high_offset_limit": 75}` (every field optional).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Off: nothing is refused, and the headers advertise [`UNLIMITED`] so a pacing client
    /// runs at full speed.
    pub enabled: bool,
    pub limit: u32,
    pub period_secs: u64,
    /// Requests with an `offset` above this meet `high_offset_limit` instead of `limit`.
    pub high_offset_from: usize,
    /// 0 turns the high-offset limit off.
    pub high_offset_limit: u32,
}

/// The limit advertised while the limiter is off.
pub const UNLIMITED: u32 = 1_000_000;

impl Default for RateLimitConfig {
    fn default() -> RateLimitConfig {
        RateLimitConfig {
            enabled: true,
            limit: 100,
            period_secs: 20,
            high_offset_from: 30_000,
            high_offset_limit: 75,
        }
    }
}

/// The outcome for one request, and what its rate headers say.
#[derive(Clone, Copy, Debug)]
pub struct RateDecision {
    pub count: u32,
    pub limit: u32,
    pub period_secs: u64,
    /// Seconds to wait, when refused.
    pub retry_after: Option<u64>,
}

#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    windows: HashMap<String, Window>,
    /// Credential -> the user it belongs to, where that is another credential's user.
    users: HashMap<String, String>,
}

#[derive(Debug)]
struct Window {
    opened: Instant,
    count: u32,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig) -> RateLimiter {
        RateLimiter {
            config,
            windows: HashMap::new(),
            users: HashMap::new(),
        }
    }

    pub fn config(&self) -> RateLimitConfig {
        self.config
    }

    /// New settings start every window afresh.
    pub fn set(&mut self, config: RateLimitConfig) {
        self.config = config;
        self.windows.clear();
    }

    /// The credentials belong to one user: their requests count in one window.
    pub fn same_user(&mut self, credentials: &[String]) {
        let Some(first) = credentials.first() else {
            return;
        };
        for credential in credentials {
            self.users.insert(credential.clone(), first.clone());
        }
        self.windows.clear();
    }

    /// Counts one request of `credential` asking for list `offset` (0 when none).
    pub fn check(&mut self, credential: &str, offset: usize) -> RateDecision {
        let period = Duration::from_secs(self.config.period_secs.max(1));
        let now = Instant::now();
        let credential = self
            .users
            .get(credential)
            .map_or(credential, String::as_str);
        let high = self.config.high_offset_limit > 0 && offset > self.config.high_offset_from;
        let (key, limit) = if high {
            (
                format!("{credential}\u{0}high-offset"),
                self.config.high_offset_limit,
            )
        } else {
            (credential.to_string(), self.config.limit)
        };
        let window = self.windows.entry(key).or_insert(Window {
            opened: now,
            count: 0,
        });
        if now.duration_since(window.opened) >= period {
            *window = Window {
                opened: now,
                count: 0,
            };
        }
        window.count = window.count.saturating_add(1);
        let limit = if self.config.enabled {
            limit
        } else {
            UNLIMITED
        };
        let retry_after = (self.config.enabled && window.count > limit).then(|| {
            let left = period.saturating_sub(now.duration_since(window.opened));
            // Whole seconds, rounded up, at least 1: never tell a client to retry at once.
            (left.as_secs_f64().ceil() as u64).max(1)
        });
        RateDecision {
            count: window.count,
            limit,
            period_secs: period.as_secs(),
            retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_per_credential() {
        let mut r = RateLimiter::new(RateLimitConfig {
            enabled: true,
            limit: 3,
            period_secs: 20,
            high_offset_from: 100,
            high_offset_limit: 1,
        });
        for _ in 0..3 {
            assert!(r.check("a", 0).retry_after.is_none());
        }
        let refused = r.check("a", 0);
        assert_eq!(refused.count, 4);
        assert!((1..=20).contains(&refused.retry_after.unwrap()));
        assert!(r.check("b", 0).retry_after.is_none());
        // The high-offset limit is stricter and counted apart.
        assert!(r.check("b", 101).retry_after.is_none());
        assert!(r.check("b", 500).retry_after.is_some());
        assert!(r.check("b", 100).retry_after.is_none());
        r.set(RateLimitConfig {
            enabled: false,
            ..r.config()
        });
        assert!(r.check("a", 0).retry_after.is_none());
    }
}
