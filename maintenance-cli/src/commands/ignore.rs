//! `ignore`: the path patterns of a site that are served even during maintenance.

use maintenance_core::MaintenanceStore;

use super::{load_sites, resolve, site_ref, with_list_hint};
use crate::args::{IgnoreAction, IgnoreArgs};
use crate::error::CliError;

pub(super) async fn ignore(
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
