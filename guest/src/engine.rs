//! One run of the engine: gathers what both sides hold, decides, and (unless dry) writes.

use std::collections::BTreeMap;

use crate::api::{Account, Action, Counts, PersonOutcome, Report, SyncOptions};
use crate::bindings::rockpco::sync::rock::Person;
use crate::bindings::rockpco::sync::state::{Entry, Write};
use crate::linking::{Index, Match};
use crate::pco_api;
use crate::ports::{Level, Ports};
use crate::synced::who_is_synced;
use crate::types::{Error, ErrorKind};

/// How many Rock people to ask for in one call.
const PEOPLE_BATCH: usize = 500;
/// How many state entries to read in one scan.
const SCAN_PAGE: u32 = 1000;
const LINK_PREFIX: &str = "link/";

/// Checks the guest's own wiring without touching any system: the host calls this before it
/// puts a new guest in service.
pub fn self_check() -> Result<(), Error> {
    let parsed = serde_json::from_str::<serde_json::Value>(r#"{"ok":true}"#)
        .map_err(|e| internal(&format!("self-check: JSON support broken: {e}")))?;
    if parsed["ok"] != serde_json::Value::Bool(true) {
        return Err(internal("self-check: JSON support returned a wrong value"));
    }
    Ok(())
}

pub fn sync(ports: &dyn Ports, account: &Account, options: &SyncOptions) -> Result<Report, Error> {
    ports.log(
        Level::Info,
        "sync started",
        &[
            ("account".into(), account.name.clone()),
            ("run".into(), options.run_id.clone()),
            ("dry_run".into(), options.dry_run.to_string()),
        ],
    );
    let synced = who_is_synced(ports, account)?;
    let ids: Vec<i64> = synced.keys().copied().collect();
    let people = load_people(ports, &ids)?;
    let links = load_links(ports)?;
    let pco_people = pco_api::fetch_all_people(ports, &account.name)?;
    let index = Index::new(&pco_people);

    let mut report = Report {
        run_id: options.run_id.clone(),
        account: account.name.clone(),
        dry_run: options.dry_run,
        held: false,
        counts: Counts {
            synced: synced.len() as u32,
            linked: 0,
            created: 0,
            updated_to_pco: 0,
            updated_to_rock: 0,
            conflicts: 0,
            raised: 0,
            lowered: 0,
            archived: 0,
            skipped: 0,
            failed: 0,
        },
        people: Vec::new(),
    };
    let mut writes = Vec::new();
    for person in &people {
        if links.contains_key(&person.id) {
            continue;
        }
        let (pco_id, action) = match index.find(person) {
            Match::One(pco_id) => {
                report.counts.linked += 1;
                writes.push(link_write(person.id, &pco_id));
                (Some(pco_id.clone()), Action::Linked(pco_id))
            }
            Match::Protected => {
                report.counts.skipped += 1;
                let why = "account protection is High or Extreme: link this person by hand";
                (None, Action::Skipped(why.into()))
            }
            Match::Nobody | Match::Several(_) if options.dry_run => {
                report.counts.created += 1;
                (None, Action::Created(String::new()))
            }
            Match::Nobody | Match::Several(_) => {
                report.counts.skipped += 1;
                let why = "no single PCO match; this guest version does not create PCO people";
                (None, Action::Skipped(why.into()))
            }
        };
        report.people.push(PersonOutcome {
            rock_id: Some(person.id),
            pco_id,
            actions: vec![action],
        });
    }
    if !options.dry_run && !writes.is_empty() {
        ports.state_commit(&writes)?;
    }
    ports.log(
        Level::Info,
        "sync finished",
        &[("run".into(), options.run_id.clone())],
    );
    Ok(report)
}

fn load_people(ports: &dyn Ports, ids: &[i64]) -> Result<Vec<Person>, Error> {
    let mut people = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(PEOPLE_BATCH) {
        people.extend(ports.people(chunk)?);
        ports.progress(
            "reading Rock people",
            people.len() as u64,
            Some(ids.len() as u64),
        );
    }
    Ok(people)
}

/// Every stored link of the account: Rock id -> PCO id (R5).
pub fn load_links(ports: &dyn Ports) -> Result<BTreeMap<i64, String>, Error> {
    let mut links = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = ports.state_scan(LINK_PREFIX, after.as_deref(), SCAN_PAGE)?;
        for Entry { key, value } in &page {
            let rock_id = key[LINK_PREFIX.len()..]
                .parse::<i64>()
                .map_err(|_| internal(&format!("state holds a malformed link key `{key}`")))?;
            let pco_id = String::from_utf8(value.clone())
                .map_err(|_| internal(&format!("state holds a malformed link at `{key}`")))?;
            links.insert(rock_id, pco_id);
        }
        match page.last() {
            Some(last) if page.len() == SCAN_PAGE as usize => after = Some(last.key.clone()),
            _ => return Ok(links),
        }
    }
}

fn link_write(rock_id: i64, pco_id: &str) -> Write {
    Write::Put(Entry {
        key: format!("{LINK_PREFIX}{rock_id}"),
        value: pco_id.as_bytes().to_vec(),
    })
}

fn internal(message: &str) -> Error {
    Error {
        kind: ErrorKind::Internal,
        message: message.to_string(),
    }
}
