//! The administration of an account (R32-R35): its status, a refresh of its people list,
//! re-linking by hand, and deleting PCO records.

use crate::api::{Account, AccountStatus, AdminOptions, Report, StatusOptions};
use crate::ports::Ports;
use crate::types::{Error, ErrorKind};

fn not_yet(what: &str) -> Error {
    Error {
        kind: ErrorKind::Internal,
        message: format!("{what} is not implemented by this guest yet"),
    }
}

pub fn status(
    _ports: &dyn Ports,
    _account: &Account,
    _options: &StatusOptions,
) -> Result<AccountStatus, Error> {
    Err(not_yet("status"))
}

pub fn refresh(_ports: &dyn Ports, _account: &Account) -> Result<AccountStatus, Error> {
    Err(not_yet("refresh"))
}

pub fn link(
    _ports: &dyn Ports,
    _account: &Account,
    _rock_id: i64,
    _pco_id: &str,
) -> Result<(), Error> {
    Err(not_yet("link"))
}

pub fn delete(
    _ports: &dyn Ports,
    _account: &Account,
    _pco_ids: &[String],
    _options: &AdminOptions,
) -> Result<Report, Error> {
    Err(not_yet("delete"))
}
