//! The SQL store test kit's driver for this crate's stores: connect, migrate and raw SQL
//! through sqlx.
#![allow(clippy::unwrap_used)]

use std::marker::PhantomData;

use async_trait::async_trait;
use maintenance_core::MaintenanceStore;
use maintenance_sql::testkit::{Backend, TestDriver};
use maintenance_sqlx::sqlx::{self, AssertSqlSafe};

/// The kit's driver for the store `S`.
pub struct Sqlx<S>(PhantomData<S>);

macro_rules! driver {
    ($store:ty, $backend:ident) => {
        #[async_trait]
        impl TestDriver for Sqlx<$store> {
            type Store = $store;
            type Error = maintenance_sqlx::Error;
            const BACKEND: Backend = Backend::$backend;

            async fn connect(url: &str) -> Result<$store, maintenance_sqlx::Error> {
                <$store>::connect(url).await
            }

            async fn migrate(store: &$store) -> Result<(), maintenance_sqlx::Error> {
                store.migrate().await
            }

            async fn connect_any(
                url: &str,
            ) -> Result<(Backend, Box<dyn MaintenanceStore>), maintenance_sqlx::Error> {
                let store = maintenance_sqlx::connect(url).await?;
                store.migrate().await?;
                let backend = match store.backend() {
                    maintenance_sqlx::Backend::Sqlite => Backend::Sqlite,
                    maintenance_sqlx::Backend::Postgres => Backend::Postgres,
                    maintenance_sqlx::Backend::MySql => Backend::MySql,
                };
                Ok((backend, Box::new(store)))
            }

            async fn exec(store: &$store, sql: &str) -> u64 {
                sqlx::query(AssertSqlSafe(sql.to_owned()))
                    .execute(store.pool())
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
                    .rows_affected()
            }

            async fn query_text(store: &$store, sql: &str) -> String {
                sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
                    .fetch_one(store.pool())
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
        }
    };
}

#[cfg(feature = "sqlite")]
driver!(maintenance_sqlx::SqliteStore, Sqlite);
#[cfg(feature = "postgres")]
driver!(maintenance_sqlx::PgStore, Postgres);
#[cfg(feature = "mysql")]
driver!(maintenance_sqlx::MySqlStore, MySql);
