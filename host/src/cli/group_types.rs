//! `pcosync group-types ...`: which Rock group types may sync to an account (R36). A group
//! configured with the account (or mapped to a tag) syncs only when its type is enabled.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;
use toml_edit::{Array, Item, Value};

use super::config::{
    ConfigEdit, ConfigLocation, Reach, account_mut, connect_rock, exit_status, pick_account, print,
    table, usage,
};
use crate::bindings::rock::{Group, GroupType};
use crate::config::{AccountConfig, Config};
use crate::ops::{Console, Out};
use crate::rock::Rock;

#[derive(Subcommand)]
pub enum GroupTypesCommand {
    /// List the group types enabled for the account and, when Rock can be reached, the types
    /// of the groups configured with it or mapped to its tags.
    List {
        /// The account [default: the only one configured].
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
        /// Print JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Let groups of these types sync to the account; each by name, GUID or id.
    Enable {
        /// The account [default: the only one configured].
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
        #[arg(required = true, value_name = "TYPE")]
        types: Vec<String>,
    },
    /// Stop groups of these types syncing to the account.
    Disable {
        /// The account [default: the only one configured].
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
        #[arg(required = true, value_name = "TYPE")]
        types: Vec<String>,
    },
}

pub async fn run(
    location: &ConfigLocation,
    config: &Config,
    data_dir: &Path,
    command: GroupTypesCommand,
) -> anyhow::Result<ExitCode> {
    exit_status(match command {
        GroupTypesCommand::List { account, json } => list(config, account.as_deref(), json).await,
        GroupTypesCommand::Enable { account, types } => {
            enable(
                location,
                config,
                data_dir,
                account.as_deref(),
                &types,
                &Console,
            )
            .await
        }
        GroupTypesCommand::Disable { account, types } => {
            disable(location, config, account.as_deref(), &types, &Console)
        }
    })
}

fn names(named: &str, kind: &GroupType) -> bool {
    super::config::names_type(named, kind)
}

/// A group type of the account's groups in Rock, whether it is enabled, and its groups' names.
pub(crate) struct TypeRow {
    pub kind: GroupType,
    pub enabled: bool,
    pub groups: Vec<String>,
}

/// The group types of the account's groups in Rock (configured with it or mapped to its
/// tags), or why Rock could not say.
pub(crate) async fn listing(
    config: &Config,
    account: &AccountConfig,
) -> Result<Vec<TypeRow>, String> {
    let groups = rock_groups(config, account)
        .await
        .map_err(|why| why.message().to_string())?;
    Ok(by_type(&groups)
        .into_values()
        .map(|(kind, groups)| TypeRow {
            enabled: account.enabled_group_types.iter().any(|n| names(n, &kind)),
            kind,
            groups,
        })
        .collect())
}

/// The groups of the account in Rock: configured with it, or mapped to one of its tags.
async fn rock_groups(config: &Config, account: &AccountConfig) -> Result<Vec<Group>, Reach> {
    let rock = connect_rock(config).await?;
    let mut groups = rock
        .account_groups(&account.name)
        .await
        .map_err(|e| Reach::Failed(format!("cannot read groups from Rock: {}", e.message)))?;
    let mapped: Vec<i64> = account
        .tag_groups
        .iter()
        .map(|t| t.group_id)
        .filter(|id| !groups.iter().any(|g| g.id == *id))
        .collect();
    if !mapped.is_empty() {
        groups.extend(
            rock.groups(&mapped).await.map_err(|e| {
                Reach::Failed(format!("cannot read groups from Rock: {}", e.message))
            })?,
        );
    }
    Ok(groups)
}

/// Group types by id, with their groups' names.
fn by_type(groups: &[Group]) -> BTreeMap<i64, (GroupType, Vec<String>)> {
    let mut types: BTreeMap<i64, (GroupType, Vec<String>)> = BTreeMap::new();
    for group in groups {
        types
            .entry(group.group_type.id)
            .or_insert_with(|| (group.group_type.clone(), Vec::new()))
            .1
            .push(group.name.clone());
    }
    types
}

async fn list(config: &Config, account: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let account = pick_account(config, account)?;
    let rock = listing(config, account).await;
    if json {
        let types = match &rock {
            Ok(rows) => rows
                .iter()
                .map(|row| {
                    json!({
                        "id": row.kind.id, "guid": row.kind.guid, "name": row.kind.name,
                        "enabled": row.enabled,
                        "groups": row.groups,
                    })
                })
                .collect::<Vec<_>>(),
            Err(_) => Vec::new(),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "account": account.name,
                "enabled_group_types": account.enabled_group_types,
                "rock_group_types": types,
                "rock_error": rock.as_ref().err(),
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if account.enabled_group_types.is_empty() {
        println!(
            "No group types are enabled for account \"{}\": no Rock group syncs to it, only people given its tags in the \"PCO Tags\" attribute.",
            account.name
        );
    } else {
        println!(
            "Group types enabled for account \"{}\": {}",
            account.name,
            account
                .enabled_group_types
                .iter()
                .map(|t| format!("\"{t}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    match rock {
        Ok(rows) if rows.is_empty() => println!(
            "No group in Rock is configured with account \"{}\" or mapped to its tags.",
            account.name
        ),
        Ok(rows) => {
            println!("Types of its groups in Rock:");
            let rows: Vec<Vec<String>> = rows
                .into_iter()
                .map(|row| {
                    vec![
                        row.kind.name.clone(),
                        row.kind.id.to_string(),
                        if row.enabled { "yes" } else { "no" }.to_string(),
                        row.groups.join(", "),
                    ]
                })
                .collect();
            print(&table(&["GROUP TYPE", "ID", "ENABLED", "GROUPS"], &rows));
        }
        Err(why) => eprintln!("note: Rock's group types are not shown ({why})"),
    }
    println!(
        "Change with `pcosync group-types enable|disable --account \"{}\" TYPE`.",
        account.name
    );
    Ok(ExitCode::SUCCESS)
}

/// Lets groups of these types sync to the account.
pub(crate) async fn enable(
    location: &ConfigLocation,
    config: &Config,
    data_dir: &Path,
    account: Option<&str>,
    types: &[String],
    out: &dyn Out,
) -> anyhow::Result<ExitCode> {
    let account = pick_account(config, account)?;
    let name = account.name.clone();
    let wanted: Vec<&str> = types.iter().map(|t| t.trim()).collect();
    if wanted.iter().any(|t| t.is_empty()) {
        return Err(usage(
            "a group type is empty: name it by its name, GUID or id",
        ));
    }
    let new: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|t| {
            !account
                .enabled_group_types
                .iter()
                .any(|e| e.trim().eq_ignore_ascii_case(t))
        })
        .collect();
    for already in wanted.iter().filter(|t| !new.contains(t)) {
        out.say(&format!(
            "\"{already}\" is already enabled for account \"{name}\""
        ));
    }
    if new.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    // A type none of the account's groups has may be a typo: say so, but enable it (the groups
    // may come later).
    if let Ok(groups) = rock_groups(config, account).await {
        let known = by_type(&groups);
        for t in &new {
            if !known.values().any(|(kind, _)| names(t, kind)) {
                let seen: Vec<String> = known
                    .values()
                    .map(|(k, _)| format!("\"{}\"", k.name))
                    .collect();
                out.warn(&format!(
                    "note: no group of account \"{name}\" in Rock is of type \"{t}\" (its groups' types: {})",
                    if seen.is_empty() {
                        "none".into()
                    } else {
                        seen.join(", ")
                    }
                ));
            }
        }
    }
    let mut edit = ConfigEdit::open(location, false)?;
    let entry = account_mut(&mut edit.doc, &name)?;
    if entry.get("enabled_group_types").is_none_or(Item::is_none) {
        entry.insert(
            "enabled_group_types",
            Item::Value(Value::Array(Array::new())),
        );
    }
    let list = entry
        .get_mut("enabled_group_types")
        .and_then(Item::as_array_mut)
        .ok_or_else(|| {
            usage(format!(
                "enabled_group_types of account \"{name}\" is not a list; fix it by hand"
            ))
        })?;
    for t in &new {
        let mut value = Value::from(*t);
        if list.len() >= 2
            && let Some(last) = list.iter().last()
        {
            *value.decor_mut() = last.decor().clone();
        }
        list.push_formatted(value);
        if list.len() == 1 {
            list.fmt();
        }
    }
    edit.note(format!(
        "account \"{name}\": group type{} {} enabled",
        if new.len() == 1 { "" } else { "s" },
        new.iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let config = edit.save_to(out)?;
    super::rock::refresh_rock_setup(&config, data_dir, out).await;
    Ok(ExitCode::SUCCESS)
}

/// Stops groups of these types syncing to the account.
pub(crate) fn disable(
    location: &ConfigLocation,
    config: &Config,
    account: Option<&str>,
    types: &[String],
    out: &dyn Out,
) -> anyhow::Result<ExitCode> {
    let account = pick_account(config, account)?;
    let name = account.name.clone();
    let wanted: Vec<&str> = types.iter().map(|t| t.trim()).collect();
    if let Some(unknown) = wanted.iter().find(|t| {
        !account
            .enabled_group_types
            .iter()
            .any(|e| e.trim().eq_ignore_ascii_case(t))
    }) {
        return Err(usage(format!(
            "\"{unknown}\" is not enabled for account \"{name}\" (enabled: {})",
            if account.enabled_group_types.is_empty() {
                "none".into()
            } else {
                account
                    .enabled_group_types
                    .iter()
                    .map(|t| format!("\"{t}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )));
    }
    let mut edit = ConfigEdit::open(location, false)?;
    let entry = account_mut(&mut edit.doc, &name)?;
    if let Some(list) = entry
        .get_mut("enabled_group_types")
        .and_then(Item::as_array_mut)
    {
        list.retain(|v| {
            v.as_str()
                .is_none_or(|s| !wanted.iter().any(|w| s.trim().eq_ignore_ascii_case(w)))
        });
        if let Some(first) = list.get_mut(0) {
            // The first element carries no leading space in a one-line list.
            if !first
                .decor()
                .prefix()
                .is_some_and(|p| p.as_str().is_some_and(|s| s.contains('\n')))
            {
                first.decor_mut().set_prefix("");
            }
        }
    }
    edit.note(format!(
        "account \"{name}\": group type{} {} disabled",
        if wanted.len() == 1 { "" } else { "s" },
        wanted
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    edit.save_to(out)?;
    Ok(ExitCode::SUCCESS)
}
