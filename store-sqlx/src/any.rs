//! [`SqlxStore`]: one store type over the backend a URL names, chosen at run time.

use crate::error::Error;
#[cfg(feature = "mysql")]
use crate::mysql::MySqlStore;
#[cfg(feature = "postgres")]
use crate::postgres::PgStore;
#[cfg(feature = "sqlite")]
use crate::sqlite::SqliteStore;
use crate::url::{Backend, SqlxBuild};

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

maintenance_sql::any_store! {
    /// A maintenance store on any backend this build of maintenance-sqlx includes, picked by
    /// [`connect`] from the URL; each call goes to the sqlx store of that backend.
    pub enum SqlxStore: SqlxBuild, Error {
        sqlite: SqliteStore,
        postgres: PgStore,
        mysql: MySqlStore,
    }
}

impl SqlxStore {
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
