//! The PostgreSQL store: [`PgStore`], with a change feed over `LISTEN`/`NOTIFY`.
//!
//! The migration installs a statement-level trigger on the state tables that sends
//! `NOTIFY maintenance_changes`; [`PgStore`]'s `subscribe()` listens on that channel from a
//! connection of its own, so a change made by any writer (a store, the CLI, plain `psql`)
//! reaches every server at once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use maintenance_core::StoreError;
use maintenance_core::store::ChangeFeed;
use maintenance_sql::change_feed::{self, Wake};
use maintenance_sql::listing::Dialect;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions};
use sqlx::{Connection, Postgres, Transaction};

use crate::engine::{Driver, Sql};
use crate::error::Error;
use maintenance_sql::feed_conn::{FeedSlot, OpenFeed, SlotFeed};

use crate::engine::{FeedConn, FeedConnection};
use crate::migrate::migrate_locked;
use crate::pool;

const BACKEND: &str = "PostgreSQL";

/// Serialises `migrate()` of every store (sqlx's and diesel's) on one database.
const LOCK_MIGRATIONS: &str =
    "SELECT pg_advisory_lock(hashtext('maintenance_migrate_' || current_database()))";

pub use maintenance_sql::change_feed::NOTIFY_CHANNEL;

/// The maintenance store on PostgreSQL.
///
/// ```no_run
/// # async fn run() -> Result<(), maintenance_sqlx::Error> {
/// use maintenance_sqlx::PgStore;
/// let store = PgStore::connect("postgres://app@db.internal/app").await?;
/// store.migrate().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PgStore {
    pub(crate) sql: Sql<Postgres>,
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
        Ok(PgStore::new(
            pool::connect(connect_options(url)?, url).await?,
        ))
    }

    /// A store on `url` that connects on first use: no I/O here, so a server can start while
    /// the database is down (each read then fails until it answers). Fails only on a URL that
    /// cannot be parsed.
    ///
    /// Its pool holds one connection at most: what a server needs, whose reads come one at a
    /// time. While the change feed listens, the reads run on its connection instead, so that a
    /// server holds one connection in all. The CLI and the admin
    /// page use `connect`, whose pool holds more.
    pub fn connect_lazy(url: &str) -> Result<Self, Error> {
        Ok(PgStore::new(pool::lazy(connect_options(url)?)))
    }

    /// The pool the store uses.
    pub fn pool(&self) -> &PgPool {
        &self.sql.pool
    }

    /// Creates or updates the tables and the change trigger, and the default site if it is
    /// missing. Safe to run again, and from several servers at once (it holds an advisory
    /// lock). It records its migrations in `maintenance_migrations`, never in sqlx's
    /// `_sqlx_migrations`, which stays the application's; rows 0.1 left there are moved over.
    pub async fn migrate(&self) -> Result<(), Error> {
        let query_error = Error::query(BACKEND);
        // The lock maintenance-diesel takes too, so that no two stores migrate the same
        // database at once. It lives on a connection of its own, which the migrations run on
        // and which is closed at the end: that releases it whatever happened.
        let mut lock = self.sql.pool.acquire().await.map_err(query_error)?.detach();
        sqlx::query(LOCK_MIGRATIONS)
            .execute(&mut lock)
            .await
            .map_err(query_error)?;
        let result = migrate_locked::<Postgres>(&mut lock, BACKEND).await;
        if let Err(e) = sqlx::Connection::close(lock).await {
            tracing::warn!(error = %e, "closing the migration lock connection failed");
        }
        result
    }
}

fn connect_options(url: &str) -> Result<PgConnectOptions, Error> {
    url.parse()
        .map_err(|source| pool::connect_error(url, source))
}

impl Driver for Postgres {
    const DIALECT: Dialect = Dialect::Postgres;
    type Time = DateTime<Utc>;

    fn time(t: DateTime<Utc>) -> DateTime<Utc> {
        t
    }

    async fn begin_write(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        pool.begin().await
    }

    async fn begin_read(conn: &mut PgConnection) -> Result<Transaction<'_, Postgres>, sqlx::Error> {
        Connection::begin_with(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await
    }

    /// `LISTEN` on a connection of its own, with the pool's connect options and acquire
    /// timeout; the store's reads run on it too while the feed lasts.
    async fn change_feed(
        pool: &PgPool,
        feed: &Arc<FeedSlot<FeedConn<Postgres>>>,
    ) -> Result<Option<ChangeFeed>, StoreError> {
        let options = (*pool.connect_options()).clone();
        let acquire_timeout = pool.options().get_acquire_timeout();
        SlotFeed::subscribe(Listener::new(options, acquire_timeout), feed).await
    }
}

maintenance_sql::sql_store!(PgStore => sql);

/// The change feed's connection: a pool of one connection of its own, which `PgListener`
/// reconnects after a loss on its next read. The connection lives in the store's
/// [`FeedSlot`], where the store's reads borrow it.
struct Listener {
    pool: PgPool,
}

impl Listener {
    /// Connecting gives up after the store pool's acquire timeout.
    fn new(options: PgConnectOptions, acquire_timeout: Duration) -> Self {
        let pool = PgPoolOptions::new()
            .acquire_timeout(acquire_timeout)
            .min_connections(0)
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(options.application_name(change_feed::FEED_APPLICATION_NAME));
        Listener { pool }
    }
}

impl FeedConnection<Postgres> for PgListener {
    fn connection(&mut self) -> BoxFuture<'_, Result<&mut PgConnection, sqlx::Error>> {
        sqlx::Acquire::acquire(self)
    }

    fn next(&mut self) -> BoxFuture<'_, Wake> {
        Box::pin(async move {
            match self.try_recv().await {
                Ok(Some(_)) => Wake::Notice,
                Ok(None) => Wake::Reconnecting,
                Err(e) => Wake::Lost(e.to_string()),
            }
        })
    }

    fn ping(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            sqlx::query("SELECT 1")
                .execute(self)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        })
    }
}

impl OpenFeed for Listener {
    type Conn = FeedConn<Postgres>;
    type Error = sqlx::Error;

    async fn open(&self) -> Result<FeedConn<Postgres>, sqlx::Error> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(NOTIFY_CHANNEL).await?;
        Ok(Box::new(listener))
    }
}
