//! State schema versions across guest releases, with two real builds of the guest: the one this
//! host ships (schema 1) and the same guest built one schema ahead (schema 2, with its
//! migration; tests/misbehave/build.rs builds it). State an older guest wrote is migrated
//! forward by the newer one; state a newer guest wrote is refused by the older one, untouched.

use std::collections::BTreeMap;
use std::sync::Arc;

use congregation::Congregation;
use misbehaving_guest::components;
use pcosync::bindings::engine::{Report, SyncOptions};
use pcosync::bindings::types::ErrorKind;
use pcosync::demo::DemoWorld;
use pcosync::pco::http::HttpPco;
use pcosync::state::StateStore;
use pcosync::state::memory::MemoryState;
use pcosync::testing::silent;
use pcosync::{Capabilities, Guest, Limits, RunError, Runtime};

struct World {
    runtime: Runtime,
    /// The guest this host ships: schema 1.
    current: Guest,
    /// The same guest one schema ahead: schema 2.
    next: Guest,
    world: DemoWorld,
    _sandbox: pco_sandbox::PcoSandbox,
    pco: Arc<HttpPco>,
    state: Arc<MemoryState>,
}

impl World {
    async fn new() -> World {
        let runtime = Runtime::new(Limits::default()).unwrap();
        let current = runtime.load(pcosync::DEFAULT_GUEST, None).await.unwrap();
        let next_wasm = components::read(components::GUEST_SCHEMA_NEXT);
        let next = runtime.load(&next_wasm, None).await.unwrap();
        assert_ne!(current.digest, next.digest, "two different builds");
        let congregation = Congregation::generate(30, 11);
        let world = pcosync::demo::world(&congregation);
        let (sandbox, pco) = pcosync::demo::pco_sandbox(&congregation, false)
            .await
            .unwrap();
        World {
            runtime,
            current,
            next,
            world,
            _sandbox: sandbox,
            pco: Arc::new(pco),
            state: Arc::new(MemoryState::default()),
        }
    }

    async fn sync(&self, guest: &Guest, dry_run: bool) -> Result<Report, RunError> {
        let capabilities = Capabilities {
            rock: self.world.rock.clone(),
            pco: self.pco.clone(),
            state: self.state.clone(),
            reporter: silent(),
        };
        let options = SyncOptions {
            run_id: format!("schema-{}", rand_suffix()),
            started_at: "2026-11-23T00:00:00Z".into(),
            dry_run,
            updates_only: None,
            confirm: None,
        };
        self.runtime
            .sync(guest, &capabilities, &self.world.account, &options)
            .await
    }

    fn namespace(&self) -> &str {
        &self.world.account.name
    }

    fn schema(&self) -> Option<String> {
        self.state
            .get(self.namespace(), &["schema".to_string()])
            .unwrap()
            .remove(0)
            .map(|v| String::from_utf8(v).unwrap())
    }

    fn people(&self) -> BTreeMap<String, Vec<u8>> {
        self.state
            .dump()
            .into_iter()
            .filter(|((_, key), _)| key.starts_with("person/"))
            .map(|((_, key), value)| (key, value))
            .collect()
    }
}

fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

#[tokio::test]
async fn a_newer_guest_migrates_older_state_and_the_older_guest_then_refuses_it() {
    let world = World::new().await;

    // The shipped guest's first run stamps the state with its schema.
    let first = world.sync(&world.current, false).await.unwrap();
    assert!(!first.held);
    assert!(first.counts.linked + first.counts.created > 0);
    assert_eq!(world.schema().as_deref(), Some("1"));
    let people = world.people();
    assert!(!people.is_empty());

    // The newer guest migrates it (one commit: records rewritten, schema 2) and syncs on the
    // records it migrated: nobody is linked or created again.
    let migrated = world.sync(&world.next, false).await.unwrap();
    assert_eq!(world.schema().as_deref(), Some("2"));
    assert_eq!(migrated.counts.linked, 0);
    assert_eq!(migrated.counts.created, 0);
    assert_eq!(
        world.people().keys().collect::<Vec<_>>(),
        people.keys().collect::<Vec<_>>()
    );

    // The older guest meets state newer than it understands: it refuses, and writes nothing.
    let before = world.state.dump();
    let error = world.sync(&world.current, false).await.unwrap_err();
    let RunError::Guest(error) = error else {
        panic!("expected the guest to refuse, got {error}");
    };
    assert_eq!(error.kind, ErrorKind::Invalid);
    assert!(
        error
            .message
            .contains("written by a newer guest (state schema 2)"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("understands schema 1"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("pcosync plugin list"),
        "{}",
        error.message
    );
    assert_eq!(world.state.dump(), before);
    // Its dry run refuses too.
    assert!(world.sync(&world.current, true).await.is_err());

    // The newer guest goes on as usual.
    let again = world.sync(&world.next, false).await.unwrap();
    assert_eq!(again.counts.created, 0);
    assert_eq!(world.schema().as_deref(), Some("2"));
}

/// State from before versioning (no `schema` key) counts as version 0 and is migrated.
#[tokio::test]
async fn state_from_before_versioning_is_migrated_by_both_builds() {
    let world = World::new().await;
    world.sync(&world.current, false).await.unwrap();
    let remove_stamp = || {
        world
            .state
            .commit(
                world.namespace(),
                &[pcosync::bindings::state::Write::Delete("schema".into())],
            )
            .unwrap();
    };
    remove_stamp();
    let report = world.sync(&world.current, false).await.unwrap();
    assert_eq!(world.schema().as_deref(), Some("1"));
    assert_eq!(report.counts.linked + report.counts.created, 0);

    remove_stamp();
    let report = world.sync(&world.next, false).await.unwrap();
    assert_eq!(
        world.schema().as_deref(),
        Some("2"),
        "0 -> 1 -> 2 in one go"
    );
    assert_eq!(report.counts.linked + report.counts.created, 0);
}

/// A dry run writes nothing: not the stamp of a fresh account, not a migration.
#[tokio::test]
async fn a_dry_run_neither_stamps_nor_migrates() {
    let world = World::new().await;
    let report = world.sync(&world.current, true).await.unwrap();
    assert!(report.counts.linked + report.counts.created > 0);
    assert!(world.state.dump().is_empty());

    world.sync(&world.current, false).await.unwrap();
    let before = world.state.dump();
    let report = world.sync(&world.next, true).await.unwrap();
    assert_eq!(
        report.counts.created, 0,
        "the newer guest reads schema 1 state as it is"
    );
    assert_eq!(world.state.dump(), before);
    assert_eq!(world.schema().as_deref(), Some("1"));
}
