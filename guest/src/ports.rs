//! The guest's view of the outside world: one trait over the host's imports.
//!
//! The rules call only this trait, so they run natively in tests (with fakes) and in the
//! component (with the WIT imports, `component.rs`) unchanged.

use crate::bindings::rockpco::sync::{log, pco, rock, state};
use crate::types::Error;

pub use log::Level;

pub trait Ports {
    fn account_groups(&self, account: &str) -> Result<Vec<rock::Group>, Error>;
    fn groups(&self, ids: &[i64]) -> Result<Vec<rock::Group>, Error>;
    fn active_members(&self, groups: &[i64]) -> Result<Vec<rock::Membership>, Error>;
    fn tagged_people(&self) -> Result<Vec<rock::PersonTags>, Error>;
    fn people(&self, ids: &[i64]) -> Result<Vec<rock::Person>, Error>;
    fn follow_merges(&self, people: &[rock::GonePerson]) -> Result<Vec<rock::Merge>, Error>;
    fn find_people(&self, queries: &[rock::PersonQuery]) -> Result<Vec<Vec<rock::Person>>, Error>;
    /// Of these Rock people, those with a Rock login. Ports without logins (test fakes) keep
    /// this default: nobody.
    fn people_with_logins(&self, ids: &[i64]) -> Result<Vec<i64>, Error> {
        let _ = ids;
        Ok(Vec::new())
    }
    fn update_people(&self, updates: &[rock::PersonUpdate]) -> Vec<Result<(), Error>>;
    fn create_people(&self, people: &[rock::NewPerson]) -> Vec<Result<i64, Error>>;
    /// As `create_people`, saying of each whether Rock took them for a person it holds.
    /// Ports that cannot tell (test fakes) keep this default: made anew.
    fn create_or_find_people(
        &self,
        people: &[rock::NewPerson],
    ) -> Vec<Result<rock::FoundOrCreated, Error>> {
        self.create_people(people)
            .into_iter()
            .map(|answer| {
                answer.map(|id| rock::FoundOrCreated {
                    id,
                    existing: false,
                })
            })
            .collect()
    }
    fn set_tags(&self, tags: &[rock::PersonTags]) -> Vec<Result<(), Error>>;
    fn add_members(&self, members: &[rock::Membership]) -> Vec<Result<(), Error>>;
    fn get_photo(&self, id: i64) -> Result<Option<rock::Photo>, Error>;

    fn pco_send(&self, account: &str, request: &pco::Request) -> Result<pco::Response, Error>;
    fn pco_send_batch(
        &self,
        account: &str,
        requests: &[pco::Request],
    ) -> Vec<Result<pco::Response, Error>>;

    fn pco_upload(
        &self,
        account: &str,
        content_type: &str,
        filename: &str,
        bytes: &[u8],
    ) -> Result<String, Error>;

    fn state_get(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, Error>;
    fn state_scan(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<state::Entry>, Error>;
    fn state_commit(&self, writes: &[state::Write]) -> Result<(), Error>;

    fn log(&self, level: Level, message: &str, fields: &[(String, String)]);
    fn progress(&self, task: &str, done: u64, total: Option<u64>);
}
