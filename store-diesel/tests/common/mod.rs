//! The SQL store test kit's driver for this crate's stores: connect, migrate and raw SQL
//! through diesel.
#![allow(clippy::unwrap_used)]

use std::marker::PhantomData;

use async_trait::async_trait;
use maintenance_core::MaintenanceStore;
use maintenance_diesel::diesel::{self, QueryableByName, sql_types::Text};
use maintenance_diesel::diesel_async::RunQueryDsl;
use maintenance_sql::testkit::{Backend, TestDriver};

/// The kit's driver for the store `S`.
pub struct Diesel<S>(PhantomData<S>);

/// The one text column the kit's queries return.
#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = Text)]
    value: String,
}

macro_rules! driver {
    ($store:ty, $backend:ident) => {
        #[async_trait]
        impl TestDriver for Diesel<$store> {
            type Store = $store;
            type Error = maintenance_diesel::Error;
            const BACKEND: Backend = Backend::$backend;

            async fn connect(url: &str) -> Result<$store, maintenance_diesel::Error> {
                <$store>::connect(url).await
            }

            async fn migrate(store: &$store) -> Result<(), maintenance_diesel::Error> {
                store.migrate().await
            }

            async fn connect_any(
                url: &str,
            ) -> Result<(Backend, Box<dyn MaintenanceStore>), maintenance_diesel::Error> {
                let store = maintenance_diesel::connect(url).await?;
                store.migrate().await?;
                let backend = match store.backend() {
                    maintenance_diesel::Backend::Sqlite => Backend::Sqlite,
                    maintenance_diesel::Backend::Postgres => Backend::Postgres,
                    maintenance_diesel::Backend::MySql => Backend::MySql,
                };
                Ok((backend, Box::new(store)))
            }

            async fn exec(store: &$store, sql: &str) -> u64 {
                let mut conn = store.pool().get().await.unwrap();
                let n = diesel::sql_query(sql.to_owned())
                    .execute(&mut *conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                n as u64
            }

            async fn query_text(store: &$store, sql: &str) -> String {
                let mut conn = store.pool().get().await.unwrap();
                let row: Value = diesel::sql_query(sql.to_owned())
                    .get_result(&mut *conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                row.value
            }
        }
    };
}

#[cfg(feature = "sqlite")]
driver!(maintenance_diesel::SqliteStore, Sqlite);
#[cfg(feature = "postgres")]
driver!(maintenance_diesel::PgStore, Postgres);
#[cfg(feature = "mysql")]
driver!(maintenance_diesel::MySqlStore, MySql);
