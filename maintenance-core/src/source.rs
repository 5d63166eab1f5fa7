//! The store traits: where maintenance state lives (a database shared by every server).
//!
//! Two traits, for two kinds of caller:
//!
//! - [`MaintenanceSource`] is what the [`crate::Maintenance`] handle needs, and all a server
//!   needs: every site at once, a cheap revision number to know when to read again, and
//!   optionally a feed of change notices. A server can thus run with a database role that may
//!   only read (`SELECT`, and `LISTEN` on PostgreSQL).
//! - [`MaintenanceStore`] (a [`MaintenanceSource`] too) adds the writes and the audit log, for
//!   the CLI and the admin page. Each write validates through the core (so every store refuses
//!   the same input), bumps the revision and appends an audit [`Event`] in one transaction.
//!
//! Both are object safe. `Arc<T>` is a source (and a store) when `T` is, so a caller that
//! holds an `Arc<dyn MaintenanceStore>` can hand a clone of it to
//! [`crate::Maintenance::start`] and keep writing through it. What they exchange
//! ([`StoreContents`], [`StoreChanges`], [`ChangeFeed`], [`GuardedWrite`]) and the helpers
//! stores share are in [`crate::store`].

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::StoreError;
use crate::listing::{SitePage, SiteQuery, SiteSelection};
use crate::model::{Event, SiteRef, SiteState, StateChange};
use crate::store::{
    ChangeFeed, GuardedWrite, StoreChanges, StoreContents, find_site, select_sites, unknown_site,
};

/// Where a server reads maintenance state from: all the [`crate::Maintenance`] handle needs.
///
/// Only reads: a store behind this trait works with a database role that may only `SELECT`
/// (and `LISTEN`, for PostgreSQL's change feed). Object safe: the handle keeps it as
/// `Arc<dyn MaintenanceSource>`.
#[async_trait]
pub trait MaintenanceSource: Send + Sync + 'static {
    /// Reads every site, consistently, with the revision it was read at.
    async fn load(&self) -> Result<StoreContents, StoreError>;

    /// The current revision: one cheap read, bumped by every write.
    async fn revision(&self) -> Result<i64, StoreError>;

    /// A feed of change notices, for stores that can push them (PostgreSQL's `LISTEN`).
    /// `None` (the default) means the handle polls [`MaintenanceSource::revision`].
    async fn subscribe(&self) -> Result<Option<ChangeFeed>, StoreError> {
        Ok(None)
    }

    /// The sites that changed since `revision`, read consistently with the revision they were
    /// read at, so that the handle rebuilds only those ([`crate::snapshot::Snapshot::apply`]).
    ///
    /// `None` means the store cannot tell (the default, or a revision older than what it
    /// keeps): the handle then loads everything. A store that answers must name every site
    /// whose state, patterns or networks changed after `revision`, and every site removed
    /// after it; naming more is harmless.
    async fn changes_since(&self, revision: i64) -> Result<Option<StoreChanges>, StoreError> {
        let _ = revision;
        Ok(None)
    }
}

/// Where maintenance state is kept and changed: a [`MaintenanceSource`] with the writes and
/// the audit log, for the CLI and the admin page. Object safe: use it as
/// `Arc<dyn MaintenanceStore>`.
#[async_trait]
pub trait MaintenanceStore: MaintenanceSource {
    /// Adds a site for `domain` (normalised); fails with [`StoreError::SiteExists`] if present.
    async fn add_site(
        &self,
        domain: &str,
        name: Option<&str>,
        actor: &str,
    ) -> Result<SiteState, StoreError>;

    /// Removes a site with its patterns and networks. The default site cannot be removed.
    async fn remove_site(&self, domain: &str, actor: &str) -> Result<(), StoreError>;

    /// Changes a site's state and returns the new state.
    async fn set_state(
        &self,
        site: &SiteRef,
        change: &StateChange,
        actor: &str,
    ) -> Result<SiteState, StoreError>;

    /// Adds an ignored-path pattern; adding one already there updates its description.
    async fn add_ignored_path(
        &self,
        site: &SiteRef,
        pattern: &str,
        description: &str,
        actor: &str,
    ) -> Result<(), StoreError>;

    /// Removes an ignored-path pattern; [`StoreError::NotFound`] if it is not there.
    async fn remove_ignored_path(
        &self,
        site: &SiteRef,
        pattern: &str,
        actor: &str,
    ) -> Result<(), StoreError>;

    /// Adds an allowed network (CIDR or a single address); adding one already there updates
    /// its description.
    async fn add_allowed_network(
        &self,
        site: &SiteRef,
        network: &str,
        description: &str,
        actor: &str,
    ) -> Result<(), StoreError>;

    /// Removes an allowed network; [`StoreError::NotFound`] if it is not there.
    async fn remove_allowed_network(
        &self,
        site: &SiteRef,
        network: &str,
        actor: &str,
    ) -> Result<(), StoreError>;

    /// Sets ([`crate::bypass::hash_secret`] form) or clears the bypass secret's hash.
    async fn set_bypass_secret_hash(
        &self,
        site: &SiteRef,
        hash: Option<&str>,
        actor: &str,
    ) -> Result<(), StoreError>;

    /// Adds tags to a site (checked and put in their stored form by
    /// [`crate::validate::tags`]; one it carries already stays) and returns its new state. One
    /// write, audited as [`AuditAction::TagAdd`](crate::AuditAction::TagAdd); a site carries at
    /// most [`crate::validate::MAX_TAGS`].
    async fn add_tags(
        &self,
        site: &SiteRef,
        tags: &[String],
        actor: &str,
    ) -> Result<SiteState, StoreError>;

    /// Removes tags from a site and returns its new state; [`StoreError::NotFound`] (nothing
    /// written) if it does not carry one of them.
    async fn remove_tags(
        &self,
        site: &SiteRef,
        tags: &[String],
        actor: &str,
    ) -> Result<SiteState, StoreError>;

    /// The newest audit events first, at most `limit`, of one site or of all.
    async fn events(&self, site: Option<&SiteRef>, limit: u32) -> Result<Vec<Event>, StoreError>;

    /// Appends an audit event about `site` that changes nothing of its state, such as
    /// [`AuditAction::RunFailed`](crate::AuditAction::RunFailed). The detail is checked like
    /// any text ([`crate::validate::MAX_MESSAGE_LEN`]).
    async fn record_event(
        &self,
        site: &SiteRef,
        action: crate::AuditAction,
        detail: &str,
        actor: &str,
    ) -> Result<(), StoreError>;

    /// Changes a site's state, as [`MaintenanceStore::set_state`] does, only if the site still
    /// holds every field `expected` sets ([`StateChange::holds_for`]); otherwise writes nothing
    /// and returns the state found. `maintenance run` restores a site this way, so that a change
    /// another operator made meanwhile stays.
    ///
    /// The SQL stores and [`crate::MemoryStore`] compare in the write's own transaction (under
    /// the writers' lock), so no write can come between the comparison and the change. The
    /// default, for stores that do not override it, reads the site and then writes with
    /// [`MaintenanceStore::set_state`]: a write in between is not seen.
    async fn set_state_if(
        &self,
        site: &SiteRef,
        expected: &StateChange,
        change: &StateChange,
        actor: &str,
    ) -> Result<GuardedWrite, StoreError> {
        let current = self.site(site).await?;
        if !expected.holds_for(&current) {
            return Ok(GuardedWrite::Kept(current));
        }
        self.set_state(site, change, actor)
            .await
            .map(GuardedWrite::Written)
    }

    /// One site's state.
    async fn site(&self, site: &SiteRef) -> Result<SiteState, StoreError> {
        let contents = self.load().await?;
        find_site(&contents.sites, site)
            .cloned()
            .ok_or_else(|| unknown_site(site))
    }

    /// Changes the state of several sites, or of all, the same way, and returns their new
    /// states in the store's order.
    ///
    /// The change is checked against each site ([`StateChange::apply_to`]); if one site
    /// refuses it, a named site is unknown or a named tag is carried by no site, nothing is
    /// written. Each site gets its audit
    /// event. The SQL stores and [`crate::MemoryStore`] make it one transaction with one
    /// revision; the default, for stores that do not override it, checks every site first and
    /// then writes them one by one with [`MaintenanceStore::set_state`] (so a failure midway,
    /// such as a lost connection, can leave some written).
    async fn set_state_many(
        &self,
        sites: &SiteSelection,
        change: &StateChange,
        actor: &str,
    ) -> Result<Vec<SiteState>, StoreError> {
        let contents = self.load().await?;
        let targets = select_sites(&contents.sites, sites)?;
        for site in &targets {
            let mut next = (*site).clone();
            change.apply_to(&mut next)?;
        }
        let mut changed = Vec::with_capacity(targets.len());
        for site in targets {
            let reference = SiteRef::Domain(site.domain.clone());
            changed.push(self.set_state(&reference, change, actor).await?);
        }
        Ok(changed)
    }

    /// One page of the sites a listing shows ([`SiteQuery`]), with how many match in all.
    ///
    /// The default loads every site and filters in memory ([`SiteQuery::page_of`]); the SQL
    /// stores filter, count and page in the database.
    async fn list_sites(&self, query: &SiteQuery) -> Result<SitePage, StoreError> {
        let contents = self.load().await?;
        Ok(query.page_of(&contents.sites))
    }

    /// Adds the site if it is not there yet, and returns it either way.
    async fn ensure_site(
        &self,
        domain: &str,
        name: Option<&str>,
        actor: &str,
    ) -> Result<SiteState, StoreError> {
        match self.add_site(domain, name, actor).await {
            Err(StoreError::SiteExists(_)) => self.site(&SiteRef::Domain(domain.to_owned())).await,
            other => other,
        }
    }
}

/// A shared source is a source: [`crate::Maintenance::start`] takes an `Arc<MemoryStore>` or
/// an `Arc<dyn MaintenanceStore>` as readily as a store by value.
#[async_trait]
impl<T: MaintenanceSource + ?Sized> MaintenanceSource for Arc<T> {
    async fn load(&self) -> Result<StoreContents, StoreError> {
        (**self).load().await
    }

    async fn revision(&self) -> Result<i64, StoreError> {
        (**self).revision().await
    }

    async fn subscribe(&self) -> Result<Option<ChangeFeed>, StoreError> {
        (**self).subscribe().await
    }

    async fn changes_since(&self, revision: i64) -> Result<Option<StoreChanges>, StoreError> {
        (**self).changes_since(revision).await
    }
}

/// A shared store is a store.
#[async_trait]
impl<T: MaintenanceStore + ?Sized> MaintenanceStore for Arc<T> {
    async fn add_site(
        &self,
        domain: &str,
        name: Option<&str>,
        actor: &str,
    ) -> Result<SiteState, StoreError> {
        (**self).add_site(domain, name, actor).await
    }

    async fn remove_site(&self, domain: &str, actor: &str) -> Result<(), StoreError> {
        (**self).remove_site(domain, actor).await
    }

    async fn set_state(
        &self,
        site: &SiteRef,
        change: &StateChange,
        actor: &str,
    ) -> Result<SiteState, StoreError> {
        (**self).set_state(site, change, actor).await
    }

    async fn add_ignored_path(
        &self,
        site: &SiteRef,
        pattern: &str,
        description: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        (**self)
            .add_ignored_path(site, pattern, description, actor)
            .await
    }

    async fn remove_ignored_path(
        &self,
        site: &SiteRef,
        pattern: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        (**self).remove_ignored_path(site, pattern, actor).await
    }

    async fn add_allowed_network(
        &self,
        site: &SiteRef,
        network: &str,
        description: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        (**self)
            .add_allowed_network(site, network, description, actor)
            .await
    }

    async fn remove_allowed_network(
        &self,
        site: &SiteRef,
        network: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        (**self).remove_allowed_network(site, network, actor).await
    }

    async fn set_bypass_secret_hash(
        &self,
        site: &SiteRef,
        hash: Option<&str>,
        actor: &str,
    ) -> Result<(), StoreError> {
        (**self).set_bypass_secret_hash(site, hash, actor).await
    }

    async fn add_tags(
        &self,
        site: &SiteRef,
        tags: &[String],
        actor: &str,
    ) -> Result<SiteState, StoreError> {
        (**self).add_tags(site, tags, actor).await
    }

    async fn remove_tags(
        &self,
        site: &SiteRef,
        tags: &[String],
        actor: &str,
    ) -> Result<SiteState, StoreError> {
        (**self).remove_tags(site, tags, actor).await
    }

    async fn events(&self, site: Option<&SiteRef>, limit: u32) -> Result<Vec<Event>, StoreError> {
        (**self).events(site, limit).await
    }

    async fn record_event(
        &self,
        site: &SiteRef,
        action: crate::AuditAction,
        detail: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        (**self).record_event(site, action, detail, actor).await
    }

    async fn set_state_if(
        &self,
        site: &SiteRef,
        expected: &StateChange,
        change: &StateChange,
        actor: &str,
    ) -> Result<GuardedWrite, StoreError> {
        (**self).set_state_if(site, expected, change, actor).await
    }

    async fn site(&self, site: &SiteRef) -> Result<SiteState, StoreError> {
        (**self).site(site).await
    }

    async fn set_state_many(
        &self,
        sites: &SiteSelection,
        change: &StateChange,
        actor: &str,
    ) -> Result<Vec<SiteState>, StoreError> {
        (**self).set_state_many(sites, change, actor).await
    }

    async fn list_sites(&self, query: &SiteQuery) -> Result<SitePage, StoreError> {
        (**self).list_sites(query).await
    }

    async fn ensure_site(
        &self,
        domain: &str,
        name: Option<&str>,
        actor: &str,
    ) -> Result<SiteState, StoreError> {
        (**self).ensure_site(domain, name, actor).await
    }
}
