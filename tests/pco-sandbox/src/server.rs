//! The front door: our own accept loop around the axum router, so a fault can close a
//! connection without answering (a hyper service error drops the connection), plus what every
//! API request goes through before the routes: authentication, the API version, the rate
//! limit, fault injection and the request log.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::clock::lock;
use crate::faults::Fault;
use crate::jsonapi::{ApiError, ERROR_TYPE};
use crate::ratelimit::RateDecision;
use crate::records::RequestRecord;
use crate::state::{Ctx, Shared, Version};

/// Paths under this prefix are the sandbox's own admin endpoints: no auth, no limit, no faults,
/// not logged.
pub const ADMIN_PREFIX: &str = "/__sandbox";

/// The biggest request body read (photos are uploaded to `/v2/files`, which is not buffered
/// here; the router's own limit is the same).
const MAX_BODY: usize = 25 * 1024 * 1024;

/// Returned by the service to make hyper close the connection without an answer.
#[derive(Debug)]
pub struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DropConnection {}

type Answer = Result<Response<Body>, DropConnection>;

pub async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(stream, shared.clone(), router.clone(), stop.clone()));
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off rather than spin.
                    tracing::warn!(%error, "pco sandbox accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let stop_for_requests = stop.clone();
    let service = hyper::service::service_fn(move |req| {
        handle(
            shared.clone(),
            router.clone(),
            stop_for_requests.clone(),
            req,
        )
    });
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        _ = stop.wait_for(|stopped| *stopped) => {}
    }
}

async fn handle(
    shared: Arc<Shared>,
    router: Router,
    stop: watch::Receiver<bool>,
    req: Request<Incoming>,
) -> Answer {
    if req.uri().path().starts_with(ADMIN_PREFIX) {
        return Ok(route(router, req.map(Body::new)).await);
    }
    let started = Instant::now();
    let mut record = Some(RequestRecord {
        seq: 0,
        method: req.method().to_string(),
        path: req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().path().to_string(), |pq| pq.to_string()),
        status: 0,
        account: None,
        fault: None,
        duration_ms: 0,
    });
    let answer = api_request(&shared, router, stop, req, &mut record).await;
    if let Some(mut record) = record {
        record.status = answer.as_ref().map_or(0, |r| r.status().as_u16());
        record.duration_ms = started.elapsed().as_millis() as u64;
        shared.record_request(record);
    }
    answer
}

async fn route(router: Router, req: Request<Body>) -> Response<Body> {
    match router.oneshot(req).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// One API request through auth, version, rate limit and faults. A hang logs its record
/// itself (taking it out of `record`) because its answer never comes.
async fn api_request(
    shared: &Shared,
    router: Router,
    mut stop: watch::Receiver<bool>,
    req: Request<Incoming>,
    record: &mut Option<RequestRecord>,
) -> Answer {
    let Some(account) = authenticate(shared, req.headers()) else {
        return Ok(unauthorized());
    };
    let credential = &shared.credentials[account];
    set(record, |r| r.account = Some(credential.name.clone()));
    let version_header = req
        .headers()
        .get("x-pco-api-version")
        .and_then(|v| v.to_str().ok());
    let version = match Version::from_header(version_header) {
        Ok(v) => v,
        Err(detail) => {
            return Ok(ApiError::bad_request("unsupported_version_error", detail).into_response());
        }
    };
    let rate = lock(&shared.limiter).check(&credential.app_id, offset_of(req.uri().query()));
    if let Some(retry_after) = rate.retry_after {
        return Ok(too_many_requests(rate, retry_after));
    }
    let fault = lock(&shared.faults).decide(req.uri().path());
    set(record, |r| r.fault = fault.map(|f| f.name().to_string()));
    match fault {
        Some(Fault::Reset) => return Err(DropConnection),
        Some(Fault::ServerError { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Ok(with_rate_headers(
                ApiError::internal(status).into_response(),
                rate,
            ));
        }
        Some(Fault::RateLimited { retry_after }) => {
            return Ok(too_many_requests(
                RateDecision {
                    count: rate.count.max(rate.limit + 1),
                    ..rate
                },
                retry_after,
            ));
        }
        Some(Fault::Hang) => {
            if let Some(r) = record.take() {
                shared.record_request(r);
            }
            let _ = stop.wait_for(|stopped| *stopped).await;
            return Err(DropConnection);
        }
        Some(Fault::Slow { ms }) => {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(ms)) => {}
                _ = stop.wait_for(|stopped| *stopped) => return Err(DropConnection),
            }
        }
        _ => {}
    }
    let checked = match crate::schema::check(req.method(), req.uri().path(), req.uri().query()) {
        Ok(checked) => checked,
        Err(e) => return Ok(with_rate_headers(e.into_response(), rate)),
    };
    let (user, rules) = {
        let behaviour = lock(&shared.behaviour);
        (behaviour.token_user, behaviour.role_rules)
    };
    if !user.can_edit_people() && is_people_write(req.method(), req.uri().path()) {
        return Ok(with_rate_headers(
            ApiError::forbidden("You do not have access to this resource").into_response(),
            rate,
        ));
    }
    let mut req = req.map(Body::new);
    if let Some((vertex, creating)) = checked.body_vertex {
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
            return Err(DropConnection);
        };
        if let Err(e) = crate::schema::check_body(vertex, creating, &bytes) {
            return Ok(with_rate_headers(e.into_response(), rate));
        }
        req = Request::from_parts(parts, Body::from(bytes));
    }
    req.extensions_mut().insert(Ctx {
        account,
        version,
        user,
        rules,
    });
    let fieldsets = crate::sparse::fieldsets(req.uri().query());
    let mut response = route(router, req).await;
    if !fieldsets.is_empty() {
        response = sparse(response, &fieldsets).await;
    }
    response.headers_mut().insert(
        "x-pco-api-processed-as-version",
        HeaderValue::from_static(version.processed_as),
    );
    let response = match fault {
        Some(Fault::ResetAfter) => return Err(DropConnection),
        Some(Fault::Malformed) => malformed(response),
        Some(Fault::Truncated) => truncated(response).await,
        _ => response,
    };
    Ok(with_rate_headers(response, rate))
}

/// A write to People (people, their contacts, their apps): refused below People Editor.
fn is_people_write(method: &axum::http::Method, path: &str) -> bool {
    method != axum::http::Method::GET && path.starts_with("/people/v2/")
}

/// The list `offset` a request asks for (0 when none or unreadable).
fn offset_of(query: Option<&str>) -> usize {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "offset")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

fn set(record: &mut Option<RequestRecord>, f: impl FnOnce(&mut RequestRecord)) {
    if let Some(r) = record.as_mut() {
        f(r);
    }
}

/// The account whose `app_id:secret` the request carries in HTTP Basic auth.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Option<usize> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(BASE64.decode(encoded.trim()).ok()?).ok()?;
    let (app_id, secret) = decoded.split_once(':')?;
    shared
        .credentials
        .iter()
        .position(|c| c.app_id == app_id && c.secret == secret)
}

fn unauthorized() -> Response<Body> {
    let mut response = ApiError::unauthorized().into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"Application\""),
    );
    response
}

/// PCO's 429: note `code`, not `status`, in the error (research §4).
fn too_many_requests(rate: RateDecision, retry_after: u64) -> Response<Body> {
    let body = json!({ "errors": [{
        "code": "429",
        "title": "Too Many Requests",
        "detail": format!("Rate limit exceeded: {} of {} requests per {} seconds", rate.count, rate.limit, rate.period_secs),
    }]});
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ERROR_TYPE));
    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    let mut response = with_rate_headers(response, rate);
    // PCO writes the period as "20 seconds" on 429s and as "20" elsewhere; clients must parse
    // the leading integer either way.
    if let Ok(period) = HeaderValue::from_str(&format!("{} seconds", rate.period_secs)) {
        response
            .headers_mut()
            .insert("x-pco-api-request-rate-period", period);
    }
    response
}

fn with_rate_headers(mut response: Response<Body>, rate: RateDecision) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert(
        "x-pco-api-request-rate-count",
        HeaderValue::from(rate.count),
    );
    headers.insert(
        "x-pco-api-request-rate-limit",
        HeaderValue::from(rate.limit),
    );
    headers.insert(
        "x-pco-api-request-rate-period",
        HeaderValue::from(rate.period_secs),
    );
    response
}

/// The response with only the fields the request's sparse fieldsets name (see
/// [`crate::sparse`]); a body that is not JSON (an error page) passes as it is.
async fn sparse(
    response: Response<Body>,
    fieldsets: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let Ok(mut document) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    crate::sparse::apply(&mut document, fieldsets);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(document.to_string()))
}

fn malformed(response: Response<Body>) -> Response<Body> {
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(
        parts,
        Body::from(r#"{"data":[{"type":"Person","id":"1",,"attributes":{]}"#),
    )
}

async fn truncated(response: Response<Body>) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    // At least one byte goes missing, even from a tiny body.
    let keep = (bytes.len() / 2).min(bytes.len().saturating_sub(1));
    Response::from_parts(parts, Body::from(bytes.slice(..keep)))
}
