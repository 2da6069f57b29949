//! The one place the WIT contract becomes Rust for the host.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
});

pub use exports::rockpco::sync::engine;
pub use rockpco::sync::{log, pco, rock, state, types};

/// The contract versions this host speaks: guests built against `0.3.x`.
pub const ACCEPTED_CONTRACT: &str = "0.3";

impl types::Error {
    pub fn new(kind: types::ErrorKind, message: impl Into<String>) -> Self {
        types::Error {
            kind,
            message: message.into(),
        }
    }
}
