//! Who is synced to an account (SPEC R2, R3, R16).

use std::collections::{BTreeMap, BTreeSet};

use crate::api::Account;
use crate::bindings::rockpco::sync::rock::{Group, PersonTags};
use crate::permissions::{granted_by_group, higher};
use crate::ports::Ports;
use crate::types::{Error, PermissionLevel};

/// Why a person is synced to the account, and what they get there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Synced {
    /// Highest level of their synced groups; Scheduled Viewer when synced by tags only (R16).
    pub level: PermissionLevel,
    /// The account's tags this person should carry in PCO (`tag group:tag`): both kinds below.
    pub tags: BTreeSet<String>,
    /// Tags selected on the person's "PCO Tags" attribute (R2 a).
    pub attribute_tags: BTreeSet<String>,
    /// Tags that membership of a tag-mapped group gives (R2 b, R14).
    pub group_tags: BTreeSet<String>,
    /// Synced only by values of group-controlled tags left in the attribute (R14) of someone
    /// outside those groups: a linked person is synced once more, to clear them; anyone else
    /// is not synced at all (see `run::gather`).
    pub leftover_tags_only: bool,
}

/// Everyone synced to `account`, by Rock person id.
pub fn who_is_synced(ports: &dyn Ports, account: &Account) -> Result<BTreeMap<i64, Synced>, Error> {
    let enabled = |group: &Group| group.is_active && type_enabled(account, group);
    let permission_groups: Vec<Group> = ports
        .account_groups(&account.name)?
        .into_iter()
        .filter(enabled)
        .collect();
    let tag_group_ids: Vec<i64> = account.tag_groups.iter().map(|t| t.group_id).collect();
    let tag_groups: Vec<Group> = if tag_group_ids.is_empty() {
        Vec::new()
    } else {
        ports
            .groups(&tag_group_ids)?
            .into_iter()
            .filter(enabled)
            .collect()
    };

    let mut group_ids: Vec<i64> = permission_groups.iter().map(|g| g.id).collect();
    group_ids.extend(tag_groups.iter().map(|g| g.id));
    group_ids.sort_unstable();
    group_ids.dedup();
    let members = if group_ids.is_empty() {
        Vec::new()
    } else {
        ports.active_members(&group_ids)?
    };

    let level_of_group: BTreeMap<i64, PermissionLevel> = permission_groups
        .iter()
        .map(|g| (g.id, granted_by_group(g.level)))
        .collect();
    let tag_of_group: BTreeMap<i64, Vec<&str>> =
        account
            .tag_groups
            .iter()
            .fold(BTreeMap::new(), |mut map, t| {
                map.entry(t.group_id)
                    .or_insert_with(Vec::new)
                    .push(t.tag.as_str());
                map
            });
    let enabled_tag_groups: BTreeSet<i64> = tag_groups.iter().map(|g| g.id).collect();

    let mut synced: BTreeMap<i64, Synced> = BTreeMap::new();
    for member in &members {
        if let Some(level) = level_of_group.get(&member.group_id) {
            let person = entry(&mut synced, member.person_id);
            person.level = higher(person.level, *level);
        }
        if enabled_tag_groups.contains(&member.group_id) {
            let person = entry(&mut synced, member.person_id);
            for tag in tag_of_group.get(&member.group_id).into_iter().flatten() {
                person.tags.insert((*tag).to_string());
                person.group_tags.insert((*tag).to_string());
            }
        }
    }
    let mapped: BTreeSet<&str> = account.tag_groups.iter().map(|t| t.tag.as_str()).collect();
    for PersonTags { person_id, tags } in ports.tagged_people()? {
        let own: Vec<String> = tags
            .iter()
            .filter_map(|value| account_tag(&account.name, value))
            .collect();
        // A tag a group controls (R14) is the group's to give: a leftover value of it, alone,
        // is marked so the sync can clear it from a linked person without linking anyone new.
        let leftover_only = !own.is_empty()
            && !synced.contains_key(&person_id)
            && own.iter().all(|tag| mapped.contains(tag.as_str()));
        if !own.is_empty() {
            let person = entry(&mut synced, person_id);
            person.leftover_tags_only = leftover_only;
            person.tags.extend(own.iter().cloned());
            person.attribute_tags.extend(own);
        }
    }
    Ok(synced)
}

/// Who a run syncs (R3, R14): a leftover value of a group-controlled tag alone syncs a linked
/// person once more, to clear it, and nobody else. The sync, the status and the refreshed
/// people list all count by this, so nobody is shown as synced whom the sync leaves alone.
pub fn without_unlinked_leftovers<T>(
    synced: &mut BTreeMap<i64, Synced>,
    linked: &BTreeMap<i64, T>,
) {
    synced.retain(|id, s| !s.leftover_tags_only || linked.contains_key(id));
}

/// A group type is named in the configuration by name, GUID or id, as the administrator
/// knows it (R36).
pub fn type_enabled(account: &Account, group: &Group) -> bool {
    let kind = &group.group_type;
    account.enabled_group_types.iter().any(|named| {
        let named = named.trim();
        named == kind.id.to_string()
            || named.eq_ignore_ascii_case(&kind.guid)
            || named.eq_ignore_ascii_case(&kind.name)
    })
}

fn entry(synced: &mut BTreeMap<i64, Synced>, person: i64) -> &mut Synced {
    synced.entry(person).or_insert(Synced {
        level: PermissionLevel::ScheduledViewer,
        tags: BTreeSet::new(),
        attribute_tags: BTreeSet::new(),
        group_tags: BTreeSet::new(),
        leftover_tags_only: false,
    })
}

/// Every tag mapped to a group in the account's configuration (R14: membership controls them).
pub fn mapped_tags(account: &Account) -> BTreeSet<String> {
    account.tag_groups.iter().map(|t| t.tag.clone()).collect()
}

/// A "PCO Tags" attribute value is `account:tag group:tag`; the part after this account's
/// name, or nothing when the value belongs to another account.
pub fn account_tag(account: &str, value: &str) -> Option<String> {
    let rest = value.trim().strip_prefix(account)?.strip_prefix(':')?;
    (!rest.is_empty()).then(|| rest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    // R3: each account sees only its own tag values.
    #[test]
    fn tag_values_belong_to_their_account() {
        assert_eq!(
            account_tag("Main", "Main:Teams:Kids").as_deref(),
            Some("Teams:Kids")
        );
        assert_eq!(account_tag("Main", "North:Teams:Kids"), None);
        assert_eq!(account_tag("Main", "Mainland:Teams:Kids"), None);
        assert_eq!(account_tag("Main", "Main:"), None);
    }
}
