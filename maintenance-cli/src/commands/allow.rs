//! `allow`: the client networks of a site that are let through during maintenance.

use maintenance_core::MaintenanceStore;

use super::{load_sites, resolve, site_ref, with_list_hint};
use crate::args::{AllowAction, AllowArgs};
use crate::error::CliError;

pub(super) async fn allow(
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
