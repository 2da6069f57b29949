//! Running pcosync against a world, two ways:
//!
//! - [`Host::Process`]: the real `pcosync` binary, one process per command, as a scheduler
//!   runs it. A run is killed with SIGKILL once the sandboxes have seen a chosen number of
//!   requests from it (or at a deadline, for a run stuck on a hung response).
//! - [`Host::InProcess`]: the host library in this process, the path `pcosync sync` takes
//!   (configuration, `RestRock`, `HttpPco`, `SqliteState`, the built-in guest through
//!   `pcosync::runtime`), with Rock and PCO behind a kill switch that stops the run dead at
//!   a chosen capability call (as `tests/e2e/tests/crash.rs` does). Its HTTP timeouts are short,
//!   so hung responses are waited out and retried rather than stalling the suite.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use pcosync::bindings::engine::{
    AdminOptions, ImportOptions, LevelGroup, Report, StatusOptions, SyncOptions,
};
use pcosync::config::Config;
use pcosync::pco::http::{Endpoint, HttpOptions, HttpPco};
use pcosync::rock::rest::{RestRock, RestRockOptions};
use pcosync::{Capabilities, Guest, Limits, RunError, Runtime};
use pcosync_e2e::kill::{Ending, KillPoint, KillSwitch};
use serde_json::Value;

use crate::world::World;

/// A command of pcosync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `pcosync sync [--account A] [--updates-only] [--confirm RUN]`.
    Sync {
        account: Option<String>,
        updates_only: bool,
        confirm: Option<String>,
    },
    /// `pcosync import --account A`.
    Import { account: String },
}

impl Op {
    pub fn sync() -> Op {
        Op::Sync {
            account: None,
            updates_only: false,
            confirm: None,
        }
    }
}

/// Where a run is killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kill {
    /// Process: once this many requests reached the sandboxes. In process: at this
    /// capability call (counted from 1), just after it was answered when `after`.
    pub at: usize,
    pub after: bool,
    /// Killed at this point at the latest (a run stuck on hung answers, or backing off).
    pub deadline: Duration,
}

/// How a command ended.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The exit status; None when killed.
    pub code: Option<i32>,
    /// The JSON reports it printed (one per account run).
    pub reports: Vec<Value>,
    pub killed: bool,
    /// What it said on stderr (process), or the error (in process).
    pub stderr: String,
    /// In process: the capability calls the run made, in order ("rock.people",
    /// "POST /people/v2/people", ...), the killing one last.
    pub calls: Vec<String>,
}

pub enum Host {
    Process {
        binary: PathBuf,
        /// A data directory whose compiled-component cache every world's starts from.
        warm: PathBuf,
    },
    InProcess {
        runtime: Box<Runtime>,
        guest: Box<Guest>,
        runs: AtomicUsize,
    },
}

impl Host {
    /// The real binary; compiles the guest once into `warm` (`pcosync check`) so that each
    /// world's first command starts from the cache.
    pub fn process(binary: &Path, warm: &Path) -> anyhow::Result<Host> {
        let output = Command::new(binary)
            .arg("--data-dir")
            .arg(warm)
            .arg("check")
            .env_remove("PCOSYNC_CONFIG")
            .env("RUST_LOG", "info")
            .output()
            .with_context(|| format!("running {}", binary.display()))?;
        anyhow::ensure!(
            output.status.success(),
            "`pcosync check` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(Host::Process {
            binary: binary.to_path_buf(),
            warm: warm.to_path_buf(),
        })
    }

    /// The host library in this process, with the built-in guest compiled once.
    pub async fn in_process() -> anyhow::Result<Host> {
        let runtime = Runtime::new(Limits::default())?;
        let guest = runtime.load(pcosync::DEFAULT_GUEST, None).await?;
        Ok(Host::InProcess {
            runtime: Box::new(runtime),
            guest: Box::new(guest),
            runs: AtomicUsize::new(0),
        })
    }

    pub fn is_process(&self) -> bool {
        matches!(self, Host::Process { .. })
    }

    /// Gives the world's data directory the warm compile cache (process mode).
    pub fn prepare(&self, world: &World) -> anyhow::Result<()> {
        if let Host::Process { warm, .. } = self {
            let from = warm.join("compiled");
            let to = world.data_dir().join("compiled");
            std::fs::create_dir_all(&to)?;
            for entry in std::fs::read_dir(&from)? {
                let entry = entry?;
                let target = to.join(entry.file_name());
                if std::fs::hard_link(entry.path(), &target).is_err() {
                    std::fs::copy(entry.path(), &target)?;
                }
            }
        }
        Ok(())
    }

    /// Runs `op` to its end.
    pub async fn run(&self, world: &World, op: &Op) -> anyhow::Result<Outcome> {
        self.run_killed(world, op, None).await
    }

    /// Runs `op`, killed at `kill` unless it ends first.
    pub async fn run_killed(
        &self,
        world: &World,
        op: &Op,
        kill: Option<Kill>,
    ) -> anyhow::Result<Outcome> {
        match self {
            Host::Process { binary, .. } => run_process(binary, world, op, kill).await,
            Host::InProcess {
                runtime,
                guest,
                runs,
            } => {
                let run = runs.fetch_add(1, Ordering::SeqCst);
                run_in_process(runtime, guest, run, world, op, kill).await
            }
        }
    }

    /// `pcosync status --json` for every account: the JSON status of each, or why not.
    pub async fn status(&self, world: &World) -> anyhow::Result<Vec<Value>> {
        match self {
            Host::Process { binary, .. } => {
                let mut command = Command::new(binary);
                command
                    .arg("--config")
                    .arg(world.config_path())
                    .args(["status", "--json"])
                    .env_remove("PCOSYNC_CONFIG")
                    .env_remove("PCOSYNC_DATA_DIR")
                    .env("RUST_LOG", "error");
                let output = tokio::task::spawn_blocking(move || command.output()).await??;
                anyhow::ensure!(
                    output.status.success(),
                    "`pcosync status --json` exited {:?}: {}",
                    output.status.code(),
                    String::from_utf8_lossy(&output.stderr)
                );
                json_lines(&String::from_utf8_lossy(&output.stdout))
            }
            Host::InProcess { runtime, guest, .. } => {
                let config = world.config()?;
                let capabilities = capabilities(&config, &world.data_dir()).await?;
                let options = StatusOptions {
                    with_values: false,
                    rock_ids: Vec::new(),
                    runs: 5,
                };
                let mut all = Vec::new();
                for account in &config.accounts {
                    let status = runtime
                        .status(guest, &capabilities, &account.to_guest(), &options)
                        .await
                        .map_err(|e| anyhow::anyhow!("status of {}: {e}", account.name))?;
                    let text = serde_json::to_string(&status)?;
                    all.push(serde_json::from_str(&text)?);
                }
                Ok(all)
            }
        }
    }
}

/// Every non-empty line of `text` as JSON.
fn json_lines(text: &str) -> anyhow::Result<Vec<Value>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).with_context(|| format!("not JSON: {l}")))
        .collect()
}

fn args(op: &Op) -> Vec<String> {
    match op {
        Op::Sync {
            account,
            updates_only,
            confirm,
        } => {
            let mut args = vec!["sync".to_string(), "--json".to_string()];
            if let Some(account) = account {
                args.extend(["--account".to_string(), account.clone()]);
            }
            if *updates_only {
                args.push("--updates-only".into());
            }
            if let Some(run) = confirm {
                args.extend(["--confirm".to_string(), run.clone()]);
            }
            args
        }
        Op::Import { account } => vec![
            "import".into(),
            "--json".into(),
            "--account".into(),
            account.clone(),
        ],
    }
}

/// Requests both sandboxes have logged.
fn requests_seen(world: &World) -> usize {
    world.pco.requests().len() + world.rock.requests().len()
}

async fn run_process(
    binary: &Path,
    world: &World,
    op: &Op,
    kill: Option<Kill>,
) -> anyhow::Result<Outcome> {
    let out = world.scratch().join("stdout");
    let err = world.scratch().join("stderr");
    let mut child = Command::new(binary)
        .arg("--config")
        .arg(world.config_path())
        .args(args(op))
        .env_remove("PCOSYNC_CONFIG")
        .env_remove("PCOSYNC_DATA_DIR")
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out)?)
        .stderr(std::fs::File::create(&err)?)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let started = Instant::now();
    let before = requests_seen(world);
    let mut killed = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if let Some(kill) = kill
            && (requests_seen(world) - before >= kill.at || started.elapsed() >= kill.deadline)
        {
            // SIGKILL: no destructor, no flush, no lock release runs in the child.
            child.kill()?;
            child.wait()?;
            killed = true;
            break None;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let stdout = std::fs::read_to_string(&out).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    // Every run's log, for the privacy check (R53) at the scenario's end.
    {
        use std::io::Write as _;
        let mut all = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(world.log_path())?;
        all.write_all(stderr.as_bytes())?;
    }
    // A killed run may have printed half a line: keep only what parses.
    let reports = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    Ok(Outcome {
        code: status.and_then(|s| s.code()),
        reports,
        killed,
        stderr,
        calls: Vec::new(),
    })
}

/// The capabilities `pcosync::connect::capabilities` builds, with HTTP timeouts short enough
/// that a hung response costs a second, not half a minute.
async fn capabilities(config: &Config, data_dir: &Path) -> anyhow::Result<Capabilities> {
    let rock = config.rock.as_ref().context("a [rock] section")?;
    let token = rock
        .token
        .resolve("rock token")
        .map_err(anyhow::Error::msg)?;
    let mut rock_options = RestRockOptions::new(rock.url.clone(), token);
    rock_options.timeout = Duration::from_secs(2);
    let rock = RestRock::connect(rock_options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to Rock: {}", e.message))?;
    let mut endpoints = Vec::new();
    for account in &config.accounts {
        endpoints.push(Endpoint {
            name: account.name.clone(),
            base_url: config.pco.api_url.clone(),
            upload_url: config.pco.upload_url.clone(),
            app_id: account.app_id.clone(),
            secret: account
                .secret
                .resolve("secret")
                .map_err(anyhow::Error::msg)?,
        });
    }
    let options = HttpOptions {
        timeout: Duration::from_secs(1),
        ..HttpOptions::default()
    };
    let pco = HttpPco::new(endpoints, options).map_err(anyhow::Error::msg)?;
    Ok(Capabilities {
        rock: Arc::new(rock),
        pco: Arc::new(pco),
        state: Arc::new(pcosync::connect::open_state(data_dir)?),
        reporter: Arc::new(pcosync::log::TracingReporter),
    })
}

fn now(world: &World) -> String {
    world.pco.now()
}

/// What `pcosync sync` / `pcosync import` exit with for these results.
fn exit_code(results: &[Result<Report, RunError>]) -> i32 {
    let mut code = 0;
    for result in results {
        match result {
            Ok(report) if report.held => code = code.max(4),
            Ok(report) if report.counts.failed > 0 => code = code.max(3),
            Ok(_) => {}
            Err(_) => code = 1.max(code),
        }
    }
    if results.iter().any(Result::is_err) {
        1
    } else {
        code
    }
}

async fn run_in_process(
    runtime: &Runtime,
    guest: &Guest,
    run: usize,
    world: &World,
    op: &Op,
    kill: Option<Kill>,
) -> anyhow::Result<Outcome> {
    let config = world.config()?;
    // A system that cannot be reached under the run's faults fails that run, as the real
    // binary exits 1: a faulty run's outcome, not the scenario's error.
    let capabilities = match capabilities(&config, &world.data_dir()).await {
        Ok(capabilities) => capabilities,
        Err(error) => {
            return Ok(Outcome {
                code: Some(1),
                reports: Vec::new(),
                killed: false,
                stderr: format!("error: {error:#}"),
                calls: Vec::new(),
            });
        }
    };
    let point = match kill {
        None => KillPoint::Never,
        Some(Kill {
            at, after: true, ..
        }) => KillPoint::After(at.max(1)),
        Some(Kill { at, .. }) => KillPoint::Before(at.max(1)),
    };
    let switch = KillSwitch::new(point);
    let capabilities = switch.wrap(capabilities);
    let run_id = format!("chaos-{run}-{}", world.options.seed);
    let work = async {
        let mut results = Vec::new();
        match op {
            Op::Sync {
                account,
                updates_only,
                confirm,
            } => {
                for config_account in &config.accounts {
                    if account.as_ref().is_some_and(|a| *a != config_account.name) {
                        continue;
                    }
                    let options = SyncOptions {
                        run_id: format!("{run_id}-{}", results.len()),
                        started_at: now(world),
                        dry_run: false,
                        updates_only: updates_only.then_some(true),
                        confirm: confirm.clone(),
                    };
                    let account = config_account.to_guest();
                    results.push(runtime.sync(guest, &capabilities, &account, &options).await);
                }
            }
            Op::Import { account } => {
                let config_account = config.account(account).map_err(anyhow::Error::msg)?;
                let import = config_account.import.as_ref().context("import settings")?;
                let options = ImportOptions {
                    run: AdminOptions {
                        run_id: run_id.clone(),
                        started_at: now(world),
                        dry_run: false,
                    },
                    level_groups: import
                        .groups
                        .by_level()
                        .into_iter()
                        .map(|(level, group_id)| LevelGroup { level, group_id })
                        .collect(),
                    connection_status: import.connection_status.clone(),
                };
                results.push(
                    runtime
                        .import(guest, &capabilities, &config_account.to_guest(), &options)
                        .await,
                );
            }
        }
        anyhow::Ok(results)
    };
    let deadline = kill.map_or(Duration::MAX, |k| k.deadline);
    let ending = match tokio::time::timeout(deadline, switch.run(work)).await {
        Ok(ending) => ending,
        // Dropping the run at its deadline stops it dead, as a kill at a call does.
        Err(_) => Ending::Killed,
    };
    match ending {
        Ending::Killed => Ok(Outcome {
            code: None,
            reports: Vec::new(),
            killed: true,
            stderr: String::new(),
            calls: switch.calls(),
        }),
        Ending::Finished(results) => {
            let results = results?;
            let code = exit_code(&results);
            let mut reports = Vec::new();
            let mut stderr = String::new();
            for result in &results {
                match result {
                    Ok(report) => reports.push(serde_json::to_value(report)?),
                    Err(error) => stderr.push_str(&format!("{error}\n")),
                }
            }
            Ok(Outcome {
                code: Some(code),
                reports,
                killed: false,
                stderr,
                calls: switch.calls(),
            })
        }
    }
}
