//! The crate's errors: connecting, migrating, and what the store maps into the core's
//! [`StoreError`](maintenance_core::StoreError).

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
        source: sqlx::Error,
    },
    /// The embedded migrations failed.
    #[error("could not migrate the {backend} database")]
    Migrate {
        /// `SQLite`, `PostgreSQL` or `MySQL`.
        backend: &'static str,
        /// What the migrations said.
        #[source]
        source: maintenance_sql::migrations::MigrateError,
    },
    /// A query failed.
    #[error("{backend} query failed")]
    Query {
        /// `SQLite`, `PostgreSQL` or `MySQL`.
        backend: &'static str,
        /// What the driver said.
        #[source]
        source: sqlx::Error,
    },
    /// Reading django-maintenancemode-2's tables failed ([`crate::DjangoSource`]): the
    /// database is down, or the Django project's migrations have not built them.
    #[error(
        "could not read django-maintenancemode-2's tables (django_site, maintenancemode_maintenance, maintenancemode_ignoredurl) on {backend}"
    )]
    Django {
        /// `SQLite`, `PostgreSQL` or `MySQL`.
        backend: &'static str,
        /// What the driver said.
        #[source]
        source: sqlx::Error,
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
    /// What turns a sqlx error into a query error of `backend`, for `map_err`.
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    pub(crate) fn query(backend: &'static str) -> impl Fn(sqlx::Error) -> Error + Copy {
        move |source| Error::Query { backend, source }
    }

    /// A step of `migrate()` that ran through maintenance-sql ([`maintenance_sql::conn`]), as
    /// this crate says it: the sqlx error it carries, as a query error of `backend`.
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    pub(crate) fn of_step(backend: &'static str, err: maintenance_core::StoreError) -> Error {
        let source = match err {
            maintenance_core::StoreError::Backend(source) => match source.downcast::<sqlx::Error>()
            {
                Ok(source) => *source,
                Err(other) => sqlx::Error::Protocol(other.to_string()),
            },
            other => sqlx::Error::Protocol(other.to_string()),
        };
        Error::Query { backend, source }
    }
}

impl From<Error> for maintenance_core::StoreError {
    fn from(err: Error) -> Self {
        maintenance_core::StoreError::backend(err)
    }
}

impl Error {
    /// Whether the database could not be reached: refused, reset or closed connections, time
    /// outs, a server starting up or shutting down. Such an error is worth retrying later, unlike
    /// a bad URL, a refused password or a migration that does not fit the schema.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Error::Connect { source, .. }
            | Error::Query { source, .. }
            | Error::Django { source, .. } => unreachable(source),
            Error::Migrate { source, .. } => source
                .driver_error()
                .and_then(|e| e.downcast_ref::<sqlx::Error>())
                .is_some_and(unreachable),
            _ => false,
        }
    }
}

/// Whether a sqlx error says the server could not be reached.
fn unreachable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE class 08 is "connection exception"; 57P01-57P03 are PostgreSQL shutting
        // down, crashed, or not accepting connections yet.
        sqlx::Error::Database(e) => e
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P0")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use maintenance_sql::migrations::MigrateError;

    use super::*;

    fn io(kind: std::io::ErrorKind) -> sqlx::Error {
        sqlx::Error::Io(std::io::Error::new(kind, "test"))
    }

    #[test]
    fn unreachable_is_told_from_other_errors() {
        let connect = |source| Error::Connect {
            url: "postgres://db/x".to_owned(),
            source,
        };
        let query = |source| Error::Query {
            backend: "PostgreSQL",
            source,
        };
        assert!(connect(io(std::io::ErrorKind::ConnectionRefused)).is_unreachable());
        assert!(query(io(std::io::ErrorKind::UnexpectedEof)).is_unreachable());
        assert!(query(sqlx::Error::PoolTimedOut).is_unreachable());
        let migrate = Error::Migrate {
            backend: "MySQL",
            source: MigrateError::Run {
                name: "0001_maintenance_tables",
                source: Box::new(io(std::io::ErrorKind::ConnectionReset)),
            },
        };
        assert!(migrate.is_unreachable());

        assert!(!query(sqlx::Error::RowNotFound).is_unreachable());
        assert!(!connect(sqlx::Error::Configuration("bad url".into())).is_unreachable());
        let newer = Error::Migrate {
            backend: "MySQL",
            source: MigrateError::Newer { version: 4 },
        };
        assert!(!newer.is_unreachable());
        assert!(!Error::NoRevisionRow.is_unreachable());
    }
}
