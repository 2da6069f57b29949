//! Makes sure the compiler building the host can also build for `wasm32-wasip2`.
//!
//! `rust-toolchain.toml` names the target, but rustup only installs a toolchain file's targets
//! when it installs the toolchain itself: on a machine that already had the pinned toolchain, the
//! target is missing and the guest's build would fail deep inside std. So the build looks for the
//! target's standard library in the compiler's sysroot and, when it is absent, asks rustup for it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target the guest components are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Ensures `rustc`'s sysroot has the standard library for [`TARGET`], running
/// `rustup target add` for the active toolchain when it does not. Returns the message to show
/// when the target is missing and could not be added.
pub fn ensure_installed(rustc: &Path, rustup: &Path) -> Result<(), String> {
    let sysroot = sysroot(rustc)?;
    if is_installed(&sysroot) {
        return Ok(());
    }
    let toolchain = std::env::var("RUSTUP_TOOLCHAIN").ok();
    let manual = manual_command(toolchain.as_deref());
    // Cargo shows a build script's warnings, so the user sees why the first build takes longer.
    println!(
        "cargo:warning=the {TARGET} target is not installed for this toolchain; running `{manual}`"
    );
    let mut command = Command::new(rustup);
    command.args(["target", "add", TARGET]);
    if let Some(toolchain) = &toolchain {
        command.args(["--toolchain", toolchain]);
    }
    let outcome = command.status();
    match outcome {
        Ok(status) if status.success() && is_installed(&sysroot) => Ok(()),
        Ok(status) if status.success() => Err(format!(
            "`{manual}` succeeded, but {} still has no {TARGET} standard library: \
             is the compiler ({}) the one rustup manages?",
            sysroot.display(),
            rustc.display()
        )),
        Ok(status) => Err(format!(
            "the guest needs the {TARGET} target, which is not installed, and `{manual}` failed \
             ({status}); run it yourself and build again"
        )),
        Err(error) => Err(format!(
            "the guest needs the {TARGET} target, which is not installed, and rustup could not be \
             run ({error}); install the target for this compiler ({}) and build again: `{manual}`",
            rustc.display()
        )),
    }
}

/// Whether a sysroot holds the target's standard library.
pub fn is_installed(sysroot: &Path) -> bool {
    sysroot
        .join("lib/rustlib")
        .join(TARGET)
        .join("lib")
        .is_dir()
}

fn sysroot(rustc: &Path) -> Result<PathBuf, String> {
    let output = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|error| {
            format!(
                "could not run `{} --print sysroot`: {error}",
                rustc.display()
            )
        })?;
    if !output.status.success() {
        return Err(format!(
            "`{} --print sysroot` failed: {}",
            rustc.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim(),
    ))
}

fn manual_command(toolchain: Option<&str>) -> String {
    match toolchain {
        Some(toolchain) => format!("rustup target add {TARGET} --toolchain {toolchain}"),
        None => format!("rustup target add {TARGET}"),
    }
}
