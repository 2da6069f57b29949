//! R6 end to end: a first sync killed at random points over the real REST and HTTP
//! capabilities, run again (and killed again), then run to the end, leaves what an
//! uninterrupted first sync leaves: no PCO person twice, everyone synced linked.

use std::collections::{BTreeMap, BTreeSet};

use pcosync_e2e::kill::{Ending, KillPoint, KillSwitch};
use pcosync_e2e::{World, created, welcome_needed};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const PEOPLE: usize = 120;
const SEED: u64 = 21;
const KILLS: usize = 12;

/// What an uninterrupted first sync of the congregation does and leaves behind.
struct Expected {
    /// The calls to Rock and PCO the run made, in order: kill points are drawn from them.
    calls: Vec<String>,
    /// Rock ids linked at the end (linked or created).
    synced: BTreeSet<i64>,
    /// Rock ids the run created a PCO person for.
    created: BTreeSet<i64>,
    pco_people: usize,
}

async fn uninterrupted() -> Expected {
    let world = World::start(PEOPLE, SEED).await;
    let counter = KillSwitch::new(KillPoint::Never);
    let capabilities = counter.wrap(world.capabilities().await);
    let report = world
        .run(&capabilities, &world.account, false)
        .await
        .expect("the first sync runs");
    assert_eq!(report.counts.failed, 0, "{:?}", report.people);
    let created: BTreeSet<i64> = created(&report).into_keys().collect();
    assert!(!created.is_empty());
    Expected {
        calls: counter.calls(),
        synced: world.links().into_keys().collect(),
        created,
        pco_people: world.pco_people().await.len(),
    }
}

/// One run of `world`'s account as a fresh process, killed at `point`: the call it was killed
/// at, or None when the run ended first.
async fn run_killed_at(world: &World, point: KillPoint) -> Option<String> {
    let switch = KillSwitch::new(point);
    let capabilities = switch.wrap(world.capabilities().await);
    let run = world.run(&capabilities, &world.account, false);
    match switch.run(run).await {
        Ending::Killed => Some(switch.calls().pop().unwrap_or_default()),
        Ending::Finished(_) => None,
    }
}

/// No PCO person twice, the same people in PCO and linked as after an uninterrupted run, each
/// link to a person of its own: the one PCO held already, or the one created for it.
async fn assert_converged(world: &World, expected: &Expected, case: &str) {
    let people = world.pco_people().await;
    let mut by_remote: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for (id, remote) in &people {
        if let Some(rock_id) = remote {
            by_remote.entry(*rock_id).or_default().push(id);
        }
    }
    for (rock_id, ids) in &by_remote {
        assert_eq!(
            ids.len(),
            1,
            "{case}: Rock {rock_id} has PCO people {ids:?}"
        );
    }
    assert_eq!(people.len(), expected.pco_people, "{case}: PCO people");

    let links = world.links();
    let linked: BTreeSet<i64> = links.keys().copied().collect();
    assert_eq!(linked, expected.synced, "{case}: Rock people linked");
    let targets: BTreeSet<&String> = links.values().collect();
    assert_eq!(
        targets.len(),
        links.len(),
        "{case}: two Rock people share a PCO person"
    );
    assert_eq!(
        world.welcome_emails_sent(),
        0,
        "{case}: the API sends no welcome"
    );
    for (rock_id, pco_id) in &links {
        if expected.created.contains(rock_id) {
            let remote = people.iter().find(|(id, _)| id == pco_id).map(|p| p.1);
            assert_eq!(remote, Some(Some(*rock_id)), "{case}: PCO {pco_id}");
        } else {
            let key = world.member(*rock_id).key;
            let seeded = world.pco.pco_id(&world.account.name, key);
            assert_eq!(seeded.as_ref(), Some(pco_id), "{case}: Rock {rock_id}");
        }
    }
}

/// Kill points spread over the whole run: one drawn at random in each of `KILLS` stretches of
/// the uninterrupted run's calls, just before or just after that call.
fn kill_points(calls: usize, rng: &mut StdRng) -> Vec<KillPoint> {
    (0..KILLS)
        .map(|i| {
            let stretch = (i * calls / KILLS + 1)..=((i + 1) * calls / KILLS).max(1);
            let call = rng.random_range(stretch);
            if rng.random_bool(0.5) {
                KillPoint::Before(call)
            } else {
                KillPoint::After(call)
            }
        })
        .collect()
}

/// R6 (with R4, R5): a first sync killed at 12 random points, its rerun killed again at a
/// random point, then a run to the end: no Rock person has two PCO people, every synced Rock
/// person is linked (to the PCO person they already had, or to the one created for them), and
/// no welcome email is sent through the API. (That each created person is listed for the welcome,
/// even when the kill falls between the create and the Services grant, is the test below.)
#[tokio::test]
async fn r6_a_first_sync_killed_at_random_points_and_rerun_leaves_no_duplicate() {
    let expected = uninterrupted().await;
    let calls = expected.calls.len();
    assert!(calls >= KILLS, "{calls} calls");
    let mut rng = StdRng::seed_from_u64(SEED);
    for first in kill_points(calls, &mut rng) {
        let world = World::start(PEOPLE, SEED).await;
        let killed = run_killed_at(&world, first).await;
        assert!(killed.is_some(), "the run was not killed at {first:?}");
        // The rerun may itself be killed, or finish before its kill point: both happen.
        let second = KillPoint::After(rng.random_range(1..=calls));
        let killed_again = run_killed_at(&world, second).await;
        let report = world.sync().await;
        let case = format!("killed at {first:?} {killed:?}, then at {second:?} {killed_again:?}");
        assert_eq!(report.counts.failed, 0, "{case}: {:?}", report.people);
        assert_converged(&world, &expected, &case).await;
        println!("{case}: converged");
    }
}

/// R4, R6: a run killed just after PCO created a person (before it gave them Services) and run
/// again still lists every person created for the welcome email (issue 14.1).
#[tokio::test]
async fn r4_r6_a_create_interrupted_before_services_still_lists_the_welcome() {
    let expected = uninterrupted().await;
    let create = expected
        .calls
        .iter()
        .position(|call| call == "POST /people/v2/people")
        .expect("the first sync creates someone");
    let world = World::start(PEOPLE, SEED).await;
    let point = KillPoint::After(create + 1);
    assert!(run_killed_at(&world, point).await.is_some());
    let report = world.sync().await;
    assert_eq!(report.counts.failed, 0, "{:?}", report.people);
    let listed = welcome_needed(&report);
    for rock_id in &expected.created {
        assert!(
            listed.contains(rock_id),
            "Rock {rock_id} not listed for the welcome"
        );
    }
    assert_eq!(world.welcome_emails_sent(), 0);
}
