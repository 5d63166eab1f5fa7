//! The PostgreSQL store: [`PgStore`], on diesel-async's `AsyncPgConnection` (tokio-postgres,
//! no libpq), with a change feed over `LISTEN`/`NOTIFY`.
//!
//! The migration installs a statement-level trigger on the state tables that sends
//! `NOTIFY maintenance_changes`; [`PgStore`]'s `subscribe()` listens on that channel on a
//! connection of its own, so a change made by any writer (either store, the CLI, plain `psql`)
//! reaches every server at once.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use diesel::pg::data_types::PgTimestamp;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::{AnsiTransactionManager, AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::StreamExt;
use maintenance_core::StoreError;
use maintenance_core::store::{ChangeFeed, DEFAULT_SITE_DOMAIN, DEFAULT_SITE_NAME};
use tokio::sync::mpsc;

use crate::error::{BoxError, Error};
use crate::url::redact_url;

/// The connection type of [`PgStore`]'s pool.
pub type PgConnection = AsyncPgConnection;
/// The pool [`PgStore`] is built from.
pub type PgPool = Pool<AsyncPgConnection>;

type Conn = AsyncPgConnection;
use crate::schema::postgres as schema;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const BACKEND: &str = "PostgreSQL";
const REVISION_ID: i16 = 1;
/// Connections of the store's pool.
const POOL_SIZE: usize = 10;

/// The channel the migration's trigger notifies after every change to the state tables.
pub const NOTIFY_CHANNEL: &str = "maintenance_changes";

/// The first wait before reconnecting the change feed; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A connection that lasted this long resets the backoff.
const STABLE_CONNECTION: Duration = Duration::from_secs(60);
/// After this long without a notice the feed checks that its connection still answers, so that
/// a connection lost without a word (a dead peer) is noticed and replaced.
const KEEPALIVE: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// Serialises `migrate()` across servers; released when its connection closes.
const LOCK_MIGRATIONS: &str =
    "SELECT pg_advisory_lock(hashtext('maintenance_migrate_' || current_database()))";
const UNLOCK_MIGRATIONS: &str =
    "SELECT pg_advisory_unlock(hashtext('maintenance_migrate_' || current_database()))";

type TimeIn = PgTimestamp;

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
    pool: PgPool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("pool", &self.pool.status())
            .finish()
    }
}

impl PgStore {
    /// A store on an existing pool. Call [`PgStore::migrate`] before first use.
    pub fn new(pool: PgPool) -> Self {
        PgStore { pool }
    }

    /// Connects to `url` (`postgres://` or `postgresql://`).
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let connect_error = |source: BoxError| Error::Connect {
            url: redact_url(url),
            source,
        };
        let manager = AsyncDieselConnectionManager::<Conn>::new(url);
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .wait_timeout(Some(crate::CONNECT_TIMEOUT))
            .create_timeout(Some(crate::CONNECT_TIMEOUT))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| connect_error(Box::new(e)))?;
        drop(pool.get().await.map_err(|e| connect_error(Box::new(e)))?);
        Ok(PgStore::new(pool))
    }

    /// The pool the store uses.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates the tables and the change trigger if they are missing, and the revision row and
    /// the default site if they are missing. Safe to run again, on a database maintenance-sqlx
    /// migrated too, and from several servers at once: it holds an advisory lock throughout,
    /// on a connection of its own that is closed at the end (which frees the lock whatever
    /// happens, a cancelled call too).
    pub async fn migrate(&self) -> Result<(), Error> {
        let mut conn = Object::take(self.conn().await?);
        diesel::sql_query(LOCK_MIGRATIONS)
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        let mut conn = run_migrations(conn).await?;
        ensure_rows(&mut conn).await.map_err(query_error)?;
        diesel::sql_query(UNLOCK_MIGRATIONS)
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }
}

/// Runs the embedded migrations through diesel's (blocking) migration harness, on tokio's
/// blocking pool, and gives the connection back.
async fn run_migrations(conn: Conn) -> Result<Conn, Error> {
    let migrate_error = |source: BoxError| Error::Migrate {
        backend: BACKEND,
        source,
    };
    let (conn, ran) = tokio::task::spawn_blocking(move || {
        let mut wrapper = AsyncConnectionWrapper::<Conn>::from(conn);
        let ran = wrapper.run_pending_migrations(MIGRATIONS).map(drop);
        (wrapper.into_inner(), ran)
    })
    .await
    .map_err(|e| migrate_error(Box::new(e)))?;
    ran.map_err(migrate_error)?;
    Ok(conn)
}

/// The revision row and the default site, when missing (a fresh database, or rows deleted by
/// hand), in one transaction.
async fn ensure_rows(conn: &mut Conn) -> diesel::QueryResult<()> {
    use diesel::sql_types::Text;
    conn.transaction::<_, diesel::result::Error, _>(async |c| {
        diesel::sql_query(
            "INSERT INTO maintenance_revision (id, revision) VALUES (1, 1) \
             ON CONFLICT (id) DO NOTHING",
        )
        .execute(c)
        .await?;
        let added = diesel::sql_query(
            "INSERT INTO maintenance_sites (domain, name, is_default, enabled, mode) \
             SELECT $1, $2, TRUE, FALSE, 'full' \
             WHERE NOT EXISTS (SELECT 1 FROM maintenance_sites WHERE is_default = TRUE) \
             ON CONFLICT (domain) DO NOTHING",
        )
        .bind::<Text, _>(DEFAULT_SITE_DOMAIN)
        .bind::<Text, _>(DEFAULT_SITE_NAME)
        .execute(c)
        .await?;
        if added > 0 {
            diesel::sql_query(
                "UPDATE maintenance_revision SET revision = revision + 1 WHERE id = 1",
            )
            .execute(c)
            .await?;
        }
        Ok(())
    })
    .await
}

crate::queries::impl_engine!(
    PgStore,
    PgWrite,
    async fn change_feed(&self) -> Result<Option<ChangeFeed>, StoreError> {
        subscribe(self.pool.clone())
            .await
            .map(Some)
            .map_err(StoreError::from)
    }
);

/// Listens on [`NOTIFY_CHANNEL`] and hands the notices to a task that keeps listening.
///
/// The first connection is made here, so a database that cannot be reached is an error the
/// handle sees (it then polls, and asks again later).
async fn subscribe(pool: PgPool) -> Result<ChangeFeed, Error> {
    let conn = listen(&pool).await?;
    let (tx, rx) = mpsc::channel(1);
    // Changes made before LISTEN took effect are not announced: say "read again" once.
    notify(&tx);
    tokio::spawn(forward(pool, conn, tx));
    Ok(rx)
}

/// A connection taken out of the pool for good (the pool makes another in its place), that
/// listens on the channel.
async fn listen(pool: &PgPool) -> Result<Conn, Error> {
    let conn = pool.get().await.map_err(|e| Error::Pool {
        backend: BACKEND,
        source: Box::new(e),
    })?;
    let mut conn = Object::take(conn);
    diesel::sql_query(format!("LISTEN {NOTIFY_CHANNEL}"))
        .execute(&mut conn)
        .await
        .map_err(query_error)?;
    Ok(conn)
}

/// Sends a notice unless one is already waiting; `false` once the receiver is gone.
fn notify(tx: &mpsc::Sender<()>) -> bool {
    !matches!(tx.try_send(()), Err(mpsc::error::TrySendError::Closed(())))
}

/// What woke the feed up.
enum Wake {
    Notice,
    Quiet,
    Lost(String),
}

/// The next notification of the connection. Notifications wait in the connection until read,
/// so none is lost when this future is dropped.
async fn next_notification(conn: &mut Conn) -> Wake {
    let mut stream = std::pin::pin!(conn.notifications_stream());
    match stream.next().await {
        Some(Ok(_)) => Wake::Notice,
        Some(Err(e)) => Wake::Lost(e.to_string()),
        None => Wake::Lost("the connection was closed".to_owned()),
    }
}

/// Whether the connection still answers.
async fn ping(conn: &mut Conn) -> Result<(), String> {
    match tokio::time::timeout(PING_TIMEOUT, diesel::sql_query("SELECT 1").execute(conn)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {PING_TIMEOUT:?}")),
    }
}

/// Forwards notifications until the receiver is dropped, reconnecting (with backoff) after the
/// connection is lost, and sending one notice after each reconnection, since changes may have
/// been missed meanwhile.
async fn forward(pool: PgPool, mut conn: Conn, tx: mpsc::Sender<()>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let connected_at = Instant::now();
        loop {
            let wake = tokio::select! {
                () = tx.closed() => return,
                wake = next_notification(&mut conn) => wake,
                () = tokio::time::sleep(KEEPALIVE) => Wake::Quiet,
            };
            let lost = match wake {
                Wake::Notice => {
                    if !notify(&tx) {
                        return;
                    }
                    continue;
                }
                Wake::Quiet => match ping(&mut conn).await {
                    Ok(()) => continue,
                    Err(e) => e,
                },
                Wake::Lost(e) => e,
            };
            tracing::warn!(channel = NOTIFY_CHANNEL, error = %lost,
                "maintenance change feed lost its connection; reconnecting");
            break;
        }
        drop(conn);
        // A connection that failed soon after it was made keeps the backoff growing.
        if connected_at.elapsed() >= STABLE_CONNECTION {
            backoff = MIN_BACKOFF;
        }
        conn = loop {
            tokio::select! {
                () = tx.closed() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            let attempt = tokio::select! {
                () = tx.closed() => return,
                attempt = listen(&pool) => attempt,
            };
            match attempt {
                Ok(conn) => break conn,
                Err(e) => {
                    tracing::debug!(channel = NOTIFY_CHANNEL, error = %e, retry_in = ?backoff,
                    "could not reconnect the maintenance change feed")
                }
            }
        };
        tracing::info!(
            channel = NOTIFY_CHANNEL,
            "maintenance change feed reconnected"
        );
        if !notify(&tx) {
            return;
        }
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
