//! The HTTP routes: People v2, Services v2, file uploads and the sandbox's admin endpoints.

mod admin;
mod contacts;
mod files;
mod mergers;
mod people;
mod people_query;
mod services;

pub use admin::raw_person_state;
pub use mergers::merge;

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use crate::clock::lock;
use crate::jsonapi::ApiError;
use crate::model::{Account, Counters, Store};
use crate::query::{ListParams, page};
use crate::render::View;
use crate::resource::{Data, Document, Included, Resource};
use crate::state::{Ctx, Shared};

pub type SharedState = axum::extract::State<Arc<Shared>>;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/people/v2", get(people::organization))
        .route("/people/v2/me", get(people::me))
        .route("/people/v2/apps", get(people::apps))
        .route("/people/v2/apps/{id}", get(people::app))
        .route("/people/v2/person_mergers", get(mergers::list))
        .route("/people/v2/people", get(people::list).post(people::create))
        .route(
            "/people/v2/people/{id}",
            get(people::show)
                .patch(people::update)
                .delete(people::destroy),
        )
        .route(
            "/people/v2/people/{id}/person_apps",
            get(people::person_apps).post(people::grant_app),
        )
        .route(
            "/people/v2/people/{id}/{kind}",
            get(contacts::list_for_person).post(contacts::create),
        )
        .route("/people/v2/{kind}", get(contacts::list_all))
        .route(
            "/people/v2/{kind}/{id}",
            get(contacts::show)
                .patch(contacts::update)
                .delete(contacts::destroy),
        )
        .route("/services/v2/me", get(people::services_me))
        .route("/services/v2/people", get(services::list))
        .route(
            "/services/v2/people/{id}",
            get(services::show).patch(services::update),
        )
        .route("/services/v2/people/{id}/tags", get(services::person_tags))
        .route(
            "/services/v2/people/{id}/assign_tags",
            post(services::assign_tags),
        )
        .route("/services/v2/tag_groups", get(services::tag_groups))
        .route("/services/v2/tag_groups/{id}", get(services::tag_group))
        .route(
            "/services/v2/tag_groups/{id}/tags",
            get(services::tag_group_tags),
        )
        .route(
            "/services/v2/email_templates",
            get(services::email_templates),
        )
        .route(
            "/services/v2/email_templates/{id}",
            get(services::email_template),
        )
        .route("/v2/files", post(files::upload))
        .merge(admin::router())
        // Photos are bigger than axum's 2 MB default.
        .layer(axum::extract::DefaultBodyLimit::max(25 * 1024 * 1024))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shared)
}

async fn not_found() -> Response {
    ApiError::not_found().into_response()
}

/// PCO does not route PUT at all: it answers an HTML 404 page (research §1).
async fn method_not_allowed(method: Method) -> Response {
    if method == Method::PUT {
        let mut r = (
            StatusCode::NOT_FOUND,
            "<html><body><h1>The page you were looking for doesn't exist.</h1></body></html>",
        )
            .into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return r;
    }
    ApiError::method_not_allowed().into_response()
}

impl Store {
    /// The request's account and the id counters, borrowed together.
    pub fn split(&mut self, account: usize) -> (&mut Account, &mut Counters) {
        (&mut self.accounts[account], &mut self.next)
    }
}

pub fn view<'a>(shared: &'a Shared, ctx: Ctx, account: &'a Account) -> View<'a> {
    View {
        base: &shared.base_url,
        version: ctx.version,
        account,
        sees_services_roles: ctx.user.sees_services_roles(),
        list_drift: lock(&shared.behaviour).list_drift,
    }
}

/// Parses a path id; anything that is not a number is simply not found, as in PCO.
pub fn parse_id(id: &str) -> Result<u64, ApiError> {
    id.parse().map_err(|_| ApiError::not_found())
}

/// `{"data": ..., "included": [...], "meta": {...}}` for one resource.
pub fn single(view: View, data: Resource, included: Included, can_include: &[&str]) -> Document {
    Document {
        links: None,
        data: Data::One(Box::new(data)),
        included: included.into_vec(),
        meta: json!({ "can_include": can_include, "parent": parent(view) }),
    }
}

fn parent(view: View) -> Value {
    json!({ "id": view.account.org_id.to_string(), "type": "Organization" })
}

/// What a list endpoint advertises in `meta` (PCO's `can_*` lists).
pub struct Capabilities<'a> {
    pub include: &'a [&'a str],
    pub query: &'a [&'a str],
    pub order: &'a [&'a str],
    pub filter: &'a [&'a str],
}

/// Pages `rows` (already filtered and ordered) and renders the page's rows with `render`.
pub fn list<T>(
    view: View,
    params: &ListParams,
    path: &str,
    rows: &[T],
    caps: &Capabilities,
    render: impl FnMut(&T, &mut Included) -> Resource,
) -> Document {
    let window = |range: std::ops::Range<usize>| rows[range].iter().collect();
    list_window(view, params, path, rows.len(), window, caps, render)
}

/// Like [`list`] for `total` rows of which only the page's are fetched, by `window`: lets a
/// plain list of 50,000 people skip collecting them all.
pub fn list_window<'r, T: 'r>(
    view: View,
    params: &ListParams,
    path: &str,
    total: usize,
    window: impl FnOnce(std::ops::Range<usize>) -> Vec<&'r T>,
    caps: &Capabilities,
    mut render: impl FnMut(&T, &mut Included) -> Resource,
) -> Document {
    let drift = if path == "/people/v2/people" {
        view.list_drift
    } else {
        Default::default()
    };
    let drifted;
    let params = if drift.skipped_per_page > 0 && params.offset > 0 {
        let pages_read = params.offset / params.per_page.max(1);
        drifted = ListParams {
            offset: params.offset + pages_read * drift.skipped_per_page,
            ..params.clone()
        };
        &drifted
    } else {
        params
    };
    let mut page = page(&format!("{}{path}", view.base), params, total);
    if let Some(cap) = drift.total_count_cap {
        page.meta
            .insert("total_count".into(), json!(total.min(cap)));
    }
    let mut included = Included::default();
    let data: Vec<Resource> = window(page.start..page.end)
        .into_iter()
        .map(|row| render(row, &mut included))
        .collect();
    let mut meta: Map<String, Value> = page.meta;
    meta.insert("can_order_by".into(), json!(caps.order));
    meta.insert("can_query_by".into(), json!(caps.query));
    meta.insert("can_include".into(), json!(caps.include));
    if !caps.filter.is_empty() {
        meta.insert("can_filter".into(), json!(caps.filter));
    }
    meta.insert("parent".into(), parent(view));
    Document {
        links: Some(page.links),
        data: Data::Many(data),
        included: included.into_vec(),
        meta: Value::Object(meta),
    }
}
