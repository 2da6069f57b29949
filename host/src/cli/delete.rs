//! `pcosync delete PCO_ID...` (R35): delete selected PCO records, from PCO People and Services.
//!
//! Without `--yes` a dry run comes first, showing who goes and who comes back at the next
//! sync (people still in a synced group), and the administrator confirms on the terminal. A
//! script passes `--yes`; without a terminal and without `--yes` nothing is deleted.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::admin_failure;
use super::report::print_report;
use super::status::{Session, pick_account};
use crate::bindings::engine::Report;
use crate::config::Config;
use crate::ops::admin;

#[derive(Args)]
pub struct DeleteArgs {
    /// The account [default: the only configured one].
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    /// Show what would be deleted, and delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// Delete without asking (for scripts).
    #[arg(long, conflicts_with = "dry_run")]
    yes: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// The PCO person ids to delete.
    #[arg(required = true, value_name = "PCO_ID")]
    pco_ids: Vec<String>,
}

pub async fn run(config: &Config, data_dir: &Path, args: DeleteArgs) -> anyhow::Result<ExitCode> {
    let account = pick_account(config, args.account.as_deref())?;
    if !args.dry_run && !args.yes && !std::io::stdin().is_terminal() {
        eprintln!(
            "error: refusing to delete without a confirmation: there is no terminal to ask on. Check what goes with --dry-run, then run again with --yes."
        );
        return Ok(ExitCode::from(2));
    }
    let session = Session::open(config, data_dir, account).await?;
    let delete = |dry_run: bool| admin::delete(&session, account, &args.pco_ids, dry_run);
    let failed = |e| admin_failure(&account.name, e);

    if !args.yes {
        let plan = delete(true).await.map_err(failed)?;
        show(&plan, args.json)?;
        if args.dry_run {
            return Ok(ExitCode::SUCCESS);
        }
        if plan.counts.deleted == 0 {
            println!("Nothing to delete.");
            return Ok(exit_status(&plan));
        }
        warn_comebacks(&plan);
        if !confirm(plan.counts.deleted, &account.name)? {
            println!("Nothing was deleted.");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let report = delete(false).await.map_err(failed)?;
    show(&report, args.json)?;
    Ok(exit_status(&report))
}

fn show(report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        print_report(report);
    }
    Ok(())
}

/// R35: the people the next sync adds back, said before the question.
fn warn_comebacks(plan: &Report) {
    let back = admin::comebacks(plan);
    if !back.is_empty() {
        println!(
            "Warning: {}:\n  {}\n",
            admin::COMEBACK_WARNING,
            back.join("\n  ")
        );
    }
}

fn confirm(count: u32, account: &str) -> anyhow::Result<bool> {
    print!(
        "Delete {count} {} from PCO People and Services in \"{account}\"? Their history in PCO goes with them. Type \"yes\" to delete: ",
        if count == 1 { "person" } else { "people" }
    );
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}

/// 0 everything asked for went (or was already gone), 3 some deletes failed.
fn exit_status(report: &Report) -> ExitCode {
    if report.counts.failed > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}
