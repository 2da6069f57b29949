//! `pcosync serve`: the web admin (see [`crate::web`]), on loopback unless told otherwise.
//!
//! Also where the web admin reaches the operations it shares with the other commands: the
//! editing functions of `account`, `tag` and `group-types` and what they share in `config`
//! ([`shared`]), so the pages call the very code the command line runs.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::config::ConfigLocation;
use crate::config::Config;

/// The command line's operations the web admin calls.
pub(crate) mod shared {
    pub(crate) use super::super::account::{
        AddArgs, EditArgs, SecretArgs, Settings, add, edit, remove,
    };
    pub(crate) use super::super::config::{ConfigLocation, choices, connect_rock, names_type};
    pub(crate) use super::super::group_types::{disable, enable, listing as group_type_listing};
    pub(crate) use super::super::tag::{
        listing as tag_listing, map as tag_map, unmap as tag_unmap,
    };
}

#[derive(Args)]
pub struct ServeArgs {
    /// Where to listen. Loopback only, unless --allow-remote.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Listen on a non-loopback address. Only behind a TLS-terminating proxy: the admin token
    /// and the session cookie must not cross a network in clear. The cookie is then `Secure`.
    #[arg(long)]
    allow_remote: bool,
}

/// Exit status: 0 stopped by SIGTERM or ctrl-c, 2 bad configuration or address, 1 could not
/// listen.
pub async fn run(
    location: &ConfigLocation,
    config: &Config,
    data_dir: &Path,
    args: ServeArgs,
) -> anyhow::Result<ExitCode> {
    if let Err(message) = crate::web::check_listen(args.listen, args.allow_remote) {
        eprintln!("error: {message}");
        return Ok(ExitCode::from(2));
    }
    let admin_token = match crate::web::admin_token(config) {
        Ok(token) => token,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::from(2));
        }
    };
    let Some(config_path) = location.path.clone() else {
        eprintln!("error: {}", location.missing());
        return Ok(ExitCode::from(2));
    };
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "WARNING: the web admin listens on {}, beyond this machine. Reach it only through a TLS-terminating proxy (https): the admin token and the session cookie must never cross a network in clear.",
            args.listen
        );
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    let address = listener.local_addr()?;
    println!(
        "pcosync web admin on http://{address}/ — sign in with the token of [web] admin_token. Ctrl-c stops it."
    );
    let options = crate::web::WebOptions {
        config_path,
        data_dir: data_dir.to_path_buf(),
        admin_token,
        allow_remote: args.allow_remote,
    };
    let stop = async {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let terminate = async {
                match term.as_mut() {
                    Some(term) => {
                        term.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    };
    crate::web::serve(listener, options, stop).await?;
    Ok(ExitCode::SUCCESS)
}
