//! A faithful local stand-in for the Planning Center Online API, over loopback HTTP.
//!
//! Tests, benchmarks and the demo start a [`PcoSandbox`], point a client at
//! [`PcoSandbox::base_url`] with the HTTP Basic credentials of one of its
//! [`accounts`](PcoSandbox::accounts), and talk to it as they would to
//! `https://api.planningcenteronline.com`. What it models, and where each fact comes from, is in
//! `shared/research/pco-api.md` (section 10 is the checklist this crate follows).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use pco_sandbox::{PcoSandbox, SandboxOptions};
//!
//! let congregation = congregation::Congregation::generate(1_000, 42);
//! let sandbox = PcoSandbox::start_with(SandboxOptions::default(), &congregation).await?;
//! let main = &sandbox.accounts()[0];
//! // GET {base_url}/people/v2/people?per_page=100 with HTTP Basic main.app_id:main.secret
//! println!("{} {} {}", sandbox.base_url(), main.app_id, main.secret);
//! // ... run the code under test, then look at what happened:
//! assert!(sandbox.requests().iter().all(|r| r.status != 429));
//! let raised = sandbox.outbox().iter().filter(|e| e.kind == pco_sandbox::EmailKind::PermissionRaised).count();
//! # let _ = raised;
//! # Ok(())
//! # }
//! ```
//!
//! # What it serves
//! - People v2: `/people/v2/people` (list, create), `/people/v2/people/{id}` (read, patch,
//!   delete), `/people/v2/people/{id}/{emails,phone_numbers,addresses}` (list, create),
//!   `/people/v2/{emails,phone_numbers,addresses}[/{id}]` (list, read, patch, delete),
//!   `/people/v2/people/{id}/person_apps` (list, create), `/people/v2/apps`, `/people/v2/me`,
//!   `/people/v2/person_mergers`, `/people/v2` (the organization).
//! - `/services/v2/me`: the token's user in Services.
//! - Services v2: `/services/v2/people[/{id}]` (list, read, patch `permissions`),
//!   `/services/v2/people/{id}/tags`, `POST /services/v2/people/{id}/assign_tags`,
//!   `/services/v2/tag_groups[/{id}[/tags]]`, `/services/v2/email_templates[/{id}]`.
//! - Uploads: `POST /v2/files` (multipart, field `file`), the path of PCO's upload host.
//!
//! # What it refuses, from PCO's documented schema
//! Every API request is checked against `model/pco-schema.json` (PCO's documentation API and
//! pages, maintainer threads and recordings, each fact with its source; `model/README.md`)
//! before a route sees it: an undocumented path is PCO's JSON:API 404, a method the path does
//! not document is 405, an `include`, `where[...]` or `order` key outside the vertex's
//! `can_include`/`can_query`/`can_order` is 400 (with `source.parameter`), and a POST/PATCH
//! attribute outside the vertex's assignable lists is 422 "Forbidden Attribute"; `order=id`
//! is documented nowhere and refused; `fields[Type]=...` drops unnamed attributes and
//! relationships (#925). Details and sources: the `schema` module. `gender` is written in the
//! requested version's form only ("M"/"F" before 2022-07-14, "Male"/"Female" from it).
//!
//! Lists take `per_page` (default 25, capped to 1..=100), `offset`, `include`, `order`
//! (`attr` or `-attr`) and `where[attr]` / `where[attr][gt|gte|lt|lte]`; they answer with
//! `links.self/next/prev`, `meta.total_count`, `meta.count`, `meta.next.offset` and PCO's
//! `can_*` lists. People search: `where[search_name]`, `where[search_name_or_email]`,
//! `where[search_name_or_email_or_phone_number]`, `where[search_phone_number]`, exact
//! `where[first_name]`/`where[last_name]`/..., `where[remote_id]`; email search also via
//! `GET /people/v2/emails?where[address]=...` (the email's `person` relationship names its
//! owner; Email documents no `include`). With [`CreatedAtTies`] ([`PcoSandbox::set_created_at_ties`],
//! off by default) people share `created_at` seconds and ties on `order=created_at` come in a
//! new order on every request.
//!
//! Every API request needs HTTP Basic `app_id:secret` of an account (401 otherwise), counts
//! against that credential's rate limit (100 per 20 s unless configured, 75 per 20 s for
//! `offset` above 30,000; 429 with `Retry-After` past it) and carries
//! `X-PCO-API-Request-Rate-Count/Limit/Period` and `X-PCO-API-Processed-As-Version`.
//! `X-PCO-API-Version` selects the gender (`M`/`F` before 2022-07-14) and address (`street`
//! before 2023-03-21) shapes; the default is the latest.
//!
//! # The token user's roles
//! Every request runs as the user the token belongs to ([`PcoSandbox::set_token_user`];
//! an organization administrator unless set; [`TokenUser::people_editor_services`] and
//! [`TokenUser::people_manager_services`] build the others). Below People Editor, People writes
//! answer 403. With [`RoleRules`] (all on unless [`PcoSandbox::set_role_rules`] says otherwise):
//! - Services `permissions`/`media_permissions`/`song_permissions` (archiving included) need a
//!   Services Administrator or an organization administrator: 403 otherwise;
//! - the names of an organization or accounting administrator need an organization
//!   administrator: 422 "Forbidden Attribute" "You cannot assign first_name and last_name to
//!   this Person" (planningcenter/developers#1139);
//! - their emails, phone numbers and addresses likewise: 403 (#1096);
//! - `GET /people/v2/person_mergers` needs a People Manager: 403.
//!
//! Every 403 is `{"errors":[{"status":"403","title":"Forbidden","detail":"You do not have
//! access to this resource"}]}`.
//!
//! # Emails PCO would send (the outbox)
//! PCO's v2 API has no way to send the Services welcome email (planningcenter/developers#89:
//! "the People v2 API does not support this attribute"; #250: "there is no way to send emails
//! via the API"). Giving a person the Services app takes `app_id` and nothing else
//! (developer.planning.center/docs/#/apps/people/2022-07-14/vertices/person_app,
//! `create_assignable: ["app_id"]`):
//!
//! ```text
//! POST /people/v2/people/{id}/person_apps
//! {"data": {"type": "PersonApp", "attributes": {"app_id": 2}}}
//! ```
//!
//! and any other attribute, `email_template_id` included, is PCO's 422 `Forbidden Attribute`
//! ("email_template_id cannot be assigned"). The new Services profile starts at the
//! organization's default level ([`PcoSandbox::set_new_services_level`]). So the outbox never
//! holds an [`EmailKind::Welcome`]; it records:
//! - [`EmailKind::PermissionRaised`] whenever `PATCH /services/v2/people/{id}` raises
//!   `permissions` (or gives an archived person a level again) — seeds 002/004;
//! - [`EmailKind::OrgAdminLowered`] when an organization administrator's Services permission is
//!   lowered or archived, or People `site_administrator` is set false (all organization
//!   administrators are told; SPEC R50);
//! - [`EmailKind::LoginChanged`] when the primary email or phone number of a person who can
//!   log in (has an app) is changed or deleted (SPEC R19; PCO's exact trigger is unconfirmed).
//!
//! Every entry names the person (`person_id`) and their primary email (`to_address`, null when
//! they have none). Lowering anyone else sends nothing. `PATCH ... {"permissions": "Archived"}` archives a
//! Services person (`archived`, `archived_at`); a level unarchives them.
//!
//! # `updated_at`
//! People's `updated_at` moves when a person's own attributes change (a PATCH that changes
//! nothing leaves it), and when one of their emails, phone numbers or addresses is created,
//! changed or deleted, or their avatar is set. Services permission and tag changes do not move
//! it (seed 000). Every write gets a stamp strictly after the previous one (see [`ClockMode`]).
//!
//! # Admin endpoints (`/__sandbox/`)
//! Not authenticated, not rate limited, never faulted, not logged. JSON in and out.
//!
//! | request | does |
//! | --- | --- |
//! | `GET /__sandbox/` | base URL, account credentials, this list |
//! | `GET /__sandbox/faults` | `{"config": FaultConfig, "queued": [Fault]}` |
//! | `PUT /__sandbox/faults` | set the shares, e.g. `{"seed": 7, "server_error": 0.1, "reset": 0.05}` |
//! | `DELETE /__sandbox/faults` | all shares to 0, queue emptied |
//! | `POST /__sandbox/faults/next` | queue a fault for the next requests: `{"kind": "reset", "times": 2}`; kinds `server_error` (`status`), `reset`, `reset_after`, `slow` (`ms`), `hang`, `malformed`, `truncated`, `rate_limited` (`retry_after`) |
//! | `GET /__sandbox/rate_limit` / `PUT` | `{"enabled": true, "limit": 100, "period_secs": 20, "high_offset_from": 30000, "high_offset_limit": 75}` |
//! | `GET /__sandbox/requests` / `DELETE` | the request log ([`RequestRecord`]s, newest 200,000) / clear it |
//! | `GET /__sandbox/outbox` / `DELETE` | the emails ([`OutboxEmail`]s) / clear them |
//! | `GET /__sandbox/clock` | `{"now": "...Z", "unix": n}` |
//! | `POST /__sandbox/clock/advance` | `{"seconds": 3600}` |
//! | `GET /__sandbox/accounts/{account name}/people/{id}` | a person's whole state, including what the API does not show |
//! | `POST /__sandbox/accounts/{account name}/merge` | merge two people as PCO's UI would: `{"keep": "id", "remove": "id"}` |
//!
//! Fault kinds are described on [`FaultConfig`]; `path_prefix` limits faults to some paths.

mod clock;
mod edits;
mod faults;
mod jsonapi;
mod model;
mod query;
mod ratelimit;
mod records;
mod render;
mod resource;
mod routes;
mod schema;
mod seed;
mod server;
mod sparse;
mod state;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use congregation::Congregation;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use clock::ClockMode;
pub use faults::{Fault, FaultConfig};
pub use model::{SERVICES_APP_ID, WELCOME_TEMPLATE};
pub use ratelimit::{RateLimitConfig, UNLIMITED};
pub use records::{EmailKind, OutboxEmail, RequestRecord};
pub use state::{CreatedAtTies, ListDrift, RoleRules, TokenUser};

use crate::clock::{Clock, lock};
use crate::state::Shared;

/// How to start a sandbox.
#[derive(Clone, Debug)]
pub struct SandboxOptions {
    /// Where to listen; `127.0.0.1:0` (any free port) by default.
    pub addr: SocketAddr,
    /// Account names for [`PcoSandbox::start`]; [`PcoSandbox::start_with`] uses the
    /// congregation's accounts instead.
    pub accounts: Vec<String>,
    /// Seeds the credentials (so a seed gives the same app ids and secrets every run).
    pub seed: u64,
    pub rate_limit: RateLimitConfig,
    pub faults: FaultConfig,
    pub clock: ClockMode,
}

impl Default for SandboxOptions {
    fn default() -> SandboxOptions {
        SandboxOptions {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            accounts: vec!["Main Campus".to_string()],
            seed: 0,
            rate_limit: RateLimitConfig::default(),
            faults: FaultConfig::default(),
            clock: ClockMode::default(),
        }
    }
}

/// One account's personal access token: HTTP Basic `app_id:secret`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountCredentials {
    pub name: String,
    pub app_id: String,
    pub secret: String,
}

#[derive(Debug)]
pub enum SandboxError {
    Bind(SocketAddr, std::io::Error),
    NoAccounts,
    InvalidFaults(String),
}

impl fmt::Display for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SandboxError::Bind(addr, e) => write!(f, "PCO sandbox cannot listen on {addr}: {e}"),
            SandboxError::NoAccounts => f.write_str("PCO sandbox needs at least one account"),
            SandboxError::InvalidFaults(e) => write!(f, "invalid PCO sandbox fault settings: {e}"),
        }
    }
}

impl std::error::Error for SandboxError {}

/// A running sandbox. Dropping it stops the server (connections included).
pub struct PcoSandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl PcoSandbox {
    /// Starts with the accounts named in `options` and no people.
    pub async fn start(options: SandboxOptions) -> Result<PcoSandbox, SandboxError> {
        let accounts = options.accounts.clone();
        PcoSandbox::launch(options, &accounts, None).await
    }

    /// Starts with the congregation's accounts, each holding the congregation's people present
    /// in PCO there (PcoOnly and Both) with their drifted names and emails, levels, org admin
    /// and archived flags and tags. Ids are handed out in congregation order.
    pub async fn start_with(
        options: SandboxOptions,
        congregation: &Congregation,
    ) -> Result<PcoSandbox, SandboxError> {
        PcoSandbox::launch(options.clone(), &congregation.accounts, Some(congregation)).await
    }

    async fn launch(
        options: SandboxOptions,
        accounts: &[String],
        congregation: Option<&Congregation>,
    ) -> Result<PcoSandbox, SandboxError> {
        if accounts.is_empty() {
            return Err(SandboxError::NoAccounts);
        }
        let faults =
            faults::Faults::new(options.faults.clone()).map_err(SandboxError::InvalidFaults)?;
        let listener = TcpListener::bind(options.addr)
            .await
            .map_err(|e| SandboxError::Bind(options.addr, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| SandboxError::Bind(options.addr, e))?;
        let clock = Clock::new(options.clock);
        let (store, credentials) = seed::build(accounts, options.seed, congregation, clock.now());
        let shared = Arc::new(Shared::new(
            format!("http://{addr}"),
            credentials,
            store,
            clock,
            faults,
            ratelimit::RateLimiter::new(options.rate_limit),
        ));
        let (stop, stopped) = watch::channel(false);
        let router = routes::router(shared.clone());
        let task = tokio::spawn(server::accept_loop(
            listener,
            shared.clone(),
            router,
            stopped,
        ));
        tracing::info!(%addr, accounts = accounts.len(), "pco sandbox listening");
        Ok(PcoSandbox {
            shared,
            addr,
            stop,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn accounts(&self) -> Vec<AccountCredentials> {
        self.shared.credentials.clone()
    }

    pub fn account(&self, name: &str) -> Option<AccountCredentials> {
        self.shared
            .credentials
            .iter()
            .find(|c| c.name == name)
            .cloned()
    }

    pub fn faults(&self) -> FaultConfig {
        lock(&self.shared.faults).config().clone()
    }

    /// Sets the fault shares (and restarts their draw from `config.seed`).
    pub fn set_faults(&self, config: FaultConfig) -> Result<(), SandboxError> {
        lock(&self.shared.faults)
            .set(config)
            .map_err(SandboxError::InvalidFaults)
    }

    /// The next `times` API requests meet `fault`, before any share is drawn.
    pub fn inject_next(&self, fault: Fault, times: usize) {
        lock(&self.shared.faults).push(fault, times);
    }

    /// No more faults: shares to zero, queue emptied.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    pub fn rate_limit(&self) -> RateLimitConfig {
        lock(&self.shared.limiter).config()
    }

    /// New settings; every credential's window starts afresh.
    pub fn set_rate_limit(&self, config: RateLimitConfig) {
        lock(&self.shared.limiter).set(config);
    }

    /// The tokens of these accounts belong to one PCO user (one person's tokens for several
    /// organizations): PCO counts their requests against one rate limit. Unknown names are
    /// ignored.
    pub fn same_token_user(&self, accounts: &[&str]) {
        let credentials: Vec<String> = accounts
            .iter()
            .filter_map(|name| self.account(name))
            .map(|c| c.app_id)
            .collect();
        lock(&self.shared.limiter).same_user(&credentials);
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.log).clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    pub fn outbox(&self) -> Vec<OutboxEmail> {
        lock(&self.shared.outbox).clone()
    }

    pub fn clear_outbox(&self) {
        lock(&self.shared.outbox).clear();
    }

    /// The level a new Services profile starts at (Scheduled Viewer unless set): an
    /// organization administrator can raise the account's default in PCO.
    pub fn set_new_services_level(&self, level: congregation::Level) {
        lock(&self.shared.behaviour).new_services_level = level;
    }

    /// Whether `GET /services/v2/people` lists archived people (not by default).
    pub fn set_archived_listed(&self, listed: bool) {
        lock(&self.shared.behaviour).archived_listed = listed;
    }

    /// Whether PCO refuses to archive with `permissions: "Archived"` (422; not by default).
    pub fn set_archive_refused(&self, refused: bool) {
        lock(&self.shared.behaviour).archive_refused = refused;
    }

    /// Makes the People list move under a reader as [`ListDrift`] says (a fault; none by
    /// default).
    pub fn set_list_drift(&self, drift: ListDrift) {
        lock(&self.shared.behaviour).list_drift = drift;
    }

    /// How many Services requests for a person answer 404 right after they are given the
    /// Services app (0 unless set): PCO provisions the profile asynchronously.
    pub fn set_provisioning_lag(&self, requests: u32) {
        lock(&self.shared.behaviour).provisioning_lag = requests;
    }

    /// The roles of the user the accounts' tokens belong to (an organization administrator
    /// unless set): what `GET /people/v2/me` and `/services/v2/me` say, what People writes
    /// and Services' role attributes need.
    pub fn set_token_user(&self, user: TokenUser) {
        lock(&self.shared.behaviour).token_user = user;
    }

    /// Which of PCO's role refusals are on ([`RoleRules`]; all unless set).
    pub fn set_role_rules(&self, rules: RoleRules) {
        lock(&self.shared.behaviour).role_rules = rules;
    }

    pub fn role_rules(&self) -> RoleRules {
        lock(&self.shared.behaviour).role_rules
    }

    /// People created in the same second, their ties on `order=created_at` shuffled per
    /// request ([`CreatedAtTies`]; None, the default, turns it off). Setting it restamps every
    /// account's people: each `per_second` of them, in id order, share the first one's
    /// `created_at`.
    pub fn set_created_at_ties(&self, ties: Option<CreatedAtTies>) {
        lock(&self.shared.behaviour).created_at_ties = ties;
        if let Some(ties) = ties {
            let group = ties.per_second.max(1);
            let mut store = lock(&self.shared.store);
            for account in &mut store.accounts {
                let mut first = 0;
                for (n, p) in account.people.values_mut().enumerate() {
                    if n % group == 0 {
                        first = p.created_at;
                    }
                    p.created_at = first;
                }
            }
        }
    }

    /// Moves the sandbox clock forward (whole seconds).
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// The sandbox clock as PCO would write it (`2024-05-01T12:00:00Z`).
    pub fn now(&self) -> String {
        clock::format_time(self.shared.clock.now())
    }

    /// Adds an email template to `account` (an id after every existing one), as an
    /// administrator would in Services: an account can hold more than a page of them.
    pub fn add_email_template(&self, account: &str, subject: &str) -> Option<String> {
        let mut store = lock(&self.shared.store);
        let id = 1 + store
            .accounts
            .iter()
            .flat_map(|a| a.templates.iter().map(|t| t.id))
            .max()
            .unwrap_or(0);
        let now = self.shared.clock.now();
        let account = store.accounts.iter_mut().find(|a| a.name == account)?;
        account.templates.push(model::EmailTemplate {
            id,
            subject: subject.to_string(),
            kind: "custom".into(),
            created_at: now,
        });
        Some(id.to_string())
    }

    /// Adds a person tag group with its tags to `account` (ids after every existing one).
    pub fn add_tag_group(&self, account: &str, name: &str, tags: &[&str]) -> Option<()> {
        let mut store = lock(&self.shared.store);
        let group_id = 1 + store
            .accounts
            .iter()
            .flat_map(|a| a.tag_groups.iter().map(|g| g.id))
            .max()
            .unwrap_or(0);
        let last_tag = store
            .accounts
            .iter()
            .flat_map(|a| a.tags.iter().map(|t| t.id))
            .max()
            .unwrap_or(0);
        let account = store.accounts.iter_mut().find(|a| a.name == account)?;
        account.tag_groups.push(model::TagGroup {
            id: group_id,
            name: name.to_string(),
        });
        for (n, tag) in tags.iter().enumerate() {
            account.tags.push(model::Tag {
                id: last_tag + 1 + n as u64,
                group_id,
                name: tag.to_string(),
            });
        }
        Some(())
    }

    /// How many People people the account holds.
    pub fn people_count(&self, account: &str) -> Option<usize> {
        lock(&self.shared.store)
            .accounts
            .iter()
            .find(|a| a.name == account)
            .map(|a| a.people.len())
    }

    /// The PCO id of the person seeded from congregation member `key` in `account`.
    pub fn pco_id(&self, account: &str, key: u32) -> Option<String> {
        let store = lock(&self.shared.store);
        let account = store.accounts.iter().find(|a| a.name == account)?;
        account
            .people
            .values()
            .find(|p| p.congregation_key == Some(key))
            .map(|p| p.id.to_string())
    }

    /// Merges person `remove` into `keep` in `account`, as an administrator would in PCO's UI:
    /// `remove` disappears (404), its contacts move to `keep`, and
    /// `GET /people/v2/person_mergers` lists the merge.
    pub fn merge_people(&self, account: &str, keep: &str, remove: &str) -> Result<(), String> {
        let keep = keep
            .parse()
            .map_err(|_| format!("{keep} is not a person id"))?;
        let remove = remove
            .parse()
            .map_err(|_| format!("{remove} is not a person id"))?;
        routes::merge(&self.shared, account, keep, remove)
    }

    /// Everything the sandbox holds about a person (as `GET /__sandbox/accounts/{a}/people/{id}`).
    pub fn person_state(&self, account: &str, id: &str) -> Option<serde_json::Value> {
        routes::raw_person_state(&self.shared, account, id.parse().ok()?)
    }

    /// Stops accepting and closes every connection (hung requests included).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for PcoSandbox {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
