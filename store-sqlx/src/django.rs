//! [`DjangoSource`]: a read-only [`MaintenanceSource`] over django-maintenancemode-2's own
//! tables, so that Rust services obey the Django admin's "In Maintenance Mode" checkbox on the
//! same database, with no second switch.
//!
//! What is read, and how, is [`maintenance_sql::django`]'s: each Django site is a site by its
//! domain, the `SITE_ID` site is the default site, `is_being_performed` is the flag and each
//! `IgnoredURL` an ignored pattern. The source never writes to the Django database and never
//! migrates it: its connections are read-only (SQLite opens the file read-only and never
//! creates it; PostgreSQL sessions have `default_transaction_read_only`; MySQL sessions are
//! `READ ONLY`), so a role that may only `SELECT` the three tables is enough.
//!
//! The tables have no revision: each poll interval the handle asks
//! [`MaintenanceSource::revision`] for a digest of the three tables, and reads them again when
//! it moved. PostgreSQL and MySQL compute it (one number over the network); on SQLite the rows
//! are hashed here, and read only when `PRAGMA data_version` says the file changed.

use std::str::FromStr;

use maintenance_core::store::StoreContents;
use maintenance_core::{MaintenanceSource, StoreError};
use maintenance_sql::django::{self, DjangoRow};
use maintenance_sql::listing::Dialect;
use sqlx::Row;

use crate::error::Error;
use crate::pool;
use crate::url::Backend;

/// A read-only source over django-maintenancemode-2's tables (`django_site`,
/// `maintenancemode_maintenance`, `maintenancemode_ignoredurl`) on SQLite, PostgreSQL or
/// MariaDB/MySQL, whichever this build includes.
///
/// ```no_run
/// # async fn run() -> Result<(), maintenance_sqlx::Error> {
/// use maintenance_core::{Maintenance, Policy};
/// use maintenance_sqlx::DjangoSource;
///
/// // The Django project's database, and its `SITE_ID`.
/// let source = DjangoSource::connect_lazy("postgres://app@db.internal/django")?.with_site_id(1);
/// let maintenance = Maintenance::start(source, Policy::default()).await;
/// # let _ = maintenance;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DjangoSource {
    pool: Pool,
    site_id: i64,
    #[cfg(feature = "sqlite")]
    watch: std::sync::Arc<tokio::sync::Mutex<Option<SqliteWatch>>>,
}

#[derive(Debug, Clone)]
enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
}

impl DjangoSource {
    /// Connects to the Django database `url` names (`sqlite:`, `postgres:`, `mysql:`; the
    /// same URL forms as [`crate::connect`]) and checks that the three tables can be read, so
    /// a wrong URL or a database Django has not migrated fails here, naming what is wrong.
    /// The default site is Django's default `SITE_ID`, 1 ([`DjangoSource::with_site_id`]).
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let source = DjangoSource::connect_lazy(url)?;
        source.rows().await.map_err(|e| match e {
            Error::Django { source, .. } if is_connect_error(&source) => {
                pool::connect_error(url, source)
            }
            other => other,
        })?;
        Ok(source)
    }

    /// Like [`DjangoSource::connect`], but nothing is reached before the first read, so a
    /// server can start while the Django database is down (or its SQLite file not created
    /// yet): reads fail until it answers, and the handle applies its fail mode meanwhile.
    /// Fails at once only on a URL that cannot be used.
    pub fn connect_lazy(url: &str) -> Result<Self, Error> {
        let connect_error = |source| pool::connect_error(url, source);
        let pool = match Backend::for_url(url)? {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => {
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(
                    &crate::sqlite::normalize_scheme(url),
                )
                .map_err(connect_error)?
                .read_only(true)
                .create_if_missing(false);
                Pool::Sqlite(pool::lazy(options))
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                let options = sqlx::postgres::PgConnectOptions::from_str(url)
                    .map_err(connect_error)?
                    .options([("default_transaction_read_only", "on")]);
                Pool::Postgres(pool::lazy(options))
            }
            #[cfg(feature = "mysql")]
            Backend::MySql => {
                let options =
                    sqlx::mysql::MySqlConnectOptions::from_str(url).map_err(connect_error)?;
                Pool::MySql(
                    pool::options()
                        .after_connect(|conn, _| {
                            Box::pin(async move {
                                sqlx::query("SET SESSION TRANSACTION READ ONLY")
                                    .execute(conn)
                                    .await
                                    .map(|_| ())
                            })
                        })
                        .connect_lazy_with(options),
                )
            }
            #[allow(unreachable_patterns)]
            other => return Err(other.not_compiled(url).into()),
        };
        Ok(DjangoSource {
            pool,
            site_id: django::DEFAULT_SITE_ID,
            #[cfg(feature = "sqlite")]
            watch: Default::default(),
        })
    }

    /// The source with `site_id` (Django's `SITE_ID` setting) as the default site: the one that
    /// serves hosts no Django site names.
    pub fn with_site_id(mut self, site_id: i64) -> Self {
        self.site_id = site_id;
        self
    }

    /// The `SITE_ID` whose site is the default site.
    pub fn site_id(&self) -> i64 {
        self.site_id
    }

    /// The three tables as read in one statement ([`maintenance_sql::django::select_sql`]).
    pub async fn rows(&self) -> Result<Vec<DjangoRow>, Error> {
        Ok(self.read().await?.1)
    }

    /// The rows and their digest, from one snapshot: computed by the server in the same
    /// statement on PostgreSQL and MySQL, hashed here on SQLite.
    async fn read(&self) -> Result<(i64, Vec<DjangoRow>), Error> {
        macro_rules! fetch {
            ($pool:expr, $backend:literal, $dialect:expr) => {{
                let read = async {
                    let rows = sqlx::query(django::select_sql($dialect))
                        .fetch_all($pool)
                        .await?;
                    let decoded = rows
                        .iter()
                        .map(|r| decode(r))
                        .collect::<Result<Vec<_>, _>>()?;
                    let digest = match (django::digest_sql($dialect), rows.first()) {
                        (None, _) => django::digest(&decoded),
                        (Some(_), Some(first)) => first.try_get("digest")?,
                        // No site: nothing to be consistent with.
                        (Some(sql), None) => sqlx::query_scalar(sql).fetch_one($pool).await?,
                    };
                    Ok((digest, decoded))
                };
                read.await.map_err(|source| Error::Django {
                    backend: $backend,
                    source,
                })
            }};
        }
        match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => fetch!(pool, "SQLite", Dialect::Sqlite),
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => fetch!(pool, "PostgreSQL", Dialect::Postgres),
            #[cfg(feature = "mysql")]
            Pool::MySql(pool) => fetch!(pool, "MySQL", Dialect::MySql),
        }
    }

    /// The current digest of the three tables: one number from the server on PostgreSQL and
    /// MySQL; on SQLite, the last digest while `PRAGMA data_version` says no other connection
    /// has written to the file since, and the rows' digest otherwise.
    pub async fn digest(&self) -> Result<i64, Error> {
        #[cfg(any(feature = "postgres", feature = "mysql"))]
        macro_rules! server_digest {
            ($pool:expr, $backend:literal, $dialect:expr) => {
                sqlx::query_scalar(django::digest_sql($dialect).unwrap_or_default())
                    .fetch_one($pool)
                    .await
                    .map_err(|source| Error::Django {
                        backend: $backend,
                        source,
                    })
            };
        }
        match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => self.sqlite_digest(pool).await,
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => server_digest!(pool, "PostgreSQL", Dialect::Postgres),
            #[cfg(feature = "mysql")]
            Pool::MySql(pool) => server_digest!(pool, "MySQL", Dialect::MySql),
        }
    }

    /// SQLite's digest, read again only when the file changed. `PRAGMA data_version` moves
    /// when another connection commits, and only compares on one connection: the watch keeps
    /// its own, and starts over (reading the rows) when that connection fails.
    #[cfg(feature = "sqlite")]
    async fn sqlite_digest(&self, pool: &sqlx::SqlitePool) -> Result<i64, Error> {
        use sqlx::ConnectOptions;
        let sqlite_error = |source| Error::Django {
            backend: "SQLite",
            source,
        };
        let mut watch = self.watch.lock().await;
        if let Some(w) = watch.as_mut() {
            match data_version(&mut w.conn).await {
                Ok(version) if version == w.data_version => return Ok(w.digest),
                Ok(version) => w.data_version = version,
                Err(_) => *watch = None,
            }
        }
        let w = match watch.as_mut() {
            Some(w) => w,
            None => {
                let mut conn = pool
                    .connect_options()
                    .connect()
                    .await
                    .map_err(sqlite_error)?;
                let data_version = data_version(&mut conn).await.map_err(sqlite_error)?;
                watch.insert(SqliteWatch {
                    conn,
                    data_version,
                    digest: 0,
                })
            }
        };
        // The version is read before the rows: a write between the two moves it again, and
        // the next poll reads again.
        match self.read().await {
            Ok((digest, _)) => {
                w.digest = digest;
                Ok(digest)
            }
            Err(e) => {
                // Unread: the next poll must read the rows, whatever the version says.
                *watch = None;
                Err(e)
            }
        }
    }

    /// Every Django site as the core's sites, with the digest of the tables as the revision.
    pub async fn contents(&self) -> Result<StoreContents, Error> {
        let (revision, rows) = self.read().await?;
        Ok(StoreContents {
            revision,
            sites: django::assemble(&rows, self.site_id),
        })
    }
}

/// SQLite's `PRAGMA data_version` on `conn`: it moves when another connection commits.
#[cfg(feature = "sqlite")]
async fn data_version(conn: &mut sqlx::SqliteConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("PRAGMA data_version")
        .fetch_one(conn)
        .await
}

/// The SQLite source's own connection for `PRAGMA data_version`, and what it last saw.
#[cfg(feature = "sqlite")]
#[derive(Debug)]
struct SqliteWatch {
    conn: sqlx::SqliteConnection,
    data_version: i64,
    digest: i64,
}

/// Whether the error came from reaching the database rather than from the statement: the
/// server, or a SQLite file that cannot be opened (`SQLITE_CANTOPEN`, 14).
fn is_connect_error(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(e) => e.code().is_some_and(|code| code == "14"),
        _ => false,
    }
}

fn decode<R>(row: &R) -> Result<DjangoRow, sqlx::Error>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(DjangoRow {
        site_id: row.try_get("site_id")?,
        domain: row.try_get("domain")?,
        name: row.try_get("name")?,
        flag: row.try_get::<Option<i64>, _>("flag")?.map(|f| f != 0),
        url_id: row.try_get("url_id")?,
        pattern: row.try_get("pattern")?,
        description: row.try_get("description")?,
    })
}

#[async_trait::async_trait]
impl MaintenanceSource for DjangoSource {
    async fn load(&self) -> Result<StoreContents, StoreError> {
        Ok(self.contents().await?)
    }

    async fn revision(&self) -> Result<i64, StoreError> {
        Ok(self.digest().await?)
    }
}
