//! The administration of an account (R32-R35): its status, a refresh of its people list,
//! re-linking by hand, and deleting PCO records.
//!
//! - [`status`] (R32) is read live: the groups syncing to the account as Rock configures them
//!   now, and the people as the state (the links and the values saved at the last sync) and
//!   Rock's groups now see them. A person who joined a synced group since the last sync is
//!   listed at once, without a PCO id; one who left keeps their row with no Rock level.
//! - [`refresh`] (R34) rebuilds the stored people list (`roster/{rock id}`, see `roster`) from
//!   the groups now, writes nothing to PCO, and answers with the status.
//! - [`link`] (R33) sets a person's PCO id by hand.
//! - [`delete`] (R35) deletes PCO people and forgets their links, as an audited run.
//!
//! Everything here names people by id in the log (R53); names appear only in the status the
//! administrator asked for.

mod delete;
mod link;
mod roster;
mod status;

use crate::api::{Account, AccountStatus, AdminOptions, Report, StatusOptions};
use crate::ports::Ports;
use crate::types::Error;

/// What the account syncs and with whom (R32), with its recent runs.
pub fn status(
    ports: &dyn Ports,
    account: &Account,
    options: &StatusOptions,
) -> Result<AccountStatus, Error> {
    status::status(ports, account, options)
}

/// Rebuilds the people list from the groups now (R34); writes nothing to PCO.
pub fn refresh(ports: &dyn Ports, account: &Account) -> Result<AccountStatus, Error> {
    roster::refresh(ports, account)
}

/// Links a Rock person to a PCO person by hand (R33).
pub fn link(ports: &dyn Ports, account: &Account, rock_id: i64, pco_id: &str) -> Result<(), Error> {
    link::link(ports, account, rock_id, pco_id)
}

/// Lets the next sync create a person it holds because PCO may already hold them (R4).
pub fn allow_create(ports: &dyn Ports, account: &Account, rock_id: i64) -> Result<(), Error> {
    link::allow_create(ports, account, rock_id)
}

/// Deletes PCO people from PCO People (and so from Services) and forgets their links (R35).
pub fn delete(
    ports: &dyn Ports,
    account: &Account,
    pco_ids: &[String],
    options: &AdminOptions,
) -> Result<Report, Error> {
    delete::delete(ports, account, pco_ids, options)
}

/// A PCO person id as PCO writes them: digits only. Anything else is refused before it can
/// become part of a request path.
fn valid_pco_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit())
}

/// `GET /people/v2/people/{id}`, at the People version this guest reads.
fn person_request(id: &str) -> crate::bindings::rockpco::sync::pco::Request {
    crate::pco_people::get_person(id)
}

fn log(ports: &dyn Ports, level: crate::ports::Level, message: &str, fields: &[(&str, String)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    ports.log(level, message, &fields);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_numeric_pco_ids_reach_a_request_path() {
        assert!(valid_pco_id("12345678"));
        for bad in ["", "12/../34", "abc", "1 2", "-5", "123456789012345678901"] {
            assert!(!valid_pco_id(bad), "{bad:?}");
        }
    }
}
