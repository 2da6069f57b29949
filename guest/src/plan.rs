//! What a run will do, decided before anything is written: links and creates (R4-R7), field
//! merges (R10-R12, R26-R27), permission levels (R15-R19, R50-R52) and tags (R13-R14).
//!
//! Planning is pure: it reads what both systems and the state hold and returns a plan, so the
//! safety brake (R24) and the dry run (R30) see exactly what a run would write.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::Account;
use crate::bindings::rockpco::sync::rock::Person;
use crate::fields::{self, Merge, Side, Snapshot};
use crate::linking::Index;
use crate::namesakes::{self, Planned};
use crate::pco_people::PcoPersonFull;
use crate::permissions::rank;
use crate::services::{ServicesPerson, Tags};
use crate::store::Record;
use crate::synced::{Synced, account_tag, mapped_tags};
use crate::types::PermissionLevel;

/// Everything a plan is made from.
pub struct Inputs<'a> {
    pub account: &'a Account,
    pub synced: &'a BTreeMap<i64, Synced>,
    pub rock: &'a BTreeMap<i64, Person>,
    pub records: &'a BTreeMap<i64, Record>,
    /// PCO people read this run, by id (in updates-only mode: only those updated lately).
    pub pco: &'a BTreeMap<String, PcoPersonFull>,
    /// Whether `pco` holds every PCO person of the account (full mode).
    pub pco_complete: bool,
    /// PCO people by the Rock id this product stamped in their `remote_id` on a create it
    /// announced (R6); a `remote_id` anyone else wrote is not here.
    pub by_remote: &'a BTreeMap<i64, String>,
    /// PCO people an interrupted import created a Rock person for, by that Rock id (R6, R42):
    /// the import had not linked them yet.
    pub by_import: &'a BTreeMap<i64, String>,
    /// Linked PCO ids missing from a full read that PCO merged into another person (asked for
    /// one by one, see `missing`), and the id of the person kept.
    pub merged_in_pco: &'a BTreeMap<String, String>,
    /// Updates-only: linked PCO ids PCO answered 404 for when the run read them before
    /// writing (deleted or merged in PCO): matched again, as a full run does (R7).
    pub gone_in_pco: &'a BTreeSet<String>,
    pub index: &'a Index,
    /// Services people by id; None in updates-only mode (Services cannot be asked for changes).
    pub services: Option<&'a BTreeMap<String, ServicesPerson>>,
    /// Updates-only: the Services records read one by one this run, of the people whose level
    /// the sync may change (R17, R50: a level is changed only against PCO's current one).
    /// None: PCO has no Services record for that person.
    pub services_read: &'a BTreeMap<String, Option<ServicesPerson>>,
    /// Why this account does not archive for now: PCO refused `permissions: "Archived"`
    /// lately (issue 14.6; see `store::archive_refusal`).
    pub archive_refused: Option<&'a str>,
    /// Linked people Rock marks deceased: its lists leave them and their memberships out.
    pub deceased: &'a BTreeSet<i64>,
    pub tags: &'a Tags,
    /// People an administrator chose to create though PCO may hold them already (R4).
    pub create_anyway: &'a BTreeSet<i64>,
    /// A full read that came back short of PCO's count: it cannot prove who PCO lacks.
    pub pco_short: bool,
    /// Why the last run left each of these people unlinked (R32).
    pub waiting: &'a BTreeMap<i64, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkStep {
    /// Already linked, and the PCO person is still there.
    Kept,
    /// Linked this run to an existing PCO person, and how it was found.
    Found(String, &'static str),
    /// No PCO person: create one.
    Create,
    /// Neither linked nor created, and why (reported for an administrator).
    Skip(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LevelStep {
    Keep,
    /// Give Services access at this level (with the welcome email when just created).
    Grant(PermissionLevel),
    Set {
        from: Option<PermissionLevel>,
        to: PermissionLevel,
    },
    Archive {
        from: Option<PermissionLevel>,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagStep {
    /// The full tag set to assign in PCO, when it changes.
    pub to_pco: Option<BTreeSet<String>>,
    /// The account's values of the Rock attribute, when they change.
    pub to_rock: Option<BTreeSet<String>>,
    /// Both sides' tags after the run (the next merge base).
    pub base: BTreeSet<String>,
    /// PCO's tags before the run, as read (or, not read, as the last sync left them): what
    /// the audit says `to_pco` replaced (R25).
    pub pco_before: BTreeSet<String>,
    /// The account's values of Rock's attribute before the run: what `to_rock` replaced.
    pub rock_before: BTreeSet<String>,
}

#[derive(Clone, Debug)]
pub struct PersonPlan {
    pub rock_id: i64,
    pub pco_id: Option<String>,
    pub link: LinkStep,
    pub fields: Option<Merge>,
    /// Each side's values before the run (for the report's before/after).
    pub before: Option<(Snapshot, Snapshot)>,
    pub level: LevelStep,
    pub tags: TagStep,
    /// Things an administrator should know that are not failures.
    pub flags: Vec<String>,
    /// Still synced to the account (false: only the archive step applies).
    pub synced: bool,
    /// Rock's photo to copy to PCO (its binary file id), when it changed since the last copy
    /// (R11: photos go one way, Rock to PCO).
    pub photo: Option<i64>,
    /// Linked before, and linked again or created anew this run because their PCO person was
    /// not in what PCO listed: what a short PCO list does to everyone (R24 counts it).
    pub relinked: bool,
    /// Not created because PCO may already hold them (same name and birth date): held for an
    /// administrator, and counted in the report (R4, issue 24 item 20).
    pub lookalike: bool,
}

impl PersonPlan {
    /// Whether this plan changes an already-linked person.
    pub fn changes_existing(&self) -> bool {
        let fields = self
            .fields
            .as_ref()
            .is_some_and(|m| !m.to_pco.is_empty() || !m.to_rock.is_empty());
        let tags = self.tags.to_pco.is_some() || self.tags.to_rock.is_some();
        let kept = matches!(self.link, LinkStep::Kept);
        self.relinked || (kept && (fields || tags || self.lowers() || self.archives()))
    }

    /// Whether the brake weighs this plan (R24): it changes an already-linked person, raises
    /// anyone (a grant to someone without Services access and an un-archive are raises: PCO
    /// emails each one), or creates someone never linked (each gets the welcome email).
    pub fn weighed_by_brake(&self) -> bool {
        self.changes_existing() || self.raises() || matches!(self.link, LinkStep::Create)
    }

    /// A grant, an un-archive or a raise: PCO emails the person (R19, R24).
    pub fn raises(&self) -> bool {
        match self.level {
            LevelStep::Grant(_) => true,
            LevelStep::Set { from, to } => from.is_none_or(|from| rank(to) > rank(from)),
            _ => false,
        }
    }

    pub fn lowers(&self) -> bool {
        matches!(self.level, LevelStep::Set { from: Some(from), to } if rank(to) < rank(from))
    }

    pub fn archives(&self) -> bool {
        matches!(self.level, LevelStep::Archive { .. })
    }
}

pub fn plan(inputs: &Inputs) -> Vec<PersonPlan> {
    // A PCO person is linked to one Rock person at most: two Rock records sharing one PCO
    // record would overwrite each other's values on every run.
    let mut claimed: BTreeMap<String, i64> = inputs
        .records
        .iter()
        .map(|(rock_id, record)| (record.pco.clone(), *rock_id))
        .collect();
    let mut plans: Vec<PersonPlan> = plan_links(inputs)
        .into_iter()
        .map(|p| {
            let synced = &inputs.synced[&p.person.id];
            plan_synced(inputs, p, synced, &mut claimed)
        })
        .collect();
    // R3, R22: everyone synced ends the run accounted for, those Rock did not return too.
    plans.extend(
        inputs
            .synced
            .keys()
            .filter(|id| !inputs.rock.contains_key(id))
            .map(|id| not_returned_by_rock(*id)),
    );
    for (rock_id, record) in inputs.records {
        if !inputs.synced.contains_key(rock_id) {
            plans.extend(plan_unsynced(inputs, *rock_id, record));
        }
    }
    family_address_conflicts(&mut plans, inputs.records);
    plans
}

/// Every synced Rock person's link, decided together: namesakes who found the same PCO
/// person are weighed against each other, and people PCO may hold already are held (R4).
fn plan_links<'a>(inputs: &'a Inputs) -> Vec<Planned<'a>> {
    let mut planned: Vec<Planned> = inputs
        .synced
        .keys()
        .filter_map(|id| inputs.rock.get(id))
        .map(|person| {
            let mut flags = Vec::new();
            let (link, pco_id) = link(inputs, person, inputs.records.get(&person.id), &mut flags);
            Planned {
                person,
                link,
                pco_id,
                flags,
                lookalike: false,
            }
        })
        .collect();
    namesakes::settle_contention(&mut planned, inputs);
    namesakes::hold_lookalikes(&mut planned, inputs, inputs.create_anyway);
    planned
}

/// A synced person Rock's people list did not return when asked for them (their group or
/// tag names an id Rock's list leaves out): reported, never silently counted (R3, R22).
fn not_returned_by_rock(rock_id: i64) -> PersonPlan {
    PersonPlan {
        rock_id,
        pco_id: None,
        link: LinkStep::Skip(
            "synced by a group or tag, but Rock's people list did not return this person: not synced this run; check the person in Rock (a record Rock hides, or a membership of someone removed)"
                .into(),
        ),
        fields: None,
        before: None,
        level: LevelStep::Keep,
        tags: TagStep::default(),
        flags: Vec::new(),
        synced: true,
        photo: None,
        relinked: false,
        lookalike: false,
    }
}

/// R12 for the one value Rock keeps per family, the home address: members of one family
/// whose addresses were changed differently in PCO in one run would overwrite each other in
/// Rock, the last write winning unseen. Neither is written; each is reported as a conflict
/// (Rock's address kept), run after run until the family has one address again.
fn family_address_conflicts(plans: &mut [PersonPlan], records: &BTreeMap<i64, Record>) {
    let field = fields::Field::HomeAddress;
    let mut families: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, plan) in plans.iter().enumerate() {
        let (Some(merge), Some((rock, _))) = (&plan.fields, &plan.before) else {
            continue;
        };
        if let Some(address) = rock.get(field)
            && merge.to_rock.iter().any(|(f, _)| *f == field)
        {
            families.entry(address.to_string()).or_default().push(index);
        }
    }
    for (address, members) in families {
        let wanted: BTreeSet<Option<String>> = members
            .iter()
            .filter_map(|i| {
                let merge = plans[*i].fields.as_ref()?;
                merge
                    .to_rock
                    .iter()
                    .find(|(f, _)| *f == field)
                    .map(|(_, v)| v.clone())
            })
            .collect();
        if wanted.len() < 2 {
            continue;
        }
        for index in members {
            let plan = &mut plans[index];
            let base = records
                .get(&plan.rock_id)
                .and_then(|r| r.base.as_ref())
                .and_then(|b| b.get(field))
                .map(str::to_string);
            let Some(merge) = plan.fields.as_mut() else {
                continue;
            };
            let pco = merge
                .to_rock
                .iter()
                .find(|(f, _)| *f == field)
                .and_then(|(_, v)| v.clone());
            merge.to_rock.retain(|(f, _)| *f != field);
            merge.base.set(field, base.as_deref());
            merge.conflicts.push(fields::Conflict {
                field,
                rock: Some(address.clone()),
                pco,
                kept: Side::Rock,
            });
            plan.flags.push(
                "the home address was changed differently in PCO for members of one Rock family: Rock's address is kept; give the family one address (in Rock, or the same one in PCO)"
                    .into(),
            );
        }
    }
}

fn plan_synced(
    inputs: &Inputs,
    planned: Planned,
    synced: &Synced,
    claimed: &mut BTreeMap<String, i64>,
) -> PersonPlan {
    let Planned {
        person,
        mut link,
        mut pco_id,
        mut flags,
        lookalike,
    } = planned;
    let record = inputs.records.get(&person.id);
    if let (LinkStep::Found(found, _), Some(id)) = (&link, &pco_id) {
        match claimed.get(id) {
            Some(other) if *other != person.id => {
                link = LinkStep::Skip(format!(
                    "matches PCO person {found}, who is already linked to Rock person {other}: if they are one person, merge them in Rock; if not, link this one by hand"
                ));
                pco_id = None;
            }
            _ => {
                claimed.insert(id.clone(), person.id);
            }
        }
    }
    let pco = pco_id.as_ref().and_then(|id| inputs.pco.get(id));
    let kept = matches!(link, LinkStep::Kept);
    // A record's base is only a base for the PCO person it was taken with.
    let base = record.filter(|_| kept).and_then(|r| r.base.as_ref());
    let (fields, before) = match &link {
        LinkStep::Skip(_) => (None, None),
        _ => {
            let (merge, rock, pco) = merge_fields(inputs, person, pco, base);
            (Some(merge), Some((rock, pco)))
        }
    };
    if let (Some(merge), Some((_, pco_before))) = (&fields, &before) {
        flag_notified_changes(merge, pco_before, &mut flags);
    }
    if let (Some(merge), Some(_)) = (&fields, pco) {
        for skip in &merge.skipped {
            flags.push(format!(
                "{} not written: {}",
                skip.field.name(),
                skip.reason
            ));
        }
    }
    let services = pco_id
        .as_ref()
        .and_then(|id| services_of(inputs, id, record.filter(|_| kept)));
    let level = match &link {
        LinkStep::Skip(_) => LevelStep::Keep,
        _ => level_step(
            inputs.account,
            services.as_ref(),
            synced.level,
            inputs.services.is_some(),
            &mut flags,
        ),
    };
    let tags = match &link {
        LinkStep::Skip(_) => TagStep::default(),
        _ => tag_step(
            inputs,
            person,
            synced,
            (pco_id.as_deref(), services.as_ref()),
            record.filter(|_| kept),
            &mut flags,
        ),
    };
    let photo = match &link {
        LinkStep::Skip(_) => None,
        _ => photo_step(inputs.account, person, record.filter(|_| kept)),
    };
    let relinked = record.is_some() && matches!(link, LinkStep::Found(..) | LinkStep::Create);
    PersonPlan {
        rock_id: person.id,
        pco_id,
        link,
        fields,
        before,
        level,
        tags,
        flags,
        synced: true,
        photo,
        relinked,
        lookalike,
    }
}

/// R11: Rock's photo when PCO does not have this one yet. A photo removed in Rock stays in
/// PCO (PCO's API has no documented way to remove one).
fn photo_step(account: &Account, person: &Person, record: Option<&Record>) -> Option<i64> {
    if account.disabled_fields.iter().any(|f| f == "photo") {
        return None;
    }
    let photo = person.photo_id?;
    (record.and_then(|r| r.photo) != Some(photo)).then_some(photo)
}

/// R4-R7: keep a link whose PCO person is still there; otherwise find one, or create.
fn link(
    inputs: &Inputs,
    person: &Person,
    record: Option<&Record>,
    flags: &mut Vec<String>,
) -> (LinkStep, Option<String>) {
    if let Some(record) = record {
        let unread = !inputs.pco_complete && !inputs.gone_in_pco.contains(&record.pco);
        if unread || inputs.pco.contains_key(&record.pco) {
            return (LinkStep::Kept, Some(record.pco.clone()));
        }
        if let Some(kept) = inputs.merged_in_pco.get(&record.pco) {
            // PCO merged two linked people into one: the survivor keeps its own link, and
            // this person is left linked to the id PCO merged away (never created again, never
            // given the other's account) until an administrator decides (R7).
            if let Some(other) = inputs
                .records
                .iter()
                .find(|(rock_id, r)| r.pco == *kept && **rock_id != person.id)
                .map(|(rock_id, _)| *rock_id)
            {
                return (
                    LinkStep::Skip(format!(
                        "PCO merged the linked PCO person {} into PCO person {kept}, who is linked to Rock person {other}: if they are one person, merge them in Rock; if not, link this person by hand to their own PCO person",
                        record.pco
                    )),
                    None,
                );
            }
            flags.push(format!(
                "PCO merged the linked PCO person {} into PCO person {kept}: the link follows",
                record.pco
            ));
            return (
                LinkStep::Found(
                    kept.clone(),
                    "as the person PCO merged their PCO person into",
                ),
                Some(kept.clone()),
            );
        }
        flags.push(format!(
            "the linked PCO person {} was deleted in PCO (PCO answers 404 and lists no merge of them); matched again",
            record.pco
        ));
    }
    if let Some(pco_id) = inputs.by_remote.get(&person.id) {
        return (
            LinkStep::Found(pco_id.clone(), "by the Rock id PCO holds"),
            Some(pco_id.clone()),
        );
    }
    if let Some(pco_id) = inputs.by_import.get(&person.id)
        && (!inputs.pco_complete || inputs.pco.contains_key(pco_id))
    {
        return (
            LinkStep::Found(pco_id.clone(), "as the person the import created them from"),
            Some(pco_id.clone()),
        );
    }
    crate::namesakes::match_step(inputs, person)
}

fn merge_fields(
    inputs: &Inputs,
    person: &Person,
    pco: Option<&PcoPersonFull>,
    base: Option<&Snapshot>,
) -> (Merge, Snapshot, Snapshot) {
    let source = inputs.account.first_name_source;
    let rock = Snapshot::from_rock(person, source);
    let pco = match (pco, base) {
        (Some(pco), _) => Snapshot::from_pco(pco, source),
        // Not read this run (updates-only): unchanged since the last sync, as far as we know.
        (None, Some(base)) => base.clone(),
        (None, None) => Snapshot::default(),
    };
    let rock_modified = person.modified.as_ref().map(|t| second_text(t));
    let newest = match (rock_modified, pco_updated(inputs, person)) {
        (Some(rock), Some(pco)) if rock > pco => Side::Rock,
        (_, Some(_)) => Side::Pco,
        _ => Side::Rock,
    };
    let policy = inputs.account.conflict_policy;
    let merge = fields::merge(
        base,
        &rock,
        &pco,
        policy,
        newest,
        &inputs.account.disabled_fields,
    );
    (merge, rock, pco)
}

fn pco_updated(inputs: &Inputs, person: &Person) -> Option<String> {
    let record = inputs.records.get(&person.id)?;
    let pco = inputs.pco.get(&record.pco)?;
    Some(second_text(&pco.updated_at))
}

/// `yyyy-MM-ddTHH:mm:ss` of a change time, so the two sides compare as text. Both are UTC
/// when the host knows Rock's time zone (`[rock] time_zone`); without it Rock's is org-local
/// and newest-wins can misjudge changes made within the UTC offset of each other.
fn second_text(time: &str) -> String {
    time.chars().take(19).collect()
}

/// R19: PCO tells a person when an integration changes their login email or phone (the
/// mobile number PCO texts): say so before it happens. `pco` is PCO's side as read this run,
/// or in an updates-only run as the last sync left it, so dry runs of both modes flag alike.
fn flag_notified_changes(merge: &Merge, pco: &Snapshot, flags: &mut Vec<String>) {
    let changes = |field: fields::Field| {
        pco.get(field).is_some() && merge.to_pco.iter().any(|(f, _)| *f == field)
    };
    if changes(fields::Field::Email) {
        flags.push("the email changes in PCO: PCO tells the person".into());
    }
    if changes(fields::Field::MobilePhone) {
        flags.push("the mobile phone changes in PCO: PCO tells the person".into());
    }
}

/// The Services record as it stands: read this run, or as the last sync left it.
fn services_of(inputs: &Inputs, pco_id: &str, record: Option<&Record>) -> Option<ServicesPerson> {
    match inputs.services {
        Some(services) => services.get(pco_id).cloned(),
        None => match inputs.services_read.get(pco_id) {
            Some(read) => read.clone(),
            None => record.map(remembered_services),
        },
    }
}

/// A Services record as the last sync left it: possibly stale (a level changed by hand in
/// PCO since), so never the ground for changing a level.
pub fn remembered_services(record: &Record) -> ServicesPerson {
    ServicesPerson {
        level: record.level,
        archived: record.level.is_none(),
        site_administrator: false,
        unknown_level: None,
        tags: BTreeSet::new(),
    }
}

/// Updates-only runs read a linked person's Services record before raising them: the record
/// the last sync left may be older than a level set by hand in PCO, and an absolute level
/// sent on a stale "raise" would lower them (R17, R50).
pub fn needs_services_read(record: &Record, wanted: PermissionLevel) -> bool {
    record.level.is_none_or(|level| rank(level) < rank(wanted))
}

/// R16-R19, R50-R52.
/// `services_read`: this run read PCO Services. Without it (updates-only) the sync cannot see
/// who is an organization administrator, so it lowers nobody: the next full run does (R50).
fn level_step(
    account: &Account,
    services: Option<&ServicesPerson>,
    wanted: PermissionLevel,
    services_read: bool,
    flags: &mut Vec<String>,
) -> LevelStep {
    let Some(current) = services else {
        flag_contact_access(None, wanted, flags);
        return LevelStep::Grant(wanted);
    };
    if let Some(unknown) = &current.unknown_level {
        flags.push(format!(
            "PCO Services shows the level \"{unknown}\", which this version does not know: left as it is"
        ));
        return LevelStep::Keep;
    }
    match current.level {
        None => {
            flag_contact_access(None, wanted, flags);
            LevelStep::Set {
                from: None,
                to: wanted,
            }
        }
        Some(level) if rank(level) < rank(wanted) => {
            flag_contact_access(Some(level), wanted, flags);
            LevelStep::Set {
                from: Some(level),
                to: wanted,
            }
        }
        Some(level) if rank(level) > rank(wanted) && account.allow_downgrade && services_read => {
            if current.site_administrator {
                flags.push(format!(
                    "organization administrator: left at {} rather than lowered to {} (lowering one emails every administrator)",
                    crate::services::level_name(level),
                    crate::services::level_name(wanted)
                ));
                LevelStep::Keep
            } else {
                LevelStep::Set {
                    from: Some(level),
                    to: wanted,
                }
            }
        }
        _ => LevelStep::Keep,
    }
}

/// R52: Viewer and above see other people's contact information.
fn flag_contact_access(
    from: Option<PermissionLevel>,
    to: PermissionLevel,
    flags: &mut Vec<String>,
) {
    let sees = |level: PermissionLevel| rank(level) >= rank(PermissionLevel::Viewer);
    if sees(to) && !from.is_some_and(sees) {
        flags.push("this raise lets the person see other people's contact information".into());
    }
}

/// R13-R14: a per-tag three-way merge; membership decides the group-mapped tags.
/// `pco`: the PCO person's id and their Services record. Updates-only runs carry no tag change
/// of PCO's to Rock (R13); when the run read the Services record (it does before writing the
/// person's tags), Rock's changes are applied to PCO's tags as read, so a Rock-side change
/// never takes away a tag given in PCO (issue 24 item 5).
fn tag_step(
    inputs: &Inputs,
    person: &Person,
    synced: &Synced,
    (pco_id, services): (Option<&str>, Option<&ServicesPerson>),
    record: Option<&Record>,
    flags: &mut Vec<String>,
) -> TagStep {
    let account = inputs.account;
    if account.disabled_fields.iter().any(|f| f == "tags") {
        return TagStep::default();
    }
    let mapped = mapped_tags(account);
    let attribute: BTreeSet<String> = person
        .pco_tags
        .iter()
        .filter_map(|v| account_tag(&account.name, v))
        .collect();
    // What Rock says, with membership deciding the mapped tags (R14).
    let rock: BTreeSet<String> = attribute
        .iter()
        .filter(|t| !mapped.contains(*t))
        .chain(synced.group_tags.iter())
        .cloned()
        .collect();
    let pco_known = inputs.services.is_some();
    let names = |s: &ServicesPerson| -> BTreeSet<String> {
        s.tags
            .iter()
            .filter_map(|id| inputs.tags.name(id).map(str::to_string))
            .collect()
    };
    let pco: BTreeSet<String> = match services {
        Some(s) if pco_known => names(s),
        _ => record.map(|r| r.tags.clone()).unwrap_or_default(),
    };
    // Updates-only: PCO's tags as this run read them, when it did.
    let read_now = !pco_known && pco_id.is_some_and(|id| inputs.services_read.contains_key(id));
    let read_now = read_now.then(|| services.map(names).unwrap_or_default());
    let merged: BTreeSet<String> = match record {
        // In updates-only mode PCO's tag changes are not seen: Rock to PCO only (R13).
        Some(record) => {
            let all: BTreeSet<&String> = rock.iter().chain(&pco).chain(&record.tags).collect();
            all.into_iter()
                .filter(|tag| {
                    let (in_base, in_rock, in_pco) = (
                        record.tags.contains(*tag),
                        rock.contains(*tag),
                        pco.contains(*tag),
                    );
                    // A tag PCO does not know cannot be in PCO: its absence there is no
                    // removal, so Rock's value stays (R13; it is reported below).
                    let pco_lacks_it = pco_known && inputs.tags.id(tag).is_none();
                    if mapped.contains(*tag) || pco_lacks_it {
                        in_rock
                    } else if in_rock == in_base {
                        in_pco
                    } else {
                        in_rock
                    }
                })
                .cloned()
                .collect()
        }
        // First link: keep what either side has; membership still decides mapped tags.
        None => rock
            .iter()
            .chain(pco.iter().filter(|t| !mapped.contains(*t)))
            .cloned()
            .collect(),
    };
    let unknown: Vec<&String> = merged
        .iter()
        .filter(|t| inputs.tags.id(t).is_none())
        .collect();
    if pco_known && !unknown.is_empty() {
        flags.push(format!(
            "tags not found in PCO (create them there): {}",
            unknown
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let assignable: BTreeSet<String> = merged
        .iter()
        .filter(|t| inputs.tags.id(t).is_some() || !pco_known)
        .cloned()
        .collect();
    let (to_pco, pco_before) = match read_now {
        Some(current) => {
            let wanted = rock_changes_applied(inputs, &current, &merged, record, &mapped);
            ((wanted != current).then_some(wanted), current)
        }
        None => ((assignable != pco).then(|| assignable.clone()), pco),
    };
    TagStep {
        to_pco,
        to_rock: (merged != attribute).then(|| merged.clone()),
        base: merged,
        pco_before,
        rock_before: attribute,
    }
}

/// Updates-only (R13): PCO's tags as read, with Rock's changes since the last sync applied
/// (tags added or taken away in Rock, `rock` against the record), and the mapped tags as
/// membership decides (R14). A tag PCO gave or took away meanwhile stays as PCO has it; the
/// next full run carries it to Rock.
fn rock_changes_applied(
    inputs: &Inputs,
    current: &BTreeSet<String>,
    rock: &BTreeSet<String>,
    record: Option<&Record>,
    mapped: &BTreeSet<String>,
) -> BTreeSet<String> {
    let base = record.map(|r| r.tags.clone()).unwrap_or_default();
    let kept = current
        .iter()
        .filter(|t| !mapped.contains(*t) && (rock.contains(*t) || !base.contains(*t)));
    let added = rock
        .iter()
        .filter(|t| mapped.contains(*t) || !base.contains(*t));
    kept.chain(added)
        .filter(|t| inputs.tags.id(t).is_some())
        .cloned()
        .collect()
}

/// R17-R18, R50: a linked person no longer synced is archived only with downgrade allowed.
fn plan_unsynced(inputs: &Inputs, rock_id: i64, record: &Record) -> Option<PersonPlan> {
    let deceased = inputs.deceased.contains(&rock_id);
    if !inputs.account.allow_downgrade {
        return deceased.then(|| {
            unsynced_plan(
                rock_id,
                record,
                LevelStep::Keep,
                vec![DECEASED_NOT_ARCHIVED.into()],
            )
        });
    }
    // Not in what Rock returned, and not merged nor deceased: missing from a read is not
    // gone from Rock, so their PCO person is left alone (R7, R18).
    if !deceased {
        inputs.rock.get(&rock_id)?;
    }
    // Updates-only runs do not read Services, so they cannot tell an organization
    // administrator (R50): archiving waits for the next full run.
    inputs.services.as_ref()?;
    let services = services_of(inputs, &record.pco, Some(record))?;
    if services.archived || services.level.is_none() {
        return None;
    }
    let mut flags = Vec::new();
    if deceased {
        flags.push("marked deceased in Rock: no longer synced".into());
    }
    let level = if services.site_administrator {
        flags.push(
            "organization administrator: no longer synced, but never archived by the sync".into(),
        );
        LevelStep::Keep
    } else if let Some(why) = inputs.archive_refused {
        flags.push(format!(
            "no longer synced and would be archived, but {why}: archive them by hand in PCO Services"
        ));
        LevelStep::Keep
    } else {
        LevelStep::Archive {
            from: services.level,
        }
    };
    Some(unsynced_plan(rock_id, record, level, flags))
}

/// What is said of a deceased person an account that does not archive leaves in PCO.
const DECEASED_NOT_ARCHIVED: &str = "marked deceased in Rock: no longer synced, but this account does not archive people who leave the synced groups, so their PCO person is left as it is; archive them by hand in PCO Services if they should go";

/// The plan for a linked person who is no longer synced: their level step, nothing else.
fn unsynced_plan(
    rock_id: i64,
    record: &Record,
    level: LevelStep,
    flags: Vec<String>,
) -> PersonPlan {
    PersonPlan {
        rock_id,
        pco_id: Some(record.pco.clone()),
        link: LinkStep::Kept,
        fields: None,
        before: None,
        level,
        tags: TagStep::default(),
        flags,
        synced: false,
        photo: None,
        relinked: false,
        lookalike: false,
    }
}
