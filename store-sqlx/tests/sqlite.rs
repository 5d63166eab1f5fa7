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
