//! The performance table of a sync between the Rock sandbox and the PCO sandbox, through the
//! real path: the embedded guest component run by `pcosync::runtime`, `RestRock` against the
//! Rock sandbox, `HttpPco` against the PCO sandbox (rate limit off), state in SQLite in a
//! temporary directory.
//!
//! `cargo bench -p pcosync --bench perf_table` (sizes 1000, 10000 and 50000 synced people;
//! `PERF_SIZES=1000,10000` or `-- 1000 10000` to choose). While developing: `PERF_DEBUG=1`
//! prints every run's requests and capability calls, `PERF_SKIP=import` or
//! `PERF_SKIP=after-first` leaves runs out, `PERF_PROFILE=1` profiles every size.
//!
//! Each size runs in a child process of its own (so peak memory and CPU are that size's), on a
//! congregation generated for it: a first sync, a no-change full sync (the wasm guest, then the
//! same rules compiled natively on the same data in the same process), an updates-only sync
//! after 1% of the synced people changed (half in PCO, half in Rock), and an import of the
//! same congregation's PCO-only people as a congregation that exists only in PCO (a PCO
//! sandbox holding them alone, a Rock sandbox holding only the groups; the Rock sandbox scans
//! every row on every write, so an import into the 50,000-person Rock would measure the
//! sandbox for an hour). The parent measures the guest's cold start, cached start and
//! instantiation, then prints one table and, for the no-change sync of 10,000 people (or the
//! largest size run), where the CPU goes.

mod perf;

use perf::ab::Engine2;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pcosync::bindings::engine::SyncOptions;
use pcosync::runtime::cache::CompileCache;
use pcosync::{Limits, Runtime};
use serde::{Deserialize, Serialize};

use perf::native::{self, NativePorts};
use perf::probe::{self, Event, Timeline};
use perf::world::World;

/// PCO's real limit: 100 requests per 20 s. The host's pacer keeps one request of headroom
/// and 300 ms of slack at the window's edge (`host/src/pco/pacer.rs`).
const PCO_WINDOW_SECS: f64 = 20.3;
const PCO_PER_WINDOW: usize = 99;
/// Lists read at an offset above 30,000 meet PCO's stricter limit of 75 per 20 s.
const HIGH_OFFSET: u64 = 30_000;
const HIGH_OFFSET_PER_WINDOW: usize = 74;

/// One line of the table.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Row {
    size: usize,
    run: String,
    /// What the run did, from its report.
    what: String,
    pco_requests: usize,
    pco_writes: usize,
    pco_min: usize,
    rock_requests: usize,
    rock_writes: usize,
    rock_min: usize,
    /// Rows Rock answered to the run's list reads, and of those the ones nobody asked for
    /// (between the ids of an id range; Rock's 100-node filters make ranges wide).
    #[serde(default)]
    rock_rows: usize,
    #[serde(default)]
    rock_rows_unasked: usize,
    /// Photos uploaded to PCO (each read from Rock first).
    photos: usize,
    /// getrusage of the whole process (sync thread, both sandboxes, runtimes).
    process_cpu: f64,
    /// The thread that runs the sync (guest and host capabilities, HTTP client included).
    sync_cpu: f64,
    /// Of the sync thread: outside the host's capabilities (guest code, boundary, wasmtime).
    guest_cpu: f64,
    peak_rss_mib: f64,
    rss_before_mib: f64,
    guest_memory_mib: f64,
    wall: f64,
    projected: f64,
}

fn main() {
    if let Ok(size) = std::env::var("PERF_CHILD") {
        let size = size.parse().expect("PERF_CHILD is a number of people");
        child(size);
        return;
    }
    let sizes = sizes();
    let cache_dir = tempfile::tempdir().expect("a temporary directory");
    let starts = starts(&cache_dir.path().join("compiled"));
    let mut rows = Vec::new();
    let mut profiles = BTreeMap::new();
    let mut times = Vec::new();
    let profiled = if sizes.contains(&10_000) {
        Some(10_000)
    } else {
        sizes.iter().copied().max()
    };
    for &size in &sizes {
        eprintln!("perf_table: {size} synced people...");
        let started = Instant::now();
        let mut command = Command::new(std::env::current_exe().expect("this bench"));
        if Some(size) == profiled {
            command.env("PERF_PROFILE", "1");
        }
        let mut child = command
            .env("PERF_CHILD", size.to_string())
            .env("PERF_CACHE", cache_dir.path().join("compiled"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the child bench starts");
        let out = std::io::BufReader::new(child.stdout.take().expect("piped"));
        let mut profile = Vec::new();
        for line in out.lines() {
            let line = line.expect("the child's output");
            if let Some(json) = line.strip_prefix("ROW\t") {
                rows.push(serde_json::from_str::<Row>(json).expect("a row"));
            } else if let Some(text) = line.strip_prefix("PROFILE\t") {
                profile.push(text.to_string());
            } else {
                eprintln!("{line}");
            }
        }
        let status = child.wait().expect("the child ends");
        assert!(status.success(), "the bench of {size} people failed");
        let took = started.elapsed().as_secs_f64();
        eprintln!("perf_table: {size} synced people done in {took:.0} s");
        times.push(format!("{size}: {}", duration(took)));
        profiles.insert(size, profile);
    }
    print_table(&rows, &starts);
    println!(
        "bench time per size (generating, seeding and every run): {}",
        times.join(", ")
    );
    for lines in profiles.values().filter(|lines| !lines.is_empty()) {
        println!();
        for line in lines {
            println!("{line}");
        }
    }
}

fn sizes() -> Vec<usize> {
    let from_args: Vec<usize> = std::env::args()
        .skip(1)
        .flat_map(|a| {
            a.split(',')
                .filter_map(|s| s.trim().parse().ok())
                .collect::<Vec<_>>()
        })
        .collect();
    if !from_args.is_empty() {
        return from_args;
    }
    match std::env::var("PERF_SIZES") {
        Ok(list) => list
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect(),
        Err(_) => vec![1_000, 10_000, 50_000],
    }
}

/// Cold start (compile), warm start (from the compile cache) and one instantiation, each the
/// median of a few; `Runtime::load` includes the contract-version call and the self-check.
struct Starts {
    cold: Duration,
    warm: Duration,
    instantiate: Duration,
    component_mib: f64,
}

fn starts(cache_path: &std::path::Path) -> Starts {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let wasm = pcosync::DEFAULT_GUEST;
        let median = |mut v: Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        let mut cold = Vec::new();
        for _ in 0..3 {
            let runtime = Runtime::new(Limits::default()).unwrap();
            let started = Instant::now();
            let guest = runtime.load(wasm, None).await.unwrap();
            cold.push(started.elapsed());
            assert!(!guest.from_cache);
        }
        let cache = CompileCache::open_ambient(cache_path).unwrap();
        let runtime = Runtime::new(Limits::default()).unwrap();
        runtime.load(wasm, Some(&cache)).await.unwrap();
        let mut warm = Vec::new();
        for _ in 0..5 {
            let runtime = Runtime::new(Limits::default()).unwrap();
            let started = Instant::now();
            let guest = runtime.load(wasm, Some(&cache)).await.unwrap();
            warm.push(started.elapsed());
            assert!(guest.from_cache);
        }
        let guest = runtime.load(wasm, Some(&cache)).await.unwrap();
        let mut instantiate = Vec::new();
        for _ in 0..100 {
            let started = Instant::now();
            runtime.contract_version(&guest).await.unwrap();
            instantiate.push(started.elapsed());
        }
        Starts {
            cold: median(cold),
            warm: median(warm),
            instantiate: median(instantiate),
            component_mib: wasm.len() as f64 / (1 << 20) as f64,
        }
    })
}

// ---- One size, in a child process ---------------------------------------------------------

fn child(size: usize) {
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sandbox")
        .enable_all()
        .build()
        .unwrap();
    // The sync runs on this thread, on a current-thread runtime: its CPU clock is the sync's.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let seeded = Instant::now();
    let world = rt.block_on(World::start(size, &server));
    eprintln!(
        "  seeded {} people ({} in Rock, {} in PCO account \"{}\") in {:.1} s",
        world.congregation.people.len(),
        world.congregation.rock_people().count(),
        world.pco_people(),
        world.account.name,
        seeded.elapsed().as_secs_f64()
    );
    let runtime = Runtime::new(Limits::default()).unwrap();
    let cache = std::env::var_os("PERF_CACHE")
        .map(|p| CompileCache::open_ambient(std::path::Path::new(&p)).unwrap());
    let guest = rt
        .block_on(runtime.load(pcosync::DEFAULT_GUEST, cache.as_ref()))
        .unwrap();
    let timeline = Arc::new(Timeline::default());
    let capabilities = probe::timed(&world.capabilities(), &timeline);
    let account = world.account.clone();
    let sync_options = |run_id: &str, updates_only: bool| SyncOptions {
        run_id: run_id.into(),
        started_at: world.pco.now(),
        dry_run: false,
        updates_only: Some(updates_only),
        confirm: None,
    };
    let hour = Duration::from_secs(3600);

    // First sync.
    let before = world.pco_people();
    let (row, report, first_events) = measure(&world, &timeline, size, "first sync", || {
        let report = rt
            .block_on(runtime.sync(
                &guest,
                &capabilities,
                &account,
                &sync_options("first", false),
            ))
            .expect("the first sync");
        if std::env::var_os("PERF_DEBUG").is_some() {
            let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
            for person in &report.people {
                for action in &person.actions {
                    if let pcosync::bindings::engine::Action::Skipped(why) = action {
                        *reasons.entry(why.chars().take(90).collect()).or_default() += 1;
                    }
                }
            }
            eprintln!("  skipped in the first sync: {reasons:?}");
        }
        (summary(&report.counts), runtime.last_usage())
    });
    let first = row_with(row, report, |row| {
        row.pco_min = full_read(before) + row.pco_writes;
        row.rock_min = rock_read_min(size) + row.photos + row.rock_writes;
    });
    emit(&first);
    if std::env::var_os("PERF_PROFILE").is_some() {
        let parts: Vec<String> = by_capability(&first_events)
            .into_iter()
            .filter(|(what, _)| *what != "mark")
            .map(|(what, (calls, cpu, wall))| {
                format!("{what}: {calls} calls, {cpu:.1} s CPU, {wall:.1} s wall")
            })
            .collect();
        println!(
            "PROFILE\tThe first sync of {size}: sync thread {:.1} s CPU = guest {:.1} s + host capabilities ({}); sandboxes and the rest of the process {:.1} s CPU; wall {:.1} s.",
            first.sync_cpu,
            first.guest_cpu,
            parts.join("; "),
            first.process_cpu - first.sync_cpu,
            first.wall
        );
    }
    if skip("after-first") {
        return;
    }

    // No change: the wasm guest, then the native guest, on the same data.
    world.pco.advance_clock(hour);
    let after_first = world.pco_people();
    let (row, report, wasm_events) = measure(&world, &timeline, size, "no-change sync", || {
        let report = rt
            .block_on(runtime.sync(
                &guest,
                &capabilities,
                &account,
                &sync_options("quiet", false),
            ))
            .expect("the no-change sync");
        (summary(&report.counts), runtime.last_usage())
    });
    let wasm = row_with(row, report, |row| {
        row.pco_min = full_read(after_first);
        row.rock_min = rock_read_min(size);
    });
    emit(&wasm);

    world.pco.advance_clock(hour);
    let ports = NativePorts {
        capabilities: capabilities.clone(),
        namespace: account.name.clone(),
        runtime: &rt,
    };
    let (row, report, native_events) = measure(
        &world,
        &timeline,
        size,
        "no-change sync, native guest",
        || {
            let report = native::sync(&ports, &account, &sync_options("quiet-native", false))
                .expect("the native no-change sync");
            let c = &report.counts;
            (
                format!(
                    "synced {}, updated {}/{}, created {}",
                    c.synced, c.updated_to_pco, c.updated_to_rock, c.created
                ),
                None,
            )
        },
    );
    let native_row = row_with(row, report, |row| {
        row.pco_min = full_read(after_first);
        row.rock_min = rock_read_min(size);
    });
    emit(&native_row);
    if std::env::var_os("PERF_PROFILE").is_some() {
        profile(size, &wasm, &native_row, &wasm_events, &native_events);
        engine_settings(&world, &timeline, &rt, &capabilities, size, &native_row);
    }

    // Updates only, after 1% changed.
    world.pco.advance_clock(hour);
    let changed = (size / 100).max(1);
    let (in_pco, in_rock) = rt.block_on(world.change(changed));
    world.pco.advance_clock(Duration::from_secs(60));
    let (row, report, _) = measure(
        &world,
        &timeline,
        size,
        "updates-only sync, 1% changed",
        || {
            let report = rt
                .block_on(runtime.sync(
                    &guest,
                    &capabilities,
                    &account,
                    &sync_options("updates", true),
                ))
                .expect("the updates-only sync");
            (summary(&report.counts), runtime.last_usage())
        },
    );
    let updates = row_with(row, report, |row| {
        // PCO: one page of the people changed there, and one write per person changed in
        // Rock; Rock: the full read (Rock has no "changed since" across all of it) and one
        // write per person changed in PCO.
        row.pco_min = in_pco.div_ceil(100) + in_rock;
        row.rock_min = rock_read_min(size) + in_pco;
    });
    emit(&updates);

    if skip("import") {
        return;
    }
    // Import: the PCO-only people of the same congregation, as a congregation that exists
    // only in PCO (a PCO sandbox holding them alone, a Rock sandbox holding only the groups,
    // fresh state).
    drop(world);
    let world = rt.block_on(World::pco_only(size, &server));
    let capabilities = probe::timed(&world.capabilities(), &timeline);
    let account = world.account.clone();
    let before = world.pco_people();
    let options = world.import_options("import");
    let (row, report, _) = measure(
        &world,
        &timeline,
        size,
        "import of the PCO-only people",
        || {
            let report = rt
                .block_on(runtime.import(&guest, &capabilities, &account, &options))
                .expect("the import");
            let c = &report.counts;
            (
                format!(
                    "{before} PCO people: imported {} (created in Rock {}), failed {}, skipped {}",
                    c.imported, c.created, c.failed, c.skipped
                ),
                runtime.last_usage(),
            )
        },
    );
    let import = row_with(row, report, |row| {
        row.pco_min = full_read(before);
        row.rock_min = row.rock_writes;
    });
    emit(&import);
}

/// Phases left out while developing: `PERF_SKIP=import` or `PERF_SKIP=after-first`.
fn skip(phase: &str) -> bool {
    std::env::var("PERF_SKIP").is_ok_and(|s| s.split(',').any(|p| p.trim() == phase))
}

fn summary(c: &pcosync::bindings::engine::Counts) -> String {
    format!(
        "synced {}, linked {}, created {}, updated {}/{}, raised {}, failed {}",
        c.synced, c.linked, c.created, c.updated_to_pco, c.updated_to_rock, c.raised, c.failed
    )
}

/// A full read of the PCO account: People with includes, and Services people with tags.
fn full_read(people: usize) -> usize {
    2 * people.div_ceil(100)
}

/// Rock's least for a full read of `synced` people, at the 2,000 rows a page `RestRock` asks
/// for: groups (1), members, PCO Tags values, people with phones, and family home addresses.
fn rock_read_min(synced: usize) -> usize {
    1 + 4 * synced.div_ceil(2000)
}

fn row_with(mut row: Row, what: String, finish: impl FnOnce(&mut Row)) -> Row {
    row.what = what;
    finish(&mut row);
    row
}

fn emit(row: &Row) {
    println!("ROW\t{}", serde_json::to_string(row).unwrap());
}

fn is_write(method: &str) -> bool {
    method != "GET"
}

/// Runs one phase and measures it.
fn measure(
    world: &World,
    timeline: &Timeline,
    size: usize,
    run: &str,
    body: impl FnOnce() -> (String, Option<pcosync::runtime::Usage>),
) -> (Row, String, Vec<Event>) {
    world.pco.clear_requests();
    world.rock.clear_requests();
    let rows0 = world.rest_rock.rows_read();
    timeline.clear();
    let reset = probe::reset_peak_rss();
    let rss_before = probe::rss_mib();
    let (process0, _) = probe::rusage();
    let thread0 = probe::thread_cpu();
    let wall0 = Instant::now();
    timeline.mark("start");
    let (what, usage) = body();
    timeline.mark("end");
    let wall = wall0.elapsed().as_secs_f64();
    let sync_cpu = probe::thread_cpu() - thread0;
    let (process1, maxrss) = probe::rusage();
    let peak = if reset { probe::peak_rss_mib() } else { maxrss };
    let events = timeline.take();
    let in_host: f64 = events.iter().map(|e| e.cpu_end - e.cpu_start).sum();
    let pco = world.pco.requests();
    let rock = world.rock.requests();
    let rows1 = world.rest_rock.rows_read();
    let high_offset = pco
        .iter()
        .filter(|r| offset_of(&r.path).is_some_and(|o| o > HIGH_OFFSET))
        .count();
    let windows = |requests: usize, per: usize| {
        requests.saturating_sub(1).checked_div(per).unwrap_or(0) as f64 * PCO_WINDOW_SECS
    };
    let paced =
        windows(pco.len(), PCO_PER_WINDOW).max(windows(high_offset, HIGH_OFFSET_PER_WINDOW));
    let row = Row {
        size,
        run: run.into(),
        what: String::new(),
        pco_requests: pco.len(),
        pco_writes: pco.iter().filter(|r| is_write(&r.method)).count(),
        pco_min: 0,
        rock_requests: rock.len(),
        rock_writes: rock.iter().filter(|r| is_write(&r.method)).count(),
        rock_min: 0,
        rock_rows: rows1.read - rows0.read,
        rock_rows_unasked: rows1.unasked - rows0.unasked,
        photos: pco
            .iter()
            .filter(|r| r.method == "POST" && r.path.starts_with("/v2/files"))
            .count(),
        process_cpu: process1 - process0,
        sync_cpu,
        guest_cpu: sync_cpu - in_host,
        peak_rss_mib: peak,
        rss_before_mib: rss_before,
        guest_memory_mib: usage.map_or(0.0, |u| u.peak_memory_bytes as f64 / (1 << 20) as f64),
        wall,
        projected: wall.max(paced),
    };
    if std::env::var_os("PERF_DEBUG").is_some() {
        debug_requests(run, &pco, &rock);
        let mut by: BTreeMap<&str, (usize, f64, f64)> = BTreeMap::new();
        for e in &events {
            let entry = by
                .entry(e.what.split(' ').next().unwrap_or(""))
                .or_default();
            entry.0 += 1;
            entry.1 += e.cpu_end - e.cpu_start;
            entry.2 += (e.wall_end - e.wall_start).as_secs_f64();
        }
        eprintln!("  capability calls of {run} (calls, CPU s, wall s):");
        for (what, (n, cpu, wall)) in by {
            eprintln!("    {what:<22} {n:>7} {cpu:>8.3} {wall:>8.3}");
        }
    }
    (row, what, events)
}

fn offset_of(path: &str) -> Option<u64> {
    let query = path.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("offset="))
        .and_then(|v| v.parse().ok())
}

/// Requests by method and path shape (ids and queries left out), for development.
fn debug_requests(
    run: &str,
    pco: &[pco_sandbox::RequestRecord],
    rock: &[rock_sandbox::RequestRecord],
) {
    let shape = |method: &str, path: &str| {
        let path = path.split('?').next().unwrap_or("");
        let path: Vec<&str> = path
            .split('/')
            .map(|s| {
                if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() {
                    "{id}"
                } else {
                    s
                }
            })
            .collect();
        format!("{method} {}", path.join("/"))
    };
    let mut counts: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    for r in pco {
        let entry = counts
            .entry(format!("PCO  {}", shape(&r.method, &r.path)))
            .or_default();
        entry.0 += 1;
        entry.1 += r.duration_ms;
    }
    for r in rock {
        counts
            .entry(format!("Rock {}", shape(&r.method, &r.path)))
            .or_default()
            .0 += 1;
    }
    eprintln!("  requests of {run} (count, PCO sandbox ms serving them):");
    for (what, (n, ms)) in counts {
        eprintln!("    {n:>7} {ms:>8} {what}");
    }
}

// ---- Where the CPU of the no-change sync goes ---------------------------------------------

/// Calls, CPU and wall inside each capability.
fn by_capability(events: &[Event]) -> BTreeMap<&'static str, (usize, f64, f64)> {
    let mut by: BTreeMap<&str, (usize, f64, f64)> = BTreeMap::new();
    for e in events {
        let entry = by.entry(capability(&e.what)).or_default();
        entry.0 += 1;
        entry.1 += e.cpu_end - e.cpu_start;
        entry.2 += (e.wall_end - e.wall_start).as_secs_f64();
    }
    by
}

/// CPU of the sync thread by capability, and the guest's own CPU between calls, labelled by
/// the calls around it; wasm beside native.
fn profile(size: usize, wasm: &Row, native: &Row, wasm_events: &[Event], native_events: &[Event]) {
    let out = |text: String| println!("PROFILE\t{text}");
    out(format!(
        "Where the CPU of the no-change sync of {size} synced people goes (CPU seconds; the sync thread runs the guest and the host's capabilities, the sandboxes run on other threads of the process):"
    ));
    let (wh, nh) = (by_capability(wasm_events), by_capability(native_events));
    out("| part | calls | wasm run | native run | wall in the call (wasm run) |".into());
    out("| --- | --- | --- | --- | --- |".into());
    for (what, (calls, cpu, wall)) in &wh {
        if *what == "mark" {
            continue;
        }
        let native_cpu = nh.get(what).map_or(0.0, |n| n.1);
        out(format!(
            "| host: {what} | {calls} | {cpu:.3} | {native_cpu:.3} | {wall:.3} |"
        ));
    }
    out(format!(
        "| guest (outside the capabilities; for wasm: guest code, copies across the boundary, instantiation) | | {:.3} | {:.3} | |",
        wasm.guest_cpu, native.guest_cpu
    ));
    out(format!(
        "| sync thread in all | | {:.3} | {:.3} | |",
        wasm.sync_cpu, native.sync_cpu
    ));
    out(format!(
        "| sandboxes and the rest of the process (process CPU - sync thread) | | {:.3} | {:.3} | |",
        wasm.process_cpu - wasm.sync_cpu,
        native.process_cpu - native.sync_cpu
    ));
    out(format!(
        "wasm/native CPU: guest {:.2}x ({:.3} s / {:.3} s); whole sync thread {:.2}x",
        wasm.guest_cpu / native.guest_cpu.max(1e-9),
        wasm.guest_cpu,
        native.guest_cpu,
        wasm.sync_cpu / native.sync_cpu.max(1e-9)
    ));
    // The guest's CPU between calls, by the calls around it (progress reports left out).
    let gaps = |events: &[Event]| {
        let mut by: BTreeMap<String, (usize, f64)> = BTreeMap::new();
        let calls: Vec<&Event> = events
            .iter()
            .filter(|e| !e.what.starts_with("progress"))
            .collect();
        for pair in calls.windows(2) {
            let cpu = pair[1].cpu_start - pair[0].cpu_end;
            let key = format!("{} -> {}", pair[0].what, pair[1].what);
            let entry = by.entry(key).or_default();
            entry.0 += 1;
            entry.1 += cpu;
        }
        by
    };
    let (wg, ng) = (gaps(wasm_events), gaps(native_events));
    let mut rows: Vec<(&String, &(usize, f64))> = wg.iter().collect();
    rows.sort_by(|a, b| b.1.1.total_cmp(&a.1.1));
    out("Guest CPU between capability calls (the work done after the first call and before the second), largest first:".into());
    out("| between | times | wasm s | native s | ratio |".into());
    out("| --- | --- | --- | --- | --- |".into());
    for (key, (times, cpu)) in rows.into_iter().take(12) {
        let native_cpu = ng.get(key).map_or(0.0, |n| n.1);
        out(format!(
            "| {key} | {times} | {cpu:.3} | {native_cpu:.3} | {:.2}x |",
            cpu / native_cpu.max(1e-9)
        ));
    }
    let mut progress: BTreeMap<&str, usize> = BTreeMap::new();
    for e in wasm_events
        .iter()
        .filter(|e| e.what.starts_with("progress"))
    {
        *progress.entry(&e.what).or_default() += 1;
    }
    out(format!(
        "Progress reports (each a crossing of the boundary): {}",
        progress
            .iter()
            .map(|(what, n)| format!("{n} x {what}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let pco_bytes: usize = wasm_events
        .iter()
        .filter(|e| e.what.starts_with("pco."))
        .map(|e| e.bytes)
        .sum();
    out(format!(
        "PCO bodies handed to the guest: {:.1} MiB; Rock people handed to it: {}",
        pco_bytes as f64 / (1 << 20) as f64,
        wasm_events
            .iter()
            .filter(|e| e.what == "rock.people")
            .map(|e| e.bytes)
            .sum::<usize>()
    ));
}

/// The no-change sync again, the guest in engines configured here: what fuel metering and
/// epoch interruption cost the guest.
fn engine_settings(
    world: &World,
    timeline: &Timeline,
    rt: &tokio::runtime::Runtime,
    capabilities: &pcosync::Capabilities,
    size: usize,
    native: &Row,
) {
    let out = |text: String| println!("PROFILE\t{text}");
    out("What the host's engine settings cost the guest (the same no-change sync, the guest in an engine configured by the bench, host functions as the host's):".into());
    out("| engine | guest CPU s | guest / native |".into());
    out("| --- | --- | --- |".into());
    for (label, fuel, epoch) in [
        (
            "fuel + epoch (pcosync::runtime before its fuel-only change)",
            true,
            true,
        ),
        ("fuel only (as pcosync::runtime)", true, false),
        ("epoch only", false, true),
        ("neither", false, false),
    ] {
        let engine = Engine2::new(fuel, epoch);
        world.pco.advance_clock(Duration::from_secs(3600));
        let options = SyncOptions {
            run_id: format!("engine-{fuel}-{epoch}"),
            started_at: world.pco.now(),
            dry_run: false,
            updates_only: Some(false),
            confirm: None,
        };
        let (row, _, _) = measure(world, timeline, size, label, || {
            let report = rt
                .block_on(engine.sync(capabilities, &world.account, &options))
                .expect("the sync");
            (summary(&report.counts), None)
        });
        out(format!(
            "| {label} | {:.3} | {:.2}x |",
            row.guest_cpu,
            row.guest_cpu / native.guest_cpu.max(1e-9)
        ));
    }

    // The guest's parsing of PCO's People pages, natively, on the pages of one more run.
    world.pco.advance_clock(Duration::from_secs(3600));
    let ports = NativePorts {
        capabilities: capabilities.clone(),
        namespace: world.account.name.clone(),
        runtime: rt,
    };
    let options = SyncOptions {
        run_id: "capture".into(),
        started_at: world.pco.now(),
        dry_run: false,
        updates_only: Some(false),
        confirm: None,
    };
    timeline.capture();
    native::sync(&ports, &world.account, &options).expect("the sync");
    timeline.clear();
    let pages: Vec<Vec<u8>> = timeline
        .captured()
        .into_iter()
        .filter(|(path, _)| path == "/people/v2/people")
        .map(|(_, body)| body)
        .collect();
    let bytes: usize = pages.iter().map(Vec::len).sum();
    let time = |f: &dyn Fn(&[u8])| {
        let started = probe::thread_cpu();
        for page in &pages {
            f(page);
        }
        probe::thread_cpu() - started
    };
    let scan = time(&|page| {
        serde_json::from_slice::<serde::de::IgnoredAny>(page).expect("JSON");
    });
    let tree = time(&|page| {
        serde_json::from_slice::<serde_json::Value>(page).expect("JSON");
    });
    let parse = time(&|page| {
        pcosync_guest::pco_people::parse_people_document(page).expect("a people page");
    });
    let typed = time(&|page| {
        perf::typed::parse(page).expect("a people page");
    });
    let same = pages.iter().all(|page| {
        let guest = pcosync_guest::pco_people::parse_people_document(page).map(|p| p.0);
        guest.ok() == perf::typed::parse(page).ok()
    });
    out(format!(
        "The guest's `pco_people::parse_people_document` over the {} People pages ({:.1} MiB) of this sync, natively: {parse:.3} s CPU, of which building the serde_json::Value tree {tree:.3} s (a scan that builds nothing: {scan:.3} s); the rest, {:.3} s, is walking the tree (`parse_person`, `related`). Typed serde structs borrowing from the page, with `included` indexed once per page (benches/perf/typed.rs): {typed:.3} s for the same people ({}).",
        pages.len(),
        bytes as f64 / (1 << 20) as f64,
        parse - tree,
        if same {
            "identical output"
        } else {
            "OUTPUT DIFFERS from the guest's"
        }
    ));
}

fn capability(what: &str) -> &'static str {
    match what {
        "start" | "end" => "mark",
        w if w.starts_with("rock.") => "Rock (RestRock: HTTP, JSON, records)",
        w if w.starts_with("pco.") => "PCO (HttpPco: HTTP, JSON check)",
        w if w.starts_with("state.") => "state (SQLite)",
        w if w.starts_with("progress") => "progress",
        _ => "log",
    }
}

// ---- The table ----------------------------------------------------------------------------

fn print_table(rows: &[Row], starts: &Starts) {
    println!();
    println!(
        "pcosync performance: wasm guest through pcosync::runtime, RestRock -> Rock sandbox, HttpPco -> PCO sandbox (rate limit off), SQLite state; one process per size"
    );
    println!();
    println!(
        "| synced | run | PCO requests (min) | PCO writes | Rock requests (min) | Rock writes | Rock rows read (not asked for) | process CPU s | sync thread CPU s | guest CPU s | peak RSS MiB (before) | guest memory MiB | wall s | projected at PCO's limit | what the run did |"
    );
    println!(
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for r in rows {
        println!(
            "| {} | {} | {} ({}) | {} | {} ({}) | {} | {} ({}) | {:.2} | {:.2} | {:.2} | {:.0} ({:.0}) | {} | {:.2} | {} | {} |",
            r.size,
            r.run,
            r.pco_requests,
            r.pco_min,
            r.pco_writes,
            r.rock_requests,
            r.rock_min,
            r.rock_writes,
            r.rock_rows,
            r.rock_rows_unasked,
            r.process_cpu,
            r.sync_cpu,
            r.guest_cpu,
            r.peak_rss_mib,
            r.rss_before_mib,
            if r.guest_memory_mib > 0.0 {
                format!("{:.0}", r.guest_memory_mib)
            } else {
                "-".into()
            },
            r.wall,
            duration(r.projected),
            r.what
        );
    }
    let ratio = |size: usize| {
        let find = |run: &str| rows.iter().find(|r| r.size == size && r.run == run);
        let wasm = find("no-change sync")?;
        let native = find("no-change sync, native guest")?;
        Some(wasm.guest_cpu / native.guest_cpu.max(1e-9))
    };
    let mut sizes: Vec<usize> = rows.iter().map(|r| r.size).collect();
    sizes.dedup();
    for size in sizes {
        if let Some(ratio) = ratio(size) {
            println!(
                "| {size} | wasm/native guest CPU, no-change sync | | | | | | | {ratio:.2}x | | | | | |"
            );
        }
    }
    let ms = |d: Duration| {
        if d < Duration::from_millis(1) {
            format!("{:.0} us", d.as_secs_f64() * 1e6)
        } else {
            format!("{:.1} ms", d.as_secs_f64() * 1e3)
        }
    };
    println!(
        "| - | cold start: compile + check ({:.1} MiB component) | | | | | | | | | | {} | | |",
        starts.component_mib,
        ms(starts.cold)
    );
    println!(
        "| - | warm start: from the compile cache + check | | | | | | | | | | {} | | |",
        ms(starts.warm)
    );
    println!(
        "| - | instantiate: fresh store + instance + smallest call | | | | | | | | | | {} | | |",
        ms(starts.instantiate)
    );
    println!();
    println!(
        "min: PCO, a full read is 2 x ceil(P/100) (People with includes, Services people with tags; P = people the account holds before the run, which a full read must page through: after the first sync P exceeds the N synced by the PCO-only people; 2 x ceil(N/100) would be less by that); the first sync adds its writes at one request each as made (PCO takes no batch writes), so its min shows the excess reads only; updates-only: one page of the people changed in PCO plus one write per person changed in Rock. Rock: 1 + 4 x ceil(N/2000) reads (groups; members, PCO Tags values, people with phones, home addresses at 2,000 rows a page), plus for the first sync one image read per photo copied and its writes as made, for updates-only one write per person changed in PCO; import: the Rock writes alone (one request each: person, phone, address, group member)."
    );
    println!(
        "projected: max(wall, what PCO's limit forces: 20.3 s per 99 requests, and per 74 list requests at offsets above 30,000), as the host's pacer spaces them; waiting overlaps the host's own work, so this is a floor."
    );
}

fn duration(seconds: f64) -> String {
    if seconds >= 3600.0 {
        format!("{:.1} h", seconds / 3600.0)
    } else if seconds >= 60.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{seconds:.1} s")
    }
}
