//! The audit and reverts (SPEC R25), through the compiled guest: every write of a run is
//! recorded with its before and after values, and a run, or one person's part of it, can be
//! written back.

use pcosync::bindings::engine::{
    Action, AdminOptions, Direction, Report, RevertOptions, RunKind, RunOutcome,
};
use pcosync_harness::{Harness, next_run_id};

/// A synced world, then a second run carrying one change from each side: Rock person A's
/// mobile phone to PCO, PCO person B's middle name to Rock.
struct Changed {
    harness: Harness,
    run: Report,
    rock_a: i64,
    pco_a: String,
    rock_b: i64,
    old_middle_b: String,
}

async fn changed_world() -> Changed {
    let harness = Harness::new(60, 11).await;
    harness.sync(false).await.expect("the first sync runs");
    let links = harness.links();
    let mut linked = links.iter();
    let (rock_a, pco_a) = linked.next().map(|(r, p)| (*r, p.clone())).unwrap();
    let (rock_b, pco_b) = linked.next().map(|(r, p)| (*r, p.clone())).unwrap();
    let old_middle_b = rock_middle(&harness, rock_b);
    harness.edit_rock(rock_a, |p| p.mobile_phone = Some("615-555-0142".into()));
    harness
        .edit_pco(
            &format!("/people/v2/people/{pco_b}"),
            serde_json::json!({"middle_name": "Grace"}),
        )
        .await;
    let run = harness.sync(false).await.expect("the second sync runs");
    assert_eq!(run.counts.updated_to_pco, 1, "{:?}", run.people);
    assert_eq!(run.counts.updated_to_rock, 1, "{:?}", run.people);
    Changed {
        harness,
        run,
        rock_a,
        pco_a,
        rock_b,
        old_middle_b,
    }
}

fn rock_middle(harness: &Harness, rock_id: i64) -> String {
    harness.world.rock.data.lock().unwrap().people[&rock_id]
        .middle_name
        .clone()
}

fn pco_mobile_digits(harness: &Harness, pco_id: &str) -> Vec<String> {
    harness.pco_state(pco_id)["included"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|r| r["type"] == "PhoneNumber" && r["attributes"]["location"] == "Mobile")
        .filter_map(|r| r["attributes"]["number"].as_str())
        .map(|n| n.chars().filter(char::is_ascii_digit).collect())
        .collect()
}

async fn revert(
    harness: &Harness,
    target: &str,
    rock_id: Option<i64>,
    dry_run: bool,
) -> Result<Report, pcosync::RunError> {
    let options = RevertOptions {
        target: target.to_string(),
        rock_id,
        run: AdminOptions {
            run_id: next_run_id(),
            started_at: "2026-11-24T00:00:00Z".into(),
            dry_run,
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
}

// R25: every write of a run is in its audit, with the system, the field, before and after.
#[tokio::test]
async fn every_write_is_audited_with_before_and_after() {
    let c = changed_world().await;
    let h = &c.harness;
    let detail = h
        .runtime
        .run_detail(&h.guest, &h.capabilities(), &h.account(), &c.run.run_id)
        .await
        .expect("the run is in the history");
    assert_eq!(detail.summary.kind, RunKind::Sync);
    assert_eq!(detail.summary.outcome, RunOutcome::Succeeded);
    assert_eq!(detail.summary.counts.updated_to_pco, 1);
    assert!(detail.summary.finished_at.is_some());
    let phone = detail
        .writes
        .iter()
        .find(|w| w.field == "mobile-phone")
        .expect("the phone write is audited");
    assert_eq!(phone.rock_id, Some(c.rock_a));
    assert_eq!(phone.pco_id.as_deref(), Some(c.pco_a.as_str()));
    assert_eq!(phone.direction, Direction::RockToPco);
    assert!(
        phone.after.as_deref().is_some_and(|a| a.contains("0142")),
        "{phone:?}"
    );
    assert_ne!(phone.before, phone.after);
    let middle = detail
        .writes
        .iter()
        .find(|w| w.field == "middle-name")
        .expect("the middle name write is audited");
    assert_eq!(middle.rock_id, Some(c.rock_b));
    assert_eq!(middle.direction, Direction::PcoToRock);
    assert_eq!(middle.after.as_deref(), Some("Grace"));
    assert_eq!(
        middle.before.as_deref().unwrap_or_default(),
        c.old_middle_b.trim()
    );
    assert_eq!(
        detail.writes.len(),
        2,
        "only the two writes: {:?}",
        detail.writes
    );
}

// R25: reverting a run writes the before-values back to both systems, and the systems are
// back where that run found them: the next dry run plans the same changes again.
#[tokio::test]
async fn a_reverted_run_leaves_both_systems_as_they_were_before_it() {
    let c = changed_world().await;
    let h = &c.harness;
    let before_revert = pco_mobile_digits(h, &c.pco_a);
    assert!(
        before_revert.iter().any(|n| n.ends_with("6155550142")),
        "{before_revert:?}"
    );
    let report = revert(h, &c.run.run_id, None, false)
        .await
        .expect("reverts");
    assert_eq!(report.kind, RunKind::Revert);
    assert_eq!(report.counts.reverted, 2, "{:?}", report.people);
    assert_eq!(report.counts.failed, 0, "{:?}", report.people);
    assert!(
        !pco_mobile_digits(h, &c.pco_a)
            .iter()
            .any(|n| n.ends_with("6155550142")),
        "PCO's phone is back"
    );
    assert_eq!(rock_middle(h, c.rock_b).trim(), c.old_middle_b.trim());

    let again = h.sync(true).await.expect("a dry run");
    assert_eq!(again.counts.updated_to_pco, 1, "{:?}", again.people);
    assert_eq!(again.counts.updated_to_rock, 1, "{:?}", again.people);

    // The revert is itself an audited run.
    let detail = h
        .runtime
        .run_detail(&h.guest, &h.capabilities(), &h.account(), &report.run_id)
        .await
        .expect("the revert is in the history");
    assert_eq!(detail.summary.kind, RunKind::Revert);
    assert_eq!(detail.writes.len(), 2);
}

// R25: one person's changes can be reverted alone.
#[tokio::test]
async fn one_persons_changes_can_be_reverted_alone() {
    let c = changed_world().await;
    let h = &c.harness;
    let report = revert(h, &c.run.run_id, Some(c.rock_b), false)
        .await
        .expect("reverts");
    assert_eq!(report.counts.reverted, 1, "{:?}", report.people);
    assert_eq!(rock_middle(h, c.rock_b).trim(), c.old_middle_b.trim());
    assert!(
        pco_mobile_digits(h, &c.pco_a)
            .iter()
            .any(|n| n.ends_with("6155550142")),
        "the other person's change stays"
    );
    let none = revert(h, &c.run.run_id, Some(999_999), false).await;
    assert!(
        none.is_err_and(|e| e.to_string().contains("999999")),
        "a person the run did not touch is refused"
    );
}

// R25: a value changed again since the run is left alone, and the report says so.
#[tokio::test]
async fn a_value_changed_since_the_run_is_left_alone() {
    let c = changed_world().await;
    let h = &c.harness;
    h.edit_rock(c.rock_b, |p| p.middle_name = "Later".into());
    let report = revert(h, &c.run.run_id, None, false)
        .await
        .expect("reverts");
    assert_eq!(report.counts.reverted, 1, "{:?}", report.people);
    assert_eq!(rock_middle(h, c.rock_b), "Later");
    let skipped: Vec<&Action> = report
        .people
        .iter()
        .filter(|p| p.rock_id == Some(c.rock_b))
        .flat_map(|p| &p.actions)
        .collect();
    assert!(
        skipped
            .iter()
            .any(|a| matches!(a, Action::Skipped(why) if why.contains("changed since"))),
        "{skipped:?}"
    );
}

// R25, R30: a dry run of a revert shows the write-backs and writes nothing.
#[tokio::test]
async fn a_revert_dry_run_writes_nothing() {
    let c = changed_world().await;
    let h = &c.harness;
    let state_before = h.state.dump();
    h.sandbox.clear_requests();
    let report = revert(h, &c.run.run_id, None, true).await.expect("plans");
    assert!(report.dry_run);
    assert_eq!(report.counts.reverted, 2);
    assert_eq!(h.pco_writes(), 0);
    assert_eq!(h.state.dump(), state_before);
    assert_eq!(rock_middle(h, c.rock_b), "Grace");
}

// R25 (issue 24 item 19): a revert applies what its preview showed, or nothing. Applied later
// than previewed it would write what is there then; tied to the preview's fingerprint (as
// `sync --confirm` is), a plan that changed since writes nothing and says so.
#[tokio::test]
async fn a_revert_applies_what_its_preview_showed_or_nothing_issue_24_item_19_r25() {
    use pcosync::ops::admin::{revert_as_previewed, revert_fingerprint};
    let c = changed_world().await;
    let h = &c.harness;
    let preview = revert(h, &c.run.run_id, None, true).await.expect("plans");
    assert_eq!(preview.counts.reverted, 2, "{:?}", preview.people);
    let shown = revert_fingerprint(&preview);
    // After the preview, staff change B's middle name again: the revert would now leave B
    // alone, which the preview did not show.
    h.edit_rock(c.rock_b, |p| p.middle_name = "Later".into());
    let state_before = h.state.dump();
    h.sandbox.clear_requests();
    let refused = revert_as_previewed(
        &h.runtime,
        &h.guest,
        &h.capabilities(),
        &h.account(),
        &c.run.run_id,
        None,
        &shown,
    )
    .await
    .expect_err("a revert whose plan changed since its preview is refused");
    assert!(refused.to_string().contains("preview"), "{refused}");
    assert_eq!(h.pco_writes(), 0, "nothing was written to PCO");
    assert_eq!(
        h.state.dump(),
        state_before,
        "nothing was written to the state"
    );
    assert!(
        pco_mobile_digits(h, &c.pco_a)
            .iter()
            .any(|n| n.ends_with("6155550142")),
        "A's phone was not reverted"
    );
    assert_eq!(rock_middle(h, c.rock_b), "Later");

    // Previewed again, it applies exactly that.
    let again = revert(h, &c.run.run_id, None, true).await.expect("plans");
    assert_ne!(revert_fingerprint(&again), shown);
    let report = revert_as_previewed(
        &h.runtime,
        &h.guest,
        &h.capabilities(),
        &h.account(),
        &c.run.run_id,
        None,
        &revert_fingerprint(&again),
    )
    .await
    .expect("the revert as previewed applies");
    assert!(!report.dry_run);
    assert_eq!(report.counts.reverted, 1, "{:?}", report.people);
    assert_eq!(rock_middle(h, c.rock_b), "Later");
    assert!(
        !pco_mobile_digits(h, &c.pco_a)
            .iter()
            .any(|n| n.ends_with("6155550142")),
        "A's phone is back"
    );
}

// R53, R18 (issue 24 item 19e): a person archived because they left every synced group keeps
// no saved values in the state (their name, email, phones... of the last sync); the link to
// their PCO person and the audit of the run stay.
#[tokio::test]
async fn an_archived_leaver_keeps_no_saved_values_but_the_audit_stays_issue_24_item_19e_r53() {
    let h = Harness::new(60, 11).await;
    let mut account = h.account();
    account.allow_downgrade = true;
    h.sync_as(&account, false)
        .await
        .expect("the first sync runs");
    let record_of = |rock_id: i64| -> serde_json::Value {
        h.state
            .dump()
            .into_iter()
            .find(|((_, key), _)| *key == format!("person/{rock_id}"))
            .map(|(_, value)| serde_json::from_slice(&value).unwrap())
            .unwrap_or(serde_json::Value::Null)
    };
    let (rock_id, pco_id) = h
        .links()
        .into_iter()
        .find(|(rock_id, pco)| {
            h.pco_state(pco)["services"]["attributes"]["site_administrator"] != true
                && h.pco_permission(pco).is_some_and(|p| p != "Archived")
                && !record_of(*rock_id)["base"].is_null()
        })
        .expect("a linked person with saved values and a Services level");
    h.leave_everything(rock_id);
    let run = h
        .sync_as(&account, false)
        .await
        .expect("the second sync runs");
    let archived = run
        .people
        .iter()
        .any(|p| p.rock_id == Some(rock_id) && p.actions.contains(&Action::Archived));
    assert!(archived, "the leaver is archived: {:?}", run.people);

    let record = record_of(rock_id);
    assert_eq!(record["pco"], pco_id.as_str(), "the link stays: {record}");
    assert!(record["base"].is_null(), "saved values stayed: {record}");
    assert!(
        record["tags"].as_array().is_none_or(|t| t.is_empty()),
        "saved tags stayed: {record}"
    );
    let detail = h
        .runtime
        .run_detail(&h.guest, &h.capabilities(), &account, &run.run_id)
        .await
        .expect("the run is in the history");
    assert!(
        detail.writes.iter().any(|w| w.rock_id == Some(rock_id)),
        "the audit keeps the archive: {:?}",
        detail.writes
    );
}

// R25: the history knows only real runs; an unknown run is a clear error.
#[tokio::test]
async fn an_unknown_run_is_a_clear_error() {
    let h = Harness::new(10, 3).await;
    let error = revert(&h, "no-such-run", None, false).await.unwrap_err();
    assert!(error.to_string().contains("no-such-run"), "{error}");
    let error = h
        .runtime
        .run_detail(&h.guest, &h.capabilities(), &h.account(), "no-such-run")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("pcosync status"), "{error}");
}

// R25: a run id names one run: a second run under the same id would mix two runs' audits, so
// the guest refuses it.
#[tokio::test]
async fn a_run_id_is_never_reused() {
    let h = Harness::new(10, 3).await;
    let options = pcosync_harness::options(false);
    let capabilities = h.capabilities();
    h.runtime
        .sync(&h.guest, &capabilities, &h.account(), &options)
        .await
        .expect("the first run");
    let error = h
        .runtime
        .sync(&h.guest, &capabilities, &h.account(), &options)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("used before"), "{error}");
}

// R25, R33, R16, R14: a run that raises a level, changes tags and links someone by a match is
// audited field by field ("permission", "tags", "link"), and reverting it puts the level and
// the tags back and undoes the link (the PCO person stays: a revert never deletes).
#[tokio::test]
async fn permissions_tags_and_links_are_audited_and_reverted() {
    use pcosync::bindings::engine::Direction;
    use pcosync::bindings::pco::Method;
    use pcosync::bindings::types::PermissionLevel;
    let harness = Harness::new(60, 11).await;
    harness.sync(false).await.expect("the first sync runs");
    let account = harness.account();
    // An ordinary linked person below Administrator, and the account's Administrator group.
    let admin_group = {
        let data = harness.world.rock.data.lock().unwrap();
        data.groups
            .iter()
            .find(|g| {
                g.is_active
                    && g.pco_account.as_deref() == Some(account.name.as_str())
                    && g.level == Some(PermissionLevel::Administrator)
            })
            .map(|g| g.id)
            .expect("precondition: an Administrator group")
    };
    let (rock_raised, pco_raised) = harness
        .links()
        .into_iter()
        .find(|(_, pco)| {
            harness.pco_state(pco)["services"]["attributes"]["site_administrator"] != true
                && harness
                    .pco_permission(pco)
                    .is_some_and(|p| p != "Archived" && p != "Administrator")
        })
        .expect("precondition: a linked person below Administrator");
    let level_before = harness.pco_permission(&pco_raised);
    harness.join_group(admin_group, rock_raised);
    // A tag of the account no group controls, picked for them in Rock.
    let tag = {
        let data = harness.world.rock.data.lock().unwrap();
        let prefix = format!("{}:", account.name);
        data.people
            .values()
            .flat_map(|p| p.pco_tags.iter())
            .filter(|t| t.starts_with(&prefix))
            .filter(|t| !account.tag_groups.iter().any(|m| t.ends_with(&m.tag)))
            .find(|t| !data.people[&rock_raised].pco_tags.contains(t))
            .cloned()
            .expect("precondition: a tag no group controls")
    };
    harness.edit_rock(rock_raised, |p| p.pco_tags.push(tag.clone()));
    // Someone not synced yet, whom PCO already holds by name and email: linked by a match.
    let rock_linked = *harness
        .unsynced_rock_people()
        .iter()
        .find(|id| {
            let data = harness.world.rock.data.lock().unwrap();
            let p = &data.people[id];
            p.email.is_some()
                && !matches!(
                    p.protection,
                    pcosync::bindings::rock::Protection::High
                        | pcosync::bindings::rock::Protection::Extreme
                )
        })
        .expect("precondition: an unsynced Rock person with an email");
    let (first, last, email) = {
        let data = harness.world.rock.data.lock().unwrap();
        let p = &data.people[&rock_linked];
        (
            p.nick_name.clone(),
            p.last_name.clone(),
            p.email.clone().unwrap(),
        )
    };
    let created = harness.pco_call(Method::Post,
        "/people/v2/people",
        serde_json::json!({"data": {"type": "Person", "attributes": {"first_name": first, "last_name": last}}}),
    )
    .await;
    let pco_linked = created["data"]["id"].as_str().unwrap().to_string();
    harness.pco_call(Method::Post,
        &format!("/people/v2/people/{pco_linked}/emails"),
        serde_json::json!({"data": {"type": "Email", "attributes": {"address": email, "location": "Home", "primary": true}}}),
    )
    .await;
    harness.join_group(admin_group, rock_linked);

    let mut run_account = account.clone();
    run_account.brake_percent = 100;
    let run = harness.sync_as(&run_account, false).await.unwrap();
    assert_eq!(run.counts.failed, 0, "{:?}", run.people);
    assert_eq!(harness.links().get(&rock_linked), Some(&pco_linked));
    assert_eq!(
        harness.pco_permission(&pco_raised).as_deref(),
        Some("Administrator")
    );
    let detail = harness
        .runtime
        .run_detail(
            &harness.guest,
            &harness.capabilities(),
            &harness.account(),
            &run.run_id,
        )
        .await
        .unwrap();
    let write = |rock: i64, field: &str| {
        detail
            .writes
            .iter()
            .find(|w| w.rock_id == Some(rock) && w.field == field)
            .cloned()
            .unwrap_or_else(|| panic!("no {field} write for {rock}: {:?}", detail.writes))
    };
    let raised = write(rock_raised, "permission");
    assert_eq!(raised.direction, Direction::RockToPco);
    assert_eq!(raised.before, level_before);
    assert_eq!(raised.after.as_deref(), Some("Administrator"));
    let tags = write(rock_raised, "tags");
    assert!(
        tags.after
            .as_deref()
            .is_some_and(|a| a.contains(tag.split_once(':').unwrap().1)),
        "{tags:?}"
    );
    let link = write(rock_linked, "link");
    assert_eq!(link.after.as_deref(), Some(pco_linked.as_str()));
    write(rock_linked, "permission");

    let report = revert(&harness, &run.run_id, None, false).await.unwrap();
    assert_eq!(report.counts.failed, 0, "{:?}", report.people);
    assert_eq!(harness.pco_permission(&pco_raised), level_before);
    assert_eq!(
        harness.links().get(&rock_linked),
        None,
        "the link is undone"
    );
    assert!(
        harness.pco_state(&pco_linked)["person"].is_object(),
        "a revert never deletes the PCO person"
    );
    // PCO's tags are back as the run found them: the next dry run plans the tag again.
    let again = harness.sync_as(&run_account, true).await.unwrap();
    let planned: Vec<&Action> = again
        .people
        .iter()
        .filter(|p| p.rock_id == Some(rock_raised))
        .flat_map(|p| &p.actions)
        .collect();
    assert!(
        planned
            .iter()
            .any(|a| matches!(a, Action::Flagged(n) if n.starts_with("tags now:"))),
        "{planned:?}"
    );
}
