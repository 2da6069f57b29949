//! Rock's REST v1 routes: `/api/{Controller}[/{id}]` with case-insensitive controller names,
//! the People/Groups helper routes, `/GetImage.ashx`, and Rock's status codes and bodies.
//!
//! Handler steps return `Result<_, Response>`: the error *is* the answer to send, so a step
//! can stop the request with Rock's exact status and body.
#![allow(
    clippy::result_large_err,
    reason = "the error is the HTTP response itself"
)]

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::App;
use crate::attributes::{self, Mode, SetError};
use crate::auth::Key;
use crate::clock::{format_date, format_datetime, parse_datetime};
use crate::odata::{self, parse_guid};
use crate::people;
use crate::schema::{Column, Entity, Kind};
use crate::store::{Invalid, Row, Store, flag, int, text};

/// Bodies above this are refused (photos are the largest thing a client sends).
const MAX_BODY: usize = 32 * 1024 * 1024;

type Params = Vec<(String, String)>;

/// Everything that is not an admin route lands here.
pub async fn dispatch(State(app): State<Arc<App>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let params: Params = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let lower = path.to_ascii_lowercase();
    if lower == "/getimage.ashx" {
        return image(&app, &params);
    }
    let Some(rest) = lower.strip_prefix("/api/").map(|_| &path[5..]) else {
        return no_route(&parts.uri.to_string());
    };
    let Some(key) = app.auth.key(&parts.method, &parts.headers, &params) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return message(
                StatusCode::BAD_REQUEST,
                "The request body could not be read.",
            );
        }
    };
    let segments: Vec<String> = rest.split('/').map(percent_decode).collect();
    let request = ApiRequest {
        method: parts.method,
        segments,
        params,
        body,
        uri: parts.uri.to_string(),
    };
    // Each key is a person in Rock: what this request writes is stamped with their alias.
    let alias = match key {
        Key::Staff => app.store().staff_alias_id,
        Key::Rest | Key::ViewOnly => None,
    };
    crate::store::acting_as(alias, || route(&app, &request))
}

struct ApiRequest {
    method: Method,
    segments: Vec<String>,
    params: Params,
    body: Bytes,
    uri: String,
}

impl ApiRequest {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, name: &str) -> bool {
        self.param(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

fn route(app: &App, r: &ApiRequest) -> Response {
    let segs: Vec<&str> = r
        .segments
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    let Some(first) = segs.first() else {
        return no_route(&r.uri);
    };
    // `api/People(5)`: the OData key form of GET by id.
    let (controller, key) = match first.split_once('(') {
        Some((c, k)) => (c, k.strip_suffix(')').and_then(|k| k.parse::<i64>().ok())),
        None => (*first, None),
    };
    let Some(entity) = Entity::from_controller(controller) else {
        return no_route(&r.uri);
    };
    let second = segs.get(1).map(|s| s.to_ascii_lowercase());
    let m = &r.method;
    if let Some(id) = key {
        return if *m == Method::GET && segs.len() == 1 {
            get_one(app, entity, id, r)
        } else {
            no_route(&r.uri)
        };
    }
    match (entity, second.as_deref(), segs.len()) {
        (Entity::Person, Some("export"), 2) if *m == Method::GET => export(app, r),
        (Entity::Person, Some("getbyemail"), 3) if *m == Method::GET => by_email(app, segs[2]),
        (Entity::Person, Some("getcurrentperson"), 2) if *m == Method::GET => {
            current_person(app, r)
        }
        (Entity::Person, Some("getbypersonaliasid"), 3) if *m == Method::GET => {
            by_alias(app, segs[2], r)
        }
        (Entity::Person, Some("updatepersonprofilephoto"), 2) if *m == Method::POST => {
            photo_upload(app, r)
        }
        (Entity::Group, Some("saveaddress"), 4) if *m == Method::PUT => save_address(app, &segs, r),
        (Entity::Group, Some("getfamilies"), 3) if *m == Method::GET => families(app, segs[2], r),
        (_, Some("attributevalue"), 3) => attribute_value(app, entity, segs[2], r),
        (_, None, 1) if *m == Method::GET => list(app, entity, r),
        (_, None, 1) if *m == Method::POST => create(app, entity, r),
        (_, Some(id), 2) => match id.parse::<i64>() {
            Ok(id) => by_id(app, entity, id, r),
            Err(_) => no_route(&r.uri),
        },
        _ => no_route(&r.uri),
    }
}

fn by_id(app: &App, entity: Entity, id: i64, r: &ApiRequest) -> Response {
    match r.method {
        Method::GET => get_one(app, entity, id, r),
        Method::PUT => replace(app, entity, id, r),
        Method::PATCH => patch(app, entity, id, r),
        Method::DELETE => delete(app, entity, id),
        _ => method_not_allowed(&r.method),
    }
}

// ---- Responses ------------------------------------------------------------------------------

pub fn json_response(status: StatusCode, value: &Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
        .extensions_mut()
        .insert(crate::faults::Properties(properties_of(value)));
    response
}

/// The property names an answer's object (or its list's objects) carried.
fn properties_of(value: &Value) -> Vec<String> {
    let objects: Vec<&serde_json::Map<String, Value>> = match value {
        Value::Object(row) => vec![row],
        Value::Array(rows) => rows.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    };
    let names: std::collections::BTreeSet<&String> =
        objects.iter().flat_map(|row| row.keys()).collect();
    names.into_iter().cloned().collect()
}

/// Web API's `HttpError` body.
pub fn message(status: StatusCode, text: &str) -> Response {
    json_response(status, &json!({ "Message": text }))
}

fn no_route(uri: &str) -> Response {
    message(
        StatusCode::NOT_FOUND,
        &format!("No HTTP resource was found that matches the request URI '{uri}'."),
    )
}

fn method_not_allowed(method: &Method) -> Response {
    message(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("The requested resource does not support http method '{method}'."),
    )
}

fn invalid(error: Invalid) -> Response {
    message(StatusCode::BAD_REQUEST, &error.message())
}

/// A query Rock refuses. `EnableQueryAttribute` (System.Web.Http.OData) answers an
/// `ODataException` from parsing or validation with `CreateErrorResponse(BadRequest, "The
/// query specified in the URI is not valid.", e)`; the inner message is written only where
/// error detail is allowed, and RockWeb/web.config has `<customErrors mode="On">`, so a
/// remote caller gets the Message alone (the model's `rules.missing_property_in_query`). An
/// error binding the query is an unhandled exception: Web API's 500 "An error has occurred.",
/// again without detail. The detail goes to the request log ([`crate::RequestRecord::detail`]).
fn odata_error(error: odata::QueryError) -> Response {
    let (status, text) = if error.server_error {
        (StatusCode::INTERNAL_SERVER_ERROR, "An error has occurred.")
    } else {
        (
            StatusCode::BAD_REQUEST,
            "The query specified in the URI is not valid.",
        )
    };
    let mut response = message(status, text);
    response
        .extensions_mut()
        .insert(crate::faults::Detail(error.detail));
    response
}

// ---- Reads ----------------------------------------------------------------------------------

/// Rows a v1 query can see: no archived group members, no deceased people (nor their
/// memberships) unless `includeDeceased=true`, and in lists no archived groups.
fn visible(
    store: &Store,
    entity: Entity,
    row: &Row,
    include_deceased: bool,
    listing: bool,
) -> bool {
    match entity {
        Entity::Person => {
            (include_deceased || !flag(row, "IsDeceased")) && people::listed(store, row)
        }
        Entity::GroupMember => {
            !flag(row, "IsArchived")
                && (include_deceased
                    || !int(row, "PersonId")
                        .and_then(|p| store.get(Entity::Person, p))
                        .is_some_and(|p| flag(p, "IsDeceased")))
        }
        // `GroupService.Queryable()` (Rock/Model/Group/Group/GroupService.cs) leaves archived
        // groups out of every query, so of `GET api/Groups`; `GET api/Groups/{id}` goes through
        // `Service.Get( id )` (Rock/Data/Service.cs), which reads `AsNoFilter()` and finds them.
        Entity::Group => !listing || !flag(row, "IsArchived"),
        _ => true,
    }
}

fn list(app: &App, entity: Entity, r: &ApiRequest) -> Response {
    if !app.security().can_view(entity) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let query = match odata::parse_query(entity, &r.params, app.max_node_count) {
        Ok(q) => q,
        Err(detail) => return odata_error(detail),
    };
    let store = app.store();
    let include_deceased = r.flag("includeDeceased");
    let rows = store
        .rows(entity)
        .filter(|row| visible(&store, entity, row, include_deceased, true));
    let mut picked: Vec<Row> = odata::select_rows(rows, &query)
        .into_iter()
        .cloned()
        .collect();
    let loaded = match load_attributes(app, &store, entity, &mut picked, r) {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    let count = picked.len();
    let mut response = json_response(
        StatusCode::OK,
        &Value::Array(odata::shape(&store, entity, picked, &query)),
    );
    response
        .extensions_mut()
        .insert(crate::faults::RowCount(count));
    if loaded {
        response
            .extensions_mut()
            .insert(crate::faults::AttributeRows(count));
    }
    response
}

/// Loads the rows' attributes when the request asks; whether it did.
fn load_attributes(
    app: &App,
    store: &Store,
    entity: Entity,
    rows: &mut [Row],
    r: &ApiRequest,
) -> Result<bool, Response> {
    let Some(mode) = r.param("loadAttributes") else {
        return Ok(false);
    };
    // With `$select`, Web API OData hands the formatter `SelectExpandWrapper`s, not entities:
    // `RockJsonMediaTypeFormatter` loads attributes only for `IHasAttributes` values
    // (Rock/Utility/RockJsonMediaTypeFormatter.cs), so a projected list carries none.
    if r.param("$select").is_some_and(|s| !s.trim().is_empty()) {
        return Ok(false);
    }
    if mode.eq_ignore_ascii_case("false") || mode.is_empty() {
        return Ok(false);
    }
    let Some(mode) = Mode::parse(mode) else {
        return Err(message(
            StatusCode::BAD_REQUEST,
            &format!("Invalid loadAttributes value '{mode}'."),
        ));
    };
    let keys: Vec<String> = r
        .param("attributeKeys")
        .map(|k| {
            k.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if entity.has_attributes() {
        let security = app.security();
        let viewable = |key: &str| security.can_view_attribute(key);
        attributes::load(store, entity, rows, mode, &keys, &viewable);
    }
    Ok(entity.has_attributes())
}

/// `GET api/People/GetCurrentPerson` (Rock.Rest/Controllers/PeopleController.Partial.cs): the
/// person the REST key belongs to, with their aliases (how a client learns the alias Rock
/// stamps as `ModifiedByPersonAliasId` on its writes).
fn current_person(app: &App, r: &ApiRequest) -> Response {
    let person = {
        let store = app.store();
        store
            .current_alias()
            .and_then(|alias| store.get(Entity::PersonAlias, alias))
            .and_then(|alias| int(alias, "PersonId"))
    };
    match person {
        Some(id) => get_one(app, Entity::Person, id, r),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn get_one(app: &App, entity: Entity, id: i64, r: &ApiRequest) -> Response {
    let store = app.store();
    let Some(row) = store
        .get(entity, id)
        .filter(|row| visible(&store, entity, row, true, false))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut rows = vec![row.clone()];
    if let Err(response) = load_attributes(app, &store, entity, &mut rows, r) {
        return response;
    }
    // `GetById` in Rock.Rest/Controllers/PeopleController.Partial.cs:
    // `Get(true).Include(PhoneNumbers)` (the model's Person `controller.overrides`): deceased
    // people included, PhoneNumbers loaded. `Aliases` has no `[DataMember]`: never written.
    let expand: Vec<Vec<String>> = match entity {
        Entity::Person => vec![vec!["PhoneNumbers".into()]],
        _ => Vec::new(),
    };
    let query = odata::Query {
        expand,
        ..odata::Query::default()
    };
    let shaped = odata::shape(&store, entity, rows, &query);
    json_response(StatusCode::OK, shaped.first().unwrap_or(&Value::Null))
}

fn export(app: &App, r: &ApiRequest) -> Response {
    match people::parse_export(&r.params) {
        Ok(q) => json_response(StatusCode::OK, &people::export(&app.store(), &q)),
        Err(e) => message(StatusCode::BAD_REQUEST, &e),
    }
}

fn by_email(app: &App, email: &str) -> Response {
    let store = app.store();
    // `PersonService.GetByEmail( email, true )`: deceased people in, businesses out.
    let business = store.known.record_type_business;
    let found: Vec<Row> = store
        .rows(Entity::Person)
        .filter(|p| people::listed(&store, p) && int(p, "RecordTypeValueId") != Some(business))
        .filter(|p| text(p, "Email").is_some_and(|e| e.eq_ignore_ascii_case(email)))
        .cloned()
        .collect();
    json_response(
        StatusCode::OK,
        &Value::Array(odata::shape(
            &store,
            Entity::Person,
            found,
            &odata::Query::default(),
        )),
    )
}

fn by_alias(app: &App, alias: &str, r: &ApiRequest) -> Response {
    let person = {
        let store = app.store();
        alias
            .parse::<i64>()
            .ok()
            .and_then(|a| store.get(Entity::PersonAlias, a))
            .and_then(|a| int(a, "PersonId"))
    };
    match person {
        Some(id) => get_one(app, Entity::Person, id, r),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn families(app: &App, person: &str, r: &ApiRequest) -> Response {
    let query = match odata::parse_query(Entity::Group, &r.params, app.max_node_count) {
        Ok(q) => q,
        Err(detail) => return odata_error(detail),
    };
    let store = app.store();
    let Ok(person) = person.parse::<i64>() else {
        return no_route(&r.uri);
    };
    let family_type = store.known.family_type;
    let ids: Vec<i64> = store
        .find_by(Entity::GroupMember, "PersonId", person)
        .into_iter()
        .filter(|m| int(m, "GroupTypeId") == Some(family_type) && !flag(m, "IsArchived"))
        .filter_map(|m| int(m, "GroupId"))
        .collect();
    let rows = ids.iter().filter_map(|id| store.get(Entity::Group, *id));
    let picked: Vec<Row> = odata::select_rows(rows, &query)
        .into_iter()
        .cloned()
        .collect();
    json_response(
        StatusCode::OK,
        &Value::Array(odata::shape(&store, Entity::Group, picked, &query)),
    )
}

fn image(app: &App, params: &Params) -> Response {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let store = app.store();
    let file = match (get("id"), get("guid")) {
        (Some(id), _) => id
            .parse::<i64>()
            .ok()
            .and_then(|id| store.get(Entity::BinaryFile, id)),
        (None, Some(guid)) => store.find_by_guid(Entity::BinaryFile, guid),
        (None, None) => None,
    };
    let Some(file) = file else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // RockWeb/App_Code/GetImage.ashx.cs checks VIEW for the person of the login cookie
    // (`UserLogin.GetCurrentUserName()`), never the REST key, whose `Authorization-Token` only
    // Rock.Rest/Filters/AuthenticateAttribute.cs reads, for API routes: on a file type with
    // `RequiresViewSecurity` a REST client is anonymous and gets `SendNotAuthorized`, a 403
    // with "Not authorized to view image" as the status description and an empty body.
    let secured = int(file, "BinaryFileTypeId")
        .and_then(|t| store.get(Entity::BinaryFileType, t))
        .is_some_and(|t| flag(t, "RequiresViewSecurity"));
    if secured {
        return reason(StatusCode::FORBIDDEN, "Not authorized to view image");
    }
    let Some(bytes) = int(file, "Id").and_then(|id| store.blobs.get(&id)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mime = text(file, "MimeType").unwrap_or("application/octet-stream");
    let mut response = Response::new(Body::from(bytes.clone()));
    if let Ok(value) = HeaderValue::from_str(mime) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

// ---- Writes ---------------------------------------------------------------------------------

fn body_object(r: &ApiRequest) -> Result<serde_json::Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(&r.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) | Err(_) if r.body.iter().all(u8::is_ascii_whitespace) => Err(message(
            StatusCode::BAD_REQUEST,
            "The request is invalid: the body is empty or could not be read as the model.",
        )),
        Ok(_) => Err(message(
            StatusCode::BAD_REQUEST,
            "The request is invalid: the body must be a JSON object.",
        )),
        Err(e) => Err(message(
            StatusCode::BAD_REQUEST,
            &format!("The request is invalid: {e}"),
        )),
    }
}

/// A POST/PUT body as a full row: Newtonsoft matches property names case-insensitively and
/// leaves everything missing at its default; computed properties are ignored.
fn row_from_body(entity: Entity, body: &serde_json::Map<String, Value>) -> Result<Row, Response> {
    let mut row = Store::blank(entity);
    for (name, value) in body {
        let Some(column) = entity
            .columns()
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
        else {
            continue;
        };
        // Computed columns are ignored, and so is what is no `[DataMember]` (e.g.
        // PersonAlias.AliasPersonId): Newtonsoft's DataContract resolver never binds it.
        if !column.writable || column.name == "Id" || !entity.binds(column.name) {
            continue;
        }
        let value = coerce(column, value).map_err(|e| message(StatusCode::BAD_REQUEST, &e))?;
        row.insert(column.name.to_string(), value);
    }
    Ok(row)
}

/// Converts a JSON value to what a column stores, as Newtonsoft would read it.
fn coerce(column: &Column, value: &Value) -> Result<Value, String> {
    let fail = || {
        format!(
            "Error converting value {value} to type '{}'. Path '{}'.",
            column.kind.edm(),
            column.name
        )
    };
    if value.is_null() {
        return if column.nullable {
            Ok(Value::Null)
        } else {
            Err(fail())
        };
    }
    match column.kind {
        Kind::Int | Kind::Enum => match value {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        }
        .filter(|n| i32::try_from(*n).is_ok())
        .map(Value::from)
        .ok_or_else(fail),
        Kind::Decimal => match value {
            Value::Number(_) => Some(value.clone()),
            Value::String(s) => s.trim().parse::<f64>().ok().map(Value::from),
            _ => None,
        }
        .ok_or_else(fail),
        Kind::Bool => match value {
            Value::Bool(_) => Some(value.clone()),
            Value::String(s) => s
                .trim()
                .to_ascii_lowercase()
                .parse::<bool>()
                .ok()
                .map(Value::Bool),
            Value::Number(n) => n.as_i64().map(|n| Value::Bool(n != 0)),
            _ => None,
        }
        .ok_or_else(fail),
        Kind::Str => match value {
            Value::String(_) => Ok(value.clone()),
            Value::Number(n) => Ok(Value::from(n.to_string())),
            Value::Bool(b) => Ok(Value::from(if *b { "True" } else { "False" })),
            _ => Err(fail()),
        },
        Kind::DateTime => value
            .as_str()
            .and_then(parse_datetime)
            .map(|t| Value::from(format_datetime(t)))
            .ok_or_else(fail),
        Kind::Date => value
            .as_str()
            .and_then(parse_datetime)
            .map(|t| Value::from(format_date(t.date())))
            .ok_or_else(fail),
        Kind::Guid => value
            .as_str()
            .and_then(parse_guid)
            .map(Value::from)
            .ok_or_else(fail),
    }
}

fn create(app: &App, entity: Entity, r: &ApiRequest) -> Response {
    let body = match body_object(r) {
        Ok(b) => b,
        Err(response) => return response,
    };
    let row = match row_from_body(entity, &body) {
        Ok(row) => row,
        Err(response) => return response,
    };
    // `Post` in Rock.Rest/ApiController.cs: `CheckCanEdit( value )` before anything is added.
    if !app.security().can_edit(entity) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mut store = app.store();
    let result = match entity {
        Entity::Person => people::find_or_create(&mut store, row),
        _ => store.insert(entity, row).map(|id| (201, id)),
    };
    match result {
        Ok((200, id)) => json_response(StatusCode::OK, &Value::from(id)),
        Ok((_, id)) => json_response(StatusCode::CREATED, &Value::from(id)),
        Err(e) => invalid(e),
    }
}

fn replace(app: &App, entity: Entity, id: i64, r: &ApiRequest) -> Response {
    let body = match body_object(r) {
        Ok(b) => b,
        Err(response) => return response,
    };
    let mut row = match row_from_body(entity, &body) {
        Ok(row) => row,
        Err(response) => return response,
    };
    let mut store = app.store();
    let Some(existing) = store.get(entity, id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !app.security().can_edit(entity) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    // A PUT without its Guid keeps the stored one rather than blanking the identity.
    if text(&row, "Guid").is_none_or(|g| g.starts_with("00000000-0000")) {
        row.insert(
            "Guid".into(),
            existing.get("Guid").cloned().unwrap_or(Value::Null),
        );
    }
    match store.update(entity, id, row) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => invalid(e),
    }
}

fn patch(app: &App, entity: Entity, id: i64, r: &ApiRequest) -> Response {
    let body = match serde_json::from_slice::<Value>(&r.body) {
        Ok(Value::Object(map)) if !map.is_empty() => map,
        Ok(Value::Object(_) | Value::Null) => {
            return message(StatusCode::BAD_REQUEST, "No values were sent in the body");
        }
        Err(_) if r.body.iter().all(u8::is_ascii_whitespace) => {
            return message(StatusCode::BAD_REQUEST, "No values were sent in the body");
        }
        _ => {
            return message(
                StatusCode::BAD_REQUEST,
                "The request is invalid: the body must be a JSON object.",
            );
        }
    };
    let mut store = app.store();
    let Some(mut row) = store.get(entity, id).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // `Patch`: 404, then `CheckCanEdit`, then each property (so a PATCH naming no property
    // of the model is a 400 that changes nothing, once EDIT is granted).
    if !app.security().can_edit(entity) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    for (name, value) in &body {
        if let Err(e) = patch_one(entity, &mut row, name, value) {
            return e;
        }
    }
    match store.update(entity, id, row) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => invalid(e),
    }
}

/// One PATCH property, with Rock's checks: exact (case-sensitive) property name, not `Id`,
/// writable, convertible.
fn patch_one(entity: Entity, row: &mut Row, name: &str, value: &Value) -> Result<(), Response> {
    if name == "Id" {
        return Err(message(StatusCode::BAD_REQUEST, "Cannot set Id"));
    }
    let Some(column) = entity.column(name) else {
        return Err(message(
            StatusCode::BAD_REQUEST,
            &format!("{} does not have attribute {name}", entity.type_name()),
        ));
    };
    if !column.writable {
        return Err(message(
            StatusCode::BAD_REQUEST,
            &format!("Cannot write {name}"),
        ));
    }
    let converted = match column.kind {
        Kind::Int | Kind::Enum => {
            coerce(column, value).map_err(|_| format!("Cannot cast {name} to int32"))
        }
        _ => coerce(column, value),
    };
    match converted {
        Ok(v) => {
            row.insert(column.name.to_string(), v);
            Ok(())
        }
        Err(e) if matches!(column.kind, Kind::Int | Kind::Enum) => {
            Err(message(StatusCode::BAD_REQUEST, &e))
        }
        // Convert.ChangeType throwing is an unhandled exception in Rock: a 500.
        Err(e) => Err(json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"Message": "An error has occurred.", "ExceptionMessage": e}),
        )),
    }
}

fn delete(app: &App, entity: Entity, id: i64) -> Response {
    if entity == Entity::Person {
        return method_not_allowed(&Method::DELETE);
    }
    let mut store = app.store();
    let Some(row) = store
        .get(entity, id)
        .filter(|r| !flag(r, "IsArchived") || entity != Entity::GroupMember)
        .cloned()
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !app.security().can_edit(entity) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if entity == Entity::GroupMember && keeps_history(&store, &row) {
        let mut archived = row;
        archived.insert("IsArchived".into(), Value::Bool(true));
        archived.insert(
            "ArchivedByPersonAliasId".into(),
            store.current_alias().map_or(Value::Null, Value::from),
        );
        return match store.update(entity, id, archived) {
            Ok(_) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => invalid(e),
        };
    }
    store.remove(entity, id);
    if entity == Entity::GroupMember
        && let Some(person) = int(&row, "PersonId")
    {
        let family = crate::rewrites::primary_family(&store, person);
        store.modify(Entity::Person, person, |p| {
            p.insert(
                "PrimaryFamilyId".into(),
                family.map_or(Value::Null, Value::from),
            );
        });
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Members of group types with `EnableGroupHistory` are archived, not deleted.
fn keeps_history(store: &Store, member: &Row) -> bool {
    int(member, "GroupTypeId")
        .and_then(|t| store.get(Entity::GroupType, t))
        .is_some_and(|t| flag(t, "EnableGroupHistory"))
}

fn attribute_value(app: &App, entity: Entity, id: &str, r: &ApiRequest) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return no_route(&r.uri);
    };
    // Web API binds an empty or blank `attributeValue` as null (`ModelBindingHelper.
    // ReplaceEmptyStringWithNull`, ConvertEmptyStringToNull); `DeleteAttributeValue` passes "".
    let value = match r.method {
        Method::POST => r.param("attributeValue").filter(|v| !v.trim().is_empty()),
        Method::DELETE => Some(""),
        _ => return method_not_allowed(&r.method),
    };
    let Some(key) = r.param("attributeKey").filter(|k| !k.is_empty()) else {
        return message(StatusCode::BAD_REQUEST, "attributeKey is required");
    };
    let security = app.security();
    let mut store = app.store();
    if store.get(entity, id).is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    // `CheckCanEdit( model )` comes before the attribute is looked up.
    if !security.can_edit(entity) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let editable = |key: &str| security.can_edit_attribute(key);
    match attributes::set_value(&mut store, entity, id, key, value, &editable) {
        Ok(()) => json_response(StatusCode::ACCEPTED, &Value::from(id)),
        Err(SetError::NotFound) => StatusCode::NOT_FOUND.into_response(),
        Err(SetError::Forbidden(text)) => reason(StatusCode::FORBIDDEN, &text),
        // `SetAttributeValue` in Rock.Rest/ApiController.cs throws these as
        // `HttpResponseException(new HttpResponseMessage(…) { ReasonPhrase = … })`: the text is
        // the status line's reason phrase and the body is empty.
        Err(SetError::NoSuchAttribute(text)) => reason(StatusCode::BAD_REQUEST, &text),
        Err(SetError::Invalid(e)) => message(StatusCode::BAD_REQUEST, &e),
    }
}

/// An empty answer whose status line carries `text` as its reason phrase.
pub fn reason(status: StatusCode, text: &str) -> Response {
    let mut response = status.into_response();
    if let Ok(phrase) = hyper::ext::ReasonPhrase::try_from(text.as_bytes().to_vec()) {
        response.extensions_mut().insert(phrase);
    }
    response
}

fn save_address(app: &App, segs: &[&str], r: &ApiRequest) -> Response {
    let (Ok(group), Ok(location_type)) = (segs[2].parse::<i64>(), segs[3].parse::<i64>()) else {
        return no_route(&r.uri);
    };
    let field = |name: &str| r.param(name).unwrap_or("").to_string();
    let address = people::Address {
        street1: field("street1"),
        street2: field("street2"),
        city: field("city"),
        state: field("state"),
        postal_code: field("postalCode"),
        country: field("country"),
    };
    // `CheckCanEdit` is not called by SaveAddress (GroupsController.Partial.cs).
    match people::save_address(&mut app.store(), group, location_type, &address) {
        people::Saved::Done => StatusCode::NO_CONTENT.into_response(),
        people::Saved::NotFound => StatusCode::NOT_FOUND.into_response(),
        // `throw new Exception( validationError )` escapes the action: Web API's 500.
        people::Saved::Failed(e) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"Message": "An error has occurred.", "ExceptionMessage": e, "ExceptionType": "System.Exception"}),
        ),
    }
}

fn photo_upload(app: &App, r: &ApiRequest) -> Response {
    let Some(guid) = r.param("personGuid").and_then(parse_guid) else {
        return message(StatusCode::BAD_REQUEST, "personGuid is required");
    };
    if r.body.is_empty() {
        return message(StatusCode::BAD_REQUEST, "No file was sent in the body");
    }
    let filename = r.param("filename").unwrap_or("photo.jpg").to_string();
    match people::update_photo(&mut app.store(), &guid, &filename, r.body.to_vec()) {
        Some(url) => json_response(StatusCode::OK, &Value::from(url)),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn percent_decode(segment: &str) -> String {
    // form_urlencoded also turns '+' into a space, which a path segment must keep.
    let protected = segment.replace('+', "%2B").replace('&', "%26");
    form_urlencoded::parse(format!("x={protected}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}
