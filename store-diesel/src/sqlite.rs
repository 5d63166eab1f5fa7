//! The SQLite store: [`SqliteStore`], on diesel's `SqliteConnection` behind diesel-async's
//! `SyncConnectionWrapper`, which runs each query on tokio's blocking pool (never on an async
//! worker thread).
//!
//! Timestamps are RFC 3339 text in the form maintenance-sqlx writes
//! (`2030-03-17T17:46:40.250+00:00`), so both stores read each other's rows. Writes take SQLite's
//! write lock at once (`BEGIN IMMEDIATE`), and so does `migrate()`, which makes two processes
//! migrating one file at the same time safe. There is no change feed: handles poll the revision.
//!
//! A file removed or replaced while a store made by [`SqliteStore::connect`] is open is noticed
//! (a store on a pool of your own, [`SqliteStore::new`], is not watched): before a pooled
//! connection is handed out again, the store checks that the path still names the file it
//! opened, and drops it if not. A removed file is not created again: reads and writes fail (the
//! live handle keeps serving its last state and logs the outage) until the file is back.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use deadpool::managed::{Hook, HookError};
use diesel::connection::SimpleConnection;
use diesel::result::ConnectionError;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, SimpleAsyncConnection};
use maintenance_sql::sqlite_file::{FileWatch, open_existing};

use maintenance_sql::listing::Dialect;

use crate::engine::{Driver, NoFeed, On, Sql, pooled, query_error};
use crate::error::Error;
use crate::pool;

/// The connection type of [`SqliteStore`]'s pool.
pub type SqliteConnection = SyncConnectionWrapper<diesel::SqliteConnection>;
/// The pool [`SqliteStore`] is built from.
pub type SqlitePool = Pool<SqliteConnection>;

type Conn = SqliteConnection;

const BACKEND: &str = "SQLite";
/// How long a connection waits for another's write lock before failing.
const BUSY_TIMEOUT_MS: u32 = 10_000;
/// Connections of a file database's pool.
const POOL_SIZE: usize = 8;

const DIALECT: Dialect = Dialect::Sqlite;

fn time_in(text: String) -> Result<DateTime<Utc>, String> {
    parse_time(&text).ok_or_else(|| format!("`{text}` is not a timestamp"))
}

fn time_out(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// Reads the timestamp forms found in SQLite databases: RFC 3339 (what both stores write),
/// `YYYY-MM-DD HH:MM[:SS[.f]]` with or without a zone (no zone means UTC), and Unix seconds.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    const ZONED: [&str; 3] = [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M%:z",
        "%Y-%m-%dT%H:%M%:z",
    ];
    const NAIVE: [&str; 4] = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ];
    let text = text.trim();
    let zoned = || {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .or_else(|| {
                ZONED
                    .iter()
                    .find_map(|f| DateTime::parse_from_str(text, f).ok())
            })
            .map(|t| t.with_timezone(&Utc))
    };
    let naive = || {
        let naive = text.strip_suffix('Z').unwrap_or(text);
        NAIVE
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(naive, f).ok())
            .map(|t| Utc.from_utc_datetime(&t))
    };
    let unix = || {
        text.parse::<i64>()
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
    };
    zoned().or_else(naive).or_else(unix)
}

async fn begin_write(conn: &mut Conn) -> diesel::QueryResult<()> {
    conn.spawn_blocking(|c| {
        diesel::connection::AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
    })
    .await
}

async fn begin_read(conn: &mut Conn) -> diesel::QueryResult<()> {
    use diesel_async::TransactionManager;
    <Conn as AsyncConnection>::TransactionManager::begin_transaction(conn).await
}

/// The maintenance store on SQLite.
///
/// ```no_run
/// # async fn run() -> Result<(), maintenance_diesel::Error> {
/// use maintenance_diesel::SqliteStore;
/// let store = SqliteStore::connect("sqlite://maintenance.db").await?;
/// store.migrate().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) sql: Sql<diesel::sqlite::Sqlite>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("pool", &self.sql.pool.status())
            .finish()
    }
}

impl SqliteStore {
    /// A store on an existing pool. Call [`SqliteStore::migrate`] before first use.
    ///
    /// Connections should have `PRAGMA busy_timeout` set (as [`SqliteStore::connect`] does), so
    /// that writers wait for each other's lock instead of failing.
    pub fn new(pool: SqlitePool) -> Self {
        SqliteStore {
            sql: Sql::new(pool),
        }
    }

    /// Opens `url` (`sqlite://path`, `sqlite:path` or `sqlite::memory:`), creating the file if
    /// it is missing. An in-memory database lives in the one connection its pool keeps.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let target = SqliteTarget::from_url(url);
        // A file is watched; an in-memory database lives in the one connection of its pool
        // (each connection to `:memory:` would see a database of its own).
        let watch = (!target.in_memory).then(|| Arc::new(FileWatch::new(Path::new(&target.file))));
        let mut config = ManagerConfig::<Conn>::default();
        let opening = watch.clone();
        config.custom_setup = Box::new(move |path| {
            // Once the file exists, a connection must not create an empty database in place of
            // a file that was removed: it fails until the file is back.
            let path = match &opening {
                Some(watch) if watch.has_opened() => open_existing(path),
                _ => path.to_owned(),
            };
            Box::pin(establish(path))
        });
        // A local file: no round trip to check a connection before handing it out.
        config.recycling_method = RecyclingMethod::Fast;
        let manager = AsyncDieselConnectionManager::<Conn>::new_with_config(target.path, config);
        let mut builder = pool::builder(manager, if watch.is_some() { POOL_SIZE } else { 1 });
        if let Some(watch) = &watch {
            let check = Arc::clone(watch);
            builder = builder.pre_recycle(Hook::sync_fn(move |_, metrics| {
                if check.is_current(metrics.age()) {
                    Ok(())
                } else {
                    Err(HookError::message(
                        "the SQLite file was removed or replaced since this connection opened it",
                    ))
                }
            }));
        }
        let pool = pool::build(builder, url)?;
        // Connect once now, so that a bad path fails here rather than on first use.
        pool::check(&pool, url).await?;
        if let Some(watch) = watch {
            watch.opened();
        }
        Ok(SqliteStore::new(pool))
    }

    /// The pool the store uses.
    pub fn pool(&self) -> &SqlitePool {
        &self.sql.pool
    }

    /// Creates the tables if they are missing, and the revision row and the default site if
    /// they are missing. Safe to run again, on a database maintenance-sqlx migrated too, and
    /// from several processes at once: it holds SQLite's write lock throughout.
    pub async fn migrate(&self) -> Result<(), Error> {
        let mut conn = self.sql.conn().await?;
        conn.batch_execute("BEGIN IMMEDIATE")
            .await
            .map_err(query_error::<diesel::sqlite::Sqlite>)?;
        match migrate_locked(&mut conn).await {
            Ok(()) => conn
                .batch_execute("COMMIT")
                .await
                .map_err(query_error::<diesel::sqlite::Sqlite>),
            Err(e) => {
                if conn.batch_execute("ROLLBACK").await.is_err() {
                    // A connection whose transaction state is unknown goes, not back to the pool.
                    drop(Object::take(conn));
                }
                Err(e)
            }
        }
    }
}

/// The migrations and the rows a fresh database needs, under the write lock.
async fn migrate_locked(c: &mut Conn) -> Result<(), Error> {
    crate::migrations::run(c, DIALECT, BACKEND).await?;
    // Already inside the migration's write transaction.
    maintenance_sql::conn::ensure_rows(&mut On::<diesel::sqlite::Sqlite, _>::new(c))
        .await
        .map_err(|e| Error::of_step(BACKEND, e))?;
    Ok(())
}

/// Opens one connection with the settings the store relies on.
async fn establish(path: String) -> diesel::ConnectionResult<Conn> {
    let mut conn = Conn::establish(&path).await?;
    let pragmas = format!("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};");
    conn.spawn_blocking(move |c| c.batch_execute(&pragmas))
        .await
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

/// What diesel opens for a `sqlite:` URL.
#[derive(Debug, PartialEq, Eq)]
struct SqliteTarget {
    /// A file name, `:memory:`, or a `file:` URI when the URL has parameters.
    path: String,
    /// The file's name, without parameters.
    file: String,
    in_memory: bool,
}

impl SqliteTarget {
    fn from_url(url: &str) -> Self {
        let rest = match url.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case("sqlite:") => &url[7..],
            _ => url,
        };
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (file, params) = rest.split_once('?').unwrap_or((rest, ""));
        let in_memory = file == ":memory:"
            || params
                .split('&')
                .any(|p| p.eq_ignore_ascii_case("mode=memory"));
        let path = if in_memory {
            ":memory:".to_owned()
        } else if params.is_empty() {
            file.to_owned()
        } else {
            format!("file:{file}?{params}")
        };
        SqliteTarget {
            path,
            file: file.to_owned(),
            in_memory,
        }
    }
}

impl Driver for diesel::sqlite::Sqlite {
    type Db = Self;
    type Conn = Conn;
    type Pool = SqlitePool;
    type Pooled = Object<Conn>;
    type Feed = NoFeed<Conn>;
    type TimeSql = diesel::sql_types::Text;
    type TimeIn = String;
    type TimeOut = String;
    const NAME: &'static str = BACKEND;
    const DIALECT: Dialect = DIALECT;

    fn time_in(value: String) -> Result<DateTime<Utc>, String> {
        time_in(value)
    }

    fn time_out(t: DateTime<Utc>) -> String {
        time_out(t)
    }

    async fn connection(pool: &SqlitePool) -> Result<Object<Conn>, Error> {
        pooled(pool, BACKEND).await
    }

    async fn begin_write(conn: &mut Conn) -> diesel::QueryResult<()> {
        begin_write(conn).await
    }

    async fn begin_read(conn: &mut Conn) -> diesel::QueryResult<()> {
        begin_read(conn).await
    }
}

maintenance_sql::sql_store!(SqliteStore => sql);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_become_paths() {
        let t = |url: &str| SqliteTarget::from_url(url);
        assert_eq!(t("sqlite://maintenance.db").path, "maintenance.db");
        assert_eq!(t("SQLite:maintenance.db").path, "maintenance.db");
        assert_eq!(t("sqlite:///tmp/m.db").path, "/tmp/m.db");
        assert_eq!(t("sqlite://m.db?mode=ro").path, "file:m.db?mode=ro");
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://x.db?mode=memory",
        ] {
            assert!(t(url).in_memory, "{url}");
            assert_eq!(t(url).path, ":memory:");
        }
        assert!(!t("sqlite:///tmp/:memory:.db").in_memory);
        assert_eq!(t("sqlite://m.db?mode=ro").file, "m.db");
    }

    #[test]
    fn times_are_written_as_sqlx_writes_them_and_read_in_every_common_form() {
        let t = DateTime::from_timestamp(1_900_000_000, 250_000_000).unwrap();
        assert_eq!(time_out(t), "2030-03-17T17:46:40.250+00:00");
        let whole = DateTime::from_timestamp(4_102_444_800, 0).unwrap();
        assert_eq!(time_out(whole), "2100-01-01T00:00:00+00:00");
        for text in [
            "2030-03-17T17:46:40.250+00:00",
            "2030-03-17T19:46:40.25+02:00",
            "2030-03-17 17:46:40.250",
            "2030-03-17 17:46:40.250Z",
            "2030-03-17T17:46:40.25",
        ] {
            assert_eq!(time_in(text.to_owned()), Ok(t), "{text}");
        }
        assert_eq!(
            time_in("1900000000".to_owned()).unwrap().timestamp(),
            1_900_000_000
        );
        assert!(time_in("next tuesday".to_owned()).is_err());
    }
}
