//! Secrets: named in the configuration by reference, read at start, never printed.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Where a secret lives. The configuration never holds the secret itself.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum SecretRef {
    /// An environment variable of the host process.
    Env(String),
    /// A file readable by its owner only (mode 0600 or stricter).
    File(PathBuf),
}

/// A secret value. Its `Debug` and `Display` print `[redacted]`, so it cannot leak through a
/// log line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that needs it (an Authorization header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl SecretRef {
    /// Reads the secret; the error says where it looked and what to do, never the value.
    pub fn resolve(&self, what: &str) -> Result<Secret, String> {
        let value = match self {
            SecretRef::Env(name) => std::env::var(name).map_err(|_| {
                format!("{what}: the environment variable {name} is not set (export it, or point to a file with `{{ file = \"...\" }}`)")
            })?,
            SecretRef::File(path) => read_private_file(path, what)?,
        };
        let value = value.trim().to_string();
        if value.is_empty() {
            return Err(format!(
                "{what}: the secret at {} is empty",
                self.describe()
            ));
        }
        Ok(Secret(value))
    }

    fn describe(&self) -> String {
        match self {
            SecretRef::Env(name) => format!("environment variable {name}"),
            SecretRef::File(path) => format!("file {}", path.display()),
        }
    }
}

fn read_private_file(path: &Path, what: &str) -> Result<String, String> {
    let metadata = std::fs::metadata(path).map_err(|e| {
        format!(
            "{what}: cannot read the secret file {}: {e}",
            path.display()
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{what}: the secret file {} can be read by others (mode {mode:o}); run `chmod 600 {}`",
                path.display(),
                path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = metadata;
    std::fs::read_to_string(path).map_err(|e| {
        format!(
            "{what}: cannot read the secret file {}: {e}",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_its_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret} {secret:?}"), "[redacted] [redacted]");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn a_missing_environment_variable_is_named_in_the_error() {
        let error = SecretRef::Env("PCOSYNC_TEST_SURELY_UNSET".into())
            .resolve("account Main")
            .unwrap_err();
        assert!(error.contains("PCOSYNC_TEST_SURELY_UNSET"), "{error}");
        assert!(error.contains("account Main"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_file_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = SecretRef::File(path.clone())
            .resolve("account Main")
            .unwrap_err();
        assert!(error.contains("chmod 600"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            SecretRef::File(path).resolve("x").unwrap().expose(),
            "s3cret"
        );
    }
}
