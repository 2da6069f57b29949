//! The accept loop. Each request passes through fault injection and the request log before
//! reaching the router; a dropped connection is made by answering the connection's service
//! with an error, which makes hyper close it without a response.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use bytes::Bytes;
use http_body::Frame;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::App;
use crate::faults::{FaultKind, RequestRecord};

mod iis;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Prefix of the admin routes: never faulted, never logged, no REST key needed.
pub const ADMIN_PREFIX: &str = "/__sandbox";

pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let (app, router, shutdown) = (app.clone(), router.clone(), shutdown.clone());
                    tokio::spawn(connection(stream, app, router, shutdown));
                }
                Err(error) => {
                    tracing::warn!(%error, "rock sandbox: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => break,
        }
    }
}

async fn connection(
    stream: TcpStream,
    app: Arc<App>,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        handle(app.clone(), router.clone(), request)
    });
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        _ = shutdown.changed() => {}
    }
}

async fn handle(
    app: Arc<App>,
    router: Router,
    request: Request<Incoming>,
) -> Result<Response<Body>, BoxError> {
    let method = request.method().to_string();
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    if path.starts_with(ADMIN_PREFIX) {
        return Ok(call(router, request.map(Body::new)).await);
    }
    if let Some((response, detail)) = iis::refusal(&request) {
        app.record(RequestRecord {
            method,
            path,
            status: response.status().as_u16(),
            fault: None,
            rows: None,
            detail: Some(detail),
            properties: Vec::new(),
        });
        return Ok(response);
    }
    let request = request.map(Body::new);
    let (fault, config) = {
        let mut faults = app.faults();
        (faults.next(&method, &path), faults.config())
    };
    let log_with =
        |status: u16, rows: Option<usize>, detail: Option<String>, properties: Vec<String>| {
            app.record(RequestRecord {
                method: method.clone(),
                path: path.clone(),
                status,
                fault,
                rows,
                detail,
                properties,
            })
        };
    let log = |status: u16, rows: Option<usize>, detail: Option<String>| {
        log_with(status, rows, detail, Vec::new())
    };
    match fault {
        Some(FaultKind::Reset) => {
            log(0, None, None);
            return Err("sandbox fault: connection reset".into());
        }
        Some(FaultKind::Hang) => {
            log(0, None, None);
            tokio::time::sleep(Duration::from_millis(config.hang_ms())).await;
            return Err("sandbox fault: hung request given up".into());
        }
        Some(FaultKind::Error) => {
            log(500, None, None);
            return Ok(crate::routes::message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "An error has occurred.",
            ));
        }
        Some(FaultKind::Slow) => tokio::time::sleep(Duration::from_millis(config.slow_ms())).await,
        _ => {}
    }
    let response = call(router, request).await;
    if let Some(loaded) = response.extensions().get::<crate::faults::AttributeRows>()
        && !app.attribute_row_cost.is_zero()
    {
        tokio::time::sleep(app.attribute_row_cost * loaded.0 as u32).await;
    }
    let rows = response
        .extensions()
        .get::<crate::faults::RowCount>()
        .map(|c| c.0);
    let detail = response
        .extensions()
        .get::<crate::faults::Detail>()
        .map(|d| d.0.clone());
    let properties = response
        .extensions()
        .get::<crate::faults::Properties>()
        .map(|p| p.0.clone())
        .unwrap_or_default();
    log_with(response.status().as_u16(), rows, detail, properties);
    match fault {
        Some(FaultKind::Malformed) => Ok(malformed(response).await),
        Some(FaultKind::Truncated) => Ok(truncated(response).await),
        _ => Ok(response),
    }
}

async fn call(router: Router, request: Request<Body>) -> Response<Body> {
    let result: Result<Response<Body>, Infallible> = router.oneshot(request).await;
    match result {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

async fn body_bytes(response: Response<Body>) -> (axum::http::response::Parts, Bytes) {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    (parts, bytes)
}

/// The real answer's first half followed by something no JSON parser accepts.
async fn malformed(response: Response<Body>) -> Response<Body> {
    let (mut parts, bytes) = body_bytes(response).await;
    let mut garbled = bytes[..bytes.len() / 2].to_vec();
    garbled.extend_from_slice(b"<!-- \x00 malformed by the sandbox -->");
    if parts.status == StatusCode::NO_CONTENT {
        parts.status = StatusCode::OK;
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(garbled))
}

/// Promises the whole body in `Content-Length`, sends half, then fails the stream so the
/// connection closes early.
async fn truncated(response: Response<Body>) -> Response<Body> {
    let (mut parts, bytes) = body_bytes(response).await;
    let full = bytes.len().max(2);
    if parts.status == StatusCode::NO_CONTENT {
        parts.status = StatusCode::OK;
    }
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(full));
    let half = bytes.slice(..bytes.len() / 2);
    let pause = Box::pin(tokio::time::sleep(Duration::from_millis(50)));
    Response::from_parts(
        parts,
        Body::new(Truncated {
            data: Some(half),
            pause,
        }),
    )
}

/// Yields its data, then (after a pause long enough for hyper to flush what it has) fails.
struct Truncated {
    data: Option<Bytes>,
    pause: Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for Truncated {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(data) = self.data.take().filter(|d| !d.is_empty()) {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        match self.pause.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err("sandbox fault: body truncated".into()))),
            Poll::Pending => Poll::Pending,
        }
    }
}
