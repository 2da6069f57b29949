//! The guest's administration exports (R25, R31-R36, R40-R42), each one call in a fresh store
//! inside the same limits as a sync.

use super::{Access, Capabilities, Guest, RunError, Runtime, tag_groups};
use crate::bindings::engine::{
    Account, AccountChoices, AccountStatus, AdminOptions, ImportOptions, Report, RevertOptions,
    RunDetail, StatusOptions,
};

/// One export call: `$call` names the generated method, the rest are its arguments (cloned
/// into the call, which outlives the borrow). `groups:` names the Rock groups the call may add
/// members to besides the account's own (the account's tag-mapped groups when not given).
macro_rules! guest_call {
    ($self:ident, $guest:ident, $caps:ident, $access:expr, $account:ident, $call:ident $(, $arg:ident)*) => {
        guest_call!($self, $guest, $caps, $access, groups: tag_groups($account), $account, $call $(, $arg)*)
    };
    ($self:ident, $guest:ident, $caps:ident, $access:expr, groups: $groups:expr, $account:ident, $call:ident $(, $arg:ident)*) => {{
        let account = $account.clone();
        let groups = $groups;
        $(let $arg = $arg.clone();)*
        $self
            .call($guest, $caps, &account.name.clone(), $access, groups, move |plugin, store| {
                Box::pin(async move {
                    plugin
                        .rockpco_sync_engine()
                        .$call(store, &account $(, &$arg)*)
                        .await
                })
            })
            .await?
            .map_err(RunError::Guest)
    }};
}

impl Runtime {
    /// The account's welcome templates and tags in PCO, to choose from.
    pub async fn choices(
        &self,
        guest: &Guest,
        capabilities: &Capabilities,
        account: &Account,
    ) -> Result<AccountChoices, RunError> {
        guest_call!(
            self,
            guest,
            capabilities,
            Access::ReadOnly,
            account,
            call_choices
        )
    }

    pub async fn status(
        &self,
        guest: &Guest,
        capabilities: &Capabilities,
        account: &Account,
        options: &StatusOptions,
    ) -> Result<AccountStatus, RunError> {
        guest_call!(
            self,
            guest,
            capabilities,
            Access::ReadOnly,
            account,
            call_status,
            options
        )
    }

    pub async fn refresh(
        &self,
        guest: &Guest,
        capabilities: &Capabilities,
        account: &Account,
    ) -> Result<AccountStatus, RunError> {
        guest_call!(
            self,
            guest,
            capabilities,
            Access::Write,
            account,
            call_refresh
        )
    }

    pub async fn link(
        &self,
        guest: &Guest,
        capabilities: &Capabilities,
        account: &Account,
        rock_id: i64,
        pco_id: &str,
    ) -> Result<(), RunError> {
        let account = account.clone();
        let pco_id = pco_id.to_string();
        self.call(
            guest,
            capabilities,
            &account.name.clone(),
            Access::Write,
            tag_groups(&account),
            move |plugin, store| {
                Box::pin(async move {
                    plugin
                        .rockpco_sync_engine()
                        .call_link(store, &account, rock_id, &pco_id)
                        .await
                })
            },
        )
        .await?
        .map_err(RunError::Guest)
    }

    /// Lets the next sync create a person it holds because PCO may already hold them (R4).
    pub async fn allow_create(
        &self,
        guest: &Guest,
        capabilities: &Capabilities,
        account: &Account,
        rock_id: i64,
    ) -> Result<(), RunError> {
        let account = account.clone();
        self.call(
            guest,
            capabilities,
            &account.name.clone(),
            Access::Write,
            tag_groups(&account),
            move |plugin, store| {
                Box::pin(async move {
                    plugin
                        .rockpco_sync_engine()
                        .call_allow_create(store, &account, rock_id)
                        .await
                })
            },
        )
        .await?
        .map_err(RunError::Guest)
    }

    pub async fn delete(
        &self,
        guest: &Guest,
        capabilities: &Capabilities,
        account: &Account,
        pco_ids: &[String],
        options: &AdminOptions,
    ) -> Result<Report, RunError> {
        let pco_ids = pco_ids.to_vec();
        guest_call!(
            self,
            guest,
            capabilities,
            Access::read_only_if(options.dry_run),
            account,
            call_delete,
            pco_ids,
            options
        )
    }

    /// A run's summary and every write it made.
    pub async fn run_detail(
        &self,
        guest: &Guest,
        capabilities: &Capabilities,
        account: &Account,
        run_id: &str,
    ) -> Result<RunDetail, RunError> {
        let run_id = run_id.to_string();
        guest_call!(
            self,
            guest,
            capabilities,
            Access::ReadOnly,
            account,
            call_run,
            run_id
        )
    }

    pub async fn revert(
        &self,
        guest: &Guest,
        capabilities: &Capabilities,
        account: &Account,
        options: &RevertOptions,
    ) -> Result<Report, RunError> {
        guest_call!(
            self,
            guest,
            capabilities,
            Access::read_only_if(options.run.dry_run),
            account,
            call_revert,
            options
        )
    }

    pub async fn import(
        &self,
        guest: &Guest,
        capabilities: &Capabilities,
        account: &Account,
        options: &ImportOptions,
    ) -> Result<Report, RunError> {
        // R40: the import adds the people it brings in to the groups of their levels.
        let mut groups = tag_groups(account);
        groups.extend(options.level_groups.iter().map(|g| g.group_id));
        guest_call!(
            self,
            guest,
            capabilities,
            Access::read_only_if(options.run.dry_run),
            groups: groups,
            account,
            call_import_people,
            options
        )
    }
}
