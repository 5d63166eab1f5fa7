//! The write layer of a SQL store, written once: each write's steps (validate, lock, change,
//! audit, commit), and the reads that turn rows into the core's model.
//!
//! For store implementations: a store supplies its SQL through [`Engine`] (reads, and opening
//! a write) and [`WriteTx`] (one write transaction), and implements
//! [`MaintenanceSource`](maintenance_core::MaintenanceSource) and
//! [`MaintenanceStore`](maintenance_core::MaintenanceStore) through the functions here
//! ([`sql_store!`](crate::sql_store) writes both impls), so that every store matches
//! [`MemoryStore`](maintenance_core::MemoryStore) the same way. A store maps its own errors
//! into [`StoreError`] with [`StoreError::backend`], keeping them as the source.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use ipnet::IpNet;

use maintenance_core::store::{
    ChangeFeed, GuardedWrite, StoreChanges, StoreContents, unknown_site,
};
use maintenance_core::validate;
use maintenance_core::{
    AllowedNetwork, AuditAction, Event, IgnoredPath, SiteRef, SiteState, StateChange, StoreError,
    host::normalize_host,
};

use crate::conn::{self, SqlConn};
use crate::rows::{NetworkRow, PathRow, Rows, SiteRow, assemble_site};

/// How a site is looked up: the default flag, or a normalised domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteKey {
    /// The site flagged `is_default`.
    Default,
    /// The site with this (normalised) domain.
    Domain(String),
}

impl SiteKey {
    /// The key of a [`SiteRef`], its domain normalised.
    pub fn of(site: &SiteRef) -> Self {
        match site {
            SiteRef::Default => SiteKey::Default,
            SiteRef::Domain(d) => SiteKey::Domain(normalize_host(d).into_owned()),
        }
    }
}

/// An audit event to append.
#[derive(Debug)]
pub struct NewEvent<'a> {
    /// Column `site_id`.
    pub site_id: Option<i64>,
    /// Column `site_domain`.
    pub site_domain: Option<&'a str>,
    /// Column `at`.
    pub at: DateTime<Utc>,
    /// Column `actor`.
    pub actor: &'a str,
    /// Column `action`.
    pub action: &'a str,
    /// Column `detail`.
    pub detail: &'a str,
}

/// The revision table has no row; [`Engine::no_revision_row`] says it in the store's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingRevisionRow;

/// Every site of a [`Rows`], in id order, each with its own patterns and networks; an error
/// when the revision row is missing.
pub fn assemble_all(rows: Rows) -> Result<StoreContents, MissingRevisionRow> {
    let revision = rows.revision.ok_or(MissingRevisionRow)?;
    Ok(StoreContents {
        revision,
        sites: rows.into_sites(),
    })
}

/// The most changed sites [`Engine::read_changes`] reads one by one; past it, reading
/// everything costs less, and a store answers `None`.
pub const MAX_CHANGED_SITES: usize = 1000;

/// What [`Engine::read_changes`] reads: the rows of the sites changed since a revision, and
/// the ids recorded as changed or removed.
#[derive(Debug, Default)]
pub struct ChangeRows {
    /// The revision, and the rows of the changed sites that are still there.
    pub rows: Rows,
    /// Every site id recorded after the revision asked for, with its removed flag.
    pub recorded: Vec<(i64, bool)>,
}

/// The changes since a revision, as the core takes them: the changed sites read as
/// [`assemble_site`] reads them, and as removed every recorded id that is not among them (a
/// removed site, or a row that could not be read).
pub fn assemble_changes(changes: ChangeRows) -> Result<StoreChanges, MissingRevisionRow> {
    let ChangeRows { rows, recorded } = changes;
    let revision = rows.revision.ok_or(MissingRevisionRow)?;
    let changed = rows.into_sites();
    let present: std::collections::HashSet<i64> = changed.iter().map(|s| s.id).collect();
    let mut removed: Vec<i64> = recorded
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| !present.contains(id))
        .collect();
    removed.sort_unstable();
    removed.dedup();
    Ok(StoreChanges {
        revision,
        changed,
        removed,
    })
}

/// A read that runs in one consistent transaction ([`Engine::in_read`]): it reads on the
/// connection it is given, and keeps what it read for its caller.
#[async_trait]
pub trait ReadJob: Send {
    /// Reads on `conn`, inside the transaction.
    async fn run(&mut self, conn: &mut (dyn SqlConn + '_)) -> Result<(), StoreError>;
}

/// What a read in a transaction returns.
type ReadFuture<'t, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, StoreError>> + Send + 't>>;

/// A [`ReadJob`] of a function of the connection, its result kept until taken.
struct Job<F, T> {
    read: Option<F>,
    out: Option<T>,
}

impl<F, T> Job<F, T>
where
    F: for<'t> FnOnce(&'t mut (dyn SqlConn + 't)) -> ReadFuture<'t, T> + Send,
    T: Send,
{
    /// Runs `read` in one of `engine`'s read transactions.
    async fn run_in<E: Engine + ?Sized>(engine: &E, read: F) -> Result<T, StoreError> {
        let mut job = Job {
            read: Some(read),
            out: None,
        };
        engine.in_read(&mut job).await?;
        job.out.ok_or_else(|| {
            StoreError::backend(std::io::Error::other(
                "the read transaction ended without running its read",
            ))
        })
    }
}

#[async_trait]
impl<F, T> ReadJob for Job<F, T>
where
    F: for<'t> FnOnce(&'t mut (dyn SqlConn + 't)) -> ReadFuture<'t, T> + Send,
    T: Send,
{
    async fn run(&mut self, conn: &mut (dyn SqlConn + '_)) -> Result<(), StoreError> {
        if let Some(read) = self.read.take() {
            self.out = Some(read(conn).await?);
        }
        Ok(())
    }
}

/// The reads of a store, and how it opens a write transaction.
#[async_trait]
pub trait Engine: Send + Sync {
    /// Opens a write transaction.
    async fn begin_write(&self) -> Result<Box<dyn WriteTx + '_>, StoreError>;
    /// Runs `read` in one consistent read transaction (a snapshot of the database that no
    /// concurrent write changes), then ends it: committed when the read succeeded, rolled back
    /// when it failed (and its error returned).
    async fn in_read(&self, read: &mut (dyn ReadJob + '_)) -> Result<(), StoreError>;
    /// Reads the revision and every row, in one consistent transaction.
    async fn read_all(&self) -> Result<Rows, StoreError> {
        Job::run_in(self, |c| Box::pin(conn::read_rows(c))).await
    }
    /// Reads the revision, the sites recorded in `maintenance_site_changes` after `since`
    /// (their ids and removed flags) and the rows of those still there, in one consistent
    /// transaction. `None` when the record does not reach back to `since`: the handle then
    /// reads everything.
    async fn read_changes(&self, since: i64) -> Result<Option<ChangeRows>, StoreError> {
        Job::run_in(self, move |c| Box::pin(conn::read_change_rows(c, since))).await
    }
    /// A connection of the store's pool, outside a transaction: the single reads below run on
    /// it.
    async fn connection(&self) -> Result<Box<dyn SqlConn + '_>, StoreError>;
    /// Reads the revision (on [`Engine::connection`]).
    async fn read_revision(&self) -> Result<Option<i64>, StoreError> {
        conn::read_revision(&mut *self.connection().await?).await
    }
    /// The domain of a site, if it exists (read on [`Engine::connection`]).
    async fn read_site_domain(&self, key: &SiteKey) -> Result<Option<String>, StoreError> {
        conn::read_site_domain(&mut *self.connection().await?, key).await
    }
    /// The newest events first, of one domain or of all (read on [`Engine::connection`]).
    async fn read_events(
        &self,
        domain: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        conn::read_events(&mut *self.connection().await?, domain, limit).await
    }
    /// The change feed, for stores that push changes.
    async fn change_feed(&self) -> Result<Option<ChangeFeed>, StoreError> {
        Ok(None)
    }
    /// The error for a missing revision row (the database was not migrated, or the row was
    /// deleted), in the store's own terms.
    fn no_revision_row(&self) -> StoreError;
    /// One page of a site listing, filtered, counted and paged in the database with the SQL
    /// of [`crate::listing::listing_sql`] in one consistent transaction: how many sites match
    /// in all, and the page's site rows in listing order with their pattern and network rows.
    /// `None` means the store does not do it in SQL: every site is then loaded and filtered in
    /// memory.
    async fn read_listing(
        &self,
        query: &maintenance_core::SiteQuery,
    ) -> Result<Option<(u64, Rows)>, StoreError> {
        let query = query.clone();
        Job::run_in(self, move |c| {
            Box::pin(async move { conn::read_listing_rows(c, &query).await })
        })
        .await
        .map(Some)
    }
}

/// A store over several backends, one chosen at run time (an enum with a variant per
/// backend): it names the [`Engine`] in use, and is an [`Engine`] itself, each call handed to
/// that one.
///
/// ```ignore
/// impl maintenance_sql::engine::ChosenEngine for SqlxStore {
///     fn engine(&self) -> &dyn Engine {
///         match self {
///             SqlxStore::Sqlite(store) => store.engine(),
///             SqlxStore::Postgres(store) => store.engine(),
///         }
///     }
/// }
/// maintenance_sql::sql_store!(SqlxStore);
/// ```
pub trait ChosenEngine: Send + Sync {
    /// The engine of the backend in use.
    fn engine(&self) -> &dyn Engine;
}

#[async_trait]
impl<T: ChosenEngine> Engine for T {
    async fn begin_write(&self) -> Result<Box<dyn WriteTx + '_>, StoreError> {
        self.engine().begin_write().await
    }
    async fn connection(&self) -> Result<Box<dyn SqlConn + '_>, StoreError> {
        self.engine().connection().await
    }
    async fn in_read(&self, read: &mut (dyn ReadJob + '_)) -> Result<(), StoreError> {
        self.engine().in_read(read).await
    }
    async fn read_revision(&self) -> Result<Option<i64>, StoreError> {
        self.engine().read_revision().await
    }
    async fn read_site_domain(&self, key: &SiteKey) -> Result<Option<String>, StoreError> {
        self.engine().read_site_domain(key).await
    }
    async fn read_events(
        &self,
        domain: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        self.engine().read_events(domain, limit).await
    }
    async fn change_feed(&self) -> Result<Option<ChangeFeed>, StoreError> {
        self.engine().change_feed().await
    }
    fn no_revision_row(&self) -> StoreError {
        self.engine().no_revision_row()
    }
}

/// One write transaction: reads of the rows to change (with their ids), and the changes.
///
/// A write that fails is ended with [`WriteTx::rollback`]; one that succeeds with
/// [`WriteTx::commit`].
#[async_trait]
pub trait WriteTx: Send {
    /// Bumps the revision (which takes the writers' lock) and returns the new value, or
    /// `None` when the revision row is missing.
    async fn bump_revision(&mut self) -> Result<Option<i64>, StoreError>;
    /// Records in `maintenance_site_changes` that the site changed (or was removed) at
    /// `revision`, so that servers reload it ([`Engine::read_changes`]).
    async fn record_change(
        &mut self,
        site_id: i64,
        revision: i64,
        removed: bool,
    ) -> Result<(), StoreError>;
    /// The row of a site, if it exists.
    async fn site_row(&mut self, key: &SiteKey) -> Result<Option<SiteRow>, StoreError>;
    /// The ignored-path rows of a site, in id order.
    async fn path_rows(&mut self, site_id: i64) -> Result<Vec<PathRow>, StoreError>;
    /// The allowed-network rows of a site, in id order.
    async fn network_rows(&mut self, site_id: i64) -> Result<Vec<NetworkRow>, StoreError>;
    /// Inserts a site and returns its id.
    async fn insert_site(&mut self, site: &SiteState) -> Result<i64, StoreError>;
    /// Deletes a site with its patterns and networks.
    async fn delete_site(&mut self, site_id: i64) -> Result<(), StoreError>;
    /// Writes a site's own columns (state, bypass hash and `updated_*`; not its patterns or
    /// networks).
    async fn update_site(&mut self, site: &SiteState) -> Result<(), StoreError>;
    /// Writes a site's scope of partial maintenance ([`crate::rows::write_scope`]): its
    /// `maintenance_site_scopes` row holds `patterns`, or is deleted with `None`.
    async fn write_scope(&mut self, site_id: i64, patterns: Option<&str>)
    -> Result<(), StoreError>;
    /// Writes the same scope for several sites (at most [`crate::bulk::CHUNK`]), as
    /// [`WriteTx::write_scope`] does for one. The default writes them one by one.
    async fn write_scopes(
        &mut self,
        site_ids: &[i64],
        patterns: Option<&str>,
    ) -> Result<(), StoreError> {
        for id in site_ids {
            self.write_scope(*id, patterns).await?;
        }
        Ok(())
    }
    /// Writes only a site's `updated_at` and `updated_by`.
    async fn touch_site(
        &mut self,
        site_id: i64,
        at: DateTime<Utc>,
        by: &str,
    ) -> Result<(), StoreError>;
    /// Inserts an ignored-path row.
    async fn insert_path(
        &mut self,
        site_id: i64,
        pattern: &str,
        description: &str,
    ) -> Result<(), StoreError>;
    /// Writes an ignored-path row's description.
    async fn update_path(&mut self, id: i64, description: &str) -> Result<(), StoreError>;
    /// Deletes an ignored-path row.
    async fn delete_path(&mut self, id: i64) -> Result<(), StoreError>;
    /// Inserts an allowed-network row.
    async fn insert_network(
        &mut self,
        site_id: i64,
        cidr: &str,
        description: &str,
    ) -> Result<(), StoreError>;
    /// Writes an allowed-network row's description.
    async fn update_network(&mut self, id: i64, description: &str) -> Result<(), StoreError>;
    /// Deletes an allowed-network row.
    async fn delete_network(&mut self, id: i64) -> Result<(), StoreError>;
    /// Inserts a tag of a site (one it does not carry yet).
    async fn insert_tag(&mut self, site_id: i64, tag: &str) -> Result<(), StoreError>;
    /// Deletes a tag of a site.
    async fn delete_tag(&mut self, site_id: i64, tag: &str) -> Result<(), StoreError>;
    /// The rows of the sites carrying one of `tags` (at most [`crate::bulk::CHUNK`]), in id
    /// order.
    async fn tagged_site_rows(&mut self, tags: &[String]) -> Result<Vec<SiteRow>, StoreError>;
    /// Appends an audit event.
    async fn insert_event(&mut self, event: &NewEvent<'_>) -> Result<(), StoreError>;
    /// Commits the transaction.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
    /// Rolls the transaction back. The default drops it, for drivers whose transactions roll
    /// back when dropped.
    async fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }
    /// Every site row, in id order (a bulk change reads them at once).
    async fn all_site_rows(&mut self) -> Result<Vec<SiteRow>, StoreError>;
    /// The ignored-path rows of these sites (at most [`crate::bulk::CHUNK`]), in id order. The
    /// default reads them site by site.
    async fn path_rows_of(&mut self, site_ids: &[i64]) -> Result<Vec<PathRow>, StoreError> {
        let mut rows = Vec::new();
        for id in site_ids {
            rows.extend(self.path_rows(*id).await?);
        }
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }
    /// The allowed-network rows of these sites (at most [`crate::bulk::CHUNK`]), in id order.
    /// The default reads them site by site.
    async fn network_rows_of(&mut self, site_ids: &[i64]) -> Result<Vec<NetworkRow>, StoreError> {
        let mut rows = Vec::new();
        for id in site_ids {
            rows.extend(self.network_rows(*id).await?);
        }
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }
    /// Writes the own columns of several sites (at most [`crate::bulk::CHUNK`]), as
    /// [`WriteTx::update_site`] does for one. The default writes them one by one.
    async fn update_sites(&mut self, sites: &[SiteState]) -> Result<(), StoreError> {
        for site in sites {
            self.update_site(site).await?;
        }
        Ok(())
    }
    /// Records several sites (at most [`crate::bulk::CHUNK`]) as changed at `revision`, as
    /// [`WriteTx::record_change`] does for one. The default records them one by one.
    async fn record_changes(&mut self, site_ids: &[i64], revision: i64) -> Result<(), StoreError> {
        for id in site_ids {
            self.record_change(*id, revision, false).await?;
        }
        Ok(())
    }
    /// Appends several audit events (at most [`crate::bulk::CHUNK`]). The default appends them
    /// one by one.
    async fn insert_events(&mut self, events: &[NewEvent<'_>]) -> Result<(), StoreError> {
        for event in events {
            self.insert_event(event).await?;
        }
        Ok(())
    }
}

/// Now, to the microsecond: every backend stores that much, so what a write returns is what a
/// later read gives.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A write transaction that holds the writers' lock (the bumped revision row).
pub(crate) type Tx<'e> = Box<dyn WriteTx + 'e>;

/// Opens a write transaction and takes the write lock by bumping the revision; returns the
/// transaction and the revision its changes are recorded at.
pub(crate) async fn begin<E: Engine + ?Sized>(engine: &E) -> Result<(Tx<'_>, i64), StoreError> {
    let mut tx = engine.begin_write().await?;
    match tx.bump_revision().await {
        Ok(Some(revision)) => Ok((tx, revision)),
        Ok(None) => Err(rollback(tx, engine.no_revision_row()).await),
        Err(e) => Err(rollback(tx, e).await),
    }
}

/// Rolls back after `err`, and returns `err` (a failed rollback is logged: the pool then
/// discards the connection, whose transaction is still open).
async fn rollback(tx: Tx<'_>, err: StoreError) -> StoreError {
    discard(tx).await;
    err
}

/// Rolls back a transaction that has nothing to keep; a failed rollback is logged, as
/// [`rollback`] does.
async fn discard(tx: Tx<'_>) {
    if let Err(e) = tx.rollback().await {
        // The store's own error, as the store would log it.
        let error: &(dyn std::error::Error + 'static) = match &e {
            StoreError::Backend(source) => &**source,
            other => other,
        };
        tracing::warn!(error = %maintenance_core::ErrorChain(error), "could not roll back a maintenance store transaction");
    }
}

/// Commits when the write's steps succeeded, rolls back otherwise.
pub(crate) async fn settle<T>(tx: Tx<'_>, result: Result<T, StoreError>) -> Result<T, StoreError> {
    match result {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(e) => Err(rollback(tx, e).await),
    }
}

/// A site read inside a write transaction: its state, and its rows (with their ids).
struct Loaded {
    site: SiteState,
    paths: Vec<PathRow>,
    networks: Vec<NetworkRow>,
}

async fn load_site(tx: &mut dyn WriteTx, site: &SiteRef) -> Result<Loaded, StoreError> {
    let row = tx
        .site_row(&SiteKey::of(site))
        .await?
        .ok_or_else(|| unknown_site(site))?;
    let paths = tx.path_rows(row.id).await?;
    let networks = tx.network_rows(row.id).await?;
    let site = assemble_site(row, &paths, &networks).ok_or_else(|| unknown_site(site))?;
    Ok(Loaded {
        site,
        paths,
        networks,
    })
}

/// Appends the audit event of a write.
async fn audit(
    tx: &mut dyn WriteTx,
    site: &SiteState,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    detail: &str,
) -> Result<(), StoreError> {
    let event = NewEvent {
        site_id: Some(site.id),
        site_domain: Some(&site.domain),
        at,
        actor,
        action,
        detail,
    };
    tx.insert_event(&event).await
}

/// Stamps who changed the site and when, after checking the whole new state.
fn stamp(site: &mut SiteState, actor: &str) -> Result<DateTime<Utc>, StoreError> {
    site.validate()?;
    let at = now();
    site.updated_at = Some(at);
    site.updated_by = Some(actor.to_owned());
    Ok(at)
}

/// The change with its instants cut to microseconds, as every backend stores them.
pub fn to_micros(change: &StateChange) -> StateChange {
    let cut = |t: Option<Option<DateTime<Utc>>>| t.map(|t| t.map(|t| t.trunc_subsecs(6)));
    StateChange {
        starts_at: cut(change.starts_at),
        ends_at: cut(change.ends_at),
        ..change.clone()
    }
}

/// [`MaintenanceSource::load`](maintenance_core::MaintenanceSource::load) through an [`Engine`].
pub async fn load<E: Engine + ?Sized>(engine: &E) -> Result<StoreContents, StoreError> {
    assemble_all(engine.read_all().await?).map_err(|MissingRevisionRow| engine.no_revision_row())
}

/// [`MaintenanceSource::changes_since`](maintenance_core::MaintenanceSource::changes_since)
/// through an [`Engine`].
pub async fn changes_since<E: Engine + ?Sized>(
    engine: &E,
    since: i64,
) -> Result<Option<StoreChanges>, StoreError> {
    match engine.read_changes(since).await? {
        Some(changes) => assemble_changes(changes)
            .map(Some)
            .map_err(|MissingRevisionRow| engine.no_revision_row()),
        None => Ok(None),
    }
}

/// [`MaintenanceSource::revision`](maintenance_core::MaintenanceSource::revision) through an [`Engine`].
pub async fn revision<E: Engine + ?Sized>(engine: &E) -> Result<i64, StoreError> {
    engine
        .read_revision()
        .await?
        .ok_or_else(|| engine.no_revision_row())
}

/// [`MaintenanceStore::add_site`](maintenance_core::MaintenanceStore::add_site) through an [`Engine`].
pub async fn add_site<E: Engine + ?Sized>(
    engine: &E,
    domain: &str,
    name: Option<&str>,
    actor: &str,
) -> Result<SiteState, StoreError> {
    let domain = validate::domain(domain)?;
    let (mut tx, revision) = begin(engine).await?;
    let result = add_site_in(&mut *tx, revision, domain, name, actor).await;
    settle(tx, result).await
}

async fn add_site_in(
    tx: &mut dyn WriteTx,
    revision: i64,
    domain: String,
    name: Option<&str>,
    actor: &str,
) -> Result<SiteState, StoreError> {
    if tx
        .site_row(&SiteKey::Domain(domain.clone()))
        .await?
        .is_some()
    {
        return Err(StoreError::SiteExists(domain));
    }
    let mut site = SiteState::new(0, domain);
    if let Some(n) = name {
        n.clone_into(&mut site.name);
    }
    let at = stamp(&mut site, actor)?;
    site.id = tx.insert_site(&site).await?;
    tx.record_change(site.id, revision, false).await?;
    let detail = format!("name={:?}", site.name);
    audit(tx, &site, at, actor, AuditAction::SiteAdd.as_str(), &detail).await?;
    Ok(site)
}

/// [`MaintenanceStore::remove_site`](maintenance_core::MaintenanceStore::remove_site) through an
/// [`Engine`].
pub async fn remove_site<E: Engine + ?Sized>(
    engine: &E,
    domain: &str,
    actor: &str,
) -> Result<(), StoreError> {
    let domain = validate::domain(domain)?;
    let (mut tx, revision) = begin(engine).await?;
    let result = remove_site_in(&mut *tx, revision, domain, actor).await;
    settle(tx, result).await
}

async fn remove_site_in(
    tx: &mut dyn WriteTx,
    revision: i64,
    domain: String,
    actor: &str,
) -> Result<(), StoreError> {
    let row = tx
        .site_row(&SiteKey::Domain(domain.clone()))
        .await?
        .ok_or_else(|| StoreError::UnknownSite(domain.clone()))?;
    if row.is_default {
        return Err(StoreError::DefaultSite(domain));
    }
    tx.write_scope(row.id, None).await?;
    tx.delete_site(row.id).await?;
    tx.record_change(row.id, revision, true).await?;
    let site = SiteState::new(row.id, domain);
    audit(
        tx,
        &site,
        now(),
        actor,
        AuditAction::SiteRemove.as_str(),
        "",
    )
    .await
}

/// [`MaintenanceStore::set_state`](maintenance_core::MaintenanceStore::set_state) through an [`Engine`].
pub async fn set_state<E: Engine + ?Sized>(
    engine: &E,
    site: &SiteRef,
    change: &StateChange,
    actor: &str,
) -> Result<SiteState, StoreError> {
    let (mut tx, revision) = begin(engine).await?;
    let result = set_state_in(&mut *tx, revision, site, change, actor).await;
    settle(tx, result).await
}

async fn set_state_in(
    tx: &mut dyn WriteTx,
    revision: i64,
    site: &SiteRef,
    change: &StateChange,
    actor: &str,
) -> Result<SiteState, StoreError> {
    let mut loaded = load_site(tx, site).await?;
    let scope_before = loaded.site.scope.clone();
    to_micros(change).apply_to(&mut loaded.site)?;
    let at = stamp(&mut loaded.site, actor)?;
    tx.update_site(&loaded.site).await?;
    if loaded.site.scope != scope_before {
        let scope = crate::rows::write_scope(&loaded.site.scope);
        tx.write_scope(loaded.site.id, scope.as_deref()).await?;
    }
    tx.record_change(loaded.site.id, revision, false).await?;
    audit(
        tx,
        &loaded.site,
        at,
        actor,
        AuditAction::of_change(change).as_str(),
        &change.describe(),
    )
    .await?;
    Ok(loaded.site)
}

/// [`MaintenanceStore::set_state_if`](maintenance_core::MaintenanceStore::set_state_if) through
/// an [`Engine`]: the site is read and compared inside the write transaction, after the
/// revision bump has taken the writers' lock, so no other write can come in between. When the
/// site holds something else, the transaction is rolled back: nothing is written.
pub async fn set_state_if<E: Engine + ?Sized>(
    engine: &E,
    site: &SiteRef,
    expected: &StateChange,
    change: &StateChange,
    actor: &str,
) -> Result<GuardedWrite, StoreError> {
    let (mut tx, revision) = begin(engine).await?;
    let current = match load_site(&mut *tx, site).await {
        Ok(loaded) => loaded.site,
        Err(e) => return Err(rollback(tx, e).await),
    };
    if !to_micros(expected).holds_for(&current) {
        discard(tx).await;
        return Ok(GuardedWrite::Kept(current));
    }
    let result = set_state_in(&mut *tx, revision, site, change, actor)
        .await
        .map(GuardedWrite::Written);
    settle(tx, result).await
}

/// [`MaintenanceStore::record_event`](maintenance_core::MaintenanceStore::record_event) through an
/// [`Engine`]. The write takes the writers' lock like any other and records the site as
/// changed at the new revision, so servers read that one site again (and find it as it was)
/// rather than everything.
pub async fn record_event<E: Engine + ?Sized>(
    engine: &E,
    site: &SiteRef,
    action: AuditAction,
    detail: &str,
    actor: &str,
) -> Result<(), StoreError> {
    validate::text("detail", detail, validate::MAX_MESSAGE_LEN)?;
    let (mut tx, revision) = begin(engine).await?;
    let result = async {
        let row = tx
            .site_row(&SiteKey::of(site))
            .await?
            .ok_or_else(|| unknown_site(site))?;
        tx.record_change(row.id, revision, false).await?;
        let state = SiteState::new(row.id, row.domain);
        audit(&mut *tx, &state, now(), actor, action.as_str(), detail).await
    }
    .await;
    settle(tx, result).await
}

/// An entry of one of a site's two lists: an ignored path pattern, or an allowed network.
enum Entry<'a> {
    Path(&'a str),
    Network(IpNet),
}

impl Entry<'_> {
    /// The network `network` names, as an entry; an error when it names none.
    fn network(network: &str) -> Result<Self, StoreError> {
        Ok(Entry::Network(validate::network(network)?))
    }

    /// The entry as the audit log and messages write it.
    fn text(&self) -> String {
        match self {
            Entry::Path(pattern) => (*pattern).to_owned(),
            Entry::Network(net) => net.to_string(),
        }
    }

    /// The ids of the site's rows that hold this entry, in id order. Raw rows, so that an entry
    /// written by hand that does not read back (a pattern that does not compile) can still be
    /// removed.
    fn row_ids(&self, loaded: &Loaded) -> Vec<i64> {
        match self {
            Entry::Path(pattern) => loaded
                .paths
                .iter()
                .filter(|p| p.pattern == *pattern)
                .map(|p| p.id)
                .collect(),
            Entry::Network(net) => loaded
                .networks
                .iter()
                .filter(|n| validate::network(&n.cidr).ok() == Some(*net))
                .map(|n| n.id)
                .collect(),
        }
    }

    /// Puts the entry with `description` into the site's state: a new description for an entry
    /// it has, or a new entry (checked with the rest of its list).
    fn put(&self, site: &mut SiteState, description: &str) -> Result<(), StoreError> {
        match *self {
            Entry::Path(pattern) => {
                match site.ignored_paths.iter_mut().find(|p| p.pattern == pattern) {
                    Some(p) => description.clone_into(&mut p.description),
                    None => {
                        site.ignored_paths.push(IgnoredPath {
                            pattern: pattern.to_owned(),
                            description: description.to_owned(),
                        });
                        validate::pattern_set(
                            site.ignored_paths.iter().map(|p| p.pattern.as_str()),
                        )?;
                    }
                }
            }
            Entry::Network(net) => {
                match site.allowed_networks.iter_mut().find(|n| n.network == net) {
                    Some(n) => description.clone_into(&mut n.description),
                    None => site.allowed_networks.push(AllowedNetwork {
                        network: net,
                        description: description.to_owned(),
                    }),
                }
            }
        }
        Ok(())
    }

    /// Takes the entry out of the site's state.
    fn take(&self, site: &mut SiteState) {
        match *self {
            Entry::Path(pattern) => site.ignored_paths.retain(|p| p.pattern != pattern),
            Entry::Network(net) => site.allowed_networks.retain(|n| n.network != net),
        }
    }

    /// What a refusal calls the entry.
    fn what(&self) -> &'static str {
        match self {
            Entry::Path(_) => "ignored pattern",
            Entry::Network(_) => "allowed network",
        }
    }

    /// The audit action of adding (`true`) or removing it.
    fn action(&self, added: bool) -> AuditAction {
        match (self, added) {
            (Entry::Path(_), true) => AuditAction::IgnoreAdd,
            (Entry::Path(_), false) => AuditAction::IgnoreRemove,
            (Entry::Network(_), true) => AuditAction::AllowAdd,
            (Entry::Network(_), false) => AuditAction::AllowRemove,
        }
    }

    /// Writes the entry's row: a new description for row `existing`, or a new row.
    async fn write(
        &self,
        tx: &mut dyn WriteTx,
        site_id: i64,
        existing: Option<i64>,
        description: &str,
    ) -> Result<(), StoreError> {
        match (self, existing) {
            (Entry::Path(_), Some(id)) => tx.update_path(id, description).await,
            (Entry::Path(pattern), None) => tx.insert_path(site_id, pattern, description).await,
            (Entry::Network(_), Some(id)) => tx.update_network(id, description).await,
            (Entry::Network(net), None) => {
                tx.insert_network(site_id, &net.to_string(), description)
                    .await
            }
        }
    }

    /// Deletes the entry's row `id`.
    async fn delete(&self, tx: &mut dyn WriteTx, id: i64) -> Result<(), StoreError> {
        match self {
            Entry::Path(_) => tx.delete_path(id).await,
            Entry::Network(_) => tx.delete_network(id).await,
        }
    }
}

/// Adds `entry` to a site's list (or gives an entry it has `description`), in one write. A
/// pattern is checked first, before any write begins (a network was checked when it was
/// parsed); removing one is not, so that a pattern written by hand that does not compile can go.
async fn add_entry<E: Engine + ?Sized>(
    engine: &E,
    site: &SiteRef,
    entry: Entry<'_>,
    description: &str,
    actor: &str,
) -> Result<(), StoreError> {
    if let Entry::Path(pattern) = entry {
        validate::pattern(pattern)?;
    }
    let (mut tx, revision) = begin(engine).await?;
    let result = async {
        let mut loaded = load_site(&mut *tx, site).await?;
        let existing = entry.row_ids(&loaded).first().copied();
        entry.put(&mut loaded.site, description)?;
        let at = stamp(&mut loaded.site, actor)?;
        entry
            .write(&mut *tx, loaded.site.id, existing, description)
            .await?;
        list_changed(&mut *tx, &loaded.site, revision, at, actor, &entry, true).await
    }
    .await;
    settle(tx, result).await
}

/// Removes `entry` from a site's list (every row holding it), in one write.
async fn remove_entry<E: Engine + ?Sized>(
    engine: &E,
    site: &SiteRef,
    entry: Entry<'_>,
    actor: &str,
) -> Result<(), StoreError> {
    let (mut tx, revision) = begin(engine).await?;
    let result = async {
        let mut loaded = load_site(&mut *tx, site).await?;
        let ids = entry.row_ids(&loaded);
        if ids.is_empty() {
            return Err(StoreError::NotFound {
                what: entry.what(),
                value: entry.text(),
                site: loaded.site.domain,
            });
        }
        entry.take(&mut loaded.site);
        let at = stamp(&mut loaded.site, actor)?;
        for id in ids {
            entry.delete(&mut *tx, id).await?;
        }
        list_changed(&mut *tx, &loaded.site, revision, at, actor, &entry, false).await
    }
    .await;
    settle(tx, result).await
}

/// The end of a change of a site's list: who changed the site and when, the site recorded as
/// changed, and the audit event.
async fn list_changed(
    tx: &mut dyn WriteTx,
    site: &SiteState,
    revision: i64,
    at: DateTime<Utc>,
    actor: &str,
    entry: &Entry<'_>,
    added: bool,
) -> Result<(), StoreError> {
    let action = entry.action(added).as_str();
    site_touched(tx, site, revision, at, actor, action, &entry.text()).await
}

/// The end of a write that changes a site's rows but not its own columns: who changed the
/// site and when, the site recorded as changed, and the audit event.
async fn site_touched(
    tx: &mut dyn WriteTx,
    site: &SiteState,
    revision: i64,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    detail: &str,
) -> Result<(), StoreError> {
    tx.touch_site(site.id, at, actor).await?;
    tx.record_change(site.id, revision, false).await?;
    audit(tx, site, at, actor, action, detail).await
}

/// [`MaintenanceStore::add_tags`](maintenance_core::MaintenanceStore::add_tags) through an
/// [`Engine`]: the tags the site does not carry yet are inserted.
pub async fn add_tags<E: Engine + ?Sized>(
    engine: &E,
    site: &SiteRef,
    tags: &[String],
    actor: &str,
) -> Result<SiteState, StoreError> {
    change_tags(engine, site, tags, actor, AuditAction::TagAdd).await
}

/// [`MaintenanceStore::remove_tags`](maintenance_core::MaintenanceStore::remove_tags) through
/// an [`Engine`].
pub async fn remove_tags<E: Engine + ?Sized>(
    engine: &E,
    site: &SiteRef,
    tags: &[String],
    actor: &str,
) -> Result<SiteState, StoreError> {
    change_tags(engine, site, tags, actor, AuditAction::TagRemove).await
}

/// Adds ([`AuditAction::TagAdd`]) or removes tags of a site, in one write.
async fn change_tags<E: Engine + ?Sized>(
    engine: &E,
    site: &SiteRef,
    tags: &[String],
    actor: &str,
    action: AuditAction,
) -> Result<SiteState, StoreError> {
    let tags = validate::tags(tags)?;
    let adding = action == AuditAction::TagAdd;
    let (mut tx, revision) = begin(engine).await?;
    let result = async {
        let mut loaded = load_site(&mut *tx, site).await?;
        let carried = |t: &&String| loaded.site.tags.contains(t);
        // Adding writes the tags the site lacks; removing needs every one carried.
        let rows: Vec<String> = if adding {
            tags.iter().filter(|t| !carried(t)).cloned().collect()
        } else if let Some(missing) = tags.iter().find(|t| !carried(t)) {
            return Err(StoreError::NotFound {
                what: "tag",
                value: missing.clone(),
                site: loaded.site.domain,
            });
        } else {
            tags.clone()
        };
        if adding {
            loaded.site.tags.extend(rows.iter().cloned());
            loaded.site.tags.sort();
        } else {
            loaded.site.tags.retain(|t| !rows.contains(t));
        }
        let at = stamp(&mut loaded.site, actor)?;
        for tag in &rows {
            if adding {
                tx.insert_tag(loaded.site.id, tag).await?;
            } else {
                tx.delete_tag(loaded.site.id, tag).await?;
            }
        }
        let detail = tags.join(" ");
        site_touched(
            &mut *tx,
            &loaded.site,
            revision,
            at,
            actor,
            action.as_str(),
            &detail,
        )
        .await?;
        Ok(loaded.site)
    }
    .await;
    settle(tx, result).await
}

/// [`MaintenanceStore::add_ignored_path`](maintenance_core::MaintenanceStore::add_ignored_path) through
/// an [`Engine`].
pub async fn add_ignored_path<E: Engine + ?Sized>(
    engine: &E,
    site: &SiteRef,
    pattern: &str,
    description: &str,
    actor: &str,
) -> Result<(), StoreError> {
    add_entry(engine, site, Entry::Path(pattern), description, actor).await
}

/// [`MaintenanceStore::remove_ignored_path`](maintenance_core::MaintenanceStore::remove_ignored_path)
/// through an [`Engine`].
pub async fn remove_ignored_path<E: Engine + ?Sized>(
    engine: &E,
    site: &SiteRef,
    pattern: &str,
    actor: &str,
) -> Result<(), StoreError> {
    remove_entry(engine, site, Entry::Path(pattern), actor).await
}

/// [`MaintenanceStore::add_allowed_network`](maintenance_core::MaintenanceStore::add_allowed_network)
/// through an [`Engine`].
pub async fn add_allowed_network<E: Engine + ?Sized>(
    engine: &E,
    site: &SiteRef,
    network: &str,
    description: &str,
    actor: &str,
) -> Result<(), StoreError> {
    add_entry(engine, site, Entry::network(network)?, description, actor).await
}

/// [`MaintenanceStore::remove_allowed_network`](maintenance_core::MaintenanceStore::remove_allowed_network)
/// through an [`Engine`].
pub async fn remove_allowed_network<E: Engine + ?Sized>(
    engine: &E,
    site: &SiteRef,
    network: &str,
    actor: &str,
) -> Result<(), StoreError> {
    remove_entry(engine, site, Entry::network(network)?, actor).await
}

/// [`MaintenanceStore::set_bypass_secret_hash`](maintenance_core::MaintenanceStore::set_bypass_secret_hash)
/// through an [`Engine`].
pub async fn set_bypass_secret_hash<E: Engine + ?Sized>(
    engine: &E,
    site: &SiteRef,
    hash: Option<&str>,
    actor: &str,
) -> Result<(), StoreError> {
    if let Some(h) = hash {
        validate::secret_hash(h)?;
    }
    let (mut tx, revision) = begin(engine).await?;
    let result = set_bypass_secret_hash_in(&mut *tx, revision, site, hash, actor).await;
    settle(tx, result).await
}

async fn set_bypass_secret_hash_in(
    tx: &mut dyn WriteTx,
    revision: i64,
    site: &SiteRef,
    hash: Option<&str>,
    actor: &str,
) -> Result<(), StoreError> {
    let action = AuditAction::of_bypass(hash).as_str();
    let mut loaded = load_site(tx, site).await?;
    loaded.site.bypass_secret_hash = hash.map(str::to_owned);
    let at = stamp(&mut loaded.site, actor)?;
    tx.update_site(&loaded.site).await?;
    tx.record_change(loaded.site.id, revision, false).await?;
    audit(tx, &loaded.site, at, actor, action, "").await
}

/// [`MaintenanceStore::events`](maintenance_core::MaintenanceStore::events) through an [`Engine`].
pub async fn events<E: Engine + ?Sized>(
    engine: &E,
    site: Option<&SiteRef>,
    limit: u32,
) -> Result<Vec<Event>, StoreError> {
    let domain = match site {
        None => None,
        Some(r) => Some(
            engine
                .read_site_domain(&SiteKey::of(r))
                .await?
                .ok_or_else(|| unknown_site(r))?,
        ),
    };
    engine
        .read_events(domain.as_deref(), i64::from(limit))
        .await
}
