//! The one-time import of PCO people into Rock (R40-R42).

use crate::api::{Account, ImportOptions, Report};
use crate::ports::Ports;
use crate::types::{Error, ErrorKind};

pub fn import(
    _ports: &dyn Ports,
    _account: &Account,
    _options: &ImportOptions,
) -> Result<Report, Error> {
    Err(Error {
        kind: ErrorKind::Internal,
        message: "import is not implemented by this guest yet".into(),
    })
}
