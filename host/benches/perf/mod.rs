//! Helpers of the `perf_table` bench.

pub mod ab;
pub mod native;
pub mod probe;
pub mod typed;
pub mod world;
