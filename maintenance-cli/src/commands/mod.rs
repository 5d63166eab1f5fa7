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
    host::normalize_host,
};

use crate::args::{Cli, Command, SiteChoice};
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
    if let Command::Admin(_) | Command::Relay(_) | Command::Watch(_) = cli.command {
        return Err(CliError::Usage(
            "`admin`, `relay` and `watch` are servers; start them from the `maintenance` binary"
                .to_owned(),
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
        Command::Migrate | Command::Admin(_) | Command::Relay(_) | Command::Watch(_) => {
            Err(CliError::Usage(
                "`migrate`, `admin`, `relay` and `watch` need the database itself; use `run`"
                    .to_owned(),
            ))
        }
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

/// The most known sites an "unknown site" error names.
const MAX_SUGGESTIONS: usize = 5;

/// The error for sites that are not there: every known site when there are few, else the
/// closest few ([`MAX_SUGGESTIONS`]) and how many there are in all.
fn unknown_sites(sites: &[SiteState], missing: &[&SiteRef]) -> CliError {
    if missing.contains(&&SiteRef::Default) {
        return CliError::Failed(
            "the database has no default site: run `maintenance migrate` first".to_owned(),
        );
    }
    let typed: Vec<&str> = missing
        .iter()
        .filter_map(|r| match r {
            SiteRef::Domain(d) => Some(d.as_str()),
            SiteRef::Default => None,
        })
        .collect();
    let names: Vec<String> = typed
        .iter()
        .map(|d| format!("`{}`", crate::report::escape(&shorten(d))))
        .collect();
    let noun = if names.len() == 1 { "site" } else { "sites" };
    let hint = "see `maintenance sites list`, add one with `maintenance sites add DOMAIN`";
    let expected = if sites.len() <= MAX_SUGGESTIONS {
        let known: Vec<String> = sites.iter().map(|s| shown_domain(&s.domain)).collect();
        format!("expected one of {} ({hint})", known.join(", "))
    } else {
        let close = closest(sites, &typed);
        let others = sites.len() - close.len();
        if close.is_empty() {
            format!(
                "expected one of the {} sites, none of them close ({hint})",
                sites.len()
            )
        } else {
            format!(
                "expected one of the {} sites; the closest: {} (and {others} more; {hint})",
                sites.len(),
                close.join(", ")
            )
        }
    };
    CliError::Failed(format!("unknown {noun} {}: {expected}", names.join(", ")))
}

/// A domain as the errors show it: escaped, and at most 100 characters.
fn shown_domain(domain: &str) -> String {
    crate::report::escape(&shorten(domain)).into_owned()
}

fn shorten(text: &str) -> String {
    const MAX: usize = 100;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The known domains closest to what was typed (at most [`MAX_SUGGESTIONS`], each within an
/// edit distance of a third of its length, at least 2), closest first.
fn closest(sites: &[SiteState], typed: &[&str]) -> Vec<String> {
    let typed: Vec<Vec<char>> = typed
        .iter()
        .map(|t| normalize_host(t).chars().take(253).collect())
        .collect();
    let mut scored: Vec<(usize, &str)> = sites
        .iter()
        .filter_map(|s| {
            let known: Vec<char> = s.domain.chars().take(253).collect();
            typed
                .iter()
                .filter_map(|t| {
                    let limit = (t.len().max(known.len()) / 3).max(2);
                    edit_distance(t, &known, limit)
                })
                .min()
                .map(|d| (d, s.domain.as_str()))
        })
        .collect();
    scored.sort_unstable();
    scored
        .into_iter()
        .take(MAX_SUGGESTIONS)
        .map(|(_, d)| shown_domain(d))
        .collect()
}

/// The Levenshtein distance between `a` and `b`, if it is at most `limit` (each row stops
/// being computed once it exceeds it).
fn edit_distance(a: &[char], b: &[char], limit: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        let mut best = row[0];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous + usize::from(ca != cb);
            previous = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(previous + 1);
            best = best.min(row[j + 1]);
        }
        if best > limit {
            return None;
        }
    }
    row.last().copied().filter(|d| *d <= limit)
}

/// Finds one site, or fails naming it and the known sites.
fn resolve<'a>(sites: &'a [SiteState], site: Option<&str>) -> Result<&'a SiteState, CliError> {
    let r = SiteRef::from_option(site);
    find_site(sites, &r).ok_or_else(|| unknown_sites(sites, &[&r]))
}

/// The sites named by `--site`s and carrying a `--tag` (or all with `--all`, or the default
/// one), every one checked before anything is written; each site once, named ones first.
fn targets<'a>(
    sites: &'a [SiteState],
    choice: &SiteChoice,
) -> Result<Vec<&'a SiteState>, CliError> {
    if choice.all {
        return Ok(sites.iter().collect());
    }
    let refs: Vec<SiteRef> = if choice.sites.is_empty() && choice.tags.is_empty() {
        vec![SiteRef::Default]
    } else {
        choice
            .sites
            .iter()
            .map(|n| SiteRef::Domain(n.clone()))
            .collect()
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
    if !missing.is_empty() {
        return Err(unknown_sites(sites, &missing));
    }
    for tag in &choice.tags {
        let tagged: Vec<&SiteState> = sites.iter().filter(|s| s.tags.contains(tag)).collect();
        if tagged.is_empty() {
            return Err(unknown_tag(tag));
        }
        for s in tagged {
            if !found.iter().any(|f| f.id == s.id) {
                found.push(s);
            }
        }
    }
    Ok(found)
}

/// The error of a `--tag` no site carries.
fn unknown_tag(tag: &str) -> CliError {
    CliError::Failed(format!(
        "no site carries the tag `{}`: expected a tag of `maintenance sites list` (tag a site with `maintenance sites tag add DOMAIN TAG`)",
        crate::report::escape(tag)
    ))
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

/// `value` as pretty JSON. serde escapes the C0 controls; the characters it leaves raw that
/// [`crate::report::escape`] does not (DEL, C1, text reordering) are written as `\uXXXX` too,
/// which JSON reads back as the same text.
fn json(value: &impl serde::Serialize) -> Result<String, CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Failed(format!("could not write JSON: {e}")))?;
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if c != '\n' && crate::report::is_unsafe_for_terminals(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn many(count: usize) -> Vec<SiteState> {
        let mut sites = vec![SiteState::new(0, "default")];
        sites[0].is_default = true;
        sites.extend((1..=count).map(|i| SiteState::new(i as i64, format!("shop{i}.example"))));
        sites
    }

    #[test]
    fn an_unknown_site_among_many_names_a_few_close_ones_and_counts_the_rest() {
        let sites = many(10_000);
        let typed = SiteRef::Domain("shop12.exampel".into());
        let text = unknown_sites(&sites, &[&typed]).to_string();
        assert!(text.len() < 600, "{} bytes: {text}", text.len());
        assert!(text.contains("unknown site `shop12.exampel`"), "{text}");
        assert!(text.contains("of the 10001 sites"), "{text}");
        assert!(text.contains("shop12.example"), "{text}");
        assert_eq!(text.matches(".example").count(), MAX_SUGGESTIONS, "{text}");
        assert!(
            text.contains(&format!("and {} more", 10_001 - MAX_SUGGESTIONS)),
            "{text}"
        );

        let far = SiteRef::Domain("zzzzzzzzzzzzzzzzzzzzzzzz.test".into());
        let text = unknown_sites(&sites, &[&far]).to_string();
        assert!(
            text.contains("none of them close") && text.len() < 300,
            "{text}"
        );
    }

    #[test]
    fn an_unknown_site_among_few_lists_them_all() {
        let sites = many(3);
        let typed = SiteRef::Domain("nope.example".into());
        let text = unknown_sites(&sites, &[&typed]).to_string();
        assert!(
            text.contains("expected one of default, shop1.example, shop2.example, shop3.example"),
            "{text}"
        );
    }

    #[test]
    fn suggestions_escape_control_characters() {
        let mut sites = many(10);
        sites.push(SiteState::new(99, "shop\u{1b}[2j.example"));
        let typed = SiteRef::Domain("shop\u{1b}[2j.exampl\u{7}".into());
        let text = unknown_sites(&sites, &[&typed]).to_string();
        assert!(!text.contains(['\u{1b}', '\u{7}']), "{text:?}");
        assert!(text.contains("shop\\u{1b}[2j.example"), "{text}");
    }

    #[test]
    fn json_escapes_what_serde_leaves_raw() {
        let text = json(&["a\u{7f}b\u{9b}c\u{202e}d\u{1b}é"]).unwrap();
        assert!(
            !text.contains(['\u{7f}', '\u{9b}', '\u{202e}', '\u{1b}']),
            "{text:?}"
        );
        let back: Vec<String> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ["a\u{7f}b\u{9b}c\u{202e}d\u{1b}é"]);
    }

    #[test]
    fn edit_distance_stops_past_its_limit() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(
            edit_distance(&chars("kitten"), &chars("sitting"), 5),
            Some(3)
        );
        assert_eq!(edit_distance(&chars("kitten"), &chars("sitting"), 2), None);
        assert_eq!(edit_distance(&chars(""), &chars("ab"), 2), Some(2));
        assert_eq!(edit_distance(&chars("same"), &chars("same"), 0), Some(0));
    }
}
