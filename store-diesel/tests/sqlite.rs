//! The SQLite store: the core's conformance suite and this crate's own behaviour.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{MigrateFuture, fresh_sqlite_store};
use maintenance_core::{MaintenanceSource, MaintenanceStore, SiteRef, StateChange};
use maintenance_diesel::diesel_async::RunQueryDsl;
use maintenance_diesel::{DieselStore, SqliteStore};

maintenance_core::store_conformance_tests!(fresh_sqlite_store);

fn migrate_fn(store: &SqliteStore) -> impl Fn() -> MigrateFuture<'static> {
    let store = store.clone();
    move || {
        let store = store.clone();
        Box::pin(async move { store.migrate().await })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent() {
    let store = fresh_sqlite_store().await.unwrap();
    common::migrating_twice_changes_nothing(&store, migrate_fn(&store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_restores_what_was_deleted_by_hand() {
    let store = fresh_sqlite_store().await.unwrap();
    common::migrate_restores_what_was_deleted_by_hand(&store, migrate_fn(&store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_leave_one_default_site() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let a = SqliteStore::connect(&url).await.unwrap();
    let b = SqliteStore::connect(&url).await.unwrap();
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
    // A file, so that the pool has several connections competing for the write lock.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("w.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    common::concurrent_writes_are_serialised(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_are_skipped() {
    let store = fresh_sqlite_store().await.unwrap();
    common::bad_rows_are_skipped(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_timestamps_read_as_unset() {
    use common::RawSql;
    let store = fresh_sqlite_store().await.unwrap();
    store
        .set_state(
            &SiteRef::Default,
            &StateChange::turn_on().message("kept"),
            "t",
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .exec("UPDATE maintenance_sites SET starts_at = 'soon', updated_at = 'yesterday'")
            .await,
        1
    );
    let site = store.site(&SiteRef::Default).await.unwrap();
    assert_eq!((site.starts_at, site.updated_at), (None, None));
    assert_eq!(site.message.as_deref(), Some("kept"));
    assert!(site.enabled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behaves_like_the_memory_store() {
    let store = fresh_sqlite_store().await.unwrap();
    common::behaves_like_the_memory_store(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_path_makes_no_store_calls() {
    let store = fresh_sqlite_store().await.unwrap();
    common::hot_path_makes_no_store_calls(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn has_no_change_feed() {
    let store = fresh_sqlite_store().await.unwrap();
    assert!(store.subscribe().await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_are_stored_as_rfc3339_text() {
    let store = fresh_sqlite_store().await.unwrap();
    let start = chrono::DateTime::from_timestamp(1_900_000_000, 250_000_000).unwrap();
    store
        .set_state(
            &SiteRef::Default,
            &StateChange::turn_on().window(Some(start), None),
            "t",
        )
        .await
        .unwrap();
    #[derive(maintenance_diesel::diesel::QueryableByName)]
    struct Text {
        #[diesel(sql_type = maintenance_diesel::diesel::sql_types::Text)]
        starts_at: String,
    }
    let mut conn = store.pool().get().await.unwrap();
    let row: Text = maintenance_diesel::diesel::sql_query(
        "SELECT starts_at FROM maintenance_sites WHERE is_default",
    )
    .get_result(&mut *conn)
    .await
    .unwrap();
    assert_eq!(row.starts_at, "2030-03-17T17:46:40.250+00:00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_opens_files_and_memory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connect.db");
    for url in [
        format!("sqlite://{}", file.display()),
        format!("SQLITE:{}", file.display()),
        "sqlite::memory:".to_owned(),
    ] {
        let store = maintenance_diesel::connect(&url).await.unwrap();
        assert!(matches!(store, DieselStore::Sqlite(_)), "{url}");
        store.migrate().await.unwrap();
        assert!(store.site(&SiteRef::Default).await.unwrap().is_default);
    }
    assert!(file.exists(), "the file was created");
}

/// A file removed while the store is open: reads and writes fail (the pooled connections to
/// the unlinked file are dropped, and no empty file is created in its place) until the file is
/// back; a file put back is read again, and a new file in its place is read instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_file_is_noticed_and_not_created_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("served.db");
    let moved = dir.path().join("moved.db");
    let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let before = store.revision().await.unwrap();

    std::fs::rename(&path, &moved).unwrap();
    assert!(store.revision().await.is_err(), "read from a removed file");
    assert!(
        store
            .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
            .await
            .is_err(),
        "a write to a removed file would be lost"
    );
    assert!(!path.exists(), "no empty file in its place");

    // Changed while away, then put back: read again, with the change.
    let elsewhere = SqliteStore::connect(&format!("sqlite://{}", moved.display()))
        .await
        .unwrap();
    elsewhere
        .set_state(&SiteRef::Default, &StateChange::turn_on(), "t")
        .await
        .unwrap();
    elsewhere.pool().close();
    std::fs::rename(&moved, &path).unwrap();
    assert_eq!(store.revision().await.unwrap(), before + 1);
    assert!(store.site(&SiteRef::Default).await.unwrap().enabled);

    // Replaced by another database: that one is read.
    let other = dir.path().join("other.db");
    let fresh = SqliteStore::connect(&format!("sqlite://{}", other.display()))
        .await
        .unwrap();
    fresh.migrate().await.unwrap();
    fresh.pool().close();
    std::fs::rename(&other, &path).unwrap();
    assert!(!store.site(&SiteRef::Default).await.unwrap().enabled);
    assert_eq!(store.revision().await.unwrap(), 1);
}
