//! What the state forgets of a person who left (issue 24 item 19e, R53: the state holds only
//! the fields it syncs, of the people it syncs).
//!
//! A person archived by a sync (they left every synced group and tag of the account, or died)
//! is no longer synced, but their `person/{rock id}` record kept the values of their last sync
//! (`base`: name, email, phones, address, birth date...; `tags`; `photo`) for good. After a
//! run that archived them, those values are removed from the record. The record keeps the
//! link (`pco`), so a person who comes back is linked to the same PCO person again, and
//! their level (`level`, none once archived). The audit of their runs (`audit/...`) stays:
//! it is the history an administrator reviews and reverts.
//!
//! The record's layout is the guest's (guest/src/store.rs `Record`); the keys removed here
//! are all optional there, so a guest reads a forgetful record as a person linked without
//! saved values.

use crate::bindings::engine::{Action, Report};
use crate::bindings::state::{Entry, Write};

use super::{StateError, StateStore};

/// The saved values of a person's record: what the guest merges against (R12).
const SAVED_VALUES: [&str; 3] = ["base", "tags", "photo"];

/// Removes the saved values of the people `report` archived from `namespace`'s records;
/// answers how many records it changed. A dry run or a held run archived nobody.
pub fn forget_archived(
    state: &dyn StateStore,
    namespace: &str,
    report: &Report,
) -> Result<usize, StateError> {
    if report.dry_run || report.held {
        return Ok(0);
    }
    let keys: Vec<String> = report
        .people
        .iter()
        .filter(|person| person.actions.contains(&Action::Archived))
        .filter_map(|person| person.rock_id)
        .map(|rock_id| format!("person/{rock_id}"))
        .collect();
    if keys.is_empty() {
        return Ok(0);
    }
    let values = state.get(namespace, &keys)?;
    let writes: Vec<Write> = keys
        .into_iter()
        .zip(values)
        .filter_map(|(key, value)| Some((key, without_saved_values(&value?)?)))
        .map(|(key, value)| Write::Put(Entry { key, value }))
        .collect();
    if !writes.is_empty() {
        state.commit(namespace, &writes)?;
    }
    Ok(writes.len())
}

/// The record without its saved values; None when it holds none (or is not a record).
fn without_saved_values(record: &[u8]) -> Option<Vec<u8>> {
    let mut record: serde_json::Value = serde_json::from_slice(record).ok()?;
    let fields = record.as_object_mut()?;
    let holds_values = SAVED_VALUES.iter().any(|key| match fields.get(*key) {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Array(items)) => !items.is_empty(),
        Some(_) => true,
    });
    if !holds_values {
        return None;
    }
    for key in SAVED_VALUES {
        fields.remove(key);
    }
    serde_json::to_vec(&record).ok()
}

#[cfg(test)]
mod tests {
    use super::without_saved_values;

    #[test]
    fn only_the_saved_values_go_the_link_and_level_stay() {
        let record = br#"{"pco":"77","base":{"email":"a@example.org"},"tags":["Teams:Kids"],"level":null,"photo":4,"alias":9}"#;
        let kept: serde_json::Value =
            serde_json::from_slice(&without_saved_values(record).unwrap()).unwrap();
        assert_eq!(
            kept,
            serde_json::json!({"pco": "77", "level": null, "alias": 9})
        );
        let bare = br#"{"pco":"77","tags":[],"level":null}"#;
        assert_eq!(without_saved_values(bare), None, "nothing to forget");
        assert_eq!(without_saved_values(b"not json"), None);
    }
}
