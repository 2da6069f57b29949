//! What several accounts share in one Rock, proved through the compiled guest: the "PCO Tags"
//! person attribute holds every account's values (`account:group:tag`), so one account's run
//! must never take away what another account's run wrote meanwhile (SPEC R3, R12; issue 24
//! item 9).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use pcosync::bindings::pco::{Method, Request, Response};
use pcosync::bindings::types::Error;
use pcosync::pco::Pco;
use pcosync::testing::MemoryRock;
use pcosync_harness::{Harness, options};

/// The value another account's run writes while this account's run is under way.
const OTHER_ACCOUNT_VALUE: &str = "North Campus:Teams:Ushers";

/// PCO as the run reaches it, with another account's run writing to Rock meanwhile: at this
/// run's first write to PCO (after everything it read, before its Rock writes), the other
/// account adds its tag value to everyone in Rock. What this run read of the "PCO Tags"
/// attribute is then older than what Rock holds, as between two accounts' runs in production.
struct AnotherAccountWrites {
    pco: Arc<dyn Pco>,
    rock: Arc<MemoryRock>,
    written: AtomicBool,
}

impl AnotherAccountWrites {
    fn other_account_writes(&self) {
        if self.written.swap(true, Ordering::SeqCst) {
            return;
        }
        let mut data = self.rock.data.lock().unwrap();
        for person in data.people.values_mut() {
            person.pco_tags.push(OTHER_ACCOUNT_VALUE.into());
        }
    }
}

#[async_trait]
impl Pco for AnotherAccountWrites {
    async fn send(&self, account: &str, request: &Request) -> Result<Response, Error> {
        if request.method != Method::Get {
            self.other_account_writes();
        }
        self.pco.send(account, request).await
    }
    async fn send_batch(
        &self,
        account: &str,
        requests: &[Request],
    ) -> Vec<Result<Response, Error>> {
        if requests.iter().any(|r| r.method != Method::Get) {
            self.other_account_writes();
        }
        self.pco.send_batch(account, requests).await
    }
    async fn upload(
        &self,
        account: &str,
        content_type: &str,
        filename: &str,
        bytes: &[u8],
    ) -> Result<String, Error> {
        self.other_account_writes();
        self.pco
            .upload(account, content_type, filename, bytes)
            .await
    }
}

// R3, R12 (issue 24 item 9): two accounts share the "PCO Tags" attribute. A run used to write
// each person's whole value as it read it at the start, so another account's values written
// meanwhile were lost. A run writes its own account's part only, against the value Rock holds
// when it writes: the other account's values stay.
#[tokio::test]
async fn r3_a_run_keeps_the_tag_values_another_account_wrote_meanwhile() {
    let harness = Harness::new(80, 5).await;
    harness.sync(false).await.expect("the first sync runs");
    let account = harness.account();
    let mapping = account
        .tag_groups
        .first()
        .cloned()
        .expect("precondition: the account maps a tag to a group");
    let ours = format!("{}:{}", account.name, mapping.tag);
    // The mapped tag taken off by hand: the next run writes it back for every member.
    let members: Vec<i64> = {
        let mut data = harness.world.rock.data.lock().unwrap();
        let members: Vec<i64> = data
            .members
            .iter()
            .filter(|m| m.group_id == mapping.group_id)
            .map(|m| m.person_id)
            .collect();
        for id in &members {
            if let Some(person) = data.people.get_mut(id) {
                person.pco_tags.retain(|t| t != &ours);
            }
        }
        members
    };
    assert!(
        !members.is_empty(),
        "precondition: the mapped group has members"
    );

    // A Rock edit of someone else, so the run writes to PCO before it writes tags to Rock.
    let (edited, _) = harness
        .links()
        .into_iter()
        .find(|(id, _)| !members.contains(id))
        .expect("a linked person outside the group");
    harness.edit_rock(edited, |p| p.middle_name = "Quentin".into());

    let pco = Arc::new(AnotherAccountWrites {
        pco: harness.pco.clone(),
        rock: harness.world.rock.clone(),
        written: AtomicBool::new(false),
    });
    let capabilities = pcosync::Capabilities {
        pco: pco.clone(),
        ..harness.capabilities()
    };
    let report = harness
        .runtime
        .sync(&harness.guest, &capabilities, &account, &options(false))
        .await
        .expect("the sync runs");
    assert!(
        pco.written.load(Ordering::SeqCst),
        "precondition: the run wrote to PCO"
    );
    assert_eq!(report.counts.failed, 0, "{:?}", report.people);

    let data = harness.world.rock.data.lock().unwrap();
    for id in &members {
        let Some(person) = data.people.get(id) else {
            continue;
        };
        assert!(
            person.pco_tags.contains(&ours),
            "Rock {id}: this account's tag is not back: {:?}",
            person.pco_tags
        );
        assert!(
            person.pco_tags.iter().any(|t| t == OTHER_ACCOUNT_VALUE),
            "Rock {id}: the other account's value written meanwhile was lost: {:?}",
            person.pco_tags
        );
    }
}
