//! Built natively (as the host's dev-dependency), builds the test components the host's plugin
//! tests need, each as its own wasm32-wasip2 component, and tells the crate where they are:
//! this guest with each of its features (`wrong-version`, `trap-self-check`) and the real guest
//! with a bumped state schema (`PCOSYNC_GUEST_SCHEMA_BUMP`, read by `guest/src/store.rs` at
//! build time).
//!
//! Built for wasm32 (the misbehaving component itself), it does nothing.
//!
//! The nested builds use their own target directory (`<target>/wasm-guest-variants`): built in
//! the directory of the shipped guests, a variant would overwrite the component the host embeds.
//! Each component is copied to OUT_DIR, since the next variant overwrites the build's output.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if env::var("TARGET").is_ok_and(|target| target.starts_with("wasm32")) {
        return;
    }
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("run by cargo"));
    let workspace = manifest
        .ancestors()
        .find(|dir| dir.join("wit").is_dir() && dir.join("Cargo.lock").exists())
        .expect("the workspace root is above tests/misbehave")
        .to_path_buf();
    for watched in [
        "tests/misbehave/src",
        "tests/misbehave/Cargo.toml",
        "guest/src",
        "guest/Cargo.toml",
        "wit",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    let out = PathBuf::from(env::var("OUT_DIR").expect("run by cargo"));
    let target_dir = variants_dir(&out);

    let variants: [(&str, &str, Option<&str>); 3] = [
        ("MISBEHAVE_GOOD", "misbehave-good.wasm", None),
        (
            "MISBEHAVE_WRONG_VERSION",
            "misbehave-wrong-version.wasm",
            Some("wrong-version"),
        ),
        (
            "MISBEHAVE_TRAP_SELF_CHECK",
            "misbehave-trap-self-check.wasm",
            Some("trap-self-check"),
        ),
    ];
    for (variable, file, feature) in variants {
        let built = build(&workspace, &target_dir, "misbehaving-guest", feature, &[]);
        export(variable, &built, &out.join(file));
    }
    let built = build(
        &workspace,
        &target_dir,
        "pcosync-guest",
        None,
        &[("PCOSYNC_GUEST_SCHEMA_BUMP", "1")],
    );
    export(
        "PCOSYNC_GUEST_SCHEMA_NEXT",
        &built,
        &out.join("pcosync-guest-schema-next.wasm"),
    );
}

/// `cargo build --release --target wasm32-wasip2 -p package [--features feature]`.
fn build(
    workspace: &Path,
    target_dir: &Path,
    package: &str,
    feature: Option<&str>,
    envs: &[(&str, &str)],
) -> PathBuf {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--package",
            package,
        ])
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("PCOSYNC_GUEST_SCHEMA_BUMP");
    if let Some(feature) = feature {
        command.args(["--features", feature]);
    }
    for (name, value) in envs {
        command.env(name, value);
    }
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo to build `{package}`: {e}"));
    assert!(
        status.success(),
        "building `{package}` ({feature:?}) for wasm32-wasip2 failed ({status}); \
         `rustup target add wasm32-wasip2` if the target is missing"
    );
    target_dir
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", package.replace('-', "_")))
}

fn export(variable: &str, built: &Path, copy: &Path) {
    std::fs::copy(built, copy)
        .unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", built.display(), copy.display()));
    println!("cargo:rustc-env={variable}={}", copy.display());
}

/// `<outer target dir>/wasm-guest-variants`, found from OUT_DIR
/// (`<target>/<profile>/build/<pkg>/out`).
fn variants_dir(out: &Path) -> PathBuf {
    out.ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "build"))
        .and_then(|build| build.parent()?.parent())
        .map(|target| target.join("wasm-guest-variants"))
        .unwrap_or_else(|| out.join("wasm-guest-variants"))
}
