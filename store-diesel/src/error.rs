//! The crate's errors: connecting, migrating, querying, and what the store maps into the core's
//! [`StoreError`](maintenance_core::StoreError); the URL errors, the migration lock and the
//! missing revision row are [`maintenance_sql::store_error!`]'s.

use std::error::Error as StdError;

/// A boxed error from a driver, a pool or the migration harness.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

maintenance_sql::store_error! {
    /// An error of this crate. Converts into
    /// [`StoreError::Backend`](maintenance_core::StoreError::Backend), keeping itself as the
    /// source.
    #[derive(Debug, thiserror::Error)]
    #[non_exhaustive]
    pub enum Error(connect: BoxError, migrate: BoxError, query: diesel::result::Error) {
        /// No connection could be had from the pool.
        #[error("could not get a {backend} connection from the pool")]
        Pool {
            /// `SQLite`, `PostgreSQL` or `MySQL`.
            backend: &'static str,
            /// What the pool said.
            #[source]
            source: BoxError,
        },
    }
}
