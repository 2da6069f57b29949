//! Planning Center's JSON:API, read and written by the guest (the host only carries bytes).

use serde_json::Value;

use crate::bindings::rockpco::sync::pco::{Method, Request, Response};
use crate::ports::Ports;
use crate::types::{Error, ErrorKind, PermissionLevel};

/// PCO's largest page (research/pco-api.md §3).
pub const PAGE_SIZE: u32 = 100;

pub const API_VERSION_HEADER: &str = "X-PCO-API-Version";
/// The People API version whose shapes this guest reads: `gender` as "Male"/"Female" (since
/// 2022-07-14) and addresses with `street_line_1`/`street_line_2` (since 2023-03-21).
pub const PEOPLE_API_VERSION: &str = "2023-03-21";

/// A PCO People person, as much of it as matching needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcoPerson {
    pub id: String,
    /// PCO's first name: Rock's nick name by default.
    pub first_name: String,
    /// PCO's given name: Rock's first name.
    pub given_name: String,
    pub last_name: String,
    pub emails: Vec<String>,
    pub remote_id: Option<i64>,
}

/// Every page of a list: the first page tells the total, the rest go in one batch, so a list of
/// N resources costs ceil(N / 100) requests and two crossings of the boundary. `total_count` is
/// not proof of the end (a past API version capped it at 10,000, and people created during the
/// read shift the windows): while the last page is full and PCO links a next one, reading goes
/// on (issue 14.5).
pub fn fetch_pages(
    ports: &dyn Ports,
    account: &str,
    task: &str,
    page_at: impl Fn(u64) -> Request,
) -> Result<Vec<Response>, Error> {
    let first = ports.pco_send(account, &page_at(0))?;
    fetch_pages_after(ports, account, task, first, page_at)
}

/// [`fetch_pages`] once the first page is in.
fn fetch_pages_after(
    ports: &dyn Ports,
    account: &str,
    task: &str,
    first: Response,
    page_at: impl Fn(u64) -> Request,
) -> Result<Vec<Response>, Error> {
    let total = page_shape(&first)?.total.unwrap_or_default();
    let offsets: Vec<u64> = (1..)
        .map(|page| page * u64::from(PAGE_SIZE))
        .take_while(|offset| *offset < total)
        .collect();
    let mut pages = vec![first];
    if !offsets.is_empty() {
        let requests: Vec<Request> = offsets.iter().map(|o| page_at(*o)).collect();
        for response in ports.pco_send_batch(account, &requests) {
            pages.push(response?);
            let read = (pages.len() as u64 * u64::from(PAGE_SIZE)).min(total);
            ports.progress(task, read, Some(total));
        }
    }
    while let Some(last) = pages.last() {
        let shape = page_shape(last)?;
        if shape.count < PAGE_SIZE as usize || !shape.has_next {
            break;
        }
        let offset = pages.len() as u64 * u64::from(PAGE_SIZE);
        pages.push(ports.pco_send(account, &page_at(offset))?);
        ports.progress(task, offset, None);
    }
    Ok(pages)
}

/// Past this offset PCO answers list pages at a far stricter rate ("Requests that use a high
/// offset parameter (above 30,000) are subject to a stricter limit of 75 requests per 20
/// seconds", docs /overview/rate-limiting; 10 per 20 s observed, planningcenter/developers
/// #1449), so a large account is read without going there.
pub const HIGH_OFFSET: u64 = 30_000;

/// Every page of a list that PCO can order by `created_at` (People, Services people), read
/// without an offset past [`HIGH_OFFSET`] when it holds no more than twice that (issue 14.10):
/// the oldest people from the front (`order=created_at`), the rest from the back
/// (`order=-created_at`), a page of overlap between the two (people added or removed during
/// the read shift the windows; callers keep each person once, by id). A list too long for
/// that is read on past the high offset, slower. `page_at(offset, order)`; `None` is PCO's
/// default order.
pub fn fetch_pages_from_both_ends(
    ports: &dyn Ports,
    account: &str,
    task: &str,
    page_at: impl Fn(u64, Option<&str>) -> Request,
) -> Result<Vec<Response>, Error> {
    let first = ports.pco_send(account, &page_at(0, None))?;
    let total = page_shape(&first)?.total.unwrap_or_default();
    if total <= HIGH_OFFSET || total > 2 * HIGH_OFFSET {
        return fetch_pages_after(ports, account, task, first, |o| page_at(o, None));
    }
    let page = u64::from(PAGE_SIZE);
    let front: Vec<u64> = (0..HIGH_OFFSET / page).map(|n| n * page).collect();
    let back_count = total - HIGH_OFFSET + page;
    let back: Vec<u64> = (0..back_count.div_ceil(page)).map(|n| n * page).collect();
    let requests: Vec<Request> = front
        .iter()
        .map(|o| page_at(*o, Some("created_at")))
        .chain(back.iter().map(|o| page_at(*o, Some("-created_at"))))
        .collect();
    let mut pages = Vec::with_capacity(requests.len());
    for response in ports.pco_send_batch(account, &requests) {
        pages.push(response?);
        let read = (pages.len() as u64 * page).min(total);
        ports.progress(task, read, Some(total));
    }
    Ok(pages)
}

/// What paging needs from a list page: how many it holds, the total PCO claims, whether it
/// links a next page.
struct PageShape {
    count: usize,
    total: Option<u64>,
    has_next: bool,
}

fn page_shape(response: &Response) -> Result<PageShape, Error> {
    #[derive(serde::Deserialize)]
    struct Meta {
        total_count: Option<u64>,
    }
    #[derive(serde::Deserialize)]
    struct Links {
        next: Option<serde::de::IgnoredAny>,
    }
    #[derive(serde::Deserialize)]
    struct Head {
        data: Option<Vec<serde::de::IgnoredAny>>,
        meta: Option<Meta>,
        links: Option<Links>,
    }
    let head: Head = serde_json::from_slice(&response.body)
        .map_err(|e| malformed(&format!("a page is not JSON ({e})")))?;
    Ok(PageShape {
        count: head.data.map_or(0, |d| d.len()),
        total: head.meta.and_then(|m| m.total_count),
        has_next: head.links.is_some_and(|l| l.next.is_some()),
    })
}

/// A resource id: a string in PCO, but a number is read as one too.
pub fn resource_id(resource: &Value) -> Option<String> {
    match resource.get("id")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub fn parse_document(response: &Response) -> Result<Value, Error> {
    serde_json::from_slice(&response.body)
        .map_err(|e| malformed(&format!("a page is not JSON ({e})")))
}

/// What the user a token belongs to may do, from `GET /people/v2/me` and `/services/v2/me`
/// (a token can do what its user can: planningcenter/developers#113, #220).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenRoles {
    pub site_administrator: bool,
    /// An accounting administrator (Giving); it gives no People or Services rights, and is
    /// read so the check can name it (issue 23).
    pub accounting_administrator: bool,
    /// People's `people_permissions` ("Editor", "Manager", ...; None without access).
    pub people: Option<String>,
    /// Services' `permissions`; None without access to Services.
    pub services: Option<String>,
}

/// What a token user needs for a sync that changes Services permission levels, in the words
/// `config check`, the run and the README use (issue 23).
pub const LEVEL_ROLE: &str =
    "an organization administrator, or People Editor (or Manager) and Services Administrator";

impl TokenRoles {
    /// Why a sync must not write at all with this token, naming the role its user needs;
    /// None when the user can sync people (fields, creates, tags). Changing Services levels
    /// needs more: [`TokenRoles::level_refusal`].
    pub fn refusal(&self) -> Option<String> {
        if self.site_administrator {
            return None;
        }
        let people = self.people.as_deref().unwrap_or("no access");
        // Writes to People need Editor at the general level (planningcenter/developers#220,
        // #442); below it PCO answers 403.
        if !["editor", "manager"]
            .iter()
            .any(|r| people.trim().eq_ignore_ascii_case(r))
        {
            return Some(format!(
                "the token's user is {people} in PCO People and needs Editor (or Manager) there to write people (a sync that changes Services permissions needs {LEVEL_ROLE}): give that user the role, or use another user's token"
            ));
        }
        // Below Scheduler Services hides `site_administrator` and `archived`, which would
        // switch off organization administrator protection (R50) without a word.
        if self
            .services_rank()
            .is_none_or(|r| r < rank(PermissionLevel::Scheduler))
        {
            let services = self.services.as_deref().unwrap_or("no access");
            return Some(format!(
                "the token's user is {services} in PCO Services and needs Scheduler or above there to sync people (below it PCO hides who is an organization administrator), and Administrator to change Services permissions: give that user the role, or use another user's token"
            ));
        }
        None
    }

    /// Why this token cannot change Services permission levels (raise, lower, archive, or
    /// set the level of a new Services profile), or None when it can: PCO lets only a
    /// Services Administrator or an organization administrator set them (PCO Services help,
    /// "Permissions in Services": "User permissions higher than Viewer can be set by an
    /// Administrator"; Schedulers and Editors add people at the default permission; issue 23).
    pub fn level_refusal(&self) -> Option<String> {
        if self.site_administrator
            || self.services_rank() == Some(rank(PermissionLevel::Administrator))
        {
            return None;
        }
        let services = self.services.as_deref().unwrap_or("no access");
        Some(format!(
            "the token's user is {services} in PCO Services, and changing Services permissions needs {LEVEL_ROLE}: give that user the role, or use such a user's token"
        ))
    }

    /// Whether PCO lets this token edit the names, emails, phones and addresses of
    /// organization and accounting administrators (only an organization administrator may:
    /// planningcenter/developers#1139, #1096).
    pub fn edits_administrators(&self) -> bool {
        self.site_administrator
    }

    fn services_rank(&self) -> Option<u8> {
        let services = self.services.as_deref()?;
        crate::services::parse_level(services).map(rank)
    }
}

fn rank(level: PermissionLevel) -> u8 {
    crate::permissions::rank(level)
}

/// The token user's roles in People and Services.
pub fn token_roles(ports: &dyn Ports, account: &str) -> Result<TokenRoles, Error> {
    // Only the roles are asked for (sparse fieldsets): nothing else of the user reaches the
    // guest (R53).
    let me = |path: &str, version: &str, fields: &str| Request {
        method: Method::Get,
        path: path.to_string(),
        query: vec![("fields[Person]".to_string(), fields.to_string())],
        headers: vec![(API_VERSION_HEADER.into(), version.into())],
        body: None,
    };
    let people = parse_document(&ports.pco_send(
        account,
        &me(
            "/people/v2/me",
            PEOPLE_API_VERSION,
            "site_administrator,accounting_administrator,people_permissions",
        ),
    )?)?;
    let attributes = &people["data"]["attributes"];
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .filter(|s| !s.trim().is_empty())
    };
    let services = match ports.pco_send(
        account,
        &me(
            "/services/v2/me",
            crate::services::SERVICES_API_VERSION,
            "permissions",
        ),
    ) {
        Ok(response) => text(&parse_document(&response)?["data"]["attributes"]["permissions"]),
        // No access to Services at all.
        Err(error) if matches!(error.kind, ErrorKind::NotFound | ErrorKind::Unauthorized) => None,
        Err(error) => return Err(error),
    };
    Ok(TokenRoles {
        site_administrator: attributes["site_administrator"].as_bool().unwrap_or(false),
        accounting_administrator: attributes["accounting_administrator"]
            .as_bool()
            .unwrap_or(false),
        people: text(&attributes["people_permissions"]),
        services,
    })
}

pub fn malformed(what: &str) -> Error {
    Error {
        kind: ErrorKind::Unavailable,
        message: format!("Planning Center sent a malformed response: {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Issue 14.4, issue 23: which roles a sync needs, and the message naming the missing one.
    #[test]
    fn the_token_user_needs_people_editor_and_services_scheduler_to_sync_people() {
        let roles = |admin: bool, people: Option<&str>, services: Option<&str>| TokenRoles {
            site_administrator: admin,
            people: people.map(str::to_string),
            services: services.map(str::to_string),
            ..TokenRoles::default()
        };
        assert_eq!(roles(true, None, None).refusal(), None);
        assert_eq!(
            roles(false, Some("Editor"), Some("Scheduler")).refusal(),
            None
        );
        assert_eq!(
            roles(false, Some("manager"), Some("Administrator")).refusal(),
            None
        );
        let viewer = roles(false, Some("Viewer"), Some("Administrator"))
            .refusal()
            .unwrap();
        assert!(
            viewer.contains("Viewer in PCO People") && viewer.contains("Editor"),
            "{viewer}"
        );
        let none = roles(false, None, Some("Editor")).refusal().unwrap();
        assert!(none.contains("no access in PCO People"), "{none}");
        let low = roles(false, Some("Editor"), Some("Viewer"))
            .refusal()
            .unwrap();
        assert!(low.contains("Scheduler"), "{low}");
        assert!(roles(false, Some("Editor"), None).refusal().is_some());
    }

    // Issue 23: Services permission changes need a Services Administrator or an organization
    // administrator; a Scheduler or an Editor is told so, naming the role.
    #[test]
    fn services_levels_need_a_services_administrator_or_an_organization_administrator() {
        let roles = |admin: bool, people: &str, services: &str| TokenRoles {
            site_administrator: admin,
            people: Some(people.to_string()),
            services: Some(services.to_string()),
            ..TokenRoles::default()
        };
        assert_eq!(roles(true, "Viewer", "Viewer").level_refusal(), None);
        assert_eq!(
            roles(false, "Editor", "Administrator").level_refusal(),
            None
        );
        for services in ["Scheduler", "Editor"] {
            let why = roles(false, "Editor", services).level_refusal().unwrap();
            assert!(
                why.contains(&format!("{services} in PCO Services")),
                "{why}"
            );
            assert!(why.contains(LEVEL_ROLE), "{why}");
        }
        assert!(roles(true, "Editor", "Scheduler").edits_administrators());
        assert!(!roles(false, "Manager", "Administrator").edits_administrators());
    }
}
