//! The in-memory database: one table of JSON rows per entity, and the save pipeline every
//! write goes through (Rock's save hooks, validation, audit stamps).

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::clock::{Clock, format_datetime};
use crate::rewrites;
use crate::schema::{Entity, is_audit_column};

/// One entity as stored and served: PascalCase keys, JSON-ready values.
pub type Row = Map<String, Value>;

#[derive(Debug, Default)]
struct Table {
    rows: BTreeMap<i64, Row>,
    next_id: i64,
}

/// Ids of the well-known rows (resolved from their GUIDs once, after seeding the system data).
#[derive(Clone, Debug, Default)]
pub struct Known {
    pub phone_mobile: i64,
    pub phone_home: i64,
    pub phone_work: i64,
    pub location_home: i64,
    pub location_work: i64,
    pub location_previous: i64,
    pub record_active: i64,
    pub record_type_person: i64,
    pub record_type_rest_user: i64,
    pub record_type_business: i64,
    pub record_type_nameless: i64,
    pub connection_visitor: i64,
    pub marital_married: i64,
    pub marital_single: i64,
    pub family_type: i64,
    pub family_adult: i64,
    pub family_child: i64,
    pub person_entity_type: i64,
    pub group_entity_type: i64,
    pub person_image_type: i64,
}

pub struct Store {
    tables: HashMap<Entity, Table>,
    pub clock: Arc<Clock>,
    pub known: Known,
    /// Bytes of each binary file, by BinaryFile id.
    pub blobs: HashMap<i64, Vec<u8>>,
    /// The PersonAlias of the REST key's person: stamped as `ModifiedByPersonAliasId` on writes.
    pub rest_alias_id: Option<i64>,
    /// The PersonAlias of the staff key's person (a second REST key standing for staff
    /// editing in Rock), when the sandbox has one.
    pub staff_alias_id: Option<i64>,
    /// (GroupRequirementType id, person id) pairs that meet an SQL or data view requirement:
    /// what Rock learns by running the type's query (`GroupRequirement.PersonMeetsGroupRequirement`
    /// in Rock/Model/Group/GroupRequirement/GroupRequirement.Logic.cs), set by tests here.
    pub requirements_met: HashSet<(i64, i64)>,
    /// The location types each group type allows (Rock's GroupTypeLocationType rows,
    /// `GroupType.LocationTypes`), by group type id.
    pub location_types: HashMap<i64, Vec<i64>>,
    /// The install's phone formats (`crate::phones`), read from their rows.
    pub phone_formats: crate::phones::Formats,
    guid_state: u64,
}

/// Why a save was refused: Rock's 400 with the validation messages joined by commas.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid(pub Vec<String>);

impl Invalid {
    pub fn one(message: impl Into<String>) -> Invalid {
        Invalid(vec![message.into()])
    }
    pub fn message(&self) -> String {
        self.0.join(",")
    }
}

impl Store {
    pub fn new(clock: Arc<Clock>, guid_seed: u64) -> Store {
        let tables = Entity::ALL
            .iter()
            .map(|e| {
                (
                    *e,
                    Table {
                        rows: BTreeMap::new(),
                        next_id: e.first_id(),
                    },
                )
            })
            .collect();
        Store {
            tables,
            clock,
            known: Known::default(),
            blobs: HashMap::new(),
            rest_alias_id: None,
            staff_alias_id: None,
            requirements_met: HashSet::new(),
            location_types: HashMap::new(),
            phone_formats: Default::default(),
            guid_state: guid_seed ^ 0x5eed_0fa1_1b0b,
        }
    }

    fn table(&self, entity: Entity) -> &Table {
        // Every entity gets a table in `new`; an empty static keeps this total anyway.
        static EMPTY: Table = Table {
            rows: BTreeMap::new(),
            next_id: 0,
        };
        self.tables.get(&entity).unwrap_or(&EMPTY)
    }

    fn table_mut(&mut self, entity: Entity) -> &mut Table {
        self.tables.entry(entity).or_default()
    }

    pub fn get(&self, entity: Entity, id: i64) -> Option<&Row> {
        self.table(entity).rows.get(&id)
    }

    pub fn rows(&self, entity: Entity) -> impl Iterator<Item = &Row> {
        self.table(entity).rows.values()
    }

    /// Rows of `entity` whose `column` equals `value`.
    pub fn find_by(&self, entity: Entity, column: &str, value: i64) -> Vec<&Row> {
        self.rows(entity)
            .filter(|r| int(r, column) == Some(value))
            .collect()
    }

    pub fn find_by_guid(&self, entity: Entity, guid: &str) -> Option<&Row> {
        self.rows(entity)
            .find(|r| text(r, "Guid").is_some_and(|g| g.eq_ignore_ascii_case(guid)))
    }

    pub fn id_of_guid(&self, entity: Entity, guid: &str) -> i64 {
        self.find_by_guid(entity, guid)
            .and_then(|r| int(r, "Id"))
            .unwrap_or(0)
    }

    /// A fresh GUID, deterministic for a given seed and sequence of creations.
    pub fn new_guid(&mut self) -> String {
        let a = splitmix(&mut self.guid_state);
        let b = splitmix(&mut self.guid_state);
        guid_from(a, b)
    }

    /// A row with every column at its default (what Rock's deserializer starts from).
    pub fn blank(entity: Entity) -> Row {
        entity
            .columns()
            .iter()
            .map(|c| (c.name.to_string(), c.default.clone()))
            .collect()
    }

    /// Inserts a new row through Rock's save pipeline; returns its id.
    pub fn insert(&mut self, entity: Entity, mut row: Row) -> Result<i64, Invalid> {
        rewrites::before_save(self, entity, &mut row, None);
        rewrites::validate(self, entity, &row, None)?;
        let id = self.insert_unchecked(entity, row);
        rewrites::after_save(self, entity, id, None);
        Ok(id)
    }

    /// Stores a new row as given (seeding and internal side effects): ids, GUID and audit
    /// stamps only, no hooks.
    pub fn insert_unchecked(&mut self, entity: Entity, mut row: Row) -> i64 {
        let id = {
            let table = self.table_mut(entity);
            let id = table.next_id;
            table.next_id += 1;
            id
        };
        row.insert("Id".into(), Value::from(id));
        let has_guid = text(&row, "Guid").is_some_and(|g| !g.starts_with("00000000-0000"));
        if !has_guid {
            let guid = self.new_guid();
            row.insert("Guid".into(), Value::from(guid));
        }
        let now = Value::from(format_datetime(self.clock.now()));
        if row.get("CreatedDateTime").is_none_or(Value::is_null) {
            row.insert("CreatedDateTime".into(), now.clone());
        }
        row.insert("ModifiedDateTime".into(), now);
        let alias = self.current_alias().map_or(Value::Null, Value::from);
        row.insert("CreatedByPersonAliasId".into(), alias.clone());
        row.insert("ModifiedByPersonAliasId".into(), alias);
        self.table_mut(entity).rows.insert(id, row.clone());
        self.touch_people(entity, &row);
        id
    }

    /// Whose writes these are: the person alias of the key of the request being served
    /// (`DbContext` stamps `ModifiedByPersonAliasId` with the current person's alias,
    /// Rock/Data/DbContext.cs); the REST key's outside a request.
    pub fn current_alias(&self) -> Option<i64> {
        ACTING_ALIAS.with(Cell::get).or(self.rest_alias_id)
    }

    /// The persons whose `ModifiedDateTime` Rock moves when a row of `entity` is added,
    /// changed or deleted, stamped with that row's `ModifiedByPersonAliasId` (on a delete
    /// the deleted row's last modifier, which `DbContext` does not restamp), always, without
    /// the person's own save pipeline (Rock's hooks write it with a bulk update or SQL):
    /// - a PhoneNumber: its person (`PostSave` in Rock/Model/CRM/PhoneNumber/PhoneNumber.SaveHook.cs);
    /// - a GroupLocation of a family: every member of the family (`PostSave` in
    ///   Rock/Model/Group/GroupLocation/GroupLocation.SaveHook.cs);
    /// - an AttributeValue of a person attribute: its person (`PostSave` in
    ///   Rock/Model/Core/AttributeValue/AttributeValue.SaveHook.cs).
    fn touch_people(&mut self, entity: Entity, row: &Row) {
        let people: Vec<i64> = match entity {
            Entity::PhoneNumber => int(row, "PersonId").into_iter().collect(),
            Entity::GroupLocation => {
                let family = int(row, "GroupId")
                    .and_then(|g| self.get(Entity::Group, g))
                    .is_some_and(|g| int(g, "GroupTypeId") == Some(self.known.family_type));
                if family {
                    let group = int(row, "GroupId");
                    self.rows(Entity::GroupMember)
                        .filter(|m| int(m, "GroupId") == group)
                        .filter_map(|m| int(m, "PersonId"))
                        .collect()
                } else {
                    Vec::new()
                }
            }
            Entity::AttributeValue => {
                let of_person = int(row, "AttributeId")
                    .and_then(|a| self.get(Entity::Attribute, a))
                    .is_some_and(|a| int(a, "EntityTypeId") == Some(self.known.person_entity_type));
                if of_person {
                    int(row, "EntityId").into_iter().collect()
                } else {
                    Vec::new()
                }
            }
            _ => return,
        };
        let alias = row
            .get("ModifiedByPersonAliasId")
            .cloned()
            .unwrap_or(Value::Null);
        let now = Value::from(format_datetime(self.clock.now()));
        for person in people {
            if let Some(p) = self.raw_mut(Entity::Person, person) {
                p.insert("ModifiedDateTime".into(), now.clone());
                p.insert("ModifiedByPersonAliasId".into(), alias.clone());
            }
        }
    }

    /// Replaces a row through the save pipeline. Returns whether anything really changed:
    /// an unchanged save keeps the stored row, `ModifiedDateTime` included.
    pub fn update(&mut self, entity: Entity, id: i64, mut row: Row) -> Result<bool, Invalid> {
        let Some(prior) = self.get(entity, id).cloned() else {
            return Err(Invalid::one(format!(
                "{} {id} not found",
                entity.type_name()
            )));
        };
        row.insert("Id".into(), Value::from(id));
        for audit in ["CreatedDateTime", "CreatedByPersonAliasId"] {
            row.insert(
                audit.into(),
                prior.get(audit).cloned().unwrap_or(Value::Null),
            );
        }
        let sent = row.clone();
        rewrites::before_save(self, entity, &mut row, Some(&prior));
        rewrites::validate(self, entity, &row, Some(&prior))?;
        if !self.store_if_changed(entity, id, row, &prior) {
            // A save whose change Rock's own hook undid: Entity Framework still saw the
            // property modified, so `DbContext` stamps the row (Rock/Data/DbContext.cs) and
            // the entity's PostSave hook runs, though no value changed.
            if !same_content(&sent, &prior) {
                self.stamp(entity, id);
            }
            return Ok(false);
        }
        rewrites::after_save(self, entity, id, Some(&prior));
        Ok(true)
    }

    /// Stores `row` over `prior` when a non-audit column differs, stamping it modified now.
    pub fn store_if_changed(&mut self, entity: Entity, id: i64, mut row: Row, prior: &Row) -> bool {
        if same_content(&row, prior) {
            return false;
        }
        row.insert(
            "ModifiedDateTime".into(),
            Value::from(format_datetime(self.clock.now())),
        );
        let alias = self.current_alias().map_or(Value::Null, Value::from);
        row.insert("ModifiedByPersonAliasId".into(), alias);
        self.table_mut(entity).rows.insert(id, row.clone());
        self.touch_people(entity, &row);
        true
    }

    /// Stamps a stored row modified now by the current alias, and runs the person stamps of
    /// its save hook, though none of its values changed.
    fn stamp(&mut self, entity: Entity, id: i64) {
        let now = Value::from(format_datetime(self.clock.now()));
        let alias = self.current_alias().map_or(Value::Null, Value::from);
        let Some(row) = self.raw_mut(entity, id) else {
            return;
        };
        row.insert("ModifiedDateTime".into(), now);
        row.insert("ModifiedByPersonAliasId".into(), alias);
        let row = row.clone();
        self.touch_people(entity, &row);
    }

    /// Applies `change` to a stored row without hooks (internal side effects such as a
    /// spouse's anniversary or Home → Previous), stamping it only if it really changed.
    pub fn modify(&mut self, entity: Entity, id: i64, change: impl FnOnce(&mut Row)) -> bool {
        let Some(prior) = self.get(entity, id).cloned() else {
            return false;
        };
        let mut row = prior.clone();
        change(&mut row);
        self.store_if_changed(entity, id, row, &prior)
    }

    /// Direct access for seeding and for values computed while a row is being created; no
    /// hooks, no stamps.
    pub fn raw_mut(&mut self, entity: Entity, id: i64) -> Option<&mut Row> {
        self.table_mut(entity).rows.get_mut(&id)
    }

    /// Sets every row's created and modified stamps (seed data is older than the test, and
    /// was entered by nobody the REST keys stand for, as Rock's migrations and imports leave
    /// the person alias stamps null).
    pub fn stamp_all(&mut self, stamp: &str) {
        for table in self.tables.values_mut() {
            for row in table.rows.values_mut() {
                set(row, "CreatedDateTime", stamp);
                set(row, "ModifiedDateTime", stamp);
                if row.contains_key("ModifiedByPersonAliasId") {
                    row.insert("CreatedByPersonAliasId".into(), Value::Null);
                    row.insert("ModifiedByPersonAliasId".into(), Value::Null);
                }
            }
        }
    }

    /// Deletes a row, with the person stamps of its save hook (see `touch_people`).
    pub fn remove(&mut self, entity: Entity, id: i64) -> Option<Row> {
        let row = self.table_mut(entity).rows.remove(&id)?;
        self.touch_people(entity, &row);
        Some(row)
    }
}

thread_local! {
    /// The person alias of the key whose request this thread is serving (see [`acting_as`]).
    static ACTING_ALIAS: Cell<Option<i64>> = const { Cell::new(None) };
}

/// Runs `f` (the synchronous handling of one request) with `alias` as the current person's
/// alias, so every row it writes is stamped as Rock stamps the caller's writes.
pub fn acting_as<T>(alias: Option<i64>, f: impl FnOnce() -> T) -> T {
    let before = ACTING_ALIAS.with(|a| a.replace(alias));
    let result = f();
    ACTING_ALIAS.with(|a| a.set(before));
    result
}

fn same_content(a: &Row, b: &Row) -> bool {
    let differs = |x: &Row, y: &Row| {
        x.iter()
            .any(|(k, v)| !is_audit_column(k) && y.get(k).unwrap_or(&Value::Null) != v)
    };
    !differs(a, b) && !differs(b, a)
}

/// An integer column (None when null or absent).
pub fn int(row: &Row, column: &str) -> Option<i64> {
    row.get(column).and_then(Value::as_i64)
}

/// A string column (None when null or absent).
pub fn text<'a>(row: &'a Row, column: &str) -> Option<&'a str> {
    row.get(column).and_then(Value::as_str)
}

pub fn flag(row: &Row, column: &str) -> bool {
    row.get(column).and_then(Value::as_bool).unwrap_or(false)
}

pub fn set(row: &mut Row, column: &str, value: impl Into<Value>) {
    row.insert(column.to_string(), value.into());
}

pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A version-4-shaped GUID from 128 bits, lowercase as Rock serialises GUIDs.
pub fn guid_from(a: u64, b: u64) -> String {
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x4000;
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_look_like_guids() {
        let g = guid_from(1, 2);
        assert_eq!(g.len(), 36);
        assert_eq!(g.as_bytes()[14], b'4');
    }
}
