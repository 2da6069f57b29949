//! A guest that misbehaves on purpose, to prove the host contains it (`guest.rs`, built for
//! wasm32-wasip2), and, built natively, the paths of the test components its build script
//! makes (`components`): the variants that a host must refuse to install, and the real guest
//! built with a bumped state schema.

#[cfg(target_arch = "wasm32")]
mod guest;

/// Paths of the components this crate's build script built, for the host's tests and benches.
#[cfg(not(target_arch = "wasm32"))]
pub mod components {
    /// The misbehaving guest as it is: contract 0.3.0, passes its self-check.
    pub const GOOD: &str = env!("MISBEHAVE_GOOD");
    /// Answers contract version 0.3.0.
    pub const WRONG_VERSION: &str = env!("MISBEHAVE_WRONG_VERSION");
    /// Traps in its self-check.
    pub const TRAP_SELF_CHECK: &str = env!("MISBEHAVE_TRAP_SELF_CHECK");
    /// The real guest (`guest/`) built with its state schema one version ahead, with the
    /// migration to it: what the next guest release that changes the state would be.
    pub const GUEST_SCHEMA_NEXT: &str = env!("PCOSYNC_GUEST_SCHEMA_NEXT");

    /// The bytes of one of the components above.
    pub fn read(path: &str) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read the test component {path}: {e}"))
    }
}
