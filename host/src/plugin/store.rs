//! The installed components, in `plugins/` inside the data directory (opened with cap-std:
//! nothing here can reach outside it).
//!
//! ```text
//! plugins/
//!   manifest.json        which component is current, which is previous (JSON, below)
//!   <sha256>.wasm        each component kept, named by its hash
//!   <sha256>.wasm.sig    its signature, when it came with one
//! ```
//!
//! Switching is one rename: the new component file is written (and synced) first, then a new
//! manifest is written to a temporary name, synced, and renamed over the old one. A crash at
//! any point leaves either the old manifest, naming files that are all still there, or the new
//! one: the component in service is always whole and checked.

use std::io::Write as _;

use cap_std::fs::Dir;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest's name.
pub const MANIFEST: &str = "manifest.json";
/// The directory inside the data directory.
pub const PLUGINS_DIR: &str = "plugins";
const FORMAT: u32 = 1;

/// One installed component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// sha256 of the component, hex; also its file name.
    pub sha256: String,
    /// The contract version it answered when it was installed.
    pub contract_version: String,
    /// When it was installed (RFC 3339, UTC).
    pub installed_at: String,
    /// The file name it was installed from (no directory).
    pub source: String,
    pub size: u64,
    /// The trusted key whose signature it carried (base64), if any was checked.
    #[serde(default)]
    pub signed_by: Option<String>,
}

impl Entry {
    pub fn file_name(&self) -> String {
        format!("{}.wasm", self.sha256)
    }

    pub fn signature_name(&self) -> String {
        format!("{}.wasm.sig", self.sha256)
    }

    /// `sha256 1a2b3c4d5e6f, contract 0.3.0, installed 2026-...Z from guest.wasm`.
    pub fn describe(&self) -> String {
        format!(
            "sha256 {}, contract {}, installed {} from {}",
            short(&self.sha256),
            self.contract_version,
            self.installed_at,
            self.source
        )
    }
}

/// The first 12 hex digits of a digest, as people compare them: the first 12 characters of
/// whatever a manifest holds, cut between characters (issue 24 item 18: a byte cut panicked).
pub fn short(digest: &str) -> &str {
    match digest.char_indices().nth(12) {
        Some((end, _)) => &digest[..end],
        None => digest,
    }
}

/// Which component is in service. `current: None` means the host's built-in component.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub current: Option<Entry>,
    /// What was current before the last install or rollback: what `rollback` returns to
    /// (`None`: the built-in component).
    pub previous: Option<Entry>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {action} in the plugins directory ({}/{PLUGINS_DIR}): {source}", .data_dir)]
    Io {
        action: String,
        data_dir: String,
        source: std::io::Error,
    },
    #[error(
        "the plugins manifest {}/{PLUGINS_DIR}/{MANIFEST} is unreadable ({reason}); install a \
         component again to rewrite it, or remove the file to go back to the built-in component",
        .data_dir
    )]
    BadManifest { data_dir: String, reason: String },
    #[error(
        "the installed component {} ({}/{PLUGINS_DIR}/{file}) is missing or damaged ({reason}); \
         run `pcosync plugin rollback`, or install it again",
        short(.sha256), .data_dir
    )]
    Damaged {
        sha256: String,
        data_dir: String,
        file: String,
        reason: String,
    },
}

pub struct PluginStore {
    dir: Dir,
    /// The data directory as the administrator knows it, for messages only.
    data_dir: String,
}

impl PluginStore {
    /// Opens `plugins/` in the data directory, creating it if needed.
    pub fn open(data_dir: &Dir, data_dir_name: &str) -> Result<PluginStore, StoreError> {
        let io = |action: &str| {
            let data_dir = data_dir_name.to_string();
            let action = action.to_string();
            move |source| StoreError::Io {
                action,
                data_dir,
                source,
            }
        };
        crate::state::private::create_dir(data_dir, PLUGINS_DIR)
            .map_err(io("create the directory"))?;
        let dir = data_dir.open_dir(PLUGINS_DIR).map_err(io("open it"))?;
        Ok(PluginStore {
            dir,
            data_dir: data_dir_name.to_string(),
        })
    }

    fn io(&self, action: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
        let (action, data_dir) = (action.into(), self.data_dir.clone());
        move |source| StoreError::Io {
            action,
            data_dir,
            source,
        }
    }

    /// The manifest; an empty one (the built-in component in service) when there is none.
    pub fn manifest(&self) -> Result<Manifest, StoreError> {
        let bytes = match self.dir.read(MANIFEST) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Manifest {
                    format: FORMAT,
                    ..Manifest::default()
                });
            }
            Err(error) => return Err(self.io(format!("read {MANIFEST}"))(error)),
        };
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| StoreError::BadManifest {
                data_dir: self.data_dir.clone(),
                reason: e.to_string(),
            })?;
        if manifest.format != FORMAT {
            return Err(StoreError::BadManifest {
                data_dir: self.data_dir.clone(),
                reason: format!(
                    "format {} is not the format {FORMAT} this host writes",
                    manifest.format
                ),
            });
        }
        Ok(manifest)
    }

    /// An installed component's bytes, checked against its hash.
    pub fn read(&self, entry: &Entry) -> Result<Vec<u8>, StoreError> {
        let damaged = |reason: String| StoreError::Damaged {
            sha256: entry.sha256.clone(),
            data_dir: self.data_dir.clone(),
            file: entry.file_name(),
            reason,
        };
        let bytes = self
            .dir
            .read(entry.file_name())
            .map_err(|e| damaged(e.to_string()))?;
        let digest = hex::encode(Sha256::digest(&bytes));
        if digest != entry.sha256 {
            return Err(damaged(format!("its sha256 is now {}", short(&digest))));
        }
        Ok(bytes)
    }

    /// An installed component's signature file, if it has one.
    pub fn signature(&self, entry: &Entry) -> Result<Option<String>, StoreError> {
        match self.dir.read_to_string(entry.signature_name()) {
            Ok(text) => Ok(Some(text)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(self.io(format!("read {}", entry.signature_name()))(error)),
        }
    }

    /// Keeps a component (and its signature) under its hash. Not yet in service: see
    /// [`PluginStore::switch`].
    pub fn add(
        &self,
        entry: &Entry,
        wasm: &[u8],
        signature: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write_atomically(&entry.file_name(), wasm)?;
        match signature {
            Some(text) => self.write_atomically(&entry.signature_name(), text.as_bytes())?,
            None => match self.dir.remove_file(entry.signature_name()) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(self.io(format!("remove {}", entry.signature_name()))(error));
                }
            },
        }
        Ok(())
    }

    /// Puts `manifest` in service, atomically, then removes the files it no longer names.
    pub fn switch(&self, manifest: &Manifest) -> Result<(), StoreError> {
        let mut manifest = manifest.clone();
        manifest.format = FORMAT;
        let json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        self.write_atomically(MANIFEST, &json)?;
        self.prune(&manifest);
        Ok(())
    }

    /// Writes `name` whole or not at all: temporary file, fsync, rename, fsync of the directory.
    fn write_atomically(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let partial = format!("{name}.partial-{}", std::process::id());
        let mut options = crate::state::private::file_options();
        options.truncate(true);
        let mut file = self
            .dir
            .open_with(&partial, &options)
            .map_err(self.io(format!("create {partial}")))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(self.io(format!("write {partial}")))?;
        drop(file);
        self.dir
            .rename(&partial, &self.dir, name)
            .map_err(self.io(format!("rename {partial} to {name}")))?;
        // Make the rename itself durable. Not every platform can sync a directory; the rename
        // is atomic either way.
        if let Ok(dir) = self.dir.open(".") {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Removes components neither current nor previous, and leftovers of interrupted writes.
    fn prune(&self, manifest: &Manifest) {
        let keep: Vec<String> = [&manifest.current, &manifest.previous]
            .into_iter()
            .flatten()
            .flat_map(|e| [e.file_name(), e.signature_name()])
            .chain([MANIFEST.to_string()])
            .collect();
        let Ok(entries) = self.dir.entries() else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours =
                name.ends_with(".wasm") || name.ends_with(".sig") || name.contains(".partial-");
            if ours && !keep.contains(&name) {
                let _ = self.dir.remove_file(&name);
            }
        }
    }
}
