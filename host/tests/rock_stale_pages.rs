//! Issue 16 item 10: a broken answer from Rock's side must end a read, not loop it. Rock
//! pages by key (`Id gt LAST`, `$orderby=Id`); a cache or proxy in front of Rock that answers
//! every page as the first would make the client ask for the "next" page forever. The client
//! notices that a page does not move past the last one and fails the read with a message.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use congregation::Congregation;
use pcosync::bindings::types::ErrorKind;
use pcosync::rock::Rock;
use pcosync::rock::rest::{RestRock, RestRockOptions};
use pcosync::secret::Secret;
use rock_sandbox::{RockSandbox, SandboxOptions};
use url::Url;

/// `Id gt N` with N set to 0: every page asked for is answered as the first.
fn forget_paging(filter: &str) -> String {
    let mut out = String::with_capacity(filter.len());
    let mut rest = filter;
    while let Some(at) = rest.find("Id gt ") {
        out.push_str(&rest[..at + "Id gt ".len()]);
        rest = rest[at + "Id gt ".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push('0');
    }
    out.push_str(rest);
    out
}

/// Forwards to the sandbox, rewriting every `$filter` with [`forget_paging`].
async fn stale_proxy(State(upstream): State<String>, request: Request) -> Response {
    let uri = request.uri().clone();
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .map(|(name, value)| {
                let value = if name == "$filter" {
                    forget_paging(&value)
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
    let mut url = Url::parse(&format!("{upstream}{}", uri.path())).unwrap();
    url.query_pairs_mut().extend_pairs(&query);
    let mut forwarded = reqwest::Client::new().request(request.method().clone(), url);
    for (name, value) in request.headers() {
        if name != "host" {
            forwarded = forwarded.header(name, value);
        }
    }
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap();
    let answer = forwarded.body(body).send().await.unwrap();
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let bytes = answer.bytes().await.unwrap();
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(bytes))
        .unwrap()
}

#[test]
fn paging_clauses_are_rewritten_to_the_first_page() {
    assert_eq!(
        forget_paging("((Id eq 7) and Id ne 0) and Id gt 1234"),
        "((Id eq 7) and Id ne 0) and Id gt 0"
    );
}

#[tokio::test]
async fn a_page_that_does_not_advance_ends_the_read_with_a_message() {
    let congregation = Congregation::generate(60, 7);
    let sandbox = RockSandbox::start_with(SandboxOptions::default(), &congregation)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    let upstream = sandbox.base_url().trim_end_matches('/').to_string();
    let app = Router::new().fallback(stale_proxy).with_state(upstream);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let options = RestRockOptions {
        page_size: 5,
        timeout: Duration::from_secs(5),
        backoff_base: Duration::from_millis(5),
        backoff_cap: Duration::from_millis(20),
        ..RestRockOptions::new(Url::parse(&proxy).unwrap(), Secret::new(sandbox.token()))
    };
    let rock = RestRock::connect(options)
        .await
        .expect("connects through the proxy");
    let ids: Vec<i64> = congregation
        .rock_people()
        .filter_map(|m| sandbox.person_id(m.key))
        .collect();
    assert!(ids.len() > 10, "precondition: more people than a page");
    let read = tokio::time::timeout(Duration::from_secs(60), rock.people(&ids))
        .await
        .expect("the read ended instead of asking for the same page forever");
    let error = read.expect_err("a page that repeats is not a complete read");
    assert_eq!(error.kind, ErrorKind::Unavailable, "{}", error.message);
    assert!(
        error.message.contains("did not advance"),
        "{}",
        error.message
    );
    assert!(
        sandbox.requests().len() < 40,
        "{} requests before giving up",
        sandbox.requests().len()
    );
}
