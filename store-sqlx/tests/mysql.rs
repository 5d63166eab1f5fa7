//! The MariaDB/MySQL store: the core's conformance suite and this crate's own behaviour. Needs
//! `MAINTENANCE_TEST_MYSQL_URL`; skipped without it.
#![cfg(feature = "mysql")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{MigrateFuture, fresh_mysql_store, fresh_mysql_url};
use maintenance_core::{MaintenanceSource, MaintenanceStore, SiteRef, StateChange};
use maintenance_sqlx::{MySqlStore, SqlxStore};

maintenance_core::store_conformance_tests!(fresh_mysql_store);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent() {
    let Some(store) = fresh_mysql_store().await else {
        return;
    };
    common::migrating_twice_changes_nothing(&store, || store.migrate()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_restores_what_was_deleted_by_hand() {
    let Some(store) = fresh_mysql_store().await else {
        return;
    };
    common::migrate_restores_what_was_deleted_by_hand(&store, || store.migrate()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_leave_one_default_site() {
    let Some(url) = fresh_mysql_url("concurrent_migrations_leave_one_default_site").await else {
        return;
    };
    let a = MySqlStore::connect(&url).await.unwrap();
    let b = MySqlStore::connect(&url).await.unwrap();
    fn migrate(s: &MySqlStore) -> MigrateFuture<'_> {
        Box::pin(s.migrate())
    }
    common::concurrent_migrations_leave_one_default_site(a, b, migrate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_serialised() {
    let Some(store) = fresh_mysql_store().await else {
        return;
    };
    common::concurrent_writes_are_serialised(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_are_skipped() {
    let Some(store) = fresh_mysql_store().await else {
        return;
    };
    common::bad_rows_are_skipped(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behaves_like_the_memory_store() {
    let Some(store) = fresh_mysql_store().await else {
        return;
    };
    common::behaves_like_the_memory_store(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_path_makes_no_store_calls() {
    let Some(store) = fresh_mysql_store().await else {
        return;
    };
    common::hot_path_makes_no_store_calls(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn has_no_change_feed() {
    let Some(store) = fresh_mysql_store().await else {
        return;
    };
    assert!(
        store.subscribe().await.unwrap().is_none(),
        "handles poll the revision"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_accepts_both_schemes() {
    let Some(url) = fresh_mysql_url("connect_accepts_both_schemes").await else {
        return;
    };
    let other = match url.strip_prefix("mysql://") {
        Some(rest) => format!("mariadb://{rest}"),
        None => url.replacen("mariadb://", "mysql://", 1),
    };
    for url in [url.as_str(), other.as_str()] {
        let store = maintenance_sqlx::connect(url).await.unwrap();
        assert!(matches!(store, SqlxStore::MySql(_)), "{url}");
        store.migrate().await.unwrap();
        assert!(store.site(&SiteRef::Default).await.unwrap().is_default);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_are_utc_datetimes() {
    let Some(store) = fresh_mysql_store().await else {
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
    let (zone, text): (String, String) = maintenance_sqlx::sqlx::query_as(
        "SELECT @@session.time_zone, DATE_FORMAT(starts_at, '%Y-%m-%d %H:%i:%s.%f') \
         FROM maintenance_sites WHERE is_default",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(zone, "+00:00");
    assert_eq!(text, "2030-03-17 17:46:40.250000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patterns_differing_in_case_or_trailing_space_are_distinct() {
    let Some(store) = fresh_mysql_store().await else {
        return;
    };
    let site = SiteRef::Default;
    for pattern in ["^Admin", "^admin", "^admin "] {
        store
            .add_ignored_path(&site, pattern, pattern, "t")
            .await
            .unwrap();
    }
    store
        .add_ignored_path(&site, "^admin", "again", "t")
        .await
        .unwrap();
    let got: Vec<(String, String)> = store
        .site(&site)
        .await
        .unwrap()
        .ignored_paths
        .into_iter()
        .map(|p| (p.pattern, p.description))
        .collect();
    let want = [
        ("^Admin", "^Admin"),
        ("^admin", "again"),
        ("^admin ", "^admin "),
    ];
    assert_eq!(got, want.map(|(p, d)| (p.to_owned(), d.to_owned())));
    store
        .remove_ignored_path(&site, "^admin ", "t")
        .await
        .unwrap();
    assert_eq!(store.site(&site).await.unwrap().ignored_paths.len(), 2);
}
