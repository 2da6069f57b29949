//! One sync run: gather what both systems and the state hold, plan (see `plan`), then apply
//! the plan unless it is a dry run or the safety brake holds it.
//!
//! Write order, so that a run stopped at any point and run again neither loses nor
//! duplicates anyone (R6, R23):
//! 1. a create is announced in the state (`intent/`) before it is sent, and PCO carries the
//!    Rock id in `remote_id`, so a retry finds what an interrupted create made;
//! 2. a person's PCO writes go first, Rock's next, and the person's record (link and merge
//!    base) is committed last: a run stopped in between finds both sides changed the same way
//!    next time, which writes nothing;
//! 3. one person's failure is reported and leaves their record as it was, so the next run
//!    tries them again.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{
    Account, Action, Direction, FieldChange, PersonOutcome, Report, RunKind, SyncOptions,
};
use crate::audit::{self, AuditedWrite, PersonAudit, RunLog, System};
use crate::bindings::rockpco::sync::pco::{Request, Response};
use crate::bindings::rockpco::sync::rock::{
    Fate, GonePerson, Person, PersonTags, PersonUpdate, Protection,
};
use crate::bindings::rockpco::sync::state::Write;
use crate::clock::minus_minutes;
use crate::fields::{self, Side, Snapshot};
use crate::linking::Index;
use crate::pco_api::{PcoPerson, fetch_pages, fetch_pages_from_both_ends};
use crate::pco_people::{self, PcoPersonFull};
use crate::plan::{Inputs, LevelStep, LinkStep, PersonPlan, plan};
use crate::ports::{Level, Ports};
use crate::services::{self, Directory, ServicesPerson};
use crate::store::{self, Held, Record};
use crate::synced::who_is_synced;
use crate::types::{Error, ErrorKind, PermissionLevel};

/// How many Rock people to ask for in one call.
const PEOPLE_BATCH: usize = 500;
/// Updates-only runs look this far behind the last run's start, so a clock that differs
/// between us and PCO, or a change made while the last run was reading, is never missed.
const OVERLAP_MINUTES: i64 = 15;
/// The brake only weighs runs that touch at least this many people: on a tiny account one
/// ordinary change is already a large share.
const BRAKE_MINIMUM: u32 = 5;

pub fn sync(ports: &dyn Ports, account: &Account, options: &SyncOptions) -> Result<Report, Error> {
    let ports = &store::versioned(ports, options.dry_run)?; // schema: migrate or refuse
    log(
        ports,
        Level::Info,
        "sync started",
        &[("account", &account.name), ("run", &options.run_id)],
    );
    // What the token's user may do decides whether this run may write at all (issue 14.4).
    let roles = crate::pco_api::token_roles(ports, &account.name)?;
    if let Some(why) = roles.refusal().filter(|_| !options.dry_run) {
        return Err(Error {
            kind: ErrorKind::Unauthorized,
            message: format!(
                "PCO account \"{}\": {why}. Nothing was written.",
                account.name
            ),
        });
    }
    let mut world = gather(ports, account, options)?;
    let mut plans = plan(&world.inputs(account));
    // What the first plan would write is read from PCO first, and the plan made again with
    // it: PCO people an updates-only run did not list (issue 24 items 10-12), then Services
    // records a grant or a tag write meets (items 5, 6).
    if read_people_written(ports, account, &mut world, &plans)? {
        plans = plan(&world.inputs(account));
    }
    if read_services_written(ports, account, &mut world, &plans)? {
        plans = plan(&world.inputs(account));
    }
    // What the token's user may not do is held and flagged, never sent (issue 23).
    if !roles.edits_administrators() {
        read_administrators(ports, &account.name, &plans, &mut world.pco);
    }
    crate::roles::hold(&mut plans, &roles, &world.pco);
    // An email from PCO that could take over a Rock login waits for an administrator (issue
    // 24 item 15).
    let email_holds = crate::email_guard::hold(ports, account, &world.rock, &mut plans)?;
    let mut report = empty_report(account, options, world.synced.len());
    report.people.extend(world.notes.iter().cloned());
    count_lookalikes(&mut report, &plans);
    let brake = brake(ports, account, options, &plans, world.synced.len() as u32)?;
    let history = RunLog::new(RunKind::Sync, &options.run_id, &options.started_at);
    if options.dry_run || brake.held.is_some() {
        if let Some(why) = brake.refused {
            report.people.push(PersonOutcome {
                rock_id: None,
                pco_id: None,
                actions: vec![Action::Flagged(why)],
            });
        }
        for plan in &plans {
            push_outcome(&mut report, plan, None, &[], Done::PLANNED);
            note_welcome(&mut report, account, &world, plan);
        }
        if let Some(held) = brake.held {
            report.held = true;
            if !options.dry_run {
                ports.state_commit(&[
                    store::put_held(&options.run_id, &held),
                    history.finish(&report),
                ])?;
            }
        }
        return Ok(report);
    }
    let mut writes = world.state_writes.clone();
    writes.extend(email_holds);
    if let Some(confirmed) = &options.confirm {
        writes.push(store::delete_held(confirmed));
    }
    audit::logged(ports, &history, &mut report, |report| {
        let audits: Vec<PersonAudit> = plans.iter().map(|p| person_audit(&world, p)).collect();
        history.record(ports, &audits)?;
        apply(ports, account, &world, &plans, report, writes)
    })?;
    log(
        ports,
        Level::Info,
        "sync finished",
        &[("run", &options.run_id)],
    );
    Ok(report)
}

/// R4 (issue 24 item 20): how many people were held because PCO may already hold them, one
/// line for the whole run; each person's own line names their candidates.
fn count_lookalikes(report: &mut Report, plans: &[PersonPlan]) {
    let held = plans.iter().filter(|p| p.lookalike).count();
    if held > 0 {
        report.people.push(PersonOutcome {
            rock_id: None,
            pco_id: None,
            actions: vec![Action::Flagged(crate::namesakes::held_count_note(held))],
        });
    }
}

/// What both systems and the state hold at the start of the run.
struct World {
    synced: BTreeMap<i64, crate::synced::Synced>,
    rock: BTreeMap<i64, Person>,
    records: BTreeMap<i64, Record>,
    pco: BTreeMap<String, PcoPersonFull>,
    pco_complete: bool,
    by_remote: BTreeMap<i64, String>,
    by_import: BTreeMap<i64, String>,
    /// Linked PCO ids that PCO merged into another person, and that person's id.
    merged_in_pco: BTreeMap<String, String>,
    /// Updates-only: linked PCO ids PCO answered 404 for when read before a write.
    gone_in_pco: BTreeSet<String>,
    index: Index,
    services: Option<BTreeMap<String, ServicesPerson>>,
    /// Updates-only: Services records read one by one (see `plan::needs_services_read`).
    services_read: BTreeMap<String, Option<ServicesPerson>>,
    /// Why the account archives nobody for now (PCO refused it lately), if it does not.
    archive_refused: Option<String>,
    /// Linked people Rock marks deceased (its lists leave them out): no longer synced (R18).
    deceased: BTreeSet<i64>,
    directory: Directory,
    /// Rock people whose PCO person this sync created and has not finished setting up (R6):
    /// they are still listed as needing the welcome email when their Services access is granted.
    intents: BTreeSet<i64>,
    /// When this run started (the host's clock: what `status` shows as the last success).
    started_at: String,
    /// PCO's clock: the newest `updated_at` the run listed, where the next updates-only run
    /// reads from (issue 24 item 10); None when it listed nobody.
    pco_cursor: Option<String>,
    /// State changes found while gathering (links moved to merge survivors), written with
    /// the run.
    state_writes: Vec<Write>,
    /// What gathering found for an administrator (merges of two linked people).
    notes: Vec<PersonOutcome>,
    /// People an administrator chose to create though PCO may hold them already (R4).
    create_anyway: BTreeSet<i64>,
    /// Why the last run left each of these people unlinked (R32).
    waiting: BTreeMap<i64, String>,
    /// A full read that came back short of PCO's count (issue 14.5).
    pco_short: bool,
}

fn gather(ports: &dyn Ports, account: &Account, options: &SyncOptions) -> Result<World, Error> {
    let mut synced = who_is_synced(ports, account)?;
    let mut records = store::records(ports)?;
    crate::synced::without_unlinked_leftovers(&mut synced, &records);
    let intents = store::intents(ports)?;
    let wanted: BTreeSet<i64> = synced.keys().chain(records.keys()).copied().collect();
    let rock = load_people(ports, &wanted)?;
    let mut merges = follow_merges(ports, &rock, &mut records);
    // A PCO tag still set on someone deceased does not keep them synced (R18).
    synced.retain(|id, _| !merges.deceased.contains(id));

    // PCO's clock where a run left it; the host's from a guest that did not keep PCO's.
    let cursor = store::pco_cursor(ports)?.or(store::cursor(ports)?);
    let updates_only = options.updates_only.unwrap_or(account.updates_only);
    let since = cursor
        .as_deref()
        .filter(|_| updates_only)
        .map(|c| minus_minutes(c, OVERLAP_MINUTES));
    let (listed, listed_total) = fetch_people(ports, &account.name, since.as_deref())?;
    // Listed nobody (nobody changed): the next window starts where this one did.
    let pco_cursor = newest_update(&listed).or(cursor.filter(|_| updates_only));
    let mut pco: BTreeMap<String, PcoPersonFull> =
        listed.into_iter().map(|p| (p.id.clone(), p)).collect();
    let pco_complete = since.is_none();
    // Fewer distinct people than the first page's total: a page edge skipped someone (a
    // large account is read from both ends by `created_at`, which is not unique: recorded
    // traffic has ten people created in one second), or people went while the list was read.
    // Either way the list cannot prove that an unlinked person has no match (issue 23).
    let read_short = listed_total.is_some_and(|total| (pco.len() as u64) < total);
    let mut confirmed = if pco_complete {
        crate::missing::confirm_missing(ports, &account.name, &records, &mut pco)?
    } else {
        crate::missing::Confirmed::default()
    };
    confirmed.listed_short |= pco_complete && read_short;
    merges
        .notes
        .extend(merge_unknown_notes(&records, &confirmed.merge_unknown));
    // An interrupted import may have created Rock people it has not linked yet (R6, R42).
    let by_import: BTreeMap<i64, String> = crate::import::created_unlinked(ports)?
        .into_iter()
        .filter(|(rock_id, _)| synced.contains_key(rock_id) && !records.contains_key(rock_id))
        .collect();
    // Who may be created needs a search where the list cannot prove there is nobody to
    // match: in updates-only runs (the list holds only people updated lately), after a full
    // list found short (issue 14.5), and for protected people, whose match found by email is
    // left for an administrator rather than duplicated (R4).
    let unlinked: Vec<&Person> = synced
        .keys()
        .filter(|id| !records.contains_key(id))
        .filter_map(|id| rock.get(id))
        .filter(|person| {
            !pco_complete
                || confirmed.listed_short
                || matches!(person.protection, Protection::High | Protection::Extreme)
        })
        .collect();
    for found in search_candidates(ports, &account.name, &unlinked, &intents)? {
        pco.insert(found.id.clone(), found);
    }
    if !pco_complete {
        for pco_id in by_import.values() {
            if !pco.contains_key(pco_id)
                && let Some(found) = fetch_person(ports, &account.name, pco_id)?
            {
                pco.insert(found.id.clone(), found);
            }
        }
    }
    // R6: a `remote_id` is trusted only where this product stamped it, on a create it
    // announced (an intent). Churches that moved into PCO from another system kept that
    // system's ids there, and they overlap Rock's: anyone else is matched on name and email
    // (R4, protection honoured).
    let by_remote = pco
        .values()
        .filter_map(|p| Some((p.remote_id?, p.id.clone())))
        .filter(|(rock_id, _)| intents.contains(rock_id))
        .collect();
    let index = Index::new(&pco.values().map(matchable).collect::<Vec<_>>());
    let (services, services_read) = if pco_complete {
        let mut services = services::fetch_people(ports, &account.name)?;
        // People says who is an organization administrator whatever the token's Services
        // role lets Services show (issue 14.4, R50).
        for (id, person) in &mut services {
            person.site_administrator |= pco.get(id).is_some_and(|p| p.site_administrator);
        }
        (Some(services), BTreeMap::new())
    } else {
        (
            None,
            read_services(ports, &account.name, &synced, &records)?,
        )
    };
    let directory = services::fetch_directory(ports, &account.name)?;
    Ok(World {
        synced,
        rock,
        records,
        pco,
        pco_complete,
        by_remote,
        by_import,
        merged_in_pco: confirmed.merged,
        gone_in_pco: BTreeSet::new(),
        index,
        services,
        services_read,
        archive_refused: store::archive_refusal(ports, &options.started_at)?,
        directory,
        intents,
        started_at: options.started_at.clone(),
        pco_cursor,
        state_writes: merges.writes,
        notes: merges.notes,
        deceased: merges.deceased,
        create_anyway: store::create_anyway(ports)?,
        waiting: store::waiting(ports)?,
        pco_short: confirmed.listed_short,
    })
}

/// Merges PCO would not show: no merge known, each person flagged (issue 23).
fn merge_unknown_notes(
    records: &BTreeMap<i64, Record>,
    merge_unknown: &BTreeMap<String, String>,
) -> Vec<PersonOutcome> {
    records
        .iter()
        .filter_map(|(rock_id, record)| {
            let why = merge_unknown.get(&record.pco)?;
            Some(PersonOutcome {
                rock_id: Some(*rock_id),
                pco_id: Some(record.pco.clone()),
                actions: vec![Action::Flagged(crate::missing::merge_unknown_note(
                    &record.pco,
                    why,
                ))],
            })
        })
        .collect()
}

impl World {
    /// What a plan is made from: everything gathered, and read since.
    fn inputs<'a>(&'a self, account: &'a Account) -> Inputs<'a> {
        Inputs {
            account,
            synced: &self.synced,
            rock: &self.rock,
            records: &self.records,
            pco: &self.pco,
            pco_complete: self.pco_complete,
            by_remote: &self.by_remote,
            by_import: &self.by_import,
            merged_in_pco: &self.merged_in_pco,
            gone_in_pco: &self.gone_in_pco,
            index: &self.index,
            services: self.services.as_ref(),
            services_read: &self.services_read,
            archive_refused: self.archive_refused.as_deref(),
            deceased: &self.deceased,
            tags: &self.directory.tags,
            create_anyway: &self.create_anyway,
            pco_short: self.pco_short,
            waiting: &self.waiting,
        }
    }
}

/// Updates-only: the linked PCO people the plan writes to whom the list left out (edited
/// before the window, or edited where the window missed them), read before anything is
/// written, so that their edits are merged (R12: a conflict is recorded, never an unseen
/// overwrite; issue 24 item 10) and a hand link's PCO values are known (item 12). A person
/// PCO answers 404 for was deleted or merged in PCO: the merge is followed, or they are
/// matched again, as a full run does (R7, item 11). Returns whether anyone was read (the
/// plan is then made again).
fn read_people_written(
    ports: &dyn Ports,
    account: &Account,
    world: &mut World,
    plans: &[PersonPlan],
) -> Result<bool, Error> {
    if world.pco_complete {
        return Ok(false);
    }
    let ids: BTreeSet<String> = plans
        .iter()
        .filter(|p| p.link == LinkStep::Kept && p.synced)
        .filter(|p| {
            writes_pco(p)
                || world
                    .records
                    .get(&p.rock_id)
                    .is_some_and(|r| r.base.is_none())
        })
        .filter_map(|p| p.pco_id.clone())
        .filter(|id| !world.pco.contains_key(id))
        .collect();
    if ids.is_empty() {
        return Ok(false);
    }
    let ids: Vec<String> = ids.into_iter().collect();
    let gone = crate::missing::read_people(ports, &account.name, &ids, &mut world.pco)?;
    if !gone.is_empty() {
        rematch(ports, account, world, &gone)?;
    }
    Ok(true)
}

/// Whether the plan writes anything to the person's PCO record.
fn writes_pco(plan: &PersonPlan) -> bool {
    plan.fields.as_ref().is_some_and(|m| !m.to_pco.is_empty())
        || plan.level != LevelStep::Keep
        || plan.tags.to_pco.is_some()
        || plan.photo.is_some()
}

/// Updates-only: linked PCO people gone from PCO (404). Their merges are followed; the Rock
/// people are looked up again by email, and the plan matches them as a full run would (R7).
fn rematch(
    ports: &dyn Ports,
    account: &Account,
    world: &mut World,
    gone: &[String],
) -> Result<(), Error> {
    let confirmed = crate::missing::confirm_gone(ports, &account.name, gone, &mut world.pco)?;
    world.notes.extend(merge_unknown_notes(
        &world.records,
        &confirmed.merge_unknown,
    ));
    world.merged_in_pco.extend(confirmed.merged);
    world.gone_in_pco.extend(gone.iter().cloned());
    let people: Vec<&Person> = world
        .records
        .iter()
        .filter(|(_, record)| gone.contains(&record.pco))
        .filter_map(|(rock_id, _)| world.rock.get(rock_id))
        .collect();
    for found in search_candidates(ports, &account.name, &people, &world.intents)? {
        world.pco.insert(found.id.clone(), found);
    }
    world.index = Index::new(&world.pco.values().map(matchable).collect::<Vec<_>>());
    Ok(())
}

/// The Services records the plan meets, read before it writes (R17, R50; issue 24 items 5
/// and 6): a grant to someone this run does not create (PCO may hold a Services profile for
/// them already, archived or given by hand: the grant is then a raise, or nothing), and in
/// updates-only runs the tags of anyone whose tags are written. Returns whether any was read.
fn read_services_written(
    ports: &dyn Ports,
    account: &Account,
    world: &mut World,
    plans: &[PersonPlan],
) -> Result<bool, Error> {
    let updates_only = world.services.is_none();
    let ids: BTreeSet<String> = plans
        .iter()
        .filter(|p| p.link != LinkStep::Create)
        .filter(|p| {
            matches!(p.level, LevelStep::Grant(_)) || (updates_only && p.tags.to_pco.is_some())
        })
        .filter_map(|p| p.pco_id.clone())
        .filter(|id| !world.services_read.contains_key(id))
        .collect();
    for id in &ids {
        let mut person = services::fetch_person(ports, &account.name, id)?;
        if let (Some(services), Some(found)) = (world.services.as_mut(), person.as_mut()) {
            found.site_administrator |= world.pco.get(id).is_some_and(|p| p.site_administrator);
            services.insert(id.clone(), found.clone());
        }
        world.services_read.insert(id.clone(), person);
    }
    Ok(!ids.is_empty())
}

/// Updates-only: the linked PCO people the list left out whose names or contacts the plan
/// writes, read now so that who is an organization or accounting administrator is known
/// before anything is sent (issue 23; `apply_pco` reads them anyway). A read that fails is
/// left to `apply_pco`, which reads again and fails the person.
fn read_administrators(
    ports: &dyn Ports,
    account: &str,
    plans: &[PersonPlan],
    pco: &mut BTreeMap<String, PcoPersonFull>,
) {
    for plan in plans
        .iter()
        .filter(|p| crate::roles::writes_administrator_fields(p))
    {
        let Some(id) = plan.pco_id.as_ref().filter(|id| !pco.contains_key(*id)) else {
            continue;
        };
        if let Ok(Some(person)) = fetch_person(ports, account, id) {
            pco.insert(person.id.clone(), person);
        }
    }
}

/// Updates-only: the Services records of the linked people the sync may raise, read as PCO
/// holds them now (R17, R50).
fn read_services(
    ports: &dyn Ports,
    account: &str,
    synced: &BTreeMap<i64, crate::synced::Synced>,
    records: &BTreeMap<i64, Record>,
) -> Result<BTreeMap<String, Option<ServicesPerson>>, Error> {
    let mut read = BTreeMap::new();
    for (rock_id, synced) in synced {
        let Some(record) = records.get(rock_id) else {
            continue;
        };
        if crate::plan::needs_services_read(record, synced.level) {
            let person = services::fetch_person(ports, account, &record.pco)?;
            read.insert(record.pco.clone(), person);
        }
    }
    Ok(read)
}

fn load_people(ports: &dyn Ports, ids: &BTreeSet<i64>) -> Result<BTreeMap<i64, Person>, Error> {
    let ids: Vec<i64> = ids.iter().copied().collect();
    let mut people = BTreeMap::new();
    for chunk in ids.chunks(PEOPLE_BATCH) {
        for person in ports.people(chunk)? {
            people.insert(person.id, person);
        }
        ports.progress(
            "reading Rock people",
            people.len() as u64,
            Some(ids.len() as u64),
        );
    }
    Ok(people)
}

/// What `follow_merges` found: the state changes, and what an administrator should know.
#[derive(Default)]
struct Merges {
    writes: Vec<Write>,
    notes: Vec<PersonOutcome>,
    /// Linked people Rock marks deceased.
    deceased: BTreeSet<i64>,
}

/// R7: a linked Rock id that Rock no longer returns was merged; its link follows the
/// survivor. One Rock does not name a survivor for keeps its link: a person missing from one
/// read (a fault, a permission, a filter) is not a person gone, and dropping the link would
/// make the next run create them a second time in PCO. A survivor linked already keeps its
/// own link, and the merge is reported: PCO then holds two people for one. A person Rock
/// marks deceased is no longer synced (R18). A lookup that fails keeps every link and is
/// logged: it never stops the run.
fn follow_merges(
    ports: &dyn Ports,
    rock: &BTreeMap<i64, Person>,
    records: &mut BTreeMap<i64, Record>,
) -> Merges {
    let gone: Vec<GonePerson> = records
        .iter()
        .filter(|(id, _)| !rock.contains_key(id))
        .map(|(id, record)| GonePerson {
            id: *id,
            primary_alias: record.alias,
        })
        .collect();
    let mut merges = Merges::default();
    if gone.is_empty() {
        return merges;
    }
    let answers = match ports.follow_merges(&gone) {
        Ok(answers) => answers,
        Err(error) => {
            log(
                ports,
                Level::Warn,
                &format!(
                    "could not ask Rock what became of {} linked people it no longer lists ({}): their links are kept, and asked about again next run",
                    gone.len(),
                    error.message
                ),
                &[],
            );
            return merges;
        }
    };
    for merge in answers {
        let survivor = match merge.fate {
            Fate::Merged(survivor) if survivor != merge.old_id => survivor,
            Fate::Deceased => {
                merges.deceased.insert(merge.old_id);
                continue;
            }
            _ => continue,
        };
        let Some(record) = records.remove(&merge.old_id) else {
            continue;
        };
        merges.writes.push(store::delete_record(merge.old_id));
        match records.get(&survivor) {
            Some(kept) => merges.notes.push(PersonOutcome {
                rock_id: Some(survivor),
                pco_id: Some(kept.pco.clone()),
                actions: vec![Action::Flagged(format!(
                    "Rock merged person {} (linked to PCO person {}) into this person, who is linked to PCO person {}: this link is kept, PCO person {} is linked to nobody now; if they are one person, merge them in PCO",
                    merge.old_id, record.pco, kept.pco, record.pco
                ))],
            }),
            None => {
                merges.writes.push(store::put_record(survivor, &record));
                records.insert(survivor, record);
            }
        }
    }
    merges
}

/// The newest `updated_at` among PCO people read: PCO's clock, which the updates-only window
/// is asked in (issue 24 item 10). Only UTC stamps (PCO writes `…Z`) are compared, as text.
fn newest_update(people: &[PcoPersonFull]) -> Option<String> {
    people
        .iter()
        .filter_map(|p| utc_second(&p.updated_at))
        .max()
}

/// `2026-11-23T10:00:00Z` of a UTC timestamp (fractions dropped); None for anything else.
fn utc_second(time: &str) -> Option<String> {
    let (second, zone) = (time.get(..19)?, time.get(19..)?);
    let zone = zone.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let shape = second.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        10 => b == b'T',
        13 | 16 => b == b':',
        _ => b.is_ascii_digit(),
    });
    (shape && matches!(zone, "Z" | "+00:00")).then(|| format!("{second}Z"))
}

fn fetch_people(
    ports: &dyn Ports,
    account: &str,
    since: Option<&str>,
) -> Result<(Vec<PcoPersonFull>, Option<u64>), Error> {
    const TASK: &str = "reading PCO people";
    let pages = match since {
        Some(since) => fetch_pages(ports, account, TASK, |offset| {
            pco_people::list_people(offset, &[("where[updated_at][gte]", since)])
        })?,
        None => fetch_pages_from_both_ends(ports, account, TASK, |offset, order| {
            let order: Vec<(&str, &str)> = order.map(|o| ("order", o)).into_iter().collect();
            pco_people::list_people(offset, &order)
        })?,
    };
    let mut people = Vec::new();
    let mut first_total = None;
    for (n, page) in pages.iter().enumerate() {
        let (listed, total) = pco_people::parse_people_document(&page.body)?;
        if n == 0 {
            first_total = total;
        }
        people.extend(listed);
    }
    Ok((people, first_total))
}

/// Updates-only runs don't read every PCO person, so a person to be linked is looked up by
/// the Rock id PCO may hold (an interrupted create, R6) and by email (R4).
fn search_candidates(
    ports: &dyn Ports,
    account: &str,
    unlinked: &[&Person],
    intents: &BTreeSet<i64>,
) -> Result<Vec<PcoPersonFull>, Error> {
    let mut requests = Vec::new();
    for person in unlinked {
        if intents.contains(&person.id) {
            requests.push(search(("where[remote_id]", &person.id.to_string())));
        }
        if let Some(email) = person.email.as_deref().filter(|e| !e.trim().is_empty()) {
            requests.push(search(("where[search_name_or_email]", email.trim())));
        }
    }
    let mut found = Vec::new();
    for response in ports.pco_send_batch(account, &requests) {
        found.extend(pco_people::parse_people_document(&response?.body)?.0);
    }
    Ok(found)
}

fn search(filter: (&str, &str)) -> Request {
    pco_people::list_people(0, &[filter])
}

fn matchable(person: &PcoPersonFull) -> PcoPerson {
    PcoPerson {
        id: person.id.clone(),
        first_name: person.first_name.clone(),
        given_name: person.given_name.clone(),
        last_name: person.last_name.clone(),
        emails: person.emails.iter().map(|e| e.address.clone()).collect(),
        remote_id: person.remote_id,
    }
}

/// How long a held run can be confirmed: after that, what it would do is too old to trust
/// (people moved on, PCO and Rock changed), and the next run decides afresh.
const HELD_EXPIRES_HOURS: i64 = 24;

/// What the brake decided.
struct Brake {
    /// The run is held: nothing is written.
    held: Option<Held>,
    /// Why a confirmation did not release it, for the report.
    refused: Option<String>,
}

/// R24: a run that would lower, archive, re-link, change, raise (grants and un-archives
/// included) or create more than the account's share of its synced people writes nothing
/// until an administrator confirms it. A confirmation
/// releases exactly the plan that was held (its fingerprint) and only for
/// [`HELD_EXPIRES_HOURS`].
fn brake(
    ports: &dyn Ports,
    account: &Account,
    options: &SyncOptions,
    plans: &[PersonPlan],
    synced: u32,
) -> Result<Brake, Error> {
    // Until a run of the account has ended with nobody failed, everyone is linked, created
    // and given access for the first time: that run's review is its dry run (R30), and only
    // changes to people already linked are weighed.
    let first = store::cursor(ports)?.is_none();
    let weighed: Vec<&PersonPlan> = plans
        .iter()
        .filter(|p| {
            if first {
                p.changes_existing()
            } else {
                p.weighed_by_brake()
            }
        })
        .collect();
    let changed = weighed.len() as u32;
    let lowered = plans.iter().filter(|p| p.lowers()).count() as u32;
    let archived = plans.iter().filter(|p| p.archives()).count() as u32;
    let threshold = u64::from(synced.max(1)) * u64::from(account.brake_percent);
    if changed < BRAKE_MINIMUM || u64::from(changed) * 100 <= threshold {
        return Ok(Brake {
            held: None,
            refused: None,
        });
    }
    let fingerprint = fingerprint(&weighed);
    let mut refused = None;
    if let Some(confirmed) = &options.confirm {
        refused = match store::held(ports, confirmed)? {
            Some(held) if expired(&held, &options.started_at) => Some(format!(
                "run {confirmed} was held at {} and expired after {HELD_EXPIRES_HOURS} hours: nothing was written; review this run and confirm it instead",
                held.started_at
            )),
            Some(held) if held.fingerprint == fingerprint => {
                return Ok(Brake {
                    held: None,
                    refused: None,
                });
            }
            Some(_) => Some(format!(
                "what the sync would do now differs from what run {confirmed} held: nothing was written; review this run and confirm it instead"
            )),
            None => Some(format!(
                "no run {confirmed} is waiting for confirmation (confirmed already, or never held): nothing was written; review this run and confirm it instead"
            )),
        };
    }
    Ok(Brake {
        held: Some(Held {
            started_at: options.started_at.clone(),
            changed,
            lowered,
            archived,
            synced,
            fingerprint,
        }),
        refused,
    })
}

fn expired(held: &Held, now: &str) -> bool {
    let oldest = minus_minutes(now, HELD_EXPIRES_HOURS * 60);
    held.started_at.get(..19).unwrap_or_default() < oldest.get(..19).unwrap_or_default()
}

/// A digest of the writes the brake weighed (FNV-1a over their canonical text): the same
/// writes give the same digest, any difference in them another. Writes the brake does not
/// weigh (a photo, a flag, someone else's unweighed change) never re-hold a confirmed run
/// (issue 24 item 12).
fn fingerprint(weighed: &[&PersonPlan]) -> String {
    let writes: Vec<String> = weighed
        .iter()
        .map(|p| {
            let fields = p.fields.as_ref().map(|m| (&m.to_pco, &m.to_rock));
            format!(
                "{} {:?} {:?} {fields:?} {:?} {:?} {:?} {}",
                p.rock_id, p.pco_id, p.link, p.level, p.tags.to_pco, p.tags.to_rock, p.relinked
            )
        })
        .collect();
    let text = writes.join("\n");
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// What a person's PCO writes need from the run.
struct Applied {
    pco_id: Option<String>,
    failure: Option<Error>,
    /// Every PCO write of the person went through.
    pco_done: bool,
    /// The Rock photo copied to PCO in this run.
    photo: Option<i64>,
}

fn apply(
    ports: &dyn Ports,
    account: &Account,
    world: &World,
    plans: &[PersonPlan],
    report: &mut Report,
    mut writes: Vec<Write>,
) -> Result<(), Error> {
    let mut outcomes: Vec<(usize, Applied)> = Vec::new();
    let mut rock_failed: BTreeSet<(usize, &str)> = BTreeSet::new();
    let mut rock_updates: Vec<(usize, PersonUpdate)> = Vec::new();
    let mut rock_tags: Vec<(usize, PersonTags)> = Vec::new();
    for (done, plan) in plans.iter().enumerate() {
        let applied = apply_pco(ports, account, world, plan);
        if applied.failure.is_none() {
            if let Some(update) = rock_update(plan) {
                rock_updates.push((done, update));
            }
            if let Some(tags) = rock_tag_values(account, world, plan) {
                rock_tags.push((done, tags));
            }
        }
        outcomes.push((done, applied));
        ports.progress("syncing people", done as u64 + 1, Some(plans.len() as u64));
    }
    let updates: Vec<PersonUpdate> = rock_updates.iter().map(|(_, u)| u.clone()).collect();
    if !updates.is_empty() {
        for ((index, _), result) in rock_updates.iter().zip(ports.update_people(&updates)) {
            if let Err(error) = result {
                outcomes[*index].1.failure.get_or_insert(error);
                rock_failed.insert((*index, "fields"));
            }
        }
    }
    let tags: Vec<PersonTags> = rock_tags.iter().map(|(_, t)| t.clone()).collect();
    if !tags.is_empty() {
        for ((index, _), result) in rock_tags.iter().zip(ports.set_tags(&tags)) {
            if let Err(error) = result {
                outcomes[*index].1.failure.get_or_insert(error);
                rock_failed.insert((*index, "tags"));
            }
        }
    }
    let mut archive_refused = false;
    for (index, applied) in &outcomes {
        let plan = &plans[*index];
        // PCO refusing `permissions: "Archived"` (undocumented, issue 14.6) refuses every
        // archive of the account: remembered, so later runs say so instead of failing people.
        if let (LevelStep::Archive { .. }, Some(error)) = (&plan.level, &applied.failure)
            && error.kind == ErrorKind::Invalid
            && !archive_refused
        {
            archive_refused = true;
            writes.push(store::put_archive_refusal(&store::ArchiveRefusal {
                at: world.started_at.clone(),
                message: error.message.clone(),
            }));
        }
        if applied.failure.is_none()
            && let Some(record) = next_record(world, plan, applied.pco_id.as_deref(), applied.photo)
        {
            writes.push(store::put_record(plan.rock_id, &record));
            if world.intents.contains(&plan.rock_id) || plan.link == LinkStep::Create {
                writes.push(store::delete_intent(plan.rock_id));
            }
            if world.create_anyway.contains(&plan.rock_id) {
                writes.push(store::delete_create_anyway(plan.rock_id));
            }
        }
        let done = Done {
            link: applied.failure.is_none()
                || (plan.link == LinkStep::Create && applied.pco_id.is_some()),
            pco: applied.pco_done,
            rock_fields: applied.pco_done && !rock_failed.contains(&(*index, "fields")),
            rock_tags: applied.pco_done && !rock_failed.contains(&(*index, "tags")),
        };
        push_outcome(
            report,
            plan,
            applied.pco_id.clone(),
            applied.failure.as_slice(),
            done,
        );
        if applied.failure.is_none() {
            note_welcome(report, account, world, plan);
        }
    }
    writes.extend(waiting_writes(world, plans));
    if report.counts.failed == 0 {
        writes.push(store::put_cursor(&world.started_at));
        writes.extend(world.pco_cursor.as_deref().map(store::put_pco_cursor));
    }
    ports.state_commit(&writes)
}

/// R32 (issue 24 item 25): why each synced person skipped this run waits, kept for the status
/// until a run links or creates them (or they are synced no more).
fn waiting_writes(world: &World, plans: &[PersonPlan]) -> Vec<Write> {
    let mut writes = Vec::new();
    let mut skipped = BTreeSet::new();
    for plan in plans.iter().filter(|p| p.synced) {
        if let LinkStep::Skip(why) = &plan.link {
            skipped.insert(plan.rock_id);
            if world.waiting.get(&plan.rock_id) != Some(why) {
                writes.push(store::put_waiting(plan.rock_id, why));
            }
        }
    }
    for rock_id in world.waiting.keys().filter(|id| !skipped.contains(id)) {
        writes.push(store::delete_waiting(*rock_id));
    }
    writes
}

/// Carries out a person's PCO side: link or create, field writes, Services access and level,
/// tags. Stops at the first failure.
fn apply_pco(ports: &dyn Ports, account: &Account, world: &World, plan: &PersonPlan) -> Applied {
    let mut pco_id = plan.pco_id.clone();
    let fail = |pco_id: Option<String>, error: Error| Applied {
        pco_id,
        failure: Some(error),
        pco_done: false,
        photo: None,
    };
    if let LinkStep::Skip(_) = plan.link {
        return Applied {
            pco_id,
            failure: None,
            pco_done: true,
            photo: None,
        };
    }
    let created = plan.link == LinkStep::Create;
    if created {
        match create(ports, account, world, plan) {
            Ok(id) => pco_id = Some(id),
            Err(error) => return fail(None, error),
        }
    }
    let Some(id) = pco_id.clone() else {
        return Applied {
            pco_id,
            failure: None,
            pco_done: true,
            photo: None,
        };
    };
    let needs_current = plan.fields.as_ref().is_some_and(|m| !m.to_pco.is_empty());
    let fetched = match world.pco.get(&id) {
        Some(_) => None,
        // An updates-only run did not read this person: their emails, phones and addresses
        // must be known before one is changed, or a change would add a second one.
        None if needs_current && !created => match fetch_person(ports, &account.name, &id) {
            Ok(person) => person,
            Err(error) => return fail(pco_id, error),
        },
        None => None,
    };
    let blank = PcoPersonFull {
        id: id.clone(),
        ..Default::default()
    };
    let current = world.pco.get(&id).or(fetched.as_ref()).unwrap_or(&blank);
    let mut requests = Vec::new();
    if let Some(merge) = &plan.fields {
        requests.extend(fields::pco_requests(
            &merge.to_pco,
            current,
            account.first_name_source,
        ));
    }
    match level_requests(ports, account, world, plan, &id, created) {
        Ok(level) => requests.extend(level),
        Err(error) => return fail(pco_id, error),
    }
    if let Some(tags) = &plan.tags.to_pco {
        let ids = tags.iter().filter_map(|t| world.directory.tags.id(t));
        requests.push(services::assign_tags(&id, ids));
    }
    let failure = if requests.is_empty() {
        None
    } else {
        ports
            .pco_send_batch(&account.name, &requests)
            .into_iter()
            .find_map(Result::err)
    };
    if let Some(error) = failure {
        return fail(pco_id, error);
    }
    match plan
        .photo
        .map(|photo| copy_photo(ports, account, plan.rock_id, &id, photo))
    {
        // The person's other PCO writes went through before the photo failed.
        Some(Err(error)) => Applied {
            pco_done: true,
            ..fail(pco_id, error)
        },
        Some(Ok(copied)) => Applied {
            pco_id,
            failure: None,
            pco_done: true,
            photo: copied,
        },
        None => Applied {
            pco_id,
            failure: None,
            pco_done: true,
            photo: None,
        },
    }
}

/// R11: Rock's photo to PCO: read it from Rock, upload it, set it as the person's avatar.
/// Returns the photo id copied, or None when Rock no longer has that photo.
fn copy_photo(
    ports: &dyn Ports,
    account: &Account,
    rock_id: i64,
    pco_id: &str,
    photo_id: i64,
) -> Result<Option<i64>, Error> {
    let Some(photo) = ports.get_photo(rock_id)? else {
        return Ok(None);
    };
    let extension = match photo.content_type.as_str() {
        "image/png" => "png",
        "image/gif" => "gif",
        _ => "jpg",
    };
    let filename = format!("rock-{rock_id}-{photo_id}.{extension}");
    let upload = ports.pco_upload(&account.name, &photo.content_type, &filename, &photo.bytes)?;
    ports.pco_send(&account.name, &pco_people::set_avatar(pco_id, &upload))?;
    Ok(Some(photo_id))
}

/// One PCO person with the includes the field writes need, or None when PCO has no such person.
fn fetch_person(
    ports: &dyn Ports,
    account: &str,
    id: &str,
) -> Result<Option<PcoPersonFull>, Error> {
    match ports.pco_send(account, &pco_people::get_person(id)) {
        Ok(response) => Ok(pco_people::parse_people_document(&response.body)?
            .0
            .into_iter()
            .next()),
        Err(error) if error.kind == ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// R6: the intent is durable before the create leaves; the create carries the Rock id.
fn create(
    ports: &dyn Ports,
    account: &Account,
    world: &World,
    plan: &PersonPlan,
) -> Result<String, Error> {
    let person = world
        .rock
        .get(&plan.rock_id)
        .ok_or_else(|| internal("a planned create lost its Rock person"))?;
    ports.state_commit(&[store::put_intent(plan.rock_id, &world.started_at)])?;
    let snapshot = Snapshot::from_rock(person, account.first_name_source);
    let request = fields::create_person_request(
        &snapshot,
        plan.rock_id,
        account.first_name_source,
        &account.disabled_fields,
    );
    let response: Response = ports.pco_send(&account.name, &request)?;
    let (created, _) = pco_people::parse_people_document(&response.body)?;
    let id = created
        .into_iter()
        .next()
        .map(|p| p.id)
        .ok_or_else(|| internal("PCO answered a create without the new person"))?;
    ports.state_commit(&[
        // The intent stays until the person is fully set up (the run's last commit): a run
        // stopped before the Services grant still lists the person as needing the welcome.
        store::put_record(
            plan.rock_id,
            &Record {
                pco: id.clone(),
                alias: person.primary_alias,
                ..Default::default()
            },
        ),
    ])?;
    Ok(id)
}

fn level_requests(
    ports: &dyn Ports,
    account: &Account,
    world: &World,
    plan: &PersonPlan,
    id: &str,
    created: bool,
) -> Result<Vec<Request>, Error> {
    Ok(match plan.level {
        LevelStep::Keep => Vec::new(),
        LevelStep::Grant(level) => {
            let Some(app) = world.directory.services_app_id.as_deref() else {
                return Err(internal("the Services app is unknown"));
            };
            let listed = world.services.as_ref().and_then(|s| s.get(id));
            // Someone this run did not create may already have Services (an updates-only run
            // read no Services list; an archived person may be missing from it): read before
            // granting, or PCO answers 422 "has already been taken" every run (issue 15.3).
            // The plan read it already (`read_services_written`), unless it came since.
            let existing = match (listed, world.services_read.get(id)) {
                (Some(person), _) => Some(person.clone()),
                (None, Some(read)) => read.clone(),
                (None, None) if created => None,
                (None, None) => services::fetch_person(ports, &account.name, id)?,
            };
            match existing {
                None => services::grant_requests(id, app, level),
                Some(person) => services::raise_existing(id, &person, level),
            }
        }
        LevelStep::Set { to, .. } => vec![services::set_level(id, Some(to))],
        LevelStep::Archive { .. } => vec![services::set_level(id, None)],
    })
}

/// A person this sync created in PCO and gave Services (now, or after an interrupted run) still
/// needs the account's welcome email, which PCO's API cannot send: the report says so, for an
/// administrator to send it from Services (issue 14.1).
fn note_welcome(report: &mut Report, account: &Account, world: &World, plan: &PersonPlan) {
    // The intent lives until the person is set up, so one killed between the create and the
    // grant is listed by the run that finishes them.
    let created = plan.link == LinkStep::Create || world.intents.contains(&plan.rock_id);
    let (Some(template), true) = (account.welcome_template.as_deref(), created) else {
        return;
    };
    if let Some(outcome) = report
        .people
        .iter_mut()
        .rev()
        .find(|p| p.rock_id == Some(plan.rock_id))
    {
        outcome
            .actions
            .push(Action::Flagged(services::welcome_note(template)));
    }
}

fn rock_update(plan: &PersonPlan) -> Option<PersonUpdate> {
    let merge = plan.fields.as_ref()?;
    let changes = fields::to_field_values(&merge.to_rock);
    (!changes.is_empty()).then_some(PersonUpdate {
        id: plan.rock_id,
        changes,
    })
}

/// The whole "PCO Tags" attribute: this account's new values, other accounts' untouched.
fn rock_tag_values(account: &Account, world: &World, plan: &PersonPlan) -> Option<PersonTags> {
    let ours = plan.tags.to_rock.as_ref()?;
    let person = world.rock.get(&plan.rock_id)?;
    let prefix = format!("{}:", account.name);
    let mut values: Vec<String> = person
        .pco_tags
        .iter()
        .filter(|v| !v.trim().starts_with(&prefix))
        .cloned()
        .collect();
    values.extend(ours.iter().map(|t| format!("{prefix}{t}")));
    Some(PersonTags {
        person_id: plan.rock_id,
        tags: values,
    })
}

fn next_record(
    world: &World,
    plan: &PersonPlan,
    pco_id: Option<&str>,
    photo: Option<i64>,
) -> Option<Record> {
    let pco = pco_id?.to_string();
    let previous = world.records.get(&plan.rock_id);
    let level = match plan.level {
        // The level PCO showed this run, when it was read (R32: status shows it).
        LevelStep::Keep => match (&world.services, world.services_read.get(&pco)) {
            (Some(services), _) => services.get(&pco).and_then(|s| s.level),
            (None, Some(read)) => read.as_ref().and_then(|s| s.level),
            (None, None) => previous.and_then(|r| r.level),
        },
        LevelStep::Grant(level) | LevelStep::Set { to: level, .. } => Some(level),
        LevelStep::Archive { .. } => None,
    };
    Some(Record {
        pco,
        base: plan
            .fields
            .as_ref()
            .map(|m| m.base.clone())
            .or_else(|| previous.and_then(|r| r.base.clone())),
        tags: if plan.synced {
            plan.tags.base.clone()
        } else {
            previous.map(|r| r.tags.clone()).unwrap_or_default()
        },
        level,
        photo: photo.or_else(|| previous.and_then(|r| r.photo)),
        alias: world
            .rock
            .get(&plan.rock_id)
            .and_then(|p| p.primary_alias)
            .or_else(|| previous.and_then(|r| r.alias)),
    })
}

/// Every write the plan makes for this person, with the value it replaces (R25).
fn person_audit(world: &World, plan: &PersonPlan) -> PersonAudit {
    let prior = world.records.get(&plan.rock_id).cloned();
    let mut writes = Vec::new();
    let mut write = |to: System, field: &str, before: Option<String>, after: Option<String>| {
        writes.push(AuditedWrite {
            to,
            field: field.to_string(),
            before,
            after,
        })
    };
    match &plan.link {
        LinkStep::Found(id, _) => write(System::Pco, "link", None, Some(id.clone())),
        LinkStep::Create => write(System::Pco, "person", None, Some("created".into())),
        LinkStep::Kept | LinkStep::Skip(_) => {}
    }
    if let Some(merge) = &plan.fields {
        let (rock, pco) = plan.before.clone().unwrap_or_default();
        for (field, value) in &merge.to_pco {
            let before = pco.get(*field).map(str::to_string);
            write(System::Pco, field.name(), before, value.clone());
        }
        for (field, value) in &merge.to_rock {
            let before = rock.get(*field).map(str::to_string);
            write(System::Rock, field.name(), before, value.clone());
        }
    }
    let level = |l: Option<PermissionLevel>| l.map(|l| services::level_name(l).to_string());
    match plan.level {
        LevelStep::Keep => {}
        LevelStep::Grant(to) => write(System::Pco, "permission", None, level(Some(to))),
        LevelStep::Set { from, to } => {
            write(System::Pco, "permission", level(from), level(Some(to)))
        }
        LevelStep::Archive { from } => write(System::Pco, "permission", level(from), None),
    }
    if let Some(photo) = plan.photo {
        let before = prior.as_ref().and_then(|r| r.photo).map(|p| p.to_string());
        write(System::Pco, "photo", before, Some(photo.to_string()));
    }
    // Each side's own tags before the run, not the merge base: a revert then leaves each
    // side's earlier edits (issue 24 item 7).
    if let Some(tags) = &plan.tags.to_pco {
        let before = Some(tag_text(&plan.tags.pco_before));
        write(System::Pco, "tags", before, Some(tag_text(tags)));
    }
    if let Some(tags) = &plan.tags.to_rock {
        let before = Some(tag_text(&plan.tags.rock_before));
        write(System::Rock, "tags", before, Some(tag_text(tags)));
    }
    PersonAudit {
        rock_id: Some(plan.rock_id),
        pco_id: plan.pco_id.clone(),
        prior,
        writes,
    }
}

/// A tag set as the audit shows it: `group:tag` values, one per line.
pub fn tag_text(tags: &BTreeSet<String>) -> String {
    tags.iter().cloned().collect::<Vec<_>>().join("\n")
}

fn empty_report(account: &Account, options: &SyncOptions, synced: usize) -> Report {
    let mut report = crate::report::empty(
        RunKind::Sync,
        &options.run_id,
        &account.name,
        options.dry_run,
    );
    report.counts.synced = synced as u32;
    report
}

/// Which of a person's planned writes were made (R22: a report counts only those).
#[derive(Clone, Copy)]
struct Done {
    /// The link (or the create) took: its record was saved.
    link: bool,
    /// Every PCO write: fields, level, tags.
    pco: bool,
    rock_fields: bool,
    rock_tags: bool,
}

impl Done {
    /// A dry run or a held run reports everything it would do.
    const PLANNED: Done = Done {
        link: true,
        pco: true,
        rock_fields: true,
        rock_tags: true,
    };
}

/// The person's line in the report (R22): what was done, or in a dry run what would be.
fn push_outcome(
    report: &mut Report,
    plan: &PersonPlan,
    pco_id: Option<String>,
    failures: &[Error],
    done: Done,
) {
    let mut actions = Vec::new();
    let c = &mut report.counts;
    match &plan.link {
        LinkStep::Kept => {}
        LinkStep::Found(id, how) if done.link => {
            c.linked += 1;
            actions.push(Action::Linked(id.clone()));
            // Said so an administrator can judge the match (R4: a birth date is claimed
            // only when it was compared).
            actions.push(Action::Flagged(format!("linked to PCO person {id} {how}")));
        }
        LinkStep::Create if done.link => {
            c.created += 1;
            actions.push(Action::Created(pco_id.clone().unwrap_or_default()));
        }
        LinkStep::Found(..) | LinkStep::Create => {}
        LinkStep::Skip(why) => {
            c.skipped += 1;
            actions.push(Action::Skipped(why.clone()));
        }
    }
    if let Some(merge) = &plan.fields {
        for (field, value) in merge.to_pco.iter().filter(|_| done.pco) {
            c.updated_to_pco += 1;
            actions.push(Action::Updated(change(
                *field,
                Direction::RockToPco,
                plan,
                value,
            )));
        }
        for (field, value) in merge.to_rock.iter().filter(|_| done.rock_fields) {
            c.updated_to_rock += 1;
            actions.push(Action::Updated(change(
                *field,
                Direction::PcoToRock,
                plan,
                value,
            )));
        }
        // A conflict is recorded with the merge that settles it: a person whose writes
        // failed keeps their record, and the next run finds (and counts) it again.
        for conflict in merge.conflicts.iter().filter(|_| failures.is_empty()) {
            c.conflicts += 1;
            let kept = match conflict.kept {
                Side::Rock => (Direction::RockToPco, conflict.rock.clone()),
                Side::Pco => (Direction::PcoToRock, conflict.pco.clone()),
            };
            actions.push(Action::Conflict(FieldChange {
                field: conflict.field.name().to_string(),
                direction: kept.0,
                before: None,
                after: kept.1,
            }));
        }
    }
    match plan.level {
        _ if !done.pco => {}
        LevelStep::Grant(level) => {
            c.raised += 1;
            actions.push(Action::Raised((None, level)));
        }
        LevelStep::Set { from, to }
            if from.is_none_or(|f| crate::permissions::rank(f) < crate::permissions::rank(to)) =>
        {
            c.raised += 1;
            actions.push(Action::Raised((from, to)));
        }
        LevelStep::Set {
            from: Some(from),
            to,
        } => {
            c.lowered += 1;
            actions.push(Action::Lowered((from, to)));
        }
        LevelStep::Archive { .. } => {
            c.archived += 1;
            actions.push(Action::Archived);
        }
        _ => {}
    }
    if let Some(photo) = plan.photo.filter(|_| failures.is_empty()) {
        c.updated_to_pco += 1;
        actions.push(Action::Updated(FieldChange {
            field: "photo".into(),
            direction: Direction::RockToPco,
            before: None,
            after: Some(format!("Rock photo {photo}")),
        }));
    }
    let tags_done =
        (plan.tags.to_pco.is_none() || done.pco) && (plan.tags.to_rock.is_none() || done.rock_tags);
    if tags_done && (plan.tags.to_pco.is_some() || plan.tags.to_rock.is_some()) {
        let tags: Vec<&str> = plan.tags.base.iter().map(String::as_str).collect();
        let tags = if tags.is_empty() {
            "(none)".to_string()
        } else {
            tags.join(", ")
        };
        actions.push(Action::Flagged(format!("tags now: {tags}")));
    }
    actions.extend(plan.flags.iter().cloned().map(Action::Flagged));
    for failure in failures {
        c.failed += 1;
        actions.push(Action::Failed(failure.clone()));
    }
    if !actions.is_empty() {
        report.people.push(PersonOutcome {
            rock_id: Some(plan.rock_id),
            pco_id: pco_id.or_else(|| plan.pco_id.clone()),
            actions,
        });
    }
}

fn change(
    field: fields::Field,
    direction: Direction,
    plan: &PersonPlan,
    value: &Option<String>,
) -> FieldChange {
    let before = plan.before.as_ref().and_then(|(rock, pco)| {
        let written = match direction {
            Direction::RockToPco => pco,
            Direction::PcoToRock => rock,
        };
        written.get(field).map(str::to_string)
    });
    FieldChange {
        field: field.name().to_string(),
        direction,
        before,
        after: value.clone(),
    }
}

fn log(ports: &dyn Ports, level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ports.log(level, message, &fields);
}

fn internal(message: &str) -> Error {
    Error {
        kind: ErrorKind::Internal,
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // R21 (issue 24 item 10): the updates-only cursor is read from PCO's UTC stamps only;
    // anything else is no stamp, never a panic.
    #[test]
    fn only_utc_stamps_make_the_cursor() {
        assert_eq!(
            utc_second("2026-11-23T10:00:00Z").as_deref(),
            Some("2026-11-23T10:00:00Z")
        );
        assert_eq!(
            utc_second("2026-11-23T10:00:00.250+00:00").as_deref(),
            Some("2026-11-23T10:00:00Z")
        );
        for bad in [
            "",
            "2026-11-23",
            "2026-11-23T10:00:00-05:00",
            "2026-11-23 10:00:00Z",
            "yesterday at noon!!",
            "2026-11-2ßT10:00:00Z",
        ] {
            assert_eq!(utc_second(bad), None, "{bad:?}");
        }
        let person = |updated_at: &str| PcoPersonFull {
            updated_at: updated_at.into(),
            ..Default::default()
        };
        let people = [
            person("2026-11-23T10:00:00Z"),
            person("not a time"),
            person("2026-12-01T09:00:00Z"),
        ];
        assert_eq!(
            newest_update(&people).as_deref(),
            Some("2026-12-01T09:00:00Z")
        );
        assert_eq!(newest_update(&[]), None);
    }
}
