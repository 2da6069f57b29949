//! R51, driven through the compiled guest (issue 24, "tests that assert too little"): a PCO
//! person made inactive in PCO People (who cannot log in and is not scheduled) still exists:
//! the first sync links the Rock person to them and creates nobody.

use congregation::Presence;
use pcosync_harness::Harness;

#[tokio::test]
async fn r51_inactive_pco_people_are_linked_never_duplicated() {
    let harness = Harness::new(80, 5).await;
    let account = harness.account().name;
    let account_index = harness
        .congregation
        .account_index(&account)
        .expect("the harness account");
    let synced_groups: Vec<usize> = harness
        .congregation
        .groups
        .iter()
        .enumerate()
        .filter(|(_, g)| g.pco_account.as_deref() == Some(account.as_str()) && g.level.is_some())
        .map(|(index, _)| index)
        .collect();
    // People in both systems whom a first sync links by name and email.
    let candidates: Vec<(u32, String)> = harness
        .congregation
        .people
        .iter()
        .filter(|m| {
            m.presence == Presence::Both
                && m.email.is_some()
                && m.pco_email_drift.is_none()
                && m.pco_nick_drift.is_none()
                && m.pco_last_name_drift.is_none()
                && !m.pco_archived
                && !m.pco_org_admin
                && matches!(m.protection, congregation::Protection::Low)
                && m.pco_accounts.first() == Some(&account_index)
                && m.groups.iter().any(|g| synced_groups.contains(g))
        })
        .filter_map(|m| Some((m.key, harness.sandbox.pco_id(&account, m.key)?)))
        .take(3)
        .collect();
    assert!(
        candidates.len() >= 2,
        "precondition: synced people PCO already holds: {candidates:?}"
    );
    for (_, pco_id) in &candidates {
        harness
            .edit_pco(
                &format!("/people/v2/people/{pco_id}"),
                serde_json::json!({"status": "inactive"}),
            )
            .await;
        assert_eq!(
            harness.pco_state(pco_id)["person"]["attributes"]["status"],
            "inactive",
            "precondition: PCO took the status"
        );
    }
    harness.sync(false).await.expect("the first sync runs");
    let links = harness.links();
    for (key, pco_id) in &candidates {
        let rock_id = pcosync::demo::rock_id(&harness.congregation.people[*key as usize]);
        assert_eq!(
            links.get(&rock_id),
            Some(pco_id),
            "R51: Rock {rock_id} is linked to their inactive PCO record, not to a copy"
        );
    }
}
