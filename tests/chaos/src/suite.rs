//! Many scenarios, seeds `seed`, `seed + 1`, ...: each is replayed alone with
//! `--seed S --scenarios 1`. The figures add them up.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::check::ViolationKind;
use crate::host::Host;
use crate::scenario::{self, ScenarioResult, Settings};

#[derive(Clone, Debug, Default)]
pub struct Figures {
    pub scenarios: usize,
    pub by_kind: BTreeMap<&'static str, usize>,
    pub faulty_runs: usize,
    pub kills: usize,
    pub endings: BTreeMap<String, usize>,
    pub faults: BTreeMap<String, u64>,
    pub changes: usize,
    pub conflicts: usize,
    pub clean_runs: usize,
    pub stranded: usize,
    pub duplicates: usize,
    pub lost_updates: usize,
    /// Every other invariant broken (imported twice, lowered, organization administrator,
    /// state, double welcome, no convergence).
    pub violations: usize,
    pub violations_by_kind: BTreeMap<&'static str, usize>,
    /// Scenarios the suite could not carry out (named with their error).
    pub errors: usize,
    /// Seeds of the failing scenarios, with what failed first.
    pub failing: Vec<(u64, String)>,
    pub wall: Duration,
}

impl Figures {
    pub fn add(&mut self, result: &ScenarioResult) {
        self.scenarios += 1;
        *self.by_kind.entry(result.kind.name()).or_default() += 1;
        self.faulty_runs += result.faulty_runs;
        self.kills += result.kills;
        for (ending, n) in &result.endings {
            *self.endings.entry(ending.clone()).or_default() += n;
        }
        for (fault, n) in &result.faults {
            *self.faults.entry(fault.clone()).or_default() += n;
        }
        self.changes += result.changes;
        self.conflicts += result.conflicts;
        self.clean_runs += result.clean_runs;
        self.stranded += result.stranded;
        for violation in &result.violations {
            match violation.kind {
                ViolationKind::Duplicate => self.duplicates += 1,
                ViolationKind::LostUpdate => self.lost_updates += 1,
                _ => self.violations += 1,
            }
            *self
                .violations_by_kind
                .entry(violation.kind.name())
                .or_default() += 1;
        }
        if result.error.is_some() {
            self.errors += 1;
        }
        if result.failed() {
            let first = result
                .violations
                .first()
                .map(ToString::to_string)
                .or_else(|| result.error.clone().map(|e| format!("error: {e}")))
                .unwrap_or_default();
            self.failing.push((result.seed, first));
        }
    }

    /// True when nothing broke.
    pub fn clean(&self) -> bool {
        self.duplicates == 0 && self.lost_updates == 0 && self.violations == 0 && self.errors == 0
    }

    pub fn faults_total(&self) -> u64 {
        self.faults.values().sum()
    }
}

/// Runs `count` scenarios from `seed` on, `jobs` at a time (a scenario mostly waits: on
/// back-offs, slow and hung answers), telling `each` about every one as it ends.
pub async fn run(
    host: Arc<Host>,
    seed: u64,
    count: usize,
    jobs: usize,
    settings: &Settings,
    mut each: impl FnMut(&ScenarioResult),
) -> Figures {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let (send, mut receive) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..jobs.clamp(1, count.max(1)) {
        let (host, next, send, settings) =
            (host.clone(), next.clone(), send.clone(), settings.clone());
        tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= count {
                    return;
                }
                let result = scenario::run(&host, seed.wrapping_add(n as u64), &settings).await;
                if send.send(result).is_err() {
                    return;
                }
            }
        });
    }
    drop(send);
    let mut figures = Figures::default();
    while let Some(result) = receive.recv().await {
        each(&result);
        figures.add(&result);
    }
    figures.failing.sort();
    figures.wall = started.elapsed();
    figures
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |map: &BTreeMap<String, usize>| {
            map.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(f, "chaos figures")?;
        let kinds: Vec<String> = self
            .by_kind
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        writeln!(
            f,
            "  scenarios run          {} ({})",
            self.scenarios,
            kinds.join(", ")
        )?;
        writeln!(
            f,
            "  faulty runs            {} ({})",
            self.faulty_runs,
            list(&self.endings)
        )?;
        writeln!(f, "  kills                  {}", self.kills)?;
        writeln!(f, "  faults injected        {}", self.faults_total())?;
        for (fault, n) in &self.faults {
            writeln!(f, "    {fault:<22} {n}")?;
        }
        writeln!(
            f,
            "  changes made           {} ({} conflicts)",
            self.changes, self.conflicts
        )?;
        writeln!(f, "  clean runs to converge {}", self.clean_runs)?;
        writeln!(
            f,
            "  import strays          {} (created, cut off, left for an administrator)",
            self.stranded
        )?;
        writeln!(f, "  duplicates             {}", self.duplicates)?;
        writeln!(f, "  lost updates           {}", self.lost_updates)?;
        writeln!(
            f,
            "  invariant violations   {} (besides duplicates and lost updates)",
            self.violations
        )?;
        if !self.violations_by_kind.is_empty() {
            writeln!(f, "  broken, by invariant")?;
            for (kind, n) in &self.violations_by_kind {
                writeln!(f, "    {kind:<22} {n}")?;
            }
        }
        if self.errors > 0 {
            writeln!(f, "  scenarios not carried out {}", self.errors)?;
        }
        writeln!(
            f,
            "  wall time              {:.1} s",
            self.wall.as_secs_f64()
        )?;
        if self.failing.is_empty() {
            writeln!(f, "  failing seeds          none")?;
        } else {
            writeln!(f, "  failing seeds (replay with --seed S --scenarios 1):")?;
            for (seed, what) in &self.failing {
                writeln!(f, "    {seed}: {what}")?;
            }
        }
        Ok(())
    }
}
