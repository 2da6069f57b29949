//! An account's PCO tags and the Rock groups that control them (R14, R36): the tag list of
//! the seed's plugin page, with a mapping form on each tag.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::{back, error, frame, message};
use crate::bindings::rock::Group;
use crate::cli::serve::shared::connect_rock;
use crate::cli::serve::shared::{self, tag_listing};
use crate::config::{AccountConfig, Config};
use crate::ops::Collected;
use crate::web::auth::Sess;
use crate::web::form::Fields;
use crate::web::html::{Section, account_url, csrf, flashes_of};
use crate::web::{App, WebError, account};

/// The tags page's search for a Rock group by name.
#[derive(Deserialize, Default)]
pub(crate) struct GroupSearch {
    #[serde(default)]
    find: String,
}

/// How many groups the picker offers at most; a search narrows them.
const PICKER_GROUPS: usize = 200;

pub(crate) async fn page(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
    Query(search): Query<GroupSearch>,
) -> Result<Response, WebError> {
    let config = app.config()?;
    let account = account(&config, &name)?;
    let listing = tag_listing(&config, &app.data_dir, account).await;
    let mut extra = Vec::new();
    let picker = match find_groups(&config, &search.find, PICKER_GROUPS).await {
        Ok(found) => Some(found),
        Err(why) => {
            extra.push(super::warn(format!(
                "Rock groups cannot be listed to choose from ({why}); give a group's id instead."
            )));
            None
        }
    };
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
                p { "A tag mapped to a Rock group is controlled by membership: the group's active members carry it, and only they. Members of a group whose type is not enabled do not count ("
                    a href=(account_url(&name, "/group-types")) { "Group types" } ")." }
                @if let Some(found) = &picker {
                    (group_picker(&name, account, &search.find, found))
                }
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
                                            label.sr for=(format!("group-{i}")) { "Rock group for " (tag) }
                                            input id=(format!("group-{i}")) type="text" name="group" list="rock-groups" placeholder="Group name or id" autocomplete="off" required;
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

/// The search form, the list the mapping fields offer (a `datalist`: the browser filters it as
/// one types, without any script), and, after a search, what it found with each group's type.
fn group_picker(
    name: &str,
    account: &AccountConfig,
    find: &str,
    (groups, more): &(Vec<Group>, bool),
) -> Markup {
    let enabled = |group: &Group| {
        account
            .enabled_group_types
            .iter()
            .any(|named| shared::names_type(named, &group.group_type))
    };
    html! {
        form.search method="get" action=(account_url(name, "/tags")) {
            label for="find" { "Find a Rock group by name" }
            input #find type="search" name="find" value=(find);
            button.secondary type="submit" { "Find" }
        }
        datalist #rock-groups {
            @for group in groups {
                option value=(picked(group)) { (group.group_type.name) }
            }
        }
        @if !find.trim().is_empty() {
            div.table-wrap {
                table #found-groups {
                    caption { (groups.len()) @if *more { "+" } " Rock groups named like \u{201c}" (find.trim()) "\u{201d}" }
                    thead { tr {
                        th scope="col" { "Group" }
                        th scope="col" { "Id" }
                        th scope="col" { "Group type" }
                    } }
                    tbody {
                        @for group in groups {
                            tr {
                                th scope="row" { (group.name) }
                                td { (group.id) }
                                td {
                                    (group.group_type.name)
                                    @if !enabled(group) { " (not enabled: its members do not count)" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if *more {
            p.hint { "Only the first " (groups.len()) " groups are offered; search by name to narrow them." }
        }
    }
}

/// How a group reads in the picker; [`group_of_text`] reads it back.
fn picked(group: &Group) -> String {
    format!("{} \u{b7} {}", group.name, group.id)
}

/// The group a mapping field names: an id, a picker entry (`name · id`), or a name that
/// exactly one active Rock group has (any case).
async fn group_of_text(config: &Config, text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Some(id) = whole_number(text) {
        return Ok(id);
    }
    if let Some((_, id)) = text.rsplit_once('\u{b7}')
        && let Some(id) = whole_number(id.trim())
    {
        return Ok(id);
    }
    let (found, _) = find_groups(config, text, 20).await?;
    let named: Vec<&Group> = found
        .iter()
        .filter(|g| g.name.trim().to_lowercase() == text.to_lowercase())
        .collect();
    match named.as_slice() {
        [one] => Ok(one.id),
        [] if found.is_empty() => Err(format!(
            "no active Rock group is named \u{201c}{text}\u{201d}."
        )),
        [] => Err(format!(
            "no active Rock group is named exactly \u{201c}{text}\u{201d}; did you mean {}?",
            found
                .iter()
                .take(5)
                .map(picked)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        several => Err(format!(
            "{} Rock groups are named \u{201c}{text}\u{201d} ({}); choose one from the list, or give its id.",
            several.len(),
            several
                .iter()
                .map(|g| picked(g))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn whole_number(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

async fn find_groups(
    config: &Config,
    text: &str,
    limit: usize,
) -> Result<(Vec<Group>, bool), String> {
    let rock = connect_rock(config)
        .await
        .map_err(|why| why.message().to_string())?;
    rock.find_groups(text, limit)
        .await
        .map_err(|e| format!("cannot read groups from Rock: {}", e.message))
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
    let config = app.config()?;
    let id = match fields.some("group") {
        Some(text) => match group_of_text(&config, &text).await {
            Ok(id) => id,
            Err(why) => {
                return Ok(back(
                    &app,
                    &sess,
                    &to,
                    vec![error(format!("Nothing was saved: {why}"))],
                ));
            }
        },
        None => match group_id(&fields)? {
            Some(id) => id,
            None => {
                return Ok(back(
                    &app,
                    &sess,
                    &to,
                    vec![error("Choose the Rock group, by name or id.")],
                ));
            }
        },
    };
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
            &app.data_dir,
            Some(&name),
            &fields.text("tag"),
            id,
            &out,
        )
        .await
    };
    let mut flash = flashes_of(&out);
    if let Err(e) = result {
        flash.push(error(format!("Nothing was changed: {}", message(&e))));
    }
    Ok(back(&app, &sess, &to, flash))
}
