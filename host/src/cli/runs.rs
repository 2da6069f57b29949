//! `pcosync runs show RUN_ID` (R25): a run's summary and every write it recorded.

use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::status::{
    Session, counts_text, kind_name, outcome_name, pick_account, plain, table, time_text,
};
use crate::bindings::engine::{Direction, RunDetail};
use crate::config::Config;
use crate::ops::admin;

#[derive(Subcommand)]
pub enum RunsCommand {
    /// A run's summary and every write it made, with the value before and after.
    Show(ShowArgs),
}

#[derive(Args)]
pub struct ShowArgs {
    /// The account [default: the only configured one].
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    /// Print the run as JSON.
    #[arg(long)]
    json: bool,
    /// The run id, as `pcosync status` lists it.
    run_id: String,
}

pub async fn run(
    config: &Config,
    data_dir: &Path,
    command: RunsCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        RunsCommand::Show(args) => show(config, data_dir, args).await,
    }
}

async fn show(config: &Config, data_dir: &Path, args: ShowArgs) -> anyhow::Result<ExitCode> {
    let account = pick_account(config, args.account.as_deref())?;
    let session = Session::open(config, data_dir, account).await?;
    let detail = admin::run_detail(&session, account, &args.run_id)
        .await
        .map_err(|e| anyhow::anyhow!("account \"{}\": {}", account.name, plain(&e)))?;
    if args.json {
        println!("{}", serde_json::to_string(&detail)?);
    } else {
        print_detail(&account.name, &detail);
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the run, its data (names, values) made terminal-safe (issue 24 item 19).
fn print_detail(account: &str, detail: &RunDetail) {
    print!(
        "{}",
        super::status::terminal_safe(&detail_text(account, detail))
    );
}

/// The run as `pcosync runs show` prints it, before [`super::status::terminal_safe`].
fn detail_text(account: &str, detail: &RunDetail) -> String {
    let mut out = String::new();
    let s = &detail.summary;
    say!(
        out,
        "Run {} · {} · account \"{account}\"{}",
        s.run_id,
        kind_name(s.kind),
        if s.dry_run { " · dry run" } else { "" }
    );
    say!(out, "  started   {}", time_text(&s.started_at));
    say!(
        out,
        "  finished  {}",
        s.finished_at
            .as_deref()
            .map_or("- (still running, or stopped)".to_string(), time_text)
    );
    say!(out, "  outcome   {}", outcome_name(s.outcome));
    say!(out, "  counts    {}", counts_text(&s.counts));
    say!(out);
    say!(out, "Writes ({})", detail.writes.len());
    if detail.writes.is_empty() {
        say!(out, "  none recorded");
        return out;
    }
    // A create or delete ("person") has no value on one side: the person did not exist.
    let value = |field: &str, v: &Option<String>| match v {
        Some(text) => text.replace('\n', ", "),
        None if field == "person" || field == "link" => "-".into(),
        None => "(blank)".into(),
    };
    let rows: Vec<Vec<String>> = detail
        .writes
        .iter()
        .map(|w| {
            vec![
                w.rock_id.map_or("-".into(), |id| id.to_string()),
                w.pco_id.clone().unwrap_or_else(|| "-".into()),
                match w.direction {
                    Direction::RockToPco => "PCO".into(),
                    Direction::PcoToRock => "Rock".into(),
                },
                w.field.clone(),
                value(&w.field, &w.before),
                value(&w.field, &w.after),
            ]
        })
        .collect();
    say!(
        out,
        "{}",
        table(
            &[
                "ROCK ID",
                "PCO ID",
                "WRITTEN TO",
                "FIELD",
                "BEFORE",
                "AFTER"
            ],
            &rows
        )
    );
    out
}
