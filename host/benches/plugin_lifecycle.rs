//! The plugin lifecycle, timed: first start (compile) against cached start, the cost of one
//! instantiation, and the time from `plugin install` to the daemon's next run using the new
//! component. Then what a sync uses of its limits, extrapolated to 50,000 people.
//!
//! `cargo bench -p pcosync --bench plugin_lifecycle` (PEOPLE=5000 synced people for the limits
//! part by default; PEOPLE=0 skips it).

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use congregation::Congregation;
use pcosync::bindings::engine::SyncOptions;
use pcosync::daemon::{Connector, Daemon, Schedule};
use pcosync::runtime::cache::CompileCache;
use pcosync::state::memory::MemoryState;
use pcosync::state::sqlite::SqliteState;
use pcosync::testing::silent;
use pcosync::{Capabilities, Limits, Runtime};

fn main() {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio.block_on(async {
        starts().await;
        instantiate().await;
        install_to_next_run().await;
        let people: usize = std::env::var("PEOPLE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5_000);
        if people > 0 {
            limits(people).await;
        }
    });
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Compiling the guest against loading it from the compile cache: in-process (`Runtime::load`,
/// a fresh engine each time, as a new process has) and as a whole `pcosync check` process.
async fn starts() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = CompileCache::open_ambient(&tmp.path().join("compiled")).unwrap();
    let wasm = pcosync::DEFAULT_GUEST;
    println!(
        "guest component: {:.1} MiB (the built-in one)",
        wasm.len() as f64 / (1 << 20) as f64
    );

    let runtime = Runtime::new(Limits::default()).unwrap();
    let started = Instant::now();
    let guest = runtime.load(wasm, Some(&cache)).await.unwrap();
    let first = started.elapsed();
    assert!(!guest.from_cache);
    let mut cached = Vec::new();
    for _ in 0..5 {
        let runtime = Runtime::new(Limits::default()).unwrap();
        let started = Instant::now();
        let guest = runtime.load(wasm, Some(&cache)).await.unwrap();
        cached.push(started.elapsed());
        assert!(guest.from_cache);
    }
    println!("\n== start: load, check and self-check the guest ==");
    println!("first start (compile)       {}", ms(first));
    println!("cached start (median of 5)  {}", ms(median(cached)));

    // The same as whole processes: `pcosync check` in a fresh data directory, then again.
    let data = tmp.path().join("data");
    let check = || {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_pcosync"))
            .args(["check", "--data-dir"])
            .arg(&data)
            .env_remove("PCOSYNC_CONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        started.elapsed()
    };
    let first = check();
    let cached = median((0..5).map(|_| check()).collect());
    println!("`pcosync check`, first      {}", ms(first));
    println!("`pcosync check`, cached     {}", ms(cached));
}

/// What every guest call pays before doing anything: a fresh store and instance.
async fn instantiate() {
    let runtime = Runtime::new(Limits::default()).unwrap();
    let guest = runtime.load(pcosync::DEFAULT_GUEST, None).await.unwrap();
    let mut samples = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        runtime.contract_version(&guest).await.unwrap();
        samples.push(started.elapsed());
    }
    println!("\n== instantiate: a fresh instance and the smallest call ==");
    let us = |d: Duration| format!("{:.1} µs", d.as_secs_f64() * 1e6);
    println!(
        "median of 200               {}",
        us(median(samples.clone()))
    );
    println!(
        "slowest                     {}",
        us(*samples.iter().max().unwrap())
    );
}

/// A daemon running every 250 ms; `plugin install` of a new component; the first run with it.
async fn install_to_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let congregation = Congregation::generate(100, 5);
    let world = pcosync::demo::world(&congregation);
    let (_sandbox, pco) = pcosync::demo::pco_sandbox(&congregation, false)
        .await
        .unwrap();
    let text = format!(
        "[[accounts]]\nname = {:?}\napp_id = \"x\"\nsecret = {{ env = \"UNUSED\" }}\n\
         brake_percent = 100\n",
        world.account.name
    );
    let config = pcosync::config::Config::parse(&text).unwrap();
    // The daemon owns its configuration; the installs below read the same file's.
    let plugins = pcosync::config::Config::parse(&text).unwrap().plugins;
    let capabilities = Capabilities {
        rock: world.rock.clone(),
        pco: Arc::new(pco),
        state: Arc::new(MemoryState::default()),
        reporter: silent(),
    };
    let runtime = Runtime::new(Limits::default()).unwrap();
    let install_runtime = Runtime::new(Limits::default()).unwrap();
    let shipped = tmp.path().join("guest.wasm");
    std::fs::write(&shipped, pcosync::DEFAULT_GUEST).unwrap();
    pcosync::plugin::install(&install_runtime, &plugins, &data, &shipped)
        .await
        .unwrap();

    let mut daemon = Daemon::new(
        config,
        data.clone(),
        runtime,
        Connector::Fixed(capabilities),
    )
    .unwrap();
    let interval = Duration::from_millis(250);
    daemon.override_schedules(Schedule::Every(interval));
    let records = Arc::new(Mutex::new(Vec::new()));
    let kept = records.clone();
    let (stop_sender, stop) = tokio::sync::watch::channel(0u8);
    let running = tokio::spawn(daemon.run(stop, move |record| {
        kept.lock().unwrap().push((Instant::now(), record.clone()))
    }));
    while records.lock().unwrap().len() < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let next =
        misbehaving_guest::components::read(misbehaving_guest::components::GUEST_SCHEMA_NEXT);
    let next_path = tmp.path().join("guest-next.wasm");
    std::fs::write(&next_path, &next).unwrap();
    let started = Instant::now();
    let installed = pcosync::plugin::install(&install_runtime, &plugins, &data, &next_path)
        .await
        .unwrap();
    let installed_at = Instant::now();
    let (ended, record) = loop {
        let found = records
            .lock()
            .unwrap()
            .iter()
            .find(|(_, r)| r.component == installed.entry.sha256)
            .cloned();
        if let Some(found) = found {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    stop_sender.send_replace(1);
    running.await.unwrap();
    let to_start = (ended - installed_at).saturating_sub(Duration::from_millis(record.run_ms));
    println!(
        "\n== plugin install -> the daemon's next run with it (daemon every {} ms, {} people) ==",
        interval.as_millis(),
        congregation.people.len()
    );
    println!(
        "install (read, compile, self-check, switch)  {}",
        ms(installed_at - started)
    );
    println!(
        "install done -> run with it starts           {} (waiting for the schedule, and the run in flight)",
        ms(to_start)
    );
    println!(
        "  of which getting the component ready        {} (from the cache the install filled)",
        record.component_load_ms
    );
    println!(
        "install done -> that run's report            {}",
        ms(ended - installed_at)
    );
    println!(
        "started -> first run with it started         {}",
        ms(to_start + (installed_at - started))
    );
}

/// A first sync and a no-change sync of `people` synced people: fuel, memory, time and PCO
/// requests, extrapolated to 50,000 people against the default limits.
async fn limits(people: usize) {
    let congregation = Congregation::generate(people * 10 / 9 + 50, 3);
    let (sandbox, pco) = pcosync::demo::pco_sandbox(&congregation, false)
        .await
        .unwrap();
    let world = pcosync::demo::world(&congregation);
    let account = world.account.clone();
    {
        let mut data = world.rock.data.lock().unwrap();
        for person in data.people.values_mut().take(people) {
            person
                .pco_tags
                .push(format!("{}:Skills:Guitar", account.name));
        }
    }
    // SQLite (in memory: no disk in the figures), as a real run has: the in-memory test
    // backend copies its map on every commit, which at 50,000 people costs more than the sync.
    let capabilities = Capabilities {
        rock: world.rock.clone(),
        pco: Arc::new(pco),
        state: Arc::new(SqliteState::in_memory().unwrap()),
        reporter: silent(),
    };
    let defaults = Limits::default();
    let runtime = Runtime::new(defaults.clone()).unwrap();
    let guest = runtime.load(pcosync::DEFAULT_GUEST, None).await.unwrap();
    println!("\n== limits: what a sync of {people} synced people uses, and 50,000 extrapolated ==");
    println!(
        "defaults: memory {} MiB, fuel {} million per call, wall time {} h per call",
        defaults.memory_bytes >> 20,
        defaults.fuel / 1_000_000,
        defaults.wall_time.as_secs() / 3600
    );
    for (label, run_id) in [("first sync", "bench-1"), ("no-change sync", "bench-2")] {
        sandbox.clear_requests();
        let options = SyncOptions {
            run_id: run_id.into(),
            started_at: sandbox.now(),
            dry_run: false,
            updates_only: None,
            confirm: None,
        };
        let report = runtime
            .sync(&guest, &capabilities, &account, &options)
            .await
            .unwrap();
        let usage = runtime.last_usage().unwrap();
        let requests = sandbox.requests().len();
        let scale = 50_000.0 / report.counts.synced.max(1) as f64;
        // PCO allows 100 requests per 20 s per user: 5 a second at best.
        let paced = requests as f64 * scale / 5.0;
        println!(
            "{label:<15} synced {:>6}  fuel {:>8.0} M  peak memory {:>5.0} MiB  {:>5.1} s unpaced  {:>6} requests",
            report.counts.synced,
            usage.fuel as f64 / 1e6,
            usage.peak_memory_bytes as f64 / (1 << 20) as f64,
            usage.wall_time.as_secs_f64(),
            requests
        );
        println!(
            "{:<15} at 50,000: fuel {:.0} M ({:.2}% of the default), memory ~{:.0} MiB ({:.0}% of it), \
             ~{:.1} h at PCO's rate limit ({:.0}% of the wall time)",
            "",
            usage.fuel as f64 * scale / 1e6,
            usage.fuel as f64 * scale / defaults.fuel as f64 * 100.0,
            usage.peak_memory_bytes as f64 * scale / (1 << 20) as f64,
            usage.peak_memory_bytes as f64 * scale / defaults.memory_bytes as f64 * 100.0,
            paced / 3600.0,
            paced / defaults.wall_time.as_secs_f64() * 100.0
        );
    }
}
