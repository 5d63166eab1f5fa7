//! The crate's errors: connecting, migrating, querying, and what the store maps into the core's
//! [`StoreError`](maintenance_core::StoreError).

use std::error::Error as StdError;

/// A boxed error from a driver, a pool or the migration harness.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// An error of this crate, its message naming what failed and leaving the cause to `source()`
/// (print the chain with [`ErrorChain`](maintenance_core::ErrorChain)). Converts into
/// [`StoreError::Backend`](maintenance_core::StoreError::Backend), keeping itself as the source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL's scheme names no backend this crate knows.
    #[error("{0}")]
    UnsupportedUrl(maintenance_sql::url::UnsupportedUrl),
    /// The URL names a backend whose feature this build does not have.
    #[error("{0}")]
    BackendNotCompiled(maintenance_sql::url::BackendNotCompiled),
    /// The database could not be reached or refused the connection.
    #[error("could not connect to `{url}`")]
    Connect {
        /// The URL, without its password.
        url: String,
        /// What the driver (or its pool) said.
        #[source]
        source: BoxError,
    },
    /// The embedded migrations failed.
    #[error("could not migrate the {backend} database")]
    Migrate {
        /// `SQLite`, `PostgreSQL` or `MySQL`.
        backend: &'static str,
        /// What the migrations said.
        #[source]
        source: BoxError,
    },
    /// A query failed.
    #[error("{backend} query failed")]
    Query {
        /// `SQLite`, `PostgreSQL` or `MySQL`.
        backend: &'static str,
        /// What the driver said.
        #[source]
        source: diesel::result::Error,
    },
    /// No connection could be had from the pool.
    #[error("could not get a {backend} connection from the pool")]
    Pool {
        /// `SQLite`, `PostgreSQL` or `MySQL`.
        backend: &'static str,
        /// What the pool said.
        #[source]
        source: BoxError,
    },
    /// Another server's migration held the migration lock for too long.
    #[error(
        "could not migrate the {backend} database: another migration held the lock for {waited} s"
    )]
    MigrationLock {
        /// `MySQL`.
        backend: &'static str,
        /// How long it waited, in seconds.
        waited: u32,
    },
    /// The revision table has no row: the database was not migrated, or the row was deleted.
    #[error("the maintenance_revision table has no row; run migrate() first")]
    NoRevisionRow,
}

impl From<maintenance_sql::url::UnsupportedUrl> for Error {
    fn from(err: maintenance_sql::url::UnsupportedUrl) -> Self {
        Error::UnsupportedUrl(err)
    }
}

impl From<maintenance_sql::url::BackendNotCompiled> for Error {
    fn from(err: maintenance_sql::url::BackendNotCompiled) -> Self {
        Error::BackendNotCompiled(err)
    }
}

impl Error {
    /// A step of `migrate()` that ran through maintenance-sql ([`maintenance_sql::conn`]), as
    /// this crate says it: the diesel error it carries, as a query error of `backend`.
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    pub(crate) fn of_step(backend: &'static str, err: maintenance_core::StoreError) -> Error {
        match err {
            maintenance_core::StoreError::Backend(source) => match source.downcast::<Error>() {
                Ok(error) => *error,
                Err(other) => Error::Migrate {
                    backend,
                    source: other,
                },
            },
            other => Error::Migrate {
                backend,
                source: Box::new(other),
            },
        }
    }
}

impl From<Error> for maintenance_core::StoreError {
    fn from(err: Error) -> Self {
        maintenance_core::StoreError::backend(err)
    }
}

impl Error {
    /// Whether the database could not be reached: a refused, reset or closed connection, a
    /// pool that timed out waiting for one. Such an error is worth retrying later, unlike a bad
    /// URL, a refused password, a missing database or a migration that does not fit the schema
    /// (the server answered).
    pub fn is_unreachable(&self) -> bool {
        match self {
            Error::Connect { source, .. }
            | Error::Pool { source, .. }
            | Error::Migrate { source, .. } => boxed_unreachable(source.as_ref()),
            Error::Query { source, .. } => query_unreachable(source),
            _ => false,
        }
    }
}

/// What a boxed driver, pool or migration error says.
fn boxed_unreachable(error: &(dyn StdError + Send + Sync + 'static)) -> bool {
    if let Some(e) = error.downcast_ref::<maintenance_sql::migrations::MigrateError>() {
        return e.driver_error().is_some_and(boxed_unreachable);
    }
    if let Some(e) = error.downcast_ref::<diesel::result::Error>() {
        return query_unreachable(e);
    }
    if let Some(e) = error.downcast_ref::<diesel::ConnectionError>() {
        return connection_unreachable(e);
    }
    match error.downcast_ref::<diesel_async::pooled_connection::deadpool::PoolError>() {
        Some(deadpool::managed::PoolError::Timeout(_)) => true,
        Some(deadpool::managed::PoolError::Backend(e)) => match e {
            diesel_async::pooled_connection::PoolError::ConnectionError(e) => {
                connection_unreachable(e)
            }
            diesel_async::pooled_connection::PoolError::QueryError(e) => query_unreachable(e),
        },
        _ => false,
    }
}

/// The server answered when establishing failed with a database error (authentication, an
/// unknown database); the transport failed otherwise (mysql_async reports I/O as
/// `BadConnection`).
fn connection_unreachable(error: &diesel::ConnectionError) -> bool {
    match error {
        diesel::ConnectionError::BadConnection(_) => true,
        diesel::ConnectionError::CouldntSetupConfiguration(e) => query_unreachable(e),
        _ => false,
    }
}

fn query_unreachable(error: &diesel::result::Error) -> bool {
    use diesel::result::DatabaseErrorKind::{ClosedConnection, UnableToSendCommand};
    matches!(
        error,
        diesel::result::Error::DatabaseError(ClosedConnection | UnableToSendCommand, _)
    )
}
