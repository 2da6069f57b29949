//! What a scenario does, drawn from its seed alone: the congregation, the settings, the kind
//! of run under test, the faults of each faulty run and where it is killed.

use std::ops::RangeInclusive;
use std::time::Duration;

use pco_sandbox::Fault;
use rand::Rng;
use rand::rngs::StdRng;

/// A run not meant to be killed is killed anyway when still running after this long (stuck on
/// hung answers): a scenario must end.
pub const LAST_RESORT: Duration = Duration::from_secs(8);

/// What a scenario puts under stress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// The very first sync (links and creates, R4-R6) under faults and kills.
    FirstSync,
    /// A sync after a clean first one, with people changed on both sides in between.
    Resync,
    /// The import (R40-R42) after a clean first sync and changes, then syncs.
    Import,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::FirstSync => "first sync",
            Kind::Resync => "resync",
            Kind::Import => "import",
        }
    }
}

/// A command run under faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultyOp {
    Sync { updates_only: bool },
    Import,
}

/// The faults of one run, per sandbox.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    pub pco: Option<pco_sandbox::FaultConfig>,
    /// Faults queued for PCO's first requests (a 429 storm at once, a run of resets).
    pub pco_burst: Option<(Fault, usize)>,
    pub rock: Option<rock_sandbox::FaultConfig>,
    /// The People list moving under the run's reads (issue 14.5): windows shifted by people
    /// removed meanwhile, `total_count` capped.
    pub pco_list_drift: Option<pco_sandbox::ListDrift>,
}

/// Where a faulty run is killed, relative to how much work the run is expected to do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KillDraw {
    /// 0..1 of the expected requests (or capability calls); past 1 the run may end first.
    pub fraction: f64,
    /// In process: just after the call was answered (else just before it leaves).
    pub after: bool,
    /// The latest moment of the kill (process mode), for a run stuck on a hung response.
    pub deadline: Duration,
}

#[derive(Clone, Debug)]
pub struct FaultyRun {
    pub op: FaultyOp,
    pub faults: Faults,
    /// Where the run is killed; None: it is let finish (or fail) under its faults, killed
    /// only if still running after [`LAST_RESORT`].
    pub kill: Option<KillDraw>,
}

/// How many of each change a scenario makes between its first sync and the faulty runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub rock_edits: usize,
    pub pco_edits: usize,
    /// The same field changed on both sides (Rock's value must win, R12).
    pub conflicts: usize,
    /// People removed from one of their synced Rock groups (lowered, archived or kept, R17).
    pub removals: usize,
    /// Services permissions set by hand in PCO (never copied to Rock, R11).
    pub permission_edits: usize,
    /// Organization administrators removed from all their synced groups (R50).
    pub admin_removals: usize,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub seed: u64,
    pub people: usize,
    pub kind: Kind,
    pub allow_downgrade: bool,
    pub brake_percent: u8,
    /// The world carries issue 24's unkind data ([`crate::world::WorldOptions::unkind`]).
    pub unkind: bool,
    pub changes: Changes,
    pub runs: Vec<FaultyRun>,
}

impl Plan {
    /// `unkind` is the share of worlds with unkind data; drawn last, so that a share of 0
    /// leaves every other draw of a seed as it was.
    pub fn draw(seed: u64, people: &RangeInclusive<usize>, unkind: f64, rng: &mut StdRng) -> Plan {
        let people = rng.random_range(people.clone());
        let kind = match rng.random_range(0..100u32) {
            0..30 => Kind::FirstSync,
            30..75 => Kind::Resync,
            _ => Kind::Import,
        };
        let allow_downgrade = rng.random_bool(0.4);
        let brake_percent = if rng.random_bool(0.25) { 10 } else { 100 };
        let changes = if kind == Kind::FirstSync {
            Changes::default()
        } else {
            Changes {
                rock_edits: rng.random_range(0..=4),
                pco_edits: rng.random_range(0..=4),
                conflicts: rng.random_range(0..=2),
                removals: rng.random_range(0..=2),
                permission_edits: rng.random_range(0..=2),
                admin_removals: usize::from(rng.random_bool(0.5)),
            }
        };
        let count = 1 + usize::from(rng.random_bool(0.45)) + usize::from(rng.random_bool(0.2));
        let runs = (0..count)
            .map(|index| {
                let op = match kind {
                    Kind::Import if index == 0 || rng.random_bool(0.5) => FaultyOp::Import,
                    _ => FaultyOp::Sync {
                        updates_only: kind != Kind::FirstSync && rng.random_bool(0.25),
                    },
                };
                let kill = rng.random_bool(0.92).then(|| KillDraw {
                    fraction: rng.random_range(0.0..1.1),
                    after: rng.random_bool(0.5),
                    deadline: Duration::from_millis(rng.random_range(800..2_500)),
                });
                FaultyRun {
                    op,
                    faults: Faults::draw(rng),
                    kill,
                }
            })
            .collect();
        let unkind = unkind > 0.0 && rng.random_bool(unkind.min(1.0));
        Plan {
            seed,
            people,
            kind,
            allow_downgrade,
            brake_percent,
            unkind,
            changes,
            runs,
        }
    }
}

impl Faults {
    /// Faults on one side or both, one to three kinds each, at random shares.
    pub fn draw(rng: &mut StdRng) -> Faults {
        let (pco, rock) = match rng.random_range(0..10u32) {
            0..4 => (true, false),
            4..6 => (false, true),
            _ => (true, true),
        };
        let mut faults = Faults::default();
        if pco {
            let mut config = pco_sandbox::FaultConfig {
                seed: rng.random(),
                ..Default::default()
            };
            for _ in 0..rng.random_range(1..=3) {
                match rng.random_range(0..8u32) {
                    0 => config.server_error = rng.random_range(0.03..0.2),
                    1 => config.reset = rng.random_range(0.02..0.1),
                    2 => config.reset_after = rng.random_range(0.02..0.12),
                    3 => {
                        config.slow = rng.random_range(0.05..0.3);
                        config.slow_ms = rng.random_range(20..200);
                    }
                    4 => config.hang = rng.random_range(0.005..0.03),
                    5 => config.malformed = rng.random_range(0.02..0.1),
                    6 => config.truncated = rng.random_range(0.02..0.1),
                    _ => {
                        // A storm: many 429s, told to come back at once (Retry-After: 0),
                        // so the storm tests the retrying and not the patience.
                        config.rate_limit_storm = rng.random_range(0.1..0.5);
                        config.storm_retry_after = 0;
                    }
                }
            }
            if rng.random_bool(0.2) {
                config.path_prefix = Some(
                    [
                        "/people/v2/people",
                        "/services/v2/people",
                        "/people/v2/emails",
                    ][rng.random_range(0..3)]
                    .to_string(),
                );
            }
            faults.pco = Some(config);
            if rng.random_bool(0.25) {
                faults.pco_list_drift = Some(pco_sandbox::ListDrift {
                    skipped_per_page: rng.random_range(1..=30),
                    total_count_cap: rng.random_bool(0.5).then(|| rng.random_range(20..=120)),
                });
            }
            if rng.random_bool(0.25) {
                faults.pco_burst = Some(match rng.random_range(0..3u32) {
                    0 => (
                        Fault::RateLimited { retry_after: 0 },
                        rng.random_range(3..=12),
                    ),
                    1 => (
                        Fault::RateLimited { retry_after: 1 },
                        rng.random_range(1..=2),
                    ),
                    _ => (Fault::ServerError { status: 503 }, rng.random_range(2..=6)),
                });
            }
        }
        if rock {
            let mut config = rock_sandbox::FaultConfig {
                seed: rng.random(),
                ..Default::default()
            };
            for _ in 0..rng.random_range(1..=3) {
                match rng.random_range(0..6u32) {
                    0 => config.error_rate = rng.random_range(0.03..0.25),
                    1 => config.reset_rate = rng.random_range(0.02..0.15),
                    2 => {
                        config.slow_rate = rng.random_range(0.05..0.3);
                        config.slow_ms = rng.random_range(20..200);
                    }
                    3 => {
                        config.hang_rate = rng.random_range(0.01..0.06);
                        config.hang_ms = rng.random_range(100..800);
                    }
                    4 => config.malformed_rate = rng.random_range(0.02..0.15),
                    _ => config.truncated_rate = rng.random_range(0.02..0.15),
                }
            }
            if rng.random_bool(0.3) {
                // Only the writes: Rock failing just as people are created or changed.
                config.method = Some(["POST", "PATCH"][rng.random_range(0..2)].to_string());
            }
            faults.rock = Some(config);
        }
        faults
    }
}
