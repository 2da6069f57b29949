//! `pcosync run`: the daemon (see `crate::daemon`).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::cli::config::ConfigLocation;
use crate::config::Config;
use crate::daemon::{self, Connector, Daemon, Schedule};
use crate::runtime::Runtime;

#[derive(Args)]
pub struct RunArgs {
    /// Print each run as one JSON line (for log collectors and scripts).
    #[arg(long)]
    json: bool,
    /// Ignore the configured schedules: sync every account at start, then every SECS seconds
    /// (for trying the daemon out), at most a year (31622400).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=MAX_INTERVAL_SECS))]
    pub(super) interval: Option<u64>,
    /// First run the import from PCO of each account that has [accounts.import]; it
    /// resumes where a stopped import left off and imports nobody twice.
    #[arg(long)]
    import: bool,
}

/// The longest `--interval`: a year (issue 24 item 18).
pub const MAX_INTERVAL_SECS: u64 = 366 * 24 * 3600;

/// Exit status: 0 stopped by SIGTERM or ctrl-c; 2 bad configuration (e.g. a schedule);
/// 1 the daemon could not start.
pub async fn run(
    config: Config,
    location: &ConfigLocation,
    data_dir: &Path,
    args: RunArgs,
) -> anyhow::Result<ExitCode> {
    for account in &config.accounts {
        if let Err(error) = Schedule::of(account) {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(2));
        }
    }
    let runtime = Runtime::new(config.limits())?;
    let mut daemon = Daemon::new(
        config,
        data_dir.to_path_buf(),
        runtime,
        Connector::FromConfig,
    )?;
    // The configuration came from this file: it is read again before each run.
    if let Some(path) = location.path.clone().filter(|p| p.is_file()) {
        daemon.reread_before_each_run(path);
    }
    if args.import {
        daemon.import_at_start();
    }
    if let Some(seconds) = args.interval {
        daemon.override_schedules(Schedule::Every(Duration::from_secs(seconds)));
    }
    eprintln!(
        "pcosync run: pid {}, data in {}; SIGTERM or ctrl-c stops after the run in flight",
        std::process::id(),
        data_dir.display()
    );
    for (account, schedule) in daemon.schedules() {
        eprintln!("  {account}: {schedule}");
    }
    let stop = daemon::stop_on_signals();
    daemon
        .run(stop, |record| {
            if args.json {
                println!("{}", serde_json::to_string(record).unwrap_or_default());
            } else {
                println!("{}", record.line());
            }
        })
        .await;
    eprintln!("pcosync run: stopped");
    Ok(ExitCode::SUCCESS)
}
