//! Fault injection and the request log.
//!
//! Faults apply to Rock's own routes (`/api/...`, `/GetImage.ashx`), never to the admin routes
//! under `/__sandbox/`. Which request gets which fault is decided by a seeded generator, so a
//! test that sends the same requests in the same order sees the same faults; a script of
//! faults for the next requests makes single cases exact.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::store::splitmix;

/// What can go wrong with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 500 `{"Message":"An error has occurred."}`, nothing written.
    Error,
    /// The connection is closed without an answer, nothing written.
    Reset,
    /// The answer comes after `slow_ms` milliseconds (the request is then served normally).
    Slow,
    /// No answer for `hang_ms` milliseconds, then the connection closes; nothing written.
    Hang,
    /// The request is served (writes happen) but the body is replaced by invalid JSON.
    Malformed,
    /// The request is served (writes happen) but the body stops halfway and the connection
    /// closes, short of its `Content-Length`.
    Truncated,
}

/// Fault settings: rates are shares of matching requests, in `0.0..=1.0`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultConfig {
    pub seed: u64,
    pub error_rate: f64,
    pub reset_rate: f64,
    pub slow_rate: f64,
    pub hang_rate: f64,
    pub malformed_rate: f64,
    pub truncated_rate: f64,
    /// Delay of a slow answer (default 1500 ms when zero).
    pub slow_ms: u64,
    /// How long a hung request waits before its connection closes (default 60 s when zero).
    pub hang_ms: u64,
    /// Only requests whose path and query contain this (case-insensitive) are faulted.
    pub path_contains: Option<String>,
    /// Only requests with this method (e.g. "GET") are faulted.
    pub method: Option<String>,
    /// Faults for the next matching requests, in order, before the rates apply.
    pub script: Vec<FaultKind>,
}

impl FaultConfig {
    pub fn slow_ms(&self) -> u64 {
        if self.slow_ms == 0 {
            1500
        } else {
            self.slow_ms
        }
    }

    pub fn hang_ms(&self) -> u64 {
        if self.hang_ms == 0 {
            60_000
        } else {
            self.hang_ms
        }
    }
}

/// The live fault state: the configuration and where its generator and script are.
#[derive(Debug, Default)]
pub struct Faults {
    config: FaultConfig,
    rng: u64,
    script: VecDeque<FaultKind>,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Faults {
        let mut faults = Faults::default();
        faults.set(config);
        faults
    }

    pub fn set(&mut self, config: FaultConfig) {
        self.rng = config.seed;
        self.script = config.script.iter().copied().collect();
        self.config = config;
    }

    /// The configuration, with `script` showing what is still queued.
    pub fn config(&self) -> FaultConfig {
        FaultConfig {
            script: self.script.iter().copied().collect(),
            ..self.config.clone()
        }
    }

    /// Queues a fault for the next matching request (after those already queued).
    pub fn push(&mut self, kind: FaultKind) {
        self.script.push_back(kind);
    }

    /// The fault for this request, if any.
    pub fn next(&mut self, method: &str, path_and_query: &str) -> Option<FaultKind> {
        if !self.applies(method, path_and_query) {
            return None;
        }
        if let Some(kind) = self.script.pop_front() {
            return Some(kind);
        }
        let c = &self.config;
        let rates = [
            (FaultKind::Error, c.error_rate),
            (FaultKind::Reset, c.reset_rate),
            (FaultKind::Slow, c.slow_rate),
            (FaultKind::Hang, c.hang_rate),
            (FaultKind::Malformed, c.malformed_rate),
            (FaultKind::Truncated, c.truncated_rate),
        ];
        if rates.iter().all(|(_, r)| *r <= 0.0) {
            return None;
        }
        let draw = (splitmix(&mut self.rng) >> 11) as f64 / (1u64 << 53) as f64;
        let mut cumulative = 0.0;
        for (kind, rate) in rates {
            cumulative += rate.clamp(0.0, 1.0);
            if draw < cumulative {
                return Some(kind);
            }
        }
        None
    }

    fn applies(&self, method: &str, path_and_query: &str) -> bool {
        let method_ok = self
            .config
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method));
        let path_ok = self
            .config
            .path_contains
            .as_deref()
            .is_none_or(|p| path_and_query.to_lowercase().contains(&p.to_lowercase()));
        method_ok && path_ok
    }
}

/// One request as the sandbox saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub method: String,
    /// Path and query, as sent (still percent-encoded).
    pub path: String,
    /// The status answered; 0 when the connection was dropped without an answer.
    pub status: u16,
    pub fault: Option<FaultKind>,
    /// Rows a list answered (`GET /api/{c}`), for counting what a client reads.
    #[serde(default)]
    pub rows: Option<usize>,
    /// Why the request was refused, where Rock's answer does not say (Rock hides the OData
    /// parser's message behind "The query specified in the URI is not valid."; the sandbox
    /// keeps it here so a test can see which property or limit it was).
    #[serde(default)]
    pub detail: Option<String>,
    /// The property names of the answer's rows: what the client was sent, whether or not it
    /// reads them (R53: giving, medical and background-check data never cross).
    #[serde(default)]
    pub properties: Vec<String>,
}

/// Set on a response whose body hides the reason (see [`RequestRecord::detail`]).
#[derive(Clone, Debug)]
pub(crate) struct Detail(pub String);

/// Set by a list route on its response: how many rows it loaded attributes for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AttributeRows(pub usize);

/// Set on every JSON answer: the property names its rows carried.
#[derive(Clone, Debug)]
pub(crate) struct Properties(pub Vec<String>);

/// Set by a list route on its response: how many rows it answered.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowCount(pub usize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_faults_and_scripts_come_first() {
        let config = FaultConfig {
            seed: 7,
            error_rate: 0.3,
            reset_rate: 0.2,
            ..FaultConfig::default()
        };
        let run = |config: &FaultConfig| {
            let mut f = Faults::new(config.clone());
            (0..50)
                .map(|_| f.next("GET", "/api/People"))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(&config), run(&config));
        assert!(run(&config).iter().any(Option::is_some));
        let mut f = Faults::new(FaultConfig {
            script: vec![FaultKind::Hang],
            path_contains: Some("people".into()),
            ..FaultConfig::default()
        });
        assert_eq!(f.next("GET", "/api/Groups"), None);
        assert_eq!(f.next("GET", "/api/People/1"), Some(FaultKind::Hang));
        assert_eq!(f.next("GET", "/api/People/1"), None);
    }
}
