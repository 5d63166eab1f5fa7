//! The SQLite store: [`SqliteStore`].
//!
//! Writes take SQLite's write lock at once (`BEGIN IMMEDIATE`), so two writers never deadlock on
//! a lock upgrade; migrations run under that lock too, which makes two processes migrating the
//! same file at the same time safe. There is no change feed: handles poll the revision.
//!
//! A file removed or replaced while a store made by [`SqliteStore::connect`] is open is noticed
//! (a store on a pool of your own, [`SqliteStore::new`], is not watched): a pooled connection still
//! reads the file it opened, which may have been unlinked (then no other writer can ever reach
//! it), so before each use the store compares the path with what its connections opened and
//! drops those that are stale. A removed file is not created again: reads and writes fail (the
//! live handle keeps serving its last state and logs the outage) until the file is back.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use maintenance_sql::listing::Dialect;
use maintenance_sql::sqlite_file::FileWatch;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions};
use sqlx::{Connection, Sqlite, Transaction};

use crate::engine::{Driver, Sql};
use crate::error::Error;
use crate::migrate::migrate_locked;
use crate::pool;

const BACKEND: &str = "SQLite";

/// The maintenance store on SQLite.
///
/// ```no_run
/// # async fn run() -> Result<(), maintenance_sqlx::Error> {
/// use maintenance_sqlx::SqliteStore;
/// let store = SqliteStore::connect("sqlite://maintenance.db").await?;
/// store.migrate().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) sql: Sql<Sqlite>,
}

impl SqliteStore {
    /// A store on an existing pool. Call [`SqliteStore::migrate`] before first use.
    ///
    /// Keep sqlx's defaults of `foreign_keys = ON` and a busy timeout: writers wait for each
    /// other's lock instead of failing.
    pub fn new(pool: SqlitePool) -> Self {
        SqliteStore {
            sql: Sql::new(pool),
        }
    }

    /// Opens `url` (`sqlite://path`, `sqlite:path` or `sqlite::memory:`), creating the file if it
    /// is missing. An in-memory database lives in one connection that the pool keeps open.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let connect_error = |source| pool::connect_error(url, source);
        let url_lower = normalize_scheme(url);
        let options = SqliteConnectOptions::from_str(&url_lower)
            .map_err(connect_error)?
            .create_if_missing(true);
        if is_in_memory(&url_lower) {
            // Each connection to `:memory:` would see its own empty database.
            let pool = SqlitePoolOptions::new()
                .min_connections(1)
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
                .map_err(connect_error)?;
            return Ok(SqliteStore::new(pool));
        }
        let watch = Arc::new(FileWatch::new(options.get_filename()));
        let check = Arc::clone(&watch);
        let pool = SqlitePoolOptions::new()
            .before_acquire(move |_, meta| {
                let fresh = check.is_current(meta.age);
                Box::pin(async move { Ok(fresh) })
            })
            .connect_with(options.clone())
            .await
            .map_err(connect_error)?;
        // The file exists now. Connections opened later must not create an empty database in
        // place of a file that was removed: they fail until it is back.
        pool.set_connect_options(options.create_if_missing(false));
        watch.opened();
        Ok(SqliteStore::new(pool))
    }

    /// The pool the store uses.
    pub fn pool(&self) -> &SqlitePool {
        &self.sql.pool
    }

    /// Creates or updates the tables, and the default site if it is missing. Safe to run again,
    /// and from several processes at once: it holds SQLite's write lock throughout.
    pub async fn migrate(&self) -> Result<(), Error> {
        let query_error = Error::query(BACKEND);
        // The write lock every write takes.
        let mut tx = Sqlite::begin_write(&self.sql.pool)
            .await
            .map_err(query_error)?;
        migrate_locked::<Sqlite>(&mut tx, BACKEND).await?;
        tx.commit().await.map_err(query_error)
    }
}

/// The URL with its scheme in lower case, as sqlx expects it (`connect()` accepts any case).
pub(crate) fn normalize_scheme(url: &str) -> String {
    match url.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("sqlite:") => format!("sqlite:{}", &url[7..]),
        _ => url.to_owned(),
    }
}

/// Whether sqlx opens `url` (scheme in lower case) as an in-memory database.
fn is_in_memory(url: &str) -> bool {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    database == ":memory:" || params.split('&').any(|p| p == "mode=memory")
}

impl Driver for Sqlite {
    const DIALECT: Dialect = Dialect::Sqlite;
    type Time = DateTime<Utc>;

    fn time(t: DateTime<Utc>) -> DateTime<Utc> {
        t
    }

    /// `BEGIN IMMEDIATE` takes the write lock at once, so two writers never deadlock on a
    /// lock upgrade.
    async fn begin_write(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    async fn begin_read(
        conn: &mut SqliteConnection,
    ) -> Result<Transaction<'_, Sqlite>, sqlx::Error> {
        Connection::begin(conn).await
    }
}

maintenance_sql::sql_store!(SqliteStore => sql);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_urls_are_recognised() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://?mode=memory",
            "sqlite://x.db?mode=memory&cache=shared",
        ] {
            assert!(is_in_memory(url), "{url}");
        }
        for url in [
            "sqlite://maintenance.db",
            "sqlite:maintenance.db",
            "sqlite:///tmp/:memory:.db",
        ] {
            assert!(!is_in_memory(url), "{url}");
        }
    }

    #[test]
    fn scheme_case_is_normalised() {
        assert_eq!(normalize_scheme("SQLite::memory:"), "sqlite::memory:");
        assert_eq!(normalize_scheme("SQLITE://a.db"), "sqlite://a.db");
        assert_eq!(normalize_scheme("sqlite://A.db"), "sqlite://A.db");
        assert_eq!(normalize_scheme("sq"), "sq");
    }
}
