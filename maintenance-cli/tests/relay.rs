//! `maintenance relay` as a process: every kind of change made through the CLI and in plain
//! SQL goes from the database, through the relay and a real nats-server, to a follower; two
//! relays at once, one killed mid-stream, lose and revert nothing.

// Tests may unwrap: a panic is how they fail.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Backend, Background, cli_ok, fresh_db, store};
use futures_util::StreamExt;
use maintenance_core::MaintenanceSource;
use maintenance_nats::NatsSource;
use maintenance_nats::async_nats;
use maintenance_nats::record::{SiteRecord, decode};
use maintenance_nats::testkit::{drop_bucket, nats_url, unique_bucket as bucket_for};

/// `maintenance relay` running in the background; killed when dropped.
fn relay(db_url: &str, nats: &str, bucket: &str) -> Background {
    Background::start(
        db_url,
        &["relay", "--nats-url", nats, "--bucket", bucket],
        &[],
    )
}

/// A follower of `bucket`, as a server would hold one.
async fn follower(nats: &str, bucket: &str) -> NatsSource {
    NatsSource::connect(nats, bucket)
        .await
        .unwrap()
        .load_timeout(Duration::from_secs(10))
}

/// Waits (at most 15 s) until the follower serves exactly what the database holds.
async fn until_followed(source: &NatsSource, db_url: &str, what: &str) {
    let db = store(db_url).await;
    let mut last = String::new();
    for _ in 0..300 {
        let want = db.load().await.unwrap();
        match source.load().await {
            Ok(got) if got.sites == want.sites && got.revision >= want.revision => return,
            Ok(got) => last = format!("revision {} of {}", got.revision, want.revision),
            Err(e) => last = maintenance_core::ErrorChain(&e).to_string(),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: the follower never caught up ({last})");
}

/// Plain SQL on the database, as an operator may write it.
async fn plain_sql(url: &str, sql: &str) {
    use maintenance_sqlx::sqlx::{self, AssertSqlSafe, Connection};
    let sql = AssertSqlSafe(sql.to_owned());
    if url.starts_with("sqlite") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
    } else if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
    }
}

async fn every_change_goes_through_the_relay(backend: Backend, test: &str) {
    let Some(nats) = nats_url(test) else {
        return;
    };
    let Some(db) = fresh_db(backend, test).await else {
        return;
    };
    cli_ok(&db.url, &["migrate"]).await;
    let bucket = bucket_for(test);
    let _relay = relay(&db.url, &nats, &bucket);
    let source = follower(&nats, &bucket).await;
    until_followed(&source, &db.url, "the first resync").await;
    let steps: [&[&str]; 12] = [
        &["on", "--message", "Back at noon", "--retry-after", "60"],
        &["on", "--for", "2h"],
        &["on", "--read-only"],
        &["on", "--only", "^checkout/"],
        &["off"],
        &["sites", "add", "shop.example", "--name", "Shop"],
        &["on", "--site", "shop.example"],
        &["ignore", "add", "^health$", "--site", "shop.example"],
        &["allow", "add", "10.1.0.0/16", "--site", "shop.example"],
        &["ignore", "remove", "^health$", "--site", "shop.example"],
        &["allow", "remove", "10.1.0.0/16", "--site", "shop.example"],
        &["sites", "remove", "shop.example"],
    ];
    for step in steps {
        cli_ok(&db.url, step).await;
        until_followed(&source, &db.url, &step.join(" ")).await;
    }
    // As an operator writes it by hand: the change, then the revision bumped.
    plain_sql(
        &db.url,
        "UPDATE maintenance_sites SET message = 'Written in SQL' WHERE is_default = TRUE",
    )
    .await;
    plain_sql(
        &db.url,
        "UPDATE maintenance_revision SET revision = revision + 1 WHERE id = 1",
    )
    .await;
    until_followed(&source, &db.url, "plain SQL").await;
    let sites = source.load().await.unwrap().sites;
    assert_eq!(sites.len(), 1);
    assert_eq!(sites[0].message.as_deref(), Some("Written in SQL"));
    drop_bucket(&nats, &bucket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_goes_through_the_relay_on_sqlite() {
    every_change_goes_through_the_relay(Backend::Sqlite, "relay_sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_goes_through_the_relay_on_postgres() {
    every_change_goes_through_the_relay(Backend::Postgres, "relay_postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_goes_through_the_relay_on_mariadb() {
    every_change_goes_through_the_relay(Backend::MySql, "relay_mariadb").await;
}

/// Records every site value the bucket takes, by key, with the revision it carries.
fn record_bucket(kv: async_nats::jetstream::kv::Store) -> Arc<Mutex<HashMap<String, Vec<i64>>>> {
    let seen = Arc::new(Mutex::new(HashMap::<String, Vec<i64>>::new()));
    let sink = Arc::clone(&seen);
    tokio::spawn(async move {
        let mut watch = kv.watch_all().await.unwrap();
        while let Some(Ok(entry)) = watch.next().await {
            if entry.operation != async_nats::jetstream::kv::Operation::Put
                || !entry.key.starts_with("site.")
            {
                continue;
            }
            let record: SiteRecord = decode(&entry.key, &entry.value).unwrap();
            sink.lock()
                .unwrap()
                .entry(entry.key)
                .or_default()
                .push(record.revision);
        }
    });
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_one_killed_mid_stream_lose_and_revert_nothing() {
    let test = "two_relays";
    let Some(nats) = nats_url(test) else {
        return;
    };
    let Some(db) = fresh_db(Backend::Postgres, test).await else {
        return;
    };
    cli_ok(&db.url, &["migrate"]).await;
    for i in 0..5 {
        cli_ok(&db.url, &["sites", "add", &format!("s{i}.example")]).await;
    }
    let bucket = bucket_for(test);
    let first = relay(&db.url, &nats, &bucket);
    let _second = relay(&db.url, &nats, &bucket);
    let source = follower(&nats, &bucket).await;
    until_followed(&source, &db.url, "both relays started").await;
    let client = async_nats::connect(&nats).await.unwrap();
    let kv = async_nats::jetstream::new(client)
        .get_key_value(&bucket)
        .await
        .unwrap();
    let seen = record_bucket(kv);

    let mut first = Some(first);
    for round in 0..30 {
        let site = format!("s{}.example", round % 5);
        let message = format!("round {round}");
        let args = ["on", "--site", site.as_str(), "--message", message.as_str()];
        cli_ok(&db.url, &args).await;
        if round == 12 {
            // Killed without warning, between two changes or in the middle of one.
            drop(first.take());
        }
    }
    until_followed(&source, &db.url, "after the kill").await;
    for (key, revisions) in seen.lock().unwrap().iter() {
        assert!(
            revisions.windows(2).all(|w| w[0] <= w[1]),
            "{key} went back to an older state: {revisions:?}"
        );
    }
    assert!(!seen.lock().unwrap().is_empty(), "the writes were seen");
    drop_bucket(&nats, &bucket).await;
}
