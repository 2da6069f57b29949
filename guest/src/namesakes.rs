//! Telling namesakes apart (R4, R5): a parent and a child on one family email share a name
//! and an email, so a match on those finds them both. One rule decides for one candidate and
//! for several alike: a candidate born on another day is someone else; one born the same day
//! is the person; with no birth date to compare, a single candidate is linked by name and
//! email. When nothing tells whose a PCO person is (two Rock namesakes and a PCO person with no
//! birth date), nobody is linked and nobody is created: an administrator links them by hand.
//!
//! A person nobody matches by name and email may still be in PCO without an email, or with
//! another one: PCO holding someone with the same name and birth date holds them for an
//! administrator rather than creating a copy (issue 24 item 20).

use std::collections::{BTreeMap, BTreeSet};

use crate::bindings::rockpco::sync::rock::{Person, Protection};
use crate::linking::{Match, born_same_day, fold};
use crate::pco_people::PcoPersonFull;
use crate::plan::{Inputs, LinkStep};

/// How a link was found, as the report says it.
pub const BY_NAME_AND_EMAIL: &str = "by name and email";
pub const BY_BIRTH_DATE: &str = "by name, email and birth date";

/// What a PCO candidate's birth date says of a Rock person.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Evidence {
    /// Born on another day: someone else.
    Apart,
    /// Born the same day.
    SameDay,
    /// One side has no birth date.
    Unknown,
}

fn evidence(inputs: &Inputs, person: &Person, pco_id: &str) -> Evidence {
    let pco = inputs.pco.get(pco_id).and_then(|p| p.birthdate.as_deref());
    match born_same_day(person, pco) {
        Some(false) => Evidence::Apart,
        Some(true) => Evidence::SameDay,
        None => Evidence::Unknown,
    }
}

/// R4: the link a name-and-email match gives one Rock person, before other Rock people who
/// found the same PCO person are weighed (see [`settle_contention`]).
pub fn match_step(inputs: &Inputs, person: &Person) -> (LinkStep, Option<String>) {
    match inputs.index.find(person) {
        Match::One(pco_id) => one(inputs, person, pco_id),
        Match::Several(ids) => several(inputs, person, &ids),
        Match::Protected => (protected(person), None),
        Match::Nobody => (LinkStep::Create, None),
    }
}

fn one(inputs: &Inputs, person: &Person, pco_id: String) -> (LinkStep, Option<String>) {
    match evidence(inputs, person, &pco_id) {
        Evidence::Apart => (
            LinkStep::Skip(format!(
                "PCO person {pco_id} has this name and email but was born on another day: not linked (a namesake, such as a parent and child on one family email, is someone else) and not created (a mistyped birth date would make a copy); correct the birth date, or link by hand: pcosync link {} PCO_ID",
                person.id
            )),
            None,
        ),
        Evidence::SameDay => (LinkStep::Found(pco_id.clone(), BY_BIRTH_DATE), Some(pco_id)),
        Evidence::Unknown => (
            LinkStep::Found(pco_id.clone(), BY_NAME_AND_EMAIL),
            Some(pco_id),
        ),
    }
}

/// Several PCO people share the person's name and email. The one it is: among those nobody
/// is linked to yet, the only one born the same day; or, with none born the same day, the
/// only one not born on another day. Otherwise none: a guess could hand over someone else's
/// account, and creating would add a copy of someone PCO already holds (R4, R6).
fn several(inputs: &Inputs, person: &Person, ids: &[String]) -> (LinkStep, Option<String>) {
    let linked: BTreeSet<&str> = inputs.records.values().map(|r| r.pco.as_str()).collect();
    let free: Vec<(&String, Evidence)> = ids
        .iter()
        .filter(|id| !linked.contains(id.as_str()))
        .map(|id| (id, evidence(inputs, person, id)))
        .collect();
    let with = |wanted: Evidence| -> Vec<&String> {
        free.iter()
            .filter(|(_, e)| *e == wanted)
            .map(|(id, _)| *id)
            .collect()
    };
    match (
        with(Evidence::SameDay).as_slice(),
        with(Evidence::Unknown).as_slice(),
    ) {
        ([only], _) => (
            LinkStep::Found((*only).clone(), BY_BIRTH_DATE),
            Some((*only).clone()),
        ),
        ([], [only]) => (
            LinkStep::Found((*only).clone(), BY_NAME_AND_EMAIL),
            Some((*only).clone()),
        ),
        _ => (
            LinkStep::Skip(format!(
                "{} PCO people ({}) match on name and email, and their birth dates do not tell which one is this person: not linked (it would be a guess) and not created (it would add another copy); link this person by hand: pcosync link {} PCO_ID",
                ids.len(),
                ids.join(", "),
                person.id
            )),
            None,
        ),
    }
}

fn protected(person: &Person) -> LinkStep {
    LinkStep::Skip(match protection_word(person.protection) {
        Some(word) => format!(
            "account protection is {word}: never matched by email; link this person by hand: pcosync link {} PCO_ID",
            person.id
        ),
        None => format!(
            "link this person by hand: pcosync link {} PCO_ID",
            person.id
        ),
    })
}

fn protection_word(protection: Protection) -> Option<&'static str> {
    match protection {
        Protection::High => Some("High"),
        Protection::Extreme => Some("Extreme"),
        _ => None,
    }
}

/// One Rock person's link as planned: the step, the PCO id it links to, and their flags.
pub struct Planned<'a> {
    pub person: &'a Person,
    pub link: LinkStep,
    pub pco_id: Option<String>,
    pub flags: Vec<String>,
    /// Held because PCO may already hold them (see [`hold_lookalikes`]).
    pub lookalike: bool,
}

fn matched(link: &LinkStep) -> Option<(&str, &'static str)> {
    match link {
        LinkStep::Found(id, how) if *how == BY_NAME_AND_EMAIL || *how == BY_BIRTH_DATE => {
            Some((id.as_str(), *how))
        }
        _ => None,
    }
}

/// R4, R5: Rock namesakes (a parent and a child on one family email) can each match the same
/// PCO person. The one born the same day as that PCO person takes them; when no birth date
/// tells (PCO has none, or both share it), none does: the lower Rock id winning would hand one
/// of them the other's account. The others are left for a hand link, and reported.
pub fn settle_contention(planned: &mut [Planned], inputs: &Inputs) {
    // A PCO person linked already is someone's: the plan reports that to each contender.
    let linked: BTreeSet<&str> = inputs.records.values().map(|r| r.pco.as_str()).collect();
    let mut contenders: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, p) in planned.iter().enumerate() {
        if let Some((id, _)) = matched(&p.link).filter(|(id, _)| !linked.contains(id)) {
            contenders.entry(id.to_string()).or_default().push(index);
        }
    }
    for (pco_id, indexes) in contenders.into_iter().filter(|(_, i)| i.len() > 1) {
        let by_birth_date: Vec<usize> = indexes
            .iter()
            .copied()
            .filter(|i| matched(&planned[*i].link).is_some_and(|(_, how)| how == BY_BIRTH_DATE))
            .collect();
        let rock_ids: Vec<String> = indexes
            .iter()
            .map(|i| planned[*i].person.id.to_string())
            .collect();
        let undated = inputs
            .pco
            .get(&pco_id)
            .is_none_or(|p| p.birthdate.is_none());
        for index in indexes {
            let winner = match by_birth_date.as_slice() {
                [only] => Some(planned[*only].person.id),
                _ => None,
            };
            let me = planned[index].person.id;
            if winner == Some(me) {
                continue;
            }
            let why = match winner {
                Some(winner) => format!(
                    "PCO person {pco_id} has this name and email, and Rock person {winner}, born the same day as them, is linked to them: this person is someone else; link them by hand to their own PCO person: pcosync link {me} PCO_ID"
                ),
                None => format!(
                    "Rock people {} share this name and email, and PCO person {pco_id} matches each of them{}: nothing tells whose it is, so none is linked and none is created; link the right one by hand (pcosync link ROCK_ID {pco_id}), and the others to their own PCO people",
                    rock_ids.join(", "),
                    if undated {
                        " and has no birth date"
                    } else {
                        ""
                    }
                ),
            };
            planned[index].link = LinkStep::Skip(why);
            planned[index].pco_id = None;
        }
    }
}

/// PCO people by last name and full birth date, with the first names they go by.
type Lookalikes<'a> = BTreeMap<(String, String), Vec<(&'a str, BTreeSet<String>)>>;

fn lookalikes<'a>(pco: &'a BTreeMap<String, PcoPersonFull>) -> Lookalikes<'a> {
    let mut by_name: Lookalikes = BTreeMap::new();
    for person in pco.values() {
        let Some(born) = person.birthdate.as_deref() else {
            continue;
        };
        let firsts: BTreeSet<String> = [&person.first_name, &person.given_name, &person.nickname]
            .into_iter()
            .filter(|f| !f.trim().is_empty())
            .map(|f| fold(f))
            .collect();
        by_name
            .entry((fold(&person.last_name), born.to_string()))
            .or_default()
            .push((person.id.as_str(), firsts));
    }
    by_name
}

/// R4 (issue 24 item 20): a person to be created whom PCO may already hold, with the same
/// first and last name and the same full birth date (a year included) but no email, or
/// another one, is not created: a copy would land on the welcome list. They are held for an
/// administrator, the PCO people named with the commands that settle it (`pcosync link
/// ROCK PCO`, or `pcosync link ROCK --create`).
///
/// What contradicts such a candidate is another Rock person's claim on them: linked to
/// someone, or matched by name and email to someone this run. An email on the PCO person
/// that Rock does not have is no contradiction: people keep several addresses, and the
/// duplicates the first syncs made had "another one" (issue 24 item 20).
///
/// Candidates are looked for only where the run read every PCO person: an updates-only
/// run's list holds only people updated lately, and a short list may leave the candidate out.
/// Such a run keeps holding whom the last full run held (their waiting note), and creates
/// nobody it cannot check. `create_anyway`: people an administrator chose to create.
pub fn hold_lookalikes(planned: &mut [Planned], inputs: &Inputs, create_anyway: &BTreeSet<i64>) {
    if !inputs.pco_complete || inputs.pco_short {
        keep_holding(planned, inputs, create_anyway);
        return;
    }
    let mut claimed: BTreeSet<&str> = inputs.records.values().map(|r| r.pco.as_str()).collect();
    let found: Vec<String> = planned.iter().filter_map(|p| p.pco_id.clone()).collect();
    claimed.extend(found.iter().map(String::as_str));
    let known = lookalikes(inputs.pco);
    for p in planned.iter_mut() {
        if p.link != LinkStep::Create || create_anyway.contains(&p.person.id) {
            continue;
        }
        let candidates = candidates(&known, p.person, &claimed);
        if candidates.is_empty() {
            continue;
        }
        p.link = LinkStep::Skip(held_note(inputs, p.person.id, &candidates));
        p.lookalike = true;
    }
}

/// A run that cannot look for candidates keeps last run's holds as they were.
fn keep_holding(planned: &mut [Planned], inputs: &Inputs, create_anyway: &BTreeSet<i64>) {
    for p in planned.iter_mut() {
        if p.link != LinkStep::Create || create_anyway.contains(&p.person.id) {
            continue;
        }
        if let Some(why) = inputs
            .waiting
            .get(&p.person.id)
            .filter(|why| why.contains(LOOKALIKE))
        {
            p.link = LinkStep::Skip(why.clone());
            p.lookalike = true;
        }
    }
}

/// What every note of a person held as someone PCO may already hold says.
const LOOKALIKE: &str = "this name and the same birth date";

fn candidates<'a>(
    known: &Lookalikes<'a>,
    person: &Person,
    claimed: &BTreeSet<&str>,
) -> Vec<&'a str> {
    let Some(born) = person
        .birthdate
        .filter(|d| d.year.is_some())
        .and_then(crate::fields::date_text)
    else {
        return Vec::new();
    };
    let firsts: BTreeSet<String> = [&person.nick_name, &person.first_name]
        .into_iter()
        .filter(|f| !f.trim().is_empty())
        .map(|f| fold(f))
        .collect();
    known
        .get(&(fold(&person.last_name), born))
        .into_iter()
        .flatten()
        .filter(|(id, names)| !claimed.contains(id) && !names.is_disjoint(&firsts))
        .map(|(id, _)| *id)
        .collect()
}

fn held_note(inputs: &Inputs, rock_id: i64, candidates: &[&str]) -> String {
    let described: Vec<String> = candidates
        .iter()
        .map(|id| {
            let emails = inputs.pco.get(*id).map_or(0, |p| p.emails.len());
            let email = if emails == 0 {
                "no email"
            } else {
                "another email"
            };
            format!("PCO person {id} ({email})")
        })
        .collect();
    let links: Vec<String> = candidates
        .iter()
        .map(|id| format!("pcosync link {rock_id} {id}"))
        .collect();
    format!(
        "{} {} {LOOKALIKE}: not created, as PCO may already hold this person (a copy would land on the welcome list). If it is them, link them: {}; if not, create them anyway: pcosync link {rock_id} --create",
        described.join(", "),
        if candidates.len() == 1 { "has" } else { "have" },
        links.join(", or ")
    )
}

/// The report's line counting the people held because PCO may already hold them.
pub fn held_count_note(held: usize) -> String {
    let people = if held == 1 { "person" } else { "people" };
    format!(
        "{held} {people} not created: PCO already holds someone with the same name and birth date but no email or another one; each is listed with the commands that link them or create them anyway"
    )
}
