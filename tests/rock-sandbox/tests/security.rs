//! Rock's security defaults: `Model.IsAllowedByDefault` (Rock/Data/Model.cs) allows VIEW, not
//! EDIT, so without a grant `CheckCanEdit` (Rock.Rest/ApiController.cs) refuses writes with 401.

mod common;

use common::{Rock, small};
use reqwest::Method;
use rock_sandbox::{RockSandbox, SandboxOptions};
use serde_json::{Value, json};

async fn start(entity_administration: bool) -> Rock {
    let options = SandboxOptions {
        entity_administration,
        ..common::options()
    };
    Rock {
        sandbox: RockSandbox::start_with(options, &small()).await.unwrap(),
        client: reqwest::Client::new(),
    }
}

/// A full PUT of the first row of `controller` (as read back), and a PATCH of one column;
/// their statuses and bodies.
async fn writes(rock: &Rock, controller: &str, column: &str, value: Value) -> Vec<(u16, Value)> {
    let row = rock.get(&format!("/api/{controller}?$top=1")).await[0].clone();
    let id = row["Id"].as_i64().unwrap();
    let mut changed = row.clone();
    changed[column] = value.clone();
    vec![
        rock.call(
            Method::PUT,
            &format!("/api/{controller}/{id}"),
            Some(changed),
        )
        .await,
        rock.call(
            Method::PATCH,
            &format!("/api/{controller}/{id}"),
            Some(json!({ column: value })),
        )
        .await,
    ]
}

#[tokio::test]
async fn without_entity_administration_phone_and_group_location_edits_are_401() {
    let rock = start(false).await;
    for (status, body) in writes(&rock, "PhoneNumbers", "Description", json!("new")).await {
        assert_eq!((status, body), (401, Value::Null));
    }
    for (status, body) in writes(&rock, "GroupLocations", "IsMailingLocation", json!(false)).await {
        assert_eq!((status, body), (401, Value::Null));
    }
    let phone = rock.get("/api/PhoneNumbers?$top=1").await[0].clone();
    let (status, _) = rock
        .call(
            Method::POST,
            "/api/PhoneNumbers",
            Some(json!({"PersonId": phone["PersonId"], "Number": "2175550100"})),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = rock
        .call(
            Method::DELETE,
            &format!("/api/PhoneNumbers/{}", phone["Id"]),
            None,
        )
        .await;
    assert_eq!(status, 401);
    // Reading is allowed by default, and SaveAddress calls no CheckCanEdit.
    assert!(rock.get("/api/GroupLocations").await.is_array());
    let family = *rock.sandbox.seed_ids().families.values().next().unwrap();
    let home = rock
        .get(&format!(
            "/api/DefinedValues?$filter=Guid eq guid'{}'",
            rock_sandbox::guids::DV_LOCATION_HOME
        ))
        .await[0]["Id"]
        .clone();
    let (status, _) = rock
        .call(
            Method::PUT,
            &format!("/api/Groups/SaveAddress/{family}/{home}?street1=1%20Elm%20St&city=Springfield&state=IL&postalCode=62701&country=US"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    // A grant given later (as an administrator would) lets the edits through.
    rock.sandbox.allow(&rock_sandbox::Right::EditPhoneNumbers);
    for (status, _) in writes(&rock, "PhoneNumbers", "Description", json!("new")).await {
        assert_eq!(status, 204);
    }
}

#[tokio::test]
async fn the_default_start_has_the_grant_a_set_up_church_gives() {
    assert!(SandboxOptions::default().entity_administration);
    let rock = Rock::start(&small()).await;
    for (status, _) in writes(&rock, "PhoneNumbers", "Description", json!("new")).await {
        assert_eq!(status, 204);
    }
    for (status, _) in writes(&rock, "GroupLocations", "IsMailingLocation", json!(false)).await {
        assert_eq!(status, 204);
    }
}
