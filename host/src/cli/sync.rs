//! `pcosync sync`: one run per configured account, as a scheduler calls it.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::report::print_report_with;
use crate::config::Config;
use crate::ops::Session;
use crate::ops::runs::{self, RunFailure, SyncRequest};
use crate::state::lock::Locks;

#[derive(Args)]
pub struct SyncArgs {
    /// Only this account.
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    /// Show everything the sync would change, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Ask PCO only for people updated since the last successful run.
    #[arg(long)]
    updates_only: bool,
    /// Apply a run the safety brake held, by its run id.
    #[arg(long, value_name = "RUN_ID")]
    confirm: Option<String>,
    /// Print the report as JSON (for schedulers and scripts).
    #[arg(long)]
    json: bool,
    /// Print each change's values before and after [default: only on a terminal; otherwise
    /// the fields that changed, without their values, which are personal data].
    #[arg(long)]
    values: bool,
}

/// Exit status of a sync: 0 everyone synced, 3 some people failed (retried next run),
/// 4 a run was held by the safety brake, 1 a run failed, 5 another process is syncing the
/// account (nothing was run for it; the message says who, since when).
pub async fn run(config: &Config, data_dir: &Path, request: SyncArgs) -> anyhow::Result<ExitCode> {
    let accounts: Vec<&crate::config::AccountConfig> = match &request.account {
        Some(name) => vec![config.account(name).map_err(|e| anyhow::anyhow!(e))?],
        None => config.accounts.iter().collect(),
    };
    if accounts.is_empty() {
        anyhow::bail!("the configuration has no [[accounts]]: add one (see README, Configuration)");
    }
    let mut status = ExitCode::SUCCESS;
    let sync = SyncRequest {
        dry_run: request.dry_run,
        updates_only: request.updates_only,
        confirm: request.confirm.clone(),
    };
    for account in accounts {
        // Each account's session holds that account's credentials alone.
        let session = Session::open(config, data_dir, account).await?;
        // One run of an account at a time, across processes (the daemon, cron, people). A dry
        // run writes nothing, so it needs no lock.
        let locks: std::sync::Arc<dyn Locks> = session.locks.clone();
        match runs::sync(&session, locks, account, &sync, "pcosync sync").await {
            Ok(report) => {
                if request.json {
                    println!("{}", serde_json::to_string(&report)?);
                } else {
                    use std::io::IsTerminal;
                    print_report_with(&report, request.values || std::io::stdout().is_terminal());
                }
                if report.held {
                    eprintln!(
                        "The safety brake held this run: nothing was written. Review it above, then run `pcosync sync --account \"{}\" --confirm {}`.",
                        report.account, report.run_id
                    );
                    status = ExitCode::from(4);
                } else if report.counts.failed > 0 && status == ExitCode::SUCCESS {
                    status = ExitCode::from(3);
                }
            }
            Err(RunFailure::Locked(message)) => {
                eprintln!("error: {message}");
                if status != ExitCode::from(1) {
                    status = ExitCode::from(5);
                }
            }
            Err(RunFailure::Host(error)) => return Err(error),
            Err(RunFailure::Run(error)) => {
                eprintln!("error: account \"{}\": {error}", account.name);
                status = ExitCode::from(1);
            }
        }
    }
    Ok(status)
}
