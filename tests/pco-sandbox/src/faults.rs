//! Fault injection: which requests fail, and how.
//!
//! Each API request draws once from a ChaCha8 stream seeded by [`FaultConfig::seed`] and falls in
//! at most one fault share, so a given sequence of requests meets the same faults every run.
//! Tests that need an exact fault on an exact request queue it with
//! [`crate::PcoSandbox::inject_next`] instead; queued faults go first and take no draw.

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The shares of API requests that meet each fault (0.0 to 1.0; together at most 1.0).
/// JSON form is the same (every field optional), e.g. `{"server_error": 0.1, "seed": 7}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    pub seed: u64,
    /// Answer 500, 502 or 503 without doing anything.
    pub server_error: f64,
    /// Close the connection before doing anything, without an answer.
    pub reset: f64,
    /// Do the request, then close the connection without an answer (the write happened: the
    /// case a client must not blindly repeat).
    pub reset_after: f64,
    /// Wait `slow_ms` before answering normally.
    pub slow: f64,
    pub slow_ms: u64,
    /// Never answer (until the sandbox stops or the client gives up).
    pub hang: f64,
    /// Do the request, then answer 200 with a body that is not JSON.
    pub malformed: f64,
    /// Do the request, then answer with the first half of the real body.
    pub truncated: f64,
    /// Answer 429 with `Retry-After: storm_retry_after`, whatever the real count.
    pub rate_limit_storm: f64,
    pub storm_retry_after: u64,
    /// Only requests whose path starts with this meet faults (all API requests when None).
    pub path_prefix: Option<String>,
}

impl Default for FaultConfig {
    fn default() -> FaultConfig {
        FaultConfig {
            seed: 0,
            server_error: 0.0,
            reset: 0.0,
            reset_after: 0.0,
            slow: 0.0,
            slow_ms: 2_000,
            hang: 0.0,
            malformed: 0.0,
            truncated: 0.0,
            rate_limit_storm: 0.0,
            storm_retry_after: 1,
            path_prefix: None,
        }
    }
}

impl FaultConfig {
    /// Shares in draw order with the fault each stands for.
    fn shares(&self) -> [(f64, Fault); 8] {
        [
            (self.server_error, Fault::ServerError { status: 0 }),
            (self.reset, Fault::Reset),
            (self.reset_after, Fault::ResetAfter),
            (self.slow, Fault::Slow { ms: self.slow_ms }),
            (self.hang, Fault::Hang),
            (self.malformed, Fault::Malformed),
            (self.truncated, Fault::Truncated),
            (
                self.rate_limit_storm,
                Fault::RateLimited {
                    retry_after: self.storm_retry_after,
                },
            ),
        ]
    }

    fn validate(&self) -> Result<(), String> {
        let shares = self.shares();
        if let Some((share, fault)) = shares.iter().find(|(s, _)| !(0.0..=1.0).contains(s)) {
            return Err(format!(
                "share {share} for {} is not between 0 and 1",
                fault.name()
            ));
        }
        let total: f64 = shares.iter().map(|(s, _)| s).sum();
        if total > 1.000_001 {
            return Err(format!("fault shares add up to {total}, more than 1"));
        }
        Ok(())
    }
}

/// One injected fault. JSON form: `{"kind": "slow", "ms": 500}`, `{"kind": "reset"}`, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// `status` 0 means "pick 500, 502 or 503".
    ServerError {
        #[serde(default)]
        status: u16,
    },
    Reset,
    ResetAfter,
    Slow {
        ms: u64,
    },
    Hang,
    Malformed,
    Truncated,
    RateLimited {
        #[serde(default = "one")]
        retry_after: u64,
    },
}

fn one() -> u64 {
    1
}

impl Fault {
    pub fn name(&self) -> &'static str {
        match self {
            Fault::ServerError { .. } => "server_error",
            Fault::Reset => "reset",
            Fault::ResetAfter => "reset_after",
            Fault::Slow { .. } => "slow",
            Fault::Hang => "hang",
            Fault::Malformed => "malformed",
            Fault::Truncated => "truncated",
            Fault::RateLimited { .. } => "rate_limit_storm",
        }
    }
}

#[derive(Debug)]
pub struct Faults {
    config: FaultConfig,
    rng: ChaCha8Rng,
    queue: VecDeque<Fault>,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Result<Faults, String> {
        config.validate()?;
        Ok(Faults {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            config,
            queue: VecDeque::new(),
        })
    }

    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// Replaces the shares and restarts the draw from the new seed; queued faults stay.
    pub fn set(&mut self, config: FaultConfig) -> Result<(), String> {
        config.validate()?;
        self.rng = ChaCha8Rng::seed_from_u64(config.seed);
        self.config = config;
        Ok(())
    }

    pub fn push(&mut self, fault: Fault, times: usize) {
        self.queue.extend(std::iter::repeat_n(fault, times));
    }

    pub fn queued(&self) -> Vec<Fault> {
        self.queue.iter().copied().collect()
    }

    pub fn clear(&mut self) {
        self.queue.clear();
        let seed = self.config.seed;
        self.config = FaultConfig {
            seed,
            ..FaultConfig::default()
        };
        self.rng = ChaCha8Rng::seed_from_u64(seed);
    }

    /// The fault for an API request to `path`, if any.
    pub fn decide(&mut self, path: &str) -> Option<Fault> {
        if let Some(prefix) = &self.config.path_prefix
            && !path.starts_with(prefix.as_str())
        {
            return None;
        }
        if let Some(fault) = self.queue.pop_front() {
            return Some(self.concrete(fault));
        }
        let shares = self.config.shares();
        if shares.iter().all(|(s, _)| *s == 0.0) {
            return None;
        }
        let roll: f64 = self.rng.random();
        let mut edge = 0.0;
        for (share, fault) in shares {
            edge += share;
            if roll < edge {
                return Some(self.concrete(fault));
            }
        }
        None
    }

    /// Fills in the 5xx status when the fault left it open.
    fn concrete(&mut self, fault: Fault) -> Fault {
        match fault {
            Fault::ServerError { status: 0 } => {
                let status = [500, 502, 503][self.rng.random_range(0..3u32) as usize];
                Fault::ServerError { status }
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_deterministic_and_roughly_proportional() {
        let config = FaultConfig {
            seed: 3,
            server_error: 0.2,
            reset: 0.1,
            ..FaultConfig::default()
        };
        let run = || {
            let mut f = Faults::new(config.clone()).unwrap();
            (0..1000)
                .map(|_| f.decide("/people/v2/people"))
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let errors = a
            .iter()
            .filter(|f| matches!(f, Some(Fault::ServerError { .. })))
            .count();
        assert!((150..250).contains(&errors), "{errors}");
        assert!(
            Faults::new(FaultConfig {
                reset: 0.7,
                hang: 0.7,
                ..FaultConfig::default()
            })
            .is_err()
        );
    }

    #[test]
    fn queued_faults_go_first_and_prefix_scopes() {
        let mut f = Faults::new(FaultConfig {
            path_prefix: Some("/services".into()),
            ..FaultConfig::default()
        })
        .unwrap();
        f.push(Fault::Hang, 1);
        assert_eq!(f.decide("/people/v2/people"), None);
        assert_eq!(f.decide("/services/v2/people"), Some(Fault::Hang));
        assert_eq!(f.decide("/services/v2/people"), None);
        let json: Fault = serde_json::from_str(r#"{"kind":"slow","ms":5}"#).unwrap();
        assert_eq!(json, Fault::Slow { ms: 5 });
    }
}
