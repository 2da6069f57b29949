//! A sync (R20-R24, R30) or an import (R40-R42) of one account, as `pcosync sync`, `pcosync
//! import` and the web admin start them: holding the account's lock (a dry run writes nothing
//! and needs none), with fresh run ids.

use std::sync::Arc;

use super::Session;
use super::full_sync::{self, Mode};
use crate::bindings::engine::{AdminOptions, ImportOptions, LevelGroup, Report, SyncOptions};
use crate::cli::{new_run_id, now_rfc3339};
use crate::config::AccountConfig;
use crate::runtime::{Capabilities, RunError};
use crate::state::lock::{self, LockError, LockGuard, Locks};

/// What the administrator asked of a sync.
#[derive(Clone, Debug, Default)]
pub struct SyncRequest {
    /// Show everything the sync would change, and change nothing (R30).
    pub dry_run: bool,
    /// Ask PCO only for people updated since the last successful run (R21), this run.
    pub updates_only: bool,
    /// Apply a run the safety brake held, by its run id (R24).
    pub confirm: Option<String>,
}

/// Why a run of an account did not give a report.
#[derive(Debug)]
pub enum RunFailure {
    /// Another process (or another run of this one) holds the account: nothing was run.
    Locked(String),
    /// The guest refused or failed; what it committed before stays.
    Run(RunError),
    /// The host could not start the run (the lock store).
    Host(anyhow::Error),
}

impl std::fmt::Display for RunFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunFailure::Locked(m) => f.write_str(m),
            RunFailure::Run(e) => f.write_str(&super::plain(e)),
            RunFailure::Host(e) => write!(f, "{e:#}"),
        }
    }
}

/// The account's lock for a run that writes (none for a dry run).
pub fn lock_account(
    locks: Arc<dyn Locks>,
    account: &AccountConfig,
    dry_run: bool,
    command: &str,
) -> Result<Option<LockGuard>, RunFailure> {
    if dry_run {
        return Ok(None);
    }
    match lock::acquire(locks, &lock::account_resource(&account.name), command) {
        Ok(guard) => Ok(Some(guard)),
        Err(error @ LockError::Held { .. }) => Err(RunFailure::Locked(error.to_string())),
        Err(error) => Err(RunFailure::Host(error.into())),
    }
}

/// The session's capabilities, their state commits refused once `lock` is lost.
fn fenced(session: &Session, lock: Option<&LockGuard>) -> Capabilities {
    let mut capabilities = session.capabilities.clone();
    if let Some(lock) = lock {
        capabilities.state = lock.fenced(capabilities.state);
    }
    capabilities
}

/// One sync of `account` (or its dry run); `command` names the lock's holder for others.
pub async fn sync(
    session: &Session,
    locks: Arc<dyn Locks>,
    account: &AccountConfig,
    request: &SyncRequest,
    command: &str,
) -> Result<Report, RunFailure> {
    let lock = lock_account(locks, account, request.dry_run, command)?;
    let capabilities = fenced(session, lock.as_ref());
    let options = SyncOptions {
        run_id: new_run_id(),
        started_at: now_rfc3339(),
        dry_run: request.dry_run,
        updates_only: None,
        confirm: request.confirm.clone(),
    };
    let asked = request.updates_only.then_some(Mode::UpdatesOnly);
    let run = Run {
        runtime: &session.runtime,
        guest: &session.guest,
        capabilities: &capabilities,
        account,
        several_accounts: session.several_accounts,
    };
    Ok(run.sync(asked, options).await?.report)
}

/// What a sync runs with, as both `pcosync sync` (and the web admin) and the daemon hold it.
pub struct Run<'a> {
    pub runtime: &'a crate::runtime::Runtime,
    pub guest: &'a crate::runtime::Guest,
    /// Their state commits already fenced by the account's lock, for a run that writes.
    pub capabilities: &'a Capabilities,
    pub account: &'a AccountConfig,
    pub several_accounts: bool,
}

/// What [`Run::sync`] gave.
pub struct Synced {
    pub report: Report,
    pub mode: Mode,
    /// What the sync itself used of the limits (the refresh after it is not counted).
    pub usage: Option<crate::runtime::Usage>,
}

impl Run<'_> {
    /// One sync: full or updates-only as `asked`, else as [`full_sync::mode`] says is due;
    /// after a full run that wrote, its time is recorded and the account's PCO Tags choices
    /// are refreshed in Rock. `options.updates_only` is set here.
    pub async fn sync(
        &self,
        asked: Option<Mode>,
        mut options: SyncOptions,
    ) -> Result<Synced, RunFailure> {
        let state = self.capabilities.state.as_ref();
        let started = lock::now();
        let mode = full_sync::mode(state, self.account, asked, started)
            .map_err(|e| RunFailure::Host(e.into()))?;
        options.updates_only = mode.as_option();
        let report = self
            .runtime
            .sync(
                self.guest,
                self.capabilities,
                &self.account.to_guest(),
                &options,
            )
            .await
            .map_err(RunFailure::Run)?;
        let usage = self.runtime.last_usage();
        if mode == Mode::Full && !options.dry_run && !report.held {
            full_sync::record_full(state, &self.account.name, started)
                .map_err(|e| RunFailure::Host(e.into()))?;
            super::tag_choices::refresh(
                self.runtime,
                self.guest,
                self.capabilities,
                self.account,
                self.several_accounts,
            )
            .await;
        }
        Ok(Synced {
            report,
            mode,
            usage,
        })
    }
}

/// The example the errors about missing import settings show.
pub const IMPORT_EXAMPLE: &str = "add to the account:\n\n    [accounts.import]\n    connection_status = \"Prospect\"   # given to the people created in Rock\n    groups.viewer = GROUP_ID          # the Rock group of each PCO level to import:\n    groups.editor = GROUP_ID          # scheduled_viewer, viewer, scheduler, editor, administrator";

/// The import's options from `[accounts.import]`, or what to add (R40-R41).
pub fn import_options(account: &AccountConfig, dry_run: bool) -> Result<ImportOptions, String> {
    let Some(import) = &account.import else {
        return Err(format!(
            "account \"{}\" has no [accounts.import] settings, which say where PCO people go in Rock: {IMPORT_EXAMPLE}",
            account.name
        ));
    };
    let level_groups: Vec<LevelGroup> = import
        .groups
        .by_level()
        .into_iter()
        .map(|(level, group_id)| LevelGroup { level, group_id })
        .collect();
    if level_groups.is_empty() {
        return Err(format!(
            "[accounts.import] of account \"{}\" chooses no Rock group for any PCO level: {IMPORT_EXAMPLE}",
            account.name
        ));
    }
    if import.connection_status.trim().is_empty() {
        return Err(format!(
            "[accounts.import] connection_status of account \"{}\" is blank: name a connection status of your Rock (e.g. \"Prospect\")",
            account.name
        ));
    }
    Ok(ImportOptions {
        run: AdminOptions {
            run_id: new_run_id(),
            started_at: now_rfc3339(),
            dry_run,
        },
        level_groups,
        connection_status: import.connection_status.trim().to_string(),
    })
}

/// One import of `account` with `options` (from [`import_options`]); it goes on where a
/// stopped one left off, importing nobody twice (R42).
pub async fn import(
    session: &Session,
    locks: Arc<dyn Locks>,
    account: &AccountConfig,
    options: &ImportOptions,
    command: &str,
) -> Result<Report, RunFailure> {
    // Rock's connection statuses are the host's to know: checked before the dry run as before
    // the real one, so a dry run never promises creates the run then fails (issue 24 item 23).
    session
        .capabilities
        .rock
        .check_connection_status(&options.connection_status)
        .await
        .map_err(|error| RunFailure::Run(RunError::Guest(error)))?;
    let lock = lock_account(locks, account, options.run.dry_run, command)?;
    let capabilities = fenced(session, lock.as_ref());
    session
        .runtime
        .import(&session.guest, &capabilities, &account.to_guest(), options)
        .await
        .map_err(RunFailure::Run)
}
