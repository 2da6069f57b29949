//! An account's overview (R32): its groups with their levels and its people (Rock id, name,
//! PCO id, level in Rock and in PCO, last sync), filtered and sorted; a person's saved values
//! and their PCO id set by hand (R33); the people list refreshed from the groups (R34);
//! selected people deleted from PCO after a dry run and the R35 warning; dry run and sync now
//! (R30, R20).

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::{back, error, frame, report_view};
use crate::bindings::engine::{AccountStatus, PersonStatus, StatusOptions};
use crate::bindings::types::PermissionLevel;
use crate::config::AccountConfig;
use crate::ops::runs::SyncRequest;
use crate::ops::text::{
    counts_text, field_value_text, kind_name, level_name, outcome_name, time_text,
};
use crate::ops::{Session, admin, plain};
use crate::web::auth::{Flash, FlashKind, Sess};
use crate::web::form::Fields;
use crate::web::html::{self, Section, account_url, csrf, dash, qenc};
use crate::web::jobs::{self, JobKind};
use crate::web::{App, WebError, account};

/// People shown on one page of the list.
const PAGE: usize = 100;

fn info(text: impl Into<String>) -> Flash {
    Flash {
        kind: FlashKind::Info,
        text: text.into(),
    }
}

/// Opens a session with the guest for one page, or says why not.
pub(crate) async fn session(
    app: &App,
    config: &crate::config::Config,
    account: &crate::config::AccountConfig,
) -> Result<Session, WebError> {
    Session::open(config, &app.data_dir, account)
        .await
        .map_err(|e| {
            WebError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("pcosync cannot reach what this page needs: {e:#}"),
            )
        })
}

fn level_rank(level: Option<PermissionLevel>) -> i32 {
    match level {
        None => -1,
        Some(PermissionLevel::ScheduledViewer) => 0,
        Some(PermissionLevel::Viewer) => 1,
        Some(PermissionLevel::Scheduler) => 2,
        Some(PermissionLevel::Editor) => 3,
        Some(PermissionLevel::Administrator) => 4,
    }
}

#[derive(Deserialize, Default, Clone)]
pub(crate) struct PeopleQuery {
    q: Option<String>,
    show: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    page: Option<String>,
}

impl PeopleQuery {
    fn q(&self) -> &str {
        self.q.as_deref().unwrap_or_default().trim()
    }
    fn show(&self) -> &str {
        self.show.as_deref().unwrap_or("all")
    }
    fn sort(&self) -> &str {
        self.sort.as_deref().unwrap_or("name")
    }
    fn descending(&self) -> bool {
        self.dir.as_deref() == Some("desc")
    }
    fn page(&self) -> usize {
        self.page
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or(1usize)
            .max(1)
    }

    /// The list's address with these settings, changed by `f`.
    fn url(&self, account: &str, f: impl FnOnce(&mut PeopleQuery)) -> String {
        let mut q = self.clone();
        f(&mut q);
        let mut parts = Vec::new();
        if !q.q().is_empty() {
            parts.push(format!("q={}", qenc(q.q())));
        }
        if q.show() != "all" {
            parts.push(format!("show={}", qenc(q.show())));
        }
        parts.push(format!("sort={}", qenc(q.sort())));
        if q.descending() {
            parts.push("dir=desc".into());
        }
        if q.page() > 1 {
            parts.push(format!("page={}", q.page()));
        }
        format!("{}?{}#people", account_url(account, ""), parts.join("&"))
    }
}

/// The people the list shows, filtered and sorted.
fn people_shown<'a>(status: &'a AccountStatus, query: &PeopleQuery) -> Vec<&'a PersonStatus> {
    let needle = query.q().to_lowercase();
    let mut people: Vec<&PersonStatus> = status
        .people
        .iter()
        .filter(|p| match query.show() {
            "linked" => p.pco_id.is_some(),
            "waiting" => p.pco_id.is_none() && p.rock_level.is_some() && p.waiting.is_none(),
            // Skipped by every sync until an administrator acts (R32, issue 24 item 25).
            "held" => p.pco_id.is_none() && p.waiting.is_some(),
            "no-group" => p.rock_level.is_none(),
            _ => true,
        })
        .filter(|p| {
            needle.is_empty()
                || p.name.to_lowercase().contains(&needle)
                || p.rock_id.to_string() == needle
                || p.pco_id.as_deref().is_some_and(|id| id == needle)
                || p.tags.iter().any(|t| t.to_lowercase().contains(&needle))
        })
        .collect();
    people.sort_by(|a, b| {
        let order = match query.sort() {
            "rock_id" => a.rock_id.cmp(&b.rock_id),
            "pco_id" => a
                .pco_id
                .as_deref()
                .map(|id| (id.len(), id.to_string()))
                .cmp(&b.pco_id.as_deref().map(|id| (id.len(), id.to_string()))),
            "rock_level" => level_rank(a.rock_level).cmp(&level_rank(b.rock_level)),
            "pco_level" => level_rank(a.pco_level).cmp(&level_rank(b.pco_level)),
            "last_synced" => a.last_synced.cmp(&b.last_synced),
            _ => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        }
        .then(a.rock_id.cmp(&b.rock_id));
        if query.descending() {
            order.reverse()
        } else {
            order
        }
    });
    people
}

fn sort_header(account: &str, query: &PeopleQuery, key: &str, label: &str) -> Markup {
    let here = query.sort() == key;
    let next_desc = here && !query.descending();
    let url = query.url(account, |q| {
        q.sort = Some(key.into());
        q.dir = next_desc.then(|| "desc".into());
        q.page = None;
    });
    let aria = match (here, query.descending()) {
        (false, _) => "none",
        (true, false) => "ascending",
        (true, true) => "descending",
    };
    html! {
        th scope="col" aria-sort=(aria) {
            a href=(url) { (label) @if here { @if query.descending() { " ↓" } @else { " ↑" } } }
        }
    }
}

fn run_controls(app: &App, sess: &Sess, name: &str) -> Markup {
    let running = app.jobs.running_for(name);
    html! {
        section.panel aria-labelledby="run-heading" {
            h2 #run-heading { "Sync" }
            @if let Some(job) = &running {
                p { span.badge { "running" } " " a href=(jobs::url(job)) { (job.kind.title()) " in progress: follow it" } }
            }
            form method="post" action=(account_url(name, "/sync")) {
                (csrf(sess))
                label.check { input type="checkbox" name="updates_only"; "Ask PCO only for people updated since the last successful run" }
                div.actions {
                    button.secondary type="submit" name="mode" value="dry-run" { "Dry run" }
                    button type="submit" name="mode" value="sync" { "Sync now" }
                }
                p.hint { "The dry run shows every create, change, raise, lowering and archive the sync would make, and writes nothing." }
            }
            form method="post" action=(account_url(name, "/refresh")) {
                (csrf(sess))
                button.secondary type="submit" { "Refresh list from groups" }
                span.hint { " Adds people new in the groups to the list now; writes nothing to PCO." }
            }
        }
    }
}

pub(crate) async fn overview(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
    Query(query): Query<PeopleQuery>,
) -> Result<Response, WebError> {
    let config = app.config()?;
    let account = account(&config, &name)?;
    let session = session(&app, &config, account).await?;
    let options = StatusOptions {
        with_values: false,
        rock_ids: Vec::new(),
        runs: 5,
    };
    let status = admin::status(&session, account, &options)
        .await
        .map_err(|e| WebError::internal(format!("account \"{name}\": {}", plain(&e))))?;
    let people = people_shown(&status, &query);
    let pages = people.len().div_ceil(PAGE).max(1);
    let page = query.page().min(pages);
    let shown: Vec<&PersonStatus> = people
        .iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .copied()
        .collect();
    let body = html! {
        (run_controls(&app, &sess, &name))
        dl.facts {
            dt { "Last successful sync" } dd { (status.last_success.as_deref().map_or("never".to_string(), time_text)) }
            dt { "People" } dd { (status.people.len()) " (" (admin::pending(&status)) " waiting for their first sync)" }
            dt { "Lowers levels and archives" } dd { @if account.allow_downgrade { "yes" } @else { "no (allow permission downgrade is off)" } }
        }
        h2 #groups { "Groups syncing to this account" }
        @if status.groups.is_empty() {
            p { "None: set the group attribute \"PCO Account\" on a Rock group, or map a tag to one." }
        } @else {
            div.table-wrap {
                table {
                    caption { (status.groups.len()) " groups, with the permission level each gives" }
                    thead { tr {
                        th scope="col" { "Id" } th scope="col" { "Name" } th scope="col" { "Type" }
                        th scope="col" { "Level" } th scope="col" { "Tag" } th.num scope="col" { "Members" } th scope="col" { "Synced" }
                    } }
                    tbody {
                        @for g in &status.groups {
                            tr {
                                td.num { (g.id) }
                                th scope="row" { (g.name) }
                                td { (g.group_type) }
                                td { (level_name(g.level)) }
                                td { @match &g.tag { Some(tag) => (tag), None => (dash()) } }
                                td.num { (g.active_members) }
                                td { @if g.enabled { span.badge.ok { "yes" } } @else { span.badge.warn title="inactive, or its type is not enabled" { "no" } } }
                            }
                        }
                    }
                }
            }
            @if status.groups.iter().any(|g| !g.enabled) {
                p.hint { "A group that does not sync is inactive, or its type is not enabled for the account (" a href=(account_url(&name, "/group-types")) { "Group types" } ")." }
            }
        }
        h2 #people { "People" }
        form.panel method="get" action=(account_url(&name, "")) role="search" {
            div.row {
                div {
                    label for="q" { "Find" }
                    input #q type="search" name="q" value=(query.q()) placeholder="name, Rock id, PCO id or tag";
                }
                div {
                    label for="show" { "Show" }
                    select #show name="show" {
                        @for (value, label) in [("all", "Everyone"), ("linked", "Linked to PCO"), ("waiting", "Waiting for their first sync"), ("held", "Waiting for you (skipped every sync)"), ("no-group", "In no synced group")] {
                            option value=(value) selected[query.show() == value] { (label) }
                        }
                    }
                }
                div {
                    label for="sort" { "Sort by" }
                    select #sort name="sort" {
                        @for (value, label) in [("name", "Name"), ("rock_id", "Rock id"), ("pco_id", "PCO id"), ("rock_level", "Level in Rock"), ("pco_level", "Level in PCO"), ("last_synced", "Last sync")] {
                            option value=(value) selected[query.sort() == value] { (label) }
                        }
                    }
                }
                div {
                    label.check { input type="checkbox" name="dir" value="desc" checked[query.descending()]; "Descending" }
                    button type="submit" { "Show" }
                }
            }
        }
        form method="post" action=(account_url(&name, "/delete")) {
            (csrf(&sess))
            div.table-wrap {
                table #people-table {
                    caption {
                        (people.len()) " of " (status.people.len()) " people"
                        @if pages > 1 { " · page " (page) " of " (pages) }
                    }
                    thead { tr {
                        th scope="col" {
                            input #select-all type="checkbox" aria-label="Select every person shown";
                        }
                        (sort_header(&name, &query, "rock_id", "Rock id"))
                        (sort_header(&name, &query, "name", "Name"))
                        (sort_header(&name, &query, "pco_id", "PCO id"))
                        (sort_header(&name, &query, "rock_level", "Level in Rock"))
                        (sort_header(&name, &query, "pco_level", "Level in PCO"))
                        (sort_header(&name, &query, "last_synced", "Last sync"))
                        th scope="col" { "Tags" }
                    } }
                    tbody {
                        @for p in &shown {
                            @let who = if p.name.is_empty() { format!("Rock person {}", p.rock_id) } else { p.name.clone() };
                            tr {
                                td {
                                    @if let Some(pco) = &p.pco_id {
                                        input type="checkbox" name="pco_id" value=(pco) aria-label=(format!("Select {who}"));
                                    }
                                }
                                td.num { (p.rock_id) }
                                th scope="row" {
                                    a href=(account_url(&name, &format!("/people/{}", p.rock_id))) {
                                        @if p.name.is_empty() { "(not in Rock)" } @else { (p.name) }
                                    }
                                }
                                td { @match (&p.pco_id, &p.waiting) { (Some(id), _) => (id), (None, Some(why)) => span.hint title=(why) { "waiting for you (see the person)" }, (None, None) => span.hint { "next sync" } } }
                                td { @match p.rock_level { Some(l) => (level_name(Some(l))), None => span.hint { "in no synced group" } } }
                                td { (level_name(p.pco_level)) }
                                td { (p.last_synced.as_deref().map_or("-".to_string(), time_text)) }
                                td { @if p.tags.is_empty() { (dash()) } @else { (p.tags.join(", ")) } }
                            }
                        }
                    }
                }
            }
            @if pages > 1 {
                nav.actions aria-label="Pages of people" {
                    @if page > 1 { a href=(query.url(&name, |q| q.page = Some((page - 1).to_string()))) { "Previous page" } }
                    @if page < pages { a href=(query.url(&name, |q| q.page = Some((page + 1).to_string()))) { "Next page" } }
                }
            }
            div.actions {
                button.danger type="submit" { "Delete selected from PCO…" }
                span.hint { "You see what goes, and who would come back, before anything is deleted." }
            }
        }
        h2 { "Recent runs" }
        @if status.runs.is_empty() {
            p { "None yet." }
        } @else {
            ul {
                @for r in &status.runs {
                    li {
                        a href=(account_url(&name, &format!("/runs/{}", html::enc(&r.run_id)))) { (r.run_id) }
                        " · " (kind_name(r.kind)) @if r.dry_run { " (dry run)" } " · " (outcome_name(r.outcome)) " · " (counts_text(&r.counts))
                    }
                }
            }
            p { a href=(account_url(&name, "/runs")) { "All runs" } }
        }
    };
    Ok(frame(
        &app,
        &sess,
        name.clone(),
        Some(&name),
        Section::Overview,
        vec![],
        body,
    ))
}

fn rock_id(text: &str) -> Result<i64, WebError> {
    text.parse().map_err(|_| {
        WebError::new(
            StatusCode::NOT_FOUND,
            format!("\"{text}\" is not a Rock person id."),
        )
    })
}

pub(crate) async fn person(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let id = rock_id(&id)?;
    let config = app.config()?;
    let account = account(&config, &name)?;
    let session = session(&app, &config, account).await?;
    let options = StatusOptions {
        with_values: true,
        rock_ids: vec![id],
        runs: 0,
    };
    let status = admin::status(&session, account, &options)
        .await
        .map_err(|e| WebError::internal(format!("account \"{name}\": {}", plain(&e))))?;
    let Some(p) = status.people.into_iter().find(|p| p.rock_id == id) else {
        return Err(WebError::new(
            StatusCode::NOT_FOUND,
            format!(
                "Rock person {id} is not among the people of {name} (Refresh list from groups adds people new in the groups)."
            ),
        ));
    };
    let title = if p.name.is_empty() {
        format!("Rock person {id}")
    } else {
        p.name.clone()
    };
    let body = html! {
        dl.facts {
            dt { "Rock id" } dd { (p.rock_id) }
            dt { "PCO id" } dd #pco-id { @match (&p.pco_id, &p.waiting) { (Some(pco), _) => (pco), (None, Some(why)) => { "none: the sync skips this person every run until you act. " (why) }, (None, None) => "none yet (the next sync links or creates them)" } }
            dt { "Level in Rock" } dd { @match p.rock_level { Some(l) => (level_name(Some(l))), None => "in no synced group" } }
            dt { "Level in PCO" } dd { (level_name(p.pco_level)) }
            dt { "Last sync" } dd { (p.last_synced.as_deref().map_or("never".to_string(), time_text)) }
            dt { "Tags" } dd { @if p.tags.is_empty() { "none" } @else { (p.tags.join(", ")) } }
        }
        h2 { "Values saved at the last sync" }
        @if p.values.is_empty() {
            p { "None saved yet: not synced since linked." }
        } @else {
            div.table-wrap {
                table {
                    caption { "What the sync compares each side with (the merge base)" }
                    thead { tr { th scope="col" { "Field" } th scope="col" { "Value" } } }
                    tbody {
                        @for value in &p.values {
                            @let (field, text) = field_value_text(value);
                            tr { th scope="row" { (field) } td { (text) } }
                        }
                    }
                }
            }
        }
        form.panel method="post" action=(account_url(&name, &format!("/people/{id}/link"))) {
            (csrf(&sess))
            h2 { "Set the PCO id" }
            p.hint #pco-hint { "Links this person to another PCO person by hand: the number at the end of their address in PCO People. The next sync merges the two records. Refused when that PCO person does not exist or is linked to someone else." }
            label for="pco_id" { "PCO id" }
            input #pco_id type="text" name="pco_id" inputmode="numeric" required autocomplete="off" aria-describedby="pco-hint";
            button type="submit" { "Set the PCO id" }
        }
        @if p.pco_id.is_none() && p.waiting.as_deref().is_some_and(|w| w.contains("--create")) {
            form.panel method="post" action=(account_url(&name, &format!("/people/{id}/create"))) {
                (csrf(&sess))
                h2 { "Create them anyway" }
                p.hint { "PCO holds someone with this name and birth date. If that is someone else, the next sync creates this person in PCO." }
                button type="submit" { "Create them in PCO at the next sync" }
            }
        }
        p { a href=(account_url(&name, "#people")) { "Back to the people of " (name) } }
    };
    Ok(frame(
        &app,
        &sess,
        title,
        Some(&name),
        Section::Overview,
        vec![],
        body,
    ))
}

pub(crate) async fn link(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path((name, id)): Path<(String, String)>,
    fields: Fields,
) -> Result<Response, WebError> {
    let id = rock_id(&id)?;
    let to = account_url(&name, &format!("/people/{id}"));
    let Some(pco_id) = fields.some("pco_id") else {
        return Ok(back(&app, &sess, &to, vec![error("Give the PCO id.")]));
    };
    let config = app.config()?;
    let account = account(&config, &name)?;
    let session = session(&app, &config, account).await?;
    let flash = match admin::link(&session, account, id, &pco_id).await {
        Ok(person) => {
            let mut flash = vec![info(format!(
                "Rock person {id} is linked to PCO person {pco_id} in \"{name}\". The next sync merges their values."
            ))];
            if let Some(person) = person {
                flash.push(info(admin::link_note(&person, account.allow_downgrade)));
            }
            flash
        }
        Err(e) => vec![error(format!("Not linked: {}", plain(&e)))],
    };
    Ok(back(&app, &sess, &to, flash))
}

/// R4 (issue 24 item 20): lets the next sync create a person it holds because PCO may already
/// hold them, the administrator having judged them someone else.
pub(crate) async fn create_anyway(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let id = rock_id(&id)?;
    let to = account_url(&name, &format!("/people/{id}"));
    let config = app.config()?;
    let account = account(&config, &name)?;
    let session = session(&app, &config, account).await?;
    let flash = match admin::allow_create(&session, account, id).await {
        Ok(()) => vec![info(format!(
            "The next sync creates Rock person {id} in PCO in \"{name}\"."
        ))],
        Err(e) => vec![error(format!("Not allowed: {}", plain(&e)))],
    };
    Ok(back(&app, &sess, &to, flash))
}

pub(crate) async fn refresh(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let config = app.config()?;
    let account = account(&config, &name)?;
    let session = session(&app, &config, account).await?;
    let flash = match admin::refresh(&session, account).await {
        Ok(status) => vec![info(format!(
            "People list refreshed from the groups: {} people, {} waiting for their first sync. Nothing was written to PCO.",
            status.people.len(),
            admin::pending(&status)
        ))],
        Err(e) => vec![error(format!("Not refreshed: {}", plain(&e)))],
    };
    Ok(back(&app, &sess, &account_url(&name, ""), flash))
}

pub(crate) async fn delete_preview(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
    fields: Fields,
) -> Result<Response, WebError> {
    let ids = fields.all("pco_id");
    if ids.is_empty() {
        return Ok(back(
            &app,
            &sess,
            &account_url(&name, "#people"),
            vec![error(
                "Select the people to delete first (the boxes in the first column).",
            )],
        ));
    }
    let config = app.config()?;
    let account = account(&config, &name)?;
    let session = session(&app, &config, account).await?;
    let plan = admin::delete(&session, account, &ids, true)
        .await
        .map_err(|e| WebError::internal(format!("account \"{name}\": {}", plain(&e))))?;
    let back_to = admin::comebacks(&plan);
    let count = plan.counts.deleted;
    let body = html! {
        @if count == 0 {
            p { "Nothing to delete: none of the selected people is in PCO any more." }
        } @else {
            div.warning-box role="alert" {
                p { strong { "Deleting removes " (count) " " (if count == 1 { "person" } else { "people" }) " from PCO People and Services, with their history in PCO." }
                    " The sync archives people who leave their groups by itself; delete only records that should not exist (a duplicate)." }
                @if !back_to.is_empty() {
                    p #comeback-warning { strong { "Warning: " } (admin::COMEBACK_WARNING) ":" }
                    ul { @for who in &back_to { li { (who) } } }
                }
            }
            form method="post" action=(account_url(&name, "/delete/confirm")) {
                (csrf(&sess))
                @for id in &ids { input type="hidden" name="pco_id" value=(id); }
                button.danger type="submit" { "Delete " (count) " from PCO" }
                a.button.secondary href=(account_url(&name, "#people")) { "Cancel" }
            }
        }
        h2 { "What would go" }
        (report_view(&name, &plan))
    };
    Ok(frame(
        &app,
        &sess,
        format!("Delete from PCO? ({name})"),
        Some(&name),
        Section::Overview,
        vec![],
        body,
    ))
}

pub(crate) async fn delete_confirm(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
    fields: Fields,
) -> Result<Response, WebError> {
    let ids = fields.all("pco_id");
    if ids.is_empty() {
        return Ok(back(
            &app,
            &sess,
            &account_url(&name, "#people"),
            vec![error("Nobody was selected; nothing was deleted.")],
        ));
    }
    let config = app.config()?;
    let account = account(&config, &name)?;
    let session = session(&app, &config, account).await?;
    let report = admin::delete(&session, account, &ids, false)
        .await
        .map_err(|e| {
            WebError::internal(format!(
                "account \"{name}\": nothing more was deleted: {}",
                plain(&e)
            ))
        })?;
    let mut extra = vec![info(format!("Deleted {} from PCO.", report.counts.deleted))];
    if report.counts.failed > 0 {
        extra.push(error(format!(
            "{} could not be deleted; see below.",
            report.counts.failed
        )));
    }
    let body = html! {
        (report_view(&name, &report))
        p { a href=(account_url(&name, "#people")) { "Back to the people of " (name) } }
    };
    Ok(frame(
        &app,
        &sess,
        format!("Deleted from PCO ({name})"),
        Some(&name),
        Section::Overview,
        extra,
        body,
    ))
}

/// Starts a dry run, a sync, or the confirmation of a held run (R24), and follows it.
pub(crate) async fn sync(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
    fields: Fields,
) -> Result<Response, WebError> {
    let config = app.config()?;
    let _: &AccountConfig = account(&config, &name)?;
    let request = SyncRequest {
        dry_run: fields.text("mode") != "sync",
        updates_only: fields.checked("updates_only"),
        confirm: fields.some("confirm"),
    };
    Ok(match jobs::start(&app, &name, JobKind::Sync(request)) {
        Ok(job) => Redirect::to(&jobs::url(&job)).into_response(),
        Err(running) => back(
            &app,
            &sess,
            &jobs::url(&running),
            vec![super::warn(format!(
                "A run of {name} is already going; nothing else was started. Here it is."
            ))],
        ),
    })
}
