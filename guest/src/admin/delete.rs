//! Deleting selected PCO records (R35).
//!
//! Each PCO id is first read from PCO: an id that is not a PCO id, or a person not in the
//! account, is reported as skipped (not fatal); an organization administrator is never deleted
//! (R50: removing one emails every administrator; their role is removed in PCO first). The rest
//! are deleted with `DELETE /people/v2/people/{id}`, which removes the person from PCO Services
//! too: a Services person is the People person under the same id and Services has no delete of
//! its own (research/pco-api.md §6.8, §7.1). The link that points to a deleted person is
//! forgotten, so a person no longer in any synced group stays gone, and one still in a synced
//! group is flagged: the next sync adds them back, as a new PCO person.
//!
//! A real delete is an audited run (R25): its audit names every person about to go, with their
//! link as it was, and is committed before the first delete is sent. A dry run reads only.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{Account, Action, AdminOptions, PersonOutcome, Report, RunKind};
use crate::audit::{self, AuditedWrite, PersonAudit, RunLog, System};
use crate::bindings::rockpco::sync::pco::{Method, Request};
use crate::pco_api::{API_VERSION_HEADER, PEOPLE_API_VERSION};
use crate::pco_people::parse_people_document;
use crate::ports::{Level, Ports};
use crate::store::{self, Record};
use crate::synced::who_is_synced;
use crate::types::{Error, ErrorKind};

pub const STILL_SYNCED: &str = "still in a synced group: the next sync adds them back";

/// A PCO person found and about to go.
struct Target {
    pco_id: String,
    /// The Rock person linked to them, and the link.
    linked: Option<(i64, Record)>,
    /// The Rock person the next sync would add back, when still in a synced group.
    comes_back: Option<i64>,
}

pub fn delete(
    ports: &dyn Ports,
    account: &Account,
    pco_ids: &[String],
    options: &AdminOptions,
) -> Result<Report, Error> {
    let mut report = crate::report::empty(
        RunKind::Delete,
        &options.run_id,
        &account.name,
        options.dry_run,
    );
    let mut seen = BTreeSet::new();
    let ids: Vec<String> = pco_ids
        .iter()
        .map(|id| id.trim().to_string())
        .filter(|id| seen.insert(id.clone()))
        .collect();
    let records = store::records(ports)?;
    let linked: BTreeMap<&str, (i64, &Record)> = records
        .iter()
        .map(|(rock_id, record)| (record.pco.as_str(), (*rock_id, record)))
        .collect();
    let synced = who_is_synced(ports, account)?;

    let (valid, invalid): (Vec<String>, Vec<String>) =
        ids.into_iter().partition(|id| super::valid_pco_id(id));
    for id in invalid {
        skip(
            &mut report,
            None,
            Some(id.clone()),
            format!("\"{id}\" is not a PCO person id: nothing deleted"),
        );
    }
    let reads: Vec<Request> = valid.iter().map(|id| super::person_request(id)).collect();
    let answers = if reads.is_empty() {
        Vec::new()
    } else {
        ports.pco_send_batch(&account.name, &reads)
    };
    let mut targets = Vec::new();
    // Links to PCO people already gone: forgotten with the deletes.
    let mut gone_links: Vec<i64> = Vec::new();
    for (index, id) in valid.iter().enumerate() {
        let link = linked.get(id.as_str()).copied();
        let rock_id = link.map(|(rock_id, _)| rock_id);
        let answer = answers.get(index).cloned().unwrap_or_else(|| {
            Err(Error {
                kind: ErrorKind::Internal,
                message: "the host answered fewer requests than it was sent".into(),
            })
        });
        let person = match answer.and_then(|r| parse_people_document(&r.body)) {
            Ok((people, _)) => people.into_iter().find(|p| p.id == *id),
            Err(e) if e.kind == ErrorKind::NotFound => None,
            Err(e) => {
                fail(&mut report, rock_id, id, e);
                continue;
            }
        };
        let Some(person) = person else {
            let why = match rock_id {
                Some(rock_id) => {
                    gone_links.push(rock_id);
                    format!(
                        "no PCO person {id} in this account (already deleted?); {} link from Rock person {rock_id}",
                        if options.dry_run {
                            "would forget the"
                        } else {
                            "forgot the"
                        }
                    )
                }
                None => format!("no PCO person {id} in this account: nothing deleted"),
            };
            skip(&mut report, rock_id, Some(id.clone()), why);
            continue;
        };
        if person.site_administrator {
            skip(
                &mut report,
                rock_id,
                Some(id.clone()),
                "an organization administrator in PCO: never deleted here (removing one emails every administrator); remove the role in PCO first".into(),
            );
            continue;
        }
        // The Rock person the next sync would bring back: the linked one, or the one whose id
        // PCO holds (R6) when no link says otherwise.
        let claimant = rock_id.or(person
            .remote_id
            .filter(|remote| !records.contains_key(remote)));
        targets.push(Target {
            pco_id: id.clone(),
            linked: link.map(|(rock_id, record)| (rock_id, record.clone())),
            comes_back: claimant.filter(|id| synced.contains_key(id)),
        });
    }

    if options.dry_run {
        for target in &targets {
            report.counts.deleted += 1;
            push_deleted(&mut report, target);
        }
        return Ok(report);
    }

    let log = RunLog::new(RunKind::Delete, &options.run_id, &options.started_at);
    audit::logged(ports, &log, &mut report, |report| {
        let audits: Vec<PersonAudit> = targets.iter().map(person_audit).collect();
        log.record(ports, &audits)?;
        let deletes: Vec<Request> = targets.iter().map(|t| delete_request(&t.pco_id)).collect();
        let results = if deletes.is_empty() {
            Vec::new()
        } else {
            ports.pco_send_batch(&account.name, &deletes)
        };
        let mut forget: Vec<i64> = gone_links.clone();
        for (index, target) in targets.iter().enumerate() {
            let rock_id = target.linked.as_ref().map(|(id, _)| *id);
            let result = results.get(index).cloned().unwrap_or_else(|| {
                Err(Error {
                    kind: ErrorKind::Internal,
                    message: "the host answered fewer requests than it was sent".into(),
                })
            });
            match result {
                Ok(_) => {
                    report.counts.deleted += 1;
                    forget.extend(rock_id);
                    push_deleted(report, target);
                    super::log(
                        ports,
                        Level::Info,
                        "deleted from PCO",
                        &[
                            ("pco", target.pco_id.clone()),
                            ("rock", rock_id.map(|id| id.to_string()).unwrap_or_default()),
                        ],
                    );
                }
                Err(e) if e.kind == ErrorKind::NotFound => {
                    forget.extend(rock_id);
                    skip(
                        report,
                        rock_id,
                        Some(target.pco_id.clone()),
                        format!("PCO person {} was already gone when deleted", target.pco_id),
                    );
                }
                Err(e) => fail(report, rock_id, &target.pco_id, e),
            }
        }
        let writes: Vec<_> = forget.into_iter().map(store::delete_record).collect();
        if writes.is_empty() {
            Ok(())
        } else {
            ports.state_commit(&writes)
        }
    })?;
    Ok(report)
}

fn delete_request(id: &str) -> Request {
    Request {
        method: Method::Delete,
        path: format!("/people/v2/people/{id}"),
        query: vec![],
        headers: vec![(API_VERSION_HEADER.into(), PEOPLE_API_VERSION.into())],
        body: None,
    }
}

/// The audit of one delete: the PCO person goes; the link as it was is kept as the prior.
fn person_audit(target: &Target) -> PersonAudit {
    PersonAudit {
        rock_id: target.linked.as_ref().map(|(id, _)| *id),
        pco_id: Some(target.pco_id.clone()),
        prior: target.linked.as_ref().map(|(_, record)| record.clone()),
        writes: vec![AuditedWrite {
            to: System::Pco,
            field: "person".into(),
            before: Some(target.pco_id.clone()),
            after: None,
        }],
    }
}

fn push_deleted(report: &mut Report, target: &Target) {
    let mut actions = vec![Action::Deleted];
    if target.comes_back.is_some() {
        actions.push(Action::Flagged(STILL_SYNCED.into()));
    }
    report.people.push(PersonOutcome {
        rock_id: target
            .linked
            .as_ref()
            .map(|(id, _)| *id)
            .or(target.comes_back),
        pco_id: Some(target.pco_id.clone()),
        actions,
    });
}

fn skip(report: &mut Report, rock_id: Option<i64>, pco_id: Option<String>, why: String) {
    report.counts.skipped += 1;
    report.people.push(PersonOutcome {
        rock_id,
        pco_id,
        actions: vec![Action::Skipped(why)],
    });
}

fn fail(report: &mut Report, rock_id: Option<i64>, pco_id: &str, error: Error) {
    report.counts.failed += 1;
    report.people.push(PersonOutcome {
        rock_id,
        pco_id: Some(pco_id.to_string()),
        actions: vec![Action::Failed(error)],
    });
}
