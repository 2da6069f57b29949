//! Rate limit, fault injection, the request log and the admin endpoints.

mod common;

use std::time::{Duration, Instant};

use common::{Client, empty_sandbox, unlimited};
use pco_sandbox::{Fault, FaultConfig, PcoSandbox, RateLimitConfig, SandboxOptions};
use serde_json::{Value, json};

fn rate_headers(response: &reqwest::Response) -> (u32, u32, String) {
    let h = |name: &str| {
        response
            .headers()
            .get(name)
            .unwrap_or_else(|| panic!("missing {name}"))
            .to_str()
            .unwrap()
            .to_string()
    };
    (
        h("x-pco-api-request-rate-count").parse().unwrap(),
        h("x-pco-api-request-rate-limit").parse().unwrap(),
        h("x-pco-api-request-rate-period"),
    )
}

#[tokio::test]
async fn rate_limit_answers_429_with_headers_then_recovers() {
    let options = SandboxOptions {
        accounts: vec!["Main Campus".into(), "North Campus".into()],
        rate_limit: RateLimitConfig {
            enabled: true,
            limit: 5,
            period_secs: 4,
            ..RateLimitConfig::default()
        },
        ..SandboxOptions::default()
    };
    let sandbox = PcoSandbox::start(options).await.unwrap();
    let main = Client::new(&sandbox, 0);
    let north = Client::new(&sandbox, 1);
    for n in 1..=5 {
        let response = main
            .send(reqwest::Method::GET, "/people/v2/people", None)
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(rate_headers(&response), (n, 5, "4".to_string()));
    }
    let refused = main
        .send(reqwest::Method::GET, "/people/v2/people", None)
        .await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=4).contains(&retry_after));
    assert_eq!(rate_headers(&refused), (6, 5, "4 seconds".to_string()));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "429");
    assert!(
        body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("6 of 5 requests per 4 seconds")
    );
    // Per credential: the other account is not limited.
    assert_eq!(
        north
            .send(reqwest::Method::GET, "/people/v2/people", None)
            .await
            .status(),
        200
    );
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let again = main
        .send(reqwest::Method::GET, "/people/v2/people", None)
        .await;
    assert_eq!(again.status(), 200);
    assert_eq!(rate_headers(&again).0, 1);
    // High offsets meet PCO's stricter limit, counted apart.
    let deep = main
        .send(reqwest::Method::GET, "/people/v2/people?offset=40000", None)
        .await;
    assert_eq!(deep.status(), 200);
    assert_eq!(rate_headers(&deep), (1, 75, "4".to_string()));
    // Switched off: nothing refused, a huge limit advertised.
    sandbox.set_rate_limit(RateLimitConfig {
        enabled: false,
        ..sandbox.rate_limit()
    });
    for _ in 0..20 {
        let r = main
            .send(reqwest::Method::GET, "/people/v2/people", None)
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(rate_headers(&r).1, pco_sandbox::UNLIMITED);
    }
}

#[tokio::test]
async fn server_errors_and_429_storms() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    sandbox.inject_next(Fault::ServerError { status: 503 }, 1);
    sandbox.inject_next(Fault::RateLimited { retry_after: 7 }, 2);
    let (status, body) = client.get("/people/v2/people").await;
    assert_eq!(status, 503);
    assert_eq!(body["errors"][0]["status"], "503");
    for _ in 0..2 {
        let r = client
            .send(reqwest::Method::GET, "/people/v2/people", None)
            .await;
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "7");
    }
    assert_eq!(client.get("/people/v2/people").await.0, 200);
    let faults: Vec<Option<String>> = sandbox.requests().into_iter().map(|r| r.fault).collect();
    assert_eq!(
        faults,
        vec![
            Some("server_error".into()),
            Some("rate_limit_storm".into()),
            Some("rate_limit_storm".into()),
            None
        ]
    );
}

#[tokio::test]
async fn resets_close_the_connection_without_an_answer() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    // Reset before: nothing was created.
    sandbox.inject_next(Fault::Reset, 1);
    let body = json!({"data": {"attributes": {"first_name": "Ida", "last_name": "Reset"}}});
    let error = client
        .request(reqwest::Method::POST, "/people/v2/people")
        .json(&body)
        .send()
        .await
        .unwrap_err();
    assert!(!error.is_timeout(), "{error}");
    assert_eq!(sandbox.people_count("Main Campus"), Some(0));
    // Reset after: the create happened though the client never heard.
    sandbox.inject_next(Fault::ResetAfter, 1);
    assert!(
        client
            .request(reqwest::Method::POST, "/people/v2/people")
            .json(&body)
            .send()
            .await
            .is_err()
    );
    assert_eq!(sandbox.people_count("Main Campus"), Some(1));
    let log = sandbox.requests();
    assert_eq!(
        log.iter()
            .map(|r| (r.status, r.fault.as_deref()))
            .collect::<Vec<_>>(),
        vec![(0, Some("reset")), (0, Some("reset_after"))]
    );
    assert_eq!(
        client.get("/people/v2/people").await.0,
        200,
        "the server is fine afterwards"
    );
}

#[tokio::test]
async fn slow_and_hung_responses() {
    let sandbox = empty_sandbox().await;
    let client = Client::with_timeout(&sandbox, 0, Duration::from_millis(800));
    sandbox.inject_next(Fault::Slow { ms: 300 }, 1);
    let started = Instant::now();
    assert_eq!(client.get("/people/v2/people").await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    sandbox.inject_next(Fault::Hang, 1);
    let error = client
        .request(reqwest::Method::GET, "/people/v2/people")
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert_eq!(
        sandbox.requests().last().unwrap().fault.as_deref(),
        Some("hang")
    );
    // Stopping the sandbox releases hung connections.
    sandbox.inject_next(Fault::Hang, 1);
    let patient = Client::with_timeout(&sandbox, 0, Duration::from_secs(30));
    let pending = tokio::spawn(async move {
        patient
            .request(reqwest::Method::GET, "/people/v2/people")
            .send()
            .await
            .is_err()
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    sandbox.shutdown().await;
    assert!(
        tokio::time::timeout(Duration::from_secs(5), pending)
            .await
            .expect("released")
            .unwrap()
    );
}

#[tokio::test]
async fn malformed_and_truncated_bodies() {
    let sandbox = empty_sandbox().await;
    let client = Client::new(&sandbox, 0);
    client
        .create_person("Jo", "March", Some("jo@example.com"))
        .await;
    for fault in [Fault::Malformed, Fault::Truncated] {
        sandbox.inject_next(fault, 1);
        let response = client
            .send(
                reqwest::Method::GET,
                "/people/v2/people?include=emails",
                None,
            )
            .await;
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert!(!text.is_empty());
        assert!(
            serde_json::from_str::<Value>(&text).is_err(),
            "{fault:?} gave valid JSON: {text}"
        );
    }
    let (status, _) = client.get("/people/v2/people").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn shares_are_deterministic_for_a_seed() {
    let run = || async {
        let sandbox = empty_sandbox().await;
        sandbox
            .set_faults(FaultConfig {
                seed: 11,
                server_error: 0.3,
                rate_limit_storm: 0.1,
                ..FaultConfig::default()
            })
            .unwrap();
        let client = Client::new(&sandbox, 0);
        let mut statuses = Vec::new();
        for _ in 0..60 {
            statuses.push(client.get("/people/v2/people?per_page=1").await.0);
        }
        statuses
    };
    let a = run().await;
    assert_eq!(a, run().await);
    let failed = a.iter().filter(|s| **s != 200).count();
    assert!((8..=40).contains(&failed), "{failed} of 60 failed");
    assert!(a.contains(&429));
    assert!(
        FaultConfig {
            reset: 2.0,
            ..FaultConfig::default()
        } != FaultConfig::default()
    );
    assert!(
        empty_sandbox()
            .await
            .set_faults(FaultConfig {
                reset: 2.0,
                ..FaultConfig::default()
            })
            .is_err()
    );
}

#[tokio::test]
async fn admin_endpoints_drive_and_inspect_over_http() {
    let sandbox = PcoSandbox::start(unlimited()).await.unwrap();
    let client = Client::new(&sandbox, 0);
    let http = reqwest::Client::new();
    let admin = |path: &str| format!("{}/__sandbox{path}", sandbox.base_url());
    let index: Value = http
        .get(admin("/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        index["accounts"][0]["app_id"],
        sandbox.accounts()[0].app_id.as_str()
    );
    assert_eq!(index["pco_url"], sandbox.base_url());
    // Faults over HTTP.
    let r = http
        .post(admin("/faults/next"))
        .json(&json!({"kind": "server_error", "status": 502, "times": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(client.get("/people/v2/people").await.0, 502);
    assert_eq!(client.get("/people/v2/people").await.0, 502);
    assert_eq!(client.get("/people/v2/people").await.0, 200);
    let r = http
        .put(admin("/faults"))
        .json(&json!({"server_error": 1.0, "path_prefix": "/services"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(client.get("/people/v2/people").await.0, 200);
    assert_eq!(client.get("/services/v2/people").await.0 / 100, 5);
    let r = http
        .put(admin("/faults"))
        .json(&json!({"server_error": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        http.delete(admin("/faults")).send().await.unwrap().status(),
        200
    );
    assert_eq!(client.get("/services/v2/people").await.0, 200);
    // Admin requests are not logged; API requests are.
    let log: Vec<Value> = http
        .get(admin("/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log.len(), 6);
    assert_eq!(log[0]["method"], "GET");
    assert_eq!(log[0]["path"], "/people/v2/people");
    assert_eq!(log[0]["status"], 502);
    assert_eq!(log[0]["account"], "Main Campus");
    assert_eq!(
        http.delete(admin("/requests"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert!(sandbox.requests().is_empty());
    // Rate limit over HTTP.
    let r = http
        .put(admin("/rate_limit"))
        .json(&json!({"enabled": true, "limit": 1, "period_secs": 60}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(client.get("/people/v2/people").await.0, 200);
    assert_eq!(
        client
            .send(reqwest::Method::GET, "/people/v2/people", None)
            .await
            .status(),
        429
    );
    http.put(admin("/rate_limit"))
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    // Outbox, clock and raw state.
    let id = client
        .create_person("Kay", "Olson", Some("kay@example.com"))
        .await;
    client
        .post(
            &format!("/people/v2/people/{id}/person_apps"),
            json!({"data": {"attributes": {"app_id": 2}}}),
        )
        .await;
    client
        .patch(
            &format!("/services/v2/people/{id}"),
            json!({"data": {"attributes": {"permissions": "Scheduler"}}}),
        )
        .await;
    let outbox: Vec<Value> = http
        .get(admin("/outbox"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0]["kind"], "permission_raised");
    assert_eq!(
        http.delete(admin("/outbox")).send().await.unwrap().status(),
        204
    );
    let before: Value = http
        .get(admin("/clock"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let after: Value = http
        .post(admin("/clock/advance"))
        .json(&json!({"seconds": 7200}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(after["unix"].as_i64().unwrap() >= before["unix"].as_i64().unwrap() + 7200);
    let state: Value = http
        .get(admin(&format!("/accounts/Main%20Campus/people/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["services"]["attributes"]["permissions"], "Scheduler");
    assert_eq!(
        http.get(admin("/accounts/Nowhere/people/1"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}
