//! Planning Center People person documents, read whole and written field by field
//! (research/pco-api.md §2 and §6).
//!
//! Reading: [`parse_people_document`] takes a list or single-resource document of
//! `/people/v2/people` fetched with `include=emails,phone_numbers,addresses` and returns each
//! person with their contact records. A person whose relationships are not in the document
//! (the request did not ask for the include) comes back with empty lists: callers must ask
//! for the includes, or an absent list would read as "cleared".
//!
//! Writing: every builder returns a [`Request`] with the JSON:API body PCO accepts
//! (`{"data": {"type", "id"?, "attributes"}}`) and the pinned `X-PCO-API-Version`, so the
//! documents read back keep the shape this module parses.

use serde_json::{Map, Value, json};

use crate::bindings::rockpco::sync::pco::{Method, Request};
use crate::pco_api::{API_VERSION_HEADER, PEOPLE_API_VERSION};
use crate::types::{Error, ErrorKind};

const PEOPLE_PATH: &str = "/people/v2/people";

/// The contact records read with a person.
pub const CONTACTS: &str = "emails,phone_numbers,addresses";

/// What the sync reads of a Person, named in every read of people (`fields[Person]`, sparse
/// fieldsets: research/pco-api.md §2.4, planningcenter/developers#256): less to parse, and
/// nothing else of a person (medical notes, background checks, giving) ever reaches the guest
/// (R53). JSON:API's fieldsets cover relationships too, so the contacts are named as well.
pub const PERSON_FIELDS: &str = "remote_id,first_name,given_name,nickname,middle_name,last_name,\
gender,birthdate,anniversary,site_administrator,accounting_administrator,status,updated_at,emails,\
phone_numbers,addresses";

/// The query of every read of people: their contacts, and only the fields the sync reads.
pub fn read_query() -> Vec<(String, String)> {
    vec![
        ("include".to_string(), CONTACTS.to_string()),
        ("fields[Person]".to_string(), PERSON_FIELDS.to_string()),
    ]
}

/// `GET /people/v2/people/{id}` with [`read_query`].
pub fn get_person(id: &str) -> Request {
    Request {
        method: Method::Get,
        path: format!("{PEOPLE_PATH}/{id}"),
        query: read_query(),
        headers: vec![(API_VERSION_HEADER.into(), PEOPLE_API_VERSION.into())],
        body: None,
    }
}

/// `GET /people/v2/people` at `offset` with [`read_query`] and `filters` (`where[...]`), in
/// PCO's default order (ascending id; `order=id` is refused: id is not in `can_order_by`).
pub fn list_people(offset: u64, filters: &[(&str, &str)]) -> Request {
    let mut query = read_query();
    query.push((
        "per_page".to_string(),
        crate::pco_api::PAGE_SIZE.to_string(),
    ));
    query.push(("offset".to_string(), offset.to_string()));
    query.extend(
        filters
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string())),
    );
    Request {
        method: Method::Get,
        path: PEOPLE_PATH.to_string(),
        query,
        headers: vec![(API_VERSION_HEADER.into(), PEOPLE_API_VERSION.into())],
        body: None,
    }
}

/// A PCO People person with everything the field merge reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PcoPersonFull {
    pub id: String,
    /// The Rock person id stamped on create (R6).
    pub remote_id: Option<i64>,
    /// The name the person goes by (Rock's nick name by default).
    pub first_name: String,
    /// The legal first name (Rock's first name).
    pub given_name: String,
    /// PCO's separate nickname attribute.
    pub nickname: String,
    pub middle_name: String,
    pub last_name: String,
    /// "Male" or "Female" at the pinned API version (older shapes say "M"/"F").
    pub gender: Option<String>,
    /// `YYYY-MM-DD`.
    pub birthdate: Option<String>,
    /// `YYYY-MM-DD`.
    pub anniversary: Option<String>,
    /// Organization administrator (R50).
    pub site_administrator: bool,
    /// Accounting administrator: like an organization administrator, their names and
    /// contacts can be edited only by an organization administrator (planningcenter/developers
    /// #1139; issue 23).
    pub accounting_administrator: bool,
    /// "active" or "inactive" (R51).
    pub status: String,
    pub updated_at: String,
    pub emails: Vec<PcoEmail>,
    pub phones: Vec<PcoPhone>,
    pub addresses: Vec<PcoAddress>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PcoEmail {
    pub id: String,
    pub address: String,
    pub location: String,
    pub primary: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PcoPhone {
    pub id: String,
    pub number: String,
    /// "Home", "Work", "Mobile" or "Other".
    pub location: String,
    pub primary: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PcoAddress {
    pub id: String,
    pub street_line_1: String,
    pub street_line_2: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub country_code: String,
    pub location: String,
    pub primary: bool,
}

/// Where a phone number is, as PCO names the locations the sync uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhoneLocation {
    Home,
    Work,
    Mobile,
}

impl PhoneLocation {
    pub fn name(self) -> &'static str {
        match self {
            PhoneLocation::Home => "Home",
            PhoneLocation::Work => "Work",
            PhoneLocation::Mobile => "Mobile",
        }
    }
}

/// The three contact record kinds a person has in People.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactKind {
    Email,
    PhoneNumber,
    Address,
}

impl ContactKind {
    /// JSON:API type name.
    pub fn type_name(self) -> &'static str {
        match self {
            ContactKind::Email => "Email",
            ContactKind::PhoneNumber => "PhoneNumber",
            ContactKind::Address => "Address",
        }
    }

    /// Path segment, both under a person and at the top of People.
    fn segment(self) -> &'static str {
        match self {
            ContactKind::Email => "emails",
            ContactKind::PhoneNumber => "phone_numbers",
            ContactKind::Address => "addresses",
        }
    }
}

impl PcoPersonFull {
    /// The email the sync reads and writes: the first primary one, else the first one
    /// (`primary` is not exclusive in PCO's API, and a new person's only email may arrive
    /// non-primary: research §6.2, §6.4).
    pub fn primary_email(&self) -> Option<&PcoEmail> {
        self.emails
            .iter()
            .find(|e| e.primary)
            .or_else(|| self.emails.first())
    }

    /// The phone at `location` (case-insensitive): a primary one first, else the first one.
    pub fn phone(&self, location: PhoneLocation) -> Option<&PcoPhone> {
        let here = |p: &&PcoPhone| p.location.trim().eq_ignore_ascii_case(location.name());
        let mut at = self.phones.iter().filter(here);
        let first = at.clone().next();
        at.find(|p| p.primary).or(first)
    }

    /// The address with location "Home": a primary one first, else the first one.
    pub fn home_address(&self) -> Option<&PcoAddress> {
        let home = |a: &&PcoAddress| a.location.trim().eq_ignore_ascii_case("Home");
        let mut at = self.addresses.iter().filter(home);
        let first = at.clone().next();
        at.find(|a| a.primary).or(first)
    }
}

// ---- Reading -------------------------------------------------------------------------------

/// People and `meta.total_count` from a list (`data: [...]`) or single (`data: {...}`)
/// document. Malformed input is an `Unavailable` error naming what was wrong.
pub fn parse_people_document(body: &[u8]) -> Result<(Vec<PcoPersonFull>, Option<u64>), Error> {
    let document: Value = serde_json::from_slice(body)
        .map_err(|e| malformed(&format!("people document is not JSON ({e})")))?;
    let resources: Vec<&Value> = match document.get("data") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return Err(malformed("people document has no `data` array or object")),
    };
    let included = match document.get("included") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(list)) => list.as_slice(),
        Some(_) => return Err(malformed("people document's `included` is not an array")),
    };
    let people = resources
        .into_iter()
        .map(|resource| parse_person(resource, included))
        .collect::<Result<_, _>>()?;
    let total = document
        .pointer("/meta/total_count")
        .and_then(Value::as_u64);
    Ok((people, total))
}

fn parse_person(resource: &Value, included: &[Value]) -> Result<PcoPersonFull, Error> {
    let id = resource_id(resource).ok_or_else(|| malformed("a person has no id"))?;
    match resource.get("type").and_then(Value::as_str) {
        None | Some("Person") => {}
        Some(other) => {
            return Err(malformed(&format!(
                "resource {id} is a {other}, not a Person"
            )));
        }
    }
    let attrs = Attrs::of(resource, "Person", &id)?;
    Ok(PcoPersonFull {
        remote_id: attrs.remote_id()?,
        first_name: attrs.text("first_name")?,
        given_name: attrs.text("given_name")?,
        nickname: attrs.text("nickname")?,
        middle_name: attrs.text("middle_name")?,
        last_name: attrs.text("last_name")?,
        gender: attrs.optional("gender")?,
        birthdate: attrs.optional("birthdate")?,
        anniversary: attrs.optional("anniversary")?,
        site_administrator: attrs.flag("site_administrator")?,
        accounting_administrator: attrs.flag("accounting_administrator")?,
        status: attrs.text("status")?,
        updated_at: attrs.text("updated_at")?,
        emails: related(resource, &id, included, ContactKind::Email)?
            .into_iter()
            .map(parse_email)
            .collect::<Result<_, _>>()?,
        phones: related(resource, &id, included, ContactKind::PhoneNumber)?
            .into_iter()
            .map(parse_phone)
            .collect::<Result<_, _>>()?,
        addresses: related(resource, &id, included, ContactKind::Address)?
            .into_iter()
            .map(parse_address)
            .collect::<Result<_, _>>()?,
        id,
    })
}

/// A resource id: a string in PCO, but a number is read as one too.
fn resource_id(resource: &Value) -> Option<String> {
    match resource.get("id")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The included records of one kind that belong to the person: in the order of the person's
/// relationship when it is there, else those whose `person` relationship names them.
fn related<'a>(
    person: &Value,
    person_id: &str,
    included: &'a [Value],
    kind: ContactKind,
) -> Result<Vec<&'a Value>, Error> {
    let of_kind = |r: &&Value| r.get("type").and_then(Value::as_str) == Some(kind.type_name());
    let refs = person.pointer(&format!("/relationships/{}/data", kind.segment()));
    let Some(refs) = refs else {
        let owner = |r: &&Value| {
            r.pointer("/relationships/person/data")
                .and_then(resource_id)
                .is_some_and(|owner| owner == person_id)
        };
        return Ok(included.iter().filter(of_kind).filter(owner).collect());
    };
    let refs = refs.as_array().ok_or_else(|| {
        malformed(&format!(
            "person {person_id}'s {} relationship is not a list",
            kind.segment()
        ))
    })?;
    refs.iter()
        .map(|reference| {
            let wanted = resource_id(reference);
            included
                .iter()
                .filter(of_kind)
                .find(|r| wanted.is_some() && resource_id(r) == wanted)
                .ok_or_else(|| {
                    malformed(&format!(
                        "{} {} of person {person_id} is not in `included`",
                        kind.type_name(),
                        wanted.unwrap_or_default()
                    ))
                })
        })
        .collect()
}

fn parse_email(resource: &Value) -> Result<PcoEmail, Error> {
    let (id, attrs) = contact(resource, ContactKind::Email)?;
    Ok(PcoEmail {
        address: attrs.text("address")?,
        location: attrs.text("location")?,
        primary: attrs.flag("primary")?,
        id,
    })
}

fn parse_phone(resource: &Value) -> Result<PcoPhone, Error> {
    let (id, attrs) = contact(resource, ContactKind::PhoneNumber)?;
    Ok(PcoPhone {
        number: attrs.text("number")?,
        location: attrs.text("location")?,
        primary: attrs.flag("primary")?,
        id,
    })
}

fn parse_address(resource: &Value) -> Result<PcoAddress, Error> {
    let (id, attrs) = contact(resource, ContactKind::Address)?;
    // Before 2023-03-21 PCO sent one `street`; read it too in case the version pin is lost.
    let (line_1, line_2) = match attrs.optional("street_line_1")? {
        Some(line) => (line, attrs.text("street_line_2")?),
        None => {
            let street = attrs.text("street")?;
            let (one, two) = street.split_once('\n').unwrap_or((&street, ""));
            (one.to_string(), two.to_string())
        }
    };
    Ok(PcoAddress {
        street_line_1: line_1,
        street_line_2: line_2,
        city: attrs.text("city")?,
        state: attrs.text("state")?,
        zip: attrs.text("zip")?,
        country_code: attrs.text("country_code")?,
        location: attrs.text("location")?,
        primary: attrs.flag("primary")?,
        id,
    })
}

fn contact(resource: &Value, kind: ContactKind) -> Result<(String, Attrs<'_>), Error> {
    let id = resource_id(resource)
        .ok_or_else(|| malformed(&format!("an included {} has no id", kind.type_name())))?;
    let attrs = Attrs::of(resource, kind.type_name(), &id)?;
    Ok((id, attrs))
}

/// The `attributes` object of one resource, read with errors that say where.
struct Attrs<'a> {
    map: Option<&'a Map<String, Value>>,
    what: String,
}

impl<'a> Attrs<'a> {
    fn of(resource: &'a Value, type_name: &str, id: &str) -> Result<Self, Error> {
        let what = format!("{type_name} {id}");
        let map = match resource.get("attributes") {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => Some(map),
            Some(_) => return Err(malformed(&format!("{what}'s attributes are not an object"))),
        };
        Ok(Attrs { map, what })
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.and_then(|m| m.get(name))
    }

    /// A string attribute, or None when absent or null.
    fn optional(&self, name: &str) -> Result<Option<String>, Error> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.wrong(name, "a string")),
        }
    }

    fn text(&self, name: &str) -> Result<String, Error> {
        Ok(self.optional(name)?.unwrap_or_default())
    }

    fn flag(&self, name: &str) -> Result<bool, Error> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(self.wrong(name, "true or false")),
        }
    }

    /// `remote_id` is an integer; a numeric string is read as one (Rails casts them).
    fn remote_id(&self) -> Result<Option<i64>, Error> {
        match self.get("remote_id") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.wrong("remote_id", "an integer")),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| self.wrong("remote_id", "an integer")),
            Some(_) => Err(self.wrong("remote_id", "an integer")),
        }
    }

    fn wrong(&self, name: &str, expected: &str) -> Error {
        malformed(&format!("{}'s `{name}` is not {expected}", self.what))
    }
}

fn malformed(what: &str) -> Error {
    Error {
        kind: ErrorKind::Unavailable,
        message: format!("Planning Center sent a malformed response: {what}"),
    }
}

// ---- Writing -------------------------------------------------------------------------------

fn request(method: Method, path: String, body: Option<Value>) -> Request {
    Request {
        method,
        path,
        query: vec![],
        headers: vec![(API_VERSION_HEADER.into(), PEOPLE_API_VERSION.into())],
        body: body.map(|b| b.to_string().into_bytes()),
    }
}

/// `{"data": {"type", "id"?, "attributes"}}`, the wrapper PCO requires on create and update.
fn document(type_name: &str, id: Option<&str>, attributes: Map<String, Value>) -> Value {
    let mut data = Map::new();
    data.insert("type".into(), json!(type_name));
    if let Some(id) = id {
        data.insert("id".into(), json!(id));
    }
    data.insert("attributes".into(), Value::Object(attributes));
    json!({ "data": data })
}

/// `PATCH /people/v2/people/{id}` with the given attributes (names, gender, dates, avatar...),
/// asking for only [`PERSON_FIELDS`] back: PCO answers a write with the whole person otherwise
/// (R53; issue 23).
pub fn person_attributes_patch(id: &str, attributes: Map<String, Value>) -> Request {
    sparse(request(
        Method::Patch,
        format!("{PEOPLE_PATH}/{id}"),
        Some(document("Person", Some(id), attributes)),
    ))
}

/// A person write that asks for only the fields the sync reads in PCO's answer (R53).
fn sparse(mut request: Request) -> Request {
    request
        .query
        .push(("fields[Person]".to_string(), PERSON_FIELDS.to_string()));
    request
}

/// `PATCH` of the person's avatar to a file uploaded to PCO (research §6.7).
pub fn set_avatar(id: &str, upload_id: &str) -> Request {
    let mut attributes = Map::new();
    attributes.insert("avatar".into(), json!(upload_id));
    person_attributes_patch(id, attributes)
}

/// `POST /people/v2/people` stamped with the Rock id in `remote_id`, so a retry after a crash
/// finds what this request created (R6); the answer carries only [`PERSON_FIELDS`] (R53).
pub fn create_person(remote_id: i64, mut attributes: Map<String, Value>) -> Request {
    attributes.insert("remote_id".into(), json!(remote_id));
    sparse(request(
        Method::Post,
        PEOPLE_PATH.to_string(),
        Some(document("Person", None, attributes)),
    ))
}

/// `POST /people/v2/people/{person_id}/{emails|phone_numbers|addresses}`.
pub fn create_contact(
    kind: ContactKind,
    person_id: &str,
    attributes: Map<String, Value>,
) -> Request {
    request(
        Method::Post,
        format!("{PEOPLE_PATH}/{person_id}/{}", kind.segment()),
        Some(document(kind.type_name(), None, attributes)),
    )
}

/// `PATCH /people/v2/{emails|phone_numbers|addresses}/{id}`.
pub fn patch_contact(kind: ContactKind, id: &str, attributes: Map<String, Value>) -> Request {
    request(
        Method::Patch,
        format!("/people/v2/{}/{id}", kind.segment()),
        Some(document(kind.type_name(), Some(id), attributes)),
    )
}

/// `DELETE /people/v2/{emails|phone_numbers|addresses}/{id}`.
pub fn delete_contact(kind: ContactKind, id: &str) -> Request {
    request(
        Method::Delete,
        format!("/people/v2/{}/{id}", kind.segment()),
        None,
    )
}

/// Sets (or clears, with None) the person's email: the record [`PcoPersonFull::primary_email`]
/// picks is changed or deleted; a person without one gets a new primary Home email.
pub fn set_email(person: &PcoPersonFull, address: Option<&str>) -> Option<Request> {
    let kind = ContactKind::Email;
    match (person.primary_email(), address) {
        (Some(e), Some(a)) => Some(patch_contact(kind, &e.id, attrs([("address", json!(a))]))),
        (Some(e), None) => Some(delete_contact(kind, &e.id)),
        (None, Some(a)) => {
            let new = attrs([
                ("address", json!(a)),
                ("location", json!("Home")),
                ("primary", json!(true)),
            ]);
            Some(create_contact(kind, &person.id, new))
        }
        (None, None) => None,
    }
}

/// Sets (or clears) the phone at `location`. New numbers are not made primary: the primary
/// phone may be how the person logs in, and PCO tells them when it changes (R19).
pub fn set_phone(
    person: &PcoPersonFull,
    location: PhoneLocation,
    number: Option<&str>,
) -> Option<Request> {
    let kind = ContactKind::PhoneNumber;
    match (person.phone(location), number) {
        (Some(p), Some(n)) => Some(patch_contact(kind, &p.id, attrs([("number", json!(n))]))),
        (Some(p), None) => Some(delete_contact(kind, &p.id)),
        (None, Some(n)) => {
            let new = attrs([
                ("number", json!(n)),
                ("location", json!(location.name())),
                ("primary", json!(false)),
            ]);
            Some(create_contact(kind, &person.id, new))
        }
        (None, None) => None,
    }
}

/// The parts of an address the sync writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressParts {
    pub street_line_1: String,
    pub street_line_2: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    /// Empty leaves PCO's country as it is (the organization's default on create).
    pub country_code: String,
}

/// Sets (or clears) the Home address; a new one is primary when the person has no address.
pub fn set_home_address(person: &PcoPersonFull, address: Option<&AddressParts>) -> Option<Request> {
    let kind = ContactKind::Address;
    match (person.home_address(), address) {
        (Some(a), Some(new)) => Some(patch_contact(kind, &a.id, address_attrs(new))),
        (Some(a), None) => Some(delete_contact(kind, &a.id)),
        (None, Some(new)) => {
            let mut attributes = address_attrs(new);
            attributes.insert("location".into(), json!("Home"));
            attributes.insert("primary".into(), json!(person.addresses.is_empty()));
            Some(create_contact(kind, &person.id, attributes))
        }
        (None, None) => None,
    }
}

fn address_attrs(a: &AddressParts) -> Map<String, Value> {
    let mut map = attrs([
        ("street_line_1", json!(a.street_line_1)),
        ("street_line_2", json!(a.street_line_2)),
        ("city", json!(a.city)),
        ("state", json!(a.state)),
        ("zip", json!(a.zip)),
    ]);
    if !a.country_code.is_empty() {
        map.insert("country_code".into(), json!(a.country_code));
    }
    map
}

fn attrs<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page shaped as the sandbox renders it (render.rs): two people, the second with no
    /// contact records, includes de-duplicated at the end, plus an unrelated include.
    const PAGE: &str = r#"{
      "links": {"self": "http://x/people/v2/people?include=emails,phone_numbers,addresses&per_page=100"},
      "data": [
        {"type": "Person", "id": "101",
         "attributes": {"accounting_administrator": false, "anniversary": "2001-06-09",
           "avatar": "https://people.planningcenteronline.com/static/no_photo_thumbnail_gray.png",
           "birthdate": "1970-02-03", "child": false, "created_at": "2025-01-01T00:00:00Z",
           "first_name": "Bob", "gender": "Male", "given_name": "Robert", "grade": null,
           "inactivated_at": null, "last_name": "Smith", "medical_notes": null,
           "membership": null, "middle_name": "Lee", "name": "Bob Smith", "nickname": null,
           "remote_id": 42, "site_administrator": true, "status": "active",
           "updated_at": "2025-03-04T05:06:07Z"},
         "relationships": {"primary_campus": {"data": null},
           "emails": {"links": {}, "data": [{"type": "Email", "id": "9"}, {"type": "Email", "id": "8"}]},
           "phone_numbers": {"data": [{"type": "PhoneNumber", "id": "5"}, {"type": "PhoneNumber", "id": "6"}]},
           "addresses": {"data": [{"type": "Address", "id": "3"}]}},
         "links": {"self": "http://x/people/v2/people/101"}},
        {"type": "Person", "id": "102",
         "attributes": {"first_name": "Ann", "given_name": null, "last_name": "Lee",
           "gender": null, "birthdate": null, "anniversary": null, "remote_id": null,
           "site_administrator": false, "status": "inactive", "updated_at": "2025-01-01T00:00:00Z"},
         "relationships": {"emails": {"data": []}, "phone_numbers": {"data": []},
           "addresses": {"data": []}}}
      ],
      "included": [
        {"type": "Email", "id": "8", "attributes": {"address": "Bob@Example.org", "blocked": false,
          "location": "Home", "primary": true},
         "relationships": {"person": {"data": {"type": "Person", "id": "101"}}}},
        {"type": "Email", "id": "9", "attributes": {"address": "work@example.org",
          "location": "Work", "primary": false}},
        {"type": "PhoneNumber", "id": "5", "attributes": {"number": "(217) 555-0100",
          "carrier": null, "country_code": "US", "e164": "+12175550100", "location": "Mobile",
          "primary": true}},
        {"type": "PhoneNumber", "id": "6", "attributes": {"number": "(217) 555-0199",
          "location": "Home", "primary": false}},
        {"type": "Address", "id": "3", "attributes": {"city": "Springfield", "country_code": "US",
          "country_name": "United States", "location": "Home", "primary": true, "state": "IL",
          "street_line_1": "12 Elm St", "street_line_2": "Apt 4", "zip": "62701"}},
        {"type": "Organization", "id": "1", "attributes": {"name": "Church"}}
      ],
      "meta": {"total_count": 2, "count": 2}
    }"#;

    #[test]
    fn reads_people_with_their_emails_phones_and_addresses() {
        let (people, total) = parse_people_document(PAGE.as_bytes()).unwrap();
        assert_eq!(total, Some(2));
        assert_eq!(people.len(), 2);
        let bob = &people[0];
        assert_eq!(
            (bob.id.as_str(), bob.remote_id, bob.given_name.as_str()),
            ("101", Some(42), "Robert")
        );
        assert_eq!(bob.first_name, "Bob");
        assert_eq!(bob.middle_name, "Lee");
        assert_eq!(bob.gender.as_deref(), Some("Male"));
        assert_eq!(bob.birthdate.as_deref(), Some("1970-02-03"));
        assert_eq!(bob.anniversary.as_deref(), Some("2001-06-09"));
        assert!(bob.site_administrator);
        assert_eq!(bob.updated_at, "2025-03-04T05:06:07Z");
        // Relationship order is kept: the non-primary work email first.
        let emails: Vec<&str> = bob.emails.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(emails, ["9", "8"]);
        assert_eq!(
            bob.primary_email().map(|e| e.address.as_str()),
            Some("Bob@Example.org")
        );
        assert_eq!(
            bob.phone(PhoneLocation::Mobile).map(|p| p.id.as_str()),
            Some("5")
        );
        assert_eq!(
            bob.phone(PhoneLocation::Home).map(|p| p.number.as_str()),
            Some("(217) 555-0199")
        );
        assert_eq!(bob.phone(PhoneLocation::Work), None);
        let home = bob.home_address().unwrap();
        assert_eq!(
            (home.street_line_1.as_str(), home.street_line_2.as_str()),
            ("12 Elm St", "Apt 4")
        );
        assert_eq!(
            (home.zip.as_str(), home.country_code.as_str()),
            ("62701", "US")
        );
        let ann = &people[1];
        assert_eq!((ann.given_name.as_str(), ann.remote_id), ("", None));
        assert_eq!(ann.status, "inactive");
        assert!(ann.emails.is_empty() && ann.phones.is_empty() && ann.addresses.is_empty());
    }

    #[test]
    fn reads_a_single_resource_document() {
        let body = r#"{"data": {"type": "Person", "id": "7", "attributes": {"first_name": "Al",
            "remote_id": "12"}}, "included": [
            {"type": "Email", "id": "1", "attributes": {"address": "al@example.org",
             "location": "Home", "primary": false},
             "relationships": {"person": {"data": {"type": "Person", "id": "7"}}}},
            {"type": "Email", "id": "2", "attributes": {"address": "other@example.org"},
             "relationships": {"person": {"data": {"type": "Person", "id": "8"}}}}]}"#;
        let (people, total) = parse_people_document(body.as_bytes()).unwrap();
        assert_eq!(total, None);
        assert_eq!(people[0].remote_id, Some(12));
        // Without a relationship list, included records are matched by their owner.
        assert_eq!(people[0].emails.len(), 1);
        assert_eq!(
            people[0].primary_email().map(|e| e.address.as_str()),
            Some("al@example.org")
        );
    }

    #[test]
    fn reads_the_older_single_street_address() {
        let body = r#"{"data": [{"type": "Person", "id": "7", "attributes": {},
            "relationships": {"addresses": {"data": [{"type": "Address", "id": "1"}]}}}],
            "included": [{"type": "Address", "id": "1", "attributes": {"street": "1 A St\nUnit 2",
            "city": "X", "location": "Home"}}]}"#;
        let (people, _) = parse_people_document(body.as_bytes()).unwrap();
        let home = people[0].home_address().unwrap();
        assert_eq!(home.street_line_1, "1 A St");
        assert_eq!(home.street_line_2, "Unit 2");
    }

    #[test]
    fn malformed_documents_are_error_values_naming_the_problem() {
        let cases = [
            ("", "not JSON"),
            ("{", "not JSON"),
            ("[]", "no `data`"),
            (r#"{"data": 3}"#, "no `data`"),
            (r#"{"data": [{"type": "Person"}]}"#, "no id"),
            (
                r#"{"data": [{"type": "Email", "id": "1"}]}"#,
                "not a Person",
            ),
            (
                r#"{"data": [{"id": "1", "attributes": {"first_name": 5}}]}"#,
                "`first_name`",
            ),
            (
                r#"{"data": [{"id": "1", "attributes": {"remote_id": "x"}}]}"#,
                "`remote_id`",
            ),
            (r#"{"data": [{"id": "1", "attributes": []}]}"#, "attributes"),
            (r#"{"data": [], "included": {}}"#, "`included`"),
            (
                r#"{"data": [{"id": "1", "relationships": {"emails": {"data": [{"id": "9"}]}}}]}"#,
                "Email 9 of person 1 is not in `included`",
            ),
            (
                r#"{"data": [{"id": "1", "relationships": {"emails": {"data": {}}}}]}"#,
                "not a list",
            ),
            (
                r#"{"data": [{"id": "1", "relationships": {"phone_numbers": {"data": [{"id": "2"}]}}}],
                   "included": [{"type": "PhoneNumber", "id": "2", "attributes": {"primary": "yes"}}]}"#,
                "`primary`",
            ),
        ];
        for (body, expected) in cases {
            let error = parse_people_document(body.as_bytes()).unwrap_err();
            assert_eq!(error.kind, ErrorKind::Unavailable, "{body}");
            assert!(
                error.message.contains(expected),
                "{body}: {}",
                error.message
            );
        }
    }

    #[test]
    fn no_truncation_or_corruption_panics() {
        for end in 0..PAGE.len() {
            if let Some(prefix) = PAGE.get(..end) {
                let _ = parse_people_document(prefix.as_bytes());
            }
        }
        for (from, to) in [
            ("\"Bob\"", "7"),
            ("true", "\"x\""),
            ("[", "{"),
            ("\"9\"", "null"),
        ] {
            let _ = parse_people_document(PAGE.replacen(from, to, 1).as_bytes());
        }
    }

    fn body(request: &Request) -> Value {
        serde_json::from_slice(request.body.as_deref().unwrap_or_default()).unwrap_or_default()
    }

    fn pinned(request: &Request) -> bool {
        request.headers
            == [(
                API_VERSION_HEADER.to_string(),
                PEOPLE_API_VERSION.to_string(),
            )]
    }

    #[test]
    fn person_writes_use_the_jsonapi_wrapper() {
        let patch = person_attributes_patch("101", attrs([("last_name", json!("Smyth"))]));
        assert!(matches!(patch.method, Method::Patch));
        assert_eq!(patch.path, "/people/v2/people/101");
        assert!(pinned(&patch));
        assert_eq!(
            body(&patch),
            json!({"data": {"type": "Person", "id": "101", "attributes": {"last_name": "Smyth"}}})
        );
        let create = create_person(42, attrs([("first_name", json!("Bob"))]));
        assert!(matches!(create.method, Method::Post));
        assert_eq!(create.path, "/people/v2/people");
        assert!(pinned(&create));
        assert_eq!(
            body(&create),
            json!({"data": {"type": "Person", "attributes": {"first_name": "Bob", "remote_id": 42}}})
        );
    }

    fn bob() -> PcoPersonFull {
        parse_people_document(PAGE.as_bytes()).unwrap().0.remove(0)
    }

    #[test]
    fn email_writes_pick_the_primary_record() {
        let bob = bob();
        let patch = set_email(&bob, Some("new@example.org")).unwrap();
        assert!(matches!(patch.method, Method::Patch));
        assert_eq!(patch.path, "/people/v2/emails/8");
        assert_eq!(
            body(&patch),
            json!({"data": {"type": "Email", "id": "8", "attributes": {"address": "new@example.org"}}})
        );
        let delete = set_email(&bob, None).unwrap();
        assert!(matches!(delete.method, Method::Delete));
        assert_eq!(delete.path, "/people/v2/emails/8");
        assert_eq!(delete.body, None);
        assert!(pinned(&delete));
        let nobody = PcoPersonFull {
            id: "5".into(),
            ..PcoPersonFull::default()
        };
        let create = set_email(&nobody, Some("a@example.org")).unwrap();
        assert!(matches!(create.method, Method::Post));
        assert_eq!(create.path, "/people/v2/people/5/emails");
        assert_eq!(
            body(&create),
            json!({"data": {"type": "Email", "attributes":
                {"address": "a@example.org", "location": "Home", "primary": true}}})
        );
        assert!(set_email(&nobody, None).is_none());
    }

    #[test]
    fn phone_writes_pick_the_record_at_the_location() {
        let bob = bob();
        let patch = set_phone(&bob, PhoneLocation::Home, Some("217-555-0111")).unwrap();
        assert_eq!(patch.path, "/people/v2/phone_numbers/6");
        assert_eq!(
            body(&patch)["data"]["attributes"],
            json!({"number": "217-555-0111"})
        );
        let delete = set_phone(&bob, PhoneLocation::Mobile, None).unwrap();
        assert!(matches!(delete.method, Method::Delete));
        assert_eq!(delete.path, "/people/v2/phone_numbers/5");
        let create = set_phone(&bob, PhoneLocation::Work, Some("2175550123")).unwrap();
        assert!(matches!(create.method, Method::Post));
        assert_eq!(create.path, "/people/v2/people/101/phone_numbers");
        assert_eq!(
            body(&create)["data"],
            json!({"type": "PhoneNumber", "attributes":
                {"number": "2175550123", "location": "Work", "primary": false}})
        );
        assert!(set_phone(&bob, PhoneLocation::Work, None).is_none());
    }

    #[test]
    fn address_writes_pick_the_home_address() {
        let bob = bob();
        let parts = AddressParts {
            street_line_1: "9 Oak Ave".into(),
            city: "Springfield".into(),
            state: "IL".into(),
            zip: "62702".into(),
            ..AddressParts::default()
        };
        let patch = set_home_address(&bob, Some(&parts)).unwrap();
        assert!(matches!(patch.method, Method::Patch));
        assert_eq!(patch.path, "/people/v2/addresses/3");
        assert_eq!(
            body(&patch)["data"]["attributes"],
            json!({"street_line_1": "9 Oak Ave", "street_line_2": "", "city": "Springfield",
                   "state": "IL", "zip": "62702"})
        );
        let delete = set_home_address(&bob, None).unwrap();
        assert_eq!(delete.path, "/people/v2/addresses/3");
        let mut work_only = bob.clone();
        work_only.addresses[0].location = "Work".into();
        let create = set_home_address(&work_only, Some(&parts)).unwrap();
        assert!(matches!(create.method, Method::Post));
        assert_eq!(create.path, "/people/v2/people/101/addresses");
        let attributes = &body(&create)["data"]["attributes"];
        assert_eq!(attributes["location"], json!("Home"));
        assert_eq!(attributes["primary"], json!(false));
    }
}
