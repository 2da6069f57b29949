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
    /// High or Extreme protection, and PCO holds a candidate: never matched automatically; an
    /// administrator links them.
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

    /// Match on Rock's nick name or first name, last name and email (R4). A person with High
    /// or Extreme protection is never linked by a match: with a candidate in PCO they are left
    /// for an administrator; with none, nobody's account can be handed over, so they are
    /// created like anyone else.
    pub fn find(&self, person: &Person) -> Match {
        let found = self.candidates(person);
        if matches!(person.protection, Protection::High | Protection::Extreme) && !found.is_empty()
        {
            return Match::Protected;
        }
        match found.len() {
            0 => Match::Nobody,
            1 => Match::One(found.into_iter().next().unwrap_or_default()),
            _ => Match::Several(found.into_iter().collect()),
        }
    }

    fn candidates(&self, person: &Person) -> BTreeSet<String> {
        let Some(email) = person.email.as_deref().filter(|e| !e.trim().is_empty()) else {
            return BTreeSet::new();
        };
        [&person.nick_name, &person.first_name]
            .into_iter()
            .filter_map(|first| self.by_key.get(&key(first, &person.last_name, email)))
            .flatten()
            .cloned()
            .collect()
    }
}

/// A (first name, last name, email) key as the one matching rule compares it (R4, R41).
pub type Key = (String, String, String);

pub fn key(first: &str, last: &str, email: &str) -> Key {
    (fold(first), fold(last), fold_email(email))
}

/// Whether a Rock person answers a key: their first or nick name, last name and email (R41:
/// the host hands over candidates by email; this rule decides).
pub fn rock_person_has_key(person: &Person, wanted: &Key) -> bool {
    let Some(email) = person.email.as_deref() else {
        return false;
    };
    [&person.first_name, &person.nick_name]
        .into_iter()
        .any(|first| key(first, &person.last_name, email) == *wanted)
}

/// Whether a Rock person and a PCO person (`pco`, PCO's `YYYY-MM-DD`) were born the same day;
/// None when either date is unknown. A Rock birthday without a year is compared on its month
/// and day. A parent and a namesake child on one family email share name and email, not this.
pub fn born_same_day(rock: &Person, pco: Option<&str>) -> Option<bool> {
    let pco = pco?;
    let rock = rock.birthdate.and_then(crate::fields::date_text)?;
    Some(match rock.strip_prefix("--") {
        Some(month_day) => pco.ends_with(month_day),
        None => pco == rock,
    })
}

/// The one rule for telling whether two names are the same name, for the sync (R4) and the
/// import (R41) alike. What differs only in how it was typed is the same name: letter case,
/// Unicode's composed and decomposed forms (an "É" typed as E + combining accent), typographic
/// apostrophes and quotes (O’Brien), dashes (Smith‐Jones), and spaces of any kind or number.
/// Accents themselves are kept: Élodie and Elodie may be two people.
pub fn fold(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let plain: String = name.nfkc().map(plain_punctuation).collect();
    plain
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Emails compare without case and surrounding spaces.
pub fn fold_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn plain_punctuation(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201B}' | '\u{2032}' | '\u{02BC}' | '\u{02BB}'
        | '\u{0060}' | '\u{00B4}' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{201F}' | '\u{2033}' => '"',
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2212}' => '-',
        other => other,
    }
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
            primary_alias: None,
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

    // R4, R41: one rule folds case, Unicode forms, typographic quotes, dashes and spaces.
    #[test]
    fn names_typed_differently_are_one_name() {
        assert_eq!(fold("O\u{2019}Brien"), fold("o'brien"));
        assert_eq!(fold("E\u{301}lodie"), fold("\u{c9}LODIE"));
        assert_eq!(fold("Smith\u{2011}Jones"), fold("smith-jones"));
        assert_eq!(fold("Mary\u{a0} Ann "), fold("mary ann"));
        assert_ne!(fold("\u{c9}lodie"), fold("Elodie"));
        let index = Index::new(&[pco("10", "Élodie", "", "O’Brien", "EB@example.org")]);
        let elodie = rock(
            "E\u{301}lodie",
            "E\u{301}lodie",
            "O'Brien",
            Some("eb@example.org"),
        );
        assert_eq!(index.find(&elodie), Match::One("10".into()));
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
        // With no candidate in PCO, nobody's account is at stake: they are created.
        let mut kim = rock("Kim", "Kim", "Lee", Some("kim@example.org"));
        kim.protection = Protection::Extreme;
        assert_eq!(index.find(&kim), Match::Nobody);
    }
}
