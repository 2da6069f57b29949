//! Reports: every run, whatever its kind, answers with one (R22).

use crate::api::{Counts, Report, RunKind};

pub fn zero_counts() -> Counts {
    Counts {
        synced: 0,
        linked: 0,
        created: 0,
        updated_to_pco: 0,
        updated_to_rock: 0,
        conflicts: 0,
        raised: 0,
        lowered: 0,
        archived: 0,
        skipped: 0,
        failed: 0,
        imported: 0,
        deleted: 0,
        reverted: 0,
    }
}

/// A report with nothing in it yet.
pub fn empty(kind: RunKind, run_id: &str, account: &str, dry_run: bool) -> Report {
    Report {
        run_id: run_id.to_string(),
        kind,
        account: account.to_string(),
        dry_run,
        held: false,
        counts: zero_counts(),
        people: Vec::new(),
    }
}
