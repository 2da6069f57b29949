//! How a run's report reads for an administrator.

use crate::bindings::engine::Report;
pub use crate::ops::text::{counts_line, describe};

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
