//! The MariaDB/MySQL store: the core's conformance suite and this crate's own behaviour. Needs
//! `MAINTENANCE_TEST_MYSQL_URL`; skipped without it.
#![cfg(feature = "mysql")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{MigrateFuture, RawSql, fresh_mysql_store, fresh_mysql_url};
use maintenance_core::{MaintenanceSource, MaintenanceStore, SiteRef, StateChange};
use maintenance_diesel::diesel::sql_types::Text;
use maintenance_diesel::diesel_async::RunQueryDsl;
use maintenance_diesel::{DieselStore, MySqlStore};

maintenance_core::store_conformance_tests!(fresh_mysql_store);

fn migrate_fn(store: &MySqlStore) -> impl Fn() -> MigrateFuture<'static> {
    let store = store.clone();
    move || {
        let store = store.clone();
        Box::pin(async move { store.migrate().await })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent() {
    let Some(store) = fresh_mysql_store().await else {
        return;
    };
    common::migrating_twice_changes_nothing(&store, migrate_fn(&store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_restores_what_was_deleted_by_hand() {
    let Some(store) = fresh_mysql_store().await else {
        return;
    };
    common::migrate_restores_what_was_deleted_by_hand(&store, migrate_fn(&store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_leave_one_default_site() {
    let Some(url) = fresh_mysql_url("concurrent_migrations_leave_one_default_site").await else {
        return;
    };
    let a = MySqlStore::connect(&url).await.unwrap();
    let b = MySqlStore::connect(&url).await.unwrap();
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
    assert!(store.subscribe().await.unwrap().is_none());
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
        let store = maintenance_diesel::connect(url).await.unwrap();
        assert!(matches!(store, DieselStore::MySql(_)), "{url}");
        store.migrate().await.unwrap();
        assert!(store.site(&SiteRef::Default).await.unwrap().is_default);
    }
}

#[derive(maintenance_diesel::diesel::QueryableByName)]
struct Stored {
    #[diesel(sql_type = Text)]
    zone: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    text: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_are_utc_datetimes() {
    let Some(store) = fresh_mysql_store().await else {
        return;
    };
    let start = chrono::DateTime::from_timestamp(4_102_444_800, 250_000_000).unwrap();
    store
        .set_state(
            &SiteRef::Default,
            &StateChange::turn_on().window(Some(start), None),
            "t",
        )
        .await
        .unwrap();
    let mut conn = store.pool().get().await.unwrap();
    let row: Stored = maintenance_diesel::diesel::sql_query(
        "SELECT @@session.time_zone AS zone, \
         (SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
          AND TABLE_NAME = 'maintenance_sites' AND COLUMN_NAME = 'starts_at') AS kind, \
         DATE_FORMAT(starts_at, '%Y-%m-%d %H:%i:%s.%f') AS text \
         FROM maintenance_sites WHERE is_default",
    )
    .get_result(&mut *conn)
    .await
    .unwrap();
    assert_eq!(row.zone, "+00:00");
    assert_eq!(row.kind, "datetime");
    assert_eq!(row.text, "2100-01-01 00:00:00.250000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_dates_read_as_unset() {
    let Some(store) = fresh_mysql_store().await else {
        return;
    };
    store
        .exec(
            "UPDATE maintenance_sites SET enabled = TRUE, \
             starts_at = CAST('0000-00-00 00:00:00' AS DATETIME) WHERE is_default",
        )
        .await;
    let site = store.site(&SiteRef::Default).await.unwrap();
    assert!(site.enabled);
    assert_eq!(site.starts_at, None);
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
}
