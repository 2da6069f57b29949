//! The invariants checked after every scenario, once the sync has converged.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use congregation::{Presence, Protection};

use crate::changes::{Expect, Side};
use crate::world::{IMPORT_ACCOUNT, PcoPerson, RockPerson, World, permission_rank};

/// What broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ViolationKind {
    /// Two PCO people for one Rock person, or one PCO person for two Rock people (R6).
    Duplicate,
    /// A Rock person created twice by the import (R42).
    ImportedTwice,
    /// A change made before the runs missing on a side after convergence (R10, R12).
    LostUpdate,
    /// A permission lowered (or archived) while the account does not allow it (R17-R18).
    Lowered,
    /// An organization administrator lowered or archived (R50).
    OrgAdmin,
    /// The state unreadable, a link to nobody, a lock never released.
    State,
    /// A created person welcomed twice (R4).
    DoubleWelcome,
    /// Clean runs that never settle to a run writing nothing (R27).
    NoConvergence,
    /// Someone's email, phone or street address in a log line (R53).
    Privacy,
}

impl ViolationKind {
    pub fn name(self) -> &'static str {
        match self {
            ViolationKind::Duplicate => "duplicate",
            ViolationKind::ImportedTwice => "imported twice",
            ViolationKind::LostUpdate => "lost update",
            ViolationKind::Lowered => "lowered without allow_downgrade",
            ViolationKind::OrgAdmin => "organization administrator lowered or archived",
            ViolationKind::State => "state",
            ViolationKind::DoubleWelcome => "double welcome",
            ViolationKind::NoConvergence => "no convergence",
            ViolationKind::Privacy => "private data in a log",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub kind: ViolationKind,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.detail)
    }
}

fn violation(kind: ViolationKind, detail: String) -> Violation {
    Violation { kind, detail }
}

/// Log lines that carry anyone's email, phone number or street address (R53: logs name people
/// by id). `log` is everything the runs wrote to stderr.
pub fn private_in_logs(world: &World, log: &str) -> Vec<Violation> {
    let mut private: Vec<String> = Vec::new();
    for m in &world.congregation.people {
        private.extend(m.email.iter().chain(&m.pco_email_drift).cloned());
        for phone in [&m.home_phone, &m.work_phone, &m.mobile_phone]
            .into_iter()
            .flatten()
        {
            if let (Some(area), Some(exchange), Some(line)) =
                (phone.get(..3), phone.get(3..6), phone.get(6..))
            {
                private.push(phone.clone());
                private.push(format!("({area}) {exchange}-{line}"));
                private.push(format!("{area}-{exchange}-{line}"));
            }
        }
        if let Some(address) = &m.address
            && address.street1.len() > 6
        {
            private.push(address.street1.clone());
        }
    }
    log.lines()
        .filter_map(|line| {
            let found = private
                .iter()
                .find(|p| !p.is_empty() && line.contains(p.as_str()))?;
            Some(violation(
                ViolationKind::Privacy,
                format!("{found:?} in the log line {line:?}"),
            ))
        })
        .take(5)
        .collect()
}

/// PCO permissions before the faulty runs: (account, PCO id) -> (permission, org admin).
pub type Permissions = BTreeMap<(String, String), (String, bool)>;

pub async fn permissions(world: &World) -> anyhow::Result<Permissions> {
    let mut all = BTreeMap::new();
    for account in &world.accounts {
        for person in world.pco_people(account).await? {
            if let Some(permission) = person.permission {
                all.insert(
                    (account.clone(), person.id),
                    (permission, person.site_administrator),
                );
            }
        }
    }
    Ok(all)
}

/// Everything both systems and the state hold after convergence.
pub struct After {
    pub links: BTreeMap<String, BTreeMap<i64, String>>,
    pub pco: BTreeMap<String, Vec<PcoPerson>>,
    pub rock: BTreeMap<i64, RockPerson>,
}

impl After {
    pub async fn read(world: &World) -> anyhow::Result<After> {
        let mut links = BTreeMap::new();
        let mut pco = BTreeMap::new();
        for account in &world.accounts {
            links.insert(account.clone(), world.links(account)?);
            pco.insert(account.clone(), world.pco_people(account).await?);
        }
        Ok(After {
            links,
            pco,
            rock: world.rock_people().await?,
        })
    }

    fn pco_person(&self, account: &str, id: &str) -> Option<&PcoPerson> {
        self.pco.get(account)?.iter().find(|p| p.id == id)
    }
}

/// No PCO person twice for a Rock person, no PCO person shared by two Rock people, nobody
/// PCO already held (same name and email, nothing protecting them) created again (R4, R6).
pub fn duplicates(world: &World, after: &After) -> Vec<Violation> {
    let mut found = Vec::new();
    for account in &world.accounts {
        let people = &after.pco[account];
        let links = &after.links[account];
        let mut by_remote: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
        for person in people {
            if let Some(rock_id) = person.remote_id
                && !world.carries_foreign_id(account, &person.id, rock_id)
            {
                by_remote.entry(rock_id).or_default().push(&person.id);
            }
        }
        for (rock_id, ids) in &by_remote {
            if ids.len() > 1 {
                found.push(violation(
                    ViolationKind::Duplicate,
                    format!("{account}: Rock {rock_id} has PCO people {ids:?}"),
                ));
            }
        }
        let mut by_pco: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        for (rock_id, pco_id) in links {
            by_pco.entry(pco_id).or_default().push(*rock_id);
            if let Some(others) = by_remote.get(rock_id) {
                let strays: Vec<&&str> = others.iter().filter(|id| **id != pco_id).collect();
                if !strays.is_empty() {
                    found.push(violation(
                        ViolationKind::Duplicate,
                        format!(
                            "{account}: Rock {rock_id} is linked to PCO {pco_id} but PCO also holds {strays:?} for them"
                        ),
                    ));
                }
            }
            if let Some(member) = world.member(*rock_id)
                && matchable(world, account, member)
                && let Some(seeded) = world.pco.pco_id(account, member.key)
                && seeded != *pco_id
            {
                found.push(violation(
                    ViolationKind::Duplicate,
                    format!(
                        "{account}: Rock {rock_id} is linked to PCO {pco_id}, not to PCO {seeded} who PCO already held for them"
                    ),
                ));
            }
        }
        for (pco_id, rock_ids) in by_pco {
            if rock_ids.len() > 1 {
                found.push(violation(
                    ViolationKind::Duplicate,
                    format!("{account}: PCO {pco_id} is linked to Rock people {rock_ids:?}"),
                ));
            }
        }
    }
    found
}

/// Whether PCO held exactly this Rock person under the same names and email from the start,
/// with nothing protecting them from a match (R4), so the sync must have linked them.
fn matchable(world: &World, account: &str, member: &congregation::Member) -> bool {
    let Some(index) = world.congregation.account_index(account) else {
        return false;
    };
    member.presence == Presence::Both
        && member.pco_accounts.contains(&index)
        && member.email.is_some()
        && member.pco_email_drift.is_none()
        && member.pco_nick_drift.is_none()
        && matches!(member.protection, Protection::Low | Protection::Medium)
        && unique_in_pco(world, index, member)
}

/// No other PCO person of the account shares the member's names and email (R4: a match must be
/// the only one).
fn unique_in_pco(world: &World, account: usize, member: &congregation::Member) -> bool {
    let key = |m: &congregation::Member| {
        (
            m.pco_first_name().to_lowercase(),
            m.last_name.to_lowercase(),
            m.pco_email().map(str::to_lowercase),
        )
    };
    let mine = key(member);
    world
        .congregation
        .pco_people(account)
        .filter(|m| key(m) == mine)
        .count()
        == 1
}

/// Every link points at a PCO person who exists.
pub fn dangling(world: &World, after: &After) -> Vec<Violation> {
    let mut found = Vec::new();
    for account in &world.accounts {
        for (rock_id, pco_id) in &after.links[account] {
            if after.pco_person(account, pco_id).is_none() {
                found.push(violation(
                    ViolationKind::State,
                    format!(
                        "{account}: Rock {rock_id} is linked to PCO {pco_id}, who does not exist"
                    ),
                ));
            }
        }
    }
    found
}

/// Every change made before the runs holds on both sides: in Rock and in every account the
/// person is linked in (R10; R12 for conflicts, Rock's value).
pub fn lost_updates(world: &World, after: &After, expects: &[Expect]) -> Vec<Violation> {
    let mut found = Vec::new();
    for expect in expects {
        let field = expect.field;
        let what = match &expect.side {
            Side::Rock => "changed in Rock".to_string(),
            Side::Pco { account } => format!("changed in PCO ({account})"),
            Side::Both { account } => format!(
                "changed in both (PCO {account}: {:?})",
                expect.pco_value.as_deref().unwrap_or_default()
            ),
        };
        match after.rock.get(&expect.rock_id) {
            Some(person) if field.same(&field.of_rock(person), &expect.value) => {}
            Some(person) => found.push(violation(
                ViolationKind::LostUpdate,
                format!(
                    "Rock {} {} {what} to {:?}: Rock holds {:?}",
                    expect.rock_id,
                    field.name(),
                    expect.value,
                    field.of_rock(person)
                ),
            )),
            None => found.push(violation(
                ViolationKind::LostUpdate,
                format!("Rock {} is gone from Rock", expect.rock_id),
            )),
        }
        for account in &world.accounts {
            let Some(pco_id) = after.links[account].get(&expect.rock_id) else {
                continue;
            };
            match after.pco_person(account, pco_id) {
                Some(person) if field.same(&field.of_pco(person), &expect.value) => {}
                Some(person) => found.push(violation(
                    ViolationKind::LostUpdate,
                    format!(
                        "Rock {} {} {what} to {:?}: PCO {pco_id} ({account}) holds {:?}",
                        expect.rock_id,
                        field.name(),
                        expect.value,
                        field.of_pco(person)
                    ),
                )),
                None => {} // reported by `dangling`
            }
        }
        let linked = world
            .accounts
            .iter()
            .any(|a| after.links[a].contains_key(&expect.rock_id));
        if !linked {
            found.push(violation(
                ViolationKind::LostUpdate,
                format!(
                    "Rock {} ({} {what}) is linked in no account any more",
                    expect.rock_id,
                    field.name()
                ),
            ));
        }
    }
    found
}

/// No permission lower than before the runs unless the account allows it (R17-R18); never for
/// an organization administrator, who also stays one (R50).
pub fn permissions_kept(
    world: &World,
    after: &After,
    before: &Permissions,
    allow_downgrade: bool,
) -> Vec<Violation> {
    let mut found = Vec::new();
    for ((account, pco_id), (was, admin)) in before {
        let Some(person) = after.pco_person(account, pco_id) else {
            found.push(violation(
                ViolationKind::State,
                format!("{account}: PCO {pco_id} ({was}) disappeared"),
            ));
            continue;
        };
        let now = person.permission.clone().unwrap_or_default();
        let lower = match (permission_rank(was), permission_rank(&now)) {
            (Some(a), Some(b)) => b < a,
            (Some(_), None) => true,
            _ => false,
        };
        if *admin && (lower || !person.site_administrator) {
            found.push(violation(
                ViolationKind::OrgAdmin,
                format!(
                    "{account}: organization administrator PCO {pco_id} went from {was} to {now} (site administrator: {})",
                    person.site_administrator
                ),
            ));
        } else if lower && !allow_downgrade {
            found.push(violation(
                ViolationKind::Lowered,
                format!("{account}: PCO {pco_id} went from {was} to {now}"),
            ));
        }
    }
    let _ = world;
    found
}

/// No person welcomed twice (R4).
pub fn welcomes(world: &World) -> Vec<Violation> {
    let mut by_person: BTreeMap<(String, String), usize> = BTreeMap::new();
    for email in world.pco.outbox() {
        if email.kind == pco_sandbox::EmailKind::Welcome {
            *by_person
                .entry((email.account, email.person_id))
                .or_default() += 1;
        }
    }
    by_person
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|((account, id), n)| {
            violation(
                ViolationKind::DoubleWelcome,
                format!("{account}: PCO {id} was sent {n} welcome emails"),
            )
        })
        .collect()
}

/// Every Rock person the import created came from a PCO person of [`IMPORT_ACCOUNT`] who was
/// there before the runs: linked there to a PCO person made during the runs, they have two PCO
/// people (R6), the one they came from and the new one.
pub fn import_duplicates(
    after: &After,
    rock_before: &BTreeSet<i64>,
    pco_before: &BTreeSet<String>,
) -> Vec<Violation> {
    after.links[IMPORT_ACCOUNT]
        .iter()
        .filter(|(rock_id, pco_id)| !rock_before.contains(rock_id) && !pco_before.contains(*pco_id))
        .map(|(rock_id, pco_id)| {
            let person = after.rock.get(rock_id);
            violation(
                ViolationKind::Duplicate,
                format!(
                    "{IMPORT_ACCOUNT}: Rock {rock_id} ({}) was created by the import from a PCO person, and is linked to PCO {pco_id}, made since",
                    person.map_or(String::new(), |p| format!("{} {} <{}>", p.first_name, p.last_name, p.email))
                ),
            )
        })
        .collect()
}

/// Names and email as the import matches them (R41), folded.
fn fold(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn rock_keys(person: &RockPerson) -> BTreeSet<(String, String, String)> {
    [&person.first_name, &person.nick_name]
        .into_iter()
        .filter(|n| !n.trim().is_empty())
        .map(|first| {
            (
                fold(first),
                fold(&person.last_name),
                person.email.trim().to_lowercase(),
            )
        })
        .collect()
}

fn pco_keys(person: &PcoPerson) -> BTreeSet<(String, String, String)> {
    [&person.first_name, &person.given_name, &person.nickname]
        .into_iter()
        .filter(|n| !n.trim().is_empty())
        .map(|first| {
            (
                fold(first),
                fold(&person.last_name),
                person
                    .email
                    .as_deref()
                    .unwrap_or_default()
                    .trim()
                    .to_lowercase(),
            )
        })
        .collect()
}

/// Outcome of the import check: violations, and people an interrupted create left in Rock
/// unlinked for an administrator (R42 allows it when they cannot be found again).
pub struct Imported {
    pub violations: Vec<Violation>,
    pub stranded: usize,
}

/// Nobody imported twice (R42): every Rock person the import created is linked, or is the only
/// trace of a PCO person nobody else was linked for (an interrupted create the import could not
/// find again and left for an administrator).
pub fn imported_once(after: &After, rock_before: &BTreeSet<i64>) -> Imported {
    let links = &after.links[IMPORT_ACCOUNT];
    let linked_rock: BTreeSet<i64> = links.keys().copied().collect();
    let pco = &after.pco[IMPORT_ACCOUNT];
    let by_id: BTreeMap<&str, &PcoPerson> = pco.iter().map(|p| (p.id.as_str(), p)).collect();
    let linked_pco: BTreeSet<&str> = links.values().map(String::as_str).collect();
    let mut violations = Vec::new();
    let mut stranded = 0;
    let new: Vec<&RockPerson> = after
        .rock
        .values()
        .filter(|p| !rock_before.contains(&p.id))
        .collect();
    for orphan in new.iter().filter(|p| !linked_rock.contains(&p.id)) {
        let keys = rock_keys(orphan);
        // The linked people the orphan is a copy of.
        let twins: Vec<(i64, &str)> = links
            .iter()
            .filter(|(rock_id, _)| **rock_id != orphan.id)
            .filter(|(rock_id, _)| {
                after
                    .rock
                    .get(rock_id)
                    .is_some_and(|p| !rock_keys(p).is_disjoint(&keys))
            })
            .map(|(rock_id, pco_id)| (*rock_id, pco_id.as_str()))
            .collect();
        // PCO people, not linked, the orphan could stand for.
        let unclaimed = pco
            .iter()
            .filter(|p| !linked_pco.contains(p.id.as_str()))
            .filter(|p| !pco_keys(p).is_disjoint(&keys))
            .count();
        let copies = twins
            .iter()
            .filter(|(_, pco_id)| {
                by_id
                    .get(pco_id)
                    .is_some_and(|p| !pco_keys(p).is_disjoint(&keys))
            })
            .count();
        if copies > 0 && unclaimed == 0 {
            violations.push(violation(
                ViolationKind::ImportedTwice,
                format!(
                    "Rock {} ({} {} <{}>) was created by the import beside {:?}, linked to the same PCO person",
                    orphan.id, orphan.first_name, orphan.last_name, orphan.email, twins
                ),
            ));
        } else {
            stranded += 1;
        }
    }
    Imported {
        violations,
        stranded,
    }
}
