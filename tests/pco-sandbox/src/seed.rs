//! Builds the sandbox's starting state: accounts with credentials, tag groups, email templates,
//! and (from a [`Congregation`]) the people PCO already holds.

use congregation::{Congregation, Gender, Member, Presence};

use crate::AccountCredentials;
use crate::model::{
    Account, Counters, Email, EmailTemplate, ORG_IDS, Person, PersonApp, Phone, PostalAddress,
    SERVICES_APP_ID, ServicesPerson, Store, TAG_GROUP_IDS, TAG_IDS, TEMPLATE_IDS, Tag, TagGroup,
    WELCOME_TEMPLATE, normalise_phone,
};

/// Tag groups an account gets when no congregation says otherwise (the congregation's set).
const DEFAULT_TAGS: &[(&str, &[&str])] = &[
    ("Teams", &["Worship", "Tech", "Kids", "Hospitality"]),
    ("Skills", &["Vocals", "Guitar", "Sound"]),
];

/// Seeded people's stamps lie this far before the clock's start, one second apart in
/// congregation order, so every write made afterwards is newer than all of them.
const SEED_AGE_SECS: i64 = 30 * 86_400;

pub fn build(
    account_names: &[String],
    seed: u64,
    congregation: Option<&Congregation>,
    now: i64,
) -> (Store, Vec<AccountCredentials>) {
    let mut store = Store::default();
    let mut credentials = Vec::new();
    let tags: Vec<(String, String)> = match congregation {
        Some(c) => c
            .tags
            .iter()
            .map(|t| (t.group.clone(), t.name.clone()))
            .collect(),
        None => DEFAULT_TAGS
            .iter()
            .flat_map(|(g, names)| names.iter().map(move |n| (g.to_string(), n.to_string())))
            .collect(),
    };
    let mut next_group = TAG_GROUP_IDS + 1;
    let mut next_tag = TAG_IDS + 1;
    for (i, name) in account_names.iter().enumerate() {
        let cred = AccountCredentials {
            name: name.clone(),
            app_id: hex_token(seed, i as u64, 1),
            secret: hex_token(seed, i as u64, 2),
        };
        let mut account = Account {
            name: name.clone(),
            org_id: ORG_IDS + i as u64 + 1,
            people: Default::default(),
            contact_owner: Default::default(),
            tag_groups: Vec::new(),
            tags: Vec::new(),
            templates: templates(i as u64, now),
            files: Default::default(),
            mergers: Vec::new(),
        };
        for (group, tag) in &tags {
            let group_id = match account.tag_groups.iter().find(|g| &g.name == group) {
                Some(g) => g.id,
                None => {
                    account.tag_groups.push(TagGroup {
                        id: next_group,
                        name: group.clone(),
                    });
                    next_group += 1;
                    next_group - 1
                }
            };
            account.tags.push(Tag {
                id: next_tag,
                group_id,
                name: tag.clone(),
            });
            next_tag += 1;
        }
        credentials.push(cred);
        store.accounts.push(account);
    }
    if let Some(c) = congregation {
        for (i, name) in account_names.iter().enumerate() {
            let Some(index) = c.account_index(name) else {
                continue;
            };
            for member in c.pco_people(index) {
                let (account, next) = store.split(i);
                add_member(
                    account,
                    next,
                    member,
                    now - SEED_AGE_SECS + i64::from(member.key),
                );
            }
        }
    }
    (store, credentials)
}

fn templates(account: u64, now: i64) -> Vec<EmailTemplate> {
    let base = TEMPLATE_IDS + account * 10;
    [
        (WELCOME_TEMPLATE, "welcome"),
        ("Volunteer Onboarding", "custom"),
        ("Schedule Reminder", "custom"),
    ]
    .iter()
    .enumerate()
    .map(|(n, (subject, kind))| EmailTemplate {
        id: base + n as u64 + 1,
        subject: subject.to_string(),
        kind: kind.to_string(),
        created_at: now - SEED_AGE_SECS * 2,
    })
    .collect()
}

/// A deterministic 64-hex-digit token (PCO's application ids and secrets look like this).
fn hex_token(seed: u64, account: u64, stream: u64) -> String {
    let mut state = seed
        ^ account.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
    (0..4)
        .map(|_| format!("{:016x}", splitmix64(&mut state)))
        .collect()
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn full_date(d: Option<congregation::Date>) -> Option<time::Date> {
    let d = d?;
    let month = time::Month::try_from(d.month).ok()?;
    time::Date::from_calendar_date(d.year?, month, d.day).ok()
}

fn some_text(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn add_member(account: &mut Account, next: &mut Counters, m: &Member, stamp: i64) {
    let id = Counters::take(&mut next.person);
    let mut p = Person {
        id,
        congregation_key: Some(m.key),
        first_name: Some(m.pco_first_name().to_string()),
        // People added in PCO by hand rarely carry a legal first name; synced ones do.
        given_name: (m.presence == Presence::Both || m.nick_name != m.first_name)
            .then(|| m.first_name.clone()),
        middle_name: some_text(&m.middle_name),
        last_name: Some(m.pco_last_name().to_string()),
        gender: match m.gender {
            Gender::Male => Some("M".into()),
            Gender::Female => Some("F".into()),
            Gender::Unknown => None,
        },
        birthdate: full_date(m.birthdate),
        anniversary: full_date(m.anniversary),
        site_administrator: m.pco_org_admin,
        membership: Some("Member".into()),
        child: m.birthdate.and_then(|d| d.year).is_some_and(|y| y >= 2013),
        created_at: stamp - SEED_AGE_SECS,
        updated_at: stamp,
        ..Person::default()
    };
    if let Some(address) = m.pco_email() {
        let e = Email {
            id: Counters::take(&mut next.email),
            address: address.to_string(),
            location: "Home".into(),
            primary: true,
            created_at: stamp,
            updated_at: stamp,
        };
        p.emails.push(e);
    }
    let phones = [
        (&m.mobile_phone, "Mobile"),
        (&m.home_phone, "Home"),
        (&m.work_phone, "Work"),
    ];
    for (number, location) in phones {
        let Some(number) = number else { continue };
        let primary = p.phones.is_empty();
        let ph = Phone {
            id: Counters::take(&mut next.phone),
            number: normalise_phone(number),
            carrier: None,
            location: location.into(),
            primary,
            created_at: stamp,
            updated_at: stamp,
        };
        p.phones.push(ph);
    }
    if let Some(a) = &m.address {
        p.addresses.push(PostalAddress {
            id: Counters::take(&mut next.address),
            street_line_1: a.street1.clone(),
            street_line_2: a.street2.clone(),
            city: a.city.clone(),
            state: a.state.clone(),
            zip: a.postal_code.clone(),
            country_code: a.country.clone(),
            location: "Home".into(),
            primary: true,
            created_at: stamp,
            updated_at: stamp,
        });
    }
    if let Some(level) = m.pco_level {
        p.apps.push(PersonApp {
            id: Counters::take(&mut next.person_app),
            app_id: SERVICES_APP_ID,
        });
        let tags = m
            .pco_tags_in(&account.name)
            .filter_map(|(group, name)| {
                let g = account.tag_groups.iter().find(|g| g.name == group)?;
                account
                    .tags
                    .iter()
                    .find(|t| t.group_id == g.id && t.name == name)
                    .map(|t| t.id)
            })
            .collect();
        p.services = Some(ServicesPerson {
            level,
            archived_at: m.pco_archived.then_some(stamp),
            tags,
            created_at: stamp,
            updated_at: stamp,
        });
    }
    for contact in p
        .emails
        .iter()
        .map(|e| e.id)
        .chain(p.phones.iter().map(|x| x.id))
        .chain(p.addresses.iter().map(|a| a.id))
    {
        account.contact_owner.insert(contact, id);
    }
    account.people.insert(id, p);
}
