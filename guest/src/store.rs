//! The guest's durable state, in the account's key space (the host scopes it per account).
//!
//! | key | value |
//! | --- | --- |
//! | `person/{rock id}` | [`Record`]: the link to PCO (R5) and the values of the last sync (R12) |
//! | `intent/{rock id}` | a create in flight: written before the create, removed after (R6) |
//! | `held/{run id}` | a run held by the safety brake, waiting for confirmation (R24) |
//! | `cursor` | when the last successful run started (the host's clock; `status` shows it) |
//! | `pco-cursor` | PCO's clock at the last successful run: the newest `updated_at` it read, where the next updates-only run reads from (R21) |
//! | `waiting/{rock id}` | why the last sync left this synced person unlinked (R32: the status says it) |
//! | `create-anyway/{rock id}` | an administrator chose to create this person though PCO may hold them (R4) |
//! | `schema` | the version of this layout the state was written with ([`SCHEMA`]) |
//!
//! Values are JSON, so a newer guest can read what an older one wrote.
//!
//! Schema versions: a sync opens the state through [`versioned`], which migrates state written
//! by an older guest forward (one [`MIGRATIONS`] step per version, all in one commit with the
//! new `schema`), and refuses state written by a newer guest rather than corrupt it. State
//! from before versioning has no `schema` key and counts as version 0. A fresh account's first
//! commit carries the `schema` key with it, so no state exists unversioned once written.
//!
//! A dry run writes nothing, migrations included: it reads older state as it is, so every
//! reader here must keep reading the layouts the migrations upgrade from.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::bindings::rockpco::sync::state::{Entry, Write};
use crate::bindings::rockpco::sync::{pco, rock};
use crate::fields::Snapshot;
use crate::ports::{Level, Ports};
use crate::types::{Error, ErrorKind, PermissionLevel};

const PERSON: &str = "person/";
const INTENT: &str = "intent/";
const HELD: &str = "held/";
const CURSOR: &str = "cursor";
const PCO_CURSOR: &str = "pco-cursor";
const WAITING: &str = "waiting/";
const CREATE_ANYWAY: &str = "create-anyway/";
const ARCHIVE_REFUSED: &str = "archive-refused";

/// How long a refusal to archive stands before archiving is tried again.
const ARCHIVE_REFUSAL_DAYS: i64 = 7;
const SCHEMA_KEY: &str = "schema";
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
    /// Rock's primary alias of the person when last synced (`PrimaryAliasId`): once Rock
    /// merges them away, it is how the survivor is found (R7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<i64>,
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
    /// A digest of every write the held plan makes: a confirmation applies that plan only
    /// (R24). Runs held by older guests have none, and are held again when confirmed.
    #[serde(default)]
    pub fingerprint: String,
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

/// Why the last sync left each of these synced people unlinked (skipped), by Rock id.
pub fn waiting(ports: &dyn Ports) -> Result<BTreeMap<i64, String>, Error> {
    scan_all(ports, WAITING)?
        .into_iter()
        .map(|Entry { key, value }| {
            Ok((
                id_of(&key, WAITING)?,
                String::from_utf8_lossy(&value).into_owned(),
            ))
        })
        .collect()
}

pub fn put_waiting(rock_id: i64, why: &str) -> Write {
    Write::Put(Entry {
        key: format!("{WAITING}{rock_id}"),
        value: why.as_bytes().to_vec(),
    })
}

pub fn delete_waiting(rock_id: i64) -> Write {
    Write::Delete(format!("{WAITING}{rock_id}"))
}

/// Rock ids an administrator chose to create though PCO may already hold them (R4).
pub fn create_anyway(ports: &dyn Ports) -> Result<BTreeSet<i64>, Error> {
    scan_all(ports, CREATE_ANYWAY)?
        .iter()
        .map(|e| id_of(&e.key, CREATE_ANYWAY))
        .collect()
}

pub fn put_create_anyway(rock_id: i64, at: &str) -> Write {
    Write::Put(Entry {
        key: format!("{CREATE_ANYWAY}{rock_id}"),
        value: at.as_bytes().to_vec(),
    })
}

pub fn delete_create_anyway(rock_id: i64) -> Write {
    Write::Delete(format!("{CREATE_ANYWAY}{rock_id}"))
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
    text(ports, CURSOR)
}

/// Where the next updates-only run reads PCO from: PCO's own clock (issue 24 item 10), so a
/// host clock ahead of PCO's never skips PCO's edits.
pub fn pco_cursor(ports: &dyn Ports) -> Result<Option<String>, Error> {
    text(ports, PCO_CURSOR)
}

fn text(ports: &dyn Ports, key: &str) -> Result<Option<String>, Error> {
    let values = ports.state_get(&[key.to_string()])?;
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

/// PCO refused to archive (a 422 to `permissions: "Archived"`, which its docs do not
/// promise): when, and what it said.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchiveRefusal {
    pub at: String,
    pub message: String,
}

/// Why archiving is off for the account, if PCO refused it within the last
/// [`ARCHIVE_REFUSAL_DAYS`] days before `now` (RFC 3339); after that it is tried again.
pub fn archive_refusal(ports: &dyn Ports, now: &str) -> Result<Option<String>, Error> {
    let value = ports.state_get(&[ARCHIVE_REFUSED.to_string()])?;
    let Some(bytes) = value.into_iter().next().flatten() else {
        return Ok(None);
    };
    let refusal: ArchiveRefusal =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(ARCHIVE_REFUSED, e))?;
    // RFC 3339 UTC text of one form orders as time does.
    let until = crate::clock::minus_minutes(&refusal.at, -ARCHIVE_REFUSAL_DAYS * 24 * 60);
    Ok((until.as_str() > now).then(|| {
        format!(
            "PCO refused archiving on {} (\"{}\"), so this account archives nobody until {until}",
            refusal.at, refusal.message
        )
    }))
}

pub fn put_archive_refusal(refusal: &ArchiveRefusal) -> Write {
    Write::Put(Entry {
        key: ARCHIVE_REFUSED.to_string(),
        value: serde_json::to_vec(refusal).unwrap_or_default(),
    })
}

pub fn put_cursor(started_at: &str) -> Write {
    Write::Put(Entry {
        key: CURSOR.to_string(),
        value: started_at.as_bytes().to_vec(),
    })
}

pub fn put_pco_cursor(pco_time: &str) -> Write {
    Write::Put(Entry {
        key: PCO_CURSOR.to_string(),
        value: pco_time.as_bytes().to_vec(),
    })
}

// ---- Schema versions ---------------------------------------------------------------------

/// Set (to anything) at build time, the guest is built one schema version ahead, with a
/// migration to it: the stand-in for the next release that changes the state layout, so tests
/// can prove both directions with two real builds (see tests/misbehave/build.rs).
const BUMPED: bool = option_env!("PCOSYNC_GUEST_SCHEMA_BUMP").is_some();

/// The version of the state layout this guest reads and writes.
pub const SCHEMA: u32 = if BUMPED { 2 } else { 1 };

/// One step forward: the writes that take state of version `n` to `n + 1` (`MIGRATIONS[n]`).
/// It sees the state through `ports` and returns its writes; the caller commits them together
/// with the new `schema`, so a migration is applied whole or not at all.
type Migration = fn(&dyn Ports) -> Result<Vec<Write>, Error>;

/// Migrations by the version they start from. Only the first [`SCHEMA`] are used.
const MIGRATIONS: [Migration; 2] = [
    // 0 -> 1: state from before versioning already has the version 1 layout; it only gains
    // its `schema` key.
    |_| Ok(Vec::new()),
    // 1 -> 2 (only in bumped builds): rewrites every person record, as a real layout change
    // would. Version 2's layout equals version 1's, so older readers stay correct on it.
    |ports| {
        Ok(records(ports)?
            .iter()
            .map(|(id, record)| put_record(*id, record))
            .collect())
    },
];

/// The state version stored in the account's key space, if any.
pub fn stored_schema(ports: &dyn Ports) -> Result<Option<u32>, Error> {
    let values = ports.state_get(&[SCHEMA_KEY.to_string()])?;
    match values.into_iter().next().flatten() {
        None => Ok(None),
        Some(value) => std::str::from_utf8(&value)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .map(Some)
            .ok_or_else(|| corrupt(SCHEMA_KEY, "not a schema version")),
    }
}

fn put_schema(version: u32) -> Write {
    Write::Put(Entry {
        key: SCHEMA_KEY.to_string(),
        value: version.to_string().into_bytes(),
    })
}

/// Opens the account's state for a run: refuses state newer than [`SCHEMA`], migrates older
/// state forward (not in a dry run, which writes nothing), and returns the ports to run with,
/// which stamp a fresh account's first commit with the schema version.
pub fn versioned(ports: &dyn Ports, dry_run: bool) -> Result<Versioned<'_>, Error> {
    let stored = stored_schema(ports)?;
    let fresh = stored.is_none() && ports.state_scan("", None, 1)?.is_empty();
    let found = match stored {
        Some(version) => version,
        None if fresh => SCHEMA,
        None => 0,
    };
    if found > SCHEMA {
        return Err(Error {
            kind: ErrorKind::Invalid,
            message: format!(
                "this account's state was written by a newer guest (state schema {found}); this \
                 guest understands schema {SCHEMA} and older, so it refused to run rather than \
                 corrupt the state. Run a guest at least as new as the one that last synced \
                 this account (`pcosync plugin list` shows the installed components)"
            ),
        });
    }
    if found < SCHEMA && !dry_run {
        let mut writes = Vec::new();
        for migration in &MIGRATIONS[found as usize..SCHEMA as usize] {
            writes.extend(migration(ports)?);
        }
        writes.push(put_schema(SCHEMA));
        ports.state_commit(&writes)?;
        let fields = [
            ("from".to_string(), found.to_string()),
            ("to".to_string(), SCHEMA.to_string()),
        ];
        ports.log(Level::Info, "state migrated", &fields);
    }
    Ok(Versioned {
        inner: ports,
        stamp: Cell::new(fresh && !dry_run),
    })
}

/// The ports of a run, passing everything through; the first commit into a fresh account's
/// state also writes its `schema`.
pub struct Versioned<'a> {
    inner: &'a dyn Ports,
    stamp: Cell<bool>,
}

impl Ports for Versioned<'_> {
    fn account_groups(&self, account: &str) -> Result<Vec<rock::Group>, Error> {
        self.inner.account_groups(account)
    }
    fn groups(&self, ids: &[i64]) -> Result<Vec<rock::Group>, Error> {
        self.inner.groups(ids)
    }
    fn active_members(&self, groups: &[i64]) -> Result<Vec<rock::Membership>, Error> {
        self.inner.active_members(groups)
    }
    fn tagged_people(&self) -> Result<Vec<rock::PersonTags>, Error> {
        self.inner.tagged_people()
    }
    fn people(&self, ids: &[i64]) -> Result<Vec<rock::Person>, Error> {
        self.inner.people(ids)
    }
    fn follow_merges(&self, people: &[rock::GonePerson]) -> Result<Vec<rock::Merge>, Error> {
        self.inner.follow_merges(people)
    }
    fn find_people(&self, queries: &[rock::PersonQuery]) -> Result<Vec<Vec<rock::Person>>, Error> {
        self.inner.find_people(queries)
    }
    fn update_people(&self, updates: &[rock::PersonUpdate]) -> Vec<Result<(), Error>> {
        self.inner.update_people(updates)
    }
    fn create_people(&self, people: &[rock::NewPerson]) -> Vec<Result<i64, Error>> {
        self.inner.create_people(people)
    }
    fn people_with_logins(&self, ids: &[i64]) -> Result<Vec<i64>, Error> {
        self.inner.people_with_logins(ids)
    }
    fn create_or_find_people(
        &self,
        people: &[rock::NewPerson],
    ) -> Vec<Result<rock::FoundOrCreated, Error>> {
        self.inner.create_or_find_people(people)
    }
    fn set_tags(&self, tags: &[rock::PersonTags]) -> Vec<Result<(), Error>> {
        self.inner.set_tags(tags)
    }
    fn add_members(&self, members: &[rock::Membership]) -> Vec<Result<(), Error>> {
        self.inner.add_members(members)
    }
    fn get_photo(&self, id: i64) -> Result<Option<rock::Photo>, Error> {
        self.inner.get_photo(id)
    }
    fn pco_send(&self, account: &str, request: &pco::Request) -> Result<pco::Response, Error> {
        self.inner.pco_send(account, request)
    }
    fn pco_send_batch(
        &self,
        account: &str,
        requests: &[pco::Request],
    ) -> Vec<Result<pco::Response, Error>> {
        self.inner.pco_send_batch(account, requests)
    }
    fn pco_upload(
        &self,
        account: &str,
        content_type: &str,
        filename: &str,
        bytes: &[u8],
    ) -> Result<String, Error> {
        self.inner
            .pco_upload(account, content_type, filename, bytes)
    }
    fn state_get(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        self.inner.state_get(keys)
    }
    fn state_scan(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Entry>, Error> {
        self.inner.state_scan(prefix, after, limit)
    }
    fn state_commit(&self, writes: &[Write]) -> Result<(), Error> {
        if !self.stamp.get() || writes.is_empty() {
            return self.inner.state_commit(writes);
        }
        let mut stamped = writes.to_vec();
        stamped.push(put_schema(SCHEMA));
        self.inner.state_commit(&stamped)?;
        self.stamp.set(false);
        Ok(())
    }
    fn log(&self, level: Level, message: &str, fields: &[(String, String)]) {
        self.inner.log(level, message, fields)
    }
    fn progress(&self, task: &str, done: u64, total: Option<u64>) {
        self.inner.progress(task, done, total)
    }
}
