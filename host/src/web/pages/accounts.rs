//! The accounts (R31): list, add, settings (the welcome email chosen from the account's real
//! templates in PCO), remove. The secret of an account is write-only: a new reference can be
//! set, the current one is never shown.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};

use super::{back, error, frame, message};
use crate::cli::serve::shared::{self, AddArgs, EditArgs, SecretArgs, Settings, choices};
use crate::config::{AccountConfig, NameSource, Policy, SYNCED_FIELDS};
use crate::ops::Collected;
use crate::secret::SecretRef;
use crate::web::auth::{Flash, FlashKind, Sess};
use crate::web::form::Fields;
use crate::web::html::{Section, account_url, csrf, flashes_of};
use crate::web::{App, WebError, account};

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// Where a secret is kept, in words, without saying which variable or file.
fn secret_kind(secret: &SecretRef) -> &'static str {
    match secret {
        SecretRef::Env(_) => "set (environment variable)",
        SecretRef::File(_) | SecretRef::Symlink(_) => "set (file)",
    }
}

fn info(text: impl Into<String>) -> Flash {
    Flash {
        kind: FlashKind::Info,
        text: text.into(),
    }
}

pub(crate) async fn list(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
) -> Result<Response, WebError> {
    let config = app.config()?;
    let body = html! {
        @if config.accounts.is_empty() {
            p { "No PCO account is configured yet. Add one with the application id and secret of a personal access token made in PCO (api.planningcenteronline.com/oauth/applications)." }
        } @else {
            div.table-wrap {
                table {
                    caption { "The PCO accounts this pcosync keeps in step with Rock" }
                    thead {
                        tr {
                            th scope="col" { "Name" }
                            th scope="col" { "Welcome email" }
                            th scope="col" { "Lowers levels" }
                            th scope="col" { "Updates only" }
                            th scope="col" { "Group types" }
                            th scope="col" { "Tags mapped" }
                            th scope="col" { "Secret" }
                            th scope="col" { "Change" }
                        }
                    }
                    tbody {
                        @for a in &config.accounts {
                            tr {
                                th scope="row" { a href=(account_url(&a.name, "")) { (a.name) } }
                                td { (a.welcome_template.as_deref().unwrap_or("none")) }
                                td { (yes_no(a.allow_downgrade)) }
                                td { (yes_no(a.updates_only)) }
                                td { @if a.enabled_group_types.is_empty() { "none" } @else { (a.enabled_group_types.join(", ")) } }
                                td.num { (a.tag_groups.len()) }
                                td { (secret_kind(&a.secret)) }
                                td {
                                    a href=(account_url(&a.name, "/settings")) { "Settings" }
                                    " · "
                                    a href=(account_url(&a.name, "/remove")) { "Remove" }
                                }
                            }
                        }
                    }
                }
            }
        }
        p { a.button href="/accounts/new" { "Add an account" } }
    };
    Ok(frame(
        &app,
        &sess,
        "Accounts",
        None,
        Section::Accounts,
        vec![],
        body,
    ))
}

/// What the add form shows again after a refusal (never the secret's reference).
#[derive(Default)]
struct AddValues {
    name: String,
    app_id: String,
    file: bool,
    allow_downgrade: bool,
    updates_only: bool,
    group_types: String,
}

impl AddValues {
    fn from(fields: &Fields) -> AddValues {
        AddValues {
            name: fields.text("name"),
            app_id: fields.text("app_id"),
            file: fields.text("secret_kind") == "file",
            allow_downgrade: fields.checked("allow_downgrade"),
            updates_only: fields.checked("updates_only"),
            group_types: fields.text("group_types"),
        }
    }
}

/// The secret's place: a kind (`env` or `file`) and a variable name or an absolute path.
fn secret_fields(
    kind: &str,
    place: &str,
) -> Result<(Option<String>, Option<PathBuf>), &'static str> {
    if place.is_empty() {
        return Err(
            "Say where the personal access token's secret is kept: the name of an environment variable of this pcosync, or the path of a file readable by its owner only.",
        );
    }
    if kind == "file" {
        let path = PathBuf::from(place);
        if !path.is_absolute() {
            return Err("The secret's file must be given by its full path, starting with /.");
        }
        Ok((None, Some(path)))
    } else {
        Ok((Some(place.to_string()), None))
    }
}

fn secret_inputs(required: bool) -> Markup {
    html! {
        fieldset {
            legend { "Secret of the personal access token" }
            p.hint { "pcosync never keeps the secret in its configuration and never shows it: say where this pcosync reads it from. "
                @if !required { "Leave empty to keep the current one." } }
            label.check { input type="radio" name="secret_kind" value="env" checked; "In an environment variable" }
            label.check { input type="radio" name="secret_kind" value="file"; "In a file (readable by its owner only, chmod 600)" }
            label for="secret_ref" { "Variable name or file path" }
            @if required {
                input #secret_ref type="text" name="secret_ref" autocomplete="off" spellcheck="false" required;
            } @else {
                input #secret_ref type="text" name="secret_ref" autocomplete="off" spellcheck="false";
            }
        }
    }
}

fn add_form(sess: &Sess, values: &AddValues) -> Markup {
    html! {
        form.panel method="post" action="/accounts" {
            (csrf(sess))
            label for="name" { "Name" }
            p.hint #name-hint { "As the sync, its state and Rock's \"PCO Account\" group attribute know it, e.g. Main Campus." }
            input #name type="text" name="name" value=(values.name) required aria-describedby="name-hint";
            label for="app_id" { "Application id" }
            p.hint #app-hint { "Of the account's personal access token (PCO: api.planningcenteronline.com/oauth/applications)." }
            input #app_id type="text" name="app_id" value=(values.app_id) required autocomplete="off" spellcheck="false" aria-describedby="app-hint";
            fieldset {
                legend { "Secret of the personal access token" }
                p.hint { "pcosync never keeps the secret in its configuration and never shows it: say where this pcosync reads it from." }
                label.check { input type="radio" name="secret_kind" value="env" checked[!values.file]; "In an environment variable" }
                label.check { input type="radio" name="secret_kind" value="file" checked[values.file]; "In a file (readable by its owner only, chmod 600)" }
                label for="secret_ref" { "Variable name or file path" }
                input #secret_ref type="text" name="secret_ref" autocomplete="off" spellcheck="false" required;
            }
            label.check { input type="checkbox" name="allow_downgrade" checked[values.allow_downgrade]; "Allow permission downgrade: lower levels and archive people who left their groups (recommended)" }
            label.check { input type="checkbox" name="updates_only" checked[values.updates_only]; "Updates only: ask PCO only for people updated since the last run (faster; tags made in PCO are then not seen)" }
            label for="group_types" { "Group types that sync (optional)" }
            p.hint #types-hint { "By name, GUID or id, separated by commas, e.g. Serving Team. The Group types page lists those of the account's groups." }
            input #group_types type="text" name="group_types" value=(values.group_types) aria-describedby="types-hint";
            p.hint { "pcosync checks the credentials with PCO before saving; the welcome email is chosen next, from the account's own templates." }
            button type="submit" { "Add the account" }
        }
    }
}

pub(crate) async fn new(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
) -> Result<Response, WebError> {
    let body = add_form(&sess, &AddValues::default());
    Ok(frame(
        &app,
        &sess,
        "Add an account",
        None,
        Section::Accounts,
        vec![],
        body,
    ))
}

pub(crate) async fn add(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    fields: Fields,
) -> Result<Response, WebError> {
    let values = AddValues::from(&fields);
    let refused = |why: String| {
        frame(
            &app,
            &sess,
            "Add an account",
            None,
            Section::Accounts,
            vec![error(why)],
            add_form(&sess, &values),
        )
    };
    let (secret_env, secret_file) =
        match secret_fields(&fields.text("secret_kind"), &fields.text("secret_ref")) {
            Ok(place) => place,
            Err(why) => return Ok(refused(why.into())),
        };
    let args = AddArgs {
        name: values.name.clone(),
        app_id: values.app_id.clone(),
        secret: SecretArgs {
            secret_env,
            secret_file,
        },
        group_types: values
            .group_types
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        settings: Settings {
            welcome_template: None,
            allow_downgrade: values.allow_downgrade.then(|| "true".into()),
            updates_only: values.updates_only.then(|| "true".into()),
            schedule: None,
            conflict_policy: None,
            first_name_source: None,
            brake_percent: None,
            set: Vec::new(),
        },
        no_check: false,
    };
    let out = Collected::default();
    let result = {
        let _edit = app.edits.lock().await;
        shared::add(&app.location, &app.data_dir, args, &out).await
    };
    match result {
        Ok(_) => {
            let mut flash = flashes_of(&out);
            flash.push(info(
                "Now choose the welcome email PCO sends to the people the sync creates, from the account's own templates.",
            ));
            Ok(back(
                &app,
                &sess,
                &account_url(values.name.trim(), "/settings"),
                flash,
            ))
        }
        Err(e) => Ok(refused(message(&e))),
    }
}

fn policy_word(policy: Policy) -> &'static str {
    match policy {
        Policy::RockWins => "rock-wins",
        Policy::NewestWins => "newest-wins",
    }
}

fn source_word(source: NameSource) -> &'static str {
    match source {
        NameSource::NickName => "nick-name",
        NameSource::FirstName => "first-name",
    }
}

/// What the settings form shows: the account's settings, or what was submitted.
struct SettingsValues {
    app_id: String,
    welcome_template: String,
    allow_downgrade: bool,
    updates_only: bool,
    conflict_policy: String,
    first_name_source: String,
    brake_percent: String,
    schedule: String,
    disabled_fields: Vec<String>,
}

impl SettingsValues {
    fn of(account: &AccountConfig) -> SettingsValues {
        SettingsValues {
            app_id: account.app_id.clone(),
            welcome_template: account.welcome_template.clone().unwrap_or_default(),
            allow_downgrade: account.allow_downgrade,
            updates_only: account.updates_only,
            conflict_policy: policy_word(account.conflict_policy).into(),
            first_name_source: source_word(account.first_name_source).into(),
            brake_percent: account.brake_percent.to_string(),
            schedule: account.schedule.clone().unwrap_or_default(),
            disabled_fields: account.disabled_fields.clone(),
        }
    }

    fn from(fields: &Fields) -> SettingsValues {
        SettingsValues {
            app_id: fields.text("app_id"),
            welcome_template: fields.text("welcome_template"),
            allow_downgrade: fields.checked("allow_downgrade"),
            updates_only: fields.checked("updates_only"),
            conflict_policy: fields.text("conflict_policy"),
            first_name_source: fields.text("first_name_source"),
            brake_percent: fields.text("brake_percent"),
            schedule: fields.text("schedule"),
            disabled_fields: SYNCED_FIELDS
                .iter()
                .filter(|f| fields.all("disabled_field").iter().any(|d| d == *f))
                .map(|f| f.to_string())
                .collect(),
        }
    }
}

fn select(name: &str, id: &str, options: &[(&str, &str)], chosen: &str) -> Markup {
    html! {
        select id=(id) name=(name) {
            @for (value, label) in options {
                option value=(value) selected[*value == chosen] { (label) }
            }
        }
    }
}

fn settings_form(
    sess: &Sess,
    name: &str,
    values: &SettingsValues,
    templates: &Result<Vec<String>, String>,
) -> Markup {
    html! {
        form.panel method="post" action=(account_url(name, "/settings")) {
            (csrf(sess))
            label for="welcome_template" { "Welcome email" }
            @match templates {
                Ok(list) => {
                    p.hint #welcome-hint { "The email PCO sends to each person the sync creates, chosen from the account's " (list.len()) " templates in PCO." }
                    select #welcome_template name="welcome_template" aria-describedby="welcome-hint" {
                        option value="" selected[values.welcome_template.is_empty()] { "(none: no welcome email)" }
                        @for template in list {
                            option value=(template) selected[*template == values.welcome_template] { (template) }
                        }
                        @if !values.welcome_template.is_empty() && !list.contains(&values.welcome_template) {
                            option value=(values.welcome_template) selected { (values.welcome_template) " (not in PCO)" }
                        }
                    }
                }
                Err(why) => {
                    div.flash.warn role="status" { "PCO could not be asked for the account's templates: " (why) }
                    input #welcome_template type="text" name="welcome_template" value=(values.welcome_template);
                }
            }
            label for="app_id" { "Application id" }
            input #app_id type="text" name="app_id" value=(values.app_id) required autocomplete="off" spellcheck="false";
            (secret_inputs(false))
            label.check { input type="checkbox" name="allow_downgrade" checked[values.allow_downgrade]; "Allow permission downgrade: lower levels and archive people who left their groups" }
            label.check { input type="checkbox" name="updates_only" checked[values.updates_only]; "Updates only: ask PCO only for people updated since the last run" }
            div.row {
                div {
                    label for="conflict_policy" { "When both sides changed a field" }
                    (select("conflict_policy", "conflict_policy", &[("rock-wins", "Rock wins"), ("newest-wins", "The newest change wins")], &values.conflict_policy))
                }
                div {
                    label for="first_name_source" { "PCO's first name comes from" }
                    (select("first_name_source", "first_name_source", &[("nick-name", "Rock's nick name"), ("first-name", "Rock's first name")], &values.first_name_source))
                }
            }
            div.row {
                div {
                    label for="brake_percent" { "Safety brake (%)" }
                    p.hint #brake-hint { "Hold a run that would change more than this share of the synced people, for you to confirm." }
                    input #brake_percent type="number" name="brake_percent" min="1" max="100" value=(values.brake_percent) aria-describedby="brake-hint";
                }
                div {
                    label for="schedule" { "Schedule (cron)" }
                    p.hint #schedule-hint { "When pcosync run syncs it, e.g. 0 */2 * * *; empty for every two hours." }
                    input #schedule type="text" name="schedule" value=(values.schedule) aria-describedby="schedule-hint";
                }
            }
            fieldset {
                legend { "Fields not synced" }
                @for field in SYNCED_FIELDS {
                    label.check {
                        input type="checkbox" name="disabled_field" value=(field) checked[values.disabled_fields.iter().any(|d| d == field)];
                        (field)
                    }
                }
            }
            button type="submit" { "Save the settings" }
        }
        p { a href=(account_url(name, "/remove")) { "Remove this account…" } }
    }
}

async fn templates_of(
    app: &App,
    config: &crate::config::Config,
    account: &AccountConfig,
) -> Result<Vec<String>, String> {
    choices(config, &app.data_dir, account)
        .await
        .map(|c| c.welcome_templates)
        .map_err(|why| why.message().to_string())
}

pub(crate) async fn settings(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let config = app.config()?;
    let account = account(&config, &name)?;
    let templates = templates_of(&app, &config, account).await;
    let body = settings_form(&sess, &name, &SettingsValues::of(account), &templates);
    Ok(frame(
        &app,
        &sess,
        format!("Settings of {name}"),
        Some(&name),
        Section::Settings,
        vec![],
        body,
    ))
}

pub(crate) async fn save_settings(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
    fields: Fields,
) -> Result<Response, WebError> {
    let config = app.config()?;
    let account = account(&config, &name)?;
    let now = SettingsValues::of(account);
    let wanted = SettingsValues::from(&fields);
    let mut set: Vec<String> = Vec::new();
    let mut unset: Vec<String> = Vec::new();
    let mut text = |key: &str, before: &str, after: &str, empty_unsets: bool| {
        if before == after {
        } else if after.is_empty() && empty_unsets {
            unset.push(key.to_string());
        } else {
            set.push(format!("{key}={after}"));
        }
    };
    text("app_id", &now.app_id, &wanted.app_id, false);
    text(
        "welcome_template",
        &now.welcome_template,
        &wanted.welcome_template,
        true,
    );
    text(
        "allow_downgrade",
        yes_no(now.allow_downgrade),
        yes_no(wanted.allow_downgrade),
        false,
    );
    text(
        "updates_only",
        yes_no(now.updates_only),
        yes_no(wanted.updates_only),
        false,
    );
    text(
        "conflict_policy",
        &now.conflict_policy,
        &wanted.conflict_policy,
        true,
    );
    text(
        "first_name_source",
        &now.first_name_source,
        &wanted.first_name_source,
        true,
    );
    text(
        "brake_percent",
        &now.brake_percent,
        &wanted.brake_percent,
        true,
    );
    text("schedule", &now.schedule, &wanted.schedule, true);
    text(
        "disabled_fields",
        &now.disabled_fields.join(","),
        &wanted.disabled_fields.join(","),
        true,
    );
    let (secret_env, secret_file) = match fields.some("secret_ref") {
        None => (None, None),
        Some(place) => match secret_fields(&fields.text("secret_kind"), &place) {
            Ok(place) => place,
            Err(why) => {
                let templates = templates_of(&app, &config, account).await;
                return Ok(frame(
                    &app,
                    &sess,
                    format!("Settings of {name}"),
                    Some(&name),
                    Section::Settings,
                    vec![error(why)],
                    settings_form(&sess, &name, &wanted, &templates),
                ));
            }
        },
    };
    if set.is_empty() && unset.is_empty() && secret_env.is_none() && secret_file.is_none() {
        return Ok(back(
            &app,
            &sess,
            &account_url(&name, "/settings"),
            vec![info("Nothing to change.")],
        ));
    }
    let args = EditArgs {
        name: name.clone(),
        app_id: None,
        secret_env,
        secret_file,
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
        no_check: false,
        check_import: false,
    };
    let out = Collected::default();
    let result = {
        let _edit = app.edits.lock().await;
        shared::edit(&app.location, &app.data_dir, args, &out).await
    };
    match result {
        Ok(_) => {
            let mut flash = flashes_of(&out);
            flash.push(info(format!("The settings of {name} are saved.")));
            Ok(back(&app, &sess, &account_url(&name, "/settings"), flash))
        }
        Err(e) => {
            let templates = templates_of(&app, &config, account).await;
            Ok(frame(
                &app,
                &sess,
                format!("Settings of {name}"),
                Some(&name),
                Section::Settings,
                vec![error(format!("Nothing was saved: {}", message(&e)))],
                settings_form(&sess, &name, &wanted, &templates),
            ))
        }
    }
}

pub(crate) async fn confirm_remove(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let config = app.config()?;
    let account = account(&config, &name)?;
    let body = html! {
        div.warning-box {
            p { "Remove the account " strong { (name) } " from the configuration"
                @if !account.tag_groups.is_empty() { ", with its " (account.tag_groups.len()) " tag mapping(s)" }
                "?" }
            p { "Nothing is deleted in PCO or Rock. Its state (links, saved values, run history) is kept, and used again if an account of the same name is added back." }
        }
        form method="post" action=(account_url(&name, "/remove")) {
            (csrf(&sess))
            button.danger type="submit" { "Remove " (name) }
            a.button.secondary href=(account_url(&name, "/settings")) { "Cancel" }
        }
    };
    Ok(frame(
        &app,
        &sess,
        format!("Remove {name}?"),
        Some(&name),
        Section::Settings,
        vec![],
        body,
    ))
}

pub(crate) async fn remove(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let out = Collected::default();
    let result = {
        let _edit = app.edits.lock().await;
        shared::remove(&app.location, &app.data_dir, &name, true, &out).await
    };
    match result {
        Ok(_) => Ok(back(&app, &sess, "/accounts", flashes_of(&out))),
        Err(e) => Ok(back(
            &app,
            &sess,
            "/accounts",
            vec![error(format!("Nothing was removed: {}", message(&e)))],
        )),
    }
}
