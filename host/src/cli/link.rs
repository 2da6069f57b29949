//! `pcosync link ROCK_ID PCO_ID` (R33): set a person's PCO id by hand.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::status::{Session, level_name, pick_account, plain};
use crate::bindings::engine::StatusOptions;
use crate::config::Config;

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
    let guest_account = account.to_guest();
    let session = Session::open(config, data_dir).await?;
    session
        .runtime
        .link(
            &session.guest,
            &session.capabilities,
            &guest_account,
            args.rock_id,
            &args.pco_id,
        )
        .await
        .map_err(|e| anyhow::anyhow!("account \"{}\": {}", account.name, plain(&e)))?;
    println!(
        "Rock person {} is linked to PCO person {} in \"{}\". The next sync merges their values.",
        args.rock_id,
        args.pco_id.trim(),
        account.name
    );
    // What the account now says of the person: a person in no synced group is archived in
    // PCO by the next sync when the account allows lowering.
    let options = StatusOptions {
        with_values: false,
        rock_ids: vec![args.rock_id],
        runs: 0,
    };
    if let Ok(status) = session
        .runtime
        .status(
            &session.guest,
            &session.capabilities,
            &guest_account,
            &options,
        )
        .await
        && let Some(person) = status.people.first()
    {
        match person.rock_level {
            Some(level) => println!("Their groups give them {} in PCO.", level_name(Some(level))),
            None if guest_account.allow_downgrade => println!(
                "Note: they are in no group synced to this account, so the next sync archives them in PCO (allow_downgrade is on)."
            ),
            None => println!("Note: they are in no group synced to this account."),
        }
    }
    Ok(ExitCode::SUCCESS)
}
