//! [`SqlxStore`]: one store type over the backend a URL names, chosen at run time.

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

/// A maintenance store on any backend this build of maintenance-sqlx includes, picked by
/// [`connect`] from the URL; each call goes to the sqlx store of that backend.
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

impl ChosenEngine for SqlxStore {
    fn engine(&self) -> &dyn Engine {
        match *self {
            #[cfg(feature = "sqlite")]
            SqlxStore::Sqlite(ref store) => &store.sql,
            #[cfg(feature = "postgres")]
            SqlxStore::Postgres(ref store) => &store.sql,
            #[cfg(feature = "mysql")]
            SqlxStore::MySql(ref store) => &store.sql,
        }
    }
}

maintenance_sql::sql_store!(SqlxStore);

impl SqlxStore {
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
            SqlxStore::Sqlite(ref store) => store.migrate().await,
            #[cfg(feature = "postgres")]
            SqlxStore::Postgres(ref store) => store.migrate().await,
            #[cfg(feature = "mysql")]
            SqlxStore::MySql(ref store) => store.migrate().await,
        }
    }

    /// See [`connect`].
    pub async fn connect(url: &str) -> Result<Self, Error> {
        SqlxStore::open(url, false).await
    }

    /// See [`connect_lazy`].
    pub async fn connect_lazy(url: &str) -> Result<Self, Error> {
        SqlxStore::open(url, true).await
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
