//! The configuration commands as an administrator runs them (R31, R36): the real `pcosync`
//! binary, a configuration file of its own, and the Rock and PCO sandboxes on loopback.
//!
//! Every run gets a fresh home (`HOME`, `XDG_CONFIG_HOME`), so the default configuration path is
//! the test's own, and no secret may appear in anything the binary prints.

use std::path::{Path, PathBuf};
use std::process::Output;

use congregation::Congregation;
use pco_sandbox::{PcoSandbox, RateLimitConfig};
use rock_sandbox::RockSandbox;
use tempfile::TempDir;

const ROCK_TOKEN: &str = "s3cret-rock-key-cli-config";
/// The PCO sandbox's second organization (its own credentials).
const SECOND_ORGANIZATION: &str = "North Campus";

struct World {
    pco: PcoSandbox,
    rock: RockSandbox,
    congregation: Congregation,
    dir: TempDir,
}

impl World {
    async fn start() -> World {
        let congregation = Congregation::generate(40, 5);
        // PCO also holds a second organization, with nobody synced yet: an account of its own.
        let mut organizations = congregation.clone();
        organizations.accounts.push(SECOND_ORGANIZATION.into());
        let pco = PcoSandbox::start_with(
            pco_sandbox::SandboxOptions {
                rate_limit: RateLimitConfig {
                    enabled: false,
                    ..RateLimitConfig::default()
                },
                ..Default::default()
            },
            &organizations,
        )
        .await
        .expect("the PCO sandbox starts");
        let rock = RockSandbox::start_with(
            rock_sandbox::SandboxOptions {
                token: ROCK_TOKEN.into(),
                ..Default::default()
            },
            &congregation,
        )
        .await
        .expect("the Rock sandbox starts");
        let dir = tempfile::tempdir().unwrap();
        let world = World {
            pco,
            rock,
            congregation,
            dir,
        };
        warm_compile_cache(&world.data_dir());
        world
    }

    fn main_account(&self) -> pco_sandbox::AccountCredentials {
        self.pco.accounts()[0].clone()
    }

    fn second_account(&self) -> pco_sandbox::AccountCredentials {
        self.pco
            .accounts()
            .into_iter()
            .find(|a| a.name == SECOND_ORGANIZATION)
            .expect("the sandbox's second organization")
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn state_file(&self) -> PathBuf {
        self.data_dir().join("state.sqlite")
    }

    /// Where the configuration is when nothing says: `$XDG_CONFIG_HOME/pcosync/pcosync.toml`.
    fn default_config(&self) -> PathBuf {
        self.dir.path().join("xdg/pcosync/pcosync.toml")
    }

    /// A secret file, mode 600.
    fn secret_file(&self, name: &str, value: &str) -> PathBuf {
        let dir = self.dir.path().join("secrets");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, value).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        path
    }

    /// A configuration for both sandboxes with the main account, written by hand (with
    /// comments), as `pcosync-sandbox --write-config` would.
    fn write_config(&self, extra_account_lines: &str) -> PathBuf {
        let account = self.main_account();
        let rock_token = self.secret_file("rock.token", ROCK_TOKEN);
        let secret = self.secret_file("main.secret", &account.secret);
        let text = format!(
            "# Our church's sync.\ndata_dir = {data:?}\n\n[rock]\nurl = {rock:?}   # the office server\ntoken = {{ file = {rock_token:?} }}\n\n[pco]\napi_url = {pco:?}\n\n# Main campus: set up by Sam.\n[[accounts]]\nname = \"Main Campus\"\napp_id = {app:?}\nsecret = {{ file = {secret:?} }}\nwelcome_template = \"Planning Center Welcome E-Mail\"\nenabled_group_types = [\"Serving Team\"]\n{extra_account_lines}",
            data = self.data_dir().display().to_string(),
            rock = self.rock.base_url(),
            rock_token = rock_token.display().to_string(),
            pco = self.pco.base_url().trim_end_matches('/'),
            app = account.app_id,
            secret = secret.display().to_string(),
        );
        let path = self.default_config();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs `pcosync ARGS` with this world's home; `env` adds variables.
    async fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pcosync"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg"))
            .env("XDG_DATA_HOME", self.dir.path().join("xdg-data"))
            .env_remove("PCOSYNC_CONFIG")
            .env_remove("PCOSYNC_DATA_DIR")
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let output = tokio::task::spawn_blocking(move || command.output().expect("pcosync runs"))
            .await
            .unwrap();
        let run = Run::from(output);
        for secret in [ROCK_TOKEN, self.main_account().secret.as_str()] {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "a secret was printed by {args:?}:\n{run}"
            );
        }
        run
    }

    /// A Rock group mapped to a tag by the congregation, with its Rock id.
    fn tagged_group(&self) -> (String, i64, String) {
        let (index, group) = self
            .congregation
            .groups
            .iter()
            .enumerate()
            .find(|(_, g)| g.tag.is_some() && g.pco_account.as_deref() == Some("Main Campus"))
            .expect("a tag-mapped group");
        (
            group.tag.clone().unwrap(),
            self.rock.group_id(index).expect("the group is in Rock"),
            group.name.clone(),
        )
    }
}

/// The guest compiled once for all tests, copied into each data directory's compile cache, so
/// each run of the binary loads it in milliseconds.
fn warm_compile_cache(data_dir: &Path) {
    static WARM: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let shared = WARM.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_config_compiled");
        let cache = pcosync::runtime::cache::CompileCache::open_ambient(&dir).unwrap();
        let runtime = pcosync::Runtime::new(pcosync::Limits::default()).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap()
                    .block_on(runtime.load(pcosync::DEFAULT_GUEST, Some(&cache)))
                    .expect("the built-in guest loads");
            });
        });
        dir
    });
    let target = data_dir.join("compiled");
    std::fs::create_dir_all(&target).unwrap();
    // The cache's key comes with its entries (they carry its HMAC).
    std::fs::copy(
        pcosync::runtime::cache::CompileCache::key_path(shared),
        pcosync::runtime::cache::CompileCache::key_path(&target),
    )
    .unwrap();
    for entry in std::fs::read_dir(shared).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy().ends_with(".cwasm") {
            std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
        }
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    fn ok(&self) -> &Self {
        assert_eq!(self.code, Some(0), "{self}");
        self
    }

    /// Exit status 2 (bad configuration or usage), with `message` in what it printed.
    fn refused(&self, message: &str) -> &Self {
        assert_eq!(self.code, Some(2), "{self}");
        assert!(
            self.stdout.contains(message) || self.stderr.contains(message),
            "expected {message:?} in:\n{self}"
        );
        self
    }

    fn says(&self, text: &str) -> &Self {
        assert!(
            self.stdout.contains(text) || self.stderr.contains(text),
            "expected {text:?} in:\n{self}"
        );
        self
    }
}

// R31: from nothing, as a new user: the default path, `config set`, `account add` checking the
// welcome template against the account's real templates, list, templates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r31_add_an_account_from_nothing_at_the_default_path() {
    let w = World::start().await;
    let account = w.main_account();
    let secret = w.secret_file("main.secret", &account.secret);
    // No configuration yet: commands that need one say where they looked and how to make one.
    let config = w.default_config().display().to_string();
    w.run(&["sync", "--dry-run"], &[])
        .await
        .refused(&config)
        .says("(the default location)")
        .says("pcosync account add");
    w.run(&["config", "path"], &[])
        .await
        .ok()
        .says(&config)
        .says("does not exist yet");
    let data = w.data_dir().display().to_string();
    let rock_token = w
        .secret_file("rock.token", ROCK_TOKEN)
        .display()
        .to_string();
    w.run(
        &[
            "config",
            "set",
            &format!("rock.url={}", w.rock.base_url()),
            &format!("rock.token_file={rock_token}"),
            &format!("pco.api_url={}", w.pco.base_url().trim_end_matches('/')),
            &format!("data_dir={data}"),
        ],
        &[],
    )
    .await
    .ok()
    .says("created");
    // A template the account does not have is refused, with the nearest one, and nothing is
    // written.
    let before = std::fs::read_to_string(w.default_config()).unwrap();
    let add = |template: &'static str| {
        let secret = secret.display().to_string();
        let app_id = account.app_id.clone();
        let w = &w;
        async move {
            w.run(
                &[
                    "account",
                    "add",
                    "Main Campus",
                    "--app-id",
                    &app_id,
                    "--secret-file",
                    &secret,
                    "--welcome-template",
                    template,
                    "--allow-downgrade",
                    "--group-type",
                    "Serving Team",
                ],
                &[],
            )
            .await
        }
    };
    add("Planning Center Welcome Email")
        .await
        .refused("is not one of the account's email templates")
        .says("did you mean \"Planning Center Welcome E-Mail\"?")
        .says("Volunteer Onboarding");
    assert_eq!(std::fs::read_to_string(w.default_config()).unwrap(), before);
    add(pco_sandbox::WELCOME_TEMPLATE)
        .await
        .ok()
        .says("account \"Main Campus\" added")
        .says("* Planning Center Welcome E-Mail");
    add(pco_sandbox::WELCOME_TEMPLATE)
        .await
        .refused("already configured");
    let text = std::fs::read_to_string(w.default_config()).unwrap();
    let config = pcosync::config::Config::parse(&text).unwrap();
    let added = config.account("Main Campus").unwrap();
    assert!(added.allow_downgrade);
    assert_eq!(added.enabled_group_types, ["Serving Team"]);
    assert_eq!(
        added.secret,
        pcosync::secret::SecretRef::File(secret.clone())
    );
    let list = w.run(&["account", "list"], &[]).await;
    list.ok()
        .says("Main Campus")
        .says("Planning Center Welcome E-Mail");
    let json = w.run(&["account", "list", "--json"], &[]).await;
    let accounts: serde_json::Value = serde_json::from_str(&json.ok().stdout).unwrap();
    assert_eq!(accounts[0]["name"], "Main Campus");
    assert_eq!(accounts[0]["allow_downgrade"], true);
    w.run(&["account", "templates", "Main Campus"], &[])
        .await
        .ok()
        .says("Schedule Reminder")
        .says("* Planning Center Welcome E-Mail");
    w.run(&["config", "check"], &[])
        .await
        .ok()
        .says("all checks passed");
    // The configuration commands never open the state.
    assert!(!w.state_file().exists());
}

// R36: map a real tag to a real Rock group; unknown tags and groups are refused with the
// nearest names; list shows the mapping with the group's name; unmap; group types.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r36_map_list_and_unmap_tags_and_choose_group_types() {
    let w = World::start().await;
    w.write_config("");
    let (tag, group_id, group_name) = w.tagged_group();
    let id = group_id.to_string();
    let misspelt = format!("{tag}x");
    w.run(&["tag", "map", &misspelt, &id], &[])
        .await
        .refused(&format!("has no tag \"{misspelt}\" in PCO"))
        .says(&format!("did you mean \"{tag}\"?"));
    w.run(&["tag", "map", &tag, "999999"], &[])
        .await
        .refused("Rock has no group with id 999999");
    w.run(&["tag", "map", "NoColon", &id], &[])
        .await
        .refused("tag group:tag");
    w.run(&["tag", "map", "--account", "Main Campus", &tag, &id], &[])
        .await
        .ok()
        .says(&format!("tag \"{tag}\" mapped to Rock group {group_id}"))
        .says(&format!("[[accounts.tag_groups]]\n  + tag = {tag:?}"));
    let text = std::fs::read_to_string(w.default_config()).unwrap();
    assert!(text.starts_with("# Our church's sync.\n"), "{text}");
    assert!(text.contains("# the office server"), "{text}");
    assert!(
        text.contains("# Main campus: set up by Sam.\n[[accounts]]"),
        "{text}"
    );
    let config = pcosync::config::Config::parse(&text).unwrap();
    assert_eq!(config.accounts[0].tag_groups[0].group_id, group_id);
    // Mapping it again changes nothing.
    w.run(&["tag", "map", &tag, &id], &[])
        .await
        .ok()
        .says("already mapped");
    let list = w
        .run(&["tag", "list", "--account", "Main Campus"], &[])
        .await;
    let line = list
        .ok()
        .stdout
        .lines()
        .find(|l| l.starts_with(&tag))
        .unwrap_or_default()
        .to_string();
    assert!(line.contains(&format!("{group_id} {group_name}")), "{list}");
    let json = w.run(&["tag", "list", "--json"], &[]).await;
    let tags: serde_json::Value = serde_json::from_str(&json.ok().stdout).unwrap();
    let mapped = tags["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tag"] == tag.as_str())
        .unwrap();
    assert_eq!(mapped["groups"][0]["id"], group_id);
    w.run(&["tag", "unmap", &tag, "1"], &[])
        .await
        .refused("no mapping of");
    w.run(&["tag", "unmap", &tag], &[])
        .await
        .ok()
        .says("no longer mapped");
    let text = std::fs::read_to_string(w.default_config()).unwrap();
    assert!(!text.contains("tag_groups"), "{text}");
    // Group types (R36).
    w.run(&["group-types", "list"], &[])
        .await
        .ok()
        .says("\"Serving Team\"")
        .says("Security Role");
    w.run(&["group-types", "enable", "Security Role"], &[])
        .await
        .ok()
        .says("enabled");
    let text = std::fs::read_to_string(w.default_config()).unwrap();
    assert!(
        text.contains("enabled_group_types = [\"Serving Team\", \"Security Role\"]"),
        "{text}"
    );
    w.run(&["group-types", "disable", "serving team"], &[])
        .await
        .ok();
    w.run(&["group-types", "disable", "Small Group"], &[])
        .await
        .refused("is not enabled");
    let text = std::fs::read_to_string(w.default_config()).unwrap();
    assert!(
        text.contains("enabled_group_types = [\"Security Role\"]"),
        "{text}"
    );
}

// Issue 24 item 19 (R36, R32): a PCO tag name holding a terminal escape sequence (one that
// clears the screen) is printed escaped by `tag list` and `tag map`, never sent to the terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r36_escape_codes_in_pco_tag_names_never_reach_the_terminal_issue_24_item_19() {
    let w = World::start().await;
    w.write_config("");
    let evil = "Clear\u{1b}[2J\u{1b}[3J";
    w.pco
        .add_tag_group(&w.main_account().name, "Evil", &[evil])
        .expect("the account exists");
    let tag = format!("Evil:{evil}");
    let (_, group_id, _) = w.tagged_group();
    let runs = [
        w.run(&["tag", "list", "--account", "Main Campus"], &[])
            .await,
        w.run(&["tag", "map", &tag, &group_id.to_string()], &[])
            .await,
        w.run(&["tag", "map", "Evil:Clear", &group_id.to_string()], &[])
            .await,
        w.run(&["tag", "list"], &[]).await,
    ];
    // The log's own colours aside, the tag's sequences never reach stdout or stderr.
    for run in &runs {
        assert!(
            !run.stdout.contains('\u{1b}'),
            "an escape code reached the terminal:\n{run}"
        );
        for sequence in ["\u{1b}[2J", "\u{1b}[3J"] {
            assert!(
                !run.stderr.contains(sequence),
                "the tag's escape code reached the terminal:\n{run}"
            );
        }
    }
    runs[0].ok().says("Clear\\u{1b}[2J");
    runs[1].ok().says("Clear\\u{1b}[2J");
}

// R31: edit keeps the file's comments and refuses bad values; remove keeps the state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r31_edit_and_remove_an_account() {
    let w = World::start().await;
    let path = w.write_config("updates_only = false   # full syncs for now\n");
    let before = std::fs::read_to_string(&path).unwrap();
    w.run(
        &[
            "account",
            "edit",
            "Main Campus",
            "--updates-only",
            "--welcome-template",
            "Volunteer Onboarding",
            "--set",
            "brake_percent=5",
        ],
        &[],
    )
    .await
    .ok()
    .says("updates_only = true (was false)")
    .says("- updates_only = false   # full syncs for now")
    .says("+ updates_only = true   # full syncs for now");
    let after = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        after,
        before
            .replace(
                "welcome_template = \"Planning Center Welcome E-Mail\"",
                "welcome_template = \"Volunteer Onboarding\""
            )
            .replace("updates_only = false", "updates_only = true")
            + "brake_percent = 5\n"
    );
    // Bad edits: the key and the fix are named, the file is untouched, the status is 2.
    w.run(
        &[
            "account",
            "edit",
            "Main Campus",
            "--set",
            "brake_percent=500",
        ],
        &[],
    )
    .await
    .refused("brake_percent")
    .says("from 1 to 100");
    w.run(
        &[
            "account",
            "edit",
            "Main Campus",
            "--set",
            "welcome_templat=x",
        ],
        &[],
    )
    .await
    .refused("did you mean `welcome_template`?");
    w.run(
        &[
            "account",
            "edit",
            "Main Campus",
            "--welcome-template",
            "Nope",
        ],
        &[],
    )
    .await
    .refused("is not one of the account's email templates");
    w.run(
        &["account", "edit", "Main Campus", "--schedule", "hourly"],
        &[],
    )
    .await
    .refused("five fields");
    w.run(&["account", "edit", "Main Campos", "--updates-only"], &[])
        .await
        .refused("did you mean \"Main Campus\"?");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), after);
    // Remove: asks (refused without a terminal), then with --yes says the state is kept.
    std::fs::create_dir_all(w.data_dir()).unwrap();
    std::fs::write(w.state_file(), b"the state").unwrap();
    w.run(&["account", "remove", "Main Campus"], &[])
        .await
        .refused("pass --yes");
    w.run(&["account", "remove", "Main Campus", "--yes"], &[])
        .await
        .ok()
        .says("account \"Main Campus\" removed")
        .says("is kept in");
    assert_eq!(std::fs::read(w.state_file()).unwrap(), b"the state");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("Main Campus"), "{text}");
    assert!(text.contains("# the office server"), "{text}");
    w.run(&["account", "list"], &[])
        .await
        .ok()
        .says("No accounts");
}

// R31, R36: `config check` on a good configuration: one line per check, all ok.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_check_passes_on_a_good_configuration() {
    let w = World::start().await;
    let (tag, group_id, _) = w.tagged_group();
    w.write_config(&format!(
        "\n[[accounts.tag_groups]]\ntag = {tag:?}\ngroup_id = {group_id}\n"
    ));
    let check = w.run(&["config", "check"], &[]).await;
    check
        .ok()
        .says("ok      rock: connected to")
        .says("ok      account \"Main Campus\" secret: read from file")
        .says("ok      account \"Main Campus\" PCO: credentials accepted")
        .says("ok      account \"Main Campus\" welcome_template")
        .says("ok      account \"Main Campus\" tag_groups")
        .says("all checks passed");
    assert!(!check.stdout.contains("FAILED"), "{check}");
    assert!(!w.state_file().exists());
}

// Issue 23, R50: `config check` says exactly which PCO roles a sync needs: a People Editor +
// Services Scheduler token fails the check, naming the Services Administrator (or organization
// administrator) that Services permission changes need and what a run does without; a token
// that is not an organization administrator's is told it cannot edit PCO's organization and
// accounting administrators.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_check_names_the_pco_roles_a_sync_needs() {
    let w = World::start().await;
    w.write_config("");
    w.pco
        .set_token_user(pco_sandbox::TokenUser::people_editor_services(
            congregation::Level::Scheduler,
        ));
    let check = w.run(&["config", "check"], &[]).await;
    check
        .refused("needs Administrator in PCO Services")
        .says("People Editor (or Manager) and Services Administrator")
        .says("changes no Services permission")
        .says("organization and accounting administrators");
    w.pco
        .set_token_user(pco_sandbox::TokenUser::people_editor_services(
            congregation::Level::Administrator,
        ));
    let check = w.run(&["config", "check"], &[]).await;
    check
        .ok()
        .says("People Editor, Services Administrator")
        .says("organization and accounting administrators are not written");
    w.pco
        .set_token_user(pco_sandbox::TokenUser::ORGANIZATION_ADMINISTRATOR);
    let check = w.run(&["config", "check"], &[]).await;
    check.ok().says("organization administrator");
    assert!(!check.stdout.contains("PCO administrators"), "{check}");
}

// R31: every kind of broken configuration gives its message and the fix, exit status 2, and
// leaves the state alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_configurations_exit_2_with_their_message_and_touch_no_state() {
    let w = World::start().await;
    let good = std::fs::read_to_string(w.write_config("")).unwrap();
    let path = w.default_config();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "unknown key",
            good.replace("welcome_template =", "welcome_templat ="),
            vec!["key `welcome_templat`", "did you mean `welcome_template`?"],
        ),
        (
            "bad value",
            good.replace(
                "enabled_group_types",
                "conflict_policy = \"pco-wins\"\nenabled_group_types",
            ),
            vec!["key `conflict_policy`", "rock-wins", "newest-wins"],
        ),
        (
            "secret written inline",
            good.replace(
                &format!(
                    "secret = {{ file = {:?} }}",
                    w.dir
                        .path()
                        .join("secrets/main.secret")
                        .display()
                        .to_string()
                ),
                &format!("secret = {:?}", w.main_account().secret),
            ),
            vec!["key `secret`", "never the secret itself"],
        ),
        (
            "missing secret",
            good.replace(
                &format!(
                    "secret = {{ file = {:?} }}",
                    w.dir
                        .path()
                        .join("secrets/main.secret")
                        .display()
                        .to_string()
                ),
                "secret = { env = \"PCOSYNC_TEST_UNSET_SECRET\" }",
            ),
            vec![
                "FAILED  account \"Main Campus\" secret",
                "PCOSYNC_TEST_UNSET_SECRET is not set",
            ],
        ),
        (
            "unreachable Rock",
            good.replace(&w.rock.base_url(), &format!("http://{}", closed_port())),
            vec![
                "FAILED  rock: cannot connect to Rock",
                "check `url` of [rock]",
            ],
        ),
        (
            "wrong PCO credentials",
            good.replace(&w.main_account().app_id, "0000not-the-app-id"),
            vec!["FAILED  account \"Main Campus\" PCO", "401"],
        ),
    ];
    for (what, text, messages) in cases {
        assert_ne!(text, good, "{what}: the case changes nothing");
        std::fs::write(&path, &text).unwrap();
        let check = w.run(&["config", "check"], &[]).await;
        for message in &messages {
            check.refused(message);
        }
        // Mistakes in the file itself stop every command before it starts.
        if matches!(what, "unknown key" | "bad value" | "secret written inline") {
            let sync = w.run(&["sync", "--dry-run"], &[]).await;
            sync.refused(messages[0]);
            w.run(&["tag", "list"], &[]).await.refused(messages[0]);
        }
        assert!(!w.state_file().exists(), "{what}: the state was touched");
    }
}

/// A loopback port nothing listens on.
fn closed_port() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

// The configuration file is found by --config, then PCOSYNC_CONFIG, then the default path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configuration_is_found_by_flag_environment_and_default() {
    let w = World::start().await;
    let default = w.write_config("");
    let other = w.dir.path().join("other.toml");
    w.run(&["config", "path"], &[])
        .await
        .ok()
        .says(&format!("{} (the default location)", default.display()));
    let other_text = other.display().to_string();
    w.run(
        &["config", "path"],
        &[("PCOSYNC_CONFIG", other_text.as_str())],
    )
    .await
    .ok()
    .says(&format!("{other_text} (from PCOSYNC_CONFIG)"));
    w.run(&["--config", &other_text, "config", "path"], &[])
        .await
        .ok()
        .says("(from --config)");
    // A named file that does not exist: the same advice, naming that file.
    w.run(&["--config", &other_text, "account", "list"], &[])
        .await
        .refused(&format!(
            "no configuration file at {other_text} (from --config)"
        ))
        .says(&format!("pcosync --config \"{other_text}\" account add"));
    w.run(
        &[
            "--config",
            &other_text,
            "account",
            "add",
            "X",
            "--app-id",
            "a",
            "--secret-env",
            "X_SECRET",
            "--no-check",
        ],
        &[],
    )
    .await
    .ok()
    .says(&format!("created {other_text}"));
    w.run(&["--config", &other_text, "account", "list"], &[])
        .await
        .ok()
        .says("env X_SECRET");
}

/// `GET` on the Rock sandbox's API with the REST key.
async fn rock_get(w: &World, path: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{}{path}", w.rock.base_url().trim_end_matches('/')))
        .header("Authorization-Token", ROCK_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The `values` qualifier (the choices) of the PCO Tags person attribute.
async fn tag_choices(w: &World) -> String {
    let attributes = rock_get(
        w,
        "/api/Attributes?$filter=Key%20eq%20'PCOTags'&$expand=AttributeQualifiers",
    )
    .await;
    attributes[0]["AttributeQualifiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["Key"] == "values")
        .and_then(|q| q["Value"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The value of `key` in the first object (depth first) whose `id_key` is `id`.
fn find_by(value: &serde_json::Value, id_key: &str, id: i64, key: &str) -> Option<String> {
    match value {
        serde_json::Value::Object(map) => {
            if map.get(id_key).and_then(|v| v.as_i64()) == Some(id) {
                return map.get(key).and_then(|v| v.as_str()).map(str::to_string);
            }
            map.values().find_map(|v| find_by(v, id_key, id, key))
        }
        serde_json::Value::Array(list) => list.iter().find_map(|v| find_by(v, id_key, id, key)),
        _ => None,
    }
}

// Seed 000 "Update Tags" (issue 13), R2 a, R13, R14: `rock init` fills the PCO Tags choices
// with the account's PCO tags, the group-controlled ones marked with an asterisk in the text
// only; `rock tags` again writes nothing; a value picked from those choices, as Rock's
// profile stores it, is synced to PCO by the next sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r2a_r14_rock_tags_offers_the_accounts_tags_and_a_picked_one_syncs() {
    let w = World::start().await;
    let (mapped, group_id, _) = w.tagged_group();
    w.write_config(&format!(
        "\n[[accounts.tag_groups]]\ntag = {mapped:?}\ngroup_id = {group_id}\n"
    ));
    let listed = w.run(&["tag", "list", "--json"], &[]).await;
    let listed: serde_json::Value = serde_json::from_str(&listed.ok().stdout).unwrap();
    let pco_tags: Vec<String> = listed["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tag"].as_str().unwrap().to_string())
        .collect();
    assert!(pco_tags.len() > 1, "{listed}");
    w.run(&["rock", "init"], &[]).await.ok().says(&format!(
        "PCO Tags choices: {} tags (1 group-controlled, marked with *): updated",
        pco_tags.len()
    ));
    let choices = tag_choices(&w).await;
    let options: Vec<&str> = choices.split(',').collect();
    assert_eq!(options.len(), pco_tags.len(), "{choices}");
    for tag in &pco_tags {
        let wanted = if *tag == mapped {
            format!("Main Campus:{tag}^{tag} *")
        } else {
            format!("Main Campus:{tag}^{tag}")
        };
        assert!(options.contains(&wanted.as_str()), "{wanted} in {choices}");
    }
    // Again: nothing written, one read.
    w.rock.clear_requests();
    w.run(&["rock", "tags"], &[])
        .await
        .ok()
        .says("already up to date, nothing written");
    let touched: Vec<String> = w
        .rock
        .requests()
        .iter()
        .filter(|r| r.path.contains("AttributeQualifiers"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(touched.len(), 1, "{touched:?}");
    assert!(touched[0].starts_with("GET /api/Attributes"), "{touched:?}");
    assert_eq!(tag_choices(&w).await, choices);
    // Staff pick an unmapped tag on a new person's profile: Rock stores the option's value.
    let picked = pco_tags.iter().find(|t| **t != mapped).unwrap();
    let value = format!("Main Campus:{picked}");
    let client = reqwest::Client::new();
    let base = w.rock.base_url().trim_end_matches('/').to_string();
    let person: i64 = client
        .post(format!("{base}/api/People"))
        .header("Authorization-Token", ROCK_TOKEN)
        .json(&serde_json::json!({"FirstName": "Tabitha", "LastName": "Picked", "Email": "tabitha.picked@example.org"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let set = client
        .post(format!("{base}/api/People/AttributeValue/{person}"))
        .query(&[
            ("attributeKey", "PCOTags"),
            ("attributeValue", value.as_str()),
        ])
        .header("Authorization-Token", ROCK_TOKEN)
        // IIS answers 411 to a body-less POST without a length.
        .header(reqwest::header::CONTENT_LENGTH, 0)
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 202);
    // The generated congregation has people who fail on purpose (status 3); ours is not one.
    let sync = w.run(&["sync", "--account", "Main Campus"], &[]).await;
    assert!(matches!(sync.code, Some(0 | 3)), "{sync}");
    assert!(
        !sync.stdout.contains(&format!("Rock {person}: failed")),
        "{sync}"
    );
    let status = w
        .run(
            &[
                "status",
                "--account",
                "Main Campus",
                "--person",
                &person.to_string(),
                "--json",
            ],
            &[],
        )
        .await;
    let status: serde_json::Value = serde_json::from_str(&status.ok().stdout).unwrap();
    let pco_id = find_by(&status, "rock_id", person, "pco_id")
        .or_else(|| find_by(&status, "rock-id", person, "pco-id"))
        .unwrap_or_else(|| panic!("person {person} synced: {status}"));
    let pco = w.pco.person_state("Main Campus", &pco_id).unwrap();
    assert_eq!(pco["tags"], serde_json::json!([picked]), "{pco}");
}

/// The `values` qualifier of the PCO Account attribute on the groups of `group_type`, when
/// there is one.
async fn account_choices_on(w: &World, group_type: i64) -> Option<String> {
    let attributes = rock_get(
        w,
        "/api/Attributes?$filter=Key%20eq%20'PCOAccount'&$expand=AttributeQualifiers",
    )
    .await;
    let attribute = attributes.as_array()?.iter().find(|a| {
        a["EntityTypeQualifierColumn"] == "GroupTypeId"
            && a["EntityTypeQualifierValue"].as_str() == Some(group_type.to_string().as_str())
    })?;
    Some(
        attribute["AttributeQualifiers"]
            .as_array()?
            .iter()
            .find(|q| q["Key"] == "values")?["Value"]
            .as_str()?
            .to_string(),
    )
}

// Seed 000 "Configure Permission Groups", R2 b, R36 (issue 13): enabling a group type puts
// PCO Account (chosen from the configured accounts, not typed) and PCO Permission Level on its
// groups; adding an account adds it to the choices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enabling_a_group_type_gives_its_groups_the_account_choice() {
    let w = World::start().await;
    w.write_config("");
    let types = rock_get(&w, "/api/GroupTypes?$filter=Name%20eq%20'Small%20Group'").await;
    let small = types[0]["Id"].as_i64().expect("the Small Group type");
    assert_eq!(
        account_choices_on(&w, small).await,
        None,
        "precondition: small groups have no PCO Account yet"
    );
    w.run(
        &[
            "group-types",
            "enable",
            "--account",
            "Main Campus",
            "Small Group",
        ],
        &[],
    )
    .await
    .ok()
    .says(&format!(
        "created group attribute on group type {small} PCOAccount"
    ))
    .says(&format!(
        "created group attribute on group type {small} PCOPermissionLevel"
    ));
    assert_eq!(
        account_choices_on(&w, small).await.as_deref(),
        Some("Main Campus")
    );
    // A second account (of another PCO organization: one organization, one account), saved:
    // it is offered too.
    let account = w.second_account();
    let secret = w.secret_file("north.secret", &account.secret);
    w.run(
        &[
            "account",
            "add",
            "North Campus",
            "--app-id",
            &account.app_id,
            "--secret-file",
            &secret.display().to_string(),
        ],
        &[],
    )
    .await
    .ok()
    .says("account \"North Campus\" added");
    assert_eq!(
        account_choices_on(&w, small).await.as_deref(),
        Some("Main Campus,North Campus")
    );
}

// Seed 000 "Update Tags" (issue 13): the PCO Tags choices follow PCO with no hand refresh:
// after each full sync (a dry run and an updates-only run write none), and whenever the
// account is saved (here a tag mapped to a group: its asterisk appears).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_choices_follow_pco_after_each_full_sync_and_each_account_save() {
    let w = World::start().await;
    w.write_config("");
    w.run(&["rock", "tags"], &[]).await.ok();
    let before = tag_choices(&w).await;
    assert!(
        !before.is_empty() && !before.contains("Rotations"),
        "{before}"
    );
    w.pco
        .add_tag_group("Main Campus", "Rotations", &["Early", "Late"])
        .expect("the tag group is added");
    let dry = w
        .run(&["sync", "--account", "Main Campus", "--dry-run"], &[])
        .await;
    assert!(matches!(dry.code, Some(0 | 3)), "{dry}");
    assert_eq!(tag_choices(&w).await, before, "a dry run writes nothing");
    let sync = w.run(&["sync", "--account", "Main Campus"], &[]).await;
    assert!(matches!(sync.code, Some(0 | 3)), "{sync}");
    let after = tag_choices(&w).await;
    assert!(
        after.contains("Main Campus:Rotations:Early^Rotations:Early"),
        "{after}"
    );
    w.pco
        .add_tag_group("Main Campus", "Shifts", &["Night"])
        .expect("the tag group is added");
    let quick = w
        .run(&["sync", "--account", "Main Campus", "--updates-only"], &[])
        .await;
    assert!(matches!(quick.code, Some(0 | 3)), "{quick}");
    assert_eq!(
        tag_choices(&w).await,
        after,
        "an updates-only run is not a full one"
    );
    let prayer = w
        .congregation
        .groups
        .iter()
        .position(|g| g.name == "Prayer Team")
        .and_then(|index| w.rock.group_id(index))
        .expect("the Prayer Team group");
    w.run(
        &[
            "tag",
            "map",
            "--account",
            "Main Campus",
            "Rotations:Late",
            &prayer.to_string(),
        ],
        &[],
    )
    .await
    .ok();
    let mapped = tag_choices(&w).await;
    assert!(
        mapped.contains("Main Campus:Rotations:Late^Rotations:Late *"),
        "{mapped}"
    );
    assert!(
        mapped.contains("Main Campus:Shifts:Night^Shifts:Night"),
        "{mapped}"
    );
}

// R3, R12 (issue 24 item 9): each account has its own people and its own part of the shared
// "PCO Tags" attribute; two accounts that reach one PCO organization (the same credentials
// under two names) would sync one set of people twice and fight over their tags. `config
// check` fails such a configuration naming both accounts, and `account add` refuses the
// second one and saves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r3_two_accounts_on_one_pco_organization_are_refused() {
    let w = World::start().await;
    let account = w.main_account();
    let secret = w.secret_file("main.secret", &account.secret);
    let path = w.write_config(&format!(
        "\n[[accounts]]\nname = \"North Campus\"\napp_id = {:?}\nsecret = {{ file = {:?} }}\n",
        account.app_id,
        secret.display().to_string()
    ));
    w.run(&["config", "check"], &[])
        .await
        .refused("the same PCO organization")
        .says("\"Main Campus\"")
        .says("\"North Campus\"");

    let path_text = w.write_config("");
    assert_eq!(path_text, path);
    let before = std::fs::read_to_string(&path).unwrap();
    w.run(
        &[
            "account",
            "add",
            "North Campus",
            "--app-id",
            &account.app_id,
            "--secret-file",
            &secret.display().to_string(),
        ],
        &[],
    )
    .await
    .refused("the same PCO organization")
    .says("\"Main Campus\"");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);

    // Another organization's account is added.
    let other = w.second_account();
    let other_secret = w.secret_file("north.secret", &other.secret);
    w.run(
        &[
            "account",
            "add",
            "North Campus",
            "--app-id",
            &other.app_id,
            "--secret-file",
            &other_secret.display().to_string(),
        ],
        &[],
    )
    .await
    .ok();
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("North Campus")
    );
}

// R12, R53 (issue 24 item 15): an email change from PCO that the sync held (the person has a
// Rock login or account protection Medium and above) is listed, shown by `status`, and
// confirmed with one command, for the next sync to write; a person with nothing waiting is
// refused with exit status 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_email_changes_are_listed_shown_and_confirmed_with_one_command() {
    use pcosync::bindings::state::{Entry, Write};
    use pcosync::state::StateStore;
    let w = World::start().await;
    w.write_config("");
    let held = br#"{"pco":"10000077","email":"new.address@example.net"}"#.to_vec();
    {
        let state = pcosync::connect::open_state(&w.data_dir()).unwrap();
        state
            .commit(
                "Main Campus",
                &[Write::Put(Entry {
                    key: "email-held/1005".into(),
                    value: held.clone(),
                })],
            )
            .unwrap();
    }
    w.run(&["email", "list"], &[])
        .await
        .ok()
        .says("Rock 1005 (PCO 10000077): new.address@example.net (waiting)");
    w.run(&["status", "--account", "Main Campus"], &[])
        .await
        .ok()
        .says("1 email change from PCO waits for an administrator")
        .says("Rock 1005");
    w.run(&["email", "confirm", "1006"], &[])
        .await
        .refused("no email change from PCO waits for Rock person 1006");
    w.run(&["email", "confirm", "1005"], &[])
        .await
        .ok()
        .says("the next sync of \"Main Campus\" writes PCO's email");
    let state = pcosync::connect::open_state(&w.data_dir()).unwrap();
    let confirmed = state
        .get("Main Campus", &["email-confirmed/1005".to_string()])
        .unwrap()
        .pop()
        .flatten();
    assert_eq!(confirmed, Some(held));
    w.run(&["email", "list"], &[])
        .await
        .ok()
        .says("(confirmed: the next sync writes it)");
}
