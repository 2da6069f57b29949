//! A linked PCO person missing from a full read is not proof that they are gone (issue 14.5,
//! R5-R7): PCO's offset windows shift when people are created, deleted or merged while the
//! list is read, so a person can fall between two pages. Before the plan re-matches or
//! re-creates anyone, each one missing is asked for by id; only a 404 is a person gone, and
//! PCO's merge history then says whether they live on in another person.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::bindings::rockpco::sync::pco::{Method, Request};
use crate::pco_api::{API_VERSION_HEADER, PEOPLE_API_VERSION, malformed};
use crate::pco_people::{self, PcoPersonFull};
use crate::ports::Ports;
use crate::store::Record;
use crate::types::{Error, ErrorKind};

/// How many merges in a row are followed (a person merged into one merged again later).
const MERGE_HOPS: usize = 4;

/// What asking for the missing people found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Confirmed {
    /// PCO ids merged away in PCO, and the id of the person they were merged into (read into
    /// the PCO people, so the plan can link them).
    pub merged: BTreeMap<String, String>,
    /// Linked people the list left out whom PCO still has: the list was short, so it cannot
    /// prove either that an unlinked person has no match in PCO.
    pub listed_short: bool,
    /// PCO ids gone (404) whose merges PCO would not show (401, 403 or 404 from
    /// `person_mergers`, which PCO may keep from a token user who is not a People Manager),
    /// with what PCO said: no merge is known, and each person is flagged (issue 23).
    pub merge_unknown: BTreeMap<String, String>,
}

/// Reads, one by one, the linked PCO people a full read left out: those PCO still has are
/// added to `pco`; those it merged away are followed to the person they were merged into.
pub fn confirm_missing(
    ports: &dyn Ports,
    account: &str,
    records: &BTreeMap<i64, Record>,
    pco: &mut BTreeMap<String, PcoPersonFull>,
) -> Result<Confirmed, Error> {
    let mut missing: Vec<String> = records
        .values()
        .map(|r| r.pco.clone())
        .filter(|id| !pco.contains_key(id))
        .collect();
    missing.sort();
    missing.dedup();
    let mut confirmed = Confirmed::default();
    if missing.is_empty() {
        return Ok(confirmed);
    }
    let gone = read_people(ports, account, &missing, pco)?;
    confirmed.listed_short = gone.len() < missing.len();
    follow_merges(ports, account, &gone, pco, &mut confirmed)?;
    Ok(confirmed)
}

/// PCO ids known gone (PCO answered 404 for them): which of them PCO merged, and into whom (the
/// person kept is read into `pco`). An updates-only run asks this of the linked people it was
/// about to write to (issue 24 item 11), as a full run does of those its list left out.
pub fn confirm_gone(
    ports: &dyn Ports,
    account: &str,
    gone: &[String],
    pco: &mut BTreeMap<String, PcoPersonFull>,
) -> Result<Confirmed, Error> {
    let mut confirmed = Confirmed::default();
    follow_merges(ports, account, gone, pco, &mut confirmed)?;
    Ok(confirmed)
}

fn follow_merges(
    ports: &dyn Ports,
    account: &str,
    gone: &[String],
    pco: &mut BTreeMap<String, PcoPersonFull>,
    confirmed: &mut Confirmed,
) -> Result<(), Error> {
    for id in gone {
        match follow_merge(ports, account, id, pco) {
            Ok(Some(kept)) => {
                confirmed.merged.insert(id.clone(), kept);
            }
            Ok(None) => {}
            Err(error) if refused(&error) => {
                confirmed.merge_unknown.insert(id.clone(), error.message);
            }
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// PCO refusing to show merges (or not having the list for this user): "no merge known",
/// never a reason to stop the run (issue 23).
fn refused(error: &Error) -> bool {
    matches!(error.kind, ErrorKind::Unauthorized | ErrorKind::NotFound)
}

/// The report's line for a linked person whose PCO merges could not be read.
pub fn merge_unknown_note(pco_id: &str, why: &str) -> String {
    format!(
        "the linked PCO person {pco_id} is gone from PCO, and PCO would not show whether it merged them ({why}): no merge is known, so they were matched again; reading PCO's merges needs a People Manager or an organization administrator's token"
    )
}

/// Asks for each id; adds those PCO has to `pco` and returns the ids PCO answered 404 for.
pub fn read_people(
    ports: &dyn Ports,
    account: &str,
    ids: &[String],
    pco: &mut BTreeMap<String, PcoPersonFull>,
) -> Result<Vec<String>, Error> {
    let requests: Vec<Request> = ids.iter().map(|id| pco_people::get_person(id)).collect();
    let mut gone = Vec::new();
    for (id, response) in ids.iter().zip(ports.pco_send_batch(account, &requests)) {
        match response {
            Ok(response) => {
                for person in pco_people::parse_people_document(&response.body)?.0 {
                    pco.insert(person.id.clone(), person);
                }
            }
            Err(error) if error.kind == ErrorKind::NotFound => gone.push(id.clone()),
            Err(error) => return Err(error),
        }
    }
    Ok(gone)
}

/// The person `id` was merged into, read into `pco`; None when PCO has no merge of `id`
/// (deleted) or the person kept is gone as well.
fn follow_merge(
    ports: &dyn Ports,
    account: &str,
    id: &str,
    pco: &mut BTreeMap<String, PcoPersonFull>,
) -> Result<Option<String>, Error> {
    let mut current = id.to_string();
    for _ in 0..MERGE_HOPS {
        let response = ports.pco_send(account, &mergers_request(&current))?;
        let Some(kept) = kept_id(&response.body)? else {
            return Ok(None);
        };
        if pco.contains_key(&kept) {
            return Ok(Some(kept));
        }
        if read_people(ports, account, std::slice::from_ref(&kept), pco)?.is_empty() {
            return Ok(pco.contains_key(&kept).then_some(kept));
        }
        current = kept;
    }
    Ok(None)
}

/// PCO documents `where[person_to_remove_id]` on `GET /people/v2/person_mergers`
/// (People 2022-07-14 docs, PersonMerger vertex).
fn mergers_request(removed: &str) -> Request {
    Request {
        method: Method::Get,
        path: "/people/v2/person_mergers".into(),
        query: vec![
            (
                "where[person_to_remove_id]".to_string(),
                removed.to_string(),
            ),
            ("order".to_string(), "-created_at".to_string()),
        ],
        headers: vec![(API_VERSION_HEADER.into(), PEOPLE_API_VERSION.into())],
        body: None,
    }
}

/// The `person_to_keep_id` of the latest merger listed; PCO types it `primary_key`, which
/// comes as a number or a string.
fn kept_id(body: &[u8]) -> Result<Option<String>, Error> {
    let document: Value = serde_json::from_slice(body)
        .map_err(|e| malformed(&format!("person_mergers document is not JSON ({e})")))?;
    let data = document
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("person_mergers document has no data list"))?;
    let Some(first) = data.first() else {
        return Ok(None);
    };
    match &first["attributes"]["person_to_keep_id"] {
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::String(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        _ => Err(malformed("a person merger without person_to_keep_id")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_id_is_read_as_a_number_or_a_string() {
        let number = br#"{"data":[{"type":"PersonMerger","id":"1","attributes":{"person_to_keep_id":42,"person_to_remove_id":7}}]}"#;
        let string = br#"{"data":[{"type":"PersonMerger","id":"1","attributes":{"person_to_keep_id":"42","person_to_remove_id":"7"}}]}"#;
        assert_eq!(kept_id(number).unwrap().as_deref(), Some("42"));
        assert_eq!(kept_id(string).unwrap().as_deref(), Some("42"));
        assert_eq!(kept_id(br#"{"data":[]}"#).unwrap(), None);
    }

    #[test]
    fn a_malformed_merger_list_is_an_error_naming_it() {
        for body in [
            &b"<html>"[..],
            br#"{"data":{}}"#,
            br#"{"data":[{"attributes":{}}]}"#,
        ] {
            let error = kept_id(body).unwrap_err();
            assert!(error.message.contains("merger"), "{}", error.message);
        }
    }
}
