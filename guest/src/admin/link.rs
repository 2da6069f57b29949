//! Setting a person's PCO id by hand (R33).
//!
//! Checked first: the PCO id is a PCO id, the PCO person exists in the account, the Rock person
//! exists (a merged-away id names its survivor), and no other Rock person is linked to that PCO
//! person (two Rock people on one PCO record would overwrite each other every run).
//!
//! Then the link is replaced by a bare one: no merge base, no tags, no level, no photo. Those
//! belonged to the old PCO person; the next sync merges the Rock person with the new PCO person
//! as on a first link (no duplicate is created, no value is lost to a stale base) and records
//! what it finds. Linking to the PCO id already linked changes nothing. A create still in
//! flight for the Rock person (`intent/`) is dropped: the administrator has chosen.
//!
//! A link writes only the sync's own state, nothing in Rock or PCO, so it makes no run and no
//! report; the log records it by id. A link to someone the account does not sync is made, with
//! a warning: with downgrade allowed, the next sync archives that PCO person (R18).

use crate::api::Account;
use crate::bindings::rockpco::sync::rock::{Fate, GonePerson};
use crate::pco_people::parse_people_document;
use crate::ports::{Level, Ports};
use crate::store::{self, Record};
use crate::types::{Error, ErrorKind};

pub fn link(ports: &dyn Ports, account: &Account, rock_id: i64, pco_id: &str) -> Result<(), Error> {
    let pco_id = pco_id.trim();
    if !super::valid_pco_id(pco_id) {
        return Err(error(
            ErrorKind::Invalid,
            format!(
                "\"{pco_id}\" is not a PCO person id (PCO ids are numbers, the last part of the person's address in PCO People); Rock person {rock_id} was not linked"
            ),
        ));
    }
    check_rock_person(ports, rock_id, pco_id)?;
    check_pco_person(ports, account, rock_id, pco_id)?;
    let records = store::records(ports)?;
    if let Some((other, _)) = records
        .iter()
        .find(|(id, record)| **id != rock_id && record.pco == pco_id)
    {
        return Err(error(
            ErrorKind::Conflict,
            format!(
                "PCO person {pco_id} is already linked to Rock person {other}, so Rock person {rock_id} was not linked: if they are one person, merge them in Rock; if not, link Rock person {other} to their own PCO person first"
            ),
        ));
    }
    let previous = records.get(&rock_id).map(|r| r.pco.clone());
    if previous.as_deref() == Some(pco_id) {
        super::log(
            ports,
            Level::Info,
            "link unchanged: already linked",
            &[("rock", rock_id.to_string()), ("pco", pco_id.to_string())],
        );
        return Ok(());
    }
    let record = Record {
        pco: pco_id.to_string(),
        ..Default::default()
    };
    ports.state_commit(&[
        store::put_record(rock_id, &record),
        store::delete_intent(rock_id),
        // Linked now: nothing holds them back, and nothing is left to create.
        store::delete_waiting(rock_id),
        store::delete_create_anyway(rock_id),
    ])?;
    let mut fields = vec![
        ("account", account.name.clone()),
        ("rock", rock_id.to_string()),
        ("pco", pco_id.to_string()),
    ];
    if let Some(previous) = previous {
        fields.push(("previous_pco", previous));
    }
    super::log(ports, Level::Info, "linked by hand", &fields);
    warn_if_not_synced(ports, account, rock_id, pco_id)?;
    Ok(())
}

/// R4 (issue 24 item 20): lets the next sync create a person it held because PCO may already
/// hold them (same name and birth date): the administrator has judged them someone else.
/// Refused for a person Rock does not have, or one linked already (the link stands). Like a
/// link, it writes only the sync's own state.
pub fn allow_create(ports: &dyn Ports, account: &Account, rock_id: i64) -> Result<(), Error> {
    if !ports.people(&[rock_id])?.iter().any(|p| p.id == rock_id) {
        return Err(error(
            ErrorKind::NotFound,
            format!("there is no Rock person {rock_id}, so nobody was allowed to be created"),
        ));
    }
    if let Some(record) = store::records(ports)?.get(&rock_id) {
        return Err(error(
            ErrorKind::Conflict,
            format!(
                "Rock person {rock_id} is linked to PCO person {} already: nothing to create (link them to another PCO person with pcosync link {rock_id} PCO_ID)",
                record.pco
            ),
        ));
    }
    ports.state_commit(&[store::put_create_anyway(rock_id, "by hand")])?;
    super::log(
        ports,
        Level::Info,
        "create allowed by hand",
        &[
            ("account", account.name.clone()),
            ("rock", rock_id.to_string()),
        ],
    );
    Ok(())
}

/// R18, R33: a hand link to a Rock person the account does not sync: with downgrade allowed,
/// the next sync archives the PCO person (no tag, no synced group); without it, the link
/// sits unused. Said at link time, so the administrator can add them to a group first.
fn warn_if_not_synced(
    ports: &dyn Ports,
    account: &Account,
    rock_id: i64,
    pco_id: &str,
) -> Result<(), Error> {
    let synced = crate::synced::who_is_synced(ports, account)?;
    if synced.get(&rock_id).is_some_and(|s| !s.leftover_tags_only) {
        return Ok(());
    }
    let consequence = if account.allow_downgrade {
        format!(
            "the next sync archives PCO person {pco_id} in Services (the account allows downgrades)"
        )
    } else {
        "the link is not used until they are".to_string()
    };
    super::log(
        ports,
        Level::Warn,
        &format!(
            "Rock person {rock_id} is not synced to the account \"{}\" (no PCO tag, no synced group): {consequence}; add them to a synced group or give them a PCO tag",
            account.name
        ),
        &[("rock", rock_id.to_string()), ("pco", pco_id.to_string())],
    );
    Ok(())
}

fn check_rock_person(ports: &dyn Ports, rock_id: i64, pco_id: &str) -> Result<(), Error> {
    if ports.people(&[rock_id])?.iter().any(|p| p.id == rock_id) {
        return Ok(());
    }
    // Best effort: a lookup failure still leaves the clear "no such person".
    let gone = GonePerson {
        id: rock_id,
        primary_alias: None,
    };
    let fate = ports
        .follow_merges(&[gone])
        .ok()
        .and_then(|merges| merges.into_iter().find(|m| m.old_id == rock_id))
        .map(|m| m.fate);
    Err(error(
        ErrorKind::NotFound,
        match fate {
            Some(Fate::Merged(survivor)) => format!(
                "Rock person {rock_id} was merged into Rock person {survivor}: link {survivor} to PCO person {pco_id} instead"
            ),
            Some(Fate::Deceased) => format!(
                "Rock person {rock_id} is marked deceased in Rock, so PCO person {pco_id} was not linked to them"
            ),
            _ => format!(
                "there is no Rock person {rock_id}, so PCO person {pco_id} was not linked to them"
            ),
        },
    ))
}

fn check_pco_person(
    ports: &dyn Ports,
    account: &Account,
    rock_id: i64,
    pco_id: &str,
) -> Result<(), Error> {
    let response = ports
        .pco_send(&account.name, &super::person_request(pco_id))
        .map_err(|e| match e.kind {
            ErrorKind::NotFound => error(
                ErrorKind::NotFound,
                format!(
                    "there is no PCO person {pco_id} in the account \"{}\", so Rock person {rock_id} was not linked to them",
                    account.name
                ),
            ),
            kind => error(
                kind,
                format!(
                    "could not check PCO person {pco_id} (Rock person {rock_id} was not linked): {}",
                    e.message
                ),
            ),
        })?;
    let (people, _) = parse_people_document(&response.body)?;
    if people.iter().any(|p| p.id == pco_id) {
        Ok(())
    } else {
        Err(error(
            ErrorKind::NotFound,
            format!(
                "PCO answered for person {pco_id} with another record, so Rock person {rock_id} was not linked"
            ),
        ))
    }
}

fn error(kind: ErrorKind, message: String) -> Error {
    Error { kind, message }
}
