//! `pcosync-sandbox`: the local Rock and PCO sandboxes behind one command, for the demo,
//! benchmarks and anyone trying pcosync before pointing it at real systems.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;
use congregation::Congregation;
use pco_sandbox::{PcoSandbox, RateLimitConfig};
use rock_sandbox::RockSandbox;
use serde_json::json;

/// Serves a local stand-in for Rock RMS's REST API and one for Planning Center's API, both
/// seeded with the same generated congregation (most people in both, some in one only).
///
/// On start it prints one JSON line on stdout: {"pco_url", "accounts": [{"name", "app_id",
/// "secret"}], "rock_url", "rock_token"}. It runs until interrupted.
///
/// Each sandbox has admin endpoints under `/__sandbox/` (no credentials needed): fault
/// switches (`/__sandbox/faults`), the request log (`/__sandbox/requests`), the clock, and for
/// PCO the email outbox (`/__sandbox/outbox`) and rate limit (`/__sandbox/rate_limit`); for
/// Rock, person merges (`/__sandbox/merge`). `GET /__sandbox/` on the PCO sandbox lists them.
#[derive(Parser)]
#[command(name = "pcosync-sandbox", version, about, verbatim_doc_comment)]
struct Args {
    /// How many people the generated congregation has.
    #[arg(long, default_value_t = 200)]
    people: usize,
    /// Seed of the congregation (same seed, same people, same credentials).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Address of the PCO sandbox.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Address of the Rock sandbox.
    #[arg(long, default_value = "127.0.0.1:0")]
    rock_listen: SocketAddr,
    /// Turn PCO's rate limit (100 requests per 20 seconds) off.
    #[arg(long)]
    no_rate_limit: bool,
    /// Write a ready pcosync configuration pointing at these sandboxes (secrets beside it,
    /// readable by the owner only).
    #[arg(long, value_name = "PATH")]
    write_config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let congregation = Congregation::generate(args.people, args.seed);
    let pco_options = pco_sandbox::SandboxOptions {
        addr: args.listen,
        seed: args.seed,
        rate_limit: RateLimitConfig {
            enabled: !args.no_rate_limit,
            ..RateLimitConfig::default()
        },
        ..Default::default()
    };
    let pco = PcoSandbox::start_with(pco_options, &congregation)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let rock_options = rock_sandbox::SandboxOptions {
        addr: args.rock_listen,
        seed: args.seed,
        ..Default::default()
    };
    let rock = RockSandbox::start_with(rock_options, &congregation)
        .await
        .context("starting the Rock sandbox")?;
    if let Some(path) = &args.write_config {
        write_config(path, &congregation, &pco, &rock)?;
    }
    let line = json!({
        "pco_url": pco.base_url(),
        "accounts": pco.accounts(),
        "rock_url": rock.base_url(),
        "rock_token": rock.token(),
        "people": congregation.people.len(),
    });
    println!("{line}");
    tokio::signal::ctrl_c().await?;
    Ok(())
}

/// A pcosync configuration for these sandboxes; secrets go to files beside it.
fn write_config(
    path: &Path,
    congregation: &Congregation,
    pco: &PcoSandbox,
    rock: &RockSandbox,
) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let secrets = dir.join("secrets");
    std::fs::create_dir_all(&secrets)?;
    let rock_token = write_secret(&secrets, "rock.token", rock.token())?;
    let mut text = format!(
        "# Written by pcosync-sandbox: the local Rock and PCO sandboxes.\n\
         data_dir = {data:?}\n\n[rock]\nurl = {rock_url:?}\ntoken = {{ file = {rock_token:?} }}\n\n\
         [pco]\napi_url = {pco_url:?}\nupload_url = \"{pco_url}/v2/files\"\n",
        data = dir.join("data").display().to_string(),
        rock_url = rock.base_url(),
        pco_url = pco.base_url().trim_end_matches('/'),
        rock_token = rock_token.display().to_string(),
    );
    for (index, account) in pco.accounts().iter().enumerate() {
        let secret = write_secret(&secrets, &format!("pco-{index}.secret"), &account.secret)?;
        let group_types: BTreeSet<&str> = congregation
            .groups
            .iter()
            .filter(|g| g.pco_account.as_deref() == Some(&account.name))
            .map(|g| g.group_type.as_str())
            .collect();
        write!(
            text,
            "\n[[accounts]]\nname = {name:?}\napp_id = {app:?}\nsecret = {{ file = {secret:?} }}\n\
             welcome_template = \"Planning Center Welcome E-Mail\"\nenabled_group_types = {types:?}\n",
            name = account.name,
            app = account.app_id,
            secret = secret.display().to_string(),
            types = group_types.into_iter().collect::<Vec<_>>(),
        )?;
        for (index, group) in congregation.groups.iter().enumerate() {
            if let (Some(tag), Some(id)) = (&group.tag, rock.group_id(index))
                && group.pco_account.as_deref() == Some(&account.name)
            {
                write!(
                    text,
                    "\n[[accounts.tag_groups]]\ntag = {tag:?}\ngroup_id = {id}\n"
                )?;
            }
        }
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn write_secret(dir: &Path, name: &str, value: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, value)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(std::fs::canonicalize(&path)?)
}
