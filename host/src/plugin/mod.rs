//! The guest component's lifecycle: install, list, roll back, sign.
//!
//! A component is put in service only after it passed everything [`Runtime::load`] checks (it
//! compiles, fits the contract, answers a contract version this host accepts, passes its
//! self-check) and, when the configuration asks, its signature ([`signature`]). It is kept in
//! the data directory with the previous one ([`store`]), and switched in with one atomic
//! rename: a component that fails any check, or an install that crashes half way, leaves the
//! component in service as it was.
//!
//! Which component runs ([`resolve`]): the configuration's `component` if it names one, else
//! the installed current one, else the one built into this host. Every run resolves it again,
//! so the daemon picks up an install at its next run without a restart.

pub mod signature;
pub mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::runtime::cache::CompileCache;
use crate::runtime::{Guest, LoadError, Runtime};
use crate::state::lock::{self, LockError, Locks};
use signature::{PublicKey, SignatureError};
use store::{Entry, Manifest, PluginStore, StoreError, short};

/// `[plugins]` in the configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(try_from = "RawPluginsConfig")]
pub struct PluginsConfig {
    /// Public keys (ed25519, base64 or hex) whose signatures this host trusts.
    pub trusted_keys: Vec<PublicKey>,
    /// Install only components signed by one of `trusted_keys`.
    pub require_signature: bool,
    /// Where the compile cache's key is kept, outside the data directory (issue 24 item 17).
    /// With `require_signature` and no such file, the data directory's cache is not used.
    pub cache_key_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPluginsConfig {
    #[serde(default)]
    trusted_keys: Vec<PublicKey>,
    #[serde(default)]
    require_signature: bool,
    #[serde(default)]
    cache_key_file: Option<PathBuf>,
}

impl TryFrom<RawPluginsConfig> for PluginsConfig {
    type Error = String;

    fn try_from(raw: RawPluginsConfig) -> Result<Self, String> {
        if raw.require_signature && raw.trusted_keys.is_empty() {
            return Err(SignatureError::NoTrustedKeys.to_string());
        }
        if let Some(path) = &raw.cache_key_file
            && !path.is_absolute()
        {
            return Err(format!(
                "plugins.cache_key_file must be an absolute path (outside the data directory), not {}",
                path.display()
            ));
        }
        Ok(PluginsConfig {
            trusted_keys: raw.trusted_keys,
            require_signature: raw.require_signature,
            cache_key_file: raw.cache_key_file,
        })
    }
}

/// Why a plugin command did nothing. Every message names what it refused and what to do.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("{file} was not installed: {reason}. {in_service}")]
    Refused {
        file: String,
        reason: Refusal,
        /// Which component stays in service.
        in_service: String,
    },
    #[error("cannot read {file}: {source}")]
    Unreadable {
        file: String,
        source: std::io::Error,
    },
    #[error(
        "nothing to roll back: the built-in component is in service and no component was \
         installed before"
    )]
    NothingToRollBack,
    #[error("cannot roll back to {target}: {reason}. {in_service}")]
    RollbackRefused {
        target: String,
        reason: Refusal,
        in_service: String,
    },
    #[error(
        "the installed component {sha} cannot be used: {reason}. Run `pcosync plugin \
         rollback`, or install a component this host accepts"
    )]
    InstalledUnusable { sha: String, reason: Refusal },
    #[error(
        "the configured component {file} cannot be used: {reason}. Sign it (`pcosync plugin \
         sign`, which writes {file}.sig), or point `component` at a component signed by a \
         trusted key"
    )]
    ConfiguredUnusable { file: String, reason: Refusal },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Locked(#[from] LockError),
    #[error("{0}")]
    Other(String),
}

/// What a component failed.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

/// Where the component of a run comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuestSource {
    /// The configuration's `component`.
    Configured(PathBuf),
    /// The installed current component.
    Installed(Entry),
    /// The component built into this host.
    BuiltIn,
}

impl std::fmt::Display for GuestSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GuestSource::Configured(path) => {
                write!(f, "the configured component {}", path.display())
            }
            GuestSource::Installed(entry) => {
                write!(f, "the installed component ({})", entry.describe())
            }
            GuestSource::BuiltIn => f.write_str("the built-in component"),
        }
    }
}

/// The bytes of the component a run should use, and where they come from (see the module
/// docs). An installed component is checked against its hash, and against its signature when
/// the configuration requires signatures.
pub fn resolve(config: &Config, data_dir: &Dir) -> Result<(GuestSource, Vec<u8>), PluginError> {
    match &config.component {
        Some(path) => Ok((
            GuestSource::Configured(path.clone()),
            read_configured(&config.plugins, path)?,
        )),
        None => resolve_installed(&config.plugins, data_dir),
    }
}

/// The configuration's `component = PATH`, checked against its signature (`PATH.sig`) like an
/// installed one: required when `require_signature`, checked when one is beside it and keys
/// are trusted.
pub fn read_configured(plugins: &PluginsConfig, path: &Path) -> Result<Vec<u8>, PluginError> {
    let file = path.display().to_string();
    let bytes = read_file(path).map_err(|source| PluginError::Unreadable {
        file: file.clone(),
        source,
    })?;
    let signature_file = signature_path(path);
    let signature = match read_file(&signature_file) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(PluginError::Unreadable {
                file: signature_file.display().to_string(),
                source,
            });
        }
    };
    check_signature(plugins, &file, &bytes, signature.as_deref()).map_err(|e| {
        PluginError::ConfiguredUnusable {
            file: file.clone(),
            reason: e.into(),
        }
    })?;
    Ok(bytes)
}

/// The installed current component, else the built-in one.
pub fn resolve_installed(
    plugins: &PluginsConfig,
    data_dir: &Dir,
) -> Result<(GuestSource, Vec<u8>), PluginError> {
    let store = PluginStore::open(data_dir, "the data directory")?;
    let Some(entry) = store.manifest()?.current else {
        return Ok((GuestSource::BuiltIn, crate::DEFAULT_GUEST.to_vec()));
    };
    let bytes = store.read(&entry)?;
    if plugins.require_signature {
        let text = store.signature(&entry)?;
        check_signature(plugins, &entry.source, &bytes, text.as_deref()).map_err(|e| {
            PluginError::InstalledUnusable {
                sha: short(&entry.sha256).to_string(),
                reason: e.into(),
            }
        })?;
    }
    Ok((GuestSource::Installed(entry), bytes))
}

/// The bytes of the installed current component, else of the built-in one (for
/// `cli::load_guest`, when neither the command line nor the configuration names a component).
pub fn installed_or_builtin(config: &Config, data_dir: &Dir) -> anyhow::Result<Vec<u8>> {
    let (source, bytes) = resolve_installed(&config.plugins, data_dir)?;
    tracing::debug!("running {source}");
    Ok(bytes)
}

/// What an install did.
#[derive(Debug)]
pub struct Installed {
    pub entry: Entry,
    /// What was in service before.
    pub replaced: Option<Entry>,
    /// Whether the component was compiled now (false: the same component was compiled before).
    pub compiled: bool,
    /// A signature was beside the file but not checked (no trusted keys configured).
    pub signature_unchecked: bool,
    /// It was already the current component: nothing changed.
    pub unchanged: bool,
}

/// Checks `file` (and `file`.sig) and, if it passes, puts it in service.
pub async fn install(
    runtime: &Runtime,
    config: &PluginsConfig,
    data_dir: &Path,
    file: &Path,
) -> Result<Installed, PluginError> {
    let dir = open_dir(data_dir)?;
    let store = PluginStore::open(&dir, &data_dir.display().to_string())?;
    let _guard = lock_plugins(data_dir)?;
    let manifest = store.manifest()?;
    let name = file.display().to_string();
    let refused = |reason: Refusal| PluginError::Refused {
        file: name.clone(),
        reason,
        in_service: in_service(&manifest),
    };

    let wasm = read_file(file).map_err(|source| PluginError::Unreadable {
        file: name.clone(),
        source,
    })?;
    let signature_path = signature_path(file);
    let signature = match read_file(&signature_path) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(PluginError::Unreadable {
                file: signature_path.display().to_string(),
                source,
            });
        }
    };
    let signed_by = check_signature(config, &name, &wasm, signature.as_deref())
        .map_err(|e| refused(e.into()))?;

    let cache = compile_cache(config, &dir).map_err(|e| {
        PluginError::Other(format!(
            "cannot open the compile cache in {}: {e}",
            data_dir.display()
        ))
    })?;
    let guest = runtime
        .load(&wasm, cache.as_ref())
        .await
        .map_err(|e| refused(e.into()))?;

    let entry = Entry {
        sha256: guest.digest.clone(),
        contract_version: guest.contract_version.clone(),
        installed_at: crate::state::lock::rfc3339(crate::state::lock::now()),
        source: file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.clone()),
        size: wasm.len() as u64,
        signed_by: signed_by.as_ref().map(PublicKey::to_base64),
    };
    let unchanged = manifest
        .current
        .as_ref()
        .is_some_and(|current| current.sha256 == entry.sha256);
    if unchanged {
        return Ok(Installed {
            entry: manifest.current.clone().unwrap_or(entry),
            replaced: manifest.current.clone(),
            compiled: !guest.from_cache,
            signature_unchecked: false,
            unchanged: true,
        });
    }
    let kept_signature = if signed_by.is_some() {
        signature.as_deref()
    } else {
        None
    };
    store.add(&entry, &wasm, kept_signature)?;
    store.switch(&Manifest {
        format: 0,
        current: Some(entry.clone()),
        previous: manifest.current.clone(),
    })?;
    Ok(Installed {
        entry,
        replaced: manifest.current,
        compiled: !guest.from_cache,
        signature_unchecked: signature.is_some() && signed_by.is_none(),
        unchanged: false,
    })
}

/// Puts the previous component back in service (the built-in one when there was none before),
/// after checking it still loads here. The component rolled back from becomes the previous
/// one, so a second rollback undoes the first.
pub async fn rollback(
    runtime: &Runtime,
    config: &PluginsConfig,
    data_dir: &Path,
) -> Result<Manifest, PluginError> {
    let dir = open_dir(data_dir)?;
    let store = PluginStore::open(&dir, &data_dir.display().to_string())?;
    let _guard = lock_plugins(data_dir)?;
    let manifest = store.manifest()?;
    if manifest.current.is_none() && manifest.previous.is_none() {
        return Err(PluginError::NothingToRollBack);
    }
    if let Some(target) = &manifest.previous {
        let refused = |reason: Refusal| PluginError::RollbackRefused {
            target: target.describe(),
            reason,
            in_service: in_service(&manifest),
        };
        let wasm = store.read(target)?;
        if config.require_signature {
            let text = store.signature(target)?;
            check_signature(config, &target.source, &wasm, text.as_deref())
                .map_err(|e| refused(e.into()))?;
        }
        let cache = compile_cache(config, &dir).ok().flatten();
        runtime
            .load(&wasm, cache.as_ref())
            .await
            .map_err(|e| refused(e.into()))?;
    }
    let next = Manifest {
        format: 0,
        current: manifest.previous.clone(),
        previous: manifest.current.clone(),
    };
    store.switch(&next)?;
    store.manifest().map_err(PluginError::from)
}

/// The manifest as it stands.
pub fn list(data_dir: &Path) -> Result<Manifest, PluginError> {
    let dir = open_dir(data_dir)?;
    Ok(PluginStore::open(&dir, &data_dir.display().to_string())?.manifest()?)
}

/// Loads the component a run should use (see [`resolve`]) through the compile cache, reusing
/// `loaded` when it is that same component: what the daemon does before every run.
pub async fn load_current(
    runtime: &Runtime,
    config: &Config,
    data_dir: &Path,
    loaded: Option<Guest>,
) -> Result<(GuestSource, Guest), PluginError> {
    let dir = open_dir(data_dir)?;
    let (source, wasm) = resolve(config, &dir)?;
    let digest = hex::encode(Sha256::digest(&wasm));
    if let Some(guest) = loaded
        && guest.digest == digest
    {
        return Ok((source, guest));
    }
    let cache = compile_cache(&config.plugins, &dir).ok().flatten();
    let guest = runtime
        .load(&wasm, cache.as_ref())
        .await
        .map_err(|e| match &source {
            GuestSource::Installed(entry) => PluginError::InstalledUnusable {
                sha: short(&entry.sha256).to_string(),
                reason: e.into(),
            },
            other => PluginError::Other(format!("{other} cannot be used: {e}")),
        })?;
    Ok((source, guest))
}

/// The compile cache of `data_dir` as `plugins` allows it (issue 24 item 17). Its entries are
/// native code, trusted when their HMAC verifies; a key kept in the data directory protects
/// them only from who cannot write there, since whoever plants an entry can plant its key.
/// - `cache_key_file` set: the key lives there (made there, 0600, on first use), outside what
///   it protects.
/// - `require_signature` without it: no cache (`None`): the signed component is compiled from
///   its verified bytes at each load, so no native code is taken from the data directory.
/// - Otherwise the key beside the cache, as before.
pub fn compile_cache(
    plugins: &PluginsConfig,
    data_dir: &Dir,
) -> std::io::Result<Option<CompileCache>> {
    match &plugins.cache_key_file {
        Some(key_file) => {
            CompileCache::open_with_key_file(data_dir, "compiled", key_file).map(Some)
        }
        None if plugins.require_signature => {
            tracing::debug!(
                "compiling the component without the cache: with require_signature the cache \
                 needs plugins.cache_key_file, a key outside the data directory"
            );
            Ok(None)
        }
        None => CompileCache::open(data_dir, "compiled").map(Some),
    }
}

/// Checks the signature of `wasm` (`file`, as named to the administrator) as `config` asks:
/// required, or checked when one came with the file and keys are configured. Answers the
/// trusted key that signed it, if one was checked.
pub fn check_signature(
    config: &PluginsConfig,
    file: &str,
    wasm: &[u8],
    signature: Option<&str>,
) -> Result<Option<PublicKey>, SignatureError> {
    match signature {
        None if config.require_signature => Err(SignatureError::Unsigned {
            file: file.to_string(),
        }),
        None => Ok(None),
        Some(_) if config.trusted_keys.is_empty() => Ok(None),
        Some(text) => signature::verify(file, wasm, text, &config.trusted_keys).map(Some),
    }
}

/// `FILE.sig` beside `FILE`.
pub fn signature_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// Reads a file the administrator named, through a cap-std handle on its directory.
pub fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let (dir, name) = parent_and_name(path)?;
    dir.read(name)
}

/// Writes a file the administrator named (mode 600 when `private`), refusing to replace an
/// existing one when `create_new`.
pub fn write_file(
    path: &Path,
    bytes: &[u8],
    private: bool,
    create_new: bool,
) -> std::io::Result<()> {
    use std::io::Write as _;
    let (dir, name) = parent_and_name(path)?;
    let mut options = cap_std::fs::OpenOptions::new();
    options.write(true);
    if create_new {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    #[cfg(unix)]
    if private {
        use cap_std::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = dir.open_with(name, &options)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn parent_and_name(path: &Path) -> std::io::Result<(Dir, &std::ffi::OsStr)> {
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    Ok((Dir::open_ambient_dir(parent, ambient_authority())?, name))
}

fn open_dir(data_dir: &Path) -> Result<Dir, PluginError> {
    crate::state::private::open_data_dir(data_dir).map_err(|e| PluginError::Other(format!("{e:#}")))
}

/// One install or rollback at a time, across processes: the lock lives in the state file.
fn lock_plugins(data_dir: &Path) -> Result<lock::LockGuard, PluginError> {
    let state =
        crate::connect::open_state(data_dir).map_err(|e| PluginError::Other(format!("{e:#}")))?;
    let locks: Arc<dyn Locks> = Arc::new(state);
    Ok(lock::acquire(
        locks,
        lock::PLUGINS_RESOURCE,
        "pcosync plugin",
    )?)
}

fn in_service(manifest: &Manifest) -> String {
    match &manifest.current {
        Some(entry) => format!(
            "The component in service is unchanged: {}",
            entry.describe()
        ),
        None => "The built-in component stays in service".to_string(),
    }
}
