//! Rock's save hooks: the silent rewrites it applies on every save, its validation, and the
//! side effects a save has on other rows (research §2-§7, §10).
//!
//! A client that compares what it wrote with what it reads back sees exactly these changes,
//! which is what a two-way sync has to tolerate without ping-ponging (SPEC R27).

use serde_json::Value;
use time::{Date, Month};

use crate::clock::{format_date, format_datetime, parse_datetime};
use crate::schema::{Entity, Kind};
use crate::store::{Invalid, Row, Store, flag, int, set, text};

/// Group member statuses (`GroupMemberStatus` enum).
pub const MEMBER_INACTIVE: i64 = 0;
pub const MEMBER_ACTIVE: i64 = 1;

pub fn before_save(store: &Store, entity: Entity, row: &mut Row, prior: Option<&Row>) {
    match entity {
        Entity::Person => person(store, row),
        Entity::PhoneNumber => phone(store, row),
        Entity::GroupMember => group_member(store, row, prior),
        Entity::Group => group(store, row, prior),
        Entity::AttributeValue => attribute_value(row),
        _ => {}
    }
}

pub fn validate(
    store: &Store,
    entity: Entity,
    row: &Row,
    prior: Option<&Row>,
) -> Result<(), Invalid> {
    let mut errors = lengths(entity, row);
    match entity {
        Entity::Person => {
            let email = text(row, "Email").unwrap_or("");
            if !email.is_empty() && !valid_email(email) {
                errors.push("The Email address is invalid".into());
            }
        }
        Entity::PhoneNumber => {
            require_row(store, row, "PersonId", Entity::Person, &mut errors);
            if text(row, "Number").is_none_or(str::is_empty) {
                errors.push(required("Number"));
            }
        }
        Entity::Group => {
            require_text(row, "Name", &mut errors);
            require_row(store, row, "GroupTypeId", Entity::GroupType, &mut errors);
        }
        Entity::GroupMember => group_member_rules(store, row, prior, &mut errors),
        Entity::GroupLocation => {
            require_row(store, row, "GroupId", Entity::Group, &mut errors);
            require_row(store, row, "LocationId", Entity::Location, &mut errors);
        }
        Entity::Attribute => {
            require_text(row, "Key", &mut errors);
            require_text(row, "Name", &mut errors);
            require_row(store, row, "FieldTypeId", Entity::FieldType, &mut errors);
            unique_attribute_key(store, row, &mut errors);
        }
        Entity::AttributeValue => {
            require_row(store, row, "AttributeId", Entity::Attribute, &mut errors);
            unique_attribute_value(store, row, &mut errors);
        }
        Entity::DefinedValue => {
            require_row(
                store,
                row,
                "DefinedTypeId",
                Entity::DefinedType,
                &mut errors,
            );
            require_text(row, "Value", &mut errors);
        }
        Entity::GroupTypeRole | Entity::GroupType | Entity::DefinedType => {
            require_text(row, "Name", &mut errors);
        }
        _ => {}
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Invalid(errors))
    }
}

pub fn after_save(store: &mut Store, entity: Entity, id: i64, prior: Option<&Row>) {
    match entity {
        Entity::Person => {
            if prior.is_none() {
                crate::people::create_primary_alias(store, id);
            }
            spouse_anniversary(store, id, prior);
        }
        Entity::GroupMember => {
            if let Some(person) = store
                .get(Entity::GroupMember, id)
                .and_then(|r| int(r, "PersonId"))
            {
                refresh_primary_family(store, person);
            }
        }
        Entity::DefinedValue | Entity::Attribute | Entity::AttributeValue => {
            crate::phones::after_save(store, entity, id)
        }
        _ => {}
    }
}

// ---- Person ---------------------------------------------------------------------------------

fn person(store: &Store, row: &mut Row) {
    for name in ["FirstName", "NickName", "MiddleName", "LastName"] {
        if let Some(value) = text(row, name) {
            let cleaned = clean_name(name, value);
            set(row, name, cleaned);
        }
    }
    if text(row, "NickName").is_none_or(str::is_empty) {
        let first = row.get("FirstName").cloned().unwrap_or(Value::Null);
        row.insert("NickName".into(), first);
    }
    // No trim of the email: Person.SaveHook.cs `PreSave` (Rock/Model/CRM/Person/) leaves it as
    // sent, and the `[RegularExpression]` on `Person.Email` (Person.cs) accepts whitespace
    // around the address (`\s*(…)\s*`), so " ann@example.com " is stored with its spaces.
    let known = &store.known;
    default_int(row, "RecordTypeValueId", known.record_type_person);
    default_int(row, "RecordStatusValueId", known.record_active);
    default_int(row, "ConnectionStatusValueId", known.connection_visitor);
    // Rock nulls the anniversary of anyone not married.
    if int(row, "MaritalStatusValueId") != Some(known.marital_married) {
        row.insert("AnniversaryDate".into(), Value::Null);
    }
    birth_date(store, row);
    if let Some(id) = int(row, "Id").filter(|id| *id > 0)
        && let Some(family) = primary_family(store, id)
    {
        set(row, "PrimaryFamilyId", family);
    }
}

/// Rock's name clean-up, `Person.SaveHook.cs` `PreSave` (Rock/Model/CRM/Person/, Rock 17):
/// FirstName, LastName and NickName get `StandardizeQuotes`, which replaces the right single
/// quote (’) with ' and nothing else (‘, “ and ” are kept); all four names then have their
/// whitespace runs collapsed to one space and are trimmed ("Issue #2990").
pub fn clean_name(column: &str, value: &str) -> String {
    let straightened = if column == "MiddleName" {
        value.to_string()
    } else {
        value.replace('\u{2019}', "'")
    };
    straightened
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `FixCase`: a name typed all lower or all upper case becomes Title Case; mixed case is kept
/// (it is probably deliberate: "McDonald", "DeShawn").
pub fn fix_case(value: &str) -> String {
    let has_lower = value.chars().any(char::is_lowercase);
    let has_upper = value.chars().any(char::is_uppercase);
    if has_lower && has_upper {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let mut start_of_word = true;
    for c in value.chars() {
        if start_of_word {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start_of_word = c.is_whitespace() || c == '-' || c == '\'';
    }
    out
}

fn default_int(row: &mut Row, column: &str, value: i64) {
    if int(row, column).is_none() && value != 0 {
        set(row, column, value);
    }
}

/// `BirthDate` (and its key and the age) are computed from the three stored parts.
fn birth_date(store: &Store, row: &mut Row) {
    let (month, day, year) = (
        int(row, "BirthMonth"),
        int(row, "BirthDay"),
        int(row, "BirthYear"),
    );
    let date = match (month, day) {
        (Some(m), Some(d)) => calendar_date(year.unwrap_or(1), m, d),
        _ => None,
    };
    let birth_date = date.map_or(Value::Null, |d| Value::from(format_date(d)));
    row.insert("BirthDate".into(), birth_date);
    let key = match (date, year) {
        (Some(d), Some(_)) => Value::from(
            i64::from(d.year()) * 10_000
                + i64::from(u8::from(d.month())) * 100
                + i64::from(d.day()),
        ),
        _ => Value::Null,
    };
    row.insert("BirthDateKey".into(), key);
    let age = match (date, year) {
        (Some(born), Some(_)) => Value::from(age_on(born, store.clock.today())),
        _ => Value::Null,
    };
    row.insert("Age".into(), age);
}

pub fn calendar_date(year: i64, month: i64, day: i64) -> Option<Date> {
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()
}

pub fn age_on(born: Date, today: Date) -> i64 {
    let mut age = i64::from(today.year() - born.year());
    if (today.month() as u8, today.day()) < (born.month() as u8, born.day()) {
        age -= 1;
    }
    age
}

/// The family a person belongs to first (by `GroupOrder`, then membership id).
pub fn primary_family(store: &Store, person_id: i64) -> Option<i64> {
    let family_type = store.known.family_type;
    store
        .find_by(Entity::GroupMember, "PersonId", person_id)
        .into_iter()
        .filter(|m| int(m, "GroupTypeId") == Some(family_type) && !flag(m, "IsArchived"))
        .min_by_key(|m| (int(m, "GroupOrder").unwrap_or(i64::MAX), int(m, "Id")))
        .and_then(|m| int(m, "GroupId"))
}

fn refresh_primary_family(store: &mut Store, person_id: i64) {
    let family = primary_family(store, person_id);
    store.modify(Entity::Person, person_id, |row| {
        row.insert(
            "PrimaryFamilyId".into(),
            family.map_or(Value::Null, Value::from),
        );
    });
}

/// When a person's anniversary changes, Rock writes it to their married spouse too, so the
/// spouse's row (and `ModifiedDateTime`) changes as well.
fn spouse_anniversary(store: &mut Store, id: i64, prior: Option<&Row>) {
    let Some(row) = store.get(Entity::Person, id) else {
        return;
    };
    let anniversary = row.get("AnniversaryDate").cloned().unwrap_or(Value::Null);
    let before = prior
        .and_then(|p| p.get("AnniversaryDate").cloned())
        .unwrap_or(Value::Null);
    if anniversary == before || anniversary.is_null() {
        return;
    }
    let married = store.known.marital_married;
    for spouse in spouses(store, id) {
        store.modify(Entity::Person, spouse, |r| {
            if int(r, "MaritalStatusValueId") == Some(married) {
                r.insert("AnniversaryDate".into(), anniversary.clone());
            }
        });
    }
}

/// The other adults of a person's families.
fn spouses(store: &Store, id: i64) -> Vec<i64> {
    let adult = store.known.family_adult;
    let families: Vec<i64> = store
        .find_by(Entity::GroupMember, "PersonId", id)
        .into_iter()
        .filter(|m| int(m, "GroupRoleId") == Some(adult) && !flag(m, "IsArchived"))
        .filter_map(|m| int(m, "GroupId"))
        .collect();
    store
        .rows(Entity::GroupMember)
        .filter(|m| int(m, "GroupRoleId") == Some(adult) && !flag(m, "IsArchived"))
        .filter(|m| int(m, "GroupId").is_some_and(|g| families.contains(&g)))
        .filter_map(|m| int(m, "PersonId"))
        .filter(|p| *p != id)
        .collect()
}

/// The `[RegularExpression]` on `Person.Email` (Rock/Model/CRM/Person/Person.cs), which must
/// match the whole value: `\s*(\w+(?:[-+.]*\w+)*@\w+(?:[-.]\w+)*\.\w+(?:[-.]\w+)*)\s*`.
fn valid_email(email: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let Some((local, domain)) = email.trim().split_once('@') else {
        return false;
    };
    // Local part: word characters, with runs of - + . only between them.
    let local_ok = local.starts_with(word)
        && local.ends_with(word)
        && local
            .chars()
            .all(|c| word(c) || matches!(c, '-' | '+' | '.'));
    // Domain: words joined by single - or ., at least one of them a dot.
    let parts: Vec<&str> = domain.split(['-', '.']).collect();
    let domain_ok =
        domain.contains('.') && parts.iter().all(|p| !p.is_empty() && p.chars().all(word));
    local_ok && domain_ok
}

// ---- PhoneNumber ----------------------------------------------------------------------------

/// `PhoneNumber.SaveHook.cs` `PreSave` (Rock/Model/CRM/PhoneNumber/): a blank CountryCode
/// becomes the install's default; `NumberFormatted` is the number formatted by that country's
/// rules, and `Number` the digits of `NumberFormatted`, so a rule that drops digits (the US
/// "with Country Code" rule drops the leading 1) drops them from `Number` too.
fn phone(store: &Store, row: &mut Row) {
    let formats = &store.phone_formats;
    if text(row, "CountryCode").is_none_or(|c| c.trim().is_empty()) {
        set(row, "CountryCode", formats.default_country_code());
    }
    let country = text(row, "CountryCode").unwrap_or("1").to_string();
    let formatted = formats.format(&country, text(row, "Number").unwrap_or(""));
    let digits = clean_number(&formatted);
    set(row, "NumberFormatted", formatted);
    set(
        row,
        "NumberReversed",
        digits.chars().rev().collect::<String>(),
    );
    set(row, "Number", digits);
}

pub use crate::phones::clean_number;

// ---- Groups and members ---------------------------------------------------------------------

fn group(store: &Store, row: &mut Row, prior: Option<&Row>) {
    let now = format_datetime(store.clock.now());
    let was_archived = prior.is_some_and(|p| flag(p, "IsArchived"));
    if flag(row, "IsArchived") && !was_archived && text(row, "ArchivedDateTime").is_none() {
        set(row, "ArchivedDateTime", now.clone());
    }
    let was_active = prior.is_none_or(|p| flag(p, "IsActive"));
    if !flag(row, "IsActive") && was_active {
        set(row, "InactiveDateTime", now);
    }
}

fn group_member(store: &Store, row: &mut Row, prior: Option<&Row>) {
    let group_type = int(row, "GroupId")
        .and_then(|g| store.get(Entity::Group, g))
        .and_then(|g| int(g, "GroupTypeId"));
    if let Some(group_type) = group_type {
        set(row, "GroupTypeId", group_type);
    }
    let now = format_datetime(store.clock.now());
    if text(row, "DateTimeAdded").is_none() {
        set(row, "DateTimeAdded", now.clone());
    }
    let status = int(row, "GroupMemberStatus");
    let prior_status = prior.and_then(|p| int(p, "GroupMemberStatus"));
    if status == Some(MEMBER_INACTIVE) && prior_status != Some(MEMBER_INACTIVE) {
        set(row, "InactiveDateTime", now.clone());
    } else if status == Some(MEMBER_ACTIVE) {
        row.insert("InactiveDateTime".into(), Value::Null);
    }
    let was_archived = prior.is_some_and(|p| flag(p, "IsArchived"));
    if flag(row, "IsArchived") && !was_archived {
        set(row, "ArchivedDateTime", now);
    } else if !flag(row, "IsArchived") {
        row.insert("ArchivedDateTime".into(), Value::Null);
    }
}

fn group_member_rules(store: &Store, row: &Row, prior: Option<&Row>, errors: &mut Vec<String>) {
    let group = int(row, "GroupId").and_then(|g| store.get(Entity::Group, g));
    let person = int(row, "PersonId").and_then(|p| store.get(Entity::Person, p));
    let role = int(row, "GroupRoleId").and_then(|r| store.get(Entity::GroupTypeRole, r));
    let (Some(group), Some(person), Some(role)) = (group, person, role) else {
        require_row(store, row, "GroupId", Entity::Group, errors);
        require_row(store, row, "PersonId", Entity::Person, errors);
        require_row(store, row, "GroupRoleId", Entity::GroupTypeRole, errors);
        return;
    };
    let group_type = int(group, "GroupTypeId");
    if int(role, "GroupTypeId") != group_type {
        errors.push("The group role is not a role of this group's group type".into());
        return;
    }
    if flag(row, "IsArchived") {
        return;
    }
    let me = prior.and_then(|p| int(p, "Id"));
    let duplicate = store.rows(Entity::GroupMember).any(|m| {
        !flag(m, "IsArchived")
            && int(m, "Id") != me
            && int(m, "GroupId") == int(row, "GroupId")
            && int(m, "PersonId") == int(row, "PersonId")
            && int(m, "GroupRoleId") == int(row, "GroupRoleId")
    });
    if duplicate {
        let term = group_type
            .and_then(|t| store.get(Entity::GroupType, t))
            .and_then(|t| text(t, "GroupTerm"))
            .unwrap_or("Group")
            .to_lowercase();
        errors.push(format!(
            "{} already belongs to the {} role for this {term}, and cannot be added again with the same role",
            full_name(person),
            text(role, "Name").unwrap_or("").to_lowercase(),
        ));
        return;
    }
    let group_type = group_type.and_then(|t| store.get(Entity::GroupType, t));
    if let Some(error) = role_above_max(store, row, prior, role, group_type) {
        errors.push(error);
        return;
    }
    if let Some(error) = unmet_requirements(store, row, prior, group) {
        errors.push(error);
    }
}

/// `ValidateGroupMembership` in Rock/Model/Group/GroupMember/GroupMember.Logic.cs, "Verify max
/// group role membership": an active member added to a role with a `MaxCount`, or an existing
/// one whose status, role or archived flag changes, may not make the role's active members
/// more than `MaxCount`.
fn role_above_max(
    store: &Store,
    row: &Row,
    prior: Option<&Row>,
    role: &Row,
    group_type: Option<&Row>,
) -> Option<String> {
    let max = int(role, "MaxCount")?;
    if int(row, "GroupMemberStatus") != Some(MEMBER_ACTIVE) {
        return None;
    }
    // `IsStatusOrRoleModified` for an existing member; always checked for a new one.
    let changed = prior.is_none_or(|p| {
        ["GroupMemberStatus", "GroupRoleId", "IsArchived"]
            .iter()
            .any(|c| p.get(*c) != row.get(*c))
    });
    if !changed {
        return None;
    }
    let me = prior.and_then(|p| int(p, "Id"));
    let others = store
        .find_by(Entity::GroupMember, "GroupId", int(row, "GroupId")?)
        .into_iter()
        .filter(|m| {
            int(m, "Id") != me
                && !flag(m, "IsArchived")
                && int(m, "GroupRoleId") == int(row, "GroupRoleId")
                && int(m, "GroupMemberStatus") == Some(MEMBER_ACTIVE)
        })
        .count();
    // Rock's test: `memberCountInRole + 1 > MaxCount`.
    if (others as i64) < max {
        return None;
    }
    let term = |column: &str, default: &str| {
        group_type
            .and_then(|t| text(t, column))
            .unwrap_or(default)
            .to_lowercase()
    };
    // Rock writes `GroupMemberTerm.Pluralize( MaxCount == 1 )`: Humanizer's argument says the
    // word is known to be singular, so the term comes out plural either way.
    Some(format!(
        "The number of {} for this {} is above its maximum allowed limit of {} active {}.",
        pluralize(&text(role, "Name").unwrap_or("").to_lowercase()),
        term("GroupTerm", "Group"),
        thousands(max),
        pluralize(&term("GroupMemberTerm", "Member")),
    ))
}

/// `ValidateGroupMembership` (GroupMember.Logic.cs): a member being added (or whose person or
/// role changes, who is restored from the archive or made active) must meet every requirement
/// of the group and its group type marked `MustMeetRequirementToAddMember` that applies to
/// their role (Group.Logic.cs `GetGroupRequirements`; a requirement for another role is
/// NotApplicable in GroupRequirement.Logic.cs), manual requirements excepted.
fn unmet_requirements(
    store: &Store,
    row: &Row,
    prior: Option<&Row>,
    group: &Row,
) -> Option<String> {
    let is_new_or_changed = prior.is_none_or(|p| {
        p.get("PersonId") != row.get("PersonId")
            || p.get("GroupRoleId") != row.get("GroupRoleId")
            || (flag(p, "IsArchived") && !flag(row, "IsArchived"))
            || (int(p, "GroupMemberStatus") != Some(MEMBER_ACTIVE)
                && int(row, "GroupMemberStatus") == Some(MEMBER_ACTIVE))
    });
    if !is_new_or_changed {
        return None;
    }
    let (group_id, group_type) = (int(group, "Id"), int(group, "GroupTypeId"));
    let person = int(row, "PersonId")?;
    let role = int(row, "GroupRoleId");
    let mut unmet: Vec<(String, i64)> = store
        .rows(Entity::GroupRequirement)
        .filter(|r| {
            (int(r, "GroupId").is_some() && int(r, "GroupId") == group_id)
                || (int(r, "GroupTypeId").is_some() && int(r, "GroupTypeId") == group_type)
        })
        .filter(|r| flag(r, "MustMeetRequirementToAddMember"))
        .filter(|r| int(r, "GroupRoleId").is_none_or(|wanted| Some(wanted) == role))
        .filter_map(|r| {
            let kind = int(r, "GroupRequirementTypeId")?;
            let kind_row = store.get(Entity::GroupRequirementType, kind)?;
            let manual = int(kind_row, "RequirementCheckType") == Some(REQUIREMENT_MANUAL);
            let met = store.requirements_met.contains(&(kind, person));
            (!manual && !met).then(|| (text(kind_row, "Name").unwrap_or("").to_string(), kind))
        })
        .collect();
    if unmet.is_empty() {
        return None;
    }
    // `PersonMeetsGroupRequirements` goes through them ordered by the type's name.
    unmet.sort();
    let names: Vec<String> = unmet.into_iter().map(|(name, _)| name).collect();
    Some(format!(
        "This person must meet the following requirements before they are added or made an active member in this group: {}",
        names.join(", ")
    ))
}

/// `RequirementCheckType.Manual` (Rock/Model/Group/GroupRequirementType/RequirementCheckType.cs).
const REQUIREMENT_MANUAL: i64 = 2;

/// English plurals as Humanizer makes them for the words group terms and roles use.
fn pluralize(word: &str) -> String {
    let consonant_y = word.ends_with('y')
        && !word.ends_with("ay")
        && !word.ends_with("ey")
        && !word.ends_with("oy")
        && !word.ends_with("uy");
    if consonant_y {
        format!("{}ies", &word[..word.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|e| word.ends_with(e))
    {
        format!("{word}es")
    } else {
        format!("{word}s")
    }
}

/// .NET's `{n:N0}`: thousands separated by commas.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

pub fn full_name(person: &Row) -> String {
    let nick = text(person, "NickName").filter(|n| !n.is_empty());
    let first = nick.or(text(person, "FirstName")).unwrap_or("");
    format!("{first} {}", text(person, "LastName").unwrap_or(""))
        .trim()
        .to_string()
}

// ---- Attributes -----------------------------------------------------------------------------

/// The typed copies Rock persists beside an attribute value's text.
fn attribute_value(row: &mut Row) {
    let value = text(row, "Value").unwrap_or("").trim().to_string();
    let numeric = value.parse::<f64>().ok().filter(|n| n.is_finite());
    row.insert(
        "ValueAsNumeric".into(),
        numeric.map_or(Value::Null, Value::from),
    );
    let when = parse_datetime(&value).map(format_datetime);
    row.insert(
        "ValueAsDateTime".into(),
        when.map_or(Value::Null, Value::from),
    );
    let boolean = match value.to_ascii_lowercase().as_str() {
        "true" | "yes" => Some(true),
        "false" | "no" => Some(false),
        _ => None,
    };
    row.insert(
        "ValueAsBoolean".into(),
        boolean.map_or(Value::Null, Value::from),
    );
}

fn unique_attribute_key(store: &Store, row: &Row, errors: &mut Vec<String>) {
    let Some(key) = text(row, "Key") else { return };
    let same_scope = |other: &Row| {
        int(other, "Id") != int(row, "Id")
            && int(other, "EntityTypeId") == int(row, "EntityTypeId")
            && text(other, "EntityTypeQualifierColumn").unwrap_or("")
                == text(row, "EntityTypeQualifierColumn").unwrap_or("")
            && text(other, "EntityTypeQualifierValue").unwrap_or("")
                == text(row, "EntityTypeQualifierValue").unwrap_or("")
            && text(other, "Key").is_some_and(|k| k.eq_ignore_ascii_case(key))
    };
    if store.rows(Entity::Attribute).any(same_scope) {
        errors.push(format!(
            "The key '{key}' is already in use for this entity type"
        ));
    }
}

fn unique_attribute_value(store: &Store, row: &Row, errors: &mut Vec<String>) {
    let clash = store.rows(Entity::AttributeValue).any(|other| {
        int(other, "Id") != int(row, "Id")
            && int(other, "AttributeId") == int(row, "AttributeId")
            && int(other, "EntityId") == int(row, "EntityId")
    });
    if clash {
        errors.push("An attribute value for this attribute and entity already exists".into());
    }
}

// ---- Generic rules --------------------------------------------------------------------------

fn lengths(entity: Entity, row: &Row) -> Vec<String> {
    entity
        .columns()
        .iter()
        .filter(|c| c.kind == Kind::Str)
        .filter_map(|c| {
            let max = c.max_len?;
            let len = text(row, c.name)?.chars().count();
            (len > max).then(|| {
                format!(
                    "The field {} must be a string or array type with a maximum length of '{max}'.",
                    c.name
                )
            })
        })
        .collect()
}

fn required(column: &str) -> String {
    format!("The {column} field is required.")
}

fn require_text(row: &Row, column: &str, errors: &mut Vec<String>) {
    if text(row, column).is_none_or(|t| t.trim().is_empty()) {
        errors.push(required(column));
    }
}

fn require_row(store: &Store, row: &Row, column: &str, target: Entity, errors: &mut Vec<String>) {
    let exists = int(row, column).is_some_and(|id| store.get(target, id).is_some());
    if !exists {
        errors.push(format!(
            "{column} must refer to an existing {}",
            target.type_name()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_are_rewritten_like_rock() {
        assert_eq!(
            clean_name("LastName", "  Mary   Ann\u{2019}s "),
            "Mary Ann's"
        );
        assert_eq!(clean_name("LastName", "O\u{2018}Neil"), "O\u{2018}Neil");
        assert_eq!(clean_name("MiddleName", " Ann\u{2019}s "), "Ann\u{2019}s");
        assert_eq!(fix_case("JOHN"), "John");
        assert_eq!(fix_case("mary-jane o'neil"), "Mary-Jane O'Neil");
        assert_eq!(fix_case("McDonald"), "McDonald");
    }

    #[test]
    fn ages_count_birthdays() {
        let born = calendar_date(2000, 6, 15).unwrap();
        assert_eq!(age_on(born, calendar_date(2024, 6, 14).unwrap()), 23);
        assert_eq!(age_on(born, calendar_date(2024, 6, 15).unwrap()), 24);
        assert!(calendar_date(2023, 2, 29).is_none());
    }
}
