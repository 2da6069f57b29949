//! `pcosync serve`: the web admin, the seed's Rock pages served by the host (R25, R30-R36,
//! R40-R42).
//!
//! The pages call the same operations as the command line ([`crate::ops`] and the editing
//! functions of the `cli` modules) and only show what they return. Server-rendered HTML
//! (`maud`, which escapes every value), one small script for live progress, no build step.
//!
//! Security:
//! - Loopback by default; another address only with `--allow-remote` (behind a TLS proxy), and
//!   then the session cookie is `Secure`. A request naming another host (`Host:` header) than
//!   loopback or, with `--allow-remote`, a name of `[web] allowed_hosts` is refused, which
//!   stops DNS rebinding.
//! - Every page and action needs a session, given by the login page to whoever types the
//!   admin token of `[web] admin_token` (compared in constant time; a wrong one waits a
//!   second). The session id is random, kept server-side, in an `HttpOnly`, `SameSite=Strict`
//!   cookie; sessions expire after 8 idle hours.
//! - Every change is a POST carrying the session's CSRF token (a form field or the
//!   `X-CSRF-Token` header): without it, or with a wrong one, 403 and nothing is done.
//! - No secret is ever sent to the browser: secret fields are write-only (a new reference can
//!   be set, the current one is not shown), and messages never hold secrets.
//! - A strict Content-Security-Policy (scripts and styles from this server only), no framing,
//!   no referrer beyond this site (a browser then names
//!   this site as the `Origin` of its forms), no caching of pages.

mod auth;
mod form;
mod html;
mod jobs;
mod pages;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::cli::serve::shared::ConfigLocation;
use crate::config::{AccountConfig, Config, MIN_ADMIN_TOKEN_LEN};
use crate::secret::Secret;

pub use auth::SESSION_COOKIE;

/// How the web admin is served.
pub struct WebOptions {
    /// The configuration file: read again for every page, edited by the forms.
    pub config_path: PathBuf,
    /// The data directory (state, compile cache).
    pub data_dir: PathBuf,
    /// The admin token (from `[web] admin_token`).
    pub admin_token: Secret,
    /// Served on a non-loopback address behind a TLS-terminating proxy: any `Host:` is
    /// accepted and the session cookie is `Secure`.
    pub allow_remote: bool,
}

/// Everything the handlers share.
pub(crate) struct App {
    pub location: ConfigLocation,
    pub data_dir: PathBuf,
    pub auth: auth::Auth,
    pub jobs: jobs::Jobs,
    pub allow_remote: bool,
    /// The `Host:` names accepted besides loopback, with `allow_remote` (`[web] allowed_hosts`).
    pub allowed_hosts: Vec<String>,
    /// One configuration edit at a time (two tabs saving at once).
    pub edits: tokio::sync::Mutex<()>,
}

impl App {
    /// Puts the admin token of the configuration as it is now in force (a changed one signs
    /// everyone out). A configuration that cannot be read, or names no usable token, leaves
    /// the token in force as it was, loudly.
    pub fn refresh_token(&self) {
        match self
            .config()
            .map_err(|e| e.message)
            .and_then(|c| admin_token(&c))
        {
            Ok(token) => self.auth.rotate(&token),
            Err(message) => tracing::warn!(
                "the web admin keeps its admin token: the configuration's cannot be used ({message})"
            ),
        }
    }

    /// The configuration as it is in the file now.
    pub fn config(&self) -> Result<Config, WebError> {
        match self.location.load() {
            Ok(Some(config)) => Ok(config),
            Ok(None) => Err(WebError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                self.location.missing(),
            )),
            Err(error) => Err(WebError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                error.to_string(),
            )),
        }
    }
}

/// The configured account named `name`, or 404.
pub(crate) fn account<'a>(config: &'a Config, name: &str) -> Result<&'a AccountConfig, WebError> {
    config
        .account(name)
        .map_err(|message| WebError::new(StatusCode::NOT_FOUND, message))
}

/// An error page: the status and the message (which never holds a secret).
#[derive(Debug)]
pub(crate) struct WebError {
    pub status: StatusCode,
    pub message: String,
}

impl WebError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> WebError {
        WebError {
            status,
            message: message.into(),
        }
    }

    pub fn internal(message: impl std::fmt::Display) -> WebError {
        WebError::new(StatusCode::INTERNAL_SERVER_ERROR, message.to_string())
    }
}

impl From<anyhow::Error> for WebError {
    fn from(error: anyhow::Error) -> WebError {
        WebError::internal(format!("{error:#}"))
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        (self.status, html::error_page(self.status, &self.message)).into_response()
    }
}

/// Whether pcosync may listen on `addr`: loopback always; another address only with
/// `--allow-remote`.
pub fn check_listen(addr: SocketAddr, allow_remote: bool) -> Result<(), String> {
    if addr.ip().is_loopback() || allow_remote {
        return Ok(());
    }
    Err(format!(
        "refusing to serve the web admin on {addr}, which is not a loopback address: anyone who can reach it could try the admin token, and without TLS it would cross the network in clear. Serve it on 127.0.0.1 and reach it through an SSH tunnel, or put a TLS-terminating proxy in front and pass --allow-remote"
    ))
}

/// The admin token from the configuration, or what to do.
pub fn admin_token(config: &Config) -> Result<Secret, String> {
    let Some(reference) = &config.web.admin_token else {
        return Err("the web admin needs a token: add `[web] admin_token = { file = \"/etc/pcosync/admin.token\" }` (a file readable by its owner only, holding a long random token, e.g. from `openssl rand -hex 32`) or `{ env = \"PCOSYNC_ADMIN_TOKEN\" }`, or run `pcosync config set web.admin_token_file=PATH`".into());
    };
    let token = reference.resolve("[web] admin_token")?;
    if token.expose().chars().count() < MIN_ADMIN_TOKEN_LEN {
        return Err(format!(
            "[web] admin_token is shorter than {MIN_ADMIN_TOKEN_LEN} characters: use a long random token (e.g. `openssl rand -hex 32`)"
        ));
    }
    Ok(token)
}

/// The web admin's routes, ready to serve.
pub fn router(options: WebOptions) -> Router {
    let location = ConfigLocation::resolve(Some(options.config_path));
    let allowed_hosts = match location.load() {
        Ok(Some(config)) => config.web.allowed_hosts,
        _ => Vec::new(),
    };
    if options.allow_remote && allowed_hosts.is_empty() {
        tracing::warn!(
            "--allow-remote without `[web] allowed_hosts`: only requests naming a loopback host \
             are served; add the name your proxy serves the admin as, e.g. \
             `allowed_hosts = [\"admin.example.org\"]`"
        );
    }
    let app = Arc::new(App {
        location,
        data_dir: options.data_dir,
        auth: auth::Auth::new(&options.admin_token, options.allow_remote),
        jobs: jobs::Jobs::default(),
        allow_remote: options.allow_remote,
        allowed_hosts,
        edits: tokio::sync::Mutex::new(()),
    });
    let protected = pages::routes()
        .route("/jobs/{id}", get(jobs::page))
        .route("/jobs/{id}/progress", get(jobs::progress))
        .route("/jobs/{id}/stop", post(jobs::stop))
        .route("/logout", post(auth::logout))
        .layer(middleware::from_fn_with_state(app.clone(), auth::require));
    Router::new()
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/static/app.css", get(html::stylesheet))
        .route("/static/app.js", get(html::script))
        .merge(protected)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

async fn not_found() -> WebError {
    WebError::new(StatusCode::NOT_FOUND, "There is no such page.")
}

/// Refuses requests for another host (unless remote), and sets the security headers on every
/// answer.
async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST);
    let allowed =
        loopback_host(host) || (app.allow_remote && listed_host(host, &app.allowed_hosts));
    if !allowed {
        let message = if app.allow_remote {
            "This pcosync serves only requests addressed to loopback or to a name of `[web] allowed_hosts`."
        } else {
            "This pcosync serves only requests addressed to 127.0.0.1, localhost or [::1]."
        };
        return (StatusCode::MISDIRECTED_REQUEST, message).into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Whether a `Host:` header names one of `allowed` (any port; names compared without case).
fn listed_host(host: Option<&HeaderValue>, allowed: &[String]) -> bool {
    let Some(host) = host.and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    allowed
        .iter()
        .any(|allowed| allowed.trim().eq_ignore_ascii_case(name))
}

/// Whether a `Host:` header names this machine's loopback (any port).
fn loopback_host(host: Option<&HeaderValue>) -> bool {
    let Some(host) = host.and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Serves the web admin on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    options: WebOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer's address reaches the handlers: failed sign-ins are throttled per address.
    let service = router(options).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_unless_remote_is_allowed() {
        let loopback: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let v6: SocketAddr = "[::1]:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(check_listen(loopback, false).is_ok());
        assert!(check_listen(v6, false).is_ok());
        let error = check_listen(any, false).unwrap_err();
        assert!(error.contains("--allow-remote"), "{error}");
        assert!(check_listen(any, true).is_ok());
    }

    #[test]
    fn hosts_are_recognised_as_loopback_or_not() {
        let host = |h: &str| loopback_host(Some(&HeaderValue::from_str(h).unwrap()));
        assert!(host("127.0.0.1:8080"));
        assert!(host("localhost:1"));
        assert!(host("LOCALHOST"));
        assert!(host("[::1]:8080"));
        assert!(host("127.0.0.2"));
        assert!(!host("evil.example:8080"));
        assert!(!host("10.0.0.1:8080"));
        assert!(!host("localhost.evil.example"));
        assert!(!loopback_host(None));
        let allowed = ["admin.example.org".to_string()];
        let listed = |h: &str| listed_host(Some(&HeaderValue::from_str(h).unwrap()), &allowed);
        assert!(listed("admin.example.org"));
        assert!(listed("ADMIN.example.org:443"));
        assert!(!listed("evil.example"));
        assert!(!listed("admin.example.org.evil.example"));
    }

    #[test]
    fn the_admin_token_is_required_and_long() {
        let config = Config::parse("").unwrap();
        assert!(
            admin_token(&config)
                .unwrap_err()
                .contains("[web] admin_token")
        );
        let config =
            Config::parse("[web]\nadmin_token = { env = \"PCOSYNC_TEST_SURELY_UNSET_TOKEN\" }\n")
                .unwrap();
        assert!(
            admin_token(&config)
                .unwrap_err()
                .contains("PCOSYNC_TEST_SURELY_UNSET_TOKEN")
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "short").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let text = format!(
            "[web]\nadmin_token = {{ file = {:?} }}\n",
            path.display().to_string()
        );
        let error = admin_token(&Config::parse(&text).unwrap()).unwrap_err();
        assert!(error.contains("shorter than 16"), "{error}");
        assert!(!error.contains("short\""), "{error}");
        std::fs::write(&path, "a-long-enough-admin-token-0123").unwrap();
        assert_eq!(
            admin_token(&Config::parse(&text).unwrap())
                .unwrap()
                .expose(),
            "a-long-enough-admin-token-0123"
        );
    }
}
