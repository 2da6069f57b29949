//! The administration operations, shared by the command line (`cli`) and the web admin
//! (`web`): each is carried out once, here or in the command's module, and returns data or
//! writes its messages to an [`Out`]; the terminal and the page only show them.
//!
//! - [`Session`]: the runtime, the loaded guest and the capabilities, for one operation.
//! - [`admin`]: status, refresh, link, delete, run detail, revert (one guest call each).
//! - [`runs`]: sync and import of one account, holding the account's lock.
//! - [`full_sync`]: when an updates-only account's next run reads everyone.

pub mod admin;
pub mod full_sync;
pub mod import_check;
pub mod runs;
pub mod tag_choices;
pub mod text;

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::config::{AccountConfig, Config};
use crate::log::Reporter;
use crate::runtime::{Capabilities, Guest, RunError, Runtime};
use crate::state::lock::{self, LockGuard, Locks};

/// This process's command, as a lock holder names it: `pcosync link`, `pcosync serve`.
fn this_command() -> String {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" | "--data-dir" => {
                args.next();
            }
            flag if flag.starts_with('-') => {}
            command => return format!("pcosync {command}"),
        }
    }
    "pcosync".to_string()
}

/// Where an operation's messages go: the terminal for the command line (stdout and stderr),
/// the next page for the web admin. Messages never hold a secret.
pub trait Out: Send + Sync {
    /// A line of the result (the command line prints it on stdout).
    fn say(&self, line: &str);
    /// A note or a warning beside the result (stderr).
    fn warn(&self, line: &str);
    /// A line of detail, such as the lines of the file an edit changed (stdout).
    fn detail(&self, line: &str) {
        self.say(line)
    }
}

/// The terminal: `say` and `detail` on stdout, `warn` on stderr. A reader that went away
/// (`| head`) ends the listing quietly instead of a panic.
pub struct Console;

impl Out for Console {
    // Lines hold data (names, tags, groups from Rock and PCO): made terminal-safe here, so no
    // escape sequence in them reaches the terminal (issue 24 item 19).
    fn say(&self, line: &str) {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", text::terminal_safe(line));
    }

    fn warn(&self, line: &str) {
        eprintln!("{}", text::terminal_safe(line));
    }
}

/// What kind of line [`Collected`] kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    Say,
    Warn,
    Detail,
}

/// Keeps the messages, for a page to show.
#[derive(Default)]
pub struct Collected {
    lines: Mutex<Vec<(LineKind, String)>>,
}

impl Collected {
    pub fn lines(&self) -> Vec<(LineKind, String)> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn push(&self, kind: LineKind, line: &str) {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((kind, line.to_string()));
    }
}

impl Out for Collected {
    fn say(&self, line: &str) {
        self.push(LineKind::Say, line);
    }

    fn warn(&self, line: &str) {
        self.push(LineKind::Warn, line);
    }

    fn detail(&self, line: &str) {
        self.push(LineKind::Detail, line);
    }
}

/// The runtime, the loaded guest and the capabilities, for one operation.
pub struct Session {
    pub runtime: Runtime,
    pub guest: Guest,
    pub capabilities: Capabilities,
    /// The locks of the state in `capabilities` (the same file, the same connection).
    pub locks: Arc<dyn Locks>,
    /// What holds a lock this session takes, for the message another process shows.
    pub command: String,
    /// More than one account is configured (the PCO Tags choices then name the account).
    pub several_accounts: bool,
}

impl Session {
    /// Connects Rock, `account`'s PCO and the state as the configuration says, and loads the
    /// guest: a session works for one account, with that account's credentials alone.
    pub async fn open(
        config: &Config,
        data_dir: &Path,
        account: &AccountConfig,
    ) -> anyhow::Result<Session> {
        let store = Arc::new(crate::connect::open_state(data_dir)?);
        let capabilities = crate::connect::capabilities_for(config, account, store.clone()).await?;
        let runtime = Runtime::new(config.limits())?;
        let guest = crate::cli::load_guest(&runtime, config, data_dir, None).await?;
        Ok(Session {
            runtime,
            guest,
            capabilities,
            locks: store,
            command: this_command(),
            several_accounts: config.accounts.len() > 1,
        })
    }

    /// Takes the account's lock for an operation that writes: the capabilities to run it with
    /// (their state commits fenced by the lock) and the guard to hold until it ends.
    pub fn lock(&self, account: &AccountConfig) -> Result<(LockGuard, Capabilities), RunError> {
        let resource = lock::account_resource(&account.name);
        let guard = lock::acquire(self.locks.clone(), &resource, &self.command)
            .map_err(|e| RunError::Locked(e.to_string()))?;
        let mut capabilities = self.capabilities.clone();
        capabilities.state = guard.fenced(capabilities.state);
        Ok((guard, capabilities))
    }

    /// The guest's progress and events go to `reporter` from now on.
    pub fn report_to(&mut self, reporter: Arc<dyn Reporter>) {
        self.capabilities.reporter = reporter;
    }
}

/// A run error as an administrator reads it: the guest's own words when it refused.
pub fn plain(error: &RunError) -> String {
    match error {
        RunError::Guest(e) => e.message.clone(),
        other => other.to_string(),
    }
}
