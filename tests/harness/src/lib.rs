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
