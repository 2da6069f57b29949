//! Sparse fieldsets: `?fields[Person]=first_name,last_name` answers each Person with only those
//! fields. PCO honours them ("?fields[Plan]=title,sort_date" works since Services fixed #256,
//! planningcenter/developers; some People attributes are even "only available when requested
//! with the `?fields` param", research §2.4), following JSON:API 1.0 ("Sparse Fieldsets"):
//! the list names the fields to return, attributes and relationships alike, per resource type,
//! in `data` and `included`; a type not named keeps all its fields.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// The `fields[Type]=a,b` of a query string, by type; empty when there are none.
pub fn fieldsets(query: Option<&str>) -> BTreeMap<String, BTreeSet<String>> {
    let mut sets = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let Some(type_name) = key
            .strip_prefix("fields[")
            .and_then(|rest| rest.strip_suffix(']'))
        else {
            continue;
        };
        let names = value
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from)
            .collect();
        sets.insert(type_name.to_string(), names);
    }
    sets
}

/// Keeps, in every resource of a JSON:API document whose type has a fieldset, only the
/// attributes and relationships the fieldset names.
pub fn apply(document: &mut Value, sets: &BTreeMap<String, BTreeSet<String>>) {
    match document.get_mut("data") {
        Some(Value::Array(resources)) => resources.iter_mut().for_each(|r| trim(r, sets)),
        Some(resource @ Value::Object(_)) => trim(resource, sets),
        _ => {}
    }
    if let Some(Value::Array(included)) = document.get_mut("included") {
        included.iter_mut().for_each(|r| trim(r, sets));
    }
}

fn trim(resource: &mut Value, sets: &BTreeMap<String, BTreeSet<String>>) {
    let Some(set) = resource
        .get("type")
        .and_then(Value::as_str)
        .and_then(|t| sets.get(t))
    else {
        return;
    };
    for member in ["attributes", "relationships"] {
        if let Some(Value::Object(fields)) = resource.get_mut(member) {
            fields.retain(|name, _| set.contains(name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_named_fields_of_the_named_types_are_kept() {
        let sets = fieldsets(Some(
            "include=emails&fields%5BPerson%5D=first_name,emails&per_page=1",
        ));
        assert_eq!(sets.len(), 1);
        let mut document = json!({
            "data": [{"type": "Person", "id": "1",
                "attributes": {"first_name": "Ann", "medical_notes": "x"},
                "relationships": {"emails": {"data": []}, "primary_campus": {"data": null}}}],
            "included": [{"type": "Email", "id": "2", "attributes": {"address": "a@b.c"}}]
        });
        apply(&mut document, &sets);
        assert_eq!(
            document["data"][0]["attributes"],
            json!({"first_name": "Ann"})
        );
        assert_eq!(
            document["data"][0]["relationships"],
            json!({"emails": {"data": []}})
        );
        assert_eq!(
            document["included"][0]["attributes"],
            json!({"address": "a@b.c"})
        );
    }
}
