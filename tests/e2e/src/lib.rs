//! End to end: the real host path, as `pcosync sync` takes it. A configuration file names the
//! Rock sandbox and the PCO sandbox (both on loopback, seeded with one congregation, secrets in
//! files beside it); `pcosync::connect::capabilities` turns it into `RestRock`, `HttpPco` and
//! `SqliteState`, and the embedded guest runs through `pcosync::runtime`. Tests then look at
//! what each sandbox holds and logged, and edit people the way staff would: over each
//! system's REST API.

pub mod kill;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use congregation::{Congregation, Level, Member};
use pco_sandbox::{EmailKind, PcoSandbox, RateLimitConfig};
use pcosync::bindings::engine::{
    Account, Action, AdminOptions, Report, RevertOptions, SyncOptions,
};
use pcosync::config::Config;
use pcosync::state::StateStore;
use pcosync::{Capabilities, Guest, Limits, RunError, Runtime};
use rock_sandbox::RockSandbox;
use serde_json::{Value, json};
use tempfile::TempDir;

/// The REST key tests edit Rock with, as staff: another person than the sync's key, so Rock
/// stamps staff edits with staff's alias (`ModifiedByPersonAliasId`), as a real install does.
const STAFF_KEY: &str = "rock-sandbox-staff-key";

/// The welcome template every sandbox account offers.
const WELCOME: &str = pco_sandbox::WELCOME_TEMPLATE;

/// One runtime with the built-in guest for the whole test binary: compiling the guest is the
/// slowest step of a run, and what a run does never depends on which `Runtime` ran it.
async fn engine() -> &'static (Runtime, Guest) {
    static ENGINE: tokio::sync::OnceCell<(Runtime, Guest)> = tokio::sync::OnceCell::const_new();
    ENGINE
        .get_or_init(|| async {
            // The configurations written here set no [limits]: the defaults apply, as they
            // would for `pcosync sync`.
            let runtime = Runtime::new(Limits::default()).expect("the wasm engine starts");
            let guest = runtime
                .load(pcosync::DEFAULT_GUEST, None)
                .await
                .expect("the built-in guest loads");
            (runtime, guest)
        })
        .await
}

/// A congregation served by both sandboxes, and a pcosync configuration pointing at them.
pub struct World {
    pub congregation: Congregation,
    pub rock: RockSandbox,
    pub pco: PcoSandbox,
    pub config: Config,
    /// The first account of the configuration, as the guest sees it.
    pub account: Account,
    dir: TempDir,
    http: reqwest::Client,
    runs: AtomicUsize,
}

impl World {
    /// Both sandboxes seeded from `Congregation::generate(people, seed)`, PCO's rate limit off.
    pub async fn start(people: usize, seed: u64) -> World {
        let congregation = Congregation::generate(people, seed);
        let pco_options = pco_sandbox::SandboxOptions {
            seed,
            rate_limit: RateLimitConfig {
                enabled: false,
                ..RateLimitConfig::default()
            },
            ..Default::default()
        };
        let pco = PcoSandbox::start_with(pco_options, &congregation)
            .await
            .expect("the PCO sandbox starts");
        let rock_options = rock_sandbox::SandboxOptions {
            seed,
            staff_token: Some(STAFF_KEY.into()),
            ..Default::default()
        };
        let rock = RockSandbox::start_with(rock_options, &congregation)
            .await
            .expect("the Rock sandbox starts");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = write_config(dir.path(), &congregation, &pco, &rock);
        let config = Config::load(&path).expect("the written configuration loads");
        let account = config.accounts[0].to_guest();
        World {
            congregation,
            rock,
            pco,
            config,
            account,
            dir,
            http: reqwest::Client::new(),
            runs: AtomicUsize::new(0),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The capabilities a fresh `pcosync sync` process builds from the configuration.
    pub async fn capabilities(&self) -> Capabilities {
        pcosync::connect::capabilities(&self.config, &self.data_dir())
            .await
            .expect("the capabilities connect")
    }

    /// A full (not updates-only) sync of `account`, as a new process would run it.
    pub async fn sync_as(&self, account: &Account) -> Report {
        let capabilities = self.capabilities().await;
        let report = self
            .run(&capabilities, account, false)
            .await
            .expect("the sync runs");
        assert!(!report.held, "the safety brake held the run: {report:?}");
        report
    }

    pub async fn sync(&self) -> Report {
        self.sync_as(&self.account).await
    }

    pub async fn dry_run(&self) -> Report {
        let capabilities = self.capabilities().await;
        self.run(&capabilities, &self.account, true)
            .await
            .expect("the dry run runs")
    }

    /// One run of the built-in guest with these capabilities.
    pub async fn run(
        &self,
        capabilities: &Capabilities,
        account: &Account,
        dry_run: bool,
    ) -> Result<Report, RunError> {
        let (runtime, guest) = engine().await;
        let options = SyncOptions {
            run_id: format!("e2e-{}", self.runs.fetch_add(1, Ordering::SeqCst) + 1),
            started_at: self.pco.now(),
            dry_run,
            updates_only: None,
            confirm: None,
        };
        runtime.sync(guest, capabilities, account, &options).await
    }

    /// Reverts run `target` (or one Rock person's part of it), as `pcosync revert` does (R25).
    pub async fn revert(&self, target: &str, rock_id: Option<i64>) -> Report {
        let (runtime, guest) = engine().await;
        let options = RevertOptions {
            target: target.to_string(),
            rock_id,
            run: self.admin_options(false),
        };
        runtime
            .revert(guest, &self.capabilities().await, &self.account, &options)
            .await
            .expect("the revert runs")
    }

    /// Deletes these PCO people, as `pcosync delete --yes` does (R35).
    pub async fn delete(&self, pco_ids: &[String]) -> Report {
        let (runtime, guest) = engine().await;
        runtime
            .delete(
                guest,
                &self.capabilities().await,
                &self.account,
                pco_ids,
                &self.admin_options(false),
            )
            .await
            .expect("the delete runs")
    }

    fn admin_options(&self, dry_run: bool) -> AdminOptions {
        AdminOptions {
            run_id: format!("e2e-{}", self.runs.fetch_add(1, Ordering::SeqCst) + 1),
            started_at: self.pco.now(),
            dry_run,
        }
    }

    /// The stored links (R5), Rock id -> PCO id, read from the state file itself.
    pub fn links(&self) -> BTreeMap<i64, String> {
        let state = pcosync::connect::open_state(&self.data_dir()).expect("the state opens");
        let mut links = BTreeMap::new();
        let mut after: Option<String> = None;
        loop {
            let page = state
                .scan(&self.account.name, "person/", after.as_deref(), 500)
                .expect("the state scans");
            for entry in &page {
                let rock_id = entry.key["person/".len()..].parse().expect("a Rock id");
                let record: Value = serde_json::from_slice(&entry.value).expect("JSON");
                let pco = record["pco"].as_str().expect("a PCO id").to_string();
                links.insert(rock_id, pco);
            }
            match page.last() {
                Some(last) => after = Some(last.key.clone()),
                None => return links,
            }
        }
    }

    /// The congregation member Rock holds as `rock_id`.
    pub fn member(&self, rock_id: i64) -> &Member {
        let key = self
            .rock
            .seed_ids()
            .people
            .iter()
            .find_map(|(key, id)| (*id == rock_id).then_some(*key))
            .unwrap_or_else(|| panic!("Rock person {rock_id} is not from the congregation"));
        &self.congregation.people[key as usize]
    }

    pub fn rock_id(&self, member: &Member) -> i64 {
        self.rock.person_id(member.key).expect("a Rock person")
    }

    /// Requests that wrote to PCO (anything but GET), as "METHOD path".
    pub fn pco_writes(&self) -> Vec<String> {
        self.pco
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// Requests that wrote to Rock (anything but GET), as "METHOD path".
    pub fn rock_writes(&self) -> Vec<String> {
        self.rock
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    pub fn clear_request_logs(&self) {
        self.pco.clear_requests();
        self.rock.clear_requests();
    }

    /// Welcome emails PCO sent through the API (none: it cannot send them, issue 14.1).
    pub fn welcome_emails_sent(&self) -> usize {
        self.pco
            .outbox()
            .iter()
            .filter(|e| e.kind == EmailKind::Welcome)
            .count()
    }

    /// Everything the PCO sandbox holds about a person (`Null` when there is no such person).
    pub fn pco_person(&self, pco_id: &str) -> Value {
        self.pco
            .person_state(&self.account.name, pco_id)
            .unwrap_or(Value::Null)
    }

    /// A PCO person's Services permission as PCO shows it, "Archived" when archived.
    pub fn pco_permission(&self, pco_id: &str) -> Option<String> {
        let services = &self.pco_person(pco_id)["services"]["attributes"];
        if services["archived"].as_bool() == Some(true) {
            return Some("Archived".into());
        }
        services["permissions"].as_str().map(str::to_string)
    }

    /// Every PCO person of the account, listed through the API: (id, remote_id).
    pub async fn pco_people(&self) -> Vec<(String, Option<i64>)> {
        let mut people = Vec::new();
        for offset in (0..).step_by(100) {
            let url = format!("{}/people/v2/people", self.pco_url());
            let query = [
                ("per_page", "100".to_string()),
                ("offset", offset.to_string()),
            ];
            let body: Value = self.pco_request(self.http.get(url).query(&query)).await;
            let page = body["data"].as_array().expect("a page of people").clone();
            for person in &page {
                let remote = &person["attributes"]["remote_id"];
                let remote = remote
                    .as_i64()
                    .or_else(|| remote.as_str().and_then(|s| s.parse().ok()));
                people.push((person["id"].as_str().expect("an id").to_string(), remote));
            }
            if page.len() < 100 {
                return people;
            }
        }
        unreachable!("the loop returns on the last page")
    }

    /// Staff editing a person in PCO: a JSON:API PATCH of `path` (a People or Services person).
    pub async fn edit_pco(&self, path: &str, attributes: Value) {
        let id = path.rsplit('/').next().unwrap_or_default();
        let body = json!({"data": {"type": "Person", "id": id, "attributes": attributes}});
        let url = format!("{}{path}", self.pco_url());
        self.pco_request(self.http.patch(url).json(&body)).await;
    }

    /// Staff changing a PCO person's phone number of `location` ("Mobile", "Home", "Work"):
    /// the existing one is patched, else one is added.
    pub async fn set_pco_phone(&self, pco_id: &str, location: &str, number: &str) {
        let url = format!("{}/people/v2/people/{pco_id}/phone_numbers", self.pco_url());
        let list = self.pco_request(self.http.get(&url)).await;
        let existing = list["data"].as_array().and_then(|phones| {
            phones
                .iter()
                .find(|p| p["attributes"]["location"] == location)
                .and_then(|p| p["id"].as_str().map(str::to_string))
        });
        let attributes = json!({"number": number, "location": location});
        match existing {
            Some(id) => {
                let body =
                    json!({"data": {"type": "PhoneNumber", "id": id, "attributes": attributes}});
                let url = format!("{}/people/v2/phone_numbers/{id}", self.pco_url());
                self.pco_request(self.http.patch(url).json(&body)).await;
            }
            None => {
                let body = json!({"data": {"type": "PhoneNumber", "attributes": attributes}});
                self.pco_request(self.http.post(url).json(&body)).await;
            }
        }
    }

    /// Staff editing a person in Rock: `PATCH /api/People/{id}` with Rock's property names.
    pub async fn edit_rock_person(&self, rock_id: i64, fields: Value) {
        let url = format!("{}/api/People/{rock_id}", self.rock.base_url());
        self.rock_request(self.http.patch(url).json(&fields)).await;
    }

    /// Rock's row for a person (PascalCase columns), as the sandbox holds it.
    pub fn rock_person(&self, rock_id: i64) -> Value {
        self.rock
            .person_dump(rock_id)
            .map(|dump| dump["Person"].clone())
            .unwrap_or(Value::Null)
    }

    /// Staff removing a person from a Rock group: `DELETE /api/GroupMembers/{id}` of each of
    /// their memberships of the congregation's group `group_index`.
    pub async fn remove_from_group(&self, rock_id: i64, group_index: usize) {
        let group_id = self.rock.group_id(group_index).expect("a seeded group");
        let dump = self.rock.person_dump(rock_id).expect("a Rock person");
        let memberships: Vec<i64> = dump["GroupMembers"]
            .as_array()
            .expect("memberships")
            .iter()
            .filter(|m| m["GroupId"].as_i64() == Some(group_id))
            .filter_map(|m| m["Id"].as_i64())
            .collect();
        assert!(
            !memberships.is_empty(),
            "{rock_id} is not in group {group_id}"
        );
        for id in memberships {
            let url = format!("{}/api/GroupMembers/{id}", self.rock.base_url());
            self.rock_request(self.http.delete(url)).await;
        }
    }

    /// Indexes of the groups synced to the account (a level or a tag, R2 b-c) `member` is an
    /// active member of.
    pub fn synced_groups(&self, member: &Member) -> Vec<usize> {
        member
            .groups
            .iter()
            .copied()
            .filter(|&g| {
                self.congregation.groups[g].pco_account.as_deref() == Some(&self.account.name)
            })
            .collect()
    }

    /// The level of the congregation's group `index`, if it grants one.
    pub fn group_level(&self, index: usize) -> Option<Level> {
        self.congregation.groups[index].level
    }

    fn pco_url(&self) -> String {
        self.pco.base_url().trim_end_matches('/').to_string()
    }

    async fn pco_request(&self, request: reqwest::RequestBuilder) -> Value {
        let credentials = self
            .pco
            .account(&self.account.name)
            .expect("the account's credentials");
        let response = request
            .basic_auth(credentials.app_id, Some(credentials.secret))
            .send()
            .await
            .expect("PCO answers");
        answer(response, "PCO").await
    }

    async fn rock_request(&self, request: reqwest::RequestBuilder) -> Value {
        // Staff's own key: Rock stamps what they change with their person alias.
        let response = request
            .header("Authorization-Token", STAFF_KEY)
            .send()
            .await
            .expect("Rock answers");
        answer(response, "Rock").await
    }
}

/// A successful response's JSON body (`Null` when empty); any other status fails the test.
async fn answer(response: reqwest::Response, system: &str) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "{system} answered {status}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Rock ids of the people a report says it created, and the PCO id of each.
pub fn created(report: &Report) -> BTreeMap<i64, String> {
    outcomes(report, |action| match action {
        Action::Created(id) => Some(id.clone()),
        _ => None,
    })
}

/// Rock ids of the people a report says it linked, and the PCO id of each.
pub fn linked(report: &Report) -> BTreeMap<i64, String> {
    outcomes(report, |action| match action {
        Action::Linked(id) => Some(id.clone()),
        _ => None,
    })
}

/// Every action a report holds for one Rock person.
/// The Rock people a report lists for the welcome email an administrator sends from Services.
pub fn welcome_needed(report: &Report) -> BTreeSet<i64> {
    report
        .people
        .iter()
        .filter(|p| {
            p.actions.iter().any(
                |a| matches!(a, Action::Flagged(note) if note.starts_with("welcome email to send")),
            )
        })
        .filter_map(|p| p.rock_id)
        .collect()
}

pub fn actions_of(report: &Report, rock_id: i64) -> Vec<Action> {
    report
        .people
        .iter()
        .filter(|p| p.rock_id == Some(rock_id))
        .flat_map(|p| p.actions.clone())
        .collect()
}

fn outcomes(report: &Report, pick: impl Fn(&Action) -> Option<String>) -> BTreeMap<i64, String> {
    report
        .people
        .iter()
        .filter_map(|p| Some((p.rock_id?, p.actions.iter().find_map(&pick)?)))
        .collect()
}

/// Writes a pcosync configuration for the two sandboxes, as `pcosync-sandbox --write-config`
/// does: secrets in files beside it (mode 600), every account with the groups and tags of the
/// congregation. Returns its path.
fn write_config(
    dir: &Path,
    congregation: &Congregation,
    pco: &PcoSandbox,
    rock: &RockSandbox,
) -> PathBuf {
    let rock_token = write_secret(dir, "rock.token", rock.token());
    let mut text = format!(
        "data_dir = {data:?}\n\n[rock]\nurl = {rock_url:?}\ntoken = {{ file = {rock_token:?} }}\n\
         time_zone = \"America/Chicago\"\n\n\
         [pco]\napi_url = {pco_url:?}\nupload_url = \"{pco_url}/v2/files\"\n",
        data = dir.join("data").display().to_string(),
        rock_url = rock.base_url(),
        pco_url = pco.base_url().trim_end_matches('/'),
        rock_token = rock_token.display().to_string(),
    );
    for (index, account) in pco.accounts().iter().enumerate() {
        let secret = write_secret(dir, &format!("pco-{index}.secret"), &account.secret);
        let groups: Vec<(usize, &congregation::Group)> = congregation
            .groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.pco_account.as_deref() == Some(&account.name))
            .collect();
        let group_types: BTreeSet<&str> =
            groups.iter().map(|(_, g)| g.group_type.as_str()).collect();
        let _ = write!(
            text,
            "\n[[accounts]]\nname = {name:?}\napp_id = {app:?}\nsecret = {{ file = {secret:?} }}\n\
             welcome_template = {WELCOME:?}\nenabled_group_types = {types:?}\n",
            name = account.name,
            app = account.app_id,
            secret = secret.display().to_string(),
            types = group_types.into_iter().collect::<Vec<_>>(),
        );
        for (index, group) in groups {
            if let (Some(tag), Some(id)) = (&group.tag, rock.group_id(index)) {
                let _ = write!(
                    text,
                    "\n[[accounts.tag_groups]]\ntag = {tag:?}\ngroup_id = {id}\n"
                );
            }
        }
    }
    let path = dir.join("pcosync.toml");
    std::fs::write(&path, text).expect("the configuration is written");
    path
}

/// A secret file readable by its owner only, as the configuration requires.
fn write_secret(dir: &Path, name: &str, value: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, value).expect("the secret is written");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .expect("the secret is made private");
    path
}
