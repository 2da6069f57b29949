//! Issue 23, the PCO side of a real church: the token user's roles (Services permission
//! changes need a Services Administrator or an organization administrator; organization and
//! accounting administrators' names and contacts need an organization administrator), PCO's
//! person mergers read by a user who may not, the people list read from both ends, gender
//! written as read, and sparse fieldsets on every person read and write (R53). Each test runs
//! the compiled guest against the PCO sandbox.

use pcosync::bindings::engine::{Action, Report};
use pcosync_harness::Harness;

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

// Issue 23: a full run does not read the account's email templates (PCO's API cannot send
// them and a grant carries none); they are read when the account is checked or edited.
#[tokio::test]
async fn a_run_reads_no_email_templates() {
    let harness = Harness::new(40, 5).await;
    let report = harness.sync(false).await.expect("the sync runs");
    assert_eq!(report.counts.failed, 0, "{:?}", failures(&report));
    assert!(report.counts.created > 0, "the run proves nothing");
    let templates: Vec<_> = harness
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("email_templates"))
        .collect();
    assert!(templates.is_empty(), "{templates:?}");
}

fn flags(report: &Report, rock_id: i64) -> Vec<String> {
    report
        .people
        .iter()
        .filter(|p| p.rock_id == Some(rock_id))
        .flat_map(|p| &p.actions)
        .filter_map(|a| match a {
            Action::Flagged(text) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn all_flags(report: &Report) -> Vec<String> {
    report
        .people
        .iter()
        .flat_map(|p| &p.actions)
        .filter_map(|a| match a {
            Action::Flagged(text) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// Requests PCO refused since the log was cleared (status 4xx but 404, which a read of a
/// person still being provisioned may answer).
fn refused(harness: &Harness) -> Vec<String> {
    harness
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| (400..500).contains(&r.status) && r.status != 404)
        .map(|r| format!("{} {} -> {}", r.method, r.path, r.status))
        .collect()
}

/// Options of a real run started at `started_at` (the cursor a successful run leaves).
fn options_at(
    started_at: &str,
    updates_only: Option<bool>,
) -> pcosync::bindings::engine::SyncOptions {
    pcosync::bindings::engine::SyncOptions {
        started_at: started_at.into(),
        updates_only,
        ..pcosync_harness::options(false)
    }
}

fn cursor(harness: &Harness) -> Option<String> {
    harness
        .state
        .dump()
        .into_iter()
        .find(|((_, key), _)| key == "cursor")
        .map(|(_, value)| String::from_utf8(value).unwrap())
}

// Issue 23, token roles: PCO lets only a Services Administrator or an organization
// administrator change Services permissions. A People Editor + Services Scheduler token still
// syncs people (creates, names, contacts, tags); every level change (the level of new people
// included) is held, flagged with the role needed, and never sent: PCO refuses nothing, and
// nobody fails.
#[tokio::test]
async fn a_services_scheduler_token_syncs_people_and_holds_every_level_change() {
    let harness = Harness::new(40, 5).await;
    harness
        .sandbox
        .set_token_user(pco_sandbox::TokenUser::people_editor_services(
            congregation::Level::Scheduler,
        ));
    let report = harness.sync(false).await.expect("the sync runs");
    assert_eq!(report.counts.failed, 0, "{:?}", failures(&report));
    assert!(
        report.counts.created > 0,
        "nobody created: the test proves nothing"
    );
    assert_eq!(
        report.counts.raised + report.counts.lowered + report.counts.archived,
        0
    );
    assert!(refused(&harness).is_empty(), "{:?}", refused(&harness));
    let permission_writes: Vec<_> = harness
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| {
            r.method != "GET"
                && (r.path.contains("/person_apps") || r.path.starts_with("/services/v2/people/"))
                && !r.path.contains("assign_tags")
        })
        .collect();
    assert!(permission_writes.is_empty(), "{permission_writes:?}");
    let held: Vec<String> = all_flags(&report)
        .into_iter()
        .filter(|f| f.contains("Services access at"))
        .collect();
    assert!(!held.is_empty(), "no grant held: {:?}", all_flags(&report));
    for flag in &held {
        assert!(
            flag.contains("Scheduler in PCO Services")
                && flag.contains("People Editor (or Manager) and Services Administrator"),
            "{flag}"
        );
    }
    // With a Services Administrator's token the next run gives what was held.
    harness
        .sandbox
        .set_token_user(pco_sandbox::TokenUser::people_editor_services(
            congregation::Level::Administrator,
        ));
    let report = harness.sync(false).await.expect("the sync runs");
    assert_eq!(report.counts.failed, 0, "{:?}", failures(&report));
    assert!(report.counts.raised > 0, "{:?}", all_flags(&report));
}

// Issue 23, organization and accounting administrators (planningcenter/developers#1139,
// #1096): with a token whose user is not an organization administrator, a synced person who
// is one in PCO gets no name or contact write: PCO refuses nothing, the person is flagged
// with what to do, and the flag does not hold the updates-only cursor.
#[tokio::test]
async fn an_organization_administrators_name_is_flagged_not_sent_and_the_cursor_moves() {
    let harness = Harness::new(40, 5).await;
    let first = harness.sync(false).await.expect("the first sync runs");
    assert_eq!(first.counts.failed, 0, "{:?}", failures(&first));
    let links = harness.links();
    let rock_id = *links
        .keys()
        .find(|id| {
            harness.world.rock.data.lock().unwrap().people[id]
                .email
                .is_some()
        })
        .expect("a linked person with an email");
    let pco_id = links[&rock_id].clone();
    let accountant = *links
        .keys()
        .find(|id| **id != rock_id)
        .expect("a second linked person");
    // Staff make one an organization administrator and the other an accounting one in PCO.
    harness
        .edit_pco(
            &format!("/people/v2/people/{pco_id}"),
            serde_json::json!({"site_administrator": true}),
        )
        .await;
    harness
        .edit_pco(
            &format!("/people/v2/people/{}", links[&accountant]),
            serde_json::json!({"accounting_administrator": true}),
        )
        .await;
    let pco_last = harness.pco_state(&pco_id)["person"]["attributes"]["last_name"].clone();
    harness.edit_rock(rock_id, |p| {
        p.last_name = "Renamed".into();
        p.email = Some("renamed@example.org".into());
    });
    harness.edit_rock(accountant, |p| p.first_name = "Counted".into());
    harness
        .sandbox
        .set_token_user(pco_sandbox::TokenUser::people_editor_services(
            congregation::Level::Administrator,
        ));
    harness.sandbox.clear_requests();
    for (run, updates_only) in [
        ("2026-11-24T00:00:00Z", Some(false)),
        ("2026-11-25T00:00:00Z", Some(true)),
    ] {
        let report = harness
            .runtime
            .sync(
                &harness.guest,
                &harness.capabilities(),
                &harness.account(),
                &options_at(run, updates_only),
            )
            .await
            .expect("the sync runs");
        assert_eq!(report.counts.failed, 0, "{run}: {:?}", failures(&report));
        assert!(
            refused(&harness).is_empty(),
            "{run}: {:?}",
            refused(&harness)
        );
        let admin = flags(&report, rock_id);
        assert!(
            admin.iter().any(|f| f.contains("last-name")
                && f.contains("email")
                && f.contains("organization administrator")
                && f.contains("edit in PCO, or use an organization administrator's token")),
            "{run}: {admin:?}"
        );
        let accounting = flags(&report, accountant);
        assert!(
            accounting
                .iter()
                .any(|f| f.contains("first-name") && f.contains("accounting administrator")),
            "{run}: {accounting:?}"
        );
        assert_eq!(
            harness.pco_state(&pco_id)["person"]["attributes"]["last_name"],
            pco_last,
            "{run}: the name reached PCO"
        );
        assert_eq!(
            cursor(&harness).as_deref(),
            Some(run),
            "the flags held the cursor"
        );
    }
    // Rock keeps its value: the held change was not read as PCO's.
    assert_eq!(
        harness.world.rock.data.lock().unwrap().people[&rock_id].last_name,
        "Renamed"
    );
}

// Issue 23, PCO merges: a linked PCO person gone from PCO whose merges the token's user may
// not read (person_mergers answers 403 below People Manager) is "no merge known": the person
// is flagged and matched again, and the run goes on.
#[tokio::test]
async fn person_mergers_refused_means_no_merge_known_and_the_run_goes_on() {
    let harness = Harness::new(40, 5).await;
    let first = harness.sync(false).await.expect("the first sync runs");
    assert_eq!(first.counts.failed, 0, "{:?}", failures(&first));
    let links = harness.links();
    let (rock_id, pco_id) = links
        .iter()
        .next()
        .map(|(r, p)| (*r, p.clone()))
        .expect("a linked person");
    harness
        .pco_call(
            pcosync::bindings::pco::Method::Delete,
            &format!("/people/v2/people/{pco_id}"),
            serde_json::Value::Null,
        )
        .await;
    harness
        .sandbox
        .set_token_user(pco_sandbox::TokenUser::people_editor_services(
            congregation::Level::Administrator,
        ));
    harness.sandbox.clear_requests();
    let report = harness.sync(false).await.expect("the run goes on");
    let mergers: Vec<_> = harness
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/people/v2/person_mergers"))
        .map(|r| r.status)
        .collect();
    assert!(
        mergers.contains(&403),
        "the sandbox did not refuse: {mergers:?}"
    );
    let flagged = flags(&report, rock_id);
    assert!(
        flagged
            .iter()
            .any(|f| f.contains(&pco_id) && f.contains("no merge is known")),
        "{flagged:?}"
    );
}

/// Whether a logged request (path and query) reads or writes a person: People people (not
/// their contacts or apps), `me`, Services people (not their tag assignment).
fn is_person_request(method: &str, path: &str) -> bool {
    let bare = path.split('?').next().unwrap_or_default();
    let people = bare == "/people/v2/people"
        || bare
            .strip_prefix("/people/v2/people/")
            .is_some_and(|rest| !rest.contains('/'));
    let services = bare == "/services/v2/people"
        || bare
            .strip_prefix("/services/v2/people/")
            .is_some_and(|rest| !rest.contains('/'));
    let me = bare.ends_with("/v2/me");
    method != "DELETE" && (people || services || me)
}

// R53, issue 23: every read and every POST/PATCH of a person asks for `fields[Person]` (PCO
// answers with the whole person otherwise: background checks, medical notes, giving), through
// a first sync that creates, links, writes fields and grants, and a second after Rock edits.
#[tokio::test]
async fn every_person_read_and_write_asks_for_sparse_fields() {
    let harness = Harness::new(40, 5).await;
    harness.sandbox.clear_requests();
    let report = harness.sync(false).await.expect("the sync runs");
    assert_eq!(report.counts.failed, 0, "{:?}", failures(&report));
    assert!(report.counts.created > 0);
    let links = harness.links();
    let rock_id = *links.keys().next().unwrap();
    harness.edit_rock(rock_id, |p| p.middle_name = "Sparse".into());
    let report = harness.sync(false).await.expect("the second sync runs");
    assert_eq!(report.counts.failed, 0, "{:?}", failures(&report));
    let requests = harness.sandbox.requests();
    let methods: std::collections::BTreeSet<String> = requests
        .iter()
        .filter(|r| is_person_request(&r.method, &r.path))
        .map(|r| r.method.clone())
        .collect();
    assert!(
        ["GET", "PATCH", "POST"]
            .iter()
            .all(|m| methods.contains(*m)),
        "the runs did not read, create and patch people: {methods:?}"
    );
    let bare: Vec<String> = requests
        .iter()
        .filter(|r| is_person_request(&r.method, &r.path))
        .filter(|r| !r.path.contains("fields%5BPerson%5D=") && !r.path.contains("fields[Person]="))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(bare.is_empty(), "without fields[Person]: {bare:#?}");
}

/// PCO as the guest meets it, with one person left out of every full People list page (what
/// a page edge between people created in the same second does: issue 23).
struct SkipsOne {
    inner: std::sync::Arc<pcosync::pco::http::HttpPco>,
    skipped: String,
}

#[async_trait::async_trait]
impl pcosync::pco::Pco for SkipsOne {
    async fn send(
        &self,
        account: &str,
        request: &pcosync::bindings::pco::Request,
    ) -> Result<pcosync::bindings::pco::Response, pcosync::bindings::types::Error> {
        let mut response = self.inner.send(account, request).await?;
        let listing = request.path == "/people/v2/people"
            && !request.query.iter().any(|(k, _)| k.starts_with("where["));
        if listing {
            let mut page: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
            if let Some(data) = page["data"].as_array_mut() {
                data.retain(|p| p["id"].as_str() != Some(self.skipped.as_str()));
            }
            response.body = serde_json::to_vec(&page).unwrap();
        }
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

// Issue 23 (large accounts read from both ends by `created_at`, not unique): a full read that
// holds fewer distinct people than the first page's `total_count` cannot prove that an unlinked
// person has no match, so they are searched for before anyone is created: the person a page
// edge skipped is linked, not created a second time.
#[tokio::test]
async fn a_full_read_short_of_its_total_searches_before_creating() {
    let harness = Harness::new(40, 5).await;
    let dry = harness.sync(true).await.expect("the dry run plans");
    let (rock_id, pco_id) = dry
        .people
        .iter()
        .find_map(|p| {
            p.actions.iter().find_map(|a| match a {
                Action::Linked(id) => Some((p.rock_id?, id.clone())),
                _ => None,
            })
        })
        .filter(|(rock_id, _)| {
            harness.world.rock.data.lock().unwrap().people[rock_id]
                .email
                .is_some()
        })
        .expect("a person the first sync links by email");
    let report = harness
        .sync_through(std::sync::Arc::new(SkipsOne {
            inner: harness.pco.clone(),
            skipped: pco_id.clone(),
        }))
        .await
        .expect("the sync runs");
    assert_eq!(report.counts.failed, 0, "{:?}", failures(&report));
    assert_eq!(
        harness.links().get(&rock_id),
        Some(&pco_id),
        "linked elsewhere or created"
    );
    let created_again = report.people.iter().any(|p| {
        p.rock_id == Some(rock_id) && p.actions.iter().any(|a| matches!(a, Action::Created(_)))
    });
    assert!(!created_again);
}

/// Every person write's `gender` and API version, as the guest sends them.
struct Genders {
    inner: std::sync::Arc<pcosync::pco::http::HttpPco>,
    seen: std::sync::Mutex<Vec<(String, Option<String>)>>,
}

#[async_trait::async_trait]
impl pcosync::pco::Pco for Genders {
    async fn send(
        &self,
        account: &str,
        request: &pcosync::bindings::pco::Request,
    ) -> Result<pcosync::bindings::pco::Response, pcosync::bindings::types::Error> {
        if let Some(body) = &request.body {
            let document: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            if let Some(gender) = document["data"]["attributes"]["gender"].as_str() {
                let version = request
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("x-pco-api-version"))
                    .map(|(_, v)| v.clone());
                self.seen
                    .lock()
                    .unwrap()
                    .push((gender.to_string(), version));
            }
        }
        self.inner.send(account, request).await
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

// Issue 23, gender: written in the form the same API version returns on read. The guest pins
// People 2023-03-21, where `gender` reads "Male"/"Female" (2022-07-14 changed it from
// "M"/"F"): every write carries that version and that form, and reads back unchanged.
#[tokio::test]
async fn gender_is_written_as_the_pinned_version_reads_it() {
    let harness = Harness::new(40, 5).await;
    let genders = std::sync::Arc::new(Genders {
        inner: harness.pco.clone(),
        seen: Default::default(),
    });
    let report = harness
        .sync_through(genders.clone())
        .await
        .expect("the sync runs");
    assert_eq!(report.counts.failed, 0, "{:?}", failures(&report));
    let seen = genders.seen.lock().unwrap().clone();
    assert!(
        !seen.is_empty(),
        "no gender written: the test proves nothing"
    );
    for (gender, version) in &seen {
        assert!(["Male", "Female"].contains(&gender.as_str()), "{gender}");
        assert_eq!(version.as_deref(), Some("2023-03-21"), "{gender}");
    }
    // Read back at that version, every linked person's gender is in the form written.
    use pcosync::pco::Pco;
    for pco_id in harness.links().values() {
        let request = pcosync::bindings::pco::Request {
            method: pcosync::bindings::pco::Method::Get,
            path: format!("/people/v2/people/{pco_id}"),
            query: vec![("fields[Person]".into(), "gender".into())],
            headers: vec![("X-PCO-API-Version".into(), "2023-03-21".into())],
            body: None,
        };
        let response = harness
            .pco
            .send(&harness.account().name, &request)
            .await
            .unwrap();
        let read: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        let back = read["data"]["attributes"]["gender"].as_str();
        assert!(
            back.is_none_or(|g| ["Male", "Female"].contains(&g)),
            "{pco_id}: {back:?}"
        );
    }
}

// Issue 23: a revert with a token that is not an organization administrator's leaves an
// organization administrator's name as it is, and says why, instead of sending a write PCO
// refuses (planningcenter/developers#1139).
#[tokio::test]
async fn a_revert_leaves_an_organization_administrators_name_and_says_why() {
    let harness = Harness::new(40, 5).await;
    let first = harness.sync(false).await.expect("the first sync runs");
    assert_eq!(first.counts.failed, 0, "{:?}", failures(&first));
    let links = harness.links();
    let (rock_id, pco_id) = links
        .iter()
        .next()
        .map(|(r, p)| (*r, p.clone()))
        .expect("a linked person");
    harness.edit_rock(rock_id, |p| p.last_name = "Secondname".into());
    let rename = pcosync::bindings::engine::SyncOptions {
        run_id: "rename-run".into(),
        ..options_at("2026-11-24T00:00:00Z", None)
    };
    let renamed = harness
        .runtime
        .sync(
            &harness.guest,
            &harness.capabilities(),
            &harness.account(),
            &rename,
        )
        .await
        .expect("the rename runs");
    assert_eq!(renamed.counts.failed, 0, "{:?}", failures(&renamed));
    let last_name = |h: &Harness| h.pco_state(&pco_id)["person"]["attributes"]["last_name"].clone();
    assert_eq!(last_name(&harness), "Secondname");
    harness
        .edit_pco(
            &format!("/people/v2/people/{pco_id}"),
            serde_json::json!({"site_administrator": true}),
        )
        .await;
    harness
        .sandbox
        .set_token_user(pco_sandbox::TokenUser::people_editor_services(
            congregation::Level::Administrator,
        ));
    harness.sandbox.clear_requests();
    let options = pcosync::bindings::engine::RevertOptions {
        target: "rename-run".into(),
        rock_id: Some(rock_id),
        run: pcosync::bindings::engine::AdminOptions {
            run_id: "revert-run".into(),
            started_at: "2026-11-25T00:00:00Z".into(),
            dry_run: false,
        },
    };
    let report = harness
        .runtime
        .revert(
            &harness.guest,
            &harness.capabilities(),
            &harness.account(),
            &options,
        )
        .await
        .expect("the revert runs");
    assert_eq!(report.counts.failed, 0, "{:?}", failures(&report));
    assert!(refused(&harness).is_empty(), "{:?}", refused(&harness));
    assert_eq!(last_name(&harness), "Secondname");
    let said: Vec<String> = report
        .people
        .iter()
        .flat_map(|p| &p.actions)
        .map(|a| format!("{a:?}"))
        .collect();
    assert!(
        said.iter()
            .any(|a| a.contains("last-name") && a.contains("only an organization administrator")),
        "{said:?}"
    );
}

/// The Rock people a report links, by the PCO id, and those it creates.
fn links_and_creates(report: &Report) -> (Vec<(i64, String)>, Vec<i64>) {
    let mut linked = Vec::new();
    let mut created = Vec::new();
    for person in &report.people {
        for action in &person.actions {
            match (action, person.rock_id) {
                (Action::Linked(id), Some(rock_id)) => linked.push((rock_id, id.clone())),
                (Action::Created(_), Some(rock_id)) => created.push(rock_id),
                _ => {}
            }
        }
    }
    linked.sort();
    created.sort();
    (linked, created)
}

// Issue 23: an account of more than 30,000 people is read from both ends by `created_at`,
// which is not unique; with PCO answering ties in another order on every request (the
// sandbox's CreatedAtTies), page edges skip or repeat people. The read then holds fewer
// distinct people than its total, so the unlinked are searched for before any is created:
// the plan links and creates exactly whom it does without ties.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "about ten minutes on two cores (52,000 people): run with --ignored"]
async fn a_large_account_with_created_at_ties_links_the_same_people() {
    let harness = Harness::new(52_000, 5).await;
    let name = harness.account().name;
    let count = harness.sandbox.people_count(&name).unwrap();
    assert!(
        count > 30_000 && count <= 60_000,
        "{count} people: not read from both ends, the test proves nothing"
    );
    let searches = |h: &Harness| {
        h.sandbox
            .requests()
            .iter()
            .filter(|r| r.path.contains("search_name_or_email"))
            .count()
    };
    harness.sandbox.clear_requests();
    let plain = harness.sync(true).await.expect("the dry run plans");
    let plain_searches = searches(&harness);
    harness
        .sandbox
        .set_created_at_ties(Some(pco_sandbox::CreatedAtTies::default()));
    harness.sandbox.clear_requests();
    let tied = harness
        .sync(true)
        .await
        .expect("the dry run with ties plans");
    assert!(
        harness
            .sandbox
            .requests()
            .iter()
            .any(|r| r.path.contains("order=-created_at")),
        "the list was not read from both ends"
    );
    // The ties made the read short of its total: the unlinked were searched for (without
    // ties only the protected are).
    assert!(
        searches(&harness) > plain_searches,
        "no page edge skipped anyone: the test proves nothing"
    );
    let (plain_linked, plain_created) = links_and_creates(&plain);
    let (tied_linked, tied_created) = links_and_creates(&tied);
    assert!(!plain_linked.is_empty());
    assert_eq!(
        tied_created, plain_created,
        "ties made creates of people PCO has"
    );
    assert_eq!(tied_linked, plain_linked);
}
