//! `pcosync status` (R32) and `pcosync refresh` (R34): what an account syncs and with whom,
//! and its recent runs. Also the helpers the other administration commands share: picking
//! the account, opening a session with the guest, showing the guest's refusals plainly.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::admin_failure;
use crate::bindings::engine::{AccountStatus, PersonStatus, StatusOptions};
use crate::config::{AccountConfig, Config};
use crate::ops::admin;
pub(crate) use crate::ops::text::{
    counts_text, field_value_text, kind_name, level_name, outcome_name, time_text,
};

#[derive(Args)]
pub struct StatusArgs {
    /// Only this account [default: every configured account].
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    /// Also show the values saved at each person's last sync.
    #[arg(long)]
    values: bool,
    /// Only this Rock person (repeat for several).
    #[arg(long = "person", value_name = "ROCK_ID")]
    people: Vec<i64>,
    /// How many recent runs to list.
    #[arg(long, value_name = "N", default_value_t = 5)]
    runs: u32,
    /// Print the status as JSON, one line per account (for scripts).
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RefreshArgs {
    /// The account [default: the only configured one].
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    /// Print the refreshed status as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(config: &Config, data_dir: &Path, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let accounts: Vec<&AccountConfig> = match &args.account {
        Some(name) => vec![config.account(name).map_err(anyhow::Error::msg)?],
        None => config.accounts.iter().collect(),
    };
    if accounts.is_empty() {
        anyhow::bail!("the configuration has no [[accounts]]: add one (see README, Configuration)");
    }
    let options = StatusOptions {
        with_values: args.values,
        rock_ids: args.people.clone(),
        runs: args.runs,
    };
    let mut code = ExitCode::SUCCESS;
    for account in accounts {
        // Each account's session holds that account's credentials alone.
        let session = Session::open(config, data_dir, account).await?;
        match admin::status(&session, account, &options).await {
            Ok(status) if args.json => println!("{}", serde_json::to_string(&status)?),
            Ok(status) => {
                print_status(&status, args.values);
                if let Some(note) = super::email::waiting_note(data_dir, &account.name) {
                    println!("{}", terminal_safe(&note));
                }
            }
            Err(error) => {
                eprintln!("error: account \"{}\": {}", account.name, plain(&error));
                code = ExitCode::from(1);
            }
        }
    }
    Ok(code)
}

pub async fn refresh(
    config: &Config,
    data_dir: &Path,
    args: RefreshArgs,
) -> anyhow::Result<ExitCode> {
    let account = pick_account(config, args.account.as_deref())?;
    let session = Session::open(config, data_dir, account).await?;
    let status = admin::refresh(&session, account)
        .await
        .map_err(|e| admin_failure(&account.name, e))?;
    if args.json {
        println!("{}", serde_json::to_string(&status)?);
    } else {
        let pending = admin::pending(&status);
        println!(
            "People list refreshed from the groups: {} people, {pending} waiting for their first sync. Nothing was written to PCO.\n",
            status.people.len()
        );
        print_status(&status, false);
    }
    Ok(ExitCode::SUCCESS)
}

// ---- Shared by the administration commands -------------------------------------------------

pub(crate) use crate::ops::{Session, plain};

/// The named account, or the only one configured when none is named.
pub(crate) fn pick_account<'a>(
    config: &'a Config,
    name: Option<&str>,
) -> anyhow::Result<&'a AccountConfig> {
    match (name, config.accounts.as_slice()) {
        (Some(name), _) => config.account(name).map_err(anyhow::Error::msg),
        (None, [only]) => Ok(only),
        (None, []) => {
            anyhow::bail!(
                "the configuration has no [[accounts]]: add one (see README, Configuration)"
            )
        }
        (None, several) => anyhow::bail!(
            "several accounts are configured: name one with --account ({})",
            several
                .iter()
                .map(|a| format!("\"{}\"", a.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Left-aligned columns, two spaces apart, indented by two.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(i) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let width = widths.get(i).copied().unwrap_or_default();
                format!("{cell:<width$}")
            })
            .collect();
        format!("  {}", padded.join("  ").trim_end())
    };
    let mut out = vec![line(headers.to_vec())];
    for row in rows {
        out.push(line(row.iter().map(String::as_str).collect()));
    }
    out.join("\n")
}

// ---- The status ----------------------------------------------------------------------------

/// Prints the status, its data (names from Rock, tags, values) made terminal-safe.
pub(crate) fn print_status(status: &AccountStatus, with_values: bool) {
    print!("{}", terminal_safe(&status_text(status, with_values)));
}

pub(crate) use crate::ops::text::terminal_safe;

/// The status as `pcosync status` prints it, before [`terminal_safe`].
pub(crate) fn status_text(status: &AccountStatus, with_values: bool) -> String {
    let mut out = String::new();
    say!(
        out,
        "Account \"{}\" · last successful sync {}",
        status.account,
        status
            .last_success
            .as_deref()
            .map_or("never".to_string(), time_text)
    );
    say!(out);
    say!(
        out,
        "Groups syncing to this account ({})",
        status.groups.len()
    );
    if status.groups.is_empty() {
        say!(
            out,
            "  none: set the group attribute \"PCO Account\" on a Rock group, or map a tag to one"
        );
    } else {
        let rows: Vec<Vec<String>> = status
            .groups
            .iter()
            .map(|g| {
                vec![
                    g.id.to_string(),
                    g.name.clone(),
                    g.group_type.clone(),
                    level_name(g.level).to_string(),
                    g.tag.clone().unwrap_or_else(|| "-".into()),
                    g.active_members.to_string(),
                    if g.enabled { "yes" } else { "no *" }.to_string(),
                ]
            })
            .collect();
        say!(
            out,
            "{}",
            table(
                &["ID", "NAME", "TYPE", "LEVEL", "TAG", "MEMBERS", "SYNCED"],
                &rows
            )
        );
        if status.groups.iter().any(|g| !g.enabled) {
            say!(
                out,
                "  * not synced: the group is inactive, or its type is not in the account's enabled_group_types"
            );
        }
    }
    say!(out);
    say!(out, "People ({})", status.people.len());
    if status.people.is_empty() {
        say!(out, "  none");
    } else {
        let rows: Vec<Vec<String>> = status
            .people
            .iter()
            .map(|p| {
                vec![
                    p.rock_id.to_string(),
                    if p.name.is_empty() {
                        "(not in Rock)".into()
                    } else {
                        p.name.clone()
                    },
                    p.pco_id.clone().unwrap_or_else(|| unlinked_text(p)),
                    match p.rock_level {
                        Some(level) => level_name(Some(level)).to_string(),
                        None => "- (in no synced group)".into(),
                    },
                    level_name(p.pco_level).to_string(),
                    p.last_synced.as_deref().map_or("-".to_string(), time_text),
                    if p.tags.is_empty() {
                        "-".into()
                    } else {
                        p.tags.join(", ")
                    },
                ]
            })
            .collect();
        say!(
            out,
            "{}",
            table(
                &[
                    "ROCK ID",
                    "NAME",
                    "PCO ID",
                    "ROCK LEVEL",
                    "PCO LEVEL",
                    "LAST SYNC",
                    "TAGS"
                ],
                &rows
            )
        );
        waiting_text(&mut out, &status.people);
        if with_values {
            say!(out);
            say!(out, "Values saved at the last sync");
            for person in &status.people {
                say!(
                    out,
                    "  Rock {}{}{}",
                    person.rock_id,
                    if person.name.is_empty() {
                        String::new()
                    } else {
                        format!(" · {}", person.name)
                    },
                    person
                        .pco_id
                        .as_deref()
                        .map(|id| format!(" · PCO {id}"))
                        .unwrap_or_default()
                );
                if person.values.is_empty() {
                    say!(out, "    (none saved yet: not synced since linked)");
                }
                for value in &person.values {
                    let (field, text) = field_value_text(value);
                    say!(out, "    {field:<14} {text}");
                }
            }
        }
    }
    say!(out);
    say!(out, "Recent runs ({})", status.runs.len());
    if status.runs.is_empty() {
        say!(out, "  none recorded");
    } else {
        let rows: Vec<Vec<String>> = status
            .runs
            .iter()
            .map(|r| {
                vec![
                    r.run_id.clone(),
                    kind_name(r.kind).to_string(),
                    time_text(&r.started_at),
                    r.finished_at.as_deref().map_or("-".to_string(), time_text),
                    outcome_name(r.outcome).to_string(),
                    counts_text(&r.counts),
                ]
            })
            .collect();
        say!(
            out,
            "{}",
            table(
                &["RUN", "KIND", "STARTED", "FINISHED", "OUTCOME", "COUNTS"],
                &rows
            )
        );
        say!(
            out,
            "  (`pcosync runs show RUN_ID` lists every write of a run)"
        );
    }
    say!(out);
    out
}

/// The PCO id column of someone unlinked: waiting for the next sync, or for an administrator
/// (R32, issue 24 item 25: a person the sync skips every run is not "next sync").
fn unlinked_text(person: &PersonStatus) -> String {
    match person.waiting {
        Some(_) => "- (waiting for you, see below)".into(),
        None => "- (next sync)".into(),
    }
}

/// Why each person the sync leaves unlinked waits, and what to do.
fn waiting_text(out: &mut String, people: &[PersonStatus]) {
    let waiting: Vec<&PersonStatus> = people.iter().filter(|p| p.waiting.is_some()).collect();
    if waiting.is_empty() {
        return;
    }
    say!(out);
    say!(
        out,
        "Waiting for an administrator ({}): the sync skips them every run until you act",
        waiting.len()
    );
    for person in waiting {
        say!(
            out,
            "  Rock {}: {}",
            person.rock_id,
            person.waiting.as_deref().unwrap_or_default()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::engine::Counts;

    /// Issue 24 item 19 (R32): an escape sequence in a Rock nickname (or a tag) is shown
    /// escaped, never sent to the terminal, where it would clear the operator's screen.
    #[test]
    fn escape_codes_in_rock_names_never_reach_the_terminal_issue_24_item_19_r32() {
        use crate::bindings::engine::{AccountStatus, PersonStatus};
        let status = AccountStatus {
            account: "Main".into(),
            groups: vec![],
            people: vec![PersonStatus {
                rock_id: 7,
                name: "Bob\u{1b}[2J\u{1b}[H Smith".into(),
                pco_id: Some("12".into()),
                rock_level: None,
                pco_level: None,
                last_synced: None,
                values: vec![],
                tags: vec!["Greeters\u{7}".into()],
                waiting: None,
            }],
            runs: vec![],
            last_success: None,
        };
        let shown = terminal_safe(&status_text(&status, true));
        assert!(
            !shown.contains(|c: char| c.is_control() && c != '\n'),
            "{shown:?}"
        );
        assert!(shown.contains("Bob\\u{1b}[2J"), "{shown}");
        assert!(shown.lines().count() > 5, "line breaks kept: {shown}");
    }

    /// Issue 24 item 25 (R32): a person the sync skips every run is not shown as waiting for
    /// the next sync: the status says why they wait and what to do; someone simply not synced
    /// yet still reads "(next sync)".
    #[test]
    fn people_the_sync_skips_say_why_they_wait_issue_24_item_25_r32() {
        use crate::bindings::engine::{AccountStatus, PersonStatus};
        use crate::bindings::types::PermissionLevel;
        let person = |rock_id: i64, waiting: Option<&str>| PersonStatus {
            rock_id,
            name: format!("Person {rock_id}"),
            pco_id: None,
            rock_level: Some(PermissionLevel::Viewer),
            pco_level: None,
            last_synced: None,
            values: vec![],
            tags: vec![],
            waiting: waiting.map(Into::into),
        };
        let why = "account protection is High: never matched by email; link this person by hand: pcosync link 7 PCO_ID";
        let status = AccountStatus {
            account: "Main".into(),
            groups: vec![],
            people: vec![person(7, Some(why)), person(8, None)],
            runs: vec![],
            last_success: None,
        };
        let shown = status_text(&status, false);
        let row = |id: &str| {
            shown
                .lines()
                .find(|l| l.trim_start().starts_with(id))
                .unwrap_or_default()
                .to_string()
        };
        assert!(!row("7 ").contains("next sync"), "{shown}");
        assert!(row("7 ").contains("waiting for you"), "{shown}");
        assert!(row("8 ").contains("(next sync)"), "{shown}");
        assert!(shown.contains(&format!("Rock 7: {why}")), "{shown}");
        assert!(!shown.contains("Rock 8:"), "{shown}");
    }

    #[test]
    fn tables_align_their_columns() {
        let out = table(
            &["ID", "NAME"],
            &[
                vec!["1".into(), "Ann Lee".into()],
                vec!["1234".into(), "Bo".into()],
            ],
        );
        assert_eq!(out, "  ID    NAME\n  1     Ann Lee\n  1234  Bo");
    }

    #[test]
    fn times_read_plainly() {
        assert_eq!(
            time_text("2026-12-01T06:49:05.69046272Z"),
            "2026-12-01 06:49:05 UTC"
        );
        assert_eq!(time_text("2026-12-01T06:49:05Z"), "2026-12-01 06:49:05 UTC");
        assert_eq!(time_text("soon"), "soon");
    }

    #[test]
    fn counts_show_only_what_happened() {
        let mut counts = Counts {
            synced: 0,
            linked: 0,
            created: 0,
            updated_to_pco: 0,
            updated_to_rock: 0,
            conflicts: 0,
            raised: 0,
            lowered: 0,
            archived: 0,
            skipped: 0,
            failed: 0,
            imported: 0,
            deleted: 0,
            reverted: 0,
        };
        assert_eq!(counts_text(&counts), "nothing");
        counts.deleted = 2;
        counts.skipped = 1;
        assert_eq!(counts_text(&counts), "deleted 2 · skipped 1");
    }
}
