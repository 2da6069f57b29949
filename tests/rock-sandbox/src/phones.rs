//! Phone number formats: the install's "Phone Country Code" defined values, each with a
//! `MatchRegEx` and a `FormatRegEx` attribute, as `PhoneNumber.FormattedNumber`
//! (Rock/Model/CRM/PhoneNumber/PhoneNumber.Logic.cs) applies them on every phone save
//! (`PhoneNumber.SaveHook.cs`). A fresh install holds the three US formats its migration seeds;
//! an install elsewhere adds its own values (Admin Tools > Settings > Defined Types), which
//! tests do through the REST API or [`crate::RockSandbox::add_phone_format`].
//!
//! The formats live in rows like any other; [`Formats`] is their digest, read again whenever a
//! row they come from is saved, so a phone save does not scan every attribute value.

use serde_json::json;

use crate::guids as g;
use crate::schema::Entity;
use crate::store::{Row, Store, int, text};

/// One value of the "Phone Country Code" defined type, its expressions compiled once when the
/// digest is read (every phone save applies them).
#[derive(Clone, Debug)]
pub struct CountryFormat {
    pub country: String,
    /// None when the value has no usable expressions (blank, or not a valid pattern).
    pattern: Option<regex::Regex>,
    /// As the regex crate reads it.
    replacement: String,
}

impl CountryFormat {
    fn new(country: String, pattern: &str, replacement: &str) -> CountryFormat {
        let usable = !pattern.trim().is_empty() && !replacement.trim().is_empty();
        CountryFormat {
            country,
            pattern: usable.then(|| regex::Regex::new(pattern).ok()).flatten(),
            replacement: dotnet_replacement(replacement),
        }
    }
}

/// The install's phone formats, in Order.
#[derive(Clone, Debug, Default)]
pub struct Formats {
    formats: Vec<CountryFormat>,
    /// The ids of the defined type and of its `MatchRegEx` and `FormatRegEx` attributes:
    /// saves of their rows refresh the digest.
    defined_type: Option<i64>,
    attributes: Vec<i64>,
}

impl Formats {
    /// `PhoneNumber.DefaultCountryCode`: the first value by Order; "1" when there is none.
    pub fn default_country_code(&self) -> String {
        self.formats
            .first()
            .map_or_else(|| "1".to_string(), |f| f.country.clone())
    }

    /// `PhoneNumber.FormattedNumber`: the number's digits, then every format of `country`, in
    /// Order, applied in turn with .NET's `Regex.Replace`; the digits when none matches.
    pub fn format(&self, country: &str, number: &str) -> String {
        let mut number = clean_number(number);
        for format in self.formats.iter().filter(|f| f.country == country) {
            if let Some(pattern) = &format.pattern {
                number = pattern
                    .replace_all(&number, format.replacement.as_str())
                    .into_owned();
            }
        }
        number
    }
}

/// `PhoneNumber.CleanNumber`: digits only.
pub fn clean_number(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// A .NET replacement (`$1-$2`) as the regex crate reads it (`${1}-${2}`): the crate would
/// take `$1abc` for a group named `1abc`.
fn dotnet_replacement(replacement: &str) -> String {
    let groups = regex::Regex::new(r"\$(\d+)").expect("a valid pattern");
    groups.replace_all(replacement, "$${$1}").into_owned()
}

/// The defined type, its two attributes and the US formats a fresh install holds
/// (the `CommunicationStatus` migration: without area code, with it, with country code 1).
pub fn seed(store: &mut Store, text_field: i64) {
    let type_id = add(
        store,
        Entity::DefinedType,
        json!({"Guid": g::DT_PHONE_COUNTRY_CODE, "Name": "Phone Country Code", "IsSystem": true}),
    );
    let entity_type = add(
        store,
        Entity::EntityType,
        json!({"Guid": g::ENTITYTYPE_DEFINED_VALUE, "Name": "Rock.Model.DefinedValue", "FriendlyName": "Defined Value", "AssemblyName": "Rock"}),
    );
    let attribute = |store: &mut Store, guid: &str, key: &str, name: &str| {
        add(
            store,
            Entity::Attribute,
            json!({"Guid": guid, "Key": key, "Name": name, "FieldTypeId": text_field,
                "EntityTypeId": entity_type, "EntityTypeQualifierColumn": "DefinedTypeId",
                "EntityTypeQualifierValue": type_id.to_string(), "IsSystem": true}),
        )
    };
    attribute(
        store,
        g::ATTRIBUTE_PHONE_MATCH_REGEX,
        "MatchRegEx",
        "Match Expression",
    );
    attribute(
        store,
        g::ATTRIBUTE_PHONE_FORMAT_REGEX,
        "FormatRegEx",
        "Format Expression",
    );
    for (guid, description, pattern, replacement) in [
        (
            g::DV_PHONE_US_LOCAL,
            "North American Phone Number without Area Code",
            r"^(\d{3})(\d{4})$",
            "$1-$2",
        ),
        (
            g::DV_PHONE_US_AREA_CODE,
            "North American Phone Number with Area Code",
            r"^(\d{3})(\d{3})(\d{4})$",
            "($1) $2-$3",
        ),
        (
            g::DV_PHONE_US_COUNTRY_CODE,
            "North American Phone Number with Country Code and Area Code",
            r"^1(\d{3})(\d{3})(\d{4})$",
            "($1) $2-$3",
        ),
    ] {
        add_format(
            store,
            Some(guid),
            "1",
            description,
            pattern,
            replacement,
            None,
        );
    }
}

/// Adds a value of the "Phone Country Code" defined type with its two attribute values;
/// `order` none: after the others. Returns the value's id.
pub fn add_format(
    store: &mut Store,
    guid: Option<&str>,
    country: &str,
    description: &str,
    pattern: &str,
    replacement: &str,
    order: Option<i64>,
) -> i64 {
    let type_id = store
        .find_by_guid(Entity::DefinedType, g::DT_PHONE_COUNTRY_CODE)
        .and_then(|r| int(r, "Id"))
        .unwrap_or(0);
    let order = order.unwrap_or_else(|| {
        store
            .rows(Entity::DefinedValue)
            .filter(|v| int(v, "DefinedTypeId") == Some(type_id))
            .filter_map(|v| int(v, "Order"))
            .max()
            .map_or(0, |o| o + 1)
    });
    let mut fields = json!({"DefinedTypeId": type_id, "Value": country,
        "Description": description, "Order": order, "IsActive": true});
    if let Some(guid) = guid {
        fields["Guid"] = json!(guid);
    }
    let value = add(store, Entity::DefinedValue, fields);
    for (attribute, text) in [
        (g::ATTRIBUTE_PHONE_MATCH_REGEX, pattern),
        (g::ATTRIBUTE_PHONE_FORMAT_REGEX, replacement),
    ] {
        let attribute = store
            .find_by_guid(Entity::Attribute, attribute)
            .and_then(|r| int(r, "Id"))
            .unwrap_or(0);
        add(
            store,
            Entity::AttributeValue,
            json!({"AttributeId": attribute, "EntityId": value, "Value": text}),
        );
    }
    refresh(store);
    value
}

/// After a save of `entity` row `id`: the digest is read again when the row is one it comes
/// from.
pub fn after_save(store: &mut Store, entity: Entity, id: i64) {
    let formats = &store.phone_formats;
    let Some(row) = store.get(entity, id) else {
        return;
    };
    let touched = match entity {
        Entity::DefinedValue => int(row, "DefinedTypeId") == formats.defined_type,
        Entity::AttributeValue => {
            int(row, "AttributeId").is_some_and(|a| formats.attributes.contains(&a))
        }
        Entity::Attribute => matches!(text(row, "Key"), Some("MatchRegEx" | "FormatRegEx")),
        _ => false,
    };
    if touched {
        refresh(store);
    }
}

/// Reads the formats from their rows.
pub fn refresh(store: &mut Store) {
    store.phone_formats = read(store);
}

fn read(store: &Store) -> Formats {
    let Some(type_id) = store
        .find_by_guid(Entity::DefinedType, g::DT_PHONE_COUNTRY_CODE)
        .and_then(|r| int(r, "Id"))
    else {
        return Formats::default();
    };
    let qualified = type_id.to_string();
    let attribute = |key: &str| {
        store
            .rows(Entity::Attribute)
            .find(|a| {
                text(a, "Key") == Some(key)
                    && text(a, "EntityTypeQualifierColumn") == Some("DefinedTypeId")
                    && text(a, "EntityTypeQualifierValue") == Some(qualified.as_str())
            })
            .and_then(|a| int(a, "Id"))
    };
    let (Some(matches), Some(formats)) = (attribute("MatchRegEx"), attribute("FormatRegEx")) else {
        return Formats {
            defined_type: Some(type_id),
            ..Formats::default()
        };
    };
    let mut values: Vec<&Row> = store
        .rows(Entity::DefinedValue)
        .filter(|v| int(v, "DefinedTypeId") == Some(type_id))
        .filter(|v| v.get("IsActive").and_then(|a| a.as_bool()) != Some(false))
        .collect();
    values.sort_by_key(|v| (int(v, "Order").unwrap_or(0), int(v, "Id")));
    let ids: Vec<i64> = values.iter().filter_map(|v| int(v, "Id")).collect();
    let mut texts: std::collections::HashMap<(i64, i64), String> = Default::default();
    for value in store.rows(Entity::AttributeValue) {
        let (Some(attribute), Some(entity)) = (int(value, "AttributeId"), int(value, "EntityId"))
        else {
            continue;
        };
        if (attribute == matches || attribute == formats) && ids.contains(&entity) {
            texts.insert(
                (attribute, entity),
                text(value, "Value").unwrap_or("").to_string(),
            );
        }
    }
    let value_of =
        |attribute: i64, entity: i64| texts.get(&(attribute, entity)).cloned().unwrap_or_default();
    Formats {
        formats: values
            .iter()
            .filter_map(|v| {
                let id = int(v, "Id")?;
                Some(CountryFormat::new(
                    text(v, "Value")?.to_string(),
                    &value_of(matches, id),
                    &value_of(formats, id),
                ))
            })
            .collect(),
        defined_type: Some(type_id),
        attributes: vec![matches, formats],
    }
}

fn add(store: &mut Store, entity: Entity, fields: serde_json::Value) -> i64 {
    let mut row = Store::blank(entity);
    if let serde_json::Value::Object(fields) = fields {
        row.extend(fields);
    }
    store.insert_unchecked(entity, row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> Store {
        let clock = std::sync::Arc::new(crate::clock::Clock::new(
            crate::ClockMode::Fixed(1_714_521_600),
            jiff::tz::TimeZone::UTC,
        ));
        let mut store = Store::new(clock, 1);
        crate::seed::system(&mut store);
        store
    }

    // PhoneNumber.Logic.cs `FormattedNumber` with the US formats a fresh Rock holds.
    #[test]
    fn numbers_are_formatted_by_the_installs_country_formats() {
        let mut store = fresh();
        let us = |store: &Store, n: &str| store.phone_formats.format("1", n);
        assert_eq!(us(&store, "555.123.4567"), "(555) 123-4567");
        assert_eq!(us(&store, "1234567"), "123-4567");
        // The country-code rule drops the leading 1.
        assert_eq!(us(&store, "+1 623-555-1234"), "(623) 555-1234");
        assert_eq!(us(&store, "442079460958"), "442079460958");
        assert_eq!(store.phone_formats.default_country_code(), "1");
        // An install in Britain puts its own format first: it becomes the default country.
        add_format(
            &mut store,
            None,
            "44",
            "UK London",
            r"^0?20(\d{4})(\d{4})$",
            "020 $1 $2",
            Some(-1),
        );
        assert_eq!(store.phone_formats.default_country_code(), "44");
        assert_eq!(
            store.phone_formats.format("44", "+44 20 7946 0958"),
            "442079460958"
        );
        assert_eq!(
            store.phone_formats.format("44", "020 7946 0958"),
            "020 7946 0958"
        );
    }
}
