//! How a run's report reads for an administrator.

use crate::bindings::engine::{Action, Counts, Direction, Report, RunKind};
use crate::bindings::types::PermissionLevel;

/// The counts that mean something for this kind of run, zeros included (R22).
fn counts_line(kind: RunKind, c: &Counts) -> String {
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

/// The report as an administrator reads it: counts, then one line per person and action.
pub fn print_report(report: &Report) {
    let c = &report.counts;
    println!(
        "  account {} · run {}{}",
        report.account,
        report.run_id,
        if report.dry_run {
            " · DRY RUN (nothing written)"
        } else {
            ""
        }
    );
    println!("  {}", counts_line(report.kind, c));
    for person in &report.people {
        let who = match (person.rock_id, &person.pco_id) {
            (Some(rock), Some(pco)) => format!("Rock {rock} / PCO {pco}"),
            (Some(rock), None) => format!("Rock {rock}"),
            (None, Some(pco)) => format!("PCO {pco}"),
            (None, None) => "?".to_string(),
        };
        for action in &person.actions {
            println!(
                "    {who}: {}",
                describe(action, report.kind, report.dry_run)
            );
        }
    }
    println!();
}

pub fn describe(action: &Action, kind: RunKind, dry_run: bool) -> String {
    let will = |done: &str, planned: &str| {
        if dry_run {
            planned.to_string()
        } else {
            done.to_string()
        }
    };
    let value = |v: &Option<String>| match v {
        Some(text) => format!("\"{}\"", text.replace('\n', ", ")),
        None => "(blank)".to_string(),
    };
    let level = |l: &Option<PermissionLevel>| l.map_or("none".to_string(), |l| format!("{l:?}"));
    match action {
        Action::Linked(id) => format!("{} PCO person {id}", will("linked to", "would link to")),
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
            "{} {} in {}: {} -> {}",
            will("reverted", "would revert"),
            c.field,
            match c.direction {
                Direction::RockToPco => "PCO",
                Direction::PcoToRock => "Rock",
            },
            value(&c.before),
            value(&c.after)
        ),
        Action::Updated(c) => format!(
            "{} {}: {} -> {}",
            c.field,
            match c.direction {
                Direction::RockToPco => "Rock -> PCO",
                Direction::PcoToRock => "PCO -> Rock",
            },
            value(&c.before),
            value(&c.after)
        ),
        Action::Conflict(c) => format!(
            "conflict on {}: both sides changed; kept {} from {}",
            c.field,
            value(&c.after),
            match c.direction {
                Direction::RockToPco => "Rock",
                Direction::PcoToRock => "PCO",
            }
        ),
        Action::Raised((from, to)) => format!("permission raised {} -> {to:?}", level(from)),
        Action::Lowered((from, to)) => format!("permission lowered {from:?} -> {to:?}"),
        Action::Archived => will("archived in PCO", "would be archived in PCO"),
        Action::Skipped(why) => format!("skipped: {why}"),
        Action::Failed(error) => format!("FAILED ({:?}): {}", error.kind, error.message),
        Action::Flagged(note) => format!("note: {note}"),
    }
}
