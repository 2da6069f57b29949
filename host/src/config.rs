//! The configuration file (TOML): where the data lives, which guest runs, and its limits.
//!
//! Unknown keys are errors: a misspelt setting silently ignored is a setting the church thinks
//! it has and doesn't.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::bindings::engine::{self, ConflictPolicy, FirstNameSource, TagGroup};
use crate::bindings::types::PermissionLevel;
use crate::runtime::Limits;
use crate::secret::SecretRef;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directory holding the state file and the compiled-component cache.
    pub data_dir: Option<PathBuf>,
    /// A guest component to run instead of the one built into this host.
    pub component: Option<PathBuf>,
    #[serde(default)]
    pub limits: LimitsConfig,
    pub rock: Option<RockConfig>,
    #[serde(default)]
    pub pco: PcoConfig,
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    /// Which components `pcosync plugin install` accepts (signatures).
    #[serde(default)]
    pub plugins: crate::plugin::PluginsConfig,
    /// The web admin (`pcosync serve`).
    #[serde(default)]
    pub web: WebConfig,
}

/// The web admin (`pcosync serve`): the token administrators sign in with, named by
/// reference like every secret (`{ env = "..." }` or `{ file = "..." }`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    pub admin_token: Option<SecretRef>,
    /// With `pcosync serve --allow-remote`: the host names the proxy in front serves it as
    /// (`Host:`), e.g. `["admin.example.org"]`. Requests naming any other host are refused,
    /// which stops DNS rebinding; loopback names are always accepted.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
}

/// The shortest admin token `pcosync serve` accepts.
pub const MIN_ADMIN_TOKEN_LEN: usize = 16;

/// Where Rock is and the REST key to reach it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RockConfig {
    pub url: url::Url,
    pub token: SecretRef,
    /// Rock's organization time zone (IANA name, e.g. "America/Chicago"): Rock reports change
    /// times in it without an offset. Needed by newest-wins accounts (R26).
    pub time_zone: Option<String>,
    /// The organization's country, as Rock's Locations store it (the two-letter code, e.g.
    /// "US", "CA"): written with a home address PCO holds without a country, which Rock's
    /// address validation refuses. "US" when not set.
    pub country: Option<String>,
}

impl RockConfig {
    /// The country for addresses that carry none, checked: two letters, as Rock's country
    /// values are (the Countries defined type).
    pub fn country(&self) -> Result<String, String> {
        let Some(country) = self.country.as_deref() else {
            return Ok("US".into());
        };
        let code = country.trim();
        if code.len() == 2 && code.chars().all(|c| c.is_ascii_alphabetic()) {
            Ok(code.to_ascii_uppercase())
        } else {
            Err(format!(
                "rock.country \"{country}\" is not a country code; use the two-letter code Rock stores for your organization's country, e.g. \"US\" or \"CA\""
            ))
        }
    }

    /// The time zone, checked: a name the time zone database knows.
    pub fn zone(&self) -> Result<Option<jiff::tz::TimeZone>, String> {
        self.time_zone
            .as_deref()
            .map(|name| {
                jiff::tz::TimeZone::get(name).map_err(|_| {
                    format!(
                        "rock.time_zone \"{name}\" is not a time zone name; use the IANA name of Rock's organization time zone, e.g. \"America/Chicago\""
                    )
                })
            })
            .transpose()
    }
}

/// Where Planning Center is; the defaults are the real service.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcoConfig {
    #[serde(default = "default_api_url")]
    pub api_url: url::Url,
    #[serde(default = "default_upload_url")]
    pub upload_url: url::Url,
}

impl Default for PcoConfig {
    fn default() -> Self {
        PcoConfig {
            api_url: default_api_url(),
            upload_url: default_upload_url(),
        }
    }
}

fn default_api_url() -> url::Url {
    url::Url::parse("https://api.planningcenteronline.com").expect("a valid URL")
}

fn default_upload_url() -> url::Url {
    url::Url::parse("https://upload.planningcenteronline.com/v2/files").expect("a valid URL")
}

/// One PCO account (R31): its credentials by reference and its sync settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub name: String,
    pub app_id: String,
    pub secret: SecretRef,
    pub welcome_template: Option<String>,
    #[serde(default)]
    pub allow_downgrade: bool,
    #[serde(default)]
    pub updates_only: bool,
    #[serde(default)]
    pub conflict_policy: Policy,
    #[serde(default)]
    pub first_name_source: NameSource,
    #[serde(default)]
    pub disabled_fields: Vec<String>,
    /// Group types whose groups may sync, by name, GUID or id (R36).
    #[serde(default)]
    pub enabled_group_types: Vec<String>,
    #[serde(default)]
    pub tag_groups: Vec<TagGroupConfig>,
    #[serde(default = "default_brake_percent")]
    pub brake_percent: u8,
    /// When the daemon (`pcosync run`) syncs the account: cron syntax, or none for the
    /// default, every two hours.
    pub schedule: Option<String>,
    /// Updates-only accounts (R21): a full run (lowering, archiving, re-matching people gone
    /// from PCO, PCO's tag edits) at most this many hours after the last one. Default 24.
    #[serde(default = "default_full_sync_hours")]
    pub full_sync_hours: u32,
    /// The one-time import from PCO (R40-R41).
    pub import: Option<ImportConfig>,
}

/// Where an import puts PCO people in Rock (R40-R41).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportConfig {
    /// Connection status of the people the import creates in Rock, by name (R41).
    #[serde(default = "default_connection_status")]
    pub connection_status: String,
    /// The Rock group each PCO permission level is imported into, by id (R40). A level left
    /// out is not imported.
    #[serde(default)]
    pub groups: ImportGroups,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportGroups {
    pub scheduled_viewer: Option<i64>,
    pub viewer: Option<i64>,
    pub scheduler: Option<i64>,
    pub editor: Option<i64>,
    pub administrator: Option<i64>,
}

impl ImportGroups {
    /// The configured groups, lowest level first.
    pub fn by_level(&self) -> Vec<(PermissionLevel, i64)> {
        [
            (PermissionLevel::ScheduledViewer, self.scheduled_viewer),
            (PermissionLevel::Viewer, self.viewer),
            (PermissionLevel::Scheduler, self.scheduler),
            (PermissionLevel::Editor, self.editor),
            (PermissionLevel::Administrator, self.administrator),
        ]
        .into_iter()
        .filter_map(|(level, group)| group.map(|g| (level, g)))
        .collect()
    }
}

fn default_connection_status() -> String {
    "Prospect".to_string()
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    #[default]
    RockWins,
    NewestWins,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum NameSource {
    #[default]
    NickName,
    FirstName,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagGroupConfig {
    /// `tag group:tag`, as PCO shows it.
    pub tag: String,
    pub group_id: i64,
}

fn default_brake_percent() -> u8 {
    10
}

/// A day: an updates-only account's people are read whole once a day (R21, R17, R18, R7).
pub const DEFAULT_FULL_SYNC_HOURS: u32 = 24;

/// A year: beyond it, "never" would be the honest setting, and updates-only runs alone never
/// lower, archive or re-match anyone.
pub const MAX_FULL_SYNC_HOURS: u32 = 24 * 366;

fn default_full_sync_hours() -> u32 {
    DEFAULT_FULL_SYNC_HOURS
}

/// The fields of SPEC R10 that an account can switch off.
pub const SYNCED_FIELDS: [&str; 14] = [
    "first-name",
    "nick-name",
    "middle-name",
    "last-name",
    "gender",
    "birthdate",
    "anniversary",
    "home-address",
    "home-phone",
    "work-phone",
    "mobile-phone",
    "email",
    "tags",
    "photo",
];

impl AccountConfig {
    /// The account as the guest sees it: settings, never credentials.
    pub fn to_guest(&self) -> engine::Account {
        engine::Account {
            name: self.name.clone(),
            welcome_template: self.welcome_template.clone(),
            allow_downgrade: self.allow_downgrade,
            updates_only: self.updates_only,
            conflict_policy: match self.conflict_policy {
                Policy::RockWins => ConflictPolicy::RockWins,
                Policy::NewestWins => ConflictPolicy::NewestWins,
            },
            first_name_source: match self.first_name_source {
                NameSource::NickName => FirstNameSource::NickName,
                NameSource::FirstName => FirstNameSource::FirstName,
            },
            disabled_fields: self.disabled_fields.clone(),
            enabled_group_types: self.enabled_group_types.clone(),
            tag_groups: self
                .tag_groups
                .iter()
                .map(|t| TagGroup {
                    tag: t.tag.clone(),
                    group_id: t.group_id,
                })
                .collect(),
            brake_percent: self.brake_percent,
        }
    }

    fn validate(&self) -> Result<(), String> {
        let name = &self.name;
        if name.trim().is_empty() {
            return Err(
                "accounts: every account needs a name (add `name = \"Main Campus\"` to it)".into(),
            );
        }
        if name.trim() != name {
            return Err(format!(
                "account \"{name}\": name has spaces at its start or end; remove them"
            ));
        }
        if self.app_id.trim().is_empty() {
            return Err(format!(
                "account \"{name}\": app_id is empty (copy it from PCO's personal access token page)"
            ));
        }
        if self
            .app_id
            .chars()
            .any(|c| c == ':' || c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "account \"{name}\": app_id holds a space or a colon; copy the application id alone from PCO's personal access token page"
            ));
        }
        if !(1..=MAX_FULL_SYNC_HOURS).contains(&self.full_sync_hours) {
            return Err(format!(
                "account \"{name}\": full_sync_hours must be between 1 and {MAX_FULL_SYNC_HOURS} (the default, {DEFAULT_FULL_SYNC_HOURS}, makes an updates-only account's first run each day a full one)"
            ));
        }
        if !(1..=100).contains(&self.brake_percent) {
            return Err(format!(
                "account \"{name}\": brake_percent must be between 1 and 100 (the default is 10)"
            ));
        }
        if let Some(template) = &self.welcome_template
            && template.trim().is_empty()
        {
            return Err(format!(
                "account \"{name}\": welcome_template is empty; name one of the account's templates (`pcosync account templates \"{name}\"` lists them) or remove the key"
            ));
        }
        if let Some(schedule) = &self.schedule {
            check_schedule(schedule)
                .map_err(|why| format!("account \"{name}\": schedule \"{schedule}\" {why}"))?;
        }
        if self.enabled_group_types.iter().any(|t| t.trim().is_empty()) {
            return Err(format!(
                "account \"{name}\": enabled_group_types holds an empty name; name each group type by its name, GUID or id"
            ));
        }
        if let Some(mapping) = self.tag_groups.iter().find(|t| t.group_id <= 0) {
            return Err(format!(
                "account \"{name}\": tag_groups maps `{}` to group_id {}; write the id of a Rock group (a positive number)",
                mapping.tag, mapping.group_id
            ));
        }
        if let Some(import) = &self.import {
            if import.connection_status.trim().is_empty() {
                return Err(format!(
                    "account \"{name}\": import.connection_status is empty; name a Rock connection status (the default is \"Prospect\")"
                ));
            }
            if let Some((level, id)) = import
                .groups
                .by_level()
                .into_iter()
                .find(|(_, id)| *id <= 0)
            {
                return Err(format!(
                    "account \"{name}\": import.groups.{} is {id}; write the id of a Rock group (a positive number)",
                    import_key(level)
                ));
            }
        }
        if let Some(field) = self
            .disabled_fields
            .iter()
            .find(|f| !SYNCED_FIELDS.contains(&f.as_str()))
        {
            return Err(format!(
                "account \"{name}\": disabled_fields names `{field}`, which is not a synced field (one of: {})",
                SYNCED_FIELDS.join(", ")
            ));
        }
        if let Some(tag) = self.tag_groups.iter().find(|t| !is_tag_name(&t.tag)) {
            return Err(format!(
                "account \"{name}\": tag_groups tag `{}` must be written `tag group:tag`, as PCO shows it (e.g. \"Teams:Worship\"; `pcosync tag list --account \"{name}\"` lists them)",
                tag.tag
            ));
        }
        Ok(())
    }
}

/// Whether `tag` is written `tag group:tag`, both parts non-empty.
pub fn is_tag_name(tag: &str) -> bool {
    let mut parts = tag.split(':');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(group), Some(name), None) if !group.trim().is_empty() && !name.trim().is_empty()
    )
}

/// The key of a level under `import.groups`.
pub fn import_key(level: PermissionLevel) -> &'static str {
    match level {
        PermissionLevel::ScheduledViewer => "scheduled_viewer",
        PermissionLevel::Viewer => "viewer",
        PermissionLevel::Scheduler => "scheduler",
        PermissionLevel::Editor => "editor",
        PermissionLevel::Administrator => "administrator",
    }
}

/// A cron schedule: five fields (minute, hour, day of month, month, day of week) of numbers,
/// names, `*`, ranges, lists and steps, or one of `@hourly`, `@daily`, `@weekly`, `@monthly`.
fn check_schedule(schedule: &str) -> Result<(), String> {
    const MACROS: [&str; 6] = [
        "@hourly",
        "@daily",
        "@midnight",
        "@weekly",
        "@monthly",
        "@yearly",
    ];
    let fix = "is not a cron schedule: write five fields `minute hour day-of-month month day-of-week`, e.g. \"0 */2 * * *\" (every two hours, the default), or @hourly, @daily, @weekly";
    let trimmed = schedule.trim();
    if trimmed.starts_with('@') {
        return if MACROS.contains(&trimmed) {
            Ok(())
        } else {
            Err(fix.into())
        };
    }
    let fields: Vec<&str> = trimmed.split_whitespace().collect();
    let field_ok = |f: &&str| {
        f.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | ',' | '-' | '/' | '?'))
    };
    if fields.len() != 5 || !fields.iter().all(field_ok) {
        return Err(fix.into());
    }
    Ok(())
}

/// Where the configuration is when neither `--config` nor `PCOSYNC_CONFIG` says:
/// `$XDG_CONFIG_HOME/pcosync/pcosync.toml`, else `~/.config/pcosync/pcosync.toml`.
pub fn default_path() -> Option<PathBuf> {
    let absolute = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    absolute("XDG_CONFIG_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".config")))
        .map(|base| base.join("pcosync").join("pcosync.toml"))
}

/// The environment variable that names the configuration file.
pub const CONFIG_ENV: &str = "PCOSYNC_CONFIG";

/// The keys an account may have, for suggestions.
const ACCOUNT_KEYS: [&str; 15] = [
    "name",
    "app_id",
    "secret",
    "welcome_template",
    "allow_downgrade",
    "updates_only",
    "conflict_policy",
    "first_name_source",
    "disabled_fields",
    "enabled_group_types",
    "tag_groups",
    "brake_percent",
    "schedule",
    "full_sync_hours",
    "import",
];

/// A TOML or serde error as an administrator needs it: the line, the table (the account by
/// name), the key, what is wrong and how to fix it. toml's own rendering quotes the offending
/// line, which could be a secret written inline by mistake, so it is not used.
fn describe_toml_error(text: &str, error: &toml::de::Error) -> String {
    let offset = error.span().map_or(0, |span| span.start).min(text.len());
    let place = Place::at(text, offset);
    let message = error.message().trim().to_string();
    let key = place.key.clone();
    let secret_line = key
        .as_deref()
        .is_some_and(|k| k == "secret" || k == "token" || k == "admin_token")
        || message.contains("SecretRef")
        || message.contains("expected one of `env`, `file`");
    let what = if secret_line {
        let key = key.as_deref().unwrap_or("secret");
        format!(
            "`{key}` names where the secret is kept, never the secret itself: write `{key} = {{ env = \"VARIABLE\" }}` or `{key} = {{ file = \"/path/to/file\" }}` (a file readable by its owner only; `{{ symlink = \"/path\" }}` follows a symbolic link to it)"
        )
    } else if let Some(unknown) = between(&message, "unknown field `", "`") {
        let expected: Vec<&str> = message
            .split_once("expected")
            .map(|(_, list)| list.split('`').skip(1).step_by(2).collect())
            .unwrap_or_default();
        let candidates: Vec<&str> = if expected.is_empty() && place.in_account {
            ACCOUNT_KEYS.to_vec()
        } else {
            expected.clone()
        };
        let mut line = format!("unknown key `{unknown}`");
        match closest(unknown, &candidates) {
            Some(near) => line.push_str(&format!("; did you mean `{near}`?")),
            None => line.push_str("; remove it"),
        }
        if !expected.is_empty() {
            line.push_str(&format!(" (the keys here are: {})", expected.join(", ")));
        }
        line
    } else if let Some(missing) = between(&message, "missing field `", "`") {
        let fix = match missing {
            "name" => "add `name = \"...\"`, the name the sync and its state know the account by",
            "app_id" => {
                "add `app_id = \"...\"`, the application id of the account's personal access token (PCO's developer page)"
            }
            "secret" => {
                "add `secret = { env = \"VARIABLE\" }` or `secret = { file = \"/path\" }`: where the personal access token's secret is kept"
            }
            "url" => "add `url = \"https://rock.example.org\"`",
            "token" => {
                "add `token = { env = \"VARIABLE\" }` or `token = { file = \"/path\" }`: where Rock's REST key is kept"
            }
            "tag" => "add `tag = \"tag group:tag\"`",
            "group_id" => "add `group_id = ` the id of the Rock group",
            _ => "add it",
        };
        format!("`{missing}` is missing: {fix}")
    } else if message.contains("expected a boolean") {
        format!("{message}: write true or false, without quotes")
    } else if key.as_deref() == Some("brake_percent") {
        format!("{message}: write a whole number from 1 to 100 (the default is 10)")
    } else if message.contains("expected u8")
        || message.contains("expected u64")
        || message.contains("expected i64")
    {
        format!("{message}: write a whole number, without quotes")
    } else {
        message
    };
    format!("{}: {what}", place.describe())
}

/// Where in the file an error is.
struct Place {
    line: usize,
    /// The table header above it, without brackets (`accounts`, `limits`, `accounts.import`).
    table: Option<String>,
    account: Option<String>,
    in_account: bool,
    key: Option<String>,
}

impl Place {
    fn at(text: &str, offset: usize) -> Place {
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let lines: Vec<&str> = text.lines().collect();
        let index = line.saturating_sub(1).min(lines.len().saturating_sub(1));
        // `[table]` or `[[array.of.tables]]` (bare keys only: enough to place a message).
        let header_of = |l: &str| -> Option<String> {
            let l = l.split('#').next().unwrap_or_default().trim();
            let inner = l.strip_prefix('[')?.strip_suffix(']')?;
            let inner = inner.strip_prefix('[').unwrap_or(inner);
            let inner = inner.strip_suffix(']').unwrap_or(inner).trim();
            let bare = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ');
            (!inner.is_empty() && inner.chars().all(bare)).then(|| inner.replace(' ', ""))
        };
        let current = lines.get(index).copied().unwrap_or_default();
        let key = if header_of(current).is_some() {
            None
        } else {
            current
                .split_once('=')
                .map(|(k, _)| k.trim().trim_matches(['"', '\'']).to_string())
                .filter(|k| !k.is_empty() && !k.contains(char::is_whitespace))
        };
        let header_line = (0..=index)
            .rev()
            .find(|i| lines.get(*i).and_then(|l| header_of(l)).is_some());
        let table = header_line.and_then(|i| header_of(lines[i]));
        let in_account = table
            .as_deref()
            .is_some_and(|t| t == "accounts" || t.starts_with("accounts."));
        let account = if in_account {
            let start = (0..=header_line.unwrap_or(0))
                .rev()
                .find(|i| header_of(lines[*i]).as_deref() == Some("accounts"));
            start.and_then(|start| {
                lines[start + 1..]
                    .iter()
                    .take_while(|l| header_of(l).is_none_or(|h| h.starts_with("accounts.")))
                    .find_map(|l| {
                        let table: toml::Table = toml::from_str(l).ok()?;
                        table.get("name")?.as_str().map(str::to_string)
                    })
            })
        } else {
            None
        };
        Place {
            line,
            table,
            account,
            in_account,
            key,
        }
    }

    fn describe(&self) -> String {
        let mut out = format!("line {}", self.line);
        match (&self.account, self.table.as_deref()) {
            (Some(name), Some(table)) => {
                let sub = table.strip_prefix("accounts").unwrap_or_default();
                out.push_str(&format!(", account \"{name}\""));
                if let Some(sub) = sub.strip_prefix('.') {
                    out.push_str(&format!(" [{sub}]"));
                }
            }
            (None, Some(table)) => out.push_str(&format!(", [{table}]")),
            _ => {}
        }
        if let Some(key) = &self.key {
            out.push_str(&format!(", key `{key}`"));
        }
        out
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

/// The candidate nearest to `word`, when near enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(&word, &c.to_lowercase()), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest guest memory, in MiB.
    pub memory_mib: Option<u64>,
    /// Guest CPU budget per call, in millions of fuel units (about wasm instructions).
    pub fuel_millions: Option<u64>,
    /// Wall-clock budget per call, in seconds.
    pub wall_time_secs: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Reads and checks a configuration; the error names the key, where it is, and the fix,
    /// and never repeats what a `secret` or `token` line holds.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| describe_toml_error(text, &e))?;
        config.limits.validate()?;
        config.check_time_zone()?;
        if let Some(rock) = &config.rock {
            rock.country()?;
        }
        let mut names = std::collections::BTreeSet::new();
        for account in &config.accounts {
            account.validate()?;
            if !names.insert(account.name.as_str()) {
                return Err(format!("account \"{}\" is configured twice", account.name));
            }
        }
        Ok(config)
    }

    /// R26: newest-wins compares Rock's change times with PCO's, which needs Rock's zone.
    fn check_time_zone(&self) -> Result<(), String> {
        let Some(rock) = &self.rock else {
            return Ok(());
        };
        rock.zone()?;
        match self
            .accounts
            .iter()
            .find(|a| a.conflict_policy == Policy::NewestWins)
        {
            Some(account) if rock.time_zone.is_none() => Err(format!(
                "account \"{}\": conflict_policy = \"newest-wins\" compares Rock's change times with PCO's, so [rock] needs time_zone, the IANA name of Rock's organization time zone (e.g. time_zone = \"America/Chicago\")",
                account.name
            )),
            _ => Ok(()),
        }
    }

    /// The configured account named `name`, or a message listing the ones there are.
    pub fn account(&self, name: &str) -> Result<&AccountConfig, String> {
        self.accounts
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.accounts.iter().map(|a| a.name.as_str()).collect();
                format!(
                    "no account named \"{name}\" in the configuration (configured: {})",
                    known.join(", ")
                )
            })
    }

    pub fn limits(&self) -> Limits {
        let default = Limits::default();
        let l = &self.limits;
        Limits {
            memory_bytes: l
                .memory_mib
                .map_or(default.memory_bytes, |mib| (mib as usize) << 20),
            fuel: l.fuel_millions.map_or(default.fuel, |m| m * 1_000_000),
            wall_time: l
                .wall_time_secs
                .map_or(default.wall_time, Duration::from_secs),
        }
    }
}

impl LimitsConfig {
    fn validate(&self) -> Result<(), String> {
        let positive = |name: &str, value: Option<u64>| match value {
            Some(0) => Err(format!("limits.{name} must be greater than 0")),
            _ => Ok(()),
        };
        positive("memory_mib", self.memory_mib)?;
        positive("fuel_millions", self.fuel_millions)?;
        positive("wall_time_secs", self.wall_time_secs)?;
        if self.memory_mib.is_some_and(|mib| mib > 4096) {
            return Err(
                "limits.memory_mib is at most 4096 (a wasm32 guest cannot use more)".into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_limits_and_paths() {
        let config = Config::parse(
            "data_dir = \"/var/lib/pcosync\"\n[limits]\nmemory_mib = 64\nfuel_millions = 5\nwall_time_secs = 9\n",
        )
        .unwrap();
        let limits = config.limits();
        assert_eq!(limits.memory_bytes, 64 << 20);
        assert_eq!(limits.fuel, 5_000_000);
        assert_eq!(limits.wall_time, Duration::from_secs(9));
        assert_eq!(
            config.data_dir.as_deref(),
            Some(Path::new("/var/lib/pcosync"))
        );
    }

    #[test]
    fn unknown_keys_are_errors_that_name_the_key() {
        let error = Config::parse("data_dri = \"x\"\n").unwrap_err();
        assert!(error.contains("data_dri"), "{error}");
        let error = Config::parse("[limits]\nmemory = 3\n").unwrap_err();
        assert!(error.contains("memory"), "{error}");
    }

    const ACCOUNT: &str = r#"
[rock]
url = "http://127.0.0.1:9000"
token = { env = "ROCK_TOKEN" }
time_zone = "America/Chicago"

[[accounts]]
name = "Main Campus"
app_id = "abc"
secret = { file = "/etc/pcosync/main.secret" }
allow_downgrade = true
conflict_policy = "newest-wins"
enabled_group_types = ["Serving Team", "42"]
tag_groups = [{ tag = "Teams:Kids", group_id = 210 }]
"#;

    // R31
    #[test]
    fn reads_accounts_with_secrets_by_reference() {
        let config = Config::parse(ACCOUNT).unwrap();
        let account = config.account("Main Campus").unwrap();
        assert_eq!(
            account.secret,
            SecretRef::File("/etc/pcosync/main.secret".into())
        );
        let guest = account.to_guest();
        assert!(guest.allow_downgrade);
        assert_eq!(guest.conflict_policy, ConflictPolicy::NewestWins);
        assert_eq!(guest.first_name_source, FirstNameSource::NickName);
        assert_eq!(guest.brake_percent, 10);
        assert_eq!(guest.tag_groups[0].group_id, 210);
        assert_eq!(
            config.rock.unwrap().token,
            SecretRef::Env("ROCK_TOKEN".into())
        );
        assert_eq!(
            config.pco.api_url.as_str(),
            "https://api.planningcenteronline.com/"
        );
        let error = Config::parse(ACCOUNT)
            .unwrap()
            .account("North")
            .unwrap_err();
        assert!(error.contains("configured: Main Campus"), "{error}");
    }

    #[test]
    fn account_mistakes_name_the_account_and_the_fix() {
        let secret_inline = ACCOUNT.replace(
            "secret = { file = \"/etc/pcosync/main.secret\" }",
            "secret = \"hunter2\"",
        );
        let error = Config::parse(&secret_inline).unwrap_err();
        assert!(error.contains("secret"), "{error}");
        let twice = format!(
            "{ACCOUNT}\n[[accounts]]\nname = \"Main Campus\"\napp_id = \"x\"\nsecret = {{ env = \"X\" }}\n"
        );
        assert!(
            Config::parse(&twice)
                .unwrap_err()
                .contains("configured twice")
        );
        let bad_field = ACCOUNT.replace(
            "allow_downgrade = true",
            "disabled_fields = [\"shoe-size\"]",
        );
        let error = Config::parse(&bad_field).unwrap_err();
        assert!(
            error.contains("shoe-size") && error.contains("mobile-phone"),
            "{error}"
        );
        let bad_tag = ACCOUNT.replace("Teams:Kids", "Kids");
        assert!(
            Config::parse(&bad_tag)
                .unwrap_err()
                .contains("tag group:tag")
        );
        let bad_policy = ACCOUNT.replace("newest-wins", "pco-wins");
        assert!(Config::parse(&bad_policy).unwrap_err().contains("pco-wins"));
    }

    // Issue 23: the country written with addresses PCO holds without one: US unless set, and
    // a two-letter code when set.
    #[test]
    fn rocks_country_is_a_two_letter_code() {
        let rock = |text: &str| Config::parse(text).map(|c| c.rock.unwrap().country());
        assert_eq!(rock(ACCOUNT).unwrap(), Ok("US".into()));
        let zone = "time_zone = \"America/Chicago\"\n";
        let canada = ACCOUNT.replace(zone, &format!("{zone}country = \"ca\"\n"));
        assert_eq!(rock(&canada).unwrap(), Ok("CA".into()));
        let wrong = ACCOUNT.replace(zone, &format!("{zone}country = \"Canada\"\n"));
        let error = Config::parse(&wrong).unwrap_err();
        assert!(
            error.contains("rock.country") && error.contains("Canada"),
            "{error}"
        );
    }

    // R26: newest-wins needs Rock's time zone, and a zone must be a real one.
    #[test]
    fn newest_wins_needs_rocks_time_zone() {
        let without = ACCOUNT.replace("time_zone = \"America/Chicago\"\n", "");
        let error = Config::parse(&without).unwrap_err();
        assert!(
            error.contains("time_zone") && error.contains("Main Campus"),
            "{error}"
        );
        let rock_wins = without.replace("newest-wins", "rock-wins");
        assert!(Config::parse(&rock_wins).is_ok());
        let bad = ACCOUNT.replace("America/Chicago", "America/Atlantis");
        let error = Config::parse(&bad).unwrap_err();
        assert!(error.contains("America/Atlantis"), "{error}");
        let zone = Config::parse(ACCOUNT)
            .unwrap()
            .rock
            .unwrap()
            .zone()
            .unwrap();
        assert!(zone.is_some());
    }

    #[test]
    fn bad_limits_say_what_to_change() {
        let error = Config::parse("[limits]\nfuel_millions = 0\n").unwrap_err();
        assert!(
            error.contains("limits.fuel_millions must be greater than 0"),
            "{error}"
        );
        let error = Config::parse("[limits]\nmemory_mib = 10000\n").unwrap_err();
        assert!(error.contains("at most 4096"), "{error}");
    }

    // R31: every mistake names its line, its account, its key and the fix.
    #[test]
    fn toml_mistakes_name_the_line_the_account_the_key_and_the_fix() {
        let typo = ACCOUNT.replace("allow_downgrade = true", "allow_downgrad = true");
        let error = Config::parse(&typo).unwrap_err();
        assert!(
            error.starts_with("line 11, account \"Main Campus\", key `allow_downgrad`: unknown key `allow_downgrad`; did you mean `allow_downgrade`?"),
            "{error}"
        );
        let quoted = ACCOUNT.replace("allow_downgrade = true", "allow_downgrade = \"yes\"");
        let error = Config::parse(&quoted).unwrap_err();
        assert!(error.contains("key `allow_downgrade`"), "{error}");
        assert!(error.contains("true or false"), "{error}");
        let error = Config::parse("[limits]\nmemory = 3\n").unwrap_err();
        assert!(
            error.starts_with("line 2, [limits], key `memory`: unknown key `memory`"),
            "{error}"
        );
        assert!(error.contains("memory_mib"), "{error}");
        let missing = ACCOUNT.replace("app_id = \"abc\"\n", "");
        let error = Config::parse(&missing).unwrap_err();
        assert!(
            error.contains("`app_id` is missing: add `app_id"),
            "{error}"
        );
    }

    // R31: a secret written in the file by mistake is refused without being repeated.
    #[test]
    fn a_secret_written_inline_is_never_repeated() {
        for line in [
            "secret = \"hunter2-s3cret\"",
            "secret = hunter2-s3cret",
            "secret = { value = \"hunter2-s3cret\" }",
        ] {
            let text = ACCOUNT.replace("secret = { file = \"/etc/pcosync/main.secret\" }", line);
            let error = Config::parse(&text).unwrap_err();
            assert!(!error.contains("hunter2"), "{error}");
            assert!(error.contains("key `secret`"), "{error}");
            assert!(error.contains("secret = { env = "), "{error}");
        }
        let text = ACCOUNT.replace("token = { env = \"ROCK_TOKEN\" }", "token = \"rock-k3y\"");
        let error = Config::parse(&text).unwrap_err();
        assert!(!error.contains("rock-k3y"), "{error}");
        assert!(error.contains("[rock], key `token`"), "{error}");
    }

    // The web admin's token is named by reference, and a token written inline is refused
    // without being repeated.
    #[test]
    fn the_web_admin_token_is_a_secret_reference() {
        let config = Config::parse("[web]\nadmin_token = { env = \"PCOSYNC_ADMIN\" }\n").unwrap();
        assert_eq!(
            config.web.admin_token,
            Some(SecretRef::Env("PCOSYNC_ADMIN".into()))
        );
        assert!(Config::parse("").unwrap().web.admin_token.is_none());
        let error = Config::parse("[web]\nadmin_token = \"hunter2-web-t0ken\"\n").unwrap_err();
        assert!(!error.contains("hunter2"), "{error}");
        assert!(error.contains("key `admin_token`"), "{error}");
        assert!(error.contains("never the secret itself"), "{error}");
        let error = Config::parse("[web]\nadmin_tokn = { env = \"X\" }\n").unwrap_err();
        assert!(error.contains("did you mean `admin_token`?"), "{error}");
    }

    #[test]
    fn schedules_and_ids_are_checked() {
        let with = |line: &str| Config::parse(&ACCOUNT.replace("allow_downgrade = true", line));
        assert!(with("schedule = \"0 */2 * * *\"").is_ok());
        assert!(with("schedule = \"@daily\"").is_ok());
        let error = with("schedule = \"every two hours\"").unwrap_err();
        assert!(error.contains("five fields"), "{error}");
        let error = Config::parse(&ACCOUNT.replace("app_id = \"abc\"", "app_id = \"abc:def\""))
            .unwrap_err();
        assert!(error.contains("app_id holds a space or a colon"), "{error}");
        let error = Config::parse(&ACCOUNT.replace("group_id = 210", "group_id = -1")).unwrap_err();
        assert!(error.contains("positive"), "{error}");
        let error = with("welcome_template = \" \"").unwrap_err();
        assert!(error.contains("pcosync account templates"), "{error}");
    }

    #[test]
    fn the_default_path_follows_xdg() {
        // Only checks the shape: the environment belongs to the whole test process.
        if let Some(path) = default_path() {
            assert!(path.ends_with("pcosync/pcosync.toml"), "{}", path.display());
            assert!(path.is_absolute());
        }
    }
}
