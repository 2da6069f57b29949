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
