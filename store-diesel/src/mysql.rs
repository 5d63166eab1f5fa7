//! The MariaDB/MySQL store: [`MySqlStore`], on diesel-async's `AsyncMysqlConnection`
//! (mysql_async, no libmysqlclient).
//!
//! Timestamps are `DATETIME(6)` holding UTC: they are bound as DATETIME values (a TIMESTAMP
//! would end in 2038), and diesel-async sets each connection's session time zone to `+00:00`.
//! Writers serialise on the revision row, which every write updates first. There is no change
//! feed: handles poll the revision.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use diesel::mysql::data_types::MysqlTime;
use diesel::sql_types::{BigInt, Nullable};
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::{
    AnsiTransactionManager, AsyncMysqlConnection, RunQueryDsl, SimpleAsyncConnection,
};

use maintenance_sql::listing::Dialect;

use crate::engine::{Driver, NoFeed, Sql, ensure_rows, pooled, query_error};
use crate::error::Error;
use crate::pool;

/// The connection type of [`MySqlStore`]'s pool.
pub type MySqlConnection = AsyncMysqlConnection;
/// The pool [`MySqlStore`] is built from.
pub type MySqlPool = Pool<AsyncMysqlConnection>;

type Conn = AsyncMysqlConnection;

const BACKEND: &str = "MySQL";
/// Connections of the store's pool.
const POOL_SIZE: usize = 10;

/// How long `migrate()` waits for another server's migration to finish.
const MIGRATION_LOCK_TIMEOUT_SECS: u32 = 300;
/// Lock names are server-wide and at most 64 characters: name the database by its digest.
/// maintenance-sqlx takes the same lock, so the two stores' migrations never overlap. A
/// positive timeout: MariaDB does not lock at all on `GET_LOCK(name, -1)`.
const LOCK_MIGRATIONS: &str =
    "CAST(GET_LOCK(CONCAT('maintenance_migrate_', SHA1(DATABASE())), 300) AS SIGNED)";
const UNLOCK_MIGRATIONS: &str =
    "SELECT RELEASE_LOCK(CONCAT('maintenance_migrate_', SHA1(DATABASE())))";

const DIALECT: Dialect = Dialect::MySql;

/// A DATETIME as stored; a zero date (`0000-00-00`, which lax SQL modes allow) does not fit.
fn time_in(t: MysqlTime) -> Result<DateTime<Utc>, String> {
    let naive = i32::try_from(t.year)
        .ok()
        .and_then(|year| NaiveDate::from_ymd_opt(year, t.month, t.day))
        .and_then(|date| {
            let micros = u32::try_from(t.second_part).ok()?;
            date.and_hms_micro_opt(t.hour, t.minute, t.second, micros)
        });
    naive.map(|n| Utc.from_utc_datetime(&n)).ok_or_else(|| {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06} is not a valid time",
            t.year, t.month, t.day, t.hour, t.minute, t.second, t.second_part
        )
    })
}

fn time_out(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

async fn begin_write(conn: &mut Conn) -> diesel::QueryResult<()> {
    AnsiTransactionManager::begin_transaction_sql(conn, "BEGIN").await
}

async fn begin_read(conn: &mut Conn) -> diesel::QueryResult<()> {
    // Applies to the next transaction only; whatever the server's default, the reads of
    // `load()` see one snapshot.
    conn.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .await?;
    AnsiTransactionManager::begin_transaction_sql(
        conn,
        "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
    )
    .await
}

/// The maintenance store on MariaDB or MySQL.
///
/// ```no_run
/// # async fn run() -> Result<(), maintenance_diesel::Error> {
/// use maintenance_diesel::MySqlStore;
/// let store = MySqlStore::connect("mariadb://app@db.internal/app").await?;
/// store.migrate().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MySqlStore {
    pub(crate) sql: Sql<diesel::mysql::Mysql>,
}

impl std::fmt::Debug for MySqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlStore")
            .field("pool", &self.sql.pool.status())
            .finish()
    }
}

impl MySqlStore {
    /// A store on an existing pool. Call [`MySqlStore::migrate`] before first use.
    ///
    /// diesel-async sets each connection's session time zone to `+00:00`; keep it so: the
    /// timestamps are stored in UTC.
    pub fn new(pool: MySqlPool) -> Self {
        MySqlStore {
            sql: Sql::new(pool),
        }
    }

    /// Connects to `url` (`mysql://` or `mariadb://`).
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let store = MySqlStore::with_pool_size(url, POOL_SIZE)?;
        pool::check(&store.sql.pool, url).await?;
        Ok(store)
    }

    /// A store on `url` that connects on first use: no I/O here, so a server can start while
    /// the database is down (each read then fails until it answers).
    ///
    /// Its pool holds one connection at most: what a server needs, whose reads come one at a
    /// time, and polls on it. The CLI and the admin
    /// page use `connect`, whose pool holds more.
    pub fn connect_lazy(url: &str) -> Result<Self, Error> {
        MySqlStore::with_pool_size(url, 1)
    }

    /// A store on `url` whose pool holds at most `size` connections, opened on first use.
    fn with_pool_size(url: &str, size: usize) -> Result<Self, Error> {
        // mysql_async knows only the `mysql` scheme.
        let driver_url = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("mariadb") => {
                format!("mysql://{rest}")
            }
            _ => url.to_owned(),
        };
        let manager = AsyncDieselConnectionManager::<Conn>::new(driver_url);
        let pool = pool::build(pool::builder(manager, size), url)?;
        Ok(MySqlStore::new(pool))
    }

    /// The pool the store uses.
    pub fn pool(&self) -> &MySqlPool {
        &self.sql.pool
    }

    /// Creates the tables if they are missing, and the revision row and the default site if
    /// they are missing. Safe to run again, on a database maintenance-sqlx migrated too, and
    /// from several servers at once: it holds a named lock (`GET_LOCK`, the one
    /// maintenance-sqlx takes) throughout, on a connection of its own that is closed at the
    /// end (which frees the lock whatever happens, a cancelled call too).
    pub async fn migrate(&self) -> Result<(), Error> {
        let mut conn = Object::take(self.sql.conn().await?);
        let locked: Option<i64> =
            diesel::select(diesel::dsl::sql::<Nullable<BigInt>>(LOCK_MIGRATIONS))
                .get_result(&mut conn)
                .await
                .map_err(query_error::<diesel::mysql::Mysql>)?;
        if locked != Some(1) {
            return Err(Error::MigrationLock {
                backend: BACKEND,
                waited: MIGRATION_LOCK_TIMEOUT_SECS,
            });
        }
        crate::migrations::run(&mut conn, DIALECT, BACKEND).await?;
        ensure_rows::<diesel::mysql::Mysql>(&mut conn).await?;
        diesel::sql_query(UNLOCK_MIGRATIONS)
            .execute(&mut conn)
            .await
            .map_err(query_error::<diesel::mysql::Mysql>)?;
        Ok(())
    }
}

impl Driver for diesel::mysql::Mysql {
    type Db = Self;
    type Conn = Conn;
    type Pool = MySqlPool;
    type Pooled = Object<Conn>;
    type Feed = NoFeed<Conn>;
    type TimeSql = diesel::sql_types::Datetime;
    type TimeIn = MysqlTime;
    type TimeOut = NaiveDateTime;
    const NAME: &'static str = BACKEND;
    const DIALECT: Dialect = DIALECT;

    fn time_in(value: MysqlTime) -> Result<DateTime<Utc>, String> {
        time_in(value)
    }

    fn time_out(t: DateTime<Utc>) -> NaiveDateTime {
        time_out(t)
    }

    async fn connection(pool: &MySqlPool) -> Result<Object<Conn>, Error> {
        pooled(pool, BACKEND).await
    }

    async fn begin_write(conn: &mut Conn) -> diesel::QueryResult<()> {
        begin_write(conn).await
    }

    async fn begin_read(conn: &mut Conn) -> diesel::QueryResult<()> {
        begin_read(conn).await
    }
}

maintenance_sql::sql_store!(MySqlStore => sql);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_convert_and_zero_dates_are_refused() {
        let t = MysqlTime::new(
            2100,
            1,
            1,
            0,
            0,
            0,
            250_000,
            false,
            diesel::mysql::data_types::MysqlTimestampType::MYSQL_TIMESTAMP_DATETIME,
            0,
        );
        assert_eq!(
            time_in(t).unwrap(),
            DateTime::from_timestamp(4_102_444_800, 250_000_000).unwrap()
        );
        let mut zero = t;
        (zero.year, zero.month, zero.day) = (0, 0, 0);
        assert!(time_in(zero).is_err());
        assert_eq!(
            time_out(time_in(t).unwrap()).to_string(),
            "2100-01-01 00:00:00.250"
        );
    }
}
