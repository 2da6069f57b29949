//! Linking a Rock person to a PCO person (SPEC R4-R6).

use std::collections::{BTreeSet, HashMap};

use crate::bindings::rockpco::sync::rock::{Person, Protection};
use crate::pco_api::PcoPerson;

/// What matching found for one Rock person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Match {
    /// Exactly one PCO person has the same first name, last name and email: link to them.
    One(String),
    /// Nobody matches: create a new PCO person.
    Nobody,
    /// Several match: linking would be a guess, so a new person is created (R4).
    Several(Vec<String>),
    /// High or Extreme protection: never matched automatically; an administrator links them.
    Protected,
}

/// PCO people by (first name, last name, email), normalised.
pub struct Index {
    by_key: HashMap<(String, String, String), BTreeSet<String>>,
}

impl Index {
    pub fn new(people: &[PcoPerson]) -> Self {
        let mut by_key: HashMap<_, BTreeSet<String>> = HashMap::new();
        for person in people {
            for email in &person.emails {
                for first in [&person.first_name, &person.given_name] {
                    if first.trim().is_empty() {
                        continue;
                    }
                    by_key
                        .entry(key(first, &person.last_name, email))
                        .or_default()
                        .insert(person.id.clone());
                }
            }
        }
        Index { by_key }
    }

    /// Match on Rock's nick name or first name, last name and email (R4).
    pub fn find(&self, person: &Person) -> Match {
        if matches!(person.protection, Protection::High | Protection::Extreme) {
            return Match::Protected;
        }
        let Some(email) = person.email.as_deref().filter(|e| !e.trim().is_empty()) else {
            return Match::Nobody;
        };
        let found: BTreeSet<&String> = [&person.nick_name, &person.first_name]
            .into_iter()
            .filter_map(|first| self.by_key.get(&key(first, &person.last_name, email)))
            .flatten()
            .collect();
        match found.len() {
            0 => Match::Nobody,
            1 => Match::One(found.into_iter().next().cloned().unwrap_or_default()),
            _ => Match::Several(found.into_iter().cloned().collect()),
        }
    }
}

fn key(first: &str, last: &str, email: &str) -> (String, String, String) {
    (fold(first), fold(last), email.trim().to_lowercase())
}

/// Case and surrounding-space differences are cosmetic, never a different person.
fn fold(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Gender;

    fn rock(first: &str, nick: &str, last: &str, email: Option<&str>) -> Person {
        Person {
            id: 1,
            first_name: first.into(),
            nick_name: nick.into(),
            middle_name: String::new(),
            last_name: last.into(),
            gender: Gender::Unknown,
            birthdate: None,
            married: false,
            anniversary: None,
            email: email.map(Into::into),
            home_address: None,
            home_phone: None,
            work_phone: None,
            mobile_phone: None,
            photo_id: None,
            protection: Protection::Low,
            pco_tags: vec![],
            modified: None,
        }
    }

    fn pco(id: &str, first: &str, given: &str, last: &str, email: &str) -> PcoPerson {
        PcoPerson {
            id: id.into(),
            first_name: first.into(),
            given_name: given.into(),
            last_name: last.into(),
            emails: vec![email.into()],
            remote_id: None,
        }
    }

    // R4
    #[test]
    fn matches_on_nick_or_first_name_last_name_and_email() {
        let index = Index::new(&[
            pco("10", "Bob", "Robert", "Smith", "Bob@Example.org"),
            pco("11", "Ann", "", "Jones", "ann@example.org"),
        ]);
        let bob = rock("Robert", "Bob", "smith ", Some("bob@example.org"));
        assert_eq!(index.find(&bob), Match::One("10".into()));
        let ann = rock("Ann", "Annie", "Jones", Some("ann@example.org"));
        assert_eq!(index.find(&ann), Match::One("11".into()));
        let other_email = rock("Ann", "Ann", "Jones", Some("ann@elsewhere.org"));
        assert_eq!(index.find(&other_email), Match::Nobody);
        let no_email = rock("Ann", "Ann", "Jones", None);
        assert_eq!(index.find(&no_email), Match::Nobody);
    }

    // R4: two candidates is a guess; don't link.
    #[test]
    fn several_matches_are_not_linked() {
        let index = Index::new(&[
            pco("10", "Sam", "", "Lee", "family@example.org"),
            pco("12", "Sam", "", "Lee", "family@example.org"),
        ]);
        let sam = rock("Sam", "Sam", "Lee", Some("family@example.org"));
        assert_eq!(
            index.find(&sam),
            Match::Several(vec!["10".into(), "12".into()])
        );
    }

    // R4: high protection is never matched by email.
    #[test]
    fn protected_people_are_never_matched() {
        let index = Index::new(&[pco("10", "Pat", "", "Kim", "pat@example.org")]);
        let mut pat = rock("Pat", "Pat", "Kim", Some("pat@example.org"));
        for protection in [Protection::High, Protection::Extreme] {
            pat.protection = protection;
            assert_eq!(index.find(&pat), Match::Protected);
        }
        pat.protection = Protection::Medium;
        assert_eq!(index.find(&pat), Match::One("10".into()));
    }
}
