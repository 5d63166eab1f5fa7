//! The SQL store test kit (feature `testkit`): fresh databases, and the cases every SQL store
//! passes on every backend, written once for maintenance-sqlx and maintenance-diesel.
//!
//! A store's tests implement [`TestDriver`] for a type of their own (connect, migrate, raw
//! SQL; [`sql_test_driver!`](crate::sql_test_driver) writes it), then invoke [`sql_store_conformance_tests!`](crate::sql_store_conformance_tests) once
//! per backend:
//!
//! ```text
//! maintenance_sql::sql_store_conformance_tests!(postgres: MyDriver<PgStore>);
//! ```
//!
//! Each case becomes one `#[tokio::test]`, the core's conformance suite
//! ([`maintenance_core::store_conformance_tests!`]) included.
//!
//! PostgreSQL and MariaDB tests read their server from [`POSTGRES_ENV`] and [`MYSQL_ENV`];
//! unset, they print `skipped <test>: <VAR> is not set` and pass. Each test gets a database of
//! its own, `mt_<pid>_<counter>_<random>` (left on the server: CI's servers are thrown away),
//! so tests run in parallel, in several processes too. A SQLite test gets an in-memory
//! database, or a file of its own in a temporary directory when several stores share it.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use maintenance_core::http::Request;
use maintenance_core::{Decision, Identity, Maintenance, MaintenanceStore, Policy};

pub mod cases;

#[doc(hidden)]
pub use maintenance_core::store_conformance_tests as __core_conformance_tests;

/// The variable naming the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "MAINTENANCE_TEST_POSTGRES_URL";
/// The variable naming the MariaDB/MySQL server for tests.
pub const MYSQL_ENV: &str = "MAINTENANCE_TEST_MYSQL_URL";

/// The database a [`TestDriver`]'s store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite: in memory, or a file in a temporary directory.
    Sqlite,
    /// PostgreSQL, on the server [`POSTGRES_ENV`] names.
    Postgres,
    /// MariaDB or MySQL, on the server [`MYSQL_ENV`] names.
    MySql,
}

impl Backend {
    /// The variable naming the backend's server, if it needs one.
    pub fn server_env(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some(POSTGRES_ENV),
            Backend::MySql => Some(MYSQL_ENV),
        }
    }
}

/// What the kit needs of a store's driver, implemented in the store's tests on a type of
/// their own (the store's type is the driver crate's, the trait this crate's).
///
/// The raw-SQL steps panic, naming the statement, when it fails: they are test steps.
#[async_trait]
pub trait TestDriver: Send + Sync + 'static {
    /// The store under test.
    type Store: MaintenanceStore + Clone + 'static;
    /// The error its `connect` and `migrate` return.
    type Error: fmt::Debug + fmt::Display + Send + 'static;
    /// The backend [`TestDriver::Store`] runs on.
    const BACKEND: Backend;

    /// Connects a store to `url`.
    async fn connect(url: &str) -> Result<Self::Store, Self::Error>;

    /// Creates or updates the tables (the store's `migrate()`).
    async fn migrate(store: &Self::Store) -> Result<(), Self::Error>;

    /// Connects with the crate's own `connect(url)`, which picks the backend from the URL's
    /// scheme, and migrates: the backend it picked, and the store.
    async fn connect_any(url: &str) -> Result<(Backend, Box<dyn MaintenanceStore>), Self::Error>;

    /// Runs a statement as written on the store's database, bypassing the store (as an
    /// operator with a SQL shell would): the number of rows it changed.
    async fn exec(store: &Self::Store, sql: &str) -> u64;

    /// Runs a query returning one row of one text column named `value`: that text.
    async fn query_text(store: &Self::Store, sql: &str) -> String;

    /// Closes the store's connections (so a SQLite file is complete on disk and may be moved).
    async fn close(store: &Self::Store);
}

/// Runs one statement on a database server, outside of any store: how the kit creates the
/// test databases. [`ThroughStore`] does it for any [`TestDriver`].
#[async_trait]
pub trait ServerSql {
    /// Runs `sql` on the database `url` names.
    async fn execute_at(url: &str, sql: &str) -> Result<(), String>;
}

/// [`ServerSql`] through a [`TestDriver`]'s store: connects one to the URL and runs the
/// statement with [`TestDriver::exec`].
#[derive(Debug)]
pub struct ThroughStore<D>(PhantomData<D>);

#[async_trait]
impl<D: TestDriver> ServerSql for ThroughStore<D> {
    async fn execute_at(url: &str, sql: &str) -> Result<(), String> {
        let store = D::connect(url).await.map_err(|e| e.to_string())?;
        D::exec(&store, sql).await;
        Ok(())
    }
}

/// A database name no other test (in this process or another) uses:
/// `mt_<pid>_<counter>_<random>`.
pub fn unique_db_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(n);
    let random = hasher.finish() as u32;
    format!("mt_{}_{n}_{random:08x}", std::process::id())
}

/// `url` with its database (the path) replaced by `name`, query kept.
pub fn with_database(url: &str, name: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let path_start = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    let query = url[path_start..]
        .find('?')
        .map_or("", |i| &url[path_start + i..]);
    format!("{}/{name}{query}", &url[..path_start])
}

/// The server URL in `var`, or `None` after printing that `test` was skipped.
pub fn server_url(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!("skipped {test}: {var} is not set");
            None
        }
    }
}

/// The running test's name: libtest names each test's thread after it, and `#[tokio::test]`
/// runs the test's body on that thread.
pub fn current_test() -> String {
    std::thread::current().name().unwrap_or("a test").to_owned()
}

/// A URL to a new, empty database on `backend`'s server (created with `S`), or `None` after
/// printing that `test` was skipped when the server's variable is unset. `None` for SQLite,
/// which has no server: see [`TestDatabase::create`].
///
/// # Panics
/// If the server cannot be reached or refuses to create the database.
pub async fn fresh_server_database<S: ServerSql>(backend: Backend, test: &str) -> Option<String> {
    let var = backend.server_env()?;
    let base = server_url(var, test)?;
    let name = unique_db_name();
    S::execute_at(&base, &format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("{var}: CREATE DATABASE {name}: {e}"));
    Some(with_database(&base, &name))
}

/// A new, empty database that several stores can open: a file in a temporary directory
/// (removed on drop) for SQLite, a database of its own on the server otherwise.
#[derive(Debug)]
pub struct TestDatabase {
    /// The database's URL.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// A new database for `D`'s backend, or `None` (skipped: printed) when its server's
    /// variable is unset.
    ///
    /// # Panics
    /// If the temporary directory or the database cannot be created.
    pub async fn create<D: TestDriver>() -> Option<TestDatabase> {
        match D::BACKEND {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                Some(TestDatabase {
                    url: format!("sqlite://{}", dir.path().join("test.db").display()),
                    _dir: Some(dir),
                })
            }
            backend => Some(TestDatabase {
                url: fresh_server_database::<ThroughStore<D>>(backend, &current_test()).await?,
                _dir: None,
            }),
        }
    }
}

/// A fresh, migrated store: in memory for SQLite, on a new database otherwise; `None`
/// (skipped: printed) when the server's variable is unset.
///
/// # Panics
/// If the store cannot connect or migrate.
pub async fn fresh_store<D: TestDriver>() -> Option<D::Store> {
    let url = match D::BACKEND {
        Backend::Sqlite => "sqlite::memory:".to_owned(),
        backend => fresh_server_database::<ThroughStore<D>>(backend, &current_test()).await?,
    };
    Some(connect_migrated::<D>(&url).await)
}

/// A store connected to `url` and migrated.
///
/// # Panics
/// If the store cannot connect or migrate.
pub async fn connect_migrated<D: TestDriver>(url: &str) -> D::Store {
    let store = D::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    D::migrate(&store)
        .await
        .unwrap_or_else(|e| panic!("migrate: {e}"));
    store
}

/// Polls `cond` every 20 ms for up to `secs` seconds.
pub async fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

/// A policy whose handle would not look at the store for an hour on its own.
pub fn hour_policy() -> Policy {
    Policy::builder()
        .poll_interval(Duration::from_secs(3600))
        .feed_poll_interval(Duration::from_secs(3600))
        .build()
        .expect("a valid policy")
}

/// A request for `uri` (`/` by default in [`blocks`]).
pub fn request(uri: &str) -> Request<()> {
    Request::builder()
        .uri(uri)
        .body(())
        .unwrap_or_else(|e| panic!("{uri}: {e}"))
}

/// Whether `handle` blocks an anonymous request for `/`.
pub fn blocks(handle: &Maintenance) -> bool {
    matches!(
        handle.check(&request("/"), Identity::Anonymous),
        Decision::Block(_)
    )
}

/// Implements [`TestDriver`](crate::testkit::TestDriver) for a store crate's stores, on a
/// type `$driver<S>` it declares, given the crate (which has `connect(url)`, `Error`,
/// `Backend`, and stores with `connect(url)`, `migrate()` and a `backend()` on what `connect`
/// returns) and the two raw-SQL steps as blocks over `store` and `sql`:
///
/// ```text
/// maintenance_sql::sql_test_driver! {
///     Sqlx, maintenance_sqlx;
///     exec(store, sql) { /* rows changed, as u64 */ }
///     query_text(store, sql) { /* the `value` column's text */ }
///     #[cfg(feature = "postgres")] PgStore: Postgres,
/// }
/// ```
#[macro_export]
macro_rules! sql_test_driver {
    (
        $driver:ident, $krate:ident;
        exec($es:ident, $esql:ident) $exec:block
        query_text($qs:ident, $qsql:ident) $query:block
        close($cs:ident) $close:block
        $( $(#[$attr:meta])* $store:ident: $backend:ident ),* $(,)?
    ) => {
        /// The SQL store test kit's driver for the store `S`.
        pub struct $driver<S>(::std::marker::PhantomData<S>);
        $(
            $(#[$attr])*
            #[$crate::__async_trait]
            impl $crate::testkit::TestDriver for $driver<$krate::$store> {
                type Store = $krate::$store;
                type Error = $krate::Error;
                const BACKEND: $crate::testkit::Backend = $crate::testkit::Backend::$backend;

                async fn connect(url: &str) -> ::std::result::Result<Self::Store, Self::Error> {
                    $krate::$store::connect(url).await
                }

                async fn migrate(store: &Self::Store) -> ::std::result::Result<(), Self::Error> {
                    store.migrate().await
                }

                async fn connect_any(
                    url: &str,
                ) -> ::std::result::Result<
                    (
                        $crate::testkit::Backend,
                        ::std::boxed::Box<dyn $crate::__core::MaintenanceStore>,
                    ),
                    Self::Error,
                > {
                    let store = $krate::connect(url).await?;
                    store.migrate().await?;
                    let backend = match store.backend() {
                        $krate::Backend::Sqlite => $crate::testkit::Backend::Sqlite,
                        $krate::Backend::Postgres => $crate::testkit::Backend::Postgres,
                        $krate::Backend::MySql => $crate::testkit::Backend::MySql,
                    };
                    Ok((backend, ::std::boxed::Box::new(store)))
                }

                async fn exec($es: &Self::Store, $esql: &str) -> u64 $exec

                async fn query_text($qs: &Self::Store, $qsql: &str) -> String $query

                async fn close($cs: &Self::Store) $close
            }
        )*
    };
}

/// Generates one `#[tokio::test]` per case of the SQL store suite for one store on one
/// backend (`sqlite`, `postgres` or `mysql`), the core's conformance suite included, with a
/// [`TestDriver`](crate::testkit::TestDriver) for the store. See the
/// [module docs](crate::testkit).
///
/// ```text
/// maintenance_sql::sql_store_conformance_tests!(mysql: MyDriver<MySqlStore>);
/// ```
#[macro_export]
macro_rules! sql_store_conformance_tests {
    (sqlite: $driver:ty) => {
        $crate::sql_store_conformance_tests!(@all $driver;
            has_no_change_feed,
            a_removed_file_is_noticed_and_not_created_again,
            timestamps_are_stored_as_rfc3339_text,
            unreadable_timestamps_read_as_unset,
        );
    };
    (postgres: $driver:ty) => {
        $crate::sql_store_conformance_tests!(@all $driver;
            connect_accepts_both_schemes,
            timestamps_are_native_utc,
            notify_reaches_a_handle_on_another_store,
            feed_reconnects_after_its_connection_drops,
            feed_ends_when_the_receiver_is_dropped,
            out_of_range_timestamps_read_as_unset,
            a_site_deleted_in_plain_sql_is_dropped_incrementally,
        );
    };
    (mysql: $driver:ty) => {
        $crate::sql_store_conformance_tests!(@all $driver;
            has_no_change_feed,
            connect_accepts_both_schemes,
            timestamps_are_utc_datetimes,
            zero_dates_read_as_unset,
            patterns_differing_in_case_or_trailing_space_are_distinct,
        );
    };
    (@all $driver:ty; $($case:ident),* $(,)?) => {
        $crate::testkit::__core_conformance_tests!($crate::testkit::fresh_store::<$driver>);
        $crate::sql_store_conformance_tests!(@cases $driver;
            migrations_are_idempotent,
            migrate_restores_what_was_deleted_by_hand,
            concurrent_migrations_leave_one_default_site,
            concurrent_writes_are_serialised,
            bad_rows_are_skipped,
            behaves_like_the_memory_store,
            hot_path_makes_no_store_calls,
            a_change_in_plain_sql_is_picked_up_incrementally,
            a_scope_written_in_plain_sql_is_read,
            tags_written_in_plain_sql_are_read,
            $($case,)*
        );
    };
    (@cases $driver:ty; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::testkit::cases::$case::<$driver>().await
            }
        )*
    };
}

/// Checks the message of a URL a store of build `B` refused: it names `url` without its
/// password (the tests' `hunter2`), and each scheme the build accepts, spelt in full.
pub fn assert_refused_url_message<B: crate::url::Build>(message: &str, url: &str) {
    use crate::url::Backend;
    assert!(!message.contains("hunter2"), "{message}");
    assert!(message.contains(&crate::url::redact_url(url)), "{message}");
    for backend in B::COMPILED {
        let schemes = match backend {
            Backend::Sqlite => "`sqlite:`",
            Backend::Postgres => "`postgres://` or `postgresql://`",
            Backend::MySql => "`mysql://` or `mariadb://`",
            Backend::__Build(never, _) => match *never {},
        };
        assert!(message.contains(schemes), "{message} should name {schemes}");
    }
}
