//! `pcosync sync`: one run per configured account, as a scheduler calls it.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::report::print_report;
use super::{load_guest, new_run_id, now_rfc3339};
use crate::bindings::engine::SyncOptions;
use crate::config::Config;
use crate::runtime::Runtime;
use crate::state::lock::{self, LockError, Locks};

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
    let capabilities = crate::connect::capabilities(config, data_dir).await?;
    let runtime = Runtime::new(config.limits())?;
    let guest = load_guest(&runtime, config, data_dir, None).await?;
    // One run of an account at a time, across processes (the daemon, cron, people). A dry run
    // writes nothing, so it needs no lock.
    let locks: std::sync::Arc<dyn Locks> =
        std::sync::Arc::new(crate::connect::open_state(data_dir)?);
    let mut status = ExitCode::SUCCESS;
    for account in accounts {
        let _lock = if request.dry_run {
            None
        } else {
            let resource = lock::account_resource(&account.name);
            match lock::acquire(locks.clone(), &resource, "pcosync sync") {
                Ok(guard) => Some(guard),
                Err(error @ LockError::Held { .. }) => {
                    eprintln!("error: {error}");
                    if status != ExitCode::from(1) {
                        status = ExitCode::from(5);
                    }
                    continue;
                }
                Err(error) => return Err(error.into()),
            }
        };
        let options = SyncOptions {
            run_id: new_run_id(),
            started_at: now_rfc3339(),
            dry_run: request.dry_run,
            updates_only: request.updates_only.then_some(true),
            confirm: request.confirm.clone(),
        };
        match runtime
            .sync(&guest, &capabilities, &account.to_guest(), &options)
            .await
        {
            Ok(report) => {
                if request.json {
                    println!("{}", serde_json::to_string(&report)?);
                } else {
                    print_report(&report);
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
            Err(error) => {
                eprintln!("error: account \"{}\": {error}", account.name);
                status = ExitCode::from(1);
            }
        }
    }
    Ok(status)
}
