//! `ignore` and `allow`: a site's two lists, the path patterns served even during maintenance
//! and the client networks let through during maintenance.

use maintenance_core::{MaintenanceStore, SiteState};

use super::{load_sites, resolve, site_ref, with_list_hint};
use crate::args::{AllowAction, AllowArgs, IgnoreAction, IgnoreArgs};
use crate::error::CliError;
use crate::report::escape;

/// One of a site's lists.
#[derive(Debug, Clone, Copy)]
enum List {
    /// `ignore`: the ignored path patterns.
    Ignored,
    /// `allow`: the allowed networks.
    Allowed,
}

/// What to do with a list.
enum Edit<'a> {
    List,
    Add {
        value: &'a str,
        description: &'a str,
    },
    Remove {
        value: &'a str,
    },
}

impl List {
    /// The command that edits the list.
    fn command(self) -> &'static str {
        match self {
            List::Ignored => "ignore",
            List::Allowed => "allow",
        }
    }

    /// The site's entries: value and description.
    fn entries(self, site: &SiteState) -> Vec<(String, &str)> {
        match self {
            List::Ignored => site
                .ignored_paths
                .iter()
                .map(|p| (p.pattern.clone(), p.description.as_str()))
                .collect(),
            List::Allowed => site
                .allowed_networks
                .iter()
                .map(|n| (n.network.to_string(), n.description.as_str()))
                .collect(),
        }
    }

    /// An entry as the messages name it.
    fn entry(self, value: &str) -> String {
        match self {
            List::Ignored => format!("ignored pattern `{}`", escape(value)),
            List::Allowed => format!("allowed network {}", escape(value)),
        }
    }

    async fn edit(
        self,
        store: &dyn MaintenanceStore,
        site: Option<&str>,
        edit: Edit<'_>,
        actor: &str,
    ) -> Result<String, CliError> {
        let sites = load_sites(store).await?;
        let site = resolve(&sites, site)?;
        match edit {
            Edit::List => {
                let entries = self.entries(site);
                if entries.is_empty() {
                    let what = match self {
                        List::Ignored => "ignored patterns",
                        List::Allowed => "allowed networks",
                    };
                    return Ok(format!("No {what} for {}.\n", escape(&site.domain)));
                }
                Ok(entries
                    .iter()
                    .map(|(value, description)| {
                        format!("{}\t{}\n", escape(value), escape(description))
                    })
                    .collect())
            }
            Edit::Add { value, description } => {
                let at = site_ref(site);
                match self {
                    List::Ignored => store.add_ignored_path(&at, value, description, actor),
                    List::Allowed => store.add_allowed_network(&at, value, description, actor),
                }
                .await?;
                Ok(format!(
                    "Added {} to {}.\n",
                    self.entry(value),
                    escape(&site.domain)
                ))
            }
            Edit::Remove { value } => {
                let at = site_ref(site);
                match self {
                    List::Ignored => store.remove_ignored_path(&at, value, actor),
                    List::Allowed => store.remove_allowed_network(&at, value, actor),
                }
                .await
                .map_err(|e| with_list_hint(e, self.command(), site))?;
                Ok(format!(
                    "Removed {} from {}.\n",
                    self.entry(value),
                    escape(&site.domain)
                ))
            }
        }
    }
}

pub(super) async fn ignore(
    store: &dyn MaintenanceStore,
    args: &IgnoreArgs,
    actor: &str,
) -> Result<String, CliError> {
    let edit = match &args.action {
        IgnoreAction::List => Edit::List,
        IgnoreAction::Add {
            pattern,
            description,
        } => Edit::Add {
            value: pattern,
            description,
        },
        IgnoreAction::Remove { pattern } => Edit::Remove { value: pattern },
    };
    let site = args.site.as_deref();
    List::Ignored.edit(store, site, edit, actor).await
}

pub(super) async fn allow(
    store: &dyn MaintenanceStore,
    args: &AllowArgs,
    actor: &str,
) -> Result<String, CliError> {
    let edit = match &args.action {
        AllowAction::List => Edit::List,
        AllowAction::Add {
            network,
            description,
        } => Edit::Add {
            value: network,
            description,
        },
        AllowAction::Remove { network } => Edit::Remove { value: network },
    };
    let site = args.site.as_deref();
    List::Allowed.edit(store, site, edit, actor).await
}
