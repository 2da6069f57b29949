//! The import's settings checked against Rock where they are saved and before any import runs,
//! its dry run included (R41, issue 24 item 23): a connection status Rock does not have made
//! a dry run say "created in Rock 43, failed 0" and the real run then fail all 43.
//!
//! The guest checks the groups again at the start of every import (with the rules only it
//! knows: the group type enabled, the level granted); this check is what an edit can know
//! before it saves: the connection status exists, and each group exists, is active and syncs
//! to the account.

use crate::bindings::types::PermissionLevel;
use crate::config::AccountConfig;
use crate::rock::Rock;

/// The config key of a level's import group (`import.viewer`).
fn level_key(level: PermissionLevel) -> &'static str {
    match level {
        PermissionLevel::ScheduledViewer => "import.scheduled_viewer",
        PermissionLevel::Viewer => "import.viewer",
        PermissionLevel::Scheduler => "import.scheduler",
        PermissionLevel::Editor => "import.editor",
        PermissionLevel::Administrator => "import.administrator",
    }
}

/// The account's `[accounts.import]` against Rock: Ok when there is none, or when Rock has
/// everything it names; otherwise what is wrong and how to fix it.
pub async fn import_settings(rock: &dyn Rock, account: &AccountConfig) -> Result<(), String> {
    let Some(import) = &account.import else {
        return Ok(());
    };
    if !import.connection_status.trim().is_empty() {
        rock.check_connection_status(import.connection_status.trim())
            .await
            .map_err(|e| format!("{}: set import.connection_status to one of them", e.message))?;
    }
    let chosen = import.groups.by_level();
    if chosen.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = chosen.iter().map(|(_, id)| *id).collect();
    let groups = rock
        .groups(&ids)
        .await
        .map_err(|e| format!("cannot read the import groups from Rock: {}", e.message))?;
    for (level, id) in chosen {
        let key = level_key(level);
        let Some(group) = groups.iter().find(|g| g.id == id) else {
            return Err(format!(
                "Rock has no group {id} ({key}): give the id of an existing group"
            ));
        };
        if !group.is_active {
            return Err(format!(
                "Rock group {id} \"{}\" ({key}) is inactive: its members would not be synced; choose an active group",
                group.name
            ));
        }
        if group.pco_account.as_deref() != Some(account.name.as_str()) {
            return Err(format!(
                "Rock group {id} \"{}\" ({key}) does not sync to the account \"{}\": the people imported into it would not be synced; choose a group whose PCO Account is \"{}\"",
                group.name, account.name, account.name
            ));
        }
    }
    Ok(())
}
