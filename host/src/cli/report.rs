//! How a run's report reads for an administrator.

use crate::bindings::engine::{Action, Direction, Report};
use crate::bindings::types::PermissionLevel;

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
    println!(
        "  synced {} · linked {} · created {} · updated to PCO {} · updated to Rock {} · conflicts {} · raised {} · lowered {} · archived {} · skipped {} · failed {}",
        c.synced,
        c.linked,
        c.created,
        c.updated_to_pco,
        c.updated_to_rock,
        c.conflicts,
        c.raised,
        c.lowered,
        c.archived,
        c.skipped,
        c.failed
    );
    for person in &report.people {
        let who = match (person.rock_id, &person.pco_id) {
            (Some(rock), Some(pco)) => format!("Rock {rock} / PCO {pco}"),
            (Some(rock), None) => format!("Rock {rock}"),
            (None, Some(pco)) => format!("PCO {pco}"),
            (None, None) => "?".to_string(),
        };
        for action in &person.actions {
            println!("    {who}: {}", describe(action, report.dry_run));
        }
    }
    println!();
}

pub fn describe(action: &Action, dry_run: bool) -> String {
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
        Action::Created(_) => will("created in PCO", "would be created in PCO"),
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
