//! `pcosync rock ...`: setting Rock up for the sync.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use crate::config::Config;

#[derive(Subcommand)]
pub enum RockCommand {
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

pub async fn run(config: &Config, command: RockCommand) -> anyhow::Result<ExitCode> {
    match command {
        RockCommand::Init {
            rock_url,
            rock_token_env,
        } => rock_init(config, rock_url, rock_token_env).await,
    }
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
