//! JSON:API resource objects and documents as typed values, serialised in PCO's key order
//! (`type`, `id`, `attributes`, `relationships`, `links`; `links`, `data`, `included`, `meta`).
//!
//! Typed rather than built as `serde_json::Value`: a page of 100 people with their contacts is
//! about 500 resources, and building and freeing that many maps dominated the sandbox's time.
//! Attributes of the hot resources (people and their contacts) are typed structs in `render`;
//! the others are plain JSON values.

use std::collections::HashSet;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// `{"type": "Person", "id": "1"}`
#[derive(Clone, Debug, serde::Serialize)]
pub struct Ref {
    #[serde(rename = "type")]
    pub ty: &'static str,
    pub id: String,
}

impl Ref {
    pub fn new(ty: &'static str, id: u64) -> Ref {
        Ref {
            ty,
            id: id.to_string(),
        }
    }
}

/// A resource object.
#[derive(Debug, serde::Serialize)]
pub struct Resource {
    #[serde(rename = "type")]
    pub ty: &'static str,
    pub id: String,
    pub attributes: Attributes,
    pub relationships: Relationships,
    pub links: Links,
}

impl Resource {
    pub fn new(
        ty: &'static str,
        id: impl ToString,
        attributes: impl Into<Attributes>,
        relationships: Relationships,
        self_link: String,
    ) -> Resource {
        Resource {
            ty,
            id: id.to_string(),
            attributes: attributes.into(),
            relationships,
            links: Links { self_link },
        }
    }

    pub fn reference(&self) -> Ref {
        Ref {
            ty: self.ty,
            id: self.id.clone(),
        }
    }

    /// The resource as a JSON value (for the admin endpoints, which are not hot).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[derive(Debug, serde::Serialize)]
pub struct Links {
    #[serde(rename = "self")]
    pub self_link: String,
}

/// Typed attribute sets for the resources served by the thousand, JSON for the rest.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum Attributes {
    Person(Box<crate::render::PersonAttributes>),
    Email(crate::render::EmailAttributes),
    Phone(crate::render::PhoneAttributes),
    Address(crate::render::AddressAttributes),
    ServicesPerson(Box<crate::render::ServicesPersonAttributes>),
    Json(Value),
}

impl From<Value> for Attributes {
    fn from(v: Value) -> Attributes {
        Attributes::Json(v)
    }
}

/// One relationship: `{"links": {"related": ...}, "data": ...}` (links only when given).
#[derive(Debug, serde::Serialize)]
pub struct Relationship {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<Related>,
    pub data: RelData,
}

#[derive(Debug, serde::Serialize)]
pub struct Related {
    pub related: String,
}

#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum RelData {
    One(Option<Ref>),
    Many(Vec<Ref>),
}

/// Relationships by name, in insertion order.
#[derive(Debug, Default)]
pub struct Relationships(Vec<(String, Relationship)>);

impl Relationships {
    pub fn new() -> Relationships {
        Relationships::default()
    }

    /// A to-one relationship (`data` null when `target` is None).
    pub fn one(mut self, name: &str, target: Option<Ref>) -> Relationships {
        self.0.push((
            name.to_string(),
            Relationship {
                links: None,
                data: RelData::One(target),
            },
        ));
        self
    }

    /// A to-many relationship with its `related` link.
    pub fn many(mut self, name: &str, targets: Vec<Ref>, related: Option<String>) -> Relationships {
        let links = related.map(|related| Related { related });
        self.0.push((
            name.to_string(),
            Relationship {
                links,
                data: RelData::Many(targets),
            },
        ));
        self
    }
}

impl Serialize for Relationships {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, relationship) in &self.0 {
            map.serialize_entry(name, relationship)?;
        }
        map.end()
    }
}

/// Included resources, without duplicates as PCO sends them (research §2.2).
#[derive(Default)]
pub struct Included {
    seen: HashSet<(&'static str, String)>,
    items: Vec<Resource>,
}

impl Included {
    /// Adds `resource` unless already there; returns its reference either way.
    pub fn push(&mut self, resource: Resource) -> Ref {
        let reference = resource.reference();
        if self.seen.insert((reference.ty, reference.id.clone())) {
            self.items.push(resource);
        }
        reference
    }

    pub fn into_vec(self) -> Vec<Resource> {
        self.items
    }
}

/// A whole JSON:API document.
#[derive(serde::Serialize)]
pub struct Document {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<Value>,
    pub data: Data,
    pub included: Vec<Resource>,
    pub meta: Value,
}

#[derive(serde::Serialize)]
#[serde(untagged)]
pub enum Data {
    One(Box<Resource>),
    Many(Vec<Resource>),
}
