//! The sandbox's own endpoints under `/__sandbox/`, for scripts outside the test suite (the crate
//! docs list them). No authentication: the sandbox listens on loopback only.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::SharedState;
use crate::clock::{format_time, lock};
use crate::faults::{Fault, FaultConfig};
use crate::ratelimit::RateLimitConfig;
use crate::render::{self, View};
use crate::resource::Included;
use crate::state::{LATEST_VERSION, Shared, Version};

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/__sandbox", get(index))
        .route("/__sandbox/", get(index))
        .route(
            "/__sandbox/faults",
            get(faults).put(set_faults).delete(clear_faults),
        )
        .route("/__sandbox/faults/next", post(queue_fault))
        .route("/__sandbox/rate_limit", get(rate_limit).put(set_rate_limit))
        .route("/__sandbox/requests", get(requests).delete(clear_requests))
        .route("/__sandbox/outbox", get(outbox).delete(clear_outbox))
        .route("/__sandbox/clock", get(clock))
        .route("/__sandbox/clock/advance", post(advance_clock))
        .route("/__sandbox/accounts/{account}/people/{id}", get(raw_person))
        .route("/__sandbox/accounts/{account}/merge", post(merge))
}

fn ok(value: Value) -> Response {
    (StatusCode::OK, axum::Json(value)).into_response()
}

fn bad(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": message.into() })),
    )
        .into_response()
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
}

async fn index(State(shared): SharedState) -> Response {
    ok(json!({
        "pco_url": shared.base_url,
        "accounts": shared.credentials,
        "endpoints": [
            "GET /__sandbox/faults", "PUT /__sandbox/faults", "DELETE /__sandbox/faults",
            "POST /__sandbox/faults/next",
            "GET /__sandbox/rate_limit", "PUT /__sandbox/rate_limit",
            "GET /__sandbox/requests", "DELETE /__sandbox/requests",
            "GET /__sandbox/outbox", "DELETE /__sandbox/outbox",
            "GET /__sandbox/clock", "POST /__sandbox/clock/advance",
            "GET /__sandbox/accounts/{account name}/people/{id}",
            "POST /__sandbox/accounts/{account name}/merge",
        ],
    }))
}

fn faults_json(shared: &Shared) -> Value {
    let faults = lock(&shared.faults);
    json!({ "config": faults.config(), "queued": faults.queued() })
}

async fn faults(State(shared): SharedState) -> Response {
    ok(faults_json(&shared))
}

async fn set_faults(State(shared): SharedState, body: Bytes) -> Response {
    let config: FaultConfig = match parse(&body) {
        Ok(c) => c,
        Err(e) => return bad(e),
    };
    if let Err(e) = lock(&shared.faults).set(config) {
        return bad(e);
    }
    ok(faults_json(&shared))
}

async fn clear_faults(State(shared): SharedState) -> Response {
    lock(&shared.faults).clear();
    ok(faults_json(&shared))
}

/// `{"kind": "reset", "times": 3}`: the next three API requests are reset.
#[derive(Deserialize)]
struct QueuedFault {
    #[serde(flatten)]
    fault: Fault,
    #[serde(default = "one")]
    times: usize,
}

fn one() -> usize {
    1
}

async fn queue_fault(State(shared): SharedState, body: Bytes) -> Response {
    let queued: QueuedFault = match parse(&body) {
        Ok(q) => q,
        Err(e) => return bad(e),
    };
    lock(&shared.faults).push(queued.fault, queued.times);
    ok(faults_json(&shared))
}

async fn rate_limit(State(shared): SharedState) -> Response {
    ok(json!(lock(&shared.limiter).config()))
}

async fn set_rate_limit(State(shared): SharedState, body: Bytes) -> Response {
    let config: RateLimitConfig = match parse(&body) {
        Ok(c) => c,
        Err(e) => return bad(e),
    };
    if config.enabled && config.limit == 0 {
        return bad("limit must be at least 1 while the rate limit is enabled");
    }
    lock(&shared.limiter).set(config);
    ok(json!(config))
}

async fn requests(State(shared): SharedState) -> Response {
    ok(json!(*lock(&shared.log)))
}

async fn clear_requests(State(shared): SharedState) -> Response {
    lock(&shared.log).clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn outbox(State(shared): SharedState) -> Response {
    ok(json!(*lock(&shared.outbox)))
}

async fn clear_outbox(State(shared): SharedState) -> Response {
    lock(&shared.outbox).clear();
    StatusCode::NO_CONTENT.into_response()
}

fn clock_json(shared: &Shared) -> Value {
    let now = shared.clock.now();
    json!({ "now": format_time(now), "unix": now })
}

async fn clock(State(shared): SharedState) -> Response {
    ok(clock_json(&shared))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: u64,
}

async fn advance_clock(State(shared): SharedState, body: Bytes) -> Response {
    let advance: Advance = match parse(&body) {
        Ok(a) => a,
        Err(e) => return bad(e),
    };
    if advance.seconds > crate::clock::MAX_ADVANCE_SECS as u64 {
        return bad("seconds is more than a thousand years");
    }
    shared.clock.advance(Duration::from_secs(advance.seconds));
    ok(clock_json(&shared))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Merge {
    keep: String,
    remove: String,
}

/// `{"keep": "10000001", "remove": "10000002"}`: merges two people as PCO's UI would.
async fn merge(State(shared): SharedState, Path(account): Path<String>, body: Bytes) -> Response {
    let request: Merge = match parse(&body) {
        Ok(m) => m,
        Err(e) => return bad(e),
    };
    let (Ok(keep), Ok(remove)) = (request.keep.parse(), request.remove.parse()) else {
        return bad("keep and remove must be person ids");
    };
    match super::merge(&shared, &account, keep, remove) {
        Ok(()) => ok(json!({ "kept": request.keep, "removed": request.remove })),
        Err(e) => bad(e),
    }
}

async fn raw_person(
    State(shared): SharedState,
    Path((account, id)): Path<(String, String)>,
) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return bad("person id must be a number");
    };
    match raw_person_state(&shared, &account, id) {
        Some(v) => ok(v),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "error": "no such account or person" })),
        )
            .into_response(),
    }
}

/// Everything the sandbox holds about a person: the People resource with its contacts, the
/// Services resource with tags, plus what the API does not show (congregation key, tag names,
/// avatar file).
pub fn raw_person_state(shared: &Shared, account_name: &str, id: u64) -> Option<Value> {
    let store = lock(&shared.store);
    let account = store.accounts.iter().find(|a| a.name == account_name)?;
    let p = account.people.get(&id)?;
    let version = Version::from_header(Some(LATEST_VERSION)).ok()?;
    let v = View {
        base: &shared.base_url,
        version,
        account,
        sees_services_roles: true,
        list_drift: Default::default(),
    };
    let mut people_included = Included::default();
    let all = ["emails", "phone_numbers", "addresses", "person_apps"].map(String::from);
    let person = render::person(v, p, &all, &mut people_included).to_value();
    let mut services_included = Included::default();
    let services = p.services.as_ref().map(|s| {
        render::services_person(v, p, s, &["tags".to_string()], &mut services_included).to_value()
    });
    let tags: Vec<String> = p
        .services
        .iter()
        .flat_map(|s| s.tags.iter())
        .filter_map(|t| account.tag(*t))
        .filter_map(|t| {
            account
                .tag_groups
                .iter()
                .find(|g| g.id == t.group_id)
                .map(|g| format!("{}:{}", g.name, t.name))
        })
        .collect();
    let avatar = p.avatar.as_ref().and_then(|a| {
        account.files.get(&a.file_id).map(|f| json!({ "file_id": a.file_id, "name": f.name, "content_type": f.content_type, "size": f.size, "uploaded_at": format_time(f.uploaded_at) }))
    });
    Some(json!({
        "account": account.name,
        "congregation_key": p.congregation_key,
        "person": person,
        "included": people_included.into_vec().iter().map(|r| r.to_value()).collect::<Vec<_>>(),
        "services": services,
        "tags": tags,
        "avatar_file": avatar,
    }))
}
