//! `pcosync link ROCK_ID PCO_ID` (R33): set a person's PCO id by hand.
//! `pcosync link ROCK_ID --create` (R4): create a person the sync holds because PCO may
//! already hold them (same name and birth date), the administrator having judged them
//! someone else.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::admin_failure;
use super::status::{Session, pick_account};
use crate::config::{AccountConfig, Config};
use crate::ops::admin;

#[derive(Args)]
pub struct LinkArgs {
    /// The account [default: the only configured one].
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    /// The Rock person's id.
    rock_id: i64,
    /// The PCO person's id (the number at the end of their address in PCO People).
    #[arg(required_unless_present = "create")]
    pco_id: Option<String>,
    /// Instead of linking: let the next sync create this person in PCO, though PCO holds
    /// someone with the same name and birth date (the sync names them when it holds a person).
    #[arg(long, conflicts_with = "pco_id")]
    create: bool,
}

pub async fn run(config: &Config, data_dir: &Path, args: LinkArgs) -> anyhow::Result<ExitCode> {
    let account = pick_account(config, args.account.as_deref())?;
    let session = Session::open(config, data_dir, account).await?;
    match args.pco_id.as_deref() {
        Some(pco_id) => link(&session, account, args.rock_id, pco_id).await,
        None => create_anyway(&session, account, args.rock_id).await,
    }
}

async fn link(
    session: &Session,
    account: &AccountConfig,
    rock_id: i64,
    pco_id: &str,
) -> anyhow::Result<ExitCode> {
    let person = admin::link(session, account, rock_id, pco_id)
        .await
        .map_err(|e| admin_failure(&account.name, e))?;
    println!(
        "Rock person {rock_id} is linked to PCO person {} in \"{}\". The next sync merges their values.",
        pco_id.trim(),
        account.name
    );
    // What the account now says of the person: a person in no synced group is archived in
    // PCO by the next sync when the account allows lowering.
    if let Some(person) = person {
        println!("{}", admin::link_note(&person, account.allow_downgrade));
    }
    Ok(ExitCode::SUCCESS)
}

async fn create_anyway(
    session: &Session,
    account: &AccountConfig,
    rock_id: i64,
) -> anyhow::Result<ExitCode> {
    admin::allow_create(session, account, rock_id)
        .await
        .map_err(|e| admin_failure(&account.name, e))?;
    println!(
        "The next sync creates Rock person {rock_id} in PCO in \"{}\", though PCO holds someone with the same name and birth date.",
        account.name
    );
    Ok(ExitCode::SUCCESS)
}
