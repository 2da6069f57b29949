//! What an administrator chooses from when setting an account up (R31, R36): the account's
//! real welcome email templates and tags in PCO.

use crate::api::{Account, AccountChoices};
use crate::ports::Ports;
use crate::types::{Error, ErrorKind};

pub fn choices(_ports: &dyn Ports, _account: &Account) -> Result<AccountChoices, Error> {
    Err(Error {
        kind: ErrorKind::Internal,
        message: "choices is not implemented by this guest yet".into(),
    })
}
