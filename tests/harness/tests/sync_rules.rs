//! The sync's rules (SPEC R1-R27, R30, R50-R52), proved through the compiled guest: an
//! in-memory Rock, the PCO sandbox over loopback, in-memory state.

use pcosync::bindings::engine::{Action, Report};
use pcosync::bindings::types::PermissionLevel;
use pcosync_harness::Harness;

async fn synced_world() -> (Harness, Report) {
    let harness = Harness::new(80, 5).await;
    let first = harness.sync(false).await.expect("the first sync runs");
    (harness, first)
}

fn actions_of(report: &Report, rock_id: i64) -> Vec<Action> {
    report
        .people
        .iter()
        .filter(|p| p.rock_id == Some(rock_id))
        .flat_map(|p| p.actions.clone())
        .collect()
}

// R1: PCO-only people are never added to Rock by the sync.
#[tokio::test]
async fn pco_only_people_never_reach_rock() {
    let (harness, _) = synced_world().await;
    assert!(harness.congregation.people.iter().any(|m| !m.in_rock()));
    assert!(
        !harness
            .world
            .rock
            .calls()
            .contains(&"create_people".to_string())
    );
    let rock_people = harness.world.rock.data.lock().unwrap().people.len();
    assert_eq!(rock_people, harness.congregation.rock_people().count());
}

// R4: each person created is listed once for the welcome email (PCO's API cannot send it, issue
// 14.1); nobody linked to an existing record is, and the API sends none.
#[tokio::test]
async fn created_people_are_listed_once_for_the_welcome_email() {
    let (harness, first) = synced_world().await;
    assert!(first.counts.created > 0 && first.counts.linked > 0);
    let welcomed = |report: &Report| -> Vec<i64> {
        report
            .people
            .iter()
            .filter(|p| {
                p.actions.iter().any(
                    |a| matches!(a, Action::Flagged(n) if n.starts_with("welcome email to send")),
                )
            })
            .filter_map(|p| p.rock_id)
            .collect()
    };
    let created: Vec<i64> = first
        .people
        .iter()
        .filter(|p| p.actions.iter().any(|a| matches!(a, Action::Created(_))))
        .filter_map(|p| p.rock_id)
        .collect();
    assert_eq!(welcomed(&first), created);
    assert_eq!(harness.emails("Welcome"), 0);
    let second = harness.sync(false).await.unwrap();
    assert_eq!(second.counts.created, 0);
    assert!(welcomed(&second).is_empty());
}

// R4, R6: a created PCO person carries the Rock id; linked ones keep theirs.
#[tokio::test]
async fn created_people_carry_the_rock_id() {
    let (harness, first) = synced_world().await;
    let created: Vec<i64> = first
        .people
        .iter()
        .filter(|p| p.actions.iter().any(|a| matches!(a, Action::Created(_))))
        .filter_map(|p| p.rock_id)
        .collect();
    assert!(!created.is_empty());
    let links = harness.links();
    for rock_id in created {
        let state = harness.pco_state(&links[&rock_id]);
        assert_eq!(
            state["person"]["attributes"]["remote_id"], rock_id,
            "{state}"
        );
    }
}

// R4: High and Extreme protection are never matched automatically: with a candidate in PCO
// they are skipped for an administrator; with none (issue 15 item 17) they are created.
#[tokio::test]
async fn protected_people_are_skipped_for_an_administrator() {
    let harness = Harness::new(80, 5).await;
    let name = harness.world.account.name.clone();
    let account = harness.congregation.account_index(&name).unwrap();
    // A synced person only in Rock, made protected: PCO holds no candidate for them.
    let only_in_rock = harness
        .congregation
        .rock_people()
        .filter(|m| !m.in_pco())
        .map(pcosync::demo::rock_id)
        .find(|id| {
            let data = harness.world.rock.data.lock().unwrap();
            data.members.iter().any(|m| m.person_id == *id)
        })
        .expect("precondition: a synced person only in Rock");
    harness.edit_rock(only_in_rock, |p| {
        p.protection = pcosync::bindings::rock::Protection::Extreme
    });
    let protected: Vec<&congregation::Member> = harness
        .congregation
        .rock_people()
        .filter(|m| {
            pcosync::demo::rock_id(m) == only_in_rock
                || matches!(
                    m.protection,
                    congregation::Protection::High | congregation::Protection::Extreme
                )
        })
        .collect();
    let report = harness.sync(false).await.unwrap();
    let links = harness.links();
    let synced: std::collections::BTreeSet<i64> =
        report.people.iter().filter_map(|p| p.rock_id).collect();
    let (mut skipped, mut created) = (0, 0);
    for member in protected {
        let id = pcosync::demo::rock_id(member);
        let candidate = member.in_pco()
            && member.pco_accounts.contains(&account)
            && member.email.is_some()
            && member.pco_email_drift.is_none()
            && member.pco_nick_drift.is_none();
        if candidate {
            assert!(!links.contains_key(&id), "protected person {id} was linked");
            if synced.contains(&id) {
                skipped += 1;
            }
        } else if !member.in_pco() && synced.contains(&id) {
            assert!(
                actions_of(&report, id)
                    .iter()
                    .any(|a| matches!(a, Action::Created(_))),
                "protected person {id} without a PCO candidate: {:?}",
                actions_of(&report, id)
            );
            created += 1;
        }
    }
    assert!(
        skipped > 0,
        "precondition: a protected person with a PCO candidate"
    );
    assert!(created > 0, "precondition: a protected person only in Rock");
    // Besides protected people, only people PCO may already hold (same name and birth date,
    // no email to match: issue 24 item 20) are skipped.
    assert!(report.people.iter().all(|p| {
        !p.actions.iter().any(|a| {
            matches!(a, Action::Skipped(why)
                if !why.contains("protection") && !why.contains("the same birth date"))
        })
    }));
}

// R10, R12: a change on each side reaches the other; R27: then nothing is written.
#[tokio::test]
async fn a_change_on_each_side_reaches_the_other_and_then_all_is_quiet() {
    let (harness, _) = synced_world().await;
    let links = harness.links();
    let mut linked = links.iter();
    let (rock_a, pco_a) = linked.next().unwrap();
    let (rock_b, pco_b) = linked.next().unwrap();
    harness.edit_rock(*rock_a, |p| p.mobile_phone = Some("615-555-0142".into()));
    harness
        .edit_pco(
            &format!("/people/v2/people/{pco_b}"),
            serde_json::json!({"middle_name": "Grace"}),
        )
        .await;

    let second = harness.sync(false).await.unwrap();
    assert_eq!(second.counts.updated_to_pco, 1, "{:?}", second.people);
    assert_eq!(second.counts.updated_to_rock, 1, "{:?}", second.people);
    let pco_phones: Vec<String> = harness.pco_state(pco_a)["included"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "PhoneNumber")
        .filter_map(|r| r["attributes"]["number"].as_str().map(str::to_string))
        .collect();
    assert!(
        pco_phones.iter().any(|n| n
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
            .ends_with("6155550142")),
        "{pco_phones:?}"
    );
    let middle = harness.world.rock.data.lock().unwrap().people[rock_b]
        .middle_name
        .clone();
    assert_eq!(middle, "Grace");

    harness.sandbox.clear_requests();
    let third = harness.sync(false).await.unwrap();
    assert_eq!(
        harness.pco_writes(),
        0,
        "R27: a quiet run writes nothing to PCO"
    );
    assert_eq!(
        third.counts.updated_to_pco + third.counts.updated_to_rock,
        0
    );
    let calls = harness.world.rock.calls();
    let third_run = &calls[calls.iter().rposition(|c| c == "account_groups").unwrap()..];
    assert!(
        !third_run.contains(&"update_people".to_string()),
        "{third_run:?}"
    );
}

// R12: both sides changed the same field: Rock's value wins and the conflict is reported.
#[tokio::test]
async fn a_conflict_keeps_rocks_value_and_is_reported() {
    let (harness, _) = synced_world().await;
    let (rock_id, pco_id) = harness.links().into_iter().next().unwrap();
    harness.edit_rock(rock_id, |p| p.middle_name = "Rock".into());
    harness
        .edit_pco(
            &format!("/people/v2/people/{pco_id}"),
            serde_json::json!({"middle_name": "Pco"}),
        )
        .await;
    let report = harness.sync(false).await.unwrap();
    assert_eq!(report.counts.conflicts, 1);
    let pco_middle = harness.pco_state(&pco_id)["person"]["attributes"]["middle_name"].clone();
    assert_eq!(pco_middle, "Rock");
    assert_eq!(
        harness.world.rock.data.lock().unwrap().people[&rock_id].middle_name,
        "Rock"
    );
    assert!(
        actions_of(&report, rock_id)
            .iter()
            .any(|a| matches!(a, Action::Conflict(c) if c.field == "middle-name"))
    );
}

// R26: newest-wins lets the side changed last win.
#[tokio::test]
async fn newest_wins_keeps_the_latest_change() {
    let (harness, _) = synced_world().await;
    let (rock_id, pco_id) = harness.links().into_iter().next().unwrap();
    harness.edit_rock(rock_id, |p| {
        p.middle_name = "Older".into();
        p.modified = Some("2000-01-01T00:00:00".into());
    });
    harness
        .edit_pco(
            &format!("/people/v2/people/{pco_id}"),
            serde_json::json!({"middle_name": "Newer"}),
        )
        .await;
    let mut account = harness.account();
    account.conflict_policy = pcosync::bindings::engine::ConflictPolicy::NewestWins;
    let report = harness.sync_as(&account, false).await.unwrap();
    assert_eq!(report.counts.conflicts, 1);
    assert_eq!(
        harness.world.rock.data.lock().unwrap().people[&rock_id].middle_name,
        "Newer"
    );
}

// R26: newest-wins in the other direction: Rock changed after PCO, so Rock's value goes to
// PCO, and the conflict is reported.
#[tokio::test]
async fn newest_wins_keeps_rocks_change_when_it_is_the_latest() {
    let (harness, _) = synced_world().await;
    let (rock_id, pco_id) = harness.links().into_iter().next().unwrap();
    harness
        .edit_pco(
            &format!("/people/v2/people/{pco_id}"),
            serde_json::json!({"middle_name": "Older"}),
        )
        .await;
    harness.edit_rock(rock_id, |p| {
        p.middle_name = "Newer".into();
        p.modified = Some("2099-01-01T00:00:00".into());
    });
    let mut account = harness.account();
    account.conflict_policy = pcosync::bindings::engine::ConflictPolicy::NewestWins;
    let report = harness.sync_as(&account, false).await.unwrap();
    assert_eq!(report.counts.conflicts, 1, "{:?}", report.people);
    assert_eq!(
        harness.pco_state(&pco_id)["person"]["attributes"]["middle_name"],
        "Newer"
    );
    assert_eq!(
        harness.world.rock.data.lock().unwrap().people[&rock_id].middle_name,
        "Newer"
    );
}

// R10: a field switched off is never written either way.
#[tokio::test]
async fn a_disabled_field_is_left_alone() {
    let (harness, _) = synced_world().await;
    let (rock_id, pco_id) = harness.links().into_iter().next().unwrap();
    harness
        .edit_pco(
            &format!("/people/v2/people/{pco_id}"),
            serde_json::json!({"middle_name": "Switched"}),
        )
        .await;
    let mut account = harness.account();
    account.disabled_fields = vec!["middle-name".into()];
    let report = harness.sync_as(&account, false).await.unwrap();
    assert_eq!(report.counts.updated_to_rock, 0);
    assert_ne!(
        harness.world.rock.data.lock().unwrap().people[&rock_id].middle_name,
        "Switched"
    );
}

// R16, R17: the level is the highest of the person's synced groups (R15 order): exactly that
// level once the account may lower levels.
#[tokio::test]
async fn levels_follow_the_highest_group() {
    let (harness, _) = synced_world().await;
    let mut account = harness.account();
    account.allow_downgrade = true;
    account.brake_percent = 100;
    harness.sync_as(&account, false).await.unwrap();
    let data = harness.world.rock.data.lock().unwrap().clone();
    let links = harness.links();
    let mut checked = 0;
    for (rock_id, pco_id) in &links {
        let levels: Vec<PermissionLevel> = data
            .members
            .iter()
            .filter(|m| m.person_id == *rock_id)
            .filter_map(|m| data.groups.iter().find(|g| g.id == m.group_id))
            .filter(|g| {
                g.pco_account.as_deref() == Some("Main Campus")
                    && g.group_type.name != "Prayer Team"
            })
            .filter_map(|g| g.level)
            .collect();
        let Some(highest) = levels.iter().max_by_key(|l| pcosync_level_rank(**l)) else {
            continue;
        };
        let permission = harness.pco_permission(pco_id).unwrap_or_default();
        let state = harness.pco_state(pco_id);
        if state["services"]["attributes"]["site_administrator"] == true {
            continue;
        }
        assert_eq!(
            parse(&permission),
            *highest,
            "Rock {rock_id}: {permission}, not the highest of {levels:?}"
        );
        checked += 1;
    }
    assert!(checked > 0, "precondition: people in level groups");
}

fn parse(name: &str) -> PermissionLevel {
    match name {
        "Scheduled Viewer" => PermissionLevel::ScheduledViewer,
        "Viewer" => PermissionLevel::Viewer,
        "Scheduler" => PermissionLevel::Scheduler,
        "Editor" => PermissionLevel::Editor,
        "Administrator" => PermissionLevel::Administrator,
        other => panic!("not a Services level: {other:?}"),
    }
}

fn pcosync_level_rank(level: PermissionLevel) -> u8 {
    match level {
        PermissionLevel::ScheduledViewer => 0,
        PermissionLevel::Viewer => 1,
        PermissionLevel::Scheduler => 2,
        PermissionLevel::Editor => 3,
        PermissionLevel::Administrator => 4,
    }
}

/// A linked, synced person who is not an organization administrator, with their PCO id.
fn ordinary_person(harness: &Harness) -> (i64, String) {
    harness
        .links()
        .into_iter()
        .find(|(_, pco)| {
            let state = harness.pco_state(pco);
            state["services"]["attributes"]["site_administrator"] != true
                && harness.pco_permission(pco).as_deref() != Some("Archived")
        })
        .expect("an ordinary linked person")
}

// R11, R17: a level raised by hand in PCO is never copied to Rock, and not lowered by default.
#[tokio::test]
async fn without_downgrade_a_higher_pco_level_stays() {
    let (harness, _) = synced_world().await;
    let (_, pco_id) = ordinary_person(&harness);
    harness
        .edit_pco(
            &format!("/services/v2/people/{pco_id}"),
            serde_json::json!({"permissions": "Administrator"}),
        )
        .await;
    let report = harness.sync(false).await.unwrap();
    assert_eq!(report.counts.lowered, 0);
    assert_eq!(
        harness.pco_permission(&pco_id).as_deref(),
        Some("Administrator")
    );
}

// R17: with downgrade allowed, the level is set exactly, lowering too.
#[tokio::test]
async fn with_downgrade_the_level_is_set_exactly() {
    let (harness, _) = synced_world().await;
    let (rock_id, pco_id) = ordinary_person(&harness);
    harness
        .edit_pco(
            &format!("/services/v2/people/{pco_id}"),
            serde_json::json!({"permissions": "Administrator"}),
        )
        .await;
    let mut account = harness.account();
    account.allow_downgrade = true;
    let report = harness.sync_as(&account, false).await.unwrap();
    assert!(report.counts.lowered >= 1);
    let lowered_to = actions_of(&report, rock_id)
        .into_iter()
        .find_map(|a| match a {
            Action::Lowered((_, to)) => Some(to),
            _ => None,
        })
        .expect("lowered");
    let expected = pcosync::bindings::types::PermissionLevel::Administrator;
    assert_ne!(lowered_to, expected);
    assert_eq!(parse(&harness.pco_permission(&pco_id).unwrap()), lowered_to);
}

// R18: with downgrade, a linked person no longer synced is archived, never deleted.
#[tokio::test]
async fn with_downgrade_people_who_left_are_archived_not_deleted() {
    let (harness, _) = synced_world().await;
    let (rock_id, pco_id) = ordinary_person(&harness);
    {
        let mut data = harness.world.rock.data.lock().unwrap();
        data.members.retain(|m| m.person_id != rock_id);
        data.people.get_mut(&rock_id).unwrap().pco_tags.clear();
    }
    let unchanged = harness.sync(false).await.unwrap();
    assert_eq!(
        unchanged.counts.archived, 0,
        "R18: without downgrade they are left as they are"
    );
    let mut account = harness.account();
    account.allow_downgrade = true;
    let report = harness.sync_as(&account, false).await.unwrap();
    assert!(actions_of(&report, rock_id).contains(&Action::Archived));
    assert_eq!(harness.pco_permission(&pco_id).as_deref(), Some("Archived"));
    assert!(
        harness.pco_state(&pco_id)["person"].is_object(),
        "still in PCO People"
    );
}

// R50: an organization administrator is never lowered or archived; they are reported.
#[tokio::test]
async fn organization_administrators_are_never_lowered() {
    let (harness, _) = synced_world().await;
    let admins: Vec<(i64, String)> = harness
        .links()
        .into_iter()
        .filter(|(_, pco)| {
            harness.pco_state(pco)["services"]["attributes"]["site_administrator"] == true
        })
        .collect();
    assert!(
        !admins.is_empty(),
        "precondition: the world has linked organization administrators"
    );
    let before: Vec<Option<String>> = admins
        .iter()
        .map(|(_, p)| harness.pco_permission(p))
        .collect();
    {
        let mut data = harness.world.rock.data.lock().unwrap();
        for (rock_id, _) in &admins {
            data.members.retain(|m| m.person_id != *rock_id);
            data.people.get_mut(rock_id).unwrap().pco_tags.clear();
        }
    }
    let mut account = harness.account();
    account.allow_downgrade = true;
    account.brake_percent = 100;
    let report = harness.sync_as(&account, false).await.unwrap();
    let after: Vec<Option<String>> = admins
        .iter()
        .map(|(_, p)| harness.pco_permission(p))
        .collect();
    assert_eq!(before, after);
    assert_eq!(harness.emails("OrgAdminLowered"), 0);
    // Each is reported, never silently skipped.
    for (rock_id, _) in &admins {
        assert!(
            actions_of(&report, *rock_id).iter().any(
                |a| matches!(a, Action::Flagged(n) if n.contains("organization administrator"))
            ),
            "Rock {rock_id}: {:?}",
            actions_of(&report, *rock_id)
        );
    }
}

// R19, R30, R52: a dry run writes nothing and shows every raise, flagging contact access.
#[tokio::test]
async fn a_dry_run_shows_raises_and_writes_nothing() {
    let harness = Harness::new(80, 5).await;
    for group in harness.world.rock.data.lock().unwrap().groups.iter_mut() {
        if group.level.is_some() {
            group.level = Some(PermissionLevel::Editor);
        }
    }
    let report = harness.sync(true).await.unwrap();
    assert!(report.dry_run && report.counts.raised > 0);
    assert_eq!(harness.pco_writes(), 0);
    assert!(harness.state.dump().is_empty());
    assert!(harness.sandbox.outbox().is_empty());
    let flagged = report
        .people
        .iter()
        .flat_map(|p| &p.actions)
        .any(|a| matches!(a, Action::Flagged(note) if note.contains("contact information")));
    assert!(flagged, "R52: raises to Viewer and above are flagged");

    // R30 (issue 24, tests that assert too little): the real run then raises whom the dry run
    // showed, and PCO holds them at the level shown.
    let real = harness.sync(false).await.unwrap();
    assert!(!real.dry_run && !real.held);
    assert_eq!(real.counts.raised, report.counts.raised);
    let links = harness.links();
    let raised: Vec<(i64, &'static str, Option<String>)> = real
        .people
        .iter()
        .filter_map(|p| {
            let to = p.actions.iter().find_map(|a| match a {
                Action::Raised((_, to)) => Some(*to),
                _ => None,
            })?;
            let rock = p.rock_id?;
            let now = links.get(&rock).and_then(|pco| harness.pco_permission(pco));
            Some((rock, pco_level_name(to), now))
        })
        .collect();
    assert_eq!(raised.len(), report.counts.raised as usize, "{raised:?}");
    assert!(
        raised.iter().any(|(_, to, _)| *to == "Editor"),
        "the Editor groups raise someone: {raised:?}"
    );
    assert!(
        raised
            .iter()
            .all(|(_, to, now)| now.as_deref() == Some(*to)),
        "each person raised holds in PCO the level the run said: {raised:?}"
    );
}

/// A level as PCO Services names it.
fn pco_level_name(level: PermissionLevel) -> &'static str {
    match level {
        PermissionLevel::ScheduledViewer => "Scheduled Viewer",
        PermissionLevel::Viewer => "Viewer",
        PermissionLevel::Scheduler => "Scheduler",
        PermissionLevel::Editor => "Editor",
        PermissionLevel::Administrator => "Administrator",
    }
}

// R19: permissions are never raised and lowered back and forth.
#[tokio::test]
async fn levels_do_not_ping_pong() {
    let (harness, _) = synced_world().await;
    let mut account = harness.account();
    account.allow_downgrade = true;
    account.brake_percent = 100;
    harness.sync_as(&account, false).await.unwrap();
    let raised = harness.emails("PermissionRaised");
    for _ in 0..2 {
        let report = harness.sync_as(&account, false).await.unwrap();
        assert_eq!(report.counts.raised + report.counts.lowered, 0);
    }
    assert_eq!(harness.emails("PermissionRaised"), raised);
}

// R23: one failing person does not stop the run, and is retried next run.
#[tokio::test]
async fn one_failing_person_does_not_stop_the_run() {
    let (harness, _) = synced_world().await;
    let mut links = harness.links().into_iter();
    let (rock_a, pco_a) = links.next().unwrap();
    let (rock_b, _) = links.next().unwrap();
    harness.edit_rock(rock_a, |p| p.middle_name = "Failing".into());
    harness.edit_rock(rock_b, |p| p.middle_name = "Fine".into());
    harness
        .sandbox
        .set_faults(pco_sandbox::FaultConfig {
            server_error: 1.0,
            path_prefix: Some(format!("/people/v2/people/{pco_a}")),
            ..Default::default()
        })
        .unwrap();
    let report = harness.sync(false).await.unwrap();
    assert_eq!(report.counts.failed, 1, "{:?}", report.people);
    assert!(
        actions_of(&report, rock_a)
            .iter()
            .any(|a| matches!(a, Action::Failed(_)))
    );
    assert_eq!(
        harness.world.rock.data.lock().unwrap().people[&rock_b].middle_name,
        "Fine"
    );
    harness.sandbox.clear_faults();
    let retry = harness.sync(false).await.unwrap();
    assert_eq!(retry.counts.failed, 0);
    assert_eq!(
        harness.pco_state(&pco_a)["person"]["attributes"]["middle_name"],
        "Failing"
    );
}

// R24: a run that would change too many people writes nothing until confirmed.
#[tokio::test]
async fn the_safety_brake_holds_mass_changes_until_confirmed() {
    let (harness, _) = synced_world().await;
    let links: Vec<i64> = harness.links().keys().copied().collect();
    for rock_id in &links {
        harness.edit_rock(*rock_id, |p| p.middle_name = "Mass".into());
    }
    harness.sandbox.clear_requests();
    let held = harness.sync(false).await.unwrap();
    assert!(held.held);
    assert_eq!(harness.pco_writes(), 0);
    let mut options = pcosync_harness::options(false);
    options.confirm = Some(held.run_id.clone());
    options.run_id = "confirming".into();
    let applied = harness
        .runtime
        .sync(
            &harness.guest,
            &harness.capabilities(),
            &harness.account(),
            &options,
        )
        .await
        .unwrap();
    assert!(!applied.held);
    assert!(applied.counts.updated_to_pco as usize >= links.len() / 2);
}

// R14: membership of a tag-mapped group controls the tag in Rock's attribute.
#[tokio::test]
async fn mapped_tags_follow_group_membership() {
    let (harness, _) = synced_world().await;
    let account = harness.account();
    let mapping = account
        .tag_groups
        .first()
        .cloned()
        .expect("precondition: the account maps a tag to a group");
    let member = {
        let data = harness.world.rock.data.lock().unwrap();
        data.members
            .iter()
            .find(|m| m.group_id == mapping.group_id)
            .map(|m| m.person_id)
    }
    .expect("precondition: the mapped group has a member");
    let value = format!("{}:{}", account.name, mapping.tag);
    // Taking the tag off by hand makes no difference while they are a member.
    harness.edit_rock(member, |p| p.pco_tags.retain(|t| t != &value));
    harness.sync(false).await.unwrap();
    let tags = harness.world.rock.data.lock().unwrap().people[&member]
        .pco_tags
        .clone();
    assert!(tags.contains(&value), "{tags:?}");
    // Leaving the group clears it.
    harness
        .world
        .rock
        .data
        .lock()
        .unwrap()
        .members
        .retain(|m| !(m.group_id == mapping.group_id && m.person_id == member));
    harness.sync(false).await.unwrap();
    let tags = harness.world.rock.data.lock().unwrap().people[&member]
        .pco_tags
        .clone();
    assert!(!tags.contains(&value), "{tags:?}");
}

// R51: archived PCO people are linked, never duplicated.
#[tokio::test]
async fn archived_pco_people_are_linked_not_duplicated() {
    let harness = Harness::new(200, 5).await;
    let archived: Vec<u32> = harness
        .congregation
        .people
        .iter()
        .filter(|m| m.pco_archived && m.in_rock() && m.email.is_some())
        .filter(|m| m.pco_email_drift.is_none() && m.pco_nick_drift.is_none())
        .filter(|m| m.pco_last_name_drift.is_none())
        .filter(|m| matches!(m.protection, congregation::Protection::Low))
        .filter(|m| harness.sandbox.pco_id("Main Campus", m.key).is_some())
        .map(|m| m.key)
        .collect();
    // People archived in PCO have mostly left their Rock groups too; put them back in a synced
    // group, as a volunteer who returns is, so the sync must find their archived record.
    let account = harness.account().name;
    let group = harness
        .world
        .rock
        .data
        .lock()
        .unwrap()
        .groups
        .iter()
        .find(|g| g.pco_account.as_deref() == Some(account.as_str()) && g.level.is_some())
        .map(|g| g.id)
        .expect("a synced level group");
    for key in &archived {
        let rock_id = pcosync::demo::rock_id(&harness.congregation.people[*key as usize]);
        harness.join_group(group, rock_id);
    }
    harness.sync(false).await.unwrap();
    let links = harness.links();
    let mut compared = 0;
    for key in archived {
        let rock_id = pcosync::demo::rock_id(&harness.congregation.people[key as usize]);
        if let (Some(linked), Some(existing)) = (
            links.get(&rock_id),
            harness.sandbox.pco_id("Main Campus", key),
        ) {
            assert_eq!(
                linked, &existing,
                "Rock {rock_id} linked to its archived PCO record"
            );
            compared += 1;
        }
    }
    // Issue 24 (tests that assert too little): the world must hold archived people the sync
    // links, or the loop above proves nothing.
    assert!(
        compared >= 2,
        "precondition: at least two synced people archived in PCO, {compared} found"
    );
}

// R21: updates-only asks PCO only for people updated since the last run, and still carries
// their changes; R13: PCO's tag changes are then not read.
#[tokio::test]
async fn updates_only_reads_only_recent_changes() {
    let (harness, _) = synced_world().await;
    let (rock_id, pco_id) = ordinary_person(&harness);
    harness
        .edit_pco(
            &format!("/people/v2/people/{pco_id}"),
            serde_json::json!({"middle_name": "Recent"}),
        )
        .await;
    harness.sandbox.clear_requests();
    let mut options = pcosync_harness::options(false);
    options.updates_only = Some(true);
    let report = harness
        .runtime
        .sync(
            &harness.guest,
            &harness.capabilities(),
            &harness.account(),
            &options,
        )
        .await
        .unwrap();
    assert_eq!(report.counts.updated_to_rock, 1, "{:?}", report.people);
    assert_eq!(
        harness.world.rock.data.lock().unwrap().people[&rock_id].middle_name,
        "Recent"
    );
    let requests = harness.sandbox.requests();
    let people_reads: Vec<&str> = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/people/v2/people?"))
        .map(|r| r.path.as_str())
        .collect();
    // Pages of people are asked for since the last run; only people still to be linked are
    // looked up by themselves.
    let pages: Vec<&&str> = people_reads
        .iter()
        .filter(|p| !p.contains("search_name_or_email"))
        .collect();
    assert!(!pages.is_empty());
    assert!(
        pages
            .iter()
            .all(|p| p.contains("where%5Bupdated_at%5D") || p.contains("where[updated_at]")),
        "{people_reads:?}"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.path.starts_with("/services/v2/people?"))
    );
}

// R7: when Rock merges two people, the link follows the survivor.
#[tokio::test]
async fn a_rock_merge_moves_the_link_to_the_survivor() {
    let (harness, _) = synced_world().await;
    let links = harness.links();
    let (old_id, pco_id) = links.iter().next().map(|(r, p)| (*r, p.clone())).unwrap();
    let survivor = {
        let mut data = harness.world.rock.data.lock().unwrap();
        let survivor = data
            .people
            .keys()
            .copied()
            .find(|id| !links.contains_key(id))
            .unwrap();
        let old = data.people.remove(&old_id).unwrap();
        for member in data.members.iter_mut().filter(|m| m.person_id == old_id) {
            member.person_id = survivor;
        }
        let person = data.people.get_mut(&survivor).unwrap();
        person.pco_tags = old.pco_tags.clone();
        data.merges.insert(old_id, survivor);
        survivor
    };
    let report = harness.sync(false).await.unwrap();
    assert_eq!(report.counts.failed, 0);
    let links = harness.links();
    assert_eq!(links.get(&survivor), Some(&pco_id));
    assert!(!links.contains_key(&old_id));
}

// R18 (issue 23): a linked person Rock marks deceased drops out of Rock's people and group
// member lists. Without downgrade their PCO person is left as it is and the report says so;
// with it they are archived like anyone who left the synced groups, and said to be deceased.
#[tokio::test]
async fn a_person_deceased_in_rock_is_reported_then_archived_with_downgrade() {
    let (harness, _) = synced_world().await;
    let (rock_id, pco_id) = ordinary_person(&harness);
    let level_before = harness.pco_permission(&pco_id);
    harness
        .world
        .rock
        .data
        .lock()
        .unwrap()
        .deceased
        .insert(rock_id);
    let left = harness.sync(false).await.unwrap();
    assert_eq!(left.counts.failed, 0);
    assert_eq!(
        left.counts.archived, 0,
        "without downgrade, nothing is archived"
    );
    assert_eq!(harness.pco_permission(&pco_id), level_before);
    let said = |report: &Report| {
        actions_of(report, rock_id)
            .iter()
            .any(|a| matches!(a, Action::Flagged(text) if text.contains("deceased")))
    };
    assert!(said(&left), "{:?}", actions_of(&left, rock_id));
    assert_eq!(
        harness.links().get(&rock_id),
        Some(&pco_id),
        "the link is kept"
    );
    let mut account = harness.account();
    account.allow_downgrade = true;
    let archived = harness.sync_as(&account, false).await.unwrap();
    assert!(actions_of(&archived, rock_id).contains(&Action::Archived));
    assert!(said(&archived));
    assert_eq!(harness.pco_permission(&pco_id).as_deref(), Some("Archived"));
}

// R7 (issue 23): a Rock that cannot say what became of a person it no longer lists does not
// stop the run: the link is kept, nobody is archived or created for it, and the log says so.
#[tokio::test]
async fn a_failing_merge_lookup_keeps_the_links_and_the_run_goes_on() {
    let (harness, _) = synced_world().await;
    let (rock_id, pco_id) = ordinary_person(&harness);
    harness
        .world
        .rock
        .data
        .lock()
        .unwrap()
        .people
        .remove(&rock_id);
    harness.world.rock.fail(
        "follow_merges",
        pcosync::bindings::types::Error::new(
            pcosync::bindings::types::ErrorKind::Invalid,
            "The query specified in the URI is not valid.",
        ),
    );
    let mut account = harness.account();
    account.allow_downgrade = true;
    let report = harness.sync_as(&account, false).await.unwrap();
    assert_eq!(report.counts.failed, 0);
    assert_eq!(report.counts.archived, 0);
    assert_eq!(report.counts.created, 0);
    assert_eq!(harness.links().get(&rock_id), Some(&pco_id));
    assert!(
        harness
            .logged_text()
            .iter()
            .any(|line| line.contains("links are kept")),
        "{:?}",
        harness.logged_text()
    );
}

// R7: a linked PCO person deleted in PCO is matched again, not failed on every run.
#[tokio::test]
async fn a_pco_person_gone_is_matched_again() {
    let (harness, _) = synced_world().await;
    let (rock_id, pco_id) = ordinary_person(&harness);
    use pcosync::bindings::pco::{Method, Request};
    use pcosync::pco::Pco;
    let delete = Request {
        method: Method::Delete,
        path: format!("/people/v2/people/{pco_id}"),
        query: vec![],
        headers: vec![],
        body: None,
    };
    harness.pco.send("Main Campus", &delete).await.unwrap();
    let report = harness.sync(false).await.unwrap();
    assert_eq!(report.counts.failed, 0);
    let relinked = harness.links()[&rock_id].clone();
    assert_ne!(relinked, pco_id);
    assert!(
        actions_of(&report, rock_id)
            .iter()
            .any(|a| matches!(a, Action::Flagged(n) if n.contains("was deleted in PCO")))
    );
    let again = harness.sync(false).await.unwrap();
    assert_eq!(again.counts.created + again.counts.failed, 0);
}

// R4, R27: a Rock duplicate matching a PCO person already linked is not linked to it too
// (the two would overwrite each other on every run); it is reported instead.
#[tokio::test]
async fn a_rock_duplicate_does_not_share_a_pco_person() {
    let (harness, first) = synced_world().await;
    let (original, pco_id) = first
        .people
        .iter()
        .find_map(|p| {
            p.actions.iter().find_map(|a| match a {
                Action::Linked(pco) => Some((p.rock_id.unwrap(), pco.clone())),
                _ => None,
            })
        })
        .expect("someone was linked by a match");
    let duplicate = 900_000;
    {
        let mut data = harness.world.rock.data.lock().unwrap();
        let mut copy = data.people[&original].clone();
        copy.id = duplicate;
        copy.middle_name = "Twin".into();
        copy.pco_tags.push("Main Campus:Skills:Guitar".into());
        data.people.insert(duplicate, copy);
    }
    let report = harness.sync(false).await.unwrap();
    assert!(
        actions_of(&report, duplicate)
            .iter()
            .any(|a| matches!(a, Action::Skipped(why) if why.contains("already linked")))
    );
    assert_eq!(harness.links()[&original], pco_id);
    assert!(!harness.links().contains_key(&duplicate));
    harness.sandbox.clear_requests();
    harness.sync(false).await.unwrap();
    assert_eq!(harness.pco_writes(), 0);
}
