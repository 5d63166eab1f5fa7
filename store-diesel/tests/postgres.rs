//! The PostgreSQL store: the SQL store suite (the core's conformance suite, this crate's own
//! behaviour and the change feed). Needs `MAINTENANCE_TEST_POSTGRES_URL`; skipped without it.
#![cfg(feature = "postgres")]

mod common;

use common::Diesel;
use maintenance_diesel::PgStore;

maintenance_sql::sql_store_conformance_tests!(postgres: Diesel<PgStore>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_timestamps_read_as_unset() {
    maintenance_sql::testkit::cases::out_of_range_timestamps_read_as_unset::<Diesel<PgStore>>()
        .await;
}
