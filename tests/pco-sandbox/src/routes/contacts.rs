//! People v2 emails, phone numbers and addresses (research §6.2 to §6.4): created under a
//! person, read, patched and deleted by their own id. Every change moves the owner's
//! `updated_at`, as PCO does (#313, #604). `primary` is not exclusive, as in PCO's API (#460).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::{Capabilities, SharedState, list as list_doc, parse_id, single, view};
use crate::clock::lock;
use crate::edits::{apply_address, apply_email, apply_phone};
use crate::jsonapi::{
    ApiError, ApiErrors, ApiResult, attributes, document, no_content, request_data,
};
use crate::model::{Counters, Email, Person, Phone, PostalAddress};
use crate::query::ListParams;
use crate::records::EmailKind;
use crate::render::{self, View};
use crate::resource::{Included, Resource};
use crate::state::{Ctx, NewEmail, Version};

/// What the three contact kinds have in common.
trait Contact: Clone + Sized {
    const QUERY: &'static [&'static str];
    fn id(&self) -> u64;
    fn blank(id: u64, now: i64) -> Self;
    fn touch(&mut self, now: i64);
    fn of(p: &Person) -> &Vec<Self>;
    fn of_mut(p: &mut Person) -> &mut Vec<Self>;
    fn counter(next: &mut Counters) -> &mut u64;
    fn apply(
        &mut self,
        attrs: &Map<String, Value>,
        creating: bool,
        version: Version,
    ) -> Result<bool, ApiErrors>;
    fn render(&self, view: View, person_id: u64) -> Resource;
    /// The value `where[field]` compares with (lowercase), if the field is queryable.
    fn field(&self, field: &str) -> Option<String>;
    /// What the person logs in with, if this record is it: the primary email or phone number.
    fn login(&self) -> Option<String> {
        None
    }
}

impl Contact for Email {
    const QUERY: &'static [&'static str] = &["address", "location", "primary"];
    fn id(&self) -> u64 {
        self.id
    }
    fn blank(id: u64, now: i64) -> Email {
        Email {
            id,
            address: String::new(),
            location: "Home".into(),
            primary: false,
            created_at: now,
            updated_at: now,
        }
    }
    fn touch(&mut self, now: i64) {
        self.updated_at = now;
    }
    fn of(p: &Person) -> &Vec<Email> {
        &p.emails
    }
    fn of_mut(p: &mut Person) -> &mut Vec<Email> {
        &mut p.emails
    }
    fn counter(next: &mut Counters) -> &mut u64 {
        &mut next.email
    }
    fn apply(
        &mut self,
        attrs: &Map<String, Value>,
        creating: bool,
        _: Version,
    ) -> Result<bool, ApiErrors> {
        apply_email(self, attrs, creating)
    }
    fn render(&self, view: View, person_id: u64) -> Resource {
        render::email(view, self, person_id)
    }
    fn login(&self) -> Option<String> {
        self.primary.then(|| self.address.clone())
    }
    fn field(&self, field: &str) -> Option<String> {
        match field {
            // Exact, case-insensitive: how PCO compares addresses is unconfirmed.
            "address" => Some(self.address.to_lowercase()),
            "location" => Some(self.location.to_lowercase()),
            "primary" => Some(self.primary.to_string()),
            _ => None,
        }
    }
}

impl Contact for Phone {
    const QUERY: &'static [&'static str] = &["carrier", "location", "number", "primary"];
    fn id(&self) -> u64 {
        self.id
    }
    fn blank(id: u64, now: i64) -> Phone {
        Phone {
            id,
            number: String::new(),
            carrier: None,
            location: String::new(),
            primary: false,
            created_at: now,
            updated_at: now,
        }
    }
    fn touch(&mut self, now: i64) {
        self.updated_at = now;
    }
    fn of(p: &Person) -> &Vec<Phone> {
        &p.phones
    }
    fn of_mut(p: &mut Person) -> &mut Vec<Phone> {
        &mut p.phones
    }
    fn counter(next: &mut Counters) -> &mut u64 {
        &mut next.phone
    }
    fn apply(
        &mut self,
        attrs: &Map<String, Value>,
        creating: bool,
        _: Version,
    ) -> Result<bool, ApiErrors> {
        apply_phone(self, attrs, creating)
    }
    fn render(&self, view: View, person_id: u64) -> Resource {
        render::phone(view, self, person_id)
    }
    fn login(&self) -> Option<String> {
        self.primary.then(|| self.number.clone())
    }
    fn field(&self, field: &str) -> Option<String> {
        match field {
            "number" => Some(self.digits()),
            "carrier" => Some(self.carrier.clone().unwrap_or_default().to_lowercase()),
            "location" => Some(self.location.to_lowercase()),
            "primary" => Some(self.primary.to_string()),
            _ => None,
        }
    }
}

impl Contact for PostalAddress {
    const QUERY: &'static [&'static str] = &[
        "city",
        "country_code",
        "location",
        "primary",
        "state",
        "street_line_1",
        "street_line_2",
        "zip",
    ];
    fn id(&self) -> u64 {
        self.id
    }
    fn blank(id: u64, now: i64) -> PostalAddress {
        PostalAddress {
            id,
            street_line_1: String::new(),
            street_line_2: String::new(),
            city: String::new(),
            state: String::new(),
            zip: String::new(),
            country_code: "US".into(),
            location: "Home".into(),
            primary: false,
            created_at: now,
            updated_at: now,
        }
    }
    fn touch(&mut self, now: i64) {
        self.updated_at = now;
    }
    fn of(p: &Person) -> &Vec<PostalAddress> {
        &p.addresses
    }
    fn of_mut(p: &mut Person) -> &mut Vec<PostalAddress> {
        &mut p.addresses
    }
    fn counter(next: &mut Counters) -> &mut u64 {
        &mut next.address
    }
    fn apply(
        &mut self,
        attrs: &Map<String, Value>,
        _creating: bool,
        version: Version,
    ) -> Result<bool, ApiErrors> {
        apply_address(self, attrs, version.street_lines)
    }
    fn render(&self, view: View, person_id: u64) -> Resource {
        render::address(view, self, person_id)
    }
    fn field(&self, field: &str) -> Option<String> {
        let v = match field {
            "city" => &self.city,
            "country_code" => &self.country_code,
            "location" => &self.location,
            "state" => &self.state,
            "street_line_1" => &self.street_line_1,
            "street_line_2" => &self.street_line_2,
            "zip" => &self.zip,
            "primary" => return Some(self.primary.to_string()),
            _ => return None,
        };
        Some(v.to_lowercase())
    }
}

/// Which collection a path names.
#[derive(Clone, Copy)]
enum Kind {
    Emails,
    Phones,
    Addresses,
}

fn kind(name: &str) -> Result<Kind, ApiError> {
    match name {
        "emails" => Ok(Kind::Emails),
        "phone_numbers" => Ok(Kind::Phones),
        "addresses" => Ok(Kind::Addresses),
        _ => Err(ApiError::not_found()),
    }
}

/// Runs a generic handler body for the contact type a path names.
macro_rules! by_kind {
    ($kind:expr, $f:ident($($arg:expr),*)) => {
        match $kind {
            Kind::Emails => $f::<Email>($($arg),*),
            Kind::Phones => $f::<Phone>($($arg),*),
            Kind::Addresses => $f::<PostalAddress>($($arg),*),
        }
    };
}

pub async fn list_for_person(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    Path((person, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let kind = kind(&name)?;
    let person = parse_id(&person)?;
    let path = format!("/people/v2/people/{person}/{name}");
    by_kind!(
        kind,
        list_contacts(&shared, ctx, Some(person), &path, q.as_deref())
    )
}

pub async fn list_all(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let kind = kind(&name)?;
    let path = format!("/people/v2/{name}");
    by_kind!(kind, list_contacts(&shared, ctx, None, &path, q.as_deref()))
}

fn list_contacts<C: Contact>(
    shared: &crate::state::Shared,
    ctx: Ctx,
    person: Option<u64>,
    path: &str,
    query: Option<&str>,
) -> ApiResult {
    let params = ListParams::parse(query)?;
    let store = lock(&shared.store);
    let account = &store.accounts[ctx.account];
    let people: Vec<&Person> = match person {
        Some(id) => vec![account.people.get(&id).ok_or_else(ApiError::not_found)?],
        None => account.people.values().collect(),
    };
    let mut rows: Vec<(&C, &Person)> = people
        .into_iter()
        .flat_map(|p| C::of(p).iter().map(move |c| (c, p)))
        .filter(|(c, _)| {
            params.wheres.iter().all(|w| {
                c.field(&w.field)
                    .is_some_and(|v| v == normalise_where(&w.field, &w.value))
            })
        })
        .collect();
    rows.sort_by_key(|(c, _)| c.id());
    let v = view(shared, ctx, account);
    let caps = Capabilities {
        include: &["person"],
        query: C::QUERY,
        order: &["created_at", "updated_at"],
        filter: &[],
    };
    let with_person = params.includes("person");
    let body = list_doc(v, &params, path, &rows, &caps, |(c, p), inc| {
        if with_person {
            inc.push(render::person(v, p, &[], &mut Included::default()));
        }
        c.render(v, p.id)
    });
    Ok(document(StatusCode::OK, body))
}

/// The value a `where` compares with, in the same form as [`Contact::field`].
fn normalise_where(field: &str, value: &str) -> String {
    if field == "number" {
        value.chars().filter(char::is_ascii_digit).collect()
    } else {
        value.trim().to_lowercase()
    }
}

pub async fn show(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult {
    let kind = kind(&name)?;
    let id = parse_id(&id)?;
    by_kind!(kind, show_contact(&shared, ctx, id))
}

fn show_contact<C: Contact>(shared: &crate::state::Shared, ctx: Ctx, id: u64) -> ApiResult {
    let store = lock(&shared.store);
    let account = &store.accounts[ctx.account];
    let p = account.owner_of(id).ok_or_else(ApiError::not_found)?;
    let c = C::of(p)
        .iter()
        .find(|c| c.id() == id)
        .ok_or_else(ApiError::not_found)?;
    let v = view(shared, ctx, account);
    Ok(document(
        StatusCode::OK,
        single(v, c.render(v, p.id), Included::default(), &["person"]),
    ))
}

pub async fn create(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    Path((person, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let kind = kind(&name)?;
    let person = parse_id(&person)?;
    let data = request_data(&body)?;
    let attrs = attributes(&data)?;
    by_kind!(kind, create_contact(&shared, ctx, person, &attrs))
}

fn create_contact<C: Contact>(
    shared: &crate::state::Shared,
    ctx: Ctx,
    person: u64,
    attrs: &Map<String, Value>,
) -> ApiResult {
    let mut store = lock(&shared.store);
    let (account, next) = store.split(ctx.account);
    let p = account
        .people
        .get_mut(&person)
        .ok_or_else(ApiError::not_found)?;
    guard_admin_contacts(ctx, p)?;
    let now = shared.clock.tick();
    let mut contact = C::blank(*C::counter(next), now);
    contact.apply(attrs, true, ctx.version)?;
    let id = Counters::take(C::counter(next));
    C::of_mut(p).push(contact.clone());
    p.updated_at = now;
    account.contact_owner.insert(id, person);
    let v = view(shared, ctx, account);
    Ok(document(
        StatusCode::CREATED,
        single(
            v,
            contact.render(v, person),
            Included::default(),
            &["person"],
        ),
    ))
}

pub async fn update(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    Path((name, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let kind = kind(&name)?;
    let id = parse_id(&id)?;
    let data = request_data(&body)?;
    let attrs = attributes(&data)?;
    by_kind!(kind, update_contact(&shared, ctx, id, &attrs))
}

fn update_contact<C: Contact>(
    shared: &crate::state::Shared,
    ctx: Ctx,
    id: u64,
    attrs: &Map<String, Value>,
) -> ApiResult {
    let mut store = lock(&shared.store);
    let account = &mut store.accounts[ctx.account];
    let person = *account
        .contact_owner
        .get(&id)
        .ok_or_else(ApiError::not_found)?;
    let p = account
        .people
        .get_mut(&person)
        .ok_or_else(ApiError::not_found)?;
    guard_admin_contacts(ctx, p)?;
    let slot = C::of_mut(p)
        .iter_mut()
        .find(|c| c.id() == id)
        .ok_or_else(ApiError::not_found)?;
    let mut contact = slot.clone();
    if contact.apply(attrs, false, ctx.version)? {
        let now = shared.clock.tick();
        contact.touch(now);
        let before = std::mem::replace(slot, contact.clone());
        p.updated_at = now;
        if before.login().is_some() && before.login() != contact.login() {
            login_changed(shared, ctx, p, before.login());
        }
    }
    let v = view(shared, ctx, account);
    Ok(document(
        StatusCode::OK,
        single(
            v,
            contact.render(v, person),
            Included::default(),
            &["person"],
        ),
    ))
}

pub async fn destroy(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult {
    let kind = kind(&name)?;
    let id = parse_id(&id)?;
    by_kind!(kind, destroy_contact(&shared, ctx, id))
}

fn destroy_contact<C: Contact>(shared: &crate::state::Shared, ctx: Ctx, id: u64) -> ApiResult {
    let mut store = lock(&shared.store);
    let account = &mut store.accounts[ctx.account];
    let person = *account
        .contact_owner
        .get(&id)
        .ok_or_else(ApiError::not_found)?;
    let p = account
        .people
        .get_mut(&person)
        .ok_or_else(ApiError::not_found)?;
    guard_admin_contacts(ctx, p)?;
    let list = C::of_mut(p);
    let index = list
        .iter()
        .position(|c| c.id() == id)
        .ok_or_else(ApiError::not_found)?;
    let removed = list.remove(index);
    p.updated_at = shared.clock.tick();
    if removed.login().is_some() {
        login_changed(shared, ctx, p, removed.login());
    }
    account.contact_owner.remove(&id);
    Ok(no_content())
}

/// [`crate::state::RoleRules::admin_contacts`]: an organization or accounting administrator's
/// emails, phone numbers and addresses are edited only by an organization administrator; others
/// get 403 (planningcenter/developers#1096, #1139).
fn guard_admin_contacts(ctx: Ctx, owner: &Person) -> Result<(), ApiError> {
    if ctx.rules.admin_contacts && !ctx.user.site_administrator && owner.is_guarded_admin() {
        return Err(ApiError::no_access());
    }
    Ok(())
}

/// PCO emails people who can log in (they have an app) when an integration changes the email
/// or phone number they log in with (SPEC R19; which changes count exactly is unconfirmed: the
/// sandbox counts a change or removal of a primary email or phone number). The notice goes to
/// the old value.
fn login_changed(shared: &crate::state::Shared, ctx: Ctx, p: &Person, old: Option<String>) {
    if p.apps.is_empty() {
        return;
    }
    shared.send_email(
        ctx.account,
        NewEmail {
            kind: EmailKind::LoginChanged,
            person_id: p.id,
            recipients: vec![p.id],
            subject: "Your Planning Center login information changed".into(),
            template_id: None,
            from_permissions: None,
            to_permissions: None,
            to_address: old,
        },
    );
}
