//! The SQLite store: the SQL store suite (the core's conformance suite and this crate's own
//! behaviour), and what only this crate's SQLite store does.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

mod common;

use common::Sqlx;
use maintenance_core::{MaintenanceSource, MaintenanceStore, SiteRef, StateChange};
use maintenance_sqlx::{SqliteStore, SqlxStore};

maintenance_sql::sql_store_conformance_tests!(sqlite: Sqlx<SqliteStore>);

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
