//! Issue 24's sync-rule bugs found with unkind data, each proved through the compiled guest:
//! the safety brake's share (R24), whose `remote_id` is trusted (R4, R6) and Unicode forms
//! (R27).

use pcosync::bindings::engine::Report;
use pcosync::bindings::types::PermissionLevel;
use pcosync_harness::Harness;

async fn synced_world() -> Harness {
    let harness = Harness::new(80, 5).await;
    let first = harness.sync(false).await.expect("the first sync runs");
    assert!(
        !first.held,
        "a first sync is reviewed by its dry run, not held"
    );
    harness
}

/// Rock people the account syncs, as the last run counted them.
fn synced_count(report: &Report) -> u32 {
    report.counts.synced
}

/// Asserts the run was held whole: nothing written to PCO or Rock, no email sent.
fn assert_held(harness: &Harness, report: &Report, emails_before: usize, rock_before: usize) {
    assert!(report.held, "R24: the run is held ({:?})", report.counts);
    assert_eq!(harness.pco_writes(), 0, "a held run writes nothing to PCO");
    assert_eq!(harness.sandbox.outbox().len(), emails_before, "nor emails");
    let writes = ["update_people", "create_people", "set_tags", "add_members"];
    let rock_writes: Vec<String> = harness.world.rock.calls()[rock_before..]
        .iter()
        .filter(|c| writes.contains(&c.as_str()))
        .cloned()
        .collect();
    assert!(rock_writes.is_empty(), "nor to Rock: {rock_writes:?}");
}

// R24: a synced group given Administrator by mistake raises its members (PCO emails each
// one): the brake weighs raises, and a real run is held until an administrator confirms it.
#[tokio::test]
async fn r24_the_brake_holds_a_mass_raise() {
    let harness = synced_world().await;
    let account = harness.account();
    let (group, members) = {
        let data = harness.world.rock.data.lock().unwrap();
        data.groups
            .iter()
            .filter(|g| g.pco_account.as_deref() == Some(account.name.as_str()))
            .filter(|g| g.level.is_some_and(|l| l != PermissionLevel::Administrator))
            .map(|g| {
                let members = data.members.iter().filter(|m| m.group_id == g.id).count();
                (g.id, members)
            })
            .max_by_key(|(_, members)| *members)
            .expect("precondition: a level group")
    };
    {
        let mut data = harness.world.rock.data.lock().unwrap();
        let group = data.groups.iter_mut().find(|g| g.id == group).unwrap();
        group.level = Some(PermissionLevel::Administrator);
    }
    let dry = harness.sync(true).await.unwrap();
    assert!(
        dry.counts.raised >= 5 && dry.counts.raised * 100 > synced_count(&dry) * 10,
        "precondition: the mistake raises more than 10% ({} of {}, group of {members})",
        dry.counts.raised,
        dry.counts.synced
    );
    harness.sandbox.clear_requests();
    let (emails, rock_calls) = (
        harness.sandbox.outbox().len(),
        harness.world.rock.calls().len(),
    );
    let held = harness.sync(false).await.unwrap();
    assert_held(&harness, &held, emails, rock_calls);
    assert_eq!(harness.emails("PermissionRaised"), 0);
    // Confirmed, it applies.
    let mut options = pcosync_harness::options(false);
    options.confirm = Some(held.run_id.clone());
    let applied = harness
        .runtime
        .sync(&harness.guest, &harness.capabilities(), &account, &options)
        .await
        .unwrap();
    assert!(!applied.held);
    assert_eq!(applied.counts.raised, dry.counts.raised);
}

// R24: 300 volunteers archived by hand in PCO at the end of a season are given their level
// again by the next run: un-archives are weighed, and the run is held.
#[tokio::test]
async fn r24_the_brake_holds_mass_unarchives() {
    let harness = synced_world().await;
    let links = harness.links();
    let mut archived = 0;
    for pco_id in links.values() {
        let state = harness.pco_state(pco_id);
        if state["services"]["attributes"]["site_administrator"] == true
            || harness.pco_permission(pco_id).is_none()
        {
            continue;
        }
        harness
            .edit_pco(
                &format!("/services/v2/people/{pco_id}"),
                serde_json::json!({"permissions": "Archived"}),
            )
            .await;
        archived += 1;
    }
    assert!(archived >= 5, "precondition: people to archive");
    harness.sandbox.clear_requests();
    let (emails, rock_calls) = (
        harness.sandbox.outbox().len(),
        harness.world.rock.calls().len(),
    );
    let held = harness.sync(false).await.unwrap();
    assert_held(&harness, &held, emails, rock_calls);
    assert!(
        links
            .values()
            .filter(|p| harness.pco_permission(p).as_deref() == Some("Archived"))
            .count()
            >= archived
    );
}

// R24: a large group newly synced creates people PCO never had (each gets the welcome email
// to send): creates of people never linked are weighed, and the run is held.
#[tokio::test]
async fn r24_the_brake_holds_a_group_newly_synced() {
    let harness = synced_world().await;
    let unsynced = harness.unsynced_rock_people();
    let group = harness.account_group_ids()[0];
    let synced = harness.sync(true).await.unwrap().counts.synced;
    let joining: Vec<i64> = unsynced
        .into_iter()
        .take((synced as usize / 5).max(6))
        .collect();
    assert!(joining.len() >= 6, "precondition: Rock people to add");
    for id in &joining {
        harness.join_group(group, *id);
    }
    harness.sandbox.clear_requests();
    let (emails, rock_calls) = (
        harness.sandbox.outbox().len(),
        harness.world.rock.calls().len(),
    );
    let held = harness.sync(false).await.unwrap();
    assert_held(&harness, &held, emails, rock_calls);
    for id in &joining {
        assert!(!harness.links().contains_key(id), "Rock {id}: not created");
    }
}

// R24: the brake's share still lets an ordinary run through: one person raised is not held.
#[tokio::test]
async fn r24_one_raise_is_not_held() {
    let harness = synced_world().await;
    let (_, pco_id) = harness
        .links()
        .into_iter()
        .find(|(_, p)| {
            harness.pco_permission(p).as_deref() == Some("Viewer")
                && harness.pco_state(p)["services"]["attributes"]["site_administrator"] != true
        })
        .expect("precondition: a Viewer");
    harness
        .edit_pco(
            &format!("/services/v2/people/{pco_id}"),
            serde_json::json!({"permissions": "Archived"}),
        )
        .await;
    let report = harness.sync(false).await.unwrap();
    assert!(!report.held);
    assert_eq!(harness.pco_permission(&pco_id).as_deref(), Some("Viewer"));
}

/// The congregation's PCO people carrying an unrelated Rock person's id (another system's id
/// kept in `remote_id`) in the harness's account: (their PCO id, that Rock id).
fn foreign_remote_ids(harness: &Harness) -> Vec<(String, i64)> {
    let account = harness.account().name;
    harness
        .congregation
        .foreign_remote_ids()
        .into_iter()
        .filter_map(|(carrier, target)| {
            let pco = harness.sandbox.pco_id(&account, carrier)?;
            let rock = pcosync::demo::rock_id(&harness.congregation.people[target as usize]);
            Some((pco, rock))
        })
        .collect()
}

// R4, R6: a `remote_id` another system left in PCO is not a Rock id this product stamped:
// the sync links nobody by it (no one overwritten with someone else's identity, protection
// not bypassed); the Rock person is matched on name and email, or created.
#[tokio::test]
async fn r4_a_foreign_remote_id_never_links_an_unrelated_person() {
    let harness = Harness::new(80, 5).await;
    let foreign = foreign_remote_ids(&harness);
    assert!(foreign.len() >= 2, "precondition: foreign remote_ids");
    let first = harness.sync(false).await.unwrap();
    let links = harness.links();
    let synced: Vec<&(String, i64)> = foreign
        .iter()
        .filter(|(_, rock)| links.contains_key(rock))
        .collect();
    assert!(
        !synced.is_empty(),
        "precondition: a synced Rock person's id is carried"
    );
    for (pco, rock) in &foreign {
        assert_ne!(
            links.get(rock),
            Some(pco),
            "Rock {rock} linked to PCO {pco} by a foreign remote_id: {:?}",
            first
                .people
                .iter()
                .filter(|p| p.rock_id == Some(*rock))
                .collect::<Vec<_>>()
        );
    }
    let again = harness.sync(false).await.unwrap();
    assert_eq!(
        again.counts.created + again.counts.linked,
        0,
        "{:?}",
        again.counts
    );
}

// R41, R4, R6: the import does not take a foreign `remote_id` for a Rock id either: the PCO
// person is matched on email and name (protection honoured) and never links, nor adds to
// the group of its PCO level, the unrelated Rock person whose id it carries.
#[tokio::test]
async fn r41_the_import_ignores_a_foreign_remote_id() {
    let harness = Harness::new(80, 5).await;
    let foreign = foreign_remote_ids(&harness);
    assert!(foreign.len() >= 2, "precondition: foreign remote_ids");
    let groups: Vec<i64> = pcosync_harness::import_groups(&harness.world)
        .iter()
        .map(|g| g.group_id)
        .collect();
    let memberships = |rock: i64| -> usize {
        let data = harness.world.rock.data.lock().unwrap();
        data.members
            .iter()
            .filter(|m| m.person_id == rock && groups.contains(&m.group_id))
            .count()
    };
    let before: Vec<usize> = foreign.iter().map(|(_, rock)| memberships(*rock)).collect();
    harness.import(false).await.unwrap();
    let links = harness.links();
    for ((pco, rock), before) in foreign.iter().zip(before) {
        assert_ne!(
            links.get(rock),
            Some(pco),
            "Rock {rock} linked to PCO {pco}"
        );
        if !links.values().any(|p| p == pco) || !links.contains_key(rock) {
            assert_eq!(
                memberships(*rock),
                before,
                "Rock {rock} added to a level group"
            );
        }
    }
}

fn nfc(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfc().collect()
}

// R27: a value that differs only in Unicode form ("Jörg" composed in Rock, decomposed in PCO)
// is the same value: no run writes it, first link included, and what is written is NFC.
#[tokio::test]
async fn r27_unicode_forms_are_one_value() {
    use unicode_normalization::UnicodeNormalization;
    let harness = Harness::new(80, 5).await;
    // Rock's side typed decomposed for everyone with a letter that decomposes.
    let retyped: Vec<i64> = {
        let mut data = harness.world.rock.data.lock().unwrap();
        data.people
            .values_mut()
            .filter(|p| p.last_name.nfd().collect::<String>() != p.last_name)
            .map(|p| {
                p.last_name = p.last_name.nfd().collect();
                p.first_name = p.first_name.nfd().collect();
                p.nick_name = p.nick_name.nfd().collect();
                p.id
            })
            .collect()
    };
    assert!(!retyped.is_empty(), "precondition: accented names");
    let dry = harness.sync(true).await.unwrap();
    let same_form: Vec<String> = dry
        .people
        .iter()
        .flat_map(|p| &p.actions)
        .filter_map(|a| match a {
            pcosync::bindings::engine::Action::Updated(change) => Some(change),
            _ => None,
        })
        .filter(|c| match (&c.before, &c.after) {
            (Some(before), Some(after)) => nfc(before) == nfc(after),
            _ => false,
        })
        .map(|c| format!("{}: {:?} -> {:?}", c.field, c.before, c.after))
        .collect();
    assert!(same_form.is_empty(), "written as changes: {same_form:?}");
    harness.sync(false).await.unwrap();
    // What the sync wrote to PCO is NFC.
    for (rock_id, pco_id) in harness.links() {
        if !retyped.contains(&rock_id) {
            continue;
        }
        let last = harness.pco_state(&pco_id)["person"]["attributes"]["last_name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let created = !harness
            .congregation
            .people
            .iter()
            .any(|m| pcosync::demo::rock_id(m) == rock_id && m.in_pco());
        if created {
            assert_eq!(last, nfc(&last), "Rock {rock_id}: PCO was given {last:?}");
        }
    }
    // Retyped in the other form on both sides: nothing is written back and forth.
    {
        let mut data = harness.world.rock.data.lock().unwrap();
        for id in &retyped {
            let p = data.people.get_mut(id).unwrap();
            p.last_name = p.last_name.nfc().collect();
        }
    }
    harness.sandbox.clear_requests();
    let quiet = harness.sync(false).await.unwrap();
    assert_eq!(
        (quiet.counts.updated_to_pco, quiet.counts.updated_to_rock),
        (0, 0),
        "{:?}",
        quiet.people
    );
    assert_eq!(harness.pco_writes(), 0);
}
