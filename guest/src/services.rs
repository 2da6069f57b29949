//! PCO Services: who has Services access, at what permission level, with which tags; and the
//! requests that grant access, set a level, archive, or assign tags.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::bindings::rockpco::sync::pco::{Method, Request};
use crate::pco_api::{API_VERSION_HEADER, PAGE_SIZE, fetch_pages, malformed, parse_document};
use crate::ports::Ports;
use crate::types::{Error, PermissionLevel};

/// The level string PCO Services uses.
pub fn level_name(level: PermissionLevel) -> &'static str {
    match level {
        PermissionLevel::ScheduledViewer => "Scheduled Viewer",
        PermissionLevel::Viewer => "Viewer",
        PermissionLevel::Scheduler => "Scheduler",
        PermissionLevel::Editor => "Editor",
        PermissionLevel::Administrator => "Administrator",
    }
}

pub fn parse_level(name: &str) -> Option<PermissionLevel> {
    [
        PermissionLevel::ScheduledViewer,
        PermissionLevel::Viewer,
        PermissionLevel::Scheduler,
        PermissionLevel::Editor,
        PermissionLevel::Administrator,
    ]
    .into_iter()
    .find(|level| level_name(*level).eq_ignore_ascii_case(name.trim()))
}

/// A person's Services record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicesPerson {
    /// None when archived (or a level this guest does not know).
    pub level: Option<PermissionLevel>,
    pub archived: bool,
    /// Organization administrators: never lowered or archived by the sync (R50).
    pub site_administrator: bool,
    /// Tag ids.
    pub tags: BTreeSet<String>,
}

/// The account's person tags: `tag group:tag` <-> tag id.
#[derive(Clone, Debug, Default)]
pub struct Tags {
    by_name: BTreeMap<String, String>,
    by_id: BTreeMap<String, String>,
}

impl Tags {
    pub fn id(&self, name: &str) -> Option<&str> {
        self.by_name.get(name).map(String::as_str)
    }

    pub fn name(&self, id: &str) -> Option<&str> {
        self.by_id.get(id).map(String::as_str)
    }
}

/// What the account offers that the sync needs: the Services app and the welcome template.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    pub services_app_id: Option<String>,
    /// Email template ids by subject.
    pub templates: BTreeMap<String, String>,
    pub tags: Tags,
}

fn get(path: &str, query: &[(&str, &str)]) -> Request {
    Request {
        method: Method::Get,
        path: path.to_string(),
        query: query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        headers: vec![(API_VERSION_HEADER.into(), SERVICES_API_VERSION.into())],
        body: None,
    }
}

fn write(method: Method, path: String, body: Value) -> Request {
    Request {
        method,
        path,
        query: vec![],
        headers: vec![(API_VERSION_HEADER.into(), SERVICES_API_VERSION.into())],
        body: Some(body.to_string().into_bytes()),
    }
}

/// The Services API version whose shapes this guest reads.
pub const SERVICES_API_VERSION: &str = "2018-11-01";

/// Every Services person of the account with their tags, by id.
pub fn fetch_people(
    ports: &dyn Ports,
    account: &str,
) -> Result<BTreeMap<String, ServicesPerson>, Error> {
    let first = |offset: u64| {
        get(
            "/services/v2/people",
            &[
                ("include", "tags"),
                ("per_page", &PAGE_SIZE.to_string()),
                ("offset", &offset.to_string()),
            ],
        )
    };
    let mut people = BTreeMap::new();
    for page in fetch_pages(ports, account, "reading PCO Services people", first)? {
        let document = parse_document(&page)?;
        for resource in data(&document)? {
            let (id, person) = parse_person(resource)?;
            people.insert(id, person);
        }
    }
    Ok(people)
}

/// One Services person with their tags, or None when PCO has no such person.
pub fn fetch_person(
    ports: &dyn Ports,
    account: &str,
    id: &str,
) -> Result<Option<ServicesPerson>, Error> {
    let request = get(&format!("/services/v2/people/{id}"), &[("include", "tags")]);
    match ports.pco_send(account, &request) {
        Ok(response) => {
            let document = parse_document(&response)?;
            let resource = document
                .get("data")
                .filter(|d| d.is_object())
                .ok_or_else(|| malformed("a Services person document has no `data` object"))?;
            Ok(Some(parse_person(resource)?.1))
        }
        Err(error) if error.kind == crate::types::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

fn data(document: &Value) -> Result<&Vec<Value>, Error> {
    document
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("a Services list has no `data` array"))
}

fn parse_person(resource: &Value) -> Result<(String, ServicesPerson), Error> {
    let id = resource
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("a Services person has no id"))?;
    let attributes = &resource["attributes"];
    let archived =
        attributes["archived"].as_bool().unwrap_or(false) || attributes["archived_at"].is_string();
    let level = if archived {
        None
    } else {
        attributes["permissions"].as_str().and_then(parse_level)
    };
    let tags = resource
        .pointer("/relationships/tags/data")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|t| t["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok((
        id.to_string(),
        ServicesPerson {
            level,
            archived,
            site_administrator: attributes["site_administrator"].as_bool().unwrap_or(false),
            tags,
        },
    ))
}

/// The Services app id, the email templates and the person tags of the account.
pub fn fetch_directory(ports: &dyn Ports, account: &str) -> Result<Directory, Error> {
    let requests = [
        get("/people/v2/apps", &[("per_page", "100")]),
        get("/services/v2/email_templates", &[("per_page", "100")]),
        get(
            "/services/v2/tag_groups",
            &[
                ("filter", "person"),
                ("include", "tags"),
                ("per_page", "100"),
            ],
        ),
    ];
    let mut answers = ports.pco_send_batch(account, &requests).into_iter();
    let mut next = || -> Result<Value, Error> {
        let response = answers
            .next()
            .ok_or_else(|| malformed("a directory answer is missing"))??;
        serde_json::from_slice(&response.body).map_err(|e| malformed(&format!("not JSON ({e})")))
    };
    let apps = next()?;
    let templates = next()?;
    let tag_groups = next()?;
    Ok(Directory {
        services_app_id: data(&apps)?
            .iter()
            .find(|app| app["attributes"]["name"].as_str() == Some("Services"))
            .and_then(|app| app["id"].as_str().map(str::to_string)),
        templates: data(&templates)?
            .iter()
            .filter_map(|t| {
                Some((
                    t["attributes"]["subject"].as_str()?.to_string(),
                    t["id"].as_str()?.to_string(),
                ))
            })
            .collect(),
        tags: parse_tags(&tag_groups)?,
    })
}

fn parse_tags(document: &Value) -> Result<Tags, Error> {
    let groups: BTreeMap<&str, &str> = data(document)?
        .iter()
        .filter_map(|g| Some((g["id"].as_str()?, g["attributes"]["name"].as_str()?)))
        .collect();
    let mut tags = Tags::default();
    let included = document["included"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for tag in included.iter().filter(|r| r["type"] == "Tag") {
        let (Some(id), Some(name)) = (tag["id"].as_str(), tag["attributes"]["name"].as_str())
        else {
            continue;
        };
        let Some(group) = tag
            .pointer("/relationships/tag_group/data/id")
            .and_then(Value::as_str)
            .and_then(|g| groups.get(g))
        else {
            continue;
        };
        let full = format!("{group}:{name}");
        tags.by_name.insert(full.clone(), id.to_string());
        tags.by_id.insert(id.to_string(), full);
    }
    Ok(tags)
}

/// Gives a People person the Services app; with a template, PCO sends its welcome email.
pub fn grant(person: &str, app_id: &str, template_id: Option<&str>) -> Request {
    let mut attributes = json!({ "app_id": app_id.parse::<u64>().map(Value::from).unwrap_or_else(|_| json!(app_id)) });
    if let Some(template) = template_id {
        attributes["email_template_id"] = template
            .parse::<u64>()
            .map(Value::from)
            .unwrap_or_else(|_| json!(template));
    }
    write(
        Method::Post,
        format!("/people/v2/people/{person}/person_apps"),
        json!({ "data": { "type": "PersonApp", "attributes": attributes } }),
    )
}

/// Sets a Services permission level, or archives with `None` (R18).
pub fn set_level(person: &str, level: Option<PermissionLevel>) -> Request {
    let permissions = level.map_or("Archived", level_name);
    write(
        Method::Patch,
        format!("/services/v2/people/{person}"),
        json!({ "data": { "type": "Person", "id": person, "attributes": { "permissions": permissions } } }),
    )
}

/// Replaces the person's whole tag set (PCO's assign_tags takes the full list).
pub fn assign_tags<'a>(person: &str, tag_ids: impl IntoIterator<Item = &'a str>) -> Request {
    let tags: Vec<Value> = tag_ids
        .into_iter()
        .map(|id| json!({ "type": "Tag", "id": id }))
        .collect();
    write(
        Method::Post,
        format!("/services/v2/people/{person}/assign_tags"),
        json!({ "data": { "type": "TagAssignment", "attributes": {}, "relationships": { "tags": { "data": tags } } } }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // R15
    #[test]
    fn level_names_round_trip() {
        for level in [
            PermissionLevel::ScheduledViewer,
            PermissionLevel::Viewer,
            PermissionLevel::Scheduler,
            PermissionLevel::Editor,
            PermissionLevel::Administrator,
        ] {
            assert_eq!(parse_level(level_name(level)), Some(level));
        }
        assert_eq!(parse_level("Archived"), None);
    }

    // R50, R51
    #[test]
    fn reads_archived_people_and_administrators() {
        let resource = json!({"type": "Person", "id": "9", "attributes": {
            "permissions": "Editor", "archived": true, "archived_at": "2026-01-01T00:00:00Z",
            "site_administrator": true},
            "relationships": {"tags": {"data": [{"type": "Tag", "id": "4"}]}}});
        let (id, person) = parse_person(&resource).unwrap();
        assert_eq!(id, "9");
        assert!(person.archived && person.site_administrator);
        assert_eq!(person.level, None);
        assert_eq!(person.tags, BTreeSet::from(["4".to_string()]));
    }

    #[test]
    fn reads_tags_with_their_groups() {
        let document = json!({
            "data": [{"type": "TagGroup", "id": "1", "attributes": {"name": "Teams"}}],
            "included": [{"type": "Tag", "id": "7", "attributes": {"name": "Kids"},
                          "relationships": {"tag_group": {"data": {"type": "TagGroup", "id": "1"}}}}]});
        let tags = parse_tags(&document).unwrap();
        assert_eq!(tags.id("Teams:Kids"), Some("7"));
        assert_eq!(tags.name("7"), Some("Teams:Kids"));
    }

    #[test]
    fn builds_the_services_writes() {
        let archive = set_level("5", None);
        assert_eq!(archive.method, Method::Patch);
        assert!(String::from_utf8_lossy(archive.body.as_ref().unwrap()).contains("\"Archived\""));
        let grant = grant("5", "2", Some("80001"));
        let body: Value = serde_json::from_slice(grant.body.as_ref().unwrap()).unwrap();
        assert_eq!(body["data"]["attributes"]["email_template_id"], 80001);
        assert_eq!(grant.path, "/people/v2/people/5/person_apps");
        let assign = assign_tags("5", ["1", "2"]);
        let body: Value = serde_json::from_slice(assign.body.as_ref().unwrap()).unwrap();
        assert_eq!(body["data"]["relationships"]["tags"]["data"][1]["id"], "2");
    }
}
