//! The contract between host and guest, driven through the compiled `.wasm`.

use pcosync::RunError;
use pcosync::bindings::log::Level;
use pcosync::bindings::types::{Error, ErrorKind};
use pcosync::runtime::LoadError;
use pcosync::runtime::cache::CompileCache;
use pcosync_harness::{Harness, MISBEHAVING_GUEST, real_guest, tight_limits};

#[tokio::test]
async fn the_real_guest_speaks_the_hosts_contract_version() {
    let runtime = pcosync::Runtime::new(tight_limits()).unwrap();
    let guest = runtime.load(real_guest(), None).await.unwrap();
    assert_eq!(guest.contract_version, "0.3.0");
    assert_eq!(guest.digest.len(), 64);
}

#[tokio::test]
async fn components_that_do_not_fit_the_contract_are_refused_clearly() {
    let runtime = pcosync::Runtime::new(tight_limits()).unwrap();
    let garbage = runtime.load(b"not wasm at all", None).await.err().unwrap();
    assert!(matches!(garbage, LoadError::NotAComponent(_)), "{garbage}");
    // A core module is WebAssembly, but not a component.
    let core_module = b"\0asm\x01\0\0\0";
    let error = runtime.load(core_module, None).await.err().unwrap();
    assert!(matches!(error, LoadError::NotAComponent(_)), "{error}");
    // An empty component exports no engine: wrong shape, and the message says what we accept.
    let empty_component = b"\0asm\x0d\0\x01\0";
    let error = runtime.load(empty_component, None).await.err().unwrap();
    assert!(matches!(error, LoadError::WrongShape(_)), "{error}");
    assert!(error.to_string().contains("rockpco:sync@0.3"), "{error}");
}

#[tokio::test]
async fn a_second_load_uses_the_compile_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = CompileCache::open_ambient(dir.path()).unwrap();
    let runtime = pcosync::Runtime::new(tight_limits()).unwrap();
    let first = runtime.load(real_guest(), Some(&cache)).await.unwrap();
    let second = runtime.load(real_guest(), Some(&cache)).await.unwrap();
    assert!(!first.from_cache);
    assert!(second.from_cache);
    assert_eq!(first.digest, second.digest);
    // A different component is never served from another's entry.
    let other = runtime.load(MISBEHAVING_GUEST, Some(&cache)).await.unwrap();
    assert!(!other.from_cache);
}

#[tokio::test]
async fn a_corrupt_cache_entry_is_ignored_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let cache = CompileCache::open_ambient(dir.path()).unwrap();
    let runtime = pcosync::Runtime::new(tight_limits()).unwrap();
    runtime.load(real_guest(), Some(&cache)).await.unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        std::fs::write(entry.unwrap().path(), b"scribbled over").unwrap();
    }
    let reloaded = runtime.load(real_guest(), Some(&cache)).await.unwrap();
    assert!(!reloaded.from_cache);
    assert_eq!(reloaded.contract_version, "0.3.0");
}

/// One sync crosses every host interface: rock, pco, state and log.
#[tokio::test]
async fn a_sync_calls_through_every_host_interface() {
    let harness = Harness::new(60, 3).await;
    let report = harness.sync(false).await.unwrap();

    let rock_calls = harness.world.rock.calls();
    for call in [
        "account_groups",
        "active_members",
        "tagged_people",
        "people",
    ] {
        assert!(
            rock_calls.contains(&call.to_string()),
            "{call} in {rock_calls:?}"
        );
    }
    let requests = harness.sandbox.requests();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|r| r.account.as_deref() == Some("Main Campus"))
    );
    // R5: the links made are stored, under the account's own key space.
    let stored = harness.state.dump();
    let people = stored
        .keys()
        .filter(|(_, key)| key.starts_with("person/"))
        .count();
    assert_eq!(people as u32, report.counts.linked + report.counts.created);
    assert!(report.counts.linked > 0);
    assert!(
        stored
            .keys()
            .all(|(namespace, _)| namespace == "Main Campus")
    );
    let events = harness.reporter.events.lock().unwrap().clone();
    assert!(
        events
            .iter()
            .any(|(level, message, _)| *level == Level::Info && message == "sync started")
    );
    assert!(!harness.reporter.progress.lock().unwrap().is_empty());
}

// R30: a dry run writes nothing.
#[tokio::test]
async fn a_dry_run_writes_no_state() {
    let harness = Harness::new(60, 3).await;
    let report = harness.sync(true).await.unwrap();
    assert!(report.dry_run);
    assert!(report.counts.linked > 0);
    assert!(harness.state.dump().is_empty());
}

// R5: links survive between runs; a second run does not link again.
#[tokio::test]
async fn stored_links_are_not_made_twice() {
    let harness = Harness::new(60, 3).await;
    let first = harness.sync(false).await.unwrap();
    let second = harness.sync(false).await.unwrap();
    assert!(first.counts.linked > 0);
    assert_eq!(second.counts.linked, 0);
}

/// A host function's failure reaches the guest as a value, and the guest fails the run
/// cleanly with that error: no trap, nothing written.
#[tokio::test]
async fn a_host_error_surfaces_in_the_guest_as_a_value() {
    let harness = Harness::new(60, 3).await;
    harness.world.rock.fail(
        "people",
        Error {
            kind: ErrorKind::Unavailable,
            message: "Rock answered 503".into(),
        },
    );
    match harness.sync(false).await {
        Err(RunError::Guest(error)) => {
            assert_eq!(error.kind, ErrorKind::Unavailable);
            assert_eq!(error.message, "Rock answered 503");
        }
        other => panic!("expected the guest to report the Rock error, got {other:?}"),
    }
    assert!(harness.state.dump().is_empty());
}

async fn misbehave(name: &str, limits: pcosync::Limits) -> (RunError, Harness) {
    let harness = Harness::with(MISBEHAVING_GUEST, limits, 10, 1).await;
    let mut account = harness.account();
    account.name = name.to_string();
    let error = harness.sync_as(&account, false).await.err().unwrap();
    (error, harness)
}

/// After a misbehaving run, the same host runs the next guest call normally.
async fn host_still_serves(harness: &Harness) {
    let mut account = harness.account();
    account.name = "behave".into();
    let report = harness.sync_as(&account, false).await.unwrap();
    assert_eq!(report.account, "behave");
}

#[tokio::test]
async fn a_runaway_loop_is_stopped_by_the_cpu_budget() {
    let (error, harness) = misbehave("loop", tight_limits()).await;
    assert!(
        matches!(error, RunError::CpuLimit { fuel: 200_000_000 }),
        "{error}"
    );
    assert!(harness.state.dump().is_empty());
    host_still_serves(&harness).await;
}

#[tokio::test]
async fn a_runaway_loop_is_stopped_by_the_wall_clock_too() {
    let mut limits = tight_limits();
    limits.fuel = u64::MAX / 2;
    limits.wall_time = std::time::Duration::from_millis(200);
    let (error, harness) = misbehave("loop", limits).await;
    assert!(matches!(error, RunError::TimeLimit(_)), "{error}");
    assert!(harness.state.dump().is_empty());
}

#[tokio::test]
async fn a_memory_bomb_is_stopped_by_the_memory_cap() {
    let (error, harness) = misbehave("allocate", tight_limits()).await;
    assert!(
        matches!(error, RunError::MemoryLimit { limit } if limit == 64 << 20),
        "{error}"
    );
    assert!(harness.state.dump().is_empty());
    host_still_serves(&harness).await;
}

#[tokio::test]
async fn a_trap_ends_the_run_with_a_clear_error() {
    let (error, harness) = misbehave("trap", tight_limits()).await;
    assert!(matches!(error, RunError::Trap(_)), "{error}");
    assert!(error.to_string().contains("crashed"), "{error}");
    assert!(harness.state.dump().is_empty());
    host_still_serves(&harness).await;
}

/// Commits are durable the moment they return (the guest relies on that for its create
/// intents), so a trap after a commit keeps it and writes nothing else.
#[tokio::test]
async fn a_trap_after_a_commit_keeps_exactly_that_commit() {
    let (error, harness) = misbehave("write-then-trap", tight_limits()).await;
    assert!(matches!(error, RunError::Trap(_)), "{error}");
    let stored = harness.state.dump();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored.get(&("write-then-trap".to_string(), "written".to_string())),
        Some(&b"yes".to_vec())
    );
}
