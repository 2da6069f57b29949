//! Resources as PCO renders them (research §2.1, §6, §7). Attribute sets follow the People
//! 2025-11-10 and Services 2018-11-01 docs; attributes the sandbox does not model are present
//! with PCO's empty values so clients see the full shape.

use serde_json::{Map, Value, json};

use crate::clock::format_time;
use crate::jsonapi::{Included, reference, resource};
use crate::model::{
    APPS, Account, Email, EmailTemplate, Person, PersonApp, Phone, PostalAddress, Tag, TagGroup,
    format_date,
};
use crate::state::Version;

pub const NO_PHOTO: &str =
    "https://people.planningcenteronline.com/static/no_photo_thumbnail_gray.png";

/// What a renderer needs besides the record.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub base: &'a str,
    pub version: Version,
    pub account: &'a Account,
}

fn date(d: Option<time::Date>) -> Value {
    d.map_or(Value::Null, |d| json!(format_date(d)))
}

fn time_or_null(t: Option<i64>) -> Value {
    t.map_or(Value::Null, |t| json!(format_time(t)))
}

fn gender(p: &Person, v: Version) -> Value {
    match (p.gender.as_deref(), v.gender_words) {
        (Some("M"), true) => json!("Male"),
        (Some("F"), true) => json!("Female"),
        (Some(g), _) => json!(g),
        (None, _) => Value::Null,
    }
}

/// People's Person, with relationships for whatever `include` asks for.
pub fn person(view: View, p: &Person, include: &[String], included: &mut Included) -> Value {
    let avatar = p.avatar.as_ref().map_or(NO_PHOTO, |a| a.url.as_str());
    let attributes = json!({
        "accounting_administrator": false,
        "anniversary": date(p.anniversary),
        "avatar": avatar,
        "birthdate": date(p.birthdate),
        "child": p.child,
        "created_at": format_time(p.created_at),
        "demographic_avatar_url": NO_PHOTO,
        "first_name": p.first_name,
        "gender": gender(p, view.version),
        "given_name": p.given_name,
        "grade": null,
        "graduation_year": null,
        "inactivated_at": time_or_null(p.inactivated_at),
        "last_name": p.last_name,
        "medical_notes": null,
        "membership": p.membership,
        "middle_name": p.middle_name,
        "name": p.name(),
        "nickname": p.nickname,
        "passed_background_check": false,
        "people_permissions": null,
        "remote_id": p.remote_id,
        "school_type": null,
        "site_administrator": p.site_administrator,
        "status": p.status(),
        "updated_at": format_time(p.updated_at),
    });
    let mut relationships = Map::new();
    relationships.insert("primary_campus".into(), json!({ "data": null }));
    let person_url = format!("{}/people/v2/people/{}", view.base, p.id);
    for name in include {
        let refs: Vec<Value> = match name.as_str() {
            "emails" => p
                .emails
                .iter()
                .map(|e| push(included, email(view, e, p.id)))
                .collect(),
            "phone_numbers" => p
                .phones
                .iter()
                .map(|ph| push(included, phone(view, ph, p.id)))
                .collect(),
            "addresses" => p
                .addresses
                .iter()
                .map(|a| push(included, address(view, a, p.id)))
                .collect(),
            "person_apps" => p
                .apps
                .iter()
                .map(|a| push(included, person_app(view, a, p.id)))
                .collect(),
            "organization" => {
                let org = push(included, organization(view));
                relationships.insert(name.clone(), json!({ "data": org }));
                continue;
            }
            _ => continue,
        };
        relationships.insert(
            name.clone(),
            json!({ "links": { "related": format!("{person_url}/{name}") }, "data": refs }),
        );
    }
    resource(
        "Person",
        p.id,
        attributes,
        Value::Object(relationships),
        person_url,
    )
}

/// Adds a resource to `included` and returns its reference.
fn push(included: &mut Included, resource: Value) -> Value {
    let r = json!({ "type": resource["type"], "id": resource["id"] });
    included.push(resource);
    r
}

fn person_rel(person_id: u64) -> Value {
    json!({ "person": { "data": reference("Person", person_id) } })
}

pub fn email(view: View, e: &Email, person_id: u64) -> Value {
    let attributes = json!({
        "address": e.address,
        "blocked": false,
        "created_at": format_time(e.created_at),
        "location": e.location,
        "primary": e.primary,
        "updated_at": format_time(e.updated_at),
    });
    resource(
        "Email",
        e.id,
        attributes,
        person_rel(person_id),
        format!("{}/people/v2/emails/{}", view.base, e.id),
    )
}

pub fn phone(view: View, ph: &Phone, person_id: u64) -> Value {
    let digits = ph.digits();
    let us = digits.len() == 10;
    let attributes = json!({
        "carrier": ph.carrier,
        "country_code": if us { Value::from("US") } else { Value::Null },
        "created_at": format_time(ph.created_at),
        "e164": if us { Value::from(format!("+1{digits}")) } else { Value::Null },
        "international": if us { Value::from(format!("+1 {}-{}-{}", &digits[..3], &digits[3..6], &digits[6..])) } else { Value::Null },
        "location": ph.location,
        "national": if us { Value::from(ph.number.clone()) } else { Value::Null },
        "number": ph.number,
        "primary": ph.primary,
        "updated_at": format_time(ph.updated_at),
    });
    resource(
        "PhoneNumber",
        ph.id,
        attributes,
        person_rel(person_id),
        format!("{}/people/v2/phone_numbers/{}", view.base, ph.id),
    )
}

pub fn address(view: View, a: &PostalAddress, person_id: u64) -> Value {
    let mut attributes = json!({
        "city": a.city,
        "country_code": a.country_code,
        "country_name": if a.country_code == "US" { Value::from("United States") } else { Value::Null },
        "created_at": format_time(a.created_at),
        "location": a.location,
        "primary": a.primary,
        "state": a.state,
        "updated_at": format_time(a.updated_at),
        "zip": a.zip,
    });
    if view.version.street_lines {
        attributes["street_line_1"] = json!(a.street_line_1);
        attributes["street_line_2"] = json!(a.street_line_2);
    } else {
        let street = [a.street_line_1.as_str(), a.street_line_2.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        attributes["street"] = json!(street);
    }
    resource(
        "Address",
        a.id,
        attributes,
        person_rel(person_id),
        format!("{}/people/v2/addresses/{}", view.base, a.id),
    )
}

pub fn person_app(view: View, a: &PersonApp, person_id: u64) -> Value {
    let attributes = json!({ "allow_pco_login": true, "people_permissions": null });
    let mut relationships = person_rel(person_id);
    relationships["app"] = json!({ "data": reference("App", a.app_id) });
    resource(
        "PersonApp",
        a.id,
        attributes,
        relationships,
        format!(
            "{}/people/v2/people/{person_id}/person_apps/{}",
            view.base, a.id
        ),
    )
}

pub fn app(view: View, id: u64) -> Value {
    let name = APPS.iter().find(|(i, _)| *i == id).map_or("", |(_, n)| n);
    let attributes = json!({ "name": name, "url": format!("https://{}.planningcenteronline.com", name.to_lowercase()), "image": null });
    resource(
        "App",
        id,
        attributes,
        json!({}),
        format!("{}/people/v2/apps/{id}", view.base),
    )
}

pub fn organization(view: View) -> Value {
    let attributes = json!({
        "name": view.account.name,
        "country_code": "US",
        "date_format": "%m/%d/%Y",
        "time_zone": "America/Chicago",
    });
    resource(
        "Organization",
        view.account.org_id,
        attributes,
        json!({}),
        format!("{}/people/v2", view.base),
    )
}

/// Services' Person (same id as in People). `None` when the person has no Services record.
pub fn services_person(
    view: View,
    p: &Person,
    include: &[String],
    included: &mut Included,
) -> Option<Value> {
    let s = p.services.as_ref()?;
    let photo = p.avatar.as_ref().map_or(NO_PHOTO, |a| a.url.as_str());
    let attributes = json!({
        "anniversary": date(p.anniversary),
        "archived": s.archived_at.is_some(),
        "archived_at": time_or_null(s.archived_at),
        "assigned_to_rehearsal_team": false,
        // Services renders birthdate as a date_time (research §7.1).
        "birthdate": p.birthdate.map_or(Value::Null, |d| json!(format!("{}T00:00:00Z", format_date(d)))),
        "created_at": format_time(s.created_at),
        "first_name": p.first_name,
        "full_name": p.name(),
        "given_name": p.given_name,
        "last_name": p.last_name,
        "legacy_id": null,
        "max_permissions": s.permissions(),
        "media_permissions": "Viewer",
        "middle_name": p.middle_name,
        "name_prefix": null,
        "name_suffix": null,
        "nickname": p.nickname,
        "notes": null,
        "passed_background_check": false,
        "permissions": s.permissions(),
        "photo_thumbnail_url": photo,
        "photo_url": photo,
        "site_administrator": p.site_administrator,
        "song_permissions": "Viewer",
        "status": p.status(),
        "updated_at": format_time(s.updated_at),
    });
    let mut relationships = Map::new();
    let url = format!("{}/services/v2/people/{}", view.base, p.id);
    for name in include {
        let refs: Vec<Value> = match name.as_str() {
            "tags" => s
                .tags
                .iter()
                .filter_map(|id| view.account.tag(*id))
                .map(|t| push(included, tag(view, t)))
                .collect(),
            "emails" => p
                .emails
                .iter()
                .map(|e| push(included, services_email(view, e, p.id)))
                .collect(),
            _ => continue,
        };
        relationships.insert(
            name.clone(),
            json!({ "links": { "related": format!("{url}/{name}") }, "data": refs }),
        );
    }
    Some(resource(
        "Person",
        p.id,
        attributes,
        Value::Object(relationships),
        url,
    ))
}

/// Services has its own Email resource (read-only mirror of People's).
fn services_email(view: View, e: &Email, person_id: u64) -> Value {
    let attributes = json!({ "address": e.address, "primary": e.primary });
    resource(
        "Email",
        e.id,
        attributes,
        person_rel(person_id),
        format!(
            "{}/services/v2/people/{person_id}/emails/{}",
            view.base, e.id
        ),
    )
}

pub fn tag(view: View, t: &Tag) -> Value {
    let relationships = json!({ "tag_group": { "data": reference("TagGroup", t.group_id) } });
    resource(
        "Tag",
        t.id,
        json!({ "name": t.name }),
        relationships,
        format!("{}/services/v2/tags/{}", view.base, t.id),
    )
}

pub fn tag_group(view: View, g: &TagGroup, with_tags: bool, included: &mut Included) -> Value {
    let attributes = json!({
        "allow_multiple_selections": true,
        "name": g.name,
        "required": false,
        "service_type_folder_name": null,
        "tags_for": "person",
    });
    let mut relationships = json!({});
    if with_tags {
        let refs: Vec<Value> = view
            .account
            .tags
            .iter()
            .filter(|t| t.group_id == g.id)
            .map(|t| push(included, tag(view, t)))
            .collect();
        relationships["tags"] = json!({ "data": refs });
    }
    resource(
        "TagGroup",
        g.id,
        attributes,
        relationships,
        format!("{}/services/v2/tag_groups/{}", view.base, g.id),
    )
}

pub fn email_template(view: View, t: &EmailTemplate) -> Value {
    let attributes = json!({
        "created_at": format_time(t.created_at),
        "html_body": format!("<p>{}</p>", t.subject),
        "kind": t.kind,
        "subject": t.subject,
        "updated_at": format_time(t.created_at),
    });
    resource(
        "EmailTemplate",
        t.id,
        attributes,
        json!({}),
        format!("{}/services/v2/email_templates/{}", view.base, t.id),
    )
}
