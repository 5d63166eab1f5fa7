//! What a server costs its database: one connection, whatever it has done since it started
//! (migrations, loads, reloads). On PostgreSQL it reads on the change feed's connection (its
//! `LISTEN`); the connection of its first load closes once idle (maintenance-sqlx) or as soon as
//! the feed listens (maintenance-diesel). On MariaDB it polls on one. The test projects' servers
//! are on maintenance-sqlx; a handle started by maintenance-diesel's `Startup` is counted too.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use maintenance_core::{Policy, SiteRef, StateChange};
use maintenance_examples::{Config, open_store};
use maintenance_sql::testkit::eventually;
use maintenance_tests::databases::{fresh_mysql_url, fresh_postgres_url, texts};
use maintenance_tests::http::{Server, client, serve};

/// Waits until `url`'s database has `want` connections besides the counting one, and checks
/// that it still has as many a moment later (polls and reloads open no more).
async fn settles_at(url: &str, count_sql: &str, want: usize) {
    let mut seen = 0;
    // On PostgreSQL the sqlx pool's connection of the first load closes once idle (10 s).
    for _ in 0..300 {
        seen = connections(url, count_sql).await;
        if seen == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, want, "connections held by one server");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(connections(url, count_sql).await, want);
}

/// The connections to `url`'s database other than the one that counts them.
async fn connections(url: &str, count_sql: &str) -> usize {
    let n: Vec<String> = texts(url, count_sql).await;
    n[0].parse::<usize>().unwrap() - 1
}

async fn holds(url: &str, count_sql: &str, want: usize) {
    let config = Config {
        database_url: url.to_owned(),
        bind: "127.0.0.1:0".parse().unwrap(),
        poll_interval: Duration::from_millis(50),
        ..Config::default()
    };
    let served = serve(Server::Axum, &config).await;
    // A change followed: migrations, a load and a reload are behind it.
    let store = open_store(url).await.unwrap();
    store
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "ops")
        .await
        .unwrap();
    let http = client();
    for _ in 0..200 {
        if served.status(&http, "localhost", "/").await == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(served.status(&http, "localhost", "/").await, 503);
    drop(store);
    // The operator's store is closed; what is left is the server's.
    settles_at(url, count_sql, want).await;
}

/// The same for a handle of maintenance-diesel's `Startup` (migrations and first load on its
/// pool, then the change feed or polling), following a change made meanwhile.
async fn diesel_holds(url: &str, count_sql: &str, want: usize) {
    let policy = Policy::builder()
        .poll_interval(Duration::from_millis(50))
        .build()
        .unwrap();
    let handle = maintenance_diesel::Startup::new(url)
        .start(policy)
        .await
        .unwrap();
    let store = open_store(url).await.unwrap();
    store
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "ops")
        .await
        .unwrap();
    let on = || {
        handle
            .snapshot()
            .and_then(|s| s.default_site().map(|site| site.state().enabled))
            == Some(true)
    };
    assert!(eventually(30, on).await, "the change is followed");
    drop(store);
    settles_at(url, count_sql, want).await;
    // A change after the count is still followed, on the same connection.
    let store = open_store(url).await.unwrap();
    store
        .set_state(&SiteRef::Default, &StateChange::turn_off(), "ops")
        .await
        .unwrap();
    drop(store);
    assert!(eventually(30, || !on()).await, "the next change too");
    settles_at(url, count_sql, want).await;
    if count_sql == PG_COUNT {
        // The one connection is the change feed's: reads borrow it, and changes are pushed.
        let feeds = texts(url, PG_FEEDS).await;
        assert_eq!(feeds, ["1"], "the connection left is the one that listens");
    }
    drop(handle);
}

const PG_COUNT: &str =
    "SELECT count(*)::text FROM pg_stat_activity WHERE datname = current_database()";
const PG_FEEDS: &str = "SELECT count(*)::text FROM pg_stat_activity \
     WHERE datname = current_database() AND application_name = 'maintenance change feed'";
const MYSQL_COUNT: &str =
    "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.processlist WHERE db = DATABASE()";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_postgres_holds_one_connection() {
    let Some(url) = fresh_postgres_url("a_server_on_postgres_holds_one_connection").await else {
        return;
    };
    holds(&url, PG_COUNT, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_mariadb_holds_one_connection() {
    let Some(url) = fresh_mysql_url("a_server_on_mariadb_holds_one_connection").await else {
        return;
    };
    holds(&url, MYSQL_COUNT, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diesel_handle_on_postgres_holds_one_connection() {
    let test = "a_diesel_handle_on_postgres_holds_one_connection";
    let Some(url) = fresh_postgres_url(test).await else {
        return;
    };
    diesel_holds(&url, PG_COUNT, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diesel_handle_on_mariadb_holds_one_connection() {
    let test = "a_diesel_handle_on_mariadb_holds_one_connection";
    let Some(url) = fresh_mysql_url(test).await else {
        return;
    };
    diesel_holds(&url, MYSQL_COUNT, 1).await;
}
