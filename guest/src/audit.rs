//! Run history and the audit of every write (R25), and reverting a run.
//!
//! Every run that writes keeps, in the state:
//! - `run/{run id}`: its summary (kind, start, end, outcome, counts);
//! - `audit/{run id}/{person key}`: for each person it writes, the person's record as it was
//!   before the run and every write planned for them, with the value before and after.
//!
//! The audit is written ahead: a person's entries are committed before any of their writes is
//! sent, so a run killed midway still lists every write it may have made. Reverting a write
//! that never happened writes the value the field already holds, which changes nothing.

use serde::{Deserialize, Serialize};

use crate::api::{
    Account, AuditEntry, Counts, Direction, Report, RunDetail, RunKind, RunOutcome, RunSummary,
};
use crate::bindings::rockpco::sync::state::{Entry, Write};
use crate::ports::Ports;
use crate::store::Record;
use crate::types::{Error, ErrorKind};

const RUN: &str = "run/";
const AUDIT: &str = "audit/";
const SCAN_PAGE: u32 = 1000;
/// How many people's audits go in one state commit.
const COMMIT_CHUNK: usize = 500;

/// One write, as the audit keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditedWrite {
    /// The system written to.
    pub to: System,
    /// A field of R10 by name, or "permission", "tags", "link", "person".
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum System {
    Rock,
    Pco,
}

/// Everything a run wrote for one person.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PersonAudit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rock_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pco_id: Option<String>,
    /// The person's sync record before the run, put back by a revert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior: Option<Record>,
    pub writes: Vec<AuditedWrite>,
}

impl PersonAudit {
    /// The key of this person inside the run: the Rock id when known, else the PCO id.
    fn key(&self) -> String {
        match (&self.rock_id, &self.pco_id) {
            (Some(rock), _) => format!("r{rock:012}"),
            (None, Some(pco)) => format!("p{pco}"),
            (None, None) => "unknown".to_string(),
        }
    }
}

/// A run's summary, as the state keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct StoredRun {
    run_id: String,
    kind: String,
    started_at: String,
    #[serde(default)]
    finished_at: Option<String>,
    outcome: String,
    #[serde(default)]
    counts: Option<StoredCounts>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct StoredCounts {
    synced: u32,
    linked: u32,
    created: u32,
    updated_to_pco: u32,
    updated_to_rock: u32,
    conflicts: u32,
    raised: u32,
    lowered: u32,
    archived: u32,
    skipped: u32,
    failed: u32,
    imported: u32,
    deleted: u32,
    reverted: u32,
}

/// The history of one run that writes: begun before its first write, finished after its last.
pub struct RunLog {
    run_id: String,
    kind: RunKind,
    started_at: String,
}

impl RunLog {
    pub fn new(kind: RunKind, run_id: &str, started_at: &str) -> RunLog {
        RunLog {
            run_id: run_id.to_string(),
            kind,
            started_at: started_at.to_string(),
        }
    }

    /// Records the run as started (outcome unfinished). Commit it before any write.
    pub fn begin(&self) -> Write {
        self.summary(RunOutcome::Unfinished, None, None)
    }

    /// Commits, ahead of the writes they describe, the audits of these people (in chunks, so
    /// a large first sync does not build one huge transaction).
    pub fn record(&self, ports: &dyn Ports, people: &[PersonAudit]) -> Result<(), Error> {
        for chunk in people
            .iter()
            .filter(|p| !p.writes.is_empty())
            .collect::<Vec<_>>()
            .chunks(COMMIT_CHUNK)
        {
            let writes: Vec<Write> = chunk.iter().map(|p| self.audit_write(p)).collect();
            ports.state_commit(&writes)?;
        }
        Ok(())
    }

    /// The audit of one person, to commit with other writes of the caller.
    pub fn audit_write(&self, person: &PersonAudit) -> Write {
        Write::Put(Entry {
            key: format!("{AUDIT}{}/{}", self.run_id, person.key()),
            value: serde_json::to_vec(person).unwrap_or_default(),
        })
    }

    /// The run's final summary, to commit with (or after) its last writes.
    pub fn finish(&self, report: &Report) -> Write {
        let outcome = if report.held {
            RunOutcome::Held
        } else if report.counts.failed > 0 {
            RunOutcome::Partial
        } else {
            RunOutcome::Succeeded
        };
        self.summary(
            outcome,
            Some(crate::clock::now_rfc3339()),
            Some(&report.counts),
        )
    }

    /// The run's summary when it stopped on an error.
    pub fn failed(&self, report: &Report) -> Write {
        self.summary(
            RunOutcome::Failed,
            Some(crate::clock::now_rfc3339()),
            Some(&report.counts),
        )
    }

    fn summary(
        &self,
        outcome: RunOutcome,
        finished_at: Option<String>,
        counts: Option<&Counts>,
    ) -> Write {
        let stored = StoredRun {
            run_id: self.run_id.clone(),
            kind: kind_name(self.kind).to_string(),
            started_at: self.started_at.clone(),
            finished_at,
            outcome: outcome_name(outcome).to_string(),
            counts: counts.map(stored_counts),
        };
        Write::Put(Entry {
            key: format!("{RUN}{}", self.run_id),
            value: serde_json::to_vec(&stored).unwrap_or_default(),
        })
    }
}

/// Runs a closure that writes, recording the run as failed when it stops on an error. The
/// closure gets the report to fill; its error is returned after the failure is recorded.
pub fn logged<F>(ports: &dyn Ports, log: &RunLog, report: &mut Report, body: F) -> Result<(), Error>
where
    F: FnOnce(&mut Report) -> Result<(), Error>,
{
    if summary(ports, &log.run_id)?.is_some() {
        return Err(Error {
            kind: ErrorKind::Invalid,
            message: format!(
                "run id `{}` was used before; every run needs a new id (the host gives one)",
                log.run_id
            ),
        });
    }
    ports.state_commit(&[log.begin()])?;
    match body(report) {
        Ok(()) => ports.state_commit(&[log.finish(report)]),
        Err(error) => {
            // Best effort: the error that stopped the run matters more than this one.
            let _ = ports.state_commit(&[log.failed(report)]);
            Err(error)
        }
    }
}

/// The most recent `limit` runs, newest first.
pub fn recent_runs(ports: &dyn Ports, limit: usize) -> Result<Vec<RunSummary>, Error> {
    let mut runs: Vec<RunSummary> = scan(ports, RUN)?
        .into_iter()
        .map(|entry| parse_run(&entry))
        .collect::<Result<_, _>>()?;
    runs.sort_by(|a, b| {
        b.started_at
            .cmp(&a.started_at)
            .then(b.run_id.cmp(&a.run_id))
    });
    runs.truncate(limit);
    Ok(runs)
}

/// Every person audit of a run, in key order.
pub fn audits(ports: &dyn Ports, run_id: &str) -> Result<Vec<PersonAudit>, Error> {
    scan(ports, &format!("{AUDIT}{run_id}/"))?
        .iter()
        .map(|entry| serde_json::from_slice(&entry.value).map_err(|e| corrupt(&entry.key, e)))
        .collect()
}

pub fn summary(ports: &dyn Ports, run_id: &str) -> Result<Option<RunSummary>, Error> {
    let key = format!("{RUN}{run_id}");
    let value = ports.state_get(std::slice::from_ref(&key))?.pop().flatten();
    value
        .map(|value| parse_run(&Entry { key, value }))
        .transpose()
}

pub fn run_detail(ports: &dyn Ports, _account: &Account, run_id: &str) -> Result<RunDetail, Error> {
    let summary = summary(ports, run_id)?.ok_or_else(|| Error {
        kind: ErrorKind::NotFound,
        message: format!(
            "no run `{run_id}` in this account's history (`pcosync status` lists recent runs)"
        ),
    })?;
    let writes = audits(ports, run_id)?
        .into_iter()
        .flat_map(|person| {
            let (rock_id, pco_id) = (person.rock_id, person.pco_id.clone());
            person.writes.into_iter().map(move |w| AuditEntry {
                rock_id,
                pco_id: pco_id.clone(),
                direction: match w.to {
                    System::Pco => Direction::RockToPco,
                    System::Rock => Direction::PcoToRock,
                },
                field: w.field,
                before: w.before,
                after: w.after,
            })
        })
        .collect();
    Ok(RunDetail { summary, writes })
}

fn scan(ports: &dyn Ports, prefix: &str) -> Result<Vec<Entry>, Error> {
    let mut entries = Vec::new();
    let mut after = None;
    loop {
        let page = ports.state_scan(prefix, after.as_deref(), SCAN_PAGE)?;
        let full = page.len() as u32 == SCAN_PAGE;
        after = page.last().map(|e| e.key.clone());
        entries.extend(page);
        if !full {
            return Ok(entries);
        }
    }
}

fn parse_run(entry: &Entry) -> Result<RunSummary, Error> {
    let stored: StoredRun =
        serde_json::from_slice(&entry.value).map_err(|e| corrupt(&entry.key, e))?;
    Ok(RunSummary {
        run_id: stored.run_id,
        kind: parse_kind(&stored.kind).ok_or_else(|| corrupt(&entry.key, "unknown run kind"))?,
        started_at: stored.started_at,
        finished_at: stored.finished_at,
        dry_run: false,
        outcome: parse_outcome(&stored.outcome)
            .ok_or_else(|| corrupt(&entry.key, "unknown outcome"))?,
        counts: counts_from(stored.counts.unwrap_or_default()),
    })
}

fn corrupt(key: &str, what: impl std::fmt::Display) -> Error {
    Error {
        kind: ErrorKind::Internal,
        message: format!("the state entry `{key}` is unreadable ({what}); it was not changed"),
    }
}

pub fn kind_name(kind: RunKind) -> &'static str {
    match kind {
        RunKind::Sync => "sync",
        RunKind::Import => "import",
        RunKind::Revert => "revert",
        RunKind::Delete => "delete",
    }
}

fn parse_kind(name: &str) -> Option<RunKind> {
    [
        RunKind::Sync,
        RunKind::Import,
        RunKind::Revert,
        RunKind::Delete,
    ]
    .into_iter()
    .find(|k| kind_name(*k) == name)
}

fn outcome_name(outcome: RunOutcome) -> &'static str {
    match outcome {
        RunOutcome::Unfinished => "unfinished",
        RunOutcome::Succeeded => "succeeded",
        RunOutcome::Partial => "partial",
        RunOutcome::Failed => "failed",
        RunOutcome::Held => "held",
    }
}

fn parse_outcome(name: &str) -> Option<RunOutcome> {
    [
        RunOutcome::Unfinished,
        RunOutcome::Succeeded,
        RunOutcome::Partial,
        RunOutcome::Failed,
        RunOutcome::Held,
    ]
    .into_iter()
    .find(|o| outcome_name(*o) == name)
}

fn stored_counts(c: &Counts) -> StoredCounts {
    StoredCounts {
        synced: c.synced,
        linked: c.linked,
        created: c.created,
        updated_to_pco: c.updated_to_pco,
        updated_to_rock: c.updated_to_rock,
        conflicts: c.conflicts,
        raised: c.raised,
        lowered: c.lowered,
        archived: c.archived,
        skipped: c.skipped,
        failed: c.failed,
        imported: c.imported,
        deleted: c.deleted,
        reverted: c.reverted,
    }
}

fn counts_from(c: StoredCounts) -> Counts {
    Counts {
        synced: c.synced,
        linked: c.linked,
        created: c.created,
        updated_to_pco: c.updated_to_pco,
        updated_to_rock: c.updated_to_rock,
        conflicts: c.conflicts,
        raised: c.raised,
        lowered: c.lowered,
        archived: c.archived,
        skipped: c.skipped,
        failed: c.failed,
        imported: c.imported,
        deleted: c.deleted,
        reverted: c.reverted,
    }
}
