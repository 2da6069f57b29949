//! The pcosync guest: every decision of the Rock <-> Planning Center sync.
//!
//! The rules live in plain Rust modules that compile and test natively. They reach the outside
//! world only through [`ports::Ports`], which the component implements with the WIT imports
//! (see `component.rs`) and tests implement with fakes. The host hands this code no
//! filesystem, no sockets and no secrets.

pub mod admin;
pub mod audit;
pub mod choices;
pub mod clock;
pub mod email_guard;
pub mod engine;
pub mod fields;
pub mod import;
pub mod linking;
pub mod missing;
pub mod namesakes;
pub mod pco_api;
pub mod pco_people;
pub mod permissions;
pub mod plan;
pub mod ports;
pub mod report;
pub mod revert;
pub mod roles;
pub mod run;
pub mod services;
pub mod store;
pub mod synced;

#[cfg(target_arch = "wasm32")]
mod component;

/// Generated from `wit/`: the types are used natively too; the imports only work in wasm.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "plugin",
        pub_export_macro: true,
        generate_all,
    });
}

pub use bindings::exports::rockpco::sync::engine as api;
pub use bindings::rockpco::sync::types;

/// The contract version this guest speaks, taken from the WIT package at build time.
pub const CONTRACT_VERSION: &str = "0.3.0";
