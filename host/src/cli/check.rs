//! `pcosync check`: can this host run that component?

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;

use super::load_guest;
use crate::config::Config;
use crate::runtime::Runtime;

#[derive(Args)]
pub struct CheckArgs {
    /// The component file to check [default: the configured one, else the built-in one].
    #[arg(long, value_name = "FILE")]
    component: Option<PathBuf>,
}

pub async fn run(config: &Config, data_dir: &Path, args: CheckArgs) -> anyhow::Result<ExitCode> {
    check(config, data_dir, args.component.as_deref()).await
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
