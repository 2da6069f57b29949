//! The synced fields of SPEC R10 and their three-way merge (R12, R26, R27).
//!
//! Both sides are read into a [`Snapshot`]: one canonical text per field (or none when the
//! side has no value). The snapshot saved after a person's last successful sync is the merge
//! base; it holds only these fields (R53). Tags are merged elsewhere.
//!
//! # Mapping (Rock person <-> PCO People person, API version 2023-03-21)
//! | field | Rock | PCO |
//! | --- | --- | --- |
//! | first-name | FirstName | `given_name` |
//! | nick-name | NickName (blank: FirstName, as Rock saves it) | `first_name` (blank: `given_name`) |
//! | middle-name, last-name | MiddleName, LastName | `middle_name`, `last_name` |
//! | gender | Male / Female (Unknown: none) | "Male" / "Female" (null: none) |
//! | birthdate, anniversary | day, month, year | `YYYY-MM-DD` |
//! | home-address | the family's Home location | the address with location "Home" |
//! | home-, work-, mobile-phone | phone of that type | phone number with location Home / Work / Mobile |
//! | email | Email | the primary email (the first one when none is primary) |
//!
//! That is the default `first-name-source = nick-name`. With `first-name`, PCO's `first_name`
//! shows Rock's first name: first-name is read from `first_name` (blank: `given_name`) and
//! written to both `first_name` and `given_name`, and nick-name maps to PCO's separate
//! `nickname` attribute, where a nick name equal to the first name counts as none (Rock fills
//! a blank nick name with the first name). In the default mode PCO's `nickname` attribute is
//! neither read nor written: Rock has nowhere to keep it.
//!
//! # Normalisation (R27)
//! Values are stored canonical (names trimmed with inner whitespace collapsed and typographic
//! quotes straightened, as Rock saves them; US phone numbers as `(217) 555-0100`; emails
//! lowercased; dates ISO; addresses with a two-letter state) and compared by a key that drops
//! what either side rewrites on save:
//! - names compare without case: Rock re-cases names (`FixCase`), so a case-only difference
//!   is cosmetic and never written (a case-only correction is therefore not carried over);
//! - phones compare by digits, a leading US country code 1 dropped;
//! - addresses compare without case or punctuation, street words abbreviated the USPS way
//!   (Street = St), both street lines together, state names as codes, ZIP by its first five
//!   digits (ZIP+4 = ZIP), and a blank country as "US".
//!
//! # Values a side cannot hold
//! - A Rock birth date (or anniversary) without a year cannot go to PCO, which needs a full
//!   date. It is never written there: a PCO date with the same month and day counts as the
//!   same value (nothing is written either way), a PCO date on another day is cleared (Rock
//!   says it is wrong), and the skip is reported. The merge base keeps Rock's year-less date,
//!   so the next run sees nothing changed: no ping-pong. PCO's year is not copied into Rock
//!   either (Rock is the master; an administrator may have left the year out on purpose).
//! - Rock clears the anniversary of anyone not married. For an unmarried Rock person the
//!   anniversary is never read as "changed in Rock" (its blank is Rock's doing, not a user's)
//!   and PCO's value is not copied into Rock, where it would vanish on save; the merge reports
//!   it as skipped, each run while it lasts, and the base keeps its old value, so the date is
//!   copied once the person is married in Rock.
//!
//! # First link (no base)
//! Rock is the master list (R1): where the two sides differ, Rock's value wins when Rock has
//! one, and PCO's value fills a field Rock has blank. Nothing is reported as a conflict. A
//! field missing from a base (switched on after the person was linked) is treated the same.
//!
//! # Known limits
//! - A case-only correction of a name is not carried over (see above).
//! - Phone extensions are compared as part of the number's digits.
//! - Clearing the email in Rock deletes PCO's primary email; if the person has another email
//!   in PCO, the next run reads that one and copies it into Rock.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::api::{ConflictPolicy, FirstNameSource};
use crate::bindings::rockpco::sync::pco::Request;
use crate::bindings::rockpco::sync::rock::Person;
use crate::pco_people::{self, AddressParts, PcoPersonFull, PhoneLocation};
use crate::types::{Address, Date, FieldValue, Gender};

/// A field of R10 (tags are merged elsewhere).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    FirstName,
    NickName,
    MiddleName,
    LastName,
    Gender,
    Birthdate,
    Anniversary,
    HomeAddress,
    HomePhone,
    WorkPhone,
    MobilePhone,
    Email,
}

impl Field {
    pub const ALL: [Field; 12] = [
        Field::FirstName,
        Field::NickName,
        Field::MiddleName,
        Field::LastName,
        Field::Gender,
        Field::Birthdate,
        Field::Anniversary,
        Field::HomeAddress,
        Field::HomePhone,
        Field::WorkPhone,
        Field::MobilePhone,
        Field::Email,
    ];

    /// The name used in the configuration (`disabled-fields`) and the report.
    pub fn name(self) -> &'static str {
        match self {
            Field::FirstName => "first-name",
            Field::NickName => "nick-name",
            Field::MiddleName => "middle-name",
            Field::LastName => "last-name",
            Field::Gender => "gender",
            Field::Birthdate => "birthdate",
            Field::Anniversary => "anniversary",
            Field::HomeAddress => "home-address",
            Field::HomePhone => "home-phone",
            Field::WorkPhone => "work-phone",
            Field::MobilePhone => "mobile-phone",
            Field::Email => "email",
        }
    }

    pub fn from_name(name: &str) -> Option<Field> {
        let name = name.trim();
        Field::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    fn is_name(self) -> bool {
        matches!(
            self,
            Field::FirstName | Field::NickName | Field::MiddleName | Field::LastName
        )
    }

    fn is_date(self) -> bool {
        matches!(self, Field::Birthdate | Field::Anniversary)
    }

    fn phone_location(self) -> Option<PhoneLocation> {
        match self {
            Field::HomePhone => Some(PhoneLocation::Home),
            Field::WorkPhone => Some(PhoneLocation::Work),
            Field::MobilePhone => Some(PhoneLocation::Mobile),
            _ => None,
        }
    }
}

/// One side of the sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Rock,
    Pco,
}

// ---- Snapshot ------------------------------------------------------------------------------

/// The canonical value of each synced field on one side, or the merge base saved in state.
/// A field absent from the map is unknown (never synced); present with `None` is blank.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    from = "BTreeMap<String, Option<String>>",
    into = "BTreeMap<String, Option<String>>"
)]
pub struct Snapshot {
    values: BTreeMap<Field, Option<String>>,
    /// Fields this side cannot keep a value in (Rock's anniversary when not married). Never
    /// stored: it is a fact about the side now, not about the last sync.
    cannot_hold: BTreeSet<Field>,
}

impl From<BTreeMap<String, Option<String>>> for Snapshot {
    /// Unknown names (a field a later version dropped) are ignored; values are normalised
    /// again so a base written by an older version compares like a fresh one.
    fn from(stored: BTreeMap<String, Option<String>>) -> Self {
        let mut snapshot = Snapshot::default();
        for (name, value) in stored {
            if let Some(field) = Field::from_name(&name) {
                snapshot.set(field, value.as_deref());
            }
        }
        snapshot
    }
}

impl From<Snapshot> for BTreeMap<String, Option<String>> {
    fn from(snapshot: Snapshot) -> Self {
        snapshot
            .values
            .into_iter()
            .map(|(field, value)| (field.name().to_string(), value))
            .collect()
    }
}

impl Snapshot {
    /// Rock's values, normalised.
    pub fn from_rock(person: &Person, source: FirstNameSource) -> Snapshot {
        let mut s = Snapshot::default();
        s.set(Field::FirstName, Some(&person.first_name));
        let nick = non_blank(&person.nick_name).unwrap_or(&person.first_name);
        s.set_nick_name(Some(nick), source);
        s.set(Field::MiddleName, Some(&person.middle_name));
        s.set(Field::LastName, Some(&person.last_name));
        s.set(Field::Gender, gender_text(person.gender));
        s.values
            .insert(Field::Birthdate, person.birthdate.and_then(date_text));
        s.values
            .insert(Field::Anniversary, person.anniversary.and_then(date_text));
        let address = person.home_address.as_ref().map(|a| {
            address_text([
                &a.street1,
                &a.street2,
                &a.city,
                &a.state,
                &a.postal_code,
                &a.country,
            ])
        });
        s.values.insert(Field::HomeAddress, address.flatten());
        s.set(Field::HomePhone, person.home_phone.as_deref());
        s.set(Field::WorkPhone, person.work_phone.as_deref());
        s.set(Field::MobilePhone, person.mobile_phone.as_deref());
        s.set(Field::Email, person.email.as_deref());
        if !person.married {
            s.cannot_hold.insert(Field::Anniversary);
        }
        s
    }

    /// PCO's values, normalised.
    pub fn from_pco(person: &PcoPersonFull, source: FirstNameSource) -> Snapshot {
        let mut s = Snapshot::default();
        // A blank first_name falls back on given_name, as Rock's blank nick name falls back on
        // the first name. A blank given_name does not fall back (in the default mode): an edit
        // of PCO's first_name would then also change Rock's legal first name.
        let (given, first) = (&person.given_name, &person.first_name);
        let first_or_given = non_blank(first).unwrap_or(given);
        match source {
            FirstNameSource::NickName => {
                s.set(Field::FirstName, Some(given));
                s.set(Field::NickName, Some(first_or_given));
            }
            FirstNameSource::FirstName => {
                s.set(Field::FirstName, Some(first_or_given));
                s.set_nick_name(Some(&person.nickname), source);
            }
        }
        s.set(Field::MiddleName, Some(&person.middle_name));
        s.set(Field::LastName, Some(&person.last_name));
        s.set(Field::Gender, person.gender.as_deref());
        s.set(Field::Birthdate, person.birthdate.as_deref());
        s.set(Field::Anniversary, person.anniversary.as_deref());
        let address = person.home_address().map(|a| {
            address_text([
                &a.street_line_1,
                &a.street_line_2,
                &a.city,
                &a.state,
                &a.zip,
                &a.country_code,
            ])
        });
        s.values.insert(Field::HomeAddress, address.flatten());
        for field in [Field::HomePhone, Field::WorkPhone, Field::MobilePhone] {
            let phone = field
                .phone_location()
                .and_then(|at| person.phone(at))
                .map(|p| p.number.as_str());
            s.set(field, phone);
        }
        let email = person.primary_email().map(|e| e.address.as_str());
        s.set(Field::Email, email);
        s
    }

    /// With `first-name` as the source, a nick name equal to the first name is no nick name.
    fn set_nick_name(&mut self, nick: Option<&str>, source: FirstNameSource) {
        let nick = nick.and_then(|n| normalise(Field::NickName, n));
        let first = self.get(Field::FirstName);
        let same_as_first = same(Field::NickName, nick.as_deref(), first);
        let keep = !(source == FirstNameSource::FirstName && same_as_first);
        self.values.insert(Field::NickName, nick.filter(|_| keep));
    }

    /// The canonical value, None when blank or unknown.
    pub fn get(&self, field: Field) -> Option<&str> {
        self.entry(field).flatten()
    }

    /// None when the field is unknown (not in this snapshot), Some(None) when blank.
    pub fn entry(&self, field: Field) -> Option<Option<&str>> {
        self.values.get(&field).map(Option::as_deref)
    }

    /// Sets a field from any spelling of its value (normalised here).
    pub fn set(&mut self, field: Field, value: Option<&str>) {
        self.values
            .insert(field, value.and_then(|v| normalise(field, v)));
    }

    /// Every field this snapshot knows, with its value (None when blank).
    pub fn iter(&self) -> impl Iterator<Item = (Field, Option<&str>)> {
        self.values
            .iter()
            .map(|(field, value)| (*field, value.as_deref()))
    }

    /// Whether this side cannot keep a value in `field` now.
    pub fn cannot_hold(&self, field: Field) -> bool {
        self.cannot_hold.contains(&field)
    }

    /// The compact JSON the state stores, e.g. `{"email":"a@b.org","first-name":"Ann"}`.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Snapshot, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

fn non_blank(text: &str) -> Option<&str> {
    (!text.trim().is_empty()).then_some(text)
}

// ---- Normalisation -------------------------------------------------------------------------

/// The canonical text of a field's value, or None when the value is blank (or, for a gender
/// or a date, not one the field can hold).
pub fn normalise(field: Field, raw: &str) -> Option<String> {
    // One Unicode form (NFC): "Jörg" typed as o + combining diaeresis is "Jörg", and is
    // written composed (R27).
    let nfc = nfc(raw);
    let raw = nfc.as_str();
    let value = match field {
        _ if field.is_name() => clean_name(raw),
        Field::Gender => normalise_gender(raw)?.to_string(),
        _ if field.is_date() => date_text(parse_date(raw)?)?,
        Field::HomeAddress => {
            return address_text(split_address(raw).each_ref().map(String::as_str));
        }
        Field::Email => raw.trim().to_lowercase(),
        _ => normalise_phone(raw)?,
    };
    (!value.is_empty()).then_some(value)
}

/// Rock's name clean-up: typographic quotes straightened, whitespace collapsed, trimmed.
pub fn clean_name(raw: &str) -> String {
    let straight: String = raw
        .chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' | '\u{0060}' | '\u{00b4}' => '\'',
            '\u{201c}' | '\u{201d}' => '"',
            other => other,
        })
        .collect();
    collapse(&straight)
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn normalise_gender(raw: &str) -> Option<&'static str> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "m" | "male" => Some("Male"),
        "f" | "female" => Some("Female"),
        _ => None,
    }
}

fn gender_text(gender: Gender) -> Option<&'static str> {
    match gender {
        Gender::Male => Some("Male"),
        Gender::Female => Some("Female"),
        Gender::Unknown => None,
    }
}

/// US numbers as `(217) 555-0100`; anything else trimmed with whitespace collapsed.
pub fn normalise_phone(raw: &str) -> Option<String> {
    let digits = phone_digits(raw);
    if digits.is_empty() {
        return None;
    }
    if digits.len() == 10 {
        return Some(format!(
            "({}) {}-{}",
            &digits[..3],
            &digits[3..6],
            &digits[6..]
        ));
    }
    Some(collapse(raw))
}

/// The digits of a number, a leading US country code 1 dropped.
fn phone_digits(raw: &str) -> String {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix('1') {
        Some(rest) if rest.len() == 10 => rest.to_string(),
        _ => digits,
    }
}

/// `YYYY-MM-DD`, or `--MM-DD` (ISO 8601's form) when the year is unknown; None when the
/// date does not exist.
pub fn date_text(date: Date) -> Option<String> {
    let year_ok = date.year.is_none_or(|y| (1..=9999).contains(&y));
    let leap_year = date.year.is_none_or(is_leap);
    let days = match date.month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap_year => 29,
        2 => 28,
        _ => return None,
    };
    if !year_ok || date.day == 0 || date.day > days {
        return None;
    }
    Some(match date.year {
        Some(year) => format!("{year:04}-{:02}-{:02}", date.month, date.day),
        None => format!("--{:02}-{:02}", date.month, date.day),
    })
}

fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Reads `YYYY-MM-DD` (a time after it is ignored) or `--MM-DD`.
pub fn parse_date(text: &str) -> Option<Date> {
    let text = text.trim();
    let (year, rest) = match text.strip_prefix("--") {
        Some(rest) => (None, rest),
        None => {
            let (year, rest) = text.split_once('-')?;
            (Some(number(year, 4)?), rest)
        }
    };
    let month = number(rest.get(..2)?, 2)?;
    let day = number(rest.get(3..5)?, 2)?;
    if rest.get(2..3) != Some("-") {
        return None;
    }
    let date = Date {
        year,
        month: u8::try_from(month).ok()?,
        day: u8::try_from(day).ok()?,
    };
    date_text(date).map(|_| date)
}

fn number(text: &str, width: usize) -> Option<i32> {
    let digits = text.len() == width && text.chars().all(|c| c.is_ascii_digit());
    digits.then(|| text.parse().ok()).flatten()
}

fn is_yearless(value: &str) -> bool {
    value.starts_with("--")
}

/// An address as one canonical text: street 1, street 2, city, state, ZIP, country, one per
/// line. None when it has no street, city, state or ZIP.
fn address_text(parts: [&str; 6]) -> Option<String> {
    let [street1, street2, city, state, zip, country] = parts.map(collapse);
    if [&street1, &street2, &city, &state, &zip]
        .iter()
        .all(|p| p.is_empty())
    {
        return None;
    }
    let lines = [
        street1,
        street2,
        city,
        normalise_state(&state),
        normalise_zip(&zip),
        normalise_country(&country),
    ];
    Some(lines.join("\n"))
}

fn split_address(text: &str) -> [String; 6] {
    let mut lines = text.split('\n').map(str::to_string);
    std::array::from_fn(|_| lines.next().unwrap_or_default())
}

const STATES: [(&str, &str); 54] = [
    ("alabama", "AL"),
    ("alaska", "AK"),
    ("arizona", "AZ"),
    ("arkansas", "AR"),
    ("california", "CA"),
    ("colorado", "CO"),
    ("connecticut", "CT"),
    ("delaware", "DE"),
    ("district of columbia", "DC"),
    ("florida", "FL"),
    ("georgia", "GA"),
    ("hawaii", "HI"),
    ("idaho", "ID"),
    ("illinois", "IL"),
    ("indiana", "IN"),
    ("iowa", "IA"),
    ("kansas", "KS"),
    ("kentucky", "KY"),
    ("louisiana", "LA"),
    ("maine", "ME"),
    ("maryland", "MD"),
    ("massachusetts", "MA"),
    ("michigan", "MI"),
    ("minnesota", "MN"),
    ("mississippi", "MS"),
    ("missouri", "MO"),
    ("montana", "MT"),
    ("nebraska", "NE"),
    ("nevada", "NV"),
    ("new hampshire", "NH"),
    ("new jersey", "NJ"),
    ("new mexico", "NM"),
    ("new york", "NY"),
    ("north carolina", "NC"),
    ("north dakota", "ND"),
    ("ohio", "OH"),
    ("oklahoma", "OK"),
    ("oregon", "OR"),
    ("pennsylvania", "PA"),
    ("rhode island", "RI"),
    ("south carolina", "SC"),
    ("south dakota", "SD"),
    ("tennessee", "TN"),
    ("texas", "TX"),
    ("utah", "UT"),
    ("vermont", "VT"),
    ("virginia", "VA"),
    ("washington", "WA"),
    ("west virginia", "WV"),
    ("wisconsin", "WI"),
    ("wyoming", "WY"),
    ("puerto rico", "PR"),
    ("guam", "GU"),
    ("virgin islands", "VI"),
];

/// A US state as its two-letter code; anything else as written.
fn normalise_state(state: &str) -> String {
    let lower = state.trim_end_matches('.').to_lowercase();
    if let Some((_, code)) = STATES.iter().find(|(name, _)| *name == lower) {
        return (*code).to_string();
    }
    if lower.len() == 2 && lower.chars().all(|c| c.is_ascii_alphabetic()) {
        return lower.to_ascii_uppercase();
    }
    state.to_string()
}

/// ZIP and ZIP+4 as `12345` / `12345-6789`; other postal codes as written.
fn normalise_zip(zip: &str) -> String {
    let digits: String = zip.chars().filter(char::is_ascii_digit).collect();
    let only_zip_chars = zip
        .chars()
        .all(|c| c.is_ascii_digit() || c == '-' || c == ' ');
    match digits.len() {
        5 if only_zip_chars => digits,
        9 if only_zip_chars => format!("{}-{}", &digits[..5], &digits[5..]),
        _ => zip.to_string(),
    }
}

fn normalise_country(country: &str) -> String {
    match country.trim_end_matches('.').to_lowercase().as_str() {
        "us" | "usa" | "u.s" | "u.s.a" | "united states" | "united states of america" => {
            "US".into()
        }
        c if c.len() == 2 => c.to_ascii_uppercase(),
        _ => country.to_string(),
    }
}

/// Street words as USPS abbreviates them, so a standardised address equals the typed one.
const STREET_WORDS: [(&str, &str); 30] = [
    ("street", "st"),
    ("avenue", "ave"),
    ("road", "rd"),
    ("drive", "dr"),
    ("lane", "ln"),
    ("boulevard", "blvd"),
    ("court", "ct"),
    ("place", "pl"),
    ("circle", "cir"),
    ("parkway", "pkwy"),
    ("highway", "hwy"),
    ("terrace", "ter"),
    ("trail", "trl"),
    ("square", "sq"),
    ("expressway", "expy"),
    ("freeway", "fwy"),
    ("north", "n"),
    ("south", "s"),
    ("east", "e"),
    ("west", "w"),
    ("northeast", "ne"),
    ("northwest", "nw"),
    ("southeast", "se"),
    ("southwest", "sw"),
    ("apartment", "apt"),
    ("suite", "ste"),
    ("building", "bldg"),
    ("floor", "fl"),
    ("room", "rm"),
    ("number", "#"),
];

/// What an address is compared by: see the module docs.
fn address_key(text: &str) -> String {
    let [street1, street2, city, state, zip, country] = split_address(text);
    let streets: Vec<String> = format!("{street1} {street2}")
        .to_lowercase()
        .replace(['.', ','], " ")
        .replace('#', " # ")
        .split_whitespace()
        .map(|word| {
            STREET_WORDS
                .iter()
                .find(|(long, _)| *long == word)
                .map_or(word, |(_, short)| short)
                .to_string()
        })
        .collect();
    let zip5 = match zip.get(..5) {
        Some(five) if five.chars().all(|c| c.is_ascii_digit()) => five.to_string(),
        _ => zip.to_lowercase().replace(' ', ""),
    };
    let country = if country.is_empty() { "US" } else { &country };
    [
        streets.join(" "),
        collapse(&city.to_lowercase().replace(['.', ','], " ")),
        state.to_lowercase(),
        zip5,
        country.to_lowercase(),
    ]
    .join("|")
}

/// Text in Unicode's composed form (NFC), the one form values are compared and written in.
pub fn nfc(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfc().collect()
}

/// What two canonical values of `field` are compared by: after NFC, so that values saved
/// before values were normalised to it compare equal too (R27).
fn key(field: Field, value: &str) -> String {
    let value = &nfc(value);
    match field {
        _ if field.is_name() => value.to_lowercase(),
        Field::HomeAddress => address_key(value),
        _ if field.phone_location().is_some() => phone_digits(value),
        _ => value.to_string(),
    }
}

/// Same value, once what either side rewrites on save is set aside.
fn same(field: Field, a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => key(field, a) == key(field, b),
        _ => false,
    }
}

/// Whether PCO's value `pco` agrees with the Rock-side value `rock` (Rock's own, or the base).
/// A year-less date agrees with a blank PCO date (PCO cannot hold it) and with a PCO date on
/// the same month and day.
fn agrees_with_pco(field: Field, rock: Option<&str>, pco: Option<&str>) -> bool {
    match (rock, pco) {
        (Some(r), None) if field.is_date() && is_yearless(r) => true,
        (Some(r), Some(p)) if field.is_date() && is_yearless(r) => {
            let day = |text| parse_date(text).map(|d| (d.month, d.day));
            day(r).is_some() && day(r) == day(p)
        }
        _ => same(field, rock, pco),
    }
}

// ---- Merge ---------------------------------------------------------------------------------

const NO_YEAR: &str = "Rock's date has no year, which Planning Center cannot hold";
const NO_YEAR_CLEARED: &str = "Rock's date has no year, which Planning Center cannot hold: its date on another day is cleared";
const NOT_MARRIED: &str = "Rock keeps an anniversary only for married people";

/// Both sides changed a field to different values (R12); `kept` is the side whose value won.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub field: Field,
    pub rock: Option<String>,
    pub pco: Option<String>,
    pub kept: Side,
}

/// A write the merge wanted but left out, because the other side cannot hold the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    pub field: Field,
    /// The side that was not written.
    pub side: Side,
    pub reason: String,
}

/// What to write to each side, and the base to save once the writes succeeded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Merge {
    /// Canonical values to write to PCO (see [`pco_requests`]).
    pub to_pco: Vec<(Field, Option<String>)>,
    /// Canonical values to write to Rock (see [`to_field_values`]).
    pub to_rock: Vec<(Field, Option<String>)>,
    pub conflicts: Vec<Conflict>,
    pub skipped: Vec<Skip>,
    /// The new merge base.
    pub base: Snapshot,
}

impl Merge {
    pub fn writes_nothing(&self) -> bool {
        self.to_pco.is_empty() && self.to_rock.is_empty()
    }

    fn keep(&mut self, field: Field, value: Option<&str>) {
        self.base.values.insert(field, value.map(str::to_string));
    }

    /// Rock's value goes to PCO, unless PCO already agrees or cannot hold it.
    fn rock_to_pco(&mut self, field: Field, rock: Option<&str>, pco: Option<&str>) {
        self.keep(field, rock);
        let agrees = agrees_with_pco(field, rock, pco);
        if field.is_date() && rock.is_some_and(is_yearless) {
            // PCO needs a full date: say so, and clear a PCO date on another day.
            if pco.is_none() {
                self.skip(field, Side::Pco, NO_YEAR);
            } else if !agrees {
                self.skip(field, Side::Pco, NO_YEAR_CLEARED);
                self.to_pco.push((field, None));
            }
            return;
        }
        if !agrees {
            self.to_pco.push((field, rock.map(str::to_string)));
        }
    }

    /// PCO's value goes to Rock, unless Rock cannot hold it now; `base` is what the new base
    /// keeps when the write is skipped.
    fn pco_to_rock(
        &mut self,
        field: Field,
        pco: Option<&str>,
        rock: &Snapshot,
        base: Option<&str>,
    ) {
        if rock.cannot_hold(field) && pco.is_some() {
            self.skip(field, Side::Rock, NOT_MARRIED);
            self.keep(field, base);
            return;
        }
        self.keep(field, pco);
        if !same(field, rock.get(field), pco) {
            self.to_rock.push((field, pco.map(str::to_string)));
        }
    }

    fn skip(&mut self, field: Field, side: Side, reason: &str) {
        self.skipped.push(Skip {
            field,
            side,
            reason: reason.to_string(),
        });
    }
}

/// The three-way merge of R12, with R26's conflict policy. A field a side's snapshot does not
/// hold reads as blank there: `merge(None, rock, &Snapshot::default(), ..)` plans every Rock
/// value for a person about to be created in PCO. `newest` is the side modified most
/// recently (for newest-wins); `disabled` names fields the account switched off (R10): they
/// are never written and keep their base.
pub fn merge(
    base: Option<&Snapshot>,
    rock: &Snapshot,
    pco: &Snapshot,
    policy: ConflictPolicy,
    newest: Side,
    disabled: &[String],
) -> Merge {
    let mut out = Merge::default();
    for field in Field::ALL {
        let base_entry = base.and_then(|b| b.entry(field));
        if is_disabled(field, disabled) {
            if let Some(value) = base_entry {
                out.keep(field, value);
            }
            continue;
        }
        match base_entry {
            None => first_link(&mut out, field, rock, pco),
            Some(b) => three_way(&mut out, field, b, rock, pco, policy, newest),
        }
    }
    out
}

fn is_disabled(field: Field, disabled: &[String]) -> bool {
    disabled
        .iter()
        .any(|d| d.trim().eq_ignore_ascii_case(field.name()))
}

/// No base: Rock's value where it has one, PCO's where Rock is blank; no conflicts.
fn first_link(out: &mut Merge, field: Field, rock: &Snapshot, pco: &Snapshot) {
    let (r, p) = (rock.get(field), pco.get(field));
    if r.is_some() {
        out.rock_to_pco(field, r, p);
    } else if p.is_none() {
        out.keep(field, None);
    } else {
        out.pco_to_rock(field, p, rock, r);
    }
}

fn three_way(
    out: &mut Merge,
    field: Field,
    base: Option<&str>,
    rock: &Snapshot,
    pco: &Snapshot,
    policy: ConflictPolicy,
    newest: Side,
) {
    let (r, p) = (rock.get(field), pco.get(field));
    // A blank Rock cannot hold is Rock's doing, not a change (an unmarried anniversary).
    let rock_changed = !rock.cannot_hold(field) && !same(field, base, r);
    let pco_changed = !agrees_with_pco(field, base, p);
    let winner = match (rock_changed, pco_changed) {
        (false, false) => None,
        (true, false) => Some(Side::Rock),
        (false, true) => Some(Side::Pco),
        (true, true) if agrees_with_pco(field, r, p) => None,
        (true, true) => {
            let kept = match policy {
                ConflictPolicy::RockWins => Side::Rock,
                ConflictPolicy::NewestWins => newest,
            };
            out.conflicts.push(Conflict {
                field,
                rock: r.map(str::to_string),
                pco: p.map(str::to_string),
                kept,
            });
            Some(kept)
        }
    };
    match winner {
        // Nothing changed, or both changed alike: keep Rock's spelling when it has changed.
        None if rock_changed => out.keep(field, r),
        None => out.keep(field, base),
        Some(Side::Rock) => out.rock_to_pco(field, r, p),
        Some(Side::Pco) => out.pco_to_rock(field, p, rock, base),
    }
}

// ---- Writing -------------------------------------------------------------------------------

/// Rock's patch for `to_rock` changes. A date that does not parse is left out (merge only
/// produces canonical values, so this drops nothing in practice).
pub fn to_field_values(changes: &[(Field, Option<String>)]) -> Vec<FieldValue> {
    changes
        .iter()
        .filter_map(|(field, value)| field_value(*field, value.as_deref()))
        .collect()
}

fn field_value(field: Field, value: Option<&str>) -> Option<FieldValue> {
    let text = || value.unwrap_or_default().to_string();
    let owned = || value.map(str::to_string);
    let date = || match value {
        None => Some(None),
        Some(v) => parse_date(v).map(Some),
    };
    Some(match field {
        Field::FirstName => FieldValue::FirstName(text()),
        Field::NickName => FieldValue::NickName(text()),
        Field::MiddleName => FieldValue::MiddleName(text()),
        Field::LastName => FieldValue::LastName(text()),
        Field::Gender => FieldValue::Gender(match value.and_then(normalise_gender) {
            Some("Male") => Gender::Male,
            Some("Female") => Gender::Female,
            _ => Gender::Unknown,
        }),
        Field::Birthdate => FieldValue::Birthdate(date()?),
        Field::Anniversary => FieldValue::Anniversary(date()?),
        Field::HomeAddress => FieldValue::HomeAddress(value.map(rock_address)),
        Field::HomePhone => FieldValue::HomePhone(owned()),
        Field::WorkPhone => FieldValue::WorkPhone(owned()),
        Field::MobilePhone => FieldValue::MobilePhone(owned()),
        Field::Email => FieldValue::Email(owned()),
    })
}

fn rock_address(text: &str) -> Address {
    let [street1, street2, city, state, postal_code, country] = split_address(text);
    Address {
        street1,
        street2,
        city,
        state,
        postal_code,
        country,
    }
}

fn pco_address(text: &str) -> AddressParts {
    let [street_line_1, street_line_2, city, state, zip, country_code] = split_address(text);
    AddressParts {
        street_line_1,
        street_line_2,
        city,
        state,
        zip,
        country_code,
    }
}

/// The PCO Person attributes a field is written to.
fn pco_attributes(field: Field, source: FirstNameSource) -> &'static [&'static str] {
    match (field, source) {
        (Field::FirstName, FirstNameSource::NickName) => &["given_name"],
        (Field::FirstName, FirstNameSource::FirstName) => &["first_name", "given_name"],
        (Field::NickName, FirstNameSource::NickName) => &["first_name"],
        (Field::NickName, FirstNameSource::FirstName) => &["nickname"],
        (Field::MiddleName, _) => &["middle_name"],
        (Field::LastName, _) => &["last_name"],
        (Field::Gender, _) => &["gender"],
        (Field::Birthdate, _) => &["birthdate"],
        (Field::Anniversary, _) => &["anniversary"],
        _ => &[],
    }
}

/// PCO's requests for `to_pco` changes to `current`: one PATCH of the person for every
/// attribute change, then one request per email, phone or address change.
pub fn pco_requests(
    changes: &[(Field, Option<String>)],
    current: &PcoPersonFull,
    source: FirstNameSource,
) -> Vec<Request> {
    let mut attributes = Map::new();
    let mut contacts = Vec::new();
    for (field, value) in changes {
        let value = value.as_deref();
        match field {
            Field::Email => contacts.extend(pco_people::set_email(current, value)),
            Field::HomeAddress => {
                let parts = value.map(pco_address);
                contacts.extend(pco_people::set_home_address(current, parts.as_ref()));
            }
            _ => match field.phone_location() {
                Some(at) => contacts.extend(pco_people::set_phone(current, at, value)),
                None => add_attributes(&mut attributes, *field, value, source),
            },
        }
    }
    let mut requests = Vec::new();
    if !attributes.is_empty() {
        requests.push(pco_people::person_attributes_patch(&current.id, attributes));
    }
    requests.extend(contacts);
    requests
}

fn add_attributes(
    attributes: &mut Map<String, Value>,
    field: Field,
    value: Option<&str>,
    source: FirstNameSource,
) {
    // A year-less date cannot be sent; merge never asks for it, so it is only guarded here.
    if field.is_date() && value.is_some_and(is_yearless) {
        return;
    }
    for name in pco_attributes(field, source) {
        attributes.insert((*name).to_string(), value.map_or(Value::Null, |v| json!(v)));
    }
}

/// `POST /people/v2/people` for a Rock person not yet in PCO, with the person's attribute
/// fields (enabled ones with a value) and `remote_id` = the Rock id (R6). Emails, phones and
/// the address follow once the id is known: merge Rock's snapshot with the created person's
/// (no base) and send [`pco_requests`] for its `to_pco`.
pub fn create_person_request(
    rock: &Snapshot,
    rock_id: i64,
    source: FirstNameSource,
    disabled: &[String],
) -> Request {
    let mut attributes = Map::new();
    for field in Field::ALL {
        if is_disabled(field, disabled) {
            continue;
        }
        if let Some(value) = rock.get(field) {
            add_attributes(&mut attributes, field, Some(value), source);
        }
    }
    pco_people::create_person(rock_id, attributes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::rockpco::sync::pco::Method;
    use crate::bindings::rockpco::sync::rock::Protection;
    use crate::pco_people::{PcoAddress, PcoEmail, PcoPhone};

    const NICK: FirstNameSource = FirstNameSource::NickName;
    const ROCK_WINS: ConflictPolicy = ConflictPolicy::RockWins;
    const NEWEST_WINS: ConflictPolicy = ConflictPolicy::NewestWins;

    fn rock_person() -> Person {
        Person {
            id: 42,
            first_name: "Robert".into(),
            nick_name: "Bob".into(),
            middle_name: "Lee".into(),
            last_name: "Smith".into(),
            gender: Gender::Male,
            birthdate: Some(Date {
                year: Some(1970),
                month: 2,
                day: 3,
            }),
            married: true,
            anniversary: Some(Date {
                year: Some(2001),
                month: 6,
                day: 9,
            }),
            email: Some("Bob@Example.org".into()),
            home_address: Some(Address {
                street1: "12 Elm Street".into(),
                street2: "Apt 4".into(),
                city: "Springfield".into(),
                state: "Illinois".into(),
                postal_code: "62701-1234".into(),
                country: "US".into(),
            }),
            home_phone: Some("2175550199".into()),
            work_phone: None,
            mobile_phone: Some("217.555.0100".into()),
            photo_id: None,
            protection: Protection::Low,
            pco_tags: vec![],
            modified: None,
            primary_alias: None,
        }
    }

    /// The same person as PCO shows them.
    fn pco_person() -> PcoPersonFull {
        PcoPersonFull {
            id: "101".into(),
            remote_id: Some(42),
            first_name: "Bob".into(),
            given_name: "Robert".into(),
            middle_name: "Lee".into(),
            last_name: "SMITH".into(),
            gender: Some("Male".into()),
            birthdate: Some("1970-02-03".into()),
            anniversary: Some("2001-06-09".into()),
            updated_at: "2025-01-01T00:00:00Z".into(),
            emails: vec![PcoEmail {
                id: "8".into(),
                address: "bob@example.org".into(),
                location: "Home".into(),
                primary: true,
            }],
            phones: vec![
                PcoPhone {
                    id: "5".into(),
                    number: "(217) 555-0100".into(),
                    location: "Mobile".into(),
                    primary: true,
                },
                PcoPhone {
                    id: "6".into(),
                    number: "+1 217 555 0199".into(),
                    location: "Home".into(),
                    primary: false,
                },
            ],
            addresses: vec![PcoAddress {
                id: "3".into(),
                street_line_1: "12 Elm St.".into(),
                street_line_2: "apt 4".into(),
                city: "Springfield".into(),
                state: "IL".into(),
                zip: "62701".into(),
                country_code: "US".into(),
                location: "Home".into(),
                primary: true,
            }],
            ..PcoPersonFull::default()
        }
    }

    /// A snapshot with every field blank but those given.
    fn snap(values: &[(Field, &str)]) -> Snapshot {
        let mut s = Snapshot::default();
        for field in Field::ALL {
            s.set(field, None);
        }
        for (field, value) in values {
            s.set(*field, Some(value));
        }
        s
    }

    fn merge3(base: &Snapshot, rock: &Snapshot, pco: &Snapshot) -> Merge {
        merge(Some(base), rock, pco, ROCK_WINS, Side::Rock, &[])
    }

    fn change(field: Field, value: Option<&str>) -> (Field, Option<String>) {
        (field, value.map(str::to_string))
    }

    // R10
    #[test]
    fn field_names_are_the_configuration_names() {
        let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(
            names,
            [
                "first-name",
                "nick-name",
                "middle-name",
                "last-name",
                "gender",
                "birthdate",
                "anniversary",
                "home-address",
                "home-phone",
                "work-phone",
                "mobile-phone",
                "email"
            ]
        );
        for field in Field::ALL {
            assert_eq!(Field::from_name(field.name()), Some(field));
        }
        assert_eq!(Field::from_name(" Email "), Some(Field::Email));
        assert_eq!(Field::from_name("tags"), None);
    }

    // R53: the base holds only synced fields, compactly, and reads back the same.
    #[test]
    fn snapshots_serialise_compactly_and_back() {
        let rock = Snapshot::from_rock(&rock_person(), NICK);
        let bytes = rock.to_bytes();
        let json: Value = serde_json::from_slice(&bytes).unwrap();
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 12, "{json}");
        assert!(keys.iter().all(|k| Field::from_name(k).is_some()));
        let mut small = Snapshot::default();
        small.set(Field::Email, Some(" A@B.org"));
        small.set(Field::HomePhone, None);
        assert_eq!(
            small.to_bytes(),
            br#"{"email":"a@b.org","home-phone":null}"#
        );
        let back = Snapshot::from_bytes(&bytes).unwrap();
        assert_eq!(back.values, rock.values);
        // Unknown names are dropped; blank and unknown stay apart.
        let stored = br#"{"email":null,"shoe-size":"9","last-name":"  Smith "}"#;
        let read = Snapshot::from_bytes(stored).unwrap();
        assert_eq!(read.entry(Field::Email), Some(None));
        assert_eq!(read.entry(Field::Gender), None);
        assert_eq!(read.get(Field::LastName), Some("Smith"));
        assert!(Snapshot::from_bytes(b"[1]").is_err());
    }

    // R10: both sides read into the same values.
    #[test]
    fn rock_and_pco_map_to_the_same_fields() {
        let rock = Snapshot::from_rock(&rock_person(), NICK);
        let pco = Snapshot::from_pco(&pco_person(), NICK);
        assert_eq!(rock.get(Field::FirstName), Some("Robert"));
        assert_eq!(rock.get(Field::NickName), Some("Bob"));
        assert_eq!(pco.get(Field::FirstName), Some("Robert"));
        assert_eq!(pco.get(Field::NickName), Some("Bob"));
        assert_eq!(rock.get(Field::Gender), Some("Male"));
        assert_eq!(rock.get(Field::Birthdate), Some("1970-02-03"));
        assert_eq!(rock.get(Field::MobilePhone), Some("(217) 555-0100"));
        assert_eq!(pco.get(Field::HomePhone), Some("(217) 555-0199"));
        assert_eq!(rock.get(Field::WorkPhone), None);
        assert_eq!(rock.get(Field::Email), Some("bob@example.org"));
        assert_eq!(
            rock.get(Field::HomeAddress),
            Some("12 Elm Street\nApt 4\nSpringfield\nIL\n62701-1234\nUS")
        );
        for field in Field::ALL {
            assert!(
                same(field, rock.get(field), pco.get(field)),
                "{field:?}: {:?} vs {:?}",
                rock.get(field),
                pco.get(field)
            );
        }
        // R12: the same person on both sides: nothing to write, with or without a base.
        assert!(merge(None, &rock, &pco, ROCK_WINS, Side::Rock, &[]).writes_nothing());
        assert!(merge3(&rock, &rock, &pco).writes_nothing());
    }

    // R10: a blank name falls back on the other one, on both sides.
    #[test]
    fn blank_names_fall_back_like_each_side_shows_them() {
        let mut person = rock_person();
        person.nick_name = " ".into();
        assert_eq!(
            Snapshot::from_rock(&person, NICK).get(Field::NickName),
            Some("Robert")
        );
        let mut pco = pco_person();
        pco.given_name = String::new();
        let s = Snapshot::from_pco(&pco, NICK);
        assert_eq!(
            s.get(Field::FirstName),
            None,
            "given_name does not fall back"
        );
        assert_eq!(
            Snapshot::from_pco(&pco, FirstNameSource::FirstName).get(Field::FirstName),
            Some("Bob")
        );
        pco.first_name = String::new();
        pco.given_name = "Robert".into();
        assert_eq!(
            Snapshot::from_pco(&pco, NICK).get(Field::NickName),
            Some("Robert")
        );
    }

    // R10: first-name-source = first-name puts Rock's first name in PCO's first_name and the
    // nick name in PCO's nickname.
    #[test]
    fn first_name_source_maps_first_name_and_nickname() {
        let source = FirstNameSource::FirstName;
        let rock = Snapshot::from_rock(&rock_person(), source);
        assert_eq!(rock.get(Field::FirstName), Some("Robert"));
        assert_eq!(rock.get(Field::NickName), Some("Bob"));
        let mut pco = pco_person();
        pco.first_name = "Robert".into();
        pco.nickname = "Bob".into();
        let pco_snap = Snapshot::from_pco(&pco, source);
        assert_eq!(pco_snap.get(Field::FirstName), Some("Robert"));
        assert_eq!(pco_snap.get(Field::NickName), Some("Bob"));
        // A nick name equal to the first name is no nick name.
        let mut plain = rock_person();
        plain.nick_name = "robert".into();
        assert_eq!(
            Snapshot::from_rock(&plain, source).get(Field::NickName),
            None
        );
        let requests = pco_requests(
            &[
                change(Field::FirstName, Some("Rob")),
                change(Field::NickName, Some("Bobby")),
            ],
            &pco,
            source,
        );
        assert_eq!(requests.len(), 1);
        let body: Value = serde_json::from_slice(requests[0].body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body["data"]["attributes"],
            json!({"first_name": "Rob", "given_name": "Rob", "nickname": "Bobby"})
        );
    }

    // R27
    #[test]
    fn names_are_cleaned_and_compared_without_case() {
        assert_eq!(clean_name("  Mary \t Ann\u{2019}s "), "Mary Ann's");
        assert_eq!(normalise(Field::LastName, "   "), None);
        assert!(same(Field::LastName, Some("McDonald"), Some("MCDONALD")));
        assert!(!same(Field::LastName, Some("McDonald"), Some("MacDonald")));
        assert!(!same(Field::LastName, Some("Smith"), None));
    }

    // R27
    #[test]
    fn phones_are_compared_by_digits() {
        for raw in [
            "2175550100",
            "217-555-0100",
            "(217) 555-0100",
            "+1 217.555.0100",
            "1 (217) 555 0100",
        ] {
            assert_eq!(
                normalise(Field::HomePhone, raw).as_deref(),
                Some("(217) 555-0100"),
                "{raw}"
            );
        }
        assert_eq!(
            normalise(Field::WorkPhone, " +44  20 7946 0958 ").as_deref(),
            Some("+44 20 7946 0958")
        );
        assert_eq!(normalise(Field::MobilePhone, "n/a"), None);
        assert!(same(Field::MobilePhone, Some("555-0100"), Some("555 0100")));
        assert!(!same(
            Field::MobilePhone,
            Some("(217) 555-0100"),
            Some("(217) 555-0101")
        ));
    }

    // R27
    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            normalise(Field::Email, "  Bob@Example.ORG ").as_deref(),
            Some("bob@example.org")
        );
        assert_eq!(normalise(Field::Email, " "), None);
    }

    // R27
    #[test]
    fn addresses_compare_as_standardised() {
        let typed = address_text([
            "12 Elm Street",
            "Apt. 4",
            "springfield",
            "illinois",
            "62701",
            "",
        ]);
        let standardised = address_text([
            "12 ELM ST APT 4",
            "",
            "SPRINGFIELD",
            "IL",
            "627011234",
            "USA",
        ]);
        assert_eq!(
            standardised.as_deref(),
            Some("12 ELM ST APT 4\n\nSPRINGFIELD\nIL\n62701-1234\nUS")
        );
        assert!(same(
            Field::HomeAddress,
            typed.as_deref(),
            standardised.as_deref()
        ));
        let moved = address_text(["13 Elm Street", "", "Springfield", "IL", "62701", "US"]);
        assert!(!same(
            Field::HomeAddress,
            typed.as_deref(),
            moved.as_deref()
        ));
        assert_eq!(address_text(["", " ", "", "", "", "US"]), None);
        // Canonical text normalises to itself.
        let text = standardised.unwrap();
        assert_eq!(
            normalise(Field::HomeAddress, &text).as_deref(),
            Some(text.as_str())
        );
    }

    #[test]
    fn unicode_forms_are_one_value_written_composed() {
        // R27: "Jörg" decomposed is "Jörg", and is written composed.
        let decomposed = "Jo\u{308}rg";
        assert_eq!(
            normalise(Field::FirstName, decomposed).as_deref(),
            Some("J\u{f6}rg")
        );
        assert!(same(Field::LastName, Some(decomposed), Some("J\u{f6}rg")));
    }

    // R27: a canonical value normalises to itself, so a stored base compares like a fresh read.
    #[test]
    fn normalising_twice_changes_nothing() {
        let samples = [
            (Field::LastName, " o\u{2019}Neil  Smith "),
            (Field::Gender, "M"),
            (Field::Birthdate, "--02-29"),
            (Field::Anniversary, "2001-06-09T00:00:00Z"),
            (
                Field::HomeAddress,
                " 1  A St \n\n x \nnew york\n123456789\nusa",
            ),
            (Field::HomePhone, "+1 (217) 555-0100"),
            (Field::WorkPhone, "+44 20 7946 0958 ext 2"),
            (Field::Email, " X@Y.Org "),
        ];
        for (field, raw) in samples {
            let once = normalise(field, raw);
            assert!(once.is_some(), "{field:?} {raw:?}");
            let twice = once.as_deref().and_then(|v| normalise(field, v));
            assert_eq!(once, twice, "{field:?}");
        }
    }

    // R27: dates as ISO; Rock's year-less birth date in ISO's year-less form.
    #[test]
    fn dates_are_iso() {
        assert_eq!(
            normalise(Field::Birthdate, "1970-02-03").as_deref(),
            Some("1970-02-03")
        );
        assert_eq!(
            normalise(Field::Birthdate, "1970-02-03T00:00:00Z").as_deref(),
            Some("1970-02-03")
        );
        assert_eq!(
            normalise(Field::Birthdate, "--02-29").as_deref(),
            Some("--02-29")
        );
        for bad in [
            "1970-02-30",
            "1970-2-3",
            "03/02/1970",
            "",
            "1970-13-01",
            "--1-1",
        ] {
            assert_eq!(normalise(Field::Birthdate, bad), None, "{bad}");
        }
        let yearless = Date {
            year: None,
            month: 5,
            day: 17,
        };
        assert_eq!(date_text(yearless).as_deref(), Some("--05-17"));
        assert!(matches!(
            parse_date("--05-17"),
            Some(Date {
                year: None,
                month: 5,
                day: 17
            })
        ));
        assert_eq!(normalise(Field::Gender, "f"), Some("Female".into()));
        assert_eq!(normalise(Field::Gender, "unknown"), None);
    }

    // R12: changed on one side only: copied to the other.
    #[test]
    fn a_change_on_one_side_is_copied_to_the_other() {
        let base = snap(&[(Field::LastName, "Smith"), (Field::Email, "a@x.org")]);
        let rock = snap(&[(Field::LastName, "Smyth"), (Field::Email, "a@x.org")]);
        let pco = snap(&[(Field::LastName, "Smith"), (Field::Email, "b@x.org")]);
        let m = merge3(&base, &rock, &pco);
        assert_eq!(m.to_pco, [change(Field::LastName, Some("Smyth"))]);
        assert_eq!(m.to_rock, [change(Field::Email, Some("b@x.org"))]);
        assert!(m.conflicts.is_empty());
        assert_eq!(m.base.get(Field::LastName), Some("Smyth"));
        assert_eq!(m.base.get(Field::Email), Some("b@x.org"));
        // A clear is a change too.
        let cleared = snap(&[(Field::LastName, "Smith")]);
        let m = merge3(&base, &cleared, &base);
        assert_eq!(m.to_pco, [change(Field::Email, None)]);
        assert_eq!(m.base.entry(Field::Email), Some(None));
    }

    // R12: changed on neither side, or on both alike: nothing is written.
    #[test]
    fn no_change_or_the_same_change_writes_nothing() {
        let base = snap(&[(Field::MobilePhone, "2175550100")]);
        let m = merge3(&base, &base, &base);
        assert!(m.writes_nothing() && m.conflicts.is_empty());
        assert_eq!(m.base.values, base.values);
        let rock = snap(&[(Field::MobilePhone, "217-555-0199")]);
        let pco = snap(&[(Field::MobilePhone, "(217) 555-0199")]);
        let m = merge3(&base, &rock, &pco);
        assert!(m.writes_nothing() && m.conflicts.is_empty());
        assert_eq!(m.base.get(Field::MobilePhone), Some("(217) 555-0199"));
    }

    // R12, R26: changed on both sides: Rock wins by default, the conflict is reported.
    #[test]
    fn a_conflict_keeps_rocks_value_by_default() {
        let base = snap(&[(Field::LastName, "Smith")]);
        let rock = snap(&[(Field::LastName, "Smyth")]);
        let pco = snap(&[(Field::LastName, "Smithe")]);
        for newest in [Side::Rock, Side::Pco] {
            let m = merge(Some(&base), &rock, &pco, ROCK_WINS, newest, &[]);
            assert_eq!(m.to_pco, [change(Field::LastName, Some("Smyth"))]);
            assert!(m.to_rock.is_empty());
            assert_eq!(
                m.conflicts,
                [Conflict {
                    field: Field::LastName,
                    rock: Some("Smyth".into()),
                    pco: Some("Smithe".into()),
                    kept: Side::Rock,
                }]
            );
            assert_eq!(m.base.get(Field::LastName), Some("Smyth"));
        }
    }

    // R26: newest-wins keeps the value of the side modified most recently.
    #[test]
    fn newest_wins_keeps_the_newer_side() {
        let base = snap(&[(Field::Birthdate, "1970-02-03")]);
        let rock = snap(&[(Field::Birthdate, "1970-02-04")]);
        let pco = snap(&[(Field::Birthdate, "1971-02-03")]);
        let m = merge(Some(&base), &rock, &pco, NEWEST_WINS, Side::Pco, &[]);
        assert_eq!(m.to_rock, [change(Field::Birthdate, Some("1971-02-03"))]);
        assert!(m.to_pco.is_empty());
        assert_eq!(m.conflicts[0].kept, Side::Pco);
        assert_eq!(m.base.get(Field::Birthdate), Some("1971-02-03"));
        let m = merge(Some(&base), &rock, &pco, NEWEST_WINS, Side::Rock, &[]);
        assert_eq!(m.to_pco, [change(Field::Birthdate, Some("1970-02-04"))]);
        assert_eq!(m.conflicts[0].kept, Side::Rock);
        // One-sided changes are copied whatever the policy.
        let m = merge(Some(&base), &rock, &base, NEWEST_WINS, Side::Pco, &[]);
        assert_eq!(m.to_pco, [change(Field::Birthdate, Some("1970-02-04"))]);
        assert!(m.conflicts.is_empty());
    }

    // R10: a disabled field is never written either way and keeps its base.
    #[test]
    fn disabled_fields_are_left_alone() {
        let base = snap(&[(Field::MiddleName, "Lee"), (Field::Gender, "Male")]);
        let rock = snap(&[(Field::MiddleName, "Leigh"), (Field::Gender, "Male")]);
        let pco = snap(&[(Field::MiddleName, "Lee"), (Field::Gender, "Female")]);
        let disabled = vec!["middle-name".to_string(), " GENDER ".to_string()];
        let m = merge(Some(&base), &rock, &pco, ROCK_WINS, Side::Rock, &disabled);
        assert!(m.writes_nothing() && m.conflicts.is_empty());
        assert_eq!(m.base.get(Field::MiddleName), Some("Lee"));
        assert_eq!(m.base.get(Field::Gender), Some("Male"));
        // Disabled from the first link: not in the base, so enabling it later is a first link.
        let m = merge(None, &rock, &pco, ROCK_WINS, Side::Rock, &disabled);
        assert!(m.writes_nothing());
        assert_eq!(m.base.entry(Field::MiddleName), None);
        assert!(
            create_person_request(&rock, 1, NICK, &disabled)
                .body
                .is_some_and(|b| { !String::from_utf8_lossy(&b).contains("middle_name") })
        );
    }

    // R1, R12: first link: Rock's value wins where it has one, PCO fills blanks, no conflicts.
    #[test]
    fn first_link_prefers_rock_and_fills_blanks_from_pco() {
        let rock = snap(&[(Field::LastName, "Smith"), (Field::Email, "a@x.org")]);
        let pco = snap(&[
            (Field::LastName, "Smythe"),
            (Field::Email, "A@X.org"),
            (Field::WorkPhone, "2175550123"),
        ]);
        let m = merge(None, &rock, &pco, ROCK_WINS, Side::Pco, &[]);
        assert_eq!(m.to_pco, [change(Field::LastName, Some("Smith"))]);
        assert_eq!(
            m.to_rock,
            [change(Field::WorkPhone, Some("(217) 555-0123"))]
        );
        assert!(m.conflicts.is_empty());
        assert_eq!(m.base.get(Field::WorkPhone), Some("(217) 555-0123"));
        assert_eq!(m.base.entry(Field::MobilePhone), Some(None));
        // The same applies to a field the base does not know yet.
        let mut base = snap(&[(Field::LastName, "Smith"), (Field::Email, "a@x.org")]);
        base.values.remove(&Field::WorkPhone);
        let m = merge3(&base, &rock, &pco);
        assert_eq!(
            m.to_rock,
            [
                // With a base, PCO's last name is a one-sided change (R12).
                change(Field::LastName, Some("Smythe")),
                change(Field::WorkPhone, Some("(217) 555-0123"))
            ]
        );
        assert!(m.to_pco.is_empty() && m.conflicts.is_empty());
    }

    // R27: Rock clears the anniversary of an unmarried person: never copy PCO's into it.
    #[test]
    fn an_unmarried_persons_anniversary_is_skipped_not_copied() {
        let mut person = rock_person();
        person.married = false;
        person.anniversary = None;
        let rock = Snapshot::from_rock(&person, NICK);
        let pco = Snapshot::from_pco(&pco_person(), NICK);
        let m = merge(None, &rock, &pco, ROCK_WINS, Side::Rock, &[]);
        assert!(m.writes_nothing(), "{m:?}");
        assert_eq!(m.skipped.len(), 1);
        assert_eq!(
            (m.skipped[0].field, m.skipped[0].side),
            (Field::Anniversary, Side::Rock)
        );
        // Next run: still nothing written.
        let again = merge(Some(&m.base), &rock, &pco, ROCK_WINS, Side::Rock, &[]);
        assert!(again.writes_nothing());
        // Married before (base holds the date), now divorced: Rock's blank is not a change.
        let base = Snapshot::from_pco(&pco_person(), NICK);
        let m = merge(Some(&base), &rock, &pco, ROCK_WINS, Side::Rock, &[]);
        assert!(m.writes_nothing() && m.skipped.is_empty());
        assert_eq!(m.base.get(Field::Anniversary), Some("2001-06-09"));
        // Once married in Rock, PCO's date is copied.
        person.married = true;
        let married = Snapshot::from_rock(&person, NICK);
        let m = merge(None, &married, &pco, ROCK_WINS, Side::Rock, &[]);
        assert_eq!(m.to_rock, [change(Field::Anniversary, Some("2001-06-09"))]);
    }

    // R27: a Rock birth date without a year never ping-pongs.
    #[test]
    fn a_birthdate_without_a_year_is_never_sent_and_never_bounces() {
        let mut person = rock_person();
        person.birthdate = Some(Date {
            year: None,
            month: 2,
            day: 3,
        });
        let rock = Snapshot::from_rock(&person, NICK);
        assert_eq!(rock.get(Field::Birthdate), Some("--02-03"));
        // PCO has the same day with a year: the same value.
        let pco = Snapshot::from_pco(&pco_person(), NICK);
        let m = merge(None, &rock, &pco, ROCK_WINS, Side::Rock, &[]);
        assert!(m.writes_nothing() && m.skipped.is_empty(), "{m:?}");
        assert!(merge3(&m.base, &rock, &pco).writes_nothing());
        // PCO has none: nothing to send, said once.
        let mut none = pco_person();
        none.birthdate = None;
        let pco = Snapshot::from_pco(&none, NICK);
        let m = merge(None, &rock, &pco, ROCK_WINS, Side::Rock, &[]);
        assert!(m.writes_nothing());
        assert_eq!(m.skipped[0].field, Field::Birthdate);
        let again = merge3(&m.base, &rock, &pco);
        assert!(again.writes_nothing() && again.skipped.is_empty());
        // PCO has another day: cleared there, then quiet.
        let mut other = pco_person();
        other.birthdate = Some("1970-09-09".into());
        let pco = Snapshot::from_pco(&other, NICK);
        let m = merge(None, &rock, &pco, ROCK_WINS, Side::Rock, &[]);
        assert_eq!(m.to_pco, [change(Field::Birthdate, None)]);
        let cleared = Snapshot::from_pco(&none, NICK);
        assert!(merge3(&m.base, &rock, &cleared).writes_nothing());
        // A year added in PCO later is a PCO change with Rock unchanged... but it agrees with
        // Rock's day, so nothing moves.
        assert!(merge3(&m.base, &rock, &Snapshot::from_pco(&pco_person(), NICK)).writes_nothing());
    }

    // R27 (Rock-side simulation): Rock's save hooks as research/rock.md §2-4 describes them.
    fn rock_saves(person: &mut Person, changes: &[FieldValue]) {
        let fix_case = |s: String| {
            let s = clean_name(&s);
            if s.chars().any(char::is_uppercase) {
                s
            } else {
                let mut c = s.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default()
            }
        };
        let digits = |p: Option<String>| {
            p.map(|p| p.chars().filter(char::is_ascii_digit).collect::<String>())
        };
        for change in changes.iter().cloned() {
            match change {
                FieldValue::FirstName(v) => person.first_name = fix_case(v),
                FieldValue::NickName(v) => person.nick_name = fix_case(v),
                FieldValue::MiddleName(v) => person.middle_name = fix_case(v),
                FieldValue::LastName(v) => person.last_name = fix_case(v),
                FieldValue::Gender(g) => person.gender = g,
                FieldValue::Birthdate(d) => person.birthdate = d,
                FieldValue::Anniversary(d) => person.anniversary = d,
                FieldValue::HomeAddress(a) => {
                    person.home_address = a.map(|a| Address {
                        street1: a.street1.to_uppercase().replace("STREET", "ST"),
                        postal_code: format!("{}-0001", &a.postal_code[..5]),
                        ..a
                    })
                }
                FieldValue::HomePhone(p) => person.home_phone = digits(p),
                FieldValue::WorkPhone(p) => person.work_phone = digits(p),
                FieldValue::MobilePhone(p) => person.mobile_phone = digits(p),
                FieldValue::Email(e) => person.email = e,
            }
        }
        if person.nick_name.is_empty() {
            person.nick_name = person.first_name.clone();
        }
        if !person.married {
            person.anniversary = None;
        }
    }

    // R27 (PCO-side simulation): applies the requests as the sandbox does (edits.rs).
    fn pco_saves(person: &mut PcoPersonFull, requests: &[Request]) {
        for (n, request) in requests.iter().enumerate() {
            let body: Value = request
                .body
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or_default();
            let attrs = &body["data"]["attributes"];
            let text = |k: &str| attrs[k].as_str().map(|s| s.trim().to_string());
            let parts: Vec<&str> = request.path.trim_start_matches('/').split('/').collect();
            match (&request.method, parts.as_slice()) {
                (Method::Patch, ["people", "v2", "people", _]) => {
                    for (key, slot) in [
                        ("first_name", &mut person.first_name),
                        ("given_name", &mut person.given_name),
                        ("nickname", &mut person.nickname),
                        ("middle_name", &mut person.middle_name),
                        ("last_name", &mut person.last_name),
                    ] {
                        if attrs.get(key).is_some() {
                            *slot = text(key).unwrap_or_default();
                        }
                    }
                    for (key, slot) in [
                        ("gender", &mut person.gender),
                        ("birthdate", &mut person.birthdate),
                        ("anniversary", &mut person.anniversary),
                    ] {
                        if attrs.get(key).is_some() {
                            *slot = text(key);
                        }
                    }
                }
                (Method::Post, ["people", "v2", "people", _, kind]) => {
                    let id = format!("new{n}");
                    match *kind {
                        "emails" => person.emails.push(PcoEmail {
                            id,
                            ..PcoEmail::default()
                        }),
                        "phone_numbers" => person.phones.push(PcoPhone {
                            id,
                            ..PcoPhone::default()
                        }),
                        _ => person.addresses.push(PcoAddress {
                            id,
                            ..PcoAddress::default()
                        }),
                    }
                    let id = format!("new{n}");
                    apply_contact(person, &id, attrs);
                }
                (Method::Patch, ["people", "v2", _, id]) => apply_contact(person, id, attrs),
                (Method::Delete, ["people", "v2", _, id]) => {
                    person.emails.retain(|e| e.id != *id);
                    person.phones.retain(|p| p.id != *id);
                    person.addresses.retain(|a| a.id != *id);
                }
                other => panic!("unexpected request {other:?}"),
            }
        }
    }

    fn apply_contact(person: &mut PcoPersonFull, id: &str, attrs: &Value) {
        let set = |slot: &mut String, key: &str| {
            if let Some(v) = attrs[key].as_str() {
                *slot = v.trim().to_string();
            }
        };
        let flag = |slot: &mut bool| {
            if let Some(v) = attrs["primary"].as_bool() {
                *slot = v;
            }
        };
        for e in person.emails.iter_mut().filter(|e| e.id == id) {
            set(&mut e.address, "address");
            set(&mut e.location, "location");
            flag(&mut e.primary);
        }
        for p in person.phones.iter_mut().filter(|p| p.id == id) {
            set(&mut p.number, "number");
            set(&mut p.location, "location");
            flag(&mut p.primary);
            // PCO formats the US numbers it can parse.
            p.number = normalise_phone(&p.number).unwrap_or_default();
        }
        for a in person.addresses.iter_mut().filter(|a| a.id == id) {
            for (slot, key) in [
                (&mut a.street_line_1, "street_line_1"),
                (&mut a.street_line_2, "street_line_2"),
                (&mut a.city, "city"),
                (&mut a.state, "state"),
                (&mut a.zip, "zip"),
                (&mut a.country_code, "country_code"),
                (&mut a.location, "location"),
            ] {
                set(slot, key);
            }
            flag(&mut a.primary);
        }
    }

    /// One run: merge, then each side stores its writes as it would. Returns the merge.
    fn run(
        base: Option<&Snapshot>,
        rock: &mut Person,
        pco: &mut PcoPersonFull,
        source: FirstNameSource,
    ) -> Merge {
        let m = merge(
            base,
            &Snapshot::from_rock(rock, source),
            &Snapshot::from_pco(pco, source),
            ROCK_WINS,
            Side::Rock,
            &[],
        );
        rock_saves(rock, &to_field_values(&m.to_rock));
        pco_saves(pco, &pco_requests(&m.to_pco, pco, source));
        m
    }

    // R27: a run followed by a run with nothing changed writes nothing, even though both
    // sides rewrote what they were sent.
    #[test]
    fn a_second_run_writes_nothing() {
        for source in [FirstNameSource::NickName, FirstNameSource::FirstName] {
            let mut rock = rock_person();
            rock.work_phone = None;
            rock.last_name = "smith-jones".into();
            let mut pco = PcoPersonFull {
                id: "101".into(),
                first_name: "bobby".into(),
                phones: work_phone_placeholder(),
                ..PcoPersonFull::default()
            };
            let first = run(None, &mut rock, &mut pco, source);
            assert!(!first.writes_nothing());
            let second = run(Some(&first.base), &mut rock, &mut pco, source);
            assert!(second.writes_nothing(), "{source:?}: {second:?}");
            // Now a change on each side...
            rock.mobile_phone = Some("217 555 0142".into());
            pco.last_name = "Smith Jones".into();
            let third = run(Some(&second.base), &mut rock, &mut pco, source);
            assert_eq!(
                third.to_pco,
                [change(Field::MobilePhone, Some("(217) 555-0142"))]
            );
            assert_eq!(
                third.to_rock,
                [change(Field::LastName, Some("Smith Jones"))]
            );
            // ...reaches the other side, and the run after writes nothing.
            assert_eq!(rock.last_name, "Smith Jones");
            assert_eq!(
                pco.phone(PhoneLocation::Mobile).map(|p| p.number.as_str()),
                Some("(217) 555-0142")
            );
            let fourth = run(Some(&third.base), &mut rock, &mut pco, source);
            assert!(fourth.writes_nothing(), "{source:?}: {fourth:?}");
        }
    }

    fn work_phone_placeholder() -> Vec<PcoPhone> {
        vec![PcoPhone {
            id: "9".into(),
            number: "217-555-0777".into(),
            location: "Work".into(),
            primary: false,
        }]
    }
}

#[cfg(test)]
mod write_tests {
    use super::*;
    use crate::bindings::rockpco::sync::pco::Method;
    use crate::pco_people::{PcoEmail, PcoPhone};

    fn change(field: Field, value: Option<&str>) -> (Field, Option<String>) {
        (field, value.map(str::to_string))
    }

    fn body(request: &Request) -> Value {
        request
            .body
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default()
    }

    // R10: Rock's patch carries each field in Rock's types.
    #[test]
    fn rock_updates_are_field_values() {
        let values = to_field_values(&[
            change(Field::FirstName, Some("Robert")),
            change(Field::MiddleName, None),
            change(Field::Gender, Some("Female")),
            change(Field::Birthdate, Some("1970-02-03")),
            change(Field::Anniversary, None),
            change(
                Field::HomeAddress,
                Some("1 A St\n\nSpringfield\nIL\n62701\nUS"),
            ),
            change(Field::MobilePhone, Some("(217) 555-0100")),
            change(Field::Email, None),
        ]);
        let debug = format!("{values:?}");
        assert_eq!(values.len(), 8, "{debug}");
        assert!(matches!(&values[0], FieldValue::FirstName(n) if n == "Robert"));
        assert!(matches!(&values[1], FieldValue::MiddleName(n) if n.is_empty()));
        assert!(matches!(values[2], FieldValue::Gender(Gender::Female)));
        assert!(matches!(
            values[3],
            FieldValue::Birthdate(Some(Date {
                year: Some(1970),
                month: 2,
                day: 3
            }))
        ));
        assert!(matches!(values[4], FieldValue::Anniversary(None)));
        assert!(matches!(&values[5], FieldValue::HomeAddress(Some(a))
            if a.street1 == "1 A St" && a.postal_code == "62701" && a.country == "US"));
        assert!(matches!(&values[6], FieldValue::MobilePhone(Some(p)) if p == "(217) 555-0100"));
        assert!(matches!(values[7], FieldValue::Email(None)));
        // A value that is not a date is left out rather than written wrong.
        assert!(to_field_values(&[change(Field::Birthdate, Some("soon"))]).is_empty());
    }

    // R10: attribute changes go in one PATCH; contact changes pick the right records.
    #[test]
    fn pco_writes_combine_attributes_and_pick_contacts() {
        let current = PcoPersonFull {
            id: "101".into(),
            emails: vec![PcoEmail {
                id: "8".into(),
                address: "old@x.org".into(),
                location: "Home".into(),
                primary: true,
            }],
            phones: vec![PcoPhone {
                id: "5".into(),
                number: "(217) 555-0100".into(),
                location: "Home".into(),
                primary: false,
            }],
            ..PcoPersonFull::default()
        };
        let requests = pco_requests(
            &[
                change(Field::LastName, Some("Smyth")),
                change(Field::Email, Some("new@x.org")),
                change(Field::NickName, Some("Bob")),
                change(Field::Gender, None),
                change(Field::Birthdate, Some("1970-02-03")),
                change(Field::HomePhone, None),
                change(Field::MobilePhone, Some("(217) 555-0142")),
                change(
                    Field::HomeAddress,
                    Some("1 A St\nUnit 2\nSpringfield\nIL\n62701\n"),
                ),
            ],
            &current,
            FirstNameSource::NickName,
        );
        let summary: Vec<(String, String)> = requests
            .iter()
            .map(|r| (format!("{:?}", r.method), r.path.clone()))
            .collect();
        let expected = [
            ("Patch", "/people/v2/people/101"),
            ("Patch", "/people/v2/emails/8"),
            ("Delete", "/people/v2/phone_numbers/5"),
            ("Post", "/people/v2/people/101/phone_numbers"),
            ("Post", "/people/v2/people/101/addresses"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(m, p)| (format!("Method::{m}"), (*p).to_string()))
            .collect();
        assert_eq!(summary, expected);
        assert_eq!(
            body(&requests[0])["data"],
            json!({"type": "Person", "id": "101", "attributes": {"last_name": "Smyth",
                "first_name": "Bob", "gender": null, "birthdate": "1970-02-03"}})
        );
        assert_eq!(
            body(&requests[3])["data"]["attributes"],
            json!({"number": "(217) 555-0142", "location": "Mobile", "primary": false})
        );
        assert_eq!(
            body(&requests[4])["data"]["attributes"],
            json!({"street_line_1": "1 A St", "street_line_2": "Unit 2", "city": "Springfield",
                "state": "IL", "zip": "62701", "location": "Home", "primary": true})
        );
        assert!(pco_requests(&[], &current, FirstNameSource::NickName).is_empty());
    }

    // R4, R6: a person about to be created: merged against an empty snapshot, every Rock
    // value is planned for PCO, and the contact records are created under the new id.
    #[test]
    fn a_new_person_gets_every_rock_value() {
        let mut rock = Snapshot::default();
        rock.set(Field::LastName, Some("Smith"));
        rock.set(Field::Email, Some("bob@x.org"));
        rock.set(Field::WorkPhone, Some("2175550123"));
        rock.set(Field::HomeAddress, Some("1 A St\n\nX\nIL\n62701\nUS"));
        let m = merge(
            None,
            &rock,
            &Snapshot::default(),
            ConflictPolicy::RockWins,
            Side::Rock,
            &[],
        );
        assert_eq!(m.to_pco.len(), 4);
        assert!(m.to_rock.is_empty() && m.conflicts.is_empty());
        let created = PcoPersonFull {
            id: "77".into(),
            ..PcoPersonFull::default()
        };
        let requests = pco_requests(&m.to_pco, &created, FirstNameSource::NickName);
        let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/people/v2/people/77",
                "/people/v2/people/77/addresses",
                "/people/v2/people/77/phone_numbers",
                "/people/v2/people/77/emails"
            ]
        );
    }

    // R6: a new PCO person carries the Rock id in remote_id.
    #[test]
    fn a_created_person_carries_the_rock_id() {
        let mut rock = Snapshot::default();
        rock.set(Field::FirstName, Some("Robert"));
        rock.set(Field::NickName, Some("Bob"));
        rock.set(Field::LastName, Some("Smith"));
        rock.set(Field::Birthdate, Some("--02-03"));
        rock.set(Field::Email, Some("bob@x.org"));
        let request = create_person_request(&rock, 42, FirstNameSource::NickName, &[]);
        assert!(matches!(request.method, Method::Post));
        assert_eq!(request.path, "/people/v2/people");
        assert_eq!(
            body(&request)["data"],
            json!({"type": "Person", "attributes": {"given_name": "Robert", "first_name": "Bob",
                "last_name": "Smith", "remote_id": 42}})
        );
    }
}
