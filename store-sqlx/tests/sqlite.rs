//! The SQLite store: the core's conformance suite, and this crate's own behaviour.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

mod common;

use common::{MigrateFuture, fresh_sqlite_store};
use maintenance_core::{MaintenanceSource, MaintenanceStore, SiteRef, StateChange};
use maintenance_sqlx::{SqliteStore, SqlxStore};

maintenance_core::store_conformance_tests!(fresh_sqlite_store);

/// The same suite through [`SqlxStore`], the store `connect()` returns.
mod via_connect {
    async fn fresh_store() -> Option<maintenance_sqlx::SqlxStore> {
        let store = maintenance_sqlx::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        Some(store)
    }

    maintenance_core::store_conformance_tests!(fresh_store);
}

fn temp_url(dir: &tempfile::TempDir, file: &str) -> String {
    format!("sqlite://{}", dir.path().join(file).display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent() {
    let store = fresh_sqlite_store().await.unwrap();
    common::migrating_twice_changes_nothing(&store, || store.migrate()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_restores_what_was_deleted_by_hand() {
    let store = fresh_sqlite_store().await.unwrap();
    common::migrate_restores_what_was_deleted_by_hand(&store, || store.migrate()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_leave_one_default_site() {
    let dir = tempfile::tempdir().unwrap();
    let url = temp_url(&dir, "shared.db");
    let a = SqliteStore::connect(&url).await.unwrap();
    let b = SqliteStore::connect(&url).await.unwrap();
    fn migrate(s: &SqliteStore) -> MigrateFuture<'_> {
        Box::pin(s.migrate())
    }
    common::concurrent_migrations_leave_one_default_site(a, b, migrate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_creates_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    assert!(!path.exists());
    let store = maintenance_sqlx::connect(&temp_url(&dir, "new.db"))
        .await
        .unwrap();
    assert!(path.exists(), "the file is created on connect");
    assert!(matches!(store, SqlxStore::Sqlite(_)));
    store.migrate().await.unwrap();
    assert!(store.site(&SiteRef::Default).await.unwrap().is_default);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_share_state_and_revision() {
    let dir = tempfile::tempdir().unwrap();
    let url = temp_url(&dir, "shared.db");
    let a = SqliteStore::connect(&url).await.unwrap();
    a.migrate().await.unwrap();
    let b = SqliteStore::connect(&url).await.unwrap();
    let before = b.revision().await.unwrap();
    a.set_state(&SiteRef::Default, &StateChange::turn_on(), "a")
        .await
        .unwrap();
    let after = b.revision().await.unwrap();
    assert!(after > before, "{after} > {before}");
    assert_eq!(b.load().await.unwrap().revision, after);
    assert!(b.site(&SiteRef::Default).await.unwrap().enabled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_serialised() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::connect(&temp_url(&dir, "busy.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    common::concurrent_writes_are_serialised(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_are_skipped() {
    common::bad_rows_are_skipped(&fresh_sqlite_store().await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behaves_like_the_memory_store() {
    common::behaves_like_the_memory_store(&fresh_sqlite_store().await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_path_makes_no_store_calls() {
    common::hot_path_makes_no_store_calls(fresh_sqlite_store().await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn has_no_change_feed() {
    let store = fresh_sqlite_store().await.unwrap();
    assert!(
        store.subscribe().await.unwrap().is_none(),
        "handles poll the revision"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_are_stored_as_utc_text() {
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
    let text: String = maintenance_sqlx::sqlx::query_scalar(
        "SELECT starts_at FROM maintenance_sites WHERE is_default",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(text, "2030-03-17T17:46:40.250+00:00");
}

/// A file removed while the store is open: reads and writes fail (the pooled connections to
/// the unlinked file are dropped, and no empty file is created in its place) until the file is
/// back; a file put back is read again, and a new file in its place is read instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_file_is_noticed_and_not_created_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("served.db");
    let moved = dir.path().join("moved.db");
    let store = SqliteStore::connect(&temp_url(&dir, "served.db"))
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
    elsewhere.pool().close().await;
    std::fs::rename(&moved, &path).unwrap();
    assert_eq!(store.revision().await.unwrap(), before + 1);
    assert!(store.site(&SiteRef::Default).await.unwrap().enabled);

    // Replaced by another database: that one is read.
    let other = dir.path().join("other.db");
    let fresh = SqliteStore::connect(&format!("sqlite://{}", other.display()))
        .await
        .unwrap();
    fresh.migrate().await.unwrap();
    fresh.pool().close().await;
    std::fs::rename(&other, &path).unwrap();
    assert!(!store.site(&SiteRef::Default).await.unwrap().enabled);
    assert_eq!(store.revision().await.unwrap(), 1);
}
