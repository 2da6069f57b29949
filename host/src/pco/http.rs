//! The real PCO backend: HTTPS (or plain HTTP to a loopback sandbox) with the account's
//! credentials, pacing, retries, timeouts and a cap on response size.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use rand::Rng;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use tokio::sync::Mutex;
use url::Url;

use super::Pco;
use super::pacer::Pacer;
use crate::bindings::pco::{Method, Request, Response};
use crate::bindings::types::{Error, ErrorKind};
use crate::secret::Secret;

/// One PCO account as the host reaches it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub name: String,
    /// The API root, e.g. `https://api.planningcenteronline.com`.
    pub base_url: Url,
    /// Where files are uploaded, e.g. `https://upload.planningcenteronline.com/v2/files`.
    pub upload_url: Url,
    pub app_id: String,
    pub secret: Secret,
}

#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub timeout: Duration,
    pub max_response_bytes: usize,
    /// Most bytes of answers one batch holds at once (issue 24 item 16): a batch of up to
    /// 1,000 requests could otherwise hold 1,000 answers of `max_response_bytes` each (32 GiB).
    /// The default, 256 MiB, is what the guest needs and a little more: it reads all of an
    /// account's people pages in one batch, 78.5 MiB for 30,000 people
    /// (`a_large_account_is_read_without_offsets_past_thirty_thousand`), about 130 MiB for the
    /// 50,000 the limits are sized for. 64 MiB would fail every account past about 25,000.
    pub max_batch_bytes: usize,
    /// Attempts for a request that is safe to repeat (5xx, reset, timeout).
    pub attempts: u32,
    /// Times a 429 is waited out before giving up with `rate-limited`.
    pub rate_limit_retries: u32,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Longest Retry-After honoured; a longer one is cut to this.
    pub max_retry_after: Duration,
    /// How long to wait before asking Services once more for a person it answered 404 for
    /// right after People gave them the Services app (the profile is still being provisioned).
    pub provisioning_wait: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(30),
            max_response_bytes: 32 << 20,
            max_batch_bytes: 256 << 20,
            attempts: 5,
            rate_limit_retries: 10,
            backoff_base: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(120),
            provisioning_wait: Duration::from_secs(2),
        }
    }
}

/// Headers the guest may set; anything else it sends is dropped.
const GUEST_HEADERS: [&str; 1] = ["x-pco-api-version"];

/// Response headers the guest is given: the API version PCO answered with. The rest (rate
/// limits, cookies, request ids) are the host's business (issue 14.12).
const HEADERS_FOR_GUEST: [&str; 1] = ["x-pco-api-processed-as-version"];

pub struct HttpPco {
    client: reqwest::Client,
    accounts: HashMap<String, Account>,
    options: HttpOptions,
}

struct Account {
    endpoint: Endpoint,
    authorization: HeaderValue,
    pacer: Mutex<Pacer>,
}

impl HttpPco {
    pub fn new(endpoints: Vec<Endpoint>, options: HttpOptions) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("pcosync/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
        let mut accounts = HashMap::new();
        for endpoint in endpoints {
            check_transport(&endpoint.name, &endpoint.base_url)?;
            check_transport(&endpoint.name, &endpoint.upload_url)?;
            let token = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                endpoint.app_id,
                endpoint.secret.expose()
            ));
            let mut authorization =
                HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| {
                    format!(
                        "account {}: the app id holds characters a header cannot carry",
                        endpoint.name
                    )
                })?;
            authorization.set_sensitive(true);
            accounts.insert(
                endpoint.name.clone(),
                Account {
                    endpoint,
                    authorization,
                    pacer: Mutex::new(Pacer::default()),
                },
            );
        }
        Ok(HttpPco {
            client,
            accounts,
            options,
        })
    }

    fn account(&self, name: &str) -> Result<&Account, Error> {
        self.accounts.get(name).ok_or_else(|| {
            Error::new(
                ErrorKind::Invalid,
                format!("no PCO account named \"{name}\" is configured"),
            )
        })
    }

    async fn execute(&self, account: &Account, request: &Request) -> Result<Response, Error> {
        self.execute_within(account, request, self.options.max_response_bytes)
            .await
            .map_err(|(failure, repeatable)| failure.into_error(&account.endpoint.name, repeatable))
    }

    /// `execute`, with a response of at most `limit` bytes: a larger one is a
    /// [`Failure::TooLarge`], not retried. The failure comes back unconverted, with whether the
    /// request is safe to repeat, for the batch to word.
    async fn execute_within(
        &self,
        account: &Account,
        request: &Request,
        limit: usize,
    ) -> Result<Response, (Failure, bool)> {
        let repeatable = matches!(request.method, Method::Get | Method::Put | Method::Delete);
        let url = resolve(&account.endpoint.base_url, &request.path, &request.query)
            .map_err(|error| (Failure::Refused(error), repeatable))?;
        let method = http_method(request.method);
        let mut attempt = 0;
        let mut rate_limited = 0;
        loop {
            let wait = account
                .pacer
                .lock()
                .await
                .reserve(tokio::time::Instant::now());
            pause(wait).await;
            let mut builder = self
                .client
                .request(method.clone(), url.clone())
                .header(AUTHORIZATION, account.authorization.clone())
                .headers(guest_headers(&request.headers));
            if let Some(body) = &request.body {
                builder = builder
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            attempt += 1;
            let outcome = match builder.send().await {
                Ok(response) => self.read(account, response, limit).await,
                Err(error) => Err(Failure::Transport {
                    before_sending: error.is_connect(),
                    message: describe_transport(&error),
                }),
            };
            let failure = match outcome {
                Ok(response) => return Ok(response),
                Err(failure) => failure,
            };
            let retry_in = match &failure {
                Failure::RateLimited { retry_after, .. }
                    if rate_limited < self.options.rate_limit_retries =>
                {
                    rate_limited += 1;
                    let wait = (*retry_after).min(self.options.max_retry_after);
                    account
                        .pacer
                        .lock()
                        .await
                        .back_off(tokio::time::Instant::now(), wait);
                    Some(Duration::ZERO)
                }
                Failure::Status { status, .. }
                    if *status >= 500 && repeatable && attempt < self.options.attempts =>
                {
                    Some(self.backoff(attempt))
                }
                Failure::Transport { before_sending, .. }
                    if (repeatable || *before_sending) && attempt < self.options.attempts =>
                {
                    Some(self.backoff(attempt))
                }
                Failure::Malformed(_) if repeatable && attempt < self.options.attempts => {
                    Some(self.backoff(attempt))
                }
                _ => None,
            };
            match retry_in {
                Some(wait) => {
                    tracing::debug!(account = %account.endpoint.name, path = %request.path, attempt, "retrying PCO request: {}", failure.summary());
                    pause(wait).await;
                }
                None => return Err((failure, repeatable)),
            }
        }
    }

    async fn read(
        &self,
        account: &Account,
        mut response: reqwest::Response,
        limit: usize,
    ) -> Result<Response, Failure> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        account.pacer.lock().await.observe(
            tokio::time::Instant::now(),
            super::pacer::RateHeaders {
                limit: header("x-pco-api-request-rate-limit"),
                period: header("x-pco-api-request-rate-period"),
                count: header("x-pco-api-request-rate-count"),
            },
        );
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        return Err(Failure::TooLarge { limit });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(error) => {
                    return Err(Failure::Transport {
                        before_sending: false,
                        message: format!(
                            "the response was cut off ({})",
                            describe_transport(&error)
                        ),
                    });
                }
            }
        }
        if status == 429 {
            let retry_after = header("retry-after")
                .and_then(super::pacer::leading_number)
                .map_or(Duration::from_secs(1), Duration::from_secs);
            return Err(Failure::RateLimited {
                retry_after,
                detail: error_detail(&body),
            });
        }
        if !(200..300).contains(&status) {
            return Err(Failure::Status {
                status,
                detail: error_detail(&body),
            });
        }
        // A body cut short or garbled in transit is retried here, where retrying is safe to
        // decide, rather than failing the guest's parse.
        let is_json = header("content-type").is_some_and(|t| t.contains("json"));
        if is_json
            && !body.is_empty()
            && serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err()
        {
            return Err(Failure::Malformed("the response was not valid JSON".into()));
        }
        Ok(Response {
            status,
            headers: headers
                .iter()
                .filter(|(k, _)| HEADERS_FOR_GUEST.contains(&k.as_str()))
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect(),
            body,
        })
    }

    /// One request of a batch whose answers may take `limit` more bytes: its error, and
    /// whether the answer passed the batch's cap (then dropped).
    async fn execute_in_batch(
        &self,
        account: &Account,
        request: &Request,
        limit: usize,
    ) -> Result<Response, (Error, bool)> {
        let name = &account.endpoint.name;
        match self.execute_within(account, request, limit).await {
            Err((Failure::TooLarge { .. }, repeatable))
                if limit < self.options.max_response_bytes =>
            {
                let what = if repeatable {
                    "this answer was dropped"
                } else {
                    "this answer was dropped (the request reached PCO)"
                };
                let cap = self.options.max_batch_bytes;
                Err((batch_over(name, cap, what), true))
            }
            other => {
                other.map_err(|(failure, repeatable)| (failure.into_error(name, repeatable), false))
            }
        }
    }

    /// Capped exponential backoff with full jitter, so retries of many hosts don't align.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponential = self
            .options
            .backoff_base
            .saturating_mul(1 << attempt.min(16))
            .min(self.options.backoff_cap);
        exponential.mul_f64(rand::rng().random_range(0.5..=1.0))
    }
}

#[async_trait]
impl Pco for HttpPco {
    async fn send(&self, account: &str, request: &Request) -> Result<Response, Error> {
        let account = self.account(account)?;
        self.execute(account, request).await
    }

    /// In order, one answer each. A Services request for a person given the Services app
    /// earlier in the batch that meets 404 is asked once more after a short wait: Services
    /// may still be creating the profile (issue 14.7).
    async fn send_batch(
        &self,
        account: &str,
        requests: &[Request],
    ) -> Vec<Result<Response, Error>> {
        let account = match self.account(account) {
            Ok(account) => account,
            Err(error) => return requests.iter().map(|_| Err(error.clone())).collect(),
        };
        let mut granted: Vec<&str> = Vec::new();
        let mut answers = Vec::with_capacity(requests.len());
        // Issue 24 item 16: the answers held, against `max_batch_bytes`. Once an answer would
        // pass it, that answer is dropped and nothing more of the batch is sent.
        let cap = self.options.max_batch_bytes;
        let mut held = 0usize;
        let mut over = false;
        for request in requests {
            if over {
                answers.push(Err(batch_over(
                    &account.endpoint.name,
                    cap,
                    "this request was not sent",
                )));
                continue;
            }
            let limit = self.options.max_response_bytes.min(cap - held);
            let mut answer = self.execute_in_batch(account, request, limit).await;
            let provisioning = services_person(&request.path).is_some_and(|p| granted.contains(&p));
            if provisioning && matches!(&answer, Err((e, _)) if e.kind == ErrorKind::NotFound) {
                tracing::debug!(account = %account.endpoint.name, path = %request.path, "Services profile not there yet; asking again");
                pause(self.options.provisioning_wait).await;
                answer = self.execute_in_batch(account, request, limit).await;
            }
            let answer = match answer {
                Ok(response) => {
                    held += response.body.len();
                    Ok(response)
                }
                Err((error, past_cap)) => {
                    over = past_cap;
                    Err(error)
                }
            };
            if answer.is_ok()
                && let Some(person) = granted_person(request)
            {
                granted.push(person);
            }
            answers.push(answer);
        }
        answers
    }

    async fn upload(
        &self,
        account: &str,
        content_type: &str,
        filename: &str,
        bytes: &[u8],
    ) -> Result<String, Error> {
        let account = self.account(account)?;
        let part = reqwest::multipart::Part::bytes(bytes.to_vec())
            .file_name(filename.to_string())
            .mime_str(content_type)
            .map_err(|_| {
                Error::new(
                    ErrorKind::Invalid,
                    format!("`{content_type}` is not a content type"),
                )
            })?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let wait = account
            .pacer
            .lock()
            .await
            .reserve(tokio::time::Instant::now());
        pause(wait).await;
        let response = self
            .client
            .post(account.endpoint.upload_url.clone())
            .header(AUTHORIZATION, account.authorization.clone())
            .multipart(form)
            .send()
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::Unavailable,
                    format!("uploading a file to PCO failed: {}", describe_transport(&e)),
                )
            })?;
        let response = self
            .read(account, response, self.options.max_response_bytes)
            .await
            .map_err(|f| f.into_error(&account.endpoint.name, false))?;
        upload_id(&response.body)
    }
}

/// What a batch past its cap answers (issue 24 item 16).
fn batch_over(account: &str, cap: usize, what: &str) -> Error {
    Error::new(
        ErrorKind::Invalid,
        format!(
            "PCO account \"{account}\": the answers of this batch passed the host's cap of \
             {cap} bytes: {what}; ask for fewer or smaller answers in one batch"
        ),
    )
}

/// The person of `POST /people/v2/people/{id}/person_apps`.
fn granted_person(request: &Request) -> Option<&str> {
    let rest = request.path.strip_prefix("/people/v2/people/")?;
    let (person, tail) = rest.split_once('/')?;
    (request.method == Method::Post && tail == "person_apps").then_some(person)
}

/// The person of a `/services/v2/people/{id}[/...]` path.
fn services_person(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/services/v2/people/")?;
    rest.split('/').next().filter(|p| !p.is_empty())
}

/// Waits `wait`, and not at all for zero: tokio's timer rounds a deadline up to its next
/// millisecond, so `sleep(ZERO)` costs a request up to a millisecond for nothing (about 1 ms a
/// request on loopback: `cargo bench -p pcosync --bench perf_table`).
async fn pause(wait: Duration) {
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

/// PCO answers an upload with `{"data":[{"type":"File","id":"<upload id>",...}]}`.
fn upload_id(body: &[u8]) -> Result<String, Error> {
    let document: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
        Error::new(
            ErrorKind::Unavailable,
            "PCO answered an upload with something that is not JSON",
        )
    })?;
    let data = &document["data"];
    let first = if data.is_array() { &data[0] } else { data };
    first["id"].as_str().map(str::to_string).ok_or_else(|| {
        Error::new(
            ErrorKind::Unavailable,
            "PCO answered an upload without a file id",
        )
    })
}

/// How one attempt failed, before deciding whether to try again.
enum Failure {
    Transport {
        before_sending: bool,
        message: String,
    },
    Status {
        status: u16,
        detail: String,
    },
    RateLimited {
        retry_after: Duration,
        detail: String,
    },
    Malformed(String),
    /// The response was larger than the bytes allowed for it.
    TooLarge {
        limit: usize,
    },
    /// Refused by the host before sending.
    Refused(Error),
}

impl Failure {
    fn summary(&self) -> String {
        match self {
            Failure::Transport { message, .. } => message.clone(),
            Failure::Status { status, detail } => format!("{status} {detail}"),
            Failure::RateLimited { retry_after, .. } => format!("429, retry after {retry_after:?}"),
            Failure::Malformed(message) => message.clone(),
            Failure::TooLarge { limit } => format!("the response was larger than {limit} bytes"),
            Failure::Refused(error) => error.message.clone(),
        }
    }

    fn into_error(self, account: &str, repeatable: bool) -> Error {
        let uncertain = if repeatable {
            ""
        } else {
            " (the request may or may not have reached PCO)"
        };
        match self {
            Failure::Transport { message, .. } => Error::new(
                ErrorKind::Unavailable,
                format!("PCO account \"{account}\" could not be reached: {message}{uncertain}"),
            ),
            Failure::Malformed(message) => Error::new(
                ErrorKind::Unavailable,
                format!("PCO account \"{account}\": {message}"),
            ),
            Failure::TooLarge { limit } => Error::new(
                ErrorKind::Unavailable,
                format!(
                    "PCO account \"{account}\": the response was larger than {limit} bytes{uncertain}"
                ),
            ),
            Failure::Refused(error) => error,
            Failure::RateLimited { detail, .. } => Error::new(
                ErrorKind::RateLimited,
                format!("PCO account \"{account}\" kept answering 429 (rate limited): {detail}"),
            ),
            Failure::Status { status, detail } => {
                let kind = match status {
                    401 | 403 => ErrorKind::Unauthorized,
                    404 => ErrorKind::NotFound,
                    409 => ErrorKind::Conflict,
                    400 | 405 | 422 => ErrorKind::Invalid,
                    _ => ErrorKind::Unavailable,
                };
                let message = match (kind, status) {
                    // 403: the credentials are good, their user lacks a permission (issue
                    // 14.4; planningcenter/developers#113, #442).
                    (ErrorKind::Unauthorized, 403) => format!(
                        "PCO account \"{account}\": the token's user lacks the permission for this ({status}: {detail}); give that user the role in PCO (People Editor to write people; Services Administrator, or organization administrator, to change Services permissions), or use another user's token"
                    ),
                    // 401 with an error code hint: PCO says what it refused (issue 23). Only
                    // a 401 without one is about the app_id and secret themselves.
                    (ErrorKind::Unauthorized, _) => match hint_meaning(&detail) {
                        Some((hint, meaning, fix)) => format!(
                            "PCO account \"{account}\" answered {status}: {detail}; PCO's hint {hint} means: {meaning}; {fix}"
                        ),
                        None => format!(
                            "PCO refused the credentials of account \"{account}\" ({status}: {detail}); check its app_id and secret in the configuration"
                        ),
                    },
                    (ErrorKind::Unavailable, _) => {
                        format!("PCO account \"{account}\" answered {status}: {detail}{uncertain}")
                    }
                    _ => format!("PCO account \"{account}\" answered {status}: {detail}"),
                };
                Error::new(kind, message)
            }
        }
    }
}

/// The "Error Code Hint: (NAME)" PCO puts in a 401's detail ("This request could not be
/// authenticated. Error Code Hint: (TRASH_PANDA)", planningcenter/developers#1059, #1187), with
/// what PCO's error page says it means (docs /overview/errors, shared/fidelity/pco/schema.json
/// `rules.errors.error_hints`) and what to do about it.
fn hint_meaning(detail: &str) -> Option<(&'static str, &'static str, &'static str)> {
    const HINTS: &[(&str, &str, &str)] = &[
        (
            "TRASH_PANDA",
            "the authenticated person does not have access to the requested application",
            "the app_id and secret are good: give the token's user access to that Planning Center product (People, or Services), or use another user's token",
        ),
        (
            "FLAMINGO",
            "the authenticated user does not exist",
            "make a personal access token of a user who exists in this organization",
        ),
        (
            "LEMMING",
            "the authenticated organization does not exist",
            "make a personal access token in the organization to sync",
        ),
        (
            "CHINCHILLA",
            "the client application was not found or is invalid",
            "check the account's app_id and secret in the configuration",
        ),
        (
            "PELICAN",
            "the provided OAuth token does not have a required scope",
            "authorize the app again with the People and Services scopes",
        ),
        (
            "BABOON",
            "the provided OAuth access token is expired",
            "authorize the app again",
        ),
        (
            "CAPUCHIN",
            "the provided OAuth access token has been revoked",
            "authorize the app again",
        ),
    ];
    let upper = detail.to_ascii_uppercase();
    HINTS
        .iter()
        .find(|(hint, ..)| {
            upper.contains(&format!("({hint})")) || upper.contains(&format!("HINT: {hint}"))
        })
        .copied()
}

/// Most characters of PCO's error details kept in an error's message (issue 24 item 16): an
/// error body may be as large as any answer, and its message is held, logged and stored.
const MAX_DETAIL_CHARS: usize = 1000;

/// PCO's JSON:API `errors` array, as one line; or the start of a body that isn't one. At most
/// [`MAX_DETAIL_CHARS`] characters, and then an ellipsis.
fn error_detail(body: &[u8]) -> String {
    let detail = full_error_detail(body);
    match detail.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((end, _)) => format!("{}…", &detail[..end]),
        None => detail,
    }
}

fn full_error_detail(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let details: Vec<String> = parsed
        .as_ref()
        .and_then(|doc| doc["errors"].as_array())
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    let text = |key: &str| e[key].as_str().unwrap_or_default().to_string();
                    let parameter = e["source"]["parameter"]
                        .as_str()
                        .map(|p| format!(" ({p})"))
                        .unwrap_or_default();
                    match (text("title"), text("detail")) {
                        (title, detail) if detail.is_empty() => format!("{title}{parameter}"),
                        (title, detail) if title.is_empty() => format!("{detail}{parameter}"),
                        (title, detail) => format!("{title}: {detail}{parameter}"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    if !details.is_empty() {
        return details.join("; ");
    }
    let text = String::from_utf8_lossy(body);
    let text: String = text.chars().take(200).collect();
    if text.trim().is_empty() {
        "no details".into()
    } else {
        text
    }
}

fn describe_transport(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "the request timed out".into()
    } else if error.is_connect() {
        "the connection failed".into()
    } else {
        // reqwest's message names the URL (never the Authorization header); its query values
        // can be personal data (an email searched for), so only their names are kept (R53).
        let message = error.to_string();
        match error.url() {
            Some(url) => message.replace(url.as_str(), &redacted_url(url)),
            None => message,
        }
    }
}

/// `url` with each query value replaced by `…`: the names say what was asked, the values (an
/// email searched for, a name) may be personal data (R53).
pub fn redacted_url(url: &Url) -> String {
    let names: Vec<String> = url
        .query_pairs()
        .map(|(name, _)| format!("{name}=…"))
        .collect();
    let mut bare = url.clone();
    bare.set_query(None);
    bare.set_fragment(None);
    if names.is_empty() {
        return bare.to_string();
    }
    format!("{bare}?{}", names.join("&"))
}

fn guest_headers(headers: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if !GUEST_HEADERS.contains(&lower.as_str()) {
            tracing::debug!("dropping header {name} set by the guest");
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(lower.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.insert(name, value);
        }
    }
    map
}

fn http_method(method: Method) -> reqwest::Method {
    match method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Patch => reqwest::Method::PATCH,
        Method::Put => reqwest::Method::PUT,
        Method::Delete => reqwest::Method::DELETE,
    }
}

/// Real TLS to Planning Center; plain HTTP only to a sandbox on this machine.
fn check_transport(account: &str, url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        scheme => Err(format!(
            "account {account}: {url} uses {scheme}; only https is allowed (plain http only to a loopback sandbox)"
        )),
    }
}

/// Whether `url` points at this machine: the only place plain HTTP is allowed.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    }
}

/// The full URL of a guest's relative path, refused unless it stays under the account's API
/// root: no absolute URLs, no other host or scheme, no `..`, no smuggled query or fragment.
pub fn resolve(base: &Url, path: &str, query: &[(String, String)]) -> Result<Url, Error> {
    let refuse = |why: &str| {
        Error::new(
            ErrorKind::Invalid,
            format!("refused PCO path `{path}`: {why}"),
        )
    };
    if !path.starts_with('/') || path.starts_with("//") {
        return Err(refuse("it must be a path starting with a single `/`"));
    }
    if path.contains(['?', '#', '\\']) || path.chars().any(char::is_control) {
        return Err(refuse(
            "it may not hold `?`, `#`, `\\` or control characters",
        ));
    }
    let decoded = percent_decode(path).to_ascii_lowercase();
    if decoded
        .split('/')
        .any(|segment| segment == ".." || segment == ".")
    {
        return Err(refuse("it may not climb out with `..`"));
    }
    let root = base.path().trim_end_matches('/');
    let mut url = base.clone();
    url.set_path(&format!("{root}{path}"));
    url.set_query(None);
    url.set_fragment(None);
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    if url.origin() != base.origin() || !url.path().starts_with(root) {
        return Err(refuse("it leaves the account's API"));
    }
    Ok(url)
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// R53: a transport error names what was asked, never the values searched for.
    #[tokio::test]
    async fn a_transport_error_carries_no_query_value() {
        use tokio::io::AsyncWriteExt;
        // A server that answers with something that is not HTTP.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let _ = socket.write_all(b"\x00\x01 not http\r\n\r\n").await;
            }
        });
        let base = Url::parse(&format!("http://{address}")).unwrap();
        let pco = HttpPco::new(
            vec![Endpoint {
                name: "Main".into(),
                base_url: base.clone(),
                upload_url: base,
                app_id: "app".into(),
                secret: Secret::new("secret"),
            }],
            HttpOptions {
                attempts: 1,
                backoff_base: Duration::from_millis(1),
                ..HttpOptions::default()
            },
        )
        .unwrap();
        let request = Request {
            method: Method::Get,
            path: "/people/v2/people".into(),
            query: vec![(
                "where[search_name_or_email]".into(),
                "ada@example.org".into(),
            )],
            headers: vec![],
            body: None,
        };
        let error = pco.send("Main", &request).await.unwrap_err();
        assert!(!error.message.contains("ada"), "{}", error.message);
        assert!(!error.message.contains("example.org"), "{}", error.message);
    }

    #[test]
    fn a_redacted_url_keeps_the_names_of_its_query_only() {
        let url = Url::parse(
            "https://api.example/people/v2/people?where%5Bsearch_name_or_email%5D=ada%40example.org&per_page=100",
        )
        .unwrap();
        assert_eq!(
            redacted_url(&url),
            "https://api.example/people/v2/people?where[search_name_or_email]=…&per_page=…"
        );
    }

    fn base() -> Url {
        Url::parse("https://api.planningcenteronline.com").unwrap()
    }

    #[test]
    fn resolves_relative_paths_with_their_query() {
        let url = resolve(
            &base(),
            "/people/v2/people",
            &[(
                "where[updated_at][gte]".into(),
                "2026-01-01T00:00:00Z".into(),
            )],
        )
        .unwrap();
        assert_eq!(url.host_str(), Some("api.planningcenteronline.com"));
        assert_eq!(url.path(), "/people/v2/people");
        assert!(
            url.query()
                .unwrap()
                .starts_with("where%5Bupdated_at%5D%5Bgte%5D=")
        );
    }

    #[test]
    fn refuses_paths_that_leave_the_account_api() {
        for path in [
            "https://evil.example/people",
            "//evil.example/people",
            "people/v2/people",
            "/people/../../etc",
            "/people/%2e%2e/x",
            "/people/%2E%2E/x",
            "/people?admin=1",
            "/people#x",
            "/people\\..\\x",
            "",
        ] {
            let error = resolve(&base(), path, &[]).unwrap_err();
            assert_eq!(error.kind, ErrorKind::Invalid, "{path}");
            assert!(
                error.message.contains("refused PCO path"),
                "{path}: {}",
                error.message
            );
        }
    }

    #[test]
    fn keeps_a_base_path_prefix() {
        let base = Url::parse("http://127.0.0.1:8080/pco").unwrap();
        assert_eq!(
            resolve(&base, "/people/v2/people", &[]).unwrap().path(),
            "/pco/people/v2/people"
        );
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(check_transport("a", &Url::parse("http://127.0.0.1:1/").unwrap()).is_ok());
        assert!(check_transport("a", &Url::parse("http://localhost:1/").unwrap()).is_ok());
        assert!(check_transport("a", &Url::parse("http://[::1]:1/").unwrap()).is_ok());
        let error = check_transport(
            "a",
            &Url::parse("http://api.planningcenteronline.com/").unwrap(),
        )
        .unwrap_err();
        assert!(error.contains("only https"), "{error}");
    }

    /// Issue 24 item 16 (R53): PCO's error details, however large the error body, are kept
    /// to at most 1,000 characters in a message.
    #[test]
    fn error_details_are_capped_issue_24_item_16() {
        let errors: Vec<serde_json::Value> = (0..5000)
            .map(|i| serde_json::json!({"title": "Invalid", "detail": format!("détail {i}")}))
            .collect();
        let body = serde_json::to_vec(&serde_json::json!({ "errors": errors })).unwrap();
        let detail = error_detail(&body);
        assert_eq!(detail.chars().count(), MAX_DETAIL_CHARS + 1, "{detail}");
        assert!(detail.starts_with("Invalid: détail 0; Invalid: détail 1"));
        assert!(detail.ends_with('…'));
        let text = "é".repeat(10_000);
        assert_eq!(
            error_detail(text.as_bytes()).chars().count(),
            200,
            "a body that is not a document keeps its start"
        );
        let failure = Failure::Status {
            status: 422,
            detail: error_detail(&body),
        };
        assert!(failure.into_error("Main", false).message.len() < 4 * MAX_DETAIL_CHARS);
    }

    #[test]
    fn reads_pco_error_documents() {
        let body = br#"{"errors":[{"status":"422","title":"Validation Error","detail":"must be a valid email","source":{"parameter":"address"}}]}"#;
        assert_eq!(
            error_detail(body),
            "Validation Error: must be a valid email (address)"
        );
        assert_eq!(error_detail(b"<html>oops</html>"), "<html>oops</html>");
        assert_eq!(error_detail(b""), "no details");
    }

    #[test]
    fn statuses_map_to_error_kinds() {
        let kind = |status| {
            Failure::Status {
                status,
                detail: "x".into(),
            }
            .into_error("Main", true)
            .kind
        };
        assert_eq!(kind(401), ErrorKind::Unauthorized);
        assert_eq!(kind(403), ErrorKind::Unauthorized);
        assert_eq!(kind(404), ErrorKind::NotFound);
        assert_eq!(kind(409), ErrorKind::Conflict);
        assert_eq!(kind(422), ErrorKind::Invalid);
        assert_eq!(kind(503), ErrorKind::Unavailable);
        let unauthorized = Failure::Status {
            status: 401,
            detail: "x".into(),
        }
        .into_error("Main", true);
        assert!(unauthorized.message.contains("account \"Main\""));
        assert!(unauthorized.message.contains("app_id and secret"));
    }

    // Issue 23: a 401 carrying PCO's TRASH_PANDA hint (planningcenter/developers#1059, #1187)
    // says what PCO says (the user has no access to that product), not "check app_id and
    // secret".
    #[test]
    fn a_401_with_a_hint_says_what_pco_says() {
        let body = br#"{"errors":[{"code":"unauthorized","title":"Unauthorized","status":"401","detail":"This request could not be authenticated. Error Code Hint: (TRASH_PANDA)"}]}"#;
        let error = Failure::Status {
            status: 401,
            detail: error_detail(body),
        }
        .into_error("Main", true);
        assert_eq!(error.kind, ErrorKind::Unauthorized);
        assert!(error.message.contains("TRASH_PANDA"), "{}", error.message);
        assert!(
            error
                .message
                .contains("does not have access to the requested application"),
            "{}",
            error.message
        );
        assert!(
            !error.message.contains("check its app_id"),
            "{}",
            error.message
        );
    }
}
