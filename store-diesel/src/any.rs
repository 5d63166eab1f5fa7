//! [`DieselStore`]: one store type over the backend a URL names, chosen at run time.

use maintenance_sql::engine::{ChosenEngine, Engine};

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

/// A maintenance store on whichever compiled-in diesel backend the URL of [`connect`] names.
/// Every call is handed to that backend's store.
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

impl ChosenEngine for DieselStore {
    fn engine(&self) -> &dyn Engine {
        match *self {
            #[cfg(feature = "sqlite")]
            DieselStore::Sqlite(ref store) => &store.sql,
            #[cfg(feature = "postgres")]
            DieselStore::Postgres(ref store) => &store.sql,
            #[cfg(feature = "mysql")]
            DieselStore::MySql(ref store) => &store.sql,
        }
    }
}

maintenance_sql::sql_store!(DieselStore);

impl DieselStore {
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
            DieselStore::Sqlite(ref store) => store.migrate().await,
            #[cfg(feature = "postgres")]
            DieselStore::Postgres(ref store) => store.migrate().await,
            #[cfg(feature = "mysql")]
            DieselStore::MySql(ref store) => store.migrate().await,
        }
    }

    /// Like [`connect`], but PostgreSQL and MariaDB/MySQL connect on first use, so a server
    /// can start while its database is down: reads fail until it answers, and the
    /// [`Maintenance`](maintenance_core::Maintenance) handle applies its fail mode meanwhile.
    /// A SQLite file is opened at once. Fails at once only on a URL that cannot be used.
    pub async fn connect_lazy(url: &str) -> Result<Self, Error> {
        DieselStore::open(url, true).await
    }

    /// See [`connect`].
    pub async fn connect(url: &str) -> Result<Self, Error> {
        DieselStore::open(url, false).await
    }

    /// The store for `url`; when `lazy`, a database server is reached on first use.
    async fn open(
        url: &str,
        #[cfg_attr(
            not(any(feature = "postgres", feature = "mysql")),
            allow(unused_variables)
        )]
        lazy: bool,
    ) -> Result<Self, Error> {
        match Backend::for_url(url)? {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => Ok(SqliteStore::connect(url).await?.into()),
            #[cfg(feature = "postgres")]
            Backend::Postgres if lazy => Ok(PgStore::connect_lazy(url)?.into()),
            #[cfg(feature = "postgres")]
            Backend::Postgres => Ok(PgStore::connect(url).await?.into()),
            #[cfg(feature = "mysql")]
            Backend::MySql if lazy => Ok(MySqlStore::connect_lazy(url)?.into()),
            #[cfg(feature = "mysql")]
            Backend::MySql => Ok(MySqlStore::connect(url).await?.into()),
            #[allow(unreachable_patterns)]
            other => Err(other.not_compiled(url).into()),
        }
    }
}
