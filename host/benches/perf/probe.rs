//! Clocks, memory, and a timeline of every call the guest makes into the host's capabilities.
//!
//! The capabilities are wrapped ([`timed`]) so that each call records the calling thread's CPU
//! clock before and after it. The sync runs on one thread (a current-thread tokio runtime,
//! whose tasks include the HTTP client's), so the CPU between the end of one call and the start
//! of the next is the guest's own work (for the wasm guest: its code, the copies across the
//! boundary and wasmtime's bookkeeping), and the CPU inside a call is the host's.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use pcosync::Capabilities;
use pcosync::bindings::log::Level;
use pcosync::bindings::pco::{Request, Response};
use pcosync::bindings::rock::{
    GonePerson, Group, Membership, Merge, NewPerson, Person, PersonQuery, PersonTags, PersonUpdate,
    Photo,
};
use pcosync::bindings::state::{Entry, Write};
use pcosync::bindings::types::Error;
use pcosync::log::Reporter;
use pcosync::pco::Pco;
use pcosync::rock::Rock;
use pcosync::state::{StateError, StateStore};

/// CPU time of the calling thread, in seconds (nanosecond resolution).
pub fn thread_cpu() -> f64 {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn clock(id: libc::clockid_t) -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(id, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// getrusage(RUSAGE_SELF): user + system CPU seconds, and ru_maxrss in MiB.
pub fn rusage() -> (f64, f64) {
    // SAFETY: an all-zero rusage is valid, and getrusage only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    (
        seconds(usage.ru_utime) + seconds(usage.ru_stime),
        usage.ru_maxrss as f64 / 1024.0,
    )
}

/// Resets the process's peak resident set (Linux `clear_refs` 5), so that [`peak_rss_mib`]
/// measures one phase; false where that is not possible (then the peak is since start).
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The peak resident set since the last [`reset_peak_rss`] (VmHWM), in MiB; ru_maxrss where
/// /proc is missing.
pub fn peak_rss_mib() -> f64 {
    status_kib("VmHWM:").map_or_else(|| rusage().1, |kib| kib / 1024.0)
}

/// The resident set now (VmRSS), in MiB.
pub fn rss_mib() -> f64 {
    status_kib("VmRSS:").unwrap_or(0.0) / 1024.0
}

fn status_kib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// One capability call as the sync thread saw it.
#[derive(Clone, Debug)]
pub struct Event {
    pub what: Cow<'static, str>,
    pub cpu_start: f64,
    pub cpu_end: f64,
    pub wall_start: Instant,
    pub wall_end: Instant,
    /// What the call handed back: bytes of PCO bodies, or the number of Rock people.
    pub bytes: usize,
}

/// PCO reads kept while capturing: (path, body).
type Captured = Vec<(String, Vec<u8>)>;

/// The timeline of one run.
#[derive(Default)]
pub struct Timeline {
    events: Mutex<Vec<Event>>,
    /// Bodies of the PCO reads, kept while capturing (to time the guest's parsing of them).
    captured: Mutex<Option<Captured>>,
}

impl Timeline {
    /// Starts keeping the body of every PCO read.
    pub fn capture(&self) {
        *self.captured.lock().unwrap() = Some(Vec::new());
    }

    /// The bodies kept since [`Timeline::capture`] (path, body), and stops keeping them.
    pub fn captured(&self) -> Captured {
        self.captured.lock().unwrap().take().unwrap_or_default()
    }

    fn keep(&self, request: &Request, response: &Result<Response, Error>) {
        if let (Some(kept), Ok(response)) = (&mut *self.captured.lock().unwrap(), response) {
            kept.push((request.path.clone(), response.body.clone()));
        }
    }

    pub fn clear(&self) {
        self.events.lock().unwrap().clear();
    }

    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }

    /// Marks a point (the run's start or end) with no duration.
    pub fn mark(&self, what: &'static str) {
        let (cpu, wall) = (thread_cpu(), Instant::now());
        self.push(Event {
            what: what.into(),
            cpu_start: cpu,
            cpu_end: cpu,
            wall_start: wall,
            wall_end: wall,
            bytes: 0,
        });
    }

    fn push(&self, event: Event) {
        self.events.lock().unwrap().push(event);
    }

    async fn timed<T>(
        &self,
        what: &'static str,
        bytes: impl FnOnce(&T) -> usize,
        call: impl std::future::Future<Output = T>,
    ) -> T {
        let (cpu_start, wall_start) = (thread_cpu(), Instant::now());
        let out = call.await;
        let (cpu_end, wall_end) = (thread_cpu(), Instant::now());
        let bytes = bytes(&out);
        self.push(Event {
            what: what.into(),
            cpu_start,
            cpu_end,
            wall_start,
            wall_end,
            bytes,
        });
        out
    }

    fn timed_sync<T>(&self, what: impl Into<Cow<'static, str>>, call: impl FnOnce() -> T) -> T {
        let (cpu_start, wall_start) = (thread_cpu(), Instant::now());
        let out = call();
        let (cpu_end, wall_end) = (thread_cpu(), Instant::now());
        self.push(Event {
            what: what.into(),
            cpu_start,
            cpu_end,
            wall_start,
            wall_end,
            bytes: 0,
        });
        out
    }
}

/// The capabilities, each call recorded on `timeline`.
pub fn timed(inner: &Capabilities, timeline: &Arc<Timeline>) -> Capabilities {
    Capabilities {
        rock: Arc::new(TimedRock(inner.rock.clone(), timeline.clone())),
        pco: Arc::new(TimedPco(inner.pco.clone(), timeline.clone())),
        state: Arc::new(TimedState(inner.state.clone(), timeline.clone())),
        reporter: Arc::new(TimedReporter(inner.reporter.clone(), timeline.clone())),
    }
}

struct TimedRock(Arc<dyn Rock>, Arc<Timeline>);
struct TimedPco(Arc<dyn Pco>, Arc<Timeline>);
struct TimedState(Arc<dyn StateStore>, Arc<Timeline>);
struct TimedReporter(Arc<dyn Reporter>, Arc<Timeline>);

fn none<T>(_: &T) -> usize {
    0
}

#[async_trait]
impl Rock for TimedRock {
    async fn account_groups(&self, account: &str) -> Result<Vec<Group>, Error> {
        let call = self.0.account_groups(account);
        self.1.timed("rock.account_groups", none, call).await
    }
    async fn groups(&self, ids: &[i64]) -> Result<Vec<Group>, Error> {
        self.1.timed("rock.groups", none, self.0.groups(ids)).await
    }
    async fn active_members(&self, groups: &[i64]) -> Result<Vec<Membership>, Error> {
        let call = self.0.active_members(groups);
        self.1.timed("rock.active_members", none, call).await
    }
    async fn tagged_people(&self) -> Result<Vec<PersonTags>, Error> {
        let call = self.0.tagged_people();
        self.1.timed("rock.tagged_people", none, call).await
    }
    async fn people(&self, ids: &[i64]) -> Result<Vec<Person>, Error> {
        let count = |r: &Result<Vec<Person>, Error>| r.as_ref().map_or(0, Vec::len);
        self.1.timed("rock.people", count, self.0.people(ids)).await
    }
    async fn follow_merges(&self, people: &[GonePerson]) -> Result<Vec<Merge>, Error> {
        let call = self.0.follow_merges(people);
        self.1.timed("rock.follow_merges", none, call).await
    }
    async fn find_people(&self, queries: &[PersonQuery]) -> Result<Vec<Vec<Person>>, Error> {
        let call = self.0.find_people(queries);
        self.1.timed("rock.find_people", none, call).await
    }
    async fn update_people(&self, updates: &[PersonUpdate]) -> Vec<Result<(), Error>> {
        let call = self.0.update_people(updates);
        self.1.timed("rock.update_people", none, call).await
    }
    async fn create_people(&self, people: &[NewPerson]) -> Vec<Result<i64, Error>> {
        let call = self.0.create_people(people);
        self.1.timed("rock.create_people", none, call).await
    }
    async fn set_tags(&self, tags: &[PersonTags]) -> Vec<Result<(), Error>> {
        self.1
            .timed("rock.set_tags", none, self.0.set_tags(tags))
            .await
    }
    async fn add_members(&self, members: &[Membership]) -> Vec<Result<(), Error>> {
        let call = self.0.add_members(members);
        self.1.timed("rock.add_members", none, call).await
    }
    async fn photo(&self, id: i64) -> Result<Option<Photo>, Error> {
        self.1.timed("rock.photo", none, self.0.photo(id)).await
    }
}

#[async_trait]
impl Pco for TimedPco {
    async fn send(&self, account: &str, request: &Request) -> Result<Response, Error> {
        let bytes = |r: &Result<Response, Error>| r.as_ref().map_or(0, |r| r.body.len());
        let what = if matches!(request.method, pcosync::bindings::pco::Method::Get) {
            "pco.send (read)"
        } else {
            "pco.send (write)"
        };
        self.1
            .timed(what, bytes, self.0.send(account, request))
            .await
    }
    async fn send_batch(
        &self,
        account: &str,
        requests: &[Request],
    ) -> Vec<Result<Response, Error>> {
        let bytes = |rs: &Vec<Result<Response, Error>>| {
            rs.iter()
                .map(|r| r.as_ref().map_or(0, |r| r.body.len()))
                .sum()
        };
        let call = self.0.send_batch(account, requests);
        let responses = self.1.timed("pco.send_batch", bytes, call).await;
        for (request, response) in requests.iter().zip(&responses) {
            self.1.keep(request, response);
        }
        responses
    }
    async fn upload(
        &self,
        account: &str,
        content_type: &str,
        filename: &str,
        bytes: &[u8],
    ) -> Result<String, Error> {
        let call = self.0.upload(account, content_type, filename, bytes);
        self.1.timed("pco.upload", none, call).await
    }
}

impl StateStore for TimedState {
    fn get(&self, namespace: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StateError> {
        self.1
            .timed_sync("state.get", || self.0.get(namespace, keys))
    }
    fn scan(
        &self,
        namespace: &str,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Entry>, StateError> {
        self.1.timed_sync("state.scan", || {
            self.0.scan(namespace, prefix, after, limit)
        })
    }
    fn commit(&self, namespace: &str, writes: &[Write]) -> Result<(), StateError> {
        self.1
            .timed_sync("state.commit", || self.0.commit(namespace, writes))
    }
}

impl Reporter for TimedReporter {
    fn event(&self, level: Level, message: &str, fields: &[(String, String)]) {
        let what = format!("log \"{message}\"");
        self.1
            .timed_sync(what, || self.0.event(level, message, fields))
    }
    fn progress(&self, task: &str, done: u64, total: Option<u64>) {
        let what = format!("progress \"{task}\"");
        self.1
            .timed_sync(what, || self.0.progress(task, done, total))
    }
}
