//! [`SqlxStore`]: one store type over the backend a URL names, chosen at run time.

use async_trait::async_trait;
use maintenance_core::store::{ChangeFeed, StoreContents};
use maintenance_core::{
    Event, MaintenanceSource, MaintenanceStore, SiteRef, SiteState, StateChange, StoreError,
};

use crate::error::Error;
#[cfg(feature = "mysql")]
use crate::mysql::MySqlStore;
#[cfg(feature = "postgres")]
use crate::postgres::PgStore;
#[cfg(feature = "sqlite")]
use crate::sqlite::SqliteStore;
use crate::url::Backend;

/// Connects to the database `url` names, with the backend its scheme picks: `sqlite:`,
/// `postgres:`/`postgresql:`, or `mysql:`/`mariadb:`. A SQLite file is created if missing.
///
/// Fails with an error naming the URL (without its password) and the schemes this build accepts
/// when the scheme is unknown or its feature is not compiled in.
///
/// ```no_run
/// # async fn run() -> Result<(), maintenance_sqlx::Error> {
/// let store = maintenance_sqlx::connect("sqlite://maintenance.db").await?;
/// store.migrate().await?;
/// # Ok(())
/// # }
/// ```
pub async fn connect(url: &str) -> Result<SqlxStore, Error> {
    SqlxStore::connect(url).await
}

/// Like [`connect`], but PostgreSQL and MariaDB/MySQL connect on first use, so a server can
/// start while its database is down: reads fail until it answers, and the
/// [`Maintenance`](maintenance_core::Maintenance) handle applies its fail mode meanwhile. A
/// SQLite file is opened (and created if missing) at once: a local file has no outage to wait
/// for. Fails at once only on a URL that cannot be used.
///
/// ```no_run
/// # async fn run() -> Result<(), maintenance_sqlx::Error> {
/// let store = maintenance_sqlx::connect_lazy("postgres://app@db.internal/app").await?;
/// if let Err(e) = store.migrate().await {
///     if !e.is_unreachable() {
///         return Err(e);
///     }
///     // The database is down: migrate later, when it answers.
/// }
/// # Ok(())
/// # }
/// ```
pub async fn connect_lazy(url: &str) -> Result<SqlxStore, Error> {
    SqlxStore::connect_lazy(url).await
}

/// A maintenance store on any compiled-in backend. Each variant is one of the per-backend
/// stores; the enum implements [`MaintenanceStore`] by handing each call to it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SqlxStore {
    /// SQLite.
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteStore),
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(PgStore),
    /// MariaDB or MySQL.
    #[cfg(feature = "mysql")]
    MySql(MySqlStore),
}

impl SqlxStore {
    /// See [`connect`].
    pub async fn connect(url: &str) -> Result<Self, Error> {
        match Backend::for_url(url)? {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => SqliteStore::connect(url).await.map(SqlxStore::Sqlite),
            #[cfg(feature = "postgres")]
            Backend::Postgres => PgStore::connect(url).await.map(SqlxStore::Postgres),
            #[cfg(feature = "mysql")]
            Backend::MySql => MySqlStore::connect(url).await.map(SqlxStore::MySql),
            #[allow(unreachable_patterns)]
            other => Err(Error::BackendNotCompiled {
                url: crate::url::redact_url(url),
                backend: other.name(),
                feature: other.feature(),
                expected: crate::url::expected_schemes(),
            }),
        }
    }

    /// See [`connect_lazy`].
    pub async fn connect_lazy(url: &str) -> Result<Self, Error> {
        match Backend::for_url(url)? {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => SqliteStore::connect(url).await.map(SqlxStore::Sqlite),
            #[cfg(feature = "postgres")]
            Backend::Postgres => PgStore::connect_lazy(url).map(SqlxStore::Postgres),
            #[cfg(feature = "mysql")]
            Backend::MySql => MySqlStore::connect_lazy(url).map(SqlxStore::MySql),
            #[allow(unreachable_patterns)]
            other => Err(Error::BackendNotCompiled {
                url: crate::url::redact_url(url),
                backend: other.name(),
                feature: other.feature(),
                expected: crate::url::expected_schemes(),
            }),
        }
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        match *self {
            #[cfg(feature = "sqlite")]
            SqlxStore::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            SqlxStore::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            SqlxStore::MySql(_) => Backend::MySql,
        }
    }

    /// Runs the backend's embedded migrations and makes sure the default site exists. Safe to
    /// run again, and from several servers at once.
    pub async fn migrate(&self) -> Result<(), Error> {
        match *self {
            #[cfg(feature = "sqlite")]
            SqlxStore::Sqlite(ref s) => s.migrate().await,
            #[cfg(feature = "postgres")]
            SqlxStore::Postgres(ref s) => s.migrate().await,
            #[cfg(feature = "mysql")]
            SqlxStore::MySql(ref s) => s.migrate().await,
        }
    }

    fn store(&self) -> &dyn MaintenanceStore {
        match *self {
            #[cfg(feature = "sqlite")]
            SqlxStore::Sqlite(ref s) => s,
            #[cfg(feature = "postgres")]
            SqlxStore::Postgres(ref s) => s,
            #[cfg(feature = "mysql")]
            SqlxStore::MySql(ref s) => s,
        }
    }
}

#[cfg(feature = "sqlite")]
impl From<SqliteStore> for SqlxStore {
    fn from(store: SqliteStore) -> Self {
        SqlxStore::Sqlite(store)
    }
}

#[cfg(feature = "postgres")]
impl From<PgStore> for SqlxStore {
    fn from(store: PgStore) -> Self {
        SqlxStore::Postgres(store)
    }
}

#[cfg(feature = "mysql")]
impl From<MySqlStore> for SqlxStore {
    fn from(store: MySqlStore) -> Self {
        SqlxStore::MySql(store)
    }
}

#[async_trait]
impl MaintenanceSource for SqlxStore {
    async fn load(&self) -> Result<StoreContents, StoreError> {
        self.store().load().await
    }

    async fn revision(&self) -> Result<i64, StoreError> {
        self.store().revision().await
    }

    async fn subscribe(&self) -> Result<Option<ChangeFeed>, StoreError> {
        self.store().subscribe().await
    }
}

#[async_trait]
impl MaintenanceStore for SqlxStore {
    async fn add_site(
        &self,
        domain: &str,
        name: Option<&str>,
        actor: &str,
    ) -> Result<SiteState, StoreError> {
        self.store().add_site(domain, name, actor).await
    }

    async fn remove_site(&self, domain: &str, actor: &str) -> Result<(), StoreError> {
        self.store().remove_site(domain, actor).await
    }

    async fn set_state(
        &self,
        site: &SiteRef,
        change: &StateChange,
        actor: &str,
    ) -> Result<SiteState, StoreError> {
        self.store().set_state(site, change, actor).await
    }

    async fn add_ignored_path(
        &self,
        site: &SiteRef,
        pattern: &str,
        description: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.store()
            .add_ignored_path(site, pattern, description, actor)
            .await
    }

    async fn remove_ignored_path(
        &self,
        site: &SiteRef,
        pattern: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.store().remove_ignored_path(site, pattern, actor).await
    }

    async fn add_allowed_network(
        &self,
        site: &SiteRef,
        network: &str,
        description: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.store()
            .add_allowed_network(site, network, description, actor)
            .await
    }

    async fn remove_allowed_network(
        &self,
        site: &SiteRef,
        network: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.store()
            .remove_allowed_network(site, network, actor)
            .await
    }

    async fn set_bypass_secret_hash(
        &self,
        site: &SiteRef,
        hash: Option<&str>,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.store().set_bypass_secret_hash(site, hash, actor).await
    }

    async fn events(&self, site: Option<&SiteRef>, limit: u32) -> Result<Vec<Event>, StoreError> {
        self.store().events(site, limit).await
    }
}
