//! The "PCO Tags" choices after a full sync (seed 000 "Update Tags", issue 13): the account's
//! tags as PCO has them now become its options on the person attribute, so staff pick from
//! what PCO holds. The other accounts' options stay as their own last refresh left them.

use std::collections::BTreeSet;

use crate::config::AccountConfig;
use crate::rock::choices;
use crate::rock::rest::ChoicesWrite;
use crate::runtime::{Capabilities, Guest, Runtime};

/// Reads `account`'s tags through the guest and sets them as its choices; `several` when more
/// than one account is configured (the text then names the account). Says in the log what it
/// did; a failure is a warning, never the run's: the sync itself is done.
pub async fn refresh(
    runtime: &Runtime,
    guest: &Guest,
    capabilities: &Capabilities,
    account: &AccountConfig,
    several: bool,
) -> Option<ChoicesWrite> {
    match try_refresh(runtime, guest, capabilities, account, several).await {
        Ok(Some(write)) => {
            if write != ChoicesWrite::Unchanged {
                tracing::info!(
                    account = %account.name,
                    "the PCO Tags choices in Rock now offer the account's tags as PCO has them"
                );
            }
            Some(write)
        }
        Ok(None) => None,
        Err(why) => {
            tracing::warn!(
                account = %account.name,
                "the PCO Tags choices in Rock were not refreshed after the full sync ({why}); `pcosync rock tags` does it by hand"
            );
            None
        }
    }
}

/// The account's tags whose selection follows a Rock group (marked with the seed's asterisk).
pub fn mapped_tags(account: &AccountConfig) -> BTreeSet<String> {
    account.tag_groups.iter().map(|t| t.tag.clone()).collect()
}

async fn try_refresh(
    runtime: &Runtime,
    guest: &Guest,
    capabilities: &Capabilities,
    account: &AccountConfig,
    several: bool,
) -> Result<Option<ChoicesWrite>, String> {
    let read = runtime
        .choices(guest, capabilities, &account.to_guest())
        .await
        .map_err(|e| format!("the account's tags could not be read: {}", super::plain(&e)))?;
    let mapped = mapped_tags(account);
    let built = choices::build(
        &[choices::AccountTags {
            account: &account.name,
            tags: &read.tags,
            mapped: &mapped,
        }],
        several,
    );
    let name = account.name.clone();
    let update = move |current: &str| {
        choices::merge(
            current,
            |value| !choices::of_account(value, &name),
            &built.options,
        )
    };
    capabilities
        .rock
        .set_tag_choices(&update)
        .await
        .map_err(|e| e.message)
}
