//! Our migrations beside the application's own, on one database: maintenance-sqlx and
//! maintenance-diesel record theirs in `maintenance_migrations` and never in sqlx's
//! `_sqlx_migrations` or diesel's `__diesel_schema_migrations`, so an application's sqlx
//! migrator (`Migrator::run`) and its diesel migrations (`embed_migrations!`) run before ours,
//! after ours, and again after a restart. A database migrated by 0.1 (our rows in those shared
//! tables) is upgraded in place by `migrate()`: our rows are moved, the application's left, its
//! state (flag, message, patterns) intact, and the application's migrator runs after.
//!
//! SQLite always runs (a temporary file); PostgreSQL and MariaDB/MySQL run when
//! `MAINTENANCE_TEST_POSTGRES_URL` / `MAINTENANCE_TEST_MYSQL_URL` are set, each case in a fresh
//! database, and print that they were skipped otherwise.
#![allow(clippy::unwrap_used)]

use std::borrow::Cow;

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use maintenance_core::MaintenanceStore;
use maintenance_diesel::diesel;
use maintenance_diesel::diesel::Connection as _;
use maintenance_diesel::diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use maintenance_diesel::diesel_async::{AsyncMysqlConnection, AsyncPgConnection};
use maintenance_sql::migrations::{self as ours, Migration as OurMigration};
use maintenance_sqlx::sqlx::migrate::{Migration, MigrationType, Migrator};
use maintenance_sqlx::sqlx::{self, AssertSqlSafe, Connection, SqlSafeStr};
use maintenance_tests::databases::{fresh_mysql_url, fresh_postgres_url, texts};

/// The application's own diesel migrations (one, `2024-01-01-000000_create_app_notes`).
const APP_DIESEL: EmbeddedMigrations = embed_migrations!("app_migrations");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    Sqlx,
    Diesel,
}

impl Store {
    /// The table that the store's 0.1 recorded our migrations in, and the application's
    /// migrator (sqlx's or diesel's) records its own in.
    fn shared_table(self) -> &'static str {
        match self {
            Store::Sqlx => "_sqlx_migrations",
            Store::Diesel => "__diesel_schema_migrations",
        }
    }
}

/// A fresh database of `backend`, kept alive with its temporary directory, or `None` (skipped).
async fn fresh(backend: Backend, test: &str) -> Option<(String, Option<tempfile::TempDir>)> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("app.db").display());
            Some((url, Some(dir)))
        }
        Backend::Postgres => Some((fresh_postgres_url(test).await?, None)),
        Backend::MySql => Some((fresh_mysql_url(test).await?, None)),
    }
}

/// A SQLite connection that creates the file, as an application's first start does.
async fn sqlite(url: &str) -> sqlx::SqliteConnection {
    use std::str::FromStr;
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .unwrap()
        .create_if_missing(true);
    sqlx::ConnectOptions::connect(&options).await.unwrap()
}

async fn store(store: Store, url: &str) -> Box<dyn MaintenanceStore> {
    match store {
        Store::Sqlx => Box::new(maintenance_sqlx::connect(url).await.unwrap()),
        Store::Diesel => Box::new(maintenance_diesel::connect(url).await.unwrap()),
    }
}

async fn our_migrate(which: Store, url: &str) {
    migrate_result(which, url)
        .await
        .unwrap_or_else(|e| panic!("{which:?} migrate(): {e}"));
}

/// What `migrate()` of `which` says on `url`: its error as a chain.
async fn migrate_result(which: Store, url: &str) -> Result<(), String> {
    match which {
        Store::Sqlx => {
            let s = maintenance_sqlx::connect(url).await.unwrap();
            s.migrate().await.map_err(|e| chain(&e))
        }
        Store::Diesel => {
            let s = maintenance_diesel::connect(url).await.unwrap();
            s.migrate().await.map_err(|e| chain(&e))
        }
    }
}

/// Runs one statement on the SQLite database at `url`.
async fn execute_on_sqlite(url: &str, sql: &'static str) {
    let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
    sqlx::query(sql).execute(&mut c).await.unwrap();
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    maintenance_core::ErrorChain(e).to_string()
}

/// The application's sqlx migrations: version 1 (the number our first migration has too, with
/// another checksum) and a timestamped one.
fn app_sqlx_migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            Cow::Borrowed("create app items"),
            MigrationType::Simple,
            AssertSqlSafe("CREATE TABLE app_items (id BIGINT PRIMARY KEY, name TEXT NOT NULL)")
                .into_sql_str(),
            false,
        ),
        Migration::new(
            20240101000000,
            Cow::Borrowed("create app orders"),
            MigrationType::Simple,
            AssertSqlSafe("CREATE TABLE app_orders (id BIGINT PRIMARY KEY, item BIGINT NOT NULL)")
                .into_sql_str(),
            false,
        ),
    ])
}

/// How many of our migrations 0.1 had (`0001`-`0003`); the later ones are 0.2's own.
const IN_0_1: usize = 3;

/// maintenance-sqlx 0.1's migrator: our files under their own versions, in `_sqlx_migrations`.
fn sqlx_0_1_migrator(backend: Backend) -> Migrator {
    Migrator::with_migrations(
        ours_for(backend)[..IN_0_1]
            .iter()
            .map(|m| {
                Migration::new(
                    m.number(),
                    Cow::Owned(m.name[5..].replace('_', " ")),
                    MigrationType::Simple,
                    AssertSqlSafe(m.sql).into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

fn ours_for(backend: Backend) -> &'static [OurMigration] {
    match backend {
        Backend::Sqlite => ours::SQLITE,
        Backend::Postgres => ours::POSTGRES,
        Backend::MySql => ours::MYSQL,
    }
}

/// Runs a sqlx migrator as the application does, on a connection of its own.
async fn run_sqlx(migrator: &Migrator, backend: Backend, url: &str) -> Result<(), String> {
    let result = match backend {
        Backend::Sqlite => {
            let mut c = sqlite(url).await;
            migrator.run(&mut c).await
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            migrator.run(&mut c).await
        }
        Backend::MySql => {
            let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
            migrator.run(&mut c).await
        }
    };
    result.map_err(|e| e.to_string())
}

/// maintenance-diesel 0.1's migration source: our files under the versions `0001`-`0003`.
struct Diesel01(&'static [OurMigration]);

struct Diesel01Migration(OurMigration);

impl<DB: diesel::backend::Backend> diesel::migration::MigrationSource<DB> for Diesel01 {
    fn migrations(
        &self,
    ) -> diesel::migration::Result<Vec<Box<dyn diesel::migration::Migration<DB>>>> {
        Ok(self
            .0
            .iter()
            .map(|m| Box::new(Diesel01Migration(*m)) as Box<dyn diesel::migration::Migration<DB>>)
            .collect())
    }
}

impl std::fmt::Display for Diesel01Migration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name)
    }
}

impl diesel::migration::MigrationName for Diesel01Migration {
    fn version(&self) -> diesel::migration::MigrationVersion<'_> {
        self.0.version().into()
    }
}

impl diesel::migration::MigrationMetadata for Diesel01Migration {}

impl<DB: diesel::backend::Backend> diesel::migration::Migration<DB> for Diesel01Migration {
    fn run(
        &self,
        conn: &mut dyn diesel::connection::BoxableConnection<DB>,
    ) -> diesel::migration::Result<()> {
        Ok(conn.batch_execute(self.0.sql)?)
    }

    fn revert(
        &self,
        _: &mut dyn diesel::connection::BoxableConnection<DB>,
    ) -> diesel::migration::Result<()> {
        Err("no down".into())
    }

    fn metadata(&self) -> &dyn diesel::migration::MigrationMetadata {
        self
    }

    fn name(&self) -> &dyn diesel::migration::MigrationName {
        self
    }
}

/// Which diesel migrations to run as the application's harness would.
#[derive(Clone, Copy)]
enum DieselSet {
    App,
    Ours01,
}

/// Runs diesel's (blocking) migration harness on a connection of its own.
async fn run_diesel(set: DieselSet, backend: Backend, url: &str) -> Result<(), String> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        fn harness<C>(conn: &mut C, set: DieselSet, backend: Backend) -> Result<(), String>
        where
            C: MigrationHarness<<C as diesel::Connection>::Backend> + diesel::Connection,
        {
            let ran = match set {
                DieselSet::App => conn.run_pending_migrations(APP_DIESEL).map(drop),
                DieselSet::Ours01 => conn
                    .run_pending_migrations(Diesel01(&ours_for(backend)[..IN_0_1]))
                    .map(drop),
            };
            ran.map_err(|e| e.to_string())
        }
        match backend {
            Backend::Sqlite => {
                let path = url.trim_start_matches("sqlite://");
                let mut c = diesel::SqliteConnection::establish(path).unwrap();
                harness(&mut c, set, backend)
            }
            Backend::Postgres => {
                let mut c = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url).unwrap();
                harness(&mut c, set, backend)
            }
            Backend::MySql => {
                let mut c =
                    AsyncConnectionWrapper::<AsyncMysqlConnection>::establish(&url).unwrap();
                harness(&mut c, set, backend)
            }
        }
    })
    .await
    .unwrap()
}

/// The versions in `which`'s [`Store::shared_table`].
async fn shared_versions(which: Store, backend: Backend, url: &str) -> Vec<String> {
    let cast = if backend == Backend::MySql {
        "CHAR"
    } else {
        "TEXT"
    };
    let table = which.shared_table();
    texts(
        url,
        &format!("SELECT CAST(version AS {cast}) FROM {table} ORDER BY version"),
    )
    .await
}

/// `maintenance_migrations` as `version name adopted_from`.
async fn our_records(backend: Backend, url: &str) -> Vec<String> {
    let sql = if backend == Backend::MySql {
        "SELECT CAST(CONCAT(version, ' ', name, ' ', COALESCE(adopted_from, '-')) AS CHAR) \
         FROM maintenance_migrations ORDER BY version"
    } else {
        "SELECT CAST(version AS TEXT) || ' ' || name || ' ' || COALESCE(adopted_from, '-') \
         FROM maintenance_migrations ORDER BY version"
    };
    texts(url, sql).await
}

/// Our records: 0.1's migrations taken `from` a shared table (`-`: run here), and 0.2's own,
/// always run here.
fn records(from: &str) -> Vec<String> {
    let adopted = [
        "1 0001_maintenance_tables",
        "2 0002_site_changes",
        "3 0003_site_scopes",
    ]
    .iter()
    .map(|r| format!("{r} {from}"));
    adopted.chain(["4 0004_site_tags -".to_owned()]).collect()
}

/// Which of the application's tables exist.
async fn app_tables(backend: Backend, url: &str) -> Vec<String> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'app\\_%' ESCAPE '\\' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name LIKE 'app\\_%' ORDER BY 1"
        }
        Backend::MySql => {
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name LIKE 'app\\_%' ORDER BY 1"
        }
    };
    texts(url, sql).await
}

/// The application's sqlx migrations and ours, in both orders and again after a restart.
async fn beside_sqlx_app(backend: Backend, test: &str) {
    for which in [Store::Sqlx, Store::Diesel] {
        for app_first in [true, false] {
            let Some((url, _dir)) = fresh(backend, test).await else {
                return;
            };
            let app = app_sqlx_migrator();
            let when = format!("{backend:?}, {which:?}, app first: {app_first}");
            if app_first {
                run_sqlx(&app, backend, &url).await.unwrap();
                our_migrate(which, &url).await;
            } else {
                our_migrate(which, &url).await;
                run_sqlx(&app, backend, &url)
                    .await
                    .unwrap_or_else(|e| panic!("{when}: the application's migrator: {e}"));
            }
            // A restart: both again, in the other order.
            our_migrate(which, &url).await;
            run_sqlx(&app, backend, &url)
                .await
                .unwrap_or_else(|e| panic!("{when}: the application's migrator again: {e}"));
            assert_eq!(
                shared_versions(Store::Sqlx, backend, &url).await,
                ["1", "20240101000000"],
                "{when}: _sqlx_migrations holds the application's rows only"
            );
            assert_eq!(our_records(backend, &url).await, records("-"), "{when}");
            assert_eq!(
                app_tables(backend, &url).await,
                ["app_items", "app_orders"],
                "{when}"
            );
            let contents = store(which, &url).await.load().await.unwrap();
            assert_eq!(contents.sites.len(), 1, "{when}: the default site");
        }
    }
}

/// The application's diesel migrations and ours, in both orders and again after a restart.
async fn beside_diesel_app(backend: Backend, test: &str) {
    for which in [Store::Sqlx, Store::Diesel] {
        for app_first in [true, false] {
            let Some((url, _dir)) = fresh(backend, test).await else {
                return;
            };
            let when = format!("{backend:?}, {which:?}, app first: {app_first}");
            if app_first {
                run_diesel(DieselSet::App, backend, &url).await.unwrap();
                our_migrate(which, &url).await;
            } else {
                our_migrate(which, &url).await;
                run_diesel(DieselSet::App, backend, &url)
                    .await
                    .unwrap_or_else(|e| panic!("{when}: the application's harness: {e}"));
            }
            our_migrate(which, &url).await;
            run_diesel(DieselSet::App, backend, &url)
                .await
                .unwrap_or_else(|e| panic!("{when}: the application's harness again: {e}"));
            assert_eq!(
                shared_versions(Store::Diesel, backend, &url).await,
                ["20240101000000"],
                "{when}: __diesel_schema_migrations holds the application's row only"
            );
            assert_eq!(our_records(backend, &url).await, records("-"), "{when}");
            assert_eq!(app_tables(backend, &url).await, ["app_notes"], "{when}");
        }
    }
}

/// A state worth keeping (the flag on with a message, an ignored pattern, a second site),
/// written as 0.1 wrote it: in plain SQL, since this build's stores read the tables of 0.2,
/// which a 0.1 database does not have yet.
async fn state_0_1(url: &str) {
    for sql in [
        "UPDATE maintenance_sites SET enabled = TRUE, message = 'Back at noon' WHERE is_default = TRUE",
        "INSERT INTO maintenance_ignored_paths (site_id, pattern, description) \
         SELECT id, '^healthz$', 'probes' FROM maintenance_sites WHERE is_default = TRUE",
        "INSERT INTO maintenance_sites (domain, name) VALUES ('shop.example.com', 'Shop')",
        "UPDATE maintenance_revision SET revision = revision + 1 WHERE id = 1",
    ] {
        let _: Vec<String> = texts(url, sql).await;
    }
}

/// A database migrated by 0.1 through `recorded_by`, with state, upgraded by `upgrader`'s
/// `migrate()`, then migrated by the application.
async fn upgrade_0_1(backend: Backend, test: &str) {
    for recorded_by in [Store::Sqlx, Store::Diesel] {
        for upgrader in [Store::Sqlx, Store::Diesel] {
            let Some((url, _dir)) = fresh(backend, test).await else {
                return;
            };
            let when = format!("{backend:?}, 0.1 by {recorded_by:?}, upgraded by {upgrader:?}");
            match recorded_by {
                Store::Sqlx => run_sqlx(&sqlx_0_1_migrator(backend), backend, &url)
                    .await
                    .unwrap(),
                Store::Diesel => run_diesel(DieselSet::Ours01, backend, &url).await.unwrap(),
            }
            state_0_1(&url).await;
            our_migrate(upgrader, &url).await;
            // The state 0.1 kept, read through 0.2 once upgraded.
            let before = store(upgrader, &url).await.load().await.unwrap();
            let default = before.sites.iter().find(|s| s.is_default).unwrap();
            assert!(default.enabled, "{when}: the flag is on");
            assert_eq!(default.message.as_deref(), Some("Back at noon"), "{when}");
            assert_eq!(default.ignored_paths[0].pattern, "^healthz$", "{when}");
            assert!(
                before.sites.iter().any(|s| s.domain == "shop.example.com"),
                "{when}: the second site"
            );

            let (shared, app_run) = match recorded_by {
                Store::Sqlx => (shared_versions(Store::Sqlx, backend, &url).await, {
                    run_sqlx(&app_sqlx_migrator(), backend, &url)
                        .await
                        .unwrap_or_else(|e| panic!("{when}: the application's migrator: {e}"));
                    shared_versions(Store::Sqlx, backend, &url).await
                }),
                Store::Diesel => (shared_versions(Store::Diesel, backend, &url).await, {
                    run_diesel(DieselSet::App, backend, &url)
                        .await
                        .unwrap_or_else(|e| panic!("{when}: the application's harness: {e}"));
                    shared_versions(Store::Diesel, backend, &url).await
                }),
            };
            assert!(
                shared.is_empty(),
                "{when}: our rows left the shared table: {shared:?}"
            );
            let from = recorded_by.shared_table();
            assert_eq!(our_records(backend, &url).await, records(from), "{when}");
            let app_versions: &[&str] = match recorded_by {
                Store::Sqlx => &["1", "20240101000000"],
                Store::Diesel => &["20240101000000"],
            };
            assert_eq!(app_run, app_versions, "{when}: the application's rows");
            // A restart of both stores changes nothing more.
            our_migrate(Store::Sqlx, &url).await;
            our_migrate(Store::Diesel, &url).await;
            for reader in [Store::Sqlx, Store::Diesel] {
                let after = store(reader, &url).await.load().await.unwrap();
                assert_eq!(after, before, "{when}: the state read by {reader:?}");
            }
            assert_eq!(our_records(backend, &url).await, records(from), "{when}");
        }
    }
}

/// A diesel table numbered like ours by the application: rows `0001`-`0003` there may be the
/// application's, so none is taken; the idempotent migrations run and are recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_diesel_rows_numbered_like_ours_are_left_alone() {
    let (url, _dir) = fresh(Backend::Sqlite, "numbered_like_ours").await.unwrap();
    run_diesel(DieselSet::Ours01, Backend::Sqlite, &url)
        .await
        .unwrap();
    execute_on_sqlite(
        &url,
        "INSERT INTO __diesel_schema_migrations (version) VALUES ('0005')",
    )
    .await;
    for which in [Store::Sqlx, Store::Diesel] {
        our_migrate(which, &url).await;
        assert_eq!(
            shared_versions(Store::Diesel, Backend::Sqlite, &url).await,
            ["0001", "0002", "0003", "0005"],
            "{which:?}"
        );
        assert_eq!(
            our_records(Backend::Sqlite, &url).await,
            records("-"),
            "{which:?}"
        );
    }
}

/// A fresh SQLite database migrated by `first`, then changed by hand with `statement`: each of
/// `refusers` refuses to migrate it, naming `why`.
async fn sqlite_refused_after(
    test: &str,
    first: Store,
    statement: &'static str,
    refusers: &[Store],
    why: &str,
) {
    let (url, _dir) = fresh(Backend::Sqlite, test).await.unwrap();
    our_migrate(first, &url).await;
    execute_on_sqlite(&url, statement).await;
    for &which in refusers {
        let message = migrate_result(which, &url).await.unwrap_err();
        assert!(message.contains(why), "{which:?}: {message}");
    }
}

/// A database recording a migration this build does not have is refused, naming why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_newer_release_is_refused() {
    sqlite_refused_after(
        "newer",
        Store::Sqlx,
        "INSERT INTO maintenance_migrations (version, name, checksum) VALUES (99, '0099_future', 'ab')",
        &[Store::Sqlx, Store::Diesel],
        "migrated by a newer maintenance-rs (migration 99",
    )
    .await;
}

/// A released migration recorded with another checksum is refused, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_changed_migration_is_refused() {
    sqlite_refused_after(
        "changed",
        Store::Diesel,
        "UPDATE maintenance_migrations SET checksum = 'ab' WHERE version = 2",
        &[Store::Sqlx],
        "migration 0002_site_changes was applied from another text",
    )
    .await;
}

maintenance_tests::multi_thread_tests! {
    sqlite_beside_the_applications_sqlx_migrations => beside_sqlx_app(Backend::Sqlite, "sqlite_beside_sqlx");
    postgres_beside_the_applications_sqlx_migrations => beside_sqlx_app(Backend::Postgres, "postgres_beside_the_applications_sqlx_migrations");
    mysql_beside_the_applications_sqlx_migrations => beside_sqlx_app(Backend::MySql, "mysql_beside_the_applications_sqlx_migrations");
    sqlite_beside_the_applications_diesel_migrations => beside_diesel_app(Backend::Sqlite, "sqlite_beside_diesel");
    postgres_beside_the_applications_diesel_migrations => beside_diesel_app(Backend::Postgres, "postgres_beside_the_applications_diesel_migrations");
    mysql_beside_the_applications_diesel_migrations => beside_diesel_app(Backend::MySql, "mysql_beside_the_applications_diesel_migrations");
    sqlite_a_0_1_database_is_upgraded_in_place => upgrade_0_1(Backend::Sqlite, "sqlite_upgrade");
    postgres_a_0_1_database_is_upgraded_in_place => upgrade_0_1(Backend::Postgres, "postgres_a_0_1_database_is_upgraded_in_place");
    mysql_a_0_1_database_is_upgraded_in_place => upgrade_0_1(Backend::MySql, "mysql_a_0_1_database_is_upgraded_in_place");
}
