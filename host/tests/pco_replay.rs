//! Issue 14: responses in the shapes the real Planning Center sends (hand-written fixtures in
//! `tests/fixtures/pco`, from PCO's documentation and recorded client traffic: People at API
//! version 2023-03-21 with emails, phone numbers and addresses included; its JSON:API errors
//! 401, 403, 404, 422 and 429) replayed over loopback HTTP through the real host transport
//! (`HttpPco`) and the guest's own parser. The sandbox is our copy of PCO; these are PCO's own
//! shapes, so a difference between the two shows up here.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Method as HttpMethod, Request as HttpRequest, StatusCode};
use axum::response::Response;
use pcosync::bindings::pco::{Method, Request};
use pcosync::bindings::types::ErrorKind;
use pcosync::pco::Pco;
use pcosync::pco::http::{Endpoint, HttpOptions, HttpPco};
use pcosync::secret::Secret;
use url::Url;

const ACCOUNT: &str = "Main Campus";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/pco/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// PCO's answer: its status, its JSON (or text) body and the headers every answer carries.
fn answer(status: u16, body: Vec<u8>, content_type: &str) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", content_type)
        .header("x-pco-api-processed-as-version", "2023-03-21")
        .header("x-pco-api-request-rate-limit", "100")
        .header("x-pco-api-request-rate-period", "20 seconds")
        .header("x-pco-api-request-rate-count", "2")
        .body(Body::from(body))
        .unwrap()
}

const JSON: &str = "application/json; charset=utf-8";

/// Requests that met the 429 so far.
#[derive(Default)]
struct Replay {
    limited: AtomicUsize,
    requests: AtomicUsize,
}

async fn replay(State(state): State<Arc<Replay>>, request: HttpRequest<Body>) -> Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    match (request.method().clone(), request.uri().path()) {
        (HttpMethod::GET, "/people/v2/people") => answer(200, fixture("people_page.json"), JSON),
        (HttpMethod::GET, "/people/v2/people/404") => answer(404, fixture("not_found.json"), JSON),
        (HttpMethod::PATCH, "/people/v2/people/403") => {
            answer(403, fixture("forbidden.json"), JSON)
        }
        (HttpMethod::POST, "/people/v2/people/1/person_apps") => {
            answer(422, fixture("forbidden_attribute.json"), JSON)
        }
        (HttpMethod::GET, "/people/v2/busy") => {
            if state.limited.fetch_add(1, Ordering::SeqCst) == 0 {
                let mut response = answer(429, fixture("rate_limited.json"), JSON);
                response
                    .headers_mut()
                    .insert("retry-after", "1".parse().unwrap());
                response
                    .headers_mut()
                    .insert("x-pco-api-request-rate-count", "118".parse().unwrap());
                response
            } else {
                answer(200, fixture("people_page.json"), JSON)
            }
        }
        (HttpMethod::GET, "/people/v2/unauthenticated") => {
            let mut response = answer(401, fixture("unauthenticated.html"), "text/html");
            response.headers_mut().insert(
                "www-authenticate",
                "Basic realm=\"Application\"".parse().unwrap(),
            );
            response
        }
        _ => answer(404, fixture("not_found.json"), JSON),
    }
}

async fn start() -> (HttpPco, Arc<Replay>) {
    let state = Arc::new(Replay::default());
    let app = Router::new().fallback(replay).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let endpoint = Endpoint {
        name: ACCOUNT.to_string(),
        upload_url: base.join("/v2/files").unwrap(),
        base_url: base,
        app_id: "replay-app".to_string(),
        secret: Secret::new("replay-secret"),
    };
    let options = HttpOptions {
        timeout: Duration::from_secs(5),
        backoff_base: Duration::from_millis(5),
        backoff_cap: Duration::from_millis(50),
        ..HttpOptions::default()
    };
    (HttpPco::new(vec![endpoint], options).unwrap(), state)
}

fn request(method: Method, path: &str, body: Option<&str>) -> Request {
    Request {
        method,
        path: path.to_string(),
        query: vec![],
        headers: vec![("X-PCO-API-Version".into(), "2023-03-21".into())],
        body: body.map(|b| b.as_bytes().to_vec()),
    }
}

// R10, R53, R4: a People page as PCO sends it reaches the guest's parser whole: accented and
// typographic names untouched, the primary email among several, the mobile phone, the
// 2023-03-21 address lines with a null second line, `remote_id` as a number or a numeric
// string, organization administrators and inactive people.
#[tokio::test]
async fn a_real_shaped_people_page_is_read_whole() {
    let (pco, _) = start().await;
    let response = pco
        .send(ACCOUNT, &request(Method::Get, "/people/v2/people", None))
        .await
        .unwrap();
    let (people, total) = pcosync_guest::pco_people::parse_people_document(&response.body).unwrap();
    assert_eq!(total, Some(3));
    assert_eq!(people.len(), 2);
    let elodie = &people[0];
    assert_eq!(elodie.first_name, "Élodie");
    assert_eq!(elodie.last_name, "O’Brien-Núñez");
    assert_eq!(elodie.remote_id, Some(4411));
    assert_eq!(elodie.birthdate.as_deref(), Some("1984-02-29"));
    assert_eq!(
        elodie.primary_email().map(|e| e.address.as_str()),
        Some("elodie@example.org")
    );
    assert_eq!(elodie.emails.len(), 2);
    assert_eq!(elodie.phones[0].number, "(512) 555-0142");
    assert_eq!(elodie.phones[0].location, "Mobile");
    let home = elodie.home_address().expect("a home address");
    assert_eq!(home.street_line_1, "12 Chisholm Trail");
    assert_eq!(home.street_line_2, "");
    assert_eq!(
        (home.city.as_str(), home.zip.as_str()),
        ("Round Rock", "78681")
    );
    let sam = &people[1];
    assert_eq!(sam.remote_id, Some(4412));
    assert!(sam.site_administrator);
    assert_eq!(sam.status, "inactive");
    assert_eq!(
        (sam.given_name.as_str(), sam.nickname.as_str()),
        ("Samuel", "Sammy")
    );
    assert!(sam.emails.is_empty() && sam.phones.is_empty());
}

// R23, issue 14.4: PCO's errors reach the guest as typed errors with PCO's own words: a 404
// is not-found, a 403 names the missing permission (never "check app_id and secret"), a 422
// keeps its detail, a 401 keeps PCO's hint.
#[tokio::test]
async fn pcos_errors_reach_the_guest_typed_and_in_pcos_words() {
    let (pco, _) = start().await;
    let missing = pco
        .send(
            ACCOUNT,
            &request(Method::Get, "/people/v2/people/404", None),
        )
        .await
        .unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound, "{}", missing.message);

    let body = r#"{"data":{"type":"Person","id":"403","attributes":{"first_name":"A"}}}"#;
    let forbidden = pco
        .send(
            ACCOUNT,
            &request(Method::Patch, "/people/v2/people/403", Some(body)),
        )
        .await
        .unwrap_err();
    assert_eq!(forbidden.kind, ErrorKind::Unauthorized);
    assert!(
        forbidden
            .message
            .contains("You do not have access to this resource"),
        "{}",
        forbidden.message
    );
    assert!(
        !forbidden.message.contains("app_id"),
        "{}",
        forbidden.message
    );

    let grant =
        r#"{"data":{"type":"PersonApp","attributes":{"app_id":"9","email_template_id":"3"}}}"#;
    let refused = pco
        .send(
            ACCOUNT,
            &request(Method::Post, "/people/v2/people/1/person_apps", Some(grant)),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Invalid);
    assert!(
        refused.message.contains("cannot be assigned"),
        "{}",
        refused.message
    );

    let unauthenticated = pco
        .send(
            ACCOUNT,
            &request(Method::Get, "/people/v2/unauthenticated", None),
        )
        .await
        .unwrap_err();
    assert_eq!(unauthenticated.kind, ErrorKind::Unauthorized);
    assert!(
        unauthenticated.message.contains("TRASH_PANDA"),
        "{}",
        unauthenticated.message
    );
    assert!(
        !unauthenticated.message.contains("replay-secret"),
        "a secret in an error"
    );
}

// R20, issue 14.10: a 429 with PCO's body and headers is waited out (its Retry-After) and
// the read asked again once, succeeding.
#[tokio::test]
async fn a_429_as_pco_sends_it_is_waited_out() {
    let (pco, state) = start().await;
    let response = pco
        .send(ACCOUNT, &request(Method::Get, "/people/v2/busy", None))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(state.limited.load(Ordering::SeqCst), 2);
    assert_eq!(state.requests.load(Ordering::SeqCst), 2);
}
