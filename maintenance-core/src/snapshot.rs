//! The snapshot: every site, ready for requests, looked up by host.
//!
//! A snapshot is built once per store revision, in full ([`Snapshot::new`]) or from the one
//! before it and what changed since ([`Snapshot::apply`]): an unchanged site is the same
//! [`LiveSite`] in both, with its compiled patterns. A site's patterns are checked when it is
//! built and compiled into one multi-pattern regex the first time a path is matched against
//! them ([`PatternSet`]), so a request never compiles more than that one set, and sites never
//! asked about compile nothing. Sites with the same pattern list share one set. A pattern
//! that is not valid is left out with a warning naming it, and the rest keep working.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

use ipnet::IpNet;

use crate::answer_cache::AnswerCache;
use crate::error::ValidationError;
use crate::host::normalize_host;
use crate::model::SiteState;
use crate::pattern::PatternSet;
use crate::printable::Printable;
use crate::store::StoreChanges;

/// A site ready for requests: its state plus its compiled patterns.
#[derive(Debug, Clone)]
pub struct LiveSite {
    /// The normalised domain, the snapshot's key for the site.
    key: Arc<str>,
    state: SiteState,
    ignored: PatternSet,
    /// The scope of partial maintenance; empty for the whole site.
    scope: PatternSet,
    networks: Vec<IpNet>,
    skipped: Vec<ValidationError>,
    /// The blocked answers, rendered on this site's first blocked request.
    answers: AnswerCache,
}

impl LiveSite {
    /// Prepares a site, its patterns compiled on first use; invalid ones go to `on_invalid`.
    pub fn compile(state: SiteState, on_invalid: impl FnMut(ValidationError)) -> Self {
        let ignored = PatternSet::new(
            state.ignored_paths.iter().map(|p| p.pattern.as_str()),
            on_invalid,
        );
        LiveSite::with_patterns(state, ignored, Vec::new())
    }

    fn with_patterns(
        state: SiteState,
        ignored: PatternSet,
        mut skipped: Vec<ValidationError>,
    ) -> Self {
        // An invalid scope pattern cannot say which paths are in maintenance: the whole site
        // is, rather than fewer paths than the operator meant.
        let mut scope_ok = true;
        let scope = PatternSet::new(state.scope.iter().map(String::as_str), |e| {
            tracing::warn!(site = %Printable(&state.domain), error = %e,
                "invalid scope pattern; the whole site is in maintenance");
            scope_ok = false;
            skipped.push(e);
        });
        let scope = if scope_ok { scope } else { PatternSet::empty() };
        // Stores hand over checked networks; a state built in code may still hold an
        // IPv4-mapped one, which must match the IPv4 form client addresses are compared in.
        let networks = state
            .allowed_networks
            .iter()
            .filter_map(|n| crate::validate::canonical_network(n.network))
            .collect();
        LiveSite {
            key: Arc::from(normalize_host(&state.domain).as_ref()),
            state,
            ignored,
            scope,
            networks,
            skipped,
            answers: AnswerCache::default(),
        }
    }

    /// The site's state as stored.
    pub fn state(&self) -> &SiteState {
        &self.state
    }

    /// The site's ignored patterns (only the valid ones), compiled on first use.
    pub fn ignored(&self) -> &PatternSet {
        &self.ignored
    }

    /// The scope of partial maintenance (only the valid patterns; empty when the whole site
    /// is in maintenance), compiled on first use.
    pub fn scope(&self) -> &PatternSet {
        &self.scope
    }

    /// The site's allowed networks.
    pub fn networks(&self) -> &[IpNet] {
        &self.networks
    }

    pub(crate) fn answers(&self) -> &AnswerCache {
        &self.answers
    }
}

/// Sites by normalised domain, hashed with FNV-1a: a lookup per request in maintenance, where
/// SipHash cost several times more. The keys come from the store, never from clients, so a
/// client cannot fill the map with colliding keys; a crafted `Host` costs one probe like any
/// other.
type DomainMap = HashMap<Arc<str>, Arc<LiveSite>, BuildHasherDefault<Fnv1a>>;

/// FNV-1a, 64 bits.
#[derive(Debug, Clone, Copy)]
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A consistent view of every site at one store revision.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    revision: i64,
    sites: Vec<Arc<LiveSite>>,
    by_domain: DomainMap,
    /// Whether two sites share a normalised domain (written by hand): the first in id order
    /// serves it.
    shared_domains: bool,
    default: Option<Arc<LiveSite>>,
    enabled: Vec<Arc<LiveSite>>,
    skipped: Vec<ValidationError>,
    cache: Arc<SiteCache>,
}

impl Snapshot {
    /// Builds a snapshot. Invalid patterns are skipped with a warning (see [`Snapshot::skipped`]).
    ///
    /// ```
    /// use maintenance_core::{snapshot::Snapshot, SiteState};
    /// let mut default = SiteState::new(1, "default");
    /// default.is_default = true;
    /// let shop = SiteState::new(2, "shop.example.com");
    /// let snap = Snapshot::new(7, vec![default, shop]);
    /// assert_eq!(snap.site_for_host(Some("SHOP.example.com:443")).unwrap().state().id, 2);
    /// assert_eq!(snap.site_for_host(Some("other.example")).unwrap().state().id, 1);
    /// assert_eq!(snap.site_for_host(None).unwrap().state().id, 1);
    /// ```
    pub fn new(revision: i64, sites: Vec<SiteState>) -> Self {
        let cache = Arc::new(SiteCache::default());
        let live: Vec<Arc<LiveSite>> = sites.into_iter().map(|s| cache.live_site(s)).collect();
        let (by_domain, shared_domains) = domain_map(&live);
        Snapshot::assemble(revision, live, by_domain, shared_domains, cache)
    }

    /// The snapshot after `changes`: the sites they name are replaced (or added, or removed),
    /// every other site is taken over as it is, compiled patterns included.
    ///
    /// ```
    /// use maintenance_core::{IgnoredPath, snapshot::Snapshot, SiteState};
    /// use maintenance_core::store::StoreChanges;
    /// let mut shop = SiteState::new(2, "shop.example.com");
    /// shop.ignored_paths.push(IgnoredPath { pattern: "^static/".into(), description: String::new() });
    /// let before = Snapshot::new(7, vec![shop, SiteState::new(3, "blog.example.com")]);
    /// let mut blog = SiteState::new(3, "blog.example.com");
    /// blog.enabled = true;
    /// let after = before.apply(StoreChanges { revision: 8, changed: vec![blog], removed: vec![] });
    /// assert_eq!(after.revision(), 8);
    /// assert!(after.site("blog.example.com").unwrap().state().enabled);
    /// // The shop did not change: the same site, and the same pattern set, in both.
    /// assert!(std::sync::Arc::ptr_eq(before.site("shop.example.com").unwrap(), after.site("shop.example.com").unwrap()));
    /// ```
    pub fn apply(&self, changes: StoreChanges) -> Snapshot {
        let StoreChanges {
            revision,
            changed,
            removed,
        } = changes;
        let replaced: HashSet<i64> = removed
            .iter()
            .copied()
            .chain(changed.iter().map(|s| s.id))
            .collect();
        let mut sites: Vec<Arc<LiveSite>> = Vec::with_capacity(self.sites.len() + changed.len());
        let mut gone: Vec<&Arc<LiveSite>> = Vec::new();
        for site in &self.sites {
            if replaced.contains(&site.state.id) {
                gone.push(site);
            } else {
                sites.push(Arc::clone(site));
            }
        }
        let cache = Arc::clone(&self.cache);
        let mut added: Vec<Arc<LiveSite>> =
            changed.into_iter().map(|s| cache.live_site(s)).collect();
        added.sort_by_key(|s| s.state.id);
        // The lookup map of the snapshot before, with only the changed sites' entries
        // replaced: a one-site change does not rebuild the map of every site.
        let patched = if self.shared_domains {
            None
        } else {
            let mut map = self.by_domain.clone();
            for site in &gone {
                if map.get(&site.key).is_some_and(|s| Arc::ptr_eq(s, site)) {
                    map.remove(&site.key);
                }
            }
            let mut clash = false;
            for site in &added {
                clash |= map
                    .insert(Arc::clone(&site.key), Arc::clone(site))
                    .is_some();
            }
            (!clash).then_some(map)
        };
        let sites = merge_by_id(sites, added);
        cache.forget_unused(sites.len());
        let (by_domain, shared_domains) = match patched {
            Some(map) => (map, false),
            None => domain_map(&sites),
        };
        Snapshot::assemble(revision, sites, by_domain, shared_domains, cache)
    }

    fn assemble(
        revision: i64,
        sites: Vec<Arc<LiveSite>>,
        by_domain: DomainMap,
        shared_domains: bool,
        cache: Arc<SiteCache>,
    ) -> Snapshot {
        let default = sites.iter().find(|s| s.state.is_default).cloned();
        let enabled = sites.iter().filter(|s| s.state.enabled).cloned().collect();
        let skipped = sites
            .iter()
            .flat_map(|s| s.skipped.iter().cloned())
            .collect();
        Snapshot {
            revision,
            sites,
            by_domain,
            shared_domains,
            default,
            enabled,
            skipped,
            cache,
        }
    }

    /// How many sites the snapshot holds.
    pub fn len(&self) -> usize {
        self.sites.len()
    }

    /// Whether the snapshot holds no site.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }

    /// The store revision this snapshot was read at.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// The site serving `host` (normalised first), else the default site.
    pub fn site_for_host(&self, host: Option<&str>) -> Option<&Arc<LiveSite>> {
        host.and_then(|h| self.by_domain.get(normalize_host(h).as_ref()))
            .or(self.default.as_ref())
    }

    /// The site with exactly this domain (normalised first).
    pub fn site(&self, domain: &str) -> Option<&Arc<LiveSite>> {
        self.by_domain.get(normalize_host(domain).as_ref())
    }

    /// The site keyed by `key`, a host already normalised ([`crate::host::host_key`]).
    pub(crate) fn site_by_key(&self, key: &str) -> Option<&Arc<LiveSite>> {
        self.by_domain.get(key)
    }

    /// The default site, if there is one.
    pub fn default_site(&self) -> Option<&Arc<LiveSite>> {
        self.default.as_ref()
    }

    /// Whether no site is in maintenance and a default site serves every unknown host: then
    /// every request passes as [`crate::AllowReason::NotInMaintenance`], whatever it names, and
    /// [`crate::decide`] says so without looking at it.
    pub fn all_off(&self) -> bool {
        self.enabled.is_empty() && self.default.is_some()
    }

    /// The sites whose maintenance flag is on (in or outside their window), in the store's
    /// order.
    pub fn enabled_sites(&self) -> impl Iterator<Item = &Arc<LiveSite>> {
        self.enabled.iter()
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

/// Each site by its normalised domain, the first in order winning a domain two share; and
/// whether two do.
fn domain_map(sites: &[Arc<LiveSite>]) -> (DomainMap, bool) {
    let mut map = DomainMap::with_capacity_and_hasher(sites.len(), Default::default());
    let mut shared = false;
    for site in sites {
        match map.entry(Arc::clone(&site.key)) {
            std::collections::hash_map::Entry::Occupied(_) => shared = true,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(Arc::clone(site));
            }
        }
    }
    (map, shared)
}

/// `old` (in id order, or the store's order) and `added` (in id order) as one list: a site
/// keeps its place, an added one goes before the first site with a higher id.
fn merge_by_id(old: Vec<Arc<LiveSite>>, added: Vec<Arc<LiveSite>>) -> Vec<Arc<LiveSite>> {
    if added.is_empty() {
        return old;
    }
    let mut merged = Vec::with_capacity(old.len() + added.len());
    let mut added = added.into_iter().peekable();
    for site in old {
        while let Some(next) = added.next_if(|a| a.state.id < site.state.id) {
            merged.push(next);
        }
        merged.push(site);
    }
    merged.extend(added);
    merged
}

/// What the snapshots of one line share: the pattern sets, by pattern list, so that sites
/// with the same list (and the next snapshot's sites) use one set and compile it once.
#[derive(Debug, Default)]
struct SiteCache {
    sets: Mutex<HashSet<ByPatterns>>,
}

/// A pattern set compared by its pattern list (the key and the value are the set itself, so
/// the list is held once).
#[derive(Debug, Clone)]
struct ByPatterns(PatternSet);

impl PartialEq for ByPatterns {
    fn eq(&self, other: &Self) -> bool {
        self.0.patterns() == other.0.patterns()
    }
}

impl Eq for ByPatterns {}

impl std::hash::Hash for ByPatterns {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.patterns().hash(state);
    }
}

impl SiteCache {
    /// A site ready for requests, its pattern set shared with any site of the line that has
    /// the same patterns.
    fn live_site(&self, state: SiteState) -> Arc<LiveSite> {
        let domain = state.domain.clone();
        let mut skipped = Vec::new();
        let fresh = PatternSet::new(
            state.ignored_paths.iter().map(|p| p.pattern.as_str()),
            |e| {
                tracing::warn!(site = %Printable(&domain), error = %e, "skipping invalid ignored-path pattern");
                skipped.push(e);
            },
        );
        let ignored = if fresh.is_empty() {
            fresh
        } else {
            let mut sets = self
                .sets
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match sets.get(&ByPatterns(fresh.clone())) {
                Some(shared) => shared.0.clone(),
                None => {
                    sets.insert(ByPatterns(fresh.clone()));
                    fresh
                }
            }
        };
        Arc::new(LiveSite::with_patterns(state, ignored, skipped))
    }

    /// Drops the sets no site uses any more, once the cache holds many more lists than a
    /// snapshot of `sites` sites can use.
    fn forget_unused(&self, sites: usize) {
        let mut sets = self
            .sets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if sets.len() > sites.saturating_mul(2).max(64) {
            sets.retain(|set| set.0.users() > 1);
        }
    }
}
