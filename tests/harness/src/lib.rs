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

pub fn options(dry_run: bool) -> SyncOptions {
    SyncOptions {
        run_id: "test-run".into(),
        started_at: "2026-11-23T00:00:00Z".into(),
        dry_run,
        updates_only: None,
        confirm: None,
    }
}
