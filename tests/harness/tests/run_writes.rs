//! Issue 24, items 5, 6, 7, 10, 11 and 12: what a run writes, what its audit says it replaced,
//! and what updates-only runs may overwrite, each proved through the compiled guest.

use pcosync::bindings::engine::{
    Action, AdminOptions, Direction, Report, RevertOptions, SyncOptions,
};
use pcosync::bindings::pco::{Method, Request};
use pcosync::bindings::types::PermissionLevel;
use pcosync::pco::Pco;
use pcosync::state::StateStore;
use pcosync_harness::{Harness, next_run_id};

async fn synced_world() -> Harness {
    let harness = Harness::new(80, 5).await;
    let first = harness.sync(false).await.expect("the first sync runs");
    assert_eq!(first.counts.failed, 0, "{:?}", first.people);
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

async fn run(harness: &Harness, options: &SyncOptions) -> Report {
    let mut account = harness.account();
    account.brake_percent = 100;
    harness
        .runtime
        .sync(&harness.guest, &harness.capabilities(), &account, options)
        .await
        .expect("the sync runs")
}

/// The account's state namespace (the one holding its links).
fn namespace(harness: &Harness) -> String {
    harness
        .state
        .dump()
        .into_keys()
        .find(|(_, key)| key.starts_with("person/"))
        .map(|(namespace, _)| namespace)
        .expect("a synced account has links")
}

/// Where the next updates-only run reads from, as a run that ended at PCO's `now` leaves it.
/// The sandbox's clock moves an hour on first, so edits made before are out of the window.
fn cursor_after_an_hour(harness: &Harness) {
    harness
        .sandbox
        .advance_clock(std::time::Duration::from_secs(3600));
    let now = harness.sandbox.now();
    let put = |key: &str| {
        pcosync::bindings::state::Write::Put(pcosync::bindings::state::Entry {
            key: key.into(),
            value: now.clone().into_bytes(),
        })
    };
    harness
        .state
        .commit(&namespace(harness), &[put("cursor"), put("pco-cursor")])
        .expect("the cursor is set");
}

fn cursor(harness: &Harness) -> Option<String> {
    harness
        .state
        .dump()
        .into_iter()
        .find(|((_, key), _)| key == "pco-cursor")
        .map(|(_, value)| String::from_utf8(value).unwrap())
}

/// A linked person with a Services level who is not an organization administrator, and who
/// is in a permission group (so they stay synced whatever their tags).
fn ordinary_linked(harness: &Harness) -> (i64, String) {
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
                && harness.pco_permission(pco).is_some_and(|p| p != "Archived")
        })
        .expect("precondition: an ordinary linked person in a permission group")
}

async fn pco_get(harness: &Harness, path: &str, query: &[(&str, &str)]) -> serde_json::Value {
    let request = Request {
        method: Method::Get,
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

async fn assign_tags_in_pco(harness: &Harness, pco_id: &str, tags: &[String]) {
    let data: Vec<serde_json::Value> = tags
        .iter()
        .map(|id| serde_json::json!({"type": "Tag", "id": id}))
        .collect();
    harness
        .pco_call(
            Method::Post,
            &format!("/services/v2/people/{pco_id}/assign_tags"),
            serde_json::json!({"data": {"type": "TagAssignment", "attributes": {},
            "relationships": {"tags": {"data": data}}}}),
        )
        .await;
}

/// Person tags no group controls: (PCO tag id, "group:tag" name).
async fn free_tags(harness: &Harness) -> Vec<(String, String)> {
    let account = harness.account();
    let groups = pco_get(
        harness,
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
    groups["included"]
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
        .collect()
}

fn rock_tags(harness: &Harness, rock_id: i64) -> Vec<String> {
    harness.world.rock.data.lock().unwrap().people[&rock_id]
        .pco_tags
        .clone()
}

fn rock_value(harness: &Harness, tag: &str) -> String {
    format!("{}:{tag}", harness.account().name)
}

async fn revert_run(harness: &Harness, target: &str) -> Report {
    let options = RevertOptions {
        target: target.to_string(),
        rock_id: None,
        run: AdminOptions {
            run_id: next_run_id(),
            started_at: "2026-11-24T00:00:00Z".into(),
            dry_run: false,
        },
    };
    harness
        .runtime
        .revert(
            &harness.guest,
            &harness.capabilities(),
            &harness.account(),
            &options,
        )
        .await
        .expect("the revert runs")
}

// R13, R21 (issue 24 item 5): an updates-only run carries Rock's tag changes to PCO, and
// never takes away a tag staff gave the person in PCO meanwhile: PCO's tags are read before
// they are replaced. The next full run brings that tag to Rock.
#[tokio::test]
async fn r13_updates_only_keeps_a_tag_added_in_pco() {
    let harness = synced_world().await;
    let free = free_tags(&harness).await;
    assert!(free.len() >= 2, "precondition: two free tags: {free:?}");
    let (rock_id, pco_id) = ordinary_linked(&harness);
    let held = services_tags(&harness, &pco_id).await;
    let (a, b) = free
        .iter()
        .filter(|(id, name)| {
            !held.contains(id)
                && !rock_tags(&harness, rock_id).contains(&rock_value(&harness, name))
        })
        .fold((None, None), |(a, b), t| match (a, b) {
            (None, _) => (Some(t.clone()), None),
            (Some(a), None) => (Some(a), Some(t.clone())),
            done => done,
        });
    let (a, b) = (a.expect("a free tag"), b.expect("a second free tag"));
    // Staff tag the person in PCO; Rock gives them another tag.
    let mut with_a = held.clone();
    with_a.push(a.0.clone());
    assign_tags_in_pco(&harness, &pco_id, &with_a).await;
    harness.edit_rock(rock_id, |p| p.pco_tags.push(rock_value(&harness, &b.1)));

    let report = run(&harness, &updates_only()).await;
    assert_eq!(report.counts.failed, 0, "{:?}", report.people);
    let now = services_tags(&harness, &pco_id).await;
    assert!(now.contains(&b.0), "Rock's tag reached PCO: {now:?}");
    assert!(
        now.contains(&a.0),
        "the tag added in PCO was taken away by Rock's change: {now:?} ({:?})",
        actions_of(&report, rock_id)
    );
    // R13: PCO's tag reaches Rock in the next full run, and stays in PCO.
    run(&harness, &pcosync_harness::options(false)).await;
    assert!(
        rock_tags(&harness, rock_id).contains(&rock_value(&harness, &a.1)),
        "{:?}",
        rock_tags(&harness, rock_id)
    );
    assert!(services_tags(&harness, &pco_id).await.contains(&a.0));
}

/// A PCO person staff added by hand with Services access at `level`.
async fn hand_added_at(
    harness: &Harness,
    first: &str,
    last: &str,
    email: &str,
    level: &str,
) -> String {
    let person = harness
        .pco_call(
            Method::Post,
            "/people/v2/people",
            serde_json::json!({"data": {"type": "Person", "attributes": {"first_name": first, "last_name": last}}}),
        )
        .await;
    let id = person["data"]["id"]
        .as_str()
        .expect("a new PCO id")
        .to_string();
    harness
        .pco_call(
            Method::Post,
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
    harness
        .edit_pco(
            &format!("/services/v2/people/{id}"),
            serde_json::json!({"permissions": level}),
        )
        .await;
    assert_eq!(harness.pco_permission(&id).as_deref(), Some(level));
    id
}

fn level_name(level: PermissionLevel) -> &'static str {
    match level {
        PermissionLevel::ScheduledViewer => "Scheduled Viewer",
        PermissionLevel::Viewer => "Viewer",
        PermissionLevel::Scheduler => "Scheduler",
        PermissionLevel::Editor => "Editor",
        PermissionLevel::Administrator => "Administrator",
    }
}

// R22, R25 (issue 24 item 6): a grant that meets a Services profile PCO already has is no
// grant: the level read is what the run records, the report says nothing was raised when
// nothing was written, and the audit's "before" is the real level, so a revert of that run
// leaves the volunteer at the level they had (never archives them).
#[tokio::test]
async fn r25_a_grant_meeting_an_existing_services_profile_records_its_level() {
    let harness = synced_world().await;
    let rock_id = *harness
        .unsynced_rock_people()
        .first()
        .expect("precondition: a Rock person synced nowhere");
    let groups = harness.account_group_ids();
    let (group, level) = {
        let data = harness.world.rock.data.lock().unwrap();
        data.groups
            .iter()
            .filter(|g| groups.contains(&g.id) && g.is_active)
            .find_map(|g| Some((g.id, g.level?)))
            .expect("precondition: a permission group")
    };
    let email = format!("has.services.{rock_id}@example.org");
    let (first, last) = {
        let mut data = harness.world.rock.data.lock().unwrap();
        let person = data.people.get_mut(&rock_id).unwrap();
        person.email = Some(email.clone());
        (person.nick_name.clone(), person.last_name.clone())
    };
    let pco_id = hand_added_at(&harness, &first, &last, &email, level_name(level)).await;
    harness.join_group(group, rock_id);

    let report = run(&harness, &updates_only()).await;
    let actions = actions_of(&report, rock_id);
    assert!(
        actions.contains(&Action::Linked(pco_id.clone())),
        "{actions:?}"
    );
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Raised(_))),
        "nothing was raised, none is reported: {actions:?}"
    );
    let detail = harness.run_detail(&report.run_id).await.unwrap();
    let permission: Vec<_> = detail
        .writes
        .iter()
        .filter(|w| w.rock_id == Some(rock_id) && w.field == "permission")
        .collect();
    assert!(
        permission
            .iter()
            .all(|w| w.before.as_deref() == Some(level_name(level))),
        "the audit's before is the level PCO had: {permission:?}"
    );
    let status = harness.full_status(0).await;
    let row = status
        .people
        .iter()
        .find(|p| p.rock_id == rock_id)
        .expect("the person's status row");
    assert_eq!(row.pco_level, Some(level), "{row:?}");

    revert_run(&harness, &report.run_id).await;
    assert_eq!(
        harness.pco_permission(&pco_id).as_deref(),
        Some(level_name(level)),
        "the revert archived or changed a volunteer the run never changed"
    );
}

// R13, R25 (issue 24 item 7): each side's "before" in the tag audit is that side's own value,
// so a revert of a run that carried a PCO tag to Rock and a Rock tag to PCO leaves each side
// with its own earlier edit.
#[tokio::test]
async fn r25_a_tag_revert_leaves_each_sides_own_edits() {
    let harness = synced_world().await;
    let free = free_tags(&harness).await;
    let (rock_id, pco_id) = ordinary_linked(&harness);
    let held = services_tags(&harness, &pco_id).await;
    let usable: Vec<&(String, String)> = free
        .iter()
        .filter(|(id, name)| {
            !held.contains(id)
                && !rock_tags(&harness, rock_id).contains(&rock_value(&harness, name))
        })
        .collect();
    assert!(usable.len() >= 2, "precondition: two free tags: {free:?}");
    let (a, b) = (usable[0].clone(), usable[1].clone());
    let mut with_a = held.clone();
    with_a.push(a.0.clone());
    assign_tags_in_pco(&harness, &pco_id, &with_a).await;
    harness.edit_rock(rock_id, |p| p.pco_tags.push(rock_value(&harness, &b.1)));
    let report = run(&harness, &pcosync_harness::options(false)).await;
    assert!(services_tags(&harness, &pco_id).await.contains(&b.0));
    assert!(rock_tags(&harness, rock_id).contains(&rock_value(&harness, &a.1)));
    let detail = harness.run_detail(&report.run_id).await.unwrap();
    let tags_before = |direction: Direction| {
        detail
            .writes
            .iter()
            .find(|w| w.rock_id == Some(rock_id) && w.field == "tags" && w.direction == direction)
            .and_then(|w| w.before.clone())
            .unwrap_or_default()
    };
    assert!(
        tags_before(Direction::RockToPco).contains(&a.1),
        "PCO's before holds PCO's own tag: {:?}",
        detail.writes
    );
    assert!(
        tags_before(Direction::PcoToRock).contains(&b.1),
        "Rock's before holds Rock's own tag: {:?}",
        detail.writes
    );

    revert_run(&harness, &report.run_id).await;
    let pco_now = services_tags(&harness, &pco_id).await;
    assert!(pco_now.contains(&a.0), "PCO lost its own tag: {pco_now:?}");
    assert!(!pco_now.contains(&b.0), "{pco_now:?}");
    let rock_now = rock_tags(&harness, rock_id);
    assert!(
        rock_now.contains(&rock_value(&harness, &b.1)),
        "Rock lost its own tag: {rock_now:?}"
    );
    assert!(
        !rock_now.contains(&rock_value(&harness, &a.1)),
        "{rock_now:?}"
    );
}

// R21 (issue 24 item 10): the updates-only cursor is PCO's clock, not the host's: a host whose
// clock runs months ahead still sees, in its next updates-only run, a PCO edit made after
// its last run.
#[tokio::test]
async fn r21_the_updates_only_cursor_follows_pcos_clock() {
    let harness = Harness::new(80, 5).await;
    let mut ahead = pcosync_harness::options(false);
    ahead.started_at = "2027-09-01T00:00:00Z".into();
    let first = run(&harness, &ahead).await;
    assert_eq!(first.counts.failed, 0);
    let (rock_id, pco_id) = ordinary_linked(&harness);
    harness
        .edit_pco(
            &format!("/people/v2/people/{pco_id}"),
            serde_json::json!({"middle_name": "Afterwards"}),
        )
        .await;
    let mut next = updates_only();
    next.started_at = "2027-09-01T02:00:00Z".into();
    let report = run(&harness, &next).await;
    assert_eq!(
        harness.world.rock.data.lock().unwrap().people[&rock_id].middle_name,
        "Afterwards",
        "the PCO edit fell outside a window taken from the host's clock ({:?}): {:?}",
        cursor(&harness),
        actions_of(&report, rock_id)
    );
}

// R12, R21 (issue 24 item 10): a PCO edit the updates-only window missed is not overwritten
// unseen: the PCO person is read before Rock's change is written, the edit on both sides is a
// conflict in the report (Rock's value kept, R12), and PCO's edit of another field reaches
// Rock.
#[tokio::test]
async fn r12_updates_only_reads_pco_before_writing_and_records_the_conflict() {
    let harness = synced_world().await;
    let (rock_id, pco_id) = ordinary_linked(&harness);
    harness
        .edit_pco(
            &format!("/people/v2/people/{pco_id}"),
            serde_json::json!({"middle_name": "FromPco", "last_name": "Pcoside"}),
        )
        .await;
    cursor_after_an_hour(&harness);
    harness.edit_rock(rock_id, |p| p.middle_name = "FromRock".into());
    let report = run(&harness, &updates_only()).await;
    let actions = actions_of(&report, rock_id);
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Conflict(c) if c.field == "middle-name")),
        "R12: the edit on both sides is a conflict: {actions:?}"
    );
    assert_eq!(report.counts.conflicts, 1, "{actions:?}");
    assert_eq!(
        harness.pco_state(&pco_id)["person"]["attributes"]["middle_name"],
        "FromRock",
        "rock-wins keeps Rock's value"
    );
    assert_eq!(
        harness.world.rock.data.lock().unwrap().people[&rock_id].last_name,
        "Pcoside",
        "PCO's edit of another field reaches Rock: {actions:?}"
    );
}

// R7 (issue 24 item 11): a linked PCO person deleted in PCO answers 404 to an updates-only
// run; the person is matched again (here: created anew, as a full run would), not failed on
// every updates-only run until the next full one.
#[tokio::test]
async fn r7_updates_only_rematches_a_person_deleted_in_pco() {
    let harness = synced_world().await;
    let (rock_id, pco_id) = ordinary_linked(&harness);
    harness
        .pco_call(
            Method::Delete,
            &format!("/people/v2/people/{pco_id}"),
            serde_json::Value::Null,
        )
        .await;
    harness.edit_rock(rock_id, |p| p.middle_name = "StillHere".into());
    for run_number in 1..=2 {
        let report = run(&harness, &updates_only()).await;
        let actions = actions_of(&report, rock_id);
        assert_eq!(
            report.counts.failed, 0,
            "run {run_number}: {actions:?} {:?}",
            report.people
        );
        let linked = harness.links().get(&rock_id).cloned();
        assert!(
            linked.as_ref().is_some_and(|l| *l != pco_id),
            "run {run_number}: still linked to the deleted {pco_id}: {actions:?}"
        );
    }
    let now = harness.links()[&rock_id].clone();
    assert_eq!(
        harness.pco_state(&now)["person"]["attributes"]["middle_name"],
        "StillHere"
    );
}

// R7 (issue 24 item 11): a linked PCO person merged into another in PCO: the updates-only run
// follows PCO's merge to the person kept, as a full run does.
#[tokio::test]
async fn r7_updates_only_follows_a_merge_in_pco() {
    let harness = synced_world().await;
    let (rock_id, removed) = ordinary_linked(&harness);
    let kept = harness
        .pco_only_ids()
        .into_iter()
        .next()
        .expect("precondition: a PCO person linked to nobody");
    harness
        .sandbox
        .merge_people(&harness.world.account.name, &kept, &removed)
        .unwrap();
    harness.edit_rock(rock_id, |p| p.middle_name = "Merged".into());
    let report = run(&harness, &updates_only()).await;
    let actions = actions_of(&report, rock_id);
    assert_eq!(report.counts.failed, 0, "{actions:?}");
    assert_eq!(harness.links().get(&rock_id), Some(&kept), "{actions:?}");
    assert_eq!(report.counts.created, 0, "{:?}", report.people);
}

// R12, R22 (issue 24 item 12): a conflict is counted when its merge was written; a person
// whose writes failed is reported failed, and their conflict is found (and counted) again by
// the run that succeeds.
#[tokio::test]
async fn r22_a_failed_persons_conflict_is_not_counted() {
    let harness = synced_world().await;
    let (rock_id, pco_id) = ordinary_linked(&harness);
    harness
        .edit_pco(
            &format!("/people/v2/people/{pco_id}"),
            serde_json::json!({"middle_name": "FromPco", "last_name": "Pcoside"}),
        )
        .await;
    harness.edit_rock(rock_id, |p| p.middle_name = "FromRock".into());
    harness.world.rock.fail(
        "update_people",
        pcosync::bindings::types::Error {
            kind: pcosync::bindings::types::ErrorKind::Unavailable,
            message: "Rock is down".into(),
        },
    );
    let failed = run(&harness, &pcosync_harness::options(false)).await;
    let actions = actions_of(&failed, rock_id);
    assert!(
        actions.iter().any(|a| matches!(a, Action::Failed(_))),
        "precondition: the person failed: {actions:?}"
    );
    assert_eq!(
        failed.counts.conflicts, 0,
        "a failed person's conflict is counted: {actions:?}"
    );
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Conflict(_))),
        "{actions:?}"
    );
}

// R24 (issue 24 item 12): a confirmation releases the held writes; a change elsewhere that the
// brake does not weigh (a photo to copy) does not re-hold it.
#[tokio::test]
async fn r24_a_confirmation_holds_only_the_weighed_writes() {
    let harness = synced_world().await;
    let account = harness.account();
    let group = {
        let data = harness.world.rock.data.lock().unwrap();
        data.groups
            .iter()
            .filter(|g| g.pco_account.as_deref() == Some(account.name.as_str()))
            .filter(|g| g.level.is_some_and(|l| l != PermissionLevel::Administrator))
            .max_by_key(|g| data.members.iter().filter(|m| m.group_id == g.id).count())
            .map(|g| g.id)
            .expect("precondition: a level group")
    };
    {
        let mut data = harness.world.rock.data.lock().unwrap();
        let group = data.groups.iter_mut().find(|g| g.id == group).unwrap();
        group.level = Some(PermissionLevel::Administrator);
    }
    let held = harness.sync(false).await.unwrap();
    assert!(held.held, "precondition: the mass raise is held");
    // Someone else's photo changes in Rock: a write the brake does not weigh.
    let (other, _) = harness
        .links()
        .into_iter()
        .find(|(rock_id, _)| {
            !held.people.iter().any(|p| {
                p.rock_id == Some(*rock_id)
                    && p.actions.iter().any(|a| matches!(a, Action::Raised(_)))
            })
        })
        .expect("precondition: a person the raise does not touch");
    harness.edit_rock(other, |p| p.photo_id = Some(987_654));
    let mut options = pcosync_harness::options(false);
    options.confirm = Some(held.run_id.clone());
    let applied = harness
        .runtime
        .sync(&harness.guest, &harness.capabilities(), &account, &options)
        .await
        .unwrap();
    assert!(
        !applied.held,
        "an unweighed change re-held the run: {:?}",
        applied
            .people
            .iter()
            .flat_map(|p| &p.actions)
            .filter(|a| matches!(a, Action::Flagged(_)))
            .collect::<Vec<_>>()
    );
    assert!(applied.counts.raised >= 5, "{:?}", applied.counts);
}

// R4, R12 (issue 24 item 12): an updates-only run after a hand link reads the PCO person
// before merging: PCO's value where Rock has none reaches Rock (a first link's merge), rather
// than PCO being taken for blank.
#[tokio::test]
async fn r33_updates_only_after_a_hand_link_reads_the_pco_person() {
    let harness = synced_world().await;
    let pco_id = harness
        .pco_only_ids()
        .into_iter()
        .next()
        .expect("precondition: a PCO person linked to nobody");
    harness
        .edit_pco(
            &format!("/people/v2/people/{pco_id}"),
            serde_json::json!({"middle_name": "Handlinked"}),
        )
        .await;
    let rock_id = *harness
        .unsynced_rock_people()
        .first()
        .expect("precondition: a Rock person synced nowhere");
    harness.edit_rock(rock_id, |p| p.middle_name = String::new());
    cursor_after_an_hour(&harness);
    harness.link(rock_id, &pco_id).await.expect("the hand link");
    let group = harness.account_group_ids()[0];
    harness.join_group(group, rock_id);
    let report = run(&harness, &updates_only()).await;
    let actions = actions_of(&report, rock_id);
    assert_eq!(report.counts.failed, 0, "{actions:?}");
    assert_eq!(
        harness.world.rock.data.lock().unwrap().people[&rock_id].middle_name,
        "Handlinked",
        "PCO was taken for blank: {actions:?}"
    );
}
