//! A deterministic congregation, the one source of seed data for both sandboxes.
//!
//! The Rock sandbox and the PCO sandbox load from the same [`Congregation`], so tests can make
//! the two sides overlap as they would in a real church: most people in both systems, some only
//! in Rock, some only in PCO, a few whose email or nick name drifted apart in PCO.
//!
//! Same `(size, seed)` in, same congregation out, on every machine.

use serde::{Deserialize, Serialize};

mod generate;

pub use generate::TWO_ACCOUNTS_FROM;
mod names;

/// Rock's gender enum (0 unknown, 1 male, 2 female).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Gender {
    Unknown,
    Male,
    Female,
}

/// A calendar date as Rock stores a birth date: the year may be unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Date {
    pub year: Option<i32>,
    pub month: u8,
    pub day: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub street1: String,
    pub street2: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
}

/// PCO Services permission levels, lowest to highest (SPEC R15).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    ScheduledViewer,
    Viewer,
    Scheduler,
    Editor,
    Administrator,
}

/// Rock's account protection profile (R4: High and Extreme are never matched automatically).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protection {
    Low,
    Medium,
    High,
    Extreme,
}

/// Which systems hold a person when the sandboxes start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Presence {
    RockOnly,
    PcoOnly,
    Both,
}

/// One person, as the church knows them. Phone numbers are ten digits, unformatted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Stable index of this person in the congregation (0-based); not an id of either system.
    pub key: u32,
    pub first_name: String,
    pub nick_name: String,
    pub middle_name: String,
    pub last_name: String,
    pub gender: Gender,
    pub birthdate: Option<Date>,
    pub married: bool,
    pub anniversary: Option<Date>,
    pub email: Option<String>,
    pub home_phone: Option<String>,
    pub work_phone: Option<String>,
    pub mobile_phone: Option<String>,
    pub address: Option<Address>,
    pub protection: Protection,
    pub presence: Presence,
    /// When present in PCO: the email PCO holds, if it drifted from Rock's (None: same as Rock).
    pub pco_email_drift: Option<String>,
    /// When present in PCO: the first name (Rock nick name) PCO holds, if it drifted.
    pub pco_nick_drift: Option<String>,
    /// When present in PCO: the last name as PCO holds it, if it was typed differently there
    /// (a curly apostrophe, decomposed accents): the same name to a person, not to a byte
    /// comparison.
    #[serde(default)]
    pub pco_last_name_drift: Option<String>,
    /// When present in PCO: their Services permission level there.
    pub pco_level: Option<Level>,
    /// When present in PCO: an organization administrator (SPEC R50).
    pub pco_org_admin: bool,
    /// When present in PCO: archived in Services (SPEC R51).
    pub pco_archived: bool,
    /// When present in PCO: indexes into `Congregation::accounts` of the accounts that hold this
    /// person (the drift, level, admin and archived values above apply in each). Empty for
    /// `RockOnly` people.
    pub pco_accounts: Vec<usize>,
    /// Index into `Congregation::groups` of the Rock groups this person is an active member of.
    pub groups: Vec<usize>,
    /// Tags as `account name:tag group name:tag name` (e.g. `Main Campus:Teams:Kids`).
    /// For people in Rock: the values of their "PCO Tags" person attribute. When the person is
    /// also in PCO, the PCO sandbox seeds the same tags there (the state the last sync left);
    /// for `PcoOnly` people these are simply the tags PCO holds.
    pub pco_tags: Vec<String>,
}

/// A Rock group; some are configured to sync to a PCO account with a permission level, some
/// are mapped to a PCO tag, some are neither (they must be ignored by the sync).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    /// Name of the Rock group type (e.g. "Serving Team", "Small Group").
    pub group_type: String,
    /// The PCO account this group syncs to, if any (group attribute in Rock).
    pub pco_account: Option<String>,
    /// The permission level this group grants, if configured (group attribute in Rock).
    pub level: Option<Level>,
    /// The PCO tag (`tag group name:tag name`) this group is mapped to, if any.
    pub tag: Option<String>,
}

/// A PCO tag, grouped as PCO groups them (Services tag groups of type person).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub group: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Congregation {
    /// The PCO account (organization) names; the first is the main one.
    pub accounts: Vec<String>,
    pub tags: Vec<Tag>,
    pub groups: Vec<Group>,
    pub people: Vec<Member>,
}

impl Congregation {
    /// A congregation of `people` people, the same for the same `(people, seed)` on every
    /// machine (pinned by a fingerprint test).
    ///
    /// - Presence: about 70% in both systems, 20% only in Rock, 10% only in PCO; of those in
    ///   both, about 3% have a drifted email and 3% a drifted first name in PCO.
    /// - Households share a last name, address and home phone; couples are married with an
    ///   anniversary, single adults and children are not. Common names repeat. About 10% have
    ///   no email; emails are unique except that some young children use a parent's.
    /// - Accounts "Main Campus" and, from 50 people, "North Campus", each with a few
    ///   organization administrators; a few people archived, a few with High or Extreme
    ///   protection.
    /// - Groups: serving teams with an account and a level (all five levels), serving teams
    ///   mapped to a tag, a "Security Role" group configured like a synced one (syncs only if
    ///   the sync enables that group type), and plain small groups and a prayer team.
    pub fn generate(people: usize, seed: u64) -> Congregation {
        generate::generate(people, seed)
    }

    /// PCO people whose `remote_id` holds an unrelated Rock person's id, as a church that moved
    /// into PCO from another system has them: `(key of the PCO person, key of the Rock person
    /// whose id they carry)`. The PCO sandbox does not seed them; a harness sets them.
    pub fn foreign_remote_ids(&self) -> Vec<(u32, u32)> {
        generate::foreign_remote_ids(&self.people)
    }

    /// The index of the account with this name.
    pub fn account_index(&self, name: &str) -> Option<usize> {
        self.accounts.iter().position(|a| a == name)
    }

    /// The people PCO holds in the account with index `account`, in key order.
    pub fn pco_people(&self, account: usize) -> impl Iterator<Item = &Member> {
        self.people
            .iter()
            .filter(move |m| m.in_pco() && m.pco_accounts.contains(&account))
    }

    /// The people Rock holds, in key order.
    pub fn rock_people(&self) -> impl Iterator<Item = &Member> {
        self.people.iter().filter(|m| m.in_rock())
    }
}

impl Member {
    pub fn in_rock(&self) -> bool {
        self.presence != Presence::PcoOnly
    }

    pub fn in_pco(&self) -> bool {
        self.presence != Presence::RockOnly
    }

    /// The first name PCO shows (PCO `first_name`): Rock's nick name unless it drifted.
    pub fn pco_first_name(&self) -> &str {
        self.pco_nick_drift.as_deref().unwrap_or(&self.nick_name)
    }

    /// The email PCO holds: Rock's unless it drifted.
    /// The last name PCO holds.
    pub fn pco_last_name(&self) -> &str {
        self.pco_last_name_drift
            .as_deref()
            .unwrap_or(&self.last_name)
    }

    pub fn pco_email(&self) -> Option<&str> {
        self.pco_email_drift.as_deref().or(self.email.as_deref())
    }

    /// This person's tags in the named account, as `(tag group name, tag name)`.
    pub fn pco_tags_in<'a>(&'a self, account: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.pco_tags.iter().filter_map(move |t| {
            let rest = t.strip_prefix(account)?.strip_prefix(':')?;
            rest.split_once(':')
        })
    }
}

impl Level {
    /// The string PCO Services uses for this level in `permissions`.
    pub fn pco_name(self) -> &'static str {
        match self {
            Level::ScheduledViewer => "Scheduled Viewer",
            Level::Viewer => "Viewer",
            Level::Scheduler => "Scheduler",
            Level::Editor => "Editor",
            Level::Administrator => "Administrator",
        }
    }

    /// The level PCO names `name` (exact, as PCO writes it).
    pub fn from_pco_name(name: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.pco_name() == name)
    }

    /// Every level, lowest first.
    pub const ALL: [Level; 5] = [
        Level::ScheduledViewer,
        Level::Viewer,
        Level::Scheduler,
        Level::Editor,
        Level::Administrator,
    ];
}

#[cfg(test)]
mod tests;
