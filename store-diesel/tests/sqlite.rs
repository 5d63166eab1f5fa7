//! The SQLite store: the SQL store suite (the core's conformance suite and this crate's own
//! behaviour), and what only this crate's SQLite store does.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

mod common;

use common::Diesel;
use maintenance_core::{MaintenanceSource, MaintenanceStore, SiteRef, StateChange};
use maintenance_diesel::{DieselStore, SqliteStore};

maintenance_sql::sql_store_conformance_tests!(sqlite: Diesel<SqliteStore>);

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
