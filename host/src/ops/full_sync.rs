//! The periodic full run of an updates-only account (R21, issue 15 item 2).
//!
//! An updates-only run asks PCO only for the people updated lately, so it cannot see who is
//! gone from PCO (R7), lowers and archives nobody (R17, R18: it cannot tell an organization
//! administrator, R50) and misses tag edits made in PCO (R13). So every `full_sync_hours`
//! (a day by default) the next run of such an account, by the daemon or by `pcosync sync`,
//! reads everyone, as a full run does. The time of the last full run is kept by the host in
//! the state file, beside the guest's state but out of its reach.

use crate::bindings::state::{Entry, Write};
use crate::config::AccountConfig;
use crate::state::{StateError, StateStore};

/// The host's own namespace in the state file. The guest's are account names, which the
/// configuration never lets be empty, and the guest is scoped to its account's.
const HOST_NAMESPACE: &str = "";

fn key(account: &str) -> String {
    format!("full-sync/{account}")
}

/// How a run reads PCO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Everyone (R20).
    Full,
    /// Only people updated since the last successful run (R21).
    UpdatesOnly,
}

impl Mode {
    /// What the guest's `updates-only` option says for this mode.
    pub fn as_option(self) -> Option<bool> {
        Some(self == Mode::UpdatesOnly)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::UpdatesOnly => "updates-only",
        }
    }
}

/// The mode of the next run of `account` at `now` (Unix seconds): `asked` when the
/// administrator chose one, else full for accounts that are not updates-only, and for
/// updates-only ones whose last full run is `full_sync_hours` old or was never made.
pub fn mode(
    state: &dyn StateStore,
    account: &AccountConfig,
    asked: Option<Mode>,
    now: i64,
) -> Result<Mode, StateError> {
    if let Some(mode) = asked {
        return Ok(mode);
    }
    if !account.updates_only {
        return Ok(Mode::Full);
    }
    let due = match last_full(state, &account.name)? {
        None => true,
        Some(last) => now.saturating_sub(last) >= i64::from(account.full_sync_hours) * 3600,
    };
    Ok(if due { Mode::Full } else { Mode::UpdatesOnly })
}

/// When the last full run of `account` that finished started (Unix seconds).
pub fn last_full(state: &dyn StateStore, account: &str) -> Result<Option<i64>, StateError> {
    let value = state
        .get(HOST_NAMESPACE, &[key(account)])?
        .into_iter()
        .next()
        .flatten();
    // Unreadable means never: the next run is a full one, which is always safe.
    Ok(value.and_then(|bytes| String::from_utf8(bytes).ok()?.trim().parse().ok()))
}

/// Records a full run of `account` that started at `started` and finished (not held, not
/// failed, not a dry run).
pub fn record_full(state: &dyn StateStore, account: &str, started: i64) -> Result<(), StateError> {
    state.commit(
        HOST_NAMESPACE,
        &[Write::Put(Entry {
            key: key(account),
            value: started.to_string().into_bytes(),
        })],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::state::memory::MemoryState;

    fn account(extra: &str) -> AccountConfig {
        let text = format!(
            "[[accounts]]\nname = \"Main\"\napp_id = \"a\"\nsecret = {{ env = \"X\" }}\n{extra}"
        );
        Config::parse(&text).unwrap().accounts.remove(0)
    }

    // R21, R20 (issue 15 item 2): an updates-only account is read whole on its first run and
    // again once `full_sync_hours` have passed since the last full run; runs in between ask
    // PCO only for what changed; an administrator's choice wins.
    #[test]
    fn updates_only_accounts_get_a_full_run_every_full_sync_hours() {
        let state = MemoryState::default();
        let hourly = account("updates_only = true\nfull_sync_hours = 6\n");
        let now = 1_800_000_000;
        assert_eq!(mode(&state, &hourly, None, now).unwrap(), Mode::Full);
        record_full(&state, "Main", now).unwrap();
        assert_eq!(last_full(&state, "Main").unwrap(), Some(now));
        let later = now + 6 * 3600 - 1;
        assert_eq!(
            mode(&state, &hourly, None, later).unwrap(),
            Mode::UpdatesOnly
        );
        assert_eq!(mode(&state, &hourly, None, later + 1).unwrap(), Mode::Full);
        assert_eq!(
            mode(&state, &hourly, Some(Mode::UpdatesOnly), later + 1).unwrap(),
            Mode::UpdatesOnly
        );
        let full = account("");
        assert_eq!(full.full_sync_hours, 24);
        assert_eq!(mode(&state, &full, None, later).unwrap(), Mode::Full);
        // Another account's full run is not this one's.
        assert_eq!(last_full(&state, "Other").unwrap(), None);
    }

    #[test]
    fn full_sync_hours_out_of_range_is_refused_with_the_fix() {
        let text = "[[accounts]]\nname = \"Main\"\napp_id = \"a\"\nsecret = { env = \"X\" }\nfull_sync_hours = 0\n";
        let error = Config::parse(text).unwrap_err();
        assert!(error.contains("full_sync_hours"), "{error}");
        assert!(error.contains("between 1 and"), "{error}");
    }
}
