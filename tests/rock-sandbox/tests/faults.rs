//! Fault injection and the request log, driven from Rust and over the admin routes.

mod common;

use std::time::{Duration, Instant};

use common::{Rock, small};
use reqwest::{Method, StatusCode};
use rock_sandbox::{FaultConfig, FaultKind, RequestRecord};
use serde_json::{Value, json};

#[tokio::test]
async fn each_fault_kind_behaves_as_documented() {
    let rock = Rock::start(&small()).await;
    let people = "/api/People?$top=5";

    rock.sandbox.push_fault(FaultKind::Error);
    let (status, body) = rock.call(Method::GET, people, None).await;
    assert_eq!(
        (status, body),
        (500, json!({"Message": "An error has occurred."}))
    );

    rock.sandbox.push_fault(FaultKind::Reset);
    let reset = rock
        .client
        .get(rock.url(people))
        .header("Authorization-Token", rock.sandbox.token())
        .send()
        .await;
    assert!(
        reset.is_err(),
        "the connection is dropped without an answer"
    );

    rock.sandbox.set_faults(FaultConfig {
        slow_ms: 300,
        script: vec![FaultKind::Slow],
        ..FaultConfig::default()
    });
    let started = Instant::now();
    assert_eq!(rock.send(Method::GET, people, None).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    rock.sandbox.set_faults(FaultConfig {
        hang_ms: 10_000,
        script: vec![FaultKind::Hang],
        ..FaultConfig::default()
    });
    let hung = rock
        .client
        .get(rock.url(people))
        .header("Authorization-Token", rock.sandbox.token())
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(hung.is_err_and(|e| e.is_timeout()));

    rock.sandbox.push_fault(FaultKind::Malformed);
    let malformed = rock.send(Method::GET, people, None).await;
    assert_eq!(malformed.status(), 200);
    assert!(malformed.json::<Value>().await.is_err());

    rock.sandbox.push_fault(FaultKind::Truncated);
    let truncated = rock.send(Method::GET, people, None).await;
    assert_eq!(truncated.status(), 200);
    assert!(
        truncated.bytes().await.is_err(),
        "the body ends short of its Content-Length"
    );

    // And the sandbox is healthy afterwards.
    assert_eq!(rock.get(people).await.as_array().unwrap().len(), 5);
    let faults: Vec<Option<FaultKind>> = rock.sandbox.requests().iter().map(|r| r.fault).collect();
    assert_eq!(
        faults,
        [
            Some(FaultKind::Error),
            Some(FaultKind::Reset),
            Some(FaultKind::Slow),
            Some(FaultKind::Hang),
            Some(FaultKind::Malformed),
            Some(FaultKind::Truncated),
            None
        ]
    );
}

#[tokio::test]
async fn a_truncated_write_still_happens() {
    let rock = Rock::start(&small()).await;
    let id = rock.sandbox.person_id(3).unwrap();
    rock.sandbox.push_fault(FaultKind::Truncated);
    let sent = rock
        .send(
            Method::POST,
            "/api/People",
            Some(json!({"FirstName": "Zed", "LastName": "Quinn"})),
        )
        .await;
    assert!(sent.bytes().await.is_err());
    let found = rock.get("/api/People?$filter=LastName eq 'Quinn'").await;
    assert_eq!(
        found.as_array().unwrap().len(),
        1,
        "the answer was lost, not the write"
    );
    // An error fault, in contrast, writes nothing.
    rock.sandbox.push_fault(FaultKind::Error);
    let (status, _) = rock
        .call(
            Method::PATCH,
            &format!("/api/People/{id}"),
            Some(json!({"NickName": "Nope"})),
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(
        rock.get(&format!("/api/People/{id}")).await["NickName"],
        "Ann"
    );
}

#[tokio::test]
async fn rates_are_deterministic_for_a_seed() {
    let config = FaultConfig {
        seed: 42,
        error_rate: 0.3,
        ..FaultConfig::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let rock = Rock::start(&small()).await;
        rock.sandbox.set_faults(config.clone());
        let mut statuses = Vec::new();
        for _ in 0..30 {
            statuses.push(
                rock.send(Method::GET, "/api/GroupTypes", None)
                    .await
                    .status()
                    .as_u16(),
            );
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    let errors = runs[0].iter().filter(|s| **s == 500).count();
    assert!((3..=18).contains(&errors), "about 30% errors, got {errors}");
}

#[tokio::test]
async fn faults_and_the_request_log_over_http() {
    let rock = Rock::start(&small()).await;
    let admin = |path: &str| rock.url(&format!("/__sandbox{path}"));
    let config =
        json!({"seed": 1, "error_rate": 1.0, "path_contains": "/api/groups", "method": "GET"});
    let put = rock
        .client
        .put(admin("/faults"))
        .json(&config)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        rock.send(Method::GET, "/api/People?$top=1", None)
            .await
            .status(),
        200
    );
    assert_eq!(
        rock.send(Method::GET, "/api/Groups", None).await.status(),
        500
    );
    let current: Value = rock
        .client
        .get(admin("/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["error_rate"], 1.0);
    rock.client.delete(admin("/faults")).send().await.unwrap();
    assert_eq!(
        rock.send(Method::GET, "/api/Groups", None).await.status(),
        200
    );
    rock.client
        .post(admin("/faults/next"))
        .json(&json!(["error"]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        rock.send(Method::GET, "/api/Groups", None).await.status(),
        500
    );

    let log: Vec<RequestRecord> = rock
        .client
        .get(admin("/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let seen: Vec<(String, String, u16)> = log
        .into_iter()
        .map(|r| (r.method, r.path, r.status))
        .collect();
    assert_eq!(
        seen,
        [
            ("GET".to_string(), "/api/People?$top=1".to_string(), 200),
            ("GET".into(), "/api/Groups".into(), 500),
            ("GET".into(), "/api/Groups".into(), 200),
            ("GET".into(), "/api/Groups".into(), 500),
        ],
        "admin calls are not logged"
    );
    rock.client.delete(admin("/requests")).send().await.unwrap();
    assert!(rock.sandbox.requests().is_empty());
    let dump: Value = rock
        .client
        .get(admin(&format!(
            "/people/{}",
            rock.sandbox.person_id(0).unwrap()
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dump["Person"]["NickName"], "John");
    assert!(
        !dump["Families"][0]["GroupLocations"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
