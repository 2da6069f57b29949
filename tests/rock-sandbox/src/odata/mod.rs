//! The OData v3 query options Rock's v1 list endpoints accept (`[EnableQuery]`, research
//! §8.4): `$filter`, `$orderby`, `$top`, `$skip`, `$select`, `$expand`. No page cap: a
//! client asking for everything gets everything.

mod filter;
mod lexer;

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::Value;

pub use filter::Expr;
pub use lexer::parse_guid;

use crate::schema::{Entity, Kind, Nav};
use crate::store::{Row, Store, flag, int};

/// The parsed query options of one request.
#[derive(Debug, Default)]
pub struct Query {
    pub filter: Option<Expr>,
    pub order: Vec<(&'static str, Kind, bool)>,
    pub top: Option<usize>,
    pub skip: Option<usize>,
    pub select: Option<Vec<String>>,
    pub expand: Vec<Vec<String>>,
}

const OPTIONS: [&str; 6] = ["$filter", "$orderby", "$top", "$skip", "$select", "$expand"];

/// Why a query was refused: Rock answers a 400 for what the URI parser or the validator
/// refuses (`ODataException`, which `EnableQueryAttribute` turns into "The query specified in
/// the URI is not valid."), and a 500 for what fails later, when the query is bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    /// A 500 (binding), not a 400 (parsing or validation).
    pub server_error: bool,
    /// The inner message (the `ODataException`'s), which Rock does not show (see
    /// `routes::odata_error`).
    pub detail: String,
}

impl QueryError {
    pub fn bad(detail: String) -> QueryError {
        QueryError {
            server_error: false,
            detail,
        }
    }

    pub fn server(detail: String) -> QueryError {
        QueryError {
            server_error: true,
            detail,
        }
    }
}

impl From<String> for QueryError {
    fn from(detail: String) -> QueryError {
        QueryError::bad(detail)
    }
}

/// Counts the nodes of `$filter` `text` on `entity` as Web API OData's `FilterQueryValidator`
/// does (see [`filter::parse_counted`]), with no limit.
pub fn node_count(entity: Entity, text: &str) -> Result<usize, QueryError> {
    filter::parse_counted(text, entity, None).map(|(_, n)| n)
}

/// Reads the `$` options from a request's query parameters.
pub fn parse_query(
    entity: Entity,
    params: &[(String, String)],
    max_nodes: Option<usize>,
) -> Result<Query, QueryError> {
    let mut query = Query::default();
    // Binding comes after every option has been parsed and validated.
    let mut bind_error = None;
    for (name, value) in params {
        if !name.starts_with('$') {
            continue;
        }
        if !OPTIONS.contains(&name.as_str()) {
            return Err(format!("The query parameter '{name}' is not supported.").into());
        }
        match name.as_str() {
            "$filter" => match filter::parse(value, entity, max_nodes) {
                Ok(expr) => query.filter = Some(expr),
                Err(e) if e.server_error => bind_error = Some(e),
                Err(e) => return Err(e),
            },
            "$orderby" => query.order = parse_orderby(entity, value)?,
            "$top" => query.top = Some(parse_count("$top", value)?),
            "$skip" => query.skip = Some(parse_count("$skip", value)?),
            "$expand" => query.expand = parse_expand(entity, value)?,
            _ => query.select = Some(split_list(value)),
        }
    }
    if let Some(select) = &query.select {
        check_select(entity, select, &query.expand)?;
    }
    match bind_error {
        Some(e) => Err(e),
        None => Ok(query),
    }
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn parse_count(option: &str, value: &str) -> Result<usize, String> {
    value.trim().parse::<usize>().map_err(|_| {
        format!("Invalid value '{value}' for {option} query option found. The {option} query option requires a non-negative integer value.")
    })
}

fn missing(entity: Entity, name: &str) -> String {
    format!(
        "Could not find a property named '{name}' on type '{}'.",
        entity.full_name()
    )
}

fn parse_orderby(entity: Entity, value: &str) -> Result<Vec<(&'static str, Kind, bool)>, String> {
    split_list(value)
        .iter()
        .map(|clause| {
            let mut words = clause.split_whitespace();
            let name = words.next().unwrap_or("");
            let descending = match words.next() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(other) => {
                    return Err(format!(
                        "Syntax error: '{other}' is not 'asc' or 'desc' in $orderby."
                    ));
                }
            };
            if words.next().is_some() {
                return Err(format!("Syntax error in $orderby clause '{clause}'."));
            }
            let column = entity
                .query_column(name)
                .ok_or_else(|| missing(entity, name))?;
            Ok((column.name, column.kind, descending))
        })
        .collect()
}

fn parse_expand(entity: Entity, value: &str) -> Result<Vec<Vec<String>>, String> {
    split_list(value)
        .into_iter()
        .map(|path| {
            let segments: Vec<String> = path.split('/').map(str::to_string).collect();
            let mut current = entity;
            for segment in &segments {
                // Only `[DataMember]` navigations are in the OData model (the model's
                // `expandable`); any other name is the same 400 as an unknown property.
                if !current.expandable(segment) {
                    return Err(missing(current, segment));
                }
                current = match current.nav(segment) {
                    Some(Nav::Reference { target, .. } | Nav::Collection { target, .. }) => target,
                    None => {
                        return Err(format!(
                            "The sandbox does not implement $expand of '{segment}' on type '{}'.",
                            current.full_name()
                        ));
                    }
                };
            }
            Ok(segments)
        })
        .collect()
}

fn check_select(entity: Entity, select: &[String], expand: &[Vec<String>]) -> Result<(), String> {
    for name in select {
        let known = name == "*"
            || entity.query_column(name).is_some()
            || expand.iter().any(|path| path.first() == Some(name));
        if !known {
            return Err(missing(entity, name));
        }
    }
    Ok(())
}

/// Filters, orders and pages rows (the part of a query that decides *which* rows).
pub fn select_rows<'a>(rows: impl Iterator<Item = &'a Row>, query: &Query) -> Vec<&'a Row> {
    let mut picked: Vec<&Row> = match &query.filter {
        Some(expr) => rows.filter(|r| filter::matches(expr, r)).collect(),
        None => rows.collect(),
    };
    if !query.order.is_empty() {
        // A stable sort keeps Id order among equal keys, as SQL Server usually does.
        picked.sort_by(|a, b| compare_rows(a, b, &query.order));
    }
    let skip = query.skip.unwrap_or(0);
    let top = query.top.unwrap_or(usize::MAX);
    picked.into_iter().skip(skip).take(top).collect()
}

fn compare_rows(a: &Row, b: &Row, order: &[(&'static str, Kind, bool)]) -> Ordering {
    for (name, kind, descending) in order {
        let left = filter::column_value(a.get(*name), *kind);
        let right = filter::column_value(b.get(*name), *kind);
        let ordering = filter::order(&left, &right).unwrap_or(Ordering::Equal);
        let ordering = if *descending {
            ordering.reverse()
        } else {
            ordering
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

/// Builds the JSON of each row: navigation properties (null unless expanded), `$expand`ed
/// ones loaded, then `$select` applied.
pub fn shape(store: &Store, entity: Entity, rows: Vec<Row>, query: &Query) -> Vec<Value> {
    let mut expander = Expander {
        store,
        index: HashMap::new(),
    };
    rows.into_iter()
        .map(|mut row| {
            with_nav_nulls(entity, &mut row);
            for path in &query.expand {
                expander.expand(entity, &mut row, path);
            }
            if let Some(select) = &query.select {
                project(&mut row, select, &query.expand);
            }
            serialized(entity, &mut row);
            Value::Object(row)
        })
        .collect()
}

/// Navigation properties and attributes Rock serialises as null when not loaded.
pub fn with_nav_nulls(entity: Entity, row: &mut Row) {
    for name in entity.nav_names() {
        row.entry(name.to_string()).or_insert(Value::Null);
    }
    if entity.has_attributes() {
        row.entry("Attributes").or_insert(Value::Null);
        row.entry("AttributeValues").or_insert(Value::Null);
    }
}

/// Leaves in a row only what Rock's v1 JSON writes for its entity ([`Entity::serializes`]).
pub fn serialized(entity: Entity, row: &mut Row) {
    row.retain(|key, _| entity.serializes(key));
}

fn project(row: &mut Row, select: &[String], expand: &[Vec<String>]) {
    if select.iter().any(|s| s == "*") {
        return;
    }
    // A projection is a wrapper of the selected and expanded members only: no navigation
    // nulls and no `Attributes` (see `routes::load_attributes`).
    row.retain(|key, _| {
        select.iter().any(|s| s == key)
            || expand.iter().any(|p| p.first().is_some_and(|f| f == key))
    });
}

/// Loads navigation properties, indexing each child table once per request so expanding a
/// page of a thousand people costs one pass over their phone numbers, not a thousand.
pub struct Expander<'a> {
    store: &'a Store,
    index: HashMap<(Entity, &'static str), HashMap<i64, Vec<&'a Row>>>,
}

impl<'a> Expander<'a> {
    pub fn expand(&mut self, entity: Entity, row: &mut Row, path: &[String]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        let Some(nav) = entity.nav(first) else { return };
        let value = match nav {
            Nav::Reference { fk, target } => {
                let existing = row.get(first.as_str()).and_then(Value::as_object).cloned();
                let child = existing.or_else(|| {
                    int(row, fk)
                        .and_then(|id| self.store.get(target, id))
                        .cloned()
                });
                child.map_or(Value::Null, |mut child| {
                    with_nav_nulls(target, &mut child);
                    self.expand(target, &mut child, rest);
                    serialized(target, &mut child);
                    Value::Object(child)
                })
            }
            Nav::Collection { target, fk } => {
                let id = int(row, "Id").unwrap_or(0);
                let children = match row.get(first.as_str()).and_then(Value::as_array) {
                    Some(loaded) => loaded
                        .iter()
                        .filter_map(|v| v.as_object().cloned())
                        .collect(),
                    None => self.children(target, fk, id),
                };
                let children = children
                    .into_iter()
                    .map(|mut child| {
                        with_nav_nulls(target, &mut child);
                        self.expand(target, &mut child, rest);
                        serialized(target, &mut child);
                        Value::Object(child)
                    })
                    .collect();
                Value::Array(children)
            }
        };
        row.insert(first.clone(), value);
    }

    fn children(&mut self, target: Entity, fk: &'static str, id: i64) -> Vec<Row> {
        let store = self.store;
        let index = self.index.entry((target, fk)).or_insert_with(|| {
            let mut map: HashMap<i64, Vec<&Row>> = HashMap::new();
            // Archived group members are soft-deleted: hidden from every query.
            let visible = store
                .rows(target)
                .filter(|r| !(target == Entity::GroupMember && flag(r, "IsArchived")));
            for row in visible {
                if let Some(key) = int(row, fk) {
                    map.entry(key).or_default().push(row);
                }
            }
            map
        });
        index
            .get(&id)
            .map(|rows| rows.iter().map(|r| (*r).clone()).collect())
            .unwrap_or_default()
    }
}
