//! A process killed mid-run, simulated over the real capabilities: every call the guest makes
//! to Rock or PCO is counted, and at the chosen call the run is stopped dead. The run's future
//! is then dropped, so nothing after that point happens: no further request, no state commit,
//! exactly as if the process had been killed there.

use std::future::Future;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use pcosync::Capabilities;
use pcosync::bindings::pco::{Method, Request, Response};
use pcosync::bindings::rock::{
    GonePerson, Group, Membership, Merge, NewPerson, Person, PersonQuery, PersonTags, PersonUpdate,
    Photo,
};
use pcosync::bindings::types::Error;
use pcosync::pco::Pco;
use pcosync::rock::Rock;
use tokio::sync::Notify;

/// Where, counting the guest's Rock and PCO calls from 1, the process dies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillPoint {
    /// Just before call n leaves: everything up to call n-1 and the state writes after it
    /// happened.
    Before(usize),
    /// Just after call n was answered, before the guest sees the answer: the other system did
    /// the work, and the guest never learns of it (the worst moment for a create, R6).
    After(usize),
    /// Never: the run completes (used to count a run's calls).
    Never,
}

/// Records calls and stops the run at its kill point.
pub struct KillSwitch {
    point: KillPoint,
    /// Each call so far, named: "rock.people", "POST /people/v2/people"...
    calls: Mutex<Vec<String>>,
    killed: Notify,
}

/// How a run that may be killed ended.
#[derive(Debug)]
pub enum Ending<T> {
    Finished(T),
    Killed,
}

impl KillSwitch {
    pub fn new(point: KillPoint) -> Arc<KillSwitch> {
        Arc::new(KillSwitch {
            point,
            calls: Mutex::new(Vec::new()),
            killed: Notify::new(),
        })
    }

    /// The calls the guest made so far, in order (the killing one included).
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The call a kill point stops at, by name.
    pub fn call(&self, number: usize) -> Option<String> {
        self.calls().get(number.checked_sub(1)?).cloned()
    }

    /// `capabilities` with Rock and PCO behind this switch; the state is left as it is.
    pub fn wrap(self: &Arc<Self>, capabilities: Capabilities) -> Capabilities {
        Capabilities {
            rock: Arc::new(KillingRock {
                inner: capabilities.rock,
                switch: self.clone(),
            }),
            pco: Arc::new(KillingPco {
                inner: capabilities.pco,
                switch: self.clone(),
            }),
            ..capabilities
        }
    }

    /// Runs `run` until it finishes or this switch kills it.
    pub async fn run<T>(&self, run: impl Future<Output = T>) -> Ending<T> {
        tokio::select! {
            finished = run => Ending::Finished(finished),
            _ = self.killed.notified() => Ending::Killed,
        }
    }

    async fn gate<T>(&self, name: String, call: impl Future<Output = T>) -> T {
        let number = {
            let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
            calls.push(name);
            calls.len()
        };
        if self.point == KillPoint::Before(number) {
            self.die().await;
        }
        let answer = call.await;
        if self.point == KillPoint::After(number) {
            self.die().await;
        }
        answer
    }

    /// Signals the kill and never returns: `run` drops the whole run at once.
    async fn die(&self) {
        self.killed.notify_one();
        std::future::pending::<()>().await;
    }
}

struct KillingPco {
    inner: Arc<dyn Pco>,
    switch: Arc<KillSwitch>,
}

#[async_trait]
impl Pco for KillingPco {
    async fn send(&self, account: &str, request: &Request) -> Result<Response, Error> {
        let name = format!("{} {}", method_name(&request.method), request.path);
        self.switch
            .gate(name, self.inner.send(account, request))
            .await
    }

    async fn upload(
        &self,
        account: &str,
        content_type: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<String, Error> {
        let upload = self.inner.upload(account, content_type, name, bytes);
        self.switch.gate("upload".into(), upload).await
    }
}

fn method_name(method: &Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Patch => "PATCH",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
    }
}

struct KillingRock {
    inner: Arc<dyn Rock>,
    switch: Arc<KillSwitch>,
}

#[async_trait]
impl Rock for KillingRock {
    async fn account_groups(&self, account: &str) -> Result<Vec<Group>, Error> {
        self.switch
            .gate(
                "rock.account_groups".into(),
                self.inner.account_groups(account),
            )
            .await
    }

    async fn groups(&self, ids: &[i64]) -> Result<Vec<Group>, Error> {
        self.switch
            .gate("rock.groups".into(), self.inner.groups(ids))
            .await
    }

    async fn active_members(&self, groups: &[i64]) -> Result<Vec<Membership>, Error> {
        self.switch
            .gate(
                "rock.active_members".into(),
                self.inner.active_members(groups),
            )
            .await
    }

    async fn tagged_people(&self) -> Result<Vec<PersonTags>, Error> {
        self.switch
            .gate("rock.tagged_people".into(), self.inner.tagged_people())
            .await
    }

    async fn people(&self, ids: &[i64]) -> Result<Vec<Person>, Error> {
        self.switch
            .gate("rock.people".into(), self.inner.people(ids))
            .await
    }

    async fn follow_merges(&self, people: &[GonePerson]) -> Result<Vec<Merge>, Error> {
        self.switch
            .gate(
                "rock.follow_merges".into(),
                self.inner.follow_merges(people),
            )
            .await
    }

    async fn find_people(&self, queries: &[PersonQuery]) -> Result<Vec<Vec<Person>>, Error> {
        self.switch
            .gate("rock.find_people".into(), self.inner.find_people(queries))
            .await
    }

    async fn update_people(&self, updates: &[PersonUpdate]) -> Vec<Result<(), Error>> {
        self.switch
            .gate(
                "rock.update_people".into(),
                self.inner.update_people(updates),
            )
            .await
    }

    async fn create_people(&self, people: &[NewPerson]) -> Vec<Result<i64, Error>> {
        self.switch
            .gate(
                "rock.create_people".into(),
                self.inner.create_people(people),
            )
            .await
    }

    async fn set_tags(&self, tags: &[PersonTags]) -> Vec<Result<(), Error>> {
        self.switch
            .gate("rock.set_tags".into(), self.inner.set_tags(tags))
            .await
    }

    async fn add_members(&self, members: &[Membership]) -> Vec<Result<(), Error>> {
        self.switch
            .gate("rock.add_members".into(), self.inner.add_members(members))
            .await
    }

    async fn photo(&self, id: i64) -> Result<Option<Photo>, Error> {
        self.switch
            .gate("rock.photo".into(), self.inner.photo(id))
            .await
    }
}
