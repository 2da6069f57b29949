//! The demo: a generated congregation served by a local Rock sandbox and a local PCO sandbox on
//! loopback, reached through the host's real capabilities (`RestRock` and `HttpPco`, the code
//! that talks to a real Rock and a real PCO), so a new user sees the product work before
//! pointing it at real systems.
//!
//! [`world`] holds the same congregation in an in-memory Rock instead; the harness, the
//! benchmarks and host tests use it with [`pco_sandbox`] to script and inspect Rock directly.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use congregation::{Congregation, Member};
use pco_sandbox::{PcoSandbox, RateLimitConfig, SandboxOptions};
use rock_sandbox::RockSandbox;
use url::Url;

use crate::bindings::engine::{Account, ConflictPolicy, FirstNameSource, SyncOptions, TagGroup};
use crate::bindings::pco::{Method, Request};
use crate::bindings::rock::{Group, GroupType, Membership, Person, PersonUpdate, Protection};
use crate::bindings::types::{Address, Date, FieldValue, Gender, PermissionLevel};
use crate::config::Config;
use crate::pco::Pco;
use crate::pco::http::{Endpoint, HttpOptions, HttpPco};
use crate::rock::Rock;
use crate::rock::rest::{RestRock, RestRockOptions};
use crate::runtime::{Capabilities, Runtime};
use crate::secret::Secret;
use crate::state::memory::MemoryState;
use crate::testing::{MemoryRock, RockData};

/// Rock ids in the demo start here, as they would in a real install (never 1, 2, 3...).
const FIRST_PERSON_ID: i64 = 1000;
const FIRST_GROUP_ID: i64 = 200;
const FIRST_GROUP_TYPE_ID: i64 = 20;

/// The largest congregation `pcosync demo --people` generates (issue 24 item 18: a larger
/// one asks for more memory than a demo should).
pub const MAX_PEOPLE: usize = 100_000;

/// The in-memory Rock and the account settings of a demo congregation.
pub struct DemoWorld {
    pub rock: Arc<MemoryRock>,
    pub account: Account,
}

/// A PCO sandbox seeded with the congregation, and the host's HTTP capability pointed at it.
pub async fn pco_sandbox(
    congregation: &Congregation,
    rate_limited: bool,
) -> anyhow::Result<(PcoSandbox, HttpPco)> {
    let options = SandboxOptions {
        rate_limit: RateLimitConfig {
            enabled: rate_limited,
            ..RateLimitConfig::default()
        },
        ..SandboxOptions::default()
    };
    let sandbox = PcoSandbox::start_with(options, congregation)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let pco = HttpPco::new(endpoints(&sandbox), HttpOptions::default())
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok((sandbox, pco))
}

/// The sandbox's accounts as the host reaches them.
pub fn endpoints(sandbox: &PcoSandbox) -> Vec<Endpoint> {
    let base = Url::parse(&sandbox.base_url()).expect("the sandbox serves a URL");
    sandbox
        .accounts()
        .into_iter()
        .map(|account| Endpoint {
            name: account.name,
            upload_url: base.join("/v2/files").expect("a valid path"),
            base_url: base.clone(),
            app_id: account.app_id,
            secret: Secret::new(account.secret),
        })
        .collect()
}

/// The congregation in an in-memory Rock (ids from [`rock_id`] and `FIRST_GROUP_ID`), with the
/// demo's account settings.
pub fn world(congregation: &Congregation) -> DemoWorld {
    let groups = rock_groups(congregation);
    let account = demo_account(congregation, |index| Some(FIRST_GROUP_ID + index as i64));
    let rock = RockData {
        groups,
        members: congregation
            .rock_people()
            .flat_map(|m| {
                m.groups.iter().map(move |g| Membership {
                    group_id: FIRST_GROUP_ID + *g as i64,
                    person_id: rock_id(m),
                })
            })
            .collect(),
        people: congregation
            .rock_people()
            .map(|m| (rock_id(m), rock_person(m)))
            .collect(),
        ..Default::default()
    };
    DemoWorld {
        rock: Arc::new(MemoryRock::new(rock)),
        account,
    }
}

/// The Rock id the demo gives a congregation member.
pub fn rock_id(member: &Member) -> i64 {
    FIRST_PERSON_ID + i64::from(member.key)
}

/// The demo account's settings: the congregation's first account with every group type enabled,
/// its tag-mapped groups under the Rock ids `group_id` gives the congregation's group indexes.
pub fn demo_account(
    congregation: &Congregation,
    group_id: impl Fn(usize) -> Option<i64>,
) -> Account {
    let name = congregation.accounts[0].clone();
    let group_types: BTreeSet<&String> =
        congregation.groups.iter().map(|g| &g.group_type).collect();
    let tag_groups = congregation
        .groups
        .iter()
        .enumerate()
        .filter(|(_, g)| g.pco_account.as_deref() == Some(&name))
        .filter_map(|(index, g)| {
            Some(TagGroup {
                tag: g.tag.clone()?,
                group_id: group_id(index)?,
            })
        })
        .collect();
    Account {
        name,
        welcome_template: Some(pco_sandbox::WELCOME_TEMPLATE.into()),
        allow_downgrade: false,
        updates_only: false,
        conflict_policy: ConflictPolicy::RockWins,
        first_name_source: FirstNameSource::NickName,
        disabled_fields: vec![],
        enabled_group_types: group_types.into_iter().cloned().collect(),
        tag_groups,
        brake_percent: 10,
    }
}

fn rock_groups(congregation: &Congregation) -> Vec<Group> {
    let mut types = BTreeMap::new();
    for group in &congregation.groups {
        let next = FIRST_GROUP_TYPE_ID + types.len() as i64;
        types.entry(group.group_type.clone()).or_insert(next);
    }
    congregation
        .groups
        .iter()
        .enumerate()
        .map(|(index, g)| Group {
            id: FIRST_GROUP_ID + index as i64,
            name: g.name.clone(),
            group_type: GroupType {
                id: types[&g.group_type],
                guid: String::new(),
                name: g.group_type.clone(),
            },
            is_active: true,
            pco_account: g.pco_account.clone(),
            level: g.level.map(level),
        })
        .collect()
}

fn level(level: congregation::Level) -> PermissionLevel {
    match level {
        congregation::Level::ScheduledViewer => PermissionLevel::ScheduledViewer,
        congregation::Level::Viewer => PermissionLevel::Viewer,
        congregation::Level::Scheduler => PermissionLevel::Scheduler,
        congregation::Level::Editor => PermissionLevel::Editor,
        congregation::Level::Administrator => PermissionLevel::Administrator,
    }
}

fn rock_person(m: &Member) -> Person {
    let date = |d: &congregation::Date| Date {
        year: d.year,
        month: d.month,
        day: d.day,
    };
    Person {
        id: rock_id(m),
        first_name: m.first_name.clone(),
        nick_name: m.nick_name.clone(),
        middle_name: m.middle_name.clone(),
        last_name: m.last_name.clone(),
        gender: match m.gender {
            congregation::Gender::Male => Gender::Male,
            congregation::Gender::Female => Gender::Female,
            congregation::Gender::Unknown => Gender::Unknown,
        },
        birthdate: m.birthdate.as_ref().map(date),
        married: m.married,
        anniversary: m.anniversary.as_ref().map(date),
        email: m.email.clone(),
        home_address: m.address.as_ref().map(|a| Address {
            street1: a.street1.clone(),
            street2: a.street2.clone(),
            city: a.city.clone(),
            state: a.state.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }),
        home_phone: m.home_phone.clone(),
        work_phone: m.work_phone.clone(),
        mobile_phone: m.mobile_phone.clone(),
        photo_id: None,
        protection: match m.protection {
            congregation::Protection::Low => Protection::Low,
            congregation::Protection::Medium => Protection::Medium,
            congregation::Protection::High => Protection::High,
            congregation::Protection::Extreme => Protection::Extreme,
        },
        pco_tags: m.pco_tags.clone(),
        modified: None,
        primary_alias: None,
    }
}

/// `pcosync demo`: a dry run, a first sync, a change on each side, and a run with nothing to do.
pub async fn run(
    config: &Config,
    data_dir: &Path,
    people: usize,
    seed: u64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let congregation = Congregation::generate(people, seed);
    let demo = Sandboxes::start(&congregation, seed).await?;
    let runtime = Runtime::new(config.limits())?;
    let guest = crate::cli::load_guest(&runtime, config, data_dir, None).await?;
    let capabilities = demo.capabilities();
    let account = &demo_account(&congregation, |index| demo.rock.group_id(index));
    println!(
        "Demo: {} generated people: {} in the local Rock sandbox at {}, {} in the local PCO sandbox at {} (account \"{}\").\n",
        congregation.people.len(),
        congregation.rock_people().count(),
        demo.rock.base_url(),
        demo.pco.people_count(&account.name).unwrap_or_default(),
        demo.pco.base_url(),
        account.name
    );
    let run = |title: &'static str, dry_run: bool| {
        let (runtime, guest, capabilities) = (&runtime, &guest, &capabilities);
        async move {
            let options = SyncOptions {
                run_id: crate::cli::new_run_id(),
                started_at: crate::cli::now_rfc3339(),
                dry_run,
                updates_only: None,
                confirm: None,
            };
            let report = runtime.sync(guest, capabilities, account, &options).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("== {title}");
                crate::cli::print_report(&report);
            }
            anyhow::Ok(report)
        }
    };
    run(
        "Dry run: what the first sync would do (nothing written)",
        true,
    )
    .await?;
    let first = run("First sync", false).await?;
    println!(
        "{} people created in PCO still need the welcome email, which an administrator sends \
         from Services (PCO's API cannot).\n",
        crate::ops::text::welcome_needed(&first).len()
    );

    let (rock_id, pco_id) = demo.change_both_sides(account).await?;
    println!(
        "Meanwhile, staff changed Rock person {rock_id}'s mobile phone in Rock, and PCO person {pco_id}'s middle name in PCO.\n"
    );
    run("Second sync: each change reaches the other side", false).await?;
    demo.pco.clear_requests();
    demo.rock.clear_requests();
    run("Third sync: nothing changed, nothing written", false).await?;
    println!(
        "Write requests in the third sync: {} to PCO, {} to Rock.",
        writes(demo.pco.requests().iter().map(|r| r.method.as_str())),
        writes(demo.rock.requests().iter().map(|r| r.method.as_str())),
    );
    if !json {
        println!("\n{}", NEXT_STEPS.trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

/// What the demo leaves a new user with: the three commands that point pcosync at their own
/// Rock and Planning Center, then the first look at a real sync.
pub const NEXT_STEPS: &str = "\
To sync your own Rock and Planning Center, three commands:
  pcosync config set rock.url=https://rock.example.org rock.token_env=ROCK_REST_KEY
      (Rock's address, and the environment variable that holds a REST key of Rock's)
  pcosync account add \"Main Campus\" --app-id YOUR_APP_ID --secret-file /etc/pcosync/main.secret --group-type \"Serving Team\"
      (a personal access token of PCO's, https://api.planningcenteronline.com/oauth/applications;
      the secret in a file readable by you only)
  pcosync config check
      (tries every credential and setting, and says how to fix what fails)
Then `pcosync rock init` creates the PCO attributes in Rock, and `pcosync sync --dry-run` shows
what the first sync would do, writing nothing.
";

/// Both sandboxes seeded with one congregation (as `pcosync-sandbox` serves them), the host's
/// capabilities pointed at them, and the sync's state (in memory: the demo leaves nothing).
struct Sandboxes {
    rock: RockSandbox,
    pco: PcoSandbox,
    rest_rock: Arc<RestRock>,
    http_pco: Arc<HttpPco>,
    state: Arc<MemoryState>,
}

impl Sandboxes {
    async fn start(congregation: &Congregation, seed: u64) -> anyhow::Result<Sandboxes> {
        let (pco, http_pco) = pco_sandbox(congregation, false).await?;
        let options = rock_sandbox::SandboxOptions {
            seed,
            ..Default::default()
        };
        let rock = RockSandbox::start_with(options, congregation)
            .await
            .context("starting the Rock sandbox")?;
        let url = Url::parse(&rock.base_url()).context("the Rock sandbox's URL")?;
        let options = RestRockOptions::new(url, Secret::new(rock.token()));
        let rest_rock = RestRock::connect(options).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot connect to the Rock sandbox at {}: {}",
                rock.base_url(),
                e.message
            )
        })?;
        Ok(Sandboxes {
            rock,
            pco,
            rest_rock: Arc::new(rest_rock),
            http_pco: Arc::new(http_pco),
            state: Arc::new(MemoryState::default()),
        })
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rock: self.rest_rock.clone(),
            pco: self.http_pco.clone(),
            state: self.state.clone(),
            reporter: Arc::new(crate::log::TracingReporter),
        }
    }

    /// The links the sync stored: (Rock id, PCO id).
    fn links(&self) -> Vec<(i64, String)> {
        self.state
            .dump()
            .into_iter()
            .filter_map(|((_, key), value)| {
                let rock_id = key.strip_prefix("person/")?.parse().ok()?;
                let record: serde_json::Value = serde_json::from_slice(&value).ok()?;
                Some((rock_id, record["pco"].as_str()?.to_string()))
            })
            .collect()
    }

    /// Staff at work between two syncs: a linked person's mobile phone changes in Rock (through
    /// Rock's REST API), another's middle name in PCO (through PCO's API). Returns (that Rock
    /// id, that PCO id).
    async fn change_both_sides(&self, account: &Account) -> anyhow::Result<(i64, String)> {
        let links = self.links();
        let [(rock_id, _), (_, pco_id), ..] = links.as_slice() else {
            anyhow::bail!("the demo needs at least two linked people; try more --people");
        };
        let update = PersonUpdate {
            id: *rock_id,
            changes: vec![FieldValue::MobilePhone(Some("6155550199".into()))],
        };
        if let Some(Err(e)) = self.rest_rock.update_people(&[update]).await.pop() {
            anyhow::bail!("changing Rock person {rock_id}: {}", e.message);
        }
        let body = serde_json::json!({"data": {"type": "Person", "id": pco_id, "attributes": {"middle_name": "Grace"}}});
        let request = Request {
            method: Method::Patch,
            path: format!("/people/v2/people/{pco_id}"),
            query: vec![],
            headers: vec![],
            body: Some(body.to_string().into_bytes()),
        };
        self.http_pco
            .send(&account.name, &request)
            .await
            .map_err(|e| anyhow::anyhow!("changing PCO person {pco_id}: {}", e.message))?;
        Ok((*rock_id, pco_id.clone()))
    }
}

/// How many of these request methods write (anything but GET).
fn writes<'a>(methods: impl Iterator<Item = &'a str>) -> usize {
    methods.filter(|m| *m != "GET").count()
}
