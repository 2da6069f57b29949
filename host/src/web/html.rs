//! The pages' frame (header, navigation, messages), the sign-in and error pages, the style
//! sheet and the script, and small helpers. `maud` escapes every value it is given.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::auth::{Flash, FlashKind, Sess};
use crate::ops::{Collected, LineKind};

const STYLESHEET: &str = include_str!("static/app.css");
const SCRIPT: &str = include_str!("static/app.js");

pub(crate) async fn stylesheet() -> Response {
    asset(STYLESHEET, "text/css; charset=utf-8")
}

pub(crate) async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    response
}

/// A path segment, percent-encoded (account names hold spaces).
pub(crate) fn enc(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A query value, percent-encoded.
pub(crate) fn qenc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `/accounts/NAME` followed by `rest`.
pub(crate) fn account_url(account: &str, rest: &str) -> String {
    format!("/accounts/{}{rest}", enc(account))
}

/// Which part of the site a page belongs to, for the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Accounts,
    Overview,
    Settings,
    Tags,
    GroupTypes,
    Import,
    Runs,
    Job,
}

/// What the frame of a page needs.
pub(crate) struct Layout<'a> {
    pub title: String,
    pub sess: &'a Sess,
    pub flash: Vec<Flash>,
    /// The account the page is about, for its navigation.
    pub account: Option<&'a str>,
    pub section: Section,
    /// Reload every two seconds when scripts are off (a running job).
    pub auto_refresh: bool,
}

/// The hidden CSRF field every changing form carries.
pub(crate) fn csrf(sess: &Sess) -> Markup {
    html! { input type="hidden" name="csrf" value=(sess.csrf); }
}

/// A small form with one button that posts to `action`.
pub(crate) fn post_button(sess: &Sess, action: &str, label: &str, class: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf(sess))
            button type="submit" class=(class) { (label) }
        }
    }
}

fn flash_list(flash: &[Flash]) -> Markup {
    html! {
        @for item in flash {
            @match item.kind {
                FlashKind::Info => div.flash.info role="status" { (item.text) },
                FlashKind::Warn => div.flash.warn role="status" { (item.text) },
                FlashKind::Error => div.flash.error role="alert" { (item.text) },
            }
        }
    }
}

fn head(title: &str, auto_refresh: bool) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · pcosync" }
            link rel="stylesheet" href="/static/app.css";
            script src="/static/app.js" defer {}
            @if auto_refresh {
                noscript { meta http-equiv="refresh" content="2"; }
            }
        }
    }
}

/// A whole page in the frame.
pub(crate) fn page(layout: Layout<'_>, body: Markup) -> Response {
    let nav_item = |href: String, label: &str, here: bool| {
        html! {
            li {
                @if here {
                    a href=(href) aria-current="page" { (label) }
                } @else {
                    a href=(href) { (label) }
                }
            }
        }
    };
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(&layout.title, layout.auto_refresh))
            body {
                a.skip href="#main" { "Skip to the content" }
                header.top {
                    a.brand href="/accounts" { "pcosync" }
                    nav aria-label="Main" {
                        ul {
                            (nav_item("/accounts".into(), "Accounts", layout.section == Section::Accounts))
                        }
                    }
                    form.inline.logout method="post" action="/logout" {
                        (csrf(layout.sess))
                        button.link type="submit" { "Sign out" }
                    }
                }
                @if let Some(account) = layout.account {
                    nav.account aria-label=(format!("Account {account}")) {
                        span.account-name { (account) }
                        ul {
                            (nav_item(account_url(account, ""), "Overview", layout.section == Section::Overview))
                            (nav_item(account_url(account, "/runs"), "Runs", layout.section == Section::Runs))
                            (nav_item(account_url(account, "/import"), "Import", layout.section == Section::Import))
                            (nav_item(account_url(account, "/tags"), "Tags", layout.section == Section::Tags))
                            (nav_item(account_url(account, "/group-types"), "Group types", layout.section == Section::GroupTypes))
                            (nav_item(account_url(account, "/settings"), "Settings", layout.section == Section::Settings))
                        }
                    }
                }
                main #main {
                    h1 { (layout.title) }
                    (flash_list(&layout.flash))
                    (body)
                }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

/// The sign-in page: the form carries `form_value`, which must come back with its cookie.
pub(crate) fn login_page(form_value: &str, next: &str, error: Option<&str>) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head("Sign in", false))
            body.login {
                main #main {
                    h1 { "pcosync" }
                    p { "Sign in with the admin token of this pcosync (" code { "[web] admin_token" } " in its configuration)." }
                    @if let Some(error) = error {
                        div.flash.error role="alert" { (error) }
                    }
                    form method="post" action="/login" {
                        input type="hidden" name="csrf" value=(form_value);
                        input type="hidden" name="next" value=(next);
                        label for="token" { "Admin token" }
                        input #token type="password" name="token" autocomplete="current-password" required autofocus;
                        button type="submit" { "Sign in" }
                    }
                }
            }
        }
    };
    Html(markup.into_string())
}

/// A page that says what went wrong (no form: it may be shown without a session).
pub(crate) fn error_page(status: StatusCode, message: &str) -> Html<String> {
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::UNAUTHORIZED => "Not signed in",
        StatusCode::FORBIDDEN => "Refused",
        StatusCode::BAD_REQUEST => "Not understood",
        StatusCode::CONFLICT => "Busy",
        _ => "Something went wrong",
    };
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, false))
            body {
                header.top { a.brand href="/accounts" { "pcosync" } }
                main #main {
                    h1 { (title) }
                    div.flash.error role="alert" { pre.message { (message) } }
                    p { a href="/accounts" { "Back to the accounts" } }
                }
            }
        }
    };
    Html(markup.into_string())
}

/// The messages of an operation as the next page's messages: its result lines, its notes as
/// warnings; the file's changed lines and the command line's next steps are left out, and a
/// change of a secret's reference is said without the reference.
pub(crate) fn flashes_of(collected: &Collected) -> Vec<Flash> {
    collected
        .lines()
        .into_iter()
        .filter_map(|(kind, line)| {
            let text = line.trim();
            // The template listing of an account check is on the settings page itself.
            let listing = line.starts_with("    ")
                || line.starts_with("  * ")
                || line.starts_with("Email templates of account");
            if kind == LineKind::Detail || listing || text.is_empty() || text.starts_with("Next:") {
                return None;
            }
            let text = if ["secret =", "token =", "admin_token ="]
                .iter()
                .any(|key| text.contains(key))
            {
                "The secret's reference was changed.".to_string()
            } else {
                text.strip_prefix("note: ").unwrap_or(text).to_string()
            };
            Some(Flash {
                kind: match kind {
                    LineKind::Warn => FlashKind::Warn,
                    _ => FlashKind::Info,
                },
                text,
            })
        })
        .collect()
}

/// A `<progress>` with its text, updated live by the script.
pub(crate) fn progress(done: u64, total: Option<u64>, text: &str) -> Markup {
    html! {
        div.progress {
            @match total {
                Some(total) => progress #job-progress max=(total.max(1)) value=(done.min(total)) aria-labelledby="job-progress-text" { (done) " of " (total) },
                None => progress #job-progress aria-labelledby="job-progress-text" {},
            }
            p #job-progress-text aria-live="polite" { (text) }
        }
    }
}

/// A non-breaking placeholder for empty cells.
pub(crate) fn dash() -> Markup {
    PreEscaped("&ndash;".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(enc("Main Campus"), "Main%20Campus");
        assert_eq!(enc("a/b?c#d"), "a%2Fb%3Fc%23d");
        assert_eq!(enc("Zoë"), "Zo%C3%AB");
        assert_eq!(
            account_url("Main Campus", "/runs"),
            "/accounts/Main%20Campus/runs"
        );
    }

    #[test]
    fn values_are_escaped() {
        let markup = html! { p { ("<script>alert(1)</script>") } };
        assert_eq!(
            markup.into_string(),
            "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
        );
    }

    #[test]
    fn operation_messages_leave_out_references_and_details() {
        use crate::ops::Out;
        let collected = Collected::default();
        collected
            .say("account \"Main\": secret = { env = \"PCO_SECRET\" } (was { file = \"/x\" })");
        collected.say("account \"Main\": allow_downgrade = true");
        collected.warn("note: the tag was not checked against PCO (down)");
        collected.detail("updated /etc/pcosync.toml:");
        collected.say("Next: map tags");
        collected.say("Email templates of account \"Main\" in PCO:");
        collected.say("  * Welcome   (its welcome email)");
        let flashes = flashes_of(&collected);
        let texts: Vec<&str> = flashes.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "The secret's reference was changed.",
                "account \"Main\": allow_downgrade = true",
                "the tag was not checked against PCO (down)"
            ]
        );
        assert_eq!(flashes[2].kind, FlashKind::Warn);
    }
}
