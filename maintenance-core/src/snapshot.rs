//! The snapshot: every site, compiled for requests, looked up by host.
//!
//! A snapshot is built once per store revision. Patterns are compiled into one `RegexSet` per
//! site here, so a request never compiles anything; a pattern that does not compile is left
//! out with a warning naming it, and the rest keep working.

use std::collections::HashMap;
use std::sync::Arc;

use ipnet::IpNet;

use crate::error::ValidationError;
use crate::host::normalize_host;
use crate::model::SiteState;
use crate::pattern::PatternSet;

/// A site ready for requests: its state plus its compiled patterns.
#[derive(Debug, Clone)]
pub struct LiveSite {
    state: SiteState,
    ignored: PatternSet,
    networks: Vec<IpNet>,
}

impl LiveSite {
    /// Compiles a site's patterns; invalid ones go to `on_invalid`.
    pub fn compile(state: SiteState, on_invalid: impl FnMut(ValidationError)) -> Self {
        let ignored = PatternSet::compile(
            state.ignored_paths.iter().map(|p| p.pattern.as_str()),
            on_invalid,
        );
        // Stores hand over checked networks; a state built in code may still hold an
        // IPv4-mapped one, which must match the IPv4 form client addresses are compared in.
        let networks = state
            .allowed_networks
            .iter()
            .filter_map(|n| crate::validate::canonical_network(n.network))
            .collect();
        LiveSite {
            state,
            ignored,
            networks,
        }
    }

    /// The site's state as stored.
    pub fn state(&self) -> &SiteState {
        &self.state
    }

    /// The site's compiled ignored patterns (only the valid ones).
    pub fn ignored(&self) -> &PatternSet {
        &self.ignored
    }

    /// The site's allowed networks.
    pub fn networks(&self) -> &[IpNet] {
        &self.networks
    }
}

/// A consistent view of every site at one store revision.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    revision: i64,
    sites: Vec<Arc<LiveSite>>,
    by_domain: HashMap<String, usize>,
    default: Option<usize>,
    enabled: Vec<usize>,
    skipped: Vec<ValidationError>,
}

impl Snapshot {
    /// Builds a snapshot. Invalid patterns are skipped with a warning (see [`Snapshot::skipped`]).
    ///
    /// ```
    /// use maintenance_core::{Snapshot, SiteState};
    /// let mut default = SiteState::new(1, "default");
    /// default.is_default = true;
    /// let shop = SiteState::new(2, "shop.example.com");
    /// let snap = Snapshot::new(7, vec![default, shop]);
    /// assert_eq!(snap.site_for_host(Some("SHOP.example.com:443")).unwrap().state().id, 2);
    /// assert_eq!(snap.site_for_host(Some("other.example")).unwrap().state().id, 1);
    /// assert_eq!(snap.site_for_host(None).unwrap().state().id, 1);
    /// ```
    pub fn new(revision: i64, sites: Vec<SiteState>) -> Self {
        let mut skipped = Vec::new();
        let mut compiled = Vec::with_capacity(sites.len());
        let mut by_domain = HashMap::with_capacity(sites.len());
        let mut default = None;
        let mut enabled = Vec::new();
        for state in sites {
            let domain = state.domain.clone();
            let site = LiveSite::compile(state, |e| {
                tracing::warn!(site = %domain, error = %e, "skipping invalid ignored-path pattern");
                skipped.push(e);
            });
            let index = compiled.len();
            if site.state.enabled {
                enabled.push(index);
            }
            if site.state.is_default && default.is_none() {
                default = Some(index);
            }
            by_domain
                .entry(normalize_host(&site.state.domain).into_owned())
                .or_insert(index);
            compiled.push(Arc::new(site));
        }
        Snapshot {
            revision,
            sites: compiled,
            by_domain,
            default,
            enabled,
            skipped,
        }
    }

    /// The store revision this snapshot was read at.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// The site serving `host` (normalised first), else the default site.
    pub fn site_for_host(&self, host: Option<&str>) -> Option<&Arc<LiveSite>> {
        let index = host
            .and_then(|h| self.by_domain.get(normalize_host(h).as_ref()))
            .copied()
            .or(self.default)?;
        self.sites.get(index)
    }

    /// The site with exactly this domain (normalised first).
    pub fn site(&self, domain: &str) -> Option<&Arc<LiveSite>> {
        let index = *self.by_domain.get(normalize_host(domain).as_ref())?;
        self.sites.get(index)
    }

    /// The default site, if there is one.
    pub fn default_site(&self) -> Option<&Arc<LiveSite>> {
        self.sites.get(self.default?)
    }

    /// The sites whose maintenance flag is on (in or outside their window), in the store's
    /// order.
    pub fn enabled_sites(&self) -> impl Iterator<Item = &Arc<LiveSite>> {
        self.enabled.iter().filter_map(|&i| self.sites.get(i))
    }

    /// Every site, in the store's order.
    pub fn sites(&self) -> impl Iterator<Item = &Arc<LiveSite>> {
        self.sites.iter()
    }

    /// What was left out while building, each naming the bad value.
    pub fn skipped(&self) -> &[ValidationError] {
        &self.skipped
    }
}
