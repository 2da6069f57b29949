//! `pcosync config ...`: where the configuration file is, checking it against Rock and PCO, and
//! setting its general keys. Also what every editing command shares: finding the file, editing
//! it in place with `toml_edit` (comments and layout kept), validating the result with
//! [`Config::parse`] before anything is written, writing atomically, and saying what changed.
//!
//! Exit status 2 for a mistake in the configuration or the command line; nothing is written then.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use toml_edit::{DocumentMut, InlineTable, Item, Table, TableLike, Value};

use crate::bindings::engine::AccountChoices;
use crate::bindings::types::ErrorKind;
use crate::config::{AccountConfig, CONFIG_ENV, Config, ConfigError, closest, default_path};
use crate::ops::{Console, Out};
use crate::pco::http::{Endpoint, HttpOptions, HttpPco};
use crate::rock::Rock;
use crate::rock::rest::{RestRock, RestRockOptions};
use crate::runtime::{Capabilities, RunError, Runtime};
use crate::secret::SecretRef;

// ---- Where the configuration is -------------------------------------------------------------

/// Where the configuration file was looked for, and who said so.
#[derive(Clone, Debug)]
pub struct ConfigLocation {
    /// None when nothing names a file and there is no home directory for the default.
    pub path: Option<PathBuf>,
    pub origin: Origin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Env,
    Default,
}

impl ConfigLocation {
    /// `--config` (which clap also fills from `PCOSYNC_CONFIG`), else the default path.
    pub fn resolve(flag: Option<PathBuf>) -> ConfigLocation {
        match flag {
            Some(path) => {
                let from_env =
                    std::env::var_os(CONFIG_ENV).is_some_and(|value| value == path.as_os_str());
                ConfigLocation {
                    path: Some(path),
                    origin: if from_env { Origin::Env } else { Origin::Flag },
                }
            }
            None => ConfigLocation {
                path: default_path(),
                origin: Origin::Default,
            },
        }
    }

    pub fn exists(&self) -> bool {
        self.path.as_deref().is_some_and(Path::exists)
    }

    /// The file and who chose it, e.g. `/etc/pcosync.toml (from --config)`.
    pub fn describe(&self) -> String {
        let why = match self.origin {
            Origin::Flag => "from --config",
            Origin::Env => "from PCOSYNC_CONFIG",
            Origin::Default => "the default location",
        };
        match &self.path {
            Some(path) => format!("{} ({why})", path.display()),
            None => {
                "no file (there is no default location: neither XDG_CONFIG_HOME nor HOME is set)"
                    .into()
            }
        }
    }

    /// The configuration, or None when the file does not exist.
    pub fn load(&self) -> Result<Option<Config>, ConfigError> {
        match &self.path {
            Some(path) if path.exists() => Config::load(path).map(Some),
            _ => Ok(None),
        }
    }

    /// What a command that needs a configuration says when there is none.
    pub fn missing(&self) -> String {
        let config = match (&self.path, self.origin) {
            (Some(path), Origin::Flag | Origin::Env) => {
                format!("--config \"{}\" ", path.display())
            }
            _ => String::new(),
        };
        let looked = match &self.path {
            Some(path) => format!(
                "no configuration file at {}",
                ConfigLocation {
                    path: Some(path.clone()),
                    origin: self.origin
                }
                .describe()
            ),
            None => "no configuration file: there is no default location (neither XDG_CONFIG_HOME nor HOME is set); pass --config FILE or set PCOSYNC_CONFIG".into(),
        };
        let other = if self.origin == Origin::Default {
            "; --config FILE or PCOSYNC_CONFIG choose another file"
        } else {
            ""
        };
        format!(
            "{looked}{other}.\nCreate it with:\n  pcosync {config}config set rock.url=https://rock.example.org rock.token_env=ROCK_REST_KEY\n  pcosync {config}account add \"Main Campus\" --app-id APP_ID --secret-env PCO_SECRET\nthen check it with `pcosync {config}config check`."
        )
    }
}

// ---- Errors that are the user's to fix (exit status 2) --------------------------------------

/// A mistake in the command line or the configuration: reported with exit status 2, nothing
/// written.
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(message.into()))
}

/// Turns a [`Usage`] error into its message and exit status 2; other errors go on (status 1).
pub fn exit_status(result: anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    match result {
        Err(error) if error.downcast_ref::<Usage>().is_some() => {
            eprintln!("error: {error:#}");
            Ok(ExitCode::from(2))
        }
        other => other,
    }
}

/// The account named `given`, or the only one when none is given.
pub fn pick_account<'a>(
    config: &'a Config,
    given: Option<&str>,
) -> anyhow::Result<&'a AccountConfig> {
    match given {
        Some(name) => config.account(name).map_err(|message| {
            let names: Vec<&str> = config.accounts.iter().map(|a| a.name.as_str()).collect();
            match closest(name, &names) {
                Some(near) => usage(format!("{message}; did you mean \"{near}\"?")),
                None => usage(message),
            }
        }),
        None => match config.accounts.as_slice() {
            [only] => Ok(only),
            [] => Err(usage(
                "the configuration has no accounts: add one with `pcosync account add NAME --app-id ID --secret-env VAR`",
            )),
            many => Err(usage(format!(
                "which account? pass --account NAME (configured: {})",
                many.iter()
                    .map(|a| format!("\"{}\"", a.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        },
    }
}

// ---- Editing the file ------------------------------------------------------------------------

/// Written at the top of a configuration file pcosync creates.
const NEW_FILE_HEADER: &str = "\
# pcosync configuration. Edit it by hand or with `pcosync account`, `pcosync tag`,
# `pcosync group-types` and `pcosync config set`; `pcosync config check` verifies it.
# Secrets are never written here: each names an environment variable or a file.
";

/// The configuration file being edited: the document keeps every comment and the layout.
pub struct ConfigEdit {
    path: PathBuf,
    original: Option<String>,
    pub doc: DocumentMut,
    changes: Vec<String>,
}

impl ConfigEdit {
    /// Opens the file to edit; with `create`, a missing file is started afresh.
    pub fn open(location: &ConfigLocation, create: bool) -> anyhow::Result<ConfigEdit> {
        let Some(path) = location.path.clone() else {
            return Err(usage(location.missing()));
        };
        let original = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(usage(location.missing()));
            }
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "cannot read the configuration {}: {e}",
                    path.display()
                ));
            }
        };
        let doc = match &original {
            Some(text) => text.parse::<DocumentMut>().map_err(|_| {
                // Config::parse words the mistake without quoting secrets.
                let why = Config::parse(text).err().unwrap_or_default();
                usage(format!(
                    "the configuration {} is not valid: {why}",
                    path.display()
                ))
            })?,
            None => DocumentMut::new(),
        };
        Ok(ConfigEdit {
            path,
            original,
            doc,
            changes: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_new(&self) -> bool {
        self.original.is_none()
    }

    /// Records a change, in words, for the summary.
    pub fn note(&mut self, change: impl Into<String>) {
        self.changes.push(change.into());
    }

    pub fn text(&self) -> String {
        match &self.original {
            Some(_) => self.doc.to_string(),
            None => format!("{NEW_FILE_HEADER}\n{}", self.doc.to_string().trim_start()),
        }
    }

    /// Whether the file would change.
    pub fn changed(&self) -> bool {
        self.original.as_deref() != Some(self.text().as_str())
    }

    /// The edited configuration, checked as `pcosync` will read it; a mistake is a [`Usage`]
    /// error and nothing is written.
    pub fn check(&self) -> anyhow::Result<Config> {
        Config::parse(&self.text()).map_err(|why| {
            usage(format!(
                "nothing was changed, because the result would not be valid: {why}"
            ))
        })
    }

    /// Checks, writes atomically, and prints what changed.
    pub fn save(self) -> anyhow::Result<Config> {
        self.save_to(&Console)
    }

    /// Checks, writes atomically, and says what changed to `out`: the changes, then the
    /// file's changed lines as detail.
    pub fn save_to(self, out: &dyn Out) -> anyhow::Result<Config> {
        let config = self.check()?;
        let text = self.text();
        if !self.changed() {
            out.say(&format!("nothing to change in {}", self.path.display()));
            return Ok(config);
        }
        write_atomically(&self.path, &text, self.original.as_deref())?;
        for change in &self.changes {
            out.say(change);
        }
        out.detail(&format!(
            "{} {}:",
            if self.original.is_some() {
                "updated"
            } else {
                "created"
            },
            self.path.display()
        ));
        for line in line_diff(self.original.as_deref().unwrap_or_default(), &text) {
            out.detail(&format!("  {}", line.trim_end()));
        }
        Ok(config)
    }
}

/// Replaces `path` with `text` so that a crash leaves the old file or the new one, never half:
/// a temporary file beside it, flushed to disk, then renamed over it. The file's permissions are
/// kept; a symbolic link is followed (the file it points to is replaced). Refused when the file
/// changed since it was read (someone else edited it meanwhile).
pub fn write_atomically(path: &Path, text: &str, expected: Option<&str>) -> anyhow::Result<()> {
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let current = match std::fs::read_to_string(&target) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", target.display())),
    };
    if current.as_deref() != expected {
        anyhow::bail!(
            "{} changed while pcosync was editing it; nothing was written: run the command again",
            target.display()
        );
    }
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pcosync.toml".into());
    let temporary = dir.join(format!(
        ".{name}.{}.{:08x}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = (|| -> std::io::Result<()> {
        // 0600 from the start: the text is on disk before the old file's mode is copied.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        file.write_all(text.as_bytes())?;
        if let Ok(metadata) = std::fs::metadata(&target) {
            // The owner first (only root may give a file away; for anyone else it is theirs
            // already), then the mode, which a change of owner may clear.
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                let ours = file.metadata()?;
                if (ours.uid(), ours.gid()) != (metadata.uid(), metadata.gid()) {
                    std::os::unix::fs::fchown(&file, Some(metadata.uid()), Some(metadata.gid()))?;
                }
            }
            file.set_permissions(metadata.permissions())?;
        }
        file.sync_all()?;
        std::fs::rename(&temporary, &target)?;
        // The rename itself reaches the disk with the directory.
        if let Ok(dir) = std::fs::File::open(&dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if let Err(error) = result {
        let _ = std::fs::remove_file(&temporary);
        return Err(anyhow::anyhow!(
            "cannot write {}: {error}",
            target.display()
        ));
    }
    Ok(())
}

/// The lines removed (`-`) and added (`+`), in file order; a small LCS, files being short.
pub fn line_diff(before: &str, after: &str) -> Vec<String> {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    if a.len().saturating_mul(b.len()) > 4_000_000 {
        return vec!["(too long to show the changed lines)".into()];
    }
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(format!("- {}", a[i]));
            i += 1;
        } else {
            out.push(format!("+ {}", b[j]));
            j += 1;
        }
    }
    out
}

/// The `[[accounts]]` entries, whether written as tables or inline.
pub fn accounts_mut(doc: &mut DocumentMut) -> Vec<&mut dyn TableLike> {
    match doc.get_mut("accounts") {
        Some(Item::ArrayOfTables(tables)) => {
            tables.iter_mut().map(|t| t as &mut dyn TableLike).collect()
        }
        Some(Item::Value(Value::Array(array))) => array
            .iter_mut()
            .filter_map(|v| v.as_inline_table_mut())
            .map(|t| t as &mut dyn TableLike)
            .collect(),
        _ => Vec::new(),
    }
}

/// The account named `name` in the document.
pub fn account_mut<'a>(
    doc: &'a mut DocumentMut,
    name: &str,
) -> anyhow::Result<&'a mut dyn TableLike> {
    let names: Vec<String> = accounts_mut(doc)
        .iter()
        .filter_map(|t| t.get("name").and_then(Item::as_str).map(str::to_string))
        .collect();
    let index = names.iter().position(|n| n == name);
    match index {
        Some(index) => Ok(accounts_mut(doc).swap_remove(index)),
        None => {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let hint = closest(name, &refs)
                .map(|near| format!("; did you mean \"{near}\"?"))
                .unwrap_or_default();
            Err(usage(format!(
                "no account named \"{name}\" in the configuration (configured: {}){hint}",
                if refs.is_empty() {
                    "none".to_string()
                } else {
                    refs.iter()
                        .map(|n| format!("\"{n}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )))
        }
    }
}

/// A value as TOML writes it, without the spaces and comments around it.
pub fn shown(item: &Item) -> String {
    match item {
        Item::Value(value) => value.clone().decorated("", "").to_string(),
        Item::None => "nothing".into(),
        other => other.to_string().trim().to_string(),
    }
}

/// Sets `path` (e.g. `["import", "groups", "viewer"]`) under `table` to `value`, keeping the
/// comment and spacing of a value it replaces. Missing tables on the way are created: as
/// `[table]` sections when `sections`, else inline. Returns the value it replaced.
pub fn set_path(
    table: &mut dyn TableLike,
    path: &[&str],
    mut value: Value,
    sections: bool,
) -> anyhow::Result<Option<String>> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(None);
    };
    let mut here = table;
    for (depth, part) in parents.iter().enumerate() {
        if here.get(part).is_none_or(|item| item.is_none()) {
            let item = if sections {
                let mut new = Table::new();
                new.set_implicit(true);
                Item::Table(new)
            } else {
                Item::Value(Value::InlineTable(InlineTable::new()))
            };
            here.insert(part, item);
        }
        let key = path[..=depth].join(".");
        here = here
            .get_mut(part)
            .and_then(Item::as_table_like_mut)
            .ok_or_else(|| {
                usage(format!(
                    "`{key}` is not a table in the configuration; fix it by hand"
                ))
            })?;
    }
    match here.get_mut(last) {
        Some(Item::Value(old)) => {
            let before = old.clone().decorated("", "").to_string();
            *value.decor_mut() = old.decor().clone();
            *old = value;
            Ok(Some(before))
        }
        Some(item) if !item.is_none() => {
            let before = shown(item);
            *item = Item::Value(value);
            Ok(Some(before))
        }
        _ => {
            here.insert(last, Item::Value(value));
            Ok(None)
        }
    }
}

/// Removes `path` under `table`; returns what it held.
pub fn remove_path(table: &mut dyn TableLike, path: &[&str]) -> Option<String> {
    let (last, parents) = path.split_last()?;
    let mut here = table;
    for part in parents {
        here = here.get_mut(part)?.as_table_like_mut()?;
    }
    here.remove(last).map(|item| shown(&item))
}

// ---- Settable keys ---------------------------------------------------------------------------

/// How a key's value is written on the command line.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Text,
    /// A file or directory, made absolute.
    Path,
    Bool,
    Number,
    /// Comma-separated.
    List,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// Sets `secret = { env = ... }` at the spec's `path`.
    SecretEnv,
    /// Sets `secret = { file = ... }` at the spec's `path`, made absolute.
    SecretFile,
}

/// A key the editing commands can set: what the user types, where it goes, what it holds.
pub struct KeySpec {
    pub key: &'static str,
    pub path: &'static [&'static str],
    pub kind: Kind,
    pub help: &'static str,
}

impl KeySpec {
    /// The TOML value of `raw`, or a message naming the key and what it takes.
    pub fn value(&self, raw: &str) -> anyhow::Result<Value> {
        let key = self.key;
        let raw_trimmed = raw.trim();
        let value = match self.kind {
            Kind::Text => Value::from(raw_trimmed),
            Kind::Path => Value::from(absolute(raw_trimmed)?.display().to_string()),
            Kind::Bool => match raw_trimmed.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Value::from(true),
                "false" | "no" | "off" | "0" => Value::from(false),
                _ => return Err(usage(format!("{key} takes true or false, not \"{raw}\""))),
            },
            Kind::Number => Value::from(
                raw_trimmed
                    .parse::<i64>()
                    .map_err(|_| usage(format!("{key} takes a whole number, not \"{raw}\"")))?,
            ),
            Kind::List => {
                let mut array = toml_edit::Array::new();
                for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    array.push(item);
                }
                Value::Array(array)
            }
            Kind::Choice(words) => {
                if !words.contains(&raw_trimmed) {
                    return Err(usage(format!(
                        "{key} takes one of {}, not \"{raw}\"",
                        words.join(", ")
                    )));
                }
                Value::from(raw_trimmed)
            }
            Kind::SecretEnv => {
                if raw_trimmed.is_empty()
                    || !raw_trimmed
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    return Err(usage(format!(
                        "{key} takes the name of an environment variable (letters, digits and _), not a secret"
                    )));
                }
                // A token pasted where its variable's name belongs would land in the file.
                let looks_like_a_token = raw_trimmed.len() >= 20
                    && !raw_trimmed.contains('_')
                    && raw_trimmed.chars().any(|c| c.is_ascii_digit())
                    && raw_trimmed.chars().any(|c| c.is_ascii_lowercase())
                    && std::env::var_os(raw_trimmed).is_none();
                if looks_like_a_token {
                    return Err(usage(format!(
                        "{key} takes the name of an environment variable, e.g. PCO_SECRET; what was given looks like the secret itself, which is never written in the configuration (nothing was saved)"
                    )));
                }
                secret_value("env", raw_trimmed)
            }
            Kind::SecretFile => secret_value("file", &absolute(raw_trimmed)?.display().to_string()),
        };
        Ok(value)
    }
}

fn secret_value(kind: &str, at: &str) -> Value {
    let mut table = InlineTable::new();
    table.insert(kind, Value::from(at));
    table.fmt();
    Value::InlineTable(table)
}

/// `path` made absolute against the current directory (a configuration is read from anywhere).
pub fn absolute(path: &str) -> anyhow::Result<PathBuf> {
    if path.is_empty() {
        return Err(usage("a path is empty"));
    }
    let path = PathBuf::from(path);
    if path.is_absolute() {
        return Ok(path);
    }
    Ok(std::env::current_dir()
        .context("cannot read the current directory")?
        .join(path))
}

/// `KEY=VALUE`, split.
pub fn split_assignment(raw: &str) -> anyhow::Result<(&str, &str)> {
    raw.split_once('=')
        .map(|(k, v)| (k.trim(), v))
        .ok_or_else(|| usage(format!("`{raw}` is not KEY=VALUE")))
}

/// The spec of `key`, or a message listing the keys (and the nearest one).
pub fn find_key<'a>(specs: &'a [KeySpec], key: &str, what: &str) -> anyhow::Result<&'a KeySpec> {
    if let Some(spec) = specs.iter().find(|s| s.key == key) {
        return Ok(spec);
    }
    let keys: Vec<&str> = specs.iter().map(|s| s.key).collect();
    let hint = closest(key, &keys)
        .map(|near| format!("did you mean `{near}`? "))
        .unwrap_or_default();
    Err(usage(format!(
        "`{key}` is not a key {what} can set; {hint}the keys are: {}",
        keys.join(", ")
    )))
}

/// Applies `KEY=VALUE` settings and `KEY` removals to `table`; returns one line per change.
pub fn apply(
    table: &mut dyn TableLike,
    specs: &[KeySpec],
    what: &str,
    set: &[(String, String)],
    unset: &[String],
    sections: bool,
) -> anyhow::Result<Vec<String>> {
    let mut changes = Vec::new();
    for (key, raw) in set {
        let spec = find_key(specs, key, what)?;
        let value = spec.value(raw)?;
        let now = value.clone().decorated("", "").to_string();
        let shown_key = spec.path.join(".");
        match set_path(table, spec.path, value, sections)? {
            Some(before) if before == now => {}
            Some(before) => changes.push(format!("{shown_key} = {now} (was {before})")),
            None => changes.push(format!("{shown_key} = {now}")),
        }
    }
    for key in unset {
        let spec = find_key(specs, key, what)?;
        if let Some(before) = remove_path(table, spec.path) {
            changes.push(format!(
                "{} removed (was {before}); the default applies",
                spec.path.join(".")
            ));
        }
    }
    Ok(changes)
}

/// The general keys `pcosync config set` can set.
pub const GENERAL_KEYS: &[KeySpec] = &[
    KeySpec {
        key: "data_dir",
        path: &["data_dir"],
        kind: Kind::Path,
        help: "directory of the state and the compiled-component cache",
    },
    KeySpec {
        key: "component",
        path: &["component"],
        kind: Kind::Path,
        help: "a guest component to run instead of the built-in one",
    },
    KeySpec {
        key: "rock.url",
        path: &["rock", "url"],
        kind: Kind::Text,
        help: "Rock's address, e.g. https://rock.example.org",
    },
    KeySpec {
        key: "rock.token_env",
        path: &["rock", "token"],
        kind: Kind::SecretEnv,
        help: "environment variable holding Rock's REST key",
    },
    KeySpec {
        key: "rock.token_file",
        path: &["rock", "token"],
        kind: Kind::SecretFile,
        help: "file holding Rock's REST key (chmod 600)",
    },
    KeySpec {
        key: "rock.time_zone",
        path: &["rock", "time_zone"],
        kind: Kind::Text,
        help: "Rock's organization time zone, e.g. America/Chicago (needed by newest-wins)",
    },
    KeySpec {
        key: "rock.country",
        path: &["rock", "country"],
        kind: Kind::Text,
        help: "your organization's two-letter country code, e.g. US (default), written with home addresses PCO holds without a country",
    },
    KeySpec {
        key: "web.admin_token_env",
        path: &["web", "admin_token"],
        kind: Kind::SecretEnv,
        help: "environment variable holding the web admin's token (`pcosync serve`)",
    },
    KeySpec {
        key: "web.admin_token_file",
        path: &["web", "admin_token"],
        kind: Kind::SecretFile,
        help: "file holding the web admin's token (chmod 600)",
    },
    KeySpec {
        key: "pco.api_url",
        path: &["pco", "api_url"],
        kind: Kind::Text,
        help: "PCO's API root (default https://api.planningcenteronline.com)",
    },
    KeySpec {
        key: "pco.upload_url",
        path: &["pco", "upload_url"],
        kind: Kind::Text,
        help: "PCO's upload address",
    },
    KeySpec {
        key: "limits.memory_mib",
        path: &["limits", "memory_mib"],
        kind: Kind::Number,
        help: "largest guest memory, MiB",
    },
    KeySpec {
        key: "limits.fuel_millions",
        path: &["limits", "fuel_millions"],
        kind: Kind::Number,
        help: "guest CPU budget per call, millions",
    },
    KeySpec {
        key: "limits.wall_time_secs",
        path: &["limits", "wall_time_secs"],
        kind: Kind::Number,
        help: "wall-clock budget per call, seconds",
    },
];

/// One line per key, for `--help`.
pub fn keys_help(specs: &[KeySpec]) -> String {
    specs
        .iter()
        .map(|s| format!("  {:<26} {}", s.key, s.help))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---- Reaching PCO and Rock -------------------------------------------------------------------

/// Why PCO or Rock could not be asked.
#[derive(Debug)]
pub enum Reach {
    /// The secret could not be read (not set, unreadable file): a configuration mistake.
    Secret(String),
    /// The credentials were refused: a configuration mistake.
    Refused(String),
    /// Anything else: the network, the service, the guest.
    Failed(String),
}

impl Reach {
    pub fn message(&self) -> &str {
        match self {
            Reach::Secret(m) | Reach::Refused(m) | Reach::Failed(m) => m,
        }
    }

    /// As an error: [`Usage`] (status 2) for the user's mistakes.
    pub fn into_error(self) -> anyhow::Error {
        match self {
            Reach::Secret(m) | Reach::Refused(m) => usage(m),
            Reach::Failed(m) => anyhow::anyhow!(m),
        }
    }
}

/// The account's real welcome templates and tags, asked of the guest (`choices`) with only
/// this account's credentials: read-only, two requests.
pub async fn choices(
    config: &Config,
    data_dir: &Path,
    account: &AccountConfig,
) -> Result<AccountChoices, Reach> {
    let name = &account.name;
    let pco = check_client(config, account)?;
    let capabilities = Capabilities {
        rock: Arc::new(crate::testing::Unreachable),
        pco: Arc::new(pco),
        state: Arc::new(crate::state::memory::MemoryState::default()),
        reporter: crate::testing::silent(),
    };
    let runtime = Runtime::new(config.limits()).map_err(|e| Reach::Failed(format!("{e:#}")))?;
    let guest = super::load_guest(&runtime, config, data_dir, None)
        .await
        .map_err(|e| Reach::Failed(format!("{e:#}")))?;
    match runtime
        .choices(&guest, &capabilities, &account.to_guest())
        .await
    {
        Ok(choices) => Ok(choices),
        Err(RunError::Guest(error)) if error.kind == ErrorKind::Unauthorized => {
            Err(Reach::Refused(error.message))
        }
        Err(RunError::Guest(error)) => Err(Reach::Failed(format!(
            "cannot read account \"{name}\" from Planning Center at {}: {}",
            config.pco.api_url, error.message
        ))),
        Err(error) => Err(Reach::Failed(format!(
            "cannot read account \"{name}\" from Planning Center: {error}"
        ))),
    }
}

/// An HTTP client for one account, quick to give up (a check, not a sync).
fn check_client(config: &Config, account: &AccountConfig) -> Result<HttpPco, Reach> {
    let secret = account
        .secret
        .resolve(&format!("account \"{}\" secret", account.name))
        .map_err(Reach::Secret)?;
    let endpoint = Endpoint {
        name: account.name.clone(),
        base_url: config.pco.api_url.clone(),
        upload_url: config.pco.upload_url.clone(),
        app_id: account.app_id.clone(),
        secret,
    };
    let options = HttpOptions {
        timeout: Duration::from_secs(20),
        attempts: 2,
        rate_limit_retries: 3,
        ..HttpOptions::default()
    };
    HttpPco::new(vec![endpoint], options).map_err(Reach::Secret)
}

/// Who the account's token belongs to and what they may do, from `GET /people/v2/me` and
/// `/services/v2/me` (issue 14.4).
pub struct TokenUser {
    pub name: String,
    pub site_administrator: bool,
    /// Accounting administrator (Giving): no People or Services rights of its own.
    pub accounting_administrator: bool,
    pub people: Option<String>,
    pub services: Option<String>,
}

impl TokenUser {
    /// "Jo Doe: organization administrator" or "Jo Doe: People Editor, Services Scheduler".
    pub fn describe(&self) -> String {
        let role = |r: &Option<String>| r.clone().unwrap_or_else(|| "no access".into());
        if self.site_administrator {
            format!("{}: organization administrator", self.name)
        } else {
            let accounting = if self.accounting_administrator {
                " (accounting administrator)"
            } else {
                ""
            };
            format!(
                "{}{accounting}: People {}, Services {}",
                self.name,
                role(&self.people),
                role(&self.services)
            )
        }
    }

    /// What the user lacks for a sync to write, with the fix (the guest refuses a run on the
    /// same rules: `pco_api::TokenRoles::refusal`).
    pub fn lacks(&self) -> Option<String> {
        if self.site_administrator {
            return None;
        }
        let people = self.people.as_deref().unwrap_or("").trim().to_lowercase();
        if people != "editor" && people != "manager" {
            return Some("needs Editor (or Manager) in PCO People to write people: give that user the role in People, or use another user's token".into());
        }
        let services = self.services.as_deref().unwrap_or("").trim().to_lowercase();
        if services != "administrator" {
            // Below Scheduler the sync refuses to write at all; a Scheduler or an Editor syncs
            // people, but PCO lets only a Services Administrator (or an organization
            // administrator) change Services permissions (issue 23), so the run holds every
            // raise, lowering, archive and new person's Services access, each flagged.
            let runs = if ["scheduler", "editor"].contains(&services.as_str()) {
                "a sync with this token updates people but changes no Services permission (raises, lowerings, archives and new people's Services access are held and reported)"
            } else {
                "a sync with this token writes nothing (below Scheduler PCO hides who is an organization administrator)"
            };
            return Some(format!(
                "needs Administrator in PCO Services: a sync needs an organization administrator, or People Editor (or Manager) and Services Administrator; {runs}. Give that user the role in Services, or use such a user's token"
            ));
        }
        None
    }

    /// Who the sync cannot edit with this token: an organization or accounting
    /// administrator's names, emails, phones and addresses need an organization
    /// administrator's token (planningcenter/developers#1139, #1096); None when it is one.
    pub fn administrators_note(&self) -> Option<String> {
        (!self.site_administrator).then(|| "is not an organization administrator: the names, emails, phones and addresses of PCO's organization and accounting administrators are not written (PCO refuses them); each such person is reported, for an edit in PCO".to_string())
    }
}

pub async fn token_user(config: &Config, account: &AccountConfig) -> Result<TokenUser, Reach> {
    use crate::bindings::pco::{Method, Request};
    use crate::pco::Pco;
    let pco = check_client(config, account)?;
    // Only what the check shows is asked for (sparse fieldsets): nothing else of the user
    // crosses into the host (R53).
    let me = |path: &str, version: &str, fields: &str| Request {
        method: Method::Get,
        path: path.into(),
        query: vec![("fields[Person]".into(), fields.into())],
        headers: vec![("X-PCO-API-Version".into(), version.into())],
        body: None,
    };
    let read =
        |body: &[u8]| -> serde_json::Value { serde_json::from_slice(body).unwrap_or_default() };
    let people = match pco
        .send(
            &account.name,
            &me(
                "/people/v2/me",
                "2023-03-21",
                "name,first_name,last_name,site_administrator,accounting_administrator,people_permissions",
            ),
        )
        .await
    {
        Ok(response) => read(&response.body),
        Err(error) if error.kind == ErrorKind::Unauthorized => {
            return Err(Reach::Refused(error.message));
        }
        Err(error) => return Err(Reach::Failed(error.message)),
    };
    let services = pco
        .send(
            &account.name,
            &me("/services/v2/me", "2018-11-01", "permissions"),
        )
        .await
        .ok()
        .map(|r| read(&r.body));
    let attributes = &people["data"]["attributes"];
    let text = |v: &serde_json::Value| {
        v.as_str()
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
    };
    Ok(TokenUser {
        name: text(&attributes["name"])
            .or_else(|| {
                let first = text(&attributes["first_name"])?;
                Some(format!(
                    "{first} {}",
                    text(&attributes["last_name"]).unwrap_or_default()
                ))
            })
            .unwrap_or_else(|| "(unnamed)".into()),
        site_administrator: attributes["site_administrator"].as_bool().unwrap_or(false),
        accounting_administrator: attributes["accounting_administrator"]
            .as_bool()
            .unwrap_or(false),
        people: text(&attributes["people_permissions"]),
        services: services.and_then(|s| text(&s["data"]["attributes"]["permissions"])),
    })
}

/// The PCO organization the account's credentials reach: its id, from `GET /people/v2`
/// (the organization itself; only its id crosses into the host).
pub async fn organization_id(config: &Config, account: &AccountConfig) -> Result<String, Reach> {
    use crate::bindings::pco::{Method, Request};
    use crate::pco::Pco;
    let pco = check_client(config, account)?;
    let request = Request {
        method: Method::Get,
        path: "/people/v2".into(),
        query: vec![("fields[Organization]".into(), "name".into())],
        headers: vec![],
        body: None,
    };
    let response = match pco.send(&account.name, &request).await {
        Ok(response) => response,
        Err(error) if error.kind == ErrorKind::Unauthorized => {
            return Err(Reach::Refused(error.message));
        }
        Err(error) => return Err(Reach::Failed(error.message)),
    };
    let document: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
    match &document["data"]["id"] {
        serde_json::Value::String(id) if !id.trim().is_empty() => Ok(id.trim().to_string()),
        serde_json::Value::Number(id) => Ok(id.to_string()),
        _ => Err(Reach::Failed(
            "PCO's answer for the organization has no id".into(),
        )),
    }
}

/// Two accounts that reach one PCO organization (R3: each account has its own people and its
/// own part of the shared "PCO Tags" attribute; issue 24 item 9): what to tell the user, for
/// each pair found among `(account, organization id)`.
pub fn same_organization(reached: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (index, (first, organization)) in reached.iter().enumerate() {
        for (second, other) in &reached[index + 1..] {
            if organization == other {
                found.push(format!(
                    "accounts \"{first}\" and \"{second}\" reach the same PCO organization (id {organization}): they would sync one set of people twice and overwrite each other's tags; keep one account per organization (remove one with `pcosync account remove`)"
                ));
            }
        }
    }
    found
}

/// Rock, reached with the configured key; quick to give up (a check, not a sync).
pub async fn connect_rock(config: &Config) -> Result<RestRock, Reach> {
    let Some(rock) = &config.rock else {
        return Err(Reach::Secret(
            "the configuration has no [rock] section: set it with `pcosync config set rock.url=https://rock.example.org rock.token_env=ROCK_REST_KEY`".into(),
        ));
    };
    let token = rock.token.resolve("rock token").map_err(Reach::Secret)?;
    let options = RestRockOptions {
        timeout: Duration::from_secs(15),
        attempts: 2,
        backoff_cap: Duration::from_secs(1),
        ..RestRockOptions::new(rock.url.clone(), token)
    };
    RestRock::connect(options).await.map_err(|error| {
        let message = format!("cannot connect to Rock at {}: {}", rock.url, error.message);
        if error.kind == ErrorKind::Unauthorized {
            Reach::Refused(format!(
                "{message}: check the REST key (`token` of [rock]; in Rock: Admin Tools > Security > REST Keys)"
            ))
        } else {
            Reach::Failed(format!(
                "{message}: check `url` of [rock] and that Rock is running"
            ))
        }
    })
}

/// Rock groups by id (those that exist), when Rock can be reached.
pub async fn rock_groups(
    config: &Config,
    ids: &[i64],
) -> Result<Vec<crate::bindings::rock::Group>, Reach> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rock = connect_rock(config).await?;
    rock.groups(ids)
        .await
        .map_err(|e| Reach::Failed(format!("cannot read groups from Rock: {}", e.message)))
}

/// Names of Rock groups by id, when Rock can be reached (for display only).
pub async fn rock_group_names(
    config: &Config,
    ids: &[i64],
) -> Result<std::collections::BTreeMap<i64, String>, Reach> {
    let groups = rock_groups(config, ids).await?;
    Ok(groups.into_iter().map(|g| (g.id, g.name)).collect())
}

/// Whether `named` (an entry of enabled_group_types) names `kind`, as the guest reads it (the
/// id, or the GUID or name in any case). For display and warnings; the guest decides.
pub fn names_type(named: &str, kind: &crate::bindings::rock::GroupType) -> bool {
    let named = named.trim();
    named == kind.id.to_string()
        || named.eq_ignore_ascii_case(&kind.guid)
        || named.eq_ignore_ascii_case(&kind.name)
}

/// Suggestions for a name not in `names`: the closest few.
pub fn suggest(name: &str, names: &[String]) -> String {
    let lower = name.to_lowercase();
    let mut scored: Vec<(f64, &String)> = names
        .iter()
        .map(|n| (strsim::jaro_winkler(&lower, &n.to_lowercase()), n))
        .filter(|(score, _)| *score > 0.7)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let best = scored.first().map_or(0.0, |(score, _)| *score);
    let near: Vec<String> = scored
        .iter()
        .take_while(|(score, _)| best - score < 0.04)
        .take(3)
        .map(|(_, n)| format!("\"{n}\""))
        .collect();
    if near.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", near.join(" or "))
    }
}

/// Prints a listing; a reader that went away (`| head`) ends it quietly instead of a panic.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", crate::ops::text::terminal_safe(text));
}

/// Plain-text columns.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                let pad = widths[i].saturating_sub(cell.chars().count()) + 2;
                out.push_str(cell);
                out.push_str(&" ".repeat(pad));
            }
        }
        out.trim_end().to_string()
    };
    let mut out = vec![line(headers.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n")
}

/// Where a secret is, in words (never the secret).
pub fn secret_place(secret: &SecretRef) -> String {
    match secret {
        SecretRef::Env(name) => format!("env {name}"),
        SecretRef::File(path) => format!("file {}", path.display()),
        SecretRef::Symlink(path) => format!("file linked from {}", path.display()),
    }
}

// ---- `pcosync config ...` --------------------------------------------------------------------

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Say which configuration file is used and where it came from.
    Path,
    /// Check the configuration: parse it, read every secret (never printed), and verify the
    /// credentials against Rock and Planning Center. One line per check with the fix; exit
    /// status 2 when anything fails.
    Check {
        /// Only parse and read the secrets; reach neither Rock nor PCO.
        #[arg(long)]
        offline: bool,
    },
    /// Set general keys, e.g. `pcosync config set rock.url=https://rock.example.org
    /// rock.token_env=ROCK_REST_KEY`. Creates the file when it does not exist.
    #[command(after_help = format!("Keys:\n{}\n\nAccount settings: `pcosync account edit NAME --set KEY=VALUE`.", keys_help(GENERAL_KEYS)))]
    Set {
        /// KEY=VALUE pairs.
        #[arg(required = true, value_name = "KEY=VALUE")]
        settings: Vec<String>,
    },
    /// Remove general keys (their defaults apply).
    Unset {
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
    },
}

impl ConfigCommand {
    /// Commands that work without an existing (or a valid) file.
    pub fn config_optional(&self) -> bool {
        matches!(
            self,
            ConfigCommand::Path | ConfigCommand::Check { .. } | ConfigCommand::Set { .. }
        )
    }
}

pub async fn run(
    location: &ConfigLocation,
    config: &Config,
    data_dir: &Path,
    command: ConfigCommand,
) -> anyhow::Result<ExitCode> {
    exit_status(match command {
        ConfigCommand::Path => {
            println!("{}", location.describe());
            if !location.exists() {
                println!("(it does not exist yet)");
            }
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Check { offline } => check(location, data_dir, offline).await,
        ConfigCommand::Set { settings } => {
            let pairs = settings
                .iter()
                .map(|s| split_assignment(s).map(|(k, v)| (k.to_string(), v.to_string())))
                .collect::<anyhow::Result<Vec<_>>>()?;
            set_general(location, &pairs, &[])
        }
        ConfigCommand::Unset { keys } => {
            let _ = config;
            set_general(location, &[], &keys)
        }
    })
}

fn set_general(
    location: &ConfigLocation,
    set: &[(String, String)],
    unset: &[String],
) -> anyhow::Result<ExitCode> {
    let mut edit = ConfigEdit::open(location, !set.is_empty())?;
    let changes = apply(
        edit.doc.as_table_mut(),
        GENERAL_KEYS,
        "`pcosync config set`",
        set,
        unset,
        true,
    )?;
    for change in changes {
        edit.note(change);
    }
    let config = edit.save()?;
    if config.rock.is_none() {
        println!(
            "Next: say where Rock is: `pcosync config set rock.url=https://rock.example.org rock.token_env=ROCK_REST_KEY`."
        );
    } else if config.accounts.is_empty() {
        println!(
            "Next: add a PCO account: `pcosync account add \"Main Campus\" --app-id APP_ID --secret-env PCO_SECRET`."
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One check's outcome.
struct Checks {
    failed: usize,
}

impl Checks {
    fn ok(&mut self, what: &str, detail: &str) {
        println!("ok      {what}: {detail}");
    }

    fn failed(&mut self, what: &str, why: &str) {
        self.failed += 1;
        println!("FAILED  {what}: {why}");
    }

    fn note(&mut self, what: &str, detail: &str) {
        println!("note    {what}: {detail}");
    }
}

/// One line per right the REST key lacks (issue 13 item 4), each with its fix.
async fn check_rock_rights(checks: &mut Checks, rock: &RestRock) {
    match rock.missing_rights(true).await {
        Ok(missing) if missing.is_empty() => {
            checks.ok(
                "rock rights",
                "the REST key may view and edit what the sync needs",
            );
        }
        Ok(missing) => {
            for line in missing {
                checks.failed("rock rights", &line);
            }
        }
        Err(error) => checks.failed(
            "rock rights",
            &format!("cannot check the REST key's rights: {}", error.message),
        ),
    }
}

async fn check(
    location: &ConfigLocation,
    data_dir: &Path,
    offline: bool,
) -> anyhow::Result<ExitCode> {
    let mut checks = Checks { failed: 0 };
    let config = match location.load() {
        Ok(Some(config)) => {
            checks.ok(
                "configuration",
                &format!(
                    "{} ({} account{})",
                    location.describe(),
                    config.accounts.len(),
                    if config.accounts.len() == 1 { "" } else { "s" }
                ),
            );
            config
        }
        Ok(None) => {
            checks.failed("configuration", &location.missing());
            return Ok(ExitCode::from(2));
        }
        Err(error) => {
            checks.failed("configuration", &error.to_string());
            return Ok(ExitCode::from(2));
        }
    };
    // The data directory: where the state will be (private to this user).
    match crate::state::private::open_data_dir(data_dir) {
        Ok(_) => checks.ok("data directory", &data_dir.display().to_string()),
        Err(e) => checks.failed(
            "data directory",
            &format!("{e:#} (set data_dir, or pass --data-dir)"),
        ),
    }
    if let Some(component) = &config.component {
        match std::fs::metadata(component) {
            Ok(_) => checks.ok("component", &component.display().to_string()),
            Err(e) => checks.failed(
                "component",
                &format!(
                    "cannot read {}: {e} (fix `component`, or remove it to run the built-in guest)",
                    component.display()
                ),
            ),
        }
    }
    // Rock.
    match &config.rock {
        None => checks.failed(
            "rock",
            "no [rock] section: set it with `pcosync config set rock.url=https://rock.example.org rock.token_env=ROCK_REST_KEY`",
        ),
        Some(rock) => match rock.token.resolve("rock token") {
            Err(why) => checks.failed(
                "rock token",
                why.strip_prefix("rock token: ").unwrap_or(&why),
            ),
            Ok(_) => {
                checks.ok("rock token", &format!("read from {}", secret_place(&rock.token)));
                if !offline {
                    match connect_rock(&config).await {
                        Ok(connected) => {
                            checks.ok("rock", &format!("connected to {}", rock.url));
                            check_rock_rights(&mut checks, &connected).await;
                        }
                        Err(why) => checks.failed("rock", why.message()),
                    }
                }
            }
        },
    }
    if config.accounts.is_empty() {
        checks.failed(
            "accounts",
            "none configured: add one with `pcosync account add NAME --app-id ID --secret-env VAR`",
        );
    }
    let mut organizations: Vec<(String, String)> = Vec::new();
    for account in &config.accounts {
        let what = format!("account \"{}\"", account.name);
        let label = format!("{what} secret");
        let secret = account.secret.resolve(&label);
        match &secret {
            Err(why) => {
                let why = why.strip_prefix(&format!("{label}: ")).unwrap_or(why);
                checks.failed(&label, why);
                continue;
            }
            Ok(_) => checks.ok(
                &format!("{what} secret"),
                &format!("read from {}", secret_place(&account.secret)),
            ),
        }
        if account.enabled_group_types.is_empty() {
            checks.note(
                &what,
                &format!(
                    "no group types enabled: no Rock group syncs, only people given the account's tags in the \"PCO Tags\" attribute (enable types with `pcosync group-types enable --account \"{}\" TYPE`)",
                    account.name
                ),
            );
        }
        if offline {
            continue;
        }
        let choices = match choices(&config, data_dir, account).await {
            Ok(choices) => {
                checks.ok(
                    &format!("{what} PCO"),
                    &format!(
                        "credentials accepted at {} ({} email templates, {} tags)",
                        config.pco.api_url,
                        choices.welcome_templates.len(),
                        choices.tags.len()
                    ),
                );
                choices
            }
            Err(why) => {
                checks.failed(&format!("{what} PCO"), why.message());
                continue;
            }
        };
        match token_user(&config, account).await {
            Ok(user) => {
                match user.lacks() {
                    None => checks.ok(&format!("{what} PCO user"), &user.describe()),
                    Some(why) => checks.failed(
                        &format!("{what} PCO user"),
                        &format!("{}: the token's user {why}", user.describe()),
                    ),
                }
                if let Some(note) = user.administrators_note() {
                    checks.note(
                        &format!("{what} PCO administrators"),
                        &format!("the token's user {note}"),
                    );
                }
            }
            Err(why) => checks.failed(&format!("{what} PCO user"), why.message()),
        }
        match organization_id(&config, account).await {
            Ok(id) => organizations.push((account.name.clone(), id)),
            Err(why) => checks.failed(&format!("{what} PCO organization"), why.message()),
        }
        match &account.welcome_template {
            Some(template) if choices.welcome_templates.contains(template) => checks.ok(
                &format!("{what} welcome_template"),
                &format!(
                    "\"{template}\": Planning Center's API cannot send it, so each run's report lists the people it created for you to send it from PCO Services"
                ),
            ),
            Some(template) => checks.failed(
                &format!("{what} welcome_template"),
                &format!(
                    "\"{template}\" is not one of the account's email templates{} (fix with `pcosync account edit \"{}\" --welcome-template NAME`; `pcosync account templates \"{}\"` lists them)",
                    suggest(template, &choices.welcome_templates),
                    account.name,
                    account.name
                ),
            ),
            None => checks.note(
                &format!("{what} welcome_template"),
                &format!(
                    "none: reports do not list the people the sync creates in PCO for a welcome email (choose one with `pcosync account edit \"{}\" --welcome-template NAME`; PCO's API cannot send it, you send it from Services)",
                    account.name
                ),
            ),
        }
        for mapping in &account.tag_groups {
            if !choices.tags.contains(&mapping.tag) {
                checks.failed(
                    &format!("{what} tag_groups"),
                    &format!(
                        "tag \"{}\" is not in PCO{} (fix with `pcosync tag unmap --account \"{}\" \"{}\"` and map the right one)",
                        mapping.tag,
                        suggest(&mapping.tag, &choices.tags),
                        account.name,
                        mapping.tag
                    ),
                );
            }
        }
        if !account.tag_groups.is_empty()
            && account
                .tag_groups
                .iter()
                .all(|m| choices.tags.contains(&m.tag))
        {
            checks.ok(
                &format!("{what} tag_groups"),
                &format!("{} mapped tags exist in PCO", account.tag_groups.len()),
            );
        }
    }
    for clash in same_organization(&organizations) {
        checks.failed("accounts", &clash);
    }
    if checks.failed > 0 {
        println!(
            "{} check{} failed",
            checks.failed,
            if checks.failed == 1 { "" } else { "s" }
        );
        Ok(ExitCode::from(2))
    } else {
        println!("all checks passed");
        Ok(ExitCode::SUCCESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMENTED: &str = r#"# Our church's pcosync.
data_dir = "/var/lib/pcosync"   # state lives here

[rock]
url = "http://127.0.0.1:9000"
token = { env = "ROCK_TOKEN" }

# The main campus: keep this one first.
[[accounts]]
name = "Main Campus"
app_id = "abc"
secret = { file = "/etc/pcosync/main.secret" }
allow_downgrade = true   # approved by the elders
enabled_group_types = ["Serving Team"]

[[accounts.tag_groups]]
tag = "Teams:Kids"
group_id = 210

[[accounts]]
name = "North"
app_id = "def"
secret = { env = "NORTH" }

[limits]
memory_mib = 512 # plenty
"#;

    fn edit_of(text: &str) -> (tempfile::TempDir, ConfigLocation) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pcosync.toml");
        std::fs::write(&path, text).unwrap();
        let location = ConfigLocation {
            path: Some(path),
            origin: Origin::Flag,
        };
        (dir, location)
    }

    // R31
    #[test]
    fn an_edit_keeps_every_comment_and_the_layout() {
        let (_dir, location) = edit_of(COMMENTED);
        let mut edit = ConfigEdit::open(&location, false).unwrap();
        let account = account_mut(&mut edit.doc, "Main Campus").unwrap();
        let changes = apply(
            account,
            crate::cli::account::ACCOUNT_KEYS,
            "test",
            &[
                ("allow_downgrade".into(), "false".into()),
                ("welcome_template".into(), "Volunteer Onboarding".into()),
            ],
            &[],
            false,
        )
        .unwrap();
        assert_eq!(
            changes,
            [
                "allow_downgrade = false (was true)",
                "welcome_template = \"Volunteer Onboarding\""
            ]
        );
        edit.save().unwrap();
        let text = std::fs::read_to_string(location.path.as_ref().unwrap()).unwrap();
        let expected = COMMENTED
            .replace(
                "allow_downgrade = true   # approved by the elders",
                "allow_downgrade = false   # approved by the elders",
            )
            .replace(
                "enabled_group_types = [\"Serving Team\"]\n",
                "enabled_group_types = [\"Serving Team\"]\nwelcome_template = \"Volunteer Onboarding\"\n",
            );
        assert_eq!(text, expected);
        let config = Config::parse(&text).unwrap();
        let main = config.account("Main Campus").unwrap();
        assert!(!main.allow_downgrade);
        assert_eq!(main.tag_groups[0].group_id, 210);
    }

    // R31
    #[test]
    fn an_invalid_edit_is_refused_and_the_file_is_untouched() {
        let (_dir, location) = edit_of(COMMENTED);
        let mut edit = ConfigEdit::open(&location, false).unwrap();
        let account = account_mut(&mut edit.doc, "North").unwrap();
        apply(
            account,
            crate::cli::account::ACCOUNT_KEYS,
            "test",
            &[("brake_percent".into(), "250".into())],
            &[],
            false,
        )
        .unwrap();
        let error = edit.save().unwrap_err();
        assert!(error.downcast_ref::<Usage>().is_some(), "{error}");
        let message = error.to_string();
        assert!(message.contains("brake_percent"), "{message}");
        assert!(message.contains("nothing was changed"), "{message}");
        assert_eq!(
            std::fs::read_to_string(location.path.as_ref().unwrap()).unwrap(),
            COMMENTED
        );
        // Unknown keys and values of the wrong kind never reach the file either.
        let mut edit = ConfigEdit::open(&location, false).unwrap();
        let account = account_mut(&mut edit.doc, "North").unwrap();
        let error = apply(
            account,
            crate::cli::account::ACCOUNT_KEYS,
            "`account edit`",
            &[("welcome_templat".into(), "x".into())],
            &[],
            false,
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("did you mean `welcome_template`"),
            "{error}"
        );
        let account = account_mut(&mut edit.doc, "North").unwrap();
        let error = apply(
            account,
            crate::cli::account::ACCOUNT_KEYS,
            "test",
            &[("updates_only".into(), "perhaps".into())],
            &[],
            false,
        )
        .unwrap_err();
        assert!(error.to_string().contains("true or false"), "{error}");
        assert!(account_mut(&mut edit.doc, "South").is_err());
    }

    #[test]
    fn the_write_is_atomic_and_keeps_the_files_mode() {
        let (dir, location) = edit_of("data_dir = \"/x\"\n");
        let path = location.path.clone().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        write_atomically(&path, "data_dir = \"/y\"\n", Some("data_dir = \"/x\"\n")).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "data_dir = \"/y\"\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o640);
        }
        // No temporary file is left beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["pcosync.toml"]);
        // A file changed by someone else meanwhile is not overwritten.
        let error = write_atomically(&path, "data_dir = \"/z\"\n", Some("data_dir = \"/x\"\n"))
            .unwrap_err();
        assert!(error.to_string().contains("changed while"), "{error}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "data_dir = \"/y\"\n"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_configuration_stays_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.toml");
        std::fs::write(&real, "").unwrap();
        let link = dir.path().join("pcosync.toml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomically(&link, "data_dir = \"/y\"\n", Some("")).unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(
            std::fs::read_to_string(&real).unwrap(),
            "data_dir = \"/y\"\n"
        );
    }

    #[test]
    fn general_keys_create_their_sections_and_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let location = ConfigLocation {
            path: Some(dir.path().join("sub").join("pcosync.toml")),
            origin: Origin::Default,
        };
        let mut edit = ConfigEdit::open(&location, true).unwrap();
        assert!(edit.is_new());
        let changes = apply(
            edit.doc.as_table_mut(),
            GENERAL_KEYS,
            "test",
            &[
                ("rock.url".into(), "https://rock.example.org".into()),
                ("rock.token_env".into(), "ROCK_KEY".into()),
                ("limits.memory_mib".into(), "256".into()),
            ],
            &[],
            true,
        )
        .unwrap();
        assert_eq!(changes.len(), 3);
        let config = edit.save().unwrap();
        assert_eq!(
            config.rock.unwrap().token,
            SecretRef::Env("ROCK_KEY".into())
        );
        let text = std::fs::read_to_string(location.path.as_ref().unwrap()).unwrap();
        assert!(text.starts_with("# pcosync configuration."), "{text}");
        assert!(
            text.contains(
                "[rock]\nurl = \"https://rock.example.org\"\ntoken = { env = \"ROCK_KEY\" }\n"
            ),
            "{text}"
        );
        // A secret is never accepted in place of a variable's name, nor repeated.
        let error = GENERAL_KEYS[3].value("hunter2 with spaces").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let token = "48416938ef0dcf6f8596845e7ea88ca14c71f30e";
        let error = GENERAL_KEYS[3].value(token).unwrap_err();
        assert!(
            error.to_string().contains("looks like the secret itself"),
            "{error}"
        );
        assert!(!error.to_string().contains(token), "{error}");
        assert!(GENERAL_KEYS[3].value("PCO_SECRET_MAIN_CAMPUS_2024").is_ok());
    }

    // R31: accounts written inline are edited in place too.
    #[test]
    fn inline_accounts_are_edited_in_place() {
        let text =
            "accounts = [{ name = \"A\", app_id = \"x\", secret = { env = \"S\" } }] # one\n";
        let (_dir, location) = edit_of(text);
        let mut edit = ConfigEdit::open(&location, false).unwrap();
        let account = account_mut(&mut edit.doc, "A").unwrap();
        apply(
            account,
            crate::cli::account::ACCOUNT_KEYS,
            "test",
            &[
                ("updates_only".into(), "yes".into()),
                ("import.viewer".into(), "12".into()),
            ],
            &[],
            false,
        )
        .unwrap();
        let config = edit.save().unwrap();
        let account = config.account("A").unwrap();
        assert!(account.updates_only);
        assert_eq!(account.import.as_ref().unwrap().groups.viewer, Some(12));
        let text = std::fs::read_to_string(location.path.as_ref().unwrap()).unwrap();
        assert!(text.ends_with("] # one\n"), "{text}");
        assert!(
            text.contains("import = { groups = { viewer = 12 } }"),
            "{text}"
        );
    }

    #[test]
    fn the_diff_shows_removed_and_added_lines() {
        assert_eq!(
            line_diff("a\nb\nc\n", "a\nB\nc\nd\n"),
            ["- b", "+ B", "+ d"]
        );
    }

    #[test]
    fn a_missing_file_says_where_it_looked_and_how_to_create_it() {
        let location = ConfigLocation {
            path: Some(PathBuf::from("/nowhere/pcosync.toml")),
            origin: Origin::Default,
        };
        let message = location.missing();
        assert!(
            message.contains("/nowhere/pcosync.toml (the default location)"),
            "{message}"
        );
        assert!(message.contains("pcosync account add"), "{message}");
        assert!(
            message.contains("--config FILE or PCOSYNC_CONFIG"),
            "{message}"
        );
    }
}
