//! `sites`: list, add and remove the sites (domains) the database knows.

use chrono::{DateTime, Utc};
use maintenance_core::{MaintenanceStore, SiteState};

use super::{load_sites, resolve};
use crate::args::SitesCommand;
use crate::error::CliError;
use crate::report::Phase;

pub(super) async fn sites(
    store: &dyn MaintenanceStore,
    cmd: &SitesCommand,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<String, CliError> {
    match cmd {
        SitesCommand::List => {
            let sites = load_sites(store).await?;
            let width = column_width(&sites, "DOMAIN", |s| &s.domain);
            let name_width = column_width(&sites, "NAME", |s| &s.name);
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

/// The width of a column: its longest value, or its heading.
fn column_width(sites: &[SiteState], heading: &str, value: impl Fn(&SiteState) -> &str) -> usize {
    sites
        .iter()
        .map(|s| value(s).chars().count())
        .max()
        .unwrap_or(0)
        .max(heading.len())
}
