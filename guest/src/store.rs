//! The guest's durable state, in the account's key space (the host scopes it per account).
//!
//! | key | value |
//! | --- | --- |
//! | `person/{rock id}` | [`Record`]: the link to PCO (R5) and the values of the last sync (R12) |
//! | `intent/{rock id}` | a create in flight: written before the create, removed after (R6) |
//! | `held/{run id}` | a run held by the safety brake, waiting for confirmation (R24) |
//! | `cursor` | when the last successful run started, for updates-only runs (R21) |
//!
//! Values are JSON, so a newer guest can read what an older one wrote.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::bindings::rockpco::sync::state::{Entry, Write};
use crate::fields::Snapshot;
use crate::ports::Ports;
use crate::types::{Error, ErrorKind, PermissionLevel};

const PERSON: &str = "person/";
const INTENT: &str = "intent/";
const HELD: &str = "held/";
const CURSOR: &str = "cursor";
const SCAN_PAGE: u32 = 1000;

/// What the sync remembers of one linked person.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The PCO person id this Rock person is linked to.
    pub pco: String,
    /// The field values both sides held after the last successful sync of this person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Snapshot>,
    /// The account's tags both sides held then (`tag group:tag`).
    #[serde(default)]
    pub tags: BTreeSet<String>,
    /// The level the sync last set (or found) in PCO; None when archived.
    #[serde(default, with = "level_name")]
    pub level: Option<PermissionLevel>,
    /// Rock's photo id when the photo was last copied to PCO.
    #[serde(default)]
    pub photo: Option<i64>,
}

mod level_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::services::{level_name, parse_level};
    use crate::types::PermissionLevel;

    pub fn serialize<S: Serializer>(
        level: &Option<PermissionLevel>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match level {
            Some(level) => s.serialize_some(level_name(*level)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<PermissionLevel>, D::Error> {
        Ok(Option::<String>::deserialize(d)?
            .as_deref()
            .and_then(parse_level))
    }
}

/// A run held by the brake: what it would have done, for the administrator to confirm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub started_at: String,
    pub changed: u32,
    pub lowered: u32,
    pub archived: u32,
    pub synced: u32,
}

fn corrupt(key: &str, what: impl std::fmt::Display) -> Error {
    Error {
        kind: ErrorKind::Internal,
        message: format!("the state entry `{key}` is unreadable ({what}); it was not changed"),
    }
}

fn scan_all(ports: &dyn Ports, prefix: &str) -> Result<Vec<Entry>, Error> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = ports.state_scan(prefix, after.as_deref(), SCAN_PAGE)?;
        let full = page.len() == SCAN_PAGE as usize;
        after = page.last().map(|e| e.key.clone());
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

fn id_of(key: &str, prefix: &str) -> Result<i64, Error> {
    key[prefix.len()..]
        .parse()
        .map_err(|_| corrupt(key, "not a person id"))
}

/// Every linked person's record, by Rock id.
pub fn records(ports: &dyn Ports) -> Result<BTreeMap<i64, Record>, Error> {
    scan_all(ports, PERSON)?
        .into_iter()
        .map(|Entry { key, value }| {
            let record = serde_json::from_slice(&value).map_err(|e| corrupt(&key, e))?;
            Ok((id_of(&key, PERSON)?, record))
        })
        .collect()
}

/// Rock ids with a create in flight.
pub fn intents(ports: &dyn Ports) -> Result<BTreeSet<i64>, Error> {
    scan_all(ports, INTENT)?
        .iter()
        .map(|e| id_of(&e.key, INTENT))
        .collect()
}

pub fn held(ports: &dyn Ports, run_id: &str) -> Result<Option<Held>, Error> {
    let key = format!("{HELD}{run_id}");
    let values = ports.state_get(std::slice::from_ref(&key))?;
    match values.into_iter().next().flatten() {
        Some(value) => serde_json::from_slice(&value)
            .map(Some)
            .map_err(|e| corrupt(&key, e)),
        None => Ok(None),
    }
}

pub fn cursor(ports: &dyn Ports) -> Result<Option<String>, Error> {
    let values = ports.state_get(&[CURSOR.to_string()])?;
    Ok(values
        .into_iter()
        .next()
        .flatten()
        .and_then(|v| String::from_utf8(v).ok()))
}

pub fn put_record(rock_id: i64, record: &Record) -> Write {
    Write::Put(Entry {
        key: format!("{PERSON}{rock_id}"),
        value: serde_json::to_vec(record).unwrap_or_default(),
    })
}

pub fn delete_record(rock_id: i64) -> Write {
    Write::Delete(format!("{PERSON}{rock_id}"))
}

pub fn put_intent(rock_id: i64, started_at: &str) -> Write {
    Write::Put(Entry {
        key: format!("{INTENT}{rock_id}"),
        value: started_at.as_bytes().to_vec(),
    })
}

pub fn delete_intent(rock_id: i64) -> Write {
    Write::Delete(format!("{INTENT}{rock_id}"))
}

pub fn put_held(run_id: &str, held: &Held) -> Write {
    Write::Put(Entry {
        key: format!("{HELD}{run_id}"),
        value: serde_json::to_vec(held).unwrap_or_default(),
    })
}

pub fn delete_held(run_id: &str) -> Write {
    Write::Delete(format!("{HELD}{run_id}"))
}

pub fn put_cursor(started_at: &str) -> Write {
    Write::Put(Entry {
        key: CURSOR.to_string(),
        value: started_at.as_bytes().to_vec(),
    })
}
