//! Email from PCO and Rock logins (issue 24 item 15, R12, R53).
//!
//! Rock sends a password reset to a person's email, so whoever can edit a linked person's
//! email in PCO could take over their Rock login once the sync copies it. A PCO-side email
//! change for a Rock person who has a Rock login (a `UserLogin`), or whose account protection
//! is Medium or above, is not written to Rock: it is held and flagged, run after run, until
//! an administrator confirms it (`pcosync email confirm`), and the next sync writes it.
//!
//! While held, the merge base keeps Rock's email, so each run sees PCO's change again, and
//! neither side is written: PCO keeps its new address, Rock its old one.
//!
//! The state keeps, per held change, the PCO person and the address waiting (a synced field,
//! R53): `email-held/{rock id}`, and once an administrator confirms it the same value at
//! `email-confirmed/{rock id}`. A confirmation applies to that address only: PCO changing it
//! again holds the new one.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::api::Account;
use crate::bindings::rockpco::sync::rock::{Person, Protection};
use crate::bindings::rockpco::sync::state::{Entry, Write};
use crate::fields::Field;
use crate::plan::PersonPlan;
use crate::ports::Ports;
use crate::types::Error;

pub const HELD: &str = "email-held/";
pub const CONFIRMED: &str = "email-confirmed/";
const SCAN_PAGE: u32 = 1000;

/// A PCO email change waiting for an administrator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldEmail {
    pub pco: String,
    /// The address PCO holds (none: PCO removed it).
    pub email: Option<String>,
}

/// Why a person's email from PCO waits for an administrator, if it does.
fn guard_reason(person: &Person, logins: &Logins) -> Option<String> {
    let protection = match person.protection {
        Protection::Low => None,
        Protection::Medium => Some("Medium"),
        Protection::High => Some("High"),
        Protection::Extreme => Some("Extreme"),
    };
    if let Some(level) = protection {
        return Some(format!("their Rock account protection is {level}"));
    }
    match logins {
        Logins::Read(with) if with.contains(&person.id) => Some("they have a Rock login".into()),
        Logins::Read(_) => None,
        Logins::Unreadable(why) => Some(format!(
            "Rock could not say whether they have a Rock login ({why}; the REST key needs View on UserLogins)"
        )),
    }
}

enum Logins {
    Read(BTreeSet<i64>),
    Unreadable(String),
}

/// Holds, in `plans`, the PCO email changes of people a changed email could take a Rock
/// login from, flags each, and returns the state writes that keep the holds (committed with
/// the run; a dry run commits nothing).
pub fn hold(
    ports: &dyn Ports,
    account: &Account,
    rock: &BTreeMap<i64, Person>,
    plans: &mut [PersonPlan],
) -> Result<Vec<Write>, Error> {
    let held = read_all(ports, HELD)?;
    let confirmed = read_all(ports, CONFIRMED)?;
    let changing: Vec<usize> = (0..plans.len())
        .filter(|i| email_to_rock(&plans[*i]).is_some())
        .collect();
    let unprotected: Vec<i64> = changing
        .iter()
        .map(|i| plans[*i].rock_id)
        .filter(|id| {
            rock.get(id)
                .is_some_and(|p| p.protection == Protection::Low)
        })
        .collect();
    let logins = if unprotected.is_empty() {
        Logins::Read(BTreeSet::new())
    } else {
        match ports.people_with_logins(&unprotected) {
            Ok(with) => Logins::Read(with.into_iter().collect()),
            Err(error) => Logins::Unreadable(error.message),
        }
    };
    let mut writes = Vec::new();
    let mut still_held = BTreeSet::new();
    for index in changing {
        let plan = &mut plans[index];
        let Some(person) = rock.get(&plan.rock_id) else {
            continue;
        };
        let Some(reason) = guard_reason(person, &logins) else {
            continue;
        };
        let waiting = HeldEmail {
            pco: plan.pco_id.clone().unwrap_or_default(),
            email: email_to_rock(plan).flatten(),
        };
        if confirmed.get(&plan.rock_id) == Some(&waiting) {
            // Confirmed by an administrator: written this run, the hold ends (below).
            plan.flags
                .push("the email from PCO an administrator confirmed is written to Rock".into());
            continue;
        }
        keep_rock_email(plan);
        plan.flags.push(format!(
            "the email changed in PCO, but {reason}: a changed email could take over their Rock login (Rock sends password resets to it), so it is not written to Rock until an administrator confirms it: `pcosync email confirm --account \"{}\" {}`",
            account.name, plan.rock_id
        ));
        still_held.insert(plan.rock_id);
        if held.get(&plan.rock_id) != Some(&waiting) {
            writes.push(put(HELD, plan.rock_id, &waiting));
        }
    }
    writes.extend(ended_holds(plans, &held, &confirmed, &still_held));
    Ok(writes)
}

/// Holds that end this run, removed with their confirmations: of people whose email from
/// PCO is written this run (confirmed, or no longer guarded), or whose plan carries none any
/// more (changed back in PCO, or changed in Rock). People this run did not merge keep theirs.
fn ended_holds(
    plans: &[PersonPlan],
    held: &BTreeMap<i64, HeldEmail>,
    confirmed: &BTreeMap<i64, HeldEmail>,
    still_held: &BTreeSet<i64>,
) -> Vec<Write> {
    let mut writes = Vec::new();
    for plan in plans {
        if still_held.contains(&plan.rock_id) || plan.fields.is_none() {
            continue;
        }
        if held.contains_key(&plan.rock_id) {
            writes.push(Write::Delete(format!("{HELD}{}", plan.rock_id)));
        }
        if confirmed.contains_key(&plan.rock_id) {
            writes.push(Write::Delete(format!("{CONFIRMED}{}", plan.rock_id)));
        }
    }
    writes
}

/// The email the plan writes to Rock: Some(value) when it writes one.
fn email_to_rock(plan: &PersonPlan) -> Option<Option<String>> {
    plan.fields
        .as_ref()?
        .to_rock
        .iter()
        .find(|(field, _)| *field == Field::Email)
        .map(|(_, value)| value.clone())
}

/// Drops the email from the plan's Rock writes; the merge base keeps Rock's email, so the
/// next run sees PCO's change again and writes neither side.
fn keep_rock_email(plan: &mut PersonPlan) {
    let rock_email = plan
        .before
        .as_ref()
        .and_then(|(rock, _)| rock.get(Field::Email).map(str::to_string));
    if let Some(merge) = plan.fields.as_mut() {
        merge.to_rock.retain(|(field, _)| *field != Field::Email);
        merge.to_pco.retain(|(field, _)| *field != Field::Email);
        merge.base.set(Field::Email, rock_email.as_deref());
    }
}

fn put(prefix: &str, rock_id: i64, held: &HeldEmail) -> Write {
    Write::Put(Entry {
        key: format!("{prefix}{rock_id}"),
        value: serde_json::to_vec(held).unwrap_or_default(),
    })
}

/// Every entry under `prefix`, by Rock id; unreadable ones are passed over (a new hold
/// replaces them).
fn read_all(ports: &dyn Ports, prefix: &str) -> Result<BTreeMap<i64, HeldEmail>, Error> {
    let mut found = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = ports.state_scan(prefix, after.as_deref(), SCAN_PAGE)?;
        let full = page.len() == SCAN_PAGE as usize;
        after = page.last().map(|e| e.key.clone());
        for Entry { key, value } in page {
            let Ok(rock_id) = key[prefix.len()..].parse::<i64>() else {
                continue;
            };
            if let Ok(held) = serde_json::from_slice::<HeldEmail>(&value) {
                found.insert(rock_id, held);
            }
        }
        if !full {
            return Ok(found);
        }
    }
}
