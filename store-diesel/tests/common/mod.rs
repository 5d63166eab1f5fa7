//! The SQL store test kit's driver for this crate's stores: raw SQL through diesel.

use maintenance_diesel::diesel::{self, QueryableByName, sql_types::Text};
use maintenance_diesel::diesel_async::RunQueryDsl;

/// The one text column the kit's queries return.
#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = Text)]
    value: String,
}

maintenance_sql::sql_test_driver! {
    Diesel, maintenance_diesel;
    exec(store, sql) {
        let mut conn = store.pool().get().await.expect("a pooled connection");
        let changed = diesel::sql_query(sql.to_owned())
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        changed as u64
    }
    query_text(store, sql) {
        let mut conn = store.pool().get().await.expect("a pooled connection");
        let row: Value = diesel::sql_query(sql.to_owned())
            .get_result(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        row.value
    }
    close(store) {
        store.pool().close();
    }
    #[cfg(feature = "sqlite")] SqliteStore: Sqlite,
    #[cfg(feature = "postgres")] PgStore: Postgres,
    #[cfg(feature = "mysql")] MySqlStore: MySql,
}
