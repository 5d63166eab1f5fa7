//! What a server costs its database: one connection, whatever it has done since it started
//! (migrations, loads, reloads). On PostgreSQL it reads on the change feed's connection (its
//! `LISTEN`); the connection of its first load closes once idle. On MariaDB it polls on one.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use maintenance_core::{SiteRef, StateChange};
use maintenance_examples::{Config, open_store};
use maintenance_tests::databases::{fresh_mysql_url, fresh_postgres_url, texts};
use maintenance_tests::http::{Server, client, serve};

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
    let mut seen = 0;
    // On PostgreSQL the pool's connection of the first load closes once idle (10 s).
    for _ in 0..300 {
        seen = connections(url, count_sql).await;
        if seen == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, want, "connections held by one server");
    // Polls and reloads go on without opening more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(connections(url, count_sql).await, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_postgres_holds_one_connection() {
    let Some(url) = fresh_postgres_url("a_server_on_postgres_holds_one_connection").await else {
        return;
    };
    let sql = "SELECT count(*)::text FROM pg_stat_activity WHERE datname = current_database()";
    holds(&url, sql, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_mariadb_holds_one_connection() {
    let Some(url) = fresh_mysql_url("a_server_on_mariadb_holds_one_connection").await else {
        return;
    };
    let sql =
        "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.processlist WHERE db = DATABASE()";
    holds(&url, sql, 1).await;
}
