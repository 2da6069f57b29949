//! What the REST key may do beyond getting in: Rock checks EDIT on the entity a write
//! touches and VIEW/EDIT on each attribute. The key gets every right by default; a test takes
//! one away with [`crate::RockSandbox::deny`] to see what a client makes of an install whose
//! administrator never granted it.

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
    /// VIEW on the attribute with this key: without it, `loadAttributes` leaves the attribute
    /// out of every loaded row, silently.
    ViewAttribute(String),
    /// EDIT on the attribute with this key: `SetAttributeValue` answers 403 "Not authorized to
    /// edit {type} on {key}" without it.
    EditAttribute(String),
}

/// The rights taken away from the REST key.
#[derive(Clone, Debug, Default)]
pub struct Security {
    denied: HashSet<Right>,
}

impl Security {
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
            _ => true,
        }
    }

    pub fn can_view_attribute(&self, key: &str) -> bool {
        self.has(&Right::ViewAttribute(key.to_string()))
    }

    pub fn can_edit_attribute(&self, key: &str) -> bool {
        self.has(&Right::EditAttribute(key.to_string()))
    }
}
