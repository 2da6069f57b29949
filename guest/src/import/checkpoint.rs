//! What the import keeps in the account's state between runs (R42), beside the links it
//! writes (`person/{rock id}`, see `store`):
//!
//! | key | value |
//! | --- | --- |
//! | `import/cursor` | [`Checkpoint`]: where a stopped import goes on, and whom to try again |
//! | `import/intent/{pco id}` | [`Intent`]: a Rock create in flight for this PCO person |
//!
//! Both hold ids only (R53). The cursor is written with every page and removed when an import
//! reaches the end; an intent is written before the create and removed with the link.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bindings::rockpco::sync::state::{Entry, Write};
use crate::ports::Ports;
use crate::types::{Error, ErrorKind};

const CURSOR: &str = "import/cursor";
const INTENT: &str = "import/intent/";
const SCAN_PAGE: u32 = 1000;

/// Where a stopped import goes on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The offset in PCO's people list (ordered by id) of the first page not yet done.
    pub offset: u64,
    /// PCO people before `offset` that failed: tried again first when the import goes on.
    #[serde(default)]
    pub retry: Vec<String>,
}

/// A create in Rock for one PCO person, announced before it is sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// The run that sent it.
    pub run: String,
    /// The new Rock person, once Rock answered; None while the answer is unknown.
    #[serde(default)]
    pub rock: Option<i64>,
}

fn corrupt(key: &str, what: impl std::fmt::Display) -> Error {
    Error {
        kind: ErrorKind::Internal,
        message: format!(
            "the state entry `{key}` is unreadable ({what}); it was not changed. Remove it to \
             start the import from the beginning (people already imported stay linked)"
        ),
    }
}

pub fn checkpoint(ports: &dyn Ports) -> Result<Option<Checkpoint>, Error> {
    let value = ports.state_get(&[CURSOR.to_string()])?.pop().flatten();
    value
        .map(|bytes| serde_json::from_slice(&bytes).map_err(|e| corrupt(CURSOR, e)))
        .transpose()
}

pub fn put_checkpoint(checkpoint: &Checkpoint) -> Write {
    Write::Put(Entry {
        key: CURSOR.to_string(),
        value: serde_json::to_vec(checkpoint).unwrap_or_default(),
    })
}

pub fn delete_checkpoint() -> Write {
    Write::Delete(CURSOR.to_string())
}

/// Every create in flight, by PCO person id.
pub fn intents(ports: &dyn Ports) -> Result<BTreeMap<String, Intent>, Error> {
    let mut intents = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = ports.state_scan(INTENT, after.as_deref(), SCAN_PAGE)?;
        let full = page.len() == SCAN_PAGE as usize;
        after = page.last().map(|e| e.key.clone());
        for Entry { key, value } in page {
            let intent = serde_json::from_slice(&value).map_err(|e| corrupt(&key, e))?;
            intents.insert(key[INTENT.len()..].to_string(), intent);
        }
        if !full {
            return Ok(intents);
        }
    }
}

pub fn put_intent(pco_id: &str, intent: &Intent) -> Write {
    Write::Put(Entry {
        key: format!("{INTENT}{pco_id}"),
        value: serde_json::to_vec(intent).unwrap_or_default(),
    })
}

pub fn delete_intent(pco_id: &str) -> Write {
    Write::Delete(format!("{INTENT}{pco_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // R42, R53: the checkpoint and the intents hold ids, nothing about the person.
    #[test]
    fn checkpoint_and_intent_hold_ids_only() {
        let Write::Put(entry) = put_checkpoint(&Checkpoint {
            offset: 200,
            retry: vec!["17".into()],
        }) else {
            panic!("a put");
        };
        assert_eq!(entry.key, "import/cursor");
        assert_eq!(
            String::from_utf8(entry.value).unwrap(),
            r#"{"offset":200,"retry":["17"]}"#
        );
        let Write::Put(entry) = put_intent(
            "17",
            &Intent {
                run: "r1".into(),
                rock: Some(1200),
            },
        ) else {
            panic!("a put");
        };
        assert_eq!(entry.key, "import/intent/17");
        assert_eq!(
            String::from_utf8(entry.value).unwrap(),
            r#"{"run":"r1","rock":1200}"#
        );
    }
}
