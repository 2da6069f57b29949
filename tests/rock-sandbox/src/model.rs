//! Rock 17's REST v1 model (`model/rock-17.json`, summarised in `model/README.md`), embedded
//! and parsed once. Every fact in it carries its source (a Rock file and line, a web.config
//! line or the ASP.NET Web API OData library); the sandbox's OData model, its JSON rows and
//! what it takes from a POST/PUT body are derived from it, so what the file says Rock refuses,
//! the sandbox refuses.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

/// The model file, as committed.
pub const MODEL_JSON: &str = include_str!("../model/rock-17.json");

#[derive(Debug, Default, Deserialize)]
pub struct RockModel {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub rules: Value,
    #[serde(default)]
    pub entities: BTreeMap<String, ModelEntity>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ModelEntity {
    #[serde(default)]
    pub rest_route: String,
    #[serde(default)]
    pub properties: BTreeMap<String, ModelProperty>,
    #[serde(default)]
    pub navigation: BTreeMap<String, ModelNavigation>,
    #[serde(default)]
    pub not_exposed: BTreeMap<String, Value>,
    #[serde(default)]
    pub enums: BTreeMap<String, ModelEnum>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ModelProperty {
    #[serde(rename = "type", default)]
    pub ty: String,
    #[serde(default, deserialize_with = "flag")]
    pub data_member: bool,
    /// In the OData model: `[DataMember]` and not `[NotMapped]` (Web API OData's
    /// `DataContractAttributeEdmTypeConvention` and `NotMappedAttributeConvention`).
    #[serde(default, deserialize_with = "flag")]
    pub in_odata_model: bool,
    /// Written in the v1 JSON (`[DataMember]`, RockJsonMediaTypeFormatter's DataContract
    /// resolver).
    #[serde(default, deserialize_with = "flag")]
    pub serialized: bool,
    #[serde(default)]
    pub source: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ModelNavigation {
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub collection: bool,
    #[serde(default)]
    pub data_member: bool,
    #[serde(default)]
    pub expandable: bool,
    #[serde(default)]
    pub source: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ModelEnum {
    #[serde(default)]
    pub enum_type: String,
    #[serde(default)]
    pub members: BTreeMap<String, i64>,
    #[serde(default)]
    pub flags: bool,
    #[serde(default)]
    pub source: String,
}

/// A yes/no of the model: `true`/`false`, or a word where the file could not confirm it
/// ("unverified", "presumed (if [DataMember])": the 17.0 columns whose `[DataMember]` was not
/// read in the model source, see model/README.md), taken as yes: the sandbox does not refuse
/// what Rock may well accept.
fn flag<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Bool(b) => b,
        Value::String(s) => !s.trim().is_empty(),
        _ => false,
    })
}

/// The model file parsed, or why it does not parse.
pub fn parse() -> Result<RockModel, String> {
    serde_json::from_str(MODEL_JSON).map_err(|e| e.to_string())
}

/// The parsed model. A file that does not parse gives an empty model (every entity then falls
/// back to the sandbox's own columns); `tests/model.rs` fails on that.
pub fn model() -> &'static RockModel {
    static MODEL: OnceLock<RockModel> = OnceLock::new();
    MODEL.get_or_init(|| parse().unwrap_or_default())
}

/// The model of the Rock entity whose C# type name is `type_name` (e.g. `PersonAlias`).
pub fn entity(type_name: &str) -> Option<&'static ModelEntity> {
    model().entities.get(type_name)
}

impl ModelEntity {
    /// Whether `name` can be written in the JSON of a row: a serialized property or a
    /// `[DataMember]` navigation.
    pub fn serializes(&self, name: &str) -> bool {
        self.properties.get(name).is_some_and(|p| p.serialized)
            || self.navigation.get(name).is_some_and(|n| n.data_member)
    }
}
