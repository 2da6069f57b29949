//! The capabilities one guest call gets, cut down to what the call is for, in the host: the
//! guest's good manners are not a security boundary.
//!
//! - `pco` reaches the run's own account only. The guest names an account on each request;
//!   naming any other is refused with `unauthorized`, so a run of one account cannot use
//!   another account's credentials.
//! - `rock` writes reach the run's own account only (issue 24 item 14, R2, R3): `add-members`
//!   only into the groups the account syncs or imports into (the groups Rock configures for the
//!   account, its tag-mapped groups, the import's level groups), and person updates and tag
//!   changes only of people the call read as synced (members of those groups, people with a
//!   tag of the account), matched (`find-people`) or created. Anything else is refused with
//!   `unauthorized`, item by item, and never reaches Rock. A call that writes before it reads
//!   (a revert) gets the account's synced people read by the host, once.
//! - Tag changes write the call's own account's part of the shared "PCO Tags" attribute,
//!   on the value Rock holds right then (issue 24 item 9): other accounts' values written
//!   since the call read them are kept.
//! - A read-only call (a dry run, status, a run's detail, the choices) gets capabilities that
//!   refuse every write: PCO requests other than GET and uploads, Rock updates, creations, tags
//!   and memberships, and state commits.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::Capabilities;
use crate::bindings::pco::{Method, Request, Response};
use crate::bindings::rock::{
    FoundOrCreated, GonePerson, Group, Membership, Merge, NewPerson, Person, PersonQuery,
    PersonTags, PersonUpdate, Photo,
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

/// `capabilities` for one call of `account` with `access`; `groups` are the Rock groups the
/// configuration names for the call besides those Rock configures for the account: the
/// account's tag-mapped groups and, for an import, its level groups.
pub fn scoped(
    capabilities: &Capabilities,
    account: &str,
    access: Access,
    groups: &[i64],
) -> Capabilities {
    let mut scoped = capabilities.clone();
    scoped.pco = Arc::new(ScopedPco {
        inner: capabilities.pco.clone(),
        account: account.to_string(),
        access,
    });
    if access == Access::ReadOnly {
        scoped.rock = Arc::new(ReadOnlyRock(capabilities.rock.clone()));
        scoped.state = Arc::new(ReadOnlyState(capabilities.state.clone()));
    } else {
        scoped.rock = Arc::new(ScopedRock::new(capabilities.rock.clone(), account, groups));
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

/// Held while one call writes the "PCO Tags" attribute, which every account shares.
static SHARED_TAGS: std::sync::LazyLock<tokio::sync::Mutex<()>> =
    std::sync::LazyLock::new(|| tokio::sync::Mutex::new(()));

/// The Rock capability of one writing call of one account (see the module docs).
pub struct ScopedRock {
    inner: Arc<dyn Rock>,
    account: String,
    seen: Mutex<Seen>,
}

/// What the call may write to, as it learnt it from Rock's answers.
#[derive(Default)]
struct Seen {
    /// Groups the account syncs or imports into.
    groups: BTreeSet<i64>,
    /// Whether `groups` holds the groups Rock configures for the account.
    account_groups_read: bool,
    /// People read as synced or matched, or created by the call.
    people: BTreeSet<i64>,
    /// Whether the host read the account's synced people itself.
    synced_read: bool,
}

impl ScopedRock {
    pub fn new(inner: Arc<dyn Rock>, account: &str, groups: &[i64]) -> ScopedRock {
        ScopedRock {
            inner,
            account: account.to_string(),
            seen: Mutex::new(Seen {
                groups: groups.iter().copied().collect(),
                ..Seen::default()
            }),
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `value` of the "PCO Tags" attribute is a tag of this account (`Account:Tag`).
    fn own_tag(&self, value: &str) -> bool {
        value
            .trim()
            .strip_prefix(self.account.as_str())
            .and_then(|rest| rest.strip_prefix(':'))
            .is_some_and(|tag| !tag.is_empty())
    }

    /// Each person's "PCO Tags" value to write: this account's values as the call asks,
    /// every other account's as Rock holds them now, read again just before the write (R3,
    /// R12, issue 24 item 9). Several accounts share the attribute; a value written whole
    /// from what a run read at its start would take away what another account's run wrote
    /// meanwhile. A person Rock no longer returns is written as asked (Rock answers for them).
    async fn own_part_on_fresh(&self, tags: &[PersonTags]) -> Result<Vec<PersonTags>, Error> {
        let ids: Vec<i64> = tags.iter().map(|t| t.person_id).collect();
        let now: BTreeMap<i64, Vec<String>> = self
            .inner
            .people(&ids)
            .await?
            .into_iter()
            .map(|person| (person.id, person.pco_tags))
            .collect();
        Ok(tags
            .iter()
            .map(|asked| match now.get(&asked.person_id) {
                None => asked.clone(),
                Some(held) => PersonTags {
                    person_id: asked.person_id,
                    tags: held
                        .iter()
                        .filter(|value| !self.own_tag(value))
                        .chain(asked.tags.iter().filter(|value| self.own_tag(value)))
                        .cloned()
                        .collect(),
                },
            })
            .collect())
    }

    fn learn_members(&self, members: &[Membership]) {
        let mut seen = self.seen();
        let Seen { groups, people, .. } = &mut *seen;
        people.extend(
            members
                .iter()
                .filter(|m| groups.contains(&m.group_id))
                .map(|m| m.person_id),
        );
    }

    fn learn_tagged(&self, tagged: &[PersonTags]) {
        let mut seen = self.seen();
        seen.people.extend(
            tagged
                .iter()
                .filter(|p| p.tags.iter().any(|t| self.own_tag(t)))
                .map(|p| p.person_id),
        );
    }

    /// The groups Rock configures for the account, read by the host once.
    async fn read_account_groups(&self) -> Result<(), Error> {
        if self.seen().account_groups_read {
            return Ok(());
        }
        let groups = self.inner.account_groups(&self.account).await?;
        let mut seen = self.seen();
        seen.groups.extend(groups.iter().map(|g| g.id));
        seen.account_groups_read = true;
        Ok(())
    }

    /// The account's synced people (a superset: every member of its groups, whatever their
    /// type, and everyone with a tag of the account), read by the host once.
    async fn read_synced(&self) -> Result<(), Error> {
        if self.seen().synced_read {
            return Ok(());
        }
        self.read_account_groups().await?;
        let groups: Vec<i64> = self.seen().groups.iter().copied().collect();
        if !groups.is_empty() {
            let members = self.inner.active_members(&groups).await?;
            self.learn_members(&members);
        }
        let tagged = self.inner.tagged_people().await?;
        self.learn_tagged(&tagged);
        self.seen().synced_read = true;
        Ok(())
    }

    /// Which of `people` the call may write to: `Ok` for each allowed, the refusal otherwise.
    async fn allowed_people(&self, people: &[i64]) -> Vec<Result<(), Error>> {
        let known = |seen: &Seen, id: &i64| seen.people.contains(id);
        let missing = {
            let seen = self.seen();
            people.iter().any(|id| !known(&seen, id))
        };
        if missing && let Err(error) = self.read_synced().await {
            let seen = self.seen();
            return people
                .iter()
                .map(|id| {
                    if known(&seen, id) {
                        Ok(())
                    } else {
                        Err(error.clone())
                    }
                })
                .collect();
        }
        let seen = self.seen();
        people
            .iter()
            .map(|id| {
                if known(&seen, id) {
                    Ok(())
                } else {
                    Err(Error::new(
                        ErrorKind::Unauthorized,
                        format!(
                            "a write to Rock person {id} refused: this run of account \"{}\" did \
                             not read them as synced or matched",
                            self.account
                        ),
                    ))
                }
            })
            .collect()
    }

    /// Which of `members` the call may add: `Ok` for each allowed, the refusal otherwise.
    async fn allowed_groups(&self, members: &[Membership]) -> Vec<Result<(), Error>> {
        let missing = {
            let seen = self.seen();
            members.iter().any(|m| !seen.groups.contains(&m.group_id))
        };
        let read = if missing {
            self.read_account_groups().await
        } else {
            Ok(())
        };
        let seen = self.seen();
        members
            .iter()
            .map(|m| {
                if seen.groups.contains(&m.group_id) {
                    return Ok(());
                }
                read.clone()?;
                Err(Error::new(
                    ErrorKind::Unauthorized,
                    format!(
                        "adding Rock person {} to group {} refused: the group is not one that \
                         account \"{}\" syncs or imports into",
                        m.person_id, m.group_id, self.account
                    ),
                ))
            })
            .collect()
    }
}

/// Sends to `inner` the items `allowed` lets through, in one batch, and answers one result per
/// item, in order: the refusal for the others.
async fn only_allowed<T: Clone, R, F>(
    items: &[T],
    allowed: Vec<Result<(), Error>>,
    send: F,
) -> Vec<Result<R, Error>>
where
    F: AsyncFnOnce(&[T]) -> Vec<Result<R, Error>>,
{
    let through: Vec<T> = items
        .iter()
        .zip(&allowed)
        .filter(|(_, allowed)| allowed.is_ok())
        .map(|(item, _)| item.clone())
        .collect();
    let mut answers = if through.is_empty() {
        Vec::new()
    } else {
        send(&through).await
    }
    .into_iter();
    allowed
        .into_iter()
        .map(|allowed| match allowed {
            Ok(()) => answers.next().unwrap_or_else(|| {
                Err(Error::new(
                    ErrorKind::Internal,
                    "Rock gave no answer for this item",
                ))
            }),
            Err(refused) => Err(refused),
        })
        .collect()
}

#[async_trait]
impl Rock for ScopedRock {
    async fn account_groups(&self, account: &str) -> Result<Vec<Group>, Error> {
        let groups = self.inner.account_groups(account).await?;
        if account == self.account {
            let mut seen = self.seen();
            seen.groups.extend(groups.iter().map(|g| g.id));
            seen.account_groups_read = true;
        }
        Ok(groups)
    }
    async fn groups(&self, ids: &[i64]) -> Result<Vec<Group>, Error> {
        self.inner.groups(ids).await
    }
    async fn active_members(&self, groups: &[i64]) -> Result<Vec<Membership>, Error> {
        let members = self.inner.active_members(groups).await?;
        self.learn_members(&members);
        Ok(members)
    }
    async fn tagged_people(&self) -> Result<Vec<PersonTags>, Error> {
        let tagged = self.inner.tagged_people().await?;
        self.learn_tagged(&tagged);
        Ok(tagged)
    }
    async fn people(&self, ids: &[i64]) -> Result<Vec<Person>, Error> {
        self.inner.people(ids).await
    }
    async fn follow_merges(&self, people: &[GonePerson]) -> Result<Vec<Merge>, Error> {
        self.inner.follow_merges(people).await
    }
    async fn find_people(&self, queries: &[PersonQuery]) -> Result<Vec<Vec<Person>>, Error> {
        let found = self.inner.find_people(queries).await?;
        self.seen()
            .people
            .extend(found.iter().flatten().map(|p| p.id));
        Ok(found)
    }
    async fn update_people(&self, updates: &[PersonUpdate]) -> Vec<Result<(), Error>> {
        let ids: Vec<i64> = updates.iter().map(|u| u.id).collect();
        let allowed = self.allowed_people(&ids).await;
        only_allowed(updates, allowed, async |through| {
            self.inner.update_people(through).await
        })
        .await
    }
    async fn create_people(&self, people: &[NewPerson]) -> Vec<Result<i64, Error>> {
        let created = self.inner.create_people(people).await;
        self.seen()
            .people
            .extend(created.iter().filter_map(|c| c.as_ref().ok().copied()));
        created
    }
    async fn create_or_find_people(
        &self,
        people: &[NewPerson],
    ) -> Vec<Result<FoundOrCreated, Error>> {
        let answers = self.inner.create_or_find_people(people).await;
        self.seen()
            .people
            .extend(answers.iter().filter_map(|a| a.as_ref().ok().map(|f| f.id)));
        answers
    }
    async fn set_tags(&self, tags: &[PersonTags]) -> Vec<Result<(), Error>> {
        let ids: Vec<i64> = tags.iter().map(|t| t.person_id).collect();
        let allowed = self.allowed_people(&ids).await;
        // Every account's runs write the one shared attribute: one write at a time in this
        // process, each on the value Rock holds right then (issue 24 item 9).
        let _one_at_a_time = SHARED_TAGS.lock().await;
        let tags = match self.own_part_on_fresh(tags).await {
            Ok(tags) => tags,
            Err(error) => return tags.iter().map(|_| Err(error.clone())).collect(),
        };
        only_allowed(&tags, allowed, async |through| {
            self.inner.set_tags(through).await
        })
        .await
    }
    async fn add_members(&self, members: &[Membership]) -> Vec<Result<(), Error>> {
        let allowed = self.allowed_groups(members).await;
        only_allowed(members, allowed, async |through| {
            self.inner.add_members(through).await
        })
        .await
    }
    async fn photo(&self, id: i64) -> Result<Option<Photo>, Error> {
        self.inner.photo(id).await
    }
    async fn check_connection_status(&self, wanted: &str) -> Result<(), Error> {
        self.inner.check_connection_status(wanted).await
    }
    async fn people_with_logins(&self, ids: &[i64]) -> Result<Vec<i64>, Error> {
        self.inner.people_with_logins(ids).await
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
    async fn create_or_find_people(
        &self,
        people: &[NewPerson],
    ) -> Vec<Result<FoundOrCreated, Error>> {
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
    async fn check_connection_status(&self, wanted: &str) -> Result<(), Error> {
        self.0.check_connection_status(wanted).await
    }
    async fn people_with_logins(&self, ids: &[i64]) -> Result<Vec<i64>, Error> {
        self.0.people_with_logins(ids).await
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

#[cfg(test)]
mod tests {
    //! Issue 24 item 14 (R2, R3): the Rock capability of a writing call reaches the account's
    //! own groups and people only, as the PCO capability reaches its own account only.
    use std::sync::Arc;

    use super::ScopedRock;
    use crate::bindings::rock::PersonUpdate;
    use crate::bindings::rock::{Group, GroupType, Membership, NewPerson, PersonQuery, PersonTags};
    use crate::bindings::types::ErrorKind;
    use crate::rock::Rock;
    use crate::testing::{MemoryRock, RockData, blank_person};

    const SYNCED_GROUP: i64 = 10;
    const TAG_GROUP: i64 = 11;
    const LEVEL_GROUP: i64 = 12;
    const OTHER_ACCOUNT_GROUP: i64 = 20;
    const SECURITY_ROLE: i64 = 2;

    fn group(id: i64, account: Option<&str>) -> Group {
        Group {
            id,
            name: format!("group {id}"),
            group_type: GroupType {
                id: 1,
                guid: String::new(),
                name: "Serving Team".into(),
            },
            is_active: true,
            pco_account: account.map(str::to_string),
            level: None,
        }
    }

    /// Person 1 in the account's group, 2 in a tag-mapped group, 3 tagged for the account, 4
    /// tagged for another account, 5 in another account's group, 6 a Rock administrator, 7
    /// with an email to match.
    fn rock() -> Arc<MemoryRock> {
        let mut data = RockData {
            groups: vec![
                group(SYNCED_GROUP, Some("Main")),
                group(TAG_GROUP, None),
                group(LEVEL_GROUP, Some("Main")),
                group(OTHER_ACCOUNT_GROUP, Some("Other")),
                group(SECURITY_ROLE, None),
            ],
            members: [
                (SYNCED_GROUP, 1),
                (TAG_GROUP, 2),
                (OTHER_ACCOUNT_GROUP, 5),
                (SECURITY_ROLE, 6),
            ]
            .into_iter()
            .map(|(group_id, person_id)| Membership {
                group_id,
                person_id,
            })
            .collect(),
            ..RockData::default()
        };
        for id in 1..=7 {
            data.people.insert(id, blank_person(id));
        }
        data.people.get_mut(&3).unwrap().pco_tags = vec!["Main:Greeters".into()];
        data.people.get_mut(&4).unwrap().pco_tags = vec!["Other:Greeters".into()];
        data.people.get_mut(&7).unwrap().email = Some("seven@example.org".into());
        Arc::new(MemoryRock::new(data))
    }

    fn scoped(rock: &Arc<MemoryRock>, groups: &[i64]) -> ScopedRock {
        ScopedRock::new(rock.clone(), "Main", groups)
    }

    fn update(id: i64) -> PersonUpdate {
        PersonUpdate {
            id,
            changes: vec![],
        }
    }

    fn member(group_id: i64, person_id: i64) -> Membership {
        Membership {
            group_id,
            person_id,
        }
    }

    fn kinds<T>(answers: &[Result<T, crate::bindings::types::Error>]) -> Vec<Option<ErrorKind>> {
        answers
            .iter()
            .map(|a| a.as_ref().err().map(|e| e.kind))
            .collect()
    }

    const OK: Option<ErrorKind> = None;
    const REFUSED: Option<ErrorKind> = Some(ErrorKind::Unauthorized);

    /// Issue 24 item 14 (R2, R3): after the sync's reads, updates and tag changes reach the
    /// people read as synced (members of the account's and tag-mapped groups, people with a tag
    /// of the account) and no one else, each refused alone; nothing refused reaches Rock.
    #[tokio::test]
    async fn rock_updates_reach_only_people_read_as_synced_issue_24_item_14_r2_r3() {
        let rock = rock();
        let scope = scoped(&rock, &[TAG_GROUP]);
        let groups = scope.account_groups("Main").await.unwrap();
        let mut ids: Vec<i64> = groups.iter().map(|g| g.id).collect();
        ids.push(TAG_GROUP);
        scope.active_members(&ids).await.unwrap();
        scope.tagged_people().await.unwrap();
        // Read by id (any id the guest names) gives no right to write.
        scope.people(&[4, 5, 6, 7]).await.unwrap();
        let answers = scope
            .update_people(&[
                update(1),
                update(6),
                update(2),
                update(3),
                update(4),
                update(5),
            ])
            .await;
        assert_eq!(kinds(&answers), [OK, REFUSED, OK, OK, REFUSED, REFUSED]);
        let refusal = answers[1].as_ref().unwrap_err();
        assert!(refusal.message.contains("person 6"), "{}", refusal.message);
        let tags = |id| PersonTags {
            person_id: id,
            tags: vec!["Main:Greeters".into()],
        };
        let answers = scope.set_tags(&[tags(6), tags(3)]).await;
        assert_eq!(kinds(&answers), [REFUSED, OK]);
        let data = rock.data.lock().unwrap();
        assert!(
            data.people[&6].pco_tags.is_empty(),
            "refused tags were written"
        );
        assert_eq!(data.people[&3].pco_tags, ["Main:Greeters"]);
    }

    /// Issue 24 item 14 (R3): members of another account's groups, and of a group the guest
    /// only read, are not this account's to write.
    #[tokio::test]
    async fn members_of_groups_outside_the_account_give_no_right_issue_24_item_14_r3() {
        let rock = rock();
        let scope = scoped(&rock, &[]);
        scope.account_groups("Other").await.unwrap();
        scope
            .active_members(&[OTHER_ACCOUNT_GROUP, SECURITY_ROLE])
            .await
            .unwrap();
        let answers = scope.update_people(&[update(5), update(6)]).await;
        assert_eq!(kinds(&answers), [REFUSED, REFUSED]);
        assert!(!rock.calls().contains(&"update_people".to_string()));
    }

    /// Issue 24 item 14 (R4, R40): people matched by `find-people` and people the call created
    /// may be written; a call that writes before reading (a revert) is checked against the
    /// account's synced people, read by the host.
    #[tokio::test]
    async fn matched_created_and_reverted_people_may_be_written_issue_24_item_14_r4_r25() {
        let rock = rock();
        let scope = scoped(&rock, &[]);
        let query = PersonQuery {
            first_name: String::new(),
            last_name: String::new(),
            email: "seven@example.org".into(),
        };
        assert_eq!(scope.find_people(&[query]).await.unwrap()[0].len(), 1);
        let new = NewPerson {
            fields: vec![],
            connection_status: "Attendee".into(),
        };
        let created = scope.create_people(&[new]).await.remove(0).unwrap();
        let answers = scope.update_people(&[update(7), update(created)]).await;
        assert_eq!(kinds(&answers), [OK, OK]);

        // A revert reads no group: person 1 (in the account's group) and 3 (tagged for it)
        // may be written back, 6 may not.
        let revert = scoped(&rock, &[]);
        let answers = revert
            .update_people(&[update(1), update(6), update(3)])
            .await;
        assert_eq!(kinds(&answers), [OK, REFUSED, OK]);
    }

    /// Issue 24 item 14 (R2, R40): `add-members` only into the account's groups, its
    /// tag-mapped groups and the import's level groups: never into a security role or another
    /// account's group.
    #[tokio::test]
    async fn members_are_added_only_to_the_accounts_groups_issue_24_item_14_r2_r40() {
        let rock = rock();
        let scope = scoped(&rock, &[TAG_GROUP, LEVEL_GROUP]);
        let answers = scope
            .add_members(&[
                member(SYNCED_GROUP, 7),
                member(SECURITY_ROLE, 7),
                member(TAG_GROUP, 7),
                member(LEVEL_GROUP, 7),
                member(OTHER_ACCOUNT_GROUP, 7),
            ])
            .await;
        assert_eq!(kinds(&answers), [OK, REFUSED, OK, OK, REFUSED]);
        let refusal = answers[1].as_ref().unwrap_err();
        assert!(refusal.message.contains("group 2"), "{}", refusal.message);
        let data = rock.data.lock().unwrap();
        assert!(!data.members.contains(&member(SECURITY_ROLE, 7)));
        assert!(!data.members.contains(&member(OTHER_ACCOUNT_GROUP, 7)));
        assert!(data.members.contains(&member(LEVEL_GROUP, 7)));
    }

    /// Issue 24 item 14: a failed host read refuses the writes it was needed for, with Rock's
    /// error (retried next run), and writes nothing.
    #[tokio::test]
    async fn a_failed_scope_read_refuses_with_rocks_error_issue_24_item_14() {
        let rock = rock();
        rock.fail(
            "active_members",
            crate::bindings::types::Error::new(ErrorKind::Unavailable, "Rock is down"),
        );
        let scope = scoped(&rock, &[]);
        let answers = scope.update_people(&[update(1)]).await;
        assert_eq!(kinds(&answers), [Some(ErrorKind::Unavailable)]);
        assert!(!rock.calls().contains(&"update_people".to_string()));
    }
}
