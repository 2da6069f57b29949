//! Builds a workspace crate as a wasm32-wasip2 component from a build script.
//!
//! Cargo cannot yet build one package for another target as a dependency (artifact
//! dependencies are unstable), so a build script runs a nested `cargo build`, as wasmtime's
//! test-programs and Spin do. The nested build uses its own target directory beside the outer
//! one: sharing the outer directory would deadlock on cargo's lock.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

pub mod target;

/// Builds `package` (a member of this workspace) for wasm32-wasip2 in release mode and returns
/// the path of the component. Tells cargo to rerun the build script when any of `watch`
/// (paths relative to the workspace root) changes.
pub fn build_component(package: &str, watch: &[&str]) -> PathBuf {
    let workspace = workspace_root();
    for path in watch {
        println!("cargo:rerun-if-changed={}", workspace.join(path).display());
    }
    let target_dir = guest_target_dir();
    ensure_target(&target_dir);
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command
        .current_dir(&workspace)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--package",
            package,
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        // The outer build's flags are for the host, not for the guest.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    let status = command.status().unwrap_or_else(|e| {
        panic!("could not run cargo to build the guest `{package}`: {e}");
    });
    if !status.success() {
        panic!(
            "building the guest `{package}` for wasm32-wasip2 failed ({status}): \
             the compiler's messages above say why."
        );
    }
    let artifact = target_dir
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    assert!(
        artifact.exists(),
        "the guest build produced no {}",
        artifact.display()
    );
    artifact
}

/// Adds the wasm32-wasip2 target when missing. Several build scripts build guests at once, so
/// one file lock makes them take turns rather than run two rustups over one toolchain.
fn ensure_target(target_dir: &Path) {
    std::fs::create_dir_all(target_dir)
        .unwrap_or_else(|e| panic!("could not create {}: {e}", target_dir.display()));
    let lock_path = target_dir.join(".target-check.lock");
    let lock = std::fs::File::create(&lock_path)
        .unwrap_or_else(|e| panic!("could not create {}: {e}", lock_path.display()));
    lock.lock()
        .unwrap_or_else(|e| panic!("could not lock {}: {e}", lock_path.display()));
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    if let Err(message) = target::ensure_installed(Path::new(&rustc), Path::new("rustup")) {
        panic!("{message}");
    }
}

fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("run from a build script"));
    manifest
        .ancestors()
        .find(|dir| dir.join("wit").is_dir() && dir.join("Cargo.lock").exists())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("no workspace root above {}", manifest.display()))
}

/// `<outer target dir>/wasm-guests`, found from OUT_DIR (`<target>/<profile>/build/<pkg>/out`),
/// so debug and release host builds share one guest build.
fn guest_target_dir() -> PathBuf {
    let out = PathBuf::from(env::var("OUT_DIR").expect("run from a build script"));
    out.ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "build"))
        .and_then(|build| build.parent()?.parent())
        .map(|target| target.join("wasm-guests"))
        .unwrap_or_else(|| out.join("wasm-guests"))
}
