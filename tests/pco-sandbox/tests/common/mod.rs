//! A small PCO client for the sandbox tests.
#![allow(dead_code)]

use std::time::Duration;

use congregation::Congregation;
use pco_sandbox::{AccountCredentials, PcoSandbox, RateLimitConfig, SandboxOptions};
use reqwest::{Method, Response};
use serde_json::Value;

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub cred: AccountCredentials,
}

impl Client {
    pub fn new(sandbox: &PcoSandbox, account: usize) -> Client {
        Client::with_timeout(sandbox, account, Duration::from_secs(30))
    }

    pub fn with_timeout(sandbox: &PcoSandbox, account: usize, timeout: Duration) -> Client {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .expect("client");
        Client {
            http,
            base: sandbox.base_url(),
            cred: sandbox.accounts()[account].clone(),
        }
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        self.http
            .request(method, url)
            .basic_auth(&self.cred.app_id, Some(&self.cred.secret))
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut req = self.request(method, path);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request")
    }

    /// Sends and reads the JSON answer, with the status.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let response = self.send(method, path, body).await;
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> u16 {
        self.send(Method::DELETE, path, None)
            .await
            .status()
            .as_u16()
    }

    /// Creates a person with an email; returns the id.
    pub async fn create_person(&self, first: &str, last: &str, email: Option<&str>) -> String {
        let (status, body) = self
            .post("/people/v2/people", serde_json::json!({"data": {"type": "Person", "attributes": {"first_name": first, "last_name": last}}}))
            .await;
        assert_eq!(status, 201, "{body}");
        let id = body["data"]["id"].as_str().expect("id").to_string();
        if let Some(email) = email {
            let (status, body) = self
                .post(&format!("/people/v2/people/{id}/emails"), serde_json::json!({"data": {"attributes": {"address": email, "location": "Home", "primary": true}}}))
                .await;
            assert_eq!(status, 201, "{body}");
        }
        id
    }
}

/// Options without a rate limit, for tests that are not about it.
pub fn unlimited() -> SandboxOptions {
    SandboxOptions {
        rate_limit: RateLimitConfig {
            enabled: false,
            ..RateLimitConfig::default()
        },
        ..SandboxOptions::default()
    }
}

pub async fn empty_sandbox() -> PcoSandbox {
    PcoSandbox::start(unlimited()).await.expect("sandbox")
}

pub async fn seeded_sandbox(people: usize, seed: u64) -> (PcoSandbox, Congregation) {
    let c = Congregation::generate(people, seed);
    let sandbox = PcoSandbox::start_with(unlimited(), &c)
        .await
        .expect("sandbox");
    (sandbox, c)
}
