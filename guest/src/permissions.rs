//! Permission levels (SPEC R15-R16).

use crate::types::PermissionLevel;

/// Position of a level in PCO's order, lowest first (R15).
pub fn rank(level: PermissionLevel) -> u8 {
    match level {
        PermissionLevel::ScheduledViewer => 0,
        PermissionLevel::Viewer => 1,
        PermissionLevel::Scheduler => 2,
        PermissionLevel::Editor => 3,
        PermissionLevel::Administrator => 4,
    }
}

/// The higher of two levels.
pub fn higher(a: PermissionLevel, b: PermissionLevel) -> PermissionLevel {
    if rank(b) > rank(a) { b } else { a }
}

/// The level a group grants: its configured level, or Scheduled Viewer when it has none (R16).
pub fn granted_by_group(level: Option<PermissionLevel>) -> PermissionLevel {
    level.unwrap_or(PermissionLevel::ScheduledViewer)
}

#[cfg(test)]
mod tests {
    use super::*;

    // R15
    #[test]
    fn levels_are_ordered_lowest_to_highest() {
        let order = [
            PermissionLevel::ScheduledViewer,
            PermissionLevel::Viewer,
            PermissionLevel::Scheduler,
            PermissionLevel::Editor,
            PermissionLevel::Administrator,
        ];
        for pair in order.windows(2) {
            assert!(rank(pair[0]) < rank(pair[1]));
            assert_eq!(higher(pair[0], pair[1]), pair[1]);
            assert_eq!(higher(pair[1], pair[0]), pair[1]);
        }
    }

    // R16
    #[test]
    fn a_group_without_a_level_grants_scheduled_viewer() {
        assert_eq!(granted_by_group(None), PermissionLevel::ScheduledViewer);
        assert_eq!(
            granted_by_group(Some(PermissionLevel::Editor)),
            PermissionLevel::Editor
        );
    }
}
