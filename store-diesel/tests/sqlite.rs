//! The SQLite store: the SQL store suite (the core's conformance suite and this crate's own
//! behaviour), and what only this crate's SQLite store does.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used)]

mod common;

use common::Diesel;
use maintenance_core::{MaintenanceStore, SiteRef};
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
