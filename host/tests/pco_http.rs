//! The PCO capability end to end: the host's HTTP backend against the PCO sandbox over
//! loopback, directly and under the real guest.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use congregation::Congregation;
use pco_sandbox::{Fault, PcoSandbox, RateLimitConfig, SandboxOptions};
use pcosync::bindings::engine::SyncOptions;
use pcosync::bindings::pco::{Method, Request};
use pcosync::bindings::types::ErrorKind;
use pcosync::pco::Pco;
use pcosync::pco::http::{Endpoint, HttpOptions, HttpPco};
use pcosync::secret::Secret;
use pcosync::state::memory::MemoryState;
use pcosync::testing::silent;
use pcosync::{Capabilities, Limits, RunError, Runtime};
use url::Url;

fn endpoint(sandbox: &PcoSandbox, name: &str) -> Endpoint {
    let credentials = sandbox.account(name).expect("account");
    let base = Url::parse(&sandbox.base_url()).unwrap();
    Endpoint {
        name: name.to_string(),
        upload_url: base.join("/v2/files").unwrap(),
        base_url: base,
        app_id: credentials.app_id,
        secret: Secret::new(credentials.secret),
    }
}

fn quick() -> HttpOptions {
    HttpOptions {
        timeout: Duration::from_secs(2),
        backoff_base: Duration::from_millis(5),
        backoff_cap: Duration::from_millis(50),
        ..HttpOptions::default()
    }
}

fn get(path: &str, query: &[(&str, &str)]) -> Request {
    Request {
        method: Method::Get,
        path: path.to_string(),
        query: query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        headers: vec![],
        body: None,
    }
}

fn post(path: &str, body: &str) -> Request {
    Request {
        method: Method::Post,
        path: path.to_string(),
        query: vec![],
        headers: vec![],
        body: Some(body.as_bytes().to_vec()),
    }
}

fn dry_run(run_id: &str) -> SyncOptions {
    SyncOptions {
        run_id: run_id.into(),
        started_at: "2026-11-23T00:00:00Z".into(),
        dry_run: true,
        updates_only: None,
        confirm: None,
    }
}

async fn sandbox(people: usize) -> (PcoSandbox, Congregation) {
    let congregation = Congregation::generate(people, 11);
    let options = SandboxOptions {
        rate_limit: RateLimitConfig {
            enabled: false,
            ..RateLimitConfig::default()
        },
        ..SandboxOptions::default()
    };
    let sandbox = PcoSandbox::start_with(options, &congregation)
        .await
        .unwrap();
    (sandbox, congregation)
}

fn statuses(sandbox: &PcoSandbox) -> Vec<u16> {
    sandbox.requests().iter().map(|r| r.status).collect()
}

/// The real guest pages through 1,000+ PCO people with their emails, in as many requests as
/// there are pages, and matches against them.
#[tokio::test]
async fn the_guest_pages_through_more_than_a_thousand_people() {
    let (sandbox, congregation) = sandbox(1600).await;
    let main = congregation.accounts[0].clone();
    let in_pco = sandbox.people_count(&main).unwrap();
    assert!(in_pco > 1000, "{in_pco}");
    let pco = Arc::new(HttpPco::new(vec![endpoint(&sandbox, &main)], quick()).unwrap());
    let world = pcosync::demo::world(&congregation);
    let runtime = Runtime::new(Limits::default()).unwrap();
    let guest = runtime.load(pcosync::DEFAULT_GUEST, None).await.unwrap();
    let capabilities = Capabilities {
        rock: world.rock.clone(),
        pco,
        state: Arc::new(MemoryState::default()),
        reporter: silent(),
    };
    let report = runtime
        .sync(&guest, &capabilities, &world.account, &dry_run("paging"))
        .await
        .unwrap();
    assert!(report.counts.linked > 100, "{:?}", report.counts);
    let pages: Vec<_> = sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/people/v2/people?"))
        // Searches for people a match must not be guessed for (protected ones, R4) aside.
        .filter(|r| !r.path.contains("where"))
        .collect();
    assert_eq!(
        pages.len(),
        in_pco.div_ceil(100),
        "one request per page of 100"
    );
    assert!(
        pages
            .iter()
            .all(|r| r.status == 200 && r.path.contains("include=emails"))
    );
}

#[tokio::test]
async fn reads_are_retried_through_server_errors_resets_and_garbage() {
    let (sandbox, congregation) = sandbox(30).await;
    let main = &congregation.accounts[0];
    let pco = HttpPco::new(vec![endpoint(&sandbox, main)], quick()).unwrap();
    for fault in [
        Fault::ServerError { status: 503 },
        Fault::Reset,
        Fault::ResetAfter,
        Fault::Malformed,
        Fault::Truncated,
        Fault::Slow { ms: 100 },
    ] {
        sandbox.clear_requests();
        sandbox.inject_next(fault, 2);
        let response = pco
            .send(main, &get("/people/v2/people", &[("per_page", "5")]))
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: {e:?}"));
        assert_eq!(response.status, 200, "{fault:?}");
        serde_json::from_slice::<serde_json::Value>(&response.body).expect("a whole document");
        // A slow answer is still an answer: sent once. The others: two failures, then success.
        let expected = if matches!(fault, Fault::Slow { .. }) {
            1
        } else {
            3
        };
        assert_eq!(
            sandbox.requests().len(),
            expected,
            "{fault:?}: {:?}",
            statuses(&sandbox)
        );
    }
}

#[tokio::test]
async fn a_hung_response_times_out_and_is_retried() {
    let (sandbox, congregation) = sandbox(10).await;
    let main = &congregation.accounts[0];
    let options = HttpOptions {
        timeout: Duration::from_millis(300),
        ..quick()
    };
    let pco = HttpPco::new(vec![endpoint(&sandbox, main)], options).unwrap();
    sandbox.inject_next(Fault::Hang, 1);
    let response = pco
        .send(main, &get("/people/v2/people", &[]))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
}

#[tokio::test]
async fn a_read_that_keeps_failing_ends_as_unavailable() {
    let (sandbox, congregation) = sandbox(10).await;
    let main = &congregation.accounts[0];
    let pco = HttpPco::new(vec![endpoint(&sandbox, main)], quick()).unwrap();
    sandbox.inject_next(Fault::ServerError { status: 500 }, 50);
    let error = pco
        .send(main, &get("/people/v2/people", &[]))
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unavailable);
    assert_eq!(
        sandbox.requests().len(),
        HttpOptions::default().attempts as usize
    );
}

/// A create that may have reached PCO is not repeated blindly: the guest reconciles (R6).
#[tokio::test]
async fn a_failed_create_is_not_repeated() {
    let (sandbox, congregation) = sandbox(10).await;
    let main = &congregation.accounts[0];
    let pco = HttpPco::new(vec![endpoint(&sandbox, main)], quick()).unwrap();
    let before = sandbox.people_count(main).unwrap();
    sandbox.inject_next(Fault::ResetAfter, 1);
    let create = post(
        "/people/v2/people",
        r#"{"data":{"type":"Person","attributes":{"first_name":"Ada","last_name":"Byron","remote_id":77}}}"#,
    );
    let error = pco.send(main, &create).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unavailable);
    assert!(
        error.message.contains("may or may not have reached PCO"),
        "{}",
        error.message
    );
    assert_eq!(sandbox.requests().len(), 1, "sent once");
    // It did reach PCO: one more person, whom the guest will find again by remote_id.
    assert_eq!(sandbox.people_count(main).unwrap(), before + 1);
}

#[tokio::test]
async fn validation_errors_come_back_as_invalid_with_pcos_words() {
    let (sandbox, congregation) = sandbox(10).await;
    let main = &congregation.accounts[0];
    let pco = HttpPco::new(vec![endpoint(&sandbox, main)], quick()).unwrap();
    let create = post(
        "/people/v2/people",
        r#"{"data":{"type":"Person","attributes":{"first_name":"Ada","birthdate":"not a date"}}}"#,
    );
    let error = pco.send(main, &create).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Invalid);
    assert!(error.message.contains("422"), "{}", error.message);
    let missing = pco
        .send(main, &get("/people/v2/people/999999999", &[]))
        .await
        .unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound);
}

#[tokio::test]
async fn a_429_storm_is_waited_out() {
    let (sandbox, congregation) = sandbox(10).await;
    let main = &congregation.accounts[0];
    let pco = HttpPco::new(vec![endpoint(&sandbox, main)], quick()).unwrap();
    sandbox.inject_next(Fault::RateLimited { retry_after: 1 }, 3);
    let started = Instant::now();
    let response = pco
        .send(main, &get("/people/v2/people", &[]))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "waited Retry-After each time"
    );
    assert_eq!(statuses(&sandbox), vec![429, 429, 429, 200]);
}

/// The pacer keeps a 500-request burst under the sandbox's limit: zero 429s.
#[tokio::test]
async fn a_burst_stays_under_the_rate_limit() {
    let (sandbox, congregation) = sandbox(10).await;
    sandbox.set_rate_limit(RateLimitConfig {
        enabled: true,
        limit: 100,
        period_secs: 1,
        ..RateLimitConfig::default()
    });
    let main = &congregation.accounts[0];
    let pco = HttpPco::new(vec![endpoint(&sandbox, main)], quick()).unwrap();
    let burst: Vec<Request> = (0..500)
        .map(|_| get("/people/v2/people", &[("per_page", "1")]))
        .collect();
    let answers = pco.send_batch(main, &burst).await;
    assert!(answers.iter().all(Result::is_ok));
    let statuses = statuses(&sandbox);
    assert_eq!(statuses.len(), 500);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 0);
}

/// Issue 14.10: PCO's limit is per user. Two accounts whose tokens belong to one person,
/// each synced by its own process (its own pacer), share one budget: each reads the count PCO
/// reports, and together they rarely meet a 429.
#[tokio::test]
async fn two_tokens_of_one_user_share_the_rate_limit() {
    let (sandbox, congregation) = sandbox(congregation::TWO_ACCOUNTS_FROM).await;
    assert!(
        congregation.accounts.len() >= 2,
        "precondition: two accounts"
    );
    let (first, second) = (&congregation.accounts[0], &congregation.accounts[1]);
    sandbox.same_token_user(&[first, second]);
    sandbox.set_rate_limit(RateLimitConfig {
        enabled: true,
        limit: 20,
        period_secs: 1,
        ..RateLimitConfig::default()
    });
    let one = HttpPco::new(vec![endpoint(&sandbox, first)], quick()).unwrap();
    let other = HttpPco::new(vec![endpoint(&sandbox, second)], quick()).unwrap();
    let burst: Vec<Request> = (0..60)
        .map(|_| get("/people/v2/people", &[("per_page", "1")]))
        .collect();
    let (a, b) = tokio::join!(
        one.send_batch(first, &burst),
        other.send_batch(second, &burst)
    );
    assert!(a.iter().chain(b.iter()).all(Result::is_ok));
    // Each pacer alone would let 19 a second through, 38 together against PCO's 20: about
    // half would meet a 429. Reading PCO's count, they only race at the edge of a window.
    let statuses = statuses(&sandbox);
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        statuses.len(),
        120 + refused,
        "only refused requests were repeated"
    );
    assert!(refused <= 6, "{refused} of 120 requests met a 429");
}

// Issue 14.12: the guest is given the response headers it needs (the version PCO answered
// with), not the rate-limit counters, cookies or request ids that are the host's business.
#[tokio::test]
async fn the_guest_gets_only_the_response_headers_it_needs() {
    let (sandbox, congregation) = sandbox(10).await;
    let account = &congregation.accounts[0];
    let pco = HttpPco::new(vec![endpoint(&sandbox, account)], quick()).unwrap();
    let response = pco
        .send(account, &get("/people/v2/people", &[("per_page", "1")]))
        .await
        .unwrap();
    let names: Vec<&str> = response.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["x-pco-api-processed-as-version"]);
}

#[tokio::test]
async fn paths_outside_the_account_api_are_refused_before_sending() {
    let (sandbox, congregation) = sandbox(10).await;
    let main = &congregation.accounts[0];
    let pco = HttpPco::new(vec![endpoint(&sandbox, main)], quick()).unwrap();
    for path in [
        "http://127.0.0.1:1/people",
        "//127.0.0.1:1/x",
        "/people/v2/../../__sandbox/requests",
        "/people/%2e%2e/%2e%2e/__sandbox/outbox",
    ] {
        let error = pco.send(main, &get(path, &[])).await.unwrap_err();
        assert_eq!(error.kind, ErrorKind::Invalid, "{path}");
    }
    assert!(sandbox.requests().is_empty());
    let unknown = pco
        .send("Nowhere", &get("/people/v2/people", &[]))
        .await
        .unwrap_err();
    assert!(unknown.message.contains("no PCO account named \"Nowhere\""));
}

/// A wrong secret is a configuration error naming the account; the guest fails the run with
/// it. Nothing the host logs, even at trace level, holds the secret.
#[tokio::test]
async fn bad_credentials_are_reported_by_account_and_secrets_never_logged() {
    let (sandbox, congregation) = sandbox(40).await;
    let main = congregation.accounts[0].clone();
    let good = endpoint(&sandbox, &main);
    let mut wrong = good.clone();
    wrong.secret = Secret::new("definitely-not-the-secret-42");

    let captured = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = CaptureWriter(captured.clone());
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let world = pcosync::demo::world(&congregation);
    let runtime = Runtime::new(Limits::default()).unwrap();
    let guest = runtime.load(pcosync::DEFAULT_GUEST, None).await.unwrap();
    let mut outcomes = Vec::new();
    for endpoint in [wrong.clone(), good.clone()] {
        let capabilities = Capabilities {
            rock: world.rock.clone(),
            pco: Arc::new(HttpPco::new(vec![endpoint], quick()).unwrap()),
            state: Arc::new(MemoryState::default()),
            reporter: Arc::new(pcosync::log::TracingReporter),
        };
        outcomes.push(
            runtime
                .sync(&guest, &capabilities, &world.account, &dry_run("creds"))
                .await,
        );
    }
    match &outcomes[0] {
        Err(RunError::Guest(error)) => {
            assert_eq!(error.kind, ErrorKind::Unauthorized);
            assert!(
                error.message.contains(&format!("account \"{main}\"")),
                "{}",
                error.message
            );
            assert!(
                error.message.contains("app_id and secret"),
                "{}",
                error.message
            );
        }
        other => panic!("expected an unauthorized error, got {other:?}"),
    }
    assert!(outcomes[1].is_ok());

    let logged = String::from_utf8(captured.lock().unwrap().clone()).unwrap();
    assert!(logged.len() > 200, "trace logging was captured");
    use base64::Engine as _;
    for endpoint in [&wrong, &good] {
        let secret = endpoint.secret.expose();
        assert!(!logged.contains(secret), "a secret reached the log");
        for outcome in &outcomes {
            assert!(!format!("{outcome:?}").contains(secret));
        }
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{secret}", endpoint.app_id));
        assert!(
            !logged.contains(&basic),
            "the Authorization header reached the log"
        );
    }
}

#[derive(Clone)]
struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_photo_upload_returns_pcos_file_id() {
    let (sandbox, congregation) = sandbox(10).await;
    let main = &congregation.accounts[0];
    let pco = HttpPco::new(vec![endpoint(&sandbox, main)], quick()).unwrap();
    let id = pco
        .upload(main, "image/png", "face.png", b"\x89PNG fake")
        .await
        .unwrap();
    assert!(!id.is_empty());
}

// Issue 14.4: 403 means the credentials are good and their user lacks a role: the message
// says which, and never sends the administrator to check the app id and secret; a 401 keeps
// PCO's own words.
#[tokio::test]
async fn a_403_names_the_missing_role_and_a_401_keeps_pcos_words() {
    let (sandbox, _) = sandbox(20).await;
    sandbox.set_token_user(pco_sandbox::TokenUser {
        site_administrator: false,
        people: Some("Viewer"),
        services: None,
    });
    let pco = HttpPco::new(vec![endpoint(&sandbox, "Main Campus")], quick()).unwrap();
    let body = r#"{"data":{"type":"Person","attributes":{"first_name":"A","last_name":"B"}}}"#;
    let error = pco
        .send("Main Campus", &post("/people/v2/people", body))
        .await
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unauthorized);
    assert!(error.message.contains("403"), "{}", error.message);
    assert!(error.message.contains("People Editor"), "{}", error.message);
    assert!(
        !error.message.contains("app_id and secret"),
        "{}",
        error.message
    );
    let mut wrong = endpoint(&sandbox, "Main Campus");
    wrong.secret = Secret::new("wrong");
    let pco = HttpPco::new(vec![wrong], quick()).unwrap();
    let error = pco
        .send("Main Campus", &get("/people/v2/people", &[]))
        .await
        .unwrap_err();
    assert!(error.message.contains("401"), "{}", error.message);
    assert!(
        error
            .message
            .contains("Check your application id and secret"),
        "PCO's hint: {}",
        error.message
    );
}

// Issue 14.7: Services may answer 404 for a person right after People gave them the app; in
// a batch, that request is asked once more after a short wait.
#[tokio::test]
async fn a_services_404_right_after_a_grant_is_asked_again_once() {
    let (sandbox, _) = sandbox(20).await;
    sandbox.set_provisioning_lag(1);
    let options = HttpOptions {
        provisioning_wait: Duration::from_millis(50),
        ..quick()
    };
    let pco = HttpPco::new(vec![endpoint(&sandbox, "Main Campus")], options).unwrap();
    let body = r#"{"data":{"type":"Person","attributes":{"first_name":"A","last_name":"B"}}}"#;
    let created = pco
        .send("Main Campus", &post("/people/v2/people", body))
        .await
        .unwrap();
    let created: serde_json::Value = serde_json::from_slice(&created.body).unwrap();
    let id = created["data"]["id"].as_str().unwrap();
    let grant = post(
        &format!("/people/v2/people/{id}/person_apps"),
        r#"{"data":{"type":"PersonApp","attributes":{"app_id":2}}}"#,
    );
    let level = Request {
        method: Method::Patch,
        ..post(
            &format!("/services/v2/people/{id}"),
            r#"{"data":{"type":"Person","attributes":{"permissions":"Viewer"}}}"#,
        )
    };
    let answers = pco.send_batch("Main Campus", &[grant, level]).await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    let statuses: Vec<u16> = sandbox
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/services/v2/people/"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [404, 200]);
    // Without a grant before it, a 404 is an answer, not asked again.
    sandbox.set_provisioning_lag(0);
    let missing = Request {
        method: Method::Patch,
        ..post(
            "/services/v2/people/999999",
            r#"{"data":{"type":"Person","attributes":{"permissions":"Viewer"}}}"#,
        )
    };
    let answers = pco.send_batch("Main Campus", &[missing]).await;
    assert_eq!(answers[0].as_ref().unwrap_err().kind, ErrorKind::NotFound);
}

/// Issue 14.10: PCO answers pages past offset 30,000 at a far stricter rate, so the real guest
/// reads an account of more than 30,000 people (People and Services) from both ends of the
/// list, ordered by creation, and never asks for an offset past 30,000 while it still covers
/// every page of the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_account_is_read_without_offsets_past_thirty_thousand() {
    let mut congregation = Congregation::generate(60, 11);
    let world = pcosync::demo::world(&congregation);
    // Rock keeps its 60 people; PCO holds 30,050 more, in PCO only.
    let template = congregation
        .people
        .iter()
        .find(|m| m.in_pco() && m.pco_accounts == [0])
        .cloned()
        .expect("a PCO person of the first account");
    let first_key = congregation.people.len() as u32;
    for n in 0..30_050u32 {
        let mut member = template.clone();
        member.key = first_key + n;
        member.presence = congregation::Presence::PcoOnly;
        member.groups.clear();
        member.pco_tags.clear();
        member.email = Some(format!("bulk{n}@example.org"));
        member.pco_email_drift = None;
        member.pco_org_admin = false;
        congregation.people.push(member);
    }
    let options = SandboxOptions {
        rate_limit: RateLimitConfig {
            enabled: false,
            ..RateLimitConfig::default()
        },
        ..SandboxOptions::default()
    };
    let sandbox = PcoSandbox::start_with(options, &congregation)
        .await
        .unwrap();
    let main = congregation.accounts[0].clone();
    let in_pco = sandbox.people_count(&main).unwrap();
    assert!(in_pco > 30_000, "precondition: {in_pco} people");
    let pco = Arc::new(HttpPco::new(vec![endpoint(&sandbox, &main)], quick()).unwrap());
    let runtime = Runtime::new(Limits::default()).unwrap();
    let guest = runtime.load(pcosync::DEFAULT_GUEST, None).await.unwrap();
    let capabilities = Capabilities {
        rock: world.rock.clone(),
        pco,
        state: Arc::new(MemoryState::default()),
        reporter: silent(),
    };
    sandbox.clear_requests();
    let report = runtime
        .sync(&guest, &capabilities, &world.account, &dry_run("large"))
        .await
        .unwrap();
    assert_eq!(report.counts.failed, 0, "{:?}", report.counts);
    let requests = sandbox.requests();
    let offset = |path: &str| -> u64 {
        url::form_urlencoded::parse(path.split_once('?').map_or("", |(_, q)| q).as_bytes())
            .find(|(k, _)| k == "offset")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0)
    };
    let deepest = requests.iter().map(|r| offset(&r.path)).max().unwrap_or(0);
    assert!(deepest <= 30_000, "a page at offset {deepest}");
    for list in ["/people/v2/people?", "/services/v2/people?"] {
        let pages: Vec<(bool, u64)> = requests
            .iter()
            .filter(|r| r.path.starts_with(list) && !r.path.contains("where"))
            .filter(|r| r.path.contains("order="))
            .map(|r| (r.path.contains("order=-created_at"), offset(&r.path)))
            .collect();
        let front = pages
            .iter()
            .filter(|(back, _)| !back)
            .map(|(_, o)| *o)
            .max();
        let back = pages
            .iter()
            .filter(|(back, _)| *back)
            .map(|(_, o)| *o)
            .max();
        let (Some(front), Some(back)) = (front, back) else {
            panic!("{list} was not read from both ends: {pages:?}");
        };
        assert!(
            front + 100 + back + 100 >= in_pco as u64,
            "{list}: front to {front}, back to {back}, of {in_pco}"
        );
    }
}

/// Issue 24 item 16 (R20): one batch may ask for up to 1,000 answers of up to 32 MiB each; the
/// host holds at most `max_batch_bytes` of them at once. The answer that passes the cap is
/// dropped and fails, the requests after it are not sent, and each says why; the answers
/// before it are kept.
#[tokio::test]
async fn a_batch_holds_no_more_answer_bytes_than_its_cap_issue_24_item_16_r20() {
    let (sandbox, _) = sandbox(60).await;
    let page = get("/people/v2/people", &[("per_page", "20")]);
    let unbounded = HttpPco::new(vec![endpoint(&sandbox, "Main Campus")], quick()).unwrap();
    let one = unbounded
        .send("Main Campus", &page)
        .await
        .unwrap()
        .body
        .len();
    assert!(one > 1000, "a page of 20 people is {one} bytes");
    let options = HttpOptions {
        // Two pages fit, the third does not.
        max_batch_bytes: one * 2 + one / 2,
        ..quick()
    };
    let pco = HttpPco::new(vec![endpoint(&sandbox, "Main Campus")], options).unwrap();
    let sent_before = sandbox.requests().len();
    let answers = pco.send_batch("Main Campus", &vec![page; 5]).await;
    assert_eq!(answers.len(), 5);
    assert!(answers[0].is_ok() && answers[1].is_ok(), "{answers:?}");
    for answer in &answers[2..] {
        let error = answer
            .as_ref()
            .expect_err("an answer past the cap was kept");
        assert_eq!(error.kind, ErrorKind::Invalid, "{}", error.message);
        assert!(
            error
                .message
                .contains(&format!("{} bytes", one * 2 + one / 2)),
            "{}",
            error.message
        );
    }
    assert!(
        answers[3]
            .as_ref()
            .unwrap_err()
            .message
            .contains("not sent"),
        "{answers:?}"
    );
    assert_eq!(
        sandbox.requests().len() - sent_before,
        3,
        "requests after the cap were sent (or the one past it was retried)"
    );
}
