//! An account's PCO tags and the Rock groups that control them (R14, R36): the tag list of
//! the seed's plugin page, with a mapping form on each tag.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::{back, error, frame, message};
use crate::cli::serve::shared::{self, tag_listing};
use crate::ops::Collected;
use crate::web::auth::Sess;
use crate::web::form::Fields;
use crate::web::html::{Section, account_url, csrf, flashes_of};
use crate::web::{App, WebError, account};

pub(crate) async fn page(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let config = app.config()?;
    let account = account(&config, &name)?;
    let listing = tag_listing(&config, &app.data_dir, account).await;
    let mut extra = Vec::new();
    let body = match &listing {
        Err(e) => {
            extra.push(error(format!(
                "The account's tags could not be read from PCO: {}",
                message(e)
            )));
            html! {}
        }
        Ok(listing) => {
            if let Some(why) = &listing.names_error {
                extra.push(super::warn(format!(
                    "Rock group names are not shown ({why})."
                )));
            }
            let group = |id: i64| match listing.names.get(&id) {
                Some(group) => format!("{id} · {group}"),
                None => id.to_string(),
            };
            let missing = listing.missing();
            html! {
                p { "A tag mapped to a Rock group is controlled by membership: the group's active members carry it, and only they (R14). Members of a group whose type is not enabled do not count ("
                    a href=(account_url(&name, "/group-types")) { "Group types" } ")." }
                div.table-wrap {
                    table {
                        caption { (listing.pco_tags.len()) " tags of " (name) " in PCO" }
                        thead { tr {
                            th scope="col" { "Tag" }
                            th scope="col" { "Mapped to Rock group" }
                            th scope="col" { "Map to a group" }
                        } }
                        tbody {
                            @for (i, tag) in listing.pco_tags.iter().enumerate() {
                                tr {
                                    th scope="row" { (tag) }
                                    td {
                                        @let groups = listing.groups_of(tag);
                                        @if groups.is_empty() { "none" }
                                        @for id in groups {
                                            div {
                                                (group(id)) " "
                                                form.inline method="post" action=(account_url(&name, "/tags/unmap")) {
                                                    (csrf(&sess))
                                                    input type="hidden" name="tag" value=(tag);
                                                    input type="hidden" name="group_id" value=(id);
                                                    button.link type="submit" aria-label=(format!("Unmap {tag} from group {id}")) { "unmap" }
                                                }
                                            }
                                        }
                                    }
                                    td {
                                        form.inline method="post" action=(account_url(&name, "/tags/map")) {
                                            (csrf(&sess))
                                            input type="hidden" name="tag" value=(tag);
                                            label.sr for=(format!("group-{i}")) { "Rock group id for " (tag) }
                                            input id=(format!("group-{i}")) type="number" name="group_id" min="1" inputmode="numeric" required;
                                            button type="submit" { "Map" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if !missing.is_empty() {
                    h2 { "Mapped in the configuration but not in PCO" }
                    ul {
                        @for (tag, id) in listing.mappings.iter().filter(|(t, _)| missing.contains(&t.as_str())) {
                            li {
                                (tag) " → " (group(*id)) " "
                                form.inline method="post" action=(account_url(&name, "/tags/unmap")) {
                                    (csrf(&sess))
                                    input type="hidden" name="tag" value=(tag);
                                    input type="hidden" name="group_id" value=(id);
                                    button.link type="submit" { "unmap" }
                                }
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
        format!("Tags of {name}"),
        Some(&name),
        Section::Tags,
        extra,
        body,
    ))
}

fn group_id(fields: &Fields) -> Result<Option<i64>, WebError> {
    match fields.some("group_id") {
        None => Ok(None),
        Some(text) => text.parse::<i64>().map(Some).map_err(|_| {
            WebError::new(
                StatusCode::BAD_REQUEST,
                format!("\"{text}\" is not a Rock group id (a whole number)."),
            )
        }),
    }
}

pub(crate) async fn map(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
    fields: Fields,
) -> Result<Response, WebError> {
    let to = account_url(&name, "/tags");
    let Some(id) = group_id(&fields)? else {
        return Ok(back(
            &app,
            &sess,
            &to,
            vec![error("Give the id of the Rock group.")],
        ));
    };
    let config = app.config()?;
    let out = Collected::default();
    let result = {
        let _edit = app.edits.lock().await;
        shared::tag_map(
            &app.location,
            &config,
            &app.data_dir,
            Some(&name),
            &fields.text("tag"),
            id,
            false,
            &out,
        )
        .await
    };
    let mut flash = flashes_of(&out);
    if let Err(e) = result {
        flash.push(error(format!("Nothing was saved: {}", message(&e))));
    }
    Ok(back(&app, &sess, &to, flash))
}

pub(crate) async fn unmap(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
    fields: Fields,
) -> Result<Response, WebError> {
    let to = account_url(&name, "/tags");
    let id = group_id(&fields)?;
    let config = app.config()?;
    let out = Collected::default();
    let result = {
        let _edit = app.edits.lock().await;
        shared::tag_unmap(
            &app.location,
            &config,
            Some(&name),
            &fields.text("tag"),
            id,
            &out,
        )
    };
    let mut flash = flashes_of(&out);
    if let Err(e) = result {
        flash.push(error(format!("Nothing was changed: {}", message(&e))));
    }
    Ok(back(&app, &sess, &to, flash))
}
