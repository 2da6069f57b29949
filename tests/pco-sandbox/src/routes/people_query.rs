//! `where[...]` and `order` for People people (query keys from research §3).
//!
//! PCO does not document how its string matches compare. The sandbox compares names
//! case-insensitively and exactly for `where[first_name]` and friends, and by case-insensitive
//! substring for the `search_*` keys ("first, last, combination"). Both are unconfirmed.

use std::cmp::Ordering;

use crate::clock::parse_time;
use crate::jsonapi::{ApiError, ApiErrors};
use crate::model::{Person, parse_date};
use crate::query::{Op, Where};

pub const QUERY: &[&str] = &[
    "anniversary",
    "birthdate",
    "child",
    "created_at",
    "first_name",
    "gender",
    "given_name",
    "id",
    "last_name",
    "membership",
    "middle_name",
    "nickname",
    "remote_id",
    "search_name",
    "search_name_or_email",
    "search_name_or_email_or_phone_number",
    "search_phone_number",
    "site_administrator",
    "status",
    "updated_at",
];

/// People's `can_order` (developer.planning.center/docs/#/apps/people/2022-07-14/vertices/
/// person): `id` is not among them (the default order is ascending id), so `order=id` is
/// refused like any other attribute PCO cannot order by.
pub const ORDER: &[&str] = &[
    "accounting_administrator",
    "anniversary",
    "birthdate",
    "child",
    "created_at",
    "first_name",
    "gender",
    "given_name",
    "grade",
    "graduation_year",
    "inactivated_at",
    "last_name",
    "membership",
    "middle_name",
    "nickname",
    "people_permissions",
    "remote_id",
    "site_administrator",
    "status",
    "updated_at",
];

pub type Predicate = Box<dyn Fn(&Person) -> bool + Send>;

/// Turns each `where` into a predicate, refusing values that cannot be read (400).
pub fn predicates(wheres: &[Where]) -> Result<Vec<Predicate>, ApiErrors> {
    wheres.iter().map(predicate).collect()
}

fn invalid(w: &Where) -> ApiErrors {
    ApiError::bad_request(
        "invalid_where",
        format!("{} is not a valid value for where[{}]", w.value, w.field),
    )
    .into()
}

fn predicate(w: &Where) -> Result<Predicate, ApiErrors> {
    let field = w.field.as_str();
    if matches!(field, "created_at" | "updated_at") {
        return time_predicate(w);
    }
    if w.op != Op::Eq {
        return match field {
            "birthdate" | "anniversary" => date_predicate(w),
            _ => Err(invalid(w)),
        };
    }
    let value = w.value.clone();
    let lower = w.value.to_lowercase();
    Ok(match field {
        "id" => {
            let id: u64 = value.parse().map_err(|_| invalid(w))?;
            Box::new(move |p| p.id == id)
        }
        "remote_id" => {
            let id: i64 = value.parse().map_err(|_| invalid(w))?;
            Box::new(move |p| p.remote_id == Some(id))
        }
        "first_name" => Box::new(move |p| eq_ci(&p.first_name, &lower)),
        "given_name" => Box::new(move |p| eq_ci(&p.given_name, &lower)),
        "last_name" => Box::new(move |p| eq_ci(&p.last_name, &lower)),
        "middle_name" => Box::new(move |p| eq_ci(&p.middle_name, &lower)),
        "nickname" => Box::new(move |p| eq_ci(&p.nickname, &lower)),
        "membership" => Box::new(move |p| eq_ci(&p.membership, &lower)),
        "status" => Box::new(move |p| p.status() == lower),
        "gender" => {
            let g = match lower.as_str() {
                "m" | "male" => "M",
                "f" | "female" => "F",
                _ => return Err(invalid(w)),
            };
            Box::new(move |p| p.gender.as_deref() == Some(g))
        }
        "site_administrator" | "child" => {
            let want = match lower.as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(invalid(w)),
            };
            if field == "child" {
                Box::new(move |p| p.child == want)
            } else {
                Box::new(move |p| p.site_administrator == want)
            }
        }
        "birthdate" | "anniversary" => date_predicate(w)?,
        "search_name" => Box::new(move |p| name_matches(p, &lower)),
        "search_name_or_email" => {
            Box::new(move |p| name_matches(p, &lower) || email_matches(p, &lower))
        }
        "search_name_or_email_or_phone_number" => {
            let digits = digits(&lower);
            Box::new(move |p| {
                name_matches(p, &lower) || email_matches(p, &lower) || phone_matches(p, &digits)
            })
        }
        "search_phone_number" => {
            let digits = digits(&lower);
            Box::new(move |p| phone_matches(p, &digits))
        }
        "accounting_administrator" => {
            let want = match lower.as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(invalid(w)),
            };
            Box::new(move |p| p.accounting_administrator == want)
        }
        "search_phone_number_e164" => {
            let digits = digits(&lower);
            Box::new(move |p| phone_matches(p, &digits))
        }
        // Documented keys (the schema's can_query, checked at the front door) for data the
        // sandbox does not hold (grade, medical notes, permissions, campus, ...): nobody has
        // a value, so nobody matches.
        _ => Box::new(|_| false),
    })
}

fn eq_ci(value: &Option<String>, lower: &str) -> bool {
    value.as_deref().is_some_and(|v| v.to_lowercase() == lower)
}

fn contains_ci(value: &Option<String>, lower: &str) -> bool {
    value
        .as_deref()
        .is_some_and(|v| v.to_lowercase().contains(lower))
}

fn name_matches(p: &Person, lower: &str) -> bool {
    if lower.is_empty() {
        return false;
    }
    let fields = [&p.first_name, &p.given_name, &p.nickname, &p.last_name];
    fields.iter().any(|f| contains_ci(f, lower)) || {
        let last = p.last_name.as_deref().unwrap_or("");
        [&p.first_name, &p.given_name]
            .iter()
            .filter_map(|f| f.as_deref())
            .any(|first| format!("{first} {last}").to_lowercase().contains(lower))
    }
}

/// Email search by substring, case-insensitive; PCO's exact rule is unconfirmed.
fn email_matches(p: &Person, lower: &str) -> bool {
    !lower.is_empty()
        && p.emails
            .iter()
            .any(|e| e.address.to_lowercase().contains(lower))
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

fn phone_matches(p: &Person, digits: &str) -> bool {
    !digits.is_empty() && p.phones.iter().any(|ph| ph.digits().contains(digits))
}

fn time_predicate(w: &Where) -> Result<Predicate, ApiErrors> {
    let (t, is_day) = parse_time(&w.value).ok_or_else(|| invalid(w))?;
    let created = w.field == "created_at";
    let op = w.op;
    Ok(Box::new(move |p| {
        let v = if created { p.created_at } else { p.updated_at };
        match op {
            // A bare date means that whole day (research §3).
            Op::Eq if is_day => v >= t && v < t + 86_400,
            Op::Eq => v == t,
            Op::Gt => v > t,
            Op::Gte => v >= t,
            Op::Lt => v < t,
            Op::Lte => v <= t,
        }
    }))
}

fn date_predicate(w: &Where) -> Result<Predicate, ApiErrors> {
    let d = parse_date(&w.value).ok_or_else(|| invalid(w))?;
    let birth = w.field == "birthdate";
    let op = w.op;
    Ok(Box::new(move |p| {
        let Some(v) = (if birth { p.birthdate } else { p.anniversary }) else {
            return false;
        };
        match op {
            Op::Eq => v == d,
            Op::Gt => v > d,
            Op::Gte => v >= d,
            Op::Lt => v < d,
            Op::Lte => v <= d,
        }
    }))
}

/// A sortable value: missing values sort first, as SQL NULLS FIRST would on ascending.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Missing,
    Number(i64),
    Text(String),
}

fn text_key(v: &Option<String>) -> Key {
    v.as_ref()
        .map_or(Key::Missing, |s| Key::Text(s.to_lowercase()))
}

fn key(p: &Person, attr: &str) -> Key {
    let date =
        |d: Option<time::Date>| d.map_or(Key::Missing, |d| Key::Number(d.to_julian_day().into()));
    match attr {
        "anniversary" => date(p.anniversary),
        "birthdate" => date(p.birthdate),
        "child" => Key::Number(p.child.into()),
        "created_at" => Key::Number(p.created_at),
        "updated_at" => Key::Number(p.updated_at),
        "first_name" => text_key(&p.first_name),
        "given_name" => text_key(&p.given_name),
        "last_name" => text_key(&p.last_name),
        "middle_name" => text_key(&p.middle_name),
        "nickname" => text_key(&p.nickname),
        "membership" => text_key(&p.membership),
        "gender" => text_key(&p.gender),
        "remote_id" => p.remote_id.map_or(Key::Missing, Key::Number),
        "site_administrator" => Key::Number(p.site_administrator.into()),
        "status" => Key::Text(p.status().to_string()),
        _ => Key::Number(p.id as i64),
    }
}

/// Orders people by `attr`, ties by id (so paging is stable), the whole reversed when descending.
/// With a `shuffle` salt ([`crate::CreatedAtTies`]), ties go in an order drawn from it instead.
pub fn sort(people: &mut [&Person], attr: &str, descending: bool, shuffle: Option<u64>) {
    // Keys computed once per person: text keys allocate, and lists can hold 50,000 people.
    let tie = |p: &Person| shuffle.map_or(p.id, |salt| super::people::mix(salt ^ p.id));
    people.sort_by_cached_key(|p| (key(p, attr), tie(p), p.id));
    if descending {
        people.reverse();
    }
}

/// Same as [`sort`] for people compared through a projection (Services lists).
pub fn compare(a: &Person, b: &Person, attr: &str) -> Ordering {
    key(a, attr).cmp(&key(b, attr)).then(a.id.cmp(&b.id))
}
