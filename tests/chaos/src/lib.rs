//! The chaos suite (issue 8): many sync and import runs against both sandboxes, each under
//! faults drawn from a seed (429 storms, 5xx, resets, hung responses, malformed and truncated
//! bodies, on PCO's side, Rock's or both) and killed at a random point, then run clean until
//! the sync settles; after each scenario, the invariants:
//!
//! - no PCO person duplicated for a Rock person, none shared by two (R4, R6);
//! - no Rock person imported twice (R42);
//! - every change made on either side before the runs present on both sides after (R10), a
//!   field changed on both sides holding Rock's value on both (R12);
//! - no permission lowered or archived without allow_downgrade (R17, R18);
//! - no organization administrator lowered or archived (R50);
//! - the state readable (`pcosync status --json`), no link to nobody, no lock left held by a
//!   killed process, no welcome email twice, and the clean runs settling (R27).
//!
//! A scenario is a function of its seed ([`plan::Plan::draw`]); the suite runs seeds `S`,
//! `S + 1`, ... so a failing one is replayed with `--seed S --scenarios 1`.
//!
//! Two hosts ([`host::Host`]): the real `pcosync` binary killed with SIGKILL (the full suite,
//! `cargo run --release -p pcosync-chaos`), and the host library in process stopped dead at a
//! capability call (the reduced suite inside `cargo test`).

pub mod changes;
pub mod check;
pub mod host;
pub mod plan;
pub mod scenario;
pub mod suite;
pub mod world;
