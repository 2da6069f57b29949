//! A congregation of ten thousand: what the capability's benchmark will load.

mod common;

use std::time::Instant;

use common::Rock;
use congregation::Congregation;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_people_load_in_tens_of_requests() {
    let c = Congregation::generate(10_000, 1);
    let started = Instant::now();
    let rock = Rock::start(&c).await;
    let seeded = started.elapsed();
    let mut persons = 0;
    let mut requests = 0;
    for page in 1.. {
        let export = rock
            .get(&format!(
                "/api/People/Export?page={page}&pageSize=1000&attributeKeys=PCOTags"
            ))
            .await;
        requests += 1;
        let n = export["Persons"].as_array().map_or(0, Vec::len);
        if n == 0 {
            break;
        }
        persons += n;
    }
    assert_eq!(persons, c.rock_people().count() + 1);
    assert!(requests <= 12);
    // A batch by id as a client sends it to a 100-node Rock: a range of close ids.
    let batch: Vec<i64> = (0..500u32)
        .filter_map(|k| rock.sandbox.person_id(k))
        .collect();
    let (first, last) = (batch[0], batch[batch.len() - 1]);
    let by_id = rock
        .get(&format!(
            "/api/People?$filter=Id ge {first} and Id le {last}&$expand=PhoneNumbers"
        ))
        .await;
    let got: std::collections::HashSet<i64> = by_id
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["Id"].as_i64())
        .collect();
    assert!(batch.iter().all(|id| got.contains(id)));
    eprintln!(
        "seeded in {seeded:?}, everything read in {:?}",
        started.elapsed()
    );
}
