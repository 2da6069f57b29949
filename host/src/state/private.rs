//! The data directory is private to the user pcosync runs as: it holds every synced person's
//! contact details, the audit of every write, and native code (the compiled cache).
//!
//! - The directory is created 0700, and every file pcosync creates in it 0600.
//! - Each time the directory is opened, whatever is in it (a directory made by an older
//!   pcosync, a file an administrator copied in) is tightened to the same modes, and an entry
//!   owned by another user is reported: the owner can widen its mode again, so tightening alone
//!   does not make it private.
//! - Symbolic links are never followed or changed here.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context;
use cap_std::ambient_authority;
use cap_std::fs::Dir;

/// Mode of the data directory and of every directory in it.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file in the data directory.
pub const FILE_MODE: u32 = 0o600;

/// Opens the data directory at `path`, creating it (0700) if needed, and tightens what is in it.
pub fn open_data_dir(path: &Path) -> anyhow::Result<Dir> {
    create_ambient_dir(path)
        .with_context(|| format!("cannot create the data directory {}", path.display()))?;
    let dir = Dir::open_ambient_dir(path, ambient_authority())
        .with_context(|| format!("cannot open the data directory {}", path.display()))?;
    tighten_ambient(path);
    tighten_tree(&dir, path);
    Ok(dir)
}

/// Creates `name` (and its parents) inside `dir`, 0700.
pub fn create_dir(dir: &Dir, name: impl AsRef<Path>) -> std::io::Result<()> {
    let mut builder = cap_std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use cap_std::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    dir.create_dir_with(name, &builder)
}

/// Options that create a file 0600 (for writing; add `create_new` or `truncate` as needed).
pub fn file_options() -> cap_std::fs::OpenOptions {
    let mut options = cap_std::fs::OpenOptions::new();
    options.write(true).create(true);
    #[cfg(unix)]
    {
        use cap_std::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options
}

/// Writes `bytes` to a new file `name` in `dir` (0600), replacing any file of that name.
pub fn write(dir: &Dir, name: impl AsRef<Path>, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = file_options();
    options.truncate(true);
    let mut file = dir.open_with(name, &options)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Creates an empty file `name` 0600 unless it exists (so a library that opens it afterwards,
/// such as SQLite, finds it private instead of creating it under the process umask).
pub fn create_file(dir: &Dir, name: impl AsRef<Path>) -> std::io::Result<()> {
    dir.open_with(name, &file_options()).map(drop)
}

fn create_ambient_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(path)
}

/// The data directory itself (its parent is not ours to open through cap-std).
fn tighten_ambient(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let Ok(metadata) = std::fs::metadata(path) else {
            return;
        };
        warn_foreign_owner(metadata.uid(), path);
        let mode = metadata.mode() & 0o7777;
        if mode & 0o077 != 0 {
            match std::fs::set_permissions(path, std::fs::Permissions::from_mode(DIR_MODE)) {
                Ok(()) => tracing::warn!(
                    "the data directory {} was open to other users (mode {mode:o}): now {DIR_MODE:o}",
                    path.display()
                ),
                Err(error) => tracing::warn!(
                    "the data directory {} is open to other users (mode {mode:o}) and cannot be \
                     tightened ({error}): run `chmod 700 {}`",
                    path.display(),
                    path.display()
                ),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Tightens every entry of `dir`, recursively; `shown` is its path, for messages.
pub fn tighten_tree(dir: &Dir, shown: &Path) {
    let Ok(entries) = dir.entries() else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        let path = shown.join(&name);
        if metadata.is_symlink() {
            continue;
        }
        let wanted = if metadata.is_dir() {
            DIR_MODE
        } else {
            FILE_MODE
        };
        tighten_entry(dir, &name, &metadata, wanted, &path);
        if metadata.is_dir()
            && let Ok(child) = dir.open_dir(&name)
        {
            tighten_tree(&child, &path);
        }
    }
}

#[cfg(unix)]
fn tighten_entry(
    dir: &Dir,
    name: &std::ffi::OsStr,
    metadata: &cap_std::fs::Metadata,
    wanted: u32,
    path: &Path,
) {
    use cap_std::fs::{MetadataExt, PermissionsExt};
    warn_foreign_owner(metadata.uid(), path);
    let mode = metadata.mode() & 0o7777;
    if mode & !wanted == 0 {
        return;
    }
    let permissions = cap_std::fs::Permissions::from_mode(mode & wanted);
    match dir.set_permissions(name, permissions) {
        Ok(()) => tracing::info!(
            "{} was open to other users (mode {mode:o}): now {:o}",
            path.display(),
            mode & wanted
        ),
        Err(error) => tracing::warn!(
            "{} is open to other users (mode {mode:o}) and cannot be tightened ({error}): run \
             `chmod {wanted:o} {}`",
            path.display(),
            path.display()
        ),
    }
}

#[cfg(not(unix))]
fn tighten_entry(_: &Dir, _: &std::ffi::OsStr, _: &cap_std::fs::Metadata, _: u32, _: &Path) {}

#[cfg(unix)]
fn warn_foreign_owner(owner: u32, path: &Path) {
    if let Some(warning) = foreign_owner_warning(owner, effective_uid(), path) {
        tracing::warn!("{warning}");
    }
}

/// What to say when `path`, owned by `owner`, is used by a pcosync running as `me`: its owner
/// can read it and widen its mode again, whatever pcosync tightens. Root is no such risk (it
/// reads everything anyway); a pcosync run as root on a service user's directory is.
#[cfg(unix)]
fn foreign_owner_warning(owner: u32, me: u32, path: &Path) -> Option<String> {
    (owner != me && owner != 0).then(|| {
        format!(
            "{} belongs to user {owner}, not to the user pcosync runs as ({me}): that user can \
             read and change pcosync's state; run `chown -R {me} {}`",
            path.display(),
            path.display()
        )
    })
}

/// The user this process acts as.
#[cfg(unix)]
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }

    // R53: contact data at rest is readable by its owner only.
    #[test]
    fn a_new_data_directory_is_private() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("data");
        let dir = open_data_dir(&path).unwrap();
        assert_eq!(mode(&path), 0o700);
        create_dir(&dir, "compiled/inner").unwrap();
        assert_eq!(mode(&path.join("compiled")), 0o700);
        assert_eq!(mode(&path.join("compiled/inner")), 0o700);
        write(&dir, "file", b"x").unwrap();
        assert_eq!(mode(&path.join("file")), 0o600);
        create_file(&dir, "empty").unwrap();
        assert_eq!(mode(&path.join("empty")), 0o600);
    }

    // Issue 16 item 1, R53: a file of another user is reported, whoever pcosync runs as.
    #[test]
    fn a_file_of_another_user_is_reported_with_the_fix() {
        let path = Path::new("/var/lib/pcosync/state.sqlite");
        let warning = foreign_owner_warning(1000, 1001, path).expect("another user's file");
        assert!(warning.contains("belongs to user 1000"), "{warning}");
        assert!(
            warning.contains("chown -R 1001 /var/lib/pcosync/state.sqlite"),
            "{warning}"
        );
        assert!(
            foreign_owner_warning(1000, 0, path).is_some(),
            "run as root on a service user's directory"
        );
        assert_eq!(foreign_owner_warning(1000, 1000, path), None);
        assert_eq!(foreign_owner_warning(0, 1000, path), None, "root's file");
    }

    #[test]
    fn an_existing_data_directory_is_tightened_and_links_are_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("data");
        std::fs::create_dir_all(path.join("plugins")).unwrap();
        std::fs::write(path.join("state.sqlite"), b"").unwrap();
        std::fs::write(path.join("plugins/a.wasm"), b"").unwrap();
        let outside = root.path().join("outside");
        std::fs::write(&outside, b"").unwrap();
        std::os::unix::fs::symlink(&outside, path.join("link")).unwrap();
        for (file, bits) in [
            (path.clone(), 0o755),
            (path.join("plugins"), 0o777),
            (path.join("state.sqlite"), 0o644),
            (path.join("plugins/a.wasm"), 0o666),
            (outside.clone(), 0o644),
        ] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(bits)).unwrap();
        }
        open_data_dir(&path).unwrap();
        assert_eq!(mode(&path), 0o700);
        assert_eq!(mode(&path.join("plugins")), 0o700);
        assert_eq!(mode(&path.join("state.sqlite")), 0o600);
        assert_eq!(mode(&path.join("plugins/a.wasm")), 0o600);
        assert_eq!(
            mode(&outside),
            0o644,
            "a link's target is not ours to change"
        );
    }
}
