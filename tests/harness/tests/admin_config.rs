//! The account's real choices in PCO (R31, R36), asked of the compiled guest through the
//! `choices` export against the PCO sandbox: what `pcosync account templates`, `account add`,
//! `tag list` and `tag map` show and check.

use std::sync::Arc;

use pcosync::bindings::types::ErrorKind;
use pcosync::pco::http::{HttpOptions, HttpPco};
use pcosync::secret::Secret;
use pcosync::{Capabilities, RunError};
use pcosync_harness::Harness;

// R31: the welcome email is chosen from the account's real templates, PCO's own welcome
// template first. R36: tags are listed `tag group:tag`, as a mapping names them.
#[tokio::test]
async fn choices_lists_the_accounts_real_templates_and_tags() {
    let h = Harness::new(60, 11).await;
    h.sandbox.clear_requests();
    let choices = h
        .runtime
        .choices(&h.guest, &h.capabilities(), &h.account())
        .await
        .expect("the choices of the sandbox account");
    assert_eq!(
        choices.welcome_templates,
        [
            pco_sandbox::WELCOME_TEMPLATE,
            "Schedule Reminder",
            "Volunteer Onboarding"
        ]
    );
    let mut expected: Vec<String> = h
        .congregation
        .tags
        .iter()
        .map(|t| format!("{}:{}", t.group, t.name))
        .collect();
    expected.sort();
    expected.dedup();
    assert!(!expected.is_empty());
    assert_eq!(choices.tags, expected);
    // Every tag the demo account maps to a group is one the administrator could pick.
    for mapping in &h.account().tag_groups {
        assert!(choices.tags.contains(&mapping.tag), "{}", mapping.tag);
    }
    // Read-only and cheap: two GETs, nothing written, nobody emailed.
    let requests = h.sandbox.requests();
    assert!(requests.iter().all(|r| r.method == "GET"), "{requests:?}");
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(h.sandbox.outbox().is_empty());
}

// R31: `pcosync config check` and `account add` tell wrong credentials from an unreachable PCO.
#[tokio::test]
async fn choices_with_wrong_credentials_is_unauthorized() {
    let h = Harness::new(20, 3).await;
    let mut endpoints = pcosync::demo::endpoints(&h.sandbox);
    for endpoint in &mut endpoints {
        endpoint.secret = Secret::new("not-the-secret");
    }
    let pco = HttpPco::new(endpoints, HttpOptions::default()).unwrap();
    let capabilities = Capabilities {
        pco: Arc::new(pco),
        ..h.capabilities()
    };
    let error = h
        .runtime
        .choices(&h.guest, &capabilities, &h.account())
        .await
        .unwrap_err();
    let RunError::Guest(error) = error else {
        panic!("a guest error, not {error}");
    };
    assert_eq!(error.kind, ErrorKind::Unauthorized, "{}", error.message);
    assert!(
        !error.message.contains("not-the-secret"),
        "{}",
        error.message
    );
}
