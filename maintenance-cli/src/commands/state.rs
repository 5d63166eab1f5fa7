//! `status`, `on` and `off`: the maintenance state of one site, several or all.

use chrono::{DateTime, Utc};
use maintenance_core::{MaintenanceStore, Mode, SiteState, StateChange, StoreError};

use super::{json, load_sites, resolve, targets};
use crate::args::{OffArgs, OnArgs, SiteChoice, StatusArgs};
use crate::error::CliError;
use crate::report::{self, SiteReport};

pub(super) async fn status(
    store: &dyn MaintenanceStore,
    args: &StatusArgs,
    now: DateTime<Utc>,
) -> Result<String, CliError> {
    let mut sites = load_sites(store).await?;
    if !args.tags.is_empty() {
        let choice = SiteChoice {
            tags: args.tags.clone(),
            ..SiteChoice::default()
        };
        let ids: Vec<i64> = targets(&sites, &choice)?.iter().map(|s| s.id).collect();
        sites.retain(|s| ids.contains(&s.id));
    }
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
        let mut texts: Vec<String> = sites.iter().map(|s| report::site_text(s, now)).collect();
        texts.extend(report::upcoming_text(&sites, now));
        Ok(texts.join("\n"))
    }
}

/// The change `on` makes: the options given define the whole state.
pub(super) fn on_change(args: &OnArgs, now: DateTime<Utc>) -> Result<StateChange, CliError> {
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
        scope: Some(args.only.clone()),
    })
}

/// Applies `change` to the selected sites in one transaction (all of them or none), and says
/// how each one stands.
pub(super) async fn set_states(
    store: &dyn MaintenanceStore,
    choice: &SiteChoice,
    change: &StateChange,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<String, CliError> {
    let changed = write_states(store, choice, change, actor).await?;
    let mut out = String::new();
    for site in &changed {
        out.push_str(&report::state_line(site, now));
        out.push('\n');
    }
    Ok(out)
}

/// Applies `change` to the selected sites in one transaction (all of them or none), and
/// returns their new states.
pub(super) async fn write_states(
    store: &dyn MaintenanceStore,
    choice: &SiteChoice,
    change: &StateChange,
    actor: &str,
) -> Result<Vec<SiteState>, CliError> {
    match store
        .set_state_many(&choice.selection(), change, actor)
        .await
    {
        Ok(changed) => Ok(changed),
        // Name the unknown sites or tags, or the site that refuses the change, as one-site
        // writes do.
        Err(
            e @ (StoreError::UnknownSite(_) | StoreError::UnknownTag(_) | StoreError::Invalid(_)),
        ) => {
            let sites = load_sites(store).await?;
            let targets = targets(&sites, choice)?;
            for site in targets {
                let mut next = site.clone();
                change
                    .apply_to(&mut next)
                    .map_err(|e| CliError::Usage(format!("{}: {e}", site.domain)))?;
            }
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn on(
    store: &dyn MaintenanceStore,
    args: &OnArgs,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<String, CliError> {
    let change = on_change(args, now)?;
    set_states(store, &args.target, &change, actor, now).await
}

pub(super) async fn off(
    store: &dyn MaintenanceStore,
    args: &OffArgs,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<String, CliError> {
    let change = StateChange::turn_off();
    set_states(store, &args.target, &change, actor, now).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Cli;
    use crate::commands::execute;
    use clap::Parser;
    use maintenance_core::MemoryStore;
    use maintenance_core::SiteRef;

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
