//! The changes staff make between two syncs, each recorded with the outcome it must have once
//! the sync has converged: a field changed on one side reaches the other (R10), a field
//! changed on both keeps Rock's value on both (R12).

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::json;

use crate::plan::Changes;
use crate::world::{PcoPerson, RockPerson, World};

/// A synced field (R10), by its name in both systems.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    /// Rock FirstName, PCO given_name.
    First,
    /// Rock NickName, PCO first_name (the account's default first-name source).
    Nick,
    Middle,
    Last,
    /// Rock Email, PCO's primary email.
    Email,
}

impl Field {
    pub const ALL: [Field; 5] = [
        Field::First,
        Field::Nick,
        Field::Middle,
        Field::Last,
        Field::Email,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::First => "first-name",
            Field::Nick => "nick-name",
            Field::Middle => "middle-name",
            Field::Last => "last-name",
            Field::Email => "email",
        }
    }

    fn rock_column(self) -> &'static str {
        match self {
            Field::First => "FirstName",
            Field::Nick => "NickName",
            Field::Middle => "MiddleName",
            Field::Last => "LastName",
            Field::Email => "Email",
        }
    }

    fn pco_attribute(self) -> &'static str {
        match self {
            Field::First => "given_name",
            Field::Nick => "first_name",
            Field::Middle => "middle_name",
            Field::Last => "last_name",
            Field::Email => "email",
        }
    }

    pub fn of_rock(self, person: &RockPerson) -> String {
        match self {
            Field::First => person.first_name.clone(),
            Field::Nick => person.nick_name.clone(),
            Field::Middle => person.middle_name.clone(),
            Field::Last => person.last_name.clone(),
            Field::Email => person.email.clone(),
        }
    }

    pub fn of_pco(self, person: &PcoPerson) -> String {
        match self {
            Field::First => person.given_name.clone(),
            Field::Nick => person.first_name.clone(),
            Field::Middle => person.middle_name.clone(),
            Field::Last => person.last_name.clone(),
            Field::Email => person.email.clone().unwrap_or_default(),
        }
    }

    /// Whether two values are the same value of this field (emails ignore case).
    pub fn same(self, a: &str, b: &str) -> bool {
        match self {
            Field::Email => a.trim().eq_ignore_ascii_case(b.trim()),
            _ => a.trim() == b.trim(),
        }
    }
}

/// Where a change was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Side {
    Rock,
    Pco {
        account: String,
    },
    /// Rock and PCO (in this account), different values: a conflict.
    Both {
        account: String,
    },
}

/// One change and the value it must leave on both sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expect {
    pub rock_id: i64,
    pub field: Field,
    pub side: Side,
    /// The value both sides must hold after convergence (Rock's, in a conflict).
    pub value: String,
    /// The value written in PCO when it differs (a conflict's losing side).
    pub pco_value: Option<String>,
}

/// What the changes were, for the report and the checks.
#[derive(Clone, Debug, Default)]
pub struct Made {
    pub expects: Vec<Expect>,
    /// People whose group memberships, or PCO permission, were changed.
    pub removals: usize,
    pub admin_removals: usize,
    pub permission_edits: usize,
    /// What was done beyond the field changes, for a trace.
    pub notes: Vec<String>,
}

/// Fresh names a scenario has not used yet: a few syllables, capitalised as Rock keeps them.
struct Names {
    seed: u64,
    used: BTreeSet<String>,
}

const SYLLABLES: [&str; 20] = [
    "ka", "lo", "mi", "ru", "sen", "ta", "vi", "zo", "bel", "dor", "fen", "gar", "hil", "jun",
    "mar", "nor", "pel", "quin", "ros", "tal",
];

impl Names {
    fn name(&mut self, rng: &mut StdRng) -> String {
        loop {
            let parts = rng.random_range(2..=3);
            let mut name: String = (0..parts)
                .map(|_| SYLLABLES[rng.random_range(0..SYLLABLES.len())])
                .collect();
            if let Some(first) = name.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            if self.used.insert(name.clone()) {
                return name;
            }
        }
    }

    fn value(&mut self, field: Field, rng: &mut StdRng) -> String {
        match field {
            Field::Email => {
                let local = self.name(rng).to_lowercase();
                format!("{local}.{}@chaos.example.org", self.seed)
            }
            _ => self.name(rng),
        }
    }
}

/// A linked Rock person the changes may touch: ordinary in every account they are linked in
/// (not an organization administrator, not archived), with the PCO id in each.
#[derive(Clone, Debug)]
struct Candidate {
    rock_id: i64,
    links: Vec<(String, String)>,
}

async fn candidates(world: &World) -> anyhow::Result<Vec<Candidate>> {
    let mut by_rock: BTreeMap<i64, Vec<(String, String)>> = BTreeMap::new();
    let mut excluded = BTreeSet::new();
    for account in &world.accounts {
        for (rock_id, pco_id) in world.links(account)? {
            let ordinary = world.pco_person(account, &pco_id).is_some_and(|p| {
                !p.site_administrator && p.permission.as_deref() != Some("Archived")
            });
            if !ordinary || world.rock_person(rock_id).is_none() {
                excluded.insert(rock_id);
            }
            by_rock
                .entry(rock_id)
                .or_default()
                .push((account.clone(), pco_id));
        }
    }
    Ok(by_rock
        .into_iter()
        .filter(|(rock_id, _)| !excluded.contains(rock_id))
        .map(|(rock_id, links)| Candidate { rock_id, links })
        .collect())
}

async fn write_rock(world: &World, rock_id: i64, field: Field, value: &str) -> anyhow::Result<()> {
    world
        .edit_rock_person(rock_id, json!({ field.rock_column(): value }))
        .await
}

async fn write_pco(
    world: &World,
    account: &str,
    pco_id: &str,
    field: Field,
    value: &str,
) -> anyhow::Result<()> {
    match field {
        Field::Email => world.edit_pco_email(account, pco_id, value).await,
        _ => {
            world
                .edit_pco_person(account, pco_id, json!({ field.pco_attribute(): value }))
                .await
        }
    }
}

/// Whether an email from PCO waits for an administrator before it reaches this Rock person:
/// account protection Medium and above (the sandboxes seed no logins).
fn email_waits(world: &World, rock_id: i64) -> bool {
    world
        .rock
        .person_dump(rock_id)
        .and_then(|dump| dump["Person"]["AccountProtectionProfile"].as_i64())
        .is_some_and(|profile| profile >= 1)
}

/// Makes `plan`'s changes on people the first sync linked, and returns what they must lead to.
pub async fn make(
    world: &World,
    plan: &Changes,
    seed: u64,
    rng: &mut StdRng,
) -> anyhow::Result<Made> {
    let mut names = Names {
        seed,
        used: BTreeSet::new(),
    };
    let mut people = candidates(world).await?;
    people.shuffle(rng);
    let mut made = Made::default();
    // Field changes: each on a person of their own, so every expectation stands alone.
    let edits = plan.rock_edits + plan.pco_edits + plan.conflicts;
    let editing: Vec<Candidate> = people.drain(..edits.min(people.len())).collect();
    for (index, person) in editing.iter().enumerate() {
        let mut field = Field::ALL[rng.random_range(0..Field::ALL.len())];
        let pco_side = (plan.rock_edits..plan.rock_edits + plan.pco_edits).contains(&index);
        if field == Field::Email && pco_side && email_waits(world, person.rock_id) {
            // A PCO-side email change of a person protected Medium and above waits for an
            // administrator (issue 24 item 15): no run writes it, so none is expected.
            field = Field::Middle;
        }
        let (account, pco_id) = person.links[rng.random_range(0..person.links.len())].clone();
        let value = names.value(field, rng);
        let expect = if index < plan.rock_edits {
            write_rock(world, person.rock_id, field, &value).await?;
            Expect {
                rock_id: person.rock_id,
                field,
                side: Side::Rock,
                value,
                pco_value: None,
            }
        } else if index < plan.rock_edits + plan.pco_edits {
            write_pco(world, &account, &pco_id, field, &value).await?;
            Expect {
                rock_id: person.rock_id,
                field,
                side: Side::Pco { account },
                value,
                pco_value: None,
            }
        } else {
            let theirs = names.value(field, rng);
            // PCO first, then Rock: the newer edit is PCO's loser either way (rock-wins).
            write_pco(world, &account, &pco_id, field, &theirs).await?;
            write_rock(world, person.rock_id, field, &value).await?;
            Expect {
                rock_id: person.rock_id,
                field,
                side: Side::Both { account },
                value,
                pco_value: Some(theirs),
            }
        };
        made.expects.push(expect);
    }
    // Group removals: out of one synced group (or all of them), on people of their own.
    for person in people.drain(..plan.removals.min(people.len())) {
        let (account, _) = &person.links[rng.random_range(0..person.links.len())];
        let synced = world.synced_group_ids(account);
        let groups: Vec<i64> = world
            .rock_groups(person.rock_id)
            .into_iter()
            .filter(|g| synced.contains(g))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if groups.is_empty() {
            continue;
        }
        let leave: Vec<i64> = if rng.random_bool(0.3) {
            groups
        } else {
            vec![groups[rng.random_range(0..groups.len())]]
        };
        made.notes.push(format!(
            "Rock {} ({account}) left groups {leave:?}",
            person.rock_id
        ));
        for group in leave {
            world.remove_from_group(person.rock_id, group).await?;
        }
        made.removals += 1;
    }
    // Permissions set by hand in PCO, up or down.
    for person in people.drain(..plan.permission_edits.min(people.len())) {
        let (account, pco_id) = &person.links[rng.random_range(0..person.links.len())];
        let level = congregation::Level::ALL[rng.random_range(0..5)];
        world
            .set_pco_permission(account, pco_id, level.pco_name())
            .await?;
        made.notes.push(format!(
            "PCO {pco_id} ({account}) set to {} in PCO",
            level.pco_name()
        ));
        made.permission_edits += 1;
    }
    // Organization administrators taken out of every synced group: with downgrade allowed the
    // sync would lower or archive anyone else (R17-R18), never them (R50).
    if plan.admin_removals > 0 {
        let mut admins = Vec::new();
        for account in &world.accounts {
            for (rock_id, pco_id) in world.links(account)? {
                if world
                    .pco_person(account, &pco_id)
                    .is_some_and(|p| p.site_administrator)
                {
                    admins.push((account.clone(), rock_id, pco_id));
                }
            }
        }
        admins.shuffle(rng);
        for (account, rock_id, pco_id) in admins.into_iter().take(plan.admin_removals) {
            let synced = world.synced_group_ids(&account);
            let groups: BTreeSet<i64> = world
                .rock_groups(rock_id)
                .into_iter()
                .filter(|g| synced.contains(g))
                .collect();
            made.notes.push(format!(
                "organization administrator Rock {rock_id} = PCO {pco_id} ({account}) left groups {groups:?}"
            ));
            for group in groups {
                world.remove_from_group(rock_id, group).await?;
            }
            made.admin_removals += 1;
        }
    }
    Ok(made)
}
