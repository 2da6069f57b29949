//! What the import does with one PCO person (R40, R41), decided from what was read; pure, so
//! a dry run decides exactly as a real run.
//!
//! - Only people with a Services permission level are imported, each into the Rock group
//!   chosen for their level; a level without a group is not imported (R40).
//! - A Rock person the import created earlier, or whose id the sync stamped in `remote_id` on
//!   a PCO person it created (R6), is linked directly. A `remote_id` anyone else wrote (another
//!   system's id, kept when a church moved into PCO) is not a Rock id: that person is matched.
//! - Otherwise the person is looked up in Rock by email, first name and last name (R41):
//!   exactly one match is linked; no match is created. Several matches are not a match: the
//!   person is skipped and reported, since creating would add yet another copy of someone
//!   Rock already holds twice (Rock is the master list, R1), and picking one would be a guess.
//! - A match with High or Extreme account protection is never linked automatically (as R4
//!   for the sync: a match on email can hand over someone's account).

use std::collections::{BTreeMap, BTreeSet};

use crate::api::FirstNameSource;
use crate::bindings::rockpco::sync::rock::{Person, PersonQuery, Protection};
use crate::fields::{Field, Snapshot, to_field_values};
use crate::pco_people::PcoPersonFull;
use crate::services::{ServicesPerson, level_name};
use crate::types::{FieldValue, PermissionLevel};

use super::checkpoint::Intent;

/// How a link was found, as the report says it.
pub const BY_MATCH: &str = "by email and name";
pub const BY_REMOTE_ID: &str = "by the Rock id PCO holds";
/// Sent to Rock as a new person, and Rock's duplicate rules took them for one it holds.
pub const BY_ROCK_MATCH: &str = "to the existing Rock person Rock's own duplicate rules matched them with (Rock created nobody): check it is the same person";
pub const BY_INTENT: &str = "to the Rock person an interrupted import created";

/// What to do with one PCO person not linked yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Link to this existing Rock person, and how they were found.
    Link { rock_id: i64, how: &'static str },
    /// Create them in Rock.
    Create,
    /// Neither, and why (for an administrator).
    Skip(String),
    /// Linked already to this Rock person (by hand, after an interrupted import left them
    /// for an administrator): only their group remains to join.
    Finish { rock_id: i64 },
}

/// The Rock group a PCO person is imported into, from their Services level (R40).
pub fn group_for(
    services: Option<&ServicesPerson>,
    groups: &[(PermissionLevel, i64)],
) -> Result<(PermissionLevel, i64), String> {
    let Some(services) = services else {
        // PCO may leave archived people out of its Services list (issue 14.6): either way
        // there is no level to import them at.
        return Err(
            "not in PCO Services, or archived there, so no permission level to import them at"
                .into(),
        );
    };
    if services.archived {
        return Err(
            "archived in PCO Services: not imported (in a level group, the next sync would give them access again)"
                .into(),
        );
    }
    let Some(level) = services.level else {
        return Err("PCO Services shows a permission level this guest does not know".into());
    };
    match groups.iter().find(|(l, _)| *l == level) {
        Some((_, group)) => Ok((level, *group)),
        None => Err(format!(
            "no Rock group is chosen for the PCO level {} (the import's groups.{}): not imported",
            level_name(level),
            config_key(level)
        )),
    }
}

/// The key of a level under `[accounts.import.groups]`.
pub fn config_key(level: PermissionLevel) -> &'static str {
    match level {
        PermissionLevel::ScheduledViewer => "scheduled_viewer",
        PermissionLevel::Viewer => "viewer",
        PermissionLevel::Scheduler => "scheduler",
        PermissionLevel::Editor => "editor",
        PermissionLevel::Administrator => "administrator",
    }
}

/// The (first name, last name, email) triples a PCO person can be matched on: each of their
/// first names (PCO's first name, given name and nickname) with each of their emails.
pub fn match_keys(person: &PcoPersonFull) -> Vec<(String, String, String)> {
    let mut firsts: Vec<&str> = [&person.first_name, &person.given_name, &person.nickname]
        .into_iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .collect();
    firsts.dedup_by(|a, b| fold(a) == fold(b));
    let mut emails: Vec<String> = person
        .emails
        .iter()
        .map(|e| crate::linking::fold_email(&e.address))
        .filter(|e| !e.is_empty())
        .collect();
    emails.sort();
    emails.dedup();
    let mut keys = Vec::new();
    for email in &emails {
        for first in &firsts {
            let key = (fold(first), fold(&person.last_name), email.clone());
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys
}

/// Rock's lookups for these keys. The host answers with the people holding the email; which
/// of them has the name is the guest's to decide (`linking::rock_person_has_key`).
pub fn queries(keys: &[(String, String, String)]) -> Vec<PersonQuery> {
    keys.iter()
        .map(|(first, last, email)| PersonQuery {
            first_name: first.clone(),
            last_name: last.clone(),
            email: email.clone(),
        })
        .collect()
}

use crate::linking::fold;

/// What the run knows when it decides one person.
pub struct Known<'a> {
    /// Every link: Rock id -> PCO id (the state's, and this run's so far).
    pub linked: &'a BTreeMap<i64, String>,
    /// Rock ids the sync stamped in `remote_id` on PCO people it created (its intents): the
    /// only `remote_id`s that name a Rock person (R6).
    pub stamped: &'a BTreeSet<i64>,
    /// Rock people read by id: those PCO's `remote_id`s and the intents name.
    pub by_id: &'a BTreeMap<i64, Person>,
    /// Match keys of the people this run creates (or, in a dry run, would create), with
    /// their PCO ids: a second PCO person with the same name and email is a duplicate in PCO.
    pub creating: &'a BTreeMap<(String, String, String), String>,
}

/// R41 for one PCO person not linked yet. `matches` are the Rock people found for the
/// person's match keys (each once); `intent` a create of an earlier run for them.
pub fn decide(
    person: &PcoPersonFull,
    intent: Option<&Intent>,
    matches: &[Person],
    known: &Known,
) -> Step {
    // An earlier run created them and Rock answered: that is their Rock person.
    if let Some(rock_id) = intent.and_then(|i| i.rock)
        && known.by_id.contains_key(&rock_id)
        && !known.linked.contains_key(&rock_id)
    {
        return Step::Link {
            rock_id,
            how: BY_INTENT,
        };
    }
    // R6: PCO holds the Rock id of the person the sync made it from.
    if let Some(rock_id) = person.remote_id.filter(|id| known.stamped.contains(id)) {
        if let Some(other) = known.linked.get(&rock_id) {
            return Step::Skip(format!(
                "PCO holds Rock id {rock_id} for this person, but Rock person {rock_id} is linked to PCO person {other}: if they are one person, merge them in PCO; if not, link this one by hand"
            ));
        }
        if known.by_id.contains_key(&rock_id) {
            return Step::Link {
                rock_id,
                how: BY_REMOTE_ID,
            };
        }
    }
    match candidates(person, matches).as_slice() {
        [] if !matches.is_empty() => {
            let ids: Vec<String> = matches.iter().map(|p| p.id.to_string()).collect();
            Step::Skip(format!(
                "matches Rock {} ({}) on email and name, born on another day: not linked (a namesake, such as a parent and child on one family email, is someone else) and not created (a mistyped birth date would make a copy); correct the birth date, or link by hand",
                if ids.len() == 1 { "person" } else { "people" },
                ids.join(", ")
            ))
        }
        [] => {
            let keys = match_keys(person);
            if let Some(other) = keys.iter().find_map(|k| known.creating.get(k)) {
                return Step::Skip(format!(
                    "same name and email as PCO person {other}, whom this import creates in Rock: if they are one person, merge them in PCO and import again"
                ));
            }
            if intent.is_some() && keys.is_empty() {
                // A create was sent and its answer lost; without an email Rock cannot be
                // asked whether it happened, and creating again could make a second copy.
                return Step::Skip(
                    "an interrupted import may have created this person in Rock already, and without an email they cannot be looked up: find them in Rock and link them by hand (pcosync link ROCK_ID PCO_ID)"
                        .into(),
                );
            }
            Step::Create
        }
        [one] => {
            if let Some(word) = protection_word(one.protection) {
                return Step::Skip(format!(
                    "matches Rock person {}, whose account protection is {word}: never linked by a match; link them by hand if they are one person",
                    one.id
                ));
            }
            if let Some(other) = known.linked.get(&one.id) {
                return Step::Skip(format!(
                    "matches Rock person {}, who is linked to PCO person {other} already: if they are one person, merge them in PCO; if not, link this one by hand",
                    one.id
                ));
            }
            Step::Link {
                rock_id: one.id,
                how: BY_MATCH,
            }
        }
        several => {
            let ids: Vec<String> = several.iter().map(|p| p.id.to_string()).collect();
            Step::Skip(format!(
                "matches {} Rock people ({}) on email and name: not linked (it would be a guess) and not created (it would add another copy); merge them in Rock, or link one by hand",
                several.len(),
                ids.join(", ")
            ))
        }
    }
}

/// The Rock people a name and email match could be: not those born on another day than the
/// PCO person (a parent and a namesake child on one family email share both), and of several,
/// the only one born the same day when there is one (R4).
fn candidates<'a>(person: &PcoPersonFull, matches: &'a [Person]) -> Vec<&'a Person> {
    let born = |rock: &Person| crate::linking::born_same_day(rock, person.birthdate.as_deref());
    let possible: Vec<&Person> = matches.iter().filter(|m| born(m) != Some(false)).collect();
    let same_day: Vec<&Person> = possible
        .iter()
        .copied()
        .filter(|m| born(m) == Some(true))
        .collect();
    if same_day.len() == 1 && possible.len() > 1 {
        same_day
    } else {
        possible
    }
}

fn protection_word(protection: Protection) -> Option<&'static str> {
    match protection {
        Protection::High => Some("High"),
        Protection::Extreme => Some("Extreme"),
        Protection::Low | Protection::Medium => None,
    }
}

/// The R10 fields of a new Rock person, from PCO (the account's switched-off fields left
/// out, except the names a Rock person needs). A PCO person with no given name gets the
/// name they go by as their Rock first name.
pub fn new_person_fields(
    person: &PcoPersonFull,
    source: FirstNameSource,
    disabled: &[String],
) -> Vec<FieldValue> {
    let snapshot = Snapshot::from_pco(person, source);
    let off = |field: Field| {
        !matches!(field, Field::FirstName | Field::LastName)
            && disabled
                .iter()
                .any(|d| d.trim().eq_ignore_ascii_case(field.name()))
    };
    let mut changes: Vec<(Field, Option<String>)> = Vec::new();
    for field in Field::ALL {
        if off(field) {
            continue;
        }
        let value = match field {
            Field::FirstName => snapshot
                .get(Field::FirstName)
                .or_else(|| snapshot.get(Field::NickName)),
            _ => snapshot.get(field),
        };
        if let Some(value) = value {
            changes.push((field, Some(value.to_string())));
        }
    }
    to_field_values(&changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pco_people::PcoEmail;
    use crate::types::{Date, Gender};

    fn pco(id: &str, first: &str, given: &str, last: &str, emails: &[&str]) -> PcoPersonFull {
        PcoPersonFull {
            id: id.into(),
            first_name: first.into(),
            given_name: given.into(),
            last_name: last.into(),
            emails: emails
                .iter()
                .map(|a| PcoEmail {
                    address: (*a).into(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn rock(id: i64, protection: Protection) -> Person {
        Person {
            id,
            first_name: "Ann".into(),
            nick_name: "Ann".into(),
            middle_name: String::new(),
            last_name: "Lee".into(),
            gender: Gender::Unknown,
            birthdate: None,
            married: false,
            anniversary: None,
            email: Some("ann@example.org".into()),
            home_address: None,
            home_phone: None,
            work_phone: None,
            mobile_phone: None,
            photo_id: None,
            protection,
            pco_tags: vec![],
            modified: None,
            primary_alias: None,
        }
    }

    struct World {
        linked: BTreeMap<i64, String>,
        stamped: BTreeSet<i64>,
        by_id: BTreeMap<i64, Person>,
        creating: BTreeMap<(String, String, String), String>,
    }

    impl World {
        fn new() -> World {
            World {
                linked: BTreeMap::new(),
                stamped: BTreeSet::new(),
                by_id: BTreeMap::new(),
                creating: BTreeMap::new(),
            }
        }
        fn known(&self) -> Known<'_> {
            Known {
                linked: &self.linked,
                stamped: &self.stamped,
                by_id: &self.by_id,
                creating: &self.creating,
            }
        }
    }

    fn services(level: Option<PermissionLevel>, archived: bool) -> ServicesPerson {
        ServicesPerson {
            level,
            archived,
            site_administrator: false,
            unknown_level: None,
            tags: Default::default(),
        }
    }

    // R40: the group of the person's level; no level, or no group for it: not imported.
    #[test]
    fn people_go_to_the_group_of_their_level() {
        let groups = [
            (PermissionLevel::Viewer, 501),
            (PermissionLevel::Editor, 503),
        ];
        let viewer = services(Some(PermissionLevel::Viewer), false);
        assert_eq!(
            group_for(Some(&viewer), &groups),
            Ok((PermissionLevel::Viewer, 501))
        );
        let scheduler = services(Some(PermissionLevel::Scheduler), false);
        let why = group_for(Some(&scheduler), &groups).unwrap_err();
        assert!(why.contains("groups.scheduler"), "{why}");
        assert!(
            group_for(None, &groups)
                .unwrap_err()
                .contains("not in PCO Services")
        );
        let archived = services(None, true);
        assert!(
            group_for(Some(&archived), &groups)
                .unwrap_err()
                .contains("archived")
        );
    }

    // R41: one match is linked, none is created, several are neither.
    #[test]
    fn exactly_one_match_links_none_creates_several_skip() {
        let world = World::new();
        let ann = pco("7", "Ann", "", "Lee", &["ann@example.org"]);
        assert_eq!(decide(&ann, None, &[], &world.known()), Step::Create);
        assert_eq!(
            decide(&ann, None, &[rock(12, Protection::Low)], &world.known()),
            Step::Link {
                rock_id: 12,
                how: "by email and name"
            }
        );
        let Step::Skip(why) = decide(
            &ann,
            None,
            &[rock(12, Protection::Low), rock(13, Protection::Low)],
            &world.known(),
        ) else {
            panic!("two matches are not linked");
        };
        assert!(why.contains("12, 13"), "{why}");
    }

    // R41 with R4's rule: a protected Rock person is never linked by a match.
    // R4 (found by the chaos suite, seeds 41018 and 41075): a namesake child on the family
    // email, in PCO only, is not linked to the Rock parent born on another day (nor created:
    // it may be a mistyped date); of a parent and a child both in Rock, the one born the same
    // day is the match.
    #[test]
    fn a_namesake_born_on_another_day_is_not_the_match() {
        let world = World::new();
        let born = |id: i64, year: i32| Person {
            birthdate: Some(Date {
                year: Some(year),
                month: 3,
                day: 9,
            }),
            ..rock(id, Protection::Low)
        };
        let mut junior = pco("7", "Ann", "", "Lee", &["lee.family@example.org"]);
        junior.birthdate = Some("2011-03-09".into());
        let step = decide(&junior, None, &[born(12, 1975)], &world.known());
        assert!(
            matches!(&step, Step::Skip(why) if why.contains("born on another day")),
            "{step:?}"
        );
        assert_eq!(
            decide(
                &junior,
                None,
                &[born(12, 1975), born(13, 2011)],
                &world.known()
            ),
            Step::Link {
                rock_id: 13,
                how: "by email and name"
            }
        );
        // Without a birthdate to tell them apart, a match is a match.
        junior.birthdate = None;
        assert_eq!(
            decide(&junior, None, &[born(12, 1975)], &world.known()),
            Step::Link {
                rock_id: 12,
                how: "by email and name"
            }
        );
    }

    #[test]
    fn a_protected_match_is_left_for_an_administrator() {
        let world = World::new();
        let ann = pco("7", "Ann", "", "Lee", &["ann@example.org"]);
        for protection in [Protection::High, Protection::Extreme] {
            let step = decide(&ann, None, &[rock(12, protection)], &world.known());
            assert!(
                matches!(&step, Step::Skip(why) if why.contains("protection")),
                "{step:?}"
            );
        }
    }

    // R42: a Rock person linked already (to another PCO person) is never linked twice.
    #[test]
    fn a_rock_person_linked_already_is_not_taken() {
        let mut world = World::new();
        world.linked.insert(12, "99".into());
        let ann = pco("7", "Ann", "", "Lee", &["ann@example.org"]);
        let step = decide(&ann, None, &[rock(12, Protection::Low)], &world.known());
        assert!(
            matches!(&step, Step::Skip(why) if why.contains("PCO person 99")),
            "{step:?}"
        );
    }

    // R6, R42: the Rock id the sync stamped, or the one an interrupted create got, is linked
    // as is; a `remote_id` another system left is no Rock id (issue 24.2).
    #[test]
    fn remote_ids_and_answered_intents_link_directly() {
        let mut world = World::new();
        world.by_id.insert(40, rock(40, Protection::Low));
        let mut ann = pco("7", "Ann", "", "Lee", &[]);
        ann.remote_id = Some(40);
        assert_eq!(decide(&ann, None, &[], &world.known()), Step::Create);
        world.stamped.insert(40);
        assert_eq!(
            decide(&ann, None, &[], &world.known()),
            Step::Link {
                rock_id: 40,
                how: "by the Rock id PCO holds"
            }
        );
        world.linked.insert(40, "8".into());
        assert!(matches!(
            decide(&ann, None, &[], &world.known()),
            Step::Skip(_)
        ));

        let mut world = World::new();
        world.by_id.insert(41, rock(41, Protection::Low));
        let bob = pco("9", "Bob", "", "Lee", &[]);
        let intent = Intent {
            run: "r".into(),
            rock: Some(41),
        };
        assert_eq!(
            decide(&bob, Some(&intent), &[], &world.known()),
            Step::Link {
                rock_id: 41,
                how: BY_INTENT
            }
        );
    }

    // R42: an unanswered create is never sent again blind.
    #[test]
    fn an_unanswered_create_is_created_again_only_when_rock_can_be_asked() {
        let world = World::new();
        let intent = Intent {
            run: "r".into(),
            rock: None,
        };
        // With an email, Rock was asked and holds nobody: the create never happened.
        let ann = pco("7", "Ann", "", "Lee", &["ann@example.org"]);
        assert_eq!(
            decide(&ann, Some(&intent), &[], &world.known()),
            Step::Create
        );
        // Without one, nobody can tell: an administrator decides.
        let bob = pco("9", "Bob", "", "Lee", &[]);
        assert!(matches!(
            decide(&bob, Some(&intent), &[], &world.known()),
            Step::Skip(why) if why.contains("by hand")
        ));
    }

    // R42: two PCO people with one name and email are not created twice in one run.
    #[test]
    fn a_duplicate_in_pco_is_created_once() {
        let mut world = World::new();
        let ann = pco("7", "Ann", "", "Lee", &["Ann@Example.org "]);
        for key in match_keys(&ann) {
            world.creating.insert(key, "7".into());
        }
        let twin = pco("8", "ann", "", "LEE", &["ann@example.org"]);
        assert!(matches!(
            decide(&twin, None, &[], &world.known()),
            Step::Skip(why) if why.contains("PCO person 7")
        ));
    }

    #[test]
    fn match_keys_cover_every_first_name_and_email() {
        let bob = pco(
            "7",
            "Bob",
            "Robert",
            "Smith",
            &["b@x.org", "B@X.org", "r@y.org"],
        );
        let keys = match_keys(&bob);
        assert_eq!(keys.len(), 4, "{keys:?}");
        assert!(keys.contains(&("robert".into(), "smith".into(), "r@y.org".into())));
        assert!(match_keys(&pco("8", "Al", "", "Wu", &[])).is_empty());
    }

    fn has(fields: &[FieldValue], wanted: &FieldValue) -> bool {
        let wanted = format!("{wanted:?}");
        fields.iter().any(|f| format!("{f:?}") == wanted)
    }

    // R41, R10: a created person carries PCO's fields; a missing given name falls back.
    #[test]
    fn new_people_carry_the_synced_fields() {
        let mut ann = pco("7", "Annie", "", "Lee", &["ann@example.org"]);
        ann.middle_name = "Grace".into();
        let fields = new_person_fields(&ann, FirstNameSource::NickName, &[]);
        assert!(has(&fields, &FieldValue::FirstName("Annie".into())));
        assert!(has(&fields, &FieldValue::NickName("Annie".into())));
        assert!(has(&fields, &FieldValue::MiddleName("Grace".into())));
        assert!(has(
            &fields,
            &FieldValue::Email(Some("ann@example.org".into()))
        ));
        let fields = new_person_fields(
            &ann,
            FirstNameSource::NickName,
            &["middle-name".into(), "first-name".into()],
        );
        assert!(
            !fields
                .iter()
                .any(|f| matches!(f, FieldValue::MiddleName(_)))
        );
        assert!(has(&fields, &FieldValue::FirstName("Annie".into())));
    }
}
