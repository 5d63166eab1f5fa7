//! [`DieselStore`]: one store type over the backend a URL names, chosen at run time.

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
/// Fails with an error naming the URL (its password masked) and the schemes this build accepts
/// when the scheme is unknown or its feature is not compiled in.
///
/// ```no_run
/// # async fn run() -> Result<(), maintenance_diesel::Error> {
/// let store = maintenance_diesel::connect("sqlite://maintenance.db").await?;
/// store.migrate().await?;
/// # Ok(())
/// # }
/// ```
pub async fn connect(url: &str) -> Result<DieselStore, Error> {
    DieselStore::connect(url).await
}

/// A maintenance store on any compiled-in backend. Each variant is one of the per-backend
/// stores; the enum implements [`MaintenanceStore`] by handing each call to it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DieselStore {
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

impl DieselStore {
    /// See [`connect`].
    pub async fn connect(url: &str) -> Result<Self, Error> {
        match Backend::for_url(url)? {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => SqliteStore::connect(url).await.map(DieselStore::Sqlite),
            #[cfg(feature = "postgres")]
            Backend::Postgres => PgStore::connect(url).await.map(DieselStore::Postgres),
            #[cfg(feature = "mysql")]
            Backend::MySql => MySqlStore::connect(url).await.map(DieselStore::MySql),
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
            DieselStore::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            DieselStore::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            DieselStore::MySql(_) => Backend::MySql,
        }
    }

    /// Runs the backend's embedded migrations and makes sure the default site exists. Safe to
    /// run again, and from several servers at once.
    pub async fn migrate(&self) -> Result<(), Error> {
        match *self {
            #[cfg(feature = "sqlite")]
            DieselStore::Sqlite(ref s) => s.migrate().await,
            #[cfg(feature = "postgres")]
            DieselStore::Postgres(ref s) => s.migrate().await,
            #[cfg(feature = "mysql")]
            DieselStore::MySql(ref s) => s.migrate().await,
        }
    }

    fn store(&self) -> &dyn MaintenanceStore {
        match *self {
            #[cfg(feature = "sqlite")]
            DieselStore::Sqlite(ref s) => s,
            #[cfg(feature = "postgres")]
            DieselStore::Postgres(ref s) => s,
            #[cfg(feature = "mysql")]
            DieselStore::MySql(ref s) => s,
        }
    }
}

#[cfg(feature = "sqlite")]
impl From<SqliteStore> for DieselStore {
    fn from(store: SqliteStore) -> Self {
        DieselStore::Sqlite(store)
    }
}

#[cfg(feature = "postgres")]
impl From<PgStore> for DieselStore {
    fn from(store: PgStore) -> Self {
        DieselStore::Postgres(store)
    }
}

#[cfg(feature = "mysql")]
impl From<MySqlStore> for DieselStore {
    fn from(store: MySqlStore) -> Self {
        DieselStore::MySql(store)
    }
}

#[async_trait]
impl MaintenanceSource for DieselStore {
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
impl MaintenanceStore for DieselStore {
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
