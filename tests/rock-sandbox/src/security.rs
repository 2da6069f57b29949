//! What the REST key may do beyond getting in: Rock checks EDIT on the entity a write
//! touches and VIEW/EDIT on each attribute. By default the key has every right, as on a Rock
//! set up as our README says (the key's person granted Edit under Admin Tools > Security >
//! Entity Administration); [`crate::SandboxOptions::entity_administration`] `false` starts
//! without that grant, where Rock's defaults refuse EDIT on phone numbers and group locations.
//! A test takes one right away with [`crate::RockSandbox::deny`] to see what a client makes
//! of an install whose administrator never granted it.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::schema::Entity;

/// One right of the REST key's person.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Right {
    /// EDIT on people: `CheckCanEdit` in `Rock.Rest/ApiController.cs` (POST, PUT, PATCH,
    /// DELETE and `AttributeValue` on `/api/People`) answers 401 without it.
    EditPeople,
    /// EDIT on groups, and so on their members (`GroupMember.IsAuthorized` in
    /// `Rock/Model/Group/GroupMember/GroupMember.Logic.cs` defers EDIT to the group).
    EditGroups,
    /// EDIT on phone numbers (`Rock.Model.PhoneNumber`). `PhoneNumber` is a `Model<T>` whose
    /// `IsAllowedByDefault` (Rock/Data/Model.cs) allows only VIEW (and TAG) where no rule says
    /// otherwise, and no parent authority grants EDIT: without a grant, `CheckCanEdit` in
    /// Rock.Rest/ApiController.cs answers POST/PUT/PATCH/DELETE on `/api/PhoneNumbers` with 401
    /// (the model's `rules.security.item_level`).
    EditPhoneNumbers,
    /// EDIT on group locations (`Rock.Model.GroupLocation`), refused by default for the same
    /// reason. `PUT api/Groups/SaveAddress` does not call `CheckCanEdit` (the model's Group
    /// `extra_routes`), so it is not affected.
    EditGroupLocations,
    /// VIEW on the attribute with this key: without it, `loadAttributes` leaves the attribute
    /// out of every loaded row, silently.
    ViewAttribute(String),
    /// EDIT on the attribute with this key: `SetAttributeValue` answers 403 "Not authorized to
    /// edit {type} on {key}" without it.
    EditAttribute(String),
    /// VIEW on the UserLogins REST controller (Admin Tools > Security > REST Controllers):
    /// Rock's `SecuredAttribute` on the controller answers 401 without it. A REST key in an
    /// administration role has it.
    ViewUserLogins,
}

/// The rights taken away from the REST key.
#[derive(Clone, Debug, Default)]
pub struct Security {
    denied: HashSet<Right>,
}

impl Security {
    /// Every right, or (without the Entity Administration grant) all but EDIT on phone
    /// numbers and group locations.
    pub fn new(entity_administration: bool) -> Security {
        let mut security = Security::default();
        if !entity_administration {
            security.deny(Right::EditPhoneNumbers);
            security.deny(Right::EditGroupLocations);
        }
        security
    }

    pub fn deny(&mut self, right: Right) {
        self.denied.insert(right);
    }

    pub fn allow(&mut self, right: &Right) {
        self.denied.remove(right);
    }

    fn has(&self, right: &Right) -> bool {
        !self.denied.contains(right)
    }

    /// Whether a write to a row of `entity` passes `CheckCanEdit`.
    pub fn can_edit(&self, entity: Entity) -> bool {
        match entity {
            Entity::Person => self.has(&Right::EditPeople),
            Entity::Group | Entity::GroupMember => self.has(&Right::EditGroups),
            Entity::PhoneNumber => self.has(&Right::EditPhoneNumbers),
            Entity::GroupLocation => self.has(&Right::EditGroupLocations),
            _ => true,
        }
    }

    pub fn can_view(&self, entity: Entity) -> bool {
        entity != Entity::UserLogin || self.has(&Right::ViewUserLogins)
    }

    pub fn can_view_attribute(&self, key: &str) -> bool {
        self.has(&Right::ViewAttribute(key.to_string()))
    }

    pub fn can_edit_attribute(&self, key: &str) -> bool {
        self.has(&Right::EditAttribute(key.to_string()))
    }
}
