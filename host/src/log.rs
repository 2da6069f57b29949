//! The `log` capability: the guest's events and progress, routed to a [`Reporter`].

use crate::bindings::log::{Host, Level};
use crate::ops::text::printable;
use crate::runtime::HostState;

/// Where the guest's events and progress go: tracing and a progress bar in the CLI, a
/// recorder in tests.
pub trait Reporter: Send + Sync {
    fn event(&self, level: Level, message: &str, fields: &[(String, String)]);
    fn progress(&self, task: &str, done: u64, total: Option<u64>);
}

/// Sends events to `tracing`, under the `guest` target.
pub struct TracingReporter;

impl Reporter for TracingReporter {
    fn event(&self, level: Level, message: &str, fields: &[(String, String)]) {
        let fields = render_fields(fields);
        match level {
            Level::Trace => tracing::trace!(target: "guest", "{message}{fields}"),
            Level::Debug => tracing::debug!(target: "guest", "{message}{fields}"),
            Level::Info => tracing::info!(target: "guest", "{message}{fields}"),
            Level::Warn => tracing::warn!(target: "guest", "{message}{fields}"),
            Level::Error => tracing::error!(target: "guest", "{message}{fields}"),
        }
    }

    fn progress(&self, task: &str, done: u64, total: Option<u64>) {
        match total {
            Some(total) => tracing::debug!(target: "guest", "{task}: {done}/{total}"),
            None => tracing::debug!(target: "guest", "{task}: {done}"),
        }
    }
}

fn render_fields(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .map(|(key, value)| format!(" {key}={value}"))
        .collect()
}

impl Host for HostState {
    async fn event(
        &mut self,
        level: Level,
        message: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        // The guest's words (and the Rock and PCO values in them) reach terminals and log
        // files: no control character gets through to forge a line or drive a terminal.
        let fields: Vec<(String, String)> = fields
            .iter()
            .map(|(key, value)| (printable(key), printable(value)))
            .collect();
        self.capabilities
            .reporter
            .event(level, &printable(&message), &fields);
        Ok(())
    }

    async fn progress(
        &mut self,
        task: String,
        done: u64,
        total: Option<u64>,
    ) -> wasmtime::Result<()> {
        self.capabilities
            .reporter
            .progress(&printable(&task), done, total);
        Ok(())
    }
}
