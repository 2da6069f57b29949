//! Person merges: PCO's `GET /people/v2/person_mergers` (research §6.5), and the merge itself,
//! which PCO only does in its UI; the sandbox offers it to tests (SPEC R7: a linked PCO person
//! can disappear into another).

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use serde_json::json;

use super::{Capabilities, SharedState, list as list_doc, view};
use crate::clock::{format_time, lock};
use crate::jsonapi::{ApiError, ApiResult, document};
use crate::model::{Counters, PersonMerger};
use crate::query::{ListParams, Op};
use crate::resource::{Relationships, Resource};
use crate::state::{Ctx, Shared};

const QUERY: &[&str] = &["created_at", "person_to_keep_id", "person_to_remove_id"];

pub async fn list(
    State(shared): SharedState,
    Extension(ctx): Extension<Ctx>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    // RoleRules::mergers_need_manager: below People Manager, 403.
    if ctx.rules.mergers_need_manager && !ctx.user.is_people_manager() {
        return Err(ApiError::no_access().into());
    }
    let params = ListParams::parse(q.as_deref())?;
    let keep = id_filter(&params, "person_to_keep_id")?;
    let remove = id_filter(&params, "person_to_remove_id")?;
    let since = match params.wheres.iter().find(|w| w.field == "created_at") {
        Some(w) => Some((
            w.op,
            crate::clock::parse_time(&w.value)
                .map(|(t, _)| t)
                .ok_or_else(|| bad_where(&w.field))?,
        )),
        None => None,
    };
    let store = lock(&shared.store);
    let account = &store.accounts[ctx.account];
    let rows: Vec<&PersonMerger> = account
        .mergers
        .iter()
        .filter(|m| keep.is_none_or(|k| m.keep == k) && remove.is_none_or(|r| m.remove == r))
        .filter(|m| since.is_none_or(|(op, t)| compare(&op, m.created_at, t)))
        .collect();
    let v = view(&shared, ctx, account);
    let caps = Capabilities {
        include: &[],
        query: QUERY,
        order: &["created_at"],
        filter: &[],
    };
    let body = list_doc(
        v,
        &params,
        "/people/v2/person_mergers",
        &rows,
        &caps,
        |m, _| {
            let attributes = json!({
                "created_at": format_time(m.created_at),
                "person_to_keep_id": m.keep,
                "person_to_remove_id": m.remove,
            });
            let link = format!("{}/people/v2/person_mergers/{}", v.base, m.id);
            Resource::new("PersonMerger", m.id, attributes, Relationships::new(), link)
        },
    );
    Ok(document(StatusCode::OK, body))
}

fn bad_where(field: &str) -> ApiError {
    ApiError::bad_request("invalid_where", format!("invalid value for where[{field}]"))
}

fn id_filter(params: &ListParams, field: &str) -> Result<Option<u64>, ApiError> {
    params
        .where_value(field)
        .map(|v| v.parse().map_err(|_| bad_where(field)))
        .transpose()
}

fn compare(op: &Op, value: i64, t: i64) -> bool {
    match op {
        Op::Eq => value == t,
        Op::Gt => value > t,
        Op::Gte => value >= t,
        Op::Lt => value < t,
        Op::Lte => value <= t,
    }
}

/// Merges `remove` into `keep` as PCO's UI does: the removed person's emails, phone numbers and
/// addresses move to the kept one (and their Services record if the kept one has none), the
/// removed id is gone (404), and a PersonMerger is recorded.
pub fn merge(shared: &Shared, account: &str, keep: u64, remove: u64) -> Result<(), String> {
    let mut store = lock(&shared.store);
    let index = store
        .accounts
        .iter()
        .position(|a| a.name == account)
        .ok_or("no such account")?;
    let (account, next) = store.split(index);
    if keep == remove || !account.people.contains_key(&keep) {
        return Err(format!(
            "person {keep} is not in this account, or is the one to remove"
        ));
    }
    let removed = account
        .people
        .remove(&remove)
        .ok_or(format!("person {remove} is not in this account"))?;
    let now = shared.clock.tick();
    let kept = account
        .people
        .get_mut(&keep)
        .ok_or("person to keep vanished")?;
    for contact in removed
        .emails
        .iter()
        .map(|e| e.id)
        .chain(removed.phones.iter().map(|p| p.id))
        .chain(removed.addresses.iter().map(|a| a.id))
    {
        account.contact_owner.insert(contact, keep);
    }
    kept.emails.extend(removed.emails);
    kept.phones.extend(removed.phones);
    kept.addresses.extend(removed.addresses);
    if kept.services.is_none() {
        kept.services = removed.services;
        kept.apps.extend(removed.apps);
    }
    kept.updated_at = now;
    let id = Counters::take(&mut next.merger);
    account.mergers.push(PersonMerger {
        id,
        keep,
        remove,
        created_at: now,
    });
    Ok(())
}
