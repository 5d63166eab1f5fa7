//! [`CountingStore`]: a source decorator that counts the calls a handle makes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use crate::MaintenanceSource;
use crate::error::StoreError;
use crate::store::{ChangeFeed, StoreChanges, StoreContents};

/// A source decorator that counts calls, to show what a handle asks of its source.
///
/// It is a [`MaintenanceSource`] only: a handle never writes. Write through
/// [`CountingStore::inner`] to change what the handle sees.
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

    /// Every call so far: `load`s, `revision`s and the others (`subscribe`).
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
        self.other.fetch_add(1, Ordering::SeqCst);
        self.inner.subscribe().await
    }
    /// Counted as a load: it reads sites.
    async fn changes_since(&self, revision: i64) -> Result<Option<StoreChanges>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.changes_since(revision).await
    }
}
