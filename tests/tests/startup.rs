//! `Startup` in both store crates (`maintenance_sqlx::Startup`, `maintenance_diesel::Startup`):
//! a server started while its database is down serves with the fail mode at once, then
//! migrates and follows the database when it answers; a database that answers but refuses
//! stops start-up with an error naming the cause, never the password; one that answers is
//! migrated and loaded before `start` returns.
//!
//! PostgreSQL and MariaDB/MySQL run when `MAINTENANCE_TEST_POSTGRES_URL` /
//! `MAINTENANCE_TEST_MYSQL_URL` are set, each case in a fresh database, and print that they were
//! skipped otherwise; SQLite has no outage to wait for and runs always.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use maintenance_core::{ErrorChain, FailMode, Maintenance, MaintenanceSource, Policy};
use maintenance_sql::testkit::eventually;
use maintenance_tests::databases::{fresh_mysql_url, fresh_postgres_url};
use maintenance_tests::faults::{TcpProxy, upstream_of};

#[derive(Debug, Clone, Copy)]
enum Store {
    Sqlx,
    Diesel,
}

const STORES: [Store; 2] = [Store::Sqlx, Store::Diesel];

fn policy() -> Policy {
    Policy::builder()
        .fail_mode(FailMode::Closed)
        .build()
        .unwrap()
}

/// Starts through `store`'s `Startup`: the handle, or the error's whole chain.
async fn start(store: Store, url: &str, wait: Duration) -> Result<Maintenance, String> {
    match store {
        Store::Sqlx => maintenance_sqlx::Startup::new(url)
            .wait_at_most(wait)
            .start(policy())
            .await
            .map_err(|e| ErrorChain(&e).to_string()),
        Store::Diesel => maintenance_diesel::Startup::new(url)
            .wait_at_most(wait)
            .start(policy())
            .await
            .map_err(|e| ErrorChain(&e).to_string()),
    }
}

/// The database is down at start: `start` returns after the wait with no snapshot (the fail
/// mode answers); when it comes up, the tables are migrated and the handle follows them.
async fn down_then_up(store: Store, url: &str) {
    let proxy = TcpProxy::start_down(upstream_of(url).await.unwrap())
        .await
        .unwrap();
    let handle = start(store, &proxy.url(url), Duration::from_millis(300))
        .await
        .unwrap_or_else(|e| panic!("{store:?}: start while down: {e}"));
    assert!(handle.snapshot().is_none(), "{store:?}: nothing loaded yet");
    proxy.restore();
    assert!(
        eventually(30, || handle.snapshot().is_some()).await,
        "{store:?}: migrated and loaded once the database answers"
    );
    let direct = maintenance_sqlx::connect(url).await.unwrap();
    let contents = direct.load().await.unwrap();
    assert_eq!(contents.sites.len(), 1, "{store:?}: the default site");
}

/// A database that answers but refuses: an error at once, naming the cause, never the password.
async fn refused(store: Store, url: &str, secret: &str, cause: &str) {
    let error = start(store, url, Duration::from_secs(30))
        .await
        .err()
        .unwrap_or_else(|| panic!("{store:?}: {url} should be refused"));
    assert!(!error.contains(secret), "{store:?}: {error}");
    assert!(error.contains(cause), "{store:?}: {error}");
}

/// A database that answers: migrated and loaded before `start` returns.
async fn answers(store: Store, url: &str) {
    let handle = start(store, url, Duration::from_secs(30)).await.unwrap();
    let snapshot = handle.snapshot().expect("loaded before start returned");
    assert_eq!(snapshot.sites().count(), 1, "{store:?}: the default site");
}

/// Each store, on a fresh database of its own from `fresh` (named after `test`), waits out an
/// outage ([`down_then_up`]); skipped when `fresh` has no server.
async fn waits_out_an_outage(fresh: impl AsyncFn(&str) -> Option<String>, test: &str) {
    for store in STORES {
        let Some(url) = fresh(test).await else {
            return;
        };
        down_then_up(store, &url).await;
    }
}

maintenance_tests::multi_thread_tests! {
    postgres_startup_waits_out_an_outage => waits_out_an_outage(fresh_postgres_url, "postgres_startup_waits_out_an_outage");
    mysql_startup_waits_out_an_outage => waits_out_an_outage(fresh_mysql_url, "mysql_startup_waits_out_an_outage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_startup_stops_on_a_refusal() {
    let Some(url) = fresh_postgres_url("postgres_startup_stops_on_a_refusal").await else {
        return;
    };
    // Trust authentication takes any password, so the refusal is a database that does not
    // exist; the password must not show all the same.
    let missing = maintenance_tests::databases::with_database(
        &maintenance_tests::databases::with_user(&url, "postgres", "hunter2"),
        "mt_no_such_database",
    );
    for store in STORES {
        refused(
            store,
            &missing,
            "hunter2",
            "\"mt_no_such_database\" does not exist",
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_startup_stops_on_a_refusal() {
    let Some(url) = fresh_mysql_url("mysql_startup_stops_on_a_refusal").await else {
        return;
    };
    let wrong = maintenance_tests::databases::with_user(&url, "nobody", "hunter2");
    for store in STORES {
        refused(store, &wrong, "hunter2", "Access denied for user 'nobody'").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_on_an_answering_database_loads_before_returning() {
    for store in STORES {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        answers(store, &url).await;
        if let Some(url) = fresh_postgres_url("startup_answering_postgres").await {
            answers(store, &url).await;
        }
        if let Some(url) = fresh_mysql_url("startup_answering_mysql").await {
            answers(store, &url).await;
        }
    }
}
