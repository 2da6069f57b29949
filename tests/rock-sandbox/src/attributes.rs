//! Attribute values: `loadAttributes`, `POST|DELETE /api/{c}/AttributeValue/{id}`, and the
//! values the Export endpoint includes.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::schema::Entity;
use crate::store::{Invalid, Row, Store, int, set, text};

/// `loadAttributes=simple|expanded`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Simple,
    Expanded,
}

impl Mode {
    pub fn parse(value: &str) -> Option<Mode> {
        match value.to_ascii_lowercase().as_str() {
            "simple" | "true" => Some(Mode::Simple),
            "expanded" => Some(Mode::Expanded),
            _ => None,
        }
    }
}

/// The `EntityType` row id of an entity, if attributes can be defined for it.
fn entity_type_id(store: &Store, entity: Entity) -> Option<i64> {
    let name = entity.full_name();
    store
        .rows(Entity::EntityType)
        .find(|r| text(r, "Name") == Some(name.as_str()))
        .and_then(|r| int(r, "Id"))
}

/// The attributes that apply to `row`: same entity type, and either unqualified or
/// qualified by one of the row's columns (e.g. a group attribute for one `GroupTypeId`).
pub fn applicable<'a>(store: &'a Store, entity: Entity, row: &Row) -> Vec<&'a Row> {
    let Some(type_id) = entity_type_id(store, entity) else {
        return Vec::new();
    };
    let mut attributes: Vec<&Row> = store
        .rows(Entity::Attribute)
        .filter(|a| int(a, "EntityTypeId") == Some(type_id))
        .filter(|a| {
            let column = text(a, "EntityTypeQualifierColumn").unwrap_or("");
            if column.is_empty() {
                return true;
            }
            let wanted = text(a, "EntityTypeQualifierValue").unwrap_or("");
            match row.get(column) {
                Some(Value::Number(n)) => n.to_string() == wanted,
                Some(Value::String(s)) => s.eq_ignore_ascii_case(wanted),
                _ => false,
            }
        })
        .collect();
    attributes.sort_by_key(|a| (int(a, "Order"), int(a, "Id")));
    attributes
}

/// Values by (AttributeId, EntityId), indexed once per request.
pub type ValueIndex<'a> = HashMap<(i64, i64), &'a Row>;

pub fn value_index(store: &Store) -> ValueIndex<'_> {
    store
        .rows(Entity::AttributeValue)
        .filter_map(|v| Some(((int(v, "AttributeId")?, int(v, "EntityId")?), v)))
        .collect()
}

/// Fills `Attributes` and `AttributeValues` of each row (only `keys` when given), leaving out,
/// without a word, the attributes the REST key may not view (`viewable` says no):
/// `Rock/Utility/RockJsonMediaTypeFormatter.cs` `FilterAttributes` removes from every row each
/// attribute the request's person (the REST key's, set by Rock.Rest/Filters/SecuredAttribute)
/// is not authorized to VIEW.
pub fn load(
    store: &Store,
    entity: Entity,
    rows: &mut [Row],
    mode: Mode,
    keys: &[String],
    viewable: &dyn Fn(&str) -> bool,
) {
    let index = value_index(store);
    for row in rows.iter_mut() {
        let id = int(row, "Id").unwrap_or(0);
        let mut attributes = Map::new();
        let mut values = Map::new();
        for attribute in applicable(store, entity, row) {
            let key = text(attribute, "Key").unwrap_or("").to_string();
            if !keys.is_empty() && !keys.iter().any(|k| k.eq_ignore_ascii_case(&key)) {
                continue;
            }
            if !viewable(&key) {
                continue;
            }
            let attribute_id = int(attribute, "Id").unwrap_or(0);
            let described = match mode {
                Mode::Simple => {
                    json!({"Id": attribute_id, "Key": key, "Name": attribute.get("Name")})
                }
                Mode::Expanded => Value::Object(attribute.clone()),
            };
            attributes.insert(key.clone(), described);
            let value = index
                .get(&(attribute_id, id))
                .and_then(|v| text(v, "Value"))
                .or_else(|| text(attribute, "DefaultValue"))
                .unwrap_or("")
                .to_string();
            let formatted = format_value(store, attribute, &value);
            values.insert(key, json!({"AttributeId": attribute_id, "EntityId": id, "Value": value, "ValueFormatted": formatted}));
        }
        row.insert("Attributes".into(), Value::Object(attributes));
        row.insert("AttributeValues".into(), Value::Object(values));
    }
}

/// The options of a select attribute: its `values` qualifier as `Rock/Field/Helper.cs`
/// `GetConfiguredValues` reads it: split on ',' then on '^' (empty parts dropped), value and
/// text trimmed, a value without '^' is its own text, the first of a repeated value wins, in
/// the qualifier's order. (The SQL form of the qualifier is not reproduced.)
pub fn configured_values(qualifier: &str) -> Vec<(String, String)> {
    let mut items: Vec<(String, String)> = Vec::new();
    for option in qualifier.split(',').filter(|o| !o.is_empty()) {
        let mut parts = option.split('^').filter(|p| !p.is_empty());
        let Some(value) = parts.next() else { continue };
        let value = value.trim().to_string();
        let text = parts.next().map_or(value.clone(), |t| t.trim().to_string());
        if !items.iter().any(|(v, _)| *v == value) {
            items.push((value, text));
        }
    }
    items
}

/// The `values` qualifier of an attribute (`AttributeQualifier` row with Key `values`), if any.
fn values_qualifier(store: &Store, attribute_id: i64) -> Option<&str> {
    store
        .find_by(Entity::AttributeQualifier, "AttributeId", attribute_id)
        .into_iter()
        .find(|q| text(q, "Key") == Some("values"))
        .and_then(|q| text(q, "Value"))
}

fn field_class<'a>(store: &'a Store, attribute: &Row) -> Option<&'a str> {
    let field = int(attribute, "FieldTypeId")?;
    store
        .get(Entity::FieldType, field)
        .and_then(|f| text(f, "Class"))
}

/// `ValueFormatted` of a select attribute. A multi-select is formatted as
/// `Rock/Field/Types/SelectMultiFieldType.cs` `GetTextValue` does: the texts of the configured
/// options whose value is selected, in the options' order, joined by ", " (a selected value
/// that is no option shows nothing); with no `values` qualifier, the raw value. Other select
/// fields show each value's option text, or the value itself.
fn format_value(store: &Store, attribute: &Row, value: &str) -> String {
    let attribute_id = int(attribute, "Id").unwrap_or(0);
    let qualifier = values_qualifier(store, attribute_id);
    let options = configured_values(qualifier.unwrap_or(""));
    if field_class(store, attribute) == Some("Rock.Field.Types.SelectMultiFieldType") {
        if value.trim().is_empty() || qualifier.is_none() {
            return value.to_string();
        }
        let selected: Vec<&str> = value.split(',').filter(|v| !v.is_empty()).collect();
        return options
            .iter()
            .filter(|(v, _)| selected.contains(&v.as_str()))
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join(", ");
    }
    let texts: HashMap<&str, &str> = options
        .iter()
        .map(|(v, t)| (v.as_str(), t.as_str()))
        .collect();
    value
        .split(',')
        .filter(|v| !v.is_empty())
        .map(|v| texts.get(v).copied().unwrap_or(v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The raw values of one row's attributes (`attributeKeys`, or all when empty): the Export
/// endpoint's `AttributesExport.AttributeValues`.
pub fn export_values(
    store: &Store,
    entity: Entity,
    row: &Row,
    keys: &[String],
    index: &ValueIndex,
) -> Value {
    let id = int(row, "Id").unwrap_or(0);
    let all = keys.is_empty() || keys.iter().any(|k| k.eq_ignore_ascii_case("all"));
    let mut values = Map::new();
    for attribute in applicable(store, entity, row) {
        let key = text(attribute, "Key").unwrap_or("");
        if !all && !keys.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            continue;
        }
        let attribute_id = int(attribute, "Id").unwrap_or(0);
        let value = index
            .get(&(attribute_id, id))
            .and_then(|v| text(v, "Value"))
            .unwrap_or("");
        values.insert(key.to_string(), Value::from(value));
    }
    Value::Object(values)
}

fn stored_value(store: &Store, attribute: i64, entity_id: i64) -> Option<String> {
    find_value(store, attribute, entity_id)
        .and_then(|v| text(v, "Value"))
        .map(str::to_string)
}

fn find_value(store: &Store, attribute: i64, entity_id: i64) -> Option<&Row> {
    store
        .rows(Entity::AttributeValue)
        .find(|v| int(v, "AttributeId") == Some(attribute) && int(v, "EntityId") == Some(entity_id))
}

/// Why an attribute value could not be set.
pub enum SetError {
    NotFound,
    /// "Person does not have a K attribute" (Rock's reason phrase).
    NoSuchAttribute(String),
    /// "Not authorized to edit Person on K" (Rock's reason phrase, with a 403).
    Forbidden(String),
    Invalid(String),
}

/// `POST /api/{c}/AttributeValue/{id}?attributeKey=K&attributeValue=V` (and DELETE, which
/// sets ""), as `SetAttributeValue` in `Rock.Rest/ApiController.cs` does it: the key is looked
/// up with `Attributes.ContainsKey(attributeKey)`, a plain `Dictionary` filled by
/// `Rock/Attribute/Helper.cs` `LoadAttributes`, so it matches case-sensitively. A null value
/// (an empty one, as Web API binds it) is what `Helper.SaveAttributeValue` does with it: no
/// row is made when there is none, an existing one is set to null.
pub fn set_value(
    store: &mut Store,
    entity: Entity,
    id: i64,
    key: &str,
    value: Option<&str>,
    editable: &dyn Fn(&str) -> bool,
) -> Result<(), SetError> {
    let Some(row) = store.get(entity, id) else {
        return Err(SetError::NotFound);
    };
    let attribute = applicable(store, entity, row)
        .into_iter()
        .find(|a| text(a, "Key") == Some(key))
        .and_then(|a| int(a, "Id"));
    let Some(attribute) = attribute else {
        return Err(SetError::NoSuchAttribute(format!(
            "{} does not have a {key} attribute",
            entity.type_name()
        )));
    };
    if !editable(key) {
        return Err(SetError::Forbidden(format!(
            "Not authorized to edit {} on {key}",
            entity.type_name()
        )));
    }
    let existing = find_value(store, attribute, id).and_then(|v| int(v, "Id"));
    if value.is_none() && existing.is_none() {
        return Ok(());
    }
    let value: Value = value.map_or(Value::Null, Value::from);
    let result = match existing {
        Some(value_id) => {
            let mut updated = store
                .get(Entity::AttributeValue, value_id)
                .cloned()
                .unwrap_or_default();
            updated.insert("Value".into(), value);
            store
                .update(Entity::AttributeValue, value_id, updated)
                .map(|_| ())
        }
        None => {
            let mut new = Store::blank(Entity::AttributeValue);
            set(&mut new, "AttributeId", attribute);
            set(&mut new, "EntityId", id);
            new.insert("Value".into(), value);
            store.insert(Entity::AttributeValue, new).map(|_| ())
        }
    };
    result.map_err(|e: Invalid| SetError::Invalid(e.message()))
}

/// On a merge: values the survivor lacks (or has empty) move over; the rest are dropped.
pub fn move_values(store: &mut Store, entity: Entity, from: i64, to: i64) {
    let Some(type_id) = entity_type_id(store, entity) else {
        return;
    };
    let attribute_ids: Vec<i64> = store
        .rows(Entity::Attribute)
        .filter(|a| int(a, "EntityTypeId") == Some(type_id))
        .filter_map(|a| int(a, "Id"))
        .collect();
    for attribute in attribute_ids {
        let Some(old) = find_value(store, attribute, from).and_then(|v| int(v, "Id")) else {
            continue;
        };
        let survivor_has = stored_value(store, attribute, to).is_some_and(|v| !v.is_empty());
        if survivor_has {
            store.remove(Entity::AttributeValue, old);
        } else {
            if let Some(existing) = find_value(store, attribute, to).and_then(|v| int(v, "Id")) {
                store.remove(Entity::AttributeValue, existing);
            }
            store.modify(Entity::AttributeValue, old, |v| set(v, "EntityId", to));
        }
    }
}
