//! Both sandboxes seeded with one generated congregation, reached through the host's real
//! capabilities (`RestRock`, `HttpPco`) with the state in SQLite in a temporary directory.

use std::sync::Arc;

use congregation::{Congregation, Level};
use pco_sandbox::{PcoSandbox, RateLimitConfig};
use pcosync::Capabilities;
use pcosync::bindings::engine::{Account, AdminOptions, ImportOptions, LevelGroup};
use pcosync::bindings::pco::{Method, Request};
use pcosync::bindings::rock::PersonUpdate;
use pcosync::bindings::types::{FieldValue, PermissionLevel};
use pcosync::pco::Pco;
use pcosync::pco::http::{HttpOptions, HttpPco};
use pcosync::rock::Rock;
use pcosync::rock::rest::{RestRock, RestRockOptions};
use pcosync::secret::Secret;
use pcosync::state::StateStore;
use pcosync::state::sqlite::SqliteState;
use rock_sandbox::RockSandbox;
use url::Url;

/// The tag given to the synced people in Rock ("PCO Tags"): a tag no group controls.
const SYNC_TAG: &str = "Skills:Guitar";

pub struct World {
    pub congregation: Congregation,
    pub pco: PcoSandbox,
    pub rock: RockSandbox,
    pub http_pco: Arc<HttpPco>,
    pub rest_rock: Arc<RestRock>,
    pub state: Arc<SqliteState>,
    pub account: Account,
    /// Holds the state file.
    pub _dir: tempfile::TempDir,
}

impl World {
    /// A congregation whose first `synced` Rock people carry the account's tag, seeded into
    /// both sandboxes (rate limit off). The sandboxes serve from `server`; the host's
    /// capabilities connect from the caller's runtime.
    pub async fn start(synced: usize, server: &tokio::runtime::Runtime) -> World {
        World::seed(generated(synced), server).await
    }

    /// The same congregation's PCO-only people, as a congregation that exists only in PCO:
    /// the PCO sandbox holds them alone, the Rock sandbox only the groups.
    pub async fn pco_only(synced: usize, server: &tokio::runtime::Runtime) -> World {
        let mut congregation = generated(synced);
        congregation
            .people
            .retain(|m| m.presence == congregation::Presence::PcoOnly);
        World::seed(congregation, server).await
    }

    async fn seed(congregation: Congregation, server: &tokio::runtime::Runtime) -> World {
        let (pco, rock) = {
            let congregation = congregation.clone();
            server
                .spawn(async move {
                    let options = pco_sandbox::SandboxOptions {
                        rate_limit: RateLimitConfig {
                            enabled: false,
                            ..RateLimitConfig::default()
                        },
                        ..Default::default()
                    };
                    let pco = PcoSandbox::start_with(options, &congregation)
                        .await
                        .expect("the PCO sandbox starts");
                    let options = rock_sandbox::SandboxOptions {
                        seed: 3,
                        ..Default::default()
                    };
                    let rock = RockSandbox::start_with(options, &congregation)
                        .await
                        .expect("the Rock sandbox starts");
                    (pco, rock)
                })
                .await
                .expect("seeding")
        };
        let url = Url::parse(&rock.base_url()).expect("a URL");
        let rest_rock = RestRock::connect(RestRockOptions::new(url, Secret::new(rock.token())))
            .await
            .expect("RestRock connects to the sandbox");
        let http_pco = HttpPco::new(pcosync::demo::endpoints(&pco), HttpOptions::default())
            .expect("the HTTP client");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let state = SqliteState::open(&dir.path().join("state.sqlite")).expect("the state file");
        let account = account(&congregation, &rock);
        World {
            congregation,
            pco,
            rock,
            http_pco: Arc::new(http_pco),
            rest_rock: Arc::new(rest_rock),
            state: Arc::new(state),
            account,
            _dir: dir,
        }
    }

    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            rock: self.rest_rock.clone(),
            pco: self.http_pco.clone(),
            state: self.state.clone(),
            reporter: pcosync::testing::silent(),
        }
    }

    pub fn pco_people(&self) -> usize {
        self.pco.people_count(&self.account.name).unwrap_or(0)
    }

    /// The links the sync stored: (Rock id, PCO id).
    pub fn links(&self) -> Vec<(i64, String)> {
        let mut links = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .state
                .scan(&self.account.name, "person/", after.as_deref(), 1000)
                .expect("the state reads");
            let Some(last) = page.last() else {
                return links;
            };
            after = Some(last.key.clone());
            for entry in &page {
                let rock_id = entry
                    .key
                    .strip_prefix("person/")
                    .and_then(|k| k.parse().ok());
                let record: Option<serde_json::Value> = serde_json::from_slice(&entry.value).ok();
                let pco = record.as_ref().and_then(|r| r["pco"].as_str());
                if let (Some(rock_id), Some(pco)) = (rock_id, pco) {
                    links.push((rock_id, pco.to_string()));
                }
            }
        }
    }

    /// Staff at work between two runs: `count` linked people changed, every other one in PCO
    /// (middle name, through PCO's API) and the rest in Rock (mobile phone, through Rock's
    /// API). Returns how many were changed on each side (PCO, Rock).
    pub async fn change(&self, count: usize) -> (usize, usize) {
        let links = self.links();
        let step = (links.len() / count.max(1)).max(1);
        let chosen: Vec<&(i64, String)> = links.iter().step_by(step).take(count).collect();
        let (mut in_pco, mut in_rock) = (0, 0);
        let mut rock_updates = Vec::new();
        for (i, (rock_id, pco_id)) in chosen.into_iter().enumerate() {
            if i % 2 == 0 {
                let body = serde_json::json!({"data": {"type": "Person", "id": pco_id,
                    "attributes": {"middle_name": format!("Changed{i}")}}});
                let request = Request {
                    method: Method::Patch,
                    path: format!("/people/v2/people/{pco_id}"),
                    query: vec![],
                    headers: vec![],
                    body: Some(body.to_string().into_bytes()),
                };
                self.http_pco
                    .send(&self.account.name, &request)
                    .await
                    .expect("PCO takes the change");
                in_pco += 1;
            } else {
                rock_updates.push(PersonUpdate {
                    id: *rock_id,
                    changes: vec![FieldValue::MobilePhone(Some(format!(
                        "615555{:04}",
                        i % 10_000
                    )))],
                });
                in_rock += 1;
            }
        }
        for result in self.rest_rock.update_people(&rock_updates).await {
            result.expect("Rock takes the change");
        }
        (in_pco, in_rock)
    }

    /// Import options: each PCO level into the account's lowest-id Rock group of that level.
    pub fn import_options(&self, run_id: &str) -> ImportOptions {
        let levels = [
            (Level::ScheduledViewer, PermissionLevel::ScheduledViewer),
            (Level::Viewer, PermissionLevel::Viewer),
            (Level::Scheduler, PermissionLevel::Scheduler),
            (Level::Editor, PermissionLevel::Editor),
            (Level::Administrator, PermissionLevel::Administrator),
        ];
        let level_groups = levels
            .iter()
            .filter_map(|(level, wanted)| {
                let index = self.congregation.groups.iter().position(|g| {
                    g.pco_account.as_deref() == Some(self.account.name.as_str())
                        && g.level == Some(*level)
                })?;
                Some(LevelGroup {
                    level: *wanted,
                    group_id: self.rock.group_id(index)?,
                })
            })
            .collect();
        ImportOptions {
            run: AdminOptions {
                run_id: run_id.into(),
                started_at: self.pco.now(),
                dry_run: false,
            },
            level_groups,
            connection_status: "Prospect".into(),
        }
    }
}

/// The generated congregation, its first `synced` Rock people carrying the account's tag.
fn generated(synced: usize) -> Congregation {
    let mut congregation = Congregation::generate(synced * 10 / 9 + synced / 50 + 50, 3);
    let name = congregation.accounts[0].clone();
    let tag = format!("{name}:{SYNC_TAG}");
    for member in congregation
        .people
        .iter_mut()
        .filter(|m| m.in_rock())
        .take(synced)
    {
        if !member.pco_tags.contains(&tag) {
            member.pco_tags.push(tag.clone());
        }
    }
    congregation
}

/// The demo's account settings, with the Rock sandbox's group ids.
fn account(congregation: &Congregation, rock: &RockSandbox) -> Account {
    pcosync::demo::demo_account(congregation, |index| rock.group_id(index))
}
