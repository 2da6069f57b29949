//! IIS and http.sys in front of Rock: what they refuse before Rock sees a request.

mod common;

use common::{Rock, small};
use reqwest::{Method, StatusCode};

/// Sends `request` as raw bytes (no client adds headers) and reads the answer until the server
/// closes the connection or stays quiet for a second.
async fn raw(rock: &Rock, request: String) -> String {
    let addr = rock.sandbox.addr();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(1)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let mut buffer = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buffer) {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..n]);
        }
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap()
}

fn person_attribute_path(rock: &Rock) -> String {
    let john = rock.sandbox.person_id(1).unwrap();
    format!("/api/People/AttributeValue/{john}?attributeKey=PCOTags&attributeValue=x")
}

// http.sys answers 411 to a POST/PUT/PATCH with neither Content-Length nor
// Transfer-Encoding, before IIS or Rock run.
#[tokio::test]
async fn a_post_without_content_length_is_411_from_http_sys() {
    let rock = Rock::start(&small()).await;
    let path = person_attribute_path(&rock);
    let answer = raw(
        &rock,
        format!(
            "POST {path} HTTP/1.1\r\nHost: rock\r\nAuthorization-Token: {}\r\n\r\n",
            rock.sandbox.token()
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 411"), "{answer}");
    assert!(answer.contains("Microsoft-HTTPAPI/2.0"), "{answer}");
    assert!(
        answer.contains(
            "<hr><p>HTTP Error 411. The request must be chunked or have a content length.</p>"
        ),
        "{answer}"
    );
    // Nothing was written.
    let john = rock.sandbox.person_id(1).unwrap();
    let dump = rock.sandbox.person_dump(john).unwrap();
    assert_ne!(dump["AttributeValues"]["PCOTags"], "x", "{dump}");
    let log = rock.sandbox.requests();
    let last = log.last().unwrap();
    assert_eq!(last.status, 411);
    assert!(last.detail.as_deref().unwrap_or("").contains("411"));
}

#[tokio::test]
async fn put_and_patch_without_a_length_are_411_too_on_any_route() {
    let rock = Rock::start(&small()).await;
    let family = rock
        .sandbox
        .seed_ids()
        .families
        .values()
        .next()
        .copied()
        .unwrap();
    for (method, path) in [
        (
            "PUT",
            format!(
                "/api/Groups/SaveAddress/{family}/1?street1=1%20Main&city=X&state=IL&country=US"
            ),
        ),
        ("PATCH", format!("/api/Groups/{family}")),
        ("POST", "/api/Nowhere".to_string()),
    ] {
        let answer = raw(
            &rock,
            format!(
                "{method} {path} HTTP/1.1\r\nHost: rock\r\nAuthorization-Token: {}\r\n\r\n",
                rock.sandbox.token()
            ),
        )
        .await;
        assert!(
            answer.starts_with("HTTP/1.1 411"),
            "{method} {path}: {answer}"
        );
    }
    // A GET or DELETE needs no length.
    let answer = raw(
        &rock,
        format!(
            "GET /api/People/{} HTTP/1.1\r\nHost: rock\r\nConnection: close\r\nAuthorization-Token: {}\r\n\r\n",
            rock.sandbox.person_id(1).unwrap(),
            rock.sandbox.token()
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn an_explicit_content_length_of_zero_goes_through() {
    let rock = Rock::start(&small()).await;
    let path = person_attribute_path(&rock);
    let response = rock
        .client
        .post(rock.url(&path))
        .header("Authorization-Token", rock.sandbox.token())
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    // A chunked body is framed too.
    let answer = raw(
        &rock,
        format!(
            "POST {path} HTTP/1.1\r\nHost: rock\r\nConnection: close\r\nTransfer-Encoding: chunked\r\nAuthorization-Token: {}\r\n\r\n0\r\n\r\n",
            rock.sandbox.token()
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
}

// reqwest (0.12, over hyper 1) sends a POST with no body, or with `.body("")`, with neither
// Content-Length nor Transfer-Encoding: against IIS both are 411. A client must set
// `Content-Length: 0` itself. This pins it, so a reqwest upgrade that changes it shows here.
#[tokio::test]
async fn reqwest_without_a_body_and_with_an_empty_one() {
    let rock = Rock::start(&small()).await;
    let path = person_attribute_path(&rock);
    let no_body = rock
        .client
        .request(Method::POST, rock.url(&path))
        .header("Authorization-Token", rock.sandbox.token())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    let empty = rock
        .client
        .post(rock.url(&path))
        .header("Authorization-Token", rock.sandbox.token())
        .body("")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(
        (no_body, empty),
        (411, 411),
        "reqwest sends neither Content-Length nor Transfer-Encoding for an empty body"
    );
}

// RockWeb/web.config: <requestLimits maxQueryString="16384"> (request filtering, 404.15).
#[tokio::test]
async fn a_query_string_over_16384_bytes_is_404_15() {
    let rock = Rock::start(&small()).await;
    let filter = |n: usize| {
        // Percent-encoded already, so what is sent is exactly `n` bytes.
        let mut q = String::from("$filter=Id%20eq%201%20or%20FirstName%20eq%20%27");
        while q.len() < n - 3 {
            q.push('a');
        }
        q.push_str("%27");
        q
    };
    let at_limit = filter(16_384);
    assert_eq!(at_limit.len(), 16_384);
    let (status, _) = rock
        .call(Method::GET, &format!("/api/People?{at_limit}"), None)
        .await;
    assert_eq!(status, 200, "exactly 16384 bytes is allowed");
    let over = filter(16_385);
    let response = rock
        .send(Method::GET, &format!("/api/People?{over}"), None)
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body = response.text().await.unwrap();
    assert!(body.contains("HTTP Error 404.15 - Not Found"), "{body}");
    assert!(body.contains("query string is too long"), "{body}");
    let last = rock.sandbox.requests().pop().unwrap();
    assert_eq!(last.status, 404);
    assert!(last.detail.unwrap().contains("404.15"));
}
