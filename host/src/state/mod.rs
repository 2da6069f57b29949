//! The `state` capability: durable key-value state, one key space per account.
//!
//! [`StateStore`] is what a backend provides (SQLite by default, [`memory`] in tests; a shared
//! database can replace both for a fleet of hosts). The guest sees only its account's key
//! space: the host scopes every call to the account of the current run.

pub mod forget;
pub mod lock;
pub mod memory;
pub mod private;
pub mod sqlite;

use crate::bindings::state::{Entry, Host, Write};
use crate::bindings::types::{Error, ErrorKind};
use crate::runtime::HostState;

/// A failure of the state backend. It reaches the guest as an `internal` error.
#[derive(Debug, thiserror::Error)]
#[error("state store: {0}")]
pub struct StateError(pub String);

pub trait StateStore: Send + Sync {
    fn get(&self, namespace: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StateError>;
    fn scan(
        &self,
        namespace: &str,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Entry>, StateError>;
    /// Applies every write or none.
    fn commit(&self, namespace: &str, writes: &[Write]) -> Result<(), StateError>;
    /// How many keys start with `prefix`. By pages of `scan` unless the backend counts
    /// without reading the values.
    fn count(&self, namespace: &str, prefix: &str) -> Result<usize, StateError> {
        let mut count = 0;
        let mut after: Option<String> = None;
        loop {
            let page = self.scan(namespace, prefix, after.as_deref(), MAX_SCAN_LIMIT)?;
            count += page.len();
            match page.last() {
                Some(last) if page.len() == MAX_SCAN_LIMIT as usize => {
                    after = Some(last.key.clone());
                }
                _ => return Ok(count),
            }
        }
    }
    /// Whether the run this state belongs to may still write to Rock and PCO: an error when
    /// the run's lock was taken over (see [`lock::FencedState`]). Unfenced state (a test's, a
    /// dry run's) always may.
    fn fence(&self) -> Result<(), StateError> {
        Ok(())
    }
}

/// The most entries one `scan` may ask for (the contract says so): a scan's answer is held in
/// the host's memory and copied into the guest's, so it is bounded; the guest pages with
/// `after`.
pub const MAX_SCAN_LIMIT: u32 = 10_000;

fn to_guest(error: StateError) -> Error {
    Error::new(ErrorKind::Internal, error.to_string())
}

impl Host for HostState {
    async fn get(
        &mut self,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<Option<Vec<u8>>>, Error>> {
        Ok(self
            .capabilities
            .state
            .get(&self.namespace, &keys)
            .map_err(to_guest))
    }

    async fn scan(
        &mut self,
        prefix: String,
        after: Option<String>,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<Entry>, Error>> {
        if limit > MAX_SCAN_LIMIT {
            return Ok(Err(Error::new(
                ErrorKind::Invalid,
                format!(
                    "a state scan of {limit} entries is more than the host answers at once ({MAX_SCAN_LIMIT}): page with `after`"
                ),
            )));
        }
        Ok(self
            .capabilities
            .state
            .scan(&self.namespace, &prefix, after.as_deref(), limit)
            .map_err(to_guest))
    }

    async fn commit(&mut self, writes: Vec<Write>) -> wasmtime::Result<Result<(), Error>> {
        Ok(self
            .capabilities
            .state
            .commit(&self.namespace, &writes)
            .map_err(to_guest))
    }
}
