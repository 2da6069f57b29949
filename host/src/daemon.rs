//! `pcosync run`: the daemon. Syncs each account on its schedule until stopped.
//!
//! - Schedules: an account's `schedule` is cron syntax (five fields, or six with seconds
//!   first; `@hourly`, `@daily`... too), in the host's local time. Without one, the account is
//!   synced when the daemon starts and every two hours after (SPEC R20).
//! - `--import`: before the first syncs, the import from PCO (R40-R42) of every account that
//!   has `[accounts.import]` runs once, under the same lock.
//! - Before every run the daemon resolves the component again (configuration, else the
//!   installed current one, else the built-in one; see [`crate::plugin`]): a `pcosync plugin
//!   install` or `rollback` takes effect at the next run, without a restart. A component that
//!   was loaded already is reused; a new one comes from the compile cache that the install
//!   filled.
//! - Before every run the daemon reads its configuration file again: an account added,
//!   removed or changed (its settings, its schedule, a rotated secret, a revoked trusted key)
//!   takes effect at the next run. A file that no longer parses is refused, loudly, and the
//!   configuration last read stays in force until it is fixed. Only `data_dir` and `[limits]`
//!   need a restart (the daemon says so).
//! - Updates-only accounts get a full run every `full_sync_hours` (see [`crate::ops::full_sync`]).
//! - Accounts run independently (issue 24 item 19): each account's runs are one at a time,
//!   but a run of one account never waits for another's, so a stuck run holds up its own
//!   account only. Every run holds its account's lock ([`crate::state::lock`]), so a one-shot
//!   `pcosync sync` or a second daemon cannot sync the same account at the same moment: the
//!   later one is refused and says who holds it.
//! - Each run has a deadline from its account's size ([`account_deadline`]: the people it
//!   synced last time, at a few seconds each, at least an hour, at most `[limits]`'s wall
//!   time): a stuck run is stopped when a run of that size should long have ended, not after a
//!   day. A first sync, whose size is not known yet, gets the whole wall time.
//! - Stopping: the first SIGTERM or ctrl-c lets the runs in flight finish (their commits and
//!   their reports), starts nothing new, and exits 0. A second one stops at once: the runs are
//!   dropped between two host calls, which the guest's write order makes safe (a run stopped
//!   anywhere and run again neither loses nor duplicates anyone, R6), and the locks are
//!   released.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Local};
use serde::Serialize;
use tokio::sync::watch;

use crate::bindings::engine::{Counts, SyncOptions};
use crate::config::{AccountConfig, Config};
use crate::ops::runs::{self, Run};
use crate::plugin::{self, GuestSource};
use crate::runtime::{Capabilities, Guest, Runtime};
use crate::state::StateStore;
use crate::state::lock::{self, Locks};
use crate::state::sqlite::SqliteState;

/// The default schedule: every two hours (SPEC R20).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2 * 3600);

/// With no account configured, the daemon looks at its configuration file this often.
const IDLE_SECS: i64 = 60;

/// The shortest deadline of a run whose account's size is known.
const MIN_DEADLINE: Duration = Duration::from_secs(3600);
/// A run's time per synced person: four times what a first sync of 50,000 people takes at
/// PCO's rate limit (0.74 s each, see [`crate::runtime::Limits`]).
const DEADLINE_PER_PERSON: Duration = Duration::from_secs(3);

/// How long a run of an account that synced `synced` people last time may take: a few seconds
/// a person, at least [`MIN_DEADLINE`], at most `ceiling` (the guest's wall time). Unknown
/// (`0`: a first sync) gets `ceiling`.
pub fn account_deadline(synced: usize, ceiling: Duration) -> Duration {
    if synced == 0 {
        return ceiling;
    }
    let by_size = DEADLINE_PER_PERSON.saturating_mul(u32::try_from(synced).unwrap_or(u32::MAX));
    by_size.max(MIN_DEADLINE).min(ceiling)
}

/// The people an account's state links (its `person/` records): its size, for the deadline.
/// Counted, not read: the records hold every synced value.
fn synced_people(state: &dyn StateStore, account: &str) -> usize {
    state.count(account, "person/").unwrap_or(0)
}

/// When an account is synced.
#[derive(Clone, Debug)]
pub enum Schedule {
    /// At start, then this long after each run started.
    Every(Duration),
    Cron(Box<croner::Cron>, String),
}

impl Schedule {
    /// The schedule of `account` (its `schedule`, else every two hours).
    pub fn of(account: &AccountConfig) -> Result<Schedule, String> {
        match account.schedule.as_deref() {
            None => Ok(Schedule::Every(DEFAULT_INTERVAL)),
            Some(text) => Schedule::parse(text).map_err(|e| {
                format!(
                    "account \"{}\": schedule `{text}` is not valid cron syntax ({e}); write \
                     five fields, `minute hour day-of-month month day-of-week` (e.g. \
                     \"0 */2 * * *\" for every two hours), or six with seconds first",
                    account.name
                )
            }),
        }
    }

    pub fn parse(text: &str) -> Result<Schedule, String> {
        let cron = croner::Cron::new(text.trim())
            .with_seconds_optional()
            .parse()
            .map_err(|e| e.to_string())?;
        // A pattern that never fires (February 30th) is a mistake, not a schedule.
        cron.find_next_occurrence(&Local::now(), false)
            .map_err(|e| e.to_string())?;
        Ok(Schedule::Cron(Box::new(cron), text.trim().to_string()))
    }

    /// When to run next, given when the last run started (None: not yet in this process).
    pub fn next(
        &self,
        last_start: Option<DateTime<Local>>,
        now: DateTime<Local>,
    ) -> DateTime<Local> {
        match self {
            Schedule::Every(interval) => match last_start {
                None => now,
                // Issue 24 item 18: an interval past what a date can hold is "never again",
                // not an overflow (`run --interval 18446744073709551615` panicked).
                Some(last) => chrono::Duration::from_std(*interval)
                    .ok()
                    .and_then(|interval| last.checked_add_signed(interval))
                    .unwrap_or_else(|| {
                        now.checked_add_signed(chrono::Duration::days(365 * 100))
                            .unwrap_or(now)
                    }),
            },
            Schedule::Cron(cron, _) => cron
                .find_next_occurrence(&now, false)
                .unwrap_or(now + chrono::Duration::days(365)),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Schedule::Every(interval) if *interval == DEFAULT_INTERVAL => {
                "every two hours, from start".to_string()
            }
            Schedule::Every(interval) => format!("every {} s, from start", interval.as_secs()),
            Schedule::Cron(_, text) => format!("cron `{text}`"),
        }
    }
}

/// How a scheduled run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Everyone synced.
    Ok,
    /// Some people failed; they are retried next run (R23).
    Partial,
    /// The safety brake held the run (R24): confirm it with `pcosync sync --confirm`.
    Held,
    /// Another process holds the account's lock: nothing was run.
    Locked,
    /// The run failed (or its component could not be loaded, or the systems not reached).
    Failed,
    /// Stopped at once by a second signal.
    Interrupted,
}

/// One scheduled run, as the daemon reports it (a line of `pcosync run --json`).
#[derive(Clone, Debug, Serialize)]
pub struct RunRecord {
    pub account: String,
    /// What ran: "sync", or "import" (`pcosync run --import`).
    pub kind: Job,
    /// A sync's mode: "full" or "updates-only" (see [`crate::ops::full_sync`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    pub run_id: String,
    pub outcome: Outcome,
    /// sha256 of the component that ran (empty when none could be loaded).
    pub component: String,
    /// Where it came from: "installed", "configured" or "built-in".
    pub component_source: String,
    pub contract_version: String,
    /// Time to get the component ready for this run (0 when the loaded one was reused).
    pub component_load_ms: u64,
    /// The whole run, component load included.
    pub run_ms: u64,
    /// What the sync used of its limits: fuel, and the guest's largest memory.
    pub fuel_used: u64,
    pub peak_memory_bytes: u64,
    pub started_at: String,
    pub finished_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<Counts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl RunRecord {
    /// One line for people.
    pub fn line(&self) -> String {
        let component = if self.component.is_empty() {
            "no component".to_string()
        } else {
            format!(
                "component {} ({})",
                plugin::store::short(&self.component),
                self.component_source
            )
        };
        let kind = match (self.kind, self.mode.as_deref()) {
            (Job::Import, _) => " import",
            (Job::Sync, Some("updates-only")) => " updates-only",
            (Job::Sync, _) => "",
        };
        let mut line = format!(
            "{} {}{kind}: {:?} [{}, run {}]",
            self.finished_at, self.account, self.outcome, component, self.run_id
        );
        if let Some(c) = &self.counts {
            line.push_str(&format!(
                " synced {}, linked {}, created {}, updated {}/{}, failed {}",
                c.synced, c.linked, c.created, c.updated_to_pco, c.updated_to_rock, c.failed
            ));
            if self.kind == Job::Import {
                line.push_str(&format!(", imported {}", c.imported));
            }
        }
        if let Some(message) = &self.message {
            line.push_str(": ");
            line.push_str(message);
        }
        line
    }
}

/// What a scheduled run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Job {
    Sync,
    /// The import from PCO (R40-R42), with the account's `[accounts.import]`.
    Import,
}

/// Where a run's capabilities come from.
pub enum Connector {
    /// Built from the configuration before each run (Rock over REST, PCO over HTTPS, SQLite
    /// state in the data directory): a system down at start fails that run, not the daemon.
    FromConfig,
    /// Given (tests, benchmarks).
    Fixed(Capabilities),
}

/// Signals, counted: 0 run on; 1 finish the run in flight, then stop; 2 stop now.
pub type Stop = watch::Receiver<u8>;

pub struct Daemon {
    /// What the runs share; each run holds it while it goes on.
    core: Arc<Core>,
    /// The configuration in force; a run keeps the one it started with.
    config: Arc<Config>,
    /// The file `config` was read from, read again before each run; None keeps `config`.
    config_file: Option<ConfigFile>,
    /// When each account's last run in this process started, by account name.
    last_started: BTreeMap<String, DateTime<Local>>,
    /// `pcosync run --interval`: one schedule for every account.
    schedule_override: Option<Schedule>,
    import_at_start: bool,
}

/// What every run of the daemon uses, whichever account it is of.
struct Core {
    data_dir: PathBuf,
    runtime: Runtime,
    connector: Connector,
    /// The state file: the accounts' locks, and the state of runs from the configuration.
    store: Arc<SqliteState>,
    /// The component loaded last, reused while it is the one to run.
    guest: std::sync::Mutex<Option<Guest>>,
}

/// The configuration file as the daemon last read it.
struct ConfigFile {
    path: PathBuf,
    /// Its text when last read (parsed or refused), so an unchanged file is not parsed again.
    text: Option<String>,
}

impl Daemon {
    /// Checks every account's schedule and opens the lock store (the state file).
    pub fn new(
        config: Config,
        data_dir: PathBuf,
        runtime: Runtime,
        connector: Connector,
    ) -> anyhow::Result<Daemon> {
        if config.accounts.is_empty() {
            anyhow::bail!(
                "the configuration has no [[accounts]]: add one (see README, Configuration)"
            );
        }
        check_schedules(&config).map_err(anyhow::Error::msg)?;
        let store = Arc::new(crate::connect::open_state(&data_dir)?);
        Ok(Daemon {
            core: Arc::new(Core {
                data_dir,
                runtime,
                connector,
                store,
                guest: std::sync::Mutex::new(None),
            }),
            config: Arc::new(config),
            config_file: None,
            last_started: BTreeMap::new(),
            schedule_override: None,
            import_at_start: false,
        })
    }

    /// Reads `path` again before each run (the configuration given to [`Daemon::new`] came
    /// from it).
    pub fn reread_before_each_run(&mut self, path: PathBuf) {
        let text = std::fs::read_to_string(&path).ok();
        self.config_file = Some(ConfigFile { path, text });
    }

    /// Replaces every account's schedule with `schedule` (`pcosync run --interval`).
    pub fn override_schedules(&mut self, schedule: Schedule) {
        self.schedule_override = Some(schedule);
    }

    fn schedule_of(&self, account: &AccountConfig) -> Schedule {
        match &self.schedule_override {
            Some(schedule) => schedule.clone(),
            // Checked when the configuration was read.
            None => Schedule::of(account).unwrap_or(Schedule::Every(DEFAULT_INTERVAL)),
        }
    }

    /// Runs the import of every account that has `[accounts.import]` once, before the first
    /// syncs (`pcosync run --import`). An import resumes where a stopped one left off and
    /// imports nobody twice (R42), so asking again is safe.
    pub fn import_at_start(&mut self) {
        self.import_at_start = true;
    }

    /// Each account's schedule, for the start-up message.
    pub fn schedules(&self) -> Vec<(String, String)> {
        self.config
            .accounts
            .iter()
            .map(|account| (account.name.clone(), self.schedule_of(account).describe()))
            .collect()
    }

    /// Reads the configuration file again, if there is one and it changed. A file that cannot
    /// be read or is not valid is refused loudly and the configuration in force is kept.
    fn reread_config(&mut self) {
        let Some(file) = &mut self.config_file else {
            return;
        };
        let text = match std::fs::read_to_string(&file.path) {
            Ok(text) => text,
            Err(error) => {
                refused_config(&format!(
                    "cannot read the configuration {}: {error}",
                    file.path.display()
                ));
                return;
            }
        };
        if file.text.as_deref() == Some(text.as_str()) {
            return;
        }
        file.text = Some(text.clone());
        let read = Config::parse(&text).and_then(|config| {
            check_schedules(&config)?;
            Ok(config)
        });
        let config = match read {
            Ok(config) => config,
            Err(message) => {
                refused_config(&format!(
                    "the configuration {} is not valid: {message}",
                    file.path.display()
                ));
                return;
            }
        };
        let changes = describe_changes(&self.config, &config);
        tracing::info!("configuration re-read: {changes}");
        eprintln!("pcosync run: configuration re-read: {changes}");
        self.last_started
            .retain(|name, _| config.accounts.iter().any(|a| &a.name == name));
        self.config = Arc::new(config);
    }

    /// The account due next and when, by the configuration in force, of those without a run
    /// in flight (`running`); None without such accounts.
    fn next_due(
        &self,
        now: DateTime<Local>,
        running: &BTreeSet<String>,
    ) -> Option<(String, DateTime<Local>)> {
        self.config
            .accounts
            .iter()
            .filter(|account| !running.contains(&account.name))
            .map(|account| {
                let last = self.last_started.get(&account.name).copied();
                (
                    account.name.clone(),
                    self.schedule_of(account).next(last, now),
                )
            })
            .min_by_key(|(_, due)| *due)
    }

    /// Runs until `stop` says so; `report` gets every run as it ends.
    pub async fn run(mut self, mut stop: Stop, mut report: impl FnMut(&RunRecord)) {
        if self.import_at_start && !self.import_first(&mut stop, &mut report).await {
            return;
        }
        let mut in_flight: tokio::task::JoinSet<RunRecord> = tokio::task::JoinSet::new();
        // The account of each run in flight, by task.
        let mut running: BTreeMap<tokio::task::Id, String> = BTreeMap::new();
        loop {
            if *stop.borrow() >= 1 {
                break;
            }
            self.reread_config();
            let now = Local::now();
            let busy: BTreeSet<String> = running.values().cloned().collect();
            // Without accounts to run (all removed, or all running), look again later.
            let (name, due) = self
                .next_due(now, &busy)
                .unwrap_or_else(|| (String::new(), now + chrono::Duration::seconds(IDLE_SECS)));
            let wait = (due - now).to_std().unwrap_or(Duration::ZERO);
            tokio::select! {
                _ = tokio::time::sleep(wait) => self.start(&name, &busy, &mut in_flight, &mut running),
                Some(done) = in_flight.join_next_with_id() => report(&finished(done, &mut running)),
                _ = signalled(&mut stop, 1) => break,
            }
        }
        // Stopping: the runs in flight finish, unless a second signal stops them at once.
        while !in_flight.is_empty() {
            tokio::select! {
                Some(done) = in_flight.join_next_with_id() => report(&finished(done, &mut running)),
                _ = signalled(&mut stop, 2) => {
                    in_flight.abort_all();
                    for name in running.values() {
                        report(&interrupted(name, Job::Sync));
                    }
                    return;
                }
            }
        }
    }

    /// Starts a sync of account `name` if it is still configured and not running: what
    /// changed while waiting counts (a removed account is not run, a changed one runs with its
    /// new settings).
    fn start(
        &mut self,
        name: &str,
        busy: &BTreeSet<String>,
        in_flight: &mut tokio::task::JoinSet<RunRecord>,
        running: &mut BTreeMap<tokio::task::Id, String>,
    ) {
        self.reread_config();
        if busy.contains(name) {
            return;
        }
        let Some(account) = self
            .config
            .accounts
            .iter()
            .find(|a| a.name == name)
            .cloned()
        else {
            return;
        };
        self.last_started.insert(name.to_string(), Local::now());
        let (core, config) = (self.core.clone(), self.config.clone());
        let task = in_flight.spawn(async move { core.run_job(&config, &account, Job::Sync).await });
        running.insert(task.id(), name.to_string());
    }

    /// `--import`: the imports, one after another, before the first syncs; false when a
    /// signal stopped them.
    async fn import_first(&mut self, stop: &mut Stop, report: &mut impl FnMut(&RunRecord)) -> bool {
        let importing: Vec<AccountConfig> = self
            .config
            .accounts
            .iter()
            .filter(|account| account.import.is_some())
            .cloned()
            .collect();
        for account in importing {
            if *stop.borrow() >= 1 {
                return false;
            }
            let record = tokio::select! {
                record = self.core.run_job(&self.config, &account, Job::Import) => record,
                _ = signalled(stop, 2) => interrupted(&account.name, Job::Import),
            };
            report(&record);
            if record.outcome == Outcome::Interrupted {
                return false;
            }
        }
        true
    }

    /// One run of `account`, now: resolve and load the component, take the lock, sync (or
    /// import).
    pub async fn run_job(&mut self, account: &AccountConfig, job: Job) -> RunRecord {
        self.core.run_job(&self.config, account, job).await
    }
}

/// The record of a run that ended: its own, or a failure when its task panicked.
fn finished(
    done: Result<(tokio::task::Id, RunRecord), tokio::task::JoinError>,
    running: &mut BTreeMap<tokio::task::Id, String>,
) -> RunRecord {
    match done {
        Ok((id, record)) => {
            running.remove(&id);
            record
        }
        Err(error) => {
            let name = running.remove(&error.id()).unwrap_or_default();
            let mut record = interrupted(&name, Job::Sync);
            record.outcome = Outcome::Failed;
            record.message = Some(format!("the run failed inside the host: {error}"));
            record
        }
    }
}

impl Core {
    /// One run of `account` with `config`: resolve and load the component, take the lock,
    /// sync (or import), within the account's deadline.
    async fn run_job(&self, config: &Config, account: &AccountConfig, job: Job) -> RunRecord {
        let started_at = crate::cli::now_rfc3339();
        let run_id = crate::cli::new_run_id();
        let mut record = RunRecord {
            account: account.name.clone(),
            kind: job,
            mode: None,
            run_id: run_id.clone(),
            outcome: Outcome::Failed,
            component: String::new(),
            component_source: String::new(),
            contract_version: String::new(),
            component_load_ms: 0,
            run_ms: 0,
            fuel_used: 0,
            peak_memory_bytes: 0,
            started_at: started_at.clone(),
            finished_at: String::new(),
            counts: None,
            message: None,
        };
        let began = Instant::now();
        let outcome = self
            .execute(config, account, job, &mut record, run_id, started_at)
            .await;
        record.run_ms = began.elapsed().as_millis() as u64;
        if let Err(message) = outcome {
            record.outcome = Outcome::Failed;
            record.message = Some(message);
        }
        record.finished_at = crate::cli::now_rfc3339();
        record
    }

    async fn execute(
        &self,
        config: &Config,
        account: &AccountConfig,
        job: Job,
        record: &mut RunRecord,
        run_id: String,
        started_at: String,
    ) -> Result<(), String> {
        let loading = Instant::now();
        let loaded = self.guest.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let reused = loaded.as_ref().map(|g| g.digest.clone());
        let (source, guest) = plugin::load_current(&self.runtime, config, &self.data_dir, loaded)
            .await
            .map_err(|e| e.to_string())?;
        if reused.as_deref() != Some(guest.digest.as_str()) {
            record.component_load_ms = loading.elapsed().as_millis() as u64;
            tracing::info!("running {source} (sha256 {})", guest.digest);
        }
        record.component = guest.digest.clone();
        record.contract_version = guest.contract_version.clone();
        record.component_source = match source {
            GuestSource::Configured(_) => "configured",
            GuestSource::Installed(_) => "installed",
            GuestSource::BuiltIn => "built-in",
        }
        .to_string();
        *self.guest.lock().unwrap_or_else(|p| p.into_inner()) = Some(guest.clone());

        let locks: Arc<dyn Locks> = self.store.clone();
        let guard =
            match lock::acquire(locks, &lock::account_resource(&account.name), "pcosync run") {
                Ok(guard) => guard,
                Err(error @ lock::LockError::Held { .. }) => {
                    record.outcome = Outcome::Locked;
                    record.message = Some(error.to_string());
                    return Ok(());
                }
                Err(error) => return Err(error.to_string()),
            };
        let mut capabilities = match &self.connector {
            Connector::Fixed(capabilities) => capabilities.clone(),
            Connector::FromConfig => {
                crate::connect::capabilities_for(config, account, self.store.clone())
                    .await
                    .map_err(|e| format!("{e:#}"))?
            }
        };
        // A run that loses its lock (it stalled, another process took over) writes no more.
        capabilities.state = guard.fenced(capabilities.state);
        let synced_before = synced_people(capabilities.state.as_ref(), &account.name);
        let deadline = account_deadline(synced_before, self.runtime.limits().wall_time);
        let import = match job {
            Job::Import => Some(runs::import_options(account, false)?),
            Job::Sync => None,
        };
        let job_run = async {
            match import {
                None => {
                    let options = SyncOptions {
                        run_id,
                        started_at,
                        dry_run: false,
                        updates_only: None,
                        confirm: None,
                    };
                    let run = Run {
                        runtime: &self.runtime,
                        guest: &guest,
                        capabilities: &capabilities,
                        account,
                        several_accounts: config.accounts.len() > 1,
                    };
                    let synced = run.sync(None, options).await;
                    if let Ok(synced) = &synced {
                        record.mode = Some(synced.mode.describe().to_string());
                    }
                    synced
                        .map(|s| (Ok(s.report), s.usage))
                        .unwrap_or_else(|e| (Err(e.to_string()), self.runtime.last_usage()))
                }
                Some(mut options) => {
                    options.run.run_id = run_id;
                    options.run.started_at = started_at;
                    let report = self
                        .runtime
                        .import(&guest, &capabilities, &account.to_guest(), &options)
                        .await
                        .map_err(|e| e.to_string());
                    (report, self.runtime.last_usage())
                }
            }
        };
        // Dropped at the deadline, between two host calls, as a second signal drops it: the
        // guest's write order makes that safe (R6), and the lock is released.
        let Ok((report, usage)) = tokio::time::timeout(deadline, job_run).await else {
            return Err(format!(
                "the run passed its deadline ({} s for an account of {synced_before} synced \
                 people) and was stopped; what it committed stays, and the next run picks up \
                 from there. Other accounts ran on",
                deadline.as_secs()
            ));
        };
        if let Some(usage) = usage {
            record.fuel_used = usage.fuel;
            record.peak_memory_bytes = usage.peak_memory_bytes as u64;
        }
        let report = report?;
        record.outcome = if report.held {
            record.message = Some(format!(
                "the safety brake held this run: nothing was written. Review it with `pcosync \
                 sync --account \"{}\" --dry-run`, then run `pcosync sync --account \"{}\" \
                 --confirm {}`",
                account.name, account.name, report.run_id
            ));
            Outcome::Held
        } else if report.counts.failed > 0 {
            Outcome::Partial
        } else {
            Outcome::Ok
        };
        record.counts = Some(report.counts);
        Ok(())
    }
}

/// Every account's schedule, checked: the first that is not valid, naming its account.
fn check_schedules(config: &Config) -> Result<(), String> {
    config
        .accounts
        .iter()
        .try_for_each(|account| Schedule::of(account).map(drop))
}

/// Says, on stderr and in the log, that a re-read configuration was refused.
fn refused_config(why: &str) {
    tracing::error!("{why}; the configuration read before stays in force until it is fixed");
    eprintln!(
        "pcosync run: error: {why}\npcosync run: the configuration read before stays in force until the file is fixed"
    );
}

/// What a re-read changed, in a few words: accounts added, removed and changed, and the
/// settings that wait for a restart.
fn describe_changes(old: &Config, new: &Config) -> String {
    let names = |config: &Config| -> Vec<String> {
        config.accounts.iter().map(|a| a.name.clone()).collect()
    };
    let (before, after) = (names(old), names(new));
    let mut parts = Vec::new();
    let added: Vec<&String> = after.iter().filter(|n| !before.contains(n)).collect();
    let removed: Vec<&String> = before.iter().filter(|n| !after.contains(n)).collect();
    let changed: Vec<&String> = after
        .iter()
        .filter(|name| {
            let a = old.accounts.iter().find(|a| &&a.name == name);
            let b = new.accounts.iter().find(|a| &&a.name == name);
            matches!((a, b), (Some(a), Some(b)) if format!("{a:?}") != format!("{b:?}"))
        })
        .collect();
    let quoted = |list: &[&String]| -> String {
        list.iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !added.is_empty() {
        parts.push(format!("accounts added: {}", quoted(&added)));
    }
    if !removed.is_empty() {
        parts.push(format!("accounts removed: {}", quoted(&removed)));
    }
    if !changed.is_empty() {
        parts.push(format!("accounts changed: {}", quoted(&changed)));
    }
    if old.data_dir != new.data_dir || format!("{:?}", old.limits) != format!("{:?}", new.limits) {
        parts.push("data_dir and [limits] take effect when the daemon is restarted".into());
    }
    if parts.is_empty() {
        "no account changed".into()
    } else {
        parts.join("; ")
    }
}

fn interrupted(account: &str, job: Job) -> RunRecord {
    let now = crate::cli::now_rfc3339();
    RunRecord {
        account: account.to_string(),
        kind: job,
        mode: None,
        run_id: String::new(),
        outcome: Outcome::Interrupted,
        component: String::new(),
        component_source: String::new(),
        contract_version: String::new(),
        component_load_ms: 0,
        run_ms: 0,
        fuel_used: 0,
        peak_memory_bytes: 0,
        started_at: now.clone(),
        finished_at: now,
        counts: None,
        message: Some(
            "stopped at once by a second signal: what the run committed stays, and the next \
             run picks up from there"
                .into(),
        ),
    }
}

/// Resolves once `stop` reaches `level`; never when the sender is gone.
async fn signalled(stop: &mut Stop, level: u8) {
    loop {
        if *stop.borrow_and_update() >= level {
            return;
        }
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A channel the first and second SIGTERM or ctrl-c advance (see the module docs).
pub fn stop_on_signals() -> Stop {
    let (sender, receiver) = watch::channel(0u8);
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        loop {
            #[cfg(unix)]
            let terminate = async {
                match term.as_mut() {
                    Some(term) => {
                        term.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let terminate = std::future::pending::<()>();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate => {}
            }
            let count = sender.borrow().saturating_add(1);
            if count == 1 {
                eprintln!(
                    "pcosync run: stopping after the run in flight (signal again to stop at once)"
                );
            } else {
                eprintln!("pcosync run: stopping now");
            }
            sender.send_replace(count);
        }
    });
    receiver
}

#[cfg(test)]
mod tests {
    use super::*;

    // Issue 24 item 19 (R20): a run's deadline comes from its account's size, not a day for
    // everyone; a first sync (size unknown) gets the whole wall time.
    #[test]
    fn a_runs_deadline_follows_its_accounts_size_issue_24_item_19_r20() {
        let day = Duration::from_secs(24 * 3600);
        assert_eq!(account_deadline(0, day), day);
        assert_eq!(account_deadline(40, day), MIN_DEADLINE);
        assert_eq!(account_deadline(5_000, day), Duration::from_secs(15_000));
        assert_eq!(account_deadline(50_000, day), day);
        assert_eq!(account_deadline(usize::MAX, day), day);
        assert!(account_deadline(40, Duration::from_secs(20)) <= Duration::from_secs(20));
    }

    #[test]
    fn schedules_read_cron_with_or_without_seconds_and_name_the_account_when_wrong() {
        let now = Local::now();
        let every_second = Schedule::parse("* * * * * *").unwrap();
        let next = every_second.next(None, now);
        assert!(next > now && next - now <= chrono::Duration::seconds(1));
        let two_hourly = Schedule::parse("0 */2 * * *").unwrap();
        let next = two_hourly.next(None, now);
        assert!(next > now && next - now <= chrono::Duration::hours(2));
        assert!(Schedule::parse("@daily").is_ok());

        let default = Schedule::Every(DEFAULT_INTERVAL);
        assert_eq!(default.next(None, now), now);
        assert_eq!(
            default.next(Some(now), now),
            now + chrono::Duration::hours(2)
        );

        let mut config = Config::parse(
            "[[accounts]]\nname = \"Main\"\napp_id = \"a\"\nsecret = { env = \"X\" }\n",
        )
        .unwrap();
        assert_eq!(
            Schedule::of(&config.accounts[0]).unwrap().describe(),
            "every two hours, from start"
        );
        // Minute 61: the configuration's syntax check lets it through, the daemon does not.
        config.accounts[0].schedule = Some("61 * * * *".into());
        let error = Schedule::of(&config.accounts[0]).unwrap_err();
        assert!(error.contains("account \"Main\""), "{error}");
        assert!(error.contains("61 * * * *"), "{error}");
        assert!(error.contains("0 */2 * * *"), "{error}");
        assert!(
            Schedule::parse("0 0 30 2 *").is_err(),
            "February 30th never comes"
        );
    }
}
