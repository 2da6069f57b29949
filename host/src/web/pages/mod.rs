//! The pages: accounts (R31), an account's groups and people (R32-R35), its tags and group
//! types (R36), sync and dry run (R20-R24, R30), import (R40-R42) and run history (R25).

mod accounts;
mod detail;
mod group_types;
mod import;
mod runs;
mod tags;

use std::sync::Arc;

use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};

use super::App;
use super::auth::{Flash, FlashKind, Sess};
use super::html::{self, Layout, Section};
use crate::bindings::engine::Report;
use crate::ops::text::{counts_line, describe};

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/accounts") }))
        .route("/accounts", get(accounts::list).post(accounts::add))
        .route("/accounts/new", get(accounts::new))
        .route("/accounts/{account}", get(detail::overview))
        .route(
            "/accounts/{account}/settings",
            get(accounts::settings).post(accounts::save_settings),
        )
        .route(
            "/accounts/{account}/remove",
            get(accounts::confirm_remove).post(accounts::remove),
        )
        .route("/accounts/{account}/tags", get(tags::page))
        .route("/accounts/{account}/tags/map", post(tags::map))
        .route("/accounts/{account}/tags/unmap", post(tags::unmap))
        .route("/accounts/{account}/group-types", get(group_types::page))
        .route(
            "/accounts/{account}/group-types/enable",
            post(group_types::enable),
        )
        .route(
            "/accounts/{account}/group-types/disable",
            post(group_types::disable),
        )
        .route("/accounts/{account}/refresh", post(detail::refresh))
        .route("/accounts/{account}/people/{rock_id}", get(detail::person))
        .route(
            "/accounts/{account}/people/{rock_id}/link",
            post(detail::link),
        )
        .route(
            "/accounts/{account}/people/{rock_id}/create",
            post(detail::create_anyway),
        )
        .route("/accounts/{account}/delete", post(detail::delete_preview))
        .route(
            "/accounts/{account}/delete/confirm",
            post(detail::delete_confirm),
        )
        .route("/accounts/{account}/sync", post(detail::sync))
        .route(
            "/accounts/{account}/import",
            get(import::page).post(import::run),
        )
        .route(
            "/accounts/{account}/import/settings",
            post(import::save_settings),
        )
        .route("/accounts/{account}/runs", get(runs::list))
        .route("/accounts/{account}/runs/{run_id}", get(runs::detail))
        .route(
            "/accounts/{account}/runs/{run_id}/revert",
            post(runs::revert),
        )
}

/// A page in the frame, with the session's waiting messages first and `extra` after them.
pub(crate) fn frame(
    app: &App,
    sess: &Sess,
    title: impl Into<String>,
    account: Option<&str>,
    section: Section,
    extra: Vec<Flash>,
    body: Markup,
) -> Response {
    let mut flash = app.auth.take_flash(sess);
    flash.extend(extra);
    html::page(
        Layout {
            title: title.into(),
            sess,
            flash,
            account,
            section,
            auto_refresh: false,
        },
        body,
    )
}

/// A message shown on this page.
pub(crate) fn error(text: impl Into<String>) -> Flash {
    Flash {
        kind: FlashKind::Error,
        text: text.into(),
    }
}

/// A message shown on this page.
pub(crate) fn warn(text: impl Into<String>) -> Flash {
    Flash {
        kind: FlashKind::Warn,
        text: text.into(),
    }
}

/// After a change: keeps the messages for the next page and sends the browser there.
pub(crate) fn back(app: &App, sess: &Sess, to: &str, flash: Vec<Flash>) -> Response {
    for item in flash {
        app.auth.flash(sess, item.kind, item.text);
    }
    Redirect::to(to).into_response()
}

/// An operation's error in words (never with a secret).
pub(crate) fn message(error: &anyhow::Error) -> String {
    format!("{error:#}")
}

/// A run's report (R22): what it counted, then each person's actions.
pub(crate) fn report_view(account: &str, report: &Report) -> Markup {
    const SHOWN: usize = 1000;
    let rows: Vec<(String, String, String)> = report
        .people
        .iter()
        .flat_map(|person| {
            let rock = person.rock_id.map(|id| id.to_string()).unwrap_or_default();
            let pco = person.pco_id.clone().unwrap_or_default();
            person.actions.iter().map(move |action| {
                (
                    rock.clone(),
                    pco.clone(),
                    describe(action, report.kind, report.dry_run),
                )
            })
        })
        .collect();
    let welcome = crate::ops::text::welcome_needed(report);
    html! {
        section.report aria-label="Report" {
            p {
                "Run " code { (report.run_id) } " of " (account)
                @if report.dry_run { " · " span.badge.warn { "dry run: nothing was written" } }
            }
            ul.counts aria-label="Counts" {
                @for item in counts_line(report.kind, &report.counts).split(" · ") {
                    li { (item) }
                }
            }
            @if !welcome.is_empty() {
                section.welcome aria-label="Welcome emails to send" {
                    p { (crate::ops::text::WELCOME_HELP) " these " (welcome.len()) " people created in PCO:" }
                    ul { @for who in &welcome { li { (who) } } }
                }
            }
            @if rows.is_empty() {
                p { "Nobody needed anything." }
            } @else {
                div.table-wrap {
                    table {
                        caption { (rows.len()) " actions" @if rows.len() > SHOWN { " (the first " (SHOWN) " shown)" } }
                        thead { tr { th scope="col" { "Rock id" } th scope="col" { "PCO id" } th scope="col" { "What" } } }
                        tbody {
                            @for (rock, pco, what) in rows.iter().take(SHOWN) {
                                tr {
                                    td { @if rock.is_empty() { (html::dash()) } @else { (rock) } }
                                    td { @if pco.is_empty() { (html::dash()) } @else { (pco) } }
                                    td { (what) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
