//! The MariaDB/MySQL store: the SQL store suite (the core's conformance suite and this crate's
//! own behaviour). Needs `MAINTENANCE_TEST_MYSQL_URL`; skipped without it.
#![cfg(feature = "mysql")]

mod common;

use common::Diesel;
use maintenance_diesel::MySqlStore;

maintenance_sql::sql_store_conformance_tests!(mysql: Diesel<MySqlStore>);
