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
