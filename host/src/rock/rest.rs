//! The real Rock backend: Rock RMS's REST API v1 (`/api/{Controller}`), authenticated with a
//! REST key in the `Authorization-Token` header.
//!
//! What this backend relies on (shared/research/rock.md):
//! - Ids of defined values, group types, roles and entity types differ between installs, so
//!   they are resolved at start from Rock's well-known GUIDs (§5), never written as numbers.
//! - Reads are batched: filters of a few hundred terms (`Id eq 7 or (Id ge 9 and Id le 40) …`),
//!   paged by key (`Id gt last`, `$orderby=Id`, `$top`), with `$expand` and `loadAttributes`
//!   so one request brings a whole batch of people with their phones and tags (§8.4, §7).
//!   How many terms Rock takes (OData's `MaxNodeCount`, IIS's query-string limit) is probed at
//!   start; the fewer it takes, the wider the id ranges, so a full load stays at tens of
//!   requests either way. A filter refused later still halves the batch for the rest of the run.
//! - Writes touch only what they are given: PATCH with Rock's case-sensitive property names,
//!   PhoneNumber rows, `PUT Groups/SaveAddress` for a Home address (which moves the old one to
//!   Previous, as Rock's UI does), `POST People/AttributeValue` for the PCO Tags (§8.3, §4, §7).
//! - Errors are values of the WIT `error` type; the REST key never appears in a log line or an
//!   error (its header value is marked sensitive and reqwest's messages are stripped of URLs).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use serde_json::{Map, Value, json};
use url::Url;

use super::Rock;
use crate::bindings::rock::{
    Fate, FoundOrCreated, GonePerson, Group, GroupType, Membership, Merge, NewPerson, Person,
    PersonQuery, PersonTags, PersonUpdate, Photo, Protection,
};
use crate::bindings::types::{
    Address, Date, Error, ErrorKind, FieldValue, Gender, PermissionLevel,
};
use crate::secret::Secret;

/// Rock's well-known GUIDs (research §5): the same in every install.
mod guid {
    pub const PHONE_MOBILE: &str = "407E7E45-7B2E-4FCD-9605-ECB1339F2453";
    pub const PHONE_HOME: &str = "AA8732FB-2CEA-4C76-8D6D-6AAA2C6A4303";
    pub const PHONE_WORK: &str = "2CC66D5A-F61C-4B74-9AF9-590A9847C13C";
    pub const LOCATION_HOME: &str = "8C52E53C-2A66-435A-AE6E-5EE307D9A0DC";
    pub const LOCATION_PREVIOUS: &str = "853D98F1-6E08-4321-861B-520B4106CFE0";
    pub const RECORD_ACTIVE: &str = "618F906C-C33D-4FA3-8AEF-E58CB7B63F1E";
    pub const MARITAL_MARRIED: &str = "5FE5A540-7D9F-433E-B47E-4229D1472248";
    pub const CONNECTION_STATUS_TYPE: &str = "2E6540EA-63F0-40FE-BE50-F2A84735E600";
    pub const GROUPTYPE_FAMILY: &str = "790E3215-3B10-442B-AF69-616C0DCB998E";
    pub const ROLE_ADULT: &str = "2639F9A5-2AAE-4E48-A8C3-4FFE86681E42";
    pub const ROLE_CHILD: &str = "C8B1814F-6AA7-4055-B2D7-48FE20429CB9";
    pub const ENTITY_PERSON: &str = "72657ED8-D16E-492E-AC12-144C5E7567E7";
    pub const ENTITY_GROUP: &str = "9BBFDA11-0D22-40D5-902F-60ADFBC88987";
    pub const FIELD_MULTI_SELECT: &str = "BD0D9B57-2A41-4490-89FF-F01DAB7D4904";
    pub const FIELD_SINGLE_SELECT: &str = "7525C4CB-EE6B-41D4-9B64-A08048D5A5C0";
}

/// The warning given once a run when Rock refuses to hand out photos.
pub const PHOTOS_UNREADABLE: &str = "Rock refused to give out a person's photo (403): its Person Image file type requires view security, which GetImage.ashx checks against a logged-in person, never a REST key, so no Rock photo is copied to PCO; to copy photos, clear \"Requires View Security\" on the Person Image file type (Admin Tools > Settings > File Types > Person Image)";

/// The fewest rows a page with attributes is cut to.
const MIN_ATTRIBUTE_PAGE: usize = 25;

/// `GroupMemberStatus.Active`, as JSON bodies carry it.
const MEMBER_ACTIVE: i64 = 1;

/// `GroupMemberStatus.Active` in a `$filter`: OData v3 types enums `Edm.String`, so Rock
/// refuses `GroupMemberStatus eq 1` (400) and takes the member's name (exact case).
const MEMBER_ACTIVE_FILTER: &str = "GroupMemberStatus eq 'Active'";

/// The permission levels as the "PCO Permission Level" single-select offers them.
const LEVEL_OPTIONS: &str = "Scheduled Viewer,Viewer,Scheduler,Editor,Administrator";

/// Keys of the attributes the sync reads and writes (configurable: an install may already
/// have its own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeNames {
    /// Person attribute (multi-select) holding the PCO tags, e.g. `PCOTags`.
    pub pco_tags: String,
    /// Group attribute naming the PCO account a group syncs to.
    pub pco_account: String,
    /// Group attribute holding the permission level a group grants.
    pub pco_level: String,
}

impl Default for AttributeNames {
    fn default() -> Self {
        AttributeNames {
            pco_tags: "PCOTags".into(),
            pco_account: "PCOAccount".into(),
            pco_level: "PCOPermissionLevel".into(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RestRockOptions {
    /// Rock's root, e.g. `https://rock.example.org` (the API is under `/api`).
    pub base_url: Url,
    pub token: Secret,
    /// For one request, connection to last byte.
    pub timeout: Duration,
    pub attributes: AttributeNames,
    /// Attempts for a request that is safe to repeat (5xx, reset, timeout, garbled body).
    pub attempts: u32,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    pub max_response_bytes: usize,
    /// Most terms per filter (`Id eq 7 or (Id ge 9 and Id le 40) or …`). `connect` lowers it
    /// to what this Rock accepts; a filter refused later halves it for the rest of the run.
    pub batch_size: usize,
    /// Most OData nodes per `$filter`: [`ROCK_MAX_NODE_COUNT`], as on every Rock. A batch
    /// Rock refuses is asked for again with fewer.
    pub max_node_count: usize,
    /// Rows per page of a list (`$top`).
    pub page_size: usize,
    /// Rock's organization time zone. Rock reports change times in it, without an offset;
    /// when known, they reach the guest in UTC, comparable with PCO's (R26 newest-wins).
    pub time_zone: Option<jiff::tz::TimeZone>,
    /// The country written with a home address that has none: Rock's address validation
    /// needs one (`LocationService.Get` → `ValidateAddressRequirements`, a 500 otherwise).
    pub default_country: String,
}

impl RestRockOptions {
    pub fn new(base_url: Url, token: Secret) -> Self {
        RestRockOptions {
            base_url,
            token,
            timeout: Duration::from_secs(60),
            attributes: AttributeNames::default(),
            attempts: 4,
            backoff_base: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(10),
            max_response_bytes: 64 << 20,
            batch_size: 500,
            max_node_count: ROCK_MAX_NODE_COUNT,
            page_size: 2000,
            time_zone: None,
            default_country: "US".into(),
        }
    }
}

/// What [`RestRock::update_tag_choices`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChoicesWrite {
    Unchanged,
    Created,
    Updated,
}

/// What `init` did: one line per attribute or option list, created or already there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InitReport {
    pub created: Vec<String>,
    /// Options set again (the accounts' names changed).
    pub updated: Vec<String>,
    pub found: Vec<String>,
    /// What could not be offered, with why.
    pub warnings: Vec<String>,
}

/// Where the group attributes go and what "PCO Account" offers: the group types enabled for
/// any account, and the accounts' names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupSetup {
    pub group_types: Vec<i64>,
    pub accounts: Vec<String>,
}

/// The options of a select attribute.
enum Options {
    /// Always these (the accounts' names: they change with the configuration).
    Set(String),
    /// These when it has none; staff may have changed them since.
    CreateOnly(String),
}

/// A group attribute the sync reads, as Rock defines it.
struct GroupAttribute {
    id: i64,
    field_type: i64,
    /// The group type whose groups have it; none: every group.
    group_type: Option<i64>,
}

fn on_groups(group_type: Option<i64>) -> String {
    match group_type {
        Some(id) => format!("on group type {id}"),
        None => "on every group".to_string(),
    }
}

/// The `values` qualifier offering these account names (`Rock/Field/Helper.cs`
/// `GetConfiguredValues` splits on ',' and '^' and trims, so a name holding them, or spaces
/// around it, could not be chosen as itself: left out, with a warning).
fn account_options(accounts: &[String], report: &mut InitReport) -> String {
    let mut names: Vec<&str> = Vec::new();
    for name in accounts {
        if name.contains([',', '^']) || name.trim() != name || name.is_empty() {
            report.warnings.push(format!(
                "account \"{name}\" is not offered in the PCO Account choices: Rock's choice list cannot hold a ',' or '^' in a name, or spaces around it; rename the account"
            ));
        } else if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    names.join(",")
}

/// Install-specific ids, resolved once from their GUIDs.
#[derive(Clone, Debug)]
struct SystemIds {
    phone_home: i64,
    phone_work: i64,
    phone_mobile: i64,
    location_home: i64,
    location_previous: i64,
    record_active: i64,
    married: i64,
    family_type: i64,
    family_adult: i64,
    family_child: i64,
    person_entity: i64,
    group_entity: i64,
    connection_statuses: Vec<DefinedValue>,
}

#[derive(Clone, Debug)]
struct DefinedValue {
    id: i64,
    guid: String,
    value: String,
}

/// Rock over REST. Cheap to share: one HTTP client, no per-call state but the batch size and
/// the photo ids of the last read.
pub struct RestRock {
    http: Http,
    names: AttributeNames,
    ids: SystemIds,
    /// Most terms per filter (when Rock names no node limit, e.g. behind IIS's URL limit).
    batch_size: AtomicUsize,
    /// Most OData nodes per `$filter` (Rock's `MaxNodeCount`, 100 on every Rock);
    /// `usize::MAX` when Rock named none.
    node_limit: AtomicUsize,
    page_size: usize,
    /// Rows per page of a list read with `loadAttributes`: Rock loads each row's attributes
    /// with a query of its own (`Rock/Utility/RockJsonMediaTypeFormatter.cs` `WriteToStream`
    /// calls `Helper.LoadAttributes` row by row), so such a page costs Rock time per row. Set
    /// from the time pages take, so one stays well inside the request timeout.
    attribute_page: AtomicUsize,
    request_timeout: Duration,
    time_zone: Option<jiff::tz::TimeZone>,
    /// Written with a home address that has no country (see [`RestRockOptions::default_country`]).
    default_country: String,
    /// Each person's photo as the last `people` read saw it (people with a photo only), so
    /// `photo` fetches that image without asking Rock for the person's `PhotoId` again: the
    /// guest asks for a photo right after reading the person, because their `photo-id` changed.
    photo_ids: Mutex<HashMap<i64, i64>>,
    /// The configured attributes as Rock defines them (key spelling, qualifier), once read.
    attribute_defs: Mutex<Option<Vec<AttributeDef>>>,
    /// Set at the first 403 from `GetImage.ashx`: Rock's Person Image file type is secured,
    /// so no photo can be read with a REST key; later photos are not asked for.
    photos_unreadable: AtomicBool,
    /// The person aliases of the REST key's own person (`GET api/People/GetCurrentPerson`):
    /// what Rock stamps as `ModifiedByPersonAliasId` on everything this client writes.
    own_aliases: BTreeSet<i64>,
    /// How many creates Rock answered with an existing person (200, not 201).
    matched_existing: AtomicUsize,
    /// Rows Rock answered to list reads, and of those the ones no caller asked for (an id
    /// range's rows between the ids wanted): what the reads cost Rock beyond the minimum.
    rows_read: AtomicUsize,
    rows_unasked: AtomicUsize,
}

/// What [`RestRock::rows_read`] counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RowsRead {
    pub read: usize,
    pub unasked: usize,
}

impl RestRock {
    /// Checks the URL, resolves the install's ids from their GUIDs (which also proves the key
    /// works) and finds how large a filter this Rock accepts: five or six requests.
    pub async fn connect(options: RestRockOptions) -> Result<RestRock, Error> {
        let http = Http::new(&options)?;
        let ids = resolve_ids(&http).await?;
        let own_aliases = own_aliases(&http).await?;
        Ok(RestRock {
            http,
            names: options.attributes,
            ids,
            batch_size: AtomicUsize::new(options.batch_size.max(1)),
            node_limit: AtomicUsize::new(options.max_node_count.max(PAGING_NODES + 1)),
            page_size: options.page_size.max(1),
            attribute_page: AtomicUsize::new(options.page_size.max(1)),
            request_timeout: options.timeout,
            time_zone: options.time_zone,
            default_country: options.default_country,
            photo_ids: Mutex::new(HashMap::new()),
            attribute_defs: Mutex::new(None),
            photos_unreadable: AtomicBool::new(false),
            own_aliases,
            matched_existing: AtomicUsize::new(0),
            rows_read: AtomicUsize::new(0),
            rows_unasked: AtomicUsize::new(0),
        })
    }

    /// Rows read from Rock's lists so far, and how many of them nobody asked for.
    pub fn rows_read(&self) -> RowsRead {
        RowsRead {
            read: self.rows_read.load(Ordering::Relaxed),
            unasked: self.rows_unasked.load(Ordering::Relaxed),
        }
    }

    /// How many people this client asked Rock to create were taken for people Rock already
    /// held (`POST api/People` answered 200 with their id): each is a link, not a new person.
    pub fn matched_existing(&self) -> usize {
        self.matched_existing.load(Ordering::Relaxed)
    }

    /// Creates, when missing, what the sync needs in Rock: the PCO Tags person attribute
    /// (multi-select) and, on the groups of each type in `setup`, the group attributes for the
    /// PCO account (a single-select of the accounts' names) and the permission level (a
    /// single-select of the five levels). Running it again creates nothing.
    pub async fn init(
        &self,
        names: &AttributeNames,
        setup: &GroupSetup,
    ) -> Result<InitReport, Error> {
        let multi = self.id_of("FieldTypes", guid::FIELD_MULTI_SELECT).await?;
        let mut report = InitReport::default();
        let tags = AttributeSpec {
            what: "person attribute".into(),
            entity_type: self.ids.person_entity,
            qualifier: None,
            key: &names.pco_tags,
            name: "PCO Tags",
            field_type: multi,
            multi_value: true,
            description: "PCO tags of this person (account:tag group:tag), kept by pcosync.",
        };
        self.ensure_attribute(&tags, &mut report).await?;
        self.ensure_group_attributes(names, setup, &mut report)
            .await?;
        Ok(report)
    }

    /// The PCO Account and PCO Permission Level attributes on the groups of every type in
    /// `setup`: each a Group attribute qualified by `GroupTypeId` and the type's id, as Rock's
    /// group type editor saves a type's "Group Attributes"
    /// (`RockWeb/Blocks/Groups/GroupTypeDetail.ascx.cs` `SaveAttributes(new Group().TypeId,
    /// "GroupTypeId", ...)`), which `Rock/Attribute/Helper.cs` `LoadAttributes` gives to those
    /// groups only (seed 000: "For these fields to appear, the group's Group Type must be one
    /// of the Group Types added"). PCO Account is a single-select
    /// (`Rock/Field/Types/SelectSingleFieldType.cs`, a drop-down by default) of the accounts'
    /// names, set again on every call. An attribute of the key on every group (no qualifier,
    /// as an older `rock init` made it) already covers every type: none is added beside it.
    pub async fn ensure_group_attributes(
        &self,
        names: &AttributeNames,
        setup: &GroupSetup,
        report: &mut InitReport,
    ) -> Result<(), Error> {
        let single = self.id_of("FieldTypes", guid::FIELD_SINGLE_SELECT).await?;
        let accounts = account_options(&setup.accounts, report);
        // With no account configured yet there is nothing to offer; the next save sets them.
        let accounts = if setup.accounts.is_empty() {
            Options::CreateOnly(accounts)
        } else {
            Options::Set(accounts)
        };
        let wanted = [
            (
                names.pco_account.as_str(),
                "PCO Account",
                "The PCO account this group's members are synced to, by pcosync.",
                accounts,
            ),
            (
                names.pco_level.as_str(),
                "PCO Permission Level",
                "Permission level in PCO Services this group grants its members.",
                Options::CreateOnly(LEVEL_OPTIONS.to_string()),
            ),
        ];
        for (key, name, description, options) in wanted {
            let existing = self.group_attributes(key).await?;
            let everywhere = existing.iter().find(|a| a.group_type.is_none());
            let mut selects: Vec<i64> = existing
                .iter()
                .filter(|a| a.field_type == single)
                .map(|a| a.id)
                .collect();
            for attribute in &existing {
                report.found.push(format!(
                    "group attribute {key} {}, id {}{}",
                    on_groups(attribute.group_type),
                    attribute.id,
                    if attribute.field_type == single {
                        ""
                    } else {
                        " (not a single-select: staff type its value)"
                    }
                ));
            }
            let missing_types = setup.group_types.iter().filter(|t| {
                everywhere.is_none() && !existing.iter().any(|a| a.group_type == Some(**t))
            });
            for group_type in missing_types {
                let spec = AttributeSpec {
                    what: format!("group attribute on group type {group_type}"),
                    entity_type: self.ids.group_entity,
                    qualifier: Some(*group_type),
                    key,
                    name,
                    field_type: single,
                    multi_value: false,
                    description,
                };
                selects.push(self.create_attribute(&spec, report).await?);
            }
            for attribute in selects {
                self.ensure_options(attribute, key, &options, report)
                    .await?;
            }
        }
        if let Ok(mut cached) = self.attribute_defs.lock() {
            *cached = None;
        }
        Ok(())
    }

    /// The group attributes with this key: on which group type (none: every group) and of
    /// which field type.
    async fn group_attributes(&self, key: &str) -> Result<Vec<GroupAttribute>, Error> {
        let filter = format!(
            "EntityTypeId eq {} and Key eq {}",
            self.ids.group_entity,
            literal(key)
        );
        let select = "Id,FieldTypeId,EntityTypeQualifierColumn,EntityTypeQualifierValue";
        let rows = self
            .list("Attributes", &filter, &[("$select", select)])
            .await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let column = text(row, "EntityTypeQualifierColumn").unwrap_or_default();
                let group_type = if column.is_empty() {
                    None
                } else if column.eq_ignore_ascii_case("GroupTypeId") {
                    Some(text(row, "EntityTypeQualifierValue")?.trim().parse().ok()?)
                } else {
                    // Qualified by another column (a group's parent, say): not ours to count.
                    return None;
                };
                Some(GroupAttribute {
                    id: int(row, "Id")?,
                    field_type: int(row, "FieldTypeId").unwrap_or(0),
                    group_type,
                })
            })
            .collect())
    }

    /// The group types of this Rock, for administrators naming them.
    pub async fn group_types(&self) -> Result<Vec<GroupType>, Error> {
        let rows = self
            .list("GroupTypes", "Id gt 0", &[("$select", "Id,Guid,Name")])
            .await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                Some(GroupType {
                    id: int(row, "Id")?,
                    guid: string(row, "Guid"),
                    name: string(row, "Name"),
                })
            })
            .collect())
    }

    async fn ensure_attribute(
        &self,
        spec: &AttributeSpec<'_>,
        report: &mut InitReport,
    ) -> Result<(), Error> {
        let ids = self.attribute_ids(spec.entity_type, spec.key).await?;
        if ids.is_empty() {
            self.create_attribute(spec, report).await?;
        } else {
            for id in &ids {
                report
                    .found
                    .push(format!("{} {}, id {id}", spec.what, spec.key));
            }
        }
        if let Ok(mut cached) = self.attribute_defs.lock() {
            *cached = None;
        }
        Ok(())
    }

    async fn create_attribute(
        &self,
        spec: &AttributeSpec<'_>,
        report: &mut InitReport,
    ) -> Result<i64, Error> {
        let (column, value) = match spec.qualifier {
            Some(group_type) => ("GroupTypeId".to_string(), group_type.to_string()),
            None => (String::new(), String::new()),
        };
        let body = json!({
            "Key": spec.key, "Name": spec.name, "Description": spec.description,
            "FieldTypeId": spec.field_type, "EntityTypeId": spec.entity_type,
            "EntityTypeQualifierColumn": column, "EntityTypeQualifierValue": value,
            "IsMultiValue": spec.multi_value, "IsActive": true,
        });
        let id = self.create("Attributes", body).await?;
        report.created.push(format!(
            "{} {} (\"{}\"), id {id}",
            spec.what, spec.key, spec.name
        ));
        Ok(id)
    }

    /// The `values` qualifier of a select attribute (its options): created when missing, and
    /// for [`Options::Set`] also changed to the options wanted.
    async fn ensure_options(
        &self,
        attribute: i64,
        key: &str,
        options: &Options,
        report: &mut InitReport,
    ) -> Result<(), Error> {
        let filter = format!("AttributeId eq {attribute} and Key eq 'values'");
        let found = self.list("AttributeQualifiers", &filter, &[]).await?;
        let line = format!("options of {key} (attribute {attribute})");
        let (wanted, replace) = match options {
            Options::Set(wanted) => (wanted, true),
            Options::CreateOnly(wanted) => (wanted, false),
        };
        match found.first() {
            None => {
                let body = json!({"IsSystem": false, "AttributeId": attribute, "Key": "values", "Value": wanted});
                self.create("AttributeQualifiers", body).await?;
                report.created.push(line);
            }
            Some(row) if replace && text(row, "Value").unwrap_or_default() != *wanted => {
                let id = int(row, "Id").ok_or_else(|| {
                    Error::new(
                        ErrorKind::Invalid,
                        format!("Rock gave the {line} without an Id"),
                    )
                })?;
                let call = Call::write(
                    reqwest::Method::PATCH,
                    format!("/api/AttributeQualifiers/{id}"),
                    json!({"Value": wanted}),
                );
                self.http.send(&call).await?;
                report.updated.push(format!("{line}: {wanted}"));
            }
            Some(_) => report.found.push(line),
        }
        Ok(())
    }

    /// Sets the choices of the PCO Tags person attribute (its `values` AttributeQualifier,
    /// created or updated) to `update(current)`; writes nothing when that is the current text.
    /// One request when unchanged (the attribute with its qualifiers expanded), two otherwise.
    /// Rock refreshes the attribute's cache on the qualifier's save
    /// (`Rock/Model/Core/AttributeQualifier/AttributeQualifier.Logic.cs` `UpdateCache`), so the
    /// profile shows the new choices at once.
    pub async fn update_tag_choices(
        &self,
        update: impl FnOnce(&str) -> String,
    ) -> Result<ChoicesWrite, Error> {
        let filter = format!(
            "EntityTypeId eq {} and Key eq {}",
            self.ids.person_entity,
            literal(&self.names.pco_tags)
        );
        let rows = self
            .list("Attributes", &filter, &[("$expand", "AttributeQualifiers")])
            .await?;
        let Some(attribute) = rows.first() else {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "Rock has no person attribute with the key {}; run `pcosync rock init`",
                    self.names.pco_tags
                ),
            ));
        };
        let attribute_id = int(attribute, "Id").unwrap_or(0);
        let qualifier = attribute
            .get("AttributeQualifiers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|q| text(q, "Key").as_deref() == Some("values"));
        let current = qualifier.and_then(|q| text(q, "Value")).unwrap_or_default();
        let wanted = update(&current);
        match qualifier.and_then(|q| int(q, "Id")) {
            Some(_) if wanted == current => Ok(ChoicesWrite::Unchanged),
            Some(id) => {
                let call = Call::write(
                    reqwest::Method::PATCH,
                    format!("/api/AttributeQualifiers/{id}"),
                    json!({"Value": wanted}),
                );
                self.http.send(&call).await?;
                Ok(ChoicesWrite::Updated)
            }
            None => {
                let body = json!({"IsSystem": false, "AttributeId": attribute_id, "Key": "values", "Value": wanted});
                self.create("AttributeQualifiers", body).await?;
                Ok(ChoicesWrite::Created)
            }
        }
    }

    /// Ids of the attributes of an entity type with this key (any qualifier: a group
    /// attribute may exist once per group type).
    async fn attribute_ids(&self, entity_type: i64, key: &str) -> Result<Vec<i64>, Error> {
        let filter = format!("EntityTypeId eq {entity_type} and Key eq {}", literal(key));
        let rows = self.list("Attributes", &filter, &[]).await?;
        Ok(rows.iter().filter_map(|r| int(r, "Id")).collect())
    }

    async fn id_of(&self, controller: &str, guid: &str) -> Result<i64, Error> {
        let filter = format!("Guid eq guid'{guid}'");
        let rows = self.list(controller, &filter, &[]).await?;
        rows.first().and_then(|r| int(r, "Id")).ok_or_else(|| {
            Error::new(
                ErrorKind::Invalid,
                format!("Rock has no {controller} row with the well-known GUID {guid}"),
            )
        })
    }

    /// Active groups whose name contains `text` (any case, as Rock's SQL collation compares),
    /// by name, at most `limit` of them, and whether there were more. For administrators
    /// choosing a group by name; the sync itself never searches.
    pub async fn find_groups(&self, text: &str, limit: usize) -> Result<(Vec<Group>, bool), Error> {
        let text = text.trim();
        let filter = if text.is_empty() {
            "IsActive eq true".to_string()
        } else {
            format!("IsActive eq true and substringof({}, Name)", literal(text))
        };
        let call = Call::get("/api/Groups".to_string())
            .query("$filter", filter)
            .query("$orderby", "Name")
            .query("$top", (limit + 1).to_string())
            .query("$expand", "GroupType");
        let rows = match self.http.send(&call).await?.json {
            Value::Array(rows) => rows,
            _ => return Err(garbled(&call, "a list")),
        };
        let more = rows.len() > limit;
        let groups = rows
            .iter()
            .take(limit)
            .filter_map(|row| self.group(row))
            .filter(|group| group.is_active)
            .collect();
        Ok((groups, more))
    }

    // ---- Rights -----------------------------------------------------------------------------

    /// What the REST key may not do that the sync needs, one line each with its fix (empty:
    /// all there). Without `probe_writes`, reads only (View on the attributes: what a run
    /// needs before it reads anything). With it (`config check`), also Edit: no-op PATCHes
    /// (Rock's `Patch` checks EDIT, then refuses a property the model does not have,
    /// changing nothing) and the REST key's own person's PCO Tags written back unchanged,
    /// the only way to learn whether it may edit that attribute.
    pub async fn missing_rights(&self, probe_writes: bool) -> Result<Vec<String>, Error> {
        let mut missing = Vec::new();
        let defs = self.attribute_defs().await?;
        let me = self.current_person().await?;
        let tags = defs
            .iter()
            .find(|d| d.entity_type == self.ids.person_entity);
        let people = self
            .list_page("People", "Id gt 0", 2, &[("$select", "Id")])
            .await?;
        let someone = people
            .iter()
            .filter_map(|p| int(p, "Id"))
            .find(|id| Some(*id) != me.as_ref().and_then(|m| int(m, "Id")));
        // No View probe of the PCO Tags attribute: people are read projected (R53) and their
        // tags from `api/AttributeValues`, which Rock does not filter by the attribute's own
        // security; Edit on it is probed below.
        if let Some(person) = someone
            && probe_writes
            && !self.may_edit("People", person).await?
        {
            missing.push(format!(
                "the REST key may not edit people (Rock answered 401 to a change of person {person}); in Rock, give the REST key's person Edit on people (Admin Tools > Security > Entity Administration > Person, or a security role with Edit)"
            ));
        }
        if let Some(group) = self.synced_group(&defs).await? {
            if probe_writes && !self.may_edit("Groups", group).await? {
                missing.push(format!(
                    "the REST key may not edit group {group} and its members (Rock answered 401); in Rock, give the REST key's person Edit on the synced groups (the group's Security, or its group type's)"
                ));
            }
            let keys: Vec<&str> = defs
                .iter()
                .filter(|d| d.entity_type == self.ids.group_entity)
                .map(|d| d.key.as_str())
                .collect();
            let row = self.loaded("Groups", group, &keys.join(",")).await?;
            for def in defs
                .iter()
                .filter(|d| d.entity_type == self.ids.group_entity && d.applies_to(&row))
            {
                if !has_attribute(&row, &def.key) {
                    missing.push(missing_view(&def.key));
                }
            }
        }
        if probe_writes {
            missing.extend(self.missing_contact_rights().await?);
        }
        // Who has a Rock login decides whether an email from PCO may be written (issue 24
        // item 15); without View on UserLogins every such change waits for an administrator.
        if let Err(error) = self
            .list_page("UserLogins", "Id gt 0", 1, &[("$select", "Id,PersonId")])
            .await
            && error.kind == ErrorKind::Unauthorized
        {
            missing.push(
                "the REST key may not view user logins, so every email change from PCO waits for an administrator (a login's email must not change unseen); in Rock, give the REST key's person View on UserLogins (Admin Tools > Security > REST Controllers > UserLogins)".into(),
            );
        }
        if probe_writes
            && let (Some(tags), Some(me)) = (tags, &me)
            && let Some(id) = int(me, "Id")
        {
            let current = attribute(me, &tags.key).unwrap_or_default();
            let call = Call {
                method: reqwest::Method::POST,
                ..Call::get(format!("/api/People/AttributeValue/{id}"))
            }
            .query("attributeKey", &tags.key)
            .query("attributeValue", &current);
            match self.http.send_raw(&call).await {
                Ok(_) => {}
                Err(Failure::Status { status: 403, .. }) => missing.push(format!(
                    "the REST key may not edit the person attribute \"{}\"; in Rock, give the REST key's person Edit on that attribute (Admin Tools > Settings > Person Attributes > {} > Security)",
                    tags.key, tags.key
                )),
                Err(Failure::Status { status: 401, .. }) => missing.push(format!(
                    "the REST key may not edit its own person {id}, so cannot set attribute values; in Rock, give the REST key's person Edit on people"
                )),
                Err(failure) => return Err(failure.into_error(&call)),
            }
        }
        Ok(missing)
    }

    /// Edit on phone numbers and on family addresses, which the sync writes as rows of their
    /// own. Rock checks EDIT on the row itself, and an entity nobody secured allows only View
    /// and Tag by default (`Model.IsAllowedByDefault`, Rock/Data/Model.cs): an install grants
    /// Edit through Entity Administration. One row of each is probed, as people and groups are.
    async fn missing_contact_rights(&self) -> Result<Vec<String>, Error> {
        let home = format!("GroupLocationTypeValueId eq {}", self.ids.location_home);
        let probes = [
            (
                "PhoneNumbers",
                "Id gt 0".to_string(),
                "phone numbers",
                "Phone Number",
            ),
            ("GroupLocations", home, "family addresses", "Group Location"),
        ];
        let mut missing = Vec::new();
        for (controller, filter, what, entity) in probes {
            let rows = self
                .list_page(controller, &filter, 1, &[("$select", "Id")])
                .await?;
            let Some(id) = rows.first().and_then(|row| int(row, "Id")) else {
                continue;
            };
            if !self.may_edit(controller, id).await? {
                missing.push(format!(
                    "the REST key may not edit {what} (Rock answered 401 to a change of {controller} row {id}; Rock allows only View on them unless Edit is granted); in Rock, give the REST key's person Edit on {entity} (Admin Tools > Security > Entity Administration > {entity})"
                ));
            }
        }
        Ok(missing)
    }

    /// The REST key's own person (`GET api/People/GetCurrentPerson`) with the PCO Tags
    /// loaded; none on a Rock whose key has no person.
    async fn current_person(&self) -> Result<Option<Value>, Error> {
        let call = Call::get("/api/People/GetCurrentPerson".into())
            .query("loadAttributes", "simple")
            .query("attributeKeys", self.names.pco_tags.as_str());
        match self.http.send(&call).await {
            Ok(answer) if answer.json.is_object() => Ok(Some(answer.json)),
            Ok(_) => Ok(None),
            Err(error) if error.kind == ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Whether Rock's `CheckCanEdit` lets the REST key change this row: a PATCH naming a
    /// property no model has, which Rock refuses (400) after the check and before any change.
    async fn may_edit(&self, controller: &str, id: i64) -> Result<bool, Error> {
        let call = Call::write(
            reqwest::Method::PATCH,
            format!("/api/{controller}/{id}"),
            json!({RIGHTS_PROBE: null}),
        );
        match self.http.send_raw(&call).await {
            Err(Failure::Status { status: 401, .. }) => Ok(false),
            Err(Failure::Status { status: 400, .. }) | Ok(_) => Ok(true),
            Err(failure) => Err(failure.into_error(&call)),
        }
    }

    /// One row with the attributes `keys` loaded.
    async fn loaded(&self, controller: &str, id: i64, keys: &str) -> Result<Value, Error> {
        let rows = self
            .list_page(
                controller,
                &format!("Id eq {id}"),
                1,
                &[("loadAttributes", "simple"), ("attributeKeys", keys)],
            )
            .await?;
        Ok(rows.into_iter().next().unwrap_or(Value::Null))
    }

    /// A group some account syncs (it holds a PCO account value), if any.
    async fn synced_group(&self, defs: &[AttributeDef]) -> Result<Option<i64>, Error> {
        let account = defs.iter().find(|d| {
            d.entity_type == self.ids.group_entity
                && d.key.eq_ignore_ascii_case(&self.names.pco_account)
        });
        if account.is_none() {
            return Ok(None);
        }
        let ids = self
            .attribute_ids(self.ids.group_entity, &self.names.pco_account)
            .await?;
        let Some(first) = ids.first() else {
            return Ok(None);
        };
        let values = self
            .list_page(
                "AttributeValues",
                &format!("AttributeId eq {first} and Value ne null and Value ne ''"),
                1,
                &[("$select", "Id,EntityId")],
            )
            .await?;
        Ok(values.first().and_then(|v| int(v, "EntityId")))
    }

    /// The first `top` rows of a list, ordered by id.
    async fn list_page(
        &self,
        controller: &str,
        filter: &str,
        top: usize,
        extra: &[(&str, &str)],
    ) -> Result<Vec<Value>, Error> {
        let mut call = Call::get(format!("/api/{controller}"))
            .query("$filter", filter)
            .query("$orderby", "Id")
            .query("$top", top.to_string());
        for (name, value) in extra {
            call = call.query(name, *value);
        }
        match self.http.send(&call).await?.json {
            Value::Array(rows) => Ok(rows),
            _ => Err(garbled(&call, "a list")),
        }
    }

    // ---- Reading lists ----------------------------------------------------------------------

    /// Every row of a list matching `filter`, paged by key so rows added meanwhile neither
    /// repeat nor go missing.
    async fn list(
        &self,
        controller: &str,
        filter: &str,
        extra: &[(&str, &str)],
    ) -> Result<Vec<Value>, Error> {
        let mut rows = Vec::new();
        let mut after: Option<i64> = None;
        let with_attributes = extra
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("loadAttributes"));
        // Timeouts of this page so far: each costs one of the request's tries, so a Rock that
        // does not answer at all fails as soon as it would have without the cuts.
        let mut timeouts = 0;
        loop {
            let page_filter = match after {
                Some(last) => format!("({filter}) and Id gt {last}"),
                None => filter.to_string(),
            };
            let top = if with_attributes {
                self.attribute_page.load(Ordering::Relaxed)
            } else {
                self.page_size
            };
            let mut call = Call::get(format!("/api/{controller}"))
                .query("$filter", page_filter)
                .query("$orderby", "Id")
                .query("$top", top.to_string());
            for (name, value) in extra {
                call = call.query(name, *value);
            }
            if with_attributes && top > MIN_ATTRIBUTE_PAGE {
                call = call.smaller_on_timeout();
            }
            let began = std::time::Instant::now();
            let answer = match self.http.send_raw(&call).await {
                Ok(answer) => answer,
                Err(
                    failure @ Failure::Transport {
                        timed_out: true, ..
                    },
                ) if call.smaller_on_timeout => {
                    timeouts += 1;
                    if timeouts >= self.http.attempts {
                        return Err(failure.into_error(&call));
                    }
                    let smaller = (top / 4).max(MIN_ATTRIBUTE_PAGE);
                    tracing::info!(
                        rows = top,
                        smaller,
                        "a Rock page with attributes took longer than the request timeout; asking for fewer rows a page"
                    );
                    self.attribute_page.store(smaller, Ordering::Relaxed);
                    tokio::time::sleep(self.http.backoff(timeouts)).await;
                    continue;
                }
                Err(failure) => return Err(failure.into_error(&call)),
            };
            let page = match answer.json {
                Value::Array(page) => page,
                _ => return Err(garbled(&call, "a list")),
            };
            if with_attributes {
                self.fit_attribute_page(page.len(), began.elapsed());
            }
            let full = page.len() >= top;
            let last = page.last().and_then(|r| int(r, "Id"));
            // A page that does not move past the last one would be asked for forever: Rock
            // ordered by Id never answers it, a broken proxy or cache might.
            if let (Some(before), Some(now)) = (after, last)
                && now <= before
            {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!(
                        "Rock's {controller} list did not advance: a page after Id {before} ended at Id {now}; stopped reading rather than read it again (is a proxy or cache in front of Rock answering stale pages?)"
                    ),
                ));
            }
            after = last;
            self.rows_read.fetch_add(page.len(), Ordering::Relaxed);
            rows.extend(page);
            if !full || after.is_none() {
                return Ok(rows);
            }
        }
    }

    /// After a page of `rows` with attributes took `took`: fewer rows a page from now on when
    /// a page would come near the request timeout (a quarter of it is the aim, so a Rock
    /// under load still answers in time). Never more: Rock's cost per row does not fall.
    fn fit_attribute_page(&self, rows: usize, took: Duration) {
        if rows < 20 || took.is_zero() {
            return;
        }
        let per_row = took.as_secs_f64() / rows as f64;
        let aim = self.request_timeout.as_secs_f64() / 4.0;
        let fitting = ((aim / per_row) as usize).max(MIN_ATTRIBUTE_PAGE);
        let current = self.attribute_page.load(Ordering::Relaxed);
        if fitting < current {
            tracing::debug!(
                rows,
                seconds = took.as_secs_f64(),
                fitting,
                "Rock pages with attributes made smaller"
            );
            self.attribute_page.store(fitting, Ordering::Relaxed);
        }
    }

    /// Rows matching any of `terms` (boolean OData expressions), as many terms per request as
    /// Rock's node limit leaves room for beside `also` and the paging clause.
    async fn list_in(
        &self,
        controller: &str,
        terms: &[String],
        also: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Result<Vec<Value>, Error> {
        let mut rows = Vec::new();
        let mut rest = terms;
        while !rest.is_empty() {
            let size = self.fitting_terms(controller, rest, also)?;
            let (batch, after) = rest.split_at(size);
            let any = batch.join(" or ");
            let filter = match also {
                Some(also) => format!("({any}) and {also}"),
                None => any,
            };
            match self.list(controller, &filter, extra).await {
                Ok(found) => {
                    rows.extend(found);
                    rest = after;
                }
                Err(error)
                    if too_large(&error) && (size > 1 || node_limit_of(&error).is_some()) =>
                {
                    tracing::info!(
                        size,
                        "Rock refused a filter as too large; using smaller batches"
                    );
                    self.shrink_after_refusal(size, &error)?;
                }
                // Rock hides why a query is not valid (customErrors On): a Rock whose node
                // limit is below the usual 100 says no more than for a misspelt property. A
                // batch is asked for again with a quarter fewer nodes; a single term refused
                // is the query's own fault, and said as it is.
                Err(error) if size > 1 && invalid_query(&error) => {
                    let known = self.node_limit.load(Ordering::Relaxed);
                    tracing::info!(
                        size,
                        known,
                        "Rock refused a batched filter; trying fewer nodes"
                    );
                    self.node_limit.store(known - known / 4, Ordering::Relaxed);
                }
                Err(error) => return Err(error),
            }
        }
        Ok(rows)
    }

    /// How many of `terms` (at least one) fit one request: at most `batch_size`, and with
    /// `also` and the paging clause (`and Id gt N`) within Rock's node limit.
    fn fitting_terms(
        &self,
        controller: &str,
        terms: &[String],
        also: Option<&str>,
    ) -> Result<usize, Error> {
        let limit = self.node_limit.load(Ordering::Relaxed);
        let most = self.batch_size.load(Ordering::Relaxed).max(1);
        let mut used = PAGING_NODES + also.map_or(0, |a| filter_nodes(controller, a) + 1);
        let mut fitting = 0;
        for term in terms.iter().take(most) {
            let cost = filter_nodes(controller, term) + usize::from(fitting > 0);
            if used + cost > limit {
                break;
            }
            used += cost;
            fitting += 1;
        }
        if fitting == 0 {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!(
                    "a Rock filter cannot be made small enough for this Rock's limit of {limit} nodes"
                ),
            ));
        }
        Ok(fitting)
    }

    /// After Rock refused a filter of `size` terms for its size: take the node limit it named,
    /// or (it named none, or it was already known) ask for a quarter fewer nodes / half the
    /// terms from now on.
    fn shrink_after_refusal(&self, size: usize, error: &Error) -> Result<(), Error> {
        let known = self.node_limit.load(Ordering::Relaxed);
        match node_limit_of(error) {
            Some(named) if named < known => self.node_limit.store(named, Ordering::Relaxed),
            Some(_) if known > PAGING_NODES + 8 => {
                self.node_limit.store(known - known / 4, Ordering::Relaxed);
            }
            Some(_) => return Err(error.clone()),
            None => self.batch_size.store((size / 2).max(1), Ordering::Relaxed),
        }
        Ok(())
    }

    /// Rows whose `column` equals one of `literals`.
    async fn list_any(
        &self,
        controller: &str,
        column: &str,
        literals: &[String],
        also: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Result<Vec<Value>, Error> {
        let terms: Vec<String> = literals
            .iter()
            .map(|v| format!("{column} eq {v}"))
            .collect();
        self.list_in(controller, &terms, also, extra).await
    }

    /// Rows whose integer `column` is one of `ids`. Close ids are asked for as one range, so
    /// a batch covers many ids even on Rock's 100-node filters; a range spans at most
    /// [`RestRock::range_gap`] ids not asked for, so a batch brings back at most about a page
    /// of rows nobody wanted. Those are dropped here.
    async fn list_ids(
        &self,
        controller: &str,
        column: &str,
        ids: &[i64],
        also: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Result<Vec<Value>, Error> {
        let terms = id_terms(column, ids, self.range_gap());
        let wanted: BTreeSet<i64> = ids.iter().copied().collect();
        let rows = self.list_in(controller, &terms, also, extra).await?;
        Ok(self.asked_only(rows, column, &wanted))
    }

    /// The rows whose `column` is one of `wanted`; the others are counted and dropped.
    fn asked_only(&self, rows: Vec<Value>, column: &str, wanted: &BTreeSet<i64>) -> Vec<Value> {
        let all = rows.len();
        let asked: Vec<Value> = rows
            .into_iter()
            .filter(|row| int(row, column).is_some_and(|v| wanted.contains(&v)))
            .collect();
        self.rows_unasked
            .fetch_add(all - asked.len(), Ordering::Relaxed);
        asked
    }

    /// How many ids not asked for one range term may span: what one term of a batch is worth
    /// in rows of a page. Wide when Rock takes few terms per filter, narrow when it takes many.
    fn range_gap(&self) -> i64 {
        let by_nodes = self.node_limit.load(Ordering::Relaxed) / RANGE_TERM_NODES;
        let terms = self.batch_size.load(Ordering::Relaxed).min(by_nodes).max(1);
        i64::try_from(self.page_size / terms)
            .unwrap_or(i64::MAX)
            .max(1)
    }

    async fn create(&self, controller: &str, body: Value) -> Result<i64, Error> {
        let call = Call::write(reqwest::Method::POST, format!("/api/{controller}"), body);
        let answer = self.http.send(&call).await?;
        answer
            .json
            .as_i64()
            .ok_or_else(|| garbled(&call, "the new id"))
    }

    // ---- People -----------------------------------------------------------------------------

    /// People rows with their phones; the caller adds the home addresses and the PCO Tags.
    async fn people_rows(&self, terms: &[String]) -> Result<Vec<Value>, Error> {
        let extra = [("$select", PERSON_COLUMNS), ("$expand", "PhoneNumbers")];
        self.list_in("People", terms, None, &extra).await
    }

    /// The PCO Tags attribute on people (one, unless Rock holds the key twice), from the
    /// definitions read once.
    async fn tag_attribute_ids(&self) -> Result<Vec<i64>, Error> {
        Ok(self
            .attribute_defs()
            .await?
            .iter()
            .filter(|d| d.entity_type == self.ids.person_entity)
            .map(|d| d.id)
            .collect())
    }

    /// Each person's PCO Tags value, from `api/AttributeValues`: a `$select`ed list carries no
    /// attributes (`RockJsonMediaTypeFormatter` loads them only onto entities, and a
    /// projection hands it wrappers), and people are read projected so that their giving
    /// columns never cross (R53).
    async fn tags_of(&self, people: &[i64]) -> Result<HashMap<i64, String>, Error> {
        let attributes: Vec<String> = self
            .tag_attribute_ids()
            .await?
            .iter()
            .map(|id| format!("AttributeId eq {id}"))
            .collect();
        if attributes.is_empty() || people.is_empty() {
            return Ok(HashMap::new());
        }
        let which = format!("({})", attributes.join(" or "));
        let rows = self
            .list_ids(
                "AttributeValues",
                "EntityId",
                people,
                Some(&which),
                &[("$select", "Id,EntityId,Value")],
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|v| Some((int(v, "EntityId")?, text(v, "Value")?)))
            .collect())
    }

    /// Each family's Home address (its Home location that is the mailing one, as Rock's
    /// export picks it; else any Home location).
    async fn home_addresses(&self, families: &[i64]) -> Result<HashMap<i64, Address>, Error> {
        let home = format!("GroupLocationTypeValueId eq {}", self.ids.location_home);
        let rows = self
            .list_ids(
                "GroupLocations",
                "GroupId",
                families,
                Some(&home),
                &[("$expand", "Location")],
            )
            .await?;
        let mut homes: HashMap<i64, (bool, Address)> = HashMap::new();
        for row in &rows {
            let (Some(group), Some(address)) = (int(row, "GroupId"), address(&row["Location"]))
            else {
                continue;
            };
            let mailing = flag(row, "IsMailingLocation");
            let better = homes.get(&group).is_none_or(|(was, _)| mailing && !was);
            if better {
                homes.insert(group, (mailing, address));
            }
        }
        Ok(homes.into_iter().map(|(g, (_, a))| (g, a)).collect())
    }

    async fn to_people(&self, rows: &[Value]) -> Result<Vec<Person>, Error> {
        let families: BTreeSet<i64> = rows
            .iter()
            .filter_map(|r| int(r, "PrimaryFamilyId"))
            .collect();
        let families: Vec<i64> = families.into_iter().collect();
        let homes = self.home_addresses(&families).await?;
        let ids: Vec<i64> = rows.iter().filter_map(|r| int(r, "Id")).collect();
        let tags = self.tags_of(&distinct(&ids)).await?;
        Ok(rows
            .iter()
            .filter_map(|row| self.person(row, &homes, &tags))
            .collect())
    }

    fn person(
        &self,
        row: &Value,
        homes: &HashMap<i64, Address>,
        tags: &HashMap<i64, String>,
    ) -> Option<Person> {
        let ids = &self.ids;
        let phone = |kind: i64| phone_of(row, kind);
        if let Some(person) = int(row, "Id") {
            for kind in [ids.phone_home, ids.phone_work, ids.phone_mobile] {
                warn_duplicate_phones(person, row, kind);
            }
        }
        Some(Person {
            id: int(row, "Id")?,
            first_name: string(row, "FirstName"),
            nick_name: string(row, "NickName"),
            middle_name: string(row, "MiddleName"),
            last_name: string(row, "LastName"),
            gender: match int(row, "Gender") {
                Some(1) => Gender::Male,
                Some(2) => Gender::Female,
                _ => Gender::Unknown,
            },
            birthdate: birthdate(row),
            married: int(row, "MaritalStatusValueId") == Some(ids.married),
            anniversary: row["AnniversaryDate"].as_str().and_then(parse_date),
            email: text(row, "Email"),
            home_address: int(row, "PrimaryFamilyId").and_then(|f| homes.get(&f).cloned()),
            home_phone: phone(ids.phone_home),
            work_phone: phone(ids.phone_work),
            mobile_phone: phone(ids.phone_mobile),
            photo_id: int(row, "PhotoId"),
            protection: match int(row, "AccountProtectionProfile") {
                Some(1) => Protection::Medium,
                Some(2) => Protection::High,
                Some(3) => Protection::Extreme,
                _ => Protection::Low,
            },
            pco_tags: int(row, "Id")
                .and_then(|id| tags.get(&id).cloned())
                .map(split_tags)
                .unwrap_or_default(),
            modified: self.modified_by_others(row),
            primary_alias: int(row, "PrimaryAliasId"),
        })
    }

    /// When someone other than this client last changed the person, for newest-wins (R26).
    /// Rock moves a person's `ModifiedDateTime` on far more than the person row: a phone
    /// saved or deleted, a family address saved (for every member), a person attribute value
    /// changed, the PCO Tags included (the save hooks of PhoneNumber, GroupLocation and
    /// AttributeValue), each stamping `ModifiedByPersonAliasId` with the writer's alias. The
    /// sync's own writes would make Rock look newer than a PCO edit made before them, so a
    /// change stamped with the REST key's own alias is reported as no Rock change time at
    /// all: the guest then takes PCO's side as the newer one. Such a stamp hides an earlier
    /// staff edit only when staff saved between the sync's read and its write.
    fn modified_by_others(&self, row: &Value) -> Option<String> {
        let by = int(row, "ModifiedByPersonAliasId");
        if by.is_some_and(|alias| self.own_aliases.contains(&alias)) {
            return None;
        }
        text(row, "ModifiedDateTime").map(|t| self.utc(&t))
    }

    /// A Rock change time (org-local, no offset) in UTC, `yyyy-mm-ddThh:mm:ssZ`, when the
    /// time zone is known; as Rock gave it otherwise.
    fn utc(&self, local: &str) -> String {
        let Some(zone) = &self.time_zone else {
            return local.to_string();
        };
        local
            .get(..19)
            .and_then(|t| t.parse::<jiff::civil::DateTime>().ok())
            .and_then(|t| t.to_zoned(zone.clone()).ok())
            .map_or_else(
                || local.to_string(),
                |t| t.timestamp().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            )
    }

    /// One person's row (phones included), projected as a list read is: `GET api/People/{id}`
    /// would send every column, giving ones too (R53).
    async fn person_row(&self, id: i64) -> Result<Value, Error> {
        let extra = [
            ("$select", PERSON_COLUMNS),
            ("$expand", "PhoneNumbers"),
            ("includeDeceased", "true"),
        ];
        let rows = self.list("People", &format!("Id eq {id}"), &extra).await?;
        rows.into_iter().next().ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("Rock has no person {id} (deleted or merged since it was read)"),
            )
        })
    }

    // ---- Groups -----------------------------------------------------------------------------

    fn group(&self, row: &Value) -> Option<Group> {
        let kind = &row["GroupType"];
        Some(Group {
            id: int(row, "Id")?,
            name: string(row, "Name"),
            group_type: GroupType {
                id: int(kind, "Id").or_else(|| int(row, "GroupTypeId"))?,
                guid: string(kind, "Guid"),
                name: string(kind, "Name"),
            },
            is_active: row["IsActive"].as_bool().unwrap_or(true) && !flag(row, "IsArchived"),
            pco_account: attribute(row, &self.names.pco_account)
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty()),
            level: attribute(row, &self.names.pco_level).and_then(|l| parse_level(&l)),
        })
    }

    // ---- Writes -----------------------------------------------------------------------------

    async fn update_one(&self, update: &PersonUpdate) -> Result<(), Error> {
        let changes = Changes::of(&update.changes, &self.ids)?;
        if !changes.columns.is_empty() {
            let call = Call::write(
                reqwest::Method::PATCH,
                format!("/api/People/{}", update.id),
                Value::Object(changes.columns.clone()),
            );
            self.http.send(&call).await?;
        }
        if changes.phones.is_empty() && changes.home.is_none() {
            return Ok(());
        }
        let row = self.person_row(update.id).await?;
        self.write_phones(update.id, &row, &changes.phones).await?;
        if let Some(home) = &changes.home {
            self.write_home(update.id, &row, home.as_ref()).await?;
        }
        Ok(())
    }

    /// Creates, updates or deletes the person's PhoneNumber row of each type given.
    async fn write_phones(
        &self,
        person: i64,
        row: &Value,
        phones: &[(i64, Option<String>)],
    ) -> Result<(), Error> {
        for (kind, number) in phones {
            // The row written is the one read: the lowest Id of this type (see `phone_rows`).
            let existing = phone_rows(row, *kind);
            match (number, existing.first()) {
                (Some(number), Some(current)) => {
                    if same_number(&string(current, "Number"), number) {
                        continue;
                    }
                    let id = int(current, "Id").unwrap_or(0);
                    let call = Call::write(
                        reqwest::Method::PATCH,
                        format!("/api/PhoneNumbers/{id}"),
                        json!({"Number": number}),
                    );
                    self.http.send(&call).await?;
                }
                (Some(number), None) => {
                    let body = json!({"PersonId": person, "NumberTypeValueId": kind,
                        "Number": number, "IsMessagingEnabled": false});
                    self.create("PhoneNumbers", body).await?;
                }
                (None, _) => {
                    for phone in existing.iter().filter_map(|p| int(p, "Id")) {
                        let call = Call::delete(format!("/api/PhoneNumbers/{phone}"));
                        self.http.send(&call).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The address's country, or the organization's when PCO holds none: Rock's address
    /// validation needs a country and answers 500 without one.
    fn country_of<'a>(&'a self, address: &'a Address) -> &'a str {
        match address.country.trim() {
            "" => &self.default_country,
            country => country,
        }
    }

    /// The Home address lives on the family: saved with Rock's own SaveAddress (which moves
    /// the old Home location to Previous); removed by re-typing it to Previous the same way.
    async fn write_home(
        &self,
        person: i64,
        row: &Value,
        address: Option<&Address>,
    ) -> Result<(), Error> {
        let Some(family) = self.family_of(person, row).await? else {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!("Rock person {person} belongs to no family, so has no home address"),
            ));
        };
        // What SaveAddress takes for no address at all (GroupService.AddNewGroupAddress):
        // it would answer 204 and save nothing, so such an address is a removal here.
        match address.filter(|a| !blank_for_save_address(a)) {
            Some(a) => {
                let call = Call::put(format!(
                    "/api/Groups/SaveAddress/{family}/{}",
                    self.ids.location_home
                ))
                .query("street1", &a.street1)
                .query("street2", &a.street2)
                .query("city", &a.city)
                .query("state", &a.state)
                .query("postalCode", &a.postal_code)
                .query("country", self.country_of(a))
                .no_retry_on_server_error();
                match self.http.send_raw(&call).await {
                    Ok(_) => {}
                    // LocationService.Get throws for an address missing what its country
                    // requires (ValidateAddressRequirements): Rock's unhandled-exception 500,
                    // the same for every try.
                    Err(Failure::Status {
                        status: 500,
                        detail,
                    }) => {
                        return Err(Error::new(
                            ErrorKind::Invalid,
                            format!(
                                "Rock refused the home address of person {person}: {}",
                                address_problem(&detail)
                            ),
                        ));
                    }
                    Err(failure) => return Err(failure.into_error(&call)),
                }
            }
            None => {
                let filter = format!(
                    "GroupId eq {family} and GroupLocationTypeValueId eq {}",
                    self.ids.location_home
                );
                for link in self.list("GroupLocations", &filter, &[]).await? {
                    let id = int(&link, "Id").unwrap_or(0);
                    let body = json!({"GroupLocationTypeValueId": self.ids.location_previous,
                        "IsMailingLocation": false, "IsMappedLocation": false});
                    let call = Call::write(
                        reqwest::Method::PATCH,
                        format!("/api/GroupLocations/{id}"),
                        body,
                    );
                    self.http.send(&call).await?;
                }
            }
        }
        Ok(())
    }

    /// The person's family: `PrimaryFamilyId`, or (on a Rock that has not computed it yet)
    /// their first family membership.
    async fn family_of(&self, person: i64, row: &Value) -> Result<Option<i64>, Error> {
        if let Some(family) = int(row, "PrimaryFamilyId") {
            return Ok(Some(family));
        }
        let filter = format!(
            "PersonId eq {person} and GroupTypeId eq {}",
            self.ids.family_type
        );
        let mut members = self.list("GroupMembers", &filter, &[]).await?;
        members.sort_by_key(|m| (int(m, "GroupOrder").unwrap_or(i64::MAX), int(m, "Id")));
        Ok(members.first().and_then(|m| int(m, "GroupId")))
    }

    /// Rock's POST People puts a new person in a new family; should an install not have, this
    /// does what Rock's `SaveNewPerson` does: "<LastName> Family", Adult (Child under 18).
    async fn ensure_family(&self, person: i64, row: &Value) -> Result<(), Error> {
        if self.family_of(person, row).await?.is_some() {
            return Ok(());
        }
        let name = format!("{} Family", string(row, "LastName"));
        let family = self
            .create(
                "Groups",
                json!({"Name": name.trim(), "GroupTypeId": self.ids.family_type}),
            )
            .await?;
        let child = int(row, "Age").is_some_and(|age| age < 18);
        let role = if child {
            self.ids.family_child
        } else {
            self.ids.family_adult
        };
        let body = json!({"GroupId": family, "PersonId": person, "GroupRoleId": role,
            "GroupMemberStatus": MEMBER_ACTIVE});
        self.create("GroupMembers", body).await.map(|_| ())
    }

    /// Creates one person, or finds them: the id, and whether Rock took them for someone it
    /// already holds.
    async fn create_one(&self, new: &NewPerson) -> Result<FoundOrCreated, Error> {
        let changes = Changes::of(&new.fields, &self.ids)?;
        let mut body = changes.columns;
        body.insert("RecordStatusValueId".into(), self.ids.record_active.into());
        if let Some(status) = self.connection_status(&new.connection_status)? {
            body.insert("ConnectionStatusValueId".into(), status.into());
        }
        let call = Call::write(
            reqwest::Method::POST,
            "/api/People".into(),
            Value::Object(body),
        );
        let answer = self.http.send(&call).await?;
        let id = answer
            .json
            .as_i64()
            .ok_or_else(|| garbled(&call, "the new person's id"))?;
        if answer.status == 200 {
            // Rock's POST is find-or-create (`Post` in Rock.Rest/Controllers/
            // PeopleController.Partial.cs runs `PersonService.FindPerson` first): 200 with
            // someone it already holds. Nobody was created; the answer links the new person
            // to that Rock person. Their phones and address are theirs: nothing more is
            // written here, and the guest sees and updates them like anyone's. The contract
            // answers an id only, so this log line is where the link shows.
            tracing::info!(
                rock_person = id,
                status = 200,
                "Rock took a person to create for its existing person {id} (its duplicate \
                 rules matched them): linked to that person, nobody created"
            );
            self.matched_existing.fetch_add(1, Ordering::Relaxed);
            return Ok(FoundOrCreated { id, existing: true });
        }
        let finish = async {
            let mut row = self.person_row(id).await?;
            if int(&row, "PrimaryFamilyId").is_none() {
                self.ensure_family(id, &row).await?;
                row = self.person_row(id).await?;
            }
            self.write_phones(id, &row, &changes.phones).await?;
            if let Some(home) = &changes.home {
                self.write_home(id, &row, home.as_ref()).await?;
            }
            Ok::<(), Error>(())
        };
        finish.await.map_err(|e| {
            Error::new(
                e.kind,
                format!(
                    "created Rock person {id}, but not all of their details: {}",
                    e.message
                ),
            )
        })?;
        Ok(FoundOrCreated {
            id,
            existing: false,
        })
    }

    /// The connection status defined value named (by value or GUID); empty leaves Rock's
    /// default (Visitor).
    fn connection_status(&self, wanted: &str) -> Result<Option<i64>, Error> {
        let wanted = wanted.trim();
        if wanted.is_empty() {
            return Ok(None);
        }
        let statuses = &self.ids.connection_statuses;
        let found = statuses
            .iter()
            .find(|s| s.value.eq_ignore_ascii_case(wanted) || s.guid.eq_ignore_ascii_case(wanted));
        match found {
            Some(status) => Ok(Some(status.id)),
            None => Err(Error::new(
                ErrorKind::Invalid,
                format!(
                    "Rock has no connection status \"{wanted}\" (it has: {})",
                    statuses
                        .iter()
                        .map(|s| s.value.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    async fn set_tags_one(&self, tags: &PersonTags) -> Result<(), Error> {
        if let Some(bad) = tags.tags.iter().find(|t| t.contains(',')) {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!(
                    "the tag \"{bad}\" holds a comma, which Rock's multi-select uses between values"
                ),
            ));
        }
        let value = tags
            .tags
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(",");
        let key = self.tags_key().await?;
        // Setting a value is idempotent, so this POST may be repeated after a failure.
        let call = Call {
            method: reqwest::Method::POST,
            ..Call::get(format!("/api/People/AttributeValue/{}", tags.person_id))
        }
        .query("attributeKey", &key)
        .query("attributeValue", &value);
        match self.http.send_raw(&call).await {
            Ok(_) => Ok(()),
            Err(failure) => Err(attribute_write_error(failure, &call, &key, tags.person_id)),
        }
    }

    /// The PCO Tags attribute's key as Rock spells it: the configured key is found
    /// case-insensitively (SQL Server's collation), but written back case-sensitively.
    async fn tags_key(&self) -> Result<String, Error> {
        let defs = self.attribute_defs().await?;
        defs.iter()
            .find(|d| d.entity_type == self.ids.person_entity)
            .map(|d| d.key.clone())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "Rock has no person attribute with the key {}; run `pcosync rock init` or set the PCO Tags attribute key in the configuration",
                        self.names.pco_tags
                    ),
                )
            })
    }

    /// The configured attributes (PCO Tags on people; PCO account and level on groups) as
    /// Rock holds them, read once: one request.
    async fn attribute_defs(&self) -> Result<Vec<AttributeDef>, Error> {
        if let Some(defs) = self.attribute_defs.lock().ok().and_then(|d| d.clone()) {
            return Ok(defs);
        }
        let filter = format!(
            "(EntityTypeId eq {} and Key eq {}) or (EntityTypeId eq {} and (Key eq {} or Key eq {}))",
            self.ids.person_entity,
            literal(&self.names.pco_tags),
            self.ids.group_entity,
            literal(&self.names.pco_account),
            literal(&self.names.pco_level),
        );
        let rows = self
            .list(
                "Attributes",
                &filter,
                &[(
                    "$select",
                    "Id,Key,EntityTypeId,EntityTypeQualifierColumn,EntityTypeQualifierValue",
                )],
            )
            .await?;
        let defs: Vec<AttributeDef> = rows
            .iter()
            .filter_map(|r| {
                Some(AttributeDef {
                    id: int(r, "Id")?,
                    key: text(r, "Key")?,
                    entity_type: int(r, "EntityTypeId")?,
                    qualifier_column: text(r, "EntityTypeQualifierColumn"),
                    qualifier_value: text(r, "EntityTypeQualifierValue"),
                })
            })
            .collect();
        if let Ok(mut cached) = self.attribute_defs.lock() {
            *cached = Some(defs.clone());
        }
        Ok(defs)
    }

    /// A configured attribute that applies to `row` (of `entity_type`) but that Rock left out
    /// of it: Rock loads only the attributes the REST key may view, silently. Reading on
    /// would take "no tags" or "no account" for the truth.
    async fn check_loaded(
        &self,
        entity_type: i64,
        rows: &[Value],
        what: &str,
    ) -> Result<(), Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let defs = self.attribute_defs().await?;
        for row in rows {
            let unseen = defs
                .iter()
                .filter(|d| d.entity_type == entity_type && d.applies_to(row))
                .find(|d| !has_attribute(row, &d.key));
            if let Some(def) = unseen {
                return Err(Error::new(
                    ErrorKind::Unauthorized,
                    format!(
                        "Rock loaded {what} {} without its attribute \"{}\": {}",
                        int(row, "Id").unwrap_or(0),
                        def.key,
                        missing_view(&def.key)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// For each group: its group type's default role, or why members cannot be added.
    async fn default_roles(&self, groups: &[i64]) -> Result<HashMap<i64, i64>, Error> {
        let rows = self
            .list_ids("Groups", "Id", groups, None, &[("$expand", "GroupType")])
            .await?;
        Ok(rows
            .iter()
            .filter_map(|g| Some((int(g, "Id")?, int(&g["GroupType"], "DefaultGroupRoleId")?)))
            .collect())
    }

    async fn add_one(
        &self,
        member: &Membership,
        roles: &HashMap<i64, i64>,
        current: &HashMap<(i64, i64), Vec<Value>>,
    ) -> Result<(), Error> {
        let key = (member.group_id, member.person_id);
        let rows = current.get(&key).map(Vec::as_slice).unwrap_or_default();
        if rows
            .iter()
            .any(|m| int(m, "GroupMemberStatus") == Some(MEMBER_ACTIVE))
        {
            return Ok(());
        }
        let Some(role) = roles.get(&member.group_id).copied() else {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "Rock group {} does not exist or its group type has no default role",
                    member.group_id
                ),
            ));
        };
        // An inactive or pending membership in that role is re-activated: a second one in
        // the same role is refused by Rock.
        if let Some(id) = rows
            .iter()
            .find(|m| int(m, "GroupRoleId") == Some(role))
            .and_then(|m| int(m, "Id"))
        {
            let call = Call::write(
                reqwest::Method::PATCH,
                format!("/api/GroupMembers/{id}"),
                json!({"GroupMemberStatus": MEMBER_ACTIVE}),
            );
            return self.http.send(&call).await.map(|_| ());
        }
        let body = json!({"GroupId": member.group_id, "PersonId": member.person_id,
            "GroupRoleId": role, "GroupMemberStatus": MEMBER_ACTIVE});
        self.create("GroupMembers", body).await.map(|_| ())
    }

    /// Current (unarchived) memberships of these people in these groups, by (group, person).
    async fn memberships(
        &self,
        members: &[Membership],
    ) -> Result<HashMap<(i64, i64), Vec<Value>>, Error> {
        let mut by_group: HashMap<i64, Vec<i64>> = HashMap::new();
        for m in members {
            by_group.entry(m.group_id).or_default().push(m.person_id);
        }
        let mut found: HashMap<(i64, i64), Vec<Value>> = HashMap::new();
        for (group, people) in by_group {
            let also = format!("GroupId eq {group}");
            let rows = self
                .list_ids("GroupMembers", "PersonId", &people, Some(&also), &[])
                .await?;
            for row in rows {
                if let Some(person) = int(&row, "PersonId") {
                    found.entry((group, person)).or_default().push(row);
                }
            }
        }
        Ok(found)
    }
}

/// The Person columns a people read asks for: the synced fields and what matching, merges and
/// newest-wins need. A list read without `$select` sends every column, `GivingId` and
/// `GivingGroupId` among them, which the product never reads (R53).
const PERSON_COLUMNS: &str = "Id,FirstName,NickName,MiddleName,LastName,Gender,BirthYear,\
BirthMonth,BirthDay,MaritalStatusValueId,AnniversaryDate,Email,PrimaryFamilyId,PhotoId,\
AccountProtectionProfile,Age,ModifiedDateTime,ModifiedByPersonAliasId,PrimaryAliasId,PhoneNumbers";

/// One configured attribute as Rock defines it.
#[derive(Clone, Debug)]
struct AttributeDef {
    id: i64,
    key: String,
    entity_type: i64,
    /// E.g. `GroupTypeId` with the group type's id: the attribute exists on those rows only.
    qualifier_column: Option<String>,
    qualifier_value: Option<String>,
}

impl AttributeDef {
    /// Whether Rock gives rows like `row` this attribute (its qualifier matches).
    fn applies_to(&self, row: &Value) -> bool {
        let Some(column) = &self.qualifier_column else {
            return true;
        };
        let wanted = self.qualifier_value.as_deref().unwrap_or_default();
        match &row[column.as_str()] {
            Value::Number(n) => n.to_string() == wanted,
            Value::String(s) => s.eq_ignore_ascii_case(wanted),
            _ => false,
        }
    }
}

/// The fix for an attribute the REST key may not view.
fn missing_view(key: &str) -> String {
    format!(
        "the REST key may not view the attribute \"{key}\", so Rock leaves it out of every row it loads; in Rock, give the REST key's person View on that attribute (its Security, under Admin Tools > Settings > Person Attributes or the group type's Group Attributes)"
    )
}

/// Whether `loadAttributes` put the attribute `key` on this row.
fn has_attribute(row: &Value, key: &str) -> bool {
    row["Attributes"]
        .as_object()
        .is_some_and(|a| a.keys().any(|k| k.eq_ignore_ascii_case(key)))
}

struct AttributeSpec<'a> {
    what: String,
    entity_type: i64,
    /// The group type whose groups have it (`EntityTypeQualifierColumn` `GroupTypeId`).
    qualifier: Option<i64>,
    key: &'a str,
    name: &'static str,
    field_type: i64,
    multi_value: bool,
    description: &'static str,
}

#[async_trait]
impl Rock for RestRock {
    async fn account_groups(&self, account: &str) -> Result<Vec<Group>, Error> {
        let attributes = self
            .attribute_ids(self.ids.group_entity, &self.names.pco_account)
            .await?;
        if attributes.is_empty() {
            return Ok(Vec::new());
        }
        // Rock (SQL Server) compares the value case-insensitively; the check on the groups
        // read back applies the same rule, trimmed.
        let also = format!("Value eq {}", literal(account.trim()));
        let values = self
            .list_any(
                "AttributeValues",
                "AttributeId",
                &numbers(&attributes),
                Some(&also),
                &[],
            )
            .await?;
        let ids: BTreeSet<i64> = values.iter().filter_map(|v| int(v, "EntityId")).collect();
        let ids: Vec<i64> = ids.into_iter().collect();
        let groups = self.groups(&ids).await?;
        Ok(groups
            .into_iter()
            .filter(|g| {
                g.pco_account
                    .as_deref()
                    .is_some_and(|a| a.eq_ignore_ascii_case(account.trim()))
            })
            .collect())
    }

    async fn groups(&self, ids: &[i64]) -> Result<Vec<Group>, Error> {
        let keys = format!("{},{}", self.names.pco_account, self.names.pco_level);
        let extra = [
            ("$expand", "GroupType"),
            ("loadAttributes", "simple"),
            ("attributeKeys", keys.as_str()),
        ];
        let rows = self.list_ids("Groups", "Id", ids, None, &extra).await?;
        self.check_loaded(self.ids.group_entity, &rows, "group")
            .await?;
        Ok(rows.iter().filter_map(|row| self.group(row)).collect())
    }

    async fn active_members(&self, groups: &[i64]) -> Result<Vec<Membership>, Error> {
        let also = format!("{MEMBER_ACTIVE_FILTER} and IsArchived eq false");
        let rows = self
            .list_ids(
                "GroupMembers",
                "GroupId",
                groups,
                Some(&also),
                &[("$select", "Id,GroupId,PersonId")],
            )
            .await?;
        let mut seen = BTreeSet::new();
        Ok(rows
            .iter()
            .filter_map(|m| Some((int(m, "GroupId")?, int(m, "PersonId")?)))
            .filter(|pair| seen.insert(*pair))
            .map(|(group_id, person_id)| Membership {
                group_id,
                person_id,
            })
            .collect())
    }

    async fn tagged_people(&self) -> Result<Vec<PersonTags>, Error> {
        let attributes = self.tag_attribute_ids().await?;
        if attributes.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .list_any(
                "AttributeValues",
                "AttributeId",
                &numbers(&attributes),
                Some("Value ne null and Value ne ''"),
                &[("$select", "Id,EntityId,Value")],
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|v| {
                let tags = split_tags(v["Value"].as_str().unwrap_or_default().to_string());
                let person_id = int(v, "EntityId")?;
                (!tags.is_empty()).then_some(PersonTags { person_id, tags })
            })
            .collect())
    }

    async fn people(&self, ids: &[i64]) -> Result<Vec<Person>, Error> {
        let wanted = distinct(ids);
        let terms = id_terms("Id", &wanted, self.range_gap());
        // The people between the ids of a range are dropped before their homes are read.
        let asked: BTreeSet<i64> = wanted.iter().copied().collect();
        let rows = self.asked_only(self.people_rows(&terms).await?, "Id", &asked);
        let mut people: HashMap<i64, Person> = self
            .to_people(&rows)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let people: Vec<Person> = wanted.iter().filter_map(|id| people.remove(id)).collect();
        if let Ok(mut photos) = self.photo_ids.lock() {
            for person in &people {
                match person.photo_id {
                    Some(photo) => photos.insert(person.id, photo),
                    None => photos.remove(&person.id),
                };
            }
        }
        Ok(people)
    }

    // R7, R18: what became of linked people `api/People` no longer lists. That list leaves
    // deceased people out (PersonService.Queryable, Rock/Model/CRM/Person/PersonService.cs);
    // `includeDeceased=true` lists them. A merge deletes the merged person and hands their
    // aliases to the survivor; `PersonAlias.AliasPersonId` has no [DataMember] in Rock 17
    // (Rock/Model/CRM/PersonAlias/PersonAlias.cs), so Rock's OData model cannot filter on it
    // (400), and the primary alias kept at the last sync is looked up by its own id instead.
    async fn follow_merges(&self, gone: &[GonePerson]) -> Result<Vec<Merge>, Error> {
        let ids = distinct(&gone.iter().map(|g| g.id).collect::<Vec<_>>());
        let rows = self
            .list_ids(
                "People",
                "Id",
                &ids,
                None,
                &[("includeDeceased", "true"), ("$select", "Id,IsDeceased")],
            )
            .await?;
        let still_there: HashMap<i64, bool> = rows
            .iter()
            .filter_map(|p| Some((int(p, "Id")?, flag(p, "IsDeceased"))))
            .collect();
        let aliases: Vec<i64> = gone
            .iter()
            .filter(|g| !still_there.contains_key(&g.id))
            .filter_map(|g| g.primary_alias)
            .collect();
        let owners: HashMap<i64, i64> = if aliases.is_empty() {
            HashMap::new()
        } else {
            self.list_ids(
                "PersonAlias",
                "Id",
                &distinct(&aliases),
                None,
                &[("$select", "Id,PersonId")],
            )
            .await?
            .iter()
            .filter_map(|a| Some((int(a, "Id")?, int(a, "PersonId")?)))
            .collect()
        };
        Ok(gone
            .iter()
            .map(|person| Merge {
                old_id: person.id,
                fate: match still_there.get(&person.id) {
                    Some(true) => Fate::Deceased,
                    Some(false) => Fate::Present,
                    None => person
                        .primary_alias
                        .and_then(|alias| owners.get(&alias).copied())
                        .filter(|owner| *owner != person.id)
                        .map_or(Fate::Unknown, Fate::Merged),
                },
            })
            .collect())
    }

    async fn find_people(&self, queries: &[PersonQuery]) -> Result<Vec<Vec<Person>>, Error> {
        let emails: BTreeSet<String> = queries
            .iter()
            .map(|q| q.email.trim().to_lowercase())
            .filter(|e| !e.is_empty())
            .collect();
        let terms: Vec<String> = emails
            .iter()
            .map(|e| format!("Email eq {}", literal(e)))
            .collect();
        let rows = self.people_rows(&terms).await?;
        let people = self.to_people(&rows).await?;
        // Candidates by email only: whether a name is the same name is the guest's rule
        // (Unicode forms, typographic quotes), not an ASCII comparison here.
        let same = |a: &str, b: &str| a.trim().to_lowercase() == b.trim().to_lowercase();
        Ok(queries
            .iter()
            .map(|q| {
                people
                    .iter()
                    .filter(|p| {
                        !q.email.trim().is_empty()
                            && p.email.as_deref().is_some_and(|e| same(e, &q.email))
                    })
                    .cloned()
                    .collect()
            })
            .collect())
    }

    async fn update_people(&self, updates: &[PersonUpdate]) -> Vec<Result<(), Error>> {
        let mut results = Vec::with_capacity(updates.len());
        for update in updates {
            results.push(self.update_one(update).await);
        }
        results
    }

    async fn create_people(&self, people: &[NewPerson]) -> Vec<Result<i64, Error>> {
        let mut results = Vec::with_capacity(people.len());
        for new in people {
            results.push(self.create_one(new).await.map(|answer| answer.id));
        }
        results
    }

    /// `api/UserLogins` by person, `PersonId` alone selected: the rows also carry each
    /// login's API key (`ApiKey` is a `[DataMember]`), which never crosses into the host.
    async fn people_with_logins(&self, ids: &[i64]) -> Result<Vec<i64>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .list_ids(
                "UserLogins",
                "PersonId",
                ids,
                None,
                &[("$select", "Id,PersonId")],
            )
            .await?;
        let with: BTreeSet<i64> = rows.iter().filter_map(|r| int(r, "PersonId")).collect();
        Ok(with.into_iter().collect())
    }

    async fn check_connection_status(&self, wanted: &str) -> Result<(), Error> {
        self.connection_status(wanted).map(|_| ())
    }

    async fn create_or_find_people(
        &self,
        people: &[NewPerson],
    ) -> Vec<Result<FoundOrCreated, Error>> {
        let mut results = Vec::with_capacity(people.len());
        for new in people {
            results.push(self.create_one(new).await);
        }
        results
    }

    async fn set_tags(&self, tags: &[PersonTags]) -> Vec<Result<(), Error>> {
        let mut results = Vec::with_capacity(tags.len());
        for one in tags {
            results.push(self.set_tags_one(one).await);
        }
        results
    }

    async fn add_members(&self, members: &[Membership]) -> Vec<Result<(), Error>> {
        let groups: Vec<i64> = distinct(&members.iter().map(|m| m.group_id).collect::<Vec<_>>());
        let lookups = async {
            Ok::<_, Error>((
                self.default_roles(&groups).await?,
                self.memberships(members).await?,
            ))
        };
        let (roles, current) = match lookups.await {
            Ok(found) => found,
            Err(error) => return members.iter().map(|_| Err(error.clone())).collect(),
        };
        let mut results = Vec::with_capacity(members.len());
        let mut added = BTreeSet::new();
        for member in members {
            // The same membership twice in one call is added once.
            if !added.insert((member.group_id, member.person_id)) {
                results.push(Ok(()));
                continue;
            }
            results.push(self.add_one(member, &roles, &current).await);
        }
        results
    }

    async fn set_tag_choices(
        &self,
        update: &(dyn for<'a> Fn(&'a str) -> String + Send + Sync),
    ) -> Result<Option<ChoicesWrite>, Error> {
        self.update_tag_choices(update).await.map(Some)
    }

    async fn photo(&self, id: i64) -> Result<Option<Photo>, Error> {
        let seen = self.photo_ids.lock().ok().and_then(|p| p.get(&id).copied());
        if let Some(photo) = seen {
            // The image the last read named; gone since, Rock is asked for the current one.
            if let Some(found) = self.image(photo).await? {
                return Ok(Some(found));
            }
        }
        if self.photos_unreadable.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let rows = self
            .list(
                "People",
                &format!("Id eq {id}"),
                &[("$select", "Id,PhotoId")],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("Rock has no person {id}"),
            ));
        };
        let Some(photo) = int(row, "PhotoId") else {
            return Ok(None);
        };
        self.image(photo).await
    }
}

impl RestRock {
    /// A binary file's bytes; none when Rock has no such file, or will not let a REST key
    /// read photos at all.
    async fn image(&self, photo: i64) -> Result<Option<Photo>, Error> {
        if self.photos_unreadable.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let call = Call::get("/GetImage.ashx".into())
            .query("id", photo.to_string())
            .raw();
        match self.http.send_raw(&call).await {
            Ok(answer) => Ok(Some(Photo {
                content_type: answer
                    .content_type
                    .unwrap_or_else(|| "application/octet-stream".into()),
                bytes: answer.bytes,
            })),
            Err(Failure::Status { status: 404, .. }) => Ok(None),
            // GetImage.ashx checks the login cookie's person, never the REST key: where the
            // Person Image file type requires view security, every REST read is a 403.
            Err(Failure::Status { status: 403, .. }) => {
                if !self.photos_unreadable.swap(true, Ordering::Relaxed) {
                    tracing::warn!("{PHOTOS_UNREADABLE}");
                }
                Ok(None)
            }
            Err(failure) => Err(failure.into_error(&call)),
        }
    }

    /// Whether a photo read was refused this run (see [`PHOTOS_UNREADABLE`]).
    pub fn photos_unreadable(&self) -> bool {
        self.photos_unreadable.load(Ordering::Relaxed)
    }
}

// ---- Start-up -------------------------------------------------------------------------------

async fn resolve_ids(http: &Http) -> Result<SystemIds, Error> {
    let by_guid = |rows: &[Value]| -> HashMap<String, i64> {
        rows.iter()
            .filter_map(|r| Some((string(r, "Guid").to_uppercase(), int(r, "Id")?)))
            .collect()
    };
    let any_guid = |guids: &[&str]| {
        guids
            .iter()
            .map(|g| format!("Guid eq guid'{g}'"))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let get = |controller: &str, filter: String| {
        Call::get(format!("/api/{controller}")).query("$filter", filter)
    };
    let rows = |call: Call| async move {
        match http.send(&call).await?.json {
            Value::Array(rows) => Ok(rows),
            _ => Err(garbled(&call, "a list")),
        }
    };
    let connection_type = rows(get(
        "DefinedTypes",
        any_guid(&[guid::CONNECTION_STATUS_TYPE]),
    ))
    .await?
    .first()
    .and_then(|r| int(r, "Id"))
    .ok_or_else(|| {
        missing(
            "the connection status defined type",
            guid::CONNECTION_STATUS_TYPE,
        )
    })?;
    let value_guids = [
        guid::PHONE_HOME,
        guid::PHONE_WORK,
        guid::PHONE_MOBILE,
        guid::LOCATION_HOME,
        guid::LOCATION_PREVIOUS,
        guid::RECORD_ACTIVE,
        guid::MARITAL_MARRIED,
    ];
    let filter = format!(
        "DefinedTypeId eq {connection_type} or {}",
        any_guid(&value_guids)
    );
    let values = rows(get("DefinedValues", filter)).await?;
    let types = rows(get("GroupTypes", any_guid(&[guid::GROUPTYPE_FAMILY]))).await?;
    let roles = rows(get(
        "GroupTypeRoles",
        any_guid(&[guid::ROLE_ADULT, guid::ROLE_CHILD]),
    ))
    .await?;
    let entities = rows(get(
        "EntityTypes",
        any_guid(&[guid::ENTITY_PERSON, guid::ENTITY_GROUP]),
    ))
    .await?;
    let mut known = by_guid(&values);
    known.extend(by_guid(&types));
    known.extend(by_guid(&roles));
    known.extend(by_guid(&entities));
    let id = |guid: &str, what: &str| known.get(guid).copied().ok_or_else(|| missing(what, guid));
    Ok(SystemIds {
        phone_home: id(guid::PHONE_HOME, "the Home phone type")?,
        phone_work: id(guid::PHONE_WORK, "the Work phone type")?,
        phone_mobile: id(guid::PHONE_MOBILE, "the Mobile phone type")?,
        location_home: id(guid::LOCATION_HOME, "the Home location type")?,
        location_previous: id(guid::LOCATION_PREVIOUS, "the Previous location type")?,
        record_active: id(guid::RECORD_ACTIVE, "the Active record status")?,
        married: id(guid::MARITAL_MARRIED, "the Married marital status")?,
        family_type: id(guid::GROUPTYPE_FAMILY, "the Family group type")?,
        family_adult: id(guid::ROLE_ADULT, "the family Adult role")?,
        family_child: id(guid::ROLE_CHILD, "the family Child role")?,
        person_entity: id(guid::ENTITY_PERSON, "the Person entity type")?,
        group_entity: id(guid::ENTITY_GROUP, "the Group entity type")?,
        connection_statuses: values
            .iter()
            .filter(|v| int(v, "DefinedTypeId") == Some(connection_type))
            .filter_map(|v| {
                Some(DefinedValue {
                    id: int(v, "Id")?,
                    guid: string(v, "Guid"),
                    value: string(v, "Value"),
                })
            })
            .collect(),
    })
}

/// The aliases of the REST key's person (`GET api/People/GetCurrentPerson`, then its rows of
/// `api/PersonAlias`: `Person.Aliases` has no [DataMember], so a person's JSON never carries
/// them, Rock/Model/CRM/Person/Person.cs): none when the key has no person.
async fn own_aliases(http: &Http) -> Result<BTreeSet<i64>, Error> {
    let call = Call::get("/api/People/GetCurrentPerson".into());
    let person = match http.send(&call).await {
        Ok(answer) => answer.json,
        Err(error) if error.kind == ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(error) => return Err(error),
    };
    let mut aliases: BTreeSet<i64> = int(&person, "PrimaryAliasId").into_iter().collect();
    let Some(id) = int(&person, "Id") else {
        return Ok(aliases);
    };
    let call = Call::get("/api/PersonAlias".into())
        .query("$filter", format!("PersonId eq {id}"))
        .query("$select", "Id");
    let rows = http.send(&call).await?.json;
    aliases.extend(
        rows.as_array()
            .into_iter()
            .flatten()
            .filter_map(|alias| int(alias, "Id")),
    );
    Ok(aliases)
}

/// Why Rock refused an attribute value write, in words: `SetAttributeValue`
/// (`Rock.Rest/ApiController.cs`) gives its reasons only as the status line's reason phrase,
/// with an empty body.
fn attribute_write_error(failure: Failure, call: &Call, key: &str, person: i64) -> Error {
    match failure {
        Failure::Status { status: 400, .. } => Error::new(
            ErrorKind::Invalid,
            format!(
                "Rock refused the PCO tags of person {person}: it has no person attribute with the key \"{key}\" (Rock matches keys case-sensitively); run `pcosync rock init` or correct the key in the configuration"
            ),
        ),
        Failure::Status { status: 403, .. } => Error::new(
            ErrorKind::Unauthorized,
            format!(
                "the REST key may not edit the person attribute \"{key}\" (Rock answered 403 for person {person}); in Rock, give the REST key's person Edit on that attribute (Person Attributes, {key}, Security)"
            ),
        ),
        Failure::Status { status: 401, .. } => Error::new(
            ErrorKind::Unauthorized,
            format!(
                "the REST key may not edit Rock person {person} (401); in Rock, give the REST key's person Edit on people"
            ),
        ),
        other => other.into_error(call),
    }
}

fn missing(what: &str, guid: &str) -> Error {
    Error::new(
        ErrorKind::Invalid,
        format!("Rock has no {what} (well-known GUID {guid}); is this a Rock RMS install?"),
    )
}

// ---- Field values to Rock columns ----------------------------------------------------------

/// A list of field values as Rock stores them: Person columns (PATCH names, case-sensitive),
/// phone rows by type, and the family's Home address.
struct Changes {
    columns: Map<String, Value>,
    phones: Vec<(i64, Option<String>)>,
    /// `Some(None)`: remove the Home address.
    home: Option<Option<Address>>,
}

impl Changes {
    fn of(fields: &[FieldValue], ids: &SystemIds) -> Result<Changes, Error> {
        let mut changes = Changes {
            columns: Map::new(),
            phones: Vec::new(),
            home: None,
        };
        for field in fields {
            changes.add(field, ids)?;
        }
        Ok(changes)
    }

    fn add(&mut self, field: &FieldValue, ids: &SystemIds) -> Result<(), Error> {
        let mut column = |name: &str, value: Value| {
            self.columns.insert(name.to_string(), value);
        };
        match field {
            FieldValue::FirstName(v) => column("FirstName", v.as_str().into()),
            FieldValue::NickName(v) => column("NickName", v.as_str().into()),
            FieldValue::MiddleName(v) => column("MiddleName", v.as_str().into()),
            FieldValue::LastName(v) => column("LastName", v.as_str().into()),
            FieldValue::Gender(g) => column("Gender", gender_number(*g).into()),
            // Rock stores a birth date as three numbers; BirthDate itself is computed.
            FieldValue::Birthdate(d) => {
                column("BirthDay", d.map(|d| d.day).into());
                column("BirthMonth", d.map(|d| d.month).into());
                column("BirthYear", d.and_then(|d| d.year).into());
            }
            FieldValue::Anniversary(d) => column("AnniversaryDate", anniversary(d.as_ref())?),
            FieldValue::Email(e) => column(
                "Email",
                e.as_deref().map(str::trim).filter(|e| !e.is_empty()).into(),
            ),
            FieldValue::HomePhone(p) => self.phones.push((ids.phone_home, present(p))),
            FieldValue::WorkPhone(p) => self.phones.push((ids.phone_work, present(p))),
            FieldValue::MobilePhone(p) => self.phones.push((ids.phone_mobile, present(p))),
            FieldValue::HomeAddress(a) => self.home = Some(a.clone()),
        }
        Ok(())
    }
}

fn present(phone: &Option<String>) -> Option<String> {
    phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
}

fn anniversary(date: Option<&Date>) -> Result<Value, Error> {
    match date {
        None => Ok(Value::Null),
        Some(Date {
            year: Some(year),
            month,
            day,
        }) => Ok(format!("{year:04}-{month:02}-{day:02}T00:00:00").into()),
        Some(_) => Err(Error::new(
            ErrorKind::Invalid,
            "Rock stores an anniversary as a full date; this one has no year",
        )),
    }
}

fn gender_number(gender: Gender) -> i64 {
    match gender {
        Gender::Unknown => 0,
        Gender::Male => 1,
        Gender::Female => 2,
    }
}

// ---- Rock's JSON --------------------------------------------------------------------------

fn int(row: &Value, name: &str) -> Option<i64> {
    row[name].as_i64()
}

fn flag(row: &Value, name: &str) -> bool {
    row[name].as_bool().unwrap_or(false)
}

/// A string column, `""` when null.
fn string(row: &Value, name: &str) -> String {
    row[name].as_str().unwrap_or_default().to_string()
}

/// A string column, `None` when null or blank.
fn text(row: &Value, name: &str) -> Option<String> {
    row[name]
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The raw value of an attribute loaded with `loadAttributes`, by key (case-insensitive as
/// Rock's attribute keys are).
fn attribute(row: &Value, key: &str) -> Option<String> {
    let values = row["AttributeValues"].as_object()?;
    let value = values.get(key).or_else(|| {
        values
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })?;
    value["Value"].as_str().map(str::to_string)
}

/// A multi-select value: comma-separated option values.
fn split_tags(value: String) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_level(value: &str) -> Option<PermissionLevel> {
    let squashed: String = value
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    match squashed.as_str() {
        "scheduledviewer" => Some(PermissionLevel::ScheduledViewer),
        "viewer" => Some(PermissionLevel::Viewer),
        "scheduler" => Some(PermissionLevel::Scheduler),
        "editor" => Some(PermissionLevel::Editor),
        "administrator" => Some(PermissionLevel::Administrator),
        "" => None,
        _ => {
            tracing::warn!("a Rock group holds the unknown permission level \"{value}\"");
            None
        }
    }
}

fn birthdate(row: &Value) -> Option<Date> {
    let part = |name| int(row, name).and_then(|n| u8::try_from(n).ok());
    Some(Date {
        year: int(row, "BirthYear").and_then(|y| i32::try_from(y).ok()),
        month: part("BirthMonth")?,
        day: part("BirthDay")?,
    })
}

/// `2014-06-21T00:00:00` (Rock's dates carry no offset).
fn parse_date(value: &str) -> Option<Date> {
    let mut parts = value.get(..10)?.split('-');
    let year = parts.next()?.parse().ok()?;
    let month = parts.next()?.parse().ok()?;
    let day = parts.next()?.parse().ok()?;
    Some(Date {
        year: Some(year),
        month,
        day,
    })
}

fn address(location: &Value) -> Option<Address> {
    location.as_object()?;
    let address = Address {
        street1: string(location, "Street1"),
        street2: string(location, "Street2"),
        city: string(location, "City"),
        state: string(location, "State"),
        postal_code: string(location, "PostalCode"),
        country: string(location, "Country"),
    };
    (!is_blank(&address)).then_some(address)
}

/// SaveAddress's own test for "no address" (GroupService.AddNewGroupAddress in
/// Rock/Model/Group/Group/GroupService.cs): street1, street2, city, postal code and country
/// all blank; the state alone does not count.
fn blank_for_save_address(a: &Address) -> bool {
    [&a.street1, &a.street2, &a.city, &a.postal_code, &a.country]
        .iter()
        .all(|f| f.trim().is_empty())
}

/// What was wrong with an address Rock refused, from its exception message
/// (`LocationService.ValidateAddressRequirements`): the fields its country requires, or the
/// country it does not know.
fn address_problem(detail: &str) -> String {
    if let Some(fields) = detail.split("The following fields are required: ").nth(1) {
        let fields = fields.trim_end_matches(|c: char| c == '.' || c.is_whitespace());
        return format!(
            "the address lacks {fields}, which Rock requires for its country (Rock: {detail})"
        );
    }
    if detail.contains("Country value") {
        return format!("Rock does not know its country (Rock: {detail})");
    }
    format!("Rock answered 500 ({detail})")
}

fn is_blank(a: &Address) -> bool {
    [&a.street1, &a.street2, &a.city, &a.state, &a.postal_code]
        .iter()
        .all(|f| f.trim().is_empty())
}

/// The person's PhoneNumber rows of one type, lowest Id first. Rock allows several (its
/// `PhoneNumber` model, Rock/Model/CRM/PhoneNumber/PhoneNumber.cs, has no unique index on
/// person and type, and `POST api/PhoneNumbers` adds one more), and answers them in no
/// promised order; the sync reads and writes the first of this list, always the same row.
fn phone_rows(row: &Value, kind: i64) -> Vec<&Value> {
    let mut rows: Vec<&Value> = row["PhoneNumbers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| int(p, "NumberTypeValueId") == Some(kind))
        .collect();
    rows.sort_by_key(|p| int(p, "Id"));
    rows
}

/// The number of the person's phone of this type (the lowest Id), as Rock formats it.
fn phone_of(row: &Value, kind: i64) -> Option<String> {
    let phone = *phone_rows(row, kind).first()?;
    text(phone, "NumberFormatted").or_else(|| text(phone, "Number"))
}

/// Says once per read that a person has several phones of one type: the sync keeps to the
/// lowest Id and leaves the others as they are. Names the person by id, never the numbers
/// (R53).
fn warn_duplicate_phones(person: i64, row: &Value, kind: i64) {
    let rows = phone_rows(row, kind);
    if rows.len() > 1 {
        tracing::warn!(
            person,
            number_type = kind,
            count = rows.len(),
            "Rock person {person} has {} phone numbers of one type (NumberTypeValueId {kind}); the sync reads and writes only the one with the lowest Id and leaves the others as they are",
            rows.len()
        );
    }
}

fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// Whether Rock's stored `Number` is `wanted` as Rock would store it: the same digits, or
/// the same after Rock's US "with Country Code" format dropped a leading 1
/// (`PhoneNumber.SaveHook.cs` keeps the digits of the formatted number). Without this, a
/// number written as "+1 …" would be written again on every run.
fn same_number(stored: &str, wanted: &str) -> bool {
    let (stored, wanted) = (digits(stored), digits(wanted));
    stored == wanted || (wanted.len() == 11 && wanted.strip_prefix('1') == Some(stored.as_str()))
}

/// An OData string literal: single quotes, a quote inside doubled.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn numbers(ids: &[i64]) -> Vec<String> {
    ids.iter().map(i64::to_string).collect()
}

/// Filter terms for `column` in `ids`: sorted, with close ids joined into one
/// `ge … and le …` range that spans at most `gap` ids not asked for.
fn id_terms(column: &str, ids: &[i64], gap: i64) -> Vec<String> {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut terms = Vec::new();
    let mut runs = sorted.iter().copied().peekable();
    while let Some(start) = runs.next() {
        let mut end = start;
        let mut unasked = 0;
        while let Some(next) = runs.next_if(|next| unasked + (next - end - 1) <= gap) {
            unasked += next - end - 1;
            end = next;
        }
        terms.push(if start == end {
            format!("{column} eq {start}")
        } else {
            format!("({column} ge {start} and {column} le {end})")
        });
    }
    terms
}

/// A property no Rock model has: the body of the no-op PATCH that asks Rock whether the REST
/// key may edit a row.
const RIGHTS_PROBE: &str = "PcosyncRightsCheck";

/// Nodes of one range term `(Id ge a and Id le b)` with the `or` before it (see
/// [`filter_nodes`]; one or two more on a nullable column).
const RANGE_TERM_NODES: usize = 10;

/// Nodes of the paging clause `and Id gt N` that [`RestRock::list`] adds.
const PAGING_NODES: usize = 5;

/// Rock's `MaxNodeCount`: Web API's default of a bare `[EnableQuery]`, which every Rock
/// controller carries (Rock.Rest/ApiController.cs; no Rock sets another).
pub const ROCK_MAX_NODE_COUNT: usize = 100;

/// How many nodes Web API OData's `FilterQueryValidator` counts in a filter this backend wrote
/// for `controller`, against Rock's `MaxNodeCount` (100: a bare `[EnableQuery]`,
/// Rock.Rest/ApiController.cs): a comparison is 4 (the operator, the property, the `$it` it is
/// read from, the literal) and 5 where the parser adds a Convert (a nullable column, an enum
/// column, a `null` literal); `and`, `or` and `not` are 1 each; a function call is 1 and its
/// arguments count as above (the figures of Web API's own `FilterQueryValidatorTest`).
/// Parentheses and commas make none; `guid'…'` and `'it''s'` are one literal each.
fn filter_nodes(controller: &str, filter: &str) -> usize {
    let tokens = odata_tokens(filter);
    let mut nodes = 0;
    for (at, token) in tokens.iter().enumerate() {
        let next = tokens.get(at + 1).map(String::as_str);
        nodes += match token.as_str() {
            "(" | ")" | "," => 0,
            "and" | "or" | "not" => 1,
            "eq" | "ne" | "gt" | "ge" | "lt" | "le" => {
                let column = at
                    .checked_sub(1)
                    .map_or("", |before| tokens[before].as_str());
                1 + usize::from(next == Some("null") || converted(controller, column))
            }
            // A function call (its arguments are counted as they come).
            _ if next == Some("(") => 1,
            // A property: read from the range variable `$it`, a node of its own.
            word if word.starts_with(|c: char| c.is_ascii_uppercase()) => 2,
            _ => 1,
        };
    }
    nodes
}

/// Whether OData's parser wraps a comparison with `column` of `controller`'s entity in a
/// Convert: the columns this backend filters on that Rock 17's model types as nullable
/// (`int?`, `DateTime?`) or as an enum (tests/rock-sandbox/model/rock-17.json).
fn converted(controller: &str, column: &str) -> bool {
    matches!(
        (controller, column),
        ("Attributes", "EntityTypeId")
            | ("AttributeValues", "EntityId")
            | ("GroupLocations", "GroupLocationTypeValueId")
            | ("Groups", "ParentGroupId" | "CampusId")
            | ("GroupTypeRoles", "GroupTypeId")
            | (
                "People",
                "PhotoId" | "PrimaryFamilyId" | "PrimaryAliasId" | "ModifiedDateTime"
            )
            | ("PhoneNumbers", "NumberTypeValueId")
            | (
                _,
                "GroupMemberStatus" | "Gender" | "AccountProtectionProfile"
            )
    )
}

/// A filter's tokens: words, literals (with any `guid`/`datetime` prefix), `(`, `)` and `,`.
fn odata_tokens(filter: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = filter.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '(' | ')' | ',' => tokens.push(c.to_string()),
            c if c.is_whitespace() => {}
            _ => {
                let mut token = c.to_string();
                if c == '\'' {
                    skip_string(&mut chars);
                    token.push('\'');
                }
                while let Some(&next) = chars.peek() {
                    if next == '\'' {
                        chars.next();
                        skip_string(&mut chars);
                        token.push_str("''");
                        break;
                    }
                    if next.is_whitespace() || matches!(next, '(' | ')' | ',') {
                        break;
                    }
                    token.push(next);
                    chars.next();
                }
                tokens.push(token);
            }
        }
    }
    tokens
}

/// Past the end of a string literal whose opening quote was read (`''` is a quote inside).
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.peek() == Some(&'\'') {
                chars.next();
            } else {
                return;
            }
        }
    }
}

/// The node limit a size refusal named (`… (400, node limit 100)`).
fn node_limit_of(error: &Error) -> Option<usize> {
    let (_, after) = error.message.split_once(NODE_LIMIT)?;
    after
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Marks the node limit in the message of a size refusal.
const NODE_LIMIT: &str = "node limit";

/// The ids once each, in first-seen order.
fn distinct(ids: &[i64]) -> Vec<i64> {
    let mut seen = BTreeSet::new();
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

/// Rock refused a query it could not parse or validate, without saying why (its customErrors
/// hide the OData parser's message: "The query specified in the URI is not valid.").
fn invalid_query(error: &Error) -> bool {
    error.kind == ErrorKind::Invalid
        && error
            .message
            .contains("The query specified in the URI is not valid")
}

/// Rock refused a filter for its size: OData's node limit, or IIS's query string limit.
fn too_large(error: &Error) -> bool {
    error.kind == ErrorKind::Invalid && error.message.contains(TOO_LARGE)
}

/// Marks the message of an error [`too_large`] recognises.
const TOO_LARGE: &str = "as too large";

/// Whether a refusal is about the request's size: OData's node limit (a 400 with Web API's
/// message), or IIS's request filtering (a 414, or an HTML 404.15 page).
fn refused_for_size(status: u16, body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    status == 414
        || (status == 400 && text.contains("node count limit"))
        || (status == 404 && (text.contains("404.15") || text.contains("query string is too long")))
}

/// The limit in OData's "The node count limit of '100' has been exceeded." (Web API OData's
/// `SRResources.MaxNodeLimitExceeded`).
fn named_node_limit(body: &[u8]) -> Option<usize> {
    let text = String::from_utf8_lossy(body);
    let (_, after) = text.split_once("node count limit of '")?;
    after.split('\'').next()?.parse().ok()
}

fn garbled(call: &Call, expected: &str) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!(
            "Rock answered {} without {expected} where one was due",
            call.describe()
        ),
    )
}

// ---- HTTP -----------------------------------------------------------------------------------

/// One request to Rock.
struct Call {
    method: reqwest::Method,
    /// From the root, e.g. `/api/People`.
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
    /// Safe to send again when a try may have reached Rock (reads, PUT, PATCH, DELETE).
    repeatable: bool,
    /// Whether a 5xx is worth another try; false where Rock answers 500 for input it
    /// refuses, which a retry only repeats (SaveAddress).
    retry_server_errors: bool,
    /// The answer is JSON (else raw bytes, e.g. a photo).
    json: bool,
    /// A timeout is handed back at once, not tried again: the caller asks for less instead.
    smaller_on_timeout: bool,
}

impl Call {
    fn get(path: String) -> Call {
        Call {
            method: reqwest::Method::GET,
            path,
            query: Vec::new(),
            body: None,
            repeatable: true,
            retry_server_errors: true,
            json: true,
            smaller_on_timeout: false,
        }
    }

    fn put(path: String) -> Call {
        Call {
            method: reqwest::Method::PUT,
            ..Call::get(path)
        }
    }

    fn delete(path: String) -> Call {
        Call {
            method: reqwest::Method::DELETE,
            ..Call::get(path)
        }
    }

    /// A JSON body; POST is not repeated (a second try could create a second row).
    fn write(method: reqwest::Method, path: String, body: Value) -> Call {
        Call {
            repeatable: method != reqwest::Method::POST,
            method,
            body: Some(body),
            ..Call::get(path)
        }
    }

    fn query(mut self, name: &str, value: impl Into<String>) -> Call {
        self.query.push((name.to_string(), value.into()));
        self
    }

    /// A 500 is Rock's answer to this input, not a passing fault: not tried again.
    fn no_retry_on_server_error(mut self) -> Call {
        self.retry_server_errors = false;
        self
    }

    fn smaller_on_timeout(mut self) -> Call {
        self.smaller_on_timeout = true;
        self
    }

    fn raw(mut self) -> Call {
        self.json = false;
        self
    }

    /// `GET /api/People`: what the request was, for a message (never the query).
    fn describe(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

struct Answer {
    status: u16,
    content_type: Option<String>,
    bytes: Vec<u8>,
    /// The parsed body of a JSON call (`null` when empty).
    json: Value,
}

struct Http {
    client: reqwest::Client,
    base: Url,
    token: HeaderValue,
    attempts: u32,
    backoff_base: Duration,
    backoff_cap: Duration,
    max_response_bytes: usize,
}

/// How one try failed, before deciding whether to try again.
enum Failure {
    /// Rock refused the filter for its size; a smaller batch will do.
    TooLarge {
        status: u16,
        /// The `MaxNodeCount` Rock's message named, if it named one.
        node_limit: Option<usize>,
    },
    Transport {
        before_sending: bool,
        /// The request's time ran out (Rock may still be working on it).
        timed_out: bool,
        message: String,
    },
    Status {
        status: u16,
        detail: String,
    },
    Malformed(String),
}

impl Http {
    fn new(options: &RestRockOptions) -> Result<Http, Error> {
        check_transport(&options.base_url)?;
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("pcosync/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("cannot start the HTTP client: {}", describe_transport(e)),
                )
            })?;
        let mut token = HeaderValue::from_str(options.token.expose()).map_err(|_| {
            Error::new(
                ErrorKind::Unauthorized,
                "the Rock token holds characters a header cannot carry; check the Rock token in the configuration",
            )
        })?;
        token.set_sensitive(true);
        Ok(Http {
            client,
            base: options.base_url.clone(),
            token,
            attempts: options.attempts.max(1),
            backoff_base: options.backoff_base,
            backoff_cap: options.backoff_cap,
            max_response_bytes: options.max_response_bytes,
        })
    }

    fn url(&self, call: &Call) -> Url {
        let mut url = self.base.clone();
        let root = self.base.path().trim_end_matches('/');
        url.set_path(&format!("{root}{}", call.path));
        url.set_query(None);
        url.set_fragment(None);
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&call.query);
        }
        url
    }

    async fn send(&self, call: &Call) -> Result<Answer, Error> {
        self.send_raw(call).await.map_err(|f| f.into_error(call))
    }

    /// [`Http::send`], with the last try's failure as it was (for callers that explain a
    /// status themselves).
    async fn send_raw(&self, call: &Call) -> Result<Answer, Failure> {
        let url = self.url(call);
        let mut attempt = 0;
        // Whether an earlier try may have done the work before its answer was lost.
        let mut maybe_done = false;
        loop {
            attempt += 1;
            let failure = match self.attempt(call, url.clone()).await {
                Ok(answer) => return Ok(answer),
                // Rock's generic Delete (`Rock.Rest/ApiController.cs`) answers 404 for a row
                // that is not there: after a try whose answer was lost, that is the row this
                // call deleted.
                Err(Failure::Status { status: 404, .. })
                    if maybe_done && call.method == reqwest::Method::DELETE =>
                {
                    return Ok(Answer {
                        status: 404,
                        content_type: None,
                        bytes: Vec::new(),
                        json: Value::Null,
                    });
                }
                Err(failure) => failure,
            };
            maybe_done |= failure.may_have_reached_rock();
            let retry = attempt < self.attempts
                && match &failure {
                    Failure::Status { status, .. } => {
                        *status >= 500 && call.repeatable && call.retry_server_errors
                    }
                    Failure::Transport {
                        timed_out: true, ..
                    } if call.smaller_on_timeout => false,
                    Failure::Transport { before_sending, .. } => call.repeatable || *before_sending,
                    Failure::Malformed(_) => call.repeatable,
                    Failure::TooLarge { .. } => false,
                };
            if !retry {
                return Err(failure);
            }
            tracing::debug!(request = %call.describe(), attempt, "retrying a Rock request: {}", failure.summary());
            tokio::time::sleep(self.backoff(attempt)).await;
        }
    }

    async fn attempt(&self, call: &Call, url: Url) -> Result<Answer, Failure> {
        let mut request = self
            .client
            .request(call.method.clone(), url)
            .header("Authorization-Token", self.token.clone());
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        } else if call.method != reqwest::Method::GET && call.method != reqwest::Method::DELETE {
            // IIS (http.sys) answers 411 Length Required to a POST, PUT or PATCH with neither
            // a length nor a chunked body, and reqwest sends no length for an empty body
            // (seanmonstar/reqwest#838, #1873): Rock's body-less writes (AttributeValue,
            // SaveAddress) say their length themselves.
            request = request.header(CONTENT_LENGTH, 0).body(Vec::new());
        }
        let response = request.send().await.map_err(|e| Failure::Transport {
            before_sending: e.is_connect(),
            timed_out: e.is_timeout(),
            message: describe_transport(e),
        })?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = self.read(response).await?;
        if refused_for_size(status, &bytes) {
            return Err(Failure::TooLarge {
                status,
                node_limit: named_node_limit(&bytes),
            });
        }
        if !(200..300).contains(&status) {
            return Err(Failure::Status {
                status,
                detail: rock_message(&bytes),
            });
        }
        let json = if call.json && !bytes.iter().all(u8::is_ascii_whitespace) {
            serde_json::from_slice(&bytes)
                .map_err(|_| Failure::Malformed("the answer was not valid JSON".into()))?
        } else {
            Value::Null
        };
        Ok(Answer {
            status,
            content_type,
            bytes,
            json,
        })
    }

    async fn read(&self, mut response: reqwest::Response) -> Result<Vec<u8>, Failure> {
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > self.max_response_bytes {
                        return Err(Failure::Malformed(format!(
                            "the answer was larger than {} bytes",
                            self.max_response_bytes
                        )));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) => {
                    return Err(Failure::Transport {
                        before_sending: false,
                        timed_out: e.is_timeout(),
                        message: format!("the answer was cut short ({})", describe_transport(e)),
                    });
                }
            }
        }
    }

    /// Capped exponential backoff with full jitter, so the retries of many runs don't align.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponential = self
            .backoff_base
            .saturating_mul(1 << attempt.min(16))
            .min(self.backoff_cap);
        exponential.mul_f64(rand::rng().random_range(0.5..=1.0))
    }
}

impl Failure {
    /// Whether Rock may have carried the request out although this try failed.
    fn may_have_reached_rock(&self) -> bool {
        match self {
            Failure::Transport { before_sending, .. } => !before_sending,
            Failure::Status { status, .. } => *status >= 500,
            Failure::Malformed(_) => true,
            Failure::TooLarge { .. } => false,
        }
    }

    fn summary(&self) -> String {
        match self {
            Failure::Transport { message, .. } | Failure::Malformed(message) => message.clone(),
            Failure::Status { status, detail } => format!("{status} {detail}"),
            Failure::TooLarge { status, .. } => format!("{status} {TOO_LARGE}"),
        }
    }

    fn into_error(self, call: &Call) -> Error {
        let what = call.describe();
        let uncertain = if call.repeatable {
            ""
        } else {
            " (the change may or may not have been made in Rock)"
        };
        match self {
            Failure::Transport { message, .. } => Error::new(
                ErrorKind::Unavailable,
                format!("Rock could not be reached for {what}: {message}{uncertain}"),
            ),
            Failure::Malformed(message) => Error::new(
                ErrorKind::Unavailable,
                format!("Rock answered {what} badly: {message}{uncertain}"),
            ),
            Failure::TooLarge { status, node_limit } => Error::new(
                ErrorKind::Invalid,
                match node_limit {
                    Some(limit) => {
                        format!("Rock refused {what} {TOO_LARGE} ({status}, {NODE_LIMIT} {limit})")
                    }
                    None => format!("Rock refused {what} {TOO_LARGE} ({status})"),
                },
            ),
            Failure::Status { status, detail } => {
                let (kind, message) = match status {
                    // `CheckCanEdit` (Rock.Rest/ApiController.cs) answers a write 401 when the
                    // key's person may not edit the row; a wrong key is caught at connect.
                    401 if call.method != reqwest::Method::GET => (
                        ErrorKind::Unauthorized,
                        format!(
                            "Rock refused {what} (401): the REST key may not edit this record; in Rock, give the REST key's person Edit on it (on people, or on the group and its group type)"
                        ),
                    ),
                    401 | 403 => (
                        ErrorKind::Unauthorized,
                        format!(
                            "Rock refused the REST key for {what} ({status}); check the Rock token in the configuration and that its key may use this endpoint"
                        ),
                    ),
                    404 => (
                        ErrorKind::NotFound,
                        format!(
                            "Rock found nothing for {what} (404){}",
                            detail_suffix(&detail)
                        ),
                    ),
                    409 => (
                        ErrorKind::Conflict,
                        format!("Rock refused {what} (409): {detail}"),
                    ),
                    429 => (
                        ErrorKind::RateLimited,
                        format!("Rock asked to slow down on {what} (429)"),
                    ),
                    400..=499 => (
                        ErrorKind::Invalid,
                        format!("Rock refused {what}, answered {status}: {detail}"),
                    ),
                    _ => (
                        ErrorKind::Unavailable,
                        format!("Rock failed on {what}, answered {status}: {detail}{uncertain}"),
                    ),
                };
                Error::new(kind, message)
            }
        }
    }
}

fn detail_suffix(detail: &str) -> String {
    if detail == "no details" {
        String::new()
    } else {
        format!(": {detail}")
    }
}

/// Rock's error body is Web API's `{"Message": "..."}`; anything else, its start.
fn rock_message(body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    if let Some(message) = parsed.as_ref().and_then(|b| b["Message"].as_str()) {
        // An unhandled exception's 500 says "An error has occurred." and puts what happened
        // in `ExceptionMessage`.
        let message = match parsed.as_ref().and_then(|b| b["ExceptionMessage"].as_str()) {
            Some(exception) => format!("{message} {exception}"),
            None => message.to_string(),
        };
        return message.chars().take(500).collect();
    }
    let text: String = String::from_utf8_lossy(body).chars().take(200).collect();
    if text.trim().is_empty() {
        "no details".into()
    } else {
        text
    }
}

fn describe_transport(error: reqwest::Error) -> String {
    if error.is_timeout() {
        return "the request timed out".into();
    }
    if error.is_connect() {
        return "the connection failed".into();
    }
    // Without the URL: it would repeat the whole query, and is no help to an administrator.
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// Real TLS to Rock; plain HTTP only to a sandbox on this machine.
fn check_transport(url: &Url) -> Result<(), Error> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if crate::pco::http::is_loopback(url) => Ok(()),
        scheme => Err(Error::new(
            ErrorKind::Invalid,
            format!(
                "the Rock URL {url} uses {scheme}; only https is allowed (plain http only to a loopback sandbox)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> SystemIds {
        SystemIds {
            phone_home: 141,
            phone_work: 142,
            phone_mobile: 140,
            location_home: 143,
            location_previous: 145,
            record_active: 146,
            married: 150,
            family_type: 10,
            family_adult: 20,
            family_child: 21,
            person_entity: 15,
            group_entity: 16,
            connection_statuses: vec![],
        }
    }

    #[test]
    fn field_values_become_rock_columns() {
        let fields = [
            FieldValue::NickName("Bob".into()),
            FieldValue::Birthdate(Some(Date {
                year: None,
                month: 4,
                day: 9,
            })),
            FieldValue::Email(Some("  ".into())),
            FieldValue::MobilePhone(Some(" (555) 123-4567 ".into())),
            FieldValue::HomePhone(None),
        ];
        let changes = Changes::of(&fields, &ids()).unwrap();
        assert_eq!(
            Value::Object(changes.columns),
            json!({"NickName": "Bob", "BirthDay": 9, "BirthMonth": 4, "BirthYear": null, "Email": null})
        );
        assert_eq!(
            changes.phones,
            vec![(140, Some("(555) 123-4567".into())), (141, None)]
        );
        assert!(changes.home.is_none());
        let no_year = Changes::of(
            &[FieldValue::Anniversary(Some(Date {
                year: None,
                month: 1,
                day: 1,
            }))],
            &ids(),
        );
        assert_eq!(no_year.err().map(|e| e.kind), Some(ErrorKind::Invalid));
    }

    #[test]
    fn close_ids_become_ranges() {
        let terms = id_terms("Id", &[9, 3, 4, 5, 20, 3], 2);
        assert_eq!(terms, vec!["(Id ge 3 and Id le 5)", "Id eq 9", "Id eq 20"]);
        assert_eq!(
            id_terms("Id", &[1, 50], 100),
            vec!["(Id ge 1 and Id le 50)"]
        );
        assert!(id_terms("Id", &[], 1).is_empty());
    }

    // Issue 13 item 2: a range never spans more than `gap` ids nobody asked for, however many
    // close ids it joins (sparse ids 150 apart once made one range of 1,500 rows for 11).
    #[test]
    fn a_range_spans_at_most_gap_unasked_ids() {
        let sparse: Vec<i64> = (0..11).map(|n| 1000 + 150 * n).collect();
        let terms = id_terms("Id", &sparse, 181);
        assert_eq!(
            terms.len(),
            6,
            "pairs at most (149 unasked ids each): {terms:?}"
        );
        let dense: Vec<i64> = (1..=500).chain(600..=700).collect();
        assert_eq!(
            id_terms("Id", &dense, 181),
            vec!["(Id ge 1 and Id le 700)"],
            "a long run of asked ids with a gap of 99 stays one term"
        );
    }

    #[test]
    fn filter_nodes_count_as_odata_does() {
        assert_eq!(filter_nodes("People", "Id eq 5"), 4);
        assert_eq!(filter_nodes("People", "(Id ge 1 and Id le 2)"), 9);
        assert_eq!(filter_nodes("People", "Guid eq guid'AA-BB'"), 4);
        assert_eq!(
            filter_nodes("People", "LastName eq 'O''Brien' and Email ne ''"),
            9
        );
        assert_eq!(filter_nodes("GroupMembers", MEMBER_ACTIVE_FILTER), 5);
        assert_eq!(filter_nodes("AttributeValues", "EntityId eq 7"), 5);
        assert_eq!(filter_nodes("Attributes", "EntityTypeId eq null"), 5);
    }

    // Issue 23: the client counts each filter shape it sends as Web API OData does (the
    // sandbox's counter follows the library's FilterQueryValidatorTest), so a batch never
    // passes Rock's limit of 100 nodes.
    #[test]
    fn filter_nodes_agree_with_rocks_counting() {
        let filters = [
            ("People", "Id eq 5 or (Id ge 7 and Id le 90) and Id gt 3"),
            (
                "People",
                "(Email eq 'a@b.org' or Email eq 'O''Brien@x.org') and Id gt 0",
            ),
            ("People", "IsDeceased eq true and PrimaryAliasId eq 4"),
            ("PersonAlias", "Id eq 70001 or Id eq 70002"),
            (
                "GroupMembers",
                "(GroupId eq 5 or GroupId eq 6) and GroupMemberStatus eq 'Active'",
            ),
            (
                "GroupLocations",
                "(GroupId eq 5) and GroupLocationTypeValueId eq 19",
            ),
            (
                "AttributeValues",
                "(EntityId ge 1 and EntityId le 9) and AttributeId eq 3",
            ),
            ("Attributes", "EntityTypeId eq 15 and Key eq 'PCOTags'"),
            ("Groups", "IsActive eq true and substringof('Kids', Name)"),
            (
                "DefinedValues",
                "Guid eq guid'8C52E53C-2A66-435A-AE6E-5EE307D9A0DC'",
            ),
            (
                "PhoneNumbers",
                "PersonId eq 1001 and NumberTypeValueId eq 12",
            ),
        ];
        for (controller, filter) in filters {
            let rock = rock_sandbox::odata_node_count(controller, filter)
                .unwrap_or_else(|e| panic!("{controller} {filter}: {e}"));
            assert_eq!(
                filter_nodes(controller, filter),
                rock,
                "{controller}: {filter}"
            );
        }
    }

    #[test]
    fn reads_rock_values() {
        assert_eq!(
            parse_date("2014-06-21T00:00:00"),
            Some(Date {
                year: Some(2014),
                month: 6,
                day: 21
            })
        );
        assert_eq!(parse_date("junk"), None);
        assert_eq!(
            parse_level("Scheduled Viewer"),
            Some(PermissionLevel::ScheduledViewer)
        );
        assert_eq!(
            parse_level("scheduled_viewer"),
            Some(PermissionLevel::ScheduledViewer)
        );
        assert_eq!(parse_level("Admin"), None);
        assert_eq!(split_tags("a, b,,c ".into()), vec!["a", "b", "c"]);
        assert_eq!(literal("O'Brien"), "'O''Brien'");
        let row = json!({"AttributeValues": {"pcotags": {"Value": "x"}}});
        assert_eq!(attribute(&row, "PCOTags").as_deref(), Some("x"));
    }

    #[test]
    fn size_refusals_are_recognised() {
        let html = b"<html><title>HTTP Error 404.15 - Not Found</title></html>";
        assert!(refused_for_size(404, html));
        assert!(refused_for_size(414, b""));
        assert!(refused_for_size(
            400,
            br#"{"Message":"The node count limit of '100' has been exceeded."}"#
        ));
        assert!(!refused_for_size(404, b""));
        assert!(!refused_for_size(
            400,
            br#"{"Message":"The Email address is invalid"}"#
        ));
        let error = Failure::TooLarge {
            status: 414,
            node_limit: None,
        }
        .into_error(&Call::get("/api/People".into()));
        assert!(too_large(&error), "{}", error.message);
        assert_eq!(node_limit_of(&error), None);
        let named = br#"{"Message":"The query specified in the URI is not valid. The node count limit of '100' has been exceeded."}"#;
        let error = Failure::TooLarge {
            status: 400,
            node_limit: named_node_limit(named),
        }
        .into_error(&Call::get("/api/People".into()));
        assert_eq!(node_limit_of(&error), Some(100), "{}", error.message);
    }

    #[test]
    fn statuses_map_to_error_kinds() {
        let call = Call::get("/api/People".into());
        let kind = |status| {
            Failure::Status {
                status,
                detail: "x".into(),
            }
            .into_error(&call)
            .kind
        };
        assert_eq!(kind(401), ErrorKind::Unauthorized);
        assert_eq!(kind(404), ErrorKind::NotFound);
        assert_eq!(kind(400), ErrorKind::Invalid);
        assert_eq!(kind(405), ErrorKind::Invalid);
        assert_eq!(kind(500), ErrorKind::Unavailable);
        assert_eq!(kind(503), ErrorKind::Unavailable);
        let refused = Failure::Status {
            status: 401,
            detail: "no details".into(),
        }
        .into_error(&call);
        assert!(
            refused.message.contains("check the Rock token"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(check_transport(&Url::parse("http://127.0.0.1:9/").unwrap()).is_ok());
        assert!(check_transport(&Url::parse("https://rock.example.org/").unwrap()).is_ok());
        let refused = check_transport(&Url::parse("http://rock.example.org/").unwrap());
        assert_eq!(refused.err().map(|e| e.kind), Some(ErrorKind::Invalid));
    }
}
