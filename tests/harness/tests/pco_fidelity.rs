//! The guest against a PCO sandbox that answers as the real Planning Center does (issue 14):
//! what PCO refuses, what it leaves to the organization, how its lists page.

use congregation::Level;
use pcosync::bindings::engine::{Action, Report};
use pcosync::bindings::types::PermissionLevel;
use pcosync_harness::Harness;

/// The Rock people of a report who were created in PCO this run.
fn created(report: &Report) -> Vec<i64> {
    report
        .people
        .iter()
        .filter(|p| p.actions.iter().any(|a| matches!(a, Action::Created(_))))
        .filter_map(|p| p.rock_id)
        .collect()
}

fn failures(report: &Report) -> Vec<String> {
    report
        .people
        .iter()
        .flat_map(|p| &p.actions)
        .filter_map(|a| match a {
            Action::Failed(e) => Some(e.message.clone()),
            _ => None,
        })
        .collect()
}

/// The level each Rock person was raised to this run, by Rock id.
fn raised_to(report: &Report) -> Vec<(i64, PermissionLevel)> {
    report
        .people
        .iter()
        .flat_map(|p| {
            p.actions.iter().filter_map(move |a| match a {
                Action::Raised((None, to)) => Some((p.rock_id?, *to)),
                _ => None,
            })
        })
        .collect()
}

fn pco_name(level: PermissionLevel) -> &'static str {
    match level {
        PermissionLevel::ScheduledViewer => "Scheduled Viewer",
        PermissionLevel::Viewer => "Viewer",
        PermissionLevel::Scheduler => "Scheduler",
        PermissionLevel::Editor => "Editor",
        PermissionLevel::Administrator => "Administrator",
    }
}

// R4, R15 (issue 14.1): with a welcome template configured, every grant carries only `app_id`
// (PCO refuses `email_template_id` with 422), so nobody fails, and every person created is
// listed for the welcome an administrator sends from Services.
#[tokio::test]
async fn grants_succeed_with_a_welcome_template_and_list_who_needs_the_welcome() {
    let harness = Harness::new(80, 5).await;
    assert!(harness.account().welcome_template.is_some());
    let report = harness.sync(false).await.expect("the sync runs");
    assert_eq!(report.counts.failed, 0, "{:?}", failures(&report));
    let created = created(&report);
    assert!(!created.is_empty());
    let links = harness.links();
    for rock_id in &created {
        let pco = &links[rock_id];
        assert!(
            harness.pco_permission(pco).is_some(),
            "Rock {rock_id} has no Services access"
        );
    }
    let grants: Vec<_> = harness
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/person_apps"))
        .collect();
    assert!(grants.iter().all(|r| r.status == 201), "{grants:?}");
    assert_eq!(harness.emails("Welcome"), 0);
}

// R15 (issue 14.2): a new Services profile starts at the organization's default; with that
// default at Viewer, a person whose groups give Scheduled Viewer still ends at Scheduled Viewer.
#[tokio::test]
async fn every_grant_sets_the_level_even_scheduled_viewer() {
    for default in [Level::ScheduledViewer, Level::Viewer] {
        let harness = Harness::new(80, 5).await;
        harness.sandbox.set_new_services_level(default);
        let report = harness.sync(false).await.expect("the sync runs");
        assert_eq!(report.counts.failed, 0, "{:?}", failures(&report));
        let raised = raised_to(&report);
        assert!(
            raised
                .iter()
                .any(|(_, l)| *l == PermissionLevel::ScheduledViewer),
            "no one granted Scheduled Viewer: the test proves nothing"
        );
        let links = harness.links();
        for (rock_id, level) in raised {
            assert_eq!(
                harness.pco_permission(&links[&rock_id]).as_deref(),
                Some(pco_name(level)),
                "Rock {rock_id} with the organization default at {default:?}"
            );
        }
    }
}

// R20 (issue 14.3): PCO cannot order People by id; the guest asks for the default order.
#[tokio::test]
async fn people_are_read_without_an_order_pco_refuses() {
    let harness = Harness::new(80, 5).await;
    let report = harness.sync(false).await.expect("the sync runs");
    assert_eq!(report.counts.failed, 0);
    let refused: Vec<_> = harness
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.status == 400 || r.status == 422)
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}

// R15 (issue 14.7): Services may 404 for a moment after People gave a person the app; the
// level and tags are asked again after a short wait instead of failing the person.
#[tokio::test]
async fn a_profile_still_being_provisioned_is_asked_again() {
    let harness = Harness::new(30, 7).await;
    harness.sandbox.set_provisioning_lag(1);
    let report = harness.sync(false).await.expect("the sync runs");
    assert!(
        report.counts.created > 0,
        "nobody created: the test proves nothing"
    );
    assert_eq!(report.counts.failed, 0, "{:?}", failures(&report));
    let links = harness.links();
    for rock_id in created(&report) {
        assert!(harness.pco_permission(&links[&rock_id]).is_some());
    }
    let lagged = harness
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/services/v2/people/") && r.status == 404)
        .count();
    assert!(
        lagged > 0,
        "the sandbox never lagged: the test proves nothing"
    );
}

// R14, R36 (issues 14.9, 15.11): an account with more than a page of tag groups: a tag of the
// last group is found and given.
#[tokio::test]
async fn tags_beyond_the_first_page_of_tag_groups_are_found() {
    let mut harness = Harness::new(80, 5).await;
    let account = harness.world.account.name.clone();
    for n in 0..110 {
        harness
            .sandbox
            .add_tag_group(&account, &format!("Extra {n:03}"), &["Late"])
            .unwrap();
    }
    // The first tag the account maps moves to the last tag group: same Rock group, a tag PCO
    // lists on the second page only.
    let mapping = harness
        .world
        .account
        .tag_groups
        .first_mut()
        .expect("the demo account maps a tag");
    mapping.tag = "Extra 109:Late".into();
    let group = mapping.group_id;
    let report = harness.sync(false).await.expect("the sync runs");
    assert_eq!(report.counts.failed, 0, "{:?}", failures(&report));
    let member = harness
        .world
        .rock
        .data
        .lock()
        .unwrap()
        .members
        .iter()
        .filter(|m| m.group_id == group)
        .map(|m| m.person_id)
        .find(|id| harness.links().contains_key(id))
        .expect("a synced member of the group");
    let state = harness.pco_state(&harness.links()[&member]);
    assert!(
        state["tags"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("Extra 109:Late")),
        "Rock {member} lacks the tag: {}",
        state["tags"]
    );
}

// R50, R53 (issue 14.4): a token whose user cannot write People, or is below Scheduler in
// Services (which hides who is an organization administrator), writes nothing: the run refuses
// with the role the user needs. A dry run still shows the plan.
#[tokio::test]
async fn a_token_without_the_roles_the_sync_needs_writes_nothing() {
    for (user, needed) in [
        (
            pco_sandbox::TokenUser {
                site_administrator: false,
                people: Some("Viewer"),
                services: Some(Level::Administrator),
            },
            "Editor",
        ),
        (
            pco_sandbox::TokenUser {
                site_administrator: false,
                people: Some("Editor"),
                services: Some(Level::Viewer),
            },
            "Scheduler",
        ),
    ] {
        let harness = Harness::new(40, 5).await;
        harness.sandbox.set_token_user(user);
        let dry = harness.sync(true).await.expect("a dry run still plans");
        assert!(dry.counts.created > 0);
        harness.sandbox.clear_requests();
        let error = harness.sync(false).await.unwrap_err();
        let message = error.to_string();
        assert!(message.contains(needed), "{user:?}: {message}");
        assert_eq!(harness.pco_writes(), 0, "{user:?}");
        assert!(
            harness
                .world
                .rock
                .calls()
                .iter()
                .all(|c| !c.starts_with("create") && !c.starts_with("update"))
        );
    }
    // Editor and Scheduler is enough to sync people with nobody failing (the level changes
    // it may not make are held and flagged, issue 23: pco_roles.rs).
    let harness = Harness::new(40, 5).await;
    harness.sandbox.set_token_user(pco_sandbox::TokenUser {
        site_administrator: false,
        people: Some("Editor"),
        services: Some(Level::Scheduler),
    });
    let report = harness.sync(false).await.expect("the sync runs");
    assert_eq!(report.counts.failed, 0, "{:?}", failures(&report));
}

/// PCO as the guest meets it, every answer kept: (path and query, body), and every request's
/// (path, version header).
struct Recording {
    inner: std::sync::Arc<pcosync::pco::http::HttpPco>,
    answers: std::sync::Mutex<Vec<(String, Vec<u8>)>>,
    versions: std::sync::Mutex<Vec<(String, Option<String>)>>,
}

#[async_trait::async_trait]
impl pcosync::pco::Pco for Recording {
    async fn send(
        &self,
        account: &str,
        request: &pcosync::bindings::pco::Request,
    ) -> Result<pcosync::bindings::pco::Response, pcosync::bindings::types::Error> {
        let version = request
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("x-pco-api-version"))
            .map(|(_, value)| value.clone());
        self.versions
            .lock()
            .unwrap()
            .push((request.path.clone(), version));
        let response = self.inner.send(account, request).await?;
        let query: Vec<String> = request
            .query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        self.answers.lock().unwrap().push((
            format!("{:?} {}?{}", request.method, request.path, query.join("&")),
            response.body.clone(),
        ));
        Ok(response)
    }

    async fn upload(
        &self,
        account: &str,
        content_type: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<String, pcosync::bindings::types::Error> {
        self.inner.upload(account, content_type, name, bytes).await
    }
}

// R53, issue 14.11: the guest asks PCO only for the Person fields it syncs (sparse
// fieldsets, honoured by PCO and the sandbox), so medical notes and background checks never
// reach it; every read of people names them.
#[tokio::test]
async fn people_are_read_with_only_the_fields_the_sync_needs() {
    let harness = Harness::new(60, 13).await;
    harness.sync(false).await.expect("the first sync runs");
    let recording = std::sync::Arc::new(Recording {
        inner: harness.pco.clone(),
        answers: Default::default(),
        versions: Default::default(),
    });
    harness.sync_through(recording.clone()).await.unwrap();
    let answers = recording.answers.lock().unwrap();
    let people_reads: Vec<&(String, Vec<u8>)> = answers
        .iter()
        .filter(|(request, _)| {
            request.starts_with("Method::Get /people/v2/people")
                || request.starts_with("Method::Get /people/v2/me")
        })
        .filter(|(request, _)| !request.contains("/person_apps"))
        .collect();
    assert!(
        !people_reads.is_empty(),
        "precondition: people were read: {:?}",
        answers.iter().map(|(r, _)| r).collect::<Vec<_>>()
    );
    for (request, body) in people_reads {
        assert!(request.contains("fields[Person]="), "{request}");
        let body = String::from_utf8_lossy(body);
        for private in ["medical_notes", "passed_background_check", "\"avatar\""] {
            assert!(!body.contains(private), "{request} answered {private}");
        }
        assert!(body.contains("\"site_administrator\""), "{request}: {body}");
    }
}

// Issue 14.12: every request names the API version of its product, pinned by the guest:
// People's for /people/v2 (apps and person_apps included), Services' for /services/v2.
#[tokio::test]
async fn every_request_names_its_products_api_version() {
    let harness = Harness::new(60, 17).await;
    let recording = std::sync::Arc::new(Recording {
        inner: harness.pco.clone(),
        answers: Default::default(),
        versions: Default::default(),
    });
    let report = harness.sync_through(recording.clone()).await.unwrap();
    assert!(report.counts.created > 0, "precondition: grants were made");
    let versions = recording.versions.lock().unwrap();
    let mut products = std::collections::BTreeSet::new();
    for (path, version) in versions.iter() {
        let expected = if path.starts_with("/people/v2") {
            "2023-03-21"
        } else if path.starts_with("/services/v2") {
            "2018-11-01"
        } else {
            continue;
        };
        products.insert(&path[..11]);
        assert_eq!(version.as_deref(), Some(expected), "{path}");
    }
    assert_eq!(products.len(), 2, "precondition: both products were asked");
    assert!(
        versions.iter().any(|(p, _)| p.ends_with("/person_apps")),
        "precondition: a grant was sent"
    );
}

/// A synced world whose account lowers and archives (R17-R18), after its first sync; and an
/// ordinary linked person (neither an organization administrator nor in several accounts)
/// with a Services level.
async fn downgrading_world(
    seed: u64,
) -> (Harness, pcosync::bindings::engine::Account, i64, String) {
    let harness = Harness::new(60, seed).await;
    let mut account = harness.account();
    account.allow_downgrade = true;
    account.brake_percent = 100;
    harness
        .sync_as(&account, false)
        .await
        .expect("the first sync runs");
    let (rock_id, pco_id) = harness
        .links()
        .into_iter()
        .find(|(_, pco)| {
            let state = harness.pco_state(pco);
            state["services"]["attributes"]["site_administrator"] != true
                && harness.pco_permission(pco).is_some_and(|p| p != "Archived")
        })
        .expect("precondition: a linked person with a Services level");
    (harness, account, rock_id, pco_id)
}

// R18, R4, issue 14.6: PCO may leave archived people out of `/services/v2/people` (the
// sandbox does by default). A linked person archived by the sync who comes back to a synced
// group is read by id and given their level again: no second grant (PCO answers 422 "has
// already been taken"), no failure.
#[tokio::test]
async fn an_archived_person_missing_from_the_services_list_gets_their_level_back() {
    let (harness, account, rock_id, pco_id) = downgrading_world(19).await;
    let groups: Vec<i64> = {
        let data = harness.world.rock.data.lock().unwrap();
        data.members
            .iter()
            .filter(|m| m.person_id == rock_id)
            .map(|m| m.group_id)
            .collect()
    };
    let level = harness.pco_permission(&pco_id);
    harness.leave_everything(rock_id);
    harness.sync_as(&account, false).await.unwrap();
    assert_eq!(harness.pco_permission(&pco_id).as_deref(), Some("Archived"));
    for group in groups {
        harness.join_group(group, rock_id);
    }
    harness.sandbox.clear_requests();
    let report = harness.sync_as(&account, false).await.unwrap();
    assert_eq!(report.counts.failed, 0, "{:?}", failures(&report));
    assert_eq!(harness.pco_permission(&pco_id), level);
    let grants = harness
        .sandbox
        .requests()
        .iter()
        .filter(|r| {
            r.method == "POST"
                && r.path
                    .starts_with(&format!("/people/v2/people/{pco_id}/person_apps"))
        })
        .count();
    assert_eq!(grants, 0, "granted again instead of given a level");
}

// R18, issue 14.6: archiving with `permissions: "Archived"` is not in PCO's docs. Where PCO
// refuses it (422), the run says why, the account stops archiving for a while, and the next
// runs flag whom they would archive instead of failing them again.
#[tokio::test]
async fn a_pco_that_refuses_archiving_stops_the_account_archiving() {
    let (harness, account, rock_id, pco_id) = downgrading_world(23).await;
    harness.sandbox.set_archive_refused(true);
    harness.leave_everything(rock_id);
    let first = harness.sync_as(&account, false).await.unwrap();
    let failed = failures(&first);
    assert!(failed.iter().any(|f| f.contains("Archived")), "{failed:?}");
    assert_ne!(harness.pco_permission(&pco_id).as_deref(), Some("Archived"));
    harness.sandbox.clear_requests();
    let second = harness.sync_as(&account, false).await.unwrap();
    assert_eq!(second.counts.failed, 0, "{:?}", failures(&second));
    let archive_patches = harness
        .sandbox
        .requests()
        .iter()
        .filter(|r| {
            r.method == "PATCH" && r.path.starts_with(&format!("/services/v2/people/{pco_id}"))
        })
        .count();
    assert_eq!(archive_patches, 0, "the refused archive was sent again");
    let flagged = second
        .people
        .iter()
        .filter(|p| p.rock_id == Some(rock_id))
        .flat_map(|p| &p.actions)
        .any(|a| matches!(a, Action::Flagged(n) if n.contains("PCO refused archiving")));
    assert!(flagged, "{:?}", second.people);
}
