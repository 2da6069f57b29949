//! PCO's documented API, from `model/pco-schema.json` (embedded, parsed once; its facts and
//! their sources are summarised in `model/README.md`), and the checks every API request goes
//! through before a route sees it, so the sandbox refuses what PCO refuses by construction:
//!
//! - a path no vertex documents is PCO's JSON:API 404 (`{"errors":[{"status":"404","title":
//!   "Not Found","detail":"The resource you requested could not be found"}]}`,
//!   cass:TestPublicRequestFunctions.test_delete.yaml);
//! - a method the documented path does not offer is 405 "Method Not Allowed" (what PCO answers
//!   is not recorded except for PUT, an HTML 404 page, cass:test_put, which the router keeps);
//! - on a GET, an `include`, `where[...]` or `order` key outside the vertex's `can_include`,
//!   `can_query` or `can_order` is a 400 (see [`bad_param`]);
//! - in a POST or PATCH body, an attribute outside the vertex's create or update assignable
//!   list is 422 "Forbidden Attribute" (see [`ApiError::forbidden_attribute`];
//!   `assignable.note` in the schema, rules.errors.history: 422 since 2015's 403, #74, #1139).
//!
//! `order=id` is refused: no vertex documents it (schema `people.person.can_order`), and the
//! recorded `meta.can_order_by` of `GET /people/v2/people` (cass:TestPublicRequestFunctions.
//! test_iterate.yaml, processed as 2018-08-01) lists 21 keys without `id`; lists come in id
//! order by default. Sparse fieldsets (`fields[Type]=a,b`) drop relationships not named as well
//! as attributes (#925; [`crate::sparse`]). `per_page` above the documented maximum (100 on
//! every vertex) is capped, not refused ([`crate::query`]; #72; the schema marks it unsure).
//!
//! Two paths outside the versioned reference are served because PCO serves them:
//! `/people/v2/me` and `/services/v2/me` (the schema's `people.me` and `services.me`: maintainer
//! answers bensie pco_api_ruby#2, #766, rmosolgo #165), and the upload host's `POST /v2/files`
//! (`rules.base_urls.upload`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::Method;
use serde_json::{Map, Value};

use crate::jsonapi::{ApiError, ApiErrors};

const SCHEMA_JSON: &str = include_str!("../model/pco-schema.json");

/// One documented path: its segments (`None` for a `{placeholder}`), methods and vertex.
#[derive(Clone, Debug)]
pub struct Route {
    pub template: String,
    segments: Vec<Option<String>>,
    pub methods: Vec<String>,
    pub vertex: String,
    /// The docs' role of the path ("list", "read one", "action assign_tags", ...).
    pub role: Option<String>,
}

impl Route {
    fn literal_count(&self) -> usize {
        self.segments.iter().filter(|s| s.is_some()).count()
    }

    fn matches(&self, parts: &[&str]) -> bool {
        self.segments.len() == parts.len()
            && self
                .segments
                .iter()
                .zip(parts)
                .all(|(s, p)| s.as_deref().is_none_or(|lit| lit == *p))
    }

    pub fn is_action(&self) -> bool {
        self.role
            .as_deref()
            .is_some_and(|r| r.starts_with("action"))
    }
}

/// What a vertex accepts.
#[derive(Clone, Debug, Default)]
pub struct Vertex {
    pub name: String,
    pub include: Vec<String>,
    pub query: Vec<String>,
    pub order: Vec<String>,
    /// None: the operation is not offered.
    pub create: Option<Vec<String>>,
    pub update: Option<Vec<String>>,
}

#[derive(Debug, Default)]
pub struct Schema {
    pub routes: Vec<Route>,
    pub vertices: BTreeMap<String, Vertex>,
}

/// The schema, parsed on first use. A schema that does not parse gives an empty schema, and
/// then every request is a 404 (the crate's tests would show it at once); no panic.
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        serde_json::from_str::<Value>(SCHEMA_JSON)
            .map(|v| parse(&v))
            .unwrap_or_default()
    })
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The assignable list for `op`: the union of the 2023-01 docs API's and the current docs'
/// lists (attributes are documented per version only by regeneration, model/README.md; the
/// routes refuse a version's own exceptions, e.g. Address `street` from 2023-03-21). A list
/// the docs mark "unknown" (Email's current one) adds nothing; None when neither offers `op`.
fn assignable(v: &Value, op: &str) -> Option<Vec<String>> {
    let lists: Vec<&Value> = ["as_of_2023_01", "current"]
        .iter()
        .filter_map(|when| v.get("assignable")?.get(when)?.get(op))
        .filter(|l| l.is_array())
        .collect();
    if lists.is_empty() {
        return None;
    }
    let mut all: Vec<String> = lists.iter().flat_map(|l| strings(Some(l))).collect();
    all.sort();
    all.dedup();
    Some(all)
}

fn names(v: Option<&Value>, key: &str) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.get(key).and_then(Value::as_str).or(i.as_str()))
            .map(str::to_string)
            .collect(),
        Some(Value::Object(o)) => strings(o.get("values")),
        _ => Vec::new(),
    }
}

fn parse(root: &Value) -> Schema {
    let mut schema = Schema::default();
    let Some(vertices) = root.get("vertices").and_then(Value::as_object) else {
        return schema;
    };
    for (name, v) in vertices {
        schema.vertices.insert(
            name.clone(),
            Vertex {
                name: name.clone(),
                include: names(v.get("can_include"), "value"),
                query: names(v.get("can_query"), "name"),
                order: names(v.get("can_order"), "values"),
                create: assignable(v, "create"),
                update: assignable(v, "update"),
            },
        );
        let paths = v.get("paths").and_then(Value::as_array);
        for p in paths.into_iter().flatten() {
            let Some(template) = p.get("path").and_then(Value::as_str) else {
                continue;
            };
            let segments = template
                .trim_matches('/')
                .split('/')
                .map(|s| (!s.starts_with('{')).then(|| s.to_string()))
                .collect();
            schema.routes.push(Route {
                template: template.to_string(),
                segments,
                methods: strings(p.get("methods")),
                vertex: name.clone(),
                role: p.get("role").and_then(Value::as_str).map(str::to_string),
            });
        }
    }
    schema
}

impl Schema {
    /// The documented routes a path matches, most specific (most literal segments) first; a
    /// path can be documented under several vertices (e.g. as an edge of each).
    pub fn routes_for(&self, path: &str) -> Vec<&Route> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut found: Vec<&Route> = self.routes.iter().filter(|r| r.matches(&parts)).collect();
        found.sort_by_key(|r| std::cmp::Reverse(r.literal_count()));
        if let Some(best) = found.first().map(|r| r.literal_count()) {
            found.retain(|r| r.literal_count() == best);
        }
        found
    }

    pub fn vertex(&self, name: &str) -> Option<&Vertex> {
        self.vertices.get(name)
    }
}

/// The upload host's path (`rules.base_urls.upload`), not a vertex.
pub const UPLOAD_PATH: &str = "/v2/files";

/// What the front door learnt about a request from the schema.
pub struct Checked {
    /// The vertex whose assignable lists a POST or PATCH body must keep to (None for actions,
    /// uploads and methods without a body).
    pub body_vertex: Option<(&'static Vertex, bool)>,
}

/// Checks a request's path, method and query against the schema (see the module doc).
pub fn check(method: &Method, path: &str, query: Option<&str>) -> Result<Checked, ApiErrors> {
    let none = Checked { body_vertex: None };
    if path == UPLOAD_PATH || *method == Method::PUT {
        // PUT is never routed by PCO: the router answers its HTML 404 (cass:test_put).
        return Ok(none);
    }
    let s = schema();
    let routes = s.routes_for(path);
    if routes.is_empty() {
        return Err(ApiError::not_found().into());
    }
    let method_name = if *method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    let Some(route) = routes
        .iter()
        .find(|r| r.methods.iter().any(|m| m == method_name))
    else {
        return Err(ApiError::method_not_allowed().into());
    };
    let Some(vertex) = s.vertex(&route.vertex) else {
        return Ok(none);
    };
    match method_name {
        "GET" => {
            check_query(vertex_for_query(s, vertex), route, query)?;
            Ok(none)
        }
        "POST" | "PATCH" if !route.is_action() => Ok(Checked {
            body_vertex: Some((vertex, method_name == "POST")),
        }),
        _ => Ok(none),
    }
}

/// `/me` reads are documented only as "a shortcut to /people/v2/people/:your_id, same
/// payload" (bensie, pco_api_ruby#2); whether include works there is `unsure`, so the sandbox
/// lets them take what the person vertex takes rather than refuse.
fn vertex_for_query<'s>(s: &'s Schema, vertex: &'s Vertex) -> &'s Vertex {
    match vertex.name.as_str() {
        "people.me" => s.vertex("people.person").unwrap_or(vertex),
        "services.me" => s.vertex("services.person").unwrap_or(vertex),
        _ => vertex,
    }
}

/// PCO's answer to a query key a vertex does not offer. No recorded traffic or maintainer
/// thread shows the exact body (the recordings only use documented keys; rules.errors lists
/// 400 as "something is wrong in your request"); the sandbox answers in the shape of PCO's
/// recorded 400s (`status`, `title` "Bad Request", `code`, `detail`,
/// cass:TestPublicRequestFunctions.test_request_response.yaml) with `source.parameter` naming
/// the parameter, as PCO's 422s name theirs (#203).
pub fn bad_param(code: &'static str, parameter: &str, detail: String) -> ApiError {
    ApiError {
        parameter: Some(parameter.to_string()),
        ..ApiError::bad_request(code, detail)
    }
}

fn check_query(vertex: &Vertex, route: &Route, query: Option<&str>) -> Result<(), ApiErrors> {
    // Single reads and edges take `include`; `where` and `order` only shape lists, and what
    // PCO does with them elsewhere is undocumented, so they are left alone there.
    let is_list = route.role.as_deref() != Some("read one") && !route.template.ends_with("/me");
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if key == "include" {
            for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                if !vertex.include.iter().any(|i| i == name) {
                    return Err(bad_param(
                        "invalid_include",
                        "include",
                        format!("{name} is not a valid include for {}", vertex.name),
                    )
                    .into());
                }
            }
        } else if is_list && key == "order" {
            for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let attr = name.strip_prefix('-').unwrap_or(name);
                if !vertex.order.iter().any(|o| o == attr) {
                    return Err(bad_param(
                        "invalid_order",
                        "order",
                        format!("{attr} is not a valid order for {}", vertex.name),
                    )
                    .into());
                }
            }
        } else if is_list && let Some(rest) = key.strip_prefix("where[") {
            let field = rest.split(']').next().unwrap_or("");
            if !vertex.query.iter().any(|q| q == field) {
                return Err(bad_param(
                    "invalid_where",
                    &key,
                    format!("where[{field}] is not a valid query for {}", vertex.name),
                )
                .into());
            }
        }
    }
    Ok(())
}

/// The attributes of a POST (`creating`) or PATCH body outside the vertex's assignable list:
/// one 422 "Forbidden Attribute" per attribute, all in one answer. A body that is not a JSON
/// object with `data.attributes` is left to the route (its 400s).
pub fn check_body(vertex: &Vertex, creating: bool, body: &[u8]) -> Result<(), ApiErrors> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Ok(());
    };
    let Some(attrs) = value
        .get("data")
        .and_then(|d| d.get("attributes"))
        .and_then(Value::as_object)
    else {
        return Ok(());
    };
    let allowed = if creating {
        &vertex.create
    } else {
        &vertex.update
    };
    let Some(allowed) = allowed else {
        return Ok(());
    };
    let role_attribute = attrs
        .keys()
        .any(|k| matches!(k.as_str(), "allow_pco_login" | "people_permissions"));
    if vertex.name == "people.person_app" && role_attribute {
        // planningcenter/developers#249 (seven1m, 2017): these two answer 403 "You do not
        // have access to this resource"; permissions are set in each app.
        return Err(ApiError::no_access().into());
    }
    refuse_unassignable(attrs, allowed, resource_type(vertex))
}

fn refuse_unassignable(
    attrs: &Map<String, Value>,
    allowed: &[String],
    resource: &'static str,
) -> Result<(), ApiErrors> {
    let errors: Vec<ApiError> = attrs
        .keys()
        .filter(|k| !allowed.iter().any(|a| a == *k))
        .map(|k| ApiError::forbidden_attribute(k, resource))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiErrors(errors))
    }
}

/// The JSON:API type named in `meta.resource` of an attribute error.
fn resource_type(vertex: &Vertex) -> &'static str {
    match vertex.name.as_str() {
        "people.person" | "services.person" => "Person",
        "people.email" => "Email",
        "people.phone_number" => "PhoneNumber",
        "people.address" => "Address",
        "people.person_app" => "PersonApp",
        "services.email_template" => "EmailTemplate",
        _ => "Resource",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_parses_with_every_vertex() {
        let s = schema();
        assert_eq!(s.vertices.len(), 27);
        assert!(s.routes.len() > 100);
        // Every vertex pages at most 100 per page (`per_page.max`), which the list parser
        // caps to (query::MAX_PER_PAGE).
        let raw: Value = serde_json::from_str(SCHEMA_JSON).unwrap();
        for (name, v) in raw["vertices"].as_object().unwrap() {
            let max = v["per_page"]["max"].as_u64();
            assert!(
                max.is_none_or(|m| m == crate::query::MAX_PER_PAGE as u64),
                "{name}"
            );
        }
    }

    #[test]
    fn paths_resolve_to_their_vertex() {
        let s = schema();
        let r = s.routes_for("/people/v2/people/12/emails");
        assert_eq!(r[0].vertex, "people.email");
        // `/services/v2/tags` is not documented: it could only be an organization's id.
        let tags = s.routes_for("/services/v2/tags");
        assert!(tags.iter().all(|r| r.vertex == "services.organization"));
        assert!(
            s.routes_for("/people/v2/me")
                .iter()
                .any(|r| r.vertex == "people.me")
        );
        assert!(check(&Method::GET, "/nowhere", None).is_err());
        assert!(check(&Method::DELETE, "/people/v2/people", None).is_err());
        assert!(check(&Method::GET, "/people/v2/people", Some("order=id")).is_err());
        assert!(check(&Method::GET, "/people/v2/people", Some("order=-created_at")).is_ok());
    }
}
