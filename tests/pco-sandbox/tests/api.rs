//! The sandbox's PCO API over loopback HTTP.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Client, empty_sandbox, seeded_sandbox, unlimited};
use congregation::{Congregation, Level, Presence};
use pco_sandbox::{EmailKind, PcoSandbox, SandboxOptions};
use serde_json::{Value, json};

#[tokio::test]
async fn pages_through_more_than_a_thousand_people_with_includes() {
    let (sandbox, c) = seeded_sandbox(1_600, 5).await;
    let client = Client::new(&sandbox, 0);
    let expected = c.pco_people(0).count();
    assert!(
        expected > 1_000,
        "only {expected} people in the main account"
    );
    let mut next =
        Some("/people/v2/people?per_page=100&include=emails,phone_numbers,addresses".to_string());
    let mut ids = HashSet::new();
    let mut pages = 0;
    let mut included_types = HashSet::new();
    while let Some(url) = next {
        let (status, body) = client.get(&url).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        assert_eq!(body["meta"]["total_count"], expected);
        let data = body["data"].as_array().unwrap();
        assert_eq!(body["meta"]["count"], data.len());
        for person in data {
            assert_eq!(person["type"], "Person");
            assert!(person["id"].is_string());
            assert!(
                ids.insert(person["id"].as_str().unwrap().to_string()),
                "duplicate across pages"
            );
            for rel in ["emails", "phone_numbers", "addresses"] {
                assert!(person["relationships"][rel]["data"].is_array());
            }
        }
        for inc in body["included"].as_array().unwrap() {
            included_types.insert(inc["type"].as_str().unwrap().to_string());
            assert!(inc["relationships"]["person"]["data"]["id"].is_string());
        }
        match body["links"]["next"].as_str() {
            Some(n) => {
                assert_eq!(body["meta"]["next"]["offset"], pages * 100);
                next = Some(n.to_string());
            }
            None => {
                assert!(body["meta"].get("next").is_none());
                next = None;
            }
        }
    }
    assert_eq!(ids.len(), expected);
    assert_eq!(pages, expected.div_ceil(100));
    assert_eq!(
        included_types,
        HashSet::from(["Email".to_string(), "PhoneNumber".into(), "Address".into()])
    );
    // Defaults and the clamp.
    let (_, body) = client.get("/people/v2/people").await;
    assert_eq!(body["data"].as_array().unwrap().len(), 25);
    assert_eq!(body["included"], json!([]));
    let (_, body) = client.get("/people/v2/people?per_page=500").await;
    assert_eq!(body["data"].as_array().unwrap().len(), 100);
}

#[tokio::test]
async fn seeding_follows_the_congregation_and_is_deterministic() {
    let c = Congregation::generate(300, 9);
    let a = PcoSandbox::start_with(unlimited(), &c).await.unwrap();
    let b = PcoSandbox::start_with(unlimited(), &c).await.unwrap();
    assert_eq!(a.accounts(), b.accounts());
    assert_eq!(a.accounts().len(), 2);
    for (i, name) in c.accounts.iter().enumerate() {
        assert_eq!(a.people_count(name), Some(c.pco_people(i).count()));
    }
    let drifted = c
        .people
        .iter()
        .find(|m| m.presence == Presence::Both && m.pco_email_drift.is_some())
        .unwrap();
    let account = &c.accounts[drifted.pco_accounts[0]];
    let id = a.pco_id(account, drifted.key).unwrap();
    assert_eq!(b.pco_id(account, drifted.key), Some(id.clone()));
    let state = a.person_state(account, &id).unwrap();
    let emails: Vec<&str> = state["included"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "Email")
        .map(|i| i["attributes"]["address"].as_str().unwrap())
        .collect();
    assert_eq!(emails, vec![drifted.pco_email_drift.as_deref().unwrap()]);
    assert_eq!(
        state["services"]["attributes"]["permissions"],
        drifted.pco_level.unwrap().pco_name()
    );
    assert!(
        c.people
            .iter()
            .filter(|m| m.presence == Presence::RockOnly)
            .all(|m| a.pco_id(&c.accounts[0], m.key).is_none())
    );
}

#[tokio::test]
async fn filters_and_order() {
    let (sandbox, c) = seeded_sandbox(400, 2).await;
    let client = Client::new(&sandbox, 0);
    let m = c.pco_people(0).find(|m| m.pco_email().is_some()).unwrap();
    let id = sandbox.pco_id(&c.accounts[0], m.key).unwrap();
    let first = m.pco_first_name();
    let (_, body) = client
        .get(&format!(
            "/people/v2/people?where[first_name]={first}&where[last_name]={}",
            m.last_name
        ))
        .await;
    let found: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(found.contains(&id.as_str()));
    assert!(
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["attributes"]["first_name"] == first)
    );
    assert!(
        body["links"]["self"]
            .as_str()
            .unwrap()
            .contains("where[first_name]=")
    );
    // Email search, both ways research lists (search_name_or_email, /emails where[address]).
    let email = m.pco_email().unwrap().to_uppercase();
    let (_, body) = client
        .get(&format!(
            "/people/v2/people?where[search_name_or_email]={email}"
        ))
        .await;
    assert_eq!(body["data"][0]["id"], id.as_str());
    // Email documents no includes (schema people.email can_include is empty): the person is
    // named by the email's `person` relationship.
    let (status, _) = client
        .get(&format!(
            "/people/v2/emails?where[address]={email}&include=person"
        ))
        .await;
    assert_eq!(status, 400);
    let (_, body) = client
        .get(&format!("/people/v2/emails?where[address]={email}"))
        .await;
    assert_eq!(body["meta"]["total_count"], 1);
    assert_eq!(
        body["data"][0]["relationships"]["person"]["data"]["id"],
        id.as_str()
    );
    let (_, body) = client
        .get(&format!(
            "/people/v2/people?where[search_name]={}",
            m.last_name.to_lowercase()
        ))
        .await;
    assert!(body["meta"]["total_count"].as_u64().unwrap() >= 1);
    // remote_id.
    let (status, _) = client
        .patch(
            &format!("/people/v2/people/{id}"),
            json!({"data": {"attributes": {"remote_id": 4242}}}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, body) = client.get("/people/v2/people?where[remote_id]=4242").await;
    assert_eq!(body["meta"]["total_count"], 1);
    assert_eq!(body["data"][0]["attributes"]["remote_id"], 4242);
    // updated_at: the person just patched is the newest, and gte finds only it.
    let (_, body) = client
        .get("/people/v2/people?order=-updated_at&per_page=1")
        .await;
    assert_eq!(body["data"][0]["id"], id.as_str());
    let stamp = body["data"][0]["attributes"]["updated_at"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, body) = client
        .get(&format!(
            "/people/v2/people?where[updated_at][gte]={stamp}&order=updated_at"
        ))
        .await;
    assert_eq!(body["meta"]["total_count"], 1);
    let (_, body) = client
        .get("/people/v2/people?order=updated_at&per_page=100")
        .await;
    let stamps: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["attributes"]["updated_at"].as_str().unwrap())
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]));
    // Bad filters are 400s in PCO's shape.
    let (status, body) = client
        .get("/people/v2/people?where[updated_at][gte]=yesterday")
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["status"], "400");
    let (status, _) = client.get("/people/v2/people?where[shoe_size]=9").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn authentication_is_per_account() {
    let options = SandboxOptions {
        accounts: vec!["Main Campus".into(), "North Campus".into()],
        ..unlimited()
    };
    let sandbox = PcoSandbox::start(options).await.unwrap();
    let main = Client::new(&sandbox, 0);
    let north = Client::new(&sandbox, 1);
    let id = main.create_person("Ann", "Lee", None).await;
    assert_eq!(main.get(&format!("/people/v2/people/{id}")).await.0, 200);
    assert_eq!(
        north.get(&format!("/people/v2/people/{id}")).await.0,
        404,
        "accounts do not share people"
    );
    let http = reqwest::Client::new();
    let url = format!("{}/people/v2/people", sandbox.base_url());
    for request in [
        http.get(&url),
        http.get(&url).basic_auth(&main.cred.app_id, Some("wrong")),
        http.get(&url)
            .basic_auth(&main.cred.app_id, Some(&north.cred.secret)),
        http.get(&url).bearer_auth(&main.cred.secret),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert!(response.headers().get("www-authenticate").is_some());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["status"], "401");
        assert_eq!(body["errors"][0]["title"], "Unauthorized");
    }
    let log = sandbox.requests();
    assert_eq!(log.iter().filter(|r| r.status == 401).count(), 4);
    assert!(
        log.iter()
            .filter(|r| r.status == 401)
            .all(|r| r.account.is_none())
    );
}

#[tokio::test]
async fn validation_errors_have_pcos_shape() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    // An attribute the docs do not list as assignable is refused before any value is read.
    let (status, body) = client
        .post("/people/v2/people", json!({"data": {"attributes": {"first_name": "A", "birthdate": "1990-02-30", "bogus": 1}}}))
        .await;
    assert_eq!(status, 422);
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["source"]["parameter"], "bogus");
    assert_eq!(errors[0]["meta"]["resource"], "Person");
    let (status, body) = client
        .post("/people/v2/people", json!({"data": {"attributes": {"first_name": "A", "birthdate": "1990-02-30", "last_name": 1}}}))
        .await;
    assert_eq!(status, 422);
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{body}");
    let forbidden = errors
        .iter()
        .find(|e| e["source"]["parameter"] == "last_name")
        .unwrap();
    assert_eq!(forbidden["detail"], "must be a string");
    assert_eq!(forbidden["status"], "422");
    let date = errors
        .iter()
        .find(|e| e["source"]["parameter"] == "birthdate")
        .unwrap();
    assert_eq!(date["title"], "Validation Error");
    assert_eq!(
        sandbox.people_count("Main Campus"),
        Some(0),
        "a refused create stores nothing"
    );
    let id = client.create_person("Ann", "Lee", None).await;
    let (status, body) = client
        .post(
            &format!("/people/v2/people/{id}/emails"),
            json!({"data": {"attributes": {"address": "not an email", "location": "Home"}}}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["source"]["parameter"], "address");
    assert_eq!(body["errors"][0]["meta"]["resource"], "Email");
    let (status, _) = client
        .post(
            &format!("/people/v2/people/{id}/phone_numbers"),
            json!({"data": {"attributes": {"number": "2175550100"}}}),
        )
        .await;
    assert_eq!(status, 422, "phone location is required");
    let (status, body) = client.post("/people/v2/people", json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["code"], "invalid_resource_payload");
    let (status, body) = client
        .patch(
            &format!("/services/v2/people/{id}"),
            json!({"data": {"attributes": {"permissions": "Editor"}}}),
        )
        .await;
    assert_eq!(status, 404, "not in Services until given the app: {body}");
    // PUT is not routed by PCO at all.
    let response = client
        .send(
            reqwest::Method::PUT,
            &format!("/people/v2/people/{id}"),
            Some(json!({})),
        )
        .await;
    assert_eq!(response.status(), 404);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn contacts_crud_and_updated_at() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    let id = client
        .create_person("Bob", "Smith", Some("bob@example.com"))
        .await;
    let person = format!("/people/v2/people/{id}");
    let stamp = |body: &Value| {
        body["data"]["attributes"]["updated_at"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (_, body) = client.get(&person).await;
    let mut last = stamp(&body);
    // A PATCH that changes nothing leaves updated_at.
    let (_, body) = client
        .patch(
            &person,
            json!({"data": {"attributes": {"first_name": "Bob"}}}),
        )
        .await;
    assert_eq!(stamp(&body), last);
    let (_, body) = client.patch(&person, json!({"data": {"attributes": {"given_name": "Robert", "gender": "Male", "birthdate": "1980-05-01"}}})).await;
    assert!(stamp(&body) > last);
    assert_eq!(body["data"]["attributes"]["gender"], "Male");
    last = stamp(&body);
    let (status, phone) = client.post(&format!("{person}/phone_numbers"), json!({"data": {"attributes": {"number": "217-555-0100", "location": "Mobile", "primary": true}}})).await;
    assert_eq!(status, 201);
    assert_eq!(phone["data"]["attributes"]["number"], "(217) 555-0100");
    assert_eq!(phone["data"]["attributes"]["e164"], "+12175550100");
    let (_, body) = client.get(&person).await;
    assert!(
        stamp(&body) > last,
        "a new phone moves the person's updated_at"
    );
    last = stamp(&body);
    let (status, address) = client
        .post(&format!("{person}/addresses"), json!({"data": {"attributes": {"street_line_1": "1 Main St", "city": "Springfield", "state": "IL", "zip": "62701", "location": "Home"}}}))
        .await;
    assert_eq!(status, 201);
    let address_id = address["data"]["id"].as_str().unwrap();
    let (status, body) = client
        .patch(
            &format!("/people/v2/addresses/{address_id}"),
            json!({"data": {"attributes": {"city": "Chatham"}}}),
        )
        .await;
    assert_eq!(
        (status, body["data"]["attributes"]["city"].as_str()),
        (200, Some("Chatham"))
    );
    let (_, body) = client.get(&person).await;
    assert!(stamp(&body) > last);
    last = stamp(&body);
    let (_, emails) = client.get(&format!("{person}/emails")).await;
    let email_id = emails["data"][0]["id"].as_str().unwrap();
    assert_eq!(
        client
            .delete(&format!("/people/v2/emails/{email_id}"))
            .await,
        204
    );
    assert_eq!(
        client.get(&format!("/people/v2/emails/{email_id}")).await.0,
        404
    );
    let (_, body) = client
        .get(&format!("{person}?include=emails,phone_numbers,addresses"))
        .await;
    assert!(stamp(&body) > last, "deleting an email moves updated_at");
    assert_eq!(body["data"]["relationships"]["emails"]["data"], json!([]));
    assert_eq!(body["included"].as_array().unwrap().len(), 2);
    // Services changes do not move People's updated_at.
    last = stamp(&body);
    client
        .post(
            &format!("{person}/person_apps"),
            json!({"data": {"attributes": {"app_id": 2}}}),
        )
        .await;
    let (_, body) = client.get(&person).await;
    last = last.max(stamp(&body));
    let (_, groups) = client
        .get("/services/v2/tag_groups?filter=person&include=tags")
        .await;
    let tag = groups["included"][0]["id"].as_str().unwrap();
    let status = client
        .send(reqwest::Method::POST, &format!("/services/v2/people/{id}/assign_tags"), Some(json!({"data": {"type": "TagAssignment", "attributes": {}, "relationships": {"tags": {"data": [{"type": "Tag", "id": tag}]}}}})))
        .await
        .status();
    assert_eq!(status, 204);
    client
        .patch(
            &format!("/services/v2/people/{id}"),
            json!({"data": {"attributes": {"permissions": "Viewer"}}}),
        )
        .await;
    let (_, body) = client.get(&person).await;
    assert_eq!(stamp(&body), last);
    // Deleting the person removes them everywhere.
    assert_eq!(client.delete(&person).await, 204);
    assert_eq!(client.get(&person).await.0, 404);
    assert_eq!(
        client.get(&format!("/services/v2/people/{id}")).await.0,
        404
    );
}

async fn assign(client: &Client, id: &str, tags: &[&str]) -> u16 {
    let data: Vec<Value> = tags
        .iter()
        .map(|t| json!({"type": "Tag", "id": t}))
        .collect();
    let body = json!({"data": {"type": "TagAssignment", "attributes": {}, "relationships": {"tags": {"data": data}}}});
    client
        .send(
            reqwest::Method::POST,
            &format!("/services/v2/people/{id}/assign_tags"),
            Some(body),
        )
        .await
        .status()
        .as_u16()
}

async fn current_tags(client: &Client, id: &str) -> Vec<String> {
    let (_, body) = client
        .get(&format!("/services/v2/people/{id}?include=tags"))
        .await;
    let mut ids: Vec<String> = body["included"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn assign_tags_replaces_the_whole_set() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    let id = client.create_person("Cat", "Kim", None).await;
    assert_eq!(assign(&client, &id, &[]).await, 404, "not in Services yet");
    client
        .post(
            &format!("/people/v2/people/{id}/person_apps"),
            json!({"data": {"attributes": {"app_id": "2"}}}),
        )
        .await;
    let (_, groups) = client
        .get("/services/v2/tag_groups?filter=person&include=tags")
        .await;
    assert_eq!(groups["data"].as_array().unwrap().len(), 2);
    let tags: Vec<String> = groups["included"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tags.len(), 7);
    let (a, b, c) = (tags[0].as_str(), tags[1].as_str(), tags[5].as_str());
    assert_eq!(assign(&client, &id, &[a, b]).await, 204);
    assert_eq!(
        current_tags(&client, &id).await,
        vec![a.to_string(), b.to_string()]
    );
    assert_eq!(assign(&client, &id, &[c]).await, 204);
    assert_eq!(
        current_tags(&client, &id).await,
        vec![c.to_string()],
        "replaced, not added"
    );
    assert_eq!(assign(&client, &id, &["999999"]).await, 422);
    assert_eq!(
        current_tags(&client, &id).await,
        vec![c.to_string()],
        "a refused assignment changes nothing"
    );
    assert_eq!(assign(&client, &id, &[]).await, 204);
    assert!(current_tags(&client, &id).await.is_empty());
    let (_, list) = client.get("/services/v2/people?include=tags").await;
    assert_eq!(list["data"][0]["relationships"]["tags"]["data"], json!([]));
}

#[tokio::test]
async fn outbox_records_raise_and_org_admin_notices_and_never_a_welcome() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    let (_, templates) = client.get("/services/v2/email_templates").await;
    let welcome = templates["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["attributes"]["subject"] == pco_sandbox::WELCOME_TEMPLATE)
        .unwrap();
    let welcome_id = welcome["id"].as_str().unwrap();
    let (_, apps) = client.get("/people/v2/apps?where[name]=Services").await;
    let services = apps["data"][0]["id"].as_str().unwrap().to_string();
    let id = client
        .create_person("Dee", "Lopez", Some("dee@example.com"))
        .await;
    // PersonApp's only assignable attribute is app_id: a template is PCO's 422 (issue 14.1).
    let (status, body) = client
        .post(&format!("/people/v2/people/{id}/person_apps"), json!({"data": {"type": "PersonApp", "attributes": {"app_id": services, "email_template_id": welcome_id}}}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["title"], "Forbidden Attribute", "{body}");
    assert_eq!(
        body["errors"][0]["detail"], "email_template_id cannot be assigned",
        "{body}"
    );
    let (status, body) = client
        .post(
            &format!("/people/v2/people/{id}/person_apps"),
            json!({"data": {"type": "PersonApp", "attributes": {"app_id": services}}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = client
        .post(
            &format!("/people/v2/people/{id}/person_apps"),
            json!({"data": {"attributes": {"app_id": services}}}),
        )
        .await;
    assert_eq!(status, 422, "the app is already granted");
    let (status, _) = client
        .post(
            &format!("/people/v2/people/{id}/person_apps"),
            json!({"data": {"attributes": {"app_id": 2, "allow_pco_login": true}}}),
        )
        .await;
    assert_eq!(status, 403);
    assert!(sandbox.outbox().is_empty(), "the API sends no welcome");
    let quiet = client.create_person("Eve", "Moore", None).await;
    client
        .post(
            &format!("/people/v2/people/{quiet}/person_apps"),
            json!({"data": {"attributes": {"app_id": 2}}}),
        )
        .await;
    // Raise: notice; same level again: nothing; lower: nothing for a non-admin.
    let services_person = format!("/services/v2/people/{id}");
    let perms =
        |level: &str| json!({"data": {"type": "Person", "attributes": {"permissions": level}}});
    let (status, body) = client.patch(&services_person, perms("Editor")).await;
    assert_eq!(
        (status, body["data"]["attributes"]["permissions"].as_str()),
        (200, Some("Editor"))
    );
    client.patch(&services_person, perms("Editor")).await;
    client.patch(&services_person, perms("Viewer")).await;
    let raised: Vec<_> = sandbox
        .outbox()
        .into_iter()
        .filter(|e| e.kind == EmailKind::PermissionRaised)
        .collect();
    assert_eq!(raised.len(), 1);
    assert_eq!(
        (
            raised[0].from_permissions.as_deref(),
            raised[0].to_permissions.as_deref()
        ),
        (Some("Scheduled Viewer"), Some("Editor"))
    );
    // Archive, then unarchive: unarchiving grants access again, so it notifies.
    let (_, body) = client.patch(&services_person, perms("Archived")).await;
    assert_eq!(body["data"]["attributes"]["archived"], true);
    assert!(body["data"]["attributes"]["archived_at"].is_string());
    client
        .patch(&services_person, perms("Scheduled Viewer"))
        .await;
    assert_eq!(
        sandbox
            .outbox()
            .iter()
            .filter(|e| e.kind == EmailKind::PermissionRaised)
            .count(),
        2
    );
    let (status, _) = client.patch(&services_person, perms("Superuser")).await;
    assert_eq!(status, 422);
    // Lowering an organization administrator notifies every organization administrator.
    client
        .patch(
            &format!("/people/v2/people/{quiet}"),
            json!({"data": {"attributes": {"site_administrator": true}}}),
        )
        .await;
    client
        .patch(
            &format!("/services/v2/people/{quiet}"),
            perms("Administrator"),
        )
        .await;
    sandbox.clear_outbox();
    client
        .patch(&format!("/services/v2/people/{quiet}"), perms("Viewer"))
        .await;
    let outbox = sandbox.outbox();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].kind, EmailKind::OrgAdminLowered);
    assert_eq!(outbox[0].recipients, vec![quiet.clone()]);
    client
        .patch(
            &format!("/people/v2/people/{quiet}"),
            json!({"data": {"attributes": {"site_administrator": false}}}),
        )
        .await;
    assert_eq!(
        sandbox
            .outbox()
            .iter()
            .filter(|e| e.kind == EmailKind::OrgAdminLowered)
            .count(),
        2
    );
}

#[tokio::test]
async fn seeded_services_people_have_levels_archived_and_tags() {
    let (sandbox, c) = seeded_sandbox(600, 4).await;
    // Archived people are listed only when the organization's PCO lists them (issue 14.6).
    sandbox.set_archived_listed(true);
    let client = Client::new(&sandbox, 0);
    let mut seen = HashSet::new();
    let mut next = Some("/services/v2/people?per_page=100&include=tags".to_string());
    let mut archived = 0;
    let mut tagged = 0;
    while let Some(url) = next {
        let (status, body) = client.get(&url).await;
        assert_eq!(status, 200);
        for p in body["data"].as_array().unwrap() {
            seen.insert(p["attributes"]["permissions"].as_str().unwrap().to_string());
            archived += usize::from(p["attributes"]["archived"] == true);
            tagged += usize::from(
                !p["relationships"]["tags"]["data"]
                    .as_array()
                    .unwrap()
                    .is_empty(),
            );
        }
        next = body["links"]["next"].as_str().map(str::to_string);
    }
    let expected_archived = c.pco_people(0).filter(|m| m.pco_archived).count();
    assert_eq!(archived, expected_archived);
    assert!(tagged > 0);
    assert!(seen.contains("Archived") || expected_archived == 0);
    assert!(seen.contains(Level::ScheduledViewer.pco_name()));
    // By default the Services list leaves them out; each is still there by id.
    sandbox.set_archived_listed(false);
    let (_, listed) = client.get("/services/v2/people?per_page=100").await;
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["attributes"]["archived"] != true)
    );
    let (_, me) = client.get("/people/v2/me").await;
    assert_eq!(me["data"]["attributes"]["site_administrator"], true);
}

#[tokio::test]
async fn avatar_upload_then_patch() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    let id = client.create_person("Fay", "Ng", None).await;
    let (_, before) = client.get(&format!("/people/v2/people/{id}")).await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3])
            .file_name("fay.jpg")
            .mime_str("image/jpeg")
            .unwrap(),
    );
    let response = client
        .request(reqwest::Method::POST, "/v2/files")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let file = body["data"][0]["id"].as_str().unwrap();
    assert_eq!(body["data"][0]["attributes"]["file_size"], 7);
    let (status, body) = client
        .patch(
            &format!("/people/v2/people/{id}"),
            json!({"data": {"attributes": {"avatar": file}}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_ne!(
        body["data"]["attributes"]["avatar"],
        before["data"]["attributes"]["avatar"]
    );
    assert!(
        body["data"]["attributes"]["updated_at"].as_str()
            > before["data"]["attributes"]["updated_at"].as_str()
    );
    let state = sandbox.person_state("Main Campus", &id).unwrap();
    assert_eq!(state["avatar_file"]["content_type"], "image/jpeg");
    let (status, _) = client
        .patch(
            &format!("/people/v2/people/{id}"),
            json!({"data": {"attributes": {"avatar": "us1-nope"}}}),
        )
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn api_version_header_switches_shapes() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    let id = client.create_person("Gus", "Hall", None).await;
    client
        .patch(
            &format!("/people/v2/people/{id}"),
            json!({"data": {"attributes": {"gender": "Male"}}}),
        )
        .await;
    client.post(&format!("/people/v2/people/{id}/addresses"), json!({"data": {"attributes": {"street_line_1": "2 Oak Ave", "city": "Plano", "location": "Home"}}})).await;
    let old = client
        .request(
            reqwest::Method::GET,
            &format!("/people/v2/people/{id}?include=addresses"),
        )
        .header("X-PCO-API-Version", "2019-01-14")
        .send()
        .await
        .unwrap();
    let old: Value = old.json().await.unwrap();
    assert_eq!(old["data"]["attributes"]["gender"], "M");
    assert_eq!(old["included"][0]["attributes"]["street"], "2 Oak Ave");
    let (_, new) = client
        .get(&format!("/people/v2/people/{id}?include=addresses"))
        .await;
    assert_eq!(new["data"]["attributes"]["gender"], "Male");
    assert_eq!(
        new["included"][0]["attributes"]["street_line_1"],
        "2 Oak Ave"
    );
    let too_old = client
        .request(reqwest::Method::GET, "/people/v2/people")
        .header("X-PCO-API-Version", "2017-01-01")
        .send()
        .await
        .unwrap();
    assert_eq!(too_old.status(), 400);
}

#[tokio::test]
async fn clock_can_be_advanced_and_stamps_follow() {
    let options = SandboxOptions {
        clock: pco_sandbox::ClockMode::Fixed(1_700_000_000),
        ..unlimited()
    };
    let sandbox = PcoSandbox::start(options).await.unwrap();
    let client = Client::new(&sandbox, 0);
    assert_eq!(sandbox.now(), "2023-11-14T22:13:20Z");
    let a = client.create_person("H", "One", None).await;
    sandbox.advance_clock(Duration::from_secs(86_400));
    let b = client.create_person("H", "Two", None).await;
    let (_, body) = client
        .get("/people/v2/people?where[created_at][gte]=2023-11-15T12:00:00Z")
        .await;
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![b.as_str()]);
    assert_ne!(a, b);
}

#[tokio::test]
async fn merges_remove_a_person_and_are_listed() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    let keep = client
        .create_person("Lou", "Reed", Some("lou@example.com"))
        .await;
    let gone = client
        .create_person("Louis", "Reed", Some("louis@example.com"))
        .await;
    sandbox.merge_people("Main Campus", &keep, &gone).unwrap();
    assert_eq!(
        client.get(&format!("/people/v2/people/{gone}")).await.0,
        404
    );
    let (_, body) = client
        .get(&format!("/people/v2/people/{keep}/emails"))
        .await;
    assert_eq!(body["meta"]["total_count"], 2);
    let (_, body) = client
        .get(&format!(
            "/people/v2/person_mergers?where[person_to_remove_id]={gone}"
        ))
        .await;
    assert_eq!(
        body["data"][0]["attributes"]["person_to_keep_id"].to_string(),
        keep
    );
    assert!(sandbox.merge_people("Main Campus", &keep, &gone).is_err());
    let response = client
        .send(reqwest::Method::GET, "/people/v2/people", None)
        .await;
    assert_eq!(
        response.headers()["x-pco-api-processed-as-version"],
        "2025-11-10"
    );
}

#[tokio::test]
async fn changing_a_login_email_is_noticed_only_for_people_who_can_log_in() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    let id = client
        .create_person("Max", "Ford", Some("max@example.com"))
        .await;
    let email_path = |body: &Value| {
        format!(
            "/people/v2/emails/{}",
            body["data"][0]["id"].as_str().unwrap()
        )
    };
    let (_, emails) = client.get(&format!("/people/v2/people/{id}/emails")).await;
    let patch = json!({"data": {"attributes": {"address": "max.ford@example.com"}}});
    client.patch(&email_path(&emails), patch).await;
    assert!(sandbox.outbox().is_empty(), "no app, no login");
    client
        .post(
            &format!("/people/v2/people/{id}/person_apps"),
            json!({"data": {"attributes": {"app_id": 2}}}),
        )
        .await;
    let patch = json!({"data": {"attributes": {"address": "mford@example.com"}}});
    client.patch(&email_path(&emails), patch).await;
    let outbox = sandbox.outbox();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].kind, EmailKind::LoginChanged);
    assert_eq!(
        outbox[0].to_address.as_deref(),
        Some("max.ford@example.com")
    );
    assert_eq!(client.delete(&email_path(&emails)).await, 204);
    assert_eq!(sandbox.outbox().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_writes_get_unique_ids_and_distinct_stamps() {
    let sandbox = empty_sandbox().await;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let client = Client::new(&sandbox, 0);
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..25 {
                ids.push(
                    client
                        .create_person("Par", &format!("Allel{t}x{n}"), None)
                        .await,
                );
            }
            ids
        }));
    }
    let mut ids = HashSet::new();
    for task in tasks {
        ids.extend(task.await.unwrap());
    }
    assert_eq!(ids.len(), 200);
    let client = Client::new(&sandbox, 0);
    let mut stamps = HashSet::new();
    let mut next = Some("/people/v2/people?per_page=100".to_string());
    while let Some(url) = next {
        let (_, body) = client.get(&url).await;
        for p in body["data"].as_array().unwrap() {
            stamps.insert(p["attributes"]["updated_at"].as_str().unwrap().to_string());
        }
        next = body["links"]["next"].as_str().map(str::to_string);
    }
    assert_eq!(stamps.len(), 200, "no two writes share an updated_at");
}

// Issue 14.3: `id` is not in People's `can_order`; the default order is ascending id.
#[tokio::test]
async fn people_cannot_be_ordered_by_id_and_come_in_id_order() {
    let (sandbox, _) = seeded_sandbox(60, 3).await;
    let client = Client::new(&sandbox, 0);
    let (status, body) = client.get("/people/v2/people?order=id").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["errors"][0]["detail"].as_str().unwrap().contains("id"));
    let (status, body) = client.get("/people/v2/people?per_page=100").await;
    assert_eq!(status, 200);
    let ids: Vec<u64> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let (status, body) = client.get("/people/v2/people?order=-remote_id").await;
    assert_eq!(status, 200, "{body}");
}

// Issue 14.2: a new Services profile starts at the organization's default, which may be above
// Scheduled Viewer.
#[tokio::test]
async fn a_new_services_profile_starts_at_the_organization_default() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    for (level, name) in [
        (Level::ScheduledViewer, "Scheduled Viewer"),
        (Level::Viewer, "Viewer"),
    ] {
        sandbox.set_new_services_level(level);
        let id = client.create_person("Dee", name, None).await;
        let (status, body) = client
            .post(
                &format!("/people/v2/people/{id}/person_apps"),
                json!({"data": {"type": "PersonApp", "attributes": {"app_id": 2}}}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let (_, person) = client.get(&format!("/services/v2/people/{id}")).await;
        assert_eq!(person["data"]["attributes"]["permissions"], name);
    }
}
