//! A full sync of N synced people against the PCO sandbox: requests of a no-change run beside
//! the minimum the API allows, and the CPU time the sync itself takes.
//!
//! `cargo bench -p pcosync --bench sync_requests` (SYNCED=10000 by default).
//!
//! The sandbox serves from other threads of this process; the sync runs on a thread of its
//! own, whose CPU time (guest and host capabilities, not the sandbox) is what is printed.

use std::sync::Arc;
use std::time::Instant;

use congregation::Congregation;
use pcosync::bindings::engine::SyncOptions;
use pcosync::state::memory::MemoryState;
use pcosync::testing::silent;
use pcosync::{Capabilities, Limits, Runtime};

fn main() {
    let synced: usize = std::env::var("SYNCED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let server = tokio::runtime::Runtime::new().unwrap();
    // Rock holds ~90% of a congregation; tag everyone in Rock so that `synced` are synced.
    let congregation = Congregation::generate(synced * 10 / 9 + 50, 3);
    let (sandbox, pco) = server
        .block_on(pcosync::demo::pco_sandbox(&congregation, false))
        .unwrap();
    let world = pcosync::demo::world(&congregation);
    let account = world.account.clone();
    {
        let mut data = world.rock.data.lock().unwrap();
        for person in data.people.values_mut().take(synced) {
            // An unmapped tag: tags mapped to groups follow membership instead (R14).
            person
                .pco_tags
                .push(format!("{}:Skills:Guitar", account.name));
        }
    }
    let capabilities = Capabilities {
        rock: world.rock.clone(),
        pco: Arc::new(pco),
        state: Arc::new(MemoryState::default()),
        reporter: silent(),
    };

    let run = |label: &str| {
        let capabilities = capabilities.clone();
        let account = account.clone();
        let label = label.to_string();
        std::thread::spawn(move || {
            let local = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            local.block_on(async {
                let runtime = Runtime::new(Limits::default()).unwrap();
                let guest = runtime.load(pcosync::DEFAULT_GUEST, None).await.unwrap();
                let options = SyncOptions {
                    run_id: label,
                    started_at: "2026-11-23T00:00:00Z".into(),
                    dry_run: false,
                    updates_only: None,
                    confirm: None,
                };
                let cpu = thread_cpu_seconds();
                let wall = Instant::now();
                let report = runtime
                    .sync(&guest, &capabilities, &account, &options)
                    .await
                    .unwrap();
                (
                    report,
                    thread_cpu_seconds() - cpu,
                    wall.elapsed().as_secs_f64(),
                )
            })
        })
        .join()
        .unwrap()
    };

    sandbox.clear_requests();
    let (first, first_cpu, first_wall) = run("first");
    let first_requests = sandbox.requests().len();
    let pco_people = sandbox.people_count(&account.name).unwrap();
    sandbox.clear_requests();
    let (quiet, quiet_cpu, quiet_wall) = run("quiet");
    let requests = sandbox.requests();
    let writes = requests.iter().filter(|r| r.method != "GET").count();
    let services_people = requests
        .iter()
        .filter(|r| r.path.starts_with("/services/v2/people"))
        .count();
    let people_reads = requests
        .iter()
        .filter(|r| r.path.starts_with("/people/v2/people"))
        .count();
    for write in requests.iter().filter(|r| r.method != "GET").take(5) {
        println!(
            "write in the no-change run: {} {}",
            write.method, write.path
        );
    }
    for person in quiet
        .people
        .iter()
        .filter(|p| !p.actions.is_empty())
        .take(5)
    {
        println!("no-change run reported: {person:?}");
    }
    let minimum_synced = 2 * synced.div_ceil(100);
    let minimum_held = 2 * pco_people.div_ceil(100);

    println!(
        "Full sync, {} synced people, PCO account holding {pco_people} people",
        quiet.counts.synced
    );
    println!("| run | PCO requests | writes | wall s | sync thread CPU s |");
    println!("| --- | --- | --- | --- | --- |");
    println!(
        "| first (links {}, creates {}) | {first_requests} | - | {first_wall:.2} | {first_cpu:.2} |",
        first.counts.linked, first.counts.created
    );
    println!(
        "| no change | {} (People pages {people_reads}, Services pages {services_people}, other {}) | {writes} | {quiet_wall:.2} | {quiet_cpu:.2} |",
        requests.len(),
        requests.len() - people_reads - services_people
    );
    println!(
        "Minimum reads: 2 x ceil(N/100) = {minimum_synced} for N = synced people; {minimum_held} for every person the account holds (what a full read must page through)."
    );
}

/// CPU time (user + system) of the calling thread, from /proc (Linux); 0 elsewhere.
fn thread_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/thread-self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
