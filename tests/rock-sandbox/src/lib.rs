//! A faithful local stand-in for Rock RMS's REST API v1, served over loopback HTTP for tests,
//! benchmarks and the demo. Behaviour follows `shared/research/rock.md` (section 13 is the
//! checklist); where Rock's behaviour was inferred rather than observed, so is ours.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use rock_sandbox::{RockSandbox, SandboxOptions};
//! let congregation = congregation::Congregation::generate(500, 7);
//! let rock = RockSandbox::start_with(SandboxOptions::default(), &congregation).await?;
//! // GET {rock.base_url()}/api/People?$top=10 with header Authorization-Token: {rock.token()}
//! # Ok(()) }
//! ```
//!
//! # Rock's model, by construction
//! Rock 17's REST v1 model is `model/rock-17.json` (summary in `model/README.md`; [`model`]
//! embeds and parses it once). For every entity it lists, the sandbox derives from it:
//! - what OData can query: exactly the properties with `in_odata_model` (a `[DataMember]` that
//!   is not `[NotMapped]`). Any other name in `$filter`, `$select` or `$orderby` (e.g.
//!   `PersonAlias.AliasPersonId`, `Person.FullName`, `IdKey`) and any navigation in `$expand`
//!   that is not `expandable` (e.g. `Person.Aliases`) is a 400 whose body is only
//!   `{"Message":"The query specified in the URI is not valid."}`: Rock's `customErrors` is
//!   On, so the inner reason ("Could not find a property named 'X' on type
//!   'Rock.Model.Y'.", "The node count limit of '100' has been exceeded.") is not sent; the
//!   sandbox keeps it in [`RequestRecord::detail`];
//! - what a row's JSON carries: only `serialized` properties and `[DataMember]` navigations
//!   (no `Aliases` on people, no `AliasPersonId` on aliases, which the sandbox keeps inside
//!   for merges); what a POST/PUT body binds: `[DataMember]`s only;
//! - enum members: compared by name in `$filter` (`GroupMemberStatus eq 'Active'` or `'1'`); an
//!   integer literal is the 400 (OData v3 types enums `Edm.String`); a misspelt name passes
//!   validation and fails binding (`Enum.Parse`): a 500 `{"Message":"An error has occurred."}`.
//!
//! `$filter` nodes are counted as Web API OData 5.7 counts them against `MaxNodeCount` 100 (see
//! [`odata_node_count`]): `Id eq 1` is 4, `and`/`or`/`not` 1, a Convert 1 more (nullable
//! column, enum, `null`), so a chain of `Id eq …` takes 20 ids.
//!
//! IIS stands in front: a POST, PUT or PATCH with neither `Content-Length` nor
//! `Transfer-Encoding` is http.sys's `411 Length Required` (HTML, whatever the route; reqwest
//! sends an empty body without a length, so set `Content-Length: 0`); a query string over
//! 16384 bytes is IIS's 404.15. Security: writes to phone numbers and group locations need
//! EDIT, which the REST key has unless [`SandboxOptions::entity_administration`] is false.
//!
//! # Rock's API as served
//! Controller names are case-insensitive; JSON is PascalCase, dates have no offset (the
//! organisation's local time, see [`SandboxOptions::time_zone`]), enums are integers in JSON,
//! errors are `{"Message": "..."}`. Authentication: `Authorization-Token: <key>` or
//! `?apikey=<key>`; anything else is 401 with an empty body.
//!
//! Generic routes for every controller (People, PersonAlias, PhoneNumbers, Groups, GroupTypes,
//! GroupTypeRoles, GroupMembers, GroupLocations, Locations, Attributes, AttributeQualifiers,
//! AttributeValues, DefinedTypes, DefinedValues, FieldTypes, EntityTypes, BinaryFiles,
//! BinaryFileTypes):
//! - `GET /api/{c}`: OData v3 `$filter` (eq ne gt ge lt le, and or not, parentheses,
//!   substringof startswith endswith tolower toupper trim length indexof year month day hour
//!   minute second, `'text'`, numbers, `datetime'…'`, `guid'…'`, true/false/null), `$orderby`,
//!   `$top`, `$skip`, `$select`, `$expand` (e.g. `PhoneNumbers`, `GroupLocations/Location`); no
//!   page cap; at most 100 nodes per `$filter` (see [`SandboxOptions::max_node_count`]); string
//!   comparisons case-insensitive as on SQL Server; anything unsupported is a 400.
//!   `?loadAttributes=simple|expanded&attributeKeys=K1,K2` fills `Attributes`/`AttributeValues`.
//!   People hides deceased people unless `includeDeceased=true`; GroupMembers hides archived
//!   members. A chain `Id eq 1 or Id eq 2 or …` is answered as a set lookup.
//! - `GET /api/{c}/{id}` (and `/api/{c}({id})`): 200 or 404 with an empty body. A person comes
//!   with `PhoneNumbers` loaded, deceased or not. `GET /api/People/GetByPersonAliasId/{id}`
//!   finds a merged person's old alias's survivor (a merge moves the aliases).
//! - `POST /api/{c}`: 201 with the new id as the body; 400 with validation messages.
//!   People is find-or-create: 200 + existing id when Rock's matcher scores ≥ 35, else 201 and
//!   a new "<LastName> Family" (Adult, or Child under 18).
//! - `PUT /api/{c}/{id}`: full replacement (omitted columns reset to defaults), 204.
//! - `PATCH /api/{c}/{id}`: case-sensitive property names, 204; 400 "No values were sent in the
//!   body", "Cannot set Id", "Person does not have attribute X", "Cannot write X", "Cannot cast
//!   X to int32".
//! - `DELETE /api/{c}/{id}`: 204; People → 405; a group member of a group type with
//!   `EnableGroupHistory` is archived instead of deleted.
//! - `POST /api/{c}/AttributeValue/{id}?attributeKey=K&attributeValue=V` → 202 with the id;
//!   `DELETE` (same route) sets the value to "".
//!
//! Special routes: `GET /api/People/Export?page&pageSize(≤1000)&modifiedSince&attributeKeys`,
//! `GET /api/People/GetByEmail/{email}`, `GET /api/People/GetByPersonAliasId/{aliasId}`,
//! `POST /api/People/UpdatePersonProfilePhoto?personGuid=&filename=` (raw bytes),
//! `PUT /api/Groups/SaveAddress/{groupId}/{locationTypeId}?street1&street2&city&state&postalCode&country`
//! (moves the current Home location to Previous), `GET /api/Groups/GetFamilies/{personId}`,
//! `GET /GetImage.ashx?id=` or `?guid=` (no key needed).
//!
//! Silent rewrites on save: names trimmed, whitespace collapsed and quotes straightened (plus
//! FixCase on POST People), NickName defaulted to FirstName, record/connection status and
//! record type defaulted, AnniversaryDate cleared unless married (and copied to a married
//! spouse), BirthDate/BirthDateKey/Age computed from BirthDay/Month/Year, phone numbers to
//! digits with `NumberFormatted` "(555) 123-4567" and CountryCode "1", GroupMember GroupTypeId,
//! DateTimeAdded, InactiveDateTime and ArchivedDateTime maintained. `ModifiedDateTime` moves
//! only when a row really changes, and each row has its own.
//!
//! # Admin routes (`/__sandbox/…`: no key, never faulted, never logged)
//! - `GET|PUT|DELETE /__sandbox/faults`: the [`FaultConfig`] as JSON (PUT replaces, DELETE clears).
//! - `POST /__sandbox/faults/next`: body `"reset"` or `["error","hang"]`: faults for the next requests.
//! - `GET|DELETE /__sandbox/requests`: the request log ([`RequestRecord`]s) / clear it.
//! - `POST /__sandbox/merge` body `{"survivor": id, "merged": id}`: merge two people.
//! - `GET /__sandbox/people/{id}`: everything about one person (phones, aliases, memberships,
//!   families with locations, attribute values).
//! - `GET /__sandbox/clock`, `POST /__sandbox/clock/advance` body `{"seconds": n}`.
//! - `GET /__sandbox/seed`: Rock ids of the seeded congregation (people and families by
//!   member key, groups by index).
//!
//! # Seed data
//! Defined values, field types, entity types, group types and roles carry Rock's well-known
//! GUIDs (see [`guids`]); ids are install-specific and start at a different offset per table.
//! A congregation adds its Rock people (presence RockOnly or Both) in families with a Home
//! address, their phones, a photo for every seventh person, groups (with a few inactive and
//! archived memberships to ignore), the person attribute `PCOTags` (multi-select, values
//! `account:tag group:tag` joined by commas) and the group attributes `PCOAccount`,
//! `PCOPermissionLevel` and `PCOTag` on the group types of configured groups. The REST key
//! belongs to a "Rest User" person who is also listed among the people.

mod admin;
mod attributes;
mod auth;
mod clock;
mod faults;
pub mod guids;
pub mod model;
mod odata;
mod people;
mod phones;
mod rewrites;
mod routes;
mod schema;
mod security;
mod seed;
mod server;
mod store;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use congregation::Congregation;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use clock::ClockMode;
pub use faults::{FaultConfig, FaultKind, RequestRecord};
pub use jiff::tz::TimeZone;
pub use people::EXPORT_MAX_PAGE;
pub use security::Right;
pub use seed::{PCO_ACCOUNT_KEY, PCO_LEVEL_KEY, PCO_TAG_KEY, PCO_TAGS_KEY, SeedIds};

use auth::Auth;
use clock::{Clock, lock};
use faults::Faults;
use store::Store;

/// The node count of OData `$filter` `filter` on the rows of `entity` (a controller name such
/// as `"People"` or `"PersonAlias"`, or a C# type name such as `"Person"`), counted as ASP.NET
/// Web API OData 5.7's `FilterQueryValidator` counts it against `MaxNodeCount` (100 on every
/// Rock: the bare `[EnableQuery]` of Rock.Rest/ApiController.cs; the model's
/// `rules.odata.limits_in_effect`): a filter is refused when this is over 100.
///
/// - `Id eq 1`: 4 (operator, property, the `$it` it is read from, constant);
/// - each `and`, `or`, `not`: 1; parentheses: 0;
/// - a Convert node ODataLib adds when the two sides' EDM types differ, nullability included:
///   1 (`PrimaryAliasId eq 1`, `Email eq null`, `GroupMemberStatus eq 'Active'` are 5);
/// - a function call: 1 plus its arguments.
///
/// So `Id eq 1 or Id eq 2 or …` fits 20 ids (20×4 + 19 = 99), and `PrimaryAliasId eq …` 16
/// (16×5 + 15 = 95). `Err` carries the reason the sandbox would refuse the filter for,
/// whatever its size (an unknown property, a type mismatch, a misspelt enum member).
pub fn odata_node_count(entity: &str, filter: &str) -> Result<usize, String> {
    let entity = schema::Entity::from_controller(entity)
        .or_else(|| {
            schema::Entity::ALL
                .iter()
                .copied()
                .find(|e| e.type_name().eq_ignore_ascii_case(entity))
        })
        .ok_or_else(|| format!("The sandbox serves no entity named '{entity}'."))?;
    odata::node_count(entity, filter).map_err(|e| e.detail)
}

/// How to start a sandbox.
#[derive(Clone, Debug)]
pub struct SandboxOptions {
    /// Where to listen; loopback with an ephemeral port by default.
    pub addr: SocketAddr,
    /// The REST key (View and Edit everywhere).
    pub token: String,
    /// An optional second key with View rights only.
    pub view_only_token: Option<String>,
    /// An optional key for staff edits: View and Edit like `token`, but the key of another
    /// person ("Sam Staff"), so what tests write with it is stamped with that person's alias
    /// (`ModifiedByPersonAliasId`), as an edit by staff in Rock is, not with the sync's.
    pub staff_token: Option<String>,
    pub clock: ClockMode,
    /// The organisation's time zone for every timestamp Rock writes: America/Chicago by
    /// default, a named zone with daylight saving as every Rock's `OrgTimeZone` is
    /// (`RockDateTime.OrgTimeZoneInfo`, Rock.Common/RockDateTime.cs), so clients meet the hour
    /// that repeats and the hour that is skipped.
    pub time_zone: TimeZone,
    /// Faults active from the start.
    pub faults: FaultConfig,
    /// OData's `MaxNodeCount` for `$filter`: `Some(100)` by default, as on every Rock (its
    /// generic `Get` in `Rock.Rest/ApiController.cs` carries a bare `[EnableQuery]`, whose
    /// `ODataValidationSettings.MaxNodeCount` is 100). `None` lifts the limit, which no real
    /// Rock does: only for experiments.
    pub max_node_count: Option<usize>,
    /// Seeds the GUIDs of rows created at run time.
    pub seed: u64,
    /// What loading one row's attributes costs: a list with `loadAttributes` answers that
    /// much later per row. Rock loads attributes row by row, one query each
    /// (`Rock/Utility/RockJsonMediaTypeFormatter.cs` `WriteToStream` calls
    /// `Rock.Attribute.Helper.LoadAttributes` per item, Rock/Attribute/Helper.cs), so a page of
    /// thousands of people with their attributes takes seconds on a real server. Zero by
    /// default, so the suites stay quick; set to see how a client copes.
    pub attribute_row_cost: std::time::Duration,
    /// Whether the REST key's person has been granted EDIT on the entity types a sync writes
    /// (Admin Tools > Security > Entity Administration), as a church following our README's
    /// set-up has done: `true` by default. `false` starts without the grant: Rock's defaults
    /// (`IsAllowedByDefault` in Rock/Data/Model.cs allows VIEW, not EDIT) then refuse writes
    /// to `/api/PhoneNumbers` and `/api/GroupLocations` with 401 ([`Right::EditPhoneNumbers`],
    /// [`Right::EditGroupLocations`]).
    pub entity_administration: bool,
}

impl Default for SandboxOptions {
    fn default() -> SandboxOptions {
        SandboxOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: "rock-sandbox-rest-key".into(),
            view_only_token: None,
            staff_token: None,
            clock: ClockMode::Wall,
            time_zone: TimeZone::get("America/Chicago").unwrap_or(TimeZone::UTC),
            faults: FaultConfig::default(),
            max_node_count: Some(100),
            seed: 0,
            attribute_row_cost: std::time::Duration::ZERO,
            entity_administration: true,
        }
    }
}

/// Shared state of a running sandbox.
pub(crate) struct App {
    store: Mutex<Store>,
    auth: Auth,
    faults: Mutex<Faults>,
    log: Mutex<Vec<RequestRecord>>,
    max_node_count: Option<usize>,
    attribute_row_cost: std::time::Duration,
    seed_ids: SeedIds,
    clock: Arc<Clock>,
    security: Mutex<security::Security>,
}

impl App {
    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }
    fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }
    fn security(&self) -> security::Security {
        lock(&self.security).clone()
    }
    fn record(&self, record: RequestRecord) {
        lock(&self.log).push(record);
    }
    fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.log).clone()
    }
    fn clear_requests(&self) {
        lock(&self.log).clear();
    }
}

/// A running Rock sandbox. Dropping it stops the server.
pub struct RockSandbox {
    addr: SocketAddr,
    token: String,
    app: Arc<App>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl RockSandbox {
    /// A fresh install: system data and the REST key's person, no congregation.
    pub async fn start(options: SandboxOptions) -> std::io::Result<RockSandbox> {
        RockSandbox::launch(options, None).await
    }

    /// A fresh install loaded with the Rock side of `congregation`.
    pub async fn start_with(
        options: SandboxOptions,
        congregation: &Congregation,
    ) -> std::io::Result<RockSandbox> {
        RockSandbox::launch(options, Some(congregation)).await
    }

    async fn launch(
        options: SandboxOptions,
        congregation: Option<&Congregation>,
    ) -> std::io::Result<RockSandbox> {
        let clock = Arc::new(Clock::new(options.clock, options.time_zone.clone()));
        let (store, seed_ids) = build_store(
            clock.clone(),
            options.seed,
            congregation,
            options.staff_token.is_some(),
        );
        let app = Arc::new(App {
            store: Mutex::new(store),
            auth: Auth {
                token: options.token.clone(),
                view_only_token: options.view_only_token.clone(),
                staff_token: options.staff_token.clone(),
            },
            faults: Mutex::new(Faults::new(options.faults.clone())),
            log: Mutex::new(Vec::new()),
            max_node_count: options.max_node_count,
            attribute_row_cost: options.attribute_row_cost,
            seed_ids,
            clock,
            security: Mutex::new(security::Security::new(options.entity_administration)),
        });
        let router = Router::new()
            .nest(server::ADMIN_PREFIX, admin::router())
            .fallback(routes::dispatch)
            .with_state(app.clone());
        let listener = TcpListener::bind(options.addr).await?;
        let addr = listener.local_addr()?;
        let (shutdown, watcher) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, app.clone(), router, watcher));
        Ok(RockSandbox {
            addr,
            token: options.token,
            app,
            shutdown,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The REST key, for the `Authorization-Token` header.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The staff key ([`SandboxOptions::staff_token`]), when there is one.
    pub fn staff_token(&self) -> Option<&str> {
        self.app.auth.staff_token.as_deref()
    }

    /// The person aliases the REST key's and the staff key's writes are stamped with.
    pub fn key_aliases(&self) -> (Option<i64>, Option<i64>) {
        let store = self.app.store();
        (store.rest_alias_id, store.staff_alias_id)
    }

    /// Rock ids of the seeded congregation.
    pub fn seed_ids(&self) -> &SeedIds {
        &self.app.seed_ids
    }

    /// The Rock person id of congregation member `key`, if Rock holds them.
    pub fn person_id(&self, key: u32) -> Option<i64> {
        self.app.seed_ids.people.get(&key).copied()
    }

    /// The Rock group id of `Congregation::groups[index]`.
    pub fn group_id(&self, index: usize) -> Option<i64> {
        self.app.seed_ids.groups.get(index).copied()
    }

    pub fn set_faults(&self, config: FaultConfig) {
        self.app.faults().set(config);
    }

    pub fn faults(&self) -> FaultConfig {
        self.app.faults().config()
    }

    pub fn clear_faults(&self) {
        self.app.faults().set(FaultConfig::default());
    }

    /// Queues `kind` for the next matching request.
    pub fn push_fault(&self, kind: FaultKind) {
        self.app.faults().push(kind);
    }

    /// Every non-admin request so far, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.app.requests()
    }

    pub fn clear_requests(&self) {
        self.app.clear_requests();
    }

    /// Merges person `merged` into `survivor` (the merged id stops existing; its alias now
    /// points at the survivor).
    pub fn merge_people(&self, survivor: i64, merged: i64) -> Result<(), String> {
        people::merge(&mut self.app.store(), survivor, merged)
    }

    /// Everything the sandbox holds about one person (see `GET /__sandbox/people/{id}`).
    pub fn person_dump(&self, id: i64) -> Option<Value> {
        people::dump(&self.app.store(), id)
    }

    /// Marks a person deceased (or not), as Rock's UI would; deceased people leave
    /// `GET /api/People` but stay in the Export.
    pub fn set_deceased(&self, person: i64, deceased: bool) -> bool {
        self.app
            .store()
            .modify(schema::Entity::Person, person, |p| {
                p.insert("IsDeceased".into(), Value::Bool(deceased));
            })
    }

    /// Adds a phone format to the install's "Phone Country Code" defined type (as staff do in
    /// Admin Tools > Settings > Defined Types), `first` to make its country the default one.
    pub fn add_phone_format(&self, country: &str, pattern: &str, replacement: &str, first: bool) {
        let mut store = self.app.store();
        let order = first.then_some(-1);
        phones::add_format(
            &mut store,
            None,
            country,
            "added by a test",
            pattern,
            replacement,
            order,
        );
    }

    /// Adds a nameless person (record type Nameless, as Rock makes for an SMS from an unknown
    /// number) with `number` as their mobile phone; returns their id.
    pub fn add_nameless_person(&self, number: &str) -> i64 {
        seed::nameless_person(&mut self.app.store(), number)
    }

    /// Records a last name `person` had (a PersonPreviousName row on their primary alias), as
    /// Rock's person edit block does when staff change a last name.
    pub fn add_previous_name(&self, person: i64, last_name: &str) {
        let mut store = self.app.store();
        let Some(alias) = store
            .get(schema::Entity::Person, person)
            .and_then(|p| store::int(p, "PrimaryAliasId"))
        else {
            return;
        };
        let mut row = Store::blank(schema::Entity::PersonPreviousName);
        row.insert("PersonAliasId".into(), alias.into());
        row.insert("LastName".into(), last_name.into());
        store.insert_unchecked(schema::Entity::PersonPreviousName, row);
    }

    /// Gives `person` a Rock login (a UserLogin row, as Rock's account pages make one).
    pub fn add_login(&self, person: i64, user_name: &str) {
        let mut store = self.app.store();
        let mut row = Store::blank(schema::Entity::UserLogin);
        row.insert("PersonId".into(), person.into());
        row.insert("UserName".into(), user_name.into());
        row.insert("IsConfirmed".into(), true.into());
        row.insert("ApiKey".into(), format!("api-key-of-{user_name}").into());
        store.insert_unchecked(schema::Entity::UserLogin, row);
    }

    /// Records an email `person` had (a PersonSearchKey of type Email on their primary alias).
    pub fn add_previous_email(&self, person: i64, email: &str) {
        let mut store = self.app.store();
        let Some(alias) = store
            .get(schema::Entity::Person, person)
            .and_then(|p| store::int(p, "PrimaryAliasId"))
        else {
            return;
        };
        let kind = store.id_of_guid(
            schema::Entity::DefinedValue,
            guids::DV_PERSON_SEARCH_KEYS_EMAIL,
        );
        let mut row = Store::blank(schema::Entity::PersonSearchKey);
        row.insert("PersonAliasId".into(), alias.into());
        row.insert("SearchTypeValueId".into(), kind.into());
        row.insert("SearchValue".into(), email.into());
        store.insert_unchecked(schema::Entity::PersonSearchKey, row);
    }

    /// Says that `person` meets (or no longer meets) the SQL or data view requirement of
    /// GroupRequirementType `requirement_type`, as the type's query would find in Rock.
    pub fn meet_requirement(&self, requirement_type: i64, person: i64, met: bool) {
        let mut store = self.app.store();
        if met {
            store.requirements_met.insert((requirement_type, person));
        } else {
            store.requirements_met.remove(&(requirement_type, person));
        }
    }

    /// Takes a right away from the REST key (see [`Right`]).
    pub fn deny(&self, right: Right) {
        lock(&self.app.security).deny(right);
    }

    /// Gives a right taken away back.
    pub fn allow(&self, right: &Right) {
        lock(&self.app.security).allow(right);
    }

    /// Sets `RequiresViewSecurity` on the Person Image file type, as an administrator securing
    /// photos in Rock would: `GetImage.ashx` then answers 403 to every REST client.
    pub fn secure_person_images(&self, secured: bool) {
        let mut store = self.app.store();
        let id = store.known.person_image_type;
        store.modify(schema::Entity::BinaryFileType, id, |t| {
            t.insert("RequiresViewSecurity".into(), Value::Bool(secured));
        });
    }

    pub fn advance_clock(&self, by: Duration) {
        self.app.clock.advance(by);
    }

    /// Moves the clock forward to the instant `utc` (RFC 3339) when it is behind it: to keep
    /// step with another sandbox whose clock runs ahead of the wall clock.
    pub fn catch_up_with(&self, utc: &str) {
        self.app.clock.catch_up_with(utc);
    }

    /// The organisation's local time now, as Rock writes it.
    pub fn now(&self) -> String {
        clock::format_datetime(self.app.clock.now())
    }

    /// Stops accepting connections and closes open ones.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RockSandbox {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

fn build_store(
    clock: Arc<Clock>,
    seed: u64,
    congregation: Option<&Congregation>,
    staff: bool,
) -> (Store, SeedIds) {
    let mut store = Store::new(clock.clone(), seed);
    seed::system(&mut store);
    seed::rest_user(&mut store);
    seed::anonymous_visitor(&mut store);
    let ids = congregation
        .map(|c| seed::congregation(&mut store, c))
        .unwrap_or_default();
    if staff {
        seed::staff_user(&mut store);
    }
    seed::search_keys(&mut store);
    // Seed rows date from a week before the sandbox starts, so "modified since start" is empty.
    let stamp = clock::format_datetime(clock.now() - time::Duration::days(7));
    store.stamp_all(&stamp);
    (store, ids)
}
