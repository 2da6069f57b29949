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
                    let report = if request.values {
                        report.clone()
                    } else {
                        without_values(report.clone())
                    };
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

/// `report` without the values before and after of its field changes (issue 24 item 19, R53):
/// `sync --json` prints them only with `--values`, as the text output off a terminal.
fn without_values(mut report: crate::bindings::engine::Report) -> crate::bindings::engine::Report {
    use crate::bindings::engine::Action;
    for person in &mut report.people {
        for action in &mut person.actions {
            if let Action::Updated(change) | Action::Conflict(change) | Action::Reverted(change) =
                action
            {
                change.before = None;
                change.after = None;
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::without_values;
    use crate::bindings::engine::{Action, Direction, FieldChange, PersonOutcome, Report};

    /// Issue 24 item 19 (R53): `sync --json` without `--values` names the fields that changed,
    /// never their values.
    #[test]
    fn sync_json_leaves_values_out_without_values_issue_24_item_19_r53() {
        let change = FieldChange {
            field: "email".into(),
            direction: Direction::RockToPco,
            before: Some("old@example.org".into()),
            after: Some("new@example.org".into()),
        };
        let mut report: Report = serde_json::from_value(serde_json::json!({
            "run_id": "r", "kind": "Sync", "account": "Main", "dry_run": true, "held": false,
            "counts": {"synced": 1, "linked": 0, "created": 0, "updated_to_pco": 1,
                "updated_to_rock": 0, "conflicts": 0, "raised": 0, "lowered": 0, "archived": 0,
                "skipped": 0, "failed": 0, "imported": 0, "deleted": 0, "reverted": 0},
            "people": []
        }))
        .unwrap();
        report.people.push(PersonOutcome {
            rock_id: Some(1),
            pco_id: Some("2".into()),
            actions: vec![
                Action::Updated(change.clone()),
                Action::Conflict(change.clone()),
                Action::Reverted(change),
            ],
        });
        let json = serde_json::to_string(&without_values(report.clone())).unwrap();
        assert!(json.contains("email"), "{json}");
        assert!(!json.contains("example.org"), "{json}");
        assert!(
            serde_json::to_string(&report)
                .unwrap()
                .contains("old@example.org")
        );
    }
}
