//! The crate's errors: connecting, migrating, querying, and what the store maps into the core's
//! [`StoreError`].

use std::error::Error as StdError;

use maintenance_core::StoreError;

/// A boxed error from a driver, a pool or the migration harness.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// An error of this crate. Converts into [`StoreError::Backend`], keeping itself as the source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL's scheme names no backend this crate knows.
    #[error("unsupported database URL `{url}`: expected {expected}")]
    UnsupportedUrl {
        /// The URL, without its password.
        url: String,
        /// The schemes this build accepts.
        expected: String,
    },
    /// The URL names a backend whose feature this build does not have.
    #[error(
        "database URL `{url}` is for {backend}, but maintenance-diesel was built without its `{feature}` feature; this build accepts {expected}"
    )]
    BackendNotCompiled {
        /// The URL, without its password.
        url: String,
        /// The backend the URL names.
        backend: &'static str,
        /// The crate feature that adds it.
        feature: &'static str,
        /// The schemes this build accepts.
        expected: String,
    },
    /// The database could not be reached or refused the connection.
    #[error("could not connect to `{url}`: {source}")]
    Connect {
        /// The URL, without its password.
        url: String,
        /// What the driver or the pool said.
        #[source]
        source: BoxError,
    },
    /// No connection could be had from the pool.
    #[error("could not get a {backend} connection from the pool: {source}")]
    Pool {
        /// `SQLite`, `PostgreSQL` or `MySQL`.
        backend: &'static str,
        /// What the pool said.
        #[source]
        source: BoxError,
    },
    /// The embedded migrations failed.
    #[error("could not migrate the {backend} database: {source}")]
    Migrate {
        /// `SQLite`, `PostgreSQL` or `MySQL`.
        backend: &'static str,
        /// What the migration harness said.
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
    /// A query failed.
    #[error("{backend} query failed: {source}")]
    Query {
        /// `SQLite`, `PostgreSQL` or `MySQL`.
        backend: &'static str,
        /// What diesel said.
        #[source]
        source: diesel::result::Error,
    },
    /// The revision table has no row: the database was not migrated, or the row was deleted.
    #[error("the maintenance_revision table has no row; run migrate() first")]
    NoRevisionRow,
}

impl From<Error> for StoreError {
    fn from(err: Error) -> Self {
        StoreError::backend(err)
    }
}
