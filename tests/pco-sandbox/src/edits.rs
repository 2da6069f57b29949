//! Writes to People records: each request's attributes checked the way PCO checks them (422 with
//! every problem listed), then applied. Functions work on a copy the route swaps in only when
//! everything passed, so a refused request changes nothing.

use serde_json::{Map, Value};

use crate::jsonapi::{ApiError, ApiErrors};
use crate::model::{
    Account, Avatar, Email, Person, Phone, PostalAddress, normalise_phone, parse_date,
};

/// Attributes a client may write on People's Person (dumpP 2025-11-10). Those the sandbox does
/// not model (grade, medical notes, ...) are accepted and dropped: the sandbox keeps no data the
/// sync must never touch (SPEC R53).
const PERSON_WRITABLE: &[&str] = &[
    "accounting_administrator",
    "anniversary",
    "avatar",
    "birthdate",
    "child",
    "first_name",
    "gender",
    "gender_id",
    "given_name",
    "grade",
    "graduation_year",
    "inactivated_at",
    "last_name",
    "medical_notes",
    "membership",
    "middle_name",
    "nickname",
    "people_permissions",
    "primary_campus_id",
    "remote_id",
    "site_administrator",
    "status",
    "stripe_customer_identifier",
];

/// Collects every problem of one request before answering.
#[derive(Default)]
struct Problems(Vec<ApiError>);

impl Problems {
    fn add(&mut self, e: ApiError) {
        self.0.push(e);
    }

    fn finish<T>(self, value: T) -> Result<T, ApiErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ApiErrors(self.0))
        }
    }
}

fn refuse_unknown(
    attrs: &Map<String, Value>,
    allowed: &[&str],
    resource: &'static str,
    problems: &mut Problems,
) {
    for key in attrs.keys().filter(|k| !allowed.contains(&k.as_str())) {
        problems.add(ApiError::forbidden_attribute(key, resource));
    }
}

/// Sets `slot` from a string-or-null attribute; true when it changed.
fn text(
    attrs: &Map<String, Value>,
    key: &str,
    slot: &mut Option<String>,
    resource: &'static str,
    problems: &mut Problems,
) -> bool {
    let new = match attrs.get(key) {
        None => return false,
        Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(_) => {
            problems.add(ApiError::validation(key, "must be a string", resource));
            return false;
        }
    };
    replace(slot, new)
}

fn replace<T: PartialEq>(slot: &mut T, new: T) -> bool {
    if *slot == new {
        false
    } else {
        *slot = new;
        true
    }
}

fn date(
    attrs: &Map<String, Value>,
    key: &str,
    slot: &mut Option<time::Date>,
    problems: &mut Problems,
) -> bool {
    let new = match attrs.get(key) {
        None => return false,
        Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => match parse_date(s) {
            Some(d) => Some(d),
            None => {
                problems.add(ApiError::validation(
                    key,
                    format!("{s} is not a valid date (YYYY-MM-DD)"),
                    "Person",
                ));
                return false;
            }
        },
        Some(_) => {
            problems.add(ApiError::validation(
                key,
                "is not a valid date (YYYY-MM-DD)",
                "Person",
            ));
            return false;
        }
    };
    replace(slot, new)
}

fn boolean(
    attrs: &Map<String, Value>,
    key: &str,
    slot: &mut bool,
    resource: &'static str,
    problems: &mut Problems,
) -> bool {
    match attrs.get(key) {
        None => false,
        Some(Value::Bool(b)) => replace(slot, *b),
        Some(_) => {
            problems.add(ApiError::validation(key, "must be true or false", resource));
            false
        }
    }
}

/// What a Person write did, for the route to act on (notices, stamps).
#[derive(Debug, Default)]
pub struct PersonChange {
    pub changed: bool,
    /// `site_administrator` went from true to false (organization admins are told, R50).
    pub admin_removed: bool,
}

/// Checks and applies People Person attributes onto `p` (a copy).
pub fn apply_person(
    p: &mut Person,
    attrs: &Map<String, Value>,
    account: &Account,
    base: &str,
    now: i64,
    creating: bool,
    gender_words: bool,
) -> Result<PersonChange, ApiErrors> {
    let mut problems = Problems::default();
    refuse_unknown(attrs, PERSON_WRITABLE, "Person", &mut problems);
    let mut changed = false;
    for (key, slot) in [
        ("first_name", &mut p.first_name),
        ("given_name", &mut p.given_name),
        ("middle_name", &mut p.middle_name),
        ("nickname", &mut p.nickname),
        ("last_name", &mut p.last_name),
        ("membership", &mut p.membership),
    ] {
        changed |= text(attrs, key, slot, "Person", &mut problems);
    }
    changed |= date(attrs, "birthdate", &mut p.birthdate, &mut problems);
    changed |= date(attrs, "anniversary", &mut p.anniversary, &mut problems);
    changed |= boolean(attrs, "child", &mut p.child, "Person", &mut problems);
    let was_admin = p.site_administrator;
    changed |= boolean(
        attrs,
        "site_administrator",
        &mut p.site_administrator,
        "Person",
        &mut problems,
    );
    changed |= gender(attrs, p, gender_words, &mut problems);
    changed |= remote_id(attrs, p, &mut problems);
    changed |= status(attrs, p, now, &mut problems);
    changed |= avatar(attrs, p, account, base, now, &mut problems);
    if creating && p.first_name.is_none() && p.last_name.is_none() {
        problems.add(ApiError::validation(
            "first_name",
            "First name or last name can't be blank",
            "Person",
        ));
    }
    changed |= boolean(
        attrs,
        "accounting_administrator",
        &mut p.accounting_administrator,
        "Person",
        &mut problems,
    );
    let admin_removed = was_admin && !p.site_administrator;
    problems.finish(PersonChange {
        changed,
        admin_removed,
    })
}

/// `gender` in the form the request's API version documents: "M"/"F" before People 2022-07-14,
/// "Male"/"Female" from it ("`gender` now returns a full string representation (e.g. 'Male'
/// instead of 'M')", the 2022-07-14 version note, schema rules.versioning.people_versions;
/// recorded traffic processed as 2018-08-01 carries "M"/"F", cass:TestPeople.test_people_list).
/// The other version's form is PCO's 422 validation error ("... is not included in the list",
/// the shape of #203). Later versions (2023-03-21 and on) keep the words; 2025-11-10 removed only
/// the `gender` relationship, and `gender_id` (assignable per the docs, its fate after
/// 2025-11-10 `unsure`) is accepted and dropped, not refused.
fn gender(
    attrs: &Map<String, Value>,
    p: &mut Person,
    words: bool,
    problems: &mut Problems,
) -> bool {
    let new = match attrs.get("gender") {
        None => return false,
        Some(Value::Null) => None,
        Some(Value::String(s)) => match (s.as_str(), words) {
            ("Male", true) | ("M", false) => Some("M".to_string()),
            ("Female", true) | ("F", false) => Some("F".to_string()),
            ("", _) => None,
            _ => {
                problems.add(ApiError::validation(
                    "gender",
                    format!("{s} is not included in the list"),
                    "Person",
                ));
                return false;
            }
        },
        Some(_) => {
            problems.add(ApiError::validation(
                "gender",
                "is not included in the list",
                "Person",
            ));
            return false;
        }
    };
    replace(&mut p.gender, new)
}

/// `remote_id` is an integer in PCO; numeric strings are accepted as Rails would cast them.
fn remote_id(attrs: &Map<String, Value>, p: &mut Person, problems: &mut Problems) -> bool {
    let new = match attrs.get("remote_id") {
        None => return false,
        Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
        Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => s.trim().parse().ok(),
        Some(_) => {
            problems.add(ApiError::validation(
                "remote_id",
                "is not a number",
                "Person",
            ));
            return false;
        }
    };
    replace(&mut p.remote_id, new)
}

/// `status` "inactive" sets `inactivated_at` to now; anything else clears it (research §6.1).
fn status(attrs: &Map<String, Value>, p: &mut Person, now: i64, problems: &mut Problems) -> bool {
    let mut changed = false;
    match attrs.get("status") {
        None => {}
        Some(Value::String(s)) if s == "inactive" => {
            // Already inactive people keep the time they were inactivated.
            let at = p.inactivated_at.unwrap_or(now);
            changed |= replace(&mut p.inactivated_at, Some(at));
        }
        Some(Value::String(s)) if s == "active" => changed |= replace(&mut p.inactivated_at, None),
        Some(_) => problems.add(ApiError::validation(
            "status",
            "is not included in the list",
            "Person",
        )),
    }
    match attrs.get("inactivated_at") {
        None => {}
        Some(Value::Null) => changed |= replace(&mut p.inactivated_at, None),
        Some(Value::String(s)) => match crate::clock::parse_time(s) {
            Some((t, _)) => changed |= replace(&mut p.inactivated_at, Some(t)),
            None => problems.add(ApiError::validation(
                "inactivated_at",
                "is not a valid time",
                "Person",
            )),
        },
        Some(_) => problems.add(ApiError::validation(
            "inactivated_at",
            "is not a valid time",
            "Person",
        )),
    }
    changed
}

/// `avatar` takes the id of a file uploaded to this account (research §6.7).
fn avatar(
    attrs: &Map<String, Value>,
    p: &mut Person,
    account: &Account,
    base: &str,
    now: i64,
    problems: &mut Problems,
) -> bool {
    match attrs.get("avatar") {
        None => false,
        Some(Value::String(file_id)) if account.files.contains_key(file_id) => {
            let url = format!("{base}/__sandbox/avatars/{}-{now}/{file_id}", p.id);
            p.avatar = Some(Avatar {
                file_id: file_id.clone(),
                url,
            });
            true
        }
        Some(_) => {
            problems.add(ApiError::resource_not_found("avatar", "Person"));
            false
        }
    }
}

/// A plausible address: one `@`, something before it, a dotted domain after, no spaces.
pub fn valid_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !address.chars().any(char::is_whitespace)
}

fn location(
    attrs: &Map<String, Value>,
    slot: &mut String,
    resource: &'static str,
    problems: &mut Problems,
) -> bool {
    match attrs.get("location") {
        None => false,
        Some(Value::String(s)) if !s.trim().is_empty() => replace(slot, s.trim().to_string()),
        Some(_) => {
            problems.add(ApiError::validation("location", "can't be blank", resource));
            false
        }
    }
}

pub fn apply_email(
    e: &mut Email,
    attrs: &Map<String, Value>,
    creating: bool,
) -> Result<bool, ApiErrors> {
    let mut problems = Problems::default();
    refuse_unknown(
        attrs,
        &["address", "location", "primary"],
        "Email",
        &mut problems,
    );
    let mut changed = false;
    match attrs.get("address") {
        None if creating => {
            problems.add(ApiError::validation("address", "can't be blank", "Email"))
        }
        None => {}
        Some(Value::String(s)) if valid_email(s.trim()) => {
            changed |= replace(&mut e.address, s.trim().to_string())
        }
        Some(other) => {
            let shown = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_string);
            problems.add(ApiError::validation(
                "address",
                format!("{shown} is not a valid email address"),
                "Email",
            ));
        }
    }
    changed |= location(attrs, &mut e.location, "Email", &mut problems);
    changed |= boolean(attrs, "primary", &mut e.primary, "Email", &mut problems);
    problems.finish(changed)
}

pub fn apply_phone(
    ph: &mut Phone,
    attrs: &Map<String, Value>,
    creating: bool,
) -> Result<bool, ApiErrors> {
    let mut problems = Problems::default();
    refuse_unknown(
        attrs,
        &["number", "carrier", "location", "primary"],
        "PhoneNumber",
        &mut problems,
    );
    let mut changed = false;
    match attrs.get("number") {
        None if creating => problems.add(ApiError::validation(
            "number",
            "can't be blank",
            "PhoneNumber",
        )),
        None => {}
        Some(Value::String(s)) if s.chars().filter(char::is_ascii_digit).count() >= 7 => {
            changed |= replace(&mut ph.number, normalise_phone(s));
        }
        Some(_) => problems.add(ApiError::validation("number", "is invalid", "PhoneNumber")),
    }
    // Location is required for phone numbers (#493).
    if creating && !attrs.contains_key("location") {
        problems.add(ApiError::validation(
            "location",
            "can't be blank",
            "PhoneNumber",
        ));
    }
    changed |= location(attrs, &mut ph.location, "PhoneNumber", &mut problems);
    changed |= text(
        attrs,
        "carrier",
        &mut ph.carrier,
        "PhoneNumber",
        &mut problems,
    );
    changed |= boolean(
        attrs,
        "primary",
        &mut ph.primary,
        "PhoneNumber",
        &mut problems,
    );
    problems.finish(changed)
}

pub fn apply_address(
    a: &mut PostalAddress,
    attrs: &Map<String, Value>,
    street_lines: bool,
) -> Result<bool, ApiErrors> {
    let mut problems = Problems::default();
    // Versions before 2023-03-21 wrote one `street`; later ones two lines.
    let street_keys: &[&str] = if street_lines {
        &["street_line_1", "street_line_2"]
    } else {
        &["street"]
    };
    let allowed: Vec<&str> = [
        "city",
        "state",
        "zip",
        "country_code",
        "location",
        "primary",
    ]
    .iter()
    .chain(street_keys)
    .copied()
    .collect();
    refuse_unknown(attrs, &allowed, "Address", &mut problems);
    let mut changed = false;
    let line = |key: &str, slot: &mut String, problems: &mut Problems| match attrs.get(key) {
        None => false,
        Some(Value::Null) => replace(slot, String::new()),
        Some(Value::String(s)) => replace(slot, s.trim().to_string()),
        Some(_) => {
            problems.add(ApiError::validation(key, "must be a string", "Address"));
            false
        }
    };
    changed |= line("city", &mut a.city, &mut problems);
    changed |= line("state", &mut a.state, &mut problems);
    changed |= line("zip", &mut a.zip, &mut problems);
    changed |= line("country_code", &mut a.country_code, &mut problems);
    if street_lines {
        changed |= line("street_line_1", &mut a.street_line_1, &mut problems);
        changed |= line("street_line_2", &mut a.street_line_2, &mut problems);
    } else {
        let mut street = String::new();
        if line("street", &mut street, &mut problems) {
            let (one, two) = street.split_once('\n').unwrap_or((&street, ""));
            changed |= replace(&mut a.street_line_1, one.to_string());
            changed |= replace(&mut a.street_line_2, two.to_string());
        }
    }
    changed |= location(attrs, &mut a.location, "Address", &mut problems);
    changed |= boolean(attrs, "primary", &mut a.primary, "Address", &mut problems);
    problems.finish(changed)
}
