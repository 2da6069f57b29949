//! The `rock` capability: typed, batched access to Rock RMS.
//!
//! [`Rock`] is what a backend provides; the guest reaches it through the WIT `rock` interface,
//! implemented here for [`HostState`] by delegation. The REST backend talks to Rock's API v1;
//! tests use an in-memory one.

pub mod choices;
pub mod rest;

use async_trait::async_trait;

use crate::bindings::rock::{
    GonePerson, Group, Host, Membership, Merge, NewPerson, Person, PersonQuery, PersonTags,
    PersonUpdate, Photo,
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
    async fn update_people(&self, updates: &[PersonUpdate]) -> Vec<Result<(), Error>>;
    async fn create_people(&self, people: &[NewPerson]) -> Vec<Result<i64, Error>>;
    async fn set_tags(&self, tags: &[PersonTags]) -> Vec<Result<(), Error>>;
    async fn add_members(&self, members: &[Membership]) -> Vec<Result<(), Error>>;
    async fn photo(&self, id: i64) -> Result<Option<Photo>, Error>;

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
