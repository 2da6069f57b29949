//! How a run's report reads for an administrator.

use std::io::IsTerminal;

use crate::ops::text::{WELCOME_HELP, welcome_needed};

use crate::bindings::engine::Report;
pub use crate::ops::text::{counts_line, describe_with, printable};

/// The report as an administrator reads it: counts, then one line per person and action, with
/// the values before and after only on a terminal (a scheduler's output goes to its logs).
pub fn print_report(report: &Report) {
    print_report_with(report, std::io::stdout().is_terminal());
}

/// [`print_report`], with the values before and after when `values`.
pub fn print_report_with(report: &Report, values: bool) {
    let c = &report.counts;
    println!(
        "  account {} · run {}{}",
        printable(&report.account),
        printable(&report.run_id),
        if report.dry_run {
            " · DRY RUN (nothing written)"
        } else {
            ""
        }
    );
    println!("  {}", counts_line(report.kind, c));
    for person in &report.people {
        let who = match (person.rock_id, person.pco_id.as_deref().map(printable)) {
            (Some(rock), Some(pco)) => format!("Rock {rock} / PCO {pco}"),
            (Some(rock), None) => format!("Rock {rock}"),
            (None, Some(pco)) => format!("PCO {pco}"),
            (None, None) => "?".to_string(),
        };
        for action in &person.actions {
            println!(
                "    {who}: {}",
                describe_with(action, report.kind, report.dry_run, values)
            );
        }
    }
    let welcome = welcome_needed(report);
    if !welcome.is_empty() {
        println!(
            "  {WELCOME_HELP} these {} people created in PCO: {}",
            welcome.len(),
            welcome.join(", ")
        );
    }
    println!();
}
