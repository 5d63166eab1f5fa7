//! The PostgreSQL store: the SQL store suite (the core's conformance suite, this crate's own
//! behaviour and the change feed). Needs `MAINTENANCE_TEST_POSTGRES_URL`; skipped without it.
#![cfg(feature = "postgres")]

mod common;

use common::Diesel;
use maintenance_diesel::PgStore;

maintenance_sql::sql_store_conformance_tests!(postgres: Diesel<PgStore>);
