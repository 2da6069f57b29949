//! `pcosync rock ...`: setting Rock up for the sync.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use std::path::Path;

use crate::config::Config;
use crate::ops::{Console, Out};
use crate::rock::choices;
use crate::rock::rest::{AttributeNames, ChoicesWrite, GroupSetup, InitReport, RestRock};

#[derive(Subcommand)]
pub enum RockCommand {
    /// Create in Rock what the sync needs, when missing: the "PCO Tags" person attribute and, on
    /// the groups of every group type enabled for an account, the "PCO Account" (chosen from the
    /// configured accounts) and "PCO Permission Level" group attributes. Running it again
    /// creates nothing. When the configured accounts can be reached, it also fills the PCO Tags
    /// choices (as `rock tags` does). Adding an account or enabling a group type does the same.
    Init {
        /// Rock's address [default: `url` of the configuration's [rock] section].
        #[arg(long, value_name = "URL")]
        rock_url: Option<url::Url>,
        /// Environment variable holding the Rock REST key [default: `token` of [rock]].
        #[arg(long, value_name = "NAME")]
        rock_token_env: Option<String>,
    },
    /// Refresh the choices of the "PCO Tags" person attribute from PCO: every configured
    /// account's tags, so staff can pick them on a person's profile in Rock. Tags mapped to a
    /// Rock group (their selection follows membership) show with an asterisk. Writes nothing
    /// when the choices are already up to date.
    Tags,
}

pub async fn run(
    config: &Config,
    data_dir: &Path,
    command: RockCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        RockCommand::Init {
            rock_url,
            rock_token_env,
        } => rock_init(config, data_dir, rock_url, rock_token_env).await,
        RockCommand::Tags => rock_tags(config, data_dir).await,
    }
}

/// `pcosync rock tags`: refreshes the PCO Tags choices; status 1 when an account could not be
/// read (its old choices are kept), 2 when Rock cannot be reached for a configuration reason.
async fn rock_tags(config: &Config, data_dir: &Path) -> anyhow::Result<ExitCode> {
    if config.accounts.is_empty() {
        return Err(super::config::usage(
            "the configuration has no [[accounts]]: add one with `pcosync account add`",
        ));
    }
    let rock = super::config::connect_rock(config)
        .await
        .map_err(super::config::Reach::into_error)?;
    let refreshed = refresh_tag_choices(config, data_dir, &rock).await?;
    refreshed.print(&Console);
    Ok(if refreshed.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What a refresh of the PCO Tags choices did.
pub(crate) struct TagChoicesRefresh {
    /// Tags offered, and of those how many are group-controlled (marked).
    pub offered: usize,
    pub marked: usize,
    pub write: ChoicesWrite,
    /// Accounts whose tags could not be read, with why (their old choices stay).
    pub failed: Vec<(String, String)>,
    /// Tags Rock's option format cannot hold.
    pub skipped: Vec<String>,
}

impl TagChoicesRefresh {
    fn print(&self, out: &dyn Out) {
        for (account, why) in &self.failed {
            out.warn(&format!(
                "warning: account \"{account}\": its tags were not read ({why}); its choices are left as they were"
            ));
        }
        for value in &self.skipped {
            out.warn(&format!(
                "warning: tag \"{value}\" is not offered: Rock's choice list cannot hold a ',' or '^' in it, or spaces around it"
            ));
        }
        let what = match self.write {
            ChoicesWrite::Unchanged => "already up to date, nothing written",
            ChoicesWrite::Created | ChoicesWrite::Updated => "updated",
        };
        out.say(&format!(
            "PCO Tags choices: {} tags ({} group-controlled, marked with *): {what}",
            self.offered, self.marked
        ));
    }
}

/// Sets the PCO Tags attribute's choices to every configured account's PCO tags (the guest's
/// `choices`), marking those mapped to a group (R14, the seed's asterisk). An account that
/// cannot be read keeps its old choices; an error when none can.
pub(crate) async fn refresh_tag_choices(
    config: &Config,
    data_dir: &Path,
    rock: &RestRock,
) -> anyhow::Result<TagChoicesRefresh> {
    let mut read = Vec::new();
    let mut failed = Vec::new();
    for account in &config.accounts {
        match super::config::choices(config, data_dir, account).await {
            Ok(choices) => read.push((
                account,
                choices.tags,
                crate::ops::tag_choices::mapped_tags(account),
            )),
            Err(why) => failed.push((account.name.clone(), why.message().to_string())),
        }
    }
    if read.is_empty() {
        let (account, why) = &failed[0];
        anyhow::bail!("cannot read the tags of account \"{account}\" from PCO: {why}");
    }
    let accounts: Vec<choices::AccountTags> = read
        .iter()
        .map(|(account, tags, mapped)| choices::AccountTags {
            account: &account.name,
            tags,
            mapped,
        })
        .collect();
    let built = choices::build(&accounts, config.accounts.len() > 1);
    let marked = built
        .options
        .iter()
        .filter(|(_, text)| text.ends_with(choices::GROUP_MARK))
        .count();
    let unread: Vec<String> = failed.iter().map(|(a, _)| a.clone()).collect();
    let write = rock
        .update_tag_choices(|current| {
            choices::merge(
                current,
                |value| unread.iter().any(|a| choices::of_account(value, a)),
                &built.options,
            )
        })
        .await
        .map_err(|e| anyhow::anyhow!("cannot set the PCO Tags choices in Rock: {}", e.message))?;
    Ok(TagChoicesRefresh {
        offered: built.options.len(),
        marked,
        write,
        failed,
        skipped: built.skipped,
    })
}

/// The group types enabled for any account, as this Rock's ids, and the accounts' names;
/// beside them a warning for each enabled type this Rock does not have.
pub(crate) async fn group_setup(
    config: &Config,
    rock: &RestRock,
) -> anyhow::Result<(GroupSetup, Vec<String>)> {
    let mut setup = GroupSetup {
        group_types: Vec::new(),
        accounts: config.accounts.iter().map(|a| a.name.clone()).collect(),
    };
    let mut warnings = Vec::new();
    if config
        .accounts
        .iter()
        .all(|a| a.enabled_group_types.is_empty())
    {
        return Ok((setup, warnings));
    }
    let types = rock
        .group_types()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read Rock's group types: {}", e.message))?;
    for account in &config.accounts {
        for named in &account.enabled_group_types {
            match types
                .iter()
                .find(|t| super::config::names_type(named, t))
            {
                Some(kind) if !setup.group_types.contains(&kind.id) => {
                    setup.group_types.push(kind.id)
                }
                Some(_) => {}
                None => warnings.push(format!(
                    "account \"{}\": enabled group type \"{named}\" is not a group type of this Rock (by name, GUID or id); its groups get no PCO Account attribute",
                    account.name
                )),
            }
        }
    }
    setup.group_types.sort_unstable();
    Ok((setup, warnings))
}

fn print_init(report: &InitReport, out: &dyn Out) {
    for line in &report.created {
        out.say(&format!("created {line}"));
    }
    for line in &report.updated {
        out.say(&format!("updated {line}"));
    }
    for line in &report.found {
        out.say(&format!("found   {line}"));
    }
    for line in &report.warnings {
        out.warn(&format!("warning: {line}"));
    }
}

/// After the accounts or their group types changed: the group attributes on the enabled
/// types, PCO Account's choices and the PCO Tags choices, set again in Rock. A Rock or a PCO
/// that cannot be reached is a note, never a failure: the configuration is saved, and `pcosync
/// rock init` does the same later.
pub(crate) async fn refresh_rock_setup(config: &Config, data_dir: &Path, out: &dyn Out) {
    if config.rock.is_none() {
        return;
    }
    let later = "run `pcosync rock init` when Rock and PCO can be reached";
    let rock = match super::config::connect_rock(config).await {
        Ok(rock) => rock,
        Err(why) => {
            out.warn(&format!(
                "note: Rock's PCO attributes and choices were not updated ({}); {later}",
                why.message()
            ));
            return;
        }
    };
    let mut report = InitReport::default();
    let set_up = async {
        let (setup, warnings) = group_setup(config, &rock).await?;
        report.warnings.extend(warnings);
        rock.ensure_group_attributes(&AttributeNames::default(), &setup, &mut report)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))
    };
    if let Err(error) = set_up.await {
        out.warn(&format!(
            "note: Rock's PCO group attributes were not updated ({error:#}); {later}"
        ));
    }
    report.found.clear();
    print_init(&report, out);
    if !config.accounts.is_empty() {
        match refresh_tag_choices(config, data_dir, &rock).await {
            Ok(refreshed) => refreshed.print(out),
            Err(error) => out.warn(&format!(
                "note: the PCO Tags choices were not updated ({error:#}); {later}"
            )),
        }
    }
}

/// `pcosync rock init`: creates what the sync needs in Rock and says what it created or found.
async fn rock_init(
    config: &Config,
    data_dir: &Path,
    url: Option<url::Url>,
    token_env: Option<String>,
) -> anyhow::Result<ExitCode> {
    use crate::rock::rest::RestRockOptions;
    use crate::secret::SecretRef;
    let configured = config.rock.as_ref();
    let url = url
        .or_else(|| configured.map(|r| r.url.clone()))
        .context("no Rock URL: pass --rock-url or set `url` in the [rock] section")?;
    let token = match (token_env, configured) {
        (Some(name), _) => SecretRef::Env(name),
        (None, Some(rock)) => rock.token.clone(),
        (None, None) => {
            anyhow::bail!(
                "no Rock token: pass --rock-token-env or set `token` in the [rock] section"
            )
        }
    };
    let token = token
        .resolve("Rock token")
        .map_err(|e| anyhow::anyhow!(e))?;
    let rock = RestRock::connect(RestRockOptions::new(url, token))
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let (setup, warnings) = group_setup(config, &rock).await?;
    let mut report = rock
        .init(&AttributeNames::default(), &setup)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    report.warnings.extend(warnings);
    print_init(&report, &Console);
    if setup.group_types.is_empty() {
        println!(
            "No group type is enabled for any account, so no group has the PCO Account attribute yet: enable one with `pcosync group-types enable --account NAME TYPE`"
        );
    }
    // The choices staff pick tags from (seed 000 "Update Tags"), when PCO can be reached.
    if config.accounts.is_empty() {
        println!(
            "PCO Tags choices: no accounts configured yet; run `pcosync rock tags` after `pcosync account add`"
        );
    } else {
        match refresh_tag_choices(config, data_dir, &rock).await {
            Ok(refreshed) => refreshed.print(&Console),
            Err(error) => println!(
                "PCO Tags choices not filled ({error:#}); run `pcosync rock tags` when PCO can be reached"
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}
