//! The `pcosync` command line: one module per command; this one parses, loads the
//! configuration and dispatches.

/// `println!` into a `String` (`say!(out, ...)`), printed once, made terminal-safe, at the end
/// (declared before the modules that use it, which is how `macro_rules!` is scoped).
macro_rules! say {
    ($out:ident) => {
        $out.push('\n')
    };
    ($out:ident, $($arg:tt)*) => {{
        $out.push_str(&format!($($arg)*));
        $out.push('\n');
    }};
}

/// `println!`, `eprintln!`, `print!` and `eprint!` for what the commands print: the line is
/// made terminal-safe (`ops::text::terminal_safe`) first, since it holds data from Rock and PCO
/// (names, tags, groups, their messages): an escape sequence in them must not reach the
/// operator's terminal (issue 24 item 19).
macro_rules! println {
    () => {
        std::println!()
    };
    ($($arg:tt)*) => {
        std::println!("{}", $crate::ops::text::terminal_safe(&format!($($arg)*)))
    };
}

macro_rules! eprintln {
    () => {
        std::eprintln!()
    };
    ($($arg:tt)*) => {
        std::eprintln!("{}", $crate::ops::text::terminal_safe(&format!($($arg)*)))
    };
}

macro_rules! print {
    ($($arg:tt)*) => {
        std::print!("{}", $crate::ops::text::terminal_safe(&format!($($arg)*)))
    };
}

macro_rules! eprint {
    ($($arg:tt)*) => {
        std::eprint!("{}", $crate::ops::text::terminal_safe(&format!($($arg)*)))
    };
}

mod account;
mod check;
mod config;
mod delete;
mod email;
mod group_types;
mod import;
mod link;
mod plugin;
mod report;
mod revert;
mod rock;
mod run;
mod runs;
pub(crate) mod serve;
mod status;
mod sync;
mod tag;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use cap_std::fs::Dir;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::runtime::{Guest, Runtime};

pub use report::print_report;

/// Exit status of a command refused because another process holds the account (a sync, an
/// import, a link...): nothing was done; try again when it is finished.
pub const EXIT_ACCOUNT_BUSY: u8 = 5;

/// Another process holds the account's lock: the command did nothing (exit status 5).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AccountBusy(pub String);

/// An administration operation's failure as the command line reports it: the account's lock
/// held elsewhere exits 5 ([`AccountBusy`]), anything else names the account.
pub fn admin_failure(account: &str, error: crate::runtime::RunError) -> anyhow::Error {
    match error {
        crate::runtime::RunError::Locked(message) => AccountBusy(message).into(),
        other => anyhow::anyhow!("account \"{account}\": {}", crate::ops::plain(&other)),
    }
}

/// Keeps a church's people in step between Rock RMS (the master list) and Planning Center
/// Online. The sync rules run in a sandboxed WebAssembly component; this program holds the
/// credentials and carries out what the component decides.
#[derive(Parser)]
#[command(name = "pcosync", version, about, long_about = None)]
struct Cli {
    /// Configuration file (TOML) [default: $XDG_CONFIG_HOME/pcosync/pcosync.toml, else
    /// ~/.config/pcosync/pcosync.toml]. `pcosync config path` shows the one in use.
    #[arg(
        long,
        global = true,
        env = "PCOSYNC_CONFIG",
        value_name = "FILE",
        help_heading = "Global options"
    )]
    config: Option<PathBuf>,
    /// Directory for the state file and the compiled-component cache
    /// [default: data_dir from the configuration, else ~/.local/share/pcosync].
    #[arg(
        long,
        global = true,
        env = "PCOSYNC_DATA_DIR",
        value_name = "DIR",
        help_heading = "Global options"
    )]
    data_dir: Option<PathBuf>,
    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Global options")]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sync the configured PCO accounts with Rock (all of them, or one).
    Sync(sync::SyncArgs),
    /// Bring the account's PCO people into Rock, each into the group of their PCO level;
    /// goes on where a stopped import left off.
    Import(import::ImportArgs),
    /// Show the product working on a generated congregation, with nothing to set up.
    Demo {
        /// How many people the generated congregation has (at most 100000).
        #[arg(long, default_value_t = 40, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=crate::demo::MAX_PEOPLE as u64))]
        people: usize,
        /// Seed of the generated congregation (same seed, same people).
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Print the reports as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Load the guest component and check that this host can run it.
    Check(check::CheckArgs),
    /// Write back the values a run replaced, for all its people or one.
    Revert(revert::RevertArgs),
    /// What an account syncs and with whom: its groups, its people (Rock id, name, PCO id,
    /// level in Rock and in PCO, last sync) and its recent runs.
    Status(status::StatusArgs),
    /// Rebuild an account's people list from the Rock groups now, without a sync; writes
    /// nothing to PCO.
    Refresh(status::RefreshArgs),
    /// Set a person's PCO id by hand (re-link); the next sync merges the two.
    Link(link::LinkArgs),
    /// Delete PCO people from PCO People and Services; asks first, after a dry run.
    Delete(delete::DeleteArgs),
    /// Email changes from PCO that wait for an administrator (people with a Rock login or
    /// account protection Medium and above): list them, confirm one.
    Email {
        #[command(subcommand)]
        command: email::EmailCommand,
    },
    /// Review past runs.
    Runs {
        #[command(subcommand)]
        command: runs::RunsCommand,
    },
    /// Set up Rock for the sync.
    Rock {
        #[command(subcommand)]
        command: rock::RockCommand,
    },
    /// Install, list and roll back guest components; sign them.
    Plugin {
        #[command(subcommand)]
        command: plugin::PluginCommand,
    },
    /// The daemon: sync each account on its schedule until SIGTERM or ctrl-c.
    Run(run::RunArgs),
    /// Add, edit, list and remove PCO accounts; list their welcome email templates.
    Account {
        #[command(subcommand)]
        command: account::AccountCommand,
    },
    /// List an account's PCO tags; map them to Rock groups.
    Tag {
        #[command(subcommand)]
        command: tag::TagCommand,
    },
    /// Choose which Rock group types sync to an account.
    GroupTypes {
        #[command(subcommand)]
        command: group_types::GroupTypesCommand,
    },
    /// The web admin: the account, tag, group type, people, sync, import and run pages, on
    /// loopback, signed in with `[web] admin_token`.
    Serve(serve::ServeArgs),
    /// The configuration file: where it is, check it against Rock and PCO, set general keys.
    Config {
        #[command(subcommand)]
        command: config::ConfigCommand,
    },
}

impl Command {
    /// Commands that cannot do anything without a configuration file; they say where they
    /// looked and how to make one. The others run on defaults (or create the file).
    fn needs_config(&self) -> bool {
        match self {
            Command::Account { command } => !command.config_optional(),
            Command::Config { .. } => false,
            _ => matches!(
                self,
                Command::Sync(_)
                    | Command::Import(_)
                    | Command::Status(_)
                    | Command::Refresh(_)
                    | Command::Link(_)
                    | Command::Delete(_)
                    | Command::Email { .. }
                    | Command::Runs { .. }
                    | Command::Revert(_)
                    | Command::Run(_)
                    | Command::Tag { .. }
                    | Command::GroupTypes { .. }
                    | Command::Serve(_)
            ),
        }
    }

    /// Commands that report a broken configuration themselves.
    fn reports_broken_config(&self) -> bool {
        matches!(self, Command::Config { command } if command.config_optional())
    }
}

/// Exit status: 0 success, 1 the run failed, 2 bad configuration or usage.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    // --config, else PCOSYNC_CONFIG, else the default path; a missing file means the defaults
    // for commands that can run on them.
    let location = config::ConfigLocation::resolve(cli.config.clone());
    let config = match location.load() {
        Ok(Some(config)) => config,
        Ok(None) if cli.command.needs_config() => {
            eprintln!("error: {}", location.missing());
            return ExitCode::from(2);
        }
        Ok(None) => Config::default(),
        Err(_) if cli.command.reports_broken_config() => Config::default(),
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("starting the async runtime");
    match runtime.block_on(run(cli, location, config)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            if error.downcast_ref::<AccountBusy>().is_some() {
                ExitCode::from(EXIT_ACCOUNT_BUSY)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

async fn run(
    cli: Cli,
    location: config::ConfigLocation,
    config: Config,
) -> anyhow::Result<ExitCode> {
    let data_dir = cli
        .data_dir
        .clone()
        .or_else(|| config.data_dir.clone())
        .unwrap_or_else(default_data_dir);
    match cli.command {
        Command::Sync(args) => sync::run(&config, &data_dir, args).await,
        Command::Import(args) => import::run(&config, &data_dir, args).await,
        Command::Check(args) => check::run(&config, &data_dir, args).await,
        Command::Demo { people, seed, json } => {
            crate::demo::run(&config, &data_dir, people, seed, json).await
        }
        Command::Rock { command } => rock::run(&config, &data_dir, command).await,
        Command::Status(args) => status::run(&config, &data_dir, args).await,
        Command::Refresh(args) => status::refresh(&config, &data_dir, args).await,
        Command::Link(args) => link::run(&config, &data_dir, args).await,
        Command::Delete(args) => delete::run(&config, &data_dir, args).await,
        Command::Email { command } => email::run(&config, &data_dir, command).await,
        Command::Runs { command } => runs::run(&config, &data_dir, command).await,
        Command::Revert(args) => revert::run(&config, &data_dir, args).await,
        Command::Plugin { command } => plugin::run(&config, &data_dir, command).await,
        Command::Run(args) => run::run(config, &location, &data_dir, args).await,
        Command::Account { command } => account::run(&location, &config, &data_dir, command).await,
        Command::Tag { command } => tag::run(&location, &config, &data_dir, command).await,
        Command::GroupTypes { command } => {
            group_types::run(&location, &config, &data_dir, command).await
        }
        Command::Serve(args) => serve::run(&location, &config, &data_dir, args).await,
        Command::Config { command } => config::run(&location, &config, &data_dir, command).await,
    }
}

fn default_data_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("pcosync")
}

fn open_data_dir(path: &Path) -> anyhow::Result<Dir> {
    crate::state::private::open_data_dir(path)
}

/// Loads the configured guest (or the built-in one) through the compile cache.
pub(crate) async fn load_guest(
    runtime: &Runtime,
    config: &Config,
    data_dir: &Path,
    component: Option<&Path>,
) -> anyhow::Result<Guest> {
    let dir = open_data_dir(data_dir)?;
    let cache = crate::plugin::compile_cache(&config.plugins, &dir)
        .with_context(|| format!("cannot open the compile cache in {}", data_dir.display()))?;
    let wasm = match component.or(config.component.as_deref()) {
        Some(path) => crate::plugin::read_configured(&config.plugins, path)?,
        None => crate::plugin::installed_or_builtin(config, &dir)?,
    };
    Ok(runtime.load(&wasm, cache.as_ref()).await?)
}

/// A run id a person can type: the start time and a few random hex digits.
pub(crate) fn new_run_id() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}-{:04x}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        rand::random::<u16>()
    )
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command's `--help`, the subcommands' included, as a user sees it.
    fn every_help(command: &mut clap::Command, path: &str, out: &mut Vec<(String, String)>) {
        out.push((path.to_string(), command.render_long_help().to_string()));
        for sub in command.get_subcommands_mut() {
            let sub_path = format!("{path} {}", sub.get_name());
            every_help(sub, &sub_path, out);
        }
    }

    /// Requirement ids are for the code's readers; a church's IT person reading `--help` has no
    /// SPEC beside them.
    #[test]
    fn help_texts_name_no_requirement_ids() {
        let mut helps = Vec::new();
        every_help(&mut Cli::command(), "pcosync", &mut helps);
        assert!(helps.len() > 20, "only {} help texts found", helps.len());

        let offenders: Vec<String> = helps
            .iter()
            .flat_map(|(path, help)| {
                help.lines()
                    .filter(|line| names_requirement(line))
                    .map(move |line| format!("{path}: {}", line.trim()))
            })
            .collect();
        assert!(offenders.is_empty(), "{offenders:#?}");
    }

    /// `R` and one or two digits standing alone, as in "(R24)" or "R17-R18".
    fn names_requirement(line: &str) -> bool {
        line.split(|c: char| !c.is_ascii_alphanumeric())
            .any(|word| {
                word.len() >= 2
                    && word.len() <= 3
                    && word.starts_with('R')
                    && word[1..].chars().all(|c| c.is_ascii_digit())
            })
    }

    #[test]
    fn requirement_ids_are_recognised() {
        assert!(names_requirement("hold runs (R24; default 10)"));
        assert!(names_requirement("archive people who left (R17-R18)"));
        assert!(!names_requirement("RUN_ID  the run to show"));
        assert!(!names_requirement("R2D2 and ROCK_ID"));
    }
}

/// Issue 24 item 18: bad input gets a clear error, never a panic (exit 101): the CLI's numeric
/// options and the text helpers, fuzzed.
#[cfg(test)]
mod no_panic {
    use chrono::Local;
    use clap::Parser;
    use proptest::prelude::*;

    use super::{Cli, Command};
    use crate::daemon::Schedule;
    use crate::ops::text::{printable, time_text};
    use crate::plugin::store::short;

    /// A number as a user may type it: any integer, or any text.
    fn typed() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u128>().prop_map(|n| n.to_string()),
            Just(u64::MAX.to_string()),
            Just(i64::MIN.to_string()),
            ".*",
        ]
    }

    /// `run --interval 18446744073709551615` panicked after the first run: the next run's
    /// time overflowed. Any interval clap accepts is scheduled without a panic.
    #[test]
    fn the_largest_interval_is_refused_or_scheduled_issue_24_item_18() {
        let now = Local::now();
        match Cli::try_parse_from(["pcosync", "run", "--interval", &u64::MAX.to_string()]) {
            Err(error) => assert!(error.to_string().contains("--interval"), "{error}"),
            Ok(_) => {
                let schedule = Schedule::Every(std::time::Duration::from_secs(u64::MAX));
                assert!(schedule.next(Some(now), now) > now);
            }
        }
        let schedule = Schedule::Every(std::time::Duration::from_secs(u64::MAX));
        assert!(schedule.next(Some(now), now) > now);
    }

    /// `pcosync check` exited 101: `short()` cut a digest inside a character.
    #[test]
    fn short_cuts_between_characters_issue_24_item_18() {
        assert_eq!(short("0123456789abcdef"), "0123456789ab");
        assert_eq!(short("ééééééééééééé"), "éééééééééééé");
        assert_eq!(short("abcdefghijk€"), "abcdefghijk€");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Issue 24 item 18: every numeric option, whatever is typed, parses or is refused
        /// by clap; an accepted interval schedules a next run without a panic.
        #[test]
        fn numeric_options_never_panic_issue_24_item_18(value in typed()) {
            let now = Local::now();
            let lines: [&[&str]; 8] = [
                &["run", "--interval"],
                &["status", "--runs"],
                &["status", "--person"],
                &["demo", "--people"],
                &["demo", "--seed"],
                &["link", "1"],
                &["tag", "map", "Group:Tag"],
                &["runs", "show", "run", "--account"],
            ];
            for line in lines {
                let mut args = vec!["pcosync"];
                args.extend_from_slice(line);
                args.push(&value);
                let Ok(cli) = Cli::try_parse_from(&args) else { continue };
                match cli.command {
                    Command::Run(run) => {
                        if let Some(seconds) = run.interval {
                            let schedule = Schedule::Every(std::time::Duration::from_secs(seconds));
                            prop_assert!(schedule.next(Some(now), now) > now);
                            let _ = schedule.describe();
                        }
                    }
                    Command::Demo { people, .. } => prop_assert!(people <= crate::demo::MAX_PEOPLE),
                    _ => {}
                }
            }
        }

        /// Issue 24 item 18: the text helpers take any text.
        #[test]
        fn text_helpers_never_panic_issue_24_item_18(text in any::<String>()) {
            let cut = short(&text);
            prop_assert!(text.starts_with(cut));
            prop_assert!(cut.chars().count() <= 12);
            prop_assert!(!printable(&text).chars().any(char::is_control));
            let _ = time_text(&text);
        }
    }
}
