//! `pcosync plugin`: install, list and roll back guest components; sign them (publishers).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Config;
use crate::plugin::store::{Entry, short};
use crate::plugin::{self, PluginError, signature};
use crate::runtime::Runtime;
use crate::secret::SecretRef;

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Check a component (it loads, speaks a contract this host accepts, passes its
    /// self-check and, if the configuration asks, is signed by a trusted key: FILE.sig beside
    /// it) and put it in service. A component that fails leaves the one in service as it is.
    Install {
        /// The component (.wasm).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Show the component in service and the previous one.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Put the previous component back in service (the built-in one if there was none).
    Rollback,
    /// Sign a component with your signing key: writes FILE.sig beside it.
    Sign {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The signing key file (from `pcosync plugin keygen`; mode 600).
        #[arg(long, value_name = "KEYFILE")]
        key: PathBuf,
    },
    /// Make a signing key: writes KEYFILE (mode 600) and prints the public key that hosts list
    /// in `[plugins] trusted_keys`.
    Keygen {
        #[arg(value_name = "KEYFILE")]
        out: PathBuf,
    },
}

/// Exit status: 0 done; 1 refused or failed (the message says why); 5 another install or
/// rollback is under way.
pub async fn run(
    config: &Config,
    data_dir: &Path,
    command: PluginCommand,
) -> anyhow::Result<ExitCode> {
    let outcome = match command {
        PluginCommand::Install { file } => install(config, data_dir, &file).await,
        PluginCommand::List { json } => list(config, data_dir, json),
        PluginCommand::Rollback => rollback(config, data_dir).await,
        PluginCommand::Sign { file, key } => return sign(&file, &key),
        PluginCommand::Keygen { out } => return keygen(&out),
    };
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(PluginError::Locked(error)) => {
            eprintln!("error: {error}");
            Ok(ExitCode::from(5))
        }
        Err(error) => {
            eprintln!("error: {error}");
            Ok(ExitCode::from(1))
        }
    }
}

async fn install(config: &Config, data_dir: &Path, file: &Path) -> Result<(), PluginError> {
    let runtime = Runtime::new(config.limits()).map_err(|e| PluginError::Other(e.to_string()))?;
    let installed = plugin::install(&runtime, &config.plugins, data_dir, file).await?;
    if installed.unchanged {
        println!(
            "{} is already the component in service ({})",
            file.display(),
            installed.entry.describe()
        );
    } else {
        println!("installed {}", file.display());
        print_entry("in service", &installed.entry);
        match &installed.replaced {
            Some(previous) => println!(
                "  replaces sha256 {} (`pcosync plugin rollback` goes back to it)",
                short(&previous.sha256)
            ),
            None => println!(
                "  replaces the built-in component (`pcosync plugin rollback` goes back to it)"
            ),
        }
    }
    println!(
        "  compiled    {}",
        if installed.compiled {
            "now, and cached for the runs"
        } else {
            "before (from the cache)"
        }
    );
    if installed.signature_unchecked {
        println!(
            "  note: {}.sig was not checked: the configuration lists no plugins.trusted_keys",
            file.display()
        );
    }
    note_override(config);
    Ok(())
}

fn list(config: &Config, data_dir: &Path, json: bool) -> Result<(), PluginError> {
    let manifest = plugin::list(data_dir)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&manifest).unwrap_or_default()
        );
        return Ok(());
    }
    match &manifest.current {
        Some(entry) => print_entry("current", entry),
        None => println!("current      the built-in component (none installed)"),
    }
    match &manifest.previous {
        Some(entry) => print_entry("previous", entry),
        None if manifest.current.is_some() => {
            println!("previous     the built-in component")
        }
        None => {}
    }
    note_override(config);
    Ok(())
}

async fn rollback(config: &Config, data_dir: &Path) -> Result<(), PluginError> {
    let runtime = Runtime::new(config.limits()).map_err(|e| PluginError::Other(e.to_string()))?;
    let manifest = plugin::rollback(&runtime, &config.plugins, data_dir).await?;
    match &manifest.current {
        Some(entry) => {
            println!("rolled back");
            print_entry("in service", entry);
        }
        None => println!("rolled back: the built-in component is in service"),
    }
    if let Some(previous) = &manifest.previous {
        println!(
            "  sha256 {} is now the previous component (`pcosync plugin rollback` again returns to it)",
            short(&previous.sha256)
        );
    }
    note_override(config);
    Ok(())
}

fn print_entry(label: &str, entry: &Entry) {
    println!("{label:<12} sha256 {}", entry.sha256);
    println!("             contract {}", entry.contract_version);
    println!(
        "             installed {} from {}",
        entry.installed_at, entry.source
    );
    if let Some(key) = &entry.signed_by {
        println!("             signed by {key}");
    }
}

fn note_override(config: &Config) {
    if let Some(path) = &config.component {
        println!(
            "  note: the configuration names a component ({}), which runs instead of installed \
             ones: remove `component` from the configuration to run the installed one",
            path.display()
        );
    }
}

fn sign(file: &Path, key_file: &Path) -> anyhow::Result<ExitCode> {
    // Read like any secret: the file must be readable by its owner only.
    let text = SecretRef::File(key_file.to_path_buf())
        .resolve("the signing key")
        .map_err(anyhow::Error::msg)?;
    let key = signature::signing_key(text.expose())
        .map_err(|e| anyhow::anyhow!("{} is not a pcosync signing key: {e}", key_file.display()))?;
    let wasm = plugin::read_file(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let out = plugin::signature_path(file);
    plugin::write_file(&out, signature::sign(&wasm, &key).as_bytes(), false, false)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    println!("wrote {}", out.display());
    println!(
        "  signed by {} (hosts list it in [plugins] trusted_keys)",
        signature::public_key(&key)
    );
    Ok(ExitCode::SUCCESS)
}

fn keygen(out: &Path) -> anyhow::Result<ExitCode> {
    let (text, public) = signature::generate();
    plugin::write_file(out, text.as_bytes(), true, true).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} exists already; it was left as it is (choose another name, or remove it \
                 if you mean to replace that key)",
                out.display()
            )
        } else {
            anyhow::anyhow!("cannot write {}: {e}", out.display())
        }
    })?;
    let mut public_file = out.as_os_str().to_owned();
    public_file.push(".pub");
    let public_file = PathBuf::from(public_file);
    plugin::write_file(&public_file, format!("{public}\n").as_bytes(), false, false)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", public_file.display()))?;
    println!(
        "wrote the signing key {} (mode 600: keep it secret) and its public key {}",
        out.display(),
        public_file.display()
    );
    println!("public key: {public}");
    println!("hosts that trust it add to their configuration:");
    println!("  [plugins]");
    println!("  trusted_keys = [\"{public}\"]");
    println!("  require_signature = true");
    Ok(ExitCode::SUCCESS)
}
