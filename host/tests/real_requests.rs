//! Issue 23, "Done when": a church's whole first week with pcosync — `config check`,
//! `rock init`, a dry run, the first sync, a merge of two synced people in Rock and one in PCO
//! (R7), a second sync, `status` and an import dry run (R40-R42) — sends no request that Rock's
//! model or PCO's documentation would refuse.
//!
//! The real `pcosync` binary runs against both sandboxes with their strict defaults: the Rock
//! sandbox built from Rock 17's model with IIS in front (`$filter`/`$select`/`$orderby`/`$expand`
//! outside the model is 400, a body-less write without `Content-Length` is 411, a query string
//! over 16,384 bytes is 404.15), the PCO sandbox built from PCO's documented schema and role
//! model (undocumented path 404, method 405, non-assignable attribute 422, unknown
//! where/order/include 400, a role's refusal 403/422). Afterwards both request logs are read:
//! every refusal is listed with the command that sent it, its method, path, status and, for
//! Rock, the sandbox's reason (`RequestRecord::detail`; PCO's log keeps none, its path and query
//! name the vertex and parameter), so a failure says exactly what to fix. R53: no Rock answer
//! about people or memberships carries a giving, contribution or note column
//! (`private_columns_sent`).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use congregation::{Congregation, Level};
use pco_sandbox::{PcoSandbox, RateLimitConfig};
use rock_sandbox::RockSandbox;
use serde_json::Value;
use tempfile::TempDir;

const ROCK_TOKEN: &str = "s3cret-rock-key-real-requests";

struct World {
    pco: PcoSandbox,
    rock: RockSandbox,
    account: String,
    dir: TempDir,
}

impl World {
    /// The congregation in both systems, both sandboxes with their default (strict) rules.
    /// Only PCO's rate limit is off, so the runs do not wait; a 429 is no refusal of a request's
    /// form.
    async fn start(congregation: &Congregation) -> World {
        let pco = PcoSandbox::start_with(
            pco_sandbox::SandboxOptions {
                rate_limit: RateLimitConfig {
                    enabled: false,
                    ..RateLimitConfig::default()
                },
                ..Default::default()
            },
            congregation,
        )
        .await
        .expect("the PCO sandbox starts");
        let rock = RockSandbox::start_with(
            rock_sandbox::SandboxOptions {
                token: ROCK_TOKEN.into(),
                ..Default::default()
            },
            congregation,
        )
        .await
        .expect("the Rock sandbox starts");
        let account = pco.accounts().remove(0).name;
        World {
            pco,
            rock,
            account,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("pcosync.toml")
    }

    /// The main account with every group type of its groups and an `[accounts.import]`
    /// section naming the Rock group of each level, as `cli_import.rs` configures it.
    fn write_config(&self, congregation: &Congregation) {
        let dir = self.dir.path();
        let rock_token = write_secret(dir, "rock.token", ROCK_TOKEN);
        let credentials = self.pco.account(&self.account).unwrap();
        let secret = write_secret(dir, "pco.secret", &credentials.secret);
        let pco_url = self.pco.base_url();
        let pco_url = pco_url.trim_end_matches('/');
        let types: BTreeSet<&str> = congregation
            .groups
            .iter()
            .filter(|g| g.pco_account.as_deref() == Some(self.account.as_str()))
            .map(|g| g.group_type.as_str())
            .collect();
        let mut text = format!(
            "data_dir = {data:?}\n\n[rock]\nurl = {rock_url:?}\ntoken = {{ file = {rock_token:?} }}\n\n\
             [pco]\napi_url = {pco_url:?}\nupload_url = \"{pco_url}/v2/files\"\n\n\
             [[accounts]]\nname = {name:?}\napp_id = {app:?}\nsecret = {{ file = {secret:?} }}\n\
             enabled_group_types = {types:?}\n",
            data = dir.join("data").display().to_string(),
            rock_url = self.rock.base_url(),
            rock_token = rock_token.display().to_string(),
            name = self.account,
            app = credentials.app_id,
            secret = secret.display().to_string(),
            types = types.into_iter().collect::<Vec<_>>(),
        );
        text.push_str("\n[accounts.import]\nconnection_status = \"Member\"\n");
        let levels = [
            (Level::ScheduledViewer, "scheduled_viewer"),
            (Level::Viewer, "viewer"),
            (Level::Scheduler, "scheduler"),
            (Level::Editor, "editor"),
            (Level::Administrator, "administrator"),
        ];
        for (level, key) in levels {
            let group = congregation.groups.iter().position(|g| {
                g.pco_account.as_deref() == Some(self.account.as_str()) && g.level == Some(level)
            });
            if let Some(id) = group.and_then(|index| self.rock.group_id(index)) {
                let _ = writeln!(text, "groups.{key} = {id}");
            }
        }
        std::fs::write(self.config(), text).unwrap();
    }

    /// Runs `pcosync --config … ARGS` with a home of its own.
    async fn run(&self, args: &[&str]) -> Run {
        let (rock, pco) = (self.rock.requests().len(), self.pco.requests().len());
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pcosync"));
        command
            .arg("--config")
            .arg(self.config())
            .args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg"))
            .env("XDG_DATA_HOME", self.dir.path().join("xdg-data"))
            .env_remove("PCOSYNC_CONFIG")
            .env_remove("PCOSYNC_DATA_DIR")
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null());
        let output = tokio::task::spawn_blocking(move || command.output().expect("pcosync runs"))
            .await
            .unwrap();
        Run {
            args: args.join(" "),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            rock: rock..self.rock.requests().len(),
            pco: pco..self.pco.requests().len(),
        }
    }
}

fn write_secret(dir: &Path, name: &str, value: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, value).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// One command's run, with the requests it sent: the ranges of the two sandboxes' logs.
struct Run {
    args: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    rock: Range<usize>,
    pco: Range<usize>,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`pcosync {}`: exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.args, self.code, self.stdout, self.stderr
        )
    }
}

/// The people `status --json` lists as linked: (Rock id, PCO id), in Rock id order.
fn linked(status: &Value) -> Vec<(i64, String)> {
    let mut people: Vec<(i64, String)> = status["people"]
        .as_array()
        .unwrap_or_else(|| panic!("no people in the status: {status}"))
        .iter()
        .filter_map(|p| {
            let rock = p.get("rock_id").or_else(|| p.get("rock-id"))?.as_i64()?;
            let pco = p.get("pco_id").or_else(|| p.get("pco-id"))?.as_str()?;
            Some((rock, pco.to_string()))
        })
        .collect();
    people.sort();
    people
}

/// The path of a logged request without its query.
fn bare(path: &str) -> &str {
    path.split_once('?').map_or(path, |(p, _)| p)
}

/// What Rock (or IIS in front of it) refuses: a request of a form Rock's model, its security or
/// IIS's limits do not allow. 400 (a `$filter`/`$select`/`$orderby`/`$expand` outside the model,
/// an integer for an enum, a node count over 100, a body Rock will not bind), 401/403 (a right
/// the REST key lacks), 404.15/414 (a query string over `maxQueryString`), 405 (a method the
/// controller does not offer), 411 (a body-less POST/PUT/PATCH without `Content-Length`),
/// 5xx (a misspelt enum member, an address without a country). No fault is injected here.
///
/// One 400 is asked for: `config check`'s rights probe, a PATCH naming a property no model has,
/// which Rock answers with 401 without EDIT and otherwise with a 400 that changes nothing
/// ("Person does not have attribute …", a binding message, not a model refusal: no `detail`).
fn rock_refused(command: &str, record: &rock_sandbox::RequestRecord) -> bool {
    let detail = record.detail.as_deref().unwrap_or_default();
    let query = record.path.split_once('?').map_or("", |(_, q)| q);
    let rights_probe = command == "config check" && record.method == "PATCH" && detail.is_empty();
    match record.status {
        400 => !rights_probe,
        401 | 403 | 405 | 411 | 414 => true,
        404 => detail.contains("404.15") || query.len() > 16_384,
        500..=599 => record.fault.is_none(),
        _ => false,
    }
}

/// What PCO refuses: 400 (an unknown `where[]`, `order` or `include`), 401, 403 (a role's
/// refusal), 405 (a method the path does not document), 422 ("Forbidden Attribute", or a
/// role's refusal of an administrator's names), 5xx, and 404 except for the GET of a single
/// person merged away in PCO (a documented path asking for an id that no longer exists).
fn pco_refused(record: &pco_sandbox::RequestRecord, merged_away: &[String]) -> bool {
    match record.status {
        400 | 401 | 403 | 405 | 422 => true,
        404 => {
            let path = bare(&record.path);
            let single_person = merged_away.iter().any(|id| {
                path == format!("/people/v2/people/{id}")
                    || path == format!("/services/v2/people/{id}")
            });
            !(record.method == "GET" && single_person)
        }
        500..=599 => record.fault.is_none(),
        _ => false,
    }
}

// Issue 23 ("Done when", last item); R7 (merges in Rock and in PCO), R40-R42 (import), R32
// (status), R31 (config check): the whole sequence sends nothing Rock's model, IIS or PCO's
// documented schema and role model refuse, and every command exits as a healthy run does (0).
/// Rock columns the product never reads (R53): giving and contribution ids and every note.
fn private(column: &str) -> bool {
    column.contains("Giving") || column.contains("Contribution") || column.ends_with("Note")
}

/// Rock answers about people, their aliases and memberships that carried a private column. The
/// REST key's own person (`GetCurrentPerson`, which takes no `$select`) is a service account's,
/// and is not counted.
fn private_columns_sent(rock: &[rock_sandbox::RequestRecord]) -> Vec<String> {
    let about_people = ["/api/People", "/api/PersonAlias", "/api/GroupMembers"];
    rock.iter()
        .filter(|r| about_people.iter().any(|p| r.path.starts_with(p)))
        .filter(|r| !r.path.starts_with("/api/People/GetCurrentPerson"))
        .filter_map(|r| {
            let private: Vec<&String> = r.properties.iter().filter(|c| private(c)).collect();
            (!private.is_empty()).then(|| format!("{} {} carried {private:?}", r.method, r.path))
        })
        .collect()
}

// Every command runs even when one before it failed, so one failure lists everything to fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_week_sends_no_request_rock_or_pco_would_refuse() {
    let congregation = Congregation::generate(40, 5);
    let w = World::start(&congregation).await;
    w.write_config(&congregation);

    let mut runs = Vec::new();
    for args in [
        &["config", "check"][..],
        &["rock", "init"],
        &["sync", "--dry-run"],
        &["sync"],
    ] {
        runs.push(w.run(args).await);
    }

    // Two pairs of linked people: one pair merged in Rock, the other in PCO.
    let status = w.run(&["status", "--account", &w.account, "--json"]).await;
    let people = serde_json::from_str(status.stdout.trim())
        .map(|status| linked(&status))
        .unwrap_or_default();
    let mut problems = String::new();
    let mut merged_away = Vec::new();
    if let [
        (rock_survivor, _),
        (rock_merged, _),
        (_, pco_keep),
        (_, pco_remove),
        ..,
    ] = people.as_slice()
    {
        w.rock
            .merge_people(*rock_survivor, *rock_merged)
            .unwrap_or_else(|e| panic!("Rock merges {rock_merged} into {rock_survivor}: {e}"));
        w.pco
            .merge_people(&w.account, pco_keep, pco_remove)
            .unwrap_or_else(|e| panic!("PCO merges {pco_remove} into {pco_keep}: {e}"));
        let _ = writeln!(
            problems,
            "(Rock merged {rock_merged} into {rock_survivor}; PCO merged {pco_remove} into {pco_keep})"
        );
        merged_away.push(pco_remove.clone());
    } else {
        let _ = writeln!(
            problems,
            "the first sync linked fewer than 4 people, so nobody was merged: {people:?}\n{status}"
        );
    }
    runs.push(status);

    for args in [
        &["sync"][..],
        &["status"],
        &["import", "--account", &w.account, "--dry-run"],
    ] {
        runs.push(w.run(args).await);
    }

    let failed: Vec<&Run> = runs.iter().filter(|r| r.code != Some(0)).collect();
    let rock = w.rock.requests();
    let pco = w.pco.requests();
    let mut refused = String::new();
    for run in &runs {
        for r in rock[run.rock.clone()]
            .iter()
            .filter(|r| rock_refused(&run.args, r))
        {
            let _ = writeln!(
                refused,
                "  `{}`: Rock {} {} -> {}{}",
                run.args,
                r.method,
                r.path,
                r.status,
                r.detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            );
        }
        for r in pco[run.pco.clone()]
            .iter()
            .filter(|r| pco_refused(r, &merged_away))
        {
            let _ = writeln!(
                refused,
                "  `{}`: PCO {} {} -> {}",
                run.args, r.method, r.path, r.status
            );
        }
    }
    let private = private_columns_sent(&rock);
    assert!(
        private.is_empty(),
        "R53: Rock sent columns the product never reads:\n{}",
        private.join("\n")
    );
    assert!(
        refused.is_empty() && failed.is_empty() && !merged_away.is_empty(),
        "{} Rock and {} PCO requests in all; refused:\n{refused}\n{problems}\
         commands that did not exit 0: {:?}\n{}",
        rock.len(),
        pco.len(),
        failed.iter().map(|r| r.args.as_str()).collect::<Vec<_>>(),
        failed
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}
