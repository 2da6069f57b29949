//! Resources as PCO renders them (research §2.1, §6, §7). Attribute sets follow the People
//! 2025-11-10 and Services 2018-11-01 docs; attributes the sandbox does not model are present
//! with PCO's empty values so clients see the full shape. Attribute structs list their fields
//! alphabetically, as PCO sends them.

use serde::Serialize;
use serde_json::json;

use crate::clock::format_time;
use crate::model::{
    APPS, Account, Email, EmailTemplate, Person, PersonApp, Phone, PostalAddress, ServicesPerson,
    Tag, TagGroup, format_date,
};
use crate::resource::{Attributes, Included, Ref, Relationships, Resource};
use crate::state::Version;

pub const NO_PHOTO: &str =
    "https://people.planningcenteronline.com/static/no_photo_thumbnail_gray.png";

/// What a renderer needs besides the record.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub base: &'a str,
    pub version: Version,
    pub account: &'a Account,
    /// Whether the token's user sees Services' role attributes.
    pub sees_services_roles: bool,
    /// How the People list moves under a reader (a fault; none by default).
    pub list_drift: crate::state::ListDrift,
}

/// PCO's empty value for attributes the sandbox does not model.
type Absent = Option<()>;

/// People's Person attributes.
#[derive(Debug, Serialize)]
pub struct PersonAttributes {
    accounting_administrator: bool,
    anniversary: Option<String>,
    avatar: String,
    birthdate: Option<String>,
    child: bool,
    created_at: String,
    demographic_avatar_url: &'static str,
    first_name: Option<String>,
    gender: Option<String>,
    given_name: Option<String>,
    grade: Absent,
    graduation_year: Absent,
    inactivated_at: Option<String>,
    last_name: Option<String>,
    medical_notes: Absent,
    membership: Option<String>,
    middle_name: Option<String>,
    name: String,
    nickname: Option<String>,
    passed_background_check: bool,
    people_permissions: Absent,
    remote_id: Option<i64>,
    school_type: Absent,
    site_administrator: bool,
    status: &'static str,
    updated_at: String,
}

fn date(d: Option<time::Date>) -> Option<String> {
    d.map(format_date)
}

fn gender(p: &Person, v: Version) -> Option<String> {
    let g = p.gender.as_deref()?;
    Some(match (g, v.gender_words) {
        ("M", true) => "Male".to_string(),
        ("F", true) => "Female".to_string(),
        (g, _) => g.to_string(),
    })
}

fn avatar_url(p: &Person) -> String {
    p.avatar
        .as_ref()
        .map_or(NO_PHOTO, |a| a.url.as_str())
        .to_string()
}

/// People's Person, with relationships for whatever `include` asks for.
pub fn person(view: View, p: &Person, include: &[String], included: &mut Included) -> Resource {
    let attributes = PersonAttributes {
        accounting_administrator: p.accounting_administrator,
        anniversary: date(p.anniversary),
        avatar: avatar_url(p),
        birthdate: date(p.birthdate),
        child: p.child,
        created_at: format_time(p.created_at),
        demographic_avatar_url: NO_PHOTO,
        first_name: p.first_name.clone(),
        gender: gender(p, view.version),
        given_name: p.given_name.clone(),
        grade: None,
        graduation_year: None,
        inactivated_at: p.inactivated_at.map(format_time),
        last_name: p.last_name.clone(),
        medical_notes: None,
        membership: p.membership.clone(),
        middle_name: p.middle_name.clone(),
        name: p.name(),
        nickname: p.nickname.clone(),
        passed_background_check: false,
        people_permissions: None,
        remote_id: p.remote_id,
        school_type: None,
        site_administrator: p.site_administrator,
        status: p.status(),
        updated_at: format_time(p.updated_at),
    };
    let person_url = format!("{}/people/v2/people/{}", view.base, p.id);
    let mut relationships = Relationships::new().one("primary_campus", None);
    for name in include {
        let refs: Vec<Ref> = match name.as_str() {
            "emails" => p
                .emails
                .iter()
                .map(|e| included.push(email(view, e, p.id)))
                .collect(),
            "phone_numbers" => p
                .phones
                .iter()
                .map(|ph| included.push(phone(view, ph, p.id)))
                .collect(),
            "addresses" => p
                .addresses
                .iter()
                .map(|a| included.push(address(view, a, p.id)))
                .collect(),
            "person_apps" => p
                .apps
                .iter()
                .map(|a| included.push(person_app(view, a, p.id)))
                .collect(),
            "organization" => {
                relationships = relationships.one(name, Some(included.push(organization(view))));
                continue;
            }
            _ => continue,
        };
        relationships = relationships.many(name, refs, Some(format!("{person_url}/{name}")));
    }
    let attributes = Attributes::Person(Box::new(attributes));
    Resource::new("Person", p.id, attributes, relationships, person_url)
}

fn person_rel(person_id: u64) -> Relationships {
    Relationships::new().one("person", Some(Ref::new("Person", person_id)))
}

#[derive(Debug, Serialize)]
pub struct EmailAttributes {
    address: String,
    blocked: bool,
    created_at: String,
    location: String,
    primary: bool,
    updated_at: String,
}

pub fn email(view: View, e: &Email, person_id: u64) -> Resource {
    let attributes = EmailAttributes {
        address: e.address.clone(),
        blocked: false,
        created_at: format_time(e.created_at),
        location: e.location.clone(),
        primary: e.primary,
        updated_at: format_time(e.updated_at),
    };
    let link = format!("{}/people/v2/emails/{}", view.base, e.id);
    Resource::new(
        "Email",
        e.id,
        Attributes::Email(attributes),
        person_rel(person_id),
        link,
    )
}

#[derive(Debug, Serialize)]
pub struct PhoneAttributes {
    carrier: Option<String>,
    country_code: Option<&'static str>,
    created_at: String,
    e164: Option<String>,
    international: Option<String>,
    location: String,
    national: Option<String>,
    number: String,
    primary: bool,
    updated_at: String,
}

pub fn phone(view: View, ph: &Phone, person_id: u64) -> Resource {
    let digits = ph.digits();
    let us = digits.len() == 10;
    let attributes = PhoneAttributes {
        carrier: ph.carrier.clone(),
        country_code: us.then_some("US"),
        created_at: format_time(ph.created_at),
        e164: us.then(|| format!("+1{digits}")),
        international: us
            .then(|| format!("+1 {}-{}-{}", &digits[..3], &digits[3..6], &digits[6..])),
        location: ph.location.clone(),
        national: us.then(|| ph.number.clone()),
        number: ph.number.clone(),
        primary: ph.primary,
        updated_at: format_time(ph.updated_at),
    };
    let link = format!("{}/people/v2/phone_numbers/{}", view.base, ph.id);
    Resource::new(
        "PhoneNumber",
        ph.id,
        Attributes::Phone(attributes),
        person_rel(person_id),
        link,
    )
}

/// Versions before 2023-03-21 have one `street`; later ones two lines.
#[derive(Debug, Serialize)]
pub struct AddressAttributes {
    city: String,
    country_code: String,
    country_name: Option<&'static str>,
    created_at: String,
    location: String,
    primary: bool,
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    street: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    street_line_1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    street_line_2: Option<String>,
    updated_at: String,
    zip: String,
}

pub fn address(view: View, a: &PostalAddress, person_id: u64) -> Resource {
    let lines = view.version.street_lines;
    let street = (!lines).then(|| {
        [a.street_line_1.as_str(), a.street_line_2.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    });
    let attributes = AddressAttributes {
        city: a.city.clone(),
        country_code: a.country_code.clone(),
        country_name: (a.country_code == "US").then_some("United States"),
        created_at: format_time(a.created_at),
        location: a.location.clone(),
        primary: a.primary,
        state: a.state.clone(),
        street,
        street_line_1: lines.then(|| a.street_line_1.clone()),
        street_line_2: lines.then(|| a.street_line_2.clone()),
        updated_at: format_time(a.updated_at),
        zip: a.zip.clone(),
    };
    let link = format!("{}/people/v2/addresses/{}", view.base, a.id);
    Resource::new(
        "Address",
        a.id,
        Attributes::Address(attributes),
        person_rel(person_id),
        link,
    )
}

pub fn person_app(view: View, a: &PersonApp, person_id: u64) -> Resource {
    let attributes = json!({ "allow_pco_login": true, "people_permissions": null });
    let relationships = person_rel(person_id).one("app", Some(Ref::new("App", a.app_id)));
    let link = format!(
        "{}/people/v2/people/{person_id}/person_apps/{}",
        view.base, a.id
    );
    Resource::new("PersonApp", a.id, attributes, relationships, link)
}

pub fn app(view: View, id: u64) -> Resource {
    let name = APPS.iter().find(|(i, _)| *i == id).map_or("", |(_, n)| n);
    let url = format!("https://{}.planningcenteronline.com", name.to_lowercase());
    let attributes = json!({ "image": null, "name": name, "url": url });
    let link = format!("{}/people/v2/apps/{id}", view.base);
    Resource::new("App", id, attributes, Relationships::new(), link)
}

pub fn organization(view: View) -> Resource {
    let attributes = json!({
        "country_code": "US",
        "date_format": "%m/%d/%Y",
        "name": view.account.name,
        "time_zone": "America/Chicago",
    });
    let link = format!("{}/people/v2", view.base);
    Resource::new(
        "Organization",
        view.account.org_id,
        attributes,
        Relationships::new(),
        link,
    )
}

/// An attribute the token's user may not see (None: left out of the document).
#[derive(Debug)]
pub struct Hidden<T>(Option<T>);

impl<T> Hidden<T> {
    fn is_hidden(&self) -> bool {
        self.0.is_none()
    }
}

impl<T: Serialize> Serialize for Hidden<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// Services' Person attributes.
#[derive(Debug, Serialize)]
pub struct ServicesPersonAttributes {
    anniversary: Option<String>,
    /// Hidden below Scheduler, with `archived_at` and `site_administrator`.
    #[serde(skip_serializing_if = "Option::is_none")]
    archived: Option<bool>,
    #[serde(skip_serializing_if = "Hidden::is_hidden")]
    archived_at: Hidden<Option<String>>,
    assigned_to_rehearsal_team: bool,
    /// Services renders birthdate as a date_time (research §7.1).
    birthdate: Option<String>,
    created_at: String,
    first_name: Option<String>,
    full_name: String,
    given_name: Option<String>,
    last_name: Option<String>,
    legacy_id: Absent,
    max_permissions: &'static str,
    media_permissions: &'static str,
    middle_name: Option<String>,
    name_prefix: Absent,
    name_suffix: Absent,
    nickname: Option<String>,
    notes: Absent,
    passed_background_check: bool,
    permissions: &'static str,
    photo_thumbnail_url: String,
    photo_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    site_administrator: Option<bool>,
    song_permissions: &'static str,
    status: &'static str,
    updated_at: String,
}

/// Services' Person (same id as in People), from the person's Services record `s`.
pub fn services_person(
    view: View,
    p: &Person,
    s: &ServicesPerson,
    include: &[String],
    included: &mut Included,
) -> Resource {
    let roles = view.sees_services_roles;
    let attributes = ServicesPersonAttributes {
        anniversary: date(p.anniversary),
        archived: roles.then_some(s.archived_at.is_some()),
        archived_at: Hidden(roles.then(|| s.archived_at.map(format_time))),
        assigned_to_rehearsal_team: false,
        birthdate: p.birthdate.map(|d| format!("{}T00:00:00Z", format_date(d))),
        created_at: format_time(s.created_at),
        first_name: p.first_name.clone(),
        full_name: p.name(),
        given_name: p.given_name.clone(),
        last_name: p.last_name.clone(),
        legacy_id: None,
        max_permissions: s.permissions(),
        media_permissions: "Viewer",
        middle_name: p.middle_name.clone(),
        name_prefix: None,
        name_suffix: None,
        nickname: p.nickname.clone(),
        notes: None,
        passed_background_check: false,
        permissions: s.permissions(),
        photo_thumbnail_url: avatar_url(p),
        photo_url: avatar_url(p),
        site_administrator: roles.then_some(p.site_administrator),
        song_permissions: "Viewer",
        status: p.status(),
        updated_at: format_time(s.updated_at),
    };
    let url = format!("{}/services/v2/people/{}", view.base, p.id);
    let mut relationships = Relationships::new();
    for name in include {
        let refs: Vec<Ref> = match name.as_str() {
            "tags" => s
                .tags
                .iter()
                .filter_map(|id| view.account.tag(*id))
                .map(|t| included.push(tag(view, t)))
                .collect(),
            "emails" => p
                .emails
                .iter()
                .map(|e| included.push(services_email(view, e, p.id)))
                .collect(),
            _ => continue,
        };
        relationships = relationships.many(name, refs, Some(format!("{url}/{name}")));
    }
    let attributes = Attributes::ServicesPerson(Box::new(attributes));
    Resource::new("Person", p.id, attributes, relationships, url)
}

/// Services has its own Email resource (read-only mirror of People's).
fn services_email(view: View, e: &Email, person_id: u64) -> Resource {
    let attributes = json!({ "address": e.address, "primary": e.primary });
    let link = format!(
        "{}/services/v2/people/{person_id}/emails/{}",
        view.base, e.id
    );
    Resource::new("Email", e.id, attributes, person_rel(person_id), link)
}

pub fn tag(view: View, t: &Tag) -> Resource {
    let relationships =
        Relationships::new().one("tag_group", Some(Ref::new("TagGroup", t.group_id)));
    let link = format!("{}/services/v2/tags/{}", view.base, t.id);
    Resource::new("Tag", t.id, json!({ "name": t.name }), relationships, link)
}

pub fn tag_group(view: View, g: &TagGroup, with_tags: bool, included: &mut Included) -> Resource {
    let attributes = json!({
        "allow_multiple_selections": true,
        "name": g.name,
        "required": false,
        "service_type_folder_name": null,
        "tags_for": "person",
    });
    let mut relationships = Relationships::new();
    if with_tags {
        let refs: Vec<Ref> = view
            .account
            .tags
            .iter()
            .filter(|t| t.group_id == g.id)
            .map(|t| included.push(tag(view, t)))
            .collect();
        relationships = relationships.many("tags", refs, None);
    }
    let link = format!("{}/services/v2/tag_groups/{}", view.base, g.id);
    Resource::new("TagGroup", g.id, attributes, relationships, link)
}

pub fn email_template(view: View, t: &EmailTemplate) -> Resource {
    let attributes = json!({
        "created_at": format_time(t.created_at),
        "html_body": format!("<p>{}</p>", t.subject),
        "kind": t.kind,
        "subject": t.subject,
        "updated_at": format_time(t.created_at),
    });
    let link = format!("{}/services/v2/email_templates/{}", view.base, t.id);
    Resource::new(
        "EmailTemplate",
        t.id,
        attributes,
        Relationships::new(),
        link,
    )
}
