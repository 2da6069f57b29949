//! Who is synced (SPEC R2, R14), through the compiled guest.

use pcosync_harness::Harness;

/// A Rock person the account does not sync: in none of its groups, with no tag of its own.
fn unsynced_person(harness: &Harness) -> i64 {
    let data = harness.world.rock.data.lock().unwrap();
    let prefix = format!("{}:", harness.world.account.name);
    *data
        .people
        .iter()
        .find(|(id, person)| {
            !data.members.iter().any(|m| m.person_id == **id)
                && !person.pco_tags.iter().any(|t| t.starts_with(&prefix))
        })
        .expect("someone outside every group")
        .0
}

// R2, R14: a tag a group controls, left in the "PCO Tags" attribute of someone outside that
// group, does not make them synced (the sync would clear it and drop them); a tag of their own
// does.
#[tokio::test]
async fn a_group_controlled_tag_alone_does_not_sync_a_person() {
    let harness = Harness::new(80, 5).await;
    let account = harness.account();
    let mapped = &account
        .tag_groups
        .first()
        .expect("the demo account maps a tag")
        .tag;
    let before = harness.sync(true).await.unwrap().counts.synced;
    let outsider = unsynced_person(&harness);
    let value = format!("{}:{mapped}", account.name);
    harness.edit_rock(outsider, |p| p.pco_tags.push(value));
    let with_mapped = harness.sync(true).await.unwrap();
    assert_eq!(
        with_mapped.counts.synced, before,
        "{:?}",
        with_mapped.people
    );
    assert!(
        !with_mapped
            .people
            .iter()
            .any(|p| p.rock_id == Some(outsider)),
        "the outsider is not planned at all"
    );

    let own = format!("{}:Skills:Own Choice", account.name);
    harness.edit_rock(outsider, |p| p.pco_tags.push(own));
    let with_own = harness.sync(true).await.unwrap();
    assert_eq!(with_own.counts.synced, before + 1);
}

// R2 (c), R36: only groups of a type enabled for the account count. People whose only synced
// groups are of a type switched off are not synced (nobody is created or raised for them);
// switching the type on syncs them.
#[tokio::test]
async fn groups_of_a_type_not_enabled_sync_nobody() {
    let harness = Harness::new(80, 5).await;
    let full = harness.account();
    let prefix = format!("{}:", full.name);
    let (off_type, only_there) = {
        let data = harness.world.rock.data.lock().unwrap();
        let synced_groups = |kind: Option<&str>| -> Vec<i64> {
            data.groups
                .iter()
                .filter(|g| g.is_active && g.pco_account.as_deref() == Some(full.name.as_str()))
                .filter(|g| kind.is_none_or(|k| g.group_type.name == k))
                .map(|g| g.id)
                .collect()
        };
        let types: std::collections::BTreeSet<String> = data
            .groups
            .iter()
            .filter(|g| g.pco_account.as_deref() == Some(full.name.as_str()))
            .map(|g| g.group_type.name.clone())
            .collect();
        types
            .into_iter()
            .find_map(|kind| {
                let of_kind = synced_groups(Some(&kind));
                let people: Vec<i64> = data
                    .people
                    .values()
                    .filter(|p| !p.pco_tags.iter().any(|t| t.starts_with(&prefix)))
                    .filter(|p| {
                        let groups: Vec<i64> = data
                            .members
                            .iter()
                            .filter(|m| m.person_id == p.id)
                            .map(|m| m.group_id)
                            .filter(|g| synced_groups(None).contains(g))
                            .collect();
                        !groups.is_empty() && groups.iter().all(|g| of_kind.contains(g))
                    })
                    .map(|p| p.id)
                    .collect();
                (!people.is_empty()).then_some((kind, people))
            })
            .expect("precondition: people synced through one group type only")
    };
    let mut narrowed = full.clone();
    narrowed.enabled_group_types.retain(|t| *t != off_type);
    assert_ne!(narrowed.enabled_group_types, full.enabled_group_types);
    let planned = |report: &pcosync::bindings::engine::Report| -> Vec<i64> {
        report.people.iter().filter_map(|p| p.rock_id).collect()
    };
    let off = harness.sync_as(&narrowed, false).await.unwrap();
    for id in &only_there {
        assert!(
            !planned(&off).contains(id),
            "Rock {id} synced through {off_type}"
        );
    }
    assert!(
        harness.links().keys().all(|id| !only_there.contains(id)),
        "linked through a type switched off"
    );
    let on = harness.sync_as(&full, true).await.unwrap();
    for id in &only_there {
        assert!(
            planned(&on).contains(id),
            "Rock {id} not synced with {off_type} on"
        );
    }
}
