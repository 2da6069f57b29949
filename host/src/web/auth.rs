//! Signing in with the admin token, sessions, and the CSRF check of every change.
//!
//! - The login form carries a random value that must equal the `pcosync_login` cookie set
//!   with the form (double submit), so another site cannot sign a browser in.
//! - A right token starts a session: a random id (256 bits) kept in memory here, sent in an
//!   `HttpOnly`, `SameSite=Strict` cookie (`Secure` when served behind a TLS proxy), with its
//!   own random CSRF token. A session ends after 8 idle hours, and after 24 hours whatever
//!   its use; changing the token in the configuration signs everyone out (it is read again
//!   at every request).
//! - Failed sign-ins are counted per client address (issue 24 item 19: counted for the whole
//!   server, someone guessing locked the right token out for everyone): a wrong token waits a
//!   second, every failure is logged with the address, and after [`MAX_FAILURES`] in
//!   [`FAILURE_WINDOW`] from one address every sign-in from that address is refused (right
//!   token or not) until the window has passed. The address is the connection's; behind a
//!   proxy on this host (`--allow-remote`, a loopback peer) it is the last one the proxy
//!   appended to `X-Forwarded-For`.
//! - [`require`] lets a request through only with a live session; a request that changes
//!   something (anything but GET and HEAD) must also carry the session's CSRF token and, when
//!   the browser says where it comes from (`Origin`), come from this very host.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
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
/// A session is gone this long after it started, however much it is used.
const LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Failed sign-ins from one client address that close its sign-in for a while.
pub(crate) const MAX_FAILURES: usize = 10;
/// The window [`MAX_FAILURES`] counts over.
pub(crate) const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// The most client addresses whose failures are remembered: past it, addresses without a
/// failure in the window are forgotten first, then the oldest.
const MAX_TRACKED_CLIENTS: usize = 4096;
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
    started: Instant,
    last_seen: Instant,
    flash: Vec<Flash>,
}

impl SessionData {
    fn live(&self, now: Instant) -> bool {
        now.duration_since(self.last_seen) < IDLE && now.duration_since(self.started) < LIFETIME
    }
}

pub(crate) struct Auth {
    /// sha256 of the admin token: the token itself is not kept.
    token_digest: Mutex<[u8; 32]>,
    /// Always send cookies as `Secure` (served behind a TLS proxy).
    secure: bool,
    sessions: Mutex<HashMap<String, SessionData>>,
    /// When the recent failed sign-ins happened, per client address.
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

/// Drops the failures older than the window.
fn forget_expired(recent: &mut VecDeque<Instant>, now: Instant) {
    while recent
        .front()
        .is_some_and(|t| now.duration_since(*t) >= FAILURE_WINDOW)
    {
        recent.pop_front();
    }
}

/// Room for one more client: addresses whose failures have all expired go, and when none has,
/// the one whose last failure is oldest.
fn make_room(failures: &mut HashMap<IpAddr, VecDeque<Instant>>, now: Instant) {
    failures.retain(|_, recent| {
        forget_expired(recent, now);
        !recent.is_empty()
    });
    if failures.len() >= MAX_TRACKED_CLIENTS
        && let Some(oldest) = failures
            .iter()
            .min_by_key(|(_, recent)| recent.back().copied())
            .map(|(client, _)| *client)
    {
        failures.remove(&oldest);
    }
}

/// The address a sign-in comes from: the connection's peer, or, behind a proxy on this host
/// (`--allow-remote` and a loopback peer), the last address the proxy appended to
/// `X-Forwarded-For` (the one a client cannot choose).
pub(crate) struct Client(pub IpAddr);

impl FromRequestParts<Arc<App>> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        let forwarded = (app.allow_remote && peer.is_loopback())
            .then(|| forwarded_for(&parts.headers))
            .flatten();
        Ok(Client(forwarded.unwrap_or(peer)))
    }
}

/// The last address of `X-Forwarded-For`, if it is one.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()?;
    last.trim().parse().ok()
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
            token_digest: Mutex::new(Sha256::digest(token.expose().as_bytes()).into()),
            secure,
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `token` as the admin token; when it is not the one in force, every session ends
    /// (a rotated token signs everyone out).
    pub fn rotate(&self, token: &Secret) {
        let digest: [u8; 32] = Sha256::digest(token.expose().as_bytes()).into();
        let mut current = self.token_digest.lock().unwrap_or_else(|p| p.into_inner());
        if *current != digest {
            *current = digest;
            let signed_out = {
                let mut sessions = self.sessions();
                let count = sessions.len();
                sessions.clear();
                count
            };
            tracing::warn!(
                "the web admin token changed: {signed_out} session(s) signed out, sign in with the new token"
            );
        }
    }

    /// How long sign-ins from `client` stay closed after too many failures (None: open).
    fn closed_for(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let recent = failures.get_mut(&client)?;
        forget_expired(recent, now);
        (recent.len() >= MAX_FAILURES)
            .then(|| FAILURE_WINDOW.saturating_sub(now.duration_since(recent[0])))
    }

    /// Counts a failed sign-in from `client`; answers how many its window now holds.
    fn failed(&self, client: IpAddr, now: Instant) -> usize {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= MAX_TRACKED_CLIENTS && !failures.contains_key(&client) {
            make_room(&mut failures, now);
        }
        let recent = failures.entry(client).or_default();
        forget_expired(recent, now);
        recent.push_back(now);
        recent.len()
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionData>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn token_is(&self, candidate: &str) -> bool {
        let digest = Sha256::digest(candidate.as_bytes());
        let current = *self.token_digest.lock().unwrap_or_else(|p| p.into_inner());
        digest
            .iter()
            .zip(current.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
    }

    fn start(&self) -> Sess {
        let mut sessions = self.sessions();
        let now = Instant::now();
        sessions.retain(|_, s| s.live(now));
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
                started: now,
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
        if !data.live(now) {
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

/// Where to go after signing in: a path of this site only. Anything a browser could read as
/// another origin is refused: `//host`, a backslash (read as a slash), a tab or line break
/// (dropped, so `/\t/host` is `//host`), and their percent-encoded forms (`%09`, `%2f`, `%5c`).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if same_origin_path(path) && !path.starts_with("/login") => path.to_string(),
        _ => "/accounts".into(),
    }
}

fn same_origin_path(path: &str) -> bool {
    if !path.starts_with('/') || path.len() > 2048 {
        return false;
    }
    if path
        .chars()
        .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
    {
        return false;
    }
    let lower = path.to_ascii_lowercase();
    let encoded_danger = lower.match_indices('%').any(|(at, _)| {
        let code = lower.get(at + 1..at + 3).unwrap_or("");
        match u8::from_str_radix(code, 16) {
            Ok(byte) => byte < 0x20 || byte == 0x7f || matches!(byte, b'/' | b'\\' | b'%'),
            Err(_) => true,
        }
    });
    !encoded_danger && !path[1..].starts_with('/')
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
    Client(client): Client,
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
    app.refresh_token();
    if let Some(wait) = app.auth.closed_for(client, Instant::now()) {
        tracing::warn!(
            "web admin sign-in from {client} refused: sign-in from there is closed after too many failures"
        );
        let message = format!(
            "Too many failed sign-ins from your address: signing in from it is closed for {} s more. Try again then.",
            wait.as_secs().max(1)
        );
        return login_response(
            &app.auth,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            Some(&message),
        );
    }
    let token = fields.get("token").unwrap_or_default();
    if !app.auth.token_is(token.trim()) {
        let recent = app.auth.failed(client, Instant::now());
        tracing::warn!(
            "failed sign-in to the web admin from {client} ({recent} from there in the last {} s; sign-in from there closes at {MAX_FAILURES})",
            FAILURE_WINDOW.as_secs()
        );
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
    tracing::info!("signed in to the web admin from {client}");
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
    app.refresh_token();
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
        // What a browser turns into another origin.
        for evil in [
            "/%09/evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/%2F/evil.example",
            "/%2f%2fevil.example",
            "/%5Cevil.example",
            "/%5c%5cevil.example",
            "/ /evil.example",
            "/%",
        ] {
            assert_eq!(safe_next(Some(evil)), "/accounts", "{evil:?}");
        }
        assert_eq!(
            safe_next(Some("/runs?account=A%20B")),
            "/runs?account=A%20B"
        );
    }

    #[test]
    fn sessions_end_after_their_lifetime_and_at_a_new_token() {
        let auth = Auth::new(&Secret::new("the-admin-token-for-tests"), false);
        let sess = auth.start();
        // Used all along, but started longer ago than the lifetime.
        if let Some(data) = auth.sessions().get_mut(&sess.id) {
            data.started = Instant::now() - LIFETIME - Duration::from_secs(1);
        }
        assert!(auth.find(Some(&sess.id)).is_none());
        let sess = auth.start();
        auth.rotate(&Secret::new("the-admin-token-for-tests"));
        assert!(
            auth.find(Some(&sess.id)).is_some(),
            "the same token keeps sessions"
        );
        auth.rotate(&Secret::new("a-rotated-admin-token"));
        assert!(auth.find(Some(&sess.id)).is_none());
        assert!(auth.token_is("a-rotated-admin-token"));
        assert!(!auth.token_is("the-admin-token-for-tests"));
    }

    #[test]
    fn failures_close_the_sign_in_of_their_address_for_a_while_issue_24_item_19() {
        let auth = Auth::new(&Secret::new("the-admin-token-for-tests"), false);
        let (guesser, staff): (IpAddr, IpAddr) = (
            "203.0.113.9".parse().unwrap(),
            "198.51.100.4".parse().unwrap(),
        );
        let start = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            auth.failed(guesser, start);
        }
        assert!(auth.closed_for(guesser, start).is_none());
        auth.failed(guesser, start);
        assert!(auth.closed_for(guesser, start).is_some());
        assert!(
            auth.closed_for(staff, start).is_none(),
            "others still sign in"
        );
        assert!(auth.closed_for(guesser, start + FAILURE_WINDOW).is_none());
    }

    #[test]
    fn the_addresses_remembered_are_bounded() {
        let auth = Auth::new(&Secret::new("the-admin-token-for-tests"), false);
        let start = Instant::now();
        for n in 0..MAX_TRACKED_CLIENTS as u32 + 10 {
            auth.failed(IpAddr::V4(Ipv4Addr::from(n)), start);
        }
        let tracked = auth.failures.lock().unwrap().len();
        assert!(tracked <= MAX_TRACKED_CLIENTS, "{tracked}");
    }

    #[test]
    fn only_the_proxys_own_forwarded_address_counts() {
        let mut headers = HeaderMap::new();
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_static("10.0.0.1, 192.0.2.7"),
        );
        assert_eq!(forwarded_for(&headers), Some("192.0.2.7".parse().unwrap()));
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("not an address"),
        );
        assert_eq!(forwarded_for(&headers), None);
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
