//! The commands: each reads what it needs, checks every input before its first write, then
//! writes through the [`MaintenanceStore`] (which records the audit event) and returns the text
//! to print.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use maintenance_core::{
    BypassSettings, MaintenanceSource, MaintenanceStore, Mode, SiteRef, SiteState, StateChange,
    StoreError, bypass, find_site,
};

use crate::args::{
    AllowAction, AllowArgs, BypassAction, BypassArgs, Cli, Command, IgnoreAction, IgnoreArgs,
    LogArgs, OffArgs, OnArgs, SitesCommand, StatusArgs,
};
use crate::error::CliError;
use crate::report::{self, EventReport, Phase, SiteReport};

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
    }
}

/// Every site, with a hint when the tables are missing.
async fn load_sites(store: &dyn MaintenanceStore) -> Result<Vec<SiteState>, CliError> {
    match store.load().await {
        Ok(contents) => Ok(contents.sites),
        Err(e) => {
            let text = e.to_string();
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

async fn status(
    store: &dyn MaintenanceStore,
    args: &StatusArgs,
    now: DateTime<Utc>,
) -> Result<String, CliError> {
    let sites = load_sites(store).await?;
    if let Some(domain) = &args.site {
        let site = resolve(&sites, Some(domain))?;
        return if args.json {
            json(&SiteReport::new(site, now))
        } else {
            Ok(report::site_text(site, now))
        };
    }
    if args.json {
        let all: Vec<SiteReport> = sites.iter().map(|s| SiteReport::new(s, now)).collect();
        json(&all)
    } else {
        Ok(sites
            .iter()
            .map(|s| report::site_text(s, now))
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

/// The change `on` makes: the options given define the whole state.
fn on_change(args: &OnArgs, now: DateTime<Utc>) -> Result<StateChange, CliError> {
    let starts_at = args.from;
    let ends_at = match (args.for_duration, args.until) {
        (Some(d), _) => {
            let base = args.from.unwrap_or(now);
            Some(base.checked_add_signed(d).ok_or_else(|| {
                CliError::Usage(format!(
                    "invalid window: --from {} plus --for {}s is out of range",
                    report::time(base),
                    d.num_seconds()
                ))
            })?)
        }
        (None, until) => until,
    };
    if let (Some(s), Some(e)) = (starts_at, ends_at)
        && e <= s
    {
        return Err(CliError::Usage(format!(
            "invalid window: --until {} is not after --from {}; expected an end after the start",
            report::time(e),
            report::time(s)
        )));
    }
    if let Some(e) = ends_at
        && e <= now
    {
        let flag = if args.until.is_some() {
            "--until"
        } else {
            "--from plus --for"
        };
        return Err(CliError::Usage(format!(
            "invalid window: {flag} gives an end of {}, which is not in the future (now is {}); expected a later time",
            report::time(e),
            report::time(now)
        )));
    }
    Ok(StateChange {
        enabled: Some(true),
        mode: Some(if args.read_only {
            Mode::ReadOnly
        } else {
            Mode::Full
        }),
        message: Some(args.message.clone()),
        starts_at: Some(starts_at),
        ends_at: Some(ends_at),
        retry_after_secs: Some(args.retry_after),
    })
}

/// Applies `change` to every target after checking it against each one; reports the sites
/// already changed if a later write fails.
async fn set_states(
    store: &dyn MaintenanceStore,
    targets: &[&SiteState],
    change: &StateChange,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<String, CliError> {
    for site in targets {
        let mut next = (*site).clone();
        change
            .apply_to(&mut next)
            .map_err(|e| CliError::Usage(format!("{}: {e}", site.domain)))?;
    }
    let mut out = String::new();
    let mut done: Vec<&str> = Vec::new();
    for site in targets {
        match store.set_state(&site_ref(site), change, actor).await {
            Ok(new) => {
                out.push_str(&report::state_line(&new, now));
                out.push('\n');
                done.push(&site.domain);
            }
            Err(e) if done.is_empty() => return Err(e.into()),
            Err(e) => {
                return Err(CliError::Failed(format!(
                    "{e}\nAlready changed before this failure: {}",
                    done.join(", ")
                )));
            }
        }
    }
    Ok(out)
}

async fn on(
    store: &dyn MaintenanceStore,
    args: &OnArgs,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<String, CliError> {
    let change = on_change(args, now)?;
    let sites = load_sites(store).await?;
    let targets = targets(&sites, &args.sites, args.all)?;
    set_states(store, &targets, &change, actor, now).await
}

async fn off(
    store: &dyn MaintenanceStore,
    args: &OffArgs,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<String, CliError> {
    let sites = load_sites(store).await?;
    let targets = targets(&sites, &args.sites, args.all)?;
    set_states(store, &targets, &StateChange::turn_off(), actor, now).await
}

async fn sites(
    store: &dyn MaintenanceStore,
    cmd: &SitesCommand,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<String, CliError> {
    match cmd {
        SitesCommand::List => {
            let sites = load_sites(store).await?;
            let width = sites
                .iter()
                .map(|s| s.domain.chars().count())
                .max()
                .unwrap_or(0)
                .max("DOMAIN".len());
            let name_width = sites
                .iter()
                .map(|s| s.name.chars().count())
                .max()
                .unwrap_or(0)
                .max("NAME".len());
            let mut out = format!("{:<width$}  {:<name_width$}  STATE\n", "DOMAIN", "NAME");
            for s in &sites {
                let default = if s.is_default { "  (default site)" } else { "" };
                out.push_str(&format!(
                    "{:<width$}  {:<name_width$}  {}{default}\n",
                    s.domain,
                    s.name,
                    Phase::of(s, now).as_str()
                ));
            }
            Ok(out)
        }
        SitesCommand::Add { domain, name } => {
            let site = store.add_site(domain, name.as_deref(), actor).await?;
            Ok(format!("Added site {} ({}).\n", site.domain, site.name))
        }
        SitesCommand::Remove { domain } => {
            let sites = load_sites(store).await?;
            let site = resolve(&sites, Some(domain))?;
            store.remove_site(&site.domain, actor).await?;
            Ok(format!(
                "Removed site {} with its patterns and networks.\n",
                site.domain
            ))
        }
    }
}

async fn ignore(
    store: &dyn MaintenanceStore,
    args: &IgnoreArgs,
    actor: &str,
) -> Result<String, CliError> {
    let sites = load_sites(store).await?;
    let site = resolve(&sites, args.site.as_deref())?;
    match &args.action {
        IgnoreAction::List => {
            if site.ignored_paths.is_empty() {
                return Ok(format!("No ignored patterns for {}.\n", site.domain));
            }
            Ok(site
                .ignored_paths
                .iter()
                .map(|p| format!("{}\t{}\n", p.pattern, p.description))
                .collect())
        }
        IgnoreAction::Add {
            pattern,
            description,
        } => {
            store
                .add_ignored_path(&site_ref(site), pattern, description, actor)
                .await?;
            Ok(format!(
                "Added ignored pattern `{pattern}` to {}.\n",
                site.domain
            ))
        }
        IgnoreAction::Remove { pattern } => {
            store
                .remove_ignored_path(&site_ref(site), pattern, actor)
                .await
                .map_err(|e| with_list_hint(e, "ignore", site))?;
            Ok(format!(
                "Removed ignored pattern `{pattern}` from {}.\n",
                site.domain
            ))
        }
    }
}

async fn allow(
    store: &dyn MaintenanceStore,
    args: &AllowArgs,
    actor: &str,
) -> Result<String, CliError> {
    let sites = load_sites(store).await?;
    let site = resolve(&sites, args.site.as_deref())?;
    match &args.action {
        AllowAction::List => {
            if site.allowed_networks.is_empty() {
                return Ok(format!("No allowed networks for {}.\n", site.domain));
            }
            Ok(site
                .allowed_networks
                .iter()
                .map(|n| format!("{}\t{}\n", n.network, n.description))
                .collect())
        }
        AllowAction::Add {
            network,
            description,
        } => {
            store
                .add_allowed_network(&site_ref(site), network, description, actor)
                .await?;
            Ok(format!(
                "Added allowed network {network} to {}.\n",
                site.domain
            ))
        }
        AllowAction::Remove { network } => {
            store
                .remove_allowed_network(&site_ref(site), network, actor)
                .await
                .map_err(|e| with_list_hint(e, "allow", site))?;
            Ok(format!(
                "Removed allowed network {network} from {}.\n",
                site.domain
            ))
        }
    }
}

async fn bypass_cmd(
    store: &dyn MaintenanceStore,
    args: &BypassArgs,
    actor: &str,
) -> Result<String, CliError> {
    let sites = load_sites(store).await?;
    let site = resolve(&sites, args.site.as_deref())?;
    match &args.action {
        BypassAction::New { base_url } => {
            let secret = bypass::generate_secret().map_err(|e| {
                CliError::Failed(format!("could not generate a random secret: {e}"))
            })?;
            let hash = bypass::hash_secret(&secret);
            store
                .set_bypass_secret_hash(&site_ref(site), Some(&hash), actor)
                .await?;
            let settings = BypassSettings::default();
            let base = base_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", site.domain));
            let mut out = format!(
                "New bypass secret for {} (shown only now; only its hash is stored):\n  {secret}\n\
                 Bypass URL (sets a cookie that lets the browser through):\n  {base}{}/{secret}\n\
                 API clients can send the secret in the `{}` header instead.\n",
                site.domain,
                settings.path_prefix,
                settings.header.as_str()
            );
            if base_url.is_none() && site.is_default {
                out.push_str(
                    "The default site answers on every host that has no site of its own: \
                     replace `default` with your host, or pass --base-url.\n",
                );
            }
            Ok(out)
        }
        BypassAction::Clear => {
            let had = site.bypass_secret_hash.is_some();
            store
                .set_bypass_secret_hash(&site_ref(site), None, actor)
                .await?;
            Ok(if had {
                format!(
                    "Cleared the bypass secret of {}: its links and cookies no longer work.\n",
                    site.domain
                )
            } else {
                format!("{} had no bypass secret; none is set.\n", site.domain)
            })
        }
    }
}

async fn log(store: &dyn MaintenanceStore, args: &LogArgs) -> Result<String, CliError> {
    let site = match &args.site {
        Some(domain) => {
            let sites = load_sites(store).await?;
            Some(site_ref(resolve(&sites, Some(domain))?))
        }
        None => None,
    };
    let events = store
        .events(site.as_ref(), args.limit)
        .await
        .map_err(|e| match e {
            StoreError::UnknownSite(_) => CliError::Failed(e.to_string()),
            other => other.into(),
        })?;
    if args.json {
        let all: Vec<EventReport> = events.iter().map(EventReport::from).collect();
        json(&all)
    } else {
        Ok(report::events_text(&events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use maintenance_core::MemoryStore;

    fn cli(args: &[&str]) -> Cli {
        let mut all = vec!["maintenance", "--actor", "tester"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap()
    }

    async fn run_on(store: &MemoryStore, args: &[&str]) -> Result<String, CliError> {
        execute(&cli(args), store, Utc::now()).await
    }

    #[tokio::test]
    async fn on_checks_every_site_before_writing() {
        let store = MemoryStore::new();
        store.add_site("a.example", None, "t").await.unwrap();
        let before = store.events(None, 100).await.unwrap().len();
        let err = run_on(
            &store,
            &["on", "--site", "a.example", "--site", "b.example"],
        )
        .await
        .unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert!(err.to_string().contains("`b.example`"), "{err}");
        assert_eq!(store.events(None, 100).await.unwrap().len(), before);
        let a = store
            .site(&SiteRef::Domain("a.example".into()))
            .await
            .unwrap();
        assert!(!a.enabled);
    }

    #[tokio::test]
    async fn on_sets_the_whole_state() {
        let store = MemoryStore::new();
        run_on(
            &store,
            &[
                "on",
                "--read-only",
                "--message",
                "Soon",
                "--retry-after",
                "60",
            ],
        )
        .await
        .unwrap();
        let s = store.site(&SiteRef::Default).await.unwrap();
        assert_eq!(
            (s.mode, s.message.as_deref(), s.retry_after_secs),
            (Mode::ReadOnly, Some("Soon"), Some(60))
        );
        run_on(&store, &["on"]).await.unwrap();
        let s = store.site(&SiteRef::Default).await.unwrap();
        assert_eq!(
            (s.mode, s.message, s.retry_after_secs),
            (Mode::Full, None, None)
        );
        assert_eq!(s.updated_by.as_deref(), Some("tester"));
    }

    #[tokio::test]
    async fn from_and_for_make_the_window() {
        let store = MemoryStore::new();
        let out = run_on(
            &store,
            &["on", "--from", "2099-01-01T00:00:00Z", "--for", "1h30m"],
        )
        .await
        .unwrap();
        assert!(out.contains("scheduled"), "{out}");
        let s = store.site(&SiteRef::Default).await.unwrap();
        assert_eq!(
            report::window(&s),
            "from 2099-01-01T00:00:00Z until 2099-01-01T01:30:00Z"
        );
    }

    #[tokio::test]
    async fn windows_in_the_past_or_reversed_are_usage_errors() {
        let store = MemoryStore::new();
        for args in [
            &["on", "--until", "2000-01-01T00:00:00Z"][..],
            &[
                "on",
                "--from",
                "2099-01-02T00:00:00Z",
                "--until",
                "2099-01-01T00:00:00Z",
            ][..],
            &["on", "--from", "2000-01-01T00:00:00Z", "--for", "1h"][..],
        ] {
            let err = run_on(&store, args).await.unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}: {err}");
            assert!(err.to_string().contains("invalid window"), "{err}");
        }
        assert!(store.events(None, 10).await.unwrap().is_empty());
    }
}
