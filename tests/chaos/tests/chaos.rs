//! The chaos suite inside `cargo test`: a few scenarios through the host library in process,
//! each run stopped dead at a random capability call (the full suite, with the real binary
//! and SIGKILL, is `cargo run --release -p pcosync-chaos`); the checks proved able to fail;
//! and the product bugs the suite found, each replayed alone.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pcosync_chaos::changes::{Expect, Field, Side};
use pcosync_chaos::check::{self, After, ViolationKind};
use pcosync_chaos::host::{Host, Kill, Op};
use pcosync_chaos::scenario::Settings;
use pcosync_chaos::world::{IMPORT_ACCOUNT, RockPerson, World, WorldOptions};
use serde_json::json;

/// One host for the whole test binary: compiling the guest is the slow part.
async fn host() -> Arc<Host> {
    static HOST: tokio::sync::OnceCell<Arc<Host>> = tokio::sync::OnceCell::const_new();
    HOST.get_or_init(|| async {
        Arc::new(Host::in_process().await.expect("the built-in guest loads"))
    })
    .await
    .clone()
}

fn kinds(violations: &[check::Violation]) -> BTreeSet<ViolationKind> {
    violations.iter().map(|v| v.kind).collect()
}

/// R4, R6, R10, R12, R17, R18, R42, R50: eight scenarios from seed 1 (first syncs, resyncs
/// after changes on both sides, imports), under faults on either sandbox, most runs stopped
/// dead at a random call, then run clean: no duplicate, no lost update, no violation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reduced_chaos_suite_keeps_every_invariant() {
    let host = host().await;
    let settings = Settings {
        people: 60..=80,
        unkind: 0.0,
    };
    let started = Instant::now();
    let figures = pcosync_chaos::suite::run(host, 1, 8, 2, &settings, |r| {
        println!(
            "{} {} in {:.1} s",
            if r.failed() { "FAILED" } else { "ok" },
            r.describe(),
            r.duration.as_secs_f64()
        );
        for violation in &r.violations {
            println!("    {violation}");
        }
        if let Some(error) = &r.error {
            println!("    error: {error}");
        }
    })
    .await;
    println!("{figures}\n(in {:.1} s)", started.elapsed().as_secs_f64());
    assert_eq!(figures.scenarios, 8);
    assert!(figures.kills >= 3, "{} kills", figures.kills);
    assert!(figures.faults_total() > 0, "no fault was injected");
    assert_eq!(figures.errors, 0, "{:?}", figures.failing);
    assert_eq!(figures.duplicates, 0, "{:?}", figures.failing);
    assert_eq!(figures.lost_updates, 0, "{:?}", figures.failing);
    assert_eq!(figures.violations, 0, "{:?}", figures.failing);
}

/// Issue 24, R4, R6, R18: the same, in worlds with unkind data (PCO people carrying unrelated
/// Rock ids in `remote_id`, synced Rock people who died, two accounts on Rock's one PCO Tags
/// attribute), from a seed the reduced suite above never runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unkind_worlds_keep_every_invariant() {
    let host = host().await;
    let settings = Settings {
        people: 60..=80,
        unkind: 1.0,
    };
    let figures = pcosync_chaos::suite::run(host, 9_001, 4, 2, &settings, |r| {
        println!(
            "{} {}",
            if r.failed() { "FAILED" } else { "ok" },
            r.describe()
        );
        for violation in &r.violations {
            println!("    {violation}");
        }
        if let Some(error) = &r.error {
            println!("    error: {error}");
        }
    })
    .await;
    println!("{figures}");
    assert_eq!(figures.scenarios, 4);
    assert_eq!(figures.errors, 0, "{:?}", figures.failing);
    assert_eq!(figures.duplicates, 0, "{:?}", figures.failing);
    assert_eq!(figures.lost_updates, 0, "{:?}", figures.failing);
    assert_eq!(figures.violations, 0, "{:?}", figures.failing);
}

async fn world(people: usize, seed: u64, allow_downgrade: bool) -> World {
    World::start(WorldOptions {
        people,
        seed,
        allow_downgrade,
        brake_percent: 100,
        unkind: false,
    })
    .await
    .expect("the world starts")
}

async fn sync(host: &Host, world: &World, updates_only: bool) {
    let op = Op::Sync {
        account: None,
        updates_only,
        confirm: None,
    };
    let outcome = host.run(world, &op).await.expect("the sync runs");
    assert_eq!(outcome.code, Some(0), "{outcome:?}");
}

/// The checks are not vacuous: each flags the breach it guards against, made by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checks_catch_what_they_guard() {
    let host = host().await;
    let world = world(76, 5, false).await;
    sync(&host, &world, false).await;
    let account = IMPORT_ACCOUNT;
    let permissions = check::permissions(&world).await.unwrap();
    let after = After::read(&world).await.unwrap();
    assert!(check::duplicates(&world, &after).is_empty());
    assert!(check::dangling(&world, &after).is_empty());
    assert!(check::permissions_kept(&world, &after, &permissions, false).is_empty());

    // Ordinary linked people (not organization administrators, not archived, above the lowest
    // level), and an organization administrator.
    let links = &after.links[account];
    let person = |id: &str| world.pco_person(account, id).expect("a PCO person");
    let ordinary: Vec<(i64, String)> = links
        .iter()
        .filter(|(_, p)| {
            let p = person(p);
            !p.site_administrator
                && p.permission.is_some()
                && p.permission.as_deref() != Some("Archived")
                && p.permission.as_deref() != Some("Scheduled Viewer")
        })
        .map(|(r, p)| (*r, p.clone()))
        .collect();
    let admin = after.pco[account]
        .iter()
        .find(|p| {
            p.site_administrator
                && p.permission.is_some()
                && p.permission.as_deref() != Some("Archived")
        })
        .expect("an organization administrator in Services")
        .id
        .clone();
    let [(rock_a, pco_a), (rock_b, _), ..] = ordinary.as_slice() else {
        panic!("two ordinary linked people are needed: {ordinary:?}");
    };

    // R6: a second PCO person carrying a linked Rock person's id.
    world
        .create_pco_person(
            account,
            json!({"first_name": "Twin", "last_name": "Copy", "remote_id": rock_a}),
        )
        .await
        .unwrap();
    // R17, R50: a person lowered and an organization administrator archived, by hand.
    world
        .set_pco_permission(account, pco_a, "Scheduled Viewer")
        .await
        .unwrap();
    world
        .set_pco_permission(account, &admin, "Archived")
        .await
        .unwrap();
    // R10: a change that never happened.
    let never = Expect {
        rock_id: *rock_b,
        field: Field::Middle,
        side: Side::Rock,
        value: "Neverset".into(),
        pco_value: None,
    };
    let after = After::read(&world).await.unwrap();
    assert_eq!(
        kinds(&check::duplicates(&world, &after)),
        [ViolationKind::Duplicate].into()
    );
    let lost = check::lost_updates(&world, &after, std::slice::from_ref(&never));
    assert_eq!(kinds(&lost), [ViolationKind::LostUpdate].into());
    assert!(lost.len() >= 2, "Rock's side and PCO's: {lost:?}");
    let kept = check::permissions_kept(&world, &after, &permissions, false);
    assert_eq!(
        kinds(&kept),
        [ViolationKind::Lowered, ViolationKind::OrgAdmin].into(),
        "{kept:?}"
    );
    // Allowed downgrades: the lowering is fine, the administrator never.
    let kept = check::permissions_kept(&world, &after, &permissions, true);
    assert_eq!(kinds(&kept), [ViolationKind::OrgAdmin].into(), "{kept:?}");

    // R42: an import that created a Rock person twice, the copy left unlinked; and one linked
    // to a PCO person made after the runs began.
    let mut twice = After::read(&world).await.unwrap();
    let rock_before: BTreeSet<i64> = twice.rock.keys().copied().collect();
    let pco_before: BTreeSet<String> = twice.pco[account].iter().map(|p| p.id.clone()).collect();
    assert!(
        check::imported_once(&twice, &rock_before)
            .violations
            .is_empty()
    );
    let original = twice.rock[rock_b].clone();
    let new_id = twice.rock.keys().max().unwrap() + 1;
    twice.rock.insert(
        new_id,
        RockPerson {
            id: new_id,
            ..original.clone()
        },
    );
    let mut before_copy = rock_before.clone();
    before_copy.remove(rock_b);
    let found = check::imported_once(&twice, &before_copy);
    assert_eq!(
        kinds(&found.violations),
        [ViolationKind::ImportedTwice].into()
    );
    let mut pco_earlier = pco_before.clone();
    pco_earlier.remove(&twice.links[account][rock_b]);
    assert_eq!(
        kinds(&check::import_duplicates(
            &twice,
            &before_copy,
            &pco_earlier
        )),
        [ViolationKind::Duplicate].into()
    );
    assert!(check::import_duplicates(&twice, &rock_before, &pco_before).is_empty());
}

// ---- Product bugs the suite found, each replayed alone --------------------------------------
// The first two were fixed in the guest while the suite was being written; they stay as
// regression tests. The last one is open: its test is ignored, and fails when run.

/// R50, R21 (chaos seeds 5, 118, 1128, 1148, 1149): with downgrade allowed, an organization
/// administrator who left every synced group is flagged by a full sync and never archived; an
/// updates-only sync, which does not read them from PCO, archived them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r50_an_updates_only_sync_never_archives_an_organization_administrator() {
    let host = host().await;
    let world = world(76, 5, true).await;
    sync(&host, &world, false).await;
    let (rock_id, pco_id) = world
        .links(IMPORT_ACCOUNT)
        .unwrap()
        .into_iter()
        .find(|(_, pco)| {
            world
                .pco_person(IMPORT_ACCOUNT, pco)
                .is_some_and(|p| p.site_administrator && p.permission.is_some())
        })
        .expect("a linked organization administrator");
    let synced = world.synced_group_ids(IMPORT_ACCOUNT);
    let groups: BTreeSet<i64> = world
        .rock_groups(rock_id)
        .into_iter()
        .filter(|g| synced.contains(g))
        .collect();
    assert!(!groups.is_empty());
    for group in groups {
        world.remove_from_group(rock_id, group).await.unwrap();
    }
    let before = world
        .pco_person(IMPORT_ACCOUNT, &pco_id)
        .unwrap()
        .permission;
    sync(&host, &world, true).await;
    let after = world
        .pco_person(IMPORT_ACCOUNT, &pco_id)
        .unwrap()
        .permission;
    assert_eq!(after, before, "organization administrator PCO {pco_id}");
}

/// R10, R21 (chaos seeds 1004, 1075, 1121, 1170): an email changed in Rock and carried by an
/// updates-only sync, which did not read the person from PCO, was added to PCO as a second
/// primary email instead of replacing the first; the next full sync read the old one as the
/// primary, took it for a change made in PCO and wrote it back to Rock: the change was lost on
/// both sides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r10_an_email_changed_in_rock_survives_an_updates_only_sync() {
    let host = host().await;
    let world = world(77, 1121, false).await;
    sync(&host, &world, false).await;
    let (rock_id, pco_id) = world
        .links(IMPORT_ACCOUNT)
        .unwrap()
        .into_iter()
        .find(|(rock, pco)| {
            world
                .rock_person(*rock)
                .is_some_and(|p| !p.email.is_empty())
                && world
                    .pco_person(IMPORT_ACCOUNT, pco)
                    .is_some_and(|p| !p.site_administrator)
        })
        .expect("a linked person with an email");
    let address = "new.address@chaos.example.org";
    world
        .edit_rock_person(rock_id, json!({ "Email": address }))
        .await
        .unwrap();
    sync(&host, &world, true).await;
    sync(&host, &world, false).await;
    let rock = world.rock_person(rock_id).unwrap().email;
    let pco = world.pco_person(IMPORT_ACCOUNT, &pco_id).unwrap().email;
    assert_eq!(
        (rock.as_str(), pco.as_deref()),
        (address, Some(address)),
        "Rock {rock_id} / PCO {pco_id}"
    );
}

/// R6, R42 (chaos seed 1089): an import stopped after adding the people it created to their
/// Rock groups, but before it saved their links, leaves them in synced groups unlinked; the
/// next sync cannot find those without an email in PCO and creates them there a second time
/// (with a welcome email), beside the PCO person they were imported from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r6_a_sync_after_an_interrupted_import_creates_no_second_pco_person() {
    let host = host().await;
    let import = Op::Import {
        account: IMPORT_ACCOUNT.to_string(),
    };
    // Where the import adds its people to their groups.
    let counting = world(101, 1089, false).await;
    sync(&host, &counting, false).await;
    let calls = host.run(&counting, &import).await.unwrap().calls;
    let add = calls
        .iter()
        .position(|c| c == "rock.add_members")
        .expect("the import adds members")
        + 1;

    let world = world(101, 1089, false).await;
    sync(&host, &world, false).await;
    let rock_before: BTreeSet<i64> = world.rock_people().await.unwrap().into_keys().collect();
    let pco_before: BTreeSet<String> = world
        .pco_people(IMPORT_ACCOUNT)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    let kill = Kill {
        at: add,
        after: true,
        deadline: Duration::from_secs(300),
    };
    let killed = host.run_killed(&world, &import, Some(kill)).await.unwrap();
    assert!(killed.killed, "{:?}", killed.calls);
    sync(&host, &world, false).await;
    let resumed = host.run(&world, &import).await.unwrap();
    assert_eq!(resumed.code, Some(0), "{resumed:?}");
    sync(&host, &world, false).await;
    let after = After::read(&world).await.unwrap();
    let found = check::import_duplicates(&after, &rock_before, &pco_before);
    assert!(found.is_empty(), "{found:#?}");
}

/// R53: the privacy check flags a log line with someone's email, phone or street address, and
/// passes lines that name people by id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_privacy_check_catches_details_in_a_log() {
    let world = world(40, 3, false).await;
    let member = world
        .congregation
        .people
        .iter()
        .find(|m| m.email.is_some() && m.mobile_phone.is_some())
        .expect("a member with an email and a mobile phone");
    let email = member.email.clone().unwrap();
    let phone = member.mobile_phone.clone().unwrap();
    let clean = "INFO pcosync: updated rock_person=1042 pco_person=10000257\n";
    assert!(check::private_in_logs(&world, clean).is_empty());
    let leaky = format!("{clean}WARN pcosync: bad email {email}\nINFO phone {phone} saved\n");
    let found = check::private_in_logs(&world, &leaky);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(kinds(&found), [ViolationKind::Privacy].into());
}
