//! The web admin in headless Chromium (Debian's chromium and chromium-driver, over
//! WebDriver), against the Rock and PCO sandboxes: an administrator signs in, adds an account,
//! chooses its welcome email, finds a Rock group by name and maps a tag to it, dry-runs and
//! syncs watching the progress reach the end, sets a PCO id, deletes a selected person after
//! the R35 warning, confirms a run the safety brake held, reviews a run, previews its revert
//! and applies it; and runs an import, stops it and resumes it. Each page is
//! screenshotted (the paths are printed). Skipped, saying why, when Chromium cannot be had.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use pcosync_web_tests::{ADMIN_TOKEN, Browser, ONE_BROWSER, Setup, World, say};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

async fn fill(c: &Client, css: &str, text: &str) -> Result {
    let field = c.find(Locator::Css(css)).await?;
    field.clear().await?;
    field.send_keys(text).await?;
    Ok(())
}

async fn click(c: &Client, css: &str) -> Result {
    c.find(Locator::Css(css)).await?.click().await?;
    Ok(())
}

/// Clicks the button whose text is `label`.
async fn press(c: &Client, label: &str) -> Result {
    c.find(Locator::XPath(&format!(
        "//button[normalize-space()='{label}']"
    )))
    .await?
    .click()
    .await?;
    Ok(())
}

/// The page's text once it holds `needle` (waits up to 60 s).
async fn wait_for(c: &Client, needle: &str) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(body) = c.find(Locator::Css("body")).await
            && let Ok(text) = body.text().await
            && text.contains(needle)
        {
            return Ok(text);
        }
        if Instant::now() > deadline {
            let text = match c.find(Locator::Css("body")).await {
                Ok(body) => body.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            return Err(format!("the page never said {needle:?}; it says:\n{text}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What a job's page shows at one moment.
#[derive(Debug, Clone)]
struct Seen {
    state: String,
    done: f64,
    max: f64,
    text: String,
}

async fn job_now(c: &Client) -> Option<Seen> {
    let now = c
        .execute(
            "const job = document.getElementById('job');
             const bar = document.getElementById('job-progress');
             const text = document.getElementById('job-progress-text');
             if (!job || !bar || !text) { return null; }
             return [job.getAttribute('data-state'), bar.value, bar.max, text.textContent];",
            vec![],
        )
        .await
        .ok()?;
    let now = now.as_array()?;
    Some(Seen {
        state: now.first()?.as_str()?.to_string(),
        done: now.get(1)?.as_f64()?,
        max: now.get(2)?.as_f64()?,
        text: now.get(3)?.as_str()?.to_string(),
    })
}

/// Follows a job's page until it is no longer running (or `until` holds); what it saw.
async fn watch(c: &Client, until: impl Fn(&Seen) -> bool) -> Result<Vec<Seen>> {
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut seen: Vec<Seen> = Vec::new();
    loop {
        if let Some(now) = job_now(c).await {
            let stop = now.state != "running" || until(&now);
            seen.push(now);
            if stop {
                return Ok(seen);
            }
        }
        if Instant::now() > deadline {
            return Err(format!("the job never ended: {seen:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
}

fn compiled() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

// R31, R36, R30, R20, R22, R32, R33, R34, R35, R25: the whole administration in the browser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_sets_up_syncs_and_tends_an_account_in_the_browser() -> Result {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = Browser::start("administration").await else {
        return Ok(());
    };
    let w = World::start(Setup {
        people: 40,
        seed: 21,
        only_groups_in_rock: false,
        with_account: false,
        compiled: compiled(),
    })
    .await;
    let c = &browser.client;
    let result = administration(&w, &browser, c).await;
    let shots = browser.shots.clone();
    browser.close().await;
    say(&format!(
        "screenshots of the administration: {}",
        shots.display()
    ));
    result
}

async fn administration(w: &World, browser: &Browser, c: &Client) -> Result {
    // Signing in: a wrong token is refused, the right one lets in.
    c.goto(&format!("{}/accounts", w.base)).await?;
    wait_for(c, "Sign in with the admin token").await?;
    browser.shot("login").await;
    fill(c, "#token", "not-the-token").await?;
    press(c, "Sign in").await?;
    wait_for(c, "That is not the admin token").await?;
    fill(c, "#token", ADMIN_TOKEN).await?;
    press(c, "Sign in").await?;
    wait_for(c, "No PCO account is configured yet").await?;
    browser.shot("accounts-empty").await;

    // R31: add the account; the secret is named by reference, in a file.
    let account = w.main_account();
    let secret = w.secret_file("main.secret", &account.secret);
    c.find(Locator::LinkText("Add an account"))
        .await?
        .click()
        .await?;
    wait_for(c, "Application id").await?;
    fill(c, "#name", &account.name).await?;
    fill(c, "#app_id", &account.app_id).await?;
    click(c, "input[name=secret_kind][value=file]").await?;
    fill(c, "#secret_ref", &secret.display().to_string()).await?;
    click(c, "input[name=allow_downgrade]").await?;
    fill(c, "#group_types", "Serving Team").await?;
    browser.shot("add-account").await;
    press(c, "Add the account").await?;
    wait_for(c, "Now choose the welcome email").await?;
    // The welcome email is chosen from the account's real templates in PCO.
    let select = c.find(Locator::Css("#welcome_template")).await?;
    let options = select.find_all(Locator::Css("option")).await?;
    let mut labels = Vec::new();
    for option in &options {
        labels.push(option.text().await?);
    }
    assert!(
        labels.iter().any(|l| l == "Volunteer Onboarding"),
        "{labels:?}"
    );
    assert!(
        labels.iter().any(|l| l == pco_sandbox::WELCOME_TEMPLATE),
        "{labels:?}"
    );
    select
        .select_by_value(pco_sandbox::WELCOME_TEMPLATE)
        .await?;
    // The secret field is empty: the current reference is never shown.
    let secret_field = c.find(Locator::Css("#secret_ref")).await?;
    assert_eq!(secret_field.prop("value").await?.unwrap_or_default(), "");
    browser.shot("account-settings").await;
    press(c, "Save the settings").await?;
    wait_for(c, "are saved").await?;
    let config = w.config();
    assert!(
        config.contains(&format!(
            "welcome_template = {:?}",
            pco_sandbox::WELCOME_TEMPLATE
        )),
        "{config}"
    );
    assert!(config.contains("allow_downgrade = true"), "{config}");
    for secret in w.secrets() {
        assert!(
            !c.source().await?.contains(&secret),
            "a secret is on the page"
        );
    }

    // R36: group types; every type of the account's groups enabled.
    c.goto(&format!(
        "{}/accounts/{}/group-types",
        w.base,
        enc(&w.account)
    ))
    .await?;
    wait_for(c, "Types of the account's groups in Rock").await?;
    for kind in w.group_types() {
        if !w.config().contains(&format!("{kind:?}")) {
            let button = c
                .find(Locator::Css(&format!("button[aria-label='Enable {kind}']")))
                .await?;
            button.click().await?;
            wait_for(c, &format!("group type \"{kind}\" enabled")).await?;
        }
    }
    browser.shot("group-types").await;

    // R36, R14: map a tag to its Rock group.
    let (tag, group_id, group_name) = w.tagged_group();
    c.goto(&format!("{}/accounts/{}/tags", w.base, enc(&w.account)))
        .await?;
    wait_for(c, "tags of").await?;
    // The group is found by its name, not by an id staff would have to look up.
    fill(c, "#find", &group_name).await?;
    press(c, "Find").await?;
    let found = wait_for(c, "Rock groups named like").await?;
    let found_table = c.find(Locator::Css("#found-groups")).await?.text().await?;
    assert!(found_table.contains(&group_id.to_string()), "{found_table}");
    let offered: Vec<String> = c
        .execute(
            "return [...document.querySelectorAll('#rock-groups option')].map(o => o.value);",
            vec![],
        )
        .await?
        .as_array()
        .map(|options| {
            options
                .iter()
                .filter_map(|o| o.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        offered.iter().any(|o| o.starts_with(&group_name)),
        "the picker offers {offered:?}; the page says {found}"
    );
    browser.shot("tags-group-search").await;
    let row = c
        .find(Locator::XPath(&format!(
            "//tr[th[normalize-space()='{tag}']]"
        )))
        .await?;
    let input = row.find(Locator::Css("input[name=group]")).await?;
    assert_eq!(input.attr("list").await?.as_deref(), Some("rock-groups"));
    input.send_keys(&group_name).await?;
    row.find(Locator::Css("button[type=submit]"))
        .await?
        .click()
        .await?;
    let page = wait_for(c, &format!("tag \"{tag}\" mapped to Rock group {group_id}")).await?;
    assert!(
        page.contains(&format!("{group_id} · {group_name}")),
        "{page}"
    );
    assert!(
        w.config().contains("[[accounts.tag_groups]]"),
        "{}",
        w.config()
    );
    browser.shot("tags").await;

    // R30: the dry run, followed live, then its report; nothing written to PCO.
    c.goto(&format!("{}/accounts/{}", w.base, enc(&w.account)))
        .await?;
    wait_for(c, "Groups syncing to this account").await?;
    browser.shot("overview-before-sync").await;
    let people_before = w.pco.people_count(&w.account).unwrap();
    press(c, "Dry run").await?;
    let seen = watch(c, |_| false).await?;
    assert_eq!(seen.last().unwrap().state, "finished", "{seen:?}");
    let report = wait_for(c, "dry run: nothing was written").await?;
    assert!(
        report.contains("would be created in PCO") || report.contains("would link"),
        "{report}"
    );
    assert_eq!(w.pco.people_count(&w.account).unwrap(), people_before);
    browser.shot("dry-run-report").await;

    // R20, R22: the sync now, with PCO slowed so that its progress can be watched to the end.
    w.pco.set_faults(pco_sandbox::FaultConfig {
        slow: 1.0,
        slow_ms: 60,
        ..Default::default()
    })?;
    c.goto(&format!("{}/accounts/{}", w.base, enc(&w.account)))
        .await?;
    wait_for(c, "Groups syncing to this account").await?;
    press(c, "Sync now").await?;
    let mut shot_taken = false;
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(now) = job_now(c).await {
            let running = now.state == "running";
            if running && !shot_taken && now.done > 0.0 && now.text.starts_with("syncing people") {
                browser.shot("sync-running").await;
                shot_taken = true;
            }
            seen.push(now);
            if !running {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the sync never ended: {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    w.pco.clear_faults();
    let last = seen.last().unwrap().clone();
    assert_eq!(last.state, "finished", "{seen:?}");
    assert_eq!(
        last.done, last.max,
        "the progress did not reach the end: {seen:?}"
    );
    assert!(last.text.contains("finished"), "{last:?}");
    assert!(
        seen.iter()
            .any(|s| s.state == "running" && s.max > 1.0 && s.done < s.max),
        "no progress was seen on the way: {seen:?}"
    );
    let report = wait_for(c, "Report").await?;
    assert!(
        report.contains("created in PCO") || report.contains("linked to PCO person"),
        "{report}"
    );
    browser.shot("sync-report").await;

    // R32: the people, filtered and sorted.
    c.goto(&format!(
        "{}/accounts/{}?show=linked&sort=rock_level&dir=desc",
        w.base,
        enc(&w.account)
    ))
    .await?;
    wait_for(c, "Level in PCO").await?;
    browser.shot("people").await;
    let rows = c.find_all(Locator::Css("#people-table tbody tr")).await?;
    assert!(rows.len() > 5, "{} rows", rows.len());
    // The first row (highest level in Rock) is in a level group: the one to delete later.
    let first = &rows[0];
    let to_delete = first
        .find(Locator::Css("input[name=pco_id]"))
        .await?
        .attr("value")
        .await?
        .expect("a PCO id");
    let first_name = first.find(Locator::Css("th")).await?.text().await?;
    // Filter by a name: only matching rows.
    let other = rows[rows.len() - 1]
        .find(Locator::Css("th"))
        .await?
        .text()
        .await?;
    fill(c, "#q", &other).await?;
    press(c, "Show").await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !c.current_url().await?.as_str().contains("q=") {
        assert!(Instant::now() < deadline, "the filter was not applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_for(c, "Level in PCO").await?;
    let filtered = c.find_all(Locator::Css("#people-table tbody tr")).await?;
    assert!(
        !filtered.is_empty() && filtered.len() < rows.len(),
        "{} of {}",
        filtered.len(),
        rows.len()
    );
    for row in &filtered {
        let name = row.find(Locator::Css("th")).await?.text().await?;
        assert!(
            name.to_lowercase().contains(&other.to_lowercase()),
            "{name} shown for {other}"
        );
    }
    browser.shot("people-filtered").await;

    // R33: set a person's PCO id by hand (to a PCO person nobody is linked to).
    let pco_only = w.pco_only_person();
    c.find(Locator::Css("#people-table tbody tr th a"))
        .await?
        .click()
        .await?;
    wait_for(c, "Values saved at the last sync").await?;
    let before = c.find(Locator::Css("#pco-id")).await?.text().await?;
    fill(c, "#pco_id", &pco_only).await?;
    press(c, "Set the PCO id").await?;
    wait_for(c, &format!("is linked to PCO person {pco_only}")).await?;
    let after = c.find(Locator::Css("#pco-id")).await?.text().await?;
    assert_eq!(after, pco_only, "was {before}");
    browser.shot("person-pco-id-set").await;

    // R35: delete the selected person: the dry run, the warning that they come back, then the
    // delete.
    c.goto(&format!(
        "{}/accounts/{}?show=linked&sort=rock_level&dir=desc",
        w.base,
        enc(&w.account)
    ))
    .await?;
    wait_for(c, "Level in PCO").await?;
    click(c, &format!("input[name=pco_id][value='{to_delete}']")).await?;
    press(c, "Delete selected from PCO…").await?;
    let preview = wait_for(c, "Delete 1 from PCO").await?;
    let warning = c
        .find(Locator::Css("#comeback-warning"))
        .await?
        .text()
        .await?;
    assert!(warning.contains("adds them back to PCO"), "{warning}");
    assert!(preview.contains(&format!("PCO {to_delete}")), "{preview}");
    assert!(preview.contains("would be deleted from PCO"), "{preview}");
    let count_before = w.pco.people_count(&w.account).unwrap();
    browser.shot("delete-preview").await;
    press(c, "Delete 1 from PCO").await?;
    wait_for(c, "Deleted 1 from PCO").await?;
    assert_eq!(
        w.pco.people_count(&w.account).unwrap(),
        count_before - 1,
        "{first_name}"
    );
    browser.shot("deleted").await;

    // R34: refresh the list from the groups.
    c.goto(&format!("{}/accounts/{}", w.base, enc(&w.account)))
        .await?;
    press(c, "Refresh list from groups").await?;
    wait_for(c, "People list refreshed from the groups").await?;

    // R24: staff change every linked person's middle name in PCO; the sync is held by the
    // brake, writes nothing, and goes ahead once confirmed in the browser.
    c.goto(&format!(
        "{}/accounts/{}?show=linked",
        w.base,
        enc(&w.account)
    ))
    .await?;
    wait_for(c, "Level in PCO").await?;
    let mut linked = Vec::new();
    for input in c
        .find_all(Locator::Css("#people-table input[name=pco_id]"))
        .await?
    {
        if let Some(id) = input.attr("value").await?
            && w.edit_pco_person(&id, serde_json::json!({"middle_name": "Brakeman"}))
                .await
        {
            linked.push(id);
        }
    }
    assert!(
        linked.len() >= 5,
        "too few linked people to hold a run: {linked:?}"
    );
    let rock_before = rock_middle_names(w).await;
    c.goto(&format!("{}/accounts/{}", w.base, enc(&w.account)))
        .await?;
    wait_for(c, "Groups syncing to this account").await?;
    press(c, "Sync now").await?;
    watch(c, |_| false).await?;
    let held = wait_for(c, "The safety brake held this run").await?;
    assert!(held.contains("middle name"), "{held}");
    browser.shot("sync-held").await;
    assert_eq!(
        rock_middle_names(w).await,
        rock_before,
        "a held run wrote to Rock"
    );
    c.find(Locator::XPath(
        "//button[starts-with(normalize-space(), 'Confirm run ')]",
    ))
    .await?
    .click()
    .await?;
    let seen = watch(c, |_| false).await?;
    assert_eq!(seen.last().unwrap().state, "finished", "{seen:?}");
    let confirmed = wait_for(c, "Report").await?;
    assert!(
        !confirmed.contains("The safety brake held this run"),
        "{confirmed}"
    );
    assert!(confirmed.contains("middle name PCO -> Rock"), "{confirmed}");
    browser.shot("sync-confirmed").await;

    // R25: the run history, a run's writes, the preview of its revert, then the revert.
    c.find(Locator::LinkText("Runs")).await?.click().await?;
    wait_for(c, "History").await?;
    browser.shot("runs").await;
    let sync_run = c
        .find(Locator::XPath("//tr[td[normalize-space()='sync']]//a"))
        .await?;
    sync_run.click().await?;
    let detail = wait_for(c, "Every write of the run").await?;
    assert!(
        detail.contains("person") || detail.contains("permission"),
        "{detail}"
    );
    browser.shot("run-detail").await;
    press(c, "Preview the revert").await?;
    wait_for(c, "would write back. Nothing was written yet").await?;
    browser.shot("revert-preview").await;
    // The newest sync is the confirmed one: reverting it puts the middle names back in Rock.
    let apply = c
        .find(Locator::XPath(
            "//button[starts-with(normalize-space(), 'Revert ')]",
        ))
        .await?;
    let label = apply.text().await?;
    let values: usize = label
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{label:?}"));
    assert!(
        values >= linked.len(),
        "{label:?} for {} people",
        linked.len()
    );
    apply.click().await?;
    let reverted = wait_for(c, "Reverted").await?;
    assert!(
        reverted.contains(&format!("Reverted {values} values")),
        "{reverted}"
    );
    browser.shot("revert-applied").await;
    let middles = rock_middle_names(w).await;
    assert!(
        !middles.values().any(|m| m == "Brakeman"),
        "a reverted middle name stayed in Rock: {middles:?}"
    );
    assert_eq!(middles, rock_before, "the revert did not restore Rock");

    // Readable on a phone.
    c.set_window_size(390, 844).await?;
    c.goto(&format!("{}/accounts/{}", w.base, enc(&w.account)))
        .await?;
    wait_for(c, "Groups syncing to this account").await?;
    browser.shot("overview-phone").await;
    let overflow: bool = c
        .execute(
            "return document.documentElement.scrollWidth > window.innerWidth + 1;",
            vec![],
        )
        .await?
        .as_bool()
        .unwrap_or(true);
    assert!(
        !overflow,
        "the page is wider than a phone (tables scroll inside their box)"
    );
    c.set_window_size(1280, 900).await?;

    // Signing out ends the session.
    press(c, "Sign out").await?;
    wait_for(c, "Sign in with the admin token").await?;
    c.goto(&format!("{}/accounts", w.base)).await?;
    wait_for(c, "Sign in with the admin token").await?;
    Ok(())
}

/// Every Rock person's middle name, as the sandbox holds it.
async fn rock_middle_names(w: &World) -> std::collections::BTreeMap<i64, String> {
    w.rock_people()
        .await
        .into_keys()
        .filter_map(|id| {
            let dump = w.rock.person_dump(id)?;
            Some((
                id,
                dump["Person"]["MiddleName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ))
        })
        .collect()
}

fn enc(name: &str) -> String {
    name.replace(' ', "%20")
}

// R40, R41, R42: the import groups chosen in the browser, the import's dry run, the import
// followed live, stopped half way, and resumed: it ends with everyone in Rock once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_runs_stops_and_resumes_an_import_in_the_browser() -> Result {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = Browser::start("import").await else {
        return Ok(());
    };
    let w = World::start(Setup {
        people: 220,
        seed: 44,
        only_groups_in_rock: true,
        with_account: true,
        compiled: compiled(),
    })
    .await;
    let c = &browser.client;
    let result = import(&w, &browser, c).await;
    let shots = browser.shots.clone();
    browser.close().await;
    say(&format!("screenshots of the import: {}", shots.display()));
    result
}

async fn import(w: &World, browser: &Browser, c: &Client) -> Result {
    assert!(w.rock_people().await.is_empty());
    c.goto(&format!("{}/accounts/{}/import", w.base, enc(&w.account)))
        .await?;
    fill(c, "#token", ADMIN_TOKEN).await?;
    press(c, "Sign in").await?;
    wait_for(c, "Import groups").await?;
    // The seed's "Configure Import Groups": a Rock group for each level.
    for (key, id) in w.import_groups() {
        c.find(Locator::Css(&format!("#group-{key}")))
            .await?
            .select_by_value(&id.to_string())
            .await?;
    }
    fill(c, "#connection_status", "Member").await?;
    browser.shot("import-groups").await;
    press(c, "Save the import groups").await?;
    wait_for(c, "The import groups are saved").await?;
    assert!(
        w.config().contains("connection_status = \"Member\""),
        "{}",
        w.config()
    );

    // The dry run: who would be created, nothing written.
    press(c, "Dry run the import").await?;
    let seen = watch(c, |_| false).await?;
    assert_eq!(seen.last().unwrap().state, "finished", "{seen:?}");
    let page = wait_for(c, "dry run: nothing was written").await?;
    let expected: usize = page
        .lines()
        .find_map(|l| l.trim().strip_prefix("created in Rock "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the count of people the import creates");
    assert!(expected > 100, "{expected}: too few to stop half way");
    assert!(w.rock_people().await.is_empty());
    browser.shot("import-dry-run").await;

    // The import, with Rock slowed: followed live, stopped after its first page.
    w.rock.set_faults(rock_sandbox::FaultConfig {
        slow_rate: 1.0,
        slow_ms: 40,
        method: Some("POST".into()),
        ..Default::default()
    });
    c.goto(&format!("{}/accounts/{}/import", w.base, enc(&w.account)))
        .await?;
    press(c, "Run the import").await?;
    let seen = watch(c, |s| {
        s.text.starts_with("importing people") && s.done >= 100.0
    })
    .await?;
    let at = seen.last().unwrap().clone();
    assert_eq!(
        at.state, "running",
        "the import ended before it could be stopped: {seen:?}"
    );
    assert!(at.text.starts_with("importing people"), "{at:?}");
    browser.shot("import-running").await;
    press(c, "Stop").await?;
    wait_for(c, "Stopped by an administrator").await?;
    let stopped = job_now(c).await.expect("the job's page");
    assert_eq!(stopped.state, "stopped");
    browser.shot("import-stopped").await;
    let partial = w.rock_people().await.len();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        w.rock_people().await.len(),
        partial,
        "the import went on after its stop"
    );
    assert!(partial > 0 && partial < expected, "{partial} of {expected}");
    w.rock.clear_faults();

    // The import page says it stopped; resuming goes on where it stopped.
    c.goto(&format!("{}/accounts/{}/import", w.base, enc(&w.account)))
        .await?;
    wait_for(c, "The last import stopped before it finished").await?;
    browser.shot("import-page-stopped").await;
    press(c, "Resume the import").await?;
    let seen = watch(c, |_| false).await?;
    let last = seen.last().unwrap().clone();
    assert_eq!(last.state, "finished", "{seen:?}");
    assert_eq!(last.done, last.max, "{seen:?}");
    wait_for(c, "Report").await?;
    browser.shot("import-resumed").await;

    // Everyone once: as many people as the dry run said, nobody (name and email) twice.
    let people = w.rock_people().await;
    assert_eq!(people.len(), expected, "a person created twice, or missing");
    let with_email: Vec<_> = people.values().filter(|p| !p.2.is_empty()).collect();
    let distinct: BTreeSet<_> = with_email.iter().collect();
    assert_eq!(distinct.len(), with_email.len(), "a person created twice");
    Ok(())
}
