//! Which Rock group types sync to an account (R36): the group types list of the seed's plugin
//! page. A group configured with the account, or mapped to one of its tags, syncs only when
//! its type is enabled.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use maud::html;

use super::{back, error, frame, message};
use crate::cli::serve::shared::{self, group_type_listing};
use crate::ops::Collected;
use crate::web::auth::Sess;
use crate::web::form::Fields;
use crate::web::html::{Section, account_url, csrf};
use crate::web::{App, WebError, account};

pub(crate) async fn page(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let config = app.config()?;
    let account = account(&config, &name)?;
    let rock = group_type_listing(&config, account).await;
    let mut extra = Vec::new();
    if let Err(why) = &rock {
        extra.push(super::warn(format!(
            "Rock's group types are not shown ({why})."
        )));
    }
    let toggle = |kind: &str, enabled: bool| {
        let (path, label) = if enabled {
            ("/group-types/disable", "Disable")
        } else {
            ("/group-types/enable", "Enable")
        };
        html! {
            form.inline method="post" action=(account_url(&name, path)) {
                (csrf(&sess))
                input type="hidden" name="type" value=(kind);
                button.secondary type="submit" aria-label=(format!("{label} {kind}")) { (label) }
            }
        }
    };
    let body = html! {
        h2 { "Enabled" }
        @if account.enabled_group_types.is_empty() {
            p { "No group type is enabled: no Rock group syncs to " (name) ", only people given its tags in the \"PCO Tags\" attribute." }
        } @else {
            ul {
                @for kind in &account.enabled_group_types {
                    li { (kind) " " (toggle(kind, true)) }
                }
            }
        }
        @if let Ok(rows) = &rock {
            h2 { "Types of the account's groups in Rock" }
            @if rows.is_empty() {
                p { "No group in Rock is configured with " (name) " or mapped to its tags." }
            } @else {
                div.table-wrap {
                    table {
                        caption { "Groups configured with the account (group attribute \"PCO Account\") or mapped to its tags" }
                        thead { tr {
                            th scope="col" { "Group type" }
                            th scope="col" { "Id" }
                            th scope="col" { "Enabled" }
                            th scope="col" { "Groups" }
                            th scope="col" { "Change" }
                        } }
                        tbody {
                            @for row in rows {
                                tr {
                                    th scope="row" { (row.kind.name) }
                                    td.num { (row.kind.id) }
                                    td { @if row.enabled { span.badge.ok { "yes" } } @else { span.badge { "no" } } }
                                    td { (row.groups.join(", ")) }
                                    td {
                                        @if row.enabled {
                                            @if let Some(entry) = account.enabled_group_types.iter().find(|e| shared::names_type(e, &row.kind)) {
                                                (toggle(entry, true))
                                            }
                                        } @else {
                                            (toggle(&row.kind.name, false))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        form.panel method="post" action=(account_url(&name, "/group-types/enable")) {
            (csrf(&sess))
            label for="type" { "Enable another group type" }
            p.hint #type-hint { "By its name, GUID or id in Rock." }
            input #type type="text" name="type" required aria-describedby="type-hint";
            button type="submit" { "Enable" }
        }
    };
    Ok(frame(
        &app,
        &sess,
        format!("Group types of {name}"),
        Some(&name),
        Section::GroupTypes,
        extra,
        body,
    ))
}

async fn change(app: Arc<App>, sess: Sess, name: String, fields: Fields, enable: bool) -> Response {
    let to = account_url(&name, "/group-types");
    let kind = fields.text("type");
    if kind.is_empty() {
        return back(&app, &sess, &to, vec![error("Name the group type.")]);
    }
    let config = match app.config() {
        Ok(config) => config,
        Err(e) => return back(&app, &sess, &to, vec![error(e.message)]),
    };
    let out = Collected::default();
    let result = {
        let _edit = app.edits.lock().await;
        if enable {
            shared::enable(
                &app.location,
                &config,
                &app.data_dir,
                Some(&name),
                &[kind],
                &out,
            )
            .await
        } else {
            shared::disable(&app.location, &config, Some(&name), &[kind], &out)
        }
    };
    let mut flash = crate::web::html::flashes_of(&out);
    if let Err(e) = result {
        flash.push(error(format!("Nothing was changed: {}", message(&e))));
    }
    back(&app, &sess, &to, flash)
}

pub(crate) async fn enable(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
    fields: Fields,
) -> Response {
    change(app, sess, name, fields, true).await
}

pub(crate) async fn disable(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
    fields: Fields,
) -> Response {
    change(app, sess, name, fields, false).await
}
