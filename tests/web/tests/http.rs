//! The web admin's security over plain HTTP (no browser): every request needs a session,
//! every change its CSRF token, requests for another host are refused, and no secret ever
//! reaches the browser. The Rock and PCO sandboxes run in this process, as does the server.

use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pcosync_web_tests::{ADMIN_TOKEN, Page, Setup, Web, World, cookie_pair};

async fn world() -> World {
    World::start(Setup {
        people: 40,
        seed: 11,
        only_groups_in_rock: false,
        with_account: true,
        compiled: PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
    })
    .await
}

/// `/accounts/Main%20Campus` and the like.
fn account_path(world: &World, rest: &str) -> String {
    format!("/accounts/{}{rest}", world.account.replace(' ', "%20"))
}

/// Every route that changes something, with fields that would do it.
fn changes(world: &World) -> Vec<(String, Vec<(&'static str, String)>)> {
    let (tag, group, _) = world.tagged_group();
    let a = |rest: &str| account_path(world, rest);
    vec![
        (
            "/accounts".into(),
            vec![
                ("name", "North".into()),
                ("app_id", "abc".into()),
                ("secret_kind", "env".into()),
                ("secret_ref", "NORTH_SECRET".into()),
            ],
        ),
        (a("/settings"), vec![("brake_percent", "50".into())]),
        (a("/remove"), vec![]),
        (
            a("/tags/map"),
            vec![("tag", tag.clone()), ("group_id", group.to_string())],
        ),
        (a("/tags/unmap"), vec![("tag", tag)]),
        (
            a("/group-types/enable"),
            vec![("type", "Small Group".into())],
        ),
        (
            a("/group-types/disable"),
            vec![("type", "Serving Team".into())],
        ),
        (a("/refresh"), vec![]),
        (a("/people/1/link"), vec![("pco_id", "1".into())]),
        (a("/delete"), vec![("pco_id", "1".into())]),
        (a("/delete/confirm"), vec![("pco_id", "1".into())]),
        (a("/sync"), vec![("mode", "sync".into())]),
        (a("/import"), vec![("mode", "run".into())]),
        (a("/import/settings"), vec![("viewer", "1".into())]),
        (a("/runs/x/revert"), vec![("step", "apply".into())]),
        ("/jobs/x/stop".into(), vec![]),
        ("/logout".into(), vec![]),
    ]
}

/// Nothing was written to PCO (no create, update or delete reached it).
fn pco_untouched(world: &World) {
    let writes: Vec<String> = world
        .pco
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "PCO was written to: {writes:?}");
}

// Without a session: every page answers 401 with the sign-in form (and none of its data),
// every change 401, and nothing is changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_session_are_refused() {
    let w = world().await;
    let config = w.config();
    let anonymous = Web::new(&w.base);
    let mut forged = Web::new(&w.base);
    forged.cookie = Some(format!("pcosync_session={}", "ab".repeat(32)));
    let app_id = w.main_account().app_id;
    for path in [
        "/".to_string(),
        "/accounts".into(),
        "/accounts/new".into(),
        account_path(&w, ""),
        account_path(&w, "/settings"),
        account_path(&w, "/tags"),
        account_path(&w, "/group-types"),
        account_path(&w, "/import"),
        account_path(&w, "/runs"),
        account_path(&w, "/runs/20260101-000000-abcd"),
        account_path(&w, "/people/1"),
        "/jobs/abc".into(),
        "/jobs/abc/progress".into(),
    ] {
        for client in [&anonymous, &forged] {
            let page = client.get(&path).await;
            assert_eq!(page.status, 401, "GET {path}: {}", page.body);
            assert!(
                page.body.contains("name=\"token\""),
                "GET {path}: no sign-in form"
            );
            assert!(!page.body.contains(&app_id), "GET {path} shows the account");
            assert!(cookie_pair(&page.cookies(), "pcosync_session").is_none());
        }
    }
    for (path, fields) in changes(&w) {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for client in [&anonymous, &forged] {
            let page = client.post(&path, &fields).await;
            assert_eq!(page.status, 401, "POST {path}: {}", page.body);
        }
    }
    assert_eq!(w.config(), config, "the configuration was changed");
    pco_untouched(&w);
    assert!(
        !w.data_dir().join("state.sqlite").exists(),
        "the state was opened"
    );
}

// The sign-in form needs the admin token and its own cookie; the session cookie is HttpOnly,
// SameSite=Strict, Secure behind https; signing out ends the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_needs_the_token_and_gives_a_strict_cookie() {
    let w = world().await;
    let mut web = Web::new(&w.base);
    let form = web.get("/login").await;
    let value = form.field("csrf").unwrap();
    let login_cookie = cookie_pair(&form.cookies(), "pcosync_login").unwrap();
    // Without the form's cookie (a form posted from another site): refused.
    let page = web
        .post("/login", &[("csrf", &value), ("token", ADMIN_TOKEN)])
        .await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(cookie_pair(&page.cookies(), "pcosync_session").is_none());
    web.cookie = Some(login_cookie.clone());
    // A wrong token: refused, after a pause.
    let started = Instant::now();
    let page = web
        .post(
            "/login",
            &[("csrf", &value), ("token", "not-the-admin-token")],
        )
        .await;
    assert_eq!(page.status, 401);
    assert!(page.body.contains("not the admin token"), "{}", page.body);
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(cookie_pair(&page.cookies(), "pcosync_session").is_none());
    // The right one: a session cookie, HttpOnly and SameSite=Strict, not Secure over http.
    let page = web
        .post(
            "/login",
            &[
                ("csrf", &value),
                ("token", ADMIN_TOKEN),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location().as_deref(), Some("/accounts"));
    let set = page
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("pcosync_session="))
        .expect("a session cookie");
    assert!(
        set.contains("; HttpOnly") && set.contains("; SameSite=Strict") && set.contains("; Path=/"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "{set}");
    let id = set
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("pcosync_session=");
    assert_eq!(id.len(), 64, "a 256-bit random session id");
    // Behind a TLS proxy the cookie is Secure.
    let behind = web
        .send(
            web.builder(reqwest::Method::POST, "/login")
                .header("x-forwarded-proto", "https")
                .form(&[("csrf", value.as_str()), ("token", ADMIN_TOKEN)]),
        )
        .await;
    assert!(
        behind
            .cookies()
            .iter()
            .any(|c| c.starts_with("pcosync_session=") && c.contains("; Secure")),
        "{:?}",
        behind.cookies()
    );
    // Signed in; then signed out, the same cookie no longer works.
    web.cookie = Some(format!("pcosync_session={id}"));
    let accounts = web.get("/accounts").await;
    assert_eq!(accounts.status, 200);
    assert!(accounts.body.contains(&w.account));
    let csrf = accounts.field("csrf").unwrap();
    let out = web.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert_eq!(web.get("/accounts").await.status, 401);
}

// A change without the session's CSRF token, with a wrong one, or from another origin is
// refused with 403 and does nothing; the same change with the token is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_without_the_csrf_token_are_refused() {
    let w = world().await;
    let config = w.config();
    let web = Web::login(&w.base).await;
    let csrf = web.csrf().await;
    assert_eq!(csrf.len(), 64);
    for (path, fields) in changes(&w) {
        let mut fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = web.post(&path, &fields).await;
        assert_eq!(
            page.status, 403,
            "POST {path} without a token: {}",
            page.body
        );
        assert!(page.body.contains("CSRF"), "{}", page.body);
        fields.push((
            "csrf",
            "0000000000000000000000000000000000000000000000000000000000000000",
        ));
        let page = web.post(&path, &fields).await;
        assert_eq!(page.status, 403, "POST {path} with a wrong token");
        fields.pop();
        fields.push(("csrf", &csrf));
        let page = web
            .send(
                web.builder(reqwest::Method::POST, &path)
                    .header("origin", "http://evil.example")
                    .form(&fields),
            )
            .await;
        assert_eq!(page.status, 403, "POST {path} from another origin");
    }
    // A change is never made by GET.
    let page = web.get(&account_path(&w, "/sync")).await;
    assert_eq!(page.status, 405);
    assert_eq!(w.config(), config, "the configuration was changed");
    pco_untouched(&w);
    // The session still works, and with its token the same change is made (what refused the
    // others was the token, not the change).
    let page = web
        .post(
            &account_path(&w, "/group-types/enable"),
            &[("csrf", &csrf), ("type", "Small Group")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(w.config().contains("\"Small Group\""), "{}", w.config());
    // The token also works as a header (for scripts).
    let page = web
        .send(
            web.builder(
                reqwest::Method::POST,
                &account_path(&w, "/group-types/disable"),
            )
            .header("x-csrf-token", &csrf)
            .form(&[("type", "Small Group")]),
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(!w.config().contains("\"Small Group\""), "{}", w.config());
}

// Requests naming another host are refused (DNS rebinding), and every answer carries the
// security headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_hosts_are_refused_and_pages_carry_security_headers() {
    let w = world().await;
    let web = Web::new(&w.base);
    let page = web
        .send(
            web.builder(reqwest::Method::GET, "/login")
                .header("host", "evil.example"),
        )
        .await;
    assert_eq!(page.status, 421);
    let page = web
        .send(
            web.builder(reqwest::Method::GET, "/login")
                .header("host", "localhost:1"),
        )
        .await;
    assert_eq!(page.status, 200);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    assert!(!page.body.contains("<script>"), "inline script on the page");
}

// Issue 16 item 7: served beyond loopback (`--allow-remote`, behind a proxy), the web admin
// answers only requests naming a host of `[web] allowed_hosts` or loopback; any other name, a
// rebinding attacker's included, is refused before any page is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_allow_remote_only_the_allowed_hosts_are_served() {
    let w = world().await;
    let text = w.config().replace(
        "[web]\n",
        "[web]\nallowed_hosts = [\"admin.example.org\"]\n",
    );
    assert!(
        text.contains("allowed_hosts"),
        "precondition: a [web] table"
    );
    std::fs::write(w.config_path(), text).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let options = pcosync::web::WebOptions {
        config_path: w.config_path(),
        data_dir: w.data_dir(),
        admin_token: pcosync::secret::Secret::new(pcosync_web_tests::ADMIN_TOKEN),
        allow_remote: true,
    };
    tokio::spawn(pcosync::web::serve(
        listener,
        options,
        std::future::pending(),
    ));
    let web = Web::new(&base);
    let status = |host: &'static str| {
        let web = &web;
        async move {
            web.send(
                web.builder(reqwest::Method::GET, "/login")
                    .header("host", host),
            )
            .await
            .status
        }
    };
    for (host, expected) in [
        ("admin.example.org", 200),
        ("ADMIN.example.org:443", 200),
        ("localhost:8080", 200),
        ("127.0.0.1", 200),
        ("evil.example", 421),
        ("admin.example.org.evil.example", 421),
        ("example.org", 421),
    ] {
        assert_eq!(status(host).await, expected, "Host: {host}");
    }
}

/// The sign-in form of a fresh client: the client (with the form's cookie) and the form value.
async fn sign_in_form(w: &World) -> (Web, String) {
    sign_in_form_from(w, None).await
}

/// [`sign_in_form`] of a client connecting from `address`.
async fn sign_in_form_from(w: &World, address: Option<std::net::IpAddr>) -> (Web, String) {
    let mut web = Web::from_address(&w.base, address);
    let form = web.get("/login").await;
    let value = form.field("csrf").unwrap();
    web.cookie = Some(cookie_pair(&form.cookies(), "pcosync_login").unwrap());
    (web, value)
}

// After signing in, only a path of this site is followed: nothing a browser would read as
// another origin (a tab it drops, a backslash it reads as a slash, their encodings).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_follows_only_paths_of_this_site() {
    let w = world().await;
    for next in [
        "/%09/evil.example",
        "/\t/evil.example",
        "/\\evil.example",
        "/%5Cevil.example",
        "/%2F%2Fevil.example",
        "//evil.example",
    ] {
        let (web, value) = sign_in_form(&w).await;
        let page = web
            .post(
                "/login",
                &[("csrf", &value), ("token", ADMIN_TOKEN), ("next", next)],
            )
            .await;
        assert_eq!(page.status, 303, "{next:?}: {}", page.body);
        assert_eq!(page.location().as_deref(), Some("/accounts"), "{next:?}");
    }
    let (web, value) = sign_in_form(&w).await;
    let wanted = account_path(&w, "/runs");
    let page = web
        .post(
            "/login",
            &[("csrf", &value), ("token", ADMIN_TOKEN), ("next", &wanted)],
        )
        .await;
    assert_eq!(page.location(), Some(wanted));
}

// Failed sign-ins are counted per client address (issue 24 item 19; R31's admin pages): many
// guesses from one address close the sign-in from there, the right token included, for a
// while; staff signing in from another address are not locked out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_throttled_per_address_issue_24_item_19() {
    let w = world().await;
    let guesser: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let staff: std::net::IpAddr = "127.0.0.3".parse().unwrap();
    let mut guesses = Vec::new();
    for guess in 0..10 {
        let (web, value) = sign_in_form_from(&w, Some(guesser)).await;
        guesses.push(tokio::spawn(async move {
            let token = format!("a-wrong-admin-token-{guess}");
            web.post("/login", &[("csrf", &value), ("token", &token)])
                .await
                .status
        }));
    }
    for guess in guesses {
        assert_eq!(guess.await.unwrap(), 401);
    }
    let (web, value) = sign_in_form_from(&w, Some(guesser)).await;
    let page = web
        .post("/login", &[("csrf", &value), ("token", ADMIN_TOKEN)])
        .await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(
        page.body.contains("Too many failed sign-ins"),
        "{}",
        page.body
    );
    assert!(cookie_pair(&page.cookies(), "pcosync_session").is_none());

    let (web, value) = sign_in_form_from(&w, Some(staff)).await;
    let page = web
        .post("/login", &[("csrf", &value), ("token", ADMIN_TOKEN)])
        .await;
    assert_eq!(
        page.status, 303,
        "staff at another address sign in: {}",
        page.body
    );
    assert!(cookie_pair(&page.cookies(), "pcosync_session").is_some());
}

// A new admin token in the configuration signs everyone out, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_token_signs_everyone_out() {
    let w = world().await;
    let web = Web::login(&w.base).await;
    assert_eq!(web.get("/accounts").await.status, 200);
    let rotated = "a-rotated-admin-token-0123456789";
    w.secret_file("admin.token", rotated);
    assert_eq!(web.get("/accounts").await.status, 401);
    let (web, value) = sign_in_form(&w).await;
    let page = web
        .post("/login", &[("csrf", &value), ("token", ADMIN_TOKEN)])
        .await;
    assert_eq!(page.status, 401, "the old token no longer signs in");
    let (web, value) = sign_in_form(&w).await;
    let page = web
        .post("/login", &[("csrf", &value), ("token", rotated)])
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
}

async fn wait_for_job(web: &Web, location: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let page = web.get(&format!("{location}/progress")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let progress: serde_json::Value = serde_json::from_str(&page.body).unwrap();
        if progress["state"] != "running" {
            return progress;
        }
        assert!(Instant::now() < deadline, "the job never finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn assert_no_secret(w: &World, what: &str, page: &Page, references: &[String]) {
    let all = page.everything();
    for secret in w.secrets() {
        assert!(!all.contains(&secret), "a secret is in {what}");
    }
    for reference in references {
        assert!(
            !all.contains(reference.as_str()),
            "the secret reference {reference} is in {what}"
        );
    }
}

/// The links of a page to other pages of the site.
fn links(body: &str) -> Vec<String> {
    body.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|href| href.replace("&amp;", "&"))
        .map(|href| href.split('#').next().unwrap_or_default().to_string())
        .filter(|href| {
            href.starts_with('/') && !href.starts_with("//") && !href.starts_with("/static")
        })
        .collect()
}

// No secret (the admin token, Rock's key, any PCO secret) and no secret's reference reaches
// the browser: every page a signed-in administrator can reach, after a sync, and the pages
// that answer a form (a delete's preview, a revert's preview, a refused account).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_any_page() {
    let w = world().await;
    let web = Web::login(&w.base).await;
    let csrf = web.csrf().await;
    let references: Vec<String> = vec![
        w.dir
            .path()
            .join("secrets/pco.secret")
            .display()
            .to_string(),
        w.dir
            .path()
            .join("secrets/admin.token")
            .display()
            .to_string(),
        w.dir
            .path()
            .join("secrets/rock.token")
            .display()
            .to_string(),
    ];
    // A sync, so that the people, runs and writes pages have something to show.
    let started = web
        .post(
            &account_path(&w, "/sync"),
            &[("csrf", &csrf), ("mode", "sync")],
        )
        .await;
    assert_eq!(started.status, 303, "{}", started.body);
    let job = started.location().unwrap();
    assert!(job.starts_with("/jobs/"), "{job}");
    let progress = wait_for_job(&web, &job).await;
    assert_eq!(progress["state"], "finished", "{progress}");
    // Every page reachable by a link.
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from(["/accounts".to_string(), job.clone()]);
    while let Some(path) = queue.pop_front() {
        if !seen.insert(path.clone()) || seen.len() > 150 {
            continue;
        }
        let page = web.get(&path).await;
        assert!(
            page.status == 200 || page.status == 303,
            "GET {path}: {} {}",
            page.status,
            page.body
        );
        assert_no_secret(&w, &format!("GET {path}"), &page, &references);
        for link in links(&page.body) {
            if !seen.contains(&link) {
                queue.push_back(link);
            }
        }
    }
    assert!(
        seen.len() > 30,
        "only {} pages were reached: {seen:?}",
        seen.len()
    );
    for wanted in [
        "/settings",
        "/tags",
        "/group-types",
        "/import",
        "/runs/",
        "/people/",
    ] {
        assert!(
            seen.iter().any(|p| p.contains(wanted)),
            "no {wanted} page was reached: {seen:?}"
        );
    }
    // The settings form's secret field is empty: write-only.
    let settings = web.get(&account_path(&w, "/settings")).await;
    assert!(
        settings
            .body
            .contains("name=\"secret_ref\" autocomplete=\"off\""),
        "{}",
        settings.body
    );
    // Pages that answer forms.
    let people = web.get(&account_path(&w, "")).await;
    let pco_id = people.field("pco_id").expect("a linked person to select");
    let preview = web
        .post(
            &account_path(&w, "/delete"),
            &[("csrf", &csrf), ("pco_id", &pco_id)],
        )
        .await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert_no_secret(&w, "the delete preview", &preview, &references);
    let run_id = seen
        .iter()
        .find_map(|p| p.split("/runs/").nth(1))
        .expect("a run page")
        .to_string();
    let revert = web
        .post(
            &account_path(&w, &format!("/runs/{run_id}/revert")),
            &[("csrf", &csrf), ("step", "preview")],
        )
        .await;
    assert_eq!(revert.status, 200, "{}", revert.body);
    assert_no_secret(&w, "the revert preview", &revert, &references);
    // A secret pasted where its variable's name belongs is refused, and not shown back.
    let secret = w.main_account().secret;
    let refused = web
        .post(
            "/accounts",
            &[
                ("csrf", &csrf),
                ("name", "North"),
                ("app_id", "abc"),
                ("secret_kind", "env"),
                ("secret_ref", &secret),
            ],
        )
        .await;
    assert_eq!(refused.status, 200);
    assert!(
        refused.body.contains("looks like the secret itself"),
        "{}",
        refused.body
    );
    assert_no_secret(&w, "the refused account", &refused, &references);
    assert!(!w.config().contains(&secret));
    // A failing page says what failed, without a secret either.
    let error = web.get(&account_path(&w, "/people/999999999")).await;
    assert_eq!(error.status, 404);
    assert_no_secret(&w, "an error page", &error, &references);
}

// R41 (issue 24 item 23): the import form's settings are checked against Rock before they are
// saved, as `pcosync account edit` checks them: a connection status Rock does not have is
// refused, named on the next page, and nothing is saved; one Rock has is saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_import_form_refuses_a_connection_status_rock_does_not_have() {
    let w = world().await;
    let web = Web::login(&w.base).await;
    let csrf = web.csrf().await;
    let groups: Vec<(&str, String)> = w
        .import_groups()
        .into_iter()
        .map(|(key, id)| (key, id.to_string()))
        .collect();
    let save = |status: &'static str| {
        let mut fields: Vec<(&str, &str)> = vec![("csrf", &csrf), ("connection_status", status)];
        fields.extend(groups.iter().map(|(k, v)| (*k, v.as_str())));
        fields
    };
    let before = w.config();
    let page = web
        .post(
            &account_path(&w, "/import/settings"),
            &save("Regular Attender Typo"),
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(w.config(), before, "nothing is saved");
    let next = web.get(&page.location().expect("a redirect")).await;
    assert!(
        next.body.contains("Nothing was saved") && next.body.contains("Regular Attender Typo"),
        "{}",
        next.body
    );
    let page = web
        .post(&account_path(&w, "/import/settings"), &save("Member"))
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(
        w.config().contains("connection_status = \"Member\""),
        "{}",
        w.config()
    );
}
