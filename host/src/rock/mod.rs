//! The `rock` capability: typed, batched access to Rock RMS.
//!
//! [`Rock`] is what a backend provides; the guest reaches it through the WIT `rock` interface,
//! implemented here for [`HostState`] by delegation. The REST backend talks to Rock's API v1;
//! tests use an in-memory one.

pub mod choices;
pub mod rest;

use async_trait::async_trait;

use crate::bindings::rock::{
    FoundOrCreated, GonePerson, Group, Host, Membership, Merge, NewPerson, Person, PersonQuery,
    PersonTags, PersonUpdate, Photo,
};
use crate::bindings::types::Error;
use crate::runtime::HostState;

/// A Rock backend. Batch calls answer one result per item, in order.
#[async_trait]
pub trait Rock: Send + Sync {
    async fn account_groups(&self, account: &str) -> Result<Vec<Group>, Error>;
    async fn groups(&self, ids: &[i64]) -> Result<Vec<Group>, Error>;
    async fn active_members(&self, groups: &[i64]) -> Result<Vec<Membership>, Error>;
    async fn tagged_people(&self) -> Result<Vec<PersonTags>, Error>;
    async fn people(&self, ids: &[i64]) -> Result<Vec<Person>, Error>;
    async fn follow_merges(&self, people: &[GonePerson]) -> Result<Vec<Merge>, Error>;
    async fn find_people(&self, queries: &[PersonQuery]) -> Result<Vec<Vec<Person>>, Error>;
    /// Of these people, those with a Rock login (issue 24 item 15). A backend without logins
    /// keeps this default: nobody.
    async fn people_with_logins(&self, ids: &[i64]) -> Result<Vec<i64>, Error> {
        let _ = ids;
        Ok(Vec::new())
    }
    async fn update_people(&self, updates: &[PersonUpdate]) -> Vec<Result<(), Error>>;
    async fn create_people(&self, people: &[NewPerson]) -> Vec<Result<i64, Error>>;
    /// As [`Rock::create_people`], saying of each whether Rock took them for a person it
    /// holds (Rock's `POST api/People` is find-or-create). A backend that always creates
    /// keeps this default: `existing: false`.
    async fn create_or_find_people(
        &self,
        people: &[NewPerson],
    ) -> Vec<Result<FoundOrCreated, Error>> {
        self.create_people(people)
            .await
            .into_iter()
            .map(|answer| {
                answer.map(|id| FoundOrCreated {
                    id,
                    existing: false,
                })
            })
            .collect()
    }
    async fn set_tags(&self, tags: &[PersonTags]) -> Vec<Result<(), Error>>;
    async fn add_members(&self, members: &[Membership]) -> Vec<Result<(), Error>>;
    async fn photo(&self, id: i64) -> Result<Option<Photo>, Error>;

    /// The host's own: whether Rock has this connection status (by value or GUID), with
    /// the statuses it has in the error (R41, issue 24 item 23). Ok from a backend that has
    /// no list to check against (tests' in-memory Rock).
    async fn check_connection_status(&self, wanted: &str) -> Result<(), Error> {
        let _ = wanted;
        Ok(())
    }

    /// The host's own, never the guest's: sets the choices of the "PCO Tags" person attribute
    /// (its `values` qualifier, as [`choices::qualifier`] writes it) to `update(current)`.
    /// `None` from a backend that has no such attribute to offer choices on (tests' in-memory
    /// Rock).
    async fn set_tag_choices(
        &self,
        update: &(dyn for<'a> Fn(&'a str) -> String + Send + Sync),
    ) -> Result<Option<rest::ChoicesWrite>, Error> {
        let _ = update;
        Ok(None)
    }
}

type Answer<T> = wasmtime::Result<T>;

impl Host for HostState {
    async fn account_groups(&mut self, account: String) -> Answer<Result<Vec<Group>, Error>> {
        Ok(self.capabilities.rock.account_groups(&account).await)
    }

    async fn groups(&mut self, ids: Vec<i64>) -> Answer<Result<Vec<Group>, Error>> {
        Ok(self.capabilities.rock.groups(&ids).await)
    }

    async fn active_members(&mut self, groups: Vec<i64>) -> Answer<Result<Vec<Membership>, Error>> {
        Ok(self.capabilities.rock.active_members(&groups).await)
    }

    async fn tagged_people(&mut self) -> Answer<Result<Vec<PersonTags>, Error>> {
        Ok(self.capabilities.rock.tagged_people().await)
    }

    async fn people(&mut self, ids: Vec<i64>) -> Answer<Result<Vec<Person>, Error>> {
        Ok(self.capabilities.rock.people(&ids).await)
    }

    async fn follow_merges(
        &mut self,
        people: Vec<GonePerson>,
    ) -> Answer<Result<Vec<Merge>, Error>> {
        Ok(self.capabilities.rock.follow_merges(&people).await)
    }

    async fn find_people(
        &mut self,
        queries: Vec<PersonQuery>,
    ) -> Answer<Result<Vec<Vec<Person>>, Error>> {
        Ok(self.capabilities.rock.find_people(&queries).await)
    }

    async fn people_with_logins(&mut self, ids: Vec<i64>) -> Answer<Result<Vec<i64>, Error>> {
        Ok(self.capabilities.rock.people_with_logins(&ids).await)
    }

    async fn update_people(
        &mut self,
        updates: Vec<PersonUpdate>,
    ) -> Answer<Vec<Result<(), Error>>> {
        self.fenced()?;
        Ok(self.capabilities.rock.update_people(&updates).await)
    }

    async fn create_people(&mut self, people: Vec<NewPerson>) -> Answer<Vec<Result<i64, Error>>> {
        self.fenced()?;
        Ok(self.capabilities.rock.create_people(&people).await)
    }

    async fn create_or_find_people(
        &mut self,
        people: Vec<NewPerson>,
    ) -> Answer<Vec<Result<FoundOrCreated, Error>>> {
        Ok(self.capabilities.rock.create_or_find_people(&people).await)
    }

    async fn set_tags(&mut self, tags: Vec<PersonTags>) -> Answer<Vec<Result<(), Error>>> {
        self.fenced()?;
        Ok(self.capabilities.rock.set_tags(&tags).await)
    }

    async fn add_members(&mut self, members: Vec<Membership>) -> Answer<Vec<Result<(), Error>>> {
        self.fenced()?;
        Ok(self.capabilities.rock.add_members(&members).await)
    }

    async fn get_photo(&mut self, id: i64) -> Answer<Result<Option<Photo>, Error>> {
        Ok(self.capabilities.rock.photo(id).await)
    }
}
