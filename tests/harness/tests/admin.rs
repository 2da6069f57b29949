//! The administration of an account (SPEC R32-R35), proved through the compiled guest: an
//! in-memory Rock, the PCO sandbox over loopback, in-memory state.

use pcosync::RunError;
use pcosync::bindings::engine::{
    AccountStatus, Action, PersonStatus, Report, RunKind, RunOutcome, StatusOptions,
};
use pcosync::bindings::types::{ErrorKind, FieldValue, PermissionLevel};
use pcosync_harness::Harness;

const FIRST_SYNC_STARTED: &str = "2026-11-23T00:00:00Z";

async fn synced_world() -> Harness {
    let harness = Harness::new(80, 5).await;
    harness.sync(false).await.expect("the first sync runs");
    harness
}

fn row(status: &AccountStatus, rock_id: i64) -> Option<&PersonStatus> {
    status.people.iter().find(|p| p.rock_id == rock_id)
}

fn actions_of(report: &Report, rock_id: i64) -> Vec<Action> {
    report
        .people
        .iter()
        .filter(|p| p.rock_id == Some(rock_id))
        .flat_map(|p| p.actions.clone())
        .collect()
}

fn guest_error(result: Result<(), RunError>) -> (ErrorKind, String) {
    match result {
        Err(RunError::Guest(e)) => (e.kind, e.message),
        other => panic!("expected the guest to refuse, got {other:?}"),
    }
}

/// A linked person who is no organization administrator in PCO (the delete refuses those).
fn deletable(harness: &Harness, rock_id: i64) -> bool {
    let links = harness.links();
    let state = harness.pco_state(&links[&rock_id]);
    state["person"]["attributes"]["site_administrator"] != true
}

// R32: the groups syncing to the account with their levels and member counts, and the people
// with their PCO id, level in Rock and in PCO, saved values and last sync.
#[tokio::test]
async fn status_shows_groups_with_levels_and_people_with_both_levels_and_saved_values() {
    let harness = synced_world().await;
    let status = harness.full_status(5).await;
    assert_eq!(status.account, harness.account().name);
    assert_eq!(status.last_success.as_deref(), Some(FIRST_SYNC_STARTED));

    // Groups: every group configured for the account, with what it grants and its members.
    let data = harness.world.rock.data.lock().unwrap().clone();
    for id in harness.account_group_ids() {
        let group = status
            .groups
            .iter()
            .find(|g| g.id == id)
            .unwrap_or_else(|| panic!("group {id} is listed"));
        let rock = data.groups.iter().find(|g| g.id == id).unwrap();
        assert_eq!(group.name, rock.name);
        assert_eq!(
            group.level,
            Some(rock.level.unwrap_or(PermissionLevel::ScheduledViewer))
        );
        assert!(group.enabled);
        let members = data.members.iter().filter(|m| m.group_id == id).count();
        assert_eq!(group.active_members as usize, members);
    }
    for tag_group in &harness.account().tag_groups {
        assert!(
            status.groups.iter().any(|g| g.id == tag_group.group_id
                && g.tag.as_deref().is_some_and(|t| t.contains(&tag_group.tag))),
            "the tag-mapped group {} is listed with its tag",
            tag_group.group_id
        );
    }

    // People: every link, with both levels, the saved values and the last sync.
    let links = harness.links();
    assert!(!links.is_empty());
    for (rock_id, pco_id) in &links {
        let person = row(&status, *rock_id).expect("every linked person is listed");
        assert_eq!(person.pco_id.as_deref(), Some(pco_id.as_str()));
        // A level in Rock exactly when the groups or the "PCO Tags" attribute sync them now
        // (the first sync may have cleared an attribute value that a group-mapped tag owns).
        let in_group = data.members.iter().any(|m| {
            m.person_id == *rock_id
                && (harness.account_group_ids().contains(&m.group_id)
                    || harness
                        .account()
                        .tag_groups
                        .iter()
                        .any(|t| t.group_id == m.group_id))
        });
        let prefix = format!("{}:", harness.account().name);
        let tagged = data.people[rock_id]
            .pco_tags
            .iter()
            .any(|t| t.starts_with(&prefix));
        assert_eq!(
            person.rock_level.is_some(),
            in_group || tagged,
            "{person:?}"
        );
        assert!(person.pco_level.is_some(), "{person:?}");
        assert_eq!(person.last_synced.as_deref(), Some(FIRST_SYNC_STARTED));
        assert!(!person.name.is_empty());
        let rock = &data.people[rock_id];
        assert!(
            person
                .values
                .contains(&FieldValue::LastName(rock.last_name.clone())),
            "{:?}",
            person.values
        );
        assert!(
            person.name.ends_with(rock.last_name.trim()),
            "{}",
            person.name
        );
    }
    // Levels in Rock and in PCO agree after the sync (except where PCO held a higher one).
    assert!(links.keys().any(|id| {
        let person = row(&status, *id).unwrap();
        person.rock_level == person.pco_level
    }));
    let (rock_id, _) = links.iter().next().unwrap();
    let person = row(&status, *rock_id).unwrap();

    // Without values, and for one person only.
    let one = harness
        .status(&StatusOptions {
            with_values: false,
            rock_ids: vec![*rock_id],
            runs: 0,
        })
        .await
        .unwrap();
    assert_eq!(one.people.len(), 1);
    assert!(one.people[0].values.is_empty());
    assert!(one.runs.is_empty());

    // R53: the status names people; the log does not.
    for text in harness.logged_text() {
        assert!(!text.contains(&person.name), "{text}");
    }
}

// R34: a person added to a synced group shows at once, before any sync, and nothing is
// written to PCO; a person who left shows with no Rock level.
#[tokio::test]
async fn refresh_lists_a_new_group_member_before_any_sync_and_writes_nothing_to_pco() {
    let harness = synced_world().await;
    let newcomer = *harness
        .unsynced_rock_people()
        .first()
        .expect("someone in Rock syncs to no account");
    let group = harness.account_group_ids()[0];
    let level = harness
        .world
        .rock
        .data
        .lock()
        .unwrap()
        .groups
        .iter()
        .find(|g| g.id == group)
        .unwrap()
        .level
        .unwrap_or(PermissionLevel::ScheduledViewer);
    let (leaver, leaver_pco) = harness.links().into_iter().next().unwrap();
    assert!(row(&harness.full_status(0).await, newcomer).is_none());

    harness.join_group(group, newcomer);
    harness.leave_everything(leaver);
    harness.sandbox.clear_requests();
    let status = harness.refresh().await.expect("the refresh runs");

    assert!(
        harness.sandbox.requests().is_empty(),
        "a refresh does not even read PCO"
    );
    let person = row(&status, newcomer).expect("the newcomer is listed at once");
    assert_eq!(person.pco_id, None);
    assert_eq!(person.rock_level, Some(level));
    assert!(!person.name.is_empty(), "named from Rock");
    assert!(harness.state_has(&format!("roster/{newcomer}")));
    let left = row(&status, leaver).expect("the leaver keeps a row");
    assert_eq!(left.rock_level, None);
    assert_eq!(left.pco_id.as_deref(), Some(leaver_pco.as_str()));
    assert!(!harness.state_has(&format!("roster/{leaver}")));
    assert!(!harness.links().contains_key(&newcomer));

    // The next sync links or creates the newcomer.
    let report = harness.sync(false).await.unwrap();
    assert!(
        actions_of(&report, newcomer)
            .iter()
            .any(|a| matches!(a, Action::Created(_) | Action::Linked(_))),
        "{:?}",
        actions_of(&report, newcomer)
    );
    assert!(harness.links().contains_key(&newcomer));
}

// R33: a person re-linked by hand is merged with the new PCO person at the next sync, without
// a duplicate; the old base is not carried over.
#[tokio::test]
async fn link_relinks_and_the_next_sync_merges_with_the_new_pco_person() {
    let harness = synced_world().await;
    let (rock_id, old_pco) = harness.links().into_iter().next().unwrap();
    let new_pco = harness
        .pco_only_ids()
        .into_iter()
        .find(|id| !harness.links().values().any(|linked| linked == id))
        .expect("a PCO person no one is linked to");
    let people_before = harness
        .sandbox
        .people_count(&harness.account().name)
        .unwrap();

    harness.sandbox.clear_requests();
    harness
        .link(rock_id, &new_pco)
        .await
        .expect("the link is set");
    assert_eq!(harness.pco_writes(), 0, "a link writes nothing to PCO");
    assert_eq!(harness.links()[&rock_id], new_pco);
    let status = harness.full_status(0).await;
    let person = row(&status, rock_id).unwrap();
    assert_eq!(person.pco_id.as_deref(), Some(new_pco.as_str()));
    assert!(person.values.is_empty(), "nothing of the old base is kept");
    assert_eq!(person.last_synced, None);

    let report = harness.sync(false).await.unwrap();
    assert_eq!(report.counts.created, 0, "{:?}", report.people);
    assert_eq!(
        harness
            .sandbox
            .people_count(&harness.account().name)
            .unwrap(),
        people_before,
        "no duplicate in PCO"
    );
    assert_eq!(harness.links()[&rock_id], new_pco);
    let rock_last = harness.world.rock.data.lock().unwrap().people[&rock_id]
        .last_name
        .clone();
    assert_eq!(
        harness.pco_state(&new_pco)["person"]["attributes"]["last_name"],
        rock_last.as_str(),
        "the next sync merged Rock's values into the new PCO person"
    );
    assert!(
        !harness.pco_state(&old_pco).is_null(),
        "the old PCO person is left alone"
    );
    let status = harness.full_status(0).await;
    let person = row(&status, rock_id).unwrap();
    assert!(person.values.contains(&FieldValue::LastName(rock_last)));

    // Linking to the same PCO person again changes nothing.
    harness.link(rock_id, &new_pco).await.unwrap();
    assert_eq!(
        row(&harness.full_status(0).await, rock_id).unwrap().values,
        person.values
    );
}

// R33: refused for a PCO person who does not exist, one linked to someone else, a Rock
// person who does not exist, or something that is not a PCO id; the errors name both ids.
#[tokio::test]
async fn link_is_refused_for_a_missing_pco_person_or_one_linked_to_someone_else() {
    let harness = synced_world().await;
    let mut links = harness.links().into_iter();
    let (rock_a, pco_a) = links.next().unwrap();
    let (rock_b, pco_b) = links.next().unwrap();

    let (kind, message) = guest_error(harness.link(rock_a, "999999999").await);
    assert_eq!(kind, ErrorKind::NotFound);
    assert!(message.contains("999999999") && message.contains(&rock_a.to_string()));

    let (kind, message) = guest_error(harness.link(rock_b, &pco_a).await);
    assert_eq!(kind, ErrorKind::Conflict);
    assert!(
        message.contains(&pco_a)
            && message.contains(&rock_a.to_string())
            && message.contains(&rock_b.to_string()),
        "{message}"
    );

    let (kind, message) = guest_error(harness.link(987_654_321, &pco_a).await);
    assert_eq!(kind, ErrorKind::NotFound);
    assert!(message.contains("987654321") && message.contains(&pco_a));

    let (kind, _) = guest_error(harness.link(rock_a, "../../services/v2/people").await);
    assert_eq!(kind, ErrorKind::Invalid);

    // Nothing changed.
    assert_eq!(harness.links()[&rock_a], pco_a);
    assert_eq!(harness.links()[&rock_b], pco_b);
}

// R35: a dry run lists who goes and writes nothing; the delete removes the PCO people and
// their links, flags the one still in a synced group, reports unknown ids without failing,
// and is an audited run; the next sync adds back the one still in a group (a new PCO
// person) while the one in no group stays gone.
#[tokio::test]
async fn delete_removes_from_pco_and_state_and_the_next_sync_adds_back_who_is_still_synced() {
    let harness = synced_world().await;
    let mut candidates = harness
        .links()
        .into_iter()
        .filter(|(rock_id, _)| deletable(&harness, *rock_id));
    let (stays, stays_pco) = candidates.next().expect("a deletable linked person");
    let (leaves, leaves_pco) = candidates.next().expect("another one");
    harness.leave_everything(leaves);
    let links_before = harness.links();

    // The dry run.
    harness.sandbox.clear_requests();
    let plan = harness
        .delete(
            &[&stays_pco, &leaves_pco, "999999999", "bogus"],
            "delete-dry",
            true,
        )
        .await
        .expect("the dry run runs");
    assert!(plan.dry_run);
    assert_eq!(harness.pco_writes(), 0, "a dry run writes nothing to PCO");
    assert_eq!(harness.links(), links_before, "nor to the state");
    assert!(!harness.state_has("run/delete-dry"));
    assert_eq!(plan.counts.deleted, 2);
    assert_eq!(plan.counts.skipped, 2);
    assert!(actions_of(&plan, stays).contains(&Action::Flagged(
        "still in a synced group: the next sync adds them back".into()
    )));
    assert!(
        !actions_of(&plan, leaves)
            .iter()
            .any(|a| matches!(a, Action::Flagged(_)))
    );

    // The delete.
    let report = harness
        .delete(&[&stays_pco, &leaves_pco, "999999999"], "delete-1", false)
        .await
        .expect("the delete runs");
    assert_eq!(report.kind, RunKind::Delete);
    assert_eq!(report.counts.deleted, 2);
    assert_eq!(
        report.counts.skipped, 1,
        "an unknown id is skipped, not fatal"
    );
    assert_eq!(report.counts.failed, 0);
    assert!(actions_of(&report, stays).contains(&Action::Deleted));
    assert!(actions_of(&report, stays).contains(&Action::Flagged(
        "still in a synced group: the next sync adds them back".into()
    )));
    assert!(actions_of(&report, leaves).contains(&Action::Deleted));
    for pco_id in [&stays_pco, &leaves_pco] {
        assert!(
            harness.pco_state(pco_id).is_null(),
            "PCO person {pco_id} is gone from People and Services"
        );
    }
    let links = harness.links();
    assert!(!links.contains_key(&stays) && !links.contains_key(&leaves));
    assert_eq!(links.len(), links_before.len() - 2);

    // An audited run (R25): in the history, with a write per person deleted.
    let status = harness.full_status(5).await;
    let run = status
        .runs
        .iter()
        .find(|r| r.run_id == "delete-1")
        .expect("the delete is in the run history");
    assert_eq!(run.kind, RunKind::Delete);
    assert_eq!(run.outcome, RunOutcome::Succeeded);
    assert_eq!(run.counts.deleted, 2);
    let detail = harness.run_detail("delete-1").await.unwrap();
    let mut deleted: Vec<Option<String>> = detail
        .writes
        .iter()
        .filter(|w| w.field == "person" && w.after.is_none())
        .map(|w| w.pco_id.clone())
        .collect();
    deleted.sort();
    let mut expected = vec![Some(stays_pco.clone()), Some(leaves_pco.clone())];
    expected.sort();
    assert_eq!(deleted, expected);
    // Still listed while in a group, without a PCO id; the one in no group is not.
    assert_eq!(row(&status, stays).unwrap().pco_id, None);
    assert!(row(&status, leaves).is_none());

    // The next sync adds back the one still in a group, as a new PCO person.
    let next = harness.sync(false).await.unwrap();
    let created: Vec<String> = actions_of(&next, stays)
        .into_iter()
        .filter_map(|a| match a {
            Action::Created(id) => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(created.len(), 1, "{:?}", actions_of(&next, stays));
    assert_ne!(created[0], stays_pco);
    assert_eq!(harness.links()[&stays], created[0]);
    assert!(actions_of(&next, leaves).is_empty());
    assert!(!harness.links().contains_key(&leaves));
    assert!(harness.pco_state(&leaves_pco).is_null());

    // R53: the log names them by id only.
    let names: Vec<String> = {
        let data = harness.world.rock.data.lock().unwrap();
        [stays, leaves]
            .iter()
            .map(|id| {
                format!(
                    "{} {}",
                    data.people[id].first_name, data.people[id].last_name
                )
            })
            .collect()
    };
    for text in harness.logged_text() {
        for name in &names {
            assert!(!text.contains(name.as_str()), "{text}");
        }
    }
}
