//! The component glue: WIT exports call the engine; the engine's ports call the WIT imports.

use crate::api::{
    Account, AccountChoices, AccountStatus, AdminOptions, Guest, ImportOptions, Report,
    RevertOptions, RunDetail, StatusOptions, SyncOptions,
};
use crate::bindings::rockpco::sync::{log, pco, rock, state};
use crate::ports::{Level, Ports};
use crate::types::Error;

/// The most requests the host takes in one `send-batch` (the contract says 1000).
const MAX_BATCH: usize = 1000;

struct Component;

impl Guest for Component {
    fn contract_version() -> String {
        crate::CONTRACT_VERSION.to_string()
    }

    fn self_check() -> Result<(), Error> {
        crate::engine::self_check()
    }

    fn sync(account: Account, options: SyncOptions) -> Result<Report, Error> {
        crate::run::sync(&Imports, &account, &options)
    }

    fn choices(account: Account) -> Result<AccountChoices, Error> {
        crate::choices::choices(&Imports, &account)
    }

    fn status(account: Account, options: StatusOptions) -> Result<AccountStatus, Error> {
        crate::admin::status(&Imports, &account, &options)
    }

    fn refresh(account: Account) -> Result<AccountStatus, Error> {
        crate::admin::refresh(&Imports, &account)
    }

    fn link(account: Account, rock_id: i64, pco_id: String) -> Result<(), Error> {
        crate::admin::link(&Imports, &account, rock_id, &pco_id)
    }

    fn allow_create(account: Account, rock_id: i64) -> Result<(), Error> {
        crate::admin::allow_create(&Imports, &account, rock_id)
    }

    fn delete(
        account: Account,
        pco_ids: Vec<String>,
        options: AdminOptions,
    ) -> Result<Report, Error> {
        crate::admin::delete(&Imports, &account, &pco_ids, &options)
    }

    fn run(account: Account, run_id: String) -> Result<RunDetail, Error> {
        crate::audit::run_detail(&Imports, &account, &run_id)
    }

    fn revert(account: Account, options: RevertOptions) -> Result<Report, Error> {
        crate::revert::revert(&Imports, &account, &options)
    }

    fn import_people(account: Account, options: ImportOptions) -> Result<Report, Error> {
        crate::import::import(&Imports, &account, &options)
    }
}

crate::bindings::export!(Component with_types_in crate::bindings);

/// The ports, implemented by the host's imports.
struct Imports;

impl Ports for Imports {
    fn account_groups(&self, account: &str) -> Result<Vec<rock::Group>, Error> {
        rock::account_groups(account)
    }

    fn groups(&self, ids: &[i64]) -> Result<Vec<rock::Group>, Error> {
        rock::groups(ids)
    }

    fn active_members(&self, groups: &[i64]) -> Result<Vec<rock::Membership>, Error> {
        rock::active_members(groups)
    }

    fn tagged_people(&self) -> Result<Vec<rock::PersonTags>, Error> {
        rock::tagged_people()
    }

    fn people(&self, ids: &[i64]) -> Result<Vec<rock::Person>, Error> {
        rock::people(ids)
    }

    fn follow_merges(&self, people: &[rock::GonePerson]) -> Result<Vec<rock::Merge>, Error> {
        rock::follow_merges(people)
    }

    fn find_people(&self, queries: &[rock::PersonQuery]) -> Result<Vec<Vec<rock::Person>>, Error> {
        rock::find_people(queries)
    }

    fn update_people(&self, updates: &[rock::PersonUpdate]) -> Vec<Result<(), Error>> {
        rock::update_people(updates)
    }

    fn create_people(&self, people: &[rock::NewPerson]) -> Vec<Result<i64, Error>> {
        rock::create_people(people)
    }

    fn people_with_logins(&self, ids: &[i64]) -> Result<Vec<i64>, Error> {
        rock::people_with_logins(ids)
    }

    fn create_or_find_people(
        &self,
        people: &[rock::NewPerson],
    ) -> Vec<Result<rock::FoundOrCreated, Error>> {
        rock::create_or_find_people(people)
    }

    fn set_tags(&self, tags: &[rock::PersonTags]) -> Vec<Result<(), Error>> {
        rock::set_tags(tags)
    }

    fn add_members(&self, members: &[rock::Membership]) -> Vec<Result<(), Error>> {
        rock::add_members(members)
    }

    fn get_photo(&self, id: i64) -> Result<Option<rock::Photo>, Error> {
        rock::get_photo(id)
    }

    fn pco_upload(
        &self,
        account: &str,
        content_type: &str,
        filename: &str,
        bytes: &[u8],
    ) -> Result<String, Error> {
        pco::upload(account, content_type, filename, bytes)
    }

    fn pco_send(&self, account: &str, request: &pco::Request) -> Result<pco::Response, Error> {
        pco::send(account, request)
    }

    fn pco_send_batch(
        &self,
        account: &str,
        requests: &[pco::Request],
    ) -> Vec<Result<pco::Response, Error>> {
        // The host takes at most MAX_BATCH requests a call (the contract's `send-batch`).
        requests
            .chunks(MAX_BATCH)
            .flat_map(|chunk| pco::send_batch(account, chunk))
            .collect()
    }

    fn state_get(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        state::get(keys)
    }

    fn state_scan(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<state::Entry>, Error> {
        state::scan(prefix, after, limit)
    }

    fn state_commit(&self, writes: &[state::Write]) -> Result<(), Error> {
        state::commit(writes)
    }

    fn log(&self, level: Level, message: &str, fields: &[(String, String)]) {
        log::event(level, message, fields)
    }

    fn progress(&self, task: &str, done: u64, total: Option<u64>) {
        log::progress(task, done, total)
    }
}
