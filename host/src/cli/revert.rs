//! `pcosync revert`: writes back the values a run replaced (R25).

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::admin_failure;
use super::report::print_report;
use crate::config::Config;
use crate::ops::{Session, admin};

#[derive(Args)]
pub struct RevertArgs {
    /// The run to revert (as `pcosync status` and the run's report show it).
    run_id: String,
    /// The account the run belongs to.
    #[arg(long, value_name = "NAME")]
    account: String,
    /// Only this Rock person's changes.
    #[arg(long, value_name = "ROCK_ID")]
    person: Option<i64>,
    /// Show what would be written back, and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Exit status: 0 reverted, 3 some people failed, 1 the revert failed.
pub async fn run(config: &Config, data_dir: &Path, args: RevertArgs) -> anyhow::Result<ExitCode> {
    let account = config
        .account(&args.account)
        .map_err(|e| anyhow::anyhow!(e))?;
    let session = Session::open(config, data_dir, account).await?;
    let report = admin::revert(&session, account, &args.run_id, args.person, args.dry_run)
        .await
        .map_err(|e| admin_failure(&account.name, e))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report);
    }
    Ok(if report.counts.failed > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}
