//! Person-specific behaviour: aliases, find-or-create with a new family, the Export endpoint,
//! merges, the family Home address and profile photos.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use crate::attributes;
use crate::clock::{format_datetime, parse_datetime};
use crate::rewrites::{self, fix_case, full_name};
use crate::schema::Entity;
use crate::store::{Invalid, Row, Store, flag, int, set, text};

/// Rock's matcher cutoff (`PersonService.FindPerson`, research §8.5).
const MATCH_CUTOFF: i64 = 35;
/// `AccountProtectionProfile` High: such people are never matched automatically.
const PROTECTION_HIGH: i64 = 2;
/// `core_ExportAPIsMaxItemsPerPage` default.
pub const EXPORT_MAX_PAGE: usize = 1000;

/// Gives a new person their primary alias (alias person id = their own id) and records it
/// as `PrimaryAliasId`. Returns the alias id.
pub fn create_primary_alias(store: &mut Store, person_id: i64) -> i64 {
    let (guid, name) = match store.get(Entity::Person, person_id) {
        Some(p) => (p.get("Guid").cloned().unwrap_or(Value::Null), full_name(p)),
        None => (Value::Null, String::new()),
    };
    let mut alias = Store::blank(Entity::PersonAlias);
    set(&mut alias, "PersonId", person_id);
    set(&mut alias, "AliasPersonId", person_id);
    alias.insert("AliasPersonGuid".into(), guid);
    set(&mut alias, "Name", name);
    let alias_id = store.insert_unchecked(Entity::PersonAlias, alias);
    if let Some(person) = store.raw_mut(Entity::Person, person_id) {
        set(person, "PrimaryAliasId", alias_id);
    }
    alias_id
}

/// `POST /api/People`: returns (200, existing id) when Rock's matcher finds the person,
/// else creates them in a new family and returns (201, new id).
pub fn find_or_create(store: &mut Store, mut row: Row) -> Result<(u16, i64), Invalid> {
    for name in ["FirstName", "NickName", "MiddleName", "LastName"] {
        if let Some(value) = text(&row, name) {
            let fixed = fix_case(&rewrites::clean_name(value));
            set(&mut row, name, fixed);
        }
    }
    rewrites::before_save(store, Entity::Person, &mut row, None);
    rewrites::validate(store, Entity::Person, &row, None)?;
    if let Some(existing) = best_match(store, &row) {
        return Ok((200, existing));
    }
    let id = store.insert(Entity::Person, row)?;
    let adult = store
        .get(Entity::Person, id)
        .and_then(|p| int(p, "Age"))
        .is_none_or(|age| age >= 18);
    add_to_new_family(store, id, adult);
    Ok((201, id))
}

fn best_match(store: &Store, wanted: &Row) -> Option<i64> {
    let last = text(wanted, "LastName").unwrap_or("").to_lowercase();
    if last.is_empty() {
        return None;
    }
    store
        .rows(Entity::Person)
        // `FindPersons` starts from `Queryable( includeDeceased, includeBusinesses )`.
        .filter(|p| listed(store, p))
        .filter(|p| text(p, "LastName").is_some_and(|l| l.to_lowercase() == last))
        .filter(|p| int(p, "AccountProtectionProfile").unwrap_or(0) < PROTECTION_HIGH)
        .map(|p| (match_score(wanted, p), int(p, "Id").unwrap_or(0)))
        .filter(|(score, _)| *score >= MATCH_CUTOFF)
        .max_by_key(|(score, id)| (*score, -id))
        .map(|(_, id)| id)
}

fn match_score(wanted: &Row, candidate: &Row) -> i64 {
    let same = |a: Option<&str>, b: Option<&str>| match (a, b) {
        (Some(a), Some(b)) => !a.is_empty() && a.eq_ignore_ascii_case(b),
        _ => false,
    };
    let first = text(wanted, "FirstName");
    let mut score = 15; // last name: candidates already share it
    if same(first, text(candidate, "FirstName")) || same(first, text(candidate, "NickName")) {
        score += 15;
    }
    if same(text(wanted, "Email"), text(candidate, "Email")) {
        score += 15;
    }
    let birthday = |r: &Row| (int(r, "BirthMonth"), int(r, "BirthDay"));
    if birthday(wanted).0.is_some() && birthday(wanted) == birthday(candidate) {
        score += 10;
        if int(wanted, "BirthYear").is_some()
            && int(wanted, "BirthYear") == int(candidate, "BirthYear")
        {
            score += 5;
        }
    }
    let gender = int(wanted, "Gender").unwrap_or(0);
    if gender != 0 && Some(gender) == int(candidate, "Gender") {
        score += 3;
    }
    if int(wanted, "SuffixValueId").is_some()
        && int(wanted, "SuffixValueId") == int(candidate, "SuffixValueId")
    {
        score += 10;
    }
    score
}

/// `SaveNewPerson`: a new "<LastName> Family" with the person as Adult (or Child under 18).
fn add_to_new_family(store: &mut Store, person: i64, adult: bool) {
    let last = store
        .get(Entity::Person, person)
        .and_then(|p| text(p, "LastName"))
        .unwrap_or("")
        .to_string();
    let known = store.known.clone();
    let mut family = Store::blank(Entity::Group);
    set(&mut family, "Name", format!("{last} Family"));
    set(&mut family, "GroupTypeId", known.family_type);
    let family_id = store.insert_unchecked(Entity::Group, family);
    let mut member = Store::blank(Entity::GroupMember);
    set(&mut member, "GroupId", family_id);
    set(&mut member, "PersonId", person);
    set(
        &mut member,
        "GroupRoleId",
        if adult {
            known.family_adult
        } else {
            known.family_child
        },
    );
    set(&mut member, "GroupOrder", 0);
    // Through the pipeline so the person's PrimaryFamilyId follows.
    if store.insert(Entity::GroupMember, member).is_err() {
        tracing::warn!(person, "could not add a new person to their family");
    }
    let age_class = if adult { 1 } else { 2 };
    if let Some(p) = store.raw_mut(Entity::Person, person) {
        set(p, "AgeClassification", age_class);
    }
}

/// `PersonService.Queryable( PersonQueryOptions )` (Rock/Model/CRM/Person/PersonService.cs)
/// with its defaults, behind `GET api/People`, `api/People/{id}` and `GetByPersonAliasId`
/// (Rock.Rest/Controllers/PeopleController.Partial.cs) and the Export (`GetPeopleExport`): nameless people (and rows without a
/// record type) and the Anonymous Visitor are never listed.
pub fn listed(store: &Store, row: &Row) -> bool {
    let nameless =
        int(row, "RecordTypeValueId").is_none_or(|t| t == store.known.record_type_nameless);
    let anonymous = text(row, "Guid")
        .is_some_and(|g| g.eq_ignore_ascii_case(crate::guids::PERSON_ANONYMOUS_VISITOR));
    !nameless && !anonymous
}

// ---- Export ---------------------------------------------------------------------------------

/// Parameters of `GET /api/People/Export`.
pub struct ExportQuery {
    pub page: usize,
    pub page_size: usize,
    pub modified_since: Option<String>,
    pub attribute_keys: Vec<String>,
}

pub fn parse_export(params: &[(String, String)]) -> Result<ExportQuery, String> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let number = |name: &str, default: usize| match get(name) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| format!("The value '{v}' is not valid for {name}.")),
    };
    let page = number("page", 1)?.max(1);
    let page_size = number("pageSize", EXPORT_MAX_PAGE)?.clamp(1, EXPORT_MAX_PAGE);
    let modified_since = match get("modifiedSince").filter(|v| !v.is_empty()) {
        Some(v) => Some(format_datetime(parse_datetime(v).ok_or_else(|| {
            format!("The value '{v}' is not valid for modifiedSince.")
        })?)),
        None => None,
    };
    let attribute_keys = get("attributeKeys")
        .map(|v| {
            v.split(',')
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Ok(ExportQuery {
        page,
        page_size,
        modified_since,
        attribute_keys,
    })
}

/// `{Page, PageSize, TotalCount, Persons}`; deceased people and businesses included.
pub fn export(store: &Store, q: &ExportQuery) -> Value {
    let since = q.modified_since.as_deref().and_then(parse_datetime);
    let matching: Vec<&Row> = store
        .rows(Entity::Person)
        .filter(|p| listed(store, p))
        .filter(|p| match since {
            Some(since) => text(p, "ModifiedDateTime")
                .and_then(parse_datetime)
                .is_some_and(|m| m >= since),
            None => true,
        })
        .collect();
    let total = matching.len();
    let page: Vec<&Row> = matching
        .into_iter()
        .skip((q.page - 1) * q.page_size)
        .take(q.page_size)
        .collect();
    let context = ExportContext::new(store, &page);
    let persons: Vec<Value> = page
        .iter()
        .map(|p| export_person(store, &context, p, &q.attribute_keys))
        .collect();
    json!({"Page": q.page, "PageSize": q.page_size, "TotalCount": total, "Persons": persons})
}

/// Lookups for one page of the export, built in one pass over each table, so a page of a
/// thousand people does not scan the memberships a thousand times. The home address is
/// picked as Rock's export picks it: the first family (by `GroupOrder`) with a Home group
/// location that is the mailing location.
struct ExportContext<'a> {
    phones: HashMap<i64, Vec<&'a Row>>,
    aliases: HashMap<i64, Vec<i64>>,
    /// Family memberships by person, in Rock's order (`GroupOrder`, then id).
    families: HashMap<i64, Vec<&'a Row>>,
    /// The Home mailing location of each group that has one.
    homes: HashMap<i64, &'a Row>,
    values: attributes::ValueIndex<'a>,
}

impl<'a> ExportContext<'a> {
    fn new(store: &'a Store, page: &[&Row]) -> ExportContext<'a> {
        let ids: HashSet<i64> = page.iter().filter_map(|p| int(p, "Id")).collect();
        let mut phones: HashMap<i64, Vec<&Row>> = HashMap::new();
        for phone in store.rows(Entity::PhoneNumber) {
            if let Some(person) = int(phone, "PersonId").filter(|p| ids.contains(p)) {
                phones.entry(person).or_default().push(phone);
            }
        }
        let mut aliases: HashMap<i64, Vec<i64>> = HashMap::new();
        for alias in store.rows(Entity::PersonAlias) {
            if let (Some(person), Some(id)) = (
                int(alias, "PersonId").filter(|p| ids.contains(p)),
                int(alias, "Id"),
            ) {
                aliases.entry(person).or_default().push(id);
            }
        }
        let family_type = store.known.family_type;
        let mut families: HashMap<i64, Vec<&Row>> = HashMap::new();
        for member in store.rows(Entity::GroupMember) {
            let family =
                int(member, "GroupTypeId") == Some(family_type) && !flag(member, "IsArchived");
            if let Some(person) = int(member, "PersonId").filter(|p| family && ids.contains(p)) {
                families.entry(person).or_default().push(member);
            }
        }
        for list in families.values_mut() {
            list.sort_by_key(|m| (int(m, "GroupOrder").unwrap_or(i64::MAX), int(m, "Id")));
        }
        let home = store.known.location_home;
        let mut homes = HashMap::new();
        for link in store.rows(Entity::GroupLocation) {
            if int(link, "GroupLocationTypeValueId") == Some(home)
                && flag(link, "IsMailingLocation")
            {
                let location = int(link, "LocationId").and_then(|l| store.get(Entity::Location, l));
                if let (Some(group), Some(location)) = (int(link, "GroupId"), location) {
                    homes.entry(group).or_insert(location);
                }
            }
        }
        ExportContext {
            phones,
            aliases,
            families,
            homes,
            values: attributes::value_index(store),
        }
    }

    fn home(&self, person: i64) -> Option<&'a Row> {
        let families = self.families.get(&person)?;
        families
            .iter()
            .filter_map(|m| int(m, "GroupId"))
            .find_map(|g| self.homes.get(&g).copied())
    }
}

fn export_person(store: &Store, context: &ExportContext, p: &Row, keys: &[String]) -> Value {
    let id = int(p, "Id").unwrap_or(0);
    let dv = |column: &str| {
        int(p, column)
            .and_then(|v| store.get(Entity::DefinedValue, v))
            .and_then(|d| text(d, "Value"))
            .map(str::to_string)
    };
    let phone = |kind: i64| {
        context.phones.get(&id).and_then(|phones| {
            phones
                .iter()
                .find(|ph| int(ph, "NumberTypeValueId") == Some(kind))
                .and_then(|ph| text(ph, "NumberFormatted"))
        })
    };
    let gender = match int(p, "Gender") {
        Some(1) => "Male",
        Some(2) => "Female",
        _ => "Unknown",
    };
    let photo_url = int(p, "PhotoId").map(|photo| format!("/GetImage.ashx?id={photo}"));
    let home = context.home(id).map(|l| {
        json!({"Street1": l.get("Street1"), "Street2": l.get("Street2"), "City": l.get("City"), "State": l.get("State"),
            "PostalCode": l.get("PostalCode"), "Country": l.get("Country"), "County": l.get("County"),
            "Latitude": l.get("Latitude"), "Longitude": l.get("Longitude")})
    });
    json!({
        "Id": id, "Guid": p.get("Guid"), "CreatedDateTime": p.get("CreatedDateTime"), "ModifiedDateTime": p.get("ModifiedDateTime"),
        "ForeignKey": p.get("ForeignKey"), "ForeignId": p.get("ForeignId"), "ForeignGuid": p.get("ForeignGuid"),
        "PersonAliasIds": context.aliases.get(&id).cloned().unwrap_or_default(),
        "FirstName": p.get("FirstName"), "NickName": p.get("NickName"), "MiddleName": p.get("MiddleName"),
        "LastName": p.get("LastName"), "Suffix": dv("SuffixValueId"), "SuffixValueId": p.get("SuffixValueId"),
        "PhotoUrl": photo_url, "BirthDay": p.get("BirthDay"), "BirthMonth": p.get("BirthMonth"), "BirthYear": p.get("BirthYear"),
        "Gender": gender, "MaritalStatus": dv("MaritalStatusValueId"), "MaritalStatusValueId": p.get("MaritalStatusValueId"),
        "AnniversaryDate": p.get("AnniversaryDate"), "Email": p.get("Email"),
        "HomePhone": phone(store.known.phone_home), "MobilePhone": phone(store.known.phone_mobile),
        "HomeAddress": home, "RecordStatus": dv("RecordStatusValueId"), "RecordStatusValueId": p.get("RecordStatusValueId"),
        "ConnectionStatus": dv("ConnectionStatusValueId"), "ConnectionStatusValueId": p.get("ConnectionStatusValueId"),
        "PrimaryFamilyId": p.get("PrimaryFamilyId"), "IsDeceased": flag(p, "IsDeceased"),
        "AttributesExport": {"AttributeValues": attributes::export_values(store, Entity::Person, p, keys, &context.values)},
    })
}

// ---- Merge ----------------------------------------------------------------------------------

/// Merges `merged` into `survivor` as Rock's merge does for a sync's purposes: the merged
/// person row is deleted, their aliases point at the survivor (keeping `AliasPersonId` = the
/// old id), their memberships, phones of types the survivor lacks and attribute values the
/// survivor lacks move over.
pub fn merge(store: &mut Store, survivor: i64, merged: i64) -> Result<(), String> {
    if survivor == merged {
        return Err("A person cannot be merged into themselves".into());
    }
    for id in [survivor, merged] {
        if store.get(Entity::Person, id).is_none() {
            return Err(format!("Person {id} not found"));
        }
    }
    for alias in ids_where(store, Entity::PersonAlias, "PersonId", merged) {
        store.modify(Entity::PersonAlias, alias, |r| set(r, "PersonId", survivor));
    }
    move_memberships(store, survivor, merged);
    let survivor_phone_types: Vec<Option<i64>> = store
        .find_by(Entity::PhoneNumber, "PersonId", survivor)
        .iter()
        .map(|p| int(p, "NumberTypeValueId"))
        .collect();
    for phone in ids_where(store, Entity::PhoneNumber, "PersonId", merged) {
        let kind = store
            .get(Entity::PhoneNumber, phone)
            .and_then(|p| int(p, "NumberTypeValueId"));
        if survivor_phone_types.contains(&kind) {
            store.remove(Entity::PhoneNumber, phone);
        } else {
            store.modify(Entity::PhoneNumber, phone, |r| set(r, "PersonId", survivor));
        }
    }
    attributes::move_values(store, Entity::Person, merged, survivor);
    store.remove(Entity::Person, merged);
    // The survivor's row changes (Rock re-saves it with the chosen values).
    let now = format_datetime(store.clock.now());
    if let Some(p) = store.raw_mut(Entity::Person, survivor) {
        set(p, "ModifiedDateTime", now);
    }
    Ok(())
}

fn ids_where(store: &Store, entity: Entity, column: &str, value: i64) -> Vec<i64> {
    store
        .find_by(entity, column, value)
        .iter()
        .filter_map(|r| int(r, "Id"))
        .collect()
}

fn move_memberships(store: &mut Store, survivor: i64, merged: i64) {
    for membership in ids_where(store, Entity::GroupMember, "PersonId", merged) {
        let Some(m) = store.get(Entity::GroupMember, membership) else {
            continue;
        };
        let (group, role) = (int(m, "GroupId"), int(m, "GroupRoleId"));
        let duplicate = store
            .find_by(Entity::GroupMember, "PersonId", survivor)
            .iter()
            .any(|s| {
                int(s, "GroupId") == group
                    && int(s, "GroupRoleId") == role
                    && !flag(s, "IsArchived")
            });
        if duplicate {
            store.remove(Entity::GroupMember, membership);
        } else {
            store.modify(Entity::GroupMember, membership, |r| {
                set(r, "PersonId", survivor)
            });
        }
    }
}

// ---- Home address ---------------------------------------------------------------------------

/// The address fields of `PUT /api/Groups/SaveAddress`.
pub struct Address {
    pub street1: String,
    pub street2: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
}

impl Address {
    fn is_blank(&self) -> bool {
        [
            &self.street1,
            &self.street2,
            &self.city,
            &self.state,
            &self.postal_code,
        ]
        .iter()
        .all(|f| f.trim().is_empty())
    }
}

/// `GroupService.AddNewGroupAddress(moveExistingToPrevious: true)`: finds or creates the
/// location, re-types the group's current location of that type to Previous, and makes the
/// new one the mailing and mapped location of that type. Returns the status code.
pub fn save_address(store: &mut Store, group: i64, location_type: i64, address: &Address) -> u16 {
    if store.get(Entity::Group, group).is_none() {
        return 404;
    }
    let known = store.known.clone();
    let allowed = [
        known.location_home,
        known.location_work,
        known.location_previous,
    ];
    if !allowed.contains(&location_type) {
        return 404;
    }
    if address.is_blank() {
        return 204;
    }
    let location = find_or_create_location(store, address);
    let current: Vec<Row> = store
        .find_by(Entity::GroupLocation, "GroupId", group)
        .into_iter()
        .filter(|gl| int(gl, "GroupLocationTypeValueId") == Some(location_type))
        .cloned()
        .collect();
    if current
        .iter()
        .any(|gl| int(gl, "LocationId") == Some(location))
    {
        return 204; // already this address: nothing changes
    }
    for old in &current {
        if let Some(id) = int(old, "Id") {
            store.modify(Entity::GroupLocation, id, |r| {
                set(r, "GroupLocationTypeValueId", known.location_previous);
                set(r, "IsMailingLocation", false);
                set(r, "IsMappedLocation", false);
            });
        }
    }
    let mut link = Store::blank(Entity::GroupLocation);
    set(&mut link, "GroupId", group);
    set(&mut link, "LocationId", location);
    set(&mut link, "GroupLocationTypeValueId", location_type);
    set(&mut link, "IsMailingLocation", true);
    set(&mut link, "IsMappedLocation", true);
    store.insert_unchecked(Entity::GroupLocation, link);
    204
}

fn find_or_create_location(store: &mut Store, a: &Address) -> i64 {
    let same = |stored: Option<&str>, wanted: &str| {
        stored
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case(wanted.trim())
    };
    let existing = store.rows(Entity::Location).find(|l| {
        same(text(l, "Street1"), &a.street1)
            && same(text(l, "Street2"), &a.street2)
            && same(text(l, "City"), &a.city)
            && same(text(l, "State"), &a.state)
            && same(text(l, "PostalCode"), &a.postal_code)
    });
    if let Some(id) = existing.and_then(|l| int(l, "Id")) {
        return id;
    }
    let mut location = Store::blank(Entity::Location);
    let fields: [(&str, String); 6] = [
        ("Street1", fix_case(a.street1.trim())),
        ("Street2", fix_case(a.street2.trim())),
        ("City", fix_case(a.city.trim())),
        ("State", a.state.trim().to_string()),
        ("PostalCode", a.postal_code.trim().to_string()),
        (
            "Country",
            if a.country.trim().is_empty() {
                "US".to_string()
            } else {
                a.country.trim().to_string()
            },
        ),
    ];
    for (column, value) in fields {
        set(&mut location, column, value);
    }
    store.insert_unchecked(Entity::Location, location)
}

// ---- Photos ---------------------------------------------------------------------------------

/// `POST /api/People/UpdatePersonProfilePhoto`: stores the bytes as a Person Image binary
/// file, points `PhotoId` at it and marks the previous photo temporary. Returns the photo URL.
pub fn update_photo(
    store: &mut Store,
    person_guid: &str,
    filename: &str,
    bytes: Vec<u8>,
) -> Option<String> {
    let person = store
        .find_by_guid(Entity::Person, person_guid)
        .and_then(|p| int(p, "Id"))?;
    let previous = store
        .get(Entity::Person, person)
        .and_then(|p| int(p, "PhotoId"));
    let mime = if filename.to_lowercase().ends_with(".png") {
        "image/png"
    } else {
        "image/jpeg"
    };
    let mut file = Store::blank(Entity::BinaryFile);
    set(&mut file, "BinaryFileTypeId", store.known.person_image_type);
    set(&mut file, "FileName", filename);
    set(&mut file, "MimeType", mime);
    set(&mut file, "FileSize", bytes.len() as i64);
    let file_id = store.insert_unchecked(Entity::BinaryFile, file);
    store.blobs.insert(file_id, bytes);
    store.modify(Entity::Person, person, |p| set(p, "PhotoId", file_id));
    if let Some(previous) = previous {
        store.modify(Entity::BinaryFile, previous, |f| {
            set(f, "IsTemporary", true)
        });
    }
    Some(format!("/GetImage.ashx?id={file_id}"))
}

/// A raw view of everything about one person, for tests and the admin dump.
pub fn dump(store: &Store, person: i64) -> Option<Value> {
    let p = store.get(Entity::Person, person)?.clone();
    let collect = |entity: Entity, column: &str, id: i64| -> Vec<Value> {
        store
            .find_by(entity, column, id)
            .into_iter()
            .map(|r| Value::Object(r.clone()))
            .collect()
    };
    let memberships = collect(Entity::GroupMember, "PersonId", person);
    let families: Vec<Value> = memberships
        .iter()
        .filter(|m| m.get("GroupTypeId").and_then(Value::as_i64) == Some(store.known.family_type))
        .filter_map(|m| m.get("GroupId").and_then(Value::as_i64))
        .map(|family| {
            let locations: Vec<Value> = store
                .find_by(Entity::GroupLocation, "GroupId", family)
                .into_iter()
                .map(|gl| {
                    let mut gl = gl.clone();
                    let location = int(&gl, "LocationId")
                        .and_then(|l| store.get(Entity::Location, l))
                        .cloned();
                    gl.insert(
                        "Location".into(),
                        location.map_or(Value::Null, Value::Object),
                    );
                    Value::Object(gl)
                })
                .collect();
            json!({"Group": store.get(Entity::Group, family), "GroupLocations": locations})
        })
        .collect();
    let index = attributes::value_index(store);
    let values: Map<String, Value> =
        attributes::export_values(store, Entity::Person, &p, &[], &index)
            .as_object()
            .cloned()
            .unwrap_or_default();
    Some(json!({
        "Person": p,
        "PhoneNumbers": collect(Entity::PhoneNumber, "PersonId", person),
        "Aliases": collect(Entity::PersonAlias, "PersonId", person),
        "GroupMembers": memberships,
        "Families": families,
        "AttributeValues": values,
    }))
}
