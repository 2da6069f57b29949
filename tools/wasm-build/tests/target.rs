//! The guest build adds a missing wasm32-wasip2 target through rustup by itself, and says what to
//! run when it cannot. Driven with a stand-in compiler and rustup (shell scripts) over a
//! throwaway sysroot, so the real toolchain is never touched.
#![cfg(unix)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use wasm_build::target::{TARGET, ensure_installed, is_installed};

struct FakeToolchain {
    dir: PathBuf,
}

impl FakeToolchain {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("wasm-build-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("sysroot/lib/rustlib/x86_64-unknown-linux-gnu/lib")).unwrap();
        let toolchain = Self { dir };
        toolchain.script("rustc", &format!("echo {}", toolchain.sysroot().display()));
        toolchain
    }

    fn sysroot(&self) -> PathBuf {
        self.dir.join("sysroot")
    }

    /// A rustup that logs its arguments and, when `works`, installs the target's std.
    fn rustup(&self, works: bool) -> PathBuf {
        let install = format!(
            "mkdir -p {}/lib/rustlib/{TARGET}/lib",
            self.sysroot().display()
        );
        let body = format!(
            "echo \"$@\" >> {log}\n{action}",
            log = self.log().display(),
            action = if works { install } else { "exit 1".into() }
        );
        self.script("rustup", &body)
    }

    fn log(&self) -> PathBuf {
        self.dir.join("rustup.log")
    }

    fn calls(&self) -> String {
        fs::read_to_string(self.log()).unwrap_or_default()
    }

    fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.dir.join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn rustc(&self) -> PathBuf {
        self.dir.join("rustc")
    }
}

impl Drop for FakeToolchain {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_missing_target_is_added_through_rustup() {
    let toolchain = FakeToolchain::new("adds");
    let rustup = toolchain.rustup(true);
    assert!(!is_installed(&toolchain.sysroot()));

    ensure_installed(&toolchain.rustc(), &rustup).expect("rustup adds the target");

    assert!(is_installed(&toolchain.sysroot()));
    assert!(
        toolchain
            .calls()
            .starts_with(&format!("target add {TARGET}")),
        "rustup was asked: {:?}",
        toolchain.calls()
    );
}

#[test]
fn an_installed_target_does_not_call_rustup() {
    let toolchain = FakeToolchain::new("present");
    let rustup = toolchain.rustup(true);
    fs::create_dir_all(
        toolchain
            .sysroot()
            .join(format!("lib/rustlib/{TARGET}/lib")),
    )
    .unwrap();

    ensure_installed(&toolchain.rustc(), &rustup).unwrap();

    assert_eq!(toolchain.calls(), "", "rustup must not be run");
}

#[test]
fn a_failing_rustup_gives_the_command_to_run() {
    let toolchain = FakeToolchain::new("fails");
    let rustup = toolchain.rustup(false);

    let message = ensure_installed(&toolchain.rustc(), &rustup).unwrap_err();

    assert!(
        message.contains("rustup target add wasm32-wasip2"),
        "{message}"
    );
    assert!(!is_installed(&toolchain.sysroot()));
}

#[test]
fn no_rustup_at_all_gives_the_command_to_run() {
    let toolchain = FakeToolchain::new("norustup");

    let message =
        ensure_installed(&toolchain.rustc(), Path::new("/nonexistent/rustup")).unwrap_err();

    assert!(
        message.contains("rustup target add wasm32-wasip2"),
        "{message}"
    );
    assert!(message.contains("could not be run"), "{message}");
}
