//! Bugs found by reviewing the guest against SPEC with real-world data in mind (issue 15),
//! each proved through the compiled guest. Every test names its R id and asserts the
//! precondition it needs rather than passing by returning early.

use std::sync::Arc;

use async_trait::async_trait;
use pcosync::bindings::engine::{Action, Report, SyncOptions};
use pcosync::bindings::pco::{Request, Response};
use pcosync::bindings::types::{Error, PermissionLevel};
use pcosync::pco::Pco;
use pcosync::pco::http::HttpPco;
use pcosync_harness::Harness;

async fn synced_world() -> Harness {
    let harness = Harness::new(80, 5).await;
    harness.sync(false).await.expect("the first sync runs");
    harness
}

fn actions_of(report: &Report, rock_id: i64) -> Vec<Action> {
    report
        .people
        .iter()
        .filter(|p| p.rock_id == Some(rock_id))
        .flat_map(|p| p.actions.clone())
        .collect()
}

fn updates_only() -> SyncOptions {
    let mut options = pcosync_harness::options(false);
    options.updates_only = Some(true);
    options
}

async fn run(
    harness: &Harness,
    account: &pcosync::bindings::engine::Account,
    options: &SyncOptions,
) -> Report {
    harness
        .runtime
        .sync(&harness.guest, &harness.capabilities(), account, options)
        .await
        .expect("the sync runs")
}

/// A linked person in a permission group, at Scheduled Viewer in PCO, who is not an
/// organization administrator.
fn scheduled_viewer_in_a_group(harness: &Harness) -> (i64, String) {
    let groups = harness.account_group_ids();
    let data = harness.world.rock.data.lock().unwrap().clone();
    harness
        .links()
        .into_iter()
        .find(|(rock_id, pco)| {
            let in_group = data.members.iter().any(|m| {
                m.person_id == *rock_id
                    && groups.contains(&m.group_id)
                    && data
                        .groups
                        .iter()
                        .any(|g| g.id == m.group_id && g.is_active && g.level.is_some())
            });
            in_group
                && harness.pco_state(pco)["services"]["attributes"]["site_administrator"] != true
                && harness.pco_permission(pco).as_deref() == Some("Scheduled Viewer")
        })
        .expect("precondition: a linked Scheduled Viewer in a permission group")
}

/// Gives every permission group the person is in the level `level`.
fn set_levels_of_groups_of(harness: &Harness, rock_id: i64, level: PermissionLevel) {
    let groups = harness.account_group_ids();
    let mut data = harness.world.rock.data.lock().unwrap();
    let theirs: Vec<i64> = data
        .members
        .iter()
        .filter(|m| m.person_id == rock_id && groups.contains(&m.group_id))
        .map(|m| m.group_id)
        .collect();
    for group in data.groups.iter_mut().filter(|g| theirs.contains(&g.id)) {
        if group.level.is_some() {
            group.level = Some(level);
        }
    }
}

// R17, R50 (issue 15 item 1): a level raised by hand in PCO since the last sync is never
// lowered by an updates-only run's "raise" computed from the stale record.
#[tokio::test]
async fn updates_only_never_lowers_a_level_raised_by_hand_in_pco() {
    let harness = synced_world().await;
    let (rock_id, pco_id) = scheduled_viewer_in_a_group(&harness);
    harness
        .edit_pco(
            &format!("/services/v2/people/{pco_id}"),
            serde_json::json!({"permissions": "Administrator"}),
        )
        .await;
    set_levels_of_groups_of(&harness, rock_id, PermissionLevel::Scheduler);
    let mut account = harness.account();
    account.brake_percent = 100;
    let report = run(&harness, &account, &updates_only()).await;
    assert_eq!(report.counts.lowered, 0, "{:?}", report.people);
    assert_eq!(
        harness.pco_permission(&pco_id).as_deref(),
        Some("Administrator"),
        "{:?}",
        actions_of(&report, rock_id)
    );
    assert!(
        !actions_of(&report, rock_id)
            .iter()
            .any(|a| matches!(a, Action::Raised(_))),
        "{:?}",
        actions_of(&report, rock_id)
    );
}

// R50 (issue 15 item 1): the same for an organization administrator, with downgrade on: an
// updates-only run never lowers one, and does not email every administrator.
#[tokio::test]
async fn updates_only_never_lowers_an_organization_administrator() {
    let harness = synced_world().await;
    let (rock_id, pco_id) = scheduled_viewer_in_a_group(&harness);
    harness
        .edit_pco(
            &format!("/people/v2/people/{pco_id}"),
            serde_json::json!({"site_administrator": true}),
        )
        .await;
    harness
        .edit_pco(
            &format!("/services/v2/people/{pco_id}"),
            serde_json::json!({"permissions": "Editor"}),
        )
        .await;
    harness.sandbox.clear_outbox();
    set_levels_of_groups_of(&harness, rock_id, PermissionLevel::Viewer);
    let mut account = harness.account();
    account.allow_downgrade = true;
    account.brake_percent = 100;
    let report = run(&harness, &account, &updates_only()).await;
    assert_eq!(report.counts.lowered, 0, "{:?}", report.people);
    assert_eq!(harness.pco_permission(&pco_id).as_deref(), Some("Editor"));
    assert_eq!(harness.emails("OrgAdminLowered"), 0);
}

// R17 (issue 15 item 1): an updates-only run still raises someone whose group was raised,
// having read their Services record first.
#[tokio::test]
async fn updates_only_raises_after_reading_the_services_record() {
    let harness = synced_world().await;
    let (rock_id, pco_id) = scheduled_viewer_in_a_group(&harness);
    set_levels_of_groups_of(&harness, rock_id, PermissionLevel::Scheduler);
    harness.sandbox.clear_requests();
    let mut account = harness.account();
    account.brake_percent = 100;
    let report = run(&harness, &account, &updates_only()).await;
    assert!(
        actions_of(&report, rock_id).contains(&Action::Raised((
            Some(PermissionLevel::ScheduledViewer),
            PermissionLevel::Scheduler
        ))),
        "{:?}",
        actions_of(&report, rock_id)
    );
    assert_eq!(
        harness.pco_permission(&pco_id).as_deref(),
        Some("Scheduler")
    );
    let read =
        harness.sandbox.requests().iter().any(|r| {
            r.method == "GET" && r.path.starts_with(&format!("/services/v2/people/{pco_id}"))
        });
    assert!(read, "the Services record was read before the raise");
}

/// A Rock person who is in PCO with the same names and email, with their PCO id (before
/// any sync: the sandbox's id of the same congregation member).
fn clean_match(harness: &Harness) -> (i64, String) {
    let name = &harness.world.account.name;
    let index = harness
        .congregation
        .account_index(name)
        .expect("the harness account");
    let importable: Vec<PermissionLevel> = pcosync_harness::import_groups(&harness.world)
        .iter()
        .map(|g| g.level)
        .collect();
    let level = |l: congregation::Level| match l {
        congregation::Level::ScheduledViewer => PermissionLevel::ScheduledViewer,
        congregation::Level::Viewer => PermissionLevel::Viewer,
        congregation::Level::Scheduler => PermissionLevel::Scheduler,
        congregation::Level::Editor => PermissionLevel::Editor,
        congregation::Level::Administrator => PermissionLevel::Administrator,
    };
    harness
        .congregation
        .pco_people(index)
        .filter(|m| {
            m.in_rock()
                && m.email.is_some()
                && m.pco_email_drift.is_none()
                && m.pco_nick_drift.is_none()
                && !m.pco_archived
                && !m.pco_org_admin
                && m.pco_level.is_some_and(|l| importable.contains(&level(l)))
                && matches!(
                    m.protection,
                    congregation::Protection::Low | congregation::Protection::Medium
                )
        })
        .find_map(|m| {
            let rock_id = pcosync::demo::rock_id(m);
            let synced = harness
                .world
                .rock
                .data
                .lock()
                .unwrap()
                .members
                .iter()
                .any(|x| x.person_id == rock_id);
            let pco_id = harness.sandbox.pco_id(name, m.key)?;
            synced.then_some((rock_id, pco_id))
        })
        .expect("precondition: a synced Rock person with the same name and email in PCO")
}

// R4 (issue 15 item 5): names typed differently on each side (a curly apostrophe, a
// decomposed accent, a non-breaking hyphen, other letter case) are one name: the first sync
// links them, and creates nobody (no second PCO person, no welcome email).
#[tokio::test]
async fn the_sync_matches_names_typed_differently() {
    let harness = Harness::new(80, 5).await;
    let (rock_id, pco_id) = clean_match(&harness);
    harness
        .edit_pco(
            &format!("/people/v2/people/{pco_id}"),
            serde_json::json!({"first_name": "\u{c9}lodie", "given_name": "\u{c9}lodie", "last_name": "D'Arcy-Smith"}),
        )
        .await;
    harness.edit_rock(rock_id, |p| {
        p.first_name = "E\u{301}lodie".into();
        p.nick_name = "E\u{301}LODIE".into();
        p.last_name = "D\u{2019}Arcy\u{2011}smith".into();
    });
    let report = harness.sync(false).await.unwrap();
    let actions = actions_of(&report, rock_id);
    assert!(
        actions.contains(&Action::Linked(pco_id.clone())),
        "{actions:?}"
    );
    assert_eq!(harness.links().get(&rock_id), Some(&pco_id));
}

// R41 (issue 15 item 5): the import applies the same rule: a PCO person whose Rock record
// spells the name in another Unicode form or with a curly apostrophe is linked, not created
// a second time in Rock.
#[tokio::test]
async fn the_import_matches_names_typed_differently() {
    let harness = Harness::new(80, 5).await;
    let (rock_id, pco_id) = clean_match(&harness);
    harness
        .edit_pco(
            &format!("/people/v2/people/{pco_id}"),
            serde_json::json!({"first_name": "E\u{301}lodie", "given_name": "E\u{301}lodie", "last_name": "O\u{2019}Brien"}),
        )
        .await;
    harness.edit_rock(rock_id, |p| {
        p.first_name = "\u{c9}lodie".into();
        p.nick_name = "\u{c9}lodie".into();
        p.last_name = "o'brien".into();
    });
    let people = harness.world.rock.data.lock().unwrap().people.len();
    let report = harness.import(false).await.unwrap();
    let line: Vec<&Action> = report
        .people
        .iter()
        .filter(|p| p.pco_id.as_deref() == Some(pco_id.as_str()))
        .flat_map(|p| &p.actions)
        .collect();
    assert_eq!(harness.links().get(&rock_id), Some(&pco_id), "{line:?}");
    assert_eq!(
        harness.world.rock.data.lock().unwrap().people.len(),
        people + report.counts.created as usize
    );
    assert!(
        !line.iter().any(|a| matches!(a, Action::Created(_))),
        "{line:?}"
    );
}

/// PCO as it answers when its people list comes back short (a fault, a filter, an account
/// mix-up): every other person of each people page is left out.
struct ShortList {
    inner: Arc<HttpPco>,
}

#[async_trait]
impl Pco for ShortList {
    async fn send(&self, account: &str, request: &Request) -> Result<Response, Error> {
        let mut response = self.inner.send(account, request).await?;
        let listing = request.path == "/people/v2/people"
            && !request.query.iter().any(|(k, _)| k.starts_with("where["));
        if listing && let Ok(mut body) = serde_json::from_slice::<serde_json::Value>(&response.body)
        {
            if let Some(data) = body["data"].as_array_mut() {
                let mut keep = false;
                data.retain(|_| {
                    keep = !keep;
                    keep
                });
            }
            response.body = body.to_string().into_bytes();
        }
        Ok(response)
    }

    async fn upload(
        &self,
        account: &str,
        content_type: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<String, Error> {
        self.inner.upload(account, content_type, name, bytes).await
    }
}

// R5, R6 (issue 14.5): a short PCO list (windows shifted by people created or merged while
// it was read) is no proof that anyone is gone: each linked person missing is asked for by
// id, and nobody is matched again, created anew or welcomed a second time.
#[tokio::test]
async fn a_short_pco_list_loses_nobody() {
    let harness = synced_world().await;
    let people = harness.sandbox.people_count(&harness.world.account.name);
    let welcomes = harness.emails("Welcome");
    let links = harness.links();
    harness.sandbox.clear_requests();
    let report = harness
        .sync_through(Arc::new(ShortList {
            inner: harness.pco.clone(),
        }))
        .await
        .unwrap();
    assert_eq!(
        (report.counts.linked, report.counts.created),
        (0, 0),
        "{:?}",
        report.people
    );
    assert!(!report.held);
    assert_eq!(harness.links(), links);
    assert_eq!(harness.pco_writes(), 0);
    assert_eq!(
        harness.sandbox.people_count(&harness.world.account.name),
        people
    );
    assert_eq!(harness.emails("Welcome"), welcomes);
    let asked = asked_by_id(&harness, &links);
    assert!(
        asked >= links.len() / 3,
        "asked for {asked} of {} linked people",
        links.len()
    );
}

// R24, R6 (issue 15 item 6): people deleted in PCO in bulk are re-created (with a welcome
// email each) only after a confirmation: creates and re-links count in the brake's share, so
// the run is held and writes nothing.
#[tokio::test]
async fn a_mass_deletion_in_pco_is_held_by_the_brake() {
    let harness = synced_world().await;
    let links = harness.links();
    for pco_id in links.values().step_by(2) {
        harness
            .pco_call(
                pcosync::bindings::pco::Method::Delete,
                &format!("/people/v2/people/{pco_id}"),
                serde_json::Value::Null,
            )
            .await;
    }
    let people = harness.sandbox.people_count(&harness.world.account.name);
    let welcomes = harness.emails("Welcome");
    harness.sandbox.clear_requests();
    let report = harness.sync(false).await.unwrap();
    assert!(report.held, "{:?}", report.counts);
    assert_eq!(harness.pco_writes(), 0);
    assert_eq!(
        harness.sandbox.people_count(&harness.world.account.name),
        people
    );
    assert_eq!(harness.emails("Welcome"), welcomes);
    assert!(
        flagged(&report, "was deleted in PCO"),
        "{:?}",
        report.people
    );
}

/// A held run: every linked person's middle name changed in Rock.
async fn held_run(harness: &Harness) -> Report {
    for rock_id in harness.links().keys() {
        harness.edit_rock(*rock_id, |p| p.middle_name = "Mass".into());
    }
    let held = harness.sync(false).await.unwrap();
    assert!(held.held, "precondition: the brake holds the run");
    held
}

fn confirming(held: &Report, started_at: &str) -> SyncOptions {
    let mut options = pcosync_harness::options(false);
    options.confirm = Some(held.run_id.clone());
    options.started_at = started_at.into();
    options
}

fn flagged(report: &Report, words: &str) -> bool {
    report
        .people
        .iter()
        .flat_map(|p| &p.actions)
        .any(|a| matches!(a, Action::Flagged(note) if note.contains(words)))
}

// R24 (issue 15 item 7): a confirmation releases the plan that was held, not whatever the
// sync would do today: a plan that changed since is held again under the new run.
#[tokio::test]
async fn a_confirmation_applies_only_the_plan_that_was_held() {
    let harness = synced_world().await;
    let held = held_run(&harness).await;
    let (other, _) = harness.links().into_iter().next_back().unwrap();
    harness.edit_rock(other, |p| p.last_name = "Changed Since".into());
    harness.sandbox.clear_requests();
    let account = harness.account();
    let again = run(
        &harness,
        &account,
        &confirming(&held, "2026-11-23T01:00:00Z"),
    )
    .await;
    assert!(again.held, "{:?}", again.counts);
    assert!(
        flagged(&again, "differs from what run"),
        "{:?}",
        again.people
    );
    assert_eq!(harness.pco_writes(), 0);
    // The new run, confirmed unchanged, applies.
    let applied = run(
        &harness,
        &account,
        &confirming(&again, "2026-11-23T02:00:00Z"),
    )
    .await;
    assert!(!applied.held);
    assert!(applied.counts.updated_to_pco > 0);
}

// R24 (issue 15 item 7): a held run expires: confirmed a day later, it is held again.
#[tokio::test]
async fn a_held_run_expires_after_a_day() {
    let harness = synced_world().await;
    let held = held_run(&harness).await;
    harness.sandbox.clear_requests();
    let late = run(
        &harness,
        &harness.account(),
        &confirming(&held, "2026-11-24T00:00:01Z"),
    )
    .await;
    assert!(late.held);
    assert!(flagged(&late, "expired"), "{:?}", late.people);
    assert_eq!(harness.pco_writes(), 0);
}

// R22, R23 (issue 15 item 8): a person whose writes failed is reported failed, and nothing
// planned for them is counted or listed as done.
#[tokio::test]
async fn a_failed_persons_planned_writes_are_not_counted_as_done() {
    let harness = synced_world().await;
    let mut links = harness.links().into_iter();
    let (rock_a, pco_a) = links.next().unwrap();
    let (rock_b, _) = links.next().unwrap();
    harness.edit_rock(rock_a, |p| p.middle_name = "Failing".into());
    harness.edit_rock(rock_b, |p| p.middle_name = "Fine".into());
    harness
        .sandbox
        .set_faults(pco_sandbox::FaultConfig {
            server_error: 1.0,
            path_prefix: Some(format!("/people/v2/people/{pco_a}")),
            ..Default::default()
        })
        .unwrap();
    let report = harness.sync(false).await.unwrap();
    harness.sandbox.clear_faults();
    assert_eq!(report.counts.failed, 1);
    assert_eq!(report.counts.updated_to_pco, 1, "{:?}", report.people);
    assert!(
        !actions_of(&report, rock_a)
            .iter()
            .any(|a| matches!(a, Action::Updated(_))),
        "{:?}",
        actions_of(&report, rock_a)
    );
}

// R40 (issue 15 item 9): the import refuses a level group that does not sync to the account
// (with downgrade on, the next sync would archive everyone imported into it), naming the
// group and the fix; and one whose group type is not enabled.
#[tokio::test]
async fn the_import_refuses_groups_not_synced_to_the_account() {
    let harness = Harness::new(80, 5).await;
    let mut groups = pcosync_harness::import_groups(&harness.world);
    assert!(!groups.is_empty(), "precondition: import groups");
    let (unsynced, synced_type) = {
        let data = harness.world.rock.data.lock().unwrap();
        let unsynced = data
            .groups
            .iter()
            .find(|g| g.is_active && g.pco_account.is_none())
            .map(|g| g.id)
            .expect("precondition: a group that syncs nowhere");
        let kind = data
            .groups
            .iter()
            .find(|g| g.id == groups[0].group_id)
            .map(|g| g.group_type.name.clone())
            .unwrap();
        (unsynced, kind)
    };
    let chosen = groups[0].group_id;
    groups[0].group_id = unsynced;
    let error = harness
        .import_with(&pcosync_harness::import_options(groups.clone(), false))
        .await
        .expect_err("refused");
    let text = error.to_string();
    assert!(
        text.contains(&format!("Rock group {unsynced}")) && text.contains("does not sync"),
        "{text}"
    );

    groups[0].group_id = chosen;
    let mut account = harness.account();
    account.enabled_group_types.retain(|t| *t != synced_type);
    let error = harness
        .runtime
        .import(
            &harness.guest,
            &harness.capabilities(),
            &account,
            &pcosync_harness::import_options(groups, false),
        )
        .await
        .expect_err("refused");
    let text = error.to_string();
    assert!(
        text.contains(&format!("Rock group {chosen}")) && text.contains("not enabled"),
        "{text}"
    );
    assert!(harness.links().is_empty());
}

/// A linked person (not an organization administrator) with a mobile phone and an email in
/// both systems.
fn with_phone_and_email(harness: &Harness) -> (i64, String) {
    let data = harness.world.rock.data.lock().unwrap().clone();
    harness
        .links()
        .into_iter()
        .find(|(rock_id, pco)| {
            let rock = &data.people[rock_id];
            let state = harness.pco_state(pco);
            let phones = state["included"]
                .as_array()
                .map(|i| {
                    i.iter().any(|r| {
                        r["type"] == "PhoneNumber" && r["attributes"]["location"] == "Mobile"
                    })
                })
                .unwrap_or(false);
            rock.mobile_phone.is_some() && rock.email.is_some() && phones
        })
        .expect("precondition: a linked person with a mobile phone and an email")
}

// R19, R30 (issue 15 item 10): a dry run flags a mobile phone change as it flags an email
// change (PCO tells the person of both), in full and in updates-only dry runs.
#[tokio::test]
async fn dry_runs_of_both_modes_flag_notified_phone_and_email_changes() {
    let harness = synced_world().await;
    let (rock_id, _) = with_phone_and_email(&harness);
    harness.edit_rock(rock_id, |p| {
        p.mobile_phone = Some("6155550199".into());
        p.email = Some("moved.on@example.org".into());
    });
    let account = harness.account();
    for updates in [false, true] {
        let mut options = pcosync_harness::options(true);
        options.updates_only = Some(updates);
        let report = run(&harness, &account, &options).await;
        let actions = actions_of(&report, rock_id);
        let says = |words: &str| {
            actions
                .iter()
                .any(|a| matches!(a, Action::Flagged(n) if n.contains(words)))
        };
        assert!(
            says("mobile phone changes in PCO"),
            "updates-only {updates}: {actions:?}"
        );
        assert!(
            says("email changes in PCO"),
            "updates-only {updates}: {actions:?}"
        );
    }
}

// R13 (issue 15 item 12): a tag PCO does not know stays in Rock's "PCO Tags", run after run,
// and is reported for an administrator to create in PCO.
#[tokio::test]
async fn tags_pco_does_not_know_are_kept_in_rock_and_reported() {
    let harness = synced_world().await;
    let (rock_id, _) = harness.links().into_iter().next().unwrap();
    let value = format!("{}:Teams:Not In PCO", harness.world.account.name);
    harness.edit_rock(rock_id, |p| p.pco_tags.push(value.clone()));
    for run in 0..2 {
        let report = harness.sync(false).await.unwrap();
        let tags = harness.world.rock.data.lock().unwrap().people[&rock_id]
            .pco_tags
            .clone();
        assert!(tags.contains(&value), "run {run}: {tags:?}");
        assert!(
            actions_of(&report, rock_id)
                .iter()
                .any(|a| matches!(a, Action::Flagged(n) if n.contains("tags not found in PCO") && n.contains("Not In PCO"))),
            "run {run}: {:?}",
            actions_of(&report, rock_id)
        );
    }
}

// R7 (issue 15 item 15): a linked Rock person missing from one read (not merged) keeps
// their link; when Rock returns them, nothing is linked or created again.
#[tokio::test]
async fn a_rock_person_missing_from_a_read_keeps_their_link() {
    let harness = synced_world().await;
    let (rock_id, pco_id) = harness.links().into_iter().next().unwrap();
    let person = harness
        .world
        .rock
        .data
        .lock()
        .unwrap()
        .people
        .remove(&rock_id)
        .unwrap();
    let mut account = harness.account();
    account.allow_downgrade = true;
    let missing = harness.sync_as(&account, false).await.unwrap();
    assert_eq!(
        harness.links().get(&rock_id),
        Some(&pco_id),
        "{:?}",
        missing.people
    );
    assert_ne!(harness.pco_permission(&pco_id).as_deref(), Some("Archived"));
    harness
        .world
        .rock
        .data
        .lock()
        .unwrap()
        .people
        .insert(rock_id, person);
    let back = harness.sync_as(&account, false).await.unwrap();
    assert_eq!(
        (back.counts.linked, back.counts.created),
        (0, 0),
        "{:?}",
        back.people
    );
    assert_eq!(harness.links().get(&rock_id), Some(&pco_id));
}

// R7 (issue 15 item 15): Rock merging two linked people keeps the survivor's link and
// reports the other PCO person, who is linked to nobody now.
#[tokio::test]
async fn a_merge_of_two_linked_people_is_reported() {
    let harness = synced_world().await;
    let mut links = harness.links().into_iter();
    let (old_id, old_pco) = links.next().unwrap();
    let (survivor, survivor_pco) = links.next().unwrap();
    {
        let mut data = harness.world.rock.data.lock().unwrap();
        data.people.remove(&old_id);
        data.members.retain(|m| m.person_id != old_id);
        data.merges.insert(old_id, survivor);
    }
    let report = harness.sync(false).await.unwrap();
    assert_eq!(harness.links().get(&survivor), Some(&survivor_pco));
    assert!(
        actions_of(&report, survivor).iter().any(
            |a| matches!(a, Action::Flagged(n) if n.contains(&old_pco) && n.contains("merged"))
        ),
        "{:?}",
        actions_of(&report, survivor)
    );
}

// R32 (issue 15 item 13): the account's status shows the level PCO showed at the last run,
// not the one the sync last set: a level raised by hand in PCO shows as such.
#[tokio::test]
async fn status_shows_the_pco_level_read_at_the_last_run() {
    let harness = synced_world().await;
    let (rock_id, pco_id) = scheduled_viewer_in_a_group(&harness);
    harness
        .edit_pco(
            &format!("/services/v2/people/{pco_id}"),
            serde_json::json!({"permissions": "Editor"}),
        )
        .await;
    harness.sync(false).await.unwrap();
    let status = harness.full_status(0).await;
    let row = status
        .people
        .iter()
        .find(|p| p.rock_id == rock_id)
        .expect("their row");
    assert_eq!(row.pco_level, Some(PermissionLevel::Editor));
}

// R33, R18 (issue 15 item 16): linking by hand a Rock person the account does not sync
// warns that the link is unused, or with downgrade allowed, that the next sync archives the
// PCO person; a synced person's link says nothing of the kind.
#[tokio::test]
async fn a_hand_link_to_someone_not_synced_warns() {
    let harness = Harness::new(80, 5).await;
    let rock_id = *harness
        .unsynced_rock_people()
        .first()
        .expect("precondition: a Rock person synced nowhere");
    let pco_ids = harness.pco_only_ids();
    assert!(pco_ids.len() >= 2, "precondition: PCO-only people");
    harness.link(rock_id, &pco_ids[0]).await.unwrap();
    let warned = |words: &str| {
        harness
            .logged_text()
            .iter()
            .filter(|t| t.contains(words))
            .count()
    };
    assert_eq!(
        warned(&format!("Rock person {rock_id} is not synced")),
        1,
        "{:?}",
        harness.logged_text()
    );

    let (synced, _) = clean_match(&harness);
    harness.link(synced, &pco_ids[1]).await.unwrap();
    assert_eq!(warned(&format!("Rock person {synced} is not synced")), 0);
}

/// The id of a PCO person's first address.
fn address_id(harness: &Harness, pco_id: &str) -> Option<String> {
    harness.pco_state(pco_id)["included"]
        .as_array()?
        .iter()
        .find(|r| r["type"] == "Address")
        .and_then(|r| r["id"].as_str().map(str::to_string))
}

async fn edit_pco_address(harness: &Harness, address: &str, city: &str) {
    use pcosync::bindings::pco::Method;
    let body = serde_json::json!({"data": {"type": "Address", "id": address, "attributes": {"city": city}}});
    let request = Request {
        method: Method::Patch,
        path: format!("/people/v2/addresses/{address}"),
        query: vec![],
        headers: vec![],
        body: Some(body.to_string().into_bytes()),
    };
    harness
        .pco
        .send(&harness.world.account.name, &request)
        .await
        .expect("the PCO address edit is accepted");
}

// R12 (issue 15 item 14): two members of one Rock family whose home addresses were changed
// differently in PCO in one run: Rock keeps its address (the last write would win unseen)
// and both are reported as conflicts.
#[tokio::test]
async fn family_members_changing_the_address_differently_is_a_conflict() {
    let harness = synced_world().await;
    let data = harness.world.rock.data.lock().unwrap().clone();
    let links: Vec<(i64, String)> = harness
        .links()
        .into_iter()
        .filter(|(_, pco)| address_id(&harness, pco).is_some())
        .collect();
    let pair = links
        .iter()
        .enumerate()
        .find_map(|(i, (a, pa))| {
            let home = data.people[a].home_address.clone()?;
            links[i + 1..]
                .iter()
                .find(|(b, _)| data.people[b].home_address.as_ref() == Some(&home))
                .map(|(b, pb)| ((*a, pa.clone()), (*b, pb.clone()), home))
        })
        .expect("precondition: two linked members of one family with an address in PCO");
    let ((a, pco_a), (b, pco_b), home) = pair;
    edit_pco_address(
        &harness,
        &address_id(&harness, &pco_a).unwrap(),
        "Springfield",
    )
    .await;
    edit_pco_address(
        &harness,
        &address_id(&harness, &pco_b).unwrap(),
        "Shelbyville",
    )
    .await;
    let report = harness.sync(false).await.unwrap();
    for rock_id in [a, b] {
        let actions = actions_of(&report, rock_id);
        assert!(
            actions
                .iter()
                .any(|x| matches!(x, Action::Conflict(c) if c.field == "home-address")),
            "Rock {rock_id}: {actions:?}"
        );
        assert_eq!(
            harness.world.rock.data.lock().unwrap().people[&rock_id]
                .home_address
                .as_ref(),
            Some(&home)
        );
    }
}

/// Someone added to PCO by hand, with Services access, before Rock syncs them: their PCO id.
async fn hand_added_with_services(
    harness: &Harness,
    first: &str,
    last: &str,
    email: &str,
) -> String {
    use pcosync::bindings::pco::Method;
    let person = harness.pco_call(Method::Post,
        "/people/v2/people",
        serde_json::json!({"data": {"type": "Person", "attributes": {"first_name": first, "last_name": last}}}),
    )
    .await;
    let id = person["data"]["id"]
        .as_str()
        .expect("a new PCO id")
        .to_string();
    harness.pco_call(Method::Post,
        &format!("/people/v2/people/{id}/emails"),
        serde_json::json!({"data": {"type": "Email", "attributes": {"address": email, "location": "Home", "primary": true}}}),
    )
    .await;
    let apps = harness
        .pco_call(Method::Get, "/people/v2/apps", serde_json::Value::Null)
        .await;
    let services = apps["data"]
        .as_array()
        .and_then(|apps| apps.iter().find(|a| a["attributes"]["name"] == "Services"))
        .and_then(|a| a["id"].as_str())
        .expect("the Services app")
        .to_string();
    harness
        .pco_call(
            Method::Post,
            &format!("/people/v2/people/{id}/person_apps"),
            serde_json::json!({"data": {"type": "PersonApp", "attributes": {"app_id": services}}}),
        )
        .await;
    assert!(
        harness.pco_permission(&id).is_some(),
        "precondition: {id} has Services access"
    );
    id
}

// R4, R6 (issue 15 item 3): in updates-only mode, a person newly synced from Rock who was
// added to PCO by hand with Services access is linked to that person (their Services record
// read before any grant), not created a second time and not failed on every run.
#[tokio::test]
async fn updates_only_links_a_new_person_who_already_has_services_access() {
    let harness = synced_world().await;
    let rock_id = *harness
        .unsynced_rock_people()
        .first()
        .expect("precondition: a Rock person synced nowhere");
    let email = format!("hand.added.{rock_id}@example.org");
    let (first, last) = {
        let mut data = harness.world.rock.data.lock().unwrap();
        let person = data.people.get_mut(&rock_id).unwrap();
        person.email = Some(email.clone());
        (person.nick_name.clone(), person.last_name.clone())
    };
    let pco_id = hand_added_with_services(&harness, &first, &last, &email).await;
    let group = harness
        .account_group_ids()
        .into_iter()
        .find(|id| {
            let data = harness.world.rock.data.lock().unwrap();
            data.groups
                .iter()
                .any(|g| g.id == *id && g.is_active && g.level.is_some())
        })
        .expect("precondition: a permission group");
    harness.join_group(group, rock_id);
    let people = harness.sandbox.people_count(&harness.world.account.name);
    let welcomes = harness.emails("Welcome");
    let mut account = harness.account();
    account.brake_percent = 100;

    for run_number in 1..=2 {
        let report = run(&harness, &account, &updates_only()).await;
        let actions = actions_of(&report, rock_id);
        assert!(
            !actions
                .iter()
                .any(|a| matches!(a, Action::Failed(_) | Action::Created(_))),
            "run {run_number}: {actions:?}"
        );
        assert_eq!(
            harness.links().get(&rock_id),
            Some(&pco_id),
            "run {run_number}: {actions:?}"
        );
        if run_number == 1 {
            assert!(
                actions.contains(&Action::Linked(pco_id.clone())),
                "{actions:?}"
            );
        }
    }
    assert_eq!(
        harness.sandbox.people_count(&harness.world.account.name),
        people
    );
    assert_eq!(harness.emails("Welcome"), welcomes);
}

// R7 (issue 14.5): a linked PCO person merged into another in PCO is missing from the list
// and answers 404; PCO's merge history names the person kept, and the link follows them:
// nobody is created, nobody welcomed.
#[tokio::test]
async fn a_pco_merge_moves_the_link_to_the_person_kept() {
    let harness = synced_world().await;
    let (rock_id, removed) = harness.links().into_iter().next().unwrap();
    let kept = harness
        .pco_only_ids()
        .into_iter()
        .next()
        .expect("precondition: a PCO person linked to nobody");
    harness
        .sandbox
        .merge_people(&harness.world.account.name, &kept, &removed)
        .unwrap();
    let people = harness.sandbox.people_count(&harness.world.account.name);
    let welcomes = harness.emails("Welcome");
    let mut account = harness.account();
    account.brake_percent = 100;
    let report = harness.sync_as(&account, false).await.unwrap();
    let actions = actions_of(&report, rock_id);
    assert!(
        actions.contains(&Action::Linked(kept.clone())),
        "{actions:?}"
    );
    assert!(
        actions.iter().any(
            |a| matches!(a, Action::Flagged(n) if n.contains("merged") && n.contains(&removed))
        ),
        "{actions:?}"
    );
    assert_eq!(harness.links().get(&rock_id), Some(&kept));
    assert_eq!(report.counts.created, 0, "{:?}", report.people);
    assert_eq!(
        harness.sandbox.people_count(&harness.world.account.name),
        people
    );
    assert_eq!(harness.emails("Welcome"), welcomes);
}

// R7 (issue 14.5): PCO merging two linked people leaves the Rock person whose PCO person
// was removed unlinked and reported (PCO holds one person for two Rock people), never
// linked to the other's PCO person nor created again.
#[tokio::test]
async fn a_pco_merge_of_two_linked_people_is_reported_not_linked() {
    let harness = synced_world().await;
    let mut links = harness.links().into_iter();
    let (rock_id, removed) = links.next().unwrap();
    let (other, kept) = links.next().unwrap();
    harness
        .sandbox
        .merge_people(&harness.world.account.name, &kept, &removed)
        .unwrap();
    let people = harness.sandbox.people_count(&harness.world.account.name);
    let mut account = harness.account();
    account.brake_percent = 100;
    let report = harness.sync_as(&account, false).await.unwrap();
    let actions = actions_of(&report, rock_id);
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Skipped(n) if n.contains(&kept) && n.contains(&other.to_string()))),
        "{actions:?}"
    );
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Created(_))),
        "{actions:?}"
    );
    // Issue 23: said once, without also claiming that the link follows.
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::Flagged(n) if n.contains("the link follows"))),
        "{actions:?}"
    );
    assert_eq!(harness.links().get(&other), Some(&kept));
    assert_ne!(harness.links().get(&rock_id), Some(&kept));
    assert_eq!(
        harness.sandbox.people_count(&harness.world.account.name),
        people
    );
}

// R5, R6, R7 (issue 14.5): PCO pages its people by offset, so people deleted or merged away
// while a sync reads the list shift the later windows and some linked people are never
// listed; a past API version also capped `total_count`. Neither is proof that anyone is gone:
// each linked person missing is asked for by id, and nobody is matched again, created anew
// or welcomed twice.
#[tokio::test]
async fn a_people_list_that_moves_while_read_loses_nobody() {
    let harness = Harness::new(320, 9).await;
    harness.sync(false).await.expect("the first sync runs");
    let name = harness.world.account.name.clone();
    let people = harness.sandbox.people_count(&name).unwrap();
    assert!(
        people > 200,
        "precondition: several pages of people ({people})"
    );
    let links = harness.links();
    let welcomes = harness.emails("Welcome");
    harness.sandbox.set_list_drift(pco_sandbox::ListDrift {
        skipped_per_page: 30,
        total_count_cap: Some(100),
    });
    harness.sandbox.clear_requests();
    let mut account = harness.account();
    account.brake_percent = 100;
    let report = harness.sync_as(&account, false).await.unwrap();
    assert_eq!(
        (
            report.counts.linked,
            report.counts.created,
            report.counts.failed
        ),
        (0, 0, 0),
        "{:?}",
        report.people
    );
    assert_eq!(harness.links(), links);
    assert_eq!(harness.sandbox.people_count(&name).unwrap(), people);
    assert_eq!(harness.emails("Welcome"), welcomes);
    let asked_by_id = asked_by_id(&harness, &links);
    assert!(
        asked_by_id >= 7,
        "asked for {asked_by_id} missing people by id"
    );
}

/// How many of the linked PCO people the sandbox was asked for one by one (`GET
/// /people/v2/people/{id}`, whatever the query).
fn asked_by_id(harness: &Harness, links: &std::collections::BTreeMap<i64, String>) -> usize {
    let ids: std::collections::BTreeSet<String> = links
        .values()
        .map(|id| format!("/people/v2/people/{id}"))
        .collect();
    harness
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && ids.contains(r.path.split('?').next().unwrap_or("")))
        .count()
}

/// A GET of PCO with a query, as staff's tools would make it.
async fn pco_get(harness: &Harness, path: &str, query: &[(&str, &str)]) -> serde_json::Value {
    let request = Request {
        method: pcosync::bindings::pco::Method::Get,
        path: path.to_string(),
        query: query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        headers: vec![],
        body: None,
    };
    let response = harness
        .pco
        .send(&harness.world.account.name, &request)
        .await
        .unwrap_or_else(|e| panic!("{path}: {e:?}"));
    serde_json::from_slice(&response.body).unwrap()
}

/// The PCO tag ids a person holds in Services.
async fn services_tags(harness: &Harness, pco_id: &str) -> Vec<String> {
    let person = pco_get(
        harness,
        &format!("/services/v2/people/{pco_id}"),
        &[("include", "tags")],
    )
    .await;
    person["data"]["relationships"]["tags"]["data"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .filter_map(|t| t["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Staff set a person's tags in PCO Services (the whole set, as `assign_tags` takes it).
async fn assign_tags_in_pco(harness: &Harness, pco_id: &str, tags: &[String]) {
    let data: Vec<serde_json::Value> = tags
        .iter()
        .map(|id| serde_json::json!({"type": "Tag", "id": id}))
        .collect();
    harness
        .pco_call(
            pcosync::bindings::pco::Method::Post,
            &format!("/services/v2/people/{pco_id}/assign_tags"),
            serde_json::json!({"data": {"type": "TagAssignment", "attributes": {},
            "relationships": {"tags": {"data": data}}}}),
        )
        .await;
}

// R13, R21: tags sync both ways in full runs (a tag staff give someone in PCO reaches their
// "PCO Tags" in Rock; a tag picked in Rock reaches PCO), while an updates-only run reads no
// tag edit made in PCO and still carries Rock's to PCO.
#[tokio::test]
async fn tags_sync_both_ways_and_updates_only_reads_none_from_pco() {
    let harness = synced_world().await;
    let account = harness.account();
    let groups = pco_get(
        &harness,
        "/services/v2/tag_groups",
        &[
            ("filter", "person"),
            ("include", "tags"),
            ("per_page", "100"),
        ],
    )
    .await;
    let group_names: std::collections::BTreeMap<String, String> = groups["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["id"].as_str().unwrap().to_string(),
                g["attributes"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let controlled: std::collections::BTreeSet<&str> =
        account.tag_groups.iter().map(|t| t.tag.as_str()).collect();
    let free: Vec<(String, String)> = groups["included"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["type"] == "Tag")
        .filter_map(|t| {
            let group = group_names.get(t["relationships"]["tag_group"]["data"]["id"].as_str()?)?;
            let name = format!("{group}:{}", t["attributes"]["name"].as_str()?);
            (!controlled.contains(name.as_str()))
                .then(|| (t["id"].as_str().unwrap().to_string(), name))
        })
        .collect();
    assert!(
        free.len() >= 3,
        "precondition: three tags no group controls: {free:?}"
    );
    let (rock_id, pco_id) = harness
        .links()
        .into_iter()
        .find(|(_, pco)| {
            harness.pco_state(pco)["services"]["attributes"]["site_administrator"] != true
                && harness.pco_permission(pco).is_some_and(|p| p != "Archived")
        })
        .expect("precondition: an ordinary linked person in Services");
    let rock_value = |name: &str| format!("{}:{name}", account.name);
    let rock_tags = || {
        harness.world.rock.data.lock().unwrap().people[&rock_id]
            .pco_tags
            .clone()
    };
    let (a, b, c) = (&free[0], &free[1], &free[2]);
    for (_, name) in [a, b, c] {
        assert!(
            !rock_tags().contains(&rock_value(name)),
            "precondition: {name} not held"
        );
    }

    // PCO to Rock, in a full run.
    let mut held = services_tags(&harness, &pco_id).await;
    held.push(a.0.clone());
    assign_tags_in_pco(&harness, &pco_id, &held).await;
    harness.sync(false).await.unwrap();
    assert!(rock_tags().contains(&rock_value(&a.1)), "{:?}", rock_tags());

    // Rock to PCO, in a full run.
    harness.edit_rock(rock_id, |p| p.pco_tags.push(rock_value(&b.1)));
    harness.sync(false).await.unwrap();
    assert!(services_tags(&harness, &pco_id).await.contains(&b.0));

    // Updates-only: PCO takes A off (and the person is edited, so they are read); Rock adds C.
    let without_a: Vec<String> = services_tags(&harness, &pco_id)
        .await
        .into_iter()
        .filter(|id| id != &a.0)
        .collect();
    assign_tags_in_pco(&harness, &pco_id, &without_a).await;
    harness
        .edit_pco(
            &format!("/people/v2/people/{pco_id}"),
            serde_json::json!({"middle_name": "Tagged"}),
        )
        .await;
    harness.edit_rock(rock_id, |p| p.pco_tags.push(rock_value(&c.1)));
    run(&harness, &account, &updates_only()).await;
    assert!(
        rock_tags().contains(&rock_value(&a.1)),
        "an updates-only run read a tag edit made in PCO: {:?}",
        rock_tags()
    );
    assert!(services_tags(&harness, &pco_id).await.contains(&c.0));
}

/// A copy of Rock person `from` as person `id`, born on `born` (year, month, day), with
/// `email` when given, in every group `from` is in: a namesake.
fn rock_namesake(harness: &Harness, from: i64, id: i64, born: (i32, u8, u8), email: Option<&str>) {
    let mut data = harness.world.rock.data.lock().unwrap();
    let mut copy = data.people[&from].clone();
    copy.id = id;
    copy.birthdate = Some(pcosync::bindings::types::Date {
        year: Some(born.0),
        month: born.1,
        day: born.2,
    });
    if let Some(email) = email {
        copy.email = Some(email.into());
    }
    data.people.insert(id, copy);
    let groups: Vec<i64> = data
        .members
        .iter()
        .filter(|m| m.person_id == from)
        .map(|m| m.group_id)
        .collect();
    for group_id in groups {
        data.members.push(pcosync::bindings::rock::Membership {
            group_id,
            person_id: id,
        });
    }
}

// R4, R6 (issue 15, unkind worlds): a parent and a namesake child on one family email are two
// people in each system, with one name and one email. The new Rock namesake is linked to the
// PCO person nobody is linked to yet (or, among several, the one born the same day), never
// given a copy of someone PCO already holds; with no way to tell, they are left for a hand
// link and nobody is created.
#[tokio::test]
async fn a_namesake_on_a_family_email_is_linked_to_their_own_pco_person() {
    use pcosync::bindings::pco::Method;
    let harness = synced_world().await;
    let (parent, _) = clean_match(&harness);
    let junior = 900_001;
    rock_namesake(&harness, parent, junior, (2011, 4, 9), None);
    let (first, last, email) = {
        let data = harness.world.rock.data.lock().unwrap();
        let junior = &data.people[&junior];
        (
            junior.nick_name.clone(),
            junior.last_name.clone(),
            junior.email.clone().unwrap(),
        )
    };
    let add_pco_namesake = |birthdate: Option<&'static str>| {
        let (first, last, email) = (first.clone(), last.clone(), email.clone());
        let harness = &harness;
        async move {
            let mut attributes = serde_json::json!({"first_name": first, "last_name": last});
            if let Some(day) = birthdate {
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
            harness
                .pco_call(
                    Method::Post,
                    &format!("/people/v2/people/{id}/emails"),
                    serde_json::json!({"data": {"type": "Email", "attributes":
                        {"address": email, "location": "Home", "primary": true}}}),
                )
                .await;
            id
        }
    };
    let people = harness.sandbox.people_count(&harness.world.account.name);
    let mut account = harness.account();
    account.brake_percent = 100;

    // One PCO namesake nobody is linked to: theirs.
    let theirs = add_pco_namesake(None).await;
    let report = harness.sync_as(&account, false).await.unwrap();
    assert_eq!(
        harness.links().get(&junior),
        Some(&theirs),
        "{:?}",
        actions_of(&report, junior)
    );
    assert_eq!(report.counts.created, 0, "{:?}", report.people);

    // A second Rock namesake, and two PCO namesakes free: the one born the same day.
    let third = 900_002;
    rock_namesake(&harness, junior, third, (2014, 1, 30), None);
    let other = add_pco_namesake(Some("1999-12-31")).await;
    let born_the_same_day = add_pco_namesake(Some("2014-01-30")).await;
    let report = harness.sync_as(&account, false).await.unwrap();
    assert_eq!(
        harness.links().get(&third),
        Some(&born_the_same_day),
        "{:?}",
        actions_of(&report, third)
    );
    assert_eq!(report.counts.created, 0, "{:?}", report.people);
    assert_ne!(harness.links().get(&third), Some(&other));
    assert_eq!(
        harness.sandbox.people_count(&harness.world.account.name),
        people.map(|n| n + 3),
        "nobody created beside the three staff added"
    );

    // The only PCO person with a Rock person's name and email, born on another day: someone
    // else (a parent whose child alone is synced), or a mistyped date. Neither linked, which
    // could hand over the parent's access, nor created, which could copy them (chaos seeds
    // 41018, 41075 found this in the import).
    let fourth = 900_003;
    let solo = "solo.namesake@example.org";
    rock_namesake(&harness, junior, fourth, (2016, 5, 5), Some(solo));
    let parent_in_pco = harness
        .pco_call(
            Method::Post,
            "/people/v2/people",
            serde_json::json!({"data": {"type": "Person", "attributes":
                {"first_name": first, "last_name": last, "birthdate": "1970-01-01"}}}),
        )
        .await["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    harness
        .pco_call(
            Method::Post,
            &format!("/people/v2/people/{parent_in_pco}/emails"),
            serde_json::json!({"data": {"type": "Email", "attributes":
                {"address": solo, "location": "Home", "primary": true}}}),
        )
        .await;
    let report = harness.sync_as(&account, false).await.unwrap();
    assert_eq!(harness.links().get(&fourth), None);
    assert!(
        format!("{:?}", actions_of(&report, fourth)).contains("born on another day"),
        "{:?}",
        actions_of(&report, fourth)
    );
    assert_eq!(report.counts.created, 0, "{:?}", report.people);
}
