//! `pcosync account ...`: add, edit, list and remove PCO accounts (R31), and list an account's
//! real welcome email templates to choose from.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;
use toml_edit::{ArrayOfTables, Item, Table, Value};

use super::config::{
    ConfigEdit, ConfigLocation, KeySpec, Kind, Reach, account_mut, accounts_mut, apply, choices,
    exit_status, keys_help, print, secret_place, split_assignment, suggest, table, usage,
};
use crate::config::{AccountConfig, Config, NameSource, Policy};
use crate::ops::{Console, Out};

/// The account keys `--set` and `--unset` take.
pub const ACCOUNT_KEYS: &[KeySpec] = &[
    KeySpec {
        key: "app_id",
        path: &["app_id"],
        kind: Kind::Text,
        help: "application id of the personal access token",
    },
    KeySpec {
        key: "secret_env",
        path: &["secret"],
        kind: Kind::SecretEnv,
        help: "environment variable holding the token's secret",
    },
    KeySpec {
        key: "secret_file",
        path: &["secret"],
        kind: Kind::SecretFile,
        help: "file holding the token's secret (chmod 600)",
    },
    KeySpec {
        key: "welcome_template",
        path: &["welcome_template"],
        kind: Kind::Text,
        help: "email template PCO sends to people the sync creates",
    },
    KeySpec {
        key: "allow_downgrade",
        path: &["allow_downgrade"],
        kind: Kind::Bool,
        help: "lower levels and archive people who left",
    },
    KeySpec {
        key: "updates_only",
        path: &["updates_only"],
        kind: Kind::Bool,
        help: "ask PCO only for people updated since the last run",
    },
    KeySpec {
        key: "conflict_policy",
        path: &["conflict_policy"],
        kind: Kind::Choice(&["rock-wins", "newest-wins"]),
        help: "rock-wins or newest-wins",
    },
    KeySpec {
        key: "first_name_source",
        path: &["first_name_source"],
        kind: Kind::Choice(&["nick-name", "first-name"]),
        help: "what fills PCO's first name: nick-name or first-name",
    },
    KeySpec {
        key: "disabled_fields",
        path: &["disabled_fields"],
        kind: Kind::List,
        help: "fields not synced, comma-separated (e.g. middle-name,tags)",
    },
    KeySpec {
        key: "enabled_group_types",
        path: &["enabled_group_types"],
        kind: Kind::List,
        help: "group types that sync, comma-separated (see `pcosync group-types`)",
    },
    KeySpec {
        key: "brake_percent",
        path: &["brake_percent"],
        kind: Kind::Number,
        help: "hold runs that change more than this share, 1-100",
    },
    KeySpec {
        key: "schedule",
        path: &["schedule"],
        kind: Kind::Text,
        help: "when `pcosync run` syncs it, cron (default every two hours)",
    },
    KeySpec {
        key: "full_sync_hours",
        path: &["full_sync_hours"],
        kind: Kind::Number,
        help: "updates-only accounts: hours between full runs (default 24)",
    },
    KeySpec {
        key: "import.connection_status",
        path: &["import", "connection_status"],
        kind: Kind::Text,
        help: "connection status of people an import creates",
    },
    KeySpec {
        key: "import.scheduled_viewer",
        path: &["import", "groups", "scheduled_viewer"],
        kind: Kind::Number,
        help: "Rock group id the import puts Scheduled Viewers in",
    },
    KeySpec {
        key: "import.viewer",
        path: &["import", "groups", "viewer"],
        kind: Kind::Number,
        help: "... Viewers",
    },
    KeySpec {
        key: "import.scheduler",
        path: &["import", "groups", "scheduler"],
        kind: Kind::Number,
        help: "... Schedulers",
    },
    KeySpec {
        key: "import.editor",
        path: &["import", "groups", "editor"],
        kind: Kind::Number,
        help: "... Editors",
    },
    KeySpec {
        key: "import.administrator",
        path: &["import", "groups", "administrator"],
        kind: Kind::Number,
        help: "... Administrators",
    },
];

fn keys_after_help() -> String {
    format!(
        "Keys for --set and --unset:\n{}\n\nTags: `pcosync tag map`; group types: `pcosync group-types`.",
        keys_help(ACCOUNT_KEYS)
    )
}

#[derive(Subcommand)]
pub enum AccountCommand {
    /// Add a PCO account (creates the configuration file if needed). With the credentials at
    /// hand, lists the account's real welcome email templates and checks the one chosen.
    #[command(after_help = keys_after_help())]
    Add(Box<AddArgs>),
    /// Change an account's settings, e.g. `--welcome-template "..."` or
    /// `--set updates_only=true`.
    #[command(after_help = keys_after_help())]
    Edit(Box<EditArgs>),
    /// List the configured accounts.
    List {
        /// Print JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Remove an account from the configuration. Its state (links, saved values, run history)
    /// is kept, and used again if an account of the same name is added back.
    Remove {
        name: String,
        /// Do not ask for confirmation (for scripts).
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// List the account's real welcome email templates in PCO.
    Templates {
        name: String,
        /// Print JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
}

impl AccountCommand {
    /// `account add` makes the file when there is none.
    pub fn config_optional(&self) -> bool {
        matches!(self, AccountCommand::Add(_))
    }
}

#[derive(Args)]
pub struct AddArgs {
    /// The account's name, as the sync, its state and Rock's "PCO Account" group attribute know
    /// it.
    pub(crate) name: String,
    /// The application id of the account's personal access token (made in PCO at
    /// api.planningcenteronline.com/oauth/applications).
    #[arg(long, value_name = "ID")]
    pub(crate) app_id: String,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// A group type whose groups may sync, by name, GUID or id; repeat for several.
    #[arg(long = "group-type", value_name = "TYPE")]
    pub(crate) group_types: Vec<String>,
    #[command(flatten)]
    pub(crate) settings: Settings,
    /// Do not ask PCO: save without checking the credentials and the welcome template.
    #[arg(long)]
    pub(crate) no_check: bool,
}

/// Where the personal access token's secret is kept (never the secret itself).
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct SecretArgs {
    /// Environment variable holding the personal access token's secret.
    #[arg(long, value_name = "VAR")]
    pub(crate) secret_env: Option<String>,
    /// File holding the secret, readable by its owner only (chmod 600).
    #[arg(long, value_name = "FILE")]
    pub(crate) secret_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct EditArgs {
    pub(crate) name: String,
    /// The application id of the personal access token.
    #[arg(long, value_name = "ID")]
    pub(crate) app_id: Option<String>,
    /// Environment variable holding the token's secret.
    #[arg(long, value_name = "VAR", conflicts_with = "secret_file")]
    pub(crate) secret_env: Option<String>,
    /// File holding the token's secret (chmod 600).
    #[arg(long, value_name = "FILE")]
    pub(crate) secret_file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) settings: Settings,
    /// Remove a key, so that its default applies; repeat for several.
    #[arg(long, value_name = "KEY")]
    pub(crate) unset: Vec<String>,
    /// Do not ask PCO or Rock: save without checking the credentials, the welcome template
    /// and the import settings.
    #[arg(long)]
    pub(crate) no_check: bool,
    /// Check changed import settings against Rock even with `no_check` (the web form, which
    /// asks nothing of PCO).
    #[arg(skip)]
    pub(crate) check_import: bool,
}

/// The settings `add` and `edit` share.
#[derive(Args)]
pub struct Settings {
    /// The Services email template PCO sends to people the sync creates, by its subject
    /// (`pcosync account templates NAME` lists them).
    #[arg(long, value_name = "NAME")]
    pub(crate) welcome_template: Option<String>,
    /// Let the sync lower permission levels and archive people who left;
    /// `--allow-downgrade=false` turns it off.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(crate) allow_downgrade: Option<String>,
    /// Ask PCO only for people updated since the last run; `--updates-only=false` turns
    /// it off.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(crate) updates_only: Option<String>,
    /// When `pcosync run` syncs the account, as cron, e.g. "0 */2 * * *" (the default).
    #[arg(long, value_name = "CRON")]
    pub(crate) schedule: Option<String>,
    /// Which side wins a field changed on both.
    #[arg(long, value_name = "POLICY", value_parser = ["rock-wins", "newest-wins"])]
    pub(crate) conflict_policy: Option<String>,
    /// What fills PCO's first name.
    #[arg(long, value_name = "SOURCE", value_parser = ["nick-name", "first-name"])]
    pub(crate) first_name_source: Option<String>,
    /// Hold runs that would change more than this share of the synced people (default 10).
    #[arg(long, value_name = "PERCENT")]
    pub(crate) brake_percent: Option<String>,
    /// Any account key, KEY=VALUE (keys below); repeat for several.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) set: Vec<String>,
}

impl Settings {
    fn pairs(&self) -> anyhow::Result<Vec<(String, String)>> {
        let mut pairs = Vec::new();
        let named = [
            ("welcome_template", &self.welcome_template),
            ("allow_downgrade", &self.allow_downgrade),
            ("updates_only", &self.updates_only),
            ("schedule", &self.schedule),
            ("conflict_policy", &self.conflict_policy),
            ("first_name_source", &self.first_name_source),
            ("brake_percent", &self.brake_percent),
        ];
        for (key, value) in named {
            if let Some(value) = value {
                pairs.push((key.to_string(), value.clone()));
            }
        }
        for raw in &self.set {
            let (key, value) = split_assignment(raw)?;
            pairs.push((key.to_string(), value.to_string()));
        }
        Ok(pairs)
    }
}

pub async fn run(
    location: &ConfigLocation,
    config: &Config,
    data_dir: &Path,
    command: AccountCommand,
) -> anyhow::Result<ExitCode> {
    exit_status(match command {
        AccountCommand::Add(args) => add(location, data_dir, *args, &Console).await,
        AccountCommand::Edit(args) => edit(location, data_dir, *args, &Console).await,
        AccountCommand::List { json } => list(location, config, json),
        AccountCommand::Remove { name, yes } => {
            remove(location, data_dir, &name, yes, &Console).await
        }
        AccountCommand::Templates { name, json } => templates(config, data_dir, &name, json).await,
    })
}

/// Adds an account; checks its credentials and welcome template with PCO unless
/// `no_check`. Says what it did to `out`.
pub(crate) async fn add(
    location: &ConfigLocation,
    data_dir: &Path,
    args: AddArgs,
    out: &dyn Out,
) -> anyhow::Result<ExitCode> {
    let name = args.name.trim().to_string();
    if name.is_empty() {
        return Err(usage("the account needs a name, e.g. \"Main Campus\""));
    }
    let mut edit = ConfigEdit::open(location, true)?;
    if accounts_mut(&mut edit.doc)
        .iter()
        .any(|t| t.get("name").and_then(Item::as_str) == Some(name.as_str()))
    {
        return Err(usage(format!(
            "account \"{name}\" is already configured in {}: change it with `pcosync account edit \"{name}\" ...`",
            edit.path().display()
        )));
    }
    let mut account = Table::new();
    account.insert("name", toml_edit::value(name.as_str()));
    let mut pairs = vec![("app_id".to_string(), args.app_id.clone())];
    match (&args.secret.secret_env, &args.secret.secret_file) {
        (Some(var), _) => pairs.push(("secret_env".into(), var.clone())),
        (None, Some(file)) => pairs.push(("secret_file".into(), file.display().to_string())),
        (None, None) => {
            return Err(usage(
                "say where the secret is: --secret-env VAR or --secret-file FILE",
            ));
        }
    }
    pairs.extend(args.settings.pairs()?);
    if !args.group_types.is_empty() {
        pairs.push(("enabled_group_types".into(), args.group_types.join(",")));
    }
    apply(
        &mut account,
        ACCOUNT_KEYS,
        "`pcosync account add`",
        &pairs,
        &[],
        false,
    )?;
    if !edit.doc.as_table().is_empty() || !edit.is_new() {
        account.decor_mut().set_prefix("\n");
    }
    match edit.doc.get_mut("accounts") {
        Some(Item::ArrayOfTables(tables)) => tables.push(account),
        Some(Item::Value(Value::Array(array))) => {
            array.push(Value::InlineTable(account.into_inline_table()))
        }
        Some(_) => {
            return Err(usage(format!(
                "`accounts` in {} is neither [[accounts]] tables nor a list; fix it by hand",
                edit.path().display()
            )));
        }
        None => {
            let mut tables = ArrayOfTables::new();
            tables.push(account);
            edit.doc.insert("accounts", Item::ArrayOfTables(tables));
        }
    }
    edit.note(format!("account \"{name}\" added"));
    let config = edit.check()?;
    let added = config.account(&name).map_err(usage)?;
    if !args.no_check {
        check_with_pco(&config, data_dir, added, out).await?;
        check_own_organization(&config, added, out).await?;
        if added.import.is_some() {
            check_import_with_rock(&config, added, out).await?;
        }
    }
    let config = edit.save_to(out)?;
    if !args.no_check {
        super::rock::refresh_rock_setup(&config, data_dir, out).await;
    }
    if config.rock.is_none() {
        out.say(
            "Next: say where Rock is: `pcosync config set rock.url=https://rock.example.org rock.token_env=ROCK_REST_KEY`.",
        );
    }
    out.say(&format!(
        "Next: map tags to Rock groups (`pcosync tag list --account \"{name}\"`, `pcosync tag map`), choose the group types that sync (`pcosync group-types enable --account \"{name}\" TYPE`), then `pcosync config check` and `pcosync sync --account \"{name}\" --dry-run`."
    ));
    Ok(ExitCode::SUCCESS)
}

/// Changes an account's settings; checks a changed welcome template or credentials
/// with PCO unless `no_check`.
pub(crate) async fn edit(
    location: &ConfigLocation,
    data_dir: &Path,
    args: EditArgs,
    out: &dyn Out,
) -> anyhow::Result<ExitCode> {
    let mut edit = ConfigEdit::open(location, false)?;
    let mut pairs = Vec::new();
    if let Some(app_id) = &args.app_id {
        pairs.push(("app_id".to_string(), app_id.clone()));
    }
    if let Some(var) = &args.secret_env {
        pairs.push(("secret_env".into(), var.clone()));
    }
    if let Some(file) = &args.secret_file {
        pairs.push(("secret_file".into(), file.display().to_string()));
    }
    pairs.extend(args.settings.pairs()?);
    if pairs.is_empty() && args.unset.is_empty() {
        return Err(usage(
            "nothing to change: pass settings such as --welcome-template NAME, --set KEY=VALUE or --unset KEY (see `pcosync account edit --help`)",
        ));
    }
    let account = account_mut(&mut edit.doc, &args.name)?;
    let changes = apply(
        account,
        ACCOUNT_KEYS,
        "`pcosync account edit`",
        &pairs,
        &args.unset,
        false,
    )?;
    for change in changes {
        edit.note(format!("account \"{}\": {change}", args.name));
    }
    let config = edit.check()?;
    let touched = |key: &str| {
        pairs
            .iter()
            .any(|(k, _)| k == key || k.starts_with("secret") && key == "secret")
    };
    let needs_pco = touched("welcome_template") || touched("app_id") || touched("secret");
    if needs_pco && !args.no_check && edit.changed() {
        let account = config.account(&args.name).map_err(usage)?;
        check_with_pco(&config, data_dir, account, out).await?;
        check_own_organization(&config, account, out).await?;
    }
    let import_changed = pairs
        .iter()
        .map(|(k, _)| k)
        .chain(&args.unset)
        .any(|k| k.starts_with("import."));
    if import_changed && (!args.no_check || args.check_import) && edit.changed() {
        let account = config.account(&args.name).map_err(usage)?;
        check_import_with_rock(&config, account, out).await?;
    }
    let changed = edit.changed();
    let config = edit.save_to(out)?;
    if changed && !args.no_check {
        super::rock::refresh_rock_setup(&config, data_dir, out).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses an account whose credentials reach the PCO organization another configured
/// account reaches (R3, issue 24 item 9). An organization that cannot be read is a note.
async fn check_own_organization(
    config: &Config,
    account: &AccountConfig,
    out: &dyn Out,
) -> anyhow::Result<()> {
    let ours = match super::config::organization_id(config, account).await {
        Ok(id) => id,
        Err(why) => {
            out.warn(&format!(
                "note: the account's PCO organization was not read ({}); `pcosync config check` checks it later",
                why.message()
            ));
            return Ok(());
        }
    };
    for other in config.accounts.iter().filter(|a| a.name != account.name) {
        let Ok(theirs) = super::config::organization_id(config, other).await else {
            continue;
        };
        let reached = [
            (other.name.clone(), theirs),
            (account.name.clone(), ours.clone()),
        ];
        if let Some(clash) = super::config::same_organization(&reached).pop() {
            return Err(usage(format!("{clash} (nothing was saved)")));
        }
    }
    Ok(())
}

/// The account's import settings against Rock (R41, issue 24 item 23): a connection status
/// or a group Rock does not have is refused and nothing is saved. A Rock that cannot be
/// reached is a note: the configuration may be written where Rock cannot be reached.
async fn check_import_with_rock(
    config: &Config,
    account: &AccountConfig,
    out: &dyn Out,
) -> anyhow::Result<()> {
    let rock = match super::config::connect_rock(config).await {
        Ok(rock) => rock,
        Err(why) => {
            out.warn(&format!(
                "note: the import settings were not checked against Rock ({}); an import checks them when it starts",
                why.message()
            ));
            return Ok(());
        }
    };
    crate::ops::import_check::import_settings(&rock, account)
        .await
        .map_err(|why| {
            usage(format!(
                "account \"{}\": {why} (nothing was saved)",
                account.name
            ))
        })
}

/// Asks PCO for the account's templates: shows them, and refuses a template that is not one of
/// them or credentials PCO refuses. When PCO cannot be asked (no secret here, no network), says
/// so and goes on: the configuration may be written on another machine than the one that syncs.
async fn check_with_pco(
    config: &Config,
    data_dir: &Path,
    account: &AccountConfig,
    out: &dyn Out,
) -> anyhow::Result<()> {
    let name = &account.name;
    let choices = match choices(config, data_dir, account).await {
        Ok(choices) => choices,
        Err(Reach::Refused(why)) => {
            return Err(usage(format!(
                "{why}; nothing was saved (pass --no-check to save without asking PCO)"
            )));
        }
        Err(other) => {
            out.warn(&format!(
                "note: the account was not checked against PCO ({}); `pcosync config check` checks it later",
                other.message()
            ));
            return Ok(());
        }
    };
    print_templates(
        out,
        name,
        &choices.welcome_templates,
        account.welcome_template.as_deref(),
    );
    match &account.welcome_template {
        Some(template) if !choices.welcome_templates.contains(template) => Err(usage(format!(
            "account \"{name}\": welcome_template \"{template}\" is not one of the account's email templates in PCO{} (nothing was saved)",
            suggest(template, &choices.welcome_templates)
        ))),
        Some(template) => {
            out.say(&format!(
                "How the welcome works: Planning Center's API cannot send \"{template}\", so each run's report lists the people it created in PCO, for you to send it to them from PCO Services."
            ));
            Ok(())
        }
        None => {
            out.say(&format!(
                "No welcome template chosen: reports do not list the people the sync creates in PCO for a welcome email (PCO's API cannot send it; you send it from Services). Choose one with `pcosync account edit \"{name}\" --welcome-template NAME`."
            ));
            Ok(())
        }
    }
}

fn print_templates(out: &dyn Out, name: &str, templates: &[String], chosen: Option<&str>) {
    if templates.is_empty() {
        out.say(&format!(
            "Account \"{name}\" has no email templates in PCO."
        ));
        return;
    }
    out.say(&format!("Email templates of account \"{name}\" in PCO:"));
    for template in templates {
        if Some(template.as_str()) == chosen {
            out.say(&format!("  * {template}   (its welcome email)"));
        } else {
            out.say(&format!("    {template}"));
        }
    }
}

fn list(location: &ConfigLocation, config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        let accounts: Vec<serde_json::Value> = config.accounts.iter().map(account_json).collect();
        print(&serde_json::to_string_pretty(&accounts)?);
        return Ok(ExitCode::SUCCESS);
    }
    if config.accounts.is_empty() {
        println!(
            "No accounts in {}. Add one with `pcosync account add NAME --app-id ID --secret-env VAR`.",
            location.describe()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = config
        .accounts
        .iter()
        .map(|a| {
            vec![
                a.name.clone(),
                secret_place(&a.secret),
                a.welcome_template.clone().unwrap_or_else(|| "-".into()),
                yes_no(a.allow_downgrade),
                yes_no(a.updates_only),
                a.schedule.clone().unwrap_or_else(|| "every 2 hours".into()),
                if a.enabled_group_types.is_empty() {
                    "-".into()
                } else {
                    a.enabled_group_types.join(", ")
                },
                a.tag_groups.len().to_string(),
            ]
        })
        .collect();
    print(&table(
        &[
            "NAME",
            "SECRET",
            "WELCOME TEMPLATE",
            "DOWNGRADE",
            "UPDATES ONLY",
            "SCHEDULE",
            "GROUP TYPES",
            "TAGS MAPPED",
        ],
        &rows,
    ));
    Ok(ExitCode::SUCCESS)
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.into()
}

fn account_json(a: &AccountConfig) -> serde_json::Value {
    let secret = match &a.secret {
        crate::secret::SecretRef::Env(name) => json!({ "env": name }),
        crate::secret::SecretRef::File(path) => json!({ "file": path }),
        crate::secret::SecretRef::Symlink(path) => json!({ "symlink": path }),
    };
    json!({
        "name": a.name,
        "app_id": a.app_id,
        "secret": secret,
        "welcome_template": a.welcome_template,
        "allow_downgrade": a.allow_downgrade,
        "updates_only": a.updates_only,
        "conflict_policy": match a.conflict_policy { Policy::RockWins => "rock-wins", Policy::NewestWins => "newest-wins" },
        "first_name_source": match a.first_name_source { NameSource::NickName => "nick-name", NameSource::FirstName => "first-name" },
        "disabled_fields": a.disabled_fields,
        "enabled_group_types": a.enabled_group_types,
        "tag_groups": a.tag_groups.iter().map(|t| json!({"tag": t.tag, "group_id": t.group_id})).collect::<Vec<_>>(),
        "brake_percent": a.brake_percent,
        "schedule": a.schedule,
        "import": a.import.as_ref().map(|i| json!({
            "connection_status": i.connection_status,
            "groups": i.groups.by_level().into_iter().map(|(level, id)| (crate::config::import_key(level).to_string(), json!(id))).collect::<serde_json::Map<_, _>>(),
        })),
    })
}

/// Removes an account from the configuration; its state is kept. Without `yes`, asks on the
/// terminal.
pub(crate) async fn remove(
    location: &ConfigLocation,
    data_dir: &Path,
    name: &str,
    yes: bool,
    out: &dyn Out,
) -> anyhow::Result<ExitCode> {
    let mut edit = ConfigEdit::open(location, false)?;
    let mappings = account_mut(&mut edit.doc, name)?
        .get("tag_groups")
        .map(|item| match item {
            Item::ArrayOfTables(t) => t.len(),
            Item::Value(Value::Array(a)) => a.len(),
            _ => 0,
        })
        .unwrap_or(0);
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(usage(format!(
                "removing account \"{name}\" needs confirmation: pass --yes (for scripts)"
            )));
        }
        eprint!(
            "Remove account \"{name}\" from {}{}? Its state stays in {}. [y/N] ",
            edit.path().display(),
            if mappings > 0 {
                format!(" with its {mappings} tag mapping(s)")
            } else {
                String::new()
            },
            data_dir.display()
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            out.say("nothing removed");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let index = accounts_mut(&mut edit.doc)
        .iter()
        .position(|t| t.get("name").and_then(Item::as_str) == Some(name))
        .ok_or_else(|| usage(format!("no account named \"{name}\"")))?;
    match edit.doc.get_mut("accounts") {
        Some(Item::ArrayOfTables(tables)) => {
            tables.remove(index);
        }
        Some(Item::Value(Value::Array(array))) => {
            array.remove(index);
        }
        _ => {}
    }
    edit.note(format!("account \"{name}\" removed"));
    let config = edit.save_to(out)?;
    super::rock::refresh_rock_setup(&config, data_dir, out).await;
    out.say(&format!(
        "The state of account \"{name}\" (links, saved values, run history) is kept in {}; adding an account named \"{name}\" again picks it up.",
        data_dir.display()
    ));
    Ok(ExitCode::SUCCESS)
}

async fn templates(
    config: &Config,
    data_dir: &Path,
    name: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let account = super::config::pick_account(config, Some(name))?;
    let choices = choices(config, data_dir, account)
        .await
        .map_err(Reach::into_error)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "account": account.name,
                "welcome_template": account.welcome_template,
                "templates": choices.welcome_templates,
            }))?
        );
    } else {
        print_templates(
            &Console,
            &account.name,
            &choices.welcome_templates,
            account.welcome_template.as_deref(),
        );
        if let Some(chosen) = &account.welcome_template
            && !choices.welcome_templates.contains(chosen)
        {
            println!(
                "The configured welcome_template \"{chosen}\" is not among them{}: fix it with `pcosync account edit \"{}\" --welcome-template NAME`.",
                suggest(chosen, &choices.welcome_templates),
                account.name
            );
            return Ok(ExitCode::from(2));
        }
    }
    Ok(ExitCode::SUCCESS)
}
