//! What the sandbox remembers for tests to read: the request log and the email outbox.

use serde::{Deserialize, Serialize};

/// One API request as the sandbox answered it (admin requests under `/__sandbox/` are not logged).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Increasing in completion order; shared with [`OutboxEmail::seq`] so the two interleave.
    pub seq: u64,
    pub method: String,
    /// Path and query as sent.
    pub path: String,
    /// The status answered; 0 when the connection was closed without an answer (reset, hang).
    pub status: u16,
    /// The account whose credentials the request carried, when they were valid.
    pub account: Option<String>,
    /// The injected fault, by name (see [`crate::Fault::name`]), if any.
    pub fault: Option<String>,
    pub duration_ms: u64,
}

/// What an email was about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    /// Services' welcome email. The API never sends one (see the crate docs): an administrator
    /// sends it from Services; kept so that a test can assert none was sent.
    Welcome,
    /// A Services permission went up, or an archived person was given a level again (seeds 002/004).
    PermissionRaised,
    /// An organization administrator's access was lowered or removed: every organization
    /// administrator of the account is told (seed 002, SPEC R50).
    OrgAdminLowered,
    /// The primary email or phone number of a person who can log in was changed or removed
    /// through the API (SPEC R19); `to_address` is the old value.
    LoginChanged,
}

/// An email PCO would have sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEmail {
    /// Increasing in time order; shared with [`RequestRecord::seq`].
    pub seq: u64,
    pub account: String,
    pub kind: EmailKind,
    /// The person the email is about.
    pub person_id: String,
    /// Person ids the email goes to: the person, or every organization administrator.
    pub recipients: Vec<String>,
    pub subject: String,
    /// The email template used (welcome emails).
    pub template_id: Option<String>,
    /// Services permissions before and after (permission emails).
    pub from_permissions: Option<String>,
    pub to_permissions: Option<String>,
    /// The address PCO would send to (the person's primary email); None when they have none.
    pub to_address: Option<String>,
    /// Sandbox clock time, RFC 3339.
    pub at: String,
}
