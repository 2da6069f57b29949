//! The daemon and the account lock, with the real `pcosync` binary against the Rock and PCO
//! sandboxes on loopback: a component installed while the daemon runs is used at its next run,
//! without a restart; two syncs of one account never overlap (the second is refused and says
//! who holds the account); SIGTERM lets the run in flight finish and leaves the state
//! consistent.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use congregation::Congregation;
use pco_sandbox::{FaultConfig, PcoSandbox, RateLimitConfig};
use pcosync::state::StateStore;
use pcosync::state::lock::{Locks, account_resource};
use rock_sandbox::RockSandbox;
use serde_json::Value;
use tempfile::TempDir;

/// Both sandboxes, seeded with one congregation, and a configuration for their first account.
struct Sandboxes {
    pco: PcoSandbox,
    _rock: RockSandbox,
    dir: TempDir,
    account: String,
}

impl Sandboxes {
    /// `slow_ms`: every PCO request waits this long, so a run lasts long enough to be caught
    /// in flight.
    async fn start(people: usize, seed: u64, slow_ms: Option<u64>) -> Sandboxes {
        let congregation = Congregation::generate(people, seed);
        let faults = match slow_ms {
            Some(ms) => FaultConfig {
                slow: 1.0,
                slow_ms: ms,
                ..FaultConfig::default()
            },
            None => FaultConfig::default(),
        };
        let pco = PcoSandbox::start_with(
            pco_sandbox::SandboxOptions {
                seed,
                rate_limit: RateLimitConfig {
                    enabled: false,
                    ..RateLimitConfig::default()
                },
                faults,
                ..Default::default()
            },
            &congregation,
        )
        .await
        .expect("the PCO sandbox starts");
        let rock = RockSandbox::start_with(
            rock_sandbox::SandboxOptions {
                seed,
                ..Default::default()
            },
            &congregation,
        )
        .await
        .expect("the Rock sandbox starts");
        let dir = tempfile::tempdir().unwrap();
        let account = write_config(dir.path(), &congregation, &pco, &rock);
        Sandboxes {
            pco,
            _rock: rock,
            dir,
            account,
        }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("pcosync.toml")
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// `pcosync ARGS` to the end.
    fn pcosync(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("pcosync runs")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pcosync"));
        command
            .arg("--config")
            .arg(self.config())
            .args(args)
            .env_remove("PCOSYNC_CONFIG")
            .env_remove("PCOSYNC_DATA_DIR")
            .env("RUST_LOG", "warn");
        command
    }

    /// Waits (without blocking the sandboxes) until PCO has answered `count` requests.
    async fn wait_for_requests(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.pco.requests().len() < count {
            assert!(Instant::now() < deadline, "the run never reached PCO");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn state_keys(&self, prefix: &str) -> Vec<String> {
        let state = pcosync::connect::open_state(&self.data()).unwrap();
        state
            .scan(&self.account, prefix, None, 100_000)
            .unwrap()
            .into_iter()
            .map(|e| e.key)
            .collect()
    }

    fn schema(&self) -> Option<String> {
        let state = pcosync::connect::open_state(&self.data()).unwrap();
        state
            .get(&self.account, &["schema".to_string()])
            .unwrap()
            .remove(0)
            .map(|v| String::from_utf8(v).unwrap())
    }
}

/// The configuration: the first account of the congregation, secrets in files beside it.
fn write_config(
    dir: &Path,
    congregation: &Congregation,
    pco: &PcoSandbox,
    rock: &RockSandbox,
) -> String {
    let rock_token = write_secret(dir, "rock.token", rock.token());
    let mut text = format!(
        "data_dir = {data:?}\n\n[rock]\nurl = {rock_url:?}\ntoken = {{ file = {rock_token:?} }}\n\n\
         [pco]\napi_url = {pco_url:?}\nupload_url = \"{pco_url}/v2/files\"\n",
        data = dir.join("data").display().to_string(),
        rock_url = rock.base_url(),
        pco_url = pco.base_url().trim_end_matches('/'),
        rock_token = rock_token.display().to_string(),
    );
    let account = pco.accounts().remove(0);
    let secret = write_secret(dir, "pco.secret", &account.secret);
    let groups: Vec<(usize, &congregation::Group)> = congregation
        .groups
        .iter()
        .enumerate()
        .filter(|(_, g)| g.pco_account.as_deref() == Some(&account.name))
        .collect();
    let group_types: BTreeSet<&str> = groups.iter().map(|(_, g)| g.group_type.as_str()).collect();
    let _ = write!(
        text,
        "\n[[accounts]]\nname = {name:?}\napp_id = {app:?}\nsecret = {{ file = {secret:?} }}\n\
         welcome_template = {welcome:?}\nenabled_group_types = {types:?}\nbrake_percent = 100\n",
        name = account.name,
        app = account.app_id,
        secret = secret.display().to_string(),
        welcome = pco_sandbox::WELCOME_TEMPLATE,
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
    std::fs::write(dir.join("pcosync.toml"), text).unwrap();
    account.name
}

fn write_secret(dir: &Path, name: &str, value: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, value).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A `pcosync run --json` process: its run records as they come, its stderr kept.
struct Daemon {
    child: Child,
    records: mpsc::Receiver<Value>,
    stderr: Arc<Mutex<String>>,
}

impl Daemon {
    fn start(sandboxes: &Sandboxes, args: &[&str]) -> Daemon {
        let mut all = vec!["run", "--json"];
        all.extend_from_slice(args);
        let mut child = sandboxes
            .command(&all)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the daemon starts");
        let (sender, records) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let record = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not a JSON run record ({e}): {line}"));
                if sender.send(record).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let kept = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut kept = kept.lock().unwrap();
                kept.push_str(&line);
                kept.push('\n');
            }
        });
        Daemon {
            child,
            records,
            stderr,
        }
    }

    async fn next_record(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            match self.records.try_recv() {
                Ok(record) => return record,
                Err(mpsc::TryRecvError::Disconnected) => {
                    panic!("the daemon ended: {}", self.stderr())
                }
                Err(mpsc::TryRecvError::Empty) => {
                    assert!(Instant::now() < deadline, "no run: {}", self.stderr());
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    /// Called right after a component switch: skips the runs that had ended already and at
    /// most one that was in flight with `before`'s component; answers the next run.
    async fn first_run_after_switch(&self, before: &Value) -> Value {
        while self.records.try_recv().is_ok() {}
        let next = self.next_record().await;
        if next["component"] != before["component"] {
            return next;
        }
        self.next_record().await
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    async fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the daemon did not stop");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every record left, once the process has ended.
    fn rest(&self) -> Vec<Value> {
        let mut rest = Vec::new();
        while let Ok(record) = self.records.recv_timeout(Duration::from_secs(5)) {
            rest.push(record);
        }
        rest
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_swaps_components_between_two_runs_without_a_restart() {
    let sandboxes = Sandboxes::start(30, 41, None).await;
    let shipped = sandboxes.file("guest.wasm", pcosync::DEFAULT_GUEST);
    let next_bytes = std::fs::read(misbehaving_guest::components::GUEST_SCHEMA_NEXT).unwrap();
    let next = sandboxes.file("guest-next.wasm", &next_bytes);
    let out = sandboxes.pcosync(&["plugin", "install", shipped.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let mut daemon = Daemon::start(&sandboxes, &["--interval", "1"]);
    let first = daemon.next_record().await;
    assert_eq!(first["outcome"], "ok", "{first}");
    assert_eq!(first["component"], sha256(pcosync::DEFAULT_GUEST));
    assert_eq!(first["component_source"], "installed");
    assert_eq!(sandboxes.schema().as_deref(), Some("1"));

    let out = sandboxes.pcosync(&["plugin", "install", next.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Runs that ended before the install are behind us; one in flight at the switch may end
    // with the old component; the run after it uses the new one.
    let swapped = daemon.first_run_after_switch(&first).await;
    assert_eq!(swapped["component"], sha256(&next_bytes), "{swapped}");
    assert_eq!(swapped["outcome"], "ok", "{swapped}");
    assert_eq!(swapped["counts"]["created"], 0, "{swapped}");
    assert!(daemon.running(), "the same process, never restarted");
    // The newer guest migrated the state on its first run.
    assert_eq!(sandboxes.schema().as_deref(), Some("2"));

    // Rolling back under it: the older guest refuses the newer state, and says so.
    let out = sandboxes.pcosync(&["plugin", "rollback"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let refused = daemon.first_run_after_switch(&swapped).await;
    assert_eq!(refused["component"], first["component"], "{refused}");
    assert_eq!(refused["outcome"], "failed", "{refused}");
    let message = refused["message"].as_str().unwrap_or_default();
    assert!(message.contains("written by a newer guest"), "{message}");
    assert!(daemon.running());

    daemon.sigterm();
    assert!(daemon.wait().await.success(), "{}", daemon.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_concurrent_sync_or_any_write_of_an_account_is_refused_and_says_who_holds_it() {
    // Every PCO answer takes 150 ms, so the first sync is still running while the others are
    // tried, however slow the machine.
    let sandboxes = Sandboxes::start(30, 42, Some(150)).await;
    // Compile the guest once, so both processes start at once.
    let out = sandboxes.pcosync(&["check"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let account = sandboxes.account.clone();
    let mut first = sandboxes
        .command(&["sync", "--account", &account])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    sandboxes.wait_for_requests(3).await;

    let second = sandboxes.pcosync(&["sync", "--account", &account]);
    let stderr = text(&second.stderr);
    assert_eq!(second.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "account \"{account}\" is being synced by another process"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("`pcosync sync` (pid {} on host", first.id())),
        "{stderr}"
    );
    assert!(stderr.contains("has held it since 20"), "{stderr}");
    assert!(stderr.contains("Nothing was run"), "{stderr}");
    // Issue 16 item 3: every other operation that writes waits for the account too, with the
    // same message and exit status, and writes nothing.
    for args in [
        vec!["link", "--account", &account, "1", "2"],
        vec!["refresh", "--account", &account],
    ] {
        let refused = sandboxes.pcosync(&args);
        let stderr = text(&refused.stderr);
        assert_eq!(refused.status.code(), Some(5), "{args:?}: {stderr}");
        assert!(
            stderr.contains("is being synced by another process"),
            "{args:?}: {stderr}"
        );
    }
    // A dry run needs no lock: it writes nothing.
    let dry = sandboxes.pcosync(&["sync", "--account", &account, "--dry-run", "--json"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stderr));

    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = first.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the first sync never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "the first sync was not disturbed");
    // The lock went with it: the next sync runs.
    let third = sandboxes.pcosync(&["sync", "--account", &account]);
    assert_eq!(third.status.code(), Some(0), "{}", text(&third.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_run_finishes_the_run_and_leaves_the_state_consistent() {
    let sandboxes = Sandboxes::start(30, 43, Some(40)).await;
    let out = sandboxes.pcosync(&["check"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Without --interval: the default schedule syncs at start, then in two hours.
    let mut daemon = Daemon::start(&sandboxes, &[]);
    sandboxes.wait_for_requests(5).await;
    // The daemon holds the account: a one-shot sync (a cron job, say) is refused meanwhile.
    let out = sandboxes.pcosync(&["sync"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("`pcosync run`"),
        "{}",
        text(&out.stderr)
    );

    daemon.sigterm();
    let requests_at_signal = sandboxes.pco.requests().len();
    let status = daemon.wait().await;
    assert!(status.success(), "{}", daemon.stderr());
    assert!(
        daemon.stderr().contains("stopping after the run in flight"),
        "{}",
        daemon.stderr()
    );
    // The run went on after the signal, to its end, and nothing new started.
    assert!(sandboxes.pco.requests().len() > requests_at_signal);
    let records = daemon.rest();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["outcome"], "ok", "{records:?}");
    let created = records[0]["counts"]["created"].as_u64().unwrap();
    let linked = records[0]["counts"]["linked"].as_u64().unwrap();
    assert!(created + linked > 0);

    // Consistent: no create left in flight, the lock released, one record per person linked,
    // and a run now finds nothing left to do.
    assert!(sandboxes.state_keys("intent/").is_empty());
    assert_eq!(
        sandboxes.state_keys("person/").len() as u64,
        created + linked
    );
    let state = pcosync::connect::open_state(&sandboxes.data()).unwrap();
    assert!(
        state
            .holder(&account_resource(&sandboxes.account))
            .unwrap()
            .is_none()
    );
    sandboxes.pco.clear_faults();
    let out = sandboxes.pcosync(&["sync", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["counts"]["created"], 0, "{report}");
    assert_eq!(report["counts"]["linked"], 0, "{report}");
}

/// The daemon in-process, where a test can hold the lock: a run of a locked account is
/// skipped, reported as such, and the schedule goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_skips_a_run_whose_account_another_process_holds() {
    use pcosync::daemon::{Connector, Daemon as InProcess, Outcome, Schedule};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let congregation = Congregation::generate(20, 44);
    let world = pcosync::demo::world(&congregation);
    let (_sandbox, pco) = pcosync::demo::pco_sandbox(&congregation, false)
        .await
        .unwrap();
    let account = world.account.name.clone();
    let config =
        pcosync::config::Config::parse(&format!(
        "[[accounts]]\nname = {account:?}\napp_id = \"x\"\nsecret = {{ env = \"UNUSED\" }}\nbrake_percent = 100\n"
        ))
        .unwrap();
    let capabilities = pcosync::Capabilities {
        rock: world.rock.clone(),
        pco: Arc::new(pco),
        state: Arc::new(pcosync::state::memory::MemoryState::default()),
        reporter: pcosync::testing::silent(),
    };
    let runtime = pcosync::Runtime::new(pcosync::Limits::default()).unwrap();
    let mut daemon = InProcess::new(
        config,
        data.clone(),
        runtime,
        Connector::Fixed(capabilities),
    )
    .unwrap();
    daemon.override_schedules(Schedule::Every(Duration::from_millis(200)));

    let locks: Arc<dyn Locks> = Arc::new(pcosync::connect::open_state(&data).unwrap());
    let held =
        pcosync::state::lock::acquire(locks, &account_resource(&account), "pcosync sync").unwrap();
    let (stop_sender, stop) = tokio::sync::watch::channel(0u8);
    let records = Arc::new(Mutex::new(Vec::new()));
    let kept = records.clone();
    let running = tokio::spawn(daemon.run(stop, move |record| {
        kept.lock().unwrap().push(record.clone())
    }));
    let wait_for = |count: usize| {
        let records = records.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            while records.lock().unwrap().len() < count {
                assert!(Instant::now() < deadline);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    wait_for(1).await;
    let locked = records.lock().unwrap()[0].clone();
    assert_eq!(locked.outcome, Outcome::Locked);
    assert!(
        locked
            .message
            .as_deref()
            .unwrap()
            .contains("is being synced by another process"),
        "{locked:?}"
    );
    assert!(locked.counts.is_none());
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let last = records.lock().unwrap().last().cloned().unwrap();
        if last.outcome == Outcome::Ok {
            assert_eq!(last.component_source, "built-in");
            break;
        }
        assert!(Instant::now() < deadline, "{last:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop_sender.send_replace(1);
    tokio::time::timeout(Duration::from_secs(120), running)
        .await
        .expect("the daemon stops when told")
        .unwrap();
}

/// PCO for the daemon's runs, where one account's requests never get an answer (a hung
/// connection, a stuck run).
struct OneAccountHangs {
    inner: Arc<pcosync::pco::http::HttpPco>,
    stuck: String,
}

#[async_trait::async_trait]
impl pcosync::pco::Pco for OneAccountHangs {
    async fn send(
        &self,
        account: &str,
        request: &pcosync::bindings::pco::Request,
    ) -> Result<pcosync::bindings::pco::Response, pcosync::bindings::types::Error> {
        if account == self.stuck {
            std::future::pending::<()>().await;
        }
        self.inner.send(account, request).await
    }

    async fn upload(
        &self,
        account: &str,
        content_type: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<String, pcosync::bindings::types::Error> {
        self.inner.upload(account, content_type, name, bytes).await
    }
}

/// Issue 24 item 19 (R20: each account synced on its schedule): the daemon runs accounts
/// independently. One account's run hangs (its deadline is far off); another account's runs
/// go on meanwhile, and a second signal stops the hung one at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_account_does_not_hold_up_the_others_issue_24_item_19_r20() {
    use pcosync::daemon::{Connector, Daemon as InProcess, Outcome, RunRecord, Schedule};
    let tmp = tempfile::tempdir().unwrap();
    // Two accounts from 50 people on (congregation::TWO_ACCOUNTS_FROM).
    let congregation = Congregation::generate(60, 44);
    assert!(
        congregation.accounts.len() >= 2,
        "{:?}",
        congregation.accounts
    );
    let (stuck, free) = (
        congregation.accounts[0].clone(),
        congregation.accounts[1].clone(),
    );
    let world = pcosync::demo::world(&congregation);
    let (_sandbox, pco) = pcosync::demo::pco_sandbox(&congregation, false)
        .await
        .unwrap();
    let mut text = String::new();
    for name in [&stuck, &free] {
        write!(
            text,
            "[[accounts]]\nname = {name:?}\napp_id = \"x\"\nsecret = {{ env = \"UNUSED\" }}\nbrake_percent = 100\n"
        )
        .unwrap();
    }
    let config = pcosync::config::Config::parse(&text).unwrap();
    let capabilities = pcosync::Capabilities {
        rock: world.rock.clone(),
        pco: Arc::new(OneAccountHangs {
            inner: Arc::new(pco),
            stuck: stuck.clone(),
        }),
        state: Arc::new(pcosync::state::memory::MemoryState::default()),
        reporter: pcosync::testing::silent(),
    };
    let runtime = pcosync::Runtime::new(pcosync::Limits::default()).unwrap();
    let mut daemon = InProcess::new(
        config,
        tmp.path().join("data"),
        runtime,
        Connector::Fixed(capabilities),
    )
    .unwrap();
    daemon.override_schedules(Schedule::Every(Duration::from_millis(200)));
    let (stop_sender, stop) = tokio::sync::watch::channel(0u8);
    let records: Arc<Mutex<Vec<RunRecord>>> = Arc::new(Mutex::new(Vec::new()));
    let kept = records.clone();
    let running = tokio::spawn(daemon.run(stop, move |record| {
        kept.lock().unwrap().push(record.clone())
    }));
    let free_runs = |records: &[RunRecord]| {
        records
            .iter()
            .filter(|r| r.account == free && r.outcome == Outcome::Ok)
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    while free_runs(&records.lock().unwrap()) < 2 {
        assert!(
            Instant::now() < deadline,
            "the other account never ran while one hung: {:?}",
            records.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !records.lock().unwrap().iter().any(|r| r.account == stuck),
        "the hung run has not ended"
    );
    stop_sender.send_replace(1);
    stop_sender.send_replace(2);
    tokio::time::timeout(Duration::from_secs(60), running)
        .await
        .expect("a second signal stops the hung run at once")
        .unwrap();
    let records = records.lock().unwrap();
    assert!(
        records
            .iter()
            .any(|r| r.account == stuck && r.outcome == Outcome::Interrupted),
        "{records:?}"
    );
}

/// `pcosync run --import`: the import of each account that has `[accounts.import]` runs once,
/// before the first sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_imports_first_when_asked_then_syncs() {
    use pcosync::daemon::{Connector, Daemon as InProcess, Job, Outcome, Schedule};
    let tmp = tempfile::tempdir().unwrap();
    let congregation = Congregation::generate(40, 45);
    let world = pcosync::demo::world(&congregation);
    let (_sandbox, pco) = pcosync::demo::pco_sandbox(&congregation, false)
        .await
        .unwrap();
    // The import takes, for each level, a group that syncs to the account at that level and
    // whose type is enabled (R40): the demo world's own level groups.
    let (levels, kinds) = {
        use pcosync::bindings::types::PermissionLevel as L;
        let data = world.rock.data.lock().unwrap();
        let mut levels = Vec::new();
        let mut kinds = BTreeSet::new();
        for (key, level) in [
            ("scheduled_viewer", L::ScheduledViewer),
            ("viewer", L::Viewer),
            ("scheduler", L::Scheduler),
            ("editor", L::Editor),
            ("administrator", L::Administrator),
        ] {
            if let Some(group) = data.groups.iter().find(|g| {
                g.level == Some(level)
                    && g.pco_account.as_deref() == Some(world.account.name.as_str())
            }) {
                levels.push(format!("{key} = {}", group.id));
                kinds.insert(group.group_type.name.clone());
            }
        }
        (levels, kinds)
    };
    assert!(!levels.is_empty(), "the demo world has no level groups");
    let config = pcosync::config::Config::parse(&format!(
        "[[accounts]]\nname = {:?}\napp_id = \"x\"\nsecret = {{ env = \"UNUSED\" }}\n\
             enabled_group_types = {:?}\n\
             brake_percent = 100\n[accounts.import]\nconnection_status = \"Prospect\"\n\
             groups = {{ {} }}\n",
        world.account.name,
        kinds.into_iter().collect::<Vec<_>>(),
        levels.join(", ")
    ))
    .unwrap();
    let capabilities = pcosync::Capabilities {
        rock: world.rock.clone(),
        pco: Arc::new(pco),
        state: Arc::new(pcosync::state::memory::MemoryState::default()),
        reporter: pcosync::testing::silent(),
    };
    let runtime = pcosync::Runtime::new(pcosync::Limits::default()).unwrap();
    let mut daemon = InProcess::new(
        config,
        tmp.path().join("data"),
        runtime,
        Connector::Fixed(capabilities),
    )
    .unwrap();
    daemon.import_at_start();
    daemon.override_schedules(Schedule::Every(Duration::from_secs(3600)));
    let (stop_sender, stop) = tokio::sync::watch::channel(0u8);
    let records = Arc::new(Mutex::new(Vec::new()));
    let kept = records.clone();
    let running = tokio::spawn(daemon.run(stop, move |record| {
        kept.lock().unwrap().push(record.clone())
    }));
    let deadline = Instant::now() + Duration::from_secs(120);
    while records.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop_sender.send_replace(1);
    running.await.unwrap();
    let records = records.lock().unwrap().clone();
    assert_eq!(
        records.len(),
        2,
        "one import, one sync, then the schedule waits an hour"
    );
    assert_eq!(records[0].kind, Job::Import);
    assert!(
        matches!(records[0].outcome, Outcome::Ok | Outcome::Partial),
        "{:?}",
        records[0]
    );
    assert!(
        records[0].counts.as_ref().unwrap().imported > 0,
        "{:?}",
        records[0]
    );
    assert_eq!(records[1].kind, Job::Sync);
    assert_eq!(records[1].outcome, Outcome::Ok, "{:?}", records[1]);
}

/// The configuration file with `edit` applied to its text.
fn edit_config(sandboxes: &Sandboxes, edit: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(sandboxes.config()).unwrap();
    std::fs::write(sandboxes.config(), edit(text)).unwrap();
}

/// The runs that come before `stop` returns true for one, that one included.
async fn records_until(daemon: &Daemon, mut stop: impl FnMut(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let record = daemon.next_record().await;
        let done = stop(&record);
        seen.push(record);
        if done {
            return seen;
        }
        assert!(seen.len() < 20, "{seen:#?}\n{}", daemon.stderr());
    }
}

// Issue 16 item 8: the daemon reads its configuration before each run. A broken file is
// refused loudly and the configuration in force stays; a renamed account (one removed, one
// added) is synced under its new name without a restart, and the old name is run no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_reads_its_configuration_again_before_each_run() {
    let sandboxes = Sandboxes::start(30, 43, None).await;
    let daemon = Daemon::start(&sandboxes, &["--interval", "1"]);
    let first = daemon.next_record().await;
    assert_eq!(first["account"], sandboxes.account.as_str(), "{first}");

    edit_config(&sandboxes, |text| format!("{text}\nbrake_persent = 5\n"));
    records_until(&daemon, |_| daemon.stderr().contains("is not valid")).await;
    let after_break = daemon.next_record().await;
    assert_eq!(after_break["account"], sandboxes.account.as_str());
    assert_ne!(after_break["outcome"], "failed", "{after_break}");
    let stderr = daemon.stderr();
    assert!(stderr.contains("brake_persent"), "{stderr}");
    assert!(stderr.contains("stays in force"), "{stderr}");

    // Renamed: the state of the old name is not the new one's, so the new one is linked
    // afresh; what matters here is which name the daemon runs.
    let renamed = "Renamed Campus";
    edit_config(&sandboxes, |text| {
        text.replace("\nbrake_persent = 5\n", "\n").replace(
            &format!("name = {:?}", sandboxes.account),
            &format!("name = {renamed:?}"),
        )
    });
    let seen = records_until(&daemon, |r| r["account"] == renamed).await;
    let later = records_until(&daemon, |_| true).await;
    assert_eq!(later[0]["account"], renamed, "{seen:#?} {later:#?}");
    let stderr = daemon.stderr();
    assert!(
        stderr.contains("accounts added: \"Renamed Campus\""),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("accounts removed: \"{}\"", sandboxes.account)),
        "{stderr}"
    );
}

// R21, R20 (issue 15 item 2): an updates-only account run by the daemon is read whole at its
// first run and once `full_sync_hours` have passed since the last full run; the runs between
// ask PCO only for people updated lately.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_updates_only_account_gets_its_periodic_full_run_from_the_daemon() {
    let sandboxes = Sandboxes::start(30, 47, None).await;
    edit_config(&sandboxes, |text| {
        text.replacen(
            "brake_percent = 100\n",
            "brake_percent = 100\nupdates_only = true\nfull_sync_hours = 2\n",
            1,
        )
    });
    let updated_since = |pco: &PcoSandbox| {
        pco.requests()
            .iter()
            .filter(|r| r.path.starts_with("/people/v2/people?"))
            .filter(|r| {
                r.path.contains("where%5Bupdated_at%5D") || r.path.contains("where[updated_at]")
            })
            .count()
    };
    let daemon = Daemon::start(&sandboxes, &["--interval", "1"]);
    let first = daemon.next_record().await;
    assert_eq!(first["mode"], "full", "{first}");
    assert_eq!(updated_since(&sandboxes.pco), 0);
    let second = daemon.next_record().await;
    assert_eq!(second["mode"], "updates-only", "{second}");
    assert!(updated_since(&sandboxes.pco) > 0);

    // Three hours later (the last full run's time moved back), the next run is a full one.
    let state = pcosync::connect::open_state(&sandboxes.data()).unwrap();
    let last = pcosync::ops::full_sync::last_full(&state, &sandboxes.account)
        .unwrap()
        .expect("the first run was recorded as a full one");
    pcosync::ops::full_sync::record_full(&state, &sandboxes.account, last - 3 * 3600).unwrap();
    let seen = records_until(&daemon, |r| r["mode"] == "full").await;
    assert!(seen.len() <= 2, "{seen:#?}");
    let after = daemon.next_record().await;
    assert_eq!(after["mode"], "updates-only", "{after}");
}

// Issue 16 item 5, R3: an operation of one account reads that account's credentials alone. A
// second account whose secret is missing (its variable unset) does not stop the first from
// syncing, and its secret is never read for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_runs_with_its_own_credentials_alone() {
    let sandboxes = Sandboxes::start(30, 53, None).await;
    edit_config(&sandboxes, |text| {
        format!(
            "{text}\n[[accounts]]\nname = \"Elsewhere\"\napp_id = \"other-app\"\n\
             secret = {{ env = \"PCOSYNC_TEST_SECRET_NEVER_SET\" }}\n"
        )
    });
    let account = sandboxes.account.clone();
    for args in [
        vec!["sync", "--account", &account],
        vec!["status", "--account", &account],
    ] {
        let out = sandboxes
            .command(&args)
            .env_remove("PCOSYNC_TEST_SECRET_NEVER_SET")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // The other account, asked for, names its missing secret.
    let other = sandboxes
        .command(&["status", "--account", "Elsewhere"])
        .env_remove("PCOSYNC_TEST_SECRET_NEVER_SET")
        .output()
        .unwrap();
    assert_ne!(other.status.code(), Some(0));
    assert!(
        text(&other.stderr).contains("PCOSYNC_TEST_SECRET_NEVER_SET"),
        "{}",
        text(&other.stderr)
    );
}
