//! Run history and the audit of every write (R25), and reverting a run.

use crate::api::{Account, Report, RevertOptions, RunDetail};
use crate::ports::Ports;
use crate::types::{Error, ErrorKind};

fn not_yet(what: &str) -> Error {
    Error {
        kind: ErrorKind::Internal,
        message: format!("{what} is not implemented by this guest yet"),
    }
}

pub fn run_detail(
    _ports: &dyn Ports,
    _account: &Account,
    _run_id: &str,
) -> Result<RunDetail, Error> {
    Err(not_yet("run history"))
}

pub fn revert(
    _ports: &dyn Ports,
    _account: &Account,
    _options: &RevertOptions,
) -> Result<Report, Error> {
    Err(not_yet("revert"))
}
