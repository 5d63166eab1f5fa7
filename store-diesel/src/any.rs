//! [`DieselStore`]: one store type over the backend a URL names, chosen at run time.

use crate::error::Error;
#[cfg(feature = "mysql")]
use crate::mysql::MySqlStore;
#[cfg(feature = "postgres")]
use crate::postgres::PgStore;
#[cfg(feature = "sqlite")]
use crate::sqlite::SqliteStore;
use crate::url::{Backend, DieselBuild};

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

maintenance_sql::any_store! {
    /// A maintenance store on whichever compiled-in diesel backend the URL of [`connect`]
    /// names. Every call is handed to that backend's store.
    pub enum DieselStore: DieselBuild, Error {
        sqlite: SqliteStore,
        postgres: PgStore,
        mysql: MySqlStore,
    }
}

impl DieselStore {
    /// Like [`connect`], but PostgreSQL and MariaDB/MySQL connect on first use, so a server
    /// can start while its database is down: reads fail until it answers, and the
    /// [`Maintenance`](maintenance_core::Maintenance) handle applies its fail mode meanwhile.
    /// A SQLite file is opened at once. Fails at once only on a URL that cannot be used.
    pub async fn connect_lazy(url: &str) -> Result<Self, Error> {
        let backend = Backend::for_url(url)?;
        match backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => Ok(SqliteStore::connect(url).await?.into()),
            #[cfg(feature = "postgres")]
            Backend::Postgres => Ok(PgStore::connect_lazy(url)?.into()),
            #[cfg(feature = "mysql")]
            Backend::MySql => Ok(MySqlStore::connect_lazy(url)?.into()),
            #[allow(unreachable_patterns)]
            _ => Err(backend.not_compiled(url).into()),
        }
    }

    /// See [`connect`].
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let backend = Backend::for_url(url)?;
        match backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => Ok(SqliteStore::connect(url).await?.into()),
            #[cfg(feature = "postgres")]
            Backend::Postgres => Ok(PgStore::connect(url).await?.into()),
            #[cfg(feature = "mysql")]
            Backend::MySql => Ok(MySqlStore::connect(url).await?.into()),
            #[allow(unreachable_patterns)]
            _ => Err(backend.not_compiled(url).into()),
        }
    }
}
