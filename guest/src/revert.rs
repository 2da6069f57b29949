//! Reverting a run, or one person's changes in it (R25): every audited write goes back to the
//! value it replaced, and the person's sync record goes back with it, so the next sync sees
//! the systems as they were before that run.
//!
//! A value changed again since the run is left alone (and reported): the revert undoes that
//! run, not the work of whoever came after it. People a run created are not deleted (that is
//! `delete`), and an organization administrator is never lowered (R50). A revert is itself an
//! audited run, so it can be reverted too.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{
    Account, Action, Direction, FieldChange, PersonOutcome, Report, RevertOptions, RunKind,
};
use crate::audit::{self, AuditedWrite, PersonAudit, RunLog, System};
use crate::bindings::rockpco::sync::pco::Request;
use crate::bindings::rockpco::sync::rock::{Person, PersonTags, PersonUpdate};
use crate::bindings::rockpco::sync::state::Write;
use crate::fields::{self, Field, Snapshot};
use crate::pco_api::TokenRoles;
use crate::pco_people::{self, PcoPersonFull};
use crate::permissions::rank;
use crate::ports::Ports;
use crate::services::{self, Directory, ServicesPerson, level_name, parse_level};
use crate::store::{self, Record};
use crate::types::{Error, ErrorKind, PermissionLevel};

pub fn revert(
    ports: &dyn Ports,
    account: &Account,
    options: &RevertOptions,
) -> Result<Report, Error> {
    let target = &options.target;
    audit::summary(ports, target)?.ok_or_else(|| Error {
        kind: ErrorKind::NotFound,
        message: format!(
            "no run `{target}` in this account's history (`pcosync status` lists recent runs)"
        ),
    })?;
    let mut people = audit::audits(ports, target)?;
    if let Some(rock_id) = options.rock_id {
        people.retain(|p| p.rock_id == Some(rock_id));
        if people.is_empty() {
            return Err(Error {
                kind: ErrorKind::NotFound,
                message: format!("run `{target}` wrote nothing for Rock person {rock_id}"),
            });
        }
    }
    let run = &options.run;
    let now = Current::fetch(ports, account, &people)?;
    let plans: Vec<PersonRevert> = people
        .iter()
        .map(|p| plan_person(account, &now, p))
        .collect();
    let mut report = crate::report::empty(RunKind::Revert, &run.run_id, &account.name, run.dry_run);
    if run.dry_run {
        for plan in &plans {
            push_outcome(&mut report, plan, None);
        }
        return Ok(report);
    }
    let history = RunLog::new(RunKind::Revert, &run.run_id, &run.started_at);
    audit::logged(ports, &history, &mut report, |report| {
        let audits: Vec<PersonAudit> = plans.iter().filter_map(PersonRevert::audit).collect();
        history.record(ports, &audits)?;
        apply(ports, account, &now, &plans, report)
    })?;
    Ok(report)
}

/// What both systems and the state hold now for the people of the reverted run.
#[derive(Default)]
struct Current {
    rock: BTreeMap<i64, Person>,
    pco: BTreeMap<String, PcoPersonFull>,
    services: BTreeMap<String, ServicesPerson>,
    records: BTreeMap<i64, Record>,
    directory: Option<Directory>,
    /// What the token's user may do, when the revert writes PCO fields or levels (issue 23).
    roles: Option<TokenRoles>,
}

impl Current {
    fn fetch(
        ports: &dyn Ports,
        account: &Account,
        people: &[PersonAudit],
    ) -> Result<Current, Error> {
        let writes_to = |system: System, pred: &dyn Fn(&str) -> bool| {
            people
                .iter()
                .filter(|p| p.writes.iter().any(|w| w.to == system && pred(&w.field)))
                .collect::<Vec<_>>()
        };
        let is_field = |name: &str| Field::from_name(name).is_some();
        let rock_ids: Vec<i64> = people.iter().filter_map(|p| p.rock_id).collect();
        let mut now = Current {
            rock: ports
                .people(&rock_ids)?
                .into_iter()
                .map(|p| (p.id, p))
                .collect(),
            records: store::records(ports)?,
            ..Current::default()
        };
        let pco_ids: Vec<String> = writes_to(System::Pco, &is_field)
            .iter()
            .filter_map(|p| p.pco_id.clone())
            .collect();
        let requests: Vec<Request> = pco_ids
            .iter()
            .map(|id| pco_people::get_person(id))
            .collect();
        for result in ports.pco_send_batch(&account.name, &requests) {
            match result {
                Ok(response) => {
                    for person in pco_people::parse_people_document(&response.body)?.0 {
                        now.pco.insert(person.id.clone(), person);
                    }
                }
                Err(error) if error.kind == ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        if !writes_to(System::Pco, &|f| is_field(f) || f == "permission").is_empty() {
            now.roles = Some(crate::pco_api::token_roles(ports, &account.name)?);
        }
        let services_people = writes_to(System::Pco, &|f| f == "permission" || f == "tags");
        for person in &services_people {
            if let Some(id) = &person.pco_id
                && let Some(found) = services::fetch_person(ports, &account.name, id)?
            {
                now.services.insert(id.clone(), found);
            }
        }
        if !writes_to(System::Pco, &|f| f == "tags").is_empty() {
            now.directory = Some(services::fetch_directory(ports, &account.name)?);
        }
        Ok(now)
    }
}

/// One person's revert: what goes back where, and what is left alone and why.
#[derive(Default)]
struct PersonRevert {
    rock_id: Option<i64>,
    pco_id: Option<String>,
    to_pco: Vec<(Field, Option<String>)>,
    to_rock: Vec<(Field, Option<String>)>,
    level: Option<Option<PermissionLevel>>,
    pco_tags: Option<BTreeSet<String>>,
    rock_tags: Option<BTreeSet<String>>,
    /// The record to commit once the writes succeed (None: leave it; Some(None): delete it).
    record: Option<Option<Record>>,
    /// Each write back, as the revert's own audit and report show it.
    reverted: Vec<AuditedWrite>,
    skipped: Vec<String>,
    current_record: Option<Record>,
}

impl PersonRevert {
    fn audit(&self) -> Option<PersonAudit> {
        (!self.reverted.is_empty()).then(|| PersonAudit {
            rock_id: self.rock_id,
            pco_id: self.pco_id.clone(),
            prior: self.current_record.clone(),
            writes: self.reverted.clone(),
        })
    }
}

fn plan_person(account: &Account, now: &Current, person: &PersonAudit) -> PersonRevert {
    let current_record = person.rock_id.and_then(|id| now.records.get(&id)).cloned();
    let mut plan = PersonRevert {
        rock_id: person.rock_id,
        pco_id: person.pco_id.clone(),
        current_record: current_record.clone(),
        ..PersonRevert::default()
    };
    if person.writes.iter().any(|w| w.field == "person") {
        plan.skipped.push(
            "created in PCO by that run: a revert does not delete people (`pcosync delete` does)"
                .into(),
        );
        return plan;
    }
    let prior = person.prior.clone();
    let mut record = current_record.clone().or_else(|| prior.clone());
    for write in &person.writes {
        match revert_write(account, now, person, write) {
            Ok(Some(back)) => {
                apply_to_plan(&mut plan, write, &back);
                if let Some(record) = record.as_mut() {
                    restore_in_record(record, prior.as_ref(), write);
                }
            }
            Ok(None) => {}
            Err(why) => plan.skipped.push(why),
        }
    }
    if person.writes.iter().any(|w| w.field == "link") && plan.skipped.is_empty() {
        plan.record = Some(prior);
    } else if plan.reverted.is_empty() {
        plan.record = None;
    } else {
        plan.record = Some(record);
    }
    plan
}

/// The value a write goes back to, None when there is nothing to write (a link: only the
/// state changes), or why it is left alone.
fn revert_write(
    account: &Account,
    now: &Current,
    person: &PersonAudit,
    write: &AuditedWrite,
) -> Result<Option<AuditedWrite>, String> {
    let back = |current: Option<String>| AuditedWrite {
        to: write.to,
        field: write.field.clone(),
        before: current,
        after: write.before.clone(),
    };
    if write.field == "link" {
        return Ok(None);
    }
    if write.field == "photo" {
        return Err("photos go one way, Rock to PCO, and are not reverted".into());
    }
    let current = current_value(account, now, person, write)?;
    if current != write.after {
        return Err(format!(
            "{} in {} changed since that run; left as it is now",
            write.field,
            system_name(write.to)
        ));
    }
    if let Some(why) = refused_by_roles(now, person, write) {
        return Err(why);
    }
    if write.field == "permission" && write.to == System::Pco {
        let admin = person
            .pco_id
            .as_ref()
            .and_then(|id| now.services.get(id))
            .is_some_and(|s| s.site_administrator);
        let lowers = match (
            write.after.as_deref().and_then(parse_level),
            write.before.as_deref().and_then(parse_level),
        ) {
            (Some(now), Some(back)) => rank(back) < rank(now),
            (Some(_), None) => true,
            _ => false,
        };
        if admin && lowers {
            return Err("organization administrator: the sync never lowers or archives one".into());
        }
    }
    Ok(Some(back(current)))
}

/// Why the token's user may not make this PCO write back (issue 23): Services permissions
/// need a Services Administrator or an organization administrator; an organization or
/// accounting administrator's names and contacts need an organization administrator
/// (planningcenter/developers#1139, #1096). The revert leaves the value and says so, rather
/// than have PCO refuse it.
fn refused_by_roles(now: &Current, person: &PersonAudit, write: &AuditedWrite) -> Option<String> {
    let roles = now.roles.as_ref().filter(|_| write.to == System::Pco)?;
    if write.field == "permission" {
        return roles
            .level_refusal()
            .map(|why| format!("permission left as it is: {why}"));
    }
    let field = Field::from_name(&write.field)?;
    let pco = person.pco_id.as_ref().and_then(|id| now.pco.get(id))?;
    let administrator = pco.site_administrator || pco.accounting_administrator;
    (administrator
        && !roles.edits_administrators()
        && crate::roles::ADMINISTRATOR_FIELDS.contains(&field))
    .then(|| {
        format!(
            "{} left as it is: this person is an organization or accounting administrator in PCO, whose names and contacts only an organization administrator may edit; edit in PCO, or use an organization administrator's token",
            write.field
        )
    })
}

fn current_value(
    account: &Account,
    now: &Current,
    person: &PersonAudit,
    write: &AuditedWrite,
) -> Result<Option<String>, String> {
    let missing = |what: &str| format!("{what} is gone; nothing to revert");
    match (write.to, write.field.as_str()) {
        (System::Pco, "permission") => {
            let id = person
                .pco_id
                .as_ref()
                .ok_or_else(|| missing("the PCO person"))?;
            let services = now
                .services
                .get(id)
                .ok_or_else(|| missing("the Services person"))?;
            Ok(services.level.map(|l| level_name(l).to_string()))
        }
        (System::Pco, "tags") => {
            let id = person
                .pco_id
                .as_ref()
                .ok_or_else(|| missing("the PCO person"))?;
            let services = now
                .services
                .get(id)
                .ok_or_else(|| missing("the Services person"))?;
            let directory = now
                .directory
                .as_ref()
                .ok_or_else(|| missing("the tag list"))?;
            let names: BTreeSet<String> = services
                .tags
                .iter()
                .filter_map(|t| directory.tags.name(t).map(str::to_string))
                .collect();
            Ok(Some(crate::run::tag_text(&names)))
        }
        (System::Rock, "tags") => {
            let id = person.rock_id.ok_or_else(|| missing("the Rock person"))?;
            let rock = now
                .rock
                .get(&id)
                .ok_or_else(|| missing("the Rock person"))?;
            Ok(Some(crate::run::tag_text(&account_tags(account, rock))))
        }
        (to, name) => {
            let field = Field::from_name(name).ok_or_else(|| format!("unknown field `{name}`"))?;
            let snapshot = match to {
                System::Pco => {
                    let id = person
                        .pco_id
                        .as_ref()
                        .ok_or_else(|| missing("the PCO person"))?;
                    let pco = now.pco.get(id).ok_or_else(|| missing("the PCO person"))?;
                    Snapshot::from_pco(pco, account.first_name_source)
                }
                System::Rock => {
                    let id = person.rock_id.ok_or_else(|| missing("the Rock person"))?;
                    let rock = now
                        .rock
                        .get(&id)
                        .ok_or_else(|| missing("the Rock person"))?;
                    Snapshot::from_rock(rock, account.first_name_source)
                }
            };
            Ok(snapshot.get(field).map(str::to_string))
        }
    }
}

/// The account's values of Rock's "PCO Tags" attribute, without the account prefix.
fn account_tags(account: &Account, person: &Person) -> BTreeSet<String> {
    let prefix = format!("{}:", account.name);
    person
        .pco_tags
        .iter()
        .filter_map(|v| v.trim().strip_prefix(&prefix).map(str::to_string))
        .collect()
}

fn tag_set(text: &Option<String>) -> BTreeSet<String> {
    text.as_deref()
        .map(|t| {
            t.lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn apply_to_plan(plan: &mut PersonRevert, write: &AuditedWrite, back: &AuditedWrite) {
    match (write.to, write.field.as_str()) {
        (System::Pco, "permission") => {
            plan.level = Some(write.before.as_deref().and_then(parse_level));
        }
        (System::Pco, "tags") => plan.pco_tags = Some(tag_set(&write.before)),
        (System::Rock, "tags") => plan.rock_tags = Some(tag_set(&write.before)),
        (to, name) => {
            if let Some(field) = Field::from_name(name) {
                match to {
                    System::Pco => plan.to_pco.push((field, write.before.clone())),
                    System::Rock => plan.to_rock.push((field, write.before.clone())),
                }
            }
        }
    }
    plan.reverted.push(back.clone());
}

/// Puts the record's part for this write back as it was before the run, so the next sync's
/// three-way merge sees the reverted value as the one both sides agreed on.
fn restore_in_record(record: &mut Record, prior: Option<&Record>, write: &AuditedWrite) {
    match write.field.as_str() {
        "permission" => record.level = prior.and_then(|p| p.level),
        "tags" => record.tags = prior.map(|p| p.tags.clone()).unwrap_or_default(),
        name => {
            if let Some(field) = Field::from_name(name) {
                let value = prior
                    .and_then(|p| p.base.as_ref())
                    .and_then(|b| b.entry(field))
                    .unwrap_or(write.before.as_deref());
                record
                    .base
                    .get_or_insert_with(Snapshot::default)
                    .set(field, value);
            }
        }
    }
}

fn apply(
    ports: &dyn Ports,
    account: &Account,
    now: &Current,
    plans: &[PersonRevert],
    report: &mut Report,
) -> Result<(), Error> {
    let mut failures: Vec<Option<Error>> = plans
        .iter()
        .map(|p| apply_pco(ports, account, now, p).err())
        .collect();
    let mut updates = Vec::new();
    let mut tags = Vec::new();
    for (index, plan) in plans.iter().enumerate() {
        let (Some(rock_id), None) = (plan.rock_id, &failures[index]) else {
            continue;
        };
        let changes = fields::to_field_values(&plan.to_rock);
        if !changes.is_empty() {
            updates.push((
                index,
                PersonUpdate {
                    id: rock_id,
                    changes,
                },
            ));
        }
        if let (Some(ours), Some(person)) = (&plan.rock_tags, now.rock.get(&rock_id)) {
            let prefix = format!("{}:", account.name);
            let mut values: Vec<String> = person
                .pco_tags
                .iter()
                .filter(|v| !v.trim().starts_with(&prefix))
                .cloned()
                .collect();
            values.extend(ours.iter().map(|t| format!("{prefix}{t}")));
            tags.push((
                index,
                PersonTags {
                    person_id: rock_id,
                    tags: values,
                },
            ));
        }
    }
    let batch: Vec<PersonUpdate> = updates.iter().map(|(_, u)| u.clone()).collect();
    for ((index, _), result) in updates.iter().zip(ports.update_people(&batch)) {
        if let Err(error) = result {
            failures[*index].get_or_insert(error);
        }
    }
    let batch: Vec<PersonTags> = tags.iter().map(|(_, t)| t.clone()).collect();
    for ((index, _), result) in tags.iter().zip(ports.set_tags(&batch)) {
        if let Err(error) = result {
            failures[*index].get_or_insert(error);
        }
    }
    let mut writes: Vec<Write> = Vec::new();
    for (plan, failure) in plans.iter().zip(&failures) {
        if failure.is_none()
            && let (Some(rock_id), Some(record)) = (plan.rock_id, &plan.record)
        {
            writes.push(match record {
                Some(record) => store::put_record(rock_id, record),
                None => store::delete_record(rock_id),
            });
        }
        push_outcome(report, plan, failure.clone());
    }
    if writes.is_empty() {
        return Ok(());
    }
    ports.state_commit(&writes)
}

fn apply_pco(
    ports: &dyn Ports,
    account: &Account,
    now: &Current,
    plan: &PersonRevert,
) -> Result<(), Error> {
    let Some(id) = plan.pco_id.as_deref() else {
        return Ok(());
    };
    let mut requests = Vec::new();
    if !plan.to_pco.is_empty() {
        let current = now.pco.get(id).ok_or_else(|| Error {
            kind: ErrorKind::NotFound,
            message: format!("PCO person {id} is gone"),
        })?;
        requests.extend(fields::pco_requests(
            &plan.to_pco,
            current,
            account.first_name_source,
        ));
    }
    if let Some(level) = plan.level {
        requests.push(services::set_level(id, level));
    }
    if let (Some(tags), Some(directory)) = (&plan.pco_tags, &now.directory) {
        let ids = tags.iter().filter_map(|t| directory.tags.id(t));
        requests.push(services::assign_tags(id, ids));
    }
    match ports
        .pco_send_batch(&account.name, &requests)
        .into_iter()
        .find_map(Result::err)
    {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

fn push_outcome(report: &mut Report, plan: &PersonRevert, failure: Option<Error>) {
    let mut actions = Vec::new();
    for write in &plan.reverted {
        report.counts.reverted += 1;
        actions.push(Action::Reverted(FieldChange {
            field: write.field.clone(),
            direction: match write.to {
                System::Pco => Direction::RockToPco,
                System::Rock => Direction::PcoToRock,
            },
            before: write.before.clone(),
            after: write.after.clone(),
        }));
    }
    for why in &plan.skipped {
        report.counts.skipped += 1;
        actions.push(Action::Skipped(why.clone()));
    }
    if let Some(error) = failure {
        report.counts.failed += 1;
        actions.push(Action::Failed(error));
    }
    if !actions.is_empty() {
        report.people.push(PersonOutcome {
            rock_id: plan.rock_id,
            pco_id: plan.pco_id.clone(),
            actions,
        });
    }
}

fn system_name(system: System) -> &'static str {
    match system {
        System::Rock => "Rock",
        System::Pco => "PCO",
    }
}
