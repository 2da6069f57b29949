//! Administration end to end, against both sandboxes: reverting a run (R25) and deleting PCO
//! records (R35).

use pcosync::bindings::engine::Action;
use pcosync_e2e::World;
use serde_json::json;

fn people_path(pco_id: &str) -> String {
    format!("/people/v2/people/{pco_id}")
}

/// Linked people a test may edit: not organization administrators, not archived in PCO.
fn ordinary_links(world: &World) -> Vec<(i64, String)> {
    world
        .links()
        .into_iter()
        .filter(|(_, pco)| {
            world.pco_person(pco)["services"]["attributes"]["site_administrator"] != true
                && world.pco_permission(pco).as_deref() != Some("Archived")
        })
        .collect()
}

fn pco_middle(world: &World, pco_id: &str) -> serde_json::Value {
    world.pco_person(pco_id)["person"]["attributes"]["middle_name"].clone()
}

// R25: a run reverted leaves both systems at their values before it.
#[tokio::test]
async fn r25_a_reverted_run_puts_both_systems_back() {
    let world = World::start(80, 31).await;
    world.sync().await;
    let links = ordinary_links(&world);
    let (rock_a, pco_a) = links[0].clone();
    let (rock_b, pco_b) = links[1].clone();
    let (pco_a_before, rock_b_before) = (
        pco_middle(&world, &pco_a),
        world.rock_person(rock_b)["MiddleName"].clone(),
    );
    world
        .edit_rock_person(rock_a, json!({"MiddleName": "Fromrock"}))
        .await;
    world
        .edit_pco(&people_path(&pco_b), json!({"middle_name": "Frompco"}))
        .await;
    let run = world.sync().await;
    assert_eq!(pco_middle(&world, &pco_a), "Fromrock");
    assert_eq!(world.rock_person(rock_b)["MiddleName"], "Frompco");

    let revert = world.revert(&run.run_id, None).await;
    assert_eq!(revert.counts.reverted, 2, "{:?}", revert.people);
    assert_eq!(revert.counts.failed, 0, "{:?}", revert.people);
    // Back where the run found them: A's new middle name only in Rock, B's only in PCO.
    assert_eq!(pco_middle(&world, &pco_a), pco_a_before);
    assert_eq!(world.rock_person(rock_a)["MiddleName"], "Fromrock");
    assert_eq!(pco_middle(&world, &pco_b), "Frompco");
    assert_eq!(world.rock_person(rock_b)["MiddleName"], rock_b_before);
}

// R35: a delete removes the person from PCO People and Services; the next sync adds back
// someone still in a synced group (a new PCO person), and not someone who left every group.
#[tokio::test]
async fn r35_deleted_people_come_back_only_while_still_in_a_synced_group() {
    let world = World::start(80, 33).await;
    world.sync().await;
    let links = ordinary_links(&world);
    let (staying, staying_pco) = links[0].clone();
    let leaver = links
        .iter()
        .skip(1)
        .find(|(rock, _)| {
            let member = world.member(*rock);
            let groups = world.synced_groups(member);
            groups.len() == 1 && member.pco_tags.is_empty()
        })
        .cloned();
    let Some((leaver, leaver_pco)) = leaver else {
        panic!("seed 33 has someone synced by exactly one group");
    };
    let group = world.synced_groups(world.member(leaver))[0];
    world.remove_from_group(leaver, group).await;

    let report = world
        .delete(&[staying_pco.clone(), leaver_pco.clone()])
        .await;
    assert_eq!(report.counts.deleted, 2, "{:?}", report.people);
    let warned: Vec<i64> = report
        .people
        .iter()
        .filter(|p| {
            p.actions
                .iter()
                .any(|a| matches!(a, Action::Flagged(n) if n.contains("adds them back")))
        })
        .filter_map(|p| p.rock_id)
        .collect();
    assert_eq!(
        warned,
        vec![staying],
        "only the one still in a group is warned"
    );
    for pco in [&staying_pco, &leaver_pco] {
        assert!(world.pco_person(pco).is_null(), "{pco} is gone from PCO");
        assert!(
            !world.pco_people().await.iter().any(|(id, _)| id == pco),
            "{pco} is gone from the API's list"
        );
    }
    assert!(!world.links().contains_key(&staying));

    world.sync().await;
    let links = world.links();
    let back = links
        .get(&staying)
        .expect("the person still in a group is back");
    assert_ne!(back, &staying_pco, "as a new PCO person");
    assert!(!links.contains_key(&leaver), "the leaver stays gone");
}
