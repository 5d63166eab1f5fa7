//! `import-django --from URL`: copies a Django project's django-maintenancemode-2 state into
//! these tables, for moving from the Django package to maintenance-rs.
//!
//! The Django tables are read with [`DjangoSource`] (read-only, as the servers read them with
//! `MAINTENANCE_STORE=django`), then each Django site is matched here:
//! - the `SITE_ID` site goes onto the default site (which serves every host no site names, as
//!   the `SITE_ID` site does for Django), and onto a site of the same domain if there is one;
//! - every other Django site onto the site of its domain, added if missing (with its name);
//! - the flag: on or off as `is_being_performed` says (turning on keeps the site's message,
//!   window and retry-after; turning off clears the window, as `off` does);
//! - each `IgnoredURL` becomes an ignored pattern with its description (updated if it
//!   differs); with `--prune`, patterns the Django site does not have are removed.
//!
//! Nothing here is written when it already matches, so a second run changes nothing. Every
//! write goes through the store, which records it in the audit log, with the actor
//! `<actor> (import-django)`. Patterns are changed before maintenance goes on, and after it
//! goes off, so a path the Django site ignores is never blocked on the way.

use std::fmt;

use maintenance_core::store::find_site;
use maintenance_core::{MaintenanceStore, SiteRef, SiteState, StateChange, validate};
use maintenance_sqlx::DjangoSource;

use super::{connect_timeout, load_sites, unknown_sites};
use crate::args::ImportDjangoArgs;
use crate::error::CliError;
use crate::report::escape;

/// What the audit log's actor says after the operator's name.
pub const ACTOR_SUFFIX: &str = " (import-django)";

/// One write of the import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Add a site for a Django site's domain.
    AddSite {
        /// The domain.
        domain: String,
        /// The Django site's name.
        name: String,
    },
    /// Turn maintenance on or off.
    Flag {
        /// The site.
        site: SiteRef,
        /// On or off.
        on: bool,
    },
    /// Add an ignored pattern, or update its description.
    Ignore {
        /// The site.
        site: SiteRef,
        /// The pattern.
        pattern: String,
        /// Its description.
        description: String,
        /// Whether the pattern is there with another description.
        update: bool,
    },
    /// Remove an ignored pattern the Django site does not have (`--prune`).
    Unignore {
        /// The site.
        site: SiteRef,
        /// The pattern.
        pattern: String,
    },
}

struct Named<'a>(&'a SiteRef);

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            SiteRef::Default => f.write_str("the default site"),
            SiteRef::Domain(d) => write!(f, "{d}"),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::AddSite { domain, name } => write!(f, "add site {domain} ({name})"),
            Step::Flag { site, on } => {
                let state = if *on { "on" } else { "off" };
                write!(f, "turn maintenance {state} for {}", Named(site))
            }
            Step::Ignore {
                site,
                pattern,
                description,
                update,
            } => {
                let verb = if *update {
                    "update the description of"
                } else {
                    "ignore"
                };
                write!(f, "{verb} `{pattern}` on {}", Named(site))?;
                if !description.is_empty() {
                    write!(f, ": {description}")?;
                }
                Ok(())
            }
            Step::Unignore { site, pattern } => {
                write!(f, "stop ignoring `{pattern}` on {}", Named(site))
            }
        }
    }
}

/// The writes that make `ours` match `django` (as [`DjangoSource`] reads it, the `SITE_ID`
/// site marked default), in the order to make them, and a note for each Django pattern that
/// cannot be used here.
///
/// # Errors
/// When `ours` has no default site (the tables were not migrated).
pub fn plan(
    django: &[SiteState],
    ours: &[SiteState],
    prune: bool,
) -> Result<(Vec<Step>, Vec<String>), CliError> {
    let mut steps = Vec::new();
    let mut notes = Vec::new();
    for d in django {
        let mut targets: Vec<(SiteRef, Option<&SiteState>)> = Vec::new();
        if d.is_default {
            let default = find_site(ours, &SiteRef::Default)
                .ok_or_else(|| unknown_sites(ours, &[&SiteRef::Default]))?;
            targets.push((SiteRef::Default, Some(default)));
        }
        let by_domain = SiteRef::Domain(d.domain.clone());
        match find_site(ours, &by_domain) {
            Some(s) if s.is_default && d.is_default => {}
            Some(s) if s.is_default => targets.push((SiteRef::Default, Some(s))),
            Some(s) => targets.push((by_domain, Some(s))),
            None if d.is_default => {}
            None => {
                steps.push(Step::AddSite {
                    domain: d.domain.clone(),
                    name: d.name.clone(),
                });
                targets.push((by_domain, None));
            }
        }
        let mut wanted: Vec<(&str, &str)> = Vec::new();
        for p in &d.ignored_paths {
            if let Err(e) = validate::pattern(&p.pattern) {
                notes.push(format!(
                    "skipped the ignored URL `{}` of Django site {} ({}): {e}",
                    p.pattern, d.id, d.domain
                ));
            } else if !wanted.iter().any(|(w, _)| *w == p.pattern) {
                wanted.push((&p.pattern, &p.description));
            }
        }
        for (site, current) in targets {
            let enabled = current.is_some_and(|c| c.enabled);
            let has = |pattern: &str| {
                current.and_then(|c| c.ignored_paths.iter().find(|p| p.pattern == pattern))
            };
            let mut patterns = Vec::new();
            for (pattern, description) in &wanted {
                let found = has(pattern);
                if found.is_none_or(|p| p.description != *description) {
                    patterns.push(Step::Ignore {
                        site: site.clone(),
                        pattern: (*pattern).to_owned(),
                        description: (*description).to_owned(),
                        update: found.is_some(),
                    });
                }
            }
            if prune && let Some(c) = current {
                for p in &c.ignored_paths {
                    if !wanted.iter().any(|(w, _)| *w == p.pattern) {
                        patterns.push(Step::Unignore {
                            site: site.clone(),
                            pattern: p.pattern.clone(),
                        });
                    }
                }
            }
            let flag = (enabled != d.enabled).then(|| Step::Flag {
                site: site.clone(),
                on: d.enabled,
            });
            match flag {
                Some(flag @ Step::Flag { on: false, .. }) => {
                    steps.push(flag);
                    steps.extend(patterns);
                }
                flag => {
                    steps.extend(patterns);
                    steps.extend(flag);
                }
            }
        }
    }
    Ok((steps, notes))
}

pub(super) async fn import_django(
    store: &dyn MaintenanceStore,
    args: &ImportDjangoArgs,
    actor: &str,
) -> Result<String, CliError> {
    let shown = maintenance_sqlx::redact_url(&args.from);
    let limit = connect_timeout()?;
    let read = async {
        DjangoSource::connect(&args.from)
            .await?
            .with_site_id(args.site_id)
            .contents()
            .await
    };
    let django = match tokio::time::timeout(limit, read).await {
        Ok(Ok(contents)) => contents.sites,
        Ok(Err(e)) => {
            let text = maintenance_core::ErrorChain(&e).to_string();
            let hint = if text.contains("no such table")
                || text.contains("does not exist")
                || text.contains("doesn't exist")
            {
                "\nIs this the Django project's database, with its migrations applied \
                 (`python manage.py migrate`)?"
            } else {
                ""
            };
            return Err(CliError::Failed(format!(
                "could not read the Django database `{shown}`: {text}{hint}"
            )));
        }
        Err(_) => {
            return Err(CliError::Failed(format!(
                "could not read the Django database `{shown}`: no answer within {} s",
                limit.as_secs()
            )));
        }
    };
    let ours = load_sites(store).await?;
    let (steps, notes) = plan(&django, &ours, args.prune)?;

    let mut out = format!(
        "Read {} Django site(s) from `{shown}`; SITE_ID {} is the default site.\n",
        django.len(),
        args.site_id
    );
    if !django.iter().any(|d| d.is_default) {
        out.push_str(&format!(
            "No Django site has the id {}: the default site is left as it is (see --site-id).\n",
            args.site_id
        ));
    }
    for note in &notes {
        out.push_str(&format!("note: {}\n", escape(note)));
    }
    if steps.is_empty() {
        out.push_str("Nothing to change: these tables already match the Django tables.\n");
        return Ok(out);
    }
    if args.dry_run {
        out.push_str(&format!(
            "Would make {} change(s) (dry run, nothing written):\n",
            steps.len()
        ));
        for step in &steps {
            out.push_str(&format!("  {}\n", escape(&step.to_string())));
        }
        return Ok(out);
    }
    let actor = format!("{actor}{ACTOR_SUFFIX}");
    for (done, step) in steps.iter().enumerate() {
        apply(store, step, &actor).await.map_err(|e| {
            CliError::Failed(format!(
                "{}could not {}: {}; {done} of {} change(s) were made before it (run \
                 import-django again to finish)",
                out,
                escape(&step.to_string()),
                maintenance_core::ErrorChain(&e),
                steps.len()
            ))
        })?;
        out.push_str(&format!("  {}\n", escape(&step.to_string())));
    }
    out.push_str(&format!(
        "Made {} change(s), each in the audit log as `{actor}`.\n",
        steps.len()
    ));
    Ok(out)
}

async fn apply(
    store: &dyn MaintenanceStore,
    step: &Step,
    actor: &str,
) -> Result<(), maintenance_core::StoreError> {
    match step {
        Step::AddSite { domain, name } => store
            .add_site(domain, Some(name.as_str()), actor)
            .await
            .map(drop),
        Step::Flag { site, on } => {
            let change = if *on {
                StateChange::turn_on()
            } else {
                StateChange::turn_off()
            };
            store.set_state(site, &change, actor).await.map(drop)
        }
        Step::Ignore {
            site,
            pattern,
            description,
            ..
        } => {
            store
                .add_ignored_path(site, pattern, description, actor)
                .await
        }
        Step::Unignore { site, pattern } => store.remove_ignored_path(site, pattern, actor).await,
    }
}

#[cfg(test)]
mod tests {
    use maintenance_core::IgnoredPath;

    use super::*;

    fn site(
        id: i64,
        domain: &str,
        default: bool,
        enabled: bool,
        ignored: &[(&str, &str)],
    ) -> SiteState {
        let mut site = SiteState::new(id, domain);
        site.is_default = default;
        site.enabled = enabled;
        site.ignored_paths = ignored
            .iter()
            .map(|(p, d)| IgnoredPath {
                pattern: (*p).to_owned(),
                description: (*d).to_owned(),
            })
            .collect();
        site
    }

    fn ignore(site: SiteRef, pattern: &str, description: &str, update: bool) -> Step {
        Step::Ignore {
            site,
            pattern: pattern.to_owned(),
            description: description.to_owned(),
            update,
        }
    }

    fn shop() -> SiteRef {
        SiteRef::Domain("shop.example.com".to_owned())
    }

    #[test]
    fn a_fresh_store_gets_every_site_flag_and_pattern() {
        let django = [
            site(
                1,
                "example.com",
                true,
                true,
                &[("^ignored-page/$", "stays up")],
            ),
            site(2, "shop.example.com", false, false, &[("^api/", "")]),
        ];
        let ours = [site(1, "default", true, false, &[])];
        let (steps, notes) = plan(&django, &ours, false).unwrap();
        assert!(notes.is_empty());
        assert_eq!(
            steps,
            [
                ignore(SiteRef::Default, "^ignored-page/$", "stays up", false),
                Step::Flag {
                    site: SiteRef::Default,
                    on: true
                },
                Step::AddSite {
                    domain: "shop.example.com".into(),
                    name: "shop.example.com".into()
                },
                ignore(shop(), "^api/", "", false),
            ]
        );
    }

    #[test]
    fn what_already_matches_is_left_alone() {
        let django = [
            site(1, "example.com", true, true, &[("^a", "x")]),
            site(2, "shop.example.com", false, false, &[]),
        ];
        let ours = [
            site(1, "default", true, true, &[("^a", "x"), ("^ours", "")]),
            site(7, "shop.example.com", false, false, &[]),
        ];
        assert_eq!(plan(&django, &ours, false).unwrap().0, []);
        // With --prune, patterns the Django site lacks go.
        assert_eq!(
            plan(&django, &ours, true).unwrap().0,
            [Step::Unignore {
                site: SiteRef::Default,
                pattern: "^ours".into()
            }]
        );
    }

    #[test]
    fn turning_off_comes_before_pattern_changes_and_descriptions_are_updated() {
        let django = [site(1, "example.com", true, false, &[("^a", "new")])];
        let ours = [site(1, "default", true, true, &[("^a", "old")])];
        assert_eq!(
            plan(&django, &ours, false).unwrap().0,
            [
                Step::Flag {
                    site: SiteRef::Default,
                    on: false
                },
                ignore(SiteRef::Default, "^a", "new", true),
            ]
        );
    }

    #[test]
    fn the_site_id_site_also_reaches_a_site_of_its_domain() {
        let django = [site(1, "example.com", true, true, &[])];
        let ours = [
            site(1, "default", true, true, &[]),
            site(2, "example.com", false, false, &[]),
        ];
        assert_eq!(
            plan(&django, &ours, false).unwrap().0,
            [Step::Flag {
                site: SiteRef::Domain("example.com".into()),
                on: true
            }]
        );
    }

    #[test]
    fn unusable_and_repeated_patterns_are_noted_or_merged() {
        let django = [site(
            1,
            "example.com",
            true,
            false,
            &[("^a", "first"), ("^a", "second"), ("^(", "broken")],
        )];
        let ours = [site(1, "default", true, false, &[])];
        let (steps, notes) = plan(&django, &ours, false).unwrap();
        assert_eq!(steps, [ignore(SiteRef::Default, "^a", "first", false)]);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("`^(`"), "{notes:?}");
    }

    #[test]
    fn a_store_without_its_default_site_is_refused() {
        let django = [site(1, "example.com", true, true, &[])];
        let err = plan(&django, &[], false).unwrap_err();
        assert!(err.to_string().contains("migrate"), "{err}");
    }

    #[test]
    fn steps_read_as_sentences() {
        let lines: Vec<String> = [
            Step::AddSite {
                domain: "shop.example.com".into(),
                name: "Shop".into(),
            },
            Step::Flag {
                site: SiteRef::Default,
                on: true,
            },
            ignore(shop(), "^api/", "the API", false),
            Step::Unignore {
                site: shop(),
                pattern: "^old".into(),
            },
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            lines,
            [
                "add site shop.example.com (Shop)",
                "turn maintenance on for the default site",
                "ignore `^api/` on shop.example.com: the API",
                "stop ignoring `^old` on shop.example.com",
            ]
        );
    }
}
