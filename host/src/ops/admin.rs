//! The guest's administration calls for one account (R25, R32-R35): what `pcosync status`,
//! `refresh`, `link`, `delete`, `runs show` and `revert` do, and what the web admin's pages do.

use super::Session;
use crate::bindings::engine::Account;
use crate::bindings::engine::{
    AccountStatus, Action, AdminOptions, PersonStatus, Report, RevertOptions, RunDetail,
    StatusOptions,
};
use crate::bindings::types::{Error as GuestError, ErrorKind};
use crate::cli::{new_run_id, now_rfc3339};
use crate::config::AccountConfig;
use crate::runtime::{Capabilities, Guest, RunError, Runtime};
use crate::state::lock::LockGuard;
use sha2::{Digest, Sha256};

/// The account's lock and fenced capabilities for an operation that writes; for a dry run no
/// lock (it writes nothing: the runtime gives it capabilities that refuse writes).
fn lock_unless_dry(
    session: &Session,
    account: &AccountConfig,
    dry_run: bool,
) -> Result<(Option<LockGuard>, Capabilities), RunError> {
    if dry_run {
        return Ok((None, session.capabilities.clone()));
    }
    let (guard, capabilities) = session.lock(account)?;
    Ok((Some(guard), capabilities))
}

/// Fresh options for an administration run (a new run id, now).
pub fn admin_options(dry_run: bool) -> AdminOptions {
    AdminOptions {
        run_id: new_run_id(),
        started_at: now_rfc3339(),
        dry_run,
    }
}

/// What the account syncs and with whom, and its recent runs (R32).
pub async fn status(
    session: &Session,
    account: &AccountConfig,
    options: &StatusOptions,
) -> Result<AccountStatus, RunError> {
    session
        .runtime
        .status(
            &session.guest,
            &session.capabilities,
            &account.to_guest(),
            options,
        )
        .await
}

/// Rebuilds the people list from the groups, writing nothing to PCO (R34). Holds the
/// account's lock, like every operation that writes.
pub async fn refresh(
    session: &Session,
    account: &AccountConfig,
) -> Result<AccountStatus, RunError> {
    let (_lock, capabilities) = session.lock(account)?;
    session
        .runtime
        .refresh(&session.guest, &capabilities, &account.to_guest())
        .await
}

/// The people of a refreshed list still waiting for their first sync (not those the sync
/// leaves for an administrator: their status says why).
pub fn pending(status: &AccountStatus) -> usize {
    status
        .people
        .iter()
        .filter(|p| p.pco_id.is_none() && p.rock_level.is_some() && p.waiting.is_none())
        .count()
}

/// Sets a person's PCO id by hand (R33); then what the account now says of the person, when
/// it can tell.
pub async fn link(
    session: &Session,
    account: &AccountConfig,
    rock_id: i64,
    pco_id: &str,
) -> Result<Option<PersonStatus>, RunError> {
    let guest_account = account.to_guest();
    let (lock, capabilities) = session.lock(account)?;
    session
        .runtime
        .link(
            &session.guest,
            &capabilities,
            &guest_account,
            rock_id,
            pco_id,
        )
        .await?;
    drop(lock);
    let options = StatusOptions {
        with_values: false,
        rock_ids: vec![rock_id],
        runs: 0,
    };
    Ok(status(session, account, &options)
        .await
        .ok()
        .and_then(|status| status.people.into_iter().next()))
}

/// Lets the next sync create a person it holds because PCO may already hold them (same name
/// and birth date, R4): the administrator has judged them someone else.
pub async fn allow_create(
    session: &Session,
    account: &AccountConfig,
    rock_id: i64,
) -> Result<(), RunError> {
    let guest_account = account.to_guest();
    let (_lock, capabilities) = session.lock(account)?;
    session
        .runtime
        .allow_create(&session.guest, &capabilities, &guest_account, rock_id)
        .await
}

/// What a newly linked person's groups mean for the next sync.
pub fn link_note(person: &PersonStatus, allow_downgrade: bool) -> String {
    match person.rock_level {
        Some(level) => format!(
            "Their groups give them {} in PCO.",
            super::text::level_name(Some(level))
        ),
        None if allow_downgrade => "Note: they are in no group synced to this account, so the next sync archives them in PCO (allow_downgrade is on).".into(),
        None => "Note: they are in no group synced to this account.".into(),
    }
}

/// Deletes these PCO people from PCO People and Services (R35), or with `dry_run` says who
/// would go.
pub async fn delete(
    session: &Session,
    account: &AccountConfig,
    pco_ids: &[String],
    dry_run: bool,
) -> Result<Report, RunError> {
    let (_lock, capabilities) = lock_unless_dry(session, account, dry_run)?;
    session
        .runtime
        .delete(
            &session.guest,
            &capabilities,
            &account.to_guest(),
            pco_ids,
            &admin_options(dry_run),
        )
        .await
}

/// R35: the people of a delete's plan that the next sync adds back (still in a synced group),
/// e.g. `PCO 123 (Rock 45)`.
pub fn comebacks(plan: &Report) -> Vec<String> {
    plan.people
        .iter()
        .filter(|p| p.actions.iter().any(|a| matches!(a, Action::Flagged(_))))
        .map(|p| match (p.rock_id, &p.pco_id) {
            (Some(rock), Some(pco)) => format!("PCO {pco} (Rock {rock})"),
            (_, Some(pco)) => format!("PCO {pco}"),
            (Some(rock), None) => format!("Rock {rock}"),
            (None, None) => "?".into(),
        })
        .collect()
}

/// The R35 warning before a delete.
pub const COMEBACK_WARNING: &str = "still in a group synced to this account, so the next sync adds them back to PCO as new people (remove them from the group in Rock to keep them out)";

/// A run's summary and every write it recorded (R25).
pub async fn run_detail(
    session: &Session,
    account: &AccountConfig,
    run_id: &str,
) -> Result<RunDetail, RunError> {
    session
        .runtime
        .run_detail(
            &session.guest,
            &session.capabilities,
            &account.to_guest(),
            run_id.trim(),
        )
        .await
}

/// Writes back the values a run replaced, for all its people or one (R25); with `dry_run`,
/// what it would write.
pub async fn revert(
    session: &Session,
    account: &AccountConfig,
    run_id: &str,
    rock_id: Option<i64>,
    dry_run: bool,
    confirm: Option<&str>,
) -> Result<Report, RunError> {
    let (_lock, capabilities) = lock_unless_dry(session, account, dry_run)?;
    let guest_account = account.to_guest();
    if let (false, Some(fingerprint)) = (dry_run, confirm) {
        return revert_as_previewed(
            &session.runtime,
            &session.guest,
            &capabilities,
            &guest_account,
            run_id,
            rock_id,
            fingerprint,
        )
        .await;
    }
    let options = RevertOptions {
        target: run_id.to_string(),
        rock_id,
        run: admin_options(dry_run),
    };
    session
        .runtime
        .revert(&session.guest, &capabilities, &guest_account, &options)
        .await
}

/// What a revert's preview showed, as a short digest: every person's write-backs and what
/// is left alone, values included (not the run id or the time). `revert --confirm` and the
/// web's "Revert" button carry it from the preview to the apply (issue 24 item 19).
pub fn revert_fingerprint(report: &Report) -> String {
    let shown = serde_json::to_vec(&report.people).unwrap_or_default();
    hex::encode(&Sha256::digest(&shown)[..8])
}

/// A revert that writes only what its preview showed (issue 24 item 19, R25): the plan is made
/// again without writing (a dry run), under the caller's lock, and written only when its
/// fingerprint is still `fingerprint`; otherwise nothing is written and the error says to
/// look at the preview again. As `sync --confirm` ties a held run to what was reviewed.
pub async fn revert_as_previewed(
    runtime: &Runtime,
    guest: &Guest,
    capabilities: &Capabilities,
    account: &Account,
    run_id: &str,
    rock_id: Option<i64>,
    fingerprint: &str,
) -> Result<Report, RunError> {
    let options = |dry_run| RevertOptions {
        target: run_id.to_string(),
        rock_id,
        run: admin_options(dry_run),
    };
    let plan = runtime
        .revert(guest, capabilities, account, &options(true))
        .await?;
    let now = revert_fingerprint(&plan);
    if now != fingerprint.trim() {
        return Err(RunError::Guest(GuestError::new(
            ErrorKind::Conflict,
            format!(
                "the revert of run {run_id} would now write something else than its preview \
                 showed (preview {}, now {now}): a value changed since. Nothing was written. \
                 Preview it again, and apply that preview",
                fingerprint.trim()
            ),
        )));
    }
    runtime
        .revert(guest, capabilities, account, &options(false))
        .await
}
