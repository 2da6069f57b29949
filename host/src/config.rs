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
}

/// Where Rock is and the REST key to reach it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RockConfig {
    pub url: url::Url,
    pub token: SecretRef,
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
#[derive(Debug, Deserialize)]
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
    /// The one-time import from PCO (R40-R41).
    pub import: Option<ImportConfig>,
}

/// Where an import puts PCO people in Rock (R40-R41).
#[derive(Debug, Deserialize)]
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

#[derive(Debug, Default, Deserialize)]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagGroupConfig {
    /// `tag group:tag`, as PCO shows it.
    pub tag: String,
    pub group_id: i64,
}

fn default_brake_percent() -> u8 {
    10
}

/// The fields of SPEC R10 that an account can switch off.
pub const SYNCED_FIELDS: [&str; 13] = [
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
            return Err("accounts: every account needs a name".into());
        }
        if self.app_id.trim().is_empty() {
            return Err(format!(
                "account \"{name}\": app_id is empty (copy it from PCO's personal access token page)"
            ));
        }
        if !(1..=100).contains(&self.brake_percent) {
            return Err(format!(
                "account \"{name}\": brake_percent must be between 1 and 100"
            ));
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
        if let Some(tag) = self
            .tag_groups
            .iter()
            .find(|t| t.tag.split(':').count() != 2)
        {
            return Err(format!(
                "account \"{name}\": tag_groups tag `{}` must be written `tag group:tag`",
                tag.tag
            ));
        }
        Ok(())
    }
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

    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        config.limits.validate()?;
        let mut names = std::collections::BTreeSet::new();
        for account in &config.accounts {
            account.validate()?;
            if !names.insert(account.name.as_str()) {
                return Err(format!("account \"{}\" is configured twice", account.name));
            }
        }
        Ok(config)
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
}
