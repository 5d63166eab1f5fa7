//! The PostgreSQL store: the core's conformance suite, this crate's own behaviour, and the
//! change feed (`LISTEN`/`NOTIFY`). Needs `MAINTENANCE_TEST_POSTGRES_URL`; skipped without it.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{
    MigrateFuture, RawSql, blocks, eventually, fresh_postgres_store, fresh_postgres_url,
    hour_policy,
};
use maintenance_core::store::ChangeFeed;
use maintenance_core::{Maintenance, MaintenanceSource, MaintenanceStore, SiteRef, StateChange};
use maintenance_diesel::diesel::sql_types::BigInt;
use maintenance_diesel::diesel_async::RunQueryDsl;
use maintenance_diesel::{DieselStore, PgStore};

maintenance_core::store_conformance_tests!(fresh_postgres_store);

fn migrate_fn(store: &PgStore) -> impl Fn() -> MigrateFuture<'static> {
    let store = store.clone();
    move || {
        let store = store.clone();
        Box::pin(async move { store.migrate().await })
    }
}

/// Waits up to `secs` for a notice on `feed`.
async fn notice_within(feed: &mut ChangeFeed, secs: u64) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(secs), feed.recv()).await,
        Ok(Some(()))
    )
}

/// Takes every notice already waiting (such as the one sent on connecting).
async fn drain(feed: &mut ChangeFeed) {
    while tokio::time::timeout(Duration::from_millis(300), feed.recv())
        .await
        .is_ok_and(|m| m.is_some())
    {}
}

#[derive(maintenance_diesel::diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(store: &PgStore, sql: &'static str) -> i64 {
    let mut conn = store.pool().get().await.unwrap();
    let row: Count = maintenance_diesel::diesel::sql_query(sql)
        .get_result(&mut *conn)
        .await
        .unwrap();
    row.n
}

/// How many other connections of this database are listening.
async fn listeners(store: &PgStore) -> i64 {
    count(
        store,
        "SELECT count(*) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent() {
    let Some(store) = fresh_postgres_store().await else {
        return;
    };
    common::migrating_twice_changes_nothing(&store, migrate_fn(&store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_restores_what_was_deleted_by_hand() {
    let Some(store) = fresh_postgres_store().await else {
        return;
    };
    common::migrate_restores_what_was_deleted_by_hand(&store, migrate_fn(&store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_leave_one_default_site() {
    let Some(url) = fresh_postgres_url("concurrent_migrations_leave_one_default_site").await else {
        return;
    };
    let a = PgStore::connect(&url).await.unwrap();
    let b = PgStore::connect(&url).await.unwrap();
    common::concurrent_migrations_leave_one_default_site(
        &a,
        &b,
        Box::pin(a.migrate()),
        Box::pin(b.migrate()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_serialised() {
    let Some(store) = fresh_postgres_store().await else {
        return;
    };
    common::concurrent_writes_are_serialised(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_are_skipped() {
    let Some(store) = fresh_postgres_store().await else {
        return;
    };
    common::bad_rows_are_skipped(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_timestamps_read_as_unset() {
    let Some(store) = fresh_postgres_store().await else {
        return;
    };
    store
        .exec("UPDATE maintenance_sites SET enabled = TRUE, ends_at = 'infinity' WHERE is_default")
        .await;
    let site = store.site(&SiteRef::Default).await.unwrap();
    assert!(site.enabled);
    assert_eq!(site.ends_at, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behaves_like_the_memory_store() {
    let Some(store) = fresh_postgres_store().await else {
        return;
    };
    common::behaves_like_the_memory_store(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_path_makes_no_store_calls() {
    let Some(store) = fresh_postgres_store().await else {
        return;
    };
    common::hot_path_makes_no_store_calls(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_accepts_both_schemes() {
    let Some(url) = fresh_postgres_url("connect_accepts_both_schemes").await else {
        return;
    };
    let other = match url.strip_prefix("postgres://") {
        Some(rest) => format!("postgresql://{rest}"),
        None => url.replacen("postgresql://", "postgres://", 1),
    };
    for url in [url.as_str(), other.as_str()] {
        let store = maintenance_diesel::connect(url).await.unwrap();
        assert!(matches!(store, DieselStore::Postgres(_)), "{url}");
        store.migrate().await.unwrap();
        assert!(store.site(&SiteRef::Default).await.unwrap().is_default);
    }
}

/// A write through store A reaches a handle on store B at once, through B's feed: B's handle
/// would not poll for an hour. A plain UPDATE, through no store, wakes it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_reaches_a_handle_on_another_store() {
    let Some(url) = fresh_postgres_url("notify_reaches_a_handle_on_another_store").await else {
        return;
    };
    let a = PgStore::connect(&url).await.unwrap();
    a.migrate().await.unwrap();
    let b = PgStore::connect(&url).await.unwrap();
    let handle = Maintenance::start(b, hour_policy()).await;
    assert!(!blocks(&handle));
    assert!(
        eventually(10, || handle.stats().0 >= 2).await,
        "the feed's first notice reloads"
    );

    a.set_state(&SiteRef::Default, &StateChange::turn_on(), "a")
        .await
        .unwrap();
    assert!(
        eventually(10, || blocks(&handle)).await,
        "store A's write reached B's handle"
    );

    let updated = a
        .exec("UPDATE maintenance_sites SET enabled = FALSE WHERE is_default")
        .await;
    assert_eq!(updated, 1);
    assert!(
        eventually(10, || !blocks(&handle)).await,
        "a raw UPDATE reached B's handle"
    );
}

/// The feed survives its connection being killed: it reconnects, says so with a notice, and
/// goes on delivering notices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_reconnects_after_its_connection_drops() {
    let Some(store) = fresh_postgres_store().await else {
        return;
    };
    let mut feed = store.subscribe().await.unwrap().expect("a feed");
    assert!(
        notice_within(&mut feed, 10).await,
        "a notice after connecting"
    );
    drain(&mut feed).await;
    assert_eq!(listeners(&store).await, 1);

    let killed = count(
        &store,
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'",
    )
    .await;
    assert_eq!(killed, 1);
    assert!(
        notice_within(&mut feed, 10).await,
        "a notice after reconnecting"
    );
    drain(&mut feed).await;

    store
        .exec("UPDATE maintenance_sites SET enabled = TRUE WHERE is_default")
        .await;
    assert!(notice_within(&mut feed, 10).await, "notices flow again");
}

/// Dropping the receiver ends the task and its connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_ends_when_the_receiver_is_dropped() {
    let Some(store) = fresh_postgres_store().await else {
        return;
    };
    let feed = store.subscribe().await.unwrap().expect("a feed");
    assert_eq!(listeners(&store).await, 1);
    drop(feed);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while listeners(&store).await > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        listeners(&store).await,
        0,
        "the listening connection is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_are_native_utc() {
    let Some(store) = fresh_postgres_store().await else {
        return;
    };
    let start = chrono::DateTime::from_timestamp(1_900_000_000, 250_000_000).unwrap();
    store
        .set_state(
            &SiteRef::Default,
            &StateChange::turn_on().window(Some(start), None),
            "t",
        )
        .await
        .unwrap();
    let n = count(
        &store,
        "SELECT count(*) AS n FROM maintenance_sites WHERE is_default \
         AND pg_typeof(starts_at)::text = 'timestamp with time zone' \
         AND to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') = '2030-03-17 17:46:40.250'",
    )
    .await;
    assert_eq!(n, 1);
}
