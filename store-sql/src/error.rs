//! [`store_error!`](crate::store_error): a store's error enum, with the variants every SQL
//! store shares.

/// Declares a store's error enum: the variants given, and those every SQL store shares (the
/// URL errors of [`url`](crate::url); `Connect`, `Migrate` and `Query`, holding the driver's
/// errors of the types given; the migration lock held too long; the missing revision row),
/// with `From` the URL errors and into the core's
/// [`StoreError::Backend`](maintenance_core::StoreError::Backend), keeping the error as the
/// source. A variant's message leaves its source out (print the chain with
/// [`ErrorChain`](maintenance_core::ErrorChain)). The attributes given (`#[derive(Debug, thiserror::Error)]`, docs) apply to the enum.
///
/// ```ignore
/// maintenance_sql::store_error! {
///     /// An error of this crate.
///     #[derive(Debug, thiserror::Error)]
///     #[non_exhaustive]
///     pub enum Error(connect: sqlx::Error, migrate: MigrateError, query: sqlx::Error) {
///         /// No connection could be had from the pool.
///         #[error("could not get a {backend} connection from the pool")]
///         Pool { backend: &'static str },
///     }
/// }
/// ```
#[macro_export]
macro_rules! store_error {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident(connect: $connect:ty, migrate: $migrate:ty, query: $query:ty) {
            $($variants:tt)*
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            /// The URL's scheme names no backend this crate knows.
            #[error("{0}")]
            UnsupportedUrl($crate::url::UnsupportedUrl),
            /// The URL names a backend whose feature this build does not have.
            #[error("{0}")]
            BackendNotCompiled($crate::url::BackendNotCompiled),
            /// The database could not be reached or refused the connection.
            #[error("could not connect to `{url}`")]
            Connect {
                /// The URL, without its password.
                url: String,
                /// What the driver (or its pool) said.
                #[source]
                source: $connect,
            },
            /// The embedded migrations failed.
            #[error("could not migrate the {backend} database")]
            Migrate {
                /// `SQLite`, `PostgreSQL` or `MySQL`.
                backend: &'static str,
                /// What the migrations said.
                #[source]
                source: $migrate,
            },
            /// A query failed.
            #[error("{backend} query failed")]
            Query {
                /// `SQLite`, `PostgreSQL` or `MySQL`.
                backend: &'static str,
                /// What the driver said.
                #[source]
                source: $query,
            },
            $($variants)*
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
            /// The revision table has no row: the database was not migrated, or the row was
            /// deleted.
            #[error("the maintenance_revision table has no row; run migrate() first")]
            NoRevisionRow,
        }

        impl ::std::convert::From<$crate::url::UnsupportedUrl> for $name {
            fn from(err: $crate::url::UnsupportedUrl) -> Self {
                $name::UnsupportedUrl(err)
            }
        }

        impl ::std::convert::From<$crate::url::BackendNotCompiled> for $name {
            fn from(err: $crate::url::BackendNotCompiled) -> Self {
                $name::BackendNotCompiled(err)
            }
        }

        impl ::std::convert::From<$name> for $crate::__core::StoreError {
            fn from(err: $name) -> Self {
                $crate::__core::StoreError::backend(err)
            }
        }
    };
}
