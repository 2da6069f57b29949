//! The one-time import of PCO people into Rock (R40-R42).
//!
//! The import pages through the account's PCO people (ordered by id, with their emails,
//! phones and addresses) and, for each one not linked yet, decides (see `decide`): link to the
//! Rock person found on email, first name and last name, or create them in Rock with the
//! chosen connection status and their R10 fields, then add them to the Rock group chosen for
//! their PCO Services level. Linking writes the sync's own record (`person/{rock id}`, no merge
//! base: the next sync treats them as a first link), so the import and the sync share one
//! notion of "linked", and a second import imports nobody.
//!
//! # Stopping and going on (R42)
//! Each page is written in this order, so an import stopped anywhere and run again imports
//! nobody twice and creates nobody twice:
//! 1. the audit of every write planned for the page (R25) and, for each create, an intent
//!    (`import/intent/{pco id}`) are committed before anything is written;
//! 2. Rock creates the new people (those with an email in one batch, the others one at a
//!    time); each answer is committed into its intent at once;
//! 3. everyone is added to their group (a no-op for a member);
//! 4. the links (`person/{rock id}`), the intents' removal and the checkpoint
//!    (`import/cursor`: the next page, and the people of earlier pages to try again) are
//!    committed together.
//!
//! A run that finds a checkpoint tries its failed people first, then goes on one page before
//! where it stopped (PCO's offset paging shifts when people are deleted meanwhile; people
//! linked already are passed over). An intent that holds a Rock id is linked to that person;
//! one without (the answer was lost) is looked up in Rock again before anything is created,
//! and a person without an email, whom Rock cannot be asked about, is left for an
//! administrator to link by hand rather than risk a second copy.
//!
//! Rock's `POST api/People` is find-or-create: when its duplicate rules take a person for one
//! Rock holds, nobody is created, and the import counts and reports them as linked to that
//! existing Rock person (issue 24 item 24). A dry run cannot know this beforehand: it shows
//! them as created.
//!
//! One person's failure is reported and leaves them unlinked, so the next run tries again; a
//! failure of a whole read (PCO or Rock down) stops the run, which the next run resumes. A dry
//! run decides exactly the same and writes nothing, to any system or to the state.
//!
//! Privacy (R53): the state gets ids, levels and group ids only; logs and reports name people
//! by id.

mod checkpoint;
mod decide;

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{Account, Action, ImportOptions, PersonOutcome, Report, RunKind};
use crate::audit::{self, AuditedWrite, PersonAudit, RunLog, System};
use crate::bindings::rockpco::sync::pco::Request;
use crate::bindings::rockpco::sync::rock::{Membership, NewPerson, Person};
use crate::bindings::rockpco::sync::state::Write;
use crate::pco_api::PAGE_SIZE;
use crate::pco_people::{self, PcoPersonFull};
use crate::permissions::{granted_by_group, rank};
use crate::ports::{Level, Ports};
use crate::services::{self, ServicesPerson, level_name};
use crate::store::{self, Record};
use crate::types::{Error, ErrorKind, PermissionLevel};

use checkpoint::{Checkpoint, Intent};
use decide::{Known, Step};

const TASK: &str = "importing people";

pub fn import(
    ports: &dyn Ports,
    account: &Account,
    options: &ImportOptions,
) -> Result<Report, Error> {
    let run = &options.run;
    let ports = &store::versioned(ports, run.dry_run)?; // schema: migrate or refuse
    let mut report = crate::report::empty(RunKind::Import, &run.run_id, &account.name, run.dry_run);
    let groups = check_options(ports, account, options)?;
    log(
        ports,
        Level::Info,
        "import started",
        &[("account", &account.name), ("run", &run.run_id)],
    );
    let mut importer = Importer::load(ports, account, options, groups)?;
    if run.dry_run {
        importer.run(&mut report, None)?;
    } else {
        let history = RunLog::new(RunKind::Import, &run.run_id, &run.started_at);
        audit::logged(ports, &history, &mut report, |report| {
            importer.run(report, Some(&history))
        })?;
    }
    log(
        ports,
        Level::Info,
        "import finished",
        &[
            ("run", &run.run_id),
            ("imported", &report.counts.imported.to_string()),
            ("failed", &report.counts.failed.to_string()),
        ],
    );
    Ok(report)
}

/// Rock people an import created and has not linked yet (it was stopped in between), with
/// the PCO person each was created from: the sync links them to that person rather than
/// creating a second one (R6, R42).
pub fn created_unlinked(ports: &dyn Ports) -> Result<BTreeMap<i64, String>, Error> {
    Ok(checkpoint::intents(ports)?
        .into_iter()
        .filter_map(|(pco_id, intent)| Some((intent.rock?, pco_id)))
        .collect())
}

fn invalid(message: String) -> Error {
    Error {
        kind: ErrorKind::Invalid,
        message,
    }
}

fn internal(message: &str) -> Error {
    Error {
        kind: ErrorKind::Internal,
        message: message.to_string(),
    }
}

/// The options, checked against Rock before anything is read or written: one existing, active
/// group per level, none that the sync would then give another level (R19: PCO emails raises).
fn check_options(
    ports: &dyn Ports,
    account: &Account,
    options: &ImportOptions,
) -> Result<Vec<(PermissionLevel, i64)>, Error> {
    if options.connection_status.trim().is_empty() {
        return Err(invalid(
            "the import's connection status is blank: set connection_status in [accounts.import] (e.g. \"Prospect\")".into(),
        ));
    }
    if options.level_groups.is_empty() {
        return Err(invalid(
            "no Rock group is chosen for any PCO level: add [accounts.import] with groups.viewer = GROUP_ID (and the other levels to import)".into(),
        ));
    }
    let mut groups: Vec<(PermissionLevel, i64)> = Vec::new();
    for choice in &options.level_groups {
        match groups.iter().find(|(level, _)| *level == choice.level) {
            Some((_, group)) if *group != choice.group_id => {
                return Err(invalid(format!(
                    "two Rock groups ({group} and {}) are chosen for the PCO level {}: keep one in groups.{}",
                    choice.group_id,
                    level_name(choice.level),
                    decide::config_key(choice.level)
                )));
            }
            Some(_) => {}
            None => groups.push((choice.level, choice.group_id)),
        }
    }
    let ids: Vec<i64> = groups.iter().map(|(_, g)| *g).collect();
    let found = ports.groups(&ids)?;
    for (level, id) in &groups {
        let key = decide::config_key(*level);
        let Some(group) = found.iter().find(|g| g.id == *id) else {
            return Err(invalid(format!(
                "Rock has no group {id} (chosen for the PCO level {} in groups.{key}): give the id of an existing group",
                level_name(*level)
            )));
        };
        if !group.is_active {
            return Err(invalid(format!(
                "Rock group {id} (groups.{key}) is inactive: its members would not be synced; choose an active group"
            )));
        }
        // R40: a group that does not sync to this account leaves everyone imported into it
        // unsynced, and with downgrade on, the next sync archives them all in PCO.
        if group.pco_account.as_deref() != Some(account.name.as_str()) {
            return Err(invalid(format!(
                "Rock group {id} \"{}\" (groups.{key}) does not sync to the account \"{}\" ({}): the people imported into it would not be synced, and with downgrade allowed the next sync would archive them in PCO. Choose a group that syncs to this account, or set this group's PCO account to \"{}\" in Rock",
                group.name,
                account.name,
                match group.pco_account.as_deref() {
                    Some(other) => format!("its PCO account is \"{other}\""),
                    None => "it has no PCO account".into(),
                },
                account.name
            )));
        }
        if !crate::synced::type_enabled(account, group) {
            return Err(invalid(format!(
                "Rock group {id} \"{}\" (groups.{key}) is of the group type \"{}\", which is not enabled for syncing on the account \"{}\": the people imported into it would not be synced, and with downgrade allowed the next sync would archive them in PCO. Enable the group type (pcosync group-types) or choose another group",
                group.name, group.group_type.name, account.name
            )));
        }
        let grants = granted_by_group(group.level);
        let raises = rank(grants) > rank(*level);
        let lowers = rank(grants) < rank(*level) && account.allow_downgrade;
        if raises || lowers {
            return Err(invalid(format!(
                "Rock group {id} (groups.{key}) syncs to this account at the level {}, so the next sync would {} the PCO {} people imported into it: choose a group of their level",
                level_name(grants),
                if raises { "raise" } else { "lower" },
                level_name(*level)
            )));
        }
    }
    Ok(groups)
}

/// Everything the run knows, kept up to date as it goes.
struct Importer<'a> {
    ports: &'a dyn Ports,
    account: &'a Account,
    options: &'a ImportOptions,
    groups: Vec<(PermissionLevel, i64)>,
    /// Services people by PCO id (their level, R40).
    services: BTreeMap<String, ServicesPerson>,
    /// Every link: Rock id -> PCO id (the state's, then this run's).
    linked: BTreeMap<i64, String>,
    linked_pco: BTreeSet<String>,
    intents: BTreeMap<String, Intent>,
    /// Rock ids the sync stamped in `remote_id` on PCO people it created and has not linked
    /// yet (its intents): the only `remote_id`s the import trusts (R6).
    stamped: BTreeSet<i64>,
    /// Active memberships of the import groups: (group, person).
    members: BTreeSet<(i64, i64)>,
    /// Match keys of the people created this run, with their PCO ids.
    creating: BTreeMap<(String, String, String), String>,
    /// PCO people handled this run (a page read twice is not handled twice).
    seen: BTreeSet<String>,
    checkpoint: Option<Checkpoint>,
}

/// One person of a page on their way through it.
struct Entry {
    person: PcoPersonFull,
    level: PermissionLevel,
    group: i64,
    keys: Vec<(String, String, String)>,
    step: Step,
    rock_id: Option<i64>,
    actions: Vec<Action>,
    failure: Option<Error>,
}

/// What a page leaves to commit with its checkpoint.
struct PageDone {
    writes: Vec<Write>,
    failed: Vec<String>,
}

impl<'a> Importer<'a> {
    fn load(
        ports: &'a dyn Ports,
        account: &'a Account,
        options: &'a ImportOptions,
        groups: Vec<(PermissionLevel, i64)>,
    ) -> Result<Importer<'a>, Error> {
        let linked: BTreeMap<i64, String> = store::records(ports)?
            .into_iter()
            .map(|(rock, record)| (rock, record.pco))
            .collect();
        let linked_pco = linked.values().cloned().collect();
        let group_ids: Vec<i64> = groups.iter().map(|(_, g)| *g).collect();
        let members = ports
            .active_members(&group_ids)?
            .into_iter()
            .map(|m| (m.group_id, m.person_id))
            .collect();
        let services = services::fetch_people(ports, &account.name)?;
        Ok(Importer {
            ports,
            account,
            options,
            groups,
            services,
            linked,
            linked_pco,
            intents: checkpoint::intents(ports)?,
            stamped: store::intents(ports)?,
            members,
            creating: BTreeMap::new(),
            seen: BTreeSet::new(),
            checkpoint: checkpoint::checkpoint(ports)?,
        })
    }

    fn dry_run(&self) -> bool {
        self.options.run.dry_run
    }

    fn commit(&self, writes: &[Write]) -> Result<(), Error> {
        if self.dry_run() || writes.is_empty() {
            return Ok(());
        }
        self.ports.state_commit(writes)
    }

    fn run(&mut self, report: &mut Report, history: Option<&RunLog>) -> Result<(), Error> {
        let mut retry: Vec<String> = Vec::new();
        let mut offset = 0;
        if let Some(found) = self.checkpoint.clone() {
            log(
                self.ports,
                Level::Info,
                "import resumed",
                &[("offset", &found.offset.to_string())],
            );
            if !found.retry.is_empty() {
                let people = self.fetch_by_id(&found.retry)?;
                let done = self.page(people, report, history)?;
                retry.extend(done.failed);
                let mut writes = done.writes;
                writes.push(checkpoint::put_checkpoint(&Checkpoint {
                    offset: found.offset,
                    retry: retry.clone(),
                }));
                self.commit(&writes)?;
            }
            offset = found.offset.saturating_sub(u64::from(PAGE_SIZE));
        }
        loop {
            let response = self
                .ports
                .pco_send(&self.account.name, &pco_people::list_people(offset, &[]))?;
            let (people, total) = pco_people::parse_people_document(&response.body)?;
            let count = people.len() as u64;
            // `total_count` is no proof of the end (a past API version capped it, and people
            // added or removed meanwhile move it): the list ends on a short page or one that
            // links no next page, as the sync's reader ends it (issue 24 item 8).
            let last = count < u64::from(PAGE_SIZE) || !links_next(&response.body);
            let total = total.unwrap_or(offset + count).max(offset + count);
            let done = self.page(people, report, history)?;
            retry.extend(done.failed);
            let mut writes = done.writes;
            writes.push(if last {
                checkpoint::delete_checkpoint()
            } else {
                checkpoint::put_checkpoint(&Checkpoint {
                    offset: offset + count,
                    retry: retry.clone(),
                })
            });
            self.commit(&writes)?;
            self.ports
                .progress(TASK, (offset + count).min(total), Some(total));
            if last {
                return Ok(());
            }
            offset += count;
        }
    }

    /// The people an earlier run failed, read again one by one; those gone from PCO are
    /// dropped.
    fn fetch_by_id(&self, ids: &[String]) -> Result<Vec<PcoPersonFull>, Error> {
        let ids: Vec<&String> = ids
            .iter()
            .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()))
            .collect();
        let requests: Vec<Request> = ids.iter().map(|id| pco_people::get_person(id)).collect();
        let mut people = Vec::new();
        for answer in self.ports.pco_send_batch(&self.account.name, &requests) {
            match answer {
                Ok(response) => {
                    people.extend(pco_people::parse_people_document(&response.body)?.0);
                }
                Err(error) if error.kind == ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        Ok(people)
    }

    /// Decides and (unless a dry run) imports one page of PCO people; returns the writes to
    /// commit with the checkpoint.
    fn page(
        &mut self,
        people: Vec<PcoPersonFull>,
        report: &mut Report,
        history: Option<&RunLog>,
    ) -> Result<PageDone, Error> {
        let mut writes = Vec::new();
        let mut entries: Vec<Entry> = Vec::new();
        for person in people {
            if !self.seen.insert(person.id.clone()) {
                continue;
            }
            let group = decide::group_for(self.services.get(&person.id), &self.groups);
            if self.linked_pco.contains(&person.id) {
                // Linked already (by an earlier import, the sync or by hand): nothing to do,
                // unless an import stopped halfway through them; it still owes them their
                // group.
                if !self.intents.contains_key(&person.id) {
                    continue;
                }
                let rock = self
                    .linked
                    .iter()
                    .find(|(_, pco)| **pco == person.id)
                    .map(|(rock, _)| *rock);
                match (rock, group) {
                    (Some(rock_id), Ok((level, group))) => entries.push(Entry {
                        keys: Vec::new(),
                        person,
                        level,
                        group,
                        step: Step::Finish { rock_id },
                        rock_id: Some(rock_id),
                        actions: Vec::new(),
                        failure: None,
                    }),
                    _ => {
                        self.intents.remove(&person.id);
                        writes.push(checkpoint::delete_intent(&person.id));
                    }
                }
                continue;
            }
            match group {
                Err(why) => {
                    report.counts.skipped += 1;
                    report.people.push(PersonOutcome {
                        rock_id: None,
                        pco_id: Some(person.id.clone()),
                        actions: vec![Action::Skipped(why)],
                    });
                }
                Ok((level, group)) => entries.push(Entry {
                    keys: decide::match_keys(&person),
                    person,
                    level,
                    group,
                    step: Step::Create,
                    rock_id: None,
                    actions: Vec::new(),
                    failure: None,
                }),
            }
        }
        if entries.is_empty() {
            return Ok(PageDone {
                writes,
                failed: Vec::new(),
            });
        }
        self.decide_all(&mut entries)?;
        if !self.dry_run() {
            let history =
                history.ok_or_else(|| internal("an import that writes has no run log"))?;
            self.apply(&mut entries, history)?;
        }
        let mut failed = Vec::new();
        for entry in entries {
            if !self.dry_run() && entry.failure.is_none() && entry.rock_id.is_some() {
                self.finish(&entry, &mut writes);
            }
            if entry.failure.is_some() {
                failed.push(entry.person.id.clone());
            }
            push_outcome(report, entry);
        }
        Ok(PageDone { writes, failed })
    }

    /// Reads what the page's decisions need from Rock (two batch calls) and decides each
    /// person in order, so a Rock person claimed by one is not taken by the next.
    fn decide_all(&mut self, entries: &mut [Entry]) -> Result<(), Error> {
        let wanted: BTreeSet<i64> = entries
            .iter()
            .flat_map(|e| {
                let intent = self.intents.get(&e.person.id).and_then(|i| i.rock);
                let stamped = e.person.remote_id.filter(|id| self.stamped.contains(id));
                [stamped, intent].into_iter().flatten()
            })
            .collect();
        let by_id: BTreeMap<i64, Person> = if wanted.is_empty() {
            BTreeMap::new()
        } else {
            let ids: Vec<i64> = wanted.into_iter().collect();
            self.ports
                .people(&ids)?
                .into_iter()
                .map(|p| (p.id, p))
                .collect()
        };
        let queries: Vec<_> = entries
            .iter()
            .flat_map(|e| decide::queries(&e.keys))
            .collect();
        let answers = if queries.is_empty() {
            Vec::new()
        } else {
            self.ports.find_people(&queries)?
        };
        if answers.len() != queries.len() {
            return Err(Error {
                kind: ErrorKind::Unavailable,
                message: format!(
                    "Rock answered {} of {} person lookups; nothing of this page was written",
                    answers.len(),
                    queries.len()
                ),
            });
        }
        let mut answers = answers.into_iter();
        for entry in entries.iter_mut() {
            if let Step::Finish { rock_id } = entry.step {
                if !self.members.contains(&(entry.group, rock_id)) {
                    entry.actions.push(Action::Joined(entry.group));
                }
                continue;
            }
            let mut matches: BTreeMap<i64, Person> = BTreeMap::new();
            for (key, found) in entry.keys.iter().zip(answers.by_ref()) {
                for person in found {
                    if crate::linking::rock_person_has_key(&person, key) {
                        matches.insert(person.id, person);
                    }
                }
            }
            let matches: Vec<Person> = matches.into_values().collect();
            let known = Known {
                linked: &self.linked,
                stamped: &self.stamped,
                by_id: &by_id,
                creating: &self.creating,
            };
            entry.step = decide::decide(
                &entry.person,
                self.intents.get(&entry.person.id),
                &matches,
                &known,
            );
            match &entry.step {
                Step::Link { rock_id, .. } => {
                    self.linked.insert(*rock_id, entry.person.id.clone());
                    entry.rock_id = Some(*rock_id);
                    entry.actions.push(Action::Linked(entry.person.id.clone()));
                }
                Step::Create => {
                    for key in &entry.keys {
                        self.creating.insert(key.clone(), entry.person.id.clone());
                    }
                    entry.actions.push(Action::Created(entry.person.id.clone()));
                }
                Step::Skip(why) => entry.actions.push(Action::Skipped(why.clone())),
                Step::Finish { .. } => {}
            }
            let joins = match (&entry.step, entry.rock_id) {
                (Step::Skip(_), _) => false,
                (_, Some(rock)) => !self.members.contains(&(entry.group, rock)),
                (Step::Create, None) => true,
                _ => false,
            };
            if joins {
                entry.actions.push(Action::Joined(entry.group));
            }
        }
        Ok(())
    }

    /// Carries out the page's decisions, in the order the module's notes give.
    fn apply(&mut self, entries: &mut [Entry], history: &RunLog) -> Result<(), Error> {
        // Creates go in batches: people with an email in one (should Rock's answer be lost,
        // Rock can be asked about them again), people without one each alone (a lost answer
        // then strands one person at most, for an administrator to link).
        let (findable, unfindable): (Vec<usize>, Vec<usize>) = (0..entries.len())
            .filter(|i| entries[*i].step == Step::Create)
            .partition(|i| !entries[*i].keys.is_empty());
        let mut batches: Vec<Vec<usize>> = vec![findable];
        batches.extend(unfindable.into_iter().map(|i| vec![i]));
        batches.retain(|b| !b.is_empty());

        // 1. Write-ahead: the audit of every write, and the intents of the first creates.
        let mut ahead = Vec::new();
        for entry in entries.iter() {
            match entry.step {
                Step::Link { rock_id, .. } => {
                    ahead.push(history.audit_write(&self.link_audit(entry, rock_id)));
                }
                Step::Create => {
                    ahead.push(history.audit_write(&PersonAudit {
                        rock_id: None,
                        pco_id: Some(entry.person.id.clone()),
                        prior: None,
                        writes: vec![rock_write("person", "created".into())],
                    }));
                }
                Step::Finish { rock_id } => {
                    let mut audit = self.link_audit(entry, rock_id);
                    audit.writes.retain(|w| w.field != "link");
                    if !audit.writes.is_empty() {
                        ahead.push(history.audit_write(&audit));
                    }
                }
                Step::Skip(_) => {}
            }
        }
        if let Some(first) = batches.first() {
            ahead.extend(self.intend(entries, first));
        }
        self.commit(&ahead)?;

        // 2. Creates, batch by batch; each batch's answers are committed into their intents
        //    together with the intents of the next batch.
        for (number, batch) in batches.iter().enumerate() {
            let mut answered = self.create(entries, batch, history);
            if let Some(next) = batches.get(number + 1) {
                answered.extend(self.intend(entries, next));
            }
            self.commit(&answered)?;
        }

        // 3. Joins, for everyone linked or created who is not a member yet.
        let joining: Vec<usize> = (0..entries.len())
            .filter(|i| {
                let entry = &entries[*i];
                entry.failure.is_none()
                    && entry
                        .rock_id
                        .is_some_and(|rock| !self.members.contains(&(entry.group, rock)))
            })
            .collect();
        if !joining.is_empty() {
            let members: Vec<Membership> = joining
                .iter()
                .filter_map(|i| {
                    Some(Membership {
                        group_id: entries[*i].group,
                        person_id: entries[*i].rock_id?,
                    })
                })
                .collect();
            let mut answers = self.ports.add_members(&members).into_iter();
            for index in joining {
                let entry = &mut entries[index];
                let answer = answers
                    .next()
                    .unwrap_or_else(|| Err(internal("Rock gave no answer for a group member")));
                match answer {
                    Ok(()) => {
                        if let Some(rock) = entry.rock_id {
                            self.members.insert((entry.group, rock));
                        }
                    }
                    Err(error) => {
                        entry.actions.retain(|a| !matches!(a, Action::Joined(_)));
                        entry.failure = Some(error);
                    }
                }
            }
        }
        Ok(())
    }

    /// The intents of these creates, to commit before they are sent.
    fn intend(&mut self, entries: &[Entry], batch: &[usize]) -> Vec<Write> {
        let mut writes = Vec::new();
        for index in batch {
            let intent = Intent {
                run: self.options.run.run_id.clone(),
                rock: None,
            };
            let pco_id = &entries[*index].person.id;
            writes.push(checkpoint::put_intent(pco_id, &intent));
            self.intents.insert(pco_id.clone(), intent);
        }
        writes
    }

    /// Creates these people in Rock; returns each answer as its intent, to commit at once.
    fn create(&mut self, entries: &mut [Entry], batch: &[usize], history: &RunLog) -> Vec<Write> {
        let new_people: Vec<NewPerson> = batch
            .iter()
            .map(|i| NewPerson {
                fields: decide::new_person_fields(
                    &entries[*i].person,
                    self.account.first_name_source,
                    &self.account.disabled_fields,
                ),
                connection_status: self.options.connection_status.trim().to_string(),
            })
            .collect();
        let mut answers = self.ports.create_or_find_people(&new_people).into_iter();
        let mut answered = Vec::new();
        for index in batch {
            let entry = &mut entries[*index];
            let answer = answers.next().unwrap_or_else(|| {
                Err(internal(
                    "Rock gave no answer for a create; it may have happened",
                ))
            });
            let answer = answer.map(|found| {
                if found.existing {
                    // Rock's create is find-or-create: its duplicate rules took this person
                    // for one it holds. Nobody was created; they are linked to that person
                    // and counted so (issue 24 item 24, R41).
                    took_for_existing(entry, found.id);
                    if self.members.contains(&(entry.group, found.id)) {
                        entry.actions.retain(|a| !matches!(a, Action::Joined(_)));
                    }
                }
                found.id
            });
            match answer {
                Ok(rock_id)
                    if self
                        .linked
                        .get(&rock_id)
                        .is_some_and(|p| *p != entry.person.id) =>
                {
                    // Rock's create is find-or-create: it answered with someone it holds, who
                    // is linked to another PCO person already. Rock made nobody new.
                    let other = self.linked.get(&rock_id).cloned().unwrap_or_default();
                    let why = format!(
                        "Rock took this person for Rock person {rock_id}, who is linked to PCO person {other} already: if they are one person, merge them in PCO; if not, link this one by hand"
                    );
                    self.intents.remove(&entry.person.id);
                    answered.push(checkpoint::delete_intent(&entry.person.id));
                    entry.step = Step::Skip(why.clone());
                    entry.actions = vec![Action::Skipped(why)];
                }
                Ok(rock_id) => {
                    entry.rock_id = Some(rock_id);
                    self.linked.insert(rock_id, entry.person.id.clone());
                    let intent = Intent {
                        run: self.options.run.run_id.clone(),
                        rock: Some(rock_id),
                    };
                    answered.push(checkpoint::put_intent(&entry.person.id, &intent));
                    self.intents.insert(entry.person.id.clone(), intent);
                    answered.push(history.audit_write(&self.link_audit(entry, rock_id)));
                }
                Err(error) => {
                    if surely_not_created(&error) {
                        self.intents.remove(&entry.person.id);
                        answered.push(checkpoint::delete_intent(&entry.person.id));
                    }
                    entry.actions.retain(|a| !matches!(a, Action::Joined(_)));
                    entry.failure = Some(error);
                }
            }
        }
        answered
    }

    /// The link of a person done with: their record, the intent gone. Committed with the
    /// page's checkpoint.
    fn finish(&mut self, entry: &Entry, writes: &mut Vec<Write>) {
        let Some(rock_id) = entry.rock_id else {
            return;
        };
        if let Step::Finish { .. } = entry.step {
            // The link is the administrator's: kept as it is.
            if self.intents.remove(&entry.person.id).is_some() {
                writes.push(checkpoint::delete_intent(&entry.person.id));
            }
            return;
        }
        writes.push(store::put_record(
            rock_id,
            &Record {
                pco: entry.person.id.clone(),
                base: None,
                tags: BTreeSet::new(),
                level: Some(entry.level),
                photo: None,
                alias: None,
            },
        ));
        if self.intents.remove(&entry.person.id).is_some() {
            writes.push(checkpoint::delete_intent(&entry.person.id));
        }
        self.linked_pco.insert(entry.person.id.clone());
    }

    /// The link, and the join when they are not a member yet.
    fn link_audit(&self, entry: &Entry, rock_id: i64) -> PersonAudit {
        let mut writes = vec![rock_write("link", entry.person.id.clone())];
        if !self.members.contains(&(entry.group, rock_id)) {
            writes.push(rock_write("group", entry.group.to_string()));
        }
        PersonAudit {
            rock_id: Some(rock_id),
            pco_id: Some(entry.person.id.clone()),
            prior: None,
            writes,
        }
    }
}

/// Whether a list page links a next one (`links.next`); the rest of the page is skipped, not
/// parsed again.
fn links_next(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Links {
        next: Option<serde::de::IgnoredAny>,
    }
    #[derive(serde::Deserialize)]
    struct Page {
        links: Option<Links>,
    }
    serde_json::from_slice::<Page>(body)
        .ok()
        .and_then(|page| page.links)
        .is_some_and(|links| links.next.is_some())
}

fn rock_write(field: &str, after: String) -> AuditedWrite {
    AuditedWrite {
        to: System::Rock,
        field: field.to_string(),
        before: None,
        after: Some(after),
    }
}

/// A create Rock answered with a person it holds: a link to them, not a create.
fn took_for_existing(entry: &mut Entry, rock_id: i64) {
    entry.step = Step::Link {
        rock_id,
        how: decide::BY_ROCK_MATCH,
    };
    for action in &mut entry.actions {
        if matches!(action, Action::Created(_)) {
            *action = Action::Linked(entry.person.id.clone());
        }
    }
}

/// Errors after which Rock certainly made nobody: the create may be sent again.
fn surely_not_created(error: &Error) -> bool {
    matches!(
        error.kind,
        ErrorKind::Invalid | ErrorKind::Unauthorized | ErrorKind::NotFound | ErrorKind::Conflict
    )
}

/// The person's line in the report (R22), and the counts.
fn push_outcome(report: &mut Report, mut entry: Entry) {
    let c = &mut report.counts;
    match (&entry.step, &entry.failure) {
        (Step::Skip(_), _) => c.skipped += 1,
        (Step::Link { .. }, None) => {
            c.linked += 1;
            c.imported += 1;
        }
        (Step::Link { .. }, Some(_)) => {
            // Not linked after all: the link waits for the next run.
            entry.actions.retain(|a| !matches!(a, Action::Linked(_)));
        }
        (Step::Create, None) => {
            c.created += 1;
            c.imported += 1;
        }
        (Step::Create, Some(_)) if entry.rock_id.is_some() => c.created += 1,
        (Step::Create, Some(_)) => {
            entry.actions.retain(|a| !matches!(a, Action::Created(_)));
        }
        (Step::Finish { .. }, None) => {
            c.imported += 1;
            entry.actions.push(Action::Flagged(
                "linked (by hand or by a sync) after an interrupted import; now in the group of their level"
                    .into(),
            ));
        }
        (Step::Finish { .. }, Some(_)) => {}
    }
    if let Some(error) = entry.failure {
        c.failed += 1;
        entry.actions.push(Action::Failed(error));
    }
    if let Step::Link { how, .. } = entry.step
        && how != decide::BY_MATCH
        && entry.actions.iter().any(|a| matches!(a, Action::Linked(_)))
    {
        entry.actions.push(Action::Flagged(format!("linked {how}")));
    }
    report.people.push(PersonOutcome {
        rock_id: entry.rock_id,
        pco_id: Some(entry.person.id),
        actions: entry.actions,
    });
}

fn log(ports: &dyn Ports, level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ports.log(level, message, &fields);
}
