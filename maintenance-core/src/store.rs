//! What the store traits ([`crate::MaintenanceSource`], [`crate::MaintenanceStore`])
//! exchange, and the helpers every store shares: finding and selecting sites, the error of an
//! unknown site, the default site's domain and name.

use tokio::sync::mpsc;

use crate::error::StoreError;
use crate::listing::SiteSelection;
use crate::model::{AuditAction, SiteRef, SiteState, StateChange};

/// A feed of change notices: each message means "the data may have changed, read again".
///
/// The store that hands it out keeps it alive (reconnecting as needed) and sends a notice after
/// each reconnection, since changes may have been missed meanwhile. A closed feed means the
/// store gave up; the handle then polls.
pub type ChangeFeed = mpsc::Receiver<()>;

/// Everything a store holds, read at one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreContents {
    /// The revision the sites were read at.
    pub revision: i64,
    /// Every site with its patterns and networks.
    pub sites: Vec<SiteState>,
}

/// What changed in a store since a revision: enough to bring a snapshot of that revision up
/// to [`StoreChanges::revision`] ([`crate::snapshot::Snapshot::apply`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreChanges {
    /// The revision the changes were read at.
    pub revision: i64,
    /// The sites added or changed since, each whole (patterns and networks included).
    pub changed: Vec<SiteState>,
    /// The ids of the sites removed since (and of changed rows that could not be read).
    pub removed: Vec<i64>,
}

/// What [`MaintenanceStore::set_state_if`](crate::MaintenanceStore::set_state_if) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardedWrite {
    /// The site still held the expected state: the change is written; its new state.
    Written(SiteState),
    /// The site held something else: nothing is written (no revision, no event); its state
    /// as found.
    Kept(SiteState),
}

/// Finds a site in a list by reference (the default flag, or the normalised domain).
pub fn find_site<'a>(sites: &'a [SiteState], site: &SiteRef) -> Option<&'a SiteState> {
    match site {
        SiteRef::Default => sites.iter().find(|s| s.is_default),
        SiteRef::Domain(d) => {
            let d = crate::host::normalize_host(d);
            sites.iter().find(|s| s.domain == d)
        }
    }
}

/// The sites a [`SiteSelection`] names, in the order of `sites` (each once); the first unknown
/// site, then the first tag no site carries, is an error.
pub fn select_sites<'a>(
    sites: &'a [SiteState],
    selection: &SiteSelection,
) -> Result<Vec<&'a SiteState>, StoreError> {
    if let SiteSelection::All = selection {
        return Ok(sites.iter().collect());
    }
    let refs = selection.named();
    let tags = selection.tags();
    let mut ids = std::collections::HashSet::with_capacity(refs.len());
    for r in refs {
        let site = find_site(sites, r).ok_or_else(|| unknown_site(r))?;
        ids.insert(site.id);
    }
    for tag in tags {
        let mut carried = false;
        for site in sites.iter().filter(|s| s.tags.contains(tag)) {
            carried = true;
            ids.insert(site.id);
        }
        if !carried {
            return Err(StoreError::UnknownTag(tag.clone()));
        }
    }
    Ok(sites.iter().filter(|s| ids.contains(&s.id)).collect())
}

/// The error for a site that is not there.
pub fn unknown_site(site: &SiteRef) -> StoreError {
    match site {
        SiteRef::Default => {
            StoreError::UnknownSite("(default site; run migrations first)".to_owned())
        }
        SiteRef::Domain(d) => StoreError::UnknownSite(d.clone()),
    }
}

/// The audit action of a state change: `on`, `off` or `update` ([`AuditAction::of_change`]).
pub fn state_action(change: &StateChange) -> &'static str {
    AuditAction::of_change(change).as_str()
}

/// The domain of the site a fresh store creates, and its name.
pub const DEFAULT_SITE_DOMAIN: &str = "default";
/// The name of the site a fresh store creates.
pub const DEFAULT_SITE_NAME: &str = "Default site";
