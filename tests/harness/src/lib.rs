//! The sandboxed harness: the real guest `.wasm`, loaded by the production runtime, against
//! capabilities that tests script and inspect: an in-memory Rock and state, and the PCO
//! sandbox (seeded with the same congregation) reached through the host's real HTTP backend.

use std::sync::Arc;
use std::time::Duration;

use congregation::Congregation;
use pco_sandbox::PcoSandbox;
use pcosync::bindings::engine::{Account, SyncOptions};
use pcosync::demo::DemoWorld;
use pcosync::pco::http::HttpPco;
use pcosync::state::memory::MemoryState;
use pcosync::testing::RecordingReporter;
use pcosync::{Capabilities, Guest, Limits, Runtime};

/// The component that loops, hoards memory or traps on request (tests/misbehave).
pub static MISBEHAVING_GUEST: &[u8] = include_bytes!(env!("MISBEHAVING_GUEST"));

/// The guest the host ships with.
pub fn real_guest() -> &'static [u8] {
    pcosync::DEFAULT_GUEST
}

/// Limits small enough that a misbehaving guest is stopped in well under a second.
pub fn tight_limits() -> Limits {
    Limits {
        memory_bytes: 64 << 20,
        fuel: 200_000_000,
        wall_time: Duration::from_secs(20),
    }
}

/// A world generated from a congregation, with everything the guest does recorded.
pub struct Harness {
    pub runtime: Runtime,
    pub guest: Guest,
    pub world: DemoWorld,
    pub congregation: Congregation,
    pub sandbox: PcoSandbox,
    pub pco: Arc<HttpPco>,
    pub state: Arc<MemoryState>,
    pub reporter: Arc<RecordingReporter>,
}

impl Harness {
    /// The real guest against a generated congregation of `people`.
    pub async fn new(people: usize, seed: u64) -> Harness {
        Self::with(real_guest(), Limits::default(), people, seed).await
    }

    pub async fn with(wasm: &[u8], limits: Limits, people: usize, seed: u64) -> Harness {
        let runtime = Runtime::new(limits).expect("engine");
        let guest = runtime.load(wasm, None).await.expect("the guest loads");
        let congregation = Congregation::generate(people, seed);
        let world = pcosync::demo::world(&congregation);
        let (sandbox, pco) = pcosync::demo::pco_sandbox(&congregation, false)
            .await
            .expect("the PCO sandbox starts");
        seed_foreign_remote_ids(&congregation, &sandbox, &pco).await;
        Harness {
            runtime,
            guest,
            world,
            congregation,
            sandbox,
            pco: Arc::new(pco),
            state: Arc::new(MemoryState::default()),
            reporter: Arc::new(RecordingReporter::default()),
        }
    }

    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            rock: self.world.rock.clone(),
            pco: self.pco.clone(),
            state: self.state.clone(),
            reporter: self.reporter.clone(),
        }
    }

    pub fn account(&self) -> Account {
        self.world.account.clone()
    }

    /// Runs a sync of the harness's account with `account` settings.
    pub async fn sync_as(
        &self,
        account: &Account,
        dry_run: bool,
    ) -> Result<pcosync::bindings::engine::Report, pcosync::RunError> {
        let options = options(dry_run);
        self.runtime
            .sync(&self.guest, &self.capabilities(), account, &options)
            .await
    }

    pub async fn sync(
        &self,
        dry_run: bool,
    ) -> Result<pcosync::bindings::engine::Report, pcosync::RunError> {
        self.sync_as(&self.account(), dry_run).await
    }

    /// A sync of the account (not a dry run) that reaches PCO through `pco` (a wrapper that
    /// records or changes what PCO answers) instead of the sandbox's transport directly.
    pub async fn sync_through(
        &self,
        pco: Arc<dyn pcosync::pco::Pco>,
    ) -> Result<pcosync::bindings::engine::Report, pcosync::RunError> {
        let mut capabilities = self.capabilities();
        capabilities.pco = pco;
        self.runtime
            .sync(&self.guest, &capabilities, &self.account(), &options(false))
            .await
    }

    /// Staff's own call to PCO, as the sandbox's API answers it: the document (Null when the
    /// answer has no body).
    pub async fn pco_call(
        &self,
        method: pcosync::bindings::pco::Method,
        path: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        use pcosync::pco::Pco;
        let request = pcosync::bindings::pco::Request {
            method,
            path: path.to_string(),
            query: vec![],
            headers: vec![],
            body: (!body.is_null()).then(|| body.to_string().into_bytes()),
        };
        let response = self
            .pco
            .send(&self.world.account.name, &request)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e:?}"));
        serde_json::from_slice(&response.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Gives the congregation's few PCO people an unrelated Rock person's id in `remote_id`, as
/// PCO holds after a move from another system (issue 24.2): the sandbox does not seed them.
async fn seed_foreign_remote_ids(congregation: &Congregation, sandbox: &PcoSandbox, pco: &HttpPco) {
    use pcosync::bindings::pco::{Method, Request};
    use pcosync::pco::Pco;
    for (carrier, rock_key) in congregation.foreign_remote_ids() {
        let member = &congregation.people[carrier as usize];
        let remote_id = pcosync::demo::rock_id(&congregation.people[rock_key as usize]);
        for account in &member.pco_accounts {
            let name = &congregation.accounts[*account];
            let Some(id) = sandbox.pco_id(name, carrier) else {
                continue;
            };
            let body = serde_json::json!({"data": {"type": "Person", "id": id,
                "attributes": {"remote_id": remote_id}}});
            let request = Request {
                method: Method::Patch,
                path: format!("/people/v2/people/{id}"),
                query: vec![],
                headers: vec![],
                body: Some(body.to_string().into_bytes()),
            };
            pco.send(name, &request)
                .await
                .expect("the sandbox takes a remote_id");
        }
    }
    sandbox.clear_requests();
}

/// A new run id for each run, as the host gives: the audit keys its history by run id.
pub fn next_run_id() -> String {
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    format!(
        "test-run-{}",
        RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

pub fn options(dry_run: bool) -> SyncOptions {
    SyncOptions {
        run_id: next_run_id(),
        started_at: "2026-11-23T00:00:00Z".into(),
        dry_run,
        updates_only: None,
        confirm: None,
    }
}

impl Harness {
    /// The stored links: Rock id -> PCO id.
    pub fn links(&self) -> std::collections::BTreeMap<i64, String> {
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

    /// Everything PCO holds about a person (the sandbox's view, beyond the API).
    pub fn pco_state(&self, pco_id: &str) -> serde_json::Value {
        self.sandbox
            .person_state(&self.world.account.name, pco_id)
            .unwrap_or(serde_json::Value::Null)
    }

    /// A PCO person's Services permission, as PCO shows it ("Archived" when archived).
    pub fn pco_permission(&self, pco_id: &str) -> Option<String> {
        let services = &self.pco_state(pco_id)["services"]["attributes"];
        if services["archived"].as_bool() == Some(true) {
            return Some("Archived".into());
        }
        services["permissions"].as_str().map(str::to_string)
    }

    /// Staff editing a person in PCO: a PATCH of People attributes (or Services ones).
    pub async fn edit_pco(&self, path: &str, attributes: serde_json::Value) {
        use pcosync::bindings::pco::{Method, Request};
        use pcosync::pco::Pco;
        let id = path.rsplit('/').next().unwrap_or_default();
        let body =
            serde_json::json!({"data": {"type": "Person", "id": id, "attributes": attributes}});
        let request = Request {
            method: Method::Patch,
            path: path.to_string(),
            query: vec![],
            headers: vec![],
            body: Some(body.to_string().into_bytes()),
        };
        self.pco
            .send(&self.world.account.name, &request)
            .await
            .expect("the PCO edit is accepted");
    }

    /// Staff editing a person in Rock.
    pub fn edit_rock(&self, rock_id: i64, edit: impl FnOnce(&mut pcosync::bindings::rock::Person)) {
        let mut data = self.world.rock.data.lock().unwrap();
        edit(data.people.get_mut(&rock_id).expect("a Rock person"));
    }

    /// Requests that changed something in PCO since the log was last cleared.
    pub fn pco_writes(&self) -> usize {
        self.sandbox
            .requests()
            .iter()
            .filter(|r| r.method != "GET")
            .count()
    }

    /// Emails PCO sent, by kind name (e.g. "Welcome", "PermissionRaised").
    pub fn emails(&self, kind: &str) -> usize {
        self.sandbox
            .outbox()
            .iter()
            .filter(|e| format!("{:?}", e.kind) == kind)
            .count()
    }
}

/// The administration of an account (R32-R35), through the compiled guest.
impl Harness {
    /// The account's status (R32).
    pub async fn status(
        &self,
        options: &pcosync::bindings::engine::StatusOptions,
    ) -> Result<pcosync::bindings::engine::AccountStatus, pcosync::RunError> {
        self.runtime
            .status(&self.guest, &self.capabilities(), &self.account(), options)
            .await
    }

    /// Every person's row, their saved values included, and the last `runs` runs.
    pub async fn full_status(&self, runs: u32) -> pcosync::bindings::engine::AccountStatus {
        self.status(&pcosync::bindings::engine::StatusOptions {
            with_values: true,
            rock_ids: vec![],
            runs,
        })
        .await
        .expect("the status reads")
    }

    /// Rebuilds the people list from the groups (R34).
    pub async fn refresh(
        &self,
    ) -> Result<pcosync::bindings::engine::AccountStatus, pcosync::RunError> {
        self.runtime
            .refresh(&self.guest, &self.capabilities(), &self.account())
            .await
    }

    /// Links a Rock person to a PCO person by hand (R33).
    pub async fn link(&self, rock_id: i64, pco_id: &str) -> Result<(), pcosync::RunError> {
        self.runtime
            .link(
                &self.guest,
                &self.capabilities(),
                &self.account(),
                rock_id,
                pco_id,
            )
            .await
    }

    /// Lets the next sync create a person it holds because PCO may already hold them (R4).
    pub async fn allow_create(&self, rock_id: i64) -> Result<(), pcosync::RunError> {
        self.runtime
            .allow_create(&self.guest, &self.capabilities(), &self.account(), rock_id)
            .await
    }

    /// Deletes PCO people (R35) as run `run_id`.
    pub async fn delete(
        &self,
        pco_ids: &[&str],
        run_id: &str,
        dry_run: bool,
    ) -> Result<pcosync::bindings::engine::Report, pcosync::RunError> {
        let ids: Vec<String> = pco_ids.iter().map(|id| id.to_string()).collect();
        let options = pcosync::bindings::engine::AdminOptions {
            run_id: run_id.into(),
            started_at: "2026-11-24T00:00:00Z".into(),
            dry_run,
        };
        self.runtime
            .delete(
                &self.guest,
                &self.capabilities(),
                &self.account(),
                &ids,
                &options,
            )
            .await
    }

    /// A run's summary and writes (R25).
    pub async fn run_detail(
        &self,
        run_id: &str,
    ) -> Result<pcosync::bindings::engine::RunDetail, pcosync::RunError> {
        self.runtime
            .run_detail(&self.guest, &self.capabilities(), &self.account(), run_id)
            .await
    }

    /// Groups configured to sync to the harness's account (permission groups), by id.
    pub fn account_group_ids(&self) -> Vec<i64> {
        let name = &self.world.account.name;
        self.world
            .rock
            .data
            .lock()
            .unwrap()
            .groups
            .iter()
            .filter(|g| g.pco_account.as_deref() == Some(name.as_str()))
            .map(|g| g.id)
            .collect()
    }

    /// Makes a Rock person an active member of a group.
    pub fn join_group(&self, group_id: i64, person_id: i64) {
        let mut data = self.world.rock.data.lock().unwrap();
        data.members.push(pcosync::bindings::rock::Membership {
            group_id,
            person_id,
        });
    }

    /// Takes a Rock person out of every group and clears their "PCO Tags", so no account
    /// syncs them any more.
    pub fn leave_everything(&self, person_id: i64) {
        let mut data = self.world.rock.data.lock().unwrap();
        data.members.retain(|m| m.person_id != person_id);
        if let Some(person) = data.people.get_mut(&person_id) {
            person.pco_tags.clear();
        }
    }

    /// Rock people in no group and without "PCO Tags": synced to no account.
    pub fn unsynced_rock_people(&self) -> Vec<i64> {
        let data = self.world.rock.data.lock().unwrap();
        data.people
            .values()
            .filter(|p| p.pco_tags.is_empty())
            .filter(|p| !data.members.iter().any(|m| m.person_id == p.id))
            .map(|p| p.id)
            .collect()
    }

    /// PCO ids of people the account holds who are in PCO only (never linked by a sync).
    pub fn pco_only_ids(&self) -> Vec<String> {
        let name = &self.world.account.name;
        let Some(index) = self.congregation.account_index(name) else {
            return Vec::new();
        };
        self.congregation
            .pco_people(index)
            .filter(|m| !m.in_rock())
            .filter_map(|m| self.sandbox.pco_id(name, m.key))
            .collect()
    }

    /// Whether the state holds the key.
    pub fn state_has(&self, key: &str) -> bool {
        self.state.dump().into_iter().any(|((_, k), _)| k == key)
    }

    /// Every event the guest logged, as one text per event (message and fields).
    pub fn logged_text(&self) -> Vec<String> {
        self.reporter
            .events
            .lock()
            .unwrap()
            .iter()
            .map(|(_, message, fields)| format!("{message} {fields:?}"))
            .collect()
    }
}

// ---- The import (R40-R42) ------------------------------------------------------------------

/// For each PCO level, the account's Rock group that syncs at exactly that level (the lowest
/// id when there are several): where an import puts the PCO people of that level.
pub fn import_groups(world: &DemoWorld) -> Vec<pcosync::bindings::engine::LevelGroup> {
    use pcosync::bindings::types::PermissionLevel as L;
    let data = world.rock.data.lock().unwrap();
    [
        L::ScheduledViewer,
        L::Viewer,
        L::Scheduler,
        L::Editor,
        L::Administrator,
    ]
    .into_iter()
    .filter_map(|level| {
        let group = data
            .groups
            .iter()
            .filter(|g| g.is_active && g.level == Some(level))
            .filter(|g| g.pco_account.as_deref() == Some(world.account.name.as_str()))
            .map(|g| g.id)
            .min()?;
        Some(pcosync::bindings::engine::LevelGroup {
            level,
            group_id: group,
        })
    })
    .collect()
}

/// The connection status the harness's imports give the people they create.
pub const IMPORT_CONNECTION_STATUS: &str = "Prospect";

/// Import options with a fresh run id each time.
pub fn import_options(
    level_groups: Vec<pcosync::bindings::engine::LevelGroup>,
    dry_run: bool,
) -> pcosync::bindings::engine::ImportOptions {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    pcosync::bindings::engine::ImportOptions {
        run: pcosync::bindings::engine::AdminOptions {
            run_id: format!("import-{run}"),
            started_at: "2026-11-23T00:00:00Z".into(),
            dry_run,
        },
        level_groups,
        connection_status: IMPORT_CONNECTION_STATUS.into(),
    }
}

impl Harness {
    /// Empties Rock of people and memberships, keeping its groups: the congregation then
    /// exists only in PCO.
    pub fn empty_rock(&self) {
        let mut data = self.world.rock.data.lock().unwrap();
        data.people.clear();
        data.members.clear();
    }

    /// Runs an import of the harness's account into the groups of [`import_groups`].
    pub async fn import(
        &self,
        dry_run: bool,
    ) -> Result<pcosync::bindings::engine::Report, pcosync::RunError> {
        let options = import_options(import_groups(&self.world), dry_run);
        self.import_with(&options).await
    }

    pub async fn import_with(
        &self,
        options: &pcosync::bindings::engine::ImportOptions,
    ) -> Result<pcosync::bindings::engine::Report, pcosync::RunError> {
        self.runtime
            .import(&self.guest, &self.capabilities(), &self.account(), options)
            .await
    }
}
