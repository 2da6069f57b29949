//! People v2: people, apps and person_apps (research §6.1, §6.6, §6.8).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::people_query::{self, ORDER, QUERY};
use super::{Capabilities, SharedState, list as list_doc, list_window, parse_id, single, view};
use crate::clock::lock;
use crate::edits::apply_person;
use crate::jsonapi::{
    ApiError, ApiErrors, ApiResult, attributes, document, no_content, request_data,
};
use crate::model::{APPS, Counters, Person, PersonApp, SERVICES_APP_ID, ServicesPerson};
use crate::query::ListParams;
use crate::records::EmailKind;
use crate::render;
use crate::resource::Included;
use crate::state::{CreatedAtTies, Ctx, NewEmail};
use congregation::Level;

const CAN_INCLUDE: &[&str] = &[
    "addresses",
    "emails",
    "organization",
    "person_apps",
    "phone_numbers",
];
const CAN_FILTER: &[&str] = &["admins", "organization_admins"];

pub async fn organization(State(shared): SharedState, Extension(ctx): Extension<Ctx>) -> ApiResult {
    let store = lock(&shared.store);
    let v = view(&shared, ctx, &store.accounts[ctx.account]);
    let body = json!({ "data": render::organization(v), "included": [], "meta": {} });
    Ok(document(StatusCode::OK, body))
}

/// The person the credentials belong to (the account's first organization administrator), with
/// the token user's roles: `site_administrator` and `people_permissions` are what a client reads
/// to know what its token may do (maintainer answer, planningcenter/developers#113).
pub async fn me(State(shared): SharedState, Extension(ctx): Extension<Ctx>) -> ApiResult {
    let store = lock(&shared.store);
    let account = &store.accounts[ctx.account];
    let p = token_person(account)?;
    let v = view(&shared, ctx, account);
    let mut included = Included::default();
    let mut data = render::person(v, p, &[], &mut included).to_value();
    data["attributes"]["site_administrator"] = json!(ctx.user.site_administrator);
    data["attributes"]["people_permissions"] = json!(ctx.user.people);
    let body = json!({ "data": data, "included": included.into_vec(), "meta": {} });
    Ok(document(StatusCode::OK, body))
}

/// The token's user in Services, with their Services `permissions`
/// (`GET /services/v2/me`, planningcenter/developers#182).
pub async fn services_me(State(shared): SharedState, Extension(ctx): Extension<Ctx>) -> ApiResult {
    let store = lock(&shared.store);
    let account = &store.accounts[ctx.account];
    let p = token_person(account)?;
    let v = view(&shared, ctx, account);
    let services = ServicesPerson {
        level: ctx.user.services.unwrap_or(Level::ScheduledViewer),
        archived_at: None,
        tags: Default::default(),
        created_at: p.created_at,
        updated_at: p.updated_at,
    };
    let mut data =
        render::services_person(v, p, &services, &[], &mut Included::default()).to_value();
    if ctx.user.services.is_none() {
        return Err(ApiError::forbidden("You do not have access to this resource").into());
    }
    data["attributes"]["site_administrator"] = json!(ctx.user.site_administrator);
    Ok(document(
        StatusCode::OK,
        json!({ "data": data, "included": [], "meta": {} }),
    ))
}

/// A fresh salt for the order of `created_at` ties when [`CreatedAtTies`] is on: drawn from
/// the option's seed and a per-sandbox request counter, so runs repeat but requests differ.
fn shuffle_salt(shared: &crate::state::Shared, attr: &str) -> Option<u64> {
    if attr != "created_at" {
        return None;
    }
    let ties = lock(&shared.behaviour).created_at_ties?;
    let n = shared
        .tie_draws
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Some(mix(ties.seed ^ mix(n)))
}

/// SplitMix64's finaliser: a well-spread 64-bit hash.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn token_person(account: &crate::model::Account) -> Result<&Person, ApiError> {
    account
        .people
        .values()
        .find(|p| p.site_administrator)
        .ok_or_else(ApiError::not_found)
}

pub async fn apps(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let params = ListParams::parse(q.as_deref())?;
    let store = lock(&shared.store);
    let v = view(&shared, ctx, &store.accounts[ctx.account]);
    let wanted = params.where_value("name").map(str::to_lowercase);
    let ids: Vec<u64> = APPS
        .iter()
        .filter(|(_, name)| wanted.as_ref().is_none_or(|w| name.to_lowercase() == *w))
        .map(|(id, _)| *id)
        .collect();
    let caps = Capabilities {
        include: &[],
        query: &["name"],
        order: &["name"],
        filter: &[],
    };
    Ok(document(
        StatusCode::OK,
        list_doc(v, &params, "/people/v2/apps", &ids, &caps, |id, _| {
            render::app(v, *id)
        }),
    ))
}

pub async fn app(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    if !APPS.iter().any(|(i, _)| *i == id) {
        return Err(ApiError::not_found().into());
    }
    let store = lock(&shared.store);
    let v = view(&shared, ctx, &store.accounts[ctx.account]);
    Ok(document(
        StatusCode::OK,
        single(v, render::app(v, id), Included::default(), &[]),
    ))
}

pub async fn list(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let params = ListParams::parse(q.as_deref())?;
    let predicates = people_query::predicates(&params.wheres)?;
    let admins_only = params
        .filters
        .iter()
        .any(|f| f == "admins" || f == "organization_admins");
    let store = lock(&shared.store);
    let account = &store.accounts[ctx.account];
    let v = view(&shared, ctx, account);
    let caps = Capabilities {
        include: CAN_INCLUDE,
        query: QUERY,
        order: ORDER,
        filter: CAN_FILTER,
    };
    let path = "/people/v2/people";
    let render = |p: &Person, inc: &mut Included| render::person(v, p, &params.include, inc);
    if predicates.is_empty() && !admins_only && params.order.is_none() {
        // Everyone in id order: page straight off the map.
        let all = &account.people;
        let window = |r: std::ops::Range<usize>| all.values().skip(r.start).take(r.len()).collect();
        let body = list_window(v, &params, path, all.len(), window, &caps, render);
        return Ok(document(StatusCode::OK, body));
    }
    let mut rows: Vec<&Person> = account
        .people
        .values()
        .filter(|p| !admins_only || p.site_administrator)
        .filter(|p| predicates.iter().all(|pred| pred(p)))
        .collect();
    if let Some((attr, descending)) = &params.order {
        let shuffle = shuffle_salt(&shared, attr);
        people_query::sort(&mut rows, attr, *descending, shuffle);
    }
    let body = list_doc(v, &params, path, &rows, &caps, |p, inc| render(p, inc));
    Ok(document(StatusCode::OK, body))
}

pub async fn show(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let params = ListParams::parse(q.as_deref())?;
    let id = parse_id(&id)?;
    let store = lock(&shared.store);
    let account = &store.accounts[ctx.account];
    let p = account.people.get(&id).ok_or_else(ApiError::not_found)?;
    let v = view(&shared, ctx, account);
    let mut included = Included::default();
    let data = render::person(v, p, &params.include, &mut included);
    Ok(document(
        StatusCode::OK,
        single(v, data, included, CAN_INCLUDE),
    ))
}

pub async fn create(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    body: Bytes,
) -> ApiResult {
    let data = request_data(&body)?;
    let attrs = attributes(&data)?;
    let now = shared.clock.tick();
    let mut store = lock(&shared.store);
    let (account, next) = store.split(ctx.account);
    let created_at = match lock(&shared.behaviour).created_at_ties {
        Some(ties) => tied_created_at(account, ties, now),
        None => now,
    };
    let mut p = Person {
        id: next.person,
        created_at,
        updated_at: now,
        ..Person::default()
    };
    apply_person(
        &mut p,
        &attrs,
        account,
        &shared.base_url,
        now,
        true,
        ctx.version.gender_words,
    )?;
    Counters::take(&mut next.person);
    let id = p.id;
    account.people.insert(id, p);
    let v = view(&shared, ctx, account);
    let mut included = Included::default();
    let data = render::person(v, &account.people[&id], &[], &mut included);
    Ok(document(
        StatusCode::CREATED,
        single(v, data, included, CAN_INCLUDE),
    ))
}

/// With [`CreatedAtTies`] on, a new person shares the newest person's `created_at` while fewer
/// than `per_second` people have it.
fn tied_created_at(account: &crate::model::Account, ties: CreatedAtTies, now: i64) -> i64 {
    let Some(newest) = account.people.values().next_back() else {
        return now;
    };
    let sharing = account
        .people
        .values()
        .rev()
        .take_while(|p| p.created_at == newest.created_at)
        .count();
    if sharing < ties.per_second.max(1) {
        newest.created_at
    } else {
        now
    }
}

pub async fn update(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let id = parse_id(&id)?;
    let data = request_data(&body)?;
    let attrs = attributes(&data)?;
    let mut store = lock(&shared.store);
    let account = &mut store.accounts[ctx.account];
    let mut p = account
        .people
        .get(&id)
        .ok_or_else(ApiError::not_found)?
        .clone();
    guard_admin_names(ctx, &p, &attrs)?;
    let now = shared.clock.now();
    let change = apply_person(
        &mut p,
        &attrs,
        account,
        &shared.base_url,
        now,
        false,
        ctx.version.gender_words,
    )?;
    if change.changed {
        p.updated_at = shared.clock.tick();
    }
    account.people.insert(id, p);
    if change.admin_removed {
        let mut recipients = account.org_admins();
        recipients.push(id);
        shared.send_email(
            ctx.account,
            NewEmail {
                kind: EmailKind::OrgAdminLowered,
                person_id: id,
                recipients,
                subject: "An organization administrator was removed".into(),
                template_id: None,
                from_permissions: Some("Organization Administrator".into()),
                to_permissions: None,
                to_address: None,
            },
        );
    }
    let v = view(&shared, ctx, account);
    let mut included = Included::default();
    let data = render::person(v, &account.people[&id], &[], &mut included);
    Ok(document(
        StatusCode::OK,
        single(v, data, included, CAN_INCLUDE),
    ))
}

/// The name attributes PCO keeps an organization administrator's editors from assigning on an
/// organization or accounting administrator, in the order the refusal names them.
const GUARDED_NAMES: &[&str] = &[
    "first_name",
    "given_name",
    "middle_name",
    "nickname",
    "last_name",
];

/// [`crate::state::RoleRules::admin_names`]: 422 "You cannot assign first_name and last_name to
/// this Person" (planningcenter/developers#1139) when a token user who is not an organization
/// administrator names an organization or accounting administrator's names.
fn guard_admin_names(ctx: Ctx, p: &Person, attrs: &Map<String, Value>) -> Result<(), ApiError> {
    if !ctx.rules.admin_names || ctx.user.site_administrator || !p.is_guarded_admin() {
        return Ok(());
    }
    let named: Vec<&str> = GUARDED_NAMES
        .iter()
        .copied()
        .filter(|n| attrs.contains_key(*n))
        .collect();
    if named.is_empty() {
        return Ok(());
    }
    Err(ApiError::forbidden_attribute_detail(format!(
        "You cannot assign {} to this Person",
        to_sentence(&named)
    )))
}

/// Rails' `Array#to_sentence`: "a", "a and b", "a, b, and c" (#1139's detail reads
/// "first_name and last_name").
fn to_sentence(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_string(),
        [a, b] => format!("{a} and {b}"),
        [rest @ .., last] => format!("{}, and {last}", rest.join(", ")),
    }
}

pub async fn destroy(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let mut store = lock(&shared.store);
    let account = &mut store.accounts[ctx.account];
    let p = account.people.remove(&id).ok_or_else(ApiError::not_found)?;
    let contacts = p
        .emails
        .iter()
        .map(|e| e.id)
        .chain(p.phones.iter().map(|x| x.id))
        .chain(p.addresses.iter().map(|a| a.id));
    for contact in contacts {
        account.contact_owner.remove(&contact);
    }
    Ok(no_content())
}

pub async fn person_apps(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let params = ListParams::parse(q.as_deref())?;
    let id = parse_id(&id)?;
    let store = lock(&shared.store);
    let account = &store.accounts[ctx.account];
    let p = account.people.get(&id).ok_or_else(ApiError::not_found)?;
    let v = view(&shared, ctx, account);
    let caps = Capabilities {
        include: &["app"],
        query: &[],
        order: &[],
        filter: &[],
    };
    let path = format!("/people/v2/people/{id}/person_apps");
    let body = list_doc(v, &params, &path, &p.apps, &caps, |a, inc| {
        if params.includes("app") {
            inc.push(render::app(v, a.app_id));
        }
        render::person_app(v, a, id)
    });
    Ok(document(StatusCode::OK, body))
}

/// Gives a person an app. For Services this creates their Services record at the
/// organization's default level for new profiles ([`crate::state::Behaviour`]). No email is
/// sent: PCO's v2 API has no way to send the Services welcome email (planningcenter/developers#89,
/// #250); an administrator sends it from Services.
pub async fn grant_app(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let id = parse_id(&id)?;
    let data = request_data(&body)?;
    let attrs = attributes(&data)?;
    let app_id = granted_app(&data, &attrs)?;
    let default_level = lock(&shared.behaviour).new_services_level;
    let mut store = lock(&shared.store);
    let (account, next) = store.split(ctx.account);
    let p = account
        .people
        .get_mut(&id)
        .ok_or_else(ApiError::not_found)?;
    if p.apps.iter().any(|a| a.app_id == app_id) {
        return Err(ApiError::validation("app", "has already been taken", "PersonApp").into());
    }
    let now = shared.clock.tick();
    let app = PersonApp {
        id: Counters::take(&mut next.person_app),
        app_id,
    };
    p.apps.push(app.clone());
    if app_id == SERVICES_APP_ID && p.services.is_none() {
        shared.start_provisioning(ctx.account, id);
        p.services = Some(ServicesPerson {
            level: default_level,
            archived_at: None,
            tags: Default::default(),
            created_at: now,
            updated_at: now,
        });
    }
    let v = view(&shared, ctx, account);
    Ok(document(
        StatusCode::CREATED,
        single(
            v,
            render::person_app(v, &app, id),
            Included::default(),
            &["app"],
        ),
    ))
}

/// The app of a person_apps create: `attributes.app_id` (or `relationships.app`). `app_id` is
/// the only assignable attribute (developer.planning.center/docs/#/apps/people/2022-07-14/
/// vertices/person_app: `create_assignable: ["app_id"]`); any other, `email_template_id`
/// included, is PCO's 422 "Forbidden Attribute ... cannot be assigned".
fn granted_app(data: &Map<String, Value>, attrs: &Map<String, Value>) -> Result<u64, ApiErrors> {
    for key in attrs.keys() {
        match key.as_str() {
            "app_id" => {}
            // Determined by Services permissions; PCO refuses them since 2017 (#249, #328).
            "allow_pco_login" | "people_permissions" => {
                return Err(ApiError::forbidden(format!(
                    "{key} cannot be assigned; permissions are set in each app"
                ))
                .into());
            }
            _ => return Err(ApiError::forbidden_attribute(key, "PersonApp").into()),
        }
    }
    let from_relationship = data
        .get("relationships")
        .and_then(|r| r["app"]["data"]["id"].as_str().map(Value::from));
    let app = attrs.get("app_id").cloned().or(from_relationship);
    app.as_ref()
        .and_then(id_value)
        .filter(|id| APPS.iter().any(|(a, _)| a == id))
        .ok_or_else(|| ApiError::resource_not_found("app_id", "PersonApp").into())
}

/// An id given as a JSON number or a numeric string.
pub fn id_value(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
