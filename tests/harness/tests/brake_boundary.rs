//! R24's boundary, driven through the compiled guest with real (not dry) runs: a run that
//! changes exactly the account's share of its synced people goes through; one person more and
//! it is held whole (issue 24, "tests that assert too little").

use pcosync::bindings::engine::Report;
use pcosync_harness::Harness;

/// Ordinary linked people: not organization administrators, not archived in PCO.
fn ordinary_people(harness: &Harness) -> Vec<i64> {
    harness
        .links()
        .into_iter()
        .filter(|(_, pco)| {
            let state = harness.pco_state(pco);
            state["services"]["attributes"]["site_administrator"] != true
                && harness.pco_permission(pco).as_deref() != Some("Archived")
        })
        .map(|(rock, _)| rock)
        .collect()
}

/// Gives each of `people` a new middle name in Rock: one change to one linked person each.
fn rename(harness: &Harness, people: &[i64], round: &str) {
    for (n, id) in people.iter().enumerate() {
        harness.edit_rock(*id, |p| p.middle_name = format!("{round}{n}"));
    }
}

async fn real_run(harness: &Harness, brake_percent: u8) -> Report {
    let mut account = harness.account();
    account.brake_percent = brake_percent;
    harness
        .sync_as(&account, false)
        .await
        .expect("the sync runs")
}

#[tokio::test]
async fn r24_the_brake_holds_one_person_past_its_share_and_not_before() {
    let harness = Harness::new(240, 5).await;
    let first = harness.sync(false).await.expect("the first sync runs");
    assert!(!first.held);
    // A clean run after it: the brake weighs from the second run on.
    let quiet = harness.sync(false).await.expect("a quiet sync runs");
    let synced = quiet.counts.synced;
    let share = synced / 10;
    assert!(
        share >= 5,
        "precondition: 10% of {synced} synced people reaches the brake's minimum of five"
    );
    let ordinary = ordinary_people(&harness);
    assert!(
        ordinary.len() > 2 * share as usize + 1,
        "precondition: {} ordinary linked people for two rounds",
        ordinary.len()
    );

    // Exactly the share: 10% of the synced people, not more.
    let (at_share, rest) = ordinary.split_at(share as usize);
    rename(&harness, at_share, "Share");
    let writes_before = harness.pco_writes();
    let report = real_run(&harness, 10).await;
    assert!(
        !report.held,
        "R24: {share} of {synced} people changed is within 10%: {:?}",
        report.counts
    );
    assert!(
        harness.pco_writes() > writes_before,
        "the run within the share wrote its changes"
    );

    // One more than the share: held whole, nothing written.
    rename(&harness, &rest[..share as usize + 1], "Past");
    let writes_before = harness.pco_writes();
    let report = real_run(&harness, 10).await;
    assert!(
        report.held,
        "R24: {} of {synced} people changed is past 10%: {:?}",
        share + 1,
        report.counts
    );
    assert_eq!(
        harness.pco_writes(),
        writes_before,
        "a held run writes nothing to PCO"
    );
}
