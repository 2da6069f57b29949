//! `pcosync email list|confirm` (issue 24 item 15): email changes from PCO that wait for an
//! administrator. A PCO-side email change of a Rock person with a Rock login, or with account
//! protection Medium or above, is not written to Rock by the sync (a changed email could take
//! over their Rock login: Rock sends password resets to it); the sync keeps it in the state
//! (`email-held/{rock id}`). `confirm` marks it confirmed (`email-confirmed/{rock id}`, the
//! same address); the next sync writes it to Rock.
//!
//! The state is read and written here directly: nothing is asked of Rock or PCO.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use serde::Deserialize;

use super::config::{pick_account, usage};
use crate::bindings::state::{Entry, Write};
use crate::config::Config;
use crate::state::StateStore;

const HELD: &str = "email-held/";
const CONFIRMED: &str = "email-confirmed/";

#[derive(Subcommand)]
pub enum EmailCommand {
    /// List the email changes from PCO that wait for an administrator.
    List {
        /// The account [default: the only configured one].
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
    },
    /// Confirm a waiting email change: the next sync writes it to Rock.
    Confirm {
        /// The account [default: the only configured one].
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
        /// The Rock person's id (as `list` and the sync's report show it).
        rock_id: i64,
    },
}

/// What the sync keeps of a waiting change (the guest's `email_guard::HeldEmail`).
#[derive(Deserialize)]
struct Held {
    pco: String,
    email: Option<String>,
}

pub async fn run(
    config: &Config,
    data_dir: &Path,
    command: EmailCommand,
) -> anyhow::Result<ExitCode> {
    super::config::exit_status(match command {
        EmailCommand::List { account } => list(config, data_dir, account.as_deref()),
        EmailCommand::Confirm { account, rock_id } => {
            confirm(config, data_dir, account.as_deref(), rock_id)
        }
    })
}

fn list(config: &Config, data_dir: &Path, account: Option<&str>) -> anyhow::Result<ExitCode> {
    let account = pick_account(config, account)?;
    let state = crate::connect::open_state(data_dir)?;
    let held = entries(&state, &account.name, HELD)?;
    let confirmed = entries(&state, &account.name, CONFIRMED)?;
    if held.is_empty() {
        println!(
            "No email change from PCO waits for confirmation in \"{}\".",
            account.name
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Email changes from PCO waiting for an administrator in \"{}\" (not written to Rock: each person has a Rock login or account protection Medium or above):",
        account.name
    );
    for (rock_id, (value, change)) in &held {
        let state = if confirmed.get(rock_id).map(|(v, _)| v) == Some(value) {
            "confirmed: the next sync writes it"
        } else {
            "waiting"
        };
        println!(
            "  Rock {rock_id} (PCO {}): {} ({state})",
            super::status::terminal_safe(&change.pco),
            change
                .email
                .as_deref()
                .map(super::status::terminal_safe)
                .unwrap_or_else(|| "no email".into()),
        );
    }
    println!(
        "Confirm one with `pcosync email confirm --account \"{}\" ROCK_ID`.",
        account.name
    );
    Ok(ExitCode::SUCCESS)
}

fn confirm(
    config: &Config,
    data_dir: &Path,
    account: Option<&str>,
    rock_id: i64,
) -> anyhow::Result<ExitCode> {
    let account = pick_account(config, account)?;
    let state = crate::connect::open_state(data_dir)?;
    let key = format!("{HELD}{rock_id}");
    let value = state
        .get(&account.name, std::slice::from_ref(&key))
        .map_err(|e| anyhow::anyhow!("cannot read the state: {}", e.0))?
        .pop()
        .flatten()
        .ok_or_else(|| {
            usage(format!(
                "no email change from PCO waits for Rock person {rock_id} in \"{}\" (`pcosync email list --account \"{}\"` lists them)",
                account.name, account.name
            ))
        })?;
    state
        .commit(
            &account.name,
            &[Write::Put(Entry {
                key: format!("{CONFIRMED}{rock_id}"),
                value,
            })],
        )
        .map_err(|e| anyhow::anyhow!("cannot write the state: {}", e.0))?;
    println!(
        "Confirmed: the next sync of \"{}\" writes PCO's email to Rock person {rock_id} (`pcosync sync --account \"{}\"` runs it now). Should PCO's email change again first, the new one waits again.",
        account.name, account.name
    );
    Ok(ExitCode::SUCCESS)
}

/// For `pcosync status`: the email changes waiting in the account, if any, in one line.
pub(crate) fn waiting_note(data_dir: &Path, account: &str) -> Option<String> {
    let state = crate::connect::open_state(data_dir).ok()?;
    let held = entries(&state, account, HELD).ok()?;
    if held.is_empty() {
        return None;
    }
    let ids: Vec<String> = held.keys().map(|id| format!("Rock {id}")).collect();
    Some(format!(
        "{} email change{} from PCO wait{} for an administrator (a Rock login or account protection Medium and above): {}. See them with `pcosync email list --account \"{account}\"`.",
        held.len(),
        if held.len() == 1 { "" } else { "s" },
        if held.len() == 1 { "s" } else { "" },
        ids.join(", ")
    ))
}

/// The state's entries under `prefix`: Rock id -> (raw value, what it says).
fn entries(
    state: &dyn StateStore,
    namespace: &str,
    prefix: &str,
) -> anyhow::Result<std::collections::BTreeMap<i64, (Vec<u8>, Held)>> {
    let mut found = std::collections::BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = state
            .scan(namespace, prefix, after.as_deref(), 1000)
            .map_err(|e| anyhow::anyhow!("cannot read the state: {}", e.0))?;
        let full = page.len() == 1000;
        after = page.last().map(|e| e.key.clone());
        for entry in page {
            let Ok(rock_id) = entry.key[prefix.len()..].parse::<i64>() else {
                continue;
            };
            if let Ok(held) = serde_json::from_slice::<Held>(&entry.value) {
                found.insert(rock_id, (entry.value, held));
            }
        }
        if !full {
            return Ok(found);
        }
    }
}
