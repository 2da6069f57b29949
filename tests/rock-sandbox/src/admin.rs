//! Admin routes under `/__sandbox/` (see the crate docs for the list). They need no REST key
//! and are neither faulted nor logged, so tests can steer the sandbox while it misbehaves.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::App;
use crate::clock::format_datetime;
use crate::faults::{FaultConfig, FaultKind};
use crate::routes::{json_response, message};

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/faults",
            get(get_faults).put(put_faults).delete(clear_faults),
        )
        .route("/faults/next", post(push_faults))
        .route("/requests", get(get_requests).delete(clear_requests))
        .route("/merge", post(merge))
        .route("/people/{id}", get(person))
        .route("/clock", get(clock))
        .route("/clock/advance", post(advance))
        .route("/seed", get(seed))
}

async fn get_faults(State(app): State<Arc<App>>) -> Json<FaultConfig> {
    Json(app.faults().config())
}

async fn put_faults(State(app): State<Arc<App>>, Json(config): Json<FaultConfig>) -> StatusCode {
    app.faults().set(config);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(app): State<Arc<App>>) -> StatusCode {
    app.faults().set(FaultConfig::default());
    StatusCode::NO_CONTENT
}

/// Body: one fault kind (`"reset"`) or a list of them, queued for the next requests.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(FaultKind),
    Many(Vec<FaultKind>),
}

async fn push_faults(State(app): State<Arc<App>>, Json(kinds): Json<OneOrMany>) -> StatusCode {
    let kinds = match kinds {
        OneOrMany::One(kind) => vec![kind],
        OneOrMany::Many(kinds) => kinds,
    };
    let mut faults = app.faults();
    for kind in kinds {
        faults.push(kind);
    }
    StatusCode::NO_CONTENT
}

async fn get_requests(State(app): State<Arc<App>>) -> Response {
    json_response(
        StatusCode::OK,
        &serde_json::to_value(app.requests()).unwrap_or(Value::Null),
    )
}

async fn clear_requests(State(app): State<Arc<App>>) -> StatusCode {
    app.clear_requests();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct MergeBody {
    survivor: i64,
    merged: i64,
}

async fn merge(State(app): State<Arc<App>>, Json(body): Json<MergeBody>) -> Response {
    match crate::people::merge(&mut app.store(), body.survivor, body.merged) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => message(StatusCode::BAD_REQUEST, &e),
    }
}

async fn person(State(app): State<Arc<App>>, Path(id): Path<i64>) -> Response {
    match crate::people::dump(&app.store(), id) {
        Some(dump) => json_response(StatusCode::OK, &dump),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn clock(State(app): State<Arc<App>>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({ "Now": format_datetime(app.clock.now()) }),
    )
}

#[derive(Deserialize)]
struct Advance {
    seconds: u64,
}

async fn advance(State(app): State<Arc<App>>, Json(body): Json<Advance>) -> Response {
    app.clock.advance(Duration::from_secs(body.seconds));
    json_response(
        StatusCode::OK,
        &json!({ "Now": format_datetime(app.clock.now()) }),
    )
}

async fn seed(State(app): State<Arc<App>>) -> Response {
    let ids = &app.seed_ids;
    json_response(
        StatusCode::OK,
        &json!({ "People": ids.people, "Groups": ids.groups, "Families": ids.families }),
    )
}
