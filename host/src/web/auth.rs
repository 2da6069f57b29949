//! Signing in with the admin token, sessions, and the CSRF check of every change.
//!
//! - The login form carries a random value that must equal the `pcosync_login` cookie set
//!   with the form (double submit), so another site cannot sign a browser in.
//! - A right token starts a session: a random id (256 bits) kept in memory here, sent in an
//!   `HttpOnly`, `SameSite=Strict` cookie (`Secure` when served behind a TLS proxy), with its
//!   own random CSRF token. A wrong token waits a second before the answer.
//! - [`require`] lets a request through only with a live session; a request that changes
//!   something (anything but GET and HEAD) must also carry the session's CSRF token and, when
//!   the browser says where it comes from (`Origin`), come from this very host.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

use super::App;
use super::form::Fields;
use super::html;
use crate::secret::Secret;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "pcosync_session";
/// The login form's cookie (its CSRF value).
const LOGIN_COOKIE: &str = "pcosync_login";
/// A session unused this long is gone.
const IDLE: Duration = Duration::from_secs(8 * 3600);
/// The most sessions kept; the least recently used goes first.
const MAX_SESSIONS: usize = 256;
/// The largest form body read (a delete of many people is the largest).
const MAX_BODY: usize = 2 << 20;

/// A message for the next page.
#[derive(Clone, Debug)]
pub(crate) struct Flash {
    pub kind: FlashKind,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FlashKind {
    Info,
    Warn,
    Error,
}

/// The signed-in session of a request, for the handlers.
#[derive(Clone, Debug)]
pub(crate) struct Sess {
    pub id: String,
    pub csrf: String,
}

struct SessionData {
    csrf: String,
    last_seen: Instant,
    flash: Vec<Flash>,
}

pub(crate) struct Auth {
    /// sha256 of the admin token: the token itself is not kept.
    token_digest: [u8; 32],
    /// Always send cookies as `Secure` (served behind a TLS proxy).
    secure: bool,
    sessions: Mutex<HashMap<String, SessionData>>,
}

fn random_hex() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Equal, in a time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

impl Auth {
    pub fn new(token: &Secret, secure: bool) -> Auth {
        Auth {
            token_digest: Sha256::digest(token.expose().as_bytes()).into(),
            secure,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionData>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn token_is(&self, candidate: &str) -> bool {
        let digest = Sha256::digest(candidate.as_bytes());
        digest
            .iter()
            .zip(self.token_digest.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
    }

    fn start(&self) -> Sess {
        let mut sessions = self.sessions();
        let now = Instant::now();
        sessions.retain(|_, s| now.duration_since(s.last_seen) < IDLE);
        while sessions.len() >= MAX_SESSIONS {
            let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(id, _)| id.clone())
            else {
                break;
            };
            sessions.remove(&oldest);
        }
        let sess = Sess {
            id: random_hex(),
            csrf: random_hex(),
        };
        sessions.insert(
            sess.id.clone(),
            SessionData {
                csrf: sess.csrf.clone(),
                last_seen: now,
                flash: Vec::new(),
            },
        );
        sess
    }

    /// The live session of this id, marked as used now.
    fn find(&self, id: Option<&str>) -> Option<Sess> {
        let id = id?;
        let mut sessions = self.sessions();
        let now = Instant::now();
        let data = sessions.get_mut(id)?;
        if now.duration_since(data.last_seen) >= IDLE {
            sessions.remove(id);
            return None;
        }
        data.last_seen = now;
        Some(Sess {
            id: id.to_string(),
            csrf: data.csrf.clone(),
        })
    }

    fn end(&self, id: &str) {
        self.sessions().remove(id);
    }

    /// Keeps a message for the session's next page.
    pub fn flash(&self, sess: &Sess, kind: FlashKind, text: impl Into<String>) {
        if let Some(data) = self.sessions().get_mut(&sess.id) {
            data.flash.push(Flash {
                kind,
                text: text.into(),
            });
        }
    }

    /// The messages kept for this page (and no more).
    pub fn take_flash(&self, sess: &Sess) -> Vec<Flash> {
        self.sessions()
            .get_mut(&sess.id)
            .map(|data| std::mem::take(&mut data.flash))
            .unwrap_or_default()
    }

    fn cookie(
        &self,
        headers: &HeaderMap,
        name: &str,
        value: &str,
        max_age: Option<u64>,
    ) -> HeaderValue {
        let secure = self.secure || behind_https(headers);
        let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
        if secure {
            cookie.push_str("; Secure");
        }
        if let Some(age) = max_age {
            cookie.push_str(&format!("; Max-Age={age}"));
        }
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// Whether a TLS-terminating proxy says the browser spoke https.
fn behind_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// The value of cookie `name`.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Where to go after signing in: a path of this site only.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.starts_with("/login") =>
        {
            path.to_string()
        }
        _ => "/accounts".into(),
    }
}

/// The login page with a fresh form value (and its cookie), with `status`.
fn login_response(
    auth: &Auth,
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    error: Option<&str>,
) -> Response {
    let value = random_hex();
    let mut response = (status, html::login_page(&value, next, error)).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        auth.cookie(headers, LOGIN_COOKIE, &value, Some(3600)),
    );
    response
}

#[derive(serde::Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

pub(crate) async fn login_page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<NextQuery>,
) -> Response {
    login_response(
        &app.auth,
        &headers,
        StatusCode::OK,
        &safe_next(query.next.as_deref()),
        None,
    )
}

pub(crate) async fn login(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    fields: Fields,
) -> Response {
    let next = safe_next(fields.get("next"));
    let form_value = fields.get("csrf").unwrap_or_default();
    let cookie_value = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if form_value.is_empty() || !same(form_value.as_bytes(), cookie_value.as_bytes()) {
        return login_response(
            &app.auth,
            &headers,
            StatusCode::FORBIDDEN,
            &next,
            Some(
                "The sign-in form was out of date or came from another site; nothing was done. Try again.",
            ),
        );
    }
    let token = fields.get("token").unwrap_or_default();
    if !app.auth.token_is(token.trim()) {
        // Slows down guessing.
        tokio::time::sleep(Duration::from_secs(1)).await;
        return login_response(
            &app.auth,
            &headers,
            StatusCode::UNAUTHORIZED,
            &next,
            Some("That is not the admin token."),
        );
    }
    let sess = app.auth.start();
    let mut response = Redirect::to(&next).into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    let headers_out = response.headers_mut();
    headers_out.append(
        header::SET_COOKIE,
        app.auth.cookie(&headers, SESSION_COOKIE, &sess.id, None),
    );
    headers_out.append(
        header::SET_COOKIE,
        app.auth.cookie(&headers, LOGIN_COOKIE, "", Some(0)),
    );
    response
}

pub(crate) async fn logout(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::Extension(sess): axum::Extension<Sess>,
) -> Response {
    app.auth.end(&sess.id);
    let mut response = Redirect::to("/login").into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    response.headers_mut().append(
        header::SET_COOKIE,
        app.auth.cookie(&headers, SESSION_COOKIE, "", Some(0)),
    );
    response
}

/// Whether the browser says the request comes from this host (or says nothing).
fn same_origin(headers: &HeaderMap) -> bool {
    let site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("same-origin");
    if !matches!(site, "same-origin" | "none") {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(host)) = (
        origin.to_str(),
        headers.get(header::HOST).and_then(|h| h.to_str().ok()),
    ) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.trim_end_matches('/').eq_ignore_ascii_case(host))
}

/// Lets a request through with a live session, and a change only with its CSRF token.
pub(crate) async fn require(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let Some(sess) = app.auth.find(cookie(request.headers(), SESSION_COOKIE)) else {
        if request.method() == Method::GET || request.method() == Method::HEAD {
            let wanted = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            return login_response(
                &app.auth,
                request.headers(),
                StatusCode::UNAUTHORIZED,
                &safe_next(Some(&wanted)),
                None,
            );
        }
        return (
            StatusCode::UNAUTHORIZED,
            html::error_page(
                StatusCode::UNAUTHORIZED,
                "You are not signed in (or your session ended); nothing was done. Sign in and try again.",
            ),
        )
            .into_response();
    };
    let mut request = request;
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let refused = || {
            (
                StatusCode::FORBIDDEN,
                html::error_page(
                    StatusCode::FORBIDDEN,
                    "This form was out of date or came from another site (its CSRF token is missing or wrong); nothing was done. Go back, reload the page and try again.",
                ),
            )
                .into_response()
        };
        if !same_origin(request.headers()) {
            return refused();
        }
        let header_token = request
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
            return (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.").into_response();
        };
        let form_token = Fields::parse(&bytes).get("csrf").map(str::to_string);
        let given = header_token.or(form_token).unwrap_or_default();
        if given.is_empty() || !same(given.as_bytes(), sess.csrf.as_bytes()) {
            return refused();
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }
    request.extensions_mut().insert(sess);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_followed_after_login() {
        assert_eq!(
            safe_next(Some("/accounts/Main%20Campus")),
            "/accounts/Main%20Campus"
        );
        assert_eq!(safe_next(Some("//evil.example/")), "/accounts");
        assert_eq!(safe_next(Some("https://evil.example/")), "/accounts");
        assert_eq!(safe_next(Some("/\\evil.example")), "/accounts");
        assert_eq!(safe_next(Some("/login")), "/accounts");
        assert_eq!(safe_next(None), "/accounts");
    }

    #[test]
    fn sessions_hold_their_csrf_token_and_end() {
        let auth = Auth::new(&Secret::new("the-admin-token-for-tests"), false);
        assert!(auth.token_is("the-admin-token-for-tests"));
        assert!(!auth.token_is("the-admin-token-for-test"));
        let sess = auth.start();
        assert_eq!(sess.id.len(), 64);
        assert_ne!(sess.id, sess.csrf);
        assert_eq!(auth.find(Some(&sess.id)).unwrap().csrf, sess.csrf);
        assert!(auth.find(Some("not-a-session")).is_none());
        auth.flash(&sess, FlashKind::Info, "saved");
        assert_eq!(auth.take_flash(&sess).len(), 1);
        assert!(auth.take_flash(&sess).is_empty());
        auth.end(&sess.id);
        assert!(auth.find(Some(&sess.id)).is_none());
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_behind_https() {
        let auth = Auth::new(&Secret::new("the-admin-token-for-tests"), false);
        let mut headers = HeaderMap::new();
        let plain = auth.cookie(&headers, SESSION_COOKIE, "abc", None);
        assert_eq!(
            plain.to_str().unwrap(),
            "pcosync_session=abc; Path=/; HttpOnly; SameSite=Strict"
        );
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let secure = auth.cookie(&headers, SESSION_COOKIE, "abc", None);
        assert!(secure.to_str().unwrap().ends_with("; Secure"));
        let remote = Auth::new(&Secret::new("the-admin-token-for-tests"), true);
        assert!(
            remote
                .cookie(&HeaderMap::new(), SESSION_COOKIE, "abc", None)
                .to_str()
                .unwrap()
                .contains("; Secure")
        );
    }

    #[test]
    fn origins_must_be_this_host() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&headers));
        headers.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&headers));
        headers.remove(header::ORIGIN);
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&headers));
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&headers));
    }
}
