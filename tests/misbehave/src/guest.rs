//! A guest that misbehaves on purpose, to prove the host contains it.
//!
//! `sync` does what the account's name says:
//! - `loop`: spins forever (the host's CPU budget must stop it);
//! - `allocate`: grows memory without bound (the host's memory cap must stop it);
//! - `trap`: hits `unreachable` (the host must turn it into an error);
//! - `write-then-trap`: commits one state entry, then traps (a commit is durable: the host
//!   must keep it, since a guest relies on its commits, e.g. for create intents);
//! - `sleep`: sleeps for an hour (the host's wall-clock limit must stop it though nothing
//!   polls it meanwhile);
//! - `other-account`: asks PCO as the account `someone-else` (the host must refuse it) and
//!   fails with the error it got, or answers a report when it was let through;
//! - `write`: tries a state commit, a PCO POST and a Rock update, and fails with what became
//!   of each (`state=ok; pco=unauthorized; rock=...`): what a dry run must refuse;
//! - `huge-batch`: sends one PCO batch of 1001 reads of its own account and fails with the
//!   first error (the host refuses batches longer than 1000, sending nothing);
//! - `huge-scan`: scans its state for 100000 entries at once and fails with the error (the
//!   host refuses scans of more than 10000);
//! - anything else: answers an empty report.
//!
//! Features make the variants a host must refuse: `wrong-version` answers contract 0.3.0,
//! `trap-self-check` traps in its self-check.

#![allow(clippy::all)]

mod bindings {
    wit_bindgen::generate!({ path: "../../wit", world: "plugin", generate_all });
}

use bindings::exports::rockpco::sync::engine::{
    Account, AccountChoices, AccountStatus, AdminOptions, Counts, Guest, ImportOptions, Report,
    RevertOptions, RunDetail, RunKind, StatusOptions, SyncOptions,
};
use bindings::rockpco::sync::types::{Error, ErrorKind};
use bindings::rockpco::sync::{pco, rock, state};

struct Misbehaving;

impl Guest for Misbehaving {
    fn contract_version() -> String {
        if cfg!(feature = "wrong-version") {
            "0.4.0".to_string()
        } else {
            "0.3.0".to_string()
        }
    }

    fn self_check() -> Result<(), Error> {
        if cfg!(feature = "trap-self-check") {
            panic!("misbehaving on purpose, in the self-check");
        }
        Ok(())
    }

    fn sync(account: Account, options: SyncOptions) -> Result<Report, Error> {
        match account.name.as_str() {
            "loop" => spin(),
            "allocate" => hoard(),
            "trap" => panic!("misbehaving on purpose"),
            "write-then-trap" => {
                let entry = state::Entry {
                    key: "written".into(),
                    value: b"yes".to_vec(),
                };
                state::commit(&[state::Write::Put(entry)])?;
                panic!("misbehaving on purpose, after a commit")
            }
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                Ok(empty_report(&account, &options))
            }
            "other-account" => {
                pco::send("someone-else", &get_me())?;
                Ok(empty_report(&account, &options))
            }
            "huge-batch" => {
                let requests = vec![get_me(); 1001];
                let answers = pco::send_batch(&account.name, &requests);
                match answers.into_iter().find_map(Result::err) {
                    Some(error) => Err(error),
                    None => Ok(empty_report(&account, &options)),
                }
            }
            "huge-scan" => {
                state::scan("", None, 100_000)?;
                Ok(empty_report(&account, &options))
            }
            "write" => Err(Error {
                kind: ErrorKind::Invalid,
                message: try_writes(),
            }),
            _ => Ok(empty_report(&account, &options)),
        }
    }

    fn choices(_: Account) -> Result<AccountChoices, Error> {
        Err(refused())
    }

    fn status(_: Account, _: StatusOptions) -> Result<AccountStatus, Error> {
        Err(refused())
    }

    fn refresh(_: Account) -> Result<AccountStatus, Error> {
        Err(refused())
    }

    fn link(_: Account, _: i64, _: String) -> Result<(), Error> {
        Err(refused())
    }

    fn allow_create(_: Account, _: i64) -> Result<(), Error> {
        Err(refused())
    }

    fn delete(_: Account, _: Vec<String>, _: AdminOptions) -> Result<Report, Error> {
        Err(refused())
    }

    fn run(_: Account, _: String) -> Result<RunDetail, Error> {
        Err(refused())
    }

    fn revert(_: Account, _: RevertOptions) -> Result<Report, Error> {
        Err(refused())
    }

    fn import_people(_: Account, _: ImportOptions) -> Result<Report, Error> {
        Err(refused())
    }
}

/// This guest only misbehaves in `sync`; it does no administration.
fn refused() -> Error {
    Error {
        kind: ErrorKind::Invalid,
        message: "the misbehaving test guest does no administration".into(),
    }
}

fn get_me() -> pco::Request {
    pco::Request {
        method: pco::Method::Get,
        path: "/people/v2/me".into(),
        query: vec![],
        headers: vec![],
        body: None,
    }
}

/// `state=...; pco=...; rock=...`: `ok` or the kind of error each write got.
fn try_writes() -> String {
    let outcome = |result: Result<(), Error>| match result {
        Ok(()) => "ok".to_string(),
        Err(error) => match error.kind {
            ErrorKind::NotFound => "not-found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::RateLimited => "rate-limited",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Internal => "internal",
        }
        .to_string(),
    };
    let entry = state::Entry {
        key: "written".into(),
        value: b"yes".to_vec(),
    };
    let state = outcome(state::commit(&[state::Write::Put(entry)]));
    let post = pco::Request {
        method: pco::Method::Post,
        path: "/people/v2/people".into(),
        query: vec![],
        headers: vec![],
        body: Some(b"{}".to_vec()),
    };
    let pco = outcome(pco::send("write", &post).map(drop));
    let update = rock::PersonUpdate {
        id: 1,
        changes: vec![],
    };
    let rock = outcome(
        rock::update_people(&[update])
            .into_iter()
            .next()
            .unwrap_or(Ok(())),
    );
    format!("state={state}; pco={pco}; rock={rock}")
}

fn spin() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

fn hoard() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 1 << 20]);
        std::hint::black_box(&hoard);
    }
}

fn empty_report(account: &Account, options: &SyncOptions) -> Report {
    Report {
        run_id: options.run_id.clone(),
        kind: RunKind::Sync,
        account: account.name.clone(),
        dry_run: options.dry_run,
        held: false,
        counts: Counts {
            synced: 0,
            linked: 0,
            created: 0,
            updated_to_pco: 0,
            updated_to_rock: 0,
            conflicts: 0,
            raised: 0,
            lowered: 0,
            archived: 0,
            skipped: 0,
            failed: 0,
            imported: 0,
            deleted: 0,
            reverted: 0,
        },
        people: Vec::new(),
    }
}

bindings::export!(Misbehaving with_types_in bindings);
