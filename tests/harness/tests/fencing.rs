//! A run that lost its account's lock writes nothing more to Rock or PCO (issue 24 item 13;
//! SPEC R80: fenced leases, R20: one run of an account at a time).
//!
//! The lock's fencing token guarded only the state's commits: a run whose lock was taken over
//! (it stalled past the stale limit and another process took the account) went on writing to
//! Rock and PCO until its next state commit was refused. The host now checks the fence before
//! every write batch the guest asks for and stops the run when the lock is gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use pcosync::bindings::pco::{Method, Request, Response};
use pcosync::bindings::types::Error;
use pcosync::pco::Pco;
use pcosync::pco::http::HttpPco;
use pcosync::state::lock::{self, LockTiming, Locks, Owner};
use pcosync::state::memory::MemoryState;
use pcosync_harness::{Harness, options};

/// Rock's write calls, as the in-memory Rock names them.
const ROCK_WRITES: [&str; 4] = ["update_people", "create_people", "set_tags", "add_members"];

/// Passes requests to PCO; once the `steal_after`-th write has been answered, another process
/// takes the account's lock (as when this run stalled past the stale limit). Counts the PCO
/// writes that reach the sandbox after that.
struct StealingPco {
    inner: Arc<HttpPco>,
    locks: Arc<MemoryState>,
    resource: String,
    steal_after: usize,
    writes: AtomicUsize,
    stolen: AtomicBool,
    writes_after_steal: AtomicUsize,
    /// How many Rock calls had been made when the lock was stolen.
    rock_calls_at_steal: AtomicUsize,
    rock: Arc<pcosync::testing::MemoryRock>,
}

impl StealingPco {
    fn steal(&self) {
        let thief = Owner {
            pid: 1,
            host: "another-host".into(),
            command: "pcosync sync (another process)".into(),
            token: "the-thief".into(),
        };
        // An hour later, with a 2-minute stale limit: this run's heartbeat looks abandoned.
        self.locks
            .try_lock(
                &self.resource,
                &thief,
                lock::now() + 3600,
                Duration::from_secs(120),
            )
            .expect("the other process takes the stale lock");
        self.rock_calls_at_steal
            .store(self.rock.calls().len(), Ordering::SeqCst);
        self.stolen.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl Pco for StealingPco {
    async fn send(&self, account: &str, request: &Request) -> Result<Response, Error> {
        let write = request.method != Method::Get;
        if write && self.stolen.load(Ordering::SeqCst) {
            self.writes_after_steal.fetch_add(1, Ordering::SeqCst);
        }
        let answer = self.inner.send(account, request).await;
        if write && self.writes.fetch_add(1, Ordering::SeqCst) + 1 == self.steal_after {
            self.steal();
        }
        answer
    }

    async fn upload(
        &self,
        account: &str,
        content_type: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<String, Error> {
        if self.stolen.load(Ordering::SeqCst) {
            self.writes_after_steal.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.upload(account, content_type, name, bytes).await
    }
}

// Issue 24 item 13 (R80, R20): the lock is stolen after the first PCO write of a first sync;
// no write reaches PCO or Rock after that, and the run ends with an error that says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_lost_its_lock_writes_nothing_more_r80_issue_24_item_13() {
    let h = Harness::new(40, 21).await;
    let account = h.account();
    let resource = lock::account_resource(&account.name);
    let locks: Arc<dyn Locks> = h.state.clone();
    let timing = LockTiming {
        heartbeat: Duration::from_secs(3600),
        stale_after: Duration::from_secs(120),
    };
    let guard = lock::acquire_with(locks, &resource, "pcosync sync", timing).unwrap();
    let stealing = Arc::new(StealingPco {
        inner: h.pco.clone(),
        locks: h.state.clone(),
        resource,
        steal_after: 1,
        writes: AtomicUsize::new(0),
        stolen: AtomicBool::new(false),
        writes_after_steal: AtomicUsize::new(0),
        rock_calls_at_steal: AtomicUsize::new(0),
        rock: h.world.rock.clone(),
    });
    // As every run that writes gets them (ops, the daemon): the state fenced by the lock.
    let mut capabilities = h.capabilities();
    capabilities.state = guard.fenced(capabilities.state);
    capabilities.pco = stealing.clone();

    let outcome = h
        .runtime
        .sync(&h.guest, &capabilities, &account, &options(false))
        .await;

    assert!(
        stealing.stolen.load(Ordering::SeqCst),
        "the run wrote to PCO, so the lock was stolen"
    );
    assert_eq!(
        stealing.writes_after_steal.load(Ordering::SeqCst),
        0,
        "PCO writes after the lock was lost"
    );
    let rock_calls = h.world.rock.calls();
    let rock_writes_after: Vec<&String> = rock_calls
        [stealing.rock_calls_at_steal.load(Ordering::SeqCst)..]
        .iter()
        .filter(|call| ROCK_WRITES.contains(&call.as_str()))
        .collect();
    assert!(
        rock_writes_after.is_empty(),
        "Rock writes after the lock was lost: {rock_writes_after:?}"
    );
    let error = outcome.expect_err("the run stops when its lock is gone");
    assert!(
        error.to_string().contains("lost the lock"),
        "the error says why: {error}"
    );
}

// Issue 24 item 13 (R80): while the run holds its lock, the fence lets every write through
// (a run that keeps its lock is not slowed down or refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_keeps_its_lock_writes_as_before_r80_issue_24_item_13() {
    let h = Harness::new(40, 21).await;
    let account = h.account();
    let locks: Arc<dyn Locks> = h.state.clone();
    let guard = lock::acquire(
        locks,
        &lock::account_resource(&account.name),
        "pcosync sync",
    )
    .unwrap();
    let mut capabilities = h.capabilities();
    capabilities.state = guard.fenced(capabilities.state);
    let report = h
        .runtime
        .sync(&h.guest, &capabilities, &account, &options(false))
        .await
        .expect("a fenced run that keeps its lock succeeds");
    assert!(report.counts.created > 0, "{:?}", report.counts);
    assert_eq!(report.counts.failed, 0, "{:?}", report.people);
    assert!(h.pco_writes() > 0);
}
