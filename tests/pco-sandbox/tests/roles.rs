//! PCO's role model: what the token user's People and Services roles let it do, each refusal
//! shown refused and allowed, and each switchable with `RoleRules`.

mod common;

use common::{Client, empty_sandbox};
use congregation::Level;
use pco_sandbox::{PcoSandbox, RoleRules, TokenUser};
use serde_json::{Value, json};

const FORBIDDEN_403: &str = "You do not have access to this resource";

fn perms(level: &str) -> Value {
    json!({"data": {"type": "Person", "attributes": {"permissions": level}}})
}

/// A person with the Services app (an organization administrator's token does the setup).
async fn services_person(client: &Client, first: &str) -> String {
    let id = client.create_person(first, "Test", None).await;
    let (status, body) = client
        .post(
            &format!("/people/v2/people/{id}/person_apps"),
            json!({"data": {"type": "PersonApp", "attributes": {"app_id": 2}}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    id
}

fn assert_403(status: u16, body: &Value) {
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body,
        &json!({"errors": [{"status": "403", "title": "Forbidden", "detail": FORBIDDEN_403}]})
    );
}

async fn admin_person(sandbox: &PcoSandbox, client: &Client, attribute: &str) -> String {
    sandbox.set_token_user(TokenUser::ORGANIZATION_ADMINISTRATOR);
    let id = client
        .create_person("Ada", "Admin", Some("ada@example.org"))
        .await;
    let (status, body) = client
        .patch(
            &format!("/people/v2/people/{id}"),
            json!({"data": {"type": "Person", "attributes": {attribute: true}}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["attributes"][attribute], true);
    id
}

#[tokio::test]
async fn services_permissions_need_a_services_administrator() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    let id = services_person(&client, "Sam").await;
    let path = format!("/services/v2/people/{id}");
    for level in [Level::Scheduler, Level::Editor] {
        sandbox.set_token_user(TokenUser::people_editor_services(level));
        let (status, body) = client.patch(&path, perms("Viewer")).await;
        assert_403(status, &body);
        // Archiving goes through `permissions` too.
        let (status, body) = client.patch(&path, perms("Archived")).await;
        assert_403(status, &body);
    }
    let (_, body) = client.get(&path).await;
    assert_eq!(
        body["data"]["attributes"]["permissions"],
        "Scheduled Viewer"
    );
    // Other attributes are the person's own settings, not permissions.
    let (status, body) = client
        .patch(
            &path,
            json!({"data": {"type": "Person", "attributes": {"preferred_app": "services"}}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // A Services Administrator who is not an organization administrator may.
    sandbox.set_token_user(TokenUser::people_editor_services(Level::Administrator));
    let (status, body) = client.patch(&path, perms("Viewer")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["attributes"]["permissions"], "Viewer");
    // So may an organization administrator, and, with the rule off, a Scheduler.
    sandbox.set_token_user(TokenUser::ORGANIZATION_ADMINISTRATOR);
    let (status, _) = client.patch(&path, perms("Scheduler")).await;
    assert_eq!(status, 200);
    sandbox.set_token_user(TokenUser::people_editor_services(Level::Scheduler));
    sandbox.set_role_rules(RoleRules {
        services_permissions: false,
        ..RoleRules::ALL
    });
    let (status, body) = client.patch(&path, perms("Editor")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["attributes"]["permissions"], "Editor");
}

#[tokio::test]
async fn names_of_organization_and_accounting_administrators_need_an_organization_administrator() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    for attribute in ["site_administrator", "accounting_administrator"] {
        let id = admin_person(&sandbox, &client, attribute).await;
        let path = format!("/people/v2/people/{id}");
        sandbox.set_token_user(TokenUser::people_manager_services(Level::Administrator));
        let (status, body) = client
            .patch(
                &path,
                json!({"data": {"type": "Person", "attributes": {"first_name": "Eve", "last_name": "Taken"}}}),
            )
            .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(
            body,
            json!({"errors": [{"status": "422", "title": "Forbidden Attribute", "detail": "You cannot assign first_name and last_name to this Person"}]})
        );
        let (_, body) = client
            .patch(
                &path,
                json!({"data": {"type": "Person", "attributes": {"nickname": "E"}}}),
            )
            .await;
        assert_eq!(
            body["errors"][0]["detail"],
            "You cannot assign nickname to this Person"
        );
        let (_, body) = client.get(&path).await;
        assert_eq!(body["data"]["attributes"]["first_name"], "Ada");
        // Other attributes of an administrator stay editable by a People Manager.
        let (status, body) = client
            .patch(
                &path,
                json!({"data": {"type": "Person", "attributes": {"membership": "Staff"}}}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        // An organization administrator may rename them.
        sandbox.set_token_user(TokenUser::ORGANIZATION_ADMINISTRATOR);
        let (status, body) = client
            .patch(
                &path,
                json!({"data": {"type": "Person", "attributes": {"first_name": "Adah"}}}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["attributes"]["first_name"], "Adah");
    }
    // Anyone else's names are a People Editor's to change.
    let plain = client.create_person("Pat", "Plain", None).await;
    sandbox.set_token_user(TokenUser::people_editor_services(Level::Viewer));
    let (status, body) = client
        .patch(
            &format!("/people/v2/people/{plain}"),
            json!({"data": {"type": "Person", "attributes": {"first_name": "Patty"}}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn admin_names_rule_can_be_switched_off() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    let id = admin_person(&sandbox, &client, "site_administrator").await;
    sandbox.set_token_user(TokenUser::people_editor_services(Level::Viewer));
    sandbox.set_role_rules(RoleRules {
        admin_names: false,
        ..RoleRules::ALL
    });
    let (status, body) = client
        .patch(
            &format!("/people/v2/people/{id}"),
            json!({"data": {"type": "Person", "attributes": {"first_name": "Eve", "middle_name": "M", "last_name": "Taken"}}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    sandbox.set_role_rules(RoleRules::ALL);
    let (status, body) = client
        .patch(
            &format!("/people/v2/people/{id}"),
            json!({"data": {"type": "Person", "attributes": {"first_name": "Eve", "middle_name": "M", "last_name": "Taken"}}}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["errors"][0]["detail"],
        "You cannot assign first_name, middle_name, and last_name to this Person"
    );
}

#[tokio::test]
async fn contacts_of_administrators_need_an_organization_administrator() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    let id = admin_person(&sandbox, &client, "accounting_administrator").await;
    let (status, body) = client
        .post(
            &format!("/people/v2/people/{id}/phone_numbers"),
            json!({"data": {"type": "PhoneNumber", "attributes": {"number": "2175550100", "location": "Mobile"}}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let phone = body["data"]["id"].as_str().unwrap().to_string();
    let (_, emails) = client.get(&format!("/people/v2/people/{id}/emails")).await;
    let email = emails["data"][0]["id"].as_str().unwrap().to_string();
    // #1096: a People Manager's PATCH of the phone is a 403.
    sandbox.set_token_user(TokenUser::people_manager_services(Level::Administrator));
    let (status, body) = client
        .patch(
            &format!("/people/v2/phone_numbers/{phone}"),
            json!({"data": {"type": "PhoneNumber", "attributes": {"number": "2175550199"}}}),
        )
        .await;
    assert_403(status, &body);
    let (status, body) = client
        .post(
            &format!("/people/v2/people/{id}/emails"),
            json!({"data": {"type": "Email", "attributes": {"address": "x@example.org", "location": "Work"}}}),
        )
        .await;
    assert_403(status, &body);
    assert_eq!(
        client.delete(&format!("/people/v2/emails/{email}")).await,
        403
    );
    let (_, phones) = client
        .get(&format!("/people/v2/people/{id}/phone_numbers"))
        .await;
    assert_eq!(phones["data"][0]["attributes"]["number"], "(217) 555-0100");
    // An organization administrator may.
    sandbox.set_token_user(TokenUser::ORGANIZATION_ADMINISTRATOR);
    let (status, body) = client
        .patch(
            &format!("/people/v2/phone_numbers/{phone}"),
            json!({"data": {"type": "PhoneNumber", "attributes": {"number": "2175550199"}}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // With the rule off, so may the Manager.
    sandbox.set_token_user(TokenUser::people_manager_services(Level::Administrator));
    sandbox.set_role_rules(RoleRules {
        admin_contacts: false,
        ..RoleRules::ALL
    });
    assert_eq!(
        client.delete(&format!("/people/v2/emails/{email}")).await,
        204
    );
}

#[tokio::test]
async fn person_mergers_need_a_people_manager() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    sandbox.set_token_user(TokenUser::people_editor_services(Level::Administrator));
    let (status, body) = client.get("/people/v2/person_mergers").await;
    assert_403(status, &body);
    sandbox.set_token_user(TokenUser::people_manager_services(Level::Viewer));
    let (status, body) = client.get("/people/v2/person_mergers").await;
    assert_eq!(status, 200, "{body}");
    sandbox.set_token_user(TokenUser::ORGANIZATION_ADMINISTRATOR);
    let (status, _) = client.get("/people/v2/person_mergers").await;
    assert_eq!(status, 200);
    sandbox.set_token_user(TokenUser::people_editor_services(Level::Administrator));
    sandbox.set_role_rules(RoleRules::NONE);
    let (status, _) = client.get("/people/v2/person_mergers").await;
    assert_eq!(status, 200);
    assert_eq!(sandbox.role_rules(), RoleRules::NONE);
}

#[tokio::test]
async fn accounting_administrator_is_stored_and_rendered() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    let id = client.create_person("Acc", "Ount", None).await;
    let (_, body) = client.get(&format!("/people/v2/people/{id}")).await;
    assert_eq!(
        body["data"]["attributes"]["accounting_administrator"],
        false
    );
    admin_person(&sandbox, &client, "accounting_administrator").await;
}
