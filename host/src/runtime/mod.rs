//! Loads the guest component and runs it inside its limits.
//!
//! - One [`Engine`] per process, with fuel: the guest's CPU budget. The wall-clock budget is a
//!   timer of each call's own, independent of whether anything polls the guest: at the deadline
//!   the call is dropped, whether the guest computes (it yields to the executor every
//!   [`YIELD_FUEL`], so it is stopped within a few milliseconds), sleeps, or waits on a host
//!   call. Epoch interruption would cost the guest about 12% more CPU
//!   (`cargo bench -p pcosync --bench perf_table`) and could not stop a host wait.
//! - Each call gets its capabilities scoped by the host ([`scope`]): PCO of the run's own
//!   account only, and no writes at all for a read-only call (dry runs, status).
//! - [`Runtime::load`] compiles a component (or takes it from the [`cache`]), type-checks its
//!   imports and exports against the contract, and asks it its contract version: a guest that
//!   fails any step never runs.
//! - Every run gets a fresh [`Store`]: a trap poisons its store, and a fresh one also means no
//!   guest memory survives from one run to the next.

mod admin;
pub mod cache;
pub mod scope;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::engine::{Account, Report, SyncOptions};
use crate::bindings::types::Error as GuestError;
use crate::bindings::{ACCEPTED_CONTRACT, Plugin, PluginPre};
use crate::log::Reporter;
use crate::pco::Pco;
use crate::rock::Rock;
use crate::state::StateStore;
use cache::CompileCache;
pub use scope::Access;

/// Fuel between the guest's yields to the executor, where the wall-clock budget is checked:
/// a few milliseconds of guest work.
const YIELD_FUEL: u64 = 10_000_000;
/// How much of the guest's stderr is kept for the log.
const STDERR_CAPACITY: usize = 64 * 1024;

/// What one guest call may use.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest linear memory of the guest, in bytes.
    pub memory_bytes: usize,
    /// Guest CPU budget per call, in fuel units (about one per wasm instruction).
    pub fuel: u64,
    /// Wall-clock budget per call, host calls included.
    pub wall_time: Duration,
}

impl Default for Limits {
    /// Generous enough for a 50,000-person sync; tight enough that a runaway guest stops.
    ///
    /// Measured with 50,000 synced people (`PEOPLE=50000 cargo bench -p pcosync --bench
    /// plugin_lifecycle`): a sync burns at most 77,000 million fuel (under 4% of this) and
    /// reaches 420 MiB of guest memory (41% of this; it grows about 8 KiB a person). Wall time
    /// is what a large first sync needs most: it makes about 3.7 PCO requests per person, and
    /// PCO allows 5 a second, so a first sync of 50,000 people takes about 10.4 hours at the
    /// rate limit (a sync with nothing to change, about 4 minutes). A day leaves room for that
    /// and still stops a guest that is stuck.
    fn default() -> Self {
        Limits {
            memory_bytes: 1 << 30,
            fuel: 2_000_000_000_000,
            wall_time: Duration::from_secs(24 * 3600),
        }
    }
}

/// The host's half of every capability, for one run.
#[derive(Clone)]
pub struct Capabilities {
    pub rock: Arc<dyn Rock>,
    pub pco: Arc<dyn Pco>,
    pub state: Arc<dyn StateStore>,
    pub reporter: Arc<dyn Reporter>,
}

/// Why a run ended without a report.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The guest decided the run failed, and said why.
    #[error("{}", .0.message)]
    Guest(GuestError),
    #[error("the guest used up its CPU budget ({fuel} fuel) and was stopped")]
    CpuLimit { fuel: u64 },
    #[error("the guest ran past its time limit ({0:?}) and was stopped")]
    TimeLimit(Duration),
    #[error("the guest tried to use more than its memory limit ({limit} bytes) and was stopped")]
    MemoryLimit { limit: usize },
    #[error("the guest crashed ({0}); nothing after its last commit was written")]
    Trap(String),
    #[error("the host failed while running the guest: {0:#}")]
    Host(anyhow::Error),
    /// Another process holds the account's lock: nothing was run.
    #[error("{0}")]
    Locked(String),
    /// The run's lock was taken over while it ran: it was stopped before its next write
    /// (issue 24 item 13).
    #[error("{0}")]
    LostLock(String),
}

/// The trap that stops a guest whose run lost its lock, before the write it asked for.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LostLock(pub String);

/// Why a component was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("not a WebAssembly component: {0:#}")]
    NotAComponent(anyhow::Error),
    #[error(
        "this component does not fit the pcosync contract (this host accepts rockpco:sync@{ACCEPTED_CONTRACT}.x): {0:#}"
    )]
    WrongShape(anyhow::Error),
    #[error(
        "this component speaks contract {found}, but this host accepts {ACCEPTED_CONTRACT}.x only"
    )]
    WrongVersion { found: String },
    #[error("the component failed its self-check: {0}")]
    SelfCheck(String),
}

/// A guest ready to run: compiled, type-checked, version-checked.
#[derive(Clone)]
pub struct Guest {
    pre: PluginPre<HostState>,
    /// sha256 of the component bytes.
    pub digest: String,
    pub contract_version: String,
    /// Whether the compiled code came from the cache (no compilation this time).
    pub from_cache: bool,
}

/// Everything a guest call can reach.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    pub(crate) capabilities: Capabilities,
    /// The account whose state key space this run may use.
    pub(crate) namespace: String,
}

impl crate::bindings::types::Host for HostState {}

impl HostState {
    /// Before a write batch to Rock or PCO: whether the run still holds its lock (one read of
    /// the lock's holder). A run that lost it is stopped here, with a trap, so that it writes
    /// nothing more anywhere, not only to the state (issue 24 item 13, R80).
    pub(crate) fn fenced(&self) -> wasmtime::Result<()> {
        match self.capabilities.state.fence() {
            Ok(()) => Ok(()),
            Err(lost) => {
                tracing::error!("{lost}");
                Err(LostLock(lost.0).into())
            }
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps the guest's memory and remembers whether the cap was hit, so a failed allocation is
/// reported as what it is rather than as a generic crash.
struct MemoryLimiter {
    limit: usize,
    hit: bool,
    /// The largest memory the guest reached.
    peak: usize,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.limit;
        self.hit |= !allowed;
        if allowed {
            self.peak = self.peak.max(desired);
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    limits: Limits,
    last_usage: std::sync::Mutex<Option<Usage>>,
}

/// What one guest call used of its [`Limits`], to see the headroom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// Fuel burnt (about wasm instructions executed).
    pub fuel: u64,
    /// The largest linear memory the guest reached, in bytes.
    pub peak_memory_bytes: usize,
    /// Wall-clock time of the call, host calls included.
    pub wall_time: Duration,
}

impl Runtime {
    pub fn new(limits: Limits) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config.consume_fuel(true);
        let engine = Engine::new(&config)?;

        let mut linker = Linker::new(&engine);
        // A wasip2 std guest imports WASI for its runtime even when it never uses it. The
        // context built per run grants nothing: no files, no sockets, no environment.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;
        Ok(Runtime {
            engine,
            linker,
            limits,
            last_usage: std::sync::Mutex::new(None),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// What the last guest call of this runtime used (with calls running at once, one of
    /// them).
    pub fn last_usage(&self) -> Option<Usage> {
        *self
            .last_usage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Compiles (or loads from `cache`) and checks a component; see the module docs.
    pub async fn load(
        &self,
        wasm: &[u8],
        cache: Option<&CompileCache>,
    ) -> Result<Guest, LoadError> {
        let digest = hex::encode(Sha256::digest(wasm));
        let (component, from_cache) = self.compile(wasm, &digest, cache)?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::WrongShape(e.into()))?;
        let pre = PluginPre::new(instance_pre).map_err(|e| LoadError::WrongShape(e.into()))?;
        let mut guest = Guest {
            pre,
            digest,
            contract_version: String::new(),
            from_cache,
        };
        let version = self
            .contract_version(&guest)
            .await
            .map_err(|e| LoadError::SelfCheck(e.to_string()))?;
        if !accepts(&version) {
            return Err(LoadError::WrongVersion { found: version });
        }
        self.call(
            &guest,
            &null_capabilities(),
            "",
            Access::ReadOnly,
            Vec::new(),
            |plugin, store| {
                Box::pin(async move { plugin.rockpco_sync_engine().call_self_check(store).await })
            },
        )
        .await
        .map_err(|e| LoadError::SelfCheck(e.to_string()))?
        .map_err(|e| LoadError::SelfCheck(e.to_string()))?;
        guest.contract_version = version;
        Ok(guest)
    }

    fn compile(
        &self,
        wasm: &[u8],
        digest: &str,
        cache: Option<&CompileCache>,
    ) -> Result<(Component, bool), LoadError> {
        if let Some(component) = cache.and_then(|c| c.get(&self.engine, digest)) {
            return Ok((component, true));
        }
        let component =
            Component::new(&self.engine, wasm).map_err(|e| LoadError::NotAComponent(e.into()))?;
        if let Some(cache) = cache {
            // A cache that cannot be written costs the next start a compilation, nothing more.
            if let Err(error) = cache.put(&self.engine, digest, &component) {
                tracing::warn!("could not cache the compiled component: {error:#}");
            }
        }
        Ok((component, false))
    }

    /// Asks a loaded guest its contract version: one instantiation and the smallest call
    /// there is (what a run pays before it does anything).
    pub async fn contract_version(&self, guest: &Guest) -> Result<String, RunError> {
        self.call(
            guest,
            &null_capabilities(),
            "",
            Access::ReadOnly,
            Vec::new(),
            |plugin, store| {
                Box::pin(async move {
                    plugin
                        .rockpco_sync_engine()
                        .call_contract_version(store)
                        .await
                })
            },
        )
        .await
    }

    /// One sync run of `account` (or its dry run).
    pub async fn sync(
        &self,
        guest: &Guest,
        capabilities: &Capabilities,
        account: &Account,
        options: &SyncOptions,
    ) -> Result<Report, RunError> {
        let (name, guest_account, guest_options) =
            (account.name.clone(), account.clone(), options.clone());
        let report = self
            .call(
                guest,
                capabilities,
                &name,
                Access::read_only_if(options.dry_run),
                tag_groups(account),
                move |plugin, store| {
                    Box::pin(async move {
                        plugin
                            .rockpco_sync_engine()
                            .call_sync(store, &guest_account, &guest_options)
                            .await
                    })
                },
            )
            .await?
            .map_err(RunError::Guest)?;
        forget_the_archived(capabilities, &name, &report);
        Ok(report)
    }

    /// Runs one export call in a fresh store, inside the limits, and classifies how it ended.
    async fn call<T, F>(
        &self,
        guest: &Guest,
        capabilities: &Capabilities,
        namespace: &str,
        access: Access,
        groups: Vec<i64>,
        body: F,
    ) -> Result<T, RunError>
    where
        F: for<'a> FnOnce(
            &'a Plugin,
            &'a mut Store<HostState>,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = wasmtime::Result<T>> + Send + 'a>,
        >,
    {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let capabilities = scope::scoped(capabilities, namespace, access, &groups);
        let mut store = self.new_store(capabilities, namespace, stderr.clone());
        let started = Instant::now();
        let outcome = {
            let run = async {
                match guest.pre.instantiate_async(&mut store).await {
                    Ok(plugin) => body(&plugin, &mut store).await,
                    Err(error) => Err(error),
                }
            };
            // A timer of its own ends the call at its deadline, whatever the guest is doing:
            // computing (it yields to the executor every YIELD_FUEL, where the call is dropped),
            // asleep, or waiting on a host call that does not answer. Dropping the call stops the
            // guest; its store goes with it.
            let deadline = started.checked_add(self.limits.wall_time);
            let alarm = Alarm::set(self.limits.wall_time);
            let mut run = std::pin::pin!(run);
            std::future::poll_fn(|cx| {
                if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    return std::task::Poll::Ready(None);
                }
                alarm.wake_at_deadline(cx.waker());
                run.as_mut().poll(cx).map(Some)
            })
            .await
        };
        forward_stderr(&stderr);
        let usage = Usage {
            fuel: self
                .limits
                .fuel
                .saturating_sub(store.get_fuel().unwrap_or(0)),
            peak_memory_bytes: store.data().limiter.peak,
            wall_time: started.elapsed(),
        };
        *self
            .last_usage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(usage);
        match outcome {
            Some(outcome) => outcome.map_err(|error| self.classify(error, &store, started)),
            None => Err(RunError::TimeLimit(started.elapsed())),
        }
    }

    fn new_store(
        &self,
        capabilities: Capabilities,
        namespace: &str,
        stderr: MemoryOutputPipe,
    ) -> Store<HostState> {
        let wasi = WasiCtx::builder().stderr(stderr).build();
        let state = HostState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                limit: self.limits.memory_bytes,
                hit: false,
                peak: 0,
            },
            capabilities,
            namespace: namespace.to_string(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        // Fuel is on and set before any guest code runs, so these cannot fail.
        let _ = store.set_fuel(self.limits.fuel);
        let _ = store.fuel_async_yield_interval(Some(YIELD_FUEL));
        store
    }

    fn classify(
        &self,
        error: wasmtime::Error,
        store: &Store<HostState>,
        started: Instant,
    ) -> RunError {
        if store.data().limiter.hit {
            return RunError::MemoryLimit {
                limit: self.limits.memory_bytes,
            };
        }
        if let Some(lost) = error.downcast_ref::<LostLock>() {
            return RunError::LostLock(lost.0.clone());
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => RunError::CpuLimit {
                fuel: self.limits.fuel,
            },
            Some(Trap::Interrupt) => RunError::TimeLimit(started.elapsed()),
            Some(trap) => RunError::Trap(trap.to_string()),
            None => RunError::Host(anyhow::Error::from(error)),
        }
    }
}

/// A timer thread of one guest call: at the deadline it wakes the call's task, which then
/// finds itself overdue and stops the guest, even when nothing else would poll it (the guest
/// asleep, a host call that does not answer). Needs no timer of the async runtime, so a call
/// runs the same on any executor. Dropped with the call, it ends its thread.
struct Alarm {
    waker: Arc<std::sync::Mutex<Option<std::task::Waker>>>,
    _stop: std::sync::mpsc::Sender<()>,
}

impl Alarm {
    fn set(after: Duration) -> Alarm {
        let waker: Arc<std::sync::Mutex<Option<std::task::Waker>>> = Arc::default();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let shared = waker.clone();
        let spawned = std::thread::Builder::new()
            .name("pcosync-deadline".into())
            .spawn(move || {
                if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(after)
                    && let Some(waker) = shared.lock().unwrap_or_else(|p| p.into_inner()).take()
                {
                    waker.wake();
                }
            });
        if let Err(error) = spawned {
            tracing::warn!("cannot start the guest's deadline timer: {error}");
        }
        Alarm { waker, _stop: stop }
    }

    fn wake_at_deadline(&self, waker: &std::task::Waker) {
        let mut slot = self.waker.lock().unwrap_or_else(|p| p.into_inner());
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }
}

/// After a sync: the people it archived keep no saved values in the state (issue 24 item
/// 19e, R53; see [`crate::state::forget`]). A failure costs nothing but the forgetting, which
/// the next archive of someone tries again: it is logged, and the run stands.
fn forget_the_archived(capabilities: &Capabilities, account: &str, report: &Report) {
    match crate::state::forget::forget_archived(capabilities.state.as_ref(), account, report) {
        Ok(0) => {}
        Ok(count) => tracing::info!(
            "account \"{account}\": the saved values of {count} archived people were removed from the state"
        ),
        Err(error) => tracing::warn!(
            "account \"{account}\": the saved values of the people this run archived could not be removed: {error}"
        ),
    }
}

/// The Rock groups the account's configuration maps to tags: a call of the account may add
/// members to them ([`scope`]).
fn tag_groups(account: &Account) -> Vec<i64> {
    account.tag_groups.iter().map(|t| t.group_id).collect()
}

/// Whether this host speaks `version` (same major, or same minor below 1.0, as semver says).
pub fn accepts(version: &str) -> bool {
    version == ACCEPTED_CONTRACT
        || version
            .strip_prefix(ACCEPTED_CONTRACT)
            .is_some_and(|rest| rest.starts_with('.'))
}

fn forward_stderr(stderr: &MemoryOutputPipe) {
    let contents = stderr.contents();
    for line in String::from_utf8_lossy(&contents).lines() {
        let line = crate::ops::text::printable(line);
        tracing::warn!(target: "guest", "stderr: {line}");
    }
}

/// Capabilities for calls that must not reach anything (version and self-check).
fn null_capabilities() -> Capabilities {
    use crate::testing::{Unreachable, silent};
    Capabilities {
        rock: Arc::new(Unreachable),
        pco: Arc::new(Unreachable),
        state: Arc::new(crate::state::memory::MemoryState::default()),
        reporter: silent(),
    }
}

#[cfg(test)]
mod tests {
    use super::accepts;

    #[test]
    fn accepts_only_its_own_contract_line() {
        assert!(accepts("0.3"));
        assert!(accepts("0.3.0"));
        assert!(accepts("0.3.7"));
        assert!(!accepts("0.2.0"));
        assert!(!accepts("0.4.0"));
        assert!(!accepts("0.30.0"));
        assert!(!accepts("1.0.0"));
        assert!(!accepts(""));
    }
}
