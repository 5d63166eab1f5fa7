//! An in-memory store, for tests and single-process applications.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::mpsc;

use crate::error::StoreError;
use crate::listing::SiteSelection;
use crate::model::{
    AllowedNetwork, AuditAction, Event, IgnoredPath, SiteRef, SiteState, StateChange,
};
use crate::store::{
    ChangeFeed, DEFAULT_SITE_DOMAIN, DEFAULT_SITE_NAME, GuardedWrite, StoreChanges, StoreContents,
    find_site, select_sites, unknown_site,
};
use crate::validate;
use crate::{MaintenanceSource, MaintenanceStore};

#[derive(Debug)]
struct Inner {
    revision: i64,
    next_site_id: i64,
    sites: Vec<SiteState>,
    events: Vec<Event>,
    subscribers: Vec<mpsc::Sender<()>>,
    /// The revision of each site's last change, and of each removal: what
    /// [`MaintenanceSource::changes_since`] answers from.
    changed_at: HashMap<i64, i64>,
    removed_at: HashMap<i64, i64>,
}

/// A [`MaintenanceStore`] in memory, with one default site, and a change feed.
///
/// ```
/// # tokio_test_block_on(async {
/// use maintenance_core::{MaintenanceSource, MaintenanceStore, MemoryStore, SiteRef, StateChange};
/// let store = MemoryStore::new();
/// store.set_state(&SiteRef::Default, &StateChange::turn_on(), "alice").await.unwrap();
/// assert!(store.load().await.unwrap().sites[0].enabled);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A store holding only the default site, not in maintenance.
    pub fn new() -> Self {
        let mut default = SiteState::new(1, DEFAULT_SITE_DOMAIN);
        default.name = DEFAULT_SITE_NAME.to_owned();
        default.is_default = true;
        MemoryStore {
            inner: Mutex::new(Inner {
                revision: 1,
                next_site_id: 2,
                sites: vec![default],
                events: Vec::new(),
                subscribers: Vec::new(),
                changed_at: HashMap::new(),
                removed_at: HashMap::new(),
            }),
        }
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Inner) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // A panic while holding the lock cannot leave half-written state (writes go through
        // `write`, which mutates a copy), so a poisoned lock is still usable.
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut inner)
    }

    /// Applies `edit` to a copy of the site; commits it, the revision and the event only if
    /// `edit` succeeds.
    fn write(
        &self,
        site: &SiteRef,
        actor: &str,
        action: &str,
        edit: impl FnOnce(&mut SiteState) -> Result<String, StoreError>,
    ) -> Result<SiteState, StoreError> {
        self.with(|inner| inner.write(site, actor, action, edit))
    }
}

impl Inner {
    /// [`MemoryStore::write`], under the lock.
    fn write(
        &mut self,
        site: &SiteRef,
        actor: &str,
        action: &str,
        edit: impl FnOnce(&mut SiteState) -> Result<String, StoreError>,
    ) -> Result<SiteState, StoreError> {
        let index = self
            .sites
            .iter()
            .position(|s| Some(s) == find_site(&self.sites, site))
            .ok_or_else(|| unknown_site(site))?;
        let mut next = self.sites[index].clone();
        let detail = edit(&mut next)?;
        next.validate()?;
        let now = Utc::now();
        next.updated_at = Some(now);
        next.updated_by = Some(actor.to_owned());
        let domain = next.domain.clone();
        self.sites[index] = next.clone();
        self.commit(Some(domain), actor, action, detail);
        self.changed_at.insert(next.id, self.revision);
        Ok(next)
    }

    fn commit(&mut self, site: Option<String>, actor: &str, action: &str, detail: String) {
        self.revision += 1;
        self.record(site, actor, action, detail);
        self.publish();
    }

    /// Appends an audit event.
    fn record(&mut self, site: Option<String>, actor: &str, action: &str, detail: String) {
        let id = self.events.len() as i64 + 1;
        self.events.push(Event {
            id,
            site,
            at: Utc::now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            detail,
        });
    }

    /// Tells subscribers that something changed.
    fn publish(&mut self) {
        self.subscribers
            .retain(|tx| !matches!(tx.try_send(()), Err(mpsc::error::TrySendError::Closed(_))));
    }
}

#[async_trait]
impl MaintenanceSource for MemoryStore {
    async fn load(&self) -> Result<StoreContents, StoreError> {
        self.with(|inner| {
            Ok(StoreContents {
                revision: inner.revision,
                sites: inner.sites.clone(),
            })
        })
    }

    async fn revision(&self) -> Result<i64, StoreError> {
        self.with(|inner| Ok(inner.revision))
    }

    async fn changes_since(&self, revision: i64) -> Result<Option<StoreChanges>, StoreError> {
        self.with(|inner| {
            let changed = inner
                .sites
                .iter()
                .filter(|s| inner.changed_at.get(&s.id).is_some_and(|&r| r > revision))
                .cloned()
                .collect();
            let removed = inner
                .removed_at
                .iter()
                .filter(|&(_, &r)| r > revision)
                .map(|(&id, _)| id)
                .collect();
            Ok(Some(StoreChanges {
                revision: inner.revision,
                changed,
                removed,
            }))
        })
    }

    async fn subscribe(&self) -> Result<Option<ChangeFeed>, StoreError> {
        let (tx, rx) = mpsc::channel(1);
        self.with(|inner| {
            inner.subscribers.push(tx);
            Ok(Some(rx))
        })
    }
}

#[async_trait]
impl MaintenanceStore for MemoryStore {
    async fn add_site(
        &self,
        domain: &str,
        name: Option<&str>,
        actor: &str,
    ) -> Result<SiteState, StoreError> {
        let domain = validate::domain(domain)?;
        self.with(|inner| {
            if inner.sites.iter().any(|s| s.domain == domain) {
                return Err(StoreError::SiteExists(domain.clone()));
            }
            let mut site = SiteState::new(inner.next_site_id, domain.clone());
            if let Some(n) = name {
                site.name = n.to_owned();
            }
            site.updated_at = Some(Utc::now());
            site.updated_by = Some(actor.to_owned());
            site.validate()?;
            inner.next_site_id += 1;
            inner.sites.push(site.clone());
            let detail = format!("name={:?}", site.name);
            inner.commit(Some(domain), actor, AuditAction::SiteAdd.as_str(), detail);
            inner.changed_at.insert(site.id, inner.revision);
            Ok(site)
        })
    }

    async fn remove_site(&self, domain: &str, actor: &str) -> Result<(), StoreError> {
        let domain = validate::domain(domain)?;
        self.with(|inner| {
            let index = inner
                .sites
                .iter()
                .position(|s| s.domain == domain)
                .ok_or_else(|| StoreError::UnknownSite(domain.clone()))?;
            if inner.sites[index].is_default {
                return Err(StoreError::DefaultSite(domain));
            }
            let removed = inner.sites.remove(index);
            inner.changed_at.remove(&removed.id);
            inner.removed_at.insert(removed.id, inner.revision + 1);
            inner.commit(
                Some(domain),
                actor,
                AuditAction::SiteRemove.as_str(),
                String::new(),
            );
            Ok(())
        })
    }

    async fn set_state(
        &self,
        site: &SiteRef,
        change: &StateChange,
        actor: &str,
    ) -> Result<SiteState, StoreError> {
        self.write(site, actor, AuditAction::of_change(change).as_str(), |s| {
            change.apply_to(s)?;
            Ok(change.describe())
        })
    }

    async fn set_state_if(
        &self,
        site: &SiteRef,
        expected: &StateChange,
        change: &StateChange,
        actor: &str,
    ) -> Result<GuardedWrite, StoreError> {
        let action = AuditAction::of_change(change).as_str();
        // One lock for the comparison and the write.
        self.with(|inner| {
            let current = find_site(&inner.sites, site).ok_or_else(|| unknown_site(site))?;
            if !expected.holds_for(current) {
                return Ok(GuardedWrite::Kept(current.clone()));
            }
            inner
                .write(site, actor, action, |s| {
                    change.apply_to(s)?;
                    Ok(change.describe())
                })
                .map(GuardedWrite::Written)
        })
    }

    async fn set_state_many(
        &self,
        sites: &SiteSelection,
        change: &StateChange,
        actor: &str,
    ) -> Result<Vec<SiteState>, StoreError> {
        let action = AuditAction::of_change(change).as_str();
        self.with(|inner| {
            let targets: std::collections::HashSet<i64> = select_sites(&inner.sites, sites)?
                .iter()
                .map(|s| s.id)
                .collect();
            // Every site is checked before any is written: all or nothing.
            let mut next = Vec::with_capacity(targets.len());
            for (index, site) in inner.sites.iter().enumerate() {
                if targets.contains(&site.id) {
                    let mut changed = site.clone();
                    change.apply_to(&mut changed)?;
                    next.push((index, changed));
                }
            }
            if next.is_empty() {
                return Ok(Vec::new());
            }
            let now = Utc::now();
            let detail = change.describe();
            inner.revision += 1;
            let mut result = Vec::with_capacity(next.len());
            for (index, mut changed) in next {
                changed.updated_at = Some(now);
                changed.updated_by = Some(actor.to_owned());
                inner.sites[index] = changed.clone();
                inner.changed_at.insert(changed.id, inner.revision);
                inner.record(Some(changed.domain.clone()), actor, action, detail.clone());
                result.push(changed);
            }
            inner.publish();
            Ok(result)
        })
    }

    async fn add_ignored_path(
        &self,
        site: &SiteRef,
        pattern: &str,
        description: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        validate::pattern(pattern)?;
        self.write(site, actor, AuditAction::IgnoreAdd.as_str(), |s| {
            match s.ignored_paths.iter_mut().find(|p| p.pattern == pattern) {
                Some(p) => p.description = description.to_owned(),
                None => {
                    s.ignored_paths.push(IgnoredPath {
                        pattern: pattern.to_owned(),
                        description: description.to_owned(),
                    });
                    validate::pattern_set(s.ignored_paths.iter().map(|p| p.pattern.as_str()))?;
                }
            }
            Ok(pattern.to_owned())
        })
        .map(drop)
    }

    async fn remove_ignored_path(
        &self,
        site: &SiteRef,
        pattern: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.write(site, actor, AuditAction::IgnoreRemove.as_str(), |s| {
            let before = s.ignored_paths.len();
            s.ignored_paths.retain(|p| p.pattern != pattern);
            if s.ignored_paths.len() == before {
                return Err(StoreError::NotFound {
                    what: "ignored pattern",
                    value: pattern.to_owned(),
                    site: s.domain.clone(),
                });
            }
            Ok(pattern.to_owned())
        })
        .map(drop)
    }

    async fn add_allowed_network(
        &self,
        site: &SiteRef,
        network: &str,
        description: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        let net = validate::network(network)?;
        self.write(site, actor, AuditAction::AllowAdd.as_str(), |s| {
            match s.allowed_networks.iter_mut().find(|n| n.network == net) {
                Some(n) => n.description = description.to_owned(),
                None => s.allowed_networks.push(AllowedNetwork {
                    network: net,
                    description: description.to_owned(),
                }),
            }
            Ok(net.to_string())
        })
        .map(drop)
    }

    async fn remove_allowed_network(
        &self,
        site: &SiteRef,
        network: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        let net = validate::network(network)?;
        self.write(site, actor, AuditAction::AllowRemove.as_str(), |s| {
            let before = s.allowed_networks.len();
            s.allowed_networks.retain(|n| n.network != net);
            if s.allowed_networks.len() == before {
                return Err(StoreError::NotFound {
                    what: "allowed network",
                    value: net.to_string(),
                    site: s.domain.clone(),
                });
            }
            Ok(net.to_string())
        })
        .map(drop)
    }

    async fn set_bypass_secret_hash(
        &self,
        site: &SiteRef,
        hash: Option<&str>,
        actor: &str,
    ) -> Result<(), StoreError> {
        if let Some(h) = hash {
            crate::validate::secret_hash(h)?;
        }
        let action = AuditAction::of_bypass(hash).as_str();
        self.write(site, actor, action, |s| {
            s.bypass_secret_hash = hash.map(str::to_owned);
            Ok(String::new())
        })
        .map(drop)
    }

    async fn add_tags(
        &self,
        site: &SiteRef,
        tags: &[String],
        actor: &str,
    ) -> Result<SiteState, StoreError> {
        let tags = validate::tags(tags)?;
        self.write(site, actor, AuditAction::TagAdd.as_str(), |s| {
            s.tags.extend(tags.iter().cloned());
            s.tags.sort();
            s.tags.dedup();
            Ok(tags.join(" "))
        })
    }

    async fn remove_tags(
        &self,
        site: &SiteRef,
        tags: &[String],
        actor: &str,
    ) -> Result<SiteState, StoreError> {
        let tags = validate::tags(tags)?;
        self.write(site, actor, AuditAction::TagRemove.as_str(), |s| {
            if let Some(missing) = tags.iter().find(|t| !s.tags.contains(t)) {
                return Err(StoreError::NotFound {
                    what: "tag",
                    value: missing.clone(),
                    site: s.domain.clone(),
                });
            }
            s.tags.retain(|t| !tags.contains(t));
            Ok(tags.join(" "))
        })
    }

    async fn record_event(
        &self,
        site: &SiteRef,
        action: AuditAction,
        detail: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        crate::validate::text("detail", detail, crate::validate::MAX_MESSAGE_LEN)?;
        self.with(|inner| {
            let domain = find_site(&inner.sites, site)
                .ok_or_else(|| unknown_site(site))?
                .domain
                .clone();
            inner.record(Some(domain), actor, action.as_str(), detail.to_owned());
            Ok(())
        })
    }

    async fn events(&self, site: Option<&SiteRef>, limit: u32) -> Result<Vec<Event>, StoreError> {
        self.with(|inner| {
            let domain = match site {
                None => None,
                Some(r) => Some(
                    find_site(&inner.sites, r)
                        .ok_or_else(|| unknown_site(r))?
                        .domain
                        .clone(),
                ),
            };
            Ok(inner
                .events
                .iter()
                .rev()
                .filter(|e| domain.is_none() || e.site == domain)
                .take(limit as usize)
                .cloned()
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn make() -> Option<MemoryStore> {
        Some(MemoryStore::new())
    }

    crate::store_conformance_tests!(make);
}
