//! One run of an account at a time, across threads, processes and hosts: a lock kept in the
//! state itself (for SQLite, a `locks` table in the same file), so a cron job, the daemon and
//! an administrator's one-shot `pcosync sync` cannot overlap whatever started them.
//!
//! - A lock names its holder (process id, host name, command) and when it took the lock.
//! - Taking it is one transaction: read the holder, take over only a free or abandoned lock.
//! - The holder's guard refreshes a heartbeat every [`LockTiming::heartbeat`]. A lock whose
//!   heartbeat is older than [`LockTiming::stale_after`] is abandoned (its holder was killed,
//!   or its host died), and so is a lock held by a process of this same host that no longer
//!   exists: a SIGKILLed holder never blocks the account for good.
//! - Dropping the guard releases the lock.
//! - Every acquisition gets a fencing token: a counter per resource, one higher at each
//!   acquisition. A run's state commits go through [`FencedState`], which refuses a commit
//!   unless its token still holds the lock, in the same transaction as the writes: a holder
//!   whose lock was taken over (it stalled past `stale_after`, and another process took over)
//!   cannot write any more, whatever it believes. Its writes to Rock and PCO are fenced too:
//!   the host reads the holder before each write batch the guest asks for
//!   ([`StateStore::fence`]) and stops the run when the lock is gone.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::{StateError, StateStore};
use crate::bindings::state::{Entry, Write};

/// The lock of an account's runs.
pub fn account_resource(account: &str) -> String {
    format!("account/{account}")
}

/// The lock of the installed-components manifest (`pcosync plugin install`, `rollback`).
pub const PLUGINS_RESOURCE: &str = "plugins";

/// How often a holder proves it is alive, and when a silent holder is taken over.
#[derive(Clone, Copy, Debug)]
pub struct LockTiming {
    pub heartbeat: Duration,
    pub stale_after: Duration,
}

impl Default for LockTiming {
    /// A heartbeat every 15 s; abandoned after 2 minutes without one (eight missed beats, so a
    /// busy machine or a slow disk does not lose a live holder its lock).
    fn default() -> Self {
        LockTiming {
            heartbeat: Duration::from_secs(15),
            stale_after: Duration::from_secs(120),
        }
    }
}

/// Who asks for a lock.
#[derive(Clone, Debug)]
pub struct Owner {
    pub pid: u32,
    pub host: String,
    /// What holds it, for the message another process shows: "pcosync sync", "pcosync run".
    pub command: String,
    /// Unique to one acquisition: only the guard that took a lock refreshes or releases it.
    pub token: String,
}

impl Owner {
    pub fn this_process(command: &str) -> Owner {
        Owner {
            pid: std::process::id(),
            host: host_name(),
            command: command.to_string(),
            token: format!("{:032x}", rand::random::<u128>()),
        }
    }
}

/// Who holds a lock, and since when (Unix seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub command: String,
    pub token: String,
    pub since: i64,
    pub heartbeat: i64,
    /// The fencing token of this acquisition.
    pub fence: i64,
}

/// What a holder proves when it commits: the lock it took, its acquisition and its fencing
/// token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    pub resource: String,
    pub token: String,
    pub number: i64,
}

impl Fence {
    /// Whether this fence still holds the lock that `holder` (if any) has now.
    fn holds(&self, holder: Option<&Holder>) -> bool {
        holder.is_some_and(|h| h.token == self.token && h.fence == self.number)
    }

    /// The refusal of a commit by a holder who lost the lock.
    fn refused(&self, holder: Option<&Holder>) -> StateError {
        self.lost(
            holder,
            "so its commit was refused and nothing of it was written",
        )
    }

    /// Why a holder who lost the lock is stopped before its next write to Rock or PCO.
    fn stopped(&self, holder: Option<&Holder>) -> StateError {
        self.lost(
            holder,
            "so it was stopped before its next write to Rock or PCO",
        )
    }

    fn lost(&self, holder: Option<&Holder>, outcome: &str) -> StateError {
        let now = match holder {
            Some(holder) => format!(
                "`{}` (pid {} on host {}) holds it now, with fencing token {}",
                holder.command, holder.pid, holder.host, holder.fence
            ),
            None => "nobody holds it now".to_string(),
        };
        StateError(format!(
            "this run lost the lock of {} (fencing token {}; {now}), {outcome}: it stalled for \
             longer than the lock's stale limit and another process took over. Run again once \
             the other run has finished",
            self.resource, self.number
        ))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{}", held_message(.resource, .holder, .stale_after))]
    Held {
        resource: String,
        holder: Box<Holder>,
        stale_after: Duration,
    },
    #[error("cannot take the lock of {resource}: {source}")]
    Store {
        resource: String,
        source: StateError,
    },
}

fn held_message(resource: &str, holder: &Holder, stale_after: &Duration) -> String {
    let what = match resource.strip_prefix("account/") {
        Some(account) => format!("account \"{account}\" is being synced by another process"),
        None => format!("{resource} is in use by another process"),
    };
    let beat = now().saturating_sub(holder.heartbeat);
    format!(
        "{what}: `{}` (pid {} on host {}) has held it since {} (last heartbeat {beat} s ago). \
         Nothing was run. Wait for it to finish and try again; a holder that stops sending \
         heartbeats for {} s (killed, or its host down) is taken over automatically",
        holder.command,
        holder.pid,
        holder.host,
        rfc3339(holder.since),
        stale_after.as_secs()
    )
}

/// A backend that keeps locks (SQLite, memory; a shared database for a fleet).
pub trait Locks: Send + Sync {
    /// Takes `resource` for `owner` unless someone else holds it and is not [`abandoned`], and
    /// answers the acquisition's fencing token (higher than any before it for `resource`).
    /// Atomic: of two processes asking at once, one gets the lock and the other is told who.
    fn try_lock(
        &self,
        resource: &str,
        owner: &Owner,
        now: i64,
        stale_after: Duration,
    ) -> Result<i64, LockError>;
    /// Applies `writes` to `namespace` of this backend's own state, all or none, only while
    /// `fence` holds its lock: the check and the writes are one transaction.
    fn commit_fenced(
        &self,
        fence: &Fence,
        namespace: &str,
        writes: &[Write],
    ) -> Result<(), StateError>;
    /// Refreshes the heartbeat; false when `token` no longer holds the lock.
    fn heartbeat(&self, resource: &str, token: &str, now: i64) -> Result<bool, StateError>;
    /// Releases the lock if `token` holds it.
    fn unlock(&self, resource: &str, token: &str) -> Result<(), StateError>;
    fn holder(&self, resource: &str) -> Result<Option<Holder>, StateError>;
}

/// Whether `owner` may take over a lock `holder` has: its heartbeat is too old, or its process
/// is gone from this very host.
pub fn abandoned(holder: &Holder, owner: &Owner, now: i64, stale_after: Duration) -> bool {
    if holder.token == owner.token {
        return true;
    }
    if now.saturating_sub(holder.heartbeat) > stale_after.as_secs() as i64 {
        return true;
    }
    holder.host == owner.host && process_alive(holder.pid) == Some(false)
}

/// Holds a lock until dropped, refreshing its heartbeat on a thread of its own (so a guest
/// busy computing, or a blocked async runtime, cannot make a live holder look dead).
pub struct LockGuard {
    locks: Arc<dyn Locks>,
    resource: String,
    token: String,
    fence: i64,
    stop: Option<mpsc::Sender<()>>,
    beating: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// Takes `resource` for this process (as `command`) with the default timing.
pub fn acquire(
    locks: Arc<dyn Locks>,
    resource: &str,
    command: &str,
) -> Result<LockGuard, LockError> {
    acquire_with(locks, resource, command, LockTiming::default())
}

pub fn acquire_with(
    locks: Arc<dyn Locks>,
    resource: &str,
    command: &str,
    timing: LockTiming,
) -> Result<LockGuard, LockError> {
    let owner = Owner::this_process(command);
    let fence = locks.try_lock(resource, &owner, now(), timing.stale_after)?;
    let (stop, stopped) = mpsc::channel::<()>();
    let beating = {
        let (locks, resource, token) = (locks.clone(), resource.to_string(), owner.token.clone());
        std::thread::Builder::new()
            .name("pcosync-lock".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(timing.heartbeat)
                {
                    match locks.heartbeat(&resource, &token, now()) {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::error!(
                                "the lock of {resource} was taken over by another process \
                                 (this one missed its heartbeats for too long)"
                            );
                            return;
                        }
                        Err(error) => {
                            tracing::warn!("cannot refresh the lock of {resource}: {error}")
                        }
                    }
                }
            })
            .ok()
    };
    Ok(LockGuard {
        locks,
        resource: resource.to_string(),
        token: owner.token,
        fence,
        stop: Some(stop),
        beating,
    })
}

impl LockGuard {
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// What this holder's commits prove.
    pub fn fence(&self) -> Fence {
        Fence {
            resource: self.resource.clone(),
            token: self.token.clone(),
            number: self.fence,
        }
    }

    /// `state`, whose commits are refused once this guard no longer holds its lock.
    pub fn fenced(&self, state: Arc<dyn StateStore>) -> Arc<dyn StateStore> {
        Arc::new(FencedState {
            state,
            locks: self.locks.clone(),
            fence: self.fence(),
        })
    }
}

/// A run's state: reads pass through, commits are refused unless the run's [`Fence`] still
/// holds the lock.
pub struct FencedState {
    state: Arc<dyn StateStore>,
    locks: Arc<dyn Locks>,
    fence: Fence,
}

impl FencedState {
    /// Whether the state and the locks are one backend, so that the check and the writes can be
    /// one transaction.
    fn one_backend(&self) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.state), Arc::as_ptr(&self.locks))
    }
}

impl StateStore for FencedState {
    fn get(&self, namespace: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StateError> {
        self.state.get(namespace, keys)
    }

    fn scan(
        &self,
        namespace: &str,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Entry>, StateError> {
        self.state.scan(namespace, prefix, after, limit)
    }

    fn count(&self, namespace: &str, prefix: &str) -> Result<usize, StateError> {
        self.state.count(namespace, prefix)
    }

    /// One read of the lock's holder: what the host checks before each write batch the guest
    /// asks of Rock or PCO (issue 24 item 13), so a run that lost its lock stops writing
    /// there too, not only to the state.
    fn fence(&self) -> Result<(), StateError> {
        let holder = self.locks.holder(&self.fence.resource)?;
        if !self.fence.holds(holder.as_ref()) {
            return Err(self.fence.stopped(holder.as_ref()));
        }
        self.state.fence()
    }

    fn commit(&self, namespace: &str, writes: &[Write]) -> Result<(), StateError> {
        if self.one_backend() {
            return self.locks.commit_fenced(&self.fence, namespace, writes);
        }
        // State kept apart from the locks (tests that give the state in memory): checked just
        // before, which still stops a holder that lost its lock at its next commit.
        let holder = self.locks.holder(&self.fence.resource)?;
        if !self.fence.holds(holder.as_ref()) {
            return Err(self.fence.refused(holder.as_ref()));
        }
        self.state.commit(namespace, writes)
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.beating.take() {
            let _ = thread.join();
        }
        if let Err(error) = self.locks.unlock(&self.resource, &self.token) {
            tracing::warn!(
                "cannot release the lock of {} (it is taken over once stale): {error}",
                self.resource
            );
        }
    }
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

pub fn host_name() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// Whether process `pid` of this host exists: `None` when this system cannot tell (no /proc).
fn process_alive(pid: u32) -> Option<bool> {
    let proc = cap_std::fs::Dir::open_ambient_dir("/proc", cap_std::ambient_authority()).ok()?;
    // /proc/self exists wherever /proc is a real procfs.
    if !proc.exists("self") {
        return None;
    }
    Some(proc.exists(pid.to_string()))
}

// ---- Backends --------------------------------------------------------------------------------

const SELECT_HOLDER: &str = "SELECT l.pid, l.host, l.command, l.token, l.since, l.heartbeat,
            COALESCE(f.fence, 0)
     FROM locks l LEFT JOIN lock_fences f ON f.resource = l.resource
     WHERE l.resource = ?1";

fn sqlite_holder(
    connection: &rusqlite::Connection,
    resource: &str,
) -> Result<Option<Holder>, rusqlite::Error> {
    use rusqlite::OptionalExtension;
    connection
        .query_row(SELECT_HOLDER, rusqlite::params![resource], |row| {
            Ok(Holder {
                pid: row.get(0)?,
                host: row.get(1)?,
                command: row.get(2)?,
                token: row.get(3)?,
                since: row.get(4)?,
                heartbeat: row.get(5)?,
                fence: row.get(6)?,
            })
        })
        .optional()
}

impl Locks for super::sqlite::SqliteState {
    fn try_lock(
        &self,
        resource: &str,
        owner: &Owner,
        now: i64,
        stale_after: Duration,
    ) -> Result<i64, LockError> {
        use rusqlite::{TransactionBehavior, params};
        let store = |source: StateError| LockError::Store {
            resource: resource.to_string(),
            source,
        };
        self.with_connection(|connection| {
            // IMMEDIATE: the write lock is taken before reading, so two processes cannot both
            // see the lock free.
            let transaction =
                connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some(holder) = sqlite_holder(&transaction, resource)?
                && !abandoned(&holder, owner, now, stale_after)
            {
                return Ok(Err(holder));
            }
            transaction.execute(
                "INSERT INTO locks (resource, pid, host, command, token, since, heartbeat)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
                 ON CONFLICT (resource) DO UPDATE SET pid = excluded.pid, host = excluded.host,
                   command = excluded.command, token = excluded.token, since = excluded.since,
                   heartbeat = excluded.heartbeat",
                params![
                    resource,
                    owner.pid,
                    owner.host,
                    owner.command,
                    owner.token,
                    now
                ],
            )?;
            // Kept when the lock is released, so the counter only ever grows.
            let fence: i64 = transaction.query_row(
                "INSERT INTO lock_fences (resource, fence) VALUES (?1, 1)
                 ON CONFLICT (resource) DO UPDATE SET fence = fence + 1
                 RETURNING fence",
                params![resource],
                |row| row.get(0),
            )?;
            transaction.commit()?;
            Ok(Ok(fence))
        })
        .map_err(store)?
        .map_err(|holder| LockError::Held {
            resource: resource.to_string(),
            holder: Box::new(holder),
            stale_after,
        })
    }

    fn commit_fenced(
        &self,
        fence: &Fence,
        namespace: &str,
        writes: &[Write],
    ) -> Result<(), StateError> {
        let refused = self.with_connection(|connection| {
            // IMMEDIATE: no takeover can slip between the check and the writes.
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let holder = sqlite_holder(&transaction, &fence.resource)?;
            if !fence.holds(holder.as_ref()) {
                return Ok(Some(holder));
            }
            super::sqlite::apply(&transaction, namespace, writes)?;
            transaction.commit()?;
            Ok(None)
        })?;
        match refused {
            Some(holder) => Err(fence.refused(holder.as_ref())),
            None => Ok(()),
        }
    }

    fn heartbeat(&self, resource: &str, token: &str, now: i64) -> Result<bool, StateError> {
        self.with_connection(|connection| {
            let changed = connection.execute(
                "UPDATE locks SET heartbeat = ?3 WHERE resource = ?1 AND token = ?2",
                rusqlite::params![resource, token, now],
            )?;
            Ok(changed == 1)
        })
    }

    fn unlock(&self, resource: &str, token: &str) -> Result<(), StateError> {
        self.with_connection(|connection| {
            connection.execute(
                "DELETE FROM locks WHERE resource = ?1 AND token = ?2",
                rusqlite::params![resource, token],
            )?;
            Ok(())
        })
    }

    fn holder(&self, resource: &str) -> Result<Option<Holder>, StateError> {
        self.with_connection(|connection| sqlite_holder(connection, resource))
    }
}

impl Locks for super::memory::MemoryState {
    fn try_lock(
        &self,
        resource: &str,
        owner: &Owner,
        now: i64,
        stale_after: Duration,
    ) -> Result<i64, LockError> {
        let mut locks = self.locks();
        if let Some(holder) = locks.holders.get(resource)
            && !abandoned(holder, owner, now, stale_after)
        {
            return Err(LockError::Held {
                resource: resource.to_string(),
                holder: Box::new(holder.clone()),
                stale_after,
            });
        }
        let fence = {
            let counter = locks.fences.entry(resource.to_string()).or_insert(0);
            *counter += 1;
            *counter
        };
        locks.holders.insert(
            resource.to_string(),
            Holder {
                pid: owner.pid,
                host: owner.host.clone(),
                command: owner.command.clone(),
                token: owner.token.clone(),
                since: now,
                heartbeat: now,
                fence,
            },
        );
        Ok(fence)
    }

    fn commit_fenced(
        &self,
        fence: &Fence,
        namespace: &str,
        writes: &[Write],
    ) -> Result<(), StateError> {
        // The locks stay locked through the commit: no takeover in between.
        let locks = self.locks();
        let holder = locks.holders.get(&fence.resource);
        if !fence.holds(holder) {
            return Err(fence.refused(holder));
        }
        self.commit(namespace, writes)
    }

    fn heartbeat(&self, resource: &str, token: &str, now: i64) -> Result<bool, StateError> {
        let mut locks = self.locks();
        Ok(match locks.holders.get_mut(resource) {
            Some(holder) if holder.token == token => {
                holder.heartbeat = now;
                true
            }
            _ => false,
        })
    }

    fn unlock(&self, resource: &str, token: &str) -> Result<(), StateError> {
        let mut locks = self.locks();
        if locks
            .holders
            .get(resource)
            .is_some_and(|h| h.token == token)
        {
            locks.holders.remove(resource);
        }
        Ok(())
    }

    fn holder(&self, resource: &str) -> Result<Option<Holder>, StateError> {
        Ok(self.locks().holders.get(resource).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::memory::MemoryState;
    use crate::state::sqlite::SqliteState;

    fn backends() -> Vec<(&'static str, Arc<dyn Locks>)> {
        vec![
            ("sqlite", Arc::new(SqliteState::in_memory().unwrap())),
            ("memory", Arc::new(MemoryState::default())),
        ]
    }

    fn other(host: &str, pid: u32) -> Owner {
        Owner {
            pid,
            host: host.into(),
            command: "pcosync sync".into(),
            token: format!("other-{host}-{pid}"),
        }
    }

    #[test]
    fn a_held_lock_refuses_a_second_holder_and_says_who_holds_it() {
        for (name, locks) in backends() {
            let guard = acquire(locks.clone(), &account_resource("Main"), "pcosync run").unwrap();
            let error = acquire(locks.clone(), &account_resource("Main"), "pcosync sync")
                .unwrap_err()
                .to_string();
            assert!(error.contains("account \"Main\""), "{name}: {error}");
            assert!(
                error.contains(&format!("pid {}", std::process::id())),
                "{name}: {error}"
            );
            assert!(error.contains("`pcosync run`"), "{name}: {error}");
            assert!(error.contains("since 20"), "{name}: {error}");
            // Another account is free.
            let _north = acquire(locks.clone(), &account_resource("North"), "x").unwrap();
            drop(guard);
            assert!(
                acquire(locks.clone(), &account_resource("Main"), "pcosync sync").is_ok(),
                "{name}: released on drop"
            );
        }
    }

    #[test]
    fn an_abandoned_lock_is_taken_over_and_a_live_one_is_not() {
        for (name, locks) in backends() {
            let stale = Duration::from_secs(120);
            let remote = other("elsewhere.example", 4242);
            locks.try_lock("r", &remote, 1_000, stale).unwrap();
            let me = Owner::this_process("pcosync sync");
            // A remote holder with a fresh heartbeat keeps it.
            assert!(
                matches!(
                    locks.try_lock("r", &me, 1_100, stale),
                    Err(LockError::Held { .. })
                ),
                "{name}"
            );
            assert!(locks.heartbeat("r", &remote.token, 1_100).unwrap());
            assert!(locks.try_lock("r", &me, 1_200, stale).is_err(), "{name}");
            // Silent for longer than stale_after: taken over, and the old holder knows it.
            locks.try_lock("r", &me, 1_221, stale).unwrap();
            assert_eq!(locks.holder("r").unwrap().unwrap().token, me.token);
            assert!(
                !locks.heartbeat("r", &remote.token, 1_222).unwrap(),
                "{name}"
            );
            // Its release does not free the new holder's lock.
            locks.unlock("r", &remote.token).unwrap();
            assert!(locks.holder("r").unwrap().is_some(), "{name}");
        }
    }

    #[test]
    fn a_lock_of_a_dead_process_on_this_host_is_taken_over_at_once() {
        if process_alive(std::process::id()) != Some(true) {
            return; // no /proc: only the heartbeat rule applies
        }
        for (name, locks) in backends() {
            let stale = Duration::from_secs(120);
            // pid_max is at most 2^22 on Linux: this pid cannot exist.
            let dead = other(&host_name(), (1 << 22) + 7);
            locks.try_lock("r", &dead, now(), stale).unwrap();
            let alive = other(&host_name(), std::process::id());
            let me = Owner::this_process("pcosync sync");
            locks.try_lock("r", &me, now(), stale).unwrap();
            assert_eq!(
                locks.holder("r").unwrap().unwrap().token,
                me.token,
                "{name}"
            );
            // A live process of this host keeps its lock.
            locks.unlock("r", &me.token).unwrap();
            locks.try_lock("r", &alive, now(), stale).unwrap();
            assert!(locks.try_lock("r", &me, now(), stale).is_err(), "{name}");
        }
    }

    #[test]
    fn the_guard_keeps_its_lock_alive_with_heartbeats() {
        let locks: Arc<dyn Locks> = Arc::new(MemoryState::default());
        let timing = LockTiming {
            heartbeat: Duration::from_millis(20),
            stale_after: Duration::from_secs(1),
        };
        let guard = acquire_with(locks.clone(), "r", "pcosync run", timing).unwrap();
        let first = locks.holder("r").unwrap().unwrap();
        // Pretend the lock is old; the heartbeat thread brings it back to now.
        let token = first.token.clone();
        locks.heartbeat("r", &token, 0).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let beat = locks.holder("r").unwrap().unwrap().heartbeat;
        assert!(beat >= now() - 1, "heartbeat {beat}");
        drop(guard);
        assert!(locks.holder("r").unwrap().is_none());
    }

    fn put(key: &str) -> Write {
        Write::Put(Entry {
            key: key.into(),
            value: b"v".to_vec(),
        })
    }

    /// R6, R20: a holder that stalled past the stale limit and was taken over cannot write;
    /// the new holder can. Over one SQLite file from two connections (two processes), and in
    /// memory.
    #[test]
    fn a_stale_holders_commit_is_refused_once_its_lock_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let first_file = Arc::new(SqliteState::open(&path).unwrap());
        let second_file = Arc::new(SqliteState::open(&path).unwrap());
        let memory = Arc::new(MemoryState::default());
        type Pair = (
            &'static str,
            Arc<dyn Locks>,
            Arc<dyn Locks>,
            Arc<dyn StateStore>,
        );
        let pairs: [Pair; 2] = [
            (
                "sqlite",
                first_file.clone(),
                second_file.clone(),
                first_file,
            ),
            ("memory", memory.clone(), memory.clone(), memory),
        ];
        let slow = LockTiming {
            heartbeat: Duration::from_secs(3600),
            stale_after: Duration::from_secs(120),
        };
        for (name, first, second, state) in pairs {
            let resource = account_resource("Main");
            let stale = acquire_with(first.clone(), &resource, "pcosync run", slow).unwrap();
            let stale_state = stale.fenced(state.clone());
            stale_state.commit("Main", &[put("before")]).unwrap();
            // It stalls: its last heartbeat is long past.
            assert!(first.heartbeat(&resource, &stale.fence().token, 0).unwrap());
            let fresh = acquire_with(second.clone(), &resource, "pcosync sync", slow).unwrap();
            assert!(fresh.fence().number > stale.fence().number, "{name}");
            let error = stale_state
                .commit("Main", &[put("after takeover")])
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("lost the lock of account/Main"),
                "{name}: {error}"
            );
            assert!(error.contains("`pcosync sync`"), "{name}: {error}");
            fresh
                .fenced(state.clone())
                .commit("Main", &[put("new holder")])
                .unwrap();
            let keys: Vec<String> = ["before", "after takeover", "new holder"]
                .map(String::from)
                .to_vec();
            let found = state.get("Main", &keys).unwrap();
            assert!(found[0].is_some() && found[2].is_some(), "{name}");
            assert!(
                found[1].is_none(),
                "{name}: the stale holder's write was refused"
            );
            // Released, the counter still grows: the next holder's token is higher again.
            let number = fresh.fence().number;
            drop(fresh);
            drop(stale);
            let next = acquire_with(second, &resource, "pcosync sync", slow).unwrap();
            assert!(next.fence().number > number, "{name}");
        }
    }

    #[test]
    fn two_connections_to_one_file_exclude_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let first: Arc<dyn Locks> = Arc::new(SqliteState::open(&path).unwrap());
        let second: Arc<dyn Locks> = Arc::new(SqliteState::open(&path).unwrap());
        let resource = account_resource("Main");
        let guard = acquire(first, &resource, "pcosync run").unwrap();
        assert!(matches!(
            acquire(second.clone(), &resource, "pcosync sync"),
            Err(LockError::Held { .. })
        ));
        drop(guard);
        acquire(second, &resource, "pcosync sync").unwrap();
    }
}
