//! Compiled components, kept so that the next start skips compilation.
//!
//! An entry is named by the component's sha256, the wasmtime version and the engine's
//! compatibility hash, so a new component or a new host never picks up a stale entry. Entries
//! are written by this host only (to a temporary name, then renamed), in a directory opened
//! with cap-std: no entry can be read from or written to outside it.

use std::hash::{DefaultHasher, Hash, Hasher};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use wasmtime::Engine;
use wasmtime::component::Component;

pub struct CompileCache {
    dir: Dir,
}

impl CompileCache {
    /// Opens (creating it if needed) the cache directory `name` inside `data_dir`.
    pub fn open(data_dir: &Dir, name: &str) -> std::io::Result<Self> {
        data_dir.create_dir_all(name)?;
        Ok(CompileCache {
            dir: data_dir.open_dir(name)?,
        })
    }

    /// Opens a cache at an absolute path (for tools and tests that have no data directory).
    pub fn open_ambient(path: &std::path::Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(path)?;
        Ok(CompileCache {
            dir: Dir::open_ambient_dir(path, ambient_authority())?,
        })
    }

    pub fn get(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let bytes = self.dir.read(entry_name(engine, digest)).ok()?;
        // SAFETY: the entry was written by `put` of a host with the same wasmtime version and
        // engine settings (both are part of its name), inside a directory only this host
        // writes; wasmtime still checks the header and refuses a mismatch.
        match unsafe { Component::deserialize(engine, &bytes) } {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!("ignoring an unusable compiled-component cache entry: {error:#}");
                None
            }
        }
    }

    pub fn put(&self, engine: &Engine, digest: &str, component: &Component) -> anyhow::Result<()> {
        let bytes = component.serialize()?;
        let name = entry_name(engine, digest);
        let partial = format!("{name}.partial-{}", std::process::id());
        self.dir.write(&partial, bytes)?;
        self.dir.rename(&partial, &self.dir, &name)?;
        Ok(())
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
