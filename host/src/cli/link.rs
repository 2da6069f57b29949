//! `pcosync link ROCK_ID PCO_ID` (R33): set a person's PCO id by hand.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::admin_failure;
use super::status::{Session, pick_account};
use crate::config::Config;
use crate::ops::admin;

#[derive(Args)]
pub struct LinkArgs {
    /// The account [default: the only configured one].
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    /// The Rock person's id.
    rock_id: i64,
    /// The PCO person's id (the number at the end of their address in PCO People).
    pco_id: String,
}

pub async fn run(config: &Config, data_dir: &Path, args: LinkArgs) -> anyhow::Result<ExitCode> {
    let account = pick_account(config, args.account.as_deref())?;
    let session = Session::open(config, data_dir, account).await?;
    let person = admin::link(&session, account, args.rock_id, &args.pco_id)
        .await
        .map_err(|e| admin_failure(&account.name, e))?;
    println!(
        "Rock person {} is linked to PCO person {} in \"{}\". The next sync merges their values.",
        args.rock_id,
        args.pco_id.trim(),
        account.name
    );
    // What the account now says of the person: a person in no synced group is archived in
    // PCO by the next sync when the account allows lowering.
    if let Some(person) = person {
        println!("{}", admin::link_note(&person, account.allow_downgrade));
    }
    Ok(ExitCode::SUCCESS)
}
