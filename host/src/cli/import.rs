//! `pcosync import --account NAME` (R40-R42): brings the account's PCO people into Rock, each
//! into the Rock group chosen for their PCO permission level, linking those Rock already holds
//! and creating the others.
//!
//! The guest decides everything; this command reads `[accounts.import]`, shows the guest's
//! progress (a bar on a terminal, plain lines otherwise) and prints the report. An import
//! stopped for any reason goes on where it stopped when run again, importing nobody twice.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::report::print_report;
use crate::bindings::log::Level;
use crate::bindings::types::ErrorKind;
use crate::config::{AccountConfig, Config};
use crate::log::{Reporter, TracingReporter};
use crate::ops::Session;
use crate::ops::runs::{self, RunFailure, import_options};
use crate::runtime::RunError;
use crate::state::lock::Locks;

#[derive(Args)]
pub struct ImportArgs {
    /// The account to import from [default: the only configured one].
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    /// Show whom the import would link, create and add to which group, and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the report as JSON (for scripts).
    #[arg(long)]
    json: bool,
}

/// Exit status: 0 everyone imported, 3 some people failed (retried next run), 1 the import
/// failed (run it again to go on), 2 bad configuration, 5 another run holds the account.
pub async fn run(config: &Config, data_dir: &Path, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let account = match pick(config, args.account.as_deref()) {
        Ok(account) => account,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::from(2));
        }
    };
    let options = match import_options(account, args.dry_run) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut session = Session::open(config, data_dir, account).await?;
    let progress = Arc::new(ProgressReporter::new(std::io::stderr().is_terminal()));
    session.report_to(progress.clone());
    // One run of an account at a time, across processes (the daemon, cron, people); a dry run
    // writes nothing, so it needs no lock.
    // The lock lives in the session's own state connection, so each commit checks it in the
    // same transaction as its writes.
    let locks: Arc<dyn Locks> = session.locks.clone();
    let result = runs::import(&session, locks, account, &options, "pcosync import").await;
    progress.finish();
    match result {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print_report(&report);
            }
            Ok(if report.counts.failed > 0 {
                eprintln!(
                    "{} people failed; they are tried again when the import runs again.",
                    report.counts.failed
                );
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            })
        }
        Err(RunFailure::Locked(message)) => {
            eprintln!("error: {message}");
            Ok(ExitCode::from(5))
        }
        Err(RunFailure::Host(error)) => Err(error),
        Err(RunFailure::Run(RunError::Guest(error))) if error.kind == ErrorKind::Invalid => {
            eprintln!("error: account \"{}\": {}", account.name, error.message);
            Ok(ExitCode::from(2))
        }
        Err(error) => {
            let message = error.to_string();
            eprintln!(
                "error: account \"{}\": the import stopped: {message}\nRun the same command again to go on where it stopped; nobody is imported twice.",
                account.name
            );
            Ok(ExitCode::from(1))
        }
    }
}

fn pick<'a>(config: &'a Config, name: Option<&str>) -> Result<&'a AccountConfig, String> {
    match (name, config.accounts.as_slice()) {
        (Some(name), _) => config.account(name),
        (None, [only]) => Ok(only),
        (None, []) => {
            Err("the configuration has no [[accounts]]: add one (see README, Configuration)".into())
        }
        (None, several) => Err(format!(
            "several accounts are configured: name one with --account ({})",
            several
                .iter()
                .map(|a| format!("\"{}\"", a.name))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The guest's progress on stderr: a bar on a terminal (drawn from the first progress report
/// on), a plain line per step otherwise (schedulers and logs). Events go to tracing as usual.
struct ProgressReporter {
    terminal: bool,
    /// The bar and the task it shows.
    bar: Mutex<Option<(ProgressBar, String)>>,
}

impl ProgressReporter {
    fn new(terminal: bool) -> ProgressReporter {
        ProgressReporter {
            terminal,
            bar: Mutex::new(None),
        }
    }

    fn bar(&self) -> std::sync::MutexGuard<'_, Option<(ProgressBar, String)>> {
        self.bar.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn finish(&self) {
        if let Some((bar, _)) = self.bar().take() {
            bar.finish_and_clear();
        }
    }
}

fn new_bar(task: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{msg:24} [{bar:40}] {pos}/{len} ({elapsed})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(task.to_string());
    bar
}

impl Reporter for ProgressReporter {
    fn event(&self, level: Level, message: &str, fields: &[(String, String)]) {
        match &*self.bar() {
            Some((bar, _)) => bar.suspend(|| TracingReporter.event(level, message, fields)),
            None => TracingReporter.event(level, message, fields),
        }
    }

    fn progress(&self, task: &str, done: u64, total: Option<u64>) {
        if !self.terminal {
            match total {
                Some(total) => eprintln!("{task}: {done}/{total}"),
                None => eprintln!("{task}: {done}"),
            }
            return;
        }
        let mut current = self.bar();
        if current.as_ref().is_none_or(|(_, shown)| shown != task) {
            if let Some((old, _)) = current.take() {
                old.finish_and_clear();
            }
            *current = Some((new_bar(task), task.to_string()));
        }
        if let Some((bar, _)) = current.as_ref() {
            if let Some(total) = total {
                bar.set_length(total);
            }
            bar.set_position(done);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(toml_import: &str) -> AccountConfig {
        let text = format!(
            "[[accounts]]\nname = \"Main\"\napp_id = \"a\"\nsecret = {{ env = \"X\" }}\n{toml_import}"
        );
        let config: Config = Config::parse(&text).expect("a valid configuration");
        config.accounts.into_iter().next().expect("one account")
    }

    // R40: the import's groups come from [accounts.import]; without them, a message that
    // names the section and the keys.
    #[test]
    fn missing_import_settings_name_the_keys_to_add() {
        let error = import_options(&account(""), false).unwrap_err();
        assert!(error.contains("[accounts.import]"), "{error}");
        assert!(error.contains("groups.viewer = GROUP_ID"), "{error}");
        let error = import_options(&account("[accounts.import]\n"), false).unwrap_err();
        assert!(error.contains("chooses no Rock group"), "{error}");
    }

    #[test]
    fn import_settings_become_the_guest_options() {
        let options = import_options(
            &account(
                "[accounts.import]\nconnection_status = \"Attendee\"\ngroups.viewer = 501\ngroups.editor = 503\n",
            ),
            true,
        )
        .unwrap();
        assert!(options.run.dry_run);
        assert_eq!(options.connection_status, "Attendee");
        let groups: Vec<(String, i64)> = options
            .level_groups
            .iter()
            .map(|g| (format!("{:?}", g.level), g.group_id))
            .collect();
        assert_eq!(
            groups,
            vec![
                ("PermissionLevel::Viewer".to_string(), 501),
                ("PermissionLevel::Editor".to_string(), 503)
            ]
        );
    }
}
