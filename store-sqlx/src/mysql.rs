//! The MariaDB/MySQL store: [`MySqlStore`].
//!
//! Timestamps are `DATETIME(6)` holding UTC: the store's connections use the session time zone
//! `+00:00` (sqlx's default, set explicitly by [`MySqlStore::connect`]). Writers serialise on
//! the revision row, which every write updates first. There is no change feed: handles poll
//! the revision.

use std::str::FromStr;

use async_trait::async_trait;
// Times are bound as naive UTC so they travel as DATETIME: a `DateTime<Utc>` travels as
// TIMESTAMP, whose range ends in 2038, and MariaDB stores NULL past it without an error.
use chrono::{DateTime, Utc};
use maintenance_core::store::{DEFAULT_SITE_DOMAIN, DEFAULT_SITE_NAME};
use maintenance_core::{Event, SiteState, StoreError};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::{ConnectOptions, Connection, MySql, Transaction};

use crate::common::{
    self, Engine, NetworkRow, NewEvent, PathRow, Rows, SiteKey, SiteRow, WriteTx, decode_all,
    decode_event, decode_network, decode_path, decode_site, site_columns,
};
use maintenance_sql::engine::ChangeRows;
use maintenance_sql::listing::Dialect;
use maintenance_sql::migrations;

use crate::error::Error;
use crate::migrate::Migrating;
use crate::url::redact_url;

const BACKEND: &str = "MySQL";

const BUMP_REVISION: &str = "UPDATE maintenance_revision SET revision = revision + 1 WHERE id = 1";
const SELECT_REVISION: &str = "SELECT revision FROM maintenance_revision WHERE id = 1";
const SELECT_SITES: &str = concat!(
    "SELECT ",
    site_columns!(),
    " FROM ",
    crate::common::sites_from!(),
    " ORDER BY id"
);
const SELECT_DEFAULT_SITE: &str = concat!(
    "SELECT ",
    site_columns!(),
    " FROM ",
    crate::common::sites_from!(),
    " WHERE is_default = TRUE ORDER BY id LIMIT 1"
);
const SELECT_SITE_BY_DOMAIN: &str = concat!(
    "SELECT ",
    site_columns!(),
    " FROM ",
    crate::common::sites_from!(),
    " WHERE domain = ?"
);
const SELECT_DEFAULT_DOMAIN: &str =
    "SELECT domain FROM maintenance_sites WHERE is_default = TRUE ORDER BY id LIMIT 1";
const SELECT_DOMAIN: &str = "SELECT domain FROM maintenance_sites WHERE domain = ?";
/// Begins the consistent read of `read_all` and `read_changes`.
const READ_SNAPSHOT: &str = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY";
const RECORD_CHANGE: &str = "INSERT INTO maintenance_site_changes (site_id, version, removed) \
     VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE version = VALUES(version), removed = VALUES(removed)";
const SELECT_PATHS: &str =
    "SELECT id, site_id, pattern, description FROM maintenance_ignored_paths ORDER BY id";
const SELECT_SITE_PATHS: &str = "SELECT id, site_id, pattern, description FROM maintenance_ignored_paths WHERE site_id = ? ORDER BY id";
const SELECT_NETWORKS: &str =
    "SELECT id, site_id, cidr, description FROM maintenance_allowed_networks ORDER BY id";
const SELECT_SITE_NETWORKS: &str = "SELECT id, site_id, cidr, description FROM maintenance_allowed_networks WHERE site_id = ? ORDER BY id";
const INSERT_SITE: &str = "INSERT INTO maintenance_sites \
     (domain, name, is_default, enabled, mode, message, starts_at, ends_at, retry_after_secs, \
      bypass_secret_hash, updated_at, updated_by) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const UPDATE_SITE: &str = "UPDATE maintenance_sites SET enabled = ?, mode = ?, message = ?, starts_at = ?, \
     ends_at = ?, retry_after_secs = ?, bypass_secret_hash = ?, updated_at = ?, updated_by = ? WHERE id = ?";
const TOUCH_SITE: &str = "UPDATE maintenance_sites SET updated_at = ?, updated_by = ? WHERE id = ?";
const DELETE_SITE_PATHS: &str = "DELETE FROM maintenance_ignored_paths WHERE site_id = ?";
const DELETE_SITE_NETWORKS: &str = "DELETE FROM maintenance_allowed_networks WHERE site_id = ?";
const DELETE_SITE: &str = "DELETE FROM maintenance_sites WHERE id = ?";
const INSERT_PATH: &str =
    "INSERT INTO maintenance_ignored_paths (site_id, pattern, description) VALUES (?, ?, ?)";
const UPDATE_PATH: &str = "UPDATE maintenance_ignored_paths SET description = ? WHERE id = ?";
const DELETE_PATH: &str = "DELETE FROM maintenance_ignored_paths WHERE id = ?";
const INSERT_NETWORK: &str =
    "INSERT INTO maintenance_allowed_networks (site_id, cidr, description) VALUES (?, ?, ?)";
const UPDATE_NETWORK: &str = "UPDATE maintenance_allowed_networks SET description = ? WHERE id = ?";
const DELETE_NETWORK: &str = "DELETE FROM maintenance_allowed_networks WHERE id = ?";
const INSERT_EVENT: &str = "INSERT INTO maintenance_events \
     (site_id, site_domain, at, actor, action, detail) VALUES (?, ?, ?, ?, ?, ?)";
const SELECT_EVENTS: &str = "SELECT id, site_domain, at, actor, action, detail FROM maintenance_events ORDER BY id DESC LIMIT ?";
const SELECT_SITE_EVENTS: &str = "SELECT id, site_domain, at, actor, action, detail \
     FROM maintenance_events WHERE site_domain = ? ORDER BY id DESC LIMIT ?";
/// How long `migrate()` waits for another server's migration to finish.
const MIGRATION_LOCK_TIMEOUT_SECS: u32 = 300;
/// Lock names are server-wide and at most 64 characters: name the database by its digest.
const LOCK_MIGRATIONS: &str =
    "SELECT GET_LOCK(CONCAT('maintenance_migrate_', SHA1(DATABASE())), ?)";
const ENSURE_REVISION: &str =
    "INSERT INTO maintenance_revision (id, revision) VALUES (1, 1) ON DUPLICATE KEY UPDATE id = id";
const COUNT_DEFAULT_SITES: &str = "SELECT COUNT(*) FROM maintenance_sites WHERE is_default = TRUE";
const INSERT_DEFAULT_SITE: &str = "INSERT INTO maintenance_sites (domain, name, is_default, enabled, mode) \
     VALUES (?, ?, TRUE, FALSE, 'full') ON DUPLICATE KEY UPDATE id = id";

/// The maintenance store on MariaDB or MySQL.
///
/// ```no_run
/// # async fn run() -> Result<(), maintenance_sqlx::Error> {
/// use maintenance_sqlx::MySqlStore;
/// let store = MySqlStore::connect("mariadb://app@db.internal/app").await?;
/// store.migrate().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MySqlStore {
    pool: MySqlPool,
}

impl MySqlStore {
    /// A store on an existing pool. Call [`MySqlStore::migrate`] before first use.
    ///
    /// Keep sqlx's default session time zone, `+00:00`: the timestamps are stored in UTC.
    pub fn new(pool: MySqlPool) -> Self {
        MySqlStore { pool }
    }

    /// Connects to `url` (`mysql://` or `mariadb://`), with the session time zone `+00:00`.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let pool = pool_options()
            .connect_with(connect_options(url)?)
            .await
            .map_err(|source| Error::Connect {
                url: redact_url(url),
                source,
            })?;
        Ok(MySqlStore::new(pool))
    }

    /// A store on `url` that connects on first use: no I/O here, so a server can start while
    /// the database is down (each read then fails until it answers). Fails only on a URL that
    /// cannot be parsed.
    pub fn connect_lazy(url: &str) -> Result<Self, Error> {
        Ok(MySqlStore::new(
            pool_options().connect_lazy_with(connect_options(url)?),
        ))
    }

    /// The pool the store uses.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Creates or updates the tables, and the default site if it is missing. Safe to run again,
    /// and from several servers at once: it holds a named lock (`GET_LOCK`) for the database
    /// throughout, on a connection of its own that is closed at the end (which also frees the
    /// lock if the call is cancelled).
    pub async fn migrate(&self) -> Result<(), Error> {
        let query_error = |source| Error::Query {
            backend: BACKEND,
            source,
        };
        let mut conn = self
            .pool
            .connect_options()
            .connect()
            .await
            .map_err(query_error)?;
        let locked: Option<i64> = sqlx::query_scalar(LOCK_MIGRATIONS)
            .bind(MIGRATION_LOCK_TIMEOUT_SECS)
            .fetch_one(&mut conn)
            .await
            .map_err(query_error)?;
        if locked != Some(1) {
            return Err(Error::MigrationLock {
                backend: BACKEND,
                waited: MIGRATION_LOCK_TIMEOUT_SECS,
            });
        }
        let report = migrations::run(&mut Migrating::<MySql>(&mut conn), Dialect::MySql)
            .await
            .map_err(|source| Error::Migrate {
                backend: BACKEND,
                source,
            })?;
        report.log(BACKEND);
        let mut tx = conn.begin().await.map_err(query_error)?;
        sqlx::query(ENSURE_REVISION)
            .execute(&mut *tx)
            .await
            .map_err(query_error)?;
        // Under the migration lock, so checking first cannot race another server.
        let defaults: i64 = sqlx::query_scalar(COUNT_DEFAULT_SITES)
            .fetch_one(&mut *tx)
            .await
            .map_err(query_error)?;
        let added = if defaults == 0 {
            sqlx::query(INSERT_DEFAULT_SITE)
                .bind(DEFAULT_SITE_DOMAIN)
                .bind(DEFAULT_SITE_NAME)
                .execute(&mut *tx)
                .await
                .map_err(query_error)?
                .rows_affected()
        } else {
            0
        };
        if added > 0 {
            sqlx::query(BUMP_REVISION)
                .execute(&mut *tx)
                .await
                .map_err(query_error)?;
        }
        tx.commit().await.map_err(query_error)?;
        // Closing the session frees the lock.
        conn.close().await.map_err(query_error)
    }
}

fn pool_options() -> MySqlPoolOptions {
    MySqlPoolOptions::new().acquire_timeout(crate::CONNECT_TIMEOUT)
}

fn connect_options(url: &str) -> Result<MySqlConnectOptions, Error> {
    let options = MySqlConnectOptions::from_str(url).map_err(|source| Error::Connect {
        url: redact_url(url),
        source,
    })?;
    Ok(options.timezone(Some("+00:00".to_owned())))
}

crate::common::bulk_fns!(
    db = MySql,
    dialect = maintenance_sql::listing::Dialect::MySql,
    placeholder = maintenance_sql::bulk::Placeholder::Question,
    on_duplicate_key = true,
    begin_read = |pool| pool.begin(),
    time = |t| t.naive_utc()
);

struct MySqlWrite {
    tx: Transaction<'static, MySql>,
}

impl MySqlStore {
    /// A connection whose next transaction is REPEATABLE READ, whatever the server's default,
    /// so that [`READ_SNAPSHOT`] sees one snapshot.
    async fn reader(&self) -> Result<sqlx::pool::PoolConnection<MySql>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *conn)
            .await?;
        Ok(conn)
    }
}

maintenance_sql::sql_store!(MySqlStore);

#[async_trait]
impl Engine for MySqlStore {
    async fn begin_write(&self) -> Result<Box<dyn WriteTx + '_>, StoreError> {
        let tx = common::db(self.pool.begin().await)?;
        Ok(Box::new(MySqlWrite { tx }))
    }

    async fn read_all(&self) -> Result<Rows, StoreError> {
        common::db(
            async move {
                let mut conn = self.reader().await?;
                let mut tx = conn.begin_with(READ_SNAPSHOT).await?;
                let revision = sqlx::query_scalar(SELECT_REVISION)
                    .fetch_optional(&mut *tx)
                    .await?;
                let sites = sqlx::query(SELECT_SITES).fetch_all(&mut *tx).await?;
                let paths = sqlx::query(SELECT_PATHS).fetch_all(&mut *tx).await?;
                let networks = sqlx::query(SELECT_NETWORKS).fetch_all(&mut *tx).await?;
                tx.commit().await?;
                Ok(Rows {
                    revision,
                    sites: decode_all("maintenance_sites", &sites, decode_site),
                    paths: decode_all("maintenance_ignored_paths", &paths, decode_path),
                    networks: decode_all("maintenance_allowed_networks", &networks, decode_network),
                })
            }
            .await,
        )
    }

    async fn read_changes(&self, since: i64) -> Result<Option<ChangeRows>, StoreError> {
        let mut conn = common::db(self.reader().await)?;
        let mut tx = common::db(conn.begin_with(READ_SNAPSHOT).await)?;
        let changes = bulk_read_changes(&mut tx, since).await?;
        common::db(tx.commit().await)?;
        Ok(changes)
    }

    async fn read_revision(&self) -> Result<Option<i64>, StoreError> {
        common::db(
            sqlx::query_scalar(SELECT_REVISION)
                .fetch_optional(&self.pool)
                .await,
        )
    }

    async fn read_site_domain(&self, key: &SiteKey) -> Result<Option<String>, StoreError> {
        common::db(match key {
            SiteKey::Default => {
                sqlx::query_scalar(SELECT_DEFAULT_DOMAIN)
                    .fetch_optional(&self.pool)
                    .await
            }
            SiteKey::Domain(d) => {
                sqlx::query_scalar(SELECT_DOMAIN)
                    .bind(d)
                    .fetch_optional(&self.pool)
                    .await
            }
        })
    }

    async fn read_events(
        &self,
        domain: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        common::db(
            async move {
                let rows = match domain {
                    Some(d) => {
                        sqlx::query(SELECT_SITE_EVENTS)
                            .bind(d)
                            .bind(limit)
                            .fetch_all(&self.pool)
                            .await?
                    }
                    None => {
                        sqlx::query(SELECT_EVENTS)
                            .bind(limit)
                            .fetch_all(&self.pool)
                            .await?
                    }
                };
                Ok(decode_all("maintenance_events", &rows, decode_event))
            }
            .await,
        )
    }

    fn no_revision_row(&self) -> StoreError {
        common::no_revision_row()
    }

    async fn read_listing(
        &self,
        query: &maintenance_core::SiteQuery,
    ) -> Result<Option<(u64, crate::common::Rows)>, maintenance_core::StoreError> {
        listing_rows(&self.pool, query).await
    }
}

#[async_trait]
impl WriteTx for MySqlWrite {
    async fn bump_revision(&mut self) -> Result<Option<i64>, StoreError> {
        common::db(
            async move {
                // The update locks the row until commit; the select then sees the value it wrote.
                let bumped = sqlx::query(BUMP_REVISION).execute(&mut *self.tx).await?;
                if bumped.rows_affected() == 0 {
                    return Ok(None);
                }
                sqlx::query_scalar(SELECT_REVISION)
                    .fetch_optional(&mut *self.tx)
                    .await
            }
            .await,
        )
    }

    async fn record_change(
        &mut self,
        site_id: i64,
        revision: i64,
        removed: bool,
    ) -> Result<(), StoreError> {
        common::db(
            sqlx::query(RECORD_CHANGE)
                .bind(site_id)
                .bind(revision)
                .bind(removed)
                .execute(&mut *self.tx)
                .await
                .map(drop),
        )
    }

    async fn site_row(&mut self, key: &SiteKey) -> Result<Option<SiteRow>, StoreError> {
        common::db(
            async move {
                let row = match key {
                    SiteKey::Default => {
                        sqlx::query(SELECT_DEFAULT_SITE)
                            .fetch_optional(&mut *self.tx)
                            .await?
                    }
                    SiteKey::Domain(d) => {
                        sqlx::query(SELECT_SITE_BY_DOMAIN)
                            .bind(d)
                            .fetch_optional(&mut *self.tx)
                            .await?
                    }
                };
                row.as_ref().map(decode_site).transpose()
            }
            .await,
        )
    }

    async fn path_rows(&mut self, site_id: i64) -> Result<Vec<PathRow>, StoreError> {
        common::db(
            async move {
                let rows = sqlx::query(SELECT_SITE_PATHS)
                    .bind(site_id)
                    .fetch_all(&mut *self.tx)
                    .await?;
                Ok(decode_all("maintenance_ignored_paths", &rows, decode_path))
            }
            .await,
        )
    }

    async fn network_rows(&mut self, site_id: i64) -> Result<Vec<NetworkRow>, StoreError> {
        common::db(
            async move {
                let rows = sqlx::query(SELECT_SITE_NETWORKS)
                    .bind(site_id)
                    .fetch_all(&mut *self.tx)
                    .await?;
                Ok(decode_all(
                    "maintenance_allowed_networks",
                    &rows,
                    decode_network,
                ))
            }
            .await,
        )
    }

    async fn insert_site(&mut self, site: &SiteState) -> Result<i64, StoreError> {
        common::db(
            async move {
                let done = sqlx::query(INSERT_SITE)
                    .bind(&site.domain)
                    .bind(&site.name)
                    .bind(site.is_default)
                    .bind(site.enabled)
                    .bind(site.mode.as_str())
                    .bind(&site.message)
                    .bind(site.starts_at.map(|t| t.naive_utc()))
                    .bind(site.ends_at.map(|t| t.naive_utc()))
                    .bind(site.retry_after_secs.map(i64::from))
                    .bind(&site.bypass_secret_hash)
                    .bind(site.updated_at.map(|t| t.naive_utc()))
                    .bind(&site.updated_by)
                    .execute(&mut *self.tx)
                    .await?;
                i64::try_from(done.last_insert_id()).map_err(|e| sqlx::Error::Decode(Box::new(e)))
            }
            .await,
        )
    }

    async fn delete_site(&mut self, site_id: i64) -> Result<(), StoreError> {
        common::db(
            async move {
                for statement in [DELETE_SITE_PATHS, DELETE_SITE_NETWORKS, DELETE_SITE] {
                    sqlx::query(statement)
                        .bind(site_id)
                        .execute(&mut *self.tx)
                        .await?;
                }
                Ok(())
            }
            .await,
        )
    }

    async fn update_site(&mut self, site: &SiteState) -> Result<(), StoreError> {
        common::db(
            sqlx::query(UPDATE_SITE)
                .bind(site.enabled)
                .bind(site.mode.as_str())
                .bind(&site.message)
                .bind(site.starts_at.map(|t| t.naive_utc()))
                .bind(site.ends_at.map(|t| t.naive_utc()))
                .bind(site.retry_after_secs.map(i64::from))
                .bind(&site.bypass_secret_hash)
                .bind(site.updated_at.map(|t| t.naive_utc()))
                .bind(&site.updated_by)
                .bind(site.id)
                .execute(&mut *self.tx)
                .await
                .map(drop),
        )
    }

    async fn write_scope(
        &mut self,
        site_id: i64,
        patterns: Option<&str>,
    ) -> Result<(), StoreError> {
        bulk_write_scopes(&mut self.tx, &[site_id], patterns).await
    }

    async fn write_scopes(
        &mut self,
        site_ids: &[i64],
        patterns: Option<&str>,
    ) -> Result<(), StoreError> {
        bulk_write_scopes(&mut self.tx, site_ids, patterns).await
    }

    async fn touch_site(
        &mut self,
        site_id: i64,
        at: DateTime<Utc>,
        by: &str,
    ) -> Result<(), StoreError> {
        common::db(
            sqlx::query(TOUCH_SITE)
                .bind(at.naive_utc())
                .bind(by)
                .bind(site_id)
                .execute(&mut *self.tx)
                .await
                .map(drop),
        )
    }

    async fn insert_path(
        &mut self,
        site_id: i64,
        pattern: &str,
        description: &str,
    ) -> Result<(), StoreError> {
        common::db(
            sqlx::query(INSERT_PATH)
                .bind(site_id)
                .bind(pattern)
                .bind(description)
                .execute(&mut *self.tx)
                .await
                .map(drop),
        )
    }

    async fn update_path(&mut self, id: i64, description: &str) -> Result<(), StoreError> {
        common::db(
            sqlx::query(UPDATE_PATH)
                .bind(description)
                .bind(id)
                .execute(&mut *self.tx)
                .await
                .map(drop),
        )
    }

    async fn delete_path(&mut self, id: i64) -> Result<(), StoreError> {
        common::db(
            sqlx::query(DELETE_PATH)
                .bind(id)
                .execute(&mut *self.tx)
                .await
                .map(drop),
        )
    }

    async fn insert_network(
        &mut self,
        site_id: i64,
        cidr: &str,
        description: &str,
    ) -> Result<(), StoreError> {
        common::db(
            sqlx::query(INSERT_NETWORK)
                .bind(site_id)
                .bind(cidr)
                .bind(description)
                .execute(&mut *self.tx)
                .await
                .map(drop),
        )
    }

    async fn update_network(&mut self, id: i64, description: &str) -> Result<(), StoreError> {
        common::db(
            sqlx::query(UPDATE_NETWORK)
                .bind(description)
                .bind(id)
                .execute(&mut *self.tx)
                .await
                .map(drop),
        )
    }

    async fn delete_network(&mut self, id: i64) -> Result<(), StoreError> {
        common::db(
            sqlx::query(DELETE_NETWORK)
                .bind(id)
                .execute(&mut *self.tx)
                .await
                .map(drop),
        )
    }

    async fn insert_event(&mut self, event: &NewEvent<'_>) -> Result<(), StoreError> {
        common::db(
            sqlx::query(INSERT_EVENT)
                .bind(event.site_id)
                .bind(event.site_domain)
                .bind(event.at.naive_utc())
                .bind(event.actor)
                .bind(event.action)
                .bind(event.detail)
                .execute(&mut *self.tx)
                .await
                .map(drop),
        )
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        common::db(self.tx.commit().await)
    }

    async fn all_site_rows(
        &mut self,
    ) -> Result<Vec<crate::common::SiteRow>, maintenance_core::StoreError> {
        bulk_all_site_rows(&mut self.tx).await
    }

    async fn path_rows_of(
        &mut self,
        site_ids: &[i64],
    ) -> Result<Vec<crate::common::PathRow>, maintenance_core::StoreError> {
        bulk_path_rows_of(&mut self.tx, site_ids).await
    }

    async fn network_rows_of(
        &mut self,
        site_ids: &[i64],
    ) -> Result<Vec<crate::common::NetworkRow>, maintenance_core::StoreError> {
        bulk_network_rows_of(&mut self.tx, site_ids).await
    }

    async fn update_sites(
        &mut self,
        sites: &[maintenance_core::SiteState],
    ) -> Result<(), maintenance_core::StoreError> {
        bulk_update_sites(&mut self.tx, sites).await
    }

    async fn record_changes(&mut self, site_ids: &[i64], revision: i64) -> Result<(), StoreError> {
        bulk_record_changes(&mut self.tx, site_ids, revision).await
    }

    async fn insert_events(
        &mut self,
        events: &[crate::common::NewEvent<'_>],
    ) -> Result<(), maintenance_core::StoreError> {
        bulk_insert_events(&mut self.tx, events).await
    }
}
