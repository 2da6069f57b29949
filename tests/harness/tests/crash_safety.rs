//! R6: a first sync stopped dead at every point, then run again, never leaves two PCO people
//! for one Rock person, and links everyone it created.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use congregation::Congregation;
use pcosync::bindings::pco::{Method, Request, Response};
use pcosync::bindings::types::Error;
use pcosync::pco::Pco;
use pcosync::pco::http::HttpPco;
use pcosync::state::memory::MemoryState;
use pcosync::testing::silent;
use pcosync::{Capabilities, Limits, Runtime};
use pcosync_harness::{options, real_guest};
use tokio::sync::Notify;

/// Passes requests to PCO; the `kill_at`-th one reaches PCO, and then the run is stopped
/// dead, as by a killed process: whatever came after never happens.
struct Killing {
    inner: Arc<HttpPco>,
    kill_at: usize,
    sent: AtomicUsize,
    killed: Notify,
}

#[async_trait]
impl Pco for Killing {
    async fn send(&self, account: &str, request: &Request) -> Result<Response, Error> {
        let number = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        let answer = self.inner.send(account, request).await;
        if number == self.kill_at {
            self.killed.notify_one();
            std::future::pending::<()>().await;
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
        self.inner.upload(account, content_type, name, bytes).await
    }
}

/// Every PCO person's id and remote_id.
async fn pco_people(pco: &HttpPco, account: &str) -> Vec<(String, Option<i64>)> {
    let mut people = Vec::new();
    for offset in (0..).step_by(100) {
        let request = Request {
            method: Method::Get,
            path: "/people/v2/people".into(),
            query: vec![
                ("per_page".into(), "100".into()),
                ("offset".into(), offset.to_string()),
            ],
            headers: vec![],
            body: None,
        };
        let body: serde_json::Value =
            serde_json::from_slice(&pco.send(account, &request).await.unwrap().body).unwrap();
        let page = body["data"].as_array().unwrap().clone();
        for person in &page {
            people.push((
                person["id"].as_str().unwrap().to_string(),
                person["attributes"]["remote_id"].as_i64(),
            ));
        }
        if page.len() < 100 {
            break;
        }
    }
    people
}

fn links(state: &MemoryState) -> BTreeMap<i64, String> {
    state
        .dump()
        .into_iter()
        .filter_map(|((_, key), value)| {
            let rock_id = key.strip_prefix("person/")?.parse().ok()?;
            let record: serde_json::Value = serde_json::from_slice(&value).ok()?;
            Some((rock_id, record["pco"].as_str()?.to_string()))
        })
        .collect()
}

#[tokio::test]
async fn a_first_sync_killed_anywhere_and_rerun_leaves_no_duplicate() {
    let congregation = Congregation::generate(40, 21);
    let runtime = Runtime::new(Limits::default()).unwrap();
    let guest = runtime.load(real_guest(), None).await.unwrap();

    // How many requests an uninterrupted first sync makes: every one is a kill point.
    let (clean_sandbox, clean_pco) = pcosync::demo::pco_sandbox(&congregation, false)
        .await
        .unwrap();
    let world = pcosync::demo::world(&congregation);
    let account = world.account.clone();
    let capabilities = Capabilities {
        rock: world.rock.clone(),
        pco: Arc::new(clean_pco),
        state: Arc::new(MemoryState::default()),
        reporter: silent(),
    };
    let clean = runtime
        .sync(&guest, &capabilities, &account, &options(false))
        .await
        .unwrap();
    assert!(clean.counts.created > 0);
    let requests = clean_sandbox.requests().len();
    drop(clean_sandbox);

    let mut kills = 0;
    for kill_at in 1..=requests {
        let (sandbox, pco) = pcosync::demo::pco_sandbox(&congregation, false)
            .await
            .unwrap();
        let pco = Arc::new(pco);
        let before = sandbox.people_count(&account.name).unwrap();
        let world = pcosync::demo::world(&congregation);
        let state = Arc::new(MemoryState::default());
        let killing = Arc::new(Killing {
            inner: pco.clone(),
            kill_at,
            sent: AtomicUsize::new(0),
            killed: Notify::new(),
        });
        let interrupted = Capabilities {
            rock: world.rock.clone(),
            pco: killing.clone(),
            state: state.clone(),
            reporter: silent(),
        };
        let first = options(false);
        tokio::select! {
            _ = runtime.sync(&guest, &interrupted, &account, &first) => {}
            _ = killing.killed.notified() => kills += 1,
        }
        let resumed = Capabilities {
            rock: world.rock.clone(),
            pco: pco.clone(),
            state: state.clone(),
            reporter: silent(),
        };
        let report = runtime
            .sync(&guest, &resumed, &account, &options(false))
            .await
            .unwrap();
        assert_eq!(
            report.counts.failed, 0,
            "kill at {kill_at}: {:?}",
            report.people
        );

        let people = pco_people(&pco, &account.name).await;
        let links = links(&state);
        let mut stamped: BTreeMap<i64, Vec<&String>> = BTreeMap::new();
        for (id, remote) in &people {
            if let Some(rock_id) = remote {
                stamped.entry(*rock_id).or_default().push(id);
            }
        }
        for (rock_id, ids) in &stamped {
            assert_eq!(
                ids.len(),
                1,
                "kill at {kill_at}: Rock {rock_id} has PCO people {ids:?}"
            );
            assert_eq!(
                links.get(rock_id),
                Some(ids[0]),
                "kill at {kill_at}: Rock {rock_id} not linked to what it created"
            );
        }
        assert_eq!(
            people.len(),
            before + stamped.len(),
            "kill at {kill_at}: PCO people created without the Rock id"
        );
        // Nobody is linked twice.
        let mut linked: Vec<&String> = links.values().collect();
        linked.sort();
        linked.dedup();
        assert_eq!(
            linked.len(),
            links.len(),
            "kill at {kill_at}: two Rock people share a PCO person"
        );
    }
    assert!(kills >= requests - 1, "{kills} kills of {requests} points");
    println!("{kills} kill points checked");
}
