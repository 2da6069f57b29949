//! The people list refreshed from the groups (R34).
//!
//! | key | value |
//! | --- | --- |
//! | `roster/{rock id}` | `{"level": "Viewer"}`: the level the groups gave at the last refresh |
//! | `roster-at` | when the list was last refreshed (RFC 3339) |
//!
//! A refresh reads who the groups sync now and rewrites the list: newcomers are added, people
//! who left are dropped, changed levels are updated. It writes nothing to PCO and leaves the
//! links alone; the next sync links or creates the newcomers. The status lists everyone on
//! it, so a person refreshed onto the list keeps a row until the next refresh, even after
//! leaving the groups before any sync.
//!
//! The list is a cache the refresh rebuilds whole: an unreadable entry is dropped, not fatal.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::{Account, AccountStatus, StatusOptions};
use crate::bindings::rockpco::sync::state::{Entry, Write};
use crate::ports::{Level, Ports};
use crate::services::{level_name, parse_level};
use crate::synced::who_is_synced;
use crate::types::{Error, PermissionLevel};

const ROSTER: &str = "roster/";
const ROSTER_AT: &str = "roster-at";
const SCAN_PAGE: u32 = 1000;
/// How many runs the status returned by a refresh lists.
const REFRESH_RUNS: u32 = 10;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Entered {
    #[serde(default)]
    level: Option<String>,
}

/// The stored list: Rock id -> the level the groups gave at the last refresh.
pub fn read(ports: &dyn Ports) -> Result<BTreeMap<i64, Option<PermissionLevel>>, Error> {
    let mut list = BTreeMap::new();
    for Entry { key, value } in scan(ports)? {
        let id = id_of(&key).ok();
        let entered = serde_json::from_slice::<Entered>(&value).ok();
        match (id, entered) {
            (Some(id), Some(entered)) => {
                list.insert(id, entered.level.as_deref().and_then(parse_level));
            }
            _ => ports.log(
                Level::Warn,
                "an unreadable people-list entry was ignored; the next refresh rewrites it",
                &[("key".to_string(), key.clone())],
            ),
        }
    }
    Ok(list)
}

pub fn refresh(ports: &dyn Ports, account: &Account) -> Result<AccountStatus, Error> {
    let mut synced = who_is_synced(ports, account)?;
    crate::synced::without_unlinked_leftovers(&mut synced, &crate::store::records(ports)?);
    // The stored values by Rock id, and keys that are not a person id (dropped: the list is
    // rebuilt whole).
    let mut old: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
    let mut stray: Vec<String> = Vec::new();
    for Entry { key, value } in scan(ports)? {
        match id_of(&key) {
            Ok(id) => {
                old.insert(id, value);
            }
            Err(_) => stray.push(key),
        }
    }
    let mut writes = Vec::new();
    let (mut added, mut changed) = (0u32, 0u32);
    for (id, person) in &synced {
        let entered = Entered {
            level: Some(level_name(person.level).to_string()),
        };
        let value = serde_json::to_vec(&entered).unwrap_or_default();
        match old.get(id) {
            Some(stored) if *stored == value => continue,
            Some(_) => changed += 1,
            None => added += 1,
        }
        writes.push(Write::Put(Entry {
            key: format!("{ROSTER}{id}"),
            value,
        }));
    }
    let mut removed = 0u32;
    for key in old.keys().filter(|id| !synced.contains_key(id)) {
        removed += 1;
        writes.push(Write::Delete(format!("{ROSTER}{key}")));
    }
    writes.extend(stray.into_iter().map(Write::Delete));
    writes.push(Write::Put(Entry {
        key: ROSTER_AT.to_string(),
        value: crate::clock::now_rfc3339().into_bytes(),
    }));
    ports.state_commit(&writes)?;
    super::log(
        ports,
        Level::Info,
        "people list refreshed from the groups",
        &[
            ("account", account.name.clone()),
            ("people", synced.len().to_string()),
            ("added", added.to_string()),
            ("changed", changed.to_string()),
            ("removed", removed.to_string()),
        ],
    );
    let options = StatusOptions {
        with_values: false,
        rock_ids: Vec::new(),
        runs: REFRESH_RUNS,
    };
    super::status::build(ports, account, &options, &synced)
}

/// The Rock id in a `roster/` key (a key without the prefix is no id).
fn id_of(key: &str) -> Result<i64, std::num::ParseIntError> {
    key.strip_prefix(ROSTER).unwrap_or("-").parse()
}

fn scan(ports: &dyn Ports) -> Result<Vec<Entry>, Error> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = ports.state_scan(ROSTER, after.as_deref(), SCAN_PAGE)?;
        let full = page.len() == SCAN_PAGE as usize;
        after = page.last().map(|e| e.key.clone());
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}
