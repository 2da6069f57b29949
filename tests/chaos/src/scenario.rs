//! One scenario, from its seed: a world, a clean first sync (unless the first sync is what is
//! under test), staff changes on both sides recorded as expected outcomes, one to three runs
//! under injected faults each killed at a random point, then faults off and clean runs until
//! the sync writes nothing, and the invariants.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;

use crate::changes::{self, Made};
use crate::check::{self, After, Violation, ViolationKind};
use crate::host::{Host, Kill, Op, Outcome};
use crate::plan::{FaultyOp, FaultyRun, Kind, LAST_RESORT, Plan};
use crate::world::{IMPORT_ACCOUNT, World, WorldOptions};

/// With `PCOSYNC_CHAOS_TRACE` set, every run of every scenario is told on stderr (to replay a
/// failing seed and see what each run did).
fn trace(what: impl FnOnce() -> String) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("PCOSYNC_CHAOS_TRACE").is_some()) {
        eprintln!("[chaos] {}", what());
    }
}

/// Clean runs allowed before a scenario counts as not converging.
const CLEAN_RUNS: usize = 6;

/// Settings shared by every scenario of a suite.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Congregation sizes to draw from.
    pub people: RangeInclusive<usize>,
    /// The share of worlds with issue 24's unkind data (foreign `remote_id`s, deceased people).
    pub unkind: f64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            people: 60..=150,
            unkind: 0.5,
        }
    }
}

/// What one scenario did and found.
#[derive(Clone, Debug)]
pub struct ScenarioResult {
    pub seed: u64,
    pub kind: Kind,
    pub people: usize,
    pub allow_downgrade: bool,
    /// The world carried unkind data (foreign `remote_id`s, deceased people).
    pub unkind: bool,
    pub faulty_runs: usize,
    pub kills: usize,
    /// Faulty runs by how they ended: "killed", "exit 0", "exit 1", ...
    pub endings: BTreeMap<String, usize>,
    /// Faults the sandboxes answered with, by kind ("pco reset", "rock error", ...).
    pub faults: BTreeMap<String, u64>,
    pub changes: usize,
    pub conflicts: usize,
    pub clean_runs: usize,
    pub stranded: usize,
    pub violations: Vec<Violation>,
    /// The scenario could not be carried out (the suite's own failure, or the product's
    /// where a clean run was required to work).
    pub error: Option<String>,
    pub duration: Duration,
}

impl ScenarioResult {
    pub fn failed(&self) -> bool {
        !self.violations.is_empty() || self.error.is_some()
    }

    pub fn count(&self, kind: ViolationKind) -> usize {
        self.violations.iter().filter(|v| v.kind == kind).count()
    }

    /// One line: what the scenario was.
    pub fn describe(&self) -> String {
        format!(
            "seed {} ({}{}, {} people, downgrade {}, {} changes, {} faulty runs, {} killed)",
            self.seed,
            self.kind.name(),
            if self.unkind { ", unkind" } else { "" },
            self.people,
            if self.allow_downgrade { "on" } else { "off" },
            self.changes,
            self.faulty_runs,
            self.kills
        )
    }
}

/// Runs the scenario of `seed`.
pub async fn run(host: &Host, seed: u64, settings: &Settings) -> ScenarioResult {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let plan = Plan::draw(seed, &settings.people, settings.unkind, &mut rng);
    let mut result = ScenarioResult {
        seed,
        kind: plan.kind,
        people: plan.people,
        allow_downgrade: plan.allow_downgrade,
        unkind: plan.unkind,
        faulty_runs: 0,
        kills: 0,
        endings: BTreeMap::new(),
        faults: BTreeMap::new(),
        changes: 0,
        conflicts: 0,
        clean_runs: 0,
        stranded: 0,
        violations: Vec::new(),
        error: None,
        duration: Duration::ZERO,
    };
    if let Err(error) = execute(host, &plan, &mut rng, &mut result).await {
        result.error = Some(format!("{error:#}"));
    }
    result.duration = started.elapsed();
    result
}

async fn execute(
    host: &Host,
    plan: &Plan,
    rng: &mut StdRng,
    result: &mut ScenarioResult,
) -> anyhow::Result<()> {
    let world = World::start(WorldOptions {
        people: plan.people,
        seed: plan.seed,
        allow_downgrade: plan.allow_downgrade,
        brake_percent: plan.brake_percent,
        unkind: plan.unkind,
    })
    .await?;
    host.prepare(&world)?;

    let mut made = Made::default();
    if plan.kind != Kind::FirstSync {
        let first = host.run(&world, &Op::sync()).await?;
        trace(|| format!("seed {}: first sync: {}", plan.seed, summary(&first)));
        if first.code != Some(0) {
            bail!(
                "the clean first sync exited {:?}: {}",
                first.code,
                first.stderr.trim()
            );
        }
        made = changes::make(&world, &plan.changes, plan.seed, rng).await?;
        trace(|| format!("changes: {made:?}"));
    }
    result.changes =
        made.expects.len() + made.removals + made.admin_removals + made.permission_edits;
    result.conflicts = made
        .expects
        .iter()
        .filter(|e| matches!(e.side, changes::Side::Both { .. }))
        .count();
    let permissions = check::permissions(&world).await?;
    let rock_before: BTreeSet<i64> = world.rock_people().await?.into_keys().collect();
    let pco_before: BTreeSet<String> = world
        .pco_people(IMPORT_ACCOUNT)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    world.pco.clear_requests();
    world.rock.clear_requests();

    let mut imported = false;
    for run in &plan.runs {
        imported |= run.op == FaultyOp::Import;
        faulty_run(host, &world, plan, run, result).await?;
    }

    converge(host, &world, imported, result).await?;

    // The state is readable by the command an administrator would use.
    match host.status(&world).await {
        Ok(statuses) if statuses.len() == world.accounts.len() => {
            for status in &statuses {
                if !status["people"].is_array() {
                    result.violations.push(Violation {
                        kind: ViolationKind::State,
                        detail: format!("`pcosync status --json` without people: {status}"),
                    });
                }
            }
        }
        Ok(statuses) => result.violations.push(Violation {
            kind: ViolationKind::State,
            detail: format!(
                "`pcosync status --json` gave {} accounts, not {}",
                statuses.len(),
                world.accounts.len()
            ),
        }),
        Err(error) => result.violations.push(Violation {
            kind: ViolationKind::State,
            detail: format!("{error:#}"),
        }),
    }

    let after = After::read(&world).await?;
    result.violations.extend(check::duplicates(&world, &after));
    result.violations.extend(check::dangling(&world, &after));
    result
        .violations
        .extend(check::lost_updates(&world, &after, &made.expects));
    result.violations.extend(check::permissions_kept(
        &world,
        &after,
        &permissions,
        plan.allow_downgrade,
    ));
    result.violations.extend(check::welcomes(&world));
    let log = std::fs::read_to_string(world.log_path()).unwrap_or_default();
    result
        .violations
        .extend(check::private_in_logs(&world, &log));
    if imported {
        result
            .violations
            .extend(check::import_duplicates(&after, &rock_before, &pco_before));
        let import = check::imported_once(&after, &rock_before);
        result.violations.extend(import.violations);
        result.stranded = import.stranded;
    }
    Ok(())
}

/// How much work `op` is expected to make of the sandboxes (requests) or of the capabilities
/// (calls, in process): kill points are drawn over it.
fn expected_work(host: &Host, world: &World, plan: &Plan, op: FaultyOp) -> f64 {
    let people = plan.people as f64;
    let requests = match op {
        FaultyOp::Sync { .. } if plan.kind == Kind::FirstSync => 1.6 * people,
        FaultyOp::Sync { .. } => 40.0 + 6.0 * plan.changes_total() as f64,
        FaultyOp::Import => people,
    };
    let _ = world;
    if host.is_process() {
        requests
    } else {
        // Rock's requests come in batches of one call each.
        0.7 * requests
    }
}

impl Plan {
    fn changes_total(&self) -> usize {
        let c = &self.changes;
        c.rock_edits + c.pco_edits + 2 * c.conflicts + c.removals + c.permission_edits
    }
}

fn op_of(run: &FaultyRun) -> Op {
    match run.op {
        FaultyOp::Sync { updates_only } => Op::Sync {
            account: None,
            updates_only,
            confirm: None,
        },
        FaultyOp::Import => Op::Import {
            account: IMPORT_ACCOUNT.to_string(),
        },
    }
}

/// One run under faults, killed at its point unless it ends first; the faults it met are
/// counted from the sandboxes' request logs.
async fn faulty_run(
    host: &Host,
    world: &World,
    plan: &Plan,
    run: &FaultyRun,
    result: &mut ScenarioResult,
) -> anyhow::Result<()> {
    if let Some(config) = &run.faults.pco {
        world
            .pco
            .set_faults(config.clone())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    if let Some((fault, times)) = run.faults.pco_burst {
        world.pco.inject_next(fault, times);
    }
    if let Some(config) = &run.faults.rock {
        world.rock.set_faults(config.clone());
    }
    if let Some(drift) = run.faults.pco_list_drift {
        world.pco.set_list_drift(drift);
        *result.faults.entry("pco list_drift".into()).or_default() += 1;
    }
    let kill = match run.kill {
        Some(draw) => Kill {
            at: 1 + (draw.fraction * expected_work(host, world, plan, run.op)) as usize,
            after: draw.after,
            deadline: draw.deadline,
        },
        None => Kill {
            at: usize::MAX,
            after: false,
            deadline: LAST_RESORT,
        },
    };
    let kill = Some(kill);
    let outcome = host.run_killed(world, &op_of(run), kill).await;
    world.pco.clear_faults();
    world.pco.set_list_drift(Default::default());
    world.rock.clear_faults();
    let outcome = outcome?;
    trace(|| {
        format!(
            "faulty {:?} faults {:?} kill {kill:?}: {}{}",
            run.op,
            run.faults,
            if outcome.killed { "killed; " } else { "" },
            summary(&outcome)
        )
    });
    result.faulty_runs += 1;
    let ending = if outcome.killed {
        result.kills += 1;
        "killed".to_string()
    } else {
        format!(
            "exit {}",
            outcome.code.map_or("?".into(), |c| c.to_string())
        )
    };
    *result.endings.entry(ending).or_default() += 1;
    // Hung connections close when the killed process dies: give the log a moment.
    tokio::time::sleep(Duration::from_millis(20)).await;
    trace(|| {
        let pco = world.pco.requests();
        let rock = world.rock.requests();
        let faulted: Vec<String> = pco
            .iter()
            .filter_map(|r| Some(format!("PCO {} {} {}", r.fault.as_ref()?, r.method, r.path)))
            .chain(
                rock.iter()
                    .filter_map(|r| Some(format!("Rock {:?} {} {}", r.fault?, r.method, r.path))),
            )
            .collect();
        let writes: Vec<String> = pco
            .iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {} {}", r.method, r.path, r.status))
            .collect();
        format!(
            "  {} PCO and {} Rock requests; faulted: {faulted:?}; PCO writes: {writes:?}",
            pco.len(),
            rock.len()
        )
    });
    for request in world.pco.requests() {
        if let Some(fault) = request.fault {
            *result.faults.entry(format!("pco {fault}")).or_default() += 1;
        }
    }
    for request in world.rock.requests() {
        if let Some(fault) = request.fault {
            let name = serde_json::to_value(fault)?
                .as_str()
                .unwrap_or("?")
                .to_string();
            *result.faults.entry(format!("rock {name}")).or_default() += 1;
        }
    }
    world.pco.clear_requests();
    world.rock.clear_requests();
    Ok(())
}

/// Counts that say a run wrote something.
const WRITES: [&str; 8] = [
    "linked",
    "created",
    "updated_to_pco",
    "updated_to_rock",
    "raised",
    "lowered",
    "archived",
    "imported",
];

fn count(report: &Value, name: &str) -> u64 {
    report["counts"][name].as_u64().unwrap_or(0)
}

fn quiet(outcome: &Outcome) -> bool {
    outcome.code == Some(0)
        && !outcome.reports.is_empty()
        && outcome.reports.iter().all(|r| {
            r["held"] != true
                && count(r, "failed") == 0
                && WRITES.iter().all(|name| count(r, name) == 0)
        })
}

fn summary(outcome: &Outcome) -> String {
    let counts: Vec<String> = outcome
        .reports
        .iter()
        .map(|r| {
            let nonzero: Vec<String> = r["counts"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(_, v)| v.as_u64().is_some_and(|n| n > 0))
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            format!(
                "{}: {}",
                r["account"].as_str().unwrap_or("?"),
                nonzero.join(", ")
            )
        })
        .collect();
    format!(
        "exit {:?}; {}; {}",
        outcome.code,
        counts.join("; "),
        outcome
            .stderr
            .lines()
            .take(3)
            .collect::<Vec<_>>()
            .join(" | ")
    )
}

/// Faults off: the import (when one ran) until it has nobody left, then syncs until one writes
/// nothing. A run the brake holds is confirmed, as an administrator would.
async fn converge(
    host: &Host,
    world: &World,
    imported: bool,
    result: &mut ScenarioResult,
) -> anyhow::Result<()> {
    if imported {
        let op = Op::Import {
            account: IMPORT_ACCOUNT.to_string(),
        };
        let mut done = false;
        for _ in 0..CLEAN_RUNS {
            let outcome = host.run(world, &op).await?;
            trace(|| format!("clean import: {}", summary(&outcome)));
            result.clean_runs += 1;
            lock_released(&outcome, result);
            if quiet(&outcome) {
                done = true;
                break;
            }
        }
        if !done {
            result.violations.push(Violation {
                kind: ViolationKind::NoConvergence,
                detail: format!("the import still imports after {CLEAN_RUNS} clean runs"),
            });
        }
    }
    let mut last = String::new();
    for _ in 0..CLEAN_RUNS {
        let outcome = host.run(world, &Op::sync()).await?;
        trace(|| format!("clean sync: {}", summary(&outcome)));
        result.clean_runs += 1;
        lock_released(&outcome, result);
        if quiet(&outcome) {
            return Ok(());
        }
        last = summary(&outcome);
        for report in outcome.reports.iter().filter(|r| r["held"] == true) {
            let confirm = Op::Sync {
                account: Some(report["account"].as_str().context("an account")?.into()),
                updates_only: false,
                confirm: Some(report["run_id"].as_str().context("a run id")?.into()),
            };
            let confirmed = host.run(world, &confirm).await?;
            trace(|| format!("confirmed {confirm:?}: {}", summary(&confirmed)));
            result.clean_runs += 1;
            lock_released(&confirmed, result);
        }
    }
    result.violations.push(Violation {
        kind: ViolationKind::NoConvergence,
        detail: format!("the sync still writes after {CLEAN_RUNS} clean runs: {last}"),
    });
    Ok(())
}

/// A killed process's lock on the account is taken over (exit 5 would mean it was not).
fn lock_released(outcome: &Outcome, result: &mut ScenarioResult) {
    if outcome.code == Some(5) {
        result.violations.push(Violation {
            kind: ViolationKind::State,
            detail: format!(
                "a clean run found the account locked: {}",
                outcome.stderr.trim()
            ),
        });
    }
}
