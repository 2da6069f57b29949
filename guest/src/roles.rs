//! What the token's user may not do in PCO, held out of a run's plan before anything is
//! written (issue 23), so that PCO never refuses a write the sync could have known it would
//! refuse, and a standing refusal neither fails people nor freezes the updates-only cursor:
//!
//! - **Services permission levels** (a raise, a lowering, an archive, and the level of a new
//!   Services profile) need a Services Administrator or an organization administrator
//!   ([`TokenRoles::level_refusal`]). With a People Editor and Services Scheduler token the
//!   run still syncs names, contacts, creates and tags; each level change is held and the
//!   person flagged with the role needed. A new person's Services access is held whole: the
//!   app alone would give them the organization's default level, which may be above the one
//!   their groups give.
//! - **Organization and accounting administrators' names, emails, phones and addresses** can
//!   be edited only by an organization administrator (planningcenter/developers#1139: 422
//!   "You cannot assign first_name and last_name to this Person"; #1096: 403 on a phone
//!   PATCH by a People Manager). Those writes are held and the person flagged; the merge base
//!   keeps PCO's value for each held field, so the next run sees Rock's change again (and
//!   sends it once the token can).
//!
//! A hold is a flag, not a failure: the person's other writes go through and the cursor moves.

use std::collections::BTreeMap;

use crate::fields::Field;
use crate::pco_api::TokenRoles;
use crate::pco_people::PcoPersonFull;
use crate::plan::{LevelStep, PersonPlan, TagStep};
use crate::services::level_name;

/// The fields PCO keeps from anyone but an organization administrator when the person is an
/// organization or accounting administrator: names and contact information (#1139, #1096).
pub const ADMINISTRATOR_FIELDS: [Field; 9] = [
    Field::FirstName,
    Field::NickName,
    Field::MiddleName,
    Field::LastName,
    Field::Email,
    Field::HomePhone,
    Field::WorkPhone,
    Field::MobilePhone,
    Field::HomeAddress,
];

/// Whether a planned PCO write would touch an administrator-only field.
pub fn writes_administrator_fields(plan: &PersonPlan) -> bool {
    plan.fields.as_ref().is_some_and(|m| {
        m.to_pco
            .iter()
            .any(|(f, _)| ADMINISTRATOR_FIELDS.contains(f))
    })
}

/// Holds, in each plan, the writes the token's user may not make; each hold is flagged.
/// `pco` holds the PCO people known this run (whose `site_administrator` and
/// `accounting_administrator` decide the second rule).
pub fn hold(plans: &mut [PersonPlan], roles: &TokenRoles, pco: &BTreeMap<String, PcoPersonFull>) {
    let level_refusal = roles.level_refusal();
    for plan in plans.iter_mut() {
        if let Some(why) = &level_refusal {
            hold_level(plan, why);
        }
        if !roles.edits_administrators() {
            let person = plan.pco_id.as_ref().and_then(|id| pco.get(id));
            if let Some(person) =
                person.filter(|p| p.site_administrator || p.accounting_administrator)
            {
                hold_administrator_fields(plan, person);
            }
        }
    }
}

fn hold_level(plan: &mut PersonPlan, why: &str) {
    let change = match plan.level {
        LevelStep::Keep => return,
        LevelStep::Grant(to) => format!("Services access at {} not given", level_name(to)),
        LevelStep::Set { from, to } => format!(
            "Services permission not changed from {} to {}",
            from.map_or("none", level_name),
            level_name(to)
        ),
        LevelStep::Archive { .. } => "not archived in Services".to_string(),
    };
    if let LevelStep::Grant(_) = plan.level {
        // Tags live on the Services profile this run does not make; they are merged afresh
        // (no base) once it exists.
        plan.tags = TagStep::default();
    }
    plan.level = LevelStep::Keep;
    plan.flags.push(format!("{change}: {why}"));
}

fn hold_administrator_fields(plan: &mut PersonPlan, person: &PcoPersonFull) {
    let pco_before = plan.before.as_ref().map(|(_, pco)| pco.clone());
    let Some(merge) = plan.fields.as_mut() else {
        return;
    };
    let held: Vec<Field> = merge
        .to_pco
        .iter()
        .map(|(f, _)| *f)
        .filter(|f| ADMINISTRATOR_FIELDS.contains(f))
        .collect();
    if held.is_empty() {
        return;
    }
    merge.to_pco.retain(|(f, _)| !held.contains(f));
    for field in &held {
        // The base keeps what PCO holds, so the next run sees Rock's value as a change again.
        let pco_value = pco_before.as_ref().and_then(|s| s.get(*field));
        merge.base.set(*field, pco_value);
    }
    let names: Vec<&str> = held.iter().map(|f| f.name()).collect();
    let who = if person.site_administrator {
        "an organization administrator"
    } else {
        "an accounting administrator"
    };
    plan.flags.push(format!(
        "{} not written to PCO: this person is {who} in PCO, whose names and contacts only an organization administrator may edit; edit in PCO, or use an organization administrator's token",
        names.join(", ")
    ));
}
