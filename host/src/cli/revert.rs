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
    /// Apply only what the preview (`--dry-run`) showed: the fingerprint it printed. When
    /// anything changed since, nothing is written.
    #[arg(long, value_name = "FINGERPRINT", conflicts_with = "dry_run")]
    confirm: Option<String>,
}

/// Exit status: 0 reverted, 3 some people failed, 1 the revert failed.
pub async fn run(config: &Config, data_dir: &Path, args: RevertArgs) -> anyhow::Result<ExitCode> {
    let account = config
        .account(&args.account)
        .map_err(|e| anyhow::anyhow!(e))?;
    let session = Session::open(config, data_dir, account).await?;
    let report = admin::revert(
        &session,
        account,
        &args.run_id,
        args.person,
        args.dry_run,
        args.confirm.as_deref(),
    )
    .await
    .map_err(|e| admin_failure(&account.name, e))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report);
    }
    if args.dry_run {
        eprintln!("{}", apply_hint(&args, &account.name, &report));
    }
    Ok(if report.counts.failed > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

/// How to apply exactly this preview (issue 24 item 19): its fingerprint in the command.
fn apply_hint(
    args: &RevertArgs,
    account: &str,
    report: &crate::bindings::engine::Report,
) -> String {
    let person = args
        .person
        .map(|id| format!(" --person {id}"))
        .unwrap_or_default();
    format!(
        "Preview {fingerprint}. Apply exactly this with `pcosync revert {run} --account \"{account}\"{person} --confirm {fingerprint}`; if anything changed since, nothing is written.",
        fingerprint = admin::revert_fingerprint(report),
        run = args.run_id,
    )
}
