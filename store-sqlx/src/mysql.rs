//! The MariaDB/MySQL store: [`MySqlStore`].
//!
//! Timestamps are `DATETIME(6)` holding UTC: the store's connections use the session time zone
//! `+00:00` (sqlx's default, set explicitly by [`MySqlStore::connect`]). Writers serialise on
//! the revision row, which every write updates first. There is no change feed: handles poll
//! the revision.

use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use maintenance_sql::listing::Dialect;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPool};
use sqlx::{ConnectOptions, Connection, MySql, Transaction};

use crate::engine::{Driver, Sql};
use crate::error::Error;
use crate::migrate::migrate_locked;
use crate::pool;

const BACKEND: &str = "MySQL";

/// Begins the consistent read of a load, the changes since a revision, or a listing page.
const READ_SNAPSHOT: &str = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY";
/// How long `migrate()` waits for another server's migration to finish.
const MIGRATION_LOCK_TIMEOUT_SECS: u32 = 300;
/// Lock names are server-wide and at most 64 characters: name the database by its digest.
const LOCK_MIGRATIONS: &str =
    "SELECT GET_LOCK(CONCAT('maintenance_migrate_', SHA1(DATABASE())), ?)";

/// The maintenance store on MariaDB or MySQL.
///
/// ```no_run
/// # async fn run() -> Result<(), maintenance_sqlx::Error> {
/// use maintenance_sqlx::MySqlStore;
/// let store = MySqlStore::connect("mariadb://app@db.internal/app").await?;
/// store.migrate().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MySqlStore {
    pub(crate) sql: Sql<MySql>,
}

impl MySqlStore {
    /// A store on an existing pool. Call [`MySqlStore::migrate`] before first use.
    ///
    /// Keep sqlx's default session time zone, `+00:00`: the timestamps are stored in UTC.
    pub fn new(pool: MySqlPool) -> Self {
        MySqlStore {
            sql: Sql::new(pool),
        }
    }

    /// Connects to `url` (`mysql://` or `mariadb://`), with the session time zone `+00:00`.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Ok(MySqlStore::new(
            pool::connect(connect_options(url)?, url).await?,
        ))
    }

    /// A store on `url` that connects on first use: no I/O here, so a server can start while
    /// the database is down (each read then fails until it answers). Fails only on a URL that
    /// cannot be parsed.
    ///
    /// Its pool holds one connection at most: what a server needs, whose reads come one at a
    /// time, and polls on it. The CLI and the admin
    /// page use `connect`, whose pool holds more.
    pub fn connect_lazy(url: &str) -> Result<Self, Error> {
        Ok(MySqlStore::new(pool::lazy(connect_options(url)?)))
    }

    /// The pool the store uses.
    pub fn pool(&self) -> &MySqlPool {
        &self.sql.pool
    }

    /// Creates or updates the tables, and the default site if it is missing. Safe to run again,
    /// and from several servers at once: it holds a named lock (`GET_LOCK`) for the database
    /// throughout, on a connection of its own that is closed at the end (which also frees the
    /// lock if the call is cancelled).
    pub async fn migrate(&self) -> Result<(), Error> {
        let query_error = Error::query(BACKEND);
        let mut conn = self
            .sql
            .pool
            .connect_options()
            .connect()
            .await
            .map_err(query_error)?;
        let locked: Option<i64> = sqlx::query_scalar(LOCK_MIGRATIONS)
            .bind(MIGRATION_LOCK_TIMEOUT_SECS)
            .fetch_one(&mut conn)
            .await
            .map_err(query_error)?;
        if locked != Some(1) {
            return Err(Error::MigrationLock {
                backend: BACKEND,
                waited: MIGRATION_LOCK_TIMEOUT_SECS,
            });
        }
        migrate_locked::<MySql>(&mut conn, BACKEND).await?;
        // Closing the session frees the lock.
        conn.close().await.map_err(query_error)
    }
}

fn connect_options(url: &str) -> Result<MySqlConnectOptions, Error> {
    let options =
        MySqlConnectOptions::from_str(url).map_err(|source| pool::connect_error(url, source))?;
    Ok(options.timezone(Some("+00:00".to_owned())))
}

// Times are bound as naive UTC so they travel as DATETIME: a `DateTime<Utc>` travels as
// TIMESTAMP, whose range ends in 2038, and MariaDB stores NULL past it without an error.
impl Driver for MySql {
    const DIALECT: Dialect = Dialect::MySql;
    type Time = NaiveDateTime;

    fn time(t: DateTime<Utc>) -> NaiveDateTime {
        t.naive_utc()
    }

    async fn begin_write(pool: &MySqlPool) -> Result<Transaction<'static, MySql>, sqlx::Error> {
        pool.begin().await
    }

    /// REPEATABLE READ for this transaction, whatever the server's default, so that
    /// [`READ_SNAPSHOT`] sees one snapshot.
    async fn begin_read(conn: &mut MySqlConnection) -> Result<Transaction<'_, MySql>, sqlx::Error> {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *conn)
            .await?;
        Connection::begin_with(conn, READ_SNAPSHOT).await
    }
}

maintenance_sql::sql_store!(MySqlStore => sql);
