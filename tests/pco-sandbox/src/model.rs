//! What the sandbox stores: accounts (PCO organizations) with their people, contact records,
//! Services state, tags and email templates. Plain data; the rules live in the route modules.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use congregation::Level;
use time::{Date, Month};

/// Id ranges per kind, so an id seen in a log says what it is. Ids are handed out in order, so a
/// sandbox seeded the same way numbers everything the same way.
pub const PERSON_IDS: u64 = 10_000_000;
pub const EMAIL_IDS: u64 = 20_000_000;
pub const PHONE_IDS: u64 = 30_000_000;
pub const ADDRESS_IDS: u64 = 40_000_000;
pub const PERSON_APP_IDS: u64 = 50_000_000;
pub const MERGER_IDS: u64 = 60_000_000;
pub const ORG_IDS: u64 = 900_000;
pub const TAG_GROUP_IDS: u64 = 700;
pub const TAG_IDS: u64 = 7_000;
pub const TEMPLATE_IDS: u64 = 80_000;

/// PCO's app ids as the sandbox numbers them (`GET /people/v2/apps`). Research: Services is
/// "I think it's 2" (#1328); clients should look it up rather than hard-code it.
pub const APPS: &[(u64, &str)] = &[
    (1, "Calendar"),
    (2, "Services"),
    (3, "Check-Ins"),
    (4, "Giving"),
    (5, "Groups"),
    (6, "People"),
];
pub const SERVICES_APP_ID: u64 = 2;

/// The welcome template every account has (the 9 Embers plugin's default choice, seed 000).
pub const WELCOME_TEMPLATE: &str = "Planning Center Welcome E-Mail";

#[derive(Debug, Default)]
pub struct Store {
    pub accounts: Vec<Account>,
    pub next: Counters,
}

/// Next id per kind, shared by all accounts as PCO's ids are global.
#[derive(Debug)]
pub struct Counters {
    pub person: u64,
    pub email: u64,
    pub phone: u64,
    pub address: u64,
    pub person_app: u64,
    pub merger: u64,
    pub file: u64,
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            person: PERSON_IDS + 1,
            email: EMAIL_IDS + 1,
            phone: PHONE_IDS + 1,
            address: ADDRESS_IDS + 1,
            person_app: PERSON_APP_IDS + 1,
            merger: MERGER_IDS + 1,
            file: 1,
        }
    }
}

impl Counters {
    pub fn take(counter: &mut u64) -> u64 {
        let id = *counter;
        *counter += 1;
        id
    }
}

#[derive(Debug)]
pub struct Account {
    pub name: String,
    pub org_id: u64,
    pub people: BTreeMap<u64, Person>,
    /// Which person owns each email, phone number and address id.
    pub contact_owner: HashMap<u64, u64>,
    pub tag_groups: Vec<TagGroup>,
    pub tags: Vec<Tag>,
    pub templates: Vec<EmailTemplate>,
    pub files: HashMap<String, UploadedFile>,
    /// Merges done in PCO (`GET /people/v2/person_mergers`).
    pub mergers: Vec<PersonMerger>,
}

impl Account {
    pub fn tag(&self, id: u64) -> Option<&Tag> {
        self.tags.iter().find(|t| t.id == id)
    }

    pub fn template(&self, id: u64) -> Option<&EmailTemplate> {
        self.templates.iter().find(|t| t.id == id)
    }

    /// Ids of this account's organization administrators.
    pub fn org_admins(&self) -> Vec<u64> {
        self.people
            .values()
            .filter(|p| p.site_administrator)
            .map(|p| p.id)
            .collect()
    }

    pub fn owner_of(&self, contact_id: u64) -> Option<&Person> {
        self.contact_owner
            .get(&contact_id)
            .and_then(|pid| self.people.get(pid))
    }
}

#[derive(Clone, Debug, Default)]
pub struct Person {
    pub id: u64,
    /// The congregation member this person was seeded from (not visible over the API).
    pub congregation_key: Option<u32>,
    /// The name the person goes by (Rock's nick name).
    pub first_name: Option<String>,
    /// The legal first name (Rock's first name).
    pub given_name: Option<String>,
    pub middle_name: Option<String>,
    pub nickname: Option<String>,
    pub last_name: Option<String>,
    /// "M" or "F".
    pub gender: Option<String>,
    pub birthdate: Option<Date>,
    pub anniversary: Option<Date>,
    pub remote_id: Option<i64>,
    pub inactivated_at: Option<i64>,
    /// Organization administrator (SPEC R50).
    pub site_administrator: bool,
    /// Accounting administrator (People `accounting_administrator`, a boolean PCO documents
    /// beside `site_administrator` with no permission level of its own: dc
    /// people/2022-07-14/person). Their names and contacts are guarded like an organization
    /// administrator's (planningcenter/developers#1139).
    pub accounting_administrator: bool,
    pub membership: Option<String>,
    pub child: bool,
    pub avatar: Option<Avatar>,
    pub created_at: i64,
    pub updated_at: i64,
    pub emails: Vec<Email>,
    pub phones: Vec<Phone>,
    pub addresses: Vec<PostalAddress>,
    pub apps: Vec<PersonApp>,
    pub services: Option<ServicesPerson>,
}

impl Person {
    /// An organization or accounting administrator: whose names and contact information only
    /// an organization administrator may edit (planningcenter/developers#1139, #1096).
    pub fn is_guarded_admin(&self) -> bool {
        self.site_administrator || self.accounting_administrator
    }

    pub fn status(&self) -> &'static str {
        if self.inactivated_at.is_some() {
            "inactive"
        } else {
            "active"
        }
    }

    /// "First Last", as PCO computes `name`.
    pub fn name(&self) -> String {
        let parts = [self.first_name.as_deref(), self.last_name.as_deref()];
        parts
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(Clone, Debug)]
pub struct Avatar {
    pub file_id: String,
    pub url: String,
}

#[derive(Clone, Debug)]
pub struct Email {
    pub id: u64,
    pub address: String,
    pub location: String,
    pub primary: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug)]
pub struct Phone {
    pub id: u64,
    /// As PCO shows it: ten-digit US numbers become "(217) 555-0100" (PCO normalises numbers
    /// it can parse; exact rules unconfirmed), anything else is kept as sent.
    pub number: String,
    pub carrier: Option<String>,
    pub location: String,
    pub primary: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Phone {
    pub fn digits(&self) -> String {
        self.number.chars().filter(char::is_ascii_digit).collect()
    }
}

#[derive(Clone, Debug)]
pub struct PostalAddress {
    pub id: u64,
    pub street_line_1: String,
    pub street_line_2: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub country_code: String,
    pub location: String,
    pub primary: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug)]
pub struct PersonApp {
    pub id: u64,
    pub app_id: u64,
}

/// A person's Services record; exists once they were given the Services app.
#[derive(Clone, Debug)]
pub struct ServicesPerson {
    /// The organization-level permission; kept while archived so tests can see what it was.
    pub level: Level,
    /// Archived (removed from Services, history kept): `permissions` then reads "Archived".
    pub archived_at: Option<i64>,
    pub tags: BTreeSet<u64>,
    pub created_at: i64,
    /// Services' own stamp; moves on permission and tag changes, unlike People's `updated_at`.
    pub updated_at: i64,
}

impl ServicesPerson {
    pub fn permissions(&self) -> &'static str {
        if self.archived_at.is_some() {
            "Archived"
        } else {
            self.level.pco_name()
        }
    }
}

#[derive(Clone, Debug)]
pub struct TagGroup {
    pub id: u64,
    pub name: String,
}

#[derive(Clone, Debug)]
pub struct Tag {
    pub id: u64,
    pub group_id: u64,
    pub name: String,
}

#[derive(Clone, Debug)]
pub struct EmailTemplate {
    pub id: u64,
    pub subject: String,
    pub kind: String,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct PersonMerger {
    pub id: u64,
    pub keep: u64,
    pub remove: u64,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct UploadedFile {
    pub name: String,
    pub content_type: String,
    pub size: usize,
    pub uploaded_at: i64,
}

/// Parses `YYYY-MM-DD` strictly (PCO's date format).
pub fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

pub fn format_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        date.month() as u8,
        date.day()
    )
}

/// US ten-digit numbers in PCO's display form; anything else unchanged.
pub fn normalise_phone(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let digits = digits
        .strip_prefix('1')
        .filter(|d| d.len() == 10)
        .unwrap_or(&digits);
    if digits.len() == 10 {
        format!("({}) {}-{}", &digits[..3], &digits[3..6], &digits[6..])
    } else {
        number.trim().to_string()
    }
}

pub fn level_from_name(name: &str) -> Option<Level> {
    Level::from_pco_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_phones() {
        assert!(parse_date("2024-02-30").is_none());
        assert!(parse_date("2024-2-3").is_none());
        assert_eq!(
            parse_date("2024-02-29").map(format_date).as_deref(),
            Some("2024-02-29")
        );
        assert_eq!(normalise_phone("2175550100"), "(217) 555-0100");
        assert_eq!(normalise_phone("+1 217 555 0100"), "(217) 555-0100");
        assert_eq!(normalise_phone("12345"), "12345");
    }
}
