//! PCO Services: who has Services access, at what permission level, with which tags; and the
//! requests that grant access, set a level, archive, or assign tags.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::bindings::rockpco::sync::pco::{Method, Request};
use crate::pco_api::{
    API_VERSION_HEADER, PAGE_SIZE, PEOPLE_API_VERSION, fetch_pages, malformed, parse_document,
};
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
    /// A `permissions` value this guest does not know (PCO added a level, or renamed one):
    /// read without failing the run, and never changed, since where it ranks is unknown.
    pub unknown_level: Option<String>,
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

/// What the account offers that the sync needs: the Services app and the person tags. The
/// welcome email templates are not read by a run (PCO's API cannot send them, and a grant
/// carries none): they are read when the account is checked, added or edited (`choices`;
/// issue 23).
#[derive(Clone, Debug, Default)]
pub struct Directory {
    pub services_app_id: Option<String>,
    pub tags: Tags,
}

/// What the sync reads of a Services person (`fields[Person]`, which Services honours:
/// planningcenter/developers#256), asked for on every read and write of one, so nothing else
/// (background checks, notes) crosses into the host or guest (R53; issue 23). `tags` is named
/// because a fieldset drops the relationships it does not name (#925).
pub const SERVICES_PERSON_FIELDS: &str = "permissions,archived,archived_at,site_administrator,tags";

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
    // Services people can be ordered by created_at (research/pco-api.md §3), so a large
    // account is read from both ends (issue 14.10).
    let page_at = |offset: u64, order: Option<&str>| {
        let (per_page, offset) = (PAGE_SIZE.to_string(), offset.to_string());
        let mut query = vec![
            ("include", "tags"),
            ("fields[Person]", SERVICES_PERSON_FIELDS),
            ("per_page", per_page.as_str()),
            ("offset", offset.as_str()),
        ];
        query.extend(order.map(|order| ("order", order)));
        get("/services/v2/people", &query)
    };
    let mut people = BTreeMap::new();
    let pages = crate::pco_api::fetch_pages_from_both_ends(
        ports,
        account,
        "reading PCO Services people",
        page_at,
    )?;
    for page in pages {
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
    let request = get(
        &format!("/services/v2/people/{id}"),
        &[
            ("include", "tags"),
            ("fields[Person]", SERVICES_PERSON_FIELDS),
        ],
    );
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
    // Services' enums are read tolerantly (issue 14.12): an unknown level is kept as text.
    let permissions = attributes["permissions"]
        .as_str()
        .map(str::trim)
        .filter(|p| !p.is_empty() && !archived);
    let level = permissions.and_then(parse_level);
    let unknown_level = permissions
        .filter(|p| level.is_none() && !p.eq_ignore_ascii_case("archived"))
        .map(str::to_string);
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
            unknown_level,
            tags,
        },
    ))
}

/// The Services app id and the person tags of the account, each list read to its end (PCO
/// gives at most 100 a page: an account with more tag groups would otherwise lose those past
/// the first page, issue 15.11).
pub fn fetch_directory(ports: &dyn Ports, account: &str) -> Result<Directory, Error> {
    let list = |path: &'static str, extra: &'static [(&'static str, &'static str)]| {
        move |offset: u64| {
            let mut query = extra.to_vec();
            let per_page = PAGE_SIZE.to_string();
            let offset = offset.to_string();
            query.push(("per_page", &per_page));
            query.push(("offset", &offset));
            let mut request = get(path, &query);
            if path.starts_with("/people/") {
                // `apps` is a People endpoint: it takes People's version (issue 14.12).
                request.headers = vec![(API_VERSION_HEADER.into(), PEOPLE_API_VERSION.into())];
            }
            request
        }
    };
    let apps = fetch_pages(
        ports,
        account,
        "reading PCO apps",
        list("/people/v2/apps", &[]),
    )?;
    let tag_groups = fetch_pages(
        ports,
        account,
        "reading PCO tag groups",
        list(
            "/services/v2/tag_groups",
            &[("filter", "person"), ("include", "tags")],
        ),
    )?;
    let mut directory = Directory {
        services_app_id: Some(services_app(&documents(&apps)?)?),
        ..Directory::default()
    };
    for document in documents(&tag_groups)? {
        let tags = parse_tags(&document)?;
        directory.tags.by_name.extend(tags.by_name);
        directory.tags.by_id.extend(tags.by_id);
    }
    Ok(directory)
}

fn documents(pages: &[crate::bindings::rockpco::sync::pco::Response]) -> Result<Vec<Value>, Error> {
    pages.iter().map(parse_document).collect()
}

/// The Services app, by name or URL, either in any case (issue 14.8). None found is an error:
/// without it no one can be given Services access, and a run that went on would skip every
/// grant while its records claim a level.
fn services_app(apps: &[Value]) -> Result<String, Error> {
    let mut seen = Vec::new();
    for document in apps {
        for app in data(document)? {
            let name = app["attributes"]["name"].as_str().unwrap_or_default();
            let url = app["attributes"]["url"].as_str().unwrap_or_default();
            let host = url
                .split("://")
                .nth(1)
                .unwrap_or(url)
                .split(['/', '.'])
                .next()
                .unwrap_or_default();
            let services = name.trim().eq_ignore_ascii_case("Services")
                || host.eq_ignore_ascii_case("services");
            if services && let Some(id) = crate::pco_api::resource_id(app) {
                return Ok(id);
            }
            seen.push(name.to_string());
        }
    }
    Err(Error {
        kind: crate::types::ErrorKind::Invalid,
        message: format!(
            "Planning Center lists no Services app for this account (apps: {}): the organization \
             must subscribe to Services, and the token's user must see it in People's apps",
            if seen.is_empty() {
                "none".to_string()
            } else {
                seen.join(", ")
            }
        ),
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

/// Gives a People person the Services app. `app_id` is PersonApp's only assignable attribute
/// (developer.planning.center/docs/#/apps/people/2022-07-14/vertices/person_app): PCO refuses
/// anything else, `email_template_id` included, with 422, and its API cannot send the Services
/// welcome email (planningcenter/developers#89), so the report lists who still needs it.
pub fn grant(person: &str, app_id: &str) -> Request {
    let app = app_id
        .parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| json!(app_id));
    let mut request = write(
        Method::Post,
        format!("/people/v2/people/{person}/person_apps"),
        json!({ "data": { "type": "PersonApp", "attributes": { "app_id": app } } }),
    );
    // person_apps is a People endpoint: People's version (issue 14.12).
    request.headers = vec![(API_VERSION_HEADER.into(), PEOPLE_API_VERSION.into())];
    request
}

/// How a report names a person who still needs the Services welcome email; the host lists the
/// people whose outcome carries a note starting with it.
pub const WELCOME_NEEDED: &str = "welcome email to send from PCO Services";

/// The report's note for a person created this run: the welcome, by template, is the
/// administrator's to send (PCO's API cannot).
pub fn welcome_note(template: &str) -> String {
    format!("{WELCOME_NEEDED}: \"{template}\" (Planning Center's API cannot send it)")
}

/// Services access at `level`: the grant, then the level, always. A new profile starts at the
/// organization's default, which an administrator may have set above Scheduled Viewer, so even
/// Scheduled Viewer is set (issue 14.2; the maintainers' two steps, planningcenter/developers#249).
pub fn grant_requests(person: &str, app_id: &str, level: PermissionLevel) -> Vec<Request> {
    vec![grant(person, app_id), set_level(person, Some(level))]
}

/// What a planned grant becomes for someone who already has a Services profile: an archived one
/// is given the level (un-archived, issue 14.6), a lower one raised; a higher level and an
/// organization administrator are left alone (a grant never lowers: R17, R50).
pub fn raise_existing(
    person: &str,
    current: &ServicesPerson,
    level: PermissionLevel,
) -> Vec<Request> {
    let below = current
        .level
        .is_none_or(|l| crate::permissions::rank(l) < crate::permissions::rank(level));
    let unknown = current.unknown_level.is_some();
    if current.site_administrator || unknown || !(current.archived || below) {
        return Vec::new();
    }
    vec![set_level(person, Some(level))]
}

/// Sets a Services permission level, or archives with `None` (R18).
pub fn set_level(person: &str, level: Option<PermissionLevel>) -> Request {
    let permissions = level.map_or("Archived", level_name);
    let mut request = write(
        Method::Patch,
        format!("/services/v2/people/{person}"),
        json!({ "data": { "type": "Person", "id": person, "attributes": { "permissions": permissions } } }),
    );
    request.query.push((
        "fields[Person]".to_string(),
        SERVICES_PERSON_FIELDS.to_string(),
    ));
    request
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

    // Issue 14.12: a level PCO adds later is read without failing the run, kept as text, and
    // never changed: neither a grant nor a raise touches it (R17).
    #[test]
    fn an_unknown_services_level_is_read_and_left_alone() {
        let resource = json!({"type": "Person", "id": "9", "attributes": {
            "permissions": "Limited Scheduler", "archived": false, "site_administrator": false}});
        let (_, person) = parse_person(&resource).unwrap();
        assert_eq!(person.level, None);
        assert!(!person.archived);
        assert_eq!(person.unknown_level.as_deref(), Some("Limited Scheduler"));
        assert!(raise_existing("9", &person, PermissionLevel::Administrator).is_empty());
        let known = json!({"type": "Person", "id": "9", "attributes": {"permissions": "viewer"}});
        let (_, known) = parse_person(&known).unwrap();
        assert_eq!(known.level, Some(PermissionLevel::Viewer));
        assert_eq!(known.unknown_level, None);
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

    // Issue 14.8: the Services app by name or URL in any case; none is an error naming the fix.
    #[test]
    fn finds_the_services_app_by_name_or_url_or_says_it_is_missing() {
        let apps = |list: Value| vec![json!({ "data": list })];
        let found = services_app(&apps(json!([
            {"type": "App", "id": "1", "attributes": {"name": "Calendar", "url": "https://calendar.planningcenteronline.com"}},
            {"type": "App", "id": "2", "attributes": {"name": "SERVICES ", "url": "x"}}])));
        assert_eq!(found.unwrap(), "2");
        let by_url = services_app(&apps(json!([
            {"type": "App", "id": 7, "attributes": {"name": "Planning Center Services", "url": "https://Services.planningcenteronline.com"}}])));
        assert_eq!(by_url.unwrap(), "7");
        let error = services_app(&apps(json!([
            {"type": "App", "id": "1", "attributes": {"name": "Calendar", "url": "https://calendar.planningcenteronline.com"}}])))
        .unwrap_err();
        assert!(
            error.message.contains("no Services app"),
            "{}",
            error.message
        );
        assert!(error.message.contains("Calendar"), "{}", error.message);
    }

    // R17, R50, issue 14.6: a grant that finds a Services profile raises or un-archives it,
    // never lowers it, never touches an organization administrator.
    #[test]
    fn a_grant_for_someone_already_in_services_never_lowers() {
        let person = |level, archived, site_administrator| ServicesPerson {
            level,
            archived,
            site_administrator,
            unknown_level: None,
            tags: BTreeSet::new(),
        };
        let viewer = PermissionLevel::Viewer;
        let editor = PermissionLevel::Editor;
        assert_eq!(
            raise_existing("5", &person(Some(viewer), false, false), editor).len(),
            1
        );
        assert!(raise_existing("5", &person(Some(editor), false, false), viewer).is_empty());
        assert_eq!(
            raise_existing("5", &person(None, true, false), viewer).len(),
            1
        );
        assert!(raise_existing("5", &person(Some(viewer), false, true), editor).is_empty());
        let body: Value = serde_json::from_slice(
            raise_existing("5", &person(None, true, false), viewer)[0]
                .body
                .as_ref()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(body["data"]["attributes"]["permissions"], "Viewer");
    }

    // Issue 14.2: the level is set after every grant, Scheduled Viewer included.
    #[test]
    fn a_grant_always_sets_the_level() {
        let requests = grant_requests("5", "2", PermissionLevel::ScheduledViewer);
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[1].path, "/services/v2/people/5");
        assert!(
            String::from_utf8_lossy(requests[1].body.as_ref().unwrap())
                .contains("Scheduled Viewer")
        );
        assert_eq!(requests[0].headers[0].1, PEOPLE_API_VERSION);
    }

    #[test]
    fn builds_the_services_writes() {
        let archive = set_level("5", None);
        assert_eq!(archive.method, Method::Patch);
        assert!(String::from_utf8_lossy(archive.body.as_ref().unwrap()).contains("\"Archived\""));
        let grant = grant("5", "2");
        let body: Value = serde_json::from_slice(grant.body.as_ref().unwrap()).unwrap();
        assert_eq!(body["data"]["attributes"], json!({"app_id": 2}));
        assert_eq!(grant.path, "/people/v2/people/5/person_apps");
        let assign = assign_tags("5", ["1", "2"]);
        let body: Value = serde_json::from_slice(assign.body.as_ref().unwrap()).unwrap();
        assert_eq!(body["data"]["relationships"]["tags"]["data"][1]["id"], "2");
    }
}
