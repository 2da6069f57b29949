//! Rock capability load: the requests and wall time to load 10,000 synced people with their
//! details (phones, home address, PCO Tags, photo reference) from the Rock sandbox over
//! loopback, and to find who is synced (account groups, their active members, tagged people).
//!
//! `cargo bench -p pcosync --bench rock_load` (PEOPLE=n to change the 10,000; MAX_NODES=100
//! to have the sandbox enforce OData's default `MaxNodeCount`, which a Rock install may keep).

use std::time::{Duration, Instant};

use congregation::Congregation;
use pcosync::rock::Rock;
use pcosync::rock::rest::{RestRock, RestRockOptions};
use pcosync::secret::Secret;
use rock_sandbox::{RockSandbox, SandboxOptions};
use url::Url;

struct Row {
    step: &'static str,
    people: usize,
    requests: usize,
    time: Duration,
}

#[tokio::main]
async fn main() {
    let people: usize = std::env::var("PEOPLE")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(10_000);
    // About 90% of a congregation is in Rock: generate enough for `people` Rock people.
    let congregation = Congregation::generate(people * 10 / 9 + 200, 1);
    let started = Instant::now();
    let max_node_count = std::env::var("MAX_NODES").ok().and_then(|n| n.parse().ok());
    let options = SandboxOptions {
        max_node_count,
        ..SandboxOptions::default()
    };
    let sandbox = RockSandbox::start_with(options, &congregation)
        .await
        .expect("the sandbox starts");
    eprintln!(
        "sandbox seeded with {} Rock people in {:.1?}",
        congregation.rock_people().count(),
        started.elapsed()
    );
    let options = RestRockOptions::new(
        Url::parse(&sandbox.base_url()).expect("a URL"),
        Secret::new(sandbox.token()),
    );
    let rock = RestRock::connect(options).await.expect("connects");
    let ids: Vec<i64> = congregation
        .rock_people()
        .filter_map(|m| sandbox.person_id(m.key))
        .take(people)
        .collect();

    let account = congregation.accounts[0].clone();
    let mut rows = Vec::new();

    sandbox.clear_requests();
    let started = Instant::now();
    let groups = rock.account_groups(&account).await.expect("groups");
    let group_ids: Vec<i64> = groups.iter().map(|g| g.id).collect();
    let members = rock.active_members(&group_ids).await.expect("members");
    let tagged = rock.tagged_people().await.expect("tags");
    rows.push(Row {
        step: "who is synced: account groups, members, tags",
        people: members.len() + tagged.len(),
        requests: sandbox.requests().len(),
        time: started.elapsed(),
    });

    sandbox.clear_requests();
    let started = Instant::now();
    let loaded = rock.people(&ids).await.expect("people");
    rows.push(Row {
        step: "people by id with their details",
        people: loaded.len(),
        requests: sandbox.requests().len(),
        time: started.elapsed(),
    });

    // Synced people are usually a subset of Rock: every other person, so ranges carry rows
    // nobody asked for.
    let sparse: Vec<i64> = ids.iter().copied().step_by(2).collect();
    sandbox.clear_requests();
    let started = Instant::now();
    let loaded = rock.people(&sparse).await.expect("people");
    rows.push(Row {
        step: "people by id, every other Rock person",
        people: loaded.len(),
        requests: sandbox.requests().len(),
        time: started.elapsed(),
    });

    println!();
    println!(
        "{:<48} {:>8} {:>9} {:>10} {:>14}",
        "Rock load (sandbox, loopback)", "people", "requests", "wall", "req/1000 ppl"
    );
    for row in &rows {
        println!(
            "{:<48} {:>8} {:>9} {:>8.0}ms {:>14.1}",
            row.step,
            row.people,
            row.requests,
            row.time.as_secs_f64() * 1000.0,
            row.requests as f64 * 1000.0 / row.people.max(1) as f64
        );
    }
}
