//! Run history (R25): an account's runs, a run's every audited write, and its revert (for
//! all its people or one), previewed as a dry run first.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use maud::html;

use super::detail::session;
use super::{frame, report_view};
use crate::bindings::engine::{Direction, StatusOptions};
use crate::ops::text::{counts_text, kind_name, outcome_name, time_text};
use crate::ops::{admin, plain};
use crate::web::auth::{Flash, FlashKind, Sess};
use crate::web::form::Fields;
use crate::web::html::{Section, account_url, csrf, dash, enc};
use crate::web::jobs;
use crate::web::{App, WebError, account};

fn run_url(name: &str, run_id: &str) -> String {
    account_url(name, &format!("/runs/{}", enc(run_id)))
}

pub(crate) async fn list(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let config = app.config()?;
    let account = account(&config, &name)?;
    let session = session(&app, &config, account).await?;
    let options = StatusOptions {
        with_values: false,
        rock_ids: vec![0],
        runs: 200,
    };
    let status = admin::status(&session, account, &options)
        .await
        .map_err(|e| WebError::internal(format!("account \"{name}\": {}", plain(&e))))?;
    let here = app.jobs.of(&name);
    let body = html! {
        @if !here.is_empty() {
            h2 { "Started from this page since pcosync serve started" }
            ul {
                @for job in &here {
                    li { a href=(jobs::url(job)) { (job.kind.title()) } " · started " (time_text(&job.started_at)) }
                }
            }
        }
        h2 { "History" }
        @if status.runs.is_empty() {
            p { "No run recorded yet." }
        } @else {
            div.table-wrap {
                table {
                    caption { "The latest " (status.runs.len()) " runs, newest first" }
                    thead { tr {
                        th scope="col" { "Run" } th scope="col" { "Kind" } th scope="col" { "Started" }
                        th scope="col" { "Finished" } th scope="col" { "Outcome" } th scope="col" { "Counts" }
                    } }
                    tbody {
                        @for r in &status.runs {
                            tr {
                                th scope="row" { a href=(run_url(&name, &r.run_id)) { (r.run_id) } }
                                td { (kind_name(r.kind)) @if r.dry_run { " (dry run)" } }
                                td { (time_text(&r.started_at)) }
                                td { (r.finished_at.as_deref().map_or("-".to_string(), time_text)) }
                                td { (outcome_name(r.outcome)) }
                                td { (counts_text(&r.counts)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(frame(
        &app,
        &sess,
        format!("Runs of {name}"),
        Some(&name),
        Section::Runs,
        vec![],
        body,
    ))
}

pub(crate) async fn detail(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path((name, run_id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let config = app.config()?;
    let account = account(&config, &name)?;
    let session = session(&app, &config, account).await?;
    let detail = admin::run_detail(&session, account, &run_id)
        .await
        .map_err(|e| {
            WebError::new(
                axum::http::StatusCode::NOT_FOUND,
                format!("account \"{name}\": {}", plain(&e)),
            )
        })?;
    let s = &detail.summary;
    let people: BTreeSet<i64> = detail.writes.iter().filter_map(|w| w.rock_id).collect();
    let value = |field: &str, v: &Option<String>| match v {
        Some(text) => text.replace('\n', ", "),
        None if field == "person" || field == "link" => "-".into(),
        None => "(blank)".into(),
    };
    let body = html! {
        dl.facts {
            dt { "Kind" } dd { (kind_name(s.kind)) @if s.dry_run { " (dry run)" } }
            dt { "Started" } dd { (time_text(&s.started_at)) }
            dt { "Finished" } dd { (s.finished_at.as_deref().map_or("- (still running, or stopped)".to_string(), time_text)) }
            dt { "Outcome" } dd { (outcome_name(s.outcome)) }
            dt { "Counts" } dd { (counts_text(&s.counts)) }
        }
        h2 { "Writes (" (detail.writes.len()) ")" }
        @if detail.writes.is_empty() {
            p { "None recorded." }
        } @else {
            div.table-wrap {
                table {
                    caption { "Every write of the run, with the value before and after" }
                    thead { tr {
                        th scope="col" { "Rock id" } th scope="col" { "PCO id" } th scope="col" { "Written to" }
                        th scope="col" { "Field" } th scope="col" { "Before" } th scope="col" { "After" }
                    } }
                    tbody {
                        @for w in &detail.writes {
                            tr {
                                td.num { @match w.rock_id { Some(id) => (id), None => (dash()) } }
                                td { @match &w.pco_id { Some(id) => (id), None => (dash()) } }
                                td { @match w.direction { Direction::RockToPco => "PCO", Direction::PcoToRock => "Rock" } }
                                td { (w.field) }
                                td { (value(&w.field, &w.before)) }
                                td { (value(&w.field, &w.after)) }
                            }
                        }
                    }
                }
            }
            @if !s.dry_run {
                form.panel method="post" action=(format!("{}/revert", run_url(&name, &s.run_id))) {
                    (csrf(&sess))
                    input type="hidden" name="step" value="preview";
                    h2 { "Revert" }
                    p.hint { "Writes back the values this run replaced. You see what it would write before anything is written." }
                    label for="person" { "Whose changes" }
                    select #person name="person" {
                        option value="" { "Everyone in the run" }
                        @for id in &people { option value=(id) { "Rock person " (id) } }
                    }
                    button.secondary type="submit" { "Preview the revert" }
                }
            }
        }
    };
    Ok(frame(
        &app,
        &sess,
        format!("Run {}", s.run_id),
        Some(&name),
        Section::Runs,
        vec![],
        body,
    ))
}

/// The revert of a run: its preview (a dry run), then, confirmed, the revert itself.
pub(crate) async fn revert(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path((name, run_id)): Path<(String, String)>,
    fields: Fields,
) -> Result<Response, WebError> {
    let config = app.config()?;
    let account = account(&config, &name)?;
    let person = match fields.some("person") {
        None => None,
        Some(text) => Some(text.parse::<i64>().map_err(|_| {
            WebError::new(
                axum::http::StatusCode::BAD_REQUEST,
                format!("\"{text}\" is not a Rock person id."),
            )
        })?),
    };
    let apply = fields.text("step") == "apply";
    // The apply writes only what the preview showed (issue 24 item 19): its fingerprint.
    let shown = fields.some("fingerprint");
    if apply && shown.is_none() {
        return Err(WebError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "This revert was not previewed: preview it, then revert what the preview shows.",
        ));
    }
    let session = session(&app, &config, account).await?;
    let report = admin::revert(&session, account, &run_id, person, !apply, shown.as_deref())
        .await
        .map_err(|e| match &e {
            crate::runtime::RunError::Guest(error)
                if error.kind == crate::bindings::types::ErrorKind::Conflict =>
            {
                WebError::new(axum::http::StatusCode::CONFLICT, plain(&e))
            }
            _ => WebError::internal(format!("account \"{name}\": {}", plain(&e))),
        })?;
    let fingerprint = admin::revert_fingerprint(&report);
    let whose = person.map_or("everyone in the run".to_string(), |id| {
        format!("Rock person {id}")
    });
    let mut extra = Vec::new();
    if apply {
        extra.push(Flash {
            kind: FlashKind::Info,
            text: format!("Reverted {} values of {whose}.", report.counts.reverted),
        });
    }
    let body = html! {
        @if !apply {
            p { "What reverting run " code { (run_id) } " for " (whose) " would write back. Nothing was written yet." }
            @if report.counts.reverted > 0 {
                form method="post" action=(format!("{}/revert", run_url(&name, &run_id))) {
                    (csrf(&sess))
                    input type="hidden" name="step" value="apply";
                    input type="hidden" name="fingerprint" value=(fingerprint);
                    @if let Some(id) = person { input type="hidden" name="person" value=(id); }
                    button.danger type="submit" { "Revert " (report.counts.reverted) " values" }
                    a.button.secondary href=(run_url(&name, &run_id)) { "Cancel" }
                }
            }
        }
        (report_view(&name, &report))
        p { a href=(run_url(&name, &run_id)) { "Back to run " (run_id) } }
    };
    Ok(frame(
        &app,
        &sess,
        if apply {
            format!("Run {run_id} reverted")
        } else {
            format!("Revert run {run_id}?")
        },
        Some(&name),
        Section::Runs,
        extra,
        body,
    ))
}
