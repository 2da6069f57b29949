//! Query parameters of list endpoints: `per_page`, `offset`, `include`, `where[...]`, `order`,
//! `filter`, and the paging `links`/`meta` they produce (research §2.2, §3).

use serde_json::{Map, Value, json};

use crate::jsonapi::{ApiError, ApiErrors};

pub const DEFAULT_PER_PAGE: usize = 25;
pub const MAX_PER_PAGE: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Clone, Debug)]
pub struct Where {
    pub field: String,
    pub op: Op,
    pub value: String,
}

#[derive(Clone, Debug, Default)]
pub struct ListParams {
    pub per_page: usize,
    pub offset: usize,
    pub include: Vec<String>,
    pub wheres: Vec<Where>,
    /// Attribute and whether descending.
    pub order: Option<(String, bool)>,
    pub filters: Vec<String>,
    /// Every pair as given, for echoing in links.
    pub pairs: Vec<(String, String)>,
}

impl ListParams {
    pub fn parse(raw: Option<&str>) -> Result<ListParams, ApiErrors> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut params = ListParams {
            per_page: DEFAULT_PER_PAGE,
            ..ListParams::default()
        };
        for (key, value) in &pairs {
            match key.as_str() {
                // PCO clamps per_page to 1..=100 rather than refusing (#72: 200 "doesn't work").
                "per_page" => params.per_page = number(key, value)?.clamp(1, MAX_PER_PAGE),
                "offset" => params.offset = number(key, value)?,
                "include" => params.include = split_list(value),
                "order" => params.order = parse_order(value),
                "filter" => params.filters.extend(split_list(value)),
                _ if key.starts_with("where[") => params.wheres.push(parse_where(key, value)?),
                _ => {}
            }
        }
        params.pairs = pairs;
        Ok(params)
    }

    pub fn includes(&self, name: &str) -> bool {
        self.include.iter().any(|i| i == name)
    }

    pub fn where_value(&self, field: &str) -> Option<&str> {
        self.wheres
            .iter()
            .find(|w| w.field == field && w.op == Op::Eq)
            .map(|w| w.value.as_str())
    }
}

fn number(key: &str, value: &str) -> Result<usize, ApiErrors> {
    value.trim().parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_parameter",
            format!("{key} must be a non-negative integer"),
        )
        .into()
    })
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_order(value: &str) -> Option<(String, bool)> {
    // Multi-key order is unconfirmed in PCO; the first key decides, ties fall back to id.
    let first = value.split(',').next()?.trim();
    match first.strip_prefix('-') {
        Some(attr) => Some((attr.to_string(), true)),
        None if !first.is_empty() => Some((first.to_string(), false)),
        None => None,
    }
}

fn parse_where(key: &str, value: &str) -> Result<Where, ApiErrors> {
    let bad = || {
        ApiError::bad_request(
            "invalid_where",
            format!("{key} is not a valid where clause"),
        )
    };
    let inner = key.strip_prefix("where[").ok_or_else(bad)?;
    let (field, rest) = inner.split_once(']').ok_or_else(bad)?;
    let op = match rest {
        "" => Op::Eq,
        "[gt]" => Op::Gt,
        "[gte]" => Op::Gte,
        "[lt]" => Op::Lt,
        "[lte]" => Op::Lte,
        _ => return Err(bad().into()),
    };
    Ok(Where {
        field: field.to_string(),
        op,
        value: value.to_string(),
    })
}

/// What to put in a list document besides `data` and `included`.
pub struct Page {
    pub start: usize,
    pub end: usize,
    pub links: Value,
    pub meta: Map<String, Value>,
}

/// Computes the page window and PCO's paging links and meta for `total` matching rows.
pub fn page(self_url: &str, params: &ListParams, total: usize) -> Page {
    let start = params.offset.min(total);
    let end = (start + params.per_page).min(total);
    let link = |offset: usize| format!("{self_url}?{}", echo_query(params, offset));
    let mut links = Map::new();
    links.insert("self".into(), json!(link(params.offset)));
    let mut meta = Map::new();
    meta.insert("total_count".into(), json!(total));
    meta.insert("count".into(), json!(end - start));
    if end < total {
        links.insert("next".into(), json!(link(end)));
        meta.insert("next".into(), json!({ "offset": end }));
    }
    if params.offset > 0 {
        let prev = params.offset.saturating_sub(params.per_page);
        links.insert("prev".into(), json!(link(prev)));
        meta.insert("prev".into(), json!({ "offset": prev }));
    }
    Page {
        start,
        end,
        links: Value::Object(links),
        meta,
    }
}

/// The request's query with a new offset, keys sorted as PCO echoes them. Brackets and commas
/// stay readable (PCO's links show `where[updated_at][gte]=...` unescaped).
fn echo_query(params: &ListParams, offset: usize) -> String {
    let mut pairs: Vec<(String, String)> = params
        .pairs
        .iter()
        .filter(|(k, _)| k != "offset" && k != "per_page")
        .cloned()
        .collect();
    pairs.push(("offset".into(), offset.to_string()));
    pairs.push(("per_page".into(), params.per_page.to_string()));
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b','
            | b':'
            | b'@' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_pages() {
        let p = ListParams::parse(Some("per_page=500&offset=100&include=emails,addresses&where[updated_at][gte]=2024-01-01T00:00:00Z&order=-updated_at")).unwrap();
        assert_eq!(p.per_page, 100);
        assert_eq!(p.offset, 100);
        assert!(p.includes("addresses"));
        assert_eq!(p.wheres[0].op, Op::Gte);
        assert_eq!(p.order, Some(("updated_at".into(), true)));
        let page = page("http://x/people/v2/people", &p, 150);
        assert_eq!((page.start, page.end), (100, 150));
        assert!(page.links.get("next").is_none());
        assert!(
            page.links["prev"]
                .as_str()
                .unwrap()
                .contains("offset=0&order=-updated_at&per_page=100")
        );
        assert!(ListParams::parse(Some("where[x][between]=1")).is_err());
        assert!(ListParams::parse(Some("per_page=abc")).is_err());
    }
}
