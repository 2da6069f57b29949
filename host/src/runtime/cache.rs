//! Compiled components, kept so that the next start skips compilation.
//!
//! A cache entry is native code that wasmtime runs without checking it, so it is trusted only
//! when this host wrote it:
//! - An entry is named by the component's sha256, the wasmtime version and the engine's
//!   compatibility hash: a component is only ever served its own compilation (a component that
//!   was verified, signature included, before it was compiled), and a new host never picks up
//!   a stale entry.
//! - Each entry carries an HMAC-SHA256 of its name and bytes, under a key of this data
//!   directory (`compiled.key` beside the cache, 0600, made on first use). An entry whose HMAC
//!   does not verify (written by anyone but a pcosync holding the key, or damaged) is refused
//!   and compiled again; without the key, write access to the cache directory gains nothing.
//! - Entries are written to a temporary name (0600), then renamed, in a directory opened with
//!   cap-std: no entry can be read from or written to outside it.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write as _;

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::Component;

/// Length of the key and of an entry's tag.
const KEY_BYTES: usize = 32;
const TAG_BYTES: usize = 32;

pub struct CompileCache {
    dir: Dir,
    key: [u8; KEY_BYTES],
}

impl CompileCache {
    /// Opens (creating it if needed) the cache directory `name` inside `data_dir`, with its
    /// key `name.key` beside it.
    pub fn open(data_dir: &Dir, name: &str) -> std::io::Result<Self> {
        crate::state::private::create_dir(data_dir, name)?;
        Ok(CompileCache {
            dir: data_dir.open_dir(name)?,
            key: load_or_make_key(data_dir, &format!("{name}.key"))?,
        })
    }

    /// Opens the cache directory `name` inside `data_dir`, its key in `key_file` (made there,
    /// 0600, when missing): a key kept outside the directory it protects (issue 24 item 17).
    pub fn open_with_key_file(
        data_dir: &Dir,
        name: &str,
        key_file: &std::path::Path,
    ) -> std::io::Result<Self> {
        let (Some(parent), Some(key_name)) = (key_file.parent(), key_file.file_name()) else {
            return Err(std::io::Error::other(format!(
                "{} cannot hold the compile cache's key: name a file",
                key_file.display()
            )));
        };
        crate::state::private::create_dir(data_dir, name)?;
        let parent = Dir::open_ambient_dir(parent, ambient_authority())?;
        Ok(CompileCache {
            dir: data_dir.open_dir(name)?,
            key: load_or_make_key(&parent, &key_name.to_string_lossy())?,
        })
    }

    /// Opens the cache at an absolute path, its key beside it (`PATH.key`): the same cache as
    /// [`CompileCache::open`] of its parent (for tools and tests that have no `Dir`).
    pub fn open_ambient(path: &std::path::Path) -> std::io::Result<Self> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(std::io::Error::other(format!(
                "{} cannot hold a compile cache: name a directory inside another",
                path.display()
            )));
        };
        std::fs::create_dir_all(parent)?;
        let parent = Dir::open_ambient_dir(parent, ambient_authority())?;
        Self::open(&parent, &name.to_string_lossy())
    }

    /// The file beside `path` that holds the key of the cache at `path`, for tests that copy a
    /// cache from one data directory into another.
    pub fn key_path(path: &std::path::Path) -> std::path::PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(".key");
        name.into()
    }

    pub fn get(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let name = entry_name(engine, digest);
        let stored = self.dir.read(&name).ok()?;
        let Some(code) = self.verified(&name, &stored) else {
            tracing::warn!(
                "refusing the compiled-component cache entry {name}: its integrity check failed \
                 (it was not written by this host, or was damaged); compiling the component again"
            );
            return None;
        };
        // SAFETY: `code` is what `put` of a host holding this data directory's key serialized
        // (its HMAC verified), for this component, wasmtime version and engine settings (all
        // part of its name); wasmtime still checks the header and refuses a mismatch.
        match unsafe { Component::deserialize(engine, code) } {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!("ignoring an unusable compiled-component cache entry: {error:#}");
                None
            }
        }
    }

    pub fn put(&self, engine: &Engine, digest: &str, component: &Component) -> anyhow::Result<()> {
        let code = component.serialize()?;
        let name = entry_name(engine, digest);
        let mut stored = self.tag(&name, &code).to_vec();
        stored.extend_from_slice(&code);
        let partial = format!("{name}.partial-{}", std::process::id());
        crate::state::private::write(&self.dir, &partial, &stored)?;
        self.dir.rename(&partial, &self.dir, &name)?;
        Ok(())
    }

    fn mac(&self, name: &str, code: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        // The name is bound to the code: an entry cannot be replayed under another component.
        mac.update(&(name.len() as u64).to_le_bytes());
        mac.update(name.as_bytes());
        mac.update(code);
        mac
    }

    fn tag(&self, name: &str, code: &[u8]) -> [u8; TAG_BYTES] {
        self.mac(name, code).finalize().into_bytes().into()
    }

    /// The code of a stored entry whose tag verifies (compared in constant time).
    fn verified<'a>(&self, name: &str, stored: &'a [u8]) -> Option<&'a [u8]> {
        if stored.len() < TAG_BYTES {
            return None;
        }
        let (tag, code) = stored.split_at(TAG_BYTES);
        self.mac(name, code).verify_slice(tag).ok().map(|()| code)
    }
}

/// The key in `dir`/`name`, made (random, 0600) when there is none. Two processes making it at
/// once agree: the key is written whole under a temporary name and linked into place, so a
/// reader never sees half a key and the second maker reads the first's.
fn load_or_make_key(dir: &Dir, name: &str) -> std::io::Result<[u8; KEY_BYTES]> {
    if let Some(key) = read_key(dir, name)? {
        return Ok(key);
    }
    let key: [u8; KEY_BYTES] = rand::random();
    let partial = format!(
        "{name}.partial-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    );
    let mut options = crate::state::private::file_options();
    options.create_new(true);
    let mut file = dir.open_with(&partial, &options)?;
    file.write_all(&key)?;
    file.sync_all()?;
    drop(file);
    let linked = dir.hard_link(&partial, dir, name);
    let _ = dir.remove_file(&partial);
    match linked {
        Ok(()) => Ok(key),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => read_key(dir, name)?
            .ok_or_else(|| std::io::Error::other(format!("the cache key {name} vanished"))),
        Err(error) => Err(error),
    }
}

fn read_key(dir: &Dir, name: &str) -> std::io::Result<Option<[u8; KEY_BYTES]>> {
    match dir.read(name) {
        Ok(bytes) => bytes.try_into().map(Some).map_err(|bytes: Vec<u8>| {
            std::io::Error::other(format!(
                "the compile cache key {name} is {} bytes, not {KEY_BYTES}: remove it (and the \
                 cache) to make a new one",
                bytes.len()
            ))
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

fn entry_name(engine: &Engine, digest: &str) -> String {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!(
        "{digest}-wasmtime{}-{:016x}.cwasm",
        wasmtime_version(),
        hasher.finish()
    )
}

fn wasmtime_version() -> &'static str {
    // The host pins wasmtime exactly (Cargo.toml), so this names the compiler in use.
    "48.0.8"
}
