//! Email from PCO and Rock logins (SPEC R12, R53; issue 24 item 15), through the compiled
//! guest: whoever can edit a linked person's email in PCO could, once the sync copies it to
//! Rock, reset that person's Rock password. A PCO-side email change for a Rock person who has
//! a Rock login, or account protection Medium or above, is not written to Rock: it waits for
//! an administrator, run after run, and is written once confirmed.

use pcosync::bindings::engine::{Action, Report};
use pcosync::bindings::rock::Protection;
use pcosync::bindings::state::{Entry, Write};
use pcosync::state::StateStore;
use pcosync_harness::Harness;

/// Linked people with a primary email on both sides, none of them an organization
/// administrator or archived: (Rock id, PCO id, PCO email id).
fn people_with_email(harness: &Harness) -> Vec<(i64, String, String)> {
    let rock = harness.world.rock.data.lock().unwrap().people.clone();
    harness
        .links()
        .into_iter()
        .filter(|(rock_id, _)| {
            rock.get(rock_id)
                .is_some_and(|p| p.email.is_some() && p.protection == Protection::Low)
        })
        .filter_map(|(rock_id, pco_id)| {
            let state = harness.pco_state(&pco_id);
            if state["services"]["attributes"]["site_administrator"] == true {
                return None;
            }
            let email = state["included"]
                .as_array()?
                .iter()
                .find(|r| r["type"] == "Email" && r["attributes"]["primary"] == true)?;
            Some((rock_id, pco_id, email["id"].as_str()?.to_string()))
        })
        .collect()
}

/// Staff changing a person's primary email in PCO.
async fn change_pco_email(harness: &Harness, email_id: &str, address: &str) {
    harness
        .pco_call(
            pcosync::bindings::pco::Method::Patch,
            &format!("/people/v2/emails/{email_id}"),
            serde_json::json!({"data": {"type": "Email", "id": email_id,
                "attributes": {"address": address}}}),
        )
        .await;
}

fn rock_email(harness: &Harness, rock_id: i64) -> Option<String> {
    harness.world.rock.data.lock().unwrap().people[&rock_id]
        .email
        .clone()
}

fn flags_of(report: &Report, rock_id: i64) -> Vec<String> {
    report
        .people
        .iter()
        .filter(|p| p.rock_id == Some(rock_id))
        .flat_map(|p| &p.actions)
        .filter_map(|a| match a {
            Action::Flagged(note) => Some(note.clone()),
            _ => None,
        })
        .collect()
}

fn pco_primary_email(harness: &Harness, pco_id: &str) -> Option<String> {
    let state = harness.pco_state(pco_id);
    state["included"]
        .as_array()?
        .iter()
        .find(|r| r["type"] == "Email" && r["attributes"]["primary"] == true)
        .and_then(|r| r["attributes"]["address"].as_str())
        .map(str::to_string)
}

// R12, R53 (issue 24 item 15): a PCO-side email change of a Rock person with account
// protection Medium is held for an administrator (flagged, kept in the state by id), neither
// written to Rock nor undone in PCO, run after run; an ordinary person's change is copied as
// before. Once an administrator confirms it, the next sync writes it to Rock.
#[tokio::test]
async fn r12_a_pco_email_change_of_a_protected_rock_person_waits_for_an_administrator() {
    let harness = Harness::new(80, 5).await;
    harness.sync(false).await.expect("the first sync runs");
    let people = people_with_email(&harness);
    assert!(
        people.len() >= 2,
        "precondition: two linked people with email"
    );
    let (guarded, guarded_pco, guarded_email) = people[0].clone();
    let (ordinary, _, ordinary_email) = people[1].clone();
    harness.edit_rock(guarded, |p| p.protection = Protection::Medium);
    let before = rock_email(&harness, guarded);
    change_pco_email(&harness, &guarded_email, "taken.over@example.net").await;
    change_pco_email(&harness, &ordinary_email, "moved.house@example.net").await;

    let report = harness.sync(false).await.expect("the sync runs");
    assert_eq!(report.counts.failed, 0, "{:?}", report.people);
    assert_eq!(
        rock_email(&harness, ordinary).as_deref(),
        Some("moved.house@example.net"),
        "an ordinary person's PCO email change reaches Rock"
    );
    assert_eq!(rock_email(&harness, guarded), before, "held, not written");
    let flags = flags_of(&report, guarded);
    assert!(
        flags.iter().any(|f| f.contains("confirm")),
        "the hold is reported: {flags:?}"
    );
    let held_key = format!("email-held/{guarded}");
    assert!(harness.state_has(&held_key), "the hold is kept for status");
    // R53: the report names people by id, never the address waiting.
    assert!(!flags.iter().any(|f| f.contains("taken.over")), "{flags:?}");

    // Run after run: still held, and PCO keeps its new email (Rock's is not pushed back).
    let again = harness.sync(false).await.unwrap();
    assert_eq!(rock_email(&harness, guarded), before);
    assert_eq!(
        pco_primary_email(&harness, &guarded_pco).as_deref(),
        Some("taken.over@example.net")
    );
    assert!(
        flags_of(&again, guarded)
            .iter()
            .any(|f| f.contains("confirm"))
    );

    // An administrator confirms (what `pcosync email confirm` writes): the next sync writes it.
    let held = harness
        .state
        .dump()
        .into_iter()
        .find(|((_, k), _)| *k == held_key)
        .map(|(_, v)| v)
        .unwrap();
    harness
        .state
        .commit(
            &harness.world.account.name,
            &[Write::Put(Entry {
                key: format!("email-confirmed/{guarded}"),
                value: held,
            })],
        )
        .unwrap();
    harness.sync(false).await.unwrap();
    assert_eq!(
        rock_email(&harness, guarded).as_deref(),
        Some("taken.over@example.net")
    );
    assert!(!harness.state_has(&held_key));
    assert!(!harness.state_has(&format!("email-confirmed/{guarded}")));
}

// R12 (issue 24 item 15): a Rock login is reason enough, whatever the protection: a PCO-side
// email change of a person with a Rock login (Rock reads `UserLogin`) is held and flagged,
// and a dry run shows the same hold without writing it.
#[tokio::test]
async fn r12_a_pco_email_change_of_a_person_with_a_rock_login_is_held() {
    let harness = Harness::new(80, 6).await;
    harness.sync(false).await.expect("the first sync runs");
    let people = people_with_email(&harness);
    let (with_login, _, email_id) = people.first().cloned().expect("a linked person");
    harness
        .world
        .rock
        .data
        .lock()
        .unwrap()
        .logins
        .insert(with_login);
    let before = rock_email(&harness, with_login);
    change_pco_email(&harness, &email_id, "reset.my.password@example.net").await;

    let dry = harness.sync(true).await.unwrap();
    assert!(
        flags_of(&dry, with_login)
            .iter()
            .any(|f| f.contains("Rock login") && f.contains("confirm")),
        "{:?}",
        flags_of(&dry, with_login)
    );
    assert!(!harness.state_has(&format!("email-held/{with_login}")));

    let report = harness.sync(false).await.unwrap();
    assert_eq!(report.counts.failed, 0, "{:?}", report.people);
    assert_eq!(rock_email(&harness, with_login), before);
    assert!(harness.state_has(&format!("email-held/{with_login}")));
}

// R12 (issue 24 item 15): when Rock cannot say who has a login (the REST key may not view
// UserLogins), an email change from PCO waits rather than risk a login: held and flagged with
// the reason, never written.
#[tokio::test]
async fn r12_an_email_change_waits_when_rock_cannot_say_who_has_a_login() {
    use pcosync::bindings::types::{Error, ErrorKind};
    let harness = Harness::new(80, 7).await;
    harness.sync(false).await.expect("the first sync runs");
    let (person, _, email_id) = people_with_email(&harness)
        .first()
        .cloned()
        .expect("a linked person");
    let before = rock_email(&harness, person);
    change_pco_email(&harness, &email_id, "unseen.change@example.net").await;
    harness.world.rock.fail(
        "people_with_logins",
        Error::new(ErrorKind::Unauthorized, "Rock answered 401 on UserLogins"),
    );
    let report = harness.sync(false).await.unwrap();
    assert_eq!(report.counts.failed, 0, "{:?}", report.people);
    assert_eq!(rock_email(&harness, person), before);
    let flags = flags_of(&report, person);
    assert!(
        flags
            .iter()
            .any(|f| f.contains("could not say") && f.contains("UserLogins")),
        "{flags:?}"
    );
}
