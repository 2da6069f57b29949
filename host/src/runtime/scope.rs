//! The capabilities one guest call gets, cut down to what the call is for, in the host: the
//! guest's good manners are not a security boundary.
//!
//! - `pco` reaches the run's own account only. The guest names an account on each request;
//!   naming any other is refused with `unauthorized`, so a run of one account cannot use
//!   another account's credentials.
//! - A read-only call (a dry run, status, a run's detail, the choices) gets capabilities that
//!   refuse every write: PCO requests other than GET and uploads, Rock updates, creations, tags
//!   and memberships, and state commits.

use std::sync::Arc;

use async_trait::async_trait;

use super::Capabilities;
use crate::bindings::pco::{Method, Request, Response};
use crate::bindings::rock::{
    GonePerson, Group, Membership, Merge, NewPerson, Person, PersonQuery, PersonTags, PersonUpdate,
    Photo,
};
use crate::bindings::state::{Entry, Write};
use crate::bindings::types::{Error, ErrorKind};
use crate::pco::Pco;
use crate::rock::Rock;
use crate::state::{StateError, StateStore};

/// What a guest call may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read and write (a sync, an import, a link...).
    Write,
    /// Read only: every write is refused by the host.
    ReadOnly,
}

impl Access {
    pub fn read_only_if(dry_run: bool) -> Access {
        if dry_run {
            Access::ReadOnly
        } else {
            Access::Write
        }
    }
}

/// `capabilities` for one call of `account` with `access`.
pub fn scoped(capabilities: &Capabilities, account: &str, access: Access) -> Capabilities {
    let mut scoped = capabilities.clone();
    scoped.pco = Arc::new(ScopedPco {
        inner: capabilities.pco.clone(),
        account: account.to_string(),
        access,
    });
    if access == Access::ReadOnly {
        scoped.rock = Arc::new(ReadOnlyRock(capabilities.rock.clone()));
        scoped.state = Arc::new(ReadOnlyState(capabilities.state.clone()));
    }
    scoped
}

fn read_only(what: &str) -> Error {
    Error::new(
        ErrorKind::Unauthorized,
        format!("{what} refused: this run is read-only (a dry run or a page that only shows)"),
    )
}

struct ScopedPco {
    inner: Arc<dyn Pco>,
    account: String,
    access: Access,
}

impl ScopedPco {
    fn check_account(&self, account: &str) -> Result<(), Error> {
        if account == self.account {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Unauthorized,
            format!(
                "this run is of PCO account \"{}\" and may reach no other (the guest asked for \
                 \"{account}\")",
                self.account
            ),
        ))
    }

    fn check(&self, account: &str, request: &Request) -> Result<(), Error> {
        self.check_account(account)?;
        if self.access == Access::ReadOnly && request.method != Method::Get {
            return Err(read_only(&format!(
                "PCO {:?} {}",
                request.method, request.path
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl Pco for ScopedPco {
    async fn send(&self, account: &str, request: &Request) -> Result<Response, Error> {
        self.check(account, request)?;
        self.inner.send(account, request).await
    }

    async fn send_batch(
        &self,
        account: &str,
        requests: &[Request],
    ) -> Vec<Result<Response, Error>> {
        if let Some(refused) = requests
            .iter()
            .find_map(|request| self.check(account, request).err())
        {
            return requests.iter().map(|_| Err(refused.clone())).collect();
        }
        self.inner.send_batch(account, requests).await
    }

    async fn upload(
        &self,
        account: &str,
        content_type: &str,
        filename: &str,
        bytes: &[u8],
    ) -> Result<String, Error> {
        self.check_account(account)?;
        if self.access == Access::ReadOnly {
            return Err(read_only("a PCO upload"));
        }
        self.inner
            .upload(account, content_type, filename, bytes)
            .await
    }
}

struct ReadOnlyRock(Arc<dyn Rock>);

fn refuse_all<T>(count: usize, what: &str) -> Vec<Result<T, Error>> {
    (0..count).map(|_| Err(read_only(what))).collect()
}

#[async_trait]
impl Rock for ReadOnlyRock {
    async fn account_groups(&self, account: &str) -> Result<Vec<Group>, Error> {
        self.0.account_groups(account).await
    }
    async fn groups(&self, ids: &[i64]) -> Result<Vec<Group>, Error> {
        self.0.groups(ids).await
    }
    async fn active_members(&self, groups: &[i64]) -> Result<Vec<Membership>, Error> {
        self.0.active_members(groups).await
    }
    async fn tagged_people(&self) -> Result<Vec<PersonTags>, Error> {
        self.0.tagged_people().await
    }
    async fn people(&self, ids: &[i64]) -> Result<Vec<Person>, Error> {
        self.0.people(ids).await
    }
    async fn follow_merges(&self, people: &[GonePerson]) -> Result<Vec<Merge>, Error> {
        self.0.follow_merges(people).await
    }
    async fn find_people(&self, queries: &[PersonQuery]) -> Result<Vec<Vec<Person>>, Error> {
        self.0.find_people(queries).await
    }
    async fn update_people(&self, updates: &[PersonUpdate]) -> Vec<Result<(), Error>> {
        refuse_all(updates.len(), "a Rock update")
    }
    async fn create_people(&self, people: &[NewPerson]) -> Vec<Result<i64, Error>> {
        refuse_all(people.len(), "a Rock person's creation")
    }
    async fn set_tags(&self, tags: &[PersonTags]) -> Vec<Result<(), Error>> {
        refuse_all(tags.len(), "a Rock tag change")
    }
    async fn add_members(&self, members: &[Membership]) -> Vec<Result<(), Error>> {
        refuse_all(members.len(), "a Rock group membership")
    }
    async fn photo(&self, id: i64) -> Result<Option<Photo>, Error> {
        self.0.photo(id).await
    }
}

struct ReadOnlyState(Arc<dyn StateStore>);

impl StateStore for ReadOnlyState {
    fn get(&self, namespace: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StateError> {
        self.0.get(namespace, keys)
    }

    fn scan(
        &self,
        namespace: &str,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Entry>, StateError> {
        self.0.scan(namespace, prefix, after, limit)
    }

    fn commit(&self, _: &str, writes: &[Write]) -> Result<(), StateError> {
        if writes.is_empty() {
            return Ok(());
        }
        Err(StateError(
            "a state commit refused: this run is read-only (a dry run or a page that only shows)"
                .into(),
        ))
    }
}
