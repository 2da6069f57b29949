//! The sync's main promises, end to end: the embedded guest through `pcosync::runtime`,
//! `RestRock` and `HttpPco` against the sandboxes over loopback, `SqliteState` in a temporary
//! data directory, all built from a configuration file by `pcosync::connect`.

use std::collections::{BTreeMap, BTreeSet};

use congregation::{Level, Member, Presence, Protection};
use pcosync::bindings::engine::{Action, ConflictPolicy, Direction};
use pcosync_e2e::{World, actions_of, created, linked, welcome_needed};
use serde_json::json;

/// Linked people a test may edit freely: not organization administrators in PCO (R50 changes
/// what the sync may do to them) and not archived there.
fn ordinary_links(world: &World) -> Vec<(i64, String)> {
    world
        .links()
        .into_iter()
        .filter(|(_, pco)| {
            let person = world.pco_person(pco);
            person["services"]["attributes"]["site_administrator"] != true
                && world.pco_permission(pco).as_deref() != Some("Archived")
        })
        .collect()
}

/// Whether PCO already holds exactly this Rock person under the same first name, last name and
/// email, and nothing protects them from being matched (R4).
fn matchable(world: &World, member: &Member) -> bool {
    let account = world
        .congregation
        .account_index(&world.account.name)
        .expect("the account is the congregation's");
    member.presence == Presence::Both
        && member.pco_accounts.contains(&account)
        && member.email.is_some()
        && member.pco_email_drift.is_none()
        && member.pco_nick_drift.is_none()
        && matches!(member.protection, Protection::Low | Protection::Medium)
}

/// R4, R5, R6: a first sync of a seeded congregation links the people PCO already holds (to
/// their own record) and creates the rest, each created person listed for the welcome email
/// and carrying its Rock id; the links are in the state file. R30: the dry run before it
/// announces as many links and creates, and writes nothing.
#[tokio::test]
async fn r4_r5_r6_first_sync_links_existing_people_and_creates_the_rest_listed_for_the_welcome() {
    let world = World::start(300, 11).await;
    let before = world.pco.people_count(&world.account.name).unwrap();
    let dry = world.dry_run().await;
    assert_eq!(world.pco_writes(), Vec::<String>::new(), "R30: PCO writes");
    assert_eq!(
        world.rock_writes(),
        Vec::<String>::new(),
        "R30: Rock writes"
    );
    assert!(world.links().is_empty(), "R30: a dry run links nobody");

    let report = world.sync().await;
    assert_eq!(report.counts.failed, 0, "{:?}", report.people);
    let (linked, created) = (linked(&report), created(&report));
    let c = (&dry.counts, &report.counts);
    assert_eq!((c.0.linked, c.0.created), (c.1.linked, c.1.created), "R30");
    assert!(
        linked.len() > 50 && created.len() > 10,
        "{:?}",
        report.counts
    );
    assert_eq!(report.counts.linked as usize, linked.len());
    assert_eq!(report.counts.created as usize, created.len());

    // R4: linked to the record PCO holds for the same person, never to someone else's, and
    // never by a match when a High or Extreme protection profile forbids it...
    for (rock_id, pco_id) in &linked {
        let member = world.member(*rock_id);
        assert_eq!(
            world.pco.pco_id(&world.account.name, member.key).as_ref(),
            Some(pco_id),
            "Rock {rock_id} linked to another person's PCO record"
        );
        assert!(
            matches!(member.protection, Protection::Low | Protection::Medium),
            "Rock {rock_id} is protected"
        );
    }
    // ...and nobody PCO already holds is created again.
    for rock_id in created.keys() {
        assert!(
            !matchable(&world, world.member(*rock_id)),
            "Rock {rock_id} was created although PCO holds them"
        );
    }
    assert_eq!(
        world.pco.people_count(&world.account.name).unwrap(),
        before + created.len()
    );

    // R4: every created person, and no linked one, is listed for the welcome email, which an
    // administrator sends from Services: PCO's API sends none (issue 14.1).
    assert_eq!(
        welcome_needed(&report),
        created.keys().copied().collect::<BTreeSet<_>>()
    );
    assert_eq!(world.welcome_emails_sent(), 0);

    // R6: a created person carries the Rock id, so a retry finds them.
    for (rock_id, pco_id) in &created {
        let person = world.pco_person(pco_id);
        assert_eq!(
            person["person"]["attributes"]["remote_id"].to_string(),
            rock_id.to_string(),
            "{person}"
        );
    }

    // R5: every link is in the state file, which a new process reads back.
    let mut expected = linked.clone();
    expected.extend(created.clone());
    assert_eq!(world.links(), expected);
}

/// R10, R11: once linked, a field changed in Rock reaches PCO and one changed in PCO reaches
/// Rock; a permission changed in PCO is never copied to Rock.
#[tokio::test]
async fn r10_r11_a_change_on_each_side_reaches_the_other() {
    let world = World::start(120, 12).await;
    world.sync().await;
    let people = ordinary_links(&world);
    let [(rock_a, pco_a), (rock_b, pco_b), (_, pco_c), ..] = people.as_slice() else {
        panic!("three linked people are needed");
    };
    world
        .edit_rock_person(*rock_a, json!({"NickName": "Sunny"}))
        .await;
    let people_path = |id: &str| format!("/people/v2/people/{id}");
    world
        .edit_pco(&people_path(pco_b), json!({"middle_name": "Grace"}))
        .await;
    world
        .edit_pco(
            &format!("/services/v2/people/{pco_c}"),
            json!({"permissions": "Administrator"}),
        )
        .await;
    world.clear_request_logs();

    let report = world.sync().await;
    assert_eq!(report.counts.failed, 0, "{:?}", report.people);
    assert_eq!(report.counts.updated_to_pco, 1, "{:?}", report.people);
    assert_eq!(report.counts.updated_to_rock, 1, "{:?}", report.people);
    // R10: Rock's nick name is PCO's first name (the account's default).
    assert_eq!(
        world.pco_person(pco_a)["person"]["attributes"]["first_name"],
        "Sunny"
    );
    assert!(actions_of(&report, *rock_a).iter().any(|a| matches!(
        a,
        Action::Updated(c) if c.field == "nick-name" && c.direction == Direction::RockToPco
    )));
    assert_eq!(world.rock_person(*rock_b)["MiddleName"], "Grace");
    assert!(actions_of(&report, *rock_b).iter().any(|a| matches!(
        a,
        Action::Updated(c) if c.field == "middle-name" && c.direction == Direction::PcoToRock
    )));
    // R11: the only Rock writes are B's middle name; C's new PCO permission went nowhere.
    let writes = world.rock_writes();
    assert!(!writes.is_empty());
    let b_path = format!("/api/People/{rock_b}");
    assert!(
        writes.iter().all(|w| w.contains(&b_path)),
        "Rock writes beyond B's change: {writes:?}"
    );
    assert_eq!(
        world.pco_permission(pco_c).as_deref(),
        Some("Administrator")
    );
}

/// R12: the same field changed on both sides keeps Rock's value on both sides, and the run
/// reports the conflict.
#[tokio::test]
async fn r12_a_conflict_keeps_rocks_value_and_is_reported() {
    let world = World::start(120, 13).await;
    world.sync().await;
    let (rock_id, pco_id) = ordinary_links(&world).into_iter().next().expect("a link");
    world
        .edit_rock_person(rock_id, json!({"MiddleName": "Rockwell"}))
        .await;
    world
        .edit_pco(
            &format!("/people/v2/people/{pco_id}"),
            json!({"middle_name": "Pcoston"}),
        )
        .await;

    let report = world.sync().await;
    assert_eq!(report.counts.conflicts, 1, "{:?}", report.people);
    let conflict = actions_of(&report, rock_id)
        .into_iter()
        .find_map(|a| match a {
            Action::Conflict(change) => Some(change),
            _ => None,
        })
        .expect("the conflict is reported for that person");
    assert_eq!(conflict.field, "middle-name");
    assert_eq!(conflict.after.as_deref(), Some("Rockwell"));
    assert_eq!(
        world.pco_person(&pco_id)["person"]["attributes"]["middle_name"],
        "Rockwell"
    );
    assert_eq!(world.rock_person(rock_id)["MiddleName"], "Rockwell");
}

/// R27: a run after a first sync, with nothing changed on either side, makes no write request
/// to PCO and none to Rock (values each side rewrites on save do not bounce back and forth).
#[tokio::test]
async fn r27_a_second_sync_with_no_changes_writes_nothing() {
    let world = World::start(150, 14).await;
    let first = world.sync().await;
    assert!(first.counts.created > 0 && first.counts.linked > 0);
    assert!(
        !world.pco_writes().is_empty(),
        "the first sync wrote to PCO, so the logs can show writes"
    );
    world.clear_request_logs();

    let second = world.sync().await;
    assert_eq!(world.pco_writes(), Vec::<String>::new(), "writes to PCO");
    assert_eq!(world.rock_writes(), Vec::<String>::new(), "writes to Rock");
    assert!(
        !world.pco.requests().is_empty() && !world.rock.requests().is_empty(),
        "the run did read both sides"
    );
    let c = &second.counts;
    assert_eq!(
        (c.created, c.updated_to_pco, c.updated_to_rock, c.failed),
        (0, 0, 0, 0)
    );
}

/// The conflict a report holds for one Rock person's field, if any.
fn conflict_of(
    report: &pcosync::bindings::engine::Report,
    rock_id: i64,
    field: &str,
) -> Option<pcosync::bindings::engine::FieldChange> {
    actions_of(report, rock_id)
        .into_iter()
        .find_map(|a| match a {
            Action::Conflict(change) if change.field == field => Some(change),
            _ => None,
        })
}

/// R26, R12, R27: with newest-wins, the sync's own Rock writes (a phone here; addresses and
/// tags stamp the person the same way: PhoneNumber.SaveHook.cs, GroupLocation.SaveHook.cs,
/// AttributeValue.SaveHook.cs) do not make Rock the newer side: a staff edit in Rock, then a
/// later PCO edit, then the sync's phone write landing after both still lets PCO's later edit
/// win. A staff edit in Rock made after the PCO edit does win; a run after that writes nothing.
#[tokio::test]
async fn r26_r12_r27_newest_wins_does_not_count_the_syncs_own_rock_writes() {
    use std::time::Duration;
    let world = World::start(120, 16).await;
    let mut account = world.account.clone();
    account.conflict_policy = ConflictPolicy::NewestWins;
    world.sync_as(&account).await;
    let (rock_id, pco_id) = ordinary_links(&world).into_iter().next().expect("a link");
    let people_path = format!("/people/v2/people/{pco_id}");
    // The PCO sandbox stamps each write a second after the last, so after a first sync its
    // clock runs ahead of the wall clock: Rock's is set to the same instant, as two real
    // systems' clocks would agree.
    let align = || world.rock.catch_up_with(&world.pco.now());

    // A PCO phone change the next run copies to Rock; its Rock write is held 4 s, during which
    // staff edit the middle name in Rock and, a second later, someone edits it in PCO.
    world.set_pco_phone(&pco_id, "Mobile", "402-555-0199").await;
    world.rock.set_faults(rock_sandbox::FaultConfig {
        path_contains: Some("/api/PhoneNumbers".into()),
        script: vec![rock_sandbox::FaultKind::Slow],
        slow_ms: 4000,
        ..Default::default()
    });
    let edits = async {
        while !world.rock.faults().script.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        align();
        world
            .edit_rock_person(rock_id, json!({"MiddleName": "Staffwrote"}))
            .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        world
            .edit_pco(&people_path, json!({"middle_name": "Pcowrote"}))
            .await;
    };
    let (report, ()) = tokio::join!(world.sync_as(&account), edits);
    world.rock.clear_faults();
    assert_eq!(report.counts.failed, 0, "{:?}", report.people);
    assert!(
        actions_of(&report, rock_id).iter().any(|a| matches!(
            a,
            Action::Updated(c) if c.field == "mobile-phone" && c.direction == Direction::PcoToRock
        )),
        "{:?}",
        report.people
    );

    // Rock's row was last stamped by the sync's phone write, after both edits: not a staff
    // change, so PCO's edit, the later of the two, wins.
    let report = world.sync_as(&account).await;
    let conflict = conflict_of(&report, rock_id, "middle-name").expect("the conflict is reported");
    assert_eq!(conflict.after.as_deref(), Some("Pcowrote"));
    assert_eq!(world.rock_person(rock_id)["MiddleName"], "Pcowrote");

    // PCO edits, then staff edit Rock later: Rock's staff edit is newer and wins.
    align();
    world
        .edit_pco(&people_path, json!({"middle_name": "Pcoagain"}))
        .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    world
        .edit_rock_person(rock_id, json!({"MiddleName": "Staffagain"}))
        .await;
    let report = world.sync_as(&account).await;
    let conflict = conflict_of(&report, rock_id, "middle-name").expect("the conflict is reported");
    assert_eq!(conflict.after.as_deref(), Some("Staffagain"));
    assert_eq!(
        world.pco_person(&pco_id)["person"]["attributes"]["middle_name"],
        "Staffagain"
    );

    // R27: nothing changed since: nothing is written either way.
    world.clear_request_logs();
    world.sync_as(&account).await;
    assert_eq!(world.pco_writes(), Vec::<String>::new(), "writes to PCO");
    assert_eq!(world.rock_writes(), Vec::<String>::new(), "writes to Rock");
}

/// A linked person synced only through one group with a level, and the group's index.
fn synced_by_one_level_group(world: &World, links: &BTreeMap<i64, String>) -> (i64, usize) {
    world
        .congregation
        .rock_people()
        .filter(|m| links.contains_key(&world.rock_id(m)))
        .filter(|m| m.pco_tags_in(&world.account.name).next().is_none())
        .find_map(|m| match world.synced_groups(m).as_slice() {
            [group] if world.group_level(*group).is_some() => Some((world.rock_id(m), *group)),
            _ => None,
        })
        .expect("someone synced through one level group alone")
}

/// Tags of the account the person has in Rock's "PCO Tags" that no group controls (R14): a
/// reason to be synced (R2 a) that leaving groups does not take away.
fn unmapped_tags(world: &World, member: &Member) -> usize {
    let account = &world.account.name;
    let mapped: BTreeSet<&str> = world
        .congregation
        .groups
        .iter()
        .filter(|g| g.pco_account.as_deref() == Some(account))
        .filter_map(|g| g.tag.as_deref())
        .collect();
    member
        .pco_tags_in(account)
        .filter(|(group, tag)| !mapped.contains(format!("{group}:{tag}").as_str()))
        .count()
}

/// A linked person whose highest level comes from one group alone and who stays synced without
/// it, that group, and the level they have without it (R16: Scheduled Viewer when only tags or
/// level-less groups remain).
fn lowered_by_leaving_a_group(
    world: &World,
    links: &BTreeMap<i64, String>,
    exclude: i64,
) -> (i64, usize, Level) {
    world
        .congregation
        .rock_people()
        .filter(|m| links.contains_key(&world.rock_id(m)) && world.rock_id(m) != exclude)
        .find_map(|m| {
            let groups = world.synced_groups(m);
            let top = groups
                .iter()
                .copied()
                .max_by_key(|&g| world.group_level(g))?;
            let top_level = world.group_level(top)?;
            let rest: Vec<usize> = groups.into_iter().filter(|&g| g != top).collect();
            let still_synced = !rest.is_empty() || unmapped_tags(world, m) > 0;
            let remaining = rest.iter().filter_map(|&g| world.group_level(g)).max();
            let without = remaining.unwrap_or(Level::ScheduledViewer);
            (still_synced && without < top_level).then(|| (world.rock_id(m), top, without))
        })
        .expect("someone whose level drops when leaving a group")
}

/// R17, R18: a person removed from their synced Rock group keeps their PCO level and stays in
/// Services while the account does not allow downgrades; once it does, the level is set
/// exactly (lowered), and someone synced by nothing any more is archived, never deleted.
#[tokio::test]
async fn r17_r18_downgrade_off_keeps_levels_on_lowers_and_archives() {
    let world = World::start(200, 3).await;
    world.sync().await;
    let links: BTreeMap<i64, String> = ordinary_links(&world).into_iter().collect();
    let (leaver, leaver_group) = synced_by_one_level_group(&world, &links);
    let (lowered, top_group, expected) = lowered_by_leaving_a_group(&world, &links, leaver);
    let permission = |rock_id: i64| world.pco_permission(&links[&rock_id]);
    let (leaver_before, lowered_before) = (permission(leaver), permission(lowered));
    assert!(leaver_before.is_some() && lowered_before.is_some());
    world.remove_from_group(leaver, leaver_group).await;
    world.remove_from_group(lowered, top_group).await;

    // Downgrade off (the default): both are left as they are.
    assert!(!world.account.allow_downgrade);
    let off = world.sync().await;
    assert_eq!(permission(leaver), leaver_before, "R18: not archived");
    assert_eq!(permission(lowered), lowered_before, "R17: not lowered");
    for rock_id in [leaver, lowered] {
        let actions = actions_of(&off, rock_id);
        assert!(
            !actions
                .iter()
                .any(|a| matches!(a, Action::Lowered(_) | Action::Archived)),
            "{rock_id}: {actions:?}"
        );
    }

    // Downgrade on (the brake, R24, stays at its default and lets these few changes through).
    let mut account = world.account.clone();
    account.allow_downgrade = true;
    let on = world.sync_as(&account).await;
    assert_eq!(permission(leaver).as_deref(), Some("Archived"), "R18");
    assert!(actions_of(&on, leaver).contains(&Action::Archived));
    assert!(
        world.pco_person(&links[&leaver])["person"].is_object(),
        "R18: archived, still in PCO People"
    );
    assert_eq!(
        permission(lowered).as_deref(),
        Some(expected.pco_name()),
        "R17"
    );
    assert!(
        actions_of(&on, lowered)
            .iter()
            .any(|a| matches!(a, Action::Lowered(_)))
    );
}

/// The links of `account` (Rock id -> PCO id), from the state file.
fn links_of(world: &World, account: &str) -> BTreeMap<i64, String> {
    use pcosync::state::StateStore;
    let state = pcosync::connect::open_state(&world.data_dir()).expect("the state opens");
    state
        .scan(account, "person/", None, 10_000)
        .expect("the state scans")
        .into_iter()
        .map(|entry| {
            let record: serde_json::Value = serde_json::from_slice(&entry.value).unwrap();
            (
                entry.key["person/".len()..].parse().unwrap(),
                record["pco"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// R3, R10: two accounts synced from one Rock keep their own people, links and settings: a
/// Rock change reaches the account that syncs that field and not the one that switched it off,
/// and each account's PCO people are its own.
#[tokio::test]
async fn r3_two_accounts_keep_their_own_people_links_and_settings() {
    let world = World::start(160, 37).await;
    assert_eq!(world.config.accounts.len(), 2, "precondition: two accounts");
    let main = world.config.accounts[0].to_guest();
    let mut north = world.config.accounts[1].to_guest();
    north.disabled_fields = vec!["middle-name".into()];
    world.sync_as(&main).await;
    world.sync_as(&north).await;
    let (main_links, north_links) = (links_of(&world, &main.name), links_of(&world, &north.name));
    assert!(!main_links.is_empty() && !north_links.is_empty());
    for (account, links) in [(&main.name, &main_links), (&north.name, &north_links)] {
        for pco in links.values() {
            assert!(
                world.pco.person_state(account, pco).is_some(),
                "{account}'s link to PCO {pco} is not a person of {account}"
            );
        }
    }
    assert_ne!(main_links, north_links, "each account syncs its own people");
    let pick = |links: &BTreeMap<i64, String>, account: &str| {
        links
            .iter()
            .find(|(_, pco)| {
                world
                    .pco
                    .person_state(account, pco)
                    .is_some_and(|p| p["services"]["attributes"]["site_administrator"] != true)
            })
            .map(|(r, p)| (*r, p.clone()))
            .expect("an ordinary linked person")
    };
    let (main_rock, main_pco) = pick(&main_links, &main.name);
    let (north_rock, north_pco) = pick(&north_links, &north.name);
    for rock_id in [main_rock, north_rock] {
        world
            .edit_rock_person(rock_id, json!({"MiddleName": "Threeway"}))
            .await;
    }
    world.sync_as(&main).await;
    world.sync_as(&north).await;
    let middle = |account: &str, pco: &str| {
        world.pco.person_state(account, pco).unwrap()["person"]["attributes"]["middle_name"].clone()
    };
    assert_eq!(middle(&main.name, &main_pco), "Threeway");
    assert_ne!(
        middle(&north.name, &north_pco),
        "Threeway",
        "North switched the middle name off"
    );
}
