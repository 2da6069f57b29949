//! Builds the real capabilities from the configuration: Rock over REST, PCO over HTTPS, state
//! in SQLite inside the data directory.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use crate::config::{AccountConfig, Config};
use crate::pco::http::{Endpoint, HttpOptions, HttpPco};
use crate::runtime::Capabilities;
use crate::state::StateStore;
use crate::state::sqlite::SqliteState;

/// The state file's name inside the data directory.
pub const STATE_FILE: &str = "state.sqlite";

/// The capabilities of every configured account, over the state file in `data_dir` (tools
/// and tests that sync each account in turn).
pub async fn capabilities(config: &Config, data_dir: &Path) -> anyhow::Result<Capabilities> {
    let state: Arc<dyn StateStore> = Arc::new(open_state(data_dir)?);
    Ok(Capabilities {
        rock: connect_rock(config).await?,
        pco: Arc::new(connect_pco(config, config.accounts.iter())?),
        state,
        reporter: Arc::new(crate::log::TracingReporter),
    })
}

/// The capabilities of one account's operations, over a state already open (the one whose
/// locks the run holds, so that its fenced commits are one transaction). Only that account's
/// PCO credentials are read and loaded: a guest working for one account never holds another's
/// token, even in the host's memory beside it (issue 16 item 5).
pub async fn capabilities_for(
    config: &Config,
    account: &AccountConfig,
    state: Arc<dyn StateStore>,
) -> anyhow::Result<Capabilities> {
    Ok(Capabilities {
        rock: connect_rock(config).await?,
        pco: Arc::new(connect_pco(config, std::iter::once(account))?),
        state,
        reporter: Arc::new(crate::log::TracingReporter),
    })
}

/// PCO over HTTPS with the credentials of `accounts`, each secret read now.
pub fn connect_pco<'a>(
    config: &Config,
    accounts: impl Iterator<Item = &'a AccountConfig>,
) -> anyhow::Result<HttpPco> {
    let mut endpoints = Vec::new();
    for account in accounts {
        let secret = account
            .secret
            .resolve(&format!("account \"{}\" secret", account.name))
            .map_err(|e| anyhow::anyhow!(e))?;
        endpoints.push(Endpoint {
            name: account.name.clone(),
            base_url: config.pco.api_url.clone(),
            upload_url: config.pco.upload_url.clone(),
            app_id: account.app_id.clone(),
            secret,
        });
    }
    HttpPco::new(endpoints, HttpOptions::default()).map_err(|e| anyhow::anyhow!(e))
}

/// Opens the state file, creating the data directory if needed (both private to this user:
/// `state::private`). The file is named, never taken from outside: it cannot land anywhere but
/// in the data directory.
pub fn open_state(data_dir: &Path) -> anyhow::Result<SqliteState> {
    let dir = crate::state::private::open_data_dir(data_dir)?;
    if dir
        .symlink_metadata(STATE_FILE)
        .is_ok_and(|m| m.is_symlink())
    {
        anyhow::bail!(
            "{}/{STATE_FILE} is a symbolic link; the state must be a plain file in the data directory",
            data_dir.display()
        );
    }
    // Created 0600 before SQLite opens it: SQLite makes its -wal and -shm files with the mode
    // of the database file.
    crate::state::private::create_file(&dir, STATE_FILE)
        .with_context(|| format!("cannot create {}/{STATE_FILE}", data_dir.display()))?;
    let state = SqliteState::open(&data_dir.join(STATE_FILE)).map_err(|e| anyhow::anyhow!(e))?;
    // The -wal and -shm files exist now; ones an older pcosync left open are tightened.
    crate::state::private::tighten_tree(&dir, data_dir);
    Ok(state)
}

async fn connect_rock(config: &Config) -> anyhow::Result<Arc<dyn crate::rock::Rock>> {
    let Some(rock) = &config.rock else {
        anyhow::bail!("the configuration has no [rock] section: add its url and token");
    };
    let token = rock
        .token
        .resolve("rock token")
        .map_err(|e| anyhow::anyhow!(e))?;
    let options = crate::rock::rest::RestRockOptions {
        time_zone: rock.zone().map_err(|e| anyhow::anyhow!(e))?,
        default_country: rock.country().map_err(|e| anyhow::anyhow!(e))?,
        ..crate::rock::rest::RestRockOptions::new(rock.url.clone(), token)
    };
    let connected = crate::rock::rest::RestRock::connect(options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to Rock at {}: {}", rock.url, e.message))?;
    // A key without View on an attribute reads as "no tags": a run does not start on that
    // (issue 13 item 4). Missing Edit shows as a clear refusal of each write (and in
    // `config check`).
    let missing = connected.missing_rights(false).await.map_err(|e| {
        anyhow::anyhow!("cannot check the REST key's rights in Rock: {}", e.message)
    })?;
    if !missing.is_empty() {
        anyhow::bail!(
            "the Rock REST key lacks rights the sync needs:\n  {}",
            missing.join("\n  ")
        );
    }
    Ok(Arc::new(connected))
}
