//! The offline demo: a generated congregation held in memory on both sides, so a new user sees
//! what the guest decides without any server. (The end-to-end demo against the local Rock and
//! PCO sandboxes replaces this once the HTTP capabilities exist.)

use std::collections::BTreeMap;
use std::sync::Arc;

use congregation::{Congregation, Member};
use serde_json::{Value, json};

use crate::bindings::engine::{Account, ConflictPolicy, FirstNameSource, TagGroup};
use crate::bindings::pco::{Method, Request, Response};
use crate::bindings::rock::{Group, GroupType, Membership, Person, Protection};
use crate::bindings::types::{Address, Date, Error, ErrorKind, Gender, PermissionLevel};
use crate::testing::{MemoryRock, RockData, ScriptedPco, json_response};

/// Rock ids in the demo start here, as they would in a real install (never 1, 2, 3...).
const FIRST_PERSON_ID: i64 = 1000;
const FIRST_GROUP_ID: i64 = 200;
const FIRST_GROUP_TYPE_ID: i64 = 20;

/// The in-memory Rock, the scripted PCO and the account settings of a demo congregation.
pub struct DemoWorld {
    pub rock: Arc<MemoryRock>,
    pub pco: Arc<ScriptedPco>,
    pub account: Account,
}

pub fn world(congregation: &Congregation) -> DemoWorld {
    let account_name = congregation.accounts[0].clone();
    let (groups, group_types) = rock_groups(congregation);
    let account = Account {
        name: account_name.clone(),
        welcome_template: Some("Planning Center Welcome E-Mail".into()),
        allow_downgrade: false,
        updates_only: false,
        conflict_policy: ConflictPolicy::RockWins,
        first_name_source: FirstNameSource::NickName,
        disabled_fields: vec![],
        enabled_group_types: group_types.keys().cloned().collect(),
        tag_groups: congregation
            .groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.pco_account.as_deref() == Some(&account_name))
            .filter_map(|(index, g)| {
                Some(TagGroup {
                    tag: g.tag.clone()?,
                    group_id: FIRST_GROUP_ID + index as i64,
                })
            })
            .collect(),
        brake_percent: 10,
    };
    let rock = RockData {
        groups,
        members: congregation
            .rock_people()
            .flat_map(|m| {
                m.groups.iter().map(move |g| Membership {
                    group_id: FIRST_GROUP_ID + *g as i64,
                    person_id: rock_id(m),
                })
            })
            .collect(),
        people: congregation
            .rock_people()
            .map(|m| (rock_id(m), rock_person(m)))
            .collect(),
        ..Default::default()
    };
    let pco_people = pco_documents(congregation, 0);
    DemoWorld {
        rock: Arc::new(MemoryRock::new(rock)),
        pco: Arc::new(ScriptedPco::new(move |_, request| {
            answer(&pco_people, request)
        })),
        account,
    }
}

fn rock_id(member: &Member) -> i64 {
    FIRST_PERSON_ID + i64::from(member.key)
}

fn rock_groups(congregation: &Congregation) -> (Vec<Group>, BTreeMap<String, i64>) {
    let mut types = BTreeMap::new();
    for group in &congregation.groups {
        let next = FIRST_GROUP_TYPE_ID + types.len() as i64;
        types.entry(group.group_type.clone()).or_insert(next);
    }
    let groups = congregation
        .groups
        .iter()
        .enumerate()
        .map(|(index, g)| Group {
            id: FIRST_GROUP_ID + index as i64,
            name: g.name.clone(),
            group_type: GroupType {
                id: types[&g.group_type],
                guid: String::new(),
                name: g.group_type.clone(),
            },
            is_active: true,
            pco_account: g.pco_account.clone(),
            level: g.level.map(level),
        })
        .collect();
    (groups, types)
}

fn level(level: congregation::Level) -> PermissionLevel {
    match level {
        congregation::Level::ScheduledViewer => PermissionLevel::ScheduledViewer,
        congregation::Level::Viewer => PermissionLevel::Viewer,
        congregation::Level::Scheduler => PermissionLevel::Scheduler,
        congregation::Level::Editor => PermissionLevel::Editor,
        congregation::Level::Administrator => PermissionLevel::Administrator,
    }
}

fn rock_person(m: &Member) -> Person {
    let date = |d: &congregation::Date| Date {
        year: d.year,
        month: d.month,
        day: d.day,
    };
    Person {
        id: rock_id(m),
        first_name: m.first_name.clone(),
        nick_name: m.nick_name.clone(),
        middle_name: m.middle_name.clone(),
        last_name: m.last_name.clone(),
        gender: match m.gender {
            congregation::Gender::Male => Gender::Male,
            congregation::Gender::Female => Gender::Female,
            congregation::Gender::Unknown => Gender::Unknown,
        },
        birthdate: m.birthdate.as_ref().map(date),
        married: m.married,
        anniversary: m.anniversary.as_ref().map(date),
        email: m.email.clone(),
        home_address: m.address.as_ref().map(|a| Address {
            street1: a.street1.clone(),
            street2: a.street2.clone(),
            city: a.city.clone(),
            state: a.state.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }),
        home_phone: m.home_phone.clone(),
        work_phone: m.work_phone.clone(),
        mobile_phone: m.mobile_phone.clone(),
        photo_id: None,
        protection: match m.protection {
            congregation::Protection::Low => Protection::Low,
            congregation::Protection::Medium => Protection::Medium,
            congregation::Protection::High => Protection::High,
            congregation::Protection::Extreme => Protection::Extreme,
        },
        pco_tags: m.pco_tags.clone(),
        modified: None,
    }
}

/// PCO People person resources (with their email resources) of one account.
fn pco_documents(congregation: &Congregation, account: usize) -> Vec<(Value, Option<Value>)> {
    congregation
        .pco_people(account)
        .map(|m| {
            let id = (5_000_000 + m.key).to_string();
            let email = m.pco_email().map(|address| {
                json!({"type": "Email", "id": format!("e{id}"), "attributes": {"address": address, "primary": true}})
            });
            let person = json!({
                "type": "Person",
                "id": id,
                "attributes": {
                    "first_name": m.pco_first_name(),
                    "given_name": m.first_name,
                    "last_name": m.last_name,
                },
                "relationships": {"emails": {"data": email.iter().map(|e| json!({"type": "Email", "id": e["id"]})).collect::<Vec<_>>()}},
            });
            (person, email)
        })
        .collect()
}

/// Answers `GET /people/v2/people` pages; anything else is refused as the demo cannot write.
fn answer(people: &[(Value, Option<Value>)], request: &Request) -> Result<Response, Error> {
    if request.method != Method::Get || request.path != "/people/v2/people" {
        return Err(Error::new(
            ErrorKind::Invalid,
            format!(
                "the offline demo answers only people pages, not {}",
                request.path
            ),
        ));
    }
    let number = |name: &str, default: usize| {
        request
            .query
            .iter()
            .find(|(key, _)| key == name)
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(default)
    };
    let (offset, per_page) = (number("offset", 0), number("per_page", 25).min(100));
    let page: Vec<_> = people.iter().skip(offset).take(per_page).collect();
    Ok(json_response(&json!({
        "data": page.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        "included": page.iter().filter_map(|(_, e)| e.as_ref()).collect::<Vec<_>>(),
        "meta": {"total_count": people.len(), "count": page.len()},
    })))
}
