//! A sketch of the fix this bench recommends for the guest's People-page parsing: typed serde
//! structs borrowing from the page instead of a `serde_json::Value` tree, and `included`
//! indexed once per page instead of searched (with a `String` made per comparison) for every
//! relationship of every person. It builds the guest's own `PcoPersonFull`, so its output can
//! be compared with `pco_people::parse_people_document` on the same pages.

use std::borrow::Cow;
use std::collections::HashMap;

use pcosync_guest::pco_people::{PcoAddress, PcoEmail, PcoPersonFull, PcoPhone};
use serde::Deserialize;

#[derive(Deserialize)]
struct Doc<'a> {
    #[serde(borrow)]
    data: Vec<Resource<'a>>,
    #[serde(default, borrow)]
    included: Vec<Resource<'a>>,
}

#[derive(Deserialize)]
struct Resource<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(default, borrow)]
    attributes: Attributes<'a>,
    #[serde(default, borrow)]
    relationships: Relationships<'a>,
}

/// Every attribute read from a person or one of their contacts (absent ones are ignored).
#[derive(Default, Deserialize)]
struct Attributes<'a> {
    #[serde(borrow)]
    remote_id: Option<RemoteId<'a>>,
    #[serde(borrow)]
    first_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    given_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    nickname: Option<Cow<'a, str>>,
    #[serde(borrow)]
    middle_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    last_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    gender: Option<Cow<'a, str>>,
    #[serde(borrow)]
    birthdate: Option<Cow<'a, str>>,
    #[serde(borrow)]
    anniversary: Option<Cow<'a, str>>,
    site_administrator: Option<bool>,
    accounting_administrator: Option<bool>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    updated_at: Option<Cow<'a, str>>,
    #[serde(borrow)]
    address: Option<Cow<'a, str>>,
    #[serde(borrow)]
    number: Option<Cow<'a, str>>,
    #[serde(borrow)]
    location: Option<Cow<'a, str>>,
    primary: Option<bool>,
    #[serde(borrow)]
    street_line_1: Option<Cow<'a, str>>,
    #[serde(borrow)]
    street_line_2: Option<Cow<'a, str>>,
    #[serde(borrow)]
    city: Option<Cow<'a, str>>,
    #[serde(borrow)]
    state: Option<Cow<'a, str>>,
    #[serde(borrow)]
    zip: Option<Cow<'a, str>>,
    #[serde(borrow)]
    country_code: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RemoteId<'a> {
    Number(i64),
    Text(#[serde(borrow)] Cow<'a, str>),
}

#[derive(Default, Deserialize)]
struct Relationships<'a> {
    #[serde(default, borrow)]
    emails: Related<'a>,
    #[serde(default, borrow)]
    phone_numbers: Related<'a>,
    #[serde(default, borrow)]
    addresses: Related<'a>,
}

#[derive(Default, Deserialize)]
struct Related<'a> {
    #[serde(default, borrow)]
    data: Vec<Reference<'a>>,
}

#[derive(Deserialize)]
struct Reference<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
}

fn text(value: &Option<Cow<'_, str>>) -> String {
    value.as_deref().unwrap_or_default().to_string()
}

/// The people of one page, as the guest's parse gives them (for PCO's usual shape: string ids,
/// relationships listed on the person).
pub fn parse(page: &[u8]) -> Result<Vec<PcoPersonFull>, serde_json::Error> {
    let doc: Doc = serde_json::from_slice(page)?;
    let included: HashMap<(&str, &str), &Attributes> = doc
        .included
        .iter()
        .map(|r| ((r.kind.as_ref(), r.id.trim()), &r.attributes))
        .collect();
    let related = |kind: &'static str, refs: &Related| -> Vec<(String, &Attributes)> {
        refs.data
            .iter()
            .filter_map(|r| {
                let id = r.id.trim();
                Some((id.to_string(), *included.get(&(kind, id))?))
            })
            .collect()
    };
    Ok(doc
        .data
        .iter()
        .map(|person| {
            let a = &person.attributes;
            let rels = &person.relationships;
            PcoPersonFull {
                id: person.id.trim().to_string(),
                remote_id: match &a.remote_id {
                    Some(RemoteId::Number(n)) => Some(*n),
                    Some(RemoteId::Text(s)) => s.trim().parse().ok(),
                    None => None,
                },
                first_name: text(&a.first_name),
                given_name: text(&a.given_name),
                nickname: text(&a.nickname),
                middle_name: text(&a.middle_name),
                last_name: text(&a.last_name),
                gender: a.gender.as_deref().map(str::to_string),
                birthdate: a.birthdate.as_deref().map(str::to_string),
                anniversary: a.anniversary.as_deref().map(str::to_string),
                site_administrator: a.site_administrator.unwrap_or(false),
                accounting_administrator: a.accounting_administrator.unwrap_or(false),
                status: text(&a.status),
                updated_at: text(&a.updated_at),
                emails: related("Email", &rels.emails)
                    .into_iter()
                    .map(|(id, e)| PcoEmail {
                        id,
                        address: text(&e.address),
                        location: text(&e.location),
                        primary: e.primary.unwrap_or(false),
                    })
                    .collect(),
                phones: related("PhoneNumber", &rels.phone_numbers)
                    .into_iter()
                    .map(|(id, p)| PcoPhone {
                        id,
                        number: text(&p.number),
                        location: text(&p.location),
                        primary: p.primary.unwrap_or(false),
                    })
                    .collect(),
                addresses: related("Address", &rels.addresses)
                    .into_iter()
                    .map(|(id, p)| PcoAddress {
                        id,
                        street_line_1: text(&p.street_line_1),
                        street_line_2: text(&p.street_line_2),
                        city: text(&p.city),
                        state: text(&p.state),
                        zip: text(&p.zip),
                        country_code: text(&p.country_code),
                        location: text(&p.location),
                        primary: p.primary.unwrap_or(false),
                    })
                    .collect(),
            }
        })
        .collect())
}
