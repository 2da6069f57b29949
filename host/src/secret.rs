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
    /// A file readable by its owner only (mode 0600 or stricter), named itself: a symbolic
    /// link is refused, since whoever can change the link chooses the secret.
    File(PathBuf),
    /// A file reached through a symbolic link, asked for explicitly (secrets mounted by an
    /// orchestrator, e.g. Kubernetes, are links into a versioned directory): the link is
    /// followed, and the file it leads to is held to the same owner and mode rules.
    Symlink(PathBuf),
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
            SecretRef::File(path) => read_private_file(path, what, false)?,
            SecretRef::Symlink(path) => read_private_file(path, what, true)?,
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
            SecretRef::Symlink(path) => format!("file linked from {}", path.display()),
        }
    }
}

/// Opens the file once (no symbolic link followed at its last component unless
/// `follow_symlink`), then checks the very file it opened: its owner (this user, or root) and
/// its mode (nobody else may read it). No race between a check and the read: both are on one
/// open file.
fn read_private_file(path: &Path, what: &str, follow_symlink: bool) -> Result<String, String> {
    use std::io::Read as _;
    let cannot = |e: std::io::Error| {
        format!(
            "{what}: cannot read the secret file {}: {e}",
            path.display()
        )
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Issue 24 item 19: opening a FIFO for reading waits for a writer, forever. Opened
    // without waiting, anything but a regular file is then refused below.
    #[cfg(unix)]
    {
        let nofollow = if follow_symlink { 0 } else { libc::O_NOFOLLOW };
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, nofollow | libc::O_NONBLOCK);
    }
    let mut file = options.open(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return format!(
                "{what}: the secret file {} is a symbolic link; name the file itself, or write `{{ symlink = \"{}\" }}` to follow it (for secrets an orchestrator mounts as links)",
                path.display(),
                path.display()
            );
        }
        cannot(e)
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let metadata = file.metadata().map_err(cannot)?;
        if !metadata.file_type().is_file() {
            return Err(format!(
                "{what}: the secret {} is not a regular file (a pipe, a device or a directory \
                 would never end or hold a secret); name a file",
                path.display()
            ));
        }
        let mode = metadata.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{what}: the secret file {} can be read by others (mode {mode:o}); run `chmod 600 {}`",
                path.display(),
                path.display()
            ));
        }
        let me = crate::state::private::effective_uid();
        if metadata.uid() != me && metadata.uid() != 0 {
            return Err(format!(
                "{what}: the secret file {} belongs to user {}, not to the user pcosync runs as \
                 ({me}), who could not keep it private; run `chown {me} {}`",
                path.display(),
                metadata.uid(),
                path.display()
            ));
        }
    }
    // A secret is a line; a file of more than this is not one (and is not read whole).
    const MAX_SECRET_BYTES: u64 = 64 * 1024;
    let mut text = String::new();
    (&mut file)
        .take(MAX_SECRET_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(cannot)?;
    if text.len() as u64 > MAX_SECRET_BYTES {
        return Err(format!(
            "{what}: the secret file {} is larger than {MAX_SECRET_BYTES} bytes: name the file \
             that holds the secret alone",
            path.display()
        ));
    }
    Ok(text)
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

    /// Issue 24 item 19 (R31): a secret path naming a FIFO is refused at once (it hung for a
    /// writer forever), as is any file that is not a regular one.
    #[cfg(unix)]
    #[test]
    fn a_secret_path_naming_a_fifo_is_refused_not_waited_on_issue_24_item_19_r31() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let (sender, answer) = std::sync::mpsc::channel();
        let secret = SecretRef::File(fifo.clone());
        std::thread::spawn(move || {
            let _ = sender.send(secret.resolve("account Main"));
        });
        let outcome = answer
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("reading a secret from a FIFO hung");
        let error = outcome.unwrap_err();
        assert!(error.contains("not a regular file"), "{error}");
        let error = SecretRef::File(dir.path().to_path_buf())
            .resolve("x")
            .unwrap_err();
        assert!(error.contains("not a regular file"), "{error}");
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
            SecretRef::File(path.clone()).resolve("x").unwrap().expose(),
            "s3cret"
        );
        // A link to it is refused: the file itself must be named.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let error = SecretRef::File(link.clone()).resolve("x").unwrap_err();
        assert!(error.contains("symbolic link"), "{error}");
        assert!(error.contains("symlink = "), "{error}");
        // Asked for, the link is followed, and the file it leads to is checked all the same.
        assert_eq!(
            SecretRef::Symlink(link.clone())
                .resolve("x")
                .unwrap()
                .expose(),
            "s3cret"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = SecretRef::Symlink(link).resolve("x").unwrap_err();
        assert!(error.contains("chmod 600"), "{error}");
    }
}
