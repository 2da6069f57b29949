//! The pcosync host: every capability and every secret, no business rules.
//!
//! The host loads the guest component (`runtime`), hands it Rock (`rock`), Planning Center
//! (`pco`), durable state (`state`) and logging (`log`), and carries out what it decides. Each
//! capability is a trait, so tests can swap the real backends for in-memory ones (`testing`).

pub mod bindings;
pub mod cli;
pub mod config;
pub mod connect;
pub mod daemon;
pub mod demo;
pub mod log;
pub mod ops;
pub mod pco;
pub mod plugin;
pub mod rock;
pub mod runtime;
pub mod secret;
pub mod state;
pub mod testing;
pub mod web;

pub use runtime::{Capabilities, Guest, Limits, RunError, Runtime};

/// The guest component built with this host, used when the configuration names none.
pub static DEFAULT_GUEST: &[u8] = include_bytes!(env!("PCOSYNC_DEFAULT_GUEST"));
