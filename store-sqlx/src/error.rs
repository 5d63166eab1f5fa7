//! The crate's errors: connecting, migrating, and what the store maps into the core's
//! [`StoreError`].

use maintenance_core::StoreError;

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
        "database URL `{url}` is for {backend}, but maintenance-sqlx was built without its `{feature}` feature; this build accepts {expected}"
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
        /// What sqlx said.
        #[source]
        source: sqlx::Error,
    },
    /// The embedded migrations failed.
    #[error("could not migrate the {backend} database: {source}")]
    Migrate {
        /// `SQLite`, `PostgreSQL` or `MySQL`.
        backend: &'static str,
        /// What the migrator said.
        #[source]
        source: sqlx::migrate::MigrateError,
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
        /// What sqlx said.
        #[source]
        source: sqlx::Error,
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
