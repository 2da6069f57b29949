//! One scenario's world: a generated congregation served by both sandboxes on loopback, a
//! pcosync configuration (secrets in files beside it) and data directory in a temporary
//! directory, and the means to edit and read both systems as staff would (their REST APIs)
//! and as the checks need (the sandboxes' own view, the state file).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use congregation::{Congregation, Level, Member};
use pco_sandbox::{PcoSandbox, RateLimitConfig};
use pcosync::state::StateStore;
use rock_sandbox::RockSandbox;
use serde_json::{Value, json};
use tempfile::TempDir;

/// The account the import runs for: the congregation's first.
pub const IMPORT_ACCOUNT: &str = "Main Campus";

/// How the world is set up.
#[derive(Clone, Debug)]
pub struct WorldOptions {
    pub people: usize,
    pub seed: u64,
    /// Every account's `allow_downgrade` (R17-R18).
    pub allow_downgrade: bool,
    /// Every account's `brake_percent` (R24).
    pub brake_percent: u8,
    /// Issue 24's unkind data on top of the congregation: PCO people carrying an unrelated Rock
    /// person's id in `remote_id` (a move from another system, R4/R6), and synced Rock people
    /// who have died (left out of `api/People`, R18). Every account already shares Rock's one
    /// PCO Tags attribute (R3, R12).
    pub unkind: bool,
}

/// A PCO person as the checks see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcoPerson {
    pub id: String,
    pub remote_id: Option<i64>,
    pub first_name: String,
    pub given_name: String,
    pub nickname: String,
    pub middle_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub site_administrator: bool,
    /// Services permission as PCO shows it, "Archived" when archived, None without Services.
    pub permission: Option<String>,
    pub congregation_key: Option<u32>,
}

/// A Rock person as the checks see them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RockPerson {
    pub id: i64,
    pub first_name: String,
    pub nick_name: String,
    pub middle_name: String,
    pub last_name: String,
    pub email: String,
}

pub struct World {
    pub congregation: Congregation,
    pub rock: RockSandbox,
    pub pco: PcoSandbox,
    pub options: WorldOptions,
    /// The accounts, as the congregation (and the configuration) names them.
    pub accounts: Vec<String>,
    /// The import's Rock group of each level of [`IMPORT_ACCOUNT`]: (config key, group id).
    pub import_groups: Vec<(&'static str, i64)>,
    /// The foreign `remote_id`s an unkind world seeded: (account, PCO id, the Rock id carried).
    /// While a PCO person still carries theirs, it names nobody of theirs (see
    /// [`World::carries_foreign_id`]).
    pub foreign_remote_ids: BTreeSet<(String, String, i64)>,
    dir: TempDir,
    http: reqwest::Client,
}

impl World {
    /// Both sandboxes seeded with `Congregation::generate(people, seed)`, PCO's rate limit off
    /// (the faults bring their own 429s), and a configuration for them.
    pub async fn start(options: WorldOptions) -> anyhow::Result<World> {
        let congregation = Congregation::generate(options.people, options.seed);
        let pco = PcoSandbox::start_with(
            pco_sandbox::SandboxOptions {
                seed: options.seed,
                rate_limit: RateLimitConfig {
                    enabled: false,
                    ..RateLimitConfig::default()
                },
                ..Default::default()
            },
            &congregation,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let rock = RockSandbox::start_with(
            rock_sandbox::SandboxOptions {
                seed: options.seed,
                ..Default::default()
            },
            &congregation,
        )
        .await
        .context("the Rock sandbox starts")?;
        let dir = tempfile::Builder::new()
            .prefix("pcosync-chaos-")
            .tempdir()?;
        let accounts = congregation.accounts.clone();
        let import_groups = Level::ALL
            .iter()
            .filter_map(|level| {
                let index = congregation.groups.iter().position(|g| {
                    g.pco_account.as_deref() == Some(IMPORT_ACCOUNT) && g.level == Some(*level)
                })?;
                Some((level_key(*level), rock.group_id(index)?))
            })
            .collect();
        let mut world = World {
            congregation,
            rock,
            pco,
            options,
            accounts,
            import_groups,
            foreign_remote_ids: BTreeSet::new(),
            dir,
            http: reqwest::Client::new(),
        };
        world.write_config()?;
        if world.options.unkind {
            world.make_unkind().await?;
        }
        Ok(world)
    }

    /// See [`WorldOptions::unkind`].
    async fn make_unkind(&mut self) -> anyhow::Result<()> {
        for (carrier, rock_key) in self.congregation.foreign_remote_ids() {
            let member = &self.congregation.people[carrier as usize];
            let Some(remote_id) = self.rock.person_id(rock_key) else {
                continue;
            };
            for account in &member.pco_accounts {
                let name = &self.congregation.accounts[*account];
                if let Some(id) = self.pco.pco_id(name, carrier) {
                    self.edit_pco_person(name, &id, json!({"remote_id": remote_id}))
                        .await
                        .context("a foreign remote_id is seeded")?;
                    self.foreign_remote_ids
                        .insert((name.clone(), id, remote_id));
                }
            }
        }
        let synced: Vec<i64> = self
            .congregation
            .rock_people()
            .filter(|m| m.in_pco() && !m.groups.is_empty() && !m.pco_org_admin)
            .filter_map(|m| self.rock.person_id(m.key))
            .collect();
        for id in synced.iter().skip(1).step_by(17).take(3) {
            anyhow::ensure!(self.rock.set_deceased(*id, true), "Rock person {id} dies");
        }
        self.rock.clear_requests();
        self.pco.clear_requests();
        Ok(())
    }

    /// Whether this PCO person still carries the unrelated Rock id an unkind world gave them.
    pub fn carries_foreign_id(&self, account: &str, pco_id: &str, remote_id: i64) -> bool {
        self.foreign_remote_ids
            .contains(&(account.to_string(), pco_id.to_string(), remote_id))
    }

    /// Everything the runs of this world wrote to stderr (process mode).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("runs.log")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("pcosync.toml")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A scratch directory of this world (process outputs).
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// Writes the configuration: every account of the congregation with its group types and
    /// tag groups, the chosen downgrade and brake settings, and the import's groups for
    /// [`IMPORT_ACCOUNT`].
    fn write_config(&self) -> anyhow::Result<()> {
        let dir = self.dir.path();
        let rock_token = write_secret(dir, "rock.token", self.rock.token())?;
        let pco_url = self.pco.base_url();
        let pco_url = pco_url.trim_end_matches('/');
        let mut text = format!(
            "data_dir = {data:?}\n\n[rock]\nurl = {rock_url:?}\ntoken = {{ file = {rock_token:?} }}\n\n\
             [pco]\napi_url = {pco_url:?}\nupload_url = \"{pco_url}/v2/files\"\n",
            data = self.data_dir().display().to_string(),
            rock_url = self.rock.base_url(),
            rock_token = rock_token.display().to_string(),
        );
        for (index, account) in self.pco.accounts().iter().enumerate() {
            let secret = write_secret(dir, &format!("pco-{index}.secret"), &account.secret)?;
            let groups: Vec<(usize, &congregation::Group)> = self
                .congregation
                .groups
                .iter()
                .enumerate()
                .filter(|(_, g)| g.pco_account.as_deref() == Some(&account.name))
                .collect();
            let types: BTreeSet<&str> = groups.iter().map(|(_, g)| g.group_type.as_str()).collect();
            write!(
                text,
                "\n[[accounts]]\nname = {name:?}\napp_id = {app:?}\nsecret = {{ file = {secret:?} }}\n\
                 welcome_template = {welcome:?}\nenabled_group_types = {types:?}\n\
                 allow_downgrade = {downgrade}\nbrake_percent = {brake}\n",
                name = account.name,
                app = account.app_id,
                secret = secret.display().to_string(),
                welcome = pco_sandbox::WELCOME_TEMPLATE,
                types = types.into_iter().collect::<Vec<_>>(),
                downgrade = self.options.allow_downgrade,
                brake = self.options.brake_percent,
            )?;
            if account.name == IMPORT_ACCOUNT && !self.import_groups.is_empty() {
                text.push_str("\n[accounts.import]\nconnection_status = \"Prospect\"\n");
                for (key, id) in &self.import_groups {
                    writeln!(text, "groups.{key} = {id}")?;
                }
            }
            for (index, group) in groups {
                if let (Some(tag), Some(id)) = (&group.tag, self.rock.group_id(index)) {
                    write!(
                        text,
                        "\n[[accounts.tag_groups]]\ntag = {tag:?}\ngroup_id = {id}\n"
                    )?;
                }
            }
        }
        std::fs::write(self.config_path(), text)?;
        Ok(())
    }

    pub fn config(&self) -> anyhow::Result<pcosync::config::Config> {
        pcosync::config::Config::load(&self.config_path()).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// The stored links of `account` (R5), Rock id -> PCO id, read from the state file.
    pub fn links(&self, account: &str) -> anyhow::Result<BTreeMap<i64, String>> {
        let state = pcosync::connect::open_state(&self.data_dir())?;
        let mut links = BTreeMap::new();
        let mut after: Option<String> = None;
        loop {
            let page = state
                .scan(account, "person/", after.as_deref(), 500)
                .map_err(|e| anyhow::anyhow!("the state scans: {e:?}"))?;
            for entry in &page {
                let rock_id: i64 = entry.key["person/".len()..]
                    .parse()
                    .with_context(|| format!("a Rock id in {}", entry.key))?;
                let record: Value = serde_json::from_slice(&entry.value)?;
                if let Some(pco) = record["pco"].as_str() {
                    links.insert(rock_id, pco.to_string());
                }
            }
            match page.last() {
                Some(last) => after = Some(last.key.clone()),
                None => return Ok(links),
            }
        }
    }

    /// The congregation member Rock holds as `rock_id`, if they came from the congregation.
    pub fn member(&self, rock_id: i64) -> Option<&Member> {
        let key = self
            .rock
            .seed_ids()
            .people
            .iter()
            .find_map(|(key, id)| (*id == rock_id).then_some(*key))?;
        self.congregation.people.get(key as usize)
    }

    /// Every PCO person of `account`, listed through the API (faults must be off).
    pub async fn pco_people(&self, account: &str) -> anyhow::Result<Vec<PcoPerson>> {
        let mut ids = Vec::new();
        for offset in (0..).step_by(100) {
            let url = format!("{}/people/v2/people", self.pco_url());
            let query = [
                ("per_page", "100".to_string()),
                ("offset", offset.to_string()),
            ];
            let body = self
                .pco_request(account, self.http.get(url).query(&query))
                .await?;
            let page = body["data"].as_array().context("a page of people")?.clone();
            for person in &page {
                ids.push(person["id"].as_str().context("an id")?.to_string());
            }
            if page.len() < 100 {
                break;
            }
        }
        ids.iter()
            .map(|id| self.pco_person(account, id).context("a listed person"))
            .collect()
    }

    /// One PCO person as the sandbox holds them.
    pub fn pco_person(&self, account: &str, id: &str) -> Option<PcoPerson> {
        let state = self.pco.person_state(account, id)?;
        let attributes = &state["person"]["attributes"];
        let text = |key: &str| attributes[key].as_str().unwrap_or_default().to_string();
        let remote = &attributes["remote_id"];
        let email = state["included"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["type"] == "Email")
            .find(|r| r["attributes"]["primary"] == true)
            .and_then(|r| r["attributes"]["address"].as_str())
            .map(str::to_string);
        let services = &state["services"]["attributes"];
        let permission = if state["services"].is_null() {
            None
        } else if services["archived"] == true {
            Some("Archived".to_string())
        } else {
            services["permissions"].as_str().map(str::to_string)
        };
        Some(PcoPerson {
            id: id.to_string(),
            remote_id: remote
                .as_i64()
                .or_else(|| remote.as_str().and_then(|s| s.parse().ok())),
            first_name: text("first_name"),
            given_name: text("given_name"),
            nickname: text("nickname"),
            middle_name: text("middle_name"),
            last_name: text("last_name"),
            email,
            site_administrator: attributes["site_administrator"] == true,
            permission,
            congregation_key: state["congregation_key"].as_u64().map(|k| k as u32),
        })
    }

    /// One Rock person as the sandbox holds them.
    pub fn rock_person(&self, id: i64) -> Option<RockPerson> {
        let dump = self.rock.person_dump(id)?;
        let row = &dump["Person"];
        let text = |key: &str| row[key].as_str().unwrap_or_default().to_string();
        Some(RockPerson {
            id,
            first_name: text("FirstName"),
            nick_name: text("NickName"),
            middle_name: text("MiddleName"),
            last_name: text("LastName"),
            email: text("Email"),
        })
    }

    /// Every Rock person (through the API, faults off), by id.
    pub async fn rock_people(&self) -> anyhow::Result<BTreeMap<i64, RockPerson>> {
        let url = format!(
            "{}/api/People?$select=Id,FirstName,NickName,MiddleName,LastName,Email",
            self.rock.base_url()
        );
        let rows = self.rock_request(self.http.get(url)).await?;
        let text = |row: &Value, key: &str| row[key].as_str().unwrap_or_default().to_string();
        let mut people = BTreeMap::new();
        for row in rows.as_array().context("a list of people")? {
            let id = row["Id"].as_i64().context("an Id")?;
            people.insert(
                id,
                RockPerson {
                    id,
                    first_name: text(row, "FirstName"),
                    nick_name: text(row, "NickName"),
                    middle_name: text(row, "MiddleName"),
                    last_name: text(row, "LastName"),
                    email: text(row, "Email"),
                },
            );
        }
        Ok(people)
    }

    /// Staff editing a person in Rock: `PATCH /api/People/{id}` with Rock's property names.
    pub async fn edit_rock_person(&self, rock_id: i64, fields: Value) -> anyhow::Result<()> {
        let url = format!("{}/api/People/{rock_id}", self.rock.base_url());
        self.rock_request(self.http.patch(url).json(&fields))
            .await
            .map(drop)
    }

    /// Staff editing a person's attributes in PCO People.
    pub async fn edit_pco_person(
        &self,
        account: &str,
        pco_id: &str,
        attributes: Value,
    ) -> anyhow::Result<()> {
        let body = json!({"data": {"type": "Person", "id": pco_id, "attributes": attributes}});
        let url = format!("{}/people/v2/people/{pco_id}", self.pco_url());
        self.pco_request(account, self.http.patch(url).json(&body))
            .await
            .map(drop)
    }

    /// Staff adding a person in PCO People; returns their PCO id.
    pub async fn create_pco_person(
        &self,
        account: &str,
        attributes: Value,
    ) -> anyhow::Result<String> {
        let body = json!({"data": {"type": "Person", "attributes": attributes}});
        let url = format!("{}/people/v2/people", self.pco_url());
        let created = self
            .pco_request(account, self.http.post(url).json(&body))
            .await?;
        Ok(created["data"]["id"]
            .as_str()
            .context("the new person's id")?
            .to_string())
    }

    /// Staff changing a person's primary email in PCO (adding one when they have none).
    pub async fn edit_pco_email(
        &self,
        account: &str,
        pco_id: &str,
        address: &str,
    ) -> anyhow::Result<()> {
        let state = self
            .pco
            .person_state(account, pco_id)
            .context("the PCO person")?;
        let primary = state["included"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["type"] == "Email")
            .find(|r| r["attributes"]["primary"] == true)
            .and_then(|r| r["id"].as_str().map(str::to_string));
        let request = match primary {
            Some(id) => {
                let body = json!({"data": {"type": "Email", "id": id, "attributes": {"address": address}}});
                let url = format!("{}/people/v2/emails/{id}", self.pco_url());
                self.http.patch(url).json(&body)
            }
            None => {
                let body = json!({"data": {"type": "Email", "attributes":
                    {"address": address, "location": "Home", "primary": true}}});
                let url = format!("{}/people/v2/people/{pco_id}/emails", self.pco_url());
                self.http.post(url).json(&body)
            }
        };
        self.pco_request(account, request).await.map(drop)
    }

    /// Staff setting a Services permission in PCO (never copied to Rock, R11).
    pub async fn set_pco_permission(
        &self,
        account: &str,
        pco_id: &str,
        permission: &str,
    ) -> anyhow::Result<()> {
        let body = json!({"data": {"type": "Person", "id": pco_id,
            "attributes": {"permissions": permission}}});
        let url = format!("{}/services/v2/people/{pco_id}", self.pco_url());
        self.pco_request(account, self.http.patch(url).json(&body))
            .await
            .map(drop)
    }

    /// Rock group ids `rock_id` is an active member of.
    pub fn rock_groups(&self, rock_id: i64) -> Vec<i64> {
        let Some(dump) = self.rock.person_dump(rock_id) else {
            return Vec::new();
        };
        dump["GroupMembers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["GroupMemberStatus"].as_i64().is_none_or(|s| s == 1))
            .filter(|m| m["IsArchived"] != true)
            .filter_map(|m| m["GroupId"].as_i64())
            .collect()
    }

    /// Staff removing a person from a Rock group: `DELETE /api/GroupMembers/{id}` of each of
    /// their memberships of `group_id`.
    pub async fn remove_from_group(&self, rock_id: i64, group_id: i64) -> anyhow::Result<()> {
        let dump = self.rock.person_dump(rock_id).context("a Rock person")?;
        let memberships: Vec<i64> = dump["GroupMembers"]
            .as_array()
            .context("memberships")?
            .iter()
            .filter(|m| m["GroupId"].as_i64() == Some(group_id))
            .filter_map(|m| m["Id"].as_i64())
            .collect();
        if memberships.is_empty() {
            bail!("Rock {rock_id} is not in group {group_id}");
        }
        for id in memberships {
            let url = format!("{}/api/GroupMembers/{id}", self.rock.base_url());
            self.rock_request(self.http.delete(url)).await?;
        }
        Ok(())
    }

    /// The Rock group ids that sync to `account` (a level or a tag, R2 b-c).
    pub fn synced_group_ids(&self, account: &str) -> BTreeSet<i64> {
        self.congregation
            .groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.pco_account.as_deref() == Some(account))
            .filter_map(|(index, _)| self.rock.group_id(index))
            .collect()
    }

    fn pco_url(&self) -> String {
        self.pco.base_url().trim_end_matches('/').to_string()
    }

    async fn pco_request(
        &self,
        account: &str,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<Value> {
        let credentials = self
            .pco
            .account(account)
            .with_context(|| format!("the credentials of {account}"))?;
        let response = request
            .basic_auth(credentials.app_id, Some(credentials.secret))
            .send()
            .await
            .context("PCO answers")?;
        answer(response, "PCO").await
    }

    async fn rock_request(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = request
            .header("Authorization-Token", self.rock.token())
            .send()
            .await
            .context("Rock answers")?;
        answer(response, "Rock").await
    }
}

/// A successful response's JSON body (`Null` when empty); any other status is an error.
async fn answer(response: reqwest::Response, system: &str) -> anyhow::Result<Value> {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{system} answered {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The key of a level under `[accounts.import.groups]`.
fn level_key(level: Level) -> &'static str {
    match level {
        Level::ScheduledViewer => "scheduled_viewer",
        Level::Viewer => "viewer",
        Level::Scheduler => "scheduler",
        Level::Editor => "editor",
        Level::Administrator => "administrator",
    }
}

/// A secret file readable by its owner only, as the configuration requires.
fn write_secret(dir: &Path, name: &str, value: &str) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, value)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(path)
}

/// PCO permissions in order, "Archived" lowest; None for anything else.
pub fn permission_rank(permission: &str) -> Option<u8> {
    match permission {
        "Archived" => Some(0),
        other => Level::from_pco_name(other).map(|l| l as u8 + 1),
    }
}
