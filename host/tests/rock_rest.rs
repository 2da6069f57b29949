//! The Rock capability end to end: the host's REST backend against the Rock sandbox over
//! loopback. Every trait function, paging, writes that touch only what they are given, init,
//! and faults reaching the caller as error values.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use congregation::{Congregation, Member};
use pcosync::bindings::rock::{
    Fate, GonePerson, Membership, NewPerson, PersonQuery, PersonTags, PersonUpdate, Protection,
};
use pcosync::bindings::types::{Address, Date, ErrorKind, FieldValue, Gender, PermissionLevel};
use pcosync::rock::Rock;
use pcosync::rock::rest::{AttributeNames, GroupSetup, RestRock, RestRockOptions};
use pcosync::secret::Secret;
use rock_sandbox::{ClockMode, FaultConfig, FaultKind, Right, RockSandbox, SandboxOptions};
use serde_json::Value;
use url::Url;

/// A REST key no error message may ever show.
const TOKEN: &str = "s3cret-rock-key-7f3a9";

fn sandbox_options() -> SandboxOptions {
    SandboxOptions {
        token: TOKEN.into(),
        clock: ClockMode::Fixed(1_714_521_600),
        ..SandboxOptions::default()
    }
}

async fn start(people: usize) -> (RockSandbox, Congregation) {
    let congregation = Congregation::generate(people, 7);
    let sandbox = RockSandbox::start_with(sandbox_options(), &congregation)
        .await
        .expect("the sandbox starts");
    (sandbox, congregation)
}

fn options(sandbox: &RockSandbox, token: &str) -> RestRockOptions {
    RestRockOptions {
        timeout: Duration::from_secs(5),
        backoff_base: Duration::from_millis(5),
        backoff_cap: Duration::from_millis(20),
        ..RestRockOptions::new(Url::parse(&sandbox.base_url()).unwrap(), Secret::new(token))
    }
}

async fn connect(sandbox: &RockSandbox) -> RestRock {
    RestRock::connect(options(sandbox, TOKEN))
        .await
        .expect("connects")
}

fn digits(phone: Option<&str>) -> Option<String> {
    phone.map(|p| p.chars().filter(char::is_ascii_digit).collect())
}

fn date(d: &congregation::Date) -> Date {
    Date {
        year: d.year,
        month: d.month,
        day: d.day,
    }
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

/// Write requests (anything but GET) the sandbox saw, as "METHOD path-without-query".
fn writes(sandbox: &RockSandbox) -> Vec<String> {
    sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path.split('?').next().unwrap_or("")))
        .collect()
}

fn member(c: &Congregation, wanted: impl Fn(&Member) -> bool) -> &Member {
    c.rock_people().find(|m| wanted(m)).expect("such a member")
}

#[tokio::test]
async fn account_groups_and_groups_by_id_carry_account_and_level() {
    let (sandbox, c) = start(200).await;
    let rock = connect(&sandbox).await;
    let account = &c.accounts[0];
    let groups = rock.account_groups(account).await.unwrap();
    let expected: BTreeMap<i64, &congregation::Group> = c
        .groups
        .iter()
        .enumerate()
        .filter(|(_, g)| g.pco_account.as_deref() == Some(account.as_str()))
        .map(|(i, g)| (sandbox.group_id(i).unwrap(), g))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(
        groups.iter().map(|g| g.id).collect::<BTreeSet<_>>(),
        expected.keys().copied().collect()
    );
    for group in &groups {
        let seeded = expected[&group.id];
        assert_eq!(group.name, seeded.name);
        assert_eq!(group.group_type.name, seeded.group_type);
        assert_eq!(group.pco_account.as_deref(), Some(account.as_str()));
        assert_eq!(group.level, seeded.level.map(level));
        assert!(group.is_active);
    }
    assert!(
        rock.account_groups("No Such Account")
            .await
            .unwrap()
            .is_empty()
    );

    let all: Vec<i64> = (0..c.groups.len())
        .map(|i| sandbox.group_id(i).unwrap())
        .collect();
    let by_id = rock.groups(&all).await.unwrap();
    assert_eq!(by_id.len(), c.groups.len());
    for group in &by_id {
        let index = all.iter().position(|id| *id == group.id).unwrap();
        assert_eq!(group.name, c.groups[index].name);
        assert_eq!(group.pco_account, c.groups[index].pco_account);
    }
    assert!(rock.groups(&[999_999]).await.unwrap().is_empty());
}

// R2 (c): active members only; inactive and archived memberships are left out.
// Issue 13 item 1: the member read filters the enum by name (`GroupMemberStatus eq 'Active'`);
// the sandbox, like Rock's OData v3, refuses the integer the old client sent.
#[tokio::test]
async fn active_members_of_many_groups_at_once() {
    let (sandbox, c) = start(300).await;
    let rock = connect(&sandbox).await;
    let all: Vec<i64> = (0..c.groups.len())
        .map(|i| sandbox.group_id(i).unwrap())
        .collect();
    sandbox.clear_requests();
    let members = rock.active_members(&all).await.unwrap();
    assert_eq!(sandbox.requests().len(), 1, "one request for every group");
    let got: BTreeSet<(i64, i64)> = members.iter().map(|m| (m.group_id, m.person_id)).collect();
    let sandbox = &sandbox;
    let expected: BTreeSet<(i64, i64)> = c
        .rock_people()
        .flat_map(|m| {
            let person = sandbox.person_id(m.key).unwrap();
            m.groups
                .iter()
                .map(move |g| (sandbox.group_id(*g).unwrap(), person))
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(members.len(), got.len(), "no duplicates");
}

// R2 (a): the PCO Tags attribute, split into its values.
#[tokio::test]
async fn tagged_people_are_read_from_the_pco_tags_attribute() {
    let (sandbox, c) = start(200).await;
    let rock = connect(&sandbox).await;
    let tagged = rock.tagged_people().await.unwrap();
    let got: BTreeMap<i64, Vec<String>> =
        tagged.into_iter().map(|t| (t.person_id, t.tags)).collect();
    let expected: BTreeMap<i64, Vec<String>> = c
        .rock_people()
        .filter(|m| !m.pco_tags.is_empty())
        .map(|m| (sandbox.person_id(m.key).unwrap(), m.pco_tags.clone()))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
}

// R10: every synced field as Rock holds it.
#[tokio::test]
async fn people_by_id_come_with_phones_address_tags_and_photo() {
    let (sandbox, c) = start(200).await;
    let rock = connect(&sandbox).await;
    let mut ids: Vec<i64> = c
        .rock_people()
        .map(|m| sandbox.person_id(m.key).unwrap())
        .collect();
    ids.push(999_999); // gone: left out
    let people = rock.people(&ids).await.unwrap();
    assert_eq!(people.len(), ids.len() - 1);
    assert_eq!(
        people.iter().map(|p| p.id).collect::<Vec<_>>(),
        ids[..ids.len() - 1],
        "in the order asked"
    );
    let by_key: BTreeMap<i64, &Member> = c
        .rock_people()
        .map(|m| (sandbox.person_id(m.key).unwrap(), m))
        .collect();
    let mut photos = 0;
    for p in &people {
        let m = by_key[&p.id];
        assert_eq!(
            (&p.first_name, &p.nick_name, &p.middle_name, &p.last_name),
            (&m.first_name, &m.nick_name, &m.middle_name, &m.last_name)
        );
        let gender = match m.gender {
            congregation::Gender::Male => Gender::Male,
            congregation::Gender::Female => Gender::Female,
            congregation::Gender::Unknown => Gender::Unknown,
        };
        assert_eq!(p.gender, gender);
        assert_eq!(p.email, m.email);
        assert_eq!(p.birthdate, m.birthdate.as_ref().map(date));
        assert_eq!(p.married, m.married);
        // Rock's AnniversaryDate is a full date: one without a year cannot be stored.
        let anniversary = m.anniversary.filter(|d| d.year.is_some());
        assert_eq!(p.anniversary, anniversary.as_ref().map(date), "{}", p.id);
        assert_eq!(digits(p.home_phone.as_deref()), m.home_phone);
        assert_eq!(digits(p.work_phone.as_deref()), m.work_phone);
        assert_eq!(digits(p.mobile_phone.as_deref()), m.mobile_phone);
        let address = p.home_address.as_ref().map(|a| a.street1.clone());
        assert_eq!(address, m.address.as_ref().map(|a| a.street1.clone()));
        assert_eq!(p.pco_tags, m.pco_tags);
        let protection = match m.protection {
            congregation::Protection::Low => Protection::Low,
            congregation::Protection::Medium => Protection::Medium,
            congregation::Protection::High => Protection::High,
            congregation::Protection::Extreme => Protection::Extreme,
        };
        assert_eq!(p.protection, protection);
        assert!(p.modified.is_some());
        photos += usize::from(p.photo_id.is_some());
    }
    assert!(photos > 0);
}

#[tokio::test]
async fn loading_past_a_thousand_people_pages_and_batches() {
    let (sandbox, c) = start(1_600).await;
    let rock = RestRock::connect(RestRockOptions {
        page_size: 300, // several pages per batch of 500 ids
        ..options(&sandbox, TOKEN)
    })
    .await
    .unwrap();
    let ids: Vec<i64> = c
        .rock_people()
        .map(|m| sandbox.person_id(m.key).unwrap())
        .collect();
    assert!(ids.len() > 1_000);
    sandbox.clear_requests();
    let people = rock.people(&ids).await.unwrap();
    assert_eq!(people.len(), ids.len());
    let requests = sandbox.requests().len();
    assert!(
        requests <= 20,
        "{requests} requests for {} people",
        ids.len()
    );
    let tagged = rock.tagged_people().await.unwrap();
    assert_eq!(
        tagged.len(),
        c.rock_people().filter(|m| !m.pco_tags.is_empty()).count()
    );
}

// Issue 13 item 2, issue 23: every Rock takes 100 nodes a filter (a bare `[EnableQuery]`),
// and hides why it refuses one (customErrors On), so the client counts nodes as Web API
// does and never sends more: no probe, no refusal. A Rock set lower is met with smaller
// batches after its plain "not valid".
#[tokio::test]
async fn filters_stay_within_rocks_node_limit_without_probing() {
    let congregation = Congregation::generate(300, 7);
    let sandbox = RockSandbox::start_with(sandbox_options(), &congregation)
        .await
        .unwrap();
    sandbox.clear_requests();
    let rock = connect(&sandbox).await;
    assert!(
        sandbox.requests().iter().all(|r| r.status < 400),
        "{:?}",
        sandbox.requests()
    );
    let ids: Vec<i64> = congregation
        .rock_people()
        .map(|m| sandbox.person_id(m.key).unwrap())
        .collect();
    let sparse: Vec<i64> = ids.iter().step_by(3).copied().collect();
    sandbox.clear_requests();
    let people = rock.people(&ids).await.unwrap();
    assert_eq!(people.len(), ids.len());
    let requests = sandbox.requests();
    assert!(requests.iter().all(|r| r.status == 200), "{requests:?}");
    assert!(requests.len() <= 4, "ranges keep it short: {requests:?}");

    let lower = RockSandbox::start_with(
        SandboxOptions {
            max_node_count: Some(40),
            ..sandbox_options()
        },
        &congregation,
    )
    .await
    .unwrap();
    let rock = RestRock::connect(RestRockOptions {
        page_size: 5,
        ..options(&lower, TOKEN)
    })
    .await
    .unwrap();
    let sparse: Vec<i64> = sparse
        .iter()
        .filter_map(|id| {
            let at = ids.iter().position(|i| i == id)?;
            lower.person_id(congregation.rock_people().nth(at)?.key)
        })
        .collect();
    lower.clear_requests();
    let people = rock.people(&sparse).await.unwrap();
    assert_eq!(people.len(), sparse.len());
    let refused = lower.requests().iter().filter(|r| r.status == 400).count();
    assert!(
        (1..=3).contains(&refused),
        "a lower limit costs a refusal or few, not one per batch: {refused}"
    );
}

// Issue 13 item 2: sparse ids (one asked for in every 40) joined into ranges bring back at
// most about a page of rows nobody asked for per batch, not every row between them.
#[tokio::test]
async fn sparse_ids_do_not_read_every_row_between_them() {
    let (sandbox, c) = start(1200).await;
    let rock = connect(&sandbox).await;
    let all: Vec<i64> = c
        .rock_people()
        .map(|m| sandbox.person_id(m.key).unwrap())
        .collect();
    let wanted: Vec<i64> = all.iter().step_by(40).copied().collect();
    sandbox.clear_requests();
    let people = rock.people(&wanted).await.unwrap();
    assert_eq!(people.len(), wanted.len());
    let read: usize = sandbox
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/People"))
        .filter_map(|r| r.rows)
        .sum();
    let batches = sandbox
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/People"))
        .count();
    assert!(
        read <= wanted.len() + batches * 2000,
        "{read} rows read for {} people in {batches} requests",
        wanted.len()
    );
    assert!(read < all.len(), "{read} rows read of {}", all.len());
}

// Issue 13 item 10: a DELETE whose answer was lost is retried; Rock's 404 for the row it
// already deleted counts as done.
#[tokio::test]
async fn a_retried_delete_that_finds_nothing_is_done() {
    let (sandbox, c) = start(100).await;
    let rock = connect(&sandbox).await;
    let m = member(&c, |m| m.work_phone.is_some());
    let id = sandbox.person_id(m.key).unwrap();
    sandbox.set_faults(FaultConfig {
        method: Some("DELETE".into()),
        script: vec![FaultKind::Truncated],
        ..FaultConfig::default()
    });
    sandbox.clear_requests();
    let results = rock
        .update_people(&[PersonUpdate {
            id,
            changes: vec![FieldValue::WorkPhone(None)],
        }])
        .await;
    sandbox.clear_faults();
    assert!(results[0].is_ok(), "{results:?}");
    let deletes: Vec<u16> = sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.status)
        .collect();
    assert_eq!(deletes, vec![204, 404], "served, answer lost, then 404");
    assert_eq!(rock.people(&[id]).await.unwrap()[0].work_phone, None);
}

// Issue 13 item 4: without View on an attribute Rock leaves it out of loaded rows; the
// client calls that an error naming the right, never "no tags" or "no account". People's tags
// are read from `api/AttributeValues` (issue 23, R53: people are read `$select`ed, which loads
// no attributes), a plain `ApiController` query that no attribute's security filters: the
// tags are read whole without View on the attribute.
#[tokio::test]
async fn an_attribute_the_key_may_not_view_is_an_error_not_an_empty_value() {
    let (sandbox, c) = start(100).await;
    let rock = connect(&sandbox).await;
    let tagged = member(&c, |m| !m.pco_tags.is_empty());
    let id = sandbox.person_id(tagged.key).unwrap();
    let with_view = rock.people(&[id]).await.unwrap()[0].pco_tags.clone();
    assert!(!with_view.is_empty(), "precondition: a tagged person");
    sandbox.deny(Right::ViewAttribute("PCOTags".into()));
    assert_eq!(rock.people(&[id]).await.unwrap()[0].pco_tags, with_view);
    sandbox.allow(&Right::ViewAttribute("PCOTags".into()));
    sandbox.deny(Right::ViewAttribute("PCOAccount".into()));
    let error = rock.account_groups(&c.accounts[0]).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unauthorized);
    assert!(error.message.contains("PCOAccount"), "{}", error.message);
}

// Issue 13 item 4: `missing_rights` (config check, the start of a run) names each right the
// REST key lacks, one line each with its fix; a key with every right gets none.
#[tokio::test]
async fn missing_rights_are_named_one_line_each() {
    let (sandbox, _) = start(100).await;
    let rock = connect(&sandbox).await;
    assert_eq!(
        rock.missing_rights(true).await.unwrap(),
        Vec::<String>::new()
    );
    for right in [
        Right::EditPeople,
        Right::EditGroups,
        Right::ViewAttribute("PCOTags".into()),
        Right::ViewAttribute("PCOAccount".into()),
    ] {
        sandbox.deny(right);
    }
    sandbox.clear_requests();
    // View on PCO Tags no longer matters to a read (see the test above): one line.
    let reads_only = rock.missing_rights(false).await.unwrap();
    assert_eq!(reads_only.len(), 1, "{reads_only:#?}");
    assert!(reads_only[0].contains("PCOAccount"), "{}", reads_only[0]);
    assert_eq!(
        writes(&sandbox),
        Vec::<String>::new(),
        "a run's check only reads"
    );
    let all = rock.missing_rights(true).await.unwrap();
    // The fourth: without Edit on people, not even its own person's attribute can be set.
    assert_eq!(all.len(), 4, "{all:#?}");
    assert!(all[3].contains("its own person"), "{}", all[3]);
    assert!(all[0].contains("edit people"), "{}", all[0]);
    assert!(all[1].contains("edit group"), "{}", all[1]);
    for right in [Right::EditPeople, Right::EditGroups] {
        sandbox.allow(&right);
    }
    sandbox.deny(Right::EditAttribute("PCOTags".into()));
    let with_writes = rock.missing_rights(true).await.unwrap();
    assert_eq!(with_writes.len(), 2, "{with_writes:#?}");
    assert!(with_writes[1].contains("edit the person attribute \"PCOTags\""));
}

// Issue 23: Rock allows only View on phone numbers and group locations unless Edit is granted
// (`Model.IsAllowedByDefault`); the check names both, and where the grant is made.
#[tokio::test]
async fn missing_edit_on_phones_and_addresses_is_named() {
    let congregation = Congregation::generate(60, 7);
    let sandbox = RockSandbox::start_with(
        SandboxOptions {
            entity_administration: false,
            ..sandbox_options()
        },
        &congregation,
    )
    .await
    .unwrap();
    let rock = connect(&sandbox).await;
    assert_eq!(
        rock.missing_rights(false).await.unwrap(),
        Vec::<String>::new()
    );
    let missing = rock.missing_rights(true).await.unwrap();
    assert_eq!(missing.len(), 2, "{missing:#?}");
    assert!(missing[0].contains("phone numbers"), "{}", missing[0]);
    assert!(missing[1].contains("family addresses"), "{}", missing[1]);
    assert!(
        missing
            .iter()
            .all(|line| line.contains("Entity Administration")),
        "{missing:#?}"
    );
}

// Issue 13 items 4 and 9: a tag write Rock refuses for the attribute's security (a 403 with
// only a reason phrase) says which right is missing.
#[tokio::test]
async fn a_refused_tag_write_names_the_missing_right() {
    let (sandbox, c) = start(60).await;
    let rock = connect(&sandbox).await;
    let id = sandbox.person_id(member(&c, |_| true).key).unwrap();
    sandbox.deny(Right::EditAttribute("PCOTags".into()));
    let refused = rock
        .set_tags(&[PersonTags {
            person_id: id,
            tags: vec!["Main Campus:Teams:Kids".into()],
        }])
        .await;
    let error = refused[0].as_ref().unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unauthorized);
    assert!(
        error.message.contains("Edit on that attribute"),
        "{}",
        error.message
    );
    sandbox.deny(Right::EditPeople);
    let refused = rock
        .update_people(&[PersonUpdate {
            id,
            changes: vec![FieldValue::NickName("Sunny".into())],
        }])
        .await;
    let error = refused[0].as_ref().unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unauthorized);
    assert!(error.message.contains("edit"), "{}", error.message);
}

// R7, R18 (issue 23): a merged person's old id leads to the survivor through the primary
// alias kept from an earlier read (never through `PersonAlias.AliasPersonId`, which Rock 17's
// OData model does not expose); a deceased person, whom `api/People` leaves out, is told from
// one merged away; a lookup without an alias finds nothing rather than guessing.
#[tokio::test]
async fn follow_merges_tells_merged_deceased_and_unknown_apart() {
    let (sandbox, c) = start(100).await;
    let rock = connect(&sandbox).await;
    let mut keys = c.rock_people().map(|m| m.key);
    let mut next = || sandbox.person_id(keys.next().unwrap()).unwrap();
    let (survivor, merged, deceased, present) = (next(), next(), next(), next());
    let read = rock.people(&[merged, deceased]).await.unwrap();
    let alias_of = |id: i64| read.iter().find(|p| p.id == id).unwrap().primary_alias;
    let merged_alias = alias_of(merged);
    assert!(
        merged_alias.is_some(),
        "every person row carries PrimaryAliasId"
    );
    sandbox.merge_people(survivor, merged).unwrap();
    assert!(sandbox.set_deceased(deceased, true));
    assert!(rock.people(&[merged, deceased]).await.unwrap().is_empty());
    let gone = |id: i64, primary_alias: Option<i64>| GonePerson { id, primary_alias };
    let merges = rock
        .follow_merges(&[
            gone(merged, merged_alias),
            gone(deceased, alias_of(deceased)),
            gone(present, None),
            gone(999_999, None),
            gone(merged, None),
        ])
        .await
        .unwrap();
    let fates: Vec<(i64, Fate)> = merges.into_iter().map(|m| (m.old_id, m.fate)).collect();
    assert_eq!(
        fates,
        vec![
            (merged, Fate::Merged(survivor)),
            (deceased, Fate::Deceased),
            (present, Fate::Present),
            (999_999, Fate::Unknown),
            (merged, Fate::Unknown),
        ]
    );
    let asked_alias_person = sandbox
        .requests()
        .iter()
        .any(|r| r.path.contains("AliasPersonId"));
    assert!(
        !asked_alias_person,
        "AliasPersonId is not in Rock's OData model"
    );
}

// R41: the candidates for a match are the people with the email; the guest decides on the
// names (one rule, issue 15 item 5).
#[tokio::test]
async fn find_people_answers_the_candidates_by_email() {
    let (sandbox, c) = start(200).await;
    let rock = connect(&sandbox).await;
    let m = member(&c, |m| m.email.is_some() && m.nick_name != m.first_name);
    let id = sandbox.person_id(m.key).unwrap();
    let email = m.email.clone().unwrap();
    let query = |first: &str, last: &str, email: &str| PersonQuery {
        first_name: first.into(),
        last_name: last.into(),
        email: email.into(),
    };
    sandbox.clear_requests();
    let found = rock
        .find_people(&[
            query(&m.first_name, &m.last_name, &email),
            query(
                &m.nick_name.to_uppercase(),
                &m.last_name,
                &email.to_uppercase(),
            ),
            query(&m.first_name, &m.last_name, "someone.else@example.org"),
            query(&m.first_name, "Other", &email),
            query(&m.first_name, &m.last_name, ""),
        ])
        .await
        .unwrap();
    // The people batch, their addresses, their tags and the attribute definitions (read once).
    assert!(
        sandbox.requests().len() <= 4,
        "one batch, not one call per query"
    );
    let ids: Vec<Vec<i64>> = found
        .iter()
        .map(|list| list.iter().map(|p| p.id).collect())
        .collect();
    assert_eq!(ids, vec![vec![id], vec![id], vec![], vec![id], vec![]]);
    assert_eq!(found[0][0].email.as_deref(), Some(email.as_str()));
}

// R12: a field changed on one side is the only field written.
#[tokio::test]
async fn an_update_writes_only_the_changed_field() {
    let (sandbox, c) = start(100).await;
    let rock = connect(&sandbox).await;
    let m = member(&c, |m| m.mobile_phone.is_some() && m.address.is_some());
    let id = sandbox.person_id(m.key).unwrap();
    let before = sandbox.person_dump(id).unwrap();
    sandbox.clear_requests();
    let results = rock
        .update_people(&[PersonUpdate {
            id,
            changes: vec![FieldValue::NickName("Sunny".into())],
        }])
        .await;
    assert!(results[0].is_ok(), "{results:?}");
    assert_eq!(writes(&sandbox), vec![format!("PATCH /api/People/{id}")]);
    let after = sandbox.person_dump(id).unwrap();
    assert_eq!(after["Person"]["NickName"], "Sunny");
    let unchanged = |dump: &Value| {
        let mut person = dump["Person"].clone();
        for column in ["NickName", "ModifiedDateTime", "ModifiedByPersonAliasId"] {
            person[column] = Value::Null;
        }
        let mut rest = dump.clone();
        rest["Person"] = person;
        rest
    };
    assert_eq!(unchanged(&after), unchanged(&before));
}

#[tokio::test]
async fn updates_write_phones_address_email_and_birthdate_the_rock_way() {
    let (sandbox, c) = start(100).await;
    let rock = connect(&sandbox).await;
    let m = member(&c, |m| {
        m.work_phone.is_some() && m.mobile_phone.is_some() && m.address.is_some()
    });
    let id = sandbox.person_id(m.key).unwrap();
    let address = Address {
        street1: "12 New Street".into(),
        street2: String::new(),
        city: "Springfield".into(),
        state: "IL".into(),
        postal_code: "62701".into(),
        country: "US".into(),
    };
    let birthdate = Date {
        year: None,
        month: 2,
        day: 29,
    };
    let results = rock
        .update_people(&[
            PersonUpdate {
                id,
                changes: vec![
                    FieldValue::MobilePhone(Some("555.010.9999".into())),
                    FieldValue::WorkPhone(None),
                    FieldValue::HomeAddress(Some(address.clone())),
                    FieldValue::Email(Some("new.address@example.org".into())),
                    FieldValue::Birthdate(Some(birthdate)),
                ],
            },
            PersonUpdate {
                id: 999_999,
                changes: vec![FieldValue::LastName("Nobody".into())],
            },
        ])
        .await;
    assert!(results[0].is_ok(), "{results:?}");
    assert_eq!(results[1].as_ref().unwrap_err().kind, ErrorKind::NotFound);
    let person = rock.people(&[id]).await.unwrap().remove(0);
    assert_eq!(person.mobile_phone.as_deref(), Some("(555) 010-9999"));
    assert_eq!(person.work_phone, None);
    assert_eq!(digits(person.home_phone.as_deref()), m.home_phone);
    assert_eq!(person.home_address, Some(address));
    assert_eq!(person.email.as_deref(), Some("new.address@example.org"));
    assert_eq!(person.birthdate, Some(birthdate));
    // SaveAddress keeps the old Home location as Previous.
    let dump = sandbox.person_dump(id).unwrap();
    let locations = dump["Families"][0]["GroupLocations"].as_array().unwrap();
    assert_eq!(locations.len(), 2, "{locations:?}");

    // Removing the address re-types it to Previous too; the person then has none.
    let removed = rock
        .update_people(&[PersonUpdate {
            id,
            changes: vec![FieldValue::HomeAddress(None)],
        }])
        .await;
    assert!(removed[0].is_ok(), "{removed:?}");
    assert_eq!(rock.people(&[id]).await.unwrap()[0].home_address, None);
}

// R41: a new person in a new family, with a Home address and the chosen connection status.
#[tokio::test]
async fn a_person_is_created_in_a_new_family_with_a_home_address() {
    let (sandbox, _) = start(50).await;
    let rock = connect(&sandbox).await;
    let address = Address {
        street1: "400 Maple Ave".into(),
        street2: "Apt 2".into(),
        city: "Lincoln".into(),
        state: "NE".into(),
        postal_code: "68508".into(),
        country: "US".into(),
    };
    let fields = vec![
        FieldValue::FirstName("Zelda".into()),
        FieldValue::LastName("Quixote-Imported".into()),
        FieldValue::Email(Some("zelda.q@example.org".into())),
        FieldValue::Gender(Gender::Female),
        FieldValue::Birthdate(Some(Date {
            year: Some(1990),
            month: 3,
            day: 14,
        })),
        FieldValue::MobilePhone(Some("4025550123".into())),
        FieldValue::HomeAddress(Some(address.clone())),
    ];
    let results = rock
        .create_people(&[
            NewPerson {
                fields: fields.clone(),
                connection_status: "Member".into(),
            },
            NewPerson {
                fields: vec![FieldValue::LastName("X".into())],
                connection_status: "No Such Status".into(),
            },
        ])
        .await;
    let id = *results[0].as_ref().unwrap();
    assert_eq!(results[1].as_ref().unwrap_err().kind, ErrorKind::Invalid);
    let person = rock.people(&[id]).await.unwrap().remove(0);
    assert_eq!(person.nick_name, "Zelda", "Rock defaults the nick name");
    assert_eq!(person.home_address, Some(address));
    assert_eq!(person.mobile_phone.as_deref(), Some("(402) 555-0123"));
    let dump = sandbox.person_dump(id).unwrap();
    let families = dump["Families"].as_array().unwrap();
    assert_eq!(families.len(), 1);
    assert_eq!(families[0]["Group"]["Name"], "Quixote-Imported Family");
    let homes = families[0]["GroupLocations"].as_array().unwrap();
    assert_eq!(homes.len(), 1);
    assert_eq!(homes[0]["IsMailingLocation"], true);
    let member_status = {
        let defined = reqwest::Client::new()
            .get(format!(
                "{}/api/DefinedValues?$filter=Guid eq guid'{}'",
                sandbox.base_url(),
                rock_sandbox::guids::DV_CONNECTION_MEMBER
            ))
            .header("Authorization-Token", TOKEN)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        defined[0]["Id"].clone()
    };
    assert_eq!(dump["Person"]["ConnectionStatusValueId"], member_status);

    // Creating the same person again finds them (Rock's POST is find-or-create).
    let again = rock
        .create_people(&[NewPerson {
            fields,
            connection_status: "Member".into(),
        }])
        .await;
    assert_eq!(again[0].as_ref().ok(), Some(&id));
}

// R13, R14: the tags are written to the PCO Tags attribute, and only there.
#[tokio::test]
async fn set_tags_replaces_the_attribute_value() {
    let (sandbox, c) = start(100).await;
    let rock = connect(&sandbox).await;
    let m = member(&c, |m| m.pco_tags.is_empty());
    let id = sandbox.person_id(m.key).unwrap();
    let tags = vec![
        "Main Campus:Teams:Kids".to_string(),
        "Main Campus:Teams:Band".into(),
    ];
    let before = sandbox.person_dump(id).unwrap();
    let results = rock
        .set_tags(&[
            PersonTags {
                person_id: id,
                tags: tags.clone(),
            },
            PersonTags {
                person_id: 999_999,
                tags: tags.clone(),
            },
            PersonTags {
                person_id: id,
                tags: vec!["a,b".into()],
            },
        ])
        .await;
    assert!(results[0].is_ok());
    assert_eq!(results[1].as_ref().unwrap_err().kind, ErrorKind::NotFound);
    assert_eq!(results[2].as_ref().unwrap_err().kind, ErrorKind::Invalid);
    assert_eq!(rock.people(&[id]).await.unwrap()[0].pco_tags, tags);
    // Only the stamps move: AttributeValue.SaveHook.cs stamps the person with the writer.
    let unstamped = |dump: &Value| {
        let mut person = dump["Person"].clone();
        let row = person.as_object_mut().unwrap();
        row.remove("ModifiedDateTime");
        row.remove("ModifiedByPersonAliasId");
        person
    };
    let after = sandbox.person_dump(id).unwrap();
    assert_eq!(
        unstamped(&after),
        unstamped(&before),
        "the person row is untouched"
    );
    assert_eq!(
        after["Person"]["ModifiedByPersonAliasId"].as_i64(),
        sandbox.key_aliases().0
    );
    let cleared = rock
        .set_tags(&[PersonTags {
            person_id: id,
            tags: vec![],
        }])
        .await;
    assert!(cleared[0].is_ok());
    let tagged = rock.tagged_people().await.unwrap();
    assert!(tagged.iter().all(|t| t.person_id != id));
}

// Issue 13 item 9: Rock's AttributeValue route matches the key case-sensitively; a key
// configured in another case is written as the Attributes row spells it.
#[tokio::test]
async fn tags_are_written_with_the_key_as_rock_spells_it() {
    let (sandbox, c) = start(60).await;
    let mut lower = options(&sandbox, TOKEN);
    lower.attributes.pco_tags = "pcotags".into();
    let rock = RestRock::connect(lower).await.unwrap();
    let id = sandbox
        .person_id(member(&c, |m| m.pco_tags.is_empty()).key)
        .unwrap();
    let tags = vec!["Main Campus:Teams:Kids".to_string()];
    let written = rock
        .set_tags(&[PersonTags {
            person_id: id,
            tags: tags.clone(),
        }])
        .await;
    assert!(written[0].is_ok(), "{written:?}");
    assert_eq!(rock.people(&[id]).await.unwrap()[0].pco_tags, tags);
    assert!(
        sandbox
            .requests()
            .iter()
            .any(|r| r.path.contains("attributeKey=PCOTags")),
        "written with Rock's spelling"
    );
    let mut unknown = options(&sandbox, TOKEN);
    unknown.attributes.pco_tags = "NoSuchTags".into();
    let rock = RestRock::connect(unknown).await.unwrap();
    let refused = rock
        .set_tags(&[PersonTags {
            person_id: id,
            tags,
        }])
        .await;
    let error = refused[0].as_ref().unwrap_err();
    assert_eq!(error.kind, ErrorKind::NotFound);
    assert!(
        error.message.contains("pcosync rock init"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn add_members_adds_active_members_once() {
    let (sandbox, c) = start(100).await;
    let rock = connect(&sandbox).await;
    let index = c
        .groups
        .iter()
        .position(|g| g.pco_account.is_some())
        .unwrap();
    let group = sandbox.group_id(index).unwrap();
    let outsider = member(&c, |m| !m.groups.contains(&index));
    let person = sandbox.person_id(outsider.key).unwrap();
    let insider = c.rock_people().find(|m| m.groups.contains(&index)).unwrap();
    let already = sandbox.person_id(insider.key).unwrap();
    let add = |group_id, person_id| Membership {
        group_id,
        person_id,
    };
    sandbox.clear_requests();
    let results = rock
        .add_members(&[
            add(group, person),
            add(group, already),
            add(999_999, person),
        ])
        .await;
    assert!(results[0].is_ok() && results[1].is_ok(), "{results:?}");
    assert_eq!(results[2].as_ref().unwrap_err().kind, ErrorKind::NotFound);
    assert_eq!(writes(&sandbox), vec!["POST /api/GroupMembers".to_string()]);
    let members = rock.active_members(&[group]).await.unwrap();
    assert!(members.contains(&add(group, person)));
    sandbox.clear_requests();
    let again = rock.add_members(&[add(group, person)]).await;
    assert!(again[0].is_ok());
    assert!(
        writes(&sandbox).is_empty(),
        "already a member: nothing written"
    );
}

#[tokio::test]
async fn photos_are_read_as_bytes() {
    let (sandbox, c) = start(100).await;
    let rock = connect(&sandbox).await;
    let with = member(&c, |m| m.key % 7 == 3);
    let without = member(&c, |m| m.key % 7 != 3);
    let photo = rock
        .photo(sandbox.person_id(with.key).unwrap())
        .await
        .unwrap()
        .expect("a photo");
    assert_eq!(photo.content_type, "image/png");
    assert!(photo.bytes.starts_with(b"\x89PNG"));
    let none = rock.photo(sandbox.person_id(without.key).unwrap()).await;
    assert_eq!(none.unwrap(), None);
    let missing = rock.photo(999_999).await.unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound);
}

// Issue 13 item 6 (R11): where Rock secures the Person Image file type, GetImage.ashx answers
// every REST key 403; that is "no photo readable", asked once, never a failed person.
#[tokio::test]
async fn secured_photos_are_not_readable_and_asked_for_once() {
    let (sandbox, c) = start(100).await;
    let rock = connect(&sandbox).await;
    sandbox.secure_person_images(true);
    let with: Vec<i64> = c
        .rock_people()
        .filter(|m| m.key % 7 == 3)
        .take(3)
        .map(|m| sandbox.person_id(m.key).unwrap())
        .collect();
    rock.people(&with).await.unwrap();
    sandbox.clear_requests();
    for id in &with {
        assert_eq!(rock.photo(*id).await.unwrap(), None, "person {id}");
    }
    assert!(rock.photos_unreadable());
    let images: Vec<u16> = sandbox
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/GetImage.ashx"))
        .map(|r| r.status)
        .collect();
    assert_eq!(images, vec![403], "one refusal, then no more asking");
}

/// A request to the sandbox with the REST key, answering its status and JSON body.
/// A JSON body, or none with the `Content-Length: 0` IIS wants of a body-less write (it
/// answers 411 otherwise, and reqwest sends no length for an empty body).
fn with_body(request: reqwest::RequestBuilder, body: Option<Value>) -> reqwest::RequestBuilder {
    match body {
        Some(body) => request.json(&body),
        None => request
            .header(reqwest::header::CONTENT_LENGTH, 0)
            .body(Vec::new()),
    }
}

async fn rock_call(
    sandbox: &RockSandbox,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let url = format!("{}{path}", sandbox.base_url().trim_end_matches('/'));
    let mut request = reqwest::Client::new()
        .request(method, url)
        .header("Authorization-Token", TOKEN);
    request = with_body(request, body);
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

// Seed 000 "Configure Permission Groups", R2 b, R36: `init` puts PCO Account and PCO
// Permission Level on the groups of the enabled group types only (attributes qualified by
// GroupTypeId, as Rock's group type editor saves them), PCO Account a choice of the configured
// accounts; a second run creates nothing and only sets the accounts again when they changed.
#[tokio::test]
async fn init_creates_once_and_finds_afterwards() {
    let sandbox = RockSandbox::start(sandbox_options()).await.unwrap();
    let rock = connect(&sandbox).await;
    let names = AttributeNames::default();
    let types = rock.group_types().await.unwrap();
    let type_id = |name: &str| types.iter().find(|t| t.name == name).unwrap().id;
    let (serving, small) = (type_id("Serving Team"), type_id("Small Group"));
    let setup = GroupSetup {
        group_types: vec![serving],
        accounts: vec!["Main Campus".into(), "North".into(), "Odd, Name".into()],
    };
    let first = rock.init(&names, &setup).await.unwrap();
    // The person attribute; on Serving Team the two group attributes and their options.
    assert_eq!(first.created.len(), 5, "{first:?}");
    assert!(first.found.is_empty(), "{first:?}");
    assert_eq!(first.warnings.len(), 1, "{first:?}");
    assert!(first.warnings[0].contains("\"Odd, Name\""), "{first:?}");
    let second = rock.init(&names, &setup).await.unwrap();
    assert!(second.created.is_empty(), "{second:?}");
    assert!(second.updated.is_empty(), "{second:?}");
    assert_eq!(second.found.len(), 5, "{second:?}");

    // The attributes as Rock holds them: qualified by the type, PCO Account a single-select
    // offering the accounts (a name Rock's list cannot hold left out).
    let account_attributes = || async {
        let path = "/api/Attributes?$filter=Key%20eq%20'PCOAccount'&$expand=AttributeQualifiers";
        rock_call(&sandbox, reqwest::Method::GET, path, None)
            .await
            .1
    };
    let attributes = account_attributes().await;
    let attributes = attributes.as_array().unwrap();
    assert_eq!(attributes.len(), 1, "{attributes:?}");
    assert_eq!(attributes[0]["EntityTypeQualifierColumn"], "GroupTypeId");
    assert_eq!(
        attributes[0]["EntityTypeQualifierValue"],
        serving.to_string()
    );
    let values = |attribute: &serde_json::Value| {
        attribute["AttributeQualifiers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["Key"] == "values")
            .map(|q| q["Value"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(values(&attributes[0]).as_deref(), Some("Main Campus,North"));

    // Staff choose the account on a serving team; a small group has no such field.
    let group_of = |kind: i64, name: &'static str| {
        let sandbox = &sandbox;
        async move {
            let body = serde_json::json!({"Name": name, "GroupTypeId": kind, "IsActive": true});
            let (status, id) =
                rock_call(sandbox, reqwest::Method::POST, "/api/Groups", Some(body)).await;
            assert_eq!(status, 201, "{id}");
            id.as_i64().unwrap()
        }
    };
    let team = group_of(serving, "Greeters").await;
    let circle = group_of(small, "Tuesday Circle").await;
    let choose = |group: i64| {
        let sandbox = &sandbox;
        async move {
            let path = format!(
                "/api/Groups/AttributeValue/{group}?attributeKey=PCOAccount&attributeValue=North"
            );
            rock_call(sandbox, reqwest::Method::POST, &path, None)
                .await
                .0
        }
    };
    assert_eq!(choose(team).await, 202);
    assert_eq!(
        choose(circle).await,
        400,
        "a small group has no PCO Account"
    );
    let groups = rock.account_groups("North").await.unwrap();
    assert_eq!(groups.iter().map(|g| g.id).collect::<Vec<_>>(), vec![team]);

    // An account renamed away: only its choice changes.
    let renamed = GroupSetup {
        accounts: vec!["Main Campus".into()],
        ..setup
    };
    let third = rock.init(&names, &renamed).await.unwrap();
    assert!(third.created.is_empty(), "{third:?}");
    assert_eq!(third.updated.len(), 1, "{third:?}");
    let attributes = account_attributes().await;
    assert_eq!(values(&attributes[0]).as_deref(), Some("Main Campus"));

    // On an install configured by hand (the seeded one, attributes per group type), init
    // creates nothing.
    let (seeded, _) = start(20).await;
    let seeded_rock = connect(&seeded).await;
    let seeded_types: Vec<i64> = seeded_rock
        .group_types()
        .await
        .unwrap()
        .iter()
        .filter(|t| t.name == "Serving Team")
        .map(|t| t.id)
        .collect();
    let report = seeded_rock
        .init(
            &names,
            &GroupSetup {
                group_types: seeded_types,
                accounts: vec!["Main Campus".into()],
            },
        )
        .await
        .unwrap();
    assert!(report.created.is_empty(), "{report:?}");
}

fn assert_no_token(message: &str) {
    assert!(!message.contains(TOKEN), "the token leaked: {message}");
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized_and_never_shown() {
    let (sandbox, _) = start(10).await;
    let error = RestRock::connect(options(&sandbox, "wrong-key"))
        .await
        .err()
        .expect("refused");
    assert_eq!(error.kind, ErrorKind::Unauthorized);
    assert!(
        error.message.contains("check the Rock token"),
        "{}",
        error.message
    );
    assert!(!error.message.contains("wrong-key"));
}

#[tokio::test]
async fn a_single_server_error_on_a_read_is_retried() {
    let (sandbox, c) = start(50).await;
    let rock = connect(&sandbox).await;
    let id = sandbox
        .person_id(c.rock_people().next().unwrap().key)
        .unwrap();
    sandbox.clear_requests();
    sandbox.push_fault(FaultKind::Error);
    sandbox.push_fault(FaultKind::Reset);
    sandbox.push_fault(FaultKind::Malformed);
    let people = rock.people(&[id]).await.unwrap();
    assert_eq!(people.len(), 1);
    let faults: Vec<_> = sandbox.requests().iter().map(|r| r.fault).collect();
    assert_eq!(
        faults[..4],
        [
            Some(FaultKind::Error),
            Some(FaultKind::Reset),
            Some(FaultKind::Malformed),
            None
        ]
    );
}

/// Every Rock request fails with `kind`.
fn always(kind: FaultKind) -> FaultConfig {
    let mut config = FaultConfig {
        path_contains: Some("/api/".into()),
        hang_ms: 5_000,
        ..FaultConfig::default()
    };
    match kind {
        FaultKind::Error => config.error_rate = 1.0,
        FaultKind::Reset => config.reset_rate = 1.0,
        FaultKind::Malformed => config.malformed_rate = 1.0,
        FaultKind::Hang => config.hang_rate = 1.0,
        FaultKind::Slow => config.slow_rate = 1.0,
        FaultKind::Truncated => config.truncated_rate = 1.0,
    }
    config
}

#[tokio::test]
async fn faults_reach_the_caller_as_error_values() {
    let (sandbox, c) = start(50).await;
    let rock = RestRock::connect(RestRockOptions {
        timeout: Duration::from_millis(500),
        ..options(&sandbox, TOKEN)
    })
    .await
    .unwrap();
    let id = sandbox
        .person_id(c.rock_people().next().unwrap().key)
        .unwrap();
    for kind in [
        FaultKind::Error,
        FaultKind::Reset,
        FaultKind::Malformed,
        FaultKind::Hang,
        FaultKind::Truncated,
    ] {
        let name = format!("{kind:?}");
        sandbox.set_faults(always(kind));
        let started = Instant::now();
        let error = rock.people(&[id]).await.unwrap_err();
        assert_eq!(
            error.kind,
            ErrorKind::Unavailable,
            "{name}: {}",
            error.message
        );
        assert_no_token(&error.message);
        if kind == FaultKind::Hang {
            assert!(
                started.elapsed() < Duration::from_secs(4),
                "the timeout holds"
            );
        }
        // Writes fail as values too, saying whether they may have been made.
        let created = rock
            .create_people(&[NewPerson {
                fields: vec![FieldValue::LastName("Faulty".into())],
                connection_status: String::new(),
            }])
            .await;
        let error = created[0].as_ref().unwrap_err();
        assert_eq!(
            error.kind,
            ErrorKind::Unavailable,
            "{name}: {}",
            error.message
        );
        assert!(
            error.message.contains("may or may not"),
            "{}",
            error.message
        );
        assert_no_token(&error.message);
        let results = rock
            .update_people(&[PersonUpdate {
                id,
                changes: vec![FieldValue::MiddleName("X".into())],
            }])
            .await;
        assert_eq!(
            results[0].as_ref().unwrap_err().kind,
            ErrorKind::Unavailable
        );
    }
    sandbox.clear_faults();
    assert_eq!(rock.people(&[id]).await.unwrap().len(), 1, "recovers");
}

#[tokio::test]
async fn rock_validation_messages_come_back_as_invalid() {
    let (sandbox, c) = start(20).await;
    let rock = connect(&sandbox).await;
    let id = sandbox
        .person_id(c.rock_people().next().unwrap().key)
        .unwrap();
    let results = rock
        .update_people(&[PersonUpdate {
            id,
            changes: vec![FieldValue::Email(Some("not an email".into()))],
        }])
        .await;
    let error = results[0].as_ref().unwrap_err();
    assert_eq!(error.kind, ErrorKind::Invalid);
    assert!(
        error.message.contains("The Email address is invalid"),
        "{}",
        error.message
    );
}

/// `pcosync rock init` as an administrator runs it: the second run creates nothing.
#[tokio::test]
async fn the_rock_init_command_creates_once() {
    let sandbox = RockSandbox::start(sandbox_options()).await.unwrap();
    let url = sandbox.base_url();
    let run = move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_pcosync"))
            .args(["rock", "init", "--rock-url", &url])
            .args(["--rock-token-env", "PCOSYNC_TEST_ROCK_TOKEN"])
            .env("PCOSYNC_TEST_ROCK_TOKEN", TOKEN)
            .env_remove("PCOSYNC_CONFIG")
            .output()
            .expect("pcosync runs")
    };
    let first = tokio::task::spawn_blocking(run.clone()).await.unwrap();
    let second = tokio::task::spawn_blocking(run).await.unwrap();
    let stdout = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).to_string();
    assert!(first.status.success(), "{first:?}");
    assert!(second.status.success(), "{second:?}");
    // Without a configuration no group type is enabled: the person attribute alone, and
    // the way to the group attributes.
    assert_eq!(
        stdout(&first).matches("created ").count(),
        1,
        "{}",
        stdout(&first)
    );
    assert!(
        stdout(&first).contains("pcosync group-types enable"),
        "{}",
        stdout(&first)
    );
    assert_eq!(
        stdout(&second).matches("created ").count(),
        0,
        "{}",
        stdout(&second)
    );
    assert_eq!(
        stdout(&second).matches("found ").count(),
        1,
        "{}",
        stdout(&second)
    );
    assert_no_token(&stdout(&first));
}

// R26: Rock reports change times in its organization's zone without an offset; with the zone
// configured they reach the guest in UTC, comparable with PCO's `updated_at`.
#[tokio::test]
async fn change_times_reach_the_guest_in_utc_when_the_zone_is_known() {
    let (sandbox, c) = start(5).await;
    let id = sandbox
        .person_id(c.rock_people().next().unwrap().key)
        .unwrap();
    let local = connect(&sandbox).await;
    let zoned = RestRock::connect(RestRockOptions {
        time_zone: Some(jiff::tz::TimeZone::get("America/Chicago").unwrap()),
        ..options(&sandbox, TOKEN)
    })
    .await
    .unwrap();
    let read = |rock: RestRock| async move {
        rock.people(&[id]).await.unwrap()[0]
            .modified
            .clone()
            .expect("a change time")
    };
    let (local, utc) = (read(local).await, read(zoned).await);
    assert!(!local.ends_with('Z'), "{local}");
    assert!(utc.ends_with('Z'), "{utc}");
    let as_civil = |t: &str| t[..19].parse::<jiff::civil::DateTime>().unwrap();
    let hours = as_civil(&local).until(as_civil(&utc)).unwrap().get_hours();
    assert!(
        hours == 5 || hours == 6,
        "Chicago is 5 or 6 hours behind UTC: {local} -> {utc}"
    );
}

// R26: the sandbox keeps Rock's organization time zone with its daylight saving rules (as
// `RockDateTime.OrgTimeZoneInfo` does), so the client's conversion to UTC is tried on both
// sides of the change: seed rows are stamped a week before the clock's start, in CDT (UTC-5)
// in July and CST (UTC-6) in January, and both come back as the same UTC instant.
#[tokio::test]
async fn change_times_convert_to_utc_in_summer_and_winter_alike() {
    let congregation = Congregation::generate(3, 7);
    for (start, expected) in [
        (1_720_440_000, "2024-07-01T12:00:00Z"),
        (1_705_320_000, "2024-01-08T12:00:00Z"),
    ] {
        let sandbox = RockSandbox::start_with(
            SandboxOptions {
                clock: ClockMode::Fixed(start),
                ..sandbox_options()
            },
            &congregation,
        )
        .await
        .unwrap();
        let id = sandbox
            .person_id(congregation.rock_people().next().unwrap().key)
            .unwrap();
        let rock = RestRock::connect(RestRockOptions {
            time_zone: Some(jiff::tz::TimeZone::get("America/Chicago").unwrap()),
            ..options(&sandbox, TOKEN)
        })
        .await
        .unwrap();
        let modified = rock.people(&[id]).await.unwrap()[0].modified.clone();
        assert_eq!(modified.as_deref(), Some(expected), "clock at {start}");
    }
}

/// Log lines written while it is installed (this thread only), as text.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

async fn post_json(sandbox: &RockSandbox, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", sandbox.base_url()))
        .header("Authorization-Token", TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

// R10, R12: Rock allows several PhoneNumber rows of one type (PhoneNumber.cs has no unique
// index); the client reads and writes the one with the lowest Id, leaves the other alone, and
// warns naming the person by id, never the numbers (R53).
#[tokio::test]
async fn with_two_phones_of_a_type_the_lowest_id_is_read_and_written() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let (sandbox, c) = start(30).await;
    let rock = connect(&sandbox).await;
    let m = member(&c, |m| m.mobile_phone.is_some());
    let id = sandbox.person_id(m.key).unwrap();
    let phones = || sandbox.person_dump(id).unwrap()["PhoneNumbers"].clone();
    let first = phones()
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["Number"].as_str().map(str::to_string) == m.mobile_phone)
        .unwrap()
        .clone();
    let kind = first["NumberTypeValueId"].clone();
    let body =
        serde_json::json!({"PersonId": id, "NumberTypeValueId": kind, "Number": "4025550777"});
    let (status, second) = post_json(&sandbox, "/api/PhoneNumbers", body).await;
    assert_eq!(status, 201);
    assert!(second.as_i64().unwrap() > first["Id"].as_i64().unwrap());

    let person = rock.people(&[id]).await.unwrap().remove(0);
    assert_eq!(digits(person.mobile_phone.as_deref()), m.mobile_phone);
    let results = rock
        .update_people(&[PersonUpdate {
            id,
            changes: vec![FieldValue::MobilePhone(Some("402-555-0888".into()))],
        }])
        .await;
    assert!(results[0].is_ok(), "{results:?}");
    let number_of = |row: i64| {
        phones()
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["Id"] == row)
            .map(|p| p["Number"].clone())
    };
    assert_eq!(
        number_of(first["Id"].as_i64().unwrap()),
        Some("4025550888".into())
    );
    assert_eq!(
        number_of(second.as_i64().unwrap()),
        Some("4025550777".into()),
        "left alone"
    );
    let person = rock.people(&[id]).await.unwrap().remove(0);
    assert_eq!(person.mobile_phone.as_deref(), Some("(402) 555-0888"));

    let log = captured.text();
    assert!(
        log.contains(&format!("Rock person {id} has 2 phone numbers of one type")),
        "{log}"
    );
    assert!(log.contains("lowest Id"), "{log}");
    for number in ["4025550777", "4025550888", "555-0777", "555-0888"] {
        assert!(!log.contains(number), "a number in the log: {log}");
    }
    if let Some(mobile) = &m.mobile_phone {
        assert!(!log.contains(mobile.as_str()), "{log}");
    }
}

// R27 (issue 13 item 11): Rock formats a phone by the install's "Phone Country Code" values
// and keeps the digits of the result, so "+1 (623) 555-1234" is stored as 6235551234; the
// same number from PCO next run is not written again. An install whose default country is
// another one formats by its own rules, and its numbers are not rewritten either.
#[tokio::test]
async fn phones_are_stored_as_the_installs_formats_say_and_not_written_twice() {
    let (sandbox, c) = start(30).await;
    let rock = connect(&sandbox).await;
    let m = member(&c, |m| m.mobile_phone.is_some());
    let id = sandbox.person_id(m.key).unwrap();
    let write = |id: i64, number: &'static str| {
        let rock = &rock;
        async move {
            let results = rock
                .update_people(&[PersonUpdate {
                    id,
                    changes: vec![FieldValue::MobilePhone(Some(number.into()))],
                }])
                .await;
            assert!(results[0].is_ok(), "{results:?}");
        }
    };
    let phone_writes = |sandbox: &RockSandbox| {
        sandbox
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/api/PhoneNumbers") && r.method != "GET")
            .count()
    };
    let mobile = |sandbox: &RockSandbox| -> serde_json::Value {
        sandbox.person_dump(id).unwrap()["PhoneNumbers"]
            .as_array()
            .unwrap()
            .iter()
            .min_by_key(|p| p["Id"].as_i64())
            .cloned()
            .unwrap()
    };
    write(id, "+1 (623) 555-1234").await;
    let stored = mobile(&sandbox);
    assert_eq!(stored["Number"], "6235551234", "{stored}");
    assert_eq!(stored["NumberFormatted"], "(623) 555-1234", "{stored}");
    assert_eq!(stored["CountryCode"], "1", "{stored}");
    sandbox.clear_requests();
    write(id, "+1 (623) 555-1234").await;
    assert_eq!(phone_writes(&sandbox), 0, "written again");
    let person = rock.people(&[id]).await.unwrap().remove(0);
    assert_eq!(person.mobile_phone.as_deref(), Some("(623) 555-1234"));

    // A church in Britain: its format first, so a phone saved without a country is British.
    sandbox.add_phone_format("44", r"^0?(\d{2})(\d{4})(\d{4})$", "0$1 $2 $3", true);
    let other = member(&c, |o| o.key != m.key && o.mobile_phone.is_none());
    let other_id = sandbox.person_id(other.key).unwrap();
    write(other_id, "020 7946 0958").await;
    let row = sandbox.person_dump(other_id).unwrap()["PhoneNumbers"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|p| p["Id"].as_i64())
        .cloned()
        .unwrap();
    assert_eq!(row["CountryCode"], "44", "{row}");
    assert_eq!(row["NumberFormatted"], "020 7946 0958", "{row}");
    assert_eq!(row["Number"], "02079460958", "{row}");
    sandbox.clear_requests();
    write(other_id, "020 7946 0958").await;
    assert_eq!(phone_writes(&sandbox), 0, "written again");
}

/// `$top` of a request as the sandbox logged it.
fn top_of(path: &str) -> Option<usize> {
    let query = path.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "$top")
        .and_then(|(_, value)| value.parse().ok())
}

// Issue 13 item 11: Rock loads each row's attributes with a query of its own, so a large page
// of groups with their PCO account and level can outlast the request timeout. The client asks
// for fewer rows a page when one times out, and fewer again when pages come near the timeout,
// and reads every group; the old client tried the same page until it gave up. (People are read
// `$select`ed, with no attributes, since issue 23.)
#[tokio::test]
async fn slow_attribute_pages_are_cut_to_answer_in_time() {
    let congregation = Congregation::generate(40, 7);
    let slow = SandboxOptions {
        attribute_row_cost: Duration::from_millis(5),
        ..sandbox_options()
    };
    let sandbox = RockSandbox::start_with(slow, &congregation).await.unwrap();
    let synced = sandbox.group_id(0).expect("a seeded group");
    let (_, group) = rock_call(
        &sandbox,
        reqwest::Method::GET,
        &format!("/api/Groups/{synced}"),
        None,
    )
    .await;
    let group_type = group["GroupTypeId"].as_i64().expect("its group type");
    let mut ids = vec![synced];
    for n in 0..400 {
        let body =
            serde_json::json!({"Name": format!("Serving team {n}"), "GroupTypeId": group_type});
        let (status, id) =
            rock_call(&sandbox, reqwest::Method::POST, "/api/Groups", Some(body)).await;
        assert_eq!(status, 201, "precondition: group {n} created");
        ids.push(id.as_i64().unwrap());
    }
    let patient = RestRock::connect(RestRockOptions {
        timeout: Duration::from_secs(30),
        ..options(&sandbox, TOKEN)
    })
    .await
    .unwrap();
    let expected: Vec<i64> = patient
        .groups(&ids)
        .await
        .unwrap()
        .iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(expected.len(), ids.len(), "precondition: every group read");
    sandbox.clear_requests();
    let hurried = RestRock::connect(RestRockOptions {
        timeout: Duration::from_secs(1),
        page_size: 2000,
        ..options(&sandbox, TOKEN)
    })
    .await
    .unwrap();
    let read: Vec<i64> = hurried
        .groups(&ids)
        .await
        .unwrap()
        .iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(read, expected);
    let tops: Vec<usize> = sandbox
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/Groups?") && r.path.contains("loadAttributes"))
        .filter_map(|r| top_of(&r.path))
        .collect();
    // Pages that timed out are not in the log (the client hung up before Rock answered):
    // the first answered one was already cut from 2000 rows.
    assert!(tops.len() >= 3, "{tops:?}");
    assert!(tops[0] < 2000, "{tops:?}");
    // A quarter of the 1 s timeout at 5 ms a row: about 50 rows a page.
    let last = *tops.last().unwrap();
    assert!((25..=100).contains(&last), "{tops:?}");
}

fn home(street1: &str, city: &str, state: &str, country: &str) -> Address {
    Address {
        street1: street1.into(),
        street2: String::new(),
        city: city.into(),
        state: state.into(),
        postal_code: "62701".into(),
        country: country.into(),
    }
}

// R10: SaveAddress answers 500 for an address missing what its country requires
// (LocationService.ValidateAddressRequirements); the client tries once and reports invalid
// input naming the person and the missing field.
#[tokio::test]
async fn an_address_rock_refuses_is_invalid_input_tried_once() {
    let (sandbox, c) = start(30).await;
    let rock = connect(&sandbox).await;
    let m = member(&c, |m| m.address.is_some());
    let id = sandbox.person_id(m.key).unwrap();
    sandbox.clear_requests();
    let results = rock
        .update_people(&[PersonUpdate {
            id,
            changes: vec![FieldValue::HomeAddress(Some(home(
                "1 Elm St", "", "IL", "US",
            )))],
        }])
        .await;
    let error = results[0].as_ref().unwrap_err();
    assert_eq!(error.kind, ErrorKind::Invalid, "{error:?}");
    assert!(
        error.message.contains(&format!("person {id}")),
        "{}",
        error.message
    );
    assert!(error.message.contains("lacks City"), "{}", error.message);
    let tries = writes(&sandbox)
        .iter()
        .filter(|w| w.starts_with("PUT /api/Groups/SaveAddress/"))
        .count();
    assert_eq!(tries, 1, "a 500 for bad input is not tried again");
    let unknown = rock
        .update_people(&[PersonUpdate {
            id,
            changes: vec![FieldValue::HomeAddress(Some(home(
                "1 Elm St",
                "Springfield",
                "IL",
                "Narnia",
            )))],
        }])
        .await;
    let error = unknown[0].as_ref().unwrap_err();
    assert_eq!(error.kind, ErrorKind::Invalid);
    assert!(error.message.contains("Narnia"), "{}", error.message);
    let person = rock.people(&[id]).await.unwrap().remove(0);
    assert_eq!(
        person.home_address.map(|a| a.street1),
        m.address.as_ref().map(|a| a.street1.clone())
    );
}

// R10, issue 23: PCO holds addresses without a country; Rock's address validation needs one
// (a 500 otherwise), so the organization's country is written with them: US unless set.
#[tokio::test]
async fn an_address_without_a_country_is_saved_with_the_organizations() {
    let (sandbox, c) = start(30).await;
    let m = member(&c, |m| m.address.is_some());
    let id = sandbox.person_id(m.key).unwrap();
    for (configured, expected) in [(None, "US"), (Some("CA"), "CA")] {
        let mut options = options(&sandbox, TOKEN);
        if let Some(country) = configured {
            options.default_country = country.into();
        }
        let rock = RestRock::connect(options).await.unwrap();
        let results = rock
            .update_people(&[PersonUpdate {
                id,
                changes: vec![FieldValue::HomeAddress(Some(home(
                    "12 Birch Rd",
                    "Springfield",
                    "IL",
                    "",
                )))],
            }])
            .await;
        assert!(results[0].is_ok(), "{results:?}");
        let saved = rock.people(&[id]).await.unwrap().remove(0).home_address;
        let saved = saved.expect("a home address");
        assert_eq!(
            (saved.street1.as_str(), saved.country.as_str()),
            ("12 Birch Rd", expected)
        );
    }
}

// R27: an address Rock's SaveAddress takes for blank (only a state) is a removal, not a
// save Rock would silently skip.
#[tokio::test]
async fn an_address_with_only_a_state_removes_the_home_address() {
    let (sandbox, c) = start(30).await;
    let rock = connect(&sandbox).await;
    let m = member(&c, |m| m.address.is_some());
    let id = sandbox.person_id(m.key).unwrap();
    let results = rock
        .update_people(&[PersonUpdate {
            id,
            changes: vec![FieldValue::HomeAddress(Some(Address {
                state: "IL".into(),
                postal_code: String::new(),
                ..home("", "", "", "")
            }))],
        }])
        .await;
    assert!(results[0].is_ok(), "{results:?}");
    assert!(
        !writes(&sandbox).iter().any(|w| w.contains("SaveAddress")),
        "{:?}",
        writes(&sandbox)
    );
    let person = rock.people(&[id]).await.unwrap().remove(0);
    assert_eq!(person.home_address, None);
}

/// Staff editing Rock with their own REST key (the sandbox's staff key): a request whose
/// writes Rock stamps with another person's alias than the sync's.
async fn staff_request(
    sandbox: &RockSandbox,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let url = format!("{}{path}", sandbox.base_url());
    let mut request = reqwest::Client::new()
        .request(method, url)
        .header("Authorization-Token", sandbox.staff_token().unwrap());
    request = with_body(request, body);
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null)
}

// R26, R12: Rock moves a person's ModifiedDateTime on their phones, their family's address
// and their attribute values too, stamping the writer's alias (PhoneNumber.SaveHook.cs,
// GroupLocation.SaveHook.cs, AttributeValue.SaveHook.cs). What the sync wrote itself is no
// Rock change time; what staff wrote is.
#[tokio::test]
async fn r26_the_keys_own_writes_give_no_rock_change_time() {
    let options = SandboxOptions {
        staff_token: Some("staff-key".into()),
        ..sandbox_options()
    };
    let c = Congregation::generate(100, 7);
    let sandbox = RockSandbox::start_with(options, &c).await.unwrap();
    let rock = connect(&sandbox).await;
    let (rest_alias, staff_alias) = sandbox.key_aliases();
    let family_of = |m: &Member| sandbox.seed_ids().families.get(&m.key).copied();
    let m = member(&c, |m| {
        m.address.is_some()
            && c.rock_people()
                .any(|o| o.key != m.key && family_of(o) == family_of(m))
    });
    let id = sandbox.person_id(m.key).unwrap();
    let other = c
        .rock_people()
        .find(|o| o.key != m.key && family_of(o) == family_of(m))
        .unwrap();
    let other = sandbox.person_id(other.key).unwrap();
    let modified = async |id: i64| rock.people(&[id]).await.unwrap()[0].modified.clone();
    let stamp = |id: i64| sandbox.person_dump(id).unwrap()["Person"].clone();
    // Seed rows were entered by nobody the keys stand for.
    assert!(modified(id).await.is_some());

    // A phone the sync saves: the person is stamped with the sync's alias.
    sandbox.advance_clock(Duration::from_secs(60));
    let update = |changes| PersonUpdate { id, changes };
    let results = rock
        .update_people(&[update(vec![FieldValue::MobilePhone(Some(
            "4025550177".into(),
        ))])])
        .await;
    assert!(results[0].is_ok(), "{results:?}");
    assert_eq!(stamp(id)["ModifiedByPersonAliasId"].as_i64(), rest_alias);
    assert_eq!(stamp(id)["ModifiedDateTime"], sandbox.now());
    assert_eq!(modified(id).await, None, "the sync's own phone write");

    // Staff change that phone: Rock's change time is theirs.
    sandbox.advance_clock(Duration::from_secs(60));
    let phone = sandbox.person_dump(id).unwrap()["PhoneNumbers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["Number"] == "4025550177")
        .unwrap()["Id"]
        .as_i64()
        .unwrap();
    let body = serde_json::json!({"Number": "4025550178"});
    staff_request(
        &sandbox,
        reqwest::Method::PATCH,
        &format!("/api/PhoneNumbers/{phone}"),
        Some(body),
    )
    .await;
    assert_eq!(stamp(id)["ModifiedByPersonAliasId"].as_i64(), staff_alias);
    assert!(modified(id).await.is_some(), "a staff phone edit");

    // The family address the sync saves stamps every member of the family.
    sandbox.advance_clock(Duration::from_secs(60));
    let address = Address {
        street1: "77 Sync Road".into(),
        street2: String::new(),
        city: "Omaha".into(),
        state: "NE".into(),
        postal_code: "68102".into(),
        country: "US".into(),
    };
    let results = rock
        .update_people(&[update(vec![FieldValue::HomeAddress(Some(address))])])
        .await;
    assert!(results[0].is_ok(), "{results:?}");
    for person in [id, other] {
        assert_eq!(
            stamp(person)["ModifiedByPersonAliasId"].as_i64(),
            rest_alias
        );
        assert_eq!(stamp(person)["ModifiedDateTime"], sandbox.now());
        assert_eq!(modified(person).await, None, "the sync's own address write");
    }

    // A person attribute value: staff pick a tag, then the sync writes the tags.
    sandbox.advance_clock(Duration::from_secs(60));
    staff_request(
        &sandbox,
        reqwest::Method::POST,
        &format!("/api/People/AttributeValue/{id}?attributeKey=PCOTags&attributeValue=Main%20Campus%3ATeams%3AKids"),
        None,
    )
    .await;
    assert_eq!(stamp(id)["ModifiedByPersonAliasId"].as_i64(), staff_alias);
    assert!(modified(id).await.is_some(), "a staff tag edit");
    sandbox.advance_clock(Duration::from_secs(60));
    let results = rock
        .set_tags(&[PersonTags {
            person_id: id,
            tags: vec!["Main Campus:Teams:Band".into()],
        }])
        .await;
    assert!(results[0].is_ok(), "{results:?}");
    assert_eq!(modified(id).await, None, "the sync's own tag write");

    // Deleting a phone staff saved last stamps the person with the phone's last writer
    // (Rock does not restamp a deleted row): Rock itself says staff changed the person.
    let results = rock
        .update_people(&[update(vec![FieldValue::MobilePhone(None)])])
        .await;
    assert!(results[0].is_ok(), "{results:?}");
    assert_eq!(stamp(id)["ModifiedByPersonAliasId"].as_i64(), staff_alias);
}

// R4, R41: Rock's POST api/People is find-or-create (PeopleController.Partial.cs,
// PersonService.FindPerson): a person Rock already holds comes back as theirs (200), with
// nothing else written, and the client counts it as a link to an existing person.
#[tokio::test]
async fn a_create_rock_matches_is_a_link_to_the_existing_person() {
    let (sandbox, c) = start(100).await;
    let rock = connect(&sandbox).await;
    let m = member(&c, |m| {
        m.email.is_some() && m.gender != congregation::Gender::Unknown && m.birthdate.is_some()
    });
    let id = sandbox.person_id(m.key).unwrap();
    let gender = match m.gender {
        congregation::Gender::Male => Gender::Male,
        congregation::Gender::Female => Gender::Female,
        congregation::Gender::Unknown => Gender::Unknown,
    };
    let fields = vec![
        FieldValue::FirstName(m.first_name.clone()),
        FieldValue::LastName(m.last_name.clone()),
        FieldValue::Email(m.email.clone()),
        FieldValue::Gender(gender),
        FieldValue::Birthdate(m.birthdate.as_ref().map(date)),
        FieldValue::MobilePhone(Some("4025550142".into())),
    ];
    sandbox.clear_requests();
    let results = rock
        .create_people(&[NewPerson {
            fields: fields.clone(),
            connection_status: String::new(),
        }])
        .await;
    assert_eq!(results[0].as_ref().ok(), Some(&id), "{results:?}");
    assert_eq!(rock.matched_existing(), 1);
    assert_eq!(
        writes(&sandbox),
        ["POST /api/People"],
        "nothing else written"
    );
    // Sent as Unknown gender, the same person is no match for Rock: a new person.
    let mut unknown = fields;
    unknown[3] = FieldValue::Gender(Gender::Unknown);
    let results = rock
        .create_people(&[NewPerson {
            fields: unknown,
            connection_status: String::new(),
        }])
        .await;
    assert_ne!(results[0].as_ref().ok(), Some(&id), "{results:?}");
    assert_eq!(rock.matched_existing(), 1);
}

// Issue 24 item 15: who has a Rock login is read from `api/UserLogins` by person, selecting
// `PersonId` alone (the rows also hold each login's API key, which never reaches the host).
#[tokio::test]
async fn people_with_logins_are_read_from_user_logins_without_their_api_keys() {
    let (sandbox, c) = start(40).await;
    let rock = connect(&sandbox).await;
    let ids: Vec<i64> = c
        .rock_people()
        .map(|m| sandbox.person_id(m.key).unwrap())
        .collect();
    assert!(ids.len() >= 3);
    sandbox.add_login(ids[0], "first.login");
    sandbox.add_login(ids[2], "third.login");
    sandbox.add_login(ids[2], "third.second.login");
    sandbox.clear_requests();
    let with = rock.people_with_logins(&ids).await.unwrap();
    assert_eq!(with, vec![ids[0], ids[2]]);
    let reads: Vec<String> = sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("UserLogins"))
        .map(|r| r.path)
        .collect();
    assert!(!reads.is_empty());
    assert!(
        reads.iter().all(|p| p.contains("%24select=Id%2CPersonId")
            || p.contains("$select=Id,PersonId")
            || p.contains("%24select=Id,PersonId")),
        "{reads:?}"
    );
    assert!(rock.people_with_logins(&[]).await.unwrap().is_empty());
}

// R41 (issue 24 item 24): Rock's `POST api/People` is find-or-create; the client says which
// answers were people Rock already held (200) and which it made (201).
#[tokio::test]
async fn create_or_find_people_says_who_rock_already_held() {
    let (sandbox, c) = start(40).await;
    let rock = connect(&sandbox).await;
    let held = member(&c, |m| {
        m.in_rock()
            && m.email.is_some()
            && m.birthdate.is_some()
            && matches!(m.protection, congregation::Protection::Low)
    });
    let id = sandbox.person_id(held.key).unwrap();
    let existing = rock.people(&[id]).await.unwrap().remove(0);
    let again = NewPerson {
        fields: vec![
            FieldValue::FirstName(existing.first_name.clone()),
            FieldValue::NickName(existing.nick_name.clone()),
            FieldValue::LastName(existing.last_name.clone()),
            FieldValue::Email(existing.email.clone()),
            FieldValue::Gender(existing.gender),
            FieldValue::Birthdate(existing.birthdate),
        ],
        connection_status: String::new(),
    };
    let new = NewPerson {
        fields: vec![
            FieldValue::FirstName("Zebedee".into()),
            FieldValue::NickName("Zeb".into()),
            FieldValue::LastName("Quarrington-Nobody".into()),
            FieldValue::Email(Some("zeb.q@example.net".into())),
        ],
        connection_status: String::new(),
    };
    let answers = rock.create_or_find_people(&[again, new]).await;
    let first = answers[0].as_ref().unwrap();
    assert_eq!((first.id, first.existing), (id, true));
    let second = answers[1].as_ref().unwrap();
    assert!(!second.existing);
    assert_ne!(second.id, id);
}

// Issue 24 item 15: without View on the UserLogins controller, Rock answers 401; the client
// says so (an error, never "nobody has a login"), and the rights check names the grant.
#[tokio::test]
async fn a_key_that_may_not_view_user_logins_is_an_error_and_a_named_right() {
    let (sandbox, c) = start(20).await;
    let rock = connect(&sandbox).await;
    let id = sandbox
        .person_id(c.rock_people().next().unwrap().key)
        .unwrap();
    sandbox.add_login(id, "someone");
    sandbox.deny(Right::ViewUserLogins);
    let error = rock.people_with_logins(&[id]).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unauthorized, "{error:?}");
    let missing = rock.missing_rights(false).await.unwrap();
    assert_eq!(missing.len(), 1, "{missing:#?}");
    assert!(missing[0].contains("View on UserLogins"), "{}", missing[0]);
    sandbox.allow(&Right::ViewUserLogins);
    assert_eq!(rock.people_with_logins(&[id]).await.unwrap(), vec![id]);
}
