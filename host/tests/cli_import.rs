//! `pcosync import` (SPEC R40-R42) end to end: the real binary against the Rock and PCO
//! sandboxes on loopback, with a congregation that exists only in PCO.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use congregation::{Congregation, Level, Presence};
use pco_sandbox::{PcoSandbox, RateLimitConfig};
use pcosync::state::StateStore;
use rock_sandbox::{FaultConfig, RockSandbox};
use serde_json::Value;
use tempfile::TempDir;

/// Rock's "Member" connection status (a core defined value).
const MEMBER_GUID: &str = "41540783-d9ef-4c70-8f1d-c9e83d91ed5f";

struct Sandboxes {
    _pco: PcoSandbox,
    rock: RockSandbox,
    dir: TempDir,
    account: String,
    /// The import group of each level: (config key, Rock group id).
    groups: Vec<(&'static str, i64)>,
    /// The people Rock holds of its own (not of the congregation), left out of counts.
    baseline: BTreeSet<i64>,
}

impl Sandboxes {
    /// PCO holds the congregation; Rock holds its groups and nobody.
    async fn start(people: usize, seed: u64, with_import: bool) -> Sandboxes {
        Sandboxes::start_with_rock(people, seed, with_import, |_| {}).await
    }

    /// As [`Sandboxes::start`], with Rock's people edited first (`rock` gets the congregation
    /// Rock is seeded from: everyone PCO-only, in no group).
    async fn start_with_rock(
        people: usize,
        seed: u64,
        with_import: bool,
        rock: impl FnOnce(&mut Congregation),
    ) -> Sandboxes {
        let congregation = Congregation::generate(people, seed);
        let pco = PcoSandbox::start_with(
            pco_sandbox::SandboxOptions {
                seed,
                rate_limit: RateLimitConfig {
                    enabled: false,
                    ..RateLimitConfig::default()
                },
                ..Default::default()
            },
            &congregation,
        )
        .await
        .expect("the PCO sandbox starts");
        let mut only_groups = congregation.clone();
        for member in &mut only_groups.people {
            member.presence = Presence::PcoOnly;
            member.groups.clear();
        }
        rock(&mut only_groups);
        let rock = RockSandbox::start_with(
            rock_sandbox::SandboxOptions {
                seed,
                ..Default::default()
            },
            &only_groups,
        )
        .await
        .expect("the Rock sandbox starts");
        let dir = tempfile::tempdir().unwrap();
        let account = pco.accounts().remove(0).name;
        let levels = [
            (Level::ScheduledViewer, "scheduled_viewer"),
            (Level::Viewer, "viewer"),
            (Level::Scheduler, "scheduler"),
            (Level::Editor, "editor"),
            (Level::Administrator, "administrator"),
        ];
        let groups = levels
            .iter()
            .filter_map(|(level, key)| {
                let index = congregation.groups.iter().position(|g| {
                    g.pco_account.as_deref() == Some(account.as_str()) && g.level == Some(*level)
                })?;
                Some((*key, rock.group_id(index)?))
            })
            .collect();
        let mut sandboxes = Sandboxes {
            _pco: pco,
            rock,
            dir,
            account,
            groups,
            baseline: BTreeSet::new(),
        };
        sandboxes.baseline = sandboxes.rock_people().await.into_keys().collect();
        sandboxes.write_config(&congregation, with_import);
        sandboxes
    }

    fn write_config(&self, congregation: &Congregation, with_import: bool) {
        let dir = self.dir.path();
        let rock_token = write_secret(dir, "rock.token", self.rock.token());
        let account = self._pco.accounts().remove(0);
        let secret = write_secret(dir, "pco.secret", &account.secret);
        let pco_url = self._pco.base_url();
        let pco_url = pco_url.trim_end_matches('/');
        let types: BTreeSet<&str> = congregation
            .groups
            .iter()
            .filter(|g| g.pco_account.as_deref() == Some(account.name.as_str()))
            .map(|g| g.group_type.as_str())
            .collect();
        let mut text = format!(
            "data_dir = {data:?}\n\n[rock]\nurl = {rock_url:?}\ntoken = {{ file = {rock_token:?} }}\n\n\
             [pco]\napi_url = {pco_url:?}\nupload_url = \"{pco_url}/v2/files\"\n\n\
             [[accounts]]\nname = {name:?}\napp_id = {app:?}\nsecret = {{ file = {secret:?} }}\n\
             enabled_group_types = {types:?}\n",
            data = self.data().display().to_string(),
            rock_url = self.rock.base_url(),
            rock_token = rock_token.display().to_string(),
            name = account.name,
            app = account.app_id,
            secret = secret.display().to_string(),
            types = types.into_iter().collect::<Vec<_>>(),
        );
        if with_import {
            text.push_str("\n[accounts.import]\nconnection_status = \"Member\"\n");
            for (key, id) in &self.groups {
                let _ = writeln!(text, "groups.{key} = {id}");
            }
        }
        std::fs::write(self.config(), text).unwrap();
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("pcosync.toml")
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pcosync"));
        command
            .arg("--config")
            .arg(self.config())
            .args(args)
            .env_remove("PCOSYNC_CONFIG")
            .env_remove("PCOSYNC_DATA_DIR")
            .env("RUST_LOG", "warn");
        command
    }

    fn import(&self, extra: &[&str]) -> Output {
        let mut args = vec!["import", "--account", self.account.as_str()];
        args.extend_from_slice(extra);
        self.command(&args).output().expect("pcosync runs")
    }

    async fn rock_get(&self, path: &str) -> Value {
        reqwest::Client::new()
            .get(format!(
                "{}{path}",
                self.rock.base_url().trim_end_matches('/')
            ))
            .header("Authorization-Token", self.rock.token())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Every Rock person but the baseline: id -> (first, last, email, connection status id).
    async fn rock_people(&self) -> BTreeMap<i64, (String, String, String, i64)> {
        let rows = self
            .rock_get("/api/People?$select=Id,FirstName,LastName,Email,ConnectionStatusValueId")
            .await;
        let text = |row: &Value, key: &str| row[key].as_str().unwrap_or_default().to_string();
        rows.as_array()
            .unwrap()
            .iter()
            .filter(|row| {
                !self
                    .baseline
                    .contains(&row["Id"].as_i64().unwrap_or_default())
            })
            .map(|row| {
                (
                    row["Id"].as_i64().unwrap(),
                    (
                        text(row, "FirstName"),
                        text(row, "LastName"),
                        text(row, "Email").to_lowercase(),
                        row["ConnectionStatusValueId"].as_i64().unwrap_or_default(),
                    ),
                )
            })
            .collect()
    }

    /// Active members of the import groups: (group, person).
    async fn members(&self) -> BTreeSet<(i64, i64)> {
        let mut all = BTreeSet::new();
        for (_, group) in &self.groups {
            let rows = self
                .rock_get(&format!("/api/GroupMembers?$filter=GroupId eq {group}"))
                .await;
            for row in rows.as_array().unwrap() {
                all.insert((*group, row["PersonId"].as_i64().unwrap()));
            }
        }
        all
    }

    fn state_keys(&self, prefix: &str) -> Vec<String> {
        let state = pcosync::connect::open_state(&self.data()).unwrap();
        state
            .scan(&self.account, prefix, None, 100_000)
            .unwrap()
            .into_iter()
            .map(|e| e.key)
            .collect()
    }
}

fn write_secret(dir: &Path, name: &str, value: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, value).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn report(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}): {}\n{}",
            text(&output.stdout),
            text(&output.stderr)
        )
    })
}

fn count(report: &Value, name: &str) -> u64 {
    report["counts"][name].as_u64().unwrap()
}

// R40, R41, R42: dry run first (nothing written), then the import creates everyone once in
// the group of their level with the chosen connection status; a second import imports nobody.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_imports_a_congregation_only_in_pco_once() {
    let sandboxes = Sandboxes::start(120, 41, true).await;
    assert!(sandboxes.rock_people().await.is_empty());

    let dry = sandboxes.import(&["--dry-run", "--json"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stderr));
    let dry = report(&dry);
    assert_eq!(dry["dry_run"], true);
    assert!(count(&dry, "created") > 50, "{dry}");
    assert!(sandboxes.rock_people().await.is_empty());
    assert!(sandboxes.state_keys("person/").is_empty());

    let real = sandboxes.import(&["--json"]);
    assert_eq!(real.status.code(), Some(0), "{}", text(&real.stderr));
    // Not a terminal: the progress comes as plain lines.
    assert!(
        text(&real.stderr).contains("importing people: "),
        "{}",
        text(&real.stderr)
    );
    let real = report(&real);
    assert_eq!(count(&real, "failed"), 0, "{real}");
    assert_eq!(count(&real, "created"), count(&dry, "created"));
    assert_eq!(count(&real, "imported"), count(&dry, "imported"));

    let people = sandboxes.rock_people().await;
    assert_eq!(people.len() as u64, count(&real, "created"));
    let member_status = sandboxes
        .rock_get("/api/DefinedValues")
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|v| {
            v["Guid"]
                .as_str()
                .is_some_and(|g| g.eq_ignore_ascii_case(MEMBER_GUID))
        })
        .and_then(|v| v["Id"].as_i64())
        .expect("Rock has the Member connection status");
    assert!(people.values().all(|p| p.3 == member_status), "{people:?}");
    let members = sandboxes.members().await;
    let in_a_group: BTreeSet<i64> = members.iter().map(|(_, p)| *p).collect();
    assert!(people.keys().all(|id| in_a_group.contains(id)));
    assert_eq!(
        sandboxes.state_keys("person/").len() as u64,
        count(&real, "imported")
    );

    let again = sandboxes.import(&[]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(
        text(&again.stdout).contains("imported 0"),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(sandboxes.rock_people().await.len(), people.len());
}

// R42: an import killed mid-way (the process, with SIGKILL) and run again goes on where it
// stopped: nobody is created twice and everyone ends in Rock.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_import_goes_on_where_it_stopped() {
    let sandboxes = Sandboxes::start(200, 42, true).await;
    let dry = report(&sandboxes.import(&["--dry-run", "--json"]));
    let expected = count(&dry, "created");
    assert!(expected > 100, "{dry}");

    // Slow creates, so the kill lands in the middle.
    sandboxes.rock.set_faults(FaultConfig {
        slow_rate: 1.0,
        slow_ms: 40,
        method: Some("POST".into()),
        ..FaultConfig::default()
    });
    let mut child = sandboxes
        .command(&["import", "--account", &sandboxes.account])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let creates = sandboxes
            .rock
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.starts_with("/api/People"))
            .count();
        if creates as u64 >= expected / 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the import never reached Rock");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended early"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    sandboxes.rock.clear_faults();
    let partial = sandboxes.rock_people().await.len() as u64;
    assert!(partial > 0 && partial < expected, "{partial} of {expected}");

    let resumed = sandboxes.import(&["--json"]);
    let code = resumed.status.code();
    let resumed = report(&resumed);
    assert_eq!(code, Some(0), "{resumed}");
    // A person without an email whose create was cut off cannot be looked up: left for an
    // administrator (never created twice). One at most.
    let stranded = resumed["people"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p.to_string().contains("pcosync link"))
        .count() as u64;
    assert!(stranded <= 1, "{resumed}");

    let people = sandboxes.rock_people().await;
    let links = sandboxes.state_keys("person/").len() as u64;
    assert_eq!(links + stranded, expected, "{resumed}");
    assert_eq!(people.len() as u64, expected, "a person created twice");
    let with_email: Vec<_> = people
        .values()
        .filter(|p| !p.2.is_empty())
        .map(|p| (p.0.to_lowercase(), p.1.to_lowercase(), p.2.clone()))
        .collect();
    let distinct: BTreeSet<_> = with_email.iter().collect();
    assert_eq!(distinct.len(), with_email.len(), "a person created twice");
    assert!(sandboxes.state_keys("import/cursor").is_empty());
}

// R40: without [accounts.import] the command says what to add, exits 2 and touches nothing.
#[tokio::test(flavor = "multi_thread")]
async fn missing_import_settings_exit_2_naming_the_keys() {
    let sandboxes = Sandboxes::start(20, 43, false).await;
    let output = sandboxes.import(&[]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("[accounts.import]"), "{stderr}");
    assert!(stderr.contains("groups.viewer = GROUP_ID"), "{stderr}");
    assert!(!sandboxes.data().join("state.sqlite").exists());
}

// R4 (issue 24 item 20): `pcosync link ROCK --create` lets the next sync create a person it
// holds because PCO may already hold them (same name and birth date): the choice is kept in
// the account's state; a Rock id Rock does not have is refused with a clear error; the
// command needs a PCO id or --create, not both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r4_link_create_lets_the_next_sync_create_a_held_person() {
    let sandboxes = Sandboxes::start(20, 3, false).await;
    let rock_id = *sandboxes
        .baseline
        .iter()
        .next()
        .expect("precondition: a Rock person");
    let id = rock_id.to_string();
    let account = sandboxes.account.clone();
    let link = |args: &[&str]| {
        let mut all = vec!["link", "--account", account.as_str()];
        all.extend_from_slice(args);
        sandboxes.command(&all).output().expect("pcosync runs")
    };
    let allowed = link(&[&id, "--create"]);
    assert!(allowed.status.success(), "{}", text(&allowed.stderr));
    assert!(
        text(&allowed.stdout).contains(&format!("The next sync creates Rock person {rock_id}")),
        "{}",
        text(&allowed.stdout)
    );
    assert_eq!(
        sandboxes.state_keys("create-anyway/"),
        vec![format!("create-anyway/{rock_id}")]
    );
    let missing = link(&["987654321", "--create"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("there is no Rock person 987654321"),
        "{}",
        text(&missing.stderr)
    );
    for args in [vec![id.as_str()], vec![id.as_str(), "12", "--create"]] {
        let refused = link(&args);
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&refused.stderr)
        );
    }
}

/// The account's first importable PCO person Rock's duplicate rules would take for a Rock
/// person of the same name, birth date and gender: one level, not archived, an email, no
/// drift between the systems, protection below High (Rock's matcher passes High by).
fn rock_lookalike(congregation: &Congregation) -> usize {
    congregation
        .people
        .iter()
        .position(|m| {
            m.presence != Presence::RockOnly
                && m.pco_accounts.first() == Some(&0)
                && m.pco_level.is_some()
                && !m.pco_archived
                && !m.pco_org_admin
                && m.birthdate.is_some()
                && m.email.is_some()
                && m.pco_email_drift.is_none()
                && m.pco_nick_drift.is_none()
                && m.pco_last_name_drift.is_none()
                && matches!(
                    m.protection,
                    congregation::Protection::Low | congregation::Protection::Medium
                )
                && m.first_name.is_ascii()
                && m.last_name.is_ascii()
        })
        .expect("the congregation has a plain importable person")
}

// R41 (issue 24 item 24): Rock's `POST api/People` is find-or-create: a PCO person whom Rock's
// duplicate rules take for a Rock person of the same name and birth date (with another email,
// so the import's own email match does not find them) is answered 200 with that person, and
// Rock creates nobody. The import reports and counts them as linked to an existing Rock
// person, never as created.
#[tokio::test(flavor = "multi_thread")]
async fn r41_a_person_rock_matches_on_create_is_linked_not_counted_created() {
    let mut lookalike = 0;
    let sandboxes = Sandboxes::start_with_rock(60, 44, true, |rock| {
        lookalike = rock_lookalike(rock);
        let member = &mut rock.people[lookalike];
        member.presence = Presence::RockOnly;
        member.pco_accounts.clear();
        member.email = Some("someone.else.entirely@example.net".into());
    })
    .await;
    let before: BTreeSet<i64> = sandboxes.baseline.clone();

    let real = sandboxes.import(&["--json"]);
    assert_eq!(real.status.code(), Some(0), "{}", text(&real.stderr));
    let real = report(&real);
    assert_eq!(count(&real, "failed"), 0, "{real}");
    let new_people = sandboxes.rock_people().await.len() as u64;
    assert_eq!(
        count(&real, "created"),
        new_people,
        "the report counts as created someone Rock already held: {real}"
    );
    assert!(count(&real, "linked") >= 1, "{real}");
    assert_eq!(
        count(&real, "imported"),
        count(&real, "created") + count(&real, "linked"),
        "{real}"
    );
    // The Rock person Rock matched is linked (a `person/{id}` record of a baseline person).
    let linked_existing = sandboxes
        .state_keys("person/")
        .iter()
        .filter_map(|k| k.strip_prefix("person/")?.parse::<i64>().ok())
        .filter(|id| before.contains(id))
        .count();
    assert_eq!(linked_existing, 1, "{real}");
    let said = real["people"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p.to_string().contains("duplicate rules matched"))
        .count();
    assert_eq!(said, 1, "{real}");
}

// R41 (issue 24 item 23): the dry run checks the import's settings against Rock as the real
// run does: a connection status Rock does not have made the dry run say "created 43, failed
// 0" and the real run then failed all 43. Now both refuse before anything is read or written,
// naming the statuses Rock has.
#[tokio::test(flavor = "multi_thread")]
async fn r41_a_dry_run_refuses_a_connection_status_rock_does_not_have() {
    let sandboxes = Sandboxes::start(30, 45, true).await;
    let config = std::fs::read_to_string(sandboxes.config()).unwrap();
    std::fs::write(
        sandboxes.config(),
        config.replace(
            "connection_status = \"Member\"",
            "connection_status = \"Regular Attender Typo\"",
        ),
    )
    .unwrap();
    for extra in [&["--dry-run"][..], &[][..]] {
        let output = sandboxes.import(extra);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(
            stderr.contains("Regular Attender Typo") && stderr.contains("Member"),
            "{extra:?}: {stderr}"
        );
    }
    assert!(sandboxes.rock_people().await.is_empty());
}

// R41 (issue 24 item 23): `pcosync account edit` checks import settings against Rock before
// it saves them: a connection status Rock does not have, or a group it does not hold, is
// refused (exit 2) and the configuration is left as it was.
#[tokio::test(flavor = "multi_thread")]
async fn r41_account_edit_refuses_import_settings_rock_does_not_have() {
    let sandboxes = Sandboxes::start(30, 46, true).await;
    let before = std::fs::read_to_string(sandboxes.config()).unwrap();
    for setting in [
        "import.connection_status=Regular Attender Typo",
        "import.viewer=987654",
    ] {
        let output = sandboxes
            .command(&["account", "edit", &sandboxes.account, "--set", setting])
            .output()
            .unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{setting}: {stderr}");
        assert!(
            stderr.contains("Regular Attender Typo") || stderr.contains("987654"),
            "{setting}: {stderr}"
        );
        assert_eq!(
            std::fs::read_to_string(sandboxes.config()).unwrap(),
            before,
            "{setting}"
        );
    }
    // A status Rock has is saved.
    let output = sandboxes
        .command(&[
            "account",
            "edit",
            &sandboxes.account,
            "--set",
            "import.connection_status=Visitor",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        std::fs::read_to_string(sandboxes.config())
            .unwrap()
            .contains("Visitor")
    );
}
