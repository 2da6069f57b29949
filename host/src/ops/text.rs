//! How the things the guest returns read for an administrator, in words: levels, run kinds
//! and outcomes, counts, times, saved values, a report's actions. The command line prints
//! them, the web admin shows them.

use crate::bindings::engine::{Action, Counts, Direction, Report, RunKind, RunOutcome};
use crate::bindings::types::{Address, Date, ErrorKind, FieldValue, Gender, PermissionLevel};

pub fn level_name(level: Option<PermissionLevel>) -> &'static str {
    match level {
        None => "-",
        Some(PermissionLevel::ScheduledViewer) => "Scheduled Viewer",
        Some(PermissionLevel::Viewer) => "Viewer",
        Some(PermissionLevel::Scheduler) => "Scheduler",
        Some(PermissionLevel::Editor) => "Editor",
        Some(PermissionLevel::Administrator) => "Administrator",
    }
}

/// An error kind as an administrator reads it.
pub fn error_kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "not found",
        ErrorKind::Conflict => "conflict",
        ErrorKind::RateLimited => "rate limited",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::Invalid => "invalid",
        ErrorKind::Unauthorized => "unauthorized",
        ErrorKind::Internal => "internal error",
    }
}

/// A field as staff call it: the guest's `middle-name` reads "middle name".
fn field_name(field: &str) -> String {
    field.replace('-', " ")
}

/// A multi-line value (an address is one line per part) on one line, without the empty parts
/// that would print as `, ,`.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// How the guest's report marks a person created this run who still needs the Services welcome
/// email (guest `services::WELCOME_NEEDED`): PCO's API cannot send it.
pub const WELCOME_NEEDED: &str = "welcome email to send from PCO Services";

/// What the administrator is told to do about the welcome emails of a run.
pub const WELCOME_HELP: &str =
    "Planning Center's API cannot send its welcome email: send it from PCO Services to";

/// The people of a report who still need the welcome email sent from Services, e.g.
/// `PCO 123 (Rock 45)`.
pub fn welcome_needed(report: &Report) -> Vec<String> {
    report
        .people
        .iter()
        .filter(|p| {
            p.actions
                .iter()
                .any(|a| matches!(a, Action::Flagged(note) if note.starts_with(WELCOME_NEEDED)))
        })
        .map(|p| match (p.rock_id, &p.pco_id) {
            (Some(rock), Some(pco)) => format!("PCO {pco} (Rock {rock})"),
            (_, Some(pco)) => format!("PCO {pco}"),
            (Some(rock), None) => format!("Rock {rock}"),
            (None, None) => "?".into(),
        })
        .collect()
}

pub fn kind_name(kind: RunKind) -> &'static str {
    match kind {
        RunKind::Sync => "sync",
        RunKind::Import => "import",
        RunKind::Revert => "revert",
        RunKind::Delete => "delete",
    }
}

pub fn outcome_name(outcome: RunOutcome) -> &'static str {
    match outcome {
        RunOutcome::Unfinished => "unfinished",
        RunOutcome::Succeeded => "succeeded",
        RunOutcome::Partial => "partial (some failed)",
        RunOutcome::Failed => "failed",
        RunOutcome::Held => "held by the brake",
    }
}

/// The counts that are not zero, e.g. `created 3 · updated to PCO 2`.
pub fn counts_text(c: &Counts) -> String {
    let items = [
        ("synced", c.synced),
        ("linked", c.linked),
        ("created", c.created),
        ("updated to PCO", c.updated_to_pco),
        ("updated to Rock", c.updated_to_rock),
        ("conflicts", c.conflicts),
        ("raised", c.raised),
        ("lowered", c.lowered),
        ("archived", c.archived),
        ("imported", c.imported),
        ("deleted", c.deleted),
        ("reverted", c.reverted),
        ("skipped", c.skipped),
        ("failed", c.failed),
    ];
    let shown: Vec<String> = items
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    if shown.is_empty() {
        "nothing".into()
    } else {
        shown.join(" · ")
    }
}

/// A stored RFC 3339 time as a person reads it: `2026-11-23 10:00:00 UTC` (other text as is).
pub fn time_text(time: &str) -> String {
    match (time.get(..19), time.ends_with('Z')) {
        (Some(start), true) if time.as_bytes().get(10) == Some(&b'T') => {
            format!("{} UTC", start.replace('T', " "))
        }
        _ => time.to_string(),
    }
}

/// A saved value as `(field, text)`, e.g. `("birthdate", "1980-04-02")`.
pub fn field_value_text(value: &FieldValue) -> (&'static str, String) {
    let text = |s: &str| {
        if s.trim().is_empty() {
            "(blank)".to_string()
        } else {
            s.to_string()
        }
    };
    let optional = |s: &Option<String>| s.as_deref().map_or("(blank)".to_string(), text);
    let date = |d: &Option<Date>| match d {
        None => "(blank)".to_string(),
        Some(Date {
            year: Some(year),
            month,
            day,
        }) => format!("{year:04}-{month:02}-{day:02}"),
        Some(Date {
            year: None,
            month,
            day,
        }) => format!("--{month:02}-{day:02}"),
    };
    let address = |a: &Option<Address>| match a {
        None => "(blank)".to_string(),
        Some(a) => [
            &a.street1,
            &a.street2,
            &a.city,
            &a.state,
            &a.postal_code,
            &a.country,
        ]
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", "),
    };
    match value {
        FieldValue::FirstName(v) => ("first name", text(v)),
        FieldValue::NickName(v) => ("nick name", text(v)),
        FieldValue::MiddleName(v) => ("middle name", text(v)),
        FieldValue::LastName(v) => ("last name", text(v)),
        FieldValue::Gender(g) => (
            "gender",
            match g {
                Gender::Unknown => "(unknown)".into(),
                Gender::Male => "Male".into(),
                Gender::Female => "Female".into(),
            },
        ),
        FieldValue::Birthdate(d) => ("birthdate", date(d)),
        FieldValue::Anniversary(d) => ("anniversary", date(d)),
        FieldValue::HomeAddress(a) => ("home address", address(a)),
        FieldValue::HomePhone(v) => ("home phone", optional(v)),
        FieldValue::WorkPhone(v) => ("work phone", optional(v)),
        FieldValue::MobilePhone(v) => ("mobile phone", optional(v)),
        FieldValue::Email(v) => ("email", optional(v)),
    }
}

/// The counts that mean something for this kind of run, zeros included (R22).
pub fn counts_line(kind: RunKind, c: &Counts) -> String {
    let items: Vec<(&str, u32)> = match kind {
        RunKind::Sync => vec![
            ("synced", c.synced),
            ("linked", c.linked),
            ("created", c.created),
            ("updated to PCO", c.updated_to_pco),
            ("updated to Rock", c.updated_to_rock),
            ("conflicts", c.conflicts),
            ("raised", c.raised),
            ("lowered", c.lowered),
            ("archived", c.archived),
            ("skipped", c.skipped),
            ("failed", c.failed),
        ],
        RunKind::Import => vec![
            ("imported", c.imported),
            ("linked", c.linked),
            ("created in Rock", c.created),
            ("skipped", c.skipped),
            ("failed", c.failed),
        ],
        RunKind::Delete => vec![
            ("deleted", c.deleted),
            ("skipped", c.skipped),
            ("failed", c.failed),
        ],
        RunKind::Revert => vec![
            ("reverted", c.reverted),
            ("skipped", c.skipped),
            ("failed", c.failed),
        ],
    };
    items
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect::<Vec<_>>()
        .join(" · ")
}

pub fn describe(action: &Action, kind: RunKind, dry_run: bool) -> String {
    describe_with(action, kind, dry_run, true)
}

/// Text from Rock, PCO or the guest, safe for a terminal or a log line: control characters
/// (an escape sequence that would rewrite the terminal, a line break that would forge a log
/// line) are written as `\u{1b}`.
pub fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                format!("\\u{{{:x}}}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `text` with every control character but its line breaks escaped (issue 24 item 19): an
/// escape sequence in a Rock nickname, a tag, a group's name or a value must not reach the
/// terminal.
pub fn terminal_safe(text: &str) -> String {
    text.split('\n')
        .map(printable)
        .collect::<Vec<_>>()
        .join("\n")
}

/// An action in words; with `values` false the values before and after are left out (the
/// fields and who changed still are): contact data stays out of a scheduler's logs (R53).
pub fn describe_with(action: &Action, kind: RunKind, dry_run: bool, values: bool) -> String {
    let will = |done: &str, planned: &str| {
        if dry_run {
            planned.to_string()
        } else {
            done.to_string()
        }
    };
    let value = |v: &Option<String>| match v {
        Some(text) => format!("\"{}\"", printable(&one_line(text))),
        None => "(blank)".to_string(),
    };
    let level = |l: &Option<PermissionLevel>| match l {
        Some(level) => level_name(Some(*level)),
        None => "none",
    };
    let change = |before: &Option<String>, after: &Option<String>| {
        if values {
            format!(": {} -> {}", value(before), value(after))
        } else {
            String::new()
        }
    };
    match action {
        Action::Linked(id) => format!(
            "{} PCO person {}",
            will("linked to", "would link to"),
            printable(id)
        ),
        Action::Created(_) if kind == RunKind::Import => {
            will("created in Rock", "would be created in Rock")
        }
        Action::Created(_) => will("created in PCO", "would be created in PCO"),
        Action::Joined(group) => format!(
            "{} Rock group {group}",
            will("added to", "would be added to")
        ),
        Action::Deleted => will("deleted from PCO", "would be deleted from PCO"),
        Action::Reverted(c) => format!(
            "{} {} in {}{}",
            will("reverted", "would revert"),
            printable(&field_name(&c.field)),
            match c.direction {
                Direction::RockToPco => "PCO",
                Direction::PcoToRock => "Rock",
            },
            change(&c.before, &c.after)
        ),
        Action::Updated(c) => format!(
            "{} {}{}",
            printable(&field_name(&c.field)),
            match c.direction {
                Direction::RockToPco => "Rock -> PCO",
                Direction::PcoToRock => "PCO -> Rock",
            },
            change(&c.before, &c.after)
        ),
        Action::Conflict(c) => format!(
            "conflict on {}: both sides changed; kept {}{}",
            printable(&field_name(&c.field)),
            if values {
                format!("{} from ", value(&c.after))
            } else {
                String::new()
            },
            match c.direction {
                Direction::RockToPco => "Rock",
                Direction::PcoToRock => "PCO",
            }
        ),
        Action::Raised((from, to)) => format!(
            "permission raised {} -> {}",
            level(from),
            level_name(Some(*to))
        ),
        Action::Lowered((from, to)) => format!(
            "permission lowered {} -> {}",
            level_name(Some(*from)),
            level_name(Some(*to))
        ),
        Action::Archived => will("archived in PCO", "would be archived in PCO"),
        Action::Skipped(why) => format!("skipped: {}", printable(why)),
        Action::Failed(error) => format!(
            "FAILED ({}): {}",
            error_kind_name(error.kind),
            printable(&error.message)
        ),
        Action::Flagged(note) => format!("note: {}", printable(note)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::engine::FieldChange;
    use crate::bindings::types::Error;

    fn email_change() -> Action {
        Action::Updated(FieldChange {
            field: "email".into(),
            direction: Direction::RockToPco,
            before: Some("ada@example.org".into()),
            after: Some("ada.l@example.org".into()),
        })
    }

    // R53: without `values`, a report line says what changed, not the personal data.
    #[test]
    fn values_are_shown_only_when_asked() {
        let hidden = describe_with(&email_change(), RunKind::Sync, false, false);
        assert!(hidden.starts_with("email Rock -> PCO"), "{hidden}");
        assert!(!hidden.contains("ada"), "{hidden}");
        let shown = describe_with(&email_change(), RunKind::Sync, false, true);
        assert!(
            shown.contains("\"ada@example.org\" -> \"ada.l@example.org\""),
            "{shown}"
        );
    }

    #[test]
    fn control_characters_from_the_outside_are_escaped() {
        let forged = Action::Skipped("bad\u{1b}[2J\rname\nFAKE LOG LINE".into());
        let line = describe(&forged, RunKind::Sync, false);
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(line.contains("\\u{1b}"), "{line}");
        assert_eq!(printable("plain é"), "plain é");
    }

    #[test]
    fn levels_read_as_planning_center_names_them() {
        let raised = Action::Raised((None, PermissionLevel::ScheduledViewer));
        let lowered = Action::Lowered((PermissionLevel::Editor, PermissionLevel::Viewer));

        assert_eq!(
            describe(&raised, RunKind::Sync, false),
            "permission raised none -> Scheduled Viewer"
        );
        assert_eq!(
            describe(&lowered, RunKind::Sync, true),
            "permission lowered Editor -> Viewer"
        );
    }

    #[test]
    fn an_address_without_a_second_street_line_has_no_empty_parts() {
        let change = FieldChange {
            field: "home-address".into(),
            direction: Direction::RockToPco,
            before: None,
            after: Some("13 Elm Street\n\nSpringfield\nIL\n62701\nUS".into()),
        };

        let text = describe(&Action::Updated(change), RunKind::Sync, false);

        assert_eq!(
            text,
            "home address Rock -> PCO: (blank) -> \"13 Elm Street, Springfield, IL, 62701, US\""
        );
    }

    #[test]
    fn a_failure_names_its_kind_in_words() {
        let failed = Action::Failed(Error {
            kind: ErrorKind::RateLimited,
            message: "PCO kept answering 429".into(),
        });

        assert_eq!(
            describe(&failed, RunKind::Sync, false),
            "FAILED (rate limited): PCO kept answering 429"
        );
    }
}
