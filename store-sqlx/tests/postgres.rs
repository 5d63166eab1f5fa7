//! The PostgreSQL store: the SQL store suite (the core's conformance suite, this crate's own
//! behaviour and the change feed), and what only sqlx does. Needs
//! `MAINTENANCE_TEST_POSTGRES_URL`; skipped without it.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::Sqlx;
use maintenance_core::MaintenanceSource;
use maintenance_sql::testkit::{POSTGRES_ENV, current_test, server_url};
use maintenance_sqlx::PgStore;

maintenance_sql::sql_store_conformance_tests!(postgres: Sqlx<PgStore>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_fails_when_the_database_is_unreachable() {
    let Some(_) = server_url(POSTGRES_ENV, &current_test()) else {
        return;
    };
    // A lazy pool to a port nothing listens on: the store exists, the feed cannot connect.
    let pool = maintenance_sqlx::sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy("postgres://nobody:secret@127.0.0.1:1/none")
        .unwrap();
    let store = PgStore::new(pool);
    let err = store.subscribe().await.expect_err("nothing to listen to");
    assert!(
        matches!(err, maintenance_core::StoreError::Backend(_)),
        "{err}"
    );
    assert!(
        std::error::Error::source(&err).is_some(),
        "the sqlx error is kept as the source"
    );
}
