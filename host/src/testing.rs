//! In-memory, scriptable stand-ins for every capability, for tests and the offline demo.
//!
//! - [`MemoryRock`]: people, groups, memberships and tags held in memory; records every write;
//!   can be told to fail a call.
//! - [`ScriptedPco`]: answers each request with a closure; records every request.
//! - [`RecordingReporter`]: keeps the guest's events and progress.
//! - [`Unreachable`]: a capability that refuses every call (for calls that must not reach
//!   anything, such as a guest's self-check).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::bindings::log::Level;
use crate::bindings::pco::{Request, Response};
use crate::bindings::rock::{
    Fate, GonePerson, Group, Membership, Merge, NewPerson, Person, PersonQuery, PersonTags,
    PersonUpdate, Photo,
};
use crate::bindings::types::{Error, ErrorKind};
use crate::log::Reporter;
use crate::pco::Pco;
use crate::rock::Rock;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A Rock held in memory.
#[derive(Default)]
pub struct MemoryRock {
    pub data: Mutex<RockData>,
    /// Calls that fail, by name (e.g. "people"), with the error they answer.
    pub failures: Mutex<BTreeMap<String, Error>>,
    /// Every call made, by name, in order.
    pub calls: Mutex<Vec<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct RockData {
    pub groups: Vec<Group>,
    pub members: Vec<Membership>,
    pub people: BTreeMap<i64, Person>,
    pub merges: BTreeMap<i64, i64>,
    /// People marked deceased, whom `people` leaves out as Rock's lists do.
    pub deceased: BTreeSet<i64>,
    pub photos: BTreeMap<i64, Photo>,
    pub next_id: i64,
    /// People with a Rock login (a `UserLogin`).
    pub logins: BTreeSet<i64>,
}

impl MemoryRock {
    pub fn new(data: RockData) -> Self {
        MemoryRock {
            data: Mutex::new(data),
            ..Default::default()
        }
    }

    /// Makes the call `name` answer `error` from now on.
    pub fn fail(&self, name: &str, error: Error) {
        lock(&self.failures).insert(name.to_string(), error);
    }

    pub fn calls(&self) -> Vec<String> {
        lock(&self.calls).clone()
    }

    fn enter(&self, name: &str) -> Result<std::sync::MutexGuard<'_, RockData>, Error> {
        lock(&self.calls).push(name.to_string());
        match lock(&self.failures).get(name) {
            Some(error) => Err(error.clone()),
            None => Ok(lock(&self.data)),
        }
    }

    fn each<T, R>(
        &self,
        name: &str,
        items: &[T],
        mut apply: impl FnMut(&mut RockData, &T) -> Result<R, Error>,
    ) -> Vec<Result<R, Error>> {
        match self.enter(name) {
            Ok(mut data) => items.iter().map(|item| apply(&mut data, item)).collect(),
            Err(error) => items.iter().map(|_| Err(error.clone())).collect(),
        }
    }
}

#[async_trait]
impl Rock for MemoryRock {
    async fn account_groups(&self, account: &str) -> Result<Vec<Group>, Error> {
        let data = self.enter("account_groups")?;
        Ok(data
            .groups
            .iter()
            .filter(|g| g.pco_account.as_deref() == Some(account))
            .cloned()
            .collect())
    }

    async fn groups(&self, ids: &[i64]) -> Result<Vec<Group>, Error> {
        let data = self.enter("groups")?;
        Ok(data
            .groups
            .iter()
            .filter(|g| ids.contains(&g.id))
            .cloned()
            .collect())
    }

    async fn active_members(&self, groups: &[i64]) -> Result<Vec<Membership>, Error> {
        let data = self.enter("active_members")?;
        Ok(data
            .members
            .iter()
            // Rock's group member list leaves deceased people out, as its people list does.
            .filter(|m| groups.contains(&m.group_id) && !data.deceased.contains(&m.person_id))
            .cloned()
            .collect())
    }

    async fn tagged_people(&self) -> Result<Vec<PersonTags>, Error> {
        let data = self.enter("tagged_people")?;
        Ok(data
            .people
            .values()
            .filter(|p| !p.pco_tags.is_empty())
            .map(|p| PersonTags {
                person_id: p.id,
                tags: p.pco_tags.clone(),
            })
            .collect())
    }

    async fn people(&self, ids: &[i64]) -> Result<Vec<Person>, Error> {
        let data = self.enter("people")?;
        // Rock's people list leaves deceased people out (PersonService.Queryable).
        Ok(ids
            .iter()
            .filter(|id| !data.deceased.contains(id))
            .filter_map(|id| data.people.get(id).cloned())
            .collect())
    }

    async fn follow_merges(&self, people: &[GonePerson]) -> Result<Vec<Merge>, Error> {
        let data = self.enter("follow_merges")?;
        Ok(people
            .iter()
            .map(|gone| Merge {
                old_id: gone.id,
                fate: match data.merges.get(&gone.id) {
                    Some(survivor) => Fate::Merged(*survivor),
                    None if data.deceased.contains(&gone.id) => Fate::Deceased,
                    None if data.people.contains_key(&gone.id) => Fate::Present,
                    None => Fate::Unknown,
                },
            })
            .collect())
    }

    async fn find_people(&self, queries: &[PersonQuery]) -> Result<Vec<Vec<Person>>, Error> {
        let data = self.enter("find_people")?;
        let same = |a: &str, b: &str| a.trim().to_lowercase() == b.trim().to_lowercase();
        Ok(queries
            .iter()
            .map(|q| {
                data.people
                    .values()
                    // Candidates by email, as the real Rock backend answers: the guest
                    // decides on the names.
                    .filter(|p| p.email.as_deref().is_some_and(|e| same(e, &q.email)))
                    .cloned()
                    .collect()
            })
            .collect())
    }

    async fn people_with_logins(&self, ids: &[i64]) -> Result<Vec<i64>, Error> {
        let data = self.enter("people_with_logins")?;
        Ok(ids
            .iter()
            .copied()
            .filter(|id| data.logins.contains(id))
            .collect())
    }

    async fn update_people(&self, updates: &[PersonUpdate]) -> Vec<Result<(), Error>> {
        self.each("update_people", updates, |data, update| {
            let person = data
                .people
                .get_mut(&update.id)
                .ok_or_else(|| not_found(update.id))?;
            for change in &update.changes {
                crate::testing::apply(person, change);
            }
            Ok(())
        })
    }

    async fn create_people(&self, people: &[NewPerson]) -> Vec<Result<i64, Error>> {
        self.each("create_people", people, |data, new| {
            data.next_id = data
                .next_id
                .max(data.people.keys().max().copied().unwrap_or(0))
                + 1;
            let mut person = blank_person(data.next_id);
            for field in &new.fields {
                apply(&mut person, field);
            }
            data.people.insert(person.id, person);
            Ok(data.next_id)
        })
    }

    async fn set_tags(&self, tags: &[PersonTags]) -> Vec<Result<(), Error>> {
        self.each("set_tags", tags, |data, set| {
            let person = data
                .people
                .get_mut(&set.person_id)
                .ok_or_else(|| not_found(set.person_id))?;
            person.pco_tags = set.tags.clone();
            Ok(())
        })
    }

    async fn add_members(&self, members: &[Membership]) -> Vec<Result<(), Error>> {
        self.each("add_members", members, |data, member| {
            if !data.members.contains(member) {
                data.members.push(*member);
            }
            Ok(())
        })
    }

    async fn photo(&self, id: i64) -> Result<Option<Photo>, Error> {
        let data = self.enter("photo")?;
        Ok(data.photos.get(&id).cloned())
    }
}

fn not_found(id: i64) -> Error {
    Error::new(ErrorKind::NotFound, format!("no Rock person {id}"))
}

/// A person with nothing but an id.
pub fn blank_person(id: i64) -> Person {
    use crate::bindings::rock::Protection;
    use crate::bindings::types::Gender;
    Person {
        id,
        first_name: String::new(),
        nick_name: String::new(),
        middle_name: String::new(),
        last_name: String::new(),
        gender: Gender::Unknown,
        birthdate: None,
        married: false,
        anniversary: None,
        email: None,
        home_address: None,
        home_phone: None,
        work_phone: None,
        mobile_phone: None,
        photo_id: None,
        protection: Protection::Low,
        pco_tags: vec![],
        modified: None,
        primary_alias: None,
    }
}

/// Applies one field value to a person, as Rock would store it.
pub fn apply(person: &mut Person, change: &crate::bindings::types::FieldValue) {
    use crate::bindings::types::FieldValue as F;
    match change.clone() {
        F::FirstName(v) => person.first_name = v,
        F::NickName(v) => person.nick_name = v,
        F::MiddleName(v) => person.middle_name = v,
        F::LastName(v) => person.last_name = v,
        F::Gender(v) => person.gender = v,
        F::Birthdate(v) => person.birthdate = v,
        F::Anniversary(v) => person.anniversary = v,
        F::HomeAddress(v) => person.home_address = v,
        F::HomePhone(v) => person.home_phone = v,
        F::WorkPhone(v) => person.work_phone = v,
        F::MobilePhone(v) => person.mobile_phone = v,
        F::Email(v) => person.email = v,
    }
}

type Responder = dyn Fn(&str, &Request) -> Result<Response, Error> + Send + Sync;

/// A PCO that answers each request with a closure, and records what it was asked.
pub struct ScriptedPco {
    responder: Box<Responder>,
    requests: Mutex<Vec<(String, Request)>>,
}

impl ScriptedPco {
    pub fn new(
        responder: impl Fn(&str, &Request) -> Result<Response, Error> + Send + Sync + 'static,
    ) -> Self {
        ScriptedPco {
            responder: Box::new(responder),
            requests: Mutex::new(Vec::new()),
        }
    }

    /// Every (account, request) received, in order.
    pub fn requests(&self) -> Vec<(String, Request)> {
        lock(&self.requests).clone()
    }
}

#[async_trait]
impl Pco for ScriptedPco {
    async fn send(&self, account: &str, request: &Request) -> Result<Response, Error> {
        lock(&self.requests).push((account.to_string(), request.clone()));
        (self.responder)(account, request)
    }

    async fn upload(
        &self,
        account: &str,
        content_type: &str,
        filename: &str,
        bytes: &[u8],
    ) -> Result<String, Error> {
        let request = Request {
            method: crate::bindings::pco::Method::Post,
            path: format!("/upload/{filename}"),
            query: vec![("content-type".into(), content_type.into())],
            headers: vec![],
            body: Some(bytes.to_vec()),
        };
        self.send(account, &request)
            .await
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
    }
}

/// A JSON response with status 200.
pub fn json_response(body: &serde_json::Value) -> Response {
    Response {
        status: 200,
        headers: vec![("content-type".into(), "application/vnd.api+json".into())],
        body: body.to_string().into_bytes(),
    }
}

/// One guest event: level, message, fields.
pub type Event = (Level, String, Vec<(String, String)>);

/// Keeps every event and progress report of the guest.
#[derive(Default)]
pub struct RecordingReporter {
    pub events: Mutex<Vec<Event>>,
    pub progress: Mutex<Vec<(String, u64, Option<u64>)>>,
}

impl Reporter for RecordingReporter {
    fn event(&self, level: Level, message: &str, fields: &[(String, String)]) {
        lock(&self.events).push((level, message.to_string(), fields.to_vec()));
    }

    fn progress(&self, task: &str, done: u64, total: Option<u64>) {
        lock(&self.progress).push((task.to_string(), done, total));
    }
}

/// A reporter that drops everything.
pub fn silent() -> Arc<dyn Reporter> {
    struct Silent;
    impl Reporter for Silent {
        fn event(&self, _: Level, _: &str, _: &[(String, String)]) {}
        fn progress(&self, _: &str, _: u64, _: Option<u64>) {}
    }
    Arc::new(Silent)
}

/// Refuses every call: for guest calls that must reach nothing.
pub struct Unreachable;

fn refused() -> Error {
    Error::new(
        ErrorKind::Invalid,
        "this call may not reach Rock or Planning Center",
    )
}

#[async_trait]
impl Pco for Unreachable {
    async fn send(&self, _: &str, _: &Request) -> Result<Response, Error> {
        Err(refused())
    }
    async fn upload(&self, _: &str, _: &str, _: &str, _: &[u8]) -> Result<String, Error> {
        Err(refused())
    }
}

#[async_trait]
impl Rock for Unreachable {
    async fn account_groups(&self, _: &str) -> Result<Vec<Group>, Error> {
        Err(refused())
    }
    async fn groups(&self, _: &[i64]) -> Result<Vec<Group>, Error> {
        Err(refused())
    }
    async fn active_members(&self, _: &[i64]) -> Result<Vec<Membership>, Error> {
        Err(refused())
    }
    async fn tagged_people(&self) -> Result<Vec<PersonTags>, Error> {
        Err(refused())
    }
    async fn people(&self, _: &[i64]) -> Result<Vec<Person>, Error> {
        Err(refused())
    }
    async fn follow_merges(&self, _: &[GonePerson]) -> Result<Vec<Merge>, Error> {
        Err(refused())
    }
    async fn find_people(&self, _: &[PersonQuery]) -> Result<Vec<Vec<Person>>, Error> {
        Err(refused())
    }
    async fn update_people(&self, u: &[PersonUpdate]) -> Vec<Result<(), Error>> {
        u.iter().map(|_| Err(refused())).collect()
    }
    async fn create_people(&self, p: &[NewPerson]) -> Vec<Result<i64, Error>> {
        p.iter().map(|_| Err(refused())).collect()
    }
    async fn set_tags(&self, t: &[PersonTags]) -> Vec<Result<(), Error>> {
        t.iter().map(|_| Err(refused())).collect()
    }
    async fn add_members(&self, m: &[Membership]) -> Vec<Result<(), Error>> {
        m.iter().map(|_| Err(refused())).collect()
    }
    async fn photo(&self, _: i64) -> Result<Option<Photo>, Error> {
        Err(refused())
    }
}
