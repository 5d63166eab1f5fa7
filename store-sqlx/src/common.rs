//! What every backend shares: the rows as read, turning them into the core's model (skipping
//! what the core would refuse), and each write's steps (validate, lock, change, audit, commit).
//!
//! A backend supplies the SQL through [`Engine`] (reads) and [`WriteTx`] (one write
//! transaction); the functions here hold the behaviour, so every backend matches
//! [`maintenance_core::MemoryStore`] in the same way.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use maintenance_core::{
    AllowedNetwork, ChangeFeed, Event, IgnoredPath, SiteRef, SiteState, StateChange, StoreContents,
    StoreError, normalize_host, state_action, unknown_site, validate,
};
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::error::Error;

/// How a site is looked up: the default flag, or a normalised domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SiteKey {
    Default,
    Domain(String),
}

impl SiteKey {
    pub(crate) fn of(site: &SiteRef) -> Self {
        match site {
            SiteRef::Default => SiteKey::Default,
            SiteRef::Domain(d) => SiteKey::Domain(normalize_host(d).into_owned()),
        }
    }
}

pub(crate) use maintenance_core::rows::{NetworkRow, PathRow, Rows, SiteRow, assemble_site};

/// An audit event to append.
#[derive(Debug)]
pub(crate) struct NewEvent<'a> {
    pub site_id: Option<i64>,
    pub site_domain: Option<&'a str>,
    pub at: DateTime<Utc>,
    pub actor: &'a str,
    pub action: &'a str,
    pub detail: &'a str,
}

/// The columns of `maintenance_sites`, in the order [`decode_site`] reads them.
macro_rules! site_columns {
    () => {
        "id, domain, name, is_default, enabled, mode, message, starts_at, ends_at, retry_after_secs, \
         bypass_secret_hash, updated_at, updated_by"
    };
}
pub(crate) use site_columns;

/// Typed column access on any backend's row.
pub(crate) trait RowExt {
    fn int(&self, col: &str) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error>;
    fn flag(&self, col: &str) -> Result<bool, sqlx::Error>;
    fn text(&self, col: &str) -> Result<String, sqlx::Error>;
    fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error>;
    fn time(&self, col: &str) -> Result<DateTime<Utc>, sqlx::Error>;
    fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error>;
}

impl<R> RowExt for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn int(&self, col: &str) -> Result<i64, sqlx::Error> {
        self.try_get(col)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(col)
    }
    fn flag(&self, col: &str) -> Result<bool, sqlx::Error> {
        self.try_get(col)
    }
    fn text(&self, col: &str) -> Result<String, sqlx::Error> {
        self.try_get(col)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(col)
    }
    fn time(&self, col: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        self.try_get(col)
    }
    fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.try_get(col)
    }
}

/// Reads an optional timestamp; one that cannot be read (text written by hand on SQLite) is
/// logged and read as unset, so the row still loads.
fn lenient_time(
    row: &impl RowExt,
    table: &'static str,
    id: i64,
    col: &'static str,
) -> Option<DateTime<Utc>> {
    row.opt_time(col).unwrap_or_else(|e| {
        tracing::warn!(table, id, column = col, error = %e, "unreadable timestamp; reading it as unset");
        None
    })
}

pub(crate) fn decode_site(row: &impl RowExt) -> Result<SiteRow, sqlx::Error> {
    let id = row.int("id")?;
    let table = "maintenance_sites";
    Ok(SiteRow {
        id,
        domain: row.text("domain")?,
        name: row.text("name")?,
        is_default: row.flag("is_default")?,
        enabled: row.flag("enabled")?,
        mode: row.text("mode")?,
        message: row.opt_text("message")?,
        starts_at: lenient_time(row, table, id, "starts_at"),
        ends_at: lenient_time(row, table, id, "ends_at"),
        retry_after_secs: row.opt_int("retry_after_secs")?,
        bypass_secret_hash: row.opt_text("bypass_secret_hash")?,
        updated_at: lenient_time(row, table, id, "updated_at"),
        updated_by: row.opt_text("updated_by")?,
    })
}

pub(crate) fn decode_path(row: &impl RowExt) -> Result<PathRow, sqlx::Error> {
    Ok(PathRow {
        id: row.int("id")?,
        site_id: row.int("site_id")?,
        pattern: row.text("pattern")?,
        description: row.text("description")?,
    })
}

pub(crate) fn decode_network(row: &impl RowExt) -> Result<NetworkRow, sqlx::Error> {
    Ok(NetworkRow {
        id: row.int("id")?,
        site_id: row.int("site_id")?,
        cidr: row.text("cidr")?,
        description: row.text("description")?,
    })
}

pub(crate) fn decode_event(row: &impl RowExt) -> Result<Event, sqlx::Error> {
    Ok(Event {
        id: row.int("id")?,
        site: row.opt_text("site_domain")?,
        at: row.time("at")?,
        actor: row.text("actor")?,
        action: row.text("action")?,
        detail: row.text("detail")?,
    })
}

/// Decodes every row; one that cannot be read is logged with its table and id, and skipped.
pub(crate) fn decode_all<R: RowExt, T>(
    table: &'static str,
    rows: &[R],
    decode: impl Fn(&R) -> Result<T, sqlx::Error>,
) -> Vec<T> {
    rows.iter()
        .filter_map(|row| match decode(row) {
            Ok(value) => Some(value),
            Err(e) => {
                let id = row.int("id").ok();
                tracing::warn!(table, id, error = %e, "skipping a row that cannot be read");
                None
            }
        })
        .collect()
}

/// Every site of a [`Rows`], in id order, each with its own patterns and networks.
pub(crate) fn assemble_all(rows: Rows) -> Result<StoreContents, StoreError> {
    let revision = rows.revision.ok_or(Error::NoRevisionRow)?;
    Ok(StoreContents {
        revision,
        sites: rows.into_sites(),
    })
}

/// The reads of a backend, and how it opens a write transaction.
#[async_trait]
pub(crate) trait Engine: Send + Sync {
    /// Opens a write transaction (on SQLite, one that takes the write lock at once).
    async fn begin_write(&self) -> Result<Box<dyn WriteTx + '_>, sqlx::Error>;
    /// Reads the revision and every row, in one consistent transaction.
    async fn read_all(&self) -> Result<Rows, sqlx::Error>;
    /// Reads the revision.
    async fn read_revision(&self) -> Result<Option<i64>, sqlx::Error>;
    /// The domain of a site, if it exists.
    async fn read_site_domain(&self, key: &SiteKey) -> Result<Option<String>, sqlx::Error>;
    /// The newest events first, of one domain or of all.
    async fn read_events(
        &self,
        domain: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Event>, sqlx::Error>;
    /// The change feed, for backends that push changes.
    async fn change_feed(&self) -> Result<Option<ChangeFeed>, StoreError> {
        Ok(None)
    }
}

/// One write transaction. Dropping it without [`WriteTx::commit`] rolls everything back.
#[async_trait]
pub(crate) trait WriteTx: Send {
    /// Bumps the revision and returns it; the row lock it takes serialises writers.
    async fn bump_revision(&mut self) -> Result<Option<i64>, sqlx::Error>;
    async fn site_row(&mut self, key: &SiteKey) -> Result<Option<SiteRow>, sqlx::Error>;
    async fn path_rows(&mut self, site_id: i64) -> Result<Vec<PathRow>, sqlx::Error>;
    async fn network_rows(&mut self, site_id: i64) -> Result<Vec<NetworkRow>, sqlx::Error>;
    /// Inserts a site and returns its id.
    async fn insert_site(&mut self, site: &SiteState) -> Result<i64, sqlx::Error>;
    /// Deletes a site with its patterns and networks.
    async fn delete_site(&mut self, site_id: i64) -> Result<(), sqlx::Error>;
    /// Writes a site's state columns, bypass hash and `updated_*`.
    async fn update_site(&mut self, site: &SiteState) -> Result<(), sqlx::Error>;
    /// Writes only a site's `updated_at` and `updated_by`.
    async fn touch_site(
        &mut self,
        site_id: i64,
        at: DateTime<Utc>,
        by: &str,
    ) -> Result<(), sqlx::Error>;
    async fn insert_path(
        &mut self,
        site_id: i64,
        pattern: &str,
        description: &str,
    ) -> Result<(), sqlx::Error>;
    async fn update_path(&mut self, id: i64, description: &str) -> Result<(), sqlx::Error>;
    async fn delete_path(&mut self, id: i64) -> Result<(), sqlx::Error>;
    async fn insert_network(
        &mut self,
        site_id: i64,
        cidr: &str,
        description: &str,
    ) -> Result<(), sqlx::Error>;
    async fn update_network(&mut self, id: i64, description: &str) -> Result<(), sqlx::Error>;
    async fn delete_network(&mut self, id: i64) -> Result<(), sqlx::Error>;
    async fn insert_event(&mut self, event: &NewEvent<'_>) -> Result<(), sqlx::Error>;
    async fn commit(self: Box<Self>) -> Result<(), sqlx::Error>;
}

fn db(e: sqlx::Error) -> StoreError {
    StoreError::backend(e)
}

/// Now, to the microsecond: every backend stores that much, so what a write returns is what a
/// later read gives.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A site read inside a write transaction: its state, and its rows (with their ids).
struct Loaded {
    site: SiteState,
    paths: Vec<PathRow>,
    networks: Vec<NetworkRow>,
}

/// Opens a write transaction and takes the write lock by bumping the revision.
async fn begin<E: Engine + ?Sized>(engine: &E) -> Result<Box<dyn WriteTx + '_>, StoreError> {
    let mut tx = engine.begin_write().await.map_err(db)?;
    tx.bump_revision()
        .await
        .map_err(db)?
        .ok_or(Error::NoRevisionRow)?;
    Ok(tx)
}

async fn load_site(tx: &mut dyn WriteTx, site: &SiteRef) -> Result<Loaded, StoreError> {
    let row = tx
        .site_row(&SiteKey::of(site))
        .await
        .map_err(db)?
        .ok_or_else(|| unknown_site(site))?;
    let paths = tx.path_rows(row.id).await.map_err(db)?;
    let networks = tx.network_rows(row.id).await.map_err(db)?;
    let site = assemble_site(row, &paths, &networks).ok_or_else(|| unknown_site(site))?;
    Ok(Loaded {
        site,
        paths,
        networks,
    })
}

/// Appends the audit event and commits.
async fn finish(
    mut tx: Box<dyn WriteTx + '_>,
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
    tx.insert_event(&event).await.map_err(db)?;
    tx.commit().await.map_err(db)
}

/// Stamps who changed the site and when, after checking the whole new state.
fn stamp(site: &mut SiteState, actor: &str) -> Result<DateTime<Utc>, StoreError> {
    validate::site_state(site)?;
    let at = now();
    site.updated_at = Some(at);
    site.updated_by = Some(actor.to_owned());
    Ok(at)
}

pub(crate) async fn load<E: Engine + ?Sized>(engine: &E) -> Result<StoreContents, StoreError> {
    assemble_all(engine.read_all().await.map_err(db)?)
}

pub(crate) async fn revision<E: Engine + ?Sized>(engine: &E) -> Result<i64, StoreError> {
    Ok(engine
        .read_revision()
        .await
        .map_err(db)?
        .ok_or(Error::NoRevisionRow)?)
}

pub(crate) async fn add_site<E: Engine + ?Sized>(
    engine: &E,
    domain: &str,
    name: Option<&str>,
    actor: &str,
) -> Result<SiteState, StoreError> {
    let domain = validate::domain(domain)?;
    let mut tx = begin(engine).await?;
    let key = SiteKey::Domain(domain.clone());
    if tx.site_row(&key).await.map_err(db)?.is_some() {
        return Err(StoreError::SiteExists(domain));
    }
    let mut site = SiteState::new(0, domain);
    if let Some(n) = name {
        site.name = n.to_owned();
    }
    let at = stamp(&mut site, actor)?;
    site.id = tx.insert_site(&site).await.map_err(db)?;
    let detail = format!("name={:?}", site.name);
    finish(tx, &site, at, actor, "site.add", &detail).await?;
    Ok(site)
}

pub(crate) async fn remove_site<E: Engine + ?Sized>(
    engine: &E,
    domain: &str,
    actor: &str,
) -> Result<(), StoreError> {
    let domain = validate::domain(domain)?;
    let mut tx = begin(engine).await?;
    let row = tx
        .site_row(&SiteKey::Domain(domain.clone()))
        .await
        .map_err(db)?
        .ok_or_else(|| StoreError::UnknownSite(domain.clone()))?;
    if row.is_default {
        return Err(StoreError::DefaultSite(domain));
    }
    tx.delete_site(row.id).await.map_err(db)?;
    let site = SiteState::new(row.id, domain);
    finish(tx, &site, now(), actor, "site.remove", "").await
}

/// The change with its instants cut to microseconds, as every backend stores them.
fn to_micros(change: &StateChange) -> StateChange {
    let cut = |t: Option<Option<DateTime<Utc>>>| t.map(|t| t.map(|t| t.trunc_subsecs(6)));
    StateChange {
        starts_at: cut(change.starts_at),
        ends_at: cut(change.ends_at),
        ..change.clone()
    }
}

pub(crate) async fn set_state<E: Engine + ?Sized>(
    engine: &E,
    site: &SiteRef,
    change: &StateChange,
    actor: &str,
) -> Result<SiteState, StoreError> {
    let mut tx = begin(engine).await?;
    let mut loaded = load_site(&mut *tx, site).await?;
    to_micros(change).apply_to(&mut loaded.site)?;
    let at = stamp(&mut loaded.site, actor)?;
    tx.update_site(&loaded.site).await.map_err(db)?;
    finish(
        tx,
        &loaded.site,
        at,
        actor,
        state_action(change),
        &change.describe(),
    )
    .await?;
    Ok(loaded.site)
}

pub(crate) async fn add_ignored_path<E: Engine + ?Sized>(
    engine: &E,
    site: &SiteRef,
    pattern: &str,
    description: &str,
    actor: &str,
) -> Result<(), StoreError> {
    validate::pattern(pattern)?;
    let mut tx = begin(engine).await?;
    let mut loaded = load_site(&mut *tx, site).await?;
    let existing = loaded
        .paths
        .iter()
        .find(|p| p.pattern == pattern)
        .map(|p| p.id);
    match loaded
        .site
        .ignored_paths
        .iter_mut()
        .find(|p| p.pattern == pattern)
    {
        Some(p) => description.clone_into(&mut p.description),
        None => loaded.site.ignored_paths.push(IgnoredPath {
            pattern: pattern.to_owned(),
            description: description.to_owned(),
        }),
    }
    let at = stamp(&mut loaded.site, actor)?;
    match existing {
        Some(id) => tx.update_path(id, description).await,
        None => tx.insert_path(loaded.site.id, pattern, description).await,
    }
    .map_err(db)?;
    tx.touch_site(loaded.site.id, at, actor).await.map_err(db)?;
    finish(tx, &loaded.site, at, actor, "ignore.add", pattern).await
}

pub(crate) async fn remove_ignored_path<E: Engine + ?Sized>(
    engine: &E,
    site: &SiteRef,
    pattern: &str,
    actor: &str,
) -> Result<(), StoreError> {
    let mut tx = begin(engine).await?;
    let mut loaded = load_site(&mut *tx, site).await?;
    // Raw rows, so that a pattern written by hand that does not compile can still be removed.
    let ids: Vec<i64> = loaded
        .paths
        .iter()
        .filter(|p| p.pattern == pattern)
        .map(|p| p.id)
        .collect();
    if ids.is_empty() {
        return Err(StoreError::NotFound {
            what: "ignored pattern",
            value: pattern.to_owned(),
            site: loaded.site.domain,
        });
    }
    loaded.site.ignored_paths.retain(|p| p.pattern != pattern);
    let at = stamp(&mut loaded.site, actor)?;
    for id in ids {
        tx.delete_path(id).await.map_err(db)?;
    }
    tx.touch_site(loaded.site.id, at, actor).await.map_err(db)?;
    finish(tx, &loaded.site, at, actor, "ignore.remove", pattern).await
}

pub(crate) async fn add_allowed_network<E: Engine + ?Sized>(
    engine: &E,
    site: &SiteRef,
    network: &str,
    description: &str,
    actor: &str,
) -> Result<(), StoreError> {
    let net = validate::network(network)?;
    let mut tx = begin(engine).await?;
    let mut loaded = load_site(&mut *tx, site).await?;
    let existing = loaded
        .networks
        .iter()
        .find(|n| validate::network(&n.cidr).ok() == Some(net))
        .map(|n| n.id);
    match loaded
        .site
        .allowed_networks
        .iter_mut()
        .find(|n| n.network == net)
    {
        Some(n) => description.clone_into(&mut n.description),
        None => loaded.site.allowed_networks.push(AllowedNetwork {
            network: net,
            description: description.to_owned(),
        }),
    }
    let at = stamp(&mut loaded.site, actor)?;
    let text = net.to_string();
    match existing {
        Some(id) => tx.update_network(id, description).await,
        None => tx.insert_network(loaded.site.id, &text, description).await,
    }
    .map_err(db)?;
    tx.touch_site(loaded.site.id, at, actor).await.map_err(db)?;
    finish(tx, &loaded.site, at, actor, "allow.add", &text).await
}

pub(crate) async fn remove_allowed_network<E: Engine + ?Sized>(
    engine: &E,
    site: &SiteRef,
    network: &str,
    actor: &str,
) -> Result<(), StoreError> {
    let net = validate::network(network)?;
    let mut tx = begin(engine).await?;
    let mut loaded = load_site(&mut *tx, site).await?;
    let ids: Vec<i64> = loaded
        .networks
        .iter()
        .filter(|n| validate::network(&n.cidr).ok() == Some(net))
        .map(|n| n.id)
        .collect();
    if ids.is_empty() {
        return Err(StoreError::NotFound {
            what: "allowed network",
            value: net.to_string(),
            site: loaded.site.domain,
        });
    }
    loaded.site.allowed_networks.retain(|n| n.network != net);
    let at = stamp(&mut loaded.site, actor)?;
    for id in ids {
        tx.delete_network(id).await.map_err(db)?;
    }
    tx.touch_site(loaded.site.id, at, actor).await.map_err(db)?;
    finish(
        tx,
        &loaded.site,
        at,
        actor,
        "allow.remove",
        &net.to_string(),
    )
    .await
}

pub(crate) async fn set_bypass_secret_hash<E: Engine + ?Sized>(
    engine: &E,
    site: &SiteRef,
    hash: Option<&str>,
    actor: &str,
) -> Result<(), StoreError> {
    if let Some(h) = hash {
        maintenance_core::bypass::check_hash_format(h)?;
    }
    let action = if hash.is_some() {
        "bypass.set"
    } else {
        "bypass.clear"
    };
    let mut tx = begin(engine).await?;
    let mut loaded = load_site(&mut *tx, site).await?;
    loaded.site.bypass_secret_hash = hash.map(str::to_owned);
    let at = stamp(&mut loaded.site, actor)?;
    tx.update_site(&loaded.site).await.map_err(db)?;
    finish(tx, &loaded.site, at, actor, action, "").await
}

pub(crate) async fn events<E: Engine + ?Sized>(
    engine: &E,
    site: Option<&SiteRef>,
    limit: u32,
) -> Result<Vec<Event>, StoreError> {
    let domain = match site {
        None => None,
        Some(r) => Some(
            engine
                .read_site_domain(&SiteKey::of(r))
                .await
                .map_err(db)?
                .ok_or_else(|| unknown_site(r))?,
        ),
    };
    engine
        .read_events(domain.as_deref(), i64::from(limit))
        .await
        .map_err(db)
}

/// Implements [`maintenance_core::MaintenanceStore`] for a backend type through [`Engine`] and
/// the functions of this module.
macro_rules! impl_maintenance_store {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl maintenance_core::MaintenanceStore for $ty {
            async fn load(
                &self,
            ) -> Result<maintenance_core::StoreContents, maintenance_core::StoreError> {
                crate::common::load(self).await
            }

            async fn revision(&self) -> Result<i64, maintenance_core::StoreError> {
                crate::common::revision(self).await
            }

            async fn subscribe(
                &self,
            ) -> Result<Option<maintenance_core::ChangeFeed>, maintenance_core::StoreError> {
                crate::common::Engine::change_feed(self).await
            }

            async fn add_site(
                &self,
                domain: &str,
                name: Option<&str>,
                actor: &str,
            ) -> Result<maintenance_core::SiteState, maintenance_core::StoreError> {
                crate::common::add_site(self, domain, name, actor).await
            }

            async fn remove_site(
                &self,
                domain: &str,
                actor: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                crate::common::remove_site(self, domain, actor).await
            }

            async fn set_state(
                &self,
                site: &maintenance_core::SiteRef,
                change: &maintenance_core::StateChange,
                actor: &str,
            ) -> Result<maintenance_core::SiteState, maintenance_core::StoreError> {
                crate::common::set_state(self, site, change, actor).await
            }

            async fn add_ignored_path(
                &self,
                site: &maintenance_core::SiteRef,
                pattern: &str,
                description: &str,
                actor: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                crate::common::add_ignored_path(self, site, pattern, description, actor).await
            }

            async fn remove_ignored_path(
                &self,
                site: &maintenance_core::SiteRef,
                pattern: &str,
                actor: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                crate::common::remove_ignored_path(self, site, pattern, actor).await
            }

            async fn add_allowed_network(
                &self,
                site: &maintenance_core::SiteRef,
                network: &str,
                description: &str,
                actor: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                crate::common::add_allowed_network(self, site, network, description, actor).await
            }

            async fn remove_allowed_network(
                &self,
                site: &maintenance_core::SiteRef,
                network: &str,
                actor: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                crate::common::remove_allowed_network(self, site, network, actor).await
            }

            async fn set_bypass_secret_hash(
                &self,
                site: &maintenance_core::SiteRef,
                hash: Option<&str>,
                actor: &str,
            ) -> Result<(), maintenance_core::StoreError> {
                crate::common::set_bypass_secret_hash(self, site, hash, actor).await
            }

            async fn events(
                &self,
                site: Option<&maintenance_core::SiteRef>,
                limit: u32,
            ) -> Result<Vec<maintenance_core::Event>, maintenance_core::StoreError> {
                crate::common::events(self, site, limit).await
            }
        }
    };
}
pub(crate) use impl_maintenance_store;

#[cfg(test)]
mod tests {
    use super::*;
    use maintenance_core::Mode;

    fn site_row(id: i64, domain: &str, mode: &str) -> SiteRow {
        SiteRow {
            id,
            domain: domain.to_owned(),
            name: domain.to_owned(),
            is_default: false,
            enabled: true,
            mode: mode.to_owned(),
            message: None,
            starts_at: None,
            ends_at: None,
            retry_after_secs: Some(-5),
            bypass_secret_hash: Some("plaintext".to_owned()),
            updated_at: None,
            updated_by: None,
        }
    }

    #[test]
    fn invalid_values_are_skipped_and_unknown_mode_reads_as_full() {
        let paths = [
            PathRow {
                id: 1,
                site_id: 7,
                pattern: "^ok/".to_owned(),
                description: String::new(),
            },
            PathRow {
                id: 2,
                site_id: 7,
                pattern: "^(unclosed".to_owned(),
                description: String::new(),
            },
        ];
        let networks = [
            NetworkRow {
                id: 1,
                site_id: 7,
                cidr: "10.0.0.0/8".to_owned(),
                description: String::new(),
            },
            NetworkRow {
                id: 2,
                site_id: 7,
                cidr: "10.0.0.0/99".to_owned(),
                description: String::new(),
            },
        ];
        let site = assemble_site(
            site_row(7, "Shop.example.com", "sideways"),
            &paths,
            &networks,
        )
        .unwrap();
        assert_eq!(site.domain, "shop.example.com");
        assert_eq!(site.mode, Mode::Full);
        assert_eq!(site.retry_after_secs, None);
        assert_eq!(site.bypass_secret_hash, None);
        assert_eq!(site.ignored_paths.len(), 1);
        assert_eq!(site.allowed_networks.len(), 1);

        let read_only = assemble_site(site_row(8, "a.example", "read-only"), [], []).unwrap();
        assert_eq!(read_only.mode, Mode::ReadOnly);
        assert!(assemble_site(site_row(9, "bad domain!", "full"), [], []).is_none());
    }

    #[test]
    fn rows_are_grouped_by_site_in_id_order() {
        let rows = Rows {
            revision: Some(3),
            sites: vec![
                site_row(1, "a.example", "full"),
                site_row(2, "b.example", "full"),
            ],
            paths: vec![
                PathRow {
                    id: 1,
                    site_id: 2,
                    pattern: "^b".to_owned(),
                    description: String::new(),
                },
                PathRow {
                    id: 2,
                    site_id: 1,
                    pattern: "^a".to_owned(),
                    description: String::new(),
                },
                PathRow {
                    id: 3,
                    site_id: 99,
                    pattern: "^orphan".to_owned(),
                    description: String::new(),
                },
            ],
            networks: Vec::new(),
        };
        let contents = assemble_all(rows).unwrap();
        assert_eq!(contents.revision, 3);
        let patterns: Vec<Vec<&str>> = contents
            .sites
            .iter()
            .map(|s| s.ignored_paths.iter().map(|p| p.pattern.as_str()).collect())
            .collect();
        assert_eq!(patterns, [vec!["^a"], vec!["^b"]]);
        assert!(assemble_all(Rows::default()).is_err(), "no revision row");
    }

    #[test]
    fn window_instants_are_cut_to_microseconds() {
        let t = DateTime::from_timestamp(1_900_000_000, 123_456_789).unwrap();
        let change = StateChange::turn_on().window(Some(t), None);
        let cut = to_micros(&change);
        assert_eq!(
            cut.starts_at,
            Some(Some(
                DateTime::from_timestamp(1_900_000_000, 123_456_000).unwrap()
            ))
        );
        assert_eq!(cut.ends_at, Some(None));
        assert_eq!(cut.enabled, Some(true));
    }
}
