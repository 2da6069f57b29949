//! The `pcosync` command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use clap::{Parser, Subcommand};

use crate::bindings::engine::{Action, Direction, Report, SyncOptions};
use crate::bindings::types::PermissionLevel;
use crate::config::Config;
use crate::runtime::cache::CompileCache;
use crate::runtime::{Capabilities, Guest, Runtime};
use crate::state::memory::MemoryState;

/// Keeps a church's people in step between Rock RMS (the master list) and Planning Center
/// Online. The sync rules run in a sandboxed WebAssembly component; this program holds the
/// credentials and carries out what the component decides.
#[derive(Parser)]
#[command(name = "pcosync", version, about, long_about = None)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true, env = "PCOSYNC_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for the state file and the compiled-component cache
    /// [default: data_dir from the configuration, else ~/.local/share/pcosync].
    #[arg(long, global = true, env = "PCOSYNC_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sync the configured PCO accounts with Rock (all of them, or one).
    Sync {
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
    },
    /// Show the product working on a generated congregation, with nothing to set up.
    Demo {
        /// How many people the generated congregation has.
        #[arg(long, default_value_t = 40)]
        people: usize,
        /// Seed of the generated congregation (same seed, same people).
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Print the reports as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Load the guest component and check that this host can run it.
    Check {
        /// The component file to check [default: the configured one, else the built-in one].
        #[arg(long, value_name = "FILE")]
        component: Option<PathBuf>,
    },
    /// Set up Rock for the sync.
    Rock {
        #[command(subcommand)]
        command: RockCommand,
    },
}

#[derive(Subcommand)]
enum RockCommand {
    /// Create in Rock what the sync needs, when missing: the "PCO Tags" person attribute and the
    /// "PCO Account" and "PCO Permission Level" group attributes. Running it again creates nothing.
    Init {
        /// Rock's address [default: `url` of the configuration's [rock] section].
        #[arg(long, value_name = "URL")]
        rock_url: Option<url::Url>,
        /// Environment variable holding the Rock REST key [default: `token` of [rock]].
        #[arg(long, value_name = "NAME")]
        rock_token_env: Option<String>,
    },
}

/// Exit status: 0 success, 1 the run failed, 2 bad configuration or usage.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let config = match &cli.config {
        Some(path) => match Config::load(path) {
            Ok(config) => config,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(2);
            }
        },
        None => Config::default(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("starting the async runtime");
    match runtime.block_on(run(cli, config)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli, config: Config) -> anyhow::Result<ExitCode> {
    let data_dir = cli
        .data_dir
        .clone()
        .or_else(|| config.data_dir.clone())
        .unwrap_or_else(default_data_dir);
    match cli.command {
        Command::Sync {
            account,
            dry_run,
            updates_only,
            confirm,
            json,
        } => {
            let request = SyncRequest {
                account,
                dry_run,
                updates_only,
                confirm,
                json,
            };
            sync(&config, &data_dir, request).await
        }
        Command::Check { component } => check(&config, &data_dir, component.as_deref()).await,
        Command::Demo { people, seed, json } => demo(&config, &data_dir, people, seed, json).await,
        Command::Rock {
            command:
                RockCommand::Init {
                    rock_url,
                    rock_token_env,
                },
        } => rock_init(&config, rock_url, rock_token_env).await,
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
    std::fs::create_dir_all(path)
        .with_context(|| format!("cannot create the data directory {}", path.display()))?;
    Dir::open_ambient_dir(path, ambient_authority())
        .with_context(|| format!("cannot open the data directory {}", path.display()))
}

/// Loads the configured guest (or the built-in one) through the compile cache.
async fn load_guest(
    runtime: &Runtime,
    config: &Config,
    data_dir: &Path,
    component: Option<&Path>,
) -> anyhow::Result<Guest> {
    let dir = open_data_dir(data_dir)?;
    let cache = CompileCache::open(&dir, "compiled")
        .with_context(|| format!("cannot open the compile cache in {}", data_dir.display()))?;
    let wasm = match component.or(config.component.as_deref()) {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("cannot read the component {}", path.display()))?,
        None => crate::DEFAULT_GUEST.to_vec(),
    };
    Ok(runtime.load(&wasm, Some(&cache)).await?)
}

async fn check(
    config: &Config,
    data_dir: &Path,
    component: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let runtime = Runtime::new(config.limits())?;
    let guest = load_guest(&runtime, config, data_dir, component).await?;
    println!("component ok");
    println!("  contract version  {}", guest.contract_version);
    println!("  sha256            {}", guest.digest);
    println!(
        "  compiled          {}",
        if guest.from_cache {
            "no (from the cache)"
        } else {
            "yes (now cached)"
        }
    );
    println!(
        "  load time         {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(ExitCode::SUCCESS)
}

async fn demo(
    config: &Config,
    data_dir: &Path,
    people: usize,
    seed: u64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let congregation = congregation::Congregation::generate(people, seed);
    let world = crate::demo::world(&congregation);
    let (sandbox, pco) = crate::demo::pco_sandbox(&congregation, false).await?;
    let pco = Arc::new(pco);
    let state = Arc::new(MemoryState::default());
    let runtime = Runtime::new(config.limits())?;
    let guest = load_guest(&runtime, config, data_dir, None).await?;
    let capabilities = Capabilities {
        rock: world.rock.clone(),
        pco: pco.clone(),
        state: state.clone(),
        reporter: Arc::new(crate::log::TracingReporter),
    };
    let account = &world.account;
    println!(
        "Demo: {} generated people: {} in Rock (held in memory), {} in the local PCO sandbox at {} (account \"{}\").\n",
        congregation.people.len(),
        congregation.rock_people().count(),
        sandbox.people_count(&account.name).unwrap_or_default(),
        sandbox.base_url(),
        account.name
    );
    let run = |title: &'static str, dry_run: bool| {
        let (runtime, guest, capabilities) = (&runtime, &guest, &capabilities);
        async move {
            let options = SyncOptions {
                run_id: new_run_id(),
                started_at: now_rfc3339(),
                dry_run,
                updates_only: None,
                confirm: None,
            };
            let report = runtime.sync(guest, capabilities, account, &options).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("== {title}");
                print_report(&report);
            }
            anyhow::Ok(report)
        }
    };
    run(
        "Dry run: what the first sync would do (nothing written)",
        true,
    )
    .await?;
    run("First sync", false).await?;
    let welcomes = sandbox
        .outbox()
        .iter()
        .filter(|e| format!("{:?}", e.kind) == "Welcome")
        .count();
    println!("PCO sent {welcomes} welcome emails (one per person created).\n");

    let (rock_id, pco_id) = crate::demo::change_both_sides(&world, &state, &pco, account).await?;
    println!(
        "Meanwhile, staff changed Rock person {rock_id}'s mobile phone in Rock, and PCO person {pco_id}'s middle name in PCO.\n"
    );
    run("Second sync: each change reaches the other side", false).await?;
    sandbox.clear_requests();
    run("Third sync: nothing changed, nothing written", false).await?;
    let writes = sandbox
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count();
    println!("PCO write requests in the third sync: {writes}.");
    Ok(ExitCode::SUCCESS)
}

struct SyncRequest {
    account: Option<String>,
    dry_run: bool,
    updates_only: bool,
    confirm: Option<String>,
    json: bool,
}

/// Exit status of a sync: 0 everyone synced, 3 some people failed (retried next run),
/// 4 a run was held by the safety brake, 1 a run failed.
async fn sync(config: &Config, data_dir: &Path, request: SyncRequest) -> anyhow::Result<ExitCode> {
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
    let mut status = ExitCode::SUCCESS;
    for account in accounts {
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

/// A run id a person can type: the start time and a few random hex digits.
fn new_run_id() -> String {
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

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The report as an administrator reads it: counts, then one line per person and action.
pub fn print_report(report: &Report) {
    let c = &report.counts;
    println!(
        "  account {} · run {}{}",
        report.account,
        report.run_id,
        if report.dry_run {
            " · DRY RUN (nothing written)"
        } else {
            ""
        }
    );
    println!(
        "  synced {} · linked {} · created {} · updated to PCO {} · updated to Rock {} · conflicts {} · raised {} · lowered {} · archived {} · skipped {} · failed {}",
        c.synced,
        c.linked,
        c.created,
        c.updated_to_pco,
        c.updated_to_rock,
        c.conflicts,
        c.raised,
        c.lowered,
        c.archived,
        c.skipped,
        c.failed
    );
    for person in &report.people {
        let who = match (person.rock_id, &person.pco_id) {
            (Some(rock), Some(pco)) => format!("Rock {rock} / PCO {pco}"),
            (Some(rock), None) => format!("Rock {rock}"),
            (None, Some(pco)) => format!("PCO {pco}"),
            (None, None) => "?".to_string(),
        };
        for action in &person.actions {
            println!("    {who}: {}", describe(action, report.dry_run));
        }
    }
    println!();
}

fn describe(action: &Action, dry_run: bool) -> String {
    let will = |done: &str, planned: &str| {
        if dry_run {
            planned.to_string()
        } else {
            done.to_string()
        }
    };
    let value = |v: &Option<String>| match v {
        Some(text) => format!("\"{}\"", text.replace('\n', ", ")),
        None => "(blank)".to_string(),
    };
    let level = |l: &Option<PermissionLevel>| l.map_or("none".to_string(), |l| format!("{l:?}"));
    match action {
        Action::Linked(id) => format!("{} PCO person {id}", will("linked to", "would link to")),
        Action::Created(_) => will("created in PCO", "would be created in PCO"),
        Action::Updated(c) => format!(
            "{} {}: {} -> {}",
            c.field,
            match c.direction {
                Direction::RockToPco => "Rock -> PCO",
                Direction::PcoToRock => "PCO -> Rock",
            },
            value(&c.before),
            value(&c.after)
        ),
        Action::Conflict(c) => format!(
            "conflict on {}: both sides changed; kept {} from {}",
            c.field,
            value(&c.after),
            match c.direction {
                Direction::RockToPco => "Rock",
                Direction::PcoToRock => "PCO",
            }
        ),
        Action::Raised((from, to)) => format!("permission raised {} -> {to:?}", level(from)),
        Action::Lowered((from, to)) => format!("permission lowered {from:?} -> {to:?}"),
        Action::Archived => will("archived in PCO", "would be archived in PCO"),
        Action::Skipped(why) => format!("skipped: {why}"),
        Action::Failed(error) => format!("FAILED ({:?}): {}", error.kind, error.message),
        Action::Flagged(note) => format!("note: {note}"),
    }
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

/// `pcosync rock init`: creates what the sync needs in Rock and says what it created or found.
async fn rock_init(
    config: &Config,
    url: Option<url::Url>,
    token_env: Option<String>,
) -> anyhow::Result<ExitCode> {
    use crate::rock::rest::{AttributeNames, RestRock, RestRockOptions};
    use crate::secret::SecretRef;
    let configured = config.rock.as_ref();
    let url = url
        .or_else(|| configured.map(|r| r.url.clone()))
        .context("no Rock URL: pass --rock-url or set `url` in the [rock] section")?;
    let token = match (token_env, configured) {
        (Some(name), _) => SecretRef::Env(name),
        (None, Some(rock)) => rock.token.clone(),
        (None, None) => {
            anyhow::bail!(
                "no Rock token: pass --rock-token-env or set `token` in the [rock] section"
            )
        }
    };
    let token = token
        .resolve("Rock token")
        .map_err(|e| anyhow::anyhow!(e))?;
    let rock = RestRock::connect(RestRockOptions::new(url, token))
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let report = rock
        .init(&AttributeNames::default())
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    for line in &report.created {
        println!("created {line}");
    }
    for line in &report.found {
        println!("found   {line}");
    }
    Ok(ExitCode::SUCCESS)
}
