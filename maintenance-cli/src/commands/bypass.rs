//! `bypass`: a new secret (shown once, with the bypass URL) or none for a site.

use maintenance_core::{MaintenanceStore, bypass, bypass::BypassSettings};

use super::{load_sites, resolve, site_ref};
use crate::args::{BypassAction, BypassArgs};
use crate::error::CliError;

pub(super) async fn bypass_cmd(
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
