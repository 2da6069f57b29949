//! The plugin lifecycle: a component is checked before it is put in service, a bad one leaves
//! the one in service as it was, rollback returns to the previous one, signatures are required
//! when the configuration says so. The components come from tests/misbehave's build script
//! (variants that fail each check) and from the host itself (the built-in guest).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use misbehaving_guest::components;
use pcosync::config::Config;
use pcosync::plugin::signature::{self, SignatureError};
use pcosync::plugin::{self, GuestSource, PluginError, Refusal};
use pcosync::runtime::LoadError;
use pcosync::{Limits, Runtime};

fn runtime() -> Runtime {
    Runtime::new(Limits::default()).expect("the engine starts")
}

/// A copy of `bytes` named `name` in `dir`, as an administrator would have downloaded it.
fn file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn config(text: &str) -> Config {
    Config::parse(text).expect("the test configuration parses")
}

/// What the plugins directory holds, by file name.
fn stored(data: &Path) -> BTreeSet<String> {
    std::fs::read_dir(data.join("plugins"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The sha256 of the component `resolve` would run, and where it comes from.
fn in_service(config: &Config, data: &Path) -> (GuestSource, String) {
    std::fs::create_dir_all(data).unwrap();
    let dir = cap_std::fs::Dir::open_ambient_dir(data, cap_std::ambient_authority()).unwrap();
    let (source, bytes) = plugin::resolve(config, &dir).unwrap();
    (source, sha256(&bytes))
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test]
async fn a_good_component_is_installed_kept_and_put_in_service() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = config("");
    assert_eq!(in_service(&config, &data).0, GuestSource::BuiltIn);

    let good = components::read(components::GOOD);
    let path = file(tmp.path(), "good.wasm", &good);
    let installed = plugin::install(&runtime(), &config.plugins, &data, &path)
        .await
        .expect("a good component installs");
    assert_eq!(installed.entry.sha256, sha256(&good));
    assert_eq!(installed.entry.contract_version, "0.3.0");
    assert_eq!(installed.entry.source, "good.wasm");
    assert!(installed.replaced.is_none());
    assert!(installed.compiled);

    let (source, digest) = in_service(&config, &data);
    assert!(matches!(source, GuestSource::Installed(ref e) if e.sha256 == digest));
    assert_eq!(digest, sha256(&good));
    assert_eq!(
        stored(&data),
        BTreeSet::from(["manifest.json".to_string(), format!("{digest}.wasm")])
    );
    // The install compiled it into the cache the runs use: loading it again compiles nothing.
    let cache =
        pcosync::runtime::cache::CompileCache::open_ambient(&data.join("compiled")).unwrap();
    assert!(
        runtime()
            .load(&good, Some(&cache))
            .await
            .unwrap()
            .from_cache
    );

    // The configuration's `component` still overrides what is installed.
    let other = file(tmp.path(), "other.wasm", pcosync::DEFAULT_GUEST);
    let overriding = crate::config(&format!("component = {:?}\n", other.display().to_string()));
    assert_eq!(
        in_service(&overriding, &data),
        (
            GuestSource::Configured(other),
            sha256(pcosync::DEFAULT_GUEST)
        )
    );

    // Installing the same component again changes nothing.
    let again = plugin::install(&runtime(), &config.plugins, &data, &path)
        .await
        .unwrap();
    assert!(again.unchanged);
    assert!(plugin::list(&data).unwrap().previous.is_none());
}

/// Every check a component can fail, each refused with a message naming the file and leaving
/// the component in service, and the plugins directory, exactly as they were.
#[tokio::test]
async fn bad_components_are_refused_and_leave_the_old_one_in_service() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = config("");
    let runtime = runtime();
    let good = file(tmp.path(), "good.wasm", &components::read(components::GOOD));
    plugin::install(&runtime, &config.plugins, &data, &good)
        .await
        .unwrap();
    let before = (plugin::list(&data).unwrap(), stored(&data));

    let cases: [(&str, Vec<u8>); 4] = [
        (
            "wrong-version.wasm",
            components::read(components::WRONG_VERSION),
        ),
        ("trap.wasm", components::read(components::TRAP_SELF_CHECK)),
        // A valid core module, but not a component.
        ("core.wasm", b"\0asm\x01\0\0\0".to_vec()),
        (
            "notes.wasm",
            b"these are not the bytes you are looking for".to_vec(),
        ),
    ];
    for (name, bytes) in cases {
        let path = file(tmp.path(), name, &bytes);
        let error = plugin::install(&runtime, &config.plugins, &data, &path)
            .await
            .expect_err(name);
        let message = error.to_string();
        let PluginError::Refused { reason, .. } = &error else {
            panic!("{name}: expected a refusal, got {error:?}");
        };
        match name {
            "wrong-version.wasm" => {
                assert!(
                    matches!(reason, Refusal::Load(LoadError::WrongVersion { found }) if found == "0.4.0"),
                    "{message}"
                );
                assert!(message.contains("accepts 0.3.x only"), "{message}");
            }
            "trap.wasm" => assert!(
                matches!(reason, Refusal::Load(LoadError::SelfCheck(_))),
                "{message}"
            ),
            _ => assert!(
                matches!(reason, Refusal::Load(LoadError::NotAComponent(_))),
                "{message}"
            ),
        }
        assert!(
            message.starts_with(&format!("{} was not installed", path.display())),
            "{message}"
        );
        assert!(
            message.contains("The component in service is unchanged: sha256"),
            "{message}"
        );
        assert_eq!(
            (plugin::list(&data).unwrap(), stored(&data)),
            before,
            "{name} changed the installed components"
        );
    }
}

#[tokio::test]
async fn rollback_returns_to_the_previous_component_and_a_second_one_undoes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = config("");
    let runtime = runtime();
    let error = plugin::rollback(&runtime, &config.plugins, &data)
        .await
        .unwrap_err();
    assert!(matches!(error, PluginError::NothingToRollBack), "{error}");

    let first = components::read(components::GOOD);
    let second = pcosync::DEFAULT_GUEST.to_vec();
    for (name, bytes) in [("first.wasm", &first), ("second.wasm", &second)] {
        let path = file(tmp.path(), name, bytes);
        plugin::install(&runtime, &config.plugins, &data, &path)
            .await
            .unwrap();
    }
    assert_eq!(in_service(&config, &data).1, sha256(&second));

    let manifest = plugin::rollback(&runtime, &config.plugins, &data)
        .await
        .unwrap();
    assert_eq!(manifest.current.unwrap().sha256, sha256(&first));
    assert_eq!(manifest.previous.unwrap().sha256, sha256(&second));
    assert_eq!(in_service(&config, &data).1, sha256(&first));
    // Both files are kept, so a second rollback can return.
    assert!(stored(&data).contains(&format!("{}.wasm", sha256(&second))));

    plugin::rollback(&runtime, &config.plugins, &data)
        .await
        .unwrap();
    assert_eq!(in_service(&config, &data).1, sha256(&second));

    // With one component installed, rollback returns to the built-in one.
    let data = tmp.path().join("data-2");
    let path = file(tmp.path(), "first.wasm", &first);
    plugin::install(&runtime, &config.plugins, &data, &path)
        .await
        .unwrap();
    let manifest = plugin::rollback(&runtime, &config.plugins, &data)
        .await
        .unwrap();
    assert!(manifest.current.is_none());
    assert_eq!(in_service(&config, &data).0, GuestSource::BuiltIn);
}

/// A crash mid-install leaves, at worst, a component file the manifest does not name and a
/// temporary manifest: the component in service is the old one, and the next install tidies
/// up. An installed file that was tampered with is refused, not run.
#[tokio::test]
async fn a_crash_mid_install_leaves_the_old_component_and_a_damaged_one_is_not_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = config("");
    let runtime = runtime();
    let good = components::read(components::GOOD);
    plugin::install(
        &runtime,
        &config.plugins,
        &data,
        &file(tmp.path(), "good.wasm", &good),
    )
    .await
    .unwrap();

    // The crash: the new component's file written, the new manifest half written.
    let plugins = data.join("plugins");
    let new = pcosync::DEFAULT_GUEST;
    std::fs::write(plugins.join(format!("{}.wasm", sha256(new))), new).unwrap();
    std::fs::write(
        plugins.join("manifest.json.partial-4242"),
        b"{\"format\": 1, \"cur",
    )
    .unwrap();
    assert_eq!(in_service(&config, &data).1, sha256(&good));

    // The next install (of the same new component) completes and tidies up.
    plugin::install(
        &runtime,
        &config.plugins,
        &data,
        &file(tmp.path(), "new.wasm", new),
    )
    .await
    .unwrap();
    assert_eq!(in_service(&config, &data).1, sha256(new));
    assert!(!stored(&data).iter().any(|name| name.contains(".partial-")));

    // Tampering: the installed file no longer matches its hash.
    std::fs::write(plugins.join(format!("{}.wasm", sha256(new))), &good).unwrap();
    let dir = cap_std::fs::Dir::open_ambient_dir(&data, cap_std::ambient_authority()).unwrap();
    let error = plugin::resolve(&config, &dir).unwrap_err().to_string();
    assert!(error.contains("missing or damaged"), "{error}");
    assert!(error.contains("pcosync plugin rollback"), "{error}");
}

#[tokio::test]
async fn signed_components_only_when_the_configuration_requires_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (key_file, public) = signature::generate();
    let key = signature::signing_key(&key_file).unwrap();
    let (stranger_file, _) = signature::generate();
    let stranger = signature::signing_key(&stranger_file).unwrap();
    let config = config(&format!(
        "[plugins]\ntrusted_keys = [\"{public}\"]\nrequire_signature = true\n"
    ));
    let runtime = runtime();

    let good = components::read(components::GOOD);
    let signed = file(tmp.path(), "signed.wasm", &good);
    file(
        tmp.path(),
        "signed.wasm.sig",
        signature::sign(&good, &key).as_bytes(),
    );
    let installed = plugin::install(&runtime, &config.plugins, &data, &signed)
        .await
        .expect("a component signed by a trusted key installs");
    assert_eq!(installed.entry.signed_by, Some(public.to_base64()));
    let before = (plugin::list(&data).unwrap(), stored(&data));
    assert!(before.1.contains(&format!("{}.wasm.sig", sha256(&good))));

    let next = pcosync::DEFAULT_GUEST;
    let unsigned = file(tmp.path(), "unsigned.wasm", next);
    let by_stranger = file(tmp.path(), "stranger.wasm", next);
    file(
        tmp.path(),
        "stranger.wasm.sig",
        signature::sign(next, &stranger).as_bytes(),
    );
    // A trusted signature, but of another file.
    let swapped = file(tmp.path(), "swapped.wasm", next);
    file(
        tmp.path(),
        "swapped.wasm.sig",
        signature::sign(&good, &key).as_bytes(),
    );
    let garbled = file(tmp.path(), "garbled.wasm", next);
    file(
        tmp.path(),
        "garbled.wasm.sig",
        b"-----BEGIN PGP SIGNATURE-----",
    );

    for path in [&unsigned, &by_stranger, &swapped, &garbled] {
        let error = plugin::install(&runtime, &config.plugins, &data, path)
            .await
            .expect_err("refused");
        let message = error.to_string();
        let name = path.display().to_string();
        let PluginError::Refused {
            reason: Refusal::Signature(reason),
            ..
        } = &error
        else {
            panic!("{name}: expected a signature refusal, got {error:?}");
        };
        match path.file_name().unwrap().to_str().unwrap() {
            "unsigned.wasm" => {
                assert!(matches!(reason, SignatureError::Unsigned { .. }));
                assert!(
                    message.contains(&format!("{name} is not signed")),
                    "{message}"
                );
                assert!(
                    message.contains(&format!("pcosync plugin sign {name} --key KEYFILE")),
                    "{message}"
                );
            }
            "stranger.wasm" => {
                assert!(matches!(reason, SignatureError::UntrustedKey { .. }));
                assert!(message.contains("not in plugins.trusted_keys"), "{message}");
            }
            "swapped.wasm" => {
                assert!(matches!(reason, SignatureError::Mismatch { .. }));
                assert!(
                    message.contains(&format!("{name}.sig does not match {name}")),
                    "{message}"
                );
            }
            _ => {
                assert!(matches!(reason, SignatureError::Malformed { .. }));
                assert!(message.contains("is not a pcosync signature"), "{message}");
            }
        }
        assert!(
            message.contains("The component in service is unchanged"),
            "{message}"
        );
        assert_eq!((plugin::list(&data).unwrap(), stored(&data)), before);
    }

    // Without the requirement, an unsigned component installs; a bad signature still does not.
    let relaxed = crate::config(&format!("[plugins]\ntrusted_keys = [\"{public}\"]\n"));
    let error = plugin::install(&runtime, &relaxed.plugins, &data, &swapped)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("does not match"), "{error}");
    plugin::install(&runtime, &relaxed.plugins, &data, &unsigned)
        .await
        .expect("unsigned installs when signatures are not required");

    // ...and a host that requires signatures will not run that unsigned component.
    let dir = cap_std::fs::Dir::open_ambient_dir(&data, cap_std::ambient_authority()).unwrap();
    let error = plugin::resolve(&config, &dir).unwrap_err().to_string();
    assert!(error.contains("cannot be used"), "{error}");
    assert!(error.contains("is not signed"), "{error}");
}

#[test]
fn the_plugins_table_is_checked_when_the_configuration_loads() {
    let error = Config::parse("[plugins]\nrequire_signature = true\n").unwrap_err();
    assert!(error.contains("trusted_keys is empty"), "{error}");
    let error = Config::parse("[plugins]\ntrusted_keys = [\"abc\"]\n").unwrap_err();
    assert!(error.contains("plugins.trusted_keys"), "{error}");
    let error = Config::parse("[plugins]\ntrusted = []\n").unwrap_err();
    assert!(error.contains("trusted"), "{error}");
    let (_, public) = signature::generate();
    let hex_key = hex::encode(base64_decode(&public.to_base64()));
    let config = Config::parse(&format!(
        "[plugins]\ntrusted_keys = [\"{hex_key}\"]\nrequire_signature = true\n"
    ))
    .unwrap();
    assert_eq!(config.plugins.trusted_keys, vec![public]);
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

// ---- The command line ------------------------------------------------------------------------

fn pcosync(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pcosync"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("PCOSYNC_CONFIG")
        .env_remove("PCOSYNC_DATA_DIR")
        .env("RUST_LOG", "warn")
        .output()
        .expect("pcosync runs")
}

fn text(output: &[u8]) -> String {
    String::from_utf8_lossy(output).into_owned()
}

/// The publisher's side and the host's side, as the commands do them.
#[test]
fn keygen_sign_install_list_rollback_on_the_command_line() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let empty = file(tmp.path(), "empty.toml", b"");
    let key = tmp.path().join("publisher.key");

    let out = pcosync(&empty, &["plugin", "keygen", key.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let public = std::fs::read_to_string(tmp.path().join("publisher.key.pub"))
        .unwrap()
        .trim()
        .to_string();
    assert!(text(&out.stdout).contains(&format!("trusted_keys = [\"{public}\"]")));
    let key_text = std::fs::read_to_string(&key).unwrap();
    let seed = key_text
        .lines()
        .find_map(|line| line.strip_prefix("pcosync-signing-key-v1 "))
        .expect("the key file holds the key");
    assert!(!text(&out.stdout).contains(seed) && !text(&out.stderr).contains(seed));
    let again = pcosync(&empty, &["plugin", "keygen", key.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("exists already"),
        "{}",
        text(&again.stderr)
    );

    let data = tmp.path().join("data");
    let config = file(
        tmp.path(),
        "pcosync.toml",
        format!(
            "data_dir = {:?}\n[plugins]\ntrusted_keys = [\"{public}\"]\nrequire_signature = true\n",
            data.display().to_string()
        )
        .as_bytes(),
    );
    let good = file(tmp.path(), "good.wasm", &components::read(components::GOOD));
    let out = pcosync(&config, &["plugin", "install", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("good.wasm is not signed"), "{stderr}");
    assert!(
        stderr.contains("The built-in component stays in service"),
        "{stderr}"
    );

    let out = pcosync(
        &config,
        &[
            "plugin",
            "sign",
            good.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = pcosync(&config, &["plugin", "install", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("installed"), "{stdout}");
    assert!(stdout.contains(&format!("signed by {public}")), "{stdout}");

    let wrong = file(
        tmp.path(),
        "wrong.wasm",
        &components::read(components::WRONG_VERSION),
    );
    pcosync(
        &config,
        &[
            "plugin",
            "sign",
            wrong.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    );
    let out = pcosync(&config, &["plugin", "install", wrong.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("speaks contract 0.4.0"), "{stderr}");
    assert!(
        stderr.contains("The component in service is unchanged"),
        "{stderr}"
    );

    let out = pcosync(&config, &["plugin", "list"]);
    let digest = sha256(&components::read(components::GOOD));
    assert!(
        text(&out.stdout).contains(&format!("current      sha256 {digest}")),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stdout).contains("previous     the built-in component"));

    let out = pcosync(&config, &["plugin", "rollback"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("the built-in component is in service"));
}

/// A `component = PATH` in the configuration is held to `require_signature` like an installed
/// one: unsigned, or signed by a stranger, it is refused; signed by a trusted key, it runs.
#[test]
fn a_configured_component_obeys_require_signature() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let dir = cap_std::fs::Dir::open_ambient_dir(&data, cap_std::ambient_authority()).unwrap();
    let (key_file, public) = signature::generate();
    let key = signature::signing_key(&key_file).unwrap();
    let (stranger_file, _) = signature::generate();
    let stranger = signature::signing_key(&stranger_file).unwrap();
    let good = components::read(components::GOOD);
    let path = file(tmp.path(), "configured.wasm", &good);
    let configured = |require: bool| {
        config(&format!(
            "component = \"{}\"\n[plugins]\ntrusted_keys = [\"{public}\"]\nrequire_signature = {require}\n",
            path.display()
        ))
    };
    let refused = plugin::resolve(&configured(true), &dir)
        .unwrap_err()
        .to_string();
    assert!(refused.contains("configured.wasm"), "{refused}");
    assert!(refused.contains("pcosync plugin sign"), "{refused}");
    // Without the requirement, an unsigned configured component runs as before.
    assert!(plugin::resolve(&configured(false), &dir).is_ok());
    file(
        tmp.path(),
        "configured.wasm.sig",
        signature::sign(&good, &stranger).as_bytes(),
    );
    assert!(plugin::resolve(&configured(true), &dir).is_err());
    assert!(
        plugin::resolve(&configured(false), &dir).is_err(),
        "a bad signature is never let through"
    );
    file(
        tmp.path(),
        "configured.wasm.sig",
        signature::sign(&good, &key).as_bytes(),
    );
    let (source, bytes) = plugin::resolve(&configured(true), &dir).unwrap();
    assert_eq!(source, GuestSource::Configured(path.clone()));
    assert_eq!(bytes, good);
}

/// Compiled code in the cache is native code: an entry this host did not write (another
/// component's compilation put in its place, by anyone who can write the cache directory) is
/// refused and the component compiled again from its verified bytes.
#[tokio::test]
async fn a_tampered_cache_entry_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let dir = pcosync::state::private::open_data_dir(&data).unwrap();
    let cache = pcosync::runtime::cache::CompileCache::open(&dir, "compiled").unwrap();
    let key_mode = std::fs::metadata(data.join("compiled.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    let runtime = runtime();
    let good = components::read(components::GOOD);
    assert!(!runtime.load(&good, Some(&cache)).await.unwrap().from_cache);
    assert!(runtime.load(&good, Some(&cache)).await.unwrap().from_cache);
    // Another component's compilation, as wasmtime serializes it, under the good one's name.
    let evil = components::read(components::TRAP_SELF_CHECK);
    let evil_code = wasmtime::component::Component::new(runtime.engine(), &evil)
        .unwrap()
        .serialize()
        .unwrap();
    let entries: Vec<PathBuf> = std::fs::read_dir(data.join("compiled"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1);
    std::fs::write(&entries[0], &evil_code).unwrap();
    let reloaded = runtime
        .load(&good, Some(&cache))
        .await
        .expect("the good component still loads (the evil code did not run)");
    assert!(!reloaded.from_cache, "the tampered entry was refused");
    // Its own compilation is back in the cache, and trusted again.
    assert!(runtime.load(&good, Some(&cache)).await.unwrap().from_cache);
}

/// A signed component installed under `require_signature`, its data directory and runtime;
/// `extra` is added to the `[plugins]` table.
async fn signed_install(tmp: &Path, extra: &str) -> (Config, PathBuf, Runtime, Vec<u8>) {
    let data = tmp.join("data");
    let (key_file, public) = signature::generate();
    let key = signature::signing_key(&key_file).unwrap();
    let config = config(&format!(
        "[plugins]\ntrusted_keys = [\"{public}\"]\nrequire_signature = true\n{extra}"
    ));
    let runtime = runtime();
    let good = components::read(components::GOOD);
    let signed = file(tmp, "signed.wasm", &good);
    file(
        tmp,
        "signed.wasm.sig",
        signature::sign(&good, &key).as_bytes(),
    );
    plugin::install(&runtime, &config.plugins, &data, &signed)
        .await
        .expect("a component signed by a trusted key installs");
    (config, data, runtime, good)
}

/// What someone who can write the data directory, but not the configuration, can do: replace
/// the cache's key there with one of their own and plant, under the signed component's name,
/// other native code tagged with that key.
fn plant_other_code(data: &Path, runtime: &Runtime, good: &[u8]) {
    let _ = std::fs::remove_file(data.join("compiled.key"));
    let _ = std::fs::remove_dir_all(data.join("compiled"));
    let dir = pcosync::state::private::open_data_dir(data).unwrap();
    let planted = pcosync::runtime::cache::CompileCache::open(&dir, "compiled").unwrap();
    let evil = components::read(components::TRAP_SELF_CHECK);
    let evil = wasmtime::component::Component::new(runtime.engine(), &evil).unwrap();
    planted.put(runtime.engine(), &sha256(good), &evil).unwrap();
}

/// Issue 24 item 17 (no SPEC id: README "Plugins and the daemon"): with `require_signature`, a
/// cache key kept in the data directory it protects proves nothing: whoever plants an entry
/// plants its key too. The host does not run native code from the data directory's cache then;
/// the signed component is compiled from its verified bytes.
#[tokio::test]
async fn a_planted_cache_entry_and_key_are_not_run_under_require_signature_issue_24_item_17() {
    let tmp = tempfile::tempdir().unwrap();
    let (config, data, runtime, good) = signed_install(tmp.path(), "").await;
    plant_other_code(&data, &runtime, &good);
    let (_, guest) = plugin::load_current(&runtime, &config, &data, None)
        .await
        .expect("the signed component loads, not the planted code");
    assert!(!guest.from_cache, "the planted entry was used");
    assert_eq!(guest.digest, sha256(&good));
}

/// Issue 24 item 17: `plugins.cache_key_file` keeps the key outside the data directory; a key
/// and entry planted in the data directory are refused, and the host's own compilations are
/// cached and used.
#[tokio::test]
async fn a_cache_key_outside_the_data_directory_keeps_the_cache_issue_24_item_17() {
    let tmp = tempfile::tempdir().unwrap();
    let key_dir = tmp.path().join("etc");
    std::fs::create_dir_all(&key_dir).unwrap();
    let key_file = key_dir.join("compiled.key");
    let extra = format!("cache_key_file = {:?}\n", key_file.display().to_string());
    let (config, data, runtime, good) = signed_install(tmp.path(), &extra).await;
    assert!(
        key_file.exists(),
        "the key is made where the configuration says"
    );
    let (_, guest) = plugin::load_current(&runtime, &config, &data, None)
        .await
        .unwrap();
    assert!(guest.from_cache, "the install's compilation is used");

    plant_other_code(&data, &runtime, &good);
    let (_, guest) = plugin::load_current(&runtime, &config, &data, None)
        .await
        .expect("the signed component loads, not the planted code");
    assert!(!guest.from_cache, "the planted entry was refused");
    let (_, guest) = plugin::load_current(&runtime, &config, &data, None)
        .await
        .unwrap();
    assert!(guest.from_cache, "its own compilation is cached again");
}

// ---- The sandbox: what the host enforces whatever the guest does ------------------------------

mod contained {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use misbehaving_guest::components;
    use pcosync::bindings::engine::{Account, SyncOptions};
    use pcosync::bindings::types::ErrorKind;
    use pcosync::state::memory::MemoryState;
    use pcosync::testing::{MemoryRock, RockData, ScriptedPco, json_response, silent};
    use pcosync::{Capabilities, Limits, RunError, Runtime};

    fn account(name: &str) -> Account {
        let text = format!(
            "[[accounts]]\nname = \"{name}\"\napp_id = \"app\"\nsecret = {{ env = \"UNUSED\" }}\n"
        );
        pcosync::config::Config::parse(&text).unwrap().accounts[0].to_guest()
    }

    struct World {
        runtime: Runtime,
        guest: pcosync::Guest,
        pco: Arc<ScriptedPco>,
        state: Arc<MemoryState>,
        capabilities: Capabilities,
    }

    async fn world(limits: Limits) -> World {
        let runtime = Runtime::new(limits).unwrap();
        let guest = runtime
            .load(&components::read(components::GOOD), None)
            .await
            .unwrap();
        let pco = Arc::new(ScriptedPco::new(|_, _| {
            Ok(json_response(&serde_json::json!({ "data": [] })))
        }));
        let state = Arc::new(MemoryState::default());
        let capabilities = Capabilities {
            rock: Arc::new(MemoryRock::new(rock_data())),
            pco: pco.clone(),
            state: state.clone(),
            reporter: silent(),
        };
        World {
            runtime,
            guest,
            pco,
            state,
            capabilities,
        }
    }

    /// Person 1 (whom the "write" guest updates) is a member of group 10, which syncs to the
    /// account "write"; person 2 of group 2, a security role.
    fn rock_data() -> RockData {
        use pcosync::bindings::rock::{Group, GroupType, Membership};
        let group = |id: i64, account: Option<&str>| Group {
            id,
            name: format!("group {id}"),
            group_type: GroupType {
                id: 1,
                guid: String::new(),
                name: "Serving Team".into(),
            },
            is_active: true,
            pco_account: account.map(str::to_string),
            level: None,
        };
        let mut data = RockData {
            groups: vec![group(10, Some("write")), group(2, None)],
            members: vec![
                Membership {
                    group_id: 10,
                    person_id: 1,
                },
                Membership {
                    group_id: 2,
                    person_id: 2,
                },
            ],
            ..RockData::default()
        };
        for id in [1, 2] {
            data.people.insert(id, pcosync::testing::blank_person(id));
        }
        data
    }

    fn options(dry_run: bool) -> SyncOptions {
        SyncOptions {
            run_id: "run".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            dry_run,
            updates_only: None,
            confirm: None,
        }
    }

    /// R20: a guest asleep in a host wait (nothing polls it) is stopped at its wall-clock
    /// deadline, not when it wakes an hour later.
    #[tokio::test]
    async fn a_sleeping_guest_is_stopped_at_its_deadline() {
        let limits = Limits {
            wall_time: Duration::from_millis(300),
            ..Limits::default()
        };
        let world = world(limits).await;
        let started = Instant::now();
        let outcome = tokio::time::timeout(
            Duration::from_secs(30),
            world.runtime.sync(
                &world.guest,
                &world.capabilities,
                &account("sleep"),
                &options(false),
            ),
        )
        .await
        .expect("the sleeping guest was not stopped within 30 s");
        assert!(
            matches!(outcome, Err(RunError::TimeLimit(_))),
            "{:?}",
            outcome.err()
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    /// R3: a run of one account cannot use another account's PCO credentials.
    #[tokio::test]
    async fn a_guest_naming_another_account_is_refused() {
        let world = world(Limits::default()).await;
        let outcome = world
            .runtime
            .sync(
                &world.guest,
                &world.capabilities,
                &account("other-account"),
                &options(false),
            )
            .await;
        match outcome {
            Err(RunError::Guest(error)) => {
                assert_eq!(error.kind, ErrorKind::Unauthorized, "{}", error.message);
                assert!(
                    error.message.contains("\"other-account\""),
                    "{}",
                    error.message
                );
            }
            other => panic!("the guest reached another account: {other:?}"),
        }
        assert!(world.pco.requests().is_empty(), "nothing reached PCO");
    }

    /// Issue 16 item 10: a batch or a scan larger than the contract allows is refused by the
    /// host with a message, before anything is sent or read, and the run fails cleanly.
    #[tokio::test]
    async fn oversized_batches_and_scans_are_refused_with_a_message() {
        let world = world(Limits::default()).await;
        for (mode, says) in [("huge-batch", "1000"), ("huge-scan", "10000")] {
            let outcome = world
                .runtime
                .sync(
                    &world.guest,
                    &world.capabilities,
                    &account(mode),
                    &options(false),
                )
                .await;
            match outcome {
                Err(RunError::Guest(error)) => {
                    assert_eq!(error.kind, ErrorKind::Invalid, "{mode}: {}", error.message);
                    assert!(error.message.contains(says), "{mode}: {}", error.message);
                }
                other => panic!("{mode} was let through: {other:?}"),
            }
        }
        assert!(world.pco.requests().is_empty(), "nothing reached PCO");
    }

    /// R30: a dry run writes nothing, refused by the host whatever the guest tries.
    #[tokio::test]
    async fn a_dry_run_cannot_write_through_any_capability() {
        let world = world(Limits::default()).await;
        let written = |dry_run: bool| {
            let world = &world;
            async move {
                match world
                    .runtime
                    .sync(
                        &world.guest,
                        &world.capabilities,
                        &account("write"),
                        &options(dry_run),
                    )
                    .await
                {
                    Err(RunError::Guest(error)) => error.message,
                    other => panic!("{other:?}"),
                }
            }
        };
        assert_eq!(
            written(true).await,
            "state=internal; pco=unauthorized; rock=unauthorized"
        );
        assert!(world.state.dump().is_empty());
        assert!(world.pco.requests().is_empty());
        // The same guest, not in a dry run, writes through each.
        let outcome = written(false).await;
        assert_eq!(outcome, "state=ok; pco=ok; rock=ok");
        assert_eq!(world.state.dump().len(), 1);
        assert_eq!(world.pco.requests().len(), 1);
    }

    /// Issue 24 item 14 (R2, R3): the Rock capability is scoped to the account, as PCO's is. The
    /// "write" guest updates Rock person 1 without reading anyone; when person 1 is not in a
    /// group of the account (here, only in a security role), the host refuses the update as
    /// `unauthorized` and it never reaches Rock.
    #[tokio::test]
    async fn a_rock_write_to_someone_the_account_does_not_sync_is_refused() {
        let mut world = world(Limits::default()).await;
        let mut data = rock_data();
        data.members.retain(|m| m.group_id != 10);
        data.members.push(pcosync::bindings::rock::Membership {
            group_id: 2,
            person_id: 1,
        });
        let rock = Arc::new(MemoryRock::new(data));
        world.capabilities.rock = rock.clone();
        let outcome = world
            .runtime
            .sync(
                &world.guest,
                &world.capabilities,
                &account("write"),
                &options(false),
            )
            .await;
        match outcome {
            Err(RunError::Guest(error)) => assert_eq!(
                error.message, "state=ok; pco=ok; rock=unauthorized",
                "the guest wrote to a Rock person the account does not sync"
            ),
            other => panic!("{other:?}"),
        }
        assert!(
            !rock.calls().contains(&"update_people".to_string()),
            "the refused update reached Rock: {:?}",
            rock.calls()
        );
    }
}
