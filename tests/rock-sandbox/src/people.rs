//! Person-specific behaviour: aliases, find-or-create with a new family, the Export endpoint,
//! merges, the family Home address and profile photos.

use std::collections::{BTreeMap, HashMap, HashSet};

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
            let fixed = fix_case(&rewrites::clean_name(name, value));
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

/// `PersonService.FindPerson( new PersonMatchQuery( FirstName, LastName, Email, null, Gender,
/// BirthDate, SuffixValueId ), false )`, as `Post` in Rock.Rest/Controllers/PeopleController.Partial.cs
/// calls it, and `FindPersons` with `PersonMatchResult` (Rock/Model/CRM/Person/PersonService.cs):
/// - candidates: people (not deceased, nameless, businesses or the anonymous visitor) with the
///   same last name whose suffix is the same or none, whose birth month and day are the same
///   or unknown (when a birth date is sent), and whose gender is the one sent or Unknown; a
///   POST always sends a gender (the model's is not nullable), so a person sent as Unknown
///   only meets Unknown-gender people this way. Also, whatever their gender or birthday,
///   people with the email sent among their previous emails (PersonSearchKey, type Email)
///   and people with the last name sent among their previous names (PersonPreviousName);
/// - score: first name (or nick name) 15, last name 15, a previous last name 12 (without the
///   last name), email (primary or previous) 15, birth month and day 10, birth year 5,
///   gender the same (Unknown too) 3, suffix 10; a match needs 35 and a protection profile
///   Rock's security settings do not exclude from duplicate detection (High and Extreme
///   here); the best score wins.
fn best_match(store: &Store, wanted: &Row) -> Option<i64> {
    let trimmed = |name: &str| text(wanted, name).unwrap_or("").trim().to_string();
    let last = trimmed("LastName");
    let first = trimmed("FirstName");
    let email = trimmed("Email");
    let gender = int(wanted, "Gender").unwrap_or(0);
    let suffix = int(wanted, "SuffixValueId");
    let birth = birth_date(wanted);
    let same =
        |a: &str, b: Option<&str>| !a.is_empty() && b.is_some_and(|b| b.eq_ignore_ascii_case(a));
    let pool = |p: &&Row| {
        listed(store, p)
            && !flag(p, "IsDeceased")
            && int(p, "RecordTypeValueId") != Some(store.known.record_type_business)
    };
    let person_of_alias = |alias: Option<i64>| {
        alias
            .and_then(|a| store.get(Entity::PersonAlias, a))
            .and_then(|a| int(a, "PersonId"))
    };
    let mut found: BTreeMap<i64, Found> = BTreeMap::new();
    for p in store.rows(Entity::Person).filter(pool) {
        let Some(id) = int(p, "Id") else { continue };
        if !same(&last, text(p, "LastName")) {
            continue;
        }
        if suffix.is_some() && int(p, "SuffixValueId").is_some_and(|s| Some(s) != suffix) {
            continue;
        }
        if let Some((_, month, day)) = birth {
            let theirs = (int(p, "BirthMonth"), int(p, "BirthDay"));
            if theirs.0.is_some() && theirs.1.is_some() && theirs != (Some(month), Some(day)) {
                continue;
            }
        }
        let theirs = int(p, "Gender").unwrap_or(0);
        if theirs != gender && theirs != 0 {
            continue;
        }
        found.entry(id).or_default();
    }
    if !email.is_empty() {
        let email_key = store.id_of_guid(
            Entity::DefinedValue,
            crate::guids::DV_PERSON_SEARCH_KEYS_EMAIL,
        );
        for key in store.rows(Entity::PersonSearchKey) {
            if int(key, "SearchTypeValueId") == Some(email_key)
                && same(&email, text(key, "SearchValue"))
                && let Some(id) = person_of_alias(int(key, "PersonAliasId"))
                && store.get(Entity::Person, id).as_ref().is_some_and(pool)
            {
                found.entry(id).or_default().previous_email = true;
            }
        }
    }
    for previous in store.rows(Entity::PersonPreviousName) {
        if same(&last, text(previous, "LastName"))
            && let Some(id) = person_of_alias(int(previous, "PersonAliasId"))
            && store.get(Entity::Person, id).as_ref().is_some_and(pool)
        {
            found.entry(id).or_default().previous_name = true;
        }
    }
    found
        .into_iter()
        .filter_map(|(id, f)| {
            let p = store.get(Entity::Person, id)?;
            if int(p, "AccountProtectionProfile").unwrap_or(0) >= PROTECTION_HIGH {
                return None;
            }
            let last_matched = same(&last, text(p, "LastName"));
            let mut score = 0;
            if same(&first, text(p, "FirstName")) || same(&first, text(p, "NickName")) {
                score += 15;
            }
            if last_matched {
                score += 15;
            }
            if f.previous_name && !last_matched {
                score += 12;
            }
            if same(&email, text(p, "Email")) || f.previous_email {
                score += 15;
            }
            if let (Some((year, month, day)), Some((their_year, their_month, their_day))) =
                (birth, birth_date(p))
                && (month, day) == (their_month, their_day)
            {
                score += 10;
                if year == their_year {
                    score += 5;
                }
            }
            if int(p, "Gender").unwrap_or(0) == gender {
                score += 3;
            }
            if suffix.is_some() && int(p, "SuffixValueId") == suffix {
                score += 10;
            }
            (score >= MATCH_CUTOFF).then_some((score, id))
        })
        .max_by_key(|(score, id)| (*score, -id))
        .map(|(_, id)| id)
}

/// What besides the last name brought a candidate in.
#[derive(Default)]
struct Found {
    previous_email: bool,
    previous_name: bool,
}

/// `Person.BirthDate` (Rock/Model/CRM/Person/Person.cs, `CalculateBirthDate`): year 1 when the
/// year is unknown; none without a month and day, or when they make no date in that year.
fn birth_date(p: &Row) -> Option<(i64, i64, i64)> {
    let year = int(p, "BirthYear").unwrap_or(1);
    let (month, day) = (int(p, "BirthMonth")?, int(p, "BirthDay")?);
    let valid = rewrites::calendar_date(year, month, day).is_some();
    valid.then_some((year, month, day))
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

/// How `SaveAddress` ended.
#[derive(Debug, PartialEq)]
pub enum Saved {
    /// 204, whether or not anything changed.
    Done,
    /// 404: no such group or defined value.
    NotFound,
    /// 500: `LocationService.Get` threw this message (an address missing what its country
    /// requires), an unhandled exception in Rock.
    Failed(String),
}

/// `SaveAddress` (Rock.Rest/Controllers/GroupsController.Partial.cs) and what it calls,
/// `GroupService.AddNewGroupAddress( …, moveExistingToPrevious: true )`
/// (Rock/Model/Group/Group/GroupService.cs):
/// - 404 when the group or the defined value `locationTypeId` does not exist (any defined
///   value will do here; `GroupService.Get` finds archived groups too);
/// - nothing (204) when street1, street2, city, postal code and country are all blank: the
///   state alone does not count, the country does;
/// - nothing (204) when the group's type does not allow that location type
///   (`GroupType.LocationTypeValues`), or the group already has this location with that type;
/// - else the group's current locations of that type become Previous (not mailing, not
///   mapped) when the group type allows Previous; the group's existing link to this location
///   (a Previous one, say) is re-typed, keeping its mailing and mapped flags; or a new link
///   is made, mailing and mapped unless the type is Previous.
pub fn save_address(store: &mut Store, group: i64, location_type: i64, a: &Address) -> Saved {
    let Some(group_type) = store
        .get(Entity::Group, group)
        .and_then(|g| int(g, "GroupTypeId"))
    else {
        return Saved::NotFound;
    };
    if store.get(Entity::DefinedValue, location_type).is_none() {
        return Saved::NotFound;
    }
    let blank = [&a.street1, &a.street2, &a.city, &a.postal_code, &a.country]
        .iter()
        .all(|f| f.trim().is_empty());
    if blank {
        return Saved::Done;
    }
    let location = match find_or_create_location(store, group, a) {
        Ok(Some(location)) => location,
        Ok(None) => return Saved::Done,
        Err(message) => return Saved::Failed(message),
    };
    let allowed = store
        .location_types
        .get(&group_type)
        .cloned()
        .unwrap_or_default();
    if !allowed.contains(&location_type) {
        return Saved::Done;
    }
    let links: Vec<Row> = store
        .find_by(Entity::GroupLocation, "GroupId", group)
        .into_iter()
        .cloned()
        .collect();
    let of_type = |gl: &Row| int(gl, "GroupLocationTypeValueId") == Some(location_type);
    if links
        .iter()
        .any(|gl| of_type(gl) && int(gl, "LocationId") == Some(location))
    {
        return Saved::Done;
    }
    let previous = store.known.location_previous;
    if allowed.contains(&previous) {
        for old in links.iter().filter(|gl| of_type(gl)) {
            if let Some(id) = int(old, "Id") {
                store.modify(Entity::GroupLocation, id, |r| {
                    set(r, "GroupLocationTypeValueId", previous);
                    set(r, "IsMailingLocation", false);
                    set(r, "IsMappedLocation", false);
                });
            }
        }
    }
    let existing = store
        .find_by(Entity::GroupLocation, "GroupId", group)
        .into_iter()
        .filter(|gl| int(gl, "LocationId") == Some(location))
        .find_map(|gl| int(gl, "Id"));
    match existing {
        Some(id) => {
            store.modify(Entity::GroupLocation, id, |r| {
                set(r, "GroupLocationTypeValueId", location_type);
            });
        }
        None => {
            let flags = location_type != previous;
            let mut link = Store::blank(Entity::GroupLocation);
            set(&mut link, "GroupId", group);
            set(&mut link, "LocationId", location);
            set(&mut link, "GroupLocationTypeValueId", location_type);
            set(&mut link, "IsMailingLocation", flags);
            set(&mut link, "IsMappedLocation", flags);
            store.insert_unchecked(Entity::GroupLocation, link);
        }
    }
    Saved::Done
}

/// `LocationService.Get( street1, …, country, group, verifyLocation )`
/// (Rock/Model/Core/Location/LocationService.cs): values trimmed; an existing location with
/// the same six fields (compared as SQL Server does, ignoring case; the group's own first) is
/// reused, and re-cased to the values sent when they differ in case only; otherwise street and
/// city are `FixCase`d, searched again, and a new location is created once it passes
/// `ValidateAddressRequirements`, whose message is thrown (`Err`) when it does not.
fn find_or_create_location(
    store: &mut Store,
    group: i64,
    a: &Address,
) -> Result<Option<i64>, String> {
    let sent = [
        a.street1.trim().to_string(),
        a.street2.trim().to_string(),
        a.city.trim().to_string(),
        a.state.trim().to_string(),
        a.postal_code.trim().to_string(),
        a.country.trim().to_string(),
    ];
    if sent.iter().all(String::is_empty) {
        return Ok(None);
    }
    const COLUMNS: [&str; 6] = [
        "Street1",
        "Street2",
        "City",
        "State",
        "PostalCode",
        "Country",
    ];
    if let Some((id, exact)) = search_location(store, group, &sent) {
        if !exact {
            store.modify(Entity::Location, id, |l| {
                for (column, value) in COLUMNS.iter().zip(&sent) {
                    set(l, column, value.clone());
                }
            });
        }
        return Ok(Some(id));
    }
    let mut fixed = sent.clone();
    for value in fixed.iter_mut().take(3) {
        *value = fix_case(value);
    }
    if let Some((id, _)) = search_location(store, group, &fixed) {
        return Ok(Some(id));
    }
    validate_address(store, &fixed)?;
    let mut location = Store::blank(Entity::Location);
    for (column, value) in COLUMNS.iter().zip(fixed) {
        set(&mut location, column, value);
    }
    Ok(Some(store.insert_unchecked(Entity::Location, location)))
}

/// `LocationService.Search`: the group's own locations first, then every location; returns
/// the id and whether the stored values match the wanted ones exactly (case included).
fn search_location(store: &Store, group: i64, wanted: &[String; 6]) -> Option<(i64, bool)> {
    const COLUMNS: [&str; 6] = [
        "Street1",
        "Street2",
        "City",
        "State",
        "PostalCode",
        "Country",
    ];
    let compare = |l: &Row, exact: bool| {
        COLUMNS.iter().zip(wanted).all(|(column, value)| {
            let stored = text(l, column).unwrap_or("");
            if exact {
                stored == value
            } else {
                stored.to_lowercase() == value.to_lowercase()
            }
        })
    };
    let own: Vec<i64> = store
        .find_by(Entity::GroupLocation, "GroupId", group)
        .into_iter()
        .filter_map(|gl| int(gl, "LocationId"))
        .collect();
    let found = own
        .iter()
        .filter_map(|id| store.get(Entity::Location, *id))
        .find(|l| compare(l, false))
        .or_else(|| store.rows(Entity::Location).find(|l| compare(l, false)))?;
    Some((int(found, "Id")?, compare(found, true)))
}

/// `LocationService.ValidateAddressRequirements`: the country must be one of the Countries
/// defined type's values; its requirements are the attribute values of that value, which
/// default (the `AddDefinedTypeAttribute` defaults of the migration that added them, the same
/// as United States' values) to Address Line 1, City and State required, the rest optional.
fn validate_address(store: &Store, a: &[String; 6]) -> Result<(), String> {
    let countries = store.id_of_guid(Entity::DefinedType, crate::guids::DT_LOCATION_COUNTRIES);
    let country = &a[5];
    let known = store
        .find_by(Entity::DefinedValue, "DefinedTypeId", countries)
        .into_iter()
        .any(|v| text(v, "Value").is_some_and(|c| c.eq_ignore_ascii_case(country)));
    let mut missing: Vec<&str> = Vec::new();
    if known {
        for (value, label) in [(&a[0], "Address Line 1"), (&a[2], "City"), (&a[3], "State")] {
            if value.trim().is_empty() {
                missing.push(label);
            }
        }
    } else if !country.is_empty() {
        return Err(format!(
            "Incomplete Address. Country value \"{country}\" is invalid."
        ));
    } else {
        missing.push("Country");
    }
    if !missing.is_empty() {
        return Err(format!(
            "Incomplete Address. The following fields are required: {}.",
            missing.join(", ")
        ));
    }
    if [&a[0], &a[1], &a[2], &a[3], &a[4]]
        .iter()
        .all(|f| f.trim().is_empty())
    {
        return Err("Invalid Address. At least one field is required.".into());
    }
    Ok(())
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
