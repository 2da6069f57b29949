//! What an administrator chooses from when setting an account up (R31, R36): the account's
//! real welcome email templates and tags in PCO.
//!
//! Read-only and cheap: the first page of templates and of person tag groups (with their tags)
//! go in one batch; only an account with more than a hundred of either costs a second one.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::api::{Account, AccountChoices};
use crate::bindings::rockpco::sync::pco::{Method, Request, Response};
use crate::pco_api::{API_VERSION_HEADER, PAGE_SIZE, malformed};
use crate::ports::Ports;
use crate::services::SERVICES_API_VERSION;
use crate::types::Error;

const TEMPLATES: &str = "/services/v2/email_templates";
const TAG_GROUPS: &str = "/services/v2/tag_groups";

/// The kind PCO gives its own welcome email template; those are listed first.
const WELCOME_KIND: &str = "welcome";

pub fn choices(ports: &dyn Ports, account: &Account) -> Result<AccountChoices, Error> {
    let name = account.name.as_str();
    let mut answers = ports
        .pco_send_batch(name, &[templates_page(0), tag_groups_page(0)])
        .into_iter();
    let mut first = || {
        answers
            .next()
            .ok_or_else(|| malformed("an answer to the choices batch is missing"))?
    };
    let mut template_pages = vec![document(&first()?)?];
    let mut tag_pages = vec![document(&first()?)?];
    // Larger accounts: every further page of both lists in one more batch.
    let more_templates = later_offsets(&template_pages[0]);
    let more_tags = later_offsets(&tag_pages[0]);
    if !more_templates.is_empty() || !more_tags.is_empty() {
        let requests: Vec<Request> = more_templates
            .iter()
            .map(|o| templates_page(*o))
            .chain(more_tags.iter().map(|o| tag_groups_page(*o)))
            .collect();
        let mut answers = ports.pco_send_batch(name, &requests).into_iter();
        for _ in &more_templates {
            let page = answers
                .next()
                .ok_or_else(|| malformed("a template page is missing"))??;
            template_pages.push(document(&page)?);
        }
        for _ in &more_tags {
            let page = answers
                .next()
                .ok_or_else(|| malformed("a tag group page is missing"))??;
            tag_pages.push(document(&page)?);
        }
    }
    Ok(AccountChoices {
        welcome_templates: template_names(&template_pages)?,
        tags: tag_names(&tag_pages)?,
    })
}

fn request(path: &str, query: &[(&str, String)]) -> Request {
    Request {
        method: Method::Get,
        path: path.to_string(),
        query: query
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        headers: vec![(API_VERSION_HEADER.into(), SERVICES_API_VERSION.into())],
        body: None,
    }
}

fn templates_page(offset: u64) -> Request {
    request(
        TEMPLATES,
        &[
            ("per_page", PAGE_SIZE.to_string()),
            ("offset", offset.to_string()),
        ],
    )
}

fn tag_groups_page(offset: u64) -> Request {
    request(
        TAG_GROUPS,
        &[
            ("filter", "person".into()),
            ("include", "tags".into()),
            ("per_page", PAGE_SIZE.to_string()),
            ("offset", offset.to_string()),
        ],
    )
}

fn document(response: &Response) -> Result<Value, Error> {
    serde_json::from_slice(&response.body).map_err(|e| malformed(&format!("not JSON ({e})")))
}

/// Offsets of the pages after the first, from the first page's `meta.total_count`.
fn later_offsets(first: &Value) -> Vec<u64> {
    let total = first
        .pointer("/meta/total_count")
        .and_then(Value::as_u64)
        .unwrap_or_default();
    (1..)
        .map(|page| page * u64::from(PAGE_SIZE))
        .take_while(|offset| *offset < total)
        .collect()
}

fn data(document: &Value) -> Result<&Vec<Value>, Error> {
    document
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("a Services list has no `data` array"))
}

/// Template subjects: PCO's welcome templates first, then the others, each alphabetically; a
/// subject shared by two templates is listed once (the sync picks a template by its subject).
fn template_names(pages: &[Value]) -> Result<Vec<String>, Error> {
    let mut welcome = BTreeSet::new();
    let mut other = BTreeSet::new();
    for page in pages {
        for template in data(page)? {
            let attributes = &template["attributes"];
            let Some(subject) = attributes["subject"].as_str().map(str::trim) else {
                continue;
            };
            if subject.is_empty() {
                continue;
            }
            if attributes["kind"].as_str() == Some(WELCOME_KIND) {
                welcome.insert(subject.to_string());
            } else {
                other.insert(subject.to_string());
            }
        }
    }
    other.retain(|s| !welcome.contains(s));
    Ok(welcome.into_iter().chain(other).collect())
}

/// Every person tag, written `tag group:tag`, in order.
fn tag_names(pages: &[Value]) -> Result<Vec<String>, Error> {
    let mut groups: BTreeMap<&str, &str> = BTreeMap::new();
    for page in pages {
        for group in data(page)? {
            if let (Some(id), Some(name)) =
                (group["id"].as_str(), group["attributes"]["name"].as_str())
            {
                groups.insert(id, name);
            }
        }
    }
    let mut tags = BTreeSet::new();
    for page in pages {
        let included = page["included"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        for tag in included.iter().filter(|r| r["type"] == "Tag") {
            let Some(name) = tag["attributes"]["name"].as_str() else {
                continue;
            };
            let Some(group) = tag
                .pointer("/relationships/tag_group/data/id")
                .and_then(Value::as_str)
                .and_then(|g| groups.get(g))
            else {
                continue;
            };
            tags.insert(format!("{group}:{name}"));
        }
    }
    Ok(tags.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // R31
    #[test]
    fn lists_welcome_templates_first_then_the_others() {
        let page = json!({"data": [
            {"type": "EmailTemplate", "id": "3", "attributes": {"subject": "Schedule Reminder", "kind": "custom"}},
            {"type": "EmailTemplate", "id": "1", "attributes": {"subject": "Planning Center Welcome E-Mail", "kind": "welcome"}},
            {"type": "EmailTemplate", "id": "2", "attributes": {"subject": "Volunteer Onboarding", "kind": "custom"}},
            {"type": "EmailTemplate", "id": "4", "attributes": {"subject": "  ", "kind": "custom"}},
            {"type": "EmailTemplate", "id": "5", "attributes": {"subject": "Volunteer Onboarding", "kind": "custom"}}
        ], "meta": {"total_count": 5}});
        assert_eq!(
            template_names(&[page]).unwrap(),
            [
                "Planning Center Welcome E-Mail",
                "Schedule Reminder",
                "Volunteer Onboarding"
            ]
        );
    }

    // R36
    #[test]
    fn lists_tags_of_every_page_with_their_groups() {
        let first = json!({
            "data": [{"type": "TagGroup", "id": "1", "attributes": {"name": "Teams"}}],
            "included": [
                {"type": "Tag", "id": "7", "attributes": {"name": "Kids"},
                 "relationships": {"tag_group": {"data": {"type": "TagGroup", "id": "1"}}}},
                {"type": "Tag", "id": "8", "attributes": {"name": "Orphan"},
                 "relationships": {"tag_group": {"data": {"type": "TagGroup", "id": "99"}}}}],
            "meta": {"total_count": 150}});
        let second = json!({
            "data": [{"type": "TagGroup", "id": "2", "attributes": {"name": "Skills"}}],
            "included": [{"type": "Tag", "id": "9", "attributes": {"name": "Drums"},
                 "relationships": {"tag_group": {"data": {"type": "TagGroup", "id": "2"}}}}]});
        assert_eq!(later_offsets(&first), [100]);
        assert_eq!(
            tag_names(&[first, second]).unwrap(),
            ["Skills:Drums", "Teams:Kids"]
        );
    }

    #[test]
    fn a_page_without_data_is_malformed() {
        assert!(template_names(&[json!({"errors": []})]).is_err());
        assert!(later_offsets(&json!({})).is_empty());
    }
}
