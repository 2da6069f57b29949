//! Account detail (R32): the groups syncing to the account and the people synced with it.
//!
//! Who is listed: everyone with a link (`person/`), everyone on the refreshed people list
//! (`roster/`), and everyone Rock's synced groups and tags give the account now. Their columns:
//! - `rock-level`: what their groups give now (none when in no synced group);
//! - `pco-level`: the level PCO showed at the last sync: read then, or set by it (the link's
//!   record; an updates-only run reads it only for the people it may raise);
//! - `name`, `values`, `tags`: as saved at the last sync; a person not synced yet is named
//!   from Rock and shows the tags Rock gives now;
//! - `last-synced`: the link's record carries no time of its own, so this is the start of the
//!   last sync that finished without failures (the account's cursor) for every person whose
//!   record holds a merge base; a person first linked or created by a later run that had
//!   failures (found in that run's audit) shows that run's start instead. A person never
//!   merged (linked by hand, or a create still in flight) shows none.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{
    Account, AccountStatus, FirstNameSource, PersonStatus, RunKind, RunOutcome, StatusOptions,
    SyncedGroup,
};
use crate::audit;
use crate::bindings::rockpco::sync::rock::{Group, Person};
use crate::fields::{self, Field, Snapshot};
use crate::permissions::granted_by_group;
use crate::ports::Ports;
use crate::store::{self, Record};
use crate::synced::{Synced, type_enabled, who_is_synced};
use crate::types::Error;

/// How many Rock people to ask for in one call.
const PEOPLE_BATCH: usize = 500;
/// How far back the run history is read to date people first synced after the cursor.
const HISTORY: usize = 100;

pub fn status(
    ports: &dyn Ports,
    account: &Account,
    options: &StatusOptions,
) -> Result<AccountStatus, Error> {
    let synced = who_is_synced(ports, account)?;
    build(ports, account, options, &synced)
}

/// The status, given who the groups sync now.
pub fn build(
    ports: &dyn Ports,
    account: &Account,
    options: &StatusOptions,
    synced: &BTreeMap<i64, Synced>,
) -> Result<AccountStatus, Error> {
    let groups = groups(ports, account)?;
    let records = store::records(ports)?;
    let mut synced = synced.clone();
    crate::synced::without_unlinked_leftovers(&mut synced, &records);
    let synced = &synced;
    let waiting = store::waiting(ports)?;
    let roster = super::roster::read(ports)?;
    let wanted = |id: &i64| options.rock_ids.is_empty() || options.rock_ids.contains(id);
    let ids: BTreeSet<i64> = records
        .keys()
        .chain(roster.keys())
        .chain(synced.keys())
        .copied()
        .filter(wanted)
        .collect();
    let unnamed: Vec<i64> = ids
        .iter()
        .filter(|id| records.get(id).and_then(saved_name).is_none())
        .copied()
        .collect();
    let rock_names = rock_names(ports, &unnamed, account.first_name_source)?;
    let cursor = store::cursor(ports)?;
    let history = audit::recent_runs(ports, HISTORY.max(options.runs as usize))?;
    let last_synced = last_synced(ports, &records, cursor.as_deref(), &history)?;
    let people = ids
        .iter()
        .map(|id| {
            let record = records.get(id);
            let now = synced.get(id);
            PersonStatus {
                rock_id: *id,
                name: record
                    .and_then(saved_name)
                    .or_else(|| rock_names.get(id).cloned())
                    .unwrap_or_default(),
                pco_id: record.map(|r| r.pco.clone()),
                rock_level: now.map(|s| s.level),
                pco_level: record.and_then(|r| r.level),
                last_synced: last_synced.get(id).cloned(),
                values: match record.and_then(|r| r.base.as_ref()) {
                    Some(base) if options.with_values => saved_values(base),
                    _ => Vec::new(),
                },
                tags: match (record, now) {
                    (Some(record), _) => record.tags.iter().cloned().collect(),
                    (None, Some(now)) => now.tags.iter().cloned().collect(),
                    (None, None) => Vec::new(),
                },
                // Why the last sync left them unlinked (R32): said only while they still are,
                // and still synced.
                waiting: waiting
                    .get(id)
                    .filter(|_| record.is_none() && now.is_some())
                    .cloned(),
            }
        })
        .collect();
    let mut runs = history;
    runs.truncate(options.runs as usize);
    Ok(AccountStatus {
        account: account.name.clone(),
        groups,
        people,
        runs,
        last_success: cursor,
    })
}

/// The groups configured to sync to the account (permission groups) and the groups its tags
/// are mapped to, each with what it grants and its active member count (R32, R36).
fn groups(ports: &dyn Ports, account: &Account) -> Result<Vec<SyncedGroup>, Error> {
    let mut listed: Vec<Group> = ports.account_groups(&account.name)?;
    let permission: BTreeSet<i64> = listed.iter().map(|g| g.id).collect();
    let mut tag_ids: Vec<i64> = account
        .tag_groups
        .iter()
        .map(|t| t.group_id)
        .filter(|id| !permission.contains(id))
        .collect();
    tag_ids.sort_unstable();
    tag_ids.dedup();
    if !tag_ids.is_empty() {
        listed.extend(ports.groups(&tag_ids)?);
    }
    let ids: Vec<i64> = listed.iter().map(|g| g.id).collect();
    let members = if ids.is_empty() {
        Vec::new()
    } else {
        ports.active_members(&ids)?
    };
    let mut count: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for member in members {
        count
            .entry(member.group_id)
            .or_default()
            .insert(member.person_id);
    }
    let mut groups: Vec<SyncedGroup> = listed
        .iter()
        .map(|group| {
            let tags: Vec<&str> = account
                .tag_groups
                .iter()
                .filter(|t| t.group_id == group.id)
                .map(|t| t.tag.as_str())
                .collect();
            SyncedGroup {
                id: group.id,
                name: group.name.clone(),
                group_type: group.group_type.name.clone(),
                // A tag-only group gives Scheduled Viewer (R2 b); a permission group its
                // configured level, Scheduled Viewer when it has none (R16).
                level: Some(if permission.contains(&group.id) {
                    granted_by_group(group.level)
                } else {
                    granted_by_group(None)
                }),
                tag: (!tags.is_empty()).then(|| tags.join(", ")),
                active_members: count.get(&group.id).map_or(0, |m| m.len() as u32),
                enabled: group.is_active && type_enabled(account, group),
            }
        })
        .collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    Ok(groups)
}

/// The name saved at the last sync: the name the person goes by, and their last name.
fn saved_name(record: &Record) -> Option<String> {
    let base = record.base.as_ref()?;
    let first = base
        .get(Field::NickName)
        .or_else(|| base.get(Field::FirstName));
    full_name(first, base.get(Field::LastName))
}

fn full_name(first: Option<&str>, last: Option<&str>) -> Option<String> {
    let name = [first, last]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty()).then_some(name)
}

fn rock_name(person: &Person, source: FirstNameSource) -> Option<String> {
    let snapshot = Snapshot::from_rock(person, source);
    let first = snapshot
        .get(Field::NickName)
        .or_else(|| snapshot.get(Field::FirstName));
    full_name(first, snapshot.get(Field::LastName))
}

fn rock_names(
    ports: &dyn Ports,
    ids: &[i64],
    source: FirstNameSource,
) -> Result<BTreeMap<i64, String>, Error> {
    let mut names = BTreeMap::new();
    for chunk in ids.chunks(PEOPLE_BATCH) {
        for person in ports.people(chunk)? {
            if let Some(name) = rock_name(&person, source) {
                names.insert(person.id, name);
            }
        }
    }
    Ok(names)
}

fn saved_values(base: &Snapshot) -> Vec<crate::types::FieldValue> {
    let values: Vec<(Field, Option<String>)> = base
        .iter()
        .map(|(field, value)| (field, value.map(str::to_string)))
        .collect();
    fields::to_field_values(&values)
}

/// When each person last synced (see the module's note on what this can and cannot know).
fn last_synced(
    ports: &dyn Ports,
    records: &BTreeMap<i64, Record>,
    cursor: Option<&str>,
    history: &[crate::api::RunSummary],
) -> Result<BTreeMap<i64, String>, Error> {
    let merged = |id: &i64| records.get(id).is_some_and(|r| r.base.is_some());
    let mut at: BTreeMap<i64, String> = BTreeMap::new();
    if let Some(cursor) = cursor {
        for id in records.keys().filter(|id| merged(id)) {
            at.insert(*id, cursor.to_string());
        }
    }
    // Sync runs since the cursor that finished with some people failed: the people they linked
    // or created (and who hold a merge base now) were first synced then. Oldest first, so the
    // newest such run wins.
    let mut later: Vec<&crate::api::RunSummary> = history
        .iter()
        .filter(|run| run.kind == RunKind::Sync && run.outcome == RunOutcome::Partial)
        .filter(|run| cursor.is_none_or(|c| run.started_at.as_str() > c))
        .collect();
    later.sort_by(|a, b| a.started_at.cmp(&b.started_at));
    for run in later {
        for person in audit::audits(ports, &run.run_id)? {
            let Some(id) = person.rock_id.filter(|id| merged(id)) else {
                continue;
            };
            let first_linked = person
                .writes
                .iter()
                .any(|w| (w.field == "link" || w.field == "person") && w.before.is_none());
            if first_linked {
                at.insert(id, run.started_at.clone());
            }
        }
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_skip_blank_parts() {
        assert_eq!(
            full_name(Some("Ann"), Some("Lee")).as_deref(),
            Some("Ann Lee")
        );
        assert_eq!(full_name(Some(" "), Some("Lee")).as_deref(), Some("Lee"));
        assert_eq!(full_name(None, None), None);
    }

    #[test]
    fn the_saved_name_prefers_the_name_the_person_goes_by() {
        let mut base = Snapshot::default();
        base.set(Field::FirstName, Some("Robert"));
        base.set(Field::NickName, Some("Bob"));
        base.set(Field::LastName, Some("Smith"));
        let record = Record {
            pco: "1".into(),
            base: Some(base),
            ..Default::default()
        };
        assert_eq!(saved_name(&record).as_deref(), Some("Bob Smith"));
        assert_eq!(saved_name(&Record::default()), None);
    }
}
