//! [`CountingStore`]: a source or store decorator that counts the calls a handle makes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use crate::error::StoreError;
use crate::model::{Event, SiteRef, SiteState, StateChange};
use crate::store::{ChangeFeed, StoreContents};
use crate::{MaintenanceSource, MaintenanceStore};

/// A source (or store) decorator that counts calls, to show what a handle asks of its source.
/// It is a [`MaintenanceSource`] when the wrapped one is, and a [`MaintenanceStore`] (its
/// writes counted with the other calls) when the wrapped one is.
#[derive(Debug)]
pub struct CountingStore<S> {
    inner: S,
    loads: AtomicU64,
    revisions: AtomicU64,
    other: AtomicU64,
}

impl<S: MaintenanceSource> CountingStore<S> {
    /// Wraps a store.
    pub fn new(inner: S) -> Arc<Self> {
        Arc::new(CountingStore {
            inner,
            loads: AtomicU64::new(0),
            revisions: AtomicU64::new(0),
            other: AtomicU64::new(0),
        })
    }

    /// Every call so far: `load`s, `revision`s and any other.
    pub fn calls(&self) -> u64 {
        self.loads() + self.revisions() + self.other.load(Ordering::SeqCst)
    }

    /// `load` (and `changes_since`) calls so far.
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::SeqCst)
    }

    /// `revision` calls so far.
    pub fn revisions(&self) -> u64 {
        self.revisions.load(Ordering::SeqCst)
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn count_other(&self) {
        self.other.fetch_add(1, Ordering::SeqCst);
    }
}

/// Counts every read a handle makes.
#[async_trait]
impl<S: MaintenanceSource> MaintenanceSource for CountingStore<S> {
    async fn load(&self) -> Result<StoreContents, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load().await
    }
    async fn revision(&self) -> Result<i64, StoreError> {
        self.revisions.fetch_add(1, Ordering::SeqCst);
        self.inner.revision().await
    }
    async fn subscribe(&self) -> Result<Option<ChangeFeed>, StoreError> {
        self.count_other();
        self.inner.subscribe().await
    }
    /// Counted as a load: it reads sites.
    async fn changes_since(
        &self,
        revision: i64,
    ) -> Result<Option<crate::store::StoreChanges>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.changes_since(revision).await
    }
}

/// The writes pass through, each counted as "other".
#[async_trait]
impl<S: MaintenanceStore> MaintenanceStore for CountingStore<S> {
    async fn set_state_many(
        &self,
        sites: &crate::SiteSelection,
        change: &StateChange,
        actor: &str,
    ) -> Result<Vec<SiteState>, StoreError> {
        self.count_other();
        self.inner.set_state_many(sites, change, actor).await
    }
    async fn list_sites(&self, query: &crate::SiteQuery) -> Result<crate::SitePage, StoreError> {
        self.count_other();
        self.inner.list_sites(query).await
    }
    async fn add_site(
        &self,
        domain: &str,
        name: Option<&str>,
        actor: &str,
    ) -> Result<SiteState, StoreError> {
        self.count_other();
        self.inner.add_site(domain, name, actor).await
    }
    async fn remove_site(&self, domain: &str, actor: &str) -> Result<(), StoreError> {
        self.count_other();
        self.inner.remove_site(domain, actor).await
    }
    async fn set_state(
        &self,
        site: &SiteRef,
        change: &StateChange,
        actor: &str,
    ) -> Result<SiteState, StoreError> {
        self.count_other();
        self.inner.set_state(site, change, actor).await
    }
    async fn set_state_if(
        &self,
        site: &SiteRef,
        expected: &StateChange,
        change: &StateChange,
        actor: &str,
    ) -> Result<crate::store::GuardedWrite, StoreError> {
        self.count_other();
        self.inner.set_state_if(site, expected, change, actor).await
    }
    async fn add_ignored_path(
        &self,
        site: &SiteRef,
        pattern: &str,
        description: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.count_other();
        self.inner
            .add_ignored_path(site, pattern, description, actor)
            .await
    }
    async fn remove_ignored_path(
        &self,
        site: &SiteRef,
        pattern: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.count_other();
        self.inner.remove_ignored_path(site, pattern, actor).await
    }
    async fn add_allowed_network(
        &self,
        site: &SiteRef,
        network: &str,
        description: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.count_other();
        self.inner
            .add_allowed_network(site, network, description, actor)
            .await
    }
    async fn remove_allowed_network(
        &self,
        site: &SiteRef,
        network: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.count_other();
        self.inner
            .remove_allowed_network(site, network, actor)
            .await
    }
    async fn set_bypass_secret_hash(
        &self,
        site: &SiteRef,
        hash: Option<&str>,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.count_other();
        self.inner.set_bypass_secret_hash(site, hash, actor).await
    }
    async fn events(&self, site: Option<&SiteRef>, limit: u32) -> Result<Vec<Event>, StoreError> {
        self.count_other();
        self.inner.events(site, limit).await
    }

    async fn record_event(
        &self,
        site: &SiteRef,
        action: crate::AuditAction,
        detail: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.count_other();
        self.inner.record_event(site, action, detail, actor).await
    }
}
