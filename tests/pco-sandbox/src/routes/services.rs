//! Services v2: people with their permissions and archived state, tags, tag groups and email
//! templates (research §7). Services people are not created or deleted here: they appear when
//! People gives a person the Services app, and share the People id.

use std::collections::BTreeSet;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use congregation::Level;
use serde_json::{Map, Value};

use super::people::id_value;
use super::people_query::compare;
use super::{Capabilities, SharedState, list as list_doc, parse_id, single, view};
use crate::clock::lock;
use crate::jsonapi::{
    ApiError, ApiErrors, ApiResult, attributes, document, no_content, request_data,
};
use crate::model::{Account, Person, ServicesPerson, Tag, level_from_name};
use crate::query::ListParams;
use crate::records::EmailKind;
use crate::render;
use crate::resource::{Document, Included};
use crate::state::{Ctx, NewEmail, Shared};

const PERSON_INCLUDE: &[&str] = &["emails", "tags"];
/// Services people can only be queried by these (research §3); `id` is allowed as everywhere.
const PERSON_QUERY: &[&str] = &["assigned_to_rehearsal_team", "id", "legacy_id"];
const PERSON_ORDER: &[&str] = &["created_at", "first_name", "last_name", "updated_at"];

/// PATCH-assignable on a Services person (dumpS); only `permissions` is modelled, the rest is
/// accepted and ignored.
const PERSON_WRITABLE: &[&str] = &[
    "access_media_attachments",
    "access_plan_attachments",
    "access_song_attachments",
    "current_folder_id",
    "media_permissions",
    "onboardings",
    "permissions",
    "preferred_app",
    "song_permissions",
];

pub async fn list(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let params = ListParams::parse(q.as_deref())?;
    let archived_listed = lock(&shared.behaviour).archived_listed;
    let store = lock(&shared.store);
    let account = &store.accounts[ctx.account];
    let mut rows: Vec<(&Person, &ServicesPerson)> = account
        .people
        .values()
        .filter_map(|p| p.services.as_ref().map(|s| (p, s)))
        .filter(|(_, s)| archived_listed || s.archived_at.is_none())
        .filter(|(p, _)| {
            params
                .wheres
                .iter()
                .all(|w| services_where(p, &w.field, &w.value))
        })
        .collect();
    if let Some((attr, descending)) = &params.order {
        // Services' own updated_at, not People's: tag and permission changes move it.
        let key = |s: &ServicesPerson| {
            if attr == "created_at" {
                s.created_at
            } else {
                s.updated_at
            }
        };
        rows.sort_by(|(a, sa), (b, sb)| {
            let order = match attr.as_str() {
                "created_at" | "updated_at" => key(sa).cmp(&key(sb)).then(a.id.cmp(&b.id)),
                _ => compare(a, b, attr),
            };
            if *descending { order.reverse() } else { order }
        });
    }
    let v = view(&shared, ctx, account);
    let caps = Capabilities {
        include: PERSON_INCLUDE,
        query: PERSON_QUERY,
        order: PERSON_ORDER,
        filter: &[],
    };
    let body = list_doc(
        v,
        &params,
        "/services/v2/people",
        &rows,
        &caps,
        |(p, s), inc| render::services_person(v, p, s, &params.include, inc),
    );
    Ok(document(StatusCode::OK, body))
}

fn services_where(p: &Person, field: &str, value: &str) -> bool {
    match field {
        "id" => value.parse() == Ok(p.id),
        "assigned_to_rehearsal_team" => value == "false",
        // Nobody in the sandbox came from Services v1.
        _ => false,
    }
}

/// 404 while the person's new Services profile is still being provisioned (see
/// [`crate::state::Behaviour::provisioning_lag`]).
fn provisioned(shared: &Shared, ctx: Ctx, id: u64) -> Result<(), ApiError> {
    if shared.still_provisioning(ctx.account, id) {
        return Err(ApiError::not_found());
    }
    Ok(())
}

/// A person with their Services record, 404 until they were given Services (#1417, #1328).
fn services_person(account: &Account, id: u64) -> Result<(&Person, &ServicesPerson), ApiError> {
    let p = account.people.get(&id).ok_or_else(ApiError::not_found)?;
    let s = p.services.as_ref().ok_or_else(ApiError::not_found)?;
    Ok((p, s))
}

pub async fn show(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let params = ListParams::parse(q.as_deref())?;
    let id = parse_id(&id)?;
    provisioned(&shared, ctx, id)?;
    let store = lock(&shared.store);
    let account = &store.accounts[ctx.account];
    let (p, s) = services_person(account, id)?;
    Ok(document(
        StatusCode::OK,
        services_document(&shared, ctx, account, (p, s), &params.include),
    ))
}

fn services_document(
    shared: &Shared,
    ctx: Ctx,
    account: &Account,
    (p, s): (&Person, &ServicesPerson),
    include: &[String],
) -> Document {
    let v = view(shared, ctx, account);
    let mut included = Included::default();
    let data = render::services_person(v, p, s, include, &mut included);
    single(v, data, included, PERSON_INCLUDE)
}

/// Changes `permissions`. "Archived" archives the person (the 9 Embers plugin's way to remove
/// someone from Services, seed 000; via the API unconfirmed); a level unarchives them.
/// Raising sends the person a notice (seeds 002/004); lowering or archiving an organization
/// administrator notifies every organization administrator (SPEC R50).
pub async fn update(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let id = parse_id(&id)?;
    let data = request_data(&body)?;
    let attrs = attributes(&data)?;
    let wanted = requested_permissions(&attrs)?;
    if wanted == Some(None) && lock(&shared.behaviour).archive_refused {
        return Err(ApiError::validation(
            "permissions",
            "Archived is not included in the list".to_string(),
            "Person",
        )
        .into());
    }
    provisioned(&shared, ctx, id)?;
    let mut store = lock(&shared.store);
    let account = &mut store.accounts[ctx.account];
    services_person(account, id)?;
    guard_permissions(ctx, &attrs)?;
    if let Some(wanted) = wanted {
        let admins = account.org_admins();
        let p = account
            .people
            .get_mut(&id)
            .ok_or_else(ApiError::not_found)?;
        if let Some(email) = set_permissions(p, wanted, shared.clock.tick(), admins) {
            shared.send_email(ctx.account, email);
        }
    }
    let p = services_person(account, id)?;
    Ok(document(
        StatusCode::OK,
        services_document(&shared, ctx, account, p, &[]),
    ))
}

/// The PATCH-assignable attributes that change what a person may do in Services.
const PERMISSION_ATTRIBUTES: &[&str] = &["media_permissions", "permissions", "song_permissions"];

/// [`crate::state::RoleRules::services_permissions`]: changing Services permissions (archiving
/// included) needs a Services Administrator or an organization administrator; others get 403.
fn guard_permissions(ctx: Ctx, attrs: &Map<String, Value>) -> Result<(), ApiError> {
    let changes_permissions = PERMISSION_ATTRIBUTES.iter().any(|a| attrs.contains_key(*a));
    if changes_permissions
        && ctx.rules.services_permissions
        && !ctx.user.can_set_services_permissions()
    {
        return Err(ApiError::no_access());
    }
    Ok(())
}

/// A level, or None for "Archived".
type Permissions = Option<Level>;

fn requested_permissions(attrs: &Map<String, Value>) -> Result<Option<Permissions>, ApiErrors> {
    if let Some(bad) = attrs
        .keys()
        .find(|k| !PERSON_WRITABLE.contains(&k.as_str()))
    {
        return Err(ApiError::forbidden_attribute(bad, "Person").into());
    }
    match attrs.get("permissions") {
        None => Ok(None),
        Some(Value::String(s)) if s == "Archived" => Ok(Some(None)),
        Some(Value::String(s)) if level_from_name(s).is_some() => Ok(Some(level_from_name(s))),
        Some(other) => {
            let shown = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_string);
            Err(ApiError::validation(
                "permissions",
                format!("{shown} is not included in the list"),
                "Person",
            )
            .into())
        }
    }
}

/// Applies a permission change and returns the email PCO would send about it, if any.
fn set_permissions(
    p: &mut Person,
    wanted: Permissions,
    now: i64,
    org_admins: Vec<u64>,
) -> Option<NewEmail> {
    let to_address = p
        .emails
        .iter()
        .find(|e| e.primary)
        .or(p.emails.first())
        .map(|e| e.address.clone());
    let is_admin = p.site_administrator;
    let s = p.services.as_mut()?;
    let before = s.permissions();
    let was_archived = s.archived_at.is_some();
    let raised = match wanted {
        None if was_archived => return None,
        None => {
            s.archived_at = Some(now);
            false
        }
        Some(level) if !was_archived && level == s.level => return None,
        Some(level) => {
            let raised = was_archived || level > s.level;
            s.level = level;
            s.archived_at = None;
            raised
        }
    };
    s.updated_at = now;
    let after = s.permissions();
    let (kind, recipients, subject) = if raised {
        (
            EmailKind::PermissionRaised,
            vec![p.id],
            "Your Planning Center permissions have changed",
        )
    } else if is_admin {
        (
            EmailKind::OrgAdminLowered,
            org_admins,
            "An organization administrator's permissions were lowered",
        )
    } else {
        // Lowering anyone else sends nothing (seed 002).
        return None;
    };
    Some(NewEmail {
        kind,
        person_id: p.id,
        recipients,
        subject: subject.into(),
        template_id: None,
        from_permissions: Some(before.into()),
        to_permissions: Some(after.into()),
        to_address,
    })
}

pub async fn person_tags(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let params = ListParams::parse(q.as_deref())?;
    let id = parse_id(&id)?;
    let store = lock(&shared.store);
    let account = &store.accounts[ctx.account];
    let (_, s) = services_person(account, id)?;
    let tags: Vec<&Tag> = s.tags.iter().filter_map(|t| account.tag(*t)).collect();
    tag_list(
        &shared,
        ctx,
        account,
        &params,
        &format!("/services/v2/people/{id}/tags"),
        &tags,
    )
}

/// Replaces the person's whole tag set (research §7.3: "full data set must be sent"); 204.
/// Moves neither People's `updated_at` (seed 000) nor, as far as known, Services' one.
pub async fn assign_tags(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let id = parse_id(&id)?;
    let data = request_data(&body)?;
    let wanted = requested_tags(&data)?;
    provisioned(&shared, ctx, id)?;
    let mut store = lock(&shared.store);
    let account = &mut store.accounts[ctx.account];
    services_person(account, id)?;
    if let Some(missing) = wanted.iter().find(|t| account.tag(**t).is_none()) {
        let mut e = ApiError::resource_not_found("tags", "TagAssignment");
        e.detail = format!("Error setting tags. Tag {missing} couldn't be found.");
        return Err(e.into());
    }
    if let Some(s) = account
        .people
        .get_mut(&id)
        .and_then(|p| p.services.as_mut())
    {
        s.tags = wanted;
    }
    Ok(no_content())
}

/// `data.relationships.tags.data`: a list of `{"type": "Tag", "id": "5"}`; `[]` clears.
fn requested_tags(data: &Map<String, Value>) -> Result<BTreeSet<u64>, ApiErrors> {
    let bad = |detail: &str| ApiError::bad_request("invalid_resource_payload", detail.to_string());
    let list = data
        .get("relationships")
        .and_then(|r| r.get("tags"))
        .and_then(|t| t.get("data"))
        .and_then(Value::as_array)
        .ok_or_else(|| bad("relationships.tags.data must be a list of tags"))?;
    list.iter()
        .map(|t| {
            t.get("id")
                .and_then(id_value)
                .ok_or_else(|| bad("every tag needs an id").into())
        })
        .collect()
}

pub async fn tag_groups(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let params = ListParams::parse(q.as_deref())?;
    let store = lock(&shared.store);
    let account = &store.accounts[ctx.account];
    // All sandbox tag groups are for people: other filters (song, media, ...) find nothing.
    let for_people = params.filters.iter().all(|f| f == "person");
    let name = params.where_value("name").map(str::to_lowercase);
    let tags_for_ok = params.where_value("tags_for").is_none_or(|t| t == "person");
    let rows: Vec<_> = account
        .tag_groups
        .iter()
        .filter(|g| {
            for_people && tags_for_ok && name.as_ref().is_none_or(|n| g.name.to_lowercase() == *n)
        })
        .collect();
    let v = view(&shared, ctx, account);
    let caps = Capabilities {
        include: &["tags"],
        query: &["name", "tags_for"],
        order: &["name"],
        filter: &["arrangement", "media", "person", "song"],
    };
    let with_tags = params.includes("tags");
    let body = list_doc(
        v,
        &params,
        "/services/v2/tag_groups",
        &rows,
        &caps,
        |g, inc| render::tag_group(v, g, with_tags, inc),
    );
    Ok(document(StatusCode::OK, body))
}

pub async fn tag_group(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let params = ListParams::parse(q.as_deref())?;
    let id = parse_id(&id)?;
    let store = lock(&shared.store);
    let account = &store.accounts[ctx.account];
    let g = account
        .tag_groups
        .iter()
        .find(|g| g.id == id)
        .ok_or_else(ApiError::not_found)?;
    let v = view(&shared, ctx, account);
    let mut included = Included::default();
    let data = render::tag_group(v, g, params.includes("tags"), &mut included);
    Ok(document(
        StatusCode::OK,
        single(v, data, included, &["tags"]),
    ))
}

pub async fn tag_group_tags(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let params = ListParams::parse(q.as_deref())?;
    let id = parse_id(&id)?;
    let store = lock(&shared.store);
    let account = &store.accounts[ctx.account];
    if !account.tag_groups.iter().any(|g| g.id == id) {
        return Err(ApiError::not_found().into());
    }
    let tags: Vec<&Tag> = account.tags.iter().filter(|t| t.group_id == id).collect();
    tag_list(
        &shared,
        ctx,
        account,
        &params,
        &format!("/services/v2/tag_groups/{id}/tags"),
        &tags,
    )
}

fn tag_list(
    shared: &Shared,
    ctx: Ctx,
    account: &Account,
    params: &ListParams,
    path: &str,
    tags: &[&Tag],
) -> ApiResult {
    let name = params.where_value("name").map(str::to_lowercase);
    let rows: Vec<&Tag> = tags
        .iter()
        .copied()
        .filter(|t| name.as_ref().is_none_or(|n| t.name.to_lowercase() == *n))
        .collect();
    let v = view(shared, ctx, account);
    let caps = Capabilities {
        include: &["tag_group"],
        query: &["name"],
        order: &["name"],
        filter: &[],
    };
    let with_group = params.includes("tag_group");
    let body = list_doc(v, params, path, &rows, &caps, |t, inc| {
        if with_group && let Some(g) = account.tag_groups.iter().find(|g| g.id == t.group_id) {
            inc.push(render::tag_group(v, g, false, &mut Included::default()));
        }
        render::tag(v, t)
    });
    Ok(document(StatusCode::OK, body))
}

pub async fn email_templates(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let params = ListParams::parse(q.as_deref())?;
    let store = lock(&shared.store);
    let account = &store.accounts[ctx.account];
    let rows: Vec<_> = account
        .templates
        .iter()
        .filter(|t| params.where_value("kind").is_none_or(|k| t.kind == k))
        .filter(|t| {
            params
                .where_value("subject")
                .is_none_or(|s| t.subject.eq_ignore_ascii_case(s))
        })
        .collect();
    let v = view(&shared, ctx, account);
    let caps = Capabilities {
        include: &[],
        query: &["kind", "subject"],
        order: &["created_at", "subject"],
        filter: &[],
    };
    let body = list_doc(
        v,
        &params,
        "/services/v2/email_templates",
        &rows,
        &caps,
        |t, _| render::email_template(v, t),
    );
    Ok(document(StatusCode::OK, body))
}

pub async fn email_template(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let store = lock(&shared.store);
    let account = &store.accounts[ctx.account];
    let t = account.template(id).ok_or_else(ApiError::not_found)?;
    let v = view(&shared, ctx, account);
    Ok(document(
        StatusCode::OK,
        single(v, render::email_template(v, t), Included::default(), &[]),
    ))
}
