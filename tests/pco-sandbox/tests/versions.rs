//! Version-dependent forms (gender) and ties on `created_at`.

mod common;

use std::collections::HashSet;

use common::{Client, empty_sandbox};
use pco_sandbox::CreatedAtTies;
use serde_json::{Value, json};

async fn patch_gender(client: &Client, id: &str, version: &str, gender: &str) -> (u16, Value) {
    let response = client
        .request(reqwest::Method::PATCH, &format!("/people/v2/people/{id}"))
        .header("X-PCO-API-Version", version)
        .json(&json!({"data": {"type": "Person", "attributes": {"gender": gender}}}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn gender_takes_only_the_form_of_the_requested_version() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    let id = client.create_person("Gus", "Gee", None).await;
    for (version, good, bad) in [
        ("2018-08-01", "M", "Male"),
        ("2022-07-13", "F", "Female"),
        ("2022-07-14", "Male", "M"),
        ("2023-03-21", "Female", "F"),
        ("2025-11-10", "Male", "male"),
    ] {
        let (status, body) = patch_gender(&client, &id, version, good).await;
        assert_eq!(status, 200, "{version} {good}: {body}");
        assert_eq!(body["data"]["attributes"]["gender"], good);
        let (status, body) = patch_gender(&client, &id, version, bad).await;
        assert_eq!(status, 422, "{version} {bad}: {body}");
        assert_eq!(body["errors"][0]["title"], "Validation Error");
        assert_eq!(body["errors"][0]["source"]["parameter"], "gender");
    }
}

async fn created_order(client: &Client, order: &str) -> Vec<String> {
    let (status, body) = client
        .get(&format!("/people/v2/people?order={order}&per_page=100"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn created_at_ties_shuffle_between_requests_only_when_asked() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    for n in 0..30 {
        client.create_person(&format!("P{n}"), "Tie", None).await;
    }
    // Off by default: distinct stamps, one order.
    let a = created_order(&client, "created_at").await;
    assert_eq!(a, created_order(&client, "created_at").await);
    sandbox.set_created_at_ties(Some(CreatedAtTies {
        per_second: 10,
        seed: 7,
    }));
    let (_, body) = client.get("/people/v2/people?per_page=100").await;
    let stamps: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["attributes"]["created_at"].as_str().unwrap())
        .collect();
    assert_eq!(stamps.iter().collect::<HashSet<_>>().len(), 3, "{stamps:?}");
    // New people join the newest second until it holds ten.
    let extra = client.create_person("New", "Tie", None).await;
    let (_, p) = client.get(&format!("/people/v2/people/{extra}")).await;
    assert_ne!(p["data"]["attributes"]["created_at"], stamps[29]);
    let orders: HashSet<Vec<String>> = futures_orders(&client).await;
    assert!(orders.len() > 1, "ties were never reordered");
    // Reading from both ends by created_at can then miss people.
    for order in orders {
        assert_eq!(order.len(), 31);
    }
}

async fn futures_orders(client: &Client) -> HashSet<Vec<String>> {
    let mut seen = HashSet::new();
    for _ in 0..6 {
        seen.insert(created_order(client, "created_at").await);
        let mut reversed = created_order(client, "-created_at").await;
        reversed.reverse();
        seen.insert(reversed);
    }
    seen
}
