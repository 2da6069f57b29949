//! Issue 24 items 4, 20, 22 and 25, each proved through the compiled guest: namesakes never
//! take each other's PCO account (R4, R5), a person PCO already holds by name and birth date
//! is held for an administrator rather than created a second time (R4), every synced person
//! is accounted for in every run (R3, R22), and people the sync leaves waiting are told why
//! (R32, R5).

use std::collections::{BTreeMap, BTreeSet};

use pcosync::bindings::engine::{Account, Action, Report};
use pcosync::bindings::pco::Method;
use pcosync::bindings::rock::Person;
use pcosync::bindings::types::Date;
use pcosync_harness::Harness;

fn actions_of(report: &Report, rock_id: i64) -> Vec<Action> {
    report
        .people
        .iter()
        .filter(|p| p.rock_id == Some(rock_id))
        .flat_map(|p| p.actions.clone())
        .collect()
}

fn skipped(report: &Report, rock_id: i64) -> Option<String> {
    actions_of(report, rock_id)
        .into_iter()
        .find_map(|a| match a {
            Action::Skipped(why) => Some(why),
            _ => None,
        })
}

/// The harness's account with the brake out of the way: these tests weigh matching, not the
/// brake's share.
fn account(harness: &Harness) -> Account {
    let mut account = harness.account();
    account.brake_percent = 100;
    account
}

/// The account's active permission group with the most members: where new Rock people go.
fn busiest_group(harness: &Harness) -> i64 {
    let name = harness.account().name;
    let data = harness.world.rock.data.lock().unwrap();
    data.groups
        .iter()
        .filter(|g| g.pco_account.as_deref() == Some(name.as_str()))
        .filter(|g| g.is_active && g.level.is_some())
        .max_by_key(|g| data.members.iter().filter(|m| m.group_id == g.id).count())
        .map(|g| g.id)
        .expect("precondition: an active permission group")
}

fn date(year: i32, month: u8, day: u8) -> Date {
    Date {
        year: Some(year),
        month,
        day,
    }
}

/// A new Rock person `id` named `first last`, born on `born`, with `email`, in the account's
/// busiest group: synced, and unknown to PCO until a test adds them there.
fn add_rock_person(
    harness: &Harness,
    id: i64,
    (first, last): (&str, &str),
    born: Option<Date>,
    email: Option<&str>,
) {
    let group = busiest_group(harness);
    let mut data = harness.world.rock.data.lock().unwrap();
    let mut person: Person = data.people.values().next().unwrap().clone();
    person.id = id;
    person.first_name = first.into();
    person.nick_name = first.into();
    person.middle_name = String::new();
    person.last_name = last.into();
    person.birthdate = born;
    person.email = email.map(Into::into);
    person.protection = pcosync::bindings::rock::Protection::Low;
    person.pco_tags.clear();
    person.photo_id = None;
    person.primary_alias = None;
    data.people.insert(id, person);
    data.members.push(pcosync::bindings::rock::Membership {
        group_id: group,
        person_id: id,
    });
}

/// A PCO person added by staff: `first last`, born on `born` (`YYYY-MM-DD`), with `email`.
async fn add_pco_person(
    harness: &Harness,
    (first, last): (&str, &str),
    born: Option<&str>,
    email: Option<&str>,
) -> String {
    let mut attributes = serde_json::json!({"first_name": first, "last_name": last});
    if let Some(day) = born {
        attributes["birthdate"] = serde_json::json!(day);
    }
    let person = harness
        .pco_call(
            Method::Post,
            "/people/v2/people",
            serde_json::json!({"data": {"type": "Person", "attributes": attributes}}),
        )
        .await;
    let id = person["data"]["id"].as_str().unwrap().to_string();
    if let Some(email) = email {
        harness
            .pco_call(
                Method::Post,
                &format!("/people/v2/people/{id}/emails"),
                serde_json::json!({"data": {"type": "Email", "attributes":
                    {"address": email, "location": "Home", "primary": true}}}),
            )
            .await;
    }
    id
}

// ---- Item 4: namesakes on a family email (R4, R5) ------------------------------------------

const QUILL: (&str, &str) = ("Zebedee", "Quillfeather");
const QUILL_EMAIL: &str = "quillfeather.family@example.org";

// R4, R5 (issue 24 item 4): a parent and a namesake child on one family email, both new to
// the sync, and one PCO person with their name and email but no birth date: nothing tells
// whose account it is. Neither is linked (the lower Rock id used to win), neither is created;
// both are reported for a hand link.
#[tokio::test]
async fn r4_two_rock_namesakes_and_one_pco_person_without_a_birth_date_wait_for_a_hand_link() {
    let harness = Harness::new(80, 5).await;
    let (parent, child) = (900_201, 900_202);
    add_rock_person(
        &harness,
        parent,
        QUILL,
        Some(date(1971, 2, 3)),
        Some(QUILL_EMAIL),
    );
    add_rock_person(
        &harness,
        child,
        QUILL,
        Some(date(2009, 6, 7)),
        Some(QUILL_EMAIL),
    );
    let pco = add_pco_person(&harness, QUILL, None, Some(QUILL_EMAIL)).await;
    let report = harness.sync_as(&account(&harness), false).await.unwrap();
    let links = harness.links();
    for rock in [parent, child] {
        assert_eq!(
            links.get(&rock),
            None,
            "Rock {rock} was given PCO {pco}: {:?}",
            actions_of(&report, rock)
        );
        let why = skipped(&report, rock)
            .unwrap_or_else(|| panic!("Rock {rock} skipped: {:?}", actions_of(&report, rock)));
        assert!(
            why.contains(&pco) && why.contains("pcosync link"),
            "Rock {rock}: the report names the PCO person and the hand link: {why}"
        );
    }
}

// R4, R5 (issue 24 item 4): the only PCO namesake nobody is linked to yet, born on another day
// than the Rock person, is someone else (a grandparent on the family email): not linked, not
// created. A free namesake with no birth date is linked, and the report says it was matched by
// name and email, never "and birth date".
#[tokio::test]
async fn r4_the_only_free_namesake_is_linked_only_when_the_birth_date_allows() {
    let harness = Harness::new(80, 5).await;
    let (parent, child) = (900_211, 900_212);
    add_rock_person(
        &harness,
        parent,
        QUILL,
        Some(date(1971, 2, 3)),
        Some(QUILL_EMAIL),
    );
    let parent_pco = add_pco_person(&harness, QUILL, Some("1971-02-03"), Some(QUILL_EMAIL)).await;
    harness.sync_as(&account(&harness), false).await.unwrap();
    assert_eq!(
        harness.links().get(&parent),
        Some(&parent_pco),
        "precondition"
    );

    let grandparent = add_pco_person(&harness, QUILL, Some("1940-10-10"), Some(QUILL_EMAIL)).await;
    add_rock_person(
        &harness,
        child,
        QUILL,
        Some(date(2009, 6, 7)),
        Some(QUILL_EMAIL),
    );
    let people = harness.sandbox.people_count(&harness.world.account.name);
    let report = harness.sync_as(&account(&harness), false).await.unwrap();
    assert_eq!(
        harness.links().get(&child),
        None,
        "Rock {child} was given the account of PCO {grandparent}, born on another day: {:?}",
        actions_of(&report, child)
    );
    assert!(skipped(&report, child).is_some(), "{:?}", report.people);
    assert_eq!(
        harness.sandbox.people_count(&harness.world.account.name),
        people,
        "nobody created"
    );

    let theirs = add_pco_person(&harness, QUILL, None, Some(QUILL_EMAIL)).await;
    let report = harness.sync_as(&account(&harness), false).await.unwrap();
    assert_eq!(harness.links().get(&child), Some(&theirs));
    let said = format!("{:?}", actions_of(&report, child));
    assert!(
        said.contains("by name and email") && !said.contains("birth date"),
        "the report says how the link was found, and does not claim a birth date: {said}"
    );
}

// ---- Item 20: people PCO already holds by name and birth date (R4) -------------------------

// R4 (issue 24 item 20): a first sync creates nobody PCO already holds with the same name and
// birth date but no email (or another one): each is held for an administrator with the
// candidate named, the report counts them, and a hand link (or "create anyway") settles it.
#[tokio::test]
async fn r4_a_person_pco_holds_by_name_and_birth_date_is_held_not_created() {
    let harness = Harness::new(80, 5).await;
    let no_email = (900_301, ("Ottoline", "Brandywine"), "1984-03-07");
    let other_email = (900_302, ("Peregrin", "Oakenshield"), "1990-11-21");
    let elsewhere = (900_303, ("Rosamund", "Thistlewood"), "1979-05-30");
    let mut candidates = BTreeMap::new();
    for (id, name, born, pco_email) in [
        (no_email.0, no_email.1, no_email.2, None),
        (
            other_email.0,
            other_email.1,
            other_email.2,
            Some("perry.work@example.org"),
        ),
    ] {
        let (y, m, d) = parse(born);
        add_rock_person(
            &harness,
            id,
            name,
            Some(date(y, m, d)),
            Some(&format!("{}@example.org", name.0.to_lowercase())),
        );
        candidates.insert(
            id,
            add_pco_person(&harness, name, Some(born), pco_email).await,
        );
    }
    // Same name, another birth date: someone else, created as before.
    add_rock_person(
        &harness,
        elsewhere.0,
        elsewhere.1,
        Some(date(1979, 5, 30)),
        Some("rosamund@example.org"),
    );
    add_pco_person(&harness, elsewhere.1, Some("1961-01-01"), None).await;

    let report = harness.sync_as(&account(&harness), false).await.unwrap();
    let links = harness.links();
    for (rock, pco) in &candidates {
        assert_eq!(links.get(rock), None, "Rock {rock} linked without a match");
        let why = skipped(&report, *rock).unwrap_or_else(|| {
            panic!(
                "Rock {rock} held for an administrator: {:?}",
                actions_of(&report, *rock)
            )
        });
        assert!(
            why.contains(pco.as_str())
                && why.contains(&format!("pcosync link {rock} {pco}"))
                && why.contains(&format!("pcosync link {rock} --create")),
            "the candidate and both commands are named: {why}"
        );
    }
    assert!(
        links.contains_key(&elsewhere.0),
        "born on another day: created ({:?})",
        actions_of(&report, elsewhere.0)
    );
    // The generated congregation holds such people of its own (in both systems, no email in
    // Rock): they are held alike, and counted with these two.
    let held = report
        .people
        .iter()
        .filter(|p| {
            p.rock_id.is_some()
                && p.actions.iter().any(
                    |a| matches!(a, Action::Skipped(why) if why.contains("the same birth date")),
                )
        })
        .count();
    assert!(held >= candidates.len(), "{:?}", report.people);
    let counted = report.people.iter().any(|p| {
        p.rock_id.is_none()
            && p.actions.iter().any(|a| {
                matches!(a, Action::Flagged(note)
                    if note.starts_with(&format!("{held} people not created"))
                        && note.contains("same name and birth date"))
            })
    });
    assert!(counted, "the report counts them: {:?}", report.people);

    // A run that cannot look for candidates (updates-only: PCO lists only recent changes)
    // keeps holding them, and creates nobody it cannot check.
    let mut options = pcosync_harness::options(false);
    options.updates_only = Some(true);
    let quick = harness
        .runtime
        .sync(
            &harness.guest,
            &harness.capabilities(),
            &account(&harness),
            &options,
        )
        .await
        .unwrap();
    for rock in candidates.keys() {
        assert_eq!(harness.links().get(rock), None, "updates-only: Rock {rock}");
        assert!(
            skipped(&quick, *rock).is_some_and(|why| why.contains("the same birth date")),
            "{:?}",
            actions_of(&quick, *rock)
        );
    }

    // An administrator settles each: a hand link, and a create anyway.
    harness
        .link(no_email.0, &candidates[&no_email.0])
        .await
        .unwrap();
    harness.allow_create(other_email.0).await.unwrap();
    let report = harness.sync_as(&account(&harness), false).await.unwrap();
    let links = harness.links();
    assert_eq!(links.get(&no_email.0), Some(&candidates[&no_email.0]));
    let created = links.get(&other_email.0).expect("created anyway");
    assert_ne!(created, &candidates[&other_email.0]);
    for settled in [no_email.0, other_email.0] {
        assert_eq!(skipped(&report, settled), None, "{:?}", report.people);
    }
}

fn parse(day: &str) -> (i32, u8, u8) {
    let mut parts = day.split('-').map(|p| p.parse::<i32>().unwrap());
    let (y, m, d) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    (y, m as u8, d as u8)
}

// ---- Item 22: every synced person accounted for (R3, R22) ----------------------------------

/// How a run left one synced person.
#[derive(Debug, PartialEq, Eq)]
enum Fate {
    Linked,
    Created,
    Kept,
    Skipped,
    Failed,
}

/// Each synced Rock person's fate in `report`, given the links before the run; panics on a
/// person with two fates, or none.
fn fates(
    report: &Report,
    synced: &BTreeSet<i64>,
    linked_before: &BTreeMap<i64, String>,
    linked_after: &BTreeMap<i64, String>,
) -> BTreeMap<i64, Fate> {
    let mut found: BTreeMap<i64, Vec<Fate>> = BTreeMap::new();
    for outcome in &report.people {
        let Some(rock) = outcome.rock_id else {
            continue;
        };
        for action in &outcome.actions {
            let fate = match action {
                Action::Linked(_) => Fate::Linked,
                Action::Created(_) => Fate::Created,
                Action::Skipped(_) => Fate::Skipped,
                Action::Failed(_) => Fate::Failed,
                _ => continue,
            };
            found.entry(rock).or_default().push(fate);
        }
    }
    let mut fates = BTreeMap::new();
    for rock in synced {
        let mut mine = found.remove(rock).unwrap_or_default();
        if mine.is_empty()
            && linked_before.contains_key(rock)
            && linked_before.get(rock) == linked_after.get(rock)
        {
            mine.push(Fate::Kept);
        }
        assert!(
            mine.len() == 1,
            "R3, R22: Rock {rock} ends the run in exactly one of linked, created, kept, skipped or failed, not {mine:?}: {:?}",
            actions_of(report, *rock)
        );
        fates.insert(*rock, mine.pop().unwrap());
    }
    let strangers: Vec<i64> = found
        .keys()
        .filter(|rock| !synced.contains(rock))
        .copied()
        .collect();
    assert!(
        strangers.is_empty(),
        "linked, created, skipped or failed, but not synced: {strangers:?}"
    );
    fates
}

/// Who the account syncs now, as its status shows them (a level from their groups or tags).
async fn synced_now(harness: &Harness) -> BTreeSet<i64> {
    harness
        .full_status(0)
        .await
        .people
        .iter()
        .filter(|p| p.rock_level.is_some())
        .map(|p| p.rock_id)
        .collect()
}

/// Walks a real run: every person the status calls synced has exactly one fate, and the
/// report's count of synced people is theirs.
async fn walk_a_run(harness: &Harness) -> BTreeMap<i64, Fate> {
    let synced = synced_now(harness).await;
    let before = harness.links();
    let report = harness.sync_as(&account(harness), false).await.unwrap();
    let after = harness.links();
    assert_eq!(
        report.counts.synced as usize,
        synced.len(),
        "R22: the report counts the people the status calls synced"
    );
    fates(&report, &synced, &before, &after)
}

/// Gives two Rock people synced nowhere a value of a group-controlled tag (R14) in their
/// "PCO Tags", without making them members of its group; one of them is also made a member
/// of a permission group. Returns them.
fn tag_carriers_outside_the_group(harness: &Harness) -> Vec<i64> {
    let account = harness.account();
    let mapped = account
        .tag_groups
        .first()
        .expect("precondition: a group-mapped tag")
        .tag
        .clone();
    let carriers: Vec<i64> = harness.unsynced_rock_people().into_iter().take(2).collect();
    assert_eq!(carriers.len(), 2, "precondition: people synced nowhere");
    let mut data = harness.world.rock.data.lock().unwrap();
    for id in &carriers {
        let person = data.people.get_mut(id).unwrap();
        person.pco_tags = vec![format!("{}:{mapped}", account.name)];
        person.protection = pcosync::bindings::rock::Protection::Low;
    }
    carriers
}

// R3, R22 (issue 24 item 22): every synced person of a generated congregation ends each run
// in exactly one of linked, created, kept, skipped (with the reason) or failed, over a first
// run and the quiet run after it.
#[tokio::test]
async fn r3_every_synced_person_of_a_congregation_is_accounted_for_once() {
    let harness = Harness::new(120, 11).await;
    let first = walk_a_run(&harness).await;
    assert!(
        first.values().any(|f| *f == Fate::Linked) && first.values().any(|f| *f == Fate::Created),
        "precondition: a first run links and creates"
    );
    let second = walk_a_run(&harness).await;
    assert!(second.values().all(|f| *f != Fate::Created), "{second:?}");
}

// R3, R14, R22 (issue 24 item 22): people carrying a group-controlled tag without being in
// its group, and a synced person Rock's people list leaves out, are accounted for like
// everyone else: never counted as synced and then silently left alone.
#[tokio::test]
async fn r3_tag_carriers_outside_their_group_are_accounted_for() {
    let harness = Harness::new(80, 5).await;
    let carriers = tag_carriers_outside_the_group(&harness);
    let fates = walk_a_run(&harness).await;
    for carrier in &carriers {
        assert!(
            !fates.contains_key(carrier),
            "Rock {carrier}: a leftover group-controlled tag alone does not sync anyone new ({:?})",
            fates.get(carrier)
        );
    }
    // Linked, then out of their groups with the tag left behind: synced once more, to clear it.
    let (linked, _) = harness
        .links()
        .into_iter()
        .find(|(rock, _)| {
            harness.world.rock.data.lock().unwrap().people[rock]
                .pco_tags
                .is_empty()
        })
        .expect("precondition: a linked person");
    let mapped = harness.account().tag_groups[0].tag.clone();
    harness.leave_everything(linked);
    harness.edit_rock(linked, |p| {
        p.pco_tags = vec![format!("{}:{mapped}", harness.account().name)]
    });
    // And a synced person whom Rock's people list leaves out (an id in a group, no person).
    harness.join_group(busiest_group(&harness), 900_401);
    let fates = walk_a_run(&harness).await;
    assert_eq!(fates.get(&linked), Some(&Fate::Kept), "{fates:?}");
    assert_eq!(fates.get(&900_401), Some(&Fate::Skipped), "{fates:?}");
}

// ---- Item 25: why people wait (R32, R5) ----------------------------------------------------

// R32, R4 (issue 24 item 25): a person the sync skips every run (a protected person with a
// match in PCO, a namesake) is not shown as waiting for the next sync: the status says why
// they wait and what to do.
#[tokio::test]
async fn r32_the_status_says_why_a_skipped_person_waits() {
    let harness = Harness::new(80, 5).await;
    let (parent, child) = (900_501, 900_502);
    add_rock_person(
        &harness,
        parent,
        QUILL,
        Some(date(1971, 2, 3)),
        Some(QUILL_EMAIL),
    );
    add_rock_person(
        &harness,
        child,
        QUILL,
        Some(date(2009, 6, 7)),
        Some(QUILL_EMAIL),
    );
    add_pco_person(&harness, QUILL, None, Some(QUILL_EMAIL)).await;
    let report = harness.sync_as(&account(&harness), false).await.unwrap();
    let why = skipped(&report, child).expect("precondition: skipped");
    let status = harness.full_status(0).await;
    let row = status
        .people
        .iter()
        .find(|p| p.rock_id == child)
        .expect("listed");
    assert_eq!(row.pco_id, None);
    assert_eq!(
        row.waiting.as_deref(),
        Some(why.as_str()),
        "R32: the status says why they wait"
    );
    // Once linked by hand, nothing waits.
    let pco = add_pco_person(&harness, QUILL, Some("2009-06-07"), None).await;
    harness.link(child, &pco).await.unwrap();
    harness.sync_as(&account(&harness), false).await.unwrap();
    let status = harness.full_status(0).await;
    let row = status.people.iter().find(|p| p.rock_id == child).unwrap();
    assert_eq!(row.waiting, None);
}
