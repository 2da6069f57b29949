//! The generator behind [`Congregation::generate`].
//!
//! People are made household by household, so a family shares a last name, an address and a
//! home phone, and married adults share an anniversary. Everything is drawn from one ChaCha8
//! stream seeded with the caller's seed, and integer ranges are drawn as `u32` (rand samples
//! those the same way on every platform), so a `(people, seed)` pair gives the same
//! congregation everywhere.

use std::collections::HashSet;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::names;
use crate::{Address, Congregation, Date, Gender, Group, Level, Member, Presence, Protection, Tag};

/// Tag groups and their tags, as every PCO account of the congregation has them.
const TAGS: &[(&str, &[&str])] = &[
    ("Teams", &["Worship", "Tech", "Kids", "Hospitality"]),
    ("Skills", &["Vocals", "Guitar", "Sound"]),
];

/// Below this many people the congregation has a single PCO account.
/// Congregations of at least this many people have two PCO accounts (SPEC R3).
pub const TWO_ACCOUNTS_FROM: usize = 50;

pub(crate) fn generate(people: usize, seed: u64) -> Congregation {
    let mut g = Generator::new(seed);
    let accounts = if people >= TWO_ACCOUNTS_FROM {
        vec!["Main Campus".to_string(), "North Campus".to_string()]
    } else {
        vec!["Main Campus".to_string()]
    };
    let tags = TAGS
        .iter()
        .flat_map(|(group, names)| {
            names.iter().map(|name| Tag {
                group: group.to_string(),
                name: name.to_string(),
            })
        })
        .collect();
    let plan = GroupPlan::new(&accounts, people);
    let mut members = Vec::with_capacity(people);
    while members.len() < people {
        g.household(people - members.len(), &mut members);
    }
    for member in &mut members {
        g.presence_and_groups(member, &plan, &accounts);
    }
    ensure_a_few(&mut g, &mut members, accounts.len());
    unkind_names(seed, &mut members);
    Congregation {
        accounts,
        tags,
        groups: plan.groups,
        people: members,
    }
}

/// The Rock groups and how likely a volunteer is to join each.
struct GroupPlan {
    groups: Vec<Group>,
    /// `(group index, weight)` of serving groups (with a level or a tag) for volunteers.
    serving: Vec<(usize, u32)>,
    /// Groups neither synced nor tagged (small groups and the prayer team).
    small_groups: Vec<usize>,
    staff: usize,
}

impl GroupPlan {
    fn new(accounts: &[String], people: usize) -> GroupPlan {
        let main = accounts[0].as_str();
        let north = accounts.get(1).map_or(main, String::as_str);
        let mut plan = GroupPlan {
            groups: Vec::new(),
            serving: Vec::new(),
            small_groups: Vec::new(),
            staff: 0,
        };
        // Level groups: all five levels, weighted so administrators stay rare.
        let levels = [
            ("Services Administrators", main, Level::Administrator, 1),
            ("Worship Leaders", main, Level::Editor, 3),
            ("Production Schedulers", main, Level::Scheduler, 3),
            ("Ushers", main, Level::Viewer, 8),
            ("Greeters", main, Level::ScheduledViewer, 12),
            ("North Worship Leaders", north, Level::Editor, 2),
            ("North Greeters", north, Level::ScheduledViewer, 8),
        ];
        for (name, account, level, weight) in levels {
            let idx = plan.push(name, "Serving Team", Some(account), Some(level), None);
            plan.serving.push((idx, weight));
        }
        let tagged = [
            ("Worship Band", main, "Teams:Worship", 8),
            ("Tech Crew", main, "Teams:Tech", 6),
            ("Kids Ministry", main, "Teams:Kids", 8),
            ("Hospitality Team", north, "Teams:Hospitality", 6),
            ("Choir", main, "Skills:Vocals", 5),
        ];
        for (name, account, tag, weight) in tagged {
            let idx = plan.push(name, "Serving Team", Some(account), None, Some(tag));
            plan.serving.push((idx, weight));
        }
        // A security role configured like a synced group: only syncs if the sync enables
        // the "Security Role" group type (SPEC R2), which makes it a good trap for tests.
        plan.staff = plan.push(
            "Church Staff",
            "Security Role",
            Some(main),
            Some(Level::Administrator),
            None,
        );
        // A serving team nobody configured: the sync must leave it alone (SPEC R2).
        let prayer = plan.push("Prayer Team", "Serving Team", None, None, None);
        plan.small_groups.push(prayer);
        let small_groups = (people / 40).clamp(2, 200);
        for n in 1..=small_groups {
            let idx = plan.push(&format!("Small Group {n}"), "Small Group", None, None, None);
            plan.small_groups.push(idx);
        }
        plan
    }

    fn push(
        &mut self,
        name: &str,
        group_type: &str,
        account: Option<&str>,
        level: Option<Level>,
        tag: Option<&str>,
    ) -> usize {
        self.groups.push(Group {
            name: name.to_string(),
            group_type: group_type.to_string(),
            pco_account: account.map(str::to_string),
            level,
            tag: tag.map(str::to_string),
        });
        self.groups.len() - 1
    }
}

struct Generator {
    rng: ChaCha8Rng,
    /// Emails handed out so far: PCO and Rock both treat an email as someone's identity, so
    /// two different people never share one by accident.
    emails: HashSet<String>,
}

/// The year the congregation is generated "in": fixed, so ages never depend on the date the
/// generator runs.
const THIS_YEAR: u32 = 2025;

/// Who a new household member is, as decided by the household.
struct Role {
    gender: Gender,
    born: u32,
    anniversary: Option<Date>,
    parent_email: Option<String>,
}

/// What a household shares.
struct Home {
    last_name: &'static str,
    address: Option<Address>,
    home_phone: Option<String>,
    area_code: &'static str,
}

impl Generator {
    fn new(seed: u64) -> Generator {
        Generator {
            rng: ChaCha8Rng::seed_from_u64(seed),
            emails: HashSet::new(),
        }
    }

    /// A uniform index below `len` (portable: drawn as u32).
    fn index(&mut self, len: usize) -> usize {
        self.rng.random_range(0..len as u32) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn between(&mut self, low: u32, high_inclusive: u32) -> u32 {
        self.rng.random_range(low..=high_inclusive)
    }

    /// Adds one household (at most `room` people) to `out`: one or two adults of about the
    /// same age, married when two (anniversary after both came of age), and children born to
    /// them. Young children often share a parent's email, as families do in Rock.
    fn household(&mut self, room: usize, out: &mut Vec<Member>) {
        let home = self.home();
        let (adults, kids) = match self.between(0, 99) {
            0..=29 => (1, 0),
            30..=54 => (2, 0),
            55..=69 => (1, self.between(1, 3)),
            _ => (2, self.between(1, 4)),
        };
        let first_born = self.between(1945, THIS_YEAR - 22);
        let spouse_born = (first_born + self.between(0, 8))
            .saturating_sub(4)
            .min(THIS_YEAR - 20);
        let elder = first_born.max(spouse_born);
        let anniversary = (adults == 2).then(|| self.date(elder + 20, THIS_YEAR - 1, 0.97));
        let first_gender = self.gender();
        let spouse_gender = match first_gender {
            Gender::Male => Gender::Female,
            _ => Gender::Male,
        };
        let limit = out.len() + room;
        let adults = [(first_gender, first_born), (spouse_gender, spouse_born)];
        for &(gender, born) in adults
            .iter()
            .take(if anniversary.is_some() { 2 } else { 1 })
        {
            if out.len() >= limit {
                return;
            }
            let role = Role {
                gender,
                born,
                anniversary,
                parent_email: None,
            };
            let adult = self.person(out.len(), &role, &home);
            out.push(adult);
        }
        let parent_email = out.last().and_then(|parent| parent.email.clone());
        for _ in 0..kids {
            if out.len() >= limit {
                return;
            }
            let born = self.between(
                (elder + 20).min(THIS_YEAR - 1),
                (elder + 45).min(THIS_YEAR - 1),
            );
            let gender = self.gender();
            let role = Role {
                gender,
                born,
                anniversary: None,
                parent_email: parent_email.clone(),
            };
            let kid = self.person(out.len(), &role, &home);
            out.push(kid);
        }
    }

    fn gender(&mut self) -> Gender {
        if self.chance(0.5) {
            Gender::Male
        } else {
            Gender::Female
        }
    }

    fn home(&mut self) -> Home {
        let (city, state, zip, area_code) = self.pick(names::CITIES);
        let address = self.chance(0.92).then(|| {
            let number = self.between(100, 19999);
            let street = self.pick(names::STREETS);
            let suffix = self.pick(names::STREET_SUFFIXES);
            let street2 = if self.chance(0.12) {
                format!("Apt {}", self.between(1, 40))
            } else {
                String::new()
            };
            Address {
                street1: format!("{number} {street} {suffix}"),
                street2,
                city: city.to_string(),
                state: state.to_string(),
                postal_code: format!("{zip}{:02}", self.between(0, 99)),
                country: "US".to_string(),
            }
        });
        let home_phone = self.chance(0.6).then(|| self.phone(area_code));
        Home {
            last_name: self.pick(names::LAST),
            address,
            home_phone,
            area_code,
        }
    }

    /// Ten digits: a local area code, then an exchange that does not start with 0 or 1.
    fn phone(&mut self, area_code: &str) -> String {
        format!(
            "{area_code}{}{:06}",
            self.between(2, 9),
            self.between(0, 999_999)
        )
    }

    fn date(&mut self, from_year: u32, to_year: u32, year_known: f64) -> Date {
        let month = self.between(1, 12) as u8;
        let last_day = match month {
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let day = self.between(1, last_day) as u8;
        let year = self
            .chance(year_known)
            .then(|| self.between(from_year.min(to_year), to_year) as i32);
        Date { year, month, day }
    }

    fn person(&mut self, key: usize, role: &Role, home: &Home) -> Member {
        let gender = role.gender;
        let adult = role.born + 18 <= THIS_YEAR;
        let pool = if gender == Gender::Male {
            names::MALE
        } else {
            names::FEMALE
        };
        let (first, nicks) = self.pick(pool);
        // Most people go by their first name; a quarter of those who can use a nick name.
        let nick = if !nicks.is_empty() && self.chance(0.25) {
            self.pick(nicks)
        } else {
            first
        };
        let middles = if gender == Gender::Male {
            names::MIDDLE_MALE
        } else {
            names::MIDDLE_FEMALE
        };
        let middle = if self.chance(0.6) {
            self.pick(middles)
        } else {
            ""
        };
        let (known, year_known) = if adult { (0.9, 0.93) } else { (0.95, 0.98) };
        let birthdate = self
            .chance(known)
            .then(|| self.date(role.born, role.born, year_known));
        let email = self.person_email(role, nick, home.last_name);
        let mobile_phone = if adult {
            self.chance(0.85)
        } else {
            self.chance(0.2)
        };
        let mobile_phone = mobile_phone.then(|| self.phone(home.area_code));
        let work_phone = (adult && self.chance(0.2)).then(|| self.phone(home.area_code));
        let protection = match self.between(0, 999) {
            0..=9 => Protection::Extreme,
            10..=29 => Protection::High,
            30..=99 => Protection::Medium,
            _ => Protection::Low,
        };
        Member {
            key: key as u32,
            first_name: first.to_string(),
            nick_name: nick.to_string(),
            middle_name: middle.to_string(),
            last_name: home.last_name.to_string(),
            gender,
            birthdate,
            married: role.anniversary.is_some(),
            anniversary: role.anniversary,
            email,
            home_phone: home.home_phone.clone(),
            work_phone,
            mobile_phone,
            address: home.address.clone(),
            protection,
            presence: Presence::Both,
            pco_email_drift: None,
            pco_nick_drift: None,
            pco_last_name_drift: None,
            pco_level: None,
            pco_org_admin: false,
            pco_archived: false,
            pco_accounts: Vec::new(),
            groups: Vec::new(),
            pco_tags: Vec::new(),
        }
    }

    /// Adults and teenagers mostly have their own address; young children often have none
    /// or use a parent's. Overall about 10% of people have no email.
    fn person_email(&mut self, role: &Role, nick: &str, last: &str) -> Option<String> {
        if role.born + 13 <= THIS_YEAR {
            let p = if role.born + 18 <= THIS_YEAR {
                0.95
            } else {
                0.8
            };
            return self.chance(p).then(|| self.email(nick, last));
        }
        match self.between(0, 99) {
            0..=34 => None,
            35..=74 => role.parent_email.clone(),
            _ => Some(self.email(nick, last)),
        }
    }

    /// An address derived from the name, unique across the congregation; mostly lowercase,
    /// sometimes typed with capitals as people do.
    fn email(&mut self, first: &str, last: &str) -> String {
        let first = email_part(first);
        let last = email_part(last);
        let domain = self.pick(names::EMAIL_DOMAINS);
        let local = match self.between(0, 4) {
            0 | 1 => format!("{first}.{last}"),
            2 => format!("{first}{last}"),
            3 => format!("{}{last}", &first[..1]),
            _ => format!("{first}{}", self.between(1, 99)),
        };
        let mut candidate = format!("{local}@{domain}");
        while self.emails.contains(&candidate.to_lowercase()) {
            candidate = format!("{local}{}@{domain}", self.between(1, 9999));
        }
        self.emails.insert(candidate.clone());
        if self.chance(0.06) {
            capitalised(&candidate)
        } else {
            candidate
        }
    }

    fn presence_and_groups(&mut self, member: &mut Member, plan: &GroupPlan, accounts: &[String]) {
        member.presence = match self.between(0, 99) {
            0..=69 => Presence::Both,
            70..=89 => Presence::RockOnly,
            _ => Presence::PcoOnly,
        };
        if member.presence != Presence::PcoOnly {
            self.join_groups(member, plan);
        }
        if member.presence == Presence::RockOnly {
            // Not in PCO yet: only tags picked by hand in Rock (the sync will push them).
            self.hand_picked_tags(member, &accounts[0], 0.04);
            return;
        }
        self.pco_state(member, plan, accounts);
    }

    fn join_groups(&mut self, member: &mut Member, plan: &GroupPlan) {
        let adult = member
            .birthdate
            .is_none_or(|d| d.year.is_none_or(|y| y as u32 + 18 <= THIS_YEAR));
        if adult && self.chance(0.35) {
            let first = self.weighted(&plan.serving);
            member.groups.push(first);
            if self.chance(0.15) {
                let second = self.weighted(&plan.serving);
                if second != first {
                    member.groups.push(second);
                }
            }
        }
        if adult && self.chance(0.01) {
            member.groups.push(plan.staff);
        }
        if self.chance(0.4) {
            member.groups.push(self.pick(&plan.small_groups));
        }
    }

    fn weighted(&mut self, choices: &[(usize, u32)]) -> usize {
        let total: u32 = choices.iter().map(|(_, w)| w).sum();
        let mut roll = self.rng.random_range(0..total);
        for &(idx, weight) in choices {
            if roll < weight {
                return idx;
            }
            roll -= weight;
        }
        choices[choices.len() - 1].0
    }

    /// Extra tags of `account` chosen by hand, not controlled by any group.
    fn hand_picked_tags(&mut self, member: &mut Member, account: &str, p: f64) {
        if self.chance(p) {
            let skill = self.pick(TAGS[1].1);
            push_unique(&mut member.pco_tags, format!("{account}:Skills:{skill}"));
        }
    }

    /// Which accounts hold this PCO person and what PCO says about them there.
    fn pco_state(&mut self, member: &mut Member, plan: &GroupPlan, accounts: &[String]) {
        let group_accounts: Vec<usize> = member
            .groups
            .iter()
            .filter_map(|&g| plan.groups[g].pco_account.as_deref())
            .filter_map(|name| accounts.iter().position(|a| a == name))
            .collect();
        member.pco_accounts = if group_accounts.is_empty() {
            vec![if accounts.len() > 1 && self.chance(0.2) {
                1
            } else {
                0
            }]
        } else {
            let mut found = group_accounts;
            found.sort_unstable();
            found.dedup();
            found
        };
        // Tags of mapped groups are mostly already in place (the last sync set them).
        for &g in &member.groups {
            let group = &plan.groups[g];
            if let (Some(tag), Some(account)) = (&group.tag, &group.pco_account)
                && self.chance(0.85)
            {
                push_unique(&mut member.pco_tags, format!("{account}:{tag}"));
            }
        }
        let home_account = &accounts[member.pco_accounts[0]];
        self.hand_picked_tags(member, home_account, 0.08);
        member.pco_level = Some(self.pco_level(member, plan));
        if member.presence == Presence::Both {
            if self.chance(0.03) {
                member.pco_email_drift = member.email.as_ref().map(|_| self.drifted_email(member));
            }
            if self.chance(0.03) {
                member.pco_nick_drift = drifted_nick(member);
            }
        }
        member.pco_archived = self.chance(0.03);
    }

    /// Mostly the level the person's groups give; sometimes someone changed it by hand in PCO.
    fn pco_level(&mut self, member: &Member, plan: &GroupPlan) -> Level {
        let from_groups = member
            .groups
            .iter()
            .filter_map(|&g| plan.groups[g].level)
            .max()
            .unwrap_or(Level::ScheduledViewer);
        if self.chance(0.1) {
            const ALL: [Level; 5] = [
                Level::ScheduledViewer,
                Level::Viewer,
                Level::Scheduler,
                Level::Editor,
                Level::Administrator,
            ];
            let weights = [(0, 40), (1, 30), (2, 15), (3, 10), (4, 5)];
            ALL[self.weighted(&weights)]
        } else {
            from_groups
        }
    }

    fn drifted_email(&mut self, member: &Member) -> String {
        let local = format!(
            "{}.{}",
            email_part(&member.nick_name),
            email_part(&member.last_name)
        );
        loop {
            let candidate = format!(
                "{local}{}@{}",
                self.between(1, 9999),
                self.pick(names::EMAIL_DOMAINS)
            );
            if self.emails.insert(candidate.clone()) {
                return candidate;
            }
        }
    }
}

/// PCO's first name, drifted: the formal name where Rock uses a nick name, else a nick name.
fn drifted_nick(member: &Member) -> Option<String> {
    if member.nick_name != member.first_name {
        return Some(member.first_name.clone());
    }
    let pool = if member.gender == Gender::Male {
        names::MALE
    } else {
        names::FEMALE
    };
    pool.iter()
        .find(|(first, _)| *first == member.first_name)
        .and_then(|(_, nicks)| nicks.first())
        .map(|nick| nick.to_string())
}

/// Lowercase letters only ("O'Brien" → "obrien", "De La Cruz" → "delacruz", "Élodie" →
/// "elodie").
fn email_part(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    name.nfd()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// "john.smith@gmail.com" → "John.Smith@gmail.com" (people capitalise the part they typed).
fn capitalised(email: &str) -> String {
    let (local, domain) = email.split_once('@').unwrap_or((email, ""));
    let words: Vec<String> = local
        .split('.')
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    format!("{}@{domain}", words.join("."))
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}

/// Makes sure the rare cases tests rely on exist in any congregation big enough to hold them:
/// a High and an Extreme protection profile, a few organization administrators, a few
/// archived people. Chosen with the same rng, so still deterministic.
fn ensure_a_few(g: &mut Generator, members: &mut [Member], accounts: usize) {
    if members.len() < 10 {
        return;
    }
    for protection in [Protection::High, Protection::Extreme] {
        if !members.iter().any(|m| m.protection == protection) {
            let i = g.index(members.len());
            members[i].protection = protection;
        }
    }
    let in_pco: Vec<usize> = (0..members.len())
        .filter(|&i| members[i].pco_level.is_some())
        .collect();
    if in_pco.is_empty() {
        return;
    }
    // Every account gets its own few organization administrators.
    for account in 0..accounts {
        let candidates: Vec<usize> = in_pco
            .iter()
            .copied()
            .filter(|&i| members[i].pco_accounts.contains(&account))
            .collect();
        if candidates.is_empty() {
            continue;
        }
        for _ in 0..(candidates.len() / 200).clamp(2, 12) {
            let i = g.pick(&candidates);
            members[i].pco_org_admin = true;
            members[i].pco_archived = false;
        }
    }
    if !members.iter().any(|m| m.pco_archived) {
        let i = g.pick(&in_pco);
        if !members[i].pco_org_admin {
            members[i].pco_archived = true;
        }
    }
}

/// Real lists are unkind: some households carry accented, apostrophed or hyphenated names, and
/// PCO often holds them typed differently from Rock (a curly apostrophe, decomposed accents);
/// a child may share both name and email with a parent. Drawn from a stream of its own, after
/// everything else, so the rest of a seed's congregation stays as it was.
fn unkind_names(seed: u64, members: &mut [Member]) {
    let mut g = Generator::new(seed ^ 0x756e_6b69_6e64);
    let mut i = 0;
    while i < members.len() {
        let household = household_end(members, i);
        if g.chance(0.08) {
            let last = g.pick(names::UNKIND_LAST).to_string();
            for member in &mut members[i..household] {
                member.last_name = last.clone();
            }
        }
        for member in &mut members[i..household] {
            if g.chance(0.04) {
                let pool = if member.gender == Gender::Male {
                    names::UNKIND_MALE
                } else {
                    names::UNKIND_FEMALE
                };
                let first = g.pick(pool).to_string();
                member.first_name = first.clone();
                member.nick_name = first;
            }
        }
        i = household;
    }
    for member in members.iter_mut().filter(|m| m.presence == Presence::Both) {
        if g.chance(0.5) {
            member.pco_last_name_drift = typed_differently(&member.last_name);
        }
        if member.pco_nick_drift.is_none() && g.chance(0.5) {
            member.pco_nick_drift = typed_differently(&member.nick_name);
        }
    }
    junior_sharing_a_parents_name_and_email(members);
}

/// The members of the household that starts at `start` (same last name and address).
fn household_end(members: &[Member], start: usize) -> usize {
    let same =
        |m: &Member| m.last_name == members[start].last_name && m.address == members[start].address;
    start + members[start..].iter().take_while(|m| same(m)).count()
}

/// The name as another keyboard or system types it: a curly apostrophe for a straight one,
/// accents decomposed (NFD); None when it would look the same.
fn typed_differently(name: &str) -> Option<String> {
    use unicode_normalization::UnicodeNormalization;
    let typed: String = name.replace('\'', "\u{2019}").nfd().collect();
    (typed != name).then_some(typed)
}

/// The first child who shares a parent's email becomes that parent's namesake (a "Jr."): two
/// people with one name and one email, whom no match may tell apart.
fn junior_sharing_a_parents_name_and_email(members: &mut [Member]) {
    let pair = (1..members.len()).find_map(|i| {
        let child = &members[i];
        let parent = (0..i).rev().take(6).find(|&p| {
            members[p].gender == child.gender
                && members[p].last_name == child.last_name
                && members[p].email.is_some()
                && members[p].email == child.email
        })?;
        Some((parent, i))
    });
    if let Some((parent, child)) = pair {
        let (first, nick) = (
            members[parent].first_name.clone(),
            members[parent].nick_name.clone(),
        );
        members[child].first_name = first;
        members[child].nick_name = nick;
    }
}

/// Churches that moved into PCO from another system kept that system's ids in PCO's
/// `remote_id`, and those overlap Rock's ids. A few PCO people (in PCO only, or in both) with
/// a Services level carry the key of an unrelated Rock person who is synced somewhere (the
/// protected ones first): `(key of the PCO person, key of the Rock person whose id they
/// carry)`. Derived from the people alone (no draw from the stream), so every other value of
/// a congregation stays what its fingerprint pins.
pub(crate) fn foreign_remote_ids(members: &[Member]) -> Vec<(u32, u32)> {
    let carriers: Vec<&Member> = members
        .iter()
        .filter(|m| m.in_pco() && m.pco_level.is_some() && !m.pco_archived)
        .collect();
    let mut targets: Vec<&Member> = members
        .iter()
        .filter(|m| m.in_rock() && (!m.groups.is_empty() || !m.pco_tags.is_empty()))
        .collect();
    let protected = |m: &Member| matches!(m.protection, Protection::High | Protection::Extreme);
    targets.sort_by_key(|m| (!protected(m), m.key));
    let wanted = (carriers.len() / 12).clamp(2, 40);
    let mut pairs = Vec::new();
    let mut used = HashSet::new();
    for (n, carrier) in carriers.iter().skip(3).step_by(7).take(wanted).enumerate() {
        let Some(target) = targets
            .iter()
            .cycle()
            .skip(n)
            .take(targets.len())
            .find(|t| t.last_name != carrier.last_name && !used.contains(&t.key))
        else {
            break;
        };
        used.insert(target.key);
        pairs.push((carrier.key, target.key));
    }
    pairs
}
