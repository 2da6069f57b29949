//! `pcosync-chaos`: the chaos suite. `cargo run --release -p pcosync-chaos -- --scenarios 150`
//! builds the release `pcosync`, runs the scenarios against it (SIGKILL at random points) and
//! prints the figures; exit status 1 when any invariant broke.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use pcosync_chaos::host::Host;
use pcosync_chaos::scenario::Settings;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// The real `pcosync` binary, killed with SIGKILL.
    Process,
    /// The host library in this process, stopped dead at a capability call.
    InProcess,
}

/// Sync and import against the Rock and PCO sandboxes under injected faults, killed at random
/// points, then run clean to convergence; checks the invariants after every scenario.
#[derive(Parser)]
#[command(name = "pcosync-chaos", version, about)]
struct Args {
    /// How many scenarios to run (150 kill the process some 170 times).
    #[arg(long, default_value_t = 150)]
    scenarios: usize,
    /// The first scenario's seed; scenario n has seed + n (replay one with --scenarios 1).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How pcosync runs and dies.
    #[arg(long, value_enum, default_value_t = Mode::Process)]
    mode: Mode,
    /// The pcosync binary [default: built with `cargo build --release -p pcosync`].
    #[arg(long, value_name = "PATH")]
    pcosync: Option<PathBuf>,
    /// Smallest congregation.
    #[arg(long, default_value_t = 60)]
    min_people: usize,
    /// Largest congregation.
    #[arg(long, default_value_t = 150)]
    max_people: usize,
    /// The share of worlds with issue 24's unkind data (foreign `remote_id`s in PCO, deceased
    /// people in Rock), 0 to 1.
    #[arg(long, default_value_t = 0.5)]
    unkind: f64,
    /// Scenarios run at once (they mostly wait on back-offs and slow answers).
    #[arg(long, default_value_t = 4)]
    jobs: usize,
    /// One line per scenario.
    #[arg(short, long)]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime starts");
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    anyhow::ensure!(
        args.min_people <= args.max_people,
        "--min-people is above --max-people"
    );
    let warm = tempfile::Builder::new()
        .prefix("pcosync-chaos-warm-")
        .tempdir()?;
    let host = match args.mode {
        Mode::Process => {
            let binary = match &args.pcosync {
                Some(path) => path.clone(),
                None => build_pcosync()?,
            };
            println!("pcosync: {}", binary.display());
            Host::process(&binary, warm.path())?
        }
        Mode::InProcess => Host::in_process().await?,
    };
    let settings = Settings {
        people: args.min_people..=args.max_people,
        unkind: args.unkind,
    };
    println!(
        "{} scenarios from seed {} ({:?} mode, {}-{} people, {} at a time)",
        args.scenarios, args.seed, args.mode, args.min_people, args.max_people, args.jobs
    );
    let verbose = args.verbose || args.scenarios == 1;
    let host = std::sync::Arc::new(host);
    let figures =
        pcosync_chaos::suite::run(host, args.seed, args.scenarios, args.jobs, &settings, |r| {
            if verbose || r.failed() {
                let verdict = if r.failed() { "FAILED" } else { "ok" };
                println!(
                    "{verdict:>6} {} in {:.2} s; faults {}; clean runs {}",
                    r.describe(),
                    r.duration.as_secs_f64(),
                    r.faults.values().sum::<u64>(),
                    r.clean_runs
                );
                if let Some(error) = &r.error {
                    println!("         error: {error}");
                }
                for violation in &r.violations {
                    println!("         {violation}");
                }
            }
        })
        .await;
    println!("\n{figures}");
    Ok(figures.clean())
}

/// `cargo build --release -p pcosync`, and the binary it leaves in the target directory.
fn build_pcosync() -> anyhow::Result<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "pcosync"])
        .current_dir(&workspace)
        .status()
        .context("running cargo")?;
    anyhow::ensure!(
        status.success(),
        "`cargo build --release -p pcosync` failed"
    );
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let binary = target.join("release").join("pcosync");
    anyhow::ensure!(binary.exists(), "{} is missing", binary.display());
    Ok(binary.canonicalize()?)
}
