//! The PostgreSQL store: [`PgStore`], on diesel-async's `AsyncPgConnection` (tokio-postgres,
//! no libpq), with a change feed over `LISTEN`/`NOTIFY`.
//!
//! The migration installs a statement-level trigger on the state tables that sends
//! `NOTIFY maintenance_changes`; [`PgStore`]'s `subscribe()` listens on that channel on a
//! connection of its own, so a change made by any writer (either store, the CLI, plain `psql`)
//! reaches every server at once.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use diesel::pg::data_types::PgTimestamp;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use maintenance_core::StoreError;
use maintenance_core::store::ChangeFeed;
use maintenance_sql::change_feed::{self, Wake};
use maintenance_sql::feed_conn::{ConnFuture, FeedSlot, Listening, OpenFeed, SlotFeed};

use maintenance_sql::listing::Dialect;

use crate::engine::{Driver, Sql, ensure_rows, pooled, query_error};
use crate::error::Error;
use crate::pool;

/// The connection type of [`PgStore`]'s pool.
pub type PgConnection = AsyncPgConnection;
/// The pool [`PgStore`] is built from.
pub type PgPool = Pool<AsyncPgConnection>;

type Conn = AsyncPgConnection;

const BACKEND: &str = "PostgreSQL";
/// Connections of the store's pool.
const POOL_SIZE: usize = 10;

pub use maintenance_sql::change_feed::NOTIFY_CHANNEL;

/// Serialises `migrate()` across servers; released when its connection closes.
const LOCK_MIGRATIONS: &str =
    "SELECT pg_advisory_lock(hashtext('maintenance_migrate_' || current_database()))";
const UNLOCK_MIGRATIONS: &str =
    "SELECT pg_advisory_unlock(hashtext('maintenance_migrate_' || current_database()))";

const DIALECT: Dialect = Dialect::Postgres;

/// PostgreSQL counts microseconds from 2000-01-01 UTC; `infinity` and the like do not fit.
fn time_in(t: PgTimestamp) -> Result<DateTime<Utc>, String> {
    DateTime::from_timestamp(946_684_800, 0)
        .and_then(|epoch| epoch.checked_add_signed(TimeDelta::microseconds(t.0)))
        .ok_or_else(|| format!("{} µs after 2000-01-01 is out of range", t.0))
}

fn time_out(t: DateTime<Utc>) -> DateTime<Utc> {
    t
}

async fn begin_write(conn: &mut Conn) -> diesel::QueryResult<()> {
    AnsiTransactionManager::begin_transaction_sql(conn, "BEGIN").await
}

async fn begin_read(conn: &mut Conn) -> diesel::QueryResult<()> {
    AnsiTransactionManager::begin_transaction_sql(
        conn,
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    )
    .await
}

/// The maintenance store on PostgreSQL.
///
/// ```no_run
/// # async fn run() -> Result<(), maintenance_diesel::Error> {
/// use maintenance_diesel::PgStore;
/// let store = PgStore::connect("postgres://app@db.internal/app").await?;
/// store.migrate().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PgStore {
    pub(crate) sql: Sql<diesel::pg::Pg>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("pool", &self.sql.pool.status())
            .finish()
    }
}

impl PgStore {
    /// A store on an existing pool. Call [`PgStore::migrate`] before first use.
    pub fn new(pool: PgPool) -> Self {
        PgStore {
            sql: Sql::new(pool),
        }
    }

    /// Connects to `url` (`postgres://` or `postgresql://`).
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let store = PgStore::with_pool_size(url, POOL_SIZE)?;
        pool::check(&store.sql.pool, url).await?;
        Ok(store)
    }

    /// A store on `url` that connects on first use: no I/O here, so a server can start while
    /// the database is down (each read then fails until it answers).
    ///
    /// Its pool holds one connection at most: what a server needs, whose reads come one at a
    /// time. While the change feed listens, the reads run on its connection instead, so that a
    /// server holds one connection in all. The CLI and the admin
    /// page use `connect`, whose pool holds more.
    pub fn connect_lazy(url: &str) -> Result<Self, Error> {
        PgStore::with_pool_size(url, 1)
    }

    /// A store on `url` whose pool holds at most `size` connections, opened on first use.
    fn with_pool_size(url: &str, size: usize) -> Result<Self, Error> {
        let manager = AsyncDieselConnectionManager::<Conn>::new(url);
        let pool = pool::build(pool::builder(manager, size), url)?;
        Ok(PgStore::new(pool))
    }

    /// The pool the store uses.
    pub fn pool(&self) -> &PgPool {
        &self.sql.pool
    }

    /// Creates the tables and the change trigger if they are missing, and the revision row and
    /// the default site if they are missing. Safe to run again, on a database maintenance-sqlx
    /// migrated too, and from several servers at once: it holds an advisory lock throughout,
    /// on a connection of its own that is closed at the end (which frees the lock whatever
    /// happens, a cancelled call too).
    pub async fn migrate(&self) -> Result<(), Error> {
        let mut conn = Object::take(self.sql.conn().await?);
        diesel::sql_query(LOCK_MIGRATIONS)
            .execute(&mut conn)
            .await
            .map_err(query_error::<diesel::pg::Pg>)?;
        crate::migrations::run(&mut conn, DIALECT, BACKEND).await?;
        ensure_rows::<diesel::pg::Pg>(&mut conn).await?;
        diesel::sql_query(UNLOCK_MIGRATIONS)
            .execute(&mut conn)
            .await
            .map_err(query_error::<diesel::pg::Pg>)?;
        Ok(())
    }
}

impl Driver for diesel::pg::Pg {
    type Db = Self;
    type Conn = Conn;
    type Pool = PgPool;
    type Pooled = Object<Conn>;
    type Feed = Feed;
    type TimeSql = diesel::sql_types::Timestamptz;
    type TimeIn = PgTimestamp;
    type TimeOut = DateTime<Utc>;
    const NAME: &'static str = BACKEND;
    const DIALECT: Dialect = DIALECT;

    fn time_in(value: PgTimestamp) -> Result<DateTime<Utc>, String> {
        time_in(value)
    }

    fn time_out(t: DateTime<Utc>) -> DateTime<Utc> {
        time_out(t)
    }

    async fn connection(pool: &PgPool) -> Result<Object<Conn>, Error> {
        pooled(pool, BACKEND).await
    }

    async fn begin_write(conn: &mut Conn) -> diesel::QueryResult<()> {
        begin_write(conn).await
    }

    async fn begin_read(conn: &mut Conn) -> diesel::QueryResult<()> {
        begin_read(conn).await
    }

    /// `LISTEN` on a connection taken out of the store's pool; the store's reads run on it
    /// too while the feed lasts.
    async fn change_feed(
        pool: &PgPool,
        feed: &Arc<FeedSlot<Feed>>,
    ) -> Result<Option<ChangeFeed>, StoreError> {
        SlotFeed::subscribe(Listener { pool: pool.clone() }, feed).await
    }
}

maintenance_sql::sql_store!(PgStore => sql);

/// The change feed's connections, each taken out of the store's pool for good (the pool makes
/// another in its place when a read needs one while there is no feed).
struct Listener {
    pool: PgPool,
}

impl OpenFeed for Listener {
    type Conn = Feed;
    type Error = Error;

    async fn open(&self) -> Result<Feed, Error> {
        let mut conn = Object::take(pooled(&self.pool, BACKEND).await?);
        for statement in [change_feed::LISTEN, change_feed::NAME_FEED] {
            diesel::sql_query(statement)
                .execute(&mut conn)
                .await
                .map_err(query_error::<diesel::pg::Pg>)?;
        }
        // Reads run on this one from now on: the pool's idle connections are closed, so that a
        // server holds one connection (the pool opens one again if the feed is lost).
        self.pool.retain(|_, _| false);
        Ok(Feed(conn))
    }
}

/// The change feed's connection, listening on [`NOTIFY_CHANNEL`].
pub(crate) struct Feed(Conn);

impl Deref for Feed {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        &self.0
    }
}

impl DerefMut for Feed {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.0
    }
}

impl Listening for Feed {
    /// Notifications wait in the connection until read, so none is lost when this is dropped.
    fn next(&mut self) -> ConnFuture<'_, Wake> {
        Box::pin(async move {
            let mut stream = std::pin::pin!(self.0.notifications_stream());
            match stream.next().await {
                Some(Ok(_)) => Wake::Notice,
                Some(Err(e)) => Wake::Lost(e.to_string()),
                None => Wake::Lost("the connection was closed".to_owned()),
            }
        })
    }

    fn ping(&mut self) -> ConnFuture<'_, Result<(), String>> {
        Box::pin(async move {
            diesel::sql_query("SELECT 1")
                .execute(&mut self.0)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_timestamps_convert_and_out_of_range_ones_are_refused() {
        assert_eq!(
            time_in(PgTimestamp(0)).unwrap(),
            DateTime::from_timestamp(946_684_800, 0).unwrap()
        );
        let t = DateTime::from_timestamp(4_102_444_800, 250_000_000).unwrap();
        let micros = (4_102_444_800 - 946_684_800) * 1_000_000 + 250_000;
        assert_eq!(time_in(PgTimestamp(micros)).unwrap(), t);
        assert!(time_in(PgTimestamp(i64::MAX)).is_err(), "infinity");
    }
}
