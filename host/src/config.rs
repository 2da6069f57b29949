//! The configuration file (TOML): where the data lives, which guest runs, and its limits.
//!
//! Unknown keys are errors: a misspelt setting silently ignored is a setting the church thinks
//! it has and doesn't.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::runtime::Limits;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directory holding the state file and the compiled-component cache.
    pub data_dir: Option<PathBuf>,
    /// A guest component to run instead of the one built into this host.
    pub component: Option<PathBuf>,
    #[serde(default)]
    pub limits: LimitsConfig,
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
        Ok(config)
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
