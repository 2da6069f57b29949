//! `pcosync tag ...`: the account's PCO tags and the Rock groups that control them (R14, R36).

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;
use toml_edit::{Array, ArrayOfTables, InlineTable, Item, Table, Value};

use super::config::{
    ConfigEdit, ConfigLocation, Reach, account_mut, choices, exit_status, names_type, pick_account,
    print, rock_group_names, rock_groups, suggest, table, usage,
};
use crate::config::{Config, is_tag_name};
use crate::ops::{Console, Out};

#[derive(Subcommand)]
pub enum TagCommand {
    /// List the account's tags in PCO and the Rock group each is mapped to.
    List {
        /// The account [default: the only one configured].
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
        /// Print JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Map a PCO tag to a Rock group: the group's active members carry the tag, and only they.
    /// Checks that the tag exists in PCO and the group in Rock when they can be reached.
    Map {
        /// The account [default: the only one configured].
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
        /// The tag, `tag group:tag` as PCO shows it, e.g. "Teams:Worship".
        tag: String,
        /// The id of the Rock group whose members carry it.
        group_id: i64,
        /// Do not ask PCO or Rock whether the tag and the group exist.
        #[arg(long)]
        no_check: bool,
    },
    /// Remove a tag's mapping (only the one to GROUP_ID when given).
    Unmap {
        /// The account [default: the only one configured].
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
        /// The tag, `tag group:tag`.
        tag: String,
        group_id: Option<i64>,
    },
}

pub async fn run(
    location: &ConfigLocation,
    config: &Config,
    data_dir: &Path,
    command: TagCommand,
) -> anyhow::Result<ExitCode> {
    exit_status(match command {
        TagCommand::List { account, json } => {
            list(config, data_dir, account.as_deref(), json).await
        }
        TagCommand::Map {
            account,
            tag,
            group_id,
            no_check,
        } => {
            map(
                location,
                config,
                data_dir,
                account.as_deref(),
                &tag,
                group_id,
                no_check,
                &Console,
            )
            .await
        }
        TagCommand::Unmap {
            account,
            tag,
            group_id,
        } => {
            unmap(
                location,
                config,
                data_dir,
                account.as_deref(),
                &tag,
                group_id,
                &Console,
            )
            .await
        }
    })
}

/// An account's tags in PCO and the Rock groups mapped to them, as `tag list` and the
/// web admin show them.
pub(crate) struct TagListing {
    /// The account's tags in PCO, `tag group:tag`.
    pub pco_tags: Vec<String>,
    /// The configured mappings: (tag, Rock group id).
    pub mappings: Vec<(String, i64)>,
    /// Names of the mapped Rock groups, when Rock could be reached.
    pub names: std::collections::BTreeMap<i64, String>,
    /// Why the names are not there.
    pub names_error: Option<String>,
}

impl TagListing {
    /// The Rock groups mapped to `tag`.
    pub fn groups_of(&self, tag: &str) -> Vec<i64> {
        self.mappings
            .iter()
            .filter(|(t, _)| t == tag)
            .map(|(_, id)| *id)
            .collect()
    }

    /// Tags mapped in the configuration that PCO does not have (in configuration order).
    pub fn missing(&self) -> Vec<&str> {
        self.mappings
            .iter()
            .map(|(t, _)| t.as_str())
            .filter(|t| !self.pco_tags.iter().any(|c| c == t))
            .collect()
    }
}

/// The account's tags from PCO (through the guest's `choices`) and its mappings, with the
/// mapped groups' names from Rock when it can be reached.
pub(crate) async fn listing(
    config: &Config,
    data_dir: &Path,
    account: &crate::config::AccountConfig,
) -> anyhow::Result<TagListing> {
    let choices = choices(config, data_dir, account)
        .await
        .map_err(Reach::into_error)?;
    let mut ids: Vec<i64> = account.tag_groups.iter().map(|t| t.group_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let (names, names_error) = match rock_group_names(config, &ids).await {
        Ok(names) => (names, None),
        Err(why) => (Default::default(), Some(why.message().to_string())),
    };
    Ok(TagListing {
        pco_tags: choices.tags,
        mappings: account
            .tag_groups
            .iter()
            .map(|t| (t.tag.clone(), t.group_id))
            .collect(),
        names,
        names_error,
    })
}

async fn list(
    config: &Config,
    data_dir: &Path,
    account: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let account = pick_account(config, account)?;
    let listing = listing(config, data_dir, account).await?;
    if let Some(why) = &listing.names_error
        && !json
    {
        eprintln!("note: Rock group names are not shown ({why})");
    }
    let names = &listing.names;
    let group = |id: i64| match names.get(&id) {
        Some(name) => format!("{id} {name}"),
        None => id.to_string(),
    };
    let groups_of = |tag: &str| -> Vec<i64> { listing.groups_of(tag) };
    let missing = listing.missing();
    if json {
        let mut tags: Vec<serde_json::Value> = listing
            .pco_tags
            .iter()
            .map(|tag| {
                json!({
                    "tag": tag,
                    "in_pco": true,
                    "groups": groups_of(tag).into_iter().map(|id| json!({"id": id, "name": names.get(&id)})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        for tag in &missing {
            if seen.insert(*tag) {
                tags.push(json!({
                    "tag": tag,
                    "in_pco": false,
                    "groups": groups_of(tag).into_iter().map(|id| json!({"id": id, "name": names.get(&id)})).collect::<Vec<_>>(),
                }));
            }
        }
        print(&serde_json::to_string_pretty(
            &json!({"account": account.name, "tags": tags}),
        )?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Tags of account \"{}\" in PCO ({}):",
        account.name,
        listing.pco_tags.len()
    );
    let rows: Vec<Vec<String>> = listing
        .pco_tags
        .iter()
        .map(|tag| {
            let groups = groups_of(tag);
            vec![
                tag.clone(),
                if groups.is_empty() {
                    "-".into()
                } else {
                    groups.into_iter().map(group).collect::<Vec<_>>().join(", ")
                },
            ]
        })
        .collect();
    print(&table(&["TAG", "MAPPED TO ROCK GROUP"], &rows));
    if !missing.is_empty() {
        println!("Mapped in the configuration but not in PCO:");
        for mapping in account
            .tag_groups
            .iter()
            .filter(|t| missing.contains(&t.tag.as_str()))
        {
            println!(
                "  {} -> {}{} (fix: `pcosync tag unmap --account \"{}\" \"{}\"`)",
                mapping.tag,
                group(mapping.group_id),
                suggest(&mapping.tag, &listing.pco_tags),
                account.name,
                mapping.tag
            );
        }
    }
    println!(
        "Map one with `pcosync tag map --account \"{}\" \"TAG GROUP:TAG\" ROCK_GROUP_ID`.",
        account.name
    );
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
/// Maps a PCO tag to a Rock group after checking both exist, unless `no_check`.
pub(crate) async fn map(
    location: &ConfigLocation,
    config: &Config,
    data_dir: &Path,
    account: Option<&str>,
    tag: &str,
    group_id: i64,
    no_check: bool,
    out: &dyn Out,
) -> anyhow::Result<ExitCode> {
    let account = pick_account(config, account)?;
    let name = account.name.clone();
    let tag = tag.trim();
    if !is_tag_name(tag) {
        return Err(usage(format!(
            "the tag \"{tag}\" must be written `tag group:tag`, as PCO shows it, e.g. \"Teams:Worship\" (`pcosync tag list --account \"{name}\"` lists them)"
        )));
    }
    if group_id <= 0 {
        return Err(usage(format!(
            "GROUP_ID must be the id of a Rock group (a positive number), not {group_id}"
        )));
    }
    if account
        .tag_groups
        .iter()
        .any(|t| t.tag == tag && t.group_id == group_id)
    {
        out.say(&format!(
            "\"{tag}\" is already mapped to Rock group {group_id} in account \"{name}\"; nothing to change"
        ));
        return Ok(ExitCode::SUCCESS);
    }
    if !no_check {
        match choices(config, data_dir, account).await {
            Ok(choices) if !choices.tags.iter().any(|t| t == tag) => {
                return Err(usage(format!(
                    "account \"{name}\" has no tag \"{tag}\" in PCO{} (`pcosync tag list --account \"{name}\"` lists them); nothing was saved",
                    suggest(tag, &choices.tags)
                )));
            }
            Ok(_) => {}
            Err(Reach::Refused(why)) => return Err(usage(why)),
            Err(other) => out.warn(&format!(
                "note: the tag was not checked against PCO ({})",
                other.message()
            )),
        }
        match rock_groups(config, &[group_id]).await {
            Ok(groups) => match groups.iter().find(|g| g.id == group_id) {
                None => {
                    return Err(usage(format!(
                        "Rock has no group with id {group_id}; nothing was saved"
                    )));
                }
                Some(group) => {
                    out.say(&format!(
                        "Rock group {group_id}: \"{}\" (type \"{}\")",
                        group.name, group.group_type.name
                    ));
                    if !account
                        .enabled_group_types
                        .iter()
                        .any(|n| names_type(n, &group.group_type))
                    {
                        out.warn(&format!(
                            "note: group type \"{}\" is not enabled for account \"{name}\": the group's members get the tag only once it is (`pcosync group-types enable --account \"{name}\" \"{}\"`)",
                            group.group_type.name, group.group_type.name
                        ));
                    }
                    if !group.is_active {
                        out.warn(&format!(
                            "note: group {group_id} is inactive in Rock: it gives no one the tag"
                        ));
                    }
                }
            },
            Err(why) => out.warn(&format!(
                "note: the group was not checked against Rock ({})",
                why.message()
            )),
        }
    }
    let others: Vec<i64> = account
        .tag_groups
        .iter()
        .filter(|t| t.tag == tag)
        .map(|t| t.group_id)
        .collect();
    let mut edit = ConfigEdit::open(location, false)?;
    let tables = matches!(edit.doc.get("accounts"), Some(Item::ArrayOfTables(_)));
    let entry = account_mut(&mut edit.doc, &name)?;
    match entry.get_mut("tag_groups") {
        Some(Item::ArrayOfTables(list)) => {
            let mut mapping = Table::new();
            mapping.insert("tag", toml_edit::value(tag));
            mapping.insert("group_id", toml_edit::value(group_id));
            mapping.decor_mut().set_prefix("\n");
            list.push(mapping);
        }
        Some(Item::Value(Value::Array(list))) => list.push(inline_mapping(tag, group_id)),
        Some(_) => {
            return Err(usage(format!(
                "tag_groups of account \"{name}\" is not a list; fix it by hand"
            )));
        }
        None if tables => {
            let mut mapping = Table::new();
            mapping.insert("tag", toml_edit::value(tag));
            mapping.insert("group_id", toml_edit::value(group_id));
            mapping.decor_mut().set_prefix("\n");
            let mut list = ArrayOfTables::new();
            list.push(mapping);
            entry.insert("tag_groups", Item::ArrayOfTables(list));
        }
        None => {
            let mut list = Array::new();
            list.push(inline_mapping(tag, group_id));
            entry.insert("tag_groups", Item::Value(Value::Array(list)));
        }
    }
    edit.note(format!(
        "account \"{name}\": tag \"{tag}\" mapped to Rock group {group_id}"
    ));
    if !others.is_empty() {
        edit.note(format!(
            "  (it is also mapped to group{} {}: members of any of them carry it)",
            if others.len() == 1 { "" } else { "s" },
            others
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let config = edit.save_to(out)?;
    super::rock::refresh_rock_setup(&config, data_dir, out).await;
    Ok(ExitCode::SUCCESS)
}

fn inline_mapping(tag: &str, group_id: i64) -> Value {
    let mut mapping = InlineTable::new();
    mapping.insert("tag", Value::from(tag));
    mapping.insert("group_id", Value::from(group_id));
    mapping.fmt();
    Value::InlineTable(mapping)
}

/// Removes a tag's mapping (only the one to `group_id` when given).
pub(crate) async fn unmap(
    location: &ConfigLocation,
    config: &Config,
    data_dir: &Path,
    account: Option<&str>,
    tag: &str,
    group_id: Option<i64>,
    out: &dyn Out,
) -> anyhow::Result<ExitCode> {
    let account = pick_account(config, account)?;
    let name = account.name.clone();
    let tag = tag.trim();
    let matches = |t: &str, g: Option<i64>| t == tag && group_id.is_none_or(|id| g == Some(id));
    let removed: Vec<i64> = account
        .tag_groups
        .iter()
        .filter(|t| matches(&t.tag, Some(t.group_id)))
        .map(|t| t.group_id)
        .collect();
    if removed.is_empty() {
        let mapped: Vec<String> = account
            .tag_groups
            .iter()
            .map(|t| format!("\"{}\" -> {}", t.tag, t.group_id))
            .collect();
        let tags: Vec<String> = account.tag_groups.iter().map(|t| t.tag.clone()).collect();
        return Err(usage(format!(
            "account \"{name}\" has no mapping of \"{tag}\"{}{} (mapped: {})",
            group_id
                .map(|g| format!(" to group {g}"))
                .unwrap_or_default(),
            suggest(tag, &tags),
            if mapped.is_empty() {
                "none".into()
            } else {
                mapped.join(", ")
            }
        )));
    }
    let mut edit = ConfigEdit::open(location, false)?;
    let entry = account_mut(&mut edit.doc, &name)?;
    let item_matches = |t: Option<&str>, g: Option<i64>| t.is_some_and(|t| matches(t, g));
    let empty = match entry.get_mut("tag_groups") {
        Some(Item::ArrayOfTables(list)) => {
            list.retain(|t| {
                !item_matches(
                    t.get("tag").and_then(Item::as_str),
                    t.get("group_id").and_then(Item::as_integer),
                )
            });
            list.is_empty()
        }
        Some(Item::Value(Value::Array(list))) => {
            list.retain(|v| {
                let Some(t) = v.as_inline_table() else {
                    return true;
                };
                !item_matches(
                    t.get("tag").and_then(Value::as_str),
                    t.get("group_id").and_then(Value::as_integer),
                )
            });
            list.is_empty()
        }
        _ => false,
    };
    if empty {
        entry.remove("tag_groups");
    }
    edit.note(format!(
        "account \"{name}\": tag \"{tag}\" no longer mapped to Rock group{} {}: membership no longer controls it",
        if removed.len() == 1 { "" } else { "s" },
        removed
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let config = edit.save_to(out)?;
    super::rock::refresh_rock_setup(&config, data_dir, out).await;
    Ok(ExitCode::SUCCESS)
}
