//! The one-time import from PCO (R40-R42): the seed's "Configure Import Groups" dialog (one
//! Rock group per PCO level, and the connection status of the people it creates), the import
//! itself with live progress, and its resumption after a stop.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::detail::session;
use super::{back, error, frame, message};
use crate::bindings::engine::{RunKind, RunOutcome, StatusOptions, SyncedGroup};
use crate::bindings::types::PermissionLevel;
use crate::cli::serve::shared::{self, EditArgs, Settings};
use crate::config::{AccountConfig, import_key};
use crate::ops::text::{counts_text, level_name, outcome_name, time_text};
use crate::ops::{Collected, admin, plain, runs};
use crate::web::auth::{Flash, FlashKind, Sess};
use crate::web::form::Fields;
use crate::web::html::{Section, account_url, csrf, enc, flashes_of};
use crate::web::jobs::{self, JobKind};
use crate::web::{App, WebError, account};

const LEVELS: [PermissionLevel; 5] = [
    PermissionLevel::ScheduledViewer,
    PermissionLevel::Viewer,
    PermissionLevel::Scheduler,
    PermissionLevel::Editor,
    PermissionLevel::Administrator,
];

fn chosen(account: &AccountConfig, level: PermissionLevel) -> Option<i64> {
    account.import.as_ref().and_then(|import| {
        import
            .groups
            .by_level()
            .into_iter()
            .find(|(l, _)| *l == level)
            .map(|(_, id)| id)
    })
}

fn settings_form(
    sess: &Sess,
    name: &str,
    account: &AccountConfig,
    groups: Option<&[SyncedGroup]>,
) -> Markup {
    let status = account
        .import
        .as_ref()
        .map_or("Prospect".to_string(), |i| i.connection_status.clone());
    html! {
        form.panel method="post" action=(account_url(name, "/import/settings")) {
            (csrf(sess))
            h2 { "Import groups" }
            p.hint { "Each PCO person not yet linked is added to the Rock group chosen for their PCO permission level; a level without a group is not imported." }
            @for level in LEVELS {
                @let key = import_key(level);
                @let current = chosen(account, level);
                label for=(format!("group-{key}")) { (level_name(Some(level))) }
                @match groups {
                    Some(groups) => {
                        select id=(format!("group-{key}")) name=(key) {
                            option value="" selected[current.is_none()] { "(not imported)" }
                            @for g in groups {
                                option value=(g.id) selected[current == Some(g.id)] {
                                    (g.id) " · " (g.name) @if let Some(l) = g.level { " (" (level_name(Some(l))) ")" }
                                }
                            }
                            @if let Some(id) = current && !groups.iter().any(|g| g.id == id) {
                                option value=(id) selected { (id) " (not a group of this account)" }
                            }
                        }
                    }
                    None => {
                        input id=(format!("group-{key}")) type="number" min="1" name=(key) value=[current];
                    }
                }
            }
            label for="connection_status" { "Connection status of the people created in Rock" }
            p.hint #status-hint { "By its name in Rock, e.g. Prospect or Member." }
            input #connection_status type="text" name="connection_status" value=(status) required aria-describedby="status-hint";
            button type="submit" { "Save the import groups" }
        }
    }
}

pub(crate) async fn page(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let config = app.config()?;
    let account = account(&config, &name)?;
    let mut extra: Vec<Flash> = Vec::new();
    let status = match session(&app, &config, account).await {
        Ok(session) => {
            let options = StatusOptions {
                with_values: false,
                rock_ids: vec![0],
                runs: 100,
            };
            match admin::status(&session, account, &options).await {
                Ok(status) => Some(status),
                Err(e) => {
                    extra.push(super::warn(format!(
                        "The account's groups and runs are not shown: {}",
                        plain(&e)
                    )));
                    None
                }
            }
        }
        Err(e) => {
            extra.push(super::warn(e.message));
            None
        }
    };
    let imports: Vec<_> = status
        .as_ref()
        .map(|s| {
            s.runs
                .iter()
                .filter(|r| r.kind == RunKind::Import)
                .collect()
        })
        .unwrap_or_default();
    let stopped = imports
        .iter()
        .find(|r| !r.dry_run)
        .is_some_and(|r| matches!(r.outcome, RunOutcome::Unfinished | RunOutcome::Failed));
    let ready = runs::import_options(account, true);
    let running = app.jobs.running_for(&name);
    let body = html! {
        (settings_form(&sess, &name, account, status.as_ref().map(|s| s.groups.as_slice())))
        section.panel aria-labelledby="import-heading" {
            h2 #import-heading { "Import" }
            p { "Brings the account's PCO people into Rock: each one is linked to the Rock person with the same email, first and last name, or created in Rock. The import shows how far it got; stopped for any reason, it goes on where it left off when run again, and never imports anyone twice." }
            @if let Some(job) = &running {
                p { span.badge { "running" } " " a href=(jobs::url(job)) { (job.kind.title()) " in progress: follow it" } }
            }
            @if stopped {
                div.flash.warn role="status" #import-stopped { "The last import stopped before it finished. Running it again goes on where it stopped." }
            }
            @match &ready {
                Err(why) => p.hint { "Choose the import groups above first. (" (why.lines().next().unwrap_or_default()) ")" },
                Ok(_) => {
                    form method="post" action=(account_url(&name, "/import")) {
                        (csrf(&sess))
                        div.actions {
                            button.secondary type="submit" name="mode" value="dry-run" { "Dry run the import" }
                            button type="submit" name="mode" value="run" { @if stopped { "Resume the import" } @else { "Run the import" } }
                        }
                    }
                }
            }
        }
        h2 { "Past imports" }
        @if imports.is_empty() {
            p { "None recorded." }
        } @else {
            div.table-wrap {
                table {
                    thead { tr { th scope="col" { "Run" } th scope="col" { "Started" } th scope="col" { "Outcome" } th scope="col" { "Counts" } } }
                    tbody {
                        @for r in &imports {
                            tr {
                                th scope="row" { a href=(account_url(&name, &format!("/runs/{}", enc(&r.run_id)))) { (r.run_id) } @if r.dry_run { " (dry run)" } }
                                td { (time_text(&r.started_at)) }
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
        format!("Import from PCO into Rock ({name})"),
        Some(&name),
        Section::Import,
        extra,
        body,
    ))
}

pub(crate) async fn save_settings(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
    fields: Fields,
) -> Result<Response, WebError> {
    let to = account_url(&name, "/import");
    let config = app.config()?;
    let account = account(&config, &name)?;
    let mut set = Vec::new();
    let mut unset = Vec::new();
    for level in LEVELS {
        let key = import_key(level);
        let wanted = fields.text(key);
        let now = chosen(account, level)
            .map(|id| id.to_string())
            .unwrap_or_default();
        if wanted == now {
            continue;
        }
        if wanted.is_empty() {
            unset.push(format!("import.{key}"));
        } else {
            set.push(format!("import.{key}={wanted}"));
        }
    }
    let status = fields.text("connection_status");
    let now = account.import.as_ref().map(|i| i.connection_status.clone());
    if now.as_deref() != Some(status.as_str()) {
        set.push(format!("import.connection_status={status}"));
    }
    if set.is_empty() && unset.is_empty() {
        return Ok(back(
            &app,
            &sess,
            &to,
            vec![Flash {
                kind: FlashKind::Info,
                text: "Nothing to change.".into(),
            }],
        ));
    }
    let args = EditArgs {
        name: name.clone(),
        app_id: None,
        secret_env: None,
        secret_file: None,
        settings: Settings {
            welcome_template: None,
            allow_downgrade: None,
            updates_only: None,
            schedule: None,
            conflict_policy: None,
            first_name_source: None,
            brake_percent: None,
            set,
        },
        unset,
        no_check: true,
        // The form's settings are checked against Rock before they are saved (issue 24
        // item 23), as `pcosync account edit` checks them.
        check_import: true,
    };
    let out = Collected::default();
    let result = {
        let _edit = app.edits.lock().await;
        shared::edit(&app.location, &app.data_dir, args, &out).await
    };
    let mut flash = flashes_of(&out);
    match result {
        Ok(_) => flash.push(Flash {
            kind: FlashKind::Info,
            text: "The import groups are saved.".into(),
        }),
        Err(e) => flash.push(error(format!("Nothing was saved: {}", message(&e)))),
    }
    Ok(back(&app, &sess, &to, flash))
}

/// Starts (or resumes) the import, or its dry run, and follows it.
pub(crate) async fn run(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
    fields: Fields,
) -> Result<Response, WebError> {
    let config = app.config()?;
    let account = account(&config, &name)?;
    let dry_run = fields.text("mode") == "dry-run";
    if let Err(why) = runs::import_options(account, dry_run) {
        return Ok(back(
            &app,
            &sess,
            &account_url(&name, "/import"),
            vec![error(why)],
        ));
    }
    Ok(
        match jobs::start(&app, &name, JobKind::Import { dry_run }) {
            Ok(job) => Redirect::to(&jobs::url(&job)).into_response(),
            Err(running) => back(
                &app,
                &sess,
                &jobs::url(&running),
                vec![super::warn(format!(
                    "A run of {name} is already going; nothing else was started. Here it is."
                ))],
            ),
        },
    )
}
