//! The commands: each reads what it needs, checks every input before its first write, then
//! writes through the [`MaintenanceStore`] (which records the audit event) and returns the text
//! to print.

mod bypass;
pub mod import;
mod lists;
mod log;
mod run;
mod sites;
mod state;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use maintenance_core::store::find_site;
use maintenance_core::{
    ErrorChain, MaintenanceSource, MaintenanceStore, SiteRef, SiteState, StoreError,
};

use crate::args::{Cli, Command};
use crate::error::CliError;

use bypass::bypass_cmd;
use import::import_django;
use lists::{allow, ignore};
use log::log;
use run::run_command;
use sites::sites;
use state::{off, on, status};

/// How long to wait for the database when connecting, unless `MAINTENANCE_CONNECT_TIMEOUT`
/// says otherwise.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The environment variable that sets the connect timeout in seconds.
pub const CONNECT_TIMEOUT_VAR: &str = "MAINTENANCE_CONNECT_TIMEOUT";

/// The connect timeout: `MAINTENANCE_CONNECT_TIMEOUT` seconds (1 to 3600), else
/// [`CONNECT_TIMEOUT`].
pub fn connect_timeout() -> Result<Duration, CliError> {
    match std::env::var(CONNECT_TIMEOUT_VAR) {
        Err(_) => Ok(CONNECT_TIMEOUT),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|s| (1..=3600).contains(s))
            .map(Duration::from_secs)
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "invalid {CONNECT_TIMEOUT_VAR}={v:?}: expected a whole number of seconds from 1 to 3600"
                ))
            }),
    }
}

/// Opens the database at `url` (without migrating it), waiting at most [`connect_timeout`].
///
/// Errors name the URL without its password.
pub async fn connect(url: &str) -> Result<maintenance_sqlx::SqlxStore, CliError> {
    let limit = connect_timeout()?;
    match tokio::time::timeout(limit, maintenance_sqlx::connect(url)).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(CliError::Failed(format!(
            "could not connect to `{}`: no answer within {} s (is the database server running and reachable? \
             {CONNECT_TIMEOUT_VAR} sets how long to wait)",
            maintenance_sqlx::redact_url(url),
            limit.as_secs()
        ))),
    }
}

/// Runs every command but `admin` (which serves until stopped; see [`crate::admin`]) and
/// returns what to print.
pub async fn run(cli: &Cli) -> Result<String, CliError> {
    if let Command::Admin(_) = cli.command {
        return Err(CliError::Usage(
            "`admin` is a server; start it from the `maintenance` binary".to_owned(),
        ));
    }
    let store = connect(&cli.database_url).await?;
    if let Command::Migrate = cli.command {
        store.migrate().await?;
        let contents = store.load().await?;
        return Ok(format!(
            "Migrated `{}`: {} site(s).\n",
            maintenance_sqlx::redact_url(&cli.database_url),
            contents.sites.len()
        ));
    }
    let store: Arc<dyn MaintenanceStore> = Arc::new(store);
    // Whole seconds: windows computed from now read cleanly in the status and the log.
    execute(cli, store.as_ref(), Utc::now().trunc_subsecs(0)).await
}

/// Runs a command other than `migrate` and `admin` against `store`, at `now`.
pub async fn execute(
    cli: &Cli,
    store: &dyn MaintenanceStore,
    now: DateTime<Utc>,
) -> Result<String, CliError> {
    let actor = cli.actor();
    match &cli.command {
        Command::Migrate | Command::Admin(_) => Err(CliError::Usage(
            "`migrate` and `admin` need the database itself; use `run`".to_owned(),
        )),
        Command::Status(args) => status(store, args, now).await,
        Command::On(args) => on(store, args, &actor, now).await,
        Command::Off(args) => off(store, args, &actor, now).await,
        Command::Sites(cmd) => sites(store, cmd, &actor, now).await,
        Command::Ignore(args) => ignore(store, args, &actor).await,
        Command::Allow(args) => allow(store, args, &actor).await,
        Command::Bypass(args) => bypass_cmd(store, args, &actor).await,
        Command::Log(args) => log(store, args).await,
        Command::Run(args) => run_command(store, args, &actor, now).await,
        Command::ImportDjango(args) => import_django(store, args, &actor).await,
    }
}

/// Every site, with a hint when the tables are missing.
async fn load_sites(store: &dyn MaintenanceStore) -> Result<Vec<SiteState>, CliError> {
    match store.load().await {
        Ok(contents) => Ok(contents.sites),
        Err(e) => {
            let text = ErrorChain(&e).to_string();
            let missing_table = text.contains("maintenance_")
                && (text.contains("no such table")
                    || text.contains("does not exist")
                    || text.contains("doesn't exist"));
            if missing_table {
                Err(CliError::Failed(format!(
                    "{text}\nThe maintenance tables are missing: run `maintenance migrate` first."
                )))
            } else {
                Err(e.into())
            }
        }
    }
}

/// The error for sites that are not there, listing the ones that are.
fn unknown_sites(sites: &[SiteState], missing: &[&SiteRef]) -> CliError {
    if missing.contains(&&SiteRef::Default) {
        return CliError::Failed(
            "the database has no default site: run `maintenance migrate` first".to_owned(),
        );
    }
    let names: Vec<String> = missing
        .iter()
        .map(|r| match r {
            SiteRef::Domain(d) => format!("`{d}`"),
            SiteRef::Default => "the default site".to_owned(),
        })
        .collect();
    let known: Vec<&str> = sites.iter().map(|s| s.domain.as_str()).collect();
    let noun = if names.len() == 1 { "site" } else { "sites" };
    CliError::Failed(format!(
        "unknown {noun} {}: expected one of {} (see `maintenance sites list`, add one with `maintenance sites add DOMAIN`)",
        names.join(", "),
        known.join(", ")
    ))
}

/// Finds one site, or fails naming it and the known sites.
fn resolve<'a>(sites: &'a [SiteState], site: Option<&str>) -> Result<&'a SiteState, CliError> {
    let r = SiteRef::from_option(site);
    find_site(sites, &r).ok_or_else(|| unknown_sites(sites, &[&r]))
}

/// The sites named by `--site`s (or all with `--all`, or the default one), every one checked
/// before anything is written; each site once.
fn targets<'a>(
    sites: &'a [SiteState],
    names: &[String],
    all: bool,
) -> Result<Vec<&'a SiteState>, CliError> {
    if all {
        return Ok(sites.iter().collect());
    }
    let refs: Vec<SiteRef> = if names.is_empty() {
        vec![SiteRef::Default]
    } else {
        names.iter().map(|n| SiteRef::Domain(n.clone())).collect()
    };
    let mut found: Vec<&SiteState> = Vec::new();
    let mut missing: Vec<&SiteRef> = Vec::new();
    for r in &refs {
        match find_site(sites, r) {
            Some(s) => {
                if !found.iter().any(|f| f.id == s.id) {
                    found.push(s);
                }
            }
            None => missing.push(r),
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(unknown_sites(sites, &missing))
    }
}

/// How a site is named in store calls.
fn site_ref(site: &SiteState) -> SiteRef {
    if site.is_default {
        SiteRef::Default
    } else {
        SiteRef::Domain(site.domain.clone())
    }
}

/// A "not set" error with the command that lists what is set.
fn with_list_hint(err: StoreError, command: &str, site: &SiteState) -> CliError {
    match err {
        StoreError::NotFound { .. } => {
            let flag = if site.is_default {
                String::new()
            } else {
                format!(" --site {}", site.domain)
            };
            CliError::Failed(format!(
                "{err}; expected one that `maintenance {command} list{flag}` shows"
            ))
        }
        other => other.into(),
    }
}

fn json(value: &impl serde::Serialize) -> Result<String, CliError> {
    serde_json::to_string_pretty(value)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(|e| CliError::Failed(format!("could not write JSON: {e}")))
}
