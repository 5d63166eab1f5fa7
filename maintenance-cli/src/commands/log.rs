//! `log`: the audit events, of all sites or one, as text or JSON.

use maintenance_core::{MaintenanceStore, StoreError};

use super::{json, load_sites, resolve, site_ref};
use crate::args::LogArgs;
use crate::error::CliError;
use crate::report::{self, EventReport};

pub(super) async fn log(store: &dyn MaintenanceStore, args: &LogArgs) -> Result<String, CliError> {
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
