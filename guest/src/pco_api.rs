//! Planning Center's JSON:API, read and written by the guest (the host only carries bytes).

use serde_json::Value;

use crate::bindings::rockpco::sync::pco::{Method, Request, Response};
use crate::ports::Ports;
use crate::types::{Error, ErrorKind};

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

/// One page of people and where the next one starts.
#[derive(Debug)]
pub struct PeoplePage {
    pub people: Vec<PcoPerson>,
    pub total_count: Option<u64>,
}

pub fn people_page_request(offset: u64) -> Request {
    Request {
        method: Method::Get,
        path: "/people/v2/people".to_string(),
        query: vec![
            ("include".into(), "emails".into()),
            ("per_page".into(), PAGE_SIZE.to_string()),
            ("offset".into(), offset.to_string()),
            ("order".into(), "id".into()),
        ],
        headers: vec![(API_VERSION_HEADER.into(), PEOPLE_API_VERSION.into())],
        body: None,
    }
}

/// Every page of a list: the first page tells the total, the rest go in one batch, so a list of
/// N resources costs ceil(N / 100) requests and two crossings of the boundary.
pub fn fetch_pages(
    ports: &dyn Ports,
    account: &str,
    task: &str,
    page_at: impl Fn(u64) -> Request,
) -> Result<Vec<Response>, Error> {
    #[derive(serde::Deserialize)]
    struct Meta {
        total_count: Option<u64>,
    }
    #[derive(serde::Deserialize)]
    struct Head {
        meta: Option<Meta>,
    }
    let first = ports.pco_send(account, &page_at(0))?;
    let head: Head = serde_json::from_slice(&first.body)
        .map_err(|e| malformed(&format!("a page is not JSON ({e})")))?;
    let total = head.meta.and_then(|m| m.total_count).unwrap_or_default();
    let offsets: Vec<u64> = (1..)
        .map(|page| page * u64::from(PAGE_SIZE))
        .take_while(|offset| *offset < total)
        .collect();
    let mut pages = vec![first];
    if offsets.is_empty() {
        return Ok(pages);
    }
    let requests: Vec<Request> = offsets.iter().map(|o| page_at(*o)).collect();
    for response in ports.pco_send_batch(account, &requests) {
        pages.push(response?);
        let read = (pages.len() as u64 * u64::from(PAGE_SIZE)).min(total);
        ports.progress(task, read, Some(total));
    }
    Ok(pages)
}

pub fn parse_document(response: &Response) -> Result<Value, Error> {
    serde_json::from_slice(&response.body)
        .map_err(|e| malformed(&format!("a page is not JSON ({e})")))
}

/// Every person of the account, with their emails.
pub fn fetch_all_people(ports: &dyn Ports, account: &str) -> Result<Vec<PcoPerson>, Error> {
    let mut people = Vec::new();
    for page in fetch_pages(ports, account, "reading PCO people", people_page_request)? {
        people.extend(parse_people_page(&page)?.people);
    }
    Ok(people)
}

pub fn parse_people_page(response: &Response) -> Result<PeoplePage, Error> {
    let document: Value = serde_json::from_slice(&response.body)
        .map_err(|e| malformed(&format!("people page is not JSON ({e})")))?;
    people_in(&document)
}

fn people_in(document: &Value) -> Result<PeoplePage, Error> {
    let data = document
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("people page has no `data` array"))?;
    let included = document
        .get("included")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let people = data
        .iter()
        .map(|resource| parse_person(resource, included))
        .collect::<Result<_, _>>()?;
    let total_count = document
        .pointer("/meta/total_count")
        .and_then(Value::as_u64);
    Ok(PeoplePage {
        people,
        total_count,
    })
}

fn parse_person(resource: &Value, included: &[Value]) -> Result<PcoPerson, Error> {
    let id = resource
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("person without an id"))?
        .to_string();
    let text = |name: &str| {
        resource
            .pointer(&format!("/attributes/{name}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let remote_id = resource.pointer("/attributes/remote_id").and_then(|v| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    });
    let email_ids: Vec<&str> = resource
        .pointer("/relationships/emails/data")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|r| r.get("id")?.as_str()).collect())
        .unwrap_or_default();
    let emails = included
        .iter()
        .filter(|r| r.get("type").and_then(Value::as_str) == Some("Email"))
        .filter(|r| {
            r.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| email_ids.contains(&id))
        })
        .filter_map(|r| {
            r.pointer("/attributes/address")?
                .as_str()
                .map(str::to_string)
        })
        .collect();
    Ok(PcoPerson {
        id,
        first_name: text("first_name"),
        given_name: text("given_name"),
        last_name: text("last_name"),
        emails,
        remote_id,
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

    fn response(body: &str) -> Response {
        Response {
            status: 200,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn reads_people_with_their_included_emails() {
        let page = parse_people_page(&response(
            r#"{"data":[{"type":"Person","id":"7","attributes":{"first_name":"Bob",
            "given_name":"Robert","last_name":"Smith","remote_id":42},
            "relationships":{"emails":{"data":[{"type":"Email","id":"e1"}]}}}],
            "included":[{"type":"Email","id":"e1","attributes":{"address":"bob@example.org"}},
                        {"type":"Email","id":"e2","attributes":{"address":"other@example.org"}}],
            "meta":{"total_count":1}}"#,
        ))
        .unwrap();
        assert_eq!(page.total_count, Some(1));
        assert_eq!(
            page.people,
            vec![PcoPerson {
                id: "7".into(),
                first_name: "Bob".into(),
                given_name: "Robert".into(),
                last_name: "Smith".into(),
                emails: vec!["bob@example.org".into()],
                remote_id: Some(42),
            }]
        );
    }

    #[test]
    fn a_malformed_page_is_an_error_value_not_a_panic() {
        for body in ["", "{", r#"{"data":{}}"#, r#"{"data":[{"type":"Person"}]}"#] {
            let error = parse_people_page(&response(body)).unwrap_err();
            assert_eq!(error.kind, ErrorKind::Unavailable, "{body}");
            assert!(error.message.contains("malformed"), "{}", error.message);
        }
    }
}
